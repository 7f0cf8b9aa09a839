// heatmap.c: see heatmap.h.
//
// Layout first, drawing second: the layout functions measure the labels and
// decide every position; the draw functions only paint what the layout says,
// so the picture and the mouse hit-test always agree.
#include "heatmap.h"

#include <dlfcn.h>

#include <math.h>
#include <string.h>

#include <cairo-pdf.h>
#include <cairo-svg.h>

#include "colormap.h"
#include "util.h"

#define T HEATMAP_T

// ---------------------------------------------------------------------------
// Text: cairo's toy API with "sans-serif". Metrics hinting is switched off so a
// label measures the same on an image, in a PDF and in a widget.

static void text_setup(cairo_t *cr)
{
    cairo_font_options_t *options = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF);
    cairo_set_font_options(cr, options);
    cairo_font_options_destroy(options);
}

static void set_font(cairo_t *cr, double size, bool bold)
{
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

static double text_width(cairo_t *cr, const char *text)
{
    cairo_text_extents_t extents;
    cairo_text_extents(cr, text, &extents);
    return extents.x_advance;
}

typedef enum { ALIGN_LEFT, ALIGN_CENTRE, ALIGN_RIGHT } Align;

// Horizontal text with its baseline at y, anchored at x.
static void show_text(cairo_t *cr, const char *text, double x, double y, Align align)
{
    double w = text_width(cr, text);
    cairo_move_to(cr, x - (align == ALIGN_RIGHT ? w : align == ALIGN_CENTRE ? w / 2 : 0), y);
    cairo_show_text(cr, text);
}

// Text reading upwards, its baseline on the vertical line through x; anchored
// at y by its start (LEFT, the bottom end), centre or end (RIGHT, the top end).
static void show_text_up(cairo_t *cr, const char *text, double x, double y, Align align)
{
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_rotate(cr, -G_PI / 2);
    show_text(cr, text, 0, 0, align);
    cairo_restore(cr);
}

// Shrinks the current font so text fits in max_width (never grows it).
static void fit_font(cairo_t *cr, const char *text, double size, double max_width, bool bold)
{
    set_font(cr, size, bold);
    double w = text_width(cr, text);
    if (w > max_width && max_width > 0)
        set_font(cr, size * max_width / w, bold);
}

// A private 1x1 surface to measure text on when no cairo_t is at hand.
static cairo_t *measure_context_new(void)
{
    cairo_surface_t *surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1);
    cairo_t *cr = cairo_create(surface);
    cairo_surface_destroy(surface); // cr keeps it alive
    text_setup(cr);
    return cr;
}

static void set_colour(cairo_t *cr, Rgb c) { cairo_set_source_rgb(cr, c.r, c.g, c.b); }

static const Rgb ink = {0.10, 0.10, 0.10};      // text and frames
static const Rgb soft_ink = {0.35, 0.35, 0.35}; // captions and axis names
// No value (masked or not finite): a light grey with darker grey hatching.
// Neither map has neutral greys this dark, so it never reads as a value.
static const Rgb no_value_fill = {0.86, 0.86, 0.86};
static const Rgb no_value_hatch = {0.66, 0.66, 0.66};

// ---------------------------------------------------------------------------
// Labels

void heatmap_init(Heatmap *hm, HeatmapKind kind, const float *values)
{
    memset(hm, 0, sizeof *hm);
    hm->kind = kind;
    hm->mask_upper = true;
    if (values)
        memcpy(hm->values, values, sizeof hm->values);
    for (int i = 0; i < T; i++) {
        g_snprintf(hm->row_labels[i], HEATMAP_LABEL_MAX, "%d", i);
        g_snprintf(hm->col_labels[i], HEATMAP_LABEL_MAX, "%d", i);
    }
}

void heatmap_set_problem_labels(Heatmap *hm, const Problem *p)
{
    for (int i = 0; i < T; i++) {
        const char *token = vocab_string(p->tokens[i]);
        g_snprintf(hm->row_labels[i], HEATMAP_LABEL_MAX, "%d %s", i, token ? token : "?");
    }
    memcpy(hm->col_labels, hm->row_labels, sizeof hm->col_labels);
}

const char *heatmap_role_name(int position, DefinitionOrder order)
{
    static const char *const fixed_roles[T] = {
        "[START]", "a",    "a_val", "b",   "b_val", "c",    "c_val", "d",    "d_val", "[VARS]",
        "var1",    "var2", "[EQ]",  "ans", "=",     "var1", "op",    "var2", "[ANS]", "answer",
    };
    if (position < 0 || position >= T)
        return "?";
    // Shuffled: which variable sits where differs from problem to problem.
    if (order == ORDER_SHUFFLED && position >= 1 && position <= 8)
        return position % 2 == 1 ? "name" : "value";
    return fixed_roles[position];
}

void heatmap_set_role_labels(Heatmap *hm, DefinitionOrder order)
{
    for (int i = 0; i < T; i++)
        g_snprintf(hm->row_labels[i], HEATMAP_LABEL_MAX, "%d %s", i, heatmap_role_name(i, order));
    memcpy(hm->col_labels, hm->row_labels, sizeof hm->col_labels);
}

