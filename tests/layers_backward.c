// layers_backward.c: every layer's backward function against finite differences
// of its forward function (the gradients chapter 6 trains with).
//
// Method: a scalar loss = sum(out * R) with a fixed random R, so dloss/dout = R.
// The numeric gradient of each input entry is a central difference
// (loss(x + h) - loss(x - h)) / (2h), h = STEP, with the loss summed in double
// from the layer's float outputs. Its error: truncation O(h^2) ~ 1e-6 and float
// rounding of the outputs, ~1e-7 * |loss terms| / h ~ 1e-4 at most here (the
// linear layers, which have no truncation error, use h = LINEAR_STEP to keep the
// rounding part small for their larger sums). So each
// entry must satisfy |analytic - numeric| <= REL_TOL * max(|analytic|, |numeric|)
// + ABS_TOL: REL_TOL 1e-2 catches any missing term (they change gradients by
// tens of percent), ABS_TOL 2e-4 is the rounding floor for tiny gradients.
// Each check also asserts the gradient is not all tiny, so it tests something.
#include <math.h>
#include <omp.h>
#include <string.h>

#include "layers.h"
#include "model.h"
#include "testutil.h"

#define STEP 1e-3f
#define LINEAR_STEP 1e-2f
#define REL_TOL 1e-2
#define ABS_TOL 2e-4

typedef double (*LossFn)(void *ctx);

// grad (n) = central differences of loss over the n floats of x.
static void numeric_gradient_step(double *grad, float *x, size_t n, LossFn loss, void *ctx,
                                  float step)
{
    for (size_t i = 0; i < n; i++) {
        float saved = x[i];
        float plus = saved + step, minus = saved - step;
        x[i] = plus;
        double loss_plus = loss(ctx);
        x[i] = minus;
        double loss_minus = loss(ctx);
        x[i] = saved;
        grad[i] = (loss_plus - loss_minus) / ((double)plus - (double)minus);
    }
}

static void numeric_gradient(double *grad, float *x, size_t n, LossFn loss, void *ctx)
{
    numeric_gradient_step(grad, x, n, loss, ctx, STEP);
}

static void check_gradient(const char *what, const float *analytic, const double *numeric,
                           size_t n)
{
    double worst = 0.0, largest = 0.0;
    for (size_t i = 0; i < n; i++) {
        double a = analytic[i], m = numeric[i];
        double allowed = REL_TOL * fmax(fabs(a), fabs(m)) + ABS_TOL;
        if (!(fabs(a - m) <= allowed)) {
            g_test_fail_printf("%s[%zu]: backward gives %g, finite differences %g", what, i, a, m);
            return;
        }
        worst = fmax(worst, fabs(a - m) / fmax(fabs(m), 1e-3));
        largest = fmax(largest, fabs(m));
    }
    g_test_message("%s: %zu entries, largest |gradient| %.3g, worst relative error %.2g", what, n,
                   largest, worst);
    g_assert_cmpfloat(largest, >, 1e-2); // a check of all-zero gradients checks nothing
}

static double weighted_sum(const float *out, const float *r, size_t n)
{
    double loss = 0.0;
    for (size_t i = 0; i < n; i++)
        loss += (double)out[i] * r[i];
    return loss;
}

static float *random_floats(size_t n, uint64_t seed, float std)
{
    float *x = g_new(float, n);
    test_fill_normal(x, n, seed, std);
    return x;
}

// --- encoder ----------------------------------------------------------------

typedef struct {
    int B, T, C, V;
    const int *tokens;
    float *wte, *wpe, *out, *r;
} EncoderCase;

static double encoder_loss(void *ctx)
{
    EncoderCase *e = ctx;
    encoder_forward(e->out, e->tokens, e->wte, e->wpe, e->B, e->T, e->C);
    return weighted_sum(e->out, e->r, (size_t)e->B * e->T * e->C);
}

static void test_encoder(void)
{
    const int tokens[2 * 5] = {0, 3, 3, 5, 1, 5, 2, 0, 0, 4}; // repeats on purpose
    EncoderCase e = {2, 5, 4, 6, tokens, NULL, NULL, NULL, NULL};
    e.wte = random_floats(6 * 4, 1, 1.0f);
    e.wpe = random_floats(5 * 4, 2, 1.0f);
    e.out = g_new(float, 2 * 5 * 4);
    e.r = random_floats(2 * 5 * 4, 3, 1.0f);
    float *dwte = g_new0(float, 6 * 4), *dwpe = g_new0(float, 5 * 4);
    encoder_backward(dwte, dwpe, e.r, tokens, 2, 5, 4);
    double numeric[6 * 4];
    numeric_gradient_step(numeric, e.wte, 6 * 4, encoder_loss, &e, LINEAR_STEP);
    check_gradient("encoder dwte", dwte, numeric, 6 * 4);
    numeric_gradient_step(numeric, e.wpe, 5 * 4, encoder_loss, &e, LINEAR_STEP);
    check_gradient("encoder dwpe", dwpe, numeric, 5 * 4);
    g_free(e.wte), g_free(e.wpe), g_free(e.out), g_free(e.r), g_free(dwte), g_free(dwpe);
}

