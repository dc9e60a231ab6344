/* io_onnx_fold.c — constant folding for the ONNX reader. Exporters compute
 * parameters (Reshape shapes, Pad pads, Slice bounds) with small subgraphs
 * over constants and Shape(x); this evaluates them on the host so that the
 * graph only ever sees attributes. Shape(x) elements that equal the batch
 * size are carried as symbols (ox_tensor.batch) and resolved by Reshape.
 * All results are bounded by OX_FOLD_MAX_ELEMS. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io_onnx_int.h"

#define FAIL_UNSUP(...) nn_err_set(e, NN_ERR_UNSUPPORTED, __VA_ARGS__)

int ox_const_ints(const ox_sym *s, const ox_node *n, const char *what, int64_t *out, int cap,
                  nn_err *e)
{
    const ox_tensor *t = s ? s->c : NULL;
    if (!t || t->dtype != OX_I64) {
        nn_err_set(e, NN_ERR_UNSUPPORTED, "node '%s' (%s): %s must be a constant integer tensor",
                   n->name, n->op_type, what);
        return -1;
    }
    if (t->shape.ndim > 1 || t->numel > cap) {
        nn_err_set(e, NN_ERR_LIMIT, "node '%s' (%s): %s has %lld values (at most %d, 1-D)",
                   n->name, n->op_type, what, (long long)t->numel, cap);
        return -1;
    }
    for (int64_t i = 0; i < t->numel; i++) {
        if (t->batch && t->batch[i]) {
            nn_err_set(e, NN_ERR_UNSUPPORTED, "node '%s' (%s): %s depends on the batch size",
                       n->name, n->op_type, what);
            return -1;
        }
        out[i] = t->i64[i];
    }
    return (int)t->numel;
}

/* ---- element helpers ----------------------------------------------------- */

static nn_status ensure_batch(ox_tensor *t, nn_err *e)
{
    if (t->batch || t->numel == 0)
        return NN_OK;
    t->batch = calloc((size_t)t->numel, 1);
    return t->batch ? NN_OK : nn_err_set(e, NN_ERR_NOMEM, "ONNX: folding");
}

/* dst[di] = src[si] (same dtype), including the batch symbol. */
static void el_copy(ox_tensor *dst, int64_t di, const ox_tensor *src, int64_t si)
{
    if (dst->dtype == OX_F32)
        dst->f32[di] = src->f32[si];
    else
        dst->i64[di] = src->i64[si];
    if (dst->batch)
        dst->batch[di] = src->batch ? src->batch[si] : 0;
}

static nn_status new_like(const ox_tensor *src, const nn_shape *shape, ox_tensor **out, nn_err *e)
{
    nn_status st = ox_tensor_new(src->dtype, shape, 1, out, e);
    if (st == NN_OK && src->batch)
        st = ensure_batch(*out, e);
    if (st != NN_OK) {
        ox_tensor_free(*out);
        *out = NULL;
    }
    return st;
}

/* Row-major strides of s. */
static void strides_of(const nn_shape *s, int64_t *st)
{
    int64_t k = 1;
    for (int i = s->ndim - 1; i >= 0; i--) {
        st[i] = k;
        k *= s->d[i];
    }
}

/* Advances a multi-index over shape s (row-major). */
static void idx_next(int64_t *idx, const nn_shape *s)
{
    for (int i = s->ndim - 1; i >= 0; i--) {
        if (++idx[i] < s->d[i])
            return;
        idx[i] = 0;
    }
}

static int norm_axis(int64_t axis, int rank, int64_t *out)
{
    if (axis < -rank || axis >= rank)
        return -1;
    *out = axis < 0 ? axis + rank : axis;
    return 0;
}

/* ---- folds --------------------------------------------------------------- */

typedef nn_status (*fold_fn)(ox_ctx *cx, const ox_node *n, ox_tensor **out, nn_err *e);

static ox_tensor *in_c(ox_ctx *cx, const ox_node *n, int i)
{
    ox_sym *s = ox_input(cx, n, i);
    return s ? s->c : NULL;
}

