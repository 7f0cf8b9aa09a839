// ch09_intervene.c: the boost: what gets added (the boost row), that it goes
// in before the softmax, that both attention implementations apply it alike,
// that it shows in gpt_forward's scores, in a capture and in `looplens eval
// --boost`, and the before/after bookkeeping over a problem set. Every test
// that runs the model with a boost lives in chapter 9, whose exercise boost_row
// is: the earlier chapters' tests never need it.
#include <math.h>
#include <string.h>

#include "capture.h"
#include "intervene.h"
#include "layers.h"
#include "testutil.h"

enum { T = PROBLEM_LEN };

static Problem parse(const char *text)
{
    Problem p;
    char why[256];
    if (!problem_parse(text, &p, why, sizeof why))
        g_error("test problem '%s': %s", text, why);
    return p;
}

// A (n,n) causal score matrix: zeros on and below the diagonal, -inf above.
static void causal_zeros(float *scores, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            scores[i * n + j] = j <= i ? 0.0f : -INFINITY;
}

// ln 3 on key 0 of the all-zero last row of 4: e^ln3 = 3 against 1 + 1 + 1,
// so [3/6, 1/6, 1/6, 1/6] (to 1e-6, float rounding of the exp and the sum);
// every other row is bit-identical to the unboosted softmax.
static void test_ln3_on_row_of_four(void)
{
    enum { N = 4 };
    float scores[N * N], plain[N * N], boosted[N * N];
    causal_zeros(scores, N);
    float boost[N] = {logf(3.0f), 0.0f, 0.0f, 0.0f};
    softmax_with_boost(plain, scores, NULL, 3, N);
    softmax_with_boost(boosted, scores, boost, 3, N);
    const float want[N] = {0.5f, 1.0f / 6, 1.0f / 6, 1.0f / 6};
    for (int j = 0; j < N; j++)
        if (fabsf(boosted[3 * N + j] - want[j]) > 1e-6f)
            g_test_fail_printf("row 3, key %d: %.7f after the boost, want %.7f", j,
                               boosted[3 * N + j], want[j]);
    g_assert_cmpmem(boosted, sizeof(float) * 3 * N, plain, sizeof(float) * 3 * N);
}

// A boost on a masked (future) key changes nothing: -inf + amount is -inf.
static void test_boost_on_masked_key(void)
{
    enum { N = 6 };
    float scores[N * N], plain[N * N], boosted[N * N];
    causal_zeros(scores, N);
    scores[2 * N + 1] = 0.7f;
    float boost[N] = {0};
    boost[4] = 5.0f; // query 2 cannot see key 4
    boost[5] = 2.0f;
    softmax_with_boost(plain, scores, NULL, 2, N);
    softmax_with_boost(boosted, scores, boost, 2, N);
    g_assert_cmpmem(boosted, sizeof boosted, plain, sizeof plain);
    g_assert_cmpfloat(boosted[2 * N + 4], ==, 0.0f);
}

// The exercise: the boost row of a squaring problem has the amount once at
// the value position (not twice for var1 and var2) and once at the operator.
static void test_boost_row(void)
{
    Problem squaring = parse("[START] c 7 a 5 d 2 b 3 [VARS] d d [EQ] ans = d * d [ANS] 4");
    Boost boost;
    boost_init_default(&boost, 2.0f);
    float row[T];
    boost_row(row, &boost, &squaring, 0, 0, T);
    for (int j = 0; j < T; j++) {
        float want = j == 6 || j == POS_OP ? 2.0f : 0.0f; // d's value is at 6
        if (row[j] != want) {
            g_test_fail_printf("d * d (d defined at 5, its value at 6): the boost row has %g at "
                               "key %d, want %g%s",
                               row[j], j, want,
                               j == 6 && row[j] == 4.0f
                                   ? ": var1 == var2 must boost the value position once"
                                   : ": use boost_positions and put the amount at each");
            return;
        }
    }
    // Two variables: both values, and the operator.
    Problem two = parse("[START] a 5 b 3 c 7 d 2 [VARS] c a [EQ] ans = c - a [ANS] 2");
    boost_row(row, &boost, &two, 1, 1, T);
    g_assert_cmpfloat(row[2], ==, 2.0f);
    g_assert_cmpfloat(row[6], ==, 2.0f);
    g_assert_cmpfloat(row[POS_OP], ==, 2.0f);
    g_assert_cmpfloat(row[4] + row[8] + row[1] + row[15] + row[17], ==, 0.0f);
    // A layer or head the boost does not target gets nothing.
    boost.target[1][0] = false;
    boost_row(row, &boost, &two, 1, 0, T);
    for (int j = 0; j < T; j++)
        g_assert_cmpfloat(row[j], ==, 0.0f);
    // Values only / operator only.
    boost_init_default(&boost, 1.5f);
    boost.boost_values = false;
    boost_row(row, &boost, &two, 0, 0, T);
    g_assert_cmpfloat(row[POS_OP], ==, 1.5f);
    g_assert_cmpfloat(row[2] + row[6], ==, 0.0f);
}

