/* io_pickle.c — the safe pickle VM subset (see io_pickle.h).
 *
 * The VM keeps Python's model: a value stack, a separate stack of MARK
 * positions and a memo table. Objects are allocated one by one and
 * registered in p->objs, which owns them all, so shared (memoised) and
 * even cyclic references need no reference counting. Callables are only
 * the whitelisted globals; REDUCE dispatches on them in apply_reduce. */
#include "io/io_pickle.h"

#include <stdlib.h>
#include <string.h>

struct io_pickle {
    io_pk_obj **objs;       /* every object, owned */
    size_t n_objs, cap_objs;
    io_pk_obj **stack;
    size_t sp, cap_stack;
    size_t *marks;          /* stack heights at each open MARK */
    size_t n_marks, cap_marks;
    io_pk_obj **memo;       /* borrowed pointers into objs; NULL = unset */
    size_t cap_memo;
    size_t n_memo;          /* distinct memo entries set (MEMOIZE's index) */
    io_pk_obj *root;
};

/* Whitelist: (module, name) -> global id and, for storages, dtype. */
static const struct {
    const char *module, *name;
    io_pk_global id;
    io_pk_dtype dtype;
} k_globals[] = {
    { "collections", "OrderedDict", IO_PKG_ORDERED_DICT, IO_DT_F32 },
    { "torch._utils", "_rebuild_tensor", IO_PKG_REBUILD_TENSOR, IO_DT_F32 },
    { "torch._utils", "_rebuild_tensor_v2", IO_PKG_REBUILD_TENSOR_V2, IO_DT_F32 },
    { "torch._utils", "_rebuild_parameter", IO_PKG_REBUILD_PARAMETER, IO_DT_F32 },
    { "torch", "FloatStorage", IO_PKG_STORAGE, IO_DT_F32 },
    { "torch", "DoubleStorage", IO_PKG_STORAGE, IO_DT_F64 },
    { "torch", "HalfStorage", IO_PKG_STORAGE, IO_DT_F16 },
    { "torch", "BFloat16Storage", IO_PKG_STORAGE, IO_DT_BF16 },
    { "torch", "LongStorage", IO_PKG_STORAGE, IO_DT_I64 },
    { "torch", "IntStorage", IO_PKG_STORAGE, IO_DT_I32 },
    { "torch", "ShortStorage", IO_PKG_STORAGE, IO_DT_I16 },
    { "torch", "CharStorage", IO_PKG_STORAGE, IO_DT_I8 },
    { "torch", "ByteStorage", IO_PKG_STORAGE, IO_DT_U8 },
    { "torch", "BoolStorage", IO_PKG_STORAGE, IO_DT_BOOL },
};

static const struct {
    const char *name;
    size_t size;
} k_dtypes[IO_DT_COUNT] = {
    [IO_DT_F32] = { "float32", 4 }, [IO_DT_F64] = { "float64", 8 },
    [IO_DT_F16] = { "float16", 2 }, [IO_DT_BF16] = { "bfloat16", 2 },
    [IO_DT_I64] = { "int64", 8 },   [IO_DT_I32] = { "int32", 4 },
    [IO_DT_I16] = { "int16", 2 },   [IO_DT_I8] = { "int8", 1 },
    [IO_DT_U8] = { "uint8", 1 },    [IO_DT_BOOL] = { "bool", 1 },
};

size_t io_pk_dtype_size(io_pk_dtype dt) { return dt < IO_DT_COUNT ? k_dtypes[dt].size : 0; }
const char *io_pk_dtype_name(io_pk_dtype dt) { return dt < IO_DT_COUNT ? k_dtypes[dt].name : "?"; }

static nn_status oom(nn_err *e) { return nn_err_set(e, NN_ERR_NOMEM, "pickle: out of memory"); }

/* Grows *arr (elements of `elem` bytes) to hold at least `need`. */
static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 16, bytes;
    while (nc < need)
        nc *= 2;
    if (nn_size_mul(nc, elem, &bytes))
        return -1;
    void *na = realloc(*arr, bytes);
    if (!na)
        return -1;
    *arr = na;
    *cap = nc;
    return 0;
}

