// heatmap.h: drawing attention patterns with cairo.
//
// A heatmap shows one (T,T) matrix, T = PROBLEM_LEN = 20: row = query position,
// column = key position, one square cell per entry. A PATTERN (post-softmax
// weights) uses viridis on the fixed scale [0, 1], so pictures compare at a
// glance; a DIFFERENCE (say boosted minus bad) uses the blue-white-red map on
// [-limit, limit]. Cells the causal mask forbids (key after query) are not
// values at all, and are hatched grey rather than coloured.
//
// Everything draws into any cairo_t (an image, SVG or PDF file, or a GTK
// widget), inside a box the caller gives; a layout says where each part goes,
// and the same layout answers "which cell is under the mouse?".
#ifndef LOOPLENS_HEATMAP_H
#define LOOPLENS_HEATMAP_H

#include <stdbool.h>

#include <cairo.h>
#include <glib.h>

#include "colormap.h"
#include "problem.h"

#define HEATMAP_T PROBLEM_LEN
#define HEATMAP_LABEL_MAX 24
#define HEATMAP_TEXT_MAX 160
#define HEATMAP_ROW_MAX 4 // panels in one row figure

typedef enum {
    HEATMAP_PATTERN,    // weights, viridis on [0, 1]
    HEATMAP_DIFFERENCE, // signed, diverging map on [-limit, limit]
} HeatmapKind;

// Plain data: fill it in (heatmap_init does the defaults), then draw or save.
typedef struct {
    float values[HEATMAP_T * HEATMAP_T];           // (T,T) row-major: row = query, col = key
    char row_labels[HEATMAP_T][HEATMAP_LABEL_MAX]; // query positions, e.g. "18 [ANS]"
    char col_labels[HEATMAP_T][HEATMAP_LABEL_MAX]; // key positions, e.g. "2 5"
    HeatmapKind kind;
    double limit;    // DIFFERENCE only: the scale is [-limit, limit]; <= 0: max |value|
    bool mask_upper; // the cells with col > row are hatched, not coloured
    char title[HEATMAP_TEXT_MAX];          // e.g. "fixed, layer 0 head 3: bad"
    char caption[HEATMAP_TEXT_MAX];        // e.g. "n = 57"
    char colorbar_label[HEATMAP_TEXT_MAX]; // "" means "attention weight" / "difference"
} Heatmap;

// values is (T,T) or NULL for zeros. Sets the kind, masks the upper triangle,
// labels the axes with bare positions "0".."19" and clears the texts.
void heatmap_init(Heatmap *hm, HeatmapKind kind, const float *values);
// Labels both axes "position token" for one problem, e.g. "2 5", "16 *".
void heatmap_set_problem_labels(Heatmap *hm, const Problem *p);
// Labels both axes with each position's role, for averages over many problems:
// "2 a_val", "16 op", "18 [ANS]" (shuffled definitions: "1 name", "2 value").
void heatmap_set_role_labels(Heatmap *hm, DefinitionOrder order);
// The role of a position (as above, without the number).
const char *heatmap_role_name(int position, DefinitionOrder order);

// Where everything goes, in the cairo_t's user units.
typedef struct {
    double x, y, width, height;  // the box it was computed for
    double font_size;            // labels; the title is 1.2 times this
    double title_y, caption_y;   // text baselines, centred on the grid
    double grid_x, grid_y, cell; // top-left corner of the grid, side of a cell
    double row_label_right;      // query labels end here (right-aligned)
    double col_label_top;        // key labels start here (read upwards)
    double axis_query_x;         // centre line of the rotated "query" axis name
    double axis_key_y;           // baseline of the "key" axis name
    bool has_colorbar;
    double bar_x, bar_y, bar_w, bar_h; // the colour bar itself, without ticks
    double scale_min, scale_max;       // the values the colours span
} HeatmapLayout;

// Fits one heatmap (with its own colour bar) into the box at (x, y).
void heatmap_layout(HeatmapLayout *out, const Heatmap *hm, double x, double y, double width,
                    double height);
