// compare.c: chapter 8, good against bad: evaluation, the split, averaged
// patterns (by position and by role), role profiles and kinds of failure.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"
#include "util.h"

#define T COMPARE_T

// ----------------------------------------------------------------------------
// 1. Evaluation

void result_from_forward(ProblemResult *out, const GPT *model, int b, const Problem *problem)
{
    const float *probs = gpt_probs(model, b); // (V)
    int V = model->config.vocab_size;
    out->answer = problem->tokens[POS_ANSWER];
    out->p_correct = probs[out->answer];
    // The top five by repeated selection: V is small, and scanning in id
    // order with a strict > keeps the lowest id on a tie.
    bool taken[VOCAB_SIZE] = {false};
    for (int k = 0; k < TOP_K; k++) {
        int best = -1;
        for (int v = 0; v < V; v++)
            if (!taken[v] && (best < 0 || probs[v] > probs[best]))
                best = v;
        taken[best] = true;
        out->top[k] = best;
        out->top_p[k] = probs[best];
    }
    out->predicted = out->top[0];
    out->p_predicted = out->top_p[0];
}

// tokens (B,T) = the problems' tokens, gathered
static void gather_tokens(int *tokens, const Problem *problems, const size_t *index, size_t start,
                          int B)
{
    for (int b = 0; b < B; b++) {
        size_t i = index ? index[start + b] : start + b;
        memcpy(tokens + (size_t)b * T, problems[i].tokens, sizeof problems[i].tokens);
    }
}

bool evaluate_problems(ProblemResult *out, GPT *model, const Problem *problems, size_t count,
                       const Boost *boost, GError **error)
{
    int tokens[EVAL_BATCH * T];
    for (size_t start = 0; start < count; start += EVAL_BATCH) {
        int B = count - start < EVAL_BATCH ? (int)(count - start) : EVAL_BATCH;
        gather_tokens(tokens, problems, NULL, start, B);
        if (!gpt_forward(model, tokens, B, boost, error))
            return false;
        for (int b = 0; b < B; b++)
            result_from_forward(&out[start + b], model, b, &problems[start + b]);
    }
    return true;
}

// ----------------------------------------------------------------------------
// 2. The split

void split_squaring(Subset *good, Subset *bad, const Problem *problems,
                    const ProblemResult *results, size_t count)
{
    good->index = g_new(size_t, count ? count : 1);
    bad->index = g_new(size_t, count ? count : 1);
    good->count = bad->count = 0;
    for (size_t i = 0; i < count; i++) {
        if (!problem_is_squaring(&problems[i]))
            continue;
        Subset *s = result_correct(&results[i]) ? good : bad;
        s->index[s->count++] = i;
    }
}

void subset_free(Subset *s)
{
    g_free(s->index);
    s->index = NULL;
    s->count = 0;
}

double subset_mean_p_correct(const Subset *s, const ProblemResult *results)
{
    if (s->count == 0)
        return NAN;
    double sum = 0.0;
    for (size_t i = 0; i < s->count; i++)
        sum += results[s->index[i]].p_correct;
    return sum / (double)s->count;
}

size_t subset_count_correct(const Subset *s, const ProblemResult *results)
{
    size_t n = 0;
    for (size_t i = 0; i < s->count; i++)
        n += result_correct(&results[s->index[i]]);
    return n;
}

// ----------------------------------------------------------------------------
// Roles

const char *role_part_name(int part)
{
    static const char *const names[ROLE_PARTS] = {"ref", "ref_val", "other_names",
                                                  "other_vals", "op", "rest"};
    return part >= 0 && part < ROLE_PARTS ? names[part] : "?";
}

static bool is_referenced(const Problem *p, int var)
{
    return var == problem_var1(p) || var == problem_var2(p);
}

int role_part_of_position(const Problem *p, int position)
{
    if (position >= name_position(0) && position <= value_position(NUM_VARS - 1)) {
        bool is_name = (position - name_position(0)) % 2 == 0;
        int name = p->tokens[is_name ? position : position - 1];
        if (is_referenced(p, name))
            return is_name ? ROLE_PART_REF : ROLE_PART_REF_VAL;
        return is_name ? ROLE_PART_OTHER_NAMES : ROLE_PART_OTHER_VALS;
    }
    return position == POS_OP ? ROLE_PART_OP : ROLE_PART_REST;
}

