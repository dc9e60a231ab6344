/* io_onnx_int.h — private to the ONNX reader (io_onnx*.c): the decoded
 * ONNX node list, host-side constant tensors used for constant folding, and
 * the conversion context that maps ONNX value names to graph values.
 * io_onnx.c drives the conversion, io_onnx_proto.c decodes the inner
 * messages, io_onnx_ctx.c holds the name table and emit services,
 * io_onnx_fold.c folds constant subgraphs, io_onnx_ops.c maps the
 * remaining ops to the IR. */
#ifndef IO_ONNX_INT_H
#define IO_ONNX_INT_H

#include <stddef.h>
#include <stdint.h>

#include "../nn/nn_graph.h"
#include "../nn/nn_status.h"
#include "../nn/nn_tensor.h"
#include "io_pb.h"

/* Oldest/newest default-domain opset whose differences we normalise. */
#define OX_MIN_OPSET 1
#define OX_MAX_OPSET 18
/* Elements of a tensor computed by folding (shape arithmetic makes tiny
 * tensors; this bounds what e.g. a hostile ConstantOfShape can allocate). */
#define OX_FOLD_MAX_ELEMS ((int64_t)1 << 22)
#define OX_MAX_NODE_IO 64       /* inputs/outputs of one ONNX node (= NN_MAX_IO) */
#define OX_MAX_ATTRS 64         /* attributes of one ONNX node */

/* TensorProto.data_type values we read. */
enum {
    OX_DT_FLOAT = 1, OX_DT_UINT8 = 2, OX_DT_INT8 = 3, OX_DT_UINT16 = 4, OX_DT_INT16 = 5,
    OX_DT_INT32 = 6, OX_DT_INT64 = 7, OX_DT_BOOL = 9, OX_DT_DOUBLE = 11,
};

/* A constant held on the host: fp32 or int64 (every integer type widens to
 * int64, double narrows to fp32). For int64 tensors computed from shapes,
 * batch[i] = 1 marks an element that stands for the (symbolic) batch size;
 * its value i64[i] is then meaningless. */
typedef enum ox_dtype { OX_F32 = 1, OX_I64 = 2 } ox_dtype;

typedef struct ox_tensor {
    ox_dtype dtype;
    nn_shape shape;
    int64_t numel;
    float *f32;         /* OX_F32: nn_aligned_alloc'ed numel floats (NULL if 0) */
    int f32_owned;      /* 0 once the data was handed to the graph */
    int64_t *i64;       /* OX_I64: malloc'ed numel values (NULL if 0) */
    uint8_t *batch;     /* OX_I64: NULL or numel flags (see above) */
} ox_tensor;

/* Allocates a zero-filled tensor (NN_ERR_LIMIT past OX_FOLD_MAX_ELEMS when
 * limit is set). */
nn_status ox_tensor_new(ox_dtype dt, const nn_shape *shape, int limit, ox_tensor **out,
                        nn_err *e);
void ox_tensor_free(ox_tensor *t);
/* Decodes a TensorProto message (raw_data or typed fields, little-endian);
 * external data is unsupported. */
nn_status ox_tensor_decode(const io_pb_reader *parent, const io_pb_field *f,
                           ox_tensor **out, char *name, size_t name_cap, nn_err *e);

/* One AttributeProto (lists and tensors decoded on demand). */
typedef struct ox_attr {
    char *name;
    int has_f, has_i, has_s, has_t;
    float f;
    int64_t i;
    const uint8_t *s;       /* bytes, s_len, not NUL-terminated */
    size_t s_len;
    io_pb_field t;          /* TensorProto field (has_t) */
    io_pb_reader msg;       /* the whole AttributeProto, for floats/ints */
} ox_attr;

/* One NodeProto. Empty input/output names ("") mean "absent". */
typedef struct ox_node {
    int index;              /* position in GraphProto.node */
    char *name;             /* ONNX name, may be "" */
    char *op_type;
    char *domain;
    int n_in, n_out, n_attrs;
    char **in;
    char **out;
    ox_attr *attrs;
} ox_node;

const ox_attr *ox_attr_get(const ox_node *n, const char *name);
int64_t ox_attr_int(const ox_node *n, const char *name, int64_t dflt);
float ox_attr_float(const ox_node *n, const char *name, float dflt);
/* Copies the INTS/FLOATS list into out (at most cap); returns the count, -1
 * when absent, -2 with e set when malformed or longer than cap. */
int ox_attr_ints(const ox_node *n, const char *name, int64_t *out, int cap, nn_err *e);
int ox_attr_floats(const ox_node *n, const char *name, float *out, int cap, nn_err *e);
/* Copies a STRING attribute into buf (NUL-terminated); dflt when absent. */
nn_status ox_attr_string(const ox_node *n, const char *name, const char *dflt, char *buf,
                         size_t cap, nn_err *e);

