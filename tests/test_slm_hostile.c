/* test_slm_hostile.c — the .slm reader on hostile bytes: every truncation,
 * every header/index bit flip (raw: caught by the checksum; repaired: the
 * parsers must cope), 2000 seeded random corruptions, and forged counts,
 * lengths, offsets, versions and names, each with the exact status and
 * message expected. Nothing may crash or trip ASan/UBSan; whatever parses
 * must be writable again. The deferred weight checksum
 * (io_slm_read_deferred) reports what io_slm_read would. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/slm_util.h"

/* ---- hostile input ------------------------------------------------------ */

/* Every prefix of the file is rejected (exact-size copies so that ASan sees
 * any read past the end). */
static void test_truncation(void)
{
    char path[128];
    size_t file_cuts[] = {0, 7, 11, 127, 128, 200, 0, 0};
    nn_graph *g = NULL;
    nn_err e;
    int bad = 0;
    if (!model)
        return;
    for (size_t len = 0; len < model_len; len++) {
        uint8_t *b = malloc(len ? len : 1);
        memcpy(b, model, len);
        if (io_slm_read_memory(b, len, &g, &e) == NN_OK || g != NULL || strncmp(e.msg, "(memory): ", 10) != 0)
            bad++;
        nn_graph_free(g);
        g = NULL;
        free(b);
    }
    T_CHECKF(bad == 0, "%d truncations accepted", bad);
    file_cuts[6] = model_len / 2;
    file_cuts[7] = model_len - 1;
    snprintf(path, sizeof path, "%s/cut.slm", tmpdir);
    for (size_t k = 0; k < sizeof file_cuts / sizeof *file_cuts; k++) {
        nn_status st;
        spit(path, model, file_cuts[k]);
        st = io_slm_read(path, &g, NULL, &e);
        T_CHECKF(st == NN_ERR_FORMAT && g == NULL && strncmp(e.msg, "cut.slm: ", 9) == 0,
                 "cut %zu: %s", file_cuts[k], e.msg);
    }
    spit(path, model, 0);
    EXPECT(model, 0, NN_ERR_FORMAT, "empty file");
    T_CHECK(io_slm_read(path, &g, NULL, &e) == NN_ERR_FORMAT && strstr(e.msg, "empty file"));
    unlink(path);
}

static int n_valid_written;

/* Parses a mutant: any status is fine, but a success must be a graph the
 * writer accepts (a handful are written to check that). */
static int parse_mutant(const uint8_t *b, size_t len)
{
    nn_graph *g = NULL;
    nn_err e;
    nn_status st = io_slm_read_memory(b, len, &g, &e);
    if (st == NN_OK && n_valid_written < 20) {
        char path[128];
        snprintf(path, sizeof path, "%s/mutant.slm", tmpdir);
        T_CHECKF(io_slm_write(g, path, &e) == NN_OK, "mutant rewrite: %s", e.msg);
        n_valid_written++;
    }
    T_CHECK((st == NN_OK) == (g != NULL));
    T_CHECK(st == NN_OK || strncmp(e.msg, "(memory): ", 10) == 0);
    nn_graph_free(g);
    return st == NN_OK;
}

/* Every bit of the header and index: raw flips must be caught by the index
 * checksum (except in the zero padding before the data, which no reader
 * interprets); with repaired checksums the parser itself must cope. */
static void test_bitflips(void)
{
    size_t end, io_end;
    uint8_t *b;
    int raw_ok = 0, fixed_ok = 0, fixed_err = 0;
    if (!model)
        return;
    end = sec_off(model, SLM_SEC_DATA);
    io_end = sec_off(model, SLM_SEC_IO) + sec_size(model, SLM_SEC_IO);
    b = malloc(model_len);
    for (size_t bit = 0; bit < end * 8; bit++) {
        size_t at = bit / 8;
        memcpy(b, model, model_len);
        b[at] ^= (uint8_t)(1u << (bit % 8));
        if (parse_mutant(b, model_len)) {
            raw_ok++;
            T_CHECKF(at >= io_end, "raw flip of bit %zu (byte %zu) accepted", bit, at);
        }
        fix_crcs(b, model_len);
        if (parse_mutant(b, model_len))
            fixed_ok++;
        else
            fixed_err++;
    }
    printf("  bit flips over %zu index bytes: raw accepted %d (padding), with fixed "
           "checksums %d accepted / %d rejected\n", end, raw_ok, fixed_ok, fixed_err);
    free(b);
}