static io_pk_obj *obj_new(io_pickle *p, io_pk_type t, nn_err *e)
{
    if (p->n_objs >= IO_PICKLE_MAX_OBJECTS) {
        nn_err_set(e, NN_ERR_LIMIT, "pickle: more than %d objects", IO_PICKLE_MAX_OBJECTS);
        return NULL;
    }
    if (grow((void **)&p->objs, &p->cap_objs, p->n_objs + 1, sizeof *p->objs)) {
        oom(e);
        return NULL;
    }
    io_pk_obj *o = calloc(1, sizeof *o);
    if (!o) {
        oom(e);
        return NULL;
    }
    o->type = t;
    p->objs[p->n_objs++] = o;
    return o;
}

static nn_status push(io_pickle *p, io_pk_obj *o, nn_err *e)
{
    if (!o)
        return e ? e->status : NN_ERR_NOMEM;
    if (p->sp >= IO_PICKLE_MAX_STACK)
        return nn_err_set(e, NN_ERR_LIMIT, "pickle: stack deeper than %d", IO_PICKLE_MAX_STACK);
    if (grow((void **)&p->stack, &p->cap_stack, p->sp + 1, sizeof *p->stack))
        return oom(e);
    p->stack[p->sp++] = o;
    return NN_OK;
}

/* Number of values above the innermost MARK (-1 with e set: none open). */
static long mark_count(io_pickle *p, nn_err *e)
{
    if (p->n_marks == 0) {
        nn_err_set(e, NN_ERR_FORMAT, "pickle: no MARK open");
        return -1;
    }
    return (long)(p->sp - p->marks[p->n_marks - 1]);
}

/* The top n values of the stack (NULL for none: the stack of an empty
 * tuple may not be allocated yet, and NULL + 0 is undefined). */
static io_pk_obj *const *stack_top(const io_pickle *p, size_t n)
{
    return n ? p->stack + p->sp - n : NULL;
}

/* Appends items to a container; for DICT, items come as key,value pairs.
 * Dict keys are not deduplicated here (that would cost O(n^2) on hostile
 * input): lookups take the last pair, as Python's later store would win. */
static nn_status add_items(io_pk_obj *c, io_pk_obj *const *items, size_t count, nn_err *e)
{
    size_t have = c->type == IO_PK_DICT ? 2 * (size_t)c->n : (size_t)c->n, cap = (size_t)c->cap;
    if (have + count > (size_t)IO_PICKLE_MAX_OBJECTS * 2)
        return nn_err_set(e, NN_ERR_LIMIT, "pickle: container too large");
    if (grow((void **)&c->items, &cap, have + count, sizeof *c->items))
        return oom(e);
    c->cap = (int)cap;
    if (count)
        memcpy(c->items + have, items, count * sizeof *items);
    c->n += (int)(c->type == IO_PK_DICT ? count / 2 : count);
    return NN_OK;
}

/* Pops the values above the innermost MARK into a new TUPLE or LIST. */
static nn_status collect_marked(io_pickle *p, io_pk_type t, nn_err *e)
{
    long n = mark_count(p, e);
    if (n < 0)
        return NN_ERR_FORMAT;
    io_pk_obj *o = obj_new(p, t, e);
    if (!o)
        return e ? e->status : NN_ERR_NOMEM;
    nn_status st = add_items(o, stack_top(p, (size_t)n), (size_t)n, e);
    if (st != NN_OK)
        return st;
    p->sp -= (size_t)n;
    p->n_marks--;
    return push(p, o, e);
}

static nn_status tuple_n(io_pickle *p, int n, nn_err *e)
{
    if (p->sp < (size_t)n)
        return nn_err_set(e, NN_ERR_FORMAT, "pickle: stack underflow in TUPLE%d", n);
    io_pk_obj *o = obj_new(p, IO_PK_TUPLE, e);
    if (!o)
        return e ? e->status : NN_ERR_NOMEM;
    nn_status st = add_items(o, stack_top(p, (size_t)n), (size_t)n, e);
    if (st != NN_OK)
        return st;
    p->sp -= (size_t)n;
    return push(p, o, e);
}

static const io_pk_obj *arg(const io_pk_obj *t, int i, io_pk_type want)
{
    return (i < t->n && t->items[i]->type == want) ? t->items[i] : NULL;
}

