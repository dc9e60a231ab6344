/* io_onnx_ops.c — maps ONNX nodes that were not folded to graph ops,
 * normalising opset 1..18 differences into the IR's opset-13 semantics:
 * parameters passed as constant inputs become attributes, auto_pad becomes
 * explicit pads, legacy broadcast becomes numpy broadcast. Tracks output
 * shapes (NN_DIM_BATCH for batch-sized dims) where it can, because auto_pad
 * and Shape folding need them; unknown shapes are not an error here. */
#include <float.h>
#include <stdio.h>
#include <string.h>

#include "../nn/nn_ops.h"
#include "io_onnx_int.h"

#define DIM_UNKNOWN (-2)

/* ---- shape tracking ------------------------------------------------------ */

/* Batch-aware product of dims [from, to): the number of batch dims goes to
 * *bpow, the product of the others to *prod. -1 on overflow. */
static int part_prod(const nn_shape *s, int from, int to, int *bpow, int64_t *prod)
{
    *bpow = 0;
    *prod = 1;
    for (int i = from; i < to; i++) {
        if (s->d[i] == NN_DIM_BATCH) {
            (*bpow)++;
        } else {
            if (s->d[i] < 0 || (s->d[i] > 0 && *prod > INT64_MAX / s->d[i]))
                return -1;
            *prod *= s->d[i];
        }
    }
    return 0;
}

static int64_t dim_of(int bpow, int64_t prod)
{
    return bpow == 0 ? prod : bpow == 1 && prod == 1 ? NN_DIM_BATCH : DIM_UNKNOWN;
}

static const nn_shape *known_shape(ox_ctx *cx, const ox_node *n, int i)
{
    const ox_sym *s = ox_input(cx, n, i);
    return s && s->shape_known ? &s->shape : NULL;
}

/* Sets n's output shape unless a dim came out unknown. */
static void set_shape(ox_ctx *cx, const ox_node *n, const nn_shape *s)
{
    int ok = s != NULL;
    for (int i = 0; ok && i < s->ndim; i++)
        ok = s->d[i] >= 0 || s->d[i] == NN_DIM_BATCH;
    ox_set_shape(cx, n, s, ok);
}

static int64_t bcast_dim(int64_t a, int64_t b)
{
    return a == b ? a : a == 1 ? b : b == 1 ? a : DIM_UNKNOWN;
}

/* ---- helpers --------------------------------------------------------------- */

/* Value index of input i, -1 when absent, -2 with e set on error. */
static int in_value(ox_ctx *cx, const ox_node *n, int i, nn_err *e)
{
    ox_sym *s = ox_input(cx, n, i);
    if (!s)
        return -1;
    int v = ox_value_of(cx, s, n, e);
    return v < 0 ? -2 : v;
}

/* Emits n as op with its first `count` inputs (absent optional ones -1). */
static nn_node *emit_inputs(ox_ctx *cx, const ox_node *n, int op, int count, nn_err *e)
{
    int v[NN_MAX_IO];
    int min_in, max_in;
    nn_op_arity((nn_op_type)op, &min_in, &max_in);
    if (count > n->n_in)
        count = n->n_in;
    while (count > 0 && !ox_input(cx, n, count - 1))
        count--;
    if (count < min_in || count > max_in || count > NN_MAX_IO) {
        nn_err_set(e, NN_ERR_FORMAT, "node '%s' (%s): %d inputs (expected %d..%d)", n->name,
                   n->op_type, count, min_in, max_in);
        return NULL;
    }
    for (int i = 0; i < count; i++)
        if ((v[i] = in_value(cx, n, i, e)) == -2)
            return NULL;
    return ox_emit(cx, n, op, v, count, e);
}

static nn_status bad_attr(const ox_node *n, const char *what, nn_err *e)
{
    if (e->status != NN_OK)
        return e->status;
    return nn_err_set(e, NN_ERR_FORMAT, "node '%s' (%s): invalid %s", n->name, n->op_type, what);
}

/* Reads an INTS attribute of exactly `want` values, each >= lo; dflt (value
 * for every element) when absent. */
static nn_status ints_exact(const ox_node *n, const char *name, int want, int64_t dflt, int64_t lo,
                            int64_t *out, nn_err *e)
{
    int k = ox_attr_ints(n, name, out, want, e);
    if (k == -1) {
        for (int i = 0; i < want; i++)
            out[i] = dflt;
        return NN_OK;
    }
    if (k != want)
        return bad_attr(n, name, e);
    for (int i = 0; i < want; i++)
        if (out[i] < lo || out[i] > INT32_MAX)
            return bad_attr(n, name, e);
    return NN_OK;
}

