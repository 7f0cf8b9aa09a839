// viewer_boost.c: see viewer_boost.h.
#include "viewer_boost.h"

#include <math.h>
#include <string.h>

#include "layers.h"
#include "util.h"

#define CACHED_POSITIONS BOOST_FIRST_ROW // keys and values of positions 0..17
#define BUILD_BATCH 64                   // problems per gpt_forward while building
#define RUN_CHUNK 128                    // problems per parallel task of a run

// ----------------------------------------------------------------------------
// Building the cache

// Floats per problem in each of the cache's tensors.
static size_t kv_floats(const BoostCache *c)
{
    return (size_t)c->config.n_layer * CACHED_POSITIONS * 2 * c->config.d_model;
}
static size_t resid_floats(const BoostCache *c)
{
    return (size_t)c->config.n_layer * c->rows * c->config.d_model;
}
static size_t base_row_floats(const BoostCache *c)
{
    return (size_t)c->config.n_layer * c->config.n_head * c->rows * c->config.block_size;
}

// Head h's keys (18, hs) of layer l, problem n; its values follow them.
static size_t kv_index(const BoostCache *c, int l, int n, int h)
{
    const GPTConfig *cfg = &c->config;
    size_t hs = cfg->d_model / cfg->n_head;
    return (((size_t)n * cfg->n_layer + l) * cfg->n_head + h) * 2 * CACHED_POSITIONS * hs;
}

static size_t resid_index(const BoostCache *c, int l, int n, int r)
{
    return (((size_t)n * c->config.n_layer + l) * c->rows + r) * c->config.d_model;
}

// Index of row r's (T) slice of the cache's (N, L, NH, R, T) tensors.
static size_t base_row_index(const BoostCache *c, int l, int n, int h, int r)
{
    const GPTConfig *cfg = &c->config;
    return ((((size_t)n * cfg->n_layer + l) * cfg->n_head + h) * c->rows + r) * cfg->block_size;
}

// Index of row r's (T) slice of a run's (L, N, NH, R, T) tensors.
static size_t row_index(const GPTConfig *cfg, int count, int rows, int l, int n, int h, int r)
{
    return ((((size_t)l * count + n) * cfg->n_head + h) * rows + r) * cfg->block_size;
}

void boost_cache_init(BoostCache *cache, const GPT *model, int rows)
{
    g_return_if_fail(rows == 1 || rows == 2);
    memset(cache, 0, sizeof *cache);
    cache->config = model->config;
    cache->model = model;
    cache->rows = rows;
}

// Room for at least `needed` problems (doubling, so adding is amortised O(1)).
static bool cache_reserve(BoostCache *c, int needed, GError **error)
{
    if (needed <= c->capacity)
        return true;
    int capacity = c->capacity ? c->capacity : 64;
    while (capacity < needed)
        capacity *= 2;
    float **tensors[] = {&c->kv, &c->resid_in, &c->base_scores, &c->base_pattern,
                         &c->base_probs};
    size_t per_problem[] = {kv_floats(c), resid_floats(c), base_row_floats(c),
                            base_row_floats(c), (size_t)c->config.vocab_size};
    for (size_t i = 0; i < G_N_ELEMENTS(tensors); i++) {
        float *grown = g_try_realloc(*tensors[i], capacity * per_problem[i] * sizeof(float));
        if (!grown) {
            // The tensors grown so far keep their data: the cache is still valid.
            g_set_error(error, LL_ERROR, LL_ERROR_INVALID,
                        "cannot allocate the boost cache for %d problems", capacity);
            return false;
        }
        *tensors[i] = grown;
    }
    Problem *problems = g_try_realloc(c->problems, capacity * sizeof(Problem));
    if (!problems) {
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID,
                    "cannot allocate the boost cache for %d problems", capacity);
        return false;
    }
    c->problems = problems;
    c->capacity = capacity;
    return true;
}

