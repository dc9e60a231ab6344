/* sgemm_ref.c — the naive reference sgemm: the definition of
 * C = epi(A B) with double accumulation, one element at a time. The fast
 * paths (every ISA) are tested against it by tests/test_kernels.c. */
#include "nn/kernels/sgemm.h"

void nn_sgemm_ref(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                  int64_t ldb, float *C, int64_t ldc, const nn_sgemm_epi *ep)
{
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double s = 0.0;
            for (int64_t k = 0; k < K; k++)
                s += (double)A[m * lda + k] * B[k * ldb + n];
            C[m * ldc + n] = (float)s;
        }
    if (ep)
        nn_sgemm_epi_apply(C, ldc, M, N, ep);
}
