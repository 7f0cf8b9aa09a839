// ch07_capture.c: capturing attention: the copy out of the activations, the
// hooks' masks, the reference CSV of the chapter, and `looplens capture` as a
// user runs it. (The boost seen in a capture is chapter 9's: ch09_intervene.c.)
#include <float.h>
#include <math.h>
#include <string.h>

#include "../chapters/07-capture/reference.h"
#include "capture.h"
#include "capture_io.h"
#include "checkpoint.h"
#include "testutil.h"
#include "util.h"

enum { T = PROBLEM_LEN, B = 3 };

// The exercise: capture_copy_head must find (layer, b, head) in the
// (L,B,NH,T,T) hook. gpt_pattern/gpt_scores (chapter 5) are the reference.
static void test_copy_matches_activations(void)
{
    GPT model;
    test_tiny_model(&model, 7, 0.3f);
    Problem problems[B];
    int tokens[B * T];
    test_problems(problems, B, ORDER_FIXED, 11);
    for (int b = 0; b < B; b++)
        memcpy(tokens + b * T, problems[b].tokens, sizeof problems[b].tokens);
    g_assert_true(gpt_forward(&model, tokens, B, NULL, NULL));
    for (int b = 0; b < B; b++) {
        Capture c;
        capture_from_forward(&c, &model, &problems[b], b);
        for (int l = 0; l < c.n_layer; l++) {
            for (int h = 0; h < c.n_head; h++) {
                const float *want = gpt_pattern(&model, l, b, h);
                const float *got = capture_pattern(&c, l, h);
                for (int i = 0; i < T * T; i++) {
                    // Exact: a copy must not change a bit.
                    if (got[i] != want[i]) {
                        g_test_fail_printf(
                            "problem %d layer %d head %d: the captured pattern has %g at row %d "
                            "column %d, the activations %g: does capture_copy_head start at "
                            "((layer * B + b) * NH + head) * T * T of the (L,B,NH,T,T) hook?",
                            b, l, h, got[i], i / T, i % T, want[i]);
                        capture_free(&c);
                        gpt_free(&model);
                        return;
                    }
                }
                g_assert_cmpmem(capture_scores(&c, l, h), sizeof(float) * T * T,
                                gpt_scores(&model, l, b, h), sizeof(float) * T * T);
            }
        }
        capture_free(&c);
    }
    gpt_free(&model);
}

// What the two hooks hold: scores masked with -inf above the diagonal,
// patterns exactly 0 there and rows summing to 1 (to 1e-5: 20 float terms of
// at most 1 each, rounding error about 20 * 6e-8).
static void test_capture_hooks(void)
{
    GPT model;
    test_tiny_model(&model, 3, 0.3f);
    Problem p;
    test_problems(&p, 1, ORDER_SHUFFLED, 5);
    Capture c;
    GError *error = NULL;
    g_assert_true(capture_problem(&c, &model, &p, NULL, &error));
    g_assert_no_error(error);
    g_assert_cmpmem(c.problem.tokens, sizeof p.tokens, p.tokens, sizeof p.tokens);
    for (int l = 0; l < c.n_layer; l++) {
        for (int h = 0; h < c.n_head; h++) {
            const float *s = capture_scores(&c, l, h), *w = capture_pattern(&c, l, h);
            for (int i = 0; i < T; i++) {
                double sum = 0.0;
                for (int j = 0; j < T; j++) {
                    if (j > i) {
                        g_assert_true(isinf(s[i * T + j]) && s[i * T + j] < 0);
                        g_assert_cmpfloat(w[i * T + j], ==, 0.0f);
                    } else {
                        g_assert_true(isfinite(s[i * T + j]));
                    }
                    sum += w[i * T + j];
                }
                if (fabs(sum - 1.0) > 1e-5)
                    g_test_fail_printf("layer %d head %d row %d sums to %.7f, not 1", l, h, i,
                                       sum);
            }
        }
    }
    capture_free(&c);
    gpt_free(&model);
}

