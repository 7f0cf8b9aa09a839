// ll_window.c: see ll_window.h.
#include "ll_window.h"

#include <math.h>
#include <string.h>

#include "experiment.h"
#include "ll_boost_controls.h"
#include "ll_example_browser.h"
#include "ll_head_grid.h"
#include "ll_heatmap_view.h"
#include "ll_profile_view.h"
#include "viewer_draw.h"

// One entry of the model switcher.
typedef struct {
    char *model_path, *data_path; // data_path NULL: the experiment's test set
    ViewerData *data;             // NULL until loaded
} ModelEntry;

static void model_entry_free(gpointer p)
{
    ModelEntry *e = p;
    g_free(e->model_path);
    g_free(e->data_path);
    if (e->data)
        viewer_data_unref(e->data);
    g_free(e);
}

struct _LlWindow {
    GtkApplicationWindow parent_instance;
    // Widgets
    GtkWidget *model_dropdown, *spinner, *layer_spin, *head_dropdown, *grid, *grid_label,
        *role_check, *diff_check, *boost_controls, *stack, *heatmaps, *profile, *browser, *status;
    GtkStringList *model_names;
    // The models in the switcher and the one shown
    GPtrArray *models; // of ModelEntry
    guint current;     // index into models, G_MAXUINT before the first load
    ViewerData *data;  // models[current]->data, or NULL
    // What is shown
    int layer, head; // head ALL_HEADS: the mean over the layer's heads
    gboolean by_role, difference;
    // The live boost: one worker at a time; `generation` counts requests, and a
    // result whose generation is not the latest is dropped (and the worker
    // started again with the latest boost).
    ViewerBoost *shown;   // the boost results shown, or NULL
    ViewerBoost *spare;   // a finished run's memory, reused by the next job
    guint generation;
    gboolean worker_busy;
    guint loading; // loads in flight
    gboolean updating_controls; // set while the code (not the user) moves a control
    GCancellable *cancellable;
    char *last_error;
};

G_DEFINE_TYPE(LlWindow, ll_window, GTK_TYPE_APPLICATION_WINDOW)

static void refresh_views(LlWindow *win);
static void request_boost(LlWindow *win);

// ----------------------------------------------------------------------------
// Errors

static void show_error(LlWindow *win, const char *what, const char *message)
{
    g_free(win->last_error);
    win->last_error = g_strdup(message);
    GtkWidget *dialog = gtk_message_dialog_new(GTK_WINDOW(win),
                                               GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT,
                                               GTK_MESSAGE_ERROR, GTK_BUTTONS_CLOSE, "%s", what);
    gtk_message_dialog_format_secondary_text(GTK_MESSAGE_DIALOG(dialog), "%s", message);
    g_signal_connect(dialog, "response", G_CALLBACK(gtk_window_destroy), NULL);
    gtk_window_present(GTK_WINDOW(dialog));
}

// ----------------------------------------------------------------------------
// The live boost

static gboolean boost_equal(const Boost *a, const Boost *b)
{
    return a->amount == b->amount && a->boost_values == b->boost_values &&
           a->boost_operator == b->boost_operator &&
           memcmp(a->target, b->target, sizeof a->target) == 0;
}

// A moving slider gets quick jobs (row 18 of the bad subset: the readouts and
// row 18 of the boosted panel); when the latest one is shown and nothing newer
// is asked, a full job adds row 19, so the panel is whole once the slider rests.
typedef struct {
    ViewerData *data;
    ViewerBoost *vb;
    Boost boost;
    guint generation;
    int bad_rows; // 1 quick, 2 full
} BoostJob;

static void boost_job_free(gpointer p)
{
    BoostJob *job = p;
    viewer_boost_free(job->vb);
    viewer_data_unref(job->data);
    g_free(job);
}

static void boost_thread(GTask *task, gpointer source, gpointer task_data,
                         GCancellable *cancellable)
{
    (void)source, (void)cancellable;
    BoostJob *job = task_data;
    viewer_boost_compute(job->vb, job->data, &job->boost, job->bad_rows);
    g_task_return_boolean(task, TRUE);
}

static void current_boost(LlWindow *win, Boost *out)
{
    ll_boost_controls_get_boost(LL_BOOST_CONTROLS(win->boost_controls), win->layer, win->head,
                                out);
}

static void start_worker(LlWindow *win, int bad_rows);

static void boost_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    (void)user_data;
    LlWindow *win = LL_WINDOW(source);
    GTask *task = G_TASK(result);
    BoostJob *job = g_task_get_task_data(task);
    win->worker_busy = FALSE;
    if (g_cancellable_is_cancelled(win->cancellable))
        return; // the window is going away
    Boost wanted;
    current_boost(win, &wanted);
    if (job->data == win->data && job->generation == win->generation &&
        boost_equal(&job->boost, &wanted)) {
        // The latest request: show it, keep the old run's memory for the next.
        ViewerBoost *old = win->shown;
        win->shown = job->vb;
        job->vb = NULL;
        if (old) {
            viewer_boost_free(win->spare);
            win->spare = old;
        }
        ll_boost_controls_show_readouts(LL_BOOST_CONTROLS(win->boost_controls),
                                        &win->shown->readouts);
        if (job->bad_rows == 1) // the example's panels need no row-19 pass
            ll_example_browser_set_boost(LL_EXAMPLE_BROWSER(win->browser), win->shown);
        refresh_views(win);
        if (!viewer_boost_complete(win->shown, win->data))
            start_worker(win, 2);
        return;
    }
    // Stale: recycle the memory if it fits the model shown, then go again.
    if (job->data == win->data && !win->spare) {
        win->spare = job->vb;
        job->vb = NULL;
    }
    if (win->data)
        start_worker(win, 1);
}

