/* slm_util.h — shared by test_slm.c and test_slm_hostile.c: the test graph
 * (every attribute type, batch input, scalar and odd-sized constants,
 * multi-line UTF-8 labels), its written file as a fixture, field-by-field
 * graph comparison, and helpers that locate and forge fields of a .slm file
 * with the checksums repaired. Functions are static inline so that each
 * test binary uses what it needs without unused-function warnings. */
#ifndef SLM_UTIL_H
#define SLM_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/io_meta.h"
#include "io/io_slm.h"
#include "io/io_slm_format.h"
#include "nn/nn_graph.h"
#include "nn/nn_ops.h"
#include "tests/tassert.h"

static char tmpdir[64];
static char model_path[128];

/* ---- the test graph ------------------------------------------------------- */

static const char *labels = "tabby cat\ngolden retriever\nbird, small\n\xc3\xa9l\xc3\xa9phant";

/* Deterministic data including -0, inf, NaN and denormals. */
static inline void fill(float *x, int n, uint32_t seed)
{
    for (int i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((int32_t)seed >> 8) / 8388608.0f;
    }
    if (n >= 4) {
        x[0] = -0.0f;
        x[1] = INFINITY;
        x[2] = NAN;
        x[3] = 1e-40f;
    }
}

static inline int add_c(nn_graph *g, const char *name, int ndim, const int64_t *d, uint32_t seed)
{
    nn_shape s = nn_shape_make(ndim, d);
    int64_t n = nn_shape_numel(&s);
    float *x = malloc((size_t)n * sizeof *x);
    int idx;
    fill(x, (int)n, seed);
    idx = nn_graph_add_const_copy(g, name, &s, x, NULL);
    free(x);
    return idx;
}

/* input [-1,3,8,8] -> Conv(w,b) -> Relu -> Conv(w2, no bias) -> Add(.., relu)
 * -> GlobalAveragePool -> Flatten -> Gemm(fcw, fcb) -> Mul(scalar) ->
 * Softmax. Every attribute type appears. */
