// lib_util.c: the shared utilities: the PRNG, number parsing, atomic files.
#include <locale.h>
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "rng.h"
#include "testutil.h"
#include "util.h"

// Known answers computed independently (a few lines of Python implementing
// splitmix64 and xoshiro256**, not this C code): the generator must give these
// exact words on every machine and compiler.
static void test_rng_known_answers(void)
{
    Rng rng;
    rng_seed(&rng, 42);
    g_assert_cmphex(rng_u64(&rng), ==, 0x15780b2e0c2ec716ULL);
    g_assert_cmphex(rng_u64(&rng), ==, 0x6104d9866d113a7eULL);
    g_assert_cmphex(rng_u64(&rng), ==, 0xae17533239e499a1ULL);
}

static void test_rng_below_is_uniform(void)
{
    // 7 does not divide 2^32, so plain modulo would be (very slightly) biased;
    // here we only check the counts are within 5 binomial sigmas of n/7.
    Rng rng;
    rng_seed(&rng, 1);
    int counts[7] = {0};
    const int n = 700000;
    for (int i = 0; i < n; i++) {
        uint32_t r = rng_below(&rng, 7);
        g_assert_cmpuint(r, <, 7);
        counts[r]++;
    }
    double expected = n / 7.0, sigma = sqrt(n * (1.0 / 7) * (6.0 / 7));
    for (int k = 0; k < 7; k++)
        g_assert_cmpfloat(fabs(counts[k] - expected), <=, 5 * sigma);
}

static void test_rng_normal_moments(void)
{
    // Mean 0 and variance 1 within 5 standard errors over 200,000 draws.
    Rng rng;
    rng_seed(&rng, 2);
    const int n = 200000;
    double sum = 0, sum_sq = 0;
    for (int i = 0; i < n; i++) {
        double x = rng_normal(&rng);
        g_assert_true(isfinite(x));
        sum += x;
        sum_sq += x * x;
    }
    double mean = sum / n, var = sum_sq / n - mean * mean;
    g_assert_cmpfloat(fabs(mean), <=, 5 / sqrt(n));
    g_assert_cmpfloat(fabs(var - 1), <=, 5 * sqrt(2.0 / n));
}

static void test_parse_numbers(void)
{
    int64_t i;
    uint64_t u;
    double d;
    GError *error = NULL;
    g_assert_true(parse_int64("12", "--n", 1, 100, &i, NULL));
    g_assert_cmpint(i, ==, 12);
    const char *bad_ints[] = {"", "abc", "-5", "12x", " 12", "101", "1e3", NULL};
    for (int k = 0; bad_ints[k]; k++) {
        g_assert_false(parse_int64(bad_ints[k], "--n", 1, 100, &i, &error));
        g_assert_nonnull(strstr(error->message, "--n"));
        g_clear_error(&error);
    }
    g_assert_true(parse_uint64("18446744073709551615", "--seed", &u, NULL));
    g_assert_cmphex(u, ==, UINT64_MAX);
    g_assert_false(parse_uint64("-1", "--seed", &u, NULL));
    g_assert_true(parse_double("2.5", "--boost", &d, NULL));
    g_assert_cmpfloat(d, ==, 2.5);
    const char *bad_doubles[] = {"", "nan", "inf", "2.5x", "1e999", "2,5", NULL};
    for (int k = 0; bad_doubles[k]; k++)
        g_assert_false(parse_double(bad_doubles[k], "--boost", &d, NULL));
}

static void test_numbers_ignore_locale(void)
{
    // Under a decimal-comma locale we still write and read a decimal point.
    const char *saved = setlocale(LC_NUMERIC, NULL);
    char *saved_copy = g_strdup(saved);
    if (!setlocale(LC_NUMERIC, "de_DE.UTF-8")) {
        g_test_fail_printf("locale de_DE.UTF-8 is missing: generate it (tools/do does: "
                           "locale-gen after enabling it in /etc/locale.gen)");
        g_free(saved_copy);
        return;
    }
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    g_assert_cmpstr(format_float(buf, 0.5f), ==, "0.5");
    double d;
    g_assert_true(parse_double("0.25", "x", &d, NULL));
    g_assert_cmpfloat(d, ==, 0.25);
    setlocale(LC_NUMERIC, saved_copy);
    g_free(saved_copy);
}

static void test_atomic_file(void)
{
    char *path = test_path("atomic.txt");
    GError *error = NULL;
    AtomicFile f;
    // Commit: the file appears whole.
    g_assert_true(atomic_file_open(&f, path, &error));
    fputs("hello\n", f.fp);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS)); // not before commit
    g_assert_true(atomic_file_commit(&f, &error));
    char *text = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_assert_cmpstr(text, ==, "hello\n");
    g_free(text);
    // Abort: the old file stays, no temp file is left.
    g_assert_true(atomic_file_open(&f, path, &error));
    fputs("half", f.fp);
    atomic_file_abort(&f);
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_assert_cmpstr(text, ==, "hello\n");
    g_free(text);
    GDir *dir = g_dir_open(test_tmpdir(), 0, NULL);
    int entries = 0;
    while (g_dir_read_name(dir))
        entries++;
    g_dir_close(dir);
    g_assert_cmpint(entries, ==, 1);
    // A folder that does not exist: an error naming the file.
    g_assert_false(atomic_file_open(&f, "/nonexistent-looplens/x.txt", &error));
    g_assert_nonnull(strstr(error->message, "/nonexistent-looplens/x.txt"));
    g_clear_error(&error);
    g_free(path);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/lib/rng/known-answers", test_rng_known_answers);
    g_test_add_func("/lib/rng/below-uniform", test_rng_below_is_uniform);
    g_test_add_func("/lib/rng/normal-moments", test_rng_normal_moments);
    g_test_add_func("/lib/util/parse-numbers", test_parse_numbers);
    g_test_add_func("/lib/util/numbers-ignore-locale", test_numbers_ignore_locale);
    g_test_add_func("/lib/util/atomic-file", test_atomic_file);
    return g_test_run();
}