static nn_status fold_constant(ox_ctx *cx, const ox_node *n, ox_tensor **out, nn_err *e)
{
    const ox_attr *a;
    nn_shape sh = {0};
    nn_status st;
    int64_t v[NN_ATTR_MAX_LIST];
    float fv[NN_ATTR_MAX_LIST];
    int k;
    (void)cx;
    if (n->n_attrs != 1)
        return FAIL_UNSUP("node '%s' (Constant): expected exactly one attribute", n->name);
    a = &n->attrs[0];
    if (strcmp(a->name, "value") == 0 && a->has_t) {
        io_pb_reader r = a->msg;
        return ox_tensor_decode(&r, &a->t, out, NULL, 0, e);
    }
    if (strcmp(a->name, "value_float") == 0 || strcmp(a->name, "value_int") == 0) {
        int is_f = a->name[6] == 'f';
        if ((st = ox_tensor_new(is_f ? OX_F32 : OX_I64, &sh, 1, out, e)) != NN_OK)
            return st;
        if (is_f)
            (*out)->f32[0] = a->f;
        else
            (*out)->i64[0] = a->i;
        return NN_OK;
    }
    if (strcmp(a->name, "value_ints") == 0) {
        if ((k = ox_attr_ints(n, a->name, v, NN_ATTR_MAX_LIST, e)) < 0)
            return e->status;
        sh.ndim = 1;
        sh.d[0] = k;
        if ((st = ox_tensor_new(OX_I64, &sh, 1, out, e)) != NN_OK)
            return st;
        if (k)
            memcpy((*out)->i64, v, (size_t)k * sizeof *v);
        return NN_OK;
    }
    if (strcmp(a->name, "value_floats") == 0) {
        if ((k = ox_attr_floats(n, a->name, fv, NN_ATTR_MAX_LIST, e)) < 0)
            return e->status;
        sh.ndim = 1;
        sh.d[0] = k;
        if ((st = ox_tensor_new(OX_F32, &sh, 1, out, e)) != NN_OK)
            return st;
        if (k)
            memcpy((*out)->f32, fv, (size_t)k * sizeof *fv);
        return NN_OK;
    }
    return FAIL_UNSUP("node '%s' (Constant): unsupported attribute '%s'", n->name, a->name);
}

static nn_status fold_shape(ox_ctx *cx, const ox_node *n, ox_tensor **out, nn_err *e)
{
    const ox_sym *s = ox_input(cx, n, 0);
    int r = s->shape.ndim;
    int64_t start = ox_attr_int(n, "start", 0), end = ox_attr_int(n, "end", r);
    nn_shape sh = {1, {0}};
    nn_status st;
    start = start < 0 ? start + r : start;
    end = end < 0 ? end + r : end;
    start = start < 0 ? 0 : start > r ? r : start;
    end = end < start ? start : end > r ? r : end;
    sh.d[0] = end - start;
    if ((st = ox_tensor_new(OX_I64, &sh, 1, out, e)) != NN_OK)
        return st;
    for (int64_t i = start; i < end; i++) {
        if (s->shape.d[i] == NN_DIM_BATCH) {
            if ((st = ensure_batch(*out, e)) != NN_OK)
                return st;
            (*out)->batch[i - start] = 1;
        } else {
            (*out)->i64[i - start] = s->shape.d[i];
        }
    }
    return NN_OK;
}

static nn_status fold_identity(ox_ctx *cx, const ox_node *n, ox_tensor **out, nn_err *e)
{
    const ox_tensor *x = in_c(cx, n, 0);
    nn_status st = new_like(x, &x->shape, out, e);
    for (int64_t i = 0; st == NN_OK && i < x->numel; i++)
        el_copy(*out, i, x, i);
    return st;
}

