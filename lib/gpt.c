// gpt.c: chapter 5, the whole model: configuration, parameters, activations,
// initialisation, the boost, and the forward pass.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "model.h"
#include "util.h"

// ----------------------------------------------------------------------------
// Configuration

bool gpt_config_preset(const char *name, GPTConfig *out)
{
    static const struct {
        const char *name;
        int n_layer, n_head, d_model, d_ff;
    } presets[] = {
        {"default", 6, 8, 128, 512}, // trains in minutes on two cores
        {"seed", 6, 8, 512, 2048},   // the seed experiment's model
        {"tiny", 2, 2, 16, 32},      // for tests
    };
    for (size_t i = 0; i < G_N_ELEMENTS(presets); i++) {
        if (name && strcmp(name, presets[i].name) == 0) {
            *out = (GPTConfig){
                .n_layer = presets[i].n_layer,
                .n_head = presets[i].n_head,
                .d_model = presets[i].d_model,
                .d_ff = presets[i].d_ff,
                .vocab_size = VOCAB_SIZE,
                .block_size = BLOCK_SIZE,
            };
            return true;
        }
    }
    return false;
}

// The largest widths we accept: far beyond any preset, small enough that every
// size computed from them fits comfortably in size_t and int.
#define MAX_D_MODEL 8192
#define MAX_D_FF 32768

bool gpt_config_valid(const GPTConfig *c, char *why, size_t why_size)
{
    if (c->n_layer < 1 || c->n_layer > MAX_LAYERS)
        snprintf(why, why_size, "n_layer is %d, not in 1..%d", c->n_layer, MAX_LAYERS);
    else if (c->n_head < 1 || c->n_head > MAX_HEADS)
        snprintf(why, why_size, "n_head is %d, not in 1..%d", c->n_head, MAX_HEADS);
    else if (c->d_model < 1 || c->d_model > MAX_D_MODEL)
        snprintf(why, why_size, "d_model is %d, not in 1..%d", c->d_model, MAX_D_MODEL);
    else if (c->d_model % c->n_head != 0)
        snprintf(why, why_size, "d_model %d is not divisible by n_head %d", c->d_model,
                 c->n_head);
    else if (c->d_ff < 1 || c->d_ff > MAX_D_FF)
        snprintf(why, why_size, "d_ff is %d, not in 1..%d", c->d_ff, MAX_D_FF);
    else if (c->vocab_size != VOCAB_SIZE)
        snprintf(why, why_size, "vocab_size is %d, not %d", c->vocab_size, VOCAB_SIZE);
    else if (c->block_size != BLOCK_SIZE)
        snprintf(why, why_size, "block_size is %d, not %d", c->block_size, BLOCK_SIZE);
    else
        return true;
    return false;
}

// ----------------------------------------------------------------------------
// Parameters

void param_info(const GPTConfig *c, int i, ParamInfo *out)
{
    size_t V = c->vocab_size, T = c->block_size, C = c->d_model, F = c->d_ff;
    static const struct {
        const char *name_format;
        bool per_layer;
    } names[NUM_PARAM_TENSORS] = {
        {"transformer.wte.weight", false},
        {"transformer.wpe.weight", false},
        {"transformer.h.%d.ln_1.weight", true},
        {"transformer.h.%d.ln_1.bias", true},
        {"transformer.h.%d.attn.c_attn.weight", true},
        {"transformer.h.%d.attn.c_attn.bias", true},
        {"transformer.h.%d.attn.c_proj.weight", true},
        {"transformer.h.%d.attn.c_proj.bias", true},
        {"transformer.h.%d.ln_2.weight", true},
        {"transformer.h.%d.ln_2.bias", true},
        {"transformer.h.%d.mlp.c_fc.weight", true},
        {"transformer.h.%d.mlp.c_fc.bias", true},
        {"transformer.h.%d.mlp.c_proj.weight", true},
        {"transformer.h.%d.mlp.c_proj.bias", true},
        {"transformer.ln_f.weight", false},
        {"transformer.ln_f.bias", false},
    };
    // Shapes per layer, [out, in] for matrices; a vector has dims[1] = 1.
    const size_t shapes[NUM_PARAM_TENSORS][2] = {
        {V, C}, {T, C},                 // wte, wpe
        {C, 1}, {C, 1},                 // ln_1
        {3 * C, C}, {3 * C, 1},         // c_attn
        {C, C}, {C, 1},                 // attn.c_proj
        {C, 1}, {C, 1},                 // ln_2
        {F, C}, {F, 1},                 // c_fc
        {C, F}, {C, 1},                 // mlp.c_proj
        {C, 1}, {C, 1},                 // ln_f
    };
    g_return_if_fail(i >= 0 && i < NUM_PARAM_TENSORS);
    out->name_format = names[i].name_format;
    out->per_layer = names[i].per_layer;
    out->rank = shapes[i][1] == 1 ? 1 : 2;
    out->dims[0] = shapes[i][0];
    out->dims[1] = shapes[i][1];
    out->decay = out->rank == 2; // weight decay on matrices (and embeddings) only
}

