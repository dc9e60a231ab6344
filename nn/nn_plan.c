/* nn_plan.c — planning and running a validated graph for one batch size
 * (see nn_plan.h).
 *
 * nn_plan_create: tensor views for every value (constants point at the
 * graph's data), shape inference in node order via each op's infer, op
 * prepare with weights visible, value lifetimes [first node, last node]
 * and a first-fit placement of all activations, and of each node's
 * scratch (lifetime [k, k]: nodes run one at a time), into ONE aligned
 * arena. An output never shares memory with its inputs, nor a node's
 * scratch with either, because lifetimes are closed intervals. A node's
 * scratch takes memory that is free while it runs (ResNet18's arena: 4.4
 * instead of 6.4 MiB at batch 1, 35 instead of 43 MiB at batch 8 and 2
 * threads). nn_plan_run only calls kernels. nn_plan_create_shapes
 * (nn_plan_priv.h) stops after shape inference. */
#include "nn_plan.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn_ops.h"
#include "nn_plan_priv.h"

struct nn_plan {
    const nn_graph *g;          /* not owned; outlives the plan */
    int batch;
    int reference;
    nn_tensor *vals;            /* [g->n_values]; data in graph or arena */
    const nn_op_def **defs;     /* [g->n_nodes] */
    nn_op_ctx *ctx;             /* [g->n_nodes]; built at plan time */
    int n_prepared;             /* ctx[0..n_prepared) may hold state */
    float *arena;               /* owned: activations and scratch */
    size_t arena_bytes;
    void *arena_map;            /* the arena's own mapping, or NULL (heap) */
    size_t arena_map_len;
    nn_pool *pool;              /* owned; NULL in a shapes-only plan */
    int64_t macs;
    int64_t *node_macs;         /* [g->n_nodes] */
    size_t *scratch_bytes;      /* [g->n_nodes]: node k's scratch (ctx[k].scratch,
                                   NULL when 0) */
    int shapes_only;            /* nn_plan_create_shapes: nothing to run */
};

/* One activation (or node scratch) to place: lifetime [start, end] in
 * node indices (-1 and n_nodes for values that must live across the whole
 * run). */
typedef struct slot {
    int value;                  /* value index, or -1 - k for node k's scratch */
    int start, end;
    size_t bytes;               /* multiple of NN_ALIGN */
    size_t off;
} slot;

static size_t align_up(size_t n)
{
    return (n + NN_ALIGN - 1) / NN_ALIGN * NN_ALIGN;
}

/* Bytes of a tensor of shape s rounded up to NN_ALIGN, or (size_t)-1. */
static size_t shape_bytes(const nn_shape *s)
{
    int64_t n = nn_shape_numel(s);
    size_t b;
    if (n < 0 || nn_size_mul((size_t)n, sizeof(float), &b) != 0 || b > SIZE_MAX / 2)
        return (size_t)-1;
    return align_up(b);
}

static int cmp_slot_size(const void *a, const void *b)
{
    const slot *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    return x->value - y->value;
}

static int cmp_slot_off(const void *a, const void *b)
{
    const slot *const *x = a, *const *y = b;
    if ((*x)->off != (*y)->off)
        return (*x)->off < (*y)->off ? -1 : 1;
    return 0;
}

/* Places slots largest first at the lowest offset free of every already
 * placed slot whose lifetime overlaps; returns the end of the highest, or
 * (size_t)-1 when that does not fit a size_t. */
static size_t place_slots(slot *s, int n, const slot **tmp)
{
    size_t total = 0;
    qsort(s, (size_t)n, sizeof *s, cmp_slot_size);
    for (int i = 0; i < n; i++) {
        int k = 0;
        size_t off = 0;
        for (int j = 0; j < i; j++)
            if (s[j].start <= s[i].end && s[i].start <= s[j].end && s[j].bytes > 0)
                tmp[k++] = &s[j];
        qsort(tmp, (size_t)k, sizeof *tmp, cmp_slot_off);
        for (int j = 0; j < k; j++) {
            if (off + s[i].bytes <= tmp[j]->off)
                break;
            if (tmp[j]->off + tmp[j]->bytes > off)
                off = tmp[j]->off + tmp[j]->bytes;
        }
        if (s[i].bytes > SIZE_MAX / 2 || off > SIZE_MAX / 2 - s[i].bytes)
            return (size_t)-1;
        s[i].off = off;
        if (off + s[i].bytes > total)
            total = off + s[i].bytes;
    }
    return total;
}

