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

#include "capture.h"
#include "checkpoint.h"
#include "compare.h"
#include "layers.h"
#include "model.h"
#include "util.h"

static char *tmpdir = NULL;

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

// ---------------------------------------------------------------------------
// The earlier chapters' exercises, each on a case small enough to check by
// hand. Each probe returns NULL when the exercise gives the right answer, or
// what it got wrong (caller frees). Tolerance 1e-6: every expected value is
// within a few float roundings of the computed one.

static char *probe_shuffle_names(void)
{
    // The shuffled generator's first 2400 problems show every one of the 24
    // orders of the four names (each has probability 1/24: missing one by
    // chance has probability below 1e-40).
    ProblemStream stream;
    problem_stream_init(&stream, SPLIT_TRAIN, ORDER_SHUFFLED, 7);
    GHashTable *orders = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (int i = 0; i < 2400; i++) {
        Problem p;
        problem_stream_next(&stream, &p);
        char *order = g_strdup_printf("%d %d %d %d", p.tokens[name_position(0)],
                                      p.tokens[name_position(1)], p.tokens[name_position(2)],
                                      p.tokens[name_position(3)]);
        g_hash_table_add(orders, order);
    }
    guint distinct = g_hash_table_size(orders);
    g_hash_table_destroy(orders);
    return distinct == 24 ? NULL
                          : g_strdup_printf("2400 shuffled problems show %u of the 24 orders "
                                            "of the names", distinct);
}

static char *probe_encoder_forward(void)
{
    const int tokens[2] = {1, 0};
    const float wte[4] = {1, 2, 3, 4}, wpe[4] = {10, 20, 30, 40}, want[4] = {13, 24, 31, 42};
    float out[4] = {0};
    encoder_forward(out, tokens, wte, wpe, 1, 2, 2);
    for (int i = 0; i < 4; i++)
        if (out[i] != want[i])
            return g_strdup_printf("out[%d] is %g, want %g = wte[token] + wpe[position]", i,
                                   out[i], want[i]);
    return NULL;
}

static char *probe_softmax_row(void)
{
    const float inp[3] = {0.0f, logf(3.0f), -INFINITY}, want[3] = {0.25f, 0.75f, 0.0f};
    float out[3] = {0};
    softmax_row(out, inp, 3);
    for (int i = 0; i < 3; i++)
        if (!(fabsf(out[i] - want[i]) <= 1e-6f))
            return g_strdup_printf("the softmax of [0, ln 3, -inf] is [%g, %g, %g], want "
                                   "[0.25, 0.75, 0]", out[0], out[1], out[2]);
    return NULL;
}

static char *probe_attention_forward_loops(void)
{
    // One head of size 1, two positions: q1 . k0 = 0 and q1 . k1 = ln 3, so
    // query 1 weighs the values 4 and 8 by 1/4 and 3/4.
    const float qkv[6] = {1.0f, 0.0f, 4.0f, 1.0f, logf(3.0f), 8.0f}; // (T=2, 3C=3)
    float out[2] = {0}, scores[4] = {0}, pattern[4] = {0};
    attention_forward_loops(out, scores, pattern, qkv, NULL, 1, 2, 1, 1);
    const float want_pattern[4] = {1.0f, 0.0f, 0.25f, 0.75f}, want_out[2] = {4.0f, 7.0f};
    for (int i = 0; i < 4; i++)
        if (!(fabsf(pattern[i] - want_pattern[i]) <= 1e-6f))
            return g_strdup_printf("pattern[%d][%d] is %g, want %g", i / 2, i % 2, pattern[i],
                                   want_pattern[i]);
    for (int i = 0; i < 2; i++)
        if (!(fabsf(out[i] - want_out[i]) <= 1e-6f))
            return g_strdup_printf("out[%d] is %g, want %g", i, out[i], want_out[i]);
    return NULL;
}

static char *probe_layernorm_forward(void)
{
    // [1, 3]: mean 2, variance 1, so [-1, 1] / sqrt(1 + 1e-5), then * 2 + 0.5.
    const float inp[2] = {1, 3}, weight[2] = {2, 2}, bias[2] = {0.5f, 0.5f};
    float out[2] = {0}, mean = 0, rstd = 0;
    layernorm_forward(out, &mean, &rstd, inp, weight, bias, 1, 2);
    float r = 1.0f / sqrtf(1.0f + 1e-5f);
    if (!(fabsf(out[0] - (0.5f - 2 * r)) <= 1e-6f && fabsf(out[1] - (0.5f + 2 * r)) <= 1e-6f))
        return g_strdup_printf("LayerNorm of [1, 3] with weight 2 and bias 0.5 is [%g, %g], "
                               "want [%g, %g]", out[0], out[1], 0.5f - 2 * r, 0.5f + 2 * r);
    if (!(mean == 2.0f && fabsf(rstd - r) <= 1e-6f))
        return g_strdup_printf("mean %g and rstd %g, want 2 and %g", mean, rstd, r);
    return NULL;
}

