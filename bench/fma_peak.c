/* fma_peak.c — the fp32 FMA throughput of one core, measured: 12
 * independent chains of vfmadd231ps (ymm with AVX2+FMA, zmm with AVX-512F)
 * in inline assembly, so no compiler can fold or reorder them; best of 5
 * runs of ~0.1 s, on the calling thread. Prints GFLOP/s and the ISA, or
 * nothing (exit 1) on a CPU without FMA or a non-x86-64 host. `make bench`
 * uses it as the peak behind "% of peak": a clock read from the OS is the
 * base clock under a hypervisor, not the one the core runs at. */
#include <stdio.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#if defined(__x86_64__)
#define CHAIN12(op, r)                                                                         \
    op " %%" r "15, %%" r "14, %%" r "0\n\t" op " %%" r "15, %%" r "14, %%" r "1\n\t" op        \
       " %%" r "15, %%" r "14, %%" r "2\n\t" op " %%" r "15, %%" r "14, %%" r "3\n\t" op          \
       " %%" r "15, %%" r "14, %%" r "4\n\t" op " %%" r "15, %%" r "14, %%" r "5\n\t" op          \
       " %%" r "15, %%" r "14, %%" r "6\n\t" op " %%" r "15, %%" r "14, %%" r "7\n\t" op          \
       " %%" r "15, %%" r "14, %%" r "8\n\t" op " %%" r "15, %%" r "14, %%" r "9\n\t" op          \
       " %%" r "15, %%" r "14, %%" r "10\n\t" op " %%" r "15, %%" r "14, %%" r "11\n\t"

/* Zeroes the 14 registers the chains use (VEX zeroes the upper bits too):
 * 0 * 0 + 0 never meets a denormal. */
#define ZERO14                                                                                 \
    "vxorps %%xmm0, %%xmm0, %%xmm0\n\tvxorps %%xmm1, %%xmm1, %%xmm1\n\t"                       \
    "vxorps %%xmm2, %%xmm2, %%xmm2\n\tvxorps %%xmm3, %%xmm3, %%xmm3\n\t"                       \
    "vxorps %%xmm4, %%xmm4, %%xmm4\n\tvxorps %%xmm5, %%xmm5, %%xmm5\n\t"                       \
    "vxorps %%xmm6, %%xmm6, %%xmm6\n\tvxorps %%xmm7, %%xmm7, %%xmm7\n\t"                       \
    "vxorps %%xmm8, %%xmm8, %%xmm8\n\tvxorps %%xmm9, %%xmm9, %%xmm9\n\t"                       \
    "vxorps %%xmm10, %%xmm10, %%xmm10\n\tvxorps %%xmm11, %%xmm11, %%xmm11\n\t"                 \
    "vxorps %%xmm14, %%xmm14, %%xmm14\n\tvxorps %%xmm15, %%xmm15, %%xmm15\n\t"

/* n iterations of 12 FMAs of `lanes` floats; returns seconds. */
static double run(long n, int avx512)
{
    double t = now_s();
    if (avx512)
        __asm__ volatile(ZERO14 "1:\n\t" CHAIN12("vfmadd231ps", "zmm") "dec %0\n\tjnz 1b"
                         : "+r"(n)
                         :
                         : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                           "xmm9", "xmm10", "xmm11", "xmm14", "xmm15", "cc");
    else
        __asm__ volatile(ZERO14 "1:\n\t" CHAIN12("vfmadd231ps", "ymm") "dec %0\n\tjnz 1b"
                         : "+r"(n)
                         :
                         : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                           "xmm9", "xmm10", "xmm11", "xmm14", "xmm15", "cc");
    return now_s() - t;
}

int main(void)
{
    int avx512 = __builtin_cpu_supports("avx512f");
    int lanes = avx512 ? 16 : 8;
    long n = 1000000;
    double best = 0;
    if (!avx512 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")))
        return 1;
    while (run(n, avx512) < 0.02)   /* ~0.1 s per timed run below */
        n *= 2;
    n *= 5;
    for (int r = 0; r < 5; r++) {
        double s = run(n, avx512), g = (double)n * 12 * lanes * 2 / s / 1e9;
        best = g > best ? g : best;
    }
    printf("%.1f %s\n", best, avx512 ? "AVX-512" : "AVX2+FMA");
    return 0;
}
#else
int main(void)
{
    return 1;
}
#endif