// ---------------------------------------------------------------------------
// Scale: the values the colours span.

static bool cell_has_value(const Heatmap *hm, int row, int col)
{
    return !(hm->mask_upper && col > row) && isfinite(hm->values[row * T + col]);
}

// The symmetric limit of a DIFFERENCE: the one given, or the largest |value|.
static double difference_limit(const Heatmap *hm)
{
    if (hm->limit > 0 && isfinite(hm->limit))
        return hm->limit;
    double limit = 0.0;
    for (int row = 0; row < T; row++)
        for (int col = 0; col < T; col++)
            if (cell_has_value(hm, row, col))
                limit = fmax(limit, fabs(hm->values[row * T + col]));
    return limit > 0 ? limit : 1.0; // all zero: any scale shows white
}

static void shared_scale(const Heatmap *panels, int n, double *lo, double *hi)
{
    if (panels[0].kind == HEATMAP_PATTERN) {
        *lo = 0.0;
        *hi = 1.0;
        return;
    }
    double limit = 0.0;
    for (int i = 0; i < n; i++)
        limit = fmax(limit, difference_limit(&panels[i]));
    *lo = -limit;
    *hi = limit;
}

static Rgb value_colour(HeatmapKind kind, double v, double lo, double hi)
{
    if (kind == HEATMAP_PATTERN)
        return colormap_viridis((v - lo) / (hi - lo));
    return colormap_diverging(v / hi); // lo = -hi
}

// Five ticks from lo to hi, "%.3g" in the C locale.
#define N_TICKS 5
static void tick_text(char buf[G_ASCII_DTOSTR_BUF_SIZE], double lo, double hi, int i)
{
    double v = lo + (hi - lo) * i / (N_TICKS - 1);
    if (fabs(v) < 1e-12 * (hi - lo))
        v = 0.0; // no "-1.39e-17" for the middle tick
    g_ascii_formatd(buf, G_ASCII_DTOSTR_BUF_SIZE, "%.3g", v);
}

static const char *colorbar_label(const Heatmap *hm)
{
    if (hm->colorbar_label[0])
        return hm->colorbar_label;
    return hm->kind == HEATMAP_PATTERN ? "attention weight" : "difference";
}

// ---------------------------------------------------------------------------
// Layout. All panels of a row share one geometry (font, label bands, cell),
// shifted sideways, so their grids line up; one heatmap is a row of one.

typedef struct {
    double fs;                       // label font size
    double row_label_w, col_label_h; // widest label, over all panels
    double tick_label_w;             // widest colour bar tick label
    bool has_title, has_caption, has_overall_title;
} Bands;

static void measure_bands(Bands *b, cairo_t *cr, const Heatmap *panels, int n,
                          const char *overall_title, double lo, double hi, double fs)
{
    memset(b, 0, sizeof *b);
    b->fs = fs;
    b->has_overall_title = overall_title && overall_title[0];
    set_font(cr, fs, false);
    for (int p = 0; p < n; p++) {
        for (int i = 0; i < T; i++) {
            b->row_label_w = fmax(b->row_label_w, text_width(cr, panels[p].row_labels[i]));
            b->col_label_h = fmax(b->col_label_h, text_width(cr, panels[p].col_labels[i]));
        }
        b->has_title |= panels[p].title[0] != '\0';
        b->has_caption |= panels[p].caption[0] != '\0';
    }
    char tick[G_ASCII_DTOSTR_BUF_SIZE];
    for (int i = 0; i < N_TICKS; i++) {
        tick_text(tick, lo, hi, i);
        b->tick_label_w = fmax(b->tick_label_w, text_width(cr, tick));
    }
}

// The fixed parts around a grid, in multiples of the font size or measured.
static double pad_of(const Bands *b) { return 0.6 * b->fs; }
static double gap_of(const Bands *b) { return 0.4 * b->fs; }
static double left_of(const Bands *b) // query axis name + labels
{
    return pad_of(b) + 1.4 * b->fs + b->row_label_w + gap_of(b);
}
static double right_of(const Bands *b) { return pad_of(b); }
static double top_of(const Bands *b)
{
    return pad_of(b) + (b->has_overall_title ? 1.3 * b->fs * 1.7 : 0) +
           (b->has_title ? 1.2 * b->fs * 1.45 : 0) + (b->has_caption ? 1.4 * b->fs : 0) + gap_of(b);
}
static double bottom_of(const Bands *b) // key labels + key axis name
{
    return gap_of(b) + b->col_label_h + gap_of(b) + 1.3 * b->fs + pad_of(b);
}
static double bar_width_of(const Bands *b) { return 1.2 * b->fs; }
static double bar_area_of(const Bands *b) // gap, bar, ticks, tick labels, bar label
{
    return 1.2 * b->fs + bar_width_of(b) + 0.35 * b->fs + 0.3 * b->fs + b->tick_label_w +
           0.5 * b->fs + 1.4 * b->fs + pad_of(b);
}

