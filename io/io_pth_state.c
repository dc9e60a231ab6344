/* io_pth_state.c — torch checkpoint -> named fp32 tensors (io_pth_state.h).
 *
 * The container code only locates storages: for the zip form, storage key
 * k lives in entry "<root>/data/k"; for the legacy form the storages follow
 * the pickles back to back. The tensor code then checks each tensor's size,
 * stride and offset against its storage's element count and copies it out
 * as contiguous fp32. */
#include "io/io_pth_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_pickle.h"
#include "io/io_zip.h"
#include "nn/nn_graph.h"

/* Legacy magic number 0x1950a86a20f9469cfc6c as pickled by LONG1 (LE). */
static const uint8_t k_legacy_magic[10] = { 0x6c, 0xfc, 0x9c, 0x46, 0xf9,
                                            0x20, 0x6a, 0xa8, 0x50, 0x19 };
/* A legacy file opens with PROTO 2, LONG1 of 10 bytes (the magic). */
static const uint8_t k_legacy_start[4] = { 0x80, 0x02, 0x8a, 0x0a };
#define LEGACY_PROTOCOL 1001
#define PTH_MAX_STORAGES 100000   /* storages in a legacy key list */
#define PTH_MODULE_PREFIX "module."

/* A located storage: its raw bytes in the file. */
typedef struct pth_storage {
    const char *key;
    io_pk_dtype dtype;
    const uint8_t *data;
    uint64_t numel;
} pth_storage;

typedef struct pth_src {
    io_zip *zip;                /* zip form */
    char root[NN_NAME_MAX];     /* "<root>/" prefix of zip entries */
    pth_storage *legacy;        /* legacy form: one per key-list entry, sorted by key */
    size_t n_legacy;
    uint64_t out_bytes;         /* fp32 bytes produced so far */
    uint64_t max_out_bytes;     /* bound: tensors are views of the file's storages */
} pth_src;

static int cmp_legacy(const void *a, const void *b)
{
    return strcmp(((const pth_storage *)a)->key, ((const pth_storage *)b)->key);
}

static int cmp_storage_obj(const void *a, const void *b)
{
    return strcmp((*(const io_pk_obj *const *)a)->s, (*(const io_pk_obj *const *)b)->s);
}

