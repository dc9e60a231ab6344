/* op_mul.c — Mul: y = a * b with numpy (multidirectional) broadcasting:
 * ranks right-aligned, each dim pair equal or one of them 1, e.g.
 * [N,C,H,W] * [C,1,1] (a per-channel scale), [N,C,H,W] * [1].
 * Either input may be a constant or an activation. Honours "fused_act" like
 * Add (the optimizer only fuses into Add today). The broadcast machinery
 * (merged dims, per-channel rows) is shared with Add in eltwise_util.h. */
#include "nn/nn_ops.h"
#include "nn/ops/eltwise_util.h"

static nn_status mul_infer(const nn_node *node, const nn_shape *const *in, int n_in,
                           nn_shape *out, nn_err *e)
{
    return eu_bcast_infer(node, "Mul", in, n_in, out, e);
}

static void mul_run(nn_op_ctx *ctx)
{
    eu_bcast_run(ctx, EU_MUL);
}

static void mul_run_ref(nn_op_ctx *ctx)
{
    eu_bcast_ref(ctx, EU_MUL);
}

const nn_op_def nn_op_mul = {
    .name = "mul",
    .infer = mul_infer,
    .run = mul_run,
    .run_ref = mul_run_ref,
};