// Floats in tensor i, all layers together.
static size_t param_tensor_size(const GPTConfig *c, int i)
{
    ParamInfo info;
    param_info(c, i, &info);
    return info.dims[0] * info.dims[1] * (info.per_layer ? (size_t)c->n_layer : 1);
}

size_t param_count(const GPTConfig *c)
{
    size_t total = 0;
    for (int i = 0; i < NUM_PARAM_TENSORS; i++)
        total += param_tensor_size(c, i);
    return total;
}

void param_carve(ParameterTensors *p, const GPTConfig *c, float *memory)
{
    // The struct's 16 pointers, in the order of param_info.
    float **pointers[NUM_PARAM_TENSORS] = {
        &p->wte, &p->wpe, &p->ln_1_weight, &p->ln_1_bias, &p->c_attn_weight,
        &p->c_attn_bias, &p->attn_proj_weight, &p->attn_proj_bias, &p->ln_2_weight,
        &p->ln_2_bias, &p->c_fc_weight, &p->c_fc_bias, &p->mlp_proj_weight,
        &p->mlp_proj_bias, &p->ln_f_weight, &p->ln_f_bias,
    };
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        *pointers[i] = memory;
        memory += param_tensor_size(c, i);
    }
}

// ----------------------------------------------------------------------------
// Activations

void activation_sizes(const GPTConfig *c, int B, size_t sizes[NUM_ACTIVATION_TENSORS])
{
    size_t L = c->n_layer, NH = c->n_head, C = c->d_model, F = c->d_ff, V = c->vocab_size;
    size_t T = c->block_size, BT = (size_t)B * T;
    const size_t s[NUM_ACTIVATION_TENSORS] = {
        BT * C,              // encoded
        L * BT * C,          // ln_1
        L * BT,              // ln_1_mean
        L * BT,              // ln_1_rstd
        L * BT * 3 * C,      // qkv
        L * B * NH * T * T,  // attn_scores
        L * B * NH * T * T,  // attn_pattern
        L * BT * C,          // attn_out
        L * BT * C,          // attn_proj
        L * BT * C,          // resid_mid
        L * BT * C,          // ln_2
        L * BT,              // ln_2_mean
        L * BT,              // ln_2_rstd
        L * BT * F,          // fc
        L * BT * F,          // fc_gelu
        L * BT * C,          // mlp_proj
        L * BT * C,          // resid_post
        BT * C,              // ln_f
        BT,                  // ln_f_mean
        BT,                  // ln_f_rstd
        (size_t)B * V,       // logits
        (size_t)B * V,       // probs
    };
    memcpy(sizes, s, sizeof s);
}

size_t activation_count(const GPTConfig *c, int B)
{
    size_t sizes[NUM_ACTIVATION_TENSORS];
    activation_sizes(c, B, sizes);
    size_t total = 0;
    for (int i = 0; i < NUM_ACTIVATION_TENSORS; i++)
        total += sizes[i];
    return total;
}

void activation_carve(ActivationTensors *a, const GPTConfig *c, int B, float *memory)
{
    float **pointers[NUM_ACTIVATION_TENSORS] = {
        &a->encoded, &a->ln_1, &a->ln_1_mean, &a->ln_1_rstd, &a->qkv, &a->attn_scores,
        &a->attn_pattern, &a->attn_out, &a->attn_proj, &a->resid_mid, &a->ln_2,
        &a->ln_2_mean, &a->ln_2_rstd, &a->fc, &a->fc_gelu, &a->mlp_proj, &a->resid_post,
        &a->ln_f, &a->ln_f_mean, &a->ln_f_rstd, &a->logits, &a->probs,
    };
    size_t sizes[NUM_ACTIVATION_TENSORS];
    activation_sizes(c, B, sizes);
    for (int i = 0; i < NUM_ACTIVATION_TENSORS; i++) {
        *pointers[i] = memory;
        memory += sizes[i];
    }
}

// ----------------------------------------------------------------------------
// Creating, freeing, initialising

