/* gemm_job.c — the pool-parallel GEMM driver behind Gemm and MatMul
 * (nn_gemm_job, op_util.h) on our sgemm (nn/kernels/sgemm.h). Each product
 * is computed as X = L R: L [P, K] row-major, used in place when the
 * operand already is and transposed otherwise; R [K, Q] packed into panels
 * with alpha folded in. X = C (P = M, Q = N), or, when that moves less
 * memory (few rows against weights stored [N, K]: classifier heads),
 * X = C^T = op(B)^T op(A)^T, transposed back into C unless M == 1. An
 * operand that is a constant is packed or transposed once at prepare;
 * others go through scratch at every run. Bias and activation go into the
 * micro-kernel's store when the sgemm epilogue can express them, else
 * into a pass over C. A narrow X (a last panel of at most 4 columns, e.g.
 * a classifier at batch 1: X = C^T is [classes, 1]) runs the sgemm's
 * dot-product tiles: ResNet18's fc at batch 1 0.33 -> 0.16 ms. */
#include <math.h>
#include <stdlib.h>

#include "nn/kernels/sgemm.h"
#include "nn/ops/op_util.h"

/* Work per pool range (floats moved or MACs): below this a loop stays on
 * the calling thread, waking the pool would cost more. */
#define GEMM_MIN_PREP 32768
#define GEMM_MIN_MACS 65536
/* Rows per transpose item (L copies, C from X^T). */
#define GEMM_T_ROWS 16

/* What prepare decided and made (ctx->state; the job's prep at run). */
typedef struct gemm_state {
    const nn_sgemm_kernel *kernel;
    int swap;                   /* the layout: X = C^T */
    float *packed_r;            /* R packed once (constant operand), or NULL */
    float *copied_l;            /* L [P, K] transposed once, or NULL */
} gemm_state;

/* How one job runs; the same for every batch. */
typedef struct gemm_layout {
    const nn_gemm_job *j;
    const nn_sgemm_kernel *k;
    int swap;                   /* X = C^T */
    int64_t P, Q, K;
    int64_t l_rs, l_cs;         /* L[p, k] = lsrc[p * l_rs + k * l_cs] */
    int64_t r_rs, r_cs;         /* R[k, q] = rsrc[k * r_rs + q * r_cs] */
    const float *l_pre, *r_pre; /* prepared at prepare, or NULL */
    int l_copy;                 /* L transposed into scratch at run */
    int r_pack;                 /* R packed into scratch at run */
    int x_copy;                 /* X in scratch, transposed into C */
    int64_t panels;             /* panels of R */
    int64_t l_blocks;           /* L copy items (GEMM_T_ROWS rows each) */
    int64_t tm, tq;             /* compute tile: rows, panels */
    int64_t pt, qt;             /* tiles along P and along Q (in tq panels) */
    int pack_in_tile;           /* one row tile: each tile packs its own
                                   panels right before using them */
    size_t l_floats, r_floats, x_floats, per_batch;   /* scratch, floats */
    int fused;                  /* bias + activation in the micro-kernel */
    nn_sgemm_epi epi;           /* X-space epilogue when fused */
    int64_t nbatch;
} gemm_layout;

static size_t round16(size_t n)
{
    return (n + 15) / 16 * 16;
}

static void layout_orient(gemm_layout *L, int swap)
{
    const nn_gemm_job *j = L->j;
    L->swap = swap;
    L->K = j->K;
    if (!swap) {
        L->P = j->M;
        L->Q = j->N;
        L->l_rs = j->trans_a ? 1 : j->lda;
        L->l_cs = j->trans_a ? j->lda : 1;
        L->r_rs = j->trans_b ? 1 : j->ldb;
        L->r_cs = j->trans_b ? j->ldb : 1;
    } else {
        L->P = j->N;
        L->Q = j->M;
        L->l_rs = j->trans_b ? j->ldb : 1;
        L->l_cs = j->trans_b ? 1 : j->ldb;
        L->r_rs = j->trans_a ? j->lda : 1;
        L->r_cs = j->trans_a ? 1 : j->lda;
    }
    L->x_copy = swap && j->M > 1;
}

/* Floats moved plus padded MACs / 16 (one 8-wide FMA pair per cycle
 * against about one float copied), as if every operand were prepared at
 * every run: the layout does not depend on which operands are constants,
 * so weights are copied once only where any layout would copy them (a
 * classifier's [N, K] weights stay in place, costing no memory). */
