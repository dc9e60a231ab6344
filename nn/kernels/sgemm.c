/* sgemm.c — the blocked sgemm driver over packed B panels and the packing
 * helpers (see sgemm.h). Loop order: K blocks of NN_SGEMM_KC (the packed
 * B slice [KC][NR] stays in L1), M blocks of NN_SGEMM_MC rows (A's block
 * stays in L2), then N panels, then M register tiles. The epilogue runs in
 * the micro-kernel's store of the last K block; edge tiles go through a
 * local tile buffer. Single-threaded; K is never split across threads by
 * the callers, so results do not depend on the thread count. */
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

/* One register tile at (m0, n0) of mm <= mr rows and nn <= nr columns:
 * fewer rows run the mm-row kernel, at most nr/2 columns the half-width
 * one; a partial width goes through a local tile (the packed panel is
 * zero-padded, so only the store is partial). */
static void run_tile(const nn_sgemm_kernel *k, int64_t kc, const float *a, int64_t lda,
                     const float *b, float *c, int64_t ldc, int64_t mm, int64_t nn, int acc,
                     const nn_sgemm_epi *ep)
{
    float tile[NN_SGEMM_MR_MAX * NN_SGEMM_NR_MAX];
    int64_t w = nn <= k->nr / 2 ? k->nr / 2 : k->nr;
    nn_sgemm_ukernel fn = w == k->nr ? k->rows[mm] : k->half[mm];
    if (nn == w) {
        fn(kc, a, lda, b, c, ldc, acc, ep);
        return;
    }
    if (acc)
        for (int64_t i = 0; i < mm; i++)
            memcpy(tile + i * w, c + i * ldc, (size_t)nn * sizeof(float));
    fn(kc, a, lda, b, tile, w, acc, NULL);
    if (ep)
        nn_sgemm_epi_apply(tile, w, mm, nn, ep);
    for (int64_t i = 0; i < mm; i++)
        memcpy(c + i * ldc, tile + i * w, (size_t)nn * sizeof(float));
}

void nn_sgemm_run(const nn_sgemm_kernel *k, int64_t M, int64_t N, int64_t K, const float *A,
                  int64_t lda, const float *pb, float *C, int64_t ldc, const nn_sgemm_epi *ep)
{
    int64_t mr = k->mr, nr = k->nr;
    for (int64_t pc = 0; pc < K; pc += NN_SGEMM_KC) {
        int64_t kc = K - pc < NN_SGEMM_KC ? K - pc : NN_SGEMM_KC;
        int acc = pc > 0, last = pc + kc == K;
        for (int64_t ic = 0; ic < M; ic += NN_SGEMM_MC) {
            int64_t mc = M - ic < NN_SGEMM_MC ? M - ic : NN_SGEMM_MC;
            for (int64_t n0 = 0; n0 < N; n0 += nr) {
                int64_t nn = N - n0 < nr ? N - n0 : nr;
                const float *b = pb + (n0 / nr) * K * nr + pc * nr;
                for (int64_t m0 = ic; m0 < ic + mc; m0 += mr) {
                    int64_t mm = ic + mc - m0 < mr ? ic + mc - m0 : mr;
                    nn_sgemm_epi te;
                    if (last && ep)
                        tile_epi(ep, m0, n0, &te);
                    run_tile(k, kc, A + m0 * lda + pc, lda, b, C + m0 * ldc + n0, ldc, mm, nn,
                             acc, last && ep ? &te : NULL);
                }
            }
        }
    }
}
