// ch05_gpt.c: chapter 5's tests: the configuration, the parameter layout, the
// initialisation, LayerNorm, the linear layer, GELU, and the forward pass of
// the whole model (answer distribution, captures, determinism across thread
// counts). Chapter 5's exercise is layernorm_forward: with its stub the
// LayerNorm tests fail with messages that say what is missing.
#include <math.h>
#include <omp.h>
#include <string.h>

#include "layers.h"
#include "model.h"
#include "testutil.h"
#include "util.h"

static void test_presets(void)
{
    GPTConfig c;
    g_assert_true(gpt_config_preset("default", &c));
    g_assert_cmpint(c.n_layer, ==, 6);
    g_assert_cmpint(c.n_head, ==, 8);
    g_assert_cmpint(c.d_model, ==, 128);
    g_assert_cmpint(c.d_ff, ==, 512);
    g_assert_cmpint(c.vocab_size, ==, VOCAB_SIZE);
    g_assert_cmpint(c.block_size, ==, 20);
    g_assert_true(gpt_config_preset("seed", &c));
    g_assert_cmpint(c.d_model, ==, 512);
    g_assert_cmpint(c.d_ff, ==, 2048);
    g_assert_true(gpt_config_preset("tiny", &c));
    g_assert_cmpint(c.n_layer * 1000 + c.n_head * 100 + c.d_model, ==, 2216);
    g_assert_cmpint(c.d_ff, ==, 32);
    g_assert_false(gpt_config_preset("huge", &c));
    g_assert_false(gpt_config_preset(NULL, &c));
}

static void expect_invalid(GPTConfig c, const char *field)
{
    char why[128] = "";
    g_assert_false(gpt_config_valid(&c, why, sizeof why));
    if (!strstr(why, field))
        g_test_fail_printf("the reason \"%s\" does not name %s", why, field);
    GPT model;
    GError *error = NULL;
    g_assert_false(gpt_create(&model, &c, &error));
    g_assert_error(error, LL_ERROR, LL_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, field));
    g_error_free(error);
}

static void test_config_valid(void)
{
    GPTConfig good;
    g_assert_true(gpt_config_preset("default", &good));
    char why[128];
    g_assert_true(gpt_config_valid(&good, why, sizeof why));
    GPTConfig c = good;
    c.n_head = 0;
    expect_invalid(c, "n_head");
    c = good;
    c.n_layer = MAX_LAYERS + 1;
    expect_invalid(c, "n_layer");
    c = good;
    c.d_model = 130; // not divisible by 8 heads
    expect_invalid(c, "divisible");
    c = good;
    c.d_ff = -4;
    expect_invalid(c, "d_ff");
    c = good;
    c.block_size = 19;
    expect_invalid(c, "block_size");
    c = good;
    c.vocab_size = 100;
    expect_invalid(c, "vocab_size");
}

// The default model's size, counted by hand from SPEC section 2:
// wte 104*128 + wpe 20*128 + ln_f 2*128, and per layer ln_1, ln_2 4*128,
// c_attn 384*128 + 384, attn.c_proj 128*128 + 128, c_fc 512*128 + 512,
// mlp.c_proj 128*512 + 128 = 198,272; six layers.
static void test_param_layout(void)
{
    GPTConfig c;
    g_assert_true(gpt_config_preset("default", &c));
    g_assert_cmpuint(param_count(&c), ==, 13312 + 2560 + 256 + 6 * 198272);
    g_assert_cmpuint(param_count(&c), ==, 1205760);

    ParamInfo info;
    param_info(&c, 4, &info);
    char *name = g_strdup_printf(info.name_format, 3);
    g_assert_cmpstr(name, ==, "transformer.h.3.attn.c_attn.weight");
    g_free(name);
    g_assert_true(info.per_layer && info.decay);
    g_assert_cmpint(info.rank, ==, 2);
    g_assert_cmpuint(info.dims[0], ==, 384);
    g_assert_cmpuint(info.dims[1], ==, 128);
    param_info(&c, 12, &info);
    g_assert_cmpstr(info.name_format, ==, "transformer.h.%d.mlp.c_proj.weight");
    g_assert_cmpuint(info.dims[0], ==, 128);
    g_assert_cmpuint(info.dims[1], ==, 512);
    param_info(&c, 11, &info);
    g_assert_cmpstr(info.name_format, ==, "transformer.h.%d.mlp.c_fc.bias");
    g_assert_true(info.rank == 1 && info.dims[0] == 512 && !info.decay);
    param_info(&c, 0, &info);
    g_assert_cmpstr(info.name_format, ==, "transformer.wte.weight");
    g_assert_true(!info.per_layer && info.rank == 2 && info.dims[0] == 104);
    param_info(&c, 15, &info);
    g_assert_cmpstr(info.name_format, ==, "transformer.ln_f.bias");
    g_assert_true(!info.per_layer && info.rank == 1 && !info.decay);

    // The carve: tensors back to back in ParameterTensors order.
    float *memory = g_new0(float, param_count(&c));
    ParameterTensors p;
    param_carve(&p, &c, memory);
    g_assert_true(p.wte == memory);
    g_assert_true(p.wpe == memory + 104 * 128);
    g_assert_true(p.c_attn_weight == p.ln_1_bias + 6 * 128);
    g_assert_true(p.ln_f_bias + 128 == memory + param_count(&c));
    g_free(memory);
}

