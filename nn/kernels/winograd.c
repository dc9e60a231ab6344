/* winograd.c — the F(2x2, 3x3) and F(4x4, 3x3) transforms (see
 * winograd.h), portable C with 4-lane vectors across 4 tiles of one tile
 * row. An input row is split into m phases (phase r holds columns
 * m*j + r) so that patch column q of consecutive tiles is unit-stride.
 *   F(2): B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],
 *         G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1], A^T = [1 1 1 0; 0 1 -1 -1]
 *   F(4): the Lavin-Gray matrices with points 0, +-1, +-2 (see bt4/at4/G4). */
#include "nn/kernels/winograd.h"

#include <string.h>

typedef float wv4 __attribute__((vector_size(16)));
typedef int32_t wi4 __attribute__((vector_size(16)));

static inline wv4 wv_load(const float *p)
{
    wv4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void wv_store(float *p, wv4 v)
{
    memcpy(p, &v, sizeof v);
}

static inline wv4 wv_set1(float x)
{
    return (wv4){x, x, x, x};
}

/* lane-wise mask ? a : b */
static inline wv4 wv_select(wi4 mask, wv4 a, wv4 b)
{
    return (wv4)(((wi4)a & mask) | ((wi4)b & ~mask));
}

void nn_wino_geom_tiles(nn_wino_geom *g)
{
    g->th = (g->OH + g->m - 1) / g->m;
    g->tw = (g->OW + g->m - 1) / g->m;
}

int nn_wino_positions(int m)
{
    return (m + 2) * (m + 2);
}

void nn_wino_weights(int m, const float *w, int64_t O, int64_t C, float *u)
{
    static const double G2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
    static const double G4[6][3] = {{1.0 / 4, 0, 0},
                                    {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                    {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                    {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                    {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                    {0, 0, 1}};
    const double(*G)[3] = m == 4 ? G4 : G2;
    int a = m + 2;
    for (int64_t o = 0; o < O; o++)
        for (int64_t c = 0; c < C; c++) {
            const float *g = w + (o * C + c) * 9;
            double t[6][3];             /* G g */
            for (int i = 0; i < a; i++)
                for (int j = 0; j < 3; j++)
                    t[i][j] = G[i][0] * g[j] + G[i][1] * g[3 + j] + G[i][2] * g[6 + j];
            for (int i = 0; i < a; i++)
                for (int j = 0; j < a; j++)
                    u[((int64_t)(i * a + j) * O + o) * C + c] =
                        (float)(t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2]);
        }
}

/* Room for one tile row plus a vector's overrun. */
static int64_t row_len(const nn_wino_geom *g)
{
    return (g->tw + 8) / 4 * 4;
}

int64_t nn_wino_buf_floats(const nn_wino_geom *g)
{
    int a = g->m + 2;
    return (int64_t)(a * g->m + a * a) * row_len(g);
}

/* Writes vals[0..n) into consecutive columns of one row of a packed
 * matrix (panel layout of sgemm.h): d points at the first column's slot,
 * `in` is that column's lane in its panel, pstride the floats per panel. */
static void pack_seg(int64_t nr, int64_t pstride, int64_t in, const float *vals, int64_t n,
                     float *d)
{
    while (n > 0) {
        int64_t len = nr - in < n ? nr - in : n, i = 0;
        for (; i + 4 <= len; i += 4)
            wv_store(d + i, wv_load(vals + i));
        for (; i < len; i++)
            d[i] = vals[i];
        vals += len;
        n -= len;
        d += pstride - in;
        in = 0;
    }
}

/* The tile columns [*a, *b) of tile row ty inside tiles [t0, t0 + nt). */
static void row_span(const nn_wino_geom *g, int64_t ty, int64_t t0, int64_t nt, int64_t *a,
                     int64_t *b)
{
    int64_t first = ty * g->tw, last = first + g->tw;
    *a = (t0 > first ? t0 : first) - first;
    *b = (t0 + nt < last ? t0 + nt : last) - first;
}

/* ph[r * L + j] = x(iy, m*j + r - pl) for phases r < m and j in [a, b],
 * zero outside the image; the interior columns copy without checks. */
static void split_row(const nn_wino_geom *g, const float *xc, int64_t iy, int64_t a, int64_t b,
                      float *ph, int64_t L)
{
    int m = g->m;
    const float *row = xc + iy * g->W;
    int64_t j0 = (g->pl + m - 1) / m, j1 = g->W - m + g->pl < 0 ? -1 : (g->W - m + g->pl) / m;
    int64_t ja = a > j0 ? a : j0, jb = b < j1 ? b : j1;
    if (iy < 0 || iy >= g->H) {
        for (int r = 0; r < m; r++)
            memset(ph + r * L + a, 0, (size_t)(b - a + 1) * sizeof(float));
        return;
    }
    if (ja > jb)
        ja = jb = b + 1;                /* no interior: all checked */
    for (int r = 0; r < m; r++) {
        float *p = ph + r * L;
        const float *src = row + r - g->pl;
        int64_t j = a;
        for (; j < ja; j++) {
            int64_t ix = m * j + r - g->pl;
            p[j] = ix >= 0 && ix < g->W ? row[ix] : 0.0f;
        }
        for (; j <= jb && j <= b; j++)
            p[j] = src[m * j];
        for (; j <= b; j++) {
            int64_t ix = m * j + r - g->pl;
            p[j] = ix >= 0 && ix < g->W ? row[ix] : 0.0f;
        }
    }
}

/* 1-D F(2) input transform of a column of 4: d0 - d2, d1 + d2, d2 - d1, d1 - d3. */
static inline void bt2(const wv4 *d, int ds, wv4 *v, int vs)
{
    v[0] = d[0] - d[2 * ds];
    v[vs] = d[ds] + d[2 * ds];
    v[2 * vs] = d[2 * ds] - d[ds];
    v[3 * vs] = d[ds] - d[3 * ds];
}

/* 1-D F(4) input transform B^T d of 6 values (stride ds) into v (stride vs). */
static inline void bt4(const wv4 *d, int ds, wv4 *v, int vs)
{
    wv4 d0 = d[0], d1 = d[ds], d2 = d[2 * ds], d3 = d[3 * ds], d4 = d[4 * ds], d5 = d[5 * ds];
    wv4 c4 = wv_set1(4.0f), c5 = wv_set1(5.0f), c2 = wv_set1(2.0f);
    v[0] = c4 * d0 - c5 * d2 + d4;
    v[vs] = d4 + d3 - c4 * (d1 + d2);
    v[2 * vs] = d4 - d3 + c4 * (d1 - d2);
    v[3 * vs] = d4 - d2 + c2 * (d3 - d1);
    v[4 * vs] = d4 - d2 - c2 * (d3 - d1);
    v[5 * vs] = c4 * d1 - c5 * d3 + d5;
}

/* The transformed tiles [tx, tx + 4) of tile row phases ph (a rows of m
 * phases, [row][phase][L]) into vr [pos][L]. Inlined per constant m so
 * that every loop unrolls. */
static inline __attribute__((always_inline)) void input_chunk(int m, const float *ph, int64_t L,
                                                              int64_t tx, float *vr)
{
    int a = m + 2;
    wv4 d[36], t[36], v[36];
#pragma GCC unroll 6
    for (int i = 0; i < a; i++)
#pragma GCC unroll 6
        for (int q = 0; q < a; q++)     /* patch column q: phase q % m of tile tx + q / m */
            d[i * a + q] = wv_load(ph + (i * m + q % m) * L + tx + q / m);
#pragma GCC unroll 6
    for (int q = 0; q < a; q++) {       /* columns: B^T d */
        if (m == 4)
            bt4(d + q, a, t + q, a);
        else
            bt2(d + q, a, t + q, a);
    }
#pragma GCC unroll 6
    for (int k = 0; k < a; k++) {       /* rows: (B^T d) B */
        if (m == 4)
            bt4(t + k * a, 1, v + k * a, 1);
        else
            bt2(t + k * a, 1, v + k * a, 1);
    }
#pragma GCC unroll 36
    for (int xi = 0; xi < a * a; xi++)
        wv_store(vr + xi * L + tx, v[xi]);
}

static void input_chunks2(const float *ph, int64_t L, int64_t ta, int64_t tb, float *vr)
{
    for (int64_t tx = ta; tx < tb; tx += 4)
        input_chunk(2, ph, L, tx, vr);
}

static void input_chunks4(const float *ph, int64_t L, int64_t ta, int64_t tb, float *vr)
{
    for (int64_t tx = ta; tx < tb; tx += 4)
        input_chunk(4, ph, L, tx, vr);
}

void nn_wino_input(const nn_sgemm_kernel *k, const nn_wino_geom *g, const float *x, int64_t t0,
                   int64_t nt, float *v, int64_t vstride, float *buf)
{
    int m = g->m, a = m + 2, pos = a * a;
    int64_t L = row_len(g), nr = k->nr, ntp = (nt + nr - 1) / nr * nr, pstride = g->C * nr;
    float *ph = buf, *vr = buf + a * m * L;     /* [a][m][L], [pos][L] */
    int64_t ty0 = t0 / g->tw, ty1 = (t0 + nt - 1) / g->tw;
    for (int64_t ty = ty0; ty <= ty1; ty++) {
        int64_t ta, tb, col;
        row_span(g, ty, t0, nt, &ta, &tb);
        col = ty * g->tw + ta - t0;             /* packed column of tile ta */
        for (int64_t c = 0; c < g->C; c++) {
            const float *xc = x + c * g->H * g->W;
            float *d = v + (col / nr) * pstride + c * nr + col % nr;
            for (int i = 0; i < a; i++)
                split_row(g, xc, m * ty - g->pt + i, ta, tb, ph + i * m * L, L);
            if (m == 4)
                input_chunks4(ph, L, ta, tb, vr);
            else
                input_chunks2(ph, L, ta, tb, vr);
            for (int xi = 0; xi < pos; xi++)
                pack_seg(nr, pstride, col % nr, vr + xi * L + ta, tb - ta, d + xi * vstride);
        }
    }
    for (int xi = 0; xi < pos && ntp > nt; xi++)        /* zero pad columns */
        for (int64_t c = 0; c < g->C; c++)
            memset(v + xi * vstride + (nt / nr) * pstride + c * nr + nt % nr, 0,
                   (size_t)(ntp - nt) * sizeof(float));
}

/* 1-D F(2) output transform of 4 values: m0 + m1 + m2, m1 - m2 - m3. */
static inline void at2(const wv4 *q, int qs, wv4 *y, int ys)
{
    y[0] = q[0] + q[qs] + q[2 * qs];
    y[ys] = q[qs] - q[2 * qs] - q[3 * qs];
}

/* 1-D F(4) output transform A^T q of 6 values. */
static inline void at4(const wv4 *q, int qs, wv4 *y, int ys)
{
    wv4 p12 = q[qs] + q[2 * qs], m12 = q[qs] - q[2 * qs];
    wv4 p34 = q[3 * qs] + q[4 * qs], m34 = q[3 * qs] - q[4 * qs];
    y[0] = q[0] + p12 + p34;
    y[ys] = m12 + wv_set1(2.0f) * m34;
    y[2 * ys] = p12 + wv_set1(4.0f) * p34;
    y[3 * ys] = m12 + wv_set1(8.0f) * m34 + q[5 * qs];
}

/* Output tiles of a chunk of 4: q [pos] vectors -> yr [m*m][L] at tx.
 * Inlined per constant m. */
static inline __attribute__((always_inline)) void output_chunk(int m, const wv4 *q, int64_t L,
                                                               int64_t tx, float *yr)
{
    int a = m + 2;
    wv4 s[24], y[16];
#pragma GCC unroll 6
    for (int j = 0; j < a; j++) {       /* columns: A^T q */
        if (m == 4)
            at4(q + j, a, s + j, a);
        else
            at2(q + j, a, s + j, a);
    }
#pragma GCC unroll 4
    for (int k = 0; k < m; k++) {       /* rows: (A^T q) A */
        if (m == 4)
            at4(s + k * a, 1, y + k * m, 1);
        else
            at2(s + k * a, 1, y + k * m, 1);
    }
#pragma GCC unroll 16
    for (int i = 0; i < m * m; i++)
        wv_store(yr + i * L + tx, y[i]);
}

/* Loads the pos matrices' values of tiles [tx, tx + n) (n <= 4, the rest
 * zero) at index base of mat and transforms them. */
static inline __attribute__((always_inline)) void output_load(int m, const float *mat,
                                                              int64_t mstride, int64_t base,
                                                              int64_t tx, int64_t n, int64_t L,
                                                              float *yr)
{
    int pos = (m + 2) * (m + 2);
    wv4 q[36];
    if (n == 4) {
#pragma GCC unroll 36
        for (int xi = 0; xi < pos; xi++)
            q[xi] = wv_load(mat + base + xi * mstride + tx);
    } else {
        for (int xi = 0; xi < pos; xi++) {
            float t[4] = {0, 0, 0, 0};
            for (int64_t i = 0; i < n; i++)
                t[i] = mat[base + xi * mstride + tx + i];
            q[xi] = wv_load(t);
        }
    }
    output_chunk(m, q, L, tx, yr);
}

static void output_row2(const float *mat, int64_t mstride, int64_t base, int64_t ta, int64_t tb,
                        int64_t L, float *yr)
{
    for (int64_t tx = ta; tx < tb; tx += 4)
        output_load(2, mat, mstride, base, tx, tb - tx < 4 ? tb - tx : 4, L, yr);
}

static void output_row4(const float *mat, int64_t mstride, int64_t base, int64_t ta, int64_t tb,
                        int64_t L, float *yr)
{
    for (int64_t tx = ta; tx < tb; tx += 4)
        output_load(4, mat, mstride, base, tx, tb - tx < 4 ? tb - tx : 4, L, yr);
}

/* The epilogue over n contiguous outputs of channel row o at plane offset off. */
static void row_epi(const nn_sgemm_epi *ep, int64_t o, int64_t off, float *y, int64_t n)
{
    float bias = ep->bias_m ? ep->bias_m[o] : 0.0f;
    const float *res = ep->res ? ep->res + o * ep->ldr + off : NULL;
    wv4 vb = wv_set1(bias), lo = wv_set1(ep->lo), hi = wv_set1(ep->hi);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        wv4 v = wv_load(y + i) + vb;
        if (res)
            v += wv_load(res + i);
        if (ep->clamp) {
            v = wv_select(v < lo, lo, v);
            v = wv_select(v > hi, hi, v);
        }
        wv_store(y + i, v);
    }
    for (; i < n; i++) {
        float v = y[i] + bias;
        if (res)
            v += res[i];
        if (ep->clamp) {
            v = v < ep->lo ? ep->lo : v;
            v = v > ep->hi ? ep->hi : v;
        }
        y[i] = v;
    }
}

void nn_wino_output(const nn_wino_geom *g, const float *mat, int64_t mstride, int64_t ob,
                    int64_t t0, int64_t nt, const nn_sgemm_epi *ep, float *y, float *buf)
{
    int m = g->m;
    int64_t L = row_len(g), plane = g->OH * g->OW;
    int64_t ty0 = t0 / g->tw, ty1 = (t0 + nt - 1) / g->tw;
    float *yr = buf;                    /* [m*m][L]: output (r, l) of each tile */
    for (int64_t o = 0; o < ob; o++) {
        for (int64_t ty = ty0; ty <= ty1; ty++) {
            int64_t ta, tb, tx, oy = m * ty;
            int64_t base = o * nt + ty * g->tw - t0;    /* M index of tile (ty, 0) */
            row_span(g, ty, t0, nt, &ta, &tb);
            if (m == 4)
                output_row4(mat, mstride, base, ta, tb, L, yr);
            else
                output_row2(mat, mstride, base, ta, tb, L, yr);
            for (int r = 0; r < m && oy + r < g->OH; r++) {
                float *row = y + o * plane + (oy + r) * g->OW;
                int64_t x0 = m * ta, x1 = m * tb < g->OW ? m * tb : g->OW;
                int64_t tf = g->OW / m < tb ? g->OW / m : tb;  /* tiles wholly inside */
                for (int l = 0; l < m; l++) {
                    const float *src = yr + (m * r + l) * L;
                    for (tx = ta; tx < tf; tx++)
                        row[m * tx + l] = src[tx];
                    for (tx = tf > ta ? tf : ta; tx < tb; tx++)
                        if (m * tx + l < g->OW)
                            row[m * tx + l] = src[tx];
                }
                row_epi(ep, o, (oy + r) * g->OW + x0, row + x0, x1 - x0);
            }
        }
    }
}
