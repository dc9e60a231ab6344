/* nn_graph.c — the graph IR: builders, attributes, metadata and the name
 * table.
 *
 * The graph returned by nn_graph_create is the first member of a private
 * graph_impl that adds a name -> value-index hash (open addressing, linear
 * probing) so that converters resolving thousands of names stay linear.
 * Every string and array is malloc'ed and owned by the graph. Validation
 * and compaction live in nn_graph_check.c. */
#include "nn_graph.h"

#include <stdlib.h>
#include <string.h>

#include "nn_graph_priv.h"
#include "nn_ops.h"

typedef struct graph_impl {
    nn_graph g;             /* must stay first: nn_graph * <-> graph_impl * */
    int *slots;             /* n_slots entries: value index or -1 */
    size_t n_slots;         /* power of two, 0 before the first value */
    int n_hashed;           /* values [0, n_hashed) are in slots */
} graph_impl;

static graph_impl *impl_of(nn_graph *g) { return (graph_impl *)g; }
static const graph_impl *impl_of_c(const nn_graph *g) { return (const graph_impl *)g; }

static char *str_dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static int name_ok(const char *s)
{
    return s && s[0] && strlen(s) < NN_NAME_MAX;
}

/* Grows *arr (element size elem) so that it holds at least need elements. */
static int grow(void **arr, int *cap, int need, size_t elem)
{
    int ncap;
    void *p;
    if (need <= *cap)
        return 0;
    ncap = *cap ? *cap : 16;
    while (ncap < need)
        ncap = ncap > (1 << 29) ? need : ncap * 2;
    p = realloc(*arr, (size_t)ncap * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = ncap;
    return 0;
}

/* ---- name hash --------------------------------------------------------- */

static size_t hash_str(const char *s)
{
    size_t h = 1469598103934665603ull;   /* FNV-1a 64 */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void hash_put(graph_impl *gi, int idx)
{
    size_t mask = gi->n_slots - 1;
    size_t h = hash_str(gi->g.values[idx].name) & mask;
    while (gi->slots[h] >= 0)
        h = (h + 1) & mask;
    gi->slots[h] = idx;
}

nn_status nn_graph_rehash(nn_graph *g, nn_err *e)
{
    graph_impl *gi = impl_of(g);
    size_t n = 64;
    int *slots;
    while (n < (size_t)g->n_values * 2 + 2)
        n *= 2;
    slots = malloc(n * sizeof *slots);
    if (!slots)
        return nn_err_set(e, NN_ERR_NOMEM, "graph name table");
    memset(slots, 0xff, n * sizeof *slots);
    free(gi->slots);
    gi->slots = slots;
    gi->n_slots = n;
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].name)
            hash_put(gi, i);
    gi->n_hashed = g->n_values;
    return NN_OK;
}

/* Adds value idx (already stored) to the table, growing it when half full. */
static nn_status hash_add(graph_impl *gi, int idx, nn_err *e)
{
    if (gi->n_hashed != idx || (size_t)(idx + 1) * 2 > gi->n_slots)
        return nn_graph_rehash(&gi->g, e);
    hash_put(gi, idx);
    gi->n_hashed = idx + 1;
    return NN_OK;
}

int nn_graph_find_value(const nn_graph *g, const char *name)
{
    const graph_impl *gi = impl_of_c(g);
    if (!g || !name)
        return -1;
    if (gi->n_slots) {
        size_t mask = gi->n_slots - 1;
        for (size_t h = hash_str(name) & mask; gi->slots[h] >= 0; h = (h + 1) & mask) {
            int idx = gi->slots[h];
            if (idx < g->n_values && g->values[idx].name &&
                strcmp(g->values[idx].name, name) == 0)
                return idx;
        }
    }
    for (int i = gi->n_hashed < g->n_values ? gi->n_hashed : g->n_values; i < g->n_values; i++)
        if (g->values[i].name && strcmp(g->values[i].name, name) == 0)
            return i;
    return -1;
}

/* ---- create / free ----------------------------------------------------- */

nn_graph *nn_graph_create(void)
{
    graph_impl *gi = calloc(1, sizeof *gi);
    return gi ? &gi->g : NULL;
}

