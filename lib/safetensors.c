// safetensors.c: see safetensors.h.
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "util.h"

// Every reader error is "PATH: reason".
G_GNUC_PRINTF(3, 4)
static void fail(GError **error, const char *path, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *reason = g_strdup_vprintf(format, args);
    va_end(args);
    g_set_error(error, LL_ERROR, LL_ERROR_PARSE, "%s: %s", path, reason);
    g_free(reason);
}

static uint64_t read_u64_le(const unsigned char *bytes)
{
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | bytes[i];
    return n;
}

// Copies count little-endian floats into host order.
static void copy_floats_from_le(float *dst, const char *src, size_t count)
{
    memcpy(dst, src, count * sizeof(float));
#if G_BYTE_ORDER == G_BIG_ENDIAN
    uint32_t *words = (uint32_t *)dst;
    for (size_t i = 0; i < count; i++)
        words[i] = GUINT32_FROM_LE(words[i]);
#endif
}

// "[3, 7]": the multi-dimensional index of flat element i of a tensor.
static void format_index(char *out, size_t out_size, const SafetensorsTensor *t, size_t i)
{
    size_t index[SAFETENSORS_MAX_RANK];
    for (int d = t->rank - 1; d >= 0; d--) {
        index[d] = i % t->shape[d];
        i /= t->shape[d];
    }
    size_t used = (size_t)g_snprintf(out, out_size, "[");
    for (int d = 0; d < t->rank && used < out_size; d++)
        used += (size_t)g_snprintf(out + used, out_size - used, "%s%zu", d ? ", " : "", index[d]);
    if (used < out_size)
        g_snprintf(out + used, out_size - used, "]");
}

// ----------------------------------------------------------------------------
// Reading, step 1: the header's tensor entries, checked one by one.

typedef struct {
    SafetensorsTensor tensor; // name points into the parsed JSON until copied
    uint64_t begin, end;      // byte offsets into the data section
    size_t file_order;        // position in the header, to sort ties stably
} Entry;

// A JSON integer >= 0. json-glib turns integers beyond int64 into negative
// numbers, so this also refuses those.
static bool json_size(JsonNode *node, uint64_t *out)
{
    if (!node || !JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_INT64)
        return false;
    gint64 value = json_node_get_int(node);
    if (value < 0)
        return false;
    *out = (uint64_t)value;
    return true;
}

