/* test_slm.c — the .slm model file: CRC-32 and UTF-8 rules, a
 * builder-made graph written and read back (file/mmap and memory) and
 * compared field by field, determinism, and hostile input: every
 * truncation, every header/index bit flip (with and without repaired
 * checksums), seeded random corruption, forged counts/lengths/offsets with
 * the exact error expected. Set SLM_SEED_OUT=file to save the test model
 * (a seed for tests/fuzz_slm.c). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/io_meta.h"
#include "io/io_sha256.h"
#include "io/io_slm.h"
#include "io/io_slm_format.h"
#include "nn/nn_graph.h"
#include "nn/nn_ops.h"
#include "tests/tassert.h"

static char tmpdir[64];

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

/* ---- the test graph ------------------------------------------------------- */

static const char *labels = "tabby cat\ngolden retriever\nbird, small\n\xc3\xa9l\xc3\xa9phant";

/* Deterministic data including -0, inf, NaN and denormals. */
static void fill(float *x, int n, uint32_t seed)
{
    for (int i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((int32_t)seed >> 8) / 8388608.0f;
    }
    if (n >= 4) {
        x[0] = -0.0f;
        x[1] = INFINITY;
        x[2] = NAN;
        x[3] = 1e-40f;
    }
}

static int add_c(nn_graph *g, const char *name, int ndim, const int64_t *d, uint32_t seed)
{
    nn_shape s = nn_shape_make(ndim, d);
    int64_t n = nn_shape_numel(&s);
    float *x = malloc((size_t)n * sizeof *x);
    int idx;
    fill(x, (int)n, seed);
    idx = nn_graph_add_const_copy(g, name, &s, x, NULL);
    free(x);
    return idx;
}

/* input [-1,3,8,8] -> Conv(w,b) -> Relu -> Conv(w2, no bias) -> Add(.., relu)
 * -> GlobalAveragePool -> Flatten -> Gemm(fcw, fcb) -> Mul(scalar) ->
 * Softmax. Every attribute type appears. */
static nn_graph *make_graph(void)
{
    nn_graph *g = nn_graph_create();
    nn_shape in_shape = nn_shape4(NN_DIM_BATCH, 3, 8, 8);
    int64_t dw[4] = {4, 3, 3, 3}, db[1] = {4}, dw2[4] = {4, 4, 1, 1}, dfc[2] = {5, 4};
    int64_t dfb[1] = {5};
    int64_t k3[2] = {3, 3}, one[2] = {1, 1}, pads[4] = {1, 1, 1, 1}, big[3] = {INT64_MIN, -1, INT64_MAX};
    float fl[3] = {0.5f, -2.25f, 1e30f};
    int x, w, b, w2, fcw, fcb, sc, c1, r1, c2, a1, gp, fl1, gm, mu, sm;
    nn_node *n;
    nn_err e;

    x = nn_graph_add_input(g, "input", &in_shape, &e);
    w = add_c(g, "conv1.weight", 4, dw, 1);
    b = add_c(g, "conv1.bias", 1, db, 2);
    w2 = add_c(g, "conv2.weight", 4, dw2, 3);
    fcw = add_c(g, "fc.weight", 2, dfc, 4);
    fcb = add_c(g, "fc.bias", 1, dfb, 5);
    sc = add_c(g, "scale", 0, NULL, 6);
    c1 = nn_graph_add_value(g, "conv1_out", &e);
    r1 = nn_graph_add_value(g, "relu1_out", &e);
    c2 = nn_graph_add_value(g, "conv2_out", &e);
    a1 = nn_graph_add_value(g, "add_out", &e);
    gp = nn_graph_add_value(g, "gap_out", &e);
    fl1 = nn_graph_add_value(g, "flat", &e);
    gm = nn_graph_add_value(g, "logits_raw", &e);
    mu = nn_graph_add_value(g, "logits", &e);
    sm = nn_graph_add_value(g, "probs \xe2\x9c\x93", &e);

    n = nn_graph_add_node(g, nn_op_from_name("Conv"), "layer1.0.conv1", (int[]){x, w, b}, 3, c1, &e);
    nn_node_set_ints(n, "kernel_shape", k3, 2);
    nn_node_set_ints(n, "strides", one, 2);
    nn_node_set_ints(n, "pads", pads, 4);
    nn_node_set_int(n, "group", 1);
    nn_node_set_string(n, "auto_pad", "NOTSET");
    n = nn_graph_add_node(g, nn_op_from_name("Relu"), "relu1", (int[]){c1}, 1, r1, &e);
    n = nn_graph_add_node(g, nn_op_from_name("Conv"), "conv2", (int[]){r1, w2, -1}, 3, c2, &e);
    nn_node_set_ints(n, "kernel_shape", one, 2);
    nn_node_set_ints(n, "big", big, 3);
    nn_node_set_ints(n, "empty", NULL, 0);
    nn_node_set_string(n, "empty_s", "");
    n = nn_graph_add_node(g, nn_op_from_name("Add"), "add1", (int[]){c2, r1}, 2, a1, &e);
    nn_node_set_int(n, "fused_act", NN_ACT_CLIP);
    nn_node_set_float(n, "fused_min", 0.0f);
    nn_node_set_float(n, "fused_max", 6.0f);
    nn_graph_add_node(g, nn_op_from_name("GlobalAveragePool"), "gap", (int[]){a1}, 1, gp, &e);
    n = nn_graph_add_node(g, nn_op_from_name("Flatten"), "flatten", (int[]){gp}, 1, fl1, &e);
    nn_node_set_int(n, "axis", 1);
    n = nn_graph_add_node(g, nn_op_from_name("Gemm"), "fc", (int[]){fl1, fcw, fcb}, 3, gm, &e);
    nn_node_set_float(n, "alpha", 1.0f);
    nn_node_set_float(n, "beta", -0.0f);
    nn_node_set_int(n, "transB", 1);
    nn_node_set_floats(n, "floats", fl, 3);
    nn_graph_add_node(g, nn_op_from_name("Mul"), "mul", (int[]){gm, sc}, 2, mu, &e);
    n = nn_graph_add_node(g, nn_op_from_name("Softmax"), "softmax", (int[]){mu}, 1, sm, &e);
    nn_node_set_int(n, "axis", -1);
    nn_node_set_int(n, "coerce_2d", 0);
    nn_graph_add_output(g, sm, &e);
    nn_graph_add_output(g, mu, &e);

    nn_graph_set_meta(g, IO_META_NAME, "mod\xc3\xa8le de test \xe2\x9c\x93");
    nn_graph_set_meta(g, IO_META_LABELS, labels);
    nn_graph_set_meta(g, IO_META_INPUT_SHAPE, "3x8x8");
    nn_graph_set_meta(g, IO_META_MEAN, "0.485,0.456,0.406");
    nn_graph_set_meta(g, IO_META_STD, "0.229,0.224,0.225");
    nn_graph_set_meta(g, IO_META_SOURCE_FILE, "");
    if (nn_graph_validate(g, &e) != NN_OK) {
        fprintf(stderr, "  make_graph: %s\n", e.msg);
        nn_graph_free(g);
        return NULL;
    }
    return g;
}

