/* test_ops_pool.c — MaxPool, AveragePool and GlobalAveragePool kernels:
 * hand-computed outputs (checked against torch.nn.functional once) that pin
 * the references down, a sweep of edge shapes (odd H/W, strides, symmetric
 * and asymmetric pads, dilation, ceil_mode, count_include_pad, batch 1/3)
 * comparing fast kernels with references at 1 and 2 threads, and invalid
 * attributes that infer must reject. */
#include <math.h>

#include "op_harness.h"

typedef struct pool_cfg {
    int op;                     /* NN_OP_MAXPOOL or NN_OP_AVGPOOL */
    int64_t n, c, h, w, kh, kw, sh, sw, dh, dw;
    int64_t pads[4];
    int ceil_mode;
    int include_pad;            /* AveragePool count_include_pad */
} pool_cfg;

static int64_t out_dim(int64_t in, int64_t pb, int64_t pe, int64_t k, int64_t d, int64_t s,
                       int ceil_mode)
{
    int64_t span = in + pb + pe - d * (k - 1) - 1, o;
    if (span < 0)
        return 0;
    o = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (o - 1) * s >= in + pb)
        o--;
    return o;
}

/* 1 when some window along one axis holds no input element (MaxPool would
 * output -inf there, which the relative error cannot compare). */
static int axis_has_empty_window(int64_t in, int64_t pb, int64_t k, int64_t d, int64_t s,
                                 int64_t nout)
{
    for (int64_t o = 0; o < nout; o++) {
        int any = 0;
        for (int64_t t = 0; t < k; t++) {
            int64_t i = o * s - pb + t * d;
            any |= i >= 0 && i < in;
        }
        if (!any)
            return 1;
    }
    return 0;
}

static oh_case pool_build(const pool_cfg *f)
{
    nn_shape xs = nn_shape4(f->n, f->c, f->h, f->w);
    oh_case c = oh_begin(f->op, &xs);
    nn_node *nd = oh_node(&c);
    nn_node_set_ints(nd, "kernel_shape", (int64_t[]){f->kh, f->kw}, 2);
    nn_node_set_ints(nd, "strides", (int64_t[]){f->sh, f->sw}, 2);
    nn_node_set_ints(nd, "pads", f->pads, 4);
    nn_node_set_int(nd, "ceil_mode", f->ceil_mode);
    if (f->op == NN_OP_MAXPOOL)
        nn_node_set_ints(nd, "dilations", (int64_t[]){f->dh, f->dw}, 2);
    else
        nn_node_set_int(nd, "count_include_pad", f->include_pad);
    return c;
}

static int n_skipped;

static void pool_check(const pool_cfg *f)
{
    char label[160];
    int64_t oh = out_dim(f->h, f->pads[0], f->pads[2], f->kh, f->dh, f->sh, f->ceil_mode);
    int64_t ow = out_dim(f->w, f->pads[1], f->pads[3], f->kw, f->dw, f->sw, f->ceil_mode);
    nn_shape want = nn_shape4(f->n, f->c, oh, ow);
    oh_case c;
    if (f->op == NN_OP_MAXPOOL && oh > 0 && ow > 0 &&
        (axis_has_empty_window(f->h, f->pads[0], f->kh, f->dh, f->sh, oh) ||
         axis_has_empty_window(f->w, f->pads[1], f->kw, f->dw, f->sw, ow))) {
        n_skipped++;
        return;
    }
    c = pool_build(f);
    snprintf(label, sizeof label,
             "%s n%lld c%lld %lldx%lld k%lldx%lld s%lld,%lld d%lld,%lld p%lld,%lld,%lld,%lld ceil%d inc%d",
             f->op == NN_OP_MAXPOOL ? "maxpool" : "avgpool", (long long)f->n, (long long)f->c,
             (long long)f->h, (long long)f->w, (long long)f->kh, (long long)f->kw,
             (long long)f->sh, (long long)f->sw, (long long)f->dh, (long long)f->dw,
             (long long)f->pads[0], (long long)f->pads[1], (long long)f->pads[2],
             (long long)f->pads[3], f->ceil_mode, f->include_pad);
    oh_check_case(&c, oh > 0 && ow > 0 ? &want : NULL, label);
}

/* ---- hand-computed references ------------------------------------------ */

static const float x9[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};   /* [1, 1, 3, 3] */

static oh_case hand_pool(int op, nn_shape xs, int64_t kh, int64_t kw, int64_t s, int64_t pad)
{
    oh_case c = oh_begin(op, &xs);
    nn_node_set_ints(oh_node(&c), "kernel_shape", (int64_t[]){kh, kw}, 2);
    nn_node_set_ints(oh_node(&c), "strides", (int64_t[]){s, s}, 2);
    nn_node_set_ints(oh_node(&c), "pads", (int64_t[]){pad, pad, pad, pad}, 4);
    return c;
}

