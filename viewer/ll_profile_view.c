// ll_profile_view.c: see ll_profile_view.h.
#include "ll_profile_view.h"

struct _LlProfileView {
    GtkWidget parent_instance;
    ProfileChart chart;
    gboolean has_chart;
};

G_DEFINE_TYPE(LlProfileView, ll_profile_view, GTK_TYPE_WIDGET)

void ll_profile_view_draw_to(LlProfileView *view, cairo_t *cr, double width, double height)
{
    if (view->has_chart) {
        profile_chart_draw(cr, &view->chart, 0, 0, width, height);
    } else {
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_paint(cr);
    }
}

static void ll_profile_view_snapshot(GtkWidget *widget, GtkSnapshot *snapshot)
{
    int width = gtk_widget_get_width(widget), height = gtk_widget_get_height(widget);
    if (width <= 0 || height <= 0)
        return;
    cairo_t *cr = gtk_snapshot_append_cairo(snapshot, &GRAPHENE_RECT_INIT(0, 0, width, height));
    ll_profile_view_draw_to(LL_PROFILE_VIEW(widget), cr, width, height);
    cairo_destroy(cr);
}

static void ll_profile_view_measure(GtkWidget *widget, GtkOrientation orientation, int for_size,
                                    int *minimum, int *natural, int *minimum_baseline,
                                    int *natural_baseline)
{
    (void)widget, (void)for_size;
    *minimum = orientation == GTK_ORIENTATION_HORIZONTAL ? 240 : 140;
    *natural = orientation == GTK_ORIENTATION_HORIZONTAL ? 900 : 240;
    *minimum_baseline = *natural_baseline = -1;
}

static void ll_profile_view_class_init(LlProfileViewClass *klass)
{
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
    widget_class->snapshot = ll_profile_view_snapshot;
    widget_class->measure = ll_profile_view_measure;
}

static void ll_profile_view_init(LlProfileView *view)
{
    gtk_widget_set_hexpand(GTK_WIDGET(view), TRUE);
}

GtkWidget *ll_profile_view_new(void)
{
    return g_object_new(LL_TYPE_PROFILE_VIEW, NULL);
}

void ll_profile_view_set_chart(LlProfileView *view, const ProfileChart *chart)
{
    view->has_chart = chart != NULL;
    if (chart)
        view->chart = *chart;
    gtk_widget_queue_draw(GTK_WIDGET(view));
}

const ProfileChart *ll_profile_view_get_chart(LlProfileView *view)
{
    return view->has_chart ? &view->chart : NULL;
}
