// ch05_checkpoint.c: safetensors files and model checkpoints (SPEC section 3).
//
// Every bad file here is made in the test from a good one, by byte surgery on
// the header or the data, or by rewriting the good file's tensors with the
// writer; each must be refused with a message naming the problem (asserted by
// key words), and never crash (the ASan build checks that too).
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "checkpoint.h"
#include "model.h"
#include "safetensors.h"
#include "testutil.h"

// A good checkpoint, made once: the tiny preset with every parameter set to a
// distinct value, so a tensor copied to the wrong place cannot go unnoticed.
static char *good_path;

static void make_model(GPT *model)
{
    GPTConfig config;
    g_assert_true(gpt_config_preset("tiny", &config));
    GError *error = NULL;
    g_assert_true(gpt_create(model, &config, &error));
    for (size_t i = 0; i < model->num_parameters; i++)
        model->params_memory[i] = (float)sin(0.37 * (double)i) * 0.5f + (float)i * 1e-6f;
}

static char *read_bytes(const char *path, gsize *size)
{
    char *bytes = NULL;
    GError *error = NULL;
    g_assert_true(g_file_get_contents(path, &bytes, size, &error));
    return bytes;
}

static char *write_bytes(const char *name, const char *bytes, gsize size)
{
    char *path = test_path(name);
    GError *error = NULL;
    g_assert_true(g_file_set_contents(path, bytes, (gssize)size, &error));
    return path;
}

// Loads path as a checkpoint, expects failure, and checks the message names
// the file and contains every key word. The model must come back empty.
static void expect_refused(const char *path, const char *const *words)
{
    GPT model;
    GError *error = NULL;
    gboolean ok = checkpoint_load(path, &model, NULL, &error);
    g_assert_false(ok);
    g_assert_nonnull(error);
    g_test_message("%s", error->message);
    g_assert_nonnull(strstr(error->message, path));
    g_assert_null(strchr(error->message, '\n'));
    for (int i = 0; words[i]; i++)
        if (!strstr(error->message, words[i]))
            g_error("message '%s' lacks '%s'", error->message, words[i]);
    g_assert_null(model.params_memory);
    g_error_free(error);
}
#define REFUSED(path, ...) expect_refused(path, (const char *const[]){__VA_ARGS__, NULL})

// The good file split into its parts, for surgery.
typedef struct {
    char *bytes;
    gsize size;
    char *header; // NUL-terminated copy of the JSON header (padding included)
    const char *data;
    gsize data_size;
} Parts;

static void split_good(Parts *p)
{
    p->bytes = read_bytes(good_path, &p->size);
    guint64 n;
    memcpy(&n, p->bytes, 8);
    n = GUINT64_FROM_LE(n);
    p->header = g_strndup(p->bytes + 8, n);
    p->data = p->bytes + 8 + n;
    p->data_size = p->size - 8 - n;
}

static void free_parts(Parts *p)
{
    g_free(p->bytes);
    g_free(p->header);
}

// A file from a (new) header text and a data section.
static char *assemble(const char *name, const char *header, const char *data, gsize data_size)
{
    GString *file = g_string_new(NULL);
    guint64 n = GUINT64_TO_LE((guint64)strlen(header));
    g_string_append_len(file, (const char *)&n, 8);
    g_string_append(file, header);
    g_string_append_len(file, data, (gssize)data_size);
    char *path = write_bytes(name, file->str, file->len);
    g_string_free(file, TRUE);
    return path;
}

// The good file with the first `old` in its header replaced by `new`.
static char *header_edit(const char *name, const char *old, const char *new)
{
    Parts p;
    split_good(&p);
    char *at = strstr(p.header, old);
    g_assert_nonnull(at);
    GString *h = g_string_new_len(p.header, at - p.header);
    g_string_append(h, new);
    g_string_append(h, at + strlen(old));
    char *path = assemble(name, h->str, p.data, p.data_size);
    g_string_free(h, TRUE);
    free_parts(&p);
    return path;
}

// ----------------------------------------------------------------------------

