/* test_pth.c — ZIP reader, pickle VM, state_dict reader and ResNet builders.
 *
 * Units run on hand-made bytes (zip archives and pickle streams from
 * tests/pth_gen.h and inline opcode arrays), the builders on generated CIFAR-ResNet8 checkpoints, and hostile
 * inputs (truncations, bit flips with a fixed seed) must fail cleanly.
 * With $TESTDATA: the real pneumonia .pth (zip) and the legacy ResNet20 .th,
 * whose values and logits are checked against numbers PyTorch produced. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_pickle.h"
#include "io/io_pth.h"
#include "io/io_pth_state.h"
#include "io/io_zip.h"
#include "nn/nn_plan.h"
#include "tests/pth_gen.h"
#include "tests/tassert.h"

/* ---- zip unit tests ----------------------------------------------------- */

static const char k_hello[] = "hello, zip";
static const char k_world[] = "0123456789abcdef";

static void test_zip_basic(void)
{
    zentry en[2] = { { "a/x.txt", k_hello, sizeof k_hello - 1 }, { "a/data/0", k_world, 16 } };
    for (int flags = 0; flags < 4; flags++) {
        tbuf z = zip_make(en, 2, flags, flags == 1 ? "a comment" : NULL);
        io_zip *zp = NULL;
        nn_err e;
        T_CHECKF(io_zip_open(z.p, z.n, &zp, &e) == NN_OK, "flags %d: %s", flags, e.msg);
        if (zp) {
            const uint8_t *d = NULL;
            size_t n = 0;
            T_CHECK(zp->n_entries == 2);
            T_CHECK(io_zip_find(zp, "a/data/0") == 1 && io_zip_find(zp, "a/x.txt") == 0);
            T_CHECK(io_zip_find(zp, "a/data/1") == -1);
            T_CHECK(io_zip_entry_data(zp, 1, &d, &n, &e) == NN_OK && n == 16 &&
                    memcmp(d, k_world, 16) == 0);
            T_CHECK(io_zip_entry_data(zp, 0, &d, &n, &e) == NN_OK && n == sizeof k_hello - 1);
            T_CHECK(io_zip_entry_data(zp, 2, &d, &n, &e) == NN_ERR_INVALID);
        }
        io_zip_close(zp);
        free(z.p);
    }
    /* an archive of no entries opens empty (and finds nothing) */
    tbuf z0 = zip_make(en, 0, 0, NULL);
    io_zip *zp = NULL;
    nn_err e;
    T_CHECKF(io_zip_open(z0.p, z0.n, &zp, &e) == NN_OK, "%s", e.msg);
    T_CHECK(zp && zp->n_entries == 0 && io_zip_find(zp, "a/x.txt") == -1);
    io_zip_close(zp);
    free(z0.p);
}

static void test_zip_hostile(void)
{
    zentry en[2] = { { "a/x.txt", k_hello, sizeof k_hello - 1 }, { "a/data/0", k_world, 16 } };
    tbuf z = zip_make(en, 2, 0, NULL);
    io_zip *zp = NULL;
    nn_err e;
    size_t end = zip_end_at(&z);
    uint8_t *copy = malloc(z.n);

    /* every truncation: no end record, or offsets outside the file */
    for (size_t len = 0; len < z.n; len++) {
        memcpy(copy, z.p, len);
        nn_status st = io_zip_open(copy, len, &zp, &e);
        T_CHECKF(st != NN_OK, "truncated to %zu accepted", len);
        io_zip_close(zp);
        zp = NULL;
    }
    /* end record lies: central directory offset, size, entry count */
    struct { size_t at; int bytes; uint32_t v; } lies[] = {
        { 16, 4, 0x7FFFFFF0u }, { 12, 4, 0x00FFFFFFu }, { 10, 2, 9 }, { 8, 2, 3000 },
        { 16, 4, 1 }, { 20, 2, 5 },
    };
    for (size_t k = 0; k < sizeof lies / sizeof lies[0]; k++) {
        memcpy(copy, z.p, z.n);
        for (int i = 0; i < lies[k].bytes; i++)
            copy[end + lies[k].at + i] = (uint8_t)(lies[k].v >> (8 * i));
        if (lies[k].at == 8)        /* both counts */
            copy[end + 10] = copy[end + 8], copy[end + 11] = copy[end + 9];
        T_CHECKF(io_zip_open(copy, z.n, &zp, &e) != NN_OK, "lie %zu accepted", k);
        io_zip_close(zp);
        zp = NULL;
    }
    /* central entry: local offset outside the file */
    memcpy(copy, z.p, z.n);
    size_t cd = copy[end + 16] | (copy[end + 17] << 8);
    tbuf t = { copy, z.n, z.n };
    w32at(&t, cd + 42, (uint32_t)z.n - 10);
    T_CHECK(io_zip_open(copy, z.n, &zp, &e) == NN_ERR_FORMAT);
    io_zip_close(zp);
    zp = NULL;
    /* local offset pointing at the wrong header: name check fails */
    memcpy(copy, z.p, z.n);
    size_t cd2 = cd + 46 + strlen("a/x.txt");
    w32at(&t, cd2 + 42, 0);
    T_CHECK(io_zip_open(copy, z.n, &zp, &e) == NN_OK);
    if (zp) {
        const uint8_t *d;
        size_t n;
        T_CHECK(io_zip_entry_data(zp, 1, &d, &n, &e) == NN_ERR_FORMAT);
    }
    io_zip_close(zp);
    zp = NULL;
    /* flipped data byte: CRC mismatch */
    memcpy(copy, z.p, z.n);
    copy[30 + strlen("a/x.txt") + 2] ^= 1;
    T_CHECK(io_zip_open(copy, z.n, &zp, &e) == NN_OK);
    if (zp) {
        const uint8_t *d;
        size_t n;
        T_CHECK(io_zip_entry_data(zp, 0, &d, &n, &e) == NN_ERR_FORMAT && strstr(e.msg, "CRC"));
    }
    io_zip_close(zp);
    zp = NULL;
    free(copy);
    free(z.p);

    /* comment length longer than what follows */
    z = zip_make(en, 2, 0, "abc");
    end = zip_end_at(&z);
    z.p[end + 20] = 200;
    T_CHECK(io_zip_open(z.p, z.n, &zp, &e) == NN_ERR_FORMAT);
    free(z.p);
    /* deflated entries are listed but not readable */
    z = zip_make(en, 2, Z_DEFLATE_FLAG, NULL);
    T_CHECK(io_zip_open(z.p, z.n, &zp, &e) == NN_OK);
    if (zp) {
        const uint8_t *d;
        size_t n;
        T_CHECK(io_zip_entry_data(zp, 0, &d, &n, &e) == NN_ERR_UNSUPPORTED);
    }
    io_zip_close(zp);
    zp = NULL;
    free(z.p);
    /* zip64 sizes saturated but the extra field removed */
    z = zip_make(en, 2, Z_ZIP64_EXTRA, NULL);
    end = zip_end_at(&z);
    cd = z.p[end + 16] | (z.p[end + 17] << 8);
    z.p[cd + 28 + 2] = 0;           /* extra length 0; the bytes become the comment */
    z.p[cd + 32] = 28;
    T_CHECK(io_zip_open(z.p, z.n, &zp, &e) == NN_ERR_FORMAT);
    free(z.p);
    /* zip64 end record without its locator */
    z = zip_make(en, 2, Z_ZIP64_END, NULL);
    end = zip_end_at(&z);
    z.p[end - 20] ^= 0xFF;
    T_CHECK(io_zip_open(z.p, z.n, &zp, &e) == NN_ERR_FORMAT);
    free(z.p);
    T_CHECK(io_zip_open(k_hello, 3, &zp, &e) == NN_ERR_FORMAT);
}

