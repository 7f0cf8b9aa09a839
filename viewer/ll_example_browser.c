// ll_example_browser.c: see ll_example_browser.h.
#include "ll_example_browser.h"

#include <math.h>

#include "ll_heatmap_view.h"

// ----------------------------------------------------------------------------
// One row of the list: a squaring problem, by its index into data->squaring.

#define LL_TYPE_EXAMPLE_ITEM (ll_example_item_get_type())
G_DECLARE_FINAL_TYPE(LlExampleItem, ll_example_item, LL, EXAMPLE_ITEM, GObject)

struct _LlExampleItem {
    GObject parent_instance;
    guint index;
    size_t test_index;
    char *problem, *answer, *predicted, *kind;
    double p_before, p_after; // p_after NaN until the boost has run
    char *predicted_after;
};

G_DEFINE_TYPE(LlExampleItem, ll_example_item, G_TYPE_OBJECT)

enum { PROP_0, PROP_P_AFTER, N_PROPS };
static GParamSpec *item_props[N_PROPS];

static void ll_example_item_get_property(GObject *object, guint id, GValue *value,
                                         GParamSpec *pspec)
{
    LlExampleItem *item = LL_EXAMPLE_ITEM(object);
    if (id == PROP_P_AFTER)
        g_value_set_double(value, item->p_after);
    else
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
}

static void ll_example_item_finalize(GObject *object)
{
    LlExampleItem *item = LL_EXAMPLE_ITEM(object);
    g_free(item->problem);
    g_free(item->answer);
    g_free(item->predicted);
    g_free(item->kind);
    g_free(item->predicted_after);
    G_OBJECT_CLASS(ll_example_item_parent_class)->finalize(object);
}

static void ll_example_item_class_init(LlExampleItemClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    object_class->get_property = ll_example_item_get_property;
    object_class->finalize = ll_example_item_finalize;
    item_props[PROP_P_AFTER] = g_param_spec_double("p-after", NULL, NULL, -G_MAXDOUBLE,
                                                   G_MAXDOUBLE, 0, G_PARAM_READABLE);
    g_object_class_install_properties(object_class, N_PROPS, item_props);
}

static void ll_example_item_init(LlExampleItem *item)
{
    item->p_after = NAN;
}

static LlExampleItem *example_item_new(const ViewerData *d, guint i)
{
    LlExampleItem *item = g_object_new(LL_TYPE_EXAMPLE_ITEM, NULL);
    const Problem *p = &d->squaring[i];
    const ProblemResult *r = &d->results[i];
    int var = problem_var1(p);
    item->index = i;
    item->test_index = d->test_index[i];
    item->problem = g_strdup_printf("%s * %s   (%s = %d)", vocab_string(var), vocab_string(var),
                                    vocab_string(var), problem_value_of(p, var));
    item->answer = g_strdup(vocab_string(r->answer));
    item->predicted = g_strdup(vocab_string(r->predicted));
    item->kind = g_strdup(d->failure[i] == FAILURE_NONE ? "right"
                                                         : failure_kind_name(d->failure[i]));
    item->p_before = r->p_correct;
    return item;
}

// ----------------------------------------------------------------------------
// The columns

typedef enum {
    COL_INDEX,
    COL_PROBLEM,
    COL_ANSWER,
    COL_PREDICTED,
    COL_P_BEFORE,
    COL_PREDICTED_AFTER,
    COL_P_AFTER,
    COL_KIND,
    N_COLS
} Column;

static const char *const column_titles[N_COLS] = {
    "#", "problem", "answer", "predicted", "p_correct", "boosted prediction", "boosted p_correct",
    "kind of answer"};

static char *cell_text(const LlExampleItem *item, Column col)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    switch (col) {
    case COL_INDEX: return g_strdup_printf("%zu", item->test_index);
    case COL_PROBLEM: return g_strdup(item->problem);
    case COL_ANSWER: return g_strdup(item->answer);
    case COL_PREDICTED: return g_strdup(item->predicted);
    case COL_P_BEFORE: return g_strdup(g_ascii_formatd(buf, sizeof buf, "%.3f", item->p_before));
    case COL_PREDICTED_AFTER:
        return g_strdup(item->predicted_after ? item->predicted_after : "");
    case COL_P_AFTER:
        return isnan(item->p_after)
                   ? g_strdup("")
                   : g_strdup(g_ascii_formatd(buf, sizeof buf, "%.3f", item->p_after));
    case COL_KIND: return g_strdup(item->kind);
    default: return g_strdup("");
    }
}

