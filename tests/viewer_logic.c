// viewer_logic.c: the viewer's logic without a display: the cached boost path
// (lib/viewer_boost.c) against the library's full forward pass, the analysis
// and readouts (lib/viewer_model.c) against chapter 8's and 9's functions,
// hit-testing and the tooltip and readout texts.
#include <locale.h>
#include <math.h>
#include <string.h>

#include <omp.h>

#include "compare.h"
#include "intervene.h"
#include "model.h"
#include "problem.h"
#include "testutil.h"
#include "viewer_boost.h"
#include "viewer_draw.h"
#include "viewer_model.h"

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
    boost_cache_run(cache, boost, run, cache->rows);

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

// The project's rule: same inputs, same bits, with 1 or 2 threads. A run
// splits its problems into fixed chunks, whatever the thread count.
static void test_cache_threads_bit_identical(void)
{
    GPT model;
    test_tiny_model(&model, 9, 0.3f);
    enum { N = 300 }; // two chunks of 128 and a rest
    Problem *problems = g_new(Problem, N);
    make_problems(problems, N, ORDER_SHUFFLED, 4);
    BoostCache cache;
    g_assert_true(boost_cache_build(&cache, &model, problems, N, 2, NULL));
    BoostRun one, two;
    boost_run_init(&one, &cache);
    boost_run_init(&two, &cache);
    Boost boost;
    boost_init_default(&boost, 3.0f);
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    boost_cache_run(&cache, &boost, &one, 2);
    omp_set_num_threads(2);
    boost_cache_run(&cache, &boost, &two, 2);
    omp_set_num_threads(threads);
    size_t rows = (size_t)model.config.n_layer * N * model.config.n_head * 2 * PROBLEM_LEN;
    g_assert_cmpmem(one.pattern, rows * sizeof(float), two.pattern, rows * sizeof(float));
    g_assert_cmpmem(one.scores, rows * sizeof(float), two.scores, rows * sizeof(float));
    g_assert_cmpmem(one.probs, (size_t)N * VOCAB_SIZE * sizeof(float), two.probs,
                    (size_t)N * VOCAB_SIZE * sizeof(float));
    boost_run_free(&one);
    boost_run_free(&two);
    boost_cache_free(&cache);
    gpt_free(&model);
    g_free(problems);
}

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
    boost_cache_run(&cache, &boost, &plain, 2);
    boost.amount = 4.0f;
    boost_cache_run(&cache, &boost, &boosted, 2);
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

// ----------------------------------------------------------------------------
// The analysis and the readouts, on the GUI tests' fixture: a tiny model with
// sharp random attention that gets 9 of the 192 squaring problems among 2,000
// test problems right.

static ViewerData *load_fixture(void)
{
    char *model = test_tiny_checkpoint("fixture.safetensors", 2, 0.3f);
    char *data = test_problem_file("fixture.txt", 2000, ORDER_FIXED, 2026);
    GError *error = NULL;
    ViewerData *d = viewer_data_load(model, data, &error);
    g_assert_no_error(error);
    g_assert_nonnull(d);
    g_assert_cmpuint(d->good.count, >, 0);
    g_assert_cmpuint(d->bad.count, >, 0);
    g_free(model);
    g_free(data);
    return d;
}

