/* sgemm_avx2.c — f32_gemm_6x16_avx2: the 6 x 16 register tile (12 of the
 * 16 ymm registers accumulate, 2 hold B, 1 the A broadcast) with AVX2 +
 * FMA3. Built with -mavx2 -mfma (Makefile); only called after isa.c has
 * checked the CPU. Row counts 1..5 (the M edge), the 8-wide half tiles
 * (the N edge) and the indirect tiles (B rows through pointers) are the
 * same loop; the dot-product tiles (8x1, 4x2) serve a narrow last panel. */
#include <immintrin.h>

#include "nn/kernels/sgemm.h"

#define UK_W 8
#define UK_V __m256
#define UK_ZERO() _mm256_setzero_ps()
#define UK_LOAD(p) _mm256_loadu_ps(p)
#define UK_STORE(p, v) _mm256_storeu_ps((p), (v))
#define UK_SET1(x) _mm256_set1_ps(x)
#define UK_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define UK_ADD(a, b) _mm256_add_ps((a), (b))
#define UK_MAXV(lo, v) _mm256_max_ps((lo), (v))
#define UK_MINV(hi, v) _mm256_min_ps((hi), (v))

#define UK_NAME f32_gemm_1x16_avx2
#define UK_MR 1
#define UK_NV 2
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_2x16_avx2
#define UK_MR 2
#define UK_NV 2
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_3x16_avx2
#define UK_MR 3
#define UK_NV 2
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_4x16_avx2
#define UK_MR 4
#define UK_NV 2
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_5x16_avx2
#define UK_MR 5
#define UK_NV 2
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_6x16_avx2
#define UK_MR 6
#define UK_NV 2
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_1x8p16_avx2
#define UK_MR 1
#define UK_NV 1
#define UK_BSTRIDE 16
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_2x8p16_avx2
#define UK_MR 2
#define UK_NV 1
#define UK_BSTRIDE 16
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_3x8p16_avx2
#define UK_MR 3
#define UK_NV 1
#define UK_BSTRIDE 16
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_4x8p16_avx2
#define UK_MR 4
#define UK_NV 1
#define UK_BSTRIDE 16
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_5x8p16_avx2
#define UK_MR 5
#define UK_NV 1
#define UK_BSTRIDE 16
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_6x8p16_avx2
#define UK_MR 6
#define UK_NV 1
#define UK_BSTRIDE 16
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

/* Kernels by row count: [r] computes r rows (the M edge); [6] is the
 * main tile. */
const nn_sgemm_ukernel f32_gemm_6x16_avx2_rows[NN_SGEMM_MR_MAX + 1] = {
    NULL,
    f32_gemm_1x16_avx2,
    f32_gemm_2x16_avx2,
    f32_gemm_3x16_avx2,
    f32_gemm_4x16_avx2,
    f32_gemm_5x16_avx2,
    f32_gemm_6x16_avx2,
};

/* Half-width tiles (the first 8 columns of a 16-wide panel: the N edge)
 * by row count. */
const nn_sgemm_ukernel f32_gemm_6x16_avx2_half[NN_SGEMM_MR_MAX + 1] = {
    NULL,
    f32_gemm_1x8p16_avx2,
    f32_gemm_2x8p16_avx2,
    f32_gemm_3x8p16_avx2,
    f32_gemm_4x8p16_avx2,
    f32_gemm_5x8p16_avx2,
    f32_gemm_6x8p16_avx2,
};

/* Indirect tiles (B row k at b[k] + boff) by row count, full width only. */
#define UK_NAME f32_igemm_1x16_avx2
#define UK_MR 1
#define UK_NV 2
#define UK_INDIRECT
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_igemm_2x16_avx2
#define UK_MR 2
#define UK_NV 2
#define UK_INDIRECT
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_igemm_3x16_avx2
#define UK_MR 3
#define UK_NV 2
#define UK_INDIRECT
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_igemm_4x16_avx2
#define UK_MR 4
#define UK_NV 2
#define UK_INDIRECT
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_igemm_5x16_avx2
#define UK_MR 5
#define UK_NV 2
#define UK_INDIRECT
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_igemm_6x16_avx2
#define UK_MR 6
#define UK_NV 2
#define UK_INDIRECT
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

const nn_sgemm_ikernel f32_igemm_6x16_avx2_rows[NN_SGEMM_MR_MAX + 1] = {
    NULL,
    f32_igemm_1x16_avx2,
    f32_igemm_2x16_avx2,
    f32_igemm_3x16_avx2,
    f32_igemm_4x16_avx2,
    f32_igemm_5x16_avx2,
    f32_igemm_6x16_avx2,
};

/* Dot-product tiles for a narrow last panel (sgemm_dot.h). */
static inline float dot_hsum_avx2(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#define UK_HSUM(v) dot_hsum_avx2(v)

#define UD_NAME f32_dot_8x1_avx2
#define UD_MR 8
#define UD_NT 1
#include "nn/kernels/sgemm_dot.h"

#define UD_NAME f32_dot_4x2_avx2
#define UD_MR 4
#define UD_NT 2
#include "nn/kernels/sgemm_dot.h"

const nn_sgemm_dot f32_dot_avx2 = {8, 4, f32_dot_8x1_avx2, f32_dot_4x2_avx2};