static void start_worker(LlWindow *win, int bad_rows)
{
    if (win->worker_busy || !win->data)
        return;
    BoostJob *job = g_new0(BoostJob, 1);
    job->data = viewer_data_ref(win->data);
    job->generation = win->generation;
    job->bad_rows = bad_rows;
    current_boost(win, &job->boost);
    job->vb = win->spare ? win->spare : viewer_boost_new(win->data);
    win->spare = NULL;
    win->worker_busy = TRUE;
    GTask *task = g_task_new(win, NULL, boost_done, NULL);
    g_task_set_task_data(task, job, boost_job_free);
    g_task_run_in_thread(task, boost_thread);
    g_object_unref(task);
}

static void request_boost(LlWindow *win)
{
    if (!win->data)
        return;
    Boost wanted;
    current_boost(win, &wanted);
    if (win->shown && boost_equal(&win->shown->boost, &wanted) && !win->worker_busy)
        return;
    win->generation++;
    ll_boost_controls_show_readouts(LL_BOOST_CONTROLS(win->boost_controls), NULL);
    start_worker(win, 1);
}

// ----------------------------------------------------------------------------
// Showing the model

static char *main_tooltip(int panel, int row, int col, gpointer user_data)
{
    (void)panel;
    LlWindow *win = user_data;
    if (!win->data)
        return NULL;
    return viewer_cell_tooltip(win->data, win->shown, win->layer, win->head, win->by_role, row,
                               col);
}

static void refresh_views(LlWindow *win)
{
    LlHeatmapView *view = LL_HEATMAP_VIEW(win->heatmaps);
    if (!win->data) {
        ll_heatmap_view_set_panels(view, NULL, 0, NULL);
        ll_profile_view_set_chart(LL_PROFILE_VIEW(win->profile), NULL);
        return;
    }
    Heatmap panels[3];
    ViewSubset subsets[3];
    int n = viewer_panels(panels, subsets, win->data, win->shown, win->layer, win->head,
                          win->by_role, win->difference);
    char title[HEATMAP_TEXT_MAX];
    viewer_panels_title(title, sizeof title, win->data, win->layer, win->head, win->by_role,
                        win->difference);
    ll_heatmap_view_set_panels(view, panels, n, title);
    ProfileChart chart;
    viewer_profile(&chart, win->data, win->shown, win->layer, win->head, win->by_role);
    ll_profile_view_set_chart(LL_PROFILE_VIEW(win->profile), &chart);
    ll_example_browser_set_head(LL_EXAMPLE_BROWSER(win->browser), win->layer, win->head);
}

static void refresh_grid(LlWindow *win)
{
    if (!win->data)
        return;
    double limit;
    float *thumbs = viewer_grid_thumbs(win->data, win->by_role, win->difference, &limit);
    gboolean difference = win->difference && win->data->good.count && win->data->bad.count;
    gtk_label_set_text(GTK_LABEL(win->grid_label),
                       difference                 ? "Every layer and head: bad - good"
                       : win->data->bad.count > 0 ? "Every layer and head: bad"
                                                  : "Every layer and head: good");
    ll_head_grid_set_data(LL_HEAD_GRID(win->grid), viewer_data_n_layer(win->data),
                          viewer_data_n_head(win->data), thumbs,
                          difference ? HEATMAP_DIFFERENCE : HEATMAP_PATTERN, limit);
    g_free(thumbs);
}

static void refresh_status(LlWindow *win)
{
    ViewerData *d = win->data;
    if (!d) {
        const char *text = "No model loaded: open a checkpoint with Ctrl+O (looplens train "
                           "makes one; tools/do run makes the shipped ones).";
        gtk_label_set_text(GTK_LABEL(win->status), text);
        ll_heatmap_view_set_empty_text(LL_HEATMAP_VIEW(win->heatmaps),
                                       win->loading ? "Loading ..." : "No model loaded");
        return;
    }
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "%s (%s definitions, %d layers x %d heads), %s: %zu problems, "
                              "%zu squaring: %zu good, %zu bad.",
                           d->name, order_name(d->order), viewer_data_n_layer(d),
                           viewer_data_n_head(d),
                           d->data_path ? d->data_path : "the experiment's test set",
                           d->test_count, d->n_squaring, d->good.count, d->bad.count);
    if (d->failures.n) {
        g_string_append(s, " Wrong answers:");
        for (int k = 0; k < FAILURE_KINDS; k++) {
            char chance[G_ASCII_DTOSTR_BUF_SIZE];
            if (isfinite(d->failures.chance[k]))
                g_ascii_formatd(chance, sizeof chance, "%.1f", d->failures.chance[k]);
            else
                g_strlcpy(chance, "n/a", sizeof chance);
            g_string_append_printf(s, " %s %zu (chance %s)%s", failure_kind_name(k),
                                   d->failures.count[k], chance, k + 1 < FAILURE_KINDS ? "," : ".");
        }
    }
    gtk_label_set_text(GTK_LABEL(win->status), s->str);
    g_string_free(s, TRUE);
}

