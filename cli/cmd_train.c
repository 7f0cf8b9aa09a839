// cmd_train.c: `looplens train`, chapter 6's training loop as a command.
//
//   looplens train [--preset NAME] [--steps N] [--seed S] [--order O] --out CKPT
//
// Writes two files, each atomically, every --save-every steps and at the end:
//   CKPT        the model: a pure SPEC section 3 checkpoint (nanoGPT can load it),
//               whose metadata records the order, preset, seed, steps done and
//               every hyperparameter;
//   CKPT.state  (or --state FILE) the training state: weights, AdamW moments,
//               step and data-stream position, so that --resume continues the
//               run bit for bit.
// Ctrl-C (SIGINT or SIGTERM) finishes the current step, saves both and exits
// with status 130. A loss that turns NaN or infinite stops the run without
// saving: the files keep the last good step.
#define _POSIX_C_SOURCE 200809L // sigaction
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "commands.h"
#include "model.h"
#include "problem.h"
#include "train.h"
#include "util.h"

static const char *const NAME = "train";
// The most held-out problems per evaluation (80 bytes each in memory).
#define MAX_EVAL_COUNT 10000000

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int signum)
{
    (void)signum;
    stop_requested = 1;
}

// The command line, as given (NULL when absent).
typedef struct {
    char *preset, *steps, *seed, *order, *out, *state, *resume, *batch, *lr, *warmup,
        *min_lr_ratio, *beta2, *weight_decay, *clip, *eval_every, *eval_count, *eval_seed,
        *save_every, *stop_after, *threads, *log;
    gboolean all_positions;
} Flags;

static void flags_free(Flags *f)
{
    char **all[] = {&f->preset,    &f->steps,     &f->seed,         &f->order,     &f->out,
                    &f->state,     &f->resume,    &f->batch,        &f->lr,        &f->warmup,
                    &f->min_lr_ratio, &f->beta2,  &f->weight_decay, &f->clip,      &f->eval_every,
                    &f->eval_count, &f->eval_seed, &f->save_every,  &f->stop_after, &f->threads,
                    &f->log};
    for (size_t i = 0; i < G_N_ELEMENTS(all); i++)
        g_free(*all[i]);
}

// What the run needs besides the Trainer.
typedef struct {
    GPT model;
    Trainer trainer;
    bool have_model, have_trainer;
    char preset[32];
    uint64_t seed;
    DefinitionOrder order;
    const char *out_path;
    char *state_path;
    int eval_every, eval_count, save_every, stop_after;
    uint64_t eval_seed;
    ProblemSet eval_set;
    GString *log; // TSV rows, rewritten whole at every evaluation
    const char *log_path;
    int last_saved_step; // -1: nothing saved yet
} Run;

static bool parse_int_flag(const char *text, const char *flag, int64_t min, int64_t max, int *out,
                           GError **error)
{
    int64_t value;
    if (!text)
        return true;
    if (!parse_int64(text, flag, min, max, &value, error))
        return false;
    *out = (int)value;
    return true;
}

static bool parse_float_flag(const char *text, const char *flag, double min, double max,
                             float *out, GError **error)
{
    double value;
    if (!text)
        return true;
    if (!parse_double(text, flag, &value, error))
        return false;
    if (value < min || value > max) {
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID, "%s: %s is not in [%g, %g]", flag, text,
                    min, max);
        return false;
    }
    *out = (float)value;
    return true;
}

