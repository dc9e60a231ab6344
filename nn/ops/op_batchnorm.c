/* op_batchnorm.c — BatchNormalization in inference mode (ONNX opset 13),
 * for the cases nn_graph_optimize could not fold into a Conv/Gemm:
 * X [N, C, ...] (rank >= 2, channel = dim 1), scale, B, mean, var all [C];
 * y = (x - mean) / sqrt(var + epsilon) * scale + B, then the fused
 * activation. The fast kernel turns each channel into one multiply-add. */
#include <math.h>

#include "nn/nn_ops.h"
#include "nn/nn_pool.h"
#include "nn/ops/op_util.h"

static const char *const bn_names[5] = {"X", "scale", "B", "mean", "var"};

static nn_status bn_infer(const nn_node *node, const nn_shape *const *in, int n_in,
                          nn_shape *out, nn_err *e)
{
    const nn_shape *x = in[0];
    if (n_in != 5)
        return nn_err_set(e, NN_ERR_FORMAT, "node %s (BatchNormalization): %d inputs, expected 5",
                          node->name, n_in);
    if (x->ndim < 2)
        return nn_err_set(e, NN_ERR_SHAPE, "node %s (BatchNormalization): input has %d dims, expected >= 2",
                          node->name, x->ndim);
    for (int i = 1; i < 5; i++)
        if (!in[i] || in[i]->ndim != 1 || in[i]->d[0] != x->d[1])
            return nn_err_set(e, NN_ERR_SHAPE, "node %s (BatchNormalization): %s is not [%lld]",
                              node->name, bn_names[i], (long long)x->d[1]);
    *out = *x;
    return NN_OK;
}

typedef struct bn_task {
    const nn_op_ctx *ctx;
    int64_t C, plane;
    float eps;
    nn_act_params act;
} bn_task;

/* Planes [begin, end) of the N*C planes, each y = x * a + b. */
static void bn_planes(void *arg, int64_t begin, int64_t end)
{
    const bn_task *t = arg;
    const nn_op_ctx *ctx = t->ctx;
    const float *scale = ctx->in[1]->data, *bias = ctx->in[2]->data;
    const float *mean = ctx->in[3]->data, *var = ctx->in[4]->data;
    for (int64_t pl = begin; pl < end; pl++) {
        int64_t c = pl % t->C;
        float a = scale[c] / sqrtf(var[c] + t->eps);
        float b = bias[c] - mean[c] * a;
        const float *x = ctx->in[0]->data + pl * t->plane;
        float *y = ctx->out->data + pl * t->plane;
        nn_row_scale(y, x, a, t->plane);
        nn_store_bias_act(y, t->plane, b, &t->act);
    }
}

static void bn_task_init(const nn_op_ctx *ctx, bn_task *t)
{
    const nn_shape *s = &ctx->in[0]->shape;
    t->ctx = ctx;
    t->C = s->d[1];
    t->plane = 1;
    for (int i = 2; i < s->ndim; i++)
        t->plane *= s->d[i];
    t->eps = nn_node_get_float(ctx->node, "epsilon", 1e-5f);
    t->act = nn_act_from_node(ctx->node);
}

static void bn_run(nn_op_ctx *ctx)
{
    bn_task t;
    bn_task_init(ctx, &t);
    nn_pool_for(ctx->pool, ctx->in[0]->shape.d[0] * t.C, 1, bn_planes, &t);
}

static void bn_run_ref(nn_op_ctx *ctx)
{
    bn_task t;
    int64_t n = ctx->in[0]->shape.d[0];
    bn_task_init(ctx, &t);
    for (int64_t i = 0; i < n; i++)
        for (int64_t c = 0; c < t.C; c++)
            for (int64_t k = 0; k < t.plane; k++) {
                int64_t at = (i * t.C + c) * t.plane + k;
                float x = ctx->in[0]->data[at];
                ctx->out->data[at] = (x - ctx->in[3]->data[c]) / sqrtf(ctx->in[4]->data[c] + t.eps) *
                                         ctx->in[1]->data[c] + ctx->in[2]->data[c];
            }
    nn_act_apply(&t.act, ctx->out->data, n * t.C * t.plane);
}

static int64_t bn_macs(const nn_node *node, const nn_shape *const *in, int n_in,
                       const nn_shape *out)
{
    (void)node;
    (void)in;
    (void)n_in;
    return nn_shape_numel(out);
}

const nn_op_def nn_op_batchnorm = {
    .name = "batchnorm",
    .infer = bn_infer,
    .run = bn_run,
    .run_ref = bn_run_ref,
    .macs = bn_macs,
};
