// capture_io.c: see capture_io.h.
#include "capture_io.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "util.h"

bool matrix_csv_write(const char *path, const float m[MATRIX_SIZE], GError **error)
{
    // m is (T,T). Refuse what the reader would refuse, so every file we write
    // can be read back.
    for (int i = 0; i < MATRIX_SIZE; i++) {
        if (!isfinite(m[i])) {
            g_set_error(error, LL_ERROR, LL_ERROR_INVALID,
                        "%s: cannot write row %d column %d: not a finite number", path,
                        i / MATRIX_T, i % MATRIX_T);
            return false;
        }
    }
    GString *text = g_string_sized_new(MATRIX_SIZE * 16);
    char number[G_ASCII_DTOSTR_BUF_SIZE];
    for (int row = 0; row < MATRIX_T; row++) {
        for (int col = 0; col < MATRIX_T; col++) {
            if (col > 0)
                g_string_append_c(text, ',');
            g_string_append(text, format_float(number, m[row * MATRIX_T + col]));
        }
        g_string_append_c(text, '\n');
    }
    AtomicFile out;
    bool ok = atomic_file_open(&out, path, error);
    if (ok) {
        fwrite(text->str, 1, text->len, out.fp);
        ok = atomic_file_commit(&out, error); // catches a failed fwrite too (ferror)
    }
    g_string_free(text, TRUE);
    return ok;
}

// A 20x20 CSV of %.9g floats is under 7 KB; anything far bigger is not one,
// and we never read an unbounded file into memory.
#define CSV_MAX_BYTES (1 << 20)
// "-1.17549435e-38" is 15 characters; a longer field is not a float we wrote.
#define FIELD_MAX 64

// A field as it can be shown in a one-line message: printable ASCII only,
// shortened.
static void field_for_message(char out[32], const char *field, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n < 24; i++)
        out[n++] = g_ascii_isprint(field[i]) ? field[i] : '?';
    if (len > 24) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

// One field: a decimal number that fits a float, in the C locale, nothing
// else (no spaces around it, no hex, inf or nan: parse_double's rules, the
// same as for every number LoopLens reads). On failure writes the reason.
static bool parse_field(const char *field, size_t len, float *out, char *why, size_t why_size)
{
    char shown[32];
    field_for_message(shown, field, len);
    char text[FIELD_MAX + 1];
    if (len > FIELD_MAX || memchr(field, '\0', len)) {
        g_snprintf(why, why_size, "not a number: '%s'", shown);
        return false;
    }
    memcpy(text, field, len);
    text[len] = '\0';
    double value;
    GError *inner = NULL;
    if (!parse_double(text, NULL, &value, &inner)) {
        g_strlcpy(why, inner->message, why_size);
        g_error_free(inner);
        return false;
    }
    // %.9g identifies a float exactly, and rounding through double (53 bits)
    // to float (24 bits) returns that same float.
    float narrowed = (float)value;
    if (!isfinite(narrowed)) {
        g_snprintf(why, why_size, "too large for a float: '%s'", shown);
        return false;
    }
    *out = narrowed;
    return true;
}

// One line (without its newline and any CR): exactly T fields into row_out.
// On failure sets *bad_col (1-based) and the reason.
static bool parse_row(const char *line, size_t len, float row_out[MATRIX_T], int *bad_col,
                      char *why, size_t why_size)
{
    int n_fields = 1;
    for (size_t i = 0; i < len; i++)
        n_fields += line[i] == ',';
    size_t start = 0;
    for (int f = 0; f < n_fields; f++) {
        const char *comma = memchr(line + start, ',', len - start);
        size_t end = comma ? (size_t)(comma - line) : len;
        bool last = f == n_fields - 1;
        *bad_col = f + 1;
        if (end == start) {
            if (f == 0 && last)
                g_snprintf(why, why_size, "empty line, expected %d numbers", MATRIX_T);
            else if (last)
                g_snprintf(why, why_size, "trailing comma");
            else
                g_snprintf(why, why_size, "empty field");
            return false;
        }
        if (f >= MATRIX_T) {
            g_snprintf(why, why_size, "%d fields, expected %d", n_fields, MATRIX_T);
            return false;
        }
        if (!parse_field(line + start, end - start, &row_out[f], why, why_size))
            return false;
        start = end + 1;
    }
    if (n_fields < MATRIX_T) {
        *bad_col = n_fields + 1;
        g_snprintf(why, why_size, "only %d fields, expected %d", n_fields, MATRIX_T);
        return false;
    }
    return true;
}

// Reads at most CSV_MAX_BYTES; a bigger file is an error, not a big allocation.
static bool read_small_file(const char *path, char **text_out, size_t *len_out, GError **error)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        int err = errno;
        g_set_error(error, LL_ERROR, LL_ERROR_IO, "%s: cannot read: %s", path, g_strerror(err));
        return false;
    }
    char *text = g_malloc(CSV_MAX_BYTES + 1);
    size_t len = fread(text, 1, CSV_MAX_BYTES + 1, fp);
    bool failed = ferror(fp);
    fclose(fp);
    if (failed || len > CSV_MAX_BYTES) {
        g_set_error(error, LL_ERROR, LL_ERROR_IO,
                    failed ? "%s: cannot read" : "%s: larger than %d bytes, not a 20x20 matrix",
                    path, CSV_MAX_BYTES);
        g_free(text);
        return false;
    }
    *text_out = text;
    *len_out = len;
    return true;
}