static uint32_t rng_state = 12345;
static uint32_t rng(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return rng_state >> 8;
}

/* Seeded random corruption anywhere in the file (bytes and interesting
 * 32-bit words), mostly with repaired checksums. */
static void test_random_corruption(void)
{
    static const uint32_t words[] = {0, 1, 0x7fffffffu, 0x80000000u, 0xffffffffu, 0xfffffffeu,
                                     64, 4096, 100001};
    size_t end;
    uint8_t *b;
    int ok = 0;
    if (!model)
        return;
    end = sec_off(model, SLM_SEC_DATA);
    b = malloc(model_len);
    for (int it = 0; it < 2000; it++) {
        int n = 1 + (int)(rng() % 4);
        memcpy(b, model, model_len);
        for (int k = 0; k < n; k++) {
            size_t lim = rng() % 4 ? end : model_len;
            size_t at = rng() % lim;
            if (rng() % 2 && at + 4 <= model_len)
                slm_put_u32(b + at, words[rng() % (sizeof words / sizeof *words)]);
            else
                b[at] = (uint8_t)rng();
        }
        if (rng() % 4)
            fix_crcs(b, model_len);
        ok += parse_mutant(b, model_len);
    }
    printf("  random corruption: 2000 mutants, %d parsed as valid graphs\n", ok);
    free(b);
}

