// viewer_model.c: see viewer_model.h.
#include "viewer_model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "checkpoint.h"
#include "experiment.h"
#include "util.h"

#define T VIEWER_T
#define SQUARING_REFS 1 // every example is a squaring problem: one referenced variable

const char *view_subset_name(ViewSubset s)
{
    static const char *const names[VIEW_SUBSETS] = {"good", "bad", "boosted"};
    return s >= 0 && s < VIEW_SUBSETS ? names[s] : "?";
}

// x with a printf format in the C locale, or "n/a" if it is not finite.
// buf holds G_ASCII_DTOSTR_BUF_SIZE bytes.
static const char *number(char *buf, const char *format, double x)
{
    if (!isfinite(x)) {
        g_strlcpy(buf, "n/a", G_ASCII_DTOSTR_BUF_SIZE);
        return buf;
    }
    return g_ascii_formatd(buf, G_ASCII_DTOSTR_BUF_SIZE, format, x);
}

// ----------------------------------------------------------------------------
// Mean raw scores

static void score_mean_init(ScoreMean *m, int L, int NH)
{
    memset(m, 0, sizeof *m);
    for (int v = 0; v < 2; v++) {
        m->sum[v] = g_new0(double, (size_t)L * NH * T * T);
        m->visible[v] = g_new0(int, T * T);
    }
}

static void score_mean_free(ScoreMean *m)
{
    for (int v = 0; v < 2; v++) {
        g_free(m->sum[v]);
        g_free(m->visible[v]);
    }
    memset(m, 0, sizeof *m);
}

// Adds problem b of the model's last forward pass; masked (-inf) cells add
// nothing and are not counted.
static void score_mean_add(ScoreMean *m, const GPT *model, int b, const Problem *p)
{
    int L = model->config.n_layer, NH = model->config.n_head;
    int order[T];
    problem_role_order(p, order);
    for (int r = 0; r < T; r++) {
        for (int c = 0; c < T; c++) {
            m->visible[0][r * T + c] += c <= r;
            m->visible[1][r * T + c] += order[c] <= order[r];
        }
    }
    for (int l = 0; l < L; l++) {
        for (int h = 0; h < NH; h++) {
            const float *s = gpt_scores(model, l, b, h);
            double *by_position = m->sum[0] + ((size_t)l * NH + h) * T * T;
            double *by_role = m->sum[1] + ((size_t)l * NH + h) * T * T;
            for (int r = 0; r < T; r++) {
                for (int c = 0; c < T; c++) {
                    float v = s[r * T + c];
                    if (isfinite(v))
                        by_position[r * T + c] += v;
                    v = s[order[r] * T + order[c]];
                    if (isfinite(v))
                        by_role[r * T + c] += v;
                }
            }
        }
    }
    m->count++;
}

// ----------------------------------------------------------------------------
// Loading

int viewer_data_n_layer(const ViewerData *d) { return d->model.config.n_layer; }
int viewer_data_n_head(const ViewerData *d) { return d->model.config.n_head; }

size_t viewer_data_count(const ViewerData *d, ViewSubset s)
{
    return s == VIEW_GOOD ? d->good.count : d->bad.count;
}

