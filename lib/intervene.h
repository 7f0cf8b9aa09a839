// intervene.h: chapter 9, the boost (SPEC section 4): make row POS_ANS (the
// [ANS] query) look harder at the referenced values and the operator, and see
// whether the wrong answers come right.
//
// The boost itself happens inside gpt_forward (lib/gpt.c): for each targeted
// layer and head, a (T) boost row is added to the raw scores of query POS_ANS
// after scaling and masking, before the softmax. This file has the pieces a
// reader can hold in the hand:
//   boost_row            (in model.h, used by gpt_forward) the row that gets added
//   softmax_with_boost   scores -> pattern with a boost row, for one matrix
//   add_after_softmax    the tempting wrong way: add to the weights instead
//   intervene_run        before/after over a problem set: fixed, broken, means
#ifndef LOOPLENS_INTERVENE_H
#define LOOPLENS_INTERVENE_H

#include <stdbool.h>
#include <stddef.h>

#include <glib.h>

#include "compare.h"
#include "model.h"
#include "problem.h"

// pattern (T,T) = the softmax of each row of scores (T,T), with boost (T)
// added to row `query` first (boost may be NULL). Masked cells are -INFINITY in
// scores and stay so: -inf + amount = -inf, so a boost on a masked key changes
// nothing. Every other row is exactly softmax_row of its scores.
void softmax_with_boost(float *pattern, const float *scores, const float *boost, int query, int T);

// The wrong way, for comparison: out (n) = pattern_row (n) + boost (n), added
// AFTER the softmax. Returns the new row's sum, which is no longer 1 (it is
// 1 + the amounts added).
double add_after_softmax(float *out, const float *pattern_row, const float *boost, int n);
// Divides a row by its sum (the "fix" of renormalising; it is still not the
// same as boosting before the softmax).
void renormalise(float *row, int n);

// Before and after over a set of problems.
typedef struct {
    size_t count;
    ProblemResult *before; // (count) without the boost
    ProblemResult *after;  // (count) with it
    size_t correct_before, correct_after;
    size_t fixed;  // wrong before, right after
    size_t broken; // right before, wrong after
    double mean_p_before, mean_p_after; // NaN when count is 0
} Intervention;

// Runs problems[index[i]] (index NULL: all count problems) with the boost.
// before: the results without it if the caller has them (indexed like
// `problems`, so before[index[i]]), or NULL to compute them here. If average
// is not NULL, every boosted pattern is also added to it (the same forward
// passes: chapter 8's averages of the boosted subset).
bool intervene_run(Intervention *out, GPT *model, const Problem *problems, const size_t *index,
                   size_t count, const Boost *boost, const ProblemResult *before,
                   PatternAverage *average, GError **error);
void intervention_free(Intervention *iv);

#endif
