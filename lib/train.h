// train.h: chapter 6, teaching the model: the backward pass through the whole
// GPT, AdamW, the learning-rate schedule, one training step, held-out
// evaluation, and the training-state file that lets a run stop and resume.
//
// The loss is the cross-entropy of the answer: position POS_ANS (18) predicts
// the token at POS_ANSWER (19). Optionally (all_positions) every position t
// also predicts the token at t + 1, the usual language-model loss.
#ifndef LOOPLENS_TRAIN_H
#define LOOPLENS_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "model.h"
#include "problem.h"

// ----------------------------------------------------------------------------
// Hyperparameters. train_config_default gives the values the shipped models
// use unless docs/training.md says otherwise.
typedef struct {
    int batch;          // B problems per step (64)
    int steps;          // the schedule's length: the cosine reaches min_lr here
    float lr;           // peak learning rate (1e-3)
    int warmup;         // steps of linear warmup from lr/warmup up to lr (200)
    float min_lr_ratio; // the cosine ends at lr * min_lr_ratio (0.1)
    float beta1;        // AdamW moment decay rates: PyTorch's defaults 0.9 and
    float beta2;        //   0.999 (the reference runs of NOTES.md used them)
    float eps;          // 1e-8, added to sqrt(v_hat)
    float weight_decay; // decoupled, 2-D weight matrices only (0.01)
    float clip;         // global gradient-norm limit; 0 turns clipping off (1.0)
    bool all_positions; // add the next-token loss at every position
} TrainConfig;

void train_config_default(TrainConfig *tc);
// Every field in range (batch 1..4096, steps >= 1, 0 < lr, 0 <= beta < 1, ...).
bool train_config_valid(const TrainConfig *tc, char *why, size_t why_size);
// The learning rate of step `step` (counted from 1): linear warmup to lr over
// the first `warmup` steps, then a half cosine down to lr * min_lr_ratio at
// step `steps` (and flat after it).
float learning_rate(const TrainConfig *tc, int step);

// ----------------------------------------------------------------------------
// Gradients of the activations. Unlike the forward activations they are not
// kept per layer: the backward pass walks the layers one at a time and reuses
// the same buffers. One allocation, carved like ActivationTensors.
typedef struct {
    float *dresidual;  // (B,T,C)  the gradient of the residual stream where we are
    float *dln;        // (B,T,C)  of a LayerNorm's output (ln_1, ln_2 or ln_f)
    float *dqkv;       // (B,T,3C)
    float *dattn_out;  // (B,T,C)  of the heads' concatenated output
    float *dfc_gelu;   // (B,T,F)
    float *dfc;        // (B,T,F)
    float *logits_all; // (B,T,V)  all_positions only: logits at every position
    float *probs_all;  // (B,T,V)
    float *dlogits;    // (B,T,V)  (B,V) used with the answer-only loss
    // The answer-only shortcut (see gpt_backward): row POS_ANS of each problem,
    // gathered into contiguous (B, ...) blocks.
    float *row_ln_f;       // (B,C)
    float *row_ln_f_mean;  // (B)
    float *row_ln_f_rstd;  // (B)
    float *row_resid_post; // (B,C)  the last layer's output
    float *row_fc_gelu;    // (B,F)
    float *row_fc;         // (B,F)
    float *row_ln_2;       // (B,C)
    float *row_ln_2_mean;  // (B)
    float *row_ln_2_rstd;  // (B)
    float *row_resid_mid;  // (B,C)
    float *row_attn_out;   // (B,C)
    float *row_dresidual;  // (B,C)
    float *row_dattn_out;  // (B,C)
} ActivationGrads;

