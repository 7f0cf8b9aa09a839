// ch08_heatmap.c: the pictures: colour maps, heatmap cells and mask, the
// hit-test, and PNG/SVG/PDF files that are the same bytes for the same input.
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "colormap.h"
#include "heatmap.h"
#include "testutil.h"
#include "util.h"

#define T HEATMAP_T

// Reading pixels back. cairo stores ARGB32 as native-endian 32-bit words; our
// images are opaque, so premultiplication changes nothing.
typedef struct {
    int r, g, b;
} Pixel;

static Pixel pixel_at(cairo_surface_t *surface, double x, double y)
{
    cairo_surface_flush(surface);
    const unsigned char *data = cairo_image_surface_get_data(surface);
    int stride = cairo_image_surface_get_stride(surface);
    int px = (int)floor(x), py = (int)floor(y);
    g_assert_cmpint(px, >=, 0);
    g_assert_cmpint(py, >=, 0);
    g_assert_cmpint(px, <, cairo_image_surface_get_width(surface));
    g_assert_cmpint(py, <, cairo_image_surface_get_height(surface));
    uint32_t word;
    memcpy(&word, data + (size_t)py * stride + 4 * px, 4);
    g_assert_cmphex(word >> 24, ==, 0xff); // opaque
    return (Pixel){(word >> 16) & 0xff, (word >> 8) & 0xff, word & 0xff};
}

// The largest per-channel distance between a pixel and a colour, in 1/255s.
static double distance(Pixel p, Rgb c)
{
    return fmax(fabs(p.r - 255 * c.r), fmax(fabs(p.g - 255 * c.g), fabs(p.b - 255 * c.b)));
}

// Values spread over [0, 1], every cell different.
static void spread_values(Heatmap *hm)
{
    for (int r = 0; r < T; r++)
        for (int c = 0; c < T; c++)
            hm->values[r * T + c] = (float)((r * T + c) % 37) / 36.0f;
}

// Renders into an image larger than the box, at an offset: a widget's cairo_t
// is rarely at the origin.
static cairo_surface_t *render(const Heatmap *hm, HeatmapLayout *layout)
{
    cairo_surface_t *surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 720, 700);
    cairo_t *cr = cairo_create(surface);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_paint(cr);
    heatmap_layout(layout, hm, 37, 23, 640, 640);
    heatmap_draw(cr, hm, layout);
    g_assert_cmpint(cairo_status(cr), ==, CAIRO_STATUS_SUCCESS);
    cairo_destroy(cr);
    return surface;
}

static void cell_centre(const HeatmapLayout *l, int row, int col, double *x, double *y)
{
    *x = l->grid_x + (col + 0.5) * l->cell;
    *y = l->grid_y + (row + 0.5) * l->cell;
}

// Tolerance 1/255 per channel: cairo turns a double colour into 8 bits with
// its own rounding, which may differ from ours by one step.
static void test_pattern_cell_colours(void)
{
    Heatmap hm;
    heatmap_init(&hm, HEATMAP_PATTERN, NULL);
    spread_values(&hm);
    HeatmapLayout layout;
    cairo_surface_t *surface = render(&hm, &layout);
    g_assert_cmpfloat(layout.cell, >=, 10); // big enough to have a clear centre
    g_assert_cmpfloat(layout.scale_min, ==, 0.0);
    g_assert_cmpfloat(layout.scale_max, ==, 1.0);
    for (int r = 0; r < T; r++) {
        for (int c = 0; c <= r; c++) {
            double x, y;
            cell_centre(&layout, r, c, &x, &y);
            Rgb want = colormap_viridis(hm.values[r * T + c]);
            double d = distance(pixel_at(surface, x, y), want);
            if (d > 1)
                g_test_message("cell (%d, %d): off by %g/255", r, c, d);
            g_assert_cmpfloat(d, <=, 1.0);
        }
    }
    cairo_surface_destroy(surface);
}

// The closest any colour of either map comes to the pixel, in 1/255s.
static double distance_to_maps(Pixel p)
{
    double best = 1e9;
    for (int i = 0; i <= 2000; i++) {
        best = fmin(best, distance(p, colormap_viridis(i / 2000.0)));
        best = fmin(best, distance(p, colormap_diverging(i / 1000.0 - 1)));
    }
    return best;
}

