/* io_slm_sections.c — parsers of the .slm metadata, values, nodes and io
 * sections (docs/FORMAT.md sections 4-7) on top of bounds-checked
 * little-endian reads: every read is checked against the bytes left in its
 * section, every count against a named limit, and each problem is reported
 * with where it is ("node 17 'layer1.0.conv1': ..."). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../nn/nn_ops.h"
#include "io_slm.h"
#include "io_slm_parse.h"

/* A cursor over one section. */
typedef struct slm_cur {
    const uint8_t *p;
    size_t left;
    int sec;
} slm_cur;

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
        return io_slm_fail(ps, NN_ERR_FORMAT,
                           "truncated: %s needs %zu bytes, %zu left in the %s section", what, n,
                           c->left, io_slm_sec_name[c->sec]);
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
        return io_slm_fail(ps, NN_ERR_FORMAT, "%s is empty", what);
    if (len > max)
        return io_slm_fail(ps, NN_ERR_LIMIT, "%s length %u exceeds the limit of %zu bytes", what,
                           len, max);
    if ((st = take(ps, c, len, what, &p)) != NN_OK)
        return st;
    if (!io_slm_utf8_ok((const char *)p, len))
        return io_slm_fail(ps, NN_ERR_FORMAT, "%s is not valid UTF-8 or contains a NUL byte", what);
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
        return io_slm_fail(ps, NN_ERR_NOMEM, "%s: out of memory", what);
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
        return io_slm_fail(ps, NN_ERR_LIMIT, "%s %u exceeds the limit of %u", what, *count, limit);
    if ((size_t)*count > c->left / min_entry)
        return io_slm_fail(ps, NN_ERR_FORMAT,
                           "%s %u cannot fit in the %zu bytes left in the %s section", what,
                           *count, c->left, io_slm_sec_name[c->sec]);
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
        return io_slm_fail(ps, NN_ERR_FORMAT, "%zu unexpected bytes at the end of the %s section",
                           c->left, io_slm_sec_name[c->sec]);
    return NN_OK;
}

/* What the builder calls a bad argument is, coming from file bytes, a
 * malformed file. */