/* ---- pickle unit tests -------------------------------------------------- */

static nn_status pk_run(const tbuf *b, io_pickle **p, nn_err *e)
{
    size_t used = 0;
    nn_status st = io_pickle_load(b->p, b->n, &used, p, e);
    if (st == NN_OK && used != b->n)
        return NN_ERR_FORMAT;
    return st;
}

static void test_pickle_state_dict(void)
{
    ptensor t[2] = {
        { "w", 2, { 2, 3 }, { 3, 1 }, 0, "FloatStorage", "0", 6 },
        { "n", 0, { 0 }, { 0 }, 0, "LongStorage", "1", 1 },
    };
    tbuf b = { 0 };
    io_pickle *p = NULL;
    nn_err e;
    pk_state_dict(&b, t, 2, "state_dict");
    T_CHECKF(pk_run(&b, &p, &e) == NN_OK, "%s", e.msg);
    const io_pk_obj *root = io_pickle_root(p);
    T_CHECK(root && root->type == IO_PK_DICT && root->n == 1);
    const io_pk_obj *sd = io_pk_dict_get(root, "state_dict");
    T_CHECK(sd && sd->type == IO_PK_DICT && sd->n == 2);
    const io_pk_obj *w = sd ? io_pk_dict_get(sd, "w") : NULL;
    T_CHECK(w && w->type == IO_PK_TENSOR && w->ndim == 2 && w->size[0] == 2 && w->size[1] == 3 &&
            w->stride[0] == 3 && w->stride[1] == 1 && w->dtype == IO_DT_F32);
    T_CHECK(w && w->storage && w->storage->type == IO_PK_STORAGE && strcmp(w->storage->s, "0") == 0 &&
            w->storage->i == 6);
    const io_pk_obj *n = sd ? io_pk_dict_get(sd, "n") : NULL;
    T_CHECK(n && n->type == IO_PK_TENSOR && n->ndim == 0 && n->dtype == IO_DT_I64);
    io_pickle_free(p);

    /* every truncation fails cleanly */
    for (size_t len = 0; len < b.n; len++) {
        p = NULL;
        T_CHECKF(io_pickle_load(b.p, len, NULL, &p, &e) != NN_OK, "len %zu", len);
        io_pickle_free(p);
    }
    free(b.p);
}

