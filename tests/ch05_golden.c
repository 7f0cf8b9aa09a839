// ch05_golden.c: the C model against an independent PyTorch implementation.
//
// tests/fixtures/ was made once by tools/fixtures/make_golden.py (no Python is
// needed here): a tiny model (2 layers, 2 heads, d_model 16, d_ff 32, weights
// with std 0.3 so the patterns are peaked, biases and LayerNorm parameters not
// at their defaults), five problems (fixed and shuffled definitions), and what
// PyTorch computes for them in float64: the logits and probabilities at
// position 18 and every layer's and head's attention pattern, plain and with
// the +2.0 boost on every layer and head.
//
// Tolerance: 1e-5 absolute on every number. The C code runs in float32 (unit
// roundoff 6e-8) over sums of at most 32 terms of size ~1 and logits below 5
// in magnitude, so honest rounding stays near 1e-6; a wrong mask, scale,
// LayerNorm, bias or weight layout is off by 1e-2 or more.
#include <math.h>
#include <string.h>

#include "checkpoint.h"
#include "model.h"
#include "safetensors.h"
#include "testutil.h"

#define TOLERANCE 1e-5

typedef struct {
    GPT model;
    ProblemSet problems;
    Safetensors expected;
    int *tokens; // (P, T)
} Golden;

static void golden_load(Golden *g)
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

static void golden_free(Golden *g)
{
    gpt_free(&g->model);
    problem_set_free(&g->problems);
    safetensors_free(&g->expected);
    g_free(g->tokens);
}

static const float *expected_tensor(const Golden *g, const char *name, size_t count)
{
    const SafetensorsTensor *t = safetensors_find(&g->expected, name);
    g_assert_nonnull(t);
    g_assert_cmpuint(t->count, ==, count);
    return t->data;
}

// Runs the model and compares logits, probs and every pattern; returns the
// largest difference seen.
static double check_forward(Golden *g, const Boost *boost, const char *suffix)
{
    const GPTConfig *c = &g->model.config;
    int P = (int)g->problems.count, L = c->n_layer, NH = c->n_head, V = c->vocab_size;
    int T = PROBLEM_LEN;
    GError *error = NULL;
    g_assert_true(gpt_forward(&g->model, g->tokens, P, boost, &error));
    g_assert_no_error(error);

    char name[64];
    g_snprintf(name, sizeof name, "logits%s", suffix);
    const float *logits = expected_tensor(g, name, (size_t)P * V);       // (P, V)
    g_snprintf(name, sizeof name, "pattern%s", suffix);
    const float *pattern = expected_tensor(g, name, (size_t)L * P * NH * T * T); // (L,P,NH,T,T)
    const float *probs = boost ? NULL : expected_tensor(g, "probs", (size_t)P * V);

    double worst = 0.0;
    for (int b = 0; b < P; b++) {
        for (int v = 0; v < V; v++) {
            double d = fabs(g->model.acts.logits[(size_t)b * V + v] - logits[(size_t)b * V + v]);
            if (d > TOLERANCE)
                g_error("problem %d: logit of token %d is %.7g, PyTorch says %.7g", b, v,
                        g->model.acts.logits[(size_t)b * V + v], logits[(size_t)b * V + v]);
            worst = fmax(worst, d);
            if (probs) {
                d = fabs(gpt_probs(&g->model, b)[v] - probs[(size_t)b * V + v]);
                g_assert_cmpfloat(d, <=, TOLERANCE);
                worst = fmax(worst, d);
            }
        }
        for (int l = 0; l < L; l++)
            for (int h = 0; h < NH; h++) {
                const float *ours = gpt_pattern(&g->model, l, b, h);
                const float *theirs = pattern + ((((size_t)l * P + b) * NH + h) * T * T);
                for (int i = 0; i < T * T; i++) {
                    double d = fabs(ours[i] - theirs[i]);
                    if (d > TOLERANCE)
                        g_error("problem %d, layer %d, head %d: pattern[%d][%d] is %.7g, PyTorch "
                                "says %.7g", b, l, h, i / T, i % T, ours[i], theirs[i]);
                    worst = fmax(worst, d);
                }
            }
    }
    return worst;
}

static void test_golden(gconstpointer impl)
{
    Golden g = {0};
    golden_load(&g);
    g.model.attention = (AttentionImpl)GPOINTER_TO_INT(impl);
    double worst = check_forward(&g, NULL, "");
    g_test_message("max |C - PyTorch| = %.3g", worst);
    g_assert_cmpfloat(worst, <=, TOLERANCE);
    golden_free(&g);
}

static void test_golden_boosted(gconstpointer impl)
{
    Golden g = {0};
    golden_load(&g);
    g.model.attention = (AttentionImpl)GPOINTER_TO_INT(impl);
    g_assert_cmpstr(safetensors_metadata(&g.expected, "boost_amount"), ==, "2.0");
    Boost boost;
    boost_init_default(&boost, 2.0f);
    double worst = check_forward(&g, &boost, "_boosted");
    g_test_message("with the boost: max |C - PyTorch| = %.3g", worst);
    g_assert_cmpfloat(worst, <=, TOLERANCE);
    // The boost must have mattered, or this test checks nothing new.
    const float *plain = expected_tensor(&g, "logits", g.problems.count * VOCAB_SIZE);
    double moved = 0.0;
    for (size_t i = 0; i < g.problems.count * VOCAB_SIZE; i++)
        moved = fmax(moved, fabs(g.model.acts.logits[i] - plain[i]));
    g_assert_cmpfloat(moved, >, 1e-2);
    golden_free(&g);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_data_func("/ch05/golden/vectorized", GINT_TO_POINTER(ATTENTION_VECTORIZED),
                         test_golden);
    g_test_add_data_func("/ch05/golden/loops", GINT_TO_POINTER(ATTENTION_LOOPS), test_golden);
    g_test_add_data_func("/ch05/golden/boosted-vectorized", GINT_TO_POINTER(ATTENTION_VECTORIZED),
                         test_golden_boosted);
    g_test_add_data_func("/ch05/golden/boosted-loops", GINT_TO_POINTER(ATTENTION_LOOPS),
                         test_golden_boosted);
    return g_test_run();
}
