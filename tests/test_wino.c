/* test_wino.c — the Winograd transforms of nn/kernels/winograd*.c against
 * the definitions, for F(2x2), F(4x4), F(2x2) at stride 2 and every ISA
 * this CPU runs:
 * the weight transform against G g G^T in double (matrices written out
 * here), then whole convolutions built from the transforms and our sgemm
 * (blocks of tiles that cross tile rows and images, as conv_wino.c uses
 * them) against the direct convolution in double over a shape sweep (odd
 * H/W, pads 0/1/asymmetric, C and O off 8/16, batch 1 and 3, bias +
 * residual + ReLU), and the Conv op on its Winograd path (1 and 2 threads,
 * Clip falling back to F(2x2)) against its reference kernel, with the same
 * bits at 1, 2 and 3 threads. Errors are max |err| / max |ref|; a negative
 * control checks that one wrong weight is caught. */
#include <stdlib.h>

#include "nn/kernels/winograd.h"
#include "op_harness.h"

#define TOL 1e-5

static float wrand(unsigned *s)
{
    *s = *s * 1664525u + 1013904223u;
    return ((float)((*s >> 8) & 0xffff) / 32768.0f) - 1.0f;
}

/* G of each tile size (rows: positions of one side). */
static const double g2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
static const double g4[6][3] = {
    {1, 0, 0},
    {1.0 / 3, 1.0 / 3, 1.0 / 3},
    {-1.0 / 3, 1.0 / 3, -1.0 / 3},
    {-16.0 / 15, -8.0 / 15, -4.0 / 15},
    {1.0 / 15, -2.0 / 15, 4.0 / 15},
    {0, 0, 1},
};

/* Stride 2: the even taps as F(2,2), the odd one twice (winograd_body.h). */
static const double gs2[5][3] = {{1, 0, 0}, {1, 0, 1}, {0, 0, 1}, {0, 1, 0}, {0, 1, 0}};

static double g_at(const nn_wino_kernel *wk, int r, int k)
{
    return wk->stride == 2 ? gs2[r][k] : wk->m == 2 ? g2[r][k] : g4[r][k];
}

/* U by the definition vs wk->weights over two filter ranges. */
static void weights_case(const nn_wino_kernel *wk, int64_t oc)
{
    int n = wk->stride == 2 ? 5 : wk->m + 2;
    float *w = malloc((size_t)oc * 9 * sizeof(float));
    int64_t us = oc + 5;
    float *u = malloc((size_t)us * wk->pos * sizeof(float));
    unsigned s = 7;
    double md = 0, mu = 0;
    for (int64_t i = 0; i < oc * 9; i++)
        w[i] = wrand(&s);
    wk->weights(w, 0, oc / 3, u, us);
    wk->weights(w, oc / 3, oc, u, us);
    for (int64_t f = 0; f < oc; f++)
        for (int r = 0; r < n; r++)
            for (int c = 0; c < n; c++) {
                double v = 0;
                for (int a = 0; a < 3; a++)
                    for (int b = 0; b < 3; b++)
                        v += g_at(wk, r, a) * w[f * 9 + a * 3 + b] * g_at(wk, c, b);
                md = fmax(md, fabs(v - u[(r * n + c) * us + f]));
                mu = fmax(mu, fabs(v));
            }
    T_CHECKF(md <= 1e-6 * mu, "%s weights: error %g of %g", wk->name, md, mu);
    free(w);
    free(u);
}

/* The three transform sets of an ISA: F(2x2), F(4x4), F(2x2) stride 2. */
static const nn_wino_kernel *wino_set(nn_isa isa, int i)
{
    return i < 2 ? nn_wino_kernel_for(2 + 2 * i, isa) : nn_wino_s2_kernel_for(isa);
}

