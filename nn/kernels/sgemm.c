/* sgemm.c — the blocked sgemm driver over packed B panels and the packing
 * helpers (see sgemm.h). Loop order: K blocks of NN_SGEMM_KC (or
 * NN_SGEMM_KC_NARROW for products of few N panels; the packed
 * B slice [KC][NR] stays in L1), M blocks of NN_SGEMM_MC rows (A's block
 * stays in L2), then N panels, then M register tiles. The epilogue runs in
 * the micro-kernel's store of the last K block; edge tiles go through a
 * local tile buffer. Variants: a narrow last panel as dot-product tiles
 * (nn_sgemm_run_dot) and B rows read through pointers (indirect tiles,
 * nn_sgemm_run_indirect). Single-threaded; K is never split across
 * threads by the callers, so results do not depend on the thread count.
 * When N is at most NN_SGEMM_PF_PANELS panels, each tile of the first
 * panel prefetches the next tile's A: a matrix that few columns share
 * (Winograd's U at batch 1: 16-49 columns) otherwise streams from memory
 * at half the rate its FMAs could use it (ResNet18 at batch 1, 1 thread:
 * its 256-channel Winograd convs 1.61 -> 1.19 ms, 128-channel 1.21 ->
 * 0.96). Wider products reuse each A block over many panels, where the
 * prefetches only cost issue slots (its 64-channel convs were 4% slower
 * with them). */
#include "nn/kernels/sgemm.h"

#include <string.h>

int64_t nn_sgemm_packed_b_floats(const nn_sgemm_kernel *k, int64_t K, int64_t N)
{
    return K * ((N + k->nr - 1) / k->nr * k->nr);
}

void nn_sgemm_pack_b(const nn_sgemm_kernel *k, int64_t K, int64_t N, const float *B,
                     int64_t ldb, float *dst)
{
    int64_t nr = k->nr;
    for (int64_t n0 = 0; n0 < N; n0 += nr) {
        int64_t nn = N - n0 < nr ? N - n0 : nr;
        float *d = dst + (n0 / nr) * K * nr;
        const float *s = B + n0;
        for (int64_t r = 0; r < K; r++, d += nr, s += ldb) {
            memcpy(d, s, (size_t)nn * sizeof(float));
            if (nn < nr)
                memset(d + nn, 0, (size_t)(nr - nn) * sizeof(float));
        }
    }
}

void nn_sgemm_pack_b_row(const nn_sgemm_kernel *k, int64_t K, int64_t r, const float *row,
                         int64_t n, float *dst)
{
    int64_t nr = k->nr;
    for (int64_t n0 = 0; n0 < n; n0 += nr) {
        int64_t nn = n - n0 < nr ? n - n0 : nr;
        float *d = dst + (n0 / nr) * K * nr + r * nr;
        memcpy(d, row + n0, (size_t)nn * sizeof(float));
        if (nn < nr)
            memset(d + nn, 0, (size_t)(nr - nn) * sizeof(float));
    }
}

void nn_sgemm_epi_apply(float *c, int64_t ldc, int64_t m, int64_t n, const nn_sgemm_epi *ep)
{
    for (int64_t i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        for (int64_t j = 0; j < n; j++) {
            float v = ci[j];
            if (ep->bias_m)
                v += ep->bias_m[i];
            if (ep->bias_n)
                v += ep->bias_n[j];
            if (ep->res)
                v += ep->res[i * ep->ldr + j];
            if (ep->clamp) {
                v = v < ep->lo ? ep->lo : v;
                v = v > ep->hi ? ep->hi : v;
            }
            ci[j] = v;
        }
    }
}

/* The epilogue of the tile at (m0, n0): ep's pointers offset to it. */
static void tile_epi(const nn_sgemm_epi *ep, int64_t m0, int64_t n0, nn_sgemm_epi *out)
{
    *out = *ep;
    if (out->bias_m)
        out->bias_m += m0;
    if (out->bias_n)
        out->bias_n += n0;
    if (out->res)
        out->res += m0 * out->ldr + n0;
}

/* Rows of the next register tile with rem rows left: mr, but a tail of a
 * few rows past a full tile splits into two halves (6 + 2 rows run as
 * 4 + 4: a 2-row tile has too few accumulators to keep the FMA units
 * busy). Each row sums in the same order whatever its tile. */
static inline int64_t tile_rows(int64_t mr, int64_t rem)
{
    return rem <= mr ? rem : rem < mr + mr / 2 ? (rem + 1) / 2 : mr;
}

