// train.c: chapter 6, teaching the model.
//
// One training step is: run the model forward over a batch of problems
// (gpt_forward, chapter 5), measure how wrong its answers are (cross-entropy),
// send that blame backwards through every layer to every weight (gpt_backward:
// the chain rule, one layer's *_backward at a time), then nudge every weight
// against its gradient (AdamW).
#include <math.h>
#include <string.h>

#include "layers.h"
#include "safetensors.h"
#include "train.h"
#include "util.h"

void train_config_default(TrainConfig *tc)
{
    *tc = (TrainConfig){
        .batch = 64,
        .steps = 1000,
        .lr = 1e-3f,
        .warmup = 200,
        .min_lr_ratio = 0.1f,
        .beta1 = 0.9f,
        .beta2 = 0.999f,
        .eps = 1e-8f,
        .weight_decay = 0.01f,
        .clip = 1.0f,
        .all_positions = false,
    };
}

bool train_config_valid(const TrainConfig *tc, char *why, size_t why_size)
{
    const char *problem = NULL;
    if (tc->batch < 1 || tc->batch > 4096)
        problem = "batch must be 1..4096";
    else if (tc->steps < 1)
        problem = "steps must be at least 1";
    else if (!(tc->lr > 0.0f) || !isfinite(tc->lr))
        problem = "lr must be a positive number";
    else if (tc->warmup < 0)
        problem = "warmup must be 0 or more";
    else if (!(tc->min_lr_ratio >= 0.0f && tc->min_lr_ratio <= 1.0f))
        problem = "min_lr_ratio must be in [0, 1]";
    else if (!(tc->beta1 >= 0.0f && tc->beta1 < 1.0f) || !(tc->beta2 >= 0.0f && tc->beta2 < 1.0f))
        problem = "beta1 and beta2 must be in [0, 1)";
    else if (!(tc->eps > 0.0f) || !isfinite(tc->eps))
        problem = "eps must be a positive number";
    else if (!(tc->weight_decay >= 0.0f) || !isfinite(tc->weight_decay))
        problem = "weight decay must be 0 or more";
    else if (!(tc->clip >= 0.0f) || !isfinite(tc->clip))
        problem = "clip must be 0 (off) or a positive number";
    if (problem && why)
        g_strlcpy(why, problem, why_size);
    return problem == NULL;
}

float learning_rate(const TrainConfig *tc, int step)
{
    if (step <= tc->warmup)
        return tc->lr * (float)step / (float)tc->warmup;
    float min_lr = tc->lr * tc->min_lr_ratio;
    int decay_steps = tc->steps - tc->warmup;
    double progress = decay_steps > 0 ? (double)(step - tc->warmup) / decay_steps : 1.0;
    if (progress > 1.0)
        progress = 1.0;
    double cosine = 0.5 * (1.0 + cos(G_PI * progress)); // 1 -> 0
    return (float)(min_lr + cosine * (tc->lr - min_lr));
}

// ----------------------------------------------------------------------------
// Memory.

static void dacts_carve(ActivationGrads *d, const GPTConfig *c, int B, float *memory, size_t *total)
{
    size_t T = BLOCK_SIZE, C = c->d_model, F = c->d_ff, V = c->vocab_size, BT = (size_t)B * T;
    struct {
        float **ptr;
        size_t size;
    } parts[] = {
        {&d->dresidual, BT * C},    {&d->dln, BT * C},           {&d->dqkv, BT * 3 * C},
        {&d->dattn_out, BT * C},    {&d->dfc_gelu, BT * F},      {&d->dfc, BT * F},
        {&d->logits_all, BT * V},   {&d->probs_all, BT * V},     {&d->dlogits, BT * V},
        {&d->row_ln_f, B * C},      {&d->row_ln_f_mean, B},      {&d->row_ln_f_rstd, B},
        {&d->row_resid_post, B * C}, {&d->row_fc_gelu, B * F},   {&d->row_fc, B * F},
        {&d->row_ln_2, B * C},      {&d->row_ln_2_mean, B},      {&d->row_ln_2_rstd, B},
        {&d->row_resid_mid, B * C}, {&d->row_attn_out, B * C},   {&d->row_dresidual, B * C},
        {&d->row_dattn_out, B * C},
    };
    size_t offset = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(parts); i++) {
        if (memory)
            *parts[i].ptr = memory + offset;
        offset += parts[i].size;
    }
    *total = offset;
}