// Paints the box white, then the heatmap. Leaves cr's state as it found it.
void heatmap_draw(cairo_t *cr, const Heatmap *hm, const HeatmapLayout *layout);
// The cell under (x, y): true and its row and column, or false and -1, -1.
bool heatmap_cell_at(const HeatmapLayout *layout, double x, double y, int *row, int *col);
// A cell's square, e.g. to outline the selected one.
void heatmap_cell_rect(const HeatmapLayout *layout, int row, int col, double *x, double *y,
                       double *side);

// Several heatmaps of one kind side by side (the seed's good | bad | boosted
// figure) with one shared colour bar at the right and an optional title above
// all. They share the scale: [0, 1], or the largest of the panels' limits.
typedef struct {
    int n_panels;
    HeatmapLayout panels[HEATMAP_ROW_MAX]; // has_colorbar false: the bar is shared
    double title_y;                        // baseline of the overall title
    double bar_x, bar_y, bar_w, bar_h;
    double scale_min, scale_max;
    double x, y, width, height;
} HeatmapRowLayout;

// panels must all have the same kind; 1 <= n_panels <= HEATMAP_ROW_MAX.
// title may be NULL or "" for none.
void heatmap_row_layout(HeatmapRowLayout *out, const Heatmap *panels, int n_panels,
                        const char *title, double x, double y, double width, double height);
void heatmap_row_draw(cairo_t *cr, const Heatmap *panels, int n_panels, const char *title,
                      const HeatmapRowLayout *layout);
// Which panel and cell is under (x, y); *panel is -1 when none.
bool heatmap_row_cell_at(const HeatmapRowLayout *layout, double x, double y, int *panel, int *row,
                         int *col);

// One query row as grouped bars: the weight each key position gets, for a few
// series (good, bad, boosted ...), each in its own colour with a legend.
#define PROFILE_MAX_SERIES 4
typedef struct {
    int n_series;
    int n_keys; // key positions 0..n_keys-1 are shown (19 for row 18)
    char series_names[PROFILE_MAX_SERIES][HEATMAP_LABEL_MAX];
    float values[PROFILE_MAX_SERIES][HEATMAP_T];   // (series, key)
    char key_labels[HEATMAP_T][HEATMAP_LABEL_MAX]; // as a heatmap's col_labels
    double y_max;                                  // <= 0: fit the data
    char title[HEATMAP_TEXT_MAX];
    char caption[HEATMAP_TEXT_MAX];
} ProfileChart;

// Zero series, n_keys keys labelled "0".."n_keys-1", no texts.
void profile_chart_init(ProfileChart *chart, int n_keys);
// Adds a series: values[key] for key < n_keys. Returns its index, or -1 if full.
int profile_chart_add_series(ProfileChart *chart, const char *name, const float *values);
// The colour of series s (a colour-blind-safe palette), for a legend elsewhere.
Rgb profile_chart_series_colour(int s);
// Paints the box white, then the chart.
void profile_chart_draw(cairo_t *cr, const ProfileChart *chart, double x, double y, double width,
                        double height);

// Saving. The format follows the extension: .png (width x height pixels),
// .svg or .pdf (width x height points). The file is written atomically, and the
// same input gives the same bytes (no dates or other varying data inside).
typedef void (*FigureDrawFunc)(cairo_t *cr, double width, double height, const void *data);
bool figure_save(const char *path, double width, double height, FigureDrawFunc draw,
                 const void *data, GError **error);
bool heatmap_save(const char *path, const Heatmap *hm, double width, double height, GError **error);
bool heatmap_row_save(const char *path, const Heatmap *panels, int n_panels, const char *title,
                      double width, double height, GError **error);
bool profile_chart_save(const char *path, const ProfileChart *chart, double width, double height,
                        GError **error);

// Frees cairo's and fontconfig's caches, which drawing text fills and which
// live until exit; call it last, so a leak checker reports only our own leaks.
void heatmap_release_font_caches(void);

#endif
