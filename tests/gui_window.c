// gui_window.c: the viewer's window on a display (Xvfb; suite gui).
//
// The fixture: a "tiny" model with sharp random attention (std 0.3, seed 2)
// and 2,000 test problems (seed 2026). On them it answers 9 of the 192
// squaring problems right, so both subsets are there, and a boost of +4
// changes which it gets right.
#include <math.h>
#include <string.h>

#include <gtk/gtk.h>

#include "checkpoint.h"
#include "compare.h"
#include "intervene.h"
#include "ll_boost_controls.h"
#include "ll_head_grid.h"
#include "ll_window.h"
#include "testutil.h"
#include "viewer_draw.h"
#include "viewer_model.h"

#define FIXTURE_SEED 2
#define FIXTURE_STD 0.3f
#define FIXTURE_PROBLEMS 2000
#define WAIT_SECONDS 120

static char *fixture_model, *fixture_data;

static void make_fixtures(void)
{
    fixture_model = test_tiny_checkpoint("fixture.safetensors", FIXTURE_SEED, FIXTURE_STD);
    fixture_data = test_problem_file("fixture.txt", FIXTURE_PROBLEMS, ORDER_FIXED, 2026);
}

static gboolean timed_out(gpointer user_data)
{
    *(gboolean *)user_data = TRUE;
    return G_SOURCE_REMOVE;
}

// Runs the main loop until the window has loaded and computed everything
// asked of it (the workers report back through the main loop).
static void wait_idle(LlWindow *win)
{
    gboolean expired = FALSE;
    guint timeout = g_timeout_add_seconds(WAIT_SECONDS, timed_out, &expired);
    while (!ll_window_is_idle(win) && !expired)
        g_main_context_iteration(NULL, TRUE);
    if (expired)
        g_test_fail_printf("the window was still busy after %d s", WAIT_SECONDS);
    else
        g_source_remove(timeout);
    // A few more turns so pending redraws and idle handlers run.
    for (int i = 0; i < 5; i++)
        g_main_context_iteration(NULL, FALSE);
}

static LlWindow *open_fixture_window(void)
{
    LlWindow *win = ll_window_new(NULL);
    gtk_window_set_default_size(GTK_WINDOW(win), 1280, 860);
    gtk_window_present(GTK_WINDOW(win));
    ll_window_open_model(win, fixture_model, fixture_data);
    wait_idle(win);
    return win;
}

static void close_window(LlWindow *win)
{
    gtk_window_destroy(GTK_WINDOW(win));
    for (int i = 0; i < 5; i++)
        g_main_context_iteration(NULL, FALSE);
}

static void test_opens_on_fixture(void)
{
    LlWindow *win = open_fixture_window();
    ViewerData *d = ll_window_get_data(win);
    g_assert_nonnull(d);
    g_assert_cmpstr(d->name, ==, "fixture");
    g_assert_cmpuint(d->test_count, ==, FIXTURE_PROBLEMS);
    g_assert_cmpuint(d->good.count, >, 0);
    g_assert_cmpuint(d->bad.count, >, 0);
    g_assert_true(gtk_widget_get_mapped(GTK_WIDGET(win)));
    // The default boost (+2, everywhere) has run and its readouts are shown.
    ViewerReadouts r;
    Boost boost;
    g_assert_true(ll_window_get_readouts(win, &boost, &r));
    g_assert_cmpfloat(boost.amount, ==, 2.0f);
    g_assert_nonnull(strstr(ll_window_get_readouts_text(win), "boosted"));
    g_assert_null(ll_window_get_last_error(win));
    close_window(win);
}

// What the library (chapter 9's intervene_run, full forward passes) says the
// boost does to the good and bad subsets.
static void library_readouts(const Boost *boost, Intervention *bad, Intervention *good)
{
    GPT model;
    GError *error = NULL;
    g_assert_true(checkpoint_load(fixture_model, &model, NULL, &error));
    ProblemSet set;
    g_assert_true(problem_set_read(fixture_data, &set, &error));
    g_assert_no_error(error);
    ProblemResult *results = g_new(ProblemResult, set.count);
    g_assert_true(evaluate_problems(results, &model, set.items, set.count, NULL, &error));
    Subset good_set, bad_set;
    split_squaring(&good_set, &bad_set, set.items, results, set.count);
    g_assert_true(intervene_run(bad, &model, set.items, bad_set.index, bad_set.count, boost,
                                results, NULL, &error));
    g_assert_true(intervene_run(good, &model, set.items, good_set.index, good_set.count, boost,
                                results, NULL, &error));
    g_assert_no_error(error);
    subset_free(&good_set);
    subset_free(&bad_set);
    g_free(results);
    problem_set_free(&set);
    gpt_free(&model);
}