bool boost_cache_add(BoostCache *cache, const GPT *model, int b, const Problem *problem,
                     GError **error)
{
    const GPTConfig *cfg = &cache->config;
    size_t L = cfg->n_layer, NH = cfg->n_head, C = cfg->d_model, V = cfg->vocab_size;
    size_t T = cfg->block_size, B = model->batch, BT = B * T;
    g_return_val_if_fail(model == cache->model && b >= 0 && b < model->batch, false);
    if (!cache_reserve(cache, cache->count + 1, error))
        return false;
    int n = cache->count;
    const ActivationTensors *acts = &model->acts;
    cache->problems[n] = *problem;
    for (size_t l = 0; l < L; l++) {
        // qkv row t is [q | k | v]; head h owns channels h*hs.. of each part.
        const float *qkv = acts->qkv + l * BT * 3 * C + (size_t)b * T * 3 * C;
        size_t hs = C / NH;
        for (size_t h = 0; h < NH; h++) {
            float *keys = cache->kv + kv_index(cache, l, n, h);
            float *values = keys + CACHED_POSITIONS * hs;
            for (int t = 0; t < CACHED_POSITIONS; t++) {
                memcpy(keys + t * hs, qkv + t * 3 * C + C + h * hs, hs * sizeof(float));
                memcpy(values + t * hs, qkv + t * 3 * C + 2 * C + h * hs, hs * sizeof(float));
            }
        }
        const float *resid = l == 0 ? acts->encoded : acts->resid_post + (l - 1) * BT * C;
        for (int r = 0; r < cache->rows; r++)
            memcpy(cache->resid_in + resid_index(cache, l, n, r),
                   resid + ((size_t)b * T + BOOST_FIRST_ROW + r) * C, C * sizeof(float));
        for (size_t h = 0; h < NH; h++) {
            for (int r = 0; r < cache->rows; r++) {
                size_t at = base_row_index(cache, l, n, h, r);
                size_t from = (BOOST_FIRST_ROW + r) * T;
                memcpy(cache->base_scores + at, gpt_scores(model, l, b, h) + from,
                       T * sizeof(float));
                memcpy(cache->base_pattern + at, gpt_pattern(model, l, b, h) + from,
                       T * sizeof(float));
            }
        }
    }
    memcpy(cache->base_probs + (size_t)n * V, gpt_probs(model, b), V * sizeof(float));
    cache->count++;
    return true;
}

bool boost_cache_build(BoostCache *cache, GPT *model, const Problem *problems, int count,
                       int rows, GError **error)
{
    boost_cache_init(cache, model, rows);
    int T = model->config.block_size;
    int *tokens = g_new(int, (size_t)BUILD_BATCH * T);
    for (int n0 = 0; n0 < count; n0 += BUILD_BATCH) {
        int B = count - n0 < BUILD_BATCH ? count - n0 : BUILD_BATCH;
        for (int b = 0; b < B; b++)
            memcpy(tokens + (size_t)b * T, problems[n0 + b].tokens, T * sizeof *tokens);
        bool ok = gpt_forward(model, tokens, B, NULL, error);
        for (int b = 0; ok && b < B; b++)
            ok = boost_cache_add(cache, model, b, &problems[n0 + b], error);
        if (!ok) {
            g_free(tokens);
            boost_cache_free(cache);
            return false;
        }
    }
    g_free(tokens);
    return true;
}

void boost_cache_free(BoostCache *cache)
{
    g_free(cache->kv);
    g_free(cache->resid_in);
    g_free(cache->base_scores);
    g_free(cache->base_pattern);
    g_free(cache->base_probs);
    g_free(cache->problems);
    memset(cache, 0, sizeof *cache);
}

size_t boost_cache_bytes(const BoostCache *c)
{
    return (size_t)c->capacity * (sizeof(Problem) +
                                  sizeof(float) * (kv_floats(c) + resid_floats(c) +
                                                   2 * base_row_floats(c) + c->config.vocab_size));
}