/* Fills a TENSOR from (storage, offset, size tuple, stride tuple). */
static nn_status make_tensor(io_pickle *p, const io_pk_obj *args, io_pk_obj **out, nn_err *e)
{
    const io_pk_obj *st = arg(args, 0, IO_PK_STORAGE), *off = arg(args, 1, IO_PK_INT),
                    *sz = arg(args, 2, IO_PK_TUPLE), *sd = arg(args, 3, IO_PK_TUPLE);
    if (!st || !off || !sz || !sd || sz->n != sd->n)
        return nn_err_set(e, NN_ERR_FORMAT, "pickle: bad arguments to _rebuild_tensor");
    if (sz->n > NN_MAX_DIMS)
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "pickle: tensor with %d dims (max %d)", sz->n,
                          NN_MAX_DIMS);
    io_pk_obj *t = obj_new(p, IO_PK_TENSOR, e);
    if (!t)
        return e ? e->status : NN_ERR_NOMEM;
    t->storage = (io_pk_obj *)st;
    t->dtype = st->dtype;
    t->offset = off->i;
    t->ndim = sz->n;
    for (int d = 0; d < sz->n; d++) {
        if (sz->items[d]->type != IO_PK_INT || sd->items[d]->type != IO_PK_INT)
            return nn_err_set(e, NN_ERR_FORMAT, "pickle: tensor size/stride not integers");
        t->size[d] = sz->items[d]->i;
        t->stride[d] = sd->items[d]->i;
    }
    *out = t;
    return NN_OK;
}

/* REDUCE: callable(args) for the whitelisted callables only. */
static nn_status apply_reduce(io_pickle *p, nn_err *e)
{
    if (p->sp < 2)
        return nn_err_set(e, NN_ERR_FORMAT, "pickle: stack underflow in REDUCE");
    io_pk_obj *fn = p->stack[p->sp - 2], *args = p->stack[p->sp - 1], *res = NULL;
    nn_status st = NN_OK;
    if (fn->type != IO_PK_GLOBAL || args->type != IO_PK_TUPLE)
        return nn_err_set(e, NN_ERR_FORMAT, "pickle: REDUCE on a non-callable");
    switch ((io_pk_global)fn->i) {
    case IO_PKG_ORDERED_DICT:
        if (args->n != 0)
            return nn_err_set(e, NN_ERR_UNSUPPORTED, "pickle: OrderedDict with arguments");
        res = obj_new(p, IO_PK_DICT, e);
        if (!res)
            return e ? e->status : NN_ERR_NOMEM;
        break;
    case IO_PKG_REBUILD_TENSOR:
    case IO_PKG_REBUILD_TENSOR_V2:
        /* v1: (storage, offset, size, stride); v2 adds requires_grad,
         * backward_hooks and optionally metadata, all ignored. */
        if (fn->i == IO_PKG_REBUILD_TENSOR ? args->n != 4 : (args->n < 6 || args->n > 7))
            return nn_err_set(e, NN_ERR_FORMAT, "pickle: %d arguments to _rebuild_tensor", args->n);
        st = make_tensor(p, args, &res, e);
        break;
    case IO_PKG_REBUILD_PARAMETER:
        /* (tensor, requires_grad, backward_hooks) -> the tensor itself */
        if (args->n != 3 || args->items[0]->type != IO_PK_TENSOR)
            return nn_err_set(e, NN_ERR_FORMAT, "pickle: bad arguments to _rebuild_parameter");
        res = args->items[0];
        break;
    default:
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "pickle: storage type called with REDUCE");
    }
    if (st != NN_OK)
        return st;
    p->sp -= 2;
    return push(p, res, e);
}

