// main.c: `looplens`, the command-line program. It only dispatches; each
// subcommand lives in its own file.
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} Command;

static const Command commands[] = {
    {"generate", cmd_generate, "write random problems of one split to a text file"},
    {"eval", cmd_eval, "score a model on a problem file (one TSV row per problem)"},
    {"train", cmd_train, "train a model in C (progress on stderr, resumable)"},
    {"capture", cmd_capture, "one problem's attention matrix of one layer and head as CSV"},
    {"experiment", cmd_experiment, "good against bad attention and the boost, per model"},
};

static void print_usage(FILE *out)
{
    fprintf(out, "usage: looplens COMMAND [OPTIONS]   (looplens COMMAND --help for its options)\n\n"
                 "commands:\n");
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
        fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
    // Numbers are read and written in the C locale whatever the environment
    // says; messages may still be localised.
    setlocale(LC_ALL, "");
    setlocale(LC_NUMERIC, "C");
    if (argc < 2) {
        print_usage(stderr);
        return 1;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "looplens: unknown command '%s' (try looplens --help)\n", argv[1]);
    return 1;
}