// The viewer's boost (cached rows) against chapter 9's intervene_run (full
// forward passes): the readouts and the boosted subset's averaged pattern.
static void test_boost_matches_intervene(void)
{
    ViewerData *d = load_fixture();
    Boost boost;
    viewer_boost_settings(&boost, 4.0, true, true, BOOST_SCOPE_ALL, 0, 0);
    ViewerBoost *vb = viewer_boost_new(d);
    viewer_boost_compute(vb, d, &boost, 2);

    GError *error = NULL;
    Intervention bad, good;
    PatternAverage boosted;
    pattern_average_init(&boosted, viewer_data_n_layer(d), viewer_data_n_head(d));
    g_assert_true(intervene_run(&bad, &d->model, d->squaring, d->bad.index, d->bad.count, &boost,
                                d->results, &boosted, &error));
    g_assert_true(intervene_run(&good, &d->model, d->squaring, d->good.index, d->good.count,
                                &boost, d->results, NULL, &error));
    g_assert_no_error(error);
    const ViewerReadouts *r = &vb->readouts;
    g_assert_cmpuint(r->fixed, ==, bad.fixed);
    g_assert_cmpuint(r->broken, ==, good.broken);
    // The probabilities agree to float rounding (sgemm blocks rows differently
    // for 2 rows per problem than for 20: ~1e-7 relative, see the cache
    // tests), so their means agree to 1e-6; before the boost they are the
    // same numbers.
    g_assert_cmpfloat_with_epsilon(r->boosted_p, bad.mean_p_after, 1e-6);
    g_assert_cmpfloat_with_epsilon(r->good_boosted_p, good.mean_p_after, 1e-6);
    g_assert_cmpfloat_with_epsilon(r->bad_p, bad.mean_p_before, 1e-12);
    g_assert_cmpfloat_with_epsilon(r->good_p, good.mean_p_before, 1e-12);

    // Every layer, head (and mean), by position and in role order.
    double worst = 0.0;
    for (int by_role = 0; by_role < 2; by_role++) {
        for (int l = 0; l < viewer_data_n_layer(d); l++) {
            for (int h = ALL_HEADS; h < viewer_data_n_head(d); h++) {
                float mine[VIEWER_CELLS], theirs[VIEWER_CELLS];
                viewer_pattern(d, vb, VIEW_BOOSTED, l, h, by_role, mine);
                pattern_average_get(&boosted, l, h, by_role, theirs);
                for (int i = 0; i < VIEWER_CELLS; i++) {
                    g_assert_cmpint(isnan(mine[i]), ==, isnan(theirs[i]));
                    if (!isnan(mine[i]))
                        worst = fmax(worst, fabs(mine[i] - theirs[i]));
                }
            }
        }
    }
    g_test_message("boosted average: max |diff| %.3g", worst);
    g_assert_cmpfloat(worst, <=, 1e-6); // float means of ~200 sums in double
    pattern_average_free(&boosted);
    intervention_free(&bad);
    intervention_free(&good);
    viewer_boost_free(vb);
    viewer_data_unref(d);
}

static void test_boost_settings(void)
{
    Boost b;
    viewer_boost_settings(&b, 2.5, true, false, BOOST_SCOPE_ALL, 3, 1);
    g_assert_cmpfloat(b.amount, ==, 2.5f);
    g_assert_true(b.boost_values && !b.boost_operator);
    g_assert_true(b.target[0][0] && b.target[5][7]);
    viewer_boost_settings(&b, -1.0, false, true, BOOST_SCOPE_LAYER, 3, 1);
    g_assert_true(b.target[3][0] && b.target[3][7]);
    g_assert_false(b.target[2][1] || b.target[4][1]);
    viewer_boost_settings(&b, 1.0, true, true, BOOST_SCOPE_HEAD, 3, 1);
    g_assert_true(b.target[3][1]);
    g_assert_false(b.target[3][0] || b.target[3][2] || b.target[0][1]);
    // The mean of heads selected: the head scope covers the layer.
    viewer_boost_settings(&b, 1.0, true, true, BOOST_SCOPE_HEAD, 2, ALL_HEADS);
    g_assert_true(b.target[2][0] && b.target[2][7]);
    g_assert_false(b.target[1][0]);
}

// ----------------------------------------------------------------------------
// Hit-testing: pointer position -> cell

static void test_grid_hit_testing(void)
{
    GridLayout l;
    grid_layout(&l, 6, 9, 340, 250);
    g_assert_cmpfloat(l.thumb, >=, 2.0);
    for (int row = 0; row < 6; row++) {
        for (int col = 0; col < 9; col++) {
            double x, y;
            grid_cell_origin(&l, row, col, &x, &y);
            int r, c;
            g_assert_true(grid_cell_at(&l, x + l.thumb / 2, y + l.thumb / 2, &r, &c));
            g_assert_cmpint(r, ==, row);
            g_assert_cmpint(c, ==, col);
            // The thumbnail's corners belong to it; the gap after it to none.
            g_assert_true(grid_cell_at(&l, x, y, &r, &c) && r == row && c == col);
            g_assert_true(grid_cell_at(&l, x + l.thumb - 0.01, y + l.thumb - 0.01, &r, &c));
            g_assert_false(grid_cell_at(&l, x + l.thumb + l.gap / 2, y + l.thumb / 2, &r, &c));
            g_assert_cmpint(r, ==, -1);
            g_assert_cmpint(c, ==, -1);
        }
    }
    int r, c;
    g_assert_false(grid_cell_at(&l, l.origin_x - 1, l.origin_y + 1, &r, &c));
    g_assert_false(grid_cell_at(&l, l.origin_x + 1, l.origin_y - 1, &r, &c));
    g_assert_false(grid_cell_at(&l, 339, 249, &r, &c));
    g_assert_false(grid_cell_at(&l, NAN, 10, &r, &c));
}

