/* op_conv.c — 2-D Conv (ONNX opset 13): X [N, C, H, W], W [O, C/group,
 * KH, KW], optional bias [O]; strides, pads [top, left, bottom, right],
 * dilations, groups and a fused output activation. An optional 4th input R
 * (a residual Add fused by nn_graph_optimize) makes the node
 * Y = act(Conv(X) + R) with Add's numpy broadcasting (R of rank <= 4).
 * Fast paths (all on our sgemm of nn/kernels, ISA chosen at prepare):
 *  - GEMM: Y_g [O/g, OH*OW] = W_g [O/g, C/g*KH*KW] (the OIHW weights in
 *    place, read-only) times the im2col matrix of a tile of output pixels,
 *    packed straight into sgemm panels (a 1x1 stride-1 unpadded conv packs
 *    the input rows themselves);
 *  - WINO: 3x3 stride-1 convs with constant weights and enough channels run
 *    Winograd F(2x2, 3x3) with weights transformed once at prepare;
 *  - DIRECT: one input channel per group (depthwise) is a direct loop.
 * Bias, residual and activation are fused into the GEMM store / output
 * transform (a residual that broadcasts takes a slower second pass).
 * Threads share (batch, group, pixel tile, channel block) items, never
 * the K reduction, so results do not depend on the thread count. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "nn/kernels/sgemm.h"
#include "nn/kernels/winograd.h"
#include "nn/nn_ops.h"
#include "nn/nn_pool.h"
#include "nn/ops/eltwise_util.h"
#include "nn/ops/op_util.h"

/* Floats of one thread's packed B tile (512 KB): with the K blocking of the
 * driver only a [KC, tile] slice of it is hot, the rest streams from L2. */
#define CONV_PACK_FLOATS (1 << 17)
/* Widest pixel tile: keeps the [KC, tile] slice of B within L2. */
#define CONV_MAX_TILE 256
/* Narrowest pixel tile worth a GEMM; below it threads split the output
 * channels instead (each builds the same tile). */
#define CONV_MIN_TILE 32
/* Winograd: at least this many input and output channels per group (the
 * transforms cost O(C) per tile; small convs are faster as GEMM), and at
 * least this many output pixels over the batch: U takes 16/9 of the
 * weights' memory, worth it when enough outputs share it (ResNet18's 7x7
 * stage at batch 1 would add 50 MB for 5 ms; from batch 4 it pays). */
#define CONV_WINO_MIN_CH 16
#define CONV_WINO_MIN_PIXELS 196
/* Floats of one thread's Winograd block (V and M for 16 positions): a
 * block that fits L2 (512 KB) keeps the transforms in cache; large-channel
 * layers take wider blocks (up to 4 MB) so that the transformed weights
 * U (16/9 of the weights, the main traffic of small images) are read
 * fewer times: at least O*C/(O+C) tiles, where U's traffic per block
 * equals V's and M's. */
#define CONV_WINO_L2_FLOATS (1 << 17)
#define CONV_WINO_MAX_FLOATS (1 << 20)

enum { CONV_GEMM, CONV_WINO, CONV_DIRECT };

typedef struct conv_plan {
    nn_geom2d g;
    int64_t N, C, O, G;
    int64_t cg, og;             /* channels per group: in, out */
    int64_t kk;                 /* cg * kh * kw: the reduction length */
    int64_t ohw;                /* output pixels per plane */
    int mode;
    int is1x1;                  /* GEMM on the input itself (no im2col) */
    const nn_sgemm_kernel *k;
    int64_t nb;                 /* output pixels (WINO: 2x2 tiles) per item */
    int64_t tiles;              /* items along pixels per (batch, group) */
    int64_t ob;                 /* output channels per block (<= og) */
    int64_t oblocks;            /* blocks per group */
    int slots;                  /* scratch slices (threads at prepare) */
    int64_t slot_floats;        /* scratch floats per slice */
    int64_t pb_floats;          /* packed B floats (WINO: per position) */
    nn_wino_geom wg;
    int has_res;                /* a residual input R */
    int res_bcast;              /* R or Y differs from [N, O, OH, OW]: second pass */
    nn_shape conv_shape;        /* [N, O, OH, OW] */
    nn_shape out;               /* Y: conv_shape broadcast with R */
    int64_t convbuf_off;        /* res_bcast: scratch offset of the conv result */
    float *u;                   /* owned (WINO): [16][O][C] transformed weights */
    int u_ready;                /* u computed (at the first run: a plan made only
                                   for shapes never touches its pages) */
} conv_plan;

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