// Sizes the activation gradients for B problems (they only ever grow).
static bool ensure_batch(Trainer *t, int B, GError **error)
{
    if (B <= t->dacts_batch)
        return true;
    size_t total;
    dacts_carve(&t->dacts, &t->model->config, B, NULL, &total);
    float *memory = g_try_new0(float, total);
    if (!memory) {
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID,
                    "cannot allocate activation gradients for a batch of %d (%zu MB)", B,
                    total * sizeof(float) >> 20);
        return false;
    }
    g_free(t->dacts_memory);
    t->dacts_memory = memory;
    dacts_carve(&t->dacts, &t->model->config, B, t->dacts_memory, &total);
    g_free(t->tokens);
    g_free(t->targets);
    t->tokens = g_new0(int, (size_t)B * BLOCK_SIZE);
    t->targets = g_new0(int, (size_t)B * BLOCK_SIZE);
    t->dacts_batch = B;
    return true;
}

bool trainer_init(Trainer *t, GPT *model, const TrainConfig *config, const ProblemStream *stream,
                  GError **error)
{
    memset(t, 0, sizeof *t);
    char why[128];
    if (!train_config_valid(config, why, sizeof why)) {
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID, "training configuration: %s", why);
        return false;
    }
    t->model = model;
    t->config = *config;
    t->stream = *stream;
    size_t P = model->num_parameters;
    t->grads_memory = g_new0(float, P);
    t->m_memory = g_new0(float, P);
    t->v_memory = g_new0(float, P);
    param_carve(&t->grads, &model->config, t->grads_memory);
    if (!ensure_batch(t, config->batch, error)) {
        trainer_free(t);
        return false;
    }
    return true;
}

void trainer_free(Trainer *t)
{
    g_free(t->grads_memory);
    g_free(t->m_memory);
    g_free(t->v_memory);
    g_free(t->dacts_memory);
    g_free(t->tokens);
    g_free(t->targets);
    memset(t, 0, sizeof *t);
}

void zero_grad(Trainer *t)
{
    memset(t->grads_memory, 0, t->model->num_parameters * sizeof(float));
}

// ----------------------------------------------------------------------------
// The backward pass.

// Copies row t of each problem's (T, width) block into a contiguous (B, width)
// block, and back.
static void gather_rows(float *out, const float *inp, int B, int T, int t, size_t width)
{
    for (int b = 0; b < B; b++)
        memcpy(out + (size_t)b * width, inp + ((size_t)b * T + t) * width, width * sizeof(float));
}

static void scatter_rows(float *out, const float *inp, int B, int T, int t, size_t width)
{
    for (int b = 0; b < B; b++)
        memcpy(out + ((size_t)b * T + t) * width, inp + (size_t)b * width, width * sizeof(float));
}

// What the per-position half of a layer (attn.c_proj, ln_2, the MLP) read in
// the forward pass: either every row of layer l's activations, or just the
// gathered POS_ANS rows.
typedef struct {
    const float *attn_out;  // (N,C)
    const float *resid_mid; // (N,C)
    const float *ln_2;      // (N,C)
    const float *ln_2_mean; // (N)
    const float *ln_2_rstd; // (N)
    const float *fc;        // (N,F)
    const float *fc_gelu;   // (N,F)
} LayerRows;

// The layer's tensors inside the (L, B, T, ...) activations of the last forward.
static const float *layer_slice(const GPT *m, const float *base, int l, size_t per_position)
{
    return base + (size_t)l * m->batch * BLOCK_SIZE * per_position;
}

static LayerRows layer_rows(const GPT *m, int l)
{
    const ActivationTensors *a = &m->acts;
    size_t C = m->config.d_model, F = m->config.d_ff;
    return (LayerRows){
        .attn_out = layer_slice(m, a->attn_out, l, C),
        .resid_mid = layer_slice(m, a->resid_mid, l, C),
        .ln_2 = layer_slice(m, a->ln_2, l, C),
        .ln_2_mean = layer_slice(m, a->ln_2_mean, l, 1),
        .ln_2_rstd = layer_slice(m, a->ln_2_rstd, l, 1),
        .fc = layer_slice(m, a->fc, l, F),
        .fc_gelu = layer_slice(m, a->fc_gelu, l, F),
    };
}

