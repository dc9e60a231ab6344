/* op_pad.c — Pad with int attribute "pads" (2*r values: all begins, then
 * all ends, ONNX order), string attribute "mode" = "constant" (default) |
 * "reflect" | "edge", float attribute "value" (default 0, constant mode).
 * Negative pads crop: on each axis the input is first cropped to
 * [max(0,-begin), dim - max(0,-end)) and the positive pads are then filled
 * from that region by the mode (reflect needs pad <= cropped dim - 1).
 * Reference: per output element, each coordinate mapped by the mode. Fast:
 * per output row, the middle copied by memcpy and the borders filled;
 * rows over the pool. ResNet20's option-A shortcut pads the channel axis. */
#include <string.h>

#include "nn/nn_ops.h"
#include "nn/ops/eltwise_util.h"

typedef enum pad_mode { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE } pad_mode;

/* Per axis: output index o reads input lo + (o - pb) when that falls in the
 * kept region [lo, lo + eff), otherwise what the mode says. */
typedef struct pad_params {
    pad_mode mode;
    float value;
    int64_t lo[NN_MAX_DIMS], eff[NN_MAX_DIMS], pb[NN_MAX_DIMS];
} pad_params;

static nn_status pad_compute(const nn_node *node, const nn_shape *x, pad_params *p,
                             nn_shape *out, nn_err *e)
{
    int64_t pads[2 * NN_MAX_DIMS];
    int n, r = x->ndim;
    const char *mode;
    nn_status st;
    if ((st = eu_attr_ints(node, "Pad", "pads", pads, 2 * NN_MAX_DIMS, &n, e)) != NN_OK ||
        (st = eu_attr_string(node, "Pad", "mode", "constant", &mode, e)) != NN_OK ||
        (st = eu_attr_float(node, "Pad", "value", 0.0f, &p->value, e)) != NN_OK)
        return st;
    if (strcmp(mode, "constant") == 0)
        p->mode = PAD_CONSTANT;
    else if (strcmp(mode, "reflect") == 0)
        p->mode = PAD_REFLECT;
    else if (strcmp(mode, "edge") == 0)
        p->mode = PAD_EDGE;
    else
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "node '%s' (Pad): mode \"%.32s\" not supported",
                          eu_name(node), mode);
    if (r < 1)
        return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Pad): scalar input", eu_name(node));
    if (n < 0)
        return nn_err_set(e, NN_ERR_FORMAT, "node '%s' (Pad): attribute pads is missing", eu_name(node));
    if (n != 2 * r)
        return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Pad): pads has %d values for an input of rank %d (expected %d)",
                          eu_name(node), n, r, 2 * r);
    *out = *x;
    for (int i = 0; i < r; i++) {
        int64_t b = pads[i], en = pads[i + r], dim = x->d[i], pe;
        /* Bounding each pad by the element limit keeps the sums in int64. */
        if (b > EU_MAX_ELEMS || b < -EU_MAX_ELEMS || en > EU_MAX_ELEMS || en < -EU_MAX_ELEMS)
            return nn_err_set(e, NN_ERR_LIMIT, "node '%s' (Pad): pads on axis %d exceed %lld",
                              eu_name(node), i, (long long)EU_MAX_ELEMS);
        p->lo[i] = b < 0 ? -b : 0;
        p->eff[i] = dim - p->lo[i] - (en < 0 ? -en : 0);
        p->pb[i] = b > 0 ? b : 0;
        pe = en > 0 ? en : 0;
        if (p->eff[i] < 1)
            return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Pad): negative pads crop axis %d (dim %lld) to nothing",
                              eu_name(node), i, (long long)dim);
        if (p->mode == PAD_REFLECT && (p->pb[i] > p->eff[i] - 1 || pe > p->eff[i] - 1))
            return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Pad): reflect pads on axis %d must be < dim %lld",
                              eu_name(node), i, (long long)p->eff[i]);
        out->d[i] = p->eff[i] + p->pb[i] + pe;
    }
    return NN_OK;
}

