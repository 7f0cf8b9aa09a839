// util.c: see util.h.
#define _POSIX_C_SOURCE 200809L
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

G_DEFINE_QUARK(looplens-error-quark, ll_error)

bool atomic_file_open(AtomicFile *f, const char *path, GError **error)
{
    memset(f, 0, sizeof *f);
    char *dir = g_path_get_dirname(path);
    char *base = g_path_get_basename(path);
    char *template = g_strdup_printf("%s/.%s.tmp-XXXXXX", dir, base);
    g_free(dir);
    g_free(base);
    int fd = g_mkstemp(template);
    if (fd < 0) {
        int err = errno;
        g_set_error(error, LL_ERROR, LL_ERROR_IO, "%s: cannot write: %s", path, g_strerror(err));
        g_free(template);
        return false;
    }
    f->fp = fdopen(fd, "wb");
    if (!f->fp) {
        int err = errno;
        close(fd);
        g_unlink(template);
        g_free(template);
        g_set_error(error, LL_ERROR, LL_ERROR_IO, "%s: cannot write: %s", path, g_strerror(err));
        return false;
    }
    f->path = g_strdup(path);
    f->temp_path = template;
    return true;
}

static void atomic_file_clear(AtomicFile *f)
{
    g_free(f->path);
    g_free(f->temp_path);
    memset(f, 0, sizeof *f);
}

bool atomic_file_commit(AtomicFile *f, GError **error)
{
    bool ok = fflush(f->fp) == 0 && !ferror(f->fp) && fsync(fileno(f->fp)) == 0;
    int err = errno;
    if (fclose(f->fp) != 0 && ok) {
        ok = false;
        err = errno;
    }
    f->fp = NULL;
    // mkstemp makes the file 0600; a result file should be as readable as any.
    if (ok && g_chmod(f->temp_path, 0644) != 0) {
        ok = false;
        err = errno;
    }
    if (ok && g_rename(f->temp_path, f->path) != 0) {
        ok = false;
        err = errno;
    }
    if (!ok) {
        g_unlink(f->temp_path);
        g_set_error(error, LL_ERROR, LL_ERROR_IO, "%s: cannot write: %s", f->path, g_strerror(err));
    }
    atomic_file_clear(f);
    return ok;
}

void atomic_file_abort(AtomicFile *f)
{
    if (f->fp)
        fclose(f->fp);
    if (f->temp_path)
        g_unlink(f->temp_path);
    atomic_file_clear(f);
}

bool parse_int64(const char *text, const char *what, int64_t min, int64_t max, int64_t *out,
                 GError **error)
{
    gint64 value;
    GError *local = NULL;
    if (!text || !g_ascii_string_to_signed(text, 10, min, max, &value, &local)) {
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID,
                    "%s: expected an integer from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT
                    ", got '%s'",
                    what, (gint64)min, (gint64)max, text ? text : "");
        g_clear_error(&local);
        return false;
    }
    *out = value;
    return true;
}

bool parse_uint64(const char *text, const char *what, uint64_t *out, GError **error)
{
    guint64 value;
    GError *local = NULL;
    if (!text || !g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT64, &value, &local)) {
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID,
                    "%s: expected a non-negative integer, got '%s'", what, text ? text : "");
        g_clear_error(&local);
        return false;
    }
    *out = value;
    return true;
}

bool parse_double(const char *text, const char *what, double *out, GError **error)
{
    char *end = NULL;
    errno = 0;
    double value = text ? g_ascii_strtod(text, &end) : 0.0;
    if (!text || end == text || *end != '\0' || errno == ERANGE || !isfinite(value)) {
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID, "%s: expected a finite number, got '%s'",
                    what, text ? text : "");
        return false;
    }
    *out = value;
    return true;
}

const char *format_float(char *buf, float x)
{
    return g_ascii_formatd(buf, G_ASCII_DTOSTR_BUF_SIZE, "%.9g", (double)x);
}
