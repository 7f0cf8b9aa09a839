// ll_application.h: the viewer as a GtkApplication (org.looplens.Viewer).
//
//   looplens-viewer [--model CKPT]... [--data FILE] [--screenshot FILE.png]
//
// Without --model it opens the shipped models (assets/fixed.safetensors and
// assets/shuffled.safetensors; env LOOPLENS_ASSETS overrides the folder), each
// with the test set `looplens experiment` wrote to out/<name>/test.txt when it
// is there. --data applies to the first model. --screenshot renders the
// window, once loaded, into a PNG and quits (the book's figure).
#ifndef LL_APPLICATION_H
#define LL_APPLICATION_H

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define LL_APPLICATION_ID "org.looplens.Viewer"

#define LL_TYPE_APPLICATION (ll_application_get_type())
G_DECLARE_FINAL_TYPE(LlApplication, ll_application, LL, APPLICATION, GtkApplication)

LlApplication *ll_application_new(void);
// Non-zero when --screenshot failed (g_application_run's status is 0 then).
int ll_application_get_exit_status(LlApplication *app);

G_END_DECLS

#endif
