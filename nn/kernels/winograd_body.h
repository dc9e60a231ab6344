/* winograd_body.h — the input, output and weight transforms of F(2x2, 3x3),
 * F(4x4, 3x3) and F(2x2, 3x3) at stride 2 (see winograd.h), written once
 * over a WB_W-lane vector (lane l = tile t + l, or filter f + l) and
 * included by one file per ISA
 * (winograd_generic.c: 4 lanes of portable C; winograd_avx2.c: 8 lanes of
 * AVX2 + FMA). The 1-D transforms (G at wb_g2 / wb_g4):
 *   F(2x2): B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *           A^T = [1 1 1 0; 0 1 -1 -1]
 *   F(4x4) (points 0, 1, -1, 1/2, -2):
 *     B^T = [1 -3/2 -2 3/2 1 0; 0 -1 1/2 5/2 1 0; 0 1 -5/2 1/2 1 0;
 *            0 -2 -1 2 1 0; 0 1/2 -1 -1/2 1 0; 0 1 -3/2 -2 3/2 1]
 *     A^T = [1 1 1 1 1 0; 0 1 -1 1/2 -2 0; 0 1 1 1/4 4 0; 0 1 -1 1/8 -8 1]
 *   F(2x2) at stride 2 (s = 2; 5 x 5 patches at a step of 4, see wb_bts2):
 *     B^T = [1 0 -1 0 0; 0 0 1 0 0; 0 0 -1 0 1; 0 1 0 0 0; 0 0 0 1 0]
 *     G = [1 0 0; 1 0 1; 0 0 1; 0 1 0; 0 1 0], A^T = [1 1 0 1 0; 0 1 1 0 1]
 * For tile side m, input rows are split into their m column phases (x mod
 * m) and laid out per tile so that element (i, j) of the (m+2) x (m+2)
 * patches of WB_W consecutive tiles (also across tile rows) is one
 * unit-stride load; the output transform merges the phases back into rows.
 * The shared code takes m as a constant argument of always-inlined
 * functions, so each tile size compiles to its own straight-line code.
 * Required: WB_W, WB_V (float vector, GCC vector extension), WB_I (int32
 * vector of the same width), WB_SET1(x), WB_FMA(a, b, c) = a*b + c,
 * WB_SPLIT2(s, p) / WB_SPLIT4(s, p): p[k][l] = s[m l + k] (k < m, l < WB_W)
 * from s[0, m WB_W), WB_MERGE2(p, d) / WB_MERGE4(p, d): d[m l + k] =
 * p[k][l], WB_TAPS(w, g): g[k][l] = w[9l + k] (k < 9, l < WB_W); WB_NAME(x):
 * the name of function x for this ISA (f32_wino ## x ## _isa). */
#include <string.h>

#define WB_INLINE static inline __attribute__((always_inline))

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

/* out = B^T in, F(4x4) (6 values). */
static inline void wb_bt4(const WB_V *d, WB_V *out)
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

/* out = A^T in, F(4x4) (6 values to 4). */
static inline void wb_at4(const WB_V *m, WB_V *out)
{
    WB_V s = m[1] + m[2], d = m[1] - m[2];
    out[0] = m[0] + s + (m[3] + m[4]);
    out[1] = WB_FMA(WB_SET1(0.5f), m[3], WB_FMA(WB_SET1(-2.0f), m[4], d));
    out[2] = WB_FMA(WB_SET1(0.25f), m[3], WB_FMA(WB_SET1(4.0f), m[4], s));
    out[3] = WB_FMA(WB_SET1(0.125f), m[3], WB_FMA(WB_SET1(-8.0f), m[4], d + m[5]));
}

/* out = B^T in, F(2x2) (4 values). */
static inline void wb_bt2(const WB_V *d, WB_V *out)
{
    out[0] = d[0] - d[2];
    out[1] = d[1] + d[2];
    out[2] = d[2] - d[1];
    out[3] = d[1] - d[3];
}

/* out = A^T in, F(2x2) (4 values to 2). */
static inline void wb_at2(const WB_V *m, WB_V *out)
{
    WB_V d = m[1] - m[2];
    out[0] = m[0] + m[1] + m[2];
    out[1] = d - m[3];
}

WB_INLINE void wb_bt(int m, const WB_V *d, WB_V *out)
{
    if (m == 2)
        wb_bt2(d, out);
    else
        wb_bt4(d, out);
}

WB_INLINE void wb_at(int m, const WB_V *in, WB_V *out)
{
    if (m == 2)
        wb_at2(in, out);
    else
        wb_at4(in, out);
}

