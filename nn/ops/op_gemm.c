/* op_gemm.c — Gemm (ONNX opset 13): Y = alpha * op(A) op(B) + beta * C,
 * A [M, K] ([K, M] with transA), B [K, N] ([N, K] with transB), optional C
 * broadcastable to [M, N], fused output activation. Also home of the tiled
 * pool-parallel sgemm driver (nn_gemm_job_run) shared with MatMul: OpenBLAS
 * runs single-threaded on tiles of C and nn_pool spreads the tiles. */
#include <cblas.h>
#include <limits.h>

#include "nn/nn_ops.h"
#include "nn/nn_pool.h"
#include "nn/ops/op_util.h"

typedef struct gemm_tiles {
    const nn_gemm_job *j;
    int64_t mb, nb;             /* tile size */
    int64_t mt, nt;             /* tiles per batch along M, N */
} gemm_tiles;

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
            const float *b = j->bias + m * j->bias_rs + n0 * j->bias_cs;
            for (int64_t n = 0; n < n1 - n0; n++)
                row[n] += j->beta * b[n * j->bias_cs];
            nn_store_bias_act(row, n1 - n0, 0.0f, &j->act);
        }
    }
}

static void gemm_tiles_run(void *arg, int64_t begin, int64_t end)
{
    const gemm_tiles *t = arg;
    const nn_gemm_job *j = t->j;
    for (int64_t it = begin; it < end; it++) {
        int64_t b = it / (t->mt * t->nt), r = it % (t->mt * t->nt);
        int64_t m0 = (r / t->nt) * t->mb, n0 = (r % t->nt) * t->nb;
        int64_t m1 = m0 + t->mb < j->M ? m0 + t->mb : j->M;
        int64_t n1 = n0 + t->nb < j->N ? n0 + t->nb : j->N;
        int64_t aoff = 0, boff = 0, rest = b;
        for (int d = j->bnd - 1; d >= 0; d--) {
            int64_t idx = rest % j->bdim[d];
            rest /= j->bdim[d];
            aoff += idx * j->astride[d];
            boff += idx * j->bstride[d];
        }
        const float *a = j->A + aoff + (j->trans_a ? m0 : m0 * j->lda);
        const float *bm = j->B + boff + (j->trans_b ? n0 * j->ldb : n0);
        float *c = j->C + b * j->cstride + m0 * j->ldc + n0;
        if (j->K == 0) {
            for (int64_t m = m0; m < m1; m++)
                memset(c + (m - m0) * j->ldc, 0, (size_t)(n1 - n0) * sizeof(float));
        } else {
            cblas_sgemm(CblasRowMajor, j->trans_a ? CblasTrans : CblasNoTrans,
                        j->trans_b ? CblasTrans : CblasNoTrans, (int)(m1 - m0), (int)(n1 - n0),
                        (int)j->K, j->alpha, a, (int)j->lda, bm, (int)j->ldb, 0.0f, c,
                        (int)j->ldc);
        }
        gemm_epilogue(j, c, m0, m1, n0, n1);
    }
}

void nn_gemm_job_run(const nn_gemm_job *j, nn_pool *pool)
{
    gemm_tiles t;
    int64_t nbatch = 1, threads = nn_pool_threads(pool), parts;
    if (j->M <= 0 || j->N <= 0)
        return;
    for (int d = 0; d < j->bnd; d++)
        nbatch *= j->bdim[d];
    t.j = j;
    t.mb = j->M;
    t.nb = j->N;
    /* Too few batches to feed every thread: cut each product into parts
     * along M (preferred: whole rows of B are reused) or along N. */
    parts = nbatch >= threads ? 1 : (threads + nbatch - 1) / nbatch;
    if (parts > 1) {
        if (j->M >= 4 * parts) {
            t.mb = (j->M + parts - 1) / parts;
        } else if (j->N >= 16 * parts) {
            t.nb = ((j->N + parts - 1) / parts + 15) / 16 * 16;
        }
    }
    t.mt = (j->M + t.mb - 1) / t.mb;
    t.nt = (j->N + t.nb - 1) / t.nb;
    nn_pool_for(pool, nbatch * t.mt * t.nt, 1, gemm_tiles_run, &t);
}

/* Gemm's operand geometry, checked by infer and reused by the kernels. */
typedef struct gemm_geom {
    int ta, tb;
    int64_t M, N, K;
    int64_t cm, cn;             /* C's broadcast shape (1 or M, 1 or N) */
} gemm_geom;

