/* test_graph.c — the graph IR: builders, attribute replacement, metadata,
 * the name table over many values, and nn_graph_validate rejecting each
 * kind of broken graph (cycle, dangling input, double producer, unknown op,
 * bad arity, missing output) with a message naming the node. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_graph.h"
#include "nn/nn_ops.h"
#include "tassert.h"

/* x -> conv(w) -> c -> relu -> y */
static nn_graph *small_graph(void)
{
    nn_err e;
    nn_graph *g = nn_graph_create();
    nn_shape xs = nn_shape4(NN_DIM_BATCH, 2, 4, 4), ws = nn_shape4(3, 2, 1, 1);
    float w[6] = {1, 2, 3, 4, 5, 6};
    int x = nn_graph_add_input(g, "x", &xs, &e);
    int wi = nn_graph_add_const_copy(g, "w", &ws, w, &e);
    int c = nn_graph_add_value(g, "c", &e);
    int y = nn_graph_add_value(g, "y", &e);
    int ci[2] = {x, wi};
    nn_graph_add_node(g, NN_OP_CONV, "conv1", ci, 2, c, &e);
    nn_graph_add_node(g, NN_OP_RELU, "relu1", &c, 1, y, &e);
    nn_graph_add_output(g, y, &e);
    return g;
}

static void test_builder(void)
{
    nn_err e;
    nn_graph *g = small_graph();
    nn_shape s1 = nn_shape4(1, 1, 1, 1);
    float one = 1;
    T_CHECK(g->n_values == 4 && g->n_nodes == 2);
    T_CHECK(g->n_inputs == 1 && g->n_outputs == 1);
    T_CHECK(nn_graph_find_value(g, "w") == 1);
    T_CHECK(nn_graph_find_value(g, "y") == 3);
    T_CHECK(nn_graph_find_value(g, "nope") == -1);
    T_CHECK(g->values[1].is_const && g->values[1].owns_data && g->values[1].data[5] == 6);
    T_CHECK(nn_graph_param_count(g) == 6);
    /* duplicate name */
    nn_err_clear(&e);
    T_CHECK(nn_graph_add_value(g, "w", &e) == -1 && strstr(e.msg, "duplicate"));
    T_CHECK(nn_graph_add_const_copy(g, "x", &s1, &one, &e) == -1);
    T_CHECK(nn_graph_add_value(g, "", &e) == -1);
    /* a refused constant's data is freed when ownership was offered
     * (the sanitizer build checks neither leak nor double free) */
    float *owned = nn_aligned_alloc(sizeof(float));
    T_CHECK(nn_graph_add_const(g, "w", &s1, owned, 1, &e) == -1);
    T_CHECK(nn_graph_add_const(g, "w2", &s1, NULL, 1, &e) == -1);
    /* output of a node must be an unproduced intermediate */
    int ins[1] = {0};
    T_CHECK(nn_graph_add_node(g, NN_OP_RELU, "bad", ins, 1, 1, &e) == NULL);
    T_CHECKF(strstr(e.msg, "constant") != NULL, "%s", e.msg);
    T_CHECK(nn_graph_add_node(g, NN_OP_RELU, "bad", ins, 1, 0, &e) == NULL);
    T_CHECK(nn_graph_add_node(g, NN_OP_RELU, "bad", ins, 1, 3, &e) == NULL);
    T_CHECKF(strstr(e.msg, "relu1") != NULL, "%s", e.msg);
    T_CHECK(nn_graph_add_node(g, NN_OP_COUNT, "bad", ins, 1, 2, &e) == NULL);
    ins[0] = 99;
    T_CHECK(nn_graph_add_node(g, NN_OP_RELU, "bad", ins, 1, 2, &e) == NULL);
    T_CHECK(nn_graph_add_output(g, 3, &e) != NN_OK);   /* listed twice */
    T_CHECK(g->n_nodes == 2 && g->n_outputs == 1);
    T_CHECK(nn_graph_validate(g, &e) == NN_OK);
    nn_graph_free(g);
}

