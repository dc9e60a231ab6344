/* test_ops_conv.c — Conv and BatchNormalization kernels: hand-computed
 * outputs that pin the reference kernels down, a sweep of edge shapes
 * (odd H/W, stride 1/2/3, symmetric and asymmetric pads, dilation, groups,
 * depthwise, 1x1, batch 1 and 3, bias, fused relu/clip) comparing the fast
 * kernels against the references with 1 and 2 threads, and invalid
 * attributes that infer must reject. */
#include <math.h>

#include "op_harness.h"

#define TOL 1e-5

typedef struct conv_cfg {
    int64_t n, c, h, w, o, g, kh, kw;
    int64_t sh, sw, dh, dw;
    int64_t pads[4];
    int bias;
    int act;                    /* nn_act; clip uses [-0.5, 0.75] */
} conv_cfg;

static int64_t out_dim(int64_t in, int64_t pb, int64_t pe, int64_t k, int64_t d, int64_t s)
{
    int64_t span = in + pb + pe - d * (k - 1) - 1;
    return span < 0 ? 0 : span / s + 1;
}

static oh_case conv_build(const conv_cfg *f)
{
    nn_shape xs = nn_shape4(f->n, f->c, f->h, f->w);
    nn_shape ws = nn_shape4(f->o, f->c / f->g, f->kh, f->kw);
    nn_shape bs = nn_shape_make(1, (int64_t[]){f->o});
    oh_case c = oh_begin(NN_OP_CONV, &xs);
    nn_node *nd;
    oh_const(&c, "w", &ws);
    if (f->bias)
        oh_const(&c, "b", &bs);
    nd = oh_node(&c);
    nn_node_set_ints(nd, "strides", (int64_t[]){f->sh, f->sw}, 2);
    nn_node_set_ints(nd, "dilations", (int64_t[]){f->dh, f->dw}, 2);
    nn_node_set_ints(nd, "pads", f->pads, 4);
    nn_node_set_int(nd, "group", f->g);
    if (f->act) {
        nn_node_set_int(nd, "fused_act", f->act);
        nn_node_set_float(nd, "fused_min", -0.5f);
        nn_node_set_float(nd, "fused_max", 0.75f);
    }
    return c;
}

static void conv_check(const conv_cfg *f)
{
    char label[160];
    oh_case c = conv_build(f);
    int64_t oh = out_dim(f->h, f->pads[0], f->pads[2], f->kh, f->dh, f->sh);
    int64_t ow = out_dim(f->w, f->pads[1], f->pads[3], f->kw, f->dw, f->sw);
    nn_shape want = nn_shape4(f->n, f->o, oh, ow);
    snprintf(label, sizeof label,
             "conv n%lld c%lld %lldx%lld o%lld g%lld k%lldx%lld s%lld,%lld d%lld,%lld "
             "p%lld,%lld,%lld,%lld b%d a%d",
             (long long)f->n, (long long)f->c, (long long)f->h, (long long)f->w, (long long)f->o,
             (long long)f->g, (long long)f->kh, (long long)f->kw, (long long)f->sh, (long long)f->sw,
             (long long)f->dh, (long long)f->dw, (long long)f->pads[0], (long long)f->pads[1],
             (long long)f->pads[2], (long long)f->pads[3], f->bias, f->act);
    oh_check_case(&c, oh > 0 && ow > 0 ? &want : NULL, label);
}

/* ---- hand-computed references ------------------------------------------ */

static const float x9[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};   /* [1, 1, 3, 3] */

static void test_conv_hand_diag(void)
{
    nn_shape xs = nn_shape4(1, 1, 3, 3);
    oh_case c = oh_begin(NN_OP_CONV, &xs);
    oh_const_named(&c, "w", nn_shape4(1, 1, 2, 2), (const float[]){1, 0, 0, 1});
    oh_const_named(&c, "b", nn_shape_make(1, (int64_t[]){1}), (const float[]){0.5f});
    oh_expect(&c, x9, (const float[]){6.5f, 8.5f, 12.5f, 14.5f}, 4, nn_shape4(1, 1, 2, 2));
}

static void test_conv_hand_pad_stride(void)
{
    nn_shape xs = nn_shape4(1, 1, 3, 3);
    float ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    oh_case c = oh_begin(NN_OP_CONV, &xs);
    oh_const_named(&c, "w", nn_shape4(1, 1, 3, 3), ones);
    nn_node_set_ints(oh_node(&c), "pads", (int64_t[]){1, 1, 1, 1}, 4);
    nn_node_set_ints(oh_node(&c), "strides", (int64_t[]){2, 2}, 2);
    oh_expect(&c, x9, (const float[]){12, 16, 24, 28}, 4, nn_shape4(1, 1, 2, 2));
}

