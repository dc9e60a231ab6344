/* test_sha256.c — io_sha256 against the FIPS 180-4 / NIST example vectors
 * ("", "abc", the 448- and 896-bit messages, one million 'a' fed in uneven
 * chunks and as a file), and incremental hashing split at every offset. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/io_sha256.h"
#include "tests/tassert.h"

static char tmpdir[64];

static void test_sha256_vectors(void)
{
    char hex[65];
    io_sha256 c;
    uint8_t d[32];
    static char block[1000];
    io_sha256_hex("", 0, hex);
    T_CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
    io_sha256_hex("abc", 3, hex);
    T_CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    io_sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
    T_CHECK(strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0);
    io_sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
                  "klmnopqrlmnopqrsmnopqrstnopqrstu", 112, hex);
    T_CHECK(strcmp(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1") == 0);
    /* one million 'a' fed in uneven chunks (exercises the partial buffer) */
    memset(block, 'a', sizeof block);
    io_sha256_init(&c);
    for (size_t done = 0, step = 1; done < 1000000; step = step % 997 + 1) {
        size_t n = 1000000 - done < step ? 1000000 - done : step;
        io_sha256_update(&c, block, n);
        done += n;
    }
    io_sha256_final(&c, d);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    T_CHECK(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);
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
        T_CHECK(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);
        T_CHECK(io_sha256_file_hex("/nonexistent/x", hex) == -1);
        unlink(path);
    }
}

/* Every split point of a 200-byte message gives the one-shot digest. */
static void test_sha256_splits(void)
{
    uint8_t msg[200], ref[32], d[32];
    io_sha256 c;
    for (int i = 0; i < 200; i++)
        msg[i] = (uint8_t)(i * 31 + 7);
    io_sha256_init(&c);
    io_sha256_update(&c, msg, sizeof msg);
    io_sha256_final(&c, ref);
    for (size_t cut = 0; cut <= sizeof msg; cut++) {
        io_sha256_init(&c);
        io_sha256_update(&c, msg, cut);
        io_sha256_update(&c, msg + cut, sizeof msg - cut);
        io_sha256_final(&c, d);
        T_CHECKF(memcmp(d, ref, 32) == 0, "split at %zu", cut);
    }
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_sha256.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    T_RUN(test_sha256_vectors);
    T_RUN(test_sha256_splits);
    rmdir(tmpdir);
    return t_summary("test_sha256");
}
