/* test_ops_shape.c — data-movement ops (Concat, Slice, Flatten, Reshape,
 * Transpose, Pad): fast kernels against the references over shape sweeps
 * (rank 2..6, negative axes, slice steps 1/2/3/-1/-2, transpose perms, pad
 * modes with asymmetric and negative pads) at 1 and 2 threads; the
 * references themselves against hand-computed values; hostile attributes
 * rejected at plan time with a message naming the node. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "op_harness.h"

#define TOL 1e-5


/* SH(2, 3, 5): an nn_shape lvalue; IV(1, 2): an int64 array and its count. */
#define SH(...) ((nn_shape){(int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), \
                            {__VA_ARGS__}})
#define IV(...) (const int64_t[]){__VA_ARGS__}, (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t))

static const float iota[24] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                               12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23};

/* ---- Concat ---- */

static void test_concat_sweep(void)
{
    struct {
        nn_shape x, b, c;   /* b, c: constants (ndim 0 = absent) */
        int b_input;        /* b is a second activation */
        int64_t axis;
        nn_shape want;
    } cases[] = {
        {SH(2, 3, 5, 7), SH(2, 4, 5, 7), SH(2, 1, 5, 7), 0, 1, SH(2, 8, 5, 7)},
        {SH(2, 3, 5, 7), SH(2, 3, 5, 2), {0}, 0, -1, SH(2, 3, 5, 9)},
        {SH(2, 3), SH(5, 3), {0}, 0, 0, SH(7, 3)},
        {SH(2, 3, 5, 7), SH(2, 3, 1, 7), SH(2, 3, 4, 7), 0, 2, SH(2, 3, 10, 7)},
        {SH(2, 3, 5, 7), SH(2, 3, 5, 7), {0}, 1, -3, SH(2, 6, 5, 7)},
        {SH(2, 3, 5, 7), {0}, {0}, 0, 1, SH(2, 3, 5, 7)},
        {SH(2, 16, 33, 35), SH(2, 8, 33, 35), {0}, 0, 1, SH(2, 24, 33, 35)},
        {SH(2, 2, 3, 1, 2, 3), SH(2, 2, 3, 1, 5, 3), {0}, 0, -2, SH(2, 2, 3, 1, 7, 3)},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        oh_case c = oh_begin(NN_OP_CONCAT, &cases[k].x);
        char label[48];
        if (cases[k].b.ndim) {
            if (cases[k].b_input)
                oh_input(&c, "b", &cases[k].b);
            else
                oh_const(&c, "b", &cases[k].b);
        }
        if (cases[k].c.ndim)
            oh_const(&c, "c", &cases[k].c);
        nn_node_set_int(oh_node(&c), "axis", cases[k].axis);
        snprintf(label, sizeof label, "concat case %zu", k);
        oh_check_sweep(&c, label, &cases[k].want, TOL);
    }
}

static void test_concat_hand(void)
{
    nn_shape s22 = SH(2, 2);
    oh_case c = oh_begin(NN_OP_CONCAT, &s22);
    oh_const_data(&c, &SH(2, 1), (const float[]){9, 8});
    nn_node_set_int(oh_node(&c), "axis", 1);
    oh_check_hand(&c, "concat axis 1", iota + 1, (const float[]){1, 2, 9, 3, 4, 8}, 6, &SH(2, 3));

    c = oh_begin(NN_OP_CONCAT, &s22);
    oh_const_data(&c, &SH(1, 2), (const float[]){5, 6});
    oh_const_data(&c, &SH(1, 2), (const float[]){7, 8});
    nn_node_set_int(oh_node(&c), "axis", -2);
    oh_check_hand(&c, "concat axis -2", iota + 1, (const float[]){1, 2, 3, 4, 5, 6, 7, 8}, 8,
               &SH(4, 2));
}

static void test_concat_reject(void)
{
    nn_shape s = SH(2, 3);
    oh_case c = oh_begin(NN_OP_CONCAT, &s);
    oh_const(&c, "b", &SH(2, 3));
    oh_check_reject(&c, "concat no axis", NN_ERR_FORMAT, "axis");

    c = oh_begin(NN_OP_CONCAT, &s);
    oh_const(&c, "b", &SH(2, 3));
    nn_node_set_int(oh_node(&c), "axis", 2);
    oh_check_reject(&c, "concat axis 2", NN_ERR_SHAPE, "axis");

    c = oh_begin(NN_OP_CONCAT, &s);
    oh_const(&c, "b", &SH(3, 3));
    nn_node_set_int(oh_node(&c), "axis", 1);
    oh_check_reject(&c, "concat mismatch", NN_ERR_SHAPE, "does not match");

    c = oh_begin(NN_OP_CONCAT, &s);
    oh_const(&c, "b", &SH(2, 3, 1));
    nn_node_set_int(oh_node(&c), "axis", 0);
    oh_check_reject(&c, "concat rank mismatch", NN_ERR_SHAPE, "does not match");
}