/* Forged fields (checksums repaired) give the specific error. */
static void test_forged_fields(void)
{
    size_t v0, c1, n0, n1, a0;
    uint8_t *b;
    if (!model)
        return;
    EXPECT((const uint8_t *)"SCANLITX", 8, NN_ERR_FORMAT, "bad magic");
    EXPECT((const uint8_t *)"SCAN", 4, NN_ERR_FORMAT, "bad magic");
    FORGED(SLM_OFF_VMINOR, 2, 1, NN_ERR_UNSUPPORTED,
           "file format version 1.1 is newer than this scanlite (supports up to 1.0)");
    FORGED(SLM_OFF_VMAJOR, 2, 2, NN_ERR_UNSUPPORTED, "version 2.0 is newer");
    FORGED(SLM_OFF_VMAJOR, 2, 0, NN_ERR_FORMAT, "invalid file format version 0.0");
    FORGED(SLM_OFF_FLAGS, 4, 1, NN_ERR_UNSUPPORTED, "unknown header flags");
    FORGED(SLM_OFF_HEADER_SIZE, 4, 4096, NN_ERR_FORMAT, "header size 4096");
    FORGED(SLM_OFF_FILE_SIZE, 8, model_len + 1, NN_ERR_FORMAT, "header says");
    FORGED(SLM_OFF_RESERVED1, 8, 1, NN_ERR_FORMAT, "reserved");
    FORGED(SLM_OFF_SECTIONS + 16 * SLM_SEC_VALUES, 8, (uint64_t)1 << 63, NN_ERR_FORMAT,
           "values section (offset 9223372036854775808");
    FORGED(SLM_OFF_SECTIONS + 16 * SLM_SEC_NODES + 8, 8, UINT64_MAX, NN_ERR_FORMAT,
           "nodes section");
    FORGED(SLM_OFF_SECTIONS + 16 * SLM_SEC_META, 8, 0, NN_ERR_FORMAT, "lies outside");
    FORGED(SLM_OFF_SECTIONS + 16 * SLM_SEC_NODES, 8, sec_off(model, SLM_SEC_VALUES),
           NN_ERR_FORMAT, "values and nodes sections overlap");
    FORGED(SLM_OFF_SECTIONS + 16 * SLM_SEC_DATA, 8, sec_off(model, SLM_SEC_DATA) + 4,
           NN_ERR_FORMAT, "");
    /* checksums not repaired */
    b = malloc(model_len);
    memcpy(b, model, model_len);
    b[sec_off(model, SLM_SEC_NODES) + 5] ^= 1;
    EXPECT(b, model_len, NN_ERR_FORMAT, "index checksum mismatch");
    memcpy(b, model, model_len);
    b[model_len - 1] ^= 0x80;
    EXPECT(b, model_len, NN_ERR_FORMAT, "data checksum mismatch");
    free(b);

    FORGED(sec_off(model, SLM_SEC_META), 4, UINT32_MAX, NN_ERR_LIMIT,
           "metadata count 4294967295 exceeds the limit of 4096");
    FORGED(sec_off(model, SLM_SEC_META) + 4, 4, 0x7ffffff0u, NN_ERR_LIMIT,
           "metadata entry 0: key length 2147483632 exceeds the limit of 255 bytes");
    FORGED(sec_off(model, SLM_SEC_META) + 4, 4, 0, NN_ERR_FORMAT, "key is empty");
    FORGED(sec_off(model, SLM_SEC_VALUES), 4, UINT32_MAX, NN_ERR_LIMIT,
           "value count 4294967295 exceeds the limit of 100000");
    FORGED(sec_off(model, SLM_SEC_VALUES), 4, 90000, NN_ERR_FORMAT,
           "value count 90000 cannot fit");
    FORGED(sec_off(model, SLM_SEC_NODES), 4, NN_GRAPH_MAX_NODES + 1, NN_ERR_LIMIT,
           "node count 100001 exceeds the limit of 100000");
    v0 = value_entry(model, 0);
    FORGED(v0, 4, 300, NN_ERR_LIMIT, "value 0: name length 300 exceeds the limit of 255");
    FORGED(v0, 4, 200, NN_ERR_FORMAT, "value 0");
    FORGED(v0 + 4 + 5, 4, 7, NN_ERR_FORMAT, "value 0 'input': unknown value kind 7");
    FORGED(v0 + 4 + 5 + 4, 4, 7, NN_ERR_LIMIT, "value 0 'input': ndim 7 exceeds the limit of 6");
    FORGED(v0 + 4 + 5 + 8 + 8, 8, 0, NN_ERR_FORMAT, "value 0 'input': dim 1 is 0");
    FORGED(v0 + 4 + 5 + 8, 8, (uint64_t)-2, NN_ERR_FORMAT, "dim 0 is -2");
    c1 = value_after_dims(model, 1);        /* conv1.weight: dtype, offset, length */
    FORGED(value_entry(model, 1) + 4 + 12 + 8 + 8, 8, 0, NN_ERR_FORMAT,
           "value 1 'conv1.weight': dim 1 is 0");
    FORGED(c1, 4, 2, NN_ERR_UNSUPPORTED, "value 1 'conv1.weight': dtype 2 not supported");
    FORGED(c1 + 4, 8, 4, NN_ERR_FORMAT, "data offset 4 is not 64-byte aligned");
    FORGED(c1 + 4, 8, (uint64_t)1 << 62, NN_ERR_FORMAT, "lies outside the data section");
    FORGED(c1 + 4, 8, sec_size(model, SLM_SEC_DATA) & ~(uint64_t)63, NN_ERR_FORMAT,
           "lies outside the data section");
    FORGED(c1 + 12, 8, 4 * 108 + 4, NN_ERR_FORMAT, "data length 436, expected 432");
    FORGED(c1 + 12, 8, UINT64_MAX, NN_ERR_FORMAT, "expected 432");
    FORGED(value_entry(model, 1) + 4 + 12 + 8, 8, INT64_MAX, NN_ERR_LIMIT,
           "too many elements");

    {   /* conv2.weight grown to [4,4,3,3] over conv1.weight's bytes: each
         * range is valid, but together they alias more than the section */
        size_t v3 = value_entry(model, 3), dims = v3 + 4 + 12 + 8, c3 = value_after_dims(model, 3);
        uint8_t *fb = forge(dims + 16, 8, 3);
        T_CHECK(memcmp(fb + v3 + 4, "conv2.weight", 12) == 0);
        slm_put_u64(fb + dims + 24, 3);
        slm_put_u64(fb + c3 + 4, 0);
        slm_put_u64(fb + c3 + 12, 4 * 144);
        fix_crcs(fb, model_len);
        EXPECT(fb, model_len, NN_ERR_FORMAT,
               "value 3 'conv2.weight': constants total 1024 bytes, more than the data section holds (772)");
        free(fb);
    }
    n0 = node_entry(model, 0);              /* Conv "layer1.0.conv1" */
    n1 = node_entry(model, 1);              /* Relu "relu1" */
    FORGED(n1 + 4 + 2, 1, 0, NN_ERR_FORMAT, "node 1: op name is not valid UTF-8 or contains a NUL");
    {
        uint8_t *fb = forge(n1 + 4 + 3, 1, 'x');
        fix_crcs(fb, model_len);
        EXPECT(fb, model_len, NN_ERR_UNSUPPORTED, "node 1 'relu1': unknown op 'Relx'");
        free(fb);
    }
    FORGED(node_output(model, 0) + 8, 4, 9999, NN_ERR_FORMAT,
           "(memory): node 0 'layer1.0.conv1': input index 9999 out of range (16 values)");
    FORGED(node_output(model, 0) + 8, 4, (uint32_t)-2, NN_ERR_FORMAT,
           "input index -2 out of range");
    FORGED(node_output(model, 0), 4, 16, NN_ERR_FORMAT, "output index 16 out of range");
    FORGED(node_output(model, 0), 4, 1, NN_ERR_FORMAT, "output 'conv1.weight' is a constant");
    FORGED(node_output(model, 1), 4, 7, NN_ERR_FORMAT,
           "node 1 'relu1': output 'conv1_out' is produced by an earlier node too");
    FORGED(node_output(model, 0) + 4, 4, 65, NN_ERR_LIMIT, "input count 65 exceeds the limit of 64");
    FORGED(node_output(model, 0) + 4, 4, 1, NN_ERR_FORMAT, "node 0 'layer1.0.conv1'");
    a0 = node_output(model, 0) + 8 + 12;    /* attribute count of node 0 */
    FORGED(a0, 4, 65, NN_ERR_LIMIT, "attribute count 65 exceeds the limit of 64");
    FORGED(a0 + 4 + 4 + 12, 4, 9, NN_ERR_FORMAT, "attribute 'kernel_shape' has unknown type 9");
    FORGED(a0 + 4 + 4 + 12 + 4, 4, 5000, NN_ERR_LIMIT,
           "attribute list length 5000 exceeds the limit of 4096");
    FORGED(a0 + 4 + 4 + 12 + 4, 4, 4000, NN_ERR_FORMAT, "cannot fit");
    {   /* the name bytes of node 0's first attribute, "kernel_shape" */
        uint8_t *fb = forge(a0 + 4 + 4, 1, 'K');
        fix_crcs(fb, model_len);
        T_CHECK(parse_mutant(fb, model_len));   /* a different, valid attribute name */
        memcpy(fb + a0 + 4 + 4, "kernel\xff", 7);
        fix_crcs(fb, model_len);
        EXPECT(fb, model_len, NN_ERR_FORMAT, "attribute name is not valid UTF-8");
        memcpy(fb + a0 + 4 + 4, "kernel\0", 7);
        fix_crcs(fb, model_len);
        EXPECT(fb, model_len, NN_ERR_FORMAT, "contains a NUL byte");
        free(fb);
    }
    FORGED(sec_off(model, SLM_SEC_IO), 4, 2, NN_ERR_FORMAT, "2 graph inputs listed but 1");
    FORGED(sec_off(model, SLM_SEC_IO) + 4, 4, 1, NN_ERR_FORMAT,
           "graph input 0: value index 1 is not an input value");
    FORGED(sec_off(model, SLM_SEC_IO) + 8, 4, 3, NN_ERR_FORMAT,
           "graph output count 3 cannot fit in the 8 bytes left in the io section");
    FORGED(sec_off(model, SLM_SEC_IO) + 12, 4, 1, NN_ERR_FORMAT,
           "graph output 'conv1.weight' is not produced by any node");
    FORGED(sec_off(model, SLM_SEC_IO) + 16, 4, 15, NN_ERR_FORMAT,
           "graph output 1: value 'probs \xe2\x9c\x93' is listed twice");
    FORGED(sec_off(model, SLM_SEC_IO) + 16, 4, 99, NN_ERR_FORMAT,
           "graph output 1: value index 99 out of range (16 values)");
    FORGED(sec_off(model, SLM_SEC_IO) + 8, 4, 1, NN_ERR_FORMAT,
           "4 unexpected bytes at the end of the io section");
    FORGED(sec_off(model, SLM_SEC_IO) + 8, 4, 0, NN_ERR_FORMAT, "");
    (void)n0;
}

