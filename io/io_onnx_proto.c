/* io_onnx_proto.c — decoding of the ONNX protobuf messages the reader
 * needs: TensorProto (into host tensors), AttributeProto, NodeProto and
 * ValueInfoProto. Field numbers are those of onnx/onnx.proto3. Strings are
 * copied with a length limit, counts are bounded before allocating, tensor
 * payloads must match their declared shape exactly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_onnx_int.h"

/* ---- small decoding helpers ------------------------------------------- */

/* Copies a protobuf string field into a fresh NUL-terminated string of at
 * most NN_NAME_MAX-1 bytes (no embedded NUL). */
static char *pb_strdup(const io_pb_field *f, const char *what, nn_err *e)
{
    char *s;
    if (f->wire != IO_PB_LEN) {
        nn_err_set(e, NN_ERR_FORMAT, "ONNX: %s is not a string", what);
        return NULL;
    }
    if (f->len >= NN_NAME_MAX) {
        nn_err_set(e, NN_ERR_LIMIT, "ONNX: %s longer than %d bytes", what, NN_NAME_MAX - 1);
        return NULL;
    }
    if (memchr(f->data, 0, f->len)) {
        nn_err_set(e, NN_ERR_FORMAT, "ONNX: %s contains a NUL byte", what);
        return NULL;
    }
    s = malloc(f->len + 1);
    if (!s) {
        nn_err_set(e, NN_ERR_NOMEM, "ONNX: %s", what);
        return NULL;
    }
    memcpy(s, f->data, f->len);
    s[f->len] = 0;
    return s;
}

nn_status ox_pb_str_into(const io_pb_field *f, char *buf, size_t cap, const char *what,
                             nn_err *e)
{
    char *s = pb_strdup(f, what, e);
    if (!s)
        return e ? e->status : NN_ERR_FORMAT;
    snprintf(buf, cap, "%s", s);
    free(s);
    return NN_OK;
}

nn_status ox_want_wire(const io_pb_field *f, io_pb_wire w, const char *what, nn_err *e)
{
    if (f->wire != w)
        return nn_err_set(e, NN_ERR_FORMAT, "ONNX: %s has wire type %d, expected %d", what,
                          (int)f->wire, (int)w);
    return NN_OK;
}

/* ---- tensors ------------------------------------------------------------ */

nn_status ox_tensor_new(ox_dtype dt, const nn_shape *shape, int limit, ox_tensor **out,
                        nn_err *e)
{
    ox_tensor *t;
    int64_t n = nn_shape_numel(shape);
    size_t bytes;
    *out = NULL;
    if (n < 0 || shape->ndim > NN_MAX_DIMS)
        return nn_err_set(e, NN_ERR_SHAPE, "ONNX: invalid tensor shape");
    if (limit && n > OX_FOLD_MAX_ELEMS)
        return nn_err_set(e, NN_ERR_LIMIT, "ONNX: folded tensor of %lld elements (limit %lld)",
                          (long long)n, (long long)OX_FOLD_MAX_ELEMS);
    if (nn_size_mul((size_t)n, 8, &bytes) != 0)
        return nn_err_set(e, NN_ERR_LIMIT, "ONNX: tensor too large");
    t = calloc(1, sizeof *t);
    if (!t)
        return nn_err_set(e, NN_ERR_NOMEM, "ONNX: tensor");
    t->dtype = dt;
    t->shape = *shape;
    t->numel = n;
    if (n > 0) {
        if (dt == OX_F32) {
            t->f32 = nn_aligned_alloc((size_t)n * sizeof(float));
            t->f32_owned = 1;
        } else {
            t->i64 = calloc((size_t)n, sizeof(int64_t));
        }
        if (!t->f32 && !t->i64) {
            free(t);
            return nn_err_set(e, NN_ERR_NOMEM, "ONNX: tensor of %lld elements", (long long)n);
        }
    }
    *out = t;
    return NN_OK;
}

