/* onnx_pbw.h — a tiny protobuf writer and ONNX message builders for the
 * tests of io_pb and io_onnx (test_pb.c, test_onnx.c): hand-encoded
 * ModelProtos without Python. Field numbers are those of onnx.proto3.
 * Buffers are fixed-size (pbw.b); overflowing one aborts the test binary. */
#ifndef ONNX_PBW_H
#define ONNX_PBW_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_onnx.h"

typedef struct pbw {
    uint8_t b[8192];
    size_t n;
} pbw;

static inline void w_raw(pbw *w, const void *p, size_t len)
{
    if (w->n + len > sizeof w->b) {
        fprintf(stderr, "test buffer overflow\n");
        exit(2);
    }
    memcpy(w->b + w->n, p, len);
    w->n += len;
}

static inline void w_varint(pbw *w, uint64_t v)
{
    uint8_t c;
    do {
        c = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            c |= 0x80;
        w_raw(w, &c, 1);
    } while (v);
}

static inline void w_tag(pbw *w, uint32_t field, int wire) { w_varint(w, (uint64_t)field << 3 | (uint64_t)wire); }
static inline void w_int(pbw *w, uint32_t field, int64_t v) { w_tag(w, field, 0); w_varint(w, (uint64_t)v); }
static inline void w_bytes(pbw *w, uint32_t field, const void *p, size_t len)
{
    w_tag(w, field, 2);
    w_varint(w, len);
    w_raw(w, p, len);
}
static inline void w_str(pbw *w, uint32_t field, const char *s) { w_bytes(w, field, s, strlen(s)); }
static inline void w_msg(pbw *w, uint32_t field, const pbw *m) { w_bytes(w, field, m->b, m->n); }
static inline void w_f32(pbw *w, uint32_t field, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint8_t le[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
    w_tag(w, field, 5);
    w_raw(w, le, 4);
}
static inline void w_packed_ints(pbw *w, uint32_t field, const int64_t *v, int n)
{
    pbw p = {.n = 0};
    for (int i = 0; i < n; i++)
        w_varint(&p, (uint64_t)v[i]);
    w_msg(w, field, &p);
}

/* ONNX message builders (field numbers of onnx.proto3). */
enum { AT_FLOAT = 1, AT_INT = 2, AT_STRING = 3, AT_TENSOR = 4, AT_INTS = 7 };

static inline void attr_ints(pbw *node, const char *name, const int64_t *v, int n)
{
    pbw a = {.n = 0};
    w_str(&a, 1, name);
    w_int(&a, 20, AT_INTS);
    for (int i = 0; i < n; i++)
        w_int(&a, 8, v[i]);      /* unpacked, as onnx writes it */
    w_msg(node, 5, &a);
}

static inline void attr_int(pbw *node, const char *name, int64_t v)
{
    pbw a = {.n = 0};
    w_str(&a, 1, name);
    w_int(&a, 20, AT_INT);
    w_int(&a, 3, v);
    w_msg(node, 5, &a);
}

static inline void attr_float(pbw *node, const char *name, float v)
{
    pbw a = {.n = 0};
    w_str(&a, 1, name);
    w_int(&a, 20, AT_FLOAT);
    w_f32(&a, 2, v);
    w_msg(node, 5, &a);
}

static inline void attr_str(pbw *node, const char *name, const char *s)
{
    pbw a = {.n = 0};
    w_str(&a, 1, name);
    w_int(&a, 20, AT_STRING);
    w_str(&a, 4, s);
    w_msg(node, 5, &a);
}

/* TensorProto: fp32 via raw_data (raw=1) or float_data, int64 via int64_data. */
static inline void tensor_f32(pbw *t, const char *name, const int64_t *dims, int nd, const float *v,
                       int n, int raw)
{
    for (int i = 0; i < nd; i++)
        w_int(t, 1, dims[i]);
    w_int(t, 2, 1);
    if (name)
        w_str(t, 8, name);
    if (raw) {
        uint8_t buf[4096];
        for (int i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, &v[i], 4);
            for (int k = 0; k < 4; k++)
                buf[4 * i + k] = (uint8_t)(u >> (8 * k));
        }
        w_bytes(t, 9, buf, (size_t)n * 4);
    } else {
        pbw p = {.n = 0};
        for (int i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, &v[i], 4);
            uint8_t le[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
            w_raw(&p, le, 4);
        }
        w_msg(t, 4, &p);
    }
}