bool gpt_create(GPT *model, const GPTConfig *config, GError **error)
{
    memset(model, 0, sizeof *model);
    char why[128];
    if (!gpt_config_valid(config, why, sizeof why)) {
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID, "invalid model configuration: %s", why);
        return false;
    }
    model->config = *config;
    model->num_parameters = param_count(config);
    model->params_memory = g_try_new0(float, model->num_parameters);
    if (!model->params_memory) {
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID,
                    "cannot allocate %zu parameters (%zu MB)", model->num_parameters,
                    model->num_parameters * sizeof(float) >> 20);
        return false;
    }
    param_carve(&model->params, config, model->params_memory);
    model->attention = ATTENTION_VECTORIZED;
    return true;
}

void gpt_free(GPT *model)
{
    g_free(model->params_memory);
    g_free(model->acts_memory);
    g_free(model->shared_memory);
    memset(model, 0, sizeof *model);
}

// Draw order (part of the definition: the same seed must give the same model
// forever): one generator seeded with `seed`; the 2-D tensors in ParameterTensors
// order (wte, wpe, c_attn, attn.c_proj, c_fc, mlp.c_proj), each in memory order
// (layer by layer, row by row), one rng_normal per float. Vectors draw nothing:
// biases are 0, LayerNorm weights 1.
void gpt_init_random_std(GPT *model, uint64_t seed, float std)
{
    Rng rng;
    rng_seed(&rng, seed);
    float *p = model->params_memory;
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        ParamInfo info;
        param_info(&model->config, i, &info);
        size_t n = param_tensor_size(&model->config, i);
        bool layernorm_weight = i == 2 || i == 8 || i == 14; // ln_1, ln_2, ln_f weights
        for (size_t j = 0; j < n; j++) {
            if (info.rank == 2)
                p[j] = (float)(std * rng_normal(&rng));
            else
                p[j] = layernorm_weight ? 1.0f : 0.0f;
        }
        p += n;
    }
}

void gpt_init_random(GPT *model, uint64_t seed)
{
    gpt_init_random_std(model, seed, 0.02f);
}

// ----------------------------------------------------------------------------
// The boost (SPEC section 4)

void boost_init_default(Boost *b, float amount)
{
    memset(b, 0, sizeof *b);
    b->amount = amount;
    b->boost_values = true;
    b->boost_operator = true;
    for (int l = 0; l < MAX_LAYERS; l++)
        for (int h = 0; h < MAX_HEADS; h++)
            b->target[l][h] = true;
}

int boost_positions(const Boost *b, const Problem *p, int out[3])
{
    int n = 0;
    if (b->boost_values) {
        // A value position is boosted if the name just before it is var1 or
        // var2: once per position, also when var1 == var2. (In a valid problem
        // every name is defined once, so at most two match.)
        int var1 = p->tokens[POS_VAR1], var2 = p->tokens[POS_VAR2];
        for (int slot = 0; slot < NUM_VARS && n < 2; slot++) {
            int name = p->tokens[name_position(slot)];
            if (name == var1 || name == var2)
                out[n++] = value_position(slot);
        }
    }
    if (b->boost_operator)
        out[n++] = POS_OP;
    return n;
}

// The row added to query POS_ANS's scores of one problem, layer and head
// (chapter 9). out (T)
void boost_row(float *out, const Boost *boost, const Problem *problem, int layer, int head, int T)
{
#ifdef LOOPLENS_SOLUTION
    for (int j = 0; j < T; j++)
        out[j] = 0.0f;
    if (!boost->target[layer][head])
        return;
    // boost_positions lists each boosted key once, in increasing order, so a
    // squaring problem's one referenced value gets the amount once, not twice.
    int positions[3];
    int n = boost_positions(boost, problem, positions);
    for (int i = 0; i < n; i++)
        if (positions[i] < T)
            out[positions[i]] += boost->amount;
#else
    // TODO(exercise ch09): zero the row; then, if boost->target[layer][head] is set, put
    // boost->amount at each key position the boost applies to.
    // Hint: boost_positions(boost, problem, positions) gives those positions
    // (the referenced value positions, then POS_OP); mind that a squaring
    // problem names one variable twice but its value is boosted once.
    (void)boost, (void)problem, (void)layer, (void)head;
    for (int j = 0; j < T; j++)
        out[j] = 0.0f;
#endif
}

