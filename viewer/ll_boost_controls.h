// ll_boost_controls.h: the live boost: a slider for the amount (-4 to +8),
// toggles for the targets (the referenced values, the operator), which layers
// and heads it applies to, and the readouts (mean p_correct of good, bad and
// boosted; how many bad problems it fixed and good ones it broke). Emits
// "changed" whenever the boost it describes changes.
#ifndef LL_BOOST_CONTROLS_H
#define LL_BOOST_CONTROLS_H

#include <gtk/gtk.h>

#include "model.h"
#include "viewer_model.h"

G_BEGIN_DECLS

#define LL_TYPE_BOOST_CONTROLS (ll_boost_controls_get_type())
G_DECLARE_FINAL_TYPE(LlBoostControls, ll_boost_controls, LL, BOOST_CONTROLS, GtkBox)

#define BOOST_MIN (-4.0)
#define BOOST_MAX 8.0

GtkWidget *ll_boost_controls_new(void);
// The boost the controls describe, for the selected layer and head (head
// ALL_HEADS targets the whole layer).
void ll_boost_controls_get_boost(LlBoostControls *controls, int layer, int head, Boost *out);
void ll_boost_controls_set_amount(LlBoostControls *controls, double amount);
double ll_boost_controls_get_amount(LlBoostControls *controls);
void ll_boost_controls_set_scope(LlBoostControls *controls, BoostScope scope);
void ll_boost_controls_set_targets(LlBoostControls *controls, gboolean values, gboolean op);
// NULL shows "computing ..." (the readouts are stale).
void ll_boost_controls_show_readouts(LlBoostControls *controls, const ViewerReadouts *readouts);
const char *ll_boost_controls_get_readouts_text(LlBoostControls *controls);

G_END_DECLS

#endif