#define TRY(x)                      \
    do {                            \
        nn_status st_ = (x);        \
        if (st_ != NN_OK)           \
            return st_;             \
    } while (0)
#define NODE_OR_FAIL(node) \
    do {                   \
        if (!(node))       \
            return e->status; \
    } while (0)

/* ---- convolution and pooling -------------------------------------------- */

typedef struct win2d {
    int64_t k[2], s[2], d[2], pads[4];  /* pads [t, l, b, r] */
} win2d;

/* Resolves auto_pad into explicit pads using the input's static H, W. */
static nn_status win_pads(ox_ctx *cx, const ox_node *n, win2d *w, nn_err *e)
{
    char ap[32];
    const nn_shape *x = known_shape(cx, n, 0);
    TRY(ox_attr_string(n, "auto_pad", "NOTSET", ap, sizeof ap, e));
    if (strcmp(ap, "NOTSET") == 0)
        return ints_exact(n, "pads", 4, 0, 0, w->pads, e);
    if (strcmp(ap, "VALID") == 0) {
        memset(w->pads, 0, sizeof w->pads);
        return NN_OK;
    }
    if (strcmp(ap, "SAME_UPPER") && strcmp(ap, "SAME_LOWER"))
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "node '%s' (%s): auto_pad '%s'", n->name,
                          n->op_type, ap);
    if (!x || x->ndim != 4 || x->d[2] <= 0 || x->d[3] <= 0 || x->d[2] > INT32_MAX ||
        x->d[3] > INT32_MAX)
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "node '%s' (%s): auto_pad %s needs a static "
                          "input height and width", n->name, n->op_type, ap);
    for (int i = 0; i < 2; i++) {
        int64_t in = x->d[2 + i], out = (in + w->s[i] - 1) / w->s[i];
        int64_t total = (out - 1) * w->s[i] + (w->k[i] - 1) * w->d[i] + 1 - in;
        int64_t begin;
        total = total < 0 ? 0 : total;
        begin = ap[5] == 'U' ? total / 2 : total - total / 2;
        w->pads[i] = begin;
        w->pads[i + 2] = total - begin;
    }
    return NN_OK;
}

static nn_status win_attrs(ox_ctx *cx, const ox_node *n, win2d *w, nn_err *e)
{
    TRY(ints_exact(n, "strides", 2, 1, 1, w->s, e));
    TRY(ints_exact(n, "dilations", 2, 1, 1, w->d, e));
    return win_pads(cx, n, w, e);
}

static int64_t win_out(int64_t in, int64_t pb, int64_t pe, int64_t k, int64_t s, int64_t d,
                       int ceil_mode)
{
    int64_t span = in + pb + pe - ((k - 1) * d + 1), out;
    if (in < 0 || span < 0)
        return DIM_UNKNOWN;
    out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (out - 1) * s >= in + pb)
        out--;
    return out;
}

static void win_shape(ox_ctx *cx, const ox_node *n, const win2d *w, int64_t channels,
                      int ceil_mode)
{
    const nn_shape *x = known_shape(cx, n, 0);
    nn_shape o;
    if (!x || x->ndim != 4) {
        ox_set_shape(cx, n, NULL, 0);
        return;
    }
    o = *x;
    if (channels >= 0)
        o.d[1] = channels;
    for (int i = 0; i < 2; i++)
        o.d[2 + i] = win_out(x->d[2 + i], w->pads[i], w->pads[i + 2], w->k[i], w->s[i], w->d[i],
                             ceil_mode);
    set_shape(cx, n, &o);
}

static nn_status set_win(nn_node *node, const win2d *w)
{
    if (nn_node_set_ints(node, "kernel_shape", w->k, 2) || nn_node_set_ints(node, "strides", w->s, 2) ||
        nn_node_set_ints(node, "pads", w->pads, 4) || nn_node_set_ints(node, "dilations", w->d, 2))
        return NN_ERR_NOMEM;
    return NN_OK;
}

static nn_status cv_conv(ox_ctx *cx, const ox_node *n, int op, nn_err *e)
{
    const nn_shape *ws = known_shape(cx, n, 1);
    win2d w;
    int64_t group = ox_attr_int(n, "group", 1);
    nn_node *node;
    if (!ws)
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "node '%s' (Conv): weight shape unknown", n->name);
    if (ws->ndim != 4)
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "node '%s' (Conv): only 2-D convolution "
                          "(weight has %d dims)", n->name, ws->ndim);
    if (group < 1 || group > INT32_MAX)
        return bad_attr(n, "group", e);
    TRY(ints_exact(n, "kernel_shape", 2, 0, 1, w.k, e));
    if (!ox_attr_get(n, "kernel_shape")) {
        w.k[0] = ws->d[2];
        w.k[1] = ws->d[3];
    }
    if (w.k[0] != ws->d[2] || w.k[1] != ws->d[3])
        return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Conv): kernel_shape does not match the weight",
                          n->name);
    TRY(win_attrs(cx, n, &w, e));
    NODE_OR_FAIL(node = emit_inputs(cx, n, op, 3, e));
    if (set_win(node, &w) || nn_node_set_int(node, "group", group))
        return nn_err_set(e, NN_ERR_NOMEM, "node '%s'", n->name);
    win_shape(cx, n, &w, ws->d[0], 0);
    return NN_OK;
}

