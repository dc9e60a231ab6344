/* io_zip.c — read-only ZIP reader (see io_zip.h).
 *
 * Layout read here (APPNOTE 6.3): [local header + data]* central directory
 * [zip64 end record + locator] end record. The central directory is the
 * truth for names, sizes and offsets; each local header is checked against
 * it (signature, name) when an entry is read, and stored data is verified
 * against the CRC-32 the directory records. */
#include "io/io_zip.h"

#include <stdlib.h>
#include <string.h>

#define ZIP_SIG_LOCAL 0x04034b50u
#define ZIP_SIG_CENTRAL 0x02014b50u
#define ZIP_SIG_END 0x06054b50u
#define ZIP_SIG_END64 0x06064b50u
#define ZIP_SIG_LOC64 0x07064b50u

#define ZIP_END_SIZE 22           /* fixed part of the end record */
#define ZIP_END64_SIZE 56         /* fixed part of the zip64 end record */
#define ZIP_LOC64_SIZE 20         /* zip64 end locator */
#define ZIP_CENTRAL_SIZE 46       /* fixed part of a central entry */
#define ZIP_LOCAL_SIZE 30         /* fixed part of a local header */
#define ZIP_MAX_COMMENT 65535     /* the end record's comment length is 16-bit */
#define ZIP_EXTRA_ZIP64 0x0001

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32); }

/* 1 when [off, off+n) lies inside a buffer of len bytes. */
static int in_bounds(uint64_t off, uint64_t n, size_t len)
{
    return off <= (uint64_t)len && n <= (uint64_t)len - off;
}

int io_zip_is_zip(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    return len >= 4 && (rd32(p) == ZIP_SIG_LOCAL || rd32(p) == ZIP_SIG_END);
}

/* Finds the end record: the last signature whose comment fits the buffer. */
static nn_status find_end(const uint8_t *b, size_t len, size_t *pos, nn_err *e)
{
    if (len < ZIP_END_SIZE)
        return nn_err_set(e, NN_ERR_FORMAT, "zip: %zu bytes is too short for an archive", len);
    size_t lo = len - ZIP_END_SIZE > ZIP_MAX_COMMENT ? len - ZIP_END_SIZE - ZIP_MAX_COMMENT : 0;
    for (size_t p = len - ZIP_END_SIZE + 1; p-- > lo;) {
        if (rd32(b + p) != ZIP_SIG_END)
            continue;
        if ((uint64_t)p + ZIP_END_SIZE + rd16(b + p + 20) <= len) {
            *pos = p;
            return NN_OK;
        }
    }
    return nn_err_set(e, NN_ERR_FORMAT, "zip: no end-of-central-directory record");
}

/* Reads the zip64 end record through the locator that precedes the end
 * record at `end`; fills the directory's entry count, size and offset. */
static nn_status read_end64(const uint8_t *b, size_t len, size_t end, uint64_t *count,
                            uint64_t *cd_size, uint64_t *cd_off, nn_err *e)
{
    if (end < ZIP_LOC64_SIZE || rd32(b + end - ZIP_LOC64_SIZE) != ZIP_SIG_LOC64)
        return nn_err_set(e, NN_ERR_FORMAT, "zip: zip64 sizes without a zip64 locator");
    uint64_t off = rd64(b + end - ZIP_LOC64_SIZE + 8);
    if (!in_bounds(off, ZIP_END64_SIZE, len) || rd32(b + off) != ZIP_SIG_END64)
        return nn_err_set(e, NN_ERR_FORMAT, "zip: zip64 end record offset %llu is invalid",
                          (unsigned long long)off);
    *count = rd64(b + off + 32);
    *cd_size = rd64(b + off + 40);
    *cd_off = rd64(b + off + 48);
    return NN_OK;
}

/* Applies a zip64 extended-information extra field: the 64-bit values
 * present are those whose 32-bit field is saturated, in the order
 * usize, csize, local offset. */
static nn_status apply_zip64_extra(const uint8_t *x, size_t n, io_zip_entry *en, int need_u,
                                   int need_c, int need_o, nn_err *e)
{
    size_t p = 0;
    while (n - p >= 4) {
        uint16_t id = rd16(x + p), sz = rd16(x + p + 2);
        if (sz > n - p - 4)
            return nn_err_set(e, NN_ERR_FORMAT, "zip: extra field of %s overruns", en->name);
        if (id == ZIP_EXTRA_ZIP64) {
            const uint8_t *f = x + p + 4;
            size_t left = sz;
            uint64_t *dst[3] = { need_u ? &en->usize : NULL, need_c ? &en->csize : NULL,
                                 need_o ? &en->local_offset : NULL };
            for (int k = 0; k < 3; k++) {
                if (!dst[k])
                    continue;
                if (left < 8)
                    return nn_err_set(e, NN_ERR_FORMAT, "zip: short zip64 field in %s", en->name);
                *dst[k] = rd64(f);
                f += 8;
                left -= 8;
            }
            return NN_OK;
        }
        p += 4 + (size_t)sz;
    }
    if (need_u || need_c || need_o)
        return nn_err_set(e, NN_ERR_FORMAT, "zip: %s needs a zip64 field it lacks", en->name);
    return NN_OK;
}