// The per-position half of layer l, backwards, over N rows. dresidual (N,C)
// holds the gradient at the layer's output; on return it holds the gradient at
// resid_mid (the residual connection passes it straight through, ln_2 adds its
// share). dattn_out (N,C) receives the gradient at the heads' output.
// dfc_gelu, dfc (N,F) and dln (N,C) are scratch.
static void position_wise_backward(Trainer *t, int l, const LayerRows *rows, int N,
                                   float *dresidual, float *dattn_out, float *dln,
                                   float *dfc_gelu, float *dfc)
{
    const GPTConfig *cfg = &t->model->config;
    const ParameterTensors *p = &t->model->params;
    ParameterTensors *g = &t->grads;
    size_t C = cfg->d_model, F = cfg->d_ff;
    size_t rowsC = (size_t)N * C, rowsF = (size_t)N * F;

    // mlp.c_proj: (N,F) -> (N,C)
    memset(dfc_gelu, 0, rowsF * sizeof(float));
    matmul_backward(dfc_gelu, g->mlp_proj_weight + l * C * F, g->mlp_proj_bias + l * C, dresidual,
                    rows->fc_gelu, p->mlp_proj_weight + l * C * F, N, (int)F, (int)C);
    // GELU
    memset(dfc, 0, rowsF * sizeof(float));
    gelu_backward(dfc, rows->fc, dfc_gelu, (int)rowsF);
    // mlp.c_fc: (N,C) -> (N,F)
    memset(dln, 0, rowsC * sizeof(float));
    matmul_backward(dln, g->c_fc_weight + l * F * C, g->c_fc_bias + l * F, dfc, rows->ln_2,
                    p->c_fc_weight + l * F * C, N, (int)C, (int)F);
    // ln_2, whose input is resid_mid: its gradient joins the residual's
    layernorm_backward(dresidual, g->ln_2_weight + l * C, g->ln_2_bias + l * C, dln,
                       rows->resid_mid, p->ln_2_weight + l * C, rows->ln_2_mean, rows->ln_2_rstd,
                       N, (int)C);
    // attn.c_proj: (N,C) -> (N,C); resid_mid = x + attn_proj, so its gradient is dresidual
    memset(dattn_out, 0, rowsC * sizeof(float));
    matmul_backward(dattn_out, g->attn_proj_weight + l * C * C, g->attn_proj_bias + l * C,
                    dresidual, rows->attn_out, p->attn_proj_weight + l * C * C, N, (int)C, (int)C);
}

// The attention half of layer l, backwards, over every position: attention
// mixes positions, so here every row matters. dresidual (B,T,C) holds the
// gradient at resid_mid and leaves holding the gradient at the layer's input.
static void attention_half_backward(Trainer *t, int l, int B)
{
    const GPT *m = t->model;
    const GPTConfig *cfg = &m->config;
    const ParameterTensors *p = &m->params;
    const ActivationTensors *a = &m->acts;
    ParameterTensors *g = &t->grads;
    ActivationGrads *d = &t->dacts;
    int T = BLOCK_SIZE, NH = cfg->n_head;
    size_t C = cfg->d_model, N = (size_t)B * T;
    const float *layer_input = l == 0 ? a->encoded : layer_slice(m, a->resid_post, l - 1, C);

    memset(d->dqkv, 0, N * 3 * C * sizeof(float));
    attention_backward(d->dqkv, d->dattn_out, layer_slice(m, a->qkv, l, 3 * C),
                       layer_slice(m, a->attn_pattern, l, (size_t)NH * T), B, T, (int)C, NH);
    // attn.c_attn: (N,C) -> (N,3C)
    memset(d->dln, 0, N * C * sizeof(float));
    matmul_backward(d->dln, g->c_attn_weight + l * 3 * C * C, g->c_attn_bias + l * 3 * C, d->dqkv,
                    layer_slice(m, a->ln_1, l, C), p->c_attn_weight + l * 3 * C * C, (int)N,
                    (int)C, (int)(3 * C));
    // ln_1, whose input is the layer's input: its gradient joins the residual's
    layernorm_backward(d->dresidual, g->ln_1_weight + l * C, g->ln_1_bias + l * C, d->dln,
                       layer_input, p->ln_1_weight + l * C, layer_slice(m, a->ln_1_mean, l, 1),
                       layer_slice(m, a->ln_1_rstd, l, 1), (int)N, (int)C);
}

// The loss and its gradient at every position: logits (B,T,V) = ln_f @ wte^T.
// Position t predicts the token at t + 1; position 19 predicts nothing.
// Returns the mean loss over the B * 19 predictions; fills d->dlogits.
static float all_positions_loss(Trainer *t, const int *tokens, int B)
{
    const GPT *m = t->model;
    ActivationGrads *d = &t->dacts;
    int T = BLOCK_SIZE, V = m->config.vocab_size, C = m->config.d_model;
    int predicted = T - 1; // positions 0..18 have a next token
    matmul_forward(d->logits_all, m->acts.ln_f, m->params.wte, NULL, B * T, C, V);
    for (int i = 0; i < B * T; i++)
        softmax_row(d->probs_all + (size_t)i * V, d->logits_all + (size_t)i * V, V);
    double total = 0.0;
    memset(d->dlogits, 0, (size_t)B * T * V * sizeof(float));
    for (int b = 0; b < B; b++) {
        int *targets = t->targets + (size_t)b * T;
        for (int i = 0; i < predicted; i++)
            targets[i] = tokens[b * T + i + 1];
        const float *probs = d->probs_all + (size_t)b * T * V;
        total += (double)crossentropy_forward(probs, targets, predicted, V) * predicted;
        crossentropy_softmax_backward(d->dlogits + (size_t)b * T * V, probs, targets,
                                      1.0f / (float)(B * predicted), predicted, V);
    }
    return (float)(total / ((double)B * predicted));
}