static nn_status cv_pool(ox_ctx *cx, const ox_node *n, int op, nn_err *e)
{
    win2d w;
    int64_t ceil_mode = ox_attr_int(n, "ceil_mode", 0), cip = ox_attr_int(n, "count_include_pad", 0);
    int64_t ks[NN_MAX_DIMS];
    nn_node *node;
    int k = ox_attr_ints(n, "kernel_shape", ks, NN_MAX_DIMS, e);
    if (k < 0)
        return bad_attr(n, "kernel_shape", e);
    if (k != 2)
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "node '%s' (%s): only 2-D pooling (kernel_shape "
                          "has %d values)", n->name, n->op_type, k);
    w.k[0] = ks[0];
    w.k[1] = ks[1];
    if (w.k[0] < 1 || w.k[1] < 1 || w.k[0] > INT32_MAX || w.k[1] > INT32_MAX)
        return bad_attr(n, "kernel_shape", e);
    if ((ceil_mode != 0 && ceil_mode != 1) || (cip != 0 && cip != 1))
        return bad_attr(n, "ceil_mode/count_include_pad", e);
    TRY(win_attrs(cx, n, &w, e));
    NODE_OR_FAIL(node = emit_inputs(cx, n, op, 1, e));
    if (set_win(node, &w) || nn_node_set_int(node, "ceil_mode", ceil_mode) ||
        (op == NN_OP_AVGPOOL && nn_node_set_int(node, "count_include_pad", cip)))
        return nn_err_set(e, NN_ERR_NOMEM, "node '%s'", n->name);
    win_shape(cx, n, &w, -1, (int)ceil_mode);
    return NN_OK;
}

static nn_status cv_global_pool(ox_ctx *cx, const ox_node *n, int op, nn_err *e)
{
    const nn_shape *x = known_shape(cx, n, 0);
    NODE_OR_FAIL(emit_inputs(cx, n, op, 1, e));
    if (x && x->ndim >= 3) {
        nn_shape o = *x;
        for (int i = 2; i < o.ndim; i++)
            o.d[i] = 1;
        set_shape(cx, n, &o);
    }
    return NN_OK;
}

/* ---- elementwise and normalisation --------------------------------------- */

/* Ops whose output has the input's shape and which carry no attributes
 * beyond those handled here. */
static nn_status cv_same_shape(ox_ctx *cx, const ox_node *n, int op, nn_err *e)
{
    nn_node *node;
    int count = op == NN_OP_BATCHNORM ? 5 : 1;
    if (op == NN_OP_BATCHNORM) {
        if (ox_attr_int(n, "training_mode", 0) != 0)
            return nn_err_set(e, NN_ERR_UNSUPPORTED, "node '%s' (BatchNormalization): training_mode",
                              n->name);
        if (ox_attr_int(n, "spatial", 1) != 1)
            return nn_err_set(e, NN_ERR_UNSUPPORTED, "node '%s' (BatchNormalization): spatial=0",
                              n->name);
    }
    if (op == NN_OP_DROPOUT && cx->opset >= 12 && ox_input(cx, n, 2)) {
        const ox_sym *tm = ox_input(cx, n, 2);
        if (!tm->c || tm->c->numel != 1 ||
            (tm->c->dtype == OX_I64 ? tm->c->i64[0] != 0 : tm->c->f32[0] != 0.0f))
            return nn_err_set(e, NN_ERR_UNSUPPORTED, "node '%s' (Dropout): training_mode must be "
                              "a constant false", n->name);
    }
    NODE_OR_FAIL(node = emit_inputs(cx, n, op, count, e));
    if (op == NN_OP_BATCHNORM && nn_node_set_float(node, "epsilon", ox_attr_float(n, "epsilon", 1e-5f)))
        return nn_err_set(e, NN_ERR_NOMEM, "node '%s'", n->name);
    if (op == NN_OP_LEAKYRELU && nn_node_set_float(node, "alpha", ox_attr_float(n, "alpha", 0.01f)))
        return nn_err_set(e, NN_ERR_NOMEM, "node '%s'", n->name);
    if (op == NN_OP_SOFTMAX) {
        int64_t axis = ox_attr_int(n, "axis", cx->opset < 13 ? 1 : -1);
        if (nn_node_set_int(node, "axis", axis) ||
            (cx->opset < 13 && nn_node_set_int(node, "coerce_2d", 1)))
            return nn_err_set(e, NN_ERR_NOMEM, "node '%s'", n->name);
    }
    set_shape(cx, n, known_shape(cx, n, 0));
    return NN_OK;
}

