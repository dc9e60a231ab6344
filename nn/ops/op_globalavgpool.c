/* op_globalavgpool.c — GlobalAveragePool (ONNX opset 13): X [N, C, D1, ...]
 * (rank >= 3) -> [N, C, 1, ...], the mean over every dim after the channel.
 * Both kernels accumulate in double so that large planes (e.g. 224x224)
 * keep full float precision. */
#include "nn/nn_ops.h"
#include "nn/nn_pool.h"

static nn_status gap_infer(const nn_node *node, const nn_shape *const *in, int n_in,
                           nn_shape *out, nn_err *e)
{
    (void)n_in;
    if (in[0]->ndim < 3)
        return nn_err_set(e, NN_ERR_SHAPE, "node %s (GlobalAveragePool): input has %d dims, expected >= 3",
                          node->name, in[0]->ndim);
    for (int i = 2; i < in[0]->ndim; i++)
        if (in[0]->d[i] < 1)
            return nn_err_set(e, NN_ERR_SHAPE, "node %s (GlobalAveragePool): empty spatial dim", node->name);
    *out = *in[0];
    for (int i = 2; i < out->ndim; i++)
        out->d[i] = 1;
    return NN_OK;
}

static int64_t gap_plane(const nn_shape *s)
{
    int64_t n = 1;
    for (int i = 2; i < s->ndim; i++)
        n *= s->d[i];
    return n;
}

typedef struct gap_task {
    const float *x;
    float *y;
    int64_t plane;
} gap_task;

/* Planes [begin, end), four independent partial sums each. */
static void gap_planes(void *arg, int64_t begin, int64_t end)
{
    const gap_task *t = arg;
    for (int64_t pl = begin; pl < end; pl++) {
        const float *x = t->x + pl * t->plane;
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int64_t i = 0;
        for (; i + 4 <= t->plane; i += 4) {
            s0 += x[i];
            s1 += x[i + 1];
            s2 += x[i + 2];
            s3 += x[i + 3];
        }
        for (; i < t->plane; i++)
            s0 += x[i];
        t->y[pl] = (float)((s0 + s1 + s2 + s3) / (double)t->plane);
    }
}

static void gap_run(nn_op_ctx *ctx)
{
    const nn_shape *s = &ctx->in[0]->shape;
    gap_task t = {ctx->in[0]->data, ctx->out->data, gap_plane(s)};
    nn_pool_for(ctx->pool, s->d[0] * s->d[1], 1, gap_planes, &t);
}

static void gap_run_ref(nn_op_ctx *ctx)
{
    const nn_shape *s = &ctx->in[0]->shape;
    int64_t plane = gap_plane(s);
    for (int64_t pl = 0; pl < s->d[0] * s->d[1]; pl++) {
        double sum = 0;
        for (int64_t i = 0; i < plane; i++)
            sum += ctx->in[0]->data[pl * plane + i];
        ctx->out->data[pl] = (float)(sum / (double)plane);
    }
}

/* One add per input element. */
static int64_t gap_macs(const nn_node *node, const nn_shape *const *in, int n_in,
                        const nn_shape *out)
{
    (void)node;
    (void)n_in;
    (void)out;
    return nn_shape_numel(in[0]);
}

const nn_op_def nn_op_globalavgpool = {
    .name = "globalavgpool",
    .infer = gap_infer,
    .run = gap_run,
    .run_ref = gap_run_ref,
    .macs = gap_macs,
};
