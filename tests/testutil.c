// testutil.c: see testutil.h.
#include "heatmap.h"
#include "testutil.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <sys/wait.h>

#include <cairo.h>

#include <glib/gstdio.h>

#include "checkpoint.h"
#include "model.h"

static char *tmpdir = NULL;

static void remove_tree(const char *path)
{
    GDir *dir = g_dir_open(path, 0, NULL);
    if (dir) {
        const char *name;
        while ((name = g_dir_read_name(dir))) {
            char *child = g_build_filename(path, name, NULL);
            if (g_file_test(child, G_FILE_TEST_IS_DIR) && !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
                remove_tree(child);
            else
                g_unlink(child);
            g_free(child);
        }
        g_dir_close(dir);
    }
    g_rmdir(path);
}

static void cleanup_tmpdir(void)
{
    if (tmpdir && !g_getenv("LOOPLENS_KEEP_TMP"))
        remove_tree(tmpdir);
    g_free(tmpdir);
    tmpdir = NULL;
}

const char *test_tmpdir(void)
{
    if (!tmpdir) {
        GError *error = NULL;
        tmpdir = g_dir_make_tmp("looplens-test-XXXXXX", &error);
        g_assert_no_error(error);
        atexit(cleanup_tmpdir);
    }
    return tmpdir;
}

char *test_path(const char *name)
{
    return g_build_filename(test_tmpdir(), name, NULL);
}

char *test_write_file(const char *name, const char *text)
{
    char *path = test_path(name);
    GError *error = NULL;
    g_file_set_contents(path, text, -1, &error);
    g_assert_no_error(error);
    return path;
}

char *test_source_path(const char *relative)
{
    const char *root = g_getenv("LOOPLENS_SOURCE_DIR");
    g_assert_nonnull(root); // set by tests/meson.build
    return g_build_filename(root, relative, NULL);
}

char *test_build_path(const char *relative)
{
    const char *root = g_getenv("LOOPLENS_BUILD_DIR");
    g_assert_nonnull(root); // set by tests/meson.build
    return g_build_filename(root, relative, NULL);
}

int test_run_program(char **out, char **err, const char *working_dir, const char *const *argv)
{
    char *local_out = NULL, *local_err = NULL;
    int wait_status = 0;
    GError *error = NULL;
    g_spawn_sync(working_dir, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &local_out,
                 &local_err, &wait_status, &error);
    g_assert_no_error(error);
    if (out)
        *out = local_out;
    else
        g_free(local_out);
    if (err)
        *err = local_err;
    else
        g_free(local_err);
    if (WIFEXITED(wait_status))
        return WEXITSTATUS(wait_status);
    return 128 + (WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : 0);
}

int test_run_looplens_argv(char **out, char **err, const char *const *args)
{
    const char *exe = g_getenv("LOOPLENS_EXE");
    g_assert_nonnull(exe); // set by tests/meson.build
    GPtrArray *argv = g_ptr_array_new();
    g_ptr_array_add(argv, (gpointer)exe);
    for (int i = 0; args[i]; i++)
        g_ptr_array_add(argv, (gpointer)args[i]);
    g_ptr_array_add(argv, NULL);
    char *local_out = NULL, *local_err = NULL;
    int wait_status = 0;
    GError *error = NULL;
    g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &local_out,
                 &local_err, &wait_status, &error);
    g_assert_no_error(error);
    g_ptr_array_free(argv, TRUE);
    if (out)
        *out = local_out;
    else
        g_free(local_out);
    if (err)
        *err = local_err;
    else
        g_free(local_err);
    if (WIFEXITED(wait_status))
        return WEXITSTATUS(wait_status);
    return 128 + (WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : 0);
}

int test_run_looplens(char **out, char **err, const char *arg, ...)
{
    GPtrArray *args = g_ptr_array_new();
    va_list ap;
    va_start(ap, arg);
    for (const char *a = arg; a; a = va_arg(ap, const char *))
        g_ptr_array_add(args, (gpointer)a);
    va_end(ap);
    g_ptr_array_add(args, NULL);
    int status = test_run_looplens_argv(out, err, (const char *const *)args->pdata);
    g_ptr_array_free(args, TRUE);
    return status;
}

int test_count_lines(const char *text)
{
    int lines = 0;
    for (const char *c = text; *c; c++)
        if (*c == '\n')
            lines++;
    size_t len = strlen(text);
    if (len > 0 && text[len - 1] != '\n')
        lines++;
    return lines;
}

