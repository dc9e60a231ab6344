/* op_add.c — Add: y = a + b with numpy (multidirectional) broadcasting:
 * ranks right-aligned, each dim pair equal or one of them 1, e.g.
 * [N,C,H,W] + [C,1,1], [N,C,H,W] + [1,C,1,1], [N,C,H,W] + [1].
 * Either input may be a constant or an activation. Supports "fused_act"
 * (Relu/Clip fused by the optimizer after a residual Add). The broadcast
 * machinery (merged dims, per-channel rows) is shared with Mul in
 * eltwise_util.h. */
#include "nn/nn_ops.h"
#include "nn/ops/eltwise_util.h"

static nn_status add_infer(const nn_node *node, const nn_shape *const *in, int n_in,
                           nn_shape *out, nn_err *e)
{
    return eu_bcast_infer(node, "Add", in, n_in, out, e);
}

static void add_run(nn_op_ctx *ctx)
{
    eu_bcast_run(ctx, EU_ADD);
}

static void add_run_ref(nn_op_ctx *ctx)
{
    eu_bcast_ref(ctx, EU_ADD);
}

const nn_op_def nn_op_add = {
    .name = "add",
    .infer = add_infer,
    .run = add_run,
    .run_ref = add_run_ref,
};