/* ---- Slice ---- */

typedef struct slice_case {
    nn_shape x;
    int k;
    int64_t starts[4], ends[4], axes[4], steps[4];
    int has_axes, has_steps;
    nn_shape want;
} slice_case;

static void slice_attrs(oh_case *c, const slice_case *s)
{
    nn_node *n = oh_node(c);
    nn_node_set_ints(n, "starts", s->starts, s->k);
    nn_node_set_ints(n, "ends", s->ends, s->k);
    if (s->has_axes)
        nn_node_set_ints(n, "axes", s->axes, s->k);
    if (s->has_steps)
        nn_node_set_ints(n, "steps", s->steps, s->k);
}

static void test_slice_sweep(void)
{
    const int64_t MX = INT64_MAX, MN = INT64_MIN;
    slice_case cases[] = {
        {SH(2, 3, 9, 10), 2, {0, 0}, {MX, MX}, {2, 3}, {2, 2}, 1, 1, SH(2, 3, 5, 5)},
        {SH(2, 3, 9, 10), 1, {1}, {-1}, {-1}, {3}, 1, 1, SH(2, 3, 9, 3)},
        {SH(2, 3, 9, 10), 1, {-1}, {MN}, {2}, {-1}, 1, 1, SH(2, 3, 9, 10)},
        {SH(2, 3, 9, 10), 2, {8, 7}, {1, -100}, {3, 2}, {-2, -3}, 1, 1, SH(2, 3, 3, 4)},
        {SH(2, 3, 9, 10), 2, {0, 1}, {2, 3}, {0}, {0}, 0, 0, SH(2, 2, 9, 10)},
        {SH(2, 3, 9, 10), 1, {-100}, {100}, {1}, {0}, 1, 0, SH(2, 3, 9, 10)},
        {SH(2, 3, 9, 10), 4, {1, 0, 2, 3}, {2, 3, 7, 9}, {0, 1, 2, 3}, {1, 2, 1, 1}, 1, 1,
         SH(1, 2, 5, 6)},
        {SH(2, 3, 9, 10), 1, {5}, {100}, {-2}, {1}, 1, 1, SH(2, 3, 4, 10)},
        {SH(2, 16, 32, 32), 2, {0, 0}, {MX, MX}, {2, 3}, {2, 2}, 1, 1, SH(2, 16, 16, 16)},
        {SH(3, 17), 1, {16}, {MN}, {1}, {-1}, 1, 1, SH(3, 17)},
        {SH(3, 17), 1, {2}, {MX}, {1}, {MX}, 1, 1, SH(3, 1)},
        {SH(3, 17), 1, {5}, {MN}, {1}, {MN}, 1, 1, SH(3, 1)},
        {SH(2, 5, 7), 2, {-2, 4}, {-7, 0}, {-1, -2}, {-2, -1}, 1, 1, SH(2, 4, 3)},
        {SH(2, 5, 7), 1, {1}, {7}, {2}, {3}, 1, 1, SH(2, 5, 2)},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        oh_case c = oh_begin(NN_OP_SLICE, &cases[k].x);
        char label[48];
        slice_attrs(&c, &cases[k]);
        snprintf(label, sizeof label, "slice case %zu", k);
        oh_check_sweep(&c, label, &cases[k].want, TOL);
    }
}