static double cell_for(const Bands *b, int n, double width, double height)
{
    double per_panel = left_of(b) + right_of(b);
    double cw = (width - n * per_panel - bar_area_of(b)) / (n * T);
    double ch = (height - top_of(b) - bottom_of(b)) / T;
    double cell = fmax(fmin(cw, ch), 0.5);
    // Whole pixels keep neighbouring cells from bleeding into each other.
    return cell >= 4 ? floor(cell) : cell;
}

static void row_layout(HeatmapRowLayout *out, const Heatmap *panels, int n_panels,
                       const char *overall_title, double x, double y, double width, double height)
{
    memset(out, 0, sizeof *out);
    out->n_panels = n_panels;
    out->x = x;
    out->y = y;
    out->width = width;
    out->height = height;
    shared_scale(panels, n_panels, &out->scale_min, &out->scale_max);

    // Start from a font size that suits the box, then shrink it until a label
    // fits in its cell (a label taller than its cell collides with the next).
    cairo_t *cr = measure_context_new();
    double fs = fmin(fmax(fmin(width / n_panels, height) / 46, 6), 13);
    Bands b;
    double cell = 0;
    for (int attempt = 0; attempt < 6; attempt++) {
        measure_bands(&b, cr, panels, n_panels, overall_title, out->scale_min, out->scale_max, fs);
        cell = cell_for(&b, n_panels, width, height);
        if (fs <= 0.9 * cell || fs <= 4)
            break;
        fs = fmax(4, fmin(0.9 * cell, fs * 0.85));
    }
    cairo_destroy(cr);

    // Centre the whole figure in the box.
    double grid = T * cell;
    double panel_w = left_of(&b) + grid + right_of(&b);
    double content_w = n_panels * panel_w + bar_area_of(&b);
    double content_h = top_of(&b) + grid + bottom_of(&b);
    double x0 = x + fmax(0, (width - content_w) / 2);
    double y0 = y + fmax(0, (height - content_h) / 2);
    double grid_y = round(y0 + top_of(&b));
    double band_y = y0 + pad_of(&b); // top of the text bands
    if (b.has_overall_title) {
        out->title_y = band_y + 1.3 * b.fs * 1.1;
        band_y += 1.3 * b.fs * 1.7;
    }
    double title_y = band_y + 1.2 * b.fs * 1.05;
    if (b.has_title)
        band_y += 1.2 * b.fs * 1.45;
    double caption_y = band_y + 1.0 * b.fs;

    for (int p = 0; p < n_panels; p++) {
        HeatmapLayout *l = &out->panels[p];
        l->x = x0 + p * panel_w;
        l->y = y;
        l->width = panel_w;
        l->height = height;
        l->font_size = b.fs;
        l->grid_x = round(l->x + left_of(&b));
        l->grid_y = grid_y;
        l->cell = cell;
        l->title_y = title_y;
        l->caption_y = caption_y;
        l->row_label_right = l->grid_x - gap_of(&b);
        l->col_label_top = grid_y + grid + gap_of(&b);
        l->axis_query_x = l->row_label_right - b.row_label_w - gap_of(&b) - 0.35 * b.fs;
        l->axis_key_y = l->col_label_top + b.col_label_h + gap_of(&b) + 1.0 * b.fs;
        l->has_colorbar = false;
        l->scale_min = out->scale_min;
        l->scale_max = out->scale_max;
    }
    const HeatmapLayout *last = &out->panels[n_panels - 1];
    out->bar_x = round(last->grid_x + grid + right_of(&b) + 1.2 * b.fs);
    out->bar_y = grid_y;
    out->bar_w = round(bar_width_of(&b));
    out->bar_h = grid;
}

void heatmap_row_layout(HeatmapRowLayout *out, const Heatmap *panels, int n_panels,
                        const char *title, double x, double y, double width, double height)
{
    memset(out, 0, sizeof *out); // a caller's mistake leaves an empty layout, not garbage
    g_return_if_fail(n_panels >= 1 && n_panels <= HEATMAP_ROW_MAX);
    for (int i = 1; i < n_panels; i++)
        g_return_if_fail(panels[i].kind == panels[0].kind);
    row_layout(out, panels, n_panels, title, x, y, width, height);
}

void heatmap_layout(HeatmapLayout *out, const Heatmap *hm, double x, double y, double width,
                    double height)
{
    HeatmapRowLayout row;
    row_layout(&row, hm, 1, NULL, x, y, width, height);
    *out = row.panels[0];
    out->x = x;
    out->width = width;
    out->has_colorbar = true;
    out->bar_x = row.bar_x;
    out->bar_y = row.bar_y;
    out->bar_w = row.bar_w;
    out->bar_h = row.bar_h;
}