/* Parses one central entry at b[*p]; advances *p past it. */
static nn_status read_central(const uint8_t *b, size_t len, uint64_t cd_end, uint64_t *p,
                              io_zip_entry *en, nn_err *e)
{
    if (*p > cd_end || cd_end - *p < ZIP_CENTRAL_SIZE || rd32(b + *p) != ZIP_SIG_CENTRAL)
        return nn_err_set(e, NN_ERR_FORMAT, "zip: bad central directory entry at %llu",
                          (unsigned long long)*p);
    const uint8_t *h = b + *p;
    uint16_t flags = rd16(h + 8), nlen = rd16(h + 28), xlen = rd16(h + 30), clen = rd16(h + 32);
    uint64_t total = (uint64_t)ZIP_CENTRAL_SIZE + nlen + xlen + clen;
    if (cd_end - *p < total || !in_bounds(*p, total, len))
        return nn_err_set(e, NN_ERR_FORMAT, "zip: central entry at %llu overruns the directory",
                          (unsigned long long)*p);
    if (nlen == 0 || memchr(h + ZIP_CENTRAL_SIZE, 0, nlen))
        return nn_err_set(e, NN_ERR_FORMAT, "zip: empty or NUL-containing entry name");
    en->name = malloc((size_t)nlen + 1);
    if (!en->name)
        return nn_err_set(e, NN_ERR_NOMEM, "zip: out of memory");
    memcpy(en->name, h + ZIP_CENTRAL_SIZE, nlen);
    en->name[nlen] = '\0';
    if (flags & 1)
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "zip: entry %s is encrypted", en->name);
    en->method = rd16(h + 10);
    en->crc32 = rd32(h + 16);
    en->csize = rd32(h + 20);
    en->usize = rd32(h + 24);
    en->local_offset = rd32(h + 42);
    nn_status st = apply_zip64_extra(h + ZIP_CENTRAL_SIZE + nlen, xlen, en,
                                     en->usize == UINT32_MAX, en->csize == UINT32_MAX,
                                     en->local_offset == UINT32_MAX, e);
    if (st != NN_OK)
        return st;
    if (!in_bounds(en->local_offset, ZIP_LOCAL_SIZE, len) || !in_bounds(en->local_offset, en->csize, len))
        return nn_err_set(e, NN_ERR_FORMAT, "zip: entry %s offset %llu size %llu outside the file",
                          en->name, (unsigned long long)en->local_offset,
                          (unsigned long long)en->csize);
    *p += total;
    return NN_OK;
}

/* Orders entry indices by name, then index (so duplicates keep file order). */
static int cmp_by_name(const void *a, const void *b, void *ctx)
{
    const io_zip *z = ctx;
    int ia = *(const int *)a, ib = *(const int *)b;
    int c = strcmp(z->entries[ia].name, z->entries[ib].name);
    return c ? c : (ia > ib) - (ia < ib);
}

