// testutil.h: helpers shared by the test programs.
#ifndef LOOPLENS_TESTUTIL_H
#define LOOPLENS_TESTUTIL_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "model.h"
#include "problem.h"

// A fresh temporary directory for one test program, removed at exit.
const char *test_tmpdir(void);
// A path inside test_tmpdir() (caller frees).
char *test_path(const char *name);
// Writes text to a file in test_tmpdir() and returns its path (caller frees).
char *test_write_file(const char *name, const char *text);
// The path of a file in the source tree, e.g. "tests/fixtures/x" (caller frees).
char *test_source_path(const char *relative);

// The path of a file in the build tree, e.g. "tools/booktool" (caller frees).
char *test_build_path(const char *relative);
// Runs any program: argv[0] is its path, argv is NULL-terminated; optionally in
// working_dir (NULL: here). Returns its exit status (128 + signal if killed);
// stdout/stderr captured if not NULL.
int test_run_program(char **out, char **err, const char *working_dir, const char *const *argv);

// Runs the looplens program (LOOPLENS_EXE) with the given arguments
// (NULL-terminated). Returns its exit status; stdout/stderr captured if not NULL.
int test_run_looplens(char **out, char **err, const char *arg, ...) G_GNUC_NULL_TERMINATED;
// The same with an argv vector.
int test_run_looplens_argv(char **out, char **err, const char *const *args);

// Saves a randomly initialised "tiny" preset model (gpt_init_random_std with
// this seed and std; fixed order) as a checkpoint in test_tmpdir() and returns
// its path (caller frees).
char *test_tiny_checkpoint(const char *name, uint64_t seed, float std);

// The number of lines in a string (a final line without "\n" counts too).
int test_count_lines(const char *text);

// Fills x (n) with N(0, std^2) numbers from rng_normal seeded with seed.
void test_fill_normal(float *x, size_t n, uint64_t seed, float std);
// count real problems (test split) from problem_stream, as tokens (count, 20).
void test_problem_tokens(int *tokens, int count, int order, uint64_t seed);
// max |a[i] - b[i]| over n floats (a NaN anywhere gives NaN).
float test_max_abs_diff(const float *a, const float *b, size_t n);

// Creates a "tiny" preset model in memory, gpt_init_random_std(seed, std)
// (free with gpt_free). A std well above 0.02 gives sharper attention.
void test_tiny_model(GPT *model, uint64_t seed, float std);
// count test-split problems of the given order from problem_stream (seed).
void test_problems(Problem *out, int count, DefinitionOrder order, uint64_t seed);

// Writes count test-split problems (problem_stream with this order and seed)
// as a problem file in test_tmpdir() and returns its path (caller frees).
char *test_problem_file(const char *name, int count, DefinitionOrder order, uint64_t seed);

// Attention for one head h of one problem, in double precision, written from
// the definition in SPEC section 2 with nothing shared with lib/: scores =
// q_i . k_j / sqrt(head size), -INFINITY for a later key j > i, plus
// boost_row[h * T + j] on row POS_ANS if boost_row is not NULL; pattern = the
// softmax of each row; out row i = sum over j of pattern[i][j] * v_j.
// qkv (T, 3C) holds q, k, v of every head side by side; scores and pattern are
// (T, T), out is (T, C / NH). T is at most 64.
void test_reference_attention(double *scores, double *pattern, double *out, const float *qkv,
                              const float *boost_row, int T, int C, int NH, int h);

// Checks one head's (T,T) pattern: every row sums to 1 (within 1e-5: T float
// additions), the masked upper triangle is exactly 0, every weight is in [0, 1].
// At the first problem it fails the test with a message in words that starts
// with `what` and returns false.
bool test_check_pattern(const float *pattern, int T, int head, const char *what);

// For a test program that runs code of earlier chapters' exercises (from
// chapter 5 on, the whole model): registers the test "<suite>/earlier-exercises"
// (suite like "/ch07"), which runs first and checks each exercise of the
// chapters listed ("2-5" or "1-5,7") on a small case with a known answer. A
// student who skipped one gets a message that names it and its file, instead
// of a wrong number deep inside the model. Call after g_test_init.
void test_add_earlier_exercises(const char *suite, const char *chapters);

// Call at the end of a test program that drew text with cairo: frees cairo's
// and fontconfig's caches, so the sanitizer build's leak checker reports only
// leaks of our own.
void test_release_font_caches(void);

#endif