// ----------------------------------------------------------------------------
// The run's memory

void boost_run_init(BoostRun *run, const BoostCache *cache)
{
    memset(run, 0, sizeof *run);
    const GPTConfig *cfg = &cache->config;
    size_t L = cfg->n_layer, NH = cfg->n_head, C = cfg->d_model, F = cfg->d_ff;
    size_t V = cfg->vocab_size, T = cfg->block_size;
    size_t N = cache->count, R = cache->rows, M = N * R;
    run->count = cache->count;
    run->rows = cache->rows;
    size_t row_size = L * N * NH * R * T;
    float **pointers[] = {&run->scores, &run->pattern, &run->probs, &run->p_correct,
                          &run->x, &run->ln, &run->mean, &run->rstd, &run->qkv,
                          &run->attn_out, &run->proj, &run->resid_mid, &run->fc,
                          &run->fc_gelu, &run->ln_f, &run->logits};
    size_t sizes[] = {row_size, row_size, N * V, N, M * C, M * C, M, M, M * 3 * C, M * C,
                      M * C, M * C, M * F, M * F, N * C, N * V};
    G_STATIC_ASSERT(G_N_ELEMENTS(pointers) == G_N_ELEMENTS(sizes));
    size_t total = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++)
        total += sizes[i];
    run->memory = g_new0(float, total ? total : 1);
    float *next = run->memory;
    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        *pointers[i] = next;
        next += sizes[i];
    }
    run->predicted = g_new0(int, N ? N : 1);
}

void boost_run_free(BoostRun *run)
{
    g_free(run->memory);
    g_free(run->predicted);
    memset(run, 0, sizeof *run);
}

const float *boost_run_pattern_row(const BoostRun *run, const GPTConfig *c, int layer, int n,
                                   int head, int r)
{
    return run->pattern + row_index(c, run->count, run->rows, layer, n, head, r);
}

const float *boost_run_scores_row(const BoostRun *run, const GPTConfig *c, int layer, int n,
                                  int head, int r)
{
    return run->scores + row_index(c, run->count, run->rows, layer, n, head, r);
}

// ----------------------------------------------------------------------------
// The run

// The first layer the boost changes anything in, or L when it changes nothing.
static int first_boosted_layer(const GPTConfig *cfg, const Boost *boost)
{
    if (!boost->boost_values && !boost->boost_operator)
        return cfg->n_layer;
    for (int l = 0; l < cfg->n_layer; l++)
        for (int h = 0; h < cfg->n_head; h++)
            if (boost->target[l][h])
                return l;
    return cfg->n_layer;
}

