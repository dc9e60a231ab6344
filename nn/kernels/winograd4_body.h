/* winograd4_body.h — the F(4x4, 3x3) input and output transforms and the
 * weight transforms of F(4x4) and F(2x2) (see winograd.h), written once over
 * a WB_W-lane vector (lane l = tile t + l, or filter f + l) and included by
 * one file per ISA (winograd4.c: 4 lanes of portable C; winograd4_avx2.c:
 * 8 lanes of AVX2 + FMA). The 1-D transforms of F(4x4) (points 0, 1, -1,
 * 1/2, -2; G is at wb_g4):
 *   B^T = [1 -3/2 -2 3/2 1 0; 0 -1 1/2 5/2 1 0; 0 1 -5/2 1/2 1 0;
 *          0 -2 -1 2 1 0; 0 1/2 -1 -1/2 1 0; 0 1 -3/2 -2 3/2 1]
 *   A^T = [1 1 1 1 1 0; 0 1 -1 1/2 -2 0; 0 1 1 1/4 4 0; 0 1 -1 1/8 -8 1]
 * Input rows are split into their 4 column phases (x mod 4) and laid out
 * per tile so that element (i, j) of the patches of WB_W consecutive tiles
 * (also across tile rows) is one unit-stride load; the output transform
 * merges the phases back into rows.
 * Required: WB_W, WB_V (float vector, GCC vector extension), WB_I (int32
 * vector of the same width), WB_SET1(x), WB_FMA(a, b, c) = a*b + c,
 * WB_SPLIT4(s, p): p[k][l] = s[4l + k] (k < 4, l < WB_W) from s[0, 4 WB_W),
 * WB_MERGE4(p, d): d[4l + k] = p[k][l], WB_TAPS(w, g): g[k][l] = w[9l + k]
 * (k < 9, l < WB_W); WB_WEIGHTS4, WB_WEIGHTS2 (the weight transforms of
 * both tile sizes), WB_INPUT, WB_OUTPUT, WB_BUF_FLOATS: the names of the
 * functions this defines. */
#include <string.h>