char *test_tiny_checkpoint(const char *name, uint64_t seed, float std)
{
    GPTConfig config;
    g_assert_true(gpt_config_preset("tiny", &config));
    GPT model;
    GError *error = NULL;
    g_assert_true(gpt_create(&model, &config, &error));
    gpt_init_random_std(&model, seed, std);
    char *path = test_path(name);
    g_assert_true(checkpoint_save(path, &model, ORDER_FIXED, NULL, &error));
    g_assert_no_error(error);
    gpt_free(&model);
    return path;
}

void test_fill_normal(float *x, size_t n, uint64_t seed, float std)
{
    Rng rng;
    rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(std * rng_normal(&rng));
}

void test_problem_tokens(int *tokens, int count, int order, uint64_t seed)
{
    ProblemStream stream;
    problem_stream_init(&stream, SPLIT_TEST, (DefinitionOrder)order, seed);
    for (int b = 0; b < count; b++) {
        Problem p;
        problem_stream_next(&stream, &p);
        memcpy(tokens + (size_t)b * PROBLEM_LEN, p.tokens, sizeof p.tokens);
    }
}

float test_max_abs_diff(const float *a, const float *b, size_t n)
{
    float max = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (isnan(d))
            return d;
        if (d > max)
            max = d;
    }
    return max;
}

void test_release_font_caches(void)
{
    heatmap_release_font_caches();
}

void test_tiny_model(GPT *model, uint64_t seed, float std)
{
    GPTConfig config;
    g_assert_true(gpt_config_preset("tiny", &config));
    GError *error = NULL;
    g_assert_true(gpt_create(model, &config, &error));
    g_assert_no_error(error);
    gpt_init_random_std(model, seed, std);
}

void test_problems(Problem *out, int count, DefinitionOrder order, uint64_t seed)
{
    ProblemStream stream;
    problem_stream_init(&stream, SPLIT_TEST, order, seed);
    for (int i = 0; i < count; i++)
        problem_stream_next(&stream, &out[i]);
}

char *test_problem_file(const char *name, int count, DefinitionOrder order, uint64_t seed)
{
    Problem *problems = g_new(Problem, count);
    test_problems(problems, count, order, seed);
    char *path = test_path(name);
    GError *error = NULL;
    g_assert_true(problem_set_write(path, problems, count, &error));
    g_assert_no_error(error);
    g_free(problems);
    return path;
}

void test_reference_attention(double *scores, double *pattern, double *out, const float *qkv,
                              const float *boost_row, int T, int C, int NH, int h)
{
    g_assert_cmpint(T, <=, 64);
    int hs = C / NH;
    const float *q = qkv + h * hs, *k = qkv + C + h * hs, *v = qkv + 2 * C + h * hs;
    for (int i = 0; i < T; i++) {
        double max = -INFINITY, sum = 0.0, weight[64];
        for (int j = 0; j < T; j++) {
            double score = -INFINITY;
            if (j <= i) {
                double dot = 0.0;
                for (int d = 0; d < hs; d++)
                    dot += (double)q[i * 3 * C + d] * k[j * 3 * C + d];
                score = dot / sqrt((double)hs);
                if (boost_row && i == POS_ANS)
                    score += boost_row[h * T + j];
                max = fmax(max, score);
            }
            scores[i * T + j] = score;
        }
        for (int j = 0; j <= i; j++)
            sum += weight[j] = exp(scores[i * T + j] - max);
        for (int j = 0; j < T; j++)
            pattern[i * T + j] = j <= i ? weight[j] / sum : 0.0;
        for (int d = 0; d < hs; d++) {
            double acc = 0.0;
            for (int j = 0; j <= i; j++)
                acc += pattern[i * T + j] * v[j * 3 * C + d];
            out[i * hs + d] = acc;
        }
    }
}

bool test_check_pattern(const float *pattern, int T, int head, const char *what)
{
    for (int i = 0; i < T; i++) {
        float sum = 0.0f;
        for (int j = 0; j < T; j++)
            sum += pattern[i * T + j];
        if (!(fabsf(sum - 1.0f) <= 1e-5f)) {
            g_test_fail_printf("%s: row %d of head %d sums to %f, not 1: is the softmax applied "
                               "to every row, after the mask?", what, i, head, sum);
            return false;
        }
        for (int j = 0; j < T; j++) {
            float w = pattern[i * T + j];
            if (j > i && w != 0.0f) {
                g_test_fail_printf("%s: head %d, query %d gives weight %g to the later key %d: "
                                   "masked cells must be exactly 0", what, head, i, w, j);
                return false;
            }
            if (!(w >= 0.0f && w <= 1.0f)) {
                g_test_fail_printf("%s: head %d, row %d, column %d is %g, not a weight in [0, 1]",
                                   what, head, i, j, w);
                return false;
            }
        }
    }
    return true;
}