static void setup_cell(GtkSignalListItemFactory *factory, GtkListItem *list_item,
                       gpointer user_data)
{
    (void)factory;
    Column col = GPOINTER_TO_INT(user_data);
    GtkWidget *label = gtk_label_new(NULL);
    gtk_label_set_xalign(GTK_LABEL(label), col == COL_PROBLEM || col == COL_KIND ? 0.0f : 1.0f);
    if (col != COL_PROBLEM && col != COL_KIND)
        gtk_widget_add_css_class(label, "numeric");
    gtk_list_item_set_child(list_item, label);
}

static void refresh_label(GObject *object, GParamSpec *pspec, gpointer user_data)
{
    (void)pspec;
    GtkLabel *label = user_data;
    Column col = GPOINTER_TO_INT(g_object_get_data(G_OBJECT(label), "column"));
    char *text = cell_text(LL_EXAMPLE_ITEM(object), col);
    gtk_label_set_text(label, text);
    g_free(text);
}

static void bind_cell(GtkSignalListItemFactory *factory, GtkListItem *list_item,
                      gpointer user_data)
{
    (void)factory;
    GtkWidget *label = gtk_list_item_get_child(list_item);
    GObject *item = gtk_list_item_get_item(list_item);
    g_object_set_data(G_OBJECT(label), "column", user_data);
    refresh_label(item, NULL, label);
    Column col = GPOINTER_TO_INT(user_data);
    if (col == COL_P_AFTER || col == COL_PREDICTED_AFTER) {
        gulong id = g_signal_connect(item, "notify::p-after", G_CALLBACK(refresh_label), label);
        g_object_set_data(G_OBJECT(label), "handler", GSIZE_TO_POINTER(id));
    }
}

static void unbind_cell(GtkSignalListItemFactory *factory, GtkListItem *list_item,
                        gpointer user_data)
{
    (void)factory, (void)user_data;
    GtkWidget *label = gtk_list_item_get_child(list_item);
    gulong id = GPOINTER_TO_SIZE(g_object_get_data(G_OBJECT(label), "handler"));
    if (id) {
        g_signal_handler_disconnect(gtk_list_item_get_item(list_item), id);
        g_object_set_data(G_OBJECT(label), "handler", NULL);
    }
}

static double sort_number(const LlExampleItem *item, Column col)
{
    switch (col) {
    case COL_INDEX: return (double)item->test_index;
    case COL_ANSWER: return g_ascii_strtod(item->answer, NULL);
    case COL_P_BEFORE: return item->p_before;
    case COL_P_AFTER: return isnan(item->p_after) ? -1.0 : item->p_after;
    default: return 0.0;
    }
}

static int compare_items(gconstpointer a, gconstpointer b, gpointer user_data)
{
    Column col = GPOINTER_TO_INT(user_data);
    const LlExampleItem *x = a, *y = b;
    if (col == COL_PROBLEM || col == COL_KIND || col == COL_PREDICTED ||
        col == COL_PREDICTED_AFTER) {
        char *sx = cell_text(x, col), *sy = cell_text(y, col);
        int c = g_strcmp0(sx, sy);
        g_free(sx);
        g_free(sy);
        if (c)
            return c < 0 ? GTK_ORDERING_SMALLER : GTK_ORDERING_LARGER;
    } else {
        double u = sort_number(x, col), v = sort_number(y, col);
        if (u != v)
            return u < v ? GTK_ORDERING_SMALLER : GTK_ORDERING_LARGER;
    }
    // Ties in file order, so the list never shuffles by itself.
    return x->index < y->index ? GTK_ORDERING_SMALLER
                               : x->index > y->index ? GTK_ORDERING_LARGER : GTK_ORDERING_EQUAL;
}

// ----------------------------------------------------------------------------
// The browser

struct _LlExampleBrowser {
    GtkBox parent_instance;
    ViewerData *data;
    Boost boost;
    gboolean has_boost;
    int layer, head;
    GListStore *store;
    GtkSingleSelection *selection;
    GtkWidget *column_view, *summary, *heatmaps, *top_before, *top_after;
    // The selected example's captures, for the tooltip
    int selected;
    Capture before, after;
    gboolean has_capture;
    gboolean stale; // the selected example's panels wait for the page to be shown
};

