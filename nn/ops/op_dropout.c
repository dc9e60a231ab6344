/* op_dropout.c — Dropout at inference: y = x (attributes such as "ratio"
 * and "seed" have no effect; only the data output exists). The optimizer
 * normally removes it, but it must run. Reference: element loop; fast:
 * memcpy split over the pool. */
#include "nn/nn_ops.h"
#include "nn/ops/eltwise_util.h"

static nn_status dropout_infer(const nn_node *node, const nn_shape *const *in, int n_in,
                               nn_shape *out, nn_err *e)
{
    return eu_unary_infer(node, "Dropout", in, n_in, out, e);
}

const nn_op_def nn_op_dropout = {
    .name = "dropout",
    .infer = dropout_infer,
    .run = eu_copy_run,
    .run_ref = eu_copy_ref,
};
