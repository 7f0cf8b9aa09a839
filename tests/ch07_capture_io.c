// ch07_capture_io.c: the capture files: strict CSV for one 20x20 pattern, NPY
// for every layer and head.
#include <float.h>
#include <locale.h>
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "capture_io.h"
#include "rng.h"
#include "testutil.h"
#include "util.h"

#define N MATRIX_SIZE

// Floats of every kind a file must carry exactly: random bit patterns (all
// magnitudes, subnormals included), signed zeros, the extremes.
static void awkward_floats(float m[N], uint64_t seed)
{
    Rng rng;
    rng_seed(&rng, seed);
    for (int i = 0; i < N; i++) {
        float x;
        do {
            uint32_t bits = (uint32_t)rng_u64(&rng);
            memcpy(&x, &bits, sizeof x);
        } while (!isfinite(x));
        m[i] = x;
    }
    m[0] = 0.0f;
    m[1] = -0.0f;
    m[2] = FLT_MAX;
    m[3] = -FLT_MAX;
    m[4] = FLT_MIN;
    m[5] = FLT_TRUE_MIN;
    m[6] = 1.0f / 3.0f;
    m[7] = 0.1f;
    m[8] = 1.0f;
}

static void assert_bits_equal(const float *a, const float *b)
{
    for (int i = 0; i < N; i++) {
        uint32_t x, y;
        memcpy(&x, &a[i], 4);
        memcpy(&y, &b[i], 4);
        if (x != y)
            g_test_message("entry %d: wrote %08x, read %08x", i, x, y);
        g_assert_cmphex(x, ==, y);
    }
}

static void round_trip(const char *name, uint64_t seed)
{
    float wrote[N], read[N];
    awkward_floats(wrote, seed);
    char *path = test_path(name);
    GError *error = NULL;
    g_assert_true(matrix_csv_write(path, wrote, &error));
    g_assert_no_error(error);
    g_assert_true(matrix_csv_read(path, read, &error));
    g_assert_no_error(error);
    assert_bits_equal(wrote, read);

    // The text itself: 20 lines of 20 fields, so exactly 19 commas a line
    // (a decimal comma would add more).
    char *text;
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    char **lines = g_strsplit(text, "\n", -1);
    g_assert_cmpint(g_strv_length(lines), ==, MATRIX_T + 1); // the last is after the final \n
    g_assert_cmpstr(lines[MATRIX_T], ==, "");
    for (int r = 0; r < MATRIX_T; r++) {
        int commas = 0;
        for (const char *c = lines[r]; *c; c++)
            commas += *c == ',';
        g_assert_cmpint(commas, ==, MATRIX_T - 1);
    }
    g_strfreev(lines);
    g_free(text);
    g_free(path);
}

static void test_csv_round_trip(void)
{
    for (uint64_t seed = 1; seed <= 20; seed++)
        round_trip("round.csv", seed);
}

// A German locale writes 0.5 as "0,5"; the files must not care.
static void test_csv_round_trip_german_locale(void)
{
    if (!setlocale(LC_ALL, "de_DE.UTF-8")) {
        g_test_fail_printf("the locale de_DE.UTF-8 is missing, so this test cannot check that "
                           "CSV ignores LC_NUMERIC; generate it: sed -i "
                           "'s/^# *de_DE.UTF-8/de_DE.UTF-8/' /etc/locale.gen && locale-gen");
        return;
    }
    // Only a meaningful test if the locale really uses a decimal comma.
    g_assert_cmpstr(localeconv()->decimal_point, ==, ",");
    round_trip("german.csv", 99);

    // A C-locale file reads as C, not as German.
    GString *text = g_string_new(NULL);
    for (int r = 0; r < MATRIX_T; r++) {
        for (int c = 0; c < MATRIX_T; c++)
            g_string_append_printf(text, "%s%s", c ? "," : "", c == 0 ? "0.5" : "1.25e-3");
        g_string_append_c(text, '\n');
    }
    char *path = test_write_file("c_numbers.csv", text->str);
    float m[N];
    GError *error = NULL;
    g_assert_true(matrix_csv_read(path, m, &error));
    g_assert_no_error(error);
    g_assert_cmpfloat(m[0], ==, 0.5f);
    g_assert_cmpfloat(m[1], ==, 1.25e-3f);
    setlocale(LC_ALL, "C");
    g_string_free(text, TRUE);
    g_free(path);
}