// Moves the selectors to (layer, head) without their handlers reacting.
static void sync_selectors(LlWindow *win)
{
    win->updating_controls = TRUE;
    int NH = win->data ? viewer_data_n_head(win->data) : 0;
    gtk_spin_button_set_value(GTK_SPIN_BUTTON(win->layer_spin), win->layer);
    gtk_drop_down_set_selected(GTK_DROP_DOWN(win->head_dropdown),
                               win->head == ALL_HEADS ? (guint)NH : (guint)win->head);
    ll_head_grid_set_selected(LL_HEAD_GRID(win->grid), win->layer,
                              win->head == ALL_HEADS ? NH : win->head);
    win->updating_controls = FALSE;
}

// Shows models[index] (loaded).
static void show_model(LlWindow *win, guint index)
{
    ModelEntry *e = g_ptr_array_index(win->models, index);
    g_return_if_fail(e->data);
    win->current = index;
    if (win->data != e->data) {
        if (win->data)
            viewer_data_unref(win->data);
        win->data = viewer_data_ref(e->data);
        viewer_boost_free(win->shown);
        viewer_boost_free(win->spare);
        win->shown = win->spare = NULL;
    }
    ViewerData *d = win->data;
    int L = viewer_data_n_layer(d), NH = viewer_data_n_head(d);
    win->layer = CLAMP(win->layer, 0, L - 1);
    if (win->head >= NH)
        win->head = ALL_HEADS;

    win->updating_controls = TRUE;
    gtk_drop_down_set_selected(GTK_DROP_DOWN(win->model_dropdown), index);
    gtk_spin_button_set_range(GTK_SPIN_BUTTON(win->layer_spin), 0, L - 1);
    GtkStringList *heads = gtk_string_list_new(NULL);
    for (int h = 0; h < NH; h++) {
        char name[16];
        g_snprintf(name, sizeof name, "head %d", h);
        gtk_string_list_append(heads, name);
    }
    gtk_string_list_append(heads, "mean of heads");
    gtk_drop_down_set_model(GTK_DROP_DOWN(win->head_dropdown), G_LIST_MODEL(heads));
    g_object_unref(heads);
    // Shuffled definitions: role order by default (chapter 8); the user may switch.
    win->by_role = d->order == ORDER_SHUFFLED;
    gtk_check_button_set_active(GTK_CHECK_BUTTON(win->role_check), win->by_role);
    win->updating_controls = FALSE;
    sync_selectors(win);

    char *title = g_strdup_printf("LoopLens viewer: %s", d->name);
    gtk_window_set_title(GTK_WINDOW(win), title);
    g_free(title);
    ll_example_browser_set_data(LL_EXAMPLE_BROWSER(win->browser), d);
    refresh_grid(win);
    gtk_widget_grab_focus(win->grid); // the arrow keys walk the grid right away
    refresh_status(win);
    refresh_views(win);
    win->generation++;
    request_boost(win);
}

// ----------------------------------------------------------------------------
// Loading (in a worker thread)

typedef struct {
    char *model_path, *data_path;
    guint index;     // the entry it fills
    gboolean is_new; // the entry was added for this load (removed on failure)
} LoadJob;

static void load_job_free(gpointer p)
{
    LoadJob *job = p;
    g_free(job->model_path);
    g_free(job->data_path);
    g_free(job);
}

static void load_thread(GTask *task, gpointer source, gpointer task_data,
                        GCancellable *cancellable)
{
    (void)source, (void)cancellable;
    LoadJob *job = task_data;
    GError *error = NULL;
    ViewerData *d = viewer_data_load(job->model_path, job->data_path, &error);
    if (d)
        g_task_return_pointer(task, d, (GDestroyNotify)viewer_data_unref);
    else
        g_task_return_error(task, error);
}

static void update_busy(LlWindow *win)
{
    gboolean busy = win->loading > 0;
    gtk_spinner_set_spinning(GTK_SPINNER(win->spinner), busy);
    gtk_widget_set_visible(win->spinner, busy);
}

static void load_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    (void)user_data;
    LlWindow *win = LL_WINDOW(source);
    LoadJob *job = g_task_get_task_data(G_TASK(result));
    GError *error = NULL;
    ViewerData *d = g_task_propagate_pointer(G_TASK(result), &error);
    win->loading--;
    if (g_cancellable_is_cancelled(win->cancellable)) {
        if (d)
            viewer_data_unref(d);
        g_clear_error(&error);
        return;
    }
    update_busy(win);
    ModelEntry *e = g_ptr_array_index(win->models, job->index);
    if (!d) {
        char *base = g_path_get_basename(job->model_path);
        char *what = g_strdup_printf("Cannot open %s", base);
        if (job->is_new && job->index == win->models->len - 1) {
            g_ptr_array_remove_index(win->models, job->index);
            gtk_string_list_remove(win->model_names, job->index);
        }
        // Back to what was shown: the window keeps working with it.
        win->updating_controls = TRUE;
        if (win->current < win->models->len)
            gtk_drop_down_set_selected(GTK_DROP_DOWN(win->model_dropdown), win->current);
        win->updating_controls = FALSE;
        refresh_status(win);
        show_error(win, what, error->message);
        g_free(base);
        g_free(what);
        g_error_free(error);
        return;
    }
    if (e->data)
        viewer_data_unref(e->data);
    e->data = d;
    show_model(win, job->index);
}

