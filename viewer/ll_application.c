// ll_application.c: see ll_application.h.
#include "ll_application.h"

#include <stdio.h>

#include "ll_boost_controls.h"
#include "ll_window.h"

#ifndef LOOPLENS_ASSETS_DIR
#define LOOPLENS_ASSETS_DIR "assets"
#endif

struct _LlApplication {
    GtkApplication parent_instance;
    char **models;
    char *data, *screenshot, *page;
    int layer, head, example;
    double amount;
    gboolean role, difference;
    int exit_status;
};

G_DEFINE_TYPE(LlApplication, ll_application, GTK_TYPE_APPLICATION)

static const char *assets_dir(void)
{
    const char *dir = g_getenv("LOOPLENS_ASSETS");
    return dir && dir[0] ? dir : LOOPLENS_ASSETS_DIR;
}

// The view options (--layer, --head, --role, ...) apply once the first model
// has loaded. With --screenshot: then wait until the window is idle again
// (boost shown), let it draw, render it and quit.
typedef struct {
    LlApplication *app;
    LlWindow *win;
    gboolean configured;
    int frames;
} Startup;

static gboolean startup_tick(gpointer user_data)
{
    Startup *shot = user_data;
    LlApplication *app = shot->app;
    if (!ll_window_is_idle(shot->win))
        return G_SOURCE_CONTINUE;
    if (!ll_window_get_data(shot->win)) {
        // Nothing loaded: no model at all, or it failed (the window says why).
        if (app->screenshot) {
            const char *why = ll_window_get_last_error(shot->win);
            fprintf(stderr, "looplens-viewer: %s\n",
                    why ? why : "no model to show: train one, or pass --model CKPT");
            app->exit_status = 1;
            g_application_quit(G_APPLICATION(app));
        }
        g_free(shot);
        return G_SOURCE_REMOVE;
    }
    if (!shot->configured) {
        // Apply the view options once the model is there.
        shot->configured = TRUE;
        ll_window_set_view(shot->win, app->role ? 1 : -1, app->difference ? 1 : -1);
        ll_window_select_head(shot->win, app->layer, app->head);
        if (app->page)
            ll_window_show_page(shot->win, app->page);
        if (app->example >= 0)
            ll_window_select_example(shot->win, app->example);
        if (!app->screenshot) {
            g_free(shot);
            return G_SOURCE_REMOVE;
        }
        return G_SOURCE_CONTINUE;
    }
    // A few main-loop turns on screen, so every widget has drawn.
    if (!gtk_widget_get_mapped(GTK_WIDGET(shot->win)) || shot->frames++ < 3)
        return G_SOURCE_CONTINUE;
    GError *error = NULL;
    if (!ll_window_save_screenshot(shot->win, app->screenshot, &error)) {
        // Not drawn yet (a busy machine): try again, for up to a minute.
        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK) && shot->frames < 1200) {
            g_error_free(error);
            return G_SOURCE_CONTINUE;
        }
        fprintf(stderr, "looplens-viewer: %s\n", error->message);
        g_error_free(error);
        app->exit_status = 1;
    }
    g_application_quit(G_APPLICATION(app));
    g_free(shot);
    return G_SOURCE_REMOVE;
}

static void ll_application_activate(GApplication *application)
{
    LlApplication *app = LL_APPLICATION(application);
    GtkWindow *existing = gtk_application_get_active_window(GTK_APPLICATION(app));
    if (existing) {
        gtk_window_present(existing);
        return;
    }
    LlWindow *win = ll_window_new(GTK_APPLICATION(app));
    gtk_window_present(GTK_WINDOW(win));
    // The first model loads now, the others when chosen in the switcher.
    if (app->models && app->models[0]) {
        for (int i = 0; app->models[i]; i++) {
            if (i == 0)
                ll_window_open_model(win, app->models[i], app->data);
            else
                ll_window_add_model(win, app->models[i], NULL);
        }
    } else {
        // The shipped models; open only those that exist (a fresh clone before
        // training has none, and the window says how to open one).
        const char *names[] = {"fixed.safetensors", "shuffled.safetensors"};
        gboolean first = TRUE;
        for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
            char *path = g_build_filename(assets_dir(), names[i], NULL);
            if (g_file_test(path, G_FILE_TEST_EXISTS)) {
                if (first)
                    ll_window_open_model(win, path, app->data);
                else
                    ll_window_add_model(win, path, NULL);
                first = FALSE;
            }
            g_free(path);
        }
    }
    if (app->amount > BOOST_MIN - 1)
        ll_window_set_boost_amount(win, app->amount);
    Startup *startup = g_new0(Startup, 1);
    startup->app = app;
    startup->win = win;
    g_timeout_add(50, startup_tick, startup);
}

