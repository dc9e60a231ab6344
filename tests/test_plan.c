/* test_plan.c — the planner and executor: arena reuse on a chain, no
 * output aliasing an input, each node's scratch placed clear of what is
 * live at that node, batch substitution, keep_values, 1 vs 2
 * threads bit-identical, reference vs fast, and nn_graph_optimize rewrites
 * (BatchNormalization folding, Relu/Clip fusion, Dropout/Identity removal)
 * giving the same numbers as the unoptimized graph. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph_build.h"
#include "nn/nn_graph.h"
#include "nn/nn_ops.h"
#include "nn/nn_plan.h"
#include "nn/nn_plan_priv.h"
#include "tassert.h"

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
            cur = tg_node(g, NN_OP_RELU, name, &cur, 1);
        } else {
            int in[2] = {cur, x};
            cur = tg_node(g, NN_OP_ADD, name, in, 2);
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

/* x [N,3,64,64] -> conv 7x7/2 (3->16) -> maxpool 3x3/2 -> conv 3x3
 * (16->16, Winograd) -> add (the maxpool output) -> relu -> y: three
 * nodes with scratch, two without. */
static nn_graph *stem_graph(void)
{
    nn_err e;
    nn_graph *g = nn_graph_create();
    nn_shape xs = nn_shape4(NN_DIM_BATCH, 3, 64, 64);
    int64_t p3[4] = {3, 3, 3, 3}, p1[4] = {1, 1, 1, 1}, s2[2] = {2, 2}, k3[2] = {3, 3};
    int in[2], c, m, a;
    tg_rng = 11u;
    in[0] = nn_graph_add_input(g, "x", &xs, &e);
    in[1] = tg_const_rand(g, "w7", nn_shape4(16, 3, 7, 7), -0.3f, 0.3f);
    c = tg_node(g, NN_OP_CONV, "stem", in, 2);
    nn_node_set_ints(&g->nodes[0], "pads", p3, 4);
    nn_node_set_ints(&g->nodes[0], "strides", s2, 2);
    m = tg_node(g, NN_OP_MAXPOOL, "pool", &c, 1);
    nn_node_set_ints(&g->nodes[1], "kernel_shape", k3, 2);
    nn_node_set_ints(&g->nodes[1], "pads", p1, 4);
    nn_node_set_ints(&g->nodes[1], "strides", s2, 2);
    in[0] = m;
    in[1] = tg_const_rand(g, "w3", nn_shape4(16, 16, 3, 3), -0.3f, 0.3f);
    c = tg_node(g, NN_OP_CONV, "c3", in, 2);
    nn_node_set_ints(&g->nodes[2], "pads", p1, 4);
    in[0] = c;
    in[1] = m;
    a = tg_node(g, NN_OP_ADD, "add", in, 2);
    nn_graph_add_output(g, tg_node(g, NN_OP_RELU, "relu", &a, 1), &e);
    nn_graph_validate(g, &e);
    return g;
}

/* The nodes between which value v must keep its contents: produced at
 * *first (-1: a graph input), last read at *last (n_nodes: a graph output). */
static void live_range(const nn_graph *g, int v, int *first, int *last)
{
    *first = *last = -1;
    for (int k = 0; k < g->n_nodes; k++) {
        if (g->nodes[k].output == v)
            *first = *last = k;
        for (int i = 0; i < g->nodes[k].n_inputs; i++)
            if (g->nodes[k].inputs[i] == v)
                *last = k;
    }
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == v)
            *last = g->n_nodes;
    for (int i = 0; i < g->n_inputs; i++)
        if (g->inputs[i] == v)
            *first = -1, *last = g->n_nodes;
}

/* Each node's scratch: NULL exactly when it asked for none; clear of every
 * value live at that node; and, somewhere, in memory of a value that is
 * dead by then (the arena is not activations + the largest scratch).
 * Numbers as the reference plan's at 1 and 2 threads. */
