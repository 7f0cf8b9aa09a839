// ch05_gpt.c: chapter 5's program. The whole model, untrained: it prints the
// answer distribution (the top 5 of softmax(logits at position 18)) for one
// problem, p_correct over a test batch, and how fast the forward pass is.
//
//   build/chapters/05-gpt/ch05-gpt [--preset default|seed|tiny] [--seed S]
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <omp.h>

#include "model.h"
#include "util.h"

enum { T = PROBLEM_LEN, BATCH = 64, REPEATS = 5 };

static double best_forward_seconds(GPT *model, const int *tokens, int B)
{
    double best = INFINITY;
    for (int r = 0; r < REPEATS; r++) {
        double start = omp_get_wtime();
        gpt_forward(model, tokens, B, NULL, NULL);
        best = fmin(best, omp_get_wtime() - start);
    }
    return best;
}

int main(int argc, char **argv)
{
    const char *preset = "default";
    uint64_t seed = 2026;
    GError *error = NULL;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--preset") == 0) {
            preset = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--seed") == 0) {
            if (!parse_uint64(argv[++i], "--seed", &seed, &error)) {
                fprintf(stderr, "ch05-gpt: %s\n", error->message);
                return 1;
            }
        } else {
            fprintf(stderr, "usage: ch05-gpt [--preset default|seed|tiny] [--seed S]\n");
            return 1;
        }
    }
    GPTConfig config;
    if (!gpt_config_preset(preset, &config)) {
        fprintf(stderr, "ch05-gpt: --preset: unknown preset '%s'\n", preset);
        return 1;
    }
    GPT model;
    if (!gpt_create(&model, &config, &error)) {
        fprintf(stderr, "ch05-gpt: %s\n", error->message);
        return 1;
    }
    gpt_init_random(&model, seed);

    int *tokens = g_new(int, BATCH * T);
    ProblemStream stream;
    problem_stream_init(&stream, SPLIT_TEST, ORDER_FIXED, seed);
    for (int b = 0; b < BATCH; b++) {
        Problem p;
        problem_stream_next(&stream, &p);
        memcpy(tokens + b * T, p.tokens, sizeof p.tokens);
    }
    if (!gpt_forward(&model, tokens, BATCH, NULL, &error)) {
        fprintf(stderr, "ch05-gpt: %s\n", error->message);
        return 1;
    }

    Problem first;
    memcpy(first.tokens, tokens, sizeof first.tokens);
    char text[PROBLEM_TEXT_MAX];
    problem_format(&first, text);
    printf("Chapter 5: an untrained '%s' model (%d layers, %d heads, d_model %d, d_ff %d,\n"
           "%zu parameters, weights N(0, 0.02), seed %llu) reads\n    %s\n\n", preset,
           config.n_layer, config.n_head, config.d_model, config.d_ff, model.num_parameters,
           (unsigned long long)seed, text);

    // The top 5 of the answer distribution of the first problem.
    const float *probs = gpt_probs(&model, 0);
    int answer = first.tokens[POS_ANSWER];
    bool taken[VOCAB_SIZE] = {false};
    printf("Its answer distribution (softmax of the logits at position %d), top 5:\n", POS_ANS);
    for (int k = 0; k < 5; k++) {
        int best = -1;
        for (int v = 0; v < VOCAB_SIZE; v++)
            if (!taken[v] && (best < 0 || probs[v] > probs[best]))
                best = v;
        taken[best] = true;
        printf("  %d. %-7s %.4f%s\n", k + 1, vocab_string(best), probs[best],
               best == answer ? "  <- the answer" : "");
    }
    printf("p_correct (probability of the true answer %s): %.4f; uniform would be 1/%d = %.4f\n",
           vocab_string(answer), probs[answer], VOCAB_SIZE, 1.0 / VOCAB_SIZE);
    double mean = 0;
    int correct = 0;
    for (int b = 0; b < BATCH; b++) {
        const float *p = gpt_probs(&model, b);
        int target = tokens[b * T + POS_ANSWER], argmax = 0;
        for (int v = 1; v < VOCAB_SIZE; v++)
            if (p[v] > p[argmax])
                argmax = v;
        mean += p[target] / BATCH;
        correct += argmax == target;
    }
    printf("Over %d test problems: mean p_correct %.4f, %d answered right. Chapter 6 trains it.\n\n",
           BATCH, mean, correct);

    double one = best_forward_seconds(&model, tokens, 1);
    double batch = best_forward_seconds(&model, tokens, BATCH);
    printf("Forward pass, %d threads, best of %d:\n", omp_get_max_threads(), REPEATS);
    printf("  1 problem     %8.2f ms\n", one * 1e3);
    printf("  %d problems  %8.2f ms  (%.0f problems/s)\n", BATCH, batch * 1e3, BATCH / batch);
    g_free(tokens);
    gpt_free(&model);
    return 0;
}