static bool parse_entry(Entry *e, const char *name, JsonNode *node, uint64_t data_size,
                        const char *path, GError **error)
{
    e->tensor.name = (char *)name;
    if (!JSON_NODE_HOLDS_OBJECT(node)) {
        fail(error, path, "tensor '%s': entry is not a JSON object", name);
        return false;
    }
    JsonObject *obj = json_node_get_object(node);
    GList *fields = json_object_get_members(obj);
    for (GList *f = fields; f; f = f->next) {
        const char *field = f->data;
        if (strcmp(field, "dtype") && strcmp(field, "shape") && strcmp(field, "data_offsets")) {
            fail(error, path, "tensor '%s': unknown field '%s'", name, field);
            g_list_free(fields);
            return false;
        }
    }
    g_list_free(fields);

    JsonNode *dtype = json_object_get_member(obj, "dtype");
    if (!dtype || !JSON_NODE_HOLDS_VALUE(dtype) || json_node_get_value_type(dtype) != G_TYPE_STRING) {
        fail(error, path, "tensor '%s': missing or non-string dtype", name);
        return false;
    }
    if (strcmp(json_node_get_string(dtype), "F32") != 0) {
        fail(error, path, "tensor '%s' has dtype %s; only F32 is supported", name,
             json_node_get_string(dtype));
        return false;
    }

    JsonNode *shape = json_object_get_member(obj, "shape");
    if (!shape || !JSON_NODE_HOLDS_ARRAY(shape)) {
        fail(error, path, "tensor '%s': missing or non-array shape", name);
        return false;
    }
    JsonArray *dims = json_node_get_array(shape);
    guint rank = json_array_get_length(dims);
    if (rank > SAFETENSORS_MAX_RANK) {
        fail(error, path, "tensor '%s': rank %u is above the limit of %d", name, rank,
             SAFETENSORS_MAX_RANK);
        return false;
    }
    e->tensor.rank = (int)rank;
    bool has_zero = false;
    for (guint d = 0; d < rank; d++) {
        uint64_t dim;
        if (!json_size(json_array_get_element(dims, d), &dim) || dim > SIZE_MAX) {
            fail(error, path, "tensor '%s': shape entry %u is not a non-negative integer", name, d);
            return false;
        }
        e->tensor.shape[d] = (size_t)dim;
        has_zero |= dim == 0;
    }
    // The element count, checked for overflow; a shape that needs more bytes
    // than the data section has is wrong whatever its offsets say.
    size_t count = has_zero ? 0 : 1;
    bool too_big = false;
    for (guint d = 0; d < rank && count > 0 && !too_big; d++)
        too_big = !g_size_checked_mul(&count, count, e->tensor.shape[d]) ||
                  count > data_size / sizeof(float);

    JsonNode *offsets = json_object_get_member(obj, "data_offsets");
    if (!offsets || !JSON_NODE_HOLDS_ARRAY(offsets) ||
        json_array_get_length(json_node_get_array(offsets)) != 2 ||
        !json_size(json_array_get_element(json_node_get_array(offsets), 0), &e->begin) ||
        !json_size(json_array_get_element(json_node_get_array(offsets), 1), &e->end)) {
        fail(error, path, "tensor '%s': data_offsets must be [begin, end], two non-negative integers",
             name);
        return false;
    }
    if (e->end < e->begin) {
        fail(error, path, "tensor '%s': data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
             "] end before begin", name, e->begin, e->end);
        return false;
    }
    if (e->end > data_size) {
        fail(error, path, "tensor '%s': data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
             "] run past the end of the data section (%" G_GUINT64_FORMAT " bytes): truncated file?",
             name, e->begin, e->end, data_size);
        return false;
    }
    if (too_big || (uint64_t)count * sizeof(float) != e->end - e->begin) {
        char shape_text[32 * SAFETENSORS_MAX_RANK] = "[";
        for (guint d = 0; d < rank; d++)
            g_snprintf(shape_text + strlen(shape_text), sizeof shape_text - strlen(shape_text),
                       "%s%zu", d ? ", " : "", e->tensor.shape[d]);
        g_strlcat(shape_text, "]", sizeof shape_text);
        if (too_big)
            fail(error, path, "tensor '%s': shape %s needs more bytes than the data section has (%"
                 G_GUINT64_FORMAT ")", name, shape_text, data_size);
        else
            fail(error, path, "tensor '%s': shape %s needs %" G_GUINT64_FORMAT
                 " bytes but data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT "] span %"
                 G_GUINT64_FORMAT, name, shape_text, (uint64_t)count * sizeof(float), e->begin,
                 e->end, e->end - e->begin);
        return false;
    }
    e->tensor.count = count;
    return true;
}

static int compare_entries(const void *a, const void *b)
{
    const Entry *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x->file_order < y->file_order ? -1 : x->file_order > y->file_order;
}

// The tensors must tile the data section: sorted by offset, each begins where
// the previous ended and the last ends at the end. (entries sorted)
static bool check_tiling(const Entry *entries, size_t n, uint64_t data_size, const char *path,
                         GError **error)
{
    uint64_t covered = 0;
    for (size_t i = 0; i < n; i++) {
        if (entries[i].begin < covered) {
            fail(error, path, "tensors '%s' and '%s' overlap (data_offsets [%" G_GUINT64_FORMAT
                 ", %" G_GUINT64_FORMAT "] and [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT "])",
                 entries[i - 1].tensor.name, entries[i].tensor.name, entries[i - 1].begin,
                 entries[i - 1].end, entries[i].begin, entries[i].end);
            return false;
        }
        if (entries[i].begin > covered) {
            fail(error, path, "bytes %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT
                 " of the data section belong to no tensor", covered, entries[i].begin);
            return false;
        }
        covered = entries[i].end;
    }
    if (covered != data_size) {
        fail(error, path, "%" G_GUINT64_FORMAT " bytes after the last tensor's data belong to no "
             "tensor", data_size - covered);
        return false;
    }
    return true;
}