static void test_scratch_slots(void)
{
    nn_err e;
    nn_graph *g = stem_graph();
    float *ref = NULL;
    int64_t nref = 0;
    T_CHECK(nn_graph_validate(g, &e) == NN_OK);
    ref = run_graph(g, 2, 1, 1, &nref);
    for (int threads = 1; threads <= 2; threads++) {
        nn_plan_opts o = {.threads = threads};
        nn_plan *p = NULL;
        int reused = 0, with = 0, without = 0;
        int64_t n = 0;
        float *y;
        T_CHECKF(nn_plan_create(g, 2, &o, &p, &e) == NN_OK, "%s", e.msg);
        for (int k = 0; p && k < g->n_nodes; k++) {
            size_t bytes;
            const float *sc = nn_plan_node_scratch(p, k, &bytes);
            T_CHECKF((sc == NULL) == (bytes == 0), "node %d", k);
            with += sc != NULL;
            without += sc == NULL;
            for (int v = 0; sc && v < g->n_values; v++) {
                const nn_tensor *t = nn_plan_value(p, v);
                const float *t1 = t->data + nn_shape_numel(&t->shape);
                int first, last, hit;
                if (g->values[v].is_const)
                    continue;
                live_range(g, v, &first, &last);
                hit = t->data < sc + bytes / sizeof(float) && sc < t1;
                if (first <= k && k <= last)
                    T_CHECKF(!hit, "node %d's scratch overlaps live value %s", k,
                             g->values[v].name);
                else
                    reused |= hit;
            }
        }
        T_CHECKF(with == 3 && without == 2, "%d nodes with scratch, %d without", with, without);
        T_CHECK(reused);
        nn_plan_free(p);
        y = run_graph(g, 2, threads, 0, &n);
        T_CHECK(y && ref && n == nref && n == 2 * 16 * 16 * 16);
        if (y && ref && n == nref)
            T_CHECKF(t_max_rel_err(ref, y, (long)n) < 1e-5, "%g", t_max_rel_err(ref, y, (long)n));
        free(y);
    }
    free(ref);
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

    /* shape inference failure: the message names the node */
    g = nn_graph_create();
    nn_shape xs = nn_shape4(NN_DIM_BATCH, 3, 5, 5);
    int in[2];
    in[0] = nn_graph_add_input(g, "x", &xs, &e);
    in[1] = tg_const_rand(g, "w", nn_shape4(2, 4, 3, 3), -1, 1);   /* expects 4 channels */
    nn_graph_add_output(g, tg_node(g, NN_OP_CONV, "badconv", in, 2), &e);
    T_CHECK(nn_graph_validate(g, &e) == NN_OK);
    p = NULL;
    T_CHECK(nn_plan_create(g, 1, &o, &p, &e) != NN_OK && p == NULL);
    T_CHECKF(strstr(e.msg, "badconv") != NULL, "%s", e.msg);
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
    in[1] = tg_const_rand(g, "w", nn_shape_make(2, wd), -1, 1);
    in[2] = tg_const_rand(g, "b", nn_shape_make(1, bd), -1, 1);
    int y = tg_node(g, NN_OP_GEMM, "fc", in, 3);
    nn_node_set_int(&g->nodes[0], "transB", 1);
    int r = tg_node(g, NN_OP_RELU, "r", &y, 1);
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

    /* elementwise chain: bitwise identical across thread counts */
    g = chain_graph(NN_DIM_BATCH);
    a = run_graph(g, 64, 1, 0, &n1);
    b = run_graph(g, 64, 2, 0, &n2);
    T_CHECK(a && b && n1 == n2 && n1 == 64 * 4 * 16 * 16);
    if (a && b && n1 == n2)
        T_CHECK(memcmp(a, b, (size_t)n1 * sizeof(float)) == 0);
    free(a);
    free(b);
    nn_graph_free(g);
}

/* ---- nn_graph_optimize: same numbers before and after ----------------- */

/* Graph builders take a variant and reset the generator so that two calls
 * build identical graphs (one is optimized, one kept as the oracle). */
typedef nn_graph *(*graph_fn)(int variant);