/* One register tile at (m0, n0) of mm <= mr rows and nn <= nr columns:
 * fewer rows run the mm-row kernel, at most nr/2 columns the half-width
 * one; a partial width goes through a local tile (the packed panel is
 * zero-padded, so only the store is partial). */
static void run_tile(const nn_sgemm_kernel *k, int64_t kc, const float *a, int64_t lda,
                     const float *b, float *c, int64_t ldc, int64_t mm, int64_t nn, int acc,
                     const nn_sgemm_epi *ep, const float *pf)
{
    float tile[NN_SGEMM_MR_MAX * NN_SGEMM_NR_MAX];
    int64_t w = nn <= k->nr / 2 ? k->nr / 2 : k->nr;
    nn_sgemm_ukernel fn = w == k->nr ? k->rows[mm] : k->half[mm];
    if (nn == w) {
        fn(kc, a, lda, b, c, ldc, acc, ep, pf);
        return;
    }
    if (acc)
        for (int64_t i = 0; i < mm; i++)
            memcpy(tile + i * w, c + i * ldc, (size_t)nn * sizeof(float));
    fn(kc, a, lda, b, tile, w, acc, NULL, pf);
    if (ep)
        nn_sgemm_epi_apply(tile, w, mm, nn, ep);
    for (int64_t i = 0; i < mm; i++)
        memcpy(c + i * ldc, tile + i * w, (size_t)nn * sizeof(float));
}

/* The prefetch target of the tile at rows [m0, m0 + mm), K block pc:
 * the next tile's A when on (a first-panel tile of a narrow product) and
 * rows remain, else next (the caller's next product, or NULL). */
static inline const float *tile_pf(int on, const float *A, int64_t lda, int64_t m0, int64_t mm,
                                   int64_t M, int64_t pc, const float *next)
{
    return !on ? NULL : m0 + mm < M ? A + (m0 + mm) * lda + pc : next;
}

const nn_sgemm_dot *nn_sgemm_dot_for(const nn_sgemm_kernel *k)
{
    return k->isa == NN_ISA_AVX512 ? &f32_dot_avx512
         : k->isa == NN_ISA_AVX2   ? &f32_dot_avx2
                                   : &f32_dot_generic;
}

const nn_sgemm_ikernel *nn_sgemm_irows_for(const nn_sgemm_kernel *k)
{
    return k->isa == NN_ISA_AVX2      ? f32_igemm_6x16_avx2_rows
         : k->isa == NN_ISA_GENERIC   ? f32_igemm_6x8_generic_rows
                                      : NULL;
}

void nn_sgemm_run_indirect(const nn_sgemm_kernel *k, int64_t M, int64_t panels, int64_t K,
                           const float *A, int64_t lda, const float *const *brow,
                           const int64_t *poff, float *C, int64_t ldc, const nn_sgemm_epi *ep)
{
    const nn_sgemm_ikernel *rows = nn_sgemm_irows_for(k);
    int64_t mr = k->mr, nr = k->nr;
    int pf = panels <= NN_SGEMM_PF_PANELS;
    for (int64_t pc = 0; pc < K; pc += NN_SGEMM_KC) {
        int64_t kc = K - pc < NN_SGEMM_KC ? K - pc : NN_SGEMM_KC;
        int acc = pc > 0, last = pc + kc == K;
        for (int64_t ic = 0; ic < M; ic += NN_SGEMM_MC) {
            int64_t mc = M - ic < NN_SGEMM_MC ? M - ic : NN_SGEMM_MC;
            for (int64_t j = 0; j < panels; j++)
                for (int64_t m0 = ic, mm; m0 < ic + mc; m0 += mm) {
                    mm = tile_rows(mr, ic + mc - m0);
                    nn_sgemm_epi te;
                    if (last && ep)
                        tile_epi(ep, m0, j * nr, &te);
                    rows[mm](kc, A + m0 * lda + pc, lda, brow + pc, poff[j], C + m0 * ldc + j * nr,
                             ldc, acc, last && ep ? &te : NULL,
                             tile_pf(pf && j == 0, A, lda, m0, mm, M, pc, NULL));
                }
        }
    }
}

/* The narrow last panel of nt columns for rows [0, mm) of one K block:
 * bt holds the columns transposed ([nt][ldbt]); c = (acc ? c : 0) + A * B,
 * then the epilogue ep (offset to the block) when non-NULL. */