// The checkpoint's extra metadata: how it was made, as strings.
static bool save_checkpoint(Run *run, GError **error)
{
    const Trainer *t = &run->trainer;
    const TrainConfig *tc = &t->config;
    char seed[32], steps[32], schedule[32], batch[32], warmup[32];
    char lr[G_ASCII_DTOSTR_BUF_SIZE], min_lr[G_ASCII_DTOSTR_BUF_SIZE],
        beta1[G_ASCII_DTOSTR_BUF_SIZE], beta2[G_ASCII_DTOSTR_BUF_SIZE],
        eps[G_ASCII_DTOSTR_BUF_SIZE], decay[G_ASCII_DTOSTR_BUF_SIZE], clip[G_ASCII_DTOSTR_BUF_SIZE];
    g_snprintf(seed, sizeof seed, "%" G_GUINT64_FORMAT, run->seed);
    g_snprintf(steps, sizeof steps, "%d", t->step);
    g_snprintf(schedule, sizeof schedule, "%d", tc->steps);
    g_snprintf(batch, sizeof batch, "%d", tc->batch);
    g_snprintf(warmup, sizeof warmup, "%d", tc->warmup);
    const char *const extra[] = {
        "trainer", "looplens train",
        "preset", run->preset,
        "seed", seed,
        "steps", steps,
        "schedule_steps", schedule,
        "batch", batch,
        "loss", tc->all_positions ? "all positions" : "answer only",
        "lr", format_float(lr, tc->lr),
        "warmup", warmup,
        "min_lr_ratio", format_float(min_lr, tc->min_lr_ratio),
        "beta1", format_float(beta1, tc->beta1),
        "beta2", format_float(beta2, tc->beta2),
        "eps", format_float(eps, tc->eps),
        "weight_decay", format_float(decay, tc->weight_decay),
        "clip", format_float(clip, tc->clip),
        NULL,
    };
    // The run's own settings that are not the trainer's: --resume restores
    // them, so a resumed run evaluates as the first part did.
    char eval_every[32], eval_count[32], eval_seed[32];
    g_snprintf(eval_every, sizeof eval_every, "%d", run->eval_every);
    g_snprintf(eval_count, sizeof eval_count, "%d", run->eval_count);
    g_snprintf(eval_seed, sizeof eval_seed, "%" G_GUINT64_FORMAT, run->eval_seed);
    const char *const state_extra[] = {"preset",     run->preset, "seed",      seed,
                                       "eval_every", eval_every,  "eval_count", eval_count,
                                       "eval_seed",  eval_seed,   NULL};
    // The checkpoint and the state are a pair: both are written in full
    // before either replaces the old one, so a full disk leaves the old pair.
    StagedFile pair[2];
    bool ok = staged_file_open(&pair[0], run->out_path, error);
    if (ok && !staged_file_open(&pair[1], run->state_path, error)) {
        staged_files_abort(pair, 1, NULL);
        ok = false;
    }
    if (!ok)
        return false;
    if (!checkpoint_save(pair[0].temp_path, &run->model, run->order, extra, error) ||
        !train_state_save(pair[1].temp_path, t, state_extra, error)) {
        staged_files_abort(pair, 2, error ? *error : NULL);
        return false;
    }
    if (!staged_files_commit(pair, 2, error))
        return false;
    run->last_saved_step = t->step;
    return true;
}

// ----------------------------------------------------------------------------
// Progress on stderr: one line rewritten with \r on a terminal, plain lines
// (at every evaluation) otherwise.

typedef struct {
    bool tty;
    gint64 start_us, last_draw_us;
    int start_step, end_step;
    double train_seconds; // time spent in training steps (not evaluating)
    double loss_sum;
    int loss_count;
    char eval_text[96];
} Progress;