// Fills boost_rows (B,NH,T) for layer l: boost_row of every problem and head.
static void boost_fill_layer(float *boost_rows, const Boost *boost, const int *tokens, int l,
                             int B, int NH, int T)
{
    for (int b = 0; b < B; b++) {
        Problem problem;
        memcpy(problem.tokens, tokens + (size_t)b * T, sizeof problem.tokens);
        for (int h = 0; h < NH; h++)
            boost_row(boost_rows + ((size_t)b * NH + h) * T, boost, &problem, l, h, T);
    }
}

// ----------------------------------------------------------------------------
// The forward pass

// out (n) = a (n) + b (n): the residual connection.
static void residual_forward(float *out, const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}

// Makes room for B problems' activations (the memory only ever grows).
static bool ensure_activations(GPT *model, int B, GError **error)
{
    if (model->acts_memory && B <= model->max_batch)
        return true;
    size_t count = activation_count(&model->config, B);
    float *memory = g_try_new(float, count);
    if (!memory) {
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID,
                    "cannot allocate activations for a batch of %d (%zu MB)", B,
                    count * sizeof(float) >> 20);
        return false;
    }
    g_free(model->acts_memory);
    model->acts_memory = memory;
    model->max_batch = B;
    activation_carve(&model->acts, &model->config, B, memory);
    return true;
}

LayerParams layer_params(const ParameterTensors *p, const GPTConfig *c, int l)
{
    size_t C = (size_t)c->d_model, F = (size_t)c->d_ff;
    return (LayerParams){
        .ln_1_w = p->ln_1_weight + l * C,
        .ln_1_b = p->ln_1_bias + l * C,
        .c_attn_w = p->c_attn_weight + l * 3 * C * C,
        .c_attn_b = p->c_attn_bias + l * 3 * C,
        .attn_proj_w = p->attn_proj_weight + l * C * C,
        .attn_proj_b = p->attn_proj_bias + l * C,
        .ln_2_w = p->ln_2_weight + l * C,
        .ln_2_b = p->ln_2_bias + l * C,
        .c_fc_w = p->c_fc_weight + l * F * C,
        .c_fc_b = p->c_fc_bias + l * F,
        .mlp_proj_w = p->mlp_proj_weight + l * C * F,
        .mlp_proj_b = p->mlp_proj_bias + l * C,
    };
}

#define MAX_BATCH (1 << 20) // far more problems than a forward pass ever needs

// The checks both forward passes start with: a model with weights, a batch
// size in range, every token id in the vocabulary. Then room for B problems.
static bool forward_start(GPT *model, const int *tokens, int B, GError **error)
{
    int V = model->config.vocab_size, T = model->config.block_size;
    if (!model->params_memory) {
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID, "forward pass of a model with no parameters");
        return false;
    }
    if (B < 1 || B > MAX_BATCH) {
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID, "batch of %d problems, not in 1..%d", B,
                    MAX_BATCH);
        return false;
    }
    for (size_t i = 0; i < (size_t)B * T; i++) {
        if (tokens[i] < 0 || tokens[i] >= V) {
            g_set_error(error, LL_ERROR, LL_ERROR_INVALID,
                        "problem %zu, position %zu: token id %d is not in 0..%d", i / T, i % T,
                        tokens[i], V - 1);
            return false;
        }
    }
    if (!ensure_activations(model, B, error))
        return false;
    model->batch = B;
    return true;
}

