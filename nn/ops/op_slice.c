/* op_slice.c — Slice with int attributes "starts", "ends" (required, same
 * length k), "axes" (optional, default 0..k-1, negative allowed, unique) and
 * "steps" (optional, default 1, negative allowed, 0 rejected). Indices are
 * clamped exactly as ONNX does: negative values count from the end, then
 * starts clamp to [0, dim] and ends to [0, dim] for positive steps, starts
 * to [0, dim-1] and ends to [-1, dim-1] for negative steps (so INT64_MAX /
 * INT64_MIN mean "to the end"). An empty result is rejected (NN_ERR_SHAPE).
 * Output element c reads input index start + c*step on every dim.
 * Reference: per-element index arithmetic; fast: per output row, memcpy
 * when the innermost step is 1, a strided gather otherwise. */
#include "nn/nn_ops.h"
#include "nn/ops/eltwise_util.h"

/* First input index and step per input dim (unsliced dims: 0 and 1). */
typedef struct slice_params {
    int64_t start[NN_MAX_DIMS];
    int64_t step[NN_MAX_DIMS];
} slice_params;

static int64_t slice_clamp(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Validates the attributes against input shape x; fills p and out. */
static nn_status slice_compute(const nn_node *node, const nn_shape *x, slice_params *p,
                               nn_shape *out, nn_err *e)
{
    int64_t starts[NN_MAX_DIMS], ends[NN_MAX_DIMS], axes[NN_MAX_DIMS], steps[NN_MAX_DIMS];
    int ns, ne, na, nst, seen[NN_MAX_DIMS] = {0};
    nn_status st;
    if ((st = eu_attr_ints(node, "Slice", "starts", starts, NN_MAX_DIMS, &ns, e)) != NN_OK ||
        (st = eu_attr_ints(node, "Slice", "ends", ends, NN_MAX_DIMS, &ne, e)) != NN_OK ||
        (st = eu_attr_ints(node, "Slice", "axes", axes, NN_MAX_DIMS, &na, e)) != NN_OK ||
        (st = eu_attr_ints(node, "Slice", "steps", steps, NN_MAX_DIMS, &nst, e)) != NN_OK)
        return st;
    if (ns < 1 || ne != ns)
        return nn_err_set(e, NN_ERR_FORMAT, "node '%s' (Slice): starts (%d values) and ends (%d values) must be non-empty and of equal length",
                          eu_name(node), ns, ne);
    if ((na >= 0 && na != ns) || (nst >= 0 && nst != ns))
        return nn_err_set(e, NN_ERR_FORMAT, "node '%s' (Slice): axes/steps length differs from starts (%d)",
                          eu_name(node), ns);
    if (ns > x->ndim)
        return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Slice): %d sliced axes for an input of rank %d",
                          eu_name(node), ns, x->ndim);
    *out = *x;
    for (int d = 0; d < NN_MAX_DIMS; d++) {
        p->start[d] = 0;
        p->step[d] = 1;
    }
    for (int i = 0; i < ns; i++) {
        int ax;
        int64_t dim, s = starts[i], en = ends[i], step = nst >= 0 ? steps[i] : 1, len;
        if ((st = eu_axis(node, "Slice", na >= 0 ? axes[i] : i, x->ndim, 0, &ax, e)) != NN_OK)
            return st;
        if (seen[ax]++)
            return nn_err_set(e, NN_ERR_FORMAT, "node '%s' (Slice): axis %d appears twice", eu_name(node), ax);
        if (step == 0)
            return nn_err_set(e, NN_ERR_FORMAT, "node '%s' (Slice): steps[%d] is 0", eu_name(node), i);
        dim = x->d[ax];
        if (dim < 1)
            return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Slice): input dim %d is %lld",
                              eu_name(node), ax, (long long)dim);
        if (s < 0)
            s += dim;
        if (en < 0)
            en += dim;
        /* A step longer than the dim selects only the first element, as a
         * step of exactly dim does; clamping it keeps the arithmetic small. */
        if (step > 0) {
            step = step > dim ? dim : step;
            s = slice_clamp(s, 0, dim);
            en = slice_clamp(en, 0, dim);
            len = en > s ? (en - s + step - 1) / step : 0;
        } else {
            step = step < -dim ? -dim : step;
            s = slice_clamp(s, 0, dim - 1);
            en = slice_clamp(en, -1, dim - 1);
            len = s > en ? (s - en - step - 1) / -step : 0;
        }
        if (len < 1)
            return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Slice): empty result on axis %d (starts %lld, ends %lld, step %lld, dim %lld)",
                              eu_name(node), ax, (long long)starts[i], (long long)ends[i],
                              (long long)(nst >= 0 ? steps[i] : 1), (long long)dim);
        p->start[ax] = s;
        p->step[ax] = step;
        out->d[ax] = len;
    }
    return NN_OK;
}

