/* nn_optimize.c — load-time graph rewrites (see nn_graph_optimize in
 * nn_graph.h): drop Dropout/Identity, fold BatchNormalization into the
 * preceding Conv or Gemm, fuse a residual Add into the Conv producing one
 * of its operands (the other becomes the Conv's 4th input), fuse Relu/Clip
 * into the producer's store.
 *
 * Rewrites never write into existing constants (they may live in a
 * read-only mapping): folded weights are new graph-owned constants. Dead
 * nodes and unreferenced values are removed at the end (nn_graph_compact)
 * and the result is validated again. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn_graph.h"
#include "nn_graph_priv.h"
#include "nn_ops.h"

/* Use counts over live nodes, producers, and flags, rebuilt per pass. */
typedef struct opt_ctx {
    nn_graph *g;
    unsigned char *dead;        /* [n_nodes] */
    int *uses;                  /* [n_values] inputs of live nodes referring to v */
    int *producer;              /* [n_values] live node index or -1 */
    unsigned char *is_out;      /* [n_values] graph output */
    int cap_values;
} opt_ctx;

static nn_status opt_index(opt_ctx *o, nn_err *e)
{
    nn_graph *g = o->g;
    if (g->n_values > o->cap_values) {
        int n = g->n_values * 2;
        int *u = realloc(o->uses, (size_t)n * sizeof *u);
        if (u)
            o->uses = u;
        int *p = realloc(o->producer, (size_t)n * sizeof *p);
        if (p)
            o->producer = p;
        unsigned char *f = realloc(o->is_out, (size_t)n);
        if (f)
            o->is_out = f;
        if (!u || !p || !f)
            return nn_err_set(e, NN_ERR_NOMEM, "graph optimizer");
        o->cap_values = n;
    }
    for (int v = 0; v < g->n_values; v++) {
        o->uses[v] = 0;
        o->producer[v] = -1;
        o->is_out[v] = 0;
    }
    for (int i = 0; i < g->n_outputs; i++)
        o->is_out[g->outputs[i]] = 1;
    for (int k = 0; k < g->n_nodes; k++) {
        if (o->dead[k])
            continue;
        o->producer[g->nodes[k].output] = k;
        for (int i = 0; i < g->nodes[k].n_inputs; i++)
            if (g->nodes[k].inputs[i] >= 0)
                o->uses[g->nodes[k].inputs[i]]++;
    }
    return NN_OK;
}

/* The live node producing v when v feeds exactly one input of one node and
 * is not a graph output; else -1. */
static int sole_producer(const opt_ctx *o, int v)
{
    if (v < 0 || o->uses[v] != 1 || o->is_out[v])
        return -1;
    return o->producer[v];
}

/* ---- Dropout / Identity ------------------------------------------------ */

static void drop_passthrough(opt_ctx *o)
{
    nn_graph *g = o->g;
    for (int k = 0; k < g->n_nodes; k++) {
        nn_node *n = &g->nodes[k];
        int x, y;
        if (o->dead[k] || (n->op != NN_OP_DROPOUT && n->op != NN_OP_IDENTITY) || n->n_inputs != 1)
            continue;
        x = n->inputs[0];
        y = n->output;
        if (o->is_out[y]) {
            /* keep the output's name: the producer of x writes y directly */
            int p = sole_producer(o, x);
            if (p < 0)
                continue;
            g->nodes[p].output = y;
            o->producer[y] = p;
            o->producer[x] = -1;
            o->uses[x] = 0;
        } else {
            for (int j = 0; j < g->n_nodes; j++)
                for (int i = 0; !o->dead[j] && i < g->nodes[j].n_inputs; i++)
                    if (g->nodes[j].inputs[i] == y) {
                        g->nodes[j].inputs[i] = x;
                        o->uses[x]++;
                    }
            o->uses[x]--;
            o->uses[y] = 0;
        }
        o->dead[k] = 1;
    }
}

/* ---- BatchNormalization folding ---------------------------------------- */

