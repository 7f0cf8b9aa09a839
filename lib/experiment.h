// experiment.h: the whole investigation of chapters 7-9, end to end, as
// `looplens experiment` runs it (SPEC sections 5 and 6).
//
// For each model:
//   1. make its test set (seed 2026, 12,000 problems, in the model's order)
//      and write it as DIR/<name>/test.txt;
//   2. evaluate every problem; on the way, average the attention patterns of
//      the squaring problems into good (right) and bad (wrong);
//   3. classify the bad subset's wrong answers, each kind beside chance;
//   4. run the squaring problems again with the boost: the bad ones give the
//      boosted subset (and its averages), the good ones show what the boost
//      breaks;
//   5. find the layer and head whose row 18 differs most between good and bad
//      (in the role view), and profile row 18 by role;
//   6. write DIR/<name>/summary.json and the figures.
// Then DIR/report.md puts the models side by side. Every file is written
// atomically; nothing is written before every model has loaded.
#ifndef LOOPLENS_EXPERIMENT_H
#define LOOPLENS_EXPERIMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#define EXPERIMENT_TEST_SEED 2026
#define EXPERIMENT_TEST_COUNT 12000
#define EXPERIMENT_BOOST_AMOUNT 2.0f

typedef struct {
    const char *out_dir;  // DIR ("out")
    uint64_t test_seed;   // EXPERIMENT_TEST_SEED
    size_t test_count;    // EXPERIMENT_TEST_COUNT
    float boost_amount;   // EXPERIMENT_BOOST_AMOUNT, on every layer and head
    bool figures;         // write the images (true)
    bool verbose;         // progress on stderr (false)
} ExperimentOptions;

void experiment_options_default(ExperimentOptions *options);

// A model's name: its file name without ".safetensors" (caller frees).
char *experiment_model_name(const char *model_path);

// Runs every model and writes the report. Bad input (a missing or corrupt
// checkpoint, two models with one name, an unwritable DIR) fails with a
// one-line error before any file is written.
bool experiment_run(const char *const *model_paths, int n_models, const ExperimentOptions *options,
                    GError **error);

#endif
