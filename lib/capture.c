// capture.c: chapter 7, copying attention matrices out of a forward pass.
#include <math.h>
#include <string.h>

#include "capture.h"
#include "capture_io.h"
#include "util.h"

// out (T,T); hook (L,B,NH,T,T)
void capture_copy_head(float *out, const float *hook, int layer, int b, int head, int B, int NH,
                       int T)
{
#ifdef LOOPLENS_SOLUTION
    // The hook is five nested arrays: layer, problem, head, query row, key
    // column. The (T,T) block we want starts after `layer` whole (B,NH,T,T)
    // layers, `b` whole (NH,T,T) problems and `head` whole (T,T) heads.
    size_t offset = (((size_t)layer * B + b) * NH + head) * T * T;
    memcpy(out, hook + offset, (size_t)T * T * sizeof *out);
#else
    // TODO(exercise ch07): copy the (T,T) matrix of (layer, b, head) out of hook, which is
    // laid out (L,B,NH,T,T) in row-major order.
    // Hint: count how many floats come before it: layer * (B*NH*T*T) +
    // b * (NH*T*T) + head * (T*T); then copy T*T floats from there.
    (void)hook, (void)layer, (void)b, (void)head, (void)B, (void)NH;
    memset(out, 0, (size_t)T * T * sizeof *out);
#endif
}

static void capture_alloc(Capture *out, const GPT *model, const Problem *problem)
{
    memset(out, 0, sizeof *out);
    out->n_layer = model->config.n_layer;
    out->n_head = model->config.n_head;
    out->problem = *problem;
    size_t cells = (size_t)out->n_layer * out->n_head * CAPTURE_CELLS;
    out->scores = g_new(float, 2 * cells); // one allocation: scores, then pattern
    out->pattern = out->scores + cells;
}

void capture_from_forward(Capture *out, const GPT *model, const Problem *problem, int b)
{
    capture_alloc(out, model, problem);
    int L = model->config.n_layer, NH = model->config.n_head, T = model->config.block_size;
    for (int l = 0; l < L; l++) {
        for (int h = 0; h < NH; h++) {
            size_t at = ((size_t)l * NH + h) * CAPTURE_CELLS;
            capture_copy_head(out->scores + at, model->acts.attn_scores, l, b, h, model->batch, NH,
                              T);
            capture_copy_head(out->pattern + at, model->acts.attn_pattern, l, b, h, model->batch,
                              NH, T);
        }
    }
}

bool capture_problem(Capture *out, GPT *model, const Problem *problem, const Boost *boost,
                     GError **error)
{
    memset(out, 0, sizeof *out);
    if (!gpt_forward(model, problem->tokens, 1, boost, error))
        return false;
    capture_from_forward(out, model, problem, 0);
    return true;
}

void capture_free(Capture *c)
{
    g_free(c->scores); // pattern shares the allocation
    memset(c, 0, sizeof *c);
}

const float *capture_scores(const Capture *c, int layer, int head)
{
    return c->scores + ((size_t)layer * c->n_head + head) * CAPTURE_CELLS;
}

const float *capture_pattern(const Capture *c, int layer, int head)
{
    return c->pattern + ((size_t)layer * c->n_head + head) * CAPTURE_CELLS;
}

bool capture_matches_csv(const float fresh[CAPTURE_CELLS], const char *csv_path, double tolerance,
                         double *max_diff, int *row, int *col, GError **error)
{
    float saved[CAPTURE_CELLS];
    if (!matrix_csv_read(csv_path, saved, error))
        return false;
    double diff;
    int r, c;
    matrix_compare(fresh, saved, &diff, &r, &c);
    if (max_diff)
        *max_diff = diff;
    if (row)
        *row = r;
    if (col)
        *col = c;
    return diff <= tolerance; // NaN or inf differences fail too
}