/* A constant of exactly n elements, or NULL. */
static const float *const_vec(const nn_graph *g, int v, int64_t n)
{
    if (v < 0 || !g->values[v].is_const || nn_shape_numel(&g->values[v].shape) != n)
        return NULL;
    return g->values[v].data;
}

/* Adds a graph-owned constant named "<base><suffix>[.N]" holding data
 * (taken over); returns its index or -1. */
static int add_folded(nn_graph *g, const char *base, const char *suffix, const nn_shape *s,
                      float *data, nn_err *e)
{
    char name[NN_NAME_MAX];
    for (int i = 0; i < 1000; i++) {
        int w = i ? snprintf(name, sizeof name, "%.200s%s.%d", base, suffix, i)
                  : snprintf(name, sizeof name, "%.200s%s", base, suffix);
        if (w > 0 && nn_graph_find_value(g, name) < 0)
            return nn_graph_add_const(g, name, s, data, 1, e);
    }
    nn_aligned_free(data);
    nn_err_set(e, NN_ERR_LIMIT, "no free name for folded constant of '%s'", base);
    return -1;
}

/* Folds BN node b into its producer c (Conv or Gemm). Returns 1 when
 * folded, 0 when the pattern does not apply, -1 on error (e set). */
static int fold_bn(opt_ctx *o, int b, nn_err *e)
{
    nn_graph *g = o->g;
    const nn_node *bn = &g->nodes[b];
    int c = sole_producer(o, bn->inputs[0]);
    nn_node *cv;
    const float *s, *bb, *mean, *var, *w, *bias = NULL;
    const nn_shape *ws;
    int64_t O, per, inner = 1;
    int trans_b = 1, wi;
    double alpha = 1.0, beta = 1.0, eps = nn_node_get_float(bn, "epsilon", 1e-5f);
    float *nw = NULL, *nb = NULL;
    nn_shape bshape;

    if (c < 0 || bn->n_inputs != 5)
        return 0;
    cv = &g->nodes[c];
    /* a Conv with a residual (4th) input computes conv + R: scaling its
     * weights would not scale R (e.g. a pre-activation block optimized once
     * already, as converter output is) */
    if ((cv->op != NN_OP_CONV && cv->op != NN_OP_GEMM) ||
        nn_node_get_int(cv, "fused_act", NN_ACT_NONE) != NN_ACT_NONE || cv->n_inputs < 2 ||
        cv->n_inputs > 3)
        return 0;
    wi = cv->inputs[1];
    if (wi < 0 || !g->values[wi].is_const)
        return 0;
    ws = &g->values[wi].shape;
    if (cv->op == NN_OP_CONV) {
        if (ws->ndim < 3)
            return 0;
        O = ws->d[0];
    } else {
        if (ws->ndim != 2 || nn_node_get_int(cv, "transA", 0) != 0)
            return 0;
        trans_b = nn_node_get_int(cv, "transB", 0) != 0;
        O = trans_b ? ws->d[0] : ws->d[1];
        inner = trans_b ? 1 : O;
        alpha = nn_node_get_float(cv, "alpha", 1.0f);
        beta = nn_node_get_float(cv, "beta", 1.0f);
    }
    s = const_vec(g, bn->inputs[1], O);
    bb = const_vec(g, bn->inputs[2], O);
    mean = const_vec(g, bn->inputs[3], O);
    var = const_vec(g, bn->inputs[4], O);
    if (!s || !bb || !mean || !var || O <= 0 || !(eps >= 0))
        return 0;
    if (cv->n_inputs == 3 && cv->inputs[2] >= 0) {
        const nn_shape *cs = &g->values[cv->inputs[2]].shape;
        bias = const_vec(g, cv->inputs[2], O);
        /* a Gemm C of O elements must lie along the columns: [O] or [1, O] */
        if (!bias || (cv->op == NN_OP_GEMM && cs->ndim != 1 && !(cs->ndim == 2 && cs->d[0] == 1)))
            return 0;
    }
    w = g->values[wi].data;
    per = nn_shape_numel(ws) / O;
    nw = nn_aligned_alloc((size_t)(per * O) * sizeof(float));
    nb = nn_aligned_alloc((size_t)O * sizeof(float));
    if (!nw || !nb) {
        nn_aligned_free(nw);
        nn_aligned_free(nb);
        nn_err_set(e, NN_ERR_NOMEM, "folding '%s'", bn->name);
        return -1;
    }
    for (int64_t oc = 0; oc < O; oc++) {
        double inv = (double)s[oc] / sqrt((double)var[oc] + eps);
        double b0 = bias ? beta * bias[oc] : 0.0;
        nb[oc] = (float)((b0 - mean[oc]) * inv + bb[oc]);
        /* Conv / Gemm transB: row oc is contiguous; Gemm [K, O]: column oc */
        for (int64_t j = 0; j < per; j++) {
            int64_t idx = inner == 1 ? oc * per + j : j * O + oc;
            nw[idx] = (float)(alpha * w[idx] * inv);
        }
    }
    bshape = nn_shape_make(1, &O);
    {
        char base[NN_NAME_MAX];
        int wn, bnn;
        snprintf(base, sizeof base, "%s", cv->name);
        wn = add_folded(g, base, ".w_bnfold", ws, nw, e);
        if (wn < 0) {
            nn_aligned_free(nb);
            return -1;
        }
        bnn = add_folded(g, base, ".b_bnfold", &bshape, nb, e);
        if (bnn < 0)
            return -1;
        /* value array may have moved; node pointers have not */
        cv = &g->nodes[c];
        if (cv->n_inputs < 3) {
            int *in = realloc(cv->inputs, 3 * sizeof *in);
            if (!in) {
                nn_err_set(e, NN_ERR_NOMEM, "folding '%s'", bn->name);
                return -1;
            }
            cv->inputs = in;
            cv->n_inputs = 3;
        }
        cv->inputs[1] = wn;
        cv->inputs[2] = bnn;
        if (cv->op == NN_OP_GEMM &&
            (nn_node_set_float(cv, "alpha", 1.0f) != NN_OK ||
             nn_node_set_float(cv, "beta", 1.0f) != NN_OK)) {
            nn_err_set(e, NN_ERR_NOMEM, "folding '%s'", bn->name);
            return -1;
        }
    }
    cv->output = g->nodes[b].output;
    o->dead[b] = 1;
    return 1;
}

