// ll_window.h: the viewer's main window.
//
//   header bar   model switcher, Open (Ctrl+O), Export (Ctrl+E)
//   left         layer and head selectors, the layer x head grid, the view
//                toggles (role order, differences), the boost controls and
//                their readouts
//   right        "Averages": good | bad | boosted and the row-18 profile;
//                "Examples": the squaring problems, one by one
//
// Loading a model and recomputing the boost both run in worker threads; the
// window stays responsive and drops results that a newer request overtook.
// The functions below are what the controls do, so the tests (tests/gui_*.c)
// can drive the window without synthesising input events.
#ifndef LL_WINDOW_H
#define LL_WINDOW_H

#include <gtk/gtk.h>

#include "viewer_model.h"

G_BEGIN_DECLS

#define LL_TYPE_WINDOW (ll_window_get_type())
G_DECLARE_FINAL_TYPE(LlWindow, ll_window, LL, WINDOW, GtkApplicationWindow)

// app may be NULL (tests).
LlWindow *ll_window_new(GtkApplication *app);
// Adds the model to the switcher (data_path NULL: out/<name>/test.txt if it
// exists, else the experiment's test set made in memory) and loads it. A model
// that fails to load gets an error dialog and the window keeps what it had.
void ll_window_open_model(LlWindow *win, const char *model_path, const char *data_path);
// Adds the model to the switcher without loading it (it loads when chosen).
void ll_window_add_model(LlWindow *win, const char *model_path, const char *data_path);
// Reloads the current model with another problem file.
void ll_window_open_data(LlWindow *win, const char *data_path);
// TRUE when nothing is loading or computing and the shown results are current.
gboolean ll_window_is_idle(LlWindow *win);
// The model shown (NULL before the first load).
ViewerData *ll_window_get_data(LlWindow *win);
// The message of the last error dialog (NULL if none yet).
const char *ll_window_get_last_error(LlWindow *win);

// What the controls do.
void ll_window_select_head(LlWindow *win, int layer, int head); // head ALL_HEADS: the mean
void ll_window_get_head(LlWindow *win, int *layer, int *head);
void ll_window_set_boost_amount(LlWindow *win, double amount);
void ll_window_set_boost_scope(LlWindow *win, int scope); // a BoostScope
// Role order and differences on (1) or off (0); -1 leaves one as it is.
void ll_window_set_view(LlWindow *win, int by_role, int difference);
void ll_window_show_page(LlWindow *win, const char *name); // "averages" or "examples"
void ll_window_select_example(LlWindow *win, int position);
// The boost the shown results are for, and their readouts (FALSE if none yet).
gboolean ll_window_get_readouts(LlWindow *win, Boost *boost, ViewerReadouts *out);
const char *ll_window_get_readouts_text(LlWindow *win);

// Writes the current view (the page shown) as PNG, SVG or PDF, by extension.
gboolean ll_window_export(LlWindow *win, const char *path, double width, double height,
                          GError **error);
// Renders the whole window as it is on screen into a PNG (atomically). Fails
// with G_IO_ERROR_WOULD_BLOCK while the window is not shown or not drawn yet:
// try again a few frames later.
gboolean ll_window_save_screenshot(LlWindow *win, const char *path, GError **error);

G_END_DECLS

#endif
