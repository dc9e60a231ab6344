/* op_concat.c — Concat of 1..64 inputs along int attribute "axis"
 * (required, in [-r, r-1]); all inputs have the same rank and equal dims
 * except on axis. Viewing each input as [outer, d_axis * inner], the output
 * row o is the concatenation of row o of every input. Reference: per-element
 * index arithmetic; fast: one memcpy per (row, input), rows over the pool. */
#include "nn/nn_ops.h"
#include "nn/ops/eltwise_util.h"

static nn_status concat_infer(const nn_node *node, const nn_shape *const *in, int n_in,
                              nn_shape *out, nn_err *e)
{
    int64_t axis_attr;
    int axis;
    nn_status st;
    if (n_in < 1 || n_in > NN_MAX_IO)
        return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Concat): %d inputs, expected 1..%d",
                          eu_name(node), n_in, NN_MAX_IO);
    if ((st = eu_check_inputs(node, "Concat", in, n_in, n_in, e)) != NN_OK)
        return st;
    if (!nn_node_attr(node, "axis"))
        return nn_err_set(e, NN_ERR_FORMAT, "node '%s' (Concat): attribute axis is missing",
                          eu_name(node));
    if ((st = eu_attr_int(node, "Concat", "axis", 0, &axis_attr, e)) != NN_OK ||
        (st = eu_axis(node, "Concat", axis_attr, in[0]->ndim, 0, &axis, e)) != NN_OK)
        return st;
    *out = *in[0];
    for (int i = 0; i < n_in; i++) {
        int ok = in[i]->ndim == in[0]->ndim;
        for (int d = 0; ok && d < in[0]->ndim; d++)
            ok = d == axis || in[i]->d[d] == in[0]->d[d];
        if (!ok) {
            char a[96], b[96];
            nn_shape_str(in[0], a, sizeof a);
            nn_shape_str(in[i], b, sizeof b);
            return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Concat): input %d shape %s does not match input 0 shape %s off axis %d",
                              eu_name(node), i, b, a, axis);
        }
        if (in[i]->d[axis] < 1 || in[i]->d[axis] > EU_MAX_ELEMS)
            return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Concat): input %d has dim %lld on axis %d",
                              eu_name(node), i, (long long)in[i]->d[axis], axis);
        if (i > 0)
            out->d[axis] += in[i]->d[axis];
        if (out->d[axis] > EU_MAX_ELEMS)
            return nn_err_set(e, NN_ERR_LIMIT, "node '%s' (Concat): output dim %d exceeds %lld",
                              eu_name(node), axis, (long long)EU_MAX_ELEMS);
    }
    return eu_check_out(node, "Concat", out, e);
}

/* Elements of the block [axis:] of s (contiguous per outer row). */
static int64_t concat_block(const nn_shape *s, int axis)
{
    int64_t n = 1;
    for (int d = axis; d < s->ndim; d++)
        n *= s->d[d];
    return n;
}

static int concat_axis(const nn_op_ctx *ctx)
{
    int64_t a = nn_node_get_int(ctx->node, "axis", 0);
    return (int)(a < 0 ? a + ctx->out->shape.ndim : a);
}

typedef struct concat_job {
    nn_op_ctx *ctx;
    int axis;
    int64_t out_block;
} concat_job;

static void concat_range(void *arg, int64_t b, int64_t e)
{
    const concat_job *j = arg;
    const nn_op_ctx *ctx = j->ctx;
    for (int64_t o = b; o < e; o++) {
        float *y = ctx->out->data + o * j->out_block;
        for (int i = 0; i < ctx->n_in; i++) {
            int64_t blk = concat_block(&ctx->in[i]->shape, j->axis);
            memcpy(y, ctx->in[i]->data + o * blk, (size_t)blk * sizeof(float));
            y += blk;
        }
    }
}

static void concat_run(nn_op_ctx *ctx)
{
    concat_job j;
    int64_t outer;
    j.ctx = ctx;
    j.axis = concat_axis(ctx);
    j.out_block = concat_block(&ctx->out->shape, j.axis);
    outer = nn_shape_numel(&ctx->out->shape) / j.out_block;
    nn_pool_for(ctx->pool, outer, 1 + EU_GRAIN / j.out_block, concat_range, &j);
}

/* Reference: for each output coordinate, find the input whose axis range
 * holds it and read the element at the shifted coordinate. */
static void concat_run_ref(nn_op_ctx *ctx)
{
    const nn_shape *so = &ctx->out->shape;
    int axis = concat_axis(ctx);
    int64_t n = nn_shape_numel(so), c[NN_MAX_DIMS];
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i, idx = 0;
        int k = 0;
        for (int d = so->ndim - 1; d >= 0; d--) {
            c[d] = rem % so->d[d];
            rem /= so->d[d];
        }
        while (c[axis] >= ctx->in[k]->shape.d[axis]) {
            c[axis] -= ctx->in[k]->shape.d[axis];
            k++;
        }
        for (int d = 0; d < so->ndim; d++)
            idx = idx * ctx->in[k]->shape.d[d] + c[d];
        ctx->out->data[i] = ctx->in[k]->data[idx];
    }
}

const nn_op_def nn_op_concat = {
    .name = "concat",
    .infer = concat_infer,
    .run = concat_run,
    .run_ref = concat_run_ref,
};
