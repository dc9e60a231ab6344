/* io_zip.h — read-only ZIP reader over a caller-owned byte buffer.
 *
 * Enough of the format for torch >= 1.6 checkpoints: end of central
 * directory (searched in the last 64 KiB + 22 bytes), ZIP64 end records and
 * extra fields, central directory entries and local headers. Only STORED
 * (uncompressed) entries can be read; deflated ones are listed but reading
 * them fails with NN_ERR_UNSUPPORTED. Every offset and size is checked
 * against the buffer before use. The reader borrows buf (it must outlive
 * the io_zip) and owns its entry table. */
#ifndef IO_ZIP_H
#define IO_ZIP_H

#include <stddef.h>
#include <stdint.h>

#include "../nn/nn_status.h"

/* Bounds the entry table a hostile central directory can make us allocate
 * (a resnet152 checkpoint has ~1000 entries). */
#define IO_ZIP_MAX_ENTRIES 200000

typedef struct io_zip_entry {
    char *name;             /* NUL-terminated copy of the stored name */
    uint64_t local_offset;  /* offset of the local header in buf */
    uint64_t csize;         /* compressed size */
    uint64_t usize;         /* uncompressed size */
    uint32_t crc32;         /* of the uncompressed data, from the directory */
    int method;             /* 0 = stored, 8 = deflate, ... */
    int verified;           /* 1 once the CRC has been checked */
} io_zip_entry;

typedef struct io_zip {
    const uint8_t *buf;     /* borrowed */
    size_t len;
    int n_entries;
    io_zip_entry *entries;  /* owned */
    int *by_name;           /* owned: entry indices sorted by name */
} io_zip;

/* Parses the central directory of buf[0..len). On success *out owns the
 * entry table; free with io_zip_close. Fails with NN_ERR_FORMAT. */
nn_status io_zip_open(const void *buf, size_t len, io_zip **out, nn_err *e);
void io_zip_close(io_zip *z);

/* Index of the entry named exactly `name` (the first of duplicates), or
 * -1. O(log n). */
int io_zip_find(const io_zip *z, const char *name);

/* Points *data at the bytes of entry i inside the buffer (no copy) after
 * checking its local header and (on first access) its CRC-32. Stored
 * entries only. */
nn_status io_zip_entry_data(io_zip *z, int i, const uint8_t **data, size_t *size,
                            nn_err *e);

/* 1 when buf starts with a ZIP local-file or end-of-directory signature. */
int io_zip_is_zip(const void *buf, size_t len);

#endif
