// ch05_eval.c: `looplens eval` (SPEC section 6): the TSV it writes, and the
// one-line refusals that leave no output file behind. (`eval --boost` is
// chapter 9's: ch09_intervene.c.)
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "checkpoint.h"
#include "model.h"
#include "problem.h"
#include "testutil.h"
#include "util.h"

static char *model_path; // a tiny random model, std 0.3 (peaked, varied answers)
static char *data_path;  // 300 test problems: more than one batch of 256

static char *read_text(const char *path)
{
    char *text = NULL;
    GError *error = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, &error));
    return text;
}

// Runs eval and returns the TSV's lines (NULL-terminated, last empty line dropped).
static char **run_eval(const char *out_name)
{
    char *out = test_path(out_name);
    char *err = NULL;
    int status = test_run_looplens(NULL, &err, "eval", "--model", model_path, "--data",
                                   data_path, "--out", out, NULL);
    if (status != 0)
        g_error("looplens eval failed (%d): %s", status, err);
    g_free(err);
    char *text = read_text(out);
    g_assert_true(g_str_has_suffix(text, "\n"));
    text[strlen(text) - 1] = '\0';
    char **lines = g_strsplit(text, "\n", -1);
    g_free(text);
    g_free(out);
    return lines;
}

static void test_tsv(void)
{
    ProblemSet set;
    GError *error = NULL;
    g_assert_true(problem_set_read(data_path, &set, &error));
    char **lines = run_eval("eval.tsv");
    g_assert_cmpstr(lines[0], ==, "index\tanswer\tp_correct\tpredicted\tp_predicted");
    g_assert_cmpuint(g_strv_length(lines), ==, set.count + 1);

    // The same numbers in-process, to 1e-6: both are float32 softmax outputs of
    // the same model; %.9g round-trips floats, so only a different batch split
    // (256 + 44 there, 300 here) could move the last bits.
    GPT model;
    g_assert_true(checkpoint_load(model_path, &model, NULL, &error));
    int *tokens = g_new(int, set.count * PROBLEM_LEN);
    for (size_t b = 0; b < set.count; b++)
        memcpy(tokens + b * PROBLEM_LEN, set.items[b].tokens, sizeof(int) * PROBLEM_LEN);
    g_assert_true(gpt_forward(&model, tokens, (int)set.count, NULL, &error));

    int correct = 0;
    for (size_t i = 0; i < set.count; i++) {
        char **f = g_strsplit(lines[i + 1], "\t", -1);
        g_assert_cmpuint(g_strv_length(f), ==, 5);
        int64_t index;
        double p_correct, p_predicted;
        g_assert_true(parse_int64(f[0], "index", 0, 1000000, &index, &error));
        g_assert_cmpint(index, ==, (int64_t)i);
        int answer = set.items[i].tokens[POS_ANSWER];
        g_assert_cmpstr(f[1], ==, vocab_string(answer));
        g_assert_true(parse_double(f[2], "p_correct", &p_correct, &error));
        g_assert_true(parse_double(f[4], "p_predicted", &p_predicted, &error));
        g_assert_cmpfloat(p_correct, >=, 0.0);
        g_assert_cmpfloat(p_correct, <=, 1.0);
        g_assert_cmpfloat(p_predicted, >=, p_correct); // the argmax is at least as likely
        g_assert_cmpfloat(p_predicted, <=, 1.0);
        int predicted = vocab_lookup(f[3]);
        g_assert_cmpint(predicted, >=, 0);
        const float *probs = gpt_probs(&model, (int)i);
        g_assert_cmpfloat(fabs(p_correct - probs[answer]), <=, 1e-6);
        g_assert_cmpfloat(fabs(p_predicted - probs[predicted]), <=, 1e-6);
        correct += predicted == answer;
        g_strfreev(f);
    }
    g_test_message("random tiny model: %d of %zu correct", correct, set.count);
    g_free(tokens);
    gpt_free(&model);
    g_strfreev(lines);
    problem_set_free(&set);
}