// What gpt_forward adds is exactly the boost row: the boosted scores of
// layer 0 (whose input the boost cannot change) minus the plain ones, in row
// 18, is the boost row (to 1e-5: O(1) scores, float rounding), and recomputing
// the pattern from the plain scores with softmax_with_boost gives the boosted
// pattern (to 1e-6).
static void test_forward_adds_the_boost_row(void)
{
    GPT model;
    test_tiny_model(&model, 31, 0.3f);
    Problem p = parse("[START] a 4 b 4 c 1 d 0 [VARS] b b [EQ] ans = b * b [ANS] 16");
    Boost boost;
    boost_init_default(&boost, 2.0f);
    boost.target[0][1] = false; // head 1 of layer 0 is left alone
    float plain_scores[2][T * T], boosted_scores[2][T * T], boosted_pattern[2][T * T];
    g_assert_true(gpt_forward(&model, p.tokens, 1, NULL, NULL));
    for (int h = 0; h < 2; h++)
        memcpy(plain_scores[h], gpt_scores(&model, 0, 0, h), sizeof plain_scores[h]);
    g_assert_true(gpt_forward(&model, p.tokens, 1, &boost, NULL));
    for (int h = 0; h < 2; h++) {
        memcpy(boosted_scores[h], gpt_scores(&model, 0, 0, h), sizeof boosted_scores[h]);
        memcpy(boosted_pattern[h], gpt_pattern(&model, 0, 0, h), sizeof boosted_pattern[h]);
    }
    for (int h = 0; h < 2; h++) {
        float row[T], pattern[T * T];
        boost_row(row, &boost, &p, 0, h, T);
        for (int j = 0; j <= POS_ANS; j++) {
            float added = boosted_scores[h][POS_ANS * T + j] - plain_scores[h][POS_ANS * T + j];
            if (fabsf(added - row[j]) > 1e-5f)
                g_test_fail_printf("layer 0 head %d key %d: gpt_forward added %g, the boost row "
                                   "says %g",
                                   h, j, added, row[j]);
        }
        softmax_with_boost(pattern, plain_scores[h], row, POS_ANS, T);
        g_assert_cmpfloat(test_max_abs_diff(pattern, boosted_pattern[h], T * T), <=, 1e-6f);
    }
    gpt_free(&model);
}