static void test_init_random(void)
{
    GPTConfig c;
    g_assert_true(gpt_config_preset("default", &c));
    GPT a, b, d;
    GError *error = NULL;
    g_assert_true(gpt_create(&a, &c, &error));
    g_assert_true(gpt_create(&b, &c, &error));
    g_assert_true(gpt_create(&d, &c, &error));
    gpt_init_random(&a, 42);
    gpt_init_random(&b, 42);
    gpt_init_random(&d, 43);
    size_t bytes = a.num_parameters * sizeof(float);
    g_assert_cmpmem(a.params_memory, bytes, b.params_memory, bytes);
    g_assert_true(memcmp(a.params_memory, d.params_memory, bytes) != 0);

    // c_attn weights: 294,912 draws of N(0, 0.02^2). The sample std has a
    // relative standard error of 1/sqrt(2n) = 0.13%: 1% is 7 of those.
    size_t n = (size_t)c.n_layer * 3 * c.d_model * c.d_model;
    double sum = 0, squares = 0;
    for (size_t i = 0; i < n; i++) {
        sum += a.params.c_attn_weight[i];
        squares += (double)a.params.c_attn_weight[i] * a.params.c_attn_weight[i];
    }
    double mean = sum / n, std = sqrt(squares / n - mean * mean);
    g_test_message("c_attn weights: mean %g, std %g", mean, std);
    g_assert_cmpfloat(fabs(std - 0.02), <, 0.0002);
    g_assert_cmpfloat(fabs(mean), <, 0.0002); // 7 standard errors of the mean
    for (int i = 0; i < c.n_layer * c.d_model; i++) {
        g_assert_cmpfloat(a.params.ln_1_weight[i], ==, 1.0f);
        g_assert_cmpfloat(a.params.ln_2_bias[i], ==, 0.0f);
        g_assert_cmpfloat(a.params.attn_proj_bias[i], ==, 0.0f);
    }
    for (int i = 0; i < c.n_layer * c.d_ff; i++)
        g_assert_cmpfloat(a.params.c_fc_bias[i], ==, 0.0f);
    g_assert_cmpfloat(a.params.ln_f_weight[5], ==, 1.0f);
    // gpt_init_random is gpt_init_random_std with 0.02.
    gpt_init_random_std(&d, 42, 0.02f);
    g_assert_cmpmem(a.params_memory, bytes, d.params_memory, bytes);
    gpt_free(&a);
    gpt_free(&b);
    gpt_free(&d);
}

