// ll_boost_controls.c: see ll_boost_controls.h.
#include "ll_boost_controls.h"

#include <string.h>

struct _LlBoostControls {
    GtkBox parent_instance;
    GtkWidget *scale, *values, *op, *scope, *readouts;
};

G_DEFINE_TYPE(LlBoostControls, ll_boost_controls, GTK_TYPE_BOX)

enum { SIGNAL_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void emit_changed(LlBoostControls *controls)
{
    g_signal_emit(controls, signals[SIGNAL_CHANGED], 0);
}

static void on_value_changed(GtkRange *range, gpointer user_data)
{
    (void)range;
    emit_changed(user_data);
}

static void on_toggled(GtkCheckButton *button, gpointer user_data)
{
    (void)button;
    emit_changed(user_data);
}

static void on_scope(GObject *object, GParamSpec *pspec, gpointer user_data)
{
    (void)object, (void)pspec;
    emit_changed(user_data);
}

static char *format_amount(GtkScale *scale, double value, gpointer user_data)
{
    (void)scale, (void)user_data;
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    return g_strdup(g_ascii_formatd(buf, sizeof buf, "%+.2f", value));
}

static GtkWidget *heading(const char *text)
{
    GtkWidget *label = gtk_label_new(text);
    gtk_widget_add_css_class(label, "heading");
    gtk_label_set_xalign(GTK_LABEL(label), 0);
    return label;
}

static void ll_boost_controls_class_init(LlBoostControlsClass *klass)
{
    signals[SIGNAL_CHANGED] = g_signal_new("changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST,
                                           0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void ll_boost_controls_init(LlBoostControls *controls)
{
    GtkBox *box = GTK_BOX(controls);
    gtk_orientable_set_orientation(GTK_ORIENTABLE(box), GTK_ORIENTATION_VERTICAL);
    gtk_box_set_spacing(box, 4);

    gtk_box_append(box, heading("Boost row 18 ([ANS])"));
    controls->scale = gtk_scale_new_with_range(GTK_ORIENTATION_HORIZONTAL, BOOST_MIN, BOOST_MAX,
                                               0.25);
    GtkScale *scale = GTK_SCALE(controls->scale);
    gtk_scale_set_draw_value(scale, TRUE);
    gtk_scale_set_value_pos(scale, GTK_POS_RIGHT);
    gtk_scale_set_format_value_func(scale, format_amount, NULL, NULL);
    for (int mark = (int)BOOST_MIN; mark <= (int)BOOST_MAX; mark += 2)
        gtk_scale_add_mark(scale, mark, GTK_POS_BOTTOM, mark == 0 ? "0" : NULL);
    gtk_range_set_value(GTK_RANGE(scale), 2.0);
    gtk_widget_set_tooltip_text(controls->scale,
                                "Added to row 18's raw scores at the targeted keys, before the "
                                "softmax. Drag: the boosted panel and readouts follow live.");
    g_signal_connect(scale, "value-changed", G_CALLBACK(on_value_changed), controls);
    gtk_box_append(box, controls->scale);

    controls->values = gtk_check_button_new_with_label("referenced values");
    controls->op = gtk_check_button_new_with_label("operator (16)");
    gtk_check_button_set_active(GTK_CHECK_BUTTON(controls->values), TRUE);
    gtk_check_button_set_active(GTK_CHECK_BUTTON(controls->op), TRUE);
    gtk_widget_set_tooltip_text(controls->values,
                                "Boost the value positions whose name is var1 or var2");
    gtk_widget_set_tooltip_text(controls->op, "Boost the operator's position, 16");
    g_signal_connect(controls->values, "toggled", G_CALLBACK(on_toggled), controls);
    g_signal_connect(controls->op, "toggled", G_CALLBACK(on_toggled), controls);
    GtkWidget *targets = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
    gtk_box_append(GTK_BOX(targets), controls->values);
    gtk_box_append(GTK_BOX(targets), controls->op);
    gtk_box_append(box, targets);

    const char *scopes[] = {"every layer and head", "the selected layer", "the selected head",
                            NULL};
    controls->scope = gtk_drop_down_new_from_strings(scopes);
    gtk_widget_set_tooltip_text(controls->scope, "Which layers and heads get the boost");
    g_signal_connect(controls->scope, "notify::selected", G_CALLBACK(on_scope), controls);
    GtkWidget *scope_row = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
    gtk_box_append(GTK_BOX(scope_row), gtk_label_new("apply to"));
    gtk_box_append(GTK_BOX(scope_row), controls->scope);
    gtk_box_append(box, scope_row);

    gtk_box_append(box, heading("Readouts"));
    controls->readouts = gtk_label_new("");
    gtk_label_set_xalign(GTK_LABEL(controls->readouts), 0);
    gtk_widget_add_css_class(controls->readouts, "monospace");
    gtk_label_set_selectable(GTK_LABEL(controls->readouts), TRUE);
    gtk_box_append(box, controls->readouts);
}

GtkWidget *ll_boost_controls_new(void)
{
    return g_object_new(LL_TYPE_BOOST_CONTROLS, NULL);
}

void ll_boost_controls_get_boost(LlBoostControls *controls, int layer, int head, Boost *out)
{
    viewer_boost_settings(out, gtk_range_get_value(GTK_RANGE(controls->scale)),
                        gtk_check_button_get_active(GTK_CHECK_BUTTON(controls->values)),
                        gtk_check_button_get_active(GTK_CHECK_BUTTON(controls->op)),
                        (BoostScope)gtk_drop_down_get_selected(GTK_DROP_DOWN(controls->scope)),
                        layer, head);
}

void ll_boost_controls_set_amount(LlBoostControls *controls, double amount)
{
    gtk_range_set_value(GTK_RANGE(controls->scale), amount);
}

double ll_boost_controls_get_amount(LlBoostControls *controls)
{
    return gtk_range_get_value(GTK_RANGE(controls->scale));
}

void ll_boost_controls_set_scope(LlBoostControls *controls, BoostScope scope)
{
    gtk_drop_down_set_selected(GTK_DROP_DOWN(controls->scope), scope);
}

void ll_boost_controls_set_targets(LlBoostControls *controls, gboolean values, gboolean op)
{
    gtk_check_button_set_active(GTK_CHECK_BUTTON(controls->values), values);
    gtk_check_button_set_active(GTK_CHECK_BUTTON(controls->op), op);
}

void ll_boost_controls_show_readouts(LlBoostControls *controls, const ViewerReadouts *readouts)
{
    if (!readouts) {
        gtk_widget_set_opacity(controls->readouts, 0.55);
        return;
    }
    char *text = viewer_readouts_text(readouts);
    gtk_label_set_text(GTK_LABEL(controls->readouts), text);
    gtk_widget_set_opacity(controls->readouts, 1.0);
    g_free(text);
}

const char *ll_boost_controls_get_readouts_text(LlBoostControls *controls)
{
    return gtk_label_get_text(GTK_LABEL(controls->readouts));
}