static inline WB_V wb_load(const float *p)
{
    WB_V v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void wb_store(float *p, WB_V v)
{
    memcpy(p, &v, sizeof v);
}

/* lane-wise mask ? a : b */
static inline WB_V wb_select(WB_I mask, WB_V a, WB_V b)
{
    return (WB_V)(((WB_I)a & mask) | ((WB_I)b & ~mask));
}

/* Lanes [lo, hi) set. */
static inline WB_I wb_lanes(int64_t lo, int64_t hi)
{
    WB_I m;
    for (int l = 0; l < WB_W; l++)
        m[l] = l >= lo && l < hi ? -1 : 0;
    return m;
}

/* out = B^T in (6 values). */
static inline void wb_bt(const WB_V *d, WB_V *out)
{
    WB_V e = d[4] - d[2], f = d[3] - d[1];
    WB_V p = WB_FMA(WB_SET1(1.5f), d[3], e), q = WB_FMA(WB_SET1(1.5f), d[2], f);
    out[0] = WB_FMA(WB_SET1(1.5f), f, WB_FMA(WB_SET1(-2.0f), d[2], d[0] + d[4]));
    out[1] = p + q;
    out[2] = p - q;
    out[3] = WB_FMA(WB_SET1(2.0f), f, e);
    out[4] = WB_FMA(WB_SET1(-0.5f), f, e);
    out[5] = WB_FMA(WB_SET1(1.5f), e, WB_FMA(WB_SET1(-2.0f), d[3], d[1] + d[5]));
}

/* out = A^T in (6 values to 4). */
static inline void wb_at(const WB_V *m, WB_V *out)
{
    WB_V s = m[1] + m[2], d = m[1] - m[2];
    out[0] = m[0] + s + (m[3] + m[4]);
    out[1] = WB_FMA(WB_SET1(0.5f), m[3], WB_FMA(WB_SET1(-2.0f), m[4], d));
    out[2] = WB_FMA(WB_SET1(0.25f), m[3], WB_FMA(WB_SET1(4.0f), m[4], s));
    out[3] = WB_FMA(WB_SET1(0.125f), m[3], WB_FMA(WB_SET1(-8.0f), m[4], d + m[5]));
}

/* out = G in (3 values to 6; G rows 1, 0, 0 / 1/3, 1/3, 1/3 / -1/3, 1/3,
 * -1/3 / -16/15, -8/15, -4/15 / 1/15, -2/15, 4/15 / 0, 0, 1). */
static inline void wb_g4(const WB_V *g, WB_V *out)
{
    WB_V s = g[0] + g[2];
    out[0] = g[0];
    out[1] = (s + g[1]) * WB_SET1(1.0f / 3);
    out[2] = (g[1] - s) * WB_SET1(1.0f / 3);
    /* separate multiplies and adds, never WB_FMA: U must be bit-identical
     * on every ISA (the converter may compute it on another machine) */
    out[3] = WB_SET1(-16.0f / 15) * g[0] + (WB_SET1(-8.0f / 15) * g[1] + g[2] * WB_SET1(-4.0f / 15));
    out[4] = WB_SET1(1.0f / 15) * g[0] + (WB_SET1(-2.0f / 15) * g[1] + g[2] * WB_SET1(4.0f / 15));
    out[5] = g[2];
}

/* out = G in for F(2x2) (3 values to 4; G rows 1, 0, 0 / 1/2, 1/2, 1/2 /
 * 1/2, -1/2, 1/2 / 0, 0, 1). */
static inline void wb_g2(const WB_V *g, WB_V *out)
{
    WB_V s = g[0] + g[2];
    out[0] = g[0];
    out[1] = (s + g[1]) * WB_SET1(0.5f);
    out[2] = (s - g[1]) * WB_SET1(0.5f);
    out[3] = g[2];
}

/* g[k] = tap k of the WB_W filters at w (9 floats each), for k < 9; a
 * last partial vector (n < WB_W filters) pads with zeros. */
static inline void wb_taps(const float *w, int64_t n, WB_V *g)
{
    float gt[9][WB_W];
    if (n == WB_W) {
        WB_TAPS(w, g);
        return;
    }
    for (int64_t l = 0; l < WB_W; l++)
        for (int k = 0; k < 9; k++)
            gt[k][l] = l < n ? w[l * 9 + k] : 0.0f;
    for (int k = 0; k < 9; k++)
        g[k] = wb_load(gt[k]);
}

/* Stores lanes [0, n) of v at d. */
static inline void wb_store_n(float *d, WB_V v, int64_t n)
{
    float tmp[WB_W];
    if (n == WB_W) {
        wb_store(d, v);
        return;
    }
    wb_store(tmp, v);
    for (int64_t l = 0; l < n; l++)
        d[l] = tmp[l];
}

/* U = G g G^T of side m (the 1-D transform gt) for WB_W filters at a time
 * (lane l: filter f + l): see nn_wino_kernel.weights. */
#define WB_WEIGHTS_BODY(m, gt)                                                          \
    for (int64_t f = f0; f < f1; f += WB_W) {                                           \
        int64_t n = f1 - f < WB_W ? f1 - f : WB_W;                                      \
        WB_V g[9], t[m + 2][3];                                                         \
        wb_taps(w + f * 9, n, g);                                                       \
        _Pragma("GCC unroll 3")                                                         \
        for (int j = 0; j < 3; j++) {   /* G along the kernel rows, column j */        \
            WB_V col[3] = {g[j], g[3 + j], g[6 + j]}, r[m + 2];                         \
            gt(col, r);                                                                 \
            _Pragma("GCC unroll 6")                                                     \
            for (int i = 0; i < m + 2; i++)                                             \
                t[i][j] = r[i];                                                         \
        }                                                                               \
        _Pragma("GCC unroll 6")                                                         \
        for (int r = 0; r < m + 2; r++) {       /* then along the columns */            \
            WB_V o[m + 2];                                                              \
            gt(t[r], o);                                                                \
            _Pragma("GCC unroll 6")                                                     \
            for (int c = 0; c < m + 2; c++)                                             \
                wb_store_n(u + ((m + 2) * r + c) * ustride + f, o[c], n);               \
        }                                                                               \
    }

void WB_WEIGHTS4(const float *w, int64_t f0, int64_t f1, float *u, int64_t ustride)
{
    WB_WEIGHTS_BODY(4, wb_g4)
}

void WB_WEIGHTS2(const float *w, int64_t f0, int64_t f1, float *u, int64_t ustride)
{
    WB_WEIGHTS_BODY(2, wb_g2)
}

/* Tiles per sub-range of a call: the patch arrays of one channel stay in L1. */
#define WB_QB (8 * WB_W)
/* Length of one patch array: WB_W of front room (entry -1 is written),
 * WB_QB tiles, the lanes of a first vector before the range and of the
 * last vectors after it. */
#define WB_QL (WB_QB + 3 * WB_W)

/* Floats of a padded input row: its 4 (tw + WB_W) columns cover every
 * vector read of wb_patches. */
static int64_t wb_row_floats(const nn_wino_geom *g)
{
    return 4 * (g->tw + WB_W);
}

int64_t WB_BUF_FLOATS(const nn_wino_geom *g)
{
    int64_t in = 36 * WB_QL + 2 * wb_row_floats(g), out = 16 * (WB_QB + WB_W);
    return in > out ? in : out;
}

/* The tile columns [*a, *b) of tile row ty inside tiles [t0, t0 + nt). */
static void wb_row_span(const nn_wino_geom *g, int64_t ty, int64_t t0, int64_t nt, int64_t *a,
                        int64_t *b)
{
    int64_t first = ty * g->tw, last = first + g->tw;
    *a = (t0 > first ? t0 : first) - first;
    *b = (t0 + nt < last ? t0 + nt : last) - first;
}

/* Patch arrays of channel plane xc for tiles [t0, t0 + n) (n <= WB_QB):
 * q[(6i + j) * WB_QL + WB_W + s + u] = d_u(i, j), the patch of tile t0 + u
 * (x(4 ty - pt + i, 4 tx - pl + j), zero outside the image), so that one
 * vector load gives WB_W consecutive tiles even across tile rows. Per input
 * row: a zero-padded copy (rz: zeros, rp: the copy, both wb_row_floats),
 * split into its 4 column phases (WB_W tiles at a time); patch columns 4
 * and 5 are phases 0 and 1 of the next tile. */
static void wb_patches(const nn_wino_geom *g, const float *xc, int64_t t0, int64_t n, int64_t s,
                       float *q, float *rp, const float *rz)
{
    int64_t ty0 = t0 / g->tw, ty1 = (t0 + n - 1) / g->tw;
    for (int64_t ty = ty0; ty <= ty1; ty++) {
        int64_t ta, tb, qa, nch;
        wb_row_span(g, ty, t0, n, &ta, &tb);
        qa = WB_W + s + ty * g->tw + ta - t0;   /* array index of tile ta */
        nch = (tb + 1 - ta + WB_W - 1) / WB_W;  /* tiles ta .. tb (tb: columns 4, 5) */
        for (int i = 0; i < 6; i++) {
            int64_t iy = 4 * ty - g->pt + i;
            float *qi = q + 6 * i * WB_QL;
            const float *row = rz;
            float keep4 = qi[4 * WB_QL + qa - 1], keep5 = qi[5 * WB_QL + qa - 1];
            if (iy >= 0 && iy < g->H) {
                memcpy(rp + g->pl, xc + iy * g->W, (size_t)g->W * sizeof(float));
                row = rp;
            }
            for (int64_t ch = 0; ch < nch; ch++) {
                int64_t tx = ta + ch * WB_W, at = qa + ch * WB_W;
                WB_V p[4];
                WB_SPLIT4(row + 4 * tx, p);
#pragma GCC unroll 4
                for (int k = 0; k < 4; k++)
                    wb_store(qi + k * WB_QL + at, p[k]);
                wb_store(qi + 4 * WB_QL + at - 1, p[0]);
                wb_store(qi + 5 * WB_QL + at - 1, p[1]);
            }
            /* entry qa - 1 of columns 4, 5 is the previous row's last tile */
            qi[4 * WB_QL + qa - 1] = keep4;
            qi[5 * WB_QL + qa - 1] = keep5;
        }
    }
}

/* Transforms the WB_W tiles of the patch arrays at q (array xi' at q + xi'
 * * WB_QL) and stores lanes [lo, WB_W) of the 36 results at d + xi *
 * vstride (lanes below lo keep their values). */
static void wb_input_vec(const float *q, float *d, int64_t vstride, int64_t lo)
{
    WB_V t[6][6];
#pragma GCC unroll 6
    for (int j = 0; j < 6; j++) {       /* B^T along the patch rows, column j */
        WB_V col[6], r[6];
#pragma GCC unroll 6
        for (int i = 0; i < 6; i++)
            col[i] = wb_load(q + (6 * i + j) * WB_QL);
        wb_bt(col, r);
#pragma GCC unroll 6
        for (int i = 0; i < 6; i++)
            t[i][j] = r[i];
    }
    if (lo == 0) {
#pragma GCC unroll 6
        for (int r = 0; r < 6; r++) {   /* then along the rows */
            WB_V o[6];
            wb_bt(t[r], o);
#pragma GCC unroll 6
            for (int c = 0; c < 6; c++)
                wb_store(d + (6 * r + c) * vstride, o[c]);
        }
        return;
    }
    WB_I mask = wb_lanes(lo, WB_W);
#pragma GCC unroll 6
    for (int r = 0; r < 6; r++) {
        WB_V o[6];
        wb_bt(t[r], o);
#pragma GCC unroll 6
        for (int c = 0; c < 6; c++) {
            float *dst = d + (6 * r + c) * vstride;
            wb_store(dst, wb_select(mask, o[c], wb_load(dst)));
        }
    }
}

/* Vectors are aligned to WB_W packed columns (nr is a multiple of WB_W, so
 * a vector never straddles two panels). A vector that starts before col0
 * keeps the lanes before it (an earlier image's tiles); lanes past the
 * range get values that the next image's first vector or
 * nn_wino_input_pad overwrites. */
void WB_INPUT(const nn_sgemm_kernel *k, const nn_wino_geom *g, const float *x, int64_t t0,
              int64_t nt, int64_t col0, float *v, int64_t vstride, float *buf)
{
    int64_t nr = k->nr, pstride = g->C * nr, rf = wb_row_floats(g);
    float *q = buf, *rp = q + 36 * WB_QL, *rz = rp + rf;
    memset(buf, 0, (size_t)(36 * WB_QL + 2 * rf) * sizeof(float));
    for (int64_t d0 = 0; d0 < nt; d0 += WB_QB) {
        int64_t n = nt - d0 < WB_QB ? nt - d0 : WB_QB, col = col0 + d0, s = col % WB_W;
        for (int64_t c = 0; c < g->C; c++) {
            wb_patches(g, x + c * g->H * g->W, t0 + d0, n, s, q, rp, rz);
            for (int64_t u = 0; u < s + n; u += WB_W) {
                int64_t vc = col - s + u;
                wb_input_vec(q + WB_W + u, v + (vc / nr) * pstride + c * nr + vc % nr, vstride,
                             u == 0 ? s : 0);
            }
        }
    }
}

/* Output tiles of the WB_W tiles whose 36 values start at q (matrix xi at q
 * + xi * mstride): writes row r of their 4x4 output tiles, one tile after
 * the other, to yr + r * LY (4 WB_W floats). */
static void wb_output_vec(const float *q, int64_t mstride, int64_t LY, float *yr)
{
    WB_V t[4][6];
#pragma GCC unroll 6
    for (int j = 0; j < 6; j++) {       /* A^T along the rows of M, column j */
        WB_V col[6], r[4];
#pragma GCC unroll 6
        for (int i = 0; i < 6; i++)
            col[i] = wb_load(q + (6 * i + j) * mstride);
        wb_at(col, r);
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++)
            t[i][j] = r[i];
    }
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {       /* then along the columns */
        WB_V o[4];
        wb_at(t[r], o);
        WB_MERGE4(o, yr + r * LY);
    }
}