/* F(2x2, 3x3) at stride 2. Outputs 2t and 2t + 1 of a row read inputs 4t
 * + 0..4 (d0..d4, padding included): y0 = w0 d0 + w1 d1 + w2 d2, y1 = w0
 * d2 + w1 d3 + w2 d4. The even taps on the even inputs are F(2,2): with
 * m0 = (d0 - d2) w0, m1 = d2 (w0 + w2), m2 = (d4 - d2) w2, y0 = m0 + m1 +
 * w1 d1 and y1 = m1 + m2 + w1 d3; so 5 products for 2 outputs, nested 25
 * for 2 x 2 (36 direct), and the transforms only add (rounding as direct
 * convolution). out = B^T in (5 values). */
static inline void wb_bts2(const WB_V *d, WB_V *out)
{
    out[0] = d[0] - d[2];
    out[1] = d[2];
    out[2] = d[4] - d[2];
    out[3] = d[1];
    out[4] = d[3];
}

/* out = A^T in, stride 2 (5 values to 2). */
static inline void wb_ats2(const WB_V *m, WB_V *out)
{
    out[0] = m[0] + m[1] + m[3];
    out[1] = m[1] + m[2] + m[4];
}

/* out = G in, stride 2 (3 values to 5). */
static inline void wb_gs2(const WB_V *g, WB_V *out)
{
    out[0] = g[0];
    out[1] = g[0] + g[2];
    out[2] = g[2];
    out[3] = g[1];
    out[4] = g[1];
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

/* U = G g G^T of side ns (the 1-D transform gt, 3 values to ns) for WB_W
 * filters at a time (lane l: filter f + l): see nn_wino_kernel.weights. */
#define WB_WEIGHTS_BODY(ns, gt)                                                         \
    for (int64_t f = f0; f < f1; f += WB_W) {                                           \
        int64_t n = f1 - f < WB_W ? f1 - f : WB_W;                                      \
        WB_V g[9], t[ns][3];                                                            \
        wb_taps(w + f * 9, n, g);                                                       \
        _Pragma("GCC unroll 3")                                                         \
        for (int j = 0; j < 3; j++) {   /* G along the kernel rows, column j */        \
            WB_V col[3] = {g[j], g[3 + j], g[6 + j]}, r[ns];                            \
            gt(col, r);                                                                 \
            _Pragma("GCC unroll 6")                                                     \
            for (int i = 0; i < ns; i++)                                                \
                t[i][j] = r[i];                                                         \
        }                                                                               \
        _Pragma("GCC unroll 6")                                                         \
        for (int r = 0; r < ns; r++) {  /* then along the columns */                    \
            WB_V o[ns];                                                                 \
            gt(t[r], o);                                                                \
            _Pragma("GCC unroll 6")                                                     \
            for (int c = 0; c < ns; c++)                                                \
                wb_store_n(u + (ns * r + c) * ustride + f, o[c], n);                    \
        }                                                                               \
    }

void WB_NAME(4_weights)(const float *w, int64_t f0, int64_t f1, float *u, int64_t ustride)
{
    WB_WEIGHTS_BODY(6, wb_g4)
}

void WB_NAME(2_weights)(const float *w, int64_t f0, int64_t f1, float *u, int64_t ustride)
{
    WB_WEIGHTS_BODY(4, wb_g2)
}

void WB_NAME(2s2_weights)(const float *w, int64_t f0, int64_t f1, float *u, int64_t ustride)
{
    WB_WEIGHTS_BODY(5, wb_gs2)
}

/* Tiles per sub-range of a call: the patch arrays of one channel stay in L1. */
#define WB_QB (8 * WB_W)
/* Length of one patch array: WB_W of front room (entry -1 is written),
 * WB_QB tiles, the lanes of a first vector before the range and of the
 * last vectors after it. */
#define WB_QL (WB_QB + 3 * WB_W)

/* Floats of a padded input row: its m (tw + WB_W) columns cover every
 * vector read of wb_patches. */
static int64_t wb_row_floats(int m, const nn_wino_geom *g)
{
    return m * (g->tw + WB_W);
}

/* Stride s: patches at a step of pm (m, or 4 for stride 2: wb_bts2). */
WB_INLINE int wb_step(int m, int s)
{
    return s == 2 ? 4 : m;
}

WB_INLINE int64_t wb_buf_floats(int m, int s, const nn_wino_geom *g)
{
    int pm = wb_step(m, s);
    int64_t in = (pm + 2) * (pm + 2) * WB_QL + (pm + 3) * wb_row_floats(pm, g);
    int64_t out = m * m * (WB_QB + WB_W);
    return in > out ? in : out;
}

int64_t WB_NAME(4_buf_floats)(const nn_wino_geom *g)
{
    return wb_buf_floats(4, 1, g);
}

int64_t WB_NAME(2_buf_floats)(const nn_wino_geom *g)
{
    return wb_buf_floats(2, 1, g);
}

int64_t WB_NAME(2s2_buf_floats)(const nn_wino_geom *g)
{
    return wb_buf_floats(2, 2, g);
}

/* d[0, n) = s[0, n), inline: the input transform copies up to 6 rows of
 * 7-56 floats per channel and tile row, for which a memcpy call cost
 * more than the copy (1.8% of ResNet18 at 1 thread in __memmove). Writes
 * nothing outside d[0, n). */
static inline void wb_copy_row(float *d, const float *s, int64_t n)
{
    int64_t i = 0;
    if (n < WB_W) {
        for (; i < n; i++)
            d[i] = s[i];
        return;
    }
    for (; i + WB_W <= n; i += WB_W)
        wb_store(d + i, wb_load(s + i));
    if (i < n)
        wb_store(d + n - WB_W, wb_load(s + n - WB_W));
}

/* The tile columns [*a, *b) of tile row ty inside tiles [t0, t0 + nt). */
static void wb_row_span(const nn_wino_geom *g, int64_t ty, int64_t t0, int64_t nt, int64_t *a,
                        int64_t *b)
{
    int64_t first = ty * g->tw, last = first + g->tw;
    *a = (t0 > first ? t0 : first) - first;
    *b = (t0 + nt < last ? t0 + nt : last) - first;
}

/* Patch arrays of channel plane xc for tiles [t0, t0 + n) (n <= WB_QB),
 * tile step m, patch side m + 2 (rows [0, ps) filled: stride 2 reads 5 of
 * F(4x4)'s 6): q[((m + 2) i + j) * WB_QL + WB_W + s + u]
 * = d_u(i, j), the patch of tile t0 + u (x(m ty - pt + i, m tx - pl + j),
 * zero outside the image), so that one vector load gives WB_W consecutive
 * tiles even across tile rows. Per tile row: zero-padded copies of its m +
 * 2 input rows (rp [m + 2][rf], rz: zeros; rf = wb_row_floats), all made
 * before the first is read back (a vector load right after the copy's
 * narrower stores would stall), each split into its m column phases (WB_W
 * tiles at a time); patch columns m and m + 1 are phases 0 and 1 of the
 * next tile. */
WB_INLINE void wb_patches(int m, int ps, const nn_wino_geom *g, const float *xc, int64_t t0,
                          int64_t n, int64_t s, float *q, float *rp, const float *rz)
{
    int64_t ty0 = t0 / g->tw, ty1 = (t0 + n - 1) / g->tw, rf = wb_row_floats(m, g);
    for (int64_t ty = ty0; ty <= ty1; ty++) {
        int64_t ta, tb, qa, nch;
        const float *rows[6];
        wb_row_span(g, ty, t0, n, &ta, &tb);
        qa = WB_W + s + ty * g->tw + ta - t0;   /* array index of tile ta */
        nch = (tb + 1 - ta + WB_W - 1) / WB_W;  /* tiles ta .. tb (tb: columns m, m + 1) */
        for (int i = 0; i < ps; i++) {
            int64_t iy = m * ty - g->pt + i;
            rows[i] = rz;
            if (iy >= 0 && iy < g->H) {
                wb_copy_row(rp + i * rf + g->pl, xc + iy * g->W, g->W);
                rows[i] = rp + i * rf;
            }
        }
        for (int i = 0; i < ps; i++) {
            float *qi = q + (m + 2) * i * WB_QL, *qm = qi + m * WB_QL + qa - 1;
            float keep0 = qm[0], keep1 = qm[WB_QL];
            for (int64_t ch = 0; ch < nch; ch++) {
                int64_t tx = ta + ch * WB_W, at = qa + ch * WB_W;
                WB_V p[4];
                if (m == 2)
                    WB_SPLIT2(rows[i] + 2 * tx, p);
                else
                    WB_SPLIT4(rows[i] + 4 * tx, p);
#pragma GCC unroll 4
                for (int k = 0; k < m; k++)
                    wb_store(qi + k * WB_QL + at, p[k]);
                wb_store(qi + m * WB_QL + at - 1, p[0]);
                wb_store(qi + (m + 1) * WB_QL + at - 1, p[1]);
            }
            /* entry qa - 1 of columns m, m + 1 is the previous row's last tile */
            qm[0] = keep0;
            qm[WB_QL] = keep1;
        }
    }
}

/* B^T in for tile side m at stride s. */
WB_INLINE void wb_bt_s(int m, int s, const WB_V *in, WB_V *out)
{
    if (s == 2)
        wb_bts2(in, out);
    else
        wb_bt(m, in, out);
}

/* Transforms the WB_W tiles of the patch arrays at q (array xi' at q + xi'
 * * WB_QL) and stores lanes [lo, WB_W) of the n6^2 results (n6 = m + 2, 5
 * at stride 2) at d + xi * vstride (lanes below lo keep their values). */
WB_INLINE void wb_input_vec(int m, int s, const float *q, float *d, int64_t vstride, int64_t lo)
{
    const int n6 = s == 2 ? 5 : m + 2, na = wb_step(m, s) + 2;
    WB_V t[6][6];
    WB_I mask;
#pragma GCC unroll 6
    for (int j = 0; j < n6; j++) {      /* B^T along the patch rows, column j */
        WB_V col[6], r[6];
#pragma GCC unroll 6
        for (int i = 0; i < n6; i++)
            col[i] = wb_load(q + (na * i + j) * WB_QL);
        wb_bt_s(m, s, col, r);
#pragma GCC unroll 6
        for (int i = 0; i < n6; i++)
            t[i][j] = r[i];
    }
    if (lo == 0) {
#pragma GCC unroll 6
        for (int r = 0; r < n6; r++) {  /* then along the rows */
            WB_V o[6];
            wb_bt_s(m, s, t[r], o);
#pragma GCC unroll 6
            for (int c = 0; c < n6; c++)
                wb_store(d + (n6 * r + c) * vstride, o[c]);
        }
        return;
    }
    mask = wb_lanes(lo, WB_W);
#pragma GCC unroll 6
    for (int r = 0; r < n6; r++) {
        WB_V o[6];
        wb_bt_s(m, s, t[r], o);
#pragma GCC unroll 6
        for (int c = 0; c < n6; c++) {
            float *dst = d + (n6 * r + c) * vstride;
            wb_store(dst, wb_select(mask, o[c], wb_load(dst)));
        }
    }
}

/* Vectors are aligned to WB_W packed columns (nr is a multiple of WB_W, so
 * a vector never straddles two panels). A vector that starts before col0
 * keeps the lanes before it (an earlier image's tiles); lanes past the
 * range get values that the next image's first vector or
 * nn_wino_input_pad overwrites. */
WB_INLINE void wb_input(int m, int st, const nn_sgemm_kernel *k, const nn_wino_geom *g,
                        const float *x, int64_t t0, int64_t nt, int64_t col0, float *v,
                        int64_t vstride, float *buf)
{
    const int pm = wb_step(m, st);
    int64_t nr = k->nr, pstride = g->C * nr, rf = wb_row_floats(pm, g);
    int64_t qf = (pm + 2) * (pm + 2) * WB_QL;
    float *q = buf, *rp = q + qf, *rz = rp + (pm + 2) * rf;
    memset(buf, 0, (size_t)(qf + (pm + 3) * rf) * sizeof(float));
    for (int64_t d0 = 0; d0 < nt; d0 += WB_QB) {
        int64_t n = nt - d0 < WB_QB ? nt - d0 : WB_QB, col = col0 + d0, s = col % WB_W;
        for (int64_t c = g->c0; c < g->c1; c++) {
            wb_patches(pm, st == 2 ? 5 : pm + 2, g, x + c * g->H * g->W, t0 + d0, n, s, q, rp,
                       rz);
            for (int64_t u = 0; u < s + n; u += WB_W) {
                int64_t vc = col - s + u;
                wb_input_vec(m, st, q + WB_W + u, v + (vc / nr) * pstride + c * nr + vc % nr,
                             vstride, u == 0 ? s : 0);
            }
        }
    }
}

void WB_NAME(4_input)(const nn_sgemm_kernel *k, const nn_wino_geom *g, const float *x, int64_t t0,
                      int64_t nt, int64_t col0, float *v, int64_t vstride, float *buf)
{
    wb_input(4, 1, k, g, x, t0, nt, col0, v, vstride, buf);
}

void WB_NAME(2_input)(const nn_sgemm_kernel *k, const nn_wino_geom *g, const float *x, int64_t t0,
                      int64_t nt, int64_t col0, float *v, int64_t vstride, float *buf)
{
    wb_input(2, 1, k, g, x, t0, nt, col0, v, vstride, buf);
}

void WB_NAME(2s2_input)(const nn_sgemm_kernel *k, const nn_wino_geom *g, const float *x,
                        int64_t t0, int64_t nt, int64_t col0, float *v, int64_t vstride,
                        float *buf)
{
    wb_input(2, 2, k, g, x, t0, nt, col0, v, vstride, buf);
}

/* A^T in for tile side m at stride s. */
WB_INLINE void wb_at_s(int m, int s, const WB_V *in, WB_V *out)
{
    if (s == 2)
        wb_ats2(in, out);
    else
        wb_at(m, in, out);
}

/* Output tiles of the WB_W tiles whose n6^2 values (n6 = m + 2, 5 at
 * stride 2) start at q (matrix xi at q + xi * mstride): writes row r of
 * their m x m output tiles, one tile after the other, to yr + r * LY (m
 * WB_W floats). */
WB_INLINE void wb_output_vec(int m, int s, const float *q, int64_t mstride, int64_t LY, float *yr)
{
    const int n6 = s == 2 ? 5 : m + 2;
    WB_V t[4][6];
#pragma GCC unroll 6
    for (int j = 0; j < n6; j++) {      /* A^T along the rows of M, column j */
        WB_V col[6], r[4];
#pragma GCC unroll 6
        for (int i = 0; i < n6; i++)
            col[i] = wb_load(q + (n6 * i + j) * mstride);
        wb_at_s(m, s, col, r);
#pragma GCC unroll 4
        for (int i = 0; i < m; i++)
            t[i][j] = r[i];
    }
#pragma GCC unroll 4
    for (int r = 0; r < m; r++) {       /* then along the columns */
        WB_V o[4];
        wb_at_s(m, s, t[r], o);
        if (m == 2)
            WB_MERGE2(o, yr + r * LY);
        else
            WB_MERGE4(o, yr + r * LY);
    }
}

/* y[0, n) = epi(src[0, n)) for output channel o at plane offset off. */
WB_INLINE void wb_store_epi(const nn_sgemm_epi *ep, int64_t o, int64_t off, const float *src,
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

WB_INLINE void wb_output(int m, int s, const nn_wino_geom *g, const float *mat, int64_t mstride,
                         int64_t ldm, int64_t ob, int64_t t0, int64_t nt, const nn_sgemm_epi *ep,
                         float *y, float *buf)
{
    int64_t LY = m * (WB_QB + WB_W), plane = g->OH * g->OW;
    for (int64_t o = 0; o < ob; o++) {
        for (int64_t d0 = 0; d0 < nt; d0 += WB_QB) {
            int64_t n = nt - d0 < WB_QB ? nt - d0 : WB_QB, tt = t0 + d0;
            int64_t ty0 = tt / g->tw, ty1 = (tt + n - 1) / g->tw;
            /* buf [m][LY]: output row r of tile tt + u at r * LY + m u */
            for (int64_t u = 0; u < n; u += WB_W)
                wb_output_vec(m, s, mat + o * ldm + d0 + u, mstride, LY, buf + m * u);
            for (int64_t ty = ty0; ty <= ty1; ty++) {
                int64_t ta, tb, oy = m * ty, x0, x1, u0;
                wb_row_span(g, ty, tt, n, &ta, &tb);
                u0 = ty * g->tw + ta - tt;
                x0 = m * ta;
                x1 = m * tb < g->OW ? m * tb : g->OW;
                for (int r = 0; r < m && oy + r < g->OH; r++)
                    wb_store_epi(ep, o, (oy + r) * g->OW + x0, buf + r * LY + m * u0,
                                 y + o * plane + (oy + r) * g->OW + x0, x1 - x0);
            }
        }
    }
}

void WB_NAME(4_output)(const nn_wino_geom *g, const float *mat, int64_t mstride, int64_t ldm,
                       int64_t ob, int64_t t0, int64_t nt, const nn_sgemm_epi *ep, float *y,
                       float *buf)
{
    wb_output(4, 1, g, mat, mstride, ldm, ob, t0, nt, ep, y, buf);
}

void WB_NAME(2_output)(const nn_wino_geom *g, const float *mat, int64_t mstride, int64_t ldm,
                       int64_t ob, int64_t t0, int64_t nt, const nn_sgemm_epi *ep, float *y,
                       float *buf)
{
    wb_output(2, 1, g, mat, mstride, ldm, ob, t0, nt, ep, y, buf);
}

void WB_NAME(2s2_output)(const nn_wino_geom *g, const float *mat, int64_t mstride, int64_t ldm,
                         int64_t ob, int64_t t0, int64_t nt, const nn_sgemm_epi *ep, float *y,
                         float *buf)
{
    wb_output(2, 2, g, mat, mstride, ldm, ob, t0, nt, ep, y, buf);
}