G_DEFINE_TYPE(LlExampleBrowser, ll_example_browser, GTK_TYPE_BOX)

static void clear_capture(LlExampleBrowser *browser)
{
    if (browser->has_capture) {
        capture_free(&browser->before);
        capture_free(&browser->after);
        browser->has_capture = FALSE;
    }
}

static char *example_tooltip(int panel, int row, int col, gpointer user_data)
{
    (void)panel;
    LlExampleBrowser *browser = user_data;
    if (!browser->has_capture)
        return NULL;
    return viewer_example_tooltip(browser->data, browser->selected, &browser->before,
                                  &browser->after, browser->layer, browser->head, row, col);
}

// Captures the selected example again (a new selection, boost or head): two
// forward passes of one problem, so only while the page is on screen.
static void show_selected(LlExampleBrowser *browser)
{
    if (!gtk_widget_get_mapped(GTK_WIDGET(browser)) && browser->selected >= 0) {
        browser->stale = TRUE;
        return;
    }
    browser->stale = FALSE;
    clear_capture(browser);
    LlHeatmapView *view = LL_HEATMAP_VIEW(browser->heatmaps);
    if (!browser->data || browser->selected < 0) {
        ll_heatmap_view_set_panels(view, NULL, 0, NULL);
        gtk_label_set_text(GTK_LABEL(browser->summary), "Select a problem in the list.");
        gtk_label_set_text(GTK_LABEL(browser->top_before), "");
        gtk_label_set_text(GTK_LABEL(browser->top_after), "");
        return;
    }
    Boost boost = browser->boost;
    if (!browser->has_boost)
        boost_init_default(&boost, 0.0f);
    ProblemResult before, after;
    GError *error = NULL;
    if (!viewer_example_capture(browser->data, browser->selected, &boost, &browser->before,
                                &before, &browser->after, &after, &error)) {
        gtk_label_set_text(GTK_LABEL(browser->summary), error->message);
        g_error_free(error);
        ll_heatmap_view_set_panels(view, NULL, 0, NULL);
        return;
    }
    browser->has_capture = TRUE;
    Heatmap panels[2];
    int n = viewer_example_panels(panels, browser->data, browser->selected, &browser->before,
                                  &before, &browser->after, &after, browser->layer, browser->head,
                                  boost.amount);
    char title[HEATMAP_TEXT_MAX];
    if (browser->head == ALL_HEADS)
        g_snprintf(title, sizeof title, "layer %d, mean of heads", browser->layer);
    else
        g_snprintf(title, sizeof title, "layer %d head %d", browser->layer, browser->head);
    ll_heatmap_view_set_panels(view, panels, n, title);
    char *summary = viewer_example_text(browser->data, browser->selected);
    gtk_label_set_text(GTK_LABEL(browser->summary), summary);
    g_free(summary);
    char *top = viewer_top5_text(&before);
    char *text = g_strdup_printf("top 5, before\n%s", top);
    gtk_label_set_text(GTK_LABEL(browser->top_before), text);
    g_free(top);
    g_free(text);
    top = viewer_top5_text(&after);
    text = g_strdup_printf("top 5, boosted\n%s", top);
    gtk_label_set_text(GTK_LABEL(browser->top_after), text);
    g_free(top);
    g_free(text);
}

static void on_selection(GObject *object, GParamSpec *pspec, gpointer user_data)
{
    (void)object, (void)pspec;
    LlExampleBrowser *browser = user_data;
    LlExampleItem *item = gtk_single_selection_get_selected_item(browser->selection);
    browser->selected = item ? (int)item->index : -1;
    show_selected(browser);
}

static void add_column(LlExampleBrowser *browser, Column col)
{
    GtkListItemFactory *factory = gtk_signal_list_item_factory_new();
    g_signal_connect(factory, "setup", G_CALLBACK(setup_cell), GINT_TO_POINTER(col));
    g_signal_connect(factory, "bind", G_CALLBACK(bind_cell), GINT_TO_POINTER(col));
    g_signal_connect(factory, "unbind", G_CALLBACK(unbind_cell), GINT_TO_POINTER(col));
    GtkColumnViewColumn *column = gtk_column_view_column_new(column_titles[col], factory);
    GtkSorter *sorter =
        GTK_SORTER(gtk_custom_sorter_new(compare_items, GINT_TO_POINTER(col), NULL));
    gtk_column_view_column_set_sorter(column, sorter);
    g_object_unref(sorter);
    gtk_column_view_column_set_expand(column, col == COL_PROBLEM);
    gtk_column_view_append_column(GTK_COLUMN_VIEW(browser->column_view), column);
    g_object_unref(column);
}