void nn_value_clear(nn_value *v)
{
    free(v->name);
    if (v->owns_data)
        nn_aligned_free(v->data);
    memset(v, 0, sizeof *v);
}

static void attr_clear(nn_attr *a)
{
    free(a->name);
    free(a->ints);
    free(a->floats);
    free(a->s);
    memset(a, 0, sizeof *a);
}

void nn_node_clear(nn_node *n)
{
    free(n->name);
    free(n->inputs);
    for (int i = 0; i < n->n_attrs; i++)
        attr_clear(&n->attrs[i]);
    free(n->attrs);
    memset(n, 0, sizeof *n);
}

void nn_graph_free(nn_graph *g)
{
    graph_impl *gi = impl_of(g);
    if (!g)
        return;
    for (int i = 0; i < g->n_values; i++)
        nn_value_clear(&g->values[i]);
    free(g->values);
    for (int i = 0; i < g->n_nodes; i++)
        nn_node_clear(&g->nodes[i]);
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    for (int i = 0; i < g->n_meta; i++) {
        free(g->meta[i].key);
        free(g->meta[i].value);
    }
    free(g->meta);
    if (g->backing_free)
        g->backing_free(g->backing);
    free(gi->slots);
    free(gi);
}

/* ---- values ------------------------------------------------------------ */

/* Appends a blank value named name; returns its index or -1 with e set. */
static int value_new(nn_graph *g, const char *name, nn_err *e)
{
    nn_value *v;
    int idx;
    if (!name_ok(name)) {
        nn_err_set(e, NN_ERR_INVALID, "value name is empty or longer than %d bytes",
                   NN_NAME_MAX - 1);
        return -1;
    }
    if (nn_graph_find_value(g, name) >= 0) {
        nn_err_set(e, NN_ERR_INVALID, "duplicate value name '%s'", name);
        return -1;
    }
    if (g->n_values >= NN_GRAPH_MAX_VALUES) {
        nn_err_set(e, NN_ERR_LIMIT, "more than %d values", NN_GRAPH_MAX_VALUES);
        return -1;
    }
    if (grow((void **)&g->values, &g->cap_values, g->n_values + 1, sizeof *g->values) != 0) {
        nn_err_set(e, NN_ERR_NOMEM, "value '%s'", name);
        return -1;
    }
    idx = g->n_values;
    v = &g->values[idx];
    memset(v, 0, sizeof *v);
    v->name = str_dup(name);
    if (!v->name) {
        nn_err_set(e, NN_ERR_NOMEM, "value '%s'", name);
        return -1;
    }
    g->n_values++;
    if (hash_add(impl_of(g), idx, e) != NN_OK) {
        g->n_values--;
        nn_value_clear(v);
        return -1;
    }
    return idx;
}

int nn_shape_valid(const nn_shape *s, int batch_ok)
{
    if (!s || s->ndim < 0 || s->ndim > NN_MAX_DIMS)
        return 0;
    for (int i = 0; i < s->ndim; i++)
        if (s->d[i] < 0 && !(i == 0 && batch_ok && s->d[i] == NN_DIM_BATCH))
            return 0;
    if (batch_ok && s->ndim > 0 && s->d[0] == NN_DIM_BATCH) {
        nn_shape t = *s;
        t.d[0] = 1;
        return nn_shape_numel(&t) >= 0;
    }
    return nn_shape_numel(s) >= 0;
}

int nn_graph_add_input(nn_graph *g, const char *name, const nn_shape *shape, nn_err *e)
{
    int idx;
    int *p;
    if (!nn_shape_valid(shape, 1)) {
        nn_err_set(e, NN_ERR_SHAPE, "input '%s': invalid shape", name ? name : "?");
        return -1;
    }
    p = realloc(g->inputs, (size_t)(g->n_inputs + 1) * sizeof *p);
    if (!p) {
        nn_err_set(e, NN_ERR_NOMEM, "graph inputs");
        return -1;
    }
    g->inputs = p;
    idx = value_new(g, name, e);
    if (idx < 0)
        return -1;
    g->values[idx].shape = *shape;
    g->inputs[g->n_inputs++] = idx;
    return idx;
}

