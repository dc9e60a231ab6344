/* io_pickle.h — a safe subset of the Python pickle VM, enough for torch
 * state_dicts (protocol 2, plus the protocol-4 framing opcodes).
 *
 * Nothing is ever executed: GLOBAL resolves only a whitelist of names
 * (collections.OrderedDict, torch._utils._rebuild_tensor{,_v2},
 * torch._utils._rebuild_parameter, torch.<Type>Storage) and REDUCE applies
 * only those, building plain objects: dicts, tensor descriptors (storage
 * key, dtype, size, stride, offset) and storage references produced by
 * BINPERSID. Any other global, opcode or shape of arguments is an error.
 * Every count and length is checked against the input and named limits.
 * All objects belong to the io_pickle that produced them. */
#ifndef IO_PICKLE_H
#define IO_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "../nn/nn_status.h"
#include "../nn/nn_tensor.h"

/* Limits, bounding what a hostile stream can make us allocate (an object
 * is ~200 bytes, so at most ~100 MB). A resnet152 state_dict has ~1000
 * tensors and ~15 objects per tensor. */
#define IO_PICKLE_MAX_STACK (1 << 19)     /* stack entries and open MARKs */
#define IO_PICKLE_MAX_MEMO (1 << 19)      /* highest memo index + 1 */
#define IO_PICKLE_MAX_OBJECTS (1 << 19)   /* objects created by one stream */
#define IO_PICKLE_MAX_STRING (1 << 20)    /* bytes in one string */

typedef enum io_pk_type {
    IO_PK_NONE = 0,
    IO_PK_BOOL,
    IO_PK_INT,      /* i */
    IO_PK_BIGINT,   /* LONG1 wider than int64: s/len hold the raw LE bytes */
    IO_PK_FLOAT,    /* f */
    IO_PK_STR,      /* s (NUL-terminated), len bytes */
    IO_PK_TUPLE,    /* items[0..n) */
    IO_PK_LIST,     /* items[0..n) */
    IO_PK_DICT,     /* n pairs: items[2k] key, items[2k+1] value (also OrderedDict) */
    IO_PK_GLOBAL,   /* i: io_pk_global */
    IO_PK_STORAGE,  /* persistent storage: dtype, s = key, i = element count */
    IO_PK_TENSOR,   /* storage, offset, ndim, size, stride */
} io_pk_type;

typedef enum io_pk_global {
    IO_PKG_ORDERED_DICT = 0,
    IO_PKG_REBUILD_TENSOR,
    IO_PKG_REBUILD_TENSOR_V2,
    IO_PKG_REBUILD_PARAMETER,
    IO_PKG_STORAGE,   /* torch.<Type>Storage; dtype says which */
} io_pk_global;

/* Element types of torch storages. */
typedef enum io_pk_dtype {
    IO_DT_F32 = 0, IO_DT_F64, IO_DT_F16, IO_DT_BF16,
    IO_DT_I64, IO_DT_I32, IO_DT_I16, IO_DT_I8, IO_DT_U8, IO_DT_BOOL,
    IO_DT_COUNT
} io_pk_dtype;

typedef struct io_pk_obj io_pk_obj;
struct io_pk_obj {
    io_pk_type type;
    int64_t i;              /* INT, BOOL (0/1), GLOBAL id, STORAGE element count */
    double f;               /* FLOAT */
    char *s;                /* STR, BIGINT bytes, STORAGE key */
    size_t len;             /* bytes in s */
    int n, cap;             /* TUPLE/LIST items, DICT pairs */
    io_pk_obj **items;
    io_pk_dtype dtype;      /* GLOBAL storage type, STORAGE, TENSOR */
    io_pk_obj *storage;     /* TENSOR: its IO_PK_STORAGE */
    int64_t offset;         /* TENSOR: storage offset in elements */
    int ndim;               /* TENSOR */
    int64_t size[NN_MAX_DIMS], stride[NN_MAX_DIMS];  /* TENSOR, in elements */
};

typedef struct io_pickle io_pickle;

/* Runs the stream in buf[0..len) up to its STOP. *consumed (may be NULL)
 * receives the bytes read including STOP, so that consecutive pickles in
 * one file can be read in turn. On success *out owns every object. */
nn_status io_pickle_load(const void *buf, size_t len, size_t *consumed, io_pickle **out,
                         nn_err *e);
void io_pickle_free(io_pickle *p);
const io_pk_obj *io_pickle_root(const io_pickle *p);
/* Every object the stream created, in creation order (i < count). */
size_t io_pickle_object_count(const io_pickle *p);
const io_pk_obj *io_pickle_object(const io_pickle *p, size_t i);

/* Value of string key `key` in a DICT, or NULL. */
const io_pk_obj *io_pk_dict_get(const io_pk_obj *dict, const char *key);
/* Bytes per element of a storage dtype; "float32"-style name. */
size_t io_pk_dtype_size(io_pk_dtype dt);
const char *io_pk_dtype_name(io_pk_dtype dt);

#endif
