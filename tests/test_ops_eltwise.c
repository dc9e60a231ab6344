/* test_ops_eltwise.c — element-wise ops (Relu, Clip, LeakyRelu, Sigmoid,
 * Tanh, Add, Mul, Softmax, Dropout, Identity): fast kernels against the
 * references over shape sweeps (odd sizes, rank 2..4, broadcasting
 * variants, softmax axes and coerce_2d) at 1 and 2 threads; the references
 * themselves against hand-computed values; bad attributes and shapes
 * rejected at plan time with a message naming the node. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "op_harness.h"

#define TOL 1e-5

static nn_shape shp(int nd, int64_t a, int64_t b, int64_t c, int64_t d)
{
    int64_t v[4] = {a, b, c, d};
    return nn_shape_make(nd, v);
}


/* ---- unary ---- */

typedef struct unary_case {
    const char *label;
    int op;
    const char *fattr1, *fattr2;   /* optional float attributes */
    float v1, v2;
} unary_case;

static const unary_case unary_cases[] = {
    {"relu", NN_OP_RELU, NULL, NULL, 0, 0},
    {"clip", NN_OP_CLIP, "min", "max", -0.3f, 0.5f},
    {"clip-default", NN_OP_CLIP, NULL, NULL, 0, 0},
    {"clip-min-only", NN_OP_CLIP, "min", NULL, 0.1f, 0},
    {"clip-max-only", NN_OP_CLIP, "max", NULL, -0.2f, 0},
    {"leakyrelu", NN_OP_LEAKYRELU, NULL, NULL, 0, 0},
    {"leakyrelu-0.2", NN_OP_LEAKYRELU, "alpha", NULL, 0.2f, 0},
    {"sigmoid", NN_OP_SIGMOID, NULL, NULL, 0, 0},
    {"tanh", NN_OP_TANH, NULL, NULL, 0, 0},
    {"dropout", NN_OP_DROPOUT, "ratio", NULL, 0.5f, 0},
    {"identity", NN_OP_IDENTITY, NULL, NULL, 0, 0},
};

static void test_unary_sweep(void)
{
    nn_shape shapes[] = {shp(4, 1, 3, 5, 7), shp(2, 2, 17, 0, 0), shp(3, 3, 4, 33, 0),
                         shp(2, 1, 1, 0, 0), shp(4, 2, 16, 33, 35)};
    for (size_t k = 0; k < sizeof unary_cases / sizeof unary_cases[0]; k++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            const unary_case *u = &unary_cases[k];
            oh_case c = oh_begin(u->op, &shapes[s]);
            char label[64];
            if (u->fattr1)
                nn_node_set_float(oh_node(&c), u->fattr1, u->v1);
            if (u->fattr2)
                nn_node_set_float(oh_node(&c), u->fattr2, u->v2);
            snprintf(label, sizeof label, "%s shape %zu", u->label, s);
            oh_check_sweep(&c, label, &shapes[s], TOL);
        }
}

static void test_unary_hand(void)
{
    nn_shape s3 = shp(1, 3, 0, 0, 0), s2 = shp(1, 2, 0, 0, 0), s5 = shp(1, 5, 0, 0, 0);
    float x3[3] = {-1.0f, 0.25f, 2.0f};
    oh_case c = oh_begin(NN_OP_RELU, &s3);
    oh_check_hand(&c, "relu", x3, (const float[]){0.0f, 0.25f, 2.0f}, 3, &s3);

    c = oh_begin(NN_OP_CLIP, &s3);
    nn_node_set_float(oh_node(&c), "min", -0.5f);
    nn_node_set_float(oh_node(&c), "max", 0.5f);
    oh_check_hand(&c, "clip", x3, (const float[]){-0.5f, 0.25f, 0.5f}, 3, &s3);

    c = oh_begin(NN_OP_CLIP, &s3);
    nn_node_set_int(oh_node(&c), "min", 0);   /* an int bound is accepted */
    oh_check_hand(&c, "clip int min", x3, (const float[]){0.0f, 0.25f, 2.0f}, 3, &s3);

    c = oh_begin(NN_OP_LEAKYRELU, &s2);
    nn_node_set_float(oh_node(&c), "alpha", 0.1f);
    oh_check_hand(&c, "leakyrelu", (const float[]){-2.0f, 3.0f}, (const float[]){-0.2f, 3.0f}, 2, &s2);

    c = oh_begin(NN_OP_LEAKYRELU, &s2);
    oh_check_hand(&c, "leakyrelu default", (const float[]){-2.0f, 3.0f},
               (const float[]){-0.02f, 3.0f}, 2, &s2);

    /* Large |x| must give 0 and 1 without NaN/overflow. */
    c = oh_begin(NN_OP_SIGMOID, &s5);
    oh_check_hand(&c, "sigmoid", (const float[]){0.0f, 100.0f, -100.0f, -1000.0f, logf(3.0f)},
               (const float[]){0.5f, 1.0f, 0.0f, 0.0f, 0.75f}, 5, &s5);

    c = oh_begin(NN_OP_TANH, &s3);
    oh_check_hand(&c, "tanh", (const float[]){0.0f, 0.5f, -20.0f},
               (const float[]){0.0f, 0.46211715726f, -1.0f}, 3, &s3);

    c = oh_begin(NN_OP_IDENTITY, &s3);
    oh_check_hand(&c, "identity", x3, x3, 3, &s3);
    c = oh_begin(NN_OP_DROPOUT, &s3);
    oh_check_hand(&c, "dropout", x3, x3, 3, &s3);
}