static double layout_cost(const gemm_layout *L)
{
    int64_t half = L->k->nr / 2;
    int64_t qeff = (L->Q + half - 1) / half * half;
    double c = (double)L->P * (double)qeff * (double)L->K / 16.0;
    c += (double)L->K * (double)L->Q;
    if (L->l_cs != 1)
        c += (double)L->P * (double)L->K;
    if (L->x_copy)
        c += 2.0 * (double)L->P * (double)L->Q;
    return c;
}

/* The epilogue in X space when the sgemm store can do it: beta 1 (or no
 * bias) and a bias that is a row or column vector or the full [M, N]
 * matrix in the unswapped layout. */
static void layout_epilogue(gemm_layout *L)
{
    const nn_gemm_job *j = L->j;
    nn_sgemm_epi *ep = &L->epi;
    memset(ep, 0, sizeof *ep);
    L->fused = 1;
    if (j->bias) {
        const float *over_n = NULL, *over_m = NULL;
        if (j->beta != 1.0f)
            L->fused = 0;
        else if (j->bias_rs == 0 && j->bias_cs == 1)
            over_n = j->bias;
        else if (j->bias_rs == 1 && j->bias_cs == 0)
            over_m = j->bias;
        else if (j->bias_cs == 1 && j->bias_rs > 0 && !L->swap) {
            ep->res = j->bias;
            ep->ldr = j->bias_rs;
        } else
            L->fused = 0;
        ep->bias_m = L->swap ? over_n : over_m;
        ep->bias_n = L->swap ? over_m : over_n;
    }
    if (j->act.act != NN_ACT_NONE) {
        ep->clamp = 1;
        ep->lo = j->act.act == NN_ACT_RELU ? 0.0f : j->act.lo;
        ep->hi = j->act.act == NN_ACT_RELU ? INFINITY : j->act.hi;
    }
    if (!L->fused)
        memset(ep, 0, sizeof *ep);
}

/* Fills everything but the data pointers. st: what prepare decided, or
 * NULL to decide here. 0, or -1 when the scratch size overflows. */
static int layout_make(const nn_gemm_job *j, const gemm_state *st, gemm_layout *L)
{
    size_t l, r, x, per;
    int64_t nr;
    memset(L, 0, sizeof *L);
    L->j = j;
    L->k = j->kernel;
    L->nbatch = 1;
    for (int d = 0; d < j->bnd; d++)
        L->nbatch *= j->bdim[d];
    if (st) {
        layout_orient(L, st->swap);
        L->l_pre = st->copied_l;
        L->r_pre = st->packed_r;
    } else {
        gemm_layout other = *L;
        layout_orient(L, 0);
        layout_orient(&other, 1);
        if (layout_cost(&other) < layout_cost(L))
            *L = other;
    }
    layout_epilogue(L);
    nr = L->k->nr;
    L->l_copy = L->l_cs != 1 && !L->l_pre;
    L->r_pack = !L->r_pre;
    L->panels = (L->Q + nr - 1) / nr;
    L->l_blocks = L->l_copy ? (L->P + GEMM_T_ROWS - 1) / GEMM_T_ROWS : 0;
    L->tm = NN_SGEMM_MC;
    L->tq = 128 / nr > 0 ? 128 / nr : 1;
    L->pt = (L->P + L->tm - 1) / L->tm;
    L->qt = (L->panels + L->tq - 1) / L->tq;
    L->pack_in_tile = L->r_pack && L->pt == 1;
    if (nn_size_mul((size_t)L->K, (size_t)(L->r_pack ? L->panels * nr : 0), &r) != 0 ||
        nn_size_mul((size_t)L->P, (size_t)(L->l_copy ? L->K : 0), &l) != 0 ||
        nn_size_mul((size_t)L->P, (size_t)(L->x_copy ? L->Q : 0), &x) != 0)
        return -1;
    L->l_floats = round16(l);
    L->r_floats = round16(r);
    L->x_floats = round16(x);
    if (nn_size_add(L->l_floats, L->r_floats, &per) != 0 ||
        nn_size_add(per, L->x_floats, &per) != 0 || nn_size_mul(per, (size_t)L->nbatch, &x) != 0 ||
        nn_size_mul(x, sizeof(float), &x) != 0)
        return -1;
    L->per_batch = per;
    return 0;
}

/* Operand pointers of batch b: L's and R's sources, and C (NULL for an
 * operand without data, as activations at prepare). */
