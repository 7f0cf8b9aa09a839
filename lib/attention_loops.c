// attention_loops.c: chapter 4, the same attention as chapter 3, as loops.
//
// No matrices: for one problem and one head, four plain steps, each a loop you
// can follow with a pencil. It must give the same scores, pattern and output as
// attention_forward_vectorized: chapter 4's tests check it against a reference
// written from the definition, and chapter 5's check that the two agree through
// a whole model, every layer and head.
#include <math.h>

#include "layers.h"

// out (B,T,C); scores, pattern (B,NH,T,T); qkv (B,T,3C); boost_row (B,NH,T) or NULL
void attention_forward_loops(float *out, float *scores, float *pattern, const float *qkv,
                             const float *boost_row, int B, int T, int C, int NH)
{
#ifdef LOOPLENS_SOLUTION
    int hs = C / NH; // channels per head
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < NH; h++) {
            const float *qkv_b = qkv + (size_t)b * T * 3 * C;
            float *s = scores + ((size_t)b * NH + h) * T * T;
            float *p = pattern + ((size_t)b * NH + h) * T * T;

            // 1. Dot products: how well query i matches key j, scaled so the
            //    scores do not grow with the head size.
            for (int i = 0; i < T; i++) {
                const float *query = qkv_b + (size_t)i * 3 * C + h * hs;
                for (int j = 0; j < T; j++) {
                    const float *key = qkv_b + (size_t)j * 3 * C + C + h * hs;
                    float dot = 0.0f;
                    for (int d = 0; d < hs; d++)
                        dot += query[d] * key[d];
                    s[i * T + j] = dot * scale;
                }
            }

            // 2. The causal mask: a query may not look at a later key.
            for (int i = 0; i < T; i++)
                for (int j = 0; j < T; j++)
                    if (j > i)
                        s[i * T + j] = -INFINITY;

            // (Chapter 9's boost: extra score for some keys of row POS_ANS.)
            if (boost_row && POS_ANS < T)
                for (int j = 0; j < T; j++)
                    s[POS_ANS * T + j] += boost_row[((size_t)b * NH + h) * T + j];

            // 3. Softmax, row by row: subtract the row's max, exponentiate,
            //    divide by the sum. exp(-inf) = 0: masked keys get weight 0.
            for (int i = 0; i < T; i++) {
                float max = -INFINITY;
                for (int j = 0; j < T; j++)
                    if (s[i * T + j] > max)
                        max = s[i * T + j];
                float sum = 0.0f;
                for (int j = 0; j < T; j++) {
                    p[i * T + j] = expf(s[i * T + j] - max);
                    sum += p[i * T + j];
                }
                for (int j = 0; j < T; j++)
                    p[i * T + j] = p[i * T + j] / sum;
            }

            // 4. Weighted sum: output i is the average of the values, each
            //    weighted by how much query i attends to its key.
            for (int i = 0; i < T; i++) {
                float *out_i = out + ((size_t)b * T + i) * C + h * hs;
                for (int d = 0; d < hs; d++) {
                    float sum = 0.0f;
                    for (int j = 0; j < T; j++) {
                        const float *value = qkv_b + (size_t)j * 3 * C + 2 * C + h * hs;
                        sum += p[i * T + j] * value[d];
                    }
                    out_i[d] = sum;
                }
            }
        }
    }
#else
    // TODO(exercise ch04): for each problem b and head h, in four loops: (1) scores[i][j] =
    // query_i . key_j / sqrt(hs); (2) -INFINITY where j > i; (3) softmax of each
    // row into pattern; (4) out_i = sum over j of pattern[i][j] * value_j.
    // Hint: row t's query for head h starts at qkv + (b*T + t)*3C + h*hs, its key
    // C floats later, its value 2C later. After the mask, if boost_row is not
    // NULL, add its row for (b, h), boost_row + (b*NH + h)*T, to row POS_ANS.
    (void)qkv, (void)boost_row;
    for (size_t i = 0; i < (size_t)B * T * C; i++)
        out[i] = 0.0f;
    for (size_t i = 0; i < (size_t)B * NH * T * T; i++)
        scores[i] = pattern[i] = 0.0f;
#endif
}