static void test_conv_hand_dilation(void)
{
    nn_shape xs = nn_shape4(1, 1, 3, 3);
    oh_case c = oh_begin(NN_OP_CONV, &xs);
    oh_const_named(&c, "w", nn_shape4(1, 1, 2, 2), (const float[]){1, 10, 100, 1000});
    nn_node_set_ints(oh_node(&c), "dilations", (int64_t[]){2, 2}, 2);
    oh_expect(&c, x9, (const float[]){1 + 30 + 700 + 9000}, 1, nn_shape4(1, 1, 1, 1));
}

static void test_conv_hand_asym_pad(void)
{
    nn_shape xs = nn_shape4(1, 1, 1, 3);
    oh_case c = oh_begin(NN_OP_CONV, &xs);
    oh_const_named(&c, "w", nn_shape4(1, 1, 1, 2), (const float[]){1, 2});
    nn_node_set_ints(oh_node(&c), "pads", (int64_t[]){0, 1, 0, 0}, 4);
    /* padded row [0 1 2 3] */
    oh_expect(&c, (const float[]){1, 2, 3}, (const float[]){2, 5, 8}, 3, nn_shape4(1, 1, 1, 3));
}

static void test_conv_hand_groups_relu(void)
{
    nn_shape xs = nn_shape4(1, 2, 2, 2);
    oh_case c = oh_begin(NN_OP_CONV, &xs);
    oh_const_named(&c, "w", nn_shape4(2, 1, 1, 1), (const float[]){3, -1});
    nn_node_set_int(oh_node(&c), "group", 2);
    nn_node_set_int(oh_node(&c), "fused_act", NN_ACT_RELU);
    oh_expect(&c, (const float[]){1, 2, 3, 4, 1, 1, 1, -5},
              (const float[]){3, 6, 9, 12, 0, 0, 0, 5}, 8, nn_shape4(1, 2, 2, 2));
}

static void test_conv_hand_two_channels_clip(void)
{
    /* channel 0 = x9, channel 1 = 1 everywhere; 1x1 weights (2, -1) */
    nn_shape xs = nn_shape4(1, 2, 3, 3);
    float x[18];
    oh_case c = oh_begin(NN_OP_CONV, &xs);
    for (int i = 0; i < 9; i++) {
        x[i] = x9[i];
        x[9 + i] = 1.0f;
    }
    oh_const_named(&c, "w", nn_shape4(1, 2, 1, 1), (const float[]){2, -1});
    nn_node_set_int(oh_node(&c), "fused_act", NN_ACT_CLIP);
    nn_node_set_float(oh_node(&c), "fused_min", 2.0f);
    nn_node_set_float(oh_node(&c), "fused_max", 10.0f);
    oh_expect(&c, x, (const float[]){2, 3, 5, 7, 9, 10, 10, 10, 10}, 9, nn_shape4(1, 1, 3, 3));
}

/* ---- fast vs reference sweeps ------------------------------------------ */

static void test_conv_sweep(void)
{
    static const int64_t hs[] = {1, 5, 7, 13};
    static const int64_t pads[3][4] = {{0, 0, 0, 0}, {1, 1, 1, 1}, {0, 1, 2, 0}};
    int i = 0;
    for (int hi = 0; hi < 4; hi++)
        for (int64_t k = 1; k <= 3; k++)
            for (int64_t s = 1; s <= 3; s++)
                for (int pi = 0; pi < 3; pi++)
                    for (int64_t d = 1; d <= 2; d++, i++) {
                        conv_cfg f;
                        memset(&f, 0, sizeof f);
                        f.n = i % 5 == 0 ? 3 : 1;
                        f.h = hs[hi];
                        f.w = hs[(hi + i) % 4];
                        switch (i % 3) {
                        case 0: f.c = 3; f.o = 4; f.g = 1; break;
                        case 1: f.c = 4; f.o = 6; f.g = 2; break;
                        default: f.c = 4; f.o = i % 2 ? 4 : 8; f.g = 4; break;
                        }
                        f.kh = f.kw = k;
                        f.sh = f.sw = s;
                        f.dh = f.dw = d;
                        memcpy(f.pads, pads[pi], sizeof f.pads);
                        f.bias = (i / 2) % 2;
                        f.act = (i / 3) % 3;
                        conv_check(&f);
                    }
}

