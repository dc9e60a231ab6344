/* test_crc.c — CRC-32 (io/io_crc32.h): the table path against an
 * independent bitwise CRC and the check value 0xCBF43926 of "123456789";
 * the PCLMULQDQ folding path (when the CPU has it) against the table path
 * over random lengths 0..100k, misaligned starts, random starting CRCs,
 * chained chunks and the lengths around its block boundaries; combination
 * and the threaded split against one pass. Prints the throughput of both
 * paths (not checked: the machine may be shared). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/io_crc32.h"
#include "io/io_slm_format.h"
#include "tests/tassert.h"

#define BUF_MAX (100000 + 64)           /* random lengths 0..100k, starts 0..63 */

static uint8_t *buf;                    /* BUF_MAX random bytes */
static unsigned rng = 2463534242u;

static unsigned next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* Independent bitwise CRC-32 (no table), continuing from crc. */
static uint32_t crc32_bitwise(uint32_t crc, const uint8_t *p, size_t n)
{
    uint32_t c = ~crc;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return ~c;
}

static void test_check_value(void)
{
    const char *s = "123456789";
    T_CHECK(io_crc32_table(0, s, 9) == 0xcbf43926u);
    T_CHECK(io_crc32(0, s, 9) == 0xcbf43926u);
    T_CHECK(io_slm_crc32(0, s, 9) == 0xcbf43926u);
    T_CHECK(crc32_bitwise(0, (const uint8_t *)s, 9) == 0xcbf43926u);
    T_CHECK(io_crc32_table(0x1234u, s, 0) == 0x1234u);
    T_CHECK(io_crc32(0x1234u, s, 0) == 0x1234u);
    if (io_crc32_pclmul_supported())
        T_CHECK(io_crc32_pclmul(0, s, 9) == 0xcbf43926u);
    else
        printf("note: no PCLMULQDQ here, only the table path is tested\n");
}

static void test_table_vs_bitwise(void)
{
    for (int t = 0; t < 200; t++) {
        size_t off = next_rand() % 64, len = next_rand() % 3000;
        uint32_t c0 = next_rand();
        T_CHECKF(io_crc32_table(c0, buf + off, len) == crc32_bitwise(c0, buf + off, len),
                 "start %zu length %zu", off, len);
    }
}

/* pclmul(crc, p, n) == table(crc, p, n) for one case, with the 128-bit
 * folds alone and with the 256-bit ones where the CPU has them. */
static void check_fold(uint32_t c0, size_t off, size_t len)
{
    uint32_t want = io_crc32_table(c0, buf + off, len);
    T_CHECKF(io_crc32_pclmul(c0, buf + off, len) == want, "start %zu length %zu crc %08x", off,
             len, c0);
    T_CHECKF(io_crc32_pclmul_sse(c0, buf + off, len) == want, "128-bit: start %zu length %zu",
             off, len);
    T_CHECKF(io_crc32(c0, buf + off, len) == want, "dispatch: start %zu length %zu", off, len);
}

static void test_fold_vs_table(void)
{
    if (!io_crc32_pclmul_supported())
        return;
    /* Around the 64-byte main loop, the 16-byte loop and the tail; then
     * around the 256-bit path's threshold (512) and its 256-byte step. */
    for (size_t len = 0; len <= 300; len++)
        check_fold(next_rand(), len % 64, len);
    for (size_t len = 480; len <= 1100; len++)
        check_fold(next_rand(), len % 64, len);
    for (int t = 0; t < 3000; t++) {
        size_t len = t % 10 == 0 ? next_rand() % 100001 : next_rand() % 5000;
        check_fold(next_rand(), next_rand() % 64, len);
    }
    check_fold(0, 0, 100000);
    check_fold(0xffffffffu, 63, 100000);
    /* Chained chunks equal one pass. */
    for (int t = 0; t < 200; t++) {
        size_t a = next_rand() % 5000, b = next_rand() % 5000, off = next_rand() % 64;
        uint32_t one = io_crc32_table(0, buf + off, a + b);
        T_CHECK(io_crc32_pclmul(io_crc32_pclmul(0, buf + off, a), buf + off + a, b) == one);
    }
}

static void test_combine(void)
{
    for (int t = 0; t < 300; t++) {
        size_t a = next_rand() % 40000, b = next_rand() % 40000;
        uint32_t ca = io_crc32_table(0, buf, a), cb = io_crc32_table(0, buf + a, b);
        T_CHECKF(io_crc32_combine(ca, cb, b) == io_crc32_table(0, buf, a + b), "%zu + %zu", a, b);
    }
    T_CHECK(io_crc32_combine(0xcbf43926u, 0, 0) == 0xcbf43926u);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The threaded split on a buffer of several parts (an odd length), and
 * the throughput of each path. */
static void test_parallel(void)
{
    size_t len = 2 * IO_CRC32_PART_MIN + 4099;
    uint8_t *big = malloc(len);
    uint32_t want, c0 = 0x5a5a5a5au;
    double t0, t1, t2, t3;
    T_CHECK(big != NULL);
    if (!big)
        return;
    for (size_t i = 0; i < len; i++)
        big[i] = (uint8_t)(i * 2654435761u >> 13);
    t0 = now_ms();
    want = io_crc32_table(c0, big, len);
    t1 = now_ms();
    T_CHECK(io_crc32(c0, big, len) == want);
    t2 = now_ms();
    T_CHECK(io_crc32_parallel(c0, big, len, 0) == want);
    t3 = now_ms();
    for (int th = 1; th <= IO_CRC32_MAX_PARTS + 1; th++)
        T_CHECK(io_crc32_parallel(c0, big, len, th) == want);
    T_CHECK(io_crc32_parallel(c0, big, 1000, 0) == io_crc32_table(c0, big, 1000));
    printf("crc32 over %.1f MB: table %.2f GB/s, io_crc32 (%s) %.2f GB/s, parallel %.2f GB/s\n",
           (double)len / 1e6, (double)len / 1e6 / (t1 - t0),
           io_crc32_wide_supported()   ? "vpclmulqdq"
           : io_crc32_pclmul_supported() ? "pclmul"
                                         : "table",
           (double)len / 1e6 / (t2 - t1),
           (double)len / 1e6 / (t3 - t2));
    free(big);
}

int main(void)
{
    buf = malloc(BUF_MAX);
    if (!buf) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < BUF_MAX; i++)
        buf[i] = (uint8_t)next_rand();
    T_RUN(test_check_value);
    T_RUN(test_table_vs_bitwise);
    T_RUN(test_fold_vs_table);
    T_RUN(test_combine);
    T_RUN(test_parallel);
    free(buf);
    return t_summary("test_crc");
}