// LayerNorm of a row far from zero. In float, the one-pass variance
// E[x^2] - E[x]^2 is 4,000,000.x - 4,000,000.x: rounding noise, often
// negative. Two passes give the right answer; expected values computed by
// hand: deviations +-0.1 and +-0.3, variance 0.05, so +-0.1/sqrt(0.05 + 1e-5)
// = +-0.44717 and +-1.34151. Tolerance 1e-3: the inputs themselves are only
// float approximations of 2000.1 etc. (error ~6e-5, i.e. 3e-4 after scaling).
static void test_layernorm_far_from_zero(void)
{
    float x[4] = {2000.1f, 1999.9f, 2000.3f, 1999.7f};
    float w[4] = {1, 1, 1, 1}, b[4] = {0, 0, 0, 0};
    float out[4], mean, rstd;
    layernorm_forward(out, &mean, &rstd, x, w, b, 1, 4);
    const float expected[4] = {0.44717f, -0.44717f, 1.34151f, -1.34151f};
    for (int i = 0; i < 4; i++) {
        if (!(fabsf(out[i] - expected[i]) < 1e-3f)) {
            g_test_fail_printf("LayerNorm of [2000.1, 1999.9, 2000.3, 1999.7] gave [%g, %g, %g, "
                               "%g], expected ~[0.447, -0.447, 1.342, -1.342]: subtract the "
                               "row's mean, then divide by sqrt(mean of squared deviations + "
                               "1e-5) (computed in two passes)", out[0], out[1], out[2], out[3]);
            return;
        }
    }
    if (!(fabsf(mean - 2000.0f) < 1e-3f && fabs(rstd - 1.0 / sqrt(0.05 + 1e-5)) < 1e-2)) {
        g_test_fail_printf("LayerNorm stored mean %g and rstd %g, expected 2000 and "
                           "1/sqrt(0.05 + 1e-5) = 4.4717: the backward pass needs both", mean,
                           rstd);
        return;
    }

    // weight and bias: y = norm * w + b per channel.
    float w2[4] = {2, 1, -1, 0}, b2[4] = {1, 0, 0, 5};
    layernorm_forward(out, &mean, &rstd, x, w2, b2, 1, 4);
    const float expected2[4] = {2 * 0.44717f + 1, -0.44717f, -1.34151f, 5};
    for (int i = 0; i < 4; i++) {
        if (!(fabsf(out[i] - expected2[i]) < 2e-3f)) {
            g_test_fail_printf("LayerNorm with weight [2, 1, -1, 0] and bias [1, 0, 0, 5]: "
                               "channel %d is %g, expected %g: scale by weight[c], then add "
                               "bias[c]", i, out[i], expected2[i]);
            return;
        }
    }
}

// Many rows at once, against a double-precision computation; each row of N(3, 2)
// numbers must come out with mean 0 and variance ~1 (1e-4: float sums of 64
// numbers of size ~1).
static void test_layernorm_rows(void)
{
    enum { N = 300, C = 64 };
    float *x = g_new(float, N * C), *out = g_new(float, N * C), mean[N], rstd[N];
    float w[C], b[C];
    test_fill_normal(x, N * C, 17, 2.0f);
    for (int i = 0; i < N * C; i++)
        x[i] += 3.0f;
    for (int c = 0; c < C; c++)
        w[c] = 1.0f, b[c] = 0.0f;
    layernorm_forward(out, mean, rstd, x, w, b, N, C);
    for (int n = 0; n < N; n++) {
        double m = 0, v = 0;
        for (int c = 0; c < C; c++)
            m += out[n * C + c];
        m /= C;
        for (int c = 0; c < C; c++)
            v += (out[n * C + c] - m) * (out[n * C + c] - m);
        v /= C;
        if (!(fabs(m) < 1e-4 && fabs(v - 1.0) < 1e-3)) {
            g_test_fail_printf("row %d after LayerNorm has mean %g and variance %g, not 0 and 1",
                               n, m, v);
            goto out;
        }
        double xm = 0;
        for (int c = 0; c < C; c++)
            xm += x[n * C + c];
        g_assert_cmpfloat_with_epsilon(mean[n], xm / C, 1e-4);
    }
out:
    g_free(x);
    g_free(out);
}

