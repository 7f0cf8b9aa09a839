// gelu.c: the MLP's nonlinearity, GELU in its exact erf form (SPEC section 2).
//
// gelu(x) = x * Phi(x), Phi the standard normal CDF = 0.5 (1 + erf(x / sqrt 2)).
// Not the tanh approximation GPT-2 used: the two differ by up to ~1e-3.
#include <math.h>

#include "layers.h"

#define INV_SQRT_2 0.70710678118654752f        // 1 / sqrt(2)
#define INV_SQRT_2PI 0.39894228040143268f      // 1 / sqrt(2 pi)

float gelu(float x)
{
    return 0.5f * x * (1.0f + erff(x * INV_SQRT_2));
}

// d/dx [x Phi(x)] = Phi(x) + x phi(x), phi the standard normal density.
float gelu_derivative(float x)
{
    float cdf = 0.5f * (1.0f + erff(x * INV_SQRT_2));
    float pdf = INV_SQRT_2PI * expf(-0.5f * x * x);
    return cdf + x * pdf;
}

// out, inp (n)
void gelu_forward(float *out, const float *inp, int n)
{
#pragma omp parallel for if (n >= 65536)
    for (int i = 0; i < n; i++)
        out[i] = gelu(inp[i]);
}

// dinp (n) += gelu'(inp) * dout
void gelu_backward(float *dinp, const float *inp, const float *dout, int n)
{
#pragma omp parallel for if (n >= 65536)
    for (int i = 0; i < n; i++)
        dinp[i] += gelu_derivative(inp[i]) * dout[i];
}