// Attention for the recomputed rows only, the same sums in the same order as
// attention_forward_vectorized: each score a dot product over the head's
// channels times 1/sqrt(hs), the mask, the boost on row POS_ANS, softmax_row,
// then the weighted sum of values in order of key position.
// Problems n0..n1-1, D rows each are computed (D <= R = cache->rows).
// attn_out (n1-n0,D,C); qkv (n1-n0,D,3C); scores, pattern: layer l's (N,NH,R,T)
static void attention_rows_forward(float *attn_out, float *scores, float *pattern,
                                   const float *qkv, const BoostCache *cache, const Boost *boost,
                                   int l, int D, int n0, int n1)
{
    const GPTConfig *cfg = &cache->config;
    int R = cache->rows, NH = cfg->n_head, C = cfg->d_model;
    int T = cfg->block_size, hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    for (int n = n0; n < n1; n++) {
        int boosted[3];
        int n_boosted = boost_positions(boost, &cache->problems[n], boosted);
        for (int h = 0; h < NH; h++) {
            // Keys and values 0..17 from the cache, 18.. from the recomputed
            // rows (head h's channels of a (D, 3C) block).
            const float *keys = cache->kv + kv_index(cache, l, n, h); // (18, hs)
            const float *values = keys + CACHED_POSITIONS * hs;         // (18, hs)
            const float *rows = qkv + (size_t)(n - n0) * D * 3 * C + h * hs; // (D, 3C)
            for (int r = 0; r < D; r++) {
                int pos = BOOST_FIRST_ROW + r;
                const float *q = rows + (size_t)r * 3 * C;
                float *s = scores + (((size_t)n * NH + h) * R + r) * T;
                float *p = pattern + (((size_t)n * NH + h) * R + r) * T;
                for (int j = 0; j < T; j++) {
                    if (j > pos) {
                        s[j] = -INFINITY;
                        continue;
                    }
                    const float *k = j < CACHED_POSITIONS
                                         ? keys + j * hs
                                         : rows + (size_t)(j - CACHED_POSITIONS) * 3 * C + C;
                    float dot = 0.0f;
                    for (int d = 0; d < hs; d++)
                        dot += q[d] * k[d];
                    s[j] = dot * scale;
                }
                if (pos == POS_ANS && boost->target[l][h])
                    for (int i = 0; i < n_boosted; i++)
                        s[boosted[i]] += boost->amount;
                softmax_row(p, s, T);
                float *o = attn_out + ((size_t)(n - n0) * D + r) * C + h * hs;
                for (int d = 0; d < hs; d++)
                    o[d] = 0.0f;
                for (int j = 0; j <= pos; j++) {
                    const float *v = j < CACHED_POSITIONS
                                         ? values + j * hs
                                         : rows + (size_t)(j - CACHED_POSITIONS) * 3 * C + 2 * C;
                    for (int d = 0; d < hs; d++)
                        o[d] += p[j] * v[d];
                }
            }
        }
    }
}

static void add_vectors(float *out, const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}

// p_correct and the argmax of every problem's answer distribution.
static void read_answers(BoostRun *run, const BoostCache *cache)
{
    int V = cache->config.vocab_size;
    for (int n = 0; n < cache->count; n++) {
        const float *probs = run->probs + (size_t)n * V;
        int best = 0;
        for (int v = 1; v < V; v++)
            if (probs[v] > probs[best])
                best = v;
        run->predicted[n] = best;
        run->p_correct[n] = probs[cache->problems[n].tokens[POS_ANSWER]];
    }
}

