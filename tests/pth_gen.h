/* pth_gen.h — test-only writers for tests/test_pth.c: a growable byte
 * buffer, a ZIP writer (stored entries, optional zip64 fields), a pickle
 * writer for torch-style state_dicts, and generated CIFAR-ResNet
 * checkpoints in the zip and legacy containers (deterministic weights). */
#ifndef TESTS_PTH_GEN_H
#define TESTS_PTH_GEN_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- byte buffer ------------------------------------------------------ */

typedef struct tbuf {
    uint8_t *p;
    size_t n, cap;
} tbuf;

static void put(tbuf *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            abort();
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}
static void put8(tbuf *b, unsigned v) { uint8_t c = (uint8_t)v; put(b, &c, 1); }
static void put16(tbuf *b, unsigned v) { put8(b, v & 0xff); put8(b, (v >> 8) & 0xff); }
static void put32(tbuf *b, uint32_t v) { put16(b, v & 0xffff); put16(b, v >> 16); }
static void put64(tbuf *b, uint64_t v) { put32(b, (uint32_t)v); put32(b, (uint32_t)(v >> 32)); }
static void puts_(tbuf *b, const char *s) { put(b, s, strlen(s)); }

static uint32_t crc32_ref(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return ~c;
}

/* ---- zip writer (stored entries; optional zip64 fields) --------------- */

typedef struct zentry {
    const char *name;
    const void *data;
    size_t len;
} zentry;

enum { Z_PLAIN = 0, Z_ZIP64_EXTRA = 1, Z_ZIP64_END = 2, Z_DEFLATE_FLAG = 4 };

static tbuf zip_make(const zentry *en, int n, int flags, const char *comment)
{
    tbuf b = { 0 };
    uint64_t off[256];
    for (int i = 0; i < n && i < 256; i++) {
        off[i] = b.n;
        put32(&b, 0x04034b50);
        put16(&b, 20);
        put16(&b, 0);
        put16(&b, (flags & Z_DEFLATE_FLAG) ? 8 : 0);
        put32(&b, 0);
        put32(&b, crc32_ref(en[i].data, en[i].len));
        put32(&b, (uint32_t)en[i].len);
        put32(&b, (uint32_t)en[i].len);
        put16(&b, (unsigned)strlen(en[i].name));
        put16(&b, 0);
        puts_(&b, en[i].name);
        put(&b, en[i].data, en[i].len);
    }
    uint64_t cd = b.n;
    for (int i = 0; i < n; i++) {
        int z64 = flags & Z_ZIP64_EXTRA;
        put32(&b, 0x02014b50);
        put16(&b, 45);
        put16(&b, 45);
        put16(&b, 0);
        put16(&b, (flags & Z_DEFLATE_FLAG) ? 8 : 0);
        put32(&b, 0);
        put32(&b, crc32_ref(en[i].data, en[i].len));
        put32(&b, z64 ? 0xFFFFFFFFu : (uint32_t)en[i].len);
        put32(&b, z64 ? 0xFFFFFFFFu : (uint32_t)en[i].len);
        put16(&b, (unsigned)strlen(en[i].name));
        put16(&b, z64 ? 28 : 0);
        put16(&b, 0);
        put16(&b, 0);
        put16(&b, 0);
        put32(&b, 0);
        put32(&b, z64 ? 0xFFFFFFFFu : (uint32_t)off[i]);
        puts_(&b, en[i].name);
        if (z64) {
            put16(&b, 1);
            put16(&b, 24);
            put64(&b, en[i].len);
            put64(&b, en[i].len);
            put64(&b, off[i]);
        }
    }
    uint64_t cd_size = b.n - cd;
    if (flags & Z_ZIP64_END) {
        uint64_t e64 = b.n;
        put32(&b, 0x06064b50);
        put64(&b, 44);
        put16(&b, 45);
        put16(&b, 45);
        put32(&b, 0);
        put32(&b, 0);
        put64(&b, (uint64_t)n);
        put64(&b, (uint64_t)n);
        put64(&b, cd_size);
        put64(&b, cd);
        put32(&b, 0x07064b50);
        put32(&b, 0);
        put64(&b, e64);
        put32(&b, 1);
    }
    int big = flags & Z_ZIP64_END;
    put32(&b, 0x06054b50);
    put16(&b, 0);
    put16(&b, 0);
    put16(&b, big ? 0xFFFF : (unsigned)n);
    put16(&b, big ? 0xFFFF : (unsigned)n);
    put32(&b, big ? 0xFFFFFFFFu : (uint32_t)cd_size);
    put32(&b, big ? 0xFFFFFFFFu : (uint32_t)cd);
    put16(&b, comment ? (unsigned)strlen(comment) : 0);
    if (comment)
        puts_(&b, comment);
    return b;
}

