/* op_leakyrelu.c — LeakyRelu: y = x >= 0 ? x : alpha * x, any shape.
 * Float attribute "alpha" (default 0.01). Reference: one plain loop; fast:
 * four lanes at a time (branch-free), split over the pool. */
#include "nn/nn_ops.h"
#include "nn/ops/eltwise_util.h"

#define LEAKYRELU_ALPHA_DEFAULT 0.01f

static nn_status leakyrelu_infer(const nn_node *node, const nn_shape *const *in, int n_in,
                                 nn_shape *out, nn_err *e)
{
    float alpha;
    nn_status st = eu_attr_float(node, "LeakyRelu", "alpha", LEAKYRELU_ALPHA_DEFAULT, &alpha, e);
    if (st != NN_OK)
        return st;
    if (!isfinite(alpha))
        return nn_err_set(e, NN_ERR_FORMAT, "node '%s' (LeakyRelu): alpha is not finite",
                          eu_name(node));
    return eu_unary_infer(node, "LeakyRelu", in, n_in, out, e);
}

typedef struct leakyrelu_job {
    const float *x;
    float *y;
    float alpha;
} leakyrelu_job;

/* Four lanes: x where x >= 0, else alpha * x (NaN stays NaN). */
EU_V4_LANES leakyrelu4(eu_v4f x, const void *arg)
{
    const leakyrelu_job *j = arg;
    return eu_v4_select(x >= 0.0f, x, j->alpha * x);
}

static void leakyrelu_range(void *arg, int64_t b, int64_t e)
{
    const leakyrelu_job *j = arg;
    eu_v4_map(j->x, j->y, b, e, leakyrelu4, j);
}

static void leakyrelu_run(nn_op_ctx *ctx)
{
    leakyrelu_job j = {ctx->in[0]->data, ctx->out->data,
                       nn_node_get_float(ctx->node, "alpha", LEAKYRELU_ALPHA_DEFAULT)};
    nn_pool_for(ctx->pool, nn_shape_numel(&ctx->out->shape), EU_GRAIN, leakyrelu_range, &j);
}

static void leakyrelu_run_ref(nn_op_ctx *ctx)
{
    float alpha = nn_node_get_float(ctx->node, "alpha", LEAKYRELU_ALPHA_DEFAULT);
    int64_t n = nn_shape_numel(&ctx->out->shape);
    for (int64_t i = 0; i < n; i++) {
        float v = ctx->in[0]->data[i];
        ctx->out->data[i] = v >= 0.0f ? v : alpha * v;
    }
}

const nn_op_def nn_op_leakyrelu = {
    .name = "leakyrelu",
    .infer = leakyrelu_infer,
    .run = leakyrelu_run,
    .run_ref = leakyrelu_run_ref,
};