// ----------------------------------------------------------------------------
// Reading, step 2: the whole file.

// The header: UTF-8 JSON, an object. Fills metadata and entries (names borrowed
// from the parser, which the caller frees after copying them).
static bool parse_header(JsonParser *parser, const char *header, uint64_t header_size,
                         uint64_t data_size, Safetensors *out, GArray *entries,
                         const char *path, GError **error)
{
    const char *bad = NULL;
    if (!g_utf8_validate_len(header, (gsize)header_size, &bad)) {
        fail(error, path, "header is not valid UTF-8 (byte %td of the header)", bad - header);
        return false;
    }
    GError *local = NULL;
    if (!json_parser_load_from_data(parser, header, (gssize)header_size, &local)) {
        fail(error, path, "header is not valid JSON: %s", local->message);
        g_error_free(local);
        return false;
    }
    JsonNode *root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        fail(error, path, "header is not a JSON object");
        return false;
    }
    JsonObject *obj = json_node_get_object(root);
    GList *members = json_object_get_members(obj); // in file order
    bool ok = true;
    for (GList *m = members; m && ok; m = m->next) {
        const char *name = m->data;
        JsonNode *node = json_object_get_member(obj, name);
        if (strcmp(name, "__metadata__") != 0) {
            Entry e = {.file_order = entries->len};
            ok = parse_entry(&e, name, node, data_size, path, error);
            if (ok)
                g_array_append_val(entries, e);
            continue;
        }
        if (!JSON_NODE_HOLDS_OBJECT(node)) {
            fail(error, path, "__metadata__ is not a JSON object");
            ok = false;
            break;
        }
        JsonObject *meta = json_node_get_object(node);
        GList *keys = json_object_get_members(meta);
        out->n_metadata = g_list_length(keys);
        out->metadata_keys = g_new0(char *, out->n_metadata + 1);
        out->metadata_values = g_new0(char *, out->n_metadata + 1);
        size_t i = 0;
        for (GList *k = keys; k; k = k->next, i++) {
            JsonNode *value = json_object_get_member(meta, k->data);
            if (!JSON_NODE_HOLDS_VALUE(value) || json_node_get_value_type(value) != G_TYPE_STRING) {
                fail(error, path, "__metadata__ value of '%s' is not a string", (char *)k->data);
                ok = false;
                break;
            }
            out->metadata_keys[i] = g_strdup(k->data);
            out->metadata_values[i] = g_strdup(json_node_get_string(value));
        }
        g_list_free(keys);
    }
    g_list_free(members);
    return ok;
}

// Copies the data of the (validated, sorted) entries into one allocation and
// checks that every value is finite.
static bool load_tensors(Safetensors *out, const Entry *entries, size_t n, const char *data,
                         uint64_t data_size, const char *path, GError **error)
{
    // The tiling makes the floats add up to exactly data_size / 4.
    size_t total = (size_t)(data_size / sizeof(float));
    out->data_memory = g_try_new(float, total > 0 ? total : 1);
    if (!out->data_memory) {
        fail(error, path, "out of memory for %zu floats", total);
        return false;
    }
    out->tensors = g_new0(SafetensorsTensor, n > 0 ? n : 1);
    out->n_tensors = n;
    for (size_t i = 0; i < n; i++) {
        SafetensorsTensor *t = &out->tensors[i];
        *t = entries[i].tensor;
        t->name = g_strdup(entries[i].tensor.name);
        t->data = out->data_memory + entries[i].begin / sizeof(float);
        copy_floats_from_le(t->data, data + entries[i].begin, t->count);
        for (size_t j = 0; j < t->count; j++) {
            if (!isfinite(t->data[j])) {
                char index[32 * SAFETENSORS_MAX_RANK];
                format_index(index, sizeof index, t, j);
                fail(error, path, "tensor '%s' element %zu %s is %s", t->name, j, index,
                     isnan(t->data[j]) ? "NaN" : "infinite");
                return false;
            }
        }
    }
    return true;
}

