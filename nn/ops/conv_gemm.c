/* conv_gemm.c — the GEMM path of Conv (see conv_priv.h): Y_g [O/g, OH*OW] =
 * W_g [O/g, C/g*KH*KW] (the OIHW weights in place, read-only) times the
 * im2col matrix of output pixels (a 1x1 stride-1 unpadded conv uses the
 * input rows themselves). Three schedules: wide (many pixels, small
 * weights) runs items of (batch, group, pixel tile, channel block), each
 * thread packing its own tile of im2col panels; deep (the weights outweigh
 * one image's packed im2col: late, small maps) packs a whole image once,
 * threads sharing the packing, then splits the output channels so the
 * weights stream from memory once per image, or, when the threads can
 * share the batch evenly, gives each thread whole images (ResNet18 at
 * batch 8, 2 threads: its four deep convs 20.7 -> 17.7 ms in the medians
 * of 6 alternating processes, the network 127.3 -> 124.1 in 10); indirect
 * (output rows a whole number of panels, e.g. the ResNet stem) skips the
 * im2col copy: the GEMM reads its B rows through pointers into the
 * (padded) input. */
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
/* Largest packed im2col of one image for the deep schedule (2 MB): it
 * replaces the per-thread tiles in scratch. */
#define CONV_DEEP_FLOATS (1 << 19)
/* Output-channel blocks per thread of the deep schedule (each a GEMM over
 * the shared packed image, claimed one at a time). */
#define CONV_DEEP_BLOCKS 2
/* Largest zero-padded copy of one image's input (4 MB): im2col then reads
 * it without bounds checks; past this it checks every segment. */
#define CONV_PAD_FLOATS (1 << 20)

/* Longest reduction of the indirect schedule (its row pointer table is
 * on the stack: 4 KB). */
#define CONV_IND_MAX_K 512
/* Panels per indirect GEMM call (their offsets are on the stack). */
#define CONV_IND_PANELS 64

/* Where im2col reads one image: xs [C][planes][ph][row], tap (c, ky, kx)
 * of output pixel (oy, ox) at plane tc % planes, row oy * sh + ky * dh,
 * index ox * step + tc / planes (tc = kx * dw). Modes: RAW, the input
 * itself (no padding: planes 1, step sw); COPY, a zero-padded copy in
 * scratch (for the indirect schedule at stride 2 split into planes of
 * even and odd columns, so that its B rows are consecutive floats: planes
 * 2, step 1; else planes 1, step sw); CHECKED, the input with bounds
 * checks per segment (padding, and the copy would be too big). */
enum { CONV_SRC_RAW, CONV_SRC_COPY, CONV_SRC_CHECKED };

typedef struct conv_src {
    int mode;
    int64_t ph, row, planes, step;
    const float *x;             /* image n of the input [C, H, W] */
    const float *xs;            /* RAW: x; COPY: the copy at the start of scratch */
} conv_src;

static int conv_gemm_deep(const conv_plan *p);
static int conv_ind_fits(const conv_plan *p);

/* The layout of p's source (pointers unset). */
static conv_src conv_src_layout(const conv_plan *p)
{
    const nn_geom2d *g = &p->g;
    int pads = g->pt || g->pl || g->pb || g->pr;
    int planes = g->sw == 2 && conv_ind_fits(p) ? 2 : 1;
    conv_src s = {CONV_SRC_RAW, g->ih, g->iw, 1, g->sw, NULL, NULL};
    conv_src c = {CONV_SRC_COPY, g->ih + g->pt + g->pb, 0, planes, g->sw / planes, NULL, NULL};
    c.row = (g->iw + g->pl + g->pr + planes - 1) / planes;
    if (p->is1x1 || (!pads && planes == 1))
        return s;
    if (p->C * c.planes * c.ph * c.row <= CONV_PAD_FLOATS)
        return c;
    s.mode = pads ? CONV_SRC_CHECKED : CONV_SRC_RAW;   /* RAW: the wide schedule then */
    return s;
}

/* Floats of the copy of one image in scratch (0 unless COPY). */
static int64_t conv_copy_floats(const conv_plan *p)
{
    conv_src s = conv_src_layout(p);
    return s.mode == CONV_SRC_COPY ? conv_round_up(p->C * s.planes * s.ph * s.row, 16) : 0;
}