// matmul_forward (OpenBLAS) against the plain triple loop. Tolerance: 1e-5
// times the sum of |terms| of each dot product (float rounding of a sum of C
// products, accumulated in a different order; the bound is ~C * 6e-8).
static void check_matmul(int N, int C, int OC, bool with_bias)
{
    float *inp = g_new(float, (size_t)N * C), *w = g_new(float, (size_t)OC * C);
    float *bias = g_new(float, OC);
    float *fast = g_new(float, (size_t)N * OC), *slow = g_new(float, (size_t)N * OC);
    test_fill_normal(inp, (size_t)N * C, 1, 1.0f);
    test_fill_normal(w, (size_t)OC * C, 2, 0.5f);
    test_fill_normal(bias, OC, 3, 1.0f);
    matmul_forward(fast, inp, w, with_bias ? bias : NULL, N, C, OC);
    matmul_forward_reference(slow, inp, w, with_bias ? bias : NULL, N, C, OC);
    for (int n = 0; n < N; n++) {
        for (int o = 0; o < OC; o++) {
            double magnitude = with_bias ? fabs(bias[o]) : 0.0;
            for (int c = 0; c < C; c++)
                magnitude += fabs(inp[(size_t)n * C + c] * w[(size_t)o * C + c]);
            double diff = fabs(fast[(size_t)n * OC + o] - slow[(size_t)n * OC + o]);
            if (!(diff <= 1e-5 * magnitude)) {
                g_test_fail_printf("matmul %dx%d @ (%dx%d)^T, out[%d][%d]: %g vs reference %g",
                                   N, C, OC, C, n, o, fast[(size_t)n * OC + o],
                                   slow[(size_t)n * OC + o]);
                goto out;
            }
        }
    }
out:
    g_free(inp);
    g_free(w);
    g_free(bias);
    g_free(fast);
    g_free(slow);
}

static void test_matmul_vs_reference(void)
{
    check_matmul(1, 5, 3, true);
    check_matmul(100, 37, 53, true);   // rows not a multiple of the block
    check_matmul(130, 16, 8, false);
    check_matmul(1280, 128, 384, true); // c_attn of the default model, batch 64
}

// Expected values computed independently with Python 3's math module:
//   g = 0.5*x*(1 + math.erf(x/math.sqrt(2)))
//   d = 0.5*(1 + math.erf(x/math.sqrt(2))) + x*math.exp(-x*x/2)/math.sqrt(2*math.pi)
// Tolerance 1e-6: a float holds ~7 digits of these numbers of size <= 3.
static void test_gelu_values(void)
{
    const float x[5] = {-3, -1, 0, 1, 3};
    const double g[5] = {-0.00404969409489031, -0.15865525393145707, 0.0, 0.8413447460685429,
                         2.99595030590511};
    const double d[5] = {-0.011945647204183918, -0.08331547058768629, 0.5, 1.0833154705876864,
                         1.011945647204184};
    for (int i = 0; i < 5; i++) {
        g_assert_cmpfloat_with_epsilon(gelu(x[i]), g[i], 1e-6);
        g_assert_cmpfloat_with_epsilon(gelu_derivative(x[i]), d[i], 1e-6);
    }
    float out[5];
    gelu_forward(out, x, 5);
    for (int i = 0; i < 5; i++)
        g_assert_cmpfloat(out[i], ==, gelu(x[i]));
}

// GELU is computed from its own exp and a fitted polynomial (see gelu.c), so
// check it on a fine grid against double precision: absolute error <= 3e-7 and
// relative error <= 1e-5 where |x| <= 9. The vectorized loops must give the
// same bits as the scalar function (the same operations, whatever the lane).
static void test_gelu_accuracy(void)
{
    enum { n = 180001 };
    float *x = g_new(float, n), *out = g_new(float, n), *dinp = g_new0(float, n);
    float *ones = g_new(float, n);
    for (int i = 0; i < n; i++) {
        x[i] = -9.0f + 1e-4f * i;
        ones[i] = 1.0f;
    }
    gelu_forward(out, x, n);
    gelu_backward(dinp, x, ones, n);
    double worst_abs = 0, worst_rel = 0, worst_derivative = 0;
    for (int i = 0; i < n; i++) {
        double X = x[i], Phi = 0.5 * erfc(-X / sqrt(2.0));
        double exact = X * Phi, derivative = Phi + X * exp(-X * X / 2) / sqrt(2 * G_PI);
        worst_abs = fmax(worst_abs, fabs(out[i] - exact));
        if (exact != 0)
            worst_rel = fmax(worst_rel, fabs(out[i] - exact) / fabs(exact));
        worst_derivative = fmax(worst_derivative, fabs(dinp[i] - derivative));
        if (out[i] != gelu(x[i]) || dinp[i] != gelu_derivative(x[i])) {
            g_test_fail_printf("x = %g: the loops give %g, %g but the scalar functions %g, %g",
                               x[i], out[i], dinp[i], gelu(x[i]), gelu_derivative(x[i]));
            break;
        }
    }
    g_test_message("gelu on [-9, 9]: max abs error %.2g, max rel error %.2g; derivative: max abs "
                   "error %.2g", worst_abs, worst_rel, worst_derivative);
    g_assert_cmpfloat(worst_abs, <=, 3e-7);
    g_assert_cmpfloat(worst_rel, <=, 1e-5);
    g_assert_cmpfloat(worst_derivative, <=, 1e-6);
    g_assert_cmpfloat(gelu(-20.0f), <=, 0.0f);
    g_assert_cmpfloat(gelu(-20.0f), >, -1e-30f);
    g_assert_cmpfloat(gelu(20.0f), ==, 20.0f);
    g_free(x), g_free(out), g_free(dinp), g_free(ones);
}

