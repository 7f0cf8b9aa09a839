// ch08_compare.c: chapter 8's program. Good against bad on the squaring
// problems of a test set: how many of each, where row 18 ([ANS]) looks in
// each layer (by role, with 95% intervals), the head that differs most, and
// what kinds of wrong answers the bad ones give, beside chance.
//
//   build/chapters/08-compare/ch08-compare [--model CKPT] [--count N]
#include <stdio.h>
#include <string.h>

#include "checkpoint.h"
#include "compare.h"
#include "util.h"

#ifndef LOOPLENS_SOURCE_ROOT
#define LOOPLENS_SOURCE_ROOT "."
#endif

enum { T = PROBLEM_LEN };

static void print_profile_row(const char *label, const RoleProfile *p)
{
    printf("  %-8s n=%-5zu", label, p->n);
    for (int k = 0; k < ROLE_PARTS; k++)
        printf("  %.3f±%.3f", p->mean[k], p->ci95[k]);
    printf("\n");
}

static void print_failures(const Problem *problems, const ProblemResult *results, const Subset *bad)
{
    Problem *items = g_new(Problem, bad->count ? bad->count : 1);
    int *predicted = g_new(int, bad->count ? bad->count : 1);
    for (size_t i = 0; i < bad->count; i++) {
        items[i] = problems[bad->index[i]];
        predicted[i] = results[bad->index[i]].predicted;
    }
    FailureCounts counts;
    count_failures(&counts, items, predicted, bad->count);
    printf("\nThe %zu wrong answers, by kind (chance: the same answers read against the other "
           "bad problems):\n",
           counts.n);
    for (int k = 0; k < FAILURE_KINDS; k++)
        printf("  %-14s %5zu   chance %7.1f\n", failure_kind_name(k), counts.count[k],
               counts.chance[k]);
    g_free(items);
    g_free(predicted);
}

int main(int argc, char **argv)
{
    char *model_path = g_build_filename(LOOPLENS_SOURCE_ROOT, "assets", "fixed.safetensors", NULL);
    int64_t count = 3000;
    GError *error = NULL;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--model") == 0) {
            g_free(model_path);
            model_path = g_strdup(argv[++i]);
        } else if (i + 1 < argc && strcmp(argv[i], "--count") == 0) {
            if (!parse_int64(argv[++i], "--count", 1, 1000000, &count, &error)) {
                fprintf(stderr, "ch08-compare: %s\n", error->message);
                return 1;
            }
        } else {
            fprintf(stderr, "usage: ch08-compare [--model CKPT] [--count N]\n");
            return 1;
        }
    }
    GPT model;
    DefinitionOrder order;
    if (!checkpoint_load(model_path, &model, &order, &error)) {
        fprintf(stderr, "ch08-compare: %s\n", error->message);
        return 1;
    }
    int L = model.config.n_layer, NH = model.config.n_head;

    // 1-2. Evaluate, split.
    Problem *problems = g_new(Problem, count);
    ProblemStream stream;
    problem_stream_init(&stream, SPLIT_TEST, order, 2026);
    for (int64_t i = 0; i < count; i++)
        problem_stream_next(&stream, &problems[i]);
    ProblemResult *results = g_new(ProblemResult, count);
    if (!evaluate_problems(results, &model, problems, count, NULL, &error)) {
        fprintf(stderr, "ch08-compare: %s\n", error->message);
        return 1;
    }
    Subset good, bad;
    split_squaring(&good, &bad, problems, results, count);
    printf("Chapter 8: %s (%s order), %lld test problems, %zu squaring:\n", model_path,
           order_name(order), (long long)count, good.count + bad.count);
    printf("  good %5zu   mean p_correct %.3f\n", good.count,
           subset_mean_p_correct(&good, results));
    printf("  bad  %5zu   mean p_correct %.3f\n", bad.count, subset_mean_p_correct(&bad, results));

    // 3. Average each subset's patterns (a second pass over the squaring
    // problems, for clarity; `looplens experiment` folds it into the first).
    PatternAverage avg_good, avg_bad;
    pattern_average_init(&avg_good, L, NH);
    pattern_average_init(&avg_bad, L, NH);
    if (!pattern_average_run(&avg_good, NULL, &model, problems, good.index, good.count, NULL,
                             &error) ||
        !pattern_average_run(&avg_bad, NULL, &model, problems, bad.index, bad.count, NULL,
                             &error)) {
        fprintf(stderr, "ch08-compare: %s\n", error->message);
        return 1;
    }

    // 4. Row 18 by role, each layer (mean over its heads).
    printf("\nRow 18 ([ANS]) by role, mean over each layer's heads (mean ± 95%% interval):\n");
    printf("  %-16s", "");
    for (int k = 0; k < ROLE_PARTS; k++)
        printf("  %-11s", role_part_name(k));
    printf("\n");
    for (int l = 0; l < L; l++) {
        RoleProfile p;
        char label[32];
        printf(" layer %d\n", l);
        role_profile(&p, &avg_good, l, ALL_HEADS);
        g_snprintf(label, sizeof label, "good");
        print_profile_row(label, &p);
        role_profile(&p, &avg_bad, l, ALL_HEADS);
        g_snprintf(label, sizeof label, "bad");
        print_profile_row(label, &p);
    }
    int layer, head;
    double distance;
    if (most_different_head(&avg_good, &avg_bad, true, &layer, &head, &distance)) {
        printf("\nThe head whose row 18 differs most (sum of |bad - good| over keys, role view): "
               "layer %d head %d, %.3f\n",
               layer, head, distance);
        float g[T * T], b[T * T];
        pattern_average_get(&avg_good, layer, head, true, g);
        pattern_average_get(&avg_bad, layer, head, true, b);
        printf("  %-10s %6s %6s %7s\n", "key", "good", "bad", "bad-good");
        for (int j = 0; j <= POS_ANS; j++)
            printf("  %-10s %6.3f %6.3f %+7.3f\n", role_label(j, 1), g[POS_ANS * T + j],
                   b[POS_ANS * T + j], b[POS_ANS * T + j] - g[POS_ANS * T + j]);
    }

    // 5. Kinds of wrong answers.
    print_failures(problems, results, &bad);

    pattern_average_free(&avg_good);
    pattern_average_free(&avg_bad);
    subset_free(&good);
    subset_free(&bad);
    g_free(results);
    g_free(problems);
    gpt_free(&model);
    g_free(model_path);
    return 0;
}
