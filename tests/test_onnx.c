/* test_onnx.c — tests of the ONNX reader (io_onnx): hand-encoded
 * ModelProtos checked node by node and run (auto_pad, opset normalisation,
 * Shape-chain folding, legacy broadcast and attributes), hostile input
 * (every truncation, seeded bit flips; unsupported and malformed models:
 * test_onnx_bad.c), the
 * shared real exports when TESTDATA is set, and, given a directory argument
 * (written by tests/py/make_onnx_cases.py), conversion + run of each export
 * against PyTorch's output. Runs without Python when no argument is given. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_onnx.h"
#include "nn/nn_ops.h"
#include "nn/nn_plan.h"
#include "tests/onnx_pbw.h"
#include "tests/tassert.h"

/* ---- a hand-encoded Conv + Relu model ------------------------------------------ */

static const int64_t W_DIMS[4] = {4, 3, 3, 3};
static const int64_t X_DIMS[4] = {-1, 3, 8, 8};

static void conv_weights(float *w, float *b)
{
    for (int i = 0; i < 108; i++)
        w[i] = (float)((i * 37) % 23 - 11) * 0.05f;
    for (int i = 0; i < 4; i++)
        b[i] = 0.1f * (float)(i - 1);
}

/* Conv(x, w, b; kernel 3, stride 2, auto_pad or pads 1) -> Relu. w is also
 * listed as a graph input (an initializer, hence a constant). */
static void build_conv_relu(pbw *m, const char *auto_pad, int opset)
{
    static const char *conv_in[] = {"x", "w", "b"}, *conv_out[] = {"c"};
    static const char *relu_in[] = {"c"}, *relu_out[] = {"y"};
    static const int64_t k[2] = {3, 3}, s[2] = {2, 2}, p[4] = {1, 1, 1, 1}, bdims[1] = {4};
    pbw g = {.n = 0}, node, t;
    float w[108], b[4];
    conv_weights(w, b);
    node_begin(&node, "Conv", "conv0", conv_in, 3, conv_out, 1);
    attr_ints(&node, "kernel_shape", k, 2);
    attr_ints(&node, "strides", s, 2);
    if (auto_pad)
        attr_str(&node, "auto_pad", auto_pad);
    else
        attr_ints(&node, "pads", p, 4);
    w_msg(&g, 1, &node);
    node_begin(&node, "Relu", NULL, relu_in, 1, relu_out, 1);
    w_msg(&g, 1, &node);
    w_str(&g, 2, "tiny");
    t.n = 0;
    tensor_f32(&t, "w", W_DIMS, 4, w, 108, 1);
    w_msg(&g, 5, &t);
    t.n = 0;
    tensor_f32(&t, "b", bdims, 1, b, 4, 0);
    w_msg(&g, 5, &t);
    value_info(&g, 11, "x", X_DIMS, 4);
    value_info(&g, 11, "w", W_DIMS, 4);
    value_info(&g, 12, "y", X_DIMS, 4);
    model_wrap(m, &g, opset);
}

/* Naive conv (stride 2, kernel 3, pads [t,l,b,r]) + bias + relu of one
 * 3x8x8 image into out [4, OH, OW]. */
static void ref_conv_relu(const float *x, const int64_t *pads, float *out, int oh, int ow)
{
    float w[108], b[4];
    conv_weights(w, b);
    for (int o = 0; o < 4; o++)
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++) {
                double acc = b[o];
                for (int c = 0; c < 3; c++)
                    for (int ki = 0; ki < 3; ki++)
                        for (int kj = 0; kj < 3; kj++) {
                            int y = i * 2 + ki - (int)pads[0], xx = j * 2 + kj - (int)pads[1];
                            if (y >= 0 && y < 8 && xx >= 0 && xx < 8)
                                acc += (double)w[((o * 3 + c) * 3 + ki) * 3 + kj] * x[(c * 8 + y) * 8 + xx];
                        }
                out[(o * oh + i) * ow + j] = acc > 0 ? (float)acc : 0.0f;
            }
}