static conv_src conv_src_of(const conv_task *t, int64_t n)
{
    const conv_plan *p = t->p;
    conv_src s = conv_src_layout(p);
    s.x = t->x + n * p->C * p->g.ih * p->g.iw;
    s.xs = s.mode == CONV_SRC_COPY ? t->scratch : s.x;
    return s;
}

/* Channels [c0, c1) of image s->x into the copy dst (= s->xs): padded
 * row y, column col goes to plane col % planes, index col / planes. */
static void conv_copy_channels(const conv_plan *p, const conv_src *s, int64_t c0, int64_t c1,
                               float *dst)
{
    const nn_geom2d *g = &p->g;
    int64_t planes = s->planes;
    for (int64_t c = c0; c < c1; c++)
        for (int64_t y = 0; y < s->ph; y++) {
            int inside = y >= g->pt && y < g->pt + g->ih;
            const float *sx = inside ? s->x + (c * g->ih + y - g->pt) * g->iw : NULL;
            for (int64_t e = 0; e < planes; e++) {
                float *d = dst + ((c * planes + e) * s->ph + y) * s->row;
                /* index i holds padded column e + i * planes: input column
                 * e + i * planes - pl, inside for i in [i0, i1) */
                int64_t i0 = g->pl > e ? (g->pl - e + planes - 1) / planes : 0;
                int64_t i1 = (g->pl + g->iw - e + planes - 1) / planes, i = 0;
                i1 = !sx ? 0 : i1 < s->row ? i1 : s->row;
                for (; i < i0 && i < s->row; i++)
                    d[i] = 0.0f;
                if (planes == 1 && i < i1) {
                    memcpy(d + i, sx + i - g->pl, (size_t)(i1 - i) * sizeof(float));
                    i = i1;
                }
                for (; i < i1; i++)
                    d[i] = sx[e + i * planes - g->pl];
                for (; i < s->row; i++)
                    d[i] = 0.0f;
            }
        }
}

/* B row r = (c, ky, kx) of group gi's im2col matrix at output pixel 0:
 * add oy * sh * row + ox * step for pixel (oy, ox). */
static const float *conv_src_tap(const conv_plan *p, const conv_src *s, int64_t gi, int64_t r)
{
    const nn_geom2d *g = &p->g;
    int64_t c = gi * p->cg + r / (g->kh * g->kw), ky = r / g->kw % g->kh, kx = r % g->kw;
    int64_t tc = kx * g->dw;
    return s->xs + ((c * s->planes + tc % s->planes) * s->ph + ky * g->dh) * s->row +
           tc / s->planes;
}

/* Where packed column q of row r (d0 = pb + r * nr) lives: panel q / nr. */
typedef struct conv_pack_dst {
    float *d0;
    int64_t pstride;            /* floats per panel: kk * nr */
    int lg;                     /* log2(nr) */
    int64_t msk;                /* nr - 1 */
} conv_pack_dst;

static inline float *conv_pack_at(const conv_pack_dst *d, int64_t q)
{
    return d->d0 + (q >> d->lg) * d->pstride + (q & d->msk);
}

/* Output pixels [i0, i1) of one output row, packed from column q0 on:
 * value row[i * sw + off] for i in the valid columns [vx0, vx1), 0
 * elsewhere (row NULL: all 0). Interior runs go 4 at a time within a
 * panel (strides 1 and 2). */
