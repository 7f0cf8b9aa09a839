// vocab.h: the 104 tokens of the task and their fixed ids.
//
//   id  0..5    [START] [VARS] [EQ] ans = [ANS]     structure
//   id  6..9    a b c d                             variable names
//   id 10..12   + - *                               operators
//   id 13..103  -9 -8 ... 0 ... 81                  every integer an answer can be
//
// The values 0..9 share their tokens with the answers 0..9. Every checkpoint
// records this list (metadata key "vocab"), and loading one checks it.
#ifndef LOOPLENS_VOCAB_H
#define LOOPLENS_VOCAB_H

#include <stdbool.h>

enum {
    TOK_START = 0,
    TOK_VARS = 1,
    TOK_EQ = 2,
    TOK_ANS_WORD = 3, // the literal word "ans"
    TOK_EQUALS = 4,   // "="
    TOK_ANS = 5,      // "[ANS]", the query the investigation studies
    TOK_VAR_A = 6,    // a, b, c, d are TOK_VAR_A + 0..3
    TOK_PLUS = 10,
    TOK_MINUS = 11,
    TOK_TIMES = 12,
    TOK_INT_MIN9 = 13, // the integer n is token TOK_INT_MIN9 + (n + 9)
};

#define NUM_VARS 4
#define INT_TOKEN_MIN (-9)
#define INT_TOKEN_MAX 81
#define VOCAB_SIZE (TOK_INT_MIN9 + (INT_TOKEN_MAX - INT_TOKEN_MIN + 1)) // 104

// The token's text, e.g. "[START]", "a", "*", "35". id must be in [0, VOCAB_SIZE).
const char *vocab_string(int id);
// The id of a token's text, or -1 if it is not in the vocabulary.
int vocab_lookup(const char *text);

static inline int token_of_int(int n) { return TOK_INT_MIN9 + (n - INT_TOKEN_MIN); }
static inline bool token_is_int(int id) { return id >= TOK_INT_MIN9 && id < VOCAB_SIZE; }
static inline int int_of_token(int id) { return id - TOK_INT_MIN9 + INT_TOKEN_MIN; }
static inline bool token_is_var(int id) { return id >= TOK_VAR_A && id < TOK_VAR_A + NUM_VARS; }
static inline bool token_is_op(int id) { return id >= TOK_PLUS && id <= TOK_TIMES; }

#endif