// One forward pass over the squaring problems: each one's result, and its
// patterns, scores and boost cache go to good or bad as soon as its batch
// says which it is (as experiment.c's evaluation does).
static bool analyse(ViewerData *d, GError **error)
{
    GPT *model = &d->model;
    int L = model->config.n_layer, NH = model->config.n_head;
    size_t S = d->n_squaring;
    d->results = g_new0(ProblemResult, S);
    d->failure = g_new0(int, S);
    for (int s = 0; s < 2; s++) {
        pattern_average_init(&d->average[s], L, NH);
        score_mean_init(&d->scores[s], L, NH);
        boost_cache_init(&d->cache[s], model, s == VIEW_GOOD ? 1 : 2);
    }
    int *tokens = g_new(int, (size_t)EVAL_BATCH * T);
    bool ok = true;
    for (size_t start = 0; ok && start < S; start += EVAL_BATCH) {
        int B = S - start < EVAL_BATCH ? (int)(S - start) : EVAL_BATCH;
        for (int b = 0; b < B; b++)
            memcpy(tokens + (size_t)b * T, d->squaring[start + b].tokens, T * sizeof(int));
        ok = gpt_forward(model, tokens, B, NULL, error);
        for (int b = 0; ok && b < B; b++) {
            const Problem *p = &d->squaring[start + b];
            ProblemResult *r = &d->results[start + b];
            result_from_forward(r, model, b, p);
            int s = result_correct(r) ? VIEW_GOOD : VIEW_BAD;
            pattern_average_add(&d->average[s], model, b, p);
            score_mean_add(&d->scores[s], model, b, p);
            ok = boost_cache_add(&d->cache[s], model, b, p, error);
        }
    }
    g_free(tokens);
    if (!ok)
        return false;
    split_squaring(&d->good, &d->bad, d->squaring, d->results, S);
    g_assert(d->good.count == (size_t)d->cache[VIEW_GOOD].count);
    g_assert(d->bad.count == (size_t)d->cache[VIEW_BAD].count);
    for (size_t i = 0; i < S; i++)
        d->failure[i] = classify_failure(&d->squaring[i], d->results[i].predicted);

    Problem *bad = g_new(Problem, d->bad.count ? d->bad.count : 1);
    int *predicted = g_new(int, d->bad.count ? d->bad.count : 1);
    for (size_t i = 0; i < d->bad.count; i++) {
        bad[i] = d->squaring[d->bad.index[i]];
        predicted[i] = d->results[d->bad.index[i]].predicted;
    }
    count_failures(&d->failures, bad, predicted, d->bad.count);
    g_free(bad);
    g_free(predicted);
    return true;
}

ViewerData *viewer_data_load(const char *model_path, const char *data_path, GError **error)
{
    ViewerData *d = g_new0(ViewerData, 1);
    d->ref_count = 1;
    d->model_path = g_strdup(model_path);
    d->data_path = g_strdup(data_path);
    d->name = experiment_model_name(model_path);
    ProblemSet set = {0};
    if (!checkpoint_load(model_path, &d->model, &d->order, error))
        goto fail;
    if (data_path) {
        if (!problem_set_read(data_path, &set, error))
            goto fail;
    } else {
        // The experiment's test set: the same stream `looplens experiment` reads.
        set.count = EXPERIMENT_TEST_COUNT;
        set.items = g_new(Problem, set.count);
        ProblemStream stream;
        problem_stream_init(&stream, SPLIT_TEST, d->order, EXPERIMENT_TEST_SEED);
        for (size_t i = 0; i < set.count; i++)
            problem_stream_next(&stream, &set.items[i]);
    }
    d->test_count = set.count;
    d->squaring = g_new(Problem, set.count);
    d->test_index = g_new(size_t, set.count);
    for (size_t i = 0; i < set.count; i++) {
        if (problem_is_squaring(&set.items[i])) {
            d->squaring[d->n_squaring] = set.items[i];
            d->test_index[d->n_squaring++] = i;
        }
    }
    problem_set_free(&set);
    if (d->n_squaring == 0) {
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID, "%s: no squaring problems (x * x) to compare",
                    data_path ? data_path : "test set");
        goto fail;
    }
    if (!analyse(d, error))
        goto fail;
    return d;
fail:
    problem_set_free(&set);
    viewer_data_unref(d);
    return NULL;
}

ViewerData *viewer_data_ref(ViewerData *d)
{
    g_atomic_int_inc(&d->ref_count);
    return d;
}

void viewer_data_unref(ViewerData *d)
{
    if (!d || !g_atomic_int_dec_and_test(&d->ref_count))
        return;
    for (int s = 0; s < 2; s++) {
        if (d->average[s].sum)
            pattern_average_free(&d->average[s]);
        score_mean_free(&d->scores[s]);
        boost_cache_free(&d->cache[s]);
    }
    subset_free(&d->good);
    subset_free(&d->bad);
    gpt_free(&d->model);
    g_free(d->squaring);
    g_free(d->test_index);
    g_free(d->results);
    g_free(d->failure);
    g_free(d->model_path);
    g_free(d->data_path);
    g_free(d->name);
    g_free(d);
}

