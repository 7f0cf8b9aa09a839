// attention.c: chapter 3, causal multi-head self-attention as matrix products.
//
// qkv holds, for every position, a query, a key and a value vector for every
// head (c_attn's output): row t of problem b is [q (C) | k (C) | v (C)], and
// head h owns channels h*hs .. (h+1)*hs-1 of each part. For one head:
//
//   scores  = Q K^T / sqrt(hs)      (T,T): how well query i matches key j
//   scores += causal mask            -inf where key j comes after query i
//   scores += boost                  chapter 9: row POS_ANS only, usually zero
//   pattern = softmax of each row    (T,T): each row sums to 1
//   out     = pattern V              (T,hs): a weighted average of values
//
// Chapter 4 writes the same computation as plain loops (attention_loops.c). The
// two do the same sums in the same order, so they agree to the last bit.
#include <math.h>

#include <glib.h>

#include "layers.h"

// A numerically stable softmax: exp(x - max) cannot overflow, and the common
// factor exp(-max) cancels in the division. A masked entry (-inf) gives
// exp(-inf) = 0 exactly, so masked keys get weight exactly 0.
void softmax_row(float *out, const float *inp, int n)
{
#ifdef LOOPLENS_SOLUTION
    float max = -INFINITY;
    for (int i = 0; i < n; i++)
        if (inp[i] > max)
            max = inp[i];
    if (max == -INFINITY) {
        // Every entry masked: nothing to attend to (cannot happen in causal
        // attention, where a query always sees itself). -inf - -inf would be NaN.
        for (int i = 0; i < n; i++)
            out[i] = 0.0f;
        return;
    }
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        out[i] = expf(inp[i] - max);
        sum += out[i];
    }
    for (int i = 0; i < n; i++)
        out[i] = out[i] / sum;
#else
    // TODO: out[i] = exp(inp[i]) / (sum of exp over the row), computed safely:
    // subtract the row's largest entry before expf so nothing overflows.
    // Hint: masked entries are -INFINITY; expf(-INFINITY) is exactly 0.
    (void)inp;
    for (int i = 0; i < n; i++)
        out[i] = 0.0f;
#endif
}

// out (M,N) = a (M,K) @ b (K,N); ld_* are the row strides (a head's slice of
// qkv is not contiguous). The inner loop runs along a row of b and a row of
// out, which the compiler turns into vector instructions; each entry of out
// still sums its K terms one by one in order of k, exactly like a dot product.
static void matmul_a_b(float *out, int ld_out, const float *a, int lda, const float *b, int ldb,
                       int M, int N, int K)
{
    for (int i = 0; i < M; i++) {
        float *out_row = out + (size_t)i * ld_out;
        for (int j = 0; j < N; j++)
            out_row[j] = 0.0f;
        for (int k = 0; k < K; k++) {
            float a_ik = a[(size_t)i * lda + k];
            const float *b_row = b + (size_t)k * ldb;
            for (int j = 0; j < N; j++)
                out_row[j] += a_ik * b_row[j];
        }
    }
}

// out (M,N) = a (N,M)^T
static void transpose(float *out, const float *a, int lda, int M, int N)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            out[(size_t)i * N + j] = a[(size_t)j * lda + i];
}

// out (B,T,C); scores, pattern (B,NH,T,T); qkv (B,T,3C); boost_row (B,NH,T) or NULL
void attention_forward_vectorized(float *out, float *scores, float *pattern, const float *qkv,
                                  const float *boost_row, int B, int T, int C, int NH)
{
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel
    {
        float *k_t = g_new(float, (size_t)hs * T); // K^T (hs,T), one per thread
        // Every (problem, head) pair is independent: one per iteration.
#pragma omp for collapse(2) schedule(static)
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < NH; h++) {
                const float *q = qkv + (size_t)b * T * 3 * C + h * hs; // (T,hs), row stride 3C
                const float *k = q + C;
                const float *v = q + 2 * C;
                float *s = scores + ((size_t)b * NH + h) * T * T;  // (T,T)
                float *p = pattern + ((size_t)b * NH + h) * T * T; // (T,T)
                float *o = out + (size_t)b * T * C + h * hs;        // (T,hs), row stride C

                // scores = Q K^T / sqrt(hs)
                transpose(k_t, k, 3 * C, hs, T);
                matmul_a_b(s, T, q, 3 * C, k_t, T, T, T, hs);
                for (int i = 0; i < T * T; i++)
                    s[i] *= scale;
                // the causal mask, then the boost (a masked -inf stays -inf)
                for (int i = 0; i < T; i++)
                    for (int j = i + 1; j < T; j++)
                        s[i * T + j] = -INFINITY;
                if (boost_row && POS_ANS < T) {
                    const float *boost = boost_row + ((size_t)b * NH + h) * T;
                    for (int j = 0; j < T; j++)
                        s[POS_ANS * T + j] += boost[j];
                }
                // pattern = softmax of each row; out = pattern V
                for (int i = 0; i < T; i++)
                    softmax_row(p + i * T, s + i * T, T);
                matmul_a_b(o, C, p, T, v, 3 * C, T, hs, T);
            }
        }
        g_free(k_t);
    }
}

