/* sgemm_dot.h — the dot-product tile shared by every ISA for the narrow
 * last panel of a GEMM (a few columns, where a broadcast tile would
 * multiply mostly zero padding): UD_MR rows of A (row-major, lda) times
 * UD_NT columns given transposed as rows of bt ([UD_NT][kc], ldbt), both
 * read along k in vectors; out [UD_MR][UD_NT] (plain sums, no epilogue).
 * Rows at or past mm repeat row mm - 1 (their sums are the caller's to
 * ignore), so any 1 <= mm <= UD_MR runs the same loop.
 * Required: the UK_ vector macros of sgemm_ukernel.h and UK_HSUM(v), the
 * sum of the lanes. Per inclusion: UD_NAME, UD_MR, UD_NT (undefined at
 * the end). */

static void UD_NAME(int64_t kc, const float *a, int64_t lda, int64_t mm, const float *bt,
                    int64_t ldbt, float *out)
{
    UK_V r[UD_MR][UD_NT];
    const float *ap[UD_MR];
    int64_t k = 0;
#pragma GCC unroll 16
    for (int i = 0; i < UD_MR; i++) {
        ap[i] = a + (i < mm ? i : mm - 1) * lda;
#pragma GCC unroll 4
        for (int j = 0; j < UD_NT; j++)
            r[i][j] = UK_ZERO();
    }
    for (; k + UK_W <= kc; k += UK_W) {
        UK_V bv[UD_NT];
#pragma GCC unroll 4
        for (int j = 0; j < UD_NT; j++)
            bv[j] = UK_LOAD(bt + j * ldbt + k);
#pragma GCC unroll 16
        for (int i = 0; i < UD_MR; i++) {
            UK_V av = UK_LOAD(ap[i] + k);
#pragma GCC unroll 4
            for (int j = 0; j < UD_NT; j++)
                r[i][j] = UK_FMA(av, bv[j], r[i][j]);
        }
    }
    for (int i = 0; i < UD_MR; i++)
        for (int j = 0; j < UD_NT; j++) {
            float s = UK_HSUM(r[i][j]);
            for (int64_t q = k; q < kc; q++)
                s += ap[i][q] * bt[j * ldbt + q];
            out[i * UD_NT + j] = s;
        }
}

#undef UD_NAME
#undef UD_MR
#undef UD_NT