static void batch_ptrs(const gemm_layout *L, int64_t b, const float **lsrc, const float **rsrc,
                       float **c)
{
    const nn_gemm_job *j = L->j;
    const float *a, *bm;
    int64_t aoff = 0, boff = 0, rest = b;
    for (int d = j->bnd - 1; d >= 0; d--) {
        int64_t idx = rest % j->bdim[d];
        rest /= j->bdim[d];
        aoff += idx * j->astride[d];
        boff += idx * j->bstride[d];
    }
    a = j->A ? j->A + aoff : NULL;
    bm = j->B ? j->B + boff : NULL;
    *lsrc = L->swap ? bm : a;
    *rsrc = L->swap ? a : bm;
    *c = j->C ? j->C + b * j->cstride : NULL;
}

static float *batch_scratch(const gemm_layout *L, int64_t b)
{
    return L->j->scratch ? L->j->scratch + (size_t)b * L->per_batch : NULL;
}

/* C's epilogue on rows [m0, m1) x columns [n0, n1); c points at
 * C[m0, n0]. */
static void gemm_epilogue(const nn_gemm_job *j, float *c, int64_t m0, int64_t m1, int64_t n0,
                          int64_t n1)
{
    for (int64_t m = m0; m < m1; m++) {
        float *row = c + (m - m0) * j->ldc;
        if (!j->bias) {
            nn_store_bias_act(row, n1 - n0, 0.0f, &j->act);
        } else if (j->bias_cs == 0) {
            nn_store_bias_act(row, n1 - n0, j->beta * j->bias[m * j->bias_rs], &j->act);
        } else {
            const float *bv = j->bias + m * j->bias_rs + n0 * j->bias_cs;
            for (int64_t n = 0; n < n1 - n0; n++)
                row[n] += j->beta * bv[n * j->bias_cs];
            nn_store_bias_act(row, n1 - n0, 0.0f, &j->act);
        }
    }
}

/* Packs panel pi of R (alpha folded in) into dst (the panel array). */
static void pack_panel(const gemm_layout *L, const float *rsrc, int64_t pi, float *dst)
{
    int64_t nr = L->k->nr, q0 = pi * nr, qn = L->Q - q0 < nr ? L->Q - q0 : nr;
    float alpha = L->j->alpha, *d = dst + pi * L->K * nr;
    if (L->r_cs == 1) {
        for (int64_t kk = 0; kk < L->K; kk++) {
            const float *s = rsrc + kk * L->r_rs + q0;
            float *o = d + kk * nr;
            if (alpha == 1.0f)
                memcpy(o, s, (size_t)qn * sizeof(float));
            else
                nn_row_scale(o, s, alpha, qn);
            if (qn < nr)
                memset(o + qn, 0, (size_t)(nr - qn) * sizeof(float));
        }
        return;
    }
    for (int64_t q = 0; q < qn; q++) {
        const float *s = rsrc + (q0 + q) * L->r_cs;
        for (int64_t kk = 0; kk < L->K; kk++)
            d[kk * nr + q] = alpha * s[kk * L->r_rs];
    }
    for (int64_t kk = 0; qn < nr && kk < L->K; kk++)
        memset(d + kk * nr + qn, 0, (size_t)(nr - qn) * sizeof(float));
}

/* Rows [p0, p1) of L copied row-major [P, K] into dst. */
static void copy_l(const gemm_layout *L, const float *lsrc, int64_t p0, int64_t p1, float *dst)
{
    for (int64_t k0 = 0; k0 < L->K; k0 += GEMM_T_ROWS) {
        int64_t k1 = k0 + GEMM_T_ROWS < L->K ? k0 + GEMM_T_ROWS : L->K;
        for (int64_t p = p0; p < p1; p++)
            for (int64_t kk = k0; kk < k1; kk++)
                dst[p * L->K + kk] = lsrc[p * L->l_rs + kk * L->l_cs];
    }
}

/* ---- prepare ------------------------------------------------------------- */

void nn_gemm_job_release(void *state)
{
    gemm_state *s = state;
    if (!s)
        return;
    nn_aligned_free(s->packed_r);
    nn_aligned_free(s->copied_l);
    free(s);
}

/* Packs R and/or copies L of batch 0 into s when that operand is a
 * constant the layout would otherwise prepare at every run. */