// The gradient flows back from the loss at position 18. With the answer-only
// loss, everything after the last layer's attention treats positions
// independently (attn.c_proj, ln_2, MLP, ln_f, the output matrix), and only
// row 18 reaches the loss: the other 19 rows there get zero gradient. So the
// last layer's per-position half runs on the B gathered rows of position 18
// only, 1/20 of the work; its attention half and every earlier layer need all
// positions (row 18's attention reads the keys and values of positions 0..18).
float gpt_backward(Trainer *t, const int *tokens, int B)
{
    GPT *m = t->model;
    const GPTConfig *cfg = &m->config;
    const ParameterTensors *p = &m->params;
    const ActivationTensors *a = &m->acts;
    ParameterTensors *g = &t->grads;
    g_return_val_if_fail(B == m->batch, NAN); // the activations must be this batch's
    if (!ensure_batch(t, B, NULL))
        return NAN;
    ActivationGrads *d = &t->dacts;
    int T = BLOCK_SIZE, L = cfg->n_layer, V = cfg->vocab_size;
    size_t C = cfg->d_model, F = cfg->d_ff, BT = (size_t)B * T;
    float loss;

    if (t->config.all_positions) {
        // Every row gets a gradient: run the tail on the activations themselves.
        loss = all_positions_loss(t, tokens, B);
        memset(d->dln, 0, BT * C * sizeof(float));
        matmul_backward(d->dln, g->wte, NULL, d->dlogits, a->ln_f, p->wte, (int)BT, (int)C, V);
        memset(d->dresidual, 0, BT * C * sizeof(float));
        layernorm_backward(d->dresidual, g->ln_f_weight, g->ln_f_bias, d->dln,
                           layer_slice(m, a->resid_post, L - 1, C), p->ln_f_weight, a->ln_f_mean,
                           a->ln_f_rstd, (int)BT, (int)C);
        LayerRows rows = layer_rows(m, L - 1);
        position_wise_backward(t, L - 1, &rows, (int)BT, d->dresidual, d->dattn_out, d->dln,
                               d->dfc_gelu, d->dfc);
    } else {
        // The loss: position 18's answer distribution against the token at 19.
        for (int b = 0; b < B; b++)
            t->targets[b] = tokens[b * T + POS_ANSWER];
        loss = crossentropy_forward(a->probs, t->targets, B, V);
        memset(d->dlogits, 0, (size_t)B * V * sizeof(float));
        crossentropy_softmax_backward(d->dlogits, a->probs, t->targets, 1.0f / (float)B, B, V);

        // Gather what the tail read at position 18.
        gather_rows(d->row_ln_f, a->ln_f, B, T, POS_ANS, C);
        gather_rows(d->row_ln_f_mean, a->ln_f_mean, B, T, POS_ANS, 1);
        gather_rows(d->row_ln_f_rstd, a->ln_f_rstd, B, T, POS_ANS, 1);
        gather_rows(d->row_resid_post, layer_slice(m, a->resid_post, L - 1, C), B, T, POS_ANS, C);
        LayerRows full = layer_rows(m, L - 1);
        gather_rows(d->row_attn_out, full.attn_out, B, T, POS_ANS, C);
        gather_rows(d->row_resid_mid, full.resid_mid, B, T, POS_ANS, C);
        gather_rows(d->row_ln_2, full.ln_2, B, T, POS_ANS, C);
        gather_rows(d->row_ln_2_mean, full.ln_2_mean, B, T, POS_ANS, 1);
        gather_rows(d->row_ln_2_rstd, full.ln_2_rstd, B, T, POS_ANS, 1);
        gather_rows(d->row_fc, full.fc, B, T, POS_ANS, F);
        gather_rows(d->row_fc_gelu, full.fc_gelu, B, T, POS_ANS, F);
        LayerRows rows = {
            .attn_out = d->row_attn_out, .resid_mid = d->row_resid_mid, .ln_2 = d->row_ln_2,
            .ln_2_mean = d->row_ln_2_mean, .ln_2_rstd = d->row_ln_2_rstd, .fc = d->row_fc,
            .fc_gelu = d->row_fc_gelu,
        };

        // The output matrix is wte itself (tied): its gradient collects this
        // use and, later, the embedding's.
        memset(d->dln, 0, (size_t)B * C * sizeof(float));
        matmul_backward(d->dln, g->wte, NULL, d->dlogits, d->row_ln_f, p->wte, B, (int)C, V);
        memset(d->row_dresidual, 0, (size_t)B * C * sizeof(float));
        layernorm_backward(d->row_dresidual, g->ln_f_weight, g->ln_f_bias, d->dln,
                           d->row_resid_post, p->ln_f_weight, d->row_ln_f_mean, d->row_ln_f_rstd,
                           B, (int)C);
        position_wise_backward(t, L - 1, &rows, B, d->row_dresidual, d->row_dattn_out,
                               d->dln, d->dfc_gelu, d->dfc);
        // Back to full (B,T,C) tensors: zero everywhere but row 18.
        memset(d->dresidual, 0, BT * C * sizeof(float));
        memset(d->dattn_out, 0, BT * C * sizeof(float));
        scatter_rows(d->dresidual, d->row_dresidual, B, T, POS_ANS, C);
        scatter_rows(d->dattn_out, d->row_dattn_out, B, T, POS_ANS, C);
    }
    attention_half_backward(t, L - 1, B);

    // The earlier layers, last to first, on every position.
    for (int l = L - 2; l >= 0; l--) {
        LayerRows rows = layer_rows(m, l);
        position_wise_backward(t, l, &rows, (int)BT, d->dresidual, d->dattn_out, d->dln,
                               d->dfc_gelu, d->dfc);
        attention_half_backward(t, l, B);
    }
    // The embeddings: each position's gradient lands on its token's and its
    // position's row.
    encoder_backward(g->wte, g->wpe, d->dresidual, tokens, B, T, (int)C);
    return loss;
}

