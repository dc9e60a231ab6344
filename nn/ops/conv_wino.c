/* conv_wino.c — the Winograd path of Conv (see conv_priv.h): 3x3 stride-1
 * convs with constant weights and enough channels run Winograd F(4x4, 3x3)
 * or F(2x2, 3x3), stride-2 ones F(2x2, 3x3) split by tap parity where
 * its tiles fit the map (nn/kernels/winograd.h), with the weights transformed
 * into U [pos][O][C] once, at the first run, or ahead of time by the
 * converter (U from the model file, used in place); per block of tiles the input
 * transform packs pos matrices V_xi, pos sgemm calls give M_xi = U_xi V_xi,
 * and the output transform applies bias, residual and activation. */
#include <stdlib.h>

#include "nn/kernels/winograd.h"
#include "nn/ops/conv_priv.h"

/* Winograd: at least this many input and output channels per group (the
 * transforms cost O(C) per tile; small convs are faster as GEMM), and at
 * least this many F(2x2) tiles over the batch (one AVX2 register panel of
 * GEMM columns per Winograd point). Small maps pay too: ResNet18's 7x7
 * stage at batch 1 (16 tiles) runs its 3x3 stride-1 convs as F(2x2) in
 * 1.95 ms each instead of 3.4 as a GEMM over 49 pixels (1 thread), with U
 * (16/9 of the weights, 50 MB for the stage) precomputed in the file. */
#define CONV_WINO_MIN_CH 16
#define CONV_WINO_MIN_TILES 16
/* F(4x4) needs at least this many of its tiles over the batch (one AVX2
 * panel of GEMM columns per Winograd point): a 7x7 map has 4 per image
 * (2x2 tiles of 4x4 covering 8x8); at batch 1 they would leave 3/4 of
 * every panel empty and read a U of 4x the weights for them (ResNet18's
 * 512-channel convs at batch 1: 5.6 ms as F(4x4), 1.95 as F(2x2)). The
 * converter decides for one image: it stores F(2x2) for such maps. */
#define CONV_WINO4_MIN_TILES 16
/* F(4x4) when its U per image of the batch is at most this many bytes
 * (when U is not in the model file): ResNet18 at batch 1 takes it for its
 * 64- and 128-channel stages (U 0.6 and 2.4 MB per conv, 9.4 MB in all)
 * and keeps F(2x2) for the 256-channel one (9.4 MB per conv as F4, 4.2 as
 * F2): the process stays within its memory budget (model file + 40 MB).
 * The 256-channel stage runs F4 from batch 2, the 512-channel one (37.7
 * MB per conv, 4.7 per image) from batch 8, where its F(4x4) tiles fill
 * two panels: 144 products per weight and image against F(2x2)'s 256.
 * ResNet18 at batch 8, 2 threads: 8.7-8.9 -> 5.5-5.8 ms per conv (medians
 * of 6 processes), for 113 MB of U computed at the first run (peak RSS
 * 177 -> 287 MB). A file's U is used as converted (scanlite convert
 * stores F4 wherever one image's map allows it). */
#define CONV_WINO4_MAX_U_PER_IMAGE (5 << 20)
/* Floats of one thread's Winograd block (V and M for all positions): a
 * block that fits L2 (512 KB) keeps the transforms in cache; large-channel
 * layers take wider blocks (up to 4 MB) so that the transformed weights
 * U (the main traffic of small images) are read fewer times: at least
 * O*C/(O+C) tiles, where U's traffic per block equals V's and M's. */
#define CONV_WINO_L2_FLOATS (1 << 17)
/* Channels per range of a shared input transform (at least). */
#define CONV_WINO_SHARED_GRAIN 8
#define CONV_WINO_MAX_FLOATS (1 << 20)

