// bench_viewer.c: how long the viewer's live boost takes for one slider
// position: the boosted panel and the readouts, recomputed over the whole bad
// subset of a model's squaring problems. The target is one frame, 16 ms, on
// two cores.
//
//   bench_viewer [CKPT [PROBLEMS]]
//
// Default: assets/fixed.safetensors with the experiment's test set. Prints the
// median and 90th percentile of the cached path (lib/viewer_boost.c, rows 18
// and 19 only), the same for everything the viewer recomputes per step (good
// and bad subsets), and the full forward pass the cache replaces.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <glib.h>
#include <omp.h>

#include "intervene.h"
#include "viewer_model.h"

#ifndef LOOPLENS_ASSETS_DIR
#define LOOPLENS_ASSETS_DIR "assets"
#endif

#define REPEATS 40

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// Median and 90th percentile of n timings (sorted in place), in ms, and the
// mean CPU time of all threads per step (what the step costs on an idle
// machine, whatever else shares the cores now).
static void summarise(const char *what, double *ms, int n, double cpu_ms)
{
    qsort(ms, n, sizeof *ms, compare_doubles);
    printf("%-54s median %7.2f ms  p90 %7.2f ms  (CPU %6.2f ms)\n", what, ms[n / 2],
           ms[(n * 9) / 10], cpu_ms / n);
}

static double now_ms(void)
{
    return g_get_monotonic_time() / 1000.0;
}

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// The amount of step i: a sweep over the slider's range, as a drag does.
static double amount_of(int i)
{
    return -4.0 + 12.0 * (i % 16) / 15.0;
}

int main(int argc, char **argv)
{
    char *default_model = g_build_filename(LOOPLENS_ASSETS_DIR, "fixed.safetensors", NULL);
    const char *model_path = argc > 1 ? argv[1] : default_model;
    const char *data_path = argc > 2 ? argv[2] : NULL;
    GError *error = NULL;
    double t0 = now_ms();
    ViewerData *d = viewer_data_load(model_path, data_path, &error);
    if (!d) {
        fprintf(stderr, "bench_viewer: %s\n", error->message);
        return 1;
    }
    double load_ms = now_ms() - t0;
    size_t cache_bytes =
        boost_cache_bytes(&d->cache[VIEW_GOOD]) + boost_cache_bytes(&d->cache[VIEW_BAD]);
    printf("model %s (%s), %d threads\n", model_path, order_name(d->order), omp_get_max_threads());
    printf("%zu test problems, %zu squaring: %zu good, %zu bad; load and analysis %.2f s, "
           "boost caches %.0f MB\n",
           d->test_count, d->n_squaring, d->good.count, d->bad.count, load_ms / 1000.0,
           cache_bytes / 1048576.0);

    // The bad subset only: the boosted panel and its readouts (the target),
    // with row 18 alone (while the slider moves) and with rows 18 and 19 (the
    // whole panel, once it rests).
    const BoostCache *bad = &d->cache[VIEW_BAD];
    ViewerBoost *vb = viewer_boost_new(d);
    const BoostRun *run = &vb->run[VIEW_BAD];
    double ms[REPEATS], cpu;
    Boost boost;
    for (int rows = 1; rows <= bad->rows; rows++) {
        cpu = 0.0;
        for (int i = -3; i < REPEATS; i++) { // 3 warm-up steps
            viewer_boost_settings(&boost, amount_of(i + 3), true, true, BOOST_SCOPE_ALL, 0, 0);
            double start = now_ms(), cpu_start = cpu_ms();
            vb->boost = boost;
            boost_cache_run(bad, &boost, &vb->run[VIEW_BAD], rows);
            // What the panel and readouts then take from the run: the boosted
            // average of one head, and the mean p_correct and fixed count.
            float panel[VIEWER_CELLS];
            viewer_pattern(d, vb, VIEW_BOOSTED, 0, 0, false, panel);
            double sum = 0.0;
            size_t fixed = 0;
            for (int n = 0; n < run->count; n++) {
                sum += run->p_correct[n];
                fixed += run->predicted[n] == bad->problems[n].tokens[POS_ANSWER];
            }
            if (i >= 0) {
                ms[i] = now_ms() - start;
                cpu += cpu_ms() - cpu_start;
            }
            if (i == REPEATS - 1 && rows == 1)
                printf("(a step: amount %+.2f, boosted mean p_correct %.4f, fixed %zu)\n",
                       boost.amount, run->count ? sum / run->count : NAN, fixed);
        }
        char what[128];
        g_snprintf(what, sizeof what, "slider step, bad subset (%zu), row%s:", d->bad.count,
                   rows == 1 ? " 18" : "s 18-19");
        summarise(what, ms, REPEATS, cpu);
    }
    viewer_boost_free(vb);

    // Everything the viewer recomputes per step of a moving slider: both
    // subsets (the good one for the "broken" count) and the readouts.
    vb = viewer_boost_new(d);
    cpu = 0.0;
    for (int i = -3; i < REPEATS; i++) {
        viewer_boost_settings(&boost, amount_of(i + 3), true, true, BOOST_SCOPE_ALL, 0, 0);
        double start = now_ms(), cpu_start = cpu_ms();
        viewer_boost_compute(vb, d, &boost, 1);
        float panel[VIEWER_CELLS];
        viewer_pattern(d, vb, VIEW_BOOSTED, 0, 0, false, panel);
        if (i >= 0) {
            ms[i] = now_ms() - start;
            cpu += cpu_ms() - cpu_start;
        }
    }
    char what[128];
    g_snprintf(what, sizeof what, "slider step, good + bad (%zu), row 18:", d->n_squaring);
    summarise(what, ms, REPEATS, cpu);
    viewer_boost_free(vb);

    // The full forward pass the cache replaces, on the bad subset.
    int full_repeats = 5;
    cpu = 0.0;
    for (int i = 0; i < full_repeats; i++) {
        double cpu_start = cpu_ms();
        viewer_boost_settings(&boost, amount_of(i), true, true, BOOST_SCOPE_ALL, 0, 0);
        Intervention iv;
        double start = now_ms();
        if (!intervene_run(&iv, &d->model, d->squaring, d->bad.index, d->bad.count, &boost,
                           d->results, NULL, &error)) {
            fprintf(stderr, "bench_viewer: %s\n", error->message);
            return 1;
        }
        ms[i] = now_ms() - start;
        cpu += cpu_ms() - cpu_start;
        intervention_free(&iv);
    }
    summarise("for comparison, full gpt_forward, bad subset:", ms, full_repeats, cpu);

    viewer_data_unref(d);
    g_free(default_model);
    return 0;
}
