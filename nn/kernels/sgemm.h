/* sgemm.h — our single-precision GEMM: ISA detection and the one
 * dispatcher (isa.c), register-tile micro-kernels per ISA (sgemm_generic.c,
 * sgemm_avx2.c, sgemm_avx512.c; the tile loops in sgemm_ukernel.h and
 * sgemm_dot.h), the blocked driver over packed B panels with a fused
 * epilogue (sgemm.c) and a naive reference (sgemm_ref.c).
 *
 * Layout: A is row-major [M, K] with leading dimension lda, used in place
 * (e.g. OIHW conv weights straight from the model file). B is packed into
 * panels of NR columns: panel j holds columns [j*NR, j*NR + NR) as
 * [K][NR] floats (columns past N zero), panels one after another. C is
 * row-major [M, N] with leading dimension ldc. */
#ifndef NN_KERNELS_SGEMM_H
#define NN_KERNELS_SGEMM_H

#include <stddef.h>
#include <stdint.h>

#include "nn/nn_status.h"

typedef enum nn_isa {
    NN_ISA_GENERIC = 0,         /* portable C (4-lane vector extension) */
    NN_ISA_AVX2 = 1,            /* AVX2 + FMA3 */
    NN_ISA_AVX512 = 2,          /* AVX-512F */
    NN_ISA_COUNT
} nn_isa;

/* Epilogue applied to every stored element C[m, n] after the last K block:
 * v = acc + bias_m[m] + bias_n[n] + res[m * ldr + n]; then, when clamp,
 * v = min(max(v, lo), hi) (ReLU: lo 0, hi +inf). NULL pointers add
 * nothing. The micro-kernels get the pointers already offset to their
 * tile. */
typedef struct nn_sgemm_epi {
    const float *bias_m;        /* [M] or NULL */
    const float *bias_n;        /* [N] or NULL */
    const float *res;           /* [M, N] with leading dimension ldr, or NULL */
    int64_t ldr;
    int clamp;
    float lo, hi;
} nn_sgemm_epi;

/* Micro-kernel: the MR x NR tile c (ldc) = (acc ? c : 0) + a * b over kc,
 * a row-major [MR, kc] (lda), b one packed panel slice [kc][NR]; then the
 * epilogue ep when non-NULL. Full tiles only (the driver handles edges).
 * pf, when non-NULL, is the A of the tile the driver runs next (MR rows,
 * lda apart): MR lines of it go to L2 every 16 k (in order when lda == kc,
 * else a line of each row), so that a matrix read once (weights at batch
 * 1) streams ahead of its use. */
typedef void (*nn_sgemm_ukernel)(int64_t kc, const float *a, int64_t lda, const float *b,
                                 float *c, int64_t ldc, int acc, const nn_sgemm_epi *ep,
                                 const float *pf);

typedef struct nn_sgemm_kernel {
    nn_isa isa;
    const char *name;           /* e.g. "f32_gemm_6x16_avx2" */
    int mr, nr;                 /* register tile */
    nn_sgemm_ukernel fn;        /* the mr x nr tile */
    const nn_sgemm_ukernel *rows;   /* [r], 1 <= r <= mr: r x nr tiles (M edge) */
    const nn_sgemm_ukernel *half;   /* [r]: r x nr/2 tiles on the first half of
                                       a panel (N edge of nr/2 columns or fewer) */
} nn_sgemm_kernel;

/* Largest mr / nr of any kernel (sizes of the driver's edge buffers). */
#define NN_SGEMM_MR_MAX 8
#define NN_SGEMM_NR_MAX 32
/* K block: one packed B slice [KC][NR] stays in L1 across the M panels. */
#define NN_SGEMM_KC 256
/* K block of products of at most NN_SGEMM_PF_PANELS N panels: their B is
 * small and each A row is read once, so a longer block reads A in longer
 * runs and stores C half as often (ResNet18's 512-channel Winograd
 * F(2x2) GEMMs at batch 1, K = 512: 1.88 -> 1.49 ms per conv, 1 thread). */
#define NN_SGEMM_KC_NARROW 512
/* M block: MC rows of A (x KC) stay in L2 across the N panels. */
#define NN_SGEMM_MC 96
/* Products of at most this many N panels prefetch A ahead (sgemm.c). */
#define NN_SGEMM_PF_PANELS 4