// --- layernorm --------------------------------------------------------------

typedef struct {
    int N, C;
    float *inp, *weight, *bias, *out, *mean, *rstd, *r;
} LayerNormCase;

static double layernorm_loss(void *ctx)
{
    LayerNormCase *l = ctx;
    layernorm_forward(l->out, l->mean, l->rstd, l->inp, l->weight, l->bias, l->N, l->C);
    return weighted_sum(l->out, l->r, (size_t)l->N * l->C);
}

static void test_layernorm(void)
{
    enum { N = 6, C = 8 };
    LayerNormCase l = {N, C, random_floats(N * C, 4, 1.5f), random_floats(C, 5, 0.3f),
                       random_floats(C, 6, 0.5f), g_new(float, N * C), g_new(float, N),
                       g_new(float, N), random_floats(N * C, 7, 1.0f)};
    for (int c = 0; c < C; c++)
        l.weight[c] += 1.0f;
    for (int i = 0; i < N * C; i++)
        l.inp[i] += 0.7f;
    layernorm_loss(&l);
    float dinp[N * C] = {0}, dweight[C] = {0}, dbias[C] = {0};
    layernorm_backward(dinp, dweight, dbias, l.r, l.inp, l.weight, l.mean, l.rstd, N, C);
    double numeric[N * C];
    numeric_gradient(numeric, l.inp, N * C, layernorm_loss, &l);
    check_gradient("layernorm dinp", dinp, numeric, N * C);
    numeric_gradient(numeric, l.weight, C, layernorm_loss, &l);
    check_gradient("layernorm dweight", dweight, numeric, C);
    numeric_gradient(numeric, l.bias, C, layernorm_loss, &l);
    check_gradient("layernorm dbias", dbias, numeric, C);

    // Backward functions add: a second call without zeroing gives exactly
    // double (x + x is exact in floating point).
    float dinp2[N * C], dweight2[C], dbias2[C];
    memcpy(dinp2, dinp, sizeof dinp);
    memcpy(dweight2, dweight, sizeof dweight);
    memcpy(dbias2, dbias, sizeof dbias);
    layernorm_loss(&l);
    layernorm_backward(dinp2, dweight2, dbias2, l.r, l.inp, l.weight, l.mean, l.rstd, N, C);
    for (int i = 0; i < N * C; i++)
        g_assert_cmpfloat(dinp2[i], ==, 2.0f * dinp[i]);
    for (int c = 0; c < C; c++) {
        g_assert_cmpfloat(dweight2[c], ==, 2.0f * dweight[c]);
        g_assert_cmpfloat(dbias2[c], ==, 2.0f * dbias[c]);
    }
    g_free(l.inp), g_free(l.weight), g_free(l.bias), g_free(l.out), g_free(l.mean);
    g_free(l.rstd), g_free(l.r);
}

// --- matmul -----------------------------------------------------------------

typedef struct {
    int N, C, OC;
    float *inp, *weight, *bias, *out, *r;
} MatmulCase;

static double matmul_loss(void *ctx)
{
    MatmulCase *m = ctx;
    matmul_forward(m->out, m->inp, m->weight, m->bias, m->N, m->C, m->OC);
    return weighted_sum(m->out, m->r, (size_t)m->N * m->OC);
}

static void check_matmul(int N, int C, int OC)
{
    MatmulCase m = {N, C, OC, random_floats((size_t)N * C, 8, 1.0f),
                    random_floats((size_t)OC * C, 9, 0.5f), random_floats(OC, 10, 1.0f),
                    g_new(float, (size_t)N * OC), random_floats((size_t)N * OC, 11, 1.0f)};
    float *dinp = g_new0(float, (size_t)N * C), *dweight = g_new0(float, (size_t)OC * C);
    float *dbias = g_new0(float, OC);
    matmul_backward(dinp, dweight, dbias, m.r, m.inp, m.weight, N, C, OC);
    double *numeric = g_new(double, (size_t)N * C + (size_t)OC * C);
    char *what = g_strdup_printf("matmul %dx%d -> %d", N, C, OC);
    char *name = g_strdup_printf("%s dinp", what);
    numeric_gradient_step(numeric, m.inp, (size_t)N * C, matmul_loss, &m, LINEAR_STEP);
    check_gradient(name, dinp, numeric, (size_t)N * C);
    g_free(name);
    name = g_strdup_printf("%s dweight", what);
    numeric_gradient_step(numeric, m.weight, (size_t)OC * C, matmul_loss, &m, LINEAR_STEP);
    check_gradient(name, dweight, numeric, (size_t)OC * C);
    g_free(name);
    name = g_strdup_printf("%s dbias", what);
    numeric_gradient_step(numeric, m.bias, OC, matmul_loss, &m, LINEAR_STEP);
    check_gradient(name, dbias, numeric, OC);
    g_free(name);
    g_free(what);
    g_free(numeric), g_free(dinp), g_free(dweight), g_free(dbias);
    g_free(m.inp), g_free(m.weight), g_free(m.bias), g_free(m.out), g_free(m.r);
}