// A masked cell is grey hatching: at least 8/255 away from every colour
// either map can give, at its centre and across its middle.
static void test_masked_cells_are_not_values(void)
{
    Heatmap hm;
    heatmap_init(&hm, HEATMAP_PATTERN, NULL);
    spread_values(&hm);         // the masked cells hold numbers too: they must not show
    hm.values[5 * T + 2] = NAN; // and a cell without a value is drawn the same way
    HeatmapLayout layout;
    cairo_surface_t *surface = render(&hm, &layout);
    int checked = 0;
    for (int r = 0; r < T; r++) {
        for (int c = 0; c < T; c++) {
            if (c <= r && !(r == 5 && c == 2))
                continue;
            double x, y;
            cell_centre(&layout, r, c, &x, &y);
            for (int k = -2; k <= 2; k++) {
                Pixel p = pixel_at(surface, x + k * layout.cell / 6, y);
                g_assert_cmpint(p.r, ==, p.g); // neutral grey
                g_assert_cmpint(p.g, ==, p.b);
                g_assert_cmpfloat(distance_to_maps(p), >=, 8.0);
                checked++;
            }
        }
    }
    g_assert_cmpint(checked, ==, 5 * (T * (T - 1) / 2 + 1));
    cairo_surface_destroy(surface);
}

static void test_difference_cell_colours(void)
{
    Heatmap hm;
    heatmap_init(&hm, HEATMAP_DIFFERENCE, NULL);
    hm.values[10 * T + 3] = 0.25f;
    hm.values[11 * T + 4] = -0.5f;
    hm.values[12 * T + 5] = 0.75f; // beyond the limit: clamped to the end colour
    hm.limit = 0.5;
    HeatmapLayout layout;
    cairo_surface_t *surface = render(&hm, &layout);
    g_assert_cmpfloat(layout.scale_min, ==, -0.5);
    g_assert_cmpfloat(layout.scale_max, ==, 0.5);
    double x, y;
    cell_centre(&layout, 10, 3, &x, &y);
    g_assert_cmpfloat(distance(pixel_at(surface, x, y), colormap_diverging(0.5)), <=, 1.0);
    cell_centre(&layout, 11, 4, &x, &y);
    g_assert_cmpfloat(distance(pixel_at(surface, x, y), colormap_diverging(-1)), <=, 1.0);
    cell_centre(&layout, 12, 5, &x, &y);
    g_assert_cmpfloat(distance(pixel_at(surface, x, y), colormap_diverging(1)), <=, 1.0);
    cell_centre(&layout, 0, 0, &x, &y); // zero: the centre colour
    g_assert_cmpfloat(distance(pixel_at(surface, x, y), colormap_diverging(0)), <=, 1.0);
    cairo_surface_destroy(surface);

    // No limit given: the largest |value| is the limit.
    hm.limit = 0;
    heatmap_layout(&layout, &hm, 0, 0, 400, 400);
    g_assert_cmpfloat(layout.scale_max, ==, 0.75);
    g_assert_cmpfloat(layout.scale_min, ==, -0.75);
}

static void test_hit_testing(void)
{
    Heatmap hm;
    heatmap_init(&hm, HEATMAP_PATTERN, NULL);
    HeatmapLayout layout;
    heatmap_layout(&layout, &hm, 10, 20, 500, 450);
    int row, col;
    for (int r = 0; r < T; r++) {
        for (int c = 0; c < T; c++) {
            double x, y;
            cell_centre(&layout, r, c, &x, &y);
            g_assert_true(heatmap_cell_at(&layout, x, y, &row, &col));
            g_assert_cmpint(row, ==, r);
            g_assert_cmpint(col, ==, c);
            double rx, ry, side;
            heatmap_cell_rect(&layout, r, c, &rx, &ry, &side);
            g_assert_cmpfloat(fabs(rx + side / 2 - x), <, 1e-9);
            g_assert_cmpfloat(fabs(ry + side / 2 - y), <, 1e-9);
        }
    }
    double grid = T * layout.cell;
    const double outside[][2] = {
        {layout.grid_x - 1, layout.grid_y + 5},    // left of the grid (on the labels)
        {layout.grid_x + 5, layout.grid_y - 1},    // above it (the title)
        {layout.grid_x + grid, layout.grid_y + 5}, // the right edge belongs to nothing
        {layout.grid_x + 5, layout.grid_y + grid}, // nor the bottom edge
        {layout.bar_x + 1, layout.bar_y + 5},      // the colour bar
        {-1000, -1000},
        {NAN, NAN},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(outside); i++) {
        row = col = 7;
        g_assert_false(heatmap_cell_at(&layout, outside[i][0], outside[i][1], &row, &col));
        g_assert_cmpint(row, ==, -1);
        g_assert_cmpint(col, ==, -1);
    }

    // A row of three: each point finds its own panel.
    Heatmap panels[3];
    for (int p = 0; p < 3; p++)
        heatmap_init(&panels[p], HEATMAP_PATTERN, NULL);
    HeatmapRowLayout row_layout;
    heatmap_row_layout(&row_layout, panels, 3, "three", 0, 0, 1500, 560);
    for (int p = 0; p < 3; p++) {
        g_assert_cmpfloat(row_layout.panels[p].cell, ==, row_layout.panels[0].cell);
        g_assert_cmpfloat(row_layout.panels[p].grid_y, ==, row_layout.panels[0].grid_y);
        if (p > 0) // side by side, not overlapping
            g_assert_cmpfloat(row_layout.panels[p].grid_x, >=,
                              row_layout.panels[p - 1].grid_x + T * row_layout.panels[p].cell);
        double x, y;
        cell_centre(&row_layout.panels[p], 18, 4, &x, &y);
        int panel;
        g_assert_true(heatmap_row_cell_at(&row_layout, x, y, &panel, &row, &col));
        g_assert_cmpint(panel, ==, p);
        g_assert_cmpint(row, ==, 18);
        g_assert_cmpint(col, ==, 4);
    }
    int panel;
    g_assert_false(heatmap_row_cell_at(&row_layout, row_layout.bar_x + 1, row_layout.bar_y + 1,
                                       &panel, &row, &col));
    g_assert_cmpint(panel, ==, -1);
}