/* ---- ISA detection and dispatch (isa.c) --------------------------------- */

const char *nn_isa_name(nn_isa isa);
/* 1 when this CPU (and OS, for the register state) can run isa. */
int nn_isa_supported(nn_isa isa);
/* The ISA to use: SCANLITE_ISA=generic|avx2|avx512 when set, else
 * nn_isa_pick over what the CPU supports. An unknown name or an ISA this
 * CPU lacks is an NN_ERR_UNSUPPORTED error with a message (no silent
 * fallback). */
nn_status nn_isa_select(nn_isa *out, nn_err *e);
/* The default choice among mask (bit i: nn_isa i supported): the widest,
 * except AVX-512 when split512 (the CPU runs a 512-bit FMA as two 256-bit
 * halves: AMD Zen 4) and AVX2 is in mask. There both have the same FMA
 * peak, and the AVX2 6x16 tiles, which fit the narrow products of small
 * maps better and have the indirect tiles, ran ResNet18 batch 1 4% faster
 * (1 thread: 19.4-19.9 vs 20.2-20.5 ms; 2 threads 10.7-10.9 vs 11.3-11.4;
 * 50 runs each, 3 alternating processes, EPYC 9004 family 19h model 11h). */
nn_isa nn_isa_pick(unsigned mask, int split512);
/* The micro-kernel of an ISA (NULL for NN_ISA_COUNT or beyond). */
const nn_sgemm_kernel *nn_sgemm_kernel_for(nn_isa isa);
/* nn_sgemm_kernel_for(nn_isa_select(...)). */
nn_status nn_sgemm_select(const nn_sgemm_kernel **out, nn_err *e);

/* ---- micro-kernels (one ISA per file) ------------------------------------ */

void f32_gemm_6x8_generic(int64_t kc, const float *a, int64_t lda, const float *b, float *c,
                          int64_t ldc, int acc, const nn_sgemm_epi *ep, const float *pf);
void f32_gemm_6x16_avx2(int64_t kc, const float *a, int64_t lda, const float *b, float *c,
                        int64_t ldc, int acc, const nn_sgemm_epi *ep, const float *pf);
void f32_gemm_8x32_avx512(int64_t kc, const float *a, int64_t lda, const float *b, float *c,
                          int64_t ldc, int acc, const nn_sgemm_epi *ep, const float *pf);
/* The same tiles by row count, full and half width (see nn_sgemm_kernel). */
extern const nn_sgemm_ukernel f32_gemm_6x8_generic_rows[NN_SGEMM_MR_MAX + 1];
extern const nn_sgemm_ukernel f32_gemm_6x16_avx2_rows[NN_SGEMM_MR_MAX + 1];
extern const nn_sgemm_ukernel f32_gemm_8x32_avx512_rows[NN_SGEMM_MR_MAX + 1];
extern const nn_sgemm_ukernel f32_gemm_6x8_generic_half[NN_SGEMM_MR_MAX + 1];
extern const nn_sgemm_ukernel f32_gemm_6x16_avx2_half[NN_SGEMM_MR_MAX + 1];
extern const nn_sgemm_ukernel f32_gemm_8x32_avx512_half[NN_SGEMM_MR_MAX + 1];

/* Indirect tile: as nn_sgemm_ukernel, but B row k (nr floats) is read at
 * b[k] + boff instead of a packed panel (im2col without the copy: rows
 * point into the input). Full width only. */
typedef void (*nn_sgemm_ikernel)(int64_t kc, const float *a, int64_t lda, const float *const *b,
                                 int64_t boff, float *c, int64_t ldc, int acc,
                                 const nn_sgemm_epi *ep, const float *pf);
extern const nn_sgemm_ikernel f32_igemm_6x8_generic_rows[NN_SGEMM_MR_MAX + 1];
extern const nn_sgemm_ikernel f32_igemm_6x16_avx2_rows[NN_SGEMM_MR_MAX + 1];
/* The indirect tiles of kernel k's ISA by row count ([r], 1 <= r <= mr),
 * or NULL when the ISA has none (AVX-512). */
const nn_sgemm_ikernel *nn_sgemm_irows_for(const nn_sgemm_kernel *k);