static bool read_mapped(const char *path, const char *contents, uint64_t size, Safetensors *out,
                        GError **error)
{
    static const char zip_magic[4] = {'P', 'K', 3, 4};
    if (size >= 4 && memcmp(contents, zip_magic, 4) == 0) {
        fail(error, path, "looks like a zip archive (a PyTorch .pt file?), not safetensors");
        return false;
    }
    if (size < 8) {
        fail(error, path, "only %" G_GUINT64_FORMAT " bytes: too short for safetensors, which "
             "starts with an 8-byte header length", size);
        return false;
    }
    uint64_t header_size = read_u64_le((const unsigned char *)contents);
    if (header_size == 0) {
        fail(error, path, "header length is 0; a safetensors header is at least '{}'");
        return false;
    }
    if (header_size > size - 8) {
        fail(error, path, "header length %" G_GUINT64_FORMAT " runs past the end of the file "
             "(%" G_GUINT64_FORMAT " bytes after the length): not safetensors, or truncated",
             header_size, size - 8);
        return false;
    }
    if (header_size > SAFETENSORS_MAX_HEADER) {
        fail(error, path, "header length %" G_GUINT64_FORMAT " is above the limit of %u bytes",
             header_size, SAFETENSORS_MAX_HEADER);
        return false;
    }
    const char *header = contents + 8;
    if (header[0] != '{') {
        fail(error, path, "header does not start with '{': not a safetensors file");
        return false;
    }
    uint64_t data_size = size - 8 - header_size;

    JsonParser *parser = json_parser_new();
    GArray *entries = g_array_new(FALSE, TRUE, sizeof(Entry));
    bool ok = parse_header(parser, header, header_size, data_size, out, entries, path, error);
    if (ok) {
        qsort(entries->data, entries->len, sizeof(Entry), compare_entries);
        Entry *sorted = (Entry *)(void *)entries->data;
        ok = check_tiling(sorted, entries->len, data_size, path, error) &&
             load_tensors(out, sorted, entries->len, header + header_size, data_size, path, error);
    }
    g_array_free(entries, TRUE);
    g_object_unref(parser);
    return ok;
}

bool safetensors_read(const char *path, Safetensors *out, GError **error)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        int err = errno;
        g_set_error(error, LL_ERROR, LL_ERROR_IO, "%s: cannot read: %s", path, g_strerror(err));
        return false;
    }
    struct stat info;
    if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
        g_set_error(error, LL_ERROR, LL_ERROR_IO, "%s: cannot read: not a regular file", path);
        close(fd);
        return false;
    }
    // Mapping costs no memory of its own; the checks below read the header
    // straight from it and only the validated tensors are copied out.
    GError *local = NULL;
    GMappedFile *mapped = g_mapped_file_new_from_fd(fd, FALSE, &local);
    close(fd);
    if (!mapped) {
        g_set_error(error, LL_ERROR, LL_ERROR_IO, "%s: cannot read: %s", path, local->message);
        g_error_free(local);
        return false;
    }
    bool ok = read_mapped(path, g_mapped_file_get_contents(mapped),
                          g_mapped_file_get_length(mapped), out, error);
    g_mapped_file_unref(mapped);
    if (!ok)
        safetensors_free(out);
    return ok;
}

void safetensors_free(Safetensors *st)
{
    for (size_t i = 0; i < st->n_metadata; i++) {
        g_free(st->metadata_keys[i]);
        g_free(st->metadata_values[i]);
    }
    g_free(st->metadata_keys);
    g_free(st->metadata_values);
    for (size_t i = 0; i < st->n_tensors; i++)
        g_free(st->tensors[i].name);
    g_free(st->tensors);
    g_free(st->data_memory);
    memset(st, 0, sizeof *st);
}