/* Scalar fp32 constant input i (Clip min/max, Pad constant_value). */
static nn_status const_scalar(ox_ctx *cx, const ox_node *n, int i, const char *what, float *out,
                              nn_err *e)
{
    const ox_sym *s = ox_input(cx, n, i);
    if (!s)
        return NN_OK;
    if (!s->c || s->c->numel != 1 || (s->c->dtype == OX_I64 && s->c->batch))
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "node '%s' (%s): %s must be a constant scalar",
                          n->name, n->op_type, what);
    *out = s->c->dtype == OX_F32 ? s->c->f32[0] : (float)s->c->i64[0];
    return NN_OK;
}

static nn_status cv_clip(ox_ctx *cx, const ox_node *n, int op, nn_err *e)
{
    float lo = -FLT_MAX, hi = FLT_MAX;
    nn_node *node;
    if (cx->opset < 11) {
        lo = ox_attr_float(n, "min", lo);
        hi = ox_attr_float(n, "max", hi);
    } else {
        TRY(const_scalar(cx, n, 1, "min", &lo, e));
        TRY(const_scalar(cx, n, 2, "max", &hi, e));
    }
    NODE_OR_FAIL(node = emit_inputs(cx, n, op, 1, e));
    if (nn_node_set_float(node, "min", lo) || nn_node_set_float(node, "max", hi))
        return nn_err_set(e, NN_ERR_NOMEM, "node '%s'", n->name);
    set_shape(cx, n, known_shape(cx, n, 0));
    return NN_OK;
}

/* Add/Mul. Before opset 7, broadcast=1 aligned B at `axis` of A (default:
 * trailing). A constant B is reshaped so numpy broadcasting agrees. */
static nn_status cv_binary(ox_ctx *cx, const ox_node *n, int op, nn_err *e)
{
    const nn_shape *a = known_shape(cx, n, 0), *b = known_shape(cx, n, 1);
    ox_sym *bs = ox_input(cx, n, 1);
    int v[2];
    nn_shape o = {0};
    if (!ox_input(cx, n, 0) || !bs)
        return nn_err_set(e, NN_ERR_FORMAT, "node '%s' (%s): needs two inputs", n->name, n->op_type);
    if ((v[0] = in_value(cx, n, 0, e)) < 0)
        return e->status;
    if (cx->opset < 7 && ox_attr_int(n, "broadcast", 0) && ox_attr_get(n, "axis")) {
        int64_t axis = ox_attr_int(n, "axis", 0);
        nn_shape nb;
        if (!a || !b)
            return nn_err_set(e, NN_ERR_UNSUPPORTED, "node '%s' (%s): legacy broadcast with unknown "
                              "shapes", n->name, n->op_type);
        if (axis < 0)
            axis += a->ndim;
        if (axis < 0 || axis + b->ndim > a->ndim)
            return bad_attr(n, "axis", e);
        nb = *b;
        for (int i = (int)axis + b->ndim; i < a->ndim; i++)
            nb.d[nb.ndim++] = 1;
        if (nb.ndim == b->ndim) {
            v[1] = in_value(cx, n, 1, e);
        } else if (bs->c) {
            v[1] = ox_value_reshaped(cx, bs, &nb, e);
            b = NULL;
            o = nb;
        } else {
            return nn_err_set(e, NN_ERR_UNSUPPORTED, "node '%s' (%s): legacy broadcast on axis %lld "
                              "of a non-constant operand", n->name, n->op_type, (long long)axis);
        }
    } else {
        v[1] = in_value(cx, n, 1, e);
    }
    if (v[1] < 0)
        return e->status;
    NODE_OR_FAIL(ox_emit(cx, n, op, v, 2, e));
    if (!b && o.ndim)
        b = &o;
    if (a && b) {
        nn_shape r = {a->ndim > b->ndim ? a->ndim : b->ndim, {0}};
        for (int i = 0; i < r.ndim; i++) {
            int ia = i - (r.ndim - a->ndim), ib = i - (r.ndim - b->ndim);
            r.d[i] = bcast_dim(ia >= 0 ? a->d[ia] : 1, ib >= 0 ? b->d[ib] : 1);
        }
        set_shape(cx, n, &r);
    }
    return NN_OK;
}

/* ---- layout ops ------------------------------------------------------------ */