static void test_slice_hand(void)
{
    const int64_t MX = INT64_MAX, MN = INT64_MIN;
    struct {
        int64_t start, end, step;
        int n;
        float want[10];
    } cases[] = {
        {-1, MN, -2, 5, {9, 7, 5, 3, 1}},
        {2, 8, 3, 2, {2, 5}},
        {-3, 100, 1, 3, {7, 8, 9}},
        {20, -20, -1, 10, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}},
        {8, 1, -3, 3, {8, 5, 2}},
        {-20, 3, 1, 3, {0, 1, 2}},
        {0, MX, 4, 3, {0, 4, 8}},
        /* ONNX clamps a negative-step start to [0, dim-1]: -20 -> 0. */
        {-20, MN, -1, 1, {0}},
    };
    nn_shape x = SH(1, 10);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        slice_case s = {x, 1, {cases[k].start}, {cases[k].end}, {1}, {cases[k].step}, 1, 1, {0}};
        oh_case c = oh_begin(NN_OP_SLICE, &x);
        char label[48];
        slice_attrs(&c, &s);
        snprintf(label, sizeof label, "slice hand %zu", k);
        oh_check_hand(&c, label, iota, cases[k].want, cases[k].n, &SH(1, cases[k].n));
    }
    {
        slice_case s = {SH(2, 3), 2, {-1, -1}, {MN, MN}, {0, 1}, {-1, -1}, 1, 1, {0}};
        oh_case c = oh_begin(NN_OP_SLICE, &s.x);
        slice_attrs(&c, &s);
        oh_check_hand(&c, "slice reverse 2-D", iota, (const float[]){5, 4, 3, 2, 1, 0}, 6, &SH(2, 3));
    }
    {
        slice_case s = {SH(2, 3, 4), 2, {0, 1}, {MX, MX}, {-1, 1}, {2, 1}, 1, 1, {0}};
        oh_case c = oh_begin(NN_OP_SLICE, &s.x);
        slice_attrs(&c, &s);
        oh_check_hand(&c, "slice 3-D", iota,
                   (const float[]){4, 6, 8, 10, 16, 18, 20, 22}, 8, &SH(2, 2, 2));
    }
}

