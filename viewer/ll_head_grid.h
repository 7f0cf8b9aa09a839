// ll_head_grid.h: every layer and head at a glance, a grid of small heatmaps
// (one row per layer, one column per head and a last one for the layer's mean
// over heads). A click selects one; with the keyboard focus, the arrow keys
// move the selection. Emits "selected" (int layer, int head) where head ==
// n_head means the mean over heads.
#ifndef LL_HEAD_GRID_H
#define LL_HEAD_GRID_H

#include <gtk/gtk.h>

#include "heatmap.h"

G_BEGIN_DECLS

#define LL_TYPE_HEAD_GRID (ll_head_grid_get_type())
G_DECLARE_FINAL_TYPE(LlHeadGrid, ll_head_grid, LL, HEAD_GRID, GtkWidget)

GtkWidget *ll_head_grid_new(void);
// thumbs is (n_layer, n_head + 1, T, T), copied. kind and limit as thumbnail_draw.
void ll_head_grid_set_data(LlHeadGrid *grid, int n_layer, int n_head, const float *thumbs,
                           HeatmapKind kind, double limit);
// Moves the selection without emitting "selected".
void ll_head_grid_set_selected(LlHeadGrid *grid, int layer, int head);
void ll_head_grid_get_selected(LlHeadGrid *grid, int *layer, int *head);
// The thumbnail under widget coordinates (x, y), as grid_cell_at.
gboolean ll_head_grid_cell_at(LlHeadGrid *grid, double x, double y, int *layer, int *head);
// What a key press does: moves by (d_layer, d_head), clamped, and emits
// "selected" if the selection changed.
void ll_head_grid_move(LlHeadGrid *grid, int d_layer, int d_head);

G_END_DECLS

#endif
