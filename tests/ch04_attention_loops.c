// ch04_attention_loops.c: chapter 4's tests: the plain-loops attention gives
// what the vectorized one gives, on hand-made cases and through a whole model,
// every layer and head, with and without the boost. Chapter 4's exercise is
// attention_forward_loops: with its stub these tests fail with messages in words.
#include <math.h>
#include <string.h>

#include "layers.h"
#include "model.h"
#include "testutil.h"

// The tolerance of every comparison below: 1e-6 absolute. The two versions do
// the same float operations in the same order, so in practice they agree
// exactly; 1e-6 leaves room for a compiler that reorders nothing but is
// entitled to differ in the last bit of expf, never for a wrong formula.
#define TOLERANCE 1e-6f

// Compares one head's (T,T) scores: finite cells within TOLERANCE, masked
// (-inf) cells must be -inf in both. Returns false after failing the test.
static bool compare_scores(const float *loops, const float *vectorized, int T, const char *where)
{
    for (int i = 0; i < T; i++) {
        for (int j = 0; j < T; j++) {
            float a = loops[i * T + j], b = vectorized[i * T + j];
            if (isinf(b) || isinf(a)) {
                if (a != b) {
                    g_test_fail_printf("%s: score (%d, %d) is %g in the loops version but %g in "
                                       "the vectorized one: %s", where, i, j, a, b,
                                       j > i ? "a later key must be masked with -INFINITY"
                                             : "only later keys are masked");
                    return false;
                }
            } else if (!(fabsf(a - b) <= TOLERANCE)) {
                g_test_fail_printf("%s: score (%d, %d) is %g in the loops version but %g in the "
                                   "vectorized one: is it q_i . k_j / sqrt(head size)?",
                                   where, i, j, a, b);
                return false;
            }
        }
    }
    return true;
}

static bool compare_pattern(const float *loops, const float *vectorized, int T, const char *where)
{
    for (int i = 0; i < T; i++) {
        float sum = 0.0f;
        for (int j = 0; j < T; j++)
            sum += loops[i * T + j];
        if (!(fabsf(sum - 1.0f) <= 1e-5f)) {
            g_test_fail_printf("%s: row %d of the loops version's pattern sums to %f, not 1: "
                               "did you apply the softmax to every row?", where, i, sum);
            return false;
        }
        for (int j = 0; j < T; j++) {
            float a = loops[i * T + j], b = vectorized[i * T + j];
            if (!(fabsf(a - b) <= TOLERANCE)) {
                g_test_fail_printf("%s: pattern (%d, %d) is %g in the loops version but %g in "
                                   "the vectorized one", where, i, j, a, b);
                return false;
            }
        }
    }
    return true;
}

static bool compare_output(const float *loops, const float *vectorized, size_t n,
                           const char *where)
{
    float diff = test_max_abs_diff(loops, vectorized, n);
    if (!(diff <= TOLERANCE)) {
        g_test_fail_printf("%s: the outputs differ by up to %g: output i is the sum over keys j "
                           "of pattern[i][j] * value_j", where, diff);
        return false;
    }
    return true;
}

// Runs both versions on one qkv and compares everything.
static bool compare_on(const float *qkv, const float *boost_row, int B, int T, int C, int NH,
                       const char *what)
{
    size_t n_out = (size_t)B * T * C, n_att = (size_t)B * NH * T * T;
    float *out[2], *scores[2], *pattern[2];
    for (int k = 0; k < 2; k++) {
        out[k] = g_new0(float, n_out);
        scores[k] = g_new0(float, n_att);
        pattern[k] = g_new0(float, n_att);
    }
    attention_forward_loops(out[0], scores[0], pattern[0], qkv, boost_row, B, T, C, NH);
    attention_forward_vectorized(out[1], scores[1], pattern[1], qkv, boost_row, B, T, C, NH);
    bool ok = true;
    for (int b = 0; b < B && ok; b++) {
        for (int h = 0; h < NH && ok; h++) {
            char *where = g_strdup_printf("%s, problem %d, head %d", what, b, h);
            size_t at = ((size_t)b * NH + h) * T * T;
            ok = compare_scores(scores[0] + at, scores[1] + at, T, where) &&
                 compare_pattern(pattern[0] + at, pattern[1] + at, T, where);
            g_free(where);
        }
    }
    ok = ok && compare_output(out[0], out[1], n_out, what);
    for (int k = 0; k < 2; k++) {
        g_free(out[k]);
        g_free(scores[k]);
        g_free(pattern[k]);
    }
    return ok;
}