static void conv_im2col_seg(const conv_pack_dst *d, const float *row, int64_t i0, int64_t i1,
                            int64_t q0, int64_t vx0, int64_t vx1, int64_t off, int64_t sw,
                            int64_t iw)
{
    int64_t a = row && i0 < vx0 ? vx0 : i0, b = row ? (i1 < vx1 ? i1 : vx1) : i0;
    int64_t iv = b, i;          /* [a, iv): where 4-wide loads stay in the row */
    if (a > i1)
        a = i1;
    if (sw == 2 && iv > (iw - off - 8) / 2 + 4)
        iv = (iw - off - 8) / 2 + 4;
    if (sw > 2 || iw - off < 8)
        iv = a;
    for (i = i0; i < a; i++)
        *conv_pack_at(d, q0 + i - i0) = 0.0f;
    while (i < b) {
        int64_t q = q0 + i - i0, run;
        float *dst = conv_pack_at(d, q);
        if ((q & 3) || i + 4 > iv) {
            *dst = row[i * sw + off];
            i++;
            continue;
        }
        run = d->msk + 1 - (q & d->msk);
        run = (iv - i < run ? iv - i : run) & ~(int64_t)3;
        if (sw == 1)
            for (int64_t k = 0; k < run; k += 4)
                nn_f4_store(dst + k, nn_f4_load(row + i + k + off));
        else
            for (int64_t k = 0; k < run; k += 4)
                nn_f4_store(dst + k, nn_f4_even(row + 2 * (i + k) + off));
        i += run;
    }
    for (; i < i1; i++)
        *conv_pack_at(d, q0 + i - i0) = 0.0f;
}

/* Row r = (c, ky, kx) of the im2col matrix for output pixels [p0, p0 + np)
 * of one (batch, group), written straight into the sgemm panels pb of the
 * kk-row packed matrix (columns of the last panel past np zeroed): x is
 * the group's [cg, H, W] input. Zero padding. */
static void conv_im2col_pack(const conv_plan *p, const float *x, int64_t r, int64_t p0,
                             int64_t np, float *pb)
{
    const nn_geom2d *g = &p->g;
    int64_t nr = p->k->nr;
    int64_t c = r / (g->kh * g->kw), ky = r / g->kw % g->kh, kx = r % g->kw;
    const float *xc = x + c * g->ih * g->iw;
    int64_t off = kx * g->dw - g->pl, vx0, vx1;
    int64_t q = 0, oy = p0 / g->ow, ox = p0 % g->ow;
    conv_pack_dst d = {pb + r * nr, p->kk * nr, __builtin_ctzll((unsigned long long)nr), nr - 1};
    nn_geom_taps(off, g->sw, g->ow, g->iw, &vx0, &vx1);
    while (q < np) {
        int64_t iy = oy * g->sh - g->pt + ky * g->dh;
        const float *row = iy >= 0 && iy < g->ih ? xc + iy * g->iw : NULL;
        int64_t end = ox + (np - q) < g->ow ? ox + (np - q) : g->ow;
        conv_im2col_seg(&d, row, ox, end, q, vx0, vx1, off, g->sw, g->iw);
        q += end - ox;
        ox = 0;
        oy++;
    }
    if (np % nr)
        memset(conv_pack_at(&d, np), 0, (size_t)(nr - np % nr) * sizeof(float));
}

/* A run of one panel's pixels within one output row: packed columns
 * [l0, l0 + len) read a tap's row at off + i * step; the first nvec * 4
 * of them in 4-wide loads that stay within the row. */
typedef struct conv_run {
    int64_t l0, len, off, nvec;
} conv_run;

/* The im2col rows of input channels [c0, c1) of group gi (the kk-row
 * matrix) for output pixels [p0, p0 + np), packed into pb panel by panel
 * (each panel's [rows][nr] block is written in order), read without
 * bounds checks from source s (RAW or COPY). Columns of the last panel
 * past np are zeroed. */
