// layernorm.c: chapter 5, LayerNorm over the C channels of each position.
//
// Each row x of C numbers becomes (x - mean) / sqrt(var + eps) * weight + bias.
// The mean and the variance are computed in two passes (first the mean, then
// the mean of squared deviations): the one-pass formula E[x^2] - E[x]^2
// subtracts two huge, nearly equal numbers when the row sits far from zero,
// and in float that leaves nothing but rounding noise.
#include <math.h>

#include "layers.h"

#define LAYERNORM_EPS 1e-5f

// out (N,C); mean, rstd (N); inp (N,C); weight, bias (C)
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                       const float *weight, const float *bias, int N, int C)
{
#ifdef LOOPLENS_SOLUTION
#pragma omp parallel for if (N >= 256)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float sum = 0.0f;
        for (int c = 0; c < C; c++)
            sum += x[c];
        float m = sum / C;
        float squares = 0.0f;
        for (int c = 0; c < C; c++) {
            float deviation = x[c] - m;
            squares += deviation * deviation;
        }
        float s = 1.0f / sqrtf(squares / C + LAYERNORM_EPS);
        float *y = out + (size_t)n * C;
        for (int c = 0; c < C; c++)
            y[c] = (x[c] - m) * s * weight[c] + bias[c];
        // Kept for the backward pass.
        mean[n] = m;
        rstd[n] = s;
    }
#else
    // TODO(exercise ch05): normalise each row of C numbers: subtract its mean, divide by
    // sqrt(variance + LAYERNORM_EPS), then scale by weight[c] and add bias[c].
    // Store the row's mean and 1 / sqrt(variance + eps) in mean[n] and rstd[n].
    // Hint: compute the mean first, then the variance as the mean of (x - mean)^2.
    (void)inp, (void)weight, (void)bias;
    for (size_t i = 0; i < (size_t)N * C; i++)
        out[i] = 0.0f;
    for (int n = 0; n < N; n++)
        mean[n] = rstd[n] = 0.0f;
#endif
}

// With norm = (x - mean) * rstd and y = norm * weight + bias:
//   dbias   += sum over rows of dout
//   dweight += sum over rows of dout * norm
//   dinp    += rstd * (dnorm - mean(dnorm) - norm * mean(dnorm * norm)),
// where dnorm = dout * weight; the two means come from mean and rstd depending
// on every x of the row. Each sum is computed whole, then added once, so calling
// this twice adds exactly twice the gradient.
// dinp (N,C); dweight, dbias (C); dout, inp (N,C); weight (C); mean, rstd (N)
void layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, const float *mean,
                        const float *rstd, int N, int C)
{
    // dinp: rows are independent.
#pragma omp parallel for if (N >= 256)
    for (int n = 0; n < N; n++) {
        const float *dout_n = dout + (size_t)n * C;
        const float *x = inp + (size_t)n * C;
        float dnorm_mean = 0.0f;
        float dnorm_norm_mean = 0.0f;
        for (int c = 0; c < C; c++) {
            float norm = (x[c] - mean[n]) * rstd[n];
            float dnorm = weight[c] * dout_n[c];
            dnorm_mean += dnorm;
            dnorm_norm_mean += dnorm * norm;
        }
        dnorm_mean /= C;
        dnorm_norm_mean /= C;
        float *dinp_n = dinp + (size_t)n * C;
        for (int c = 0; c < C; c++) {
            float norm = (x[c] - mean[n]) * rstd[n];
            float dnorm = weight[c] * dout_n[c];
            dinp_n[c] += (dnorm - dnorm_mean - norm * dnorm_norm_mean) * rstd[n];
        }
    }

    // dweight, dbias: sums over rows. Each thread owns a block of 16 channels
    // (one cache line) and sums over all N rows in order, so the result does
    // not depend on the number of threads.
    enum { BLOCK = 16 };
    int num_blocks = (C + BLOCK - 1) / BLOCK;
#pragma omp parallel for if (N >= 256)
    for (int block = 0; block < num_blocks; block++) {
        int c0 = block * BLOCK;
        int width = C - c0 < BLOCK ? C - c0 : BLOCK;
        float dw[BLOCK] = {0}, db[BLOCK] = {0};
        for (int n = 0; n < N; n++) {
            const float *dout_n = dout + (size_t)n * C + c0;
            const float *x = inp + (size_t)n * C + c0;
            for (int i = 0; i < width; i++) {
                float norm = (x[i] - mean[n]) * rstd[n];
                dw[i] += dout_n[i] * norm;
                db[i] += dout_n[i];
            }
        }
        for (int i = 0; i < width; i++) {
            dweight[c0 + i] += dw[i];
            dbias[c0 + i] += db[i];
        }
    }
}
