// ch07_capture.c: chapter 7's program. It captures one problem's attention in
// every layer and head, prints one pattern as a table and row 18 ([ANS]) in
// words, then checks the capture against the saved reference.csv: the largest
// difference, and PASS or FAIL at the tolerance of reference.h.
//
//   build/chapters/07-capture/ch07-capture [--model CKPT] [--reference CSV]
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "capture.h"
#include "checkpoint.h"
#include "problem.h"
#include "reference.h"

#ifndef LOOPLENS_SOURCE_ROOT
#define LOOPLENS_SOURCE_ROOT "."
#endif

enum { T = PROBLEM_LEN };

// The pattern as a table: one line per query, a weight per visible key.
static void print_pattern(const float *pattern, const Problem *p)
{
    printf("%10s", "");
    for (int j = 0; j < T; j++)
        printf(" %5s", vocab_string(p->tokens[j]));
    printf("\n");
    for (int i = 0; i < T; i++) {
        printf("%2d %7s", i, vocab_string(p->tokens[i]));
        for (int j = 0; j <= i; j++)
            printf(" %5.2f", pattern[i * T + j]);
        printf("\n");
    }
}

// Row 18's three heaviest keys.
static void print_row18(const Capture *c, int layer, int head)
{
    const float *row = capture_pattern(c, layer, head) + POS_ANS * T;
    bool used[T] = {false};
    printf("row 18 ([ANS]) of layer %d head %d looks most at:", layer, head);
    for (int k = 0; k < 3; k++) {
        int best = -1;
        for (int j = 0; j <= POS_ANS; j++)
            if (!used[j] && (best < 0 || row[j] > row[best]))
                best = j;
        used[best] = true;
        printf("%s position %d (%s) %.3f", k ? "," : "", best,
               vocab_string(c->problem.tokens[best]), row[best]);
    }
    printf("\n");
}

int main(int argc, char **argv)
{
    char *model_path = g_build_filename(LOOPLENS_SOURCE_ROOT, CH07_MODEL, NULL);
    char *reference_path = g_build_filename(LOOPLENS_SOURCE_ROOT, CH07_REFERENCE, NULL);
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--model") == 0) {
            g_free(model_path);
            model_path = g_strdup(argv[++i]);
        } else if (i + 1 < argc && strcmp(argv[i], "--reference") == 0) {
            g_free(reference_path);
            reference_path = g_strdup(argv[++i]);
        } else {
            fprintf(stderr, "usage: ch07-capture [--model CKPT] [--reference CSV]\n");
            return 1;
        }
    }

    GPT model;
    Problem problem;
    GError *error = NULL;
    char why[256];
    if (!problem_parse(CH07_PROBLEM, &problem, why, sizeof why)) {
        fprintf(stderr, "ch07-capture: the reference problem: %s\n", why);
        return 1;
    }
    if (!checkpoint_load(model_path, &model, NULL, &error)) {
        fprintf(stderr, "ch07-capture: %s\n", error->message);
        return 1;
    }
    Capture capture;
    if (!capture_problem(&capture, &model, &problem, NULL, &error)) {
        fprintf(stderr, "ch07-capture: %s\n", error->message);
        return 1;
    }
    printf("Chapter 7: %s, %d layers x %d heads captured for\n  %s\n\n", model_path,
           capture.n_layer, capture.n_head, CH07_PROBLEM);
    printf("Layer %d head %d, after the softmax (rows: queries, columns: keys):\n", CH07_LAYER,
           CH07_HEAD);
    print_pattern(capture_pattern(&capture, CH07_LAYER, CH07_HEAD), &problem);
    printf("\n");
    for (int l = 0; l < capture.n_layer; l++)
        for (int h = 0; h < capture.n_head; h++)
            print_row18(&capture, l, h);

    double max_diff;
    int row, col;
    bool pass = capture_matches_csv(capture_pattern(&capture, CH07_LAYER, CH07_HEAD),
                                    reference_path, CH07_TOLERANCE, &max_diff, &row, &col, &error);
    int status = 0;
    if (error) {
        fprintf(stderr, "ch07-capture: %s\n", error->message);
        g_error_free(error);
        status = 1;
    } else {
        printf("\nagainst %s: max difference %.3g", reference_path, max_diff);
        if (row >= 0)
            printf(" (row %d, column %d)", row, col);
        printf(": %s at %g\n", pass ? "PASS" : "FAIL", CH07_TOLERANCE);
        status = pass ? 0 : 1;
    }
    capture_free(&capture);
    gpt_free(&model);
    g_free(model_path);
    g_free(reference_path);
    return status;
}
