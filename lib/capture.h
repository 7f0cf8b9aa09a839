// capture.h: chapter 7, looking at attention: every layer's and head's 20x20
// matrices of one problem, copied out of a forward pass.
//
// gpt_forward keeps two hooks per layer (see model.h), named as in
// TransformerLens:
//   scores   hook_attn_scores: q.k / sqrt(hs) after the causal mask (-inf) and
//            the boost, before the softmax
//   pattern  hook_pattern: after the softmax; row = query, column = key, every
//            row sums to 1, a masked cell is exactly 0
// Both live inside the activations as (L, B, NH, T, T) blocks that the next
// forward pass overwrites. A Capture is a copy of one problem's share, so it
// outlives the pass and can be saved, compared and averaged.
#ifndef LOOPLENS_CAPTURE_H
#define LOOPLENS_CAPTURE_H

#include <stdbool.h>

#include <glib.h>

#include "model.h"
#include "problem.h"

#define CAPTURE_T PROBLEM_LEN
#define CAPTURE_CELLS (CAPTURE_T * CAPTURE_T)

typedef struct {
    int n_layer, n_head;
    Problem problem;
    float *scores;  // (L, NH, T, T)
    float *pattern; // (L, NH, T, T)
} Capture;

// The exercise of chapter 7: copies the (T, T) matrix of one layer, problem and
// head out of a hook laid out (L, B, NH, T, T).
// out (T,T); hook (L,B,NH,T,T)
void capture_copy_head(float *out, const float *hook, int layer, int b, int head, int B, int NH,
                       int T);

// Runs the model over one problem (boost may be NULL) and copies every layer's
// and head's scores and pattern. Free with capture_free.
bool capture_problem(Capture *out, GPT *model, const Problem *problem, const Boost *boost,
                     GError **error);
// After a gpt_forward over a batch: copies problem b's captures. The model
// must have run with the batch that problem came from.
void capture_from_forward(Capture *out, const GPT *model, const Problem *problem, int b);
void capture_free(Capture *c);

// One layer's and head's (T, T) matrix inside a capture.
const float *capture_scores(const Capture *c, int layer, int head);
const float *capture_pattern(const Capture *c, int layer, int head);

// Checks a fresh capture against a saved one (the CSV of `looplens capture`):
// true when every |fresh - saved| <= tolerance. max_diff gets the largest
// difference and row, col where it is (may be NULL). An unreadable or
// malformed CSV is an error (false with *error set); a mismatch is false with
// no error.
bool capture_matches_csv(const float fresh[CAPTURE_CELLS], const char *csv_path, double tolerance,
                         double *max_diff, int *row, int *col, GError **error);

#endif