/* ---- residual Add fusion ------------------------------------------------ */

/* Fuses Add node a into the Conv producing one operand when that Conv has
 * no activation, no residual yet, and the Add is its only consumer; the
 * other operand (an activation, not a constant: constant Adds are bias
 * adds, which Grad-CAM's head walk relies on) becomes the Conv's 4th input
 * and the Conv writes the Add's output. Returns 1 done, 0 not applicable,
 * -1 error. */
static int fuse_residual(opt_ctx *o, int a, nn_err *e)
{
    nn_graph *g = o->g;
    const nn_node *an = &g->nodes[a];
    if (an->n_inputs != 2 || nn_node_get_int(an, "fused_act", NN_ACT_NONE) != NN_ACT_NONE)
        return 0;
    for (int i = 0; i < 2; i++) {
        int c = sole_producer(o, an->inputs[i]), other = an->inputs[1 - i];
        nn_node *cv;
        int *in;
        if (c < 0 || other < 0 || g->values[other].is_const)
            continue;
        cv = &g->nodes[c];
        if (cv->op != NN_OP_CONV || cv->n_inputs < 2 || cv->n_inputs > 3 ||
            nn_node_get_int(cv, "fused_act", NN_ACT_NONE) != NN_ACT_NONE)
            continue;
        in = realloc(cv->inputs, 4 * sizeof *in);
        if (!in) {
            nn_err_set(e, NN_ERR_NOMEM, "fusing '%s'", an->name);
            return -1;
        }
        if (cv->n_inputs == 2)
            in[2] = -1;
        in[3] = other;
        cv->inputs = in;
        cv->n_inputs = 4;
        cv->output = an->output;
        o->dead[a] = 1;
        return 1;
    }
    return 0;
}

/* ---- activation fusion ------------------------------------------------- */

