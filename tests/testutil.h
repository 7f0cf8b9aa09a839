// testutil.h: helpers shared by the test programs.
#ifndef LOOPLENS_TESTUTIL_H
#define LOOPLENS_TESTUTIL_H

#include <glib.h>

// A fresh temporary directory for one test program, removed at exit.
const char *test_tmpdir(void);
// A path inside test_tmpdir() (caller frees).
char *test_path(const char *name);
// Writes text to a file in test_tmpdir() and returns its path (caller frees).
char *test_write_file(const char *name, const char *text);
// The path of a file in the source tree, e.g. "tests/fixtures/x" (caller frees).
char *test_source_path(const char *relative);

// Runs the looplens program (LOOPLENS_EXE) with the given arguments
// (NULL-terminated). Returns its exit status; stdout/stderr captured if not NULL.
int test_run_looplens(char **out, char **err, const char *arg, ...) G_GNUC_NULL_TERMINATED;
// The same with an argv vector.
int test_run_looplens_argv(char **out, char **err, const char *const *args);

// The number of lines in a string (a final line without "\n" counts too).
int test_count_lines(const char *text);

#endif