bool heatmap_cell_at(const HeatmapLayout *layout, double x, double y, int *row, int *col)
{
    double u = (x - layout->grid_x) / layout->cell;
    double v = (y - layout->grid_y) / layout->cell;
    bool inside = u >= 0 && u < T && v >= 0 && v < T; // false for NaN too
    if (row)
        *row = inside ? (int)v : -1;
    if (col)
        *col = inside ? (int)u : -1;
    return inside;
}

void heatmap_cell_rect(const HeatmapLayout *layout, int row, int col, double *x, double *y,
                       double *side)
{
    *x = layout->grid_x + col * layout->cell;
    *y = layout->grid_y + row * layout->cell;
    *side = layout->cell;
}

bool heatmap_row_cell_at(const HeatmapRowLayout *layout, double x, double y, int *panel, int *row,
                         int *col)
{
    for (int p = 0; p < layout->n_panels; p++) {
        if (heatmap_cell_at(&layout->panels[p], x, y, row, col)) {
            if (panel)
                *panel = p;
            return true;
        }
    }
    if (panel)
        *panel = -1;
    return false;
}

// ---------------------------------------------------------------------------
// Drawing

static void paint_white(cairo_t *cr, double x, double y, double width, double height)
{
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_rectangle(cr, x, y, width, height);
    cairo_fill(cr);
}

// Cells without a value: one grey region, hatched with 45-degree lines.
static void draw_no_value_cells(cairo_t *cr, const Heatmap *hm, const HeatmapLayout *l)
{
    bool any = false;
    for (int row = 0; row < T; row++) {
        for (int col = 0; col < T; col++) {
            if (!cell_has_value(hm, row, col)) {
                cairo_rectangle(cr, l->grid_x + col * l->cell, l->grid_y + row * l->cell, l->cell,
                                l->cell);
                any = true;
            }
        }
    }
    if (!any)
        return;
    cairo_save(cr);
    set_colour(cr, no_value_fill);
    cairo_fill_preserve(cr);
    cairo_clip(cr);
    double grid = T * l->cell;
    double spacing = fmax(3.0, l->cell / 2.5);
    for (double d = spacing / 2; d < 2 * grid; d += spacing) {
        cairo_move_to(cr, l->grid_x + d, l->grid_y);
        cairo_line_to(cr, l->grid_x + d - grid, l->grid_y + grid);
    }
    cairo_set_line_width(cr, fmax(0.6, l->cell / 14));
    set_colour(cr, no_value_hatch);
    cairo_stroke(cr);
    cairo_restore(cr);
}

static void draw_cells(cairo_t *cr, const Heatmap *hm, const HeatmapLayout *l)
{
    for (int row = 0; row < T; row++) {
        for (int col = 0; col < T; col++) {
            if (!cell_has_value(hm, row, col))
                continue;
            double v = hm->values[row * T + col];
            set_colour(cr, value_colour(hm->kind, v, l->scale_min, l->scale_max));
            cairo_rectangle(cr, l->grid_x + col * l->cell, l->grid_y + row * l->cell, l->cell,
                            l->cell);
            cairo_fill(cr);
        }
    }
    draw_no_value_cells(cr, hm, l);
    cairo_set_line_width(cr, fmax(0.5, l->font_size / 14));
    set_colour(cr, ink);
    cairo_rectangle(cr, l->grid_x, l->grid_y, T * l->cell, T * l->cell);
    cairo_stroke(cr);
}

static void draw_labels(cairo_t *cr, const Heatmap *hm, const HeatmapLayout *l)
{
    double fs = l->font_size;
    double grid = T * l->cell;
    // The glyphs' middle sits about 0.36 em above the baseline.
    double middle = 0.36 * fs;
    set_font(cr, fs, false);
    set_colour(cr, ink);
    for (int i = 0; i < T; i++) {
        double centre = l->grid_y + (i + 0.5) * l->cell;
        show_text(cr, hm->row_labels[i], l->row_label_right, centre + middle, ALIGN_RIGHT);
    }
    for (int i = 0; i < T; i++) {
        double centre = l->grid_x + (i + 0.5) * l->cell;
        show_text_up(cr, hm->col_labels[i], centre + middle, l->col_label_top, ALIGN_RIGHT);
    }
    set_colour(cr, soft_ink);
    show_text_up(cr, "query", l->axis_query_x, l->grid_y + grid / 2, ALIGN_CENTRE);
    show_text(cr, "key", l->grid_x + grid / 2, l->axis_key_y, ALIGN_CENTRE);

    // Titles are centred over the grid, which need not be the box's middle.
    double title_x = l->grid_x + grid / 2;
    double title_room = 2 * fmin(title_x - l->x, l->x + l->width - title_x) - 1.2 * fs;
    if (hm->title[0]) {
        set_colour(cr, ink);
        fit_font(cr, hm->title, 1.2 * fs, title_room, true);
        show_text(cr, hm->title, title_x, l->title_y, ALIGN_CENTRE);
    }
    if (hm->caption[0]) {
        set_colour(cr, soft_ink);
        fit_font(cr, hm->caption, fs, title_room, false);
        show_text(cr, hm->caption, title_x, l->caption_y, ALIGN_CENTRE);
    }
}

