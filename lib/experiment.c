// experiment.c: `looplens experiment`, chapters 7-9 end to end. See experiment.h.
#define _XOPEN_SOURCE 700 // lstat
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "checkpoint.h"
#include "compare.h"
#include "experiment.h"
#include "heatmap.h"
#include "intervene.h"
#include "problem.h"
#include "util.h"

#define T PROBLEM_LEN

// Only squaring problems are averaged: one referenced variable (see compare.h).
#define SQUARING_REFS 1

enum { SUBSET_GOOD, SUBSET_BAD, SUBSET_BOOSTED, SUBSETS };
static const char *const subset_names[SUBSETS] = {"good", "bad", "boosted"};

// The figures of one model, in DIR/<name>/.
#define FIG_MAIN "most_different.png"
#define FIG_MAIN_SVG "most_different.svg"
#define FIG_MAIN_POSITIONS "most_different_positions.png"
#define FIG_DIFFERENCE "most_different_difference.png"
#define FIG_PROFILE "profile_row18.png"
#define FIG_ROLE_PARTS "role_parts.png"
#define FIG_LAYER_FORMAT "layer%d_mean.png"

// Everything one model's run finds, kept for the report.
typedef struct {
    char *path, *name, *dir;
    GPT model;         // freed once the model has run (its activations are big)
    GPTConfig config;  // kept for the report
    DefinitionOrder order;
    float boost_amount;
    // The test set and its evaluation
    Problem *problems;
    size_t count;
    ProblemResult *results; // (count)
    size_t correct;
    double mean_p_correct;
    size_t op_count[3], op_correct[3]; // + - *
    Subset good, bad;
    PatternAverage average[SUBSETS];
    // The bad subset's wrong answers, and which the boost fixed
    FailureCounts failures;
    size_t fixed_by_kind[FAILURE_KINDS];
    // The boost on the bad and on the good squaring problems
    Intervention boost_bad, boost_good;
    // Row 18: the head that differs most (or layer 0 head 0 if a subset is
    // empty), its role profile, and each layer's (mean over heads)
    bool has_most_different;
    double most_different_distance;
    int layer, head;
    RoleProfile profile_head[SUBSETS];
    RoleProfile profile_layer[SUBSETS][MAX_LAYERS];
} ModelRun;

// x in the C locale with a printf format (one conversion: e, f or g), or
// "n/a" if it is not finite. buf holds G_ASCII_DTOSTR_BUF_SIZE bytes.
static const char *number(char *buf, const char *format, double x)
{
    if (!isfinite(x))
        return g_strlcpy(buf, "n/a", G_ASCII_DTOSTR_BUF_SIZE), buf;
    return g_ascii_formatd(buf, G_ASCII_DTOSTR_BUF_SIZE, format, x);
}

void experiment_options_default(ExperimentOptions *options)
{
    options->out_dir = "out";
    options->test_seed = EXPERIMENT_TEST_SEED;
    options->test_count = EXPERIMENT_TEST_COUNT;
    options->boost_amount = EXPERIMENT_BOOST_AMOUNT;
    options->figures = true;
    options->verbose = false;
}

char *experiment_model_name(const char *model_path)
{
    char *base = g_path_get_basename(model_path);
    if (g_str_has_suffix(base, ".safetensors") && strlen(base) > strlen(".safetensors"))
        base[strlen(base) - strlen(".safetensors")] = '\0';
    return base;
}

static void model_run_free(ModelRun *m)
{
    g_free(m->path);
    g_free(m->name);
    g_free(m->dir);
    gpt_free(&m->model);
    g_free(m->problems);
    g_free(m->results);
    subset_free(&m->good);
    subset_free(&m->bad);
    for (int s = 0; s < SUBSETS; s++)
        if (m->average[s].sum)
            pattern_average_free(&m->average[s]);
    intervention_free(&m->boost_bad);
    intervention_free(&m->boost_good);
    memset(m, 0, sizeof *m);
}

// ----------------------------------------------------------------------------
// Steps 1-5: the analysis

// The test set, every problem's result, and the good and bad averages, all in
// one pass: a squaring problem's patterns are added to good or bad as soon as
// its batch's forward pass says which it is.
static bool evaluate_test_set(ModelRun *m, const ExperimentOptions *options, GError **error)
{
    m->count = options->test_count;
    m->problems = g_new(Problem, m->count);
    m->results = g_new(ProblemResult, m->count);
    ProblemStream stream;
    problem_stream_init(&stream, SPLIT_TEST, m->order, options->test_seed);
    for (size_t i = 0; i < m->count; i++)
        problem_stream_next(&stream, &m->problems[i]);

    int L = m->config.n_layer, NH = m->config.n_head;
    for (int s = 0; s < SUBSETS; s++)
        pattern_average_init(&m->average[s], L, NH);
    int tokens[EVAL_BATCH * T];
    bool squaring[EVAL_BATCH];
    double sum_p = 0.0;
    for (size_t start = 0; start < m->count; start += EVAL_BATCH) {
        int B = m->count - start < EVAL_BATCH ? (int)(m->count - start) : EVAL_BATCH;
        for (int b = 0; b < B; b++) {
            memcpy(tokens + b * T, m->problems[start + b].tokens, sizeof(int) * T);
            squaring[b] = problem_is_squaring(&m->problems[start + b]);
        }
        // The same results as gpt_forward, computing each shared prefix once
        // and the attention patterns of the squaring problems only.
        if (!gpt_forward_shared(&m->model, tokens, B, squaring, error))
            return false;
        for (int b = 0; b < B; b++) {
            const Problem *p = &m->problems[start + b];
            ProblemResult *r = &m->results[start + b];
            result_from_forward(r, &m->model, b, p);
            bool right = result_correct(r);
            int op = problem_op(p) - TOK_PLUS;
            m->op_count[op]++;
            m->op_correct[op] += right;
            m->correct += right;
            sum_p += r->p_correct;
            if (problem_is_squaring(p))
                pattern_average_add(&m->average[right ? SUBSET_GOOD : SUBSET_BAD], &m->model, b,
                                    p);
        }
    }
    m->mean_p_correct = m->count ? sum_p / (double)m->count : NAN;
    split_squaring(&m->good, &m->bad, m->problems, m->results, m->count);
    return true;
}