// The boost in the two attention implementations (chapter 3's matrices,
// chapter 4's loops): the same patterns and answer distributions to 1e-6.
static void test_boost_same_in_both_implementations(void)
{
    GPT model;
    test_tiny_model(&model, 32, 0.3f);
    enum { B = 16 };
    Problem problems[B];
    int tokens[B * T];
    test_problems(problems, B, ORDER_SHUFFLED, 4);
    for (int b = 0; b < B; b++)
        memcpy(tokens + b * T, problems[b].tokens, sizeof problems[b].tokens);
    Boost boost;
    boost_init_default(&boost, 3.0f);
    boost.target[1][0] = false;
    size_t n_pattern = (size_t)model.config.n_layer * B * model.config.n_head * T * T;
    size_t n_probs = (size_t)B * VOCAB_SIZE;
    float *pattern = g_new(float, n_pattern), *probs = g_new(float, n_probs);
    model.attention = ATTENTION_VECTORIZED;
    g_assert_true(gpt_forward(&model, tokens, B, &boost, NULL));
    memcpy(pattern, model.acts.attn_pattern, n_pattern * sizeof(float));
    memcpy(probs, model.acts.probs, n_probs * sizeof(float));
    model.attention = ATTENTION_LOOPS;
    g_assert_true(gpt_forward(&model, tokens, B, &boost, NULL));
    float d_pattern = test_max_abs_diff(pattern, model.acts.attn_pattern, n_pattern);
    float d_probs = test_max_abs_diff(probs, model.acts.probs, n_probs);
    if (!(d_pattern <= 1e-6f && d_probs <= 1e-6f))
        g_test_fail_printf("with the boost, loops and matrices differ by %g in the patterns and "
                           "%g in the answer distributions (want <= 1e-6)",
                           d_pattern, d_probs);
    // And the boost did something.
    model.attention = ATTENTION_VECTORIZED;
    g_assert_true(gpt_forward(&model, tokens, B, NULL, NULL));
    g_assert_cmpfloat(test_max_abs_diff(probs, model.acts.probs, n_probs), >, 1e-4f);
    g_free(pattern);
    g_free(probs);
    gpt_free(&model);
}

// Why before the softmax: adding to the weights afterwards breaks the row
// (it sums to 1 + the amounts), and renormalising it is a different function.
static void test_after_softmax_is_wrong(void)
{
    enum { N = 5 };
    float scores[N * N], pattern[N * N], boosted[N * N], after[N];
    causal_zeros(scores, N);
    scores[4 * N + 0] = 1.0f;
    scores[4 * N + 2] = -0.5f;
    float boost[N] = {0.0f, 0.0f, 2.0f, 0.0f, 0.0f};
    softmax_with_boost(pattern, scores, NULL, 4, N);
    softmax_with_boost(boosted, scores, boost, 4, N);
    double sum = add_after_softmax(after, pattern + 4 * N, boost, N);
    g_assert_cmpfloat_with_epsilon(sum, 3.0, 1e-6); // 1 + 2
    renormalise(after, N);
    double row_sum = 0.0, diff = 0.0;
    for (int j = 0; j < N; j++) {
        row_sum += after[j];
        diff = fmax(diff, fabs(after[j] - boosted[4 * N + j]));
    }
    g_assert_cmpfloat_with_epsilon(row_sum, 1.0, 1e-6);
    g_assert_cmpfloat(diff, >, 0.1); // a different distribution, not rounding
}

