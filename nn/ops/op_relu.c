/* op_relu.c — Relu: y = max(x, 0), any shape.
 * Reference: one plain loop. Fast: four lanes at a time, split over the pool.
 * NaN propagates (x < 0 is false for NaN) in both kernels. */
#include "nn/nn_ops.h"
#include "nn/ops/eltwise_util.h"

static nn_status relu_infer(const nn_node *node, const nn_shape *const *in, int n_in,
                            nn_shape *out, nn_err *e)
{
    return eu_unary_infer(node, "Relu", in, n_in, out, e);
}

/* Four lanes: 0 where x < 0, else x (NaN stays NaN). */
EU_V4_LANES relu4(eu_v4f x, const void *arg)
{
    const eu_v4f zero = {0, 0, 0, 0};
    (void)arg;
    return eu_v4_select(x < 0.0f, zero, x);
}

static void relu_range(void *arg, int64_t b, int64_t e)
{
    nn_op_ctx *ctx = arg;
    eu_v4_map(ctx->in[0]->data, ctx->out->data, b, e, relu4, NULL);
}

static void relu_run(nn_op_ctx *ctx)
{
    nn_pool_for(ctx->pool, nn_shape_numel(&ctx->out->shape), EU_GRAIN, relu_range, ctx);
}

static void relu_run_ref(nn_op_ctx *ctx)
{
    int64_t n = nn_shape_numel(&ctx->out->shape);
    for (int64_t i = 0; i < n; i++) {
        float v = ctx->in[0]->data[i];
        ctx->out->data[i] = v < 0.0f ? 0.0f : v;
    }
}

const nn_op_def nn_op_relu = {
    .name = "relu",
    .infer = relu_infer,
    .run = relu_run,
    .run_ref = relu_run_ref,
};
