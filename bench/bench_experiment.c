// bench_experiment.c: how fast `looplens experiment` evaluates a model's test
// set, the bulk of its run time: 12,000 problems through the model in batches
// of EVAL_BATCH, once with gpt_forward and once with gpt_forward_shared (each
// shared prefix computed once, attention hooks of the squaring problems only,
// as lib/experiment.c calls it). It also checks that the two give the same
// answer distributions, bit for bit.
//
//   bench-experiment [--threads N]... [CKPT]...
//
// Default: the shipped models (assets/fixed.safetensors and
// assets/shuffled.safetensors), 1 and 2 threads. Prints problems per second,
// the best of 3 repetitions, as the machine may be busy with other work.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <omp.h>

#include "checkpoint.h"
#include "compare.h"
#include "experiment.h"

#ifndef LOOPLENS_ASSETS_DIR
#define LOOPLENS_ASSETS_DIR "assets"
#endif

#define REPEATS 3
#define T PROBLEM_LEN

// Runs the problems through the model in batches of EVAL_BATCH; probs (count,V)
// gets every answer distribution. Returns the seconds taken.
static double evaluate(GPT *model, const Problem *problems, size_t count, bool shared,
                       float *probs)
{
    int V = model->config.vocab_size;
    int tokens[EVAL_BATCH * T];
    bool squaring[EVAL_BATCH];
    GError *error = NULL;
    gint64 start_time = g_get_monotonic_time();
    for (size_t start = 0; start < count; start += EVAL_BATCH) {
        int B = count - start < EVAL_BATCH ? (int)(count - start) : EVAL_BATCH;
        for (int b = 0; b < B; b++) {
            memcpy(tokens + b * T, problems[start + b].tokens, sizeof(int) * T);
            squaring[b] = problem_is_squaring(&problems[start + b]);
        }
        bool ok = shared ? gpt_forward_shared(model, tokens, B, squaring, &error)
                         : gpt_forward(model, tokens, B, NULL, &error);
        if (!ok) {
            fprintf(stderr, "bench-experiment: %s\n", error->message);
            exit(1);
        }
        memcpy(probs + start * V, model->acts.probs, (size_t)B * V * sizeof(float));
    }
    return (g_get_monotonic_time() - start_time) / 1e6;
}

static void bench(const char *path, int threads)
{
    GPT model;
    DefinitionOrder order;
    GError *error = NULL;
    if (!checkpoint_load(path, &model, &order, &error)) {
        fprintf(stderr, "bench-experiment: %s\n", error->message);
        exit(1);
    }
    omp_set_num_threads(threads);
    size_t count = EXPERIMENT_TEST_COUNT;
    Problem *problems = g_new(Problem, count);
    ProblemStream stream;
    problem_stream_init(&stream, SPLIT_TEST, order, EXPERIMENT_TEST_SEED);
    for (size_t i = 0; i < count; i++)
        problem_stream_next(&stream, &problems[i]);
    size_t V = model.config.vocab_size;
    float *full = g_new(float, count * V), *shared = g_new(float, count * V);
    double best_full = INFINITY, best_shared = INFINITY;
    for (int r = 0; r < REPEATS; r++) {
        best_full = fmin(best_full, evaluate(&model, problems, count, false, full));
        best_shared = fmin(best_shared, evaluate(&model, problems, count, true, shared));
    }
    bool same = memcmp(full, shared, count * V * sizeof(float)) == 0;
    char *name = experiment_model_name(path);
    printf("%-10s %d thread%s  gpt_forward %7.0f problems/s  gpt_forward_shared %7.0f "
           "problems/s  (%.2fx)  %s\n",
           name, threads, threads == 1 ? " " : "s", count / best_full, count / best_shared,
           best_full / best_shared, same ? "same bits" : "DIFFERENT RESULTS");
    g_free(name);
    g_free(full);
    g_free(shared);
    g_free(problems);
    gpt_free(&model);
    if (!same)
        exit(1);
}

int main(int argc, char **argv)
{
    const char *paths[8];
    int threads[8], n_paths = 0, n_threads = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc && n_threads < 8) {
            threads[n_threads++] = atoi(argv[++i]);
        } else if (argv[i][0] != '-' && n_paths < 8) {
            paths[n_paths++] = argv[i];
        } else {
            fprintf(stderr, "usage: bench-experiment [--threads N]... [CKPT]...\n");
            return 2;
        }
    }
    char *defaults[2] = {g_build_filename(LOOPLENS_ASSETS_DIR, "fixed.safetensors", NULL),
                         g_build_filename(LOOPLENS_ASSETS_DIR, "shuffled.safetensors", NULL)};
    if (n_paths == 0)
        paths[n_paths++] = defaults[0], paths[n_paths++] = defaults[1];
    if (n_threads == 0)
        threads[n_threads++] = 1, threads[n_threads++] = 2;
    printf("%d test problems per model, batches of %d; best of %d\n", EXPERIMENT_TEST_COUNT,
           EVAL_BATCH, REPEATS);
    for (int p = 0; p < n_paths; p++)
        for (int t = 0; t < n_threads; t++)
            bench(paths[p], threads[t]);
    g_free(defaults[0]);
    g_free(defaults[1]);
    return 0;
}