static int bn_node(nn_graph *g, const char *name, int x, int64_t c)
{
    int64_t d[1] = {c};
    nn_shape s = nn_shape_make(1, d);
    char nm[64];
    int in[5];
    in[0] = x;
    snprintf(nm, sizeof nm, "%s.scale", name);
    in[1] = tg_const_rand(g, nm, s, 0.5f, 1.5f);
    snprintf(nm, sizeof nm, "%s.bias", name);
    in[2] = tg_const_rand(g, nm, s, -0.5f, 0.5f);
    snprintf(nm, sizeof nm, "%s.mean", name);
    in[3] = tg_const_rand(g, nm, s, -0.3f, 0.3f);
    snprintf(nm, sizeof nm, "%s.var", name);
    in[4] = tg_const_rand(g, nm, s, 0.2f, 2.0f);
    int y = tg_node(g, NN_OP_BATCHNORM, name, in, 5);
    nn_node_set_float(&g->nodes[g->n_nodes - 1], "epsilon", 1e-3f);
    return y;
}

/* variant 0: conv(bias)+bn+relu; 1: conv(no bias, stride 2, groups 2)+bn+clip;
 * 2: conv+bn (bn output is the graph output, no act) */
static nn_graph *conv_bn_graph(int variant)
{
    nn_err e;
    nn_graph *g = nn_graph_create();
    nn_shape xs = nn_shape4(NN_DIM_BATCH, 4, 9, 9);
    int64_t bd[1] = {6};
    int in[3], n_in = variant == 1 ? 2 : 3;
    tg_rng = 7u;
    in[0] = nn_graph_add_input(g, "x", &xs, &e);
    in[1] = tg_const_rand(g, "conv.w", nn_shape4(6, variant == 1 ? 2 : 4, 3, 3), -0.5f, 0.5f);
    if (n_in == 3)
        in[2] = tg_const_rand(g, "conv.b", nn_shape_make(1, bd), -0.5f, 0.5f);
    int c = tg_node(g, NN_OP_CONV, "conv", in, n_in);
    int64_t pads[4] = {1, 1, 1, 1}, strides[2] = {2, 2};
    nn_node_set_ints(&g->nodes[0], "pads", pads, 4);
    if (variant == 1) {
        nn_node_set_ints(&g->nodes[0], "strides", strides, 2);
        nn_node_set_int(&g->nodes[0], "group", 2);
    }
    int b = bn_node(g, "bn", c, 6);
    int y = b;
    if (variant == 0) {
        y = tg_node(g, NN_OP_RELU, "relu", &b, 1);
    } else if (variant == 1) {
        y = tg_node(g, NN_OP_CLIP, "clip", &b, 1);
        nn_node_set_float(&g->nodes[g->n_nodes - 1], "min", 0.0f);
        nn_node_set_float(&g->nodes[g->n_nodes - 1], "max", 0.6f);
    }
    nn_graph_add_output(g, y, &e);
    return g;
}

/* variant 0: gemm(transB, alpha, beta, C[O]) + bn + relu; 1: gemm(B [K,O],
 * no C) + bn + clip(-0.2, 0.4) */
static nn_graph *gemm_bn_graph(int variant)
{
    nn_err e;
    nn_graph *g = nn_graph_create();
    int64_t xd[2] = {NN_DIM_BATCH, 20}, w0[2] = {12, 20}, w1[2] = {20, 12}, cd[1] = {12};
    nn_shape xs = nn_shape_make(2, xd);
    int in[3], n_in = variant == 0 ? 3 : 2;
    tg_rng = 11u;
    in[0] = nn_graph_add_input(g, "x", &xs, &e);
    in[1] = tg_const_rand(g, "fc.w", nn_shape_make(2, variant == 0 ? w0 : w1), -0.5f, 0.5f);
    if (n_in == 3)
        in[2] = tg_const_rand(g, "fc.b", nn_shape_make(1, cd), -0.5f, 0.5f);
    int f = tg_node(g, NN_OP_GEMM, "fc", in, n_in);
    if (variant == 0) {
        nn_node_set_int(&g->nodes[0], "transB", 1);
        nn_node_set_float(&g->nodes[0], "alpha", 0.7f);
        nn_node_set_float(&g->nodes[0], "beta", 1.3f);
    }
    int b = bn_node(g, "bn", f, 12);
    int y = tg_node(g, variant == 0 ? NN_OP_RELU : NN_OP_CLIP, "act", &b, 1);
    if (variant == 1) {
        nn_node_set_float(&g->nodes[g->n_nodes - 1], "min", -0.2f);
        nn_node_set_float(&g->nodes[g->n_nodes - 1], "max", 0.4f);
    }
    nn_graph_add_output(g, y, &e);
    return g;
}