static void start_load(LlWindow *win, guint index, gboolean is_new)
{
    ModelEntry *e = g_ptr_array_index(win->models, index);
    LoadJob *job = g_new0(LoadJob, 1);
    job->model_path = g_strdup(e->model_path);
    job->data_path = g_strdup(e->data_path);
    job->index = index;
    job->is_new = is_new;
    win->loading++;
    update_busy(win);
    char *name = experiment_model_name(e->model_path);
    char *status = g_strdup_printf("Loading %s and analysing its squaring problems ...", name);
    gtk_label_set_text(GTK_LABEL(win->status), status);
    if (!win->data)
        ll_heatmap_view_set_empty_text(LL_HEATMAP_VIEW(win->heatmaps), status);
    g_free(status);
    g_free(name);
    GTask *task = g_task_new(win, NULL, load_done, NULL);
    g_task_set_task_data(task, job, load_job_free);
    g_task_run_in_thread(task, load_thread);
    g_object_unref(task);
}

// The experiment's output for this model, if `looplens experiment` ran here.
static char *default_data_path(const char *model_path)
{
    char *name = experiment_model_name(model_path);
    char *path = g_build_filename("out", name, "test.txt", NULL);
    g_free(name);
    if (g_file_test(path, G_FILE_TEST_IS_REGULAR))
        return path;
    g_free(path);
    return NULL;
}

// The switcher's entry for this model and problem file (data_path NULL: the
// default), added if it is not there yet (*is_new then TRUE).
static guint find_or_add_entry(LlWindow *win, const char *model_path, const char *data_path,
                               gboolean *is_new)
{
    char *data = data_path ? g_strdup(data_path) : default_data_path(model_path);
    for (guint i = 0; i < win->models->len; i++) {
        ModelEntry *e = g_ptr_array_index(win->models, i);
        if (g_strcmp0(e->model_path, model_path) == 0 && g_strcmp0(e->data_path, data) == 0) {
            g_free(data);
            *is_new = FALSE;
            return i;
        }
    }
    char *name = experiment_model_name(model_path);
    char *label;
    char *default_data = default_data_path(model_path);
    if (data && g_strcmp0(data, default_data) != 0) {
        char *base = g_path_get_basename(data);
        label = g_strdup_printf("%s (%s)", name, base);
        g_free(base);
    } else {
        label = g_strdup(name);
    }
    g_free(default_data);
    ModelEntry *e = g_new0(ModelEntry, 1);
    e->model_path = g_strdup(model_path);
    e->data_path = data;
    g_ptr_array_add(win->models, e);
    win->updating_controls = TRUE;
    gtk_string_list_append(win->model_names, label);
    if (win->current < win->models->len)
        gtk_drop_down_set_selected(GTK_DROP_DOWN(win->model_dropdown), win->current);
    win->updating_controls = FALSE;
    g_free(name);
    g_free(label);
    *is_new = TRUE;
    return win->models->len - 1;
}

void ll_window_add_model(LlWindow *win, const char *model_path, const char *data_path)
{
    gboolean is_new;
    find_or_add_entry(win, model_path, data_path, &is_new);
}

void ll_window_open_model(LlWindow *win, const char *model_path, const char *data_path)
{
    gboolean is_new;
    guint i = find_or_add_entry(win, model_path, data_path, &is_new);
    ModelEntry *e = g_ptr_array_index(win->models, i);
    if (e->data)
        show_model(win, i);
    else
        start_load(win, i, is_new);
}

void ll_window_open_data(LlWindow *win, const char *data_path)
{
    if (!win->data) {
        show_error(win, "No model to read the problems with",
                   "Open a checkpoint (.safetensors) first.");
        return;
    }
    char *model = g_strdup(win->data->model_path);
    ll_window_open_model(win, model, data_path);
    g_free(model);
}

// ----------------------------------------------------------------------------
// Control handlers

void ll_window_select_head(LlWindow *win, int layer, int head)
{
    if (!win->data)
        return;
    int L = viewer_data_n_layer(win->data), NH = viewer_data_n_head(win->data);
    win->layer = CLAMP(layer, 0, L - 1);
    win->head = head < 0 || head >= NH ? ALL_HEADS : head;
    sync_selectors(win);
    refresh_views(win);
    request_boost(win); // the boost's scope may follow the selection
}

void ll_window_get_head(LlWindow *win, int *layer, int *head)
{
    *layer = win->layer;
    *head = win->head;
}

static void on_grid_selected(LlHeadGrid *grid, int layer, int head, gpointer user_data)
{
    (void)grid;
    ll_window_select_head(user_data, layer, head);
}

static void on_layer_spin(GtkSpinButton *spin, gpointer user_data)
{
    LlWindow *win = user_data;
    if (!win->updating_controls)
        ll_window_select_head(win, gtk_spin_button_get_value_as_int(spin), win->head);
}

static void on_head_dropdown(GObject *object, GParamSpec *pspec, gpointer user_data)
{
    (void)pspec;
    LlWindow *win = user_data;
    if (win->updating_controls || !win->data)
        return;
    guint selected = gtk_drop_down_get_selected(GTK_DROP_DOWN(object));
    if (selected == GTK_INVALID_LIST_POSITION)
        return;
    ll_window_select_head(win, win->layer, (int)selected);
}

