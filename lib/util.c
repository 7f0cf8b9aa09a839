// util.c: see util.h.
#define _XOPEN_SOURCE 700 // realpath, lstat, fsync
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

G_DEFINE_QUARK(looplens-error-quark, ll_error)

// What a non-regular file is, for the message refusing to replace it.
static const char *file_kind(mode_t mode)
{
    return S_ISDIR(mode)    ? "a folder"
           : S_ISFIFO(mode) ? "a FIFO"
           : S_ISCHR(mode)  ? "a character device"
           : S_ISBLK(mode)  ? "a block device"
           : S_ISSOCK(mode) ? "a socket"
                            : "a special file";
}

// Follows PATH while it is a symbolic link; returns where the chain ends (an
// existing regular file or a name not yet taken) and, in *mode, the existing
// file's permissions or 0644 for a new one.
static char *resolve_links(const char *path, unsigned *mode, GError **error)
{
    char *target = g_strdup(path);
    *mode = 0644; // a new result file is as readable as any other
    for (int links = 0;; links++) {
        GStatBuf st;
        if (g_lstat(target, &st) != 0) {
            int err = errno;
            if (err == ENOENT)
                return target; // a new file; the caller checks its folder
            g_set_error(error, LL_ERROR, LL_ERROR_IO, "%s: cannot write: %s", path,
                        g_strerror(err));
            break;
        }
        if (S_ISREG(st.st_mode)) {
            *mode = st.st_mode & 0777;
            return target;
        }
        if (!S_ISLNK(st.st_mode)) {
            g_set_error(error, LL_ERROR, LL_ERROR_IO, "%s: not a regular file (%s)", path,
                        file_kind(st.st_mode));
            break;
        }
        // A link: write where it points, so the link stays a link. 40 is the
        // kernel's own bound (ELOOP); it also ends a cycle of links.
        char *link = links < 40 ? g_file_read_link(target, NULL) : NULL;
        if (!link) {
            g_set_error(error, LL_ERROR, LL_ERROR_IO, "%s: cannot follow the symbolic link %s%s",
                        path, target, links < 40 ? "" : " (too many links in a row)");
            break;
        }
        char *next = link;
        if (!g_path_is_absolute(link)) { // relative to the link's own folder
            char *dir = g_path_get_dirname(target);
            next = g_build_filename(dir, link, NULL);
            g_free(dir);
            g_free(link);
        }
        g_free(target);
        target = next;
    }
    g_free(target);
    return NULL;
}

// output_target, also giving the permissions the written file should have.
static char *resolve_output(const char *path, unsigned *mode, GError **error)
{
    size_t len = strlen(path);
    if (len == 0 || path[len - 1] == '/') {
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID, "'%s': expected a file name%s", path,
                    len ? ", not a folder" : "");
        return NULL;
    }
    char *target = resolve_links(path, mode, error);
    if (!target)
        return NULL;
    // The folder's real path plus the file's name: one spelling per file, and
    // a check that the folder exists. (The folder may hold links or "..", so
    // realpath resolves it; the name itself is known not to be a link.)
    char *dir = g_path_get_dirname(target);
    char *base = g_path_get_basename(target);
    char *real_dir = realpath(dir, NULL);
    char *result = NULL;
    if (real_dir)
        result = g_build_filename(real_dir, base, NULL);
    else
        g_set_error(error, LL_ERROR, LL_ERROR_IO, "%s: cannot write: folder %s: %s", path, dir,
                    g_strerror(errno));
    free(real_dir);
    g_free(dir);
    g_free(base);
    g_free(target);
    return result;
}

char *output_target(const char *path, GError **error)
{
    unsigned mode;
    return resolve_output(path, &mode, error);
}

// Creates an empty temp file next to target (same folder, so the rename is
// atomic). Returns its descriptor and path, or -1 with an error naming path.
static int make_temp(const char *path, const char *target, char **temp_path, GError **error)
{
    char *dir = g_path_get_dirname(target);
    char *base = g_path_get_basename(target);
    char *template = g_strdup_printf("%s/.%s.tmp-XXXXXX", dir, base);
    g_free(dir);
    g_free(base);
    int fd = g_mkstemp(template);
    if (fd < 0) {
        g_set_error(error, LL_ERROR, LL_ERROR_IO, "%s: cannot write: %s", path,
                    g_strerror(errno));
        g_free(template);
        return -1;
    }
    *temp_path = template;
    return fd;
}