static nn_status fold_cast(ox_ctx *cx, const ox_node *n, ox_tensor **out, nn_err *e)
{
    const ox_tensor *x = in_c(cx, n, 0);
    int64_t to = ox_attr_int(n, "to", 0);
    int to_f = to == OX_DT_FLOAT || to == OX_DT_DOUBLE;
    int to_i = to == OX_DT_INT64 || to == OX_DT_INT32 || to == OX_DT_INT16 || to == OX_DT_INT8 ||
               to == OX_DT_UINT8 || to == OX_DT_BOOL;
    nn_status st;
    if (!to_f && !to_i)
        return FAIL_UNSUP("node '%s' (Cast): target type %lld", n->name, (long long)to);
    if ((st = ox_tensor_new(to_f ? OX_F32 : OX_I64, &x->shape, 1, out, e)) != NN_OK)
        return st;
    if (x->batch && (to_f || (st = ensure_batch(*out, e)) != NN_OK))
        return st != NN_OK ? st : FAIL_UNSUP("node '%s' (Cast): batch size cast to float", n->name);
    for (int64_t i = 0; i < x->numel; i++) {
        if (to_f) {
            (*out)->f32[i] = x->dtype == OX_F32 ? x->f32[i] : (float)x->i64[i];
            continue;
        }
        if (x->dtype == OX_F32) {
            float v = x->f32[i];
            if (!(fabsf(v) < 9.2e18f))
                return nn_err_set(e, NN_ERR_FORMAT, "node '%s' (Cast): %g out of integer range",
                                  n->name, (double)v);
            (*out)->i64[i] = to == OX_DT_BOOL ? v != 0.0f : (int64_t)v;
        } else {
            (*out)->i64[i] = to == OX_DT_BOOL ? x->i64[i] != 0 : x->i64[i];
            if (x->batch)
                (*out)->batch[i] = x->batch[i];
        }
    }
    return NN_OK;
}

/* Output shape of Reshape: spec entries 0 (copy, unless allowzero) and one
 * -1 (inferred). */
static nn_status reshape_shape(const ox_node *n, const nn_shape *in, const int64_t *spec, int k,
                               int allowzero, nn_shape *out, nn_err *e)
{
    int64_t known = 1, total = nn_shape_numel(in);
    int neg = -1;
    if (k > NN_MAX_DIMS)
        return nn_err_set(e, NN_ERR_LIMIT, "node '%s' (Reshape): %d dims", n->name, k);
    out->ndim = k;
    for (int i = 0; i < k; i++) {
        int64_t d = spec[i];
        if (d == 0 && !allowzero) {
            if (i >= in->ndim)
                return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Reshape): 0 at dim %d", n->name, i);
            d = in->d[i];
        }
        if (d == -1) {
            if (neg >= 0)
                return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Reshape): two -1 dims", n->name);
            neg = i;
            continue;
        }
        if (d < 0 || (d > 0 && known > INT64_MAX / d))
            return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Reshape): bad dim %lld", n->name,
                              (long long)d);
        out->d[i] = d;
        known *= d;
    }
    if (neg >= 0) {
        if (known == 0 || total % known)
            return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Reshape): cannot infer -1", n->name);
        out->d[neg] = total / known;
        known = total;
    }
    if (known != total)
        return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Reshape): %lld elements into %lld", n->name,
                          (long long)total, (long long)known);
    return NN_OK;
}

static nn_status fold_reshape(ox_ctx *cx, const ox_node *n, ox_tensor **out, nn_err *e)
{
    const ox_tensor *x = in_c(cx, n, 0);
    int64_t spec[NN_MAX_DIMS + 1];
    int k;
    nn_shape sh;
    nn_status st;
    if (cx->opset < 5)
        k = ox_attr_ints(n, "shape", spec, NN_MAX_DIMS + 1, e);
    else
        k = ox_const_ints(ox_input(cx, n, 1), n, "shape", spec, NN_MAX_DIMS + 1, e);
    if (k < 0)
        return e->status != NN_OK ? e->status
                                  : nn_err_set(e, NN_ERR_FORMAT, "node '%s': no shape", n->name);
    if ((st = reshape_shape(n, &x->shape, spec, k, (int)ox_attr_int(n, "allowzero", 0), &sh, e)) != NN_OK)
        return st;
    st = new_like(x, &sh, out, e);
    for (int64_t i = 0; st == NN_OK && i < x->numel; i++)
        el_copy(*out, i, x, i);
    return st;
}

