// model.h: the GPT of SPEC section 2 (chapters 2-6).
//
// Shapes are written in the llm.c way: B problems in a batch, T = 20 positions,
// C = d_model channels, NH heads, hs = C / NH channels per head, F = d_ff,
// V = 104 tokens, L layers. Every tensor is a plain row-major float array.
#ifndef LOOPLENS_MODEL_H
#define LOOPLENS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "problem.h"

#define BLOCK_SIZE PROBLEM_LEN // T: every problem is exactly 20 tokens
#define MAX_LAYERS 16
#define MAX_HEADS 16

typedef struct {
    int n_layer;    // L
    int n_head;     // NH
    int d_model;    // C
    int d_ff;       // F
    int vocab_size; // V (always VOCAB_SIZE)
    int block_size; // T (always BLOCK_SIZE)
} GPTConfig;

// "default" (6 layers, 8 heads, d_model 128, d_ff 512), "seed" (6, 8, 512,
// 2048) and "tiny" (2, 2, 16, 32; for tests). False for an unknown name.
bool gpt_config_preset(const char *name, GPTConfig *out);
bool gpt_config_valid(const GPTConfig *c, char *why, size_t why_size);

// ----------------------------------------------------------------------------
// Parameters: one allocation carved into 16 named tensors, in this order. The
// per-layer tensors stack their L copies: ln_1_weight is (L, C) and layer l's
// copy starts at ln_1_weight + l * C.
#define NUM_PARAM_TENSORS 16
typedef struct {
    float *wte;              // (V, C)  token embedding, also the output matrix
    float *wpe;              // (T, C)  position embedding
    float *ln_1_weight;      // (L, C)
    float *ln_1_bias;        // (L, C)
    float *c_attn_weight;    // (L, 3C, C)  rows: q, then k, then v
    float *c_attn_bias;      // (L, 3C)
    float *attn_proj_weight; // (L, C, C)  attn.c_proj
    float *attn_proj_bias;   // (L, C)
    float *ln_2_weight;      // (L, C)
    float *ln_2_bias;        // (L, C)
    float *c_fc_weight;      // (L, F, C)
    float *c_fc_bias;        // (L, F)
    float *mlp_proj_weight;  // (L, C, F)  mlp.c_proj
    float *mlp_proj_bias;    // (L, C)
    float *ln_f_weight;      // (C)
    float *ln_f_bias;        // (C)
} ParameterTensors;

// Describes parameter tensor i (0..15) of ParameterTensors: the safetensors
// name of layer l's slice (e.g. "transformer.h.3.attn.c_attn.weight"; layer is
// ignored for wte, wpe, ln_f), whether it is per layer, its shape per layer
// (rank 1 or 2), and whether AdamW decays it (2-D weight matrices only).
typedef struct {
    const char *name_format; // printf format with one %d for the layer
    bool per_layer;
    int rank;
    size_t dims[2];
    bool decay;
} ParamInfo;
void param_info(const GPTConfig *c, int i, ParamInfo *out);
size_t param_count(const GPTConfig *c); // total floats
// Points the 16 named pointers into `memory` (param_count floats).
void param_carve(ParameterTensors *p, const GPTConfig *c, float *memory);

// ----------------------------------------------------------------------------
// Activations of a forward pass over B problems, one allocation carved into
// named tensors. The two attention captures are TransformerLens's hooks:
//   attn_scores  (L, B, NH, T, T)  hook_attn_scores: q.k / sqrt(hs), causal mask
//                                  as -INFINITY, boost added; before softmax
//   attn_pattern (L, B, NH, T, T)  hook_pattern: after softmax; rows are
//                                  queries, columns keys
typedef struct {
    float *encoded;      // (B, T, C)  wte[token] + wpe[position]
    float *ln_1;         // (L, B, T, C)
    float *ln_1_mean;    // (L, B, T)
    float *ln_1_rstd;    // (L, B, T)
    float *qkv;          // (L, B, T, 3C)
    float *attn_scores;  // (L, B, NH, T, T)
    float *attn_pattern; // (L, B, NH, T, T)
    float *attn_out;     // (L, B, T, C)  heads concatenated, before c_proj
    float *attn_proj;    // (L, B, T, C)
    float *resid_mid;    // (L, B, T, C)  x + attn(ln_1(x))
    float *ln_2;         // (L, B, T, C)
    float *ln_2_mean;    // (L, B, T)
    float *ln_2_rstd;    // (L, B, T)
    float *fc;           // (L, B, T, F)  before GELU
    float *fc_gelu;      // (L, B, T, F)
    float *mlp_proj;     // (L, B, T, C)
    float *resid_post;   // (L, B, T, C)  the residual stream after layer l
    float *ln_f;         // (B, T, C)
    float *ln_f_mean;    // (B, T)
    float *ln_f_rstd;    // (B, T)
    float *logits;       // (B, V)  at position POS_ANS only
    float *probs;        // (B, V)  softmax(logits): the answer distribution
} ActivationTensors;
// The memory is sized for GPT.max_batch problems but indexed with the B of the
// last forward (GPT.batch): layer l of ln_1 starts at ln_1 + l * B*T*C. Gradient
// buffers of the same layout come from the same three functions.
#define NUM_ACTIVATION_TENSORS 22
void activation_sizes(const GPTConfig *c, int B, size_t sizes[NUM_ACTIVATION_TENSORS]);
size_t activation_count(const GPTConfig *c, int B); // total floats for B problems
void activation_carve(ActivationTensors *a, const GPTConfig *c, int B, float *memory);

