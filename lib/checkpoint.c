// checkpoint.c: see checkpoint.h.
#include "checkpoint.h"

#include <stdarg.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "safetensors.h"
#include "util.h"
#include "vocab.h"

// The keys checkpoint_save writes itself; extra metadata may not reuse them.
static const char *const reserved_keys[] = {
    "vocab", "n_layer", "n_head", "d_model", "d_ff", "block_size", "order", NULL,
};

G_GNUC_PRINTF(3, 4)
static void fail(GError **error, const char *path, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *reason = g_strdup_vprintf(format, args);
    va_end(args);
    g_set_error(error, LL_ERROR, LL_ERROR_INVALID, "%s: %s", path, reason);
    g_free(reason);
}

// Parameter tensor i of ParameterTensors (the order param_info describes).
static float *param_tensor(const ParameterTensors *p, int i)
{
    float *const tensors[NUM_PARAM_TENSORS] = {
        p->wte,         p->wpe,           p->ln_1_weight,    p->ln_1_bias,
        p->c_attn_weight, p->c_attn_bias, p->attn_proj_weight, p->attn_proj_bias,
        p->ln_2_weight, p->ln_2_bias,     p->c_fc_weight,    p->c_fc_bias,
        p->mlp_proj_weight, p->mlp_proj_bias, p->ln_f_weight, p->ln_f_bias,
    };
    return tensors[i];
}

static size_t info_count(const ParamInfo *info)
{
    return info->rank == 1 ? info->dims[0] : info->dims[0] * info->dims[1];
}

// One file tensor: which parameter, which layer (0 when not per layer).
typedef struct {
    int param;
    int layer;
} TensorSlot;

// The file's tensors in nanoGPT's order: embeddings, then layer by layer, then
// the final LayerNorm. Returns how many (at most NUM_PARAM_TENSORS * L).
static int tensor_slots(const GPTConfig *c, TensorSlot *slots)
{
    int n = 0, first_per_layer = NUM_PARAM_TENSORS;
    ParamInfo info;
    for (int i = NUM_PARAM_TENSORS - 1; i >= 0; i--) {
        param_info(c, i, &info);
        if (info.per_layer)
            first_per_layer = i;
    }
    for (int i = 0; i < first_per_layer; i++)
        slots[n++] = (TensorSlot){i, 0};
    for (int l = 0; l < c->n_layer; l++)
        for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
            param_info(c, i, &info);
            if (info.per_layer)
                slots[n++] = (TensorSlot){i, l};
        }
    for (int i = first_per_layer; i < NUM_PARAM_TENSORS; i++) {
        param_info(c, i, &info);
        if (!info.per_layer)
            slots[n++] = (TensorSlot){i, 0};
    }
    return n;
}

// ----------------------------------------------------------------------------
// Saving.

static char *vocab_json(void)
{
    JsonArray *array = json_array_sized_new(VOCAB_SIZE);
    for (int id = 0; id < VOCAB_SIZE; id++)
        json_array_add_string_element(array, vocab_string(id));
    JsonNode *node = json_node_init_array(json_node_alloc(), array);
    char *text = json_to_string(node, FALSE);
    json_node_unref(node);
    json_array_unref(array);
    return text;
}

bool checkpoint_save(const char *path, const GPT *model, DefinitionOrder order,
                     const char *const *extra_metadata, GError **error)
{
    const GPTConfig *c = &model->config;
    for (const char *const *kv = extra_metadata; kv && kv[0]; kv += 2) {
        if (!kv[1]) {
            fail(error, path, "extra metadata key '%s' has no value", kv[0]);
            return false;
        }
        if (g_strv_contains(reserved_keys, kv[0])) {
            fail(error, path, "extra metadata key '%s' is one the checkpoint sets itself", kv[0]);
            return false;
        }
    }

    SafetensorsWriter w;
    safetensors_writer_init(&w);
    char *vocab = vocab_json();
    safetensors_writer_add_metadata(&w, "vocab", vocab);
    g_free(vocab);
    const struct { const char *key; int value; } sizes[] = {
        {"n_layer", c->n_layer}, {"n_head", c->n_head}, {"d_model", c->d_model},
        {"d_ff", c->d_ff}, {"block_size", c->block_size},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        char text[16];
        g_snprintf(text, sizeof text, "%d", sizes[i].value);
        safetensors_writer_add_metadata(&w, sizes[i].key, text);
    }
    safetensors_writer_add_metadata(&w, "order", order_name(order));
    for (const char *const *kv = extra_metadata; kv && kv[0]; kv += 2)
        safetensors_writer_add_metadata(&w, kv[0], kv[1]);

    TensorSlot slots[NUM_PARAM_TENSORS * MAX_LAYERS];
    int n = tensor_slots(c, slots);
    for (int s = 0; s < n; s++) {
        ParamInfo info;
        param_info(c, slots[s].param, &info);
        char *name = g_strdup_printf(info.name_format, slots[s].layer);
        const float *data = param_tensor(&model->params, slots[s].param) +
                            (size_t)slots[s].layer * info_count(&info);
        safetensors_writer_add_tensor(&w, name, info.rank, info.dims, data);
        g_free(name);
    }
    bool ok = safetensors_writer_write(&w, path, error);
    safetensors_writer_clear(&w);
    return ok;
}