static nn_status fold_flatten(ox_ctx *cx, const ox_node *n, ox_tensor **out, nn_err *e)
{
    const ox_tensor *x = in_c(cx, n, 0);
    int64_t axis = ox_attr_int(n, "axis", 1), a = 1;
    nn_shape sh = {2, {1, 1}};
    nn_status st;
    if (axis < 0)
        axis += x->shape.ndim;
    if (axis < 0 || axis > x->shape.ndim)
        return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Flatten): bad axis", n->name);
    for (int i = 0; i < axis; i++)
        a *= x->shape.d[i];
    sh.d[0] = a;
    sh.d[1] = a ? x->numel / a : 0;
    st = new_like(x, &sh, out, e);
    for (int64_t i = 0; st == NN_OK && i < x->numel; i++)
        el_copy(*out, i, x, i);
    return st;
}

/* Squeeze and Unsqueeze: axes from the attribute (opset < 13) or input 1. */
static int axes_of(ox_ctx *cx, const ox_node *n, int64_t *axes, nn_err *e)
{
    if (cx->opset < 13)
        return ox_attr_ints(n, "axes", axes, NN_MAX_DIMS + 1, e);
    if (!ox_input(cx, n, 1))
        return -1;
    return ox_const_ints(ox_input(cx, n, 1), n, "axes", axes, NN_MAX_DIMS + 1, e);
}

static nn_status fold_squeeze(ox_ctx *cx, const ox_node *n, ox_tensor **out, nn_err *e)
{
    const ox_tensor *x = in_c(cx, n, 0);
    int64_t axes[NN_MAX_DIMS + 1];
    int drop[NN_MAX_DIMS] = {0};
    int k = axes_of(cx, n, axes, e);
    nn_shape sh = {0};
    nn_status st;
    if (k == -2 || (k == -1 && e->status != NN_OK))
        return e->status;
    for (int i = 0; i < x->shape.ndim; i++)
        drop[i] = k < 0 && x->shape.d[i] == 1;
    for (int i = 0; i < k; i++) {
        int64_t a;
        if (norm_axis(axes[i], x->shape.ndim, &a) || x->shape.d[a] != 1)
            return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Squeeze): bad axis %lld", n->name,
                              (long long)axes[i]);
        drop[a] = 1;
    }
    for (int i = 0; i < x->shape.ndim; i++)
        if (!drop[i])
            sh.d[sh.ndim++] = x->shape.d[i];
    st = new_like(x, &sh, out, e);
    for (int64_t i = 0; st == NN_OK && i < x->numel; i++)
        el_copy(*out, i, x, i);
    return st;
}

static nn_status fold_unsqueeze(ox_ctx *cx, const ox_node *n, ox_tensor **out, nn_err *e)
{
    const ox_tensor *x = in_c(cx, n, 0);
    int64_t axes[NN_MAX_DIMS + 1];
    int ins[NN_MAX_DIMS] = {0};
    int k = axes_of(cx, n, axes, e), r;
    nn_shape sh = {0};
    nn_status st;
    if (k < 0)
        return e->status != NN_OK ? e->status
                                  : nn_err_set(e, NN_ERR_FORMAT, "node '%s' (Unsqueeze): no axes", n->name);
    r = x->shape.ndim + k;
    if (r > NN_MAX_DIMS)
        return nn_err_set(e, NN_ERR_LIMIT, "node '%s' (Unsqueeze): rank %d", n->name, r);
    for (int i = 0; i < k; i++) {
        int64_t a;
        if (norm_axis(axes[i], r, &a) || ins[a])
            return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Unsqueeze): bad axis %lld", n->name,
                              (long long)axes[i]);
        ins[a] = 1;
    }
    for (int i = 0, j = 0; i < r; i++)
        sh.d[i] = ins[i] ? 1 : x->shape.d[j++];
    sh.ndim = r;
    st = new_like(x, &sh, out, e);
    for (int64_t i = 0; st == NN_OK && i < x->numel; i++)
        el_copy(*out, i, x, i);
    return st;
}