/* Offset of the end record (last signature) in a zip made above. */
static size_t zip_end_at(const tbuf *z)
{
    for (size_t p = z->n - 22 + 1; p-- > 0;)
        if (z->p[p] == 0x50 && z->p[p + 1] == 0x4b && z->p[p + 2] == 5 && z->p[p + 3] == 6)
            return p;
    return 0;
}

static void w32at(tbuf *b, size_t at, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        b->p[at + k] = (uint8_t)(v >> (8 * k));
}

/* ---- pickle writer: a torch-style state_dict --------------------------- */

typedef struct ptensor {
    const char *name;
    int ndim;
    int64_t size[4], stride[4];
    int64_t offset;
    const char *storage_type;   /* "FloatStorage", ... */
    const char *key;            /* storage key */
    int64_t numel;              /* storage elements */
} ptensor;

static void pk_str(tbuf *b, const char *s)
{
    put8(b, 'X');
    put32(b, (uint32_t)strlen(s));
    puts_(b, s);
}
static void pk_int(tbuf *b, int64_t v)
{
    put8(b, 'J');
    put32(b, (uint32_t)(int32_t)v);
}
static void pk_global(tbuf *b, const char *mod, const char *name)
{
    put8(b, 'c');
    puts_(b, mod);
    put8(b, '\n');
    puts_(b, name);
    put8(b, '\n');
}
static void pk_odict(tbuf *b)
{
    pk_global(b, "collections", "OrderedDict");
    put8(b, ')');
    put8(b, 'R');
}

/* wrap: NULL for a bare state_dict, else the wrapper key ("state_dict"). */
static void pk_state_dict(tbuf *b, const ptensor *t, int n, const char *wrap)
{
    put8(b, 0x80);
    put8(b, 2);
    if (wrap) {
        put8(b, '}');
        pk_str(b, wrap);
    }
    pk_odict(b);
    put8(b, 'q');
    put8(b, 0);
    put8(b, '(');
    for (int i = 0; i < n; i++) {
        pk_str(b, t[i].name);
        pk_global(b, "torch._utils", "_rebuild_tensor_v2");
        put8(b, '(');
        put8(b, '(');
        pk_str(b, "storage");
        pk_global(b, "torch", t[i].storage_type);
        pk_str(b, t[i].key);
        pk_str(b, "cpu");
        pk_int(b, t[i].numel);
        put8(b, 't');
        put8(b, 'Q');
        pk_int(b, t[i].offset);
        put8(b, '(');
        for (int d = 0; d < t[i].ndim; d++)
            pk_int(b, t[i].size[d]);
        put8(b, 't');
        put8(b, '(');
        for (int d = 0; d < t[i].ndim; d++)
            pk_int(b, t[i].stride[d]);
        put8(b, 't');
        put8(b, 0x89);
        put8(b, 'h');           /* BINGET 0: the memoised OrderedDict, as torch does */
        put8(b, 0);
        put8(b, 't');
        put8(b, 'R');
    }
    put8(b, 'u');
    if (wrap)
        put8(b, 's');
    put8(b, '.');
}

/* ---- generated checkpoints ---------------------------------------------- */

#define GEN_MAX 128

typedef struct gen_ckpt {
    int n;
    ptensor t[GEN_MAX];
    char names[GEN_MAX][64], keys[GEN_MAX][8];
    void *data[GEN_MAX];
    size_t bytes[GEN_MAX];
} gen_ckpt;

static uint32_t g_rng = 12345;
static float rnd(void)   /* uniform in [-0.5, 0.5) */
{
    g_rng = g_rng * 1664525u + 1013904223u;
    return (float)(g_rng >> 8) / 16777216.0f - 0.5f;
}

/* Adds a contiguous fp32 tensor (or int64 when dims are all 0: a scalar
 * num_batches_tracked) with its own storage. */
static void gen_add(gen_ckpt *c, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2,
                    int64_t d3)
{
    int i = c->n++;
    ptensor *t = &c->t[i];
    int64_t d[4] = { d0, d1, d2, d3 }, numel = 1;
    memset(t, 0, sizeof *t);
    snprintf(c->names[i], sizeof c->names[i], "%s", name);
    snprintf(c->keys[i], sizeof c->keys[i], "%d", i);
    t->name = c->names[i];
    t->key = c->keys[i];
    t->ndim = ndim;
    for (int k = ndim - 1; k >= 0; k--) {
        t->size[k] = d[k];
        t->stride[k] = numel;
        numel *= d[k];
    }
    t->numel = numel;
    if (strstr(name, "num_batches_tracked")) {
        int64_t v = 7;
        t->storage_type = "LongStorage";
        c->bytes[i] = 8;
        c->data[i] = malloc(8);
        memcpy(c->data[i], &v, 8);
        return;
    }
    t->storage_type = "FloatStorage";
    c->bytes[i] = (size_t)numel * 4;
    float *f = malloc(c->bytes[i]);
    int var = strstr(name, "running_var") != NULL;
    for (int64_t k = 0; k < numel; k++)
        f[k] = var ? 1.0f + rnd() : rnd();
    c->data[i] = f;
}

