/* io_slm_read.c — reads a .slm model file (docs/FORMAT.md) into a graph.
 * The bytes are hostile: every field is read explicitly little-endian,
 * every count/length/offset is checked against what is left in its section
 * and against a named limit before use, and messages say where the problem
 * is. One parser serves both entry points: io_slm_read points constants into
 * a read-only mmap of the file, io_slm_read_memory copies them. */
#include "io_slm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../nn/nn_ops.h"
#include "io_sha256.h"
#include "io_slm_format.h"

static const char *const sec_name[SLM_SEC_COUNT] = {"metadata", "values", "nodes", "io",
                                                     "data"};

typedef struct slm_parser {
    const uint8_t *base;        /* the whole file */
    size_t len;
    const char *src;            /* file name for messages */
    int zero_copy;              /* 1: constants point into base (64-aligned) */
    nn_graph *g;
    nn_err *e;
    char where[128];            /* "node 17 'layer1.0.conv1'", or "" */
    uint64_t off[SLM_SEC_COUNT], size[SLM_SEC_COUNT];
    uint8_t *kind;              /* [n_values] SLM_KIND_* */
    uint8_t *seen;              /* [n_values] scratch marks */
    int64_t *ints;              /* [NN_ATTR_MAX_LIST] attribute scratch */
    float *floats;              /* [NN_ATTR_MAX_LIST] */
} slm_parser;

/* A cursor over one section. */
typedef struct slm_cur {
    const uint8_t *p;
    size_t left;
    int sec;
} slm_cur;