static nn_status fold_concat(ox_ctx *cx, const ox_node *n, ox_tensor **out, nn_err *e)
{
    const ox_tensor *x0 = in_c(cx, n, 0);
    int64_t axis, outer = 1, off = 0;
    nn_shape sh;
    int any_batch = 0;
    nn_status st;
    if (!x0 || norm_axis(ox_attr_int(n, "axis", 0), x0->shape.ndim, &axis))
        return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Concat): bad axis", n->name);
    sh = x0->shape;
    sh.d[axis] = 0;
    for (int i = 0; i < n->n_in; i++) {
        const ox_tensor *x = in_c(cx, n, i);
        if (!x)
            continue;
        if (x->dtype != x0->dtype || x->shape.ndim != sh.ndim)
            return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Concat): mixed inputs", n->name);
        for (int d = 0; d < sh.ndim; d++)
            if (d != axis && x->shape.d[d] != sh.d[d])
                return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Concat): shape mismatch", n->name);
        sh.d[axis] += x->shape.d[axis];
        any_batch |= x->batch != NULL;
    }
    if ((st = ox_tensor_new(x0->dtype, &sh, 1, out, e)) != NN_OK)
        return st;
    if (any_batch && (st = ensure_batch(*out, e)) != NN_OK)
        return st;
    for (int d = 0; d < axis; d++)
        outer *= sh.d[d];
    int64_t inner_out = outer ? (*out)->numel / outer : 0;
    for (int i = 0; i < n->n_in; i++) {
        const ox_tensor *x = in_c(cx, n, i);
        int64_t inner;
        if (!x)
            continue;
        inner = outer ? x->numel / outer : 0;
        for (int64_t o = 0; o < outer; o++)
            for (int64_t j = 0; j < inner; j++)
                el_copy(*out, o * inner_out + off + j, x, o * inner + j);
        off += inner;
    }
    return NN_OK;
}

static nn_status fold_gather(ox_ctx *cx, const ox_node *n, ox_tensor **out, nn_err *e)
{
    const ox_tensor *x = in_c(cx, n, 0), *ix = in_c(cx, n, 1);
    int64_t axis, outer = 1, inner = 1;
    nn_shape sh = {0};
    nn_status st;
    if (!ix || ix->dtype != OX_I64 || ix->batch ||
        norm_axis(ox_attr_int(n, "axis", 0), x->shape.ndim, &axis) ||
        x->shape.ndim - 1 + ix->shape.ndim > NN_MAX_DIMS)
        return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Gather): bad indices or axis", n->name);
    for (int i = 0; i < axis; i++) {
        sh.d[sh.ndim++] = x->shape.d[i];
        outer *= x->shape.d[i];
    }
    for (int i = 0; i < ix->shape.ndim; i++)
        sh.d[sh.ndim++] = ix->shape.d[i];
    for (int i = (int)axis + 1; i < x->shape.ndim; i++) {
        sh.d[sh.ndim++] = x->shape.d[i];
        inner *= x->shape.d[i];
    }
    if ((st = new_like(x, &sh, out, e)) != NN_OK)
        return st;
    int64_t dim = x->shape.d[axis], q = 0;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < ix->numel; k++) {
            int64_t id = ix->i64[k] < 0 ? ix->i64[k] + dim : ix->i64[k];
            if (id < 0 || id >= dim)
                return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Gather): index %lld out of range",
                                  n->name, (long long)ix->i64[k]);
            for (int64_t j = 0; j < inner; j++)
                el_copy(*out, q++, x, (o * dim + id) * inner + j);
        }
    return NN_OK;
}

