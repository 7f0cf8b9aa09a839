// ch06_training.c: chapter 6's training code: the whole model's gradient,
// AdamW, the learning-rate schedule, a golden trajectory from PyTorch,
// determinism across thread counts, evaluation, and the training state.
#include <math.h>
#include <string.h>

#include <omp.h>

#include "checkpoint.h"
#include "layers.h"
#include "model.h"
#include "safetensors.h"
#include "testutil.h"
#include "train.h"
#include "util.h"

// A tiny model (2 layers, 2 heads, d_model 16, d_ff 32) whose weights have
// std 0.3 (attention patterns far from uniform) and whose biases and
// LayerNorm parameters are away from their 0 / 1 defaults, so every term of
// every backward function matters.
static void make_lively_tiny(GPT *model, uint64_t seed)
{
    GPTConfig config;
    g_assert_true(gpt_config_preset("tiny", &config));
    GError *error = NULL;
    g_assert_true(gpt_create(model, &config, &error));
    gpt_init_random_std(model, seed, 0.3f);
    float *p = model->params_memory;
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        ParamInfo info;
        param_info(&config, i, &info);
        size_t n = info.dims[0] * info.dims[1] * (info.per_layer ? (size_t)config.n_layer : 1);
        if (info.rank == 1) {
            float *noise = g_new(float, n);
            test_fill_normal(noise, n, seed + 100 + i, 0.1f);
            for (size_t j = 0; j < n; j++)
                p[j] += noise[j];
            g_free(noise);
        }
        p += n;
    }
}

static size_t tensor_size(const GPTConfig *c, int i, size_t *offset)
{
    size_t start = 0;
    for (int k = 0; k <= i; k++) {
        ParamInfo info;
        param_info(c, k, &info);
        size_t n = info.dims[0] * info.dims[1] * (info.per_layer ? (size_t)c->n_layer : 1);
        if (k == i) {
            *offset = start;
            return n;
        }
        start += n;
    }
    g_assert_not_reached();
}

static Trainer make_trainer(GPT *model, int batch, bool all_positions)
{
    TrainConfig tc;
    train_config_default(&tc);
    tc.batch = batch;
    tc.all_positions = all_positions;
    ProblemStream stream;
    problem_stream_init(&stream, SPLIT_TRAIN, ORDER_FIXED, 7);
    Trainer t;
    GError *error = NULL;
    g_assert_true(trainer_init(&t, model, &tc, &stream, &error));
    g_assert_no_error(error);
    return t;
}

// The loss at the current weights (and, as a side effect, its gradient).
static double loss_at(Trainer *t, const int *tokens, int B)
{
    GError *error = NULL;
    g_assert_true(gpt_forward(t->model, tokens, B, NULL, &error));
    zero_grad(t);
    return gpt_backward(t, tokens, B);
}

