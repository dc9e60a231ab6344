/* nn_graph.h — the graph IR shared by the converters, the model file and
 * the executor.
 *
 * A graph is a list of values (named tensors) and a list of nodes. A value
 * is a graph input (activations fed by the caller), a constant (fp32
 * weights, data present) or an intermediate produced by exactly one node.
 * Nodes refer to values by index. Attributes are ONNX-style typed
 * key/values. Metadata is string key/values (keys in io/io_meta.h).
 *
 * Ownership: the graph owns every name, attribute and node array. Constant
 * data is owned by the graph when owns_data is 1 (freed with the graph);
 * otherwise it points into g->backing (e.g. the mmap'ed model file), which
 * the graph releases with g->backing_free. */
#ifndef NN_GRAPH_H
#define NN_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "nn_status.h"
#include "nn_tensor.h"

/* Limits on what a graph may hold (checked by builders and loaders; they
 * bound the memory a hostile model file can make us allocate for metadata). */
#define NN_GRAPH_MAX_VALUES 100000
#define NN_GRAPH_MAX_NODES 100000
#define NN_NAME_MAX 256           /* bytes in a value/node/attribute name incl. NUL */
#define NN_ATTR_MAX_LIST 4096     /* elements in an INTS/FLOATS attribute */

typedef enum nn_attr_type {
    NN_ATTR_INT = 1,
    NN_ATTR_FLOAT = 2,
    NN_ATTR_INTS = 3,
    NN_ATTR_FLOATS = 4,
    NN_ATTR_STRING = 5,
} nn_attr_type;

typedef struct nn_attr {
    char *name;
    nn_attr_type type;
    int64_t i;          /* NN_ATTR_INT */
    float f;            /* NN_ATTR_FLOAT */
    int n;              /* element count for INTS/FLOATS */
    int64_t *ints;      /* NN_ATTR_INTS, n elements */
    float *floats;      /* NN_ATTR_FLOATS, n elements */
    char *s;            /* NN_ATTR_STRING, NUL-terminated */
} nn_attr;

typedef struct nn_value {
    char *name;
    nn_shape shape;     /* constants and inputs: declared (inputs may use
                           NN_DIM_BATCH in d[0]); intermediates: ndim 0
                           until a plan infers it */
    int is_const;
    float *data;        /* constants: numel(shape) floats; else NULL */
    int owns_data;      /* 1: allocated with nn_aligned_alloc, freed with graph */
} nn_value;

typedef struct nn_node {
    char *name;
    int op;             /* nn_op_type */
    int n_inputs;
    int *inputs;        /* value indices; -1 = absent optional input */
    int output;         /* value index of the single output */
    int n_attrs;
    nn_attr *attrs;
} nn_node;

typedef struct nn_meta {
    char *key;
    char *value;
} nn_meta;

typedef struct nn_graph {
    int n_values, cap_values;
    nn_value *values;
    int n_nodes, cap_nodes;
    nn_node *nodes;             /* topological order after nn_graph_validate */
    int n_inputs;
    int *inputs;                /* value indices of graph inputs */
    int n_outputs;
    int *outputs;               /* value indices of graph outputs */
    int n_meta, cap_meta;
    nn_meta *meta;
    void *backing;              /* released by backing_free at nn_graph_free */
    void (*backing_free)(void *backing);
} nn_graph;

nn_graph *nn_graph_create(void);
void nn_graph_free(nn_graph *g);

/* Values. Each returns the new value's index, or -1 with e set (duplicate
 * name, too many values, out of memory). Names are copied. */
int nn_graph_add_input(nn_graph *g, const char *name, const nn_shape *shape, nn_err *e);
/* data: numel(shape) floats. take_ownership 1: the graph frees data (it must
 * come from nn_aligned_alloc); 0: data must outlive the graph (backing). */
int nn_graph_add_const(nn_graph *g, const char *name, const nn_shape *shape,
                       float *data, int take_ownership, nn_err *e);
/* Convenience: allocates and copies numel floats. */
int nn_graph_add_const_copy(nn_graph *g, const char *name, const nn_shape *shape,
                            const float *data, nn_err *e);
int nn_graph_add_value(nn_graph *g, const char *name, nn_err *e);  /* intermediate */
int nn_graph_find_value(const nn_graph *g, const char *name);      /* -1 if absent */
nn_status nn_graph_add_output(nn_graph *g, int value, nn_err *e);

/* Nodes. inputs: value indices (-1 for absent optional); output: value
 * index of an intermediate not yet produced by another node. Returns the
 * node (pointer valid until the next nn_graph_add_node) or NULL with e set. */
nn_node *nn_graph_add_node(nn_graph *g, int op, const char *name,
                           const int *inputs, int n_inputs, int output, nn_err *e);

/* Attributes (copied; replace an existing one of the same name). */
nn_status nn_node_set_int(nn_node *n, const char *name, int64_t v);
nn_status nn_node_set_float(nn_node *n, const char *name, float v);
nn_status nn_node_set_ints(nn_node *n, const char *name, const int64_t *v, int count);
nn_status nn_node_set_floats(nn_node *n, const char *name, const float *v, int count);
nn_status nn_node_set_string(nn_node *n, const char *name, const char *v);
const nn_attr *nn_node_attr(const nn_node *n, const char *name);  /* NULL if absent */
int64_t nn_node_get_int(const nn_node *n, const char *name, int64_t dflt);
float nn_node_get_float(const nn_node *n, const char *name, float dflt);
/* Copies up to max ints into out; returns the count, or -1 if absent. */
int nn_node_get_ints(const nn_node *n, const char *name, int64_t *out, int max);
const char *nn_node_get_string(const nn_node *n, const char *name, const char *dflt);

/* Metadata (copied; replaces an existing key). */
nn_status nn_graph_set_meta(nn_graph *g, const char *key, const char *value);
const char *nn_graph_get_meta(const nn_graph *g, const char *key);  /* NULL if absent */

/* Structural check and topological sort, for graphs from any source:
 * node op known and arity within range, every input index valid and either
 * a graph input, a constant or produced by exactly one node, no cycles,
 * every output produced, names non-empty. Reorders g->nodes topologically
 * (stable). Messages name the node and the problem. */
nn_status nn_graph_validate(nn_graph *g, nn_err *e);

/* Load-time rewrites (after validate): drop Dropout/Identity, fold
 * BatchNormalization into the preceding Conv (or Gemm) when it is that
 * op's only consumer, fuse a residual Add into the Conv producing one of
 * its operands (the other becomes the Conv's 4th input, added in the
 * store), fuse Relu / Clip into the producing Conv/Gemm/MatMul/Add as
 * "fused_act" when it is the only consumer. The graph stays valid; graph
 * outputs keep their names. */
nn_status nn_graph_optimize(nn_graph *g, nn_err *e);

/* Total elements of all constants except precomputed (packed) copies of
 * weights (nn_pack.h): the parameter count. */
int64_t nn_graph_param_count(const nn_graph *g);

#endif