static nn_status fold_transpose(ox_ctx *cx, const ox_node *n, ox_tensor **out, nn_err *e)
{
    const ox_tensor *x = in_c(cx, n, 0);
    int64_t perm[NN_MAX_DIMS + 1], ist[NN_MAX_DIMS], idx[NN_MAX_DIMS] = {0};
    int r = x->shape.ndim, k = ox_attr_ints(n, "perm", perm, NN_MAX_DIMS + 1, e), seen[NN_MAX_DIMS] = {0};
    nn_shape sh = {r, {0}};
    nn_status st;
    if (k == -2)
        return e->status;
    if (k < 0)
        for (k = 0; k < r; k++)
            perm[k] = r - 1 - k;
    if (k != r)
        return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Transpose): perm size", n->name);
    for (int i = 0; i < r; i++) {
        if (perm[i] < 0 || perm[i] >= r || seen[perm[i]]++)
            return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Transpose): bad perm", n->name);
        sh.d[i] = x->shape.d[perm[i]];
    }
    strides_of(&x->shape, ist);
    if ((st = new_like(x, &sh, out, e)) != NN_OK)
        return st;
    for (int64_t i = 0; i < x->numel; i++) {
        int64_t si = 0;
        for (int d = 0; d < r; d++)
            si += idx[d] * ist[perm[d]];
        el_copy(*out, i, x, si);
        idx_next(idx, &sh);
    }
    return NN_OK;
}

static nn_status fold_slice(ox_ctx *cx, const ox_node *n, ox_tensor **out, nn_err *e)
{
    const ox_tensor *x = in_c(cx, n, 0);
    int r = x->shape.ndim;
    int64_t st_[NN_MAX_DIMS + 1], en[NN_MAX_DIMS + 1], ax[NN_MAX_DIMS + 1], sp[NN_MAX_DIMS + 1];
    int64_t begin[NN_MAX_DIMS], step[NN_MAX_DIMS], ist[NN_MAX_DIMS], idx[NN_MAX_DIMS] = {0};
    int ks, ke, ka, kp;
    nn_shape sh = x->shape;
    nn_status st;
    if (cx->opset < 10) {
        ks = ox_attr_ints(n, "starts", st_, NN_MAX_DIMS + 1, e);
        ke = ox_attr_ints(n, "ends", en, NN_MAX_DIMS + 1, e);
        ka = ox_attr_ints(n, "axes", ax, NN_MAX_DIMS + 1, e);
        kp = -1;
    } else {
        ks = ox_const_ints(ox_input(cx, n, 1), n, "starts", st_, NN_MAX_DIMS + 1, e);
        ke = ox_const_ints(ox_input(cx, n, 2), n, "ends", en, NN_MAX_DIMS + 1, e);
        ka = ox_input(cx, n, 3) ? ox_const_ints(ox_input(cx, n, 3), n, "axes", ax, NN_MAX_DIMS + 1, e) : -1;
        kp = ox_input(cx, n, 4) ? ox_const_ints(ox_input(cx, n, 4), n, "steps", sp, NN_MAX_DIMS + 1, e) : -1;
    }
    if (e->status != NN_OK)
        return e->status;
    if (ks < 0 || ks != ke || (ka >= 0 && ka != ks) || (kp >= 0 && kp != ks) || ks > r)
        return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Slice): bad parameters", n->name);
    for (int i = 0; i < r; i++) {
        begin[i] = 0;
        step[i] = 1;
    }
    for (int i = 0; i < ks; i++) {
        int64_t a, s = kp >= 0 ? sp[i] : 1, d, b, en_i;
        if (norm_axis(ka >= 0 ? ax[i] : i, r, &a) || s == 0 || s == INT64_MIN)
            return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Slice): bad axis or step", n->name);
        d = x->shape.d[a];
        b = st_[i] < 0 ? st_[i] + d : st_[i];
        en_i = en[i] < 0 ? (en[i] < -d ? -1 : en[i] + d) : en[i];
        if (s > 0) {
            b = b < 0 ? 0 : b > d ? d : b;
            en_i = en_i < 0 ? 0 : en_i > d ? d : en_i;
            sh.d[a] = en_i > b ? (en_i - b - 1) / s + 1 : 0;
        } else {
            b = b < 0 ? -1 : b > d - 1 ? d - 1 : b;
            en_i = en_i < -1 ? -1 : en_i > d - 1 ? d - 1 : en_i;
            sh.d[a] = b > en_i ? (b - en_i - 1) / (-s) + 1 : 0;
        }
        begin[a] = b;
        step[a] = s;
    }
    strides_of(&x->shape, ist);
    if ((st = new_like(x, &sh, out, e)) != NN_OK)
        return st;
    for (int64_t i = 0; i < (*out)->numel; i++) {
        int64_t si = 0;
        for (int d = 0; d < r; d++)
            si += (begin[d] + idx[d] * step[d]) * ist[d];
        el_copy(*out, i, x, si);
        idx_next(idx, &sh);
    }
    return NN_OK;
}