static void test_weights(void)
{
    for (int isa = 0; isa < NN_ISA_COUNT; isa++)
        for (int i = 0; i < 3; i++)
            if (nn_isa_supported((nn_isa)isa))
                weights_case(wino_set((nn_isa)isa, i), 77);
    T_CHECK(nn_wino_kernel_for(3, NN_ISA_GENERIC) == NULL);
    T_CHECK(nn_wino_s2_kernel_for(NN_ISA_GENERIC)->stride == 2 &&
            nn_wino_s2_kernel_for(NN_ISA_GENERIC)->pos == 25);
    /* from AVX2 up, every set runs its own 8-lane transforms (which the
     * sweeps below then cover), not the portable ones */
    for (int isa = NN_ISA_AVX2; isa < NN_ISA_COUNT; isa++)
        for (int i = 0; i < 3 && nn_isa_supported((nn_isa)isa); i++) {
            const nn_wino_kernel *wk = wino_set((nn_isa)isa, i);
            const nn_wino_kernel *wg = wino_set(NN_ISA_GENERIC, i);
            T_CHECKF(wk->input != wg->input && wk->output != wg->output &&
                     wk->weights != wg->weights, "%s: %s runs portable transforms",
                     nn_isa_name((nn_isa)isa), wk->name);
        }
}

/* One convolution shape for the kernel-level cases. */
typedef struct wshape {
    int64_t n, c, h, w, o, pt, pl, pb, pr;
    int64_t block;              /* tiles per block (crosses rows and images) */
    int epi;                    /* 0 none, 1 bias + residual + ReLU */
    int stride;                 /* 2, or 1 (also when 0) */
} wshape;

static int64_t wstride(const wshape *s)
{
    return s->stride == 2 ? 2 : 1;
}

/* Direct convolution in double, with the epilogue: y [N, O, OH, OW]. */
static void conv_direct(const wshape *s, const float *x, const float *w, const float *bias,
                        const float *res, int64_t oh, int64_t ow, double *y)
{
    for (int64_t n = 0; n < s->n; n++)
        for (int64_t o = 0; o < s->o; o++)
            for (int64_t oy = 0; oy < oh; oy++)
                for (int64_t ox = 0; ox < ow; ox++) {
                    double a = 0;
                    int64_t i = ((n * s->o + o) * oh + oy) * ow + ox;
                    for (int64_t c = 0; c < s->c; c++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) {
                                int64_t iy = oy * wstride(s) - s->pt + ky;
                                int64_t ix = ox * wstride(s) - s->pl + kx;
                                if (iy >= 0 && iy < s->h && ix >= 0 && ix < s->w)
                                    a += (double)x[((n * s->c + c) * s->h + iy) * s->w + ix] *
                                         w[((o * s->c + c) * 3 + ky) * 3 + kx];
                            }
                    if (s->epi)
                        a = fmax(a + bias[o] + res[i], 0.0);
                    y[i] = a;
                }
}

/* The conv of shape s by kernel wk / sgemm k (as conv_wino.c runs it, one
 * thread); corrupt: add 0.01 to one transformed weight. Returns the error
 * against the direct convolution. */
