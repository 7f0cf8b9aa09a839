// command.c: what every subcommand shares: flag parsing and one-line errors.
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "commands.h"
#include "util.h"

gboolean command_parse(const char *name, const char *usage, const char *summary,
                       GOptionEntry *entries, int *argc, char ***argv)
{
    GOptionContext *context = g_option_context_new(usage);
    g_option_context_set_summary(context, summary);
    g_option_context_add_main_entries(context, entries, NULL);
    char *prgname = g_strdup_printf("looplens %s", name);
    g_set_prgname(prgname);
    g_free(prgname);
    GError *error = NULL;
    gboolean ok = g_option_context_parse(context, argc, argv, &error);
    g_option_context_free(context);
    if (!ok) {
        command_fail_error(name, error);
        return FALSE;
    }
    if (*argc > 1) {
        command_fail(name, "unexpected argument '%s' (see looplens %s --help)", (*argv)[1], name);
        return FALSE;
    }
    return TRUE;
}

int command_fail(const char *name, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *message = g_strdup_vprintf(format, args);
    va_end(args);
    // One line, always: a message with a newline in it is folded.
    for (char *c = message; *c; c++)
        if (*c == '\n')
            *c = ' ';
    fprintf(stderr, "looplens %s: %s\n", name, message);
    g_free(message);
    return 1;
}

int command_fail_error(const char *name, GError *error)
{
    command_fail(name, "%s", error->message);
    g_error_free(error);
    return 1;
}

gboolean command_require(const char *name, const char *flag, const void *value)
{
    if (value)
        return TRUE;
    command_fail(name, "%s is required (see looplens %s --help)", flag, name);
    return FALSE;
}

gboolean command_parse_boost(const char *name, const char *text, float *amount)
{
    double value;
    GError *error = NULL;
    if (!parse_double(text, "--boost", &value, &error)) {
        command_fail_error(name, error);
        return FALSE;
    }
    if (fabs(value) > COMMAND_MAX_BOOST) {
        command_fail(name, "--boost: %s is outside -%g..%g", text, COMMAND_MAX_BOOST,
                     COMMAND_MAX_BOOST);
        return FALSE;
    }
    *amount = (float)value;
    return TRUE;
}