static void format_duration(char *out, size_t size, double seconds)
{
    long s = seconds > 0 && seconds < 1e8 ? (long)(seconds + 0.5) : 0;
    if (s >= 3600)
        g_snprintf(out, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        g_snprintf(out, size, "%ld:%02ld", s / 60, s % 60);
}

static void progress_draw(Progress *pr, const Trainer *t, bool final_line)
{
    int done = t->step - pr->start_step;
    double rate = pr->train_seconds > 0 ? done * t->config.batch / pr->train_seconds : 0.0;
    double steps_per_second = pr->train_seconds > 0 ? done / pr->train_seconds : 0.0;
    char eta[32];
    format_duration(eta, sizeof eta,
                    steps_per_second > 0 ? (pr->end_step - t->step) / steps_per_second : 0.0);
    char loss[32] = "-";
    if (pr->loss_count)
        g_snprintf(loss, sizeof loss, "%.4f", pr->loss_sum / pr->loss_count);
    fprintf(stderr, "%sstep %d/%d  loss %s  %s  %.0f problems/s  ETA %s%s", pr->tty ? "\r" : "",
            t->step, t->config.steps, loss, pr->eval_text, rate, eta,
            pr->tty ? "\033[K" : "");
    if (final_line || !pr->tty)
        fputc('\n', stderr);
    fflush(stderr);
    pr->last_draw_us = g_get_monotonic_time();
}

static bool run_eval(Run *run, Progress *pr, GError **error)
{
    EvalResult r;
    if (!evaluate(&run->model, run->eval_set.items, run->eval_set.count,
                  run->trainer.config.batch, &r, error))
        return false;
    size_t bad = r.squaring_count - r.squaring_good;
    g_snprintf(pr->eval_text, sizeof pr->eval_text, "held-out acc %.3f (squaring %zu good, %zu bad)",
               eval_accuracy(&r), r.squaring_good, bad);
    if (run->log) {
        g_string_append_printf(
            run->log, "%d\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%zu\t%zu\t%zu\t%.4f\t%.4f\n",
            run->trainer.step, pr->loss_count ? pr->loss_sum / pr->loss_count : NAN, r.loss,
            eval_accuracy(&r), (double)r.op_correct[0] / (r.op_count[0] ? r.op_count[0] : 1),
            (double)r.op_correct[1] / (r.op_count[1] ? r.op_count[1] : 1),
            (double)r.op_correct[2] / (r.op_count[2] ? r.op_count[2] : 1), r.squaring_count,
            r.squaring_good, bad, r.squaring_good_p, r.squaring_bad_p);
        AtomicFile f;
        if (!atomic_file_open(&f, run->log_path, error))
            return false;
        fputs(run->log->str, f.fp);
        if (!atomic_file_commit(&f, error))
            return false;
    }
    return true;
}

// A resumed run continues the log it is given: the rows of the first run up to
// the step it resumes from are kept (a log from another run, with another
// header, is started afresh; it is rewritten at the first evaluation anyway).
static void keep_earlier_log_rows(GString *log, const char *path, const char *header, int step)
{
    char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return;
    if (g_str_has_prefix(text, header)) {
        char **lines = g_strsplit(text + strlen(header), "\n", -1);
        for (char **line = lines; *line && **line; line++) {
            int64_t row_step;
            char *tab = strchr(*line, '\t');
            if (!tab)
                break;
            *tab = '\0';
            if (!parse_int64(*line, "step", 0, step, &row_step, NULL))
                break; // a later step than the state's, or not a row: drop the rest
            *tab = '\t';
            g_string_append_printf(log, "%s\n", *line);
        }
        g_strfreev(lines);
    }
    g_free(text);
}

// ----------------------------------------------------------------------------
// Setting up a run: fresh from flags, or resumed from a training state.

static bool setup_fresh(Run *run, const Flags *f, GError **error)
{
    g_strlcpy(run->preset, f->preset ? f->preset : "default", sizeof run->preset);
    GPTConfig config;
    if (!gpt_config_preset(run->preset, &config)) {
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID,
                    "--preset: unknown preset '%s' (default, seed or tiny)", f->preset);
        return false;
    }
    if (f->order && !order_parse(f->order, &run->order)) {
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID,
                    "--order: expected fixed or shuffled, got '%s'", f->order);
        return false;
    }
    run->seed = 1;
    if (f->seed && !parse_uint64(f->seed, "--seed", &run->seed, error))
        return false;
    TrainConfig tc;
    train_config_default(&tc);
    if (!parse_int_flag(f->steps, "--steps", 1, 100000000, &tc.steps, error) ||
        !parse_int_flag(f->batch, "--batch", 1, 4096, &tc.batch, error) ||
        !parse_int_flag(f->warmup, "--warmup", 0, 100000000, &tc.warmup, error) ||
        !parse_float_flag(f->lr, "--lr", 1e-9, 10.0, &tc.lr, error) ||
        !parse_float_flag(f->min_lr_ratio, "--min-lr-ratio", 0.0, 1.0, &tc.min_lr_ratio, error) ||
        !parse_float_flag(f->beta2, "--beta2", 0.0, 0.99999, &tc.beta2, error) ||
        !parse_float_flag(f->weight_decay, "--weight-decay", 0.0, 10.0, &tc.weight_decay,
                          error) ||
        !parse_float_flag(f->clip, "--clip", 0.0, 1e6, &tc.clip, error))
        return false;
    tc.all_positions = f->all_positions;
    if (!gpt_create(&run->model, &config, error))
        return false;
    run->have_model = true;
    gpt_init_random(&run->model, run->seed);
    // The weights come from the seed, the training problems from seed + 1:
    // splitmix64 seeding makes the two generators unrelated.
    ProblemStream stream;
    problem_stream_init(&stream, SPLIT_TRAIN, run->order, run->seed + 1);
    if (!trainer_init(&run->trainer, &run->model, &tc, &stream, error))
        return false;
    run->have_trainer = true;
    return true;
}

