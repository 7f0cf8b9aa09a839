// viewer_draw.c: see viewer_draw.h.
#include "viewer_draw.h"

#include <math.h>
#include <stdio.h>

#include "colormap.h"

#define T HEATMAP_T
#define GRID_GAP 3.0
#define GRID_PAD 4.0

void grid_layout(GridLayout *out, int rows, int cols, double width, double height)
{
    out->rows = rows;
    out->cols = cols;
    out->gap = GRID_GAP;
    out->font_size = 11.0;
    double left = 2.6 * out->font_size, top = 1.7 * out->font_size;
    double tw = (width - left - 2 * GRID_PAD - (cols - 1) * GRID_GAP) / cols;
    double th = (height - top - 2 * GRID_PAD - (rows - 1) * GRID_GAP) / rows;
    out->thumb = fmax(floor(fmin(tw, th)), 2.0);
    // Centre the thumbnails (with their label bands) in the box.
    double grid_w = cols * out->thumb + (cols - 1) * GRID_GAP;
    double grid_h = rows * out->thumb + (rows - 1) * GRID_GAP;
    out->origin_x = round(fmax(left + GRID_PAD, (width - grid_w + left) / 2));
    out->origin_y = round(fmax(top + GRID_PAD, (height - grid_h + top) / 2));
}

bool grid_cell_at(const GridLayout *l, double x, double y, int *row, int *col)
{
    double step = l->thumb + l->gap;
    double u = (x - l->origin_x) / step, v = (y - l->origin_y) / step;
    bool inside = u >= 0 && v >= 0 && u < l->cols && v < l->rows; // false for NaN
    // Within a step, the last `gap` units belong to no thumbnail.
    if (inside)
        inside = (u - floor(u)) * step < l->thumb && (v - floor(v)) * step < l->thumb;
    if (row)
        *row = inside ? (int)v : -1;
    if (col)
        *col = inside ? (int)u : -1;
    return inside;
}

void grid_cell_origin(const GridLayout *l, int row, int col, double *x, double *y)
{
    *x = l->origin_x + col * (l->thumb + l->gap);
    *y = l->origin_y + row * (l->thumb + l->gap);
}

void thumbnail_draw(cairo_t *cr, const float *values, HeatmapKind kind, double limit, double x,
                    double y, double side)
{
    double cell = side / T;
    cairo_save(cr);
    cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE); // no seams between cells
    for (int row = 0; row < T; row++) {
        for (int col = 0; col < T; col++) {
            double v = values[row * T + col];
            Rgb c;
            if (col > row || !isfinite(v))
                c = (Rgb){0.88, 0.88, 0.88};
            else if (kind == HEATMAP_PATTERN)
                c = colormap_viridis(v);
            else
                c = colormap_diverging(limit > 0 ? v / limit : 0.0);
            cairo_set_source_rgb(cr, c.r, c.g, c.b);
            // Cells snap to whole units so neighbours meet exactly.
            double x0 = round(x + col * cell), x1 = round(x + (col + 1) * cell);
            double y0 = round(y + row * cell), y1 = round(y + (row + 1) * cell);
            cairo_rectangle(cr, x0, y0, x1 - x0, y1 - y0);
            cairo_fill(cr);
        }
    }
    cairo_restore(cr);
}

static void centred_text(cairo_t *cr, const char *text, double cx, double baseline)
{
    cairo_text_extents_t e;
    cairo_text_extents(cr, text, &e);
    cairo_move_to(cr, cx - (e.width / 2 + e.x_bearing), baseline);
    cairo_show_text(cr, text);
}

void grid_draw(cairo_t *cr, const GridLayout *l, const float *thumbs, HeatmapKind kind,
               double limit, int selected_row, int selected_col, bool focused)
{
    cairo_save(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, l->font_size);
    cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
    char label[16];
    for (int col = 0; col < l->cols; col++) {
        double x, y;
        grid_cell_origin(l, 0, col, &x, &y);
        if (col == l->cols - 1)
            snprintf(label, sizeof label, "mean");
        else
            snprintf(label, sizeof label, "H%d", col);
        centred_text(cr, label, x + l->thumb / 2, y - 0.5 * l->font_size);
    }
    for (int row = 0; row < l->rows; row++) {
        double x, y;
        grid_cell_origin(l, row, 0, &x, &y);
        snprintf(label, sizeof label, "L%d", row);
        cairo_text_extents_t e;
        cairo_text_extents(cr, label, &e);
        cairo_move_to(cr, x - 0.5 * l->font_size - e.x_advance,
                      y + l->thumb / 2 + 0.35 * l->font_size);
        cairo_show_text(cr, label);
    }
    for (int row = 0; row < l->rows; row++) {
        for (int col = 0; col < l->cols; col++) {
            double x, y;
            grid_cell_origin(l, row, col, &x, &y);
            thumbnail_draw(cr, thumbs + ((size_t)row * l->cols + col) * T * T, kind, limit, x, y,
                           l->thumb);
        }
    }
    if (selected_row >= 0 && selected_col >= 0) {
        double x, y;
        grid_cell_origin(l, selected_row, selected_col, &x, &y);
        cairo_set_line_width(cr, 2.5);
        if (focused)
            cairo_set_source_rgb(cr, 0.90, 0.20, 0.10);
        else
            cairo_set_source_rgb(cr, 0.10, 0.10, 0.10);
        cairo_rectangle(cr, x - 1.5, y - 1.5, l->thumb + 3, l->thumb + 3);
        cairo_stroke(cr);
    }
    cairo_restore(cr);
}
