// ll_profile_view.h: the row-18 profile as a widget: how much weight the
// [ANS] query gives each key position, one bar per series (good, bad,
// boosted), drawn by profile_chart_draw.
#ifndef LL_PROFILE_VIEW_H
#define LL_PROFILE_VIEW_H

#include <gtk/gtk.h>

#include "heatmap.h"

G_BEGIN_DECLS

#define LL_TYPE_PROFILE_VIEW (ll_profile_view_get_type())
G_DECLARE_FINAL_TYPE(LlProfileView, ll_profile_view, LL, PROFILE_VIEW, GtkWidget)

GtkWidget *ll_profile_view_new(void);
// Copies the chart; NULL clears it.
void ll_profile_view_set_chart(LlProfileView *view, const ProfileChart *chart);
const ProfileChart *ll_profile_view_get_chart(LlProfileView *view); // NULL when cleared
void ll_profile_view_draw_to(LlProfileView *view, cairo_t *cr, double width, double height);

G_END_DECLS

#endif