nn_status io_zip_open(const void *buf, size_t len, io_zip **out, nn_err *e)
{
    const uint8_t *b = buf;
    io_zip *z = NULL;
    size_t end = 0;
    nn_status st;

    *out = NULL;
    if (!buf)
        return nn_err_set(e, NN_ERR_INVALID, "zip: NULL buffer");
    if ((st = find_end(b, len, &end, e)) != NN_OK)
        return st;
    uint64_t count = rd16(b + end + 10), cd_size = rd32(b + end + 12), cd_off = rd32(b + end + 16);
    if (count == 0xFFFF || cd_size == UINT32_MAX || cd_off == UINT32_MAX) {
        if ((st = read_end64(b, len, end, &count, &cd_size, &cd_off, e)) != NN_OK)
            return st;
    }
    if (!in_bounds(cd_off, cd_size, len))
        return nn_err_set(e, NN_ERR_FORMAT,
                          "zip: central directory (offset %llu, %llu bytes) outside the file",
                          (unsigned long long)cd_off, (unsigned long long)cd_size);
    if (count > IO_ZIP_MAX_ENTRIES || count > cd_size / ZIP_CENTRAL_SIZE)
        return nn_err_set(e, count > IO_ZIP_MAX_ENTRIES ? NN_ERR_LIMIT : NN_ERR_FORMAT,
                          "zip: %llu entries do not fit the directory or the limit %d",
                          (unsigned long long)count, IO_ZIP_MAX_ENTRIES);
    z = calloc(1, sizeof *z);
    if (!z || (count && !(z->entries = calloc((size_t)count, sizeof *z->entries)))) {
        st = nn_err_set(e, NN_ERR_NOMEM, "zip: out of memory");
        goto fail;
    }
    z->buf = b;
    z->len = len;
    uint64_t p = cd_off, cd_end = cd_off + cd_size;
    for (uint64_t i = 0; i < count; i++) {
        z->n_entries++;
        if ((st = read_central(b, len, cd_end, &p, &z->entries[i], e)) != NN_OK)
            goto fail;
    }
    if (count && !(z->by_name = malloc((size_t)count * sizeof *z->by_name))) {
        st = nn_err_set(e, NN_ERR_NOMEM, "zip: out of memory");
        goto fail;
    }
    for (int i = 0; i < z->n_entries; i++)
        z->by_name[i] = i;
    if (z->n_entries > 1)       /* an empty archive has no by_name (qsort_r wants one) */
        qsort_r(z->by_name, (size_t)z->n_entries, sizeof *z->by_name, cmp_by_name, z);
    *out = z;
    return NN_OK;
fail:
    io_zip_close(z);
    return st;
}

void io_zip_close(io_zip *z)
{
    if (!z)
        return;
    for (int i = 0; i < z->n_entries; i++)
        free(z->entries[i].name);
    free(z->entries);
    free(z->by_name);
    free(z);
}

int io_zip_find(const io_zip *z, const char *name)
{
    int lo = 0, hi = z->n_entries;   /* first sorted position with name >= `name` */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (strcmp(z->entries[z->by_name[mid]].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < z->n_entries && strcmp(z->entries[z->by_name[lo]].name, name) == 0)
        return z->by_name[lo];
    return -1;
}

/* CRC-32 (IEEE, reflected). The table is rebuilt per call (2 K steps,
 * nothing next to hashing megabytes) so that no shared state needs locking. */
static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uint32_t table[256];
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

nn_status io_zip_entry_data(io_zip *z, int i, const uint8_t **data, size_t *size,
                            nn_err *e)
{
    if (i < 0 || i >= z->n_entries)
        return nn_err_set(e, NN_ERR_INVALID, "zip: entry index %d out of range", i);
    io_zip_entry *en = &z->entries[i];
    if (en->method != 0)
        return nn_err_set(e, NN_ERR_UNSUPPORTED,
                          "zip: entry %s uses compression method %d (only stored is supported)",
                          en->name, en->method);
    if (en->csize != en->usize)
        return nn_err_set(e, NN_ERR_FORMAT, "zip: stored entry %s has sizes %llu != %llu", en->name,
                          (unsigned long long)en->csize, (unsigned long long)en->usize);
    const uint8_t *h = z->buf + en->local_offset;   /* 30 bytes checked at open */
    size_t nlen = rd16(h + 26), xlen = rd16(h + 28);
    uint64_t data_off = en->local_offset + ZIP_LOCAL_SIZE + nlen + xlen;
    if (rd32(h) != ZIP_SIG_LOCAL)
        return nn_err_set(e, NN_ERR_FORMAT, "zip: no local header for %s", en->name);
    if (!in_bounds(en->local_offset + ZIP_LOCAL_SIZE, nlen, z->len) || nlen != strlen(en->name) ||
        memcmp(h + ZIP_LOCAL_SIZE, en->name, nlen) != 0)
        return nn_err_set(e, NN_ERR_FORMAT, "zip: local header name differs for %s", en->name);
    if (!in_bounds(data_off, en->usize, z->len))
        return nn_err_set(e, NN_ERR_FORMAT, "zip: data of %s (%llu bytes at %llu) outside the file",
                          en->name, (unsigned long long)en->usize, (unsigned long long)data_off);
    const uint8_t *d = z->buf + data_off;
    if (!en->verified) {
        uint32_t got = crc32_of(d, (size_t)en->usize);
        if (got != en->crc32)
            return nn_err_set(e, NN_ERR_FORMAT, "zip: CRC mismatch in %s (%08x, directory says %08x)",
                              en->name, got, en->crc32);
        en->verified = 1;
    }
    *data = d;
    *size = (size_t)en->usize;
    return NN_OK;
}