/* Zero-filled, NN_ALIGN-aligned arena of bytes (> 0); NULL on failure.
 * From a huge page up it is a mapping of its own (nn_huge_alloc): a few
 * faults instead of one per 4 KiB page on the first run, and no memset
 * (fresh pages read as zero, as nn_aligned_alloc's). */
static float *arena_alloc(nn_plan *p, size_t bytes)
{
    if (bytes >= NN_HUGE_PAGE && (p->arena_map = nn_huge_alloc(bytes, &p->arena_map_len)))
        return p->arena_map;
    return nn_aligned_alloc(bytes);
}

static void arena_free(nn_plan *p)
{
    if (p->arena_map)
        nn_huge_free(p->arena_map, p->arena_map_len);
    else
        nn_aligned_free(p->arena);
}

/* Prefixes an op's message with the node unless it already names it. */
static nn_status node_fail(nn_err *e, const nn_node *n, nn_status st)
{
    if (e && !strstr(e->msg, n->name)) {
        char msg[NN_ERR_MSG_MAX];
        memcpy(msg, e->msg, sizeof msg);
        nn_err_set(e, st, "node '%s' (%s): %s", n->name, nn_op_name(n->op), msg);
    }
    return st;
}

/* Sets every value's view: constants, inputs (batch substituted). */
static nn_status init_values(nn_plan *p, unsigned char *defined, nn_err *e)
{
    const nn_graph *g = p->g;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].is_const) {
            p->vals[v].shape = g->values[v].shape;
            p->vals[v].data = g->values[v].data;
            defined[v] = 1;
        }
    for (int i = 0; i < g->n_inputs; i++) {
        int v = g->inputs[i];
        nn_shape s = g->values[v].shape;
        if (s.ndim > 0 && s.d[0] == NN_DIM_BATCH)
            s.d[0] = p->batch;
        else if (s.ndim > 0 && s.d[0] != p->batch)
            return nn_err_set(e, NN_ERR_SHAPE, "input '%s': fixed batch %lld, planned for %d",
                              g->values[v].name, (long long)s.d[0], p->batch);
        if (shape_bytes(&s) == (size_t)-1)
            return nn_err_set(e, NN_ERR_LIMIT, "input '%s': too large", g->values[v].name);
        p->vals[v].shape = s;
        defined[v] = 1;
    }
    return NN_OK;
}

/* Infers and prepares node k; sets its scratch need and adds its MACs. */
static nn_status plan_node(nn_plan *p, int k, unsigned char *defined, nn_err *e)
{
    const nn_node *n = &p->g->nodes[k];
    const nn_shape *in[NN_MAX_IO];
    nn_op_ctx *c = &p->ctx[k];
    const nn_op_def *def = nn_op_get((nn_op_type)n->op);
    size_t need = 0;
    nn_status st;

    if (!def || !def->infer || !(def->run || def->run_ref) || n->n_inputs > NN_MAX_IO)
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "node '%s': op %d has no kernel", n->name, n->op);
    for (int i = 0; i < n->n_inputs; i++) {
        int v = n->inputs[i];
        if (v >= 0 && !defined[v])
            return nn_err_set(e, NN_ERR_INVALID, "node '%s' (%s): input %d used before it is "
                              "produced (graph not validated?)", n->name, nn_op_name(n->op), i);
        in[i] = v >= 0 ? &p->vals[v].shape : NULL;
        c->in[i] = v >= 0 ? &p->vals[v] : NULL;
    }
    if (defined[n->output])
        return nn_err_set(e, NN_ERR_INVALID, "node '%s': output produced twice", n->name);
    p->defs[k] = def;
    c->node = n;
    c->n_in = n->n_inputs;
    c->out = &p->vals[n->output];
    c->pool = p->pool;
    memset(&c->out->shape, 0, sizeof c->out->shape);
    st = def->infer(n, in, n->n_inputs, &c->out->shape, e);
    if (st != NN_OK)
        return node_fail(e, n, st);
    if (shape_bytes(&c->out->shape) == (size_t)-1)
        return nn_err_set(e, NN_ERR_LIMIT, "node '%s' (%s): output too large", n->name,
                          nn_op_name(n->op));
    defined[n->output] = 1;
    p->n_prepared = k + 1;
    if (def->prepare && !p->shapes_only) {
        st = def->prepare(c, &need, e);
        if (st != NN_OK)
            return node_fail(e, n, st);
        p->scratch_bytes[k] = need;
    }
    if (def->macs) {
        p->node_macs[k] = def->macs(n, in, n->n_inputs, &c->out->shape);
        p->macs += p->node_macs[k];
    }
    return NN_OK;
}

