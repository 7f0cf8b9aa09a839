// ch06_train_cli.c: `looplens train` as a program: same bytes with 1 or 2
// threads, stop + resume equals an uninterrupted run, Ctrl-C saves and exits
// 130, and bad input fails with one line and leaves files alone.
//
// Every run uses the tiny preset (2 layers, d_model 16) and a few steps, so
// each takes a fraction of a second.
#define _POSIX_C_SOURCE 200809L // kill
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "checkpoint.h"
#include "testutil.h"
#include "train.h"
#include "util.h"

static char *read_file(const char *path, gsize *length)
{
    char *data = NULL;
    GError *error = NULL;
    g_assert_true(g_file_get_contents(path, &data, length, &error));
    g_assert_no_error(error);
    return data;
}

static void assert_same_file(const char *a, const char *b)
{
    gsize la, lb;
    char *da = read_file(a, &la), *db = read_file(b, &lb);
    g_assert_cmpmem(da, la, db, lb);
    g_free(da);
    g_free(db);
}

static void assert_one_line_error(int status, const char *err, const char *words)
{
    g_assert_cmpint(status, !=, 0);
    g_assert_cmpint(test_count_lines(err), ==, 1);
    g_assert_true(g_str_has_prefix(err, "looplens train: "));
    if (words && !strstr(err, words))
        g_test_fail_printf("expected \"%s\" in: %s", words, err);
}

// Common flags of a short tiny run: no evaluation, a quick schedule.
#define TINY "--preset", "tiny", "--steps", "6", "--warmup", "2", "--lr", "0.01", \
             "--eval-count", "0", "--batch", "16"

static void test_threads_same_bytes(void)
{
    char *one = test_path("threads1.safetensors"), *two = test_path("threads2.safetensors");
    char *err = NULL;
    int status = test_run_looplens(NULL, &err, "train", TINY, "--seed", "5", "--threads", "1",
                                   "--out", one, NULL);
    g_assert_cmpint(status, ==, 0);
    g_free(err);
    status = test_run_looplens(NULL, NULL, "train", TINY, "--seed", "5", "--threads", "2",
                               "--out", two, NULL);
    g_assert_cmpint(status, ==, 0);
    assert_same_file(one, two);
    char *one_state = g_strconcat(one, ".state", NULL), *two_state = g_strconcat(two, ".state", NULL);
    assert_same_file(one_state, two_state);

    // The checkpoint is a plain SPEC checkpoint with the run's metadata.
    GHashTable *metadata = NULL;
    GError *error = NULL;
    g_assert_true(checkpoint_read_metadata(one, &metadata, &error));
    g_assert_cmpstr(g_hash_table_lookup(metadata, "steps"), ==, "6");
    g_assert_cmpstr(g_hash_table_lookup(metadata, "preset"), ==, "tiny");
    g_assert_cmpstr(g_hash_table_lookup(metadata, "seed"), ==, "5");
    g_assert_cmpstr(g_hash_table_lookup(metadata, "order"), ==, "fixed");
    g_assert_cmpstr(g_hash_table_lookup(metadata, "lr"), ==, "0.00999999978");
    g_hash_table_unref(metadata);
    GPT model;
    g_assert_true(checkpoint_load(one, &model, NULL, &error));
    gpt_free(&model);
    g_free(one), g_free(two), g_free(one_state), g_free(two_state);
}

