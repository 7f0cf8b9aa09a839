// ch08_compare.c: good against bad: per-problem results, the split, averaged
// patterns (by position and by role), role profiles, the most different head,
// and the classifier of wrong answers.
#include <math.h>
#include <string.h>

#include "compare.h"
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

// ----------------------------------------------------------------------------
// Results

static void test_results_and_split(void)
{
    GPT model;
    test_tiny_model(&model, 5, 0.3f);
    enum { N = 300 };
    Problem *problems = g_new(Problem, N);
    test_problems(problems, N, ORDER_FIXED, 3);
    ProblemResult *results = g_new(ProblemResult, N);
    GError *error = NULL;
    g_assert_true(evaluate_problems(results, &model, problems, N, NULL, &error));
    g_assert_no_error(error);
    // Problem 7 again on its own: the same distribution (1e-6: only BLAS's
    // blocking differs between a batch of 256 and a batch of 1).
    g_assert_true(gpt_forward(&model, problems[7].tokens, 1, NULL, NULL));
    const float *probs = gpt_probs(&model, 0);
    const ProblemResult *r = &results[7];
    g_assert_cmpint(r->answer, ==, problems[7].tokens[POS_ANSWER]);
    g_assert_cmpfloat_with_epsilon(r->p_correct, probs[r->answer], 1e-6f);
    g_assert_cmpint(r->predicted, ==, r->top[0]);
    for (int k = 0; k + 1 < TOP_K; k++)
        g_assert_cmpfloat(r->top_p[k], >=, r->top_p[k + 1]);
    for (int v = 0; v < VOCAB_SIZE; v++)
        g_assert_cmpfloat(probs[v], <=, r->p_predicted + 1e-6f);

    Subset good, bad;
    split_squaring(&good, &bad, problems, results, N);
    size_t squaring = 0;
    for (int i = 0; i < N; i++)
        squaring += problem_is_squaring(&problems[i]);
    g_assert_cmpuint(good.count + bad.count, ==, squaring);
    for (size_t i = 0; i < good.count; i++)
        g_assert_true(result_correct(&results[good.index[i]]));
    for (size_t i = 0; i < bad.count; i++) {
        g_assert_true(problem_is_squaring(&problems[bad.index[i]]));
        g_assert_false(result_correct(&results[bad.index[i]]));
        if (i > 0)
            g_assert_cmpuint(bad.index[i], >, bad.index[i - 1]);
    }
    g_assert_cmpuint(subset_count_correct(&bad, results), ==, 0);
    if (bad.count) {
        double mean = 0.0;
        for (size_t i = 0; i < bad.count; i++)
            mean += results[bad.index[i]].p_correct;
        g_assert_cmpfloat_with_epsilon(subset_mean_p_correct(&bad, results), mean / bad.count,
                                       1e-12);
    }
    Subset empty = {0};
    g_assert_true(isnan(subset_mean_p_correct(&empty, results)));
    subset_free(&good);
    subset_free(&bad);
    g_free(results);
    g_free(problems);
    gpt_free(&model);
}

// ----------------------------------------------------------------------------
// Roles