// ----------------------------------------------------------------------------
// The gradient of the whole model against central finite differences.
//
// For each of the 16 parameter tensors and 3 random unit directions u inside
// it, the derivative of the loss along u, (L(w + h u) - L(w - h u)) / 2h with
// h = 1e-2, must match grad . u. The loss is computed in float (~5e-7 absolute
// rounding on a loss near 4, i.e. ~3e-5 after dividing by 2h) and the
// truncation error is O(h^2) (~1e-4 relative here), so the tolerance is 2% of
// the larger of the two plus 2e-4 absolute. Dropping any single term of the
// backward pass (tried: the ln_2 residual contribution, the output matrix's
// share of wte, the keys' gradient in attention) changes some directional
// derivative by far more than that.
static void check_gradient(bool all_positions)
{
    GPT model;
    make_lively_tiny(&model, 11);
    enum { B = 4 };
    int tokens[B * PROBLEM_LEN];
    test_problem_tokens(tokens, B, ORDER_FIXED, 5);
    Trainer t = make_trainer(&model, B, all_positions);
    loss_at(&t, tokens, B);
    size_t P = model.num_parameters;
    float *grad = g_memdup2(t.grads_memory, P * sizeof(float));
    float *saved = g_memdup2(model.params_memory, P * sizeof(float));
    const double h = 1e-2;
    int checked = 0, failed = 0;
    double worst = 0.0; // the largest |analytic - numeric| / tolerance
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        size_t offset, n = tensor_size(&model.config, i, &offset);
        ParamInfo info;
        param_info(&model.config, i, &info);
        float *u = g_new(float, n);
        for (int trial = 0; trial < 3; trial++) {
            test_fill_normal(u, n, 1000 + 10 * i + trial, 1.0f);
            double norm = 0.0;
            for (size_t j = 0; j < n; j++)
                norm += (double)u[j] * u[j];
            norm = sqrt(norm);
            double analytic = 0.0;
            for (size_t j = 0; j < n; j++) {
                u[j] = (float)(u[j] / norm);
                analytic += (double)grad[offset + j] * u[j];
            }
            for (size_t j = 0; j < n; j++)
                model.params_memory[offset + j] = saved[offset + j] + (float)(h * u[j]);
            double plus = loss_at(&t, tokens, B);
            for (size_t j = 0; j < n; j++)
                model.params_memory[offset + j] = saved[offset + j] - (float)(h * u[j]);
            double minus = loss_at(&t, tokens, B);
            memcpy(model.params_memory + offset, saved + offset, n * sizeof(float));
            double numeric = (plus - minus) / (2 * h);
            double tolerance = 0.02 * fmax(fabs(analytic), fabs(numeric)) + 2e-4;
            checked++;
            worst = fmax(worst, fabs(analytic - numeric) / tolerance);
            if (!(fabs(analytic - numeric) <= tolerance)) {
                failed++;
                char name[96];
                g_snprintf(name, sizeof name, info.name_format, 0);
                g_test_message("%s (tensor %d, direction %d): backward says %.6g, finite "
                               "differences say %.6g",
                               name, i, trial, analytic, numeric);
            }
        }
        g_free(u);
    }
    g_test_message("%d directional derivatives checked, %d off; the closest call used %.0f%% "
                   "of its tolerance",
                   checked, failed, 100 * worst);
    if (failed)
        g_test_fail_printf("%d of %d directional derivatives disagree with finite differences "
                           "(%s loss): is a backward term missing?",
                           failed, checked, all_positions ? "all-positions" : "answer-only");
    g_free(grad);
    g_free(saved);
    trainer_free(&t);
    gpt_free(&model);
}

static void test_gradient_answer_only(void)
{
    check_gradient(false);
}

static void test_gradient_all_positions(void)
{
    check_gradient(true);
}

// The answer-only shortcut (only row 18 through the last layer's MLP) must
// give the same gradient as pushing zero gradients through every row. The
// all-positions path runs every row; with its logits' gradient restricted to
// row 18 it would equal the shortcut. Here the cheaper check: the gradient of
// the last layer's MLP weights is unchanged when the other rows' MLP inputs
// are scrambled (they cannot matter).
static void test_shortcut_ignores_other_rows(void)
{
    GPT model;
    make_lively_tiny(&model, 12);
    enum { B = 3 };
    int tokens[B * PROBLEM_LEN];
    test_problem_tokens(tokens, B, ORDER_FIXED, 6);
    Trainer t = make_trainer(&model, B, false);
    loss_at(&t, tokens, B);
    size_t P = model.num_parameters;
    float *before = g_memdup2(t.grads_memory, P * sizeof(float));
    // Redo the backward with garbage in the last layer's fc at rows != 18.
    int L = model.config.n_layer, F = model.config.d_ff, T = PROBLEM_LEN;
    float *fc = model.acts.fc + (size_t)(L - 1) * B * T * F;
    for (int b = 0; b < B; b++)
        for (int pos = 0; pos < T; pos++)
            if (pos != POS_ANS)
                for (int f = 0; f < F; f++)
                    fc[((size_t)b * T + pos) * F + f] = 1e3f;
    zero_grad(&t);
    gpt_backward(&t, tokens, B);
    g_assert_cmpmem(before, P * sizeof(float), t.grads_memory, P * sizeof(float));
    g_free(before);
    trainer_free(&t);
    gpt_free(&model);
}

