/* op_conv.c — 2-D Conv (ONNX opset 13): X [N, C, H, W], W [O, C/group,
 * KH, KW], optional bias [O]; strides, pads [top, left, bottom, right],
 * dilations, groups and a fused output activation. An optional 4th input R
 * (a residual Add fused by nn_graph_optimize) makes the node
 * Y = act(Conv(X) + R) with Add's numpy broadcasting (R of rank <= 4).
 * Fast paths (ISA chosen at prepare):
 *  - GEMM (conv_gemm.c): im2col / 1x1 into our sgemm;
 *  - WINO (conv_wino.c): 3x3 stride-1 and stride-2 convs by Winograd;
 *  - DIRECT (here): one input channel per group (depthwise) is a direct loop.
 * Bias, residual and activation are fused into the GEMM store / output
 * transform (a residual that broadcasts takes a slower second pass).
 * Threads share (batch, group, pixel tile, channel block) items, never
 * the K reduction, so results do not depend on the thread count. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "nn/ops/conv_priv.h"
#include "nn/ops/eltwise_util.h"


/* Y's shape: conv_shape broadcast with the residual r (numpy rules). */
static nn_status conv_res_shape(const nn_node *node, const nn_shape *r, conv_plan *p, nn_err *e)
{
    p->out = p->conv_shape;
    if (!r)
        return NN_OK;
    p->has_res = 1;
    if (r->ndim > 4)
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "node %s (Conv): residual has %d dims (at most 4)",
                          node->name, r->ndim);
    for (int j = 0; j < 4; j++) {
        int jr = j - (4 - r->ndim);
        int64_t dc = p->conv_shape.d[j], dr = jr >= 0 ? r->d[jr] : 1;
        if (dc != dr && dc != 1 && dr != 1)
            return nn_err_set(e, NN_ERR_SHAPE, "node %s (Conv): residual dim %d (%lld) does not "
                              "broadcast with the output's %lld", node->name, j, (long long)dr,
                              (long long)dc);
        p->out.d[j] = dc == 1 ? dr : dc;
    }
    p->res_bcast = !nn_shape_equal(r, &p->conv_shape) || !nn_shape_equal(&p->out, &p->conv_shape);
    return NN_OK;
}

/* A precomputed U (input 4) must be [(m+2)^2, O, C] for the node's
 * "packed" tile m (2 or 4) of a 3x3 stride-1 conv, or [25, O, C] with m = 2
 * for a stride-2 one. */
static nn_status conv_packed_check(const nn_node *node, const nn_shape *u, const conv_plan *p,
                                   nn_err *e)
{
    int64_t m = nn_node_get_int(node, "packed", 0), s = p->g.sh;
    if (m != 2 && m != 4)
        return nn_err_set(e, NN_ERR_SHAPE, "node %s (Conv): precomputed weights with packed=%lld "
                          "(2 or 4 expected)", node->name, (long long)m);
    if (p->g.kh != 3 || p->g.kw != 3 || (s != 1 && s != 2) || p->g.sw != s || (s == 2 && m != 2) ||
        p->g.dh != 1 || p->g.dw != 1 || p->G != 1 || u->ndim != 3 ||
        u->d[0] != (s == 2 ? 25 : (m + 2) * (m + 2)) || u->d[1] != p->O || u->d[2] != p->C)
        return nn_err_set(e, NN_ERR_SHAPE, "node %s (Conv): precomputed weights do not match a "
                          "3x3 stride-1 or -2 conv of %lld->%lld channels with tile %lld",
                          node->name, (long long)p->C, (long long)p->O, (long long)m);
    return NN_OK;
}

