/* nn_status.h — status codes and the error context used by every module.
 *
 * Every fallible function returns an nn_status and, when given a non-NULL
 * nn_err, fills it with the same status and a one-line human message naming
 * what went wrong (e.g. "node 12 (Conv): weight has 3 dims, expected 4").
 * The numeric values equal the public sl_status values in scanlite.h. */
#ifndef NN_STATUS_H
#define NN_STATUS_H

typedef enum nn_status {
    NN_OK = 0,
    NN_ERR_NOMEM = 1,       /* allocation failed */
    NN_ERR_IO = 2,          /* open/read/write/mmap failed */
    NN_ERR_FORMAT = 3,      /* malformed bytes: model file, ONNX, .pth, JSON */
    NN_ERR_UNSUPPORTED = 4, /* valid input we do not implement (op, attribute, arch) */
    NN_ERR_SHAPE = 5,       /* tensor shapes inconsistent */
    NN_ERR_INVALID = 6,     /* bad argument from the caller */
    NN_ERR_IMAGE = 7,       /* not an image / undecodable image */
    NN_ERR_LIMIT = 8,       /* exceeds a named limit (size, dimensions, count) */
} nn_status;

#define NN_ERR_MSG_MAX 256

typedef struct nn_err {
    nn_status status;
    char msg[NN_ERR_MSG_MAX];
} nn_err;

/* Sets e->status and formats e->msg (printf-style); returns status so that
 * callers can write `return nn_err_set(e, NN_ERR_FORMAT, "...", ...)`.
 * e may be NULL. */
nn_status nn_err_set(nn_err *e, nn_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Resets e to NN_OK with an empty message. e may be NULL. */
void nn_err_clear(nn_err *e);

/* Short constant name of a status, e.g. "format error". */
const char *nn_status_str(nn_status s);

#endif
