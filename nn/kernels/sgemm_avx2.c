/* sgemm_avx2.c — f32_gemm_6x16_avx2: the 6 x 16 register tile (12 of the
 * 16 ymm registers accumulate, 2 hold B, 1 the A broadcast) with AVX2 +
 * FMA3. Built with -mavx2 -mfma (Makefile); only called after isa.c has
 * checked the CPU. Row counts 1..5 (the M edge) and the 8-wide half tiles
 * (the N edge) are the same loop. */
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