static void test_pickle_values(void)
{
    /* l = [1, -2, 300, -70000, 2^40 (LONG1), 0.5, True, None, "é", (1,(2,)),
     * {"k": l}] + ["é"], with l in memo 0 and "é" in memo 1 (MEMOIZE) */
    static const uint8_t s[] = {
        0x80, 2, ']', 'q', 0, '(',
        'K', 1, 'J', 0xfe, 0xff, 0xff, 0xff, 'M', 0x2c, 0x01, 'J', 0x90, 0xee, 0xfe, 0xff,
        0x8a, 6, 0, 0, 0, 0, 0, 1,
        'G', 0x3f, 0xe0, 0, 0, 0, 0, 0, 0,
        0x88, 'N', 0x8c, 2, 0xc3, 0xa9, 0x94,
        'K', 1, 'K', 2, 0x85, 0x86,
        '}', 'X', 1, 0, 0, 0, 'k', 'h', 0, 's',
        'e', 'j', 1, 0, 0, 0, 'a', '.',
    };
    tbuf b = { (uint8_t *)s, sizeof s, sizeof s };
    io_pickle *p = NULL;
    nn_err e;
    T_CHECKF(pk_run(&b, &p, &e) == NN_OK, "%s", e.msg);
    const io_pk_obj *l = io_pickle_root(p);
    T_CHECK(l && l->type == IO_PK_LIST && l->n == 12);
    if (l && l->n == 12) {
        T_CHECK(l->items[0]->i == 1 && l->items[1]->i == -2 && l->items[2]->i == 300 &&
                l->items[3]->i == -70000);
        T_CHECK(l->items[4]->type == IO_PK_INT && l->items[4]->i == ((int64_t)1 << 40));
        T_CHECK(l->items[5]->type == IO_PK_FLOAT && l->items[5]->f == 0.5);
        T_CHECK(l->items[6]->type == IO_PK_BOOL && l->items[6]->i == 1);
        T_CHECK(l->items[7]->type == IO_PK_NONE);
        T_CHECK(l->items[8]->type == IO_PK_STR && strcmp(l->items[8]->s, "\xc3\xa9") == 0);
        const io_pk_obj *tt = l->items[9];
        T_CHECK(tt->type == IO_PK_TUPLE && tt->n == 2 && tt->items[1]->type == IO_PK_TUPLE &&
                tt->items[1]->items[0]->i == 2);
        const io_pk_obj *d = l->items[10];
        T_CHECK(d->type == IO_PK_DICT && io_pk_dict_get(d, "k") == l);
        T_CHECK(l->items[11] == l->items[8]);
    }
    io_pickle_free(p);
}

/* Runs s and expects failure with status want (0: any error) and msg part. */
static void expect_pickle_fail(const uint8_t *s, size_t n, nn_status want, const char *part)
{
    io_pickle *p = NULL;
    nn_err e = { 0 };
    nn_status st = io_pickle_load(s, n, NULL, &p, &e);
    T_CHECKF(st != NN_OK && (!want || st == want) && (!part || strstr(e.msg, part)),
             "status %d msg '%s' (wanted %d '%s')", st, e.msg, want, part ? part : "");
    io_pickle_free(p);
}
#define EXPECT_FAIL(want, part, ...)                                                  \
    do {                                                                             \
        static const uint8_t s_[] = { __VA_ARGS__ };                                 \
        expect_pickle_fail(s_, sizeof s_, want, part);                               \
    } while (0)