static double wino_conv(const nn_wino_kernel *wk, const nn_sgemm_kernel *k, const wshape *s,
                        int corrupt)
{
    nn_wino_geom g = {.C = s->c, .H = s->h, .W = s->w, .pt = s->pt, .pl = s->pl,
                      .OH = (s->h + s->pt + s->pb - 3) / wstride(s) + 1,
                      .OW = (s->w + s->pl + s->pr - 3) / wstride(s) + 1, .m = wk->m};
    int64_t T, total, pos = wk->pos, nb = s->block, vstride, mstride, ny;
    unsigned seed = 11;
    float *x, *w, *bias, *res, *y, *u, *v, *mat, *buf;
    double *ref, md = 0, mr = 0;
    nn_wino_geom_tiles(&g);
    T = g.th * g.tw;
    total = s->n * T;
    ny = s->n * s->o * g.OH * g.OW;
    vstride = nn_sgemm_packed_b_floats(k, s->c, nb) + 8;
    mstride = s->o * nb + NN_WINO_SLACK + 8;
    x = malloc((size_t)(s->n * s->c * s->h * s->w) * sizeof(float));
    w = malloc((size_t)(s->o * s->c * 9) * sizeof(float));
    bias = malloc((size_t)s->o * sizeof(float));
    res = malloc((size_t)ny * sizeof(float));
    y = malloc((size_t)ny * sizeof(float));
    ref = malloc((size_t)ny * sizeof(double));
    u = malloc((size_t)(pos * s->o * s->c) * sizeof(float));
    v = malloc((size_t)(pos * vstride) * sizeof(float));
    mat = malloc((size_t)(pos * mstride) * sizeof(float));
    buf = malloc((size_t)wk->buf_floats(&g) * sizeof(float));
    for (int64_t i = 0; i < s->n * s->c * s->h * s->w; i++)
        x[i] = wrand(&seed);
    for (int64_t i = 0; i < pos * vstride; i++)
        v[i] = NAN;     /* a row no range transforms shows in the error */
    for (int64_t i = 0; i < s->o * s->c * 9; i++)
        w[i] = wrand(&seed);
    for (int64_t i = 0; i < s->o; i++)
        bias[i] = wrand(&seed);
    for (int64_t i = 0; i < ny; i++) {
        res[i] = 4 * wrand(&seed);
        y[i] = NAN;
    }
    wk->weights(w, 0, s->o * s->c, u, s->o * s->c);
    if (corrupt)
        u[(pos / 2) * s->o * s->c + s->c / 2] += 0.01f;
    for (int64_t t0 = 0; t0 < total; t0 += nb) {
        int64_t nt = total - t0 < nb ? total - t0 : nb;
        /* in two channel ranges, as threads sharing one block do */
        for (int h = 0; h < 2; h++) {
            nn_wino_geom gc = g;
            gc.c0 = h ? s->c / 3 : 0;
            gc.c1 = h ? s->c : s->c / 3;
            for (int64_t n = t0 / T; n * T < t0 + nt; n++) {
                int64_t a = (t0 > n * T ? t0 : n * T) - n * T;
                int64_t b = (t0 + nt < n * T + T ? t0 + nt : n * T + T) - n * T;
                wk->input(k, &gc, x + n * s->c * s->h * s->w, a, b - a, n * T + a - t0, v,
                          vstride, buf);
            }
            nn_wino_input_pad(k, (int)pos, s->c, gc.c0, gc.c1, nt, v, vstride);
        }
        for (int64_t xi = 0; xi < pos; xi++)
            nn_sgemm_run(k, s->o, nt, s->c, u + xi * s->o * s->c, s->c, v + xi * vstride,
                         mat + xi * mstride, nt, NULL);
        for (int64_t n = t0 / T; n * T < t0 + nt; n++) {
            int64_t a = (t0 > n * T ? t0 : n * T) - n * T;
            int64_t b = (t0 + nt < n * T + T ? t0 + nt : n * T + T) - n * T;
            nn_sgemm_epi ep = {0};
            int64_t off = n * s->o * g.OH * g.OW;
            if (s->epi) {
                ep.bias_m = bias;
                ep.res = res + off;
                ep.ldr = g.OH * g.OW;
                ep.clamp = 1;
                ep.hi = INFINITY;
            }
            wk->output(&g, mat + (n * T + a - t0), mstride, nt, s->o, a, b - a, &ep, y + off,
                       buf);
        }
    }
    conv_direct(s, x, w, bias, res, g.OH, g.OW, ref);
    for (int64_t i = 0; i < ny; i++) {
        double d = fabs(y[i] - ref[i]);
        md = d == d && md == md ? fmax(md, d) : NAN;    /* NaN: a pixel never written */
        mr = fmax(mr, fabs(ref[i]));
    }
    free(x);
    free(w);
    free(bias);
    free(res);
    free(y);
    free(ref);
    free(u);
    free(v);
    free(mat);
    free(buf);
    return md / mr;
}

/* Geometry sweep: odd and even sizes, one tile, rows of one tile, pads 0,
 * 1, asymmetric and 2, channels off the vector and register widths,
 * blocks that split tile rows and span images. */
