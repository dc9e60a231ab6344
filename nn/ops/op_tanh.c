/* op_tanh.c — Tanh: y = tanh(x), any shape.
 * Reference: libm tanh in double; fast: tanhf split over the pool. */
#include <math.h>

#include "nn/nn_ops.h"
#include "nn/ops/eltwise_util.h"

static nn_status tanh_infer(const nn_node *node, const nn_shape *const *in, int n_in,
                            nn_shape *out, nn_err *e)
{
    return eu_unary_infer(node, "Tanh", in, n_in, out, e);
}

static void tanh_range(void *arg, int64_t b, int64_t e)
{
    nn_op_ctx *ctx = arg;
    const float *x = ctx->in[0]->data;
    float *y = ctx->out->data;
    for (int64_t i = b; i < e; i++)
        y[i] = tanhf(x[i]);
}

static void tanh_run(nn_op_ctx *ctx)
{
    nn_pool_for(ctx->pool, nn_shape_numel(&ctx->out->shape), EU_GRAIN / 4, tanh_range, ctx);
}

static void tanh_run_ref(nn_op_ctx *ctx)
{
    int64_t n = nn_shape_numel(&ctx->out->shape);
    for (int64_t i = 0; i < n; i++)
        ctx->out->data[i] = (float)tanh((double)ctx->in[0]->data[i]);
}

const nn_op_def nn_op_tanh = {
    .name = "tanh",
    .infer = tanh_infer,
    .run = tanh_run,
    .run_ref = tanh_run_ref,
};