// A vertical bar from lo (bottom) to hi (top) with five ticks and a label.
static void draw_colorbar(cairo_t *cr, HeatmapKind kind, const char *label, double lo, double hi,
                          double x, double y, double w, double h, double fs)
{
    // A gradient with many stops: piecewise linear like the maps themselves.
    enum { STOPS = 65 };
    cairo_pattern_t *gradient = cairo_pattern_create_linear(0, y + h, 0, y);
    for (int i = 0; i < STOPS; i++) {
        double f = (double)i / (STOPS - 1);
        Rgb c = value_colour(kind, lo + f * (hi - lo), lo, hi);
        cairo_pattern_add_color_stop_rgb(gradient, f, c.r, c.g, c.b);
    }
    cairo_set_source(cr, gradient);
    cairo_rectangle(cr, x, y, w, h);
    cairo_fill(cr);
    cairo_pattern_destroy(gradient);

    set_colour(cr, ink);
    cairo_set_line_width(cr, fmax(0.5, fs / 14));
    cairo_rectangle(cr, x, y, w, h);
    cairo_stroke(cr);
    set_font(cr, fs, false);
    char tick[G_ASCII_DTOSTR_BUF_SIZE];
    double label_x = x + w + 0.35 * fs + 0.3 * fs;
    double widest = 0;
    for (int i = 0; i < N_TICKS; i++) {
        double ty = y + h - h * i / (N_TICKS - 1);
        cairo_move_to(cr, x + w, ty);
        cairo_line_to(cr, x + w + 0.35 * fs, ty);
        cairo_stroke(cr);
        tick_text(tick, lo, hi, i);
        show_text(cr, tick, label_x, ty + 0.36 * fs, ALIGN_LEFT);
        widest = fmax(widest, text_width(cr, tick));
    }
    set_colour(cr, soft_ink);
    show_text_up(cr, label, label_x + widest + 0.5 * fs + 1.0 * fs, y + h / 2, ALIGN_CENTRE);
}

static void draw_panel(cairo_t *cr, const Heatmap *hm, const HeatmapLayout *l)
{
    draw_cells(cr, hm, l);
    draw_labels(cr, hm, l);
}

void heatmap_draw(cairo_t *cr, const Heatmap *hm, const HeatmapLayout *layout)
{
    cairo_save(cr);
    text_setup(cr);
    paint_white(cr, layout->x, layout->y, layout->width, layout->height);
    draw_panel(cr, hm, layout);
    if (layout->has_colorbar)
        draw_colorbar(cr, hm->kind, colorbar_label(hm), layout->scale_min, layout->scale_max,
                      layout->bar_x, layout->bar_y, layout->bar_w, layout->bar_h,
                      layout->font_size);
    cairo_restore(cr);
}

void heatmap_row_draw(cairo_t *cr, const Heatmap *panels, int n_panels, const char *title,
                      const HeatmapRowLayout *layout)
{
    g_return_if_fail(n_panels == layout->n_panels);
    cairo_save(cr);
    text_setup(cr);
    paint_white(cr, layout->x, layout->y, layout->width, layout->height);
    for (int p = 0; p < n_panels; p++)
        draw_panel(cr, &panels[p], &layout->panels[p]);
    double fs = layout->panels[0].font_size;
    draw_colorbar(cr, panels[0].kind, colorbar_label(&panels[0]), layout->scale_min,
                  layout->scale_max, layout->bar_x, layout->bar_y, layout->bar_w, layout->bar_h,
                  fs);
    if (title && title[0]) {
        set_colour(cr, ink);
        fit_font(cr, title, 1.3 * fs, layout->width - 1.2 * fs, true);
        show_text(cr, title, layout->x + layout->width / 2, layout->title_y, ALIGN_CENTRE);
    }
    cairo_restore(cr);
}

// ---------------------------------------------------------------------------
// Profile chart: one query row as grouped bars.

void profile_chart_init(ProfileChart *chart, int n_keys)
{
    memset(chart, 0, sizeof *chart);
    chart->n_keys = CLAMP(n_keys, 1, T);
    for (int i = 0; i < T; i++)
        g_snprintf(chart->key_labels[i], HEATMAP_LABEL_MAX, "%d", i);
}

int profile_chart_add_series(ProfileChart *chart, const char *name, const float *values)
{
    if (chart->n_series >= PROFILE_MAX_SERIES)
        return -1;
    int s = chart->n_series++;
    g_strlcpy(chart->series_names[s], name, HEATMAP_LABEL_MAX);
    memcpy(chart->values[s], values, chart->n_keys * sizeof(float));
    return s;
}

// Okabe and Ito's colour-blind-safe palette: bluish green, vermillion, blue,
// orange (good, bad, boosted, and one more).
static const Rgb series_colours[PROFILE_MAX_SERIES] = {
    {0x00 / 255.0, 0x9e / 255.0, 0x73 / 255.0},
    {0xd5 / 255.0, 0x5e / 255.0, 0x00 / 255.0},
    {0x00 / 255.0, 0x72 / 255.0, 0xb2 / 255.0},
    {0xe6 / 255.0, 0x9f / 255.0, 0x00 / 255.0},
};