/* Duplicates and bad strings that only the section parsers can see. */
static void test_forged_names(void)
{
    size_t m0, v8;
    uint8_t *b;
    if (!model)
        return;
    b = malloc(model_len);
    /* metadata keys in file order: name, labels, input_shape, mean, ... */
    m0 = sec_off(model, SLM_SEC_META) + 4;
    memcpy(b, model, model_len);
    {
        uint8_t *p = memmem(b + m0, sec_size(model, SLM_SEC_META), "\x04\0\0\0mean", 8);
        T_CHECK(p != NULL);
        if (p) {
            memcpy(p + 4, "name", 4);
            fix_crcs(b, model_len);
            EXPECT(b, model_len, NN_ERR_FORMAT, "metadata entry 3 'name': duplicate key");
        }
    }
    memcpy(b, model, model_len);
    b[m0 + 4 + 4 + 4 + 3] = 0;              /* inside the value of "name" */
    fix_crcs(b, model_len);
    EXPECT(b, model_len, NN_ERR_FORMAT, "metadata entry 0 'name': value is not valid UTF-8");
    v8 = value_entry(model, 8);             /* "relu1_out" -> "conv1_out" */
    memcpy(b, model, model_len);
    T_CHECK(memcmp(b + v8 + 4, "relu1_out", 9) == 0);
    memcpy(b + v8 + 4, "conv1_out", 9);
    fix_crcs(b, model_len);
    EXPECT(b, model_len, NN_ERR_FORMAT, "value 8 'conv1_out': duplicate value name");
    free(b);
    EXPECT(model, IO_SLM_MAX_FILE + 1, NN_ERR_LIMIT, "limit");
}