static void test_pickle_hostile(void)
{
    /* forbidden globals, by GLOBAL and by STACK_GLOBAL */
    EXPECT_FAIL(NN_ERR_UNSUPPORTED, "os.system", 0x80, 2, 'c', 'o', 's', '\n', 's', 'y', 's', 't',
                'e', 'm', '\n', 'X', 2, 0, 0, 0, 'l', 's', 0x85, 'R', '.');
    EXPECT_FAIL(NN_ERR_UNSUPPORTED, "builtins.eval", 0x80, 4, 0x8c, 8, 'b', 'u', 'i', 'l', 't', 'i',
                'n', 's', 0x8c, 4, 'e', 'v', 'a', 'l', 0x93, '.');
    EXPECT_FAIL(NN_ERR_UNSUPPORTED, "torch.load", 'c', 't', 'o', 'r', 'c', 'h', '\n', 'l', 'o', 'a',
                'd', '\n', '.');
    EXPECT_FAIL(NN_ERR_FORMAT, "unterminated", 'c', 'o', 's', '\n', 's', 'y', 's');
    /* REDUCE on a non-callable; storage type called */
    EXPECT_FAIL(NN_ERR_FORMAT, "REDUCE", 'K', 1, ')', 'R', '.');
    EXPECT_FAIL(NN_ERR_UNSUPPORTED, NULL, 'c', 't', 'o', 'r', 'c', 'h', '\n', 'F', 'l', 'o', 'a',
                't', 'S', 't', 'o', 'r', 'a', 'g', 'e', '\n', ')', 'R', '.');
    /* OrderedDict with arguments is not a plain constructor call */
    EXPECT_FAIL(NN_ERR_UNSUPPORTED, NULL, 'c', 'c', 'o', 'l', 'l', 'e', 'c', 't', 'i', 'o', 'n', 's',
                '\n', 'O', 'r', 'd', 'e', 'r', 'e', 'd', 'D', 'i', 'c', 't', '\n', ']', 0x85, 'R', '.');
    /* stack underflow in every consumer */
    EXPECT_FAIL(NN_ERR_FORMAT, "STOP", '.');
    EXPECT_FAIL(NN_ERR_FORMAT, NULL, 's', '.');
    EXPECT_FAIL(NN_ERR_FORMAT, NULL, 'K', 1, 'a', '.');
    EXPECT_FAIL(NN_ERR_FORMAT, NULL, 'K', 1, 0x86, '.');
    EXPECT_FAIL(NN_ERR_FORMAT, "MARK", 'K', 1, 't', '.');
    EXPECT_FAIL(NN_ERR_FORMAT, NULL, '(', 'K', 1, 'u', '.');
    EXPECT_FAIL(NN_ERR_FORMAT, NULL, '}', '(', 'K', 1, 'u', '.');
    EXPECT_FAIL(NN_ERR_FORMAT, NULL, 'R', '.');
    EXPECT_FAIL(NN_ERR_FORMAT, NULL, 'b', '.');
    EXPECT_FAIL(NN_ERR_FORMAT, NULL, 'Q', '.');
    EXPECT_FAIL(NN_ERR_FORMAT, NULL, 'q', 0, '.');
    EXPECT_FAIL(NN_ERR_FORMAT, NULL, 0x93, '.');
    /* memo: unset index, huge index */
    EXPECT_FAIL(NN_ERR_FORMAT, "memo", 'h', 5, '.');
    EXPECT_FAIL(NN_ERR_FORMAT, "memo", 'j', 0xff, 0xff, 0xff, 0xff, '.');
    EXPECT_FAIL(NN_ERR_LIMIT, "memo", 'N', 'r', 0xff, 0xff, 0xff, 0xff, '.');
    /* huge lengths */
    EXPECT_FAIL(NN_ERR_FORMAT, "truncated", 'X', 0xff, 0xff, 0xff, 0xff, 'a', '.');
    EXPECT_FAIL(NN_ERR_FORMAT, "truncated", 0x8d, 0, 0, 0, 0, 0, 1, 0, 0, 'a', '.');
    EXPECT_FAIL(NN_ERR_FORMAT, "truncated", 0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '.');
    EXPECT_FAIL(NN_ERR_FORMAT, "truncated", 0x8a, 200, 1, '.');
    /* a length that the bytes after the opcode cover only when its own
     * field is counted too: the payload would be read past the end */
    EXPECT_FAIL(NN_ERR_FORMAT, "truncated", 'X', 4, 0, 0, 0, 'a', 'b');
    EXPECT_FAIL(NN_ERR_FORMAT, "truncated", 0x8c, 2, 'a');
    EXPECT_FAIL(NN_ERR_FORMAT, "truncated", 0x8d, 8, 0, 0, 0, 0, 0, 0, 0, 'a', 'b', 'c', 'd');
    EXPECT_FAIL(NN_ERR_FORMAT, "truncated", 0x8a, 1);
    /* unknown / unsupported opcodes and protocols */
    EXPECT_FAIL(NN_ERR_UNSUPPORTED, "opcode", 'i', 'o', 's', '\n', '.');
    EXPECT_FAIL(NN_ERR_UNSUPPORTED, "protocol", 0x80, 9, 'N', '.');
    /* BUILD only on dicts and tensors; persistent ids only for storages */
    EXPECT_FAIL(NN_ERR_UNSUPPORTED, "BUILD", ']', '}', 'b', '.');
    EXPECT_FAIL(NN_ERR_FORMAT, "persistent", 'K', 1, 'Q', '.');
    EXPECT_FAIL(NN_ERR_FORMAT, "persistent", 'X', 7, 0, 0, 0, 's', 't', 'o', 'r', 'a', 'g', 'e',
                'K', 1, 0x86, 'Q', '.');
    /* odd dict */
    EXPECT_FAIL(NN_ERR_FORMAT, "odd", '(', 'K', 1, 'd', '.');
    /* no STOP */
    EXPECT_FAIL(NN_ERR_FORMAT, "STOP", 'N');
    /* containers built from nothing on a stack never used (clang's UBSan
     * flagged the NULL + 0 of their empty item range) */
    static const uint8_t empties[][4] = {{'(', 't', '.'}, {'(', 'l', '.'}, {'(', 'd', '.'}};
    for (int i = 0; i < 3; i++) {
        io_pickle *pe = NULL;
        nn_err ee;
        T_CHECK(io_pickle_load(empties[i], 3, NULL, &pe, &ee) == NN_OK && pe &&
                io_pickle_root(pe)->n == 0);
        io_pickle_free(pe);
    }

    /* many values on the stack work up to the named limit, then stop with
     * NN_ERR_LIMIT; so do open MARKs */
    size_t n = IO_PICKLE_MAX_STACK + 10;
    uint8_t *deep = malloc(n + 1);
    io_pickle *p = NULL;
    nn_err e;
    memset(deep, ']', n);
    deep[IO_PICKLE_MAX_STACK - 1] = '.';
    T_CHECK(io_pickle_load(deep, IO_PICKLE_MAX_STACK, NULL, &p, &e) == NN_OK);
    io_pickle_free(p);
    deep[IO_PICKLE_MAX_STACK - 1] = ']';
    deep[n] = '.';
    T_CHECK(io_pickle_load(deep, n + 1, NULL, &p, &e) == NN_ERR_LIMIT);
    memset(deep, '(', n);
    T_CHECK(io_pickle_load(deep, n + 1, NULL, &p, &e) == NN_ERR_LIMIT);
    free(deep);
}

/* ---- state_dict reader ---------------------------------------------------- */

