/* io_pth_state.h — a torch checkpoint's state_dict as a list of named fp32
 * tensors, read without torch (used by io_pth.c; exposed for tests and
 * `inspect`-style tools).
 *
 * Both containers: the zip archive of torch >= 1.6 ("<root>/data.pkl" plus
 * "<root>/data/<key>" storages) and the legacy stream (magic, protocol and
 * sys_info pickles, the main pickle, the storage-key list, then each storage
 * as an int64 element count followed by its raw bytes). */
#ifndef IO_PTH_STATE_H
#define IO_PTH_STATE_H

#include <stddef.h>

#include "../nn/nn_status.h"
#include "../nn/nn_tensor.h"

#define IO_PTH_MAX_TENSORS 100000

typedef struct io_pth_tensor {
    char *name;         /* key with leading "module." prefixes removed */
    nn_shape shape;     /* torch's size; ndim 0 for a scalar */
    float *data;        /* numel floats, contiguous row-major, from
                           nn_aligned_alloc; owned by the list until a
                           caller takes it (then set to NULL) */
} io_pth_tensor;

typedef struct io_pth_state {
    int n, cap;
    io_pth_tensor *t;   /* in the checkpoint's key order */
    int n_skipped;      /* integer/bool tensors left out (num_batches_tracked) */
} io_pth_state;

/* Reads the state_dict: the root dict itself, or the dict under key
 * "state_dict" or "model". float64/float16/bfloat16 tensors are converted
 * to fp32; strided tensors are gathered (bounds checked). */
nn_status io_pth_state_read(const void *buf, size_t len, io_pth_state **out, nn_err *e);
void io_pth_state_free(io_pth_state *s);
/* The tensor named `name`, or NULL. */
io_pth_tensor *io_pth_state_find(const io_pth_state *s, const char *name);

#endif
