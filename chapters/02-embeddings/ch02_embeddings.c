// ch02_embeddings.c: chapter 2's program. It embeds one problem with a freshly
// initialised model and shows the start of the residual stream: for the first
// positions, the token's row of wte, the position's row of wpe, and their sum.
//
//   build/chapters/02-embeddings/ch02-embeddings [--seed S]
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "layers.h"
#include "model.h"
#include "util.h"

#define SHOWN 6 // channels printed per vector

static void print_vector(const char *label, const float *x, int C)
{
    double norm = 0;
    for (int c = 0; c < C; c++)
        norm += (double)x[c] * x[c];
    printf("    %-5s", label);
    for (int c = 0; c < SHOWN; c++)
        printf(" %+.4f", x[c]);
    printf("  ... |x| = %.4f\n", sqrt(norm));
}

static double cosine(const float *a, const float *b, int C)
{
    double ab = 0, aa = 0, bb = 0;
    for (int c = 0; c < C; c++) {
        ab += (double)a[c] * b[c];
        aa += (double)a[c] * a[c];
        bb += (double)b[c] * b[c];
    }
    return ab / sqrt(aa * bb);
}

int main(int argc, char **argv)
{
    uint64_t seed = 2026;
    GError *error = NULL;
    if (argc == 3 && strcmp(argv[1], "--seed") == 0) {
        if (!parse_uint64(argv[2], "--seed", &seed, &error)) {
            fprintf(stderr, "ch02-embeddings: %s\n", error->message);
            return 1;
        }
    } else if (argc != 1) {
        fprintf(stderr, "usage: ch02-embeddings [--seed S]\n");
        return 1;
    }

    GPTConfig config;
    gpt_config_preset("default", &config);
    GPT model;
    if (!gpt_create(&model, &config, &error)) {
        fprintf(stderr, "ch02-embeddings: %s\n", error->message);
        return 1;
    }
    gpt_init_random(&model, seed);
    ProblemStream stream;
    problem_stream_init(&stream, SPLIT_TEST, ORDER_FIXED, seed);
    Problem problem;
    problem_stream_next(&stream, &problem);
    char text[PROBLEM_TEXT_MAX];
    problem_format(&problem, text);

    int C = config.d_model, T = PROBLEM_LEN;
    float *encoded = g_new(float, (size_t)T * C);
    encoder_forward(encoded, problem.tokens, model.params.wte, model.params.wpe, 1, T, C);

    printf("Chapter 2: the embedding of\n    %s\n", text);
    printf("with a random default-size model (d_model %d, weights N(0, 0.02), seed %llu).\n"
           "First %d of %d channels:\n\n", C, (unsigned long long)seed, SHOWN, C);
    for (int t = 0; t < 4; t++) {
        int token = problem.tokens[t];
        printf("  position %d, token %s (id %d)\n", t, vocab_string(token), token);
        print_vector("wte", model.params.wte + (size_t)token * C, C);
        print_vector("wpe", model.params.wpe + (size_t)t * C, C);
        print_vector("sum", encoded + (size_t)t * C, C);
    }

    // The same token in two places: var1 at positions 10 and 15.
    const float *x10 = encoded + (size_t)POS_VAR1 * C, *x15 = encoded + (size_t)POS_VAR1_AGAIN * C;
    printf("\nvar1 (%s) appears at positions %d and %d. Their vectors share the token row\n"
           "and differ by wpe[%d] - wpe[%d]: cosine similarity %.3f (1 would be identical,\n"
           "0 unrelated). At random initialisation the token and position rows are equally\n"
           "large, so the two occurrences are only half alike; training decides how much\n"
           "of each vector says what and how much says where.\n",
           vocab_string(problem.tokens[POS_VAR1]), POS_VAR1, POS_VAR1_AGAIN, POS_VAR1,
           POS_VAR1_AGAIN, cosine(x10, x15, C));
    g_free(encoded);
    gpt_free(&model);
    return 0;
}