// ----------------------------------------------------------------------------
// AdamW.

double grad_norm(const Trainer *t)
{
    double sum = 0.0;
    for (size_t i = 0; i < t->model->num_parameters; i++)
        sum += (double)t->grads_memory[i] * t->grads_memory[i];
    return sqrt(sum);
}

// For each element i: with g the (scaled) gradient,
//   m = beta1 m + (1 - beta1) g              a running mean of gradients
//   v = beta2 v + (1 - beta2) g^2            and of their squares
//   m_hat = m / (1 - beta1^step), v_hat = v / (1 - beta2^step)
//                       (both start at 0; this undoes the bias towards 0)
//   w -= lr (m_hat / (sqrt(v_hat) + eps) + weight_decay w)
// with weight decay only on the 2-D weight matrices: pulling biases or
// LayerNorm gains towards 0 is not regularisation, just damage.
void adamw_update(Trainer *t, float lr, float grad_scale)
{
    const TrainConfig *tc = &t->config;
    const GPTConfig *cfg = &t->model->config;
    t->step++;
    float correction1 = (float)(1.0 - pow(tc->beta1, t->step));
    float correction2 = (float)(1.0 - pow(tc->beta2, t->step));
    size_t offset = 0;
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        ParamInfo info;
        param_info(cfg, i, &info);
        size_t size = info.rank == 2 ? info.dims[0] * info.dims[1] : info.dims[0];
        if (info.per_layer)
            size *= (size_t)cfg->n_layer;
        float decay = info.decay ? tc->weight_decay : 0.0f;
        float *w = t->model->params_memory + offset;
        const float *grad = t->grads_memory + offset;
        float *m = t->m_memory + offset, *v = t->v_memory + offset;
#pragma omp parallel for schedule(static) if (size >= 65536)
        for (size_t j = 0; j < size; j++) {
            float g = grad[j] * grad_scale;
            m[j] = tc->beta1 * m[j] + (1.0f - tc->beta1) * g;
            v[j] = tc->beta2 * v[j] + (1.0f - tc->beta2) * g * g;
            float m_hat = m[j] / correction1;
            float v_hat = v[j] / correction2;
            w[j] -= lr * (m_hat / (sqrtf(v_hat) + tc->eps) + decay * w[j]);
        }
        offset += size;
    }
    g_assert(offset == t->model->num_parameters);
}

// ----------------------------------------------------------------------------
// One step.

// The mean cross-entropy of the answer (position 18 predicting 19).
static float answer_loss(const GPT *m, const int *tokens, int B)
{
    double total = 0.0;
    for (int b = 0; b < B; b++)
        total -= log((double)m->acts.probs[(size_t)b * m->config.vocab_size +
                                           tokens[b * BLOCK_SIZE + POS_ANSWER]]);
    return (float)(total / B);
}

