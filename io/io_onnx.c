/* io_onnx.c — ONNX ModelProto reader: decodes the model and graph
 * messages with io_pb (io_onnx_proto.c for the inner messages), registers
 * initializers and inputs, then walks the nodes in file order, folding
 * constant subgraphs (io_onnx_fold.c) and mapping the rest to graph ops
 * (io_onnx_ops.c). The result has passed nn_graph_validate. */
#include "io_onnx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_onnx_int.h"

/* ---- ModelProto and GraphProto ------------------------------------------ */

typedef struct ox_model {
    int64_t ir_version;
    int64_t opset;              /* default domain; -1 when not imported */
    int has_graph;
    io_pb_reader top;
    io_pb_field graph;
    io_pb_reader gr;            /* the GraphProto */
    /* repeated GraphProto fields, in file order */
    io_pb_field *nodes, *inits, *inputs, *outputs;
    int n_nodes, n_inits, n_inputs, n_outputs;
} ox_model;

static int domain_is_default(const char *d)
{
    return d[0] == 0 || strcmp(d, "ai.onnx") == 0;
}

static nn_status opset_decode(const io_pb_reader *parent, const io_pb_field *of, ox_model *m,
                              nn_err *e)
{
    io_pb_reader r;
    io_pb_field f;
    char domain[NN_NAME_MAX] = "";
    int64_t version = -1;
    nn_status st;
    int rc;
    if ((st = io_pb_enter(parent, of, &r, e)) != NN_OK)
        return st;
    while ((rc = io_pb_next(&r, &f, e)) == 1) {
        if (f.num == 1 && (st = ox_pb_str_into(&f, domain, sizeof domain, "opset domain", e)) != NN_OK)
            return st;
        if (f.num == 2) {
            if ((st = ox_want_wire(&f, IO_PB_VARINT, "opset version", e)) != NN_OK)
                return st;
            version = (int64_t)f.u;
        }
    }
    if (rc < 0)
        return e->status;
    if (domain_is_default(domain))
        m->opset = version;
    return NN_OK;
}

static nn_status model_decode(const void *buf, size_t len, ox_model *m, nn_err *e)
{
    io_pb_field f;
    nn_status st;
    int rc;
    m->opset = -1;
    io_pb_init(&m->top, buf, len);
    io_pb_reader r = m->top;
    while ((rc = io_pb_next(&r, &f, e)) == 1) {
        switch (f.num) {
        case 1:
            if ((st = ox_want_wire(&f, IO_PB_VARINT, "ir_version", e)) != NN_OK)
                return st;
            m->ir_version = (int64_t)f.u;
            break;
        case 7:
            if (m->has_graph)
                return nn_err_set(e, NN_ERR_FORMAT, "ONNX: more than one graph");
            if ((st = ox_want_wire(&f, IO_PB_LEN, "graph", e)) != NN_OK)
                return st;
            m->graph = f;
            m->has_graph = 1;
            break;
        case 8:
            if ((st = opset_decode(&m->top, &f, m, e)) != NN_OK)
                return st;
            break;
        default:
            break;
        }
    }
    if (rc < 0)
        return e->status;
    if (!m->has_graph)
        return nn_err_set(e, NN_ERR_FORMAT, "ONNX: no graph (not an ONNX model?)");
    if (m->opset < 0) {
        if (m->ir_version >= 3)
            return nn_err_set(e, NN_ERR_FORMAT, "ONNX: no opset_import for the default domain");
        m->opset = 1;
    }
    if (m->opset < OX_MIN_OPSET || m->opset > OX_MAX_OPSET)
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "ONNX: opset %lld (supported %d..%d)",
                          (long long)m->opset, OX_MIN_OPSET, OX_MAX_OPSET);
    return NN_OK;
}