static void on_view_toggled(GtkCheckButton *button, gpointer user_data)
{
    (void)button;
    LlWindow *win = user_data;
    if (win->updating_controls)
        return;
    win->by_role = gtk_check_button_get_active(GTK_CHECK_BUTTON(win->role_check));
    win->difference = gtk_check_button_get_active(GTK_CHECK_BUTTON(win->diff_check));
    refresh_grid(win);
    refresh_views(win);
}

void ll_window_set_view(LlWindow *win, int by_role, int difference)
{
    if (by_role >= 0)
        gtk_check_button_set_active(GTK_CHECK_BUTTON(win->role_check), by_role);
    if (difference >= 0)
        gtk_check_button_set_active(GTK_CHECK_BUTTON(win->diff_check), difference);
}

static void on_boost_changed(LlBoostControls *controls, gpointer user_data)
{
    (void)controls;
    request_boost(user_data);
}

void ll_window_set_boost_amount(LlWindow *win, double amount)
{
    ll_boost_controls_set_amount(LL_BOOST_CONTROLS(win->boost_controls), amount);
}

void ll_window_set_boost_scope(LlWindow *win, int scope)
{
    ll_boost_controls_set_scope(LL_BOOST_CONTROLS(win->boost_controls), scope);
}

static void on_model_selected(GObject *object, GParamSpec *pspec, gpointer user_data)
{
    (void)pspec;
    LlWindow *win = user_data;
    if (win->updating_controls)
        return;
    guint index = gtk_drop_down_get_selected(GTK_DROP_DOWN(object));
    if (index >= win->models->len || index == win->current)
        return;
    ModelEntry *e = g_ptr_array_index(win->models, index);
    if (e->data)
        show_model(win, index);
    else
        start_load(win, index, FALSE);
}

void ll_window_show_page(LlWindow *win, const char *name)
{
    gtk_stack_set_visible_child_name(GTK_STACK(win->stack), name);
}

void ll_window_select_example(LlWindow *win, int position)
{
    ll_example_browser_select(LL_EXAMPLE_BROWSER(win->browser), position);
}

gboolean ll_window_is_idle(LlWindow *win)
{
    if (win->loading > 0 || win->worker_busy)
        return FALSE;
    if (!win->data)
        return TRUE;
    Boost wanted;
    current_boost(win, &wanted);
    return win->shown && boost_equal(&win->shown->boost, &wanted) &&
           viewer_boost_complete(win->shown, win->data);
}

ViewerData *ll_window_get_data(LlWindow *win) { return win->data; }
const char *ll_window_get_last_error(LlWindow *win) { return win->last_error; }

gboolean ll_window_get_readouts(LlWindow *win, Boost *boost, ViewerReadouts *out)
{
    if (!win->shown)
        return FALSE;
    if (boost)
        *boost = win->shown->boost;
    *out = win->shown->readouts;
    return TRUE;
}

const char *ll_window_get_readouts_text(LlWindow *win)
{
    return ll_boost_controls_get_readouts_text(LL_BOOST_CONTROLS(win->boost_controls));
}

// ----------------------------------------------------------------------------
// Export and screenshots

typedef struct {
    LlWindow *win;
    gboolean examples;
} ExportView;

// The page shown, as one figure: the panels above the row-18 profile, or the
// selected example's panels.
static void draw_view(cairo_t *cr, double width, double height, const void *data)
{
    const ExportView *view = data;
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    if (view->examples) {
        ll_heatmap_view_draw_to(LL_HEATMAP_VIEW(ll_example_browser_get_heatmaps(
                                    LL_EXAMPLE_BROWSER(view->win->browser))),
                                cr, width, height);
        return;
    }
    double top = round(height * 0.66);
    ll_heatmap_view_draw_to(LL_HEATMAP_VIEW(view->win->heatmaps), cr, width, top);
    cairo_save(cr);
    cairo_translate(cr, 0, top);
    ll_profile_view_draw_to(LL_PROFILE_VIEW(view->win->profile), cr, width, height - top);
    cairo_restore(cr);
}

gboolean ll_window_export(LlWindow *win, const char *path, double width, double height,
                          GError **error)
{
    const char *page = gtk_stack_get_visible_child_name(GTK_STACK(win->stack));
    ExportView view = {win, g_strcmp0(page, "examples") == 0};
    return figure_save(path, width, height, draw_view, &view, error);
}

