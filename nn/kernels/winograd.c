/* winograd.c — the F(2x2, 3x3) input and output transforms (see
 * winograd.h), portable C with 4-lane vectors across 4 tiles of one tile
 * row, and the table that picks the transforms per tile size and ISA (the
 * weight transforms of both sizes are in winograd4_body.h):
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *   G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
 *   A^T = [1 1 1 0; 0 1 -1 -1]
 * An input row is split into its even and odd columns so that the patch
 * columns 2tx .. 2tx+3 of consecutive tiles are unit-stride loads. */
#include "nn/kernels/winograd.h"

#include <string.h>

typedef float wv4 __attribute__((vector_size(16)));
typedef int32_t wi4 __attribute__((vector_size(16)));

#if defined(__clang__)
#define WV_EVEN(a, b) __builtin_shufflevector((a), (b), 0, 2, 4, 6)
#define WV_ODD(a, b) __builtin_shufflevector((a), (b), 1, 3, 5, 7)
#else
#define WV_EVEN(a, b) __builtin_shuffle((a), (b), (wi4){0, 2, 4, 6})
#define WV_ODD(a, b) __builtin_shuffle((a), (b), (wi4){1, 3, 5, 7})
#endif

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

#define F2_POS 16               /* positions of the 4x4 transformed tile */

/* The transforms by tile size and ISA. Columns: name, m, positions,
 * weights, row buffer, input, output ("f32_wino2_avx2": the AVX2 weight
 * transform with the portable F(2x2) input and output). */
static const nn_wino_kernel wino2[2] = {
    {"f32_wino2_generic", 2, F2_POS, f32_wino2_weights_generic, f32_wino2_buf_floats,
     f32_wino2_input_generic, f32_wino2_output_generic},
    {"f32_wino2_avx2", 2, F2_POS, f32_wino2_weights_avx2, f32_wino2_buf_floats,
     f32_wino2_input_generic, f32_wino2_output_generic},
};
static const nn_wino_kernel wino4[2] = {
    {"f32_wino4_generic", 4, 36, f32_wino4_weights_generic, f32_wino4_buf_floats_generic,
     f32_wino4_input_generic, f32_wino4_output_generic},
    {"f32_wino4_avx2", 4, 36, f32_wino4_weights_avx2, f32_wino4_buf_floats_avx2,
     f32_wino4_input_avx2, f32_wino4_output_avx2},
};

const nn_wino_kernel *nn_wino_kernel_for(int m, nn_isa isa)
{
    int avx2 = isa >= NN_ISA_AVX2 && isa < NN_ISA_COUNT && nn_isa_supported(NN_ISA_AVX2);
    if (m == 2)
        return &wino2[avx2];
    if (m == 4)
        return &wino4[avx2];
    return NULL;
}

void nn_wino_geom_tiles(nn_wino_geom *g)
{
    g->th = (g->OH + g->m - 1) / g->m;
    g->tw = (g->OW + g->m - 1) / g->m;
}

void nn_wino_input_pad(const nn_sgemm_kernel *k, int pos, int64_t C, int64_t cols, float *v,
                       int64_t vstride)
{
    int64_t nr = k->nr, pad = (nr - cols % nr) % nr;
    for (int xi = 0; xi < pos && pad > 0; xi++)
        for (int64_t c = 0; c < C; c++)
            memset(v + xi * vstride + (cols / nr) * C * nr + c * nr + cols % nr, 0,
                   (size_t)pad * sizeof(float));
}

/* Room for one tile row plus a vector's overrun. */
static int64_t row_len(const nn_wino_geom *g)
{
    return (g->tw + 8) / 4 * 4;
}