static nn_status conv_geom(const nn_node *node, const nn_shape *x, const nn_shape *w,
                           const nn_shape *b, const nn_shape *r, conv_plan *p, nn_err *e)
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
    else if (p->g.kh == 3 && p->g.kw == 3 && p->g.sh == 1 && p->g.sw == 1 && p->g.dh == 1 &&
             p->g.dw == 1 && p->G == 1 && p->C >= CONV_WINO_MIN_CH && p->O >= CONV_WINO_MIN_CH &&
             p->N * p->g.oh * p->g.ow >= CONV_WINO_MIN_PIXELS)
        p->mode = CONV_WINO;
    else
        p->mode = CONV_GEMM;
    p->is1x1 = p->g.kh == 1 && p->g.kw == 1 && p->g.sh == 1 && p->g.sw == 1 && p->g.pt == 0 &&
               p->g.pl == 0 && p->g.pb == 0 && p->g.pr == 0;
    p->conv_shape = nn_shape4(p->N, p->O, p->g.oh, p->g.ow);
    return conv_res_shape(node, r, p, e);
}

/* Optional inputs: bias (2) and residual (3); NULL when absent. */
static const nn_shape *conv_opt_shape(const nn_shape *const *in, int n_in, int i)
{
    return n_in > i ? in[i] : NULL;
}

static nn_status conv_infer(const nn_node *node, const nn_shape *const *in, int n_in,
                            nn_shape *out, nn_err *e)
{
    conv_plan p;
    nn_status st = conv_geom(node, in[0], in[1], conv_opt_shape(in, n_in, 2),
                             conv_opt_shape(in, n_in, 3), &p, e);
    if (st != NN_OK)
        return st;
    *out = p.out;
    return NN_OK;
}

static void conv_ctx_geom(const nn_op_ctx *ctx, conv_plan *p)
{
    const nn_tensor *b = ctx->n_in > 2 ? ctx->in[2] : NULL;
    const nn_tensor *r = ctx->n_in > 3 ? ctx->in[3] : NULL;
    conv_geom(ctx->node, &ctx->in[0]->shape, &ctx->in[1]->shape, b ? &b->shape : NULL,
              r ? &r->shape : NULL, p, NULL);
}

static int64_t round_up(int64_t a, int64_t m)
{
    return (a + m - 1) / m * m;
}

/* A stride of at least n floats that is an odd number of 64-byte lines:
 * the 16 Winograd matrices a transform walks in step then fall into
 * different cache sets (power-of-two strides would evict each other). */
static int64_t odd_lines(int64_t n)
{
    int64_t s = round_up(n, 16);
    return (s / 16) % 2 ? s : s + 16;
}

/* Splits `total` pixels (or tiles) of each of `units` (batch, group) pairs
 * into p->tiles items of p->nb (a multiple of `step`, at most about cap,
 * at least min_nb), as even as possible and so that the items divide
 * evenly over p->slots threads when they can; then, if there are still
 * fewer items than threads, into channel blocks (multiples of the
 * register tile rows). */
static void conv_split(conv_plan *p, int64_t units, int64_t total, int64_t cap, int64_t step,
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
    p->nb = round_up((total + tiles - 1) / tiles, step);
    if (total - (tiles - 1) * p->nb < p->nb / 2)
        p->nb = (total + tiles - 1) / tiles;
    if (p->nb > total)
        p->nb = total;
    p->tiles = (total + p->nb - 1) / p->nb;
    want = (p->slots + units * p->tiles - 1) / (units * p->tiles);   /* blocks per item */
    p->oblocks = want < p->og ? want : p->og;
    p->ob = (p->og + p->oblocks - 1) / p->oblocks;
    if (p->oblocks > 1 && round_up(p->ob, p->k->mr) < p->og)
        p->ob = round_up(p->ob, p->k->mr);
    p->oblocks = (p->og + p->ob - 1) / p->ob;
}