static nn_status conv_geom(const nn_node *node, const nn_shape *x, const nn_shape *w,
                           const nn_shape *b, const nn_shape *r, const nn_shape *u, conv_plan *p,
                           nn_err *e)
{
    nn_status st;
    memset(p, 0, sizeof *p);
    if (x->ndim != 4 || w->ndim != 4)
        return nn_err_set(e, NN_ERR_UNSUPPORTED,
                          "node %s (Conv): input has %d dims and weight %d, only 2-D conv (4 and 4)",
                          node->name, x->ndim, w->ndim);
    p->N = x->d[0];
    p->C = x->d[1];
    p->O = w->d[0];
    p->G = nn_node_get_int(node, "group", 1);
    if (p->G < 1 || p->C < 1 || p->O < 1 || p->C % p->G != 0 || p->O % p->G != 0)
        return nn_err_set(e, NN_ERR_SHAPE, "node %s (Conv): group %lld does not divide C=%lld and O=%lld",
                          node->name, (long long)p->G, (long long)p->C, (long long)p->O);
    p->cg = p->C / p->G;
    p->og = p->O / p->G;
    if (w->d[1] != p->cg || w->d[2] < 1 || w->d[3] < 1)
        return nn_err_set(e, NN_ERR_SHAPE,
                          "node %s (Conv): weight %lldx%lldx%lldx%lld, expected %lld input channels per group",
                          node->name, (long long)w->d[0], (long long)w->d[1], (long long)w->d[2],
                          (long long)w->d[3], (long long)p->cg);
    if (b && (b->ndim != 1 || b->d[0] != p->O))
        return nn_err_set(e, NN_ERR_SHAPE, "node %s (Conv): bias is not [%lld]", node->name, (long long)p->O);
    if ((st = nn_geom2d_parse(node, "Conv", w->d[2], w->d[3], 1, 0, &p->g, e)) != NN_OK)
        return st;
    if ((st = nn_geom2d_output(&p->g, node, "Conv", x->d[2], x->d[3], e)) != NN_OK)
        return st;
    p->ohw = p->g.oh * p->g.ow;
    p->kk = p->cg * p->g.kh * p->g.kw;
    if (p->g.ih * p->g.iw > INT_MAX || p->ohw > INT_MAX || p->kk > INT_MAX || p->O > INT_MAX)
        return nn_err_set(e, NN_ERR_LIMIT, "node %s (Conv): sizes exceed the kernel's int range",
                          node->name);
    if (p->cg == 1 && p->G > 1)
        p->mode = CONV_DIRECT;
    else if (conv_wino_fits(p))
        p->mode = CONV_WINO;
    else
        p->mode = CONV_GEMM;
    p->is1x1 = p->g.kh == 1 && p->g.kw == 1 && p->g.sh == 1 && p->g.sw == 1 && p->g.pt == 0 &&
               p->g.pl == 0 && p->g.pb == 0 && p->g.pr == 0;
    p->conv_shape = nn_shape4(p->N, p->O, p->g.oh, p->g.ow);
    if (u && (st = conv_packed_check(node, u, p, e)) != NN_OK)
        return st;
    return conv_res_shape(node, r, p, e);
}

/* Optional inputs: bias (2), residual (3), precomputed weights (4); NULL
 * when absent. */
static const nn_shape *conv_opt_shape(const nn_shape *const *in, int n_in, int i)
{
    return n_in > i ? in[i] : NULL;
}

static nn_status conv_infer(const nn_node *node, const nn_shape *const *in, int n_in,
                            nn_shape *out, nn_err *e)
{
    conv_plan p;
    nn_status st = conv_geom(node, in[0], in[1], conv_opt_shape(in, n_in, 2),
                             conv_opt_shape(in, n_in, 3), conv_opt_shape(in, n_in, 4), &p, e);
    if (st != NN_OK)
        return st;
    *out = p.out;
    return NN_OK;
}

/* Input i of a context, NULL when absent. */
static const nn_tensor *conv_opt_in(const nn_op_ctx *ctx, int i)
{
    return ctx->n_in > i ? ctx->in[i] : NULL;
}

static void conv_ctx_geom(const nn_op_ctx *ctx, conv_plan *p)
{
    const nn_tensor *b = conv_opt_in(ctx, 2), *r = conv_opt_in(ctx, 3), *u = conv_opt_in(ctx, 4);
    conv_geom(ctx->node, &ctx->in[0]->shape, &ctx->in[1]->shape, b ? &b->shape : NULL,
              r ? &r->shape : NULL, u ? &u->shape : NULL, p, NULL);
}

/* Whether the conv's own store clamps from above (a Clip activation that
 * is not deferred to the broadcast-residual pass). */
static int conv_clips(const conv_plan *p, const nn_node *node)
{
    nn_act_params a = nn_act_from_node(node);
    return !p->res_bcast && a.act == NN_ACT_CLIP && a.hi != INFINITY;
}

