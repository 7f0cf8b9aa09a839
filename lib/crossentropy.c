// crossentropy.c: chapter 6's loss on the answer distribution.
//
// The model's guess for problem b is probs[b] = softmax(logits[b]); the loss is
// -log of the probability it gave the true answer, averaged over the batch.
#include <math.h>

#include "layers.h"

// probs (B,V); targets (B). Returns the mean of -log probs[b][targets[b]].
float crossentropy_forward(const float *probs, const int *targets, int B, int V)
{
    double total = 0.0; // summed in double: B terms of very different sizes
    for (int b = 0; b < B; b++)
        total += -log((double)probs[(size_t)b * V + targets[b]]);
    return (float)(total / B);
}

// Softmax and cross-entropy differentiated together: d(-log p_target)/d logit_i
// is simply p_i - [i == target]. dlogits (B,V) += scale * (probs - onehot).
// scale is usually 1/B (the loss is a mean over the batch).
void crossentropy_softmax_backward(float *dlogits, const float *probs, const int *targets,
                                   float scale, int B, int V)
{
#ifdef LOOPLENS_SOLUTION
    for (int b = 0; b < B; b++) {
        const float *p = probs + (size_t)b * V;
        float *d = dlogits + (size_t)b * V;
        for (int i = 0; i < V; i++) {
            float indicator = i == targets[b] ? 1.0f : 0.0f;
            d[i] += scale * (p[i] - indicator);
        }
    }
#else
    // TODO(exercise ch06): for every problem b and token i, add to dlogits[b][i] the
    // loss's gradient with respect to logit i: scale * (probs[b][i] - 1 if i is the
    // target, else probs[b][i]). Hint: add (+=), do not overwrite; the target of
    // problem b is targets[b], and row b of a (B,V) array starts at b * V.
    (void)dlogits, (void)probs, (void)targets, (void)scale, (void)B, (void)V;
#endif
}