/* Runs g for batch 2 on a fixed input and compares with the naive conv. */
static void check_conv_numbers(nn_graph *g, const int64_t *pads)
{
    nn_plan *p = NULL;
    nn_err e;
    nn_plan_opts opts = {.threads = 1};
    float x[2 * 192], ref[4 * 4 * 4];
    if (nn_plan_create(g, 2, &opts, &p, &e) != NN_OK) {
        T_CHECKF(0, "plan: %s", e.msg);
        return;
    }
    nn_tensor *in = nn_plan_input(p, 0);
    for (int i = 0; i < 2 * 192; i++)
        x[i] = (float)((i * 7919) % 101) / 50.0f - 1.0f;
    memcpy(in->data, x, sizeof x);
    T_CHECK(nn_plan_run(p, &e) == NN_OK);
    const nn_tensor *out = nn_plan_output(p, 0);
    T_CHECK(out->shape.ndim == 4 && out->shape.d[0] == 2 && out->shape.d[1] == 4 &&
            out->shape.d[2] == 4 && out->shape.d[3] == 4);
    for (int n = 0; n < 2 && out->shape.d[2] == 4; n++) {
        ref_conv_relu(x + n * 192, pads, ref, 4, 4);
        double err = t_max_rel_err(out->data + n * 64, ref, 64);
        T_CHECKF(err < 1e-5, "image %d rel err %g", n, err);
    }
    nn_plan_free(p);
}

static void check_conv_graph(const char *auto_pad, const int64_t *want_pads)
{
    pbw m;
    nn_graph *g = NULL;
    nn_err e;
    int64_t pads[8], tmp[8];
    float w[108], b[4];
    build_conv_relu(&m, auto_pad, 13);
    nn_status st = read_model(&m, &g, &e);
    T_CHECKF(st == NN_OK, "%s: %s", auto_pad ? auto_pad : "pads", e.msg);
    if (st != NN_OK)
        return;
    conv_weights(w, b);
    T_CHECK(g->n_inputs == 1 && g->n_outputs == 1 && g->n_nodes == 2);
    const nn_value *x = &g->values[g->inputs[0]];
    T_CHECK(strcmp(x->name, "x") == 0 && x->shape.ndim == 4 && x->shape.d[0] == NN_DIM_BATCH &&
            x->shape.d[1] == 3 && x->shape.d[2] == 8 && x->shape.d[3] == 8);
    T_CHECK(strcmp(g->values[g->outputs[0]].name, "y") == 0);
    const nn_node *c = &g->nodes[0], *r = &g->nodes[1];
    T_CHECK(c->op == NN_OP_CONV && strcmp(c->name, "conv0") == 0 && c->n_inputs == 3);
    T_CHECK(r->op == NN_OP_RELU && strcmp(r->name, "Relu_1") == 0 && r->inputs[0] == c->output);
    T_CHECK(nn_node_get_ints(c, "pads", pads, 8) == 4);
    T_CHECKF(memcmp(pads, want_pads, 4 * sizeof *pads) == 0, "pads %lld %lld %lld %lld",
             (long long)pads[0], (long long)pads[1], (long long)pads[2], (long long)pads[3]);
    T_CHECK(nn_node_get_ints(c, "strides", tmp, 8) == 2 && tmp[0] == 2 && tmp[1] == 2);
    T_CHECK(nn_node_get_ints(c, "kernel_shape", tmp, 8) == 2 && tmp[0] == 3 && tmp[1] == 3);
    T_CHECK(nn_node_get_int(c, "group", 0) == 1);
    T_CHECK(nn_node_attr(c, "auto_pad") == NULL);
    const nn_value *wv = &g->values[c->inputs[1]], *bv = &g->values[c->inputs[2]];
    T_CHECK(wv->is_const && strcmp(wv->name, "w") == 0 && wv->shape.ndim == 4 && wv->shape.d[0] == 4);
    T_CHECK(wv->data && memcmp(wv->data, w, sizeof w) == 0);
    T_CHECK(bv->is_const && bv->shape.ndim == 1 && bv->shape.d[0] == 4 && memcmp(bv->data, b, sizeof b) == 0);
    T_CHECK(nn_graph_get_meta(g, "name") == NULL && g->n_meta == 0);
    check_conv_numbers(g, pads);
    nn_graph_free(g);
}

