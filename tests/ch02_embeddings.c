// ch02_embeddings.c: chapter 2's tests: token + position embedding, forward
// and backward. Chapter 2's exercise is encoder_forward: with its stub these
// tests fail with messages that say what is missing.
#include <math.h>
#include <string.h>

#include "layers.h"
#include "model.h"
#include "testutil.h"

// A hand-made vocabulary of 4 tokens and 3 positions in 2 channels, with
// numbers chosen so that every sum is exact and tells where it came from:
// token rows are 10, 20, 30, 40 (+0.5 in channel 1), position rows 1, 2, 3.
static const float wte[4 * 2] = {10, 10.5f, 20, 20.5f, 30, 30.5f, 40, 40.5f};
static const float wpe[3 * 2] = {1, 0.25f, 2, 0.25f, 3, 0.25f};

static void test_encoder_forward_by_hand(void)
{
    const int tokens[2 * 3] = {3, 0, 3, 1, 2, 1};
    float out[2 * 3 * 2];
    encoder_forward(out, tokens, wte, wpe, 2, 3, 2);
    for (int b = 0; b < 2; b++) {
        for (int t = 0; t < 3; t++) {
            int token = tokens[b * 3 + t];
            for (int c = 0; c < 2; c++) {
                float got = out[(b * 3 + t) * 2 + c];
                float expected = wte[token * 2 + c] + wpe[t * 2 + c];
                if (got == expected)
                    continue;
                const char *hint = "out[b,t,c] = wte[token, c] + wpe[t, c]";
                if (got == wte[token * 2 + c])
                    hint = "did you forget to add the position embedding wpe?";
                else if (got == wpe[t * 2 + c])
                    hint = "did you forget to add the token embedding wte?";
                g_test_fail_printf("problem %d, position %d (token %d), channel %d is %g, "
                                   "expected %g: %s", b, t, token, c, got, expected, hint);
                return;
            }
        }
    }
}

// In a real problem the same token appears at several positions (the variable
// names twice, and a value digit may equal the answer); their vectors differ by
// exactly the difference of the position embeddings.
static void test_same_token_different_positions(void)
{
    GPTConfig config;
    g_assert_true(gpt_config_preset("tiny", &config));
    GPT model;
    GError *error = NULL;
    g_assert_true(gpt_create(&model, &config, &error));
    gpt_init_random(&model, 11);
    int tokens[PROBLEM_LEN];
    test_problem_tokens(tokens, 1, ORDER_FIXED, 3);
    g_assert_cmpint(tokens[POS_VAR1], ==, tokens[POS_VAR1_AGAIN]);
    g_assert_true(gpt_forward(&model, tokens, 1, NULL, &error));
    int C = config.d_model;
    const float *x10 = model.acts.encoded + POS_VAR1 * C;
    const float *x15 = model.acts.encoded + POS_VAR1_AGAIN * C;
    for (int c = 0; c < C; c++) {
        // 1e-6: each side is one float addition of numbers ~0.02.
        float expected = model.params.wpe[POS_VAR1 * C + c] - model.params.wpe[POS_VAR1_AGAIN * C + c];
        if (!(fabsf((x10[c] - x15[c]) - expected) <= 1e-6f)) {
            g_test_fail_printf("var1 at positions 10 and 15: channel %d differs by %g, expected "
                               "wpe[10] - wpe[15] = %g", c, x10[c] - x15[c], expected);
            break;
        }
        if (x10[c] != model.params.wte[tokens[POS_VAR1] * C + c] + model.params.wpe[POS_VAR1 * C + c]) {
            g_test_fail_printf("position 10, channel %d is %g, not wte[token] + wpe[10]", c,
                               x10[c]);
            break;
        }
    }
    gpt_free(&model);
}

// The backward of a lookup: each position's gradient lands in its token's row
// and its position's row; a token used twice collects both. Exact: every
// gradient below is a sum of a few powers of two.
static void test_encoder_backward(void)
{
    const int tokens[2 * 3] = {3, 0, 3, 1, 2, 1};
    float dout[2 * 3 * 2];
    for (int i = 0; i < 12; i++)
        dout[i] = (float)(1 << i) / 64.0f;
    float dwte[4 * 2], dwpe[3 * 2];
    for (int i = 0; i < 8; i++)
        dwte[i] = 1.0f; // added into, not overwritten
    memset(dwpe, 0, sizeof dwpe);
    encoder_backward(dwte, dwpe, dout, tokens, 2, 3, 2);
    for (int v = 0; v < 4; v++) {
        for (int c = 0; c < 2; c++) {
            float expected = 1.0f;
            for (int bt = 0; bt < 6; bt++)
                if (tokens[bt] == v)
                    expected += dout[bt * 2 + c];
            g_assert_cmpfloat(dwte[v * 2 + c], ==, expected);
        }
    }
    for (int t = 0; t < 3; t++)
        for (int c = 0; c < 2; c++)
            g_assert_cmpfloat(dwpe[t * 2 + c], ==, dout[t * 2 + c] + dout[(3 + t) * 2 + c]);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ch02/encoder/forward-by-hand", test_encoder_forward_by_hand);
    g_test_add_func("/ch02/encoder/same-token-different-positions",
                    test_same_token_different_positions);
    g_test_add_func("/ch02/encoder/backward", test_encoder_backward);
    return g_test_run();
}