/* Splits `total` pixels (or tiles) of each of `units` (batch, group) pairs
 * into p->tiles items of p->nb (a multiple of `step`, at most about cap,
 * at least min_nb), as even as possible and so that the items divide
 * evenly over p->slots threads when they can; then, if there are still
 * fewer items than threads, into channel blocks (multiples of the
 * register tile rows). */
void conv_split(conv_plan *p, int64_t units, int64_t total, int64_t cap, int64_t step,
                       int64_t min_nb)
{
    int64_t tiles = (total + cap - 1) / cap, want;
    for (int64_t t = tiles; t < tiles + p->slots; t++)
        if ((units * t) % p->slots == 0) {
            if (t == tiles || total / t >= min_nb)
                tiles = t;
            break;
        }
    /* whole panels per item, unless that leaves the last item under half
     * size (threads would then get unequal work) */
    p->nb = conv_round_up((total + tiles - 1) / tiles, step);
    if (total - (tiles - 1) * p->nb < p->nb / 2)
        p->nb = (total + tiles - 1) / tiles;
    if (p->nb > total)
        p->nb = total;
    p->tiles = (total + p->nb - 1) / p->nb;
    want = (p->slots + units * p->tiles - 1) / (units * p->tiles);   /* blocks per item */
    p->oblocks = want < p->og ? want : p->og;
    p->ob = (p->og + p->oblocks - 1) / p->oblocks;
    if (p->oblocks > 1 && conv_round_up(p->ob, p->k->mr) < p->og)
        p->ob = conv_round_up(p->ob, p->k->mr);
    p->oblocks = (p->og + p->ob - 1) / p->ob;
}

/* The epilogue of image n, output channels [co, ...) (absolute channel
 * index), starting at pixel p0; residual rows are planes (ldr = OH*OW). */
nn_sgemm_epi conv_item_epi(const conv_task *t, int64_t n, int64_t co, int64_t p0)
{
    nn_sgemm_epi ep = t->ep;
    ep.bias_m = t->bias ? t->bias + co : NULL;
    ep.res = t->res ? t->res + (n * t->p->O + co) * t->p->ohw + p0 : NULL;
    ep.ldr = t->p->ohw;
    return ep;
}

static nn_status conv_prepare(nn_op_ctx *ctx, size_t *scratch_bytes, nn_err *e)
{
    conv_plan *p = calloc(1, sizeof *p);
    size_t bytes;
    nn_status st;
    *scratch_bytes = 0;
    if (!p)
        return nn_err_set(e, NN_ERR_NOMEM, "node %s (Conv): plan", ctx->node->name);
    conv_ctx_geom(ctx, p);
    if ((st = nn_sgemm_select(&p->k, e)) != NN_OK) {
        free(p);
        return st;
    }
    p->slots = nn_pool_threads(ctx->pool);
    if (p->mode == CONV_WINO && !ctx->in[1]->data)
        p->mode = CONV_GEMM;            /* weights only known at run */
    if (conv_opt_in(ctx, 4) && !conv_opt_in(ctx, 4)->data) {
        free(p);
        return nn_err_set(e, NN_ERR_INVALID, "node %s (Conv): precomputed weights are not a "
                          "constant", ctx->node->name);
    }
    if (p->mode == CONV_WINO) {
        const nn_tensor *u = conv_opt_in(ctx, 4);
        if ((st = conv_wino_prepare(p, ctx->in[1]->data, u ? u->data : NULL,
                                    nn_node_get_int(ctx->node, "packed", 0),
                                    conv_clips(p, ctx->node), ctx->node->name, e)) != NN_OK) {
            conv_wino_release(p);
            free(p);
            return st;
        }
    } else if (p->mode == CONV_GEMM) {
        if ((st = conv_gemm_prepare(p, ctx->node->name, e)) != NN_OK) {
            free(p);
            return st;
        }
    } else {
        p->slots = 1;
    }
    /* a broadcasting residual (or a depthwise conv with one): the conv
     * result goes to scratch after the slots, then a broadcast Add pass */
    p->res_bcast |= p->has_res && p->mode == CONV_DIRECT;
    p->convbuf_off = conv_round_up(p->slot_floats * p->slots, 16);
    if (nn_size_mul((size_t)p->slot_floats, (size_t)p->slots * sizeof(float), &bytes) != 0 ||
        (p->res_bcast && (nn_size_mul((size_t)nn_shape_numel(&p->conv_shape), sizeof(float), &bytes) != 0 ||
                          nn_size_add(bytes, (size_t)p->convbuf_off * sizeof(float), &bytes) != 0))) {
        conv_wino_release(p);
        free(p);
        return nn_err_set(e, NN_ERR_LIMIT, "node %s (Conv): scratch too large", ctx->node->name);
    }
    *scratch_bytes = bytes;
    ctx->state = p;
    return NN_OK;
}