// A model with peaked attention (std 0.1) over B real problems.
static void make_model(GPT *model, const char *preset, float std)
{
    GPTConfig c;
    g_assert_true(gpt_config_preset(preset, &c));
    GError *error = NULL;
    g_assert_true(gpt_create(model, &c, &error));
    g_assert_no_error(error);
    gpt_init_random_std(model, 7, std);
}

// probs is the softmax of logits at POS_ANS, and logits = ln_f[POS_ANS] @ wte^T
// (tied output): checked against a double-precision recomputation from the
// model's own ln_f activations (1e-5: sums of 128 products of size ~0.1).
static void test_forward_outputs(void)
{
    GPT model;
    make_model(&model, "default", 0.1f);
    enum { B = 8, T = PROBLEM_LEN };
    int tokens[B * T];
    test_problem_tokens(tokens, B, ORDER_FIXED, 21);
    GError *error = NULL;
    g_assert_true(gpt_forward(&model, tokens, B, NULL, &error));
    g_assert_no_error(error);
    g_assert_cmpint(model.batch, ==, B);
    int C = model.config.d_model, V = model.config.vocab_size;
    for (int b = 0; b < B; b++) {
        const float *probs = gpt_probs(&model, b);
        g_assert_true(probs == model.acts.probs + b * V);
        double sum = 0, max_logit = -INFINITY;
        const float *ln_f = model.acts.ln_f + ((size_t)b * T + POS_ANS) * C;
        double logits[VOCAB_SIZE];
        for (int v = 0; v < V; v++) {
            double dot = 0;
            for (int c = 0; c < C; c++)
                dot += (double)ln_f[c] * model.params.wte[v * C + c];
            logits[v] = dot;
            g_assert_cmpfloat_with_epsilon(model.acts.logits[b * V + v], dot, 1e-5);
            max_logit = fmax(max_logit, dot);
            sum += probs[v];
        }
        g_assert_cmpfloat_with_epsilon(sum, 1.0, 1e-5);
        double z = 0;
        for (int v = 0; v < V; v++)
            z += exp(logits[v] - max_logit);
        for (int v = 0; v < V; v++)
            g_assert_cmpfloat_with_epsilon(probs[v], exp(logits[v] - max_logit) / z, 1e-6);
    }
    // The hooks: layer 5, problem 3, head 7 sit where model.h says.
    size_t at = (((size_t)5 * B + 3) * 8 + 7) * T * T;
    g_assert_true(gpt_pattern(&model, 5, 3, 7) == model.acts.attn_pattern + at);
    g_assert_true(gpt_scores(&model, 5, 3, 7) == model.acts.attn_scores + at);
    g_assert_true(isinf(gpt_scores(&model, 5, 3, 7)[1]));
    g_assert_cmpfloat(gpt_pattern(&model, 5, 3, 7)[1], ==, 0.0f);
    gpt_free(&model);
}

// The residual stream: encoded, then each layer adds its attention and MLP
// outputs (bit-exact: the same float additions).
static void test_forward_residual_stream(void)
{
    GPT model;
    make_model(&model, "tiny", 0.1f);
    enum { B = 2, T = PROBLEM_LEN };
    int tokens[B * T];
    test_problem_tokens(tokens, B, ORDER_SHUFFLED, 2);
    GError *error = NULL;
    g_assert_true(gpt_forward(&model, tokens, B, NULL, &error));
    ActivationTensors *a = &model.acts;
    int C = model.config.d_model;
    size_t BTC = (size_t)B * T * C;
    for (size_t i = 0; i < BTC; i++) {
        size_t bt = i / C, c = i % C;
        g_assert_cmpfloat(a->encoded[i], ==,
                          model.params.wte[tokens[bt] * C + c] + model.params.wpe[(bt % T) * C + c]);
        g_assert_cmpfloat(a->resid_mid[i], ==, a->encoded[i] + a->attn_proj[i]);
        g_assert_cmpfloat(a->resid_post[i], ==, a->resid_mid[i] + a->mlp_proj[i]);
        g_assert_cmpfloat(a->resid_mid[BTC + i], ==, a->resid_post[i] + a->attn_proj[BTC + i]);
    }
    gpt_free(&model);
}

