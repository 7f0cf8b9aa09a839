// book_numbers.c: the book's numbers match what the code produces. Runs
// `looplens experiment` on the shipped models (assets/fixed.safetensors and
// assets/shuffled.safetensors) into a fresh folder, then `booktool check` on
// BOOK.md against it: every number mark (a field of summary.json) must read
// what this build computes, to the digits the book prints. (The chapter
// programs' printouts in the book are book_outputs.c's.)
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
    int numbers = count_occurrences(book_text, "<!-- n ");
    g_test_message("BOOK.md has %d number marks", numbers);
    g_assert_cmpint(numbers, >=, 12); // the experiment's table, for both models
    g_free(book_text);
    g_free(book_path);

    char *out_dir = test_path("out");
    char *err = NULL;
    int status = test_run_looplens(NULL, &err, "experiment", "--out", out_dir, "--no-figures",
                                   NULL);
    if (status != 0) {
        g_test_message("looplens experiment says:\n%s", err);
        g_test_fail_printf("looplens experiment failed (status %d)", status);
        g_free(err);
        g_free(out_dir);
        return;
    }
    g_free(err);

    char *booktool = test_build_path("tools/booktool");
    char *book = test_source_path("BOOK.md");
    const char *argv[] = {booktool, "check", "--only", "numbers", "--results", out_dir, book, NULL};
    status = test_run_program(NULL, &err, NULL, argv);
    if (status != 0) {
        g_test_message("booktool says:\n%s", err);
        g_test_fail_printf("BOOK.md's numbers are not what the code produces (booktool's lines "
                           "above); if the change is meant, regenerate them with tools/figures");
    }
    g_free(err);
    g_free(book);
    g_free(booktool);
    g_free(out_dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/book/numbers-match-the-code", test_book_numbers);
    return g_test_run();
}