// A capture of one problem alone equals its capture inside a batch: the
// batch size only changes how BLAS blocks the products (tolerance 1e-6 on
// weights in [0, 1]).
static void test_capture_single_equals_batch(void)
{
    GPT model;
    test_tiny_model(&model, 9, 0.3f);
    Problem problems[B];
    int tokens[B * T];
    test_problems(problems, B, ORDER_FIXED, 2);
    for (int b = 0; b < B; b++)
        memcpy(tokens + b * T, problems[b].tokens, sizeof problems[b].tokens);
    g_assert_true(gpt_forward(&model, tokens, B, NULL, NULL));
    Capture batched, single;
    capture_from_forward(&batched, &model, &problems[2], 2);
    g_assert_true(capture_problem(&single, &model, &problems[2], NULL, NULL));
    size_t n = (size_t)single.n_layer * single.n_head * T * T;
    g_assert_cmpfloat(test_max_abs_diff(single.pattern, batched.pattern, n), <=, 1e-6f);
    capture_free(&batched);
    capture_free(&single);
    gpt_free(&model);
}

// The chapter's reference.csv matches a fresh capture from the committed
// model, and the check catches a changed matrix.
static void test_reference_csv(void)
{
    char *model_path = test_source_path(CH07_MODEL);
    char *reference = test_source_path(CH07_REFERENCE);
    GPT model;
    GError *error = NULL;
    g_assert_true(checkpoint_load(model_path, &model, NULL, &error));
    g_assert_no_error(error);
    Problem p;
    char why[256];
    g_assert_true(problem_parse(CH07_PROBLEM, &p, why, sizeof why));
    Capture c;
    g_assert_true(capture_problem(&c, &model, &p, NULL, &error));
    const float *fresh = capture_pattern(&c, CH07_LAYER, CH07_HEAD);

    double max_diff;
    int row, col;
    bool pass = capture_matches_csv(fresh, reference, CH07_TOLERANCE, &max_diff, &row, &col,
                                    &error);
    g_assert_no_error(error);
    if (!pass)
        g_test_fail_printf("a fresh capture differs from %s by %g at row %d column %d", reference,
                           max_diff, row, col);

    // Moved by 0.01 in one cell: FAIL, and the check says where.
    float changed[T * T];
    memcpy(changed, fresh, sizeof changed);
    changed[POS_ANS * T + 4] += 0.01f;
    char *changed_path = test_path("changed.csv");
    g_assert_true(matrix_csv_write(changed_path, changed, &error));
    pass = capture_matches_csv(fresh, changed_path, CH07_TOLERANCE, &max_diff, &row, &col, &error);
    g_assert_no_error(error);
    g_assert_false(pass);
    g_assert_cmpfloat_with_epsilon(max_diff, 0.01, 1e-6);
    g_assert_cmpint(row, ==, POS_ANS);
    g_assert_cmpint(col, ==, 4);
    // Moved by 1e-5: within the tolerance.
    changed[POS_ANS * T + 4] = fresh[POS_ANS * T + 4] + 1e-5f;
    g_assert_true(matrix_csv_write(changed_path, changed, &error));
    g_assert_true(capture_matches_csv(fresh, changed_path, CH07_TOLERANCE, NULL, NULL, NULL,
                                      &error));
    // A file that is not a capture is an error, not a mismatch.
    char *junk = test_write_file("junk.csv", "1,2,3\n");
    g_assert_false(capture_matches_csv(fresh, junk, CH07_TOLERANCE, NULL, NULL, NULL, &error));
    g_assert_nonnull(error);
    g_assert_true(error->domain == LL_ERROR);
    g_clear_error(&error);

    capture_free(&c);
    gpt_free(&model);
    g_free(junk);
    g_free(changed_path);
    g_free(model_path);
    g_free(reference);
}

static Problem set_first_problem(const char *path)
{
    ProblemSet set;
    g_assert_true(problem_set_read(path, &set, NULL));
    Problem p = set.items[0];
    problem_set_free(&set);
    return p;
}