bool gpt_forward(GPT *model, const int *tokens, int B, const Boost *boost, GError **error)
{
    const GPTConfig *cfg = &model->config;
    int L = cfg->n_layer, NH = cfg->n_head, C = cfg->d_model, F = cfg->d_ff;
    int V = cfg->vocab_size, T = cfg->block_size;
    if (!forward_start(model, tokens, B, error))
        return false;

    // Per-layer tensors are indexed with this batch's B: layer l of a (L,B,T,C)
    // tensor starts at l * B*T*C (see model.h).
    ParameterTensors params = model->params;
    ActivationTensors acts = model->acts;
    size_t BT = (size_t)B * T;
    float *boost_row = boost ? g_new(float, (size_t)B * NH * T) : NULL;

    encoder_forward(acts.encoded, tokens, params.wte, params.wpe, B, T, C);
    for (int l = 0; l < L; l++) {
        const float *residual = l == 0 ? acts.encoded : acts.resid_post + (l - 1) * BT * C;

        // This layer's weights
        const LayerParams weights = layer_params(&params, cfg, l);

        // This layer's activations
        float *ln_1 = acts.ln_1 + l * BT * C;
        float *ln_1_mean = acts.ln_1_mean + l * BT;
        float *ln_1_rstd = acts.ln_1_rstd + l * BT;
        float *qkv = acts.qkv + l * BT * 3 * C;
        float *scores = acts.attn_scores + l * BT * NH * T; // (B,NH,T,T)
        float *pattern = acts.attn_pattern + l * BT * NH * T;
        float *attn_out = acts.attn_out + l * BT * C;
        float *attn_proj = acts.attn_proj + l * BT * C;
        float *resid_mid = acts.resid_mid + l * BT * C;
        float *ln_2 = acts.ln_2 + l * BT * C;
        float *ln_2_mean = acts.ln_2_mean + l * BT;
        float *ln_2_rstd = acts.ln_2_rstd + l * BT;
        float *fc = acts.fc + l * BT * F;
        float *fc_gelu = acts.fc_gelu + l * BT * F;
        float *mlp_proj = acts.mlp_proj + l * BT * C;
        float *resid_post = acts.resid_post + l * BT * C;

        // x = x + attn(ln_1(x))
        layernorm_forward(ln_1, ln_1_mean, ln_1_rstd, residual, weights.ln_1_w, weights.ln_1_b,
                          BT, C);
        matmul_forward(qkv, ln_1, weights.c_attn_w, weights.c_attn_b, BT, C, 3 * C);
        if (boost_row)
            boost_fill_layer(boost_row, boost, tokens, l, B, NH, T);
        attention_forward(attn_out, scores, pattern, qkv, boost_row, B, T, C, NH,
                          model->attention);
        matmul_forward(attn_proj, attn_out, weights.attn_proj_w, weights.attn_proj_b, BT, C, C);
        residual_forward(resid_mid, residual, attn_proj, BT * C);
        // x = x + mlp(ln_2(x))
        layernorm_forward(ln_2, ln_2_mean, ln_2_rstd, resid_mid, weights.ln_2_w, weights.ln_2_b,
                          BT, C);
        matmul_forward(fc, ln_2, weights.c_fc_w, weights.c_fc_b, BT, C, F);
        gelu_forward(fc_gelu, fc, BT * F);
        matmul_forward(mlp_proj, fc_gelu, weights.mlp_proj_w, weights.mlp_proj_b, BT, F, C);
        residual_forward(resid_post, resid_mid, mlp_proj, BT * C);
    }
    g_free(boost_row);

    const float *last = acts.resid_post + (L - 1) * BT * C;
    layernorm_forward(acts.ln_f, acts.ln_f_mean, acts.ln_f_rstd, last, params.ln_f_weight,
                      params.ln_f_bias, BT, C);
    // Only position POS_ANS predicts anything we use: logits (B,V) from its row
    // of ln_f, against wte (the output matrix is tied to the embedding).
    for (int b = 0; b < B; b++) {
        const float *ln_f_ans = acts.ln_f + ((size_t)b * T + POS_ANS) * C;
        float *logits = acts.logits + (size_t)b * V;
        matmul_forward(logits, ln_f_ans, params.wte, NULL, 1, C, V);
        softmax_row(acts.probs + (size_t)b * V, logits, V);
    }
    return true;
}

// ----------------------------------------------------------------------------
// The forward pass with shared prefixes (for `looplens experiment`)
//
// Why: the experiment evaluates 12,000 problems per model, and their first
// positions repeat: every problem starts with [START]; with the fixed order,
// position 1 is always `a`, position 2 one of ten values, position 4 one of a
// hundred pairs... With causal attention, position t depends on tokens 0..t
// only, so two problems that agree on tokens 0..t agree on every activation of
// positions 0..t, in every layer. gpt_forward_shared therefore builds the
// batch's prefix tree, a node for each distinct prefix (tokens 0..t), runs the
// nodes through the layers instead of all B*T positions, and copies each
// node's attention rows out to every problem that shares it. (In the
// experiment's batches of 256, with position 19 of the squaring problems only,
// there are 68% as many nodes as positions with the fixed order and 78% with
// shuffled definitions.) It also skips
// what no one reads: position 19 and the attention hooks of problems whose
// hooks are not wanted, and, in the last layer, everything after the
// attention at positions other than POS_ANS.
//
// The same bits as gpt_forward: each node's row is computed with the same
// arithmetic gpt_forward uses for that position.
//  - LayerNorm, the linear layers, GELU and the residual additions treat every
//    row on its own.
//  - Attention: a node's query meets the keys and values of its ancestors, the
//    nodes of its prefix at positions 0..t, with every sum in the order of
//    attention_forward_vectorized. The keys after t, which that function also
//    visits, are masked: weight 0, they add exactly 0 and are skipped here.
//  - OpenBLAS computes an sgemm call with a small output (rows x OC <= 1200)
//    with a separate "small matrix" kernel that rounds differently.
//    matmul_forward calls sgemm on blocks of 128 rows, and the last block may
//    be short; here every range of rows is padded to a multiple of
//    SHARED_ROW_PAD, so that no block has fewer than 16 rows. (gpt_forward
//    itself meets that kernel when B*T leaves a last block of 4 or 8 rows; for
//    a batch of a multiple of 32 problems it never does.)
#define SHARED_ROW_PAD 16

