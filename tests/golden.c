// golden.c: see golden.h.
#include "golden.h"

#include <math.h>
#include <string.h>

#include "checkpoint.h"
#include "testutil.h"

void golden_load(Golden *g)
{
    char *model_path = test_source_path("tests/fixtures/golden_model.safetensors");
    char *problems_path = test_source_path("tests/fixtures/golden_problems.txt");
    char *expected_path = test_source_path("tests/fixtures/golden_expected.safetensors");
    GError *error = NULL;
    DefinitionOrder order;
    g_assert_true(checkpoint_load(model_path, &g->model, &order, &error));
    g_assert_no_error(error);
    g_assert_true(problem_set_read(problems_path, &g->problems, &error));
    g_assert_true(safetensors_read(expected_path, &g->expected, &error));
    g_assert_cmpuint(g->problems.count, ==, 5);
    g->tokens = g_new(int, g->problems.count * PROBLEM_LEN);
    for (size_t b = 0; b < g->problems.count; b++)
        memcpy(g->tokens + b * PROBLEM_LEN, g->problems.items[b].tokens, sizeof(int) * PROBLEM_LEN);
    g_free(model_path);
    g_free(problems_path);
    g_free(expected_path);
}

void golden_free(Golden *g)
{
    gpt_free(&g->model);
    problem_set_free(&g->problems);
    safetensors_free(&g->expected);
    g_free(g->tokens);
}

const float *golden_expected(const Golden *g, const char *name, size_t count)
{
    const SafetensorsTensor *t = safetensors_find(&g->expected, name);
    g_assert_nonnull(t);
    g_assert_cmpuint(t->count, ==, count);
    return t->data;
}

double golden_check_forward(Golden *g, const Boost *boost, const char *suffix)
{
    const GPTConfig *c = &g->model.config;
    int P = (int)g->problems.count, L = c->n_layer, NH = c->n_head, V = c->vocab_size;
    int T = PROBLEM_LEN;
    GError *error = NULL;
    g_assert_true(gpt_forward(&g->model, g->tokens, P, boost, &error));
    g_assert_no_error(error);

    char name[64];
    g_snprintf(name, sizeof name, "logits%s", suffix);
    const float *logits = golden_expected(g, name, (size_t)P * V);       // (P, V)
    g_snprintf(name, sizeof name, "pattern%s", suffix);
    const float *pattern = golden_expected(g, name, (size_t)L * P * NH * T * T); // (L,P,NH,T,T)
    const float *probs = boost ? NULL : golden_expected(g, "probs", (size_t)P * V);

    double worst = 0.0;
    for (int b = 0; b < P; b++) {
        for (int v = 0; v < V; v++) {
            double d = fabs(g->model.acts.logits[(size_t)b * V + v] - logits[(size_t)b * V + v]);
            if (d > GOLDEN_TOLERANCE)
                g_error("problem %d: logit of token %d is %.7g, PyTorch says %.7g", b, v,
                        g->model.acts.logits[(size_t)b * V + v], logits[(size_t)b * V + v]);
            worst = fmax(worst, d);
            if (probs) {
                d = fabs(gpt_probs(&g->model, b)[v] - probs[(size_t)b * V + v]);
                g_assert_cmpfloat(d, <=, GOLDEN_TOLERANCE);
                worst = fmax(worst, d);
            }
        }
        for (int l = 0; l < L; l++)
            for (int h = 0; h < NH; h++) {
                const float *ours = gpt_pattern(&g->model, l, b, h);
                const float *theirs = pattern + ((((size_t)l * P + b) * NH + h) * T * T);
                for (int i = 0; i < T * T; i++) {
                    double d = fabs(ours[i] - theirs[i]);
                    if (d > GOLDEN_TOLERANCE)
                        g_error("problem %d, layer %d, head %d: pattern[%d][%d] is %.7g, PyTorch "
                                "says %.7g", b, l, h, i / T, i % T, ours[i], theirs[i]);
                    worst = fmax(worst, d);
                }
            }
    }
    return worst;
}
