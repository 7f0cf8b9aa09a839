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

// Where an output really goes. If PATH is a symbolic link, the file it points
// to (followed to the end, so the link itself survives); otherwise PATH. If
// that exists it must be a regular file: a device, FIFO, socket or folder is
// refused ("PATH: not a regular file (a FIFO)") rather than replaced by one.
// Returns the target as an absolute path with no "." or ".." parts, so two
// spellings of one file compare equal with strcmp (caller frees).
char *output_target(const char *path, GError **error);

// Atomic output: write to a temp file in the target's folder, then rename
// over the target, so a reader never sees a half-written file and a failed
// write leaves any old file untouched. An existing file keeps its permissions.
typedef struct {
    FILE *fp;        // write through this
    char *path;      // the destination as given (for messages)
    char *target;    // output_target(path): what the rename replaces
    char *temp_path; // where the bytes go until commit
    unsigned mode;   // the permissions the file gets
} AtomicFile;

bool atomic_file_open(AtomicFile *f, const char *path, GError **error);
// Flushes, fsyncs, closes and renames; on any failure removes the temp file.
bool atomic_file_commit(AtomicFile *f, GError **error);
// Gives up: closes and removes the temp file.
void atomic_file_abort(AtomicFile *f);

// Checks up front that PATH can be written (its target is a regular file or
// absent, its folder exists and takes a new file), leaving any existing file
// alone: so a typo fails before an hour of work rather than after it.
bool output_check_writable(const char *path, GError **error);

// Outputs that must change together (a checkpoint and its training state; a
// CSV and its .npy): each writer writes its whole file to temp_path (any
// writer that takes a path will do), and only when every one has succeeded
// are the temps renamed into place. Any failure before that leaves every old
// file as it was.
typedef struct {
    char *path;      // the destination as given
    char *target;    // output_target(path)
    char *temp_path; // hand this to the writer
    unsigned mode;
} StagedFile;

// Creates the (empty) temp file next to the target; fails like atomic_file_open.
bool staged_file_open(StagedFile *f, const char *path, GError **error);
// Renames every temp onto its target, in order, and clears the array. On
// failure removes the temps not yet renamed.
bool staged_files_commit(StagedFile *files, size_t count, GError **error);
// Removes every temp and clears the array (entries never opened are skipped).
// If error is not NULL and its message names a temp file (a writer failed on
// it), the message is changed to name that file's destination instead.
void staged_files_abort(StagedFile *files, size_t count, GError *error);

// Removes path and, if it is a folder, everything below it (symlinks are
// removed, never followed). Errors are ignored: for cleaning up temporaries.
void remove_tree(const char *path);

// Strict parsing of a whole string as a number: nothing else in the string (no
// spaces before or after, no trailing junk), not empty, range checked. `what`
// names the field in the error ("--count").
bool parse_int64(const char *text, const char *what, int64_t min, int64_t max, int64_t *out,
                 GError **error);
bool parse_uint64(const char *text, const char *what, uint64_t *out, GError **error);
// A finite decimal number ("-2", "0.5", "1e-3"), read in the C locale whatever
// LC_NUMERIC says. Hex floats, inf and nan are refused, and so is a number a
// double cannot hold (beyond about 1.8e308, or nonzero below about 2.2e-308).
// `what` may be NULL for a reader whose message names the place itself
// ("FILE:ROW:COL: expected a decimal number, got 'x'").
bool parse_double(const char *text, const char *what, double *out, GError **error);
// Writes x with %.9g in the C locale (a float read back is bit-identical).
// buf must hold G_ASCII_DTOSTR_BUF_SIZE bytes.
const char *format_float(char *buf, float x);

#endif