static void test_onnx_conv_relu(void)
{
    /* 8x8, k3 s2: out 4, total pad (4-1)*2+3-8 = 1 */
    static const int64_t explicit_pads[4] = {1, 1, 1, 1}, upper[4] = {0, 0, 1, 1},
                         lower[4] = {1, 1, 0, 0}, valid[4] = {0, 0, 0, 0};
    check_conv_graph(NULL, explicit_pads);
    check_conv_graph("SAME_UPPER", upper);
    check_conv_graph("SAME_LOWER", lower);
    pbw m;
    nn_graph *g = NULL;
    nn_err e;
    int64_t pads[4];
    build_conv_relu(&m, "VALID", 13);
    T_CHECK(read_model(&m, &g, &e) == NN_OK);
    T_CHECK(g && nn_node_get_ints(&g->nodes[0], "pads", pads, 4) == 4 &&
            memcmp(pads, valid, sizeof pads) == 0);
    nn_graph_free(g);
}

/* Every prefix of the model must fail cleanly; seeded bit flips must never
 * crash (under ASan they must not touch bad memory either). */
static void test_onnx_hostile(void)
{
    pbw m;
    static uint8_t buf[8192];
    nn_graph *g;
    nn_err e;
    int ok_prefix = 0, accepted = 0, empty_msg = 0;
    build_conv_relu(&m, "SAME_UPPER", 13);
    for (size_t k = 0; k < m.n; k++) {
        g = NULL;
        if (io_onnx_read(m.b, k, &g, &e) == NN_OK) {
            ok_prefix++;
            nn_graph_free(g);
        } else if (!e.msg[0]) {
            empty_msg++;
        }
    }
    T_CHECKF(ok_prefix == 0, "%d prefixes accepted", ok_prefix);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (int it = 0; it < 4000; it++) {
        memcpy(buf, m.b, m.n);
        int flips = 1 + it % 4;
        for (int f = 0; f < flips; f++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            size_t bit = (size_t)(seed >> 33) % (m.n * 8);
            buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        g = NULL;
        nn_status st = io_onnx_read(buf, m.n, &g, &e);
        if (st == NN_OK) {
            accepted++;
            T_CHECK(g != NULL && g->n_nodes >= 1);
            nn_graph_free(g);
        } else {
            T_CHECK(g == NULL);
            if (!e.msg[0])
                empty_msg++;
        }
    }
    T_CHECKF(empty_msg == 0, "%d errors without a message", empty_msg);
    printf("  hostile: %zu truncations rejected, %d of 4000 bit-flipped models still valid\n",
           m.n, accepted);
    T_CHECK(io_onnx_read(NULL, 0, &g, &e) == NN_ERR_FORMAT);
    T_CHECK(io_onnx_read(m.b, m.n, NULL, &e) == NN_ERR_INVALID);
}

/* ---- opset normalisation ------------------------------------------------------- */

/* x.view(x.size(0), -1) as torch exports it with a dynamic batch:
 * Relu -> Shape -> Gather(0) -> Unsqueeze -> Concat(-1) -> Reshape. */
static void test_onnx_shape_chain(void)
{
    for (int opset = 9; opset <= 13; opset += 4) {
        static const char *r_in[] = {"x"}, *r_out[] = {"r"}, *s_in[] = {"r"}, *s_out[] = {"s"};
        static const char *g_in[] = {"s", "i0"}, *g_out[] = {"g"};
        static const char *u13_in[] = {"g", "ax"}, *u_out[] = {"u"};
        static const char *c_in[] = {"u", "m1"}, *c_out[] = {"shp"};
        static const char *rs_in[] = {"r", "shp"}, *rs_out[] = {"y"};
        static const int64_t zero = 0, m1 = -1, ax0 = 0;
        pbw gr = {.n = 0}, node, m;
        nn_graph *g = NULL;
        nn_err e;
        int64_t shape[8];
        node_begin(&node, "Relu", "relu", r_in, 1, r_out, 1);
        w_msg(&gr, 1, &node);
        node_begin(&node, "Shape", "shape", s_in, 1, s_out, 1);
        w_msg(&gr, 1, &node);
        const_node_i64(&gr, "i0", &zero, -1);
        node_begin(&node, "Gather", "gather", g_in, 2, g_out, 1);
        attr_int(&node, "axis", 0);
        w_msg(&gr, 1, &node);
        if (opset >= 13) {
            const_node_i64(&gr, "ax", &ax0, 1);
            node_begin(&node, "Unsqueeze", "unsq", u13_in, 2, u_out, 1);
        } else {
            node_begin(&node, "Unsqueeze", "unsq", u13_in, 1, u_out, 1);
            attr_ints(&node, "axes", &ax0, 1);
        }
        w_msg(&gr, 1, &node);
        const_node_i64(&gr, "m1", &m1, 1);
        node_begin(&node, "Concat", "cat", c_in, 2, c_out, 1);
        attr_int(&node, "axis", 0);
        w_msg(&gr, 1, &node);
        node_begin(&node, "Reshape", "view", rs_in, 2, rs_out, 1);
        w_msg(&gr, 1, &node);
        value_info(&gr, 11, "x", X4, 4);
        value_info(&gr, 12, "y", X4, 2);
        model_wrap(&m, &gr, opset);
        nn_status st = read_model(&m, &g, &e);
        T_CHECKF(st == NN_OK, "opset %d: %s", opset, e.msg);
        if (st != NN_OK)
            continue;
        T_CHECK(g->n_nodes == 2 && g->nodes[1].op == NN_OP_RESHAPE);
        T_CHECK(nn_node_get_ints(&g->nodes[1], "shape", shape, 8) == 2 && shape[0] == 0 &&
                shape[1] == -1);
        T_CHECK(nn_graph_find_value(g, "shp") < 0 && nn_graph_find_value(g, "s") < 0);
        nn_graph_free(g);
    }
}


static void test_onnx_clip_softmax(void)
{
    for (int opset = 6; opset <= 13; opset += 7) {
        static const char *c11_in[] = {"x", "lo", "hi"}, *c_out[] = {"c"};
        static const char *s_in[] = {"c"}, *s_out[] = {"y"};
        pbw gr = {.n = 0}, node, m;
        nn_graph *g = NULL;
        nn_err e;
        if (opset >= 11) {
            const_node_f32(&gr, "lo", 0.0f);
            const_node_f32(&gr, "hi", 6.0f);
            node_begin(&node, "Clip", "relu6", c11_in, 3, c_out, 1);
        } else {
            node_begin(&node, "Clip", "relu6", c11_in, 1, c_out, 1);
            attr_float(&node, "min", 0.0f);
            attr_float(&node, "max", 6.0f);
        }
        w_msg(&gr, 1, &node);
        node_begin(&node, "Softmax", "sm", s_in, 1, s_out, 1);
        w_msg(&gr, 1, &node);
        model_wrap_xy(&m, &gr, 4, opset);
        nn_status st = read_model(&m, &g, &e);
        T_CHECKF(st == NN_OK, "opset %d: %s", opset, e.msg);
        if (st != NN_OK)
            continue;
        T_CHECK(g->n_nodes == 2 && g->nodes[0].op == NN_OP_CLIP && g->nodes[0].n_inputs == 1);
        T_CHECK(nn_node_get_float(&g->nodes[0], "min", -1) == 0.0f &&
                nn_node_get_float(&g->nodes[0], "max", -1) == 6.0f);
        T_CHECK(g->nodes[1].op == NN_OP_SOFTMAX);
        T_CHECK(nn_node_get_int(&g->nodes[1], "axis", 99) == (opset < 13 ? 1 : -1));
        T_CHECK(nn_node_get_int(&g->nodes[1], "coerce_2d", 0) == (opset < 13));
        T_CHECK(g->n_values == 3);   /* x, c, y: the folded min/max are not graph values */
        nn_graph_free(g);
    }
}

/* Opset 6 Add with broadcast=1, axis=1 and B [2]: B becomes [2,1,1]; a
 * non-constant B with an axis is unsupported. */
static void test_onnx_legacy_broadcast(void)
{
    static const char *a_in[] = {"x", "bias"}, *a_out[] = {"y"};
    static const char *m_in[] = {"x", "x2"};
    static const int64_t bd[1] = {2}, x2d[1] = {2};
    static const float bias[2] = {0.5f, -1.0f};
    pbw gr = {.n = 0}, node, t = {.n = 0}, m;
    nn_graph *g = NULL;
    nn_err e;
    node_begin(&node, "Add", "add", a_in, 2, a_out, 1);
    attr_int(&node, "broadcast", 1);
    attr_int(&node, "axis", 1);
    w_msg(&gr, 1, &node);
    tensor_f32(&t, "bias", bd, 1, bias, 2, 1);
    w_msg(&gr, 5, &t);
    model_wrap_xy(&m, &gr, 4, 6);
    nn_status st = read_model(&m, &g, &e);
    T_CHECKF(st == NN_OK, "%s", e.msg);
    if (st == NN_OK) {
        const nn_value *b = &g->values[g->nodes[0].inputs[1]];
        T_CHECK(b->is_const && b->shape.ndim == 3 && b->shape.d[0] == 2 && b->shape.d[1] == 1 &&
                b->shape.d[2] == 1 && b->data[0] == 0.5f && b->data[1] == -1.0f);
        T_CHECK(nn_node_attr(&g->nodes[0], "broadcast") == NULL);
        nn_graph_free(g);
    }
    gr.n = 0;
    node_begin(&node, "Mul", "mul", m_in, 2, a_out, 1);
    attr_int(&node, "broadcast", 1);
    attr_int(&node, "axis", 1);
    w_msg(&gr, 1, &node);
    value_info(&gr, 11, "x", X4, 4);
    value_info(&gr, 11, "x2", x2d, 1);
    value_info(&gr, 12, "y", X4, 4);
    model_wrap(&m, &gr, 6);
    T_CHECK(read_model(&m, &g, &e) == NN_ERR_UNSUPPORTED && strstr(e.msg, "broadcast"));
}

/* Attribute forms of old opsets: Reshape(shape) opset 4, BatchNormalization
 * with consumed_inputs/is_test/spatial opset 5, Pad(paddings) opset 1,
 * Slice(starts/ends/axes) opset 9 -> the IR attributes. */
static void test_onnx_legacy_attrs(void)
{
    static const char *r_in[] = {"x"}, *r_out[] = {"y"};
    static const char *bn_in[] = {"x", "s", "s", "s", "s"}, *bn_out[] = {"y"};
    static const int64_t spec[2] = {0, -1}, sd[1] = {2}, paddings[8] = {0, 0, 1, 2, 0, 0, 3, 4};
    static const int64_t starts[1] = {1}, ends[1] = {1000}, axes[1] = {3};
    static const float sv[2] = {1, 1};
    pbw gr = {.n = 0}, node, m, t = {.n = 0};
    nn_graph *g = NULL;
    nn_err e;
    int64_t v[8];

    node_begin(&node, "Reshape", "r", r_in, 1, r_out, 1);
    attr_ints(&node, "shape", spec, 2);
    attr_ints(&node, "consumed_inputs", spec, 1);
    w_msg(&gr, 1, &node);
    value_info(&gr, 11, "x", X4, 4);
    value_info(&gr, 12, "y", X4, 2);
    model_wrap(&m, &gr, 4);
    T_CHECKF(read_model(&m, &g, &e) == NN_OK, "%s", e.msg);
    T_CHECK(g && nn_node_get_ints(&g->nodes[0], "shape", v, 8) == 2 && v[0] == 0 && v[1] == -1);
    nn_graph_free(g);

    gr.n = 0;
    node_begin(&node, "BatchNormalization", "bn", bn_in, 5, bn_out, 1);
    attr_ints(&node, "consumed_inputs", spec, 2);
    attr_int(&node, "is_test", 1);
    attr_int(&node, "spatial", 1);
    attr_float(&node, "epsilon", 1e-3f);
    attr_float(&node, "momentum", 0.9f);
    w_msg(&gr, 1, &node);
    tensor_f32(&t, "s", sd, 1, sv, 2, 1);
    w_msg(&gr, 5, &t);
    model_wrap_xy(&m, &gr, 4, 5);
    g = NULL;
    T_CHECKF(read_model(&m, &g, &e) == NN_OK, "%s", e.msg);
    T_CHECK(g && g->nodes[0].op == NN_OP_BATCHNORM && g->nodes[0].n_inputs == 5 &&
            nn_node_get_float(&g->nodes[0], "epsilon", 0) == 1e-3f && g->nodes[0].n_attrs == 1);
    nn_graph_free(g);

    gr.n = 0;
    node_begin(&node, "Pad", "p", r_in, 1, r_out, 1);
    attr_ints(&node, "paddings", paddings, 8);
    attr_str(&node, "mode", "edge");
    w_msg(&gr, 1, &node);
    model_wrap_xy(&m, &gr, 4, 1);
    g = NULL;
    T_CHECKF(read_model(&m, &g, &e) == NN_OK, "%s", e.msg);
    T_CHECK(g && nn_node_get_ints(&g->nodes[0], "pads", v, 8) == 8 && memcmp(v, paddings, sizeof v) == 0);
    T_CHECK(g && strcmp(nn_node_get_string(&g->nodes[0], "mode", ""), "edge") == 0);
    nn_graph_free(g);

    gr.n = 0;
    node_begin(&node, "Slice", "s", r_in, 1, r_out, 1);
    attr_ints(&node, "starts", starts, 1);
    attr_ints(&node, "ends", ends, 1);
    attr_ints(&node, "axes", axes, 1);
    w_msg(&gr, 1, &node);
    model_wrap_xy(&m, &gr, 4, 9);
    g = NULL;
    T_CHECKF(read_model(&m, &g, &e) == NN_OK, "%s", e.msg);
    T_CHECK(g && nn_node_get_ints(&g->nodes[0], "starts", v, 8) == 1 && v[0] == 1);
    T_CHECK(g && nn_node_get_ints(&g->nodes[0], "ends", v, 8) == 1 && v[0] == 1000);
    T_CHECK(g && nn_node_get_ints(&g->nodes[0], "axes", v, 8) == 1 && v[0] == 3);
    T_CHECK(g && nn_node_get_ints(&g->nodes[0], "steps", v, 8) == 1 && v[0] == 1);
    nn_graph_free(g);
}

/* ---- real exports ------------------------------------------------------------------ */

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *b = NULL;
    long n;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (b = malloc((size_t)n)) && fread(b, 1, (size_t)n, f) == (size_t)n) {
        *len = (size_t)n;
    } else {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

static nn_graph *convert_file(const char *path)
{
    size_t len = 0;
    uint8_t *b = read_file(path, &len);
    nn_graph *g = NULL;
    nn_err e;
    if (!b) {
        T_CHECKF(0, "cannot read %s", path);
        return NULL;
    }
    nn_status st = io_onnx_read(b, len, &g, &e);
    T_CHECKF(st == NN_OK, "%s: %s", path, e.msg);
    free(b);
    return g;
}

static int count_op(const nn_graph *g, int op)
{
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++)
        k += g->nodes[i].op == op;
    return k;
}