static void conv_release(void *state)
{
    conv_plan *p = state;
    conv_wino_release(p);
    free(p);
}

static const char *conv_kernel(const void *state)
{
    const conv_plan *p = state;
    if (!p)
        return NULL;
    return p->mode == CONV_WINO ? conv_wino_name(p)
         : p->mode == CONV_GEMM ? conv_gemm_schedule(p)
                                : "direct (depthwise)";
}


/* Output pixel ox of a depthwise-style row (before bias): kernel rows
 * [ky0, ky1) are in bounds and start at input row iy0; columns checked. */
static float conv_direct_px(const nn_geom2d *g, const float *x, const float *w, int64_t iy0,
                            int64_t ky0, int64_t ky1, int64_t ox)
{
    int64_t ix0 = ox * g->sw - g->pl, kx0, kx1;
    float s = 0.0f;
    nn_geom_taps(ix0, g->dw, g->kw, g->iw, &kx0, &kx1);
    for (int64_t ky = ky0; ky < ky1; ky++) {
        const float *xr = x + (iy0 + ky * g->dh) * g->iw;
        for (int64_t kx = kx0; kx < kx1; kx++)
            s += w[ky * g->kw + kx] * xr[ix0 + kx * g->dw];
    }
    return s;
}

/* One output row of a depthwise-style plane: every pixel sums its taps in
 * registers (ky then kx) and is stored once; the interior [xi0, xi1),
 * where all columns are in bounds, skips the checks and runs 16 (stride
 * 1) or 4 pixels at a time. Then bias and activation. */
static void conv_direct_row(const conv_task *t, const float *x, const float *w, float bias,
                            float *yr, int64_t oy, int64_t xi0, int64_t xi1)
{
    const nn_geom2d *g = &t->p->g;
    int64_t iy0 = oy * g->sh - g->pt, ky0, ky1, ox = 0;
    nn_geom_taps(iy0, g->dh, g->kh, g->ih, &ky0, &ky1);
    for (; ox < xi0; ox++)
        yr[ox] = conv_direct_px(g, x, w, iy0, ky0, ky1, ox);
    if (g->sw == 1) {
        /* four independent accumulators hide the add latency */
        for (; ox + 16 <= xi1; ox += 16) {
            nn_f4 a0 = nn_f4_set1(0.0f), a1 = a0, a2 = a0, a3 = a0;
            for (int64_t ky = ky0; ky < ky1; ky++) {
                const float *xr = x + (iy0 + ky * g->dh) * g->iw + ox - g->pl;
                for (int64_t kx = 0; kx < g->kw; kx++) {
                    nn_f4 wv = nn_f4_set1(w[ky * g->kw + kx]);
                    const float *xk = xr + kx * g->dw;
                    a0 += wv * nn_f4_load(xk);
                    a1 += wv * nn_f4_load(xk + 4);
                    a2 += wv * nn_f4_load(xk + 8);
                    a3 += wv * nn_f4_load(xk + 12);
                }
            }
            nn_f4_store(yr + ox, a0);
            nn_f4_store(yr + ox + 4, a1);
            nn_f4_store(yr + ox + 8, a2);
            nn_f4_store(yr + ox + 12, a3);
        }
    }
    /* 4 pixels at a time: stride 2 in two loads and a shuffle where its 8
     * floats stay in the row, else the 4 taps gathered (3-tap rows
     * unrolled); a last partial group of the interior runs as the group
     * ending at xi1, recomputing a few pixels: every vector path here and
     * above adds the taps in the same order (ky, then kx), so they are
     * stored again with the same value */
    for (; ox < xi1 && xi1 - xi0 >= 4; ox += 4) {
        nn_f4 acc = nn_f4_set1(0.0f);
        int64_t o = ox + 4 <= xi1 ? ox : xi1 - 4, ix = o * g->sw - g->pl;
        int even = g->sw == 2 && ix + (g->kw - 1) * g->dw + 8 <= g->iw;
        for (int64_t ky = ky0; ky < ky1; ky++) {
            const float *xr = x + (iy0 + ky * g->dh) * g->iw + ix, *wr = w + ky * g->kw;
            if (even && g->kw == 3 && g->dw == 1) {
                acc += nn_f4_set1(wr[0]) * nn_f4_even(xr);
                acc += nn_f4_set1(wr[1]) * nn_f4_even(xr + 1);
                acc += nn_f4_set1(wr[2]) * nn_f4_even(xr + 2);
            } else if (even)
                for (int64_t kx = 0; kx < g->kw; kx++)
                    acc += nn_f4_set1(wr[kx]) * nn_f4_even(xr + kx * g->dw);
            else
                for (int64_t kx = 0; kx < g->kw; kx++)
                    acc += nn_f4_set1(wr[kx]) * nn_f4_gather(xr + kx * g->dw, g->sw);
        }
        nn_f4_store(yr + o, acc);
    }
    ox = ox > xi1 ? xi1 : ox;
    for (; ox < g->ow; ox++)
        yr[ox] = conv_direct_px(g, x, w, iy0, ky0, ky1, ox);
    nn_store_bias_act(yr, g->ow, bias, &t->act);
}