// `looplens capture` writes the library's capture, bit for bit.
static void test_capture_cli(void)
{
    char *model_path = test_tiny_checkpoint("cli.safetensors", 21, 0.3f);
    char *data = test_write_file(
        "cli.txt", "# two problems\n"
                   "[START] a 1 b 8 c 1 d 5 [VARS] a c [EQ] ans = a + c [ANS] 2\n\n"
                   "[START] a 5 b 2 c 6 d 0 [VARS] b b [EQ] ans = b * b [ANS] 4\n");
    char *out = test_path("cli.csv"), *npy = test_path("cli.npy");
    char *err = NULL;
    int status = test_run_looplens(NULL, &err, "capture", "--model", model_path, "--data", data,
                                   "--index", "1", "--layer", "1", "--head", "0", "--boost", "2.0",
                                   "--npy", npy, "--out", out, NULL);
    if (status != 0)
        g_test_fail_printf("looplens capture failed: %s", err);
    g_free(err);

    GPT model;
    g_assert_true(checkpoint_load(model_path, &model, NULL, NULL));
    Problem p;
    g_assert_true(problem_parse("[START] a 5 b 2 c 6 d 0 [VARS] b b [EQ] ans = b * b [ANS] 4", &p,
                                NULL, 0));
    Boost boost;
    boost_init_default(&boost, 2.0f);
    Capture c;
    g_assert_true(capture_problem(&c, &model, &p, &boost, NULL));
    float read[T * T];
    GError *error = NULL;
    g_assert_true(matrix_csv_read(out, read, &error));
    g_assert_no_error(error);
    g_assert_cmpmem(read, sizeof read, capture_pattern(&c, 1, 0), sizeof read);
    // The .npy: a header padded to a multiple of 64 bytes, then (L, NH, 20, 20) floats.
    char *bytes;
    gsize length;
    g_assert_true(g_file_get_contents(npy, &bytes, &length, NULL));
    size_t floats = (size_t)c.n_layer * c.n_head * T * T;
    g_assert_cmpuint(length, >, floats * 4);
    g_assert_cmpuint((length - floats * 4) % 64, ==, 0);
    g_assert_cmpmem(bytes + length - floats * 4, floats * 4, c.pattern, floats * 4);
    g_free(bytes);

    // --scores: the raw scores, the lowest float where masked (CSV is finite).
    g_assert_cmpint(test_run_looplens(NULL, NULL, "capture", "--model", model_path, "--data", data,
                                      "--index", "0", "--layer", "0", "--head", "1", "--scores",
                                      "--out", out, NULL),
                    ==, 0);
    g_assert_true(gpt_forward(&model, set_first_problem(data).tokens, 1, NULL, NULL));
    g_assert_true(matrix_csv_read(out, read, &error));
    const float *scores = gpt_scores(&model, 0, 0, 1);
    for (int i = 0; i < T * T; i++)
        g_assert_cmpfloat(read[i], ==, isinf(scores[i]) ? -FLT_MAX : scores[i]);

    capture_free(&c);
    gpt_free(&model);
    g_free(model_path);
    g_free(data);
    g_free(out);
    g_free(npy);
}

typedef struct {
    const char *args[16];
    const char *reason;
} BadCall;