static void test_state_views(void)
{
    /* storage 0: 6 floats; 1: 4 halfs; 2: 3 doubles; 3: int64 */
    float s0[6] = { 0, 1, 2, 3, 4, 5 };
    uint16_t s1[4] = { 0x3c00, 0xc000, 0x3555, 0x0001 };   /* 1, -2, 0.333, 2^-24 */
    double s2[3] = { 0.25, -1e10, 3.5 };
    int64_t s3 = 9;
    ptensor t[6] = {
        { "module.w", 2, { 2, 3 }, { 3, 1 }, 0, "FloatStorage", "0", 6 },
        { "module.wt", 2, { 3, 2 }, { 1, 3 }, 0, "FloatStorage", "0", 6 },  /* w.T */
        { "off", 1, { 2 }, { 1 }, 4, "FloatStorage", "0", 6 },
        { "h", 1, { 4 }, { 1 }, 0, "HalfStorage", "1", 4 },
        { "d", 1, { 2 }, { 2 }, 0, "DoubleStorage", "2", 3 },
        { "bn.num_batches_tracked", 0, { 0 }, { 0 }, 0, "LongStorage", "3", 1 },
    };
    tbuf pk = { 0 };
    pk_state_dict(&pk, t, 6, "model");
    zentry en[6] = { { "arch ive/data.pkl", pk.p, pk.n }, { "arch ive/data/0", s0, sizeof s0 },
                     { "arch ive/data/1", s1, sizeof s1 }, { "arch ive/data/2", s2, sizeof s2 },
                     { "arch ive/data/3", &s3, 8 }, { "arch ive/byteorder", "little", 6 } };
    tbuf z = zip_make(en, 6, 0, NULL);
    io_pth_state *st = NULL;
    nn_err e;
    T_CHECKF(io_pth_state_read(z.p, z.n, &st, &e) == NN_OK, "%s", e.msg);
    if (st) {
        T_CHECK(st->n == 5 && st->n_skipped == 1);
        io_pth_tensor *w = io_pth_state_find(st, "w"), *wt = io_pth_state_find(st, "wt"),
                      *off = io_pth_state_find(st, "off"), *h = io_pth_state_find(st, "h"),
                      *d = io_pth_state_find(st, "d");
        T_CHECK(w && wt && off && h && d);
        if (w && wt && off && h && d) {
            T_CHECK(w->shape.ndim == 2 && w->shape.d[0] == 2 && w->data[4] == 4.0f);
            /* wt[i][j] = w[j][i]: row-major [3,2] = 0,3,1,4,2,5 */
            T_CHECK(wt->shape.d[0] == 3 && wt->data[0] == 0 && wt->data[1] == 3 && wt->data[2] == 1 &&
                    wt->data[5] == 5);
            T_CHECK(off->data[0] == 4 && off->data[1] == 5);
            T_CHECK(h->data[0] == 1.0f && h->data[1] == -2.0f && fabsf(h->data[2] - 0.33325195f) < 1e-7f &&
                    h->data[3] == ldexpf(1.0f, -24));
            T_CHECK(d->data[0] == 0.25f && d->data[1] == 3.5f);
        }
    }
    io_pth_state_free(st);
    free(z.p);

    /* each of these must be refused */
    struct { int idx; int64_t off, size0, stride0; const char *why; } bad[] = {
        { 2, 5, 2, 1, "past the storage" },
        { 2, 0, 2, -1, "negative stride" },
        { 2, -1, 2, 1, "negative offset" },
        { 2, 0, 7, 1, "more elements than the storage" },
        { 2, 0, 7, 0, "stride-0 expansion past the storage size" },
        { 2, 0, 0, 1, "empty" },
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        ptensor tb[6];
        memcpy(tb, t, sizeof tb);
        tb[bad[k].idx].offset = bad[k].off;
        tb[bad[k].idx].size[0] = bad[k].size0;
        tb[bad[k].idx].stride[0] = bad[k].stride0;
        pk.n = 0;
        pk_state_dict(&pk, tb, 6, NULL);
        en[0].data = pk.p;
        en[0].len = pk.n;
        z = zip_make(en, 6, 0, NULL);
        st = NULL;
        T_CHECKF(io_pth_state_read(z.p, z.n, &st, &e) != NN_OK, "%s accepted", bad[k].why);
        io_pth_state_free(st);
        free(z.p);
    }
    /* "module.w" and "w" collide once the prefix is stripped */
    ptensor td[2] = { t[0], t[0] };
    td[1].name = "w";
    pk.n = 0;
    pk_state_dict(&pk, td, 2, NULL);
    en[0].data = pk.p;
    en[0].len = pk.n;
    z = zip_make(en, 2, 0, NULL);
    T_CHECK(io_pth_state_read(z.p, z.n, &st, &e) == NN_ERR_FORMAT && strstr(e.msg, "duplicate"));
    free(z.p);
    /* big-endian checkpoints are refused; a missing storage entry too */
    pk.n = 0;
    pk_state_dict(&pk, t, 6, NULL);
    en[0].data = pk.p;
    en[0].len = pk.n;
    en[5].data = "big\0\0\0";
    z = zip_make(en, 6, 0, NULL);
    T_CHECK(io_pth_state_read(z.p, z.n, &st, &e) == NN_ERR_UNSUPPORTED);
    free(z.p);
    z = zip_make(en, 2, 0, NULL);
    T_CHECK(io_pth_state_read(z.p, z.n, &st, &e) == NN_ERR_FORMAT && strstr(e.msg, "missing"));
    free(z.p);
    free(pk.p);
    /* neither container */
    T_CHECK(io_pth_state_read("\x08\x01onnx", 6, &st, &e) == NN_ERR_FORMAT &&
            strstr(e.msg, "not a PyTorch checkpoint"));
}