static void test_attrs_meta(void)
{
    nn_graph *g = small_graph();
    nn_node *n = &g->nodes[0];
    int64_t v[4] = {1, 2, 3, 4}, out[4] = {0};
    float fv[2] = {0.5f, 1.5f};
    T_CHECK(nn_node_set_int(n, "group", 1) == NN_OK);
    T_CHECK(nn_node_set_int(n, "group", 2) == NN_OK);
    T_CHECK(n->n_attrs == 1 && nn_node_get_int(n, "group", 0) == 2);
    T_CHECK(nn_node_set_ints(n, "pads", v, 4) == NN_OK);
    T_CHECK(nn_node_set_ints(n, "pads", v + 2, 2) == NN_OK);
    T_CHECK(nn_node_get_ints(n, "pads", out, 4) == 2 && out[0] == 3 && out[1] == 4);
    T_CHECK(nn_node_get_ints(n, "absent", out, 4) == -1);
    T_CHECK(nn_node_set_float(n, "eps", 1e-3f) == NN_OK);
    T_CHECK(nn_node_get_float(n, "eps", 0) == 1e-3f);
    T_CHECK(nn_node_get_float(n, "group", 0) == 2.0f);   /* int read as float */
    T_CHECK(nn_node_get_int(n, "eps", 7) == 7);           /* type mismatch: default */
    T_CHECK(nn_node_set_floats(n, "f", fv, 2) == NN_OK);
    T_CHECK(nn_node_attr(n, "f")->n == 2 && nn_node_attr(n, "f")->floats[1] == 1.5f);
    T_CHECK(nn_node_set_string(n, "mode", "constant") == NN_OK);
    T_CHECK(nn_node_set_int(n, "mode", 5) == NN_OK);       /* type change replaces */
    T_CHECK(strcmp(nn_node_get_string(n, "mode", "d"), "d") == 0);
    T_CHECK(nn_node_get_int(n, "mode", 0) == 5);
    T_CHECK(n->n_attrs == 5);
    T_CHECK(nn_node_set_ints(n, "big", v, NN_ATTR_MAX_LIST + 1) != NN_OK);

    T_CHECK(nn_graph_get_meta(g, "name") == NULL);
    T_CHECK(nn_graph_set_meta(g, "name", "a") == NN_OK);
    T_CHECK(nn_graph_set_meta(g, "labels", "x\ny") == NN_OK);
    T_CHECK(nn_graph_set_meta(g, "name", "b") == NN_OK);
    T_CHECK(g->n_meta == 2 && strcmp(nn_graph_get_meta(g, "name"), "b") == 0);
    T_CHECK(strcmp(nn_graph_get_meta(g, "labels"), "x\ny") == 0);
    nn_graph_free(g);
}

/* The name table across growth: 5000 values all found again. */
static void test_many_values(void)
{
    nn_err e;
    nn_graph *g = nn_graph_create();
    char name[32];
    int ok = 1;
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "v%d", i);
        if (nn_graph_add_value(g, name, &e) != i)
            ok = 0;
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "v%d", i);
        if (nn_graph_find_value(g, name) != i)
            ok = 0;
    }
    T_CHECK(ok);
    T_CHECK(nn_graph_find_value(g, "v5000") == -1);
    nn_graph_free(g);
}

/* Nodes added out of order are sorted; an already sorted graph keeps its
 * order (stability). */
static void test_toposort(void)
{
    nn_err e;
    nn_graph *g = nn_graph_create();
    nn_shape xs = nn_shape4(1, 1, 2, 2);
    int x = nn_graph_add_input(g, "x", &xs, &e);
    int a = nn_graph_add_value(g, "a", &e);
    int b = nn_graph_add_value(g, "b", &e);
    int c = nn_graph_add_value(g, "c", &e);
    int d = nn_graph_add_value(g, "d", &e);
    int ab[2] = {a, b};
    nn_graph_add_node(g, NN_OP_ADD, "n_add", ab, 2, c, &e);   /* needs a, b */
    nn_graph_add_node(g, NN_OP_RELU, "n_b", &x, 1, b, &e);
    nn_graph_add_node(g, NN_OP_RELU, "n_a", &x, 1, a, &e);
    nn_graph_add_node(g, NN_OP_RELU, "n_d", &x, 1, d, &e);
    nn_graph_add_output(g, c, &e);
    nn_graph_add_output(g, d, &e);
    T_CHECKF(nn_graph_validate(g, &e) == NN_OK, "%s", e.msg);
    T_CHECK(strcmp(g->nodes[0].name, "n_b") == 0);
    T_CHECK(strcmp(g->nodes[1].name, "n_a") == 0);
    T_CHECK(strcmp(g->nodes[2].name, "n_add") == 0);
    T_CHECK(strcmp(g->nodes[3].name, "n_d") == 0);
    T_CHECK(g->nodes[2].inputs[0] == a && g->nodes[2].output == c);
    T_CHECK(nn_graph_validate(g, &e) == NN_OK);
    T_CHECK(strcmp(g->nodes[2].name, "n_add") == 0);
    nn_graph_free(g);
}