void attention_forward(float *out, float *scores, float *pattern, const float *qkv,
                       const float *boost_row, int B, int T, int C, int NH, AttentionImpl impl)
{
    if (impl == ATTENTION_LOOPS)
        attention_forward_loops(out, scores, pattern, qkv, boost_row, B, T, C, NH);
    else
        attention_forward_vectorized(out, scores, pattern, qkv, boost_row, B, T, C, NH);
}

// The backward, per (problem, head), with P = pattern and dO = dout's slice:
//   dV  = P^T dO
//   dP  = dO V^T
//   dS  = P * (dP - rowsum(P * dP))   the softmax's backward, row by row
//   dQ  = dS K / sqrt(hs),  dK = dS^T Q / sqrt(hs)
// Masked cells have P = 0, so dS = 0 there: no gradient crosses the mask. The
// boost is a constant added to the scores and has no gradient of its own.
// dqkv (B,T,3C) is added into; dout (B,T,C); qkv (B,T,3C); pattern (B,NH,T,T)
void attention_backward(float *dqkv, const float *dout, const float *qkv, const float *pattern,
                        int B, int T, int C, int NH)
{
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel
    {
        float *dscores = g_new(float, T); // row i of dS, one per thread
#pragma omp for collapse(2) schedule(static)
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < NH; h++) {
                const float *p = pattern + ((size_t)b * NH + h) * T * T;
                const float *qkv_b = qkv + (size_t)b * T * 3 * C;
                float *dqkv_b = dqkv + (size_t)b * T * 3 * C;
                for (int i = 0; i < T; i++) {
                    const float *dout_i = dout + ((size_t)b * T + i) * C + h * hs;
                    // dP[i][j] = dO_i . v_j, and dV_j += P[i][j] dO_i
                    float weighted = 0.0f; // sum over j of P[i][j] dP[i][j]
                    for (int j = 0; j <= i; j++) {
                        const float *v_j = qkv_b + (size_t)j * 3 * C + 2 * C + h * hs;
                        float *dv_j = dqkv_b + (size_t)j * 3 * C + 2 * C + h * hs;
                        float dp = 0.0f;
                        for (int d = 0; d < hs; d++) {
                            dp += dout_i[d] * v_j[d];
                            dv_j[d] += p[i * T + j] * dout_i[d];
                        }
                        dscores[j] = dp;
                        weighted += p[i * T + j] * dp;
                    }
                    // Through the softmax, then the 1/sqrt(hs) scale.
                    for (int j = 0; j <= i; j++)
                        dscores[j] = p[i * T + j] * (dscores[j] - weighted) * scale;
                    // Into the query of row i and the keys of rows j <= i.
                    const float *q_i = qkv_b + (size_t)i * 3 * C + h * hs;
                    float *dq_i = dqkv_b + (size_t)i * 3 * C + h * hs;
                    for (int j = 0; j <= i; j++) {
                        const float *k_j = qkv_b + (size_t)j * 3 * C + C + h * hs;
                        float *dk_j = dqkv_b + (size_t)j * 3 * C + C + h * hs;
                        float ds = dscores[j];
                        for (int d = 0; d < hs; d++) {
                            dq_i[d] += ds * k_j[d];
                            dk_j[d] += ds * q_i[d];
                        }
                    }
                }
            }
        }
        g_free(dscores);
    }
}