static void gen_free(gen_ckpt *c)
{
    for (int i = 0; i < c->n; i++)
        free(c->data[i]);
}

/* The zip form of a checkpoint: <root>/data.pkl, <root>/data/<key>. */
static tbuf gen_zip(const gen_ckpt *c, const char *root, const char *wrap)
{
    static char names[GEN_MAX + 2][80];
    zentry en[GEN_MAX + 2];
    tbuf pk = { 0 };
    pk_state_dict(&pk, c->t, c->n, wrap);
    snprintf(names[0], sizeof names[0], "%s/data.pkl", root);
    en[0] = (zentry){ names[0], pk.p, pk.n };
    for (int i = 0; i < c->n; i++) {
        snprintf(names[i + 1], sizeof names[i + 1], "%s/data/%s", root, c->keys[i]);
        en[i + 1] = (zentry){ names[i + 1], c->data[i], c->bytes[i] };
    }
    snprintf(names[c->n + 1], sizeof names[0], "%s/version", root);
    en[c->n + 1] = (zentry){ names[c->n + 1], "3\n", 2 };
    tbuf z = zip_make(en, c->n + 2, 0, NULL);
    free(pk.p);
    return z;
}

/* The legacy form: magic, protocol, sys_info, main pickle, key list, storages. */
static tbuf gen_legacy(const gen_ckpt *c, const char *wrap)
{
    static const uint8_t magic[] = { 0x80, 2, 0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9,
                                     0x20, 0x6a, 0xa8, 0x50, 0x19, '.' };
    static const uint8_t proto[] = { 0x80, 2, 'M', 0xe9, 0x03, '.' };
    tbuf b = { 0 };
    put(&b, magic, sizeof magic);
    put(&b, proto, sizeof proto);
    put8(&b, 0x80);
    put8(&b, 2);
    put8(&b, '}');
    pk_str(&b, "little_endian");
    put8(&b, 0x88);
    put8(&b, 's');
    put8(&b, '.');
    pk_state_dict(&b, c->t, c->n, wrap);
    put8(&b, 0x80);
    put8(&b, 2);
    put8(&b, ']');
    put8(&b, '(');
    for (int i = c->n - 1; i >= 0; i--)     /* any order: records follow the list */
        pk_str(&b, c->keys[i]);
    put8(&b, 'e');
    put8(&b, '.');
    for (int i = c->n - 1; i >= 0; i--) {
        put64(&b, (uint64_t)c->t[i].numel);
        put(&b, c->data[i], c->bytes[i]);
    }
    return b;
}

/* CIFAR ResNet-(6n+2) keys (akamaster), with num_batches_tracked. */
static void gen_bn(gen_ckpt *c, const char *p, int64_t ch)
{
    static const char *const parts[] = { "weight", "bias", "running_mean", "running_var" };
    char k[64];
    for (int i = 0; i < 4; i++) {
        snprintf(k, sizeof k, "%s.%s", p, parts[i]);
        gen_add(c, k, 1, ch, 0, 0, 0);
    }
    snprintf(k, sizeof k, "%s.num_batches_tracked", p);
    gen_add(c, k, 0, 0, 0, 0, 0);
}

static void gen_cifar(gen_ckpt *c, int n_blocks)
{
    char k[64];
    memset(c, 0, sizeof *c);
    gen_add(c, "conv1.weight", 4, 16, 3, 3, 3);
    gen_bn(c, "bn1", 16);
    for (int l = 0; l < 3; l++)
        for (int b = 0; b < n_blocks; b++) {
            int64_t planes = 16 << l, inp = (b == 0 && l > 0) ? planes / 2 : planes;
            snprintf(k, sizeof k, "layer%d.%d.conv1.weight", l + 1, b);
            gen_add(c, k, 4, planes, inp, 3, 3);
            snprintf(k, sizeof k, "layer%d.%d.bn1", l + 1, b);
            gen_bn(c, k, planes);
            snprintf(k, sizeof k, "layer%d.%d.conv2.weight", l + 1, b);
            gen_add(c, k, 4, planes, planes, 3, 3);
            snprintf(k, sizeof k, "layer%d.%d.bn2", l + 1, b);
            gen_bn(c, k, planes);
        }
    gen_add(c, "linear.weight", 2, 10, 64, 0, 0);
    gen_add(c, "linear.bias", 1, 10, 0, 0, 0);
}

#endif
