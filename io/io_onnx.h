/* io_onnx.h — ONNX model reader (own protobuf wire-format decoder) that
 * produces the graph IR, normalising opset differences (see nn_ops.h). */
#ifndef IO_ONNX_H
#define IO_ONNX_H

#include <stddef.h>

#include "../nn/nn_graph.h"
#include "../nn/nn_status.h"

#define IO_ONNX_MAX_FILE ((size_t)2 << 30)  /* protobuf's own 2 GiB limit */

/* buf holds a serialized ModelProto. Constants are copied into the graph.
 * The graph input's dim 0 becomes NN_DIM_BATCH when it is symbolic.
 * Unsupported ops or attributes fail with NN_ERR_UNSUPPORTED naming them. */
nn_status io_onnx_read(const void *buf, size_t len, nn_graph **out, nn_err *e);

#endif
