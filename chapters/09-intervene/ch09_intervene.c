// ch09_intervene.c: chapter 9's program. The boost, three ways:
//   1. on one bad problem's row 18: before the softmax (right), added to the
//      weights after it (the row no longer sums to 1), renormalised (sums to
//      1 again, but a different distribution);
//   2. on the whole bad subset (and what it does to the good one), then on
//      one layer at a time: which layer's boost does the work?
//   3. the same boost through both attention implementations.
//
//   build/chapters/09-intervene/ch09-intervene [--model CKPT] [--count N] [--amount A]
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "checkpoint.h"
#include "compare.h"
#include "intervene.h"
#include "util.h"

#ifndef LOOPLENS_SOURCE_ROOT
#define LOOPLENS_SOURCE_ROOT "."
#endif

enum { T = PROBLEM_LEN };

static void print_row(const char *label, const float *row, double sum)
{
    printf("  %-22s", label);
    for (int j = 0; j <= POS_ANS; j++)
        printf(" %4.2f", row[j]);
    printf("   sum %.3f\n", sum);
}

// 1. One problem, layer 0 head 0: the three ways side by side.
static void show_one_row(GPT *model, const Problem *p, const Boost *boost)
{
    if (!gpt_forward(model, p->tokens, 1, NULL, NULL))
        return;
    const float *scores = gpt_scores(model, 0, 0, 0), *pattern = gpt_pattern(model, 0, 0, 0);
    float row[T], right[T * T], after[T];
    boost_row(row, boost, p, 0, 0, T);
    softmax_with_boost(right, scores, row, POS_ANS, T);
    char text[PROBLEM_TEXT_MAX];
    problem_format(p, text);
    printf("1. Row 18 of layer 0 head 0 for %s\n", text);
    printf("  %-22s", "key");
    for (int j = 0; j <= POS_ANS; j++)
        printf(" %4.4s", vocab_string(p->tokens[j]));
    printf("\n  %-22s", "boost");
    for (int j = 0; j <= POS_ANS; j++)
        printf(" %4.1f", row[j]);
    printf("\n");
    print_row("no boost", pattern + POS_ANS * T, 1.0);
    print_row("before the softmax", right + POS_ANS * T, 1.0);
    double sum = add_after_softmax(after, pattern + POS_ANS * T, row, T);
    print_row("added after it", after, sum);
    renormalise(after, T);
    double diff = 0.0;
    for (int j = 0; j < T; j++)
        diff = fmax(diff, fabs(after[j] - right[POS_ANS * T + j]));
    print_row("... and renormalised", after, 1.0);
    printf("  renormalised vs before the softmax: max difference %.3f\n"
           "  (before the softmax each boosted key's weight is multiplied by e^amount and the\n"
           "  row renormalised; adding afterwards gives every boosted key the same amount,\n"
           "  however little it had)\n\n",
           diff);
}

static void print_intervention(const char *label, const Intervention *iv)
{
    printf("  %-12s n=%-5zu  mean p_correct %.3f -> %.3f  right %zu -> %zu  fixed %zu  broken "
           "%zu\n",
           label, iv->count, iv->mean_p_before, iv->mean_p_after, iv->correct_before,
           iv->correct_after, iv->fixed, iv->broken);
}

