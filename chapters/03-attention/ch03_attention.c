// ch03_attention.c: chapter 3's program. It runs a randomly initialised model
// over one problem and prints one head's 20x20 attention pattern: rows are
// queries, columns keys, each row sums to 1, and the upper triangle is 0 (the
// causal mask). The weights are drawn with a larger std than training uses
// (0.15 instead of 0.02), so that the pattern is peaked rather than uniform.
//
//   build/chapters/03-attention/ch03-attention [--seed S] [--layer L] [--head H]
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "util.h"

static bool parse_option(const char *name, const char *value, int64_t max, int64_t *out)
{
    GError *error = NULL;
    if (!parse_int64(value, name, 0, max, out, &error)) {
        fprintf(stderr, "ch03-attention: %s\n", error->message);
        g_error_free(error);
        return false;
    }
    return true;
}

int main(int argc, char **argv)
{
    GPTConfig config;
    gpt_config_preset("default", &config);
    int64_t seed = 2026, layer = 0, head = 0;
    for (int i = 1; i < argc; i++) {
        bool ok = i + 1 < argc;
        if (ok && strcmp(argv[i], "--seed") == 0)
            ok = parse_option("--seed", argv[++i], INT64_MAX, &seed);
        else if (ok && strcmp(argv[i], "--layer") == 0)
            ok = parse_option("--layer", argv[++i], config.n_layer - 1, &layer);
        else if (ok && strcmp(argv[i], "--head") == 0)
            ok = parse_option("--head", argv[++i], config.n_head - 1, &head);
        else {
            fprintf(stderr, "usage: ch03-attention [--seed S] [--layer L] [--head H]\n");
            return 1;
        }
        if (!ok)
            return 1;
    }

    GPT model;
    GError *error = NULL;
    if (!gpt_create(&model, &config, &error)) {
        fprintf(stderr, "ch03-attention: %s\n", error->message);
        return 1;
    }
    gpt_init_random_std(&model, (uint64_t)seed, 0.15f);
    ProblemStream stream;
    problem_stream_init(&stream, SPLIT_TEST, ORDER_FIXED, (uint64_t)seed);
    Problem problem;
    problem_stream_next(&stream, &problem);
    if (!gpt_forward(&model, problem.tokens, 1, NULL, &error)) {
        fprintf(stderr, "ch03-attention: %s\n", error->message);
        return 1;
    }
    char text[PROBLEM_TEXT_MAX];
    problem_format(&problem, text);
    printf("Chapter 3: layer %d, head %d of a random default-size model (std 0.15, seed %lld)\n"
           "on  %s\n\n", (int)layer, (int)head, (long long)seed, text);

    const float *pattern = gpt_pattern(&model, (int)layer, 0, (int)head);
    int T = PROBLEM_LEN;
    printf("query \\ key");
    for (int j = 0; j < T; j++)
        printf(" %4d", j);
    printf("   sum\n%11s", "");
    for (int j = 0; j < T; j++)
        printf(" %4.4s", vocab_string(problem.tokens[j]));
    printf("\n");
    for (int i = 0; i < T; i++) {
        printf("%2d %-8s", i, vocab_string(problem.tokens[i]));
        float sum = 0.0f;
        for (int j = 0; j < T; j++) {
            float w = pattern[i * T + j];
            sum += w;
            if (j > i)
                printf("    ."); // masked: exactly 0
            else
                printf(" %4.2f", w);
        }
        printf("  %4.2f\n", sum);
    }
    printf("\n'.' marks masked cells (key after query): exactly 0. Each row sums to 1.\n");
    const float *row = pattern + POS_ANS * T;
    int best = 0;
    for (int j = 1; j < T; j++)
        if (row[j] > row[best])
            best = j;
    printf("Row %d ([ANS]) attends most to position %d (%s) with weight %.2f.\n", POS_ANS, best,
           vocab_string(problem.tokens[best]), row[best]);
    gpt_free(&model);
    return 0;
}