// ----------------------------------------------------------------------------
// Loading.

static bool metadata_int(const Safetensors *st, const char *key, int64_t min, int64_t max,
                         int *out, const char *path, GError **error)
{
    const char *text = safetensors_metadata(st, key);
    if (!text) {
        fail(error, path, "metadata has no '%s': not a LoopLens checkpoint?", key);
        return false;
    }
    char *what = g_strdup_printf("%s: metadata %s", path, key);
    int64_t value;
    bool ok = parse_int64(text, what, min, max, &value, error);
    g_free(what);
    if (ok)
        *out = (int)value;
    return ok;
}

static bool read_config(const Safetensors *st, GPTConfig *c, const char *path, GError **error)
{
    memset(c, 0, sizeof *c);
    // Generous bounds: wide enough for any model we train, narrow enough that
    // nothing below overflows.
    if (!metadata_int(st, "n_layer", 1, MAX_LAYERS, &c->n_layer, path, error) ||
        !metadata_int(st, "n_head", 1, MAX_HEADS, &c->n_head, path, error) ||
        !metadata_int(st, "d_model", 1, 8192, &c->d_model, path, error) ||
        !metadata_int(st, "d_ff", 1, 32768, &c->d_ff, path, error) ||
        !metadata_int(st, "block_size", 1, 1 << 20, &c->block_size, path, error))
        return false;
    if (c->block_size != BLOCK_SIZE) {
        fail(error, path, "metadata block_size is %d; every LoopLens model reads exactly %d tokens",
             c->block_size, BLOCK_SIZE);
        return false;
    }
    c->vocab_size = VOCAB_SIZE;
    if (c->d_model % c->n_head != 0) {
        fail(error, path, "metadata d_model %d is not divisible by n_head %d", c->d_model,
             c->n_head);
        return false;
    }
    char why[256];
    if (!gpt_config_valid(c, why, sizeof why)) {
        fail(error, path, "metadata describes an invalid model: %s", why);
        return false;
    }
    return true;
}

static bool check_vocab(const Safetensors *st, const char *path, GError **error)
{
    const char *text = safetensors_metadata(st, "vocab");
    if (!text) {
        fail(error, path, "metadata has no 'vocab': not a LoopLens checkpoint?");
        return false;
    }
    JsonParser *parser = json_parser_new();
    bool ok = json_parser_load_from_data(parser, text, -1, NULL);
    JsonNode *root = ok ? json_parser_get_root(parser) : NULL;
    if (!root || !JSON_NODE_HOLDS_ARRAY(root)) {
        fail(error, path, "metadata vocab is not a JSON array");
        g_object_unref(parser);
        return false;
    }
    JsonArray *tokens = json_node_get_array(root);
    guint n = json_array_get_length(tokens);
    ok = n == VOCAB_SIZE;
    if (!ok)
        fail(error, path, "metadata vocab has %u tokens, expected the project's %d", n, VOCAB_SIZE);
    for (guint id = 0; ok && id < n; id++) {
        JsonNode *token = json_array_get_element(tokens, id);
        const char *found = JSON_NODE_HOLDS_VALUE(token) &&
                                    json_node_get_value_type(token) == G_TYPE_STRING
                                ? json_node_get_string(token)
                                : NULL;
        if (!found || strcmp(found, vocab_string((int)id)) != 0) {
            fail(error, path, "metadata vocab token %u is %s%s%s, expected '%s' (a different "
                 "vocabulary or token order)", id, found ? "'" : "", found ? found : "not a string",
                 found ? "'" : "", vocab_string((int)id));
            ok = false;
        }
    }
    g_object_unref(parser);
    return ok;
}

