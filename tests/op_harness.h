/* op_harness.h — runs one op as a one-node graph through nn_plan with the
 * reference kernels and with the fast kernels (1 and 2 threads) and returns
 * the worst relative error (tassert.h's t_max_rel_err) of fast vs reference.
 *
 * Usage:
 *   oh_case c = oh_begin(NN_OP_CONV, "x", xshape);   // graph input, batch = xshape.d[0]
 *   oh_const(&c, "w", wshape);                        // random constant input
 *   nn_node_set_ints(oh_node(&c), "strides", s, 2);   // attributes
 *   double err = oh_finish(&c);                       // < 0: plan/infer failed
 * Constants and the input are filled from a fixed-seed generator. */
#ifndef OP_HARNESS_H
#define OP_HARNESS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_graph.h"
#include "nn/nn_ops.h"
#include "nn/nn_plan.h"
#include "tassert.h"

typedef struct oh_case {
    nn_graph *g;
    int op;
    int inputs[NN_MAX_IO];
    int n_inputs;
    int node_made;
    unsigned seed;
    nn_err err;
    int batch;
} oh_case;

static inline float oh_rand(unsigned *s)
{
    *s = *s * 1664525u + 1013904223u;
    return ((float)((*s >> 8) & 0xffff) / 32768.0f) - 1.0f;
}

static inline oh_case oh_begin(int op, const nn_shape *xshape)
{
    oh_case c;
    memset(&c, 0, sizeof c);
    c.g = nn_graph_create();
    c.op = op;
    c.seed = 12345u;
    c.batch = xshape->ndim > 0 ? (int)xshape->d[0] : 1;
    c.inputs[c.n_inputs++] = nn_graph_add_input(c.g, "x", xshape, &c.err);
    return c;
}

/* Adds a random constant input (pass NULL shape for an absent optional). */
static inline void oh_const(oh_case *c, const char *name, const nn_shape *shape)
{
    if (!shape) {
        c->inputs[c->n_inputs++] = -1;
        return;
    }
    int64_t n = nn_shape_numel(shape);
    float *d = nn_aligned_alloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        d[i] = oh_rand(&c->seed);
    c->inputs[c->n_inputs++] = nn_graph_add_const(c->g, name, shape, d, 1, &c->err);
}

/* Adds a second activation input (graph input) for binary ops. */
static inline void oh_input(oh_case *c, const char *name, const nn_shape *shape)
{
    c->inputs[c->n_inputs++] = nn_graph_add_input(c->g, name, shape, &c->err);
}

static inline nn_node *oh_node(oh_case *c)
{
    if (!c->node_made) {
        int y = nn_graph_add_value(c->g, "y", &c->err);
        nn_graph_add_node(c->g, c->op, "op", c->inputs, c->n_inputs, y, &c->err);
        nn_graph_add_output(c->g, y, &c->err);
        c->node_made = 1;
    }
    return &c->g->nodes[c->g->n_nodes - 1];
}

static inline int oh_run(oh_case *c, int reference, int threads, float **out, int64_t *n)
{
    nn_plan_opts o;
    nn_plan *p = NULL;
    memset(&o, 0, sizeof o);
    o.threads = threads;
    o.reference = reference;
    if (nn_plan_create(c->g, c->batch, &o, &p, &c->err) != NN_OK)
        return -1;
    unsigned s = 777u;
    for (int i = 0; i < nn_plan_num_inputs(p); i++) {
        nn_tensor *t = nn_plan_input(p, i);
        int64_t k = nn_shape_numel(&t->shape);
        for (int64_t j = 0; j < k; j++)
            t->data[j] = oh_rand(&s);
    }
    if (nn_plan_run(p, &c->err) != NN_OK) {
        nn_plan_free(p);
        return -1;
    }
    const nn_tensor *y = nn_plan_output(p, 0);
    *n = nn_shape_numel(&y->shape);
    *out = malloc((size_t)(*n > 0 ? *n : 1) * sizeof(float));
    memcpy(*out, y->data, (size_t)*n * sizeof(float));
    nn_plan_free(p);
    return 0;
}

/* Returns the worst fast-vs-reference relative error over 1, 2 and 3
 * threads (3: uneven splits, more threads than this CI's CPUs), or -1 when the graph does not validate or plan (c->err says
 * why). Frees the graph. */
static inline double oh_finish(oh_case *c)
{
    float *ref = NULL, *fast = NULL;
    int64_t nr = 0, nf = 0;
    double worst = -1;
    oh_node(c);
    if (nn_graph_validate(c->g, &c->err) != NN_OK)
        goto done;
    if (oh_run(c, 1, 1, &ref, &nr) != 0)
        goto done;
    worst = 0;
    for (int th = 1; th <= 3; th++) {
        if (oh_run(c, 0, th, &fast, &nf) != 0 || nf != nr) {
            worst = -1;
            goto done;
        }
        double e = t_max_rel_err(fast, ref, (long)nr);
        if (e > worst)
            worst = e;
        free(fast);
        fast = NULL;
    }
done:
    free(ref);
    free(fast);
    nn_graph_free(c->g);
    c->g = NULL;
    return worst;
}