static void test_conv_shapes(void)
{
    static const conv_cfg cfgs[] = {
        /* ResNet stem: 7x7 stride 2 pad 3, batch 1 and 3 */
        {1, 3, 32, 32, 8, 1, 7, 7, 2, 2, 1, 1, {3, 3, 3, 3}, 1, NN_ACT_RELU},
        {3, 3, 21, 19, 8, 1, 7, 7, 2, 2, 1, 1, {3, 3, 3, 3}, 0, NN_ACT_NONE},
        /* several im2col tiles per plane */
        {1, 64, 28, 28, 32, 1, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 1, NN_ACT_RELU},
        {2, 32, 14, 14, 16, 2, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 1, NN_ACT_NONE},
        /* 1x1: direct sgemm on the input, and strided (im2col) */
        {3, 16, 7, 7, 8, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, 1, NN_ACT_CLIP},
        {1, 16, 7, 7, 8, 1, 1, 1, 2, 2, 1, 1, {0, 0, 0, 0}, 0, NN_ACT_NONE},
        {1, 8, 13, 13, 4, 2, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, 1, NN_ACT_NONE},
        /* C = 1 */
        {1, 1, 13, 13, 4, 1, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 1, NN_ACT_NONE},
        {3, 1, 5, 7, 2, 1, 3, 3, 2, 2, 1, 1, {0, 1, 2, 0}, 0, NN_ACT_RELU},
        /* depthwise, multiplier 1 and 2, MobileNet-like */
        {1, 16, 14, 14, 16, 16, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, 1, NN_ACT_CLIP},
        {3, 4, 7, 7, 8, 4, 3, 3, 1, 1, 2, 2, {2, 2, 2, 2}, 1, NN_ACT_RELU},
        {1, 8, 13, 5, 8, 8, 5, 5, 3, 1, 1, 1, {0, 1, 2, 0}, 0, NN_ACT_NONE},
        /* wide depthwise rows: the 16- and 4-pixel interior loops */
        {1, 8, 9, 45, 8, 8, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 1, NN_ACT_RELU},
        {2, 4, 6, 50, 4, 4, 3, 3, 1, 1, 2, 2, {2, 2, 2, 2}, 0, NN_ACT_NONE},
        {1, 6, 11, 41, 6, 6, 3, 5, 2, 2, 1, 1, {1, 2, 1, 2}, 1, NN_ACT_CLIP},
        /* stride-2 3x3 depthwise rows (the unrolled stride-2 loads): a last
         * partial group recomputed with loads (37) and gathered (36) */
        {1, 8, 9, 37, 8, 8, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, 1, NN_ACT_RELU},
        {2, 4, 8, 36, 4, 4, 3, 3, 2, 2, 1, 1, {1, 1, 0, 1}, 0, NN_ACT_NONE},
        {1, 4, 7, 44, 8, 4, 3, 3, 2, 2, 1, 2, {1, 2, 1, 2}, 1, NN_ACT_CLIP},
        /* non-square kernel, strides, dilation */
        {1, 3, 7, 13, 5, 1, 1, 3, 1, 2, 2, 1, {0, 1, 0, 1}, 1, NN_ACT_NONE},
        {1, 6, 13, 7, 6, 3, 3, 2, 2, 3, 1, 2, {2, 0, 1, 1}, 1, NN_ACT_RELU},
        /* a single output pixel: no column split possible */
        {1, 8, 3, 3, 16, 1, 3, 3, 1, 1, 1, 1, {0, 0, 0, 0}, 1, NN_ACT_NONE},
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++)
        conv_check(&cfgs[i]);
}

/* More threads than the harness uses: 3 and 4 threads split pixel tiles
 * and channel blocks unevenly (several items per slot sharing one im2col). */