static nn_status cv_concat(ox_ctx *cx, const ox_node *n, int op, nn_err *e)
{
    int64_t axis = ox_attr_int(n, "axis", cx->opset < 4 ? 1 : INT64_MIN), ax;
    const nn_shape *x0 = known_shape(cx, n, 0);
    nn_node *node;
    nn_shape o;
    int ok = x0 != NULL;
    if (axis == INT64_MIN)
        return nn_err_set(e, NN_ERR_FORMAT, "node '%s' (Concat): no axis", n->name);
    NODE_OR_FAIL(node = emit_inputs(cx, n, op, n->n_in, e));
    if (nn_node_set_int(node, "axis", axis))
        return nn_err_set(e, NN_ERR_NOMEM, "node '%s'", n->name);
    if (!ok)
        return NN_OK;
    o = *x0;
    ax = axis < 0 ? axis + o.ndim : axis;
    if (ax < 0 || ax >= o.ndim)
        return NN_OK;   /* the op's own check reports it */
    o.d[ax] = 0;
    for (int i = 0; ok && i < n->n_in; i++) {
        const nn_shape *x = known_shape(cx, n, i);
        ok = x && x->ndim == o.ndim && x->d[ax] >= 0 && o.d[ax] <= INT64_MAX - x->d[ax];
        if (ok)
            o.d[ax] += x->d[ax];
    }
    if (ok)
        set_shape(cx, n, &o);
    return NN_OK;
}

static nn_status cv_flatten(ox_ctx *cx, const ox_node *n, int op, nn_err *e)
{
    const nn_shape *x = known_shape(cx, n, 0);
    int64_t axis = ox_attr_int(n, "axis", 1);
    nn_node *node;
    NODE_OR_FAIL(node = emit_inputs(cx, n, op, 1, e));
    if (nn_node_set_int(node, "axis", axis))
        return nn_err_set(e, NN_ERR_NOMEM, "node '%s'", n->name);
    if (x) {
        int64_t a = axis < 0 ? axis + x->ndim : axis, p0, p1;
        int b0, b1;
        if (a >= 0 && a <= x->ndim && part_prod(x, 0, (int)a, &b0, &p0) == 0 &&
            part_prod(x, (int)a, x->ndim, &b1, &p1) == 0) {
            nn_shape o = {2, {dim_of(b0, p0), dim_of(b1, p1)}};
            set_shape(cx, n, &o);
        }
    }
    return NN_OK;
}

/* Reshape: the spec comes from the attribute (opset < 5) or a constant
 * input; batch symbols in it (from Shape folding) become 0 (copy) at dim 0
 * when the input's dim 0 is the batch, else the single -1. */
static nn_status cv_reshape(ox_ctx *cx, const ox_node *n, int op, nn_err *e)
{
    const nn_shape *x = known_shape(cx, n, 0);
    int64_t spec[NN_MAX_DIMS];
    int k, negs = 0;
    nn_node *node;
    nn_shape o;
    if (cx->opset < 5) {
        k = ox_attr_ints(n, "shape", spec, NN_MAX_DIMS, e);
    } else {
        const ox_sym *s = ox_input(cx, n, 1);
        const ox_tensor *t = s ? s->c : NULL;
        if (!t || t->dtype != OX_I64)
            return nn_err_set(e, NN_ERR_UNSUPPORTED, "node '%s' (Reshape): the shape must be "
                              "computable at conversion time", n->name);
        if (t->shape.ndim != 1 || t->numel > NN_MAX_DIMS)
            return nn_err_set(e, NN_ERR_UNSUPPORTED, "node '%s' (Reshape): shape of %lld values",
                              n->name, (long long)t->numel);
        k = (int)t->numel;
        for (int i = 0; i < k; i++) {
            spec[i] = t->i64[i];
            if (t->batch && t->batch[i])
                spec[i] = i == 0 && x && x->ndim > 0 && x->d[0] == NN_DIM_BATCH ? 0 : -1;
        }
    }
    if (k < 0)
        return bad_attr(n, "shape", e);
    for (int i = 0; i < k; i++) {
        negs += spec[i] == -1;
        if (spec[i] < -1 || (spec[i] == 0 && ox_attr_int(n, "allowzero", 0)))
            return nn_err_set(e, NN_ERR_UNSUPPORTED, "node '%s' (Reshape): shape entry %lld", n->name,
                              (long long)spec[i]);
    }
    if (negs > 1)
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "node '%s' (Reshape): more than one dim depends "
                          "on the batch size", n->name);
    NODE_OR_FAIL(node = emit_inputs(cx, n, op, 1, e));
    if (nn_node_set_ints(node, "shape", spec, k))
        return nn_err_set(e, NN_ERR_NOMEM, "node '%s'", n->name);
    /* tracked shape: batch-aware element counting */
    int bin, bout = 0, neg = -1;
    int64_t pin, pout = 1;
    if (!x || part_prod(x, 0, x->ndim, &bin, &pin) != 0)
        return NN_OK;
    o.ndim = k;
    for (int i = 0; i < k; i++) {
        int64_t d = spec[i] == 0 ? (i < x->ndim ? x->d[i] : DIM_UNKNOWN) : spec[i];
        o.d[i] = d;
        if (d == -1 && spec[i] == -1)
            neg = i;
        else if (d == NN_DIM_BATCH)
            bout++;
        else if (d < 0 || (d > 0 && pout > INT64_MAX / d))
            return NN_OK;
        else
            pout *= d;
    }
    if (neg >= 0) {
        if (pout == 0 || pin % pout)
            return NN_OK;
        o.d[neg] = dim_of(bin - bout, pin / pout);
    }
    set_shape(cx, n, &o);
    return NN_OK;
}

