// compare.h: chapter 8, comparing what the model attends to when it gets a
// squaring problem right with when it gets it wrong.
//
//   1. evaluate every problem: p_correct, the prediction, the top 5;
//   2. split the squaring problems (x * x) into good (right) and bad (wrong);
//   3. average each subset's attention patterns, per layer and head;
//   4. look at row POS_ANS (18, the [ANS] query), where the answer is read off:
//      which roles (the referenced variable, its value, the other variables,
//      the operator) get its weight, with a 95% confidence interval;
//   5. sort the wrong answers into kinds, each beside what chance would give.
//
// The role view. One problem's keys 1..8 hold four (name, value) pairs, and
// which pair is the referenced one varies from problem to problem (always, with
// shuffled definitions). Averaging by position would smear the referenced
// value over four columns, so the role view first re-indexes each problem's
// positions by role and then averages. The role order keeps every position
// outside 1..8 where it is, and fills slots 1..8 with the pairs in this order:
//   the referenced pair(s): var1's, then var2's if it is another variable;
//   the other pairs, in the order they appear in the problem.
// Squaring problems have one referenced pair, so the slots read
//   ref ref_val x1 x1_val x2 x2_val x3 x3_val
// and otherwise ref1 ref1_val ref2 ref2_val x1 x1_val x2 x2_val. Rows and
// columns are permuted alike (a problem's matrix M becomes M[order[r]][order[c]]),
// so row POS_ANS is still the [ANS] query. Average only sets of one kind
// (all squaring, say): the slots mean different things in the two layouts.
//
// Masked cells in the role view. After re-indexing, the causal mask is no
// longer the upper triangle: whether role cell (r, c) is masked depends on
// where the problem put the two pairs. A masked cell has weight exactly 0, and
// the average counts it as that 0 (so every averaged row still sums to 1);
// role_visible counts the examples in which the cell was not masked, and a cell
// masked in every example reads NaN (drawn as masked). Row POS_ANS sees every
// key up to itself in every problem, so its profile is unaffected.
#ifndef LOOPLENS_COMPARE_H
#define LOOPLENS_COMPARE_H

#include <stdbool.h>
#include <stddef.h>

#include <glib.h>

#include "model.h"
#include "problem.h"

#define COMPARE_T PROBLEM_LEN
#define COMPARE_CELLS (COMPARE_T * COMPARE_T)

// ----------------------------------------------------------------------------
// 1. Evaluation, one problem at a time

#define TOP_K 5
#define EVAL_BATCH 256 // problems per forward pass

typedef struct {
    int answer;         // token id of the true answer
    float p_correct;    // the answer distribution's probability of it
    int predicted;      // token id of the argmax (the lowest id on a tie)
    float p_predicted;
    int top[TOP_K];     // the five most probable tokens, most probable first
    float top_p[TOP_K];
} ProblemResult;

static inline bool result_correct(const ProblemResult *r) { return r->predicted == r->answer; }

// Problem b's result after a gpt_forward over its batch.
void result_from_forward(ProblemResult *out, const GPT *model, int b, const Problem *problem);
// Runs the problems EVAL_BATCH at a time (boost may be NULL); out has count
// entries.
bool evaluate_problems(ProblemResult *out, GPT *model, const Problem *problems, size_t count,
                       const Boost *boost, GError **error);

// ----------------------------------------------------------------------------
// 2. The good/bad split (SPEC section 5)

typedef struct {
    size_t *index; // indices into the problem set, increasing
    size_t count;
} Subset;

// good: the squaring problems answered right; bad: those answered wrong.
void split_squaring(Subset *good, Subset *bad, const Problem *problems,
                    const ProblemResult *results, size_t count);
void subset_free(Subset *s);
// Mean p_correct over the subset (NaN if it is empty) and how many are right.
double subset_mean_p_correct(const Subset *s, const ProblemResult *results);
size_t subset_count_correct(const Subset *s, const ProblemResult *results);

// ----------------------------------------------------------------------------
// Roles

// The six parts row POS_ANS's weight is split into.
enum {
    ROLE_PART_REF,         // the referenced name(s)
    ROLE_PART_REF_VAL,     // the referenced value(s)
    ROLE_PART_OTHER_NAMES, // the other variables' names
    ROLE_PART_OTHER_VALS,  // the other variables' values
    ROLE_PART_OP,          // the operator, position 16
    ROLE_PART_REST,        // everything else: [START], [VARS], the var1/var2 mentions, ...
    ROLE_PARTS
};
const char *role_part_name(int part); // "ref", "ref_val", "other_names", "other_vals", "op", "rest"
int role_part_of_position(const Problem *p, int position);
// parts (ROLE_PARTS) = the weights of row (T) summed per part.
void row_role_parts(float parts[ROLE_PARTS], const float *row, const Problem *p);

// order (T): order[r] is the position that has role r (see the top).
void problem_role_order(const Problem *p, int order[COMPARE_T]);
// A role's axis label: "ref", "x1_val", ... in slots 1..8 (n_ref referenced
// variables: 1 for squaring problems, 2 otherwise), elsewhere the position and
// what is there, e.g. "16 op", "18 [ANS]".
const char *role_label(int role, int n_ref);

// ----------------------------------------------------------------------------
// 3. Averaged patterns