/* x -> Identity -> i1 -> Relu -> r -> Dropout -> d -> Add(d, x) -> a ->
 * Identity -> y (graph output). variant 1: a second output "x2" = Identity(x). */
static nn_graph *passthrough_graph(int variant)
{
    nn_err e;
    nn_graph *g = nn_graph_create();
    nn_shape xs = nn_shape4(NN_DIM_BATCH, 2, 3, 3);
    int x = nn_graph_add_input(g, "x", &xs, &e);
    int i1 = tg_node(g, NN_OP_IDENTITY, "i1", &x, 1);
    int r = tg_node(g, NN_OP_RELU, "r", &i1, 1);
    int d = tg_node(g, NN_OP_DROPOUT, "d", &r, 1);
    int ad[2] = {d, x};
    int a = tg_node(g, NN_OP_ADD, "a", ad, 2);
    int y = tg_node(g, NN_OP_IDENTITY, "y", &a, 1);
    nn_graph_add_output(g, y, &e);
    if (variant == 1)
        nn_graph_add_output(g, tg_node(g, NN_OP_IDENTITY, "x2", &x, 1), &e);
    return g;
}

/* Pre-activation residual block: y = Relu(BN(Conv(x) + x)). The first
 * optimization fuses the Add into the Conv (residual input) and the Relu
 * into the BN; the BN must never be folded into that Conv, neither then
 * nor when an optimized file is optimized again at load. */
static nn_graph *preact_graph(int variant)
{
    nn_err e;
    nn_graph *g = nn_graph_create();
    nn_shape xs = nn_shape4(NN_DIM_BATCH, 4, 6, 6);
    int in[2];
    (void)variant;
    tg_rng = 5u;
    in[0] = nn_graph_add_input(g, "x", &xs, &e);
    in[1] = tg_const_rand(g, "conv.w", nn_shape4(4, 4, 3, 3), -0.5f, 0.5f);
    int c = tg_node(g, NN_OP_CONV, "conv", in, 2);
    int64_t pads[4] = {1, 1, 1, 1};
    nn_node_set_ints(&g->nodes[0], "pads", pads, 4);
    int ad[2] = {c, in[0]};
    int a = tg_node(g, NN_OP_ADD, "add", ad, 2);
    int b = bn_node(g, "bn", a, 4);
    nn_graph_add_output(g, tg_node(g, NN_OP_RELU, "relu", &b, 1), &e);
    return g;
}

/* Optimizes a copy `passes` times and compares its output 0 with the
 * original's (fast and reference kernels, batch 3). Returns the optimized
 * graph. */
static nn_graph *check_same_n(graph_fn fn, int variant, double tol, int passes)
{
    nn_err e;
    nn_graph *a = fn(variant), *b = fn(variant);
    int64_t na = 0, nb = 0, nr = 0;
    T_CHECKF(nn_graph_validate(a, &e) == NN_OK, "%s", e.msg);
    for (int i = 0; i < passes; i++)
        T_CHECKF(nn_graph_optimize(b, &e) == NN_OK, "%s", e.msg);
    T_CHECK(b->n_nodes < a->n_nodes);
    T_CHECK(strcmp(b->values[b->outputs[0]].name, a->values[a->outputs[0]].name) == 0);
    float *ya = run_graph(a, 3, 1, 1, &na);
    float *yb = run_graph(b, 3, 2, 0, &nb);
    float *yr = run_graph(b, 3, 1, 1, &nr);
    T_CHECK(ya && yb && yr && na == nb && na == nr && na > 0);
    if (ya && yb && yr && na == nb && na == nr) {
        double e1 = t_max_rel_err(yb, ya, (long)na), e2 = t_max_rel_err(yr, ya, (long)na);
        T_CHECKF(e1 < tol && e2 < tol, "variant %d: fast %g ref %g", variant, e1, e2);
        int nonzero = 0;
        for (int64_t i = 0; i < na; i++)
            nonzero += ya[i] != 0.0f;
        T_CHECK(nonzero > na / 4);
    }
    free(ya);
    free(yb);
    free(yr);
    nn_graph_free(a);
    return b;
}