/* ---- checks shared by the op tests ---- */

#define OH_HAND_MAX 256   /* outputs a hand-computed case may have */

/* Builds c's node, validates and plans it (reference kernels), runs it on
 * input data x (numel of input 0) and copies the output (at most max
 * floats) to y and its shape to *ys. Returns 0, or -1 with c->err set. */
static inline int oh_run_data(oh_case *c, const float *x, int reference, int threads, float *y,
                    int64_t max, nn_shape *ys)
{
    nn_plan_opts o;
    nn_plan *p = NULL;
    const nn_tensor *out;
    nn_tensor *in;
    int64_t n;
    memset(&o, 0, sizeof o);
    o.threads = threads;
    o.reference = reference;
    oh_node(c);
    if (nn_graph_validate(c->g, &c->err) != NN_OK ||
        nn_plan_create(c->g, c->batch, &o, &p, &c->err) != NN_OK)
        return -1;
    in = nn_plan_input(p, 0);
    if (x)
        memcpy(in->data, x, (size_t)nn_shape_numel(&in->shape) * sizeof(float));
    if (nn_plan_run(p, &c->err) != NN_OK) {
        nn_plan_free(p);
        return -1;
    }
    out = nn_plan_output(p, 0);
    n = nn_shape_numel(&out->shape);
    *ys = out->shape;
    if (y && n <= max)
        memcpy(y, out->data, (size_t)n * sizeof(float));
    nn_plan_free(p);
    return n <= max ? 0 : -1;
}

/* Runs c on x with the reference and the fast kernels (2 threads) and
 * compares both to want[0..n) (abs tolerance 1e-6 + 1e-6 relative) and
 * the output shape to *ws. Frees the graph. */
static inline void oh_check_hand(oh_case *c, const char *label, const float *x, const float *want,
                       int n, const nn_shape *ws)
{
    float y[OH_HAND_MAX];
    nn_shape ys;
    for (int ref = 1; ref >= 0; ref--) {
        int rc = oh_run_data(c, x, ref, ref ? 1 : 2, y, OH_HAND_MAX, &ys);
        T_CHECKF(rc == 0, "%s: run failed: %s", label, c->err.msg);
        if (rc != 0)
            break;
        T_CHECKF(nn_shape_equal(&ys, ws) && nn_shape_numel(&ys) == n, "%s: output shape", label);
        for (int i = 0; i < n && i < OH_HAND_MAX; i++)
            T_CHECKF(fabsf(y[i] - want[i]) <= 1e-6f + 1e-6f * fabsf(want[i]),
                     "%s (%s): y[%d] = %.9g, want %.9g", label, ref ? "ref" : "fast", i,
                     (double)y[i], (double)want[i]);
    }
    nn_graph_free(c->g);
    c->g = NULL;
}

/* Checks the output shape, then fast vs reference (oh_finish) within tol. */
static inline void oh_check_sweep(oh_case *c, const char *label, const nn_shape *ws, double tol)
{
    nn_shape ys;
    double err;
    int rc = oh_run_data(c, NULL, 1, 1, NULL, INT64_MAX, &ys);
    T_CHECKF(rc == 0, "%s: plan failed: %s", label, c->err.msg);
    if (rc == 0) {
        char a[64], b[64];
        nn_shape_str(&ys, a, sizeof a);
        nn_shape_str(ws, b, sizeof b);
        T_CHECKF(nn_shape_equal(&ys, ws), "%s: output %s, want %s", label, a, b);
    }
    err = oh_finish(c);
    T_CHECKF(err >= 0 && err <= tol, "%s: fast vs reference err %g (%s)", label, err, c->err.msg);
}

/* Plan creation must fail with status want and a message naming the node
 * ("node 'op' (<Op>)") and containing what. Frees the graph. */
static inline void oh_check_reject(oh_case *c, const char *label, nn_status want, const char *what)
{
    nn_shape ys;
    int rc = oh_run_data(c, NULL, 1, 1, NULL, INT64_MAX, &ys);
    T_CHECKF(rc != 0, "%s: accepted", label);
    T_CHECKF(c->err.status == want, "%s: status %d, want %d (%s)", label, (int)c->err.status,
             (int)want, c->err.msg);
    T_CHECKF(strstr(c->err.msg, "node 'op' (") && strstr(c->err.msg, what),
             "%s: message \"%s\" lacks the node or \"%s\"", label, c->err.msg, what);
    nn_graph_free(c->g);
    c->g = NULL;
}

/* Adds a constant with given data as the next input of c. */
static inline void oh_const_data(oh_case *c, const nn_shape *s, const float *d)
{
    char name[16];
    snprintf(name, sizeof name, "k%d", c->n_inputs);
    c->inputs[c->n_inputs++] = nn_graph_add_const_copy(c->g, name, s, d, &c->err);
}