static void conv_im2col_panels(const conv_plan *p, const conv_src *s, int64_t gi, int64_t c0,
                               int64_t c1, int64_t p0, int64_t np, float *pb)
{
    const nn_geom2d *g = &p->g;
    int64_t nr = p->k->nr, step = s->step, khw = g->kh * g->kw;
    int64_t span = (g->kw - 1) * g->dw / s->planes;   /* the widest tap offset in a row */
    for (int64_t q0 = 0; q0 < np; q0 += nr) {
        conv_run runs[NN_SGEMM_NR_MAX];
        int64_t n = np - q0 < nr ? np - q0 : nr, nrun = 0;
        float *dst = pb + (q0 / nr) * p->kk * nr + c0 * khw * nr;
        for (int64_t l = 0; l < n; nrun++) {
            int64_t q = p0 + q0 + l, oy = q / g->ow, ox = q % g->ow;
            conv_run *ru = &runs[nrun];
            ru->l0 = l;
            ru->len = n - l < g->ow - ox ? n - l : g->ow - ox;
            ru->off = oy * g->sh * s->row + ox * step;
            ru->nvec = 0;
            if (step == 1)
                ru->nvec = ru->len / 4;
            else if (step == 2) /* 8-float loads from index 2 * (ox + 4v) + tap */
                while (ru->nvec < ru->len / 4 && 2 * (ox + 4 * ru->nvec) + span + 8 <= s->row)
                    ru->nvec++;
            l += ru->len;
        }
        for (int64_t c = c0; c < c1; c++)
            for (int64_t ky = 0; ky < g->kh; ky++)
                for (int64_t kx = 0; kx < g->kw; kx++, dst += nr) {
                    int64_t tc = kx * g->dw, e = s->planes == 2 ? tc & 1 : 0;
                    const float *src = s->xs + (((gi * p->cg + c) * s->planes + e) * s->ph +
                                                ky * g->dh) * s->row + (tc >> (s->planes - 1));
                    for (int64_t k = 0; k < nrun; k++) {
                        const conv_run *ru = &runs[k];
                        const float *sr = src + ru->off;
                        float *d = dst + ru->l0;
                        int64_t i = 0;
                        if (step == 1)
                            for (; i < 4 * ru->nvec; i += 4)
                                nn_f4_store(d + i, nn_f4_load(sr + i));
                        else
                            for (; i < 4 * ru->nvec; i += 4)
                                nn_f4_store(d + i, nn_f4_even(sr + 2 * i));
                        for (; i < ru->len; i++)
                            d[i] = sr[i * step];
                    }
                    if (n < nr)
                        memset(dst + n, 0, (size_t)(nr - n) * sizeof(float));
                }
    }
}

/* Packs the im2col rows of input channels [c0, c1) of group gi (within
 * the group) for pixels [p0, p0 + np) into pb (kk rows); a 1x1 stride-1
 * conv packs the input rows. */
static void conv_pack_rows(const conv_plan *p, const conv_src *s, int64_t gi, int64_t c0,
                           int64_t c1, int64_t p0, int64_t np, float *pb)
{
    const float *x = s->x + gi * p->cg * p->g.ih * p->g.iw;
    int64_t khw = p->g.kh * p->g.kw;
    if (p->is1x1) {
        for (int64_t r = c0; r < c1; r++)
            nn_sgemm_pack_b_row(p->k, p->kk, r, x + r * p->ohw + p0, np, pb);
    } else if (s->mode == CONV_SRC_CHECKED) {
        for (int64_t r = c0 * khw; r < c1 * khw; r++)
            conv_im2col_pack(p, x, r, p0, np, pb);
    } else {
        conv_im2col_panels(p, s, gi, c0, c1, p0, np, pb);
    }
}

/* Deep schedule: one group, and the weights [O, kk] hold more floats than
 * the packed im2col of one image (which fits CONV_DEEP_FLOATS). */
static int conv_gemm_deep(const conv_plan *p)
{
    int64_t packed = nn_sgemm_packed_b_floats(p->k, p->kk, p->ohw);
    return p->G == 1 && packed <= CONV_DEEP_FLOATS && p->O * p->kk > packed;
}

/* Deep schedule over whole images: with a batch that the threads share
 * evenly, each thread copies, packs and multiplies images of its own (one
 * parallel loop per conv, no packed image read across cores) instead of
 * every thread taking part in every image (two loops per image). */
static int conv_deep_images(const conv_plan *p)
{
    return conv_gemm_deep(p) && p->slots > 1 && p->N % p->slots == 0;
}

/* Indirect schedule: not deep, one group, every panel of nr output pixels
 * within one output row, column stride 1 or 2 (stride 2 reads a copy
 * split into even and odd columns), an ISA with indirect tiles. */
static int conv_ind_fits(const conv_plan *p)
{
    const nn_geom2d *g = &p->g;
    return p->G == 1 && !p->is1x1 && (g->sw == 1 || g->sw == 2) && g->ow % p->k->nr == 0 &&
           p->kk <= CONV_IND_MAX_K && nn_sgemm_irows_for(p->k) && !conv_gemm_deep(p);
}