/* The fast Sigmoid and Softmax use their own vectorised exp: check both
 * kernels over the whole float range of exp (the sweeps only feed [-1, 1)). */
static void test_exp_range(void)
{
    enum { N = 203 };
    float x[N], want[N];
    double sum = 0;
    nn_shape s = shp(2, 1, N, 0, 0);
    oh_case c;
    for (int i = 0; i < N; i++) {
        double v = -101.0 + i;   /* -101 .. 101, odd count: tail lanes too */
        x[i] = (float)v;
        want[i] = (float)(v >= 0 ? 1 / (1 + exp(-v)) : exp(v) / (1 + exp(v)));
    }
    c = oh_begin(NN_OP_SIGMOID, &s);
    oh_check_hand(&c, "sigmoid -101..101", x, want, N, &s);

    /* Softmax of x / 4 over one row: exp(x/4 - 25.25) spans e^-50.5 .. 1. */
    for (int i = 0; i < N; i++)
        x[i] = (float)((-101.0 + i) / 4.0);
    for (int i = 0; i < N; i++)
        sum += exp((double)x[i] - (double)x[N - 1]);
    for (int i = 0; i < N; i++)
        want[i] = (float)(exp((double)x[i] - (double)x[N - 1]) / sum);
    c = oh_begin(NN_OP_SOFTMAX, &s);
    oh_check_hand(&c, "softmax spread row", x, want, N, &s);
}

static void test_unary_reject(void)
{
    nn_shape s = shp(2, 2, 3, 0, 0);
    oh_case c = oh_begin(NN_OP_CLIP, &s);
    nn_node_set_float(oh_node(&c), "min", 1.0f);
    nn_node_set_float(oh_node(&c), "max", -1.0f);
    oh_check_reject(&c, "clip min > max", NN_ERR_FORMAT, "min");

    c = oh_begin(NN_OP_CLIP, &s);
    nn_node_set_ints(oh_node(&c), "min", (const int64_t[]){0, 1}, 2);
    oh_check_reject(&c, "clip min as ints", NN_ERR_FORMAT, "min");

    c = oh_begin(NN_OP_CLIP, &s);
    nn_node_set_float(oh_node(&c), "max", NAN);
    oh_check_reject(&c, "clip max NaN", NN_ERR_FORMAT, "NaN");

    c = oh_begin(NN_OP_LEAKYRELU, &s);
    nn_node_set_string(oh_node(&c), "alpha", "big");
    oh_check_reject(&c, "leakyrelu alpha string", NN_ERR_FORMAT, "alpha");

    c = oh_begin(NN_OP_LEAKYRELU, &s);
    nn_node_set_float(oh_node(&c), "alpha", INFINITY);
    oh_check_reject(&c, "leakyrelu alpha inf", NN_ERR_FORMAT, "alpha");
}

/* ---- binary ---- */

typedef struct bin_case {
    nn_shape x;          /* graph input (batch = d[0]) */
    nn_shape b;          /* second input */
    int b_is_input;      /* 1: activation (graph input), 0: constant */
    nn_shape want;
} bin_case;

