/* sgemm_avx512.c — f32_gemm_8x32_avx512: the 8 x 32 register tile (16 of
 * the 32 zmm registers accumulate, 2 hold B, 1 the A broadcast) with
 * AVX-512F. Built with -mavx512f (Makefile); only called after isa.c has
 * checked the CPU and the OS-enabled ZMM state. 8 rows divide the channel
 * counts of common CNNs (multiples of 8). */
#include <immintrin.h>

#include "nn/kernels/sgemm.h"

#define UK_NAME f32_gemm_8x32_avx512
#define UK_MR 8
#define UK_NV 2
#define UK_W 16
#define UK_V __m512
#define UK_ZERO() _mm512_setzero_ps()
#define UK_LOAD(p) _mm512_loadu_ps(p)
#define UK_STORE(p, v) _mm512_storeu_ps((p), (v))
#define UK_SET1(x) _mm512_set1_ps(x)
#define UK_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define UK_ADD(a, b) _mm512_add_ps((a), (b))
#define UK_MAXV(lo, v) _mm512_max_ps((lo), (v))
#define UK_MINV(hi, v) _mm512_min_ps((hi), (v))

#include "nn/kernels/sgemm_ukernel.h"