// The main view's hit-testing: viz's row layout, as the heatmap widget uses it.
static void test_panel_hit_testing(void)
{
    Heatmap panels[3];
    for (int p = 0; p < 3; p++)
        heatmap_init(&panels[p], HEATMAP_PATTERN, NULL);
    HeatmapRowLayout layout;
    heatmap_row_layout(&layout, panels, 3, "title", 0, 0, 1200, 500);
    for (int p = 0; p < 3; p++) {
        double x, y, side;
        heatmap_cell_rect(&layout.panels[p], 18, 4, &x, &y, &side);
        int panel, row, col;
        g_assert_true(heatmap_row_cell_at(&layout, x + side / 2, y + side / 2, &panel, &row, &col));
        g_assert_cmpint(panel, ==, p);
        g_assert_cmpint(row, ==, 18);
        g_assert_cmpint(col, ==, 4);
    }
    int panel, row, col;
    g_assert_false(heatmap_row_cell_at(&layout, 1, 1, &panel, &row, &col));
    g_assert_cmpint(panel, ==, -1);
}

// ----------------------------------------------------------------------------
// Texts

static void test_cell_tooltip(void)
{
    ViewerData *d = load_fixture();
    Boost boost;
    viewer_boost_settings(&boost, 2.0, true, true, BOOST_SCOPE_ALL, 0, 0);
    ViewerBoost *vb = viewer_boost_new(d);
    viewer_boost_compute(vb, d, &boost, 2);

    char *text = viewer_cell_tooltip(d, vb, 1, 0, false, 18, 4);
    g_test_message("tooltip:\n%s", text);
    g_assert_nonnull(strstr(text, "query 18 [ANS]"));
    g_assert_nonnull(strstr(text, "key 4 b_val"));
    g_assert_nonnull(strstr(text, "layer 1 head 0"));
    // The three weights, as viewer_pattern has them, in the C locale.
    for (int s = 0; s < VIEW_SUBSETS; s++) {
        float m[VIEWER_CELLS], raw[VIEWER_CELLS];
        viewer_pattern(d, vb, s, 1, 0, false, m);
        viewer_raw_scores(d, vb, s, 1, 0, false, raw);
        char expect[64], number[G_ASCII_DTOSTR_BUF_SIZE];
        g_snprintf(expect, sizeof expect, "%s %s", view_subset_name(s),
                   g_ascii_formatd(number, sizeof number, "%.3f", m[18 * VIEWER_T + 4]));
        g_assert_nonnull(strstr(text, expect));
        g_snprintf(expect, sizeof expect, "%s %s", view_subset_name(s),
                   g_ascii_formatd(number, sizeof number, "%.2f", raw[18 * VIEWER_T + 4]));
        g_assert_nonnull(strstr(text, expect));
    }
    g_free(text);

    // The boost's effect shows in the boosted weight of a boosted key: for
    // every bad problem of a fixed-order test set, the operator at 16.
    float bad[VIEWER_CELLS], boosted[VIEWER_CELLS];
    viewer_pattern(d, vb, VIEW_BAD, 0, 0, false, bad);
    viewer_pattern(d, vb, VIEW_BOOSTED, 0, 0, false, boosted);
    g_assert_cmpfloat(boosted[18 * VIEWER_T + 16], >, bad[18 * VIEWER_T + 16]);
    // Rows the boost cannot change are the bad subset's, bit for bit.
    g_assert_cmpmem(boosted, 18 * VIEWER_T * sizeof(float), bad, 18 * VIEWER_T * sizeof(float));

    text = viewer_cell_tooltip(d, vb, 0, ALL_HEADS, false, 3, 10);
    g_assert_nonnull(strstr(text, "masked"));
    g_assert_nonnull(strstr(text, "mean of heads"));
    g_free(text);
    text = viewer_cell_tooltip(d, vb, 0, 1, true, 18, 2);
    g_assert_nonnull(strstr(text, "key ref_val (role order)"));
    g_free(text);
    g_assert_null(viewer_cell_tooltip(d, vb, 0, 0, false, -1, 3));
    g_assert_null(viewer_cell_tooltip(d, vb, 0, 0, false, 3, 20));

    // An example's tooltip names its tokens and roles.
    size_t i = d->bad.index[0];
    Capture before, after;
    ProblemResult rb, ra;
    GError *error = NULL;
    g_assert_true(viewer_example_capture(d, i, &boost, &before, &rb, &after, &ra, &error));
    g_assert_no_error(error);
    g_assert_cmpfloat(rb.p_correct, ==, d->results[i].p_correct);
    text = viewer_example_tooltip(d, i, &before, &after, 0, 0, 18, 16);
    g_test_message("example tooltip:\n%s", text);
    g_assert_nonnull(strstr(text, "query 18 '[ANS]'"));
    g_assert_nonnull(strstr(text, "key 16 '*' (op)"));
    g_assert_nonnull(strstr(text, "boosted"));
    g_free(text);
    char *top = viewer_top5_text(&rb);
    g_assert_cmpint(test_count_lines(top), ==, 5);
    g_free(top);
    capture_free(&before);
    capture_free(&after);
    viewer_boost_free(vb);
    viewer_data_unref(d);
}