// 6 steps in one go, and 3 steps (--stop-after 3) then --resume for the rest:
// byte-identical checkpoints and training states.
static void test_resume_equals_uninterrupted(void)
{
    char *whole = test_path("whole.safetensors"), *parts = test_path("parts.safetensors");
    char *parts_state = g_strconcat(parts, ".state", NULL);
    char *whole_state = g_strconcat(whole, ".state", NULL);
    g_assert_cmpint(test_run_looplens(NULL, NULL, "train", TINY, "--order", "shuffled",
                                      "--all-positions", "--out", whole, NULL), ==, 0);
    g_assert_cmpint(test_run_looplens(NULL, NULL, "train", TINY, "--order", "shuffled",
                                      "--all-positions", "--stop-after", "3", "--out", parts,
                                      NULL), ==, 0);
    GHashTable *metadata = NULL;
    g_assert_true(checkpoint_read_metadata(parts, &metadata, NULL));
    g_assert_cmpstr(g_hash_table_lookup(metadata, "steps"), ==, "3");
    g_assert_cmpstr(g_hash_table_lookup(metadata, "schedule_steps"), ==, "6");
    g_hash_table_unref(metadata);
    char *err = NULL;
    int status = test_run_looplens(NULL, &err, "train", "--resume", parts_state, "--out", parts,
                                   "--eval-count", "0", NULL);
    g_assert_cmpint(status, ==, 0);
    g_assert_nonnull(strstr(err, "from step 3 to 6"));
    g_free(err);
    assert_same_file(whole, parts);
    assert_same_file(whole_state, parts_state);

    // A finished run has nothing left to do.
    status = test_run_looplens(NULL, &err, "train", "--resume", parts_state, "--out", parts, NULL);
    assert_one_line_error(status, err, "nothing to do");
    g_free(err);
    g_free(whole), g_free(parts), g_free(parts_state), g_free(whole_state);
}

// SIGINT in the middle of a long run: the step in progress finishes, both
// files are written, the exit status is 130, and the state resumes.
static void test_interrupt_saves(void)
{
    char *out = test_path("interrupted.safetensors");
    char *state = g_strconcat(out, ".state", NULL);
    const char *exe = g_getenv("LOOPLENS_EXE");
    const char *argv[] = {exe, "train", "--preset", "tiny", "--steps", "10000000", "--eval-count",
                          "0", "--out", out, NULL};
    GPid pid;
    int err_fd;
    GError *error = NULL;
    g_assert_true(g_spawn_async_with_pipes(NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                           NULL, NULL, &pid, NULL, NULL, &err_fd, &error));
    g_assert_no_error(error);
    // The first line ("training tiny ...") comes after the handler is installed.
    char c;
    while (read(err_fd, &c, 1) == 1 && c != '\n')
        ;
    g_usleep(200000);
    kill(pid, SIGINT);
    GString *rest = g_string_new(NULL);
    while (read(err_fd, &c, 1) == 1)
        g_string_append_c(rest, c);
    close(err_fd);
    int wait_status;
    g_assert_cmpint(waitpid(pid, &wait_status, 0), ==, pid);
    g_spawn_close_pid(pid);
    g_assert_true(WIFEXITED(wait_status));
    g_assert_cmpint(WEXITSTATUS(wait_status), ==, 130);
    g_assert_nonnull(strstr(rest->str, "interrupted at step"));
    g_string_free(rest, TRUE);
    g_assert_true(g_file_test(out, G_FILE_TEST_EXISTS));
    GPT model;
    g_assert_true(checkpoint_load(out, &model, NULL, &error));
    gpt_free(&model);
    // It resumes (and stops at once again with --stop-after).
    GHashTable *metadata = NULL;
    g_assert_true(checkpoint_read_metadata(out, &metadata, &error));
    int64_t steps;
    g_assert_true(parse_int64(g_hash_table_lookup(metadata, "steps"), "steps", 1, 10000000,
                              &steps, &error));
    g_hash_table_unref(metadata);
    char stop[32];
    g_snprintf(stop, sizeof stop, "%" G_GINT64_FORMAT, steps + 1);
    g_assert_cmpint(test_run_looplens(NULL, NULL, "train", "--resume", state, "--stop-after", stop,
                                      "--eval-count", "0", "--out", out, NULL), ==, 0);
    g_free(out);
    g_free(state);
}