/* Lifetimes, placement (values and the nodes' scratch_bytes), the arena
 * allocation and the data pointers. */
static nn_status plan_memory(nn_plan *p, const nn_plan_opts *o, const unsigned char *defined,
                             nn_err *e)
{
    const nn_graph *g = p->g;
    int nv = g->n_values, ns = 0, *slot_of = NULL;
    size_t cap = (size_t)nv + (size_t)g->n_nodes + 1;
    slot *s = NULL;
    const slot **tmp = NULL;
    size_t total;
    nn_status st = NN_OK;

    s = calloc(cap, sizeof *s);
    tmp = calloc(cap, sizeof *tmp);
    slot_of = malloc((size_t)(nv ? nv : 1) * sizeof *slot_of);
    if (!s || !tmp || !slot_of) {
        st = nn_err_set(e, NN_ERR_NOMEM, "plan memory");
        goto done;
    }
    for (int v = 0; v < nv; v++) {
        slot_of[v] = -1;
        if (!defined[v] || g->values[v].is_const)
            continue;
        slot_of[v] = ns;
        s[ns].value = v;
        s[ns].start = s[ns].end = -1;
        s[ns].bytes = shape_bytes(&p->vals[v].shape);
        ns++;
    }
    for (int k = 0; k < g->n_nodes; k++) {
        const nn_node *n = &g->nodes[k];
        s[slot_of[n->output]].start = s[slot_of[n->output]].end = k;
        for (int i = 0; i < n->n_inputs; i++)
            if (n->inputs[i] >= 0 && slot_of[n->inputs[i]] >= 0)
                s[slot_of[n->inputs[i]]].end = k;
    }
    for (int i = 0; i < g->n_inputs; i++)
        s[slot_of[g->inputs[i]]].start = -1, s[slot_of[g->inputs[i]]].end = g->n_nodes;
    for (int i = 0; i < g->n_outputs; i++)
        if (slot_of[g->outputs[i]] >= 0)
            s[slot_of[g->outputs[i]]].start = -1, s[slot_of[g->outputs[i]]].end = g->n_nodes;
    for (int i = 0; o && i < o->n_keep_values; i++)
        if (slot_of[o->keep_values[i]] >= 0)
            s[slot_of[o->keep_values[i]]].start = -1, s[slot_of[o->keep_values[i]]].end = g->n_nodes;

    for (int k = 0; k < g->n_nodes; k++) {
        size_t need = p->scratch_bytes[k];
        p->ctx[k].scratch = NULL;
        if (need == 0)
            continue;
        if (need > SIZE_MAX / 2) {
            st = nn_err_set(e, NN_ERR_LIMIT, "node '%s': scratch too large", g->nodes[k].name);
            goto done;
        }
        s[ns].value = -1 - k;
        s[ns].start = s[ns].end = k;
        s[ns].bytes = align_up(need);
        ns++;
    }

    total = place_slots(s, ns, tmp);
    if (total == (size_t)-1) {
        st = nn_err_set(e, NN_ERR_LIMIT, "activation arena too large");
        goto done;
    }
    p->arena_bytes = total;
    p->arena = arena_alloc(p, total ? total : NN_ALIGN);
    if (!p->arena) {
        st = nn_err_set(e, NN_ERR_NOMEM, "activation arena of %zu bytes", total);
        goto done;
    }
    for (int i = 0; i < ns; i++)
        if (s[i].value >= 0)
            p->vals[s[i].value].data = p->arena + s[i].off / sizeof(float);
        else
            p->ctx[-1 - s[i].value].scratch = p->arena + s[i].off / sizeof(float);
done:
    free(s);
    free(tmp);
    free(slot_of);
    return st;
}

