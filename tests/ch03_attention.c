// ch03_attention.c: chapter 3's tests: softmax, the causal mask, scaled scores,
// heads, the boost, and a double-precision reference for the whole layer.
// The exercise of chapter 3 is softmax_row: with its stub these tests fail with
// messages that say what is missing.
#include <math.h>
#include <string.h>

#include "layers.h"
#include "model.h"
#include "testutil.h"

static bool check_softmax(const float *inp, int n, const float *expected, const char *advice)
{
    float out[8];
    softmax_row(out, inp, n);
    for (int i = 0; i < n; i++) {
        // Exact: each expected value is exactly representable and the
        // arithmetic that produces it (exp(0) = 1, exp(-1000) = 0, 1/2) is exact.
        if (out[i] != expected[i]) {
            GString *row = g_string_new("");
            for (int k = 0; k < n; k++)
                g_string_append_printf(row, "%s%g", k ? ", " : "", inp[k]);
            g_test_fail_printf("softmax of [%s]: entry %d is %g, expected %g: %s", row->str, i,
                               out[i], expected[i], advice);
            g_string_free(row, TRUE);
            return false;
        }
    }
    return true;
}

static void test_softmax_cases(void)
{
    if (!check_softmax((float[]){-10000.0f, -10000.0f}, 2, (float[]){0.5f, 0.5f},
                       "equal scores share the weight equally, however negative they are "
                       "(subtract the row's max so exp does not underflow to 0/0)") ||
        !check_softmax((float[]){1000.0f, 0.0f}, 2, (float[]){1.0f, 0.0f},
                       "exp(1000) overflows a float: subtract the row's max before expf") ||
        !check_softmax((float[]){0.0f, -INFINITY, 0.0f, -INFINITY}, 4,
                       (float[]){0.5f, 0.0f, 0.5f, 0.0f},
                       "a masked score (-inf) must get weight exactly 0"))
        return;
    // Any row sums to 1 (within 1e-6: a few float additions of numbers <= 1).
    float row[5] = {0.3f, -1.7f, 2.5f, 88.0f, 89.0f}, out[5];
    softmax_row(out, row, 5);
    float sum = 0.0f;
    for (int i = 0; i < 5; i++)
        sum += out[i];
    if (!(fabsf(sum - 1.0f) <= 1e-6f)) {
        g_test_fail_printf("softmax of [0.3, -1.7, 2.5, 88, 89] sums to %g, not 1: did you "
                           "divide by the sum of the exponentials?", sum);
        return;
    }
    // The largest entry gets the most weight: e/(1+e) for 89 vs 88 (others ~0).
    g_assert_cmpfloat_with_epsilon(out[4], 0.7310586f, 1e-6);
}

// qkv (B=1, T, 3C) for given per-position q, k, v rows (each C floats).
static void set_qkv(float *qkv, int t, int C, const float *q, const float *k, const float *v)
{
    memcpy(qkv + (size_t)t * 3 * C, q, C * sizeof(float));
    memcpy(qkv + (size_t)t * 3 * C + C, k, C * sizeof(float));
    memcpy(qkv + (size_t)t * 3 * C + 2 * C, v, C * sizeof(float));
}

// T = 2, one head of 4: q0 . k0 = -20000. The only key query 0 may see is key
// 0, so its row is [1, 0] however bad the match: the mask, not the score,
// decides.
static void test_mask_holds_for_negative_score(void)
{
    enum { T = 2, C = 4 };
    float qkv[T * 3 * C], out[T * C], scores[T * T], pattern[T * T];
    set_qkv(qkv, 0, C, (float[]){100, 0, 0, 0}, (float[]){-200, 0, 0, 0}, (float[]){1, 2, 3, 4});
    set_qkv(qkv, 1, C, (float[]){0, 1, 0, 0}, (float[]){0, 5, 0, 0}, (float[]){5, 6, 7, 8});
    attention_forward_vectorized(out, scores, pattern, qkv, NULL, 1, T, C, 1);
    g_assert_cmpfloat(scores[0], ==, -10000.0f); // -20000 / sqrt(4), exact in float
    g_assert_true(isinf(scores[1]) && scores[1] < 0);
    if (pattern[0] != 1.0f || pattern[1] != 0.0f) {
        g_test_fail_printf("row 0 is [%g, %g], not [1, 0]: query 0 can only attend to key 0, "
                           "even if its score is -10000", pattern[0], pattern[1]);
        return;
    }
    // Output 0 is exactly v0.
    for (int d = 0; d < C; d++)
        g_assert_cmpfloat(out[d], ==, (float)(d + 1));
    test_check_pattern(pattern, T, 0, "T=2");
}