static nn_status fold_const_of_shape(ox_ctx *cx, const ox_node *n, ox_tensor **out, nn_err *e)
{
    int64_t dims[NN_MAX_DIMS + 1];
    int k = ox_const_ints(ox_input(cx, n, 0), n, "shape", dims, NN_MAX_DIMS + 1, e);
    const ox_attr *a = ox_attr_get(n, "value");
    ox_tensor *v = NULL;
    nn_shape sh = {0};
    nn_status st;
    if (k < 0)
        return e->status;
    if (k > NN_MAX_DIMS)
        return nn_err_set(e, NN_ERR_LIMIT, "node '%s' (ConstantOfShape): rank %d", n->name, k);
    sh.ndim = k;
    for (int i = 0; i < k; i++) {
        if (dims[i] < 0)
            return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (ConstantOfShape): negative dim", n->name);
        sh.d[i] = dims[i];
    }
    if (a && a->has_t) {
        io_pb_reader r = a->msg;
        if ((st = ox_tensor_decode(&r, &a->t, &v, NULL, 0, e)) != NN_OK)
            return st;
        if (v->numel != 1) {
            ox_tensor_free(v);
            return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (ConstantOfShape): value is not one element",
                              n->name);
        }
    }
    st = ox_tensor_new(v ? v->dtype : OX_F32, &sh, 1, out, e);
    for (int64_t i = 0; st == NN_OK && v && i < (*out)->numel; i++)
        el_copy(*out, i, v, 0);
    ox_tensor_free(v);
    return st;
}

/* Add/Sub/Mul/Div with numpy broadcasting, same dtype, no batch symbols. */
static nn_status fold_binary(ox_ctx *cx, const ox_node *n, ox_tensor **out, nn_err *e)
{
    const ox_tensor *a = in_c(cx, n, 0), *b = in_c(cx, n, 1);
    int r, op = n->op_type[0];
    int64_t sa[NN_MAX_DIMS], sb[NN_MAX_DIMS], idx[NN_MAX_DIMS] = {0};
    nn_shape sh = {0}, pa = {0}, pb = {0};
    nn_status st;
    if (!b || a->dtype != b->dtype)
        return FAIL_UNSUP("node '%s' (%s): operands of different types", n->name, n->op_type);
    if (a->batch || b->batch)
        return FAIL_UNSUP("node '%s' (%s): arithmetic on the batch size", n->name, n->op_type);
    r = a->shape.ndim > b->shape.ndim ? a->shape.ndim : b->shape.ndim;
    pa.ndim = pb.ndim = sh.ndim = r;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->shape.ndim), ib = i - (r - b->shape.ndim);
        pa.d[i] = ia >= 0 ? a->shape.d[ia] : 1;
        pb.d[i] = ib >= 0 ? b->shape.d[ib] : 1;
        if (pa.d[i] != pb.d[i] && pa.d[i] != 1 && pb.d[i] != 1)
            return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (%s): shapes do not broadcast", n->name,
                              n->op_type);
        sh.d[i] = pa.d[i] == 1 ? pb.d[i] : pa.d[i];
    }
    strides_of(&pa, sa);
    strides_of(&pb, sb);
    if ((st = ox_tensor_new(a->dtype, &sh, 1, out, e)) != NN_OK)
        return st;
    for (int64_t i = 0; i < (*out)->numel; i++) {
        int64_t ia = 0, ib = 0;
        for (int d = 0; d < r; d++) {
            ia += (pa.d[d] == 1 ? 0 : idx[d]) * sa[d];
            ib += (pb.d[d] == 1 ? 0 : idx[d]) * sb[d];
        }
        if (a->dtype == OX_F32) {
            float x = a->f32[ia], y = b->f32[ib];
            (*out)->f32[i] = op == 'A' ? x + y : op == 'S' ? x - y : op == 'M' ? x * y : x / y;
        } else {
            int64_t x = a->i64[ia], y = b->i64[ib];
            if (op == 'D' && (y == 0 || (x == INT64_MIN && y == -1)))
                return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (Div): integer division by zero",
                                  n->name);
            /* wrap-around like the int64 kernels of runtimes, without UB */
            (*out)->i64[i] = op == 'A' ? (int64_t)((uint64_t)x + (uint64_t)y)
                           : op == 'S' ? (int64_t)((uint64_t)x - (uint64_t)y)
                           : op == 'M' ? (int64_t)((uint64_t)x * (uint64_t)y) : x / y;
        }
        idx_next(idx, &sh);
    }
    return NN_OK;
}