/* BINPERSID: ('storage', <Type>Storage, key, location, numel[, view]). */
static nn_status persistent_load(io_pickle *p, nn_err *e)
{
    if (p->sp < 1)
        return nn_err_set(e, NN_ERR_FORMAT, "pickle: stack underflow in BINPERSID");
    const io_pk_obj *t = p->stack[p->sp - 1], *tag, *ty, *key, *n;
    if (t->type != IO_PK_TUPLE || (t->n != 5 && t->n != 6) || !(tag = arg(t, 0, IO_PK_STR)) ||
        strcmp(tag->s, "storage") != 0 || !(ty = arg(t, 1, IO_PK_GLOBAL)) ||
        ty->i != IO_PKG_STORAGE || !(key = arg(t, 2, IO_PK_STR)) || !(n = arg(t, 4, IO_PK_INT)) ||
        n->i < 0)
        return nn_err_set(e, NN_ERR_FORMAT, "pickle: persistent id is not a torch storage");
    if (t->n == 6 && t->items[5]->type != IO_PK_NONE)
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "pickle: storage views (legacy view_metadata)");
    io_pk_obj *s = obj_new(p, IO_PK_STORAGE, e);
    if (!s)
        return e ? e->status : NN_ERR_NOMEM;
    s->dtype = ty->dtype;
    s->s = key->s;      /* shares the STR's bytes; both live in p->objs */
    s->len = key->len;
    s->i = n->i;
    p->sp--;
    return push(p, s, e);
}

static nn_status resolve_global(io_pickle *p, const char *mod, size_t mlen, const char *name,
                                size_t nlen, nn_err *e)
{
    for (size_t k = 0; k < sizeof k_globals / sizeof k_globals[0]; k++) {
        if (strlen(k_globals[k].module) == mlen && memcmp(k_globals[k].module, mod, mlen) == 0 &&
            strlen(k_globals[k].name) == nlen && memcmp(k_globals[k].name, name, nlen) == 0) {
            io_pk_obj *o = obj_new(p, IO_PK_GLOBAL, e);
            if (!o)
                return e ? e->status : NN_ERR_NOMEM;
            o->i = k_globals[k].id;
            o->dtype = k_globals[k].dtype;
            return push(p, o, e);
        }
    }
    return nn_err_set(e, NN_ERR_UNSUPPORTED, "pickle: global %.*s.%.*s is not allowed",
                      (int)(mlen > 60 ? 60 : mlen), mod, (int)(nlen > 60 ? 60 : nlen), name);
}

static nn_status memo_put(io_pickle *p, uint64_t idx, nn_err *e)
{
    if (p->sp < 1)
        return nn_err_set(e, NN_ERR_FORMAT, "pickle: memo store with an empty stack");
    if (idx >= IO_PICKLE_MAX_MEMO)
        return nn_err_set(e, NN_ERR_LIMIT, "pickle: memo index %llu over the limit %d",
                          (unsigned long long)idx, IO_PICKLE_MAX_MEMO);
    size_t old = p->cap_memo;
    if (grow((void **)&p->memo, &p->cap_memo, (size_t)idx + 1, sizeof *p->memo))
        return oom(e);
    memset(p->memo + old, 0, (p->cap_memo - old) * sizeof *p->memo);
    if (!p->memo[idx])
        p->n_memo++;
    p->memo[idx] = p->stack[p->sp - 1];
    return NN_OK;
}

static nn_status memo_get(io_pickle *p, uint64_t idx, nn_err *e)
{
    if (idx >= p->cap_memo || !p->memo[idx])
        return nn_err_set(e, NN_ERR_FORMAT, "pickle: memo index %llu unset", (unsigned long long)idx);
    return push(p, p->memo[idx], e);
}

static uint64_t rd_le(const uint8_t *b, int n)
{
    uint64_t v = 0;
    for (int k = n - 1; k >= 0; k--)
        v = (v << 8) | b[k];
    return v;
}

/* Pops the values above the innermost MARK into the container just below
 * it (APPENDS, SETITEMS). */
static nn_status extend_marked(io_pickle *p, io_pk_type want, nn_err *e)
{
    long n = mark_count(p, e);
    if (n < 0)
        return NN_ERR_FORMAT;
    size_t m = p->marks[p->n_marks - 1];
    if (m < 1 || p->stack[m - 1]->type != want)
        return nn_err_set(e, NN_ERR_FORMAT, "pickle: %s target is not a %s",
                          want == IO_PK_DICT ? "SETITEMS" : "APPENDS",
                          want == IO_PK_DICT ? "dict" : "list");
    if (want == IO_PK_DICT && (n & 1))
        return nn_err_set(e, NN_ERR_FORMAT, "pickle: SETITEMS with an odd item count");
    nn_status st = add_items(p->stack[m - 1], p->stack + m, (size_t)n, e);
    if (st != NN_OK)
        return st;
    p->sp = m;
    p->n_marks--;
    return NN_OK;
}