/* Ownership of data passes to the graph when take_ownership is 1, also on
 * failure (the data is then freed here), so callers never leak it. */
int nn_graph_add_const(nn_graph *g, const char *name, const nn_shape *shape,
                       float *data, int take_ownership, nn_err *e)
{
    int idx = -1;
    if (!nn_shape_valid(shape, 0)) {
        nn_err_set(e, NN_ERR_SHAPE, "constant '%s': invalid shape", name ? name : "?");
        goto fail;
    }
    if (!data && nn_shape_numel(shape) > 0) {
        nn_err_set(e, NN_ERR_INVALID, "constant '%s': no data", name);
        goto fail;
    }
    idx = value_new(g, name, e);
    if (idx < 0)
        goto fail;
    g->values[idx].shape = *shape;
    g->values[idx].is_const = 1;
    g->values[idx].data = data;
    g->values[idx].owns_data = take_ownership ? 1 : 0;
    return idx;
fail:
    if (take_ownership)
        nn_aligned_free(data);
    return -1;
}

int nn_graph_add_const_copy(nn_graph *g, const char *name, const nn_shape *shape,
                            const float *data, nn_err *e)
{
    int64_t n;
    size_t bytes;
    float *d = NULL;
    if (!nn_shape_valid(shape, 0)) {
        nn_err_set(e, NN_ERR_SHAPE, "constant '%s': invalid shape", name ? name : "?");
        return -1;
    }
    n = nn_shape_numel(shape);
    if (n > 0) {
        if (!data) {
            nn_err_set(e, NN_ERR_INVALID, "constant '%s': no data", name);
            return -1;
        }
        if (nn_size_mul((size_t)n, sizeof(float), &bytes) != 0 ||
            !(d = nn_aligned_alloc(bytes))) {
            nn_err_set(e, NN_ERR_NOMEM, "constant '%s'", name);
            return -1;
        }
        memcpy(d, data, bytes);
    }
    return nn_graph_add_const(g, name, shape, d, 1, e);
}

int nn_graph_add_value(nn_graph *g, const char *name, nn_err *e)
{
    return value_new(g, name, e);
}

nn_status nn_graph_add_output(nn_graph *g, int value, nn_err *e)
{
    int *p;
    if (value < 0 || value >= g->n_values)
        return nn_err_set(e, NN_ERR_INVALID, "graph output: value index %d out of range", value);
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == value)
            return nn_err_set(e, NN_ERR_INVALID, "graph output '%s' listed twice",
                              g->values[value].name);
    p = realloc(g->outputs, (size_t)(g->n_outputs + 1) * sizeof *p);
    if (!p)
        return nn_err_set(e, NN_ERR_NOMEM, "graph outputs");
    g->outputs = p;
    g->outputs[g->n_outputs++] = value;
    return NN_OK;
}

int nn_graph_is_input(const nn_graph *g, int v)
{
    for (int i = 0; i < g->n_inputs; i++)
        if (g->inputs[i] == v)
            return 1;
    return 0;
}

/* ---- nodes ------------------------------------------------------------- */

