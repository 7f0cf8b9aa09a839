// cmd_eval.c: `looplens eval`, a model's answer distribution on every problem
// of a file, as a TSV (SPEC section 6).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "checkpoint.h"
#include "commands.h"
#include "model.h"
#include "problem.h"
#include "util.h"

// Problems per forward pass: as many as fit in a budget for the activations
// (every layer's are kept, for the captures), at most 256. The default preset
// gets 209 problems at a time, the seed preset 57; bigger batches cost less CPU
// per problem.
#define EVAL_MAX_BATCH 256
#define EVAL_ACTIVATION_BUDGET (256u << 20) // bytes
// A boost beyond this swamps every score anyway; the bound keeps score +
// boost finite in float.

// Runs the model over problems[0..count) in batches and writes one TSV row per
// problem. Counts the correct answers and sums p_correct for the summary.
static bool write_eval(const char *path, GPT *model, const ProblemSet *set, const Boost *boost,
                       size_t *correct, double *sum_p_correct, GError **error)
{
    AtomicFile out;
    if (!atomic_file_open(&out, path, error))
        return false;
    fprintf(out.fp, "index\tanswer\tp_correct\tpredicted\tp_predicted\n");
    size_t per_problem = activation_count(&model->config, 1) * sizeof(float);
    size_t batch = CLAMP(EVAL_ACTIVATION_BUDGET / per_problem, 1, EVAL_MAX_BATCH);
    int *tokens = g_new(int, batch * PROBLEM_LEN); // (B, T)
    bool ok = true;
    for (size_t start = 0; ok && start < set->count; start += batch) {
        int B = (int)MIN(batch, set->count - start);
        for (int b = 0; b < B; b++)
            memcpy(tokens + (size_t)b * PROBLEM_LEN, set->items[start + b].tokens,
                   sizeof(int) * PROBLEM_LEN);
        ok = gpt_forward(model, tokens, B, boost, error);
        for (int b = 0; ok && b < B; b++) {
            const float *probs = gpt_probs(model, b); // (V)
            int answer = set->items[start + b].tokens[POS_ANSWER];
            int predicted = 0; // the argmax; the lowest id wins a tie
            for (int v = 1; v < model->config.vocab_size; v++)
                if (probs[v] > probs[predicted])
                    predicted = v;
            *correct += predicted == answer;
            *sum_p_correct += probs[answer];
            char p_correct[G_ASCII_DTOSTR_BUF_SIZE], p_predicted[G_ASCII_DTOSTR_BUF_SIZE];
            fprintf(out.fp, "%zu\t%s\t%s\t%s\t%s\n", start + (size_t)b, vocab_string(answer),
                    format_float(p_correct, probs[answer]), vocab_string(predicted),
                    format_float(p_predicted, probs[predicted]));
        }
    }
    g_free(tokens);
    if (!ok) {
        atomic_file_abort(&out);
        return false;
    }
    return atomic_file_commit(&out, error);
}

int cmd_eval(int argc, char **argv)
{
    const char *name = "eval";
    char *model_path = NULL, *data_path = NULL, *boost_text = NULL, *out_path = NULL;
    GOptionEntry entries[] = {
        {"model", 0, 0, G_OPTION_ARG_FILENAME, &model_path, "the checkpoint (.safetensors)",
         "CKPT"},
        {"data", 0, 0, G_OPTION_ARG_FILENAME, &data_path, "the problems, one per line", "FILE"},
        {"boost", 0, 0, G_OPTION_ARG_STRING, &boost_text,
         "add AMOUNT to the [ANS] row's scores at the referenced values and the operator, "
         "every layer and head (SPEC section 4; e.g. 2.0)", "AMOUNT"},
        {"out", 0, 0, G_OPTION_ARG_FILENAME, &out_path, "the TSV to write", "FILE.tsv"},
        G_OPTION_ENTRY_NULL,
    };
    int status = 1;
    GPT model = {0};
    ProblemSet set = {0};
    GError *error = NULL;
    if (!command_parse(name, "- score a model on a problem file",
                       "Writes one TSV row per problem, in file order:\n"
                       "  index  answer  p_correct  predicted  p_predicted\n"
                       "p_correct is the probability the model gives the true answer at\n"
                       "[ANS]; predicted is its most probable answer. Prints the accuracy.",
                       entries, &argc, &argv))
        goto done;
    if (!command_require(name, "--model", model_path) ||
        !command_require(name, "--data", data_path) || !command_require(name, "--out", out_path))
        goto done;

    Boost boost;
    if (boost_text) {
        float amount;
        if (!command_parse_boost(name, boost_text, &amount))
            goto done;
        boost_init_default(&boost, amount);
    }
    const CommandFile files[] = {
        {"--out", out_path, true}, {"--model", model_path, false}, {"--data", data_path, false}};
    if (!command_check_files(name, files, G_N_ELEMENTS(files)))
        goto done;
    if (!checkpoint_load(model_path, &model, NULL, &error) ||
        !problem_set_read(data_path, &set, &error)) {
        command_fail_error(name, error);
        goto done;
    }
    size_t correct = 0;
    double sum_p_correct = 0.0;
    if (!write_eval(out_path, &model, &set, boost_text ? &boost : NULL, &correct, &sum_p_correct,
                    &error)) {
        command_fail_error(name, error);
        goto done;
    }
    char accuracy[G_ASCII_DTOSTR_BUF_SIZE], mean[G_ASCII_DTOSTR_BUF_SIZE];
    g_ascii_formatd(accuracy, sizeof accuracy, "%.4f", (double)correct / (double)set.count);
    g_ascii_formatd(mean, sizeof mean, "%.4f", sum_p_correct / (double)set.count);
    printf("%zu problems: accuracy %s, mean p_correct %s -> %s\n", set.count, accuracy, mean,
           out_path);
    status = 0;

done:
    gpt_free(&model);
    problem_set_free(&set);
    g_free(model_path);
    g_free(data_path);
    g_free(boost_text);
    g_free(out_path);
    return status;
}
