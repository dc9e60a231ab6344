/* io_sha256_shani.c — SHA-256 block compression with the x86 SHA extensions
 * (SHA256RNDS2, SHA256MSG1, SHA256MSG2; SSSE3 byte swap and PALIGNR).
 * This file alone is built with -msha -msse4.1 -mssse3 (so the compiler may
 * emit any of those here) and is only called after
 * io_sha256_shani_supported(), which checks all three. Written from the
 * Intel SDM description of the three SHA instructions; the state stays in
 * two registers across all blocks of one call. io_sha256_blocks_portable
 * is the reference. */
#include "io_sha256.h"

#if defined(__x86_64__) && defined(__SHA__) && defined(__SSE4_1__) && defined(__SSSE3__)

#include <cpuid.h>
#include <immintrin.h>

int io_sha256_shani_supported(void)
{
    unsigned a, b, c, d;
    int sse;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    sse = ((c >> 9) & 1u) && ((c >> 19) & 1u);          /* SSSE3, SSE4.1 */
    if (!sse || __get_cpuid_max(0, NULL) < 7)
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b >> 29) & 1u;                              /* SHA */
}

/* Register conventions (lane 0 = bits 31:0):
 *   abef = {F, E, B, A} and cdgh = {H, G, D, C}: the working variables as
 *     SHA256RNDS2 takes them (second operand A,B,E,F; first C,D,G,H);
 *   a message register m holds W[t..t+3] in lanes 0..3, t a multiple of 4;
 *   SHA256RNDS2 reads W[t]+K[t] and W[t+1]+K[t+1] from lanes 0 and 1. */

/* Four rounds t = 4g .. 4g+3 with message words m = W[t..t+3]. Each
 * SHA256RNDS2 returns the new A,B,E,F; the old A,B,E,F is then the new
 * C,D,G,H, so the two registers swap roles twice and end where they began. */
static inline void sha256_rounds4(__m128i *abef, __m128i *cdgh, __m128i m, int g)
{
    __m128i k = _mm_loadu_si128((const __m128i *)(const void *)&io_sha256_k[4 * g]);
    __m128i wk = _mm_add_epi32(m, k);
    *cdgh = _mm_sha256rnds2_epu32(*cdgh, *abef, wk);
    *abef = _mm_sha256rnds2_epu32(*abef, *cdgh, _mm_shuffle_epi32(wk, 0x0e));
}

/* W[t+16..t+19] from m0..m3 = W[t..t+3] .. W[t+12..t+15]:
 *   W[j+16] = W[j] + s0(W[j+1]) + W[j+9] + s1(W[j+14]).
 * MSG1(m0, m1) gives W[j] + s0(W[j+1]); the W[j+9] term is m2:m3 shifted by
 * one word (PALIGNR); MSG2 adds s1 of W[j+14], reading W[t+14], W[t+15]
 * from m3 and its own first two results for the last two lanes. */
static inline __m128i sha256_schedule(__m128i m0, __m128i m1, __m128i m2, __m128i m3)
{
    __m128i x = _mm_sha256msg1_epu32(m0, m1);
    x = _mm_add_epi32(x, _mm_alignr_epi8(m3, m2, 4));
    return _mm_sha256msg2_epu32(x, m3);
}

void io_sha256_blocks_shani(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
    /* Byte order: message words are big-endian. */
    const __m128i bswap = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
    __m128i v0 = _mm_loadu_si128((const __m128i *)(const void *)&h[0]);   /* {A, B, C, D} */
    __m128i v1 = _mm_loadu_si128((const __m128i *)(const void *)&h[4]);   /* {E, F, G, H} */
    __m128i r0 = _mm_shuffle_epi32(v0, 0x1b);                             /* {D, C, B, A} */
    __m128i r1 = _mm_shuffle_epi32(v1, 0x1b);                             /* {H, G, F, E} */
    __m128i abef = _mm_unpackhi_epi64(r1, r0);                            /* {F, E, B, A} */
    __m128i cdgh = _mm_unpacklo_epi64(r1, r0);                            /* {H, G, D, C} */

    for (; nblocks > 0; nblocks--, p += 64) {
        const __m128i *q = (const __m128i *)(const void *)p;
        __m128i abef0 = abef, cdgh0 = cdgh;
        __m128i m0 = _mm_shuffle_epi8(_mm_loadu_si128(q + 0), bswap);
        __m128i m1 = _mm_shuffle_epi8(_mm_loadu_si128(q + 1), bswap);
        __m128i m2 = _mm_shuffle_epi8(_mm_loadu_si128(q + 2), bswap);
        __m128i m3 = _mm_shuffle_epi8(_mm_loadu_si128(q + 3), bswap);
        sha256_rounds4(&abef, &cdgh, m0, 0);
        sha256_rounds4(&abef, &cdgh, m1, 1);
        sha256_rounds4(&abef, &cdgh, m2, 2);
        sha256_rounds4(&abef, &cdgh, m3, 3);
        /* Rounds 16..63: each group's words replace the oldest register. */
        for (int g = 4; g < 16; g += 4) {
            m0 = sha256_schedule(m0, m1, m2, m3);
            sha256_rounds4(&abef, &cdgh, m0, g);
            m1 = sha256_schedule(m1, m2, m3, m0);
            sha256_rounds4(&abef, &cdgh, m1, g + 1);
            m2 = sha256_schedule(m2, m3, m0, m1);
            sha256_rounds4(&abef, &cdgh, m2, g + 2);
            m3 = sha256_schedule(m3, m0, m1, m2);
            sha256_rounds4(&abef, &cdgh, m3, g + 3);
        }
        abef = _mm_add_epi32(abef, abef0);
        cdgh = _mm_add_epi32(cdgh, cdgh0);
    }

    r0 = _mm_unpackhi_epi64(cdgh, abef);                                  /* {D, C, B, A} */
    r1 = _mm_unpacklo_epi64(cdgh, abef);                                  /* {H, G, F, E} */
    _mm_storeu_si128((__m128i *)(void *)&h[0], _mm_shuffle_epi32(r0, 0x1b));
    _mm_storeu_si128((__m128i *)(void *)&h[4], _mm_shuffle_epi32(r1, 0x1b));
}

#else

int io_sha256_shani_supported(void)
{
    return 0;
}

void io_sha256_blocks_shani(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
    io_sha256_blocks_portable(h, p, nblocks);
}

#endif