bool train_step_on(Trainer *t, const Problem *batch, int B, StepStats *stats, GError **error)
{
    if (!ensure_batch(t, B, error))
        return false;
    for (int b = 0; b < B; b++)
        memcpy(t->tokens + (size_t)b * BLOCK_SIZE, batch[b].tokens, sizeof batch[b].tokens);
    if (!gpt_forward(t->model, t->tokens, B, NULL, error))
        return false;
    zero_grad(t);
    float loss = gpt_backward(t, t->tokens, B);
    StepStats s = {.loss = loss, .answer_loss = loss, .lr = learning_rate(&t->config, t->step + 1)};
    if (t->config.all_positions)
        s.answer_loss = answer_loss(t->model, t->tokens, B);
    s.grad_norm = grad_norm(t);
    if (!isfinite(loss) || !isfinite(s.grad_norm)) {
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID,
                    "step %d: the %s is %s; the weights are left as they were after step %d",
                    t->step + 1, isfinite(loss) ? "gradient norm" : "loss",
                    isnan(isfinite(loss) ? s.grad_norm : loss) ? "NaN" : "infinite", t->step);
        return false;
    }
    // Clipping: if the whole gradient is longer than clip, shrink it to clip.
    float scale = 1.0f;
    if (t->config.clip > 0.0f && s.grad_norm > t->config.clip)
        scale = (float)(t->config.clip / s.grad_norm);
    adamw_update(t, s.lr, scale);
    if (stats)
        *stats = s;
    return true;
}

bool train_step(Trainer *t, StepStats *stats, GError **error)
{
    int B = t->config.batch;
    Problem *batch = g_new(Problem, B);
    for (int b = 0; b < B; b++)
        problem_stream_next(&t->stream, &batch[b]);
    bool ok = train_step_on(t, batch, B, stats, error);
    g_free(batch);
    return ok;
}

// ----------------------------------------------------------------------------
// Held-out evaluation.

bool evaluate(GPT *model, const Problem *problems, size_t count, int batch, EvalResult *out,
              GError **error)
{
    memset(out, 0, sizeof *out);
    int T = BLOCK_SIZE, V = model->config.vocab_size;
    int *tokens = g_new(int, (size_t)batch * T);
    double loss = 0.0, good_p = 0.0, bad_p = 0.0;
    bool ok = true;
    for (size_t start = 0; start < count && ok; start += (size_t)batch) {
        int B = count - start < (size_t)batch ? (int)(count - start) : batch;
        for (int b = 0; b < B; b++)
            memcpy(tokens + (size_t)b * T, problems[start + b].tokens, sizeof(int) * T);
        if (!(ok = gpt_forward(model, tokens, B, NULL, error)))
            break;
        for (int b = 0; b < B; b++) {
            const Problem *p = &problems[start + b];
            const float *probs = gpt_probs(model, b);
            int target = p->tokens[POS_ANSWER];
            int predicted = 0;
            for (int v = 1; v < V; v++)
                if (probs[v] > probs[predicted])
                    predicted = v;
            bool correct = predicted == target;
            int op = problem_op(p) - TOK_PLUS;
            out->count++;
            out->correct += correct;
            out->op_count[op]++;
            out->op_correct[op] += correct;
            loss -= log((double)probs[target]);
            if (problem_is_squaring(p)) {
                out->squaring_count++;
                out->squaring_good += correct;
                *(correct ? &good_p : &bad_p) += probs[target];
            }
        }
    }
    g_free(tokens);
    if (!ok)
        return false;
    out->loss = out->count ? loss / (double)out->count : 0.0;
    size_t bad = out->squaring_count - out->squaring_good;
    out->squaring_good_p = out->squaring_good ? good_p / (double)out->squaring_good : 0.0;
    out->squaring_bad_p = bad ? bad_p / (double)bad : 0.0;
    return true;
}

// ----------------------------------------------------------------------------
// The training state file.

static void add_int(SafetensorsWriter *w, const char *key, int64_t value)
{
    char text[32];
    g_snprintf(text, sizeof text, "%" G_GINT64_FORMAT, value);
    safetensors_writer_add_metadata(w, key, text);
}

static void add_uint(SafetensorsWriter *w, const char *key, uint64_t value)
{
    char text[32];
    g_snprintf(text, sizeof text, "%" G_GUINT64_FORMAT, value);
    safetensors_writer_add_metadata(w, key, text);
}

static void add_float(SafetensorsWriter *w, const char *key, float value)
{
    char text[G_ASCII_DTOSTR_BUF_SIZE];
    safetensors_writer_add_metadata(w, key, format_float(text, value));
}

