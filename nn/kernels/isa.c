/* isa.c — the one sgemm dispatcher: detects what the CPU supports with
 * CPUID and XGETBV (instruction set bits and the OS-enabled register
 * state), picks the ISA (nn_isa_pick), honours
 * SCANLITE_ISA=generic|avx2|avx512 and maps an ISA to its
 * micro-kernel through one table. A forced ISA the CPU lacks, or an
 * unknown name, is an error for the caller to report (never a crash on an
 * illegal instruction, never a silent fallback). */
#include "nn/kernels/sgemm.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define ISA_X86 1
#endif

/* The dispatch table, indexed by nn_isa. Columns: ISA, micro-kernel name,
 * register tile rows (mr, over M), columns (nr, over N, the packed panel
 * width), the full-tile function, the functions by row count (M edge) at
 * full and at half width (N edge). */
static const nn_sgemm_kernel kernels[NN_ISA_COUNT] = {
    {NN_ISA_GENERIC, "f32_gemm_6x8_generic", 6, 8, f32_gemm_6x8_generic,
     f32_gemm_6x8_generic_rows, f32_gemm_6x8_generic_half},
    {NN_ISA_AVX2, "f32_gemm_6x16_avx2", 6, 16, f32_gemm_6x16_avx2, f32_gemm_6x16_avx2_rows,
     f32_gemm_6x16_avx2_half},
    {NN_ISA_AVX512, "f32_gemm_8x32_avx512", 8, 32, f32_gemm_8x32_avx512,
     f32_gemm_8x32_avx512_rows, f32_gemm_8x32_avx512_half},
};

static const char *const isa_names[NN_ISA_COUNT] = {"generic", "avx2", "avx512"};

const char *nn_isa_name(nn_isa isa)
{
    return (int)isa >= 0 && isa < NN_ISA_COUNT ? isa_names[isa] : "?";
}

#ifdef ISA_X86
/* XCR0: which register states the OS saves (bit 1 SSE, 2 AVX, 5-7 the
 * AVX-512 opmask and upper ZMM halves). Only valid when OSXSAVE is set. */
static uint64_t isa_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
#endif

/* What this CPU and OS support, probed once per process (CPUID is slow
 * under a hypervisor, which traps it, and every Conv prepare asks). */
static unsigned isa_mask;       /* bit i: nn_isa i supported */
static pthread_once_t isa_once = PTHREAD_ONCE_INIT;

static int isa_probe(nn_isa isa)
{
#ifdef ISA_X86
    unsigned a, b, c, d, b7 = 0;
    uint64_t xcr0;
    int osxsave, avx, fma;
    if (isa == NN_ISA_GENERIC)
        return 1;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    osxsave = (c >> 27) & 1;
    avx = (c >> 28) & 1;
    fma = (c >> 12) & 1;
    if (!osxsave || !avx || !fma)
        return 0;
    xcr0 = isa_xcr0();
    if ((xcr0 & 0x6) != 0x6)
        return 0;
    if (__get_cpuid_count(7, 0, &a, &b7, &c, &d) == 0)
        return 0;
#ifdef NN_EMULATE_AVX512
    /* test build (make EMU_AVX512=1): the avx512 kernels run on SIMDe,
     * which needs what avx2 needs */
    if (isa == NN_ISA_AVX512)
        isa = NN_ISA_AVX2;
#endif
    if (isa == NN_ISA_AVX2)
        return (b7 >> 5) & 1;
    /* AVX-512F (CPUID.7.0:EBX bit 16) and opmask/ZMM state enabled */
    return ((b7 >> 16) & 1) && (xcr0 & 0xe0) == 0xe0;
#else
    return isa == NN_ISA_GENERIC;
#endif
}

/* 1 on a CPU that runs a 512-bit FMA as two 256-bit halves: AMD family
 * 19h (Zen 4; Zen 3, the same family, has no AVX-512). Its AVX-512 FMA
 * peak is its AVX2 one (bench/fma_peak.c: 117.5 GFLOP/s per core either
 * way on an EPYC 9004), so only the tiles differ. */
static int isa_split512(void)
{
#ifdef ISA_X86
    unsigned a, b, c, d, family;
    if (!__get_cpuid(0, &a, &b, &c, &d) || b != 0x68747541u || d != 0x69746e65u ||
        c != 0x444d4163u)           /* "AuthenticAMD" in EBX, EDX, ECX */
        return 0;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    family = (a >> 8) & 0xf;
    if (family == 0xf)
        family += (a >> 20) & 0xff;
    return family == 0x19;
#else
    return 0;
#endif
}

static int isa_split;           /* isa_split512(), probed with isa_mask */

static void isa_probe_all(void)
{
    for (int i = 0; i < NN_ISA_COUNT; i++)
        if (isa_probe((nn_isa)i))
            isa_mask |= 1u << i;
    isa_split = isa_split512();
}

nn_isa nn_isa_pick(unsigned mask, int split512)
{
    for (int i = NN_ISA_COUNT - 1; i > 0; i--)
        if ((mask >> i) & 1 && !(i == NN_ISA_AVX512 && split512 && (mask >> NN_ISA_AVX2) & 1))
            return (nn_isa)i;
    return NN_ISA_GENERIC;
}

int nn_isa_supported(nn_isa isa)
{
    if ((int)isa < 0 || isa >= NN_ISA_COUNT)
        return 0;
    pthread_once(&isa_once, isa_probe_all);
    return (isa_mask >> isa) & 1;
}

nn_status nn_isa_select(nn_isa *out, nn_err *e)
{
    const char *env = getenv("SCANLITE_ISA");
    *out = NN_ISA_GENERIC;
    if (env && env[0] != '\0') {
        int found = -1;
        for (int i = 0; i < NN_ISA_COUNT; i++)
            if (strcmp(env, isa_names[i]) == 0)
                found = i;
        if (found < 0)
            return nn_err_set(e, NN_ERR_UNSUPPORTED,
                              "SCANLITE_ISA=%.40s is not one of generic, avx2, avx512", env);
        if (!nn_isa_supported((nn_isa)found))
            return nn_err_set(e, NN_ERR_UNSUPPORTED,
                              "SCANLITE_ISA=%s: this CPU does not support %s", env, env);
        *out = (nn_isa)found;
        return NN_OK;
    }
    pthread_once(&isa_once, isa_probe_all);
    *out = nn_isa_pick(isa_mask, isa_split);
    return NN_OK;
}

const nn_sgemm_kernel *nn_sgemm_kernel_for(nn_isa isa)
{
    return (int)isa >= 0 && isa < NN_ISA_COUNT ? &kernels[isa] : NULL;
}

nn_status nn_sgemm_select(const nn_sgemm_kernel **out, nn_err *e)
{
    nn_isa isa;
    nn_status st = nn_isa_select(&isa, e);
    *out = st == NN_OK ? &kernels[isa] : NULL;
    return st;
}
