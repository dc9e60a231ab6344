/* op_sigmoid.c — Sigmoid: y = 1 / (1 + exp(-x)), any shape.
 * Numerically stable for large |x|: exp is only taken of -|x| <= 0, so it
 * never overflows; y -> 0 for x -> -inf without NaN. Reference: the two-
 * branch definition in double; fast: one vectorised exp (eu_exp4) per
 * element, four lanes at a time, split over the pool. */
#include <math.h>
#include <string.h>

#include "nn/nn_ops.h"
#include "nn/ops/eltwise_util.h"

static nn_status sigmoid_infer(const nn_node *node, const nn_shape *const *in, int n_in,
                               nn_shape *out, nn_err *e)
{
    return eu_unary_infer(node, "Sigmoid", in, n_in, out, e);
}

/* Four lanes: t = exp(-|x|) in (0, 1], s = sigmoid(|x|) = 1 / (1 + t),
 * and sigmoid(-|x|) = t / (1 + t) = t * s for the negative lanes. */
EU_V4_LANES sigmoid4(eu_v4f x, const void *arg)
{
    const eu_v4i sign = {INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN};
    eu_v4f t = eu_exp4((eu_v4f)((eu_v4i)x | sign));
    eu_v4f s = 1.0f / (1.0f + t);
    (void)arg;
    return eu_v4_select(x >= 0.0f, s, t * s);
}

static void sigmoid_range(void *arg, int64_t b, int64_t e)
{
    nn_op_ctx *ctx = arg;
    eu_v4_map(ctx->in[0]->data, ctx->out->data, b, e, sigmoid4, NULL);
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
