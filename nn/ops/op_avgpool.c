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

/* Taps of the window [start, start + k) that count towards the divisor
 * along one axis of size `in` with end padding `pe` (no divisions: this
 * runs once per output pixel). */
static int64_t avgpool_count(int64_t start, int64_t k, int64_t in, int64_t pe, int include_pad)
{
    int64_t lo = start, hi = start + k;
    if (include_pad) {
        hi = hi < in + pe ? hi : in + pe;
    } else {
        lo = lo > 0 ? lo : 0;
        hi = hi < in ? hi : in;
    }
    return hi > lo ? hi - lo : 0;
}

typedef struct avgpool_task {
    nn_geom2d g;
    int include_pad;
    const float *x;
    float *y;
} avgpool_task;

/* Average of output pixel ox checking columns; kernel rows [ky0, ky1)
 * are in bounds and start at input row iy0; ch: the row part of the
 * divisor. */
static float avgpool_px(const avgpool_task *t, const float *x, int64_t iy0, int64_t ky0,
                        int64_t ky1, int64_t ch, int64_t ox)
{
    const nn_geom2d *g = &t->g;
    int64_t ix0 = ox * g->sw - g->pl, kx0, kx1;
    int64_t n = ch * avgpool_count(ix0, g->kw, g->iw, g->pr, t->include_pad);
    float s = 0.0f;
    nn_geom_taps(ix0, 1, g->kw, g->iw, &kx0, &kx1);
    for (int64_t ky = ky0; ky < ky1; ky++) {
        const float *xr = x + (iy0 + ky) * g->iw;
        for (int64_t kx = kx0; kx < kx1; kx++)
            s += xr[ix0 + kx];
    }
    return n > 0 ? s / (float)n : 0.0f;
}

/* Planes [begin, end). In each output row the interior [xi0, xi1), whose
 * columns are all in bounds (divisor ch * kw), runs 4 pixels at a time in
 * registers. */
static void avgpool_planes(void *arg, int64_t begin, int64_t end)
{
    const avgpool_task *t = arg;
    const nn_geom2d *g = &t->g;
    int64_t xi0, xi1;
    nn_geom_interior(g->ow, g->sw, g->pl, 1, g->kw, g->iw, &xi0, &xi1);
    for (int64_t pl = begin; pl < end; pl++) {
        const float *x = t->x + pl * g->ih * g->iw;
        for (int64_t oy = 0; oy < g->oh; oy++) {
            float *yr = t->y + (pl * g->oh + oy) * g->ow;
            int64_t iy0 = oy * g->sh - g->pt, ky0, ky1, ox = 0;
            int64_t ch = avgpool_count(iy0, g->kh, g->ih, g->pb, t->include_pad);
            nn_f4 div = nn_f4_set1((float)(ch * g->kw));
            nn_geom_taps(iy0, 1, g->kh, g->ih, &ky0, &ky1);
            for (; ox < xi0; ox++)
                yr[ox] = avgpool_px(t, x, iy0, ky0, ky1, ch, ox);
            for (; ch > 0 && ox + 4 <= xi1; ox += 4) {
                nn_f4 acc = nn_f4_set1(0.0f);
                for (int64_t ky = ky0; ky < ky1; ky++) {
                    const float *xr = x + (iy0 + ky) * g->iw + ox * g->sw - g->pl;
                    for (int64_t kx = 0; kx < g->kw; kx++)
                        acc += nn_f4_gather(xr + kx, g->sw);
                }
                nn_f4_store(yr + ox, acc / div);
            }
            for (; ox < g->ow; ox++)
                yr[ox] = avgpool_px(t, x, iy0, ky0, ky1, ch, ox);
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
