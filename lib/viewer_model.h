// viewer_model.h: what the viewer shows, as plain data and functions, so it
// can be tested without a display (tests/viewer_logic.c).
//
// A ViewerData is one model with its test set, analysed as chapter 8 does it
// (compare.h): the squaring problems evaluated and split into good and bad,
// each subset's patterns averaged by position and in role order, the wrong
// answers classified. On top, for the live boost: a BoostCache per subset
// (viewer_boost.h), and the mean raw scores for the tooltips. Loading takes a
// few seconds (one forward pass over the squaring problems), so the viewer
// does it in a worker thread; afterwards a ViewerData is read-only except for
// the model's activations, which only viewer_example_capture uses (main thread).
//
// A ViewerBoost is the result of one boost over both subsets: the boosted
// rows, and the readouts (mean p_correct, fixed, broken).
#ifndef LOOPLENS_VIEWER_MODEL_H
#define LOOPLENS_VIEWER_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include <glib.h>

#include "capture.h"
#include "compare.h"
#include "heatmap.h"
#include "model.h"
#include "problem.h"
#include "viewer_boost.h"

#define VIEWER_T PROBLEM_LEN
#define VIEWER_CELLS (VIEWER_T * VIEWER_T)

// The three panels of the main view.
typedef enum { VIEW_GOOD, VIEW_BAD, VIEW_BOOSTED, VIEW_SUBSETS } ViewSubset;
const char *view_subset_name(ViewSubset s); // "good", "bad", "boosted"

// Mean raw scores (pre-softmax) over examples, where the cell was not masked.
typedef struct {
    double *sum[2];  // (L, NH, T, T) [0] by position, [1] in role order
    int *visible[2]; // (T, T) examples in which the cell was not masked
    size_t count;
} ScoreMean;

typedef struct {
    char *model_path;
    char *data_path; // NULL: the experiment's test set, made here
    char *name;      // the checkpoint's file name without .safetensors
    GPT model;
    DefinitionOrder order;
    size_t test_count;      // problems in the test set
    size_t n_squaring;      // S
    Problem *squaring;      // (S) the test set's squaring problems, in file order
    size_t *test_index;     // (S) each one's index in the test set
    ProblemResult *results; // (S) without a boost
    int *failure;           // (S) classify_failure of the prediction (FAILURE_NONE if right)
    Subset good, bad;       // indices into squaring
    PatternAverage average[2]; // VIEW_GOOD, VIEW_BAD
    ScoreMean scores[2];
    FailureCounts failures; // of the bad subset
    BoostCache cache[2];    // VIEW_GOOD (row 18 only), VIEW_BAD (rows 18 and 19)
    gint ref_count;
} ViewerData;

// Loads the checkpoint and the problems (data_path NULL: the experiment's test
// set for the model's order, EXPERIMENT_TEST_SEED and _COUNT) and analyses
// them. The errors name the file and the problem.
ViewerData *viewer_data_load(const char *model_path, const char *data_path, GError **error);
ViewerData *viewer_data_ref(ViewerData *d);
void viewer_data_unref(ViewerData *d);
int viewer_data_n_layer(const ViewerData *d);
int viewer_data_n_head(const ViewerData *d);
// The subset's size (VIEW_BOOSTED is the bad subset boosted).
size_t viewer_data_count(const ViewerData *d, ViewSubset s);

// ----------------------------------------------------------------------------
// The live boost

// Which (layer, head) pairs the boost targets.
typedef enum {
    BOOST_SCOPE_ALL,   // every layer and head (SPEC section 4's default)
    BOOST_SCOPE_LAYER, // every head of the selected layer
    BOOST_SCOPE_HEAD,  // the selected head only (head ALL_HEADS: its layer)
} BoostScope;

// The Boost the controls describe: amount, which positions (the referenced
// values, the operator), and which layers and heads, for the selection.
void viewer_boost_settings(Boost *out, double amount, bool values, bool op, BoostScope scope,
                           int layer, int head);

typedef struct {
    size_t n_good, n_bad;
    double good_p, bad_p;     // mean p_correct without the boost (NaN if empty)
    double boosted_p;         // the bad subset's with the boost
    double good_boosted_p;    // the good subset's with the boost
    size_t fixed;             // bad problems the boost answers right
    size_t broken;            // good problems the boost answers wrong
} ViewerReadouts;

typedef struct {
    Boost boost;
    BoostRun run[2]; // VIEW_GOOD, VIEW_BAD
    ViewerReadouts readouts;
} ViewerBoost;