// ----------------------------------------------------------------------------
// AdamW and the schedule.

// Zero gradients, lr 0.1, weight decay 0.1: a weight matrix entry of 1 becomes
// 1 - 0.1 * 0.1 * 1 = 0.99 (to float rounding: 1e-6 allows a few ulps); a bias
// and a LayerNorm parameter do not move at all (exact equality).
static void test_adamw_weight_decay(void)
{
    GPT model;
    make_lively_tiny(&model, 13);
    Trainer t = make_trainer(&model, 4, false);
    t.config.weight_decay = 0.1f;
    model.params.c_fc_weight[5] = 1.0f;
    model.params.wte[7] = 1.0f;
    model.params.c_fc_bias[3] = 1.0f;
    model.params.ln_1_weight[2] = 1.0f;
    model.params.ln_f_bias[1] = 0.5f;
    zero_grad(&t);
    adamw_update(&t, 0.1f, 1.0f);
    g_assert_cmpint(t.step, ==, 1);
    g_assert_cmpfloat_with_epsilon(model.params.c_fc_weight[5], 0.99f, 1e-6);
    g_assert_cmpfloat_with_epsilon(model.params.wte[7], 0.99f, 1e-6);
    g_assert_cmpfloat(model.params.c_fc_bias[3], ==, 1.0f);
    g_assert_cmpfloat(model.params.ln_1_weight[2], ==, 1.0f);
    g_assert_cmpfloat(model.params.ln_f_bias[1], ==, 0.5f);
    trainer_free(&t);
    gpt_free(&model);
}

// The first step: m = 0.1 g, v = 0.001 g^2; bias correction divides them by
// 1 - 0.9 and 1 - 0.999, giving back g and g^2, so the step is
// lr * g / (|g| + eps) = lr * 0.5 / (0.5 + 1e-8): -1e-3 to 2e-8 relative.
// Tolerance 1e-9 absolute (1e-6 relative: a handful of float roundings).
static void test_adamw_first_step(void)
{
    GPT model;
    make_lively_tiny(&model, 14);
    Trainer t = make_trainer(&model, 4, false);
    t.config.weight_decay = 0.0f;
    model.params.c_attn_bias[0] = 0.0f;
    float *saved = g_memdup2(model.params_memory, model.num_parameters * sizeof(float));
    for (size_t i = 0; i < model.num_parameters; i++)
        t.grads_memory[i] = 0.5f;
    adamw_update(&t, 1e-3f, 1.0f);
    double worst = 0.0;
    for (size_t i = 0; i < model.num_parameters; i++) {
        double step = (double)model.params_memory[i] - saved[i];
        // The difference of two floats near 0.3 is itself rounded to ~3e-8.
        double slack = fabs(saved[i]) * 1.2e-7;
        worst = fmax(worst, fabs(step + 1e-3) - slack);
    }
    g_assert_cmpfloat(worst, <=, 1e-9);
    // A bias that starts at 0 shows the step exactly.
    g_assert_cmpfloat_with_epsilon(model.params.c_attn_bias[0] - saved[model.params.c_attn_bias -
                                                                         model.params_memory],
                                   -1e-3, 1e-9);
    g_free(saved);
    trainer_free(&t);
    gpt_free(&model);
}