static void test_conv_threads(void)
{
    static const conv_cfg cfgs[] = {
        {1, 64, 7, 7, 96, 1, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 1, NN_ACT_RELU},
        {1, 16, 30, 30, 8, 1, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, 0, NN_ACT_NONE},
        {2, 8, 5, 5, 12, 2, 3, 3, 1, 1, 1, 1, {0, 1, 2, 0}, 1, NN_ACT_CLIP},
        {1, 32, 9, 9, 32, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, 1, NN_ACT_NONE},
        {1, 12, 9, 21, 12, 12, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 1, NN_ACT_RELU},
        /* minimal tiles (kk > 8192): 2 tiles x 2 channel blocks on 3 slots */
        {1, 1024, 10, 10, 4, 1, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 1, NN_ACT_RELU},
    };
    static float x[1 << 17], ref[8192], fast[8192];
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        const conv_cfg *f = &cfgs[i];
        unsigned seed = 99u;
        nn_shape s;
        int64_t nx = f->n * f->c * f->h * f->w, nr;
        for (int64_t j = 0; j < nx; j++)
            x[j] = oh_rand(&seed);
        oh_case c = conv_build(f);
        nr = oh_eval(&c, x, 1, 1, ref, 8192, &s);
        T_CHECKF(nr > 0 && nr <= 8192, "cfg %zu: reference failed (%s)", i, c.err.msg);
        for (int th = 3; th <= 4 && nr > 0 && nr <= 8192; th++) {
            int64_t nf = oh_eval(&c, x, 0, th, fast, 8192, &s);
            double err = nf == nr ? t_max_rel_err(fast, ref, (long)nr) : INFINITY;
            T_CHECKF(err <= TOL, "cfg %zu, %d threads: error %g", i, th, err);
        }
        nn_graph_free(c.g);
    }
}

/* ---- rejected attributes and shapes ------------------------------------ */

static void test_conv_rejects(void)
{
    conv_cfg base = {1, 4, 5, 5, 6, 2, 3, 3, 1, 1, 1, 1, {0, 0, 0, 0}, 0, NN_ACT_NONE};
    conv_cfg f = base;
    nn_shape xs = nn_shape4(1, 4, 5, 5), ws = nn_shape4(6, 2, 3, 3);
    oh_case c;

    f.c = 3;
    f.g = 3;                                   /* divides C = 3 ... */
    f.o = 4;                                   /* ... but not O = 4 */
    c = conv_build(&f);
    oh_check_case(&c, NULL, "group does not divide O");

    c = oh_begin(NN_OP_CONV, &(nn_shape){4, {1, 3, 5, 5}});
    oh_const(&c, "w", &ws);                    /* expects 2 channels per group */
    nn_node_set_int(oh_node(&c), "group", 2);
    oh_check_case(&c, NULL, "group does not divide C");

    c = oh_begin(NN_OP_CONV, &xs);
    oh_const(&c, "w", &ws);                    /* C/group = 4, weight says 2 */
    oh_check_case(&c, NULL, "channel mismatch");

    f = base;
    f.h = f.w = 2;                             /* 3x3 kernel on 2x2, no pad */
    c = conv_build(&f);
    oh_check_case(&c, NULL, "empty output");

    c = conv_build(&base);
    nn_node_set_string(oh_node(&c), "auto_pad", "SAME_UPPER");
    oh_check_case(&c, NULL, "auto_pad");

    c = conv_build(&base);
    nn_node_set_ints(oh_node(&c), "kernel_shape", (int64_t[]){5, 5}, 2);
    oh_check_case(&c, NULL, "kernel_shape mismatch");

    c = conv_build(&base);
    nn_node_set_ints(oh_node(&c), "pads", (int64_t[]){1, 1}, 2);
    oh_check_case(&c, NULL, "two pads");

    c = conv_build(&base);
    nn_node_set_ints(oh_node(&c), "strides", (int64_t[]){0, 1}, 2);
    oh_check_case(&c, NULL, "zero stride");

    c = conv_build(&base);
    nn_node_set_ints(oh_node(&c), "dilations", (int64_t[]){1, -1}, 2);
    oh_check_case(&c, NULL, "negative dilation");

    c = oh_begin(NN_OP_CONV, &xs);
    oh_const(&c, "w", &ws);
    oh_const(&c, "b", &(nn_shape){1, {7}});
    nn_node_set_int(oh_node(&c), "group", 2);
    oh_check_case(&c, NULL, "bias size");

    c = oh_begin(NN_OP_CONV, &(nn_shape){3, {1, 4, 5}});
    oh_const(&c, "w", &(nn_shape){3, {6, 4, 3}});
    oh_check_case(&c, NULL, "1-D conv");
}

static void test_conv_macs(void)
{
    conv_cfg f = {3, 4, 7, 7, 6, 2, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, 1, NN_ACT_NONE};
    oh_case c = conv_build(&f);
    nn_plan_opts o;
    nn_plan *p = NULL;
    memset(&o, 0, sizeof o);
    o.threads = 1;
    oh_node(&c);
    T_CHECK(nn_graph_validate(c.g, &c.err) == NN_OK);
    T_CHECK(nn_plan_create(c.g, 3, &o, &p, &c.err) == NN_OK);
    if (p)   /* N * O * OH * OW * C/g * KH * KW */
        T_CHECK(nn_plan_macs(p) == 3 * 6 * 4 * 4 * 2 * 3 * 3);
    nn_plan_free(p);
    nn_graph_free(c.g);
}