static nn_status prepare_operands(const gemm_layout *L, gemm_state *s, nn_err *e)
{
    const float *lsrc, *rsrc;
    float *c;
    size_t n;
    if (L->nbatch != 1)
        return NN_OK;
    batch_ptrs(L, 0, &lsrc, &rsrc, &c);
    if (rsrc) {
        n = (size_t)L->K * (size_t)(L->panels * L->k->nr);
        if (!(s->packed_r = nn_aligned_alloc(n * sizeof(float))))
            return nn_err_set(e, NN_ERR_NOMEM, "gemm: packed weights (%zu floats)", n);
        for (int64_t pi = 0; pi < L->panels; pi++)
            pack_panel(L, rsrc, pi, s->packed_r);
    }
    if (lsrc && L->l_cs != 1) {
        n = (size_t)L->P * (size_t)L->K;
        if (!(s->copied_l = nn_aligned_alloc(n * sizeof(float))))
            return nn_err_set(e, NN_ERR_NOMEM, "gemm: transposed weights (%zu floats)", n);
        copy_l(L, lsrc, 0, L->P, s->copied_l);
    }
    return NN_OK;
}

nn_status nn_gemm_job_prepare(nn_gemm_job *j, void **state, size_t *scratch_bytes, nn_err *e)
{
    gemm_layout L;
    gemm_state *s;
    nn_status st;
    *scratch_bytes = 0;
    if ((st = nn_sgemm_select(&j->kernel, e)) != NN_OK)
        return st;
    s = calloc(1, sizeof *s);
    if (!s)
        return nn_err_set(e, NN_ERR_NOMEM, "gemm state");
    s->kernel = j->kernel;
    if (j->M > 0 && j->N > 0 && j->K > 0) {
        if (layout_make(j, NULL, &L) != 0) {
            st = nn_err_set(e, NN_ERR_LIMIT, "gemm scratch too large");
            goto fail;
        }
        s->swap = L.swap;
        if ((st = prepare_operands(&L, s, e)) != NN_OK)
            goto fail;
        if (layout_make(j, s, &L) != 0) {
            st = nn_err_set(e, NN_ERR_LIMIT, "gemm scratch too large");
            goto fail;
        }
        *scratch_bytes = L.per_batch * (size_t)L.nbatch * sizeof(float);
    }
    *state = s;
    return NN_OK;
fail:
    nn_gemm_job_release(s);
    return st;
}

void nn_gemm_job_bind(nn_gemm_job *j, const nn_op_ctx *ctx)
{
    const gemm_state *s = ctx->state;
    j->kernel = s->kernel;
    j->scratch = ctx->scratch;
    j->prep = s;
}

/* ---- run ----------------------------------------------------------------- */

/* Phase 1, item i of nbatch * (panels packed here + l_blocks): pack one
 * panel of R or copy one block of L rows. */
static void prep_run(void *arg, int64_t begin, int64_t end)
{
    const gemm_layout *L = arg;
    int64_t panels = L->r_pack && !L->pack_in_tile ? L->panels : 0, per = panels + L->l_blocks;
    for (int64_t i = begin; i < end; i++) {
        int64_t b = i / per, r = i % per;
        const float *lsrc, *rsrc;
        float *c, *s = batch_scratch(L, b);
        batch_ptrs(L, b, &lsrc, &rsrc, &c);
        if (r < panels) {
            pack_panel(L, rsrc, r, s + L->l_floats);
        } else {
            int64_t p0 = (r - panels) * GEMM_T_ROWS;
            int64_t p1 = p0 + GEMM_T_ROWS < L->P ? p0 + GEMM_T_ROWS : L->P;
            copy_l(L, lsrc, p0, p1, s);
        }
    }
}