ViewerBoost *viewer_boost_new(const ViewerData *d);
void viewer_boost_free(ViewerBoost *vb);
// Runs the boost over both subsets (boost_cache_run) and fills the readouts.
// bad_rows 1 recomputes row 18 only (the readouts and row 18 of the boosted
// panel: half the work, for a moving slider; row 19 reads NaN), 2 also row 19.
// Safe in a worker thread while the main thread reads d.
void viewer_boost_compute(ViewerBoost *vb, const ViewerData *d, const Boost *boost, int bad_rows);
// Whether the boosted panel is whole (bad_rows was 2, or there is no bad subset).
bool viewer_boost_complete(const ViewerBoost *vb, const ViewerData *d);
// The readouts as lines of text, numbers in the C locale (a new string).
char *viewer_readouts_text(const ViewerReadouts *r);

// ----------------------------------------------------------------------------
// What the panels show. head is a head or ALL_HEADS (the mean over the
// layer's heads); by_role re-indexes rows and columns as compare.h explains.

// out (T,T): the averaged pattern of a subset (VIEW_BOOSTED needs vb; rows
// 0..17 are the bad subset's, which the boost cannot change). NaN where
// undefined (an empty subset; a role cell masked in every example).
void viewer_pattern(const ViewerData *d, const ViewerBoost *vb, ViewSubset s, int layer, int head,
                    bool by_role, float out[VIEWER_CELLS]);
// out (T,T): the mean raw score where the cell was visible, NaN where never.
void viewer_raw_scores(const ViewerData *d, const ViewerBoost *vb, ViewSubset s, int layer,
                       int head, bool by_role, float out[VIEWER_CELLS]);

// The panels of the main view: good | bad | boosted as patterns, or with
// `difference` bad - good | boosted - bad on one symmetric scale. Empty
// subsets are left out. Returns the number of panels (0..3); subsets[i] says
// which subset panel i shows (for differences: the minuend).
int viewer_panels(Heatmap panels[3], ViewSubset subsets[3], const ViewerData *d,
                  const ViewerBoost *vb, int layer, int head, bool by_role, bool difference);
// The figure title for the panels above.
void viewer_panels_title(char *out, size_t size, const ViewerData *d, int layer, int head,
                         bool by_role, bool difference);
// The row-18 profile: one series per non-empty subset, keys 0..18, labelled
// like the heatmap's columns.
void viewer_profile(ProfileChart *chart, const ViewerData *d, const ViewerBoost *vb, int layer,
                    int head, bool by_role);
// The layer x head overview (n_layer, n_head + 1, T, T): each head's and each
// layer's mean, of the bad subset, or of bad - good with `difference`.
float *viewer_grid_thumbs(const ViewerData *d, bool by_role, bool difference, double *limit);

// An axis label for position/role index i, as the heatmaps label them:
// "4 b_val" by position, "ref_val" or "16 op" in role order.
void viewer_axis_label(char *out, size_t size, const ViewerData *d, bool by_role, int i);
// The tooltip of cell (row, col) of the main view: query and key (position
// and role), the weight in each of the three subsets and the mean raw score.
char *viewer_cell_tooltip(const ViewerData *d, const ViewerBoost *vb, int layer, int head,
                          bool by_role, int row, int col);

// ----------------------------------------------------------------------------
// One example (a squaring problem, by its index into d->squaring)

// A short description: "#123  c * c, c = 7: 49, predicted 42 (ref_x_other)".
char *viewer_example_text(const ViewerData *d, size_t i);
// Captures the example without and with the boost (main thread: uses the
// model's activations), with each run's result (top 5 and p_correct).
bool viewer_example_capture(ViewerData *d, size_t i, const Boost *boost, Capture *before,
                            ProblemResult *result_before, Capture *after,
                            ProblemResult *result_after, GError **error);
// Its panels: the example's pattern without | with the boost, labelled with
// its tokens, each captioned with its prediction (head may be ALL_HEADS).
int viewer_example_panels(Heatmap panels[2], const ViewerData *d, size_t i,
                          const Capture *before, const ProblemResult *result_before,
                          const Capture *after, const ProblemResult *result_after, int layer,
                          int head, float amount);
// The tooltip of one cell of those panels: positions, tokens, roles, weight
// and raw score without and with the boost.
char *viewer_example_tooltip(const ViewerData *d, size_t i, const Capture *before,
                             const Capture *after, int layer, int head, int row, int col);
// The top 5 answers before and after, as text lines "35  0.412".
char *viewer_top5_text(const ProblemResult *r);

#endif