gboolean ll_window_save_screenshot(LlWindow *win, const char *path, GError **error)
{
    GtkWidget *widget = GTK_WIDGET(win);
    int width = gtk_widget_get_width(widget), height = gtk_widget_get_height(widget);
    GskRenderer *renderer = gtk_native_get_renderer(GTK_NATIVE(win));
    // Not on the screen, or not drawn yet: G_IO_ERROR_WOULD_BLOCK, so that the
    // caller can try again after a few more frames.
    if (width <= 0 || height <= 0 || !renderer || !gtk_widget_get_mapped(widget)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
                    "%s: the window is not on the screen (yet)", path);
        return FALSE;
    }
    GdkPaintable *paintable = gtk_widget_paintable_new(widget);
    GtkSnapshot *snapshot = gtk_snapshot_new();
    gdk_paintable_snapshot(paintable, GDK_SNAPSHOT(snapshot), width, height);
    GskRenderNode *node = gtk_snapshot_free_to_node(snapshot);
    g_object_unref(paintable);
    if (!node) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
                    "%s: the window has not drawn yet", path);
        return FALSE;
    }
    GdkTexture *texture =
        gsk_renderer_render_texture(renderer, node, &GRAPHENE_RECT_INIT(0, 0, width, height));
    gsk_render_node_unref(node);
    GBytes *png = gdk_texture_save_to_png_bytes(texture);
    g_object_unref(texture);
    // g_file_set_contents writes a temporary file and renames it: atomic.
    gsize size;
    const char *bytes = g_bytes_get_data(png, &size);
    gboolean ok = g_file_set_contents(path, bytes, (gssize)size, error);
    g_bytes_unref(png);
    return ok;
}

// ----------------------------------------------------------------------------
// Open and Export dialogs (Ctrl+O, Ctrl+E)

static void on_open_response(GtkNativeDialog *dialog, int response, gpointer user_data)
{
    LlWindow *win = user_data;
    if (response == GTK_RESPONSE_ACCEPT) {
        GFile *file = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(dialog));
        char *path = g_file_get_path(file);
        if (path && g_str_has_suffix(path, ".safetensors"))
            ll_window_open_model(win, path, NULL);
        else if (path)
            ll_window_open_data(win, path);
        g_free(path);
        g_object_unref(file);
    }
    g_object_unref(dialog);
}

static void add_filter(GtkFileChooser *chooser, const char *name, const char *pattern)
{
    GtkFileFilter *filter = gtk_file_filter_new();
    gtk_file_filter_set_name(filter, name);
    gtk_file_filter_add_pattern(filter, pattern);
    gtk_file_chooser_add_filter(chooser, filter);
    g_object_unref(filter);
}

static void action_open(GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
    (void)action, (void)parameter;
    LlWindow *win = user_data;
    GtkFileChooserNative *dialog = gtk_file_chooser_native_new(
        "Open a model or a problem file", GTK_WINDOW(win), GTK_FILE_CHOOSER_ACTION_OPEN, "_Open",
        "_Cancel");
    GtkFileFilter *both = gtk_file_filter_new();
    gtk_file_filter_set_name(both, "Models and problem files");
    gtk_file_filter_add_pattern(both, "*.safetensors");
    gtk_file_filter_add_pattern(both, "*.txt");
    gtk_file_chooser_add_filter(GTK_FILE_CHOOSER(dialog), both);
    g_object_unref(both);
    add_filter(GTK_FILE_CHOOSER(dialog), "Checkpoints (*.safetensors)", "*.safetensors");
    add_filter(GTK_FILE_CHOOSER(dialog), "Problem files (*.txt)", "*.txt");
    g_signal_connect(dialog, "response", G_CALLBACK(on_open_response), win);
    gtk_native_dialog_show(GTK_NATIVE_DIALOG(dialog));
}

static void on_export_response(GtkNativeDialog *dialog, int response, gpointer user_data)
{
    LlWindow *win = user_data;
    if (response == GTK_RESPONSE_ACCEPT) {
        GFile *file = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(dialog));
        char *path = g_file_get_path(file);
        GError *error = NULL;
        if (path && !ll_window_export(win, path, 1500, 980, &error)) {
            show_error(win, "Cannot export the view", error->message);
            g_error_free(error);
        }
        g_free(path);
        g_object_unref(file);
    }
    g_object_unref(dialog);
}

static void action_export(GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
    (void)action, (void)parameter;
    LlWindow *win = user_data;
    if (!win->data)
        return;
    GtkFileChooserNative *dialog = gtk_file_chooser_native_new(
        "Export the view (PNG, SVG or PDF by extension)", GTK_WINDOW(win),
        GTK_FILE_CHOOSER_ACTION_SAVE, "_Export", "_Cancel");
    char name[128];
    if (win->head == ALL_HEADS)
        g_snprintf(name, sizeof name, "%s_layer%d_mean.png", win->data->name, win->layer);
    else
        g_snprintf(name, sizeof name, "%s_layer%d_head%d.png", win->data->name, win->layer,
                   win->head);
    gtk_file_chooser_set_current_name(GTK_FILE_CHOOSER(dialog), name);
    g_signal_connect(dialog, "response", G_CALLBACK(on_export_response), win);
    gtk_native_dialog_show(GTK_NATIVE_DIALOG(dialog));
}

// ----------------------------------------------------------------------------
// Building the window

static GtkWidget *section_label(const char *text)
{
    GtkWidget *label = gtk_label_new(text);
    gtk_widget_add_css_class(label, "heading");
    gtk_label_set_xalign(GTK_LABEL(label), 0);
    return label;
}