// Gives the finished temp file its permissions and renames it onto target.
static bool rename_into_place(const char *path, const char *temp_path, const char *target,
                              unsigned mode, GError **error)
{
    if (g_chmod(temp_path, (int)mode) != 0 || g_rename(temp_path, target) != 0) {
        int err = errno;
        g_unlink(temp_path);
        g_set_error(error, LL_ERROR, LL_ERROR_IO, "%s: cannot write: %s", path, g_strerror(err));
        return false;
    }
    return true;
}

bool atomic_file_open(AtomicFile *f, const char *path, GError **error)
{
    memset(f, 0, sizeof *f);
    char *target = resolve_output(path, &f->mode, error);
    if (!target)
        return false;
    char *temp_path = NULL;
    int fd = make_temp(path, target, &temp_path, error);
    if (fd < 0) {
        g_free(target);
        return false;
    }
    f->fp = fdopen(fd, "wb");
    if (!f->fp) {
        int err = errno;
        close(fd);
        g_unlink(temp_path);
        g_free(temp_path);
        g_free(target);
        g_set_error(error, LL_ERROR, LL_ERROR_IO, "%s: cannot write: %s", path, g_strerror(err));
        return false;
    }
    f->path = g_strdup(path);
    f->target = target;
    f->temp_path = temp_path;
    return true;
}

static void atomic_file_clear(AtomicFile *f)
{
    g_free(f->path);
    g_free(f->target);
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
    if (!ok) {
        g_unlink(f->temp_path);
        g_set_error(error, LL_ERROR, LL_ERROR_IO, "%s: cannot write: %s", f->path, g_strerror(err));
    } else {
        ok = rename_into_place(f->path, f->temp_path, f->target, f->mode, error);
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

bool output_check_writable(const char *path, GError **error)
{
    AtomicFile f;
    if (!atomic_file_open(&f, path, error))
        return false;
    atomic_file_abort(&f);
    return true;
}

bool staged_file_open(StagedFile *f, const char *path, GError **error)
{
    memset(f, 0, sizeof *f);
    char *target = resolve_output(path, &f->mode, error);
    if (!target)
        return false;
    int fd = make_temp(path, target, &f->temp_path, error);
    if (fd < 0) {
        g_free(target);
        return false;
    }
    close(fd); // the writer opens it again by name
    f->path = g_strdup(path);
    f->target = target;
    return true;
}

static void staged_file_clear(StagedFile *f)
{
    g_free(f->path);
    g_free(f->target);
    g_free(f->temp_path);
    memset(f, 0, sizeof *f);
}

bool staged_files_commit(StagedFile *files, size_t count, GError **error)
{
    // The writers fsynced their files; the renames are all that is left, and
    // on one file system a rename does not fail for want of space.
    bool ok = true;
    for (size_t i = 0; i < count; i++) {
        if (ok)
            ok = rename_into_place(files[i].path, files[i].temp_path, files[i].target,
                                   files[i].mode, error);
        else if (files[i].temp_path)
            g_unlink(files[i].temp_path);
        staged_file_clear(&files[i]);
    }
    return ok;
}

void staged_files_abort(StagedFile *files, size_t count, GError *error)
{
    for (size_t i = 0; i < count; i++) {
        if (error && files[i].temp_path && strstr(error->message, files[i].temp_path)) {
            // The user named the destination; the temp's name would puzzle them.
            GString *message = g_string_new(error->message);
            g_string_replace(message, files[i].temp_path, files[i].path, 0);
            g_free(error->message);
            error->message = g_string_free(message, FALSE);
        }
        if (files[i].temp_path)
            g_unlink(files[i].temp_path);
        staged_file_clear(&files[i]);
    }
}

// The text quoted for a one-line error message: at most 40 characters, any
// control character shown as '?', and a hint when spaces around it are what
// is wrong (they are easy to miss in quotes). Caller frees.
static char *quote_number(const char *text)
{
    size_t len = text ? strlen(text) : 0;
    bool spaced = len && (g_ascii_isspace(text[0]) || g_ascii_isspace(text[len - 1]));
    GString *out = g_string_new("'");
    for (size_t i = 0; i < len && i < 40; i++)
        g_string_append_c(out, g_ascii_iscntrl(text[i]) ? '?' : text[i]);
    g_string_append(out, len > 40 ? "...'" : "'");
    if (spaced)
        g_string_append(out, " (spaces around it)");
    return g_string_free(out, FALSE);
}

// "WHAT: " before a message, or nothing when the caller names the place:
// the two arguments of a "%s%s" in the format.
#define WHAT_PREFIX(what) (what) ? (what) : "", (what) ? ": " : ""

bool parse_int64(const char *text, const char *what, int64_t min, int64_t max, int64_t *out,
                 GError **error)
{
    // GLib's parser takes exactly an optional sign and decimal digits: no
    // spaces, no "0x", no "1e3".
    gint64 value;
    if (text && g_ascii_string_to_signed(text, 10, min, max, &value, NULL)) {
        *out = value;
        return true;
    }
    char *got = quote_number(text);
    if (max == INT64_MAX) // "from 0 to 9223372036854775807" reads as noise
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID,
                    "%s: expected an integer %" G_GINT64_FORMAT " or more, got %s", what,
                    (gint64)min, got);
    else
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID,
                    "%s: expected an integer from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT
                    ", got %s",
                    what, (gint64)min, (gint64)max, got);
    g_free(got);
    return false;
}

