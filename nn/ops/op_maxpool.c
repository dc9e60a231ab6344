/* op_maxpool.c — 2-D MaxPool (ONNX opset 13): X [N, C, H, W] ->
 * [N, C, OH, OW] with kernel_shape, strides, pads [top, left, bottom,
 * right], dilations and ceil_mode. Padding never wins: only in-bounds taps
 * compete (a window with none yields -inf). storage_order must be 0; the
 * optional Indices output is not supported. No multiply-accumulates:
 * macs is left NULL (counts as 0). */
#include <math.h>

#include "nn/nn_ops.h"
#include "nn/nn_pool.h"
#include "nn/ops/op_util.h"

static nn_status maxpool_geom(const nn_node *node, const nn_shape *x, nn_geom2d *g, nn_err *e)
{
    nn_status st;
    if (x->ndim != 4)
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "node %s (MaxPool): input has %d dims, only 2-D pooling (4)",
                          node->name, x->ndim);
    if (nn_node_get_int(node, "storage_order", 0) != 0)
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "node %s (MaxPool): storage_order 1", node->name);
    if ((st = nn_geom2d_parse(node, "MaxPool", 0, 0, 1, 1, g, e)) != NN_OK)
        return st;
    return nn_geom2d_output(g, node, "MaxPool", x->d[2], x->d[3], e);
}

static nn_status maxpool_infer(const nn_node *node, const nn_shape *const *in, int n_in,
                               nn_shape *out, nn_err *e)
{
    nn_geom2d g;
    nn_status st;
    (void)n_in;
    if ((st = maxpool_geom(node, in[0], &g, e)) != NN_OK)
        return st;
    *out = nn_shape4(in[0]->d[0], in[0]->d[1], g.oh, g.ow);
    return NN_OK;
}

typedef struct maxpool_task {
    nn_geom2d g;
    const float *x;
    float *y;
} maxpool_task;

/* Max over the in-bounds taps of output pixel ox; kernel rows [ky0, ky1)
 * are in bounds and start at input row iy0. */
static float maxpool_px(const nn_geom2d *g, const float *x, int64_t iy0, int64_t ky0,
                        int64_t ky1, int64_t ox)
{
    int64_t ix0 = ox * g->sw - g->pl, kx0, kx1;
    float m = -INFINITY;
    nn_geom_taps(ix0, g->dw, g->kw, g->iw, &kx0, &kx1);
    for (int64_t ky = ky0; ky < ky1; ky++) {
        const float *xr = x + (iy0 + ky * g->dh) * g->iw;
        for (int64_t kx = kx0; kx < kx1; kx++) {
            float v = xr[ix0 + kx * g->dw];
            m = v > m ? v : m;
        }
    }
    return m;
}

/* Planes [begin, end). In each output row the interior [xi0, xi1), whose
 * columns are all in bounds, runs 4 pixels at a time in registers. */
static void maxpool_planes(void *arg, int64_t begin, int64_t end)
{
    const maxpool_task *t = arg;
    const nn_geom2d *g = &t->g;
    int64_t xi0, xi1;
    nn_geom_interior(g->ow, g->sw, g->pl, g->dw, g->kw, g->iw, &xi0, &xi1);
    for (int64_t pl = begin; pl < end; pl++) {
        const float *x = t->x + pl * g->ih * g->iw;
        for (int64_t oy = 0; oy < g->oh; oy++) {
            float *yr = t->y + (pl * g->oh + oy) * g->ow;
            int64_t iy0 = oy * g->sh - g->pt, ky0, ky1, ox = 0;
            nn_geom_taps(iy0, g->dh, g->kh, g->ih, &ky0, &ky1);
            for (; ox < xi0; ox++)
                yr[ox] = maxpool_px(g, x, iy0, ky0, ky1, ox);
            for (; ox + 4 <= xi1; ox += 4) {
                nn_f4 m = nn_f4_set1(-INFINITY);
                for (int64_t ky = ky0; ky < ky1; ky++) {
                    const float *xr = x + (iy0 + ky * g->dh) * g->iw + ox * g->sw - g->pl;
                    for (int64_t kx = 0; kx < g->kw; kx++) {
                        nn_f4 v = nn_f4_gather(xr + kx * g->dw, g->sw);
                        m = nn_f4_select(v > m, v, m);
                    }
                }
                nn_f4_store(yr + ox, m);
            }
            for (; ox < g->ow; ox++)
                yr[ox] = maxpool_px(g, x, iy0, ky0, ky1, ox);
        }
    }
}

static void maxpool_run(nn_op_ctx *ctx)
{
    maxpool_task t;
    const nn_shape *s = &ctx->in[0]->shape;
    maxpool_geom(ctx->node, s, &t.g, NULL);
    t.x = ctx->in[0]->data;
    t.y = ctx->out->data;
    nn_pool_for(ctx->pool, s->d[0] * s->d[1], 1, maxpool_planes, &t);
}

static void maxpool_run_ref(nn_op_ctx *ctx)
{
    nn_geom2d g;
    const nn_shape *s = &ctx->in[0]->shape;
    const float *x = ctx->in[0]->data;
    float *y = ctx->out->data;
    maxpool_geom(ctx->node, s, &g, NULL);
    for (int64_t pl = 0; pl < s->d[0] * s->d[1]; pl++)
        for (int64_t oy = 0; oy < g.oh; oy++)
            for (int64_t ox = 0; ox < g.ow; ox++) {
                float m = -INFINITY;
                for (int64_t ky = 0; ky < g.kh; ky++)
                    for (int64_t kx = 0; kx < g.kw; kx++) {
                        int64_t iy = oy * g.sh - g.pt + ky * g.dh;
                        int64_t ix = ox * g.sw - g.pl + kx * g.dw;
                        if (iy >= 0 && iy < g.ih && ix >= 0 && ix < g.iw &&
                            x[(pl * g.ih + iy) * g.iw + ix] > m)
                            m = x[(pl * g.ih + iy) * g.iw + ix];
                    }
                y[(pl * g.oh + oy) * g.ow + ox] = m;
            }
}

const nn_op_def nn_op_maxpool = {
    .name = "maxpool",
    .infer = maxpool_infer,
    .run = maxpool_run,
    .run_ref = maxpool_run_ref,
};