static void run_dot_block(const nn_sgemm_dot *d, int64_t kc, const float *a, int64_t lda,
                          const float *bt, int64_t ldbt, float *c, int64_t ldc, int64_t mm,
                          int64_t nt, int acc, const nn_sgemm_epi *ep)
{
    float out[NN_SGEMM_MR_MAX * 2];
    for (int64_t j0 = 0; j0 < nt;) {
        int64_t w = nt - j0 >= 2 ? 2 : 1, rows = w == 2 ? d->mr2 : d->mr1;
        nn_sgemm_dotfn fn = w == 2 ? d->col2 : d->col1;
        for (int64_t i0 = 0; i0 < mm; i0 += rows) {
            int64_t r = mm - i0 < rows ? mm - i0 : rows;
            float *ct = c + i0 * ldc + j0;
            fn(kc, a + i0 * lda, lda, r, bt + j0 * ldbt, ldbt, out);
            for (int64_t i = 0; i < r; i++)
                for (int64_t j = 0; j < w; j++)
                    ct[i * ldc + j] = acc ? ct[i * ldc + j] + out[i * w + j] : out[i * w + j];
            if (ep) {
                nn_sgemm_epi te;
                tile_epi(ep, i0, j0, &te);
                nn_sgemm_epi_apply(ct, ldc, r, w, &te);
            }
        }
        j0 += w;
    }
}

/* The driver; dot: a last panel of at most nr/4 columns runs the dot
 * tiles. */
static void run_blocked(const nn_sgemm_kernel *k, int64_t M, int64_t N, int64_t K,
                        const float *A, int64_t lda, const float *pb, float *C, int64_t ldc,
                        const nn_sgemm_epi *ep, int dot, const float *next_a)
{
    int64_t mr = k->mr, nr = k->nr;
    int pf = N <= NN_SGEMM_PF_PANELS * nr;
    int64_t kcb = pf ? NN_SGEMM_KC_NARROW : NN_SGEMM_KC;   /* K block */
    int64_t nt = dot && N % nr <= nr / 4 ? N % nr : 0;     /* dot-tile columns */
    int64_t nf = N - nt;                                    /* broadcast-tile columns */
    const nn_sgemm_dot *d = nn_sgemm_dot_for(k);
    float bt[NN_SGEMM_NR_MAX / 4 * NN_SGEMM_KC_NARROW];     /* [nt][kcb] */
    for (int64_t pc = 0; pc < K; pc += kcb) {
        int64_t kc = K - pc < kcb ? K - pc : kcb;
        int acc = pc > 0, last = pc + kc == K;
        if (nt > 0) {
            const float *b = pb + (nf / nr) * K * nr + pc * nr;
            for (int64_t j = 0; j < nt; j++)
                for (int64_t q = 0; q < kc; q++)
                    bt[j * kcb + q] = b[q * nr + j];
        }
        for (int64_t ic = 0; ic < M; ic += NN_SGEMM_MC) {
            int64_t mc = M - ic < NN_SGEMM_MC ? M - ic : NN_SGEMM_MC;
            for (int64_t n0 = 0; n0 < nf; n0 += nr) {
                int64_t nn = nf - n0 < nr ? nf - n0 : nr;
                const float *b = pb + (n0 / nr) * K * nr + pc * nr;
                for (int64_t m0 = ic, mm; m0 < ic + mc; m0 += mm) {
                    mm = tile_rows(mr, ic + mc - m0);
                    nn_sgemm_epi te;
                    if (last && ep)
                        tile_epi(ep, m0, n0, &te);
                    run_tile(k, kc, A + m0 * lda + pc, lda, b, C + m0 * ldc + n0, ldc, mm, nn,
                             acc, last && ep ? &te : NULL,
                             tile_pf(pf && n0 == 0, A, lda, m0, mm, M, pc, last ? next_a : NULL));
                }
            }
            if (nt > 0) {
                nn_sgemm_epi te;
                if (last && ep)
                    tile_epi(ep, ic, nf, &te);
                run_dot_block(d, kc, A + ic * lda + pc, lda, bt, kcb, C + ic * ldc + nf, ldc, mc,
                              nt, acc, last && ep ? &te : NULL);
            }
        }
    }
}

void nn_sgemm_run(const nn_sgemm_kernel *k, int64_t M, int64_t N, int64_t K, const float *A,
                  int64_t lda, const float *pb, float *C, int64_t ldc, const nn_sgemm_epi *ep)
{
    run_blocked(k, M, N, K, A, lda, pb, C, ldc, ep, 0, NULL);
}

void nn_sgemm_run_dot(const nn_sgemm_kernel *k, int64_t M, int64_t N, int64_t K, const float *A,
                      int64_t lda, const float *pb, float *C, int64_t ldc,
                      const nn_sgemm_epi *ep, const float *next_a)
{
    run_blocked(k, M, N, K, A, lda, pb, C, ldc, ep, 1, next_a);
}