static inline nn_graph *make_graph(void)
{
    nn_graph *g = nn_graph_create();
    nn_shape in_shape = nn_shape4(NN_DIM_BATCH, 3, 8, 8);
    int64_t dw[4] = {4, 3, 3, 3}, db[1] = {4}, dw2[4] = {4, 4, 1, 1}, dfc[2] = {5, 4};
    int64_t dfb[1] = {5};
    int64_t k3[2] = {3, 3}, one[2] = {1, 1}, pads[4] = {1, 1, 1, 1}, big[3] = {INT64_MIN, -1, INT64_MAX};
    float fl[3] = {0.5f, -2.25f, 1e30f};
    int x, w, b, w2, fcw, fcb, sc, c1, r1, c2, a1, gp, fl1, gm, mu, sm;
    nn_node *n;
    nn_err e;

    x = nn_graph_add_input(g, "input", &in_shape, &e);
    w = add_c(g, "conv1.weight", 4, dw, 1);
    b = add_c(g, "conv1.bias", 1, db, 2);
    w2 = add_c(g, "conv2.weight", 4, dw2, 3);
    fcw = add_c(g, "fc.weight", 2, dfc, 4);
    fcb = add_c(g, "fc.bias", 1, dfb, 5);
    sc = add_c(g, "scale", 0, NULL, 6);
    c1 = nn_graph_add_value(g, "conv1_out", &e);
    r1 = nn_graph_add_value(g, "relu1_out", &e);
    c2 = nn_graph_add_value(g, "conv2_out", &e);
    a1 = nn_graph_add_value(g, "add_out", &e);
    gp = nn_graph_add_value(g, "gap_out", &e);
    fl1 = nn_graph_add_value(g, "flat", &e);
    gm = nn_graph_add_value(g, "logits_raw", &e);
    mu = nn_graph_add_value(g, "logits", &e);
    sm = nn_graph_add_value(g, "probs \xe2\x9c\x93", &e);

    n = nn_graph_add_node(g, nn_op_from_name("Conv"), "layer1.0.conv1", (int[]){x, w, b}, 3, c1, &e);
    nn_node_set_ints(n, "kernel_shape", k3, 2);
    nn_node_set_ints(n, "strides", one, 2);
    nn_node_set_ints(n, "pads", pads, 4);
    nn_node_set_int(n, "group", 1);
    nn_node_set_string(n, "auto_pad", "NOTSET");
    n = nn_graph_add_node(g, nn_op_from_name("Relu"), "relu1", (int[]){c1}, 1, r1, &e);
    n = nn_graph_add_node(g, nn_op_from_name("Conv"), "conv2", (int[]){r1, w2, -1}, 3, c2, &e);
    nn_node_set_ints(n, "kernel_shape", one, 2);
    nn_node_set_ints(n, "big", big, 3);
    nn_node_set_ints(n, "empty", NULL, 0);
    nn_node_set_string(n, "empty_s", "");
    n = nn_graph_add_node(g, nn_op_from_name("Add"), "add1", (int[]){c2, r1}, 2, a1, &e);
    nn_node_set_int(n, "fused_act", NN_ACT_CLIP);
    nn_node_set_float(n, "fused_min", 0.0f);
    nn_node_set_float(n, "fused_max", 6.0f);
    nn_graph_add_node(g, nn_op_from_name("GlobalAveragePool"), "gap", (int[]){a1}, 1, gp, &e);
    n = nn_graph_add_node(g, nn_op_from_name("Flatten"), "flatten", (int[]){gp}, 1, fl1, &e);
    nn_node_set_int(n, "axis", 1);
    n = nn_graph_add_node(g, nn_op_from_name("Gemm"), "fc", (int[]){fl1, fcw, fcb}, 3, gm, &e);
    nn_node_set_float(n, "alpha", 1.0f);
    nn_node_set_float(n, "beta", -0.0f);
    nn_node_set_int(n, "transB", 1);
    nn_node_set_floats(n, "floats", fl, 3);
    nn_graph_add_node(g, nn_op_from_name("Mul"), "mul", (int[]){gm, sc}, 2, mu, &e);
    n = nn_graph_add_node(g, nn_op_from_name("Softmax"), "softmax", (int[]){mu}, 1, sm, &e);
    nn_node_set_int(n, "axis", -1);
    nn_node_set_int(n, "coerce_2d", 0);
    nn_graph_add_output(g, sm, &e);
    nn_graph_add_output(g, mu, &e);

    nn_graph_set_meta(g, IO_META_NAME, "mod\xc3\xa8le de test \xe2\x9c\x93");
    nn_graph_set_meta(g, IO_META_LABELS, labels);
    nn_graph_set_meta(g, IO_META_INPUT_SHAPE, "3x8x8");
    nn_graph_set_meta(g, IO_META_MEAN, "0.485,0.456,0.406");
    nn_graph_set_meta(g, IO_META_STD, "0.229,0.224,0.225");
    nn_graph_set_meta(g, IO_META_SOURCE_FILE, "");
    if (nn_graph_validate(g, &e) != NN_OK) {
        fprintf(stderr, "  make_graph: %s\n", e.msg);
        nn_graph_free(g);
        return NULL;
    }
    return g;
}