static inline void tensor_i64(pbw *t, const char *name, const int64_t *v, int n)
{
    int64_t d = n;
    w_int(t, 1, d);
    w_int(t, 2, 7);
    if (name)
        w_str(t, 8, name);
    w_packed_ints(t, 7, v, n);
}

/* Constant node producing an int64 1-D tensor (or a scalar when n < 0). */
static inline void const_node_i64(pbw *g, const char *out, const int64_t *v, int n)
{
    pbw node = {.n = 0}, a = {.n = 0}, t = {.n = 0};
    if (n < 0) {                 /* scalar: no dims */
        w_int(&t, 2, 7);
        w_packed_ints(&t, 7, v, 1);
    } else {
        tensor_i64(&t, NULL, v, n);
    }
    w_str(&a, 1, "value");
    w_int(&a, 20, AT_TENSOR);
    w_msg(&a, 5, &t);
    w_str(&node, 2, out);
    w_str(&node, 4, "Constant");
    w_msg(&node, 5, &a);
    w_msg(g, 1, &node);
}

static inline void node_begin(pbw *node, const char *op, const char *name, const char *const *in, int n_in,
                       const char *const *out, int n_out)
{
    node->n = 0;
    for (int i = 0; i < n_in; i++)
        w_str(node, 1, in[i]);
    for (int i = 0; i < n_out; i++)
        w_str(node, 2, out[i]);
    if (name)
        w_str(node, 3, name);
    w_str(node, 4, op);
}

/* ValueInfoProto with a float tensor type; dims < 0 are written as
 * dim_param "N" (dim 0) or "H" (others). */
static inline void value_info(pbw *g, uint32_t field, const char *name, const int64_t *dims, int nd)
{
    pbw vi = {.n = 0}, tp = {.n = 0}, tt = {.n = 0}, sh = {.n = 0};
    for (int i = 0; i < nd; i++) {
        pbw d = {.n = 0};
        if (dims[i] < 0)
            w_str(&d, 2, i == 0 ? "N" : "H");
        else
            w_int(&d, 1, dims[i]);
        w_msg(&sh, 1, &d);
    }
    w_int(&tt, 1, 1);
    w_msg(&tt, 2, &sh);
    w_msg(&tp, 1, &tt);
    w_str(&vi, 1, name);
    w_msg(&vi, 2, &tp);
    w_msg(g, field, &vi);
}

/* ModelProto around graph g: ir_version, graph, then opset_import last (so
 * any truncation leaves an invalid model). */
static inline void model_wrap(pbw *m, const pbw *g, int opset)
{
    pbw op = {.n = 0};
    m->n = 0;
    w_int(m, 1, 7);
    w_msg(m, 7, g);
    w_str(&op, 1, "");
    w_int(&op, 2, opset);
    w_msg(m, 8, &op);
}

/* The activation shape of the hand-built test graphs: [N, 2, 3, 3], N
 * dynamic (a smaller rank takes the first dims). */
static const int64_t X4[4] = {-1, 2, 3, 3};

/* Declares graph input x and output y of rank nd (shape X4) in g, then
 * wraps g into model m of opset. */
static inline void model_wrap_xy(pbw *m, pbw *g, int nd, int opset)
{
    value_info(g, 11, "x", X4, nd);
    value_info(g, 12, "y", X4, nd);
    model_wrap(m, g, opset);
}

static inline nn_status read_model(const pbw *m, nn_graph **g, nn_err *e)
{
    return io_onnx_read(m->b, m->n, g, e);
}

/* Scalar fp32 Constant node. */
static inline void const_node_f32(pbw *gr, const char *out, float v)
{
    pbw node = {.n = 0}, a = {.n = 0}, t = {.n = 0};
    tensor_f32(&t, NULL, NULL, 0, &v, 1, 1);
    w_str(&a, 1, "value");
    w_int(&a, 20, AT_TENSOR);
    w_msg(&a, 5, &t);
    w_str(&node, 2, out);
    w_str(&node, 4, "Constant");
    w_msg(&node, 5, &a);
    w_msg(gr, 1, &node);
}

#endif