static void test_matmul(void)
{
    check_matmul(5, 7, 6);
    check_matmul(130, 9, 70); // several row blocks of the output and of dweight
}

// --- gelu -------------------------------------------------------------------

typedef struct {
    int n;
    float *inp, *out, *r;
} GeluCase;

static double gelu_loss(void *ctx)
{
    GeluCase *g = ctx;
    gelu_forward(g->out, g->inp, g->n);
    return weighted_sum(g->out, g->r, g->n);
}

static void test_gelu(void)
{
    enum { n = 33 };
    GeluCase g = {n, g_new(float, n), g_new(float, n), random_floats(n, 12, 1.0f)};
    for (int i = 0; i < n; i++)
        g.inp[i] = -4.0f + 0.25f * i; // -4 .. 4
    float dinp[n] = {0};
    gelu_backward(dinp, g.inp, g.r, n);
    double numeric[n];
    numeric_gradient(numeric, g.inp, n, gelu_loss, &g);
    check_gradient("gelu dinp", dinp, numeric, n);
    g_free(g.inp), g_free(g.out), g_free(g.r);
}

// --- attention --------------------------------------------------------------

typedef struct {
    int B, T, C, NH;
    float *qkv, *out, *scores, *pattern, *r;
    const float *boost_row;
} AttentionCase;

static double attention_loss(void *ctx)
{
    AttentionCase *a = ctx;
    attention_forward_vectorized(a->out, a->scores, a->pattern, a->qkv, a->boost_row, a->B, a->T,
                                 a->C, a->NH);
    return weighted_sum(a->out, a->r, (size_t)a->B * a->T * a->C);
}

static void check_attention(int B, int T, int C, int NH, const float *boost_row,
                            const char *what)
{
    size_t n_qkv = (size_t)B * T * 3 * C, n_out = (size_t)B * T * C;
    AttentionCase a = {B, T, C, NH, random_floats(n_qkv, 13, 1.0f), g_new(float, n_out),
                       g_new(float, (size_t)B * NH * T * T), g_new(float, (size_t)B * NH * T * T),
                       random_floats(n_out, 14, 1.0f), boost_row};
    attention_loss(&a);
    float *dqkv = g_new0(float, n_qkv);
    attention_backward(dqkv, a.r, a.qkv, a.pattern, B, T, C, NH);
    double *numeric = g_new(double, n_qkv);
    numeric_gradient(numeric, a.qkv, n_qkv, attention_loss, &a);
    check_gradient(what, dqkv, numeric, n_qkv);
    // The gradient reaches the queries and keys (through the softmax), not
    // just the values: check each part is non-trivial.
    for (int part = 0; part < 3; part++) {
        double largest = 0;
        for (size_t i = 0; i < n_qkv; i++)
            if ((int)(i % (3 * C)) / C == part)
                largest = fmax(largest, fabs(dqkv[i]));
        g_assert_cmpfloat(largest, >, 1e-2);
    }
    g_free(numeric), g_free(dqkv);
    g_free(a.qkv), g_free(a.out), g_free(a.scores), g_free(a.pattern), g_free(a.r);
}

static void test_attention(void)
{
    check_attention(2, 5, 8, 2, NULL, "attention dqkv (2 problems, 5 positions, 2 heads)");
    // A whole block with a boost in row POS_ANS: the backward sees it only
    // through the pattern.
    float boost_row[BLOCK_SIZE] = {0};
    boost_row[4] = boost_row[POS_OP] = 2.0f;
    check_attention(1, BLOCK_SIZE, 4, 1, boost_row, "attention dqkv (20 positions, boosted)");
}

// --- softmax + cross-entropy ------------------------------------------------

typedef struct {
    int B, V;
    const int *targets;
    float *logits, *probs;
} CrossEntropyCase;

