// reference.h: what reference.csv (next to this file) holds, so that chapter
// 7's program and tests/ch07_capture.c check the same thing: the attention
// pattern (after the softmax) of one problem, layer and head, captured with
//
//   looplens capture --model CH07_MODEL --data <a file with CH07_PROBLEM>
//                    --index 0 --layer CH07_LAYER --head CH07_HEAD --out reference.csv
//
// A fresh capture must match it to CH07_TOLERANCE in every cell: far above the
// float rounding that a different BLAS kernel or thread count could cause
// (about 1e-7 on weights in [0, 1]), far below any real change of the model
// or of the attention code (which moves weights by 1e-2 or more).
#ifndef LOOPLENS_CH07_REFERENCE_H
#define LOOPLENS_CH07_REFERENCE_H

#define CH07_MODEL "tests/fixtures/golden_model.safetensors" // relative to the source root
#define CH07_PROBLEM "[START] a 5 b 2 c 6 d 0 [VARS] b b [EQ] ans = b * b [ANS] 4"
#define CH07_LAYER 1
#define CH07_HEAD 0
#define CH07_REFERENCE "chapters/07-capture/reference.csv"
#define CH07_TOLERANCE 1e-3

#endif