static void ll_example_browser_map(GtkWidget *widget)
{
    GTK_WIDGET_CLASS(ll_example_browser_parent_class)->map(widget);
    LlExampleBrowser *browser = LL_EXAMPLE_BROWSER(widget);
    if (browser->stale)
        show_selected(browser);
}

static void ll_example_browser_dispose(GObject *object)
{
    LlExampleBrowser *browser = LL_EXAMPLE_BROWSER(object);
    clear_capture(browser);
    if (browser->data) {
        viewer_data_unref(browser->data);
        browser->data = NULL;
    }
    g_clear_object(&browser->store);
    G_OBJECT_CLASS(ll_example_browser_parent_class)->dispose(object);
}

static void ll_example_browser_class_init(LlExampleBrowserClass *klass)
{
    G_OBJECT_CLASS(klass)->dispose = ll_example_browser_dispose;
    GTK_WIDGET_CLASS(klass)->map = ll_example_browser_map;
}

static GtkWidget *mono_label(void)
{
    GtkWidget *label = gtk_label_new("");
    gtk_label_set_xalign(GTK_LABEL(label), 0);
    gtk_label_set_yalign(GTK_LABEL(label), 0);
    gtk_widget_add_css_class(label, "monospace");
    return label;
}

static void ll_example_browser_init(LlExampleBrowser *browser)
{
    browser->selected = -1;
    browser->head = 0;
    // The list above, the selected problem below: its heatmaps get the width.
    gtk_orientable_set_orientation(GTK_ORIENTABLE(browser), GTK_ORIENTATION_VERTICAL);
    GtkWidget *paned = gtk_paned_new(GTK_ORIENTATION_VERTICAL);
    gtk_widget_set_vexpand(paned, TRUE);
    gtk_box_append(GTK_BOX(browser), paned);

    browser->store = g_list_store_new(LL_TYPE_EXAMPLE_ITEM);
    browser->column_view = gtk_column_view_new(NULL);
    GtkSorter *sorter = gtk_column_view_get_sorter(GTK_COLUMN_VIEW(browser->column_view));
    GtkSortListModel *sorted =
        gtk_sort_list_model_new(G_LIST_MODEL(g_object_ref(browser->store)), g_object_ref(sorter));
    browser->selection = gtk_single_selection_new(G_LIST_MODEL(sorted));
    gtk_single_selection_set_autoselect(browser->selection, FALSE);
    gtk_single_selection_set_can_unselect(browser->selection, TRUE);
    gtk_column_view_set_model(GTK_COLUMN_VIEW(browser->column_view),
                              GTK_SELECTION_MODEL(browser->selection));
    g_object_unref(browser->selection); // the column view holds it
    g_signal_connect(browser->selection, "notify::selected-item", G_CALLBACK(on_selection),
                     browser);
    for (int col = 0; col < N_COLS; col++)
        add_column(browser, col);
    gtk_column_view_set_show_column_separators(GTK_COLUMN_VIEW(browser->column_view), TRUE);
    GtkWidget *scroller = gtk_scrolled_window_new();
    gtk_scrolled_window_set_child(GTK_SCROLLED_WINDOW(scroller), browser->column_view);
    gtk_widget_set_size_request(scroller, -1, 160);
    gtk_paned_set_start_child(GTK_PANED(paned), scroller);
    gtk_paned_set_resize_start_child(GTK_PANED(paned), FALSE);
    gtk_paned_set_position(GTK_PANED(paned), 260);

    GtkWidget *detail = gtk_box_new(GTK_ORIENTATION_VERTICAL, 6);
    gtk_widget_set_margin_top(detail, 6);
    browser->summary = gtk_label_new("Select a problem in the list.");
    gtk_label_set_xalign(GTK_LABEL(browser->summary), 0);
    gtk_label_set_wrap(GTK_LABEL(browser->summary), TRUE);
    gtk_widget_set_margin_start(browser->summary, 8);
    gtk_box_append(GTK_BOX(detail), browser->summary);
    GtkWidget *row = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 12);
    browser->heatmaps = ll_heatmap_view_new();
    ll_heatmap_view_set_tooltip_func(LL_HEATMAP_VIEW(browser->heatmaps), example_tooltip,
                                     browser);
    ll_heatmap_view_set_empty_text(LL_HEATMAP_VIEW(browser->heatmaps),
                                   "Select a problem to see its own attention");
    gtk_box_append(GTK_BOX(row), browser->heatmaps);
    GtkWidget *tops = gtk_box_new(GTK_ORIENTATION_VERTICAL, 18);
    gtk_widget_set_margin_end(tops, 12);
    gtk_widget_set_valign(tops, GTK_ALIGN_CENTER);
    browser->top_before = mono_label();
    browser->top_after = mono_label();
    gtk_box_append(GTK_BOX(tops), browser->top_before);
    gtk_box_append(GTK_BOX(tops), browser->top_after);
    gtk_box_append(GTK_BOX(row), tops);
    gtk_box_append(GTK_BOX(detail), row);
    gtk_paned_set_end_child(GTK_PANED(paned), detail);
}