static int pad_rows(int rows)
{
    return (rows + SHARED_ROW_PAD - 1) / SHARED_ROW_PAD * SHARED_ROW_PAD;
}

// A problem and where its tokens are, for sorting a batch.
typedef struct {
    const int *tokens; // (T)
    int b;
} SortedProblem;

// Lexicographic order of the tokens (then the index, so the order is total):
// problems that share a prefix become neighbours.
static int compare_problems(const void *pa, const void *pb)
{
    const SortedProblem *a = pa, *b = pb;
    for (int t = 0; t < BLOCK_SIZE; t++)
        if (a->tokens[t] != b->tokens[t])
            return a->tokens[t] < b->tokens[t] ? -1 : 1;
    return (a->b > b->b) - (a->b < b->b);
}

// The prefix tree of a batch. Nodes are numbered position by position (every
// node of position 0, then of position 1, ...), so the nodes of one position
// are a contiguous range of rows.
//   node_of (B,T)  the node of problem b's prefix 0..t; -1 at position 19 of
//                  a problem whose hooks are not wanted (nothing reads it)
//   node_pos (M)   a node's position t
//   node_rep (M)   a problem with that prefix: node_of[node_rep[n]][j] is the
//                  node's ancestor at position j <= t
//   first (T+1)    the nodes of position t are first[t] .. first[t+1]-1
// Returns M, the number of nodes.
static int build_prefix_tree(int *node_of, int *node_pos, int *node_rep, int *first,
                             const int *tokens, const bool *keep_hooks, int B, int T)
{
    SortedProblem *sorted = g_new(SortedProblem, B);
    for (int b = 0; b < B; b++)
        sorted[b] = (SortedProblem){tokens + (size_t)b * T, b};
    qsort(sorted, B, sizeof *sorted, compare_problems);
    int M = 0;
    for (int t = 0; t < T; t++) {
        first[t] = M;
        int prev = -1; // the last problem given a node at t, in sorted order
        for (int k = 0; k < B; k++) {
            int b = sorted[k].b;
            if (t > POS_ANS && keep_hooks && !keep_hooks[b]) {
                node_of[b * T + t] = -1;
                continue;
            }
            // In sorted order, a prefix is new unless the previous problem has
            // the same one: the same node at t - 1 and the same token at t.
            if (prev >= 0 && (t == 0 || node_of[prev * T + t - 1] == node_of[b * T + t - 1]) &&
                tokens[prev * T + t] == tokens[b * T + t]) {
                node_of[b * T + t] = node_of[prev * T + t];
            } else {
                node_pos[M] = t;
                node_rep[M] = b;
                node_of[b * T + t] = M++;
            }
            prev = b;
        }
    }
    first[T] = M;
    g_free(sorted);
    return M;
}