static void test_round_trip(void)
{
    GPT model, loaded;
    make_model(&model);
    GError *error = NULL;
    const char *extra[] = {"steps", "300", "lr", "0.001", NULL};
    char *a = test_path("a.safetensors"), *b = test_path("b.safetensors");
    g_assert_true(checkpoint_save(a, &model, ORDER_SHUFFLED, extra, &error));
    g_assert_no_error(error);

    DefinitionOrder order = ORDER_FIXED;
    g_assert_true(checkpoint_load(a, &loaded, &order, &error));
    g_assert_no_error(error);
    g_assert_cmpint(order, ==, ORDER_SHUFFLED);
    g_assert_cmpmem(&loaded.config, sizeof loaded.config, &model.config, sizeof model.config);
    // Bit for bit: floats go through the file untouched.
    g_assert_cmpmem(loaded.params_memory, loaded.num_parameters * sizeof(float),
                    model.params_memory, model.num_parameters * sizeof(float));

    g_assert_true(checkpoint_save(b, &loaded, order, extra, &error));
    gsize size_a, size_b;
    char *bytes_a = read_bytes(a, &size_a), *bytes_b = read_bytes(b, &size_b);
    g_assert_cmpmem(bytes_a, size_a, bytes_b, size_b);
    guint64 header_length;
    memcpy(&header_length, bytes_a, 8);
    g_assert_cmpuint((8 + GUINT64_FROM_LE(header_length)) % 8, ==, 0); // data 8-byte aligned

    GHashTable *meta = NULL;
    g_assert_true(checkpoint_read_metadata(a, &meta, &error));
    g_assert_cmpstr(g_hash_table_lookup(meta, "steps"), ==, "300");
    g_assert_cmpstr(g_hash_table_lookup(meta, "lr"), ==, "0.001");
    g_assert_cmpstr(g_hash_table_lookup(meta, "order"), ==, "shuffled");
    g_assert_cmpstr(g_hash_table_lookup(meta, "n_layer"), ==, "2");
    g_hash_table_unref(meta);

    // An extra key may not overwrite one the checkpoint writes itself.
    const char *clash[] = {"order", "fixed", NULL};
    g_assert_false(checkpoint_save(b, &model, ORDER_FIXED, clash, &error));
    g_assert_nonnull(strstr(error->message, "order"));
    g_clear_error(&error);

    g_free(bytes_a);
    g_free(bytes_b);
    g_free(a);
    g_free(b);
    gpt_free(&model);
    gpt_free(&loaded);
}