static nn_status cv_transpose(ox_ctx *cx, const ox_node *n, int op, nn_err *e)
{
    const nn_shape *x = known_shape(cx, n, 0);
    int64_t perm[NN_MAX_DIMS];
    int k = ox_attr_ints(n, "perm", perm, NN_MAX_DIMS, e);
    nn_node *node;
    if (k == -2)
        return e->status;
    if (k == -1) {
        if (!x)
            return nn_err_set(e, NN_ERR_UNSUPPORTED, "node '%s' (Transpose): no perm and unknown rank",
                              n->name);
        for (k = 0; k < x->ndim; k++)
            perm[k] = x->ndim - 1 - k;
    }
    NODE_OR_FAIL(node = emit_inputs(cx, n, op, 1, e));
    if (nn_node_set_ints(node, "perm", perm, k))
        return nn_err_set(e, NN_ERR_NOMEM, "node '%s'", n->name);
    if (x && x->ndim == k) {
        nn_shape o = {k, {0}};
        for (int i = 0; i < k; i++) {
            if (perm[i] < 0 || perm[i] >= k)
                return NN_OK;
            o.d[i] = x->d[perm[i]];
        }
        set_shape(cx, n, &o);
    }
    return NN_OK;
}

static nn_status cv_gemm(ox_ctx *cx, const ox_node *n, int op, nn_err *e)
{
    const nn_shape *a = known_shape(cx, n, 0), *b = known_shape(cx, n, 1);
    int64_t ta = ox_attr_int(n, "transA", 0), tb = ox_attr_int(n, "transB", 0);
    nn_node *node;
    NODE_OR_FAIL(node = emit_inputs(cx, n, op, 3, e));
    if (nn_node_set_float(node, "alpha", ox_attr_float(n, "alpha", 1.0f)) ||
        nn_node_set_float(node, "beta", ox_attr_float(n, "beta", 1.0f)) ||
        nn_node_set_int(node, "transA", ta) || nn_node_set_int(node, "transB", tb))
        return nn_err_set(e, NN_ERR_NOMEM, "node '%s'", n->name);
    if (a && b && a->ndim == 2 && b->ndim == 2) {
        nn_shape o = {2, {a->d[ta ? 1 : 0], b->d[tb ? 0 : 1]}};
        set_shape(cx, n, &o);
    }
    return NN_OK;
}

static nn_status cv_matmul(ox_ctx *cx, const ox_node *n, int op, nn_err *e)
{
    const nn_shape *a = known_shape(cx, n, 0), *b = known_shape(cx, n, 1);
    NODE_OR_FAIL(emit_inputs(cx, n, op, 2, e));
    if (a && b && a->ndim >= 2 && b->ndim >= 2) {
        int r = a->ndim > b->ndim ? a->ndim : b->ndim;
        nn_shape o = {r, {0}};
        for (int i = 0; i < r - 2; i++) {
            int ia = i - (r - a->ndim), ib = i - (r - b->ndim);
            o.d[i] = bcast_dim(ia >= 0 ? a->d[ia] : 1, ib >= 0 ? b->d[ib] : 1);
        }
        o.d[r - 2] = a->d[a->ndim - 2];
        o.d[r - 1] = b->d[b->ndim - 1];
        set_shape(cx, n, &o);
    }
    return NN_OK;
}

/* Pad: attributes before opset 11 ("paddings" in opset 1), constant inputs
 * pads / constant_value from 11 on. */
