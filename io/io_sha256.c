/* io_sha256.c — SHA-256 as specified in FIPS 180-4 (section 6.2), written
 * from the standard: 64-byte blocks, big-endian message words, 64 rounds,
 * padding with 0x80, zeros and the 64-bit big-endian bit length. Used to
 * fingerprint model files and uploads; io_sha256_file_hex streams. Holds the
 * portable block function (the reference) and the once-per-process choice
 * of the block path (io_sha256_shani.c when the CPU has SHA-NI). */
#include "io_sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

/* First 32 bits of the fractional parts of the cube roots of the first 64
 * primes (FIPS 180-4, 4.2.2). Aligned so the SHA-NI path reads each group
 * of four without crossing a cache line. */
_Alignas(16) const uint32_t io_sha256_k[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u,
    0x923f82a4u, 0xab1c5ed5u, 0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u,
    0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u, 0xe49b69c1u, 0xefbe4786u,
    0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u,
    0x06ca6351u, 0x14292967u, 0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u,
    0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u, 0xa2bfe8a1u, 0xa81a664bu,
    0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au,
    0x5b9cca4fu, 0x682e6ff3u, 0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u,
    0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u,
};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

/* Processes one 64-byte block into the chaining state h[8]. */
static void sha256_block_portable(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64];
    uint32_t a, b, c, d, e, f, g, hh;
    for (int t = 0; t < 16; t++)
        w[t] = ((uint32_t)p[4 * t] << 24) | ((uint32_t)p[4 * t + 1] << 16) |
               ((uint32_t)p[4 * t + 2] << 8) | (uint32_t)p[4 * t + 3];
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = ROTR(w[t - 15], 7) ^ ROTR(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = ROTR(w[t - 2], 17) ^ ROTR(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    a = h[0], b = h[1], c = h[2], d = h[3];
    e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int t = 0; t < 64; t++) {
        uint32_t S1 = ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = hh + S1 + ch + io_sha256_k[t] + w[t];
        uint32_t S0 = ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22);
        uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = S0 + maj;
        hh = g, g = f, f = e, e = d + t1;
        d = c, c = b, b = a, a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d;
    h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

void io_sha256_blocks_portable(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
    for (; nblocks > 0; nblocks--, p += 64)
        sha256_block_portable(h, p);
}

/* ---- path choice ---------------------------------------------------------- */

static pthread_once_t sha256_pick_once = PTHREAD_ONCE_INIT;
static int sha256_have_shani;

/* CPUID traps to the hypervisor in a VM: ask once per process. */
static void sha256_pick(void)
{
    sha256_have_shani = io_sha256_shani_supported();
}

int io_sha256_path_supported(io_sha256_path path)
{
    if (path == IO_SHA256_PORTABLE)
        return 1;
    pthread_once(&sha256_pick_once, sha256_pick);
    return path == IO_SHA256_SHANI && sha256_have_shani;
}

io_sha256_path io_sha256_path_best(void)
{
    return io_sha256_path_supported(IO_SHA256_SHANI) ? IO_SHA256_SHANI : IO_SHA256_PORTABLE;
}

static void sha256_blocks(io_sha256 *c, const uint8_t *p, size_t nblocks)
{
    if (c->path == IO_SHA256_SHANI)
        io_sha256_blocks_shani(c->h, p, nblocks);
    else
        io_sha256_blocks_portable(c->h, p, nblocks);
}

/* ---- streaming interface -------------------------------------------------- */

void io_sha256_init(io_sha256 *c)
{
    io_sha256_init_path(c, io_sha256_path_best());
}

void io_sha256_init_path(io_sha256 *c, io_sha256_path path)
{
    /* FIPS 180-4, 5.3.3: fractional parts of the square roots of the first
     * 8 primes. */
    static const uint32_t h0[8] = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
                                   0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u};
    for (int i = 0; i < 8; i++)
        c->h[i] = h0[i];
    c->total = 0;
    c->used = 0;
    c->path = io_sha256_path_supported(path) ? path : IO_SHA256_PORTABLE;
}

void io_sha256_update(io_sha256 *c, const void *data, size_t len)
{
    const uint8_t *p = data;
    c->total += len;
    if (c->used > 0) {
        size_t take = 64 - c->used < len ? 64 - c->used : len;
        for (size_t i = 0; i < take; i++)
            c->buf[c->used + i] = p[i];
        c->used += take;
        p += take;
        len -= take;
        if (c->used < 64)
            return;
        sha256_blocks(c, c->buf, 1);
        c->used = 0;
    }
    if (len >= 64) {
        sha256_blocks(c, p, len / 64);
        p += len / 64 * 64;
        len %= 64;
    }
    for (size_t i = 0; i < len; i++)
        c->buf[i] = p[i];
    c->used = len;
}

void io_sha256_final(io_sha256 *c, uint8_t digest[32])
{
    uint64_t bits = c->total * 8;
    c->buf[c->used++] = 0x80;
    if (c->used > 56) {
        while (c->used < 64)
            c->buf[c->used++] = 0;
        sha256_blocks(c, c->buf, 1);
        c->used = 0;
    }
    while (c->used < 56)
        c->buf[c->used++] = 0;
    for (int i = 0; i < 8; i++)
        c->buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
    sha256_blocks(c, c->buf, 1);
    for (int i = 0; i < 8; i++) {
        digest[4 * i] = (uint8_t)(c->h[i] >> 24);
        digest[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
        digest[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
        digest[4 * i + 3] = (uint8_t)c->h[i];
    }
    c->used = 0;
}

static void sha256_to_hex(const uint8_t digest[32], char out[65])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[64] = '\0';
}

void io_sha256_hex(const void *data, size_t len, char out[65])
{
    io_sha256 c;
    uint8_t d[32];
    io_sha256_init(&c);
    io_sha256_update(&c, data, len);
    io_sha256_final(&c, d);
    sha256_to_hex(d, out);
}

int io_sha256_file_hex(const char *path, char out[65])
{
    uint8_t buf[1 << 16];
    uint8_t d[32];
    io_sha256 c;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    io_sha256_init(&c);
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
        io_sha256_update(&c, buf, (size_t)n);
    }
    close(fd);
    io_sha256_final(&c, d);
    sha256_to_hex(d, out);
    return 0;
}
