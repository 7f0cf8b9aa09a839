// ll_head_grid.c: see ll_head_grid.h.
#include "ll_head_grid.h"

#include "viewer_draw.h"

struct _LlHeadGrid {
    GtkWidget parent_instance;
    int n_layer, n_head; // thumbs has n_head + 1 columns
    float *thumbs;
    HeatmapKind kind;
    double limit;
    int layer, head; // the selection
};

G_DEFINE_TYPE(LlHeadGrid, ll_head_grid, GTK_TYPE_WIDGET)

enum { SIGNAL_SELECTED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void layout_of(LlHeadGrid *grid, GridLayout *layout)
{
    grid_layout(layout, grid->n_layer, grid->n_head + 1, gtk_widget_get_width(GTK_WIDGET(grid)),
                gtk_widget_get_height(GTK_WIDGET(grid)));
}

static void ll_head_grid_snapshot(GtkWidget *widget, GtkSnapshot *snapshot)
{
    LlHeadGrid *grid = LL_HEAD_GRID(widget);
    int width = gtk_widget_get_width(widget), height = gtk_widget_get_height(widget);
    if (width <= 0 || height <= 0 || !grid->thumbs)
        return;
    cairo_t *cr = gtk_snapshot_append_cairo(snapshot, &GRAPHENE_RECT_INIT(0, 0, width, height));
    GridLayout layout;
    layout_of(grid, &layout);
    grid_draw(cr, &layout, grid->thumbs, grid->kind, grid->limit, grid->layer, grid->head,
              gtk_widget_has_focus(widget));
    cairo_destroy(cr);
}

gboolean ll_head_grid_cell_at(LlHeadGrid *grid, double x, double y, int *layer, int *head)
{
    if (!grid->thumbs) {
        *layer = *head = -1;
        return FALSE;
    }
    GridLayout layout;
    layout_of(grid, &layout);
    return grid_cell_at(&layout, x, y, layer, head);
}

static void select_cell(LlHeadGrid *grid, int layer, int head, gboolean emit)
{
    if (layer == grid->layer && head == grid->head)
        return;
    grid->layer = layer;
    grid->head = head;
    gtk_widget_queue_draw(GTK_WIDGET(grid));
    if (emit)
        g_signal_emit(grid, signals[SIGNAL_SELECTED], 0, layer, head);
}

void ll_head_grid_move(LlHeadGrid *grid, int d_layer, int d_head)
{
    if (!grid->thumbs)
        return;
    int layer = CLAMP(grid->layer + d_layer, 0, grid->n_layer - 1);
    int head = CLAMP(grid->head + d_head, 0, grid->n_head);
    select_cell(grid, layer, head, TRUE);
}

static void on_pressed(GtkGestureClick *gesture, int n_press, double x, double y,
                       gpointer user_data)
{
    (void)gesture, (void)n_press;
    LlHeadGrid *grid = user_data;
    gtk_widget_grab_focus(GTK_WIDGET(grid));
    int layer, head;
    if (ll_head_grid_cell_at(grid, x, y, &layer, &head))
        select_cell(grid, layer, head, TRUE);
}

static gboolean on_key(GtkEventControllerKey *key, guint keyval, guint keycode,
                       GdkModifierType state, gpointer user_data)
{
    (void)key, (void)keycode;
    if (state & (GDK_CONTROL_MASK | GDK_ALT_MASK))
        return FALSE;
    LlHeadGrid *grid = user_data;
    switch (keyval) {
    case GDK_KEY_Up: case GDK_KEY_KP_Up: ll_head_grid_move(grid, -1, 0); return TRUE;
    case GDK_KEY_Down: case GDK_KEY_KP_Down: ll_head_grid_move(grid, 1, 0); return TRUE;
    case GDK_KEY_Left: case GDK_KEY_KP_Left: ll_head_grid_move(grid, 0, -1); return TRUE;
    case GDK_KEY_Right: case GDK_KEY_KP_Right: ll_head_grid_move(grid, 0, 1); return TRUE;
    default: return FALSE;
    }
}

static void on_focus_changed(GtkEventControllerFocus *focus, gpointer user_data)
{
    (void)focus;
    gtk_widget_queue_draw(GTK_WIDGET(user_data));
}

static gboolean ll_head_grid_query_tooltip(GtkWidget *widget, int x, int y,
                                           gboolean keyboard_tooltip, GtkTooltip *tooltip)
{
    LlHeadGrid *grid = LL_HEAD_GRID(widget);
    int layer = grid->layer, head = grid->head;
    if (!keyboard_tooltip && !ll_head_grid_cell_at(grid, x, y, &layer, &head))
        return FALSE;
    if (!grid->thumbs)
        return FALSE;
    char text[96];
    if (head == grid->n_head)
        g_snprintf(text, sizeof text, "layer %d, mean of its %d heads", layer, grid->n_head);
    else
        g_snprintf(text, sizeof text, "layer %d head %d", layer, head);
    gtk_tooltip_set_text(tooltip, text);
    return TRUE;
}

static void ll_head_grid_measure(GtkWidget *widget, GtkOrientation orientation, int for_size,
                                 int *minimum, int *natural, int *minimum_baseline,
                                 int *natural_baseline)
{
    (void)widget, (void)for_size;
    *minimum = orientation == GTK_ORIENTATION_HORIZONTAL ? 220 : 150;
    *natural = orientation == GTK_ORIENTATION_HORIZONTAL ? 340 : 250;
    *minimum_baseline = *natural_baseline = -1;
}

static void ll_head_grid_finalize(GObject *object)
{
    g_free(LL_HEAD_GRID(object)->thumbs);
    G_OBJECT_CLASS(ll_head_grid_parent_class)->finalize(object);
}

static void ll_head_grid_class_init(LlHeadGridClass *klass)
{
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
    G_OBJECT_CLASS(klass)->finalize = ll_head_grid_finalize;
    widget_class->snapshot = ll_head_grid_snapshot;
    widget_class->measure = ll_head_grid_measure;
    widget_class->query_tooltip = ll_head_grid_query_tooltip;
    signals[SIGNAL_SELECTED] =
        g_signal_new("selected", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                     NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_INT);
    gtk_widget_class_set_accessible_role(widget_class, GTK_ACCESSIBLE_ROLE_GRID);
}

static void ll_head_grid_init(LlHeadGrid *grid)
{
    GtkWidget *widget = GTK_WIDGET(grid);
    gtk_widget_set_focusable(widget, TRUE);
    gtk_widget_set_has_tooltip(widget, TRUE); // which head is under the pointer
    GtkGesture *click = gtk_gesture_click_new();
    g_signal_connect(click, "pressed", G_CALLBACK(on_pressed), grid);
    gtk_widget_add_controller(widget, GTK_EVENT_CONTROLLER(click));
    GtkEventController *key = gtk_event_controller_key_new();
    g_signal_connect(key, "key-pressed", G_CALLBACK(on_key), grid);
    gtk_widget_add_controller(widget, key);
    GtkEventController *focus = gtk_event_controller_focus_new();
    g_signal_connect(focus, "enter", G_CALLBACK(on_focus_changed), grid);
    g_signal_connect(focus, "leave", G_CALLBACK(on_focus_changed), grid);
    gtk_widget_add_controller(widget, focus);
}

GtkWidget *ll_head_grid_new(void)
{
    return g_object_new(LL_TYPE_HEAD_GRID, NULL);
}

void ll_head_grid_set_data(LlHeadGrid *grid, int n_layer, int n_head, const float *thumbs,
                           HeatmapKind kind, double limit)
{
    size_t n = (size_t)n_layer * (n_head + 1) * HEATMAP_T * HEATMAP_T;
    g_free(grid->thumbs);
    grid->thumbs = g_memdup2(thumbs, n * sizeof(float));
    grid->n_layer = n_layer;
    grid->n_head = n_head;
    grid->kind = kind;
    grid->limit = limit;
    grid->layer = CLAMP(grid->layer, 0, n_layer - 1);
    grid->head = CLAMP(grid->head, 0, n_head);
    gtk_widget_queue_draw(GTK_WIDGET(grid));
}

void ll_head_grid_set_selected(LlHeadGrid *grid, int layer, int head)
{
    select_cell(grid, layer, head, FALSE);
}

void ll_head_grid_get_selected(LlHeadGrid *grid, int *layer, int *head)
{
    *layer = grid->layer;
    *head = grid->head;
}