// The golden fixture was written by Python with a hand-written writer: our
// reader reads it and our writer reproduces it byte for byte (same layout).
static void test_python_file_round_trip(void)
{
    char *path = test_source_path("tests/fixtures/golden_model.safetensors");
    Safetensors st;
    GError *error = NULL;
    g_assert_true(safetensors_read(path, &st, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(st.n_tensors, ==, 4 + 2 * 12);
    g_assert_cmpstr(safetensors_metadata(&st, "n_layer"), ==, "2");
    const SafetensorsTensor *t = safetensors_find(&st, "transformer.h.1.mlp.c_fc.weight");
    g_assert_nonnull(t);
    g_assert_cmpint(t->rank, ==, 2);
    g_assert_cmpuint(t->shape[0], ==, 32);
    g_assert_cmpuint(t->shape[1], ==, 16);
    g_assert_null(safetensors_find(&st, "lm_head.weight"));

    SafetensorsWriter w;
    safetensors_writer_init(&w);
    for (size_t i = 0; i < st.n_metadata; i++)
        safetensors_writer_add_metadata(&w, st.metadata_keys[i], st.metadata_values[i]);
    for (size_t i = 0; i < st.n_tensors; i++)
        safetensors_writer_add_tensor(&w, st.tensors[i].name, st.tensors[i].rank,
                                      st.tensors[i].shape, st.tensors[i].data);
    char *copy = test_path("python-copy.safetensors");
    g_assert_true(safetensors_writer_write(&w, copy, &error));
    safetensors_writer_clear(&w);
    gsize size_a, size_b;
    char *a = read_bytes(path, &size_a), *b = read_bytes(copy, &size_b);
    g_assert_cmpmem(a, size_a, b, size_b);
    g_free(a);
    g_free(b);
    g_free(copy);
    safetensors_free(&st);
    g_free(path);
}

static void test_writer_refuses(void)
{
    GError *error = NULL;
    float values[2] = {1.0f, NAN};
    size_t shape[1] = {2};
    char *path = test_path("never.safetensors");
    SafetensorsWriter w;

    safetensors_writer_init(&w);
    safetensors_writer_add_tensor(&w, "x", 1, shape, values);
    g_assert_false(safetensors_writer_write(&w, path, &error));
    g_assert_nonnull(strstr(error->message, "'x' element 1"));
    g_clear_error(&error);
    safetensors_writer_clear(&w);

    values[1] = 2.0f;
    safetensors_writer_init(&w);
    safetensors_writer_add_tensor(&w, "x", 1, shape, values);
    safetensors_writer_add_tensor(&w, "x", 1, shape, values);
    g_assert_false(safetensors_writer_write(&w, path, &error));
    g_assert_nonnull(strstr(error->message, "twice"));
    g_clear_error(&error);
    safetensors_writer_clear(&w);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    g_free(path);
}

// ----------------------------------------------------------------------------
// The file format, by byte surgery.

static void test_header_length(void)
{
    Parts p;
    split_good(&p);
    guint64 lengths[] = {0, G_GUINT64_CONSTANT(1) << 63, G_MAXUINT64,
                         (guint64)(p.size - 8 + 1)};
    for (size_t i = 0; i < G_N_ELEMENTS(lengths); i++) {
        guint64 n = GUINT64_TO_LE(lengths[i]);
        memcpy(p.bytes, &n, 8);
        char *path = write_bytes("length.safetensors", p.bytes, p.size);
        if (lengths[i] == 0)
            REFUSED(path, "header length is 0");
        else
            REFUSED(path, "header length", "past the end of the file");
        g_free(path);
    }
    // Shorter than the length field itself.
    char *path = write_bytes("short.safetensors", p.bytes, 5);
    REFUSED(path, "too short");
    g_free(path);
    path = write_bytes("empty.safetensors", "", 0);
    REFUSED(path, "too short");
    g_free(path);
    free_parts(&p);
}

static void test_not_safetensors(void)
{
    Parts p;
    split_good(&p);
    memcpy(p.bytes, "PK\x03\x04", 4);
    char *path = write_bytes("model.pt", p.bytes, p.size);
    REFUSED(path, "zip archive", "not safetensors");
    g_free(path);
    free_parts(&p);

    path = test_write_file("text.safetensors", "[START] a 1 b 2 c 3 d 4 [VARS] ...\n");
    REFUSED(path, "header length");
    g_free(path);

    char *missing = test_path("no-such-file.safetensors");
    REFUSED(missing, "cannot read");
    g_free(missing);
    REFUSED(test_tmpdir(), "cannot read");
}

static void test_header_json(void)
{
    char *path = header_edit("json.safetensors", "\"dtype\":", "\"dtype\";");
    REFUSED(path, "not valid JSON");
    g_free(path);
    path = header_edit("utf8.safetensors", "transformer.wpe.weight", "transformer.w\xff\xfe.weight");
    REFUSED(path, "UTF-8");
    g_free(path);
    path = header_edit("meta.safetensors", "\"n_layer\":\"2\"", "\"n_layer\":2");
    REFUSED(path, "__metadata__", "n_layer", "not a string");
    g_free(path);
    path = header_edit("field.safetensors", "\"dtype\":\"F32\"", "\"dtype\":\"F32\",\"x\":1");
    REFUSED(path, "unknown field 'x'");
    g_free(path);
    path = header_edit("shape.safetensors", "\"shape\":[104,16]", "\"shape\":[104,-16]");
    REFUSED(path, "transformer.wte.weight", "shape entry 1");
    g_free(path);
    // 2^64 + 4: json-glib saturates it, and a wrap-around would make it small.
    path = header_edit("huge.safetensors", "\"shape\":[104,16]",
                       "\"shape\":[18446744073709551620,16]");
    REFUSED(path, "transformer.wte.weight", "shape");
    g_free(path);
    path = header_edit("product.safetensors", "\"shape\":[104,16]",
                       "\"shape\":[4294967296,4294967296,4294967296]");
    REFUSED(path, "transformer.wte.weight", "more bytes than the data section has");
    g_free(path);
}

static void test_dtype(void)
{
    char *path = header_edit("f16.safetensors", "\"dtype\":\"F32\"", "\"dtype\":\"F16\"");
    REFUSED(path, "transformer.wte.weight", "dtype F16", "only F32");
    g_free(path);
}

// A two-tensor file ("first" [2], "second" [20, 20]) to bend offsets in.
static char *two_tensor_header(const char *first_offsets, const char *second_offsets)
{
    return g_strdup_printf("{\"first\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":%s},"
                           "\"second\":{\"dtype\":\"F32\",\"shape\":[20,20],\"data_offsets\":%s}}",
                           first_offsets, second_offsets);
}

static void test_offsets(void)
{
    struct {
        const char *first, *second;
        gsize data_size;
        const char *words[3];
    } cases[] = {
        {"[0,8]", "[8,1608]", 1608, {NULL}}, // the good one
        {"[0,8]", "[0,4]", 1608, {"'second'", "1600 bytes", "[0, 4]"}},
        {"[0,8]", "[0,1600]", 1608, {"overlap", "'first'", "'second'"}},
        {"[4,12]", "[0,1600]", 1608, {"overlap"}},
        {"[8,0]", "[8,1608]", 1608, {"'first'", "end before begin"}},
        {"[0,8]", "[8,1608]", 1600, {"'second'", "past the end of the data section"}},
        {"[0,8]", "[12,1612]", 1612, {"bytes 8..12", "no tensor"}},
        {"[0,8]", "[8,1608]", 1608 - 4, {"past the end", "truncated"}},
    };
    char big[2000];
    memset(big, 0, sizeof big);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *header = two_tensor_header(cases[i].first, cases[i].second);
        char *path = assemble("offsets.safetensors", header, big, cases[i].data_size);
        Safetensors st;
        GError *error = NULL;
        gboolean ok = safetensors_read(path, &st, &error);
        if (!cases[i].words[0]) {
            g_assert_no_error(error);
            g_assert_true(ok);
            g_assert_cmpuint(safetensors_find(&st, "second")->count, ==, 400);
            safetensors_free(&st);
        } else {
            g_assert_false(ok);
            g_test_message("%s", error->message);
            for (int w = 0; w < 3 && cases[i].words[w]; w++)
                if (!strstr(error->message, cases[i].words[w]))
                    g_error("case %zu: message '%s' lacks '%s'", i, error->message,
                            cases[i].words[w]);
            g_clear_error(&error);
        }
        g_free(header);
        g_free(path);
    }

    // Bytes after the last tensor, and a data section cut short, in a checkpoint.
    Parts p;
    split_good(&p);
    char *longer = g_malloc(p.size + 4);
    memcpy(longer, p.bytes, p.size);
    memset(longer + p.size, 0, 4);
    char *path = write_bytes("trailing.safetensors", longer, p.size + 4);
    REFUSED(path, "4 bytes after the last tensor");
    g_free(path);
    path = write_bytes("truncated.safetensors", p.bytes, p.size - 100);
    REFUSED(path, "transformer.ln_f", "past the end of the data section");
    g_free(path);
    g_free(longer);
    free_parts(&p);
}