bool train_state_save(const char *path, const Trainer *t, const char *const *extra_metadata,
                      GError **error)
{
    const GPTConfig *c = &t->model->config;
    const TrainConfig *tc = &t->config;
    SafetensorsWriter w;
    safetensors_writer_init(&w);
    safetensors_writer_add_metadata(&w, "format", TRAIN_STATE_FORMAT);
    add_int(&w, "n_layer", c->n_layer);
    add_int(&w, "n_head", c->n_head);
    add_int(&w, "d_model", c->d_model);
    add_int(&w, "d_ff", c->d_ff);
    add_int(&w, "step", t->step);
    add_int(&w, "batch", tc->batch);
    add_int(&w, "steps", tc->steps);
    add_float(&w, "lr", tc->lr);
    add_int(&w, "warmup", tc->warmup);
    add_float(&w, "min_lr_ratio", tc->min_lr_ratio);
    add_float(&w, "beta1", tc->beta1);
    add_float(&w, "beta2", tc->beta2);
    add_float(&w, "eps", tc->eps);
    add_float(&w, "weight_decay", tc->weight_decay);
    add_float(&w, "clip", tc->clip);
    safetensors_writer_add_metadata(&w, "all_positions", tc->all_positions ? "true" : "false");
    safetensors_writer_add_metadata(&w, "stream_split",
                                    t->stream.split == SPLIT_TRAIN ? "train" : "test");
    safetensors_writer_add_metadata(&w, "stream_order", order_name(t->stream.order));
    for (int i = 0; i < 4; i++) {
        char key[32];
        g_snprintf(key, sizeof key, "stream_rng%d", i);
        add_uint(&w, key, t->stream.rng.s[i]);
    }
    add_uint(&w, "stream_drawn", t->stream.drawn);
    for (size_t i = 0; extra_metadata && extra_metadata[i]; i += 2)
        safetensors_writer_add_metadata(&w, extra_metadata[i], extra_metadata[i + 1]);
    size_t shape[1] = {t->model->num_parameters};
    safetensors_writer_add_tensor(&w, "params", 1, shape, t->model->params_memory);
    safetensors_writer_add_tensor(&w, "adam_m", 1, shape, t->m_memory);
    safetensors_writer_add_tensor(&w, "adam_v", 1, shape, t->v_memory);
    bool ok = safetensors_writer_write(&w, path, error);
    safetensors_writer_clear(&w);
    return ok;
}

// Reading the metadata back: every value is checked, and the error names the
// file and the key.
typedef struct {
    const Safetensors *st;
    const char *path;
    GError **error;
    bool ok;
} StateReader;

static const char *state_text(StateReader *r, const char *key)
{
    if (!r->ok)
        return NULL;
    const char *text = safetensors_metadata(r->st, key);
    if (!text) {
        g_set_error(r->error, LL_ERROR, LL_ERROR_PARSE, "%s: training state has no '%s'",
                    r->path, key);
        r->ok = false;
    }
    return text;
}

static void state_fail(StateReader *r, GError *inner)
{
    g_set_error(r->error, LL_ERROR, LL_ERROR_PARSE, "%s: %s", r->path, inner->message);
    g_error_free(inner);
    r->ok = false;
}

static int64_t state_int(StateReader *r, const char *key, int64_t min, int64_t max)
{
    const char *text = state_text(r, key);
    int64_t value = 0;
    GError *inner = NULL;
    if (text && !parse_int64(text, key, min, max, &value, &inner))
        state_fail(r, inner);
    return value;
}

static uint64_t state_uint(StateReader *r, const char *key)
{
    const char *text = state_text(r, key);
    uint64_t value = 0;
    GError *inner = NULL;
    if (text && !parse_uint64(text, key, &value, &inner))
        state_fail(r, inner);
    return value;
}

static float state_float(StateReader *r, const char *key)
{
    const char *text = state_text(r, key);
    double value = 0.0;
    GError *inner = NULL;
    if (text && !parse_double(text, key, &value, &inner))
        state_fail(r, inner);
    return (float)value;
}

static bool state_choice(StateReader *r, const char *key, const char *yes, const char *no)
{
    const char *text = state_text(r, key);
    if (!text)
        return false;
    if (strcmp(text, yes) == 0)
        return true;
    if (strcmp(text, no) != 0) {
        g_set_error(r->error, LL_ERROR, LL_ERROR_PARSE, "%s: %s must be %s or %s, not '%s'",
                    r->path, key, yes, no, text);
        r->ok = false;
    }
    return false;
}

static const float *state_tensor(StateReader *r, const char *name, size_t count)
{
    if (!r->ok)
        return NULL;
    const SafetensorsTensor *tensor = safetensors_find(r->st, name);
    if (!tensor || tensor->rank != 1 || tensor->count != count) {
        g_set_error(r->error, LL_ERROR, LL_ERROR_PARSE,
                    "%s: training state needs a tensor '%s' of shape [%zu]%s", r->path, name,
                    count, tensor ? " (wrong shape)" : "");
        r->ok = false;
        return NULL;
    }
    return tensor->data;
}