static nn_status gemm_geom_get(const nn_node *node, const nn_shape *a, const nn_shape *b,
                               const nn_shape *c, gemm_geom *g, nn_err *e)
{
    int64_t kb;
    g->ta = (int)nn_node_get_int(node, "transA", 0);
    g->tb = (int)nn_node_get_int(node, "transB", 0);
    if ((g->ta != 0 && g->ta != 1) || (g->tb != 0 && g->tb != 1))
        return nn_err_set(e, NN_ERR_FORMAT, "node %s (Gemm): transA/transB must be 0 or 1", node->name);
    if (a->ndim != 2 || b->ndim != 2)
        return nn_err_set(e, NN_ERR_SHAPE, "node %s (Gemm): A has %d dims and B %d, expected 2 and 2",
                          node->name, a->ndim, b->ndim);
    g->M = g->ta ? a->d[1] : a->d[0];
    g->K = g->ta ? a->d[0] : a->d[1];
    kb = g->tb ? b->d[1] : b->d[0];
    g->N = g->tb ? b->d[0] : b->d[1];
    if (kb != g->K)
        return nn_err_set(e, NN_ERR_SHAPE, "node %s (Gemm): inner dims differ (%lld vs %lld)",
                          node->name, (long long)g->K, (long long)kb);
    if (a->d[0] > INT_MAX || a->d[1] > INT_MAX || b->d[0] > INT_MAX || b->d[1] > INT_MAX)
        return nn_err_set(e, NN_ERR_LIMIT, "node %s (Gemm): dimension exceeds BLAS int range", node->name);
    g->cm = g->cn = 1;
    if (c) {
        if (c->ndim > 2)
            return nn_err_set(e, NN_ERR_SHAPE, "node %s (Gemm): C has %d dims", node->name, c->ndim);
        if (c->ndim >= 1)
            g->cn = c->d[c->ndim - 1];
        if (c->ndim == 2)
            g->cm = c->d[0];
        if ((g->cm != 1 && g->cm != g->M) || (g->cn != 1 && g->cn != g->N))
            return nn_err_set(e, NN_ERR_SHAPE,
                              "node %s (Gemm): C (%lldx%lld) does not broadcast to %lldx%lld",
                              node->name, (long long)g->cm, (long long)g->cn, (long long)g->M,
                              (long long)g->N);
    }
    return NN_OK;
}

static const nn_shape *gemm_c_shape(const nn_shape *const *in, int n_in)
{
    return n_in > 2 ? in[2] : NULL;
}

static nn_status gemm_infer(const nn_node *node, const nn_shape *const *in, int n_in,
                            nn_shape *out, nn_err *e)
{
    gemm_geom g;
    nn_status st = gemm_geom_get(node, in[0], in[1], gemm_c_shape(in, n_in), &g, e);
    if (st != NN_OK)
        return st;
    *out = nn_shape_make(2, (int64_t[]){g.M, g.N});
    return NN_OK;
}

static void gemm_ctx_geom(const nn_op_ctx *ctx, gemm_geom *g, const nn_tensor **c)
{
    *c = ctx->n_in > 2 ? ctx->in[2] : NULL;
    gemm_geom_get(ctx->node, &ctx->in[0]->shape, &ctx->in[1]->shape, *c ? &(*c)->shape : NULL,
                  g, NULL);
}

static void gemm_run(nn_op_ctx *ctx)
{
    gemm_geom g;
    const nn_tensor *c;
    nn_gemm_job j;
    gemm_ctx_geom(ctx, &g, &c);
    memset(&j, 0, sizeof j);
    j.trans_a = g.ta;
    j.trans_b = g.tb;
    j.M = g.M;
    j.N = g.N;
    j.K = g.K;
    j.alpha = nn_node_get_float(ctx->node, "alpha", 1.0f);
    j.A = ctx->in[0]->data;
    j.lda = ctx->in[0]->shape.d[1];
    j.B = ctx->in[1]->data;
    j.ldb = ctx->in[1]->shape.d[1];
    j.C = ctx->out->data;
    j.ldc = g.N;
    if (c) {
        j.bias = c->data;
        j.bias_rs = g.cm == 1 ? 0 : g.cn;
        j.bias_cs = g.cn == 1 ? 0 : 1;
        j.beta = nn_node_get_float(ctx->node, "beta", 1.0f);
    }
    j.act = nn_act_from_node(ctx->node);
    nn_gemm_job_run(&j, ctx->pool);
}

static void gemm_run_ref(nn_op_ctx *ctx)
{
    gemm_geom g;
    const nn_tensor *c;
    const float *a = ctx->in[0]->data, *b = ctx->in[1]->data;
    int64_t lda = ctx->in[0]->shape.d[1], ldb = ctx->in[1]->shape.d[1];
    float alpha = nn_node_get_float(ctx->node, "alpha", 1.0f);
    float beta = nn_node_get_float(ctx->node, "beta", 1.0f);
    nn_act_params act = nn_act_from_node(ctx->node);
    gemm_ctx_geom(ctx, &g, &c);
    for (int64_t m = 0; m < g.M; m++) {
        for (int64_t n = 0; n < g.N; n++) {
            double s = 0;
            for (int64_t k = 0; k < g.K; k++) {
                float av = g.ta ? a[k * lda + m] : a[m * lda + k];
                float bv = g.tb ? b[n * ldb + k] : b[k * ldb + n];
                s += (double)av * bv;
            }
            s *= alpha;
            if (c)
                s += (double)beta * c->data[(g.cm == 1 ? 0 : m) * g.cn + (g.cn == 1 ? 0 : n)];
            ctx->out->data[m * g.N + n] = (float)s;
        }
    }
    nn_act_apply(&act, ctx->out->data, g.M * g.N);
}

static int64_t gemm_macs(const nn_node *node, const nn_shape *const *in, int n_in,
                         const nn_shape *out)
{
    gemm_geom g;
    (void)out;
    if (gemm_geom_get(node, in[0], in[1], gemm_c_shape(in, n_in), &g, NULL) != NN_OK)
        return 0;
    return g.M * g.N * g.K;
}

const nn_op_def nn_op_gemm = {
    .name = "gemm",
    .infer = gemm_infer,
    .run = gemm_run,
    .run_ref = gemm_run_ref,
    .macs = gemm_macs,
};