static void classify_bad(ModelRun *m)
{
    Problem *problems = g_new(Problem, m->bad.count ? m->bad.count : 1);
    int *predicted = g_new(int, m->bad.count ? m->bad.count : 1);
    for (size_t i = 0; i < m->bad.count; i++) {
        problems[i] = m->problems[m->bad.index[i]];
        predicted[i] = m->results[m->bad.index[i]].predicted;
    }
    count_failures(&m->failures, problems, predicted, m->bad.count);
    g_free(problems);
    g_free(predicted);
}

static bool run_boost(ModelRun *m, const ExperimentOptions *options, GError **error)
{
    Boost boost;
    boost_init_default(&boost, options->boost_amount);
    if (!intervene_run(&m->boost_bad, &m->model, m->problems, m->bad.index, m->bad.count, &boost,
                       m->results, &m->average[SUBSET_BOOSTED], error) ||
        !intervene_run(&m->boost_good, &m->model, m->problems, m->good.index, m->good.count,
                       &boost, m->results, NULL, error))
        return false;
    for (size_t i = 0; i < m->bad.count; i++) {
        const Problem *p = &m->problems[m->bad.index[i]];
        int kind = classify_failure(p, m->boost_bad.before[i].predicted);
        if (kind != FAILURE_NONE && result_correct(&m->boost_bad.after[i]))
            m->fixed_by_kind[kind]++;
    }
    return true;
}

static void profile_row18(ModelRun *m)
{
    m->has_most_different =
        most_different_head(&m->average[SUBSET_GOOD], &m->average[SUBSET_BAD], true, &m->layer,
                            &m->head, &m->most_different_distance);
    if (!m->has_most_different) {
        m->layer = m->head = 0;
        m->most_different_distance = NAN;
    }
    for (int s = 0; s < SUBSETS; s++) {
        role_profile(&m->profile_head[s], &m->average[s], m->layer, m->head);
        for (int l = 0; l < m->config.n_layer; l++)
            role_profile(&m->profile_layer[s][l], &m->average[s], l, ALL_HEADS);
    }
}

// ----------------------------------------------------------------------------
// Step 6a: the figures

// Figures need squaring problems; the difference figure needs a bad subset
// (bad - good, boosted - bad: the boosted subset is the bad one again).
static bool has_figures(const ModelRun *m)
{
    return m->good.count + m->bad.count > 0;
}

static bool has_difference_figure(const ModelRun *m)
{
    return m->bad.count > 0;
}

// One panel: a subset's averaged pattern of (layer, head) (or the mean over
// the layer's heads), by role or by position.
static void fill_panel(Heatmap *hm, const PatternAverage *a, int layer, int head, bool by_role,
                       DefinitionOrder order, const char *title)
{
    float values[T * T];
    pattern_average_get(a, layer, head, by_role, values);
    heatmap_init(hm, HEATMAP_PATTERN, values);
    if (by_role) {
        // Role order moves the causal mask off the upper triangle: cells never
        // visible are NaN, which the heatmap hatches like masked ones.
        hm->mask_upper = false;
        for (int r = 0; r < T; r++) {
            g_strlcpy(hm->row_labels[r], role_label(r, SQUARING_REFS), HEATMAP_LABEL_MAX);
            g_strlcpy(hm->col_labels[r], role_label(r, SQUARING_REFS), HEATMAP_LABEL_MAX);
        }
    } else {
        heatmap_set_role_labels(hm, order);
    }
    g_strlcpy(hm->title, title, HEATMAP_TEXT_MAX);
    g_snprintf(hm->caption, HEATMAP_TEXT_MAX, "n = %zu", a->count);
}

// good | bad | boosted for one layer and head (ALL_HEADS: the layer's mean),
// leaving out empty subsets. False with no error if all three are empty.
static bool save_triptych(const ModelRun *m, const char *file, int layer, int head, bool by_role,
                          const char *title, GError **error)
{
    char amount[G_ASCII_DTOSTR_BUF_SIZE], boosted_title[HEATMAP_TEXT_MAX];
    g_snprintf(boosted_title, sizeof boosted_title, "bad, boosted (%s)",
               number(amount, "%+.1f", m->boost_amount));
    const char *panel_titles[SUBSETS] = {"good (answered right)", "bad (answered wrong)",
                                         boosted_title};
    Heatmap panels[SUBSETS];
    int n = 0;
    for (int s = 0; s < SUBSETS; s++)
        if (m->average[s].count > 0)
            fill_panel(&panels[n++], &m->average[s], layer, head, by_role, m->order,
                       panel_titles[s]);
    if (n == 0)
        return true;
    char *path = g_build_filename(m->dir, file, NULL);
    bool ok = heatmap_row_save(path, panels, n, title, 520.0 * n + 120.0, 620.0, error);
    g_free(path);
    return ok;
}

// bad - good and boosted - bad for the shown head, role view, on one
// diverging scale: red where the second subset looks more, blue less.
static bool save_differences(const ModelRun *m, const char *title, GError **error)
{
    const struct {
        int a, b;
        const char *title;
    } pairs[2] = {{SUBSET_BAD, SUBSET_GOOD, "bad - good"},
                  {SUBSET_BOOSTED, SUBSET_BAD, "boosted - bad"}};
    Heatmap panels[2];
    int n = 0;
    for (int i = 0; i < 2; i++) {
        const PatternAverage *a = &m->average[pairs[i].a], *b = &m->average[pairs[i].b];
        if (a->count == 0 || b->count == 0)
            continue;
        Heatmap *hm = &panels[n++];
        float values[T * T];
        pattern_average_difference(a, b, m->layer, m->head, true, values);
        heatmap_init(hm, HEATMAP_DIFFERENCE, values);
        hm->mask_upper = false; // NaN marks the cells masked in every example
        for (int r = 0; r < T; r++) {
            g_strlcpy(hm->row_labels[r], role_label(r, SQUARING_REFS), HEATMAP_LABEL_MAX);
            g_strlcpy(hm->col_labels[r], role_label(r, SQUARING_REFS), HEATMAP_LABEL_MAX);
        }
        g_strlcpy(hm->title, pairs[i].title, HEATMAP_TEXT_MAX);
        g_snprintf(hm->caption, HEATMAP_TEXT_MAX, "n = %zu and %zu", a->count, b->count);
    }
    if (n == 0)
        return true;
    char *path = g_build_filename(m->dir, FIG_DIFFERENCE, NULL);
    bool ok = heatmap_row_save(path, panels, n, title, 520.0 * n + 120.0, 620.0, error);
    g_free(path);
    return ok;
}

