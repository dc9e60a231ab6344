/* op_sigmoid.c — Sigmoid: y = 1 / (1 + exp(-x)), any shape.
 * Numerically stable for large |x|: exp is only taken of -|x| <= 0, so it
 * never overflows; y -> 0 for x -> -inf without NaN. Reference: the two-
 * branch definition; fast: one exp per element, split over the pool. */
#include <math.h>

#include "nn/nn_ops.h"
#include "nn/ops/eltwise_util.h"

static nn_status sigmoid_infer(const nn_node *node, const nn_shape *const *in, int n_in,
                               nn_shape *out, nn_err *e)
{
    return eu_unary_infer(node, "Sigmoid", in, n_in, out, e);
}

static void sigmoid_range(void *arg, int64_t b, int64_t e)
{
    nn_op_ctx *ctx = arg;
    const float *x = ctx->in[0]->data;
    float *y = ctx->out->data;
    for (int64_t i = b; i < e; i++) {
        float t = expf(-fabsf(x[i]));      /* in (0, 1] */
        float s = 1.0f / (1.0f + t);       /* sigmoid(|x|) */
        y[i] = x[i] >= 0.0f ? s : t * s;   /* sigmoid(-|x|) = t / (1 + t) */
    }
}

static void sigmoid_run(nn_op_ctx *ctx)
{
    nn_pool_for(ctx->pool, nn_shape_numel(&ctx->out->shape), EU_GRAIN / 4, sigmoid_range, ctx);
}

static void sigmoid_run_ref(nn_op_ctx *ctx)
{
    int64_t n = nn_shape_numel(&ctx->out->shape);
    for (int64_t i = 0; i < n; i++) {
        double v = ctx->in[0]->data[i];
        double r;
        if (v >= 0) {
            r = 1.0 / (1.0 + exp(-v));
        } else {
            double ev = exp(v);
            r = ev / (1.0 + ev);
        }
        ctx->out->data[i] = (float)r;
    }
}

const nn_op_def nn_op_sigmoid = {
    .name = "sigmoid",
    .infer = sigmoid_infer,
    .run = sigmoid_run,
    .run_ref = sigmoid_run_ref,
};
