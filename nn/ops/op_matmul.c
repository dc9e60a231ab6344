/* op_matmul.c — MatMul (ONNX opset 13, numpy semantics): A [..., M, K] x
 * B [..., K, N] -> [..., M, N] with broadcast batch dims; a 1-D A is [1, K]
 * and a 1-D B is [K, 1], their unit dim dropped from the output. Fused
 * output activation. The fast kernel is the pool-parallel sgemm job shared
 * with Gemm (gemm_job.c); a batched A times a 2-D B (the Linear case) is
 * one [batch*M, K] product. */
#include "nn/nn_ops.h"
#include "nn/ops/op_util.h"

/* Operand geometry: the broadcast batch and per-operand element strides
 * (0 where an operand broadcasts). */
typedef struct matmul_geom {
    int64_t M, N, K;
    int bnd;
    int64_t bdim[NN_MAX_DIMS], astride[NN_MAX_DIMS], bstride[NN_MAX_DIMS];
    int64_t nbatch, abatch, bbatch;   /* batch counts: output, A, B */
} matmul_geom;

/* Strides of an operand's batch dims aligned right into `nd` output dims. */
static void matmul_strides(const nn_shape *s, int nbd, int nd, int64_t mat, int64_t *stride,
                           int64_t *count)
{
    int64_t st = mat;
    *count = 1;
    for (int i = nd - 1; i >= 0; i--) {
        int j = i - (nd - nbd);
        if (j < 0 || s->d[j] == 1) {
            stride[i] = 0;
        } else {
            stride[i] = st;
            st *= s->d[j];
            *count *= s->d[j];
        }
    }
}

static nn_status matmul_geom_get(const nn_node *node, const nn_shape *a, const nn_shape *b,
                                 matmul_geom *g, nn_shape *out, nn_err *e)
{
    int ra = a->ndim, rb = b->ndim, abd, bbd, on = 0;
    int64_t kb;
    if (ra < 1 || rb < 1)
        return nn_err_set(e, NN_ERR_SHAPE, "node %s (MatMul): scalar operand", node->name);
    g->M = ra == 1 ? 1 : a->d[ra - 2];
    g->K = a->d[ra - 1];
    kb = rb == 1 ? b->d[0] : b->d[rb - 2];
    g->N = rb == 1 ? 1 : b->d[rb - 1];
    if (kb != g->K)
        return nn_err_set(e, NN_ERR_SHAPE, "node %s (MatMul): inner dims differ (%lld vs %lld)",
                          node->name, (long long)g->K, (long long)kb);
    abd = ra > 2 ? ra - 2 : 0;
    bbd = rb > 2 ? rb - 2 : 0;
    g->bnd = abd > bbd ? abd : bbd;
    g->nbatch = 1;
    for (int i = 0; i < g->bnd; i++) {
        int ja = i - (g->bnd - abd), jb = i - (g->bnd - bbd);
        int64_t da = ja >= 0 ? a->d[ja] : 1, db = jb >= 0 ? b->d[jb] : 1;
        if (da != db && da != 1 && db != 1)
            return nn_err_set(e, NN_ERR_SHAPE, "node %s (MatMul): batch dims %lld and %lld do not broadcast",
                              node->name, (long long)da, (long long)db);
        g->bdim[i] = da == 1 ? db : da;
        g->nbatch *= g->bdim[i];
    }
    matmul_strides(a, abd, g->bnd, g->M * g->K, g->astride, &g->abatch);
    matmul_strides(b, bbd, g->bnd, g->K * g->N, g->bstride, &g->bbatch);
    if (out) {
        memset(out, 0, sizeof *out);
        for (int i = 0; i < g->bnd; i++)
            out->d[on++] = g->bdim[i];
        if (ra > 1)
            out->d[on++] = g->M;
        if (rb > 1)
            out->d[on++] = g->N;
        out->ndim = on;
    }
    return NN_OK;
}