// ----------------------------------------------------------------------------
// The live boost

void viewer_boost_settings(Boost *out, double amount, bool values, bool op, BoostScope scope,
                           int layer, int head)
{
    boost_init_default(out, (float)amount);
    out->boost_values = values;
    out->boost_operator = op;
    if (scope == BOOST_SCOPE_ALL)
        return;
    memset(out->target, 0, sizeof out->target);
    for (int h = 0; h < MAX_HEADS; h++)
        if (scope == BOOST_SCOPE_LAYER || head < 0 || h == head)
            out->target[layer][h] = true;
}

ViewerBoost *viewer_boost_new(const ViewerData *d)
{
    ViewerBoost *vb = g_new0(ViewerBoost, 1);
    for (int s = 0; s < 2; s++)
        boost_run_init(&vb->run[s], &d->cache[s]);
    return vb;
}

void viewer_boost_free(ViewerBoost *vb)
{
    if (!vb)
        return;
    for (int s = 0; s < 2; s++)
        boost_run_free(&vb->run[s]);
    g_free(vb);
}

// The mean of p_correct over a run, and how many it answers right.
static double run_mean_p(const BoostRun *run, const BoostCache *cache, size_t *correct)
{
    double sum = 0.0;
    *correct = 0;
    for (int n = 0; n < run->count; n++) {
        sum += run->p_correct[n];
        *correct += run->predicted[n] == cache->problems[n].tokens[POS_ANSWER];
    }
    return run->count ? sum / run->count : NAN;
}

void viewer_boost_compute(ViewerBoost *vb, const ViewerData *d, const Boost *boost, int bad_rows)
{
    vb->boost = *boost;
    boost_cache_run(&d->cache[VIEW_GOOD], boost, &vb->run[VIEW_GOOD], 1);
    boost_cache_run(&d->cache[VIEW_BAD], boost, &vb->run[VIEW_BAD], bad_rows);
    ViewerReadouts *r = &vb->readouts;
    r->n_good = d->good.count;
    r->n_bad = d->bad.count;
    r->good_p = subset_mean_p_correct(&d->good, d->results);
    r->bad_p = subset_mean_p_correct(&d->bad, d->results);
    size_t good_right, bad_right;
    r->good_boosted_p = run_mean_p(&vb->run[VIEW_GOOD], &d->cache[VIEW_GOOD], &good_right);
    r->boosted_p = run_mean_p(&vb->run[VIEW_BAD], &d->cache[VIEW_BAD], &bad_right);
    // Every bad problem was wrong before and every good one right: the bad
    // ones right now are fixed, the good ones wrong now are broken.
    r->fixed = bad_right;
    r->broken = r->n_good - good_right;
}

bool viewer_boost_complete(const ViewerBoost *vb, const ViewerData *d)
{
    return d->bad.count == 0 || vb->run[VIEW_BAD].rows_done == d->cache[VIEW_BAD].rows;
}

char *viewer_readouts_text(const ViewerReadouts *r)
{
    char a[G_ASCII_DTOSTR_BUF_SIZE], b[G_ASCII_DTOSTR_BUF_SIZE], c[G_ASCII_DTOSTR_BUF_SIZE];
    char e[G_ASCII_DTOSTR_BUF_SIZE];
    return g_strdup_printf("mean p_correct\n"
                           "  good           %s  (n = %zu)\n"
                           "  bad            %s  (n = %zu)\n"
                           "  bad, boosted   %s\n"
                           "  good, boosted  %s\n"
                           "fixed   %zu of %zu bad\n"
                           "broken  %zu of %zu good",
                           number(a, "%.3f", r->good_p), r->n_good, number(b, "%.3f", r->bad_p),
                           r->n_bad, number(c, "%.3f", r->boosted_p),
                           number(e, "%.3f", r->good_boosted_p), r->fixed, r->n_bad, r->broken,
                           r->n_good);
}