static void test_learning_rate_schedule(void)
{
    TrainConfig tc;
    train_config_default(&tc);
    tc.lr = 1e-3f;
    tc.warmup = 10;
    tc.steps = 110;
    tc.min_lr_ratio = 0.1f;
    // Linear warmup: step 1 is lr/10, step 10 is lr.
    g_assert_cmpfloat_with_epsilon(learning_rate(&tc, 1), 1e-4, 1e-10);
    g_assert_cmpfloat_with_epsilon(learning_rate(&tc, 5), 5e-4, 1e-10);
    g_assert_cmpfloat_with_epsilon(learning_rate(&tc, 10), 1e-3, 1e-10);
    // Cosine: halfway through the decay it is midway between lr and min_lr.
    g_assert_cmpfloat_with_epsilon(learning_rate(&tc, 60), 5.5e-4, 1e-9);
    g_assert_cmpfloat_with_epsilon(learning_rate(&tc, 110), 1e-4, 1e-10);
    g_assert_cmpfloat_with_epsilon(learning_rate(&tc, 200), 1e-4, 1e-10); // flat after
    for (int s = 11; s <= 110; s++)
        g_assert_cmpfloat(learning_rate(&tc, s), <=, learning_rate(&tc, s - 1) + 1e-12f);
    // Without warmup the decay starts at once: step 1 is already 1/110 of the way.
    tc.warmup = 0;
    g_assert_cmpfloat(learning_rate(&tc, 1), <, 1e-3f);
    g_assert_cmpfloat(learning_rate(&tc, 1), >, 0.999e-3f);
}

// ----------------------------------------------------------------------------
// The golden trajectory: tools/fixtures/make_train_golden.py trained the same
// tiny model on the same 10 batches of 8 with PyTorch (its own model, AdamW
// and schedule, hyperparameters in the fixture's metadata). Each step's loss
// must match to 1e-4 relative: float32 on both sides, and the runs drift apart
// only by rounding over 10 steps (measured: ~1e-6).
static void check_golden(bool all_positions)
{
    char *init_path = test_source_path("tests/fixtures/train_golden_init.safetensors");
    char *problems_path = test_source_path("tests/fixtures/train_golden_problems.txt");
    char *expected_path = test_source_path("tests/fixtures/train_golden_expected.safetensors");
    GError *error = NULL;
    GPT model;
    g_assert_true(checkpoint_load(init_path, &model, NULL, &error));
    g_assert_no_error(error);
    ProblemSet problems;
    g_assert_true(problem_set_read(problems_path, &problems, &error));
    Safetensors expected;
    g_assert_true(safetensors_read(expected_path, &expected, &error));

    TrainConfig tc;
    train_config_default(&tc);
    struct {
        const char *key;
        float *value;
    } floats[] = {
        {"lr", &tc.lr},       {"min_lr_ratio", &tc.min_lr_ratio}, {"beta1", &tc.beta1},
        {"beta2", &tc.beta2}, {"eps", &tc.eps}, {"weight_decay", &tc.weight_decay},
        {"clip", &tc.clip},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(floats); i++) {
        double value;
        g_assert_true(parse_double(safetensors_metadata(&expected, floats[i].key), floats[i].key,
                                   &value, &error));
        *floats[i].value = (float)value;
    }
    int64_t batch, steps, warmup;
    g_assert_true(parse_int64(safetensors_metadata(&expected, "batch"), "batch", 1, 64, &batch,
                              &error));
    g_assert_true(parse_int64(safetensors_metadata(&expected, "steps"), "steps", 1, 64, &steps,
                              &error));
    g_assert_true(parse_int64(safetensors_metadata(&expected, "warmup"), "warmup", 0, 64,
                              &warmup, &error));
    tc.batch = (int)batch;
    tc.steps = (int)steps;
    tc.warmup = (int)warmup;
    tc.all_positions = all_positions;
    g_assert_cmpuint(problems.count, ==, (size_t)(batch * steps));
    const SafetensorsTensor *losses =
        safetensors_find(&expected, all_positions ? "all_positions_losses" : "answer_losses");
    g_assert_nonnull(losses);
    g_assert_cmpuint(losses->count, ==, (size_t)steps);

    ProblemStream unused;
    problem_stream_init(&unused, SPLIT_TRAIN, ORDER_FIXED, 1);
    Trainer t;
    g_assert_true(trainer_init(&t, &model, &tc, &unused, &error));
    double worst = 0.0;
    for (int s = 0; s < steps; s++) {
        StepStats stats;
        g_assert_true(train_step_on(&t, problems.items + (size_t)s * batch, (int)batch, &stats,
                                    &error));
        g_assert_no_error(error);
        double relative = fabs(stats.loss - losses->data[s]) / fabs(losses->data[s]);
        worst = fmax(worst, relative);
        g_test_message("step %d: loss %.7f, PyTorch %.7f (relative difference %.2g)", s + 1,
                       stats.loss, losses->data[s], relative);
        if (!(relative <= 1e-4))
            g_test_fail_printf("step %d: loss %.7f but PyTorch had %.7f", s + 1, stats.loss,
                               losses->data[s]);
    }
    g_test_message("largest relative difference: %.2g", worst);
    trainer_free(&t);
    gpt_free(&model);
    problem_set_free(&problems);
    safetensors_free(&expected);
    g_free(init_path);
    g_free(problems_path);
    g_free(expected_path);
}