/* ---- BatchNormalization -------------------------------------------------- */

/* Adds scale, B, mean (random) and var (positive) of C channels. */
static void bn_params(oh_case *c, int64_t ch)
{
    nn_shape s = nn_shape_make(1, (int64_t[]){ch});
    float var[64];
    oh_const(c, "scale", &s);
    oh_const(c, "bias", &s);
    oh_const(c, "mean", &s);
    for (int64_t i = 0; i < ch; i++)
        var[i] = 0.25f + (float)(i % 5) * 0.5f;
    oh_const_named(c, "var", s, var);
}

static void test_bn_hand(void)
{
    oh_case c = oh_begin(NN_OP_BATCHNORM, &(nn_shape){3, {1, 2, 2}});
    nn_shape s = nn_shape_make(1, (int64_t[]){2});
    oh_const_named(&c, "scale", s, (const float[]){2, 1});
    oh_const_named(&c, "bias", s, (const float[]){0.5f, 0});
    oh_const_named(&c, "mean", s, (const float[]){1, 0});
    oh_const_named(&c, "var", s, (const float[]){3, 3});
    nn_node_set_float(oh_node(&c), "epsilon", 1.0f);
    /* ch0: (x-1)/2*2+0.5 = x-0.5; ch1: x/2 */
    oh_expect(&c, (const float[]){1, 2, 3, -4}, (const float[]){0.5f, 1.5f, 1.5f, -2}, 4,
              (nn_shape){3, {1, 2, 2}});

    c = oh_begin(NN_OP_BATCHNORM, &(nn_shape){2, {1, 2}});
    oh_const_named(&c, "scale", s, (const float[]){1, 1});
    oh_const_named(&c, "bias", s, (const float[]){0, 0});
    oh_const_named(&c, "mean", s, (const float[]){0, 0});
    oh_const_named(&c, "var", s, (const float[]){1, 1});
    nn_node_set_float(oh_node(&c), "epsilon", 0.0f);
    nn_node_set_int(oh_node(&c), "fused_act", NN_ACT_RELU);
    oh_expect(&c, (const float[]){-3, 3}, (const float[]){0, 3}, 2, (nn_shape){2, {1, 2}});
}

static void test_bn_sweep(void)
{
    static const nn_shape shapes[] = {
        {2, {3, 7}}, {3, {1, 5, 13}}, {4, {1, 3, 5, 7}}, {4, {3, 16, 7, 7}}, {5, {2, 4, 3, 5, 1}},
        {4, {1, 1, 1, 1}},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        for (int act = 0; act < 3; act++) {
            char label[64];
            oh_case c = oh_begin(NN_OP_BATCHNORM, &shapes[i]);
            bn_params(&c, shapes[i].d[1]);
            nn_node_set_float(oh_node(&c), "epsilon", 1e-3f);
            nn_node_set_int(oh_node(&c), "fused_act", act);
            snprintf(label, sizeof label, "batchnorm shape %zu act %d", i, act);
            oh_check_case(&c, &shapes[i], label);
        }
    }
}

static void test_bn_rejects(void)
{
    oh_case c = oh_begin(NN_OP_BATCHNORM, &(nn_shape){4, {1, 3, 5, 5}});
    bn_params(&c, 4);
    oh_check_case(&c, NULL, "batchnorm channel mismatch");

    c = oh_begin(NN_OP_BATCHNORM, &(nn_shape){1, {3}});
    bn_params(&c, 3);
    oh_check_case(&c, NULL, "batchnorm rank 1");
}

int main(void)
{
    T_RUN(test_conv_hand_diag);
    T_RUN(test_conv_hand_pad_stride);
    T_RUN(test_conv_hand_dilation);
    T_RUN(test_conv_hand_asym_pad);
    T_RUN(test_conv_hand_groups_relu);
    T_RUN(test_conv_hand_two_channels_clip);
    T_RUN(test_conv_sweep);
    T_RUN(test_conv_shapes);
    T_RUN(test_conv_threads);
    T_RUN(test_conv_rejects);
    T_RUN(test_conv_macs);
    T_RUN(test_bn_hand);
    T_RUN(test_bn_sweep);
    T_RUN(test_bn_rejects);
    printf("conv/batchnorm: %d fast-vs-reference cases, worst relative error %.3g\n", oh_n_cases,
           oh_worst_err);
    return t_summary("test_ops_conv");
}