// A bad invocation: non-zero exit, exactly one line on stderr starting with
// "looplens eval:" and containing `word`, and no output file.
static void expect_fail(const char *word, const char *const *args)
{
    char *out = test_path("never.tsv");
    const char *argv[16];
    int n = 0;
    argv[n++] = "eval";
    for (int i = 0; args[i]; i++)
        argv[n++] = strcmp(args[i], "OUT") == 0 ? out : args[i];
    argv[n] = NULL;
    char *err = NULL;
    int status = test_run_looplens_argv(NULL, &err, argv);
    g_test_message("%s", err);
    g_assert_cmpint(status, ==, 1);
    g_assert_cmpint(test_count_lines(err), ==, 1);
    g_assert_true(g_str_has_prefix(err, "looplens eval: "));
    if (!strstr(err, word))
        g_error("'%s' lacks '%s'", err, word);
    g_assert_false(g_file_test(out, G_FILE_TEST_EXISTS));
    // Nor a leftover temp file beside it.
    GDir *dir = g_dir_open(test_tmpdir(), 0, NULL);
    for (const char *name; (name = g_dir_read_name(dir));)
        g_assert_false(g_str_has_prefix(name, ".never.tsv"));
    g_dir_close(dir);
    g_free(err);
    g_free(out);
}
#define FAILS(word, ...) expect_fail(word, (const char *const[]){__VA_ARGS__, NULL})

static void test_bad_input(void)
{
    char *missing = test_path("missing.safetensors");
    char *bad_data = test_write_file("bad.txt", "[START] a 1 b 2 c 3 d 4 [VARS] a b [EQ] ans = a + b "
                                                "[ANS] 4\n");
    FAILS("--model is required", "--data", data_path, "--out", "OUT");
    FAILS("--data is required", "--model", model_path, "--out", "OUT");
    FAILS("--out is required", "--model", model_path, "--data", data_path);
    FAILS("missing.safetensors", "--model", missing, "--data", data_path, "--out", "OUT");
    FAILS("cannot read", "--model", model_path, "--data", missing, "--out", "OUT");
    FAILS("header length", "--model", data_path, "--data", data_path, "--out", "OUT");
    FAILS("bad.txt:1", "--model", model_path, "--data", bad_data, "--out", "OUT");
    FAILS("--boost", "--model", model_path, "--data", data_path, "--boost", "two", "--out", "OUT");
    FAILS("--boost", "--model", model_path, "--data", data_path, "--boost", "nan", "--out", "OUT");
    FAILS("--boost", "--model", model_path, "--data", data_path, "--boost", "1e9", "--out", "OUT");
    FAILS("unexpected argument", "--model", model_path, "--data", data_path, "--out", "OUT",
          "extra");
    FAILS("--nonsense", "--nonsense", "--model", model_path, "--data", data_path, "--out", "OUT");
    // --out may not overwrite an input (however spelled) or a folder; the
    // data file is still the same problems afterwards.
    char *data_copy = g_strdup_printf("%s/./%s", test_tmpdir(), "test.txt");
    FAILS("--out and --data name the same file", "--model", model_path, "--data", data_path,
          "--out", data_copy);
    FAILS("--out and --model name the same file", "--model", model_path, "--data", data_path,
          "--out", model_path);
    FAILS("not a regular file (a folder)", "--model", model_path, "--data", data_path, "--out",
          test_tmpdir());
    ProblemSet set;
    GError *error = NULL;
    g_assert_true(problem_set_read(data_path, &set, &error));
    g_assert_cmpuint(set.count, ==, 300);
    problem_set_free(&set);
    g_free(data_copy);
    // An unwritable destination (a directory that does not exist).
    char *nowhere = test_path("no-such-dir/out.tsv");
    char *err = NULL;
    int status = test_run_looplens(NULL, &err, "eval", "--model", model_path, "--data",
                                   data_path, "--out", nowhere, NULL);
    g_assert_cmpint(status, ==, 1);
    g_assert_cmpint(test_count_lines(err), ==, 1);
    g_assert_nonnull(strstr(err, "cannot write"));
    g_free(err);
    g_free(nowhere);
    g_free(missing);
    g_free(bad_data);
}

static void test_help(void)
{
    char *out = NULL;
    int status = test_run_looplens(&out, NULL, "eval", "--help", NULL);
    g_assert_cmpint(status, ==, 0);
    g_assert_nonnull(strstr(out, "--boost"));
    g_assert_nonnull(strstr(out, "p_correct"));
    g_free(out);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_add_earlier_exercises("/ch05", "2-4");
    model_path = test_tiny_checkpoint("tiny.safetensors", 5, 0.3f);
    Problem problems[300];
    ProblemStream stream;
    problem_stream_init(&stream, SPLIT_TEST, ORDER_FIXED, 11);
    for (int i = 0; i < 300; i++)
        problem_stream_next(&stream, &problems[i]);
    data_path = test_path("test.txt");
    GError *error = NULL;
    g_assert_true(problem_set_write(data_path, problems, 300, &error));

    g_test_add_func("/ch05/eval/tsv", test_tsv);
    g_test_add_func("/ch05/eval/bad-input", test_bad_input);
    g_test_add_func("/ch05/eval/help", test_help);
    int status = g_test_run();
    g_free(model_path);
    g_free(data_path);
    return status;
}