/* Phase 2, item i of nbatch * pt * qt: one tile of X. */
static void tiles_run(void *arg, int64_t begin, int64_t end)
{
    const gemm_layout *L = arg;
    const nn_gemm_job *j = L->j;
    int64_t nr = L->k->nr;
    for (int64_t i = begin; i < end; i++) {
        int64_t b = i / (L->pt * L->qt), r = i % (L->pt * L->qt);
        int64_t p0 = (r / L->qt) * L->tm, q0 = (r % L->qt) * L->tq * nr;
        int64_t p1 = p0 + L->tm < L->P ? p0 + L->tm : L->P;
        int64_t q1 = q0 + L->tq * nr < L->Q ? q0 + L->tq * nr : L->Q;
        const float *lsrc, *rsrc, *l, *pr;
        float *c, *x, *s = batch_scratch(L, b);
        int64_t ldl, ldx;
        nn_sgemm_epi te;
        batch_ptrs(L, b, &lsrc, &rsrc, &c);
        pr = L->r_pre ? L->r_pre : s + L->l_floats;
        for (int64_t pi = q0 / nr; L->pack_in_tile && pi * nr < q1; pi++)
            pack_panel(L, rsrc, pi, s + L->l_floats);
        if (L->l_pre || L->l_copy) {
            l = (L->l_pre ? L->l_pre : s) + p0 * L->K;
            ldl = L->K;
        } else {
            l = lsrc + p0 * L->l_rs;
            ldl = L->l_rs;
        }
        if (L->x_copy) {
            x = s + L->l_floats + L->r_floats;
            ldx = L->Q;
        } else {
            x = c;
            ldx = L->swap ? 1 : j->ldc;
        }
        te = L->epi;
        if (te.bias_m)
            te.bias_m += p0;
        if (te.bias_n)
            te.bias_n += q0;
        if (te.res)
            te.res += p0 * te.ldr + q0;
        nn_sgemm_run_dot(L->k, p1 - p0, q1 - q0, L->K, l, ldl, pr + q0 * L->K, x + p0 * ldx + q0, ldx,
                     L->fused ? &te : NULL, NULL);
        if (L->fused || L->x_copy)
            continue;
        if (L->swap)        /* M == 1: X rows are C's columns */
            gemm_epilogue(j, c + p0, 0, 1, p0, p1);
        else
            gemm_epilogue(j, c + p0 * j->ldc + q0, p0, p1, q0, q1);
    }
}

/* Phase 3 (swapped, M > 1), item i of nbatch * row blocks of C: C rows
 * from the columns of X [N, M], then the epilogue unless fused. */
static void out_run(void *arg, int64_t begin, int64_t end)
{
    const gemm_layout *L = arg;
    const nn_gemm_job *j = L->j;
    int64_t blocks = (j->M + GEMM_T_ROWS - 1) / GEMM_T_ROWS;
    for (int64_t i = begin; i < end; i++) {
        int64_t b = i / blocks, m0 = (i % blocks) * GEMM_T_ROWS;
        int64_t m1 = m0 + GEMM_T_ROWS < j->M ? m0 + GEMM_T_ROWS : j->M;
        const float *lsrc, *rsrc, *x;
        float *c;
        batch_ptrs(L, b, &lsrc, &rsrc, &c);
        x = batch_scratch(L, b) + L->l_floats + L->r_floats;
        for (int64_t n = 0; n < j->N; n++)
            for (int64_t m = m0; m < m1; m++)
                c[m * j->ldc + n] = x[n * j->M + m];
        if (!L->fused)
            gemm_epilogue(j, c + m0 * j->ldc, m0, m1, 0, j->N);
    }
}

/* Range size for nn_pool_for: at least `min` work over items of `each`. */
static int64_t grain_for(double each, double min)
{
    double g = each > 0 ? min / each : 1.0;
    return g < 1.0 ? 1 : g > 1e9 ? 1000000000 : (int64_t)g + 1;
}

void nn_gemm_job_run(const nn_gemm_job *j, nn_pool *pool)
{
    gemm_layout L;
    int64_t nbatch = 1, nq;
    if (j->M <= 0 || j->N <= 0)
        return;
    for (int d = 0; d < j->bnd; d++)
        nbatch *= j->bdim[d];
    if (j->K == 0) {
        for (int64_t b = 0; b < nbatch; b++) {
            float *c = j->C + b * j->cstride;
            for (int64_t m = 0; m < j->M; m++)
                memset(c + m * j->ldc, 0, (size_t)j->N * sizeof(float));
            gemm_epilogue(j, c, 0, j->M, 0, j->N);
        }
        return;
    }
    if (layout_make(j, j->prep, &L) != 0)
        return;     /* unreachable: prepare sized the scratch with the same layout */
    nn_pool_for(pool, nbatch * ((L.r_pack && !L.pack_in_tile ? L.panels : 0) + L.l_blocks),
                grain_for((double)L.K * L.k->nr, GEMM_MIN_PREP), prep_run, &L);
    nq = L.Q < L.tq * L.k->nr ? L.Q : L.tq * L.k->nr;
    nn_pool_for(pool, nbatch * L.pt * L.qt,
                grain_for((double)(L.P < L.tm ? L.P : L.tm) * (double)L.K * (double)nq,
                          GEMM_MIN_MACS),
                tiles_run, &L);
    if (L.x_copy)
        nn_pool_for(pool, nbatch * ((j->M + GEMM_T_ROWS - 1) / GEMM_T_ROWS),
                    grain_for((double)GEMM_T_ROWS * (double)j->N, GEMM_MIN_PREP), out_run, &L);
}
