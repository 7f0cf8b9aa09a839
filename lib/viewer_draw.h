// viewer_draw.h: the viewer's layer x head overview, as plain functions.
//
// The viewer shows every layer's and head's averaged pattern at once, as a
// grid of small heatmaps: one row per layer, one column per head, and a last
// column for the mean over the layer's heads. A thumbnail is too small for
// labels or a colour bar, so it is only the cells, coloured with the same maps
// as the full heatmaps (colormap.h); heatmap.h draws the big ones.
#ifndef LOOPLENS_VIEWER_DRAW_H
#define LOOPLENS_VIEWER_DRAW_H

#include <stdbool.h>

#include <cairo.h>

#include "heatmap.h"

// Where the grid's parts go inside a width x height box.
typedef struct {
    int rows, cols;          // layers, heads + 1 (the mean)
    double font_size;        // of the "L0" / "H0" labels
    double origin_x, origin_y; // top-left corner of thumbnail (0, 0)
    double thumb;            // side of one thumbnail
    double gap;              // between thumbnails
} GridLayout;

void grid_layout(GridLayout *out, int rows, int cols, double width, double height);
// The thumbnail under (x, y): true and its row (layer) and column (head; the
// last column is the mean), or false and -1, -1 (outside, or in a gap).
bool grid_cell_at(const GridLayout *layout, double x, double y, int *row, int *col);
// Top-left corner of thumbnail (row, col).
void grid_cell_origin(const GridLayout *layout, int row, int col, double *x, double *y);

// One (T,T) matrix as a side x side square of cells at (x, y), no labels:
// PATTERN on [0, 1] with viridis, DIFFERENCE on [-limit, limit] with the
// diverging map. Cells above the diagonal are painted light grey.
void thumbnail_draw(cairo_t *cr, const float *values, HeatmapKind kind, double limit, double x,
                    double y, double side);

// The whole grid: thumbs is (rows, cols, T, T); the selected thumbnail gets an
// outline (selected_row -1 for none). Labels "L0".. on the left, "H0".. and
// "mean" on top, in dark grey on whatever background is there.
void grid_draw(cairo_t *cr, const GridLayout *layout, const float *thumbs, HeatmapKind kind,
               double limit, int selected_row, int selected_col, bool focused);

#endif