static void test_state_legacy(void)
{
    gen_ckpt c;
    gen_cifar(&c, 1);
    tbuf b = gen_legacy(&c, "state_dict");
    io_pth_state *st = NULL;
    nn_err e;
    T_CHECKF(io_pth_state_read(b.p, b.n, &st, &e) == NN_OK, "%s", e.msg);
    if (st) {
        T_CHECK(st->n == 37 && st->n_skipped == 7);
        io_pth_tensor *t = io_pth_state_find(st, "layer3.0.conv2.weight");
        T_CHECK(t && t->shape.d[0] == 64 && t->shape.d[1] == 64);
        for (int i = 0; i < c.n && t; i++)
            if (strcmp(c.names[i], "layer3.0.conv2.weight") == 0)
                T_CHECK(memcmp(t->data, c.data[i], c.bytes[i]) == 0);
    }
    io_pth_state_free(st);
    /* every truncation fails (the storages are the file's tail) */
    for (size_t len = 1; len < b.n; len += (len < 4000 ? 1 : 997)) {
        st = NULL;
        T_CHECKF(io_pth_state_read(b.p, len, &st, &e) != NN_OK, "legacy truncated to %zu accepted", len);
        io_pth_state_free(st);
    }
    free(b.p);
    gen_free(&c);
}

/* ---- builders --------------------------------------------------------- */

static nn_status build(const gen_ckpt *c, const char *wrap, const char *arch, nn_graph **g, nn_err *e)
{
    tbuf z = gen_zip(c, "resnet8", wrap);
    nn_status st = io_pth_read(z.p, z.n, arch, g, e);
    free(z.p);
    return st;
}

static void test_builder_cifar(void)
{
    gen_ckpt c;
    nn_graph *g = NULL;
    nn_err e;
    gen_cifar(&c, 1);
    T_CHECKF(build(&c, "state_dict", NULL, &g, &e) == NN_OK, "%s", e.msg);
    if (g) {
        /* stem 3 + 3 blocks x 7 + 2 option-A shortcuts x 2 + head 3 */
        T_CHECKF(g->n_nodes == 31, "%d nodes", g->n_nodes);
        T_CHECK(strcmp(nn_graph_get_meta(g, "name"), "cifar_resnet8") == 0);
        T_CHECK(strcmp(nn_graph_get_meta(g, "input_shape"), "3x32x32") == 0);
        T_CHECK(g->n_outputs == 1 && strcmp(g->values[g->outputs[0]].name, "logits") == 0);
        nn_plan *p = NULL;
        nn_plan_opts o = { .threads = 1 };
        T_CHECKF(nn_plan_create(g, 2, &o, &p, &e) == NN_OK, "%s", e.msg);
        if (p) {
            const nn_tensor *y = nn_plan_output(p, 0);
            T_CHECK(y->shape.ndim == 2 && y->shape.d[0] == 2 && y->shape.d[1] == 10);
        }
        nn_plan_free(p);
    }
    nn_graph_free(g);
    g = NULL;
    T_CHECK(build(&c, NULL, "cifar_resnet8", &g, &e) == NN_OK);
    nn_graph_free(g);
    g = NULL;
    /* the wrong depth / family, an unknown name */
    T_CHECK(build(&c, NULL, "cifar_resnet20", &g, &e) == NN_ERR_FORMAT &&
            strstr(e.msg, "missing") && strstr(e.msg, "layer1.1.conv1.weight"));
    T_CHECK(build(&c, NULL, "resnet18", &g, &e) != NN_OK);
    T_CHECK(build(&c, NULL, "vgg16", &g, &e) == NN_ERR_UNSUPPORTED && strstr(e.msg, "vgg16"));

    /* a wrong shape is named with both shapes */
    gen_ckpt w = c;
    for (int i = 0; i < w.n; i++)
        if (strcmp(w.names[i], "layer2.0.conv1.weight") == 0)
            w.t[i].size[2] = w.t[i].size[3] = 1, w.t[i].stride[0] = 16, w.t[i].stride[1] = 1;
    T_CHECK(build(&w, NULL, NULL, &g, &e) == NN_ERR_SHAPE &&
            strstr(e.msg, "layer2.0.conv1.weight has shape 32x16x1x1, expected 32x16x3x3"));
    /* a missing key, an unexpected key */
    w = c;
    for (int i = 0; i < w.n; i++)
        if (strcmp(w.names[i], "layer2.0.bn1.running_var") == 0)
            w.t[i].name = "layer2.0.bn1.running_varx";
    T_CHECK(build(&w, NULL, NULL, &g, &e) == NN_ERR_FORMAT && strstr(e.msg, "1 missing key") &&
            strstr(e.msg, "layer2.0.bn1.running_var"));
    /* DataParallel's "module." prefix on every key */
    static char prefixed[GEN_MAX][80];
    w = c;
    for (int i = 0; i < w.n; i++) {
        snprintf(prefixed[i], sizeof prefixed[i], "module.%s", c.names[i]);
        w.t[i].name = prefixed[i];
    }
    T_CHECK(build(&w, "model", NULL, &g, &e) == NN_OK);
    nn_graph_free(g);
    g = NULL;
    gen_ckpt x;
    gen_cifar(&x, 1);
    gen_add(&x, "extra.weight", 1, 3, 0, 0, 0);
    T_CHECK(build(&x, NULL, NULL, &g, &e) == NN_ERR_FORMAT && strstr(e.msg, "1 unexpected key") &&
            strstr(e.msg, "extra.weight"));
    gen_free(&x);
    gen_free(&c);
}

/* ---- hostile inputs ----------------------------------------------------- */

/* Truncations at `steps` lengths (plus the whole head and tail) must fail;
 * bit flips (fixed seed) must not crash, and a success must be sane. */