// ----------------------------------------------------------------------------
// What the panels show

static int heads_of(const ViewerData *d, int head, int *first)
{
    *first = head == ALL_HEADS ? 0 : head;
    return head == ALL_HEADS ? viewer_data_n_head(d) : 1;
}

// Rows 18 and 19 of the boosted pattern: the mean over bad problems (and
// heads) of the run's rows, re-indexed like pattern_average_get does it.
static void boosted_pattern_rows(float out[VIEWER_CELLS], const ViewerData *d,
                                 const ViewerBoost *vb, int layer, int head, bool by_role)
{
    const BoostCache *cache = &d->cache[VIEW_BAD];
    const BoostRun *run = &vb->run[VIEW_BAD];
    const GPTConfig *cfg = &cache->config;
    int first, heads = heads_of(d, head, &first);
    double *sum = g_new0(double, VIEWER_CELLS);
    float matrix[VIEWER_CELLS] = {0}; // only rows 18 and 19 are ever filled
    float mean[VIEWER_CELLS];
    for (int n = 0; n < cache->count; n++) {
        int order[T];
        problem_role_order(&cache->problems[n], order);
        for (int h = first; h < first + heads; h++) {
            for (int r = 0; r < run->rows_done; r++)
                memcpy(matrix + (BOOST_FIRST_ROW + r) * T,
                       boost_run_pattern_row(run, cfg, layer, n, h, r), T * sizeof(float));
            pattern_accumulate(sum, matrix, by_role ? order : NULL, T);
        }
    }
    pattern_mean(mean, sum, (size_t)cache->count * heads, VIEWER_CELLS);
    g_free(sum);
    for (int r = BOOST_FIRST_ROW; r < BOOST_FIRST_ROW + cache->rows; r++)
        for (int c = 0; c < T; c++)
            if (r >= BOOST_FIRST_ROW + run->rows_done)
                out[r * T + c] = NAN; // not recomputed yet (the slider is moving)
            else if (!isnan(out[r * T + c])) // a role cell never visible stays undefined
                out[r * T + c] = mean[r * T + c];
}

void viewer_pattern(const ViewerData *d, const ViewerBoost *vb, ViewSubset s, int layer, int head,
                    bool by_role, float out[VIEWER_CELLS])
{
    if (s == VIEW_BOOSTED && !vb) {
        for (int i = 0; i < VIEWER_CELLS; i++)
            out[i] = NAN;
        return;
    }
    pattern_average_get(&d->average[s == VIEW_GOOD ? VIEW_GOOD : VIEW_BAD], layer, head, by_role,
                        out);
    if (s == VIEW_BOOSTED && d->bad.count > 0)
        boosted_pattern_rows(out, d, vb, layer, head, by_role);
}

void viewer_raw_scores(const ViewerData *d, const ViewerBoost *vb, ViewSubset s, int layer,
                       int head, bool by_role, float out[VIEWER_CELLS])
{
    int NH = viewer_data_n_head(d);
    int first, heads = heads_of(d, head, &first);
    const ScoreMean *m = &d->scores[s == VIEW_GOOD ? VIEW_GOOD : VIEW_BAD];
    int v = by_role ? 1 : 0;
    for (int i = 0; i < VIEWER_CELLS; i++) {
        double sum = 0.0;
        for (int h = first; h < first + heads; h++)
            sum += m->sum[v][((size_t)layer * NH + h) * T * T + i];
        size_t n = (size_t)m->visible[v][i] * heads;
        out[i] = n ? (float)(sum / n) : NAN;
    }
    if (s != VIEW_BOOSTED)
        return;
    if (!vb) {
        for (int i = 0; i < VIEWER_CELLS; i++)
            out[i] = NAN;
        return;
    }
    // Rows 18 and 19 from the run, finite cells only, as score_mean_add does.
    const BoostCache *cache = &d->cache[VIEW_BAD];
    const BoostRun *run = &vb->run[VIEW_BAD];
    for (int r = 0; r < cache->rows; r++) {
        if (r >= run->rows_done) { // not recomputed yet
            for (int c = 0; c < T; c++)
                out[(BOOST_FIRST_ROW + r) * T + c] = NAN;
            continue;
        }
        double sum[T] = {0};
        size_t n[T] = {0};
        for (int p = 0; p < cache->count; p++) {
            int order[T];
            problem_role_order(&cache->problems[p], order);
            for (int h = first; h < first + heads; h++) {
                const float *row = boost_run_scores_row(run, &cache->config, layer, p, h, r);
                for (int c = 0; c < T; c++) {
                    float x = row[by_role ? order[c] : c];
                    if (isfinite(x)) {
                        sum[c] += x;
                        n[c]++;
                    }
                }
            }
        }
        for (int c = 0; c < T; c++)
            out[(BOOST_FIRST_ROW + r) * T + c] = n[c] ? (float)(sum[c] / n[c]) : NAN;
    }
}