static void check_readouts_match_library(LlWindow *win)
{
    Boost boost;
    ViewerReadouts r;
    g_assert_true(ll_window_get_readouts(win, &boost, &r));
    Intervention bad, good;
    library_readouts(&boost, &bad, &good);
    g_test_message("amount %g: boosted p %.6f (library %.6f), fixed %zu (%zu), broken %zu (%zu)",
                   boost.amount, r.boosted_p, bad.mean_p_after, r.fixed, bad.fixed, r.broken,
                   good.broken);
    // Counts exactly. Means: the cached path's probabilities agree with
    // gpt_forward's to float rounding (~1e-7 relative: sgemm blocks 2 rows per
    // problem differently from 20; tests/viewer_logic.c), so to 1e-6, far
    // below the 3 decimals shown; before the boost they are the same numbers.
    g_assert_cmpuint(r.n_bad, ==, bad.count);
    g_assert_cmpuint(r.n_good, ==, good.count);
    g_assert_cmpuint(r.fixed, ==, bad.fixed);
    g_assert_cmpuint(r.broken, ==, good.broken);
    g_assert_cmpfloat_with_epsilon(r.bad_p, bad.mean_p_before, 1e-12);
    g_assert_cmpfloat_with_epsilon(r.boosted_p, bad.mean_p_after, 1e-6);
    g_assert_cmpfloat_with_epsilon(r.good_p, good.mean_p_before, 1e-12);
    g_assert_cmpfloat_with_epsilon(r.good_boosted_p, good.mean_p_after, 1e-6);
    // And the label says so, in the C locale.
    char expect[G_ASCII_DTOSTR_BUF_SIZE];
    g_ascii_formatd(expect, sizeof expect, "%.3f", bad.mean_p_after);
    g_assert_nonnull(strstr(ll_window_get_readouts_text(win), expect));
    intervention_free(&bad);
    intervention_free(&good);
}

static void test_slider_readouts(void)
{
    LlWindow *win = open_fixture_window();
    Boost before;
    ViewerReadouts r0;
    g_assert_true(ll_window_get_readouts(win, &before, &r0));

    // One head: layer 1 head 0, and the boost applied to the selected head only.
    ll_window_select_head(win, 1, 0);
    ll_window_set_boost_scope(win, BOOST_SCOPE_HEAD);
    ll_window_set_boost_amount(win, 6.0);
    wait_idle(win);
    Boost boost;
    ViewerReadouts r1;
    g_assert_true(ll_window_get_readouts(win, &boost, &r1));
    g_assert_cmpfloat(boost.amount, ==, 6.0f);
    g_assert_true(boost.target[1][0]);
    g_assert_false(boost.target[0][0]);
    g_assert_false(boost.target[1][1]);
    g_assert_cmpfloat(r1.boosted_p, !=, r0.boosted_p);
    check_readouts_match_library(win);

    // The whole model, a negative amount, moved in several steps as a drag
    // would: only the last one's results may stay.
    ll_window_set_boost_scope(win, BOOST_SCOPE_ALL);
    for (double amount = 3.0; amount >= -3.0; amount -= 0.5) {
        ll_window_set_boost_amount(win, amount);
        g_main_context_iteration(NULL, FALSE);
    }
    wait_idle(win);
    g_assert_true(ll_window_get_readouts(win, &boost, &r1));
    g_assert_cmpfloat(boost.amount, ==, -3.0f);
    g_assert_true(boost.target[0][0] && boost.target[1][1]);
    check_readouts_match_library(win);
    close_window(win);
}

static int count_non_white(cairo_surface_t *image, int *distinct)
{
    int width = cairo_image_surface_get_width(image);
    int height = cairo_image_surface_get_height(image);
    int stride = cairo_image_surface_get_stride(image);
    const unsigned char *data = cairo_image_surface_get_data(image);
    int count = 0;
    GHashTable *colours = g_hash_table_new(NULL, NULL);
    for (int y = 0; y < height; y++) {
        const uint32_t *row = (const uint32_t *)(data + (size_t)y * stride);
        for (int x = 0; x < width; x++) {
            uint32_t pixel = row[x] & 0xffffff;
            count += pixel != 0xffffff;
            g_hash_table_add(colours, GUINT_TO_POINTER(pixel + 1));
        }
    }
    *distinct = (int)g_hash_table_size(colours);
    g_hash_table_unref(colours);
    return count;
}