static void test_golden_answer_only(void)
{
    check_golden(false);
}

static void test_golden_all_positions(void)
{
    check_golden(true);
}

// ----------------------------------------------------------------------------
// Determinism: the default preset (large enough that matmuls, LayerNorm and
// AdamW all split their work between threads), three steps of 16 problems, with
// 1 and with 2 threads: weights and both moments bit-identical.
static void train_default_steps(int threads, float **params, float **m, float **v, size_t *P)
{
    omp_set_num_threads(threads);
    GPTConfig config;
    g_assert_true(gpt_config_preset("default", &config));
    GPT model;
    GError *error = NULL;
    g_assert_true(gpt_create(&model, &config, &error));
    gpt_init_random(&model, 3);
    Trainer t = make_trainer(&model, 16, false);
    t.config.warmup = 1;
    for (int s = 0; s < 3; s++)
        g_assert_true(train_step(&t, NULL, &error));
    *P = model.num_parameters;
    *params = g_memdup2(model.params_memory, *P * sizeof(float));
    *m = g_memdup2(t.m_memory, *P * sizeof(float));
    *v = g_memdup2(t.v_memory, *P * sizeof(float));
    trainer_free(&t);
    gpt_free(&model);
}

static void test_threads_bit_identical(void)
{
    int max_threads = omp_get_max_threads();
    float *p1, *m1, *v1, *p2, *m2, *v2;
    size_t P;
    train_default_steps(1, &p1, &m1, &v1, &P);
    train_default_steps(2, &p2, &m2, &v2, &P);
    omp_set_num_threads(max_threads);
    g_assert_cmpmem(p1, P * sizeof(float), p2, P * sizeof(float));
    g_assert_cmpmem(m1, P * sizeof(float), m2, P * sizeof(float));
    g_assert_cmpmem(v1, P * sizeof(float), v2, P * sizeof(float));
    // And the steps did something.
    GPTConfig config;
    gpt_config_preset("default", &config);
    GPT fresh;
    g_assert_true(gpt_create(&fresh, &config, NULL));
    gpt_init_random(&fresh, 3);
    g_assert_true(memcmp(p1, fresh.params_memory, P * sizeof(float)) != 0);
    gpt_free(&fresh);
    g_free(p1), g_free(m1), g_free(v1), g_free(p2), g_free(m2), g_free(v2);
}

// ----------------------------------------------------------------------------
// A non-finite loss stops the step before any update.
static void test_nan_leaves_weights(void)
{
    GPT model;
    make_lively_tiny(&model, 15);
    Trainer t = make_trainer(&model, 4, false);
    GError *error = NULL;
    g_assert_true(train_step(&t, NULL, &error));
    // Poison one weight of ln_1's gain: every problem's forward becomes NaN.
    model.params.ln_1_weight[0] = NAN;
    size_t P = model.num_parameters;
    float *params = g_memdup2(model.params_memory, P * sizeof(float));
    float *m = g_memdup2(t.m_memory, P * sizeof(float));
    g_assert_false(train_step(&t, NULL, &error));
    g_assert_error(error, LL_ERROR, LL_ERROR_INVALID);
    // (All-NaN logits come out of softmax_row as zeros, so the loss is +inf.)
    g_assert_true(strstr(error->message, "loss is NaN") ||
                  strstr(error->message, "loss is infinite"));
    g_test_message("%s", error->message);
    g_clear_error(&error);
    g_assert_cmpint(t.step, ==, 1);
    g_assert_cmpmem(m, P * sizeof(float), t.m_memory, P * sizeof(float));
    // memcmp, not ==: the NaN itself must still be there bit for bit.
    g_assert_cmpmem(params, P * sizeof(float), model.params_memory, P * sizeof(float));
    g_free(params);
    g_free(m);
    trainer_free(&t);
    gpt_free(&model);
}