/* The indirect schedule runs when its B rows are consecutive floats:
 * stride 1, or a copy split into even and odd columns. */
static int conv_gemm_ind(const conv_plan *p)
{
    conv_src s = conv_src_layout(p);
    return conv_ind_fits(p) && s.mode != CONV_SRC_CHECKED && s.step == 1;
}

const char *conv_gemm_schedule(const conv_plan *p)
{
    if (conv_gemm_deep(p))
        return "gemm deep";
    if (conv_gemm_ind(p))
        return "gemm indirect";
    return p->is1x1 ? "gemm 1x1" : "gemm im2col";
}

/* Scratch (p->slots slices of p->slot_floats, used as one buffer): the
 * copy of one image [conv_copy_floats], then the deep schedule's packed
 * image or the wide schedule's packed tile [pb_floats] per slot. */
nn_status conv_gemm_prepare(conv_plan *p, const char *name, nn_err *e)
{
    int64_t cap = CONV_PACK_FLOATS / p->kk / p->k->nr * p->k->nr, total;
    int64_t copy = conv_copy_floats(p);
    (void)name;
    (void)e;
    if (conv_gemm_deep(p) || conv_gemm_ind(p)) {
        /* one item of every pixel per image; deep splits the channels,
         * into CONV_DEEP_BLOCKS blocks per thread (claimed one at a time) */
        int64_t blocks = (p->O + p->k->mr - 1) / p->k->mr;
        if (conv_gemm_deep(p) && p->slots > 1)
            blocks = p->slots * CONV_DEEP_BLOCKS < blocks ? p->slots * CONV_DEEP_BLOCKS : blocks;
        else
            blocks = p->slots < blocks ? p->slots : blocks;
        p->nb = p->ohw;
        p->tiles = 1;
        p->ob = conv_round_up((p->O + blocks - 1) / blocks, p->k->mr);
        p->oblocks = (p->O + p->ob - 1) / p->ob;
        p->pb_floats = conv_gemm_deep(p)
                           ? conv_round_up(nn_sgemm_packed_b_floats(p->k, p->kk, p->ohw), 16) : 0;
        total = (conv_deep_images(p) ? p->slots : 1) * (copy + p->pb_floats);
    } else {
        /* a copy is made per image: then split the tiles of one image */
        cap = cap < CONV_MIN_TILE ? CONV_MIN_TILE : cap > CONV_MAX_TILE ? CONV_MAX_TILE : cap;
        conv_split(p, copy ? p->G : p->N * p->G, p->ohw, cap, p->k->nr, CONV_MIN_TILE);
        p->pb_floats = conv_round_up(nn_sgemm_packed_b_floats(p->k, p->kk, p->nb), 16);
        total = copy + p->slots * p->pb_floats;
    }
    p->slot_floats = conv_round_up((total + p->slots - 1) / p->slots, 16);
    return NN_OK;
}

/* One run over images [n0, n1) (wide: items of those images; deep and
 * indirect: image n0 only). */
typedef struct conv_job {
    const conv_task *t;
    int64_t n0, n1;
    const nn_pool *pool;
} conv_job;

/* The copy of image j->n0, channels [begin, end). */
static void conv_copy_run(void *arg, int64_t begin, int64_t end)
{
    const conv_job *j = arg;
    conv_src s = conv_src_of(j->t, j->n0);
    conv_copy_channels(j->t->p, &s, begin, end, j->t->scratch);
}

/* Deep schedule: channels [c0, c1) of the image s reads, copied first
 * when COPY (to xs, which s->xs points at), packed into the image's
 * packed im2col pb. */
static void conv_deep_pack_channels(const conv_plan *p, const conv_src *s, int64_t c0, int64_t c1,
                                    float *xs, float *pb)
{
    if (s->mode == CONV_SRC_COPY)
        conv_copy_channels(p, s, c0, c1, xs);
    conv_pack_rows(p, s, 0, c0, c1, 0, p->ohw, pb);
}

/* Deep schedule: output channels [o0, o1) of image n over every pixel,
 * from its packed im2col pb. */