/* One tile size's plan: transforms, geometry and work split. */
typedef struct conv_wino_var {
    const nn_wino_kernel *wk;
    nn_wino_geom wg;
    int64_t nb, tiles, ob, oblocks;     /* as in conv_plan, for this tile size */
    int64_t oblast, olast;              /* the last block of tiles: olast blocks of oblast
                                           output channels (see conv_wino_plan_var) */
    int64_t pb_floats;                  /* stride of the packed V_xi */
} conv_wino_var;

/* The tile size is chosen at prepare: F(2x2) when the activation clamps
 * from above (Clip: F(4x4)'s error, 5-10x F(2x2)'s relative to the range
 * before the activation, can exceed the 1e-5 budget relative to a
 * narrower clipped range: up to 3.9e-5 in test_kernels' Clip(-0.5, 0.75)
 * cases) or the map is too small for F(4x4) tiles (conv_wino_m_max);
 * else F(4x4) when the model file holds its U or when U fits the memory
 * rule above; else F(2x2). */
struct conv_wino {
    conv_wino_var var;
    const float *w;             /* [O, C, 3, 3], not owned */
    float *u;                   /* U_xi [O, C] at u + xi * ustride: owned, or the
                                   model file's precomputed U (u_owned 0) */
    int64_t ustride;
    int u_owned;
    size_t u_map_len;           /* owned u from nn_huge_alloc: its length; else 0 (heap) */
    int u_ready;                /* u holds U: 0 until the first run (a plan made only
                                   for shapes never touches its pages) */
};

/* A stride of at least n floats that is an odd number of 64-byte lines:
 * the Winograd matrices a transform walks in step then fall into
 * different cache sets (power-of-two strides would evict each other). */
static int64_t odd_lines(int64_t n)
{
    int64_t s = conv_round_up(n, 16);
    return (s / 16) % 2 ? s : s + 16;
}

/* The stride of the M matrices of an item of n floats: room for the
 * output transform's overrun (NN_WINO_SLACK), an odd number of lines. */
static int64_t conv_wino_mstride(int64_t n)
{
    return odd_lines(n + NN_WINO_SLACK);
}

/* Tiles of side m per image. */
static int64_t conv_wino_tiles(const conv_plan *p, int m)
{
    return ((p->g.oh + m - 1) / m) * ((p->g.ow + m - 1) / m);
}

/* A stride-2 conv runs F(2x2) when its products (25 per tile) are at most
 * 4/5 of direct convolution's (9 per pixel): not where the tiles overhang
 * the map too much (ResNet18's 14x14 -> 7x7 conv: 16 tiles for 49 pixels,
 * 0.91 of direct; its 56 -> 28 and 28 -> 14 ones 0.69). */
static int conv_wino_s2_pays(const conv_plan *p)
{
    return 125 * conv_wino_tiles(p, 2) <= 36 * p->g.oh * p->g.ow;
}

int conv_wino_fits(const conv_plan *p)
{
    int s = p->g.sh;
    return p->g.kh == 3 && p->g.kw == 3 && (s == 1 || s == 2) && p->g.sw == s && p->g.dh == 1 &&
           p->g.dw == 1 && p->G == 1 && p->C >= CONV_WINO_MIN_CH && p->O >= CONV_WINO_MIN_CH &&
           p->N * conv_wino_tiles(p, 2) >= CONV_WINO_MIN_TILES && (s == 1 || conv_wino_s2_pays(p));
}

/* The largest tile side p may run over n images (the converter's choice
 * for n = 1): 2 at stride 2, under Clip or with too few F(4x4) tiles,
 * else 4. */
static int conv_wino_m_max(const conv_plan *p, int clip, int64_t n)
{
    return p->g.sh == 2 || clip || n * conv_wino_tiles(p, 4) < CONV_WINO4_MIN_TILES ? 2 : 4;
}

/* The transforms of tile side m for p's stride and kernel ISA. */
static const nn_wino_kernel *conv_wino_kernel(const conv_plan *p, int m, nn_isa isa)
{
    return p->g.sh == 2 ? nn_wino_s2_kernel_for(isa) : nn_wino_kernel_for(m, isa);
}