static void test_onnx_testdata(void)
{
    const char *td = getenv("TESTDATA");
    char path[1024];
    nn_graph *g;
    if (!td || !td[0]) {
        printf("  TESTDATA not set: shared ONNX exports skipped\n");
        return;
    }
    snprintf(path, sizeof path, "%s/models/cifar10_resnet20_akamaster/resnet20-12fca82f.onnx", td);
    if ((g = convert_file(path))) {
        const nn_shape *s = &g->values[g->inputs[0]].shape;
        T_CHECKF(g->n_nodes == 56, "resnet20 nodes %d", g->n_nodes);
        T_CHECK(count_op(g, NN_OP_CONV) == 19 && count_op(g, NN_OP_RELU) == 19 &&
                count_op(g, NN_OP_ADD) == 9 && count_op(g, NN_OP_SLICE) == 4 &&
                count_op(g, NN_OP_PAD) == 2 && count_op(g, NN_OP_GEMM) == 1);
        T_CHECK(s->ndim == 4 && s->d[0] == NN_DIM_BATCH && s->d[1] == 3 && s->d[2] == 32 && s->d[3] == 32);
        T_CHECK(nn_graph_param_count(g) == 269034);
        /* option-A shortcut: zero channel padding of 8 on each side */
        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i].op == NN_OP_PAD) {
                int64_t p[8];
                T_CHECK(nn_node_get_ints(&g->nodes[i], "pads", p, 8) == 8 && p[1] == p[5] &&
                        (p[1] == 8 || p[1] == 16) && p[0] == 0 && p[2] == 0 && p[3] == 0);
                T_CHECK(strcmp(nn_node_get_string(&g->nodes[i], "mode", ""), "constant") == 0);
            }
        nn_graph_free(g);
    }
    snprintf(path, sizeof path, "%s/models/pneumoniamnist_cnn_pytorch/pneumonia_model.onnx", td);
    if ((g = convert_file(path))) {
        const nn_shape *s = &g->values[g->inputs[0]].shape;
        T_CHECKF(g->n_nodes == 10, "pneumonia nodes %d", g->n_nodes);
        T_CHECK(count_op(g, NN_OP_CONV) == 2 && count_op(g, NN_OP_MAXPOOL) == 2 &&
                count_op(g, NN_OP_GEMM) == 2 && count_op(g, NN_OP_FLATTEN) == 1);
        T_CHECK(s->ndim == 4 && s->d[0] == NN_DIM_BATCH && s->d[1] == 1 && s->d[2] == 28);
        T_CHECK(nn_graph_param_count(g) == 105281);
        nn_graph_free(g);
    }
}