void ox_tensor_free(ox_tensor *t)
{
    if (!t)
        return;
    if (t->f32_owned)
        nn_aligned_free(t->f32);
    free(t->i64);
    free(t->batch);
    free(t);
}

static int dt_size(int dt)
{
    switch (dt) {
    case OX_DT_FLOAT: case OX_DT_INT32: return 4;
    case OX_DT_INT64: case OX_DT_DOUBLE: return 8;
    case OX_DT_INT16: case OX_DT_UINT16: return 2;
    case OX_DT_INT8: case OX_DT_UINT8: case OX_DT_BOOL: return 1;
    default: return 0;
    }
}

/* Element i of little-endian raw_data of ONNX type dt, as double/int64. */
static void raw_elem(const uint8_t *p, int dt, double *d, int64_t *v)
{
    switch (dt) {
    case OX_DT_FLOAT: *d = io_pb_f32(io_pb_le32(p)); break;
    case OX_DT_DOUBLE: *d = io_pb_f64(io_pb_le64(p)); break;
    case OX_DT_INT64: *v = (int64_t)io_pb_le64(p); break;
    case OX_DT_INT32: *v = (int32_t)io_pb_le32(p); break;
    case OX_DT_INT16: *v = (int16_t)(uint16_t)(p[0] | p[1] << 8); break;
    case OX_DT_UINT16: *v = (uint16_t)(p[0] | p[1] << 8); break;
    case OX_DT_INT8: *v = (int8_t)p[0]; break;
    default: *v = p[0]; break;
    }
}

/* The typed field that holds elements of ONNX type dt, and its encoding. */
static uint32_t typed_field(int dt, io_pb_wire *kind)
{
    switch (dt) {
    case OX_DT_FLOAT: *kind = IO_PB_FIXED32; return 4;
    case OX_DT_DOUBLE: *kind = IO_PB_FIXED64; return 10;
    case OX_DT_INT64: *kind = IO_PB_VARINT; return 7;
    default: *kind = IO_PB_VARINT; return 5;   /* int32_data carries the small types */
    }
}