/* What an ONNX value name stands for during conversion. */
typedef struct ox_sym {
    char *name;
    int defined;        /* produced by a node, an initializer or a graph input */
    int used;           /* read by a node or listed as a graph output */
    int value;          /* graph value index, -1 while not (yet) in the graph */
    ox_tensor *c;       /* host constant (initializer, Constant, folded) or NULL */
    int shape_known;    /* shape tracked: dims, NN_DIM_BATCH for batch-sized dims */
    nn_shape shape;
} ox_sym;

typedef struct ox_ctx {
    nn_graph *g;
    int opset;              /* default-domain opset */
    ox_sym *syms;
    int n_syms, cap_syms;
    int *slots;             /* open-addressing hash of syms by name: index+1, 0 empty */
    size_t n_slots;
    char **node_names;      /* names given to graph nodes (uniqueness) */
    size_t n_node_names, cap_node_names;
    int *node_slots;
    size_t n_node_slots;
    int fresh;              /* counter for generated names */
} ox_ctx;

ox_sym *ox_sym_find(ox_ctx *cx, const char *name);
/* Sym of input i of n, NULL if absent (beyond n_in or ""). */
ox_sym *ox_input(ox_ctx *cx, const ox_node *n, int i);
/* Defines output i of n as a host constant (takes t in every case). */
nn_status ox_define_const(ox_ctx *cx, const ox_node *n, int i, ox_tensor *t, nn_err *e);
/* Graph value index of s, adding a host fp32 constant to the graph on first
 * use; int64 constants cannot be graph values (NN_ERR_UNSUPPORTED). */
int ox_value_of(ox_ctx *cx, ox_sym *s, const ox_node *n, nn_err *e);
/* Adds an fp32 constant copy of t with shape `shape` under a fresh name. */
int ox_value_reshaped(ox_ctx *cx, const ox_sym *s, const nn_shape *shape, nn_err *e);
/* Emits the graph node for n (op, inputs as value indices) producing n's
 * first output; further outputs must be unused. Returns the node (valid
 * until the next emit) or NULL with e set. */
nn_node *ox_emit(ox_ctx *cx, const ox_node *n, int op, const int *inputs, int n_inputs,
                 nn_err *e);
/* Records the tracked shape of n's first output (known 0: unknown). */
void ox_set_shape(ox_ctx *cx, const ox_node *n, const nn_shape *s, int known);
/* Fails with NN_ERR_UNSUPPORTED when output i>=1 of n is used. */
nn_status ox_extra_outputs_unused(ox_ctx *cx, const ox_node *n, nn_err *e);
/* Fails with NN_ERR_UNSUPPORTED naming the first attribute of n not in the
 * comma-separated list allowed. */
nn_status ox_check_attrs(const ox_node *n, const char *allowed, nn_err *e);

/* Decoding (io_onnx_proto.c). */
nn_status ox_pb_str_into(const io_pb_field *f, char *buf, size_t cap, const char *what,
                         nn_err *e);
nn_status ox_want_wire(const io_pb_field *f, io_pb_wire w, const char *what, nn_err *e);
/* Decodes NodeProto field nf into n (n->index set by the caller); free
 * with ox_node_clear also after a failure. */
nn_status ox_node_decode(const io_pb_reader *parent, const io_pb_field *nf, ox_node *n,
                         nn_err *e);
void ox_node_clear(ox_node *n);
/* ValueInfoProto: name, and with want_type the tensor element type and
 * shape (dim 0 symbolic or 0 -> NN_DIM_BATCH; other symbolic dims are
 * unsupported). */
nn_status ox_valueinfo_decode(const io_pb_reader *parent, const io_pb_field *vf,
                              int want_type, char *name, size_t cap, int64_t *elem,
                              nn_shape *shape, int *has_shape, nn_err *e);

/* Context (io_onnx_ctx.c): the sym of name, added undefined when absent. */
ox_sym *ox_sym_get(ox_ctx *cx, const char *name, nn_err *e);
void ox_ctx_free(ox_ctx *cx);

/* Constant folding (io_onnx_fold.c): returns 1 when n was folded, 0 when
 * n is not foldable (some data input is not a constant or the op does not
 * fold), -1 with e set on error. */
int ox_fold(ox_ctx *cx, const ox_node *n, nn_err *e);
/* Reads a constant int64 (or integral) tensor into out as plain values;
 * batch-flagged elements are an error. Returns the count or -1. */
int ox_const_ints(const ox_sym *s, const ox_node *n, const char *what, int64_t *out, int cap,
                  nn_err *e);

/* Graph ops (io_onnx_ops.c): converts n into graph nodes. */
nn_status ox_convert_op(ox_ctx *cx, const ox_node *n, nn_err *e);

#endif