// parts (ROLE_PARTS); row (T)
void row_role_parts(float parts[ROLE_PARTS], const float *row, const Problem *p)
{
    double sum[ROLE_PARTS] = {0};
    for (int j = 0; j < T; j++)
        sum[role_part_of_position(p, j)] += row[j];
    for (int k = 0; k < ROLE_PARTS; k++)
        parts[k] = (float)sum[k];
}

void problem_role_order(const Problem *p, int order[T])
{
    for (int r = 0; r < T; r++)
        order[r] = r;
    // The definition slots in role order: var1's, var2's (if another), the rest.
    int slots[NUM_VARS], n = 0;
    int var1 = problem_var1(p), var2 = problem_var2(p);
    for (int pass = 0; pass < 3; pass++) {
        for (int s = 0; s < NUM_VARS; s++) {
            int name = p->tokens[name_position(s)];
            bool take = pass == 0   ? name == var1
                        : pass == 1 ? name == var2 && var2 != var1
                                    : !is_referenced(p, name);
            if (take)
                slots[n++] = s;
        }
    }
    for (int k = 0; k < NUM_VARS; k++) {
        order[name_position(k)] = name_position(slots[k]);
        order[value_position(k)] = value_position(slots[k]);
    }
}

const char *role_label(int role, int n_ref)
{
    static const char *const one_ref[T] = {
        "0 [START]", "ref",     "ref_val", "x1",      "x1_val",  "x2",       "x2_val",
        "x3",        "x3_val",  "9 [VARS]", "10 var1", "11 var2", "12 [EQ]", "13 ans",
        "14 =",      "15 var1", "16 op",   "17 var2", "18 [ANS]", "19 answer"};
    static const char *const two_refs[9] = {"", "ref1", "ref1_val", "ref2", "ref2_val",
                                            "x1", "x1_val", "x2", "x2_val"};
    if (role < 0 || role >= T)
        return "?";
    if (n_ref == 2 && role >= 1 && role <= 8)
        return two_refs[role];
    return one_ref[role];
}

// ----------------------------------------------------------------------------
// 3. Averaged patterns

void pattern_average_init(PatternAverage *a, int n_layer, int n_head)
{
    memset(a, 0, sizeof *a);
    a->n_layer = n_layer;
    a->n_head = n_head;
    a->n_ref = 1;
    size_t cells = (size_t)n_layer * n_head * T * T;
    a->sum = g_new0(double, 2 * cells); // one allocation: sum, then role_sum
    a->role_sum = a->sum + cells;
    a->role_visible = g_new0(int, T * T);
    a->parts = g_array_new(FALSE, FALSE, sizeof(float));
}

void pattern_average_free(PatternAverage *a)
{
    g_free(a->sum);
    g_free(a->role_visible);
    if (a->parts)
        g_array_free(a->parts, TRUE);
    memset(a, 0, sizeof *a);
}

// sum (T,T); pattern (T,T); order (T) or NULL
void pattern_accumulate(double *sum, const float *pattern, const int *order, int n)
{
#ifdef LOOPLENS_SOLUTION
    for (int r = 0; r < n; r++) {
        int row = order ? order[r] : r;
        for (int c = 0; c < n; c++) {
            int col = order ? order[c] : c;
            sum[r * n + c] += pattern[row * n + col];
        }
    }
#else
    // TODO(exercise ch08): add every cell of pattern into sum. Without an order, cell (r, c)
    // goes to (r, c); with one, sum's cell (r, c) gets pattern's cell
    // (order[r], order[c]): rows and columns are re-indexed alike.
    // Hint: two nested loops over r and c; sum in double so that a thousand
    // examples lose nothing.
    (void)sum, (void)pattern, (void)order, (void)n;
#endif
}

// mean (n) = sum (n) / count
void pattern_mean(float *mean, const double *sum, size_t count, int n)
{
    for (int i = 0; i < n; i++)
        mean[i] = count ? (float)(sum[i] / (double)count) : NAN;
}

void pattern_average_add(PatternAverage *a, const GPT *model, int b, const Problem *p)
{
    int L = a->n_layer, NH = a->n_head;
    int order[T];
    problem_role_order(p, order);
    if (!problem_is_squaring(p))
        a->n_ref = 2;
    for (int r = 0; r < T; r++)
        for (int c = 0; c < T; c++)
            a->role_visible[r * T + c] += order[c] <= order[r]; // key not after query
    for (int l = 0; l < L; l++) {
        for (int h = 0; h < NH; h++) {
            const float *pattern = gpt_pattern(model, l, b, h); // (T,T)
            size_t at = ((size_t)l * NH + h) * T * T;
            pattern_accumulate(a->sum + at, pattern, NULL, T);
            pattern_accumulate(a->role_sum + at, pattern, order, T);
            float parts[ROLE_PARTS];
            row_role_parts(parts, pattern + POS_ANS * T, p);
            g_array_append_vals(a->parts, parts, ROLE_PARTS);
        }
    }
    a->count++;
}