/* Field-by-field equality; data compared bytewise (NaN-safe). */
static inline int graphs_equal(const nn_graph *a, const nn_graph *b)
{
    int ok = 1;
#define EQ(cond)                                                          \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "  graphs differ: %s (line %d)\n", #cond, __LINE__); \
            ok = 0;                                                       \
            goto done;                                                    \
        }                                                                 \
    } while (0)
    EQ(a->n_values == b->n_values && a->n_nodes == b->n_nodes);
    EQ(a->n_inputs == b->n_inputs && a->n_outputs == b->n_outputs && a->n_meta == b->n_meta);
    for (int i = 0; i < a->n_values; i++) {
        const nn_value *x = &a->values[i], *y = &b->values[i];
        EQ(strcmp(x->name, y->name) == 0 && x->is_const == y->is_const);
        EQ(nn_shape_equal(&x->shape, &y->shape));
        if (x->is_const)
            EQ(memcmp(x->data, y->data, (size_t)nn_shape_numel(&x->shape) * 4) == 0);
    }
    for (int i = 0; i < a->n_inputs; i++)
        EQ(a->inputs[i] == b->inputs[i]);
    for (int i = 0; i < a->n_outputs; i++)
        EQ(a->outputs[i] == b->outputs[i]);
    for (int i = 0; i < a->n_meta; i++)
        EQ(strcmp(a->meta[i].key, b->meta[i].key) == 0 &&
           strcmp(a->meta[i].value, b->meta[i].value) == 0);
    for (int i = 0; i < a->n_nodes; i++) {
        const nn_node *x = &a->nodes[i], *y = &b->nodes[i];
        EQ(x->op == y->op && strcmp(x->name, y->name) == 0 && x->output == y->output);
        EQ(x->n_inputs == y->n_inputs && x->n_attrs == y->n_attrs);
        EQ(memcmp(x->inputs, y->inputs, (size_t)x->n_inputs * sizeof(int)) == 0);
        for (int k = 0; k < x->n_attrs; k++) {
            const nn_attr *p = &x->attrs[k], *q = &y->attrs[k];
            EQ(strcmp(p->name, q->name) == 0 && p->type == q->type);
            switch (p->type) {
            case NN_ATTR_INT:
                EQ(p->i == q->i);
                break;
            case NN_ATTR_FLOAT:
                EQ(memcmp(&p->f, &q->f, 4) == 0);
                break;
            case NN_ATTR_INTS:
                EQ(p->n == q->n && (p->n == 0 || memcmp(p->ints, q->ints, (size_t)p->n * 8) == 0));
                break;
            case NN_ATTR_FLOATS:
                EQ(p->n == q->n && (p->n == 0 || memcmp(p->floats, q->floats, (size_t)p->n * 4) == 0));
                break;
            case NN_ATTR_STRING:
                EQ(strcmp(p->s, q->s) == 0);
                break;
            }
        }
    }
#undef EQ
done:
    return ok;
}

