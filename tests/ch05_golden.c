// ch05_golden.c: the C model against an independent PyTorch implementation.
//
// tests/fixtures/ was made once by tools/fixtures/make_golden.py (no Python is
// needed here): a tiny model (2 layers, 2 heads, d_model 16, d_ff 32, weights
// with std 0.3 so the patterns are peaked, biases and LayerNorm parameters not
// at their defaults), five problems (fixed and shuffled definitions), and what
// PyTorch computes for them in float64: the logits and probabilities at
// position 18 and every layer's and head's attention pattern, plain and with
// the +2.0 boost on every layer and head (the boosted half is chapter 9's:
// ch09_golden.c).
//
// Tolerance: 1e-5 absolute on every number. The C code runs in float32 (unit
// roundoff 6e-8) over sums of at most 32 terms of size ~1 and logits below 5
// in magnitude, so honest rounding stays near 1e-6; a wrong mask, scale,
// LayerNorm, bias or weight layout is off by 1e-2 or more.
#include "golden.h"
#include "testutil.h"

static void test_golden(gconstpointer impl)
{
    Golden g = {0};
    golden_load(&g);
    g.model.attention = (AttentionImpl)GPOINTER_TO_INT(impl);
    double worst = golden_check_forward(&g, NULL, "");
    g_test_message("max |C - PyTorch| = %.3g", worst);
    g_assert_cmpfloat(worst, <=, GOLDEN_TOLERANCE);
    golden_free(&g);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_add_earlier_exercises("/ch05", "2-4");
    g_test_add_data_func("/ch05/golden/vectorized", GINT_TO_POINTER(ATTENTION_VECTORIZED),
                         test_golden);
    g_test_add_data_func("/ch05/golden/loops", GINT_TO_POINTER(ATTENTION_LOOPS), test_golden);
    return g_test_run();
}
