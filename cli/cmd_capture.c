// cmd_capture.c: `looplens capture`, one problem's attention matrix of one layer
// and head as CSV (chapter 7, SPEC section 6).
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "capture.h"
#include "capture_io.h"
#include "checkpoint.h"
#include "commands.h"
#include "problem.h"
#include "util.h"

// As for `looplens eval`: a bigger boost swamps every score anyway.

// Reads a whole-number flag that must lie in 0..limit-1; `what` says what
// counts ("problems in FILE", "layers").
static bool parse_index(const char *text, const char *flag, int64_t limit, const char *what,
                        int64_t *out, GError **error)
{
    if (!parse_int64(text, flag, 0, INT64_MAX, out, error))
        return false;
    if (*out >= limit) {
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID,
                    "%s: %s is out of range: there are %lld %s (0..%lld)", flag, text,
                    (long long)limit, what, (long long)limit - 1);
        return false;
    }
    return true;
}

int cmd_capture(int argc, char **argv)
{
    const char *name = "capture";
    char *model_path = NULL, *data_path = NULL, *out_path = NULL, *npy_path = NULL;
    char *index_text = NULL, *layer_text = NULL, *head_text = NULL, *boost_text = NULL;
    gboolean scores = FALSE;
    GOptionEntry entries[] = {
        {"model", 0, 0, G_OPTION_ARG_FILENAME, &model_path, "the checkpoint (.safetensors)",
         "CKPT"},
        {"data", 0, 0, G_OPTION_ARG_FILENAME, &data_path, "the problems, one per line", "FILE"},
        {"index", 0, 0, G_OPTION_ARG_STRING, &index_text,
         "which problem (counted from 0, skipping comments and blank lines)", "I"},
        {"layer", 0, 0, G_OPTION_ARG_STRING, &layer_text, "which layer (from 0)", "L"},
        {"head", 0, 0, G_OPTION_ARG_STRING, &head_text, "which head (from 0)", "H"},
        {"boost", 0, 0, G_OPTION_ARG_STRING, &boost_text,
         "run with the boost of SPEC section 4 (e.g. 2.0) on every layer and head", "AMOUNT"},
        {"scores", 0, 0, G_OPTION_ARG_NONE, &scores,
         "write the raw scores (before the softmax) instead; masked cells as the lowest float",
         NULL},
        {"npy", 0, 0, G_OPTION_ARG_FILENAME, &npy_path,
         "also write every layer and head, shape (L, NH, 20, 20), as NumPy .npy", "FILE.npy"},
        {"out", 0, 0, G_OPTION_ARG_FILENAME, &out_path, "the CSV to write", "FILE.csv"},
        G_OPTION_ENTRY_NULL,
    };
    int status = 1;
    GPT model = {0};
    ProblemSet set = {0};
    Capture capture = {0};
    GError *error = NULL;
    StagedFile outputs[2] = {0}; // --out, then --npy if given
    size_t n_outputs = 0;
    if (!command_parse(name, "- one attention matrix of one problem as CSV",
                       "Runs the model on problem I of FILE and writes the 20x20 attention\n"
                       "pattern (after the softmax) of layer L, head H: 20 lines of 20\n"
                       "comma-separated numbers, row = query position, column = key position.",
                       entries, &argc, &argv))
        goto done;
    if (!command_require(name, "--model", model_path) ||
        !command_require(name, "--data", data_path) ||
        !command_require(name, "--index", index_text) ||
        !command_require(name, "--layer", layer_text) ||
        !command_require(name, "--head", head_text) || !command_require(name, "--out", out_path))
        goto done;

    // Every flag that needs no file is checked before any file is read.
    int64_t index, layer, head;
    Boost boost;
    if (!parse_int64(index_text, "--index", 0, INT64_MAX, &index, &error) ||
        !parse_int64(layer_text, "--layer", 0, INT64_MAX, &layer, &error) ||
        !parse_int64(head_text, "--head", 0, INT64_MAX, &head, &error)) {
        command_fail_error(name, error);
        goto done;
    }
    if (boost_text) {
        float amount;
        if (!command_parse_boost(name, boost_text, &amount))
            goto done;
        boost_init_default(&boost, amount);
    }
    // Every output is checked and claimed (its temp file made) before any
    // work, so a bad --npy fails at once, never after --out was written.
    const CommandFile files[] = {{"--out", out_path, true},
                                 {"--npy", npy_path, true},
                                 {"--model", model_path, false},
                                 {"--data", data_path, false}};
    if (!command_check_files(name, files, G_N_ELEMENTS(files)))
        goto done;
    n_outputs = npy_path ? 2 : 1;
    if (!staged_file_open(&outputs[0], out_path, &error) ||
        (npy_path && !staged_file_open(&outputs[1], npy_path, &error))) {
        command_fail_error(name, error);
        goto done;
    }
    if (!checkpoint_load(model_path, &model, NULL, &error) ||
        !problem_set_read(data_path, &set, &error)) {
        command_fail_error(name, error);
        goto done;
    }
    char *what = g_strdup_printf("problems in %s", data_path);
    bool in_range =
        parse_index(index_text, "--index", (int64_t)set.count, what, &index, &error) &&
        parse_index(layer_text, "--layer", model.config.n_layer, "layers", &layer, &error) &&
        parse_index(head_text, "--head", model.config.n_head, "heads", &head, &error);
    g_free(what);
    if (!in_range) {
        command_fail_error(name, error);
        goto done;
    }

    if (!capture_problem(&capture, &model, &set.items[index], boost_text ? &boost : NULL,
                         &error)) {
        command_fail_error(name, error);
        goto done;
    }
    float matrix[CAPTURE_CELLS];
    memcpy(matrix,
           scores ? capture_scores(&capture, (int)layer, (int)head)
                  : capture_pattern(&capture, (int)layer, (int)head),
           sizeof matrix);
    for (int i = 0; i < CAPTURE_CELLS; i++)
        if (isinf(matrix[i]) && matrix[i] < 0)
            matrix[i] = -FLT_MAX; // still 0 after a softmax, and a number in CSV
    // Both files are written in full before either replaces anything, so a
    // failure leaves neither a new CSV beside an old .npy nor the reverse.
    bool written = matrix_csv_write(outputs[0].temp_path, matrix, &error) &&
                   (!npy_path ||
                    capture_npy_write(outputs[1].temp_path,
                                      scores ? capture.scores : capture.pattern, capture.n_layer,
                                      capture.n_head, &error));
    if (!written)
        staged_files_abort(outputs, n_outputs, error);
    if (!written || !staged_files_commit(outputs, n_outputs, &error)) {
        command_fail_error(name, error);
        goto done;
    }
    status = 0;

done:
    staged_files_abort(outputs, n_outputs, NULL); // a no-op after the commit
    capture_free(&capture);
    gpt_free(&model);
    problem_set_free(&set);
    g_free(model_path);
    g_free(data_path);
    g_free(out_path);
    g_free(npy_path);
    g_free(index_text);
    g_free(layer_text);
    g_free(head_text);
    g_free(boost_text);
    return status;
}