nn_node *nn_graph_add_node(nn_graph *g, int op, const char *name,
                           const int *inputs, int n_inputs, int output, nn_err *e)
{
    nn_node *n;
    const char *nm = name ? name : "?";
    if (!name_ok(name)) {
        nn_err_set(e, NN_ERR_INVALID, "node name is empty or longer than %d bytes",
                   NN_NAME_MAX - 1);
        return NULL;
    }
    if (op < 0 || op >= NN_OP_COUNT) {
        nn_err_set(e, NN_ERR_UNSUPPORTED, "node '%s': unknown op %d", nm, op);
        return NULL;
    }
    if (n_inputs < 0 || n_inputs > NN_MAX_IO || (n_inputs > 0 && !inputs)) {
        nn_err_set(e, NN_ERR_INVALID, "node '%s' (%s): %d inputs", nm, nn_op_name(op), n_inputs);
        return NULL;
    }
    for (int i = 0; i < n_inputs; i++)
        if (inputs[i] < -1 || inputs[i] >= g->n_values) {
            nn_err_set(e, NN_ERR_INVALID, "node '%s' (%s): input %d index %d out of range",
                       nm, nn_op_name(op), i, inputs[i]);
            return NULL;
        }
    if (output < 0 || output >= g->n_values) {
        nn_err_set(e, NN_ERR_INVALID, "node '%s' (%s): output index %d out of range",
                   nm, nn_op_name(op), output);
        return NULL;
    }
    if (g->values[output].is_const || nn_graph_is_input(g, output)) {
        nn_err_set(e, NN_ERR_INVALID, "node '%s' (%s): output '%s' is a %s", nm,
                   nn_op_name(op), g->values[output].name,
                   g->values[output].is_const ? "constant" : "graph input");
        return NULL;
    }
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].output == output) {
            nn_err_set(e, NN_ERR_INVALID, "node '%s' (%s): output '%s' is already produced by node '%s'",
                       nm, nn_op_name(op), g->values[output].name, g->nodes[i].name);
            return NULL;
        }
    if (g->n_nodes >= NN_GRAPH_MAX_NODES) {
        nn_err_set(e, NN_ERR_LIMIT, "more than %d nodes", NN_GRAPH_MAX_NODES);
        return NULL;
    }
    if (grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *g->nodes) != 0)
        goto nomem;
    n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->name = str_dup(name);
    n->inputs = malloc((size_t)(n_inputs > 0 ? n_inputs : 1) * sizeof *n->inputs);
    if (!n->name || !n->inputs) {
        nn_node_clear(n);
        goto nomem;
    }
    if (n_inputs > 0)
        memcpy(n->inputs, inputs, (size_t)n_inputs * sizeof *inputs);
    n->op = op;
    n->n_inputs = n_inputs;
    n->output = output;
    g->n_nodes++;
    return n;
nomem:
    nn_err_set(e, NN_ERR_NOMEM, "node '%s'", nm);
    return NULL;
}

/* ---- attributes -------------------------------------------------------- */

/* Returns a cleared attribute slot named name (replacing an existing one),
 * or NULL when out of memory / bad name. */
static nn_attr *attr_slot(nn_node *n, const char *name)
{
    nn_attr *a;
    char *nm;
    if (!n || !name_ok(name))
        return NULL;
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) {
            a = &n->attrs[i];
            nm = a->name;
            a->name = NULL;
            attr_clear(a);
            a->name = nm;
            return a;
        }
    nm = str_dup(name);
    a = nm ? realloc(n->attrs, (size_t)(n->n_attrs + 1) * sizeof *a) : NULL;
    if (!a) {
        free(nm);
        return NULL;
    }
    n->attrs = a;
    a = &n->attrs[n->n_attrs++];
    memset(a, 0, sizeof *a);
    a->name = nm;
    return a;
}

nn_status nn_node_set_int(nn_node *n, const char *name, int64_t v)
{
    nn_attr *a = attr_slot(n, name);
    if (!a)
        return NN_ERR_NOMEM;
    a->type = NN_ATTR_INT;
    a->i = v;
    return NN_OK;
}

nn_status nn_node_set_float(nn_node *n, const char *name, float v)
{
    nn_attr *a = attr_slot(n, name);
    if (!a)
        return NN_ERR_NOMEM;
    a->type = NN_ATTR_FLOAT;
    a->f = v;
    return NN_OK;
}

/* Sets a list attribute of count elements of elem bytes (copied). */
static nn_status attr_set_list(nn_node *n, const char *name, nn_attr_type type, const void *v,
                               int count, size_t elem)
{
    nn_attr *a;
    void *copy;
    if (count < 0 || count > NN_ATTR_MAX_LIST || (count > 0 && !v))
        return NN_ERR_LIMIT;
    copy = malloc((size_t)(count > 0 ? count : 1) * elem);
    if (!copy)
        return NN_ERR_NOMEM;
    if (count > 0)
        memcpy(copy, v, (size_t)count * elem);
    a = attr_slot(n, name);
    if (!a) {
        free(copy);
        return NN_ERR_NOMEM;
    }
    a->type = type;
    if (type == NN_ATTR_INTS)
        a->ints = copy;
    else
        a->floats = copy;
    a->n = count;
    return NN_OK;
}

