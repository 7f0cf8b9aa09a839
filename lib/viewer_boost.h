// viewer_boost.h: the boost, fast enough for a slider (the viewer, chapter 9).
//
// The boost (SPEC section 4) changes only row POS_ANS (18) of the scores. With
// causal attention, positions 0..17 never look at position 18, so everything
// they compute, in every layer, is the same with and without the boost. Only
// the path of position 18 (and of 19, which looks at 18) through the layers
// changes. A BoostCache keeps what cannot change, per problem:
//   - the keys and values of positions 0..17 in every layer,
//   - the residual stream entering every layer at positions 18.. (for a boost
//     whose first targeted layer is not 0: the layers before it are unchanged),
//   - the unboosted rows and answer distribution (for those layers, and for
//     a boost that targets nothing).
// boost_cache_run then pushes only 1 or 2 rows per problem through the layers,
// with the same layer functions gpt_forward uses. The result equals a full
// gpt_forward with the same Boost (tests/viewer_logic.c checks it to 1e-5).
#ifndef LOOPLENS_VIEWER_BOOST_H
#define LOOPLENS_VIEWER_BOOST_H

#include <stdbool.h>
#include <stddef.h>

#include <glib.h>

#include "model.h"
#include "problem.h"

// The first recomputed position; rows POS_ANS .. POS_ANS + rows - 1 are kept.
#define BOOST_FIRST_ROW POS_ANS

typedef struct {
    GPTConfig config;  // of the model it was built from
    const GPT *model;  // not owned; only its weights are read by boost_cache_run
    int count;         // N problems
    int capacity;      // problems there is room for
    int rows;          // R: 1 (row 18: the answer) or 2 (rows 18 and 19: the whole heatmap)
    Problem *problems; // (N) copies
    // Problem-major, so a cache can grow one problem at a time:
    float *kv;           // (N, L, NH, 2, 18, hs)  keys, then values, of positions 0..17,
                         //   per head: what one head reads is contiguous
    float *resid_in;     // (N, L, R, C)      residual stream entering layer l, rows 18..
    float *base_scores;  // (N, L, NH, R, T)  unboosted scores of rows 18..
    float *base_pattern; // (N, L, NH, R, T)  unboosted pattern of rows 18..
    float *base_probs;   // (N, V)            unboosted answer distributions
} BoostCache;

// An empty cache for this model; fill it with boost_cache_add.
void boost_cache_init(BoostCache *cache, const GPT *model, int rows);
// Appends problem b of the model's last gpt_forward (which must have run
// without a boost). False (and the cache unchanged) if memory runs out.
bool boost_cache_add(BoostCache *cache, const GPT *model, int b, const Problem *problem,
                     GError **error);
// init + gpt_forward over the problems in batches + add each. Uses
// model->acts; count may be 0 (an empty cache: every run is empty too).
bool boost_cache_build(BoostCache *cache, GPT *model, const Problem *problems, int count,
                       int rows, GError **error);
void boost_cache_free(BoostCache *cache);
size_t boost_cache_bytes(const BoostCache *cache);

// The output of one run, and the scratch memory it needs; reusable across runs
// of the same cache (allocate once per worker, not per slider step).
typedef struct {
    int count, rows;  // N, R (as the cache's)
    int rows_done;    // rows of the last run: 1 (row 18) or R
    float *scores;  // (L, N, NH, R, T)  rows 18.. of every layer's and head's scores
    float *pattern; // (L, N, NH, R, T)  and patterns
    float *probs;   // (N, V)            the answer distribution
    float *p_correct; // (N)
    int *predicted;   // (N) argmax token of probs
    // Scratch, (N*R, ...) rows: the recomputed positions' activations in one layer.
    float *x, *ln, *mean, *rstd, *qkv, *attn_out, *proj, *resid_mid, *fc, *fc_gelu,
        *ln_f, *logits;
    float *memory;
} BoostRun;

void boost_run_init(BoostRun *run, const BoostCache *cache);
void boost_run_free(BoostRun *run);

// Fills run (initialised for this cache) with the model's output under boost,
// recomputing `rows` rows per problem (1 <= rows <= cache->rows): 1 is row 18
// alone, which is all the answer needs (half the work of 2, for a moving
// slider); rows 18.. beyond them are left as they were. Reads only the cache
// and the model's weights, so it may run in a worker thread while the main
// thread does anything but free or change the model.
void boost_cache_run(const BoostCache *cache, const Boost *boost, BoostRun *run, int rows);

// Run row r's (T) slice for layer l, problem n, head h.
const float *boost_run_pattern_row(const BoostRun *run, const GPTConfig *c, int layer, int n,
                                   int head, int r);
const float *boost_run_scores_row(const BoostRun *run, const GPTConfig *c, int layer, int n,
                                  int head, int r);

#endif