nn_status ox_tensor_decode(const io_pb_reader *parent, const io_pb_field *tf,
                           ox_tensor **out, char *name, size_t name_cap, nn_err *e)
{
    io_pb_reader r;
    io_pb_field f, raw = {0};
    int64_t dims[NN_MAX_DIMS + 1];
    size_t ndims = 0, n_typed = 0, cnt, esize_total;
    int64_t dt = 0, numel;
    int has_raw = 0;
    uint32_t tfield;
    io_pb_wire kind;
    nn_shape shape;
    ox_tensor *t = NULL;
    nn_status st;
    int rc;

    *out = NULL;
    if (name && name_cap)
        name[0] = 0;
    if ((st = io_pb_enter(parent, tf, &r, e)) != NN_OK)
        return st;
    while ((rc = io_pb_next(&r, &f, e)) == 1) {
        switch (f.num) {
        case 1:
            st = io_pb_values(&f, IO_PB_VARINT, (uint64_t *)dims, NN_MAX_DIMS, &ndims, e);
            if (st != NN_OK)
                return st == NN_ERR_LIMIT ? nn_err_set(e, NN_ERR_LIMIT,
                                                       "ONNX: tensor has more than %d dims",
                                                       NN_MAX_DIMS)
                                          : st;
            break;
        case 2:
            if ((st = ox_want_wire(&f, IO_PB_VARINT, "TensorProto.data_type", e)) != NN_OK)
                return st;
            dt = (int64_t)f.u;
            break;
        case 3:
            return nn_err_set(e, NN_ERR_UNSUPPORTED, "ONNX: segmented tensors");
        case 6:
            return nn_err_set(e, NN_ERR_UNSUPPORTED, "ONNX: string tensors");
        case 8:
            if (name && (st = ox_pb_str_into(&f, name, name_cap, "tensor name", e)) != NN_OK)
                return st;
            break;
        case 9:
            if ((st = ox_want_wire(&f, IO_PB_LEN, "raw_data", e)) != NN_OK)
                return st;
            raw = f;
            has_raw = 1;
            break;
        case 13:
            return nn_err_set(e, NN_ERR_UNSUPPORTED, "ONNX: tensor '%s' uses external data",
                              name ? name : "");
        case 14:
            if (f.wire == IO_PB_VARINT && f.u == 1)
                return nn_err_set(e, NN_ERR_UNSUPPORTED, "ONNX: tensor '%s' uses external data",
                                  name ? name : "");
            break;
        default:
            break;
        }
    }
    if (rc < 0)
        return e ? e->status : NN_ERR_FORMAT;
    if (dt < 0 || dt > 64 || dt_size((int)dt) == 0)
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "ONNX: tensor '%s' has unsupported data type %lld",
                          name ? name : "", (long long)dt);
    shape.ndim = (int)ndims;
    for (size_t i = 0; i < ndims; i++) {
        if (dims[i] < 0)
            return nn_err_set(e, NN_ERR_FORMAT, "ONNX: tensor '%s' has negative dim %lld",
                              name ? name : "", (long long)dims[i]);
        shape.d[i] = dims[i];
    }
    numel = nn_shape_numel(&shape);
    if (numel < 0)
        return nn_err_set(e, NN_ERR_SHAPE, "ONNX: tensor '%s' has an invalid shape",
                          name ? name : "");
    /* the values the file holds must match the shape before anything is
     * allocated for them: a few bytes of dims must not cost gigabytes */
    if (has_raw) {
        if (nn_size_mul((size_t)numel, (size_t)dt_size((int)dt), &esize_total) != 0 ||
            esize_total != raw.len)
            return nn_err_set(e, NN_ERR_FORMAT, "ONNX: tensor '%s': raw_data has %zu bytes, expected %lld x %d",
                              name ? name : "", raw.len, (long long)numel, dt_size((int)dt));
    } else {
        tfield = typed_field((int)dt, &kind);
        io_pb_enter(parent, tf, &r, NULL);
        while ((rc = io_pb_next(&r, &f, e)) == 1) {
            if (f.num != tfield)
                continue;
            if ((st = io_pb_count(&f, kind, &cnt, e)) != NN_OK)
                return st;
            n_typed += cnt;
        }
        if (rc < 0)
            return e ? e->status : NN_ERR_FORMAT;
        if (n_typed != (size_t)numel)
            return nn_err_set(e, NN_ERR_FORMAT, "ONNX: tensor '%s' has %zu values, shape needs %lld",
                              name ? name : "", n_typed, (long long)numel);
    }
    st = ox_tensor_new(dt == OX_DT_FLOAT || dt == OX_DT_DOUBLE ? OX_F32 : OX_I64, &shape, 0, &t, e);
    if (st != NN_OK)
        return st;

    if (has_raw) {
        for (int64_t i = 0; i < t->numel; i++) {
            double d = 0;
            int64_t v = 0;
            raw_elem(raw.data + (size_t)i * (size_t)dt_size((int)dt), (int)dt, &d, &v);
            if (t->dtype == OX_F32)
                t->f32[i] = (float)d;
            else
                t->i64[i] = v;
        }
        *out = t;
        return NN_OK;
    }

    /* typed fields (counted above): fill */
    if (t->numel > 0) {
        uint64_t *tmp = malloc((size_t)t->numel * sizeof *tmp);
        size_t got = 0;
        if (!tmp) {
            st = nn_err_set(e, NN_ERR_NOMEM, "ONNX: tensor '%s'", name ? name : "");
            goto fail;
        }
        io_pb_enter(parent, tf, &r, NULL);
        while (io_pb_next(&r, &f, NULL) == 1)
            if (f.num == tfield && io_pb_values(&f, kind, tmp, (size_t)t->numel, &got, NULL) != NN_OK)
                break;
        for (int64_t i = 0; i < t->numel; i++) {
            uint64_t u = (size_t)i < got ? tmp[i] : 0;
            if (dt == OX_DT_FLOAT)
                t->f32[i] = io_pb_f32((uint32_t)u);
            else if (dt == OX_DT_DOUBLE)
                t->f32[i] = (float)io_pb_f64(u);
            else if (dt == OX_DT_INT64)
                t->i64[i] = (int64_t)u;
            else
                t->i64[i] = (int32_t)(uint32_t)u;
        }
        free(tmp);
    }
    *out = t;
    return NN_OK;
