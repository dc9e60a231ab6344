/* op_reshape.c — Reshape to the int attribute "shape" (1..NN_MAX_DIMS
 * values). 0 copies the input dim at that position (a literal 0 when int
 * attribute "allowzero" is 1, which gives an empty tensor and is rejected);
 * -1 (at most one) is inferred from the element count, so the batch flows
 * through [0, -1] or [-1, 512]. Data order is unchanged: the kernels copy,
 * reference by element, fast by memcpy over the pool. */
#include "nn/nn_ops.h"
#include "nn/ops/eltwise_util.h"

static nn_status reshape_infer(const nn_node *node, const nn_shape *const *in, int n_in,
                               nn_shape *out, nn_err *e)
{
    int64_t shape[NN_MAX_DIMS], allowzero, known = 1, numel;
    int n, infer_at = -1;
    nn_status st = eu_check_inputs(node, "Reshape", in, n_in, 1, e);
    if (st != NN_OK)
        return st;
    if ((st = eu_check_out(node, "Reshape", in[0], e)) != NN_OK ||
        (st = eu_attr_int(node, "Reshape", "allowzero", 0, &allowzero, e)) != NN_OK ||
        (st = eu_attr_ints(node, "Reshape", "shape", shape, NN_MAX_DIMS, &n, e)) != NN_OK)
        return st;
    if (n < 1)
        return nn_err_set(e, NN_ERR_FORMAT, "node '%s' (Reshape): attribute shape is %s",
                          eu_name(node), n < 0 ? "missing" : "empty");
    numel = nn_shape_numel(in[0]);
    memset(out, 0, sizeof *out);
    out->ndim = n;
    for (int i = 0; i < n; i++) {
        int64_t d = shape[i];
        if (d == 0 && !allowzero) {
            if (i >= in[0]->ndim)
                return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Reshape): shape[%d] = 0 but the input has rank %d",
                                  eu_name(node), i, in[0]->ndim);
            d = in[0]->d[i];
        } else if (d == -1) {
            if (infer_at >= 0)
                return nn_err_set(e, NN_ERR_FORMAT, "node '%s' (Reshape): more than one -1 in shape",
                                  eu_name(node));
            infer_at = i;
            continue;
        } else if (d < 1) {
            return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Reshape): shape[%d] = %lld is not allowed",
                              eu_name(node), i, (long long)shape[i]);
        }
        if (d > EU_MAX_ELEMS || known * d > EU_MAX_ELEMS)
            return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Reshape): target shape has more elements than the input",
                              eu_name(node));
        known *= d;
        out->d[i] = d;
    }
    if (infer_at >= 0) {
        if (numel % known != 0)
            return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Reshape): cannot infer -1: %lld elements are not a multiple of %lld",
                              eu_name(node), (long long)numel, (long long)known);
        out->d[infer_at] = numel / known;
        known = numel;
    }
    if (known != numel) {
        char a[96], b[96];
        nn_shape_str(in[0], a, sizeof a);
        nn_shape_str(out, b, sizeof b);
        return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Reshape): cannot reshape %s to %s",
                          eu_name(node), a, b);
    }
    return eu_check_out(node, "Reshape", out, e);
}

const nn_op_def nn_op_reshape = {
    .name = "reshape",
    .infer = reshape_infer,
    .run = eu_copy_run,
    .run_ref = eu_copy_ref,
};