static void test_role_order(void)
{
    // Shuffled definitions, squaring d: d's pair (positions 5, 6) first, then
    // the others as they appear: c (1, 2), a (3, 4), b (7, 8).
    Problem p = parse("[START] c 7 a 5 d 2 b 3 [VARS] d d [EQ] ans = d * d [ANS] 4");
    int order[T];
    problem_role_order(&p, order);
    const int want[T] = {0, 5, 6, 1, 2, 3, 4, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
    for (int r = 0; r < T; r++)
        if (order[r] != want[r])
            g_test_fail_printf("role %d (%s) is position %d, want %d", r, role_label(r, 1),
                               order[r], want[r]);
    g_assert_cmpint(role_part_of_position(&p, 5), ==, ROLE_PART_REF);
    g_assert_cmpint(role_part_of_position(&p, 6), ==, ROLE_PART_REF_VAL);
    g_assert_cmpint(role_part_of_position(&p, 1), ==, ROLE_PART_OTHER_NAMES);
    g_assert_cmpint(role_part_of_position(&p, 8), ==, ROLE_PART_OTHER_VALS);
    g_assert_cmpint(role_part_of_position(&p, 16), ==, ROLE_PART_OP);
    g_assert_cmpint(role_part_of_position(&p, 15), ==, ROLE_PART_REST);
    g_assert_cmpint(role_part_of_position(&p, 0), ==, ROLE_PART_REST);
    g_assert_cmpstr(role_label(2, 1), ==, "ref_val");
    g_assert_cmpstr(role_label(16, 1), ==, "16 op");

    // Two referenced variables (b - a): b's pair, then a's, then c, d.
    Problem q = parse("[START] a 5 b 3 c 7 d 2 [VARS] b a [EQ] ans = b - a [ANS] -2");
    problem_role_order(&q, order);
    g_assert_cmpint(order[1], ==, 3);
    g_assert_cmpint(order[3], ==, 1);
    g_assert_cmpint(order[5], ==, 5);
    g_assert_cmpint(order[7], ==, 7);
    g_assert_cmpstr(role_label(3, 2), ==, "ref2");

    // The parts of a hand-made row.
    float row[T] = {0};
    row[6] = 0.5f;  // ref_val
    row[5] = 0.1f;  // ref
    row[2] = 0.1f;  // other value
    row[16] = 0.2f; // op
    row[18] = 0.1f; // rest
    float parts[ROLE_PARTS];
    row_role_parts(parts, row, &p);
    const float want_parts[ROLE_PARTS] = {0.1f, 0.5f, 0.0f, 0.1f, 0.2f, 0.1f};
    for (int k = 0; k < ROLE_PARTS; k++)
        g_assert_cmpfloat_with_epsilon(parts[k], want_parts[k], 1e-7f);
}

// ----------------------------------------------------------------------------
// Averages

// The exercise, first on its own: one problem's average is that problem.
static void test_average_of_one_is_itself(void)
{
    GPT model;
    test_tiny_model(&model, 12, 0.3f);
    Problem p = parse("[START] c 7 a 5 d 2 b 3 [VARS] d d [EQ] ans = d * d [ANS] 4");
    PatternAverage avg;
    pattern_average_init(&avg, model.config.n_layer, model.config.n_head);
    GError *error = NULL;
    g_assert_true(pattern_average_run(&avg, NULL, &model, &p, NULL, 1, NULL, &error));
    g_assert_no_error(error);
    g_assert_true(gpt_forward(&model, p.tokens, 1, NULL, NULL));
    int order[T];
    problem_role_order(&p, order);
    for (int l = 0; l < model.config.n_layer; l++) {
        for (int h = 0; h < model.config.n_head; h++) {
            const float *pattern = gpt_pattern(&model, l, 0, h);
            float mean[T * T], by_role[T * T];
            pattern_average_get(&avg, l, h, false, mean);
            pattern_average_get(&avg, l, h, true, by_role);
            for (int r = 0; r < T; r++) {
                for (int c = 0; c < T; c++) {
                    // Exact: a float summed into a double and divided by 1.
                    if (mean[r * T + c] != pattern[r * T + c]) {
                        g_test_fail_printf(
                            "layer %d head %d: the average of one problem has %g at row %d "
                            "column %d, the problem itself %g: does pattern_accumulate add "
                            "every cell into the sum?",
                            l, h, mean[r * T + c], r, c, pattern[r * T + c]);
                        goto done;
                    }
                    float want = order[c] <= order[r] ? pattern[order[r] * T + order[c]] : NAN;
                    float got = by_role[r * T + c];
                    if (!(got == want || (isnan(want) && isnan(got)))) {
                        g_test_fail_printf(
                            "layer %d head %d: the role view of one problem has %g at row %d "
                            "column %d, want %g (the problem's cell at row %d column %d): does "
                            "pattern_accumulate read pattern[order[r]][order[c]]?",
                            l, h, got, r, c, want, order[r], order[c]);
                        goto done;
                    }
                }
            }
        }
    }
done:
    pattern_average_free(&avg);
    gpt_free(&model);
}

// Averaged rows sum to 1, in both views, per head and over heads. Tolerance
// 1e-5: each pattern row sums to 1 within 20 float roundings (~1e-6), and the
// mean of such rows (summed in double) stays within that.
static void test_averaged_rows_sum_to_one(void)
{
    GPT model;
    test_tiny_model(&model, 13, 0.3f);
    enum { N = 400 };
    Problem *problems = g_new(Problem, N);
    test_problems(problems, N, ORDER_SHUFFLED, 17);
    size_t *index = g_new(size_t, N), count = 0;
    for (size_t i = 0; i < N; i++)
        if (problem_is_squaring(&problems[i]))
            index[count++] = i;
    g_assert_cmpuint(count, >=, 10);
    PatternAverage avg;
    pattern_average_init(&avg, model.config.n_layer, model.config.n_head);
    ProblemResult *results = g_new(ProblemResult, count);
    g_assert_true(pattern_average_run(&avg, results, &model, problems, index, count, NULL, NULL));
    g_assert_cmpuint(avg.count, ==, count);
    g_assert_cmpint(avg.n_ref, ==, 1);
    for (int l = 0; l < model.config.n_layer; l++) {
        for (int h = ALL_HEADS; h < model.config.n_head; h++) {
            for (int view = 0; view < 2; view++) {
                float mean[T * T];
                pattern_average_get(&avg, l, h, view == 1, mean);
                for (int r = 0; r < T; r++) {
                    double sum = 0.0;
                    for (int c = 0; c < T; c++)
                        if (!isnan(mean[r * T + c]))
                            sum += mean[r * T + c];
                    if (fabs(sum - 1.0) > 1e-5)
                        g_test_fail_printf("layer %d head %d (%s view): averaged row %d sums to "
                                           "%.7f, not 1: is the sum divided by the number of "
                                           "examples?",
                                           l, h, view ? "role" : "position", r, sum);
                }
            }
        }
    }
    // Row 18 sees every key up to itself in every problem: no NaN there.
    float by_role[T * T];
    pattern_average_get(&avg, 0, 0, true, by_role);
    for (int c = 0; c <= POS_ANS; c++)
        g_assert_false(isnan(by_role[POS_ANS * T + c]));
    g_assert_true(isnan(by_role[POS_ANS * T + POS_ANSWER]));
    // ... and the results came back in index order.
    g_assert_cmpint(results[count - 1].answer, ==, problems[index[count - 1]].tokens[POS_ANSWER]);
    g_free(results);
    pattern_average_free(&avg);
    g_free(index);
    g_free(problems);
    gpt_free(&model);
}

// The role profile: its parts sum to 1, its mean is the mean of the
// examples' parts and its interval is 1.96 sd / sqrt(n), checked against a
// direct computation from each example's pattern.
static void test_role_profile(void)
{
    GPT model;
    test_tiny_model(&model, 14, 0.3f);
    enum { N = 5 };
    Problem problems[N] = {
        parse("[START] a 5 b 3 c 7 d 2 [VARS] a a [EQ] ans = a * a [ANS] 25"),
        parse("[START] a 5 b 3 c 7 d 2 [VARS] b b [EQ] ans = b * b [ANS] 9"),
        parse("[START] a 1 b 0 c 4 d 9 [VARS] d d [EQ] ans = d * d [ANS] 81"),
        parse("[START] a 6 b 6 c 2 d 8 [VARS] c c [EQ] ans = c * c [ANS] 4"),
        parse("[START] a 0 b 1 c 2 d 3 [VARS] b b [EQ] ans = b * b [ANS] 1"),
    };
    PatternAverage avg;
    pattern_average_init(&avg, model.config.n_layer, model.config.n_head);
    g_assert_true(pattern_average_run(&avg, NULL, &model, problems, NULL, N, NULL, NULL));
    int l = 1, h = 1;
    double x[N][ROLE_PARTS];
    for (int i = 0; i < N; i++) {
        g_assert_true(gpt_forward(&model, problems[i].tokens, 1, NULL, NULL));
        float parts[ROLE_PARTS];
        row_role_parts(parts, gpt_pattern(&model, l, 0, h) + POS_ANS * T, &problems[i]);
        for (int k = 0; k < ROLE_PARTS; k++)
            x[i][k] = parts[k];
    }
    RoleProfile profile;
    role_profile(&profile, &avg, l, h);
    g_assert_cmpuint(profile.n, ==, N);
    double total = 0.0;
    for (int k = 0; k < ROLE_PARTS; k++) {
        double mean = 0.0, var = 0.0;
        for (int i = 0; i < N; i++)
            mean += x[i][k] / N;
        for (int i = 0; i < N; i++)
            var += (x[i][k] - mean) * (x[i][k] - mean) / (N - 1);
        // 1e-6: the parts are floats from slightly different batches.
        g_assert_cmpfloat_with_epsilon(profile.mean[k], mean, 1e-6);
        g_assert_cmpfloat_with_epsilon(profile.ci95[k], 1.96 * sqrt(var / N), 1e-6);
        total += profile.mean[k];
    }
    g_assert_cmpfloat_with_epsilon(total, 1.0, 1e-5);
    // Over all heads too, every layer.
    for (int layer = 0; layer < model.config.n_layer; layer++) {
        role_profile(&profile, &avg, layer, ALL_HEADS);
        total = 0.0;
        for (int k = 0; k < ROLE_PARTS; k++)
            total += profile.mean[k];
        if (fabs(total - 1.0) > 1e-5)
            g_test_fail_printf("layer %d: the role profile's parts sum to %.7f, not 1", layer,
                               total);
    }
    // One example: no interval.
    PatternAverage one;
    pattern_average_init(&one, model.config.n_layer, model.config.n_head);
    g_assert_true(pattern_average_run(&one, NULL, &model, problems, NULL, 1, NULL, NULL));
    role_profile(&profile, &one, 0, 0);
    g_assert_true(isnan(profile.ci95[0]));
    g_assert_false(isnan(profile.mean[0]));

    // The most different head of a set against itself: distance 0; against
    // another set, the distance is the largest over heads.
    int ml, mh;
    double d;
    g_assert_true(most_different_head(&avg, &avg, true, &ml, &mh, &d));
    g_assert_cmpfloat(d, ==, 0.0);
    g_assert_true(most_different_head(&avg, &one, true, &ml, &mh, &d));
    for (int layer = 0; layer < model.config.n_layer; layer++) {
        for (int head = 0; head < model.config.n_head; head++) {
            float a[T * T], b[T * T];
            pattern_average_get(&avg, layer, head, true, a);
            pattern_average_get(&one, layer, head, true, b);
            double here = 0.0;
            for (int j = 0; j <= POS_ANS; j++)
                here += fabs((double)a[POS_ANS * T + j] - b[POS_ANS * T + j]);
            g_assert_cmpfloat(here, <=, d);
            if (layer == ml && head == mh)
                g_assert_cmpfloat_with_epsilon(here, d, 1e-12);
        }
    }
    PatternAverage empty;
    pattern_average_init(&empty, model.config.n_layer, model.config.n_head);
    g_assert_false(most_different_head(&avg, &empty, true, &ml, &mh, &d));
    pattern_average_free(&empty);
    pattern_average_free(&one);
    pattern_average_free(&avg);
    gpt_free(&model);
}

// ----------------------------------------------------------------------------
// Kinds of wrong answers

static void test_classifier(void)
{
    // a=3 b=4 c=5 d=0, b * b = 16.
    Problem p = parse("[START] a 3 b 4 c 5 d 0 [VARS] b b [EQ] ans = b * b [ANS] 16");
    const struct {
        int predicted;
        int kind;
    } cases[] = {
        {16, FAILURE_NONE},
        {12, FAILURE_REF_X_OTHER},   // b * a
        {20, FAILURE_REF_X_OTHER},   // b * c
        {0, FAILURE_REF_X_OTHER},    // b * d (also d * d: keeping one operand wins)
        {9, FAILURE_OTHER_X_OTHER},  // a * a
        {25, FAILURE_OTHER_X_OTHER}, // c * c
        {15, FAILURE_OTHER_X_OTHER}, // a * c, though also within 2 of 16
        {17, FAILURE_NEAR_MISS},
        {14, FAILURE_NEAR_MISS},
        {13, FAILURE_OTHER},
        {81, FAILURE_OTHER},
        {-9, FAILURE_OTHER},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        int kind = classify_failure(&p, token_of_int(cases[i].predicted));
        if (kind != cases[i].kind)
            g_test_fail_printf("b * b = 16 with a=3 b=4 c=5 d=0: predicting %d is %s, want %s",
                               cases[i].predicted, failure_kind_name(kind),
                               failure_kind_name(cases[i].kind));
    }
    g_assert_cmpint(classify_failure(&p, TOK_START), ==, FAILURE_OTHER); // not a number
    // Not squaring: a - c = -2. c - a = 2 loses both operands; a - a keeps one.
    Problem q = parse("[START] a 3 b 4 c 5 d 0 [VARS] a c [EQ] ans = a - c [ANS] -2");
    g_assert_cmpint(classify_failure(&q, token_of_int(2)), ==, FAILURE_OTHER_X_OTHER);
    g_assert_cmpint(classify_failure(&q, token_of_int(-1)), ==, FAILURE_REF_X_OTHER); // a - b
    g_assert_cmpint(classify_failure(&q, token_of_int(-3)), ==, FAILURE_OTHER_X_OTHER); // d - a
    // a + c = 6 with a=1 b=9 c=5 d=8: no pair makes 7 or 11.
    Problem r = parse("[START] a 1 b 9 c 5 d 8 [VARS] a c [EQ] ans = a + c [ANS] 6");
    g_assert_cmpint(classify_failure(&r, token_of_int(7)), ==, FAILURE_NEAR_MISS);
    g_assert_cmpint(classify_failure(&r, token_of_int(11)), ==, FAILURE_OTHER);
    g_assert_cmpint(classify_failure(&r, token_of_int(10)), ==, FAILURE_REF_X_OTHER); // a + b

    // Counts and chance by hand: three wrong predictions.
    Problem set[4] = {
        p, // predicts 12: ref_x_other here
        parse("[START] a 1 b 2 c 6 d 7 [VARS] c c [EQ] ans = c * c [ANS] 36"), // predicts 49
        parse("[START] a 8 b 2 c 9 d 1 [VARS] a a [EQ] ans = a * a [ANS] 64"), // predicts 64: right
        parse("[START] a 2 b 2 c 2 d 2 [VARS] d d [EQ] ans = d * d [ANS] 4"),  // predicts 3
    };
    int predicted[4] = {token_of_int(12), token_of_int(49), token_of_int(64), token_of_int(3)};
    FailureCounts counts;
    count_failures(&counts, set, predicted, 4);
    g_assert_cmpuint(counts.n, ==, 3);
    g_assert_cmpuint(counts.count[FAILURE_REF_X_OTHER], ==, 1);
    g_assert_cmpuint(counts.count[FAILURE_OTHER_X_OTHER], ==, 1); // 49 = d * d
    g_assert_cmpuint(counts.count[FAILURE_NEAR_MISS], ==, 1);     // 3, one from 4
    g_assert_cmpuint(counts.count[FAILURE_OTHER], ==, 0);
    // Chance, each prediction against the two other wrong problems:
    //   12 vs set[1] (1,2,6,7; c*c): 2*6 = b*c ref_x_other; vs set[3] (all 2s): other
    //   49 vs set[0]: other;  vs set[3]: other
    //    3 vs set[0]: 3*... no pair gives 3 (a*a = 9): other; vs set[1]: other
    // (no near misses: 12 vs 4, 49 vs 16 and 4, 3 vs 16 and 36 are all > 2 away)
    g_assert_cmpfloat_with_epsilon(counts.chance[FAILURE_REF_X_OTHER], 0.5, 1e-12);
    g_assert_cmpfloat_with_epsilon(counts.chance[FAILURE_OTHER_X_OTHER], 0.0, 1e-12);
    g_assert_cmpfloat_with_epsilon(counts.chance[FAILURE_NEAR_MISS], 0.0, 1e-12);
    g_assert_cmpfloat_with_epsilon(counts.chance[FAILURE_OTHER], 2.5, 1e-12);
    g_assert_cmpfloat_with_epsilon(counts.chance_correct, 0.0, 1e-12);
    // One wrong prediction has nothing to compare with.
    count_failures(&counts, set, predicted, 1);
    g_assert_cmpuint(counts.n, ==, 1);
    g_assert_true(isnan(counts.chance[0]));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_add_earlier_exercises("/ch08", "2-5");
    g_test_add_func("/ch08/compare/results-and-split", test_results_and_split);
    g_test_add_func("/ch08/compare/role-order", test_role_order);
    g_test_add_func("/ch08/compare/average-of-one", test_average_of_one_is_itself);
    g_test_add_func("/ch08/compare/rows-sum-to-one", test_averaged_rows_sum_to_one);
    g_test_add_func("/ch08/compare/role-profile", test_role_profile);
    g_test_add_func("/ch08/compare/classifier", test_classifier);
    return g_test_run();
}
