/* nn_graph_priv.h — graph internals shared by nn_graph.c, nn_graph_check.c
 * and nn_optimize.c (not part of the public contract).
 *
 * nn_graph_create allocates a graph_impl whose first member is the public
 * nn_graph, followed by a name -> value-index hash table. The table covers
 * values [0, n_hashed); values appended without the builder API are found
 * by a linear scan of the tail. Anything that renames, removes or reorders
 * values must call nn_graph_rehash. */
#ifndef NN_GRAPH_PRIV_H
#define NN_GRAPH_PRIV_H

#include "nn_graph.h"

/* dims >= 0 (batch_ok: d[0] may also be NN_DIM_BATCH), numel fits int64. */
int nn_shape_valid(const nn_shape *s, int batch_ok);
/* 1 when value v is one of g's graph inputs. */
int nn_graph_is_input(const nn_graph *g, int v);

/* Frees the contents of one value / node (not the struct itself). */
void nn_value_clear(nn_value *v);
void nn_node_clear(nn_node *n);

/* Rebuilds the name hash from g->values. */
nn_status nn_graph_rehash(nn_graph *g, nn_err *e);

/* Removes the nodes with node_dead[i] != 0 and every non-input value no
 * remaining node or graph output refers to; renumbers value indices
 * everywhere and rehashes. Node order is kept. */
nn_status nn_graph_compact(nn_graph *g, const unsigned char *node_dead, nn_err *e);

#endif