static nn_status graph_decode(ox_model *m, nn_err *e)
{
    io_pb_field f;
    nn_status st;
    int rc;
    if ((st = io_pb_enter(&m->top, &m->graph, &m->gr, e)) != NN_OK)
        return st;
    io_pb_reader r = m->gr;
    while ((rc = io_pb_next(&r, &f, e)) == 1) {
        if (f.num == 15)
            return nn_err_set(e, NN_ERR_UNSUPPORTED, "ONNX: sparse initializers");
        m->n_nodes += f.num == 1;
        m->n_inits += f.num == 5;
        m->n_inputs += f.num == 11;
        m->n_outputs += f.num == 12;
    }
    if (rc < 0)
        return e->status;
    if (m->n_nodes > NN_GRAPH_MAX_NODES || m->n_inits > NN_GRAPH_MAX_VALUES ||
        m->n_inputs > NN_GRAPH_MAX_VALUES || m->n_outputs > NN_GRAPH_MAX_VALUES)
        return nn_err_set(e, NN_ERR_LIMIT, "ONNX: graph has more than %d nodes or %d values",
                          NN_GRAPH_MAX_NODES, NN_GRAPH_MAX_VALUES);
    m->nodes = calloc((size_t)m->n_nodes + 1, sizeof f);
    m->inits = calloc((size_t)m->n_inits + 1, sizeof f);
    m->inputs = calloc((size_t)m->n_inputs + 1, sizeof f);
    m->outputs = calloc((size_t)m->n_outputs + 1, sizeof f);
    if (!m->nodes || !m->inits || !m->inputs || !m->outputs)
        return nn_err_set(e, NN_ERR_NOMEM, "ONNX: graph");
    m->n_nodes = m->n_inits = m->n_inputs = m->n_outputs = 0;
    r = m->gr;
    while (io_pb_next(&r, &f, NULL) == 1) {
        io_pb_field *dst = f.num == 1 ? &m->nodes[m->n_nodes++]
                         : f.num == 5 ? &m->inits[m->n_inits++]
                         : f.num == 11 ? &m->inputs[m->n_inputs++]
                         : f.num == 12 ? &m->outputs[m->n_outputs++] : NULL;
        if (!dst)
            continue;
        if ((st = ox_want_wire(&f, IO_PB_LEN, "graph entry", e)) != NN_OK)
            return st;
        *dst = f;
    }
    return NN_OK;
}

static void model_free(ox_model *m)
{
    free(m->nodes);
    free(m->inits);
    free(m->inputs);
    free(m->outputs);
}

/* Initializers become host constants; graph inputs that are not
 * initializers become graph inputs with their declared shape. */
static nn_status graph_sources(ox_ctx *cx, ox_model *m, nn_err *e)
{
    char name[NN_NAME_MAX];
    nn_status st;
    for (int i = 0; i < m->n_inits; i++) {
        ox_tensor *t;
        ox_sym *s;
        if ((st = ox_tensor_decode(&m->gr, &m->inits[i], &t, name, sizeof name, e)) != NN_OK)
            return st;
        if (!name[0] || !(s = ox_sym_get(cx, name, e)) || s->defined) {
            ox_tensor_free(t);
            if (e->status != NN_OK)
                return e->status;
            return nn_err_set(e, NN_ERR_FORMAT, "ONNX: initializer %d: %s name '%s'", i,
                              name[0] ? "duplicate" : "empty", name);
        }
        s->defined = 1;
        s->c = t;
        s->shape = t->shape;
        s->shape_known = 1;
    }
    for (int i = 0; i < m->n_inputs; i++) {
        int64_t elem;
        int has_shape, idx;
        nn_shape shape;
        ox_sym *s;
        st = ox_valueinfo_decode(&m->gr, &m->inputs[i], 1, name, sizeof name, &elem, &shape,
                              &has_shape, e);
        if (st != NN_OK)
            return st;
        if (!name[0])
            return nn_err_set(e, NN_ERR_FORMAT, "ONNX: graph input %d has no name", i);
        if (!(s = ox_sym_get(cx, name, e)))
            return e->status;
        if (s->defined && s->c)
            continue;   /* an initializer listed as input: a constant */
        if (s->defined)
            return nn_err_set(e, NN_ERR_FORMAT, "ONNX: graph input '%s' listed twice", name);
        if (elem != OX_DT_FLOAT)
            return nn_err_set(e, NN_ERR_UNSUPPORTED, "ONNX: input '%s' has element type %lld (only float)",
                              name, (long long)elem);
        if (!has_shape || shape.ndim == 0)
            return nn_err_set(e, NN_ERR_UNSUPPORTED, "ONNX: input '%s' has no shape", name);
        if ((idx = nn_graph_add_input(cx->g, name, &shape, e)) < 0)
            return e->status;
        s->defined = 1;
        s->value = idx;
        s->shape = shape;
        s->shape_known = 1;
    }
    return NN_OK;
}

static nn_status node_convert(ox_ctx *cx, const ox_node *n, nn_err *e)
{
    int rc;
    if (!domain_is_default(n->domain))
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "unsupported ONNX op '%s::%s' (node '%s')",
                          n->domain, n->op_type, n->name);
    for (int i = 0; i < n->n_in; i++) {
        ox_sym *s = ox_input(cx, n, i);
        if (n->in[i][0] && (!s || !s->defined))
            return nn_err_set(e, NN_ERR_FORMAT, "node '%s' (%s): input '%s' is not defined before "
                              "use (nodes must be topologically sorted)", n->name, n->op_type, n->in[i]);
    }
    rc = ox_fold(cx, n, e);
    if (rc < 0)
        return e->status;
    if (rc == 1)
        return NN_OK;
    return ox_convert_op(cx, n, e);
}