void viewer_axis_label(char *out, size_t size, const ViewerData *d, bool by_role, int i)
{
    if (by_role)
        g_strlcpy(out, role_label(i, SQUARING_REFS), size);
    else
        g_snprintf(out, size, "%d %s", i, heatmap_role_name(i, d->order));
}

static void set_axis_labels(Heatmap *hm, const ViewerData *d, bool by_role)
{
    for (int i = 0; i < T; i++) {
        viewer_axis_label(hm->row_labels[i], HEATMAP_LABEL_MAX, d, by_role, i);
        g_strlcpy(hm->col_labels[i], hm->row_labels[i], HEATMAP_LABEL_MAX);
    }
    // In role order the causal mask is not the upper triangle: cells never
    // visible are NaN, which the heatmap hatches like masked ones.
    hm->mask_upper = !by_role;
}

static void panel_title(char *out, size_t size, ViewSubset s, float amount)
{
    char a[G_ASCII_DTOSTR_BUF_SIZE];
    if (s == VIEW_GOOD)
        g_strlcpy(out, "good (answered right)", size);
    else if (s == VIEW_BAD)
        g_strlcpy(out, "bad (answered wrong)", size);
    else
        g_snprintf(out, size, "bad, boosted (%s)", number(a, "%+.2f", amount));
}

int viewer_panels(Heatmap panels[3], ViewSubset subsets[3], const ViewerData *d,
                  const ViewerBoost *vb, int layer, int head, bool by_role, bool difference)
{
    float values[VIEW_SUBSETS][VIEWER_CELLS];
    bool has[VIEW_SUBSETS] = {d->good.count > 0, d->bad.count > 0, d->bad.count > 0 && vb};
    for (int s = 0; s < VIEW_SUBSETS; s++)
        if (has[s])
            viewer_pattern(d, vb, s, layer, head, by_role, values[s]);
    float amount = vb ? vb->boost.amount : 0.0f;
    int n = 0;
    if (!difference) {
        for (int s = 0; s < VIEW_SUBSETS; s++) {
            if (!has[s])
                continue;
            Heatmap *hm = &panels[n];
            heatmap_init(hm, HEATMAP_PATTERN, values[s]);
            set_axis_labels(hm, d, by_role);
            panel_title(hm->title, HEATMAP_TEXT_MAX, s, amount);
            g_snprintf(hm->caption, HEATMAP_TEXT_MAX, "n = %zu", viewer_data_count(d, s));
            subsets[n++] = s;
        }
        return n;
    }
    // Differences: bad - good, boosted - bad.
    static const ViewSubset pairs[2][2] = {{VIEW_BAD, VIEW_GOOD}, {VIEW_BOOSTED, VIEW_BAD}};
    for (int i = 0; i < 2; i++) {
        ViewSubset a = pairs[i][0], b = pairs[i][1];
        if (!has[a] || !has[b])
            continue;
        float diff[VIEWER_CELLS];
        if (a == VIEW_BAD) {
            pattern_average_difference(&d->average[VIEW_BAD], &d->average[VIEW_GOOD], layer, head,
                                       by_role, diff);
        } else {
            for (int c = 0; c < VIEWER_CELLS; c++)
                diff[c] = values[a][c] - values[b][c];
        }
        Heatmap *hm = &panels[n];
        heatmap_init(hm, HEATMAP_DIFFERENCE, diff);
        set_axis_labels(hm, d, by_role);
        char ta[HEATMAP_TEXT_MAX], tb[HEATMAP_TEXT_MAX];
        panel_title(ta, sizeof ta, a, amount);
        g_snprintf(tb, sizeof tb, "%s", b == VIEW_GOOD ? "good" : "bad");
        g_snprintf(hm->title, HEATMAP_TEXT_MAX, "%s - %s", a == VIEW_BAD ? "bad" : ta, tb);
        g_snprintf(hm->caption, HEATMAP_TEXT_MAX, "n = %zu vs %zu", viewer_data_count(d, a),
                   viewer_data_count(d, b));
        g_strlcpy(hm->colorbar_label, "difference in attention weight", HEATMAP_TEXT_MAX);
        subsets[n++] = a;
    }
    return n;
}