// Causal attention for the nodes, every sum in the order of
// attention_forward_vectorized (see the top of this section). Each node is
// computed while visiting its representative problem: that problem's keys
// and values in one head, gathered as K^T (hs,T) and V (T,hs) like there,
// serve every node it represents. As there, the scores of all T keys are
// computed, then the keys after the node's position are masked.
// out (M,C); node_scores, node_pattern (M,NH,T); qkv (M,3C); node_of (B,T);
// node_rep (M)
static void attention_nodes_forward(float *out, float *node_scores, float *node_pattern,
                                    const float *qkv, const int *node_of, const int *node_rep,
                                    int B, int T, int C, int NH)
{
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel
    {
        float *k_t = g_new(float, (size_t)hs * T); // (hs,T) one problem's keys, transposed
        float *v = g_new(float, (size_t)T * hs);   // (T,hs) and values
#pragma omp for schedule(static)
        for (int b = 0; b < B; b++) {
            const int *path = node_of + (size_t)b * T; // path[j]: the node at position j
            for (int h = 0; h < NH; h++) {
                // The positions with a node: all T, or up to POS_ANS when the
                // hooks are not kept (then key and value 19 are zeros, masked
                // anyway).
                int positions = path[T - 1] >= 0 ? T : T - 1;
                for (int j = 0; j < positions; j++) {
                    const float *k = qkv + (size_t)path[j] * 3 * C + C + h * hs;
                    for (int d = 0; d < hs; d++)
                        k_t[d * T + j] = k[d];
                    memcpy(v + (size_t)j * hs, k + C, hs * sizeof(float));
                }
                for (int j = positions; j < T; j++) {
                    for (int d = 0; d < hs; d++)
                        k_t[d * T + j] = 0.0f;
                    memset(v + (size_t)j * hs, 0, hs * sizeof(float));
                }
                for (int t = 0; t < T; t++) {
                    int n = path[t];
                    if (n < 0 || node_rep[n] != b)
                        continue; // another problem's node, or none
                    float *s = node_scores + ((size_t)n * NH + h) * T;  // (T)
                    float *p = node_pattern + ((size_t)n * NH + h) * T; // (T)
                    // scores = q K^T / sqrt(hs), then the mask
                    row_times_matrix(s, qkv + (size_t)n * 3 * C + h * hs, k_t, T, T, hs);
                    for (int j = 0; j < T; j++)
                        s[j] *= scale;
                    for (int j = t + 1; j < T; j++)
                        s[j] = -INFINITY;
                    softmax_row(p, s, T);
                    // out (hs) = p V over the keys up to t (the rest weigh 0)
                    row_times_matrix(out + (size_t)n * C + h * hs, p, v, hs, hs, t + 1);
                }
            }
        }
        g_free(k_t);
        g_free(v);
    }
}

