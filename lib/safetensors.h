// safetensors.h: reading and writing safetensors files, F32 tensors only.
//
// The format (SPEC section 3):
//
//   bytes 0..7      N, the header length, a little-endian unsigned 64-bit integer
//   bytes 8..8+N    the header: a UTF-8 JSON object
//                     {"__metadata__": {"key": "value", ...},            (optional)
//                      "name": {"dtype": "F32", "shape": [2, 3],
//                               "data_offsets": [begin, end]}, ...}
//   the rest        the data section: raw little-endian values; a tensor's bytes
//                   are data[begin..end), offsets counted from the data section
//
// The reader trusts nothing in the file. Everything is checked against the
// file's real size before anything sized by the file is allocated, and every
// problem is reported as one line naming the file (and the tensor) and what is
// wrong. Beyond the format's own rules it insists on:
//   - dtype F32 only, shapes of rank <= SAFETENSORS_MAX_RANK;
//   - the tensors tile the data section exactly: sorted by offset, each starts
//     where the one before ended, and the last ends at the end of the file. No
//     two tensors share bytes, no byte belongs to no tensor, and so a truncated
//     or padded data section is caught (the reference implementation requires
//     the same, so every file it writes passes). A tensor named twice in the
//     header (the JSON parser keeps the last) leaves a gap, so it is caught too;
//   - no fields other than dtype, shape and data_offsets in a tensor entry;
//   - every value finite (the error names the tensor and the first bad index).
#ifndef LOOPLENS_SAFETENSORS_H
#define LOOPLENS_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>

#include <glib.h>

#define SAFETENSORS_MAX_RANK 8
// The reference implementation refuses headers above 100 MB; so do we.
#define SAFETENSORS_MAX_HEADER (100u * 1024u * 1024u)

typedef struct {
    char *name;
    int rank;                           // 0 (a scalar) to SAFETENSORS_MAX_RANK
    size_t shape[SAFETENSORS_MAX_RANK]; // shape[0..rank)
    size_t count;                       // product of shape: how many floats
    float *data;                        // (count) in host byte order
} SafetensorsTensor;

typedef struct {
    // __metadata__, in file order.
    size_t n_metadata;
    char **metadata_keys;
    char **metadata_values;
    // The tensors in data-section order (for files we write: the order added).
    size_t n_tensors;
    SafetensorsTensor *tensors;
    float *data_memory; // one allocation holding every tensor's data
} Safetensors;

// Reads and validates a whole file. On failure *out is left empty (safe to
// free) and error says "PATH: what is wrong".
bool safetensors_read(const char *path, Safetensors *out, GError **error);
void safetensors_free(Safetensors *st);
// NULL when absent.
const SafetensorsTensor *safetensors_find(const Safetensors *st, const char *name);
const char *safetensors_metadata(const Safetensors *st, const char *key);

// ----------------------------------------------------------------------------
// The writer: add metadata and tensors, then write once. The header lists the
// metadata first, then the tensors, each in the order added, and is padded
// with spaces so the data starts at a multiple of 8 bytes. The data is not
// copied: every tensor's data must stay valid until safetensors_writer_write.
// Writing what was read (same metadata, same tensors, same order) reproduces
// the file byte for byte.
typedef struct {
    GPtrArray *metadata; // key, value, key, value, ... (owned copies)
    GArray *tensors;     // of SafetensorsTensor; name owned, data borrowed
} SafetensorsWriter;

void safetensors_writer_init(SafetensorsWriter *w);
void safetensors_writer_add_metadata(SafetensorsWriter *w, const char *key, const char *value);
// data holds the product of shape[0..rank) floats.
void safetensors_writer_add_tensor(SafetensorsWriter *w, const char *name, int rank,
                                   const size_t *shape, const float *data);
// Checks what was added (no duplicate names or keys, valid UTF-8, rank in
// range, every value finite: the writer never makes a file the reader would
// refuse), then writes atomically via AtomicFile.
bool safetensors_writer_write(SafetensorsWriter *w, const char *path, GError **error);
void safetensors_writer_clear(SafetensorsWriter *w);

#endif