// 20 good rows of "r.c" style numbers; row_text replaces some rows.
static char *matrix_text(const char *newline)
{
    GString *text = g_string_new(NULL);
    for (int r = 0; r < MATRIX_T; r++) {
        for (int c = 0; c < MATRIX_T; c++)
            g_string_append_printf(text, "%s%d.%02d", c ? "," : "", r, c);
        g_string_append(text, newline);
    }
    return g_string_free(text, FALSE);
}

static void test_csv_crlf(void)
{
    char *lf_text = matrix_text("\n"), *crlf_text = matrix_text("\r\n");
    char *lf = test_write_file("lf.csv", lf_text), *crlf = test_write_file("crlf.csv", crlf_text);
    float a[N], b[N];
    GError *error = NULL;
    g_assert_true(matrix_csv_read(lf, a, &error));
    g_assert_no_error(error);
    g_assert_true(matrix_csv_read(crlf, b, &error));
    g_assert_no_error(error);
    assert_bits_equal(a, b);
    g_assert_cmpfloat(a[3 * MATRIX_T + 7], ==, 3.07f);

    // The last newline is optional.
    lf_text[strlen(lf_text) - 1] = '\0';
    char *no_final = test_write_file("no_final_newline.csv", lf_text);
    g_assert_true(matrix_csv_read(no_final, b, &error));
    g_assert_no_error(error);
    assert_bits_equal(a, b);
    g_free(lf_text);
    g_free(crlf_text);
    g_free(lf);
    g_free(crlf);
    g_free(no_final);
}

// The good matrix with line `row` (1-based) replaced, or removed (NULL), or a
// line added at the end (row 21).
static char *with_line(int row, const char *line)
{
    GString *text = g_string_new(NULL);
    for (int r = 1; r <= MATRIX_T + 1; r++) {
        if (r == row) {
            if (line)
                g_string_append_printf(text, "%s\n", line);
            continue;
        }
        if (r > MATRIX_T)
            break;
        for (int c = 0; c < MATRIX_T; c++)
            g_string_append_printf(text, "%s0.%d", c ? "," : "", c);
        g_string_append_c(text, '\n');
    }
    return g_string_free(text, FALSE);
}

// with_line, taking ownership of line.
static char *with_own_line(int row, char *line)
{
    char *text = with_line(row, line);
    g_free(line);
    return text;
}

// A row of 20 "0.5" with field `col` (1-based) replaced by `field`; n fields.
static char *row_with(int n, int col, const char *field)
{
    GString *line = g_string_new(NULL);
    for (int c = 1; c <= n; c++)
        g_string_append_printf(line, "%s%s", c > 1 ? "," : "", c == col ? field : "0.5");
    return g_string_free(line, FALSE);
}

typedef struct {
    const char *what;
    char *text;           // file contents (owned)
    const char *location; // ":ROW:COL:" expected right after the file name
    const char *reason;   // expected somewhere in the message
} BadCase;

