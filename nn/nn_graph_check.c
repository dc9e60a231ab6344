/* nn_graph_check.c — structural validation of a graph from any source
 * (with a stable topological sort of its nodes) and compaction after
 * rewrites. Messages name the node, its op and the offending input.
 * An intermediate value that no node produces is an error as soon as a
 * node or the graph output list refers to it; left unreferenced it is
 * inert (the planner ignores it) and nn_graph_compact drops it. */
#include <stdlib.h>
#include <string.h>

#include "nn_graph.h"
#include "nn_graph_priv.h"
#include "nn_ops.h"

/* ---- validation -------------------------------------------------------- */

#define NODE_FMT "node '%s' (%s): "
#define NODE_ARGS(n) (n)->name, nn_op_name((n)->op)

/* Min-heap of node indices: Kahn's algorithm picks the smallest ready
 * index first, so an already sorted graph keeps its order. */
static void heap_push(int *h, int *n, int v)
{
    int i = (*n)++;
    while (i > 0 && h[(i - 1) / 2] > v) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = v;
}

static int heap_pop(int *h, int *n)
{
    int top = h[0], v = h[--*n], i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && h[c + 1] < h[c])
            c++;
        if (h[c] >= v)
            break;
        h[i] = h[c];
        i = c;
    }
    if (*n > 0)
        h[i] = v;
    return top;
}

/* Checks values, graph inputs and each node in isolation; fills producer[v]
 * (node index or -1). */
static nn_status check_items(const nn_graph *g, int *producer, nn_err *e)
{
    if (g->n_inputs < 1)
        return nn_err_set(e, NN_ERR_FORMAT, "graph has no inputs");
    if (g->n_outputs < 1)
        return nn_err_set(e, NN_ERR_FORMAT, "graph has no outputs");
    for (int v = 0; v < g->n_values; v++) {
        const nn_value *val = &g->values[v];
        producer[v] = -1;
        if (!val->name || !val->name[0])
            return nn_err_set(e, NN_ERR_FORMAT, "value %d has an empty name", v);
        if (val->is_const && (!nn_shape_valid(&val->shape, 0) ||
                              (!val->data && nn_shape_numel(&val->shape) > 0)))
            return nn_err_set(e, NN_ERR_FORMAT, "constant '%s' has no data or a bad shape",
                              val->name);
    }
    for (int i = 0; i < g->n_inputs; i++) {
        int v = g->inputs[i];
        if (v < 0 || v >= g->n_values)
            return nn_err_set(e, NN_ERR_FORMAT, "graph input %d: value index %d out of range", i, v);
        if (g->values[v].is_const || !nn_shape_valid(&g->values[v].shape, 1))
            return nn_err_set(e, NN_ERR_FORMAT, "graph input '%s' is a constant or has a bad shape",
                              g->values[v].name);
        for (int j = 0; j < i; j++)
            if (g->inputs[j] == v)
                return nn_err_set(e, NN_ERR_FORMAT, "graph input '%s' listed twice",
                                  g->values[v].name);
    }
    for (int k = 0; k < g->n_nodes; k++) {
        const nn_node *n = &g->nodes[k];
        int mi, ma;
        if (!n->name || !n->name[0])
            return nn_err_set(e, NN_ERR_FORMAT, "node %d has an empty name", k);
        if (n->op < 0 || n->op >= NN_OP_COUNT)
            return nn_err_set(e, NN_ERR_UNSUPPORTED, "node '%s': unknown op %d", n->name, n->op);
        nn_op_arity(n->op, &mi, &ma);
        if (n->n_inputs < mi || n->n_inputs > ma || n->n_inputs > NN_MAX_IO)
            return nn_err_set(e, NN_ERR_FORMAT, NODE_FMT "%d inputs, expected %d..%d",
                              NODE_ARGS(n), n->n_inputs, mi, ma);
        for (int i = 0; i < n->n_inputs; i++) {
            int v = n->inputs[i];
            if (v < -1 || v >= g->n_values)
                return nn_err_set(e, NN_ERR_FORMAT, NODE_FMT "input %d index %d out of range",
                                  NODE_ARGS(n), i, v);
            if (v == -1 && i < mi)
                return nn_err_set(e, NN_ERR_FORMAT, NODE_FMT "required input %d is absent",
                                  NODE_ARGS(n), i);
        }
        if (n->output < 0 || n->output >= g->n_values)
            return nn_err_set(e, NN_ERR_FORMAT, NODE_FMT "output index %d out of range",
                              NODE_ARGS(n), n->output);
        if (g->values[n->output].is_const || nn_graph_is_input(g, n->output))
            return nn_err_set(e, NN_ERR_FORMAT, NODE_FMT "output '%s' is a %s", NODE_ARGS(n),
                              g->values[n->output].name,
                              g->values[n->output].is_const ? "constant" : "graph input");
        if (producer[n->output] >= 0)
            return nn_err_set(e, NN_ERR_FORMAT, NODE_FMT "output '%s' is also produced by node '%s'",
                              NODE_ARGS(n), g->values[n->output].name,
                              g->nodes[producer[n->output]].name);
        producer[n->output] = k;
    }
    return NN_OK;
}

