/* op_identity.c — Identity: y = x (a copy; the output never aliases the
 * input in the arena). The optimizer normally removes it, but it must run.
 * Reference: element loop; fast: memcpy split over the pool. */
#include "nn/nn_ops.h"
#include "nn/ops/eltwise_util.h"

static nn_status identity_infer(const nn_node *node, const nn_shape *const *in, int n_in,
                                nn_shape *out, nn_err *e)
{
    return eu_unary_infer(node, "Identity", in, n_in, out, e);
}

const nn_op_def nn_op_identity = {
    .name = "identity",
    .infer = identity_infer,
    .run = eu_copy_run,
    .run_ref = eu_copy_ref,
};