// Chapter 3's hand-made cases, now for the loops.
static void test_hand_cases(void)
{
    // T = 2, q0 . k0 = -20000: row 0 is still [1, 0].
    float qkv2[2 * 3 * 4] = {100, 0, 0, 0, -200, 0, 0, 0, 1, 2, 3, 4,
                             0, 1, 0, 0, 0, 5, 0, 0, 5, 6, 7, 8};
    float out[2 * 4], scores[4], pattern[4];
    attention_forward_loops(out, scores, pattern, qkv2, NULL, 1, 2, 4, 1);
    if (pattern[0] != 1.0f || pattern[1] != 0.0f) {
        g_test_fail_printf("row 0 is [%g, %g], not [1, 0]: query 0 can only attend to key 0, "
                           "even if its score is -10000", pattern[0], pattern[1]);
        return;
    }
    if (!compare_on(qkv2, NULL, 1, 2, 4, 1, "T=2, q0.k0 = -20000"))
        return;

    // q = k = ones(4), 2 heads of 4: every visible score is exactly 2.
    float ones[3 * 3 * 8];
    for (size_t i = 0; i < G_N_ELEMENTS(ones); i++)
        ones[i] = 1.0f;
    float out3[3 * 8], scores3[2 * 9], pattern3[2 * 9];
    attention_forward_loops(out3, scores3, pattern3, ones, NULL, 1, 3, 8, 2);
    for (int h = 0; h < 2; h++)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j <= i; j++)
                if (scores3[(h * 3 + i) * 3 + j] != 2.0f) {
                    g_test_fail_printf("head %d, score (%d, %d) is %g, not 2: q.k = 4 divided "
                                       "by sqrt(4)", h, i, j, scores3[(h * 3 + i) * 3 + j]);
                    return;
                }

    // Random q, k, v: 3 problems, 4 heads of 3 (an odd head size).
    float qkv[3 * 7 * 3 * 12];
    test_fill_normal(qkv, G_N_ELEMENTS(qkv), 8, 1.5f);
    compare_on(qkv, NULL, 3, 7, 12, 4, "random, 4 heads");
}

// A full 20-position block with a boost on some heads.
static void test_boost(void)
{
    enum { B = 2, T = BLOCK_SIZE, C = 16, NH = 4 };
    float *qkv = g_new(float, B * T * 3 * C);
    test_fill_normal(qkv, (size_t)B * T * 3 * C, 12, 1.0f);
    float boost_row[B * NH * T] = {0};
    for (int b = 0; b < B; b++)
        for (int h = 1; h < NH; h += 2) {
            boost_row[(b * NH + h) * T + 2 + 2 * b] = 3.0f;
            boost_row[(b * NH + h) * T + POS_OP] = 3.0f;
        }
    compare_on(qkv, boost_row, B, T, C, NH, "boosted");
    g_free(qkv);
}

// Through a whole default-size model (std raised to 0.15 so that patterns are
// peaked, not uniform), 16 real problems: every layer and head's scores and
// pattern, every attention output, and the logits. The model is run twice,
// once with each implementation, and each run's activations are compared.
static void compare_models(const Boost *boost, const char *what)
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
    g_assert_true(gpt_forward(&model, tokens, B, boost, &error));
    size_t n_acts = activation_count(&config, B);
    float *loops_memory = g_memdup2(model.acts_memory, n_acts * sizeof(float));
    ActivationTensors loops;
    activation_carve(&loops, &config, B, loops_memory);
    model.attention = ATTENTION_VECTORIZED;
    g_assert_true(gpt_forward(&model, tokens, B, boost, &error));
    ActivationTensors *vec = &model.acts;

    int L = config.n_layer, NH = config.n_head, C = config.d_model;
    float peak = 0.0f;
    bool ok = true;
    for (int l = 0; l < L && ok; l++) {
        for (int b = 0; b < B && ok; b++) {
            for (int h = 0; h < NH && ok; h++) {
                char *where = g_strdup_printf("%s: layer %d, problem %d, head %d", what, l, b, h);
                size_t at = (((size_t)l * B + b) * NH + h) * T * T;
                ok = compare_scores(loops.attn_scores + at, vec->attn_scores + at, T, where) &&
                     compare_pattern(loops.attn_pattern + at, vec->attn_pattern + at, T, where);
                for (int i = 0; i < T * T; i++)
                    if (i / T >= 4 && vec->attn_pattern[at + i] > peak)
                        peak = vec->attn_pattern[at + i];
                g_free(where);
            }
        }
        if (ok) {
            char *where = g_strdup_printf("%s: layer %d", what, l);
            size_t at = (size_t)l * B * T * C;
            ok = compare_output(loops.attn_out + at, vec->attn_out + at, (size_t)B * T * C, where);
            g_free(where);
        }
    }
    if (ok) {
        float diff = test_max_abs_diff(loops.logits, vec->logits, (size_t)B * config.vocab_size);
        if (!(diff <= TOLERANCE))
            g_test_fail_printf("%s: the logits differ by up to %g", what, diff);
        size_t n_att = (size_t)L * B * NH * T * T;
        float pattern_diff = test_max_abs_diff(loops.attn_pattern, vec->attn_pattern, n_att);
        g_test_message("%s: max |diff| of patterns %g, of logits %g", what, pattern_diff, diff);
        // The test means something only if the patterns are not near uniform.
        g_test_message("%s: largest attention weight of a query at position >= 4: %g", what, peak);
        g_assert_cmpfloat(peak, >, 0.9f);
    }
    g_free(loops_memory);
    gpt_free(&model);
}

static void test_whole_model(void)
{
    compare_models(NULL, "no boost");
}

static void test_whole_model_boosted(void)
{
    Boost boost;
    boost_init_default(&boost, 2.0f);
    boost.target[0][3] = false; // some heads untargeted, to exercise the zero rows
    boost.target[2][0] = false;
    compare_models(&boost, "boost +2");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ch04/loops/hand-cases", test_hand_cases);
    g_test_add_func("/ch04/loops/boost", test_boost);
    g_test_add_func("/ch04/loops/whole-model", test_whole_model);
    g_test_add_func("/ch04/loops/whole-model-boosted", test_whole_model_boosted);
    return g_test_run();
}
