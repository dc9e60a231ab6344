/* nn_pack.h — ahead-of-time weight packing for the converter: asks every
 * op with a pack hook (nn_op_def.pack) for the precomputed weights its
 * fast kernel would otherwise build at load, and stores them in the graph
 * as constants, so that a model file written afterwards loads with no
 * transform work. */
#ifndef NN_PACK_H
#define NN_PACK_H

#include "nn_graph.h"
#include "nn_status.h"

/* g: validated (and normally optimized). For each node whose op packs,
 * plans the graph at batch 1, calls the hook and, when it returns weights,
 * adds them as a graph-owned constant "<node>.packed" set as the node's
 * last input (absent optional inputs before it become -1) with attribute
 * "packed" = the hook's tag. Nodes that already have a packed input are
 * left alone. *n_packed (may be NULL): nodes changed. */
nn_status nn_graph_pack(nn_graph *g, int *n_packed, nn_err *e);

#endif