static bool save_profiles(const ModelRun *m, GError **error)
{
    // Row 18 of the shown head in role order, key by key.
    ProfileChart chart;
    profile_chart_init(&chart, POS_ANS + 1);
    for (int j = 0; j <= POS_ANS; j++)
        g_strlcpy(chart.key_labels[j], role_label(j, SQUARING_REFS), HEATMAP_LABEL_MAX);
    // The role parts: ref, ref_val, other_names, other_vals, op, rest.
    ProfileChart parts;
    profile_chart_init(&parts, ROLE_PARTS);
    for (int k = 0; k < ROLE_PARTS; k++)
        g_strlcpy(parts.key_labels[k], role_part_name(k), HEATMAP_LABEL_MAX);
    for (int s = 0; s < SUBSETS; s++) {
        if (m->average[s].count == 0)
            continue;
        float values[T * T], part_means[ROLE_PARTS];
        pattern_average_get(&m->average[s], m->layer, m->head, true, values);
        profile_chart_add_series(&chart, subset_names[s], values + POS_ANS * T);
        for (int k = 0; k < ROLE_PARTS; k++)
            part_means[k] = (float)m->profile_head[s].mean[k];
        profile_chart_add_series(&parts, subset_names[s], part_means);
    }
    g_snprintf(chart.title, HEATMAP_TEXT_MAX, "%s: row 18 ([ANS]) of layer %d head %d, role order",
               m->name, m->layer, m->head);
    g_snprintf(chart.caption, HEATMAP_TEXT_MAX, "mean attention weight per key, squaring problems");
    g_snprintf(parts.title, HEATMAP_TEXT_MAX, "%s: row 18 of layer %d head %d, weight per role",
               m->name, m->layer, m->head);
    g_snprintf(parts.caption, HEATMAP_TEXT_MAX,
               "95%% intervals in summary.json and report.md");
    char *chart_path = g_build_filename(m->dir, FIG_PROFILE, NULL);
    char *parts_path = g_build_filename(m->dir, FIG_ROLE_PARTS, NULL);
    bool ok = profile_chart_save(chart_path, &chart, 1100, 480, error) &&
              profile_chart_save(parts_path, &parts, 800, 480, error);
    g_free(chart_path);
    g_free(parts_path);
    return ok;
}

static bool save_figures(const ModelRun *m, GError **error)
{
    char title[HEATMAP_TEXT_MAX];
    const char *why = m->has_most_different ? "its row 18 differs most between good and bad"
                                            : "no good/bad pair to compare";
    g_snprintf(title, sizeof title, "%s: layer %d head %d (%s), role view", m->name, m->layer,
               m->head, why);
    if (!save_triptych(m, FIG_MAIN, m->layer, m->head, true, title, error) ||
        !save_triptych(m, FIG_MAIN_SVG, m->layer, m->head, true, title, error))
        return false;
    char difference_title[HEATMAP_TEXT_MAX];
    g_snprintf(difference_title, sizeof difference_title,
               "%s: layer %d head %d, differences of the averages, role view", m->name, m->layer,
               m->head);
    if (!save_differences(m, difference_title, error))
        return false;
    g_snprintf(title, sizeof title, "%s: layer %d head %d, by position", m->name, m->layer,
               m->head);
    if (!save_triptych(m, FIG_MAIN_POSITIONS, m->layer, m->head, false, title, error))
        return false;
    for (int l = 0; l < m->config.n_layer; l++) {
        char file[64];
        g_snprintf(file, sizeof file, FIG_LAYER_FORMAT, l);
        g_snprintf(title, sizeof title, "%s: layer %d, mean over its %d heads, role view",
                   m->name, l, m->config.n_head);
        if (!save_triptych(m, file, l, ALL_HEADS, true, title, error))
            return false;
    }
    return save_profiles(m, error);
}

// ----------------------------------------------------------------------------
// Step 6b: summary.json, by a small writer that keeps every number in the C
// locale: fprintf("%g") would follow LC_NUMERIC and could write "0,5".

typedef struct {
    FILE *fp;
    int depth;
    bool has_items[16]; // per nesting level: write a comma before the next item
} JsonWriter;

static void json_string_literal(FILE *fp, const char *text)
{
    fputc('"', fp);
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(fp, "\\%c", *c);
        else if (*c < 0x20)
            fprintf(fp, "\\u%04x", *c);
        else
            fputc(*c, fp);
    }
    fputc('"', fp);
}

// A JSON number in the C locale, always with a '.' or an exponent so a reader
// sees a double (2.0, not the integer 2); null if it is not finite.
static void json_number_literal(FILE *fp, double x)
{
    if (!isfinite(x)) {
        fputs("null", fp);
        return;
    }
    char buf[G_ASCII_DTOSTR_BUF_SIZE + 2];
    g_ascii_formatd(buf, G_ASCII_DTOSTR_BUF_SIZE, "%.9g", x);
    if (!strpbrk(buf, ".eE"))
        strcat(buf, ".0");
    fputs(buf, fp);
}