/* Plans variant v for tile side m: geometry, split, packed V stride;
 * returns the scratch floats of one slot. */
static int64_t conv_wino_plan_var(conv_plan *p, conv_wino_var *v, int m)
{
    int64_t per_tile, cap, pos, total;
    v->wk = conv_wino_kernel(p, m, p->k->isa);
    pos = v->wk->pos;
    v->wg = (nn_wino_geom){.C = p->C, .H = p->g.ih, .W = p->g.iw, .pt = p->g.pt, .pl = p->g.pl,
                           .OH = p->g.oh, .OW = p->g.ow, .m = m};
    nn_wino_geom_tiles(&v->wg);
    per_tile = pos * (p->C + p->O);
    cap = CONV_WINO_L2_FLOATS / per_tile;
    if (cap < p->O * p->C / (p->O + p->C))
        cap = p->O * p->C / (p->O + p->C);
    if (cap > CONV_WINO_MAX_FLOATS / per_tile)
        cap = CONV_WINO_MAX_FLOATS / per_tile;
    cap = cap / p->k->nr * p->k->nr;
    if (cap < p->k->nr)
        cap = p->k->nr;
    total = p->N * v->wg.th * v->wg.tw;
    /* tiles that fit one block stay one block, split by output channels
     * when there are threads to share it: split by tiles in whole panels,
     * ResNet18's 28x28 maps (49 tiles) made items of 32 and 17, leaving
     * one thread a third of each conv idle (2 threads: the network 10.46
     * -> 10.43 ms, medians of 10 alternating processes; 13.80 -> 13.32 in
     * spells where the host runs both vCPUs on one core). The threads
     * share such a block's input transform (conv_wino_run) */
    conv_split(p, 1, total, cap, p->k->nr, total <= cap ? total : p->k->nr);
    /* items of whole panels: a narrow last panel (dot-product tiles, whose
     * sums run in another order) then holds the same tiles for every
     * thread count */
    v->nb = p->nb < total ? conv_round_up(p->nb, p->k->nr) : p->nb;
    v->tiles = (total + v->nb - 1) / v->nb;
    v->ob = p->ob;
    v->oblocks = p->oblocks;
    /* a last block of a few tiles (a 56x56 map: 6 blocks of 32 F(4x4)
     * tiles, then 4) costs more than its share (its products are too
     * narrow for the register tiles: 0.6 of a full block's time for 1/8
     * of its tiles), and the thread that runs it finishes last: it is
     * split by output channels between the threads */
    v->oblast = v->ob;
    v->olast = v->oblocks;
    if (v->tiles > 1 && v->oblocks == 1 && p->slots > 1 &&
        4 * (total - (v->tiles - 1) * v->nb) <= v->nb) {
        v->oblast = conv_round_up((p->og + p->slots - 1) / p->slots, p->k->mr);
        v->olast = (p->og + v->oblast - 1) / v->oblast;
    }
    v->pb_floats = odd_lines(nn_sgemm_packed_b_floats(p->k, p->C, v->nb));
    return pos * v->pb_floats + pos * conv_wino_mstride(v->ob * v->nb) +
           conv_round_up(v->wk->buf_floats(&v->wg), 16);
}

/* Whether F(4x4) fits the memory rule for p's batch. */
static int conv_wino4_fits_memory(const conv_plan *p)
{
    double u4 = (double)NN_WINO_POS_MAX * (double)p->O * (double)p->C * sizeof(float);
    return u4 <= (double)CONV_WINO4_MAX_U_PER_IMAGE * (double)p->N;
}

/* Room for cw's U of bytes, not zero-filled (nn_aligned_alloc would
 * touch every page: the first run writes all of it). A U of a huge page
 * or more gets a mapping of its own (nn_huge_alloc): the first run at
 * batch 8 writes ResNet18's 113 MB of F(4x4) U with ~29,000 page faults
 * otherwise (0.22-0.25 -> 0.15-0.17 s for a whole `scanlite run` at batch
 * 8, 2 threads). */