// ----------------------------------------------------------------------------
// Training does train: 150 steps of the tiny model on the fixed order take the
// answer loss well below its start (ln 104 = 4.64 for a uniform guess).
static void test_loss_falls(void)
{
    GPT model;
    GPTConfig config;
    g_assert_true(gpt_config_preset("tiny", &config));
    g_assert_true(gpt_create(&model, &config, NULL));
    gpt_init_random(&model, 1);
    Trainer t = make_trainer(&model, 32, false);
    t.config.lr = 1e-2f;
    t.config.warmup = 10;
    t.config.steps = 150;
    double first = 0.0, last = 0.0;
    for (int s = 0; s < 150; s++) {
        StepStats stats;
        g_assert_true(train_step(&t, &stats, NULL));
        if (s < 10)
            first += stats.loss / 10;
        if (s >= 140)
            last += stats.loss / 10;
    }
    g_test_message("mean loss of steps 1-10: %.3f, of steps 141-150: %.3f", first, last);
    g_assert_cmpfloat(first, >, 4.0);
    g_assert_cmpfloat(last, <, first - 1.0);
    trainer_free(&t);
    gpt_free(&model);
}

// evaluate's counts add up and agree with a direct count.
static void test_evaluate_counts(void)
{
    GPT model;
    make_lively_tiny(&model, 16);
    enum { N = 300 };
    Problem problems[N];
    ProblemStream stream;
    problem_stream_init(&stream, SPLIT_TEST, ORDER_SHUFFLED, 9);
    size_t squaring = 0, per_op[3] = {0};
    for (int i = 0; i < N; i++) {
        problem_stream_next(&stream, &problems[i]);
        squaring += problem_is_squaring(&problems[i]);
        per_op[problem_op(&problems[i]) - TOK_PLUS]++;
    }
    EvalResult r;
    GError *error = NULL;
    g_assert_true(evaluate(&model, problems, N, 64, &r, &error)); // 64 does not divide 300
    g_assert_cmpuint(r.count, ==, N);
    g_assert_cmpuint(r.squaring_count, ==, squaring);
    size_t correct = 0;
    for (int op = 0; op < 3; op++) {
        g_assert_cmpuint(r.op_count[op], ==, per_op[op]);
        correct += r.op_correct[op];
    }
    g_assert_cmpuint(correct, ==, r.correct);
    g_assert_cmpuint(r.squaring_good, <=, r.squaring_count);
    g_assert_true(isfinite(r.loss) && r.loss > 0.0);
    // Problem by problem, the same verdicts as an argmax of gpt_forward's probs.
    int *tokens = g_new(int, N * PROBLEM_LEN);
    for (int i = 0; i < N; i++)
        memcpy(tokens + i * PROBLEM_LEN, problems[i].tokens, sizeof problems[i].tokens);
    g_assert_true(gpt_forward(&model, tokens, N, NULL, &error));
    size_t direct = 0;
    for (int i = 0; i < N; i++) {
        const float *p = gpt_probs(&model, i);
        int best = 0;
        for (int v = 1; v < VOCAB_SIZE; v++)
            if (p[v] > p[best])
                best = v;
        direct += best == problems[i].tokens[POS_ANSWER];
    }
    g_assert_cmpuint(direct, ==, r.correct);
    g_free(tokens);
    gpt_free(&model);
}