bool pattern_average_run(PatternAverage *a, ProblemResult *results, GPT *model,
                         const Problem *problems, const size_t *index, size_t count,
                         const Boost *boost, GError **error)
{
    int tokens[EVAL_BATCH * T];
    for (size_t start = 0; start < count; start += EVAL_BATCH) {
        int B = count - start < EVAL_BATCH ? (int)(count - start) : EVAL_BATCH;
        gather_tokens(tokens, problems, index, start, B);
        if (!gpt_forward(model, tokens, B, boost, error))
            return false;
        for (int b = 0; b < B; b++) {
            const Problem *p = &problems[index ? index[start + b] : start + b];
            if (results)
                result_from_forward(&results[start + b], model, b, p);
            pattern_average_add(a, model, b, p);
        }
    }
    return true;
}

void pattern_average_get(const PatternAverage *a, int layer, int head, bool by_role,
                         float out[COMPARE_CELLS])
{
    const double *sums = by_role ? a->role_sum : a->sum;
    int first = head == ALL_HEADS ? 0 : head;
    int heads = head == ALL_HEADS ? a->n_head : 1;
    // The mean over heads of each head's mean is the sum over heads and
    // examples divided by both counts.
    double sum[COMPARE_CELLS] = {0};
    for (int h = first; h < first + heads; h++) {
        const double *s = sums + ((size_t)layer * a->n_head + h) * T * T;
        for (int i = 0; i < T * T; i++)
            sum[i] += s[i];
    }
    pattern_mean(out, sum, a->count * (size_t)heads, T * T);
    if (by_role)
        for (int i = 0; i < T * T; i++)
            if (a->role_visible[i] == 0)
                out[i] = NAN;
}

void pattern_average_difference(const PatternAverage *a, const PatternAverage *b, int layer,
                                int head, bool by_role, float out[COMPARE_CELLS])
{
    float mean_b[COMPARE_CELLS];
    pattern_average_get(a, layer, head, by_role, out);
    pattern_average_get(b, layer, head, by_role, mean_b);
    for (int i = 0; i < T * T; i++)
        out[i] -= mean_b[i]; // NaN - x and x - NaN stay NaN
}

void role_profile(RoleProfile *out, const PatternAverage *a, int layer, int head)
{
    memset(out, 0, sizeof *out);
    out->n = a->count;
    int NH = a->n_head;
    int first = head == ALL_HEADS ? 0 : head;
    int heads = head == ALL_HEADS ? NH : 1;
    const float *parts = (const float *)a->parts->data; // (count, L, NH, ROLE_PARTS)
    for (int k = 0; k < ROLE_PARTS; k++) {
        // Two passes over the examples, in order: the mean, then the spread.
        double sum = 0.0, squares = 0.0;
        for (int pass = 0; pass < 2; pass++) {
            for (size_t i = 0; i < a->count; i++) {
                double x = 0.0;
                for (int h = first; h < first + heads; h++)
                    x += parts[(((i * a->n_layer + layer) * NH) + h) * ROLE_PARTS + k];
                x /= heads;
                if (pass == 0)
                    sum += x;
                else
                    squares += (x - out->mean[k]) * (x - out->mean[k]);
            }
            if (pass == 0)
                out->mean[k] = a->count ? sum / (double)a->count : NAN;
        }
        out->ci95[k] = a->count >= 2 ? 1.96 * sqrt(squares / (double)(a->count - 1)) /
                                           sqrt((double)a->count)
                                     : NAN;
    }
}

bool most_different_head(const PatternAverage *a, const PatternAverage *b, bool by_role,
                         int *layer, int *head, double *distance)
{
    if (a->count == 0 || b->count == 0)
        return false;
    double best = -1.0;
    for (int l = 0; l < a->n_layer; l++) {
        for (int h = 0; h < a->n_head; h++) {
            float ma[COMPARE_CELLS], mb[COMPARE_CELLS];
            pattern_average_get(a, l, h, by_role, ma);
            pattern_average_get(b, l, h, by_role, mb);
            double d = 0.0;
            for (int j = 0; j <= POS_ANS; j++) // row POS_ANS sees keys 0..18
                d += fabs((double)ma[POS_ANS * T + j] - (double)mb[POS_ANS * T + j]);
            if (d > best) {
                best = d;
                *layer = l;
                *head = h;
            }
        }
    }
    if (distance)
        *distance = best;
    return true;
}