fail:
    ox_tensor_free(t);
    return st;
}

/* ---- attributes and nodes ---------------------------------------------- */

const ox_attr *ox_attr_get(const ox_node *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    return NULL;
}

int64_t ox_attr_int(const ox_node *n, const char *name, int64_t dflt)
{
    const ox_attr *a = ox_attr_get(n, name);
    return a && a->has_i ? a->i : dflt;
}

float ox_attr_float(const ox_node *n, const char *name, float dflt)
{
    const ox_attr *a = ox_attr_get(n, name);
    return a && a->has_f ? a->f : dflt;
}

/* Collects the repeated field num (encoding kind) of attribute name. */
static int attr_list(const ox_node *n, const char *name, uint32_t num, io_pb_wire kind,
                     uint64_t *out, int cap, nn_err *e)
{
    const ox_attr *a = ox_attr_get(n, name);
    io_pb_reader r;
    io_pb_field f;
    size_t got = 0;
    int rc;
    if (!a)
        return -1;
    r = a->msg;
    while ((rc = io_pb_next(&r, &f, e)) == 1)
        if (f.num == num && io_pb_values(&f, kind, out, (size_t)cap, &got, e) != NN_OK) {
            nn_err_set(e, e ? e->status : NN_ERR_FORMAT, "node '%s' (%s): attribute '%s' is malformed or has more than %d values",
                       n->name, n->op_type, name, cap);
            return -2;
        }
    return rc < 0 ? -2 : (int)got;
}

int ox_attr_ints(const ox_node *n, const char *name, int64_t *out, int cap, nn_err *e)
{
    return attr_list(n, name, 8, IO_PB_VARINT, (uint64_t *)out, cap, e);
}

int ox_attr_floats(const ox_node *n, const char *name, float *out, int cap, nn_err *e)
{
    uint64_t *tmp = malloc((size_t)(cap > 0 ? cap : 1) * sizeof *tmp);
    int k;
    if (!tmp) {
        nn_err_set(e, NN_ERR_NOMEM, "attribute '%s'", name);
        return -2;
    }
    k = attr_list(n, name, 7, IO_PB_FIXED32, tmp, cap, e);
    for (int i = 0; i < k; i++)
        out[i] = io_pb_f32((uint32_t)tmp[i]);
    free(tmp);
    return k;
}

nn_status ox_attr_string(const ox_node *n, const char *name, const char *dflt, char *buf,
                         size_t cap, nn_err *e)
{
    const ox_attr *a = ox_attr_get(n, name);
    if (!a || !a->has_s) {
        snprintf(buf, cap, "%s", dflt);
        return NN_OK;
    }
    if (a->s_len >= cap || memchr(a->s, 0, a->s_len))
        return nn_err_set(e, NN_ERR_FORMAT, "node '%s' (%s): bad string attribute '%s'", n->name,
                          n->op_type, name);
    memcpy(buf, a->s, a->s_len);
    buf[a->s_len] = 0;
    return NN_OK;
}