/* y[0, n) = epi(src[0, n)) for output channel o at plane offset off. */
static void wb_store_epi(const nn_sgemm_epi *ep, int64_t o, int64_t off, const float *src,
                         float *y, int64_t n)
{
    float bias = ep->bias_m ? ep->bias_m[o] : 0.0f;
    const float *res = ep->res ? ep->res + o * ep->ldr + off : NULL;
    WB_V vb = WB_SET1(bias), lo = WB_SET1(ep->lo), hi = WB_SET1(ep->hi);
    int64_t i = 0;
    for (; i + WB_W <= n; i += WB_W) {
        WB_V v = wb_load(src + i) + vb;
        if (res)
            v += wb_load(res + i);
        if (ep->clamp) {
            v = wb_select(v < lo, lo, v);
            v = wb_select(v > hi, hi, v);
        }
        wb_store(y + i, v);
    }
    for (; i < n; i++) {
        float v = src[i] + bias;
        if (res)
            v += res[i];
        if (ep->clamp) {
            v = v < ep->lo ? ep->lo : v;
            v = v > ep->hi ? ep->hi : v;
        }
        y[i] = v;
    }
}

void WB_OUTPUT(const nn_wino_geom *g, const float *mat, int64_t mstride, int64_t ldm, int64_t ob,
               int64_t t0, int64_t nt, const nn_sgemm_epi *ep, float *y, float *buf)
{
    int64_t LY = 4 * (WB_QB + WB_W), plane = g->OH * g->OW;
    for (int64_t o = 0; o < ob; o++) {
        for (int64_t d0 = 0; d0 < nt; d0 += WB_QB) {
            int64_t n = nt - d0 < WB_QB ? nt - d0 : WB_QB, tt = t0 + d0;
            int64_t ty0 = tt / g->tw, ty1 = (tt + n - 1) / g->tw;
            /* buf [4][LY]: output row r of tile tt + u at r * LY + 4u */
            for (int64_t u = 0; u < n; u += WB_W)
                wb_output_vec(mat + o * ldm + d0 + u, mstride, LY, buf + 4 * u);
            for (int64_t ty = ty0; ty <= ty1; ty++) {
                int64_t ta, tb, oy = 4 * ty, x0, x1, u0;
                wb_row_span(g, ty, tt, n, &ta, &tb);
                u0 = ty * g->tw + ta - tt;
                x0 = 4 * ta;
                x1 = 4 * tb < g->OW ? 4 * tb : g->OW;
                for (int r = 0; r < 4 && oy + r < g->OH; r++)
                    wb_store_epi(ep, o, (oy + r) * g->OW + x0, buf + r * LY + 4 * u0,
                                 y + o * plane + (oy + r) * g->OW + x0, x1 - x0);
            }
        }
    }
}