// d_model 8, 2 heads of 4: q = k = ones(4) at every position gives the raw
// score 4 / sqrt(4) = 2.0 (exact) in every visible cell of both heads.
static void test_scaled_score_is_two(void)
{
    enum { T = 3, C = 8, NH = 2 };
    float qkv[T * 3 * C], out[T * C], scores[NH * T * T], pattern[NH * T * T];
    for (int i = 0; i < T * 3 * C; i++)
        qkv[i] = 1.0f;
    attention_forward_vectorized(out, scores, pattern, qkv, NULL, 1, T, C, NH);
    for (int h = 0; h < NH; h++)
        for (int i = 0; i < T; i++)
            for (int j = 0; j <= i; j++)
                if (scores[(h * T + i) * T + j] != 2.0f) {
                    g_test_fail_printf("head %d, score (%d, %d) is %g, not 2: q.k = 4, divided "
                                       "by sqrt(head size 4)", h, i, j,
                                       scores[(h * T + i) * T + j]);
                    return;
                }
    // Equal scores: query i spreads evenly over its i + 1 keys.
    if (!(fabsf(pattern[2 * T + 1] - 1.0f / 3.0f) <= 1e-7f))
        g_test_fail_printf("query 2 has three equal scores, so each key gets 1/3, not %g",
                           pattern[2 * T + 1]);
}

// Two heads with different, asymmetric q/k/v: the patterns differ, each is a
// proper causal pattern, and both match the double-precision reference (1e-6:
// float rounding of sums of 8 products of numbers ~1, relative ~1e-7).
static void test_heads_differ_and_match_reference(void)
{
    enum { T = 6, C = 16, NH = 2, HS = C / NH };
    float qkv[T * 3 * C], out[T * C], scores[NH * T * T], pattern[NH * T * T];
    test_fill_normal(qkv, G_N_ELEMENTS(qkv), 31, 1.0f);
    attention_forward_vectorized(out, scores, pattern, qkv, NULL, 1, T, C, NH);
    for (int h = 0; h < NH; h++) {
        if (!test_check_pattern(pattern + h * T * T, T, h, "random q, k, v"))
            return;
        double ref_scores[T * T], ref_pattern[T * T], ref_out[T * HS];
        test_reference_attention(ref_scores, ref_pattern, ref_out, qkv, NULL, T, C, NH, h);
        for (int i = 0; i < T * T; i++)
            g_assert_cmpfloat_with_epsilon(pattern[h * T * T + i], ref_pattern[i], 1e-6);
        for (int i = 0; i < T; i++)
            for (int d = 0; d < HS; d++)
                g_assert_cmpfloat_with_epsilon(out[i * C + h * HS + d], ref_out[i * HS + d], 1e-5);
    }
    float diff = test_max_abs_diff(pattern, pattern + T * T, T * T);
    g_assert_cmpfloat(diff, >, 0.05f); // the heads look at different things
}

// -ffast-math (-ffinite-math-only) lets the compiler assume no infinities, and
// then isinf() may be folded to false. The build refuses those flags; this
// checks the result of the build's real flags.
static void test_masked_score_is_inf(void)
{
    enum { T = 3, C = 2 };
    float qkv[T * 3 * C], out[T * C], scores[T * T], pattern[T * T];
    test_fill_normal(qkv, G_N_ELEMENTS(qkv), 5, 1.0f);
    attention_forward_vectorized(out, scores, pattern, qkv, NULL, 1, T, C, 1);
    volatile float masked = scores[0 * T + 2];
    g_assert_true(isinf(masked));
    g_assert_true(masked < 0.0f);
    g_assert_false(isfinite(masked));
    g_assert_true(isinf(masked + 2.0f)); // the boost leaves it masked
}