static void test_non_finite(void)
{
    Safetensors st;
    GError *error = NULL;
    g_assert_true(safetensors_read(good_path, &st, &error));
    const SafetensorsTensor *t = safetensors_find(&st, "transformer.h.1.mlp.c_fc.weight");
    gsize offset = (gsize)(t->data - st.data_memory) * sizeof(float);
    safetensors_free(&st);

    const float bad[] = {NAN, INFINITY, -INFINITY};
    const char *name[] = {"NaN", "infinite", "infinite"};
    for (int k = 0; k < 3; k++) {
        Parts p;
        split_good(&p);
        // Element 37 of a [32, 16] tensor is row 2, column 5.
        guint32 word;
        memcpy(&word, &bad[k], 4);
        word = GUINT32_TO_LE(word);
        memcpy((char *)p.data + offset + 37 * 4, &word, 4);
        char *path = write_bytes("nan.safetensors", p.bytes, p.size);
        REFUSED(path, "transformer.h.1.mlp.c_fc.weight", "element 37 [2, 5]", name[k]);
        g_free(path);
        free_parts(&p);
    }
}

// ----------------------------------------------------------------------------
// The checkpoint layer: tensors and metadata, rewritten with the writer.

// Rewrites the good checkpoint: tensor `drop` left out, tensor `reshape`
// given `shape` (same number of floats), an extra tensor added if `extra`,
// metadata key `meta_key` set to `meta_value` (NULL value: left out).
static char *rewrite(const char *name, const char *drop, const char *reshape, int rank,
                     const size_t *shape, const char *extra, const char *meta_key,
                     const char *meta_value)
{
    Safetensors st;
    GError *error = NULL;
    g_assert_true(safetensors_read(good_path, &st, &error));
    SafetensorsWriter w;
    safetensors_writer_init(&w);
    for (size_t i = 0; i < st.n_metadata; i++) {
        if (meta_key && strcmp(st.metadata_keys[i], meta_key) == 0) {
            if (meta_value)
                safetensors_writer_add_metadata(&w, meta_key, meta_value);
        } else {
            safetensors_writer_add_metadata(&w, st.metadata_keys[i], st.metadata_values[i]);
        }
    }
    for (size_t i = 0; i < st.n_tensors; i++) {
        const SafetensorsTensor *t = &st.tensors[i];
        if (drop && strcmp(t->name, drop) == 0)
            continue;
        if (reshape && strcmp(t->name, reshape) == 0)
            safetensors_writer_add_tensor(&w, t->name, rank, shape, t->data);
        else
            safetensors_writer_add_tensor(&w, t->name, t->rank, t->shape, t->data);
    }
    if (extra)
        safetensors_writer_add_tensor(&w, extra, st.tensors[0].rank, st.tensors[0].shape,
                                      st.tensors[0].data);
    char *path = test_path(name);
    g_assert_true(safetensors_writer_write(&w, path, &error));
    safetensors_writer_clear(&w);
    safetensors_free(&st);
    return path;
}

