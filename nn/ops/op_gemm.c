/* op_gemm.c — Gemm (ONNX opset 13): Y = alpha * op(A) op(B) + beta * C,
 * A [M, K] ([K, M] with transA), B [K, N] ([N, K] with transB), optional C
 * broadcastable to [M, N], fused output activation. The fast kernel is the
 * pool-parallel sgemm job shared with MatMul (gemm_job.c). */
#include "nn/nn_ops.h"
#include "nn/nn_pool.h"
#include "nn/ops/op_util.h"

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

/* The job of this node (data pointers as the tensors have them). */
static void gemm_job_make(const nn_op_ctx *ctx, nn_gemm_job *j)
{
    gemm_geom g;
    const nn_tensor *c;
    gemm_ctx_geom(ctx, &g, &c);
    memset(j, 0, sizeof *j);
    j->trans_a = g.ta;
    j->trans_b = g.tb;
    j->M = g.M;
    j->N = g.N;
    j->K = g.K;
    j->alpha = nn_node_get_float(ctx->node, "alpha", 1.0f);
    j->A = ctx->in[0]->data;
    j->lda = ctx->in[0]->shape.d[1];
    j->B = ctx->in[1]->data;
    j->ldb = ctx->in[1]->shape.d[1];
    j->C = ctx->out->data;
    j->ldc = g.N;
    if (c) {
        j->bias = c->data;
        j->bias_rs = g.cm == 1 ? 0 : g.cn;
        j->bias_cs = g.cn == 1 ? 0 : 1;
        j->beta = nn_node_get_float(ctx->node, "beta", 1.0f);
    }
    j->act = nn_act_from_node(ctx->node);
}

static nn_status gemm_prepare(nn_op_ctx *ctx, size_t *scratch_bytes, nn_err *e)
{
    nn_gemm_job j;
    gemm_job_make(ctx, &j);
    return nn_gemm_job_prepare(&j, &ctx->state, scratch_bytes, e);
}

static void gemm_run(nn_op_ctx *ctx)
{
    nn_gemm_job j;
    gemm_job_make(ctx, &j);
    nn_gemm_job_bind(&j, ctx);
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
    .prepare = gemm_prepare,
    .release = nn_gemm_job_release,
    .run = gemm_run,
    .run_ref = gemm_run_ref,
    .macs = gemm_macs,
};
