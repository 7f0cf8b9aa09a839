// command.c: what every subcommand shares: flag parsing and one-line errors.
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

gboolean command_check_files(const char *name, const CommandFile *files, size_t n)
{
    GError *error = NULL;
    char **targets = g_new0(char *, n);
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        if (!files[i].path)
            continue;
        if (files[i].output)
            ok = output_check_writable(files[i].path, &error) &&
                 (targets[i] = output_target(files[i].path, &error)) != NULL;
        else // an input that is missing or unreadable is for its reader to report
            targets[i] = output_target(files[i].path, NULL);
        if (!ok) {
            command_fail_error(name, error);
            break;
        }
        for (size_t j = 0; ok && targets[i] && j < i; j++) {
            if ((files[i].output || files[j].output) && targets[j] &&
                strcmp(targets[i], targets[j]) == 0) {
                command_fail(name, "%s and %s name the same file (%s): each needs its own",
                             files[j].flag, files[i].flag, files[i].path);
                ok = false;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        g_free(targets[i]);
    g_free(targets);
    return ok;
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