static int cmp_tensor_name(const void *a, const void *b)
{
    return strcmp(((const io_pth_tensor *)a)->name, ((const io_pth_tensor *)b)->name);
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32); }

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, ex = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (ex == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else if (ex != 0) {
        bits = sign | ((ex + 112) << 23) | (man << 13);
    } else if (man == 0) {
        bits = sign;
    } else {  /* subnormal: normalise */
        ex = 113;
        while (!(man & 0x400)) {
            man <<= 1;
            ex--;
        }
        bits = sign | (ex << 23) | ((man & 0x3ff) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Element idx of a floating storage as fp32. */
static float load_elem(const uint8_t *base, io_pk_dtype dt, uint64_t idx)
{
    float f;
    uint32_t u;
    switch (dt) {
    case IO_DT_F64: {
        uint64_t v = rd64(base + idx * 8);
        double d;
        memcpy(&d, &v, sizeof d);
        return (float)d;
    }
    case IO_DT_F16:
        return half_to_float(rd16(base + idx * 2));
    case IO_DT_BF16:
        u = (uint32_t)rd16(base + idx * 2) << 16;
        memcpy(&f, &u, sizeof f);
        return f;
    default:
        u = rd32(base + idx * 4);
        memcpy(&f, &u, sizeof f);
        return f;
    }
}

/* Finds the bytes of storage s (zip entry or legacy record). */
static nn_status locate_storage(const pth_src *src, const io_pk_obj *s, pth_storage *out, nn_err *e)
{
    size_t esz = io_pk_dtype_size(s->dtype);
    out->key = s->s;
    out->dtype = s->dtype;
    if (s->len > NN_NAME_MAX || strlen(s->s) != s->len)
        return nn_err_set(e, NN_ERR_FORMAT, "pth: bad storage key");
    if (!src->zip) {
        pth_storage want = { .key = s->s };
        const pth_storage *f = src->n_legacy ? bsearch(&want, src->legacy, src->n_legacy,
                                                       sizeof want, cmp_legacy) : NULL;
        if (!f)
            return nn_err_set(e, NN_ERR_FORMAT, "pth: storage %s missing from the key list", s->s);
        if (f->dtype != s->dtype)
            return nn_err_set(e, NN_ERR_FORMAT, "pth: storage %s used with two types", s->s);
        *out = *f;
        return NN_OK;
    }
    char path[2 * NN_NAME_MAX];
    snprintf(path, sizeof path, "%sdata/%s", src->root, s->s);
    int i = io_zip_find(src->zip, path);
    if (i < 0)
        return nn_err_set(e, NN_ERR_FORMAT, "pth: storage entry %s missing", path);
    const uint8_t *d;
    size_t n;
    nn_status st = io_zip_entry_data(src->zip, i, &d, &n, e);
    if (st != NN_OK)
        return st;
    out->data = d;
    out->numel = n / esz;
    return NN_OK;
}

/* Copies tensor t (a view into storage s) as contiguous fp32 into *data. */
static nn_status gather_tensor(pth_src *src, const char *name, const io_pk_obj *t,
                               const pth_storage *s, nn_shape *shape, float **data, nn_err *e)
{
    uint64_t numel = 1, last = (uint64_t)t->offset;
    int contiguous = 1;
    int64_t expect = 1;
    if (t->offset < 0)
        return nn_err_set(e, NN_ERR_FORMAT, "pth: %s has a negative storage offset", name);
    for (int d = t->ndim - 1; d >= 0; d--) {
        int64_t sz = t->size[d], sd = t->stride[d];
        if (sz < 0 || sd < 0)
            return nn_err_set(e, NN_ERR_FORMAT, "pth: %s has a negative size or stride", name);
        if (sz == 0)
            return nn_err_set(e, NN_ERR_UNSUPPORTED, "pth: %s is empty", name);
        size_t span, tot;
        if (nn_size_mul((size_t)(sz - 1), (size_t)sd, &span) || nn_size_add(span, last, &tot) ||
            nn_size_mul(numel, (size_t)sz, &tot) || numel * (uint64_t)sz > (uint64_t)INT64_MAX)
            return nn_err_set(e, NN_ERR_LIMIT, "pth: %s is too large", name);
        last += span;
        numel *= (uint64_t)sz;
        if (sz != 1 && sd != expect)
            contiguous = 0;
        expect *= sz;
    }
    if (last >= s->numel || numel > s->numel)
        return nn_err_set(e, NN_ERR_FORMAT,
                          "pth: %s (%llu elements, last at %llu) does not fit storage %s (%llu elements)",
                          name, (unsigned long long)numel, (unsigned long long)last, s->key,
                          (unsigned long long)s->numel);
    size_t bytes = (size_t)numel * sizeof(float);   /* numel <= storage elements < file size */
    if (bytes > src->max_out_bytes - src->out_bytes)
        return nn_err_set(e, NN_ERR_LIMIT, "pth: tensors overlap: more data than the file holds at %s",
                          name);
    src->out_bytes += bytes;
    if (!(*data = nn_aligned_alloc(bytes)))
        return nn_err_set(e, NN_ERR_NOMEM, "pth: out of memory for %s", name);
    float *dst = *data;
    if (contiguous) {
        for (uint64_t k = 0; k < numel; k++)
            dst[k] = load_elem(s->data, s->dtype, (uint64_t)t->offset + k);
    } else {
        int64_t idx[NN_MAX_DIMS] = { 0 };
        for (uint64_t k = 0; k < numel; k++) {
            uint64_t src = (uint64_t)t->offset;
            for (int d = 0; d < t->ndim; d++)
                src += (uint64_t)(idx[d] * t->stride[d]);
            dst[k] = load_elem(s->data, s->dtype, src);
            for (int d = t->ndim - 1; d >= 0 && ++idx[d] == t->size[d]; d--)
                idx[d] = 0;
        }
    }
    *shape = nn_shape_make(t->ndim, t->size);
    return NN_OK;
}

static int is_float_dtype(io_pk_dtype dt)
{
    return dt == IO_DT_F32 || dt == IO_DT_F64 || dt == IO_DT_F16 || dt == IO_DT_BF16;
}

/* Fails when two tensors share a name (after "module." stripping). */
static nn_status check_unique(const io_pth_state *st, nn_err *e)
{
    nn_status rc = NN_OK;
    if (st->n < 2)
        return NN_OK;
    io_pth_tensor *c = malloc((size_t)st->n * sizeof *c);
    if (!c)
        return nn_err_set(e, NN_ERR_NOMEM, "pth: out of memory");
    memcpy(c, st->t, (size_t)st->n * sizeof *c);
    qsort(c, (size_t)st->n, sizeof *c, cmp_tensor_name);
    for (int i = 1; i < st->n && rc == NN_OK; i++)
        if (strcmp(c[i - 1].name, c[i].name) == 0)
            rc = nn_err_set(e, NN_ERR_FORMAT, "pth: duplicate tensor %s", c[i].name);
    free(c);
    return rc;
}

/* Adds every tensor of the state dict sd to st. */
static nn_status collect(pth_src *src, const io_pk_obj *sd, io_pth_state *st, nn_err *e)
{
    nn_status rc;
    if (sd->n > IO_PTH_MAX_TENSORS)
        return nn_err_set(e, NN_ERR_LIMIT, "pth: more than %d entries", IO_PTH_MAX_TENSORS);
    for (int j = 0; j < sd->n; j++) {
        const io_pk_obj *k = sd->items[2 * j], *v = sd->items[2 * j + 1];
        if (k->type != IO_PK_STR || strlen(k->s) != k->len)
            return nn_err_set(e, NN_ERR_FORMAT, "pth: state_dict key %d is not a string", j);
        const char *name = k->s;
        while (strncmp(name, PTH_MODULE_PREFIX, strlen(PTH_MODULE_PREFIX)) == 0)
            name += strlen(PTH_MODULE_PREFIX);
        if (v->type != IO_PK_TENSOR)
            return nn_err_set(e, NN_ERR_FORMAT, "pth: state_dict entry %.80s is not a tensor", k->s);
        if (!is_float_dtype(v->dtype)) {
            st->n_skipped++;
            continue;
        }
        if (strlen(name) == 0 || strlen(name) >= NN_NAME_MAX)
            return nn_err_set(e, NN_ERR_FORMAT, "pth: bad tensor name %.80s", k->s);
        pth_storage s;
        if ((rc = locate_storage(src, v->storage, &s, e)) != NN_OK)
            return rc;
        if (st->n == st->cap) {
            int nc = st->cap ? 2 * st->cap : 64;
            io_pth_tensor *nt = realloc(st->t, (size_t)nc * sizeof *nt);
            if (!nt)
                return nn_err_set(e, NN_ERR_NOMEM, "pth: out of memory");
            st->t = nt;
            st->cap = nc;
        }
        io_pth_tensor *t = &st->t[st->n];
        memset(t, 0, sizeof *t);
        if (!(t->name = strdup(name)))
            return nn_err_set(e, NN_ERR_NOMEM, "pth: out of memory");
        st->n++;
        if ((rc = gather_tensor(src, name, v, &s, &t->shape, &t->data, e)) != NN_OK)
            return rc;
    }
    return check_unique(st, e);
}

/* The state dict inside a checkpoint's root object. */
static const io_pk_obj *find_state_dict(const io_pk_obj *root)
{
    const io_pk_obj *sd;
    if (!root || root->type != IO_PK_DICT)
        return NULL;
    if ((sd = io_pk_dict_get(root, "state_dict")) && sd->type == IO_PK_DICT)
        return sd;
    if ((sd = io_pk_dict_get(root, "model")) && sd->type == IO_PK_DICT)
        return sd;
    return root;
}

static nn_status read_zip(const uint8_t *b, size_t len, io_pth_state *st, nn_err *e)
{
    pth_src src = { 0 };
    io_pickle *pk = NULL;
    nn_status rc;
    const uint8_t *d;
    size_t n;
    int pkl = -1;

    if ((rc = io_zip_open(b, len, &src.zip, e)) != NN_OK)
        return rc;
    for (int i = 0; i < src.zip->n_entries && pkl < 0; i++) {
        const char *nm = src.zip->entries[i].name, *slash = strchr(nm, '/');
        if (strcmp(nm, "data.pkl") == 0 ||
            (slash && strcmp(slash, "/data.pkl") == 0 && (size_t)(slash - nm) + 2 < NN_NAME_MAX)) {
            pkl = i;
            snprintf(src.root, sizeof src.root, "%.*s", slash ? (int)(slash - nm + 1) : 0, nm);
        }
    }
    if (pkl < 0) {
        rc = nn_err_set(e, NN_ERR_FORMAT, "pth: zip archive has no <root>/data.pkl");
        goto done;
    }
    char path[NN_NAME_MAX + 16];
    snprintf(path, sizeof path, "%sbyteorder", src.root);
    int bo = io_zip_find(src.zip, path);
    if (bo >= 0) {
        if ((rc = io_zip_entry_data(src.zip, bo, &d, &n, e)) != NN_OK)
            goto done;
        if (!(n == 6 && memcmp(d, "little", 6) == 0)) {
            rc = nn_err_set(e, NN_ERR_UNSUPPORTED, "pth: checkpoint is not little-endian");
            goto done;
        }
    }
    if ((rc = io_zip_entry_data(src.zip, pkl, &d, &n, e)) != NN_OK ||
        (rc = io_pickle_load(d, n, NULL, &pk, e)) != NN_OK)
        goto done;
    const io_pk_obj *sd = find_state_dict(io_pickle_root(pk));
    if (!sd) {
        rc = nn_err_set(e, NN_ERR_FORMAT, "pth: data.pkl does not hold a dict");
        goto done;
    }
    src.max_out_bytes = 2 * (uint64_t)len;
    rc = collect(&src, sd, st, e);
done:
    io_pickle_free(pk);
    io_zip_close(src.zip);
    return rc;
}

/* Legacy stream: the three header pickles are checked for what they must
 * say (magic, protocol 1001, little-endian). */
static nn_status read_legacy_header(const uint8_t *b, size_t len, size_t *pos, nn_err *e)
{
    for (int k = 0; k < 3; k++) {
        io_pickle *pk = NULL;
        size_t used = 0;
        nn_status rc = io_pickle_load(b + *pos, len - *pos, &used, &pk, e);
        if (rc != NN_OK)
            return rc;
        const io_pk_obj *r = io_pickle_root(pk), *le;
        int ok = k == 0 ? (r->type == IO_PK_BIGINT && r->len == sizeof k_legacy_magic &&
                           memcmp(r->s, k_legacy_magic, sizeof k_legacy_magic) == 0)
               : k == 1 ? (r->type == IO_PK_INT && r->i == LEGACY_PROTOCOL)
                        : (r->type == IO_PK_DICT &&
                           (!(le = io_pk_dict_get(r, "little_endian")) ||
                            (le->type == IO_PK_BOOL && le->i == 1)));
        io_pickle_free(pk);
        if (!ok)
            return nn_err_set(e, k == 2 ? NN_ERR_UNSUPPORTED : NN_ERR_FORMAT,
                              "pth: legacy %s not as expected",
                              k == 0 ? "magic number" : k == 1 ? "protocol version" : "sys_info");
        *pos += used;
    }
    return NN_OK;
}

/* Sets the dtype of each legacy key-list entry from the storages the main
 * pickle references (sorted once, then searched per key). */
static nn_status legacy_dtypes(const io_pickle *pk, const io_pk_obj *keys, pth_src *src, nn_err *e)
{
    size_t n = 0, cap = 0;
    const io_pk_obj **all = NULL;
    nn_status rc = NN_OK;
    for (size_t i = 0; i < io_pickle_object_count(pk); i++) {
        const io_pk_obj *o = io_pickle_object(pk, i);
        if (o->type != IO_PK_STORAGE)
            continue;
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 256;
            const io_pk_obj **na = realloc(all, nc * sizeof *na);
            if (!na) {
                free(all);
                return nn_err_set(e, NN_ERR_NOMEM, "pth: out of memory");
            }
            all = na;
            cap = nc;
        }
        all[n++] = o;
    }
    if (n)
        qsort(all, n, sizeof *all, cmp_storage_obj);
    for (int k = 0; k < keys->n && rc == NN_OK; k++) {
        const io_pk_obj *key = keys->items[k], *const *f = NULL;
        if (key->type == IO_PK_STR && n)
            f = bsearch(&key, all, n, sizeof *all, cmp_storage_obj);
        if (!f)
            rc = nn_err_set(e, NN_ERR_FORMAT, "pth: legacy storage key %d is unknown", k);
        else
            src->legacy[k].dtype = (*f)->dtype;
    }
    free(all);
    return rc;
}

static nn_status read_legacy(const uint8_t *b, size_t len, io_pth_state *st, nn_err *e)
{
    pth_src src = { 0 };
    io_pickle *main_pk = NULL, *keys_pk = NULL;
    size_t pos = 0, used;
    nn_status rc;

    if ((rc = read_legacy_header(b, len, &pos, e)) != NN_OK)
        return rc;
    if ((rc = io_pickle_load(b + pos, len - pos, &used, &main_pk, e)) != NN_OK)
        goto done;
    pos += used;
    if ((rc = io_pickle_load(b + pos, len - pos, &used, &keys_pk, e)) != NN_OK)
        goto done;
    pos += used;
    const io_pk_obj *keys = io_pickle_root(keys_pk);
    if (keys->type != IO_PK_LIST || keys->n > PTH_MAX_STORAGES) {
        rc = nn_err_set(e, NN_ERR_FORMAT, "pth: legacy storage key list missing or too long");
        goto done;
    }
    if (keys->n && !(src.legacy = calloc((size_t)keys->n, sizeof *src.legacy))) {
        rc = nn_err_set(e, NN_ERR_NOMEM, "pth: out of memory");
        goto done;
    }
    if (keys->n && (rc = legacy_dtypes(main_pk, keys, &src, e)) != NN_OK)
        goto done;
    for (int k = 0; k < keys->n; k++) {
        const io_pk_obj *key = keys->items[k];
        pth_storage *s = &src.legacy[k];
        uint64_t n, bytes;
        if (len - pos < 8 || (n = rd64(b + pos)) > (uint64_t)(len - pos - 8) ||
            (bytes = n * io_pk_dtype_size(s->dtype)) > (uint64_t)(len - pos - 8)) {
            rc = nn_err_set(e, NN_ERR_FORMAT, "pth: legacy storage %s overruns the file", key->s);
            goto done;
        }
        s->key = key->s;
        s->numel = n;
        s->data = b + pos + 8;
        pos += 8 + (size_t)bytes;
        src.n_legacy++;
    }
    if (src.n_legacy)
        qsort(src.legacy, src.n_legacy, sizeof *src.legacy, cmp_legacy);
    src.max_out_bytes = 2 * (uint64_t)len;
    const io_pk_obj *sd = find_state_dict(io_pickle_root(main_pk));
    if (!sd) {
        rc = nn_err_set(e, NN_ERR_FORMAT, "pth: legacy checkpoint does not hold a dict");
        goto done;
    }
    rc = collect(&src, sd, st, e);
done:
    free(src.legacy);
    io_pickle_free(keys_pk);
    io_pickle_free(main_pk);
    return rc;
}

nn_status io_pth_state_read(const void *buf, size_t len, io_pth_state **out, nn_err *e)
{
    nn_status rc;
    io_pth_state *st;

    *out = NULL;
    if (!buf || len == 0)
        return nn_err_set(e, NN_ERR_INVALID, "pth: empty input");
    if (!(st = calloc(1, sizeof *st)))
        return nn_err_set(e, NN_ERR_NOMEM, "pth: out of memory");
    if (io_zip_is_zip(buf, len))
        rc = read_zip(buf, len, st, e);
    else if (len >= sizeof k_legacy_start && memcmp(buf, k_legacy_start, sizeof k_legacy_start) == 0)
        rc = read_legacy(buf, len, st, e);
    else
        rc = nn_err_set(e, NN_ERR_FORMAT,
                        "pth: not a PyTorch checkpoint (neither a zip archive nor a legacy torch pickle)");
    if (rc != NN_OK) {
        io_pth_state_free(st);
        return rc;
    }
    *out = st;
    return NN_OK;
}

void io_pth_state_free(io_pth_state *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n; i++) {
        free(s->t[i].name);
        nn_aligned_free(s->t[i].data);
    }
    free(s->t);
    free(s);
}

io_pth_tensor *io_pth_state_find(const io_pth_state *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->t[i].name, name) == 0)
            return &s->t[i];
    return NULL;
}
