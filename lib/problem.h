// problem.h: the 20-token arithmetic problems (chapter 1, SPEC section 1).
//
//   pos:   0       1 2 3 4 5 6 7 8 9      10   11   12   13  14 15   16 17   18    19
//   token: [START] a 5 b 3 c 7 d 2 [VARS] var1 var2 [EQ] ans =  var1 op var2 [ANS] answer
//
// Definitions sit at positions 1..8 as four (name, value) pairs; in the fixed
// order the names are a b c d, in the shuffled order any of the 24 orders.
#ifndef LOOPLENS_PROBLEM_H
#define LOOPLENS_PROBLEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "rng.h"
#include "vocab.h"

#define PROBLEM_LEN 20

enum {
    POS_START = 0,
    POS_FIRST_NAME = 1, // names at 1, 3, 5, 7; each one's value right after it
    POS_VARS = 9,
    POS_VAR1 = 10,
    POS_VAR2 = 11,
    POS_EQ = 12,
    POS_ANS_WORD = 13,
    POS_EQUALS = 14,
    POS_VAR1_AGAIN = 15,
    POS_OP = 16,
    POS_VAR2_AGAIN = 17,
    POS_ANS = 18,    // the [ANS] query: its logits predict the answer
    POS_ANSWER = 19, // the target
};

static inline int name_position(int slot) { return 1 + 2 * slot; }  // slot 0..3
static inline int value_position(int slot) { return 2 + 2 * slot; } // slot 0..3

typedef enum { ORDER_FIXED = 0, ORDER_SHUFFLED = 1 } DefinitionOrder;
typedef enum { SPLIT_TRAIN = 0, SPLIT_TEST = 1 } Split;

typedef struct {
    int tokens[PROBLEM_LEN];
} Problem;

// Reading a problem's parts. `var` is a variable token (TOK_VAR_A..TOK_VAR_A+3).
int problem_value_position_of(const Problem *p, int var); // 2, 4, 6 or 8
int problem_value_of(const Problem *p, int var);          // 0..9
static inline int problem_var1(const Problem *p) { return p->tokens[POS_VAR1]; }
static inline int problem_var2(const Problem *p) { return p->tokens[POS_VAR2]; }
static inline int problem_op(const Problem *p) { return p->tokens[POS_OP]; }
static inline int problem_answer(const Problem *p) { return int_of_token(p->tokens[POS_ANSWER]); }
// op `*` and var1 == var2, e.g. `a * a`.
bool problem_is_squaring(const Problem *p);
int apply_op(int op, int x, int y);

// The problem's meaning, independent of the definition order: the values of
// a, b, c, d, var1, var2 and op packed into one integer in [0, 480000). Two
// problems that differ only in definition order have the same key.
uint32_t problem_key(const Problem *p);
// Train/test disjointness: a fixed hash of the key sends one key in ten to the
// test split. The training stream never yields a test key and a test set yields
// nothing else, so no test problem is seen in training in any order.
bool problem_is_test(const Problem *p);

// A stream of random problems of one split and order. Plain data: copying it
// saves the stream's position (a training checkpoint stores it).
typedef struct {
    Rng rng;
    Split split;
    DefinitionOrder order;
    uint64_t drawn; // problems yielded so far
} ProblemStream;

void problem_stream_init(ProblemStream *s, Split split, DefinitionOrder order, uint64_t seed);
void problem_stream_next(ProblemStream *s, Problem *out);

// Text form: the 20 tokens separated by single spaces, no newline.
#define PROBLEM_TEXT_MAX 128
void problem_format(const Problem *p, char out[PROBLEM_TEXT_MAX]);
// Parses and validates one line (a trailing "\r" is allowed). On failure writes
// a reason such as "position 3: variable a is defined twice (positions 1 and 3)"
// into why and returns false.
bool problem_parse(const char *line, Problem *out, char *why, size_t why_size);
// Checks an already tokenised problem against every rule of SPEC section 1.
bool problem_validate(const Problem *p, char *why, size_t why_size);

typedef struct {
    Problem *items;
    size_t count;
} ProblemSet;

// Reads a problem file; '#' lines and blank lines are skipped. Errors read
// "FILE:LINE: reason". A file with no problems at all is an error too
// ("FILE: no problems"): every command that reads problems needs at least one.
bool problem_set_read(const char *path, ProblemSet *out, GError **error);
// Writes problems one per line, atomically (temp file + rename).
bool problem_set_write(const char *path, const Problem *items, size_t count, GError **error);
void problem_set_free(ProblemSet *set);

const char *order_name(DefinitionOrder order); // "fixed" / "shuffled"
bool order_parse(const char *text, DefinitionOrder *out);

#endif