int64_t f32_wino2_buf_floats(const nn_wino_geom *g)
{
    return 24 * row_len(g);
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

/* One input column for the split: x(iy, ix) or 0 outside the row. */
static inline float col_at(const nn_wino_geom *g, const float *row, int64_t ix)
{
    return ix >= 0 && ix < g->W ? row[ix] : 0.0f;
}

/* even[j] = x(iy, 2j - pl), odd[j] = x(iy, 2j + 1 - pl) for j in [a, b],
 * zero outside the image; interior columns deinterleave 8 at a time. */
static void split_row(const nn_wino_geom *g, const float *xc, int64_t iy, int64_t a, int64_t b,
                      float *even, float *odd)
{
    const float *row = xc + iy * g->W;
    int64_t j = a, j0 = (g->pl + 1) / 2;
    int64_t j1 = g->W - 2 + g->pl < 0 ? -1 : (g->W - 2 + g->pl) / 2;   /* last interior j */
    if (iy < 0 || iy >= g->H) {
        memset(even + a, 0, (size_t)(b - a + 1) * sizeof(float));
        memset(odd + a, 0, (size_t)(b - a + 1) * sizeof(float));
        return;
    }
    for (; j <= b && j < j0; j++) {
        even[j] = col_at(g, row, 2 * j - g->pl);
        odd[j] = col_at(g, row, 2 * j + 1 - g->pl);
    }
    for (; j + 3 <= b && j + 3 <= j1; j += 4) {
        const float *s = row + 2 * j - g->pl;
        wv4 lo = wv_load(s), hi = wv_load(s + 4);
        wv_store(even + j, WV_EVEN(lo, hi));
        wv_store(odd + j, WV_ODD(lo, hi));
    }
    for (; j <= b; j++) {
        even[j] = col_at(g, row, 2 * j - g->pl);
        odd[j] = col_at(g, row, 2 * j + 1 - g->pl);
    }
}

/* Transforms tiles [tx, tx + 4) of a tile row: ev / od [4][L] are the even
 * and odd columns of its 4 input rows; writes vr [16][L] at tx. */
static inline void input_chunk(const float *ev, const float *od, int64_t L, int64_t tx, float *vr)
{
    wv4 c0[4], c1[4], c2[4], c3[4];
    for (int i = 0; i < 4; i++) {       /* patch columns 0..3 of row i */
        c0[i] = wv_load(ev + i * L + tx);
        c1[i] = wv_load(od + i * L + tx);
        c2[i] = wv_load(ev + i * L + tx + 1);
        c3[i] = wv_load(od + i * L + tx + 1);
    }
    for (int j = 0; j < 4; j++) {
        wv4 *c = j == 0 ? c0 : j == 1 ? c1 : j == 2 ? c2 : c3;
        /* B^T d along the rows: d0 - d2, d1 + d2, d2 - d1, d1 - d3 */
        wv4 r0 = c[0] - c[2], r1 = c[1] + c[2], r2 = c[2] - c[1], r3 = c[1] - c[3];
        c[0] = r0, c[1] = r1, c[2] = r2, c[3] = r3;
    }
    for (int i = 0; i < 4; i++) {       /* then along the columns */
        wv_store(vr + (4 * i + 0) * L + tx, c0[i] - c2[i]);
        wv_store(vr + (4 * i + 1) * L + tx, c1[i] + c2[i]);
        wv_store(vr + (4 * i + 2) * L + tx, c2[i] - c1[i]);
        wv_store(vr + (4 * i + 3) * L + tx, c1[i] - c3[i]);
    }
}

void f32_wino2_input_generic(const nn_sgemm_kernel *k, const nn_wino_geom *g, const float *x,
                             int64_t t0, int64_t nt, int64_t col0, float *v, int64_t vstride,
                             float *buf)
{
    int64_t L = row_len(g), nr = k->nr, pstride = g->C * nr;
    float *ev = buf, *od = buf + 4 * L, *vr = buf + 8 * L;     /* [4][L], [4][L], [16][L] */
    int64_t ty0 = t0 / g->tw, ty1 = (t0 + nt - 1) / g->tw;
    for (int64_t ty = ty0; ty <= ty1; ty++) {
        int64_t ta, tb, col;
        row_span(g, ty, t0, nt, &ta, &tb);
        col = col0 + ty * g->tw + ta - t0;      /* packed column of tile ta */
        for (int64_t c = 0; c < g->C; c++) {
            const float *xc = x + c * g->H * g->W;
            float *d = v + (col / nr) * pstride + c * nr + col % nr;
            for (int i = 0; i < 4; i++)
                split_row(g, xc, 2 * ty - g->pt + i, ta, tb, ev + i * L, od + i * L);
            for (int64_t tx = ta; tx < tb; tx += 4)
                input_chunk(ev, od, L, tx, vr);
            for (int xi = 0; xi < F2_POS; xi++)
                pack_seg(nr, pstride, col % nr, vr + xi * L + ta, tb - ta, d + xi * vstride);
        }
    }
}

/* Output tiles of 4 consecutive tiles from their 16 transformed values q:
 * yr [4][L] at tx gets outputs (0,0), (0,1), (1,0), (1,1) of each tile. */
static inline void output_chunk(const wv4 *q, int64_t L, int64_t tx, float *yr)
{
    wv4 s0[4], s1[4];
    for (int j = 0; j < 4; j++) {       /* A^T q: q0 + q1 + q2, q1 - q2 - q3 */
        s0[j] = q[j] + q[4 + j] + q[8 + j];
        s1[j] = q[4 + j] - q[8 + j] - q[12 + j];
    }
    wv_store(yr + tx, s0[0] + s0[1] + s0[2]);
    wv_store(yr + L + tx, s0[1] - s0[2] - s0[3]);
    wv_store(yr + 2 * L + tx, s1[0] + s1[1] + s1[2]);
    wv_store(yr + 3 * L + tx, s1[1] - s1[2] - s1[3]);
}

/* Output transform of tiles [ta, tb) of one tile row: M index base + tx. */
static void output_row(const float *mat, int64_t mstride, int64_t base, int64_t ta, int64_t tb,
                       int64_t L, float *yr)
{
    wv4 q[F2_POS];
    int64_t tx = ta;
    for (; tx + 4 <= tb; tx += 4) {
        for (int xi = 0; xi < F2_POS; xi++)
            q[xi] = wv_load(mat + base + xi * mstride + tx);
        output_chunk(q, L, tx, yr);
    }
    if (tx < tb) {                      /* last 1..3 tiles through a zero-padded copy */
        for (int xi = 0; xi < F2_POS; xi++) {
            const float *src = mat + base + xi * mstride + tx;
            q[xi] = (wv4){src[0], tb - tx > 1 ? src[1] : 0.0f, tb - tx > 2 ? src[2] : 0.0f, 0.0f};
        }
        output_chunk(q, L, tx, yr);
    }
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

void f32_wino2_output_generic(const nn_wino_geom *g, const float *mat, int64_t mstride,
                              int64_t ldm, int64_t ob, int64_t t0, int64_t nt,
                              const nn_sgemm_epi *ep, float *y, float *buf)
{
    int64_t L = row_len(g), plane = g->OH * g->OW;
    int64_t ty0 = t0 / g->tw, ty1 = (t0 + nt - 1) / g->tw;
    float *yr = buf;                    /* [4][L]: outputs (r, l) of each tile */
    for (int64_t o = 0; o < ob; o++) {
        for (int64_t ty = ty0; ty <= ty1; ty++) {
            int64_t ta, tb, oy = 2 * ty;
            row_span(g, ty, t0, nt, &ta, &tb);
            output_row(mat, mstride, o * ldm + ty * g->tw - t0, ta, tb, L, yr);
            for (int r = 0; r < 2 && oy + r < g->OH; r++) {
                float *row = y + o * plane + (oy + r) * g->OW;
                const float *e = yr + 2 * r * L, *f = yr + (2 * r + 1) * L;
                int64_t x0 = 2 * ta, x1 = 2 * tb < g->OW ? 2 * tb : g->OW;
                int64_t tf = g->OW / 2 < tb ? g->OW / 2 : tb;   /* tiles wholly inside */
                int64_t tx = ta;
                for (; tx < tf; tx++) {
                    row[2 * tx] = e[tx];
                    row[2 * tx + 1] = f[tx];
                }
                if (tx < tb)            /* odd OW: the last tile's left column */
                    row[2 * tx] = e[tx];
                row_epi(ep, o, (oy + r) * g->OW + x0, row + x0, x1 - x0);
            }
        }
    }
}