nn_status io_onnx_read(const void *buf, size_t len, nn_graph **out, nn_err *e)
{
    nn_err local;
    ox_model m;
    ox_ctx cx;
    ox_node *nodes = NULL;
    char **out_names = NULL;
    nn_status st = NN_OK;
    int64_t elem;
    int has_shape;
    nn_shape shape;

    if (!e)
        e = &local;
    nn_err_clear(e);
    memset(&m, 0, sizeof m);
    memset(&cx, 0, sizeof cx);
    if (!out)
        return nn_err_set(e, NN_ERR_INVALID, "io_onnx_read: out is NULL");
    *out = NULL;
    if (!buf || len == 0)
        return nn_err_set(e, NN_ERR_FORMAT, "ONNX: empty input");
    if (len > IO_ONNX_MAX_FILE)
        return nn_err_set(e, NN_ERR_LIMIT, "ONNX: file larger than %zu bytes", IO_ONNX_MAX_FILE);
    if ((st = model_decode(buf, len, &m, e)) != NN_OK || (st = graph_decode(&m, e)) != NN_OK)
        goto fail;
    cx.opset = (int)m.opset;
    if (!(cx.g = nn_graph_create())) {
        st = nn_err_set(e, NN_ERR_NOMEM, "ONNX: graph");
        goto fail;
    }
    if ((st = graph_sources(&cx, &m, e)) != NN_OK)
        goto fail;

    nodes = calloc((size_t)m.n_nodes + 1, sizeof *nodes);
    out_names = calloc((size_t)m.n_outputs + 1, sizeof *out_names);
    if (!nodes || !out_names) {
        st = nn_err_set(e, NN_ERR_NOMEM, "ONNX: nodes");
        goto fail;
    }
    for (int i = 0; i < m.n_nodes; i++) {
        nodes[i].index = i;
        if ((st = ox_node_decode(&m.gr, &m.nodes[i], &nodes[i], e)) != NN_OK)
            goto fail;
        for (int j = 0; j < nodes[i].n_in; j++) {
            ox_sym *s = nodes[i].in[j][0] ? ox_sym_get(&cx, nodes[i].in[j], e) : NULL;
            if (nodes[i].in[j][0] && !s) {
                st = e->status;
                goto fail;
            }
            if (s)
                s->used = 1;
        }
        for (int j = 0; j < nodes[i].n_out; j++)
            if (nodes[i].out[j][0] && !ox_sym_get(&cx, nodes[i].out[j], e)) {
                st = e->status;
                goto fail;
            }
    }
    for (int i = 0; i < m.n_outputs; i++) {
        char name[NN_NAME_MAX];
        ox_sym *s;
        st = ox_valueinfo_decode(&m.gr, &m.outputs[i], 0, name, sizeof name, &elem, &shape,
                              &has_shape, e);
        if (st != NN_OK)
            goto fail;
        if (!name[0] || !(s = ox_sym_get(&cx, name, e)) || !(out_names[i] = strdup(name))) {
            st = e->status != NN_OK ? e->status
                                    : nn_err_set(e, name[0] ? NN_ERR_NOMEM : NN_ERR_FORMAT,
                                                 "ONNX: graph output %d", i);
            goto fail;
        }
        s->used = 1;
    }

    for (int i = 0; i < m.n_nodes; i++)
        if ((st = node_convert(&cx, &nodes[i], e)) != NN_OK)
            goto fail;

    if (m.n_outputs == 0) {
        st = nn_err_set(e, NN_ERR_FORMAT, "ONNX: graph has no outputs");
        goto fail;
    }
    for (int i = 0; i < m.n_outputs; i++) {
        ox_sym *s = ox_sym_find(&cx, out_names[i]);
        if (!s || !s->defined) {
            st = nn_err_set(e, NN_ERR_FORMAT, "ONNX: graph output '%s' is never produced", out_names[i]);
            goto fail;
        }
        if (s->value < 0) {
            st = nn_err_set(e, NN_ERR_UNSUPPORTED, "ONNX: graph output '%s' is a constant", s->name);
            goto fail;
        }
        if ((st = nn_graph_add_output(cx.g, s->value, e)) != NN_OK)
            goto fail;
    }
    if ((st = nn_graph_validate(cx.g, e)) != NN_OK)
        goto fail;
    *out = cx.g;
    cx.g = NULL;
fail:
    if (nodes)
        for (int i = 0; i < m.n_nodes; i++)
            ox_node_clear(&nodes[i]);
    if (out_names)
        for (int i = 0; i < m.n_outputs; i++)
            free(out_names[i]);
    free(nodes);
    free(out_names);
    nn_graph_free(cx.g);
    ox_ctx_free(&cx);
    model_free(&m);
    if (st != NN_OK && e->status == NN_OK)
        nn_err_set(e, st, "ONNX: conversion failed");
    return st;
}

