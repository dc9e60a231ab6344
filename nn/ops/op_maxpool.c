/* op_maxpool.c — 2-D MaxPool (ONNX opset 13): X [N, C, H, W] ->
 * [N, C, OH, OW] with kernel_shape, strides, pads [top, left, bottom,
 * right], dilations and ceil_mode. Padding never wins: only in-bounds taps
 * compete (a window with none yields -inf). storage_order must be 0; the
 * optional Indices output is not supported. No multiply-accumulates:
 * macs is left NULL (counts as 0). */
#include <math.h>
#include <string.h>

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

/* Floats of one thread's row buffer: the input row between -inf margins
 * wide enough for every window of an output row, plus the 8 floats a
 * stride-2 vector reads past its last window. */
static int64_t maxpool_row_floats(const nn_geom2d *g)
{
    return (g->ow + 3) / 4 * 4 * g->sw + (g->kw - 1) * g->dw + 8;
}

typedef struct maxpool_task {
    nn_geom2d g;
    const float *x;
    float *y;
    float *scratch;             /* [slots][row floats] */
    int64_t planes, slots;
} maxpool_task;

/* Output row yr from in-bounds input rows [ky0, ky1) (first at x + iy0 *
 * iw), separably: r = the column-wise max of those rows between -inf
 * margins (r[g->pl + ix] holds column ix; up to three rows in one pass),
 * then each output the max of its kw taps of r (3 taps at stride 2, the
 * ResNet stem's pool, in three stride-2 loads). Comparisons are `v > m`,
 * so NaN never wins and a window with no in-bounds tap yields -inf, as in
 * the reference. */
static void maxpool_row(const nn_geom2d *g, const float *x, int64_t iy0, int64_t ky0, int64_t ky1,
                        float *r, float *yr)
{
    float *c = r + g->pl;
    int64_t ox = 0, ix, ky = ky0;
    if (ky0 >= ky1) {
        for (ix = 0; ix < g->iw; ix++)
            c[ix] = -INFINITY;
    } else {
        const float *x0 = x + (iy0 + ky * g->dh) * g->iw;
        const float *x1 = ky + 1 < ky1 ? x0 + g->dh * g->iw : x0;
        const float *x2 = ky + 2 < ky1 ? x1 + g->dh * g->iw : x1;
        for (ix = 0; ix + 4 <= g->iw; ix += 4)
            nn_f4_store(c + ix, nn_f4_max(nn_f4_load(x2 + ix),
                                          nn_f4_max(nn_f4_load(x1 + ix), nn_f4_load(x0 + ix))));
        for (; ix < g->iw; ix++) {
            float m = x0[ix];
            m = x1[ix] > m ? x1[ix] : m;
            c[ix] = x2[ix] > m ? x2[ix] : m;
        }
        for (ky += 3; ky < ky1; ky++) {
            const float *xr = x + (iy0 + ky * g->dh) * g->iw;
            for (ix = 0; ix + 4 <= g->iw; ix += 4)
                nn_f4_store(c + ix, nn_f4_max(nn_f4_load(xr + ix), nn_f4_load(c + ix)));
            for (; ix < g->iw; ix++)
                c[ix] = xr[ix] > c[ix] ? xr[ix] : c[ix];
        }
    }
    if (g->kw == 3 && g->sw == 2 && g->dw == 1) {
        const nn_f4 ninf = nn_f4_set1(-INFINITY);
        for (; ox + 4 <= g->ow; ox += 4) {
            const float *w = r + ox * 2;
            nn_f4 m = nn_f4_max(nn_f4_even(w), ninf);
            m = nn_f4_max(nn_f4_even(w + 1), m);
            nn_f4_store(yr + ox, nn_f4_max(nn_f4_even(w + 2), m));
        }
    } else {
        for (; ox + 4 <= g->ow; ox += 4) {
            const float *w = r + ox * g->sw;
            nn_f4 m = nn_f4_set1(-INFINITY);
            for (int64_t kx = 0; kx < g->kw; kx++) {
                m = nn_f4_max(g->sw == 2 ? nn_f4_even(w + kx * g->dw) : nn_f4_gather(w + kx * g->dw, g->sw), m);
            }
            nn_f4_store(yr + ox, m);
        }
    }
    for (; ox < g->ow; ox++) {
        float m = -INFINITY;
        for (int64_t kx = 0; kx < g->kw; kx++) {
            float v = r[ox * g->sw + kx * g->dw];
            m = v > m ? v : m;
        }
        yr[ox] = m;
    }
}

/* Slots [begin, end): slot s pools its share of the planes with row
 * buffer s. */
static void maxpool_slots(void *arg, int64_t begin, int64_t end)
{
    const maxpool_task *t = arg;
    const nn_geom2d *g = &t->g;
    int64_t rf = maxpool_row_floats(g);
    for (int64_t s = begin; s < end; s++) {
        float *r = t->scratch + s * rf;
        for (int64_t i = 0; i < rf; i++)
            r[i] = -INFINITY;     /* margins; the middle is rewritten per row */
        for (int64_t pl = s * t->planes / t->slots; pl < (s + 1) * t->planes / t->slots; pl++) {
            const float *x = t->x + pl * g->ih * g->iw;
            for (int64_t oy = 0; oy < g->oh; oy++) {
                int64_t iy0 = oy * g->sh - g->pt, ky0, ky1;
                nn_geom_taps(iy0, g->dh, g->kh, g->ih, &ky0, &ky1);
                maxpool_row(g, x, iy0, ky0, ky1, r, t->y + (pl * g->oh + oy) * g->ow);
            }
        }
    }
}

static nn_status maxpool_prepare(nn_op_ctx *ctx, size_t *scratch_bytes, nn_err *e)
{
    nn_geom2d g;
    nn_status st = maxpool_geom(ctx->node, &ctx->in[0]->shape, &g, e);
    size_t bytes;
    if (st != NN_OK)
        return st;
    if (nn_size_mul((size_t)maxpool_row_floats(&g), (size_t)nn_pool_threads(ctx->pool) * sizeof(float),
                    &bytes) != 0)
        return nn_err_set(e, NN_ERR_LIMIT, "node %s (MaxPool): row buffers too large", ctx->node->name);
    *scratch_bytes = bytes;
    return NN_OK;
}

static void maxpool_run(nn_op_ctx *ctx)
{
    maxpool_task t;
    const nn_shape *s = &ctx->in[0]->shape;
    maxpool_geom(ctx->node, s, &t.g, NULL);
    t.x = ctx->in[0]->data;
    t.y = ctx->out->data;
    t.scratch = ctx->scratch;
    t.planes = s->d[0] * s->d[1];
    t.slots = nn_pool_threads(ctx->pool);
    if (t.slots > t.planes)
        t.slots = t.planes;
    nn_pool_for(ctx->pool, t.slots, 1, maxpool_slots, &t);
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
    .prepare = maxpool_prepare,
    .run = maxpool_run,
    .run_ref = maxpool_run_ref,
};