/* Foldable ops. only_fold: the op has no graph counterpart, so failing to
 * fold it is an error. */
static const struct {
    const char *op_type;
    fold_fn fn;
    int only_fold;
} fold_table[] = {
    {"Constant", fold_constant, 1},
    {"Shape", fold_shape, 1},
    {"Identity", fold_identity, 0},
    {"Dropout", fold_identity, 0},
    {"Cast", fold_cast, 0},
    {"Reshape", fold_reshape, 0},
    {"Flatten", fold_flatten, 0},
    {"Squeeze", fold_squeeze, 1},
    {"Unsqueeze", fold_unsqueeze, 1},
    {"Concat", fold_concat, 0},
    {"Gather", fold_gather, 1},
    {"Transpose", fold_transpose, 0},
    {"Slice", fold_slice, 0},
    {"ConstantOfShape", fold_const_of_shape, 1},
    {"Add", fold_binary, 0},
    {"Sub", fold_binary, 1},
    {"Mul", fold_binary, 0},
    {"Div", fold_binary, 1},
};

int ox_fold(ox_ctx *cx, const ox_node *n, nn_err *e)
{
    size_t i;
    int foldable = 1;
    ox_tensor *t = NULL;
    for (i = 0; i < sizeof fold_table / sizeof fold_table[0]; i++)
        if (strcmp(fold_table[i].op_type, n->op_type) == 0)
            break;
    if (i == sizeof fold_table / sizeof fold_table[0])
        return 0;
    if (strcmp(n->op_type, "Shape") == 0) {
        ox_sym *s = ox_input(cx, n, 0);
        foldable = s && s->shape_known;
    } else {
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k][0] && !in_c(cx, n, k))
                foldable = 0;
        if (n->n_in == 0 || !n->in[0][0])
            foldable = strcmp(n->op_type, "Constant") == 0;
    }
    if (!foldable) {
        if (!fold_table[i].only_fold)
            return 0;
        nn_err_set(e, NN_ERR_UNSUPPORTED, "unsupported ONNX op '%s' (node '%s'): only supported "
                   "when it can be computed at conversion time (constant inputs%s)", n->op_type,
                   n->name, strcmp(n->op_type, "Shape") == 0 ? ", known input shape" : "");
        return -1;
    }
    if (ox_extra_outputs_unused(cx, n, e) != NN_OK)
        return -1;
    if (fold_table[i].fn(cx, n, &t, e) != NN_OK) {
        ox_tensor_free(t);
        if (e->status == NN_OK)
            nn_err_set(e, NN_ERR_FORMAT, "node '%s' (%s): folding failed", n->name, n->op_type);
        return -1;
    }
    return ox_define_const(cx, n, 0, t, e) == NN_OK ? 1 : -1;
}