bool train_state_load(const char *path, GPT *model, Trainer *t, GHashTable **metadata,
                      GError **error)
{
    memset(model, 0, sizeof *model);
    memset(t, 0, sizeof *t);
    Safetensors st;
    if (!safetensors_read(path, &st, error))
        return false;
    StateReader r = {.st = &st, .path = path, .error = error, .ok = true};
    const char *format = safetensors_metadata(&st, "format");
    if (!format || strcmp(format, TRAIN_STATE_FORMAT) != 0) {
        g_set_error(error, LL_ERROR, LL_ERROR_PARSE,
                    "%s: not a LoopLens training state (metadata 'format' is %s%s%s, expected %s)",
                    path, format ? "'" : "", format ? format : "missing", format ? "'" : "",
                    TRAIN_STATE_FORMAT);
        safetensors_free(&st);
        return false;
    }
    GPTConfig config = {
        .n_layer = (int)state_int(&r, "n_layer", 1, MAX_LAYERS),
        .n_head = (int)state_int(&r, "n_head", 1, MAX_HEADS),
        .d_model = (int)state_int(&r, "d_model", 1, 65536),
        .d_ff = (int)state_int(&r, "d_ff", 1, 1 << 20),
        .vocab_size = VOCAB_SIZE,
        .block_size = BLOCK_SIZE,
    };
    TrainConfig tc = {
        .batch = (int)state_int(&r, "batch", 1, 4096),
        .steps = (int)state_int(&r, "steps", 1, INT32_MAX),
        .lr = state_float(&r, "lr"),
        .warmup = (int)state_int(&r, "warmup", 0, INT32_MAX),
        .min_lr_ratio = state_float(&r, "min_lr_ratio"),
        .beta1 = state_float(&r, "beta1"),
        .beta2 = state_float(&r, "beta2"),
        .eps = state_float(&r, "eps"),
        .weight_decay = state_float(&r, "weight_decay"),
        .clip = state_float(&r, "clip"),
        .all_positions = state_choice(&r, "all_positions", "true", "false"),
    };
    int step = (int)state_int(&r, "step", 0, tc.steps);
    ProblemStream stream = {0};
    stream.split = state_choice(&r, "stream_split", "test", "train") ? SPLIT_TEST : SPLIT_TRAIN;
    const char *order_text = state_text(&r, "stream_order");
    if (order_text && !order_parse(order_text, &stream.order)) {
        g_set_error(error, LL_ERROR, LL_ERROR_PARSE, "%s: stream_order must be fixed or shuffled",
                    path);
        r.ok = false;
    }
    for (int i = 0; i < 4; i++) {
        char key[32];
        g_snprintf(key, sizeof key, "stream_rng%d", i);
        stream.rng.s[i] = state_uint(&r, key);
    }
    stream.drawn = state_uint(&r, "stream_drawn");
    char why[160];
    if (r.ok && !(stream.rng.s[0] | stream.rng.s[1] | stream.rng.s[2] | stream.rng.s[3])) {
        g_set_error(error, LL_ERROR, LL_ERROR_PARSE, "%s: the stream's generator state is all zero",
                    path);
        r.ok = false;
    }
    if (r.ok && !gpt_config_valid(&config, why, sizeof why)) {
        g_set_error(error, LL_ERROR, LL_ERROR_PARSE, "%s: model shape: %s", path, why);
        r.ok = false;
    }
    if (r.ok && !train_config_valid(&tc, why, sizeof why)) {
        g_set_error(error, LL_ERROR, LL_ERROR_PARSE, "%s: %s", path, why);
        r.ok = false;
    }
    size_t P = r.ok ? param_count(&config) : 0;
    const float *params = state_tensor(&r, "params", P);
    const float *m = state_tensor(&r, "adam_m", P);
    const float *v = state_tensor(&r, "adam_v", P);
    for (size_t i = 0; r.ok && i < P; i++) {
        if (v[i] < 0.0f) {
            g_set_error(error, LL_ERROR, LL_ERROR_PARSE, "%s: adam_v[%zu] is negative", path, i);
            r.ok = false;
        }
    }
    if (r.ok && st.n_tensors != 3) {
        g_set_error(error, LL_ERROR, LL_ERROR_PARSE,
                    "%s: training state has %zu tensors, expected params, adam_m, adam_v", path,
                    st.n_tensors);
        r.ok = false;
    }
    if (r.ok && gpt_create(model, &config, error)) {
        memcpy(model->params_memory, params, P * sizeof(float));
        if (trainer_init(t, model, &tc, &stream, error)) {
            memcpy(t->m_memory, m, P * sizeof(float));
            memcpy(t->v_memory, v, P * sizeof(float));
            t->step = step;
        } else {
            gpt_free(model);
            r.ok = false;
        }
    } else {
        r.ok = false;
    }
    if (r.ok && metadata) {
        *metadata = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        for (size_t i = 0; i < st.n_metadata; i++)
            g_hash_table_insert(*metadata, g_strdup(st.metadata_keys[i]),
                                g_strdup(st.metadata_values[i]));
    }
    safetensors_free(&st);
    return r.ok;
}