const SafetensorsTensor *safetensors_find(const Safetensors *st, const char *name)
{
    // A checkpoint has tens of tensors: a linear scan is plenty.
    for (size_t i = 0; i < st->n_tensors; i++)
        if (strcmp(st->tensors[i].name, name) == 0)
            return &st->tensors[i];
    return NULL;
}

const char *safetensors_metadata(const Safetensors *st, const char *key)
{
    for (size_t i = 0; i < st->n_metadata; i++)
        if (st->metadata_keys[i] && strcmp(st->metadata_keys[i], key) == 0)
            return st->metadata_values[i];
    return NULL;
}

// ----------------------------------------------------------------------------
// Writing.

static void clear_tensor(void *p)
{
    g_free(((SafetensorsTensor *)p)->name);
}

void safetensors_writer_init(SafetensorsWriter *w)
{
    w->metadata = g_ptr_array_new_with_free_func(g_free);
    w->tensors = g_array_new(FALSE, TRUE, sizeof(SafetensorsTensor));
    g_array_set_clear_func(w->tensors, clear_tensor);
}

void safetensors_writer_add_metadata(SafetensorsWriter *w, const char *key, const char *value)
{
    g_ptr_array_add(w->metadata, g_strdup(key));
    g_ptr_array_add(w->metadata, g_strdup(value));
}

void safetensors_writer_add_tensor(SafetensorsWriter *w, const char *name, int rank,
                                   const size_t *shape, const float *data)
{
    // A bad rank is kept as it is and reported by safetensors_writer_write.
    SafetensorsTensor t = {.name = g_strdup(name), .rank = rank, .count = 1, .data = (float *)data};
    for (int d = 0; d < rank && d < SAFETENSORS_MAX_RANK; d++) {
        t.shape[d] = shape[d];
        if (!g_size_checked_mul(&t.count, t.count, shape[d]) ||
            t.count > SIZE_MAX / sizeof(float))
            t.rank = -1; // reported as too large
    }
    g_array_append_val(w->tensors, t);
}

void safetensors_writer_clear(SafetensorsWriter *w)
{
    if (w->metadata)
        g_ptr_array_free(w->metadata, TRUE);
    if (w->tensors)
        g_array_free(w->tensors, TRUE);
    w->metadata = NULL;
    w->tensors = NULL;
}

// A JSON string literal: quotes, backslashes and control characters escaped,
// everything else (UTF-8 included) as it is.
static void append_json_string(GString *out, const char *s)
{
    g_string_append_c(out, '"');
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            g_string_append_printf(out, "\\%c", *c);
        else if (*c < 0x20)
            g_string_append_printf(out, "\\u%04x", *c);
        else
            g_string_append_c(out, (char)*c);
    }
    g_string_append_c(out, '"');
}

static bool writer_check(const SafetensorsWriter *w, const char *path, GError **error)
{
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
    bool ok = true;
    for (guint i = 0; ok && i < w->metadata->len; i++) {
        const char *s = g_ptr_array_index(w->metadata, i);
        if (!g_utf8_validate(s, -1, NULL)) {
            fail(error, path, "metadata %s %u is not valid UTF-8", i % 2 ? "value" : "key", i / 2);
            ok = false;
        } else if (i % 2 == 0 && !g_hash_table_add(seen, (char *)s)) {
            fail(error, path, "metadata key '%s' added twice", s);
            ok = false;
        }
    }
    g_hash_table_remove_all(seen);
    for (guint i = 0; ok && i < w->tensors->len; i++) {
        const SafetensorsTensor *t = &g_array_index(w->tensors, SafetensorsTensor, i);
        ok = false;
        if (!g_utf8_validate(t->name, -1, NULL))
            fail(error, path, "tensor %u: name is not valid UTF-8", i);
        else if (strcmp(t->name, "__metadata__") == 0)
            fail(error, path, "a tensor cannot be called __metadata__");
        else if (!g_hash_table_add(seen, t->name))
            fail(error, path, "tensor '%s' added twice", t->name);
        else if (t->rank < 0 || t->rank > SAFETENSORS_MAX_RANK)
            fail(error, path, "tensor '%s': rank out of range or shape too large", t->name);
        else if (t->count > 0 && !t->data)
            fail(error, path, "tensor '%s': no data", t->name);
        else
            ok = true;
        for (size_t j = 0; ok && j < t->count; j++) {
            if (!isfinite(t->data[j])) {
                char index[32 * SAFETENSORS_MAX_RANK];
                format_index(index, sizeof index, t, j);
                fail(error, path, "tensor '%s' element %zu %s is %s; not writing it", t->name, j,
                     index, isnan(t->data[j]) ? "NaN" : "infinite");
                ok = false;
            }
        }
    }
    g_hash_table_destroy(seen);
    return ok;
}