// The boost: exactly the boosted cells of row POS_ANS change, by the amount
// (1e-5: one float addition to a score of size ~10); other rows and the
// untargeted head are bit-identical; the boosted keys gain weight.
static void test_boost_changes_only_row_ans(void)
{
    enum { T = BLOCK_SIZE, C = 8, NH = 2 };
    float qkv[T * 3 * C], out[2][T * C], scores[2][NH * T * T], pattern[2][NH * T * T];
    float boost_row[NH * T] = {0};
    test_fill_normal(qkv, G_N_ELEMENTS(qkv), 77, 1.0f);
    boost_row[0 * T + 4] = 2.0f; // head 0 only: value position 4 and the operator
    boost_row[0 * T + POS_OP] = 2.0f;
    attention_forward_vectorized(out[0], scores[0], pattern[0], qkv, NULL, 1, T, C, NH);
    attention_forward_vectorized(out[1], scores[1], pattern[1], qkv, boost_row, 1, T, C, NH);
    for (int h = 0; h < NH; h++) {
        for (int i = 0; i < T; i++) {
            for (int j = 0; j < T; j++) {
                int cell = (h * T + i) * T + j;
                bool boosted = h == 0 && i == POS_ANS && (j == 4 || j == POS_OP);
                if (boosted)
                    g_assert_cmpfloat_with_epsilon(scores[1][cell] - scores[0][cell], 2.0, 1e-5);
                else if (j <= i)
                    g_assert_cmpfloat(scores[1][cell], ==, scores[0][cell]);
            }
        }
    }
    if (!test_check_pattern(pattern[1], T, 0, "boosted"))
        return;
    g_assert_cmpfloat(pattern[1][POS_ANS * T + 4], >, pattern[0][POS_ANS * T + 4]);
    g_assert_cmpfloat(pattern[1][POS_ANS * T + POS_OP], >, pattern[0][POS_ANS * T + POS_OP]);
    g_assert_cmpmem(pattern[1] + T * T, T * T * sizeof(float), pattern[0] + T * T,
                    T * T * sizeof(float)); // head 1 untouched
    // And against the double reference with the boost.
    double ref_scores[T * T], ref_pattern[T * T], ref_out[T * (C / NH)];
    test_reference_attention(ref_scores, ref_pattern, ref_out, qkv, boost_row, T, C, NH, 0);
    for (int i = 0; i < T * T; i++)
        g_assert_cmpfloat_with_epsilon(pattern[1][i], ref_pattern[i], 1e-6);
}

static void check_positions(const char *text, const Boost *boost, int count, const int *expected)
{
    Problem p;
    char why[256];
    g_assert_true(problem_parse(text, &p, why, sizeof why));
    int positions[3];
    int n = boost_positions(boost, &p, positions);
    g_assert_cmpint(n, ==, count);
    for (int i = 0; i < n; i++)
        g_assert_cmpint(positions[i], ==, expected[i]);
}

// SPEC section 4's positions on hand-made problems.
static void test_boost_positions(void)
{
    Boost boost;
    boost_init_default(&boost, 2.0f);
    g_assert_cmpfloat(boost.amount, ==, 2.0f);
    g_assert_true(boost.target[0][0] && boost.target[MAX_LAYERS - 1][MAX_HEADS - 1]);
    check_positions("[START] a 5 b 3 c 7 d 2 [VARS] a c [EQ] ans = a * c [ANS] 35", &boost, 3,
                    (int[]){2, 6, POS_OP});
    // var1 == var2: its value position once.
    check_positions("[START] a 5 b 3 c 7 d 2 [VARS] d d [EQ] ans = d * d [ANS] 4", &boost, 2,
                    (int[]){8, POS_OP});
    // Shuffled definitions: found by name, not by place.
    check_positions("[START] c 1 a 2 d 3 b 4 [VARS] b c [EQ] ans = b - c [ANS] 3", &boost, 3,
                    (int[]){2, 8, POS_OP});
    boost.boost_operator = false;
    check_positions("[START] c 1 a 2 d 3 b 4 [VARS] b c [EQ] ans = b - c [ANS] 3", &boost, 2,
                    (int[]){2, 8});
    boost.boost_operator = true;
    boost.boost_values = false;
    check_positions("[START] c 1 a 2 d 3 b 4 [VARS] b c [EQ] ans = b - c [ANS] 3", &boost, 1,
                    (int[]){POS_OP});
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ch03/softmax/cases", test_softmax_cases);
    g_test_add_func("/ch03/attention/mask-holds-for-negative-score",
                    test_mask_holds_for_negative_score);
    g_test_add_func("/ch03/attention/scaled-score-is-two", test_scaled_score_is_two);
    g_test_add_func("/ch03/attention/heads-differ-and-match-reference",
                    test_heads_differ_and_match_reference);
    g_test_add_func("/ch03/attention/masked-score-is-inf", test_masked_score_is_inf);
    g_test_add_func("/ch03/boost/changes-only-row-ans", test_boost_changes_only_row_ans);
    g_test_add_func("/ch03/boost/positions", test_boost_positions);
    return g_test_run();
}
