// ll_heatmap_view.c: see ll_heatmap_view.h.
#include "ll_heatmap_view.h"

struct _LlHeatmapView {
    GtkWidget parent_instance;
    Heatmap panels[HEATMAP_ROW_MAX];
    int n_panels;
    char *title;
    char *empty_text;
    LlCellTooltipFunc tooltip_func;
    gpointer tooltip_data;
    int hover_row, hover_col; // -1 when the pointer is over no cell
};

G_DEFINE_TYPE(LlHeatmapView, ll_heatmap_view, GTK_TYPE_WIDGET)

static void layout_for(LlHeatmapView *view, HeatmapRowLayout *layout, double width,
                       double height)
{
    heatmap_row_layout(layout, view->panels, view->n_panels, view->title, 0, 0, width, height);
}

void ll_heatmap_view_draw_to(LlHeatmapView *view, cairo_t *cr, double width, double height)
{
    if (view->n_panels == 0) {
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_paint(cr);
        if (view->empty_text) {
            cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                                   CAIRO_FONT_WEIGHT_NORMAL);
            cairo_set_font_size(cr, 14);
            cairo_text_extents_t e;
            cairo_text_extents(cr, view->empty_text, &e);
            cairo_set_source_rgb(cr, 0.4, 0.4, 0.4);
            cairo_move_to(cr, (width - e.width) / 2, height / 2);
            cairo_show_text(cr, view->empty_text);
        }
        return;
    }
    HeatmapRowLayout layout;
    layout_for(view, &layout, width, height);
    heatmap_row_draw(cr, view->panels, view->n_panels, view->title, &layout);
    if (view->hover_row >= 0) {
        // The hovered cell, outlined in every panel.
        cairo_save(cr);
        cairo_set_line_width(cr, 2.0);
        cairo_set_source_rgb(cr, 1.0, 0.35, 0.1);
        for (int p = 0; p < view->n_panels; p++) {
            double x, y, side;
            heatmap_cell_rect(&layout.panels[p], view->hover_row, view->hover_col, &x, &y, &side);
            cairo_rectangle(cr, x + 1, y + 1, side - 2, side - 2);
            cairo_stroke(cr);
        }
        cairo_restore(cr);
    }
}

static void ll_heatmap_view_snapshot(GtkWidget *widget, GtkSnapshot *snapshot)
{
    LlHeatmapView *view = LL_HEATMAP_VIEW(widget);
    int width = gtk_widget_get_width(widget), height = gtk_widget_get_height(widget);
    if (width <= 0 || height <= 0)
        return;
    cairo_t *cr = gtk_snapshot_append_cairo(snapshot, &GRAPHENE_RECT_INIT(0, 0, width, height));
    ll_heatmap_view_draw_to(view, cr, width, height);
    cairo_destroy(cr);
}

gboolean ll_heatmap_view_cell_at(LlHeatmapView *view, double x, double y, int *panel, int *row,
                                 int *col)
{
    int width = gtk_widget_get_width(GTK_WIDGET(view));
    int height = gtk_widget_get_height(GTK_WIDGET(view));
    if (view->n_panels == 0 || width <= 0 || height <= 0) {
        if (panel)
            *panel = -1;
        if (row)
            *row = -1;
        if (col)
            *col = -1;
        return FALSE;
    }
    HeatmapRowLayout layout;
    layout_for(view, &layout, width, height);
    return heatmap_row_cell_at(&layout, x, y, panel, row, col);
}

static void set_hover(LlHeatmapView *view, int row, int col)
{
    if (row == view->hover_row && col == view->hover_col)
        return;
    view->hover_row = row;
    view->hover_col = col;
    gtk_widget_queue_draw(GTK_WIDGET(view));
}

static void on_motion(GtkEventControllerMotion *motion, double x, double y, gpointer user_data)
{
    (void)motion;
    LlHeatmapView *view = user_data;
    int row, col;
    ll_heatmap_view_cell_at(view, x, y, NULL, &row, &col);
    set_hover(view, row, col);
}