// Everything that changes while training, besides the weights.
typedef struct {
    GPT *model; // not owned
    TrainConfig config;
    // Gradients of the parameters, laid out exactly like model->params.
    ParameterTensors grads;
    float *grads_memory; // (num_parameters)
    // AdamW's moments, laid out like the parameters too.
    float *m_memory; // (num_parameters) first moment: running mean of gradients
    float *v_memory; // (num_parameters) second moment: running mean of squares
    int step;        // optimizer steps taken; the next one is step + 1
    ProblemStream stream; // where the training problems come from
    ActivationGrads dacts;
    float *dacts_memory;
    int dacts_batch; // B the activation gradients are sized for
    int *tokens;     // (B,T) the current batch
    int *targets;    // (B,T) next-token targets, all_positions only
} Trainer;

// Zeroed gradients and moments, step 0. The trainer points at model (whose
// weights are whatever they are: initialise or load them first).
bool trainer_init(Trainer *t, GPT *model, const TrainConfig *config, const ProblemStream *stream,
                  GError **error);
void trainer_free(Trainer *t);
void zero_grad(Trainer *t);

// The backward pass of the whole model, after gpt_forward(model, tokens, B):
// from the loss through ln_f and every layer in reverse to the embeddings. Adds
// into t->grads (call zero_grad first). Returns the mean loss over the batch
// (with all_positions: the mean over every predicted position).
float gpt_backward(Trainer *t, const int *tokens, int B);

// The gradient's global L2 norm, summed in double in a fixed order.
double grad_norm(const Trainer *t);
// One AdamW update with learning rate lr, the gradients first multiplied by
// grad_scale (clipping). Increments t->step: bias correction uses the new value.
// Weight decay applies to the tensors param_info marks decay (2-D weights).
void adamw_update(Trainer *t, float lr, float grad_scale);

typedef struct {
    float loss;        // the loss being minimised (answer only, or all positions)
    float answer_loss; // the answer's cross-entropy, whatever the loss
    double grad_norm;  // before clipping
    float lr;
} StepStats;

// One step on B problems: forward, backward, clip, AdamW. If the loss or the
// gradient is not finite, returns false with an error and leaves the weights
// and the optimizer untouched.
bool train_step_on(Trainer *t, const Problem *batch, int B, StepStats *stats, GError **error);
// The same on the next config.batch problems of t->stream.
bool train_step(Trainer *t, StepStats *stats, GError **error);

// ----------------------------------------------------------------------------
// Held-out evaluation.
typedef struct {
    size_t count, correct;
    double loss;            // mean cross-entropy of the answer
    size_t op_count[3];     // by operator: + - *
    size_t op_correct[3];
    size_t squaring_count;  // op * and var1 == var2
    size_t squaring_good;   // of those, answered correctly (bad = count - good)
    double squaring_good_p; // mean p_correct of the good ones (0 if none)
    double squaring_bad_p;  // and of the bad ones
} EvalResult;

// Runs the model over the problems, `batch` at a time.
bool evaluate(GPT *model, const Problem *problems, size_t count, int batch, EvalResult *out,
              GError **error);
static inline double eval_accuracy(const EvalResult *r)
{
    return r->count ? (double)r->correct / (double)r->count : 0.0;
}

// ----------------------------------------------------------------------------
// The training state: a safetensors file holding the weights ("params"),
// AdamW's moments ("adam_m", "adam_v"; each a flat [num_parameters] tensor in
// ParameterTensors order) and, as metadata, the model's shape, every
// hyperparameter, the step and the training stream's position, so a resumed
// run continues bit for bit. The metadata key "format" is TRAIN_STATE_FORMAT.
#define TRAIN_STATE_FORMAT "looplens-train-state-1"

// extra_metadata: key, value, ..., NULL (may be NULL): the caller's own keys.
bool train_state_save(const char *path, const Trainer *t, const char *const *extra_metadata,
                      GError **error);
// Creates *model and *t from a state file (free both with gpt_free and
// trainer_free). If metadata is not NULL it receives every metadata key and
// value (a new GHashTable of strings).
bool train_state_load(const char *path, GPT *model, Trainer *t, GHashTable **metadata,
                      GError **error);

#endif