// Starts an item: the comma, a new line, the indent and the key (NULL inside
// an array).
static void json_item(JsonWriter *w, const char *key)
{
    if (w->depth > 0) {
        if (w->has_items[w->depth])
            fputc(',', w->fp);
        fprintf(w->fp, "\n%*s", 2 * w->depth, "");
    }
    w->has_items[w->depth] = true;
    if (key) {
        json_string_literal(w->fp, key);
        fputs(": ", w->fp);
    }
}

static void json_open(JsonWriter *w, const char *key, char bracket)
{
    json_item(w, key);
    fputc(bracket, w->fp);
    w->depth++;
    w->has_items[w->depth] = false;
}

static void json_close(JsonWriter *w, char bracket)
{
    bool had_items = w->has_items[w->depth];
    w->depth--;
    if (had_items)
        fprintf(w->fp, "\n%*s", 2 * w->depth, "");
    fputc(bracket, w->fp);
}

static void json_double(JsonWriter *w, const char *key, double x)
{
    json_item(w, key);
    json_number_literal(w->fp, x);
}

static void json_int(JsonWriter *w, const char *key, long long x)
{
    json_item(w, key);
    fprintf(w->fp, "%lld", x);
}

static void json_string(JsonWriter *w, const char *key, const char *text)
{
    json_item(w, key);
    json_string_literal(w->fp, text);
}

static void json_null(JsonWriter *w, const char *key)
{
    json_item(w, key);
    fputs("null", w->fp);
}

// [lo, hi] on one line.
static void json_interval(JsonWriter *w, const char *key, double lo, double hi)
{
    json_item(w, key);
    fputc('[', w->fp);
    json_number_literal(w->fp, lo);
    fputs(", ", w->fp);
    json_number_literal(w->fp, hi);
    fputc(']', w->fp);
}

static double ratio(size_t a, size_t b)
{
    return b ? (double)a / (double)b : NAN;
}

// {"n": N, "ref": {"mean": x, "ci95": [lo, hi]}, ...}
static void json_role_profile(JsonWriter *w, const char *key, const RoleProfile *p)
{
    json_open(w, key, '{');
    json_int(w, "n", (long long)p->n);
    for (int k = 0; k < ROLE_PARTS; k++) {
        json_open(w, role_part_name(k), '{');
        json_double(w, "mean", p->mean[k]);
        json_interval(w, "ci95", p->mean[k] - p->ci95[k], p->mean[k] + p->ci95[k]);
        json_close(w, '}');
    }
    json_close(w, '}');
}

// Accuracy overall, per operator and on the squaring problems.
static void json_accuracy(JsonWriter *w, const ModelRun *m)
{
    json_double(w, "test_accuracy", ratio(m->correct, m->count));
    json_double(w, "test_mean_p_correct", m->mean_p_correct);
    json_open(w, "operators", '{');
    for (int op = 0; op < 3; op++) {
        json_open(w, vocab_string(TOK_PLUS + op), '{');
        json_int(w, "count", (long long)m->op_count[op]);
        json_double(w, "accuracy", ratio(m->op_correct[op], m->op_count[op]));
        json_close(w, '}');
    }
    json_close(w, '}');
    size_t squaring = m->good.count + m->bad.count;
    json_int(w, "squaring_count", (long long)squaring);
    json_double(w, "squaring_accuracy", ratio(m->good.count, squaring));
}

// SPEC section 5's subsets, and what the boost did to both.
static void json_subsets(JsonWriter *w, const ModelRun *m, const ExperimentOptions *options)
{
    json_open(w, "good", '{');
    json_int(w, "count", (long long)m->good.count);
    json_double(w, "mean_p_correct", subset_mean_p_correct(&m->good, m->results));
    json_close(w, '}');
    json_open(w, "bad", '{');
    json_int(w, "count", (long long)m->bad.count);
    json_double(w, "mean_p_correct", subset_mean_p_correct(&m->bad, m->results));
    json_close(w, '}');
    json_open(w, "boosted", '{');
    json_int(w, "count", (long long)m->boost_bad.count);
    json_double(w, "mean_p_correct", m->boost_bad.mean_p_after);
    json_double(w, "accuracy", ratio(m->boost_bad.correct_after, m->boost_bad.count));
    json_int(w, "fixed", (long long)m->boost_bad.fixed);
    json_close(w, '}');
    json_double(w, "boost_amount", options->boost_amount);
    json_open(w, "boost", '{');
    json_double(w, "amount", options->boost_amount);
    json_int(w, "query_row", POS_ANS);
    json_string(w, "keys",
                "the value positions of var1 and var2 (once each) and the operator (16)");
    json_string(w, "targets", "every layer and head");
    json_string(w, "applied", "to the raw scores, before the softmax");
    json_close(w, '}');
    json_open(w, "boost_on_good", '{');
    json_int(w, "count", (long long)m->boost_good.count);
    json_int(w, "broken", (long long)m->boost_good.broken);
    json_double(w, "accuracy_after", ratio(m->boost_good.correct_after, m->boost_good.count));
    json_double(w, "mean_p_correct_before", m->boost_good.mean_p_before);
    json_double(w, "mean_p_correct_after", m->boost_good.mean_p_after);
    json_close(w, '}');
}

// The bad subset's wrong answers by kind, beside chance.
static void json_failures(JsonWriter *w, const ModelRun *m)
{
    json_open(w, "failures", '{');
    json_int(w, "count", (long long)m->failures.n);
    json_int(w, "near_miss_distance", NEAR_MISS_DISTANCE);
    json_string(w, "precedence", "ref_x_other, other_x_other, near_miss, other");
    json_string(w, "chance", "each wrong answer matched against the values of every other bad "
                             "problem, averaged");
    json_open(w, "kinds", '{');
    for (int k = 0; k < FAILURE_KINDS; k++) {
        json_open(w, failure_kind_name(k), '{');
        json_int(w, "count", (long long)m->failures.count[k]);
        json_double(w, "chance", m->failures.chance[k]);
        json_int(w, "fixed_by_boost", (long long)m->fixed_by_kind[k]);
        json_close(w, '}');
    }
    json_close(w, '}');
    json_double(w, "chance_right_by_accident", m->failures.chance_correct);
    json_close(w, '}');
}

