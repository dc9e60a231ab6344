/* io_onnx_ctx.c — the conversion context of the ONNX reader: the table
 * mapping ONNX value names to host constants / graph values (hashed, so
 * large graphs convert in linear time), unique node names, and the services
 * op converters use to read inputs and emit graph nodes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_onnx_int.h"

/* ---- the name table ----------------------------------------------------- */

static size_t name_hash(const char *s)
{
    size_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Finds name in an open-addressing table (slots hold index+1); returns the
 * slot position. */
static size_t slot_find(const int *slots, size_t n_slots, const char *name,
                        const char *(*key)(const void *ctx, int i), const void *ctx)
{
    size_t m = n_slots - 1, i = name_hash(name) & m;
    while (slots[i] && strcmp(key(ctx, slots[i] - 1), name) != 0)
        i = (i + 1) & m;
    return i;
}

static const char *sym_key(const void *ctx, int i)
{
    return ((const ox_ctx *)ctx)->syms[i].name;
}

static const char *node_key(const void *ctx, int i)
{
    return ((const ox_ctx *)ctx)->node_names[i];
}

ox_sym *ox_sym_find(ox_ctx *cx, const char *name)
{
    size_t i;
    if (!cx->n_slots)
        return NULL;
    i = slot_find(cx->slots, cx->n_slots, name, sym_key, cx);
    return cx->slots[i] ? &cx->syms[cx->slots[i] - 1] : NULL;
}

/* Grows a table to keep it at most half full and re-inserts every key. */
static int table_grow(int **slots, size_t *n_slots, int count,
                      const char *(*key)(const void *ctx, int i), const void *ctx)
{
    size_t n = *n_slots ? *n_slots : 64;
    int *s;
    if ((size_t)count * 2 < *n_slots)
        return 0;
    while ((size_t)count * 2 >= n)
        n *= 2;
    s = calloc(n, sizeof *s);
    if (!s)
        return -1;
    for (int i = 0; i < count; i++)
        s[slot_find(s, n, key(ctx, i), key, ctx)] = i + 1;
    free(*slots);
    *slots = s;
    *n_slots = n;
    return 0;
}

/* Returns the sym of name, adding an undefined one when absent. */
ox_sym *ox_sym_get(ox_ctx *cx, const char *name, nn_err *e)
{
    ox_sym *s = ox_sym_find(cx, name);
    if (s)
        return s;
    if (cx->n_syms >= NN_GRAPH_MAX_VALUES) {
        nn_err_set(e, NN_ERR_LIMIT, "ONNX: more than %d values", NN_GRAPH_MAX_VALUES);
        return NULL;
    }
    if (cx->n_syms == cx->cap_syms) {
        int cap = cx->cap_syms ? cx->cap_syms * 2 : 256;
        ox_sym *p = realloc(cx->syms, (size_t)cap * sizeof *p);
        if (!p)
            goto nomem;
        cx->syms = p;
        cx->cap_syms = cap;
    }
    s = &cx->syms[cx->n_syms];
    memset(s, 0, sizeof *s);
    s->value = -1;
    if (!(s->name = strdup(name)))
        goto nomem;
    cx->n_syms++;
    if (table_grow(&cx->slots, &cx->n_slots, cx->n_syms, sym_key, cx) != 0) {
        cx->n_syms--;
        free(s->name);
        goto nomem;
    }
    cx->slots[slot_find(cx->slots, cx->n_slots, name, sym_key, cx)] = cx->n_syms;
    return s;
nomem:
    nn_err_set(e, NN_ERR_NOMEM, "ONNX: value table");
    return NULL;
}

/* Reserves a unique node name: base, else base_2, base_3, ... */
static nn_status node_name_take(ox_ctx *cx, const char *base_in, char *out, size_t cap,
                                nn_err *e)
{
    char base[NN_NAME_MAX];
    snprintf(base, sizeof base, "%s", base_in);
    snprintf(out, cap, "%s", base);
    for (int k = 2;; k++) {
        size_t i = cx->n_node_slots ? slot_find(cx->node_slots, cx->n_node_slots, out, node_key, cx)
                                    : 0;
        if (!cx->n_node_slots || !cx->node_slots[i])
            break;
        snprintf(out, cap, "%.*s_%d", (int)(cap - 16), base, k);
    }
    if (cx->n_node_names == cx->cap_node_names) {
        size_t c = cx->cap_node_names ? cx->cap_node_names * 2 : 256;
        char **p = realloc(cx->node_names, c * sizeof *p);
        if (!p)
            return nn_err_set(e, NN_ERR_NOMEM, "ONNX: node names");
        cx->node_names = p;
        cx->cap_node_names = c;
    }
    if (!(cx->node_names[cx->n_node_names] = strdup(out)))
        return nn_err_set(e, NN_ERR_NOMEM, "ONNX: node names");
    cx->n_node_names++;
    if (table_grow(&cx->node_slots, &cx->n_node_slots, (int)cx->n_node_names, node_key, cx) != 0) {
        free(cx->node_names[--cx->n_node_names]);
        return nn_err_set(e, NN_ERR_NOMEM, "ONNX: node names");
    }
    cx->node_slots[slot_find(cx->node_slots, cx->n_node_slots, out, node_key, cx)] =
        (int)cx->n_node_names;
    return NN_OK;
}

void ox_ctx_free(ox_ctx *cx)
{
    for (int i = 0; i < cx->n_syms; i++) {
        free(cx->syms[i].name);
        ox_tensor_free(cx->syms[i].c);
    }
    for (size_t i = 0; i < cx->n_node_names; i++)
        free(cx->node_names[i]);
    free(cx->syms);
    free(cx->slots);
    free(cx->node_names);
    free(cx->node_slots);
}

/* ---- services for the op converters ------------------------------------ */

ox_sym *ox_input(ox_ctx *cx, const ox_node *n, int i)
{
    if (i < 0 || i >= n->n_in || !n->in[i][0])
        return NULL;
    return ox_sym_find(cx, n->in[i]);
}

/* Claims output i of n for definition. NULL when the name is "" (absent). */
static ox_sym *out_claim(ox_ctx *cx, const ox_node *n, int i, nn_status *st, nn_err *e)
{
    ox_sym *s;
    *st = NN_OK;
    if (i >= n->n_out || !n->out[i][0])
        return NULL;
    s = ox_sym_find(cx, n->out[i]);
    if (!s) {
        *st = nn_err_set(e, NN_ERR_INVALID, "ONNX: output '%s' not registered", n->out[i]);
        return NULL;
    }
    if (s->defined) {
        *st = nn_err_set(e, NN_ERR_FORMAT, "node '%s' (%s): value '%s' is defined twice",
                         n->name, n->op_type, s->name);
        return NULL;
    }
    return s;
}

nn_status ox_define_const(ox_ctx *cx, const ox_node *n, int i, ox_tensor *t, nn_err *e)
{
    nn_status st;
    ox_sym *s = out_claim(cx, n, i, &st, e);
    if (!s) {
        ox_tensor_free(t);
        return st;
    }
    s->defined = 1;
    s->c = t;
    s->shape = t->shape;
    s->shape_known = 1;
    return NN_OK;
}

int ox_value_of(ox_ctx *cx, ox_sym *s, const ox_node *n, nn_err *e)
{
    int idx;
    if (s->value >= 0)
        return s->value;
    if (!s->c || s->c->dtype != OX_F32) {
        nn_err_set(e, NN_ERR_UNSUPPORTED, "node '%s' (%s): input '%s' is an integer tensor, "
                   "only usable as a constant parameter", n->name, n->op_type, s->name);
        return -1;
    }
    s->c->f32_owned = 0;   /* the graph owns the data from here, also on failure */
    idx = nn_graph_add_const(cx->g, s->name, &s->c->shape, s->c->f32, 1, e);
    if (idx < 0) {
        s->c->f32 = NULL;
        return -1;
    }
    s->value = idx;
    return idx;
}

int ox_value_reshaped(ox_ctx *cx, const ox_sym *s, const nn_shape *shape, nn_err *e)
{
    char name[NN_NAME_MAX];
    if (!s->c || s->c->dtype != OX_F32 || nn_shape_numel(shape) != s->c->numel) {
        nn_err_set(e, NN_ERR_INVALID, "ONNX: cannot reshape constant '%s'", s->name);
        return -1;
    }
    do
        snprintf(name, sizeof name, "%.200s_bcast%d", s->name, ++cx->fresh);
    while (ox_sym_find(cx, name) || nn_graph_find_value(cx->g, name) >= 0);
    return nn_graph_add_const_copy(cx->g, name, shape, s->c->f32, e);
}

nn_status ox_extra_outputs_unused(ox_ctx *cx, const ox_node *n, nn_err *e)
{
    for (int i = 1; i < n->n_out; i++) {
        ox_sym *s = n->out[i][0] ? ox_sym_find(cx, n->out[i]) : NULL;
        if (s && s->used)
            return nn_err_set(e, NN_ERR_UNSUPPORTED, "node '%s' (%s): output %d ('%s') is used; "
                              "only the first output is supported", n->name, n->op_type, i, s->name);
    }
    return NN_OK;
}

nn_status ox_check_attrs(const ox_node *n, const char *allowed, nn_err *e)
{
    for (int i = 0; i < n->n_attrs; i++) {
        const char *nm = n->attrs[i].name, *p = allowed;
        size_t len = strlen(nm);
        int ok = 0;
        while (*p && !ok) {
            const char *q = strchr(p, ',');
            size_t l = q ? (size_t)(q - p) : strlen(p);
            ok = l == len && strncmp(p, nm, len) == 0;
            p += l + (q ? 1 : 0);
        }
        if (!ok)
            return nn_err_set(e, NN_ERR_UNSUPPORTED, "node '%s' (%s): unsupported attribute '%s'",
                              n->name, n->op_type, nm);
    }
    return NN_OK;
}

nn_node *ox_emit(ox_ctx *cx, const ox_node *n, int op, const int *inputs, int n_inputs,
                 nn_err *e)
{
    char name[NN_NAME_MAX];
    nn_status st;
    ox_sym *s;
    nn_node *node;
    int idx;
    if (ox_extra_outputs_unused(cx, n, e) != NN_OK)
        return NULL;
    s = out_claim(cx, n, 0, &st, e);
    if (!s) {
        if (st == NN_OK)
            nn_err_set(e, NN_ERR_FORMAT, "node '%s' (%s): no output", n->name, n->op_type);
        return NULL;
    }
    if (n->name[0])
        snprintf(name, sizeof name, "%s", n->name);
    else
        snprintf(name, sizeof name, "%.200s_%d", n->op_type, n->index);
    if (node_name_take(cx, name, name, sizeof name, e) != NN_OK)
        return NULL;
    if ((idx = nn_graph_add_value(cx->g, s->name, e)) < 0)
        return NULL;
    node = nn_graph_add_node(cx->g, op, name, inputs, n_inputs, idx, e);
    if (!node)
        return NULL;
    s->defined = 1;
    s->value = idx;
    s->shape_known = 0;
    return node;
}

void ox_set_shape(ox_ctx *cx, const ox_node *n, const nn_shape *sh, int known)
{
    ox_sym *s = n->n_out > 0 && n->out[0][0] ? ox_sym_find(cx, n->out[0]) : NULL;
    if (!s)
        return;
    s->shape_known = known && sh && sh->ndim <= NN_MAX_DIMS;
    if (s->shape_known)
        s->shape = *sh;
}