static void test_capture_bad_flags(void)
{
    char *model = test_tiny_checkpoint("bad.safetensors", 1, 0.02f);
    char *data = test_write_file("bad.txt",
                                 "[START] a 1 b 8 c 1 d 5 [VARS] a c [EQ] ans = a + c [ANS] 2\n");
    char *corrupt = test_write_file("corrupt.safetensors", "not a checkpoint at all");
    char *out = test_path("never.csv");
    // clang-format off
    const BadCall calls[] = {
        {{"capture", "--data", data, "--index", "0", "--layer", "0", "--head", "0", "--out", out}, "--model is required"},
        {{"capture", "--model", model, "--data", data, "--layer", "0", "--head", "0", "--out", out}, "--index is required"},
        {{"capture", "--model", model, "--data", data, "--index", "0", "--layer", "0", "--head", "0"}, "--out is required"},
        {{"capture", "--model", model, "--data", data, "--index", "1", "--layer", "0", "--head", "0", "--out", out}, "--index: 1 is out of range: there are 1 problems"},
        {{"capture", "--model", model, "--data", data, "--index", "-1", "--layer", "0", "--head", "0", "--out", out}, "--index: expected an integer 0 or more, got '-1'"},
        {{"capture", "--model", model, "--data", data, "--index", "0", "--layer", "2", "--head", "0", "--out", out}, "--layer: 2 is out of range: there are 2 layers (0..1)"},
        {{"capture", "--model", model, "--data", data, "--index", "0", "--layer", "0", "--head", "5", "--out", out}, "--head: 5 is out of range: there are 2 heads (0..1)"},
        {{"capture", "--model", model, "--data", data, "--index", "x", "--layer", "0", "--head", "0", "--out", out}, "--index"},
        {{"capture", "--model", model, "--data", data, "--index", "0", "--layer", "0", "--head", "0", "--boost", "lots", "--out", out}, "--boost"},
        {{"capture", "--model", model, "--data", data, "--index", "0", "--layer", "0", "--head", "0", "--boost", "1e9", "--out", out}, "--boost"},
        {{"capture", "--model", "/nonexistent/m.safetensors", "--data", data, "--index", "0", "--layer", "0", "--head", "0", "--out", out}, "/nonexistent/m.safetensors"},
        {{"capture", "--model", corrupt, "--data", data, "--index", "0", "--layer", "0", "--head", "0", "--out", out}, "corrupt.safetensors"},
        {{"capture", "--model", model, "--data", corrupt, "--index", "0", "--layer", "0", "--head", "0", "--out", out}, "corrupt.safetensors:1"},
        {{"capture", "--model", model, "--data", data, "--index", "0", "--layer", "0", "--head", "0", "--out", "/nonexistent/x.csv"}, "/nonexistent/x.csv"},
        {{"capture", "--model", model, "--data", data, "--index", "0", "--layer", "0", "--head", "0", "--out", out, "stray"}, "stray"},
        // A bad --npy leaves no CSV behind: both are written, or neither.
        {{"capture", "--model", model, "--data", data, "--index", "0", "--layer", "0", "--head", "0", "--npy", "/nonexistent/c.npy", "--out", out}, "/nonexistent/c.npy"},
        {{"capture", "--model", model, "--data", data, "--index", "0", "--layer", "0", "--head", "0", "--npy", out, "--out", out}, "--out and --npy name the same file"},
    };
    // clang-format on
    for (size_t k = 0; k < G_N_ELEMENTS(calls); k++) {
        char *err = NULL;
        int status = test_run_looplens_argv(NULL, &err, calls[k].args);
        if (status == 0 || test_count_lines(err) != 1 || !strstr(err, calls[k].reason))
            g_test_fail_printf("call %zu: status %d, stderr '%s' (want one line with '%s')", k,
                               status, err, calls[k].reason);
        g_free(err);
        g_assert_false(g_file_test(out, G_FILE_TEST_EXISTS));
    }
    g_free(model);
    g_free(data);
    g_free(corrupt);
    g_free(out);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_add_earlier_exercises("/ch07", "2-5");
    g_test_add_func("/ch07/capture/copy-matches-activations", test_copy_matches_activations);
    g_test_add_func("/ch07/capture/hooks", test_capture_hooks);
    g_test_add_func("/ch07/capture/single-equals-batch", test_capture_single_equals_batch);
    g_test_add_func("/ch07/capture/reference-csv", test_reference_csv);
    g_test_add_func("/ch07/capture/cli", test_capture_cli);
    g_test_add_func("/ch07/capture/cli-bad-flags", test_capture_bad_flags);
    return g_test_run();
}