static bool read_order(const Safetensors *st, DefinitionOrder *order, const char *path,
                       GError **error)
{
    const char *text = safetensors_metadata(st, "order");
    *order = ORDER_FIXED; // SPEC: absent means fixed
    if (text && !order_parse(text, order)) {
        fail(error, path, "metadata order is '%s', expected fixed or shuffled", text);
        return false;
    }
    return true;
}

static void format_shape(char *out, size_t size, int rank, const size_t *dims)
{
    size_t used = (size_t)g_snprintf(out, size, "[");
    for (int d = 0; d < rank && used < size; d++)
        used += (size_t)g_snprintf(out + used, size - used, "%s%zu", d ? ", " : "", dims[d]);
    if (used < size)
        g_snprintf(out + used, size - used, "]");
}

// Finds every tensor the config needs, checks its shape, and refuses any
// tensor left over; on success found[s] is slot s's tensor. Runs before the
// model is allocated, so a config too big for the file never allocates.
static bool match_tensors(const Safetensors *st, const GPTConfig *c, const TensorSlot *slots,
                          int n, const SafetensorsTensor **found, const char *path, GError **error)
{
    bool *used = g_new0(bool, st->n_tensors + 1);
    bool ok = true;
    for (int s = 0; ok && s < n; s++) {
        ParamInfo info;
        param_info(c, slots[s].param, &info);
        char *name = g_strdup_printf(info.name_format, slots[s].layer);
        const SafetensorsTensor *t = safetensors_find(st, name);
        if (!t) {
            fail(error, path, "tensor '%s' is missing", name);
            ok = false;
        } else if (t->rank != info.rank || t->shape[0] != info.dims[0] ||
                   (info.rank == 2 && t->shape[1] != info.dims[1])) {
            char expected[64], got[32 * SAFETENSORS_MAX_RANK];
            format_shape(expected, sizeof expected, info.rank, info.dims);
            format_shape(got, sizeof got, t->rank, t->shape);
            fail(error, path, "tensor '%s' has shape %s, expected %s", name, got, expected);
            ok = false;
        } else {
            found[s] = t;
            used[t - st->tensors] = true;
        }
        g_free(name);
    }
    for (size_t i = 0; ok && i < st->n_tensors; i++) {
        if (!used[i]) {
            fail(error, path, "unexpected tensor '%s' (not part of a %d-layer GPT)",
                 st->tensors[i].name, c->n_layer);
            ok = false;
        }
    }
    g_free(used);
    return ok;
}

bool checkpoint_load(const char *path, GPT *model, DefinitionOrder *order, GError **error)
{
    memset(model, 0, sizeof *model);
    Safetensors st;
    if (!safetensors_read(path, &st, error))
        return false;
    GPTConfig config;
    DefinitionOrder file_order;
    TensorSlot slots[NUM_PARAM_TENSORS * MAX_LAYERS];
    const SafetensorsTensor *found[NUM_PARAM_TENSORS * MAX_LAYERS];
    int n = 0;
    bool ok = read_config(&st, &config, path, error) && check_vocab(&st, path, error) &&
              read_order(&st, &file_order, path, error);
    if (ok) {
        n = tensor_slots(&config, slots);
        ok = match_tensors(&st, &config, slots, n, found, path, error) &&
             gpt_create(model, &config, error);
    }
    for (int s = 0; ok && s < n; s++) {
        ParamInfo info;
        param_info(&config, slots[s].param, &info);
        float *dst = param_tensor(&model->params, slots[s].param) +
                     (size_t)slots[s].layer * info_count(&info);
        memcpy(dst, found[s]->data, found[s]->count * sizeof(float));
    }
    safetensors_free(&st);
    if (!ok) {
        if (model->params_memory)
            gpt_free(model);
        memset(model, 0, sizeof *model);
        return false;
    }
    if (order)
        *order = file_order;
    return true;
}

bool checkpoint_read_metadata(const char *path, GHashTable **out, GError **error)
{
    Safetensors st;
    if (!safetensors_read(path, &st, error))
        return false;
    *out = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (size_t i = 0; i < st.n_metadata; i++)
        g_hash_table_insert(*out, g_strdup(st.metadata_keys[i]), g_strdup(st.metadata_values[i]));
    safetensors_free(&st);
    return true;
}
