/* conv_gemm.c — the GEMM path of Conv (see conv_priv.h): Y_g [O/g, OH*OW] =
 * W_g [O/g, C/g*KH*KW] (the OIHW weights in place, read-only) times the
 * im2col matrix of a tile of output pixels, packed straight into sgemm
 * panels (a 1x1 stride-1 unpadded conv packs the input rows themselves).
 * Items are (batch, group, pixel tile, channel block); each thread slot
 * keeps its packed tile across the channel blocks of one pixel tile. */
#include <string.h>

#include "nn/ops/conv_priv.h"

/* Floats of one thread's packed B tile (512 KB): with the K blocking of the
 * driver only a [KC, tile] slice of it is hot, the rest streams from L2. */
#define CONV_PACK_FLOATS (1 << 17)
/* Widest pixel tile: keeps the [KC, tile] slice of B within L2. */
#define CONV_MAX_TILE 256
/* Narrowest pixel tile worth a GEMM; below it threads split the output
 * channels instead (each builds the same tile). */
#define CONV_MIN_TILE 32

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

nn_status conv_gemm_prepare(conv_plan *p, const char *name, nn_err *e)
{
    int64_t cap = CONV_PACK_FLOATS / p->kk / p->k->nr * p->k->nr;
    (void)name;
    (void)e;
    cap = cap < CONV_MIN_TILE ? CONV_MIN_TILE : cap > CONV_MAX_TILE ? CONV_MAX_TILE : cap;
    conv_split(p, p->N * p->G, p->ohw, cap, p->k->nr, CONV_MIN_TILE);
    p->pb_floats = conv_round_up(nn_sgemm_packed_b_floats(p->k, p->kk, p->nb), 16);
    p->slot_floats = p->pb_floats + (p->is1x1 ? 0 : conv_round_up(p->nb, 16));
    return NN_OK;
}

/* Slot s owns a contiguous share of the items and scratch slice s. */
static void conv_gemm_slots(void *arg, int64_t begin, int64_t end)
{
    const conv_task *t = arg;
    const conv_plan *p = t->p;
    int64_t items = p->N * p->G * p->tiles * p->oblocks;
    for (int64_t s = begin; s < end; s++) {
        float *slot = t->scratch + s * p->slot_floats;
        int64_t prev = -1;          /* (unit, tile) now packed in the slot */
        for (int64_t it = s * items / t->slots; it < (s + 1) * items / t->slots; it++) {
            int64_t ob = it % p->oblocks, nt = it / p->oblocks;
            int64_t tile = nt % p->tiles, unit = nt / p->tiles;
            int64_t p0 = tile * p->nb, o0 = ob * p->ob;
            int64_t np = p0 + p->nb < p->ohw ? p->nb : p->ohw - p0;
            int64_t o1 = o0 + p->ob < p->og ? o0 + p->ob : p->og;
            conv_gemm_item(t, unit / p->G, unit % p->G, p0, np, o0, o1, slot, nt != prev);
            prev = nt;
        }
    }
}

void conv_gemm_run(const conv_task *t, nn_pool *pool)
{
    nn_pool_for(pool, t->slots, 1, conv_gemm_slots, (void *)t);
}
