// book_outputs.c: the chapter programs' printouts quoted in BOOK.md (its
// <!-- output ... --> marks) are what this build's programs print. booktool
// runs each command from the top of the source tree, "build/" meaning this
// build, and compares the lines the mark keeps (timings are left out of the
// marks: they differ run to run). Chapters 8 and 9 run the shipped models.
#include <string.h>

#include "testutil.h"

static void test_book_outputs(void)
{
    char *book = test_source_path("BOOK.md");
    char *text = NULL;
    GError *error = NULL;
    g_file_get_contents(book, &text, NULL, &error);
    g_assert_no_error(error);
    int outputs = 0;
    for (const char *p = text; (p = strstr(p, "<!-- output")); p++)
        outputs++;
    g_test_message("BOOK.md has %d output marks", outputs);
    g_assert_cmpint(outputs, >=, 7); // chapters 2, 3, 4, 5, 7, 8 and 9 show their programs
    g_free(text);

    char *booktool = test_build_path("tools/booktool");
    char *build = test_build_path("");
    const char *argv[] = {booktool, "check", "--only", "outputs", "--build", build, book, NULL};
    char *err = NULL;
    int status = test_run_program(NULL, &err, NULL, argv);
    if (status != 0) {
        g_test_message("booktool says:\n%s", err);
        g_test_fail_printf("BOOK.md shows program output that the programs no longer print "
                           "(booktool's lines above); if the change is meant, regenerate it with "
                           "tools/figures");
    }
    g_free(err);
    g_free(build);
    g_free(booktool);
    g_free(book);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/book/outputs-match-the-programs", test_book_outputs);
    return g_test_run();
}