nn_status nn_node_set_ints(nn_node *n, const char *name, const int64_t *v, int count)
{
    return attr_set_list(n, name, NN_ATTR_INTS, v, count, sizeof *v);
}

nn_status nn_node_set_floats(nn_node *n, const char *name, const float *v, int count)
{
    return attr_set_list(n, name, NN_ATTR_FLOATS, v, count, sizeof *v);
}

nn_status nn_node_set_string(nn_node *n, const char *name, const char *v)
{
    nn_attr *a;
    if (!v)
        return NN_ERR_INVALID;
    a = attr_slot(n, name);
    if (!a)
        return NN_ERR_NOMEM;
    a->type = NN_ATTR_STRING;
    a->s = str_dup(v);
    return a->s ? NN_OK : NN_ERR_NOMEM;
}

const nn_attr *nn_node_attr(const nn_node *n, const char *name)
{
    if (!n || !name)
        return NULL;
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    return NULL;
}

int64_t nn_node_get_int(const nn_node *n, const char *name, int64_t dflt)
{
    const nn_attr *a = nn_node_attr(n, name);
    return a && a->type == NN_ATTR_INT ? a->i : dflt;
}

/* An INT attribute is accepted where a float is asked for (ONNX writers
 * are not consistent about e.g. Clip bounds). */
float nn_node_get_float(const nn_node *n, const char *name, float dflt)
{
    const nn_attr *a = nn_node_attr(n, name);
    if (a && a->type == NN_ATTR_FLOAT)
        return a->f;
    if (a && a->type == NN_ATTR_INT)
        return (float)a->i;
    return dflt;
}

int nn_node_get_ints(const nn_node *n, const char *name, int64_t *out, int max)
{
    const nn_attr *a = nn_node_attr(n, name);
    if (!a || a->type != NN_ATTR_INTS)
        return -1;
    for (int i = 0; i < a->n && i < max; i++)
        out[i] = a->ints[i];
    return a->n;
}

const char *nn_node_get_string(const nn_node *n, const char *name, const char *dflt)
{
    const nn_attr *a = nn_node_attr(n, name);
    return a && a->type == NN_ATTR_STRING ? a->s : dflt;
}

/* ---- metadata ---------------------------------------------------------- */

nn_status nn_graph_set_meta(nn_graph *g, const char *key, const char *value)
{
    char *v;
    if (!key || !key[0] || !value)
        return NN_ERR_INVALID;
    v = str_dup(value);
    if (!v)
        return NN_ERR_NOMEM;
    for (int i = 0; i < g->n_meta; i++)
        if (strcmp(g->meta[i].key, key) == 0) {
            free(g->meta[i].value);
            g->meta[i].value = v;
            return NN_OK;
        }
    if (grow((void **)&g->meta, &g->cap_meta, g->n_meta + 1, sizeof *g->meta) != 0 ||
        !(g->meta[g->n_meta].key = str_dup(key))) {
        free(v);
        return NN_ERR_NOMEM;
    }
    g->meta[g->n_meta++].value = v;
    return NN_OK;
}

const char *nn_graph_get_meta(const nn_graph *g, const char *key)
{
    if (!g || !key)
        return NULL;
    for (int i = 0; i < g->n_meta; i++)
        if (strcmp(g->meta[i].key, key) == 0)
            return g->meta[i].value;
    return NULL;
}

int64_t nn_graph_param_count(const nn_graph *g)
{
    int64_t total = 0;
    /* packed[v]: value v is some node's packed input (counted as 0) */
    unsigned char *packed = calloc((size_t)(g->n_values ? g->n_values : 1), 1);
    for (int i = 0; packed && i < g->n_nodes; i++) {
        int pi = nn_op_packed_input(g->nodes[i].op);
        if (pi >= 0 && g->nodes[i].n_inputs > pi && g->nodes[i].inputs[pi] >= 0 &&
            g->nodes[i].inputs[pi] < g->n_values)
            packed[g->nodes[i].inputs[pi]] = 1;
    }
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].is_const && !(packed && packed[i])) {
            int64_t n = nn_shape_numel(&g->values[i].shape);
            if (n > 0)
                total += n;
        }
    free(packed);
    return total;
}