static nn_status cv_pad(ox_ctx *cx, const ox_node *n, int op, nn_err *e)
{
    const nn_shape *x = known_shape(cx, n, 0);
    int64_t pads[2 * NN_MAX_DIMS];
    float value = 0.0f;
    char mode[32];
    int k;
    nn_node *node;
    TRY(ox_attr_string(n, "mode", "constant", mode, sizeof mode, e));
    if (cx->opset < 11) {
        k = ox_attr_ints(n, cx->opset < 2 ? "paddings" : "pads", pads, 2 * NN_MAX_DIMS, e);
        value = ox_attr_float(n, "value", 0.0f);
    } else {
        if (ox_input(cx, n, 3))
            return nn_err_set(e, NN_ERR_UNSUPPORTED, "node '%s' (Pad): axes input", n->name);
        k = ox_const_ints(ox_input(cx, n, 1), n, "pads", pads, 2 * NN_MAX_DIMS, e);
        TRY(const_scalar(cx, n, 2, "constant_value", &value, e));
    }
    if (k < 0 || k % 2)
        return bad_attr(n, "pads", e);
    NODE_OR_FAIL(node = emit_inputs(cx, n, op, 1, e));
    if (nn_node_set_ints(node, "pads", pads, k) || nn_node_set_string(node, "mode", mode) ||
        nn_node_set_float(node, "value", value))
        return nn_err_set(e, NN_ERR_NOMEM, "node '%s'", n->name);
    if (x && x->ndim * 2 == k) {
        nn_shape o = *x;
        for (int i = 0; i < o.ndim; i++) {
            int64_t pb = pads[i], pe = pads[i + o.ndim];
            if (pb == 0 && pe == 0)
                continue;
            o.d[i] = o.d[i] < 0 || o.d[i] > INT32_MAX || pb < -INT32_MAX || pb > INT32_MAX ||
                     pe < -INT32_MAX || pe > INT32_MAX ? DIM_UNKNOWN : o.d[i] + pb + pe;
        }
        set_shape(cx, n, &o);
    }
    return NN_OK;
}

/* Output size of one sliced dim (ONNX clamping rules). */
static int64_t slice_dim(int64_t d, int64_t b, int64_t en, int64_t s)
{
    if (s == 0 || s == INT64_MIN)
        return DIM_UNKNOWN;
    b = b < 0 ? (b < -d ? -d : b) + d : b;
    en = en < 0 ? (en < -d ? -d - 1 : en) + d : en;
    if (s > 0) {
        b = b > d ? d : b;
        en = en > d ? d : en;
        return en > b ? (en - b - 1) / s + 1 : 0;
    }
    b = b > d - 1 ? d - 1 : b;
    en = en > d - 1 ? d - 1 : en;
    return b > en ? (b - en - 1) / (-s) + 1 : 0;
}

static nn_status cv_slice(ox_ctx *cx, const ox_node *n, int op, nn_err *e)
{
    const nn_shape *x = known_shape(cx, n, 0);
    int64_t st[NN_MAX_DIMS], en[NN_MAX_DIMS], ax[NN_MAX_DIMS], sp[NN_MAX_DIMS];
    int ks, ke, ka, kp;
    nn_node *node;
    if (cx->opset < 10) {
        ks = ox_attr_ints(n, "starts", st, NN_MAX_DIMS, e);
        ke = ox_attr_ints(n, "ends", en, NN_MAX_DIMS, e);
        ka = ox_attr_ints(n, "axes", ax, NN_MAX_DIMS, e);
        kp = -1;
    } else {
        ks = ox_const_ints(ox_input(cx, n, 1), n, "starts", st, NN_MAX_DIMS, e);
        ke = ox_const_ints(ox_input(cx, n, 2), n, "ends", en, NN_MAX_DIMS, e);
        ka = ox_input(cx, n, 3) ? ox_const_ints(ox_input(cx, n, 3), n, "axes", ax, NN_MAX_DIMS, e) : -1;
        kp = ox_input(cx, n, 4) ? ox_const_ints(ox_input(cx, n, 4), n, "steps", sp, NN_MAX_DIMS, e) : -1;
    }
    if (e->status != NN_OK)
        return e->status;
    if (ks < 0 || ks != ke || (ka >= 0 && ka != ks) || (kp >= 0 && kp != ks))
        return bad_attr(n, "starts/ends/axes/steps", e);
    for (int i = 0; i < ks; i++) {
        if (ka < 0)
            ax[i] = i;
        if (kp < 0)
            sp[i] = 1;
    }
    NODE_OR_FAIL(node = emit_inputs(cx, n, op, 1, e));
    if (nn_node_set_ints(node, "starts", st, ks) || nn_node_set_ints(node, "ends", en, ks) ||
        nn_node_set_ints(node, "axes", ax, ks) || nn_node_set_ints(node, "steps", sp, ks))
        return nn_err_set(e, NN_ERR_NOMEM, "node '%s'", n->name);
    if (x) {
        nn_shape o = *x;
        for (int i = 0; i < ks; i++) {
            int64_t a = ax[i] < 0 ? ax[i] + o.ndim : ax[i];
            if (a < 0 || a >= o.ndim)
                return NN_OK;
            if (x->d[a] == NN_DIM_BATCH)
                o.d[a] = st[i] == 0 && en[i] >= INT32_MAX && sp[i] == 1 ? NN_DIM_BATCH : DIM_UNKNOWN;
            else
                o.d[a] = slice_dim(x->d[a], st[i], en[i], sp[i]);
        }
        set_shape(cx, n, &o);
    }
    return NN_OK;
}

