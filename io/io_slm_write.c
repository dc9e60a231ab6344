/* io_slm_write.c — serialises a graph into a .slm model file
 * (docs/FORMAT.md): header, metadata / values / nodes / io sections built
 * in memory, then the constants streamed 64-byte aligned. The output is a
 * pure function of the graph (no timestamps), written to "<path>.tmp",
 * fsync'ed and renamed over path so readers never see a partial file.
 *
 * The bytes reach the kernel in whole 2 MiB write()s at 2 MiB-aligned
 * offsets (SLM_WRITE_CHUNK): a file system with large page-cache folios
 * (ext4 on Linux >= 6.16, XFS) then caches the file in 2 MiB folios, and a
 * reader's mmap maps them a folio per fault instead of 16 pages per fault:
 * touching ResNet18's 81 MB went from ~1,240 faults and 6-10 ms to 43
 * faults and 0.3 ms here, which is most of a cold start's page-table work. */
#include "io_slm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../nn/nn_ops.h"
#include "io_slm_format.h"

/* Growable byte buffer for the index (everything before the data region). */
typedef struct slm_buf {
    uint8_t *p;
    size_t len, cap;
    int oom;                    /* sticky: an append failed */
} slm_buf;

static uint8_t *buf_grow(slm_buf *b, size_t n)
{
    size_t need;
    if (b->oom || nn_size_add(b->len, n, &need) != 0) {
        b->oom = 1;
        return NULL;
    }
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        uint8_t *np;
        while (cap < need) {
            if (nn_size_mul(cap, 2, &cap) != 0) {
                b->oom = 1;
                return NULL;
            }
        }
        np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return NULL;
        }
        b->p = np;
        b->cap = cap;
    }
    b->len = need;
    return b->p + need - n;
}

static void buf_u32(slm_buf *b, uint32_t v)
{
    uint8_t *p = buf_grow(b, 4);
    if (p)
        slm_put_u32(p, v);
}

static void buf_u64(slm_buf *b, uint64_t v)
{
    uint8_t *p = buf_grow(b, 8);
    if (p)
        slm_put_u64(p, v);
}

static void buf_f32(slm_buf *b, float f)
{
    uint32_t bits;
    memcpy(&bits, &f, 4);
    buf_u32(b, bits);
}

/* u32 byte length, then the bytes (no NUL). Lengths were checked before. */
static void buf_str(slm_buf *b, const char *s)
{
    size_t n = strlen(s);
    uint8_t *p;
    buf_u32(b, (uint32_t)n);
    p = buf_grow(b, n);
    if (p && n)
        memcpy(p, s, n);
}

static size_t align_up(size_t x)
{
    return (x + SLM_DATA_ALIGN - 1) & ~(size_t)(SLM_DATA_ALIGN - 1);
}

/* Writer state: the graph, where we are (for messages) and the layout. */
typedef struct slm_writer {
    const nn_graph *g;
    const char *src;            /* basename of the output path */
    nn_err *e;
    uint8_t *kind;              /* [n_values] SLM_KIND_* */
    size_t *data_off;           /* [n_values] offset in the data section (consts) */
    size_t data_size;           /* bytes of the data section */
} slm_writer;

