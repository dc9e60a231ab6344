/* sgemm_generic.c — f32_gemm_6x8_generic: the portable 6 x 8 register tile
 * in GCC/Clang 4-lane vectors (SSE on baseline x86-64, NEON or scalar code
 * elsewhere); 12 accumulators fit the 16 registers of SSE. Multiply and
 * add are separate (no FMA assumed). Row counts 1..5 (the M edge), the
 * 4-wide half tiles (the N edge) and the indirect tiles (B rows through
 * pointers) are the same loop; the dot-product tiles (8x1, 4x2) serve a
 * narrow last panel. */
#include <string.h>

#include "nn/kernels/sgemm.h"

typedef float gk_v __attribute__((vector_size(16)));
typedef int32_t gk_i __attribute__((vector_size(16)));

static inline gk_v gk_load(const float *p)
{
    gk_v v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void gk_store(float *p, gk_v v)
{
    memcpy(p, &v, sizeof v);
}

static inline gk_v gk_set1(float x)
{
    return (gk_v){x, x, x, x};
}

/* lane-wise m ? a : b */
static inline gk_v gk_select(gk_i m, gk_v a, gk_v b)
{
    return (gk_v)(((gk_i)a & m) | ((gk_i)b & ~m));
}

#define UK_W 4
#define UK_V gk_v
#define UK_ZERO() gk_set1(0.0f)
#define UK_LOAD(p) gk_load(p)
#define UK_STORE(p, v) gk_store((p), (v))
#define UK_SET1(x) gk_set1(x)
#define UK_FMA(a, b, c) ((a) * (b) + (c))
#define UK_ADD(a, b) ((a) + (b))
#define UK_MAXV(lo, v) gk_select((v) < (lo), (lo), (v))
#define UK_MINV(hi, v) gk_select((v) > (hi), (hi), (v))

#define UK_NAME f32_gemm_1x8_generic
#define UK_MR 1
#define UK_NV 2
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_2x8_generic
#define UK_MR 2
#define UK_NV 2
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_3x8_generic
#define UK_MR 3
#define UK_NV 2
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_4x8_generic
#define UK_MR 4
#define UK_NV 2
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_5x8_generic
#define UK_MR 5
#define UK_NV 2
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_6x8_generic
#define UK_MR 6
#define UK_NV 2
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_1x4p8_generic
#define UK_MR 1
#define UK_NV 1
#define UK_BSTRIDE 8
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_2x4p8_generic
#define UK_MR 2
#define UK_NV 1
#define UK_BSTRIDE 8
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_3x4p8_generic
#define UK_MR 3
#define UK_NV 1
#define UK_BSTRIDE 8
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_4x4p8_generic
#define UK_MR 4
#define UK_NV 1
#define UK_BSTRIDE 8
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_5x4p8_generic
#define UK_MR 5
#define UK_NV 1
#define UK_BSTRIDE 8
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_gemm_6x4p8_generic
#define UK_MR 6
#define UK_NV 1
#define UK_BSTRIDE 8
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

/* Kernels by row count: [r] computes r rows (the M edge); [6] is the
 * main tile. */
const nn_sgemm_ukernel f32_gemm_6x8_generic_rows[NN_SGEMM_MR_MAX + 1] = {
    NULL,
    f32_gemm_1x8_generic,
    f32_gemm_2x8_generic,
    f32_gemm_3x8_generic,
    f32_gemm_4x8_generic,
    f32_gemm_5x8_generic,
    f32_gemm_6x8_generic,
};

/* Half-width tiles (the first 4 columns of a 8-wide panel: the N edge)
 * by row count. */
const nn_sgemm_ukernel f32_gemm_6x8_generic_half[NN_SGEMM_MR_MAX + 1] = {
    NULL,
    f32_gemm_1x4p8_generic,
    f32_gemm_2x4p8_generic,
    f32_gemm_3x4p8_generic,
    f32_gemm_4x4p8_generic,
    f32_gemm_5x4p8_generic,
    f32_gemm_6x4p8_generic,
};

/* Indirect tiles (B row k at b[k] + boff) by row count, full width only. */
#define UK_NAME f32_igemm_1x8_generic
#define UK_MR 1
#define UK_NV 2
#define UK_INDIRECT
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_igemm_2x8_generic
#define UK_MR 2
#define UK_NV 2
#define UK_INDIRECT
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_igemm_3x8_generic
#define UK_MR 3
#define UK_NV 2
#define UK_INDIRECT
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_igemm_4x8_generic
#define UK_MR 4
#define UK_NV 2
#define UK_INDIRECT
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_igemm_5x8_generic
#define UK_MR 5
#define UK_NV 2
#define UK_INDIRECT
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

#define UK_NAME f32_igemm_6x8_generic
#define UK_MR 6
#define UK_NV 2
#define UK_INDIRECT
#define UK_STATIC
#include "nn/kernels/sgemm_ukernel.h"

const nn_sgemm_ikernel f32_igemm_6x8_generic_rows[NN_SGEMM_MR_MAX + 1] = {
    NULL,
    f32_igemm_1x8_generic,
    f32_igemm_2x8_generic,
    f32_igemm_3x8_generic,
    f32_igemm_4x8_generic,
    f32_igemm_5x8_generic,
    f32_igemm_6x8_generic,
};

/* Dot-product tiles for a narrow last panel (sgemm_dot.h). */
#define UK_HSUM(v) ((v)[0] + (v)[1] + (v)[2] + (v)[3])

#define UD_NAME f32_dot_8x1_generic
#define UD_MR 8
#define UD_NT 1
#include "nn/kernels/sgemm_dot.h"

#define UD_NAME f32_dot_4x2_generic
#define UD_MR 4
#define UD_NT 2
#include "nn/kernels/sgemm_dot.h"

const nn_sgemm_dot f32_dot_generic = {8, 4, f32_dot_8x1_generic, f32_dot_4x2_generic};