static char *read_file(const char *path, gsize *size)
{
    char *bytes;
    GError *error = NULL;
    g_assert_true(g_file_get_contents(path, &bytes, size, &error));
    g_assert_no_error(error);
    return bytes;
}

// Saves twice under different names; both must exist, start with the format's
// signature and be byte-for-byte the same.
typedef bool (*SaveFunc)(const char *path, const void *what, GError **error);

static void check_saved_twice(const char *stem, const char *ext, SaveFunc save, const void *what)
{
    static const struct {
        const char *ext, *signature;
    } signatures[] = {{"png", "\x89PNG\r\n\x1a\n"}, {"svg", "<?xml"}, {"pdf", "%PDF-"}};
    char *names[2];
    char *bytes[2];
    gsize sizes[2];
    for (int i = 0; i < 2; i++) {
        char *name = g_strdup_printf("%s-%d.%s", stem, i, ext);
        names[i] = test_path(name);
        g_free(name);
        GError *error = NULL;
        g_assert_true(save(names[i], what, &error));
        g_assert_no_error(error);
        bytes[i] = read_file(names[i], &sizes[i]);
        g_assert_cmpuint(sizes[i], >, 100);
    }
    for (size_t k = 0; k < G_N_ELEMENTS(signatures); k++)
        if (strcmp(signatures[k].ext, ext) == 0)
            g_assert_true(g_str_has_prefix(bytes[0], signatures[k].signature));
    if (strcmp(ext, "svg") == 0)
        g_assert_nonnull(g_strstr_len(bytes[0], sizes[0], "<svg"));
    if (strcmp(ext, "pdf") == 0) // no timestamps inside
        g_assert_null(g_strstr_len(bytes[0], sizes[0], "CreationDate"));
    g_test_message("%s.%s: %" G_GSIZE_FORMAT " bytes", stem, ext, sizes[0]);
    g_assert_cmpmem(bytes[0], sizes[0], bytes[1], sizes[1]);
    for (int i = 0; i < 2; i++) {
        g_free(bytes[i]);
        g_free(names[i]);
    }
}

static Heatmap *example_heatmap(void)
{
    static Heatmap hm;
    heatmap_init(&hm, HEATMAP_PATTERN, NULL);
    spread_values(&hm);
    heatmap_set_role_labels(&hm, ORDER_FIXED);
    g_strlcpy(hm.title, "test model, layer 0 head 3: bad", sizeof hm.title);
    g_strlcpy(hm.caption, "n = 57", sizeof hm.caption);
    return &hm;
}

static bool save_heatmap(const char *path, const void *hm, GError **error)
{
    return heatmap_save(path, hm, 480, 480, error);
}

static bool save_row(const char *path, const void *hm, GError **error)
{
    Heatmap panels[3];
    for (int p = 0; p < 3; p++)
        panels[p] = *(const Heatmap *)hm;
    return heatmap_row_save(path, panels, 3, "good | bad | boosted", 1200, 460, error);
}

static bool save_profile(const char *path, const void *hm, GError **error)
{
    ProfileChart chart;
    profile_chart_init(&chart, 19);
    for (int s = 0; s < 3; s++)
        profile_chart_add_series(&chart,
                                 s == 0   ? "good"
                                 : s == 1 ? "bad"
                                          : "boosted",
                                 &((const Heatmap *)hm)->values[(18 - s) * T]);
    g_strlcpy(chart.title, "row 18", sizeof chart.title);
    return profile_chart_save(path, &chart, 640, 360, error);
}