// Same seed, same tokens: bit-identical activations with 1 and 2 threads, for
// a batch large enough to split every matmul into many row blocks.
static void test_forward_threads_bit_identical(void)
{
    GPT model;
    make_model(&model, "default", 0.05f);
    enum { B = 64, T = PROBLEM_LEN };
    int *tokens = g_new(int, B * T);
    test_problem_tokens(tokens, B, ORDER_FIXED, 5);
    Boost boost;
    boost_init_default(&boost, 2.0f);
    int saved = omp_get_max_threads();
    GError *error = NULL;
    omp_set_num_threads(1);
    g_assert_true(gpt_forward(&model, tokens, B, &boost, &error));
    size_t bytes = activation_count(&model.config, B) * sizeof(float);
    float *one = g_memdup2(model.acts_memory, bytes);
    omp_set_num_threads(2);
    g_assert_true(gpt_forward(&model, tokens, B, &boost, &error));
    omp_set_num_threads(saved);
    g_assert_cmpmem(one, bytes, model.acts_memory, bytes);
    g_free(one);
    g_free(tokens);
    gpt_free(&model);
}

// The activations grow on demand, and a problem's answer distribution does not
// depend on the batch it is in (1e-6: only the grouping of rows into sgemm
// calls differs).
static void test_forward_batch_sizes(void)
{
    GPT model;
    make_model(&model, "default", 0.1f);
    enum { B = 70, T = PROBLEM_LEN, V = VOCAB_SIZE };
    int *tokens = g_new(int, B * T);
    test_problem_tokens(tokens, B, ORDER_FIXED, 33);
    GError *error = NULL;
    g_assert_true(gpt_forward(&model, tokens + 69 * T, 1, NULL, &error));
    g_assert_cmpint(model.max_batch, ==, 1);
    float alone[V];
    memcpy(alone, gpt_probs(&model, 0), sizeof alone);
    g_assert_true(gpt_forward(&model, tokens, B, NULL, &error));
    g_assert_cmpint(model.max_batch, ==, B);
    float diff = test_max_abs_diff(alone, gpt_probs(&model, 69), V);
    g_test_message("problem 69 alone vs in a batch of 70: max |diff| of probs %g", diff);
    g_assert_cmpfloat(diff, <=, 1e-6f);
    // A smaller batch reuses the memory.
    float *memory = model.acts_memory;
    g_assert_true(gpt_forward(&model, tokens + 69 * T, 1, NULL, &error));
    g_assert_true(model.acts_memory == memory);
    g_assert_cmpint(model.batch, ==, 1);
    g_assert_cmpfloat(test_max_abs_diff(alone, gpt_probs(&model, 0), V), ==, 0.0f);
    g_free(tokens);
    gpt_free(&model);
}

static void test_forward_rejects_bad_input(void)
{
    GPT model;
    make_model(&model, "tiny", 0.02f);
    int tokens[2 * PROBLEM_LEN];
    test_problem_tokens(tokens, 2, ORDER_FIXED, 1);
    tokens[PROBLEM_LEN + 5] = VOCAB_SIZE;
    GError *error = NULL;
    g_assert_false(gpt_forward(&model, tokens, 2, NULL, &error));
    g_assert_error(error, LL_ERROR, LL_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, "problem 1, position 5"));
    g_clear_error(&error);
    tokens[PROBLEM_LEN + 5] = -1;
    g_assert_false(gpt_forward(&model, tokens, 2, NULL, &error));
    g_clear_error(&error);
    g_assert_false(gpt_forward(&model, tokens, 0, NULL, &error));
    g_assert_nonnull(strstr(error->message, "batch"));
    g_clear_error(&error);
    g_assert_true(gpt_forward(&model, tokens, 1, NULL, &error));
    gpt_free(&model);
}