// Where row 18 looks: the most different head, and role profiles.
static void json_row18(JsonWriter *w, const ModelRun *m)
{
    if (m->has_most_different) {
        json_open(w, "most_different", '{');
        json_int(w, "layer", m->layer);
        json_int(w, "head", m->head);
        json_string(w, "view", "role");
        json_string(w, "measure",
                    "sum over keys of |bad - good| in row 18 of the averaged pattern");
        json_double(w, "distance", m->most_different_distance);
        json_close(w, '}');
    } else {
        json_null(w, "most_different");
    }
    json_open(w, "row18_role_profile", '{');
    json_string(w, "interval", "mean +- 1.96 sd / sqrt(n) over examples");
    json_open(w, "head", '{');
    json_int(w, "layer", m->layer);
    json_int(w, "head", m->head);
    for (int s = 0; s < SUBSETS; s++)
        json_role_profile(w, subset_names[s], &m->profile_head[s]);
    json_close(w, '}');
    json_open(w, "layers", '[');
    for (int l = 0; l < m->config.n_layer; l++) {
        json_open(w, NULL, '{');
        json_int(w, "layer", l);
        json_string(w, "heads", "mean over the layer's heads");
        for (int s = 0; s < SUBSETS; s++)
            json_role_profile(w, subset_names[s], &m->profile_layer[s][l]);
        json_close(w, '}');
    }
    json_close(w, ']');
    json_close(w, '}');
}

// The figures' file names, relative to the summary's folder.
static void json_figures(JsonWriter *w, const ModelRun *m, const ExperimentOptions *options)
{
    json_open(w, "figures", '{');
    if (options->figures && has_figures(m)) {
        json_string(w, "main", FIG_MAIN);
        json_string(w, "main_svg", FIG_MAIN_SVG);
        json_string(w, "main_by_position", FIG_MAIN_POSITIONS);
        if (has_difference_figure(m))
            json_string(w, "main_differences", FIG_DIFFERENCE);
        json_string(w, "row18_profile", FIG_PROFILE);
        json_string(w, "row18_role_parts", FIG_ROLE_PARTS);
        json_open(w, "layer_means", '[');
        for (int l = 0; l < m->config.n_layer; l++) {
            char file[64];
            g_snprintf(file, sizeof file, FIG_LAYER_FORMAT, l);
            json_string(w, NULL, file);
        }
        json_close(w, ']');
    }
    json_close(w, '}');
}

static void json_summary(JsonWriter *w, const ModelRun *m, const ExperimentOptions *options)
{
    const GPTConfig *c = &m->config;
    char *display_path = g_filename_display_name(m->path);
    json_open(w, NULL, '{');
    json_string(w, "model", display_path);
    g_free(display_path);
    json_string(w, "name", m->name);
    json_string(w, "order", order_name(m->order));
    json_open(w, "config", '{');
    json_int(w, "n_layer", c->n_layer);
    json_int(w, "n_head", c->n_head);
    json_int(w, "d_model", c->d_model);
    json_int(w, "d_ff", c->d_ff);
    json_close(w, '}');
    json_int(w, "test_seed", (long long)options->test_seed);
    json_int(w, "test_count", (long long)m->count);
    json_accuracy(w, m);
    json_subsets(w, m, options);
    json_failures(w, m);
    json_row18(w, m);
    json_figures(w, m, options);
    json_close(w, '}');
    fputc('\n', w->fp);
}

static bool save_summary(const ModelRun *m, const ExperimentOptions *options, GError **error)
{
    char *path = g_build_filename(m->dir, "summary.json", NULL);
    AtomicFile file;
    bool ok = atomic_file_open(&file, path, error);
    if (ok) {
        JsonWriter w = {.fp = file.fp};
        json_summary(&w, m, options);
        ok = atomic_file_commit(&file, error);
    }
    g_free(path);
    return ok;
}

// ----------------------------------------------------------------------------
// The report: every model side by side, in Markdown.

// "0.123 ± 0.004"
static const char *mean_ci(char *buf, size_t size, double mean, double ci)
{
    char a[G_ASCII_DTOSTR_BUF_SIZE], b[G_ASCII_DTOSTR_BUF_SIZE];
    if (!isfinite(ci))
        g_snprintf(buf, size, "%s", number(a, "%.3f", mean));
    else
        g_snprintf(buf, size, "%s ± %s", number(a, "%.3f", mean), number(b, "%.3f", ci));
    return buf;
}