/* Dot-product tiles (sgemm_dot.h), for a last panel of a few columns:
 * out [mr][ncol] = A rows (row-major, lda; rows at or past mm repeat row
 * mm - 1) times ncol columns given transposed as rows of bt ([ncol][kc],
 * leading dimension ldbt), summed along k in vectors. */
typedef void (*nn_sgemm_dotfn)(int64_t kc, const float *a, int64_t lda, int64_t mm,
                               const float *bt, int64_t ldbt, float *out);
typedef struct nn_sgemm_dot {
    int mr1, mr2;               /* rows of the one- and two-column tiles */
    nn_sgemm_dotfn col1, col2;  /* f32_dot_8x1_<isa>, f32_dot_4x2_<isa> */
} nn_sgemm_dot;
extern const nn_sgemm_dot f32_dot_generic;
extern const nn_sgemm_dot f32_dot_avx2;
extern const nn_sgemm_dot f32_dot_avx512;
/* The dot tiles of kernel k's ISA. */
const nn_sgemm_dot *nn_sgemm_dot_for(const nn_sgemm_kernel *k);

/* ---- driver and packing (sgemm.c) ---------------------------------------- */

/* Floats of B packed for N columns and K rows: K * round_up(N, nr). */
int64_t nn_sgemm_packed_b_floats(const nn_sgemm_kernel *k, int64_t K, int64_t N);
/* Packs columns [0, N) of row-major B [K, N] (leading dimension ldb) into
 * dst (nn_sgemm_packed_b_floats floats). */
void nn_sgemm_pack_b(const nn_sgemm_kernel *k, int64_t K, int64_t N, const float *B,
                     int64_t ldb, float *dst);
/* Writes one row r of B (n values, columns [0, n)) into packed dst of a
 * K-row matrix: for producers that build B a row at a time (im2col). */
void nn_sgemm_pack_b_row(const nn_sgemm_kernel *k, int64_t K, int64_t r, const float *row,
                         int64_t n, float *dst);
/* C[M, N] = epi(A[M, K] * B) with pb = B packed by the functions above.
 * K >= 1. ep may be NULL (plain store). Single-threaded: callers split M
 * or N over threads. */
void nn_sgemm_run(const nn_sgemm_kernel *k, int64_t M, int64_t N, int64_t K, const float *A,
                  int64_t lda, const float *pb, float *C, int64_t ldc, const nn_sgemm_epi *ep);
/* As nn_sgemm_run, but a last panel of at most nr/4 columns (N % nr,
 * e.g. the 49th pixel of a 7x7 plane) runs the dot-product tiles instead
 * of a broadcast tile over mostly zero padding. Those columns sum in
 * another order than in a full panel: callers that split N over threads
 * must put the same columns in a last panel for every thread count (so
 * that results do not depend on it). next_a, when not NULL, is the A
 * (same lda) of the product the caller runs next: in a narrow product the
 * last row tile prefetches its first rows, as every other tile does the
 * next one's (Winograd's pos products one after another). */
void nn_sgemm_run_dot(const nn_sgemm_kernel *k, int64_t M, int64_t N, int64_t K, const float *A,
                      int64_t lda, const float *pb, float *C, int64_t ldc,
                      const nn_sgemm_epi *ep, const float *next_a);
/* C[M, panels * nr] = epi(A[M, K] * B) with B given indirectly: column
 * j * nr + l of row k is brow[k][poff[j] + l] (every panel nr columns
 * wide). Requires nn_sgemm_irows_for(k) != NULL. Loop order and
 * summation as nn_sgemm_run. */
void nn_sgemm_run_indirect(const nn_sgemm_kernel *k, int64_t M, int64_t panels, int64_t K,
                           const float *A, int64_t lda, const float *const *brow,
                           const int64_t *poff, float *C, int64_t ldc, const nn_sgemm_epi *ep);
/* Applies the epilogue to an m x n block c (ldc) whose epilogue pointers
 * are already offset to the block. */
void nn_sgemm_epi_apply(float *c, int64_t ldc, int64_t m, int64_t n, const nn_sgemm_epi *ep);

/* ---- reference (sgemm_ref.c) --------------------------------------------- */

/* C[M, N] = epi(A[M, K] * B[K, N]), all row-major, double accumulation:
 * the definition the fast paths are tested against. */
void nn_sgemm_ref(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                  int64_t ldb, float *C, int64_t ldc, const nn_sgemm_epi *ep);

#endif
