/* nn_pack.c — nn_graph_pack (see nn_pack.h): one batch-1 plan gives every
 * node its input shapes and constant data; the op's pack hook computes the
 * precomputed weights; the graph then gets them as constants. */
#include "nn_pack.h"

#include <stdio.h>
#include <stdlib.h>

#include "nn_ops.h"
#include "nn_plan.h"

typedef struct pack_item {
    int node;
    nn_tensor t;                /* data owned until handed to the graph */
    int64_t tag;
} pack_item;

/* Whether node n can take a packed input that it does not have yet. */
static int pack_wanted(const nn_node *n)
{
    int pi = nn_op_packed_input(n->op);
    return pi >= 0 && !(n->n_inputs > pi && n->inputs[pi] >= 0);
}

/* Runs the hooks; items[] gets one entry per node that packs. */
static nn_status pack_collect(const nn_graph *g, pack_item *items, int *n_items, nn_err *e)
{
    nn_plan_opts po = {.threads = 1};
    nn_plan *plan = NULL;
    nn_status st = nn_plan_create(g, 1, &po, &plan, e);
    *n_items = 0;
    for (int i = 0; st == NN_OK && i < g->n_nodes; i++) {
        const nn_node *n = &g->nodes[i];
        const nn_tensor *in[NN_MAX_IO];
        pack_item *it = &items[*n_items];
        if (!pack_wanted(n))
            continue;
        for (int j = 0; j < n->n_inputs; j++)
            in[j] = n->inputs[j] >= 0 ? nn_plan_value(plan, n->inputs[j]) : NULL;
        it->node = i;
        it->t.data = NULL;
        it->tag = 0;
        st = nn_op_get(n->op)->pack(n, in, n->n_inputs, &it->t, &it->tag, e);
        if (st == NN_OK && it->t.data)
            (*n_items)++;
    }
    nn_plan_free(plan);
    return st;
}

/* Hands item it to the graph: a constant, the node's last input, its tag. */
static nn_status pack_apply(nn_graph *g, pack_item *it, nn_err *e)
{
    nn_node *n = &g->nodes[it->node];
    int pi = nn_op_packed_input(n->op), v;
    char name[NN_NAME_MAX];
    int *inputs;
    snprintf(name, sizeof name, "%.200s.packed", n->name);
    for (int k = 1; nn_graph_find_value(g, name) >= 0 && k < 1000; k++)
        snprintf(name, sizeof name, "%.200s.packed.%d", n->name, k);
    v = nn_graph_add_const(g, name, &it->t.shape, it->t.data, 1, e);
    it->t.data = NULL;          /* the graph owns (or has freed) it now */
    if (v < 0)
        return e ? e->status : NN_ERR_NOMEM;
    if (!(inputs = realloc(n->inputs, (size_t)(pi + 1) * sizeof *inputs)))
        return nn_err_set(e, NN_ERR_NOMEM, "packing '%s'", n->name);
    n->inputs = inputs;
    for (int j = n->n_inputs; j < pi; j++)
        inputs[j] = -1;
    inputs[pi] = v;
    n->n_inputs = pi + 1;
    if (nn_node_set_int(n, "packed", it->tag) != NN_OK)
        return nn_err_set(e, NN_ERR_NOMEM, "packing '%s'", n->name);
    return NN_OK;
}

nn_status nn_graph_pack(nn_graph *g, int *n_packed, nn_err *e)
{
    pack_item *items = calloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof *items);
    int n_items = 0, i = 0;
    nn_status st;
    if (n_packed)
        *n_packed = 0;
    if (!items)
        return nn_err_set(e, NN_ERR_NOMEM, "weight packing");
    st = pack_collect(g, items, &n_items, e);
    for (; st == NN_OK && i < n_items; i++)
        st = pack_apply(g, &items[i], e);
    for (int j = i; j < n_items; j++)
        nn_aligned_free(items[j].t.data);
    free(items);
    if (st == NN_OK && n_packed)
        *n_packed = n_items;
    return st;
}
