/* nn_plan_priv.h — private to the runtime (nn_plan.c, sl_api.c) and its
 * tests. nn_plan_create_shapes: a plan that only infers every value's
 * shape and counts MACs, without op prepare (no weight packing or
 * transforms), pool or arena. Describing a model needs no more; its
 * nn_plan_output / nn_plan_value shapes and nn_plan_macs are valid,
 * nn_plan_run refuses it (NN_ERR_INVALID). Free with nn_plan_free. */
#ifndef NN_PLAN_PRIV_H
#define NN_PLAN_PRIV_H

#include "nn_plan.h"

nn_status nn_plan_create_shapes(const nn_graph *g, int batch, nn_plan **out, nn_err *e);
/* Node k's scratch in the arena and its size in *bytes (NULL and 0 when
 * the node asked for none, or for k out of range), for tests of the
 * placement. */
const float *nn_plan_node_scratch(const nn_plan *p, int k, size_t *bytes);

#endif