static void test_files(void)
{
    const Heatmap *hm = example_heatmap();
    const char *exts[] = {"png", "svg", "pdf"};
    for (int i = 0; i < 3; i++) {
        check_saved_twice("heatmap", exts[i], save_heatmap, hm);
        check_saved_twice("row", exts[i], save_row, hm);
        check_saved_twice("profile", exts[i], save_profile, hm);
    }
    // A PNG is width x height pixels.
    char *path = test_path("heatmap-0.png");
    cairo_surface_t *png = cairo_image_surface_create_from_png(path);
    g_assert_cmpint(cairo_surface_status(png), ==, CAIRO_STATUS_SUCCESS);
    g_assert_cmpint(cairo_image_surface_get_width(png), ==, 480);
    g_assert_cmpint(cairo_image_surface_get_height(png), ==, 480);
    cairo_surface_destroy(png);
    g_free(path);

    // Unknown type, silly size, mixed kinds: errors, and no file.
    GError *error = NULL;
    char *bad = test_path("heatmap.jpg");
    g_assert_false(heatmap_save(bad, hm, 480, 480, &error));
    g_assert_error(error, LL_ERROR, LL_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, ".png, .svg or .pdf"));
    g_clear_error(&error);
    g_assert_false(g_file_test(bad, G_FILE_TEST_EXISTS));
    char *tiny = test_path("tiny.png");
    g_assert_false(heatmap_save(tiny, hm, 0, 480, &error));
    g_assert_error(error, LL_ERROR, LL_ERROR_INVALID);
    g_clear_error(&error);
    Heatmap mixed[2] = {*hm, *hm};
    mixed[1].kind = HEATMAP_DIFFERENCE;
    g_assert_false(heatmap_row_save(tiny, mixed, 2, NULL, 800, 400, &error));
    g_assert_error(error, LL_ERROR, LL_ERROR_INVALID);
    g_clear_error(&error);
    g_assert_false(g_file_test(tiny, G_FILE_TEST_EXISTS));
    g_free(tiny);
    g_free(bad);

    // Nothing else in the folder: no temp files left behind.
    GDir *dir = g_dir_open(test_tmpdir(), 0, NULL);
    for (const char *name; (name = g_dir_read_name(dir));)
        g_assert_false(name[0] == '.');
    g_dir_close(dir);
}

// The profile chart draws each series in its colour.
static void test_profile_chart_colours(void)
{
    ProfileChart chart;
    profile_chart_init(&chart, 19);
    float ones[T], halves[T];
    for (int k = 0; k < T; k++) {
        ones[k] = 1.0f;
        halves[k] = 0.5f;
    }
    g_assert_cmpint(profile_chart_add_series(&chart, "good", ones), ==, 0);
    g_assert_cmpint(profile_chart_add_series(&chart, "bad", halves), ==, 1);
    cairo_surface_t *surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 640, 360);
    cairo_t *cr = cairo_create(surface);
    profile_chart_draw(cr, &chart, 0, 0, 640, 360);
    cairo_destroy(cr);
    int counts[2] = {0, 0};
    for (int y = 0; y < 360; y++) {
        for (int x = 0; x < 640; x++) {
            Pixel p = pixel_at(surface, x, y);
            for (int s = 0; s < 2; s++)
                counts[s] += distance(p, profile_chart_series_colour(s)) <= 1;
        }
    }
    // Series 0 is twice as tall as series 1, so it covers about twice the area.
    g_test_message("pixels: %d, %d", counts[0], counts[1]);
    g_assert_cmpint(counts[1], >, 19 * 20);
    g_assert_cmpfloat((double)counts[0] / counts[1], >, 1.6);
    g_assert_cmpfloat((double)counts[0] / counts[1], <, 2.4);
    cairo_surface_destroy(surface);
}

// CIE L* of an sRGB colour: how light it looks.
static double lightness(Rgb c)
{
    double lin[3], v[3] = {c.r, c.g, c.b};
    for (int i = 0; i < 3; i++)
        lin[i] = v[i] <= 0.04045 ? v[i] / 12.92 : pow((v[i] + 0.055) / 1.055, 2.4);
    double y = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
    double f = y > 216.0 / 24389 ? cbrt(y) : (24389.0 / 27 * y + 16) / 116;
    return 116 * f - 16;
}

