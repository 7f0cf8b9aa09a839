// ch01_cli.c: `looplens generate` as a user runs it.
#define _XOPEN_SOURCE 700 // mkfifo, symlink
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "problem.h"
#include "testutil.h"

static void test_generate_writes_valid_reproducible_file(void)
{
    char *a = test_path("a.txt"), *b = test_path("b.txt");
    g_assert_cmpint(test_run_looplens(NULL, NULL, "generate", "--split", "test", "--count", "1000",
                                      "--seed", "7", "--out", a, NULL), ==, 0);
    g_assert_cmpint(test_run_looplens(NULL, NULL, "generate", "--split", "test", "--count", "1000",
                                      "--seed", "7", "--out", b, NULL), ==, 0);
    ProblemSet set;
    GError *error = NULL;
    g_assert_true(problem_set_read(a, &set, &error));
    g_assert_cmpuint(set.count, ==, 1000);
    for (size_t i = 0; i < set.count; i++)
        g_assert_true(problem_is_test(&set.items[i]));
    problem_set_free(&set);
    char *ta, *tb;
    gsize la, lb;
    g_assert_true(g_file_get_contents(a, &ta, &la, NULL));
    g_assert_true(g_file_get_contents(b, &tb, &lb, NULL));
    g_assert_cmpmem(ta, la, tb, lb);
    g_free(ta);
    g_free(tb);
    g_free(a);
    g_free(b);
}

static void test_generate_shuffled_order(void)
{
    char *path = test_path("s.txt");
    g_assert_cmpint(test_run_looplens(NULL, NULL, "generate", "--split", "train", "--count", "200",
                                      "--seed", "1", "--order", "shuffled", "--out", path, NULL),
                    ==, 0);
    ProblemSet set;
    g_assert_true(problem_set_read(path, &set, NULL));
    int not_abcd = 0;
    for (size_t i = 0; i < set.count; i++)
        not_abcd += set.items[i].tokens[1] != TOK_VAR_A || set.items[i].tokens[3] != TOK_VAR_A + 1;
    g_assert_cmpint(not_abcd, >, 100); // 23 of 24 orders differ from a b c d
    problem_set_free(&set);
    g_free(path);
}

typedef struct {
    const char *args[12];
    const char *reason;
} BadCall;

static void test_generate_bad_flags(void)
{
    char *out = test_path("never.txt");
    const BadCall calls[] = {
        {{"generate", "--split", "test", "--count", "-5", "--seed", "1", "--out", out}, "--count"},
        {{"generate", "--split", "test", "--count", "abc", "--seed", "1", "--out", out}, "--count"},
        {{"generate", "--split", "test", "--count", "0", "--seed", "1", "--out", out}, "--count"},
        {{"generate", "--split", "dev", "--count", "5", "--seed", "1", "--out", out}, "--split"},
        {{"generate", "--split", "test", "--count", "5", "--seed", "x", "--out", out}, "--seed"},
        {{"generate", "--split", "test", "--count", "5", "--seed", "1", "--order", "random", "--out", out}, "--order"},
        {{"generate", "--split", "test", "--count", "5", "--seed", "1"}, "--out is required"},
        {{"generate", "--split", "test", "--count", "5", "--seed", "1", "--out", "/nonexistent-dir/x.txt"}, "/nonexistent-dir/x.txt"},
        {{"generate", "--bogus"}, "--bogus"},
        {{"generate", "--split", "test", "--count", "5", "--seed", "1", "--out", out, "extra"}, "extra"},
        {{"frobnicate"}, "unknown command"},
    };
    for (size_t k = 0; k < G_N_ELEMENTS(calls); k++) {
        char *err = NULL;
        int status = test_run_looplens_argv(NULL, &err, calls[k].args);
        if (status == 0 || test_count_lines(err) != 1 || !strstr(err, calls[k].reason))
            g_test_fail_printf("call %zu: status %d, stderr '%s' (want one line with '%s')", k,
                               status, err, calls[k].reason);
        g_free(err);
        g_assert_false(g_file_test(out, G_FILE_TEST_EXISTS));
    }
    g_free(out);
}

// --out names where the bytes go, it is not a file to replace: a FIFO is
// refused (and stays a FIFO), a symbolic link is written through (and stays a
// link). The same holds for every command: they share AtomicFile.
static void test_generate_out_is_written_to_not_replaced(void)
{
    char *fifo = test_path("out.fifo");
    g_assert_cmpint(mkfifo(fifo, 0644), ==, 0);
    char *err = NULL;
    int status = test_run_looplens(NULL, &err, "generate", "--split", "train", "--count", "5",
                                   "--seed", "1", "--out", fifo, NULL);
    g_test_message("%s", err);
    g_assert_cmpint(status, !=, 0);
    g_assert_cmpint(test_count_lines(err), ==, 1);
    char *expected = g_strdup_printf("looplens generate: %s: not a regular file (a FIFO)\n", fifo);
    g_assert_cmpstr(err, ==, expected);
    g_free(expected);
    g_free(err);
    GStatBuf st;
    g_assert_cmpint(g_lstat(fifo, &st), ==, 0);
    g_assert_true(S_ISFIFO(st.st_mode));

    char *real = test_write_file("real.txt", "old\n");
    char *link = test_path("link.txt");
    g_assert_cmpint(symlink(real, link), ==, 0);
    g_assert_cmpint(test_run_looplens(NULL, NULL, "generate", "--split", "train", "--count", "5",
                                      "--seed", "1", "--out", link, NULL), ==, 0);
    g_assert_cmpint(g_lstat(link, &st), ==, 0);
    g_assert_true(S_ISLNK(st.st_mode));
    ProblemSet set;
    GError *error = NULL;
    g_assert_true(problem_set_read(real, &set, &error));
    g_assert_cmpuint(set.count, ==, 5);
    problem_set_free(&set);
    g_free(real), g_free(link), g_free(fifo);
}

static void test_generate_help(void)
{
    char *text = NULL;
    g_assert_cmpint(test_run_looplens(&text, NULL, "generate", "--help", NULL), ==, 0);
    g_assert_nonnull(strstr(text, "--split"));
    g_free(text);
    g_assert_cmpint(test_run_looplens(&text, NULL, "--help", NULL), ==, 0);
    g_assert_nonnull(strstr(text, "generate"));
    g_free(text);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ch01/cli/generate-reproducible", test_generate_writes_valid_reproducible_file);
    g_test_add_func("/ch01/cli/generate-shuffled", test_generate_shuffled_order);
    g_test_add_func("/ch01/cli/generate-bad-flags", test_generate_bad_flags);
    g_test_add_func("/ch01/cli/out-written-not-replaced",
                    test_generate_out_is_written_to_not_replaced);
    g_test_add_func("/ch01/cli/help", test_generate_help);
    return g_test_run();
}