// Bad input: one line on stderr, non-zero status, and the existing output
// untouched (or no output at all).
static void test_bad_input(void)
{
    char *out = test_write_file("precious.safetensors", "do not overwrite me");
    char *text = test_write_file("not-a-state.txt", "hello\n");
    char *checkpoint = test_tiny_checkpoint("tiny.safetensors", 1, 0.02f);
    char *missing_dir = test_path("no/such/dir/out.safetensors");
    char *folder = test_path("a-folder");
    g_assert_cmpint(g_mkdir(folder, 0755), ==, 0);
    const struct {
        const char *args[12];
        const char *words;
    } cases[] = {
        {{"--steps", "0", "--out", out}, "--steps"},
        {{"--steps", "ten", "--out", out}, "--steps"},
        {{"--steps", "-5", "--out", out}, "--steps"},
        {{"--lr", "fast", "--out", out}, "--lr"},
        {{"--lr", "-1", "--out", out}, "--lr"},
        {{"--batch", "0", "--out", out}, "--batch"},
        {{"--seed", "x", "--out", out}, "--seed"},
        {{"--preset", "huge", "--out", out}, "huge"},
        {{"--order", "random", "--out", out}, "--order"},
        {{"--clip", "nan", "--out", out}, "--clip"},
        {{"--preset", "tiny"}, "--out"},
        {{"--resume", text, "--out", out}, "not-a-state.txt"},
        {{"--resume", checkpoint, "--out", out}, "not a LoopLens training state"},
        {{"--resume", "/no/such/file.state", "--out", out}, "file.state"},
        {{"--preset", "tiny", "--steps", "2", "--out", missing_dir}, "no/such/dir"},
        {{"--preset", "tiny", "--unknown-flag", "--out", out}, "--unknown-flag"},
        // Outputs are checked before the first step (one line: no progress).
        {{"--preset", "tiny", "--steps", "3", "--out", folder}, "not a regular file (a folder)"},
        {{"--preset", "tiny", "--steps", "3", "--state", folder, "--out", out}, "(a folder)"},
        {{"--preset", "tiny", "--steps", "3", "--log", folder, "--out", out}, "(a folder)"},
        {{"--preset", "tiny", "--steps", "3", "--log", out, "--out", out},
         "--out and --log name the same file"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const char *argv[16] = {"train"};
        int n = 1;
        for (int a = 0; cases[i].args[a]; a++)
            argv[n++] = cases[i].args[a];
        argv[n] = NULL;
        char *err = NULL;
        int status = test_run_looplens_argv(NULL, &err, argv);
        g_test_message("case %zu: status %d, %s", i, status, err);
        assert_one_line_error(status, err, cases[i].words);
        g_free(err);
        gsize length;
        char *contents = read_file(out, &length);
        g_assert_cmpstr(contents, ==, "do not overwrite me");
        g_free(contents);
        char *state = g_strconcat(out, ".state", NULL);
        g_assert_false(g_file_test(state, G_FILE_TEST_EXISTS));
        g_free(state);
    }
    g_assert_false(g_file_test(missing_dir, G_FILE_TEST_EXISTS));
    // Flags the state fixes cannot change on resume.
    char *good = test_path("good.safetensors");
    char *good_state = g_strconcat(good, ".state", NULL);
    g_assert_cmpint(test_run_looplens(NULL, NULL, "train", TINY, "--stop-after", "2", "--out",
                                      good, NULL), ==, 0);
    char *err = NULL;
    int status = test_run_looplens(NULL, &err, "train", "--resume", good_state, "--lr", "0.5",
                                   "--out", good, NULL);
    assert_one_line_error(status, err, "--lr");
    g_free(err);
    g_free(good), g_free(good_state);
    g_free(out), g_free(text), g_free(checkpoint), g_free(missing_dir), g_free(folder);
}

// The "squaring" column (the 8th) of every row of a --log TSV, and the steps.
static void read_log(const char *path, GArray *steps, GArray *squaring)
{
    gsize length;
    char *text = read_file(path, &length);
    char **lines = g_strsplit(text, "\n", -1);
    for (int i = 1; lines[i] && *lines[i]; i++) { // line 0 is the header
        char **fields = g_strsplit(lines[i], "\t", -1);
        g_assert_cmpuint(g_strv_length(fields), ==, 12);
        int step = atoi(fields[0]), count = atoi(fields[7]);
        g_array_append_val(steps, step);
        g_array_append_val(squaring, count);
        g_strfreev(fields);
    }
    g_strfreev(lines);
    g_free(text);
}

// Trains the tiny preset for 2 of 4 steps, evaluating 60 problems of seed 9
// at every step into first_log, then resumes the state into resumed_log.
static void train_then_resume(const char *out, const char *state, const char *first_log,
                              const char *resumed_log)
{
    g_assert_cmpint(test_run_looplens(NULL, NULL, "train", "--preset", "tiny", "--steps", "4",
                                      "--batch", "8", "--eval-every", "1", "--eval-count", "60",
                                      "--eval-seed", "9", "--stop-after", "2", "--log", first_log,
                                      "--out", out, NULL), ==, 0);
    g_assert_cmpint(test_run_looplens(NULL, NULL, "train", "--resume", state, "--log",
                                      resumed_log, "--out", out, NULL), ==, 0);
}

// --resume evaluates as the first part did: --eval-every, --eval-count and
// --eval-seed are kept in the training state, not reset to the defaults.
static void test_resume_keeps_eval_settings(void)
{
    char *out = test_path("evals.safetensors"), *state = g_strconcat(out, ".state", NULL);
    char *log1 = test_path("evals1.tsv"), *log2 = test_path("evals2.tsv");
    train_then_resume(out, state, log1, log2);
    GArray *steps1 = g_array_new(FALSE, FALSE, sizeof(int));
    GArray *squaring1 = g_array_new(FALSE, FALSE, sizeof(int));
    GArray *steps2 = g_array_new(FALSE, FALSE, sizeof(int));
    GArray *squaring2 = g_array_new(FALSE, FALSE, sizeof(int));
    read_log(log1, steps1, squaring1);
    read_log(log2, steps2, squaring2);
    // Every step evaluated (--eval-every 1; the default is every 100).
    g_assert_cmpuint(steps1->len, ==, 2);
    g_assert_cmpuint(steps2->len, ==, 2);
    g_assert_cmpint(g_array_index(steps2, int, 0), ==, 3);
    g_assert_cmpint(g_array_index(steps2, int, 1), ==, 4);
    // The same 60 held-out problems of seed 9: as many squaring problems as
    // test_problems finds there (2000 problems of seed 1 would hold ~160).
    Problem problems[60];
    test_problems(problems, 60, ORDER_FIXED, 9);
    int squaring = 0;
    for (int i = 0; i < 60; i++)
        squaring += problem_is_squaring(&problems[i]);
    for (guint i = 0; i < 2; i++) {
        g_assert_cmpint(g_array_index(squaring1, int, i), ==, squaring);
        g_assert_cmpint(g_array_index(squaring2, int, i), ==, squaring);
    }
    // Resumed into the first run's log (again from step 2), the log keeps that
    // run's rows up to step 2 and continues: steps 1, 2, 3, 4.
    train_then_resume(out, state, log1, log1);
    GArray *steps3 = g_array_new(FALSE, FALSE, sizeof(int));
    GArray *squaring3 = g_array_new(FALSE, FALSE, sizeof(int));
    read_log(log1, steps3, squaring3);
    g_assert_cmpuint(steps3->len, ==, 4);
    for (guint i = 0; i < 4; i++)
        g_assert_cmpint(g_array_index(steps3, int, i), ==, (int)i + 1);
    g_array_free(steps3, TRUE), g_array_free(squaring3, TRUE);
    g_array_free(steps1, TRUE), g_array_free(squaring1, TRUE);
    g_array_free(steps2, TRUE), g_array_free(squaring2, TRUE);
    g_free(out), g_free(state), g_free(log1), g_free(log2);
}

// Runs looplens with a limit on the size of any file it writes (RLIMIT_FSIZE),
// a stand-in for a full disk: a write past it fails with EFBIG.
static rlim_t file_size_limit;
static void limit_file_size(gpointer data)
{
    (void)data;
    signal(SIGXFSZ, SIG_IGN); // fail the write instead of killing the process
    struct rlimit limit = {file_size_limit, file_size_limit};
    setrlimit(RLIMIT_FSIZE, &limit);
}

static int run_with_file_size_limit(char **err, const char *const *args)
{
    GPtrArray *argv = g_ptr_array_new();
    g_ptr_array_add(argv, (gpointer)g_getenv("LOOPLENS_EXE"));
    for (int i = 0; args[i]; i++)
        g_ptr_array_add(argv, (gpointer)args[i]);
    g_ptr_array_add(argv, NULL);
    int wait_status = 0;
    GError *error = NULL;
    g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_STDOUT_TO_DEV_NULL,
                               limit_file_size, NULL, NULL, err, &wait_status, &error));
    g_assert_no_error(error);
    g_ptr_array_free(argv, TRUE);
    return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
}

