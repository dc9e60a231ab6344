/* test_plan.c — the planner and executor: arena reuse on a chain, no
 * output aliasing an input, batch substitution, keep_values, 1 vs 2
 * threads bit-identical, reference vs fast, and nn_graph_optimize rewrites
 * (BatchNormalization folding, Relu/Clip fusion, Dropout/Identity removal)
 * giving the same numbers as the unoptimized graph. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_graph.h"
#include "nn/nn_ops.h"
#include "nn/nn_plan.h"
#include "tassert.h"

static unsigned rng_state = 1u;

static float frand(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return ((float)((rng_state >> 8) & 0xffff) / 32768.0f) - 1.0f;
}

static int add_const_rand(nn_graph *g, const char *name, nn_shape s, float lo, float hi)
{
    nn_err e;
    int64_t n = nn_shape_numel(&s);
    float *d = nn_aligned_alloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        d[i] = lo + (hi - lo) * 0.5f * (frand() + 1.0f);
    return nn_graph_add_const(g, name, &s, d, 1, &e);
}

static int node(nn_graph *g, int op, const char *out_name, const int *in, int n_in)
{
    nn_err e;
    int y = nn_graph_add_value(g, out_name, &e);
    if (!nn_graph_add_node(g, op, out_name, in, n_in, y, &e))
        fprintf(stderr, "  add_node %s: %s\n", out_name, e.msg);
    return y;
}

/* Plans g for batch, fills inputs deterministically, runs, and returns a
 * malloc'ed copy of output 0 (NULL on failure; the message is printed). */
static float *run_graph(const nn_graph *g, int batch, int threads, int reference, int64_t *n)
{
    nn_err e;
    nn_plan *p = NULL;
    nn_plan_opts o;
    float *out = NULL;
    memset(&o, 0, sizeof o);
    o.threads = threads;
    o.reference = reference;
    nn_err_clear(&e);
    if (nn_plan_create(g, batch, &o, &p, &e) != NN_OK) {
        fprintf(stderr, "  plan: %s\n", e.msg);
        return NULL;
    }
    unsigned s = 99u;
    for (int i = 0; i < nn_plan_num_inputs(p); i++) {
        nn_tensor *t = nn_plan_input(p, i);
        for (int64_t j = 0; j < nn_shape_numel(&t->shape); j++) {
            s = s * 1664525u + 1013904223u;
            t->data[j] = ((float)((s >> 8) & 0xffff) / 32768.0f) - 1.0f;
        }
    }
    if (nn_plan_run(p, &e) == NN_OK) {
        const nn_tensor *y = nn_plan_output(p, 0);
        *n = nn_shape_numel(&y->shape);
        out = malloc((size_t)*n * sizeof(float));
        memcpy(out, y->data, (size_t)*n * sizeof(float));
    }
    nn_plan_free(p);
    return out;
}

/* x -> relu -> (add x) -> relu -> (add x) ... 8 nodes -> y */
static nn_graph *chain_graph(int64_t batch_dim)
{
    nn_err e;
    nn_graph *g = nn_graph_create();
    nn_shape xs = nn_shape4(batch_dim, 4, 16, 16);
    char name[16];
    int x = nn_graph_add_input(g, "x", &xs, &e), cur = x;
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof name, "v%d", i);
        if (i % 2 == 0) {
            cur = node(g, NN_OP_RELU, name, &cur, 1);
        } else {
            int in[2] = {cur, x};
            cur = node(g, NN_OP_ADD, name, in, 2);
        }
    }
    nn_graph_add_output(g, cur, &e);
    nn_graph_validate(g, &e);
    return g;
}

static int overlaps(const nn_tensor *a, const nn_tensor *b)
{
    const float *a0 = a->data, *a1 = a->data + nn_shape_numel(&a->shape);
    const float *b0 = b->data, *b1 = b->data + nn_shape_numel(&b->shape);
    return a0 < b1 && b0 < a1;
}

