// ch04_attention_loops.c: chapter 4's program. It runs a random model over a
// batch of problems twice, once with chapter 3's vectorized attention and once
// with chapter 4's plain loops, and prints how far apart the two are (every
// layer and head) and how long each took.
//
//   build/chapters/04-attention-loops/ch04-attention-loops [--seed S]
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <omp.h>

#include "model.h"
#include "util.h"

enum { B = 64, T = PROBLEM_LEN, REPEATS = 5 };

// The fastest of REPEATS forward passes, in seconds.
static double time_forward(GPT *model, const int *tokens)
{
    double best = INFINITY;
    for (int r = 0; r < REPEATS; r++) {
        double start = omp_get_wtime();
        gpt_forward(model, tokens, B, NULL, NULL);
        double elapsed = omp_get_wtime() - start;
        if (elapsed < best)
            best = elapsed;
    }
    return best;
}

// max |a - b| over n floats; -inf cells must be -inf in both (else: inf).
static double max_diff(const float *a, const float *b, size_t n)
{
    double max = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (isinf(a[i]) || isinf(b[i])) {
            if (a[i] != b[i])
                return INFINITY;
        } else {
            max = fmax(max, fabs((double)a[i] - b[i]));
        }
    }
    return max;
}

int main(int argc, char **argv)
{
    uint64_t seed = 2026;
    GError *error = NULL;
    if (argc == 3 && strcmp(argv[1], "--seed") == 0) {
        if (!parse_uint64(argv[2], "--seed", &seed, &error)) {
            fprintf(stderr, "ch04-attention-loops: %s\n", error->message);
            return 1;
        }
    } else if (argc != 1) {
        fprintf(stderr, "usage: ch04-attention-loops [--seed S]\n");
        return 1;
    }

    GPTConfig config;
    gpt_config_preset("default", &config);
    GPT model;
    if (!gpt_create(&model, &config, &error)) {
        fprintf(stderr, "ch04-attention-loops: %s\n", error->message);
        return 1;
    }
    gpt_init_random_std(&model, seed, 0.15f);
    int *tokens = g_new(int, B * T);
    ProblemStream stream;
    problem_stream_init(&stream, SPLIT_TEST, ORDER_FIXED, seed);
    for (int b = 0; b < B; b++) {
        Problem p;
        problem_stream_next(&stream, &p);
        memcpy(tokens + b * T, p.tokens, sizeof p.tokens);
    }

    // Loops first; keep a copy of everything it computed.
    model.attention = ATTENTION_LOOPS;
    if (!gpt_forward(&model, tokens, B, NULL, &error)) {
        fprintf(stderr, "ch04-attention-loops: %s\n", error->message);
        return 1;
    }
    size_t count = activation_count(&config, B);
    float *loops_memory = g_memdup2(model.acts_memory, count * sizeof(float));
    ActivationTensors loops;
    activation_carve(&loops, &config, B, loops_memory);
    double loops_seconds = time_forward(&model, tokens);
    model.attention = ATTENTION_VECTORIZED;
    gpt_forward(&model, tokens, B, NULL, NULL);
    double vectorized_seconds = time_forward(&model, tokens);

    int L = config.n_layer, NH = config.n_head, C = config.d_model;
    size_t per_layer = (size_t)B * NH * T * T;
    printf("Chapter 4: %d problems through a random default-size model (std 0.15), with\n"
           "the vectorized attention (chapter 3) and the plain loops (chapter 4).\n\n", B);
    printf("layer  max|diff| scores  max|diff| pattern  max|diff| output\n");
    for (int l = 0; l < L; l++) {
        printf("%5d  %16.3g  %17.3g  %16.3g\n", l,
               max_diff(loops.attn_scores + l * per_layer, model.acts.attn_scores + l * per_layer,
                        per_layer),
               max_diff(loops.attn_pattern + l * per_layer,
                        model.acts.attn_pattern + l * per_layer, per_layer),
               max_diff(loops.attn_out + (size_t)l * B * T * C,
                        model.acts.attn_out + (size_t)l * B * T * C, (size_t)B * T * C));
    }
    printf("logits: max|diff| %.3g\n\n", max_diff(loops.logits, model.acts.logits,
                                                 (size_t)B * config.vocab_size));
    printf("A difference of 0 means the same bits: both versions do the same float\n"
           "operations in the same order. Masked cells are -inf in both.\n\n");
    printf("Whole forward pass of %d problems (%d threads, best of %d):\n", B,
           omp_get_max_threads(), REPEATS);
    printf("  loops       %7.2f ms\n  vectorized  %7.2f ms\n", loops_seconds * 1e3,
           vectorized_seconds * 1e3);
    g_free(loops_memory);
    g_free(tokens);
    gpt_free(&model);
    return 0;
}