static nn_graph *check_same(graph_fn fn, int variant, double tol)
{
    return check_same_n(fn, variant, tol, 1);
}

static void test_optimize_twice(void)
{
    for (int passes = 1; passes <= 2; passes++) {
        nn_graph *g = check_same_n(preact_graph, 0, 1e-5, passes);
        T_CHECKF(g->n_nodes == 2, "%d nodes after %d passes", g->n_nodes, passes);
        T_CHECK(g->nodes[0].op == NN_OP_CONV && g->nodes[0].n_inputs == 4);
        T_CHECK(g->nodes[1].op == NN_OP_BATCHNORM &&
                nn_node_get_int(&g->nodes[1], "fused_act", 0) == NN_ACT_RELU);
        nn_graph_free(g);
    }
    /* a second pass over an already folded graph changes nothing */
    nn_graph *g = check_same_n(conv_bn_graph, 0, 1e-5, 2);
    T_CHECK(g->n_nodes == 1 && g->nodes[0].n_inputs == 3);
    nn_graph_free(g);
}

static void test_fold_conv_bn(void)
{
    nn_graph *g = check_same(conv_bn_graph, 0, 1e-5);
    T_CHECK(g->n_nodes == 1 && g->nodes[0].op == NN_OP_CONV);
    T_CHECK(nn_node_get_int(&g->nodes[0], "fused_act", 0) == NN_ACT_RELU);
    T_CHECK(g->nodes[0].n_inputs == 3);
    /* old weights, biases and BN parameters are gone: 6*4*9 + 6 */
    T_CHECKF(nn_graph_param_count(g) == 6 * 4 * 9 + 6, "%lld", (long long)nn_graph_param_count(g));
    T_CHECK(nn_graph_find_value(g, "conv.w") < 0 && nn_graph_find_value(g, "bn.var") < 0);
    nn_graph_free(g);

    g = check_same(conv_bn_graph, 1, 1e-5);
    T_CHECK(g->n_nodes == 1 && g->nodes[0].n_inputs == 3);
    T_CHECK(nn_node_get_int(&g->nodes[0], "fused_act", 0) == NN_ACT_CLIP);
    T_CHECK(nn_node_get_float(&g->nodes[0], "fused_min", -1) == 0.0f);
    T_CHECK(nn_node_get_float(&g->nodes[0], "fused_max", -1) == 0.6f);
    nn_graph_free(g);

    g = check_same(conv_bn_graph, 2, 1e-5);
    T_CHECK(g->n_nodes == 1 && nn_node_get_int(&g->nodes[0], "fused_act", 0) == NN_ACT_NONE);
    nn_graph_free(g);
}

static void test_fold_gemm_bn(void)
{
    for (int v = 0; v < 2; v++) {
        nn_graph *g = check_same(gemm_bn_graph, v, 1e-5);
        T_CHECK(g->n_nodes == 1 && g->nodes[0].op == NN_OP_GEMM);
        T_CHECK(nn_node_get_int(&g->nodes[0], "fused_act", 0) == (v ? NN_ACT_CLIP : NN_ACT_RELU));
        nn_graph_free(g);
    }
}

static void test_drop_passthrough(void)
{
    nn_graph *g = check_same(passthrough_graph, 0, 1e-6);
    /* left: Relu, Add (writing "y" directly) */
    T_CHECKF(g->n_nodes == 2, "%d nodes", g->n_nodes);
    T_CHECK(nn_graph_find_value(g, "y") == g->outputs[0]);
    T_CHECK(g->nodes[1].op == NN_OP_ADD && g->nodes[1].output == g->outputs[0]);
    nn_graph_free(g);
    /* Identity from a graph input to a graph output must stay */
    g = check_same(passthrough_graph, 1, 1e-6);
    T_CHECK(g->n_nodes == 3 && g->nodes[2].op == NN_OP_IDENTITY);
    T_CHECK(nn_graph_find_value(g, "x2") == g->outputs[1]);
    nn_graph_free(g);
}

/* Patterns that must be left alone: the conv output has a second consumer
 * or is itself a graph output; Relu after a non-fusable op. */
