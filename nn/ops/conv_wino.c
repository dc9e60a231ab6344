/* conv_wino.c — the Winograd path of Conv (see conv_priv.h): 3x3 stride-1
 * convs with constant weights and enough channels run Winograd F(2x2, 3x3)
 * (nn/kernels/winograd.h) with the weights transformed once, at the first
 * run, into U [16][O][C]; per block of tiles the input transform packs 16
 * matrices V_xi, 16 sgemm calls give M_xi = U_xi V_xi, and the output
 * transform applies bias, residual and activation. */
#include <stdlib.h>
#include <string.h>

#include "nn/kernels/winograd.h"
#include "nn/ops/conv_priv.h"

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

struct conv_wino {
    nn_wino_geom wg;
    const float *w;             /* [O, C, 3, 3], not owned */
    float *u;                   /* owned: [16][O][C] transformed weights */
    int u_ready;                /* u computed (at the first run: a plan made only
                                   for shapes never touches its pages) */
};

/* A stride of at least n floats that is an odd number of 64-byte lines:
 * the 16 Winograd matrices a transform walks in step then fall into
 * different cache sets (power-of-two strides would evict each other). */
static int64_t odd_lines(int64_t n)
{
    int64_t s = conv_round_up(n, 16);
    return (s / 16) % 2 ? s : s + 16;
}

int conv_wino_fits(const conv_plan *p)
{
    return p->g.kh == 3 && p->g.kw == 3 && p->g.sh == 1 && p->g.sw == 1 && p->g.dh == 1 &&
           p->g.dw == 1 && p->G == 1 && p->C >= CONV_WINO_MIN_CH && p->O >= CONV_WINO_MIN_CH &&
           p->N * p->g.oh * p->g.ow >= CONV_WINO_MIN_PIXELS;
}

/* Winograd plan: room for the transformed weights, the tile blocks. */
nn_status conv_wino_prepare(conv_plan *p, const float *w, const char *name, nn_err *e)
{
    size_t bytes;
    int64_t per_tile, cap;
    nn_wino_geom *wg;
    if (!(p->wino = calloc(1, sizeof *p->wino)))
        return nn_err_set(e, NN_ERR_NOMEM, "node %s (Conv): Winograd plan", name);
    p->wino->w = w;
    wg = &p->wino->wg;
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
        !(p->wino->u = aligned_alloc(NN_ALIGN, (size_t)conv_round_up((int64_t)bytes, NN_ALIGN))))
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
                     conv_round_up(nn_wino_buf_floats(wg), 16);
    return NN_OK;
}

void conv_wino_release(conv_plan *p)
{
    if (p->wino)
        free(p->wino->u);
    free(p->wino);
    p->wino = NULL;
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
    int64_t mstride = odd_lines((o1 - o0) * nt), T = p->wino->wg.th * p->wino->wg.tw;
    int64_t chw = p->C * p->g.ih * p->g.iw;
    if (fill) {
        for (int64_t n = t0 / T; n * T < t0 + nt; n++) {
            int64_t a = (t0 > n * T ? t0 : n * T) - n * T;
            int64_t b = (t0 + nt < n * T + T ? t0 + nt : n * T + T) - n * T;
            nn_wino_input(p->k, &p->wino->wg, t->x + n * chw, a, b - a, n * T + a - t0, v,
                          p->pb_floats, buf);
        }
        nn_wino_input_pad(p->k, p->C, nt, v, p->pb_floats);
    }
    for (int xi = 0; xi < NN_WINO_POS; xi++)
        nn_sgemm_run(p->k, o1 - o0, nt, p->C, p->wino->u + (xi * p->O + o0) * p->C, p->C,
                     v + xi * p->pb_floats, m + xi * mstride, nt, NULL);
    for (int64_t n = t0 / T; n * T < t0 + nt; n++) {
        int64_t a = (t0 > n * T ? t0 : n * T) - n * T;
        int64_t b = (t0 + nt < n * T + T ? t0 + nt : n * T + T) - n * T;
        nn_sgemm_epi ep = conv_item_epi(t, n, o0, 0);
        nn_wino_output(&p->wino->wg, m + (n * T + a - t0), mstride, nt, o1 - o0, a, b - a, &ep,
                       t->y + (n * p->O + o0) * p->ohw, buf);
    }
}

/* Slot s owns a contiguous share of the items and scratch slice s. */
static void conv_wino_slots(void *arg, int64_t begin, int64_t end)
{
    const conv_task *t = arg;
    const conv_plan *p = t->p;
    int64_t total = p->N * p->wino->wg.th * p->wino->wg.tw;
    int64_t items = p->tiles * p->oblocks;
    for (int64_t s = begin; s < end; s++) {
        float *slot = t->scratch + s * p->slot_floats;
        int64_t prev = -1;          /* tile block now transformed in the slot */
        for (int64_t it = s * items / t->slots; it < (s + 1) * items / t->slots; it++) {
            int64_t ob = it % p->oblocks, tile = it / p->oblocks;
            int64_t p0 = tile * p->nb, o0 = ob * p->ob;
            int64_t np = p0 + p->nb < total ? p->nb : total - p0;
            int64_t o1 = o0 + p->ob < p->og ? o0 + p->ob : p->og;
            conv_wino_item(t, p0, np, o0, o1, slot, tile != prev);
            prev = tile;
        }
    }
}

/* Filters [begin, end) of the Winograd weight transform. */
static void conv_wino_weights_run(void *arg, int64_t begin, int64_t end)
{
    const conv_task *t = arg;
    nn_wino_weights(t->p->wino->w, t->p->O * t->p->C, begin, end, t->p->wino->u);
}

void conv_wino_run(const conv_task *t, nn_pool *pool)
{
    conv_wino *cw = t->p->wino;
    if (!cw->u_ready) {
        nn_pool_for(pool, t->p->O * t->p->C, 1024, conv_wino_weights_run, (void *)t);
        cw->u_ready = 1;
    }
    nn_pool_for(pool, t->slots, 1, conv_wino_slots, (void *)t);
}
