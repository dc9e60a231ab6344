/* op_transpose.c — Transpose: output dim j is input dim perm[j]; int
 * attribute "perm" (default: reversed dims) must be a permutation of
 * 0..r-1. E.g. NCHW -> NHWC is perm [0,2,3,1].
 * Reference: per output element, index arithmetic through perm. Fast: dims
 * of size 1 dropped and dims that stay adjacent merged (NCHW -> NHWC
 * becomes [N, C, HW] -> [N, HW, C]); then either whole rows are copied
 * (innermost dim unmoved) or 32x32 tiles of the two innermost axes are
 * transposed in cache, tiles spread over the pool. */
#include "nn/nn_ops.h"
#include "nn/ops/eltwise_util.h"

#define TRANSPOSE_TILE 32

/* Reads perm (or the default) for rank r; rejects non-permutations. */
static nn_status transpose_perm(const nn_node *node, int r, int *perm, nn_err *e)
{
    int64_t p[NN_MAX_DIMS];
    int n, seen[NN_MAX_DIMS] = {0};
    nn_status st = eu_attr_ints(node, "Transpose", "perm", p, NN_MAX_DIMS, &n, e);
    if (st != NN_OK)
        return st;
    if (n < 0) {
        for (int j = 0; j < r; j++)
            perm[j] = r - 1 - j;
        return NN_OK;
    }
    if (n != r)
        return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Transpose): perm has %d values for an input of rank %d",
                          eu_name(node), n, r);
    for (int j = 0; j < r; j++) {
        if (p[j] < 0 || p[j] >= r || seen[p[j]]++)
            return nn_err_set(e, NN_ERR_FORMAT, "node '%s' (Transpose): perm is not a permutation of 0..%d",
                              eu_name(node), r - 1);
        perm[j] = (int)p[j];
    }
    return NN_OK;
}

static nn_status transpose_infer(const nn_node *node, const nn_shape *const *in, int n_in,
                                 nn_shape *out, nn_err *e)
{
    int perm[NN_MAX_DIMS];
    nn_status st = eu_check_inputs(node, "Transpose", in, n_in, 1, e);
    if (st != NN_OK)
        return st;
    if ((st = eu_check_out(node, "Transpose", in[0], e)) != NN_OK ||
        (st = transpose_perm(node, in[0]->ndim, perm, e)) != NN_OK)
        return st;
    *out = *in[0];
    for (int j = 0; j < in[0]->ndim; j++)
        out->d[j] = in[0]->d[perm[j]];
    return eu_check_out(node, "Transpose", out, e);
}

/* The transpose after dropping size-1 dims and merging input dims that stay
 * adjacent: m dims, dim[] in input order, perm[] as for the op. */
typedef struct transpose_plan {
    int m;
    int64_t dim[NN_MAX_DIMS];
    int perm[NN_MAX_DIMS];
} transpose_plan;

static void transpose_simplify(const nn_shape *x, const int *perm, transpose_plan *tp)
{
    int r = x->ndim, keep_id[NN_MAX_DIMS], kp[NN_MAX_DIMS], nk = 0, nkp = 0;
    int group_start[NN_MAX_DIMS], group_end[NN_MAX_DIMS], ng = 0;
    int64_t kd[NN_MAX_DIMS];
    /* Drop size-1 dims, renumbering the rest in input order. */
    for (int i = 0; i < r; i++) {
        keep_id[i] = x->d[i] == 1 ? -1 : nk;
        if (x->d[i] != 1)
            kd[nk++] = x->d[i];
    }
    for (int j = 0; j < r; j++)
        if (keep_id[perm[j]] >= 0)
            kp[nkp++] = keep_id[perm[j]];
    /* Groups of input dims that appear consecutively in the output. */
    for (int j = 0; j < nkp; j++) {
        if (ng > 0 && kp[j] == group_end[ng - 1] + 1) {
            group_end[ng - 1] = kp[j];
            continue;
        }
        group_start[ng] = group_end[ng] = kp[j];
        ng++;
    }
    /* Merged input dim g (input order) is the group with the g-th smallest
     * start; perm maps output position -> that index. */
    tp->m = ng;
    for (int k = 0; k < ng; k++) {
        int rank = 0;
        int64_t d = 1;
        for (int l = 0; l < ng; l++)
            rank += group_start[l] < group_start[k];
        for (int i = group_start[k]; i <= group_end[k]; i++)
            d *= kd[i];
        tp->perm[k] = rank;
        tp->dim[rank] = d;
    }
}

typedef struct transpose_job {
    const float *x;
    float *y;
    transpose_plan tp;
    int64_t in_stride[NN_MAX_DIMS];   /* merged input strides */
    int64_t out_dim[NN_MAX_DIMS];     /* merged output dims */
    int64_t out_stride[NN_MAX_DIMS];
    int q;                  /* output position of the innermost input dim */
    int64_t qblocks;        /* tiles along output axis q */
} transpose_job;