/* Directory mode: every NAME.onnx there (with NAME.in.f32 / NAME.out.f32
 * from make_onnx_cases.py, batch 2) is converted, optimised, run and
 * compared with PyTorch's output. */
static void run_case(const char *dir, const char *file)
{
    char path[1100], base[1024];
    size_t in_len = 0, out_len = 0;
    float *x = NULL, *y = NULL;
    nn_plan *p = NULL;
    nn_plan_opts opts = {.threads = 2};
    nn_err e;
    nn_graph *g;
    snprintf(base, sizeof base, "%s/%.*s", dir, (int)(strlen(file) - 5), file);
    snprintf(path, sizeof path, "%s.onnx", base);
    if (!(g = convert_file(path)))
        return;
    T_CHECKF(nn_graph_optimize(g, &e) == NN_OK, "%s: optimize: %s", file, e.msg);
    snprintf(path, sizeof path, "%s.in.f32", base);
    x = (float *)read_file(path, &in_len);
    snprintf(path, sizeof path, "%s.out.f32", base);
    y = (float *)read_file(path, &out_len);
    if (!x || !y) {
        T_CHECKF(0, "%s: missing .in.f32/.out.f32", file);
        goto done;
    }
    if (nn_plan_create(g, 2, &opts, &p, &e) != NN_OK) {
        T_CHECKF(0, "%s: plan: %s", file, e.msg);
        goto done;
    }
    nn_tensor *in = nn_plan_input(p, 0);
    if (nn_shape_numel(&in->shape) * 4 != (int64_t)in_len) {
        T_CHECKF(0, "%s: input size", file);
        goto done;
    }
    memcpy(in->data, x, in_len);
    T_CHECK(nn_plan_run(p, &e) == NN_OK);
    const nn_tensor *out = nn_plan_output(p, 0);
    if (nn_shape_numel(&out->shape) * 4 != (int64_t)out_len) {
        T_CHECKF(0, "%s: output has %lld values, PyTorch %zu", file,
                 (long long)nn_shape_numel(&out->shape), out_len / 4);
        goto done;
    }
    double err = t_max_rel_err(out->data, y, (long)(out_len / 4));
    printf("  %-28s nodes %3d  max rel err %.2e\n", file, g->n_nodes, err);
    T_CHECKF(err < 2e-4, "%s: rel err %g", file, err);
done:
    nn_plan_free(p);
    free(x);
    free(y);
    nn_graph_free(g);
}

static const char *cases_dir;

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_onnx_cases(void)
{
    DIR *d = opendir(cases_dir);
    struct dirent *de;
    char *names[512];
    int n = 0;
    if (!d) {
        T_CHECKF(0, "cannot open %s", cases_dir);
        return;
    }
    while ((de = readdir(d)) && n < 512) {
        size_t l = strlen(de->d_name);
        if (l > 5 && strcmp(de->d_name + l - 5, ".onnx") == 0)
            names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, name_cmp);
    T_CHECKF(n > 0, "no .onnx files in %s", cases_dir);
    for (int i = 0; i < n; i++) {
        run_case(cases_dir, names[i]);
        free(names[i]);
    }
}

int main(int argc, char **argv)
{
    T_RUN(test_onnx_conv_relu);
    T_RUN(test_onnx_hostile);
    T_RUN(test_onnx_shape_chain);
    T_RUN(test_onnx_clip_softmax);
    T_RUN(test_onnx_legacy_broadcast);
    T_RUN(test_onnx_legacy_attrs);
    T_RUN(test_onnx_testdata);
    if (argc > 1) {
        cases_dir = argv[1];
        T_RUN(test_onnx_cases);
    }
    return t_summary("test_onnx");
}