Rgb profile_chart_series_colour(int s)
{
    return series_colours[CLAMP(s, 0, PROFILE_MAX_SERIES - 1)];
}

// A round tick step (1, 2, 2.5 or 5 times a power of ten) that cuts span
// into at most five intervals.
static double nice_step(double span)
{
    double rough = span / 5;
    double power = pow(10, floor(log10(rough)));
    static const double multiples[] = {1, 2, 2.5, 5, 10};
    for (int i = 0; i < 5; i++)
        if (multiples[i] * power >= rough * (1 - 1e-9))
            return multiples[i] * power;
    return 10 * power;
}

void profile_chart_draw(cairo_t *cr, const ProfileChart *chart, double x, double y, double width,
                        double height)
{
    cairo_save(cr);
    text_setup(cr);
    paint_white(cr, x, y, width, height);
    int n_keys = CLAMP(chart->n_keys, 1, T);
    int n_series = CLAMP(chart->n_series, 0, PROFILE_MAX_SERIES);

    // The value axis: from min(0, data) to the given top or the data's top.
    double lo = 0, hi = 0;
    for (int s = 0; s < n_series; s++) {
        for (int k = 0; k < n_keys; k++) {
            double v = chart->values[s][k];
            if (isfinite(v)) {
                lo = fmin(lo, v);
                hi = fmax(hi, v);
            }
        }
    }
    if (chart->y_max > 0)
        hi = chart->y_max;
    if (hi - lo <= 0)
        hi = lo + 1;
    double step = nice_step(hi - lo);
    lo = step * floor(lo / step + 1e-9);
    if (chart->y_max <= 0)
        hi = step * ceil(hi / step - 1e-9);

    // Bands around the plot, as for the heatmap.
    double fs = fmin(fmax(fmin(width, height) / 40, 6), 13);
    double pad = 0.6 * fs, gap = 0.4 * fs;
    set_font(cr, fs, false);
    double key_label_h = 0, tick_w = 0;
    for (int k = 0; k < n_keys; k++)
        key_label_h = fmax(key_label_h, text_width(cr, chart->key_labels[k]));
    char tick[G_ASCII_DTOSTR_BUF_SIZE];
    int n_ticks = (int)floor((hi - lo) / step + 1e-9) + 1;
    for (int i = 0; i < n_ticks; i++) {
        g_ascii_formatd(tick, sizeof tick, "%.3g", lo + i * step);
        tick_w = fmax(tick_w, text_width(cr, tick));
    }
    double top = y + pad + (chart->title[0] ? 1.2 * fs * 1.45 : 0) +
                 (chart->caption[0] ? 1.4 * fs : 0) + (n_series > 0 ? 1.6 * fs : 0) + gap;
    double plot_x = x + pad + 1.4 * fs + tick_w + gap + 0.35 * fs;
    double plot_w = fmax(1, x + width - pad - plot_x);
    double plot_bottom = y + height - (pad + 1.3 * fs + gap + key_label_h + gap);
    double plot_h = fmax(1, plot_bottom - top);
    double scale = plot_h / (hi - lo);
    double zero_y = plot_bottom + lo * scale;

    // Grid lines and value ticks.
    cairo_set_line_width(cr, fmax(0.5, fs / 14));
    for (int i = 0; i < n_ticks; i++) {
        double v = lo + i * step;
        double ty = plot_bottom - (v - lo) * scale;
        cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
        cairo_move_to(cr, plot_x, ty);
        cairo_line_to(cr, plot_x + plot_w, ty);
        cairo_stroke(cr);
        set_colour(cr, ink);
        g_ascii_formatd(tick, sizeof tick, "%.3g", fabs(v) < 1e-12 ? 0.0 : v);
        show_text(cr, tick, plot_x - 0.35 * fs - gap, ty + 0.36 * fs, ALIGN_RIGHT);
    }

    // The bars: one group per key, one bar per series, 80% of the group wide.
    double group = plot_w / n_keys;
    double bar = n_series > 0 ? 0.8 * group / n_series : 0;
    for (int s = 0; s < n_series; s++) {
        set_colour(cr, series_colours[s]);
        for (int k = 0; k < n_keys; k++) {
            double v = chart->values[s][k];
            if (!isfinite(v))
                continue;
            v = fmin(fmax(v, lo), hi);
            double bx = plot_x + k * group + 0.1 * group + s * bar;
            double by = plot_bottom - (v - lo) * scale;
            cairo_rectangle(cr, bx, fmin(by, zero_y), bar, fabs(zero_y - by));
        }
        cairo_fill(cr);
    }

    // Axes, key labels, axis names.
    set_colour(cr, ink);
    cairo_move_to(cr, plot_x, top);
    cairo_line_to(cr, plot_x, plot_bottom);
    cairo_move_to(cr, plot_x, zero_y);
    cairo_line_to(cr, plot_x + plot_w, zero_y);
    cairo_stroke(cr);
    set_font(cr, fs, false);
    for (int k = 0; k < n_keys; k++)
        show_text_up(cr, chart->key_labels[k], plot_x + (k + 0.5) * group + 0.36 * fs,
                     plot_bottom + gap, ALIGN_RIGHT);
    set_colour(cr, soft_ink);
    show_text(cr, "key", plot_x + plot_w / 2, y + height - pad - 0.3 * fs, ALIGN_CENTRE);
    show_text_up(cr, "attention weight", x + pad + 1.0 * fs, top + plot_h / 2, ALIGN_CENTRE);

    // Title, caption, then the legend as one centred line of swatches.
    double text_y = y + pad;
    if (chart->title[0]) {
        set_colour(cr, ink);
        fit_font(cr, chart->title, 1.2 * fs, width - 2 * pad, true);
        show_text(cr, chart->title, x + width / 2, text_y + 1.2 * fs * 1.05, ALIGN_CENTRE);
        text_y += 1.2 * fs * 1.45;
    }
    if (chart->caption[0]) {
        set_colour(cr, soft_ink);
        fit_font(cr, chart->caption, fs, width - 2 * pad, false);
        show_text(cr, chart->caption, x + width / 2, text_y + fs, ALIGN_CENTRE);
        text_y += 1.4 * fs;
    }
    set_font(cr, fs, false);
    double legend_w = 0;
    for (int s = 0; s < n_series; s++)
        legend_w += fs * 1.4 + text_width(cr, chart->series_names[s]) + fs * 1.2;
    double lx = x + (width - legend_w) / 2;
    for (int s = 0; s < n_series; s++) {
        set_colour(cr, series_colours[s]);
        cairo_rectangle(cr, lx, text_y + 0.35 * fs, fs, fs);
        cairo_fill(cr);
        set_colour(cr, ink);
        show_text(cr, chart->series_names[s], lx + 1.4 * fs, text_y + 1.2 * fs, ALIGN_LEFT);
        lx += fs * 1.4 + text_width(cr, chart->series_names[s]) + fs * 1.2;
    }
    cairo_restore(cr);
}

