/* test_onnx_bad.c — models the ONNX reader (io_onnx) must refuse with the
 * right status and a message that names the problem: unsupported ops,
 * domains, opsets and outputs, and malformed ones (values that do not match
 * their dims, more dims than NN_MAX_DIMS, undefined inputs, ...), built by
 * hand with tests/onnx_pbw.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_onnx.h"
#include "tests/onnx_pbw.h"
#include "tests/tassert.h"

/* One-node graph x -> op -> y with optional extra output used as a graph
 * output; returns the status. */
static nn_status one_node(const char *op, const char *domain, int opset, const int64_t *xdims,
                          int used_second_output, nn_err *e)
{
    static const char *in[] = {"x"}, *out[] = {"y", "mask"};
    pbw gr = {.n = 0}, node, m;
    nn_graph *g = NULL;
    node_begin(&node, op, "n0", in, 1, out, used_second_output ? 2 : 1);
    if (domain)
        w_str(&node, 7, domain);
    w_msg(&gr, 1, &node);
    value_info(&gr, 11, "x", xdims, 4);
    value_info(&gr, 12, "y", xdims, 4);
    if (used_second_output)
        value_info(&gr, 12, "mask", xdims, 4);
    model_wrap(&m, &gr, opset);
    nn_status st = read_model(&m, &g, e);
    nn_graph_free(g);
    return st;
}

static void test_onnx_unsupported(void)
{
    static const int64_t sym_h[4] = {1, 3, -1, 4}, zero_batch[4] = {0, 3, 4, 4};
    nn_err e;
    T_CHECK(one_node("LogSoftmax", NULL, 13, X4, 0, &e) == NN_ERR_UNSUPPORTED &&
            strstr(e.msg, "'LogSoftmax'") && strstr(e.msg, "'n0'"));
    T_CHECK(one_node("ConvTranspose", NULL, 13, X4, 0, &e) == NN_ERR_UNSUPPORTED);
    T_CHECK(one_node("Relu", "com.microsoft", 13, X4, 0, &e) == NN_ERR_UNSUPPORTED &&
            strstr(e.msg, "com.microsoft"));
    T_CHECK(one_node("Relu", NULL, 13, sym_h, 0, &e) == NN_ERR_UNSUPPORTED && strstr(e.msg, "symbolic"));
    T_CHECK(one_node("Relu", NULL, 13, zero_batch, 0, &e) == NN_OK);
    T_CHECK(one_node("Dropout", NULL, 13, X4, 0, &e) == NN_OK);
    T_CHECK(one_node("Dropout", NULL, 13, X4, 1, &e) == NN_ERR_UNSUPPORTED && strstr(e.msg, "mask"));
    T_CHECK(one_node("Relu", NULL, 99, X4, 0, &e) == NN_ERR_UNSUPPORTED);
    T_CHECK(one_node("Relu", "ai.onnx", 13, X4, 0, &e) == NN_OK);

    /* an unknown attribute on a known op */
    static const char *in[] = {"x"}, *out[] = {"y"};
    pbw gr = {.n = 0}, node, m, t = {.n = 0};
    nn_graph *g = NULL;
    node_begin(&node, "Relu", "r", in, 1, out, 1);
    attr_int(&node, "mystery", 3);
    w_msg(&gr, 1, &node);
    model_wrap_xy(&m, &gr, 4, 13);
    T_CHECK(read_model(&m, &g, &e) == NN_ERR_UNSUPPORTED && strstr(e.msg, "mystery"));

    /* 1-D convolution (weight [2, 2, 3]) */
    static const char *cin[] = {"x", "w"};
    static const int64_t wd[3] = {2, 2, 3};
    static const float wv[12] = {0};
    gr.n = 0;
    node_begin(&node, "Conv", "c", cin, 2, out, 1);
    w_msg(&gr, 1, &node);
    tensor_f32(&t, "w", wd, 3, wv, 12, 1);
    w_msg(&gr, 5, &t);
    model_wrap_xy(&m, &gr, 3, 13);
    T_CHECK(read_model(&m, &g, &e) == NN_ERR_UNSUPPORTED && strstr(e.msg, "2-D"));

    /* 3-D pooling */
    static const int64_t k3[3] = {2, 2, 2};
    gr.n = 0;
    node_begin(&node, "MaxPool", "mp", in, 1, out, 1);
    attr_ints(&node, "kernel_shape", k3, 3);
    w_msg(&gr, 1, &node);
    model_wrap_xy(&m, &gr, 4, 13);
    T_CHECK(read_model(&m, &g, &e) == NN_ERR_UNSUPPORTED && strstr(e.msg, "2-D"));

    /* BatchNormalization in training mode */
    static const char *bin[] = {"x", "s", "s", "s", "s"};
    static const int64_t sd[1] = {2};
    static const float sv[2] = {1, 1};
    gr.n = 0;
    node_begin(&node, "BatchNormalization", "bn", bin, 5, out, 1);
    attr_int(&node, "training_mode", 1);
    w_msg(&gr, 1, &node);
    t.n = 0;
    tensor_f32(&t, "s", sd, 1, sv, 2, 1);
    w_msg(&gr, 5, &t);
    model_wrap_xy(&m, &gr, 4, 15);
    T_CHECK(read_model(&m, &g, &e) == NN_ERR_UNSUPPORTED && strstr(e.msg, "training_mode"));
}