nn_status io_slm_builder_fail(slm_parser *ps, const nn_err *inner)
{
    nn_status st = inner->status;
    if (st == NN_ERR_INVALID || st == NN_ERR_SHAPE)
        st = NN_ERR_FORMAT;
    return io_slm_fail(ps, st, "%s", inner->msg);
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
            return io_slm_fail(ps, NN_ERR_FORMAT, "duplicate key");
        if ((st = rd_str_dup(ps, &c, "value", &value)) != NN_OK)
            return st;
        st = nn_graph_set_meta(ps->g, key, value);
        free(value);
        if (st != NN_OK)
            return io_slm_fail(ps, st, "cannot store the entry (%s)", nn_status_str(st));
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
        return io_slm_fail(ps, NN_ERR_UNSUPPORTED, "dtype %u not supported (only %d = f32)", dtype,
                           SLM_DTYPE_F32);
    if (numel < 1 || nn_size_mul((size_t)numel, sizeof(float), &want) != 0)
        return io_slm_fail(ps, NN_ERR_LIMIT, "shape has too many elements");
    if (len != want)
        return io_slm_fail(ps, NN_ERR_FORMAT, "data length %llu, expected %zu (%lld floats)",
                           (unsigned long long)len, want, (long long)numel);
    if (off % SLM_DATA_ALIGN != 0)
        return io_slm_fail(ps, NN_ERR_FORMAT, "data offset %llu is not %d-byte aligned",
                           (unsigned long long)off, SLM_DATA_ALIGN);
    if (off > ps->size[SLM_SEC_DATA] || len > ps->size[SLM_SEC_DATA] - off)
        return io_slm_fail(ps, NN_ERR_FORMAT, "data [%llu, +%llu) lies outside the data section "
                           "(%llu bytes)", (unsigned long long)off, (unsigned long long)len,
                           (unsigned long long)ps->size[SLM_SEC_DATA]);
    /* Bounds what io_slm_read_memory copies by the file size: constants
     * may not alias each other's bytes to multiply memory use. */
    ps->const_bytes += len;
    if (ps->const_bytes > ps->size[SLM_SEC_DATA])
        return io_slm_fail(ps, NN_ERR_FORMAT, "constants total %llu bytes, more than the data "
                           "section holds (%llu): they overlap",
                           (unsigned long long)ps->const_bytes,
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
    if ((st = rd_u32(ps, c, "kind", &kind)) != NN_OK ||
        (st = rd_u32(ps, c, "ndim", &ndim)) != NN_OK)
        return st;
    if (kind > SLM_KIND_CONST)
        return io_slm_fail(ps, NN_ERR_FORMAT, "unknown value kind %u", kind);
    if (ndim > NN_MAX_DIMS)
        return io_slm_fail(ps, NN_ERR_LIMIT, "ndim %u exceeds the limit of %d", ndim, NN_MAX_DIMS);
    if (kind == SLM_KIND_INPUT && ++ps->n_input_values > SLM_MAX_GRAPH_INPUTS)
        return io_slm_fail(ps, NN_ERR_LIMIT, "more than %d graph inputs", SLM_MAX_GRAPH_INPUTS);
    if (kind == SLM_KIND_INTERMEDIATE && ndim != 0)
        return io_slm_fail(ps, NN_ERR_FORMAT, "intermediate value declares %u dims (must be 0)",
                           ndim);
    shape.ndim = (int)ndim;
    for (uint32_t d = 0; d < ndim; d++) {
        if ((st = rd_i64(ps, c, "dim", &shape.d[d])) != NN_OK)
            return st;
        if (shape.d[d] < 1 && !(kind == SLM_KIND_INPUT && d == 0 && shape.d[d] == NN_DIM_BATCH))
            return io_slm_fail(ps, NN_ERR_FORMAT, "dim %u is %lld (dims must be >= 1%s)", d,
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
        return io_slm_builder_fail(ps, &inner);
    if (idx != (int)i)
        return io_slm_fail(ps, NN_ERR_INVALID, "graph builder returned index %d", idx);
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
        return io_slm_fail(ps, NN_ERR_NOMEM, "out of memory for %u values", count);
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
        return io_slm_fail(ps, NN_ERR_FORMAT, "attribute '%s' appears twice", name);
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
        return io_slm_fail(ps, NN_ERR_FORMAT, "attribute '%s' has unknown type %u", name, type);
    }
    if (st != NN_OK)
        return io_slm_fail(ps, st, "cannot store attribute '%s' (%s)", name, nn_status_str(st));
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
        return io_slm_fail(ps, NN_ERR_UNSUPPORTED,
                           "unknown op '%s' (not implemented by this scanlite)", sn);
    }
    if ((st = rd_i32(ps, c, "output index", &output)) != NN_OK)
        return st;
    if (output < 0 || output >= n_values)
        return io_slm_fail(ps, NN_ERR_FORMAT, "output index %d out of range (%d values)", output,
                           n_values);
    if (ps->kind[output] != SLM_KIND_INTERMEDIATE)
        return io_slm_fail(ps, NN_ERR_FORMAT, "output '%s' is a %s", ps->g->values[output].name,
                           ps->kind[output] == SLM_KIND_CONST ? "constant" : "graph input");
    if (ps->seen[output])
        return io_slm_fail(ps, NN_ERR_FORMAT, "output '%s' is produced by an earlier node too",
                           ps->g->values[output].name);
    ps->seen[output] = 1;
    if ((st = rd_count(ps, c, "input count", NN_MAX_IO, 4, &n_in)) != NN_OK)
        return st;
    for (uint32_t k = 0; k < n_in; k++) {
        int32_t v;
        if ((st = rd_i32(ps, c, "input index", &v)) != NN_OK)
            return st;
        if (v < -1 || v >= n_values)
            return io_slm_fail(ps, NN_ERR_FORMAT, "input index %d out of range (%d values)", v,
                               n_values);
        inputs[k] = v;
    }
    nn_err_clear(&inner);
    node = nn_graph_add_node(ps->g, op, name, inputs, (int)n_in, output, &inner);
    if (!node)
        return io_slm_builder_fail(ps, &inner);
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
    int n_input_values = ps->n_input_values;

    cur_open(ps, SLM_SEC_IO, &c);
    memset(ps->seen, 0, g->n_values > 0 ? (size_t)g->n_values : 1);
    if ((st = rd_count(ps, &c, "graph input count", SLM_MAX_GRAPH_INPUTS, 4, &n_in)) != NN_OK)
        return st;
    if ((int)n_in != n_input_values || g->n_inputs != n_input_values)
        return io_slm_fail(ps, NN_ERR_FORMAT, "%u graph inputs listed but %d values are inputs",
                           n_in, n_input_values);
    for (uint32_t k = 0; k < n_in; k++) {
        int32_t v;
        set_where(ps, "graph input", (long)k, NULL);
        if ((st = rd_i32(ps, &c, "value index", &v)) != NN_OK)
            return st;
        if (v < 0 || v >= g->n_values || ps->kind[v] != SLM_KIND_INPUT || ps->seen[v])
            return io_slm_fail(ps, NN_ERR_FORMAT,
                               "value index %d is not an input value listed once", v);
        ps->seen[v] = 1;
        g->inputs[k] = v;   /* same set as the builder's, in the file's order */
    }
    ps->where[0] = '\0';
    if ((st = rd_count(ps, &c, "graph output count", SLM_MAX_GRAPH_OUTPUTS, 4, &n_out)) != NN_OK)
        return st;
    for (uint32_t k = 0; k < n_out; k++) {
        int32_t v;
        set_where(ps, "graph output", (long)k, NULL);
        if ((st = rd_i32(ps, &c, "value index", &v)) != NN_OK)
            return st;
        if (v < 0 || v >= g->n_values)
            return io_slm_fail(ps, NN_ERR_FORMAT, "value index %d out of range (%d values)", v,
                               g->n_values);
        if (ps->seen[v] == 2)
            return io_slm_fail(ps, NN_ERR_FORMAT, "value '%s' is listed twice", g->values[v].name);
        ps->seen[v] = 2;
        nn_err_clear(&inner);
        if (nn_graph_add_output(g, v, &inner) != NN_OK)
            return io_slm_builder_fail(ps, &inner);
    }
    return cur_end(ps, &c);
}

nn_status io_slm_parse_sections(slm_parser *ps)
{
    nn_status st;
    if ((st = parse_meta(ps)) != NN_OK || (st = parse_values(ps)) != NN_OK ||
        (st = parse_nodes(ps)) != NN_OK || (st = parse_io(ps)) != NN_OK)
        return st;
    ps->where[0] = '\0';
    return NN_OK;
}
