// ll_example_browser.h: the squaring problems of the test set, one row each:
// the problem, its answer, the prediction and p_correct before and after the
// boost, the kind of failure. Columns sort by a click on their header.
// Selecting a row shows that problem's own heatmaps (with its tokens as
// labels) and its top 5 answers before and after the boost.
#ifndef LL_EXAMPLE_BROWSER_H
#define LL_EXAMPLE_BROWSER_H

#include <gtk/gtk.h>

#include "viewer_model.h"

G_BEGIN_DECLS

#define LL_TYPE_EXAMPLE_BROWSER (ll_example_browser_get_type())
G_DECLARE_FINAL_TYPE(LlExampleBrowser, ll_example_browser, LL, EXAMPLE_BROWSER, GtkBox)

GtkWidget *ll_example_browser_new(void);
// A new model: refills the list (data may be NULL: empty).
void ll_example_browser_set_data(LlExampleBrowser *browser, ViewerData *data);
// New boost results: the "after" columns and the selected example's panels.
void ll_example_browser_set_boost(LlExampleBrowser *browser, const ViewerBoost *vb);
// The layer and head the example's heatmaps show (head ALL_HEADS: the mean).
void ll_example_browser_set_head(LlExampleBrowser *browser, int layer, int head);
// Selects row `position` of the list as shown (sorted); -1 for none.
void ll_example_browser_select(LlExampleBrowser *browser, int position);
// The selected example (index into data->squaring), or -1.
int ll_example_browser_get_selected(LlExampleBrowser *browser);
GtkWidget *ll_example_browser_get_heatmaps(LlExampleBrowser *browser); // an LlHeatmapView

G_END_DECLS

#endif