static void test_maxpool_hand(void)
{
    const float neg[9] = {-1, -2, -3, -4, -5, -6, -7, -8, -9};
    const float perm[9] = {5, 1, 7, 2, 9, 3, 4, 8, 6};
    nn_shape x33 = nn_shape4(1, 1, 3, 3);
    oh_case c = hand_pool(NN_OP_MAXPOOL, x33, 2, 2, 1, 0);
    oh_expect(&c, x9, (const float[]){5, 6, 8, 9}, 4, nn_shape4(1, 1, 2, 2));

    /* all inputs negative: zero padding must never win */
    c = hand_pool(NN_OP_MAXPOOL, x33, 2, 2, 2, 1);
    oh_expect(&c, neg, (const float[]){-1, -2, -4, -5}, 4, nn_shape4(1, 1, 2, 2));

    /* dilation 2: the four corners */
    c = hand_pool(NN_OP_MAXPOOL, x33, 2, 2, 1, 0);
    nn_node_set_ints(oh_node(&c), "dilations", (int64_t[]){2, 2}, 2);
    oh_expect(&c, perm, (const float[]){7}, 1, nn_shape4(1, 1, 1, 1));

    /* ceil mode: a third window [4, 6) would start in the end padding */
    c = oh_begin(NN_OP_MAXPOOL, &(nn_shape){4, {1, 1, 1, 5}});
    nn_node_set_ints(oh_node(&c), "kernel_shape", (int64_t[]){1, 2}, 2);
    nn_node_set_ints(oh_node(&c), "strides", (int64_t[]){1, 3}, 2);
    nn_node_set_ints(oh_node(&c), "pads", (int64_t[]){0, 1, 0, 1}, 4);
    nn_node_set_int(oh_node(&c), "ceil_mode", 1);
    oh_expect(&c, (const float[]){1, 2, 3, 4, 5}, (const float[]){1, 4}, 2, nn_shape4(1, 1, 1, 2));

    /* ceil mode keeps a partial last window; floor mode drops it */
    for (int cm = 0; cm < 2; cm++) {
        c = oh_begin(NN_OP_MAXPOOL, &(nn_shape){4, {1, 1, 1, 5}});
        nn_node_set_ints(oh_node(&c), "kernel_shape", (int64_t[]){1, 2}, 2);
        nn_node_set_ints(oh_node(&c), "strides", (int64_t[]){1, 2}, 2);
        nn_node_set_int(oh_node(&c), "ceil_mode", cm);
        oh_expect(&c, (const float[]){1, 2, 3, 4, 5}, (const float[]){2, 4, 5}, 2 + cm,
                  nn_shape4(1, 1, 1, 2 + cm));
    }
}

static void test_avgpool_hand(void)
{
    nn_shape x33 = nn_shape4(1, 1, 3, 3);
    oh_case c = hand_pool(NN_OP_AVGPOOL, x33, 2, 2, 1, 0);
    oh_expect(&c, x9, (const float[]){3, 4, 6, 7}, 4, nn_shape4(1, 1, 2, 2));

    c = hand_pool(NN_OP_AVGPOOL, x33, 2, 2, 2, 1);
    oh_expect(&c, x9, (const float[]){1, 2.5f, 5.5f, 7}, 4, nn_shape4(1, 1, 2, 2));

    c = hand_pool(NN_OP_AVGPOOL, x33, 2, 2, 2, 1);
    nn_node_set_int(oh_node(&c), "count_include_pad", 1);
    oh_expect(&c, x9, (const float[]){0.25f, 1.25f, 2.75f, 7}, 4, nn_shape4(1, 1, 2, 2));

    /* ceil mode, last window [5, 8) hangs past the padded end 7: PyTorch
     * divides by 2 (taps 5, 6) with count_include_pad, by 1 without */
    for (int inc = 0; inc < 2; inc++) {
        c = oh_begin(NN_OP_AVGPOOL, &(nn_shape){4, {1, 1, 1, 6}});
        nn_node_set_ints(oh_node(&c), "kernel_shape", (int64_t[]){1, 3}, 2);
        nn_node_set_ints(oh_node(&c), "strides", (int64_t[]){1, 2}, 2);
        nn_node_set_ints(oh_node(&c), "pads", (int64_t[]){0, 1, 0, 1}, 4);
        nn_node_set_int(oh_node(&c), "ceil_mode", 1);
        nn_node_set_int(oh_node(&c), "count_include_pad", inc);
        oh_expect(&c, (const float[]){1, 2, 3, 4, 5, 6},
                  inc ? (const float[]){1, 3, 5, 3} : (const float[]){1.5f, 3, 5, 6}, 4,
                  nn_shape4(1, 1, 1, 4));
    }
}

