// ch04_attention_loops.c: chapter 4's tests: the plain-loops attention against
// a double-precision reference written from the definition (testutil.c), on
// hand-made cases, random heads of odd sizes, and a full 20-position block with
// a boost row. Chapter 4's exercise is attention_forward_loops: with its stub
// these tests fail with messages in words.
//
// These tests need nothing but the loops, so they pass as soon as the loops are
// right, whatever state chapter 3's exercise is in. That the loops give what
// the vectorized attention gives, to 1e-6, through a whole model, is checked
// in chapter 5 (/ch05/forward/loops-equal-vectorized), once both exist.
#include <math.h>
#include <string.h>

#include "layers.h"
#include "model.h"
#include "testutil.h"

// Tolerances against the double reference, relative to max(1, |reference|).
// The loops work in float32 (unit roundoff 6e-8): a score is a dot product of
// at most 16 terms, then a scale, so at most ~20 roundings, 1.2e-6; the
// pattern's exp and sum add a few more; an output sums up to 20 weighted
// values. The worst measured is 3e-7 (each test logs it); 2e-6 leaves room for
// another compiler's expf, and is far below what any mistake gives (a missing
// scale, an unmasked key, a row not normalised: 1e-2 or more).
#define TOLERANCE 2e-6

// The largest relative difference seen, reported by every test.
static double worst_seen = 0.0;

static bool close_enough(float ours, double reference)
{
    double diff = fabs(ours - reference) / fmax(1.0, fabs(reference));
    if (diff <= TOLERANCE)
        worst_seen = fmax(worst_seen, diff);
    return diff <= TOLERANCE;
}

// Compares problem b, head h of the loops' scores, pattern and output with the
// reference. Fails the test with a message in words and returns false at the
// first problem.
static bool check_head(const float *scores, const float *pattern, const float *out,
                       const float *qkv, const float *boost_row, int T, int C, int NH, int h,
                       const char *where)
{
    int hs = C / NH;
    double ref_scores[64 * 64], ref_pattern[64 * 64], ref_out[64 * 64];
    test_reference_attention(ref_scores, ref_pattern, ref_out, qkv, boost_row, T, C, NH, h);
    for (int i = 0; i < T; i++) {
        for (int j = 0; j < T; j++) {
            float s = scores[i * T + j];
            double r = ref_scores[i * T + j];
            if (j > i && !(isinf(s) && s < 0)) {
                g_test_fail_printf("%s: score (%d, %d) is %g: key %d comes after query %d, so "
                                   "the mask must make it -INFINITY", where, i, j, s, j, i);
                return false;
            }
            if (j <= i && !close_enough(s, r)) {
                const char *why = boost_row && i == POS_ANS
                    ? "row POS_ANS's scores are q_i . k_j / sqrt(head size) plus this problem's "
                      "and head's boost row, boost_row[(b * NH + h) * T + j], added after the mask"
                    : "it is q_i . k_j / sqrt(head size), with q, k from head h's slice of qkv";
                g_test_fail_printf("%s: score (%d, %d) is %.7g, want %.7g: %s", where, i, j, s,
                                   r, why);
                return false;
            }
        }
    }
    if (!test_check_pattern(pattern, T, h, where))
        return false;
    for (int i = 0; i < T * T; i++) {
        if (!close_enough(pattern[i], ref_pattern[i])) {
            g_test_fail_printf("%s: pattern (%d, %d) is %.7g, want %.7g: the pattern is the "
                               "softmax of each row of the scores", where, i / T, i % T,
                               pattern[i], ref_pattern[i]);
            return false;
        }
    }
    for (int i = 0; i < T; i++) {
        for (int d = 0; d < hs; d++) {
            float o = out[i * C + h * hs + d];
            if (!close_enough(o, ref_out[i * hs + d])) {
                g_test_fail_printf("%s: output (%d, %d) is %.7g, want %.7g: output row i is the "
                                   "sum over keys j of pattern[i][j] * v_j, written into head "
                                   "h's slice of the row", where, i, h * hs + d, o,
                                   ref_out[i * hs + d]);
                return false;
            }
        }
    }
    return true;
}

// Runs the loops on qkv (B,T,3C) with boost_row (B,NH,T) or NULL and checks
// every problem and head.
static void check_loops(const float *qkv, const float *boost_row, int B, int T, int C, int NH,
                        const char *what)
{
    size_t n_out = (size_t)B * T * C, n_att = (size_t)B * NH * T * T;
    float *out = g_new0(float, n_out), *scores = g_new0(float, n_att);
    float *pattern = g_new0(float, n_att);
    attention_forward_loops(out, scores, pattern, qkv, boost_row, B, T, C, NH);
    bool ok = true;
    for (int b = 0; b < B && ok; b++) {
        for (int h = 0; h < NH && ok; h++) {
            char *where = g_strdup_printf("%s, problem %d, head %d", what, b, h);
            size_t at = ((size_t)b * NH + h) * T * T;
            ok = check_head(scores + at, pattern + at, out + (size_t)b * T * C,
                            qkv + (size_t)b * T * 3 * C,
                            boost_row ? boost_row + (size_t)b * NH * T : NULL, T, C, NH, h,
                            where);
            g_free(where);
        }
    }
    g_test_message("%s: largest relative difference from the reference so far: %.2g", what,
                   worst_seen);
    g_free(out);
    g_free(scores);
    g_free(pattern);
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
        const char *hint =
            pattern[0] == 0.0f && pattern[1] == 0.0f
                ? "nothing was written into pattern: write the softmax of each row there with "
                  "your own loops (in the workbook, chapter 3's softmax_row is a stub until you "
                  "write it)"
            : pattern[1] != 0.0f
                ? "key 1 comes after query 0: set the later keys' scores to -INFINITY before the "
                  "softmax, so that they get weight exactly 0"
                : "the weights of a row must sum to 1";
        g_test_fail_printf("row 0 is [%g, %g], not [1, 0]: query 0 can only attend to key 0, "
                           "even if its score is -10000; %s", pattern[0], pattern[1], hint);
        return;
    }
    check_loops(qkv2, NULL, 1, 2, 4, 1, "T=2, q0.k0 = -20000");

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
}

// Random q, k, v: 3 problems, 4 heads of 3 (an odd head size), and 2 problems
// of one head of 16: each head must read its own slice of q, k and v.
static void test_random_heads(void)
{
    float qkv[3 * 7 * 3 * 12];
    test_fill_normal(qkv, G_N_ELEMENTS(qkv), 8, 1.5f);
    check_loops(qkv, NULL, 3, 7, 12, 4, "random, 4 heads of 3");
    float qkv16[2 * 9 * 3 * 16];
    test_fill_normal(qkv16, G_N_ELEMENTS(qkv16), 9, 1.0f);
    check_loops(qkv16, NULL, 2, 9, 16, 1, "random, 1 head of 16");
}

// A full 20-position block with a boost row on some heads: the boost is added
// to row POS_ANS's scores before the softmax, and nowhere else.
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
    check_loops(qkv, boost_row, B, T, C, NH, "boosted");
    g_free(qkv);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ch04/loops/hand-cases", test_hand_cases);
    g_test_add_func("/ch04/loops/random-heads", test_random_heads);
    g_test_add_func("/ch04/loops/boost", test_boost);
    return g_test_run();
}