// Problems n0..n1-1 from layer l0 on: D rows each through the layers, then
// row 18 to the answer. Uses the run's scratch rows of these problems only,
// so chunks of problems can run side by side.
static void run_chunk(const BoostCache *cache, const Boost *boost, BoostRun *run, int D, int l0,
                      int n0, int n1)
{
    const GPTConfig *cfg = &cache->config;
    const ParameterTensors *params = &cache->model->params;
    int L = cfg->n_layer, NH = cfg->n_head, C = cfg->d_model, F = cfg->d_ff;
    int V = cfg->vocab_size, T = cfg->block_size, R = cache->rows;
    int M = (n1 - n0) * D;                    // rows in this chunk
    size_t first = (size_t)n0 * D;            // its first row in the scratch tensors
    size_t layer_rows = (size_t)cache->count * NH * R * T; // one layer of (L,N,NH,R,T)
    float *x = run->x + first * C, *ln = run->ln + first * C;
    float *mean = run->mean + first, *rstd = run->rstd + first;
    float *qkv = run->qkv + first * 3 * C, *attn_out = run->attn_out + first * C;
    float *proj = run->proj + first * C, *resid_mid = run->resid_mid + first * C;
    float *fc = run->fc + first * F, *fc_gelu = run->fc_gelu + first * F;

    // x (M,C): the residual stream at the recomputed positions.
    for (int n = n0; n < n1; n++)
        memcpy(x + (size_t)(n - n0) * D * C, cache->resid_in + resid_index(cache, l0, n, 0),
               (size_t)D * C * sizeof(float));
    for (int l = l0; l < L; l++) {
        const LayerParams weights = layer_params(params, cfg, l);

        // x = x + attn(ln_1(x)), attending to the cached keys and values
        layernorm_forward(ln, mean, rstd, x, weights.ln_1_w, weights.ln_1_b, M, C);
        matmul_forward(qkv, ln, weights.c_attn_w, weights.c_attn_b, M, C, 3 * C);
        attention_rows_forward(attn_out, run->scores + l * layer_rows,
                               run->pattern + l * layer_rows, qkv, cache, boost, l, D, n0, n1);
        matmul_forward(proj, attn_out, weights.attn_proj_w, weights.attn_proj_b, M, C, C);
        add_vectors(resid_mid, x, proj, (size_t)M * C);
        // x = x + mlp(ln_2(x))
        layernorm_forward(ln, mean, rstd, resid_mid, weights.ln_2_w, weights.ln_2_b, M, C);
        matmul_forward(fc, ln, weights.c_fc_w, weights.c_fc_b, M, C, F);
        gelu_forward(fc_gelu, fc, M * F);
        matmul_forward(proj, fc_gelu, weights.mlp_proj_w, weights.mlp_proj_b, M, F, C);
        add_vectors(x, resid_mid, proj, (size_t)M * C);
    }

    // The answer: ln_f of row 18, against wte, one problem at a time as in
    // gpt_forward (so the sgemm calls have the same shapes).
    for (int n = n0; n < n1; n++)
        memcpy(ln + (size_t)(n - n0) * C, x + (size_t)(n - n0) * D * C, C * sizeof(float));
    float *ln_f = run->ln_f + (size_t)n0 * C;
    layernorm_forward(ln_f, mean, rstd, ln, params->ln_f_weight, params->ln_f_bias, n1 - n0, C);
    for (int n = n0; n < n1; n++) {
        float *logits = run->logits + (size_t)n * V;
        matmul_forward(logits, ln_f + (size_t)(n - n0) * C, params->wte, NULL, 1, C, V);
        softmax_row(run->probs + (size_t)n * V, logits, V);
    }
}

void boost_cache_run(const BoostCache *cache, const Boost *boost, BoostRun *run, int rows)
{
    const GPTConfig *cfg = &cache->config;
    int L = cfg->n_layer, NH = cfg->n_head, V = cfg->vocab_size, T = cfg->block_size;
    int N = cache->count, R = cache->rows, D = rows;
    g_return_if_fail(run->count == N && run->rows == R && D >= 1 && D <= R);
    run->rows_done = D;
    if (N == 0)
        return;

    // Layers before the first boosted one are unchanged: their rows are cached.
    int l0 = first_boosted_layer(cfg, boost);
    size_t head_rows = (size_t)R * T; // one problem's, layer's and head's rows
    for (int l = 0; l < l0; l++) {
        for (int n = 0; n < N; n++) {
            size_t from = base_row_index(cache, l, n, 0, 0);
            size_t to = row_index(cfg, N, R, l, n, 0, 0);
            memcpy(run->scores + to, cache->base_scores + from, NH * head_rows * sizeof(float));
            memcpy(run->pattern + to, cache->base_pattern + from, NH * head_rows * sizeof(float));
        }
    }
    if (l0 == L) {
        memcpy(run->probs, cache->base_probs, (size_t)N * V * sizeof(float));
        read_answers(run, cache);
        return;
    }
    // Chunks of problems in parallel, each through all the layers: one
    // synchronisation per run instead of several per layer. The chunks have a
    // fixed size, so the results do not depend on the number of threads.
    int chunks = (N + RUN_CHUNK - 1) / RUN_CHUNK;
#pragma omp parallel for schedule(dynamic, 1)
    for (int c = 0; c < chunks; c++) {
        int n0 = c * RUN_CHUNK, n1 = n0 + RUN_CHUNK < N ? n0 + RUN_CHUNK : N;
        run_chunk(cache, boost, run, D, l0, n0, n1);
    }
    read_answers(run, cache);
}