bool parse_uint64(const char *text, const char *what, uint64_t *out, GError **error)
{
    // A leading '+' as parse_int64 takes it (GLib's unsigned parser does not).
    const char *digits = text && text[0] == '+' && g_ascii_isdigit(text[1]) ? text + 1 : text;
    guint64 value;
    if (digits && g_ascii_string_to_unsigned(digits, 10, 0, G_MAXUINT64, &value, NULL)) {
        *out = value;
        return true;
    }
    char *got = quote_number(text);
    g_set_error(error, LL_ERROR, LL_ERROR_INVALID,
                "%s: expected an integer from 0 to 2^64-1, got %s", what, got);
    g_free(got);
    return false;
}

bool parse_double(const char *text, const char *what, double *out, GError **error)
{
    // strtod alone would skip leading spaces and take hex ("0x1p1"), "inf"
    // and "nan"; only the characters of a decimal number get that far.
    const char *decimal_chars = "0123456789+-.eE";
    char *end = NULL;
    double value = 0.0;
    bool decimal = text && *text && strspn(text, decimal_chars) == strlen(text);
    int err = 0;
    if (decimal) {
        errno = 0;
        value = g_ascii_strtod(text, &end);
        err = errno;
        decimal = end != text && *end == '\0';
    }
    if (!decimal) {
        char *got = quote_number(text);
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID, "%s%sexpected a decimal number, got %s",
                    WHAT_PREFIX(what), got);
        g_free(got);
        return false;
    }
    // (text is now known to be printable: only decimal characters.)
    if (err == ERANGE && fabs(value) > 1.0) {
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID,
                    "%s%s%s is out of range (a double holds at most about 1.8e308)",
                    WHAT_PREFIX(what), text);
        return false;
    }
    if (err == ERANGE) { // glibc also flags a result below DBL_MIN (denormal)
        g_set_error(error, LL_ERROR, LL_ERROR_INVALID,
                    "%s%s%s underflows (nonzero but below about 2.2e-308); write 0 if you mean 0",
                    WHAT_PREFIX(what), text);
        return false;
    }
    *out = value;
    return true;
}

const char *format_float(char *buf, float x)
{
    return g_ascii_formatd(buf, G_ASCII_DTOSTR_BUF_SIZE, "%.9g", (double)x);
}

void remove_tree(const char *path)
{
    GDir *dir = g_dir_open(path, 0, NULL);
    if (dir) {
        for (const char *name; (name = g_dir_read_name(dir));) {
            char *child = g_build_filename(path, name, NULL);
            if (g_file_test(child, G_FILE_TEST_IS_DIR) &&
                !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
                remove_tree(child);
            else
                g_unlink(child);
            g_free(child);
        }
        g_dir_close(dir);
        g_rmdir(path);
    } else {
        g_unlink(path);
    }
}
