/* test_slm.c — the .slm model file: CRC-32 and UTF-8 rules, the test graph
 * written and read back through the file (mmap, zero-copy, 64-byte aligned
 * constants) and memory (copied) paths and compared field by field,
 * deterministic bytes, edge graphs (no constants, input limit) and file /
 * writer failures. Hostile input is in test_slm_hostile.c. Set
 * SLM_SEED_OUT=file to save the test model (a seed for tests/fuzz_slm.c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/io_sha256.h"
#include "tests/slm_util.h"

/* ---- CRC-32 --------------------------------------------------------------- */

/* Independent bitwise CRC-32 (no table) to cross-check the library's. */
static uint32_t crc32_bitwise(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return ~c;
}

static void test_crc32(void)
{
    uint8_t buf[777];
    T_CHECK(io_slm_crc32(0, "123456789", 9) == 0xcbf43926u);
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 131 + (i >> 3));
    T_CHECK(io_slm_crc32(0, buf, sizeof buf) == crc32_bitwise(buf, sizeof buf));
    T_CHECK(io_slm_crc32(io_slm_crc32(0, buf, 100), buf + 100, sizeof buf - 100) ==
            crc32_bitwise(buf, sizeof buf));
}

static void test_utf8(void)
{
    T_CHECK(io_slm_utf8_ok("", 0));
    T_CHECK(io_slm_utf8_ok("plain ascii", 11));
    T_CHECK(io_slm_utf8_ok("\xc3\xa9\xe2\x9c\x93\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf", 13));
    T_CHECK(!io_slm_utf8_ok("a\0b", 3));                 /* NUL */
    T_CHECK(!io_slm_utf8_ok("\xc0\xaf", 2));             /* overlong '/' */
    T_CHECK(!io_slm_utf8_ok("\xe0\x80\xaf", 3));         /* overlong */
    T_CHECK(!io_slm_utf8_ok("\xed\xa0\x80", 3));         /* surrogate U+D800 */
    T_CHECK(!io_slm_utf8_ok("\xf4\x90\x80\x80", 4));     /* above U+10FFFF */
    T_CHECK(!io_slm_utf8_ok("\xe2\x9c", 2));             /* truncated sequence */
    T_CHECK(!io_slm_utf8_ok("\x80", 1));                 /* lone continuation */
    T_CHECK(!io_slm_utf8_ok("\xff", 1));
    T_CHECK(!io_slm_utf8_ok("\xc3\x28", 2));             /* bad continuation */
}

/* ---- round trips -------------------------------------------------------- */

static void test_roundtrip_file(void)
{
    char tmp[160], sha[65], sha2[65];
    const char *path = model_path;      /* written by slm_fixture_setup */
    nn_graph *g = NULL;
    nn_err e;
    const char *seed_out = getenv("SLM_SEED_OUT");

    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    T_CHECK(access(tmp, F_OK) != 0);
    T_CHECK(model_len > SLM_HEADER_SIZE);
    T_CHECK(memcmp(model, "SCANLITE", 8) == 0 && slm_get_u16(model + 8) == 1 &&
            slm_get_u16(model + 10) == 0);
    T_CHECK(hdr_u64(model, SLM_OFF_FILE_SIZE) == model_len);
    T_CHECK(sec_off(model, SLM_SEC_DATA) % 64 == 0);
    T_CHECK(sec_off(model, SLM_SEC_DATA) + sec_size(model, SLM_SEC_DATA) == model_len);
    if (seed_out)
        spit(seed_out, model, model_len);

    T_CHECKF(io_slm_read(path, &g, sha, &e) == NN_OK, "%s", e.msg);
    if (!g)
        return;
    T_CHECK(io_sha256_file_hex(path, sha2) == 0 && strcmp(sha, sha2) == 0);
    T_CHECK(graphs_equal(ref_graph, g));
    T_CHECK(g->backing != NULL && g->backing_free != NULL);
    for (int i = 0; i < g->n_values; i++) {
        const nn_value *v = &g->values[i];
        if (!v->is_const)
            continue;
        T_CHECKF(v->owns_data == 0 && (uintptr_t)v->data % 64 == 0, "value %d", i);
        T_CHECK(v->data != ref_graph->values[i].data);
    }
    T_CHECK(g->values[0].shape.d[0] == NN_DIM_BATCH && g->n_inputs == 1 && g->inputs[0] == 0);
    T_CHECK(strcmp(nn_graph_get_meta(g, IO_META_LABELS), labels) == 0);
    T_CHECK(strcmp(nn_graph_get_meta(g, IO_META_SOURCE_FILE), "") == 0);
    T_CHECK(nn_node_get_int(&g->nodes[3], "fused_act", 0) == NN_ACT_CLIP);
    nn_graph_free(g);
}