static int fusable_producer(int op)
{
    return op == NN_OP_CONV || op == NN_OP_GEMM || op == NN_OP_MATMUL || op == NN_OP_ADD ||
           op == NN_OP_BATCHNORM;
}

/* Fuses Relu/Clip node r into its producer; 1 done, 0 not applicable,
 * -1 error. */
static int fuse_act(opt_ctx *o, int r, nn_err *e)
{
    nn_graph *g = o->g;
    nn_node *rn = &g->nodes[r], *p;
    int pk = sole_producer(o, rn->inputs[0]);
    float lo = -INFINITY, hi = INFINITY;
    const nn_attr *a;
    if (pk < 0 || !fusable_producer(g->nodes[pk].op) ||
        nn_node_get_int(&g->nodes[pk], "fused_act", NN_ACT_NONE) != NN_ACT_NONE)
        return 0;
    p = &g->nodes[pk];
    if (rn->op == NN_OP_CLIP) {
        if ((a = nn_node_attr(rn, "min")) != NULL) {
            if (a->type != NN_ATTR_FLOAT)
                return 0;
            lo = a->f;
        }
        if ((a = nn_node_attr(rn, "max")) != NULL) {
            if (a->type != NN_ATTR_FLOAT)
                return 0;
            hi = a->f;
        }
        if (!(lo <= hi))        /* also NaN: leave it for Clip to reject */
            return 0;
        if (nn_node_set_int(p, "fused_act", NN_ACT_CLIP) != NN_OK ||
            nn_node_set_float(p, "fused_min", lo) != NN_OK ||
            nn_node_set_float(p, "fused_max", hi) != NN_OK)
            goto nomem;
    } else if (nn_node_set_int(p, "fused_act", NN_ACT_RELU) != NN_OK) {
        goto nomem;
    }
    p->output = rn->output;
    o->dead[r] = 1;
    return 1;
nomem:
    nn_err_set(e, NN_ERR_NOMEM, "fusing '%s'", rn->name);
    return -1;
}

/* One rewrite pass: rw on every live node whose op is op_a or op_b, in
 * order. rw returns 1 when it changed the graph (the index is rebuilt),
 * 0 when the node did not qualify, < 0 on error (e set). */
static nn_status opt_pass(opt_ctx *o, int op_a, int op_b,
                          int (*rw)(opt_ctx *o, int k, nn_err *e), nn_err *e)
{
    for (int k = 0; k < o->g->n_nodes; k++) {
        int op = o->g->nodes[k].op, r;
        nn_status st;
        if (o->dead[k] || (op != op_a && op != op_b))
            continue;
        r = rw(o, k, e);
        if (r < 0)
            return e ? e->status : NN_ERR_NOMEM;
        if (r > 0 && (st = opt_index(o, e)) != NN_OK)
            return st;
    }
    return NN_OK;
}

nn_status nn_graph_optimize(nn_graph *g, nn_err *e)
{
    opt_ctx o;
    nn_status st;
    memset(&o, 0, sizeof o);
    o.g = g;
    st = nn_graph_validate(g, e);
    if (st != NN_OK)
        return st;
    o.dead = calloc((size_t)(g->n_nodes ? g->n_nodes : 1), 1);
    if (!o.dead) {
        st = nn_err_set(e, NN_ERR_NOMEM, "graph optimizer");
        goto done;
    }
    if ((st = opt_index(&o, e)) != NN_OK)
        goto done;
    drop_passthrough(&o);

    if ((st = opt_index(&o, e)) != NN_OK)
        goto done;
    if ((st = opt_pass(&o, NN_OP_BATCHNORM, -1, fold_bn, e)) != NN_OK ||
        (st = opt_pass(&o, NN_OP_ADD, -1, fuse_residual, e)) != NN_OK ||
        (st = opt_pass(&o, NN_OP_RELU, NN_OP_CLIP, fuse_act, e)) != NN_OK)
        goto done;

    st = nn_graph_compact(g, o.dead, e);
    if (st == NN_OK)
        st = nn_graph_validate(g, e);
done:
    free(o.dead);
    free(o.uses);
    free(o.producer);
    free(o.is_out);
    return st;
}