static void test_colormaps(void)
{
    // Diverging: white-ish at 0 (every channel >= 0.95, no tint above 0.01).
    Rgb zero = colormap_diverging(0);
    g_assert_cmpfloat(fmin(zero.r, fmin(zero.g, zero.b)), >=, 0.95);
    g_assert_cmpfloat(fmax(zero.r, fmax(zero.g, zero.b)) - fmin(zero.r, fmin(zero.g, zero.b)), <=,
                      0.01);
    // Symmetric: t and -t look equally light (L* within 5: ColorBrewer's RdBu
    // halves differ by up to about 4), red above zero, blue below, and the
    // further from zero the darker.
    double previous = lightness(zero);
    for (int i = 1; i <= 20; i++) {
        double t = i / 20.0;
        Rgb up = colormap_diverging(t), down = colormap_diverging(-t);
        g_assert_cmpfloat(fabs(lightness(up) - lightness(down)), <=, 5.0);
        g_assert_cmpfloat(up.r, >, up.b);
        g_assert_cmpfloat(down.b, >, down.r);
        g_assert_cmpfloat(lightness(up), <, previous);
        previous = lightness(up);
    }
    // Clamped, and NaN is zero.
    Rgb a = colormap_diverging(7), b = colormap_diverging(1);
    g_assert_cmpmem(&a, sizeof a, &b, sizeof b);
    a = colormap_diverging(NAN);
    g_assert_cmpmem(&a, sizeof a, &zero, sizeof zero);

    // Viridis: the published ends and middle (matplotlib's table, entries 0,
    // 255 and the mean of 127 and 128) within 1/255, and lightness rising all
    // the way: dark is low, light is high.
    const Rgb published[3] = {{0.267004, 0.004874, 0.329415},
                              {0.128148, 0.565107, 0.550892},
                              {0.993248, 0.906157, 0.143936}};
    for (int i = 0; i < 3; i++) {
        Rgb got = colormap_viridis(i / 2.0);
        g_assert_cmpfloat(fabs(got.r - published[i].r), <=, 1 / 255.0);
        g_assert_cmpfloat(fabs(got.g - published[i].g), <=, 1 / 255.0);
        g_assert_cmpfloat(fabs(got.b - published[i].b), <=, 1 / 255.0);
    }
    previous = -1;
    for (int i = 0; i <= 100; i++) {
        double l = lightness(colormap_viridis(i / 100.0));
        g_assert_cmpfloat(l, >, previous);
        previous = l;
    }
    a = colormap_viridis(-3);
    b = colormap_viridis(0);
    g_assert_cmpmem(&a, sizeof a, &b, sizeof b);
    a = colormap_viridis(3);
    b = colormap_viridis(1);
    g_assert_cmpmem(&a, sizeof a, &b, sizeof b);
}

static void test_labels(void)
{
    Heatmap hm;
    heatmap_init(&hm, HEATMAP_PATTERN, NULL);
    g_assert_cmpstr(hm.row_labels[7], ==, "7");
    Problem p;
    char why[128];
    g_assert_true(problem_parse("[START] a 5 b 3 c 7 d 2 [VARS] a c [EQ] ans = a * c [ANS] 35", &p,
                                why, sizeof why));
    heatmap_set_problem_labels(&hm, &p);
    g_assert_cmpstr(hm.row_labels[2], ==, "2 5");
    g_assert_cmpstr(hm.col_labels[16], ==, "16 *");
    g_assert_cmpstr(hm.col_labels[19], ==, "19 35");
    heatmap_set_role_labels(&hm, ORDER_FIXED);
    g_assert_cmpstr(hm.row_labels[2], ==, "2 a_val");
    g_assert_cmpstr(hm.col_labels[16], ==, "16 op");
    g_assert_cmpstr(hm.col_labels[18], ==, "18 [ANS]");
    heatmap_set_role_labels(&hm, ORDER_SHUFFLED);
    g_assert_cmpstr(hm.row_labels[3], ==, "3 name");
    g_assert_cmpstr(hm.row_labels[4], ==, "4 value");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ch08/colormaps", test_colormaps);
    g_test_add_func("/ch08/labels", test_labels);
    g_test_add_func("/ch08/pattern-cell-colours", test_pattern_cell_colours);
    g_test_add_func("/ch08/masked-cells-are-not-values", test_masked_cells_are_not_values);
    g_test_add_func("/ch08/difference-cell-colours", test_difference_cell_colours);
    g_test_add_func("/ch08/hit-testing", test_hit_testing);
    g_test_add_func("/ch08/files", test_files);
    g_test_add_func("/ch08/profile-chart-colours", test_profile_chart_colours);
    int status = g_test_run();
    test_release_font_caches();
    return status;
}