GtkWidget *ll_example_browser_new(void)
{
    return g_object_new(LL_TYPE_EXAMPLE_BROWSER, NULL);
}

void ll_example_browser_set_data(LlExampleBrowser *browser, ViewerData *data)
{
    clear_capture(browser);
    browser->selected = -1;
    if (browser->data)
        viewer_data_unref(browser->data);
    browser->data = data ? viewer_data_ref(data) : NULL;
    browser->has_boost = FALSE;
    g_list_store_remove_all(browser->store);
    if (data) {
        GPtrArray *items = g_ptr_array_new_with_free_func(g_object_unref);
        for (size_t i = 0; i < data->n_squaring; i++)
            g_ptr_array_add(items, example_item_new(data, (guint)i));
        g_list_store_splice(browser->store, 0, 0, items->pdata, items->len);
        g_ptr_array_unref(items);
        browser->layer = CLAMP(browser->layer, 0, viewer_data_n_layer(data) - 1);
        if (browser->head >= viewer_data_n_head(data))
            browser->head = ALL_HEADS;
    }
    gtk_single_selection_set_selected(browser->selection, GTK_INVALID_LIST_POSITION);
    show_selected(browser);
}

void ll_example_browser_set_boost(LlExampleBrowser *browser, const ViewerBoost *vb)
{
    if (!browser->data)
        return;
    browser->boost = vb->boost;
    browser->has_boost = TRUE;
    // The boost runs over the good and the bad subset in index order.
    const Subset *subsets[2] = {&browser->data->good, &browser->data->bad};
    double *p_after = g_new(double, browser->data->n_squaring);
    int *predicted = g_new(int, browser->data->n_squaring);
    for (int s = 0; s < 2; s++) {
        for (size_t k = 0; k < subsets[s]->count; k++) {
            p_after[subsets[s]->index[k]] = vb->run[s].p_correct[k];
            predicted[subsets[s]->index[k]] = vb->run[s].predicted[k];
        }
    }
    guint n = g_list_model_get_n_items(G_LIST_MODEL(browser->store));
    for (guint k = 0; k < n; k++) {
        LlExampleItem *item = g_list_model_get_item(G_LIST_MODEL(browser->store), k);
        item->p_after = p_after[item->index];
        g_free(item->predicted_after);
        item->predicted_after = g_strdup(vocab_string(predicted[item->index]));
        g_object_notify_by_pspec(G_OBJECT(item), item_props[PROP_P_AFTER]);
        g_object_unref(item);
    }
    g_free(p_after);
    g_free(predicted);
    show_selected(browser);
}

void ll_example_browser_set_head(LlExampleBrowser *browser, int layer, int head)
{
    if (browser->layer == layer && browser->head == head)
        return;
    browser->layer = layer;
    browser->head = head;
    show_selected(browser);
}

void ll_example_browser_select(LlExampleBrowser *browser, int position)
{
    gtk_single_selection_set_selected(browser->selection,
                                      position < 0 ? GTK_INVALID_LIST_POSITION : (guint)position);
}

int ll_example_browser_get_selected(LlExampleBrowser *browser)
{
    return browser->selected;
}

GtkWidget *ll_example_browser_get_heatmaps(LlExampleBrowser *browser)
{
    return browser->heatmaps;
}