static nn_status slice_infer(const nn_node *node, const nn_shape *const *in, int n_in,
                             nn_shape *out, nn_err *e)
{
    slice_params p;
    nn_status st = eu_check_inputs(node, "Slice", in, n_in, 1, e);
    if (st != NN_OK)
        return st;
    if ((st = eu_check_out(node, "Slice", in[0], e)) != NN_OK ||
        (st = slice_compute(node, in[0], &p, out, e)) != NN_OK)
        return st;
    return eu_check_out(node, "Slice", out, e);
}

typedef struct slice_job {
    const nn_op_ctx *ctx;
    slice_params p;
    int64_t in_stride[NN_MAX_DIMS];
} slice_job;

/* Output rows [b, e): a row is the innermost output dim. */
static void slice_range(void *arg, int64_t b, int64_t e)
{
    const slice_job *j = arg;
    const nn_shape *so = &j->ctx->out->shape;
    const float *x = j->ctx->in[0]->data;
    int last = so->ndim - 1;
    int64_t len = so->d[last], step = j->p.step[last];
    for (int64_t r = b; r < e; r++) {
        int64_t rem = r, off = j->p.start[last];
        const float *src;
        float *y = j->ctx->out->data + r * len;
        for (int d = last - 1; d >= 0; d--) {
            off += (j->p.start[d] + (rem % so->d[d]) * j->p.step[d]) * j->in_stride[d];
            rem /= so->d[d];
        }
        src = x + off;
        if (step == 1)
            memcpy(y, src, (size_t)len * sizeof(float));
        else
            for (int64_t k = 0; k < len; k++)
                y[k] = src[k * step];
    }
}

static void slice_run(nn_op_ctx *ctx)
{
    slice_job j;
    int64_t len = ctx->out->shape.d[ctx->out->shape.ndim - 1];
    nn_shape o;
    j.ctx = ctx;
    slice_compute(ctx->node, &ctx->in[0]->shape, &j.p, &o, NULL);
    eu_strides(&ctx->in[0]->shape, j.in_stride);
    nn_pool_for(ctx->pool, nn_shape_numel(&ctx->out->shape) / len, 1 + EU_GRAIN / len,
                slice_range, &j);
}

static void slice_run_ref(nn_op_ctx *ctx)
{
    const nn_shape *so = &ctx->out->shape, *si = &ctx->in[0]->shape;
    slice_params p;
    nn_shape o;
    int64_t n = nn_shape_numel(so);
    slice_compute(ctx->node, si, &p, &o, NULL);
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i, c[NN_MAX_DIMS], idx = 0;
        for (int d = so->ndim - 1; d >= 0; d--) {
            c[d] = rem % so->d[d];
            rem /= so->d[d];
        }
        for (int d = 0; d < si->ndim; d++)
            idx = idx * si->d[d] + p.start[d] + c[d] * p.step[d];
        ctx->out->data[i] = ctx->in[0]->data[idx];
    }
}

const nn_op_def nn_op_slice = {
    .name = "slice",
    .infer = slice_infer,
    .run = slice_run,
    .run_ref = slice_run_ref,
};