// The checkpoint and its state are one pair: when saving the state fails
// (here: the disk "fills" after the smaller checkpoint), neither file
// changes, so the old checkpoint still sits next to its own state.
static void test_failed_save_keeps_the_pair(void)
{
    char *out = test_path("pair.safetensors"), *state = g_strconcat(out, ".state", NULL);
    g_assert_cmpint(test_run_looplens(NULL, NULL, "train", TINY, "--stop-after", "2", "--out",
                                      out, NULL), ==, 0);
    gsize out_length, state_length;
    char *old_out = read_file(out, &out_length), *old_state = read_file(state, &state_length);
    g_assert_cmpuint(out_length, <, state_length); // Adam's moments triple the weights
    file_size_limit = (out_length + state_length) / 2;
    char *err = NULL;
    const char *const args[] = {"train", "--resume", state, "--out", out, NULL};
    int status = run_with_file_size_limit(&err, args);
    g_test_message("status %d: %s", status, err);
    g_assert_cmpint(status, ==, 1);
    // The message names the state the user knows, not a temp file.
    g_assert_nonnull(strstr(err, state));
    g_assert_null(strstr(err, ".tmp-"));
    gsize length;
    char *now = read_file(out, &length);
    g_assert_cmpmem(now, length, old_out, out_length);
    g_free(now);
    now = read_file(state, &length);
    g_assert_cmpmem(now, length, old_state, state_length);
    g_free(now);
    // And no temp file is left beside them.
    GDir *dir = g_dir_open(test_tmpdir(), 0, NULL);
    for (const char *name; (name = g_dir_read_name(dir));)
        if (strstr(name, "pair.safetensors.tmp-") || strstr(name, "pair.safetensors.state.tmp-"))
            g_test_fail_printf("temp file left: %s", name);
    g_dir_close(dir);
    g_free(err), g_free(old_out), g_free(old_state), g_free(out), g_free(state);
}