static void test_gap_hand(void)
{
    oh_case c = oh_begin(NN_OP_GLOBALAVGPOOL, &(nn_shape){4, {1, 2, 2, 2}});
    oh_expect(&c, (const float[]){1, 2, 3, 4, -1, -1, -1, 5}, (const float[]){2.5f, 0.5f}, 2,
              nn_shape4(1, 2, 1, 1));
    c = oh_begin(NN_OP_GLOBALAVGPOOL, &(nn_shape){3, {1, 2, 3}});
    oh_expect(&c, (const float[]){1, 2, 3, 4, 5, 6}, (const float[]){2, 5}, 2,
              (nn_shape){3, {1, 2, 1}});
}

/* ---- fast vs reference sweeps ------------------------------------------ */

/* MaxPool at stride 2 on n x 3 x h x w: kh x kw windows, row dilation dh. */
static void maxpool_s2_check(int64_t n, int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t dh,
                             const int64_t pads[4])
{
    pool_cfg f;
    memset(&f, 0, sizeof f);
    f.op = NN_OP_MAXPOOL;
    f.n = n;
    f.c = 3;
    f.h = h;
    f.w = w;
    f.kh = kh;
    f.kw = kw;
    f.sh = f.sw = 2;
    f.dh = dh;
    f.dw = 1;
    memcpy(f.pads, pads, sizeof f.pads);
    pool_check(&f);
}

static void test_pool_sweep(void)
{
    static const int64_t hs[] = {1, 5, 7, 13};
    static const int64_t pads[3][4] = {{0, 0, 0, 0}, {1, 1, 1, 1}, {0, 1, 2, 0}};
    int i = 0;
    for (int op = 0; op < 2; op++)
        for (int hi = 0; hi < 4; hi++)
            for (int64_t k = 1; k <= 3; k++)
                for (int64_t s = 1; s <= 3; s++)
                    for (int pi = 0; pi < 3; pi++)
                        for (int cm = 0; cm < 2; cm++)
                            for (int v = 0; v < 2; v++, i++) {
                                pool_cfg f;
                                memset(&f, 0, sizeof f);
                                f.op = op ? NN_OP_AVGPOOL : NN_OP_MAXPOOL;
                                f.n = i % 5 == 0 ? 3 : 1;
                                f.c = i % 2 ? 1 : 3;
                                f.h = hs[hi];
                                f.w = hs[(hi + i) % 4];
                                f.kh = k;
                                f.kw = (i / 7) % 2 ? k : 4 - k;
                                f.sh = s;
                                f.sw = (i / 3) % 2 ? s : 1 + s % 3;
                                f.dh = f.dw = op == 0 && v ? 2 : 1;
                                f.include_pad = op == 1 && v;
                                memcpy(f.pads, pads[pi], sizeof f.pads);
                                f.ceil_mode = cm;
                                pool_check(&f);
                            }
    /* wide rows: the stride-2 vector path (ResNet's stem pool, 3x3 s2 p1,
     * and odd widths whose last vectors stop short of the row end) */
    for (int64_t w = 37; w <= 112; w += 75)
        for (int64_t k = 2; k <= 3; k++)
            maxpool_s2_check(1, w, w, k, k, 1, pads[1]);
    /* windows of 4 and 5 rows (the rows past the third max in one by one),
     * 3 columns at stride 2, plain and dilated */
    for (int64_t k = 4; k <= 5; k++)
        for (int64_t d = 1; d <= 2; d++)
            maxpool_s2_check(2, 19, 37, k, 3, d, pads[2]);
}

static void test_pool_shapes(void)
{
    static const pool_cfg cfgs[] = {
        /* ResNet: 3x3 stride 2 pad 1 */
        {NN_OP_MAXPOOL, 1, 8, 112, 112, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, 0, 0},
        {NN_OP_MAXPOOL, 3, 4, 33, 31, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, 0, 0},
        /* GoogLeNet: ceil-mode 3x3 stride 2 */
        {NN_OP_MAXPOOL, 1, 8, 28, 28, 3, 3, 2, 2, 1, 1, {0, 0, 0, 0}, 1, 0},
        {NN_OP_MAXPOOL, 1, 2, 14, 14, 2, 2, 2, 2, 1, 1, {0, 0, 0, 0}, 1, 0},
        /* Inception / DenseNet average pools */
        {NN_OP_AVGPOOL, 1, 8, 35, 35, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 0, 0},
        {NN_OP_AVGPOOL, 1, 8, 35, 35, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 0, 1},
        {NN_OP_AVGPOOL, 3, 4, 56, 56, 2, 2, 2, 2, 1, 1, {0, 0, 0, 0}, 0, 0},
        {NN_OP_AVGPOOL, 1, 4, 17, 17, 5, 3, 3, 2, 1, 1, {2, 1, 2, 1}, 1, 1},
        {NN_OP_AVGPOOL, 1, 4, 8, 8, 8, 8, 1, 1, 1, 1, {0, 0, 0, 0}, 0, 0},
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++)
        pool_check(&cfgs[i]);
}

