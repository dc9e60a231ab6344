/* nn_tensor.h — the one tensor struct of the runtime, and memory helpers.
 *
 * A tensor is a dense fp32 array in row-major order. 4-D activations are
 * NCHW: dims = {N, C, H, W}, element (n,c,h,w) at
 * data[((n*C + c)*H + h)*W + w]. Convolution weights are OIHW
 * {O, C/groups, KH, KW}; Linear/Gemm weights follow the node's attributes.
 * Buffers the runtime allocates are NN_ALIGN-byte aligned.
 * A tensor never owns its data: the graph, the plan's arena or the caller
 * does (stated at each use). */
#ifndef NN_TENSOR_H
#define NN_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#define NN_MAX_DIMS 6
#define NN_ALIGN 64
/* A dimension that stands for the batch size in a graph input's declared
 * shape; replaced by the concrete batch at plan time. */
#define NN_DIM_BATCH (-1)

typedef struct nn_shape {
    int ndim;                   /* 0..NN_MAX_DIMS; 0 = scalar or unknown */
    int64_t d[NN_MAX_DIMS];     /* sizes, outermost first */
} nn_shape;

typedef struct nn_tensor {
    nn_shape shape;
    float *data;                /* numel floats, not owned */
} nn_tensor;

/* Number of elements (1 for ndim 0); -1 if a dim is negative or the product
 * overflows int64. */
int64_t nn_shape_numel(const nn_shape *s);
int nn_shape_equal(const nn_shape *a, const nn_shape *b);
/* Writes "1x3x224x224" into buf (always NUL-terminated). */
void nn_shape_str(const nn_shape *s, char *buf, size_t len);
nn_shape nn_shape_make(int ndim, const int64_t *d);
nn_shape nn_shape4(int64_t n, int64_t c, int64_t h, int64_t w);

/* NN_ALIGN-aligned allocation, zero-filled; NULL on failure or bytes==0.
 * Free with nn_aligned_free. */
void *nn_aligned_alloc(size_t bytes);
void nn_aligned_free(void *p);

/* A mapping of its own for a large buffer: bytes (> 0) rounded up to whole
 * huge pages (NN_HUGE_PAGE), aligned to one and advised for transparent
 * huge pages, so that the first touch costs a few page faults instead of
 * one per 4 KiB page; it reads as zeros until written and is not touched
 * here. NULL on failure (callers fall back to nn_aligned_alloc or the
 * heap); *len receives the length to give nn_huge_free. */
#define NN_HUGE_PAGE ((size_t)2 << 20)
void *nn_huge_alloc(size_t bytes, size_t *len);
void nn_huge_free(void *p, size_t len);

/* Overflow-checked arithmetic: return 0 and store the result, or return -1
 * on overflow (result untouched). */
int nn_size_mul(size_t a, size_t b, size_t *out);
int nn_size_add(size_t a, size_t b, size_t *out);

#endif