static void test_slice_reject(void)
{
    nn_shape x = SH(2, 3, 9, 10);
    struct {
        slice_case s;
        nn_status st;
        const char *what;
    } cases[] = {
        {{x, 1, {0}, {5}, {2}, {0}, 1, 1, {0}}, NN_ERR_FORMAT, "steps"},
        {{x, 1, {5}, {5}, {2}, {1}, 1, 1, {0}}, NN_ERR_SHAPE, "empty"},
        {{x, 1, {5}, {2}, {2}, {1}, 1, 1, {0}}, NN_ERR_SHAPE, "empty"},
        {{x, 1, {2}, {5}, {2}, {-1}, 1, 1, {0}}, NN_ERR_SHAPE, "empty"},
        {{x, 1, {20}, {30}, {3}, {1}, 1, 1, {0}}, NN_ERR_SHAPE, "empty"},
        {{x, 2, {0, 0}, {1, 1}, {1, -3}, {1, 1}, 1, 1, {0}}, NN_ERR_FORMAT, "twice"},
        {{x, 1, {0}, {1}, {4}, {1}, 1, 1, {0}}, NN_ERR_SHAPE, "axis"},
        {{x, 1, {0}, {1}, {-5}, {1}, 1, 1, {0}}, NN_ERR_SHAPE, "axis"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        oh_case c = oh_begin(NN_OP_SLICE, &x);
        char label[48];
        slice_attrs(&c, &cases[k].s);
        snprintf(label, sizeof label, "slice reject %zu", k);
        oh_check_reject(&c, label, cases[k].st, cases[k].what);
    }
    oh_case c = oh_begin(NN_OP_SLICE, &x);
    nn_node_set_ints(oh_node(&c), "starts", IV(0, 0));
    nn_node_set_ints(oh_node(&c), "ends", IV(1));
    oh_check_reject(&c, "slice starts/ends length", NN_ERR_FORMAT, "starts");

    c = oh_begin(NN_OP_SLICE, &x);
    nn_node_set_ints(oh_node(&c), "ends", IV(1));
    oh_check_reject(&c, "slice no starts", NN_ERR_FORMAT, "starts");

    c = oh_begin(NN_OP_SLICE, &x);
    nn_node_set_ints(oh_node(&c), "starts", IV(0, 0, 0, 0, 0, 0, 0));
    nn_node_set_ints(oh_node(&c), "ends", IV(1, 1, 1, 1, 1, 1, 1));
    oh_check_reject(&c, "slice 7 axes", NN_ERR_FORMAT, "starts");

    c = oh_begin(NN_OP_SLICE, &x);
    nn_node_set_ints(oh_node(&c), "starts", IV(0));
    nn_node_set_ints(oh_node(&c), "ends", IV(1));
    nn_node_set_float(oh_node(&c), "axes", 1.0f);
    oh_check_reject(&c, "slice float axes", NN_ERR_FORMAT, "axes");
}

/* ---- Flatten and Reshape ---- */

static void test_flatten(void)
{
    nn_shape x = SH(2, 3, 5, 7);
    struct {
        int64_t axis;
        int set;
        nn_shape want;
    } cases[] = {
        {1, 0, SH(2, 105)}, {0, 1, SH(1, 210)}, {4, 1, SH(210, 1)},
        {-1, 1, SH(30, 7)}, {2, 1, SH(6, 35)}, {-4, 1, SH(1, 210)},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        oh_case c = oh_begin(NN_OP_FLATTEN, &x);
        char label[48];
        if (cases[k].set)
            nn_node_set_int(oh_node(&c), "axis", cases[k].axis);
        snprintf(label, sizeof label, "flatten case %zu", k);
        oh_check_sweep(&c, label, &cases[k].want, TOL);
    }
    oh_case c = oh_begin(NN_OP_FLATTEN, &SH(2, 3, 2));
    oh_check_hand(&c, "flatten hand", iota, iota, 12, &SH(2, 6));

    c = oh_begin(NN_OP_FLATTEN, &x);
    nn_node_set_int(oh_node(&c), "axis", 5);
    oh_check_reject(&c, "flatten axis 5", NN_ERR_SHAPE, "axis");
    c = oh_begin(NN_OP_FLATTEN, &x);
    nn_node_set_int(oh_node(&c), "axis", -5);
    oh_check_reject(&c, "flatten axis -5", NN_ERR_SHAPE, "axis");
}

static void test_reshape(void)
{
    nn_shape x = SH(2, 3, 5, 7);
    struct {
        int64_t shape[6];
        int n;
        nn_shape want;
    } ok[] = {
        {{0, -1}, 2, SH(2, 105)},       {{-1, 35}, 2, SH(6, 35)},
        {{2, 3, 35}, 3, SH(2, 3, 35)},  {{0, 0, 35}, 3, SH(2, 3, 35)},
        {{2, -1, 7, 1}, 4, SH(2, 15, 7, 1)}, {{-1}, 1, SH(210)},
        {{0, 1, 3, 1, 35, 1}, 6, SH(2, 1, 3, 1, 35, 1)},
    };
    for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++) {
        oh_case c = oh_begin(NN_OP_RESHAPE, &x);
        char label[48];
        nn_node_set_ints(oh_node(&c), "shape", ok[k].shape, ok[k].n);
        snprintf(label, sizeof label, "reshape case %zu", k);
        oh_check_sweep(&c, label, &ok[k].want, TOL);
    }
    oh_case c = oh_begin(NN_OP_RESHAPE, &SH(2, 3));
    nn_node_set_ints(oh_node(&c), "shape", IV(3, -1));
    oh_check_hand(&c, "reshape hand", iota, iota, 6, &SH(3, 2));

    struct {
        int64_t shape[6];
        int n;
        int allowzero;
        nn_status st;
        const char *what;
    } bad[] = {
        {{-1, -1}, 2, 0, NN_ERR_FORMAT, "-1"},
        {{4, -1}, 2, 0, NN_ERR_SHAPE, "multiple"},
        {{0, 0, 0, 0, 0}, 5, 0, NN_ERR_SHAPE, "rank"},
        {{2, 3, 5, 8}, 4, 0, NN_ERR_SHAPE, "cannot reshape"},
        {{0, 105}, 2, 1, NN_ERR_SHAPE, "not allowed"},
        {{-2, 105}, 2, 0, NN_ERR_SHAPE, "not allowed"},
        {{INT64_MAX, -1}, 2, 0, NN_ERR_SHAPE, "more elements"},
        {{1 << 20, 1 << 20, 1 << 20}, 3, 0, NN_ERR_SHAPE, "more elements"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char label[48];
        c = oh_begin(NN_OP_RESHAPE, &x);
        nn_node_set_ints(oh_node(&c), "shape", bad[k].shape, bad[k].n);
        if (bad[k].allowzero)
            nn_node_set_int(oh_node(&c), "allowzero", 1);
        snprintf(label, sizeof label, "reshape reject %zu", k);
        oh_check_reject(&c, label, bad[k].st, bad[k].what);
    }
    c = oh_begin(NN_OP_RESHAPE, &x);
    oh_check_reject(&c, "reshape no shape", NN_ERR_FORMAT, "missing");
}

/* ---- Transpose ---- */

static void test_transpose_sweep(void)
{
    struct {
        nn_shape x;
        int64_t perm[6];
        int n;              /* 0: default (reversed) */
        nn_shape want;
    } cases[] = {
        {SH(2, 3, 5, 7), {0, 2, 3, 1}, 4, SH(2, 5, 7, 3)},
        {SH(2, 3, 5, 7), {0, 3, 1, 2}, 4, SH(2, 7, 3, 5)},
        {SH(2, 3, 5, 7), {0}, 0, SH(7, 5, 3, 2)},
        {SH(2, 3, 5, 7), {1, 0, 2, 3}, 4, SH(3, 2, 5, 7)},
        {SH(2, 3, 5, 7), {0, 1, 3, 2}, 4, SH(2, 3, 7, 5)},
        {SH(2, 3, 5, 7), {2, 0, 3, 1}, 4, SH(5, 2, 7, 3)},
        {SH(2, 3, 5, 7), {0, 1, 2, 3}, 4, SH(2, 3, 5, 7)},
        {SH(2, 33, 70), {0, 2, 1}, 3, SH(2, 70, 33)},
        {SH(2, 70, 45), {0, 2, 1}, 3, SH(2, 45, 70)},
        {SH(2, 3, 45, 67), {3, 0, 2, 1}, 4, SH(67, 2, 45, 3)},
        {SH(2, 1, 5, 1), {3, 1, 0, 2}, 4, SH(1, 1, 2, 5)},
        {SH(2, 67), {0}, 0, SH(67, 2)},
        {SH(2, 2, 3, 1, 4, 3), {5, 0, 3, 1, 4, 2}, 6, SH(3, 2, 1, 2, 4, 3)},
        {SH(2, 3, 4, 5, 6), {4, 2, 0, 1, 3}, 5, SH(6, 4, 2, 3, 5)},
        {SH(2, 16, 33, 35), {0, 2, 3, 1}, 4, SH(2, 33, 35, 16)},
        {SH(2, 64, 65), {1, 0, 2}, 3, SH(64, 2, 65)},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        oh_case c = oh_begin(NN_OP_TRANSPOSE, &cases[k].x);
        char label[48];
        if (cases[k].n)
            nn_node_set_ints(oh_node(&c), "perm", cases[k].perm, cases[k].n);
        snprintf(label, sizeof label, "transpose case %zu", k);
        oh_check_sweep(&c, label, &cases[k].want, TOL);
    }
}

static void test_transpose_hand(void)
{
    oh_case c = oh_begin(NN_OP_TRANSPOSE, &SH(2, 3));
    oh_check_hand(&c, "transpose default", iota, (const float[]){0, 3, 1, 4, 2, 5}, 6, &SH(3, 2));

    /* [1, C=2, H=2, W=2] NCHW -> NHWC: element (h, w, c) = x[c*4 + h*2 + w]. */
    c = oh_begin(NN_OP_TRANSPOSE, &SH(1, 2, 2, 2));
    nn_node_set_ints(oh_node(&c), "perm", IV(0, 2, 3, 1));
    oh_check_hand(&c, "transpose nhwc", iota, (const float[]){0, 4, 1, 5, 2, 6, 3, 7}, 8,
               &SH(1, 2, 2, 2));

    /* [2,3,4] perm [2,0,1]: y[k][i][j] = x[i][j][k] = 12i + 4j + k. */
    c = oh_begin(NN_OP_TRANSPOSE, &SH(2, 3, 4));
    nn_node_set_ints(oh_node(&c), "perm", IV(2, 0, 1));
    oh_check_hand(&c, "transpose 3-D", iota,
               (const float[]){0, 4, 8, 12, 16, 20, 1, 5, 9, 13, 17, 21,
                               2, 6, 10, 14, 18, 22, 3, 7, 11, 15, 19, 23},
               24, &SH(4, 2, 3));
}

static void test_transpose_reject(void)
{
    nn_shape x = SH(2, 3, 5, 7);
    struct {
        int64_t perm[6];
        int n;
        nn_status st;
    } bad[] = {
        {{0, 0, 1, 2}, 4, NN_ERR_FORMAT}, {{0, 1, 2}, 3, NN_ERR_SHAPE},
        {{0, 1, 2, 4}, 4, NN_ERR_FORMAT}, {{-1, 0, 1, 2}, 4, NN_ERR_FORMAT},
        {{0, 1, 2, 3, 4}, 5, NN_ERR_SHAPE},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        oh_case c = oh_begin(NN_OP_TRANSPOSE, &x);
        char label[48];
        nn_node_set_ints(oh_node(&c), "perm", bad[k].perm, bad[k].n);
        snprintf(label, sizeof label, "transpose reject %zu", k);
        oh_check_reject(&c, label, bad[k].st, "perm");
    }
}

/* ---- Pad ---- */

static void test_pad_sweep(void)
{
    struct {
        nn_shape x;
        int64_t pads[12];
        const char *mode;
        nn_shape want;
    } cases[] = {
        {SH(2, 3, 5, 7), {0, 2, 0, 0, 0, 3, 0, 0}, "constant", SH(2, 8, 5, 7)},
        {SH(2, 3, 5, 7), {0, 0, 2, 3, 0, 0, 1, 2}, "reflect", SH(2, 3, 8, 12)},
        {SH(2, 3, 5, 7), {0, 1, 3, 0, 0, 0, 0, 4}, "edge", SH(2, 4, 8, 11)},
        {SH(2, 3, 5, 7), {0, 0, -1, 2, 0, 0, 1, -3}, "constant", SH(2, 3, 5, 6)},
        {SH(2, 3, 5, 7), {0, 0, -1, 2, 0, 0, 2, -2}, "reflect", SH(2, 3, 6, 7)},
        {SH(2, 3, 5, 7), {0, -1, 1, 1, 0, -1, 1, 1}, "edge", SH(2, 1, 7, 9)},
        {SH(2, 3, 5, 7), {1, 0, 0, 0, 0, 0, 0, 1}, "edge", SH(3, 3, 5, 8)},
        {SH(2, 3, 5, 7), {0, 2, 4, 6, 0, 2, 4, 6}, "reflect", SH(2, 7, 13, 19)},
        {SH(3, 17), {0, 5, 0, 16}, "reflect", SH(3, 38)},
        {SH(3, 17), {0, -5, 0, 7}, "constant", SH(3, 19)},
        {SH(2, 4, 9), {0, 1, 0, 0, 2, 3}, "edge", SH(2, 7, 12)},
        {SH(2, 16, 32, 32), {0, 8, 0, 0, 0, 8, 0, 0}, "constant", SH(2, 32, 32, 32)},
        {SH(2, 16, 33, 35), {0, 0, 1, 1, 0, 0, 1, 1}, "reflect", SH(2, 16, 35, 37)},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        oh_case c = oh_begin(NN_OP_PAD, &cases[k].x);
        char label[48];
        nn_node_set_ints(oh_node(&c), "pads", cases[k].pads, 2 * cases[k].x.ndim);
        if (k % 3 != 0 || strcmp(cases[k].mode, "constant") != 0)
            nn_node_set_string(oh_node(&c), "mode", cases[k].mode);
        if (k % 2)
            nn_node_set_float(oh_node(&c), "value", 0.75f);
        snprintf(label, sizeof label, "pad case %zu (%s)", k, cases[k].mode);
        oh_check_sweep(&c, label, &cases[k].want, TOL);
    }
}

static void test_pad_hand(void)
{
    const float x123[4] = {1, 2, 3, 4};
    struct {
        int64_t b, e;
        const char *mode;
        float value;
        int nx, n;
        float want[8];
    } cases[] = {
        {2, 2, "reflect", 0, 3, 7, {3, 2, 1, 2, 3, 2, 1}},
        {2, 1, "edge", 0, 3, 6, {1, 1, 1, 2, 3, 3}},
        {1, 0, "constant", 9, 3, 4, {9, 1, 2, 3}},
        {-1, 1, "constant", 0, 4, 4, {2, 3, 4, 0}},
        {-1, 2, "reflect", 0, 4, 5, {2, 3, 4, 3, 2}},
        {1, -2, "edge", 0, 4, 3, {1, 1, 2}},
        {0, 0, "reflect", 0, 3, 3, {1, 2, 3}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        nn_shape xs = SH(cases[k].nx);
        oh_case c = oh_begin(NN_OP_PAD, &xs);
        char label[48];
        int64_t pads[2] = {cases[k].b, cases[k].e};
        nn_node_set_ints(oh_node(&c), "pads", pads, 2);
        nn_node_set_string(oh_node(&c), "mode", cases[k].mode);
        nn_node_set_float(oh_node(&c), "value", cases[k].value);
        snprintf(label, sizeof label, "pad hand %zu (%s)", k, cases[k].mode);
        oh_check_hand(&c, label, x123, cases[k].want, cases[k].n, &SH(cases[k].n));
    }
    /* Option-A shortcut: zero channels before and after, [1,1,2,2] -> [1,3,2,2]. */
    oh_case c = oh_begin(NN_OP_PAD, &SH(1, 1, 2, 2));
    nn_node_set_ints(oh_node(&c), "pads", IV(0, 1, 0, 0, 0, 1, 0, 0));
    oh_check_hand(&c, "pad channels", x123, (const float[]){0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0},
               12, &SH(1, 3, 2, 2));

    /* 2-D reflect: rows [1,2],[3,4] padded by 1 row on top and 1 column left. */
    c = oh_begin(NN_OP_PAD, &SH(2, 2));
    nn_node_set_ints(oh_node(&c), "pads", IV(1, 1, 0, 0));
    nn_node_set_string(oh_node(&c), "mode", "reflect");
    oh_check_hand(&c, "pad reflect 2-D", x123, (const float[]){4, 3, 4, 2, 1, 2, 4, 3, 4}, 9,
               &SH(3, 3));
}

static void test_pad_reject(void)
{
    nn_shape x = SH(2, 3, 5, 7);
    struct {
        int64_t pads[8];
        int n;
        const char *mode;
        nn_status st;
        const char *what;
    } bad[] = {
        {{0, 0, 1, 1, 0, 0, 1}, 7, "constant", NN_ERR_SHAPE, "pads"},
        {{0, 0, 1, 1, 0, 0, 1, 1}, 8, "wrap", NN_ERR_UNSUPPORTED, "mode"},
        {{0, 0, 5, 0, 0, 0, 0, 0}, 8, "reflect", NN_ERR_SHAPE, "reflect"},
        {{0, 0, 0, 0, 0, 0, 0, 7}, 8, "reflect", NN_ERR_SHAPE, "reflect"},
        {{0, 0, 0, INT64_MAX / 2, 0, 0, 0, 0}, 8, "constant", NN_ERR_LIMIT, "exceed"},
        {{0, 0, 0, INT64_MIN, 0, 0, 0, 0}, 8, "constant", NN_ERR_LIMIT, "exceed"},
        {{0, 0, 0, 1 << 30, 0, 0, 0, 0}, 8, "constant", NN_ERR_LIMIT, "exceeds"},
        {{0, 0, -3, 0, 0, 0, -2, 0}, 8, "constant", NN_ERR_SHAPE, "crop"},
        /* reflect after cropping 5 rows to 2: an end pad of 2 exceeds 1 */
        {{0, 0, -3, 0, 0, 0, 2, 0}, 8, "reflect", NN_ERR_SHAPE, "reflect"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        oh_case c = oh_begin(NN_OP_PAD, &x);
        char label[48];
        nn_node_set_ints(oh_node(&c), "pads", bad[k].pads, bad[k].n);
        nn_node_set_string(oh_node(&c), "mode", bad[k].mode);
        snprintf(label, sizeof label, "pad reject %zu", k);
        oh_check_reject(&c, label, bad[k].st, bad[k].what);
    }
    oh_case c = oh_begin(NN_OP_PAD, &x);
    oh_check_reject(&c, "pad no pads", NN_ERR_FORMAT, "missing");
    c = oh_begin(NN_OP_PAD, &x);
    nn_node_set_ints(oh_node(&c), "pads", IV(0, 0, 1, 1, 0, 0, 1, 1));
    nn_node_set_string(oh_node(&c), "value", "zero");
    oh_check_reject(&c, "pad string value", NN_ERR_FORMAT, "value");
}

int main(void)
{
    T_RUN(test_concat_sweep);
    T_RUN(test_concat_hand);
    T_RUN(test_concat_reject);
    T_RUN(test_slice_sweep);
    T_RUN(test_slice_hand);
    T_RUN(test_slice_reject);
    T_RUN(test_flatten);
    T_RUN(test_reshape);
    T_RUN(test_transpose_sweep);
    T_RUN(test_transpose_hand);
    T_RUN(test_transpose_reject);
    T_RUN(test_pad_sweep);
    T_RUN(test_pad_hand);
    T_RUN(test_pad_reject);
    return t_summary("test_ops_shape");
}