// ----------------------------------------------------------------------------
// The boost intervention (SPEC section 4, chapter 9): before the softmax, add
// `amount` to row POS_ANS's raw score at each value position whose name is var1
// or var2 (once per position) and at POS_OP, in every targeted layer and head.
typedef struct {
    float amount;              // SPEC default +2.0
    bool boost_values;         // the referenced variables' value positions
    bool boost_operator;       // position 16
    bool target[MAX_LAYERS][MAX_HEADS]; // which (layer, head) pairs
} Boost;
// amount, both kinds of position, every layer and head.
void boost_init_default(Boost *b, float amount);
// The key positions row POS_ANS of this problem gets boosted at; returns how
// many (1 to 3) and writes them in increasing order.
int boost_positions(const Boost *b, const Problem *p, int out[3]);
// The exercise of chapter 9 (gpt_forward calls it): out (T) = what gets added to row POS_ANS's scores
// of this layer and head: boost->amount at each of boost_positions(problem)
// (each position once, also when var1 == var2), if the boost targets this
// layer and head; 0 everywhere else.
void boost_row(float *out, const Boost *boost, const Problem *problem, int layer, int head, int T);


typedef enum {
    ATTENTION_VECTORIZED = 0, // chapter 3: matmuls
    ATTENTION_LOOPS = 1,      // chapter 4: plainly nested for-loops
} AttentionImpl;

typedef struct {
    GPTConfig config;
    ParameterTensors params;
    float *params_memory;
    size_t num_parameters;
    // Forward state for the last batch: sized for max_batch problems.
    ActivationTensors acts;
    float *acts_memory;
    int max_batch;
    int batch; // B of the last forward
    AttentionImpl attention;
    // Scratch of gpt_forward_shared (the rows of its prefix tree), kept
    // between calls so that a run of batches allocates it once.
    float *shared_memory;
    size_t shared_floats;
} GPT;

// One layer's slice of every per-layer parameter: pointers into the
// ParameterTensors, so that a forward pass reads "weights.c_fc_w" instead of
// working out the offset of layer l again.
typedef struct {
    const float *ln_1_w, *ln_1_b;           // (C), (C)
    const float *c_attn_w, *c_attn_b;       // (3C, C), (3C)
    const float *attn_proj_w, *attn_proj_b; // (C, C), (C)
    const float *ln_2_w, *ln_2_b;           // (C), (C)
    const float *c_fc_w, *c_fc_b;           // (F, C), (F)
    const float *mlp_proj_w, *mlp_proj_b;   // (C, F), (C)
} LayerParams;
LayerParams layer_params(const ParameterTensors *p, const GPTConfig *c, int l);

// Allocates a model with every parameter zero; no activations yet.
bool gpt_create(GPT *model, const GPTConfig *config, GError **error);
void gpt_free(GPT *model);
// Chapter 5's initialisation from a seed: weights N(0, 0.02), biases 0,
// LayerNorm weights 1. Same seed -> same bytes.
void gpt_init_random(GPT *model, uint64_t seed);
// The same with another std for the weights (chapters 3-4 use a larger one so
// that the attention patterns of a random model are not nearly uniform).
void gpt_init_random_std(GPT *model, uint64_t seed, float std);
// Runs the model over B problems (tokens is (B, T)); grows the activations if
// needed. boost may be NULL. Fills model->acts (captures, logits, probs).
bool gpt_forward(GPT *model, const int *tokens, int B, const Boost *boost, GError **error);
// The same forward pass without a boost, for evaluating many problems: every
// distinct prefix (tokens 0..t) of the batch is computed once, since with
// causal attention position t depends on nothing after it (see gpt.c). The
// same bits as gpt_forward, but it fills only probs, logits and the two
// attention hooks, the hooks only of the problems b with keep_hooks[b]
// (keep_hooks (B), or NULL for all); the rest of acts is not what gpt_forward
// leaves there (some of it serves as scratch).
bool gpt_forward_shared(GPT *model, const int *tokens, int B, const bool *keep_hooks,
                        GError **error);

// After gpt_forward: problem b's answer distribution and the hooks of one
// layer and head (each a (T, T) matrix inside acts).
const float *gpt_probs(const GPT *model, int b);                        // (V)
const float *gpt_scores(const GPT *model, int layer, int b, int head);  // (T, T)
const float *gpt_pattern(const GPT *model, int layer, int b, int head); // (T, T)

#endif