int main(int argc, char **argv)
{
    char *model_path = g_build_filename(LOOPLENS_SOURCE_ROOT, "assets", "fixed.safetensors", NULL);
    int64_t count = 3000;
    double amount = 2.0;
    GError *error = NULL;
    for (int i = 1; i < argc; i++) {
        bool ok = true;
        if (i + 1 < argc && strcmp(argv[i], "--model") == 0) {
            g_free(model_path);
            model_path = g_strdup(argv[++i]);
        } else if (i + 1 < argc && strcmp(argv[i], "--count") == 0) {
            ok = parse_int64(argv[++i], "--count", 1, 1000000, &count, &error);
        } else if (i + 1 < argc && strcmp(argv[i], "--amount") == 0) {
            ok = parse_double(argv[++i], "--amount", &amount, &error);
        } else {
            fprintf(stderr, "usage: ch09-intervene [--model CKPT] [--count N] [--amount A]\n");
            return 1;
        }
        if (!ok) {
            fprintf(stderr, "ch09-intervene: %s\n", error->message);
            return 1;
        }
    }
    GPT model;
    DefinitionOrder order;
    if (!checkpoint_load(model_path, &model, &order, &error)) {
        fprintf(stderr, "ch09-intervene: %s\n", error->message);
        return 1;
    }
    Problem *problems = g_new(Problem, count);
    ProblemStream stream;
    problem_stream_init(&stream, SPLIT_TEST, order, 2026);
    for (int64_t i = 0; i < count; i++)
        problem_stream_next(&stream, &problems[i]);
    ProblemResult *results = g_new(ProblemResult, count);
    if (!evaluate_problems(results, &model, problems, count, NULL, &error)) {
        fprintf(stderr, "ch09-intervene: %s\n", error->message);
        return 1;
    }
    Subset good, bad;
    split_squaring(&good, &bad, problems, results, count);
    Boost boost;
    boost_init_default(&boost, (float)amount);
    printf("Chapter 9: %s (%s order), boost %+.1f on row 18\n\n", model_path, order_name(order),
           amount);

    if (bad.count)
        show_one_row(&model, &problems[bad.index[0]], &boost);

    // 2. The whole subsets, then one layer at a time.
    Intervention on_bad, on_good;
    if (!intervene_run(&on_bad, &model, problems, bad.index, bad.count, &boost, results, NULL,
                       &error) ||
        !intervene_run(&on_good, &model, problems, good.index, good.count, &boost, results, NULL,
                       &error)) {
        fprintf(stderr, "ch09-intervene: %s\n", error->message);
        return 1;
    }
    printf("2. Every layer and head boosted:\n");
    print_intervention("bad", &on_bad);
    print_intervention("good", &on_good);
    printf("   One layer at a time (all its heads), on the bad subset:\n");
    for (int l = 0; l < model.config.n_layer; l++) {
        Boost one = boost;
        memset(one.target, 0, sizeof one.target);
        for (int h = 0; h < model.config.n_head; h++)
            one.target[l][h] = true;
        Intervention iv;
        if (!intervene_run(&iv, &model, problems, bad.index, bad.count, &one, results, NULL,
                           &error)) {
            fprintf(stderr, "ch09-intervene: %s\n", error->message);
            return 1;
        }
        char label[32];
        g_snprintf(label, sizeof label, "layer %d", l);
        print_intervention(label, &iv);
        intervention_free(&iv);
    }

    // 3. Both attention implementations, the same boost, 64 bad problems.
    int n = bad.count < 64 ? (int)bad.count : 64;
    if (n > 0) {
        int *tokens = g_new(int, n * T);
        for (int b = 0; b < n; b++)
            memcpy(tokens + b * T, problems[bad.index[b]].tokens, sizeof(int) * T);
        size_t cells = (size_t)model.config.n_layer * n * model.config.n_head * T * T;
        float *pattern = g_new(float, cells);
        model.attention = ATTENTION_VECTORIZED;
        gpt_forward(&model, tokens, n, &boost, NULL);
        memcpy(pattern, model.acts.attn_pattern, cells * sizeof(float));
        model.attention = ATTENTION_LOOPS;
        gpt_forward(&model, tokens, n, &boost, NULL);
        double diff = 0.0;
        for (size_t i = 0; i < cells; i++)
            diff = fmax(diff, fabs(pattern[i] - model.acts.attn_pattern[i]));
        printf("\n3. The boosted patterns of %d bad problems, matrices vs loops: max difference "
               "%.3g\n",
               n, diff);
        g_free(pattern);
        g_free(tokens);
    }

    intervention_free(&on_bad);
    intervention_free(&on_good);
    subset_free(&good);
    subset_free(&bad);
    g_free(results);
    g_free(problems);
    gpt_free(&model);
    g_free(model_path);
    return 0;
}
