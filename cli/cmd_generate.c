// cmd_generate.c: `looplens generate`, chapter 1's problems as a text file.
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "problem.h"
#include "util.h"

// The most problems one call writes (80 bytes each in memory): more is surely a typo.
#define GENERATE_MAX_COUNT 10000000

int cmd_generate(int argc, char **argv)
{
    const char *name = "generate";
    char *split_text = NULL, *count_text = NULL, *seed_text = NULL, *order_text = NULL;
    char *out_path = NULL;
    GOptionEntry entries[] = {
        {"split", 0, 0, G_OPTION_ARG_STRING, &split_text, "train or test", "SPLIT"},
        {"count", 0, 0, G_OPTION_ARG_STRING, &count_text, "how many problems (1 or more)", "N"},
        {"seed", 0, 0, G_OPTION_ARG_STRING, &seed_text, "the random seed (0 to 2^64-1)", "S"},
        {"order", 0, 0, G_OPTION_ARG_STRING, &order_text,
         "definition order: fixed (default) or shuffled", "ORDER"},
        {"out", 0, 0, G_OPTION_ARG_FILENAME, &out_path, "the file to write", "FILE"},
        G_OPTION_ENTRY_NULL,
    };
    int status = 1;
    if (!command_parse(name, "- write random problems",
                       "Writes N problems of one split, one per line, in the text form of\n"
                       "SPEC section 1. The same seed always gives the same file; the test\n"
                       "split never contains a problem of the training stream.",
                       entries, &argc, &argv))
        goto done;
    if (!command_require(name, "--split", split_text) ||
        !command_require(name, "--count", count_text) ||
        !command_require(name, "--seed", seed_text) || !command_require(name, "--out", out_path))
        goto done;

    Split split;
    if (strcmp(split_text, "train") == 0)
        split = SPLIT_TRAIN;
    else if (strcmp(split_text, "test") == 0)
        split = SPLIT_TEST;
    else {
        command_fail(name, "--split: expected train or test, got '%s'", split_text);
        goto done;
    }
    DefinitionOrder order = ORDER_FIXED;
    if (order_text && !order_parse(order_text, &order)) {
        command_fail(name, "--order: expected fixed or shuffled, got '%s'", order_text);
        goto done;
    }
    GError *error = NULL;
    int64_t count;
    uint64_t seed;
    if (!parse_int64(count_text, "--count", 1, GENERATE_MAX_COUNT, &count, &error) ||
        !parse_uint64(seed_text, "--seed", &seed, &error)) {
        command_fail_error(name, error);
        goto done;
    }

    Problem *problems = g_new(Problem, (size_t)count);
    ProblemStream stream;
    problem_stream_init(&stream, split, order, seed);
    for (int64_t i = 0; i < count; i++)
        problem_stream_next(&stream, &problems[i]);
    if (problem_set_write(out_path, problems, (size_t)count, &error))
        status = 0;
    else
        command_fail_error(name, error);
    g_free(problems);

done:
    g_free(split_text);
    g_free(count_text);
    g_free(seed_text);
    g_free(order_text);
    g_free(out_path);
    return status;
}