static nn_status wfail(slm_writer *w, nn_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static nn_status wfail(slm_writer *w, nn_status st, const char *fmt, ...)
{
    char detail[NN_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return nn_err_set(w->e, st, "%s: %s", w->src, detail);
}

/* A string the reader will accept: UTF-8 without NUL, 1..max bytes (0..max
 * when may_be_empty). what names it in the message. */
static nn_status check_str(slm_writer *w, const char *s, size_t max, int may_be_empty,
                           const char *what)
{
    size_t n;
    if (!s)
        return wfail(w, NN_ERR_INVALID, "%s is NULL", what);
    n = strlen(s);
    if (n == 0 && !may_be_empty)
        return wfail(w, NN_ERR_INVALID, "%s is empty", what);
    if (n > max)
        return wfail(w, NN_ERR_LIMIT, "%s is %zu bytes (limit %zu)", what, n, max);
    if (!io_slm_utf8_ok(s, n))
        return wfail(w, NN_ERR_INVALID, "%s is not valid UTF-8", what);
    return NN_OK;
}

/* Checks that g is something io_slm_read accepts back (same limits), and
 * assigns kinds and data offsets. */
static nn_status writer_check(slm_writer *w)
{
    const nn_graph *g = w->g;
    char what[64];
    nn_status st;
    size_t off = 0;

    if (g->n_values < 0 || g->n_values > NN_GRAPH_MAX_VALUES)
        return wfail(w, NN_ERR_LIMIT, "%d values (limit %d)", g->n_values, NN_GRAPH_MAX_VALUES);
    if (g->n_nodes < 0 || g->n_nodes > NN_GRAPH_MAX_NODES)
        return wfail(w, NN_ERR_LIMIT, "%d nodes (limit %d)", g->n_nodes, NN_GRAPH_MAX_NODES);
    if (g->n_meta < 0 || g->n_meta > IO_SLM_MAX_META)
        return wfail(w, NN_ERR_LIMIT, "%d metadata entries (limit %d)", g->n_meta, IO_SLM_MAX_META);
    if (g->n_inputs < 0 || g->n_inputs > SLM_MAX_GRAPH_INPUTS || g->n_outputs < 0 ||
        g->n_outputs > SLM_MAX_GRAPH_OUTPUTS)
        return wfail(w, NN_ERR_LIMIT, "%d graph inputs, %d outputs (limits %d, %d)",
                     g->n_inputs, g->n_outputs, SLM_MAX_GRAPH_INPUTS, SLM_MAX_GRAPH_OUTPUTS);
    for (int i = 0; i < g->n_meta; i++) {
        snprintf(what, sizeof what, "metadata key %d", i);
        if ((st = check_str(w, g->meta[i].key, SLM_NAME_MAX_BYTES, 0, what)) != NN_OK)
            return st;
        snprintf(what, sizeof what, "metadata value %d", i);
        if ((st = check_str(w, g->meta[i].value, IO_SLM_MAX_STRING, 1, what)) != NN_OK)
            return st;
    }
    for (int i = 0; i < g->n_values; i++)
        w->kind[i] = g->values[i].is_const ? SLM_KIND_CONST : SLM_KIND_INTERMEDIATE;
    for (int k = 0; k < g->n_inputs; k++) {
        int v = g->inputs[k];
        if (v < 0 || v >= g->n_values || w->kind[v] != SLM_KIND_INTERMEDIATE)
            return wfail(w, NN_ERR_INVALID, "graph input %d (value %d) is not a distinct "
                         "non-constant value", k, v);
        w->kind[v] = SLM_KIND_INPUT;
    }
    for (int k = 0; k < g->n_outputs; k++)
        if (g->outputs[k] < 0 || g->outputs[k] >= g->n_values)
            return wfail(w, NN_ERR_INVALID, "graph output %d: value %d out of range", k,
                         g->outputs[k]);
    for (int i = 0; i < g->n_values; i++) {
        const nn_value *v = &g->values[i];
        snprintf(what, sizeof what, "value %d name", i);
        if ((st = check_str(w, v->name, SLM_NAME_MAX_BYTES, 0, what)) != NN_OK)
            return st;
        if (w->kind[i] == SLM_KIND_INTERMEDIATE)
            continue;
        if (v->shape.ndim < 0 || v->shape.ndim > NN_MAX_DIMS)
            return wfail(w, NN_ERR_INVALID, "value %d '%s': ndim %d", i, v->name, v->shape.ndim);
        for (int d = 0; d < v->shape.ndim; d++) {
            int64_t x = v->shape.d[d];
            int batch_ok = w->kind[i] == SLM_KIND_INPUT && d == 0 && x == NN_DIM_BATCH;
            if (x < 1 && !batch_ok)
                return wfail(w, NN_ERR_INVALID, "value %d '%s': dim %d is %lld", i, v->name,
                             d, (long long)x);
        }
        if (w->kind[i] == SLM_KIND_CONST) {
            int64_t numel = nn_shape_numel(&v->shape);
            size_t bytes;
            if (!v->data)
                return wfail(w, NN_ERR_INVALID, "constant %d '%s' has no data", i, v->name);
            if (numel < 1 || nn_size_mul((size_t)numel, sizeof(float), &bytes) != 0)
                return wfail(w, NN_ERR_LIMIT, "constant %d '%s' is too large", i, v->name);
            off = align_up(off);
            w->data_off[i] = off;
            if (nn_size_add(off, bytes, &off) != 0 || off > IO_SLM_MAX_FILE)
                return wfail(w, NN_ERR_LIMIT, "constant data exceeds %zu bytes", IO_SLM_MAX_FILE);
        }
    }
    w->data_size = off;
    for (int n = 0; n < g->n_nodes; n++) {
        const nn_node *nd = &g->nodes[n];
        const char *op = nn_op_get((nn_op_type)nd->op) ? nn_op_name((nn_op_type)nd->op) : NULL;
        snprintf(what, sizeof what, "node %d name", n);
        if ((st = check_str(w, nd->name, SLM_NAME_MAX_BYTES, 0, what)) != NN_OK)
            return st;
        if (!op)
            return wfail(w, NN_ERR_INVALID, "node %d '%s': op %d out of range", n, nd->name,
                         nd->op);
        if (nd->n_inputs < 0 || nd->n_inputs > NN_MAX_IO)
            return wfail(w, NN_ERR_LIMIT, "node %d '%s': %d inputs (limit %d)", n, nd->name,
                         nd->n_inputs, NN_MAX_IO);
        for (int k = 0; k < nd->n_inputs; k++)
            if (nd->inputs[k] < -1 || nd->inputs[k] >= g->n_values)
                return wfail(w, NN_ERR_INVALID, "node %d '%s': input %d index %d out of range",
                             n, nd->name, k, nd->inputs[k]);
        if (nd->output < 0 || nd->output >= g->n_values)
            return wfail(w, NN_ERR_INVALID, "node %d '%s': output index %d out of range", n,
                         nd->name, nd->output);
        if (nd->n_attrs < 0 || nd->n_attrs > SLM_MAX_ATTRS)
            return wfail(w, NN_ERR_LIMIT, "node %d '%s': %d attributes (limit %d)", n,
                         nd->name, nd->n_attrs, SLM_MAX_ATTRS);
        for (int a = 0; a < nd->n_attrs; a++) {
            const nn_attr *at = &nd->attrs[a];
            snprintf(what, sizeof what, "node %d attribute %d name", n, a);
            if ((st = check_str(w, at->name, SLM_NAME_MAX_BYTES, 0, what)) != NN_OK)
                return st;
            switch (at->type) {
            case NN_ATTR_INT:
            case NN_ATTR_FLOAT:
                break;
            case NN_ATTR_INTS:
            case NN_ATTR_FLOATS:
                if (at->n < 0 || at->n > NN_ATTR_MAX_LIST ||
                    (at->n > 0 && at->type == NN_ATTR_INTS && !at->ints) ||
                    (at->n > 0 && at->type == NN_ATTR_FLOATS && !at->floats))
                    return wfail(w, NN_ERR_INVALID, "node %d '%s': attribute '%s' has a bad "
                                 "list (%d elements)", n, nd->name, at->name, at->n);
                break;
            case NN_ATTR_STRING:
                snprintf(what, sizeof what, "node %d attribute %d value", n, a);
                if ((st = check_str(w, at->s, IO_SLM_MAX_STRING, 1, what)) != NN_OK)
                    return st;
                break;
            default:
                return wfail(w, NN_ERR_INVALID, "node %d '%s': attribute '%s' has type %d",
                             n, nd->name, at->name, (int)at->type);
            }
        }
    }
    return NN_OK;
}

static void emit_meta(const slm_writer *w, slm_buf *b)
{
    buf_u32(b, (uint32_t)w->g->n_meta);
    for (int i = 0; i < w->g->n_meta; i++) {
        buf_str(b, w->g->meta[i].key);
        buf_str(b, w->g->meta[i].value);
    }
}

static void emit_values(const slm_writer *w, slm_buf *b)
{
    const nn_graph *g = w->g;
    buf_u32(b, (uint32_t)g->n_values);
    for (int i = 0; i < g->n_values; i++) {
        const nn_value *v = &g->values[i];
        int ndim = w->kind[i] == SLM_KIND_INTERMEDIATE ? 0 : v->shape.ndim;
        buf_str(b, v->name);
        buf_u32(b, w->kind[i]);
        buf_u32(b, (uint32_t)ndim);
        for (int d = 0; d < ndim; d++)
            buf_u64(b, (uint64_t)v->shape.d[d]);
        if (w->kind[i] == SLM_KIND_CONST) {
            buf_u32(b, SLM_DTYPE_F32);
            buf_u64(b, w->data_off[i]);
            buf_u64(b, (uint64_t)nn_shape_numel(&v->shape) * sizeof(float));
        }
    }
}

static void emit_nodes(const slm_writer *w, slm_buf *b)
{
    const nn_graph *g = w->g;
    buf_u32(b, (uint32_t)g->n_nodes);
    for (int n = 0; n < g->n_nodes; n++) {
        const nn_node *nd = &g->nodes[n];
        buf_str(b, nn_op_name((nn_op_type)nd->op));
        buf_str(b, nd->name);
        buf_u32(b, (uint32_t)nd->output);
        buf_u32(b, (uint32_t)nd->n_inputs);
        for (int k = 0; k < nd->n_inputs; k++)
            buf_u32(b, (uint32_t)nd->inputs[k]);
        buf_u32(b, (uint32_t)nd->n_attrs);
        for (int a = 0; a < nd->n_attrs; a++) {
            const nn_attr *at = &nd->attrs[a];
            buf_str(b, at->name);
            buf_u32(b, (uint32_t)at->type);
            switch (at->type) {
            case NN_ATTR_INT:
                buf_u64(b, (uint64_t)at->i);
                break;
            case NN_ATTR_FLOAT:
                buf_f32(b, at->f);
                break;
            case NN_ATTR_INTS:
                buf_u32(b, (uint32_t)at->n);
                for (int k = 0; k < at->n; k++)
                    buf_u64(b, (uint64_t)at->ints[k]);
                break;
            case NN_ATTR_FLOATS:
                buf_u32(b, (uint32_t)at->n);
                for (int k = 0; k < at->n; k++)
                    buf_f32(b, at->floats[k]);
                break;
            case NN_ATTR_STRING:
                buf_str(b, at->s);
                break;
            }
        }
    }
}

static void emit_io(const slm_writer *w, slm_buf *b)
{
    buf_u32(b, (uint32_t)w->g->n_inputs);
    for (int k = 0; k < w->g->n_inputs; k++)
        buf_u32(b, (uint32_t)w->g->inputs[k]);
    buf_u32(b, (uint32_t)w->g->n_outputs);
    for (int k = 0; k < w->g->n_outputs; k++)
        buf_u32(b, (uint32_t)w->g->outputs[k]);
}

/* Builds header + index sections + padding up to the data section in b,
 * and fills in both checksums. */
static nn_status build_index(slm_writer *w, slm_buf *b)
{
    uint64_t off[SLM_SEC_COUNT], size[SLM_SEC_COUNT];
    void (*emit[SLM_SEC_DATA])(const slm_writer *, slm_buf *) = {
        [SLM_SEC_META] = emit_meta, [SLM_SEC_VALUES] = emit_values,
        [SLM_SEC_NODES] = emit_nodes, [SLM_SEC_IO] = emit_io};
    uint8_t *h = buf_grow(b, SLM_HEADER_SIZE);
    size_t file_size;
    uint32_t dcrc = 0;
    size_t data_end = 0;
    static const uint8_t zeros[SLM_DATA_ALIGN];

    if (h)
        memset(h, 0, SLM_HEADER_SIZE);
    for (int s = 0; s < SLM_SEC_DATA; s++) {
        off[s] = b->len;
        emit[s](w, b);
        size[s] = b->len - off[s];
    }
    off[SLM_SEC_DATA] = align_up(b->len);
    size[SLM_SEC_DATA] = w->data_size;
    h = buf_grow(b, (size_t)off[SLM_SEC_DATA] - b->len);
    if (b->oom)
        return wfail(w, NN_ERR_NOMEM, "out of memory building the index");
    if (h)
        memset(h, 0, b->p + b->len - h);
    if (nn_size_add((size_t)off[SLM_SEC_DATA], w->data_size, &file_size) != 0 ||
        file_size > IO_SLM_MAX_FILE)
        return wfail(w, NN_ERR_LIMIT, "model file would exceed %zu bytes", IO_SLM_MAX_FILE);

    h = b->p;
    memcpy(h + SLM_OFF_MAGIC, SLM_MAGIC, 8);
    slm_put_u16(h + SLM_OFF_VMAJOR, SLM_VERSION_MAJOR);
    slm_put_u16(h + SLM_OFF_VMINOR, SLM_VERSION_MINOR);
    slm_put_u32(h + SLM_OFF_HEADER_SIZE, SLM_HEADER_SIZE);
    slm_put_u64(h + SLM_OFF_FILE_SIZE, file_size);
    for (int s = 0; s < SLM_SEC_COUNT; s++) {
        slm_put_u64(h + SLM_OFF_SECTIONS + 16 * s, off[s]);
        slm_put_u64(h + SLM_OFF_SECTIONS + 16 * s + 8, size[s]);
    }
    for (int i = 0; i < w->g->n_values; i++) {
        const nn_value *v = &w->g->values[i];
        size_t bytes = (size_t)nn_shape_numel(&v->shape) * sizeof(float);
        if (w->kind[i] != SLM_KIND_CONST)
            continue;
        dcrc = io_slm_crc32(dcrc, zeros, w->data_off[i] - data_end);  /* < 64 bytes */
        dcrc = io_slm_crc32(dcrc, v->data, bytes);
        data_end = w->data_off[i] + bytes;
    }
    slm_put_u32(h + SLM_OFF_DATA_CRC, dcrc);
    slm_put_u32(h + SLM_OFF_INDEX_CRC, io_slm_index_crc(h, off, size));
    return NN_OK;
}

#define SLM_WRITE_CHUNK ((size_t)2 << 20)

/* Staging buffer in front of fd: every write() but the last is one whole,
 * aligned SLM_WRITE_CHUNK (see the top of the file). */
typedef struct slm_out {
    int fd;
    uint8_t *buf;               /* SLM_WRITE_CHUNK bytes, owned */
    size_t len;                 /* bytes staged */
} slm_out;

static int write_all(int fd, const void *data, size_t n)
{
    const uint8_t *p = data;
    while (n > 0) {
        ssize_t k = write(fd, p, n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int out_flush(slm_out *o)
{
    int r = write_all(o->fd, o->buf, o->len);
    o->len = 0;
    return r;
}

/* data == NULL appends n zero bytes. */
static int out_put(slm_out *o, const void *data, size_t n)
{
    const uint8_t *p = data;
    while (n > 0) {
        size_t k = SLM_WRITE_CHUNK - o->len;
        if (k > n)
            k = n;
        if (p) {
            memcpy(o->buf + o->len, p, k);
            p += k;
        } else {
            memset(o->buf + o->len, 0, k);
        }
        o->len += k;
        n -= k;
        if (o->len == SLM_WRITE_CHUNK && out_flush(o) != 0)
            return -1;
    }
    return 0;
}

/* Makes the rename durable: fsync of the directory holding path. Errors are
 * ignored (some file systems refuse fsync on directories). */
static void sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    int fd;
    if (!slash) {
        dir = strdup(".");
    } else {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        dir = strndup(path, n);
    }
    if (!dir)
        return;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

/* Streams the index image, then each constant after its zero padding. */
static nn_status write_file(slm_writer *w, const slm_buf *b, int fd, const char *tmp)
{
    slm_out o = {fd, malloc(SLM_WRITE_CHUNK), 0};
    size_t data_end = 0;
    if (!o.buf)
        return wfail(w, NN_ERR_NOMEM, "out of memory");
    if (out_put(&o, b->p, b->len) != 0)
        goto io_fail;
    for (int i = 0; i < w->g->n_values; i++) {
        const nn_value *v = &w->g->values[i];
        size_t bytes = (size_t)nn_shape_numel(&v->shape) * sizeof(float);
        if (w->kind[i] != SLM_KIND_CONST)
            continue;
        if (out_put(&o, NULL, w->data_off[i] - data_end) != 0 ||
            out_put(&o, v->data, bytes) != 0)
            goto io_fail;
        data_end = w->data_off[i] + bytes;
    }
    if (out_flush(&o) != 0 || fsync(fd) != 0)
        goto io_fail;
    free(o.buf);
    return NN_OK;
io_fail:
    free(o.buf);
    return wfail(w, NN_ERR_IO, "writing %s: %s", tmp, strerror(errno));
}

static const char *path_base(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

nn_status io_slm_write(const nn_graph *g, const char *path, nn_err *e)
{
    slm_writer w;
    slm_buf b = {0};
    char *tmp = NULL;
    int fd = -1, created = 0;
    nn_status st;
    size_t n;

    if (!g || !path || !*path)
        return nn_err_set(e, NN_ERR_INVALID, "io_slm_write: NULL graph or empty path");
    memset(&w, 0, sizeof w);
    w.g = g;
    w.src = path_base(path);
    w.e = e;
    if (!slm_host_is_le())
        return wfail(&w, NN_ERR_UNSUPPORTED,
                     "big-endian hosts are not supported (.slm data is little-endian fp32)");
    n = g->n_values > 0 ? (size_t)g->n_values : 1;
    w.kind = calloc(n, 1);
    w.data_off = calloc(n, sizeof *w.data_off);
    tmp = malloc(strlen(path) + 5);
    if (!w.kind || !w.data_off || !tmp) {
        st = wfail(&w, NN_ERR_NOMEM, "out of memory");
        goto fail;
    }
    sprintf(tmp, "%s.tmp", path);
    if ((st = writer_check(&w)) != NN_OK || (st = build_index(&w, &b)) != NN_OK)
        goto fail;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        st = wfail(&w, NN_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
        goto fail;
    }
    created = 1;
    if ((st = write_file(&w, &b, fd, tmp)) != NN_OK)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        st = wfail(&w, NN_ERR_IO, "closing %s: %s", tmp, strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        st = wfail(&w, NN_ERR_IO, "renaming %s to %s: %s", tmp, path, strerror(errno));
        goto fail;
    }
    sync_parent_dir(path);
    free(tmp);
    free(b.p);
    free(w.kind);
    free(w.data_off);
    return NN_OK;
fail:
    if (fd >= 0)
        close(fd);
    if (created)
        unlink(tmp);
    free(tmp);
    free(b.p);
    free(w.kind);
    free(w.data_off);
    return st;
}