static void conv_deep_product(const conv_task *t, int64_t n, int64_t o0, int64_t o1,
                              const float *pb)
{
    const conv_plan *p = t->p;
    nn_sgemm_epi ep = conv_item_epi(t, n, o0, 0);
    nn_sgemm_run_dot(p->k, o1 - o0, p->ohw, p->kk, t->w + o0 * p->kk, p->kk, pb,
                     t->y + (n * p->O + o0) * p->ohw, p->ohw, &ep, NULL);
}

/* Deep schedule, image j->n0: slot s packs the im2col rows of its share of
 * the input channels (copying them first) into the shared packed image. */
static void conv_deep_pack(void *arg, int64_t begin, int64_t end)
{
    const conv_job *j = arg;
    const conv_plan *p = j->t->p;
    conv_src s = conv_src_of(j->t, j->n0);
    float *pb = j->t->scratch + conv_copy_floats(p);
    for (int64_t sl = begin; sl < end; sl++)
        conv_deep_pack_channels(p, &s, sl * p->C / j->t->slots, (sl + 1) * p->C / j->t->slots,
                                j->t->scratch, pb);
}

/* Deep schedule, image j->n0: output channel blocks [begin, end) over
 * every pixel. */
static void conv_deep_gemm(void *arg, int64_t begin, int64_t end)
{
    const conv_job *j = arg;
    const conv_plan *p = j->t->p;
    const float *pb = j->t->scratch + conv_copy_floats(p);
    for (int64_t b = begin; b < end; b++) {
        int64_t o0 = b * p->ob, o1 = o0 + p->ob < p->O ? o0 + p->ob : p->O;
        conv_deep_product(j->t, j->n0, o0, o1, pb);
    }
}

/* Deep schedule, images [begin, end), each alone in the running thread's
 * slice of the scratch (copy, then packed image). */
static void conv_deep_image_run(void *arg, int64_t begin, int64_t end)
{
    const conv_job *j = arg;
    const conv_plan *p = j->t->p;
    int64_t copy = conv_copy_floats(p);
    float *xs = j->t->scratch + nn_pool_thread_index(j->pool) * (copy + p->pb_floats);
    for (int64_t n = begin; n < end; n++) {
        conv_src s = conv_src_of(j->t, n);
        if (s.mode == CONV_SRC_COPY)
            s.xs = xs;
        conv_deep_pack_channels(p, &s, 0, p->C, xs, xs + copy);
        conv_deep_product(j->t, n, 0, p->O, xs + copy);
    }
}

/* Panels per chunk of the indirect schedule (at most CONV_IND_PANELS):
 * as many chunks as that needs, rounded up to a multiple of the plan's
 * threads, so that they share the chunks evenly (ResNet18's stem, 784
 * panels: 14 of 56 instead of 12 of 64 and one of 16; the stem at 2
 * threads 1.20 -> 1.18 ms). Each panel sums alone, so the chunking never
 * changes the result. */
static int64_t conv_ind_chunk(const conv_plan *p)
{
    int64_t panels = p->ohw / p->k->nr;
    int64_t n = conv_round_up((panels + CONV_IND_PANELS - 1) / CONV_IND_PANELS, p->slots);
    return n > 0 ? (panels + n - 1) / n : 1;
}

/* Indirect schedule, image j->n0 (copied when COPY): chunk i computes
 * every output channel of panels [i, i + 1) * conv_ind_chunk(p). */
static void conv_ind_gemm(void *arg, int64_t begin, int64_t end)
{
    const conv_job *j = arg;
    const conv_task *t = j->t;
    const conv_plan *p = t->p;
    const nn_geom2d *g = &p->g;
    conv_src s = conv_src_of(t, j->n0);
    int64_t nr = p->k->nr, panels = p->ohw / nr, chunk = conv_ind_chunk(p);
    const float *brow[CONV_IND_MAX_K];      /* B row r at output pixel 0 */
    int64_t poff[CONV_IND_PANELS];
    for (int64_t r = 0; r < p->kk; r++)
        brow[r] = conv_src_tap(p, &s, 0, r);
    for (int64_t i = begin; i < end; i++) {
        int64_t j0 = i * chunk;
        int64_t j1 = j0 + chunk < panels ? j0 + chunk : panels;
        nn_sgemm_epi ep = conv_item_epi(t, j->n0, 0, j0 * nr);
        for (int64_t q = j0; q < j1; q++)
            poff[q - j0] = q * nr / g->ow * g->sh * s.row + q * nr % g->ow * s.step;
        nn_sgemm_run_indirect(p->k, p->O, j1 - j0, p->kk, t->w, p->kk, brow, poff,
                              t->y + j->n0 * p->O * p->ohw + j0 * nr, p->ohw, &ep);
    }
}