/* Cast of an activation: only to float (which it already is). */
static nn_status cv_cast(ox_ctx *cx, const ox_node *n, int op, nn_err *e)
{
    (void)op;
    if (ox_attr_int(n, "to", 0) != 1)
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "node '%s' (Cast): casting an activation to type "
                          "%lld", n->name, (long long)ox_attr_int(n, "to", 0));
    return cv_same_shape(cx, n, NN_OP_IDENTITY, e);
}

/* ---- dispatch --------------------------------------------------------------- */

typedef nn_status (*cv_fn)(ox_ctx *cx, const ox_node *n, int op, nn_err *e);

/* ONNX op type | IR op | converter | attributes accepted (others rejected) */
static const struct {
    const char *op_type;
    int op;
    cv_fn fn;
    const char *attrs;
} cv_table[] = {
    {"Conv", NN_OP_CONV, cv_conv, "auto_pad,dilations,group,kernel_shape,pads,strides"},
    {"MaxPool", NN_OP_MAXPOOL, cv_pool,
     "auto_pad,ceil_mode,dilations,kernel_shape,pads,storage_order,strides"},
    {"AveragePool", NN_OP_AVGPOOL, cv_pool,
     "auto_pad,ceil_mode,count_include_pad,kernel_shape,pads,strides"},
    {"GlobalAveragePool", NN_OP_GLOBALAVGPOOL, cv_global_pool, ""},
    {"BatchNormalization", NN_OP_BATCHNORM, cv_same_shape,
     "epsilon,momentum,spatial,is_test,consumed_inputs,training_mode"},
    {"Relu", NN_OP_RELU, cv_same_shape, "consumed_inputs"},
    {"Sigmoid", NN_OP_SIGMOID, cv_same_shape, "consumed_inputs"},
    {"Tanh", NN_OP_TANH, cv_same_shape, "consumed_inputs"},
    {"LeakyRelu", NN_OP_LEAKYRELU, cv_same_shape, "alpha,consumed_inputs"},
    {"Softmax", NN_OP_SOFTMAX, cv_same_shape, "axis"},
    {"Dropout", NN_OP_DROPOUT, cv_same_shape, "ratio,is_test,consumed_inputs,seed"},
    {"Identity", NN_OP_IDENTITY, cv_same_shape, ""},
    {"Cast", NN_OP_IDENTITY, cv_cast, "to,saturate"},
    {"Clip", NN_OP_CLIP, cv_clip, "min,max,consumed_inputs"},
    {"Add", NN_OP_ADD, cv_binary, "axis,broadcast,consumed_inputs"},
    {"Mul", NN_OP_MUL, cv_binary, "axis,broadcast,consumed_inputs"},
    {"Concat", NN_OP_CONCAT, cv_concat, "axis"},
    {"Flatten", NN_OP_FLATTEN, cv_flatten, "axis"},
    {"Reshape", NN_OP_RESHAPE, cv_reshape, "shape,consumed_inputs,allowzero"},
    {"Transpose", NN_OP_TRANSPOSE, cv_transpose, "perm"},
    {"Gemm", NN_OP_GEMM, cv_gemm, "alpha,beta,transA,transB,broadcast"},
    {"MatMul", NN_OP_MATMUL, cv_matmul, ""},
    {"Pad", NN_OP_PAD, cv_pad, "mode,pads,paddings,value"},
    {"Slice", NN_OP_SLICE, cv_slice, "starts,ends,axes"},
};

nn_status ox_convert_op(ox_ctx *cx, const ox_node *n, nn_err *e)
{
    for (size_t i = 0; i < sizeof cv_table / sizeof cv_table[0]; i++) {
        if (strcmp(cv_table[i].op_type, n->op_type) != 0)
            continue;
        TRY(ox_check_attrs(n, cv_table[i].attrs, e));
        if (!ox_input(cx, n, 0))
            return nn_err_set(e, NN_ERR_FORMAT, "node '%s' (%s): first input missing", n->name,
                              n->op_type);
        return cv_table[i].fn(cx, n, cv_table[i].op, e);
    }
    return nn_err_set(e, NN_ERR_UNSUPPORTED, "unsupported ONNX op '%s' (node '%s')", n->op_type,
                      n->name);
}