static void on_leave(GtkEventControllerMotion *motion, gpointer user_data)
{
    (void)motion;
    set_hover(user_data, -1, -1);
}

static gboolean ll_heatmap_view_query_tooltip(GtkWidget *widget, int x, int y,
                                              gboolean keyboard_tooltip, GtkTooltip *tooltip)
{
    (void)keyboard_tooltip;
    LlHeatmapView *view = LL_HEATMAP_VIEW(widget);
    int panel, row, col;
    if (!view->tooltip_func || !ll_heatmap_view_cell_at(view, x, y, &panel, &row, &col))
        return FALSE;
    char *text = view->tooltip_func(panel, row, col, view->tooltip_data);
    if (!text)
        return FALSE;
    gtk_tooltip_set_text(tooltip, text);
    g_free(text);
    return TRUE;
}

static void ll_heatmap_view_measure(GtkWidget *widget, GtkOrientation orientation, int for_size,
                                    int *minimum, int *natural, int *minimum_baseline,
                                    int *natural_baseline)
{
    (void)widget, (void)for_size;
    *minimum = orientation == GTK_ORIENTATION_HORIZONTAL ? 240 : 180;
    *natural = orientation == GTK_ORIENTATION_HORIZONTAL ? 960 : 420;
    *minimum_baseline = *natural_baseline = -1;
}

static void ll_heatmap_view_finalize(GObject *object)
{
    LlHeatmapView *view = LL_HEATMAP_VIEW(object);
    g_free(view->title);
    g_free(view->empty_text);
    G_OBJECT_CLASS(ll_heatmap_view_parent_class)->finalize(object);
}

static void ll_heatmap_view_class_init(LlHeatmapViewClass *klass)
{
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
    G_OBJECT_CLASS(klass)->finalize = ll_heatmap_view_finalize;
    widget_class->snapshot = ll_heatmap_view_snapshot;
    widget_class->measure = ll_heatmap_view_measure;
    widget_class->query_tooltip = ll_heatmap_view_query_tooltip;
}

static void ll_heatmap_view_init(LlHeatmapView *view)
{
    view->hover_row = view->hover_col = -1;
    gtk_widget_set_has_tooltip(GTK_WIDGET(view), TRUE);
    gtk_widget_set_hexpand(GTK_WIDGET(view), TRUE);
    gtk_widget_set_vexpand(GTK_WIDGET(view), TRUE);
    GtkEventController *motion = gtk_event_controller_motion_new();
    g_signal_connect(motion, "motion", G_CALLBACK(on_motion), view);
    g_signal_connect(motion, "leave", G_CALLBACK(on_leave), view);
    gtk_widget_add_controller(GTK_WIDGET(view), motion);
}

GtkWidget *ll_heatmap_view_new(void)
{
    return g_object_new(LL_TYPE_HEATMAP_VIEW, NULL);
}

void ll_heatmap_view_set_panels(LlHeatmapView *view, const Heatmap *panels, int n_panels,
                                const char *title)
{
    g_return_if_fail(n_panels >= 0 && n_panels <= HEATMAP_ROW_MAX);
    if (n_panels > 0)
        memcpy(view->panels, panels, n_panels * sizeof *panels);
    view->n_panels = n_panels;
    g_free(view->title);
    view->title = g_strdup(title);
    gtk_widget_queue_draw(GTK_WIDGET(view));
}

void ll_heatmap_view_set_empty_text(LlHeatmapView *view, const char *text)
{
    g_free(view->empty_text);
    view->empty_text = g_strdup(text);
    gtk_widget_queue_draw(GTK_WIDGET(view));
}

void ll_heatmap_view_set_tooltip_func(LlHeatmapView *view, LlCellTooltipFunc func,
                                      gpointer user_data)
{
    view->tooltip_func = func;
    view->tooltip_data = user_data;
}

int ll_heatmap_view_get_n_panels(LlHeatmapView *view)
{
    return view->n_panels;
}

const Heatmap *ll_heatmap_view_get_panel(LlHeatmapView *view, int i)
{
    g_return_val_if_fail(i >= 0 && i < view->n_panels, NULL);
    return &view->panels[i];
}