/* nn_plan_create, or with shapes_only the shapes and MACs alone. */
static nn_status plan_build(const nn_graph *g, int batch, const nn_plan_opts *opts,
                            int shapes_only, nn_plan **out, nn_err *e)
{
    nn_plan *p = NULL;
    unsigned char *defined = NULL;
    int threads = opts && opts->threads > 0 ? opts->threads : 1;
    nn_status st;

    if (!out)
        return nn_err_set(e, NN_ERR_INVALID, "nn_plan_create: no output pointer");
    *out = NULL;
    if (!g || batch < 1)
        return nn_err_set(e, NN_ERR_INVALID, "nn_plan_create: no graph or batch %d < 1", batch);
    for (int i = 0; opts && i < opts->n_keep_values; i++)
        if (!opts->keep_values || opts->keep_values[i] < 0 ||
            opts->keep_values[i] >= g->n_values)
            return nn_err_set(e, NN_ERR_INVALID, "keep value %d out of range", i);

    p = calloc(1, sizeof *p);
    if (!p)
        return nn_err_set(e, NN_ERR_NOMEM, "plan");
    p->g = g;
    p->batch = batch;
    p->reference = opts ? opts->reference : 0;
    p->shapes_only = shapes_only;
    p->vals = calloc((size_t)(g->n_values ? g->n_values : 1), sizeof *p->vals);
    p->defs = calloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof *p->defs);
    p->ctx = calloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof *p->ctx);
    p->node_macs = calloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof *p->node_macs);
    defined = calloc((size_t)(g->n_values ? g->n_values : 1), 1);
    p->scratch_bytes = calloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof *p->scratch_bytes);
    if (!p->vals || !p->defs || !p->ctx || !p->node_macs || !defined || !p->scratch_bytes) {
        st = nn_err_set(e, NN_ERR_NOMEM, "plan");
        goto fail;
    }
    if (!shapes_only && (st = nn_pool_create(threads, &p->pool, e)) != NN_OK)
        goto fail;
    st = init_values(p, defined, e);
    for (int k = 0; st == NN_OK && k < g->n_nodes; k++)
        st = plan_node(p, k, defined, e);
    for (int i = 0; st == NN_OK && i < g->n_outputs; i++)
        if (!defined[g->outputs[i]])
            st = nn_err_set(e, NN_ERR_INVALID, "graph output '%s' is never produced",
                            g->values[g->outputs[i]].name);
    if (st != NN_OK)
        goto fail;
    if (!shapes_only && (st = plan_memory(p, opts, defined, e)) != NN_OK)
        goto fail;
    free(defined);
    *out = p;
    return NN_OK;
fail:
    free(defined);
    nn_plan_free(p);
    return st;
}

nn_status nn_plan_create(const nn_graph *g, int batch, const nn_plan_opts *opts,
                         nn_plan **out, nn_err *e)
{
    return plan_build(g, batch, opts, 0, out, e);
}

nn_status nn_plan_create_shapes(const nn_graph *g, int batch, nn_plan **out, nn_err *e)
{
    return plan_build(g, batch, NULL, 1, out, e);
}