static void test_export(void)
{
    LlWindow *win = open_fixture_window();
    char *png = test_path("view.png");
    GError *error = NULL;
    g_assert_true(ll_window_export(win, png, 1200, 800, &error));
    g_assert_no_error(error);
    cairo_surface_t *image = cairo_image_surface_create_from_png(png);
    g_assert_cmpint(cairo_surface_status(image), ==, CAIRO_STATUS_SUCCESS);
    g_assert_cmpint(cairo_image_surface_get_width(image), ==, 1200);
    g_assert_cmpint(cairo_image_surface_get_height(image), ==, 800);
    int distinct;
    int coloured = count_non_white(image, &distinct);
    g_test_message("export: %d non-white pixels, %d colours", coloured, distinct);
    // Three 20x20 heatmaps and a bar chart: a large share of the picture is
    // coloured, in many colours (a blank or one-colour image fails).
    g_assert_cmpint(coloured, >, 1200 * 800 / 10);
    g_assert_cmpint(distinct, >, 50);
    cairo_surface_destroy(image);

    // SVG and PDF by extension.
    const char *names[] = {"view.svg", "view.pdf"};
    const char *magic[] = {"<?xml", "%PDF"};
    for (int i = 0; i < 2; i++) {
        char *path = test_path(names[i]);
        g_assert_true(ll_window_export(win, path, 1200, 800, &error));
        g_assert_no_error(error);
        char *contents;
        gsize size;
        g_assert_true(g_file_get_contents(path, &contents, &size, NULL));
        g_assert_cmpuint(size, >, 1000);
        g_assert_true(g_str_has_prefix(contents, magic[i]));
        g_free(contents);
        g_free(path);
    }
    // Role order and differences: a diverging map, still far from blank.
    ll_window_set_view(win, 1, 1);
    wait_idle(win);
    g_assert_true(ll_window_export(win, png, 1200, 800, &error));
    g_assert_no_error(error);
    image = cairo_image_surface_create_from_png(png);
    coloured = count_non_white(image, &distinct);
    g_test_message("export of differences: %d non-white pixels, %d colours", coloured, distinct);
    g_assert_cmpint(coloured, >, 1200 * 800 / 20);
    g_assert_cmpint(distinct, >, 20);
    cairo_surface_destroy(image);
    g_free(png);
    close_window(win);
}

// A second model (shuffled definitions) in the switcher, and back.
static void test_switch_models(void)
{
    LlWindow *win = open_fixture_window();
    ViewerData *fixed = ll_window_get_data(win);
    GPT model;
    test_tiny_model(&model, 5, 0.3f);
    char *shuffled = test_path("shuffled.safetensors");
    GError *error = NULL;
    g_assert_true(checkpoint_save(shuffled, &model, ORDER_SHUFFLED, NULL, &error));
    g_assert_no_error(error);
    gpt_free(&model);
    char *data = test_problem_file("shuffled.txt", 1500, ORDER_SHUFFLED, 2026);

    ll_window_open_model(win, shuffled, data);
    wait_idle(win);
    ViewerData *d = ll_window_get_data(win);
    g_assert_nonnull(d);
    g_assert_cmpstr(d->name, ==, "shuffled");
    g_assert_cmpint(d->order, ==, ORDER_SHUFFLED);
    // Back to the first: it is kept, not loaded again.
    ll_window_open_model(win, fixture_model, fixture_data);
    wait_idle(win);
    g_assert_true(ll_window_get_data(win) == fixed);
    g_free(shuffled);
    g_free(data);
    close_window(win);
}

