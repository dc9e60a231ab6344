/* op_softmax.c — placeholder until the kernel lands (infer rejects). */
#include "nn/nn_ops.h"

static nn_status softmax_infer(const nn_node *node, const nn_shape *const *in, int n_in,
                              nn_shape *out, nn_err *e)
{
    (void)in; (void)n_in; (void)out;
    return nn_err_set(e, NN_ERR_UNSUPPORTED, "op %s not implemented yet", node->name);
}

static void softmax_run(nn_op_ctx *ctx)
{
    (void)ctx;
}

const nn_op_def nn_op_softmax = {
    .name = "softmax",
    .infer = softmax_infer,
    .run = softmax_run,
    .run_ref = softmax_run,
};