static int ll_application_handle_local_options(GApplication *application, GVariantDict *options)
{
    (void)options;
    LlApplication *app = LL_APPLICATION(application);
    if (app->amount > BOOST_MIN - 1 && (app->amount < BOOST_MIN || app->amount > BOOST_MAX)) {
        fprintf(stderr, "looplens-viewer: --amount must be in %g..%g\n", BOOST_MIN, BOOST_MAX);
        return 1;
    }
    if (app->page && g_strcmp0(app->page, "averages") && g_strcmp0(app->page, "examples")) {
        fprintf(stderr, "looplens-viewer: --page must be averages or examples\n");
        return 1;
    }
    return -1; // go on: activate
}

static void ll_application_finalize(GObject *object)
{
    LlApplication *app = LL_APPLICATION(object);
    g_strfreev(app->models);
    g_free(app->data);
    g_free(app->screenshot);
    g_free(app->page);
    G_OBJECT_CLASS(ll_application_parent_class)->finalize(object);
}

static void ll_application_class_init(LlApplicationClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = ll_application_finalize;
    G_APPLICATION_CLASS(klass)->activate = ll_application_activate;
    G_APPLICATION_CLASS(klass)->handle_local_options = ll_application_handle_local_options;
}

static void ll_application_init(LlApplication *app)
{
    app->layer = 0;
    app->head = 0;
    app->example = -1;
    app->amount = BOOST_MIN - 2; // "not given"
    const GOptionEntry entries[] = {
        {"model", 'm', 0, G_OPTION_ARG_FILENAME_ARRAY, &app->models,
         "A checkpoint to open (repeatable; default: the shipped models)", "CKPT"},
        {"data", 'd', 0, G_OPTION_ARG_FILENAME, &app->data,
         "The problems for the first model (default: out/<name>/test.txt, else the "
         "experiment's test set)",
         "FILE"},
        {"screenshot", 0, 0, G_OPTION_ARG_FILENAME, &app->screenshot,
         "Render the window into a PNG once loaded, then quit", "FILE.png"},
        {"layer", 0, 0, G_OPTION_ARG_INT, &app->layer, "The layer shown first (0)", "L"},
        {"head", 0, 0, G_OPTION_ARG_INT, &app->head,
         "The head shown first (0; -1 for the mean over heads)", "H"},
        {"amount", 0, 0, G_OPTION_ARG_DOUBLE, &app->amount, "The boost amount (2.0)", "X"},
        {"page", 0, 0, G_OPTION_ARG_STRING, &app->page, "The page shown first: averages or examples",
         "PAGE"},
        {"example", 0, 0, G_OPTION_ARG_INT, &app->example,
         "Select this row of the example list", "N"},
        {"role", 0, 0, G_OPTION_ARG_NONE, &app->role, "Start in role order", NULL},
        {"difference", 0, 0, G_OPTION_ARG_NONE, &app->difference, "Start showing differences",
         NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    g_application_add_main_option_entries(G_APPLICATION(app), entries);
    g_application_set_option_context_summary(
        G_APPLICATION(app), "Good, bad and boosted attention of a LoopLens model, side by side.");
}

LlApplication *ll_application_new(void)
{
    // NON_UNIQUE: every run is its own process (tests, screenshots, two
    // viewers side by side); no session bus needed.
    return g_object_new(LL_TYPE_APPLICATION, "application-id", LL_APPLICATION_ID, "flags",
                        G_APPLICATION_NON_UNIQUE, NULL);
}

int ll_application_get_exit_status(LlApplication *app)
{
    return app->exit_status;
}