/* Pushes a new STR of n bytes at b. */
static nn_status push_str(io_pickle *p, const uint8_t *b, uint64_t n, nn_err *e)
{
    if (n > IO_PICKLE_MAX_STRING)
        return nn_err_set(e, NN_ERR_LIMIT, "pickle: string of %llu bytes (limit %d)",
                          (unsigned long long)n, IO_PICKLE_MAX_STRING);
    io_pk_obj *o = obj_new(p, IO_PK_STR, e);
    if (!o)
        return e ? e->status : NN_ERR_NOMEM;
    if (!(o->s = malloc((size_t)n + 1)))
        return oom(e);
    memcpy(o->s, b, (size_t)n);
    o->s[n] = '\0';
    o->len = (size_t)n;
    return push(p, o, e);
}

static nn_status push_int(io_pickle *p, io_pk_type t, int64_t v, nn_err *e)
{
    io_pk_obj *o = obj_new(p, t, e);
    if (o)
        o->i = v;
    return push(p, o, e);
}

/* LONG1 of n bytes: int64 when it fits, else the raw bytes as BIGINT. */
static nn_status push_long(io_pickle *p, const uint8_t *b, int n, nn_err *e)
{
    if (n <= 8) {
        uint64_t v = n ? rd_le(b, n) : 0;
        if (n && n < 8 && (b[n - 1] & 0x80))
            v |= ~(uint64_t)0 << (8 * n);
        return push_int(p, IO_PK_INT, (int64_t)v, e);
    }
    io_pk_obj *o = obj_new(p, IO_PK_BIGINT, e);
    if (!o)
        return e ? e->status : NN_ERR_NOMEM;
    if (!(o->s = malloc((size_t)n)))
        return oom(e);
    memcpy(o->s, b, (size_t)n);
    o->len = (size_t)n;
    return push(p, o, e);
}

/* One opcode at b[*pos] (already advanced past the opcode byte). Sets
 * *stop at STOP. */