static GtkWidget *build_sidebar(LlWindow *win)
{
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 8);
    gtk_widget_set_margin_start(box, 10);
    gtk_widget_set_margin_end(box, 10);
    gtk_widget_set_margin_top(box, 8);
    gtk_widget_set_margin_bottom(box, 8);

    GtkWidget *selectors = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
    gtk_box_append(GTK_BOX(selectors), gtk_label_new("Layer"));
    win->layer_spin = gtk_spin_button_new_with_range(0, 5, 1);
    g_signal_connect(win->layer_spin, "value-changed", G_CALLBACK(on_layer_spin), win);
    gtk_box_append(GTK_BOX(selectors), win->layer_spin);
    gtk_box_append(GTK_BOX(selectors), gtk_label_new("Head"));
    const char *none[] = {"head 0", NULL};
    win->head_dropdown = gtk_drop_down_new_from_strings(none);
    g_signal_connect(win->head_dropdown, "notify::selected", G_CALLBACK(on_head_dropdown), win);
    gtk_box_append(GTK_BOX(selectors), win->head_dropdown);
    gtk_box_append(GTK_BOX(box), selectors);

    win->grid_label = section_label("Every layer and head");
    gtk_box_append(GTK_BOX(box), win->grid_label);
    GtkWidget *hint = gtk_label_new("Click one, or use the arrow keys. Last column: the mean.");
    gtk_label_set_xalign(GTK_LABEL(hint), 0);
    gtk_label_set_wrap(GTK_LABEL(hint), TRUE);
    gtk_widget_add_css_class(hint, "dim-label");
    gtk_box_append(GTK_BOX(box), hint);
    win->grid = ll_head_grid_new();
    g_signal_connect(win->grid, "selected", G_CALLBACK(on_grid_selected), win);
    gtk_box_append(GTK_BOX(box), win->grid);

    GtkWidget *toggles = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 8);
    win->role_check = gtk_check_button_new_with_label("role order");
    gtk_widget_set_tooltip_text(win->role_check,
                                "Re-index each problem's positions by role (ref, ref_val, x1, "
                                "...) before averaging, as in chapter 8");
    win->diff_check = gtk_check_button_new_with_label("differences");
    gtk_widget_set_tooltip_text(win->diff_check,
                                "Show bad - good and boosted - bad on a diverging scale");
    g_signal_connect(win->role_check, "toggled", G_CALLBACK(on_view_toggled), win);
    g_signal_connect(win->diff_check, "toggled", G_CALLBACK(on_view_toggled), win);
    gtk_box_append(GTK_BOX(toggles), win->role_check);
    gtk_box_append(GTK_BOX(toggles), win->diff_check);
    gtk_box_append(GTK_BOX(box), toggles);

    gtk_box_append(GTK_BOX(box), gtk_separator_new(GTK_ORIENTATION_HORIZONTAL));
    win->boost_controls = ll_boost_controls_new();
    g_signal_connect(win->boost_controls, "changed", G_CALLBACK(on_boost_changed), win);
    gtk_box_append(GTK_BOX(box), win->boost_controls);

    GtkWidget *scroller = gtk_scrolled_window_new();
    gtk_scrolled_window_set_policy(GTK_SCROLLED_WINDOW(scroller), GTK_POLICY_NEVER,
                                   GTK_POLICY_AUTOMATIC);
    gtk_scrolled_window_set_child(GTK_SCROLLED_WINDOW(scroller), box);
    gtk_widget_set_size_request(scroller, 370, -1);
    return scroller;
}

// The first time the averages page has a size, give the profile 40% of it.
static void on_paned_sized(GObject *object, GParamSpec *pspec, gpointer user_data)
{
    (void)pspec, (void)user_data;
    GtkPaned *paned = GTK_PANED(object);
    int max = 0;
    g_object_get(paned, "max-position", &max, NULL);
    if (max > 200 && !g_object_get_data(object, "sized")) {
        g_object_set_data(object, "sized", GINT_TO_POINTER(1));
        gtk_paned_set_position(paned, (int)(max * 0.6));
    }
}

static GtkWidget *build_pages(LlWindow *win)
{
    win->stack = gtk_stack_new();
    GtkWidget *averages = gtk_paned_new(GTK_ORIENTATION_VERTICAL);
    win->heatmaps = ll_heatmap_view_new();
    ll_heatmap_view_set_tooltip_func(LL_HEATMAP_VIEW(win->heatmaps), main_tooltip, win);
    ll_heatmap_view_set_empty_text(LL_HEATMAP_VIEW(win->heatmaps), "Loading ...");
    win->profile = ll_profile_view_new();
    gtk_paned_set_start_child(GTK_PANED(averages), win->heatmaps);
    gtk_paned_set_end_child(GTK_PANED(averages), win->profile);
    gtk_paned_set_resize_end_child(GTK_PANED(averages), FALSE);
    g_signal_connect(averages, "notify::max-position", G_CALLBACK(on_paned_sized), NULL);
    gtk_stack_add_titled(GTK_STACK(win->stack), averages, "averages", "Averages");
    win->browser = ll_example_browser_new();
    gtk_stack_add_titled(GTK_STACK(win->stack), win->browser, "examples", "Examples");

    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 0);
    GtkWidget *switcher = gtk_stack_switcher_new();
    gtk_stack_switcher_set_stack(GTK_STACK_SWITCHER(switcher), GTK_STACK(win->stack));
    gtk_widget_set_halign(switcher, GTK_ALIGN_CENTER);
    gtk_widget_set_margin_top(switcher, 4);
    gtk_widget_set_margin_bottom(switcher, 4);
    gtk_box_append(GTK_BOX(box), switcher);
    gtk_widget_set_vexpand(win->stack, TRUE);
    gtk_box_append(GTK_BOX(box), win->stack);
    win->status = gtk_label_new("");
    gtk_label_set_xalign(GTK_LABEL(win->status), 0);
    gtk_label_set_wrap(GTK_LABEL(win->status), TRUE);
    gtk_widget_set_margin_start(win->status, 8);
    gtk_widget_set_margin_end(win->status, 8);
    gtk_widget_set_margin_top(win->status, 4);
    gtk_widget_set_margin_bottom(win->status, 4);
    gtk_box_append(GTK_BOX(box), win->status);
    return box;
}