// A state whose weights make the loss non-finite: the run stops with a clear
// message and non-zero status, and writes nothing.
static void test_nan_stops_cleanly(void)
{
    char *good = test_path("before-nan.safetensors");
    char *state = g_strconcat(good, ".state", NULL);
    g_assert_cmpint(test_run_looplens(NULL, NULL, "train", TINY, "--stop-after", "1", "--out",
                                      good, NULL), ==, 0);
    // Blow up every weight: the first LayerNorm's variance overflows.
    GPT model;
    Trainer t;
    GError *error = NULL;
    GHashTable *metadata;
    g_assert_true(train_state_load(state, &model, &t, &metadata, &error));
    for (size_t i = 0; i < model.num_parameters; i++)
        model.params_memory[i] *= 1e37f;
    char *bad_state = test_path("nan.state");
    const char *const extra[] = {"preset", g_hash_table_lookup(metadata, "preset"), "seed",
                                 g_hash_table_lookup(metadata, "seed"), NULL};
    g_assert_true(train_state_save(bad_state, &t, extra, &error));
    g_hash_table_unref(metadata);
    trainer_free(&t);
    gpt_free(&model);
    char *out = test_path("after-nan.safetensors");
    char *err = NULL;
    int status = test_run_looplens(NULL, &err, "train", "--resume", bad_state, "--eval-count",
                                   "0", "--out", out, NULL);
    g_test_message("%s", err);
    g_assert_cmpint(status, !=, 0);
    g_assert_true(strstr(err, "loss is NaN") || strstr(err, "loss is infinite") ||
                  strstr(err, "gradient norm is"));
    g_assert_nonnull(strstr(err, "stopped"));
    g_assert_false(g_file_test(out, G_FILE_TEST_EXISTS));
    g_free(err), g_free(out), g_free(bad_state), g_free(good), g_free(state);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_add_earlier_exercises("/ch06", "2-5");
    g_test_add_func("/ch06/cli/threads-same-bytes", test_threads_same_bytes);
    g_test_add_func("/ch06/cli/resume-equals-uninterrupted", test_resume_equals_uninterrupted);
    g_test_add_func("/ch06/cli/interrupt-saves", test_interrupt_saves);
    g_test_add_func("/ch06/cli/bad-input", test_bad_input);
    g_test_add_func("/ch06/cli/nan-stops-cleanly", test_nan_stops_cleanly);
    g_test_add_func("/ch06/cli/resume-keeps-eval-settings", test_resume_keeps_eval_settings);
    g_test_add_func("/ch06/cli/failed-save-keeps-the-pair", test_failed_save_keeps_the_pair);
    return g_test_run();
}