static nn_status attr_decode(const io_pb_reader *parent, const io_pb_field *af, ox_attr *a,
                             nn_err *e)
{
    io_pb_field f;
    nn_status st;
    int rc;
    if ((st = io_pb_enter(parent, af, &a->msg, e)) != NN_OK)
        return st;
    io_pb_reader r = a->msg;
    while ((rc = io_pb_next(&r, &f, e)) == 1) {
        switch (f.num) {
        case 1:
            free(a->name);
            if (!(a->name = pb_strdup(&f, "attribute name", e)))
                return e ? e->status : NN_ERR_FORMAT;
            break;
        case 2:
            if ((st = ox_want_wire(&f, IO_PB_FIXED32, "AttributeProto.f", e)) != NN_OK)
                return st;
            a->f = io_pb_f32((uint32_t)f.u);
            a->has_f = 1;
            break;
        case 3:
            if ((st = ox_want_wire(&f, IO_PB_VARINT, "AttributeProto.i", e)) != NN_OK)
                return st;
            a->i = (int64_t)f.u;
            a->has_i = 1;
            break;
        case 4:
            if ((st = ox_want_wire(&f, IO_PB_LEN, "AttributeProto.s", e)) != NN_OK)
                return st;
            a->s = f.data;
            a->s_len = f.len;
            a->has_s = 1;
            break;
        case 5:
            if ((st = ox_want_wire(&f, IO_PB_LEN, "AttributeProto.t", e)) != NN_OK)
                return st;
            a->t = f;
            a->has_t = 1;
            break;
        default:
            break;
        }
    }
    if (rc < 0)
        return e ? e->status : NN_ERR_FORMAT;
    if (!a->name)
        return nn_err_set(e, NN_ERR_FORMAT, "ONNX: attribute without a name");
    return NN_OK;
}

void ox_node_clear(ox_node *n)
{
    for (int i = 0; i < n->n_in; i++)
        free(n->in[i]);
    for (int i = 0; i < n->n_out; i++)
        free(n->out[i]);
    for (int i = 0; i < n->n_attrs; i++)
        free(n->attrs[i].name);
    free(n->in);
    free(n->out);
    free(n->attrs);
    free(n->name);
    free(n->op_type);
    free(n->domain);
    memset(n, 0, sizeof *n);
}

nn_status ox_node_decode(const io_pb_reader *parent, const io_pb_field *nf, ox_node *n,
                             nn_err *e)
{
    io_pb_reader r;
    io_pb_field f;
    int n_in = 0, n_out = 0, n_at = 0, rc;
    nn_status st;
    if ((st = io_pb_enter(parent, nf, &r, e)) != NN_OK)
        return st;
    while ((rc = io_pb_next(&r, &f, e)) == 1) {
        n_in += f.num == 1;
        n_out += f.num == 2;
        n_at += f.num == 5;
    }
    if (rc < 0)
        return e ? e->status : NN_ERR_FORMAT;
    if (n_in > OX_MAX_NODE_IO || n_out > OX_MAX_NODE_IO || n_at > OX_MAX_ATTRS)
        return nn_err_set(e, NN_ERR_LIMIT, "ONNX: node %d has more than %d inputs/outputs or %d attributes",
                          n->index, OX_MAX_NODE_IO, OX_MAX_ATTRS);
    n->in = calloc((size_t)n_in + 1, sizeof *n->in);
    n->out = calloc((size_t)n_out + 1, sizeof *n->out);
    n->attrs = calloc((size_t)n_at + 1, sizeof *n->attrs);
    if (!n->in || !n->out || !n->attrs)
        return nn_err_set(e, NN_ERR_NOMEM, "ONNX: node %d", n->index);
    io_pb_enter(parent, nf, &r, NULL);
    while (io_pb_next(&r, &f, NULL) == 1) {
        char **slot = NULL;
        const char *what = "node field";
        switch (f.num) {
        case 1: slot = &n->in[n->n_in++]; what = "node input name"; break;
        case 2: slot = &n->out[n->n_out++]; what = "node output name"; break;
        case 3: free(n->name); n->name = NULL; slot = &n->name; what = "node name"; break;
        case 4: free(n->op_type); n->op_type = NULL; slot = &n->op_type; what = "op_type"; break;
        case 7: free(n->domain); n->domain = NULL; slot = &n->domain; what = "node domain"; break;
        case 5:
            if ((st = attr_decode(&r, &f, &n->attrs[n->n_attrs++], e)) != NN_OK)
                return st;
            break;
        default:
            break;
        }
        if (slot && !(*slot = pb_strdup(&f, what, e)))
            return e ? e->status : NN_ERR_FORMAT;
    }
    if (!n->op_type)
        return nn_err_set(e, NN_ERR_FORMAT, "ONNX: node %d has no op_type", n->index);
    if (!n->name && !(n->name = calloc(1, 1)))
        return nn_err_set(e, NN_ERR_NOMEM, "ONNX: node %d", n->index);
    if (!n->domain && !(n->domain = calloc(1, 1)))
        return nn_err_set(e, NN_ERR_NOMEM, "ONNX: node %d", n->index);
    for (int i = 0; i < n->n_attrs; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(n->attrs[i].name, n->attrs[j].name) == 0)
                return nn_err_set(e, NN_ERR_FORMAT, "node '%s' (%s): attribute '%s' given twice",
                                  n->name, n->op_type, n->attrs[i].name);
    return NN_OK;
}