static void test_conv_shapes(void)
{
    static const wshape shapes[] = {
        {1, 16, 56, 56, 16, 1, 1, 1, 1, 64, 1, 1},
        {1, 17, 9, 11, 19, 1, 1, 1, 1, 16, 1, 1},
        {3, 8, 7, 7, 5, 1, 1, 1, 1, 13, 1, 1},
        {3, 5, 13, 6, 9, 0, 0, 0, 0, 48, 0, 1},
        {1, 24, 3, 3, 16, 0, 0, 0, 0, 16, 0, 1},
        {3, 16, 4, 4, 8, 1, 1, 1, 1, 7, 1, 1},
        {1, 9, 20, 3, 7, 0, 1, 2, 0, 32, 1, 1},
        {3, 33, 10, 21, 20, 2, 2, 2, 2, 40, 1, 1},
        {1, 16, 30, 1, 16, 1, 1, 1, 1, 64, 0, 1},
        {1, 16, 1, 30, 6, 1, 1, 1, 1, 96, 1, 1},
        {3, 12, 27, 29, 13, 1, 0, 0, 1, 200, 1, 1},
    };
    for (int isa = 0; isa < NN_ISA_COUNT; isa++) {
        const nn_sgemm_kernel *k = nn_sgemm_kernel_for((nn_isa)isa);
        if (!nn_isa_supported((nn_isa)isa))
            continue;
        for (int set = 0; set < 3; set++) {
            const nn_wino_kernel *wk = wino_set((nn_isa)isa, set);
            double worst = 0;
            for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
                wshape sh = shapes[i], *s = &sh;
                double e;
                sh.stride = wk->stride;
                e = wino_conv(wk, k, s, 0);
                T_CHECKF(e <= TOL, "%s: n%lld c%lld %lldx%lld o%lld pads %lld,%lld,%lld,%lld "
                         "block %lld: error %g", wk->name, (long long)s->n, (long long)s->c,
                         (long long)s->h, (long long)s->w, (long long)s->o, (long long)s->pt,
                         (long long)s->pl, (long long)s->pb, (long long)s->pr,
                         (long long)s->block, e);
                if (!(e <= worst))
                    worst = e;
            }
            /* negative control: one transformed weight off by 0.01 */
            {
                wshape sh = shapes[1];
                sh.stride = wk->stride;
                T_CHECKF(wino_conv(wk, k, &sh, 1) > 10 * TOL, "%s: corrupt U not caught",
                         wk->name);
            }
            printf("  %s with %s: worst error %.3g over %zu shapes\n", wk->name, k->name, worst,
                   sizeof shapes / sizeof shapes[0]);
        }
    }
}

/* Error against C: the figures winograd.h quotes (uniform [-1, 1) data,
 * 14x14, pad 1, 16 output channels, no epilogue). */
static void test_error_by_channels(void)
{
    nn_isa isa;
    nn_err e;
    const nn_sgemm_kernel *k;
    T_CHECK(nn_isa_select(&isa, &e) == NN_OK);
    k = nn_sgemm_kernel_for(isa);
    for (int64_t c = 16; c <= 512; c *= 2) {
        wshape s = {1, c, 14, 14, 16, 1, 1, 1, 1, 64, 0, 1}, s2 = s;
        double e2 = wino_conv(nn_wino_kernel_for(2, isa), k, &s, 0);
        double e4 = wino_conv(nn_wino_kernel_for(4, isa), k, &s, 0), es;
        s2.stride = 2;
        es = wino_conv(nn_wino_s2_kernel_for(isa), k, &s2, 0);
        printf("  C=%3lld: F(2x2) %.2e  F(4x4) %.2e  stride 2 %.2e (%s)\n", (long long)c, e2, e4,
               es, k->name);
        T_CHECKF(e2 <= TOL && e4 <= TOL && es <= TOL, "C=%lld: errors %g %g %g", (long long)c, e2,
                 e4, es);
    }
}

/* Conv op through the harness: fast (1 and 2 threads) vs reference; st
 * the stride (1 or 2, pads 1). */