bool gpt_forward_shared(GPT *model, const int *tokens, int B, const bool *keep_hooks,
                        GError **error)
{
    const GPTConfig *cfg = &model->config;
    int L = cfg->n_layer, NH = cfg->n_head, C = cfg->d_model, F = cfg->d_ff;
    int V = cfg->vocab_size, T = cfg->block_size;
    if (!forward_start(model, tokens, B, error))
        return false;

    // The tree: at most B*T nodes.
    size_t BT = (size_t)B * T;
    int *node_of = g_new(int, 3 * BT + T + 1); // node_of (B,T), node_pos, node_rep (BT), first
    int *node_pos = node_of + BT, *node_rep = node_pos + BT, *first = node_rep + BT;
    int M = build_prefix_tree(node_of, node_pos, node_rep, first, tokens, keep_hooks, B, T);

    // One layer's rows, reused layer after layer, with room for the padding
    // of any range of rows (zeros: they go through the layers harmlessly and
    // are never read). Kept for the next call.
    size_t rows = BT + 2 * SHARED_ROW_PAD;
    size_t per_row = 8 * (size_t)C + 2 * (size_t)F + 2 + 2 * (size_t)NH * T;
    if (model->shared_floats < rows * per_row) {
        float *memory = g_try_new(float, rows * per_row);
        if (!memory) {
            g_set_error(error, LL_ERROR, LL_ERROR_INVALID,
                        "cannot allocate the prefix tree's rows for a batch of %d (%zu MB)", B,
                        rows * per_row * sizeof(float) >> 20);
            g_free(node_of);
            return false;
        }
        g_free(model->shared_memory);
        model->shared_memory = memory;
        model->shared_floats = rows * per_row;
    }
    float *x = model->shared_memory;                       // (rows,C) the residual stream
    float *ln = x + rows * C;                              // (rows,C)
    float *mean = ln + rows * C;                           // (rows)
    float *rstd = mean + rows;                             // (rows)
    float *qkv = rstd + rows;                              // (rows,3C)
    float *attn_out = qkv + rows * 3 * C;                  // (rows,C)
    float *proj = attn_out + rows * C;                     // (rows,C)
    float *resid_mid = proj + rows * C;                    // (rows,C)
    float *fc = resid_mid + rows * C;                      // (rows,F)
    float *fc_gelu = fc + rows * F;                        // (rows,F)
    float *node_scores = fc_gelu + rows * F;               // (rows,NH,T)
    float *node_pattern = node_scores + rows * NH * T;     // (rows,NH,T)

    ParameterTensors params = model->params;
    ActivationTensors acts = model->acts;
    // The embeddings of every position, then each node's row.
    encoder_forward(acts.encoded, tokens, params.wte, params.wpe, B, T, C);
    for (int n = 0; n < M; n++)
        memcpy(x + (size_t)n * C, acts.encoded + ((size_t)node_rep[n] * T + node_pos[n]) * C,
               C * sizeof(float));
    memset(x + (size_t)M * C, 0, (rows - M) * C * sizeof(float));
    memset(attn_out + (size_t)M * C, 0, (rows - M) * C * sizeof(float));

    for (int l = 0; l < L; l++) {
        const LayerParams weights = layer_params(&params, cfg, l);
        float *scores = acts.attn_scores + (size_t)l * B * NH * T * T; // (B,NH,T,T)
        float *pattern = acts.attn_pattern + (size_t)l * B * NH * T * T;

        // x = x + attn(ln_1(x)), at every node
        int Mp = pad_rows(M);
        layernorm_forward(ln, mean, rstd, x, weights.ln_1_w, weights.ln_1_b, Mp, C);
        matmul_forward(qkv, ln, weights.c_attn_w, weights.c_attn_b, Mp, C, 3 * C);
        attention_nodes_forward(attn_out, node_scores, node_pattern, qkv, node_of, node_rep, B,
                                T, C, NH);
        // The hooks: row t of problem b's matrices is its node's row.
#pragma omp parallel for schedule(static)
        for (int b = 0; b < B; b++) {
            if (keep_hooks && !keep_hooks[b])
                continue;
            for (int h = 0; h < NH; h++) {
                for (int t = 0; t < T; t++) {
                    size_t from = ((size_t)node_of[b * T + t] * NH + h) * T;
                    size_t to = (((size_t)b * NH + h) * T + t) * T;
                    memcpy(scores + to, node_scores + from, T * sizeof(float));
                    memcpy(pattern + to, node_pattern + from, T * sizeof(float));
                }
            }
        }
        // The rest of the layer at every node, except in the last layer, whose
        // output only position POS_ANS's answer reads: there, only at the
        // nodes of position POS_ANS (rows r0..r0+R-1, padded).
        int r0 = l < L - 1 ? 0 : first[POS_ANS];
        int R = l < L - 1 ? Mp : pad_rows(first[POS_ANS + 1] - first[POS_ANS]);
        size_t rC = (size_t)r0 * C, rF = (size_t)r0 * F;
        matmul_forward(proj + rC, attn_out + rC, weights.attn_proj_w, weights.attn_proj_b, R, C, C);
        residual_forward(resid_mid + rC, x + rC, proj + rC, (size_t)R * C);
        // x = x + mlp(ln_2(x))
        layernorm_forward(ln + rC, mean + r0, rstd + r0, resid_mid + rC, weights.ln_2_w,
                          weights.ln_2_b, R, C);
        matmul_forward(fc + rF, ln + rC, weights.c_fc_w, weights.c_fc_b, R, C, F);
        gelu_forward(fc_gelu + rF, fc + rF, R * F);
        matmul_forward(proj + rC, fc_gelu + rF, weights.mlp_proj_w, weights.mlp_proj_b, R, F, C);
        residual_forward(x + rC, resid_mid + rC, proj + rC, (size_t)R * C);
    }

    // The answer, as in gpt_forward: ln_f of each problem's row POS_ANS, then
    // logits one problem at a time (the same sgemm shapes) and the softmax.
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        size_t row = (size_t)b * T + POS_ANS;
        const float *last = x + (size_t)node_of[row] * C;
        float *ln_f_ans = acts.ln_f + row * C;
        layernorm_forward(ln_f_ans, acts.ln_f_mean + row, acts.ln_f_rstd + row, last,
                          params.ln_f_weight, params.ln_f_bias, 1, C);
        float *logits = acts.logits + (size_t)b * V;
        matmul_forward(logits, ln_f_ans, params.wte, NULL, 1, C, V);
        softmax_row(acts.probs + (size_t)b * V, logits, V);
    }
    g_free(node_of);
    return true;
}

// ----------------------------------------------------------------------------
// Reading the results

const float *gpt_probs(const GPT *model, int b)
{
    return model->acts.probs + (size_t)b * model->config.vocab_size;
}

static size_t head_offset(const GPT *model, int layer, int b, int head)
{
    size_t B = model->batch, NH = model->config.n_head, T = model->config.block_size;
    return (((size_t)layer * B + b) * NH + head) * T * T;
}

const float *gpt_scores(const GPT *model, int layer, int b, int head)
{
    return model->acts.attn_scores + head_offset(model, layer, b, head);
}

const float *gpt_pattern(const GPT *model, int layer, int b, int head)
{
    return model->acts.attn_pattern + head_offset(model, layer, b, head);
}