static void test_roundtrip_memory(void)
{
    uint8_t *buf;
    nn_graph *g = NULL;
    nn_err e;
    if (!model)
        return;
    buf = malloc(model_len + 1);        /* deliberately misaligned copy */
    memcpy(buf + 1, model, model_len);
    T_CHECKF(io_slm_read_memory(buf + 1, model_len, &g, &e) == NN_OK, "%s", e.msg);
    free(buf);                          /* the graph must not keep it */
    if (!g)
        return;
    T_CHECK(graphs_equal(ref_graph, g));
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].is_const)
            T_CHECK(g->values[i].owns_data == 1 && (uintptr_t)g->values[i].data % 64 == 0);
    nn_graph_free(g);
}

/* Same graph -> same bytes; read -> write reproduces the file exactly. */
static void test_determinism(void)
{
    char path[128];
    nn_graph *g = NULL;
    uint8_t *again;
    size_t len;
    nn_err e;
    if (!model)
        return;
    snprintf(path, sizeof path, "%s/again.slm", tmpdir);
    T_CHECK(io_slm_write(ref_graph, path, &e) == NN_OK);
    again = slurp(path, &len);
    T_CHECK(again && len == model_len && memcmp(again, model, len) == 0);
    free(again);
    T_CHECK(io_slm_read(path, &g, NULL, &e) == NN_OK);
    if (g) {
        T_CHECK(io_slm_write(g, path, &e) == NN_OK);  /* over the file it maps */
        nn_graph_free(g);
    }
    again = slurp(path, &len);
    T_CHECK(again && len == model_len && memcmp(again, model, len) == 0);
    free(again);
    unlink(path);
}

/* A graph without constants: empty data section, file ends in padding. */
/* g written to tmpdir/name and read back equal; frees g. */
static void roundtrip_check(nn_graph *g, const char *name, size_t min_bytes)
{
    char path[128];
    nn_graph *h = NULL;
    struct stat stt;
    nn_err e;
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    T_CHECKF(io_slm_write(g, path, &e) == NN_OK, "%s", e.msg);
    T_CHECK(stat(path, &stt) == 0 && (size_t)stt.st_size >= min_bytes);
    T_CHECKF(io_slm_read(path, &h, NULL, &e) == NN_OK, "%s", e.msg);
    if (h)
        T_CHECK(graphs_equal(g, h));
    nn_graph_free(h);
    nn_graph_free(g);
    unlink(path);
}

static void test_no_constants(void)
{
    nn_graph *g = nn_graph_create();
    nn_shape s = nn_shape4(NN_DIM_BATCH, 1, 2, 2);
    nn_err e;
    int x = nn_graph_add_input(g, "x", &s, &e), y = nn_graph_add_value(g, "y", &e);
    nn_graph_add_node(g, NN_OP_RELU, "r", &x, 1, y, &e);
    nn_graph_add_output(g, y, &e);
    T_CHECK(nn_graph_validate(g, &e) == NN_OK);
    roundtrip_check(g, "noconst.slm", SLM_HEADER_SIZE);
}

/* Constants spanning several of the writer's 2 MiB write chunks, at odd
 * sizes so that chunk edges fall inside constants and padding: read back
 * equal, data CRC verified, file size as the header says. */
static void test_large_constants(void)
{
    nn_graph *g = nn_graph_create();
    nn_shape s = nn_shape4(NN_DIM_BATCH, 1001, 1, 1);
    const int64_t w1[4] = {777, 1001, 1, 1}, b1[1] = {777}, w2[4] = {1333, 777, 1, 1};
    nn_err e;
    int x = nn_graph_add_input(g, "x", &s, &e), y1 = nn_graph_add_value(g, "y1", &e);
    int y2 = nn_graph_add_value(g, "y2", &e);
    int in1[3] = {x, add_c(g, "w1", 4, w1, 11), add_c(g, "b1", 1, b1, 12)};
    int in2[2] = {y1, add_c(g, "w2", 4, w2, 13)};
    nn_graph_add_node(g, NN_OP_CONV, "c1", in1, 3, y1, &e);
    nn_graph_add_node(g, NN_OP_CONV, "c2", in2, 2, y2, &e);
    nn_graph_add_output(g, y2, &e);
    T_CHECKF(nn_graph_validate(g, &e) == NN_OK, "%s", e.msg);
    roundtrip_check(g, "large.slm", (size_t)3 << 21);
}

