/* op_clip.c — Clip: y = min(max(x, min), max), any shape.
 * Float attributes "min" (default -inf) and "max" (default +inf); NaN or
 * min > max is rejected. Reference: one plain loop; fast: four lanes at a
 * time, split over the pool. */
#include <math.h>

#include "nn/nn_ops.h"
#include "nn/ops/eltwise_util.h"

/* Reads and validates min/max (shared by infer and the kernels). */
static nn_status clip_bounds(const nn_node *node, float *lo, float *hi, nn_err *e)
{
    nn_status st;
    if ((st = eu_attr_float(node, "Clip", "min", -INFINITY, lo, e)) != NN_OK ||
        (st = eu_attr_float(node, "Clip", "max", INFINITY, hi, e)) != NN_OK)
        return st;
    if (*lo > *hi)
        return nn_err_set(e, NN_ERR_FORMAT, "node '%s' (Clip): min %g > max %g",
                          eu_name(node), (double)*lo, (double)*hi);
    return NN_OK;
}

static nn_status clip_infer(const nn_node *node, const nn_shape *const *in, int n_in,
                            nn_shape *out, nn_err *e)
{
    float lo, hi;
    nn_status st = clip_bounds(node, &lo, &hi, e);
    if (st != NN_OK)
        return st;
    return eu_unary_infer(node, "Clip", in, n_in, out, e);
}

typedef struct clip_job {
    const float *x;
    float *y;
    float lo, hi;
} clip_job;

/* Four lanes: lo where x < lo, hi where x > hi, else x (NaN stays NaN). */
EU_V4_LANES clip4(eu_v4f x, const void *arg)
{
    const clip_job *j = arg;
    eu_v4f lo = {j->lo, j->lo, j->lo, j->lo}, hi = {j->hi, j->hi, j->hi, j->hi};
    x = eu_v4_select(x < lo, lo, x);
    return eu_v4_select(x > hi, hi, x);
}

static void clip_range(void *arg, int64_t b, int64_t e)
{
    const clip_job *j = arg;
    eu_v4_map(j->x, j->y, b, e, clip4, j);
}

static void clip_run(nn_op_ctx *ctx)
{
    clip_job j = {ctx->in[0]->data, ctx->out->data, 0.0f, 0.0f};
    clip_bounds(ctx->node, &j.lo, &j.hi, NULL);
    nn_pool_for(ctx->pool, nn_shape_numel(&ctx->out->shape), EU_GRAIN, clip_range, &j);
}

static void clip_run_ref(nn_op_ctx *ctx)
{
    float lo, hi;
    int64_t n = nn_shape_numel(&ctx->out->shape);
    clip_bounds(ctx->node, &lo, &hi, NULL);
    for (int64_t i = 0; i < n; i++) {
        float v = ctx->in[0]->data[i];
        if (v < lo)
            v = lo;
        if (v > hi)
            v = hi;
        ctx->out->data[i] = v;
    }
}

const nn_op_def nn_op_clip = {
    .name = "clip",
    .infer = clip_infer,
    .run = clip_run,
    .run_ref = clip_run_ref,
};