static void hostile_file(const uint8_t *buf, size_t len, const char *what, int flips)
{
    uint8_t *copy = malloc(len);
    nn_err e;
    size_t step = len / 400 + 1;
    int fails = 0;
    for (size_t n = 0; n < len; n += (n < 2048 || len - n < 2048) ? 1 : step) {
        io_pth_state *st = NULL;
        memcpy(copy, buf, n);
        if (io_pth_state_read(copy, n, &st, &e) == NN_OK)
            fails++;
        io_pth_state_free(st);
    }
    T_CHECKF(fails == 0, "%s: %d truncations accepted", what, fails);
    uint32_t seed = 2024;
    int ok = 0;
    for (int k = 0; k < flips; k++) {
        memcpy(copy, buf, len);
        for (int j = 0; j < 1 + k % 3; j++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (k & 1) ? (seed >> 4) % (len < 4096 ? len : 4096) : (seed >> 4) % len;
            copy[at] ^= (uint8_t)(1u << ((seed >> 24) & 7));
        }
        io_pth_state *st = NULL;
        nn_graph *g = NULL;
        if (io_pth_state_read(copy, len, &st, &e) == NN_OK) {
            ok++;
            for (int i = 0; i < st->n; i++)
                T_CHECK(st->t[i].name[0] && nn_shape_numel(&st->t[i].shape) >= 1);
        }
        io_pth_state_free(st);
        if (k % 8 == 0 && io_pth_read(copy, len, NULL, &g, &e) == NN_OK)
            T_CHECK(g->n_outputs == 1);
        nn_graph_free(g);
    }
    printf("  %s: %d of %d bit-flipped copies still read\n", what, ok, flips);
    free(copy);
}

static void test_hostile_generated(void)
{
    gen_ckpt c;
    gen_cifar(&c, 1);
    tbuf z = gen_zip(&c, "x", NULL), l = gen_legacy(&c, NULL);
    hostile_file(z.p, z.n, "generated zip", 300);
    hostile_file(l.p, l.n, "generated legacy", 300);
    free(z.p);
    free(l.p);
    gen_free(&c);
}

/* ---- real checkpoints ($TESTDATA) ---------------------------------------- */

