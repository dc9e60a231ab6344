/* test_sha256.c — io_sha256 on every block path this CPU supports (portable
 * reference, SHA-NI): the FIPS 180-4 / NIST example vectors ("", "abc", the
 * 448- and 896-bit messages, one million 'a' in uneven chunks and as a
 * file), every split of a 200-byte message, the two block functions against
 * each other on random states and blocks, random lengths 0..20000 fed in
 * random chunks against a one-shot padded reference, and a throughput
 * micro-benchmark per path (printed, never asserted). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io/io_sha256.h"
#include "tests/tassert.h"

#define RAND_LEN_MAX 20000      /* longest random message */
#define RAND_CASES 600          /* random messages per path */
#define BENCH_BYTES ((size_t)16 << 20)
#define BENCH_RUNS 5

static const io_sha256_path all_paths[] = {IO_SHA256_PORTABLE, IO_SHA256_SHANI};
static const char *const path_names[] = {"portable", "sha-ni"};
#define NPATHS (sizeof all_paths / sizeof all_paths[0])

static char tmpdir[64];
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng_next(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static void fill_random(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(rng_next() >> 56);
}

static void to_hex(const uint8_t d[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void hash_path(io_sha256_path path, const void *data, size_t len, uint8_t d[32])
{
    io_sha256 c;
    io_sha256_init_path(&c, path);
    io_sha256_update(&c, data, len);
    io_sha256_final(&c, d);
}

/* The digest from a padded copy of the message through the portable block
 * function alone: independent of the streaming buffer logic. */
static void hash_reference(const uint8_t *msg, size_t len, uint8_t d[32])
{
    static const uint32_t h0[8] = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
                                   0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u};
    uint32_t h[8];
    size_t padded = (len + 1 + 8 + 63) / 64 * 64;
    uint8_t *buf = calloc(padded, 1);
    uint64_t bits = (uint64_t)len * 8;
    T_CHECK(buf != NULL);
    if (!buf)
        return;
    if (len)
        memcpy(buf, msg, len);
    buf[len] = 0x80;
    for (int i = 0; i < 8; i++)
        buf[padded - 8 + i] = (uint8_t)(bits >> (56 - 8 * i));
    memcpy(h, h0, sizeof h);
    io_sha256_blocks_portable(h, buf, padded / 64);
    for (int i = 0; i < 8; i++) {
        d[4 * i] = (uint8_t)(h[i] >> 24);
        d[4 * i + 1] = (uint8_t)(h[i] >> 16);
        d[4 * i + 2] = (uint8_t)(h[i] >> 8);
        d[4 * i + 3] = (uint8_t)h[i];
    }
    free(buf);
}

static void test_sha256_dispatch(void)
{
    io_sha256 c;
    int shani = io_sha256_shani_supported();
    T_CHECK(io_sha256_path_supported(IO_SHA256_PORTABLE) == 1);
    T_CHECK(io_sha256_path_supported(IO_SHA256_SHANI) == shani);
    T_CHECK(io_sha256_path_best() == (shani ? IO_SHA256_SHANI : IO_SHA256_PORTABLE));
    io_sha256_init(&c);
    T_CHECK(c.path == io_sha256_path_best());
    io_sha256_init_path(&c, (io_sha256_path)7);
    T_CHECK(c.path == IO_SHA256_PORTABLE);
    printf("  sha-ni %s; io_sha256_init uses %s\n", shani ? "supported" : "not supported",
           path_names[io_sha256_path_best()]);
}

static void test_sha256_vectors(void)
{
    static const struct {
        const char *msg, *hex;
    } vec[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
         "klmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    };
    static const char million_a[] = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    static char block[1000];
    char hex[65];
    uint8_t d[32];
    memset(block, 'a', sizeof block);
    for (size_t pi = 0; pi < NPATHS; pi++) {
        io_sha256_path path = all_paths[pi];
        io_sha256 c;
        if (!io_sha256_path_supported(path))
            continue;
        for (size_t v = 0; v < sizeof vec / sizeof vec[0]; v++) {
            hash_path(path, vec[v].msg, strlen(vec[v].msg), d);
            to_hex(d, hex);
            T_CHECKF(strcmp(hex, vec[v].hex) == 0, "%s vector %zu: %s", path_names[pi], v, hex);
        }
        /* one million 'a' fed in uneven chunks (exercises the partial buffer) */
        io_sha256_init_path(&c, path);
        for (size_t done = 0, step = 1; done < 1000000; step = step % 997 + 1) {
            size_t n = 1000000 - done < step ? 1000000 - done : step;
            io_sha256_update(&c, block, n);
            done += n;
        }
        io_sha256_final(&c, d);
        to_hex(d, hex);
        T_CHECKF(strcmp(hex, million_a) == 0, "%s million a: %s", path_names[pi], hex);
    }
    io_sha256_hex("abc", 3, hex);
    T_CHECK(strcmp(hex, vec[1].hex) == 0);
    {
        FILE *f;
        char path[128];
        snprintf(path, sizeof path, "%s/million_a", tmpdir);
        f = fopen(path, "wb");
        T_CHECK(f != NULL);
        if (!f)
            return;
        for (int i = 0; i < 1000; i++)
            fwrite(block, 1, sizeof block, f);
        fclose(f);
        T_CHECK(io_sha256_file_hex(path, hex) == 0);
        T_CHECK(strcmp(hex, million_a) == 0);
        T_CHECK(io_sha256_file_hex("/nonexistent/x", hex) == -1);
        unlink(path);
    }
}

/* Every split point of a 200-byte message gives the one-shot digest. */
static void test_sha256_splits(void)
{
    uint8_t msg[200], ref[32], d[32];
    for (int i = 0; i < 200; i++)
        msg[i] = (uint8_t)(i * 31 + 7);
    hash_reference(msg, sizeof msg, ref);
    for (size_t pi = 0; pi < NPATHS; pi++) {
        if (!io_sha256_path_supported(all_paths[pi]))
            continue;
        for (size_t cut = 0; cut <= sizeof msg; cut++) {
            io_sha256 c;
            io_sha256_init_path(&c, all_paths[pi]);
            io_sha256_update(&c, msg, cut);
            io_sha256_update(&c, msg + cut, sizeof msg - cut);
            io_sha256_final(&c, d);
            T_CHECKF(memcmp(d, ref, 32) == 0, "%s split at %zu", path_names[pi], cut);
        }
    }
}

/* The SHA-NI block function against the portable one: random chaining
 * states, 1..9 random blocks at every misalignment 0..15. */
static void test_sha256_blocks_direct(void)
{
    uint8_t buf[9 * 64 + 16];
    int cases = 0, bad = 0;
    if (!io_sha256_shani_supported()) {
        printf("  blocks_direct: sha-ni not supported here, skipped\n");
        return;
    }
    for (int iter = 0; iter < 400; iter++) {
        uint32_t ha[8], hb[8];
        size_t off = (size_t)iter % 16, n = 1 + (size_t)(rng_next() % 9);
        for (int i = 0; i < 8; i++)
            ha[i] = hb[i] = (uint32_t)rng_next();
        fill_random(buf, sizeof buf);
        io_sha256_blocks_portable(ha, buf + off, n);
        io_sha256_blocks_shani(hb, buf + off, n);
        T_CHECKF(memcmp(ha, hb, sizeof ha) == 0, "iter %d: %zu blocks at offset %zu", iter, n, off);
        bad += memcmp(ha, hb, sizeof ha) != 0;
        cases++;
    }
    /* Zero blocks leave the state alone. */
    {
        uint32_t h[8] = {1, 2, 3, 4, 5, 6, 7, 8};
        io_sha256_blocks_shani(h, buf, 0);
        T_CHECK(h[0] == 1 && h[3] == 4 && h[4] == 5 && h[7] == 8);
    }
    printf("  blocks_direct: %d random cases, %d differ between portable and sha-ni\n", cases, bad);
}

/* Random lengths 0..RAND_LEN_MAX, each fed to every path in random chunk
 * sizes (including empty updates), against the padded one-shot reference
 * and against each other. */
static void test_sha256_random(void)
{
    uint8_t *msg = malloc(RAND_LEN_MAX);
    int checked = 0, bad = 0;
    T_CHECK(msg != NULL);
    if (!msg)
        return;
    for (int iter = 0; iter < RAND_CASES; iter++) {
        /* a few exact edge lengths first, then uniform ones */
        static const size_t edge[] = {0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, RAND_LEN_MAX};
        size_t len = iter < (int)(sizeof edge / sizeof edge[0])
                         ? edge[iter]
                         : (size_t)(rng_next() % (RAND_LEN_MAX + 1));
        uint8_t ref[32], got[NPATHS][32];
        fill_random(msg, len);
        hash_reference(msg, len, ref);
        for (size_t pi = 0; pi < NPATHS; pi++) {
            io_sha256 c;
            size_t done = 0;
            if (!io_sha256_path_supported(all_paths[pi]))
                continue;
            io_sha256_init_path(&c, all_paths[pi]);
            while (done < len) {
                /* mostly short chunks, sometimes long ones spanning blocks */
                uint64_t r = rng_next();
                size_t max = (r & 3) == 0 ? 4096 : 130;
                size_t n = (size_t)((r >> 8) % (max + 1));
                if (n > len - done)
                    n = len - done;
                io_sha256_update(&c, msg + done, n);
                done += n;
            }
            io_sha256_final(&c, got[pi]);
            T_CHECKF(memcmp(got[pi], ref, 32) == 0, "%s len %zu", path_names[pi], len);
            if (pi > 0)
                T_CHECKF(memcmp(got[pi], got[0], 32) == 0, "%s vs portable len %zu",
                         path_names[pi], len);
            bad += memcmp(got[pi], ref, 32) != 0;
            checked++;
        }
    }
    printf("  random: %d (length, path) cases up to %d bytes, %d differ from the reference\n",
           checked, RAND_LEN_MAX, bad);
    free(msg);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Throughput per path over BENCH_BYTES, one thread: median and range of
 * BENCH_RUNS runs, and whether the digest equals the portable one. */
static void test_sha256_bench(void)
{
    uint8_t *buf = malloc(BENCH_BYTES);
    uint8_t ref[32];
    T_CHECK(buf != NULL);
    if (!buf)
        return;
    fill_random(buf, BENCH_BYTES);
    hash_path(IO_SHA256_PORTABLE, buf, BENCH_BYTES, ref);
    for (size_t pi = 0; pi < NPATHS; pi++) {
        double gbs[BENCH_RUNS];
        uint8_t d[32];
        if (!io_sha256_path_supported(all_paths[pi]))
            continue;
        for (int r = 0; r < BENCH_RUNS; r++) {
            double t0 = now_s();
            hash_path(all_paths[pi], buf, BENCH_BYTES, d);
            gbs[r] = (double)BENCH_BYTES / (now_s() - t0) / 1e9;
        }
        qsort(gbs, BENCH_RUNS, sizeof gbs[0], cmp_double);
        T_CHECK(memcmp(d, ref, 32) == 0);
        printf("  bench %-8s %zu MiB x %d, 1 thread: median %.3f GB/s (min %.3f, max %.3f), "
               "digest %s portable\n",
               path_names[pi], BENCH_BYTES >> 20, BENCH_RUNS, gbs[BENCH_RUNS / 2], gbs[0],
               gbs[BENCH_RUNS - 1], memcmp(d, ref, 32) == 0 ? "==" : "!=");
    }
    free(buf);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_sha256.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    T_RUN(test_sha256_dispatch);
    T_RUN(test_sha256_vectors);
    T_RUN(test_sha256_splits);
    T_RUN(test_sha256_blocks_direct);
    T_RUN(test_sha256_random);
    T_RUN(test_sha256_bench);
    rmdir(tmpdir);
    return t_summary("test_sha256");
}