/* Winograd plan: room for the transformed weights, the tile blocks. */
static nn_status conv_wino_prepare(conv_plan *p, nn_err *e, const char *name)
{
    size_t bytes;
    int64_t per_tile, cap;
    nn_wino_geom *wg = &p->wg;
    wg->C = p->C;
    wg->H = p->g.ih;
    wg->W = p->g.iw;
    wg->pt = p->g.pt;
    wg->pl = p->g.pl;
    wg->OH = p->g.oh;
    wg->OW = p->g.ow;
    nn_wino_geom_tiles(wg);
    /* not zero-filled (nn_aligned_alloc would touch every page): the first
     * run writes all of it */
    if (nn_size_mul((size_t)p->O * (size_t)p->C, NN_WINO_POS * sizeof(float), &bytes) != 0 ||
        !(p->u = aligned_alloc(NN_ALIGN, (size_t)round_up((int64_t)bytes, NN_ALIGN))))
        return nn_err_set(e, NN_ERR_NOMEM, "node %s (Conv): Winograd weights", name);
    per_tile = NN_WINO_POS * (p->C + p->O);
    cap = CONV_WINO_L2_FLOATS / per_tile;
    if (cap < p->O * p->C / (p->O + p->C))
        cap = p->O * p->C / (p->O + p->C);
    if (cap > CONV_WINO_MAX_FLOATS / per_tile)
        cap = CONV_WINO_MAX_FLOATS / per_tile;
    cap = cap / p->k->nr * p->k->nr;
    if (cap < p->k->nr)
        cap = p->k->nr;
    conv_split(p, 1, p->N * wg->th * wg->tw, cap, p->k->nr, p->k->nr);
    p->pb_floats = odd_lines(nn_sgemm_packed_b_floats(p->k, p->C, p->nb));
    p->slot_floats = NN_WINO_POS * p->pb_floats + NN_WINO_POS * odd_lines(p->ob * p->nb) +
                     round_up(nn_wino_buf_floats(wg), 16);
    return NN_OK;
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
    if (p->mode == CONV_WINO) {
        if ((st = conv_wino_prepare(p, e, ctx->node->name)) != NN_OK) {
            free(p);
            return st;
        }
    } else if (p->mode == CONV_GEMM) {
        int64_t cap = CONV_PACK_FLOATS / p->kk / p->k->nr * p->k->nr;
        cap = cap < CONV_MIN_TILE ? CONV_MIN_TILE : cap > CONV_MAX_TILE ? CONV_MAX_TILE : cap;
        conv_split(p, p->N * p->G, p->ohw, cap, p->k->nr, CONV_MIN_TILE);
        p->pb_floats = round_up(nn_sgemm_packed_b_floats(p->k, p->kk, p->nb), 16);
        p->slot_floats = p->pb_floats + (p->is1x1 ? 0 : round_up(p->nb, 16));
    } else {
        p->slots = 1;
    }
    /* a broadcasting residual (or a depthwise conv with one): the conv
     * result goes to scratch after the slots, then a broadcast Add pass */
    p->res_bcast |= p->has_res && p->mode == CONV_DIRECT;
    p->convbuf_off = round_up(p->slot_floats * p->slots, 16);
    if (nn_size_mul((size_t)p->slot_floats, (size_t)p->slots * sizeof(float), &bytes) != 0 ||
        (p->res_bcast && (nn_size_mul((size_t)nn_shape_numel(&p->conv_shape), sizeof(float), &bytes) != 0 ||
                          nn_size_add(bytes, (size_t)p->convbuf_off * sizeof(float), &bytes) != 0))) {
        free(p->u);
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
    free(p->u);
    free(p);
}

/* Row r = (c, ky, kx) of the im2col matrix for output pixels [p0, p0 + np)
 * of one (batch, group): x is the group's [cg, H, W] input. Zero padding. */
static void conv_im2col_row(const conv_plan *p, const float *x, int64_t r, int64_t p0, int64_t np,
                            float *dst)
{
    const nn_geom2d *g = &p->g;
    int64_t c = r / (g->kh * g->kw), ky = r / g->kw % g->kh, kx = r % g->kw;
    const float *xc = x + c * g->ih * g->iw;
    int64_t off = kx * g->dw - g->pl, vx0, vx1;
    int64_t q = p0, oy = p0 / g->ow, ox = p0 % g->ow;
    nn_geom_taps(off, g->sw, g->ow, g->iw, &vx0, &vx1);
    while (q < p0 + np) {
        int64_t end = ox + (p0 + np - q);   /* segment [ox, end) of row oy */
        int64_t iy = oy * g->sh - g->pt + ky * g->dh;
        if (end > g->ow)
            end = g->ow;
        if (iy < 0 || iy >= g->ih) {
            memset(dst, 0, (size_t)(end - ox) * sizeof(float));
        } else {
            const float *row = xc + iy * g->iw;
            int64_t a = ox > vx0 ? ox : vx0, b = end < vx1 ? end : vx1;
            int64_t i = ox;
            for (; i < a && i < end; i++)
                dst[i - ox] = 0.0f;
            if (g->sw == 1 && a < b) {
                memcpy(dst + (a - ox), row + (a + off), (size_t)(b - a) * sizeof(float));
                i = b;
            }
            for (; g->sw == 2 && i + 4 <= b && 2 * i + off + 8 <= g->iw; i += 4)
                nn_f4_store(dst + (i - ox), nn_f4_even(row + 2 * i + off));
            for (; i < b; i++)
                dst[i - ox] = row[i * g->sw + off];
            for (; i < end; i++)
                dst[i - ox] = 0.0f;
        }
        dst += end - ox;
        q += end - ox;
        ox = 0;
        oy++;
    }
}

typedef struct conv_task {
    const conv_plan *p;
    const float *x, *w, *bias;
    const float *res;           /* R of conv_shape fused into the store, or NULL */
    float *y, *scratch;
    nn_act_params act;
    nn_sgemm_epi ep;            /* clamp of act; pointers set per item */
    int slots;
} conv_task;

/* The epilogue of image n, output channels [co, ...) (absolute channel
 * index), starting at pixel p0; residual rows are planes (ldr = OH*OW). */
static nn_sgemm_epi conv_item_epi(const conv_task *t, int64_t n, int64_t co, int64_t p0)
{
    nn_sgemm_epi ep = t->ep;
    ep.bias_m = t->bias ? t->bias + co : NULL;
    ep.res = t->res ? t->res + (n * t->p->O + co) * t->p->ohw + p0 : NULL;
    ep.ldr = t->p->ohw;
    return ep;
}

/* GEMM item: output pixels [p0, p0 + np) of channels [o0, o1) of group gi
 * (channel indices within the group). fill: build the packed tile in pb
 * (else it holds this tile from the slot's previous item). */
static void conv_gemm_item(const conv_task *t, int64_t n, int64_t gi, int64_t p0, int64_t np,
                           int64_t o0, int64_t o1, float *slot, int fill)
{
    const conv_plan *p = t->p;
    const float *x = t->x + (n * p->C + gi * p->cg) * p->g.ih * p->g.iw;
    const float *w = t->w + (gi * p->og + o0) * p->kk;
    float *y = t->y + (n * p->O + gi * p->og + o0) * p->ohw + p0;
    float *pb = slot, *row = slot + p->pb_floats;
    nn_sgemm_epi ep = conv_item_epi(t, n, gi * p->og + o0, p0);
    if (fill && p->is1x1) {
        nn_sgemm_pack_b(p->k, p->kk, np, x + p0, p->ohw, pb);
    } else if (fill) {
        for (int64_t r = 0; r < p->kk; r++) {
            conv_im2col_row(p, x, r, p0, np, row);
            nn_sgemm_pack_b_row(p->k, p->kk, r, row, np, pb);
        }
    }
    nn_sgemm_run(p->k, o1 - o0, np, p->kk, w, p->kk, pb, y, p->ohw, &ep);
}

/* WINO item: tiles [t0, t0 + nt) of the whole batch (image n holds tiles
 * [n*T, n*T + T)), output channels [o0, o1): one block of columns may span
 * images so that each U_xi is read once per block. Slot layout: V (16
 * packed [C, nb]), M ([16][ob][nb]), row buffer. */
static void conv_wino_item(const conv_task *t, int64_t t0, int64_t nt, int64_t o0, int64_t o1,
                           float *slot, int fill)
{
    const conv_plan *p = t->p;
    float *v = slot, *m = v + NN_WINO_POS * p->pb_floats;
    float *buf = m + NN_WINO_POS * odd_lines(p->ob * p->nb);
    int64_t mstride = odd_lines((o1 - o0) * nt), T = p->wg.th * p->wg.tw;
    int64_t chw = p->C * p->g.ih * p->g.iw;
    if (fill) {
        for (int64_t n = t0 / T; n * T < t0 + nt; n++) {
            int64_t a = (t0 > n * T ? t0 : n * T) - n * T;
            int64_t b = (t0 + nt < n * T + T ? t0 + nt : n * T + T) - n * T;
            nn_wino_input(p->k, &p->wg, t->x + n * chw, a, b - a, n * T + a - t0, v,
                          p->pb_floats, buf);
        }
        nn_wino_input_pad(p->k, p->C, nt, v, p->pb_floats);
    }
    for (int xi = 0; xi < NN_WINO_POS; xi++)
        nn_sgemm_run(p->k, o1 - o0, nt, p->C, p->u + (xi * p->O + o0) * p->C, p->C,
                     v + xi * p->pb_floats, m + xi * mstride, nt, NULL);
    for (int64_t n = t0 / T; n * T < t0 + nt; n++) {
        int64_t a = (t0 > n * T ? t0 : n * T) - n * T;
        int64_t b = (t0 + nt < n * T + T ? t0 + nt : n * T + T) - n * T;
        nn_sgemm_epi ep = conv_item_epi(t, n, o0, 0);
        nn_wino_output(&p->wg, m + (n * T + a - t0), mstride, nt, o1 - o0, a, b - a, &ep,
                       t->y + (n * p->O + o0) * p->ohw, buf);
    }
}

/* Slot s owns a contiguous share of the items and scratch slice s. */
static void conv_slots_run(void *arg, int64_t begin, int64_t end)
{
    const conv_task *t = arg;
    const conv_plan *p = t->p;
    int64_t units = p->mode == CONV_WINO ? 1 : p->N * p->G;
    int64_t total = p->mode == CONV_WINO ? p->N * p->wg.th * p->wg.tw : p->ohw;
    int64_t items = units * p->tiles * p->oblocks;
    for (int64_t s = begin; s < end; s++) {
        float *slot = t->scratch + s * p->slot_floats;
        int64_t prev = -1;          /* (unit, tile) now packed in the slot */
        for (int64_t it = s * items / t->slots; it < (s + 1) * items / t->slots; it++) {
            int64_t ob = it % p->oblocks, nt = it / p->oblocks;
            int64_t tile = nt % p->tiles, unit = nt / p->tiles;
            int64_t p0 = tile * p->nb, o0 = ob * p->ob;
            int64_t np = p0 + p->nb < total ? p->nb : total - p0;
            int64_t o1 = o0 + p->ob < p->og ? o0 + p->ob : p->og;
            if (p->mode == CONV_WINO)
                conv_wino_item(t, p0, np, o0, o1, slot, nt != prev);
            else
                conv_gemm_item(t, unit / p->G, unit % p->G, p0, np, o0, o1, slot, nt != prev);
            prev = nt;
        }
    }
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
    /* 4 pixels at a time; stride > 1 gathers the 4 taps */
    for (; ox + 4 <= xi1; ox += 4) {
        nn_f4 acc = nn_f4_set1(0.0f);
        for (int64_t ky = ky0; ky < ky1; ky++) {
            const float *xr = x + (iy0 + ky * g->dh) * g->iw + ox * g->sw - g->pl;
            for (int64_t kx = 0; kx < g->kw; kx++)
                acc += nn_f4_set1(w[ky * g->kw + kx]) * nn_f4_gather(xr + kx * g->dw, g->sw);
        }
        nn_f4_store(yr + ox, acc);
    }
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

/* Filters [begin, end) of the Winograd weight transform. */
static void conv_wino_weights_run(void *arg, int64_t begin, int64_t end)
{
    const conv_task *t = arg;
    nn_wino_weights(t->w, t->p->O * t->p->C, begin, end, t->p->u);
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
    if (p->mode == CONV_WINO && !p->u_ready) {
        nn_pool_for(ctx->pool, p->O * p->C, 1024, conv_wino_weights_run, &t);
        p->u_ready = 1;
    }
    if (p->mode == CONV_DIRECT)
        nn_pool_for(ctx->pool, p->N * p->O, 1, conv_direct_run, &t);
    else
        nn_pool_for(ctx->pool, t.slots, 1, conv_slots_run, &t);
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
                  &p, NULL) != NN_OK)
        return 0;
    return p.N * p.O * p.ohw * p.kk;
}

const nn_op_def nn_op_conv = {
    .name = "conv",
    .infer = conv_infer,
    .prepare = conv_prepare,
    .release = conv_release,
    .run = conv_run,
    .run_ref = conv_run_ref,
    .macs = conv_macs,
};
