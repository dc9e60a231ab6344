/* winograd_generic.c — the F(2x2, 3x3), F(4x4, 3x3) and stride-2 transforms (see
 * winograd.h) in portable C: winograd_body.h over 4-lane vectors (GCC
 * vector extension), what SCANLITE_ISA=generic runs; the same code as
 * winograd_avx2.c at another width, both tested against the definitions in
 * tests/test_wino.c. */
#include "nn/kernels/winograd.h"

#include <string.h>

typedef float wb_v4 __attribute__((vector_size(16)));
typedef int32_t wb_i4 __attribute__((vector_size(16)));

#if defined(__clang__)
#define WB_SHUF(a, b, i, j, k, l) __builtin_shufflevector((a), (b), i, j, k, l)
#else
#define WB_SHUF(a, b, i, j, k, l) __builtin_shuffle((a), (b), (wb_i4){i, j, k, l})
#endif

/* 4x4 transpose: out[k][l] = in[l][k]. */
static inline void wb_transpose4(const wb_v4 *in, wb_v4 *out)
{
    wb_v4 t0 = WB_SHUF(in[0], in[1], 0, 4, 1, 5), t1 = WB_SHUF(in[0], in[1], 2, 6, 3, 7);
    wb_v4 t2 = WB_SHUF(in[2], in[3], 0, 4, 1, 5), t3 = WB_SHUF(in[2], in[3], 2, 6, 3, 7);
    out[0] = WB_SHUF(t0, t2, 0, 1, 4, 5);
    out[1] = WB_SHUF(t0, t2, 2, 3, 6, 7);
    out[2] = WB_SHUF(t1, t3, 0, 1, 4, 5);
    out[3] = WB_SHUF(t1, t3, 2, 3, 6, 7);
}

/* p[k][l] = s[2l + k] for 4 tiles (8 floats). */
static inline void wb_split2_generic(const float *s, wb_v4 *p)
{
    wb_v4 a, b;
    memcpy(&a, s, sizeof a);
    memcpy(&b, s + 4, sizeof b);
    p[0] = WB_SHUF(a, b, 0, 2, 4, 6);
    p[1] = WB_SHUF(a, b, 1, 3, 5, 7);
}

/* d[2l + k] = p[k][l] for 4 tiles. */
static inline void wb_merge2_generic(const wb_v4 *p, float *d)
{
    wb_v4 out[2] = {WB_SHUF(p[0], p[1], 0, 4, 1, 5), WB_SHUF(p[0], p[1], 2, 6, 3, 7)};
    memcpy(d, out, sizeof out);
}

static inline void wb_split4_generic(const float *s, wb_v4 *p)
{
    wb_v4 in[4];
    memcpy(in, s, sizeof in);
    wb_transpose4(in, p);
}

static inline void wb_merge4_generic(const wb_v4 *p, float *d)
{
    wb_v4 out[4];
    wb_transpose4(p, out);
    memcpy(d, out, sizeof out);
}

/* g[k] = tap k of 4 filters: two 4x4 transposes (taps 0-3, 4-7), tap 8
 * gathered. */
static inline void wb_taps_generic(const float *w, wb_v4 *g)
{
    wb_v4 a[4], b[4];
#pragma GCC unroll 4
    for (int l = 0; l < 4; l++) {
        memcpy(&a[l], w + 9 * l, sizeof a[l]);
        memcpy(&b[l], w + 9 * l + 4, sizeof b[l]);
    }
    wb_transpose4(a, g);
    wb_transpose4(b, g + 4);
    g[8] = (wb_v4){w[8], w[17], w[26], w[35]};
}

#define WB_W 4
#define WB_V wb_v4
#define WB_I wb_i4
#define WB_SET1(x) ((wb_v4){(x), (x), (x), (x)})
#define WB_FMA(a, b, c) ((a) * (b) + (c))
#define WB_SPLIT2(s, p) wb_split2_generic((s), (p))
#define WB_SPLIT4(s, p) wb_split4_generic((s), (p))
#define WB_MERGE2(p, d) wb_merge2_generic((p), (d))
#define WB_MERGE4(p, d) wb_merge4_generic((p), (d))
#define WB_TAPS(w, g) wb_taps_generic((w), (g))
#define WB_NAME(x) f32_wino##x##_generic
#include "nn/kernels/winograd_body.h"