/* Depthwise-style planes [begin, end) of the N*O planes: one input
 * channel per group, direct loops. */
static void conv_direct_run(void *arg, int64_t begin, int64_t end)
{
    const conv_task *t = arg;
    const conv_plan *p = t->p;
    const nn_geom2d *g = &p->g;
    int64_t xi0, xi1;
    nn_geom_interior(g->ow, g->sw, g->pl, g->dw, g->kw, g->iw, &xi0, &xi1);
    for (int64_t pl = begin; pl < end; pl++) {
        int64_t n = pl / p->O, o = pl % p->O;
        const float *x = t->x + (n * p->C + o / p->og) * g->ih * g->iw;
        const float *w = t->w + o * g->kh * g->kw;
        float bias = t->bias ? t->bias[o] : 0.0f;
        for (int64_t oy = 0; oy < g->oh; oy++)
            conv_direct_row(t, x, w, bias, t->y + pl * p->ohw + oy * g->ow, oy, xi0, xi1);
    }
}

static void conv_run(nn_op_ctx *ctx)
{
    conv_plan *p = ctx->state;
    conv_task t;
    int threads = nn_pool_threads(ctx->pool);
    memset(&t, 0, sizeof t);
    t.p = p;
    t.x = ctx->in[0]->data;
    t.w = ctx->in[1]->data;
    t.bias = ctx->n_in > 2 && ctx->in[2] ? ctx->in[2]->data : NULL;
    t.y = ctx->out->data;
    t.scratch = ctx->scratch;
    t.act = nn_act_from_node(ctx->node);
    if (p->res_bcast) {         /* plain conv into scratch, then act(conv + R) */
        t.y = ctx->scratch + p->convbuf_off;
        t.act.act = NN_ACT_NONE;
    } else if (p->has_res) {
        t.res = ctx->in[3]->data;
    }
    t.ep.clamp = t.act.act != NN_ACT_NONE;
    t.ep.lo = t.act.act == NN_ACT_CLIP ? t.act.lo : 0.0f;
    t.ep.hi = t.act.act == NN_ACT_CLIP ? t.act.hi : INFINITY;
    t.slots = threads < p->slots ? threads : p->slots;
    if (p->mode == CONV_DIRECT)
        nn_pool_for(ctx->pool, p->N * p->O, 1, conv_direct_run, &t);
    else if (p->mode == CONV_WINO)
        conv_wino_run(&t, ctx->pool);
    else
        conv_gemm_run(&t, ctx->pool);
    if (p->res_bcast) {
        eu_bcast_job j;
        eu_bcast_plan(&p->conv_shape, &ctx->in[3]->shape, &p->out, &j.p);
        j.op = EU_ADD;
        j.act = nn_act_from_node(ctx->node);
        j.y = ctx->out->data;
        j.a = t.y;
        j.b = ctx->in[3]->data;
        nn_pool_for(ctx->pool, nn_shape_numel(&p->out), EU_GRAIN, eu_bcast_range, &j);
    }
}