static void test_binary_sweep(void)
{
    bin_case cases[] = {
        {shp(4, 2, 3, 5, 7), shp(4, 2, 3, 5, 7), 1, shp(4, 2, 3, 5, 7)},
        {shp(4, 2, 3, 5, 7), shp(4, 2, 3, 5, 7), 0, shp(4, 2, 3, 5, 7)},
        {shp(4, 2, 3, 5, 7), shp(3, 3, 1, 1, 0), 0, shp(4, 2, 3, 5, 7)},
        {shp(4, 2, 3, 5, 7), shp(4, 1, 3, 1, 1), 0, shp(4, 2, 3, 5, 7)},
        {shp(4, 2, 3, 5, 7), shp(1, 1, 0, 0, 0), 0, shp(4, 2, 3, 5, 7)},
        {shp(4, 2, 3, 5, 7), shp(0, 0, 0, 0, 0), 0, shp(4, 2, 3, 5, 7)},
        {shp(4, 2, 3, 5, 7), shp(1, 7, 0, 0, 0), 0, shp(4, 2, 3, 5, 7)},
        {shp(4, 2, 3, 5, 7), shp(2, 5, 1, 0, 0), 0, shp(4, 2, 3, 5, 7)},
        {shp(4, 2, 3, 5, 7), shp(4, 2, 1, 1, 7), 1, shp(4, 2, 3, 5, 7)},
        {shp(4, 2, 1, 5, 1), shp(3, 3, 1, 7, 0), 0, shp(4, 2, 3, 5, 7)},
        {shp(3, 2, 1, 5, 0), shp(4, 3, 1, 5, 1), 0, shp(4, 3, 2, 5, 5)},
        {shp(2, 3, 17, 0, 0), shp(2, 3, 1, 0, 0), 1, shp(2, 3, 17, 0, 0)},
        {shp(2, 3, 17, 0, 0), shp(2, 1, 17, 0, 0), 0, shp(2, 3, 17, 0, 0)},
        {shp(4, 2, 16, 33, 35), shp(3, 16, 1, 1, 0), 0, shp(4, 2, 16, 33, 35)},
        {shp(4, 2, 16, 33, 35), shp(4, 2, 16, 33, 35), 1, shp(4, 2, 16, 33, 35)},
        {shp(4, 2, 16, 33, 35), shp(4, 1, 16, 33, 1), 0, shp(4, 2, 16, 33, 35)},
    };
    int ops[2] = {NN_OP_ADD, NN_OP_MUL};
    for (int o = 0; o < 2; o++)
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
            for (int act = 0; act < 3; act++) {
                oh_case c = oh_begin(ops[o], &cases[k].x);
                char label[64];
                if (cases[k].b_is_input)
                    oh_input(&c, "b", &cases[k].b);
                else
                    oh_const(&c, "b", &cases[k].b);
                if (act > 0)
                    nn_node_set_int(oh_node(&c), "fused_act", act == 1 ? NN_ACT_RELU : NN_ACT_CLIP);
                if (act == 2) {
                    nn_node_set_float(oh_node(&c), "fused_min", -0.2f);
                    nn_node_set_float(oh_node(&c), "fused_max", 0.3f);
                }
                snprintf(label, sizeof label, "%s case %zu act %d", o ? "mul" : "add", k, act);
                oh_check_sweep(&c, label, &cases[k].want, TOL);
            }
}