// ---------------------------------------------------------------------------
// Saving: PNG, SVG or PDF by extension, through an AtomicFile.

static cairo_status_t write_to_file(void *closure, const unsigned char *data, unsigned int length)
{
    FILE *fp = closure;
    return fwrite(data, 1, length, fp) == length ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

static cairo_status_t write_to_bytes(void *closure, const unsigned char *data, unsigned int length)
{
    g_byte_array_append(closure, data, length);
    return CAIRO_STATUS_SUCCESS;
}

// cairo 1.16 names an SVG's top group "surfaceN" after a counter shared by the
// whole process, so the second identical figure would differ from the first.
// Renumbering those names 1, 2, ... by first appearance makes the bytes
// depend on the picture alone.
static void write_svg_renumbered(FILE *fp, const GByteArray *svg)
{
    static const char word[] = "surface";
    const size_t word_len = sizeof word - 1;
    GArray *seen = g_array_new(FALSE, FALSE, sizeof(guint64)); // old numbers, in order
    const char *text = (const char *)svg->data;
    const char *end = text + svg->len;
    const char *done = text; // everything before this is written
    for (const char *p = text; p + word_len < end; p++) {
        if (memcmp(p, word, word_len) != 0 || !g_ascii_isdigit(p[word_len]))
            continue;
        const char *digit = p + word_len;
        guint64 number = 0;
        while (digit < end && g_ascii_isdigit(*digit) && number < G_MAXUINT64 / 10)
            number = number * 10 + (guint64)(*digit++ - '0');
        guint index = 0;
        while (index < seen->len && g_array_index(seen, guint64, index) != number)
            index++;
        if (index == seen->len)
            g_array_append_val(seen, number);
        fwrite(done, 1, (size_t)(p - done), fp);
        fprintf(fp, "%s%u", word, index + 1);
        done = digit;
        p = digit - 1;
    }
    fwrite(done, 1, (size_t)(end - done), fp);
    g_array_free(seen, TRUE);
}

typedef enum { FORMAT_NONE, FORMAT_PNG, FORMAT_SVG, FORMAT_PDF } ImageFormat;

static ImageFormat format_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/'))
        return FORMAT_NONE;
    if (g_ascii_strcasecmp(dot, ".png") == 0)
        return FORMAT_PNG;
    if (g_ascii_strcasecmp(dot, ".svg") == 0)
        return FORMAT_SVG;
    if (g_ascii_strcasecmp(dot, ".pdf") == 0)
        return FORMAT_PDF;
    return FORMAT_NONE;
}

#define FIGURE_MAX_SIDE 16384