static bool setup_resumed(Run *run, const Flags *f, GError **error)
{
    // The state fixes the model and every hyperparameter; changing one midway
    // would not be a resumption.
    const struct {
        const char *value, *flag;
    } fixed[] = {
        {f->preset, "--preset"}, {f->steps, "--steps"},   {f->seed, "--seed"},
        {f->order, "--order"},   {f->batch, "--batch"},   {f->lr, "--lr"},
        {f->warmup, "--warmup"}, {f->min_lr_ratio, "--min-lr-ratio"}, {f->beta2, "--beta2"},
        {f->weight_decay, "--weight-decay"}, {f->clip, "--clip"},
        {f->all_positions ? "" : NULL, "--all-positions"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(fixed); i++) {
        if (fixed[i].value) {
            g_set_error(error, LL_ERROR, LL_ERROR_INVALID,
                        "%s cannot be combined with --resume (the training state fixes it)",
                        fixed[i].flag);
            return false;
        }
    }
    GHashTable *metadata = NULL;
    if (!train_state_load(f->resume, &run->model, &run->trainer, &metadata, error))
        return false;
    run->have_model = run->have_trainer = true;
    const char *preset = g_hash_table_lookup(metadata, "preset");
    const char *seed = g_hash_table_lookup(metadata, "seed");
    bool ok = preset && seed && parse_uint64(seed, "seed", &run->seed, NULL);
    if (ok)
        g_strlcpy(run->preset, preset, sizeof run->preset);
    else
        g_set_error(error, LL_ERROR, LL_ERROR_PARSE,
                    "%s: training state lacks a valid 'preset' or 'seed'", f->resume);
    // The evaluation settings of the first part, unless given again now. A
    // state from before they were saved lacks them: the defaults stand.
    const char *eval_every = g_hash_table_lookup(metadata, "eval_every");
    const char *eval_count = g_hash_table_lookup(metadata, "eval_count");
    const char *eval_seed = g_hash_table_lookup(metadata, "eval_seed");
    GError *inner = NULL;
    if (ok && ((!f->eval_every && eval_every &&
                !parse_int_flag(eval_every, "eval_every", 0, INT32_MAX, &run->eval_every,
                                &inner)) ||
               (!f->eval_count && eval_count &&
                !parse_int_flag(eval_count, "eval_count", 0, MAX_EVAL_COUNT, &run->eval_count,
                                &inner)) ||
               (!f->eval_seed && eval_seed &&
                !parse_uint64(eval_seed, "eval_seed", &run->eval_seed, &inner)))) {
        g_set_error(error, LL_ERROR, LL_ERROR_PARSE, "%s: %s", f->resume, inner->message);
        g_error_free(inner);
        ok = false;
    }
    g_hash_table_unref(metadata);
    run->order = run->trainer.stream.order;
    return ok;
}

// ----------------------------------------------------------------------------

static int train_loop(Run *run)
{
    Trainer *t = &run->trainer;
    GError *error = NULL;
    int end = run->stop_after > 0 && run->stop_after < t->config.steps ? run->stop_after
                                                                      : t->config.steps;
    Progress pr = {.tty = isatty(STDERR_FILENO), .start_step = t->step, .end_step = end};
    pr.start_us = g_get_monotonic_time();
    fprintf(stderr, "training %s (%zu parameters, %s order) from step %d to %d, batch %d\n",
            run->preset, run->model.num_parameters, order_name(run->order), t->step, end,
            t->config.batch);

    while (t->step < end && !stop_requested) {
        StepStats stats;
        gint64 before = g_get_monotonic_time();
        if (!train_step(t, &stats, &error)) {
            if (pr.tty)
                fputc('\n', stderr);
            if (run->last_saved_step >= 0)
                command_fail(NAME, "%s; stopped. %s and %s hold the last good step, %d",
                             error->message, run->out_path, run->state_path,
                             run->last_saved_step);
            else
                command_fail(NAME, "%s; stopped before anything was saved", error->message);
            g_error_free(error);
            return 1;
        }
        pr.train_seconds += (g_get_monotonic_time() - before) / 1e6;
        pr.loss_sum += stats.loss;
        pr.loss_count++;

        // A permanent progress line at every evaluation (or every 100 steps
        // without evaluations); on a terminal, the line is also redrawn in place.
        bool eval_now = run->eval_every > 0 && t->step % run->eval_every == 0;
        bool line_now = run->eval_every > 0 ? eval_now : t->step % 100 == 0;
        if (eval_now && run->eval_count > 0 && !run_eval(run, &pr, &error))
            return command_fail_error(NAME, error);
        if (run->save_every > 0 && t->step % run->save_every == 0 && t->step < end &&
            !save_checkpoint(run, &error))
            return command_fail_error(NAME, error);
        if (line_now) {
            progress_draw(&pr, t, true);
            pr.loss_sum = 0.0;
            pr.loss_count = 0;
        } else if (pr.tty && g_get_monotonic_time() - pr.last_draw_us > 200000) {
            progress_draw(&pr, t, false);
        }
    }
    bool interrupted = stop_requested && t->step < end;
    bool evaluated = run->eval_every > 0 && t->step % run->eval_every == 0;
    if (!interrupted && run->eval_count > 0 && !evaluated) {
        if (!run_eval(run, &pr, &error))
            return command_fail_error(NAME, error);
        progress_draw(&pr, t, true);
    } else if (pr.loss_count > 0) {
        progress_draw(&pr, t, true); // the steps since the last line
    }
    if (!save_checkpoint(run, &error))
        return command_fail_error(NAME, error);
    double seconds = (g_get_monotonic_time() - pr.start_us) / 1e6;
    fprintf(stderr, "%s at step %d: wrote %s and %s (%.1f s, %.0f problems/s while training)\n",
            interrupted ? "interrupted" : "done", t->step, run->out_path, run->state_path,
            seconds,
            pr.train_seconds > 0 ? (t->step - pr.start_step) * t->config.batch / pr.train_seconds
                                 : 0.0);
    return interrupted ? 130 : 0;
}

int cmd_train(int argc, char **argv)
{
    Flags f = {0};
    GOptionEntry entries[] = {
        {"preset", 0, 0, G_OPTION_ARG_STRING, &f.preset,
         "model size: default (6 layers, d_model 128), seed (d_model 512) or tiny", "NAME"},
        {"steps", 0, 0, G_OPTION_ARG_STRING, &f.steps,
         "optimizer steps; the learning-rate schedule ends here (1000)", "N"},
        {"seed", 0, 0, G_OPTION_ARG_STRING, &f.seed,
         "seed of the initial weights (seed) and training problems (seed+1) (1)", "S"},
        {"order", 0, 0, G_OPTION_ARG_STRING, &f.order,
         "definition order: fixed (default) or shuffled", "ORDER"},
        {"out", 0, 0, G_OPTION_ARG_FILENAME, &f.out, "the checkpoint to write", "CKPT"},
        {"state", 0, 0, G_OPTION_ARG_FILENAME, &f.state,
         "the training state to write (CKPT.state)", "FILE"},
        {"resume", 0, 0, G_OPTION_ARG_FILENAME, &f.resume,
         "continue the run saved in this training state", "STATE"},
        {"stop-after", 0, 0, G_OPTION_ARG_STRING, &f.stop_after,
         "stop after step N as if interrupted (save; resume later)", "N"},
        {"batch", 0, 0, G_OPTION_ARG_STRING, &f.batch, "problems per step (64)", "B"},
        {"lr", 0, 0, G_OPTION_ARG_STRING, &f.lr, "peak learning rate (0.001)", "LR"},
        {"warmup", 0, 0, G_OPTION_ARG_STRING, &f.warmup, "linear warmup steps (200)", "N"},
        {"min-lr-ratio", 0, 0, G_OPTION_ARG_STRING, &f.min_lr_ratio,
         "the cosine decays the learning rate to LR times this (0.1)", "R"},
        {"beta2", 0, 0, G_OPTION_ARG_STRING, &f.beta2, "AdamW beta2 (0.999; beta1 is 0.9)", "B2"},
        {"weight-decay", 0, 0, G_OPTION_ARG_STRING, &f.weight_decay,
         "AdamW weight decay on weight matrices (0.01)", "WD"},
        {"clip", 0, 0, G_OPTION_ARG_STRING, &f.clip,
         "clip the gradient's global norm to this; 0 = off (1.0)", "NORM"},
        {"all-positions", 0, 0, G_OPTION_ARG_NONE, &f.all_positions,
         "add a next-token loss at every position", NULL},
        {"eval-every", 0, 0, G_OPTION_ARG_STRING, &f.eval_every,
         "evaluate on held-out problems every N steps; 0 = only at the end (100)", "N"},
        {"eval-count", 0, 0, G_OPTION_ARG_STRING, &f.eval_count,
         "held-out problems per evaluation; 0 = none (2000)", "N"},
        {"eval-seed", 0, 0, G_OPTION_ARG_STRING, &f.eval_seed,
         "seed of the held-out test problems (1)", "S"},
        {"save-every", 0, 0, G_OPTION_ARG_STRING, &f.save_every,
         "also save every N steps; 0 = only at the end (500)", "N"},
        {"log", 0, 0, G_OPTION_ARG_FILENAME, &f.log,
         "write every evaluation's numbers to this TSV file", "FILE"},
        {"threads", 0, 0, G_OPTION_ARG_STRING, &f.threads,
         "OpenMP threads (all cores); results do not depend on it", "N"},
        G_OPTION_ENTRY_NULL,
    };
    Run run = {.eval_every = 100, .eval_count = 2000, .eval_seed = 1, .save_every = 500,
               .last_saved_step = -1};
    int status = 1;
    GError *error = NULL;
    if (!command_parse(NAME, "- train a model",
                       "Trains a GPT on the training stream with AdamW (warmup, then cosine\n"
                       "decay) and the answer-only loss, printing progress on stderr. Writes\n"
                       "the checkpoint CKPT and the training state CKPT.state every\n"
                       "--save-every steps and at the end; --resume CKPT.state continues\n"
                       "exactly where it stopped. Ctrl-C saves and exits with status 130.\n"
                       "The same flags give the same bytes, with any number of threads.",
                       entries, &argc, &argv))
        goto done;
    if (!command_require(NAME, "--out", f.out))
        goto done;
    int threads = 0;
    if (!parse_int_flag(f.eval_every, "--eval-every", 0, INT32_MAX, &run.eval_every, &error) ||
        !parse_int_flag(f.eval_count, "--eval-count", 0, MAX_EVAL_COUNT, &run.eval_count,
                        &error) ||
        !parse_int_flag(f.save_every, "--save-every", 0, INT32_MAX, &run.save_every, &error) ||
        !parse_int_flag(f.stop_after, "--stop-after", 1, INT32_MAX, &run.stop_after, &error) ||
        !parse_int_flag(f.threads, "--threads", 1, 1024, &threads, &error) ||
        (f.eval_seed && !parse_uint64(f.eval_seed, "--eval-seed", &run.eval_seed, &error))) {
        command_fail_error(NAME, error);
        goto done;
    }
    if (threads > 0)
        omp_set_num_threads(threads);
    run.out_path = f.out;
    run.state_path = f.state ? g_strdup(f.state) : g_strconcat(f.out, ".state", NULL);
    run.log_path = f.log;
    // Every output is checked before anything is loaded or trained, so a typo
    // in --out fails now rather than after an hour of training. The state
    // may be the one being resumed (it is updated in place); no other two
    // files may be one.
    const CommandFile outputs[] = {
        {"--out", run.out_path, true},
        {"the training state", run.state_path, true},
        {"--log", run.log_path, true},
    };
    const CommandFile resumed[] = {
        {"--out", run.out_path, true},
        {"--log", run.log_path, true},
        {"--resume", f.resume, false},
    };
    if (!command_check_files(NAME, outputs, G_N_ELEMENTS(outputs)) ||
        !command_check_files(NAME, resumed, G_N_ELEMENTS(resumed)))
        goto done;
    if (!(f.resume ? setup_resumed(&run, &f, &error) : setup_fresh(&run, &f, &error))) {
        command_fail_error(NAME, error);
        goto done;
    }
    if (run.trainer.step >= run.trainer.config.steps) {
        command_fail(NAME, "%s is already at step %d of %d: nothing to do", f.resume,
                     run.trainer.step, run.trainer.config.steps);
        goto done;
    }
    if (run.stop_after > 0 && run.stop_after <= run.trainer.step) {
        command_fail(NAME, "--stop-after %d: %s is already at step %d", run.stop_after, f.resume,
                     run.trainer.step);
        goto done;
    }
    if (run.log_path) {
        const char *header = "step\ttrain_loss\ttest_loss\taccuracy\tacc_plus\tacc_minus\t"
                             "acc_times\tsquaring\tgood\tbad\tgood_p\tbad_p\n";
        run.log = g_string_new(header);
        if (f.resume)
            keep_earlier_log_rows(run.log, run.log_path, header, run.trainer.step);
    }
    if (run.eval_count > 0) {
        run.eval_set.count = (size_t)run.eval_count;
        run.eval_set.items = g_new(Problem, run.eval_set.count);
        ProblemStream test;
        problem_stream_init(&test, SPLIT_TEST, run.order, run.eval_seed);
        for (size_t i = 0; i < run.eval_set.count; i++)
            problem_stream_next(&test, &run.eval_set.items[i]);
    }

    // SA_RESETHAND: a second Ctrl-C kills at once (the files on disk are always
    // whole: every write is atomic).
    struct sigaction action = {.sa_handler = on_signal, .sa_flags = SA_RESETHAND}, old_int,
                     old_term;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_int);
    sigaction(SIGTERM, &action, &old_term);
    status = train_loop(&run);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);

done:
    if (run.have_trainer)
        trainer_free(&run.trainer);
    if (run.have_model)
        gpt_free(&run.model);
    if (run.eval_set.items)
        problem_set_free(&run.eval_set);
    if (run.log)
        g_string_free(run.log, TRUE);
    g_free(run.state_path);
    flags_free(&f);
    return status;
}