static nn_status pfail(slm_parser *ps, nn_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static nn_status pfail(slm_parser *ps, nn_status st, const char *fmt, ...)
{
    char detail[NN_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (ps->where[0])
        return nn_err_set(ps->e, st, "%s: %s: %s", ps->src, ps->where, detail);
    return nn_err_set(ps->e, st, "%s: %s", ps->src, detail);
}

/* Copies name into dst for messages, shortened to keep room in the error
 * line (cut at a UTF-8 character boundary). */
static void short_name(char *dst, size_t cap, const char *name)
{
    size_t n = strlen(name);
    const size_t max = 48;
    if (n <= max) {
        snprintf(dst, cap, "%s", name);
        return;
    }
    n = max;
    while (n > 0 && ((uint8_t)name[n] & 0xc0) == 0x80)
        n--;
    snprintf(dst, cap, "%.*s...", (int)n, name);
}

static void set_where(slm_parser *ps, const char *what, long idx, const char *name)
{
    char sn[64];
    if (!name) {
        snprintf(ps->where, sizeof ps->where, "%s %ld", what, idx);
        return;
    }
    short_name(sn, sizeof sn, name);
    snprintf(ps->where, sizeof ps->where, "%s %ld '%s'", what, idx, sn);
}

/* ---- primitive reads ---------------------------------------------------- */

static nn_status take(slm_parser *ps, slm_cur *c, size_t n, const char *what,
                      const uint8_t **out)
{
    if (n > c->left)
        return pfail(ps, NN_ERR_FORMAT, "truncated: %s needs %zu bytes, %zu left in the %s section",
                     what, n, c->left, sec_name[c->sec]);
    *out = c->p;
    c->p += n;
    c->left -= n;
    return NN_OK;
}

static nn_status rd_u32(slm_parser *ps, slm_cur *c, const char *what, uint32_t *v)
{
    const uint8_t *p;
    nn_status st = take(ps, c, 4, what, &p);
    if (st == NN_OK)
        *v = slm_get_u32(p);
    return st;
}

static nn_status rd_i32(slm_parser *ps, slm_cur *c, const char *what, int32_t *v)
{
    uint32_t u;
    nn_status st = rd_u32(ps, c, what, &u);
    if (st == NN_OK)
        *v = u <= INT32_MAX ? (int32_t)u : (int32_t)(u - 0x80000000u) + INT32_MIN;
    return st;
}

static nn_status rd_u64(slm_parser *ps, slm_cur *c, const char *what, uint64_t *v)
{
    const uint8_t *p;
    nn_status st = take(ps, c, 8, what, &p);
    if (st == NN_OK)
        *v = slm_get_u64(p);
    return st;
}

static nn_status rd_i64(slm_parser *ps, slm_cur *c, const char *what, int64_t *v)
{
    uint64_t u;
    nn_status st = rd_u64(ps, c, what, &u);
    if (st == NN_OK)
        *v = u <= INT64_MAX ? (int64_t)u : (int64_t)(u - 0x8000000000000000ull) + INT64_MIN;
    return st;
}

static nn_status rd_f32(slm_parser *ps, slm_cur *c, const char *what, float *v)
{
    uint32_t u;
    nn_status st = rd_u32(ps, c, what, &u);
    if (st == NN_OK)
        memcpy(v, &u, 4);
    return st;
}

/* A string: u32 length (min..max bytes), then UTF-8 bytes without NUL.
 * *s points into the file (not terminated). */
static nn_status rd_str(slm_parser *ps, slm_cur *c, const char *what, size_t min, size_t max,
                        const char **s, size_t *n)
{
    uint32_t len;
    const uint8_t *p;
    nn_status st = rd_u32(ps, c, what, &len);
    if (st != NN_OK)
        return st;
    if (len < min)
        return pfail(ps, NN_ERR_FORMAT, "%s is empty", what);
    if (len > max)
        return pfail(ps, NN_ERR_LIMIT, "%s length %u exceeds the limit of %zu bytes", what,
                     len, max);
    if ((st = take(ps, c, len, what, &p)) != NN_OK)
        return st;
    if (!io_slm_utf8_ok((const char *)p, len))
        return pfail(ps, NN_ERR_FORMAT, "%s is not valid UTF-8 or contains a NUL byte", what);
    *s = (const char *)p;
    *n = len;
    return NN_OK;
}

/* A name (1..NN_NAME_MAX-1 bytes) copied NUL-terminated into buf[NN_NAME_MAX]. */
static nn_status rd_name(slm_parser *ps, slm_cur *c, const char *what, char *buf)
{
    const char *s;
    size_t n;
    nn_status st = rd_str(ps, c, what, 1, SLM_NAME_MAX_BYTES, &s, &n);
    if (st == NN_OK) {
        memcpy(buf, s, n);
        buf[n] = '\0';
    }
    return st;
}

/* A string of any allowed length, malloc'ed and NUL-terminated in *out. */
static nn_status rd_str_dup(slm_parser *ps, slm_cur *c, const char *what, char **out)
{
    const char *s;
    size_t n;
    nn_status st = rd_str(ps, c, what, 0, IO_SLM_MAX_STRING, &s, &n);
    if (st != NN_OK)
        return st;
    *out = malloc(n + 1);
    if (!*out)
        return pfail(ps, NN_ERR_NOMEM, "%s: out of memory", what);
    memcpy(*out, s, n);
    (*out)[n] = '\0';
    return NN_OK;
}

/* Reads a u32 count, checks it against limit (NN_ERR_LIMIT) and against
 * the bytes left given the smallest encoding of one entry (NN_ERR_FORMAT). */
static nn_status rd_count(slm_parser *ps, slm_cur *c, const char *what, uint32_t limit,
                          size_t min_entry, uint32_t *count)
{
    nn_status st = rd_u32(ps, c, what, count);
    if (st != NN_OK)
        return st;
    if (*count > limit)
        return pfail(ps, NN_ERR_LIMIT, "%s %u exceeds the limit of %u", what, *count, limit);
    if ((size_t)*count > c->left / min_entry)
        return pfail(ps, NN_ERR_FORMAT, "%s %u cannot fit in the %zu bytes left in the %s section",
                     what, *count, c->left, sec_name[c->sec]);
    return NN_OK;
}

static nn_status cur_open(slm_parser *ps, int sec, slm_cur *c)
{
    c->p = ps->base + ps->off[sec];
    c->left = (size_t)ps->size[sec];
    c->sec = sec;
    ps->where[0] = '\0';
    return NN_OK;
}

static nn_status cur_end(slm_parser *ps, slm_cur *c)
{
    ps->where[0] = '\0';
    if (c->left != 0)
        return pfail(ps, NN_ERR_FORMAT, "%zu unexpected bytes at the end of the %s section",
                     c->left, sec_name[c->sec]);
    return NN_OK;
}

/* Re-reports an nn_err from the graph builder with the file/where prefix. */
static nn_status builder_fail(slm_parser *ps, const nn_err *inner)
{
    return pfail(ps, inner->status, "%s", inner->msg);
}

/* ---- header ------------------------------------------------------------- */

static nn_status parse_header(slm_parser *ps)
{
    const uint8_t *h = ps->base;
    unsigned vmaj, vmin;
    uint64_t fsize;
    uint32_t stored, crc;

    if (ps->len == 0)
        return pfail(ps, NN_ERR_FORMAT, "empty file");
    if (ps->len < 8 || memcmp(h, SLM_MAGIC, 8) != 0)
        return pfail(ps, NN_ERR_FORMAT, "not a scanlite model (bad magic)");
    if (ps->len < SLM_OFF_FLAGS)
        return pfail(ps, NN_ERR_FORMAT, "truncated header (%zu bytes)", ps->len);
    vmaj = slm_get_u16(h + SLM_OFF_VMAJOR);
    vmin = slm_get_u16(h + SLM_OFF_VMINOR);
    if (vmaj > SLM_VERSION_MAJOR || (vmaj == SLM_VERSION_MAJOR && vmin > SLM_VERSION_MINOR))
        return pfail(ps, NN_ERR_UNSUPPORTED,
                     "file format version %u.%u is newer than this scanlite (supports up to %d.%d)",
                     vmaj, vmin, SLM_VERSION_MAJOR, SLM_VERSION_MINOR);
    if (vmaj < 1)
        return pfail(ps, NN_ERR_FORMAT, "invalid file format version %u.%u", vmaj, vmin);
    if (ps->len < SLM_HEADER_SIZE)
        return pfail(ps, NN_ERR_FORMAT, "truncated header (%zu of %d bytes)", ps->len,
                     SLM_HEADER_SIZE);
    if (slm_get_u32(h + SLM_OFF_HEADER_SIZE) != SLM_HEADER_SIZE)
        return pfail(ps, NN_ERR_FORMAT, "header size %u, expected %d for version %u.%u",
                     slm_get_u32(h + SLM_OFF_HEADER_SIZE), SLM_HEADER_SIZE, vmaj, vmin);
    if (slm_get_u32(h + SLM_OFF_FLAGS) != 0)
        return pfail(ps, NN_ERR_UNSUPPORTED, "unknown header flags 0x%08x",
                     slm_get_u32(h + SLM_OFF_FLAGS));
    if (slm_get_u32(h + SLM_OFF_RESERVED0) != 0 || slm_get_u64(h + SLM_OFF_RESERVED1) != 0)
        return pfail(ps, NN_ERR_FORMAT, "reserved header fields are not zero");
    fsize = slm_get_u64(h + SLM_OFF_FILE_SIZE);
    if (fsize != ps->len)
        return pfail(ps, NN_ERR_FORMAT, "file is %zu bytes but its header says %llu (%s)",
                     ps->len, (unsigned long long)fsize,
                     fsize > ps->len ? "truncated" : "trailing bytes");
    for (int s = 0; s < SLM_SEC_COUNT; s++) {
        ps->off[s] = slm_get_u64(h + SLM_OFF_SECTIONS + 16 * s);
        ps->size[s] = slm_get_u64(h + SLM_OFF_SECTIONS + 16 * s + 8);
        if (ps->off[s] < SLM_HEADER_SIZE || ps->off[s] > ps->len ||
            ps->size[s] > ps->len - ps->off[s])
            return pfail(ps, NN_ERR_FORMAT,
                         "%s section (offset %llu, size %llu) lies outside the file (%zu bytes)",
                         sec_name[s], (unsigned long long)ps->off[s],
                         (unsigned long long)ps->size[s], ps->len);
    }
    for (int a = 0; a < SLM_SEC_COUNT; a++)
        for (int b = a + 1; b < SLM_SEC_COUNT; b++)
            if (ps->size[a] && ps->size[b] && ps->off[a] < ps->off[b] + ps->size[b] &&
                ps->off[b] < ps->off[a] + ps->size[a])
                return pfail(ps, NN_ERR_FORMAT, "%s and %s sections overlap", sec_name[a],
                             sec_name[b]);
    if (ps->off[SLM_SEC_DATA] % SLM_DATA_ALIGN != 0)
        return pfail(ps, NN_ERR_FORMAT, "data section offset %llu is not %d-byte aligned",
                     (unsigned long long)ps->off[SLM_SEC_DATA], SLM_DATA_ALIGN);
    stored = slm_get_u32(h + SLM_OFF_INDEX_CRC);
    crc = io_slm_index_crc(h, ps->off, ps->size);
    if (stored != crc)
        return pfail(ps, NN_ERR_FORMAT, "index checksum mismatch (stored %08x, computed %08x): "
                     "the file is corrupt", stored, crc);
    stored = slm_get_u32(h + SLM_OFF_DATA_CRC);
    crc = io_slm_crc32(0, h + ps->off[SLM_SEC_DATA], (size_t)ps->size[SLM_SEC_DATA]);
    if (stored != crc)
        return pfail(ps, NN_ERR_FORMAT, "data checksum mismatch (stored %08x, computed %08x): "
                     "the weights are corrupt", stored, crc);
    return NN_OK;
}

/* ---- metadata ----------------------------------------------------------- */

static nn_status parse_meta(slm_parser *ps)
{
    slm_cur c;
    uint32_t count;
    nn_status st;
    char key[NN_NAME_MAX];
    char *value = NULL;

    cur_open(ps, SLM_SEC_META, &c);
    /* smallest entry: two u32 lengths and a 1-byte key */
    if ((st = rd_count(ps, &c, "metadata count", IO_SLM_MAX_META, 9, &count)) != NN_OK)
        return st;
    for (uint32_t i = 0; i < count; i++) {
        set_where(ps, "metadata entry", (long)i, NULL);
        if ((st = rd_name(ps, &c, "key", key)) != NN_OK)
            return st;
        set_where(ps, "metadata entry", (long)i, key);
        if (nn_graph_get_meta(ps->g, key))
            return pfail(ps, NN_ERR_FORMAT, "duplicate key");
        if ((st = rd_str_dup(ps, &c, "value", &value)) != NN_OK)
            return st;
        st = nn_graph_set_meta(ps->g, key, value);
        free(value);
        if (st != NN_OK)
            return pfail(ps, st, "cannot store the entry (%s)", nn_status_str(st));
    }
    return cur_end(ps, &c);
}
