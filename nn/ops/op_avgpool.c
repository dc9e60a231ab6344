/* op_avgpool.c — 2-D AveragePool (ONNX opset 13): X [N, C, H, W] ->
 * [N, C, OH, OW] with kernel_shape, strides, pads [top, left, bottom,
 * right], ceil_mode and count_include_pad. The divisor matches PyTorch's
 * avg_pool2d: count_include_pad 0 counts in-bounds taps; 1 counts taps
 * inside the padded extent [-pad_begin, size + pad_end), so ceil-mode
 * windows hanging past the end padding are clipped there. */
#include "nn/nn_ops.h"
#include "nn/nn_pool.h"
#include "nn/ops/op_util.h"

static nn_status avgpool_geom(const nn_node *node, const nn_shape *x, nn_geom2d *g,
                              int *include_pad, nn_err *e)
{
    nn_status st;
    if (x->ndim != 4)
        return nn_err_set(e, NN_ERR_UNSUPPORTED,
                          "node %s (AveragePool): input has %d dims, only 2-D pooling (4)",
                          node->name, x->ndim);
    *include_pad = (int)nn_node_get_int(node, "count_include_pad", 0);
    if (*include_pad != 0 && *include_pad != 1)
        return nn_err_set(e, NN_ERR_FORMAT, "node %s (AveragePool): count_include_pad %d not 0/1",
                          node->name, *include_pad);
    if ((st = nn_geom2d_parse(node, "AveragePool", 0, 0, 0, 1, g, e)) != NN_OK)
        return st;
    return nn_geom2d_output(g, node, "AveragePool", x->d[2], x->d[3], e);
}

static nn_status avgpool_infer(const nn_node *node, const nn_shape *const *in, int n_in,
                               nn_shape *out, nn_err *e)
{
    nn_geom2d g;
    int inc;
    nn_status st;
    (void)n_in;
    if ((st = avgpool_geom(node, in[0], &g, &inc, e)) != NN_OK)
        return st;
    *out = nn_shape4(in[0]->d[0], in[0]->d[1], g.oh, g.ow);
    return NN_OK;
}

/* Taps of the window starting at `start` that count towards the divisor
 * along one axis of size `in` with end padding `pe`. */
static int64_t avgpool_count(int64_t start, int64_t k, int64_t in, int64_t pe, int include_pad)
{
    int64_t k0, k1;
    if (include_pad) {
        int64_t end = start + k < in + pe ? start + k : in + pe;
        return end - start;
    }
    nn_geom_taps(start, 1, k, in, &k0, &k1);
    return k1 > k0 ? k1 - k0 : 0;
}

typedef struct avgpool_task {
    nn_geom2d g;
    int include_pad;
    const float *x;
    float *y;
} avgpool_task;

/* Planes [begin, end): each output row sums the shifted input rows of its
 * window, then divides per column. */
static void avgpool_planes(void *arg, int64_t begin, int64_t end)
{
    const avgpool_task *t = arg;
    const nn_geom2d *g = &t->g;
    for (int64_t pl = begin; pl < end; pl++) {
        const float *x = t->x + pl * g->ih * g->iw;
        float *y = t->y + pl * g->oh * g->ow;
        for (int64_t oy = 0; oy < g->oh; oy++) {
            float *yr = y + oy * g->ow;
            int64_t ky0, ky1, ch;
            for (int64_t ox = 0; ox < g->ow; ox++)
                yr[ox] = 0.0f;
            nn_geom_taps(oy * g->sh - g->pt, 1, g->kh, g->ih, &ky0, &ky1);
            for (int64_t ky = ky0; ky < ky1; ky++) {
                const float *xr = x + (oy * g->sh - g->pt + ky) * g->iw;
                for (int64_t kx = 0; kx < g->kw; kx++) {
                    int64_t off = kx - g->pl, x0, x1;
                    nn_geom_taps(off, g->sw, g->ow, g->iw, &x0, &x1);
                    if (g->sw == 1 && x0 < x1)
                        nn_row_add(yr + x0, xr + (off + x0), x1 - x0);
                    else
                        for (int64_t ox = x0; ox < x1; ox++)
                            yr[ox] += xr[ox * g->sw + off];
                }
            }
            ch = avgpool_count(oy * g->sh - g->pt, g->kh, g->ih, g->pb, t->include_pad);
            for (int64_t ox = 0; ox < g->ow; ox++) {
                int64_t n = ch * avgpool_count(ox * g->sw - g->pl, g->kw, g->iw, g->pr, t->include_pad);
                yr[ox] = n > 0 ? yr[ox] / (float)n : 0.0f;
            }
        }
    }
}

static void avgpool_run(nn_op_ctx *ctx)
{
    avgpool_task t;
    const nn_shape *s = &ctx->in[0]->shape;
    avgpool_geom(ctx->node, s, &t.g, &t.include_pad, NULL);
    t.x = ctx->in[0]->data;
    t.y = ctx->out->data;
    nn_pool_for(ctx->pool, s->d[0] * s->d[1], 1, avgpool_planes, &t);
}

/* Reference: every tap of every window, counting what the divisor counts. */
static void avgpool_run_ref(nn_op_ctx *ctx)
{
    nn_geom2d g;
    int inc;
    const nn_shape *s = &ctx->in[0]->shape;
    const float *x = ctx->in[0]->data;
    float *y = ctx->out->data;
    avgpool_geom(ctx->node, s, &g, &inc, NULL);
    for (int64_t pl = 0; pl < s->d[0] * s->d[1]; pl++)
        for (int64_t oy = 0; oy < g.oh; oy++)
            for (int64_t ox = 0; ox < g.ow; ox++) {
                double sum = 0;
                int64_t n = 0;
                for (int64_t ky = 0; ky < g.kh; ky++)
                    for (int64_t kx = 0; kx < g.kw; kx++) {
                        int64_t iy = oy * g.sh - g.pt + ky;
                        int64_t ix = ox * g.sw - g.pl + kx;
                        int inside = iy >= 0 && iy < g.ih && ix >= 0 && ix < g.iw;
                        if (inside)
                            sum += x[(pl * g.ih + iy) * g.iw + ix];
                        if (inc ? (iy < g.ih + g.pb && ix < g.iw + g.pr) : inside)
                            n++;
                    }
                y[(pl * g.oh + oy) * g.ow + ox] = n > 0 ? (float)(sum / (double)n) : 0.0f;
            }
}

/* One add per tap of every window. */
static int64_t avgpool_macs(const nn_node *node, const nn_shape *const *in, int n_in,
                            const nn_shape *out)
{
    nn_geom2d g;
    int inc;
    (void)n_in;
    if (avgpool_geom(node, in[0], &g, &inc, NULL) != NN_OK)
        return 0;
    return nn_shape_numel(out) * g.kh * g.kw;
}

const nn_op_def nn_op_avgpool = {
    .name = "avgpool",
    .infer = avgpool_infer,
    .run = avgpool_run,
    .run_ref = avgpool_run_ref,
    .macs = avgpool_macs,
};