static float *conv_wino_u_alloc(conv_wino *cw, size_t bytes)
{
    if (bytes >= NN_HUGE_PAGE && (cw->u = nn_huge_alloc(bytes, &cw->u_map_len)))
        return cw->u;
    cw->u_map_len = 0;
    return cw->u = aligned_alloc(NN_ALIGN, (bytes + NN_ALIGN - 1) / NN_ALIGN * NN_ALIGN);
}

/* Winograd plan: the tile size, the split, the transformed weights (the
 * file's, or room for them). */
nn_status conv_wino_prepare(conv_plan *p, const float *w, const float *u, int64_t um, int clip,
                            const char *name, nn_err *e)
{
    conv_wino *cw;
    size_t bytes;
    int m = conv_wino_m_max(p, clip, p->N) == 2         ? 2
          : (u && um == 4) || conv_wino4_fits_memory(p) ? 4
                                                          : 2;
    if (!(cw = p->wino = calloc(1, sizeof *p->wino)))
        return nn_err_set(e, NN_ERR_NOMEM, "node %s (Conv): Winograd plan", name);
    cw->w = w;
    p->slot_floats = conv_wino_plan_var(p, &cw->var, m);
    if (u && um == m) {
        cw->u = (float *)u;     /* read-only: the run never writes a ready U */
        cw->ustride = p->O * p->C;
        cw->u_ready = 1;
        return NN_OK;
    }
    cw->u_owned = 1;
    cw->ustride = odd_lines(p->O * p->C);
    if (nn_size_mul((size_t)cw->ustride, (size_t)cw->var.wk->pos * sizeof(float), &bytes) != 0 ||
        !conv_wino_u_alloc(cw, bytes))
        return nn_err_set(e, NN_ERR_NOMEM, "node %s (Conv): Winograd weights", name);
    return NN_OK;
}

nn_status conv_wino_pack(const conv_plan *p, const float *w, int clip, nn_tensor *packed,
                         int64_t *tag, nn_err *e)
{
    const nn_sgemm_kernel *k;
    const nn_wino_kernel *wk;
    int m = conv_wino_m_max(p, clip, 1);
    size_t bytes;
    nn_status st = nn_sgemm_select(&k, e);
    packed->data = NULL;
    if (st != NN_OK)
        return st;
    wk = conv_wino_kernel(p, m, k->isa);
    if (nn_size_mul((size_t)p->O * (size_t)p->C, (size_t)wk->pos * sizeof(float), &bytes) != 0 ||
        !(packed->data = nn_aligned_alloc(bytes)))
        return nn_err_set(e, NN_ERR_NOMEM, "Winograd weights of %lldx%lld channels",
                          (long long)p->O, (long long)p->C);
    wk->weights(w, 0, p->O * p->C, packed->data, p->O * p->C);
    packed->shape = nn_shape_make(3, (int64_t[]){wk->pos, p->O, p->C});
    *tag = m;
    return NN_OK;
}

const char *conv_wino_name(const conv_plan *p)
{
    return p->wino->var.wk->m == 4        ? "winograd F(4x4,3x3)"
         : p->wino->var.wk->stride == 2 ? "winograd F(2x2,3x3) stride 2"
                                          : "winograd F(2x2,3x3)";
}

void conv_wino_release(conv_plan *p)
{
    conv_wino *cw = p->wino;
    if (cw && cw->u_owned && cw->u_map_len)
        nn_huge_free(cw->u, cw->u_map_len);
    else if (cw && cw->u_owned)
        free(cw->u);
    free(cw);
    p->wino = NULL;
}

/* One run of variant v. */
typedef struct conv_wino_job {
    const conv_task *t;
    const conv_wino_var *v;
    const nn_pool *pool;
} conv_wino_job;