static void test_no_rewrite(void)
{
    nn_err e;
    nn_graph *g = conv_bn_graph(0);
    int c = nn_graph_find_value(g, "conv");
    nn_graph_add_output(g, c, &e);
    T_CHECK(nn_graph_optimize(g, &e) == NN_OK);
    T_CHECK(g->n_nodes == 2);                          /* bn+relu fused, conv kept */
    T_CHECK(g->nodes[0].op == NN_OP_CONV && nn_node_get_int(&g->nodes[0], "fused_act", 0) == 0);
    T_CHECK(g->nodes[1].op == NN_OP_BATCHNORM &&
            nn_node_get_int(&g->nodes[1], "fused_act", 0) == NN_ACT_RELU);
    nn_graph_free(g);

    g = nn_graph_create();
    nn_shape xs = nn_shape4(1, 2, 4, 4);
    int x = nn_graph_add_input(g, "x", &xs, &e);
    int m = tg_node(g, NN_OP_MAXPOOL, "mp", &x, 1);
    int64_t k[2] = {2, 2};
    nn_node_set_ints(&g->nodes[0], "kernel_shape", k, 2);
    int r = tg_node(g, NN_OP_RELU, "r", &m, 1);
    nn_graph_add_output(g, r, &e);
    T_CHECK(nn_graph_optimize(g, &e) == NN_OK && g->n_nodes == 2);
    nn_graph_free(g);
}

/* What each node runs (nn_plan_node_kernel): a 3x3 stride-1 conv with 32
 * channels on 16x16 runs Winograd, a 1x1 conv a GEMM, ReLU says nothing,
 * a reference plan says "reference", out-of-range nodes NULL. */
static void test_node_kernel(void)
{
    nn_err e;
    nn_graph *g = nn_graph_create();
    nn_shape xs = nn_shape4(NN_DIM_BATCH, 32, 16, 16);
    nn_plan_opts fast = {.threads = 1}, ref = {.threads = 1, .reference = 1};
    nn_plan *p = NULL;
    int in[2], c1, c2;
    int64_t pads[4] = {1, 1, 1, 1};
    const char *k;
    in[0] = nn_graph_add_input(g, "x", &xs, &e);
    in[1] = tg_const_rand(g, "w3", nn_shape4(32, 32, 3, 3), -0.5f, 0.5f);
    c1 = tg_node(g, NN_OP_CONV, "c3", in, 2);
    nn_node_set_ints(&g->nodes[0], "pads", pads, 4);
    in[0] = c1;
    in[1] = tg_const_rand(g, "w1", nn_shape4(8, 32, 1, 1), -0.5f, 0.5f);
    c2 = tg_node(g, NN_OP_CONV, "c1", in, 2);
    nn_graph_add_output(g, tg_node(g, NN_OP_RELU, "relu", &c2, 1), &e);
    T_CHECK(nn_graph_validate(g, &e) == NN_OK);
    T_CHECK(nn_plan_create(g, 1, &fast, &p, &e) == NN_OK);
    if (p) {
        k = nn_plan_node_kernel(p, 0);
        T_CHECKF(k && !strncmp(k, "winograd F(", 11), "%s", k ? k : "NULL");
        k = nn_plan_node_kernel(p, 1);
        T_CHECKF(k && !strncmp(k, "gemm ", 5), "%s", k ? k : "NULL");
        T_CHECK(nn_plan_node_kernel(p, 2) == NULL && nn_plan_node_kernel(p, 3) == NULL &&
                nn_plan_node_kernel(p, -1) == NULL);
    }
    nn_plan_free(p);
    p = NULL;
    T_CHECK(nn_plan_create(g, 1, &ref, &p, &e) == NN_OK);
    if (p) {
        k = nn_plan_node_kernel(p, 0);
        T_CHECK(k && !strcmp(k, "reference"));
    }
    nn_plan_free(p);
    nn_graph_free(g);
}

int main(void)
{
    T_RUN(test_arena_reuse);
    T_RUN(test_scratch_slots);
    T_RUN(test_batch_and_keep);
    T_RUN(test_threads);
    T_RUN(test_fold_conv_bn);
    T_RUN(test_fold_gemm_bn);
    T_RUN(test_drop_passthrough);
    T_RUN(test_no_rewrite);
    T_RUN(test_optimize_twice);
    T_RUN(test_node_kernel);
    return t_summary("test_plan");
}