/* Reads the model y = Add(x, w) whose one initializer is the TensorProto
 * t (built by the caller, possibly malformed); returns the status. */
static nn_status read_add_with(const pbw *node, const pbw *t, nn_err *e)
{
    pbw gr = {.n = 0}, m;
    nn_graph *g = NULL;
    w_msg(&gr, 1, node);
    w_msg(&gr, 5, t);
    model_wrap_xy(&m, &gr, 4, 13);
    nn_status st = read_model(&m, &g, e);
    nn_graph_free(g);
    return st;
}

/* Malformed models: sizes, references and limits. */
static void test_onnx_malformed(void)
{
    static const char *in[] = {"x", "w"}, *out[] = {"y"}, *undef_in[] = {"nope"};
    static const int64_t d7[7] = {1, 1, 1, 1, 1, 1, 2}, d2[2] = {2, 2};
    static const float v[4] = {1, 2, 3, 4};
    pbw gr = {.n = 0}, node, m, t = {.n = 0};
    nn_graph *g = NULL;
    nn_err e;

    /* raw_data shorter than the dims say */
    node_begin(&node, "Add", "a", in, 2, out, 1);
    static const int64_t d3[2] = {2, 3};
    tensor_f32(&t, "w", d3, 2, v, 4, 1);
    T_CHECK(read_add_with(&node, &t, &e) == NN_ERR_FORMAT && strstr(e.msg, "raw_data"));
    /* dims of 2^40 elements over 16 bytes of raw_data, then over 4 float_data
     * values: refused for the mismatch, before any memory is asked for them
     * (allocating first failed with NN_ERR_NOMEM, or took gigabytes for a
     * smaller claim) */
    static const int64_t dhuge[2] = {(int64_t)1 << 20, (int64_t)1 << 20};
    for (int raw = 1; raw >= 0; raw--) {
        t.n = 0;
        tensor_f32(&t, "w", dhuge, 2, v, 4, raw);
        T_CHECKF(read_add_with(&node, &t, &e) == NN_ERR_FORMAT &&
                     strstr(e.msg, raw ? "raw_data has 16 bytes" : "has 4 values"),
                 "raw %d: %s", raw, e.msg);
    }
    /* float_data count mismatch */
    t.n = 0;
    tensor_f32(&t, "w", d3, 2, v, 4, 0);
    T_CHECK(read_add_with(&node, &t, &e) == NN_ERR_FORMAT);
    /* more than NN_MAX_DIMS dims */
    t.n = 0;
    tensor_f32(&t, "w", d7, 7, v, 2, 1);
    T_CHECK(read_add_with(&node, &t, &e) == NN_ERR_LIMIT);
    /* external data */
    t.n = 0;
    tensor_f32(&t, "w", d2, 2, v, 4, 1);
    w_int(&t, 14, 1);
    T_CHECK(read_add_with(&node, &t, &e) == NN_ERR_UNSUPPORTED && strstr(e.msg, "external"));
    /* negative dim in an initializer */
    static const int64_t dneg[2] = {-2, 2};
    t.n = 0;
    tensor_f32(&t, "w", dneg, 2, v, 4, 1);
    T_CHECK(read_add_with(&node, &t, &e) == NN_ERR_FORMAT);
    /* input never defined */
    gr.n = 0;
    node_begin(&node, "Relu", "r", undef_in, 1, out, 1);
    w_msg(&gr, 1, &node);
    model_wrap_xy(&m, &gr, 4, 13);
    T_CHECK(read_model(&m, &g, &e) == NN_ERR_FORMAT && strstr(e.msg, "nope"));
    /* the same output produced twice */
    gr.n = 0;
    node_begin(&node, "Relu", "r1", in, 1, out, 1);
    w_msg(&gr, 1, &node);
    node_begin(&node, "Relu", "r2", in, 1, out, 1);
    w_msg(&gr, 1, &node);
    model_wrap_xy(&m, &gr, 4, 13);
    T_CHECK(read_model(&m, &g, &e) == NN_ERR_FORMAT && strstr(e.msg, "twice"));
    /* no opset_import in an ir_version 7 model */
    gr.n = 0;
    node_begin(&node, "Relu", "r1", in, 1, out, 1);
    w_msg(&gr, 1, &node);
    value_info(&gr, 11, "x", X4, 4);
    value_info(&gr, 12, "y", X4, 4);
    m.n = 0;
    w_int(&m, 1, 7);
    w_msg(&m, 7, &gr);
    T_CHECK(read_model(&m, &g, &e) == NN_ERR_FORMAT && strstr(e.msg, "opset"));
    /* a group inside the graph */
    static const uint8_t grp[] = {0x08, 0x07, 0x3a, 0x02, 0x0b, 0x0c, 0x42, 0x02, 0x10, 0x0d};
    T_CHECK(io_onnx_read(grp, sizeof grp, &g, &e) == NN_ERR_UNSUPPORTED);
    /* not protobuf at all */
    static const char junk[] = "\x89PNG\r\n\x1a\n plus some bytes";
    T_CHECK(io_onnx_read(junk, sizeof junk, &g, &e) != NN_OK && g == NULL);
}

int main(void)
{
    T_RUN(test_onnx_unsupported);
    T_RUN(test_onnx_malformed);
    return t_summary("test_onnx_bad");
}