typedef struct {
    int n_layer, n_head;
    size_t count;      // examples added
    int n_ref;         // 1 while every example is a squaring problem, else 2
    double *sum;       // (L, NH, T, T) sum of the patterns by position
    double *role_sum;  // (L, NH, T, T) sum of the patterns in role order
    int *role_visible; // (T, T) examples in which the role cell was not masked
    GArray *parts;     // float (count, L, NH, ROLE_PARTS): row POS_ANS per part
} PatternAverage;

void pattern_average_init(PatternAverage *a, int n_layer, int n_head);
void pattern_average_free(PatternAverage *a);

// The exercise of chapter 8: sum (T,T) += pattern (T,T), re-indexed by order
// when it is not NULL: sum[r][c] += pattern[order[r]][order[c]].
void pattern_accumulate(double *sum, const float *pattern, const int *order, int T);
// mean (n) = sum (n) / count; NaN everywhere when count is 0.
void pattern_mean(float *mean, const double *sum, size_t count, int n);

// Adds problem b of the model's last forward pass (every layer and head).
void pattern_average_add(PatternAverage *a, const GPT *model, int b, const Problem *p);
// Runs problems[index[i]] (index NULL: problems[i]) through the model in
// batches, adds each, and writes each result if results is not NULL.
bool pattern_average_run(PatternAverage *a, ProblemResult *results, GPT *model,
                         const Problem *problems, const size_t *index, size_t count,
                         const Boost *boost, GError **error);

#define ALL_HEADS (-1)
// out (T,T): the element-wise mean pattern of one layer and head, or with
// head = ALL_HEADS the mean over the layer's heads; by position or in role
// order. NaN where undefined (no examples; role cells masked in every example).
void pattern_average_get(const PatternAverage *a, int layer, int head, bool by_role,
                         float out[COMPARE_CELLS]);

// out (T,T) = the mean pattern of a minus that of b (e.g. bad - good), cell
// by cell; NaN where either is undefined.
void pattern_average_difference(const PatternAverage *a, const PatternAverage *b, int layer,
                                int head, bool by_role, float out[COMPARE_CELLS]);

// Row POS_ANS's weight per part with a 95% confidence interval over examples:
// mean +- 1.96 sd / sqrt(n) (sd with n - 1; NaN when n < 2). With head =
// ALL_HEADS each example's parts are first averaged over the layer's heads.
typedef struct {
    size_t n;
    double mean[ROLE_PARTS];
    double ci95[ROLE_PARTS]; // the half-width
} RoleProfile;
void role_profile(RoleProfile *out, const PatternAverage *a, int layer, int head);

// The (layer, head) whose averaged row POS_ANS differs most between a and b:
// the largest sum over keys of |mean_a - mean_b| (in role order if by_role).
// False when either has no examples.
bool most_different_head(const PatternAverage *a, const PatternAverage *b, bool by_role,
                         int *layer, int *head, double *distance);

// ----------------------------------------------------------------------------
// 5. Kinds of wrong answers
//
// For a wrong prediction of a problem with values v(a..d) and operator op:
//   ref_x_other    a binding failure keeping one operand: the prediction is
//                  v(x) op v(y) for a pair (x, y) with x = var1 or y = var2,
//                  but not both (for squaring, ref times another variable);
//   other_x_other  a binding failure losing both: v(x) op v(y) with x != var1
//                  and y != var2 (for squaring: another variable's square, or
//                  the product of two other variables);
//   near_miss      |predicted - answer| <= NEAR_MISS_DISTANCE (an arithmetic
//                  slip, not a lookup of the wrong variable);
//   other          anything else, including a non-number.
// When several fit, the first in this list wins: the binding reading is the
// hypothesis under test, and the chance counts below say how often it fits by
// accident.
//
// Chance. Small products are common (0 is the square of 0 and any product with
// a 0; 4 is 2*2 and 1*4), so a prediction can look like a binding failure by
// accident. count_failures therefore also matches each wrong prediction
// against the values of every OTHER problem of the set, classifies it as if it
// were that problem's prediction, and averages: chance[k] is the number of
// predictions of kind k expected if the predictions had nothing to do with
// their own problems. (Where a prediction happens to be the other problem's
// answer it counts in no kind: chance_correct.)
#define NEAR_MISS_DISTANCE 2

typedef enum {
    FAILURE_REF_X_OTHER,
    FAILURE_OTHER_X_OTHER,
    FAILURE_NEAR_MISS,
    FAILURE_OTHER,
    FAILURE_KINDS
} FailureKind;
#define FAILURE_NONE (-1) // the prediction is right

const char *failure_kind_name(int kind); // "ref_x_other", "other_x_other", "near_miss", "other"
// The kind of a prediction (a token id) for this problem, or FAILURE_NONE.
int classify_failure(const Problem *p, int predicted);

typedef struct {
    size_t n;                      // wrong predictions classified
    size_t count[FAILURE_KINDS];   // of each kind
    double chance[FAILURE_KINDS];  // expected by chance (NaN when n < 2)
    double chance_correct;         // ... and expected to be right by accident
} FailureCounts;

// problems and predicted (token ids) are n pairs; right predictions are
// skipped (out->n counts the wrong ones, and chance compares among them).
void count_failures(FailureCounts *out, const Problem *problems, const int *predicted, size_t n);

#endif