static void test_gap_sweep(void)
{
    static const nn_shape shapes[] = {
        {4, {1, 512, 7, 7}}, {4, {3, 5, 13, 1}}, {4, {1, 3, 224, 224}}, {3, {2, 4, 9}},
        {5, {1, 2, 3, 5, 7}}, {4, {1, 1, 1, 1}},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        char label[64];
        nn_shape want = shapes[i];
        oh_case c = oh_begin(NN_OP_GLOBALAVGPOOL, &shapes[i]);
        for (int d = 2; d < want.ndim; d++)
            want.d[d] = 1;
        snprintf(label, sizeof label, "globalavgpool shape %zu", i);
        oh_check_case(&c, &want, label);
    }
}

/* ---- rejected attributes and shapes ------------------------------------ */

static void test_pool_rejects(void)
{
    pool_cfg base = {NN_OP_MAXPOOL, 1, 2, 5, 5, 3, 3, 1, 1, 1, 1, {0, 0, 0, 0}, 0, 0};
    pool_cfg f = base;
    oh_case c;

    f.h = 2;                                    /* 3x3 window on 2 rows */
    c = pool_build(&f);
    oh_check_case(&c, NULL, "maxpool empty output");

    c = oh_begin(NN_OP_MAXPOOL, &(nn_shape){4, {1, 2, 5, 5}});
    nn_node_set_ints(oh_node(&c), "strides", (int64_t[]){1, 1}, 2);
    oh_check_case(&c, NULL, "maxpool without kernel_shape");

    c = pool_build(&base);
    nn_node_set_int(oh_node(&c), "storage_order", 1);
    oh_check_case(&c, NULL, "maxpool storage_order");

    c = pool_build(&base);
    nn_node_set_string(oh_node(&c), "auto_pad", "VALID");
    oh_check_case(&c, NULL, "maxpool auto_pad");

    c = pool_build(&base);
    nn_node_set_int(oh_node(&c), "ceil_mode", 2);
    oh_check_case(&c, NULL, "maxpool ceil_mode 2");

    c = pool_build(&base);
    nn_node_set_ints(oh_node(&c), "pads", (int64_t[]){1, 1, 1}, 3);
    oh_check_case(&c, NULL, "maxpool three pads");

    c = pool_build(&base);
    nn_node_set_ints(oh_node(&c), "kernel_shape", (int64_t[]){3, 3, 3}, 3);
    oh_check_case(&c, NULL, "maxpool 3-D kernel");

    c = oh_begin(NN_OP_MAXPOOL, &(nn_shape){3, {1, 2, 5}});
    nn_node_set_ints(oh_node(&c), "kernel_shape", (int64_t[]){3}, 1);
    oh_check_case(&c, NULL, "maxpool 1-D input");

    f = base;
    f.op = NN_OP_AVGPOOL;
    c = pool_build(&f);
    nn_node_set_ints(oh_node(&c), "dilations", (int64_t[]){2, 2}, 2);
    oh_check_case(&c, NULL, "avgpool dilations");

    c = pool_build(&f);
    nn_node_set_int(oh_node(&c), "count_include_pad", 2);
    oh_check_case(&c, NULL, "avgpool count_include_pad 2");

    c = pool_build(&f);
    nn_node_set_ints(oh_node(&c), "strides", (int64_t[]){1, 0}, 2);
    oh_check_case(&c, NULL, "avgpool zero stride");

    c = oh_begin(NN_OP_GLOBALAVGPOOL, &(nn_shape){2, {1, 2}});
    oh_check_case(&c, NULL, "globalavgpool rank 2");
}

int main(void)
{
    T_RUN(test_maxpool_hand);
    T_RUN(test_avgpool_hand);
    T_RUN(test_gap_hand);
    T_RUN(test_pool_sweep);
    T_RUN(test_pool_shapes);
    T_RUN(test_gap_sweep);
    T_RUN(test_pool_rejects);
    printf("pools: %d fast-vs-reference cases (%d skipped: max window without input), "
           "worst relative error %.3g\n",
           oh_n_cases, n_skipped, oh_worst_err);
    return t_summary("test_ops_pool");
}
