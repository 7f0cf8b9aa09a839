// embedding.c: chapter 2, the start of the residual stream.
//
// A token id picks a row of wte ("what this token is"), a position picks a row
// of wpe ("where it stands"); their sum is the vector every later layer reads
// and writes into.
#include "layers.h"

// out (B,T,C); tokens (B,T); wte (V,C); wpe (T,C)
void encoder_forward(float *out, const int *tokens, const float *wte, const float *wpe,
                     int B, int T, int C)
{
#ifdef LOOPLENS_SOLUTION
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            float *out_bt = out + ((size_t)b * T + t) * C;
            const float *token_row = wte + (size_t)tokens[b * T + t] * C;
            const float *position_row = wpe + (size_t)t * C;
            for (int c = 0; c < C; c++)
                out_bt[c] = token_row[c] + position_row[c];
        }
    }
#else
    // TODO(exercise ch02): for every problem b and position t, out[b,t,:] is the sum of the
    // token's row of wte and the position's row of wpe.
    // Hint: the token is tokens[b * T + t]; row r of a (rows, C) matrix starts at r * C.
    (void)tokens, (void)wte, (void)wpe;
    for (size_t i = 0; i < (size_t)B * T * C; i++)
        out[i] = 0.0f;
#endif
}

// The backward of a lookup: each position's gradient flows back into the one
// row it read. dwte (V,C), dwpe (T,C) are added into; dout (B,T,C).
// Sequential on purpose: two positions may hold the same token, and adding their
// gradients in a fixed order keeps the result bit-identical run to run.
void encoder_backward(float *dwte, float *dwpe, const float *dout, const int *tokens,
                      int B, int T, int C)
{
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            const float *dout_bt = dout + ((size_t)b * T + t) * C;
            float *dtoken_row = dwte + (size_t)tokens[b * T + t] * C;
            float *dposition_row = dwpe + (size_t)t * C;
            for (int c = 0; c < C; c++) {
                dtoken_row[c] += dout_bt[c];
                dposition_row[c] += dout_bt[c];
            }
        }
    }
}
