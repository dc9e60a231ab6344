/* sgemm_ukernel.h — the register-tile micro-kernel body shared by every
 * ISA: each ISA file defines the vector macros below and includes this
 * once per row count, so all ISAs run the same loop and epilogue (the
 * AVX-512 instance runs only where the CPU has it). The MR x NR
 * accumulators (NR = UK_NV vectors of UK_W lanes) stay in registers for
 * the whole kc loop: per k, UK_NV loads of the packed B slice, UK_MR
 * broadcasts of A and UK_MR * UK_NV fused multiply-adds (the k loop
 * unrolled by 4: 0.77 -> 0.89 of the FMA peak in L1 for the AVX2 6x16 at
 * kc 256); per 16 k, with pf, UK_MR line prefetches of the next tile's A,
 * which cover it by the end of this tile's loop (as one sequential stream
 * when its rows are contiguous: a GEMM that streams A from memory, e.g.
 * Winograd's U at batch 1, reads it 8-17% faster than with one stream
 * per row). The prefetches may reach past the end of A (the next tile may
 * have fewer rows): prefetches do not fault.
 * Required: UK_W, UK_V (vector type), UK_ZERO(),
 * UK_LOAD(p), UK_STORE(p, v), UK_SET1(x), UK_FMA(a, b, c) = a*b + c,
 * UK_ADD(a, b), UK_MAXV(lo, v) / UK_MINV(hi, v) returning v when v is NaN.
 * Per inclusion: UK_NAME, UK_MR, UK_NV, optional UK_BSTRIDE (floats per k
 * of the packed B panel, default UK_NV * UK_W: a half-width tile reads the
 * first half of a full panel), UK_STATIC (static linkage, for the edge
 * variants) and UK_INDIRECT (B row k is read at b[k] + boff instead of a
 * packed panel: the indirect tile, nn_sgemm_ikernel); these are undefined
 * at the end so an ISA file may include this several times. */

#ifndef UK_BSTRIDE
#define UK_BSTRIDE (UK_NV * UK_W)
#endif

#ifdef UK_STATIC
static
#endif
#ifdef UK_INDIRECT
void UK_NAME(int64_t kc, const float *a, int64_t lda, const float *const *b, int64_t boff, float *c,
             int64_t ldc, int acc, const nn_sgemm_epi *ep, const float *pf)
#else
void UK_NAME(int64_t kc, const float *a, int64_t lda, const float *b, float *c, int64_t ldc,
             int acc, const nn_sgemm_epi *ep, const float *pf)
#endif
{
    UK_V r[UK_MR][UK_NV];
    const float *ap[UK_MR];
#pragma GCC unroll 16
    for (int i = 0; i < UK_MR; i++) {
        ap[i] = a + i * lda;
#pragma GCC unroll 4
        for (int j = 0; j < UK_NV; j++)
            r[i][j] = UK_ZERO();
    }
    for (int64_t k0 = 0; k0 < kc; k0 += 16) {
        int64_t k1 = kc - k0 < 16 ? kc : k0 + 16;
        if (pf) {
            /* UK_MR lines, to L2: when the next tile's rows are one
             * block (lda == kc), the next UK_MR lines of it in order, one
             * sequential stream; else a line of each of its rows */
            const float *pk = lda == kc ? pf + k0 * UK_MR : pf + k0;
            int64_t step = lda == kc ? 16 : lda;
#pragma GCC unroll 16
            for (int i = 0; i < UK_MR; i++)
                __builtin_prefetch(pk + i * step, 0, 2);
        }
#pragma GCC unroll 4
        for (int64_t k = k0; k < k1; k++) {
            UK_V bv[UK_NV];
#ifdef UK_INDIRECT
            const float *bk = b[k] + boff;
#else
            const float *bk = b;
#endif
#pragma GCC unroll 4
            for (int j = 0; j < UK_NV; j++)
                bv[j] = UK_LOAD(bk + j * UK_W);
#pragma GCC unroll 16
            for (int i = 0; i < UK_MR; i++) {
                UK_V av = UK_SET1(ap[i][k]);
#pragma GCC unroll 4
                for (int j = 0; j < UK_NV; j++)
                    r[i][j] = UK_FMA(av, bv[j], r[i][j]);
            }
#ifndef UK_INDIRECT
            b += UK_BSTRIDE;
#endif
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < UK_MR; i++) {
        float *ci = c + i * ldc;
#pragma GCC unroll 4
        for (int j = 0; j < UK_NV; j++) {
            UK_V v = r[i][j];
            if (acc)
                v = UK_ADD(v, UK_LOAD(ci + j * UK_W));
            if (ep) {
                if (ep->bias_m)
                    v = UK_ADD(v, UK_SET1(ep->bias_m[i]));
                if (ep->bias_n)
                    v = UK_ADD(v, UK_LOAD(ep->bias_n + j * UK_W));
                if (ep->res)
                    v = UK_ADD(v, UK_LOAD(ep->res + i * ep->ldr + j * UK_W));
                if (ep->clamp)
                    v = UK_MINV(UK_SET1(ep->hi), UK_MAXV(UK_SET1(ep->lo), v));
            }
            UK_STORE(ci + j * UK_W, v);
        }
    }
}

#undef UK_NAME
#undef UK_MR
#undef UK_NV
#undef UK_BSTRIDE
#undef UK_STATIC
#undef UK_INDIRECT