static inline uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static inline int spit(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    int ok;
    if (!f)
        return -1;
    ok = fwrite(buf, 1, len, f) == len;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* The model written once by test_roundtrip and reused by the hostile tests. */
static uint8_t *model;
static size_t model_len;
static nn_graph *ref_graph;

static inline uint64_t hdr_u64(const uint8_t *b, size_t off)
{
    return slm_get_u64(b + off);
}

static inline size_t sec_off(const uint8_t *b, int s)
{
    return (size_t)hdr_u64(b, SLM_OFF_SECTIONS + 16 * (size_t)s);
}

static inline size_t sec_size(const uint8_t *b, int s)
{
    return (size_t)hdr_u64(b, SLM_OFF_SECTIONS + 16 * (size_t)s + 8);
}

/* Recomputes both checksums of a (possibly forged) file so that the parser
 * behind them gets exercised; leaves impossible section tables alone. */
static inline void fix_crcs(uint8_t *b, size_t len)
{
    uint64_t off[SLM_SEC_COUNT], size[SLM_SEC_COUNT];
    if (len < SLM_HEADER_SIZE)
        return;
    for (int s = 0; s < SLM_SEC_COUNT; s++) {
        off[s] = sec_off(b, s);
        size[s] = sec_size(b, s);
        if (off[s] > len || size[s] > len - off[s])
            return;
    }
    slm_put_u32(b + SLM_OFF_DATA_CRC, io_slm_crc32(0, b + off[SLM_SEC_DATA], size[SLM_SEC_DATA]));
    slm_put_u32(b + SLM_OFF_INDEX_CRC, io_slm_index_crc(b, off, size));
}

/* Offset of value i's entry (its name length field) in the values section. */
static inline size_t value_entry(const uint8_t *b, int i)
{
    size_t p = sec_off(b, SLM_SEC_VALUES) + 4;
    for (int k = 0; k < i; k++) {
        size_t q = p + 4 + slm_get_u32(b + p);
        uint32_t kind = slm_get_u32(b + q), ndim = slm_get_u32(b + q + 4);
        p = q + 8 + 8 * (size_t)ndim + (kind == SLM_KIND_CONST ? 20 : 0);
    }
    return p;
}

/* Offset just past value i's dims (a constant's dtype field). */
static inline size_t value_after_dims(const uint8_t *b, int i)
{
    size_t q = value_entry(b, i);
    q += 4 + slm_get_u32(b + q);
    return q + 8 + 8 * (size_t)slm_get_u32(b + q + 4);
}

/* Offset of node i's entry (its op name length) in the nodes section. */
static inline size_t node_entry(const uint8_t *b, int i)
{
    size_t p = sec_off(b, SLM_SEC_NODES) + 4;
    for (int k = 0; k < i; k++) {
        uint32_t n_in, n_attrs;
        p += 4 + slm_get_u32(b + p);                /* op */
        p += 4 + slm_get_u32(b + p);                /* name */
        p += 4;                                     /* output */
        n_in = slm_get_u32(b + p);
        p += 4 + 4 * (size_t)n_in;
        n_attrs = slm_get_u32(b + p);
        p += 4;
        for (uint32_t a = 0; a < n_attrs; a++) {
            uint32_t type;
            p += 4 + slm_get_u32(b + p);
            type = slm_get_u32(b + p);
            p += 4;
            if (type == NN_ATTR_INT)
                p += 8;
            else if (type == NN_ATTR_FLOAT)
                p += 4;
            else if (type == NN_ATTR_INTS)
                p += 4 + 8 * (size_t)slm_get_u32(b + p);
            else if (type == NN_ATTR_FLOATS)
                p += 4 + 4 * (size_t)slm_get_u32(b + p);
            else
                p += 4 + slm_get_u32(b + p);
        }
    }
    return p;
}

/* Offset of node i's output field. */
static inline size_t node_output(const uint8_t *b, int i)
{
    size_t p = node_entry(b, i);
    p += 4 + slm_get_u32(b + p);
    return p + 4 + slm_get_u32(b + p);
}

static int expect_line;
#define EXPECT(buf, len, want, needle) (expect_line = __LINE__, expect_err(buf, len, want, needle))

/* Parsing buf must fail with status want and a message containing needle. */
static inline void expect_err(const uint8_t *buf, size_t len, nn_status want, const char *needle)
{
    nn_graph *g = NULL;
    nn_err e;
    nn_status st;
    nn_err_clear(&e);
    st = io_slm_read_memory(buf, len, &g, &e);
    T_CHECKF(st == want && strstr(e.msg, needle) && g == NULL,
             "line %d: got %s '%s', want %s '...%s...'", expect_line, nn_status_str(st), e.msg,
             nn_status_str(want), needle);
    nn_graph_free(g);
}

/* A copy of the model with a u32/u64 field overwritten and checksums fixed. */
static inline uint8_t *forge(size_t off, int bytes, uint64_t v)
{
    uint8_t *b = malloc(model_len);
    memcpy(b, model, model_len);
    if (bytes == 1)
        b[off] = (uint8_t)v;
    else if (bytes == 2)
        slm_put_u16(b + off, (uint16_t)v);
    else if (bytes == 4)
        slm_put_u32(b + off, (uint32_t)v);
    else
        slm_put_u64(b + off, v);
    fix_crcs(b, model_len);
    return b;
}

#define FORGED(off, bytes, v, want, needle)                                   \
    do {                                                                      \
        uint8_t *fb_ = forge(off, bytes, v);                                  \
        EXPECT(fb_, model_len, want, needle);                                 \
        free(fb_);                                                            \
    } while (0)


/* Creates the scratch directory, the test graph and its file (model,
 * model_len); 0 on success. */
static inline int slm_fixture_setup(const char *name)
{
    nn_err e;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/%s.XXXXXX", name);
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return -1;
    }
    ref_graph = make_graph();
    if (!ref_graph)
        return -1;
    snprintf(model_path, sizeof model_path, "%s/model.slm", tmpdir);
    if (io_slm_write(ref_graph, model_path, &e) != NN_OK) {
        fprintf(stderr, "  io_slm_write: %s\n", e.msg);
        return -1;
    }
    model = slurp(model_path, &model_len);
    return model ? 0 : -1;
}

static inline void slm_fixture_teardown(void)
{
    nn_graph_free(ref_graph);
    free(model);
    unlink(model_path);
    rmdir(tmpdir);
}

#endif