// ----------------------------------------------------------------------------
// The training state: save, load, and both trainers continue identically.
static void test_state_roundtrip(void)
{
    GPT model;
    make_lively_tiny(&model, 17);
    Trainer t = make_trainer(&model, 8, true);
    t.config.steps = 10;
    t.config.warmup = 2;
    GError *error = NULL;
    for (int s = 0; s < 3; s++)
        g_assert_true(train_step(&t, NULL, &error));
    char *path = test_path("roundtrip.state");
    const char *const extra[] = {"preset", "tiny", "note", "hello", NULL};
    g_assert_true(train_state_save(path, &t, extra, &error));
    g_assert_no_error(error);

    GPT model2;
    Trainer t2;
    GHashTable *metadata = NULL;
    g_assert_true(train_state_load(path, &model2, &t2, &metadata, &error));
    g_assert_no_error(error);
    g_assert_cmpstr(g_hash_table_lookup(metadata, "note"), ==, "hello");
    g_hash_table_unref(metadata);
    g_assert_cmpint(t2.step, ==, 3);
    g_assert_true(t2.config.all_positions);
    // Field by field (the struct has padding bytes memcmp would see).
    g_assert_cmpint(t.config.batch, ==, t2.config.batch);
    g_assert_cmpint(t.config.steps, ==, t2.config.steps);
    g_assert_cmpint(t.config.warmup, ==, t2.config.warmup);
    const float *floats1[] = {&t.config.lr, &t.config.min_lr_ratio, &t.config.beta1,
                              &t.config.beta2, &t.config.eps, &t.config.weight_decay,
                              &t.config.clip};
    const float *floats2[] = {&t2.config.lr, &t2.config.min_lr_ratio, &t2.config.beta1,
                              &t2.config.beta2, &t2.config.eps, &t2.config.weight_decay,
                              &t2.config.clip};
    for (size_t i = 0; i < G_N_ELEMENTS(floats1); i++)
        g_assert_cmpmem(floats1[i], sizeof(float), floats2[i], sizeof(float));
    g_assert_cmpmem(&t.stream, sizeof t.stream, &t2.stream, sizeof t2.stream);
    for (int s = 0; s < 3; s++) {
        g_assert_true(train_step(&t, NULL, &error));
        g_assert_true(train_step(&t2, NULL, &error));
    }
    size_t bytes = model.num_parameters * sizeof(float);
    g_assert_cmpmem(model.params_memory, bytes, model2.params_memory, bytes);
    g_assert_cmpmem(t.v_memory, bytes, t2.v_memory, bytes);

    trainer_free(&t2);
    gpt_free(&model2);

    // A checkpoint is a safetensors file too, but not a training state.
    char *checkpoint = test_path("model.safetensors");
    g_assert_true(checkpoint_save(checkpoint, &model, ORDER_FIXED, NULL, &error));
    g_assert_false(train_state_load(checkpoint, &model2, &t2, NULL, &error));
    g_assert_nonnull(error);
    g_assert_nonnull(strstr(error->message, "not a LoopLens training state"));
    g_clear_error(&error);
    g_free(checkpoint);
    g_free(path);
    trainer_free(&t);
    gpt_free(&model);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_add_earlier_exercises("/ch06", "2-5");
    g_test_add_func("/ch06/gradient/answer-only", test_gradient_answer_only);
    g_test_add_func("/ch06/gradient/all-positions", test_gradient_all_positions);
    g_test_add_func("/ch06/gradient/shortcut-ignores-other-rows",
                    test_shortcut_ignores_other_rows);
    g_test_add_func("/ch06/adamw/weight-decay", test_adamw_weight_decay);
    g_test_add_func("/ch06/adamw/first-step", test_adamw_first_step);
    g_test_add_func("/ch06/schedule", test_learning_rate_schedule);
    g_test_add_func("/ch06/golden/answer-only", test_golden_answer_only);
    g_test_add_func("/ch06/golden/all-positions", test_golden_all_positions);
    g_test_add_func("/ch06/threads-bit-identical", test_threads_bit_identical);
    g_test_add_func("/ch06/nan-leaves-weights", test_nan_leaves_weights);
    g_test_add_func("/ch06/loss-falls", test_loss_falls);
    g_test_add_func("/ch06/evaluate-counts", test_evaluate_counts);
    g_test_add_func("/ch06/state-roundtrip", test_state_roundtrip);
    return g_test_run();
}