static nn_status step(io_pickle *p, uint8_t op, const uint8_t *b, size_t len, size_t *pos,
                      int *stop, nn_err *e)
{
    size_t left = len - *pos;
    const uint8_t *a = b + *pos;
    nn_status st;
#define NEED(n)                                                                          \
    do {                                                                                 \
        if ((uint64_t)(n) > left)                                                        \
            return nn_err_set(e, NN_ERR_FORMAT, "pickle: truncated at byte %zu (opcode 0x%02x)", \
                              *pos, op);                                                 \
        *pos += (size_t)(n);                                                             \
        left -= (size_t)(n);                                                             \
    } while (0)
    switch (op) {
    case 0x80: /* PROTO */
        NEED(1);
        if (a[0] < 2 || a[0] > 5)
            return nn_err_set(e, NN_ERR_UNSUPPORTED, "pickle: protocol %d", a[0]);
        return NN_OK;
    case 0x95: /* FRAME: a length hint only; the stream is read linearly */
        NEED(8);
        return NN_OK;
    case '.': /* STOP */
        if (p->sp < 1)
            return nn_err_set(e, NN_ERR_FORMAT, "pickle: STOP with an empty stack");
        p->root = p->stack[p->sp - 1];
        *stop = 1;
        return NN_OK;
    case '(': /* MARK */
        if (p->n_marks >= IO_PICKLE_MAX_STACK)
            return nn_err_set(e, NN_ERR_LIMIT, "pickle: too many open MARKs");
        if (grow((void **)&p->marks, &p->cap_marks, p->n_marks + 1, sizeof *p->marks))
            return oom(e);
        p->marks[p->n_marks++] = p->sp;
        return NN_OK;
    case '}': return push(p, obj_new(p, IO_PK_DICT, e), e);        /* EMPTY_DICT */
    case ']': return push(p, obj_new(p, IO_PK_LIST, e), e);        /* EMPTY_LIST */
    case ')': return push(p, obj_new(p, IO_PK_TUPLE, e), e);       /* EMPTY_TUPLE */
    case 'N': return push(p, obj_new(p, IO_PK_NONE, e), e);        /* NONE */
    case 0x88: return push_int(p, IO_PK_BOOL, 1, e);               /* NEWTRUE */
    case 0x89: return push_int(p, IO_PK_BOOL, 0, e);               /* NEWFALSE */
    case 'X': { /* BINUNICODE */
        NEED(4);
        uint64_t n = rd_le(a, 4);
        NEED(n);
        return push_str(p, a + 4, n, e);
    }
    case 0x8c: { /* SHORT_BINUNICODE */
        NEED(1);
        NEED(a[0]);
        return push_str(p, a + 1, a[0], e);
    }
    case 0x8d: { /* BINUNICODE8 */
        NEED(8);
        uint64_t n = rd_le(a, 8);
        NEED(n);
        return push_str(p, a + 8, n, e);
    }
    case 'J': /* BININT: signed 32-bit */
        NEED(4);
        return push_int(p, IO_PK_INT, (int32_t)(uint32_t)rd_le(a, 4), e);
    case 'K': NEED(1); return push_int(p, IO_PK_INT, a[0], e);            /* BININT1 */
    case 'M': NEED(2); return push_int(p, IO_PK_INT, (int64_t)rd_le(a, 2), e); /* BININT2 */
    case 0x8a: /* LONG1 */
        NEED(1);
        NEED(a[0]);
        return push_long(p, a + 1, a[0], e);
    case 'G': { /* BINFLOAT: big-endian IEEE double */
        NEED(8);
        uint64_t v = 0;
        for (int k = 0; k < 8; k++)
            v = (v << 8) | a[k];
        io_pk_obj *o = obj_new(p, IO_PK_FLOAT, e);
        if (o)
            memcpy(&o->f, &v, sizeof v);
        return push(p, o, e);
    }
    case 't': return collect_marked(p, IO_PK_TUPLE, e);           /* TUPLE */
    case 'l': return collect_marked(p, IO_PK_LIST, e);            /* LIST */
    case 0x85: return tuple_n(p, 1, e);                           /* TUPLE1 */
    case 0x86: return tuple_n(p, 2, e);                           /* TUPLE2 */
    case 0x87: return tuple_n(p, 3, e);                           /* TUPLE3 */
    case 'd': { /* DICT: MARK k v k v ... */
        long n = mark_count(p, e);
        if (n < 0)
            return NN_ERR_FORMAT;
        if (n & 1)
            return nn_err_set(e, NN_ERR_FORMAT, "pickle: DICT with an odd item count");
        io_pk_obj *o = obj_new(p, IO_PK_DICT, e);
        if (!o)
            return e ? e->status : NN_ERR_NOMEM;
        if ((st = add_items(o, stack_top(p, (size_t)n), (size_t)n, e)) != NN_OK)
            return st;
        p->sp -= (size_t)n;
        p->n_marks--;
        return push(p, o, e);
    }
    case 'a': /* APPEND */
        if (p->sp < 2 || p->stack[p->sp - 2]->type != IO_PK_LIST)
            return nn_err_set(e, NN_ERR_FORMAT, "pickle: APPEND without a list");
        if ((st = add_items(p->stack[p->sp - 2], p->stack + p->sp - 1, 1, e)) != NN_OK)
            return st;
        p->sp--;
        return NN_OK;
    case 'e': return extend_marked(p, IO_PK_LIST, e);             /* APPENDS */
    case 's': /* SETITEM */
        if (p->sp < 3 || p->stack[p->sp - 3]->type != IO_PK_DICT)
            return nn_err_set(e, NN_ERR_FORMAT, "pickle: SETITEM without a dict");
        if ((st = add_items(p->stack[p->sp - 3], p->stack + p->sp - 2, 2, e)) != NN_OK)
            return st;
        p->sp -= 2;
        return NN_OK;
    case 'u': return extend_marked(p, IO_PK_DICT, e);             /* SETITEMS */
    case 'q': NEED(1); return memo_put(p, a[0], e);               /* BINPUT */
    case 'r': NEED(4); return memo_put(p, rd_le(a, 4), e);        /* LONG_BINPUT */
    case 'h': NEED(1); return memo_get(p, a[0], e);               /* BINGET */
    case 'j': NEED(4); return memo_get(p, rd_le(a, 4), e);        /* LONG_BINGET */
    case 0x94: return memo_put(p, p->n_memo, e);                  /* MEMOIZE */
    case 'c': { /* GLOBAL: "module\nname\n" */
        size_t lim = left < 2 * 256 ? left : 2 * 256;
        const uint8_t *nl1 = memchr(a, '\n', lim);
        const uint8_t *nl2 = nl1 ? memchr(nl1 + 1, '\n', lim - (size_t)(nl1 + 1 - a)) : NULL;
        if (!nl2)
            return nn_err_set(e, NN_ERR_FORMAT, "pickle: unterminated GLOBAL");
        *pos += (size_t)(nl2 + 1 - a);
        return resolve_global(p, (const char *)a, (size_t)(nl1 - a), (const char *)nl1 + 1,
                              (size_t)(nl2 - nl1 - 1), e);
    }
    case 0x93: { /* STACK_GLOBAL: module, name strings on the stack */
        if (p->sp < 2 || p->stack[p->sp - 1]->type != IO_PK_STR ||
            p->stack[p->sp - 2]->type != IO_PK_STR)
            return nn_err_set(e, NN_ERR_FORMAT, "pickle: STACK_GLOBAL without two strings");
        const io_pk_obj *m = p->stack[p->sp - 2], *n = p->stack[p->sp - 1];
        p->sp -= 2;
        return resolve_global(p, m->s, m->len, n->s, n->len, e);
    }
    case 'R': return apply_reduce(p, e);                          /* REDUCE */
    case 'b': /* BUILD: state of an OrderedDict or tensor is dropped */
        if (p->sp < 2)
            return nn_err_set(e, NN_ERR_FORMAT, "pickle: stack underflow in BUILD");
        if (p->stack[p->sp - 2]->type != IO_PK_DICT && p->stack[p->sp - 2]->type != IO_PK_TENSOR)
            return nn_err_set(e, NN_ERR_UNSUPPORTED, "pickle: BUILD on an unsupported object");
        p->sp--;
        return NN_OK;
    case 'Q': return persistent_load(p, e);                       /* BINPERSID */
    default:
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "pickle: opcode 0x%02x at byte %zu not supported",
                          op, *pos - 1);
    }
