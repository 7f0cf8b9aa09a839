// capture_io.h: saving and loading captured attention matrices.
//
// One (T,T) pattern (T = PROBLEM_LEN = 20; row = query position, column = key
// position) goes to CSV, the format `looplens capture` writes (SPEC section 6):
// 20 lines of 20 comma-separated numbers. Every layer and head of one problem
// goes to a NumPy .npy file, so a notebook can open it with numpy.load.
#ifndef LOOPLENS_CAPTURE_IO_H
#define LOOPLENS_CAPTURE_IO_H

#include <stdbool.h>

#include <glib.h>

#include "problem.h"

#define MATRIX_T PROBLEM_LEN
#define MATRIX_SIZE (MATRIX_T * MATRIX_T)

// m is (T,T). Writes each number with %.9g in the C locale, whatever
// LC_NUMERIC says, so reading it back gives the same float bits. Atomic.
bool matrix_csv_write(const char *path, const float m[MATRIX_SIZE], GError **error);

// m is (T,T). Strict: exactly 20 rows of exactly 20 finite numbers (C locale),
// lines ending in LF or CRLF, the last newline optional. Anything else is an
// error "FILE:ROW:COL: reason" (ROW the 1-based line, COL the 1-based field)
// or "FILE: reason". m is only written when the whole file is good.
bool matrix_csv_read(const char *path, float m[MATRIX_SIZE], GError **error);

// a, b are (T,T). Returns true when every entry is equal (two NaNs count as
// equal). max_diff gets the largest |a - b| (INFINITY where only one side is
// NaN or the infinities differ), row and col its first position, or -1 when
// the matrices are equal. Any output pointer may be NULL.
bool matrix_compare(const float a[MATRIX_SIZE], const float b[MATRIX_SIZE], double *max_diff,
                    int *row, int *col);

// data is (n_layer, n_head, T, T), C order. Writes NPY format 1.0, dtype '<f4'
// (little-endian on any machine), shape (n_layer, n_head, 20, 20), the header
// padded with spaces so the data starts at byte 64 * k. Atomic.
bool capture_npy_write(const char *path, const float *data, int n_layer, int n_head,
                       GError **error);

#endif