static void head_name(char *out, size_t size, int layer, int head)
{
    if (head == ALL_HEADS)
        g_snprintf(out, size, "layer %d, mean of heads", layer);
    else
        g_snprintf(out, size, "layer %d head %d", layer, head);
}

void viewer_panels_title(char *out, size_t size, const ViewerData *d, int layer, int head,
                         bool by_role, bool difference)
{
    char which[64];
    head_name(which, sizeof which, layer, head);
    g_snprintf(out, size, "%s (%s definitions): %s, %s%s", d->name, order_name(d->order), which,
               by_role ? "role order" : "by position", difference ? ", differences" : "");
}

void viewer_profile(ProfileChart *chart, const ViewerData *d, const ViewerBoost *vb, int layer,
                    int head, bool by_role)
{
    profile_chart_init(chart, POS_ANS + 1);
    for (int j = 0; j <= POS_ANS; j++)
        viewer_axis_label(chart->key_labels[j], HEATMAP_LABEL_MAX, d, by_role, j);
    for (int s = 0; s < VIEW_SUBSETS; s++) {
        if (viewer_data_count(d, s) == 0 || (s == VIEW_BOOSTED && !vb))
            continue;
        float values[VIEWER_CELLS];
        viewer_pattern(d, vb, s, layer, head, by_role, values);
        profile_chart_add_series(chart, view_subset_name(s), values + POS_ANS * T);
    }
    char which[64];
    head_name(which, sizeof which, layer, head);
    g_snprintf(chart->title, HEATMAP_TEXT_MAX, "row 18 ([ANS]) of %s, %s", which,
               by_role ? "role order" : "by position");
    g_snprintf(chart->caption, HEATMAP_TEXT_MAX, "mean attention weight per key position");
}

float *viewer_grid_thumbs(const ViewerData *d, bool by_role, bool difference, double *limit)
{
    int L = viewer_data_n_layer(d), NH = viewer_data_n_head(d);
    bool both = d->good.count > 0 && d->bad.count > 0;
    difference = difference && both;
    ViewSubset shown = d->bad.count > 0 ? VIEW_BAD : VIEW_GOOD;
    float *thumbs = g_new(float, (size_t)L * (NH + 1) * VIEWER_CELLS);
    double largest = 0.0;
    for (int l = 0; l < L; l++) {
        for (int h = 0; h <= NH; h++) {
            int head = h == NH ? ALL_HEADS : h;
            float *out = thumbs + ((size_t)l * (NH + 1) + h) * VIEWER_CELLS;
            if (!difference) {
                pattern_average_get(&d->average[shown], l, head, by_role, out);
                continue;
            }
            pattern_average_difference(&d->average[VIEW_BAD], &d->average[VIEW_GOOD], l, head,
                                       by_role, out);
            for (int i = 0; i < VIEWER_CELLS; i++)
                if (isfinite(out[i]))
                    largest = fmax(largest, fabs(out[i]));
        }
    }
    *limit = difference ? (largest > 0 ? largest : 1.0) : 1.0;
    return thumbs;
}

