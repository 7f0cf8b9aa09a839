// viewer_logic.c: the viewer's logic without a display: the cached boost path
// (lib/viewer_boost.c) against the library's full forward pass.
#include <math.h>
#include <string.h>

#include "model.h"
#include "problem.h"
#include "testutil.h"
#include "viewer_boost.h"

// Float sums done in a different grouping (a batch of 2 rows instead of 20 per
// problem in sgemm) may differ in the last bits; 1e-5 is ~100 ulps of the
// largest weights and scores involved and far below anything a picture shows.
#define CACHE_TOLERANCE 1e-5

static void make_problems(Problem *out, int count, DefinitionOrder order, uint64_t seed)
{
    ProblemStream stream;
    problem_stream_init(&stream, SPLIT_TEST, order, seed);
    for (int i = 0; i < count; i++)
        problem_stream_next(&stream, &out[i]);
}

// Compares a cache run with gpt_forward under the same boost, every layer,
// head, recomputed row and the answer distribution.
static void check_run_matches_forward(GPT *model, const BoostCache *cache, BoostRun *run,
                                      const Boost *boost)
{
    const GPTConfig *cfg = &model->config;
    int N = cache->count, T = cfg->block_size, V = cfg->vocab_size;
    boost_cache_run(cache, boost, run);

    int *tokens = g_new(int, (size_t)N * T);
    for (int n = 0; n < N; n++)
        memcpy(tokens + (size_t)n * T, cache->problems[n].tokens, T * sizeof(int));
    GError *error = NULL;
    g_assert_true(gpt_forward(model, tokens, N, boost, &error));
    g_assert_no_error(error);
    g_free(tokens);

    double worst_pattern = 0, worst_score = 0, worst_prob = 0;
    for (int n = 0; n < N; n++) {
        for (int l = 0; l < cfg->n_layer; l++) {
            for (int h = 0; h < cfg->n_head; h++) {
                for (int r = 0; r < cache->rows; r++) {
                    const float *want_p = gpt_pattern(model, l, n, h) + (POS_ANS + r) * T;
                    const float *want_s = gpt_scores(model, l, n, h) + (POS_ANS + r) * T;
                    const float *got_p = boost_run_pattern_row(run, cfg, l, n, h, r);
                    const float *got_s = boost_run_scores_row(run, cfg, l, n, h, r);
                    for (int j = 0; j < T; j++) {
                        worst_pattern = fmax(worst_pattern, fabs(got_p[j] - want_p[j]));
                        if (isinf(want_s[j])) {
                            // A masked cell must stay masked, not become a number.
                            g_assert_true(isinf(got_s[j]) && got_s[j] < 0);
                        } else {
                            worst_score = fmax(worst_score, fabs(got_s[j] - want_s[j]));
                        }
                    }
                }
            }
        }
        const float *want = gpt_probs(model, n);
        for (int v = 0; v < V; v++)
            worst_prob = fmax(worst_prob, fabs(run->probs[(size_t)n * V + v] - want[v]));
        g_assert_cmpfloat_with_epsilon(run->p_correct[n],
                                       want[cache->problems[n].tokens[POS_ANSWER]],
                                       CACHE_TOLERANCE);
    }
    g_test_message("amount %g: max |diff| pattern %.3g, scores %.3g, probs %.3g", boost->amount,
                   worst_pattern, worst_score, worst_prob);
    g_assert_cmpfloat(worst_pattern, <=, CACHE_TOLERANCE);
    g_assert_cmpfloat(worst_score, <=, CACHE_TOLERANCE);
    g_assert_cmpfloat(worst_prob, <=, CACHE_TOLERANCE);
}

// count > 64 makes the cache grow past its first allocation and the build
// take more than one batch.
static void check_cache_for(DefinitionOrder order, int rows, int count)
{
    GPTConfig cfg;
    g_assert_true(gpt_config_preset("default", &cfg));
    GPT model;
    GError *error = NULL;
    g_assert_true(gpt_create(&model, &cfg, &error));
    // A larger std than training's 0.02 so the patterns are peaked and a
    // wrong key or a misplaced boost shows up as a large difference.
    gpt_init_random_std(&model, 7, 0.1f);
    Problem *problems = g_new(Problem, count);
    make_problems(problems, count, order, 11);

    BoostCache cache;
    g_assert_true(boost_cache_build(&cache, &model, problems, count, rows, &error));
    g_assert_no_error(error);
    BoostRun run;
    boost_run_init(&run, &cache);

    Boost boost;
    boost_init_default(&boost, 2.0f); // every layer and head
    check_run_matches_forward(&model, &cache, &run, &boost);
    boost_init_default(&boost, -4.0f);
    boost.boost_operator = false;
    check_run_matches_forward(&model, &cache, &run, &boost);
    // One head of a middle layer: layers 0..2 come from the cache.
    boost_init_default(&boost, 8.0f);
    memset(boost.target, 0, sizeof boost.target);
    boost.target[3][5] = true;
    boost.boost_values = false;
    check_run_matches_forward(&model, &cache, &run, &boost);
    // Nothing targeted: the cached unboosted rows.
    boost_init_default(&boost, 8.0f);
    boost.boost_values = boost.boost_operator = false;
    check_run_matches_forward(&model, &cache, &run, &boost);

    boost_run_free(&run);
    boost_cache_free(&cache);
    gpt_free(&model);
    g_free(problems);
}

static void test_cache_fixed_two_rows(void) { check_cache_for(ORDER_FIXED, 2, 12); }
static void test_cache_shuffled_one_row(void) { check_cache_for(ORDER_SHUFFLED, 1, 70); }

// A boost changes the answer row: the run must not just hand back the cache.
static void test_cache_boost_changes_row(void)
{
    GPTConfig cfg;
    g_assert_true(gpt_config_preset("tiny", &cfg));
    GPT model;
    g_assert_true(gpt_create(&model, &cfg, NULL));
    gpt_init_random_std(&model, 3, 0.2f);
    Problem problem;
    make_problems(&problem, 1, ORDER_FIXED, 5);
    BoostCache cache;
    g_assert_true(boost_cache_build(&cache, &model, &problem, 1, 2, NULL));
    BoostRun plain, boosted;
    boost_run_init(&plain, &cache);
    boost_run_init(&boosted, &cache);
    Boost boost;
    boost_init_default(&boost, 0.0f);
    boost_cache_run(&cache, &boost, &plain);
    boost.amount = 4.0f;
    boost_cache_run(&cache, &boost, &boosted);
    const float *before = boost_run_pattern_row(&plain, &cfg, 0, 0, 0, 0);
    const float *after = boost_run_pattern_row(&boosted, &cfg, 0, 0, 0, 0);
    // +4 on the operator's raw score multiplies its share by e^4 before
    // renormalising: it must grow.
    g_assert_cmpfloat(after[POS_OP], >, before[POS_OP] + 0.01);
    boost_run_free(&plain);
    boost_run_free(&boosted);
    boost_cache_free(&cache);
    gpt_free(&model);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/viewer/boost-cache/fixed-two-rows", test_cache_fixed_two_rows);
    g_test_add_func("/viewer/boost-cache/shuffled-one-row", test_cache_shuffled_one_row);
    g_test_add_func("/viewer/boost-cache/boost-changes-row", test_cache_boost_changes_row);
    return g_test_run();
}
