/* winograd_avx2.c — the F(2x2, 3x3), F(4x4, 3x3) and stride-2 transforms (see
 * winograd.h) with AVX2 + FMA (winograd_body.h over 8-lane vectors: 8
 * tiles, or 8 filters, per vector). Built with -mavx2 -mfma (Makefile);
 * only called after isa.c has checked the CPU. The stride-4 phase split
 * (and its inverse) is an in-lane 4x4 transpose after pairing 128-bit
 * halves; the stride-2 one an in-lane even/odd shuffle and a cross-lane
 * permute of 64-bit pairs. */
#include <immintrin.h>

#include "nn/kernels/winograd.h"

typedef int32_t wb_i8 __attribute__((vector_size(32)));

/* in[l] holds tile l (lanes 0-3) and tile l + 4 (lanes 4-7), 4 floats
 * each; out[k] = phase k of tiles 0..7. Self-inverse on that layout. */
static inline void wb_transpose_avx2(const __m256 *in, __m256 *out)
{
    __m256 t0 = _mm256_unpacklo_ps(in[0], in[1]), t1 = _mm256_unpackhi_ps(in[0], in[1]);
    __m256 t2 = _mm256_unpacklo_ps(in[2], in[3]), t3 = _mm256_unpackhi_ps(in[2], in[3]);
    out[0] = _mm256_shuffle_ps(t0, t2, 0x44);
    out[1] = _mm256_shuffle_ps(t0, t2, 0xee);
    out[2] = _mm256_shuffle_ps(t1, t3, 0x44);
    out[3] = _mm256_shuffle_ps(t1, t3, 0xee);
}

/* p[k][l] = s[2l + k] for 8 tiles (16 floats). */
static inline void wb_split2_avx2(const float *s, __m256 *p)
{
    __m256 a = _mm256_loadu_ps(s), b = _mm256_loadu_ps(s + 8);
    /* in-lane even / odd: a0 a2 b0 b2 | a4 a6 b4 b6, then pairs 0, 2, 1, 3 */
    __m256d e = _mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88));
    __m256d o = _mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xdd));
    p[0] = _mm256_castpd_ps(_mm256_permute4x64_pd(e, 0xd8));
    p[1] = _mm256_castpd_ps(_mm256_permute4x64_pd(o, 0xd8));
}

/* d[2l + k] = p[k][l] for 8 tiles. */
static inline void wb_merge2_avx2(const __m256 *p, float *d)
{
    __m256 lo = _mm256_unpacklo_ps(p[0], p[1]), hi = _mm256_unpackhi_ps(p[0], p[1]);
    _mm256_storeu_ps(d, _mm256_permute2f128_ps(lo, hi, 0x20));
    _mm256_storeu_ps(d + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
}

/* p[k][l] = s[4l + k] for 8 tiles (32 floats). */
static inline void wb_split4_avx2(const float *s, __m256 *p)
{
    __m256 a0 = _mm256_loadu_ps(s), a1 = _mm256_loadu_ps(s + 8);
    __m256 a2 = _mm256_loadu_ps(s + 16), a3 = _mm256_loadu_ps(s + 24);
    __m256 in[4] = {
        _mm256_permute2f128_ps(a0, a2, 0x20), _mm256_permute2f128_ps(a0, a2, 0x31),
        _mm256_permute2f128_ps(a1, a3, 0x20), _mm256_permute2f128_ps(a1, a3, 0x31),
    };
    wb_transpose_avx2(in, p);
}

/* d[4l + k] = p[k][l] for 8 tiles. */
static inline void wb_merge4_avx2(const __m256 *p, float *d)
{
    __m256 q[4];
    wb_transpose_avx2(p, q);    /* q[l]: tiles l and l + 4 */
    _mm256_storeu_ps(d, _mm256_permute2f128_ps(q[0], q[1], 0x20));
    _mm256_storeu_ps(d + 8, _mm256_permute2f128_ps(q[2], q[3], 0x20));
    _mm256_storeu_ps(d + 16, _mm256_permute2f128_ps(q[0], q[1], 0x31));
    _mm256_storeu_ps(d + 24, _mm256_permute2f128_ps(q[2], q[3], 0x31));
}

/* g[k] = tap k of 8 filters: an 8x8 transpose of their taps 0-7, tap 8
 * gathered. */
static inline void wb_taps_avx2(const float *w, __m256 *g)
{
    __m256 r[8], t[8], s[8];
#pragma GCC unroll 8
    for (int l = 0; l < 8; l++)
        r[l] = _mm256_loadu_ps(w + 9 * l);
#pragma GCC unroll 4
    for (int l = 0; l < 8; l += 2) {
        t[l] = _mm256_unpacklo_ps(r[l], r[l + 1]);
        t[l + 1] = _mm256_unpackhi_ps(r[l], r[l + 1]);
    }
#pragma GCC unroll 2
    for (int l = 0; l < 8; l += 4) {
        s[l] = _mm256_shuffle_ps(t[l], t[l + 2], 0x44);
        s[l + 1] = _mm256_shuffle_ps(t[l], t[l + 2], 0xee);
        s[l + 2] = _mm256_shuffle_ps(t[l + 1], t[l + 3], 0x44);
        s[l + 3] = _mm256_shuffle_ps(t[l + 1], t[l + 3], 0xee);
    }
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        g[k] = _mm256_permute2f128_ps(s[k], s[k + 4], 0x20);
        g[k + 4] = _mm256_permute2f128_ps(s[k], s[k + 4], 0x31);
    }
    g[8] = _mm256_set_ps(w[71], w[62], w[53], w[44], w[35], w[26], w[17], w[8]);
}

#define WB_W 8
#define WB_V __m256
#define WB_I wb_i8
#define WB_SET1(x) _mm256_set1_ps(x)
#define WB_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define WB_SPLIT2(s, p) wb_split2_avx2((s), (p))
#define WB_SPLIT4(s, p) wb_split4_avx2((s), (p))
#define WB_MERGE2(p, d) wb_merge2_avx2((p), (d))
#define WB_MERGE4(p, d) wb_merge4_avx2((p), (d))
#define WB_TAPS(w, g) wb_taps_avx2((w), (g))
#define WB_NAME(x) f32_wino##x##_avx2
#include "nn/kernels/winograd_body.h"