static nn_status matmul_infer(const nn_node *node, const nn_shape *const *in, int n_in,
                              nn_shape *out, nn_err *e)
{
    matmul_geom g;
    (void)n_in;
    return matmul_geom_get(node, in[0], in[1], &g, out, e);
}

/* The job of this node (data pointers as the tensors have them). */
static void matmul_job_make(const nn_op_ctx *ctx, nn_gemm_job *j)
{
    matmul_geom g;
    matmul_geom_get(ctx->node, &ctx->in[0]->shape, &ctx->in[1]->shape, &g, NULL, NULL);
    memset(j, 0, sizeof *j);
    j->M = g.M;
    j->N = g.N;
    j->K = g.K;
    j->alpha = 1.0f;
    j->A = ctx->in[0]->data;
    j->lda = g.K;
    j->B = ctx->in[1]->data;
    j->ldb = g.N;
    j->C = ctx->out->data;
    j->ldc = g.N;
    j->cstride = g.M * g.N;
    j->act = nn_act_from_node(ctx->node);
    if (g.bbatch == 1 && g.abatch == g.nbatch) {
        /* B is shared by every batch and A's batches are contiguous rows. */
        j->M = g.nbatch * g.M;
    } else {
        j->bnd = g.bnd;
        memcpy(j->bdim, g.bdim, sizeof j->bdim);
        memcpy(j->astride, g.astride, sizeof j->astride);
        memcpy(j->bstride, g.bstride, sizeof j->bstride);
    }
}

static nn_status matmul_prepare(nn_op_ctx *ctx, size_t *scratch_bytes, nn_err *e)
{
    nn_gemm_job j;
    matmul_job_make(ctx, &j);
    return nn_gemm_job_prepare(&j, &ctx->state, scratch_bytes, e);
}

static void matmul_run(nn_op_ctx *ctx)
{
    nn_gemm_job j;
    matmul_job_make(ctx, &j);
    nn_gemm_job_bind(&j, ctx);
    nn_gemm_job_run(&j, ctx->pool);
}

static void matmul_run_ref(nn_op_ctx *ctx)
{
    matmul_geom g;
    const float *a = ctx->in[0]->data, *b = ctx->in[1]->data;
    float *y = ctx->out->data;
    nn_act_params act = nn_act_from_node(ctx->node);
    matmul_geom_get(ctx->node, &ctx->in[0]->shape, &ctx->in[1]->shape, &g, NULL, NULL);
    for (int64_t bi = 0; bi < g.nbatch; bi++) {
        int64_t ao = 0, bo = 0, rest = bi;
        for (int d = g.bnd - 1; d >= 0; d--) {
            ao += (rest % g.bdim[d]) * g.astride[d];
            bo += (rest % g.bdim[d]) * g.bstride[d];
            rest /= g.bdim[d];
        }
        for (int64_t m = 0; m < g.M; m++)
            for (int64_t n = 0; n < g.N; n++) {
                double s = 0;
                for (int64_t k = 0; k < g.K; k++)
                    s += (double)a[ao + m * g.K + k] * b[bo + k * g.N + n];
                y[(bi * g.M + m) * g.N + n] = (float)s;
            }
    }
    nn_act_apply(&act, y, g.nbatch * g.M * g.N);
}

static int64_t matmul_macs(const nn_node *node, const nn_shape *const *in, int n_in,
                           const nn_shape *out)
{
    matmul_geom g;
    (void)n_in;
    (void)out;
    if (matmul_geom_get(node, in[0], in[1], &g, NULL, NULL) != NN_OK)
        return 0;
    return g.nbatch * g.M * g.N * g.K;
}

const nn_op_def nn_op_matmul = {
    .name = "matmul",
    .infer = matmul_infer,
    .prepare = matmul_prepare,
    .release = nn_gemm_job_release,
    .run = matmul_run,
    .run_ref = matmul_run_ref,
    .macs = matmul_macs,
};
