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
    const uint8_t *p = NULL;
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
    const uint8_t *p = NULL;
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
    const uint8_t *p = NULL;
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

/* Re-reports an nn_err from the graph builder or validator with the
 * file/where prefix. What the builder calls a bad argument is, coming from
 * file bytes, a malformed file. */
static nn_status builder_fail(slm_parser *ps, const nn_err *inner)
{
    nn_status st = inner->status;
    if (st == NN_ERR_INVALID || st == NN_ERR_SHAPE)
        st = NN_ERR_FORMAT;
    return pfail(ps, st, "%s", inner->msg);
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

/* ---- values ------------------------------------------------------------- */

/* Constant data of value i: dtype, offset, length checked against shape and
 * the data section; *data points into the file. */
static nn_status parse_const_data(slm_parser *ps, slm_cur *c, const nn_shape *shape,
                                  const uint8_t **data, size_t *bytes)
{
    uint32_t dtype;
    uint64_t off, len;
    int64_t numel = nn_shape_numel(shape);
    size_t want;
    nn_status st;

    if ((st = rd_u32(ps, c, "dtype", &dtype)) != NN_OK ||
        (st = rd_u64(ps, c, "data offset", &off)) != NN_OK ||
        (st = rd_u64(ps, c, "data length", &len)) != NN_OK)
        return st;
    if (dtype != SLM_DTYPE_F32)
        return pfail(ps, NN_ERR_UNSUPPORTED, "dtype %u not supported (only %d = f32)", dtype,
                     SLM_DTYPE_F32);
    if (numel < 1 || nn_size_mul((size_t)numel, sizeof(float), &want) != 0)
        return pfail(ps, NN_ERR_LIMIT, "shape has too many elements");
    if (len != want)
        return pfail(ps, NN_ERR_FORMAT, "data length %llu, expected %zu (%lld floats)",
                     (unsigned long long)len, want, (long long)numel);
    if (off % SLM_DATA_ALIGN != 0)
        return pfail(ps, NN_ERR_FORMAT, "data offset %llu is not %d-byte aligned",
                     (unsigned long long)off, SLM_DATA_ALIGN);
    if (off > ps->size[SLM_SEC_DATA] || len > ps->size[SLM_SEC_DATA] - off)
        return pfail(ps, NN_ERR_FORMAT, "data [%llu, +%llu) lies outside the data section "
                     "(%llu bytes)", (unsigned long long)off, (unsigned long long)len,
                     (unsigned long long)ps->size[SLM_SEC_DATA]);
    *data = ps->base + ps->off[SLM_SEC_DATA] + off;
    *bytes = want;
    return NN_OK;
}

/* Adds constant `name` with its data either pointed to (zero copy) or
 * copied into graph-owned aligned memory. */
static int add_const(slm_parser *ps, const char *name, const nn_shape *shape,
                     const uint8_t *data, size_t bytes, nn_err *inner)
{
    float *d;
    if (ps->zero_copy)
        return nn_graph_add_const(ps->g, name, shape, (float *)(uintptr_t)data, 0, inner);
    d = nn_aligned_alloc(bytes);
    if (!d) {
        nn_err_set(inner, NN_ERR_NOMEM, "out of memory for %zu bytes of constant data", bytes);
        return -1;
    }
    memcpy(d, data, bytes);
    return nn_graph_add_const(ps->g, name, shape, d, 1, inner);
}

static nn_status parse_value(slm_parser *ps, slm_cur *c, uint32_t i)
{
    char name[NN_NAME_MAX];
    uint32_t kind, ndim;
    nn_shape shape;
    nn_err inner;
    nn_status st;
    int idx;

    memset(&shape, 0, sizeof shape);
    set_where(ps, "value", (long)i, NULL);
    if ((st = rd_name(ps, c, "name", name)) != NN_OK)
        return st;
    set_where(ps, "value", (long)i, name);
    if ((st = rd_u32(ps, c, "kind", &kind)) != NN_OK || (st = rd_u32(ps, c, "ndim", &ndim)) != NN_OK)
        return st;
    if (kind > SLM_KIND_CONST)
        return pfail(ps, NN_ERR_FORMAT, "unknown value kind %u", kind);
    if (ndim > NN_MAX_DIMS)
        return pfail(ps, NN_ERR_LIMIT, "ndim %u exceeds the limit of %d", ndim, NN_MAX_DIMS);
    if (kind == SLM_KIND_INTERMEDIATE && ndim != 0)
        return pfail(ps, NN_ERR_FORMAT, "intermediate value declares %u dims (must be 0)", ndim);
    shape.ndim = (int)ndim;
    for (uint32_t d = 0; d < ndim; d++) {
        if ((st = rd_i64(ps, c, "dim", &shape.d[d])) != NN_OK)
            return st;
        if (shape.d[d] < 1 && !(kind == SLM_KIND_INPUT && d == 0 && shape.d[d] == NN_DIM_BATCH))
            return pfail(ps, NN_ERR_FORMAT, "dim %u is %lld (dims must be >= 1%s)", d,
                         (long long)shape.d[d],
                         kind == SLM_KIND_INPUT ? ", or -1 for the batch in dim 0" : "");
    }
    nn_err_clear(&inner);
    if (kind == SLM_KIND_CONST) {
        const uint8_t *data = NULL;
        size_t bytes = 0;
        if ((st = parse_const_data(ps, c, &shape, &data, &bytes)) != NN_OK)
            return st;
        idx = add_const(ps, name, &shape, data, bytes, &inner);
    } else if (kind == SLM_KIND_INPUT) {
        idx = nn_graph_add_input(ps->g, name, &shape, &inner);
    } else {
        idx = nn_graph_add_value(ps->g, name, &inner);
    }
    if (idx < 0)
        return builder_fail(ps, &inner);
    if (idx != (int)i)
        return pfail(ps, NN_ERR_INVALID, "graph builder returned index %d", idx);
    ps->kind[i] = (uint8_t)kind;
    return NN_OK;
}

static nn_status parse_values(slm_parser *ps)
{
    slm_cur c;
    uint32_t count;
    nn_status st;

    cur_open(ps, SLM_SEC_VALUES, &c);
    /* smallest entry: name length + 1 byte, kind, ndim */
    if ((st = rd_count(ps, &c, "value count", NN_GRAPH_MAX_VALUES, 13, &count)) != NN_OK)
        return st;
    ps->kind = calloc(count ? count : 1, 1);
    ps->seen = calloc(count ? count : 1, 1);
    if (!ps->kind || !ps->seen)
        return pfail(ps, NN_ERR_NOMEM, "out of memory for %u values", count);
    for (uint32_t i = 0; i < count; i++)
        if ((st = parse_value(ps, &c, i)) != NN_OK)
            return st;
    return cur_end(ps, &c);
}

/* ---- nodes -------------------------------------------------------------- */

static nn_status parse_attr(slm_parser *ps, slm_cur *c, nn_node *node)
{
    char name[NN_NAME_MAX];
    uint32_t type, n;
    nn_status st;
    int64_t iv;
    float fv;
    char *s = NULL;

    if ((st = rd_name(ps, c, "attribute name", name)) != NN_OK)
        return st;
    if (nn_node_attr(node, name))
        return pfail(ps, NN_ERR_FORMAT, "attribute '%s' appears twice", name);
    if ((st = rd_u32(ps, c, "attribute type", &type)) != NN_OK)
        return st;
    switch (type) {
    case NN_ATTR_INT:
        if ((st = rd_i64(ps, c, "attribute value", &iv)) != NN_OK)
            return st;
        st = nn_node_set_int(node, name, iv);
        break;
    case NN_ATTR_FLOAT:
        if ((st = rd_f32(ps, c, "attribute value", &fv)) != NN_OK)
            return st;
        st = nn_node_set_float(node, name, fv);
        break;
    case NN_ATTR_INTS:
    case NN_ATTR_FLOATS:
        if ((st = rd_count(ps, c, "attribute list length", NN_ATTR_MAX_LIST,
                           type == NN_ATTR_INTS ? 8 : 4, &n)) != NN_OK)
            return st;
        for (uint32_t k = 0; k < n; k++) {
            st = type == NN_ATTR_INTS ? rd_i64(ps, c, "list element", &ps->ints[k])
                                      : rd_f32(ps, c, "list element", &ps->floats[k]);
            if (st != NN_OK)
                return st;
        }
        st = type == NN_ATTR_INTS ? nn_node_set_ints(node, name, ps->ints, (int)n)
                                  : nn_node_set_floats(node, name, ps->floats, (int)n);
        break;
    case NN_ATTR_STRING:
        if ((st = rd_str_dup(ps, c, "attribute value", &s)) != NN_OK)
            return st;
        st = nn_node_set_string(node, name, s);
        free(s);
        break;
    default:
        return pfail(ps, NN_ERR_FORMAT, "attribute '%s' has unknown type %u", name, type);
    }
    if (st != NN_OK)
        return pfail(ps, st, "cannot store attribute '%s' (%s)", name, nn_status_str(st));
    return NN_OK;
}

static nn_status parse_node(slm_parser *ps, slm_cur *c, uint32_t i)
{
    char op_name[NN_NAME_MAX], name[NN_NAME_MAX];
    int inputs[NN_MAX_IO];
    int32_t output;
    uint32_t n_in, n_attrs;
    int n_values = ps->g->n_values;
    nn_node *node;
    nn_err inner;
    nn_status st;
    int op;

    set_where(ps, "node", (long)i, NULL);
    if ((st = rd_name(ps, c, "op name", op_name)) != NN_OK ||
        (st = rd_name(ps, c, "node name", name)) != NN_OK)
        return st;
    set_where(ps, "node", (long)i, name);
    op = nn_op_from_name(op_name);
    if (op < 0) {
        char sn[64];
        short_name(sn, sizeof sn, op_name);
        return pfail(ps, NN_ERR_UNSUPPORTED, "unknown op '%s' (not implemented by this scanlite)",
                     sn);
    }
    if ((st = rd_i32(ps, c, "output index", &output)) != NN_OK)
        return st;
    if (output < 0 || output >= n_values)
        return pfail(ps, NN_ERR_FORMAT, "output index %d out of range (%d values)", output,
                     n_values);
    if (ps->kind[output] != SLM_KIND_INTERMEDIATE)
        return pfail(ps, NN_ERR_FORMAT, "output '%s' is a %s", ps->g->values[output].name,
                     ps->kind[output] == SLM_KIND_CONST ? "constant" : "graph input");
    if (ps->seen[output])
        return pfail(ps, NN_ERR_FORMAT, "output '%s' is produced by an earlier node too",
                     ps->g->values[output].name);
    ps->seen[output] = 1;
    if ((st = rd_count(ps, c, "input count", NN_MAX_IO, 4, &n_in)) != NN_OK)
        return st;
    for (uint32_t k = 0; k < n_in; k++) {
        int32_t v;
        if ((st = rd_i32(ps, c, "input index", &v)) != NN_OK)
            return st;
        if (v < -1 || v >= n_values)
            return pfail(ps, NN_ERR_FORMAT, "input index %d out of range (%d values)", v,
                         n_values);
        inputs[k] = v;
    }
    nn_err_clear(&inner);
    node = nn_graph_add_node(ps->g, op, name, inputs, (int)n_in, output, &inner);
    if (!node)
        return builder_fail(ps, &inner);
    /* smallest attribute: name length + 1 byte, type, 4-byte payload */
    if ((st = rd_count(ps, c, "attribute count", SLM_MAX_ATTRS, 13, &n_attrs)) != NN_OK)
        return st;
    for (uint32_t a = 0; a < n_attrs; a++)
        if ((st = parse_attr(ps, c, node)) != NN_OK)
            return st;
    return NN_OK;
}

static nn_status parse_nodes(slm_parser *ps)
{
    slm_cur c;
    uint32_t count;
    nn_status st;

    cur_open(ps, SLM_SEC_NODES, &c);
    memset(ps->seen, 0, ps->g->n_values > 0 ? (size_t)ps->g->n_values : 1);
    /* smallest entry: op and node name (length + 1 byte each), output,
     * input count, attribute count */
    if ((st = rd_count(ps, &c, "node count", NN_GRAPH_MAX_NODES, 22, &count)) != NN_OK)
        return st;
    for (uint32_t i = 0; i < count; i++)
        if ((st = parse_node(ps, &c, i)) != NN_OK)
            return st;
    return cur_end(ps, &c);
}

/* ---- graph inputs and outputs ------------------------------------------- */

static nn_status parse_io(slm_parser *ps)
{
    nn_graph *g = ps->g;
    slm_cur c;
    uint32_t n_in, n_out;
    nn_err inner;
    nn_status st;
    int n_input_values = 0;

    cur_open(ps, SLM_SEC_IO, &c);
    memset(ps->seen, 0, g->n_values > 0 ? (size_t)g->n_values : 1);
    for (int v = 0; v < g->n_values; v++)
        n_input_values += ps->kind[v] == SLM_KIND_INPUT;
    if ((st = rd_count(ps, &c, "graph input count", (uint32_t)g->n_values, 4, &n_in)) != NN_OK)
        return st;
    if ((int)n_in != n_input_values || g->n_inputs != n_input_values)
        return pfail(ps, NN_ERR_FORMAT, "%u graph inputs listed but %d values are inputs", n_in,
                     n_input_values);
    for (uint32_t k = 0; k < n_in; k++) {
        int32_t v;
        set_where(ps, "graph input", (long)k, NULL);
        if ((st = rd_i32(ps, &c, "value index", &v)) != NN_OK)
            return st;
        if (v < 0 || v >= g->n_values || ps->kind[v] != SLM_KIND_INPUT || ps->seen[v])
            return pfail(ps, NN_ERR_FORMAT, "value index %d is not an input value listed once", v);
        ps->seen[v] = 1;
        g->inputs[k] = v;   /* same set as the builder's, in the file's order */
    }
    ps->where[0] = '\0';
    if ((st = rd_count(ps, &c, "graph output count", (uint32_t)g->n_values, 4, &n_out)) != NN_OK)
        return st;
    for (uint32_t k = 0; k < n_out; k++) {
        int32_t v;
        set_where(ps, "graph output", (long)k, NULL);
        if ((st = rd_i32(ps, &c, "value index", &v)) != NN_OK)
            return st;
        if (v < 0 || v >= g->n_values)
            return pfail(ps, NN_ERR_FORMAT, "value index %d out of range (%d values)", v,
                         g->n_values);
        if (ps->seen[v] == 2)
            return pfail(ps, NN_ERR_FORMAT, "value '%s' is listed twice", g->values[v].name);
        ps->seen[v] = 2;
        nn_err_clear(&inner);
        if (nn_graph_add_output(g, v, &inner) != NN_OK)
            return builder_fail(ps, &inner);
    }
    return cur_end(ps, &c);
}

/* ---- entry points ------------------------------------------------------- */

/* Parses base[0..len) into *out. zero_copy: constants point into base,
 * which the caller keeps alive (and attaches as g->backing). */
static nn_status slm_parse(const uint8_t *base, size_t len, const char *src, int zero_copy,
                           nn_graph **out, nn_err *e)
{
    slm_parser ps;
    nn_err inner;
    nn_status st;

    memset(&ps, 0, sizeof ps);
    ps.base = base;
    ps.len = len;
    ps.src = src;
    ps.zero_copy = zero_copy;
    ps.e = e;
    *out = NULL;
    if (!slm_host_is_le())
        return pfail(&ps, NN_ERR_UNSUPPORTED,
                     "big-endian hosts are not supported (.slm data is little-endian fp32)");
    if (len > IO_SLM_MAX_FILE)
        return pfail(&ps, NN_ERR_LIMIT, "file is %zu bytes (limit %zu)", len, IO_SLM_MAX_FILE);
    if ((st = parse_header(&ps)) != NN_OK)
        return st;
    ps.g = nn_graph_create();
    ps.ints = malloc(NN_ATTR_MAX_LIST * sizeof *ps.ints);
    ps.floats = malloc(NN_ATTR_MAX_LIST * sizeof *ps.floats);
    if (!ps.g || !ps.ints || !ps.floats) {
        st = pfail(&ps, NN_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((st = parse_meta(&ps)) != NN_OK || (st = parse_values(&ps)) != NN_OK ||
        (st = parse_nodes(&ps)) != NN_OK || (st = parse_io(&ps)) != NN_OK)
        goto fail;
    nn_err_clear(&inner);
    if ((st = nn_graph_validate(ps.g, &inner)) != NN_OK) {
        st = builder_fail(&ps, &inner);
        goto fail;
    }
    *out = ps.g;
    ps.g = NULL;
fail:
    nn_graph_free(ps.g);
    free(ps.kind);
    free(ps.seen);
    free(ps.ints);
    free(ps.floats);
    return st;
}

static const char *path_base(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

nn_status io_slm_read_memory(const void *buf, size_t len, nn_graph **out, nn_err *e)
{
    if (!out || (!buf && len))
        return nn_err_set(e, NN_ERR_INVALID, "io_slm_read_memory: NULL argument");
    return slm_parse(buf, len, "(memory)", 0, out, e);
}

/* The read-only mapping a graph from io_slm_read keeps as g->backing. */
typedef struct slm_mapping {
    void *addr;
    size_t len;
} slm_mapping;

static void slm_mapping_free(void *p)
{
    slm_mapping *m = p;
    if (!m)
        return;
    munmap(m->addr, m->len);
    free(m);
}

nn_status io_slm_read(const char *path, nn_graph **out, char *sha256_hex, nn_err *e)
{
    const char *src;
    struct stat stt;
    slm_mapping *m = NULL;
    nn_status st;
    int fd;

    if (!path || !out)
        return nn_err_set(e, NN_ERR_INVALID, "io_slm_read: NULL argument");
    *out = NULL;
    src = path_base(path);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return nn_err_set(e, NN_ERR_IO, "%s: cannot open: %s", src, strerror(errno));
    if (fstat(fd, &stt) != 0) {
        st = nn_err_set(e, NN_ERR_IO, "%s: cannot stat: %s", src, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(stt.st_mode)) {
        st = nn_err_set(e, NN_ERR_IO, "%s: not a regular file", src);
        goto fail;
    }
    if ((uint64_t)stt.st_size > (uint64_t)IO_SLM_MAX_FILE) {
        st = nn_err_set(e, NN_ERR_LIMIT, "%s: file is %lld bytes (limit %zu)", src,
                        (long long)stt.st_size, IO_SLM_MAX_FILE);
        goto fail;
    }
    if (stt.st_size == 0) {
        st = nn_err_set(e, NN_ERR_FORMAT, "%s: empty file", src);
        goto fail;
    }
    m = calloc(1, sizeof *m);
    if (!m) {
        st = nn_err_set(e, NN_ERR_NOMEM, "%s: out of memory", src);
        goto fail;
    }
    m->len = (size_t)stt.st_size;
    m->addr = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m->addr == MAP_FAILED) {
        st = nn_err_set(e, NN_ERR_IO, "%s: mmap failed: %s", src, strerror(errno));
        free(m);
        m = NULL;
        goto fail;
    }
    close(fd);
    fd = -1;
    if (sha256_hex)
        io_sha256_hex(m->addr, m->len, sha256_hex);
    if ((st = slm_parse(m->addr, m->len, src, 1, out, e)) != NN_OK)
        goto fail;
    (*out)->backing = m;
    (*out)->backing_free = slm_mapping_free;
    return NN_OK;
fail:
    if (fd >= 0)
        close(fd);
    slm_mapping_free(m);
    return st;
}
