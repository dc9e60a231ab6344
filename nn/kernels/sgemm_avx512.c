/* sgemm_avx512.c — f32_gemm_8x32_avx512: the 8 x 32 register tile (16 of
 * the 32 zmm registers accumulate, 2 hold B, 1 the A broadcast) with
 * AVX-512F. Built with -mavx512f (Makefile); only called after isa.c has
 * checked the CPU and the OS-enabled ZMM state. 8 rows divide the channel
 * counts of common CNNs (multiples of 8); row counts 1..7 (the M edge) and
 * the 16-wide half tiles (the N edge) are the same loop; the dot-product
 * tiles (8x1, 4x2) serve a narrow last panel. No indirect tiles: convs
 * use the packed paths here. */
#include "nn/kernels/sgemm.h"

#ifdef NN_EMULATE_AVX512
/* Test build (make EMU_AVX512=1): the same kernels on SIMDe's portable
 * AVX-512 (each zmm operation as two AVX2 ones), so that the 8x32 paths run
 * and are checked on CPUs without AVX-512. */
#include <simde/x86/avx512.h>
#define Z(f) simde_##f
typedef simde__m512 z512;
#else
#include <immintrin.h>
#define Z(f) _##f
typedef __m512 z512;
#endif

#define UK_W 16
#define UK_V z512
#define UK_ZERO() Z(mm512_setzero_ps)()
#define UK_LOAD(p) Z(mm512_loadu_ps)(p)
#define UK_STORE(p, v) Z(mm512_storeu_ps)((p), (v))
#define UK_SET1(x) Z(mm512_set1_ps)(x)
#define UK_FMA(a, b, c) Z(mm512_fmadd_ps)((a), (b), (c))
#define UK_ADD(a, b) Z(mm512_add_ps)((a), (b))
#define UK_MAXV(lo, v) Z(mm512_max_ps)((lo), (v))
#define UK_MINV(hi, v) Z(mm512_min_ps)((hi), (v))

#define UK_NAME f32_gemm_1x32_avx512
#define UK_MR 1
#define UK_NV 2
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_2x32_avx512
#define UK_MR 2
#define UK_NV 2
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_3x32_avx512
#define UK_MR 3
#define UK_NV 2
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_4x32_avx512
#define UK_MR 4
#define UK_NV 2
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_5x32_avx512
#define UK_MR 5
#define UK_NV 2
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_6x32_avx512
#define UK_MR 6
#define UK_NV 2
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_7x32_avx512
#define UK_MR 7
#define UK_NV 2
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_8x32_avx512
#define UK_MR 8
#define UK_NV 2
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_1x16p32_avx512
#define UK_MR 1
#define UK_NV 1
#define UK_BSTRIDE 32
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_2x16p32_avx512
#define UK_MR 2
#define UK_NV 1
#define UK_BSTRIDE 32
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_3x16p32_avx512
#define UK_MR 3
#define UK_NV 1
#define UK_BSTRIDE 32
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_4x16p32_avx512
#define UK_MR 4
#define UK_NV 1
#define UK_BSTRIDE 32
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_5x16p32_avx512
#define UK_MR 5
#define UK_NV 1
#define UK_BSTRIDE 32
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_6x16p32_avx512
#define UK_MR 6
#define UK_NV 1
#define UK_BSTRIDE 32
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_7x16p32_avx512
#define UK_MR 7
#define UK_NV 1
#define UK_BSTRIDE 32
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_8x16p32_avx512
#define UK_MR 8
#define UK_NV 1
#define UK_BSTRIDE 32
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

/* Kernels by row count: [r] computes r rows (the M edge); [8] is the
 * main tile. */
const nn_sgemm_ukernel f32_gemm_8x32_avx512_rows[NN_SGEMM_MR_MAX + 1] = {
    NULL,
    f32_gemm_1x32_avx512,
    f32_gemm_2x32_avx512,
    f32_gemm_3x32_avx512,
    f32_gemm_4x32_avx512,
    f32_gemm_5x32_avx512,
    f32_gemm_6x32_avx512,
    f32_gemm_7x32_avx512,
    f32_gemm_8x32_avx512,
};

/* Half-width tiles (the first 16 columns of a 32-wide panel: the N edge)
 * by row count. */
const nn_sgemm_ukernel f32_gemm_8x32_avx512_half[NN_SGEMM_MR_MAX + 1] = {
    NULL,
    f32_gemm_1x16p32_avx512,
    f32_gemm_2x16p32_avx512,
    f32_gemm_3x16p32_avx512,
    f32_gemm_4x16p32_avx512,
    f32_gemm_5x16p32_avx512,
    f32_gemm_6x16p32_avx512,
    f32_gemm_7x16p32_avx512,
    f32_gemm_8x16p32_avx512,
};

/* Dot-product tiles for a narrow last panel (sgemm_dot.h). */
#ifdef NN_EMULATE_AVX512
/* SIMDe has no reduce_add: the 16 lanes added as a tree of halves. */
static inline float z512_hsum(z512 v)
{
    float l[16];
    simde_mm512_storeu_ps(l, v);
    for (int w = 8; w > 0; w /= 2)
        for (int i = 0; i < w; i++)
            l[i] += l[i + w];
    return l[0];
}
#define UK_HSUM(v) z512_hsum(v)
#else
#define UK_HSUM(v) _mm512_reduce_add_ps(v)
#endif

#define UD_NAME f32_dot_8x1_avx512
#define UD_MR 8
#define UD_NT 1
#include "nn/kernels/sgemm_dot.h"

#define UD_NAME f32_dot_4x2_avx512
#define UD_MR 4
#define UD_NT 2
#include "nn/kernels/sgemm_dot.h"

const nn_sgemm_dot f32_dot_avx512 = {8, 4, f32_dot_8x1_avx512, f32_dot_4x2_avx512};