static GString *writer_header(const SafetensorsWriter *w)
{
    GString *h = g_string_new("{");
    if (w->metadata->len > 0) {
        g_string_append(h, "\"__metadata__\":{");
        for (guint i = 0; i < w->metadata->len; i += 2) {
            if (i > 0)
                g_string_append_c(h, ',');
            append_json_string(h, g_ptr_array_index(w->metadata, i));
            g_string_append_c(h, ':');
            append_json_string(h, g_ptr_array_index(w->metadata, i + 1));
        }
        g_string_append_c(h, '}');
    }
    uint64_t offset = 0;
    for (guint i = 0; i < w->tensors->len; i++) {
        const SafetensorsTensor *t = &g_array_index(w->tensors, SafetensorsTensor, i);
        if (h->len > 1)
            g_string_append_c(h, ',');
        append_json_string(h, t->name);
        g_string_append(h, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < t->rank; d++)
            g_string_append_printf(h, "%s%zu", d ? "," : "", t->shape[d]);
        uint64_t end = offset + (uint64_t)t->count * sizeof(float);
        g_string_append_printf(h, "],\"data_offsets\":[%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT
                               "]}", offset, end);
        offset = end;
    }
    g_string_append_c(h, '}');
    // Spaces up to a multiple of 8, so the data after the 8-byte length and
    // the header starts 8-byte aligned.
    while (h->len % 8 != 0)
        g_string_append_c(h, ' ');
    return h;
}

static bool write_floats_le(FILE *fp, const float *data, size_t count)
{
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
    return fwrite(data, sizeof(float), count, fp) == count;
#else
    for (size_t i = 0; i < count; i++) {
        uint32_t word;
        memcpy(&word, &data[i], sizeof word);
        word = GUINT32_TO_LE(word);
        if (fwrite(&word, sizeof word, 1, fp) != 1)
            return false;
    }
    return true;
#endif
}

bool safetensors_writer_write(SafetensorsWriter *w, const char *path, GError **error)
{
    if (!writer_check(w, path, error))
        return false;
    GString *header = writer_header(w);
    unsigned char length[8];
    uint64_t n = header->len;
    for (int i = 0; i < 8; i++)
        length[i] = (unsigned char)(n >> (8 * i));

    AtomicFile file;
    if (!atomic_file_open(&file, path, error)) {
        g_string_free(header, TRUE);
        return false;
    }
    bool ok = fwrite(length, 1, 8, file.fp) == 8 &&
              fwrite(header->str, 1, header->len, file.fp) == header->len;
    for (guint i = 0; ok && i < w->tensors->len; i++) {
        const SafetensorsTensor *t = &g_array_index(w->tensors, SafetensorsTensor, i);
        ok = write_floats_le(file.fp, t->data, t->count);
    }
    g_string_free(header, TRUE);
    if (!ok) {
        int err = errno;
        atomic_file_abort(&file);
        g_set_error(error, LL_ERROR, LL_ERROR_IO, "%s: cannot write: %s", path, g_strerror(err));
        return false;
    }
    return atomic_file_commit(&file, error);
}
