// ll_heatmap_view.h: a widget showing heatmaps side by side with one shared
// colour bar (heatmap_row_draw), a tooltip for the cell under the pointer and
// that cell outlined in every panel, so the panels compare cell by cell.
#ifndef LL_HEATMAP_VIEW_H
#define LL_HEATMAP_VIEW_H

#include <gtk/gtk.h>

#include "heatmap.h"

G_BEGIN_DECLS

#define LL_TYPE_HEATMAP_VIEW (ll_heatmap_view_get_type())
G_DECLARE_FINAL_TYPE(LlHeatmapView, ll_heatmap_view, LL, HEATMAP_VIEW, GtkWidget)

// The tooltip's text for a cell (a new string), or NULL for none.
typedef char *(*LlCellTooltipFunc)(int panel, int row, int col, gpointer user_data);

GtkWidget *ll_heatmap_view_new(void);
// Copies the panels (1..HEATMAP_ROW_MAX of one kind); title may be NULL.
// n_panels 0 shows `empty_text` instead.
void ll_heatmap_view_set_panels(LlHeatmapView *view, const Heatmap *panels, int n_panels,
                                const char *title);
void ll_heatmap_view_set_empty_text(LlHeatmapView *view, const char *text);
void ll_heatmap_view_set_tooltip_func(LlHeatmapView *view, LlCellTooltipFunc func,
                                      gpointer user_data);
// Hit-testing in widget coordinates, with the layout of the current size.
gboolean ll_heatmap_view_cell_at(LlHeatmapView *view, double x, double y, int *panel, int *row,
                                 int *col);
// Draws the current panels into cr as the widget would at width x height
// (export and screenshots use it).
void ll_heatmap_view_draw_to(LlHeatmapView *view, cairo_t *cr, double width, double height);
int ll_heatmap_view_get_n_panels(LlHeatmapView *view);
const Heatmap *ll_heatmap_view_get_panel(LlHeatmapView *view, int i);

G_END_DECLS

#endif