// A random model with a large std has peaked patterns; every layer and head of
// every problem is still a proper causal pattern.
static void test_model_patterns_are_causal(void)
{
    GPTConfig config;
    g_assert_true(gpt_config_preset("tiny", &config));
    GPT model;
    GError *error = NULL;
    g_assert_true(gpt_create(&model, &config, &error));
    gpt_init_random_std(&model, 3, 0.3f);
    enum { B = 4 };
    int tokens[B * PROBLEM_LEN];
    test_problem_tokens(tokens, B, ORDER_FIXED, 9);
    g_assert_true(gpt_forward(&model, tokens, B, NULL, &error));
    g_assert_no_error(error);
    bool peaked = false;
    for (int l = 0; l < config.n_layer; l++)
        for (int b = 0; b < B; b++)
            for (int h = 0; h < config.n_head; h++) {
                const float *p = gpt_pattern(&model, l, b, h);
                if (!test_check_pattern(p, PROBLEM_LEN, h, "tiny model"))
                    goto out;
                for (int i = 0; i < PROBLEM_LEN * PROBLEM_LEN; i++)
                    peaked |= p[i] > 0.5f && i / PROBLEM_LEN > 3;
            }
    g_assert_true(peaked);
out:
    gpt_free(&model);
}

// Chapter 4's promise, through a whole default-size model (std raised to 0.15
// so that the patterns are peaked, not uniform) on 16 real problems: the
// for-loop attention and the vectorized one give the same scores (the same
// -inf cells), patterns, attention outputs and logits, every layer and head,
// to 1e-6. The two do the same float operations in the same order, so in
// practice they agree exactly; 1e-6 leaves room for the last bit of expf.
static void test_forward_loops_equal_vectorized(void)
{
    GPTConfig config;
    g_assert_true(gpt_config_preset("default", &config));
    GPT model;
    GError *error = NULL;
    g_assert_true(gpt_create(&model, &config, &error));
    gpt_init_random_std(&model, 2024, 0.15f);
    enum { B = 16, T = PROBLEM_LEN };
    int tokens[B * T];
    test_problem_tokens(tokens, B, ORDER_FIXED, 4);

    model.attention = ATTENTION_LOOPS;
    g_assert_true(gpt_forward(&model, tokens, B, NULL, &error));
    size_t n_acts = activation_count(&config, B);
    float *loops_memory = g_memdup2(model.acts_memory, n_acts * sizeof(float));
    ActivationTensors loops;
    activation_carve(&loops, &config, B, loops_memory);
    model.attention = ATTENTION_VECTORIZED;
    g_assert_true(gpt_forward(&model, tokens, B, NULL, &error));
    const ActivationTensors *vec = &model.acts;

    size_t n_att = (size_t)config.n_layer * B * config.n_head * T * T;
    size_t n_out = (size_t)config.n_layer * B * T * config.d_model;
    for (size_t i = 0; i < n_att; i++)
        if (isinf(loops.attn_scores[i]) != isinf(vec->attn_scores[i]))
            g_error("score %zu is %g with loops but %g vectorized: the masks differ", i,
                    loops.attn_scores[i], vec->attn_scores[i]);
    // Masked scores are -inf in both, so their difference is NaN: compare the
    // scores through the patterns and outputs they lead to, and the finite ones.
    float d_scores = 0.0f;
    for (size_t i = 0; i < n_att; i++)
        if (isfinite(vec->attn_scores[i]))
            d_scores = fmaxf(d_scores, fabsf(loops.attn_scores[i] - vec->attn_scores[i]));
    float d_pattern = test_max_abs_diff(loops.attn_pattern, vec->attn_pattern, n_att);
    float d_out = test_max_abs_diff(loops.attn_out, vec->attn_out, n_out);
    float d_logits = test_max_abs_diff(loops.logits, vec->logits, (size_t)B * config.vocab_size);
    g_test_message("max |loops - vectorized|: scores %g, patterns %g, outputs %g, logits %g",
                   d_scores, d_pattern, d_out, d_logits);
    g_assert_cmpfloat(d_scores, <=, 1e-6f);
    g_assert_cmpfloat(d_pattern, <=, 1e-6f);
    g_assert_cmpfloat(d_out, <=, 1e-6f);
    g_assert_cmpfloat(d_logits, <=, 1e-6f);
    // The comparison means something only if the patterns are not near uniform.
    float peak = 0.0f;
    for (size_t i = 0; i < n_att; i++)
        if ((i / T) % T >= 4)
            peak = fmaxf(peak, vec->attn_pattern[i]);
    g_assert_cmpfloat(peak, >, 0.9f);
    g_free(loops_memory);
    gpt_free(&model);
}