/* Every node input and graph output defined. */
static nn_status check_defined(const nn_graph *g, const int *producer, nn_err *e)
{
    for (int k = 0; k < g->n_nodes; k++) {
        const nn_node *n = &g->nodes[k];
        for (int i = 0; i < n->n_inputs; i++) {
            int v = n->inputs[i];
            if (v >= 0 && producer[v] < 0 && !g->values[v].is_const && !nn_graph_is_input(g, v))
                return nn_err_set(e, NN_ERR_FORMAT, NODE_FMT "input %d '%s' is not defined",
                                  NODE_ARGS(n), i, g->values[v].name);
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        int v = g->outputs[i];
        if (v < 0 || v >= g->n_values)
            return nn_err_set(e, NN_ERR_FORMAT, "graph output %d: value index %d out of range", i, v);
        if (producer[v] < 0 && !nn_graph_is_input(g, v))
            return nn_err_set(e, NN_ERR_FORMAT, "graph output '%s' is not produced by any node",
                              g->values[v].name);
        for (int j = 0; j < i; j++)
            if (g->outputs[j] == v)
                return nn_err_set(e, NN_ERR_FORMAT, "graph output '%s' listed twice",
                                  g->values[v].name);
    }
    return NN_OK;
}

/* Stable Kahn sort; reorders g->nodes. work: 3*n_nodes+1 ints. */
static nn_status topo_sort(nn_graph *g, const int *producer, int *work, nn_err *e)
{
    int nn = g->n_nodes, n_heap = 0, n_done = 0;
    int *indeg = work, *start = work + nn, *heap = work + 2 * nn + 1;
    int *edges = NULL, *order = NULL, *fill = NULL;
    nn_node *sorted = NULL;
    size_t n_edges = 0;
    nn_status st = NN_OK;

    memset(indeg, 0, (size_t)nn * sizeof *indeg);
    memset(start, 0, (size_t)(nn + 1) * sizeof *start);
    for (int k = 0; k < nn; k++)
        for (int i = 0; i < g->nodes[k].n_inputs; i++) {
            int v = g->nodes[k].inputs[i];
            if (v >= 0 && producer[v] >= 0) {
                indeg[k]++;
                start[producer[v] + 1]++;
                n_edges++;
            }
        }
    for (int k = 0; k < nn; k++)
        start[k + 1] += start[k];
    edges = malloc((n_edges ? n_edges : 1) * sizeof *edges);
    fill = malloc((size_t)(nn ? nn : 1) * sizeof *fill);
    order = malloc((size_t)(nn ? nn : 1) * sizeof *order);
    sorted = malloc((size_t)(nn ? nn : 1) * sizeof *sorted);
    if (!edges || !fill || !order || !sorted) {
        st = nn_err_set(e, NN_ERR_NOMEM, "graph sort");
        goto done;
    }
    memcpy(fill, start, (size_t)nn * sizeof *fill);
    for (int k = 0; k < nn; k++)
        for (int i = 0; i < g->nodes[k].n_inputs; i++) {
            int v = g->nodes[k].inputs[i];
            if (v >= 0 && producer[v] >= 0)
                edges[fill[producer[v]]++] = k;
        }
    for (int k = 0; k < nn; k++)
        if (indeg[k] == 0)
            heap_push(heap, &n_heap, k);
    while (n_heap > 0) {
        int k = heap_pop(heap, &n_heap);
        order[n_done++] = k;
        for (int j = start[k]; j < start[k + 1]; j++)
            if (--indeg[edges[j]] == 0)
                heap_push(heap, &n_heap, edges[j]);
    }
    if (n_done < nn) {
        for (int k = 0; k < nn; k++)
            if (indeg[k] > 0) {
                st = nn_err_set(e, NN_ERR_FORMAT, NODE_FMT "is part of a cycle",
                                NODE_ARGS(&g->nodes[k]));
                break;
            }
        goto done;
    }
    for (int k = 0; k < nn; k++)
        sorted[k] = g->nodes[order[k]];
    memcpy(g->nodes, sorted, (size_t)nn * sizeof *sorted);
done:
    free(edges);
    free(fill);
    free(order);
    free(sorted);
    return st;
}

nn_status nn_graph_validate(nn_graph *g, nn_err *e)
{
    int *producer = NULL, *work = NULL;
    nn_status st;
    if (!g)
        return nn_err_set(e, NN_ERR_INVALID, "no graph");
    producer = malloc((size_t)(g->n_values ? g->n_values : 1) * sizeof *producer);
    work = malloc((size_t)(3 * g->n_nodes + 2) * sizeof *work);
    if (!producer || !work) {
        st = nn_err_set(e, NN_ERR_NOMEM, "graph validation");
        goto done;
    }
    st = check_items(g, producer, e);
    if (st == NN_OK)
        st = check_defined(g, producer, e);
    if (st == NN_OK)
        st = topo_sort(g, producer, work, e);
done:
    free(producer);
    free(work);
    return st;
}

/* ---- compaction -------------------------------------------------------- */

nn_status nn_graph_compact(nn_graph *g, const unsigned char *node_dead, nn_err *e)
{
    int *map = malloc((size_t)(g->n_values ? g->n_values : 1) * sizeof *map);
    int nv = 0, nn = 0;
    if (!map)
        return nn_err_set(e, NN_ERR_NOMEM, "graph compaction");
    for (int k = 0; k < g->n_nodes; k++) {
        if (node_dead[k])
            nn_node_clear(&g->nodes[k]);
        else
            g->nodes[nn++] = g->nodes[k];
    }
    g->n_nodes = nn;
    for (int v = 0; v < g->n_values; v++)
        map[v] = -1;
    for (int i = 0; i < g->n_inputs; i++)
        map[g->inputs[i]] = 0;
    for (int i = 0; i < g->n_outputs; i++)
        map[g->outputs[i]] = 0;
    for (int k = 0; k < nn; k++) {
        map[g->nodes[k].output] = 0;
        for (int i = 0; i < g->nodes[k].n_inputs; i++)
            if (g->nodes[k].inputs[i] >= 0)
                map[g->nodes[k].inputs[i]] = 0;
    }
    for (int v = 0; v < g->n_values; v++) {
        if (map[v] < 0) {
            nn_value_clear(&g->values[v]);
            continue;
        }
        map[v] = nv;
        g->values[nv++] = g->values[v];
    }
    g->n_values = nv;
    for (int i = 0; i < g->n_inputs; i++)
        g->inputs[i] = map[g->inputs[i]];
    for (int i = 0; i < g->n_outputs; i++)
        g->outputs[i] = map[g->outputs[i]];
    for (int k = 0; k < nn; k++) {
        g->nodes[k].output = map[g->nodes[k].output];
        for (int i = 0; i < g->nodes[k].n_inputs; i++)
            if (g->nodes[k].inputs[i] >= 0)
                g->nodes[k].inputs[i] = map[g->nodes[k].inputs[i]];
    }
    free(map);
    return nn_graph_rehash(g, e);
}