static void test_csv_rejections(void)
{
    char *good_row = row_with(MATRIX_T, 0, "");
    char *trailing = g_strconcat(good_row, ",", NULL);
    BadCase cases[] = {
        {"trailing comma", with_line(3, trailing), ":3:21: ", "trailing comma"},
        {"empty field", with_own_line(5, row_with(MATRIX_T, 7, "")), ":5:7: ", "empty field"},
        {"19 fields", with_own_line(2, row_with(19, 0, "")), ":2:20: ", "19 fields, expected 20"},
        {"21 fields", with_own_line(4, row_with(21, 0, "")), ":4:21: ", "21 fields, expected 20"},
        {"19 rows", with_line(20, NULL), ":20:1: ", "missing row"},
        {"21 rows", with_line(21, good_row), ":21:1: ", "extra line"},
        {"a word", with_own_line(6, row_with(MATRIX_T, 3, "abc")), ":6:3: ",
         "expected a decimal number, got 'abc'"},
        {"junk after a number", with_own_line(9, row_with(MATRIX_T, 11, "1.5x")),
         ":9:11: ", "expected a decimal number, got '1.5x'"},
        {"space before", with_own_line(10, row_with(MATRIX_T, 2, " 1")), ":10:2: ",
         "got ' 1' (spaces around it)"},
        {"space after", with_own_line(10, row_with(MATRIX_T, 2, "1 ")), ":10:2: ",
         "got '1 ' (spaces around it)"},
        {"hex float", with_own_line(11, row_with(MATRIX_T, 3, "0x1p-2")), ":11:3: ",
         "expected a decimal number"},
        {"decimal comma", with_own_line(12, row_with(MATRIX_T, 20, "0,5")),
         ":12:21: ", "21 fields"},
        {"nan", with_own_line(7, row_with(MATRIX_T, 1, "nan")), ":7:1: ",
         "expected a decimal number, got 'nan'"},
        {"inf", with_own_line(8, row_with(MATRIX_T, 20, "-inf")), ":8:20: ",
         "expected a decimal number, got '-inf'"},
        {"double overflow", with_own_line(1, row_with(MATRIX_T, 4, "1e999")),
         ":1:4: ", "1e999 is out of range"},
        {"float overflow", with_own_line(1, row_with(MATRIX_T, 5, "1e39")),
         ":1:5: ", "too large for a float"},
        {"blank line", with_line(4, ""), ":4:1: ", "empty line"},
        {"empty file", g_strdup(""), ":1:1: ", "missing row"},
        {"lone CR", with_own_line(15, row_with(MATRIX_T, 8, "0.5\r0.5")),
         ":15:8: ", "got '0.5?0.5'"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *name = g_strdup_printf("bad%zu.csv", i);
        char *path = test_write_file(name, cases[i].text);
        float m[N];
        for (int k = 0; k < N; k++)
            m[k] = 42.0f;
        GError *error = NULL;
        g_assert_false(matrix_csv_read(path, m, &error));
        g_assert_error(error, LL_ERROR, LL_ERROR_PARSE);
        g_test_message("%s: %s", cases[i].what, error->message);
        char *prefix = g_strconcat(path, cases[i].location, NULL);
        g_assert_true(g_str_has_prefix(error->message, prefix));
        g_assert_nonnull(strstr(error->message, cases[i].reason));
        g_assert_null(strchr(error->message, '\n'));
        for (int k = 0; k < N; k++) // a failed read leaves m alone
            g_assert_cmpfloat(m[k], ==, 42.0f);
        g_clear_error(&error);
        g_free(prefix);
        g_free(path);
        g_free(name);
        g_free(cases[i].text);
    }
    g_free(trailing);
    g_free(good_row);

    // A missing file: "FILE: reason".
    char *missing = test_path("no-such.csv");
    float m[N];
    GError *error = NULL;
    g_assert_false(matrix_csv_read(missing, m, &error));
    g_assert_error(error, LL_ERROR, LL_ERROR_IO);
    char *prefix = g_strconcat(missing, ": ", NULL);
    g_assert_true(g_str_has_prefix(error->message, prefix));
    g_clear_error(&error);
    g_free(prefix);
    g_free(missing);
}

static void test_csv_write_refuses_and_leaves_nothing(void)
{
    float m[N] = {0};
    m[3 * MATRIX_T + 4] = NAN;
    char *dir = test_path("writes");
    g_assert_cmpint(g_mkdir(dir, 0755), ==, 0);
    char *path = g_build_filename(dir, "m.csv", NULL);
    GError *error = NULL;
    g_assert_false(matrix_csv_write(path, m, &error));
    g_assert_error(error, LL_ERROR, LL_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, "row 3 column 4"));
    g_clear_error(&error);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));

    // Into a folder that does not exist: an error, not a crash.
    char *nowhere = g_build_filename(dir, "missing", "m.csv", NULL);
    m[3 * MATRIX_T + 4] = 0.0f;
    g_assert_false(matrix_csv_write(nowhere, m, &error));
    g_assert_error(error, LL_ERROR, LL_ERROR_IO);
    g_clear_error(&error);

    // A good write leaves exactly one file: no temp file behind.
    g_assert_true(matrix_csv_write(path, m, &error));
    g_assert_no_error(error);
    GDir *listing = g_dir_open(dir, 0, NULL);
    int files = 0;
    for (const char *name; (name = g_dir_read_name(listing));)
        files++;
    g_dir_close(listing);
    g_assert_cmpint(files, ==, 1);
    g_free(nowhere);
    g_free(path);
    g_free(dir);
}