/* At most SLM_MAX_GRAPH_INPUTS graph inputs, on both sides. */
static void test_input_limit(void)
{
    char path[128], name[16];
    int64_t one = 1;
    nn_shape s = nn_shape_make(1, &one);
    nn_graph *g = nn_graph_create();
    int in[SLM_MAX_GRAPH_INPUTS + 1], y, extra;
    uint8_t *b;
    size_t len, ve;
    nn_err e;
    for (int i = 0; i < SLM_MAX_GRAPH_INPUTS; i++) {
        snprintf(name, sizeof name, "x%d", i);
        in[i] = nn_graph_add_input(g, name, &s, &e);
    }
    y = nn_graph_add_value(g, "y", &e);
    nn_node_set_int(nn_graph_add_node(g, NN_OP_CONCAT, "cat", in, SLM_MAX_GRAPH_INPUTS, y, &e),
                    "axis", 0);
    nn_graph_add_output(g, y, &e);
    T_CHECK(nn_graph_validate(g, &e) == NN_OK);
    snprintf(path, sizeof path, "%s/inputs.slm", tmpdir);
    T_CHECKF(io_slm_write(g, path, &e) == NN_OK, "%s", e.msg);
    b = slurp(path, &len);
    if (b) {    /* turn intermediate "y" into a 65th input */
        ve = value_entry(b, SLM_MAX_GRAPH_INPUTS);
        T_CHECK(memcmp(b + ve + 4, "y", 1) == 0);
        slm_put_u32(b + ve + 5, SLM_KIND_INPUT);
        fix_crcs(b, len);
        EXPECT(b, len, NN_ERR_LIMIT, "value 64 'y': more than 64 graph inputs");
        free(b);
    }
    extra = nn_graph_add_input(g, "x64", &s, &e);
    T_CHECK(extra == SLM_MAX_GRAPH_INPUTS + 1);
    T_CHECK(io_slm_write(g, path, &e) == NN_ERR_LIMIT && strstr(e.msg, "65 graph inputs"));
    unlink(path);
    nn_graph_free(g);
}

/* File-level failures and writer refusals. */
static void test_files_and_writer(void)
{
    char path[128], tmp[160];
    nn_graph *g = NULL, *w;
    nn_err e;
    int64_t d1 = 2;
    nn_shape s = nn_shape_make(1, &d1);
    T_CHECK(io_slm_read("/nonexistent/m.slm", &g, NULL, &e) == NN_ERR_IO && g == NULL);
    T_CHECK(strstr(e.msg, "m.slm: cannot open") != NULL);
    T_CHECK(io_slm_read(tmpdir, &g, NULL, &e) == NN_ERR_IO && strstr(e.msg, "not a regular file"));
    snprintf(path, sizeof path, "%s/huge.slm", tmpdir);
    {   /* sparse file one byte over the limit: rejected before mapping */
        FILE *f = fopen(path, "wb");
        if (f && ftruncate(fileno(f), (off_t)IO_SLM_MAX_FILE + 1) == 0) {
            fclose(f);
            T_CHECK(io_slm_read(path, &g, NULL, &e) == NN_ERR_LIMIT && strstr(e.msg, "limit"));
        } else if (f) {
            fclose(f);
        }
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/magic.slm", tmpdir);
    spit(path, "GGUF\3\0\0\0 not ours at all", 24);
    T_CHECK(io_slm_read(path, &g, NULL, &e) == NN_ERR_FORMAT &&
            strcmp(e.msg, "magic.slm: not a scanlite model (bad magic)") == 0);
    unlink(path);

    if (!ref_graph)
        return;
    T_CHECK(io_slm_write(ref_graph, "/nonexistent/dir/m.slm", &e) == NN_ERR_IO);
    w = nn_graph_create();
    nn_graph_add_input(w, "bad \xff name", &s, &e);
    snprintf(path, sizeof path, "%s/refused.slm", tmpdir);
    T_CHECK(io_slm_write(w, path, &e) == NN_ERR_INVALID && strstr(e.msg, "not valid UTF-8"));
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    T_CHECK(access(path, F_OK) != 0 && access(tmp, F_OK) != 0);
    nn_graph_free(w);
}

int main(void)
{
    if (slm_fixture_setup("test_slm") != 0) {
        fprintf(stderr, "test_slm: cannot build the test model\n");
        return 1;
    }
    T_RUN(test_crc32);
    T_RUN(test_utf8);
    T_RUN(test_roundtrip_file);
    T_RUN(test_roundtrip_memory);
    T_RUN(test_determinism);
    T_RUN(test_no_constants);
    T_RUN(test_large_constants);
    T_RUN(test_input_limit);
    T_RUN(test_files_and_writer);
    slm_fixture_teardown();
    return t_summary("test_slm");
}