/* The convolution at output (n, o, oy, ox) with bias, by the definition. */
static double conv_ref_at(const conv_plan *p, const float *x, const float *w, const float *bias,
                          int64_t n, int64_t o, int64_t oy, int64_t ox)
{
    const nn_geom2d *g = &p->g;
    int64_t gi = o / p->og;
    double s = bias ? bias[o] : 0.0;
    for (int64_t c = 0; c < p->cg; c++)
        for (int64_t ky = 0; ky < g->kh; ky++)
            for (int64_t kx = 0; kx < g->kw; kx++) {
                int64_t iy = oy * g->sh - g->pt + ky * g->dh;
                int64_t ix = ox * g->sw - g->pl + kx * g->dw;
                if (iy < 0 || iy >= g->ih || ix < 0 || ix >= g->iw)
                    continue;
                s += (double)x[((n * p->C + gi * p->cg + c) * g->ih + iy) * g->iw + ix] *
                     w[((o * p->cg + c) * g->kh + ky) * g->kw + kx];
            }
    return s;
}

/* Reference: the definition, one output element at a time; with a
 * residual, each output coordinate maps to the conv result and to R by
 * broadcasting (a dim of 1 reads index 0), then the activation. */
static void conv_run_ref(nn_op_ctx *ctx)
{
    conv_plan p;
    const float *x = ctx->in[0]->data, *w = ctx->in[1]->data;
    const float *bias = ctx->n_in > 2 && ctx->in[2] ? ctx->in[2]->data : NULL;
    const nn_tensor *r = ctx->n_in > 3 ? ctx->in[3] : NULL;
    float *y = ctx->out->data;
    nn_act_params act = nn_act_from_node(ctx->node);
    int64_t i = 0;
    conv_ctx_geom(ctx, &p);
    for (int64_t n = 0; n < p.out.d[0]; n++)
        for (int64_t o = 0; o < p.out.d[1]; o++)
            for (int64_t oy = 0; oy < p.out.d[2]; oy++)
                for (int64_t ox = 0; ox < p.out.d[3]; ox++, i++) {
                    int64_t c[4] = {n, o, oy, ox}, k[4], ir = 0;
                    for (int d = 0; d < 4; d++)
                        k[d] = p.conv_shape.d[d] == 1 ? 0 : c[d];
                    y[i] = (float)conv_ref_at(&p, x, w, bias, k[0], k[1], k[2], k[3]);
                    if (!r)
                        continue;
                    for (int d = 0; d < r->shape.ndim; d++) {
                        int64_t dim = r->shape.d[d];
                        ir = ir * dim + (dim == 1 ? 0 : c[d + 4 - r->shape.ndim]);
                    }
                    y[i] += r->data[ir];
                }
    nn_act_apply(&act, y, i);
}

static int64_t conv_macs(const nn_node *node, const nn_shape *const *in, int n_in,
                         const nn_shape *out)
{
    conv_plan p;
    (void)out;
    if (conv_geom(node, in[0], in[1], conv_opt_shape(in, n_in, 2), conv_opt_shape(in, n_in, 3),
                  conv_opt_shape(in, n_in, 4), &p, NULL) != NN_OK)
        return 0;
    return p.N * p.O * p.ohw * p.kk;
}

/* Precomputed Winograd weights for the converter (nn_op_def.pack): for a
 * conv with constant weights that runs Winograd at these shapes. */
static nn_status conv_pack(const nn_node *node, const nn_tensor *const *in, int n_in,
                           nn_tensor *packed, int64_t *tag, nn_err *e)
{
    conv_plan p;
    const nn_tensor *b = n_in > 2 ? in[2] : NULL, *r = n_in > 3 ? in[3] : NULL;
    nn_status st = conv_geom(node, &in[0]->shape, &in[1]->shape, b ? &b->shape : NULL,
                             r ? &r->shape : NULL, NULL, &p, e);
    packed->data = NULL;
    if (st != NN_OK || p.mode != CONV_WINO || !in[1]->data)
        return st;
    return conv_wino_pack(&p, in[1]->data, conv_clips(&p, node), packed, tag, e);
}

const nn_op_def nn_op_conv = {
    .name = "conv",
    .infer = conv_infer,
    .prepare = conv_prepare,
    .release = conv_release,
    .kernel = conv_kernel,
    .run = conv_run,
    .run_ref = conv_run_ref,
    .macs = conv_macs,
    .pack = conv_pack,
};