static void test_binary_hand(void)
{
    nn_shape s23 = shp(2, 2, 3, 0, 0), s3 = shp(1, 3, 0, 0, 0), s21 = shp(2, 2, 1, 0, 0);
    nn_shape s2 = shp(1, 2, 0, 0, 0), s1 = shp(1, 1, 0, 0, 0), s0 = shp(0, 0, 0, 0, 0);
    const float x[6] = {1, 2, 3, 4, 5, 6};
    oh_case c = oh_begin(NN_OP_ADD, &s23);
    oh_const_data(&c, &s3, (const float[]){10, 20, 30});
    oh_check_hand(&c, "add row", x, (const float[]){11, 22, 33, 14, 25, 36}, 6, &s23);

    c = oh_begin(NN_OP_ADD, &s23);
    oh_const_data(&c, &s21, (const float[]){100, 200});
    oh_check_hand(&c, "add column", x, (const float[]){101, 102, 103, 204, 205, 206}, 6, &s23);

    c = oh_begin(NN_OP_MUL, &s23);
    oh_const_data(&c, &s3, (const float[]){1, 0, -1});
    oh_check_hand(&c, "mul row", x, (const float[]){1, 0, -3, 4, 0, -6}, 6, &s23);

    c = oh_begin(NN_OP_MUL, &s23);
    oh_const_data(&c, &s0, (const float[]){0.5f});
    oh_check_hand(&c, "mul scalar", x, (const float[]){0.5f, 1, 1.5f, 2, 2.5f, 3}, 6, &s23);

    /* [2] (x) + [2,1] (constant) -> [2,2] outer sum. */
    c = oh_begin(NN_OP_ADD, &s2);
    oh_const_data(&c, &s21, (const float[]){10, 20});
    oh_check_hand(&c, "add outer", (const float[]){1, 2}, (const float[]){11, 12, 21, 22}, 4,
               &(nn_shape){2, {2, 2}});

    c = oh_begin(NN_OP_ADD, &s2);
    oh_const_data(&c, &s1, (const float[]){1});
    nn_node_set_int(oh_node(&c), "fused_act", NN_ACT_RELU);
    oh_check_hand(&c, "add fused relu", (const float[]){-3, 1}, (const float[]){0, 2}, 2, &s2);

    c = oh_begin(NN_OP_ADD, &s3);
    oh_const_data(&c, &s1, (const float[]){1});
    nn_node_set_int(oh_node(&c), "fused_act", NN_ACT_CLIP);
    nn_node_set_float(oh_node(&c), "fused_min", 0.0f);
    nn_node_set_float(oh_node(&c), "fused_max", 6.0f);
    oh_check_hand(&c, "add fused clip", (const float[]){-3, 1, 9}, (const float[]){0, 2, 6}, 3, &s3);
}

static void test_binary_reject(void)
{
    nn_shape s23 = shp(2, 2, 3, 0, 0), s4 = shp(1, 4, 0, 0, 0), s3 = shp(1, 3, 0, 0, 0);
    oh_case c = oh_begin(NN_OP_ADD, &s23);
    oh_const(&c, "b", &s4);
    oh_check_reject(&c, "add 2x3 + 4", NN_ERR_SHAPE, "broadcast");

    c = oh_begin(NN_OP_MUL, &s23);
    oh_const(&c, "b", &(nn_shape){2, {3, 3}});
    oh_check_reject(&c, "mul 2x3 * 3x3", NN_ERR_SHAPE, "broadcast");

    c = oh_begin(NN_OP_ADD, &s23);
    oh_const(&c, "b", &s3);
    nn_node_set_int(oh_node(&c), "fused_act", 7);
    oh_check_reject(&c, "add fused_act 7", NN_ERR_UNSUPPORTED, "fused_act");

    c = oh_begin(NN_OP_ADD, &s23);
    oh_const(&c, "b", &s3);
    nn_node_set_int(oh_node(&c), "fused_act", NN_ACT_CLIP);
    nn_node_set_float(oh_node(&c), "fused_min", 1.0f);
    nn_node_set_float(oh_node(&c), "fused_max", 0.0f);
    oh_check_reject(&c, "add fused clip inverted", NN_ERR_FORMAT, "fused_min");

    /* 2^16 x 2^16 outer sum would be 2^32 elements. */
    c = oh_begin(NN_OP_ADD, &(nn_shape){2, {1, 65536}});
    oh_const(&c, "b", &(nn_shape){2, {65536, 1}});
    oh_check_reject(&c, "add too large", NN_ERR_LIMIT, "exceeds");
}

/* ---- softmax ---- */