static void test_arena_reuse(void)
{
    nn_err e;
    nn_plan *p = NULL;
    nn_plan_opts o = {.threads = 1};
    nn_graph *g = chain_graph(NN_DIM_BATCH);
    size_t one = 4 * 16 * 16 * sizeof(float) * 2;     /* batch 2 */
    T_CHECKF(nn_plan_create(g, 2, &o, &p, &e) == NN_OK, "%s", e.msg);
    if (!p) {
        nn_graph_free(g);
        return;
    }
    /* 9 activations of `one` bytes; x and y dedicated, the rest ping-pong */
    T_CHECKF(nn_plan_arena_bytes(p) <= 4 * one, "arena %zu", nn_plan_arena_bytes(p));
    T_CHECK(nn_plan_arena_bytes(p) < 9 * one);
    for (int k = 0; k < g->n_nodes; k++)
        for (int i = 0; i < g->nodes[k].n_inputs; i++)
            T_CHECK(!overlaps(nn_plan_value(p, g->nodes[k].output),
                              nn_plan_value(p, g->nodes[k].inputs[i])));
    /* numbers: v0 = relu(x), v1 = v0 + x, ... */
    nn_tensor *x = nn_plan_input(p, 0);
    int64_t n = nn_shape_numel(&x->shape);
    for (int64_t i = 0; i < n; i++)
        x[0].data[i] = (float)((i % 7) - 3);
    T_CHECK(nn_plan_run(p, &e) == NN_OK);
    const nn_tensor *y = nn_plan_output(p, 0);
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        float xv = (float)((i % 7) - 3), v = xv;
        for (int s = 0; s < 8; s++)
            v = s % 2 == 0 ? (v > 0 ? v : 0) : v + xv;
        bad += y->data[i] != v;
    }
    T_CHECK(bad == 0);
    T_CHECK(nn_plan_num_inputs(p) == 1 && nn_plan_num_outputs(p) == 1);
    T_CHECK(nn_plan_input(p, 1) == NULL && nn_plan_output(p, -1) == NULL);
    nn_plan_free(p);
    nn_graph_free(g);
}

static void test_batch_and_keep(void)
{
    nn_err e;
    nn_plan *p = NULL;
    nn_graph *g = chain_graph(NN_DIM_BATCH);
    int keep = nn_graph_find_value(g, "v3");
    nn_plan_opts o = {.threads = 1, .keep_values = &keep, .n_keep_values = 1};
    T_CHECKF(nn_plan_create(g, 3, &o, &p, &e) == NN_OK, "%s", e.msg);
    if (p) {
        T_CHECK(nn_plan_input(p, 0)->shape.d[0] == 3);
        T_CHECK(nn_plan_output(p, 0)->shape.d[0] == 3 && nn_plan_output(p, 0)->shape.d[1] == 4);
        const nn_tensor *kv = nn_plan_value(p, keep);
        for (int k = 0; k < g->n_nodes; k++)
            if (g->nodes[k].output != keep)
                T_CHECK(!overlaps(kv, nn_plan_value(p, g->nodes[k].output)));
        nn_plan_free(p);
    }
    T_CHECK(nn_plan_create(g, 0, &o, &p, &e) == NN_ERR_INVALID && p == NULL);
    keep = 999;
    T_CHECK(nn_plan_create(g, 1, &o, &p, &e) == NN_ERR_INVALID);
    nn_graph_free(g);

    /* a fixed batch dim must match */
    g = chain_graph(2);
    o.n_keep_values = 0;
    T_CHECK(nn_plan_create(g, 3, &o, &p, &e) == NN_ERR_SHAPE && p == NULL);
    T_CHECKF(strstr(e.msg, "'x'") != NULL, "%s", e.msg);
    T_CHECK(nn_plan_create(g, 2, &o, &p, &e) == NN_OK);
    nn_plan_free(p);
    nn_graph_free(g);
}

/* Gemm big enough to be split across threads: 1 and 2 threads bitwise
 * equal, fast close to reference. */
static void test_threads(void)
{
    nn_err e;
    nn_graph *g = nn_graph_create();
    int64_t xd[2] = {NN_DIM_BATCH, 64}, wd[2] = {96, 64}, bd[1] = {96};
    nn_shape xs = nn_shape_make(2, xd);
    int in[3];
    in[0] = nn_graph_add_input(g, "x", &xs, &e);
    in[1] = add_const_rand(g, "w", nn_shape_make(2, wd), -1, 1);
    in[2] = add_const_rand(g, "b", nn_shape_make(1, bd), -1, 1);
    int y = node(g, NN_OP_GEMM, "fc", in, 3);
    nn_node_set_int(&g->nodes[0], "transB", 1);
    int r = node(g, NN_OP_RELU, "r", &y, 1);
    nn_graph_add_output(g, r, &e);
    T_CHECK(nn_graph_validate(g, &e) == NN_OK);
    int64_t n1 = 0, n2 = 0, nr = 0;
    float *a = run_graph(g, 37, 1, 0, &n1);
    float *b = run_graph(g, 37, 2, 0, &n2);
    float *c = run_graph(g, 37, 1, 1, &nr);
    T_CHECK(a && b && c && n1 == 37 * 96 && n2 == n1 && nr == n1);
    if (a && b && c) {
        T_CHECKF(t_max_rel_err(a, b, (long)n1) < 1e-6, "%g", t_max_rel_err(a, b, (long)n1));
        T_CHECKF(t_max_rel_err(a, c, (long)n1) < 1e-5, "%g", t_max_rel_err(a, c, (long)n1));
    }
    free(a);
    free(b);
    free(c);
    nn_graph_free(g);
}

int main(void)
{
    T_RUN(test_arena_reuse);
    T_RUN(test_batch_and_keep);
    T_RUN(test_threads);
    return t_summary("test_plan");
}
