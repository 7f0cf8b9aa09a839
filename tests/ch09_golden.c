// ch09_golden.c: the boost in the C model against the independent PyTorch
// implementation of tests/fixtures/ (see ch05_golden.c): with the +2.0 boost on
// every layer and head, both attention implementations give PyTorch's logits
// and patterns to 1e-5.
#include <math.h>

#include "golden.h"
#include "testutil.h"

static void test_golden_boosted(gconstpointer impl)
{
    Golden g = {0};
    golden_load(&g);
    g.model.attention = (AttentionImpl)GPOINTER_TO_INT(impl);
    g_assert_cmpstr(safetensors_metadata(&g.expected, "boost_amount"), ==, "2.0");
    Boost boost;
    boost_init_default(&boost, 2.0f);
    double worst = golden_check_forward(&g, &boost, "_boosted");
    g_test_message("with the boost: max |C - PyTorch| = %.3g", worst);
    g_assert_cmpfloat(worst, <=, GOLDEN_TOLERANCE);
    // The boost must have mattered, or this test checks nothing new.
    const float *plain = golden_expected(&g, "logits", g.problems.count * VOCAB_SIZE);
    double moved = 0.0;
    for (size_t i = 0; i < g.problems.count * VOCAB_SIZE; i++)
        moved = fmax(moved, fabs(g.model.acts.logits[i] - plain[i]));
    g_assert_cmpfloat(moved, >, 1e-2);
    golden_free(&g);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_add_earlier_exercises("/ch09", "2-5");
    g_test_add_data_func("/ch09/golden/boosted-vectorized", GINT_TO_POINTER(ATTENTION_VECTORIZED),
                         test_golden_boosted);
    g_test_add_data_func("/ch09/golden/boosted-loops", GINT_TO_POINTER(ATTENTION_LOOPS),
                         test_golden_boosted);
    return g_test_run();
}