static double op_case(int64_t n, int64_t c, int64_t h, int64_t o, int act, int res, int st)
{
    int64_t oh = (h - 1) / st + 1;
    nn_shape xs = nn_shape4(n, c, h, h), ws = nn_shape4(o, c, 3, 3);
    nn_shape bs = nn_shape_make(1, (int64_t[]){o}), rs = nn_shape4(n, o, oh, oh);
    oh_case cs = oh_begin(NN_OP_CONV, &xs);
    nn_node *nd;
    oh_const(&cs, "w", &ws);
    oh_const(&cs, "b", &bs);
    if (res)
        oh_input(&cs, "r", &rs);
    nd = oh_node(&cs);
    nn_node_set_ints(nd, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    nn_node_set_ints(nd, "strides", (int64_t[]){st, st}, 2);
    nn_node_set_int(nd, "fused_act", act);
    nn_node_set_float(nd, "fused_min", -0.5f);
    nn_node_set_float(nd, "fused_max", 0.75f);
    return oh_finish(&cs);
}

/* The op's fast path at 1, 2 and 3 threads gives the same bits (items
 * split tiles and channels differently; the reduction is never split). */
static int op_threads_same(int64_t n, int64_t c, int64_t h, int64_t o, int st)
{
    nn_shape xs = nn_shape4(n, c, h, h), ws = nn_shape4(o, c, 3, 3);
    oh_case cs = oh_begin(NN_OP_CONV, &xs);
    float *y[3] = {NULL, NULL, NULL};
    int64_t ny[3] = {0, 0, 0};
    int same = 1;
    nn_node *nd;
    oh_const(&cs, "w", &ws);
    nd = oh_node(&cs);
    nn_node_set_ints(nd, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    nn_node_set_ints(nd, "strides", (int64_t[]){st, st}, 2);
    for (int t = 0; t < 3; t++)
        same &= oh_run(&cs, 0, t + 1, &y[t], &ny[t]) == 0 && ny[t] == ny[0] &&
                memcmp(y[t], y[0], (size_t)ny[0] * sizeof(float)) == 0;
    for (int t = 0; t < 3; t++)
        free(y[t]);
    nn_graph_free(cs.g);
    return same;
}

/* The tile side (2 or 4; 0 for another kernel; -2 for F(2x2) at stride
 * 2) the fast plan of an n x c x h x h -> o 3x3 conv of stride st picks.
 * Planned, never run: a 512-channel U is reserved, not touched. */
static int op_wino_ms(int64_t n, int64_t c, int64_t h, int64_t o, int st)
{
    nn_shape xs = nn_shape4(n, c, h, h), ws = nn_shape4(o, c, 3, 3);
    oh_case cs = oh_begin(NN_OP_CONV, &xs);
    nn_plan_opts opts = {.threads = 1};
    nn_plan *p = NULL;
    const char *k;
    int m = 0;
    nn_node *nd;
    oh_const(&cs, "w", &ws);
    nd = oh_node(&cs);
    nn_node_set_ints(nd, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    nn_node_set_ints(nd, "strides", (int64_t[]){st, st}, 2);
    if (nn_plan_create(cs.g, n, &opts, &p, &cs.err) == NN_OK && (k = nn_plan_node_kernel(p, 0)))
        m = !strcmp(k, "winograd F(4x4,3x3)")            ? 4
          : !strcmp(k, "winograd F(2x2,3x3)")            ? 2
          : !strcmp(k, "winograd F(2x2,3x3) stride 2") ? -2
                                                         : 0;
    nn_plan_free(p);
    nn_graph_free(cs.g);
    return m;
}

static int op_wino_m(int64_t n, int64_t c, int64_t h, int64_t o)
{
    return op_wino_ms(n, c, h, o, 1);
}

/* The tile size by batch (conv_wino.c): a 7x7 map has 4 F(4x4) tiles per
 * image, so F(4x4) from batch 4 (16 tiles, one panel); a 512-channel U
 * (37.7 MB as F(4x4)) waits for batch 8 (at most 5 MB per image). Stride
 * 2: Winograd for 56 -> 28 and 28 -> 14, not 14 -> 7 (16 tiles for 49
 * pixels: 0.91 of direct's products). */
static void test_tile_choice(void)
{
    T_CHECKF(op_wino_ms(1, 64, 56, 128, 2) == -2 && op_wino_ms(1, 128, 28, 256, 2) == -2 &&
                 op_wino_ms(1, 256, 14, 512, 2) == 0 && op_wino_ms(1, 8, 28, 16, 2) == 0,
             "stride 2: %d %d %d %d", op_wino_ms(1, 64, 56, 128, 2),
             op_wino_ms(1, 128, 28, 256, 2), op_wino_ms(1, 256, 14, 512, 2),
             op_wino_ms(1, 8, 28, 16, 2));
    T_CHECKF(op_wino_m(1, 16, 7, 24) == 2 && op_wino_m(3, 16, 7, 24) == 2 &&
                 op_wino_m(4, 16, 7, 24) == 4 && op_wino_m(1, 16, 14, 24) == 4,
             "7x7 / 14x14, 16 -> 24 channels: F(%d) F(%d) F(%d) F(%d)", op_wino_m(1, 16, 7, 24),
             op_wino_m(3, 16, 7, 24), op_wino_m(4, 16, 7, 24), op_wino_m(1, 16, 14, 24));
    T_CHECKF(op_wino_m(4, 512, 7, 512) == 2 && op_wino_m(8, 512, 7, 512) == 4,
             "7x7, 512 channels: batch 4 F(%d), batch 8 F(%d)", op_wino_m(4, 512, 7, 512),
             op_wino_m(8, 512, 7, 512));
}

/* The op's Winograd path per ISA: F(4x4) (no activation, ReLU, residual),
 * Clip (F(2x2)), a batch of 3 whose blocks cross images, a channel count
 * whose F(4x4) weights exceed the batch-1 budget (F(2x2)), a 7x7 map at
 * batch 8 (F(4x4): four tiles per image, blocks of four images), stride 2
 * (residual, Clip on an odd map at batch 3, 64 channels at 56x56), and a
 * 56x56 map whose last block of tiles the threads split. */
static void test_conv_op(void)
{
    static const struct {
        int64_t n, c, h, o;
        int act, res, st;
    } cs[] = {
        {1, 32, 20, 24, 0, 0, 1}, {1, 32, 20, 24, 1, 1, 1}, {1, 24, 17, 40, 2, 0, 1},
        {3, 16, 9, 21, 1, 1, 1},  {1, 192, 14, 160, 1, 0, 1}, {8, 16, 7, 24, 1, 1, 1},
        {1, 32, 28, 40, 1, 1, 2}, {3, 17, 27, 24, 2, 0, 2}, {1, 64, 56, 32, 0, 0, 2},
        {1, 64, 56, 32, 1, 1, 1},
    };
    const char *old = getenv("SCANLITE_ISA");
    char *saved = old ? strdup(old) : NULL;
    for (int isa = 0; isa < NN_ISA_COUNT; isa++) {
        if (!nn_isa_supported((nn_isa)isa))
            continue;
        setenv("SCANLITE_ISA", nn_isa_name((nn_isa)isa), 1);
        for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
            double e = op_case(cs[i].n, cs[i].c, cs[i].h, cs[i].o, cs[i].act, cs[i].res, cs[i].st);
            T_CHECKF(e >= 0 && e <= TOL, "%s op case %zu: error %g", nn_isa_name((nn_isa)isa),
                     i, e);
        }
        /* 28x28 (49 F(4x4) tiles: a last panel of one column), 14x14
         * (F(2x2) at batch 1, F(4x4) at batch 3), 7x7 at batch 8 and
         * 56x56 (196 tiles: 6 blocks of 32, then 4 split by output
         * channels between 2 or 3 threads) */
        T_CHECKF(op_threads_same(1, 32, 28, 20, 1) && op_threads_same(3, 16, 28, 30, 1) &&
                 op_threads_same(1, 192, 14, 160, 1) && op_threads_same(3, 192, 14, 160, 1) &&
                 op_threads_same(8, 16, 7, 24, 1) && op_threads_same(1, 64, 56, 32, 2) &&
                 op_threads_same(3, 24, 28, 40, 2) && op_threads_same(1, 64, 56, 32, 1),
                 "%s: results depend on the thread count", nn_isa_name((nn_isa)isa));
    }
    if (saved) {
        setenv("SCANLITE_ISA", saved, 1);
        free(saved);
    } else {
        unsetenv("SCANLITE_ISA");
    }
}

int main(void)
{
    T_RUN(test_weights);
    T_RUN(test_conv_shapes);
    T_RUN(test_error_by_channels);
    T_RUN(test_tile_choice);
    T_RUN(test_conv_op);
    return t_summary("test_wino");
}