static double crossentropy_loss(void *ctx)
{
    CrossEntropyCase *x = ctx;
    for (int b = 0; b < x->B; b++)
        softmax_row(x->probs + (size_t)b * x->V, x->logits + (size_t)b * x->V, x->V);
    return crossentropy_forward(x->probs, x->targets, x->B, x->V);
}

static void test_crossentropy(void)
{
    enum { B = 3, V = 7 };
    const int targets[B] = {2, 6, 0};
    CrossEntropyCase x = {B, V, targets, random_floats(B * V, 15, 2.0f), g_new(float, B * V)};
    double loss = crossentropy_loss(&x);
    // The loss by hand for problem 0..2: -log p[target], averaged.
    double expected = 0;
    for (int b = 0; b < B; b++)
        expected -= log(x.probs[b * V + targets[b]]) / B;
    g_assert_cmpfloat_with_epsilon(loss, expected, 1e-6);
    float dlogits[B * V] = {0};
    crossentropy_softmax_backward(dlogits, x.probs, targets, 1.0f / B, B, V);
    double numeric[B * V];
    numeric_gradient(numeric, x.logits, B * V, crossentropy_loss, &x);
    check_gradient("softmax + cross-entropy dlogits", dlogits, numeric, B * V);
    g_free(x.logits), g_free(x.probs);
}

// Every backward with 1 and with 2 threads, on the default model's sizes for a
// batch of 64: the gradients must be the same bits (each sum stays in one
// thread, in a fixed order).
static void run_backwards(float *grads, const float *inp, const float *dout, const float *weight,
                          const float *pattern, const float *mean, const float *rstd, int N,
                          int C, int F)
{
    int B = N / BLOCK_SIZE, NH = 8;
    float *at = grads;
    matmul_backward(at, at + (size_t)N * F, at + (size_t)N * F + (size_t)C * F, dout, inp, weight,
                    N, F, C);
    at += (size_t)N * F + (size_t)C * F + C;
    layernorm_backward(at, at + (size_t)N * C, at + (size_t)N * C + C, dout, inp, weight, mean,
                       rstd, N, C);
    at += (size_t)N * C + 2 * C;
    attention_backward(at, dout, inp, pattern, B, BLOCK_SIZE, C, NH);
    at += (size_t)N * 3 * C;
    gelu_backward(at, inp, dout, N * F);
}

static void test_threads_bit_identical(void)
{
    enum { B = 64, N = B * BLOCK_SIZE, C = 128, F = 512, NH = 8 };
    size_t n_grads = (size_t)N * F + (size_t)C * F + C + (size_t)N * C + 2 * C +
                     (size_t)N * 3 * C + (size_t)N * F;
    float *inp = random_floats((size_t)N * F, 21, 1.0f);
    float *dout = random_floats((size_t)N * F, 22, 1.0f);
    float *weight = random_floats((size_t)C * F, 23, 0.1f);
    float *out = g_new(float, (size_t)N * C), *mean = g_new(float, N), *rstd = g_new(float, N);
    float *scores = g_new(float, (size_t)B * NH * BLOCK_SIZE * BLOCK_SIZE);
    float *pattern = g_new(float, (size_t)B * NH * BLOCK_SIZE * BLOCK_SIZE);
    layernorm_forward(out, mean, rstd, inp, weight, weight + C, N, C);
    attention_forward_vectorized(out, scores, pattern, inp, NULL, B, BLOCK_SIZE, C, NH);
    float *grads[2];
    int saved = omp_get_max_threads();
    for (int threads = 1; threads <= 2; threads++) {
        omp_set_num_threads(threads);
        grads[threads - 1] = g_new0(float, n_grads);
        run_backwards(grads[threads - 1], inp, dout, weight, pattern, mean, rstd, N, C, F);
    }
    omp_set_num_threads(saved);
    g_assert_cmpmem(grads[0], n_grads * sizeof(float), grads[1], n_grads * sizeof(float));
    g_free(grads[0]), g_free(grads[1]), g_free(inp), g_free(dout), g_free(weight), g_free(out);
    g_free(mean), g_free(rstd), g_free(scores), g_free(pattern);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ch06/backward/encoder", test_encoder);
    g_test_add_func("/ch06/backward/layernorm", test_layernorm);
    g_test_add_func("/ch06/backward/matmul", test_matmul);
    g_test_add_func("/ch06/backward/gelu", test_gelu);
    g_test_add_func("/ch06/backward/attention", test_attention);
    g_test_add_func("/ch06/backward/crossentropy", test_crossentropy);
    g_test_add_func("/ch06/backward/threads-bit-identical", test_threads_bit_identical);
    return g_test_run();
}