static void build_header(LlWindow *win)
{
    GtkWidget *header = gtk_header_bar_new();
    win->model_names = gtk_string_list_new(NULL);
    // The dropdown takes one reference, the window keeps its own.
    win->model_dropdown = gtk_drop_down_new(G_LIST_MODEL(g_object_ref(win->model_names)), NULL);
    gtk_widget_set_tooltip_text(win->model_dropdown, "Switch between the opened models");
    g_signal_connect(win->model_dropdown, "notify::selected", G_CALLBACK(on_model_selected), win);
    gtk_header_bar_pack_start(GTK_HEADER_BAR(header), win->model_dropdown);
    GtkWidget *open = gtk_button_new_with_mnemonic("_Open");
    gtk_widget_set_tooltip_text(open, "Open a checkpoint or a problem file (Ctrl+O)");
    gtk_actionable_set_action_name(GTK_ACTIONABLE(open), "win.open");
    gtk_header_bar_pack_start(GTK_HEADER_BAR(header), open);
    GtkWidget *export = gtk_button_new_with_mnemonic("_Export");
    gtk_widget_set_tooltip_text(export, "Export the current view as PNG, SVG or PDF (Ctrl+E)");
    gtk_actionable_set_action_name(GTK_ACTIONABLE(export), "win.export");
    gtk_header_bar_pack_end(GTK_HEADER_BAR(header), export);
    win->spinner = gtk_spinner_new();
    gtk_header_bar_pack_end(GTK_HEADER_BAR(header), win->spinner);
    gtk_window_set_titlebar(GTK_WINDOW(win), header);
}

static void add_shortcut(GtkShortcutController *controller, const char *trigger,
                         const char *action)
{
    gtk_shortcut_controller_add_shortcut(
        controller, gtk_shortcut_new(gtk_shortcut_trigger_parse_string(trigger),
                                     gtk_named_action_new(action)));
}

static void ll_window_dispose(GObject *object)
{
    LlWindow *win = LL_WINDOW(object);
    if (win->cancellable)
        g_cancellable_cancel(win->cancellable);
    G_OBJECT_CLASS(ll_window_parent_class)->dispose(object);
}

static void ll_window_finalize(GObject *object)
{
    LlWindow *win = LL_WINDOW(object);
    viewer_boost_free(win->shown);
    viewer_boost_free(win->spare);
    if (win->data)
        viewer_data_unref(win->data);
    g_ptr_array_unref(win->models);
    g_clear_object(&win->model_names);
    g_clear_object(&win->cancellable);
    g_free(win->last_error);
    G_OBJECT_CLASS(ll_window_parent_class)->finalize(object);
}

static void ll_window_class_init(LlWindowClass *klass)
{
    G_OBJECT_CLASS(klass)->dispose = ll_window_dispose;
    G_OBJECT_CLASS(klass)->finalize = ll_window_finalize;
}

static void ll_window_init(LlWindow *win)
{
    win->models = g_ptr_array_new_with_free_func(model_entry_free);
    win->current = G_MAXUINT;
    win->cancellable = g_cancellable_new();
    win->layer = 0;
    win->head = 0;
    build_header(win);

    GtkWidget *paned = gtk_paned_new(GTK_ORIENTATION_HORIZONTAL);
    gtk_paned_set_start_child(GTK_PANED(paned), build_sidebar(win));
    gtk_paned_set_resize_start_child(GTK_PANED(paned), FALSE);
    gtk_paned_set_shrink_start_child(GTK_PANED(paned), FALSE);
    gtk_paned_set_end_child(GTK_PANED(paned), build_pages(win));
    gtk_window_set_child(GTK_WINDOW(win), paned);
    gtk_window_set_default_size(GTK_WINDOW(win), 1500, 940);

    static const GActionEntry actions[] = {
        {"open", action_open, NULL, NULL, NULL, {0}},
        {"export", action_export, NULL, NULL, NULL, {0}},
    };
    g_action_map_add_action_entries(G_ACTION_MAP(win), actions, G_N_ELEMENTS(actions), win);
    GtkEventController *shortcuts = gtk_shortcut_controller_new();
    gtk_shortcut_controller_set_scope(GTK_SHORTCUT_CONTROLLER(shortcuts),
                                      GTK_SHORTCUT_SCOPE_GLOBAL);
    add_shortcut(GTK_SHORTCUT_CONTROLLER(shortcuts), "<Control>o", "win.open");
    add_shortcut(GTK_SHORTCUT_CONTROLLER(shortcuts), "<Control>e", "win.export");
    gtk_widget_add_controller(GTK_WIDGET(win), shortcuts);
    refresh_status(win);
}

LlWindow *ll_window_new(GtkApplication *app)
{
    return g_object_new(LL_TYPE_WINDOW, "application", app, NULL);
}