static void report_subsets(FILE *fp, const ModelRun *runs, int n)
{
    char a[G_ASCII_DTOSTR_BUF_SIZE], b[G_ASCII_DTOSTR_BUF_SIZE];
    fprintf(fp, "| | ");
    for (int i = 0; i < n; i++)
        fprintf(fp, "%s%s", runs[i].name, i + 1 < n ? " | " : " |\n");
    fprintf(fp, "|---|");
    for (int i = 0; i < n; i++)
        fprintf(fp, "---|");
    fprintf(fp, "\n| order |");
    for (int i = 0; i < n; i++)
        fprintf(fp, " %s |", order_name(runs[i].order));
    fprintf(fp, "\n| test accuracy (n = %zu) |", runs[0].count);
    for (int i = 0; i < n; i++)
        fprintf(fp, " %s |", number(a, "%.3f", ratio(runs[i].correct, runs[i].count)));
    for (int op = 0; op < 3; op++) {
        fprintf(fp, "\n| accuracy on `%s` |", vocab_string(TOK_PLUS + op));
        for (int i = 0; i < n; i++)
            fprintf(fp, " %s |",
                    number(a, "%.3f", ratio(runs[i].op_correct[op], runs[i].op_count[op])));
    }
    fprintf(fp, "\n| squaring accuracy |");
    for (int i = 0; i < n; i++)
        fprintf(fp, " %s |", number(a, "%.3f", ratio(runs[i].good.count,
                                                       runs[i].good.count + runs[i].bad.count)));
    fprintf(fp, "\n\n");

    // The seed's table: subset, n, mean p_correct, accuracy.
    fprintf(fp, "| subset |");
    for (int i = 0; i < n; i++)
        fprintf(fp, " %s: n | mean p_correct | accuracy |", runs[i].name);
    fprintf(fp, "\n|---|");
    for (int i = 0; i < n; i++)
        fprintf(fp, "---:|---:|---:|");
    static const char *const rows[4] = {"good", "bad", "boosted (bad + boost)",
                                        "good + boost"};
    for (int row = 0; row < 4; row++) {
        fprintf(fp, "\n| %s |", rows[row]);
        for (int i = 0; i < n; i++) {
            const ModelRun *m = &runs[i];
            size_t count = 0, correct = 0;
            double mean = NAN;
            switch (row) {
            case 0:
                count = m->good.count, correct = m->good.count;
                mean = subset_mean_p_correct(&m->good, m->results);
                break;
            case 1:
                count = m->bad.count, correct = 0;
                mean = subset_mean_p_correct(&m->bad, m->results);
                break;
            case 2:
                count = m->boost_bad.count, correct = m->boost_bad.correct_after;
                mean = m->boost_bad.mean_p_after;
                break;
            default:
                count = m->boost_good.count, correct = m->boost_good.correct_after;
                mean = m->boost_good.mean_p_after;
                break;
            }
            fprintf(fp, " %zu | %s | %s |", count, number(a, "%.3f", mean),
                    number(b, "%.3f", ratio(correct, count)));
        }
    }
    fprintf(fp, "\n\n");
    for (int i = 0; i < n; i++)
        fprintf(fp,
                "- **%s**: the boost fixed %zu of %zu bad problems and broke %zu of %zu good "
                "ones.\n",
                runs[i].name, runs[i].boost_bad.fixed, runs[i].bad.count,
                runs[i].boost_good.broken, runs[i].good.count);
    fprintf(fp, "\n");
}

static void report_profiles(FILE *fp, const ModelRun *runs, int n)
{
    char cell[96];
    fprintf(fp, "Row 18 ([ANS]) of the averaged pattern, its weight summed per role, in the head "
                "whose row 18 differs most between good and bad (role view: sum over keys of "
                "|bad - good|). Mean ± 1.96 sd/sqrt(n) over the examples.\n\n");
    fprintf(fp, "| role |");
    for (int i = 0; i < n; i++)
        for (int s = 0; s < SUBSETS; s++)
            fprintf(fp, " %s L%dH%d %s |", runs[i].name, runs[i].layer, runs[i].head,
                    subset_names[s]);
    fprintf(fp, "\n|---|");
    for (int i = 0; i < n * SUBSETS; i++)
        fprintf(fp, "---:|");
    for (int k = 0; k < ROLE_PARTS; k++) {
        fprintf(fp, "\n| `%s` |", role_part_name(k));
        for (int i = 0; i < n; i++)
            for (int s = 0; s < SUBSETS; s++)
                fprintf(fp, " %s |", mean_ci(cell, sizeof cell, runs[i].profile_head[s].mean[k],
                                             runs[i].profile_head[s].ci95[k]));
    }
    fprintf(fp, "\n\nThe referenced value's share (`ref_val`) of row 18 in each layer, mean over "
                "its heads:\n\n| layer |");
    for (int i = 0; i < n; i++)
        for (int s = 0; s < SUBSETS; s++)
            fprintf(fp, " %s %s |", runs[i].name, subset_names[s]);
    fprintf(fp, "\n|---|");
    for (int i = 0; i < n * SUBSETS; i++)
        fprintf(fp, "---:|");
    int max_layers = 0;
    for (int i = 0; i < n; i++)
        max_layers = MAX(max_layers, runs[i].config.n_layer);
    for (int l = 0; l < max_layers; l++) {
        fprintf(fp, "\n| %d |", l);
        for (int i = 0; i < n; i++) {
            for (int s = 0; s < SUBSETS; s++) {
                if (l >= runs[i].config.n_layer) {
                    fprintf(fp, " |");
                    continue;
                }
                const RoleProfile *p = &runs[i].profile_layer[s][l];
                fprintf(fp, " %s |", mean_ci(cell, sizeof cell, p->mean[ROLE_PART_REF_VAL],
                                             p->ci95[ROLE_PART_REF_VAL]));
            }
        }
    }
    fprintf(fp, "\n\n");
}

static void report_failures(FILE *fp, const ModelRun *runs, int n)
{
    char a[G_ASCII_DTOSTR_BUF_SIZE];
    fprintf(fp, "Each wrong answer of the bad subset, by kind (first that fits: `ref_x_other` = "
                "the referenced value times another variable's value, `other_x_other` = another "
                "pair's product or another variable's square, `near_miss` = within %d of the "
                "answer, `other`). *Chance* matches the same wrong answers against the values "
                "of every other bad problem and averages: what the kinds would count if the "
                "answers had nothing to do with their problems (small numbers such as 0 and 4 "
                "are products of many pairs).\n\n",
            NEAR_MISS_DISTANCE);
    fprintf(fp, "| kind |");
    for (int i = 0; i < n; i++)
        fprintf(fp, " %s: count | chance | fixed by the boost |", runs[i].name);
    fprintf(fp, "\n|---|");
    for (int i = 0; i < n; i++)
        fprintf(fp, "---:|---:|---:|");
    for (int k = 0; k < FAILURE_KINDS; k++) {
        fprintf(fp, "\n| `%s` |", failure_kind_name(k));
        for (int i = 0; i < n; i++)
            fprintf(fp, " %zu | %s | %zu |", runs[i].failures.count[k],
                    number(a, "%.1f", runs[i].failures.chance[k]), runs[i].fixed_by_kind[k]);
    }
    fprintf(fp, "\n| total |");
    for (int i = 0; i < n; i++)
        fprintf(fp, " %zu | | %zu |", runs[i].failures.n, runs[i].boost_bad.fixed);
    fprintf(fp, "\n\n");
}

