// lib_util.c: the shared utilities: the PRNG, number parsing, atomic files.
#define _XOPEN_SOURCE 700 // mkfifo, symlink
#include <locale.h>
#include <math.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

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
    // A leading '+' is taken alike by the signed and the unsigned parser.
    g_assert_true(parse_uint64("+7", "--seed", &u, NULL));
    g_assert_cmpuint(u, ==, 7);
    g_assert_true(parse_int64("+7", "--count", 0, 10, &i, NULL));
    g_assert_cmpint(i, ==, 7);
    g_assert_false(parse_uint64("+-7", "--seed", &u, NULL));
    g_assert_false(parse_uint64("++7", "--seed", &u, NULL));
    g_assert_true(parse_double("2.5", "--boost", &d, NULL));
    g_assert_cmpfloat(d, ==, 2.5);
    const char *bad_doubles[] = {"", "nan", "inf", "2.5x", "1e999", "2,5", NULL};
    for (int k = 0; bad_doubles[k]; k++)
        g_assert_false(parse_double(bad_doubles[k], "--boost", &d, NULL));
}

// The three parsers agree on what is not a number: spaces on either side,
// hex, and they say what is wrong in words.
static void test_parse_numbers_strict_alike(void)
{
    int64_t i;
    uint64_t u;
    double d;
    GError *error = NULL;
    const char *spaced[] = {" 5", "5 ", "\t5", "5\n", NULL};
    for (int k = 0; spaced[k]; k++) {
        g_test_message("spaced case %d", k);
        g_assert_false(parse_int64(spaced[k], "--n", 0, 100, &i, &error));
        g_assert_nonnull(strstr(error->message, "spaces around it"));
        g_clear_error(&error);
        g_assert_false(parse_uint64(spaced[k], "--seed", &u, &error));
        g_assert_nonnull(strstr(error->message, "spaces around it"));
        g_clear_error(&error);
        g_assert_false(parse_double(spaced[k], "--boost", &d, &error));
        g_assert_nonnull(strstr(error->message, "spaces around it"));
        g_clear_error(&error);
    }
    // Hex floats and hex integers: strtod takes them, we do not.
    const char *not_decimal[] = {"0x1p1", "0x10", "infinity", "-nan", "1e", "+", NULL};
    for (int k = 0; not_decimal[k]; k++) {
        g_assert_false(parse_double(not_decimal[k], "--boost", &d, &error));
        g_assert_nonnull(strstr(error->message, "--boost: expected a decimal number"));
        g_clear_error(&error);
    }
    const char *decimal[] = {"-2", "+2", "0.5", ".5", "5.", "1e-3", "2E+2", "0e-999", NULL};
    const double value[] = {-2, 2, 0.5, 0.5, 5, 1e-3, 200, 0};
    for (int k = 0; decimal[k]; k++) {
        g_assert_true(parse_double(decimal[k], "--boost", &d, NULL));
        g_assert_cmpfloat(d, ==, value[k]);
    }
    // Too big and too small for a double: each says which.
    g_assert_false(parse_double("1e-999", "--boost", &d, &error));
    g_assert_nonnull(strstr(error->message, "underflows"));
    g_clear_error(&error);
    g_assert_false(parse_double("-1e999", "--boost", &d, &error));
    g_assert_nonnull(strstr(error->message, "out of range"));
    g_clear_error(&error);
    // No upper bound: the message gives the lower one only.
    g_assert_false(parse_int64("-1", "--index", 0, INT64_MAX, &i, &error));
    g_assert_cmpstr(error->message, ==, "--index: expected an integer 0 or more, got '-1'");
    g_clear_error(&error);
    g_assert_false(parse_int64("0", "--count", 1, 10, &i, &error));
    g_assert_cmpstr(error->message, ==, "--count: expected an integer from 1 to 10, got '0'");
    g_clear_error(&error);
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

// A fresh folder of its own inside test_tmpdir() (caller frees).
static char *fresh_dir(const char *name)
{
    char *dir = test_path(name);
    g_assert_cmpint(g_mkdir(dir, 0755), ==, 0);
    return dir;
}

static char *read_text(const char *path)
{
    char *text = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    return text;
}

static int count_entries(const char *dir_path)
{
    GDir *dir = g_dir_open(dir_path, 0, NULL);
    int entries = 0;
    while (g_dir_read_name(dir))
        entries++;
    g_dir_close(dir);
    return entries;
}

static bool write_atomically(const char *path, const char *text, GError **error)
{
    AtomicFile f;
    if (!atomic_file_open(&f, path, error))
        return false;
    fputs(text, f.fp);
    return atomic_file_commit(&f, error);
}

// A FIFO or a folder is refused (never replaced by a plain file); a symbolic
// link is written through, so it stays a link; an existing file keeps its
// permissions. (Never tried on /dev nodes: a test once replaced /dev/full.)
static void test_atomic_file_special_targets(void)
{
    char *dir = fresh_dir("targets");
    GError *error = NULL;
    char *fifo = g_build_filename(dir, "fifo", NULL);
    g_assert_cmpint(mkfifo(fifo, 0644), ==, 0);
    g_assert_false(write_atomically(fifo, "x", &error));
    g_test_message("%s", error->message);
    g_assert_nonnull(strstr(error->message, fifo));
    g_assert_nonnull(strstr(error->message, "not a regular file (a FIFO)"));
    g_clear_error(&error);
    GStatBuf st;
    g_assert_cmpint(g_lstat(fifo, &st), ==, 0);
    g_assert_true(S_ISFIFO(st.st_mode));

    char *folder = g_build_filename(dir, "folder", NULL);
    g_assert_cmpint(g_mkdir(folder, 0755), ==, 0);
    g_assert_false(write_atomically(folder, "x", &error));
    g_assert_nonnull(strstr(error->message, "not a regular file (a folder)"));
    g_clear_error(&error);
    char *slash = g_strconcat(folder, "/", NULL);
    g_assert_false(write_atomically(slash, "x", &error));
    g_assert_nonnull(strstr(error->message, "expected a file name"));
    g_clear_error(&error);
    g_assert_true(g_file_test(folder, G_FILE_TEST_IS_DIR));

    // A chain of two relative links to a file that keeps its mode 0600.
    char *real = g_build_filename(dir, "real.txt", NULL);
    char *link = g_build_filename(dir, "link", NULL);
    char *link2 = g_build_filename(dir, "link2", NULL);
    g_assert_true(write_atomically(real, "old\n", &error));
    g_assert_cmpint(g_chmod(real, 0600), ==, 0);
    g_assert_cmpint(symlink("real.txt", link), ==, 0);
    g_assert_cmpint(symlink("link", link2), ==, 0);
    g_assert_true(write_atomically(link2, "new\n", &error));
    g_assert_no_error(error);
    g_assert_cmpint(g_lstat(link2, &st), ==, 0);
    g_assert_true(S_ISLNK(st.st_mode));
    g_assert_cmpint(g_lstat(link, &st), ==, 0);
    g_assert_true(S_ISLNK(st.st_mode));
    g_assert_cmpint(g_lstat(real, &st), ==, 0);
    g_assert_true(S_ISREG(st.st_mode));
    g_assert_cmpint(st.st_mode & 0777, ==, 0600);
    char *text = read_text(real);
    g_assert_cmpstr(text, ==, "new\n");
    g_free(text);
    // A dangling link makes its target.
    char *dangling = g_build_filename(dir, "dangling", NULL);
    char *made = g_build_filename(dir, "made.txt", NULL);
    g_assert_cmpint(symlink("made.txt", dangling), ==, 0);
    g_assert_true(write_atomically(dangling, "made\n", &error));
    text = read_text(made);
    g_assert_cmpstr(text, ==, "made\n");
    g_free(text);
    g_assert_cmpint(g_lstat(dangling, &st), ==, 0);
    g_assert_true(S_ISLNK(st.st_mode));
    // fifo folder real.txt link link2 dangling made.txt: no temp files left.
    g_assert_cmpint(count_entries(dir), ==, 7);

    // output_target: one spelling per file, links followed.
    char *spelled = g_build_filename(dir, ".", "..", "targets", "real.txt", NULL);
    char *t1 = output_target(real, &error), *t2 = output_target(spelled, &error),
         *t3 = output_target(link2, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(t1, ==, t2);
    g_assert_cmpstr(t1, ==, t3);
    g_assert_true(g_path_is_absolute(t1));
    g_free(t1), g_free(t2), g_free(t3), g_free(spelled);
    g_free(dangling), g_free(made), g_free(real), g_free(link), g_free(link2);
    g_free(slash), g_free(folder), g_free(fifo), g_free(dir);
}

// Staged files change together: an abort leaves every old file, a commit
// replaces them all, and no temp file is left either way.
static void test_staged_files(void)
{
    char *dir = fresh_dir("staged");
    char *a = g_build_filename(dir, "a.txt", NULL), *b = g_build_filename(dir, "b.txt", NULL);
    GError *error = NULL;
    g_assert_true(write_atomically(a, "A0", &error));
    g_assert_true(write_atomically(b, "B0", &error));
    StagedFile files[2];
    g_assert_true(staged_file_open(&files[0], a, &error));
    g_assert_true(staged_file_open(&files[1], b, &error));
    g_assert_true(write_atomically(files[0].temp_path, "A1", &error));
    // The second writer fails: its error names the temp, the abort fixes that.
    g_set_error(&error, LL_ERROR, LL_ERROR_IO, "%s: cannot write: disk full", files[1].temp_path);
    staged_files_abort(files, 2, error);
    char *expected = g_strconcat(b, ": cannot write: disk full", NULL);
    g_assert_cmpstr(error->message, ==, expected);
    g_free(expected);
    g_clear_error(&error);
    char *text = read_text(a);
    g_assert_cmpstr(text, ==, "A0");
    g_free(text);
    g_assert_cmpint(count_entries(dir), ==, 2);

    g_assert_true(staged_file_open(&files[0], a, &error));
    g_assert_true(staged_file_open(&files[1], b, &error));
    g_assert_false(g_file_test(files[0].temp_path, G_FILE_TEST_IS_SYMLINK));
    g_assert_true(write_atomically(files[0].temp_path, "A1", &error));
    g_assert_true(write_atomically(files[1].temp_path, "B1", &error));
    text = read_text(b);
    g_assert_cmpstr(text, ==, "B0"); // nothing replaced before the commit
    g_free(text);
    g_assert_true(staged_files_commit(files, 2, &error));
    g_assert_no_error(error);
    text = read_text(a);
    g_assert_cmpstr(text, ==, "A1");
    g_free(text);
    text = read_text(b);
    g_assert_cmpstr(text, ==, "B1");
    g_free(text);
    g_assert_cmpint(count_entries(dir), ==, 2);
    // A FIFO is refused here too.
    char *fifo = g_build_filename(dir, "fifo", NULL);
    g_assert_cmpint(mkfifo(fifo, 0644), ==, 0);
    g_assert_false(staged_file_open(&files[0], fifo, &error));
    g_assert_nonnull(strstr(error->message, "not a regular file"));
    g_clear_error(&error);
    g_free(fifo), g_free(a), g_free(b), g_free(dir);
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
    g_test_add_func("/lib/util/parse-numbers-strict-alike", test_parse_numbers_strict_alike);
    g_test_add_func("/lib/util/atomic-file-special-targets", test_atomic_file_special_targets);
    g_test_add_func("/lib/util/staged-files", test_staged_files);
    return g_test_run();
}