/* Input offset of output coordinate c over all axes except `skip_a` and
 * `skip_b` (which are at 0); also the output offset. */
static void transpose_offsets(const transpose_job *j, int64_t item, int skip_a, int skip_b,
                              int64_t *in_off, int64_t *out_off)
{
    int m = j->tp.m;
    *in_off = *out_off = 0;
    for (int o = m - 1; o >= 0; o--) {
        int64_t c;
        if (o == skip_a || o == skip_b)
            continue;
        c = item % j->out_dim[o];
        item /= j->out_dim[o];
        *in_off += c * j->in_stride[j->tp.perm[o]];
        *out_off += c * j->out_stride[o];
    }
}

/* Innermost dim unmoved: items are output rows, each one memcpy. */
static void transpose_rows(void *arg, int64_t b, int64_t e)
{
    const transpose_job *j = arg;
    int last = j->tp.m - 1;
    int64_t len = j->out_dim[last];
    for (int64_t r = b; r < e; r++) {
        int64_t io, oo;
        transpose_offsets(j, r, last, -1, &io, &oo);
        memcpy(j->y + oo, j->x + io, (size_t)len * sizeof(float));
    }
}

/* Items are (batch of the other axes, block of TRANSPOSE_TILE along q). */
static void transpose_tiles(void *arg, int64_t b, int64_t e)
{
    const transpose_job *j = arg;
    int last = j->tp.m - 1, q = j->q;
    int64_t nq = j->out_dim[q], nk = j->out_dim[last];
    int64_t sq = j->out_stride[q], sk = j->in_stride[j->tp.perm[last]];
    for (int64_t it = b; it < e; it++) {
        int64_t io, oo, i0 = (it % j->qblocks) * TRANSPOSE_TILE;
        int64_t i1 = i0 + TRANSPOSE_TILE < nq ? i0 + TRANSPOSE_TILE : nq;
        transpose_offsets(j, it / j->qblocks, last, q, &io, &oo);
        for (int64_t k0 = 0; k0 < nk; k0 += TRANSPOSE_TILE) {
            int64_t k1 = k0 + TRANSPOSE_TILE < nk ? k0 + TRANSPOSE_TILE : nk;
            for (int64_t i = i0; i < i1; i++) {
                float *y = j->y + oo + i * sq;
                const float *x = j->x + io + i;
                for (int64_t k = k0; k < k1; k++)
                    y[k] = x[k * sk];
            }
        }
    }
}

static void transpose_run(nn_op_ctx *ctx)
{
    transpose_job j;
    int perm[NN_MAX_DIMS], m, last;
    int64_t n = nn_shape_numel(&ctx->out->shape), acc = 1;
    j.x = ctx->in[0]->data;
    j.y = ctx->out->data;
    transpose_perm(ctx->node, ctx->in[0]->shape.ndim, perm, NULL);
    transpose_simplify(&ctx->in[0]->shape, perm, &j.tp);
    m = j.tp.m;
    last = m - 1;
    if (m <= 1) {   /* only one dim of size > 1: the data order is unchanged */
        eu_copy_run(ctx);
        return;
    }
    for (int i = m - 1; i >= 0; i--) {
        j.in_stride[i] = acc;
        acc *= j.tp.dim[i];
    }
    acc = 1;
    for (int o = m - 1; o >= 0; o--) {
        j.out_dim[o] = j.tp.dim[j.tp.perm[o]];
        j.out_stride[o] = acc;
        acc *= j.out_dim[o];
    }
    if (j.tp.perm[last] == last) {
        nn_pool_for(ctx->pool, n / j.out_dim[last], 1 + EU_GRAIN / j.out_dim[last],
                    transpose_rows, &j);
        return;
    }
    for (j.q = 0; j.tp.perm[j.q] != last; j.q++)
        ;
    j.qblocks = (j.out_dim[j.q] + TRANSPOSE_TILE - 1) / TRANSPOSE_TILE;
    nn_pool_for(ctx->pool, n / (j.out_dim[j.q] * j.out_dim[last]) * j.qblocks,
                1 + EU_GRAIN / (TRANSPOSE_TILE * j.out_dim[last]), transpose_tiles, &j);
}

static void transpose_run_ref(nn_op_ctx *ctx)
{
    const nn_shape *si = &ctx->in[0]->shape, *so = &ctx->out->shape;
    int perm[NN_MAX_DIMS];
    int64_t st[NN_MAX_DIMS], n = nn_shape_numel(so);
    transpose_perm(ctx->node, si->ndim, perm, NULL);
    eu_strides(si, st);
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i, idx = 0;
        for (int o = so->ndim - 1; o >= 0; o--) {
            idx += (rem % so->d[o]) * st[perm[o]];
            rem /= so->d[o];
        }
        ctx->out->data[i] = ctx->in[0]->data[idx];
    }
}

const nn_op_def nn_op_transpose = {
    .name = "transpose",
    .infer = transpose_infer,
    .run = transpose_run,
    .run_ref = transpose_run_ref,
};