static char *probe_crossentropy_softmax_backward(void)
{
    const float probs[2] = {0.25f, 0.75f};
    const int target = 1;
    float dlogits[2] = {1.0f, 1.0f};
    crossentropy_softmax_backward(dlogits, probs, &target, 0.5f, 1, 2);
    if (!(fabsf(dlogits[0] - 1.125f) <= 1e-6f && fabsf(dlogits[1] - 0.875f) <= 1e-6f))
        return g_strdup_printf("1 + 0.5 * (probs - onehot) for probs [0.25, 0.75], target 1 is "
                               "[%g, %g], want [1.125, 0.875]", dlogits[0], dlogits[1]);
    return NULL;
}

static char *probe_capture_copy_head(void)
{
    float hook[2 * 2 * 2 * 4]; // (L=2, B=2, NH=2, T=2, T=2): the value is the index
    for (int i = 0; i < 32; i++)
        hook[i] = (float)i;
    float out[4] = {0};
    capture_copy_head(out, hook, 1, 0, 1, 2, 2, 2); // layer 1, problem 0, head 1: from 20
    for (int i = 0; i < 4; i++)
        if (out[i] != 20.0f + i)
            return g_strdup_printf("layer 1, problem 0, head 1 of a (2,2,2,2,2) hook starts at "
                                   "cell 20; out[%d] is %g, want %g", i, out[i], 20.0f + i);
    return NULL;
}

static char *probe_pattern_accumulate(void)
{
    const float pattern[4] = {1, 2, 3, 4};
    const int swap[2] = {1, 0};
    double sum[4] = {10, 10, 10, 10};
    pattern_accumulate(sum, pattern, swap, 2);
    const double want[4] = {14, 13, 12, 11};
    for (int i = 0; i < 4; i++)
        if (sum[i] != want[i])
            return g_strdup_printf("adding [[1, 2], [3, 4]] with the order [1, 0] to 10s gives "
                                   "sum[%d] = %g, want %g", i, sum[i], want[i]);
    return NULL;
}

typedef struct {
    int chapter;
    const char *function, *file;
    char *(*probe)(void);
} Exercise;

static const Exercise exercises[] = {
    {1, "shuffle_names", "lib/problem.c", probe_shuffle_names},
    {2, "encoder_forward", "lib/embedding.c", probe_encoder_forward},
    {3, "softmax_row", "lib/attention.c", probe_softmax_row},
    {4, "attention_forward_loops", "lib/attention_loops.c", probe_attention_forward_loops},
    {5, "layernorm_forward", "lib/layernorm.c", probe_layernorm_forward},
    {6, "crossentropy_softmax_backward", "lib/crossentropy.c",
     probe_crossentropy_softmax_backward},
    {7, "capture_copy_head", "lib/capture.c", probe_capture_copy_head},
    {8, "pattern_accumulate", "lib/compare.c", probe_pattern_accumulate},
};

static void test_earlier_exercises(gconstpointer data)
{
    const char *chapters = data;
    bool needed[10] = {false};
    char **parts = g_strsplit(chapters, ",", -1);
    for (char **p = parts; *p; p++) {
        int first = 0, last = 0;
        if (sscanf(*p, "%d-%d", &first, &last) != 2)
            last = first;
        g_assert_true(first >= 1 && first <= last && last <= 8);
        for (int c = first; c <= last; c++)
            needed[c] = true;
    }
    g_strfreev(parts);
    GString *missing = g_string_new("");
    for (size_t i = 0; i < G_N_ELEMENTS(exercises); i++) {
        const Exercise *e = &exercises[i];
        if (!needed[e->chapter])
            continue;
        char *wrong = e->probe();
        if (wrong)
            g_string_append_printf(missing, "%schapter %d's %s (%s): %s",
                                   missing->len ? "; " : "", e->chapter, e->function, e->file,
                                   wrong);
        g_free(wrong);
    }
    if (missing->len)
        g_test_fail_printf("these tests need the exercises of chapters %s done first. Not done "
                           "yet: %s. Do those first (tools/progress shows where you are).",
                           chapters, missing->str);
    g_string_free(missing, TRUE);
}

void test_add_earlier_exercises(const char *suite, const char *chapters)
{
    char *path = g_strdup_printf("%s/earlier-exercises", suite);
    g_test_add_data_func(path, chapters, test_earlier_exercises);
    g_free(path);
}