// ----------------------------------------------------------------------------
// 5. Kinds of wrong answers

const char *failure_kind_name(int kind)
{
    static const char *const names[FAILURE_KINDS] = {"ref_x_other", "other_x_other",
                                                     "near_miss", "other"};
    return kind >= 0 && kind < FAILURE_KINDS ? names[kind] : "none";
}

#define INT_VALUES (INT_TOKEN_MAX - INT_TOKEN_MIN + 1)

// kinds (INT_VALUES): the kind of every possible numeric prediction for this
// problem, kinds[v - INT_TOKEN_MIN] for the integer v (FAILURE_NONE for the
// answer). One table per problem makes the chance counts a lookup.
static void failure_kinds_by_value(signed char kinds[INT_VALUES], const Problem *p)
{
    int answer = problem_answer(p), op = problem_op(p);
    int var1 = problem_var1(p), var2 = problem_var2(p);
    for (int v = INT_TOKEN_MIN; v <= INT_TOKEN_MAX; v++)
        kinds[v - INT_TOKEN_MIN] = abs(v - answer) <= NEAR_MISS_DISTANCE ? FAILURE_NEAR_MISS
                                                                          : FAILURE_OTHER;
    // The binding readings override a near miss, and keeping one operand
    // overrides losing both: the precedence of compare.h.
    for (int pass = 0; pass < 2; pass++) {
        for (int x = TOK_VAR_A; x < TOK_VAR_A + NUM_VARS; x++) {
            for (int y = TOK_VAR_A; y < TOK_VAR_A + NUM_VARS; y++) {
                if (x == var1 && y == var2)
                    continue; // the right pair
                bool keeps_one = x == var1 || y == var2;
                if (keeps_one != (pass == 1))
                    continue; // pass 0: losing both; pass 1: keeping one
                int v = apply_op(op, problem_value_of(p, x), problem_value_of(p, y));
                kinds[v - INT_TOKEN_MIN] = keeps_one ? FAILURE_REF_X_OTHER : FAILURE_OTHER_X_OTHER;
            }
        }
    }
    kinds[answer - INT_TOKEN_MIN] = FAILURE_NONE;
}

static int kind_of_prediction(const signed char kinds[INT_VALUES], int predicted)
{
    return token_is_int(predicted) ? kinds[int_of_token(predicted) - INT_TOKEN_MIN] : FAILURE_OTHER;
}

int classify_failure(const Problem *p, int predicted)
{
    signed char kinds[INT_VALUES];
    failure_kinds_by_value(kinds, p);
    return kind_of_prediction(kinds, predicted);
}

void count_failures(FailureCounts *out, const Problem *problems, const int *predicted, size_t n)
{
    memset(out, 0, sizeof *out);
    size_t *wrong = g_new(size_t, n ? n : 1);
    signed char(*kinds)[INT_VALUES] = g_malloc((n ? n : 1) * sizeof *kinds); // (n, INT_VALUES)
    for (size_t i = 0; i < n; i++) {
        failure_kinds_by_value(kinds[out->n], &problems[i]);
        int kind = kind_of_prediction(kinds[out->n], predicted[i]);
        if (kind == FAILURE_NONE)
            continue;
        out->count[kind]++;
        wrong[out->n++] = i;
    }
    // Chance: each wrong prediction read against every other wrong problem.
    double chance[FAILURE_KINDS] = {0}, correct = 0.0;
    for (size_t a = 0; a < out->n; a++) {
        for (size_t b = 0; b < out->n; b++) {
            if (a == b)
                continue;
            int kind = kind_of_prediction(kinds[b], predicted[wrong[a]]);
            if (kind == FAILURE_NONE)
                correct += 1.0;
            else
                chance[kind] += 1.0;
        }
    }
    double others = out->n >= 2 ? (double)(out->n - 1) : NAN; // each prediction's comparisons
    for (int k = 0; k < FAILURE_KINDS; k++)
        out->chance[k] = chance[k] / others;
    out->chance_correct = correct / others;
    g_free(kinds);
    g_free(wrong);
}