bool figure_save(const char *path, double width, double height, FigureDrawFunc draw,
                 const void *data, GError **error)
{
    ImageFormat format = format_of(path);
    if (format == FORMAT_NONE) {
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID,
                    "%s: unknown image type: the name must end in .png, .svg or .pdf", path);
        return false;
    }
    if (!(width >= 1 && width <= FIGURE_MAX_SIDE && height >= 1 && height <= FIGURE_MAX_SIDE)) {
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID, "%s: image size %gx%g is outside 1..%d",
                    path, width, height, FIGURE_MAX_SIDE);
        return false;
    }
    AtomicFile out;
    if (!atomic_file_open(&out, path, error))
        return false;
    cairo_surface_t *surface;
    GByteArray *svg = NULL; // SVG is rewritten before it goes to the file
    if (format == FORMAT_PNG) {
        surface =
            cairo_image_surface_create(CAIRO_FORMAT_ARGB32, (int)ceil(width), (int)ceil(height));
    } else if (format == FORMAT_SVG) {
        svg = g_byte_array_new();
        surface = cairo_svg_surface_create_for_stream(write_to_bytes, svg, width, height);
    } else {
        surface = cairo_pdf_surface_create_for_stream(write_to_file, out.fp, width, height);
        // cairo stamps the current time into a PDF's CreationDate unless told
        // otherwise. An empty date is one it cannot parse, so it writes none,
        // and the same figure gives the same bytes.
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATE_DATE, "");
    }
    cairo_t *cr = cairo_create(surface);
    draw(cr, width, height, data);
    cairo_status_t status = cairo_status(cr);
    cairo_destroy(cr);
    if (format == FORMAT_PNG && status == CAIRO_STATUS_SUCCESS)
        status = cairo_surface_write_to_png_stream(surface, write_to_file, out.fp);
    cairo_surface_finish(surface); // SVG and PDF write their last bytes here
    if (status == CAIRO_STATUS_SUCCESS)
        status = cairo_surface_status(surface);
    cairo_surface_destroy(surface);
    if (svg) {
        if (status == CAIRO_STATUS_SUCCESS)
            write_svg_renumbered(out.fp, svg);
        g_byte_array_free(svg, TRUE);
    }
    if (status != CAIRO_STATUS_SUCCESS) {
        g_set_error(error, LL_ERROR, LL_ERROR_IO, "%s: cannot draw the image: %s", path,
                    cairo_status_to_string(status));
        atomic_file_abort(&out);
        return false;
    }
    return atomic_file_commit(&out, error);
}

static void draw_one_heatmap(cairo_t *cr, double width, double height, const void *data)
{
    HeatmapLayout layout;
    heatmap_layout(&layout, data, 0, 0, width, height);
    heatmap_draw(cr, data, &layout);
}

bool heatmap_save(const char *path, const Heatmap *hm, double width, double height, GError **error)
{
    return figure_save(path, width, height, draw_one_heatmap, hm, error);
}

typedef struct {
    const Heatmap *panels;
    int n_panels;
    const char *title;
} RowFigure;

static void draw_row_figure(cairo_t *cr, double width, double height, const void *data)
{
    const RowFigure *figure = data;
    HeatmapRowLayout layout;
    heatmap_row_layout(&layout, figure->panels, figure->n_panels, figure->title, 0, 0, width,
                       height);
    heatmap_row_draw(cr, figure->panels, figure->n_panels, figure->title, &layout);
}

bool heatmap_row_save(const char *path, const Heatmap *panels, int n_panels, const char *title,
                      double width, double height, GError **error)
{
    if (n_panels < 1 || n_panels > HEATMAP_ROW_MAX) {
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID, "%s: %d panels, expected 1..%d", path,
                    n_panels, HEATMAP_ROW_MAX);
        return false;
    }
    for (int i = 1; i < n_panels; i++) {
        if (panels[i].kind != panels[0].kind) {
            g_set_error(error, LL_ERROR, LL_ERROR_INVALID,
                        "%s: panel %d is of another kind than panel 0: one colour bar cannot "
                        "serve both",
                        path, i);
            return false;
        }
    }
    RowFigure figure = {panels, n_panels, title};
    return figure_save(path, width, height, draw_row_figure, &figure, error);
}

static void draw_profile_figure(cairo_t *cr, double width, double height, const void *data)
{
    profile_chart_draw(cr, data, 0, 0, width, height);
}

bool profile_chart_save(const char *path, const ProfileChart *chart, double width, double height,
                        GError **error)
{
    return figure_save(path, width, height, draw_profile_figure, chart, error);
}

// Drawing text loads fontconfig's and cairo's caches, which live until exit.
// Freeing them keeps a leak checker's report to our own leaks. fontconfig
// comes in through cairo, so FcFini is looked up rather than linked.
void heatmap_release_font_caches(void)
{
    cairo_debug_reset_static_data();
    void *program = dlopen(NULL, RTLD_LAZY);
    if (!program)
        return;
    void *symbol = dlsym(program, "FcFini");
    void (*fc_fini)(void) = NULL;
    memcpy(&fc_fini, &symbol, sizeof fc_fini); // object to function pointer, POSIX style
    if (fc_fini)
        fc_fini();
    dlclose(program);
}