static void test_corrupt_checkpoint_keeps_model(void)
{
    LlWindow *win = open_fixture_window();
    ViewerData *before = ll_window_get_data(win);
    g_assert_nonnull(before);
    // The fixture cut in half: a data section shorter than its header says.
    char *contents;
    gsize size;
    g_assert_true(g_file_get_contents(fixture_model, &contents, &size, NULL));
    char *corrupt = test_path("corrupt.safetensors");
    g_assert_true(g_file_set_contents(corrupt, contents, (gssize)(size / 2), NULL));
    g_free(contents);

    ll_window_open_model(win, corrupt, fixture_data);
    wait_idle(win);
    const char *message = ll_window_get_last_error(win);
    g_assert_nonnull(message);
    g_test_message("error dialog: %s", message);
    g_assert_nonnull(strstr(message, "corrupt.safetensors"));
    // Still open, still on the old model, and still working.
    g_assert_true(gtk_widget_get_visible(GTK_WIDGET(win)));
    g_assert_true(ll_window_get_data(win) == before);
    ll_window_set_boost_amount(win, 1.0);
    wait_idle(win);
    Boost boost;
    ViewerReadouts r;
    g_assert_true(ll_window_get_readouts(win, &boost, &r));
    g_assert_cmpfloat(boost.amount, ==, 1.0f);

    // A bad problem file: the same.
    char *bad_data = test_write_file("bad.txt", "[START] a 5 b 3\n");
    ll_window_open_data(win, bad_data);
    wait_idle(win);
    g_assert_nonnull(strstr(ll_window_get_last_error(win), "bad.txt"));
    g_assert_true(ll_window_get_data(win) == before);
    g_free(bad_data);
    g_free(corrupt);
    close_window(win);
}

static void test_grid_and_selectors(void)
{
    LlWindow *win = open_fixture_window();
    int layer, head;
    ll_window_select_head(win, 1, 1);
    ll_window_get_head(win, &layer, &head);
    g_assert_cmpint(layer, ==, 1);
    g_assert_cmpint(head, ==, 1);
    // The grid's last column is the mean over heads.
    ll_window_select_head(win, 0, ALL_HEADS);
    ll_window_get_head(win, &layer, &head);
    g_assert_cmpint(layer, ==, 0);
    g_assert_cmpint(head, ==, ALL_HEADS);

    // A standalone grid: arrow-key moves stay inside and report the cell.
    GtkWidget *grid = ll_head_grid_new();
    GtkWidget *window = gtk_window_new();
    gtk_window_set_child(GTK_WINDOW(window), grid);
    gtk_window_set_default_size(GTK_WINDOW(window), 400, 300);
    gtk_window_present(GTK_WINDOW(window));
    ViewerData *d = ll_window_get_data(win);
    double limit;
    float *thumbs = viewer_grid_thumbs(d, false, false, &limit);
    ll_head_grid_set_data(LL_HEAD_GRID(grid), 2, 2, thumbs, HEATMAP_PATTERN, limit);
    g_free(thumbs);
    ll_head_grid_set_selected(LL_HEAD_GRID(grid), 0, 0);
    ll_head_grid_move(LL_HEAD_GRID(grid), 0, 1);
    ll_head_grid_move(LL_HEAD_GRID(grid), 0, 1);
    ll_head_grid_move(LL_HEAD_GRID(grid), 0, 1); // past the mean column: clamped
    ll_head_grid_move(LL_HEAD_GRID(grid), 1, 0);
    ll_head_grid_get_selected(LL_HEAD_GRID(grid), &layer, &head);
    g_assert_cmpint(layer, ==, 1);
    g_assert_cmpint(head, ==, 2);
    // A click's position maps to the thumbnail under it (once it has a size).
    gboolean expired = FALSE;
    guint timeout = g_timeout_add_seconds(WAIT_SECONDS, timed_out, &expired);
    while (gtk_widget_get_width(grid) == 0 && !expired)
        g_main_context_iteration(NULL, TRUE);
    if (!expired)
        g_source_remove(timeout);
    int width = gtk_widget_get_width(grid), height = gtk_widget_get_height(grid);
    g_assert_cmpint(width, >, 0);
    GridLayout l;
    grid_layout(&l, 2, 3, width, height);
    double x, y;
    grid_cell_origin(&l, 1, 2, &x, &y);
    g_assert_true(ll_head_grid_cell_at(LL_HEAD_GRID(grid), x + l.thumb / 2, y + l.thumb / 2,
                                       &layer, &head));
    g_assert_cmpint(layer, ==, 1);
    g_assert_cmpint(head, ==, 2);
    gtk_window_destroy(GTK_WINDOW(window));
    close_window(win);
}

static void test_example_browser(void)
{
    LlWindow *win = open_fixture_window();
    ll_window_show_page(win, "examples");
    ll_window_select_example(win, 0);
    wait_idle(win);
    char *png = test_path("example.png");
    GError *error = NULL;
    g_assert_true(ll_window_export(win, png, 900, 500, &error));
    g_assert_no_error(error);
    cairo_surface_t *image = cairo_image_surface_create_from_png(png);
    int distinct;
    g_assert_cmpint(count_non_white(image, &distinct), >, 900 * 500 / 10);
    cairo_surface_destroy(image);
    g_free(png);
    close_window(win);
}