/* The slot of the running thread: V (pos packed [C, nb]), M ([pos][ob][nb]
 * with slack), row buffer. */
static float *conv_wino_slot(const conv_wino_job *j)
{
    return j->t->scratch + nn_pool_thread_index(j->pool) * j->t->p->slot_floats;
}

static float *conv_wino_slot_m(const conv_wino_var *var, float *slot)
{
    return slot + var->wk->pos * var->pb_floats;
}

static float *conv_wino_slot_buf(const conv_wino_var *var, float *slot)
{
    return conv_wino_slot_m(var, slot) + var->wk->pos * conv_wino_mstride(var->ob * var->nb);
}

/* Input transform of tiles [t0, t0 + nt) of the whole batch (image n holds
 * tiles [n*T, n*T + T)), channels [c0, c1), into the packed V at v, pad
 * columns included: one block of columns may span images so that each
 * U_xi is read once per block. */
static void conv_wino_input_block(const conv_wino_job *j, int64_t t0, int64_t nt, int64_t c0,
                                  int64_t c1, float *v, float *buf)
{
    const conv_plan *p = j->t->p;
    const conv_wino_var *var = j->v;
    nn_wino_geom g = var->wg;
    int64_t T = g.th * g.tw, chw = p->C * p->g.ih * p->g.iw;
    g.c0 = c0;
    g.c1 = c1;
    for (int64_t n = t0 / T; n * T < t0 + nt; n++) {
        int64_t a = (t0 > n * T ? t0 : n * T) - n * T;
        int64_t b = (t0 + nt < n * T + T ? t0 + nt : n * T + T) - n * T;
        var->wk->input(p->k, &g, j->t->x + n * chw, a, b - a, n * T + a - t0, v, var->pb_floats,
                       buf);
    }
    nn_wino_input_pad(p->k, var->wk->pos, p->C, c0, c1, nt, v, var->pb_floats);
}

/* The pos GEMMs M_xi = U_xi V_xi for output channels [o0, o1) of tiles
 * [t0, t0 + nt) whose V is at v, then the output transform (bias,
 * residual, activation) into y. */
static void conv_wino_block_out(const conv_wino_job *j, int64_t t0, int64_t nt, int64_t o0,
                                int64_t o1, const float *v, float *m, float *buf)
{
    const conv_task *t = j->t;
    const conv_plan *p = t->p;
    const conv_wino_var *var = j->v;
    const nn_wino_kernel *wk = var->wk;
    const float *u = p->wino->u + o0 * p->C;    /* rows [o0, o1) of U_0 */
    int64_t mstride = conv_wino_mstride((o1 - o0) * nt), T = var->wg.th * var->wg.tw;
    for (int xi = 0; xi < wk->pos; xi++)
        nn_sgemm_run_dot(p->k, o1 - o0, nt, p->C, u + xi * p->wino->ustride, p->C,
                         v + xi * var->pb_floats, m + xi * mstride, nt, NULL,
                         xi + 1 < wk->pos ? u + (xi + 1) * p->wino->ustride : NULL);
    for (int64_t n = t0 / T; n * T < t0 + nt; n++) {
        int64_t a = (t0 > n * T ? t0 : n * T) - n * T;
        int64_t b = (t0 + nt < n * T + T ? t0 + nt : n * T + T) - n * T;
        nn_sgemm_epi ep = conv_item_epi(t, n, o0, 0);
        wk->output(&var->wg, m + (n * T + a - t0), mstride, nt, o1 - o0, a, b - a, &ep,
                   t->y + (n * p->O + o0) * p->ohw, buf);
    }
}

/* WINO items [begin, end): tiles [t0, t0 + nt) by output channels [o0,
 * o1) each, in the running thread's slot. Items are claimed one at a
 * time, so a thread that stalls (a descheduled CPU) holds up one item, not
 * a share of the layer; each transforms its own input tiles (with one
 * thread the split gives each item its own tiles). */