/* Tolerance of oh_check_case: fast vs reference relative error. */
#define OH_TOL 1e-5

/* Adds a constant with the given data (NULL data: absent optional input). */
static inline void oh_const_named(oh_case *c, const char *name, nn_shape s, const float *d)
{
    c->inputs[c->n_inputs++] = d ? nn_graph_add_const_copy(c->g, name, &s, d, &c->err) : -1;
}

/* Plans c's graph (reference or fast kernels, `threads`), feeds x, runs,
 * copies up to cap outputs to y and the output shape to *shape. Returns
 * the output count, or -1 when validation/planning fails. */
static inline int64_t oh_eval(oh_case *c, const float *x, int reference, int threads, float *y,
                       int64_t cap, nn_shape *shape)
{
    nn_plan_opts o;
    nn_plan *p = NULL;
    nn_tensor *t;
    const nn_tensor *out;
    int64_t n;
    memset(&o, 0, sizeof o);
    o.threads = threads;
    o.reference = reference;
    oh_node(c);
    if (nn_graph_validate(c->g, &c->err) != NN_OK ||
        nn_plan_create(c->g, c->batch, &o, &p, &c->err) != NN_OK)
        return -1;
    t = nn_plan_input(p, 0);
    memcpy(t->data, x, (size_t)nn_shape_numel(&t->shape) * sizeof(float));
    if (nn_plan_run(p, &c->err) != NN_OK) {
        nn_plan_free(p);
        return -1;
    }
    out = nn_plan_output(p, 0);
    n = nn_shape_numel(&out->shape);
    *shape = out->shape;
    memcpy(y, out->data, (size_t)(n < cap ? n : cap) * sizeof(float));
    nn_plan_free(p);
    return n;
}

/* The reference and the fast kernels (1 and 2 threads) must all give
 * `want` (n values) with shape *ws. Frees the graph. */
static inline void oh_expect(oh_case *c, const float *x, const float *want, int64_t n, nn_shape ws)
{
    for (int mode = 0; mode < 3; mode++) {
        float y[256];
        nn_shape s;
        int64_t got = oh_eval(c, x, mode == 0, mode == 2 ? 2 : 1, y, 256, &s);
        T_CHECKF(got == n, "mode %d: %lld outputs, want %lld (%s)", mode, (long long)got,
                 (long long)n, c->err.msg);
        if (got != n)
            continue;
        T_CHECKF(nn_shape_equal(&s, &ws), "mode %d: output shape", mode);
        for (int64_t i = 0; i < n; i++)
            T_CHECKF(fabsf(y[i] - want[i]) <= 1e-5f * (1.0f + fabsf(want[i])),
                     "mode %d: y[%lld] = %g, want %g", mode, (long long)i, y[i], want[i]);
    }
    nn_graph_free(c->g);
}

/* Output shape of c's graph as planned with the reference kernels. */
static inline int oh_plan_shape(oh_case *c, nn_shape *s)
{
    nn_plan_opts o;
    nn_plan *p = NULL;
    memset(&o, 0, sizeof o);
    o.threads = 1;
    o.reference = 1;
    oh_node(c);
    if (nn_graph_validate(c->g, &c->err) != NN_OK ||
        nn_plan_create(c->g, c->batch, &o, &p, &c->err) != NN_OK)
        return -1;
    *s = nn_plan_output(p, 0)->shape;
    nn_plan_free(p);
    return 0;
}

/* Sweep statistics of oh_check_case, for the test's report. */
static int oh_n_cases;
static double oh_worst_err;

/* want NULL: planning must fail in infer. Otherwise the output shape must
 * be *want and fast must match reference within TOL. Frees the graph. */
static inline void oh_check_case(oh_case *c, const nn_shape *want, const char *label)
{
    nn_shape s;
    int planned = oh_plan_shape(c, &s);
    double err;
    oh_n_cases++;
    if (!want) {
        T_CHECKF(planned != 0, "%s: accepted, expected rejection", label);
        T_CHECKF(c->err.status == NN_ERR_SHAPE || c->err.status == NN_ERR_UNSUPPORTED ||
                     c->err.status == NN_ERR_FORMAT,
                 "%s: status %d (%s)", label, c->err.status, c->err.msg);
        nn_graph_free(c->g);
        return;
    }
    T_CHECKF(planned == 0, "%s: plan failed: %s", label, c->err.msg);
    if (planned == 0) {
        char a[64], b[64];
        nn_shape_str(&s, a, sizeof a);
        nn_shape_str(want, b, sizeof b);
        T_CHECKF(nn_shape_equal(&s, want), "%s: shape %s, want %s", label, a, b);
    }
    err = oh_finish(c);
    T_CHECKF(err >= 0 && err <= OH_TOL, "%s: fast vs reference error %g (%s)", label, err, c->err.msg);
    if (err > oh_worst_err)
        oh_worst_err = err;
}

#endif
