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
    // TODO(exercise ch03): out[i] = exp(inp[i]) / (sum of exp over the row), computed safely:
    // subtract the row's largest entry before expf so nothing overflows.
    // Hint: masked entries are -INFINITY; expf(-INFINITY) is exactly 0.
    (void)inp;
    for (int i = 0; i < n; i++)
        out[i] = 0.0f;
#endif
}

// Entries j0 .. j0+width-1 of one row of a (M,K) @ b (K,N): each sums its K
// products one by one in order of k, starting from 0, exactly like a dot
// product. Summing up to 8 neighbouring entries side by side in local
// variables lets the compiler keep them in vector registers (width is a
// constant wherever this is inlined).
static inline void row_block(float *out_row, const float *a_row, const float *b, int ldb, int j0,
                             int width, int K)
{
    float acc[8] = {0};
    for (int k = 0; k < K; k++)
        for (int j = 0; j < width; j++)
            acc[j] += a_row[k] * b[(size_t)k * ldb + j0 + j];
    for (int j = 0; j < width; j++)
        out_row[j0 + j] = acc[j];
}

void row_times_matrix(float *out_row, const float *a_row, const float *b, int ldb, int N, int K)
{
    int j0 = 0;
    for (; j0 + 8 <= N; j0 += 8)
        row_block(out_row, a_row, b, ldb, j0, 8, K);
    for (; j0 + 4 <= N; j0 += 4)
        row_block(out_row, a_row, b, ldb, j0, 4, K);
    for (; j0 < N; j0++)
        row_block(out_row, a_row, b, ldb, j0, 1, K);
}

// out (M,N) = a (M,K) @ b (K,N); ld_* are the row strides (a head's slice of
// qkv is not contiguous).
static void matmul_a_b(float *out, int ld_out, const float *a, int lda, const float *b, int ldb,
                       int M, int N, int K)
{
    for (int i = 0; i < M; i++)
        row_times_matrix(out + (size_t)i * ld_out, a + (size_t)i * lda, b, ldb, N, K);
}

// out (M,N) = a (N,M)^T
static void transpose(float *out, const float *a, int lda, int M, int N)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            out[(size_t)i * N + j] = a[(size_t)j * lda + i];
}

// out (M,N) += a (M,N), out with row stride ld_out
static void add_rows(float *out, int ld_out, const float *a, int M, int N)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            out[(size_t)i * ld_out + j] += a[(size_t)i * N + j];
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

// The backward, per (problem, head), with P = pattern and dO = dout's slice,
// as small matrix products like the forward:
//   dP  = dO V^T                      (T,T)
//   dS  = P * (dP - rowsum(P * dP))   the softmax's backward, row by row,
//                                     then times 1/sqrt(hs) for the scale
//   dQ += dS K,   dK += dS^T Q,   dV += P^T dO
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
        // Per-thread scratch: a transposed (hs,T) or (T,T) operand, dP or dS
        // (T,T), and a (T,hs) product before it is added into dqkv.
        float *scratch = g_new(float, (size_t)3 * T * T + (size_t)2 * hs * T);
        float *transposed = scratch;               // (T,T) or (hs,T)
        float *ds = transposed + (size_t)T * (T > hs ? T : hs); // (T,T)
        float *product = ds + (size_t)T * T;       // (T,hs)
#pragma omp for collapse(2) schedule(static)
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < NH; h++) {
                const float *p = pattern + ((size_t)b * NH + h) * T * T;
                const float *q = qkv + (size_t)b * T * 3 * C + h * hs; // row stride 3C
                const float *k = q + C;
                const float *v = q + 2 * C;
                const float *dout_bh = dout + (size_t)b * T * C + h * hs; // row stride C
                float *dq = dqkv + (size_t)b * T * 3 * C + h * hs;
                float *dk = dq + C;
                float *dv = dq + 2 * C;

                // dP = dO V^T, then dS row by row
                transpose(transposed, v, 3 * C, hs, T);
                matmul_a_b(ds, T, dout_bh, C, transposed, T, T, T, hs);
                for (int i = 0; i < T; i++) {
                    float *row = ds + i * T;
                    float weighted = 0.0f; // sum over j of P[i][j] dP[i][j]
                    for (int j = 0; j <= i; j++)
                        weighted += p[i * T + j] * row[j];
                    for (int j = 0; j < T; j++)
                        row[j] = p[i * T + j] * (row[j] - weighted) * scale;
                }
                // dQ += dS K
                matmul_a_b(product, hs, ds, T, k, 3 * C, T, hs, T);
                add_rows(dq, 3 * C, product, T, hs);
                // dK += dS^T Q
                transpose(transposed, ds, T, T, T);
                matmul_a_b(product, hs, transposed, T, q, 3 * C, T, hs, T);
                add_rows(dk, 3 * C, product, T, hs);
                // dV += P^T dO
                transpose(transposed, p, T, T, T);
                matmul_a_b(product, hs, transposed, T, dout_bh, C, T, hs, T);
                add_rows(dv, 3 * C, product, T, hs);
            }
        }
        g_free(scratch);
    }
}