bool matrix_csv_read(const char *path, float m[MATRIX_SIZE], GError **error)
{
    char *text;
    size_t len;
    if (!read_small_file(path, &text, &len, error))
        return false;
    float parsed[MATRIX_SIZE]; // (T,T); copied to m only when all is well
    char why[128];
    int row = 0, bad_col = 1;
    bool ok = true;
    size_t start = 0;
    // A final newline ends the last line; it does not begin another one.
    while (ok && start < len) {
        const char *newline = memchr(text + start, '\n', len - start);
        size_t end = newline ? (size_t)(newline - text) : len;
        size_t line_len = end - start;
        if (line_len > 0 && text[end - 1] == '\r') // CRLF
            line_len--;
        row++;
        if (row > MATRIX_T) {
            bad_col = 1;
            g_snprintf(why, sizeof why, "extra line: expected %d rows", MATRIX_T);
            ok = false;
        } else {
            ok = parse_row(text + start, line_len, &parsed[(row - 1) * MATRIX_T], &bad_col, why,
                           sizeof why);
        }
        start = end + 1;
    }
    if (!ok) {
        g_set_error(error, LL_ERROR, LL_ERROR_PARSE, "%s:%d:%d: %s", path, row, bad_col, why);
    } else if (row < MATRIX_T) {
        ok = false;
        g_set_error(error, LL_ERROR, LL_ERROR_PARSE,
                    "%s:%d:1: missing row: the file ends after %d rows, expected %d", path, row + 1,
                    row, MATRIX_T);
    } else {
        memcpy(m, parsed, sizeof parsed);
    }
    g_free(text);
    return ok;
}

bool matrix_compare(const float a[MATRIX_SIZE], const float b[MATRIX_SIZE], double *max_diff,
                    int *row, int *col)
{
    double worst = 0.0;
    int worst_at = -1;
    for (int i = 0; i < MATRIX_SIZE; i++) {
        double diff;
        if (isnan(a[i]) || isnan(b[i]))
            diff = isnan(a[i]) && isnan(b[i]) ? 0.0 : INFINITY;
        else if (a[i] == b[i]) // also equal infinities, whose difference is NaN
            diff = 0.0;
        else
            diff = fabs((double)a[i] - (double)b[i]);
        if (diff > worst) {
            worst = diff;
            worst_at = i;
        }
    }
    if (max_diff)
        *max_diff = worst;
    if (row)
        *row = worst_at < 0 ? -1 : worst_at / MATRIX_T;
    if (col)
        *col = worst_at < 0 ? -1 : worst_at % MATRIX_T;
    return worst_at < 0;
}

// NPY format 1.0: magic "\x93NUMPY", version 1 0, a little-endian uint16 header
// length, then a Python dict literal padded with spaces and ended by '\n' so
// that the data begins at a multiple of 64 bytes.
#define NPY_ALIGN 64
#define NPY_PREFIX 10
#define NPY_MAX_DIM 4096

bool capture_npy_write(const char *path, const float *data, int n_layer, int n_head, GError **error)
{
    // data is (n_layer, n_head, T, T)
    if (n_layer < 1 || n_layer > NPY_MAX_DIM || n_head < 1 || n_head > NPY_MAX_DIM) {
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID,
                    "%s: cannot write shape (%d, %d, %d, %d): layers and heads must be 1..%d", path,
                    n_layer, n_head, MATRIX_T, MATRIX_T, NPY_MAX_DIM);
        return false;
    }
    GString *header = g_string_new(NULL);
    g_string_printf(header, "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d, %d, %d), }",
                    n_layer, n_head, MATRIX_T, MATRIX_T);
    while ((NPY_PREFIX + header->len + 1) % NPY_ALIGN != 0)
        g_string_append_c(header, ' ');
    g_string_append_c(header, '\n');
    unsigned char prefix[NPY_PREFIX] = {0x93,
                                        'N',
                                        'U',
                                        'M',
                                        'P',
                                        'Y',
                                        1,
                                        0,
                                        (unsigned char)(header->len & 0xff),
                                        (unsigned char)(header->len >> 8)};
    AtomicFile out;
    if (!atomic_file_open(&out, path, error)) {
        g_string_free(header, TRUE);
        return false;
    }
    fwrite(prefix, 1, sizeof prefix, out.fp);
    fwrite(header->str, 1, header->len, out.fp);
    g_string_free(header, TRUE);
    size_t count = (size_t)n_layer * n_head * MATRIX_SIZE;
    for (size_t i = 0; i < count; i++) {
        // '<f4' whatever this machine's byte order is.
        uint32_t bits;
        memcpy(&bits, &data[i], sizeof bits);
        bits = GUINT32_TO_LE(bits);
        fwrite(&bits, 1, sizeof bits, out.fp);
    }
    return atomic_file_commit(&out, error); // reports any failed fwrite (ferror)
}