static void test_tensor_set(void)
{
    char *path = rewrite("same.safetensors", NULL, NULL, 0, NULL, NULL, NULL, NULL);
    GPT model;
    GError *error = NULL;
    g_assert_true(checkpoint_load(path, &model, NULL, &error));
    gpt_free(&model);
    g_free(path);

    path = rewrite("missing.safetensors", "transformer.h.1.ln_2.bias", NULL, 0, NULL, NULL, NULL,
                   NULL);
    REFUSED(path, "tensor 'transformer.h.1.ln_2.bias' is missing");
    g_free(path);

    path = rewrite("extra.safetensors", NULL, NULL, 0, NULL, "lm_head.weight", NULL, NULL);
    REFUSED(path, "unexpected tensor 'lm_head.weight'");
    g_free(path);

    const size_t transposed[2] = {16, 48};
    path = rewrite("shape.safetensors", NULL, "transformer.h.0.attn.c_attn.weight", 2, transposed,
                   NULL, NULL, NULL);
    REFUSED(path, "transformer.h.0.attn.c_attn.weight", "shape [16, 48]", "expected [48, 16]");
    g_free(path);

    const size_t flat[1] = {48 * 16};
    path = rewrite("rank.safetensors", NULL, "transformer.h.0.attn.c_attn.weight", 1, flat, NULL,
                   NULL, NULL);
    REFUSED(path, "shape [768]", "expected [48, 16]");
    g_free(path);
}