static void report_figures(FILE *fp, const ModelRun *runs, int n, const ExperimentOptions *options)
{
    if (!options->figures)
        return;
    for (int i = 0; i < n; i++) {
        const ModelRun *m = &runs[i];
        if (!has_figures(m))
            continue;
        fprintf(fp, "### %s\n\n", m->name);
        fprintf(fp, "Layer %d head %d, good | bad | boosted, role view (rows and columns "
                    "re-indexed by role; hatched cells are masked in every example):\n\n"
                    "![%s: layer %d head %d](%s/%s)\n\n",
                m->layer, m->head, m->name, m->layer, m->head, m->name, FIG_MAIN);
        if (has_difference_figure(m))
            fprintf(fp, "Its differences (red: more attention in the first subset):\n\n"
                        "![%s: differences](%s/%s)\n\n",
                    m->name, m->name, FIG_DIFFERENCE);
        fprintf(fp, "The same head by position (the seed's view):\n\n![%s by position](%s/%s)\n\n",
                m->name, m->name, FIG_MAIN_POSITIONS);
        fprintf(fp, "Row 18 of that head, key by key and by role:\n\n![%s row 18](%s/%s)\n\n"
                    "![%s row 18 by role](%s/%s)\n\n",
                m->name, m->name, FIG_PROFILE, m->name, m->name, FIG_ROLE_PARTS);
        fprintf(fp, "Each layer, mean over its heads:\n\n");
        for (int l = 0; l < m->config.n_layer; l++) {
            char file[64];
            g_snprintf(file, sizeof file, FIG_LAYER_FORMAT, l);
            fprintf(fp, "![%s layer %d](%s/%s)\n\n", m->name, l, m->name, file);
        }
    }
}

static bool save_report(const char *dir, const ModelRun *runs, int n,
                        const ExperimentOptions *options, GError **error)
{
    char *path = g_build_filename(dir, "report.md", NULL);
    AtomicFile file;
    bool ok = atomic_file_open(&file, path, error);
    g_free(path);
    if (!ok)
        return false;
    FILE *fp = file.fp;
    char amount[G_ASCII_DTOSTR_BUF_SIZE];
    fprintf(fp, "# LoopLens experiment\n\n");
    fprintf(fp, "Each model ran on its own test set: %zu problems from seed %llu, in the model's "
                "definition order (each model's `test.txt`). Its squaring problems (`x * x`) are "
                "split into *good* (answered right: the argmax is the answer) and *bad* "
                "(answered wrong); *boosted* is the bad subset run again with the boost: %s "
                "added to the raw score of row 18 ([ANS]) at the referenced value and at the "
                "operator, before the softmax, in every layer and head. *good + boost* shows what "
                "the boost does to problems the model already gets right.\n\n",
            runs[0].count, (unsigned long long)options->test_seed,
            number(amount, "%+.1f", options->boost_amount));
    fprintf(fp, "## Subsets\n\n");
    report_subsets(fp, runs, n);
    fprintf(fp, "## Where row 18 looks\n\n");
    report_profiles(fp, runs, n);
    fprintf(fp, "## Kinds of wrong answers\n\n");
    report_failures(fp, runs, n);
    if (options->figures)
        fprintf(fp, "## Figures\n\n");
    report_figures(fp, runs, n, options);
    return atomic_file_commit(&file, error);
}

// ----------------------------------------------------------------------------
// The whole run

static bool make_dir(const char *dir, GError **error)
{
    if (g_mkdir_with_parents(dir, 0755) != 0) {
        int saved = errno;
        g_set_error(error, LL_ERROR, LL_ERROR_IO, "%s: cannot create the folder: %s", dir,
                    g_strerror(saved));
        return false;
    }
    return true;
}

// Every file of a run goes into a staging folder inside the output folder
// first, and moves into place only once the whole run has succeeded: a run
// that fails (a full disk, a folder where a file should go) leaves the output
// folder as it was, not half of a new result beside half of an old one.
typedef struct {
    char *out_dir;     // where the files end up
    char *staging;     // out_dir/.experiment-XXXXXX, removed at the end
    bool created_out;  // out_dir did not exist before: remove it on failure
} Staging;

static bool staging_open(Staging *s, const char *out_dir, GError **error)
{
    memset(s, 0, sizeof *s);
    if (!*out_dir) {
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID, "the output folder's name is empty");
        return false;
    }
    if (g_file_test(out_dir, G_FILE_TEST_EXISTS) && !g_file_test(out_dir, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID, "%s: not a folder", out_dir);
        return false;
    }
    s->created_out = !g_file_test(out_dir, G_FILE_TEST_EXISTS);
    if (!make_dir(out_dir, error))
        return false;
    s->out_dir = g_strdup(out_dir);
    s->staging = g_build_filename(out_dir, ".experiment-XXXXXX", NULL);
    if (!g_mkdtemp(s->staging)) {
        int saved = errno;
        g_set_error(error, LL_ERROR, LL_ERROR_IO, "%s: cannot write into the folder: %s", out_dir,
                    g_strerror(saved));
        if (s->created_out)
            g_rmdir(out_dir);
        g_clear_pointer(&s->staging, g_free);
        return false;
    }
    return true;
}

// The files below dir, as paths relative to root, into files.
static void list_files(GPtrArray *files, const char *root, const char *relative)
{
    char *path = relative ? g_build_filename(root, relative, NULL) : g_strdup(root);
    GDir *dir = g_dir_open(path, 0, NULL);
    for (const char *name; dir && (name = g_dir_read_name(dir));) {
        char *child = relative ? g_build_filename(relative, name, NULL) : g_strdup(name);
        char *full = g_build_filename(root, child, NULL);
        if (g_file_test(full, G_FILE_TEST_IS_DIR))
            list_files(files, root, child), g_free(child);
        else
            g_ptr_array_add(files, child);
        g_free(full);
    }
    if (dir)
        g_dir_close(dir);
    g_free(path);
}

