/* nn_ops.h — the op registry: one X-macro list gives the op enum, the
 * ONNX-style names and the table of kernels. Dispatch happens only through
 * nn_op_get().
 *
 * Semantics of every op are ONNX's (opset 13), with every parameter that ONNX
 * passes as a constant input (Clip min/max, Slice starts/ends/axes/steps,
 * Reshape shape, Pad pads) normalised by the converters into attributes, so
 * that the only tensor inputs are data and fp32 weights. See docs/FORMAT.md
 * for each op's inputs and attributes. */
#ifndef NN_OPS_H
#define NN_OPS_H

#include "nn_graph.h"
#include "nn_status.h"
#include "nn_tensor.h"

struct nn_pool;

/* X(ENUM, symbol, "OnnxName", min_inputs, max_inputs)
 * Every op has exactly one output. The kernel definition of op `sym` is
 * `const nn_op_def nn_op_<sym>` in nn/ops/op_<sym>.c. */
#define NN_OP_LIST(X)                                         \
    X(CONV, conv, "Conv", 2, 5)                               \
    X(BATCHNORM, batchnorm, "BatchNormalization", 5, 5)       \
    X(RELU, relu, "Relu", 1, 1)                               \
    X(CLIP, clip, "Clip", 1, 1)                               \
    X(LEAKYRELU, leakyrelu, "LeakyRelu", 1, 1)                \
    X(SIGMOID, sigmoid, "Sigmoid", 1, 1)                      \
    X(TANH, tanh, "Tanh", 1, 1)                               \
    X(MAXPOOL, maxpool, "MaxPool", 1, 1)                      \
    X(AVGPOOL, avgpool, "AveragePool", 1, 1)                  \
    X(GLOBALAVGPOOL, globalavgpool, "GlobalAveragePool", 1, 1) \
    X(ADD, add, "Add", 2, 2)                                  \
    X(MUL, mul, "Mul", 2, 2)                                  \
    X(CONCAT, concat, "Concat", 1, 64)                        \
    X(SLICE, slice, "Slice", 1, 1)                            \
    X(FLATTEN, flatten, "Flatten", 1, 1)                      \
    X(RESHAPE, reshape, "Reshape", 1, 1)                      \
    X(TRANSPOSE, transpose, "Transpose", 1, 1)                \
    X(GEMM, gemm, "Gemm", 2, 3)                               \
    X(MATMUL, matmul, "MatMul", 2, 2)                         \
    X(SOFTMAX, softmax, "Softmax", 1, 1)                      \
    X(DROPOUT, dropout, "Dropout", 1, 1)                      \
    X(IDENTITY, identity, "Identity", 1, 1)                   \
    X(PAD, pad, "Pad", 1, 1)

typedef enum nn_op_type {
#define NN_OP_ENUM(E, sym, name, mi, ma) NN_OP_##E,
    NN_OP_LIST(NN_OP_ENUM)
#undef NN_OP_ENUM
    NN_OP_COUNT
} nn_op_type;

/* Activation fused into an op's output store by nn_graph_optimize (attribute
 * "fused_act" on Conv, Gemm, MatMul, Add, BatchNormalization; for
 * NN_ACT_CLIP also float attributes "fused_min" and "fused_max"). */
typedef enum nn_act {
    NN_ACT_NONE = 0,
    NN_ACT_RELU = 1,
    NN_ACT_CLIP = 2,
} nn_act;

typedef struct nn_act_params {
    nn_act act;
    float lo, hi;
} nn_act_params;

/* Reads fused_act/fused_min/fused_max of a node. */
nn_act_params nn_act_from_node(const nn_node *node);
/* Applies the activation in place to x[0..n). */
void nn_act_apply(const nn_act_params *a, float *x, int64_t n);

#define NN_MAX_IO 64

/* What a kernel sees of its node at prepare and run time. Input tensors
 * have concrete shapes; constant inputs (weights) have data at prepare time,
 * activations only at run time. Absent optional inputs are NULL. */
typedef struct nn_op_ctx {
    const nn_node *node;
    const nn_tensor *in[NN_MAX_IO];
    int n_in;
    nn_tensor *out;             /* the single output; shape set, data in the arena */
    void *state;                /* set by prepare (may stay NULL); freed by release */
    float *scratch;             /* scratch_bytes of NN_ALIGN-aligned memory at run
                                   (NULL when 0); its contents do not outlive the
                                   run of this node (other nodes' values use it) */
    struct nn_pool *pool;       /* never NULL at run; may have 1 thread */
} nn_op_ctx;

typedef struct nn_op_def {
    const char *name;
    /* Shape inference and attribute validation. in[i] are the input shapes
     * (NULL for absent optional inputs). Sets *out. Rejects with
     * NN_ERR_SHAPE / NN_ERR_UNSUPPORTED / NN_ERR_FORMAT and a message. */
    nn_status (*infer)(const nn_node *node, const nn_shape *const *in, int n_in,
                       nn_shape *out, nn_err *e);
    /* Optional (may be NULL): build per-plan state (e.g. packed weights)
     * and request scratch memory. Called once per plan after infer. */
    nn_status (*prepare)(nn_op_ctx *ctx, size_t *scratch_bytes, nn_err *e);
    /* Optional: frees what prepare stored in ctx->state. */
    void (*release)(void *state);
    /* Fast kernel. Cannot fail: everything was checked by infer/prepare.
     * Must write every element of ctx->out. */
    void (*run)(nn_op_ctx *ctx);
    /* Naive reference kernel: plain loops straight from the definition,
     * uses neither state nor scratch nor pool threads. */
    void (*run_ref)(nn_op_ctx *ctx);
    /* Optional: what prepare chose to run, in a few words (e.g. "winograd
     * F(4x4,3x3) avx2"), for `scanlite bench --profile`; state as prepare
     * left it. The string is static. */
    const char *(*kernel)(const void *state);
    /* Optional: multiply-accumulates of one run given input/output shapes
     * (for `scanlite inspect`); NULL counts as 0. */
    int64_t (*macs)(const nn_node *node, const nn_shape *const *in, int n_in,
                    const nn_shape *out);
    /* Optional: weights a converter may precompute into the model file so
     * that loading transforms nothing (e.g. Winograd-transformed conv
     * weights). in[] are the node's input tensors at batch 1 (NULL when
     * absent; constants with data). Sets *packed to a new tensor whose
     * data comes from nn_aligned_alloc (owned by the caller) and *tag to
     * the value for the node's INT attribute "packed", which the kernel
     * checks at prepare; leaves packed->data NULL when the kernel would not
     * use one. The packed tensor becomes the op's last input
     * (nn_op_packed_input); kernels may use it in place, read-only, and
     * must produce the same numbers with it as without. */
    nn_status (*pack)(const nn_node *node, const nn_tensor *const *in, int n_in,
                      nn_tensor *packed, int64_t *tag, nn_err *e);
} nn_op_def;

/* Kernel table entry for an op; NULL for an out-of-range type. */
const nn_op_def *nn_op_get(nn_op_type op);
/* ONNX op name <-> enum. nn_op_from_name returns -1 when unknown. */
const char *nn_op_name(nn_op_type op);
int nn_op_from_name(const char *name);
void nn_op_arity(nn_op_type op, int *min_in, int *max_in);
/* Index of the input that holds precomputed weights (the op's last input)
 * for ops with a pack hook; -1 for the others. */
int nn_op_packed_input(nn_op_type op);

#define NN_OP_DECLARE(E, sym, name, mi, ma) extern const nn_op_def nn_op_##sym;
NN_OP_LIST(NN_OP_DECLARE)
#undef NN_OP_DECLARE

#endif