static void test_metadata(void)
{
    struct {
        const char *key, *value;
        const char *word1, *word2;
    } cases[] = {
        {"vocab", NULL, "no 'vocab'", NULL},
        {"vocab", "[\"[START]\"]", "vocab has 1 tokens", "104"},
        {"vocab", "not json", "vocab is not a JSON array", NULL},
        {"n_layer", NULL, "no 'n_layer'", NULL},
        {"n_layer", "two", "n_layer", "'two'"},
        {"n_layer", "17", "n_layer", "'17'"},
        {"n_layer", "0", "n_layer", NULL},
        {"n_head", "3", "d_model 16 is not divisible by n_head 3", NULL},
        {"d_model", "-16", "d_model", NULL},
        {"d_ff", "1e3", "d_ff", NULL},
        {"block_size", "21", "block_size", NULL},
        {"order", "random", "order is 'random'", "fixed or shuffled"},
        // A config far bigger than the file: refused on the first tensor's
        // shape, before any model is allocated.
        {"d_model", "8192", "transformer.wte.weight", "expected [104, 8192]"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *path = rewrite("meta.safetensors", NULL, NULL, 0, NULL, NULL, cases[i].key,
                             cases[i].value);
        if (cases[i].word2)
            REFUSED(path, cases[i].word1, cases[i].word2);
        else
            REFUSED(path, cases[i].word1);
        g_free(path);
    }

    // The vocabulary in another order (two tokens swapped) is refused too.
    char *path = header_edit("swapped.safetensors", "\\\"a\\\",\\\"b\\\"", "\\\"b\\\",\\\"a\\\"");
    REFUSED(path, "vocab token 6 is 'b', expected 'a'");
    g_free(path);

    // No order at all means fixed.
    path = rewrite("no-order.safetensors", NULL, NULL, 0, NULL, NULL, "order", NULL);
    GPT model;
    DefinitionOrder order = ORDER_SHUFFLED;
    GError *error = NULL;
    g_assert_true(checkpoint_load(path, &model, &order, &error));
    g_assert_cmpint(order, ==, ORDER_FIXED);
    gpt_free(&model);
    g_free(path);
}

// Random byte flips and truncations of a good checkpoint, fixed seed: each
// must load or fail cleanly (no crash, no leak, a message naming the file).
static void test_fuzz(void)
{
    gsize size;
    char *good = read_bytes(good_path, &size);
    guint64 n;
    memcpy(&n, good, 8);
    n = GUINT64_FROM_LE(n);
    GRand *rng = g_rand_new_with_seed(2026);
    char *path = test_path("fuzz.safetensors");
    int loaded = 0, refused = 0;
    for (int round = 0; round < 400; round++) {
        char *bytes = g_memdup2(good, size);
        gsize len = size;
        int kind = round % 4;
        if (kind == 3) { // truncate anywhere
            len = (gsize)g_rand_int_range(rng, 0, (gint32)size);
        } else {
            // Flip 1-4 bytes: in the header (kinds 0, 1) where the structure
            // is, or anywhere (kind 2).
            int flips = g_rand_int_range(rng, 1, 5);
            for (int f = 0; f < flips; f++) {
                gsize at = kind < 2 ? (gsize)g_rand_int_range(rng, 0, (gint32)(8 + n))
                                    : (gsize)g_rand_int_range(rng, 0, (gint32)size);
                bytes[at] ^= (char)(1 << g_rand_int_range(rng, 0, 8));
            }
        }
        GError *error = NULL;
        g_assert_true(g_file_set_contents(path, bytes, (gssize)len, &error));
        GPT model;
        if (checkpoint_load(path, &model, NULL, &error)) {
            loaded++;
            gpt_free(&model);
        } else {
            refused++;
            g_assert_nonnull(error);
            g_assert_nonnull(strstr(error->message, path));
            g_clear_error(&error);
        }
        g_free(bytes);
    }
    g_test_message("fuzz: %d loaded, %d refused", loaded, refused);
    // Most header flips must be caught; a flip in the data that keeps a float
    // finite loads, which is fine.
    g_assert_cmpint(refused, >, 200);
    g_rand_free(rng);
    g_free(path);
    g_free(good);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    GPT model;
    make_model(&model);
    good_path = test_path("good.safetensors");
    GError *error = NULL;
    if (!checkpoint_save(good_path, &model, ORDER_FIXED, NULL, &error))
        g_error("%s", error->message);
    gpt_free(&model);

    g_test_add_func("/ch05/checkpoint/round-trip", test_round_trip);
    g_test_add_func("/ch05/checkpoint/python-file-round-trip", test_python_file_round_trip);
    g_test_add_func("/ch05/checkpoint/writer-refuses", test_writer_refuses);
    g_test_add_func("/ch05/checkpoint/header-length", test_header_length);
    g_test_add_func("/ch05/checkpoint/not-safetensors", test_not_safetensors);
    g_test_add_func("/ch05/checkpoint/header-json", test_header_json);
    g_test_add_func("/ch05/checkpoint/dtype", test_dtype);
    g_test_add_func("/ch05/checkpoint/offsets", test_offsets);
    g_test_add_func("/ch05/checkpoint/non-finite", test_non_finite);
    g_test_add_func("/ch05/checkpoint/tensor-set", test_tensor_set);
    g_test_add_func("/ch05/checkpoint/metadata", test_metadata);
    g_test_add_func("/ch05/checkpoint/fuzz", test_fuzz);
    int status = g_test_run();
    g_free(good_path);
    return status;
}