// ----------------------------------------------------------------------------
// Tooltips

char *viewer_cell_tooltip(const ViewerData *d, const ViewerBoost *vb, int layer, int head,
                          bool by_role, int row, int col)
{
    if (row < 0 || row >= T || col < 0 || col >= T)
        return NULL;
    char query[HEATMAP_LABEL_MAX], key[HEATMAP_LABEL_MAX], which[64];
    viewer_axis_label(query, sizeof query, d, by_role, row);
    viewer_axis_label(key, sizeof key, d, by_role, col);
    head_name(which, sizeof which, layer, head);
    GString *text = g_string_new(NULL);
    g_string_append_printf(text, "query %s  \u2192  key %s%s\n%s", query, key,
                           by_role ? " (role order)" : "", which);
    float weight[VIEW_SUBSETS][VIEWER_CELLS], raw[VIEW_SUBSETS][VIEWER_CELLS];
    bool any = false;
    for (int s = 0; s < VIEW_SUBSETS; s++) {
        viewer_pattern(d, vb, s, layer, head, by_role, weight[s]);
        viewer_raw_scores(d, vb, s, layer, head, by_role, raw[s]);
        any |= isfinite(weight[s][row * T + col]) && isfinite(raw[s][row * T + col]);
    }
    if (!by_role && col > row)
        any = false;
    if (!any) {
        g_string_append(text, "\nmasked: the key comes after the query");
        return g_string_free(text, FALSE);
    }
    const char *lines[2] = {"weight", "raw score"};
    for (int k = 0; k < 2; k++) {
        g_string_append_printf(text, "\n%-10s", lines[k]);
        for (int s = 0; s < VIEW_SUBSETS; s++) {
            if (viewer_data_count(d, s) == 0)
                continue;
            char v[G_ASCII_DTOSTR_BUF_SIZE];
            float x = (k == 0 ? weight : raw)[s][row * T + col];
            g_string_append_printf(text, "  %s %s", view_subset_name(s),
                                   number(v, k == 0 ? "%.3f" : "%.2f", x));
        }
    }
    if (vb) {
        char a[G_ASCII_DTOSTR_BUF_SIZE];
        g_string_append_printf(text, "\n(raw score: mean pre-softmax q\u00b7k/\u221ad; boost %s)",
                               number(a, "%+.2f", vb->boost.amount));
    }
    return g_string_free(text, FALSE);
}

// ----------------------------------------------------------------------------
// One example

char *viewer_example_text(const ViewerData *d, size_t i)
{
    const Problem *p = &d->squaring[i];
    const ProblemResult *r = &d->results[i];
    int var = problem_var1(p);
    char pc[G_ASCII_DTOSTR_BUF_SIZE];
    GString *text = g_string_new(NULL);
    g_string_append_printf(text,
                           "#%zu  %s * %s with %s = %d: answer %s, predicted %s (p_correct %s)",
                           d->test_index[i], vocab_string(var), vocab_string(var),
                           vocab_string(var), problem_value_of(p, var),
                           vocab_string(r->answer), vocab_string(r->predicted),
                           number(pc, "%.3f", r->p_correct));
    if (d->failure[i] != FAILURE_NONE)
        g_string_append_printf(text, ", %s", failure_kind_name(d->failure[i]));
    return g_string_free(text, FALSE);
}

bool viewer_example_capture(ViewerData *d, size_t i, const Boost *boost, Capture *before,
                            ProblemResult *result_before, Capture *after,
                            ProblemResult *result_after, GError **error)
{
    const Problem *p = &d->squaring[i];
    memset(after, 0, sizeof *after);
    if (!capture_problem(before, &d->model, p, NULL, error))
        return false;
    result_from_forward(result_before, &d->model, 0, p);
    if (!capture_problem(after, &d->model, p, boost, error)) {
        capture_free(before);
        return false;
    }
    result_from_forward(result_after, &d->model, 0, p);
    return true;
}

