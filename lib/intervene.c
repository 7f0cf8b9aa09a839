// intervene.c: chapter 9, the boost and what it does.
#include <math.h>
#include <string.h>

#include "intervene.h"
#include "layers.h"
#include "util.h"

// pattern (T,T); scores (T,T); boost (T) or NULL
void softmax_with_boost(float *pattern, const float *scores, const float *boost, int query, int T)
{
    g_return_if_fail(T >= 1 && T <= PROBLEM_LEN);
    for (int r = 0; r < T; r++) {
        const float *row = scores + (size_t)r * T;
        float boosted[PROBLEM_LEN];
        if (boost && r == query) {
            // Before the softmax: the amount multiplies a key's exp(score) by
            // e^amount, and the division by the new sum keeps the row a
            // distribution. A masked key stays -inf, so its weight stays 0.
            for (int j = 0; j < T; j++)
                boosted[j] = row[j] + boost[j];
            row = boosted;
        }
        softmax_row(pattern + (size_t)r * T, row, T);
    }
}

// out (n); pattern_row (n); boost (n) or NULL
double add_after_softmax(float *out, const float *pattern_row, const float *boost, int n)
{
    double sum = 0.0;
    for (int j = 0; j < n; j++) {
        out[j] = pattern_row[j] + (boost ? boost[j] : 0.0f);
        sum += out[j];
    }
    return sum;
}

// row (n)
void renormalise(float *row, int n)
{
    double sum = 0.0;
    for (int j = 0; j < n; j++)
        sum += row[j];
    for (int j = 0; j < n; j++)
        row[j] = (float)(row[j] / sum);
}

bool intervene_run(Intervention *out, GPT *model, const Problem *problems, const size_t *index,
                   size_t count, const Boost *boost, const ProblemResult *before,
                   PatternAverage *average, GError **error)
{
    memset(out, 0, sizeof *out);
    out->count = count;
    out->before = g_new(ProblemResult, count ? count : 1);
    out->after = g_new(ProblemResult, count ? count : 1);
    Problem *items = g_new(Problem, count ? count : 1);
    for (size_t i = 0; i < count; i++) {
        size_t k = index ? index[i] : i;
        items[i] = problems[k];
        if (before)
            out->before[i] = before[k];
    }
    bool ok = (before || evaluate_problems(out->before, model, items, count, NULL, error)) &&
              (average ? pattern_average_run(average, out->after, model, items, NULL, count, boost,
                                             error)
                       : evaluate_problems(out->after, model, items, count, boost, error));
    g_free(items);
    if (!ok) {
        intervention_free(out);
        return false;
    }
    double sum_before = 0.0, sum_after = 0.0;
    for (size_t i = 0; i < count; i++) {
        bool right_before = result_correct(&out->before[i]);
        bool right_after = result_correct(&out->after[i]);
        out->correct_before += right_before;
        out->correct_after += right_after;
        out->fixed += !right_before && right_after;
        out->broken += right_before && !right_after;
        sum_before += out->before[i].p_correct;
        sum_after += out->after[i].p_correct;
    }
    out->mean_p_before = count ? sum_before / (double)count : NAN;
    out->mean_p_after = count ? sum_after / (double)count : NAN;
    return true;
}

void intervention_free(Intervention *iv)
{
    g_free(iv->before);
    g_free(iv->after);
    memset(iv, 0, sizeof *iv);
}