static void test_screenshot(void)
{
    LlWindow *win = open_fixture_window();
    // Shown and laid out (on a busy machine the window manager may be slow).
    gboolean expired = FALSE;
    guint timeout = g_timeout_add_seconds(WAIT_SECONDS, timed_out, &expired);
    while (!(gtk_widget_get_mapped(GTK_WIDGET(win)) && gtk_widget_get_width(GTK_WIDGET(win)) > 0) &&
           !expired)
        g_main_context_iteration(NULL, TRUE);
    if (!expired)
        g_source_remove(timeout);
    // Then drawn: the screenshot says "would block" until the first frame.
    char *png = test_path("window.png");
    GError *error = NULL;
    expired = FALSE;
    timeout = g_timeout_add_seconds(WAIT_SECONDS, timed_out, &expired);
    gboolean saved;
    while (!(saved = ll_window_save_screenshot(win, png, &error)) && !expired &&
           g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
        g_clear_error(&error);
        g_main_context_iteration(NULL, TRUE);
    }
    if (!expired)
        g_source_remove(timeout);
    g_assert_no_error(error);
    g_assert_true(saved);
    cairo_surface_t *image = cairo_image_surface_create_from_png(png);
    g_assert_cmpint(cairo_surface_status(image), ==, CAIRO_STATUS_SUCCESS);
    g_assert_cmpint(cairo_image_surface_get_width(image), ==,
                    gtk_widget_get_width(GTK_WIDGET(win)));
    g_assert_cmpint(cairo_image_surface_get_height(image), ==,
                    gtk_widget_get_height(GTK_WIDGET(win)));
    int distinct;
    count_non_white(image, &distinct);
    g_assert_cmpint(distinct, >, 50);
    cairo_surface_destroy(image);
    g_free(png);
    close_window(win);
}

// The program itself, as docs/viewer.md runs it for the book's figure (this
// test runs under xvfb-run, so the child finds the same display).
static void test_screenshot_command(void)
{
    const char *exe = g_getenv("LOOPLENS_VIEWER_EXE");
    g_assert_nonnull(exe); // set by viewer/meson.build
    char *png = test_path("command.png");
    const char *argv[] = {exe, "--model", fixture_model, "--data", fixture_data, "--layer", "1",
                          "--head", "-1", "--screenshot", png, NULL};
    char *err = NULL;
    int status = 0;
    GError *error = NULL;
    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, &err,
                               &status, &error));
    g_assert_no_error(error);
    g_test_message("stderr: %s", err);
    g_assert_true(g_spawn_check_wait_status(status, NULL));
    cairo_surface_t *image = cairo_image_surface_create_from_png(png);
    g_assert_cmpint(cairo_surface_status(image), ==, CAIRO_STATUS_SUCCESS);
    g_assert_cmpint(cairo_image_surface_get_width(image), >=, 800);
    int distinct;
    count_non_white(image, &distinct);
    g_assert_cmpint(distinct, >, 50);
    cairo_surface_destroy(image);

    // A bad model: no picture, a one-line reason, exit status 1.
    const char *bad[] = {exe, "--model", fixture_data, "--screenshot", png, NULL};
    g_free(err);
    g_assert_true(g_spawn_sync(NULL, (char **)bad, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, &err,
                               &status, &error));
    g_assert_false(g_spawn_check_wait_status(status, NULL));
    g_assert_nonnull(strstr(err, "fixture.txt"));
    g_free(err);
    g_free(png);
}

int main(int argc, char **argv)
{
    gtk_test_init(&argc, &argv, NULL);
    make_fixtures();
    g_test_add_func("/gui/window/opens-on-fixture", test_opens_on_fixture);
    g_test_add_func("/gui/window/slider-readouts", test_slider_readouts);
    g_test_add_func("/gui/window/export", test_export);
    g_test_add_func("/gui/window/switch-models", test_switch_models);
    g_test_add_func("/gui/window/corrupt-checkpoint", test_corrupt_checkpoint_keeps_model);
    g_test_add_func("/gui/window/grid-and-selectors", test_grid_and_selectors);
    g_test_add_func("/gui/window/example-browser", test_example_browser);
    g_test_add_func("/gui/window/screenshot", test_screenshot);
    g_test_add_func("/gui/app/screenshot-command", test_screenshot_command);
    int status = g_test_run();
    g_free(fixture_model);
    g_free(fixture_data);
    return status;
}