void nn_plan_free(nn_plan *p)
{
    if (!p)
        return;
    for (int k = 0; k < p->n_prepared; k++)
        if (p->defs[k] && p->defs[k]->release && p->ctx[k].state)
            p->defs[k]->release(p->ctx[k].state);
    nn_pool_free(p->pool);
    arena_free(p);
    free(p->vals);
    free(p->defs);
    free(p->ctx);
    free(p->node_macs);
    free(p->scratch_bytes);
    free(p);
}

int nn_plan_num_inputs(const nn_plan *p)
{
    return p->g->n_inputs;
}

int nn_plan_num_outputs(const nn_plan *p)
{
    return p->g->n_outputs;
}

nn_tensor *nn_plan_input(nn_plan *p, int i)
{
    if (i < 0 || i >= p->g->n_inputs)
        return NULL;
    return &p->vals[p->g->inputs[i]];
}

const nn_tensor *nn_plan_output(const nn_plan *p, int i)
{
    if (i < 0 || i >= p->g->n_outputs)
        return NULL;
    return &p->vals[p->g->outputs[i]];
}

const nn_tensor *nn_plan_value(const nn_plan *p, int value_index)
{
    if (value_index < 0 || value_index >= p->g->n_values)
        return NULL;
    return &p->vals[value_index];
}

double nn_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* The run loop; ms NULL or [n_nodes] wall-clock milliseconds per node;
 * busy NULL or [n_nodes][threads] busy milliseconds per node and thread. */
static nn_status plan_run(nn_plan *p, double *ms, double *busy, nn_err *e)
{
    int nt;
    if (!p || p->shapes_only)
        return nn_err_set(e, NN_ERR_INVALID, "nn_plan_run: no plan, or a shapes-only plan");
    nt = nn_plan_threads(p);
    nn_pool_set_timing(p->pool, busy != NULL);
    for (int k = 0; k < p->g->n_nodes; k++) {
        const nn_op_def *d = p->defs[k];
        double t0 = ms ? nn_now_ms() : 0;
        for (int t = 0; busy && t < nt; t++)
            busy[k * nt + t] = -nn_pool_busy_ms(p->pool, t);
        if (p->reference ? d->run_ref != NULL : d->run == NULL)
            d->run_ref(&p->ctx[k]);
        else
            d->run(&p->ctx[k]);
        if (ms)
            ms[k] = nn_now_ms() - t0;
        for (int t = 0; busy && t < nt; t++)
            busy[k * nt + t] += nn_pool_busy_ms(p->pool, t);
    }
    nn_pool_set_timing(p->pool, 0);
    return NN_OK;
}

nn_status nn_plan_run(nn_plan *p, nn_err *e)
{
    return plan_run(p, NULL, NULL, e);
}

nn_status nn_plan_run_timed(nn_plan *p, double *ms, double *busy, nn_err *e)
{
    return plan_run(p, ms, busy, e);
}

int nn_plan_threads(const nn_plan *p)
{
    return nn_pool_threads(p ? p->pool : NULL);
}

const char *nn_plan_node_kernel(const nn_plan *p, int k)
{
    if (k < 0 || k >= p->n_prepared || p->shapes_only)
        return NULL;
    if (p->reference && p->defs[k]->run_ref)
        return "reference";
    return p->defs[k]->kernel ? p->defs[k]->kernel(p->ctx[k].state) : NULL;
}

int64_t nn_plan_node_macs(const nn_plan *p, int k)
{
    return k >= 0 && k < p->g->n_nodes ? p->node_macs[k] : 0;
}

size_t nn_plan_arena_bytes(const nn_plan *p)
{
    return p->arena_bytes;
}

int64_t nn_plan_macs(const nn_plan *p)
{
    return p->macs;
}

const float *nn_plan_node_scratch(const nn_plan *p, int k, size_t *bytes)
{
    int ok = p && !p->shapes_only && k >= 0 && k < p->g->n_nodes;
    *bytes = ok ? p->scratch_bytes[k] : 0;
    return ok ? p->ctx[k].scratch : NULL;
}
