/* io_resize_avx2.c — the resize passes of io_resize.h with AVX2 integer
 * vectors: the same int32 products and sums as the reference passes, in
 * the same order per output, so the same bytes (test_resize checks them
 * against each other). Built with -mavx2 (Makefile); io_resize_kernels_for
 * hands them out only where the CPU has AVX2.
 *  - horizontal, 3 channels: two output pixels per vector, lanes R, G, B
 *    (and a 4th, discarded) of each, one 4-byte load per pixel and tap;
 *    gray images take the reference pass.
 *  - vertical: 32 bytes of a row per step in four 8-lane int32 sums kept in
 *    registers over the taps. */
#include "io_resize.h"

#include <immintrin.h>
#include <string.h>

/* Sums shifted and clipped to [0, 255], as io_resize_clip. */
static inline __m256i clip8x8(__m256i s)
{
    s = _mm256_srai_epi32(s, IO_RESIZE_PREC_BITS);
    return _mm256_min_epi32(_mm256_max_epi32(s, _mm256_setzero_si256()), _mm256_set1_epi32(255));
}

/* Pixel p (3 bytes and the next one) as 4 int32 lanes. */
static inline __m128i load_px(const uint8_t *p)
{
    int32_t px4;
    memcpy(&px4, p, 4);
    return _mm_cvtepu8_epi32(_mm_cvtsi32_si128(px4));
}

void io_resize_h_u8_avx2(const uint8_t *src, size_t src_bytes, int w, int c, int y0, int y1,
                         const io_axis *ax, uint8_t *dst)
{
    const uint8_t *end = src + src_bytes;
    const __m256i half = _mm256_set1_epi32(1 << (IO_RESIZE_PREC_BITS - 1));
    const __m128i rgb2 = _mm_setr_epi8(0, 1, 2, 4, 5, 6, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    if (c != 3) {
        io_resize_h_u8_ref(src, src_bytes, w, c, y0, y1, ax, dst);
        return;
    }
    for (int y = y0; y < y1; y++) {
        const uint8_t *row = src + (size_t)y * w * 3;
        uint8_t *out = dst + (size_t)(y - y0) * ax->n * 3;
        int i = 0;
        /* outputs i (low lanes) and i + 1 (high lanes) over the taps of the
         * longer window: the coefficients past a window's count are 0, and
         * its pixels there are read (inside the image) but add 0 */
        for (; i + 1 < ax->n; i += 2, out += 6) {
            const int32_t *ka = ax->k + (size_t)i * ax->ksize, *kb = ka + ax->ksize;
            const uint8_t *pa = row + (size_t)ax->lo[i] * 3, *pb = row + (size_t)ax->lo[i + 1] * 3;
            int cnt = ax->cnt[i] > ax->cnt[i + 1] ? ax->cnt[i] : ax->cnt[i + 1];
            /* the 4-byte load of tap t reads bytes 3t .. 3t+3 of the window */
            if (pa + 3 * cnt + 1 > end || pb + 3 * cnt + 1 > end) {
                /* windows whose vector loads would run past the image */
                io_resize_h_px_ref(row, 3, ax, i, out);
                io_resize_h_px_ref(row, 3, ax, i + 1, out + 3);
                continue;
            }
            __m256i s = half;
            for (int t = 0; t < cnt; t++) {
                __m256i px = _mm256_set_m128i(load_px(pb + 3 * t), load_px(pa + 3 * t));
                __m256i kt = _mm256_set_m128i(_mm_set1_epi32(kb[t]), _mm_set1_epi32(ka[t]));
                s = _mm256_add_epi32(s, _mm256_mullo_epi32(px, kt));
            }
            s = clip8x8(s);
            __m128i p16 =
                _mm_packus_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
            /* R G B x of both outputs to R G B R G B: 8 bytes stored where a
             * later output of the row overwrites the 2 past the pair */
            __m128i b = _mm_shuffle_epi8(_mm_packus_epi16(p16, p16), rgb2);
            if (i + 2 < ax->n) {
                _mm_storel_epi64((__m128i *)out, b);
            } else {
                uint8_t tmp[8];
                _mm_storel_epi64((__m128i *)tmp, b);
                memcpy(out, tmp, 6);
            }
        }
        if (i < ax->n)
            io_resize_h_px_ref(row, 3, ax, i, out);
    }
}

/* Bytes x .. x+7 of row as 8 int32 lanes. */
static inline __m256i load8(const uint8_t *p)
{
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
}

void io_resize_v_u8_avx2(const uint8_t *src, size_t stride, int y0, const io_axis *ay,
                         int32_t *acc, uint8_t *dst)
{
    const __m256i half = _mm256_set1_epi32(1 << (IO_RESIZE_PREC_BITS - 1));
    /* dword order after the two in-lane packs of four 8-lane sums */
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    (void)acc;          /* the sums stay in registers */
    for (int i = 0; i < ay->n; i++) {
        const int32_t *k = ay->k + (size_t)i * ay->ksize;
        const uint8_t *top = src + (size_t)(ay->lo[i] - y0) * stride;
        uint8_t *out = dst + (size_t)i * stride;
        int cnt = ay->cnt[i];
        size_t x = 0;
        for (; x + 32 <= stride; x += 32) {
            __m256i s0 = half, s1 = half, s2 = half, s3 = half;
            for (int t = 0; t < cnt; t++) {
                const uint8_t *r = top + (size_t)t * stride + x;
                __m256i kt = _mm256_set1_epi32(k[t]);
                s0 = _mm256_add_epi32(s0, _mm256_mullo_epi32(load8(r), kt));
                s1 = _mm256_add_epi32(s1, _mm256_mullo_epi32(load8(r + 8), kt));
                s2 = _mm256_add_epi32(s2, _mm256_mullo_epi32(load8(r + 16), kt));
                s3 = _mm256_add_epi32(s3, _mm256_mullo_epi32(load8(r + 24), kt));
            }
            __m256i b = _mm256_packus_epi16(_mm256_packus_epi32(clip8x8(s0), clip8x8(s1)),
                                            _mm256_packus_epi32(clip8x8(s2), clip8x8(s3)));
            _mm256_storeu_si256((__m256i *)(out + x), _mm256_permutevar8x32_epi32(b, order));
        }
        for (; x + 8 <= stride; x += 8) {
            __m256i s = half;
            for (int t = 0; t < cnt; t++) {
                __m256i r = load8(top + (size_t)t * stride + x);
                s = _mm256_add_epi32(s, _mm256_mullo_epi32(r, _mm256_set1_epi32(k[t])));
            }
            __m128i c = _mm_packus_epi32(_mm256_castsi256_si128(clip8x8(s)),
                                         _mm256_extracti128_si256(clip8x8(s), 1));
            _mm_storel_epi64((__m128i *)(out + x), _mm_packus_epi16(c, c));
        }
        for (; x < stride; x++) {
            int32_t s = 1 << (IO_RESIZE_PREC_BITS - 1);
            for (int t = 0; t < cnt; t++)
                s += top[(size_t)t * stride + x] * k[t];
            out[x] = io_resize_clip(s);
        }
    }
}