/* ---- value info: graph input name, element type and shape -------------- */

/* want_type 0: only the name is read (graph outputs). */
nn_status ox_valueinfo_decode(const io_pb_reader *parent, const io_pb_field *vf,
                                  int want_type, char *name, size_t cap, int64_t *elem,
                                  nn_shape *shape, int *has_shape, nn_err *e)
{
    io_pb_reader r, tr, tt, sr, dr;
    io_pb_field f, g, h, k, d;
    nn_status st;
    name[0] = 0;
    *elem = 0;
    *has_shape = 0;
    shape->ndim = 0;
    if ((st = io_pb_enter(parent, vf, &r, e)) != NN_OK)
        return st;
    while (io_pb_next(&r, &f, e) == 1) {
        if (f.num == 1 && (st = ox_pb_str_into(&f, name, cap, "value name", e)) != NN_OK)
            return st;
        if (f.num != 2 || !want_type)
            continue;
        if ((st = io_pb_enter(&r, &f, &tr, e)) != NN_OK)
            return st;
        while (io_pb_next(&tr, &g, e) == 1) {
            if (g.num != 1)     /* tensor_type; sequences/maps stay unrecognised */
                continue;
            if ((st = io_pb_enter(&tr, &g, &tt, e)) != NN_OK)
                return st;
            while (io_pb_next(&tt, &h, e) == 1) {
                if (h.num == 1 && h.wire == IO_PB_VARINT)
                    *elem = (int64_t)h.u;
                if (h.num != 2)
                    continue;
                if ((st = io_pb_enter(&tt, &h, &sr, e)) != NN_OK)
                    return st;
                *has_shape = 1;
                shape->ndim = 0;
                while (io_pb_next(&sr, &k, e) == 1) {
                    int known = 0, ax = shape->ndim;
                    if (k.num != 1)
                        continue;
                    if (ax >= NN_MAX_DIMS)
                        return nn_err_set(e, NN_ERR_LIMIT, "input '%s' has more than %d dims",
                                          name, NN_MAX_DIMS);
                    if ((st = io_pb_enter(&sr, &k, &dr, e)) != NN_OK)
                        return st;
                    shape->d[ax] = 0;
                    while (io_pb_next(&dr, &d, e) == 1)
                        if (d.num == 1 && d.wire == IO_PB_VARINT) {
                            if ((int64_t)d.u < 0)
                                return nn_err_set(e, NN_ERR_FORMAT, "input '%s' has a negative dim",
                                                  name);
                            shape->d[ax] = (int64_t)d.u;
                            known = 1;
                        }
                    if (e && e->status != NN_OK)
                        return e->status;
                    if (!known || shape->d[ax] == 0) {
                        if (ax != 0)
                            return nn_err_set(e, NN_ERR_UNSUPPORTED,
                                              "input '%s': symbolic dimension %d (only the batch dim 0 may be symbolic)",
                                              name, ax);
                        shape->d[ax] = NN_DIM_BATCH;
                    }
                    shape->ndim++;
                }
            }
        }
    }
    return e && e->status != NN_OK ? e->status : NN_OK;
}