static void test_softmax_sweep(void)
{
    struct {
        nn_shape s;
        int64_t axis;
        int coerce;
    } cases[] = {
        {shp(4, 2, 3, 5, 7), -1, 0}, {shp(4, 2, 3, 5, 7), 0, 0}, {shp(4, 2, 3, 5, 7), 1, 0},
        {shp(4, 2, 3, 5, 7), 2, 0},  {shp(4, 2, 3, 5, 7), -3, 0}, {shp(4, 2, 3, 5, 7), 1, 1},
        {shp(4, 2, 3, 5, 7), 2, 1},  {shp(4, 2, 3, 5, 7), -1, 1}, {shp(4, 2, 3, 5, 7), 0, 1},
        {shp(2, 4, 1000, 0, 0), -1, 0}, {shp(2, 3, 1, 0, 0), -1, 0},
        {shp(3, 2, 100, 67, 0), 1, 0}, {shp(4, 2, 16, 33, 35), 1, 0},
        {shp(4, 2, 16, 33, 35), 1, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        oh_case c = oh_begin(NN_OP_SOFTMAX, &cases[k].s);
        char label[64];
        if (cases[k].axis != -1 || k % 2)
            nn_node_set_int(oh_node(&c), "axis", cases[k].axis);
        if (cases[k].coerce)
            nn_node_set_int(oh_node(&c), "coerce_2d", 1);
        snprintf(label, sizeof label, "softmax case %zu", k);
        oh_check_sweep(&c, label, &cases[k].s, TOL);
    }
}

static void test_softmax_hand(void)
{
    nn_shape s2 = shp(2, 1, 2, 0, 0), s22 = shp(2, 2, 2, 0, 0), s122 = shp(3, 1, 2, 2, 0);
    float ln2 = logf(2.0f), ln3 = logf(3.0f);
    oh_case c = oh_begin(NN_OP_SOFTMAX, &s2);
    oh_check_hand(&c, "softmax [0, ln2]", (const float[]){0, ln2},
               (const float[]){1.0f / 3, 2.0f / 3}, 2, &s2);

    /* Stability: exp(1000) overflows float. 1000 + ln2 rounds in float, so
     * the expected values use the difference actually stored. */
    float big = 1000.0f + ln2;
    double d = (double)big - 1000.0;
    c = oh_begin(NN_OP_SOFTMAX, &s2);
    oh_check_hand(&c, "softmax large", (const float[]){1000.0f, big},
               (const float[]){(float)(1 / (1 + exp(d))), (float)(exp(d) / (1 + exp(d)))}, 2, &s2);

    /* Columns of [[0, 0], [ln3, 0]]: [1/4, 3/4] and [1/2, 1/2]. */
    c = oh_begin(NN_OP_SOFTMAX, &s22);
    nn_node_set_int(oh_node(&c), "axis", 0);
    oh_check_hand(&c, "softmax axis 0", (const float[]){0, 0, ln3, 0},
               (const float[]){0.25f, 0.5f, 0.75f, 0.5f}, 4, &s22);

    /* [1,2,2] = [[0, ln2], [ln3, 0]]: opset 13 axis 1 works per column... */
    c = oh_begin(NN_OP_SOFTMAX, &s122);
    nn_node_set_int(oh_node(&c), "axis", 1);
    oh_check_hand(&c, "softmax axis 1", (const float[]){0, ln2, ln3, 0},
               (const float[]){0.25f, 2.0f / 3, 0.75f, 1.0f / 3}, 4, &s122);

    /* ...while coerce_2d flattens [2,2] into one row: e^x = 1,2,3,1 over 7. */
    c = oh_begin(NN_OP_SOFTMAX, &s122);
    nn_node_set_int(oh_node(&c), "axis", 1);
    nn_node_set_int(oh_node(&c), "coerce_2d", 1);
    oh_check_hand(&c, "softmax coerce_2d", (const float[]){0, ln2, ln3, 0},
               (const float[]){1.0f / 7, 2.0f / 7, 3.0f / 7, 1.0f / 7}, 4, &s122);
}

static void test_softmax_reject(void)
{
    nn_shape s = shp(4, 2, 3, 5, 7);
    oh_case c = oh_begin(NN_OP_SOFTMAX, &s);
    nn_node_set_int(oh_node(&c), "axis", 4);
    oh_check_reject(&c, "softmax axis 4", NN_ERR_SHAPE, "axis");

    c = oh_begin(NN_OP_SOFTMAX, &s);
    nn_node_set_int(oh_node(&c), "axis", -5);
    oh_check_reject(&c, "softmax axis -5", NN_ERR_SHAPE, "axis");

    c = oh_begin(NN_OP_SOFTMAX, &s);
    nn_node_set_int(oh_node(&c), "coerce_2d", 2);
    oh_check_reject(&c, "softmax coerce_2d 2", NN_ERR_FORMAT, "coerce_2d");

    c = oh_begin(NN_OP_SOFTMAX, &s);
    nn_node_set_float(oh_node(&c), "axis", 1.0f);
    oh_check_reject(&c, "softmax float axis", NN_ERR_FORMAT, "axis");
}

int main(void)
{
    T_RUN(test_unary_sweep);
    T_RUN(test_unary_hand);
    T_RUN(test_exp_range);
    T_RUN(test_unary_reject);
    T_RUN(test_binary_sweep);
    T_RUN(test_binary_hand);
    T_RUN(test_binary_reject);
    T_RUN(test_softmax_sweep);
    T_RUN(test_softmax_hand);
    T_RUN(test_softmax_reject);
    return t_summary("test_ops_eltwise");
}
