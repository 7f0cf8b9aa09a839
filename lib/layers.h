// layers.h: the layers of the GPT, each a *_forward / *_backward pair.
//
// Arguments: outputs first, then inputs, then sizes. Backward functions ADD into
// their gradient outputs (the caller zeroes them once per step), so a tensor used
// twice (wte: embedding and output) collects both contributions.
// N = B * T rows where a layer treats every position alike.
#ifndef LOOPLENS_LAYERS_H
#define LOOPLENS_LAYERS_H

#include "model.h"

// Chapter 2: token + position embedding, the start of the residual stream.
// out (B,T,C); tokens (B,T); wte (V,C); wpe (T,C)
void encoder_forward(float *out, const int *tokens, const float *wte, const float *wpe,
                     int B, int T, int C);
void encoder_backward(float *dwte, float *dwpe, const float *dout, const int *tokens,
                      int B, int T, int C);

// Chapter 5: LayerNorm with two-pass mean and variance, eps 1e-5.
// out (N,C); mean, rstd (N); inp (N,C); weight, bias (C)
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                       const float *weight, const float *bias, int N, int C);
void layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, const float *mean,
                        const float *rstd, int N, int C);

// A linear layer in PyTorch layout: out (N,OC) = inp (N,C) @ weight^T + bias,
// weight (OC,C), bias (OC) or NULL. matmul_forward is the fast path (BLAS);
// matmul_forward_reference is the plain triple loop the tests compare it with.
void matmul_forward(float *out, const float *inp, const float *weight, const float *bias,
                    int N, int C, int OC);
void matmul_forward_reference(float *out, const float *inp, const float *weight,
                              const float *bias, int N, int C, int OC);
void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                     const float *inp, const float *weight, int N, int C, int OC);

// GELU in its exact form: x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)).
float gelu(float x);
float gelu_derivative(float x);
void gelu_forward(float *out, const float *inp, int n);
void gelu_backward(float *dinp, const float *inp, const float *dout, int n);

// Chapters 3 and 4: causal multi-head self-attention, after c_attn.
// out (B,T,C) heads concatenated; scores, pattern (B,NH,T,T); qkv (B,T,3C).
// boost_row (B,NH,T) or NULL: added to row POS_ANS of each problem's and head's
// scores after scaling and masking, before the softmax (chapter 9).
// Masked cells (key after query) hold -INFINITY in scores and exactly 0 in pattern.
void attention_forward_vectorized(float *out, float *scores, float *pattern, const float *qkv,
                                  const float *boost_row, int B, int T, int C, int NH);
void attention_forward_loops(float *out, float *scores, float *pattern, const float *qkv,
                             const float *boost_row, int B, int T, int C, int NH);
void attention_forward(float *out, float *scores, float *pattern, const float *qkv,
                       const float *boost_row, int B, int T, int C, int NH, AttentionImpl impl);
void attention_backward(float *dqkv, const float *dout, const float *qkv, const float *pattern,
                        int B, int T, int C, int NH);

// One row of the attention's small matrix products: out_row (N) = a_row (K) @
// b (K,N), b with row stride ldb; each entry summed over k in order from 0, so
// that whoever computes a row this way gets the vectorized attention's bits
// (gpt_forward_shared does).
void row_times_matrix(float *out_row, const float *a_row, const float *b, int ldb, int N, int K);

// A numerically stable softmax of one row (subtract the row max first); -inf
// entries become exactly 0.
void softmax_row(float *out, const float *inp, int n);

// Chapter 6: cross-entropy of the answer distribution. probs (B,V); targets (B).
// Returns the mean loss over B. The backward writes
// dlogits += scale * (probs - onehot(target)).
float crossentropy_forward(const float *probs, const int *targets, int B, int V);
void crossentropy_softmax_backward(float *dlogits, const float *probs, const int *targets,
                                   float scale, int B, int V);

#endif