static void staging_finish(Staging *s, bool keep_out)
{
    if (s->staging)
        remove_tree(s->staging);
    if (s->created_out && !keep_out)
        g_rmdir(s->out_dir); // only if empty
    g_free(s->staging);
    g_free(s->out_dir);
    memset(s, 0, sizeof *s);
}

// Set and returns an error if path exists and is not a regular file (or, with
// folder set, not a folder): a run would find it in the way only at the end.
static bool in_the_way(const char *path, bool folder, GError **error)
{
    GStatBuf st;
    if (g_lstat(path, &st) != 0 || (folder ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode)))
        return false;
    g_set_error(error, LL_ERROR, LL_ERROR_IO,
                "%s: in the way (not a %s); move it aside and run again", path,
                folder ? "folder" : "regular file");
    return true;
}

// Moves every staged file into place. First checks that nothing is in the way
// (a folder or other non-file where a file goes), so that it fails before
// moving anything; the moves are renames within one folder tree.
static bool staging_commit(Staging *s, GError **error)
{
    GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
    list_files(files, s->staging, NULL);
    bool ok = true;
    for (guint i = 0; ok && i < files->len; i++) {
        char *target = g_build_filename(s->out_dir, (char *)files->pdata[i], NULL);
        ok = !in_the_way(target, false, error);
        g_free(target);
    }
    for (guint i = 0; ok && i < files->len; i++) {
        char *from = g_build_filename(s->staging, (char *)files->pdata[i], NULL);
        char *to = g_build_filename(s->out_dir, (char *)files->pdata[i], NULL);
        char *to_dir = g_path_get_dirname(to);
        ok = make_dir(to_dir, error);
        if (ok && g_rename(from, to) != 0) {
            int saved = errno;
            g_set_error(error, LL_ERROR, LL_ERROR_IO, "%s: cannot move the result into place: %s",
                        to, g_strerror(saved));
            ok = false;
        }
        g_free(from);
        g_free(to);
        g_free(to_dir);
    }
    g_ptr_array_free(files, TRUE);
    return ok;
}

static bool run_model(ModelRun *m, const ExperimentOptions *options, GError **error)
{
    char *test_path = g_build_filename(m->dir, "test.txt", NULL);
    bool ok = evaluate_test_set(m, options, error) &&
              problem_set_write(test_path, m->problems, m->count, error);
    g_free(test_path);
    if (!ok)
        return false;
    classify_bad(m);
    if (!run_boost(m, options, error))
        return false;
    profile_row18(m);
    if (options->figures && has_figures(m) && !save_figures(m, error))
        return false;
    if (!save_summary(m, options, error))
        return false;
    if (options->verbose) {
        char a[G_ASCII_DTOSTR_BUF_SIZE], b[G_ASCII_DTOSTR_BUF_SIZE], c[G_ASCII_DTOSTR_BUF_SIZE];
        fprintf(stderr,
                "looplens experiment: %s: accuracy %s; squaring %zu good, %zu bad; the boost "
                "fixed %zu, broke %zu; bad mean p_correct %s -> %s\n",
                m->name, number(a, "%.3f", ratio(m->correct, m->count)), m->good.count,
                m->bad.count, m->boost_bad.fixed, m->boost_good.broken,
                number(b, "%.3f", m->boost_bad.mean_p_before),
                number(c, "%.3f", m->boost_bad.mean_p_after));
    }
    return true;
}

bool experiment_run(const char *const *model_paths, int n_models, const ExperimentOptions *options,
                    GError **error)
{
    if (n_models < 1) {
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID, "no model to run");
        return false;
    }
    if (options->test_count < 1) {
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID, "the test set needs at least one problem");
        return false;
    }
    ModelRun *runs = g_new0(ModelRun, n_models);
    bool ok = true;
    // Load every model first: a bad checkpoint stops the run before any file
    // is written.
    for (int i = 0; ok && i < n_models; i++) {
        ModelRun *m = &runs[i];
        m->path = g_strdup(model_paths[i]);
        m->name = experiment_model_name(model_paths[i]);
        m->dir = g_build_filename(options->out_dir, m->name, NULL);
        m->boost_amount = options->boost_amount;
        for (int j = 0; ok && j < i; j++) {
            if (strcmp(runs[j].name, m->name) == 0) {
                g_set_error(error, LL_ERROR, LL_ERROR_INVALID,
                            "%s and %s would both write %s: give the models different file names",
                            runs[j].path, m->path, m->dir);
                ok = false;
            }
        }
        ok = ok && checkpoint_load(m->path, &m->model, &m->order, error);
        if (ok)
            m->config = m->model.config;
    }
    // What is in the way of the main files is found now, not after the run.
    for (int i = 0; ok && i < n_models; i++) {
        char *test = g_build_filename(runs[i].dir, "test.txt", NULL);
        char *summary = g_build_filename(runs[i].dir, "summary.json", NULL);
        ok = !in_the_way(runs[i].dir, true, error) && !in_the_way(test, false, error) &&
             !in_the_way(summary, false, error);
        g_free(test);
        g_free(summary);
    }
    char *report = g_build_filename(options->out_dir, "report.md", NULL);
    ok = ok && !in_the_way(report, false, error);
    g_free(report);
    Staging staging = {0};
    ok = ok && staging_open(&staging, options->out_dir, error);
    for (int i = 0; ok && i < n_models; i++) {
        g_free(runs[i].dir);
        runs[i].dir = g_build_filename(staging.staging, runs[i].name, NULL);
        ok = make_dir(runs[i].dir, error);
    }
    for (int i = 0; ok && i < n_models; i++) {
        ok = run_model(&runs[i], options, error);
        gpt_free(&runs[i].model);
    }
    ok = ok && save_report(staging.staging, runs, n_models, options, error) &&
         staging_commit(&staging, error);
    staging_finish(&staging, ok);
    for (int i = 0; i < n_models; i++)
        model_run_free(&runs[i]);
    g_free(runs);
    return ok;
}
