// matmul.c: the linear layer, out = inp @ weight^T + bias (PyTorch layout).
//
// Almost all of the model's arithmetic happens here, so the fast path hands the
// work to OpenBLAS's sgemm. Two rules keep the results reproducible:
//  - OpenBLAS runs single-threaded; we parallelise ourselves with OpenMP over
//    blocks of OUTPUT rows, so no sum is ever split between threads;
//  - the blocks have a fixed size (not "one per thread"), so each sgemm call sees
//    the same shapes whatever the thread count: 1 or 2 threads, same bits.
#include <cblas.h>
#include <glib.h>

#include "layers.h"

// Rows of the output per sgemm call (measured on the default model with batch
// 64: larger blocks amortise OpenBLAS's packing of the weight, smaller ones
// give two threads more blocks to share).
#define FORWARD_ROW_BLOCK 128
#define BACKWARD_ROW_BLOCK 64

static void blas_single_threaded(void)
{
    static gsize done = 0;
    if (g_once_init_enter(&done)) {
        openblas_set_num_threads(1);
        g_once_init_leave(&done, 1);
    }
}

static void add_bias(float *out, const float *bias, int rows, int OC)
{
    for (int n = 0; n < rows; n++)
        for (int o = 0; o < OC; o++)
            out[(size_t)n * OC + o] += bias[o];
}

// out (N,OC); inp (N,C); weight (OC,C); bias (OC) or NULL
void matmul_forward(float *out, const float *inp, const float *weight, const float *bias,
                    int N, int C, int OC)
{
    blas_single_threaded();
    int num_blocks = (N + FORWARD_ROW_BLOCK - 1) / FORWARD_ROW_BLOCK;
#pragma omp parallel for schedule(static) if (num_blocks > 1)
    for (int block = 0; block < num_blocks; block++) {
        int n0 = block * FORWARD_ROW_BLOCK;
        int rows = N - n0 < FORWARD_ROW_BLOCK ? N - n0 : FORWARD_ROW_BLOCK;
        float *out_block = out + (size_t)n0 * OC;
        // out_block (rows,OC) = inp_block (rows,C) @ weight^T (C,OC)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, OC, C, 1.0f,
                    inp + (size_t)n0 * C, C, weight, C, 0.0f, out_block, OC);
        if (bias)
            add_bias(out_block, bias, rows, OC);
    }
}

// The same product as three plain loops: what matmul_forward must agree with.
void matmul_forward_reference(float *out, const float *inp, const float *weight,
                              const float *bias, int N, int C, int OC)
{
    for (int n = 0; n < N; n++) {
        for (int o = 0; o < OC; o++) {
            float sum = bias ? bias[o] : 0.0f;
            for (int c = 0; c < C; c++)
                sum += inp[(size_t)n * C + c] * weight[(size_t)o * C + c];
            out[(size_t)n * OC + o] = sum;
        }
    }
}

// Gradients, all added into:
//   dinp    (N,C)  += dout (N,OC) @ weight (OC,C)
//   dweight (OC,C) += dout^T (OC,N) @ inp (N,C)    a sum over all N rows
//   dbias   (OC)   += column sums of dout          also a sum over N
// Each is split over blocks of its own output rows; every sum over N stays in
// one thread, in one sgemm call or loop. dinp and dbias may be NULL.
void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                     const float *inp, const float *weight, int N, int C, int OC)
{
    blas_single_threaded();
    int inp_blocks = (N + BACKWARD_ROW_BLOCK - 1) / BACKWARD_ROW_BLOCK;
    int weight_blocks = (OC + BACKWARD_ROW_BLOCK - 1) / BACKWARD_ROW_BLOCK;
#pragma omp parallel
    {
#pragma omp for schedule(static) nowait
        for (int block = 0; block < (dinp ? inp_blocks : 0); block++) {
            int n0 = block * BACKWARD_ROW_BLOCK;
            int rows = N - n0 < BACKWARD_ROW_BLOCK ? N - n0 : BACKWARD_ROW_BLOCK;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, C, OC, 1.0f,
                        dout + (size_t)n0 * OC, OC, weight, C, 1.0f, dinp + (size_t)n0 * C, C);
        }
#pragma omp for schedule(static)
        for (int block = 0; block < weight_blocks; block++) {
            int o0 = block * BACKWARD_ROW_BLOCK;
            int rows = OC - o0 < BACKWARD_ROW_BLOCK ? OC - o0 : BACKWARD_ROW_BLOCK;
            // dweight rows o0.. : dout[:, o0..]^T (rows,N) @ inp (N,C)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, rows, C, N, 1.0f,
                        dout + o0, OC, inp, C, 1.0f, dweight + (size_t)o0 * C, C);
            if (dbias) {
                float sums[BACKWARD_ROW_BLOCK] = {0};
                for (int n = 0; n < N; n++)
                    for (int i = 0; i < rows; i++)
                        sums[i] += dout[(size_t)n * OC + o0 + i];
                for (int i = 0; i < rows; i++)
                    dbias[o0 + i] += sums[i];
            }
        }
    }
}
