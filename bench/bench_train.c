// bench_train.c: how fast chapter 6's training step and the evaluation run.
//
//   bench-train [--preset NAME]... [--threads N]... [--steps N] [--batch B]
//
// For each preset (default: default and seed) and thread count (default: 1
// and 2) it times training steps (forward, backward, AdamW; answer-only loss,
// batch 64) and evaluation forward passes, after two untimed warm-up steps,
// and prints problems per second and GFLOP/s: the best of 3 repetitions, as
// the machine may be busy with other work.
//
// FLOPs are counted the usual way, as if every position were computed in
// full: a forward pass does 2 FLOPs per multiply-add of every matmul (c_attn,
// attn.c_proj, c_fc, mlp.c_proj at all 20 positions; the output layer at
// position 18 only) and of attention (q.k for all 20x20 pairs and the
// pattern-weighted sum of v, causal mask ignored); a training step counts 3x
// the forward (the backward computes two products per forward product).
// LayerNorm, GELU, softmax and AdamW are not counted. The answer-only
// shortcut in gpt_backward skips some of that work, so the rate is an
// effective one, comparable with a dense implementation such as PyTorch's.
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "train.h"

#define REPEATS 3

static double forward_flops_per_problem(const GPTConfig *c)
{
    double T = BLOCK_SIZE, L = c->n_layer, C = c->d_model, F = c->d_ff, V = c->vocab_size;
    double matmuls = T * L * (3 * C * C + C * C + 2 * C * F);
    double attention = L * 2 * T * T * C;
    double output = C * V;
    return 2 * (matmuls + attention + output);
}

static void bench(const char *preset, int threads, int steps, int batch)
{
    GPTConfig config;
    if (!gpt_config_preset(preset, &config)) {
        fprintf(stderr, "bench-train: unknown preset '%s'\n", preset);
        exit(1);
    }
    omp_set_num_threads(threads);
    GError *error = NULL;
    GPT model;
    Trainer trainer;
    TrainConfig tc;
    train_config_default(&tc);
    tc.batch = batch;
    tc.steps = steps + 2;
    tc.warmup = 1;
    ProblemStream stream;
    problem_stream_init(&stream, SPLIT_TRAIN, ORDER_FIXED, 1);
    if (!gpt_create(&model, &config, &error) ||
        (gpt_init_random(&model, 1), !trainer_init(&trainer, &model, &tc, &stream, &error))) {
        fprintf(stderr, "bench-train: %s\n", error->message);
        exit(1);
    }
    for (int i = 0; i < 2; i++) // warm-up: allocations, caches
        train_step(&trainer, NULL, NULL);
    // The machine is shared: each measurement is the best of REPEATS.
    double train_seconds = INFINITY, eval_seconds = INFINITY;
    Problem *problems = g_new(Problem, (size_t)batch * steps);
    for (int i = 0; i < batch * steps; i++)
        problem_stream_next(&stream, &problems[i]);
    for (int r = 0; r < REPEATS; r++) {
        trainer.step = 0; // keep the learning rate schedule in its warm part
        gint64 start = g_get_monotonic_time();
        for (int i = 0; i < steps; i++)
            if (!train_step(&trainer, NULL, &error)) {
                fprintf(stderr, "bench-train: %s\n", error->message);
                exit(1);
            }
        train_seconds = fmin(train_seconds, (g_get_monotonic_time() - start) / 1e6);
        // Evaluation: forward passes only, same batch size.
        EvalResult result;
        start = g_get_monotonic_time();
        evaluate(&model, problems, (size_t)batch * steps, batch, &result, NULL);
        eval_seconds = fmin(eval_seconds, (g_get_monotonic_time() - start) / 1e6);
    }

    double per_problem = forward_flops_per_problem(&config);
    double train_rate = batch * steps / train_seconds, eval_rate = batch * steps / eval_seconds;
    printf("%-8s %7zu  %d thread%s  train %7.1f problems/s %6.1f GFLOP/s   "
           "eval %8.1f problems/s %6.1f GFLOP/s\n",
           preset, model.num_parameters, threads, threads == 1 ? " " : "s", train_rate,
           train_rate * 3 * per_problem / 1e9, eval_rate, eval_rate * per_problem / 1e9);
    fflush(stdout);
    g_free(problems);
    trainer_free(&trainer);
    gpt_free(&model);
}

int main(int argc, char **argv)
{
    const char *presets[8];
    int threads[8], n_presets = 0, n_threads = 0, steps = 0, batch = 64;
    for (int i = 1; i < argc; i++) {
        bool has_value = i + 1 < argc;
        if (strcmp(argv[i], "--preset") == 0 && has_value && n_presets < 8)
            presets[n_presets++] = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0 && has_value && n_threads < 8)
            threads[n_threads++] = atoi(argv[++i]);
        else if (strcmp(argv[i], "--steps") == 0 && has_value)
            steps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--batch") == 0 && has_value)
            batch = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench-train [--preset NAME]... [--threads N]... "
                            "[--steps N] [--batch B]\n");
            return 1;
        }
    }
    if (n_presets == 0) {
        presets[n_presets++] = "default";
        presets[n_presets++] = "seed";
    }
    if (n_threads == 0) {
        threads[n_threads++] = 1;
        threads[n_threads++] = 2;
    }
    if (batch < 1 || batch > 4096) {
        fprintf(stderr, "bench-train: --batch must be 1..4096\n");
        return 1;
    }
    printf("batch %d, answer-only loss; FLOPs as if dense (see bench_train.c)\n", batch);
    for (int p = 0; p < n_presets; p++)
        for (int t = 0; t < n_threads; t++) {
            int n = steps > 0 ? steps : strcmp(presets[p], "seed") == 0 ? 4 : 20;
            bench(presets[p], threads[t] > 0 ? threads[t] : 1, n, batch);
        }
    return 0;
}