#undef NEED
}

nn_status io_pickle_load(const void *buf, size_t len, size_t *consumed, io_pickle **out,
                         nn_err *e)
{
    const uint8_t *b = buf;
    size_t pos = 0;
    int stop = 0;
    nn_status st = NN_OK;
    io_pickle *p;
    nn_err local;

    *out = NULL;
    if (!e)
        e = &local;     /* internal helpers read the status back from e */
    if (!buf && len)
        return nn_err_set(e, NN_ERR_INVALID, "pickle: NULL buffer");
    if (!(p = calloc(1, sizeof *p)))
        return oom(e);
    while (!stop) {
        if (pos >= len) {
            st = nn_err_set(e, NN_ERR_FORMAT, "pickle: stream ends at byte %zu without STOP", pos);
            goto fail;
        }
        uint8_t op = b[pos++];
        if ((st = step(p, op, b, len, &pos, &stop, e)) != NN_OK)
            goto fail;
    }
    if (consumed)
        *consumed = pos;
    *out = p;
    return NN_OK;
fail:
    io_pickle_free(p);
    return st;
}

void io_pickle_free(io_pickle *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_objs; i++) {
        io_pk_obj *o = p->objs[i];
        if (o->type == IO_PK_STR || o->type == IO_PK_BIGINT)
            free(o->s);
        free(o->items);
        free(o);
    }
    free(p->objs);
    free(p->stack);
    free(p->marks);
    free(p->memo);
    free(p);
}

const io_pk_obj *io_pickle_root(const io_pickle *p) { return p ? p->root : NULL; }
size_t io_pickle_object_count(const io_pickle *p) { return p ? p->n_objs : 0; }
const io_pk_obj *io_pickle_object(const io_pickle *p, size_t i)
{
    return p && i < p->n_objs ? p->objs[i] : NULL;
}

const io_pk_obj *io_pk_dict_get(const io_pk_obj *dict, const char *key)
{
    if (!dict || dict->type != IO_PK_DICT)
        return NULL;
    size_t kl = strlen(key);
    for (int j = dict->n - 1; j >= 0; j--) {
        const io_pk_obj *k = dict->items[2 * j];
        if (k->type == IO_PK_STR && k->len == kl && memcmp(k->s, key, kl) == 0)
            return dict->items[2 * j + 1];
    }
    return NULL;
}