/* Field-by-field equality; data compared bytewise (NaN-safe). */
static int graphs_equal(const nn_graph *a, const nn_graph *b)
{
    int ok = 1;
#define EQ(cond)                                                          \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "  graphs differ: %s (line %d)\n", #cond, __LINE__); \
            ok = 0;                                                       \
            goto done;                                                    \
        }                                                                 \
    } while (0)
    EQ(a->n_values == b->n_values && a->n_nodes == b->n_nodes);
    EQ(a->n_inputs == b->n_inputs && a->n_outputs == b->n_outputs && a->n_meta == b->n_meta);
    for (int i = 0; i < a->n_values; i++) {
        const nn_value *x = &a->values[i], *y = &b->values[i];
        EQ(strcmp(x->name, y->name) == 0 && x->is_const == y->is_const);
        EQ(nn_shape_equal(&x->shape, &y->shape));
        if (x->is_const)
            EQ(memcmp(x->data, y->data, (size_t)nn_shape_numel(&x->shape) * 4) == 0);
    }
    for (int i = 0; i < a->n_inputs; i++)
        EQ(a->inputs[i] == b->inputs[i]);
    for (int i = 0; i < a->n_outputs; i++)
        EQ(a->outputs[i] == b->outputs[i]);
    for (int i = 0; i < a->n_meta; i++)
        EQ(strcmp(a->meta[i].key, b->meta[i].key) == 0 &&
           strcmp(a->meta[i].value, b->meta[i].value) == 0);
    for (int i = 0; i < a->n_nodes; i++) {
        const nn_node *x = &a->nodes[i], *y = &b->nodes[i];
        EQ(x->op == y->op && strcmp(x->name, y->name) == 0 && x->output == y->output);
        EQ(x->n_inputs == y->n_inputs && x->n_attrs == y->n_attrs);
        EQ(memcmp(x->inputs, y->inputs, (size_t)x->n_inputs * sizeof(int)) == 0);
        for (int k = 0; k < x->n_attrs; k++) {
            const nn_attr *p = &x->attrs[k], *q = &y->attrs[k];
            EQ(strcmp(p->name, q->name) == 0 && p->type == q->type);
            switch (p->type) {
            case NN_ATTR_INT:
                EQ(p->i == q->i);
                break;
            case NN_ATTR_FLOAT:
                EQ(memcmp(&p->f, &q->f, 4) == 0);
                break;
            case NN_ATTR_INTS:
                EQ(p->n == q->n && (p->n == 0 || memcmp(p->ints, q->ints, (size_t)p->n * 8) == 0));
                break;
            case NN_ATTR_FLOATS:
                EQ(p->n == q->n && (p->n == 0 || memcmp(p->floats, q->floats, (size_t)p->n * 4) == 0));
                break;
            case NN_ATTR_STRING:
                EQ(strcmp(p->s, q->s) == 0);
                break;
            }
        }
    }