static uint8_t *read_file(const char *dir, const char *rel, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "rb");
    uint8_t *b = NULL;
    long n;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (b = malloc((size_t)n)) && fread(b, 1, (size_t)n, f) == (size_t)n) {
        *len = (size_t)n;
    } else {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

/* float32 data of a little-endian C-order .npy file (NULL if not one). */
static const float *npy_f32(const uint8_t *b, size_t len, size_t *numel)
{
    if (len < 12 || memcmp(b, "\x93NUMPY", 6) != 0)
        return NULL;
    size_t hl = b[6] == 1 ? (size_t)(b[8] | (b[9] << 8)) : (size_t)(b[8] | (b[9] << 8) | (b[10] << 16));
    size_t off = (b[6] == 1 ? 10 : 12) + hl;
    if (off > len || !memmem(b, off, "'<f4'", 5) || !memmem(b, off, "False", 5))
        return NULL;
    *numel = (len - off) / 4;
    return (const float *)(b + off);
}

typedef struct expect_t {
    const char *name;
    const char *shape;
    double first, last, sum;    /* from torch.load in PyTorch 1.13 (see below) */
} expect_t;

/* Checks shape, first/last element and the float64 sum of a tensor. */
static void check_tensor(const io_pth_state *st, const expect_t *x)
{
    const io_pth_tensor *t = io_pth_state_find(st, x->name);
    char sh[64];
    T_CHECKF(t != NULL, "%s missing", x->name);
    if (!t)
        return;
    nn_shape_str(&t->shape, sh, sizeof sh);
    int64_t n = nn_shape_numel(&t->shape);
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += t->data[i];
    T_CHECKF(strcmp(sh, x->shape) == 0, "%s: shape %s, expected %s", x->name, sh, x->shape);
    T_CHECKF(t->data[0] == (float)x->first && t->data[n - 1] == (float)x->last &&
             fabs(sum - x->sum) <= 1e-6 * (1 + fabs(x->sum)),
             "%s: %.9g %.9g sum %.9g", x->name, t->data[0], t->data[n - 1], sum);
}

/* Expected values printed once with /usr/bin/python3 (torch 1.13):
 *   sd = torch.load(path, map_location="cpu")  (["state_dict"] for the .th)
 *   t = sd[k]; t.flatten()[0], t.flatten()[-1], float(t.double().sum()) */
static const char *test_real_pneumonia_dir;

static void test_real_pneumonia(const char *dir)
{
    static const expect_t x[] = {
        { "features.0.weight", "16x1x3x3", 0.30797848105430603, 0.15186451375484467, 4.540183173099649 },
        { "classifier.1.weight", "64x1568", -0.0022641287650913, -0.03705615922808647, -110.4969242951135 },
        { "classifier.4.bias", "1", -0.05135698989033699, -0.05135698989033699, -0.05135698989033699 },
    };
    static const char *const order[8][2] = {
        { "features.0.weight", "16x1x3x3" }, { "features.0.bias", "16" },
        { "features.3.weight", "32x16x3x3" }, { "features.3.bias", "32" },
        { "classifier.1.weight", "64x1568" }, { "classifier.1.bias", "64" },
        { "classifier.4.weight", "1x64" }, { "classifier.4.bias", "1" },
    };
    size_t len = 0;
    uint8_t *b = read_file(dir, "models/pneumoniamnist_cnn_pytorch/pneumonia_model.pth", &len);
    io_pth_state *st = NULL;
    nn_graph *g = NULL;
    nn_err e;
    T_CHECK(b != NULL);
    if (!b)
        return;
    T_CHECKF(io_pth_state_read(b, len, &st, &e) == NN_OK, "%s", e.msg);
    if (st) {
        T_CHECK(st->n == 8 && st->n_skipped == 0);
        for (int i = 0; i < 8 && i < st->n; i++) {
            char sh[64];
            nn_shape_str(&st->t[i].shape, sh, sizeof sh);
            T_CHECKF(strcmp(st->t[i].name, order[i][0]) == 0 && strcmp(sh, order[i][1]) == 0,
                     "tensor %d: %s %s", i, st->t[i].name, sh);
        }
        for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
            check_tensor(st, &x[i]);
    }
    io_pth_state_free(st);
    /* not a torchvision architecture: refused with a message */
    T_CHECK(io_pth_read(b, len, NULL, &g, &e) == NN_ERR_UNSUPPORTED && strstr(e.msg, "not recognised"));
    hostile_file(b, len, "pneumonia .pth", 200);
    free(b);
}

static void test_real_resnet20(const char *dir)
{
    static const expect_t x[] = {
        { "conv1.weight", "16x3x3x3", -0.13818146288394928, 0.3087101876735687, 1.3100982000032673 },
        { "bn1.running_var", "16", 2.2049126625061035, 10.227829933166504, 76.47960840986343 },
        { "layer3.2.conv2.weight", "64x64x3x3", 0.023041605949401855, 0.002880609128624201,
          1.509974816668091 },
        { "linear.weight", "10x64", -1.0598125457763672, 0.22667697072029114, -0.04562738863751292 },
        { "linear.bias", "10", 0.19355906546115875, -0.27025941014289856, 3.4442171454429626e-05 },
    };
    static const char *const images[] = { "caffe_cat", "darknet_dog", "darknet_eagle",
                                          "darknet_horses", "hub_dog" };
    size_t len = 0;
    uint8_t *b = read_file(dir, "models/cifar10_resnet20_akamaster/resnet20-12fca82f.th", &len);
    io_pth_state *st = NULL;
    nn_graph *g = NULL;
    nn_plan *p = NULL;
    nn_err e;
    T_CHECK(b != NULL);
    if (!b)
        return;
    T_CHECKF(io_pth_state_read(b, len, &st, &e) == NN_OK, "%s", e.msg);
    if (st) {
        T_CHECK(st->n == 97);
        for (int i = 0; i < st->n; i++)
            T_CHECKF(strncmp(st->t[i].name, "module.", 7) != 0, "%s kept its prefix", st->t[i].name);
        for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
            check_tensor(st, &x[i]);
    }
    io_pth_state_free(st);

    /* the graph against PyTorch's logits for the reference inputs */
    T_CHECKF(io_pth_read(b, len, NULL, &g, &e) == NN_OK, "%s", e.msg);
    if (g) {
        nn_plan_opts o = { .threads = 2 };
        T_CHECK(strcmp(nn_graph_get_meta(g, "name"), "cifar_resnet20") == 0);
        T_CHECKF(nn_graph_optimize(g, &e) == NN_OK, "%s", e.msg);
        T_CHECKF(nn_plan_create(g, 1, &o, &p, &e) == NN_OK, "%s", e.msg);
    }
    for (size_t k = 0; p && k < sizeof images / sizeof images[0]; k++) {
        char rel[256];
        size_t li = 0, lo = 0, ni = 0, no = 0;
        snprintf(rel, sizeof rel, "reference/cifar_resnet20/%s.input.npy", images[k]);
        uint8_t *bi = read_file(dir, rel, &li);
        snprintf(rel, sizeof rel, "reference/cifar_resnet20/%s.logits.npy", images[k]);
        uint8_t *bo = read_file(dir, rel, &lo);
        const float *in = bi ? npy_f32(bi, li, &ni) : NULL, *ref = bo ? npy_f32(bo, lo, &no) : NULL;
        nn_tensor *xin = nn_plan_input(p, 0);
        T_CHECKF(in && ref && ni == 3 * 32 * 32 && no == 10, "%s: reference files", images[k]);
        if (in && ref && ni == 3 * 32 * 32 && no == 10) {
            memcpy(xin->data, in, ni * sizeof(float));
            T_CHECKF(nn_plan_run(p, &e) == NN_OK, "%s", e.msg);
            double err = t_max_rel_err(nn_plan_output(p, 0)->data, ref, 10);
            T_CHECKF(err < 1e-4, "%s: logits rel err %g", images[k], err);
        }
        free(bi);
        free(bo);
    }
    nn_plan_free(p);
    nn_graph_free(g);
    hostile_file(b, len, "resnet20 legacy .th", 100);
    free(b);
}

static void run_real_pneumonia(void) { test_real_pneumonia(test_real_pneumonia_dir); }
static void run_real_resnet20(void) { test_real_resnet20(test_real_pneumonia_dir); }

int main(void)
{
    const char *td = getenv("TESTDATA");
    T_RUN(test_zip_basic);
    T_RUN(test_zip_hostile);
    T_RUN(test_pickle_state_dict);
    T_RUN(test_pickle_values);
    T_RUN(test_pickle_hostile);
    T_RUN(test_state_views);
    T_RUN(test_state_legacy);
    T_RUN(test_builder_cifar);
    T_RUN(test_hostile_generated);
    if (td && *td) {
        test_real_pneumonia_dir = td;
        T_RUN(run_real_pneumonia);
        T_RUN(run_real_resnet20);
    } else {
        printf("  TESTDATA not set: real checkpoints skipped\n");
    }
    return t_summary("test_pth");
}