static int rejects(nn_graph *g, const char *want1, const char *want2)
{
    nn_err e;
    nn_err_clear(&e);
    int ok = nn_graph_validate(g, &e) != NN_OK && e.status != NN_OK &&
             strstr(e.msg, want1) && (!want2 || strstr(e.msg, want2));
    if (!ok)
        fprintf(stderr, "  message was: %s\n", e.msg);
    nn_graph_free(g);
    return ok;
}

static void test_validate_rejects(void)
{
    nn_err e;
    nn_graph *g;
    int t[2];

    /* cycle: c = relu(y), y = relu(c) after rewiring conv's input */
    g = small_graph();
    g->nodes[0].inputs[0] = g->nodes[1].output;
    T_CHECK(rejects(g, "cycle", NULL));

    /* self loop */
    g = small_graph();
    g->nodes[1].inputs[0] = g->nodes[1].output;
    T_CHECK(rejects(g, "relu1", "cycle"));

    /* dangling input: an intermediate nobody produces */
    g = small_graph();
    t[0] = nn_graph_add_value(g, "ghost", &e);
    g->nodes[0].inputs[1] = t[0];
    T_CHECK(rejects(g, "node 'conv1' (Conv): input 1 'ghost' is not defined", NULL));

    /* double producer (built by hand: the builder refuses it) */
    g = small_graph();
    g->nodes[0].output = g->nodes[1].output;
    T_CHECK(rejects(g, "also produced", NULL));

    /* unknown op */
    g = small_graph();
    g->nodes[1].op = NN_OP_COUNT + 3;
    T_CHECK(rejects(g, "relu1", "unknown op"));
    g = small_graph();
    g->nodes[1].op = -1;
    T_CHECK(rejects(g, "unknown op", NULL));

    /* bad arity: Conv with 1 input, Relu with 2 */
    g = small_graph();
    g->nodes[0].n_inputs = 1;
    T_CHECK(rejects(g, "node 'conv1' (Conv): 1 inputs, expected 2..5", NULL));
    g = small_graph();
    t[0] = g->nodes[1].inputs[0];
    t[1] = 0;
    nn_graph_add_node(g, NN_OP_RELU, "relu2", t, 2, nn_graph_add_value(g, "z", &e), &e);
    T_CHECK(rejects(g, "relu2", "expected 1..1"));

    /* absent required input, index out of range */
    g = small_graph();
    g->nodes[0].inputs[1] = -1;
    T_CHECK(rejects(g, "conv1", "required input 1"));
    g = small_graph();
    g->nodes[0].inputs[0] = 77;
    T_CHECK(rejects(g, "conv1", "out of range"));

    /* graph output nobody produces */
    g = small_graph();
    nn_graph_add_output(g, nn_graph_add_value(g, "unmade", &e), &e);
    T_CHECK(rejects(g, "'unmade' is not produced", NULL));

    /* no outputs / no inputs */
    g = small_graph();
    g->n_outputs = 0;
    T_CHECK(rejects(g, "no outputs", NULL));
    g = small_graph();
    g->n_inputs = 0;
    T_CHECK(rejects(g, "no inputs", NULL));

    /* constant without data */
    g = small_graph();
    g->values[1].owns_data = 0;
    nn_aligned_free(g->values[1].data);
    g->values[1].data = NULL;
    T_CHECK(rejects(g, "'w'", "no data"));
}

int main(void)
{
    T_RUN(test_builder);
    T_RUN(test_attrs_meta);
    T_RUN(test_many_values);
    T_RUN(test_toposort);
    T_RUN(test_validate_rejects);
    return t_summary("test_graph");
}