#undef EQ
done:
    return ok;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static int spit(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    int ok;
    if (!f)
        return -1;
    ok = fwrite(buf, 1, len, f) == len;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* The model written once by test_roundtrip and reused by the hostile tests. */
static uint8_t *model;
static size_t model_len;
static nn_graph *ref_graph;

static uint64_t hdr_u64(const uint8_t *b, size_t off)
{
    return slm_get_u64(b + off);
}

static size_t sec_off(const uint8_t *b, int s)
{
    return (size_t)hdr_u64(b, SLM_OFF_SECTIONS + 16 * (size_t)s);
}

static size_t sec_size(const uint8_t *b, int s)
{
    return (size_t)hdr_u64(b, SLM_OFF_SECTIONS + 16 * (size_t)s + 8);
}

/* Recomputes both checksums of a (possibly forged) file so that the parser
 * behind them gets exercised; leaves impossible section tables alone. */
static void fix_crcs(uint8_t *b, size_t len)
{
    uint64_t off[SLM_SEC_COUNT], size[SLM_SEC_COUNT];
    if (len < SLM_HEADER_SIZE)
        return;
    for (int s = 0; s < SLM_SEC_COUNT; s++) {
        off[s] = sec_off(b, s);
        size[s] = sec_size(b, s);
        if (off[s] > len || size[s] > len - off[s])
            return;
    }
    slm_put_u32(b + SLM_OFF_DATA_CRC, io_slm_crc32(0, b + off[SLM_SEC_DATA], size[SLM_SEC_DATA]));
    slm_put_u32(b + SLM_OFF_INDEX_CRC, io_slm_index_crc(b, off, size));
}

/* Offset of value i's entry (its name length field) in the values section. */
static size_t value_entry(const uint8_t *b, int i)
{
    size_t p = sec_off(b, SLM_SEC_VALUES) + 4;
    for (int k = 0; k < i; k++) {
        size_t q = p + 4 + slm_get_u32(b + p);
        uint32_t kind = slm_get_u32(b + q), ndim = slm_get_u32(b + q + 4);
        p = q + 8 + 8 * (size_t)ndim + (kind == SLM_KIND_CONST ? 20 : 0);
    }
    return p;
}

/* Offset just past value i's dims (a constant's dtype field). */
static size_t value_after_dims(const uint8_t *b, int i)
{
    size_t q = value_entry(b, i);
    q += 4 + slm_get_u32(b + q);
    return q + 8 + 8 * (size_t)slm_get_u32(b + q + 4);
}

/* Offset of node i's entry (its op name length) in the nodes section. */
static size_t node_entry(const uint8_t *b, int i)
{
    size_t p = sec_off(b, SLM_SEC_NODES) + 4;
    for (int k = 0; k < i; k++) {
        uint32_t n_in, n_attrs;
        p += 4 + slm_get_u32(b + p);                /* op */
        p += 4 + slm_get_u32(b + p);                /* name */
        p += 4;                                     /* output */
        n_in = slm_get_u32(b + p);
        p += 4 + 4 * (size_t)n_in;
        n_attrs = slm_get_u32(b + p);
        p += 4;
        for (uint32_t a = 0; a < n_attrs; a++) {
            uint32_t type;
            p += 4 + slm_get_u32(b + p);
            type = slm_get_u32(b + p);
            p += 4;
            if (type == NN_ATTR_INT)
                p += 8;
            else if (type == NN_ATTR_FLOAT)
                p += 4;
            else if (type == NN_ATTR_INTS)
                p += 4 + 8 * (size_t)slm_get_u32(b + p);
            else if (type == NN_ATTR_FLOATS)
                p += 4 + 4 * (size_t)slm_get_u32(b + p);
            else
                p += 4 + slm_get_u32(b + p);
        }
    }
    return p;
}

/* Offset of node i's output field. */
static size_t node_output(const uint8_t *b, int i)
{
    size_t p = node_entry(b, i);
    p += 4 + slm_get_u32(b + p);
    return p + 4 + slm_get_u32(b + p);
}

static int expect_line;
#define EXPECT(buf, len, want, needle) (expect_line = __LINE__, expect_err(buf, len, want, needle))

/* Parsing buf must fail with status want and a message containing needle. */
static void expect_err(const uint8_t *buf, size_t len, nn_status want, const char *needle)
{
    nn_graph *g = NULL;
    nn_err e;
    nn_status st;
    nn_err_clear(&e);
    st = io_slm_read_memory(buf, len, &g, &e);
    T_CHECKF(st == want && strstr(e.msg, needle) && g == NULL,
             "line %d: got %s '%s', want %s '...%s...'", expect_line, nn_status_str(st), e.msg,
             nn_status_str(want), needle);
    nn_graph_free(g);
}

/* A copy of the model with a u32/u64 field overwritten and checksums fixed. */
static uint8_t *forge(size_t off, int bytes, uint64_t v)
{
    uint8_t *b = malloc(model_len);
    memcpy(b, model, model_len);
    if (bytes == 1)
        b[off] = (uint8_t)v;
    else if (bytes == 2)
        slm_put_u16(b + off, (uint16_t)v);
    else if (bytes == 4)
        slm_put_u32(b + off, (uint32_t)v);
    else
        slm_put_u64(b + off, v);
    fix_crcs(b, model_len);
    return b;
}

#define FORGED(off, bytes, v, want, needle)                                   \
    do {                                                                      \
        uint8_t *fb_ = forge(off, bytes, v);                                  \
        EXPECT(fb_, model_len, want, needle);                                 \
        free(fb_);                                                            \
    } while (0)

/* ---- round trips -------------------------------------------------------- */

static void test_roundtrip_file(void)
{
    char path[128], tmp[160], sha[65], sha2[65];
    nn_graph *g = NULL;
    nn_err e;
    const char *seed_out = getenv("SLM_SEED_OUT");

    ref_graph = make_graph();
    T_CHECK(ref_graph != NULL);
    if (!ref_graph)
        return;
    snprintf(path, sizeof path, "%s/model.slm", tmpdir);
    T_CHECKF(io_slm_write(ref_graph, path, &e) == NN_OK, "%s", e.msg);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    T_CHECK(access(tmp, F_OK) != 0);
    model = slurp(path, &model_len);
    T_CHECK(model != NULL && model_len > SLM_HEADER_SIZE);
    if (!model)
        return;
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

/* A graph without constants: empty data section, file ends in padding. */
static void test_no_constants(void)
{
    char path[128];
    nn_graph *g = nn_graph_create(), *h = NULL;
    nn_shape s = nn_shape4(NN_DIM_BATCH, 1, 2, 2);
    nn_err e;
    int x = nn_graph_add_input(g, "x", &s, &e), y = nn_graph_add_value(g, "y", &e);
    nn_graph_add_node(g, NN_OP_RELU, "r", &x, 1, y, &e);
    nn_graph_add_output(g, y, &e);
    T_CHECK(nn_graph_validate(g, &e) == NN_OK);
    snprintf(path, sizeof path, "%s/noconst.slm", tmpdir);
    T_CHECKF(io_slm_write(g, path, &e) == NN_OK, "%s", e.msg);
    T_CHECKF(io_slm_read(path, &h, NULL, &e) == NN_OK, "%s", e.msg);
    if (h)
        T_CHECK(graphs_equal(g, h));
    nn_graph_free(h);
    nn_graph_free(g);
    unlink(path);
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
    char mutant[160];
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_slm.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    T_RUN(test_crc32);
    T_RUN(test_utf8);
    T_RUN(test_roundtrip_file);
    T_RUN(test_roundtrip_memory);
    T_RUN(test_determinism);
    T_RUN(test_truncation);
    T_RUN(test_bitflips);
    T_RUN(test_random_corruption);
    T_RUN(test_forged_fields);
    T_RUN(test_forged_names);
    T_RUN(test_no_constants);
    T_RUN(test_input_limit);
    T_RUN(test_files_and_writer);
    nn_graph_free(ref_graph);
    free(model);
    snprintf(mutant, sizeof mutant, "%s/model.slm", tmpdir);
    unlink(mutant);
    snprintf(mutant, sizeof mutant, "%s/mutant.slm", tmpdir);
    unlink(mutant);
    rmdir(tmpdir);
    return t_summary("test_slm");
}