static void test_readouts_text(void)
{
    ViewerReadouts r = {.n_good = 120, .n_bad = 35, .good_p = 0.9125, .bad_p = 0.1234,
                        .boosted_p = 0.25, .good_boosted_p = NAN, .fixed = 3, .broken = 1};
    // Whatever the locale says, a decimal point (the test fails, rather than
    // passing vacuously, if the German locale is missing).
    if (!setlocale(LC_ALL, "de_DE.UTF-8")) {
        g_test_fail_printf("locale de_DE.UTF-8 is missing: generate it (tools/do does, or sed -i "
                           "'s/^# *de_DE.UTF-8/de_DE.UTF-8/' /etc/locale.gen && locale-gen)");
        return;
    }
    char *text = viewer_readouts_text(&r);
    setlocale(LC_ALL, "C");
    g_test_message("readouts:\n%s", text);
    g_assert_nonnull(strstr(text, "good           0.912  (n = 120)"));
    g_assert_nonnull(strstr(text, "bad            0.123  (n = 35)"));
    g_assert_nonnull(strstr(text, "bad, boosted   0.250"));
    g_assert_nonnull(strstr(text, "good, boosted  n/a"));
    g_assert_nonnull(strstr(text, "fixed   3 of 35 bad"));
    g_assert_nonnull(strstr(text, "broken  1 of 120 good"));
    g_free(text);
}

static void test_load_errors(void)
{
    GError *error = NULL;
    char *missing = test_path("missing.safetensors");
    g_assert_null(viewer_data_load(missing, NULL, &error));
    g_assert_nonnull(error);
    g_assert_nonnull(strstr(error->message, "missing.safetensors"));
    g_clear_error(&error);
    // A problem file without a single squaring problem: nothing to compare.
    char *model = test_tiny_checkpoint("model.safetensors", 1, 0.02f);
    char *data = test_write_file("no_squares.txt",
                                 "[START] a 5 b 3 c 7 d 2 [VARS] a c [EQ] ans = a * c [ANS] 35\n");
    g_assert_null(viewer_data_load(model, data, &error));
    g_assert_nonnull(error);
    g_assert_nonnull(strstr(error->message, "no_squares.txt"));
    g_clear_error(&error);
    g_free(missing);
    g_free(model);
    g_free(data);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/viewer/boost-cache/fixed-two-rows", test_cache_fixed_two_rows);
    g_test_add_func("/viewer/boost-cache/shuffled-one-row", test_cache_shuffled_one_row);
    g_test_add_func("/viewer/boost-cache/boost-changes-row", test_cache_boost_changes_row);
    g_test_add_func("/viewer/boost-cache/threads-bit-identical", test_cache_threads_bit_identical);
    g_test_add_func("/viewer/model/boost-matches-intervene", test_boost_matches_intervene);
    g_test_add_func("/viewer/model/boost-settings", test_boost_settings);
    g_test_add_func("/viewer/model/load-errors", test_load_errors);
    g_test_add_func("/viewer/hit-testing/grid", test_grid_hit_testing);
    g_test_add_func("/viewer/hit-testing/panels", test_panel_hit_testing);
    g_test_add_func("/viewer/text/cell-tooltip", test_cell_tooltip);
    g_test_add_func("/viewer/text/readouts", test_readouts_text);
    int status = g_test_run();
    test_release_font_caches();
    return status;
}