static void conv_wino_items(void *arg, int64_t begin, int64_t end)
{
    const conv_wino_job *j = arg;
    const conv_wino_var *v = j->v;
    const conv_plan *p = j->t->p;
    int64_t total = p->N * v->wg.th * v->wg.tw;
    float *slot = conv_wino_slot(j);
    for (int64_t it = begin; it < end; it++) {
        int64_t head = (v->tiles - 1) * v->oblocks, last = it >= head;
        int64_t ob = last ? it - head : it % v->oblocks;
        int64_t tile = last ? v->tiles - 1 : it / v->oblocks;
        int64_t width = last ? v->oblast : v->ob;
        int64_t p0 = tile * v->nb, o0 = ob * width;
        int64_t np = p0 + v->nb < total ? v->nb : total - p0;
        int64_t o1 = o0 + width < p->og ? o0 + width : p->og;
        conv_wino_input_block(j, p0, np, 0, p->C, slot, conv_wino_slot_buf(v, slot));
        conv_wino_block_out(j, p0, np, o0, o1, slot, conv_wino_slot_m(v, slot),
                            conv_wino_slot_buf(v, slot));
    }
}

/* A conv of one block of tiles split by output channels shares its input
 * transform, each thread taking a range of channels, rather than each
 * thread transforming all of it (10-14% of such a conv at 1 thread):
 * ResNet18 at 2 threads, 10.30 -> 10.09 ms (medians of 6 alternating
 * processes of 100 runs), for its 28x28, 14x14 and 7x7 stages. Channels
 * [c0, c1) into the V of slot 0 ... */
static void conv_wino_shared_input(void *arg, int64_t c0, int64_t c1)
{
    const conv_wino_job *j = arg;
    const conv_plan *p = j->t->p;
    conv_wino_input_block(j, 0, p->N * j->v->wg.th * j->v->wg.tw, c0, c1, j->t->scratch,
                          conv_wino_slot_buf(j->v, conv_wino_slot(j)));
}

/* ... then output blocks [begin, end) read it. */
static void conv_wino_shared_items(void *arg, int64_t begin, int64_t end)
{
    const conv_wino_job *j = arg;
    const conv_wino_var *v = j->v;
    const conv_plan *p = j->t->p;
    float *slot = conv_wino_slot(j);
    for (int64_t ob = begin; ob < end; ob++) {
        int64_t o0 = ob * v->ob, o1 = o0 + v->ob < p->og ? o0 + v->ob : p->og;
        conv_wino_block_out(j, 0, p->N * v->wg.th * v->wg.tw, o0, o1, j->t->scratch,
                            conv_wino_slot_m(v, slot), conv_wino_slot_buf(v, slot));
    }
}

/* Filters [begin, end) of the Winograd weight transform. */
static void conv_wino_weights_run(void *arg, int64_t begin, int64_t end)
{
    const conv_wino_job *j = arg;
    const conv_plan *p = j->t->p;
    j->v->wk->weights(p->wino->w, begin, end, p->wino->u, p->wino->ustride);
}

void conv_wino_run(const conv_task *t, nn_pool *pool)
{
    conv_wino *cw = t->p->wino;
    conv_wino_job j = {t, &cw->var, pool};
    if (!cw->u_ready) {
        nn_pool_for(pool, t->p->O * t->p->C, 1024, conv_wino_weights_run, &j);
        cw->u_ready = 1;
    }
    if (cw->var.tiles == 1 && cw->var.oblocks > 1) {
        nn_pool_for(pool, t->p->C, CONV_WINO_SHARED_GRAIN, conv_wino_shared_input, &j);
        nn_pool_for_each(pool, cw->var.oblocks, conv_wino_shared_items, &j);
        return;
    }
    nn_pool_for_each(pool, (cw->var.tiles - 1) * cw->var.oblocks + cw->var.olast,
                     conv_wino_items, &j);
}
