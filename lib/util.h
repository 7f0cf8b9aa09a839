// util.h: the small pieces every part of LoopLens shares: the error domain,
// atomic file writing, strict number parsing, and C-locale number formatting.
#ifndef LOOPLENS_UTIL_H
#define LOOPLENS_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <glib.h>

// Every GError the library sets is in this domain; the message is the whole
// one-line story ("FILE:LINE: reason"), the code is not used for much.
#define LL_ERROR (ll_error_quark())
GQuark ll_error_quark(void);
enum { LL_ERROR_IO = 1, LL_ERROR_PARSE, LL_ERROR_INVALID };

// Atomic output: write to a temp file in the destination's folder, then rename
// over the destination, so a reader never sees a half-written file and a failed
// write leaves any old file untouched.
typedef struct {
    FILE *fp;        // write through this
    char *path;      // the destination
    char *temp_path; // where the bytes go until commit
} AtomicFile;

bool atomic_file_open(AtomicFile *f, const char *path, GError **error);
// Flushes, fsyncs, closes and renames; on any failure removes the temp file.
bool atomic_file_commit(AtomicFile *f, GError **error);
// Gives up: closes and removes the temp file.
void atomic_file_abort(AtomicFile *f);

// Strict parsing of a whole string as a number: no trailing junk, no empty
// string, range checked. `what` names the field in the error ("--count").
bool parse_int64(const char *text, const char *what, int64_t min, int64_t max, int64_t *out,
                 GError **error);
bool parse_uint64(const char *text, const char *what, uint64_t *out, GError **error);
// A finite double, read in the C locale whatever LC_NUMERIC says.
bool parse_double(const char *text, const char *what, double *out, GError **error);
// Writes x with %.9g in the C locale (a float read back is bit-identical).
// buf must hold G_ASCII_DTOSTR_BUF_SIZE bytes.
const char *format_float(char *buf, float x);

#endif