// gpt_forward_shared (used by `looplens experiment`) computes each shared
// prefix of a batch once; it must give exactly gpt_forward's bits: the
// probabilities and logits of every problem and both hooks of the problems
// whose hooks it keeps. Batches of 64 (many shared prefixes), 7 and 1, with
// both definition orders, on a default-size model with peaked attention.
static void test_forward_shared_same_bits(void)
{
    GPTConfig config;
    g_assert_true(gpt_config_preset("default", &config));
    GPT model, shared;
    g_assert_true(gpt_create(&model, &config, NULL));
    g_assert_true(gpt_create(&shared, &config, NULL));
    gpt_init_random_std(&model, 77, 0.15f);
    gpt_init_random_std(&shared, 77, 0.15f);
    enum { T = PROBLEM_LEN, MAX_B = 64 };
    const int sizes[] = {64, 7, 1};
    for (int order = 0; order < 2; order++) {
        for (size_t k = 0; k < G_N_ELEMENTS(sizes); k++) {
            int B = sizes[k];
            int tokens[MAX_B * T];
            bool keep[MAX_B];
            test_problem_tokens(tokens, B, order == 0 ? ORDER_FIXED : ORDER_SHUFFLED, 50 + k);
            for (int b = 0; b < B; b++)
                keep[b] = b % 3 == 0;
            g_assert_true(gpt_forward(&model, tokens, B, NULL, NULL));
            g_assert_true(gpt_forward_shared(&shared, tokens, B, keep, NULL));
            size_t n_probs = (size_t)B * config.vocab_size;
            g_assert_cmpmem(shared.acts.probs, n_probs * sizeof(float), model.acts.probs,
                            n_probs * sizeof(float));
            g_assert_cmpmem(shared.acts.logits, n_probs * sizeof(float), model.acts.logits,
                            n_probs * sizeof(float));
            for (int l = 0; l < config.n_layer; l++)
                for (int b = 0; b < B; b++)
                    for (int h = 0; h < config.n_head && keep[b]; h++) {
                        g_assert_cmpmem(gpt_pattern(&shared, l, b, h), T * T * sizeof(float),
                                        gpt_pattern(&model, l, b, h), T * T * sizeof(float));
                        g_assert_cmpmem(gpt_scores(&shared, l, b, h), T * T * sizeof(float),
                                        gpt_scores(&model, l, b, h), T * T * sizeof(float));
                    }
        }
    }
    gpt_free(&model);
    gpt_free(&shared);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_add_earlier_exercises("/ch05", "2-4");
    g_test_add_func("/ch05/config/presets", test_presets);
    g_test_add_func("/ch05/config/valid", test_config_valid);
    g_test_add_func("/ch05/params/layout", test_param_layout);
    g_test_add_func("/ch05/params/init-random", test_init_random);
    g_test_add_func("/ch05/layernorm/far-from-zero", test_layernorm_far_from_zero);
    g_test_add_func("/ch05/layernorm/rows", test_layernorm_rows);
    g_test_add_func("/ch05/matmul/vs-reference", test_matmul_vs_reference);
    g_test_add_func("/ch05/gelu/values", test_gelu_values);
    g_test_add_func("/ch05/gelu/accuracy", test_gelu_accuracy);
    g_test_add_func("/ch05/forward/outputs", test_forward_outputs);
    g_test_add_func("/ch05/forward/residual-stream", test_forward_residual_stream);
    g_test_add_func("/ch05/forward/threads-bit-identical", test_forward_threads_bit_identical);
    g_test_add_func("/ch05/forward/batch-sizes", test_forward_batch_sizes);
    g_test_add_func("/ch05/forward/rejects-bad-input", test_forward_rejects_bad_input);
    g_test_add_func("/ch05/forward/patterns-are-causal", test_model_patterns_are_causal);
    g_test_add_func("/ch05/forward/loops-equal-vectorized", test_forward_loops_equal_vectorized);
    g_test_add_func("/ch05/forward/shared-prefixes-same-bits", test_forward_shared_same_bits);
    return g_test_run();
}