/* io_slm_read_deferred: the weights' checksum comes after the graph.
 * Intact file: the wait says NN_OK (twice). A flipped weight byte: the
 * graph still loads, every wait (after a go on one thread) reports the
 * mismatch with the message of io_slm_read; freed with no go, nothing
 * waits. Damage elsewhere is still refused at once. */
static void test_deferred_check(void)
{
    char path[160];
    uint8_t *b = malloc(model_len);
    nn_graph *g = NULL;
    io_slm_check *chk = NULL;
    nn_err e;
    snprintf(path, sizeof path, "%s/deferred.slm", tmpdir);
    spit(path, model, model_len);
    T_CHECK(io_slm_read_deferred(path, &g, &chk, &e) == NN_OK && g && chk);
    T_CHECK(io_slm_check_wait(chk, &e) == NN_OK);
    T_CHECK(io_slm_check_wait(chk, &e) == NN_OK);
    io_slm_check_free(chk);
    nn_graph_free(g);

    memcpy(b, model, model_len);
    b[model_len - 1] ^= 0x80;               /* last weight byte */
    spit(path, b, model_len);
    g = NULL;
    chk = NULL;
    T_CHECK(io_slm_read_deferred(path, &g, &chk, &e) == NN_OK && g && chk);
    io_slm_check_go(chk, 1);                /* one thread; a second go is a no-op */
    io_slm_check_go(chk, 0);
    for (int i = 0; i < 2; i++) {
        nn_err_clear(&e);
        T_CHECKF(io_slm_check_wait(chk, &e) == NN_ERR_FORMAT &&
                     strstr(e.msg, "deferred.slm: data checksum mismatch") &&
                     strstr(e.msg, "the weights are corrupt"), "wait %d: %s", i, e.msg);
    }
    io_slm_check_free(chk);
    nn_graph_free(g);
    T_CHECK(io_slm_read(path, &g, NULL, &e) == NN_ERR_FORMAT && strstr(e.msg, "data checksum mismatch"));
    /* freed before any go or wait: the waiting thread returns unsummed */
    g = NULL;
    chk = NULL;
    T_CHECK(io_slm_read_deferred(path, &g, &chk, &e) == NN_OK && g && chk);
    io_slm_check_free(chk);
    nn_graph_free(g);

    memcpy(b, model, model_len);
    b[sec_off(model, SLM_SEC_NODES) + 5] ^= 1;
    spit(path, b, model_len);
    g = NULL;
    chk = NULL;
    T_CHECK(io_slm_read_deferred(path, &g, &chk, &e) == NN_ERR_FORMAT && !g && !chk &&
            strstr(e.msg, "index checksum mismatch"));
    T_CHECK(io_slm_read_deferred(path, &g, NULL, &e) == NN_ERR_INVALID);
    io_slm_check_free(NULL);
    T_CHECK(io_slm_check_wait(NULL, &e) == NN_OK);
    unlink(path);
    free(b);
}

int main(void)
{
    char mutant[160];
    if (slm_fixture_setup("test_slm_hostile") != 0) {
        fprintf(stderr, "test_slm_hostile: cannot build the test model\n");
        return 1;
    }
    T_RUN(test_truncation);
    T_RUN(test_bitflips);
    T_RUN(test_random_corruption);
    T_RUN(test_forged_fields);
    T_RUN(test_forged_names);
    T_RUN(test_deferred_check);
    snprintf(mutant, sizeof mutant, "%s/mutant.slm", tmpdir);
    unlink(mutant);
    slm_fixture_teardown();
    return t_summary("test_slm_hostile");
}
