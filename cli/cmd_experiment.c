// cmd_experiment.c: `looplens experiment`, the investigation of chapters 7-9 on
// one or more models (SPEC sections 5 and 6; the work is in lib/experiment.c).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cairo.h>

#include "heatmap.h"
#include "commands.h"
#include "experiment.h"
#include "util.h"

// Where the shipped models live: $LOOPLENS_ASSETS, else the source tree's
// assets/ folder, which meson compiles in.
#ifndef LOOPLENS_ASSETS_DIR
#define LOOPLENS_ASSETS_DIR "assets"
#endif
static const char *const shipped_models[] = {"fixed.safetensors", "shuffled.safetensors"};

#define EXPERIMENT_MAX_COUNT 1000000

int cmd_experiment(int argc, char **argv)
{
    const char *name = "experiment";
    char **model_paths = NULL, *out_dir = NULL, *count_text = NULL, *boost_text = NULL;
    gboolean no_figures = FALSE;
    GOptionEntry entries[] = {
        {"model", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &model_paths,
         "a checkpoint to study (repeat for several; default: the shipped fixed and shuffled "
         "models)", "CKPT"},
        {"out", 0, 0, G_OPTION_ARG_FILENAME, &out_dir, "the folder to write into (default out)",
         "DIR"},
        {"count", 0, 0, G_OPTION_ARG_STRING, &count_text,
         "test problems per model (default 12000)", "N"},
        {"boost", 0, 0, G_OPTION_ARG_STRING, &boost_text, "the boost's amount (default 2.0)",
         "AMOUNT"},
        {"no-figures", 0, 0, G_OPTION_ARG_NONE, &no_figures, "skip the images", NULL},
        G_OPTION_ENTRY_NULL,
    };
    int status = 1;
    GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);
    GError *error = NULL;
    if (!command_parse(name, "- good against bad attention, and the boost",
                       "For each model: makes its test set (seed 2026, in the model's order),\n"
                       "evaluates it, splits the squaring problems into good and bad, averages\n"
                       "their attention, classifies the wrong answers, runs the boost, and writes\n"
                       "DIR/<name>/test.txt, summary.json and figures; then DIR/report.md.",
                       entries, &argc, &argv))
        goto done;

    ExperimentOptions options;
    experiment_options_default(&options);
    options.verbose = TRUE;
    if (out_dir)
        options.out_dir = out_dir;
    options.figures = !no_figures;
    if (count_text) {
        int64_t count;
        if (!parse_int64(count_text, "--count", 1, EXPERIMENT_MAX_COUNT, &count, &error)) {
            command_fail_error(name, error);
            goto done;
        }
        options.test_count = (size_t)count;
    }
    if (boost_text) {
        float amount;
        if (!command_parse_boost(name, boost_text, &amount))
            goto done;
        options.boost_amount = amount;
    }

    if (model_paths) {
        for (int i = 0; model_paths[i]; i++)
            g_ptr_array_add(paths, g_strdup(model_paths[i]));
    } else {
        const char *assets = g_getenv("LOOPLENS_ASSETS");
        if (!assets || !*assets)
            assets = LOOPLENS_ASSETS_DIR;
        for (size_t i = 0; i < G_N_ELEMENTS(shipped_models); i++)
            g_ptr_array_add(paths, g_build_filename(assets, shipped_models[i], NULL));
    }
    if (!experiment_run((const char *const *)paths->pdata, (int)paths->len, &options, &error)) {
        command_fail_error(name, error);
        goto done;
    }
    char *report = g_build_filename(options.out_dir, "report.md", NULL);
    printf("wrote %s\n", report);
    g_free(report);
    status = 0;

done:
    heatmap_release_font_caches();
    g_ptr_array_free(paths, TRUE);
    g_strfreev(model_paths);
    g_free(out_dir);
    g_free(count_text);
    g_free(boost_text);
    return status;
}