// intervene_run's bookkeeping against its own per-problem results.
static void test_intervene_run(void)
{
    GPT model;
    test_tiny_model(&model, 33, 0.5f);
    enum { N = 300 };
    Problem *problems = g_new(Problem, N);
    test_problems(problems, N, ORDER_FIXED, 6);
    size_t index[N], count = 0;
    for (size_t i = 0; i < N; i += 2)
        index[count++] = i;
    Boost boost;
    boost_init_default(&boost, 6.0f);
    Intervention iv;
    PatternAverage avg;
    pattern_average_init(&avg, model.config.n_layer, model.config.n_head);
    GError *error = NULL;
    g_assert_true(intervene_run(&iv, &model, problems, index, count, &boost, NULL, &avg, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(avg.count, ==, count);
    size_t fixed = 0, broken = 0, right_after = 0;
    double p_before = 0.0, p_after = 0.0;
    for (size_t i = 0; i < count; i++) {
        g_assert_cmpint(iv.before[i].answer, ==, problems[index[i]].tokens[POS_ANSWER]);
        fixed += !result_correct(&iv.before[i]) && result_correct(&iv.after[i]);
        broken += result_correct(&iv.before[i]) && !result_correct(&iv.after[i]);
        right_after += result_correct(&iv.after[i]);
        p_before += iv.before[i].p_correct;
        p_after += iv.after[i].p_correct;
    }
    g_assert_cmpuint(iv.fixed, ==, fixed);
    g_assert_cmpuint(iv.broken, ==, broken);
    g_assert_cmpuint(iv.correct_after, ==, right_after);
    g_assert_cmpfloat_with_epsilon(iv.mean_p_before, p_before / count, 1e-12);
    g_assert_cmpfloat_with_epsilon(iv.mean_p_after, p_after / count, 1e-12);
    g_assert_cmpfloat(fabs(iv.mean_p_after - iv.mean_p_before), >, 1e-6); // +6 moves something

    // Given the results before, the same answers.
    ProblemResult *all = g_new(ProblemResult, N);
    g_assert_true(evaluate_problems(all, &model, problems, N, NULL, NULL));
    Intervention again;
    g_assert_true(intervene_run(&again, &model, problems, index, count, &boost, all, NULL, NULL));
    g_assert_cmpuint(again.fixed, ==, iv.fixed);
    g_assert_cmpuint(again.broken, ==, iv.broken);
    g_assert_cmpfloat_with_epsilon(again.mean_p_after, iv.mean_p_after, 1e-9);
    // An empty set: zero counts, undefined means.
    Intervention empty;
    g_assert_true(intervene_run(&empty, &model, problems, index, 0, &boost, all, NULL, NULL));
    g_assert_cmpuint(empty.count + empty.fixed + empty.broken, ==, 0);
    g_assert_true(isnan(empty.mean_p_after));
    intervention_free(&empty);
    intervention_free(&again);
    intervention_free(&iv);
    pattern_average_free(&avg);
    g_free(all);
    g_free(problems);
    gpt_free(&model);
}

// The boost through gpt_forward, for a batch of problems: in layer 0 (whose input the boost cannot
// change) the scores of row POS_ANS of each targeted head rise by the amount at
// exactly the positions boost_positions names, per problem (1e-5: one float
// addition to scores of size ~1); untargeted heads and other rows are unchanged.
static void test_boost_through_model(void)
{
    GPTConfig config;
    g_assert_true(gpt_config_preset("tiny", &config));
    GPT model;
    GError *error = NULL;
    g_assert_true(gpt_create(&model, &config, &error));
    gpt_init_random_std(&model, 4, 0.3f);
    enum { B = 6 };
    int tokens[B * T];
    test_problem_tokens(tokens, B, ORDER_SHUFFLED, 10);
    g_assert_true(gpt_forward(&model, tokens, B, NULL, &error));
    size_t n = (size_t)config.n_layer * B * config.n_head * T * T;
    float *plain = g_memdup2(model.acts.attn_scores, n * sizeof(float));
    Boost boost;
    boost_init_default(&boost, 2.5f);
    boost.target[0][1] = false; // layer 0: head 0 boosted, head 1 not
    g_assert_true(gpt_forward(&model, tokens, B, &boost, &error));
    for (int b = 0; b < B; b++) {
        Problem p;
        memcpy(p.tokens, tokens + b * T, sizeof p.tokens);
        int positions[3];
        int count = boost_positions(&boost, &p, positions);
        for (int h = 0; h < config.n_head; h++) {
            const float *before = plain + ((size_t)b * config.n_head + h) * T * T;
            const float *after = gpt_scores(&model, 0, b, h);
            for (int i = 0; i < T; i++) {
                for (int j = 0; j <= i; j++) {
                    bool boosted = false;
                    for (int k = 0; k < count; k++)
                        boosted |= h == 0 && i == POS_ANS && j == positions[k];
                    double expected = boosted ? 2.5 : 0.0;
                    g_assert_cmpfloat_with_epsilon(after[i * T + j] - before[i * T + j], expected,
                                                   1e-5);
                }
            }
        }
    }
    g_free(plain);
    gpt_free(&model);
}

// The boost is visible in the captured scores: in layer 0 (whose input the
// boost cannot have changed) row 18 gains exactly the amount at the boosted
// keys (to 1e-5: the scores are O(1), float addition rounds at 1e-7), and
// every other row and key is bit-identical.
static void test_capture_with_boost(void)
{
    GPT model;
    test_tiny_model(&model, 4, 0.3f);
    Problem p;
    test_problems(&p, 1, ORDER_FIXED, 8);
    Boost boost;
    boost_init_default(&boost, 2.0f);
    int positions[3];
    int n = boost_positions(&boost, &p, positions);
    Capture plain, boosted;
    g_assert_true(capture_problem(&plain, &model, &p, NULL, NULL));
    g_assert_true(capture_problem(&boosted, &model, &p, &boost, NULL));
    for (int h = 0; h < plain.n_head; h++) {
        const float *a = capture_scores(&plain, 0, h), *b = capture_scores(&boosted, 0, h);
        for (int i = 0; i < T; i++) {
            for (int j = 0; j <= i; j++) {
                bool is_boosted = false;
                for (int k = 0; k < n; k++)
                    is_boosted |= i == POS_ANS && j == positions[k];
                if (is_boosted)
                    g_assert_cmpfloat_with_epsilon(b[i * T + j] - a[i * T + j], 2.0f, 1e-5f);
                else
                    g_assert_cmpfloat(b[i * T + j], ==, a[i * T + j]);
            }
        }
    }
    capture_free(&plain);
    capture_free(&boosted);
    gpt_free(&model);
}

// `looplens eval --boost` (SPEC section 6) changes the answers' probabilities
// of most problems, and --boost 0 changes no byte of the TSV.
static char *run_eval(const char *model, const char *data, const char *out_name,
                      const char *boost)
{
    char *out = test_path(out_name), *err = NULL, *text = NULL;
    int status = boost ? test_run_looplens(NULL, &err, "eval", "--model", model, "--data", data,
                                           "--boost", boost, "--out", out, NULL)
                       : test_run_looplens(NULL, &err, "eval", "--model", model, "--data", data,
                                           "--out", out, NULL);
    if (status != 0)
        g_error("looplens eval failed (%d): %s", status, err);
    g_assert_true(g_file_get_contents(out, &text, NULL, NULL));
    g_free(err);
    g_free(out);
    return text;
}

static void test_eval_cli_boost(void)
{
    char *model = test_tiny_checkpoint("tiny.safetensors", 5, 0.3f);
    char *data = test_problem_file("problems.txt", 40, ORDER_FIXED, 11);
    char *plain = run_eval(model, data, "plain.tsv", NULL);
    char *boosted = run_eval(model, data, "boosted.tsv", "2.0");
    char *zero = run_eval(model, data, "zero.tsv", "0");
    g_assert_cmpstr(zero, ==, plain);
    char **a = g_strsplit(plain, "\n", -1), **b = g_strsplit(boosted, "\n", -1);
    g_assert_cmpuint(g_strv_length(a), ==, 40 + 2); // header, 40 rows, "" after the last \n
    g_assert_cmpuint(g_strv_length(b), ==, g_strv_length(a));
    int changed = 0;
    for (int i = 1; a[i]; i++)
        changed += strcmp(a[i], b[i]) != 0;
    // Every problem has boosted keys, and this model's patterns are not flat.
    g_assert_cmpint(changed, >, 20);
    g_strfreev(a);
    g_strfreev(b);
    g_free(plain);
    g_free(boosted);
    g_free(zero);
    g_free(model);
    g_free(data);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_add_earlier_exercises("/ch09", "2-5,7");
    g_test_add_func("/ch09/boost/ln3-on-row-of-four", test_ln3_on_row_of_four);
    g_test_add_func("/ch09/boost/masked-key", test_boost_on_masked_key);
    g_test_add_func("/ch09/boost/row", test_boost_row);
    g_test_add_func("/ch09/boost/forward-adds-the-row", test_forward_adds_the_boost_row);
    g_test_add_func("/ch09/boost/both-implementations", test_boost_same_in_both_implementations);
    g_test_add_func("/ch09/boost/after-softmax-is-wrong", test_after_softmax_is_wrong);
    g_test_add_func("/ch09/boost/through-model-batch", test_boost_through_model);
    g_test_add_func("/ch09/boost/capture", test_capture_with_boost);
    g_test_add_func("/ch09/boost/eval-cli", test_eval_cli_boost);
    g_test_add_func("/ch09/intervene/run", test_intervene_run);
    return g_test_run();
}
