// checkpoint.h: a GPT saved as a safetensors file (SPEC section 3).
//
// Metadata (all strings): vocab (a JSON array of the token texts in id order),
// n_layer, n_head, d_model, d_ff, block_size, order ("fixed" or "shuffled"),
// then any extra keys the caller adds (training hyperparameters, say).
// Tensors: the names and [out, in] shapes of a nanoGPT model with bias=True,
// in ParameterTensors order, layer by layer (transformer.h.{i}.*), so PyTorch
// can load the file and we can load PyTorch's. Nothing else is in the file.
#ifndef LOOPLENS_CHECKPOINT_H
#define LOOPLENS_CHECKPOINT_H

#include <stdbool.h>

#include <glib.h>

#include "model.h"
#include "problem.h"

// extra_metadata: key, value, key, value, ..., NULL (or NULL for none); a key
// may not repeat one of the keys above. Written atomically.
bool checkpoint_save(const char *path, const GPT *model, DefinitionOrder order,
                     const char *const *extra_metadata, GError **error);

// Creates *model from the file's config (validated) and copies the weights in.
// Refuses missing, extra or misshapen tensors, a vocab other than the
// project's, and an order other than fixed or shuffled (absent means fixed).
// On failure *model is left freed (all zero). order may be NULL.
bool checkpoint_load(const char *path, GPT *model, DefinitionOrder *order, GError **error);

// Every metadata key and value of a checkpoint (or any safetensors file), as
// a new GHashTable of strings (free with g_hash_table_unref). The file is
// read and validated in full.
bool checkpoint_read_metadata(const char *path, GHashTable **out, GError **error);

#endif