static nn_status pad_infer(const nn_node *node, const nn_shape *const *in, int n_in,
                           nn_shape *out, nn_err *e)
{
    pad_params p;
    nn_status st = eu_check_inputs(node, "Pad", in, n_in, 1, e);
    if (st != NN_OK)
        return st;
    if ((st = eu_check_out(node, "Pad", in[0], e)) != NN_OK ||
        (st = pad_compute(node, in[0], &p, out, e)) != NN_OK)
        return st;
    return eu_check_out(node, "Pad", out, e);
}

/* Input index on axis i for output index o, or -1 for the constant. */
static int64_t pad_map(const pad_params *p, int i, int64_t o)
{
    int64_t q = o - p->pb[i], eff = p->eff[i];
    if (q >= 0 && q < eff)
        return p->lo[i] + q;
    switch (p->mode) {
    case PAD_EDGE:
        return p->lo[i] + (q < 0 ? 0 : eff - 1);
    case PAD_REFLECT:
        return p->lo[i] + (q < 0 ? -q : 2 * (eff - 1) - q);
    case PAD_CONSTANT:
        break;
    }
    return -1;
}

typedef struct pad_job {
    const nn_op_ctx *ctx;
    pad_params p;
    int64_t in_stride[NN_MAX_DIMS];
} pad_job;

/* Output rows [b, e) (a row is the innermost output dim). */
static void pad_range(void *arg, int64_t b, int64_t e)
{
    const pad_job *j = arg;
    const pad_params *p = &j->p;
    const nn_shape *so = &j->ctx->out->shape;
    int last = so->ndim - 1;
    int64_t len = so->d[last], pb = p->pb[last], eff = p->eff[last];
    for (int64_t r = b; r < e; r++) {
        int64_t rem = r, off = 0;
        float *y = j->ctx->out->data + r * len;
        const float *x;
        for (int d = last - 1; d >= 0 && off >= 0; d--) {
            int64_t src = pad_map(p, d, rem % so->d[d]);
            rem /= so->d[d];
            off = src < 0 ? -1 : off + src * j->in_stride[d];
        }
        if (off < 0) {
            for (int64_t k = 0; k < len; k++)
                y[k] = p->value;
            continue;
        }
        x = j->ctx->in[0]->data + off;
        if (p->mode == PAD_CONSTANT) {
            for (int64_t k = 0; k < pb; k++)
                y[k] = p->value;
            for (int64_t k = pb + eff; k < len; k++)
                y[k] = p->value;
        } else {
            for (int64_t k = 0; k < pb; k++)
                y[k] = x[pad_map(p, last, k)];
            for (int64_t k = pb + eff; k < len; k++)
                y[k] = x[pad_map(p, last, k)];
        }
        memcpy(y + pb, x + p->lo[last], (size_t)eff * sizeof(float));
    }
}

static void pad_run(nn_op_ctx *ctx)
{
    pad_job j;
    nn_shape o;
    int64_t len = ctx->out->shape.d[ctx->out->shape.ndim - 1];
    j.ctx = ctx;
    pad_compute(ctx->node, &ctx->in[0]->shape, &j.p, &o, NULL);
    eu_strides(&ctx->in[0]->shape, j.in_stride);
    nn_pool_for(ctx->pool, nn_shape_numel(&ctx->out->shape) / len, 1 + EU_GRAIN / len,
                pad_range, &j);
}

static void pad_run_ref(nn_op_ctx *ctx)
{
    const nn_shape *si = &ctx->in[0]->shape, *so = &ctx->out->shape;
    pad_params p;
    nn_shape o;
    int64_t n = nn_shape_numel(so);
    pad_compute(ctx->node, si, &p, &o, NULL);
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i, c[NN_MAX_DIMS], idx = 0;
        int inside = 1;
        for (int d = so->ndim - 1; d >= 0; d--) {
            c[d] = rem % so->d[d];
            rem /= so->d[d];
        }
        for (int d = 0; d < si->ndim && inside; d++) {
            int64_t src = pad_map(&p, d, c[d]);
            inside = src >= 0;
            idx = idx * si->d[d] + src;
        }
        ctx->out->data[i] = inside ? ctx->in[0]->data[idx] : p.value;
    }
}

const nn_op_def nn_op_pad = {
    .name = "pad",
    .infer = pad_infer,
    .run = pad_run,
    .run_ref = pad_run_ref,
};
