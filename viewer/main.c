// main.c: looplens-viewer, the GTK 4 viewer (see ll_application.h).
#include "ll_application.h"

int main(int argc, char **argv)
{
    LlApplication *app = ll_application_new();
    int status = g_application_run(G_APPLICATION(app), argc, argv);
    if (status == 0)
        status = ll_application_get_exit_status(app);
    g_object_unref(app);
    return status;
}