/* GEMM item: output pixels [p0, p0 + np) of channels [o0, o1) of group gi
 * (channel indices within the group) of image n, packing its tile in pb
 * first. (With more than one thread every item is claimed on its own, and
 * with one the split gives each item its own tile: no item finds its tile
 * already packed.) */
static void conv_gemm_item(const conv_task *t, int64_t n, int64_t gi, int64_t p0, int64_t np,
                           int64_t o0, int64_t o1, float *pb)
{
    const conv_plan *p = t->p;
    const float *w = t->w + (gi * p->og + o0) * p->kk;
    float *y = t->y + (n * p->O + gi * p->og + o0) * p->ohw + p0;
    nn_sgemm_epi ep = conv_item_epi(t, n, gi * p->og + o0, p0);
    conv_src s = conv_src_of(t, n);
    conv_pack_rows(p, &s, gi, 0, p->cg, p0, np, pb);
    nn_sgemm_run(p->k, o1 - o0, np, p->kk, w, p->kk, pb, y, p->ohw, &ep);
}

/* Wide schedule, images [j->n0, j->n1): items [begin, end), packed in
 * the running thread's tile (items are claimed one at a time: a stalled
 * thread holds up one item, not its share of the layer). */
static void conv_gemm_items(void *arg, int64_t begin, int64_t end)
{
    const conv_job *j = arg;
    const conv_task *t = j->t;
    const conv_plan *p = t->p;
    float *pb = t->scratch + conv_copy_floats(p) + nn_pool_thread_index(j->pool) * p->pb_floats;
    for (int64_t it = begin; it < end; it++) {
        int64_t ob = it % p->oblocks, nt = it / p->oblocks;
        int64_t tile = nt % p->tiles, unit = nt / p->tiles;
        int64_t p0 = tile * p->nb, o0 = ob * p->ob;
        int64_t np = p0 + p->nb < p->ohw ? p->nb : p->ohw - p0;
        int64_t o1 = o0 + p->ob < p->og ? o0 + p->ob : p->og;
        conv_gemm_item(t, j->n0 + unit / p->G, unit % p->G, p0, np, o0, o1, pb);
    }
}

void conv_gemm_run(const conv_task *t, nn_pool *pool)
{
    const conv_plan *p = t->p;
    int copy = conv_copy_floats(p) > 0;
    if (conv_deep_images(p)) {
        conv_job j = {t, 0, p->N, pool};
        nn_pool_for_each(pool, p->N, conv_deep_image_run, &j);
        return;
    }
    if (conv_gemm_deep(p)) {
        for (int64_t n = 0; n < p->N; n++) {
            conv_job j = {t, n, n + 1, pool};
            nn_pool_for(pool, t->slots, 1, conv_deep_pack, &j);
            nn_pool_for_each(pool, p->oblocks, conv_deep_gemm, &j);
        }
        return;
    }
    for (int64_t n = 0; n < p->N; n++) {
        conv_job j = {t, n, copy ? n + 1 : p->N, pool};
        if (copy)
            nn_pool_for(pool, p->C, 1, conv_copy_run, &j);
        if (conv_gemm_ind(p)) {
            int64_t chunk = conv_ind_chunk(p);
            nn_pool_for_each(pool, (p->ohw / p->k->nr + chunk - 1) / chunk, conv_ind_gemm, &j);
        } else {
            nn_pool_for_each(pool, (j.n1 - j.n0) * p->G * p->tiles * p->oblocks, conv_gemm_items,
                             &j);
        }
        if (!copy && !conv_gemm_ind(p))
            break;              /* the wide items of every image ran at once */
    }
}
