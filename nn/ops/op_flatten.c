/* op_flatten.c — Flatten: [d0..d(r-1)] -> [prod(d[0:axis]), prod(d[axis:])].
 * Int attribute "axis" (default 1) in [-r, r]. The data order is unchanged,
 * so the kernels copy: reference by element, fast by memcpy over the pool. */
#include "nn/nn_ops.h"
#include "nn/ops/eltwise_util.h"

static nn_status flatten_infer(const nn_node *node, const nn_shape *const *in, int n_in,
                               nn_shape *out, nn_err *e)
{
    int64_t axis_attr, outer = 1, inner = 1;
    int axis;
    nn_status st = eu_check_inputs(node, "Flatten", in, n_in, 1, e);
    if (st != NN_OK)
        return st;
    if ((st = eu_attr_int(node, "Flatten", "axis", 1, &axis_attr, e)) != NN_OK ||
        (st = eu_axis(node, "Flatten", axis_attr, in[0]->ndim, 1, &axis, e)) != NN_OK)
        return st;
    if ((st = eu_check_out(node, "Flatten", in[0], e)) != NN_OK)
        return st;
    for (int i = 0; i < in[0]->ndim; i++) {
        if (i < axis)
            outer *= in[0]->d[i];
        else
            inner *= in[0]->d[i];
    }
    memset(out, 0, sizeof *out);
    out->ndim = 2;
    out->d[0] = outer;
    out->d[1] = inner;
    return eu_check_out(node, "Flatten", out, e);
}

const nn_op_def nn_op_flatten = {
    .name = "flatten",
    .infer = flatten_infer,
    .run = eu_copy_run,
    .run_ref = eu_copy_ref,
};
