/* op_softmax.c — Softmax, numerically stable (the max is subtracted before
 * exp). Int attribute "axis" (default -1) in [-r, r-1]. Opset 13 semantics:
 * softmax along that one axis, i.e. over x viewed as [outer, n, inner] with
 * n = d[axis]. Int attribute "coerce_2d" = 1 gives the opset < 13
 * semantics: x coerced to 2-D at axis, softmax over each row of
 * prod(d[axis:]) elements (n = that product, inner = 1).
 * Reference: per (outer, inner) column, plain loops with a double sum.
 * Fast: rows (inner == 1) or 64-column strips of [n, inner] blocks over the
 * pool, with the column maxima and sums on the stack, exp vectorised
 * (eu_exp_inplace). */
#include <math.h>

#include "nn/nn_ops.h"
#include "nn/ops/eltwise_util.h"

#define SOFTMAX_STRIP 64

/* x viewed as [outer, n, inner]; softmax runs over n. */
typedef struct softmax_dims {
    int64_t outer, n, inner;
} softmax_dims;

static nn_status softmax_dims_of(const nn_node *node, const nn_shape *x, softmax_dims *sd, nn_err *e)
{
    int64_t axis_attr, coerce;
    int axis;
    nn_status st;
    if ((st = eu_attr_int(node, "Softmax", "axis", -1, &axis_attr, e)) != NN_OK ||
        (st = eu_attr_int(node, "Softmax", "coerce_2d", 0, &coerce, e)) != NN_OK ||
        (st = eu_axis(node, "Softmax", axis_attr, x->ndim, 0, &axis, e)) != NN_OK)
        return st;
    if (coerce != 0 && coerce != 1)
        return nn_err_set(e, NN_ERR_FORMAT, "node '%s' (Softmax): coerce_2d must be 0 or 1",
                          eu_name(node));
    sd->outer = sd->n = sd->inner = 1;
    for (int d = 0; d < x->ndim; d++) {
        if (d < axis)
            sd->outer *= x->d[d];
        else if (d == axis || coerce)
            sd->n *= x->d[d];
        else
            sd->inner *= x->d[d];
    }
    return NN_OK;
}

static nn_status softmax_infer(const nn_node *node, const nn_shape *const *in, int n_in,
                               nn_shape *out, nn_err *e)
{
    softmax_dims sd;
    nn_status st = eu_unary_infer(node, "Softmax", in, n_in, out, e);
    if (st != NN_OK)
        return st;
    return softmax_dims_of(node, in[0], &sd, e);
}

typedef struct softmax_job {
    const float *x;
    float *y;
    softmax_dims sd;
    int64_t strips;         /* column strips per outer block */
} softmax_job;

/* Contiguous rows [b, e) of length n. */
static void softmax_rows(void *arg, int64_t b, int64_t e)
{
    const softmax_job *j = arg;
    int64_t n = j->sd.n;
    for (int64_t r = b; r < e; r++) {
        const float *x = j->x + r * n;
        float *y = j->y + r * n;
        float mx = x[0], sum, inv;
        for (int64_t k = 1; k < n; k++)
            mx = x[k] > mx ? x[k] : mx;
        for (int64_t k = 0; k < n; k++)
            y[k] = x[k] - mx;
        sum = eu_exp_inplace(y, n);
        inv = 1.0f / sum;
        for (int64_t k = 0; k < n; k++)
            y[k] *= inv;
    }
}

/* Items [b, e) = (outer block, strip of SOFTMAX_STRIP columns). */
static void softmax_strips(void *arg, int64_t b, int64_t e)
{
    const softmax_job *j = arg;
    int64_t n = j->sd.n, inner = j->sd.inner;
    float mx[SOFTMAX_STRIP], sum[SOFTMAX_STRIP];
    for (int64_t it = b; it < e; it++) {
        int64_t o = it / j->strips, c0 = (it % j->strips) * SOFTMAX_STRIP;
        int64_t w = inner - c0 < SOFTMAX_STRIP ? inner - c0 : SOFTMAX_STRIP;
        const float *x = j->x + o * n * inner + c0;
        float *y = j->y + o * n * inner + c0;
        for (int64_t c = 0; c < w; c++) {
            mx[c] = x[c];
            sum[c] = 0.0f;
        }
        for (int64_t k = 1; k < n; k++)
            for (int64_t c = 0; c < w; c++)
                mx[c] = x[k * inner + c] > mx[c] ? x[k * inner + c] : mx[c];
        for (int64_t k = 0; k < n; k++) {
            float *yk = y + k * inner;
            for (int64_t c = 0; c < w; c++)
                yk[c] = x[k * inner + c] - mx[c];
            eu_exp_inplace(yk, w);
            for (int64_t c = 0; c < w; c++)
                sum[c] += yk[c];
        }
        for (int64_t c = 0; c < w; c++)
            sum[c] = 1.0f / sum[c];
        for (int64_t k = 0; k < n; k++)
            for (int64_t c = 0; c < w; c++)
                y[k * inner + c] *= sum[c];
    }
}

static void softmax_run(nn_op_ctx *ctx)
{
    softmax_job j;
    j.x = ctx->in[0]->data;
    j.y = ctx->out->data;
    softmax_dims_of(ctx->node, &ctx->in[0]->shape, &j.sd, NULL);
    if (j.sd.inner == 1) {
        nn_pool_for(ctx->pool, j.sd.outer, 1 + EU_GRAIN / (4 * j.sd.n), softmax_rows, &j);
        return;
    }
    j.strips = (j.sd.inner + SOFTMAX_STRIP - 1) / SOFTMAX_STRIP;
    nn_pool_for(ctx->pool, j.sd.outer * j.strips, 1 + EU_GRAIN / (4 * SOFTMAX_STRIP * j.sd.n),
                softmax_strips, &j);
}

static void softmax_run_ref(nn_op_ctx *ctx)
{
    softmax_dims sd;
    const float *x = ctx->in[0]->data;
    float *y = ctx->out->data;
    softmax_dims_of(ctx->node, &ctx->in[0]->shape, &sd, NULL);
    for (int64_t o = 0; o < sd.outer; o++)
        for (int64_t i = 0; i < sd.inner; i++) {
            int64_t base = o * sd.n * sd.inner + i;
            float mx = x[base];
            double sum = 0;
            for (int64_t k = 1; k < sd.n; k++)
                if (x[base + k * sd.inner] > mx)
                    mx = x[base + k * sd.inner];
            for (int64_t k = 0; k < sd.n; k++)
                sum += exp((double)x[base + k * sd.inner] - mx);
            for (int64_t k = 0; k < sd.n; k++)
                y[base + k * sd.inner] = (float)(exp((double)x[base + k * sd.inner] - mx) / sum);
        }
}

const nn_op_def nn_op_softmax = {
    .name = "softmax",
    .infer = softmax_infer,
    .run = softmax_run,
    .run_ref = softmax_run_ref,
};