static void test_matrix_compare(void)
{
    float a[N], b[N];
    awkward_floats(a, 5);
    memcpy(b, a, sizeof a);
    double diff = -1;
    int row = 99, col = 99;
    g_assert_true(matrix_compare(a, b, &diff, &row, &col));
    g_assert_cmpfloat(diff, ==, 0.0);
    g_assert_cmpint(row, ==, -1);
    g_assert_cmpint(col, ==, -1);

    for (int i = 0; i < N; i++)
        a[i] = b[i] = 0.25f;
    b[7 * MATRIX_T + 2] = 0.5f;  // 0.25 off
    b[11 * MATRIX_T + 9] = 0.3f; // smaller
    g_assert_false(matrix_compare(a, b, &diff, &row, &col));
    g_assert_cmpfloat(diff, ==, 0.25);
    g_assert_cmpint(row, ==, 7);
    g_assert_cmpint(col, ==, 2);

    b[7 * MATRIX_T + 2] = 0.25f;
    b[11 * MATRIX_T + 9] = 0.25f;
    a[19 * MATRIX_T + 19] = b[19 * MATRIX_T + 19] = NAN; // NaN on both sides: equal
    g_assert_true(matrix_compare(a, b, NULL, NULL, NULL));
    b[19 * MATRIX_T + 19] = 1.0f; // NaN on one side: infinitely different
    g_assert_false(matrix_compare(a, b, &diff, &row, &col));
    g_assert_true(isinf(diff));
    g_assert_cmpint(row, ==, 19);
    g_assert_cmpint(col, ==, 19);
}

static uint32_t read_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void test_npy(void)
{
    const int L = 2, NH = 3;
    size_t count = (size_t)L * NH * N;
    float *data = g_new(float, count); // (L, NH, T, T)
    for (size_t i = 0; i < count; i++)
        data[i] = (float)i * 0.5f - 7.0f;
    char *path = test_path("capture.npy");
    GError *error = NULL;
    g_assert_true(capture_npy_write(path, data, L, NH, &error));
    g_assert_no_error(error);

    char *bytes;
    gsize size;
    g_assert_true(g_file_get_contents(path, &bytes, &size, NULL));
    const unsigned char *u = (const unsigned char *)bytes;
    g_assert_cmpmem(bytes, 8, "\x93NUMPY\x01\x00", 8); // magic, version 1.0
    size_t header_len = u[8] | (size_t)u[9] << 8;
    size_t data_start = 10 + header_len;
    g_assert_cmpuint(data_start % 64, ==, 0);
    g_assert_cmpuint(size, ==, data_start + count * 4);
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 20, 20), }";
    g_assert_cmpmem(bytes + 10, strlen(dict), dict, strlen(dict));
    for (size_t i = 10 + strlen(dict); i < data_start - 1; i++)
        g_assert_cmpint(bytes[i], ==, ' ');
    g_assert_cmpint(bytes[data_start - 1], ==, '\n');
    // The numbers, little-endian, in C order.
    for (size_t i = 0; i < count; i++) {
        uint32_t want;
        memcpy(&want, &data[i], 4);
        g_assert_cmphex(read_le32(u + data_start + 4 * i), ==, want);
    }
    g_free(bytes);

    // The smallest shape and a bad one.
    g_assert_true(capture_npy_write(path, data, 1, 1, &error));
    g_assert_true(g_file_get_contents(path, &bytes, &size, NULL));
    g_assert_cmpuint(size, ==, 128 + (size_t)N * 4); // 10 + 68 header bytes, padded to 128
    g_free(bytes);
    g_assert_false(capture_npy_write(path, data, 0, 8, &error));
    g_assert_error(error, LL_ERROR, LL_ERROR_INVALID);
    g_clear_error(&error);
    g_free(path);
    g_free(data);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ch07/csv/round-trip", test_csv_round_trip);
    g_test_add_func("/ch07/csv/round-trip-german-locale", test_csv_round_trip_german_locale);
    g_test_add_func("/ch07/csv/crlf", test_csv_crlf);
    g_test_add_func("/ch07/csv/rejections", test_csv_rejections);
    g_test_add_func("/ch07/csv/write-refuses-and-leaves-nothing",
                    test_csv_write_refuses_and_leaves_nothing);
    g_test_add_func("/ch07/matrix-compare", test_matrix_compare);
    g_test_add_func("/ch07/npy", test_npy);
    return g_test_run();
}
