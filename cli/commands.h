// commands.h: the subcommands of `looplens`, one file each (cmd_<name>.c).
//
// Every command parses its own flags with GOptionContext (so `--help` works),
// prints one line "looplens NAME: reason" and returns 1 on bad input, and
// writes its outputs atomically.
#ifndef LOOPLENS_COMMANDS_H
#define LOOPLENS_COMMANDS_H

#include <stdbool.h>

#include <glib.h>

int cmd_generate(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_capture(int argc, char **argv);
int cmd_experiment(int argc, char **argv);

// Parses argv with the given options; on a parse error or a stray argument
// prints "looplens NAME: reason" and returns false. `summary` is the --help text.
gboolean command_parse(const char *name, const char *usage, const char *summary,
                       GOptionEntry *entries, int *argc, char ***argv);
// Prints "looplens NAME: message" to stderr and returns 1 (the exit status).
int command_fail(const char *name, const char *format, ...) G_GNUC_PRINTF(2, 3);
// The same for a GError, which it frees.
int command_fail_error(const char *name, GError *error);
// A required flag is present, or prints "looplens NAME: --FLAG is required".
gboolean command_require(const char *name, const char *flag, const void *value);

// A file named on the command line, for command_check_files.
typedef struct {
    const char *flag; // how the message names it: "--out"
    const char *path; // NULL when not given: skipped
    bool output;      // written by the command (else only read)
} CommandFile;

// Checks the files before any work: every output can be written (see
// output_check_writable: not a folder or device, its folder exists), and no
// output is the same file as any other listed file, so --out cannot overwrite
// --data ("x", "./x" and a link to x are one file). Otherwise prints
// "looplens NAME: ..." and returns FALSE.
gboolean command_check_files(const char *name, const CommandFile *files, size_t n);

// Reads --boost AMOUNT: a finite number within +-COMMAND_MAX_BOOST, or prints
// "looplens NAME: --boost: ..." and returns FALSE.
#define COMMAND_MAX_BOOST 1000.0
gboolean command_parse_boost(const char *name, const char *text, float *amount);

#endif
