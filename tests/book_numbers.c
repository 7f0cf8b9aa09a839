// book_numbers.c: the book's numbers match what the code produces. Runs
// `looplens experiment` on the shipped models (assets/fixed.safetensors and
// assets/shuffled.safetensors) into a fresh folder, then `booktool check` on
// BOOK.md against it: every number mark (a field of summary.json) and every
// output mark (a chapter program's printout) must read what this build
// computes, to the digits the book prints.
#include <string.h>

#include "testutil.h"

// How many times `needle` occurs in text.
static int count_occurrences(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void test_book_numbers(void)
{
    // The check below means something only if the book has marks to check.
    char *book_text = NULL;
    char *book_path = test_source_path("BOOK.md");
    GError *error = NULL;
    g_file_get_contents(book_path, &book_text, NULL, &error);
    g_assert_no_error(error);
    int numbers = count_occurrences(book_text, "<!-- n "),
        outputs = count_occurrences(book_text, "<!-- output");
    g_test_message("BOOK.md has %d number marks and %d output marks", numbers, outputs);
    g_assert_cmpint(numbers, >=, 12); // the experiment's table, for both models
    g_assert_cmpint(outputs, >=, 1);
    g_free(book_text);
    g_free(book_path);

    char *out_dir = test_path("out");
    char *err = NULL;
    int status = test_run_looplens(NULL, &err, "experiment", "--out", out_dir, "--no-figures",
                                   NULL);
    if (status != 0) {
        g_test_fail_printf("looplens experiment failed (status %d): %s", status, err);
        g_free(err);
        g_free(out_dir);
        return;
    }
    g_free(err);

    char *booktool = test_build_path("tools/booktool");
    char *build = test_build_path("");
    char *book = test_source_path("BOOK.md");
    const char *argv[] = {booktool, "check", "--results", out_dir, "--build", build, book, NULL};
    status = test_run_program(NULL, &err, NULL, argv);
    if (status != 0)
        g_test_fail_printf("BOOK.md's numbers or outputs are not what the code produces; after "
                           "checking that the change is meant, regenerate them with tools/figures "
                           "(or build/tools/booktool sync BOOK.md after looplens experiment "
                           "--out out):\n%s", err);
    g_free(err);
    g_free(book);
    g_free(build);
    g_free(booktool);
    g_free(out_dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/book/numbers-match-the-code", test_book_numbers);
    return g_test_run();
}