// out (T,T): one head's matrix of a capture, or the mean over heads.
static void capture_matrix(float out[VIEWER_CELLS], const Capture *c, int layer, int head,
                           bool scores)
{
    int first = head == ALL_HEADS ? 0 : head, heads = head == ALL_HEADS ? c->n_head : 1;
    double sum[VIEWER_CELLS] = {0};
    for (int h = first; h < first + heads; h++) {
        const float *m = scores ? capture_scores(c, layer, h) : capture_pattern(c, layer, h);
        for (int i = 0; i < VIEWER_CELLS; i++)
            sum[i] += m[i];
    }
    for (int i = 0; i < VIEWER_CELLS; i++)
        out[i] = (float)(sum[i] / heads);
}

int viewer_example_panels(Heatmap panels[2], const ViewerData *d, size_t i,
                          const Capture *before, const ProblemResult *result_before,
                          const Capture *after, const ProblemResult *result_after, int layer,
                          int head, float amount)
{
    const Capture *caps[2] = {before, after};
    const ProblemResult *results[2] = {result_before, result_after};
    char a[G_ASCII_DTOSTR_BUF_SIZE];
    for (int k = 0; k < 2; k++) {
        float values[VIEWER_CELLS];
        capture_matrix(values, caps[k], layer, head, false);
        heatmap_init(&panels[k], HEATMAP_PATTERN, values);
        heatmap_set_problem_labels(&panels[k], &d->squaring[i]);
        g_snprintf(panels[k].caption, HEATMAP_TEXT_MAX, "predicted %s, p_correct %s",
                   vocab_string(results[k]->predicted), number(a, "%.3f", results[k]->p_correct));
    }
    g_strlcpy(panels[0].title, "this problem", HEATMAP_TEXT_MAX);
    g_snprintf(panels[1].title, HEATMAP_TEXT_MAX, "boosted (%s)", number(a, "%+.2f", amount));
    return 2;
}

// A position's role in one problem: ref, ref_val, other_names, other_vals,
// op, or else what sits there ("[ANS]", "var1", ...).
static const char *example_role(const Problem *p, int position)
{
    int part = role_part_of_position(p, position);
    return part == ROLE_PART_REST ? heatmap_role_name(position, ORDER_FIXED) : role_part_name(part);
}

char *viewer_example_tooltip(const ViewerData *d, size_t i, const Capture *before,
                             const Capture *after, int layer, int head, int row, int col)
{
    if (row < 0 || row >= T || col < 0 || col >= T)
        return NULL;
    const Problem *p = &d->squaring[i];
    GString *text = g_string_new(NULL);
    g_string_append_printf(text, "query %d '%s' (%s)  \u2192  key %d '%s' (%s)", row,
                           vocab_string(p->tokens[row]), example_role(p, row), col,
                           vocab_string(p->tokens[col]), example_role(p, col));
    if (col > row) {
        g_string_append(text, "\nmasked: the key comes after the query");
        return g_string_free(text, FALSE);
    }
    const Capture *caps[2] = {before, after};
    const char *names[2] = {"before", "boosted"};
    for (int k = 0; k < 2; k++) {
        float w[VIEWER_CELLS], s[VIEWER_CELLS];
        capture_matrix(w, caps[k], layer, head, false);
        capture_matrix(s, caps[k], layer, head, true);
        char a[G_ASCII_DTOSTR_BUF_SIZE], b[G_ASCII_DTOSTR_BUF_SIZE];
        g_string_append_printf(text, "\n%-8s weight %s  raw score %s", names[k],
                               number(a, "%.3f", w[row * T + col]),
                               number(b, "%.2f", s[row * T + col]));
    }
    return g_string_free(text, FALSE);
}

char *viewer_top5_text(const ProblemResult *r)
{
    GString *text = g_string_new(NULL);
    for (int k = 0; k < TOP_K; k++) {
        char a[G_ASCII_DTOSTR_BUF_SIZE];
        g_string_append_printf(text, "%s%4s  %s%s", k ? "\n" : "", vocab_string(r->top[k]),
                               number(a, "%.3f", r->top_p[k]),
                               r->top[k] == r->answer ? "  \u2713" : "");
    }
    return g_string_free(text, FALSE);
}
