/* eltwise_util.h — private helpers of the element-wise and shape kernels in
 * nn/ops: typed attribute readers that reject attributes of the wrong type,
 * axis normalisation, the per-tensor element limit, a vectorised exp
 * (Sigmoid, Softmax), a parallel copy, and numpy-style (multidirectional)
 * broadcasting shared by Add and Mul. Everything is static inline because
 * each op file uses a different subset; nothing here allocates. Messages name the node: "node '<name>' (<Op>): ...". */
#ifndef NN_OPS_ELTWISE_UTIL_H
#define NN_OPS_ELTWISE_UTIL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "nn/nn_graph.h"
#include "nn/nn_ops.h"
#include "nn/nn_pool.h"
#include "nn/nn_tensor.h"

/* Largest element count of any tensor an op may produce: bounds the arena a
 * hostile model can request (8 GiB of fp32) and keeps every flat index of
 * the kernels far from int64 overflow. */
#define EU_MAX_ELEMS ((int64_t)1 << 31)
/* Elements per pool task for streaming kernels (~64 KiB of output), large
 * enough to amortise waking a worker. */
#define EU_GRAIN 16384
/* Longest run of Add/Mul output written before its fused activation is
 * applied (16 KiB: stays in L1). */
#define EU_ACT_BLOCK 4096

static inline const char *eu_name(const nn_node *n)
{
    return n->name && n->name[0] ? n->name : "?";
}

/* Optional INT attribute: dflt when absent, NN_ERR_FORMAT on another type. */
static inline nn_status eu_attr_int(const nn_node *n, const char *op, const char *key,
                                    int64_t dflt, int64_t *v, nn_err *e)
{
    const nn_attr *a = nn_node_attr(n, key);
    *v = dflt;
    if (!a)
        return NN_OK;
    if (a->type != NN_ATTR_INT)
        return nn_err_set(e, NN_ERR_FORMAT, "node '%s' (%s): attribute %s must be an int",
                          eu_name(n), op, key);
    *v = a->i;
    return NN_OK;
}

/* Optional FLOAT attribute: dflt when absent; an INT is accepted and
 * converted (as nn_node_get_float does); rejects other types and NaN. */
static inline nn_status eu_attr_float(const nn_node *n, const char *op, const char *key,
                                      float dflt, float *v, nn_err *e)
{
    const nn_attr *a = nn_node_attr(n, key);
    *v = dflt;
    if (!a)
        return NN_OK;
    if (a->type == NN_ATTR_INT) {
        *v = (float)a->i;
        return NN_OK;
    }
    if (a->type != NN_ATTR_FLOAT)
        return nn_err_set(e, NN_ERR_FORMAT, "node '%s' (%s): attribute %s must be a float",
                          eu_name(n), op, key);
    if (isnan(a->f))
        return nn_err_set(e, NN_ERR_FORMAT, "node '%s' (%s): attribute %s is NaN",
                          eu_name(n), op, key);
    *v = a->f;
    return NN_OK;
}

/* Optional INTS attribute with at most max values: *count = -1 when absent. */
static inline nn_status eu_attr_ints(const nn_node *n, const char *op, const char *key,
                                     int64_t *v, int max, int *count, nn_err *e)
{
    const nn_attr *a = nn_node_attr(n, key);
    *count = -1;
    if (!a)
        return NN_OK;
    if (a->type != NN_ATTR_INTS || a->n < 0 || (a->n > 0 && !a->ints))
        return nn_err_set(e, NN_ERR_FORMAT, "node '%s' (%s): attribute %s must be a list of ints",
                          eu_name(n), op, key);
    if (a->n > max)
        return nn_err_set(e, NN_ERR_FORMAT, "node '%s' (%s): attribute %s has %d values, at most %d allowed",
                          eu_name(n), op, key, a->n, max);
    if (a->n > 0)
        memcpy(v, a->ints, (size_t)a->n * sizeof *v);
    *count = a->n;
    return NN_OK;
}

/* Optional STRING attribute: dflt when absent. */
static inline nn_status eu_attr_string(const nn_node *n, const char *op, const char *key,
                                       const char *dflt, const char **v, nn_err *e)
{
    const nn_attr *a = nn_node_attr(n, key);
    *v = dflt;
    if (!a)
        return NN_OK;
    if (a->type != NN_ATTR_STRING || !a->s)
        return nn_err_set(e, NN_ERR_FORMAT, "node '%s' (%s): attribute %s must be a string",
                          eu_name(n), op, key);
    *v = a->s;
    return NN_OK;
}

/* Normalises an axis given in [-rank, rank-1] (or [-rank, rank] when
 * inclusive, as Flatten allows) to [0, rank-1] (or [0, rank]). */
static inline nn_status eu_axis(const nn_node *n, const char *op, int64_t axis, int rank,
                                int inclusive, int *out, nn_err *e)
{
    int64_t hi = inclusive ? rank : rank - 1;
    *out = 0;
    if (axis < -(int64_t)rank || axis > hi)
        return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (%s): axis %lld out of range for rank %d",
                          eu_name(n), op, (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return NN_OK;
}

/* Every input in[0..want) must be present with a valid rank. */
static inline nn_status eu_check_inputs(const nn_node *n, const char *op,
                                        const nn_shape *const *in, int n_in, int want, nn_err *e)
{
    if (n_in < want)
        return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (%s): %d inputs, expected %d",
                          eu_name(n), op, n_in, want);
    for (int i = 0; i < want; i++) {
        if (!in[i])
            return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (%s): input %d is absent",
                              eu_name(n), op, i);
        if (in[i]->ndim < 0 || in[i]->ndim > NN_MAX_DIMS)
            return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (%s): input %d has rank %d",
                              eu_name(n), op, i, in[i]->ndim);
    }
    return NN_OK;
}

/* An output shape is acceptable when every dim is >= 1 (zero-sized tensors
 * are not supported) and it holds at most EU_MAX_ELEMS elements. */
static inline nn_status eu_check_out(const nn_node *n, const char *op, const nn_shape *s, nn_err *e)
{
    int64_t numel;
    char buf[96];
    if (s->ndim < 0 || s->ndim > NN_MAX_DIMS)
        return nn_err_set(e, NN_ERR_LIMIT, "node '%s' (%s): output rank %d exceeds %d",
                          eu_name(n), op, s->ndim, NN_MAX_DIMS);
    for (int i = 0; i < s->ndim; i++)
        if (s->d[i] < 1) {
            nn_shape_str(s, buf, sizeof buf);
            return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (%s): output shape %s is empty",
                              eu_name(n), op, buf);
        }
    numel = nn_shape_numel(s);
    if (numel < 0 || numel > EU_MAX_ELEMS) {
        nn_shape_str(s, buf, sizeof buf);
        return nn_err_set(e, NN_ERR_LIMIT, "node '%s' (%s): output shape %s exceeds %lld elements",
                          eu_name(n), op, buf, (long long)EU_MAX_ELEMS);
    }
    return NN_OK;
}

/* Row-major element strides of s. */
static inline void eu_strides(const nn_shape *s, int64_t *st)
{
    int64_t acc = 1;
    for (int i = s->ndim - 1; i >= 0; i--) {
        st[i] = acc;
        acc *= s->d[i];
    }
}

/* Shared infer of the one-input, same-shape ops. */
static inline nn_status eu_unary_infer(const nn_node *n, const char *op,
                                       const nn_shape *const *in, int n_in, nn_shape *out, nn_err *e)
{
    nn_status st = eu_check_inputs(n, op, in, n_in, 1, e);
    if (st != NN_OK)
        return st;
    *out = *in[0];
    return eu_check_out(n, op, out, e);
}

/* ---- vectorised exp (Sigmoid, Softmax) ----
 * GNU C vector extensions (GCC and Clang; SSE2 on the x86-64 baseline, NEON
 * on arm64), because -O2 does not auto-vectorise loops of unknown length. */

typedef float eu_v4f __attribute__((vector_size(16)));
typedef int32_t eu_v4i __attribute__((vector_size(16)));
typedef uint32_t eu_v4u __attribute__((vector_size(16)));

/* Lane-wise mask ? a : b (mask lanes all ones or all zeros). */
static inline eu_v4f eu_v4_select(eu_v4i mask, eu_v4f a, eu_v4f b)
{
    return (eu_v4f)((mask & (eu_v4i)a) | (~mask & (eu_v4i)b));
}

/* exp(x) per lane, relative error ~1e-7 for x in [-87.3, 88] (x is clamped
 * to that range, so smaller x give ~1.2e-38 and larger x give exp(88)):
 * x = n*ln2 + r with |r| <= ln2/2 (ln2 split in two parts for precision),
 * exp(r) by a degree-7 polynomial (Cephes coefficients), 2^n built from the
 * exponent bits. n = round(x * log2(e)) by adding 1.5 * 2^23, which leaves
 * n in the low mantissa bits; the polynomial in Estrin's form. Both keep
 * the dependency chain short: the lanes of neighbouring calls then overlap
 * (Sigmoid over 16,384 floats, SSE2: 57 -> 35 us, same maximum error). */
static inline eu_v4f eu_exp4(eu_v4f x)
{
    const eu_v4f hi = {88.0f, 88.0f, 88.0f, 88.0f};
    const eu_v4f lo = {-87.3365447505531f, -87.3365447505531f, -87.3365447505531f, -87.3365447505531f};
    const eu_v4f shift = {12582912.0f, 12582912.0f, 12582912.0f, 12582912.0f};
    eu_v4f fx, r, r2, r4, y;
    eu_v4u n;
    x = eu_v4_select(x > hi, hi, x);
    x = eu_v4_select(x < lo, lo, x);
    fx = x * 1.44269504088896341f + shift;
    /* Unsigned, so that even a NaN lane (whatever its bits) stays defined. */
    n = (eu_v4u)fx - (eu_v4u)shift;
    fx -= shift;
    r = x - fx * 0.693359375f + fx * 2.12194440e-4f;
    r2 = r * r;
    r4 = r2 * r2;
    y = (1.9875691500e-4f * r + 1.3981999507e-3f) * r4 +
        ((8.3334519073e-3f * r + 4.1665795894e-2f) * r2 + (1.6666665459e-1f * r + 5.0000001201e-1f));
    y = y * r2 + r + 1.0f;
    return y * (eu_v4f)((n + 127u) << 23);
}

static inline eu_v4f eu_v4_load(const float *p)
{
    eu_v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void eu_v4_store(float *p, eu_v4f v)
{
    memcpy(p, &v, sizeof v);
}

/* Lane function of eu_v4_map: force-inlined into its loop (GCC does not
 * inline a function of two call sites by itself). */
#define EU_V4_LANES static inline __attribute__((always_inline)) eu_v4f

/* Element-wise unary map y[i] = f(x[i], arg) for i in [b, e), four lanes
 * at a time; the tail runs in a zero-padded vector (f must accept 0).
 * With a constant EU_V4_LANES f the loop is branch-free vector code (the
 * scalar `v < 0 ? ... : ...` loops it replaced ran LeakyRelu at ~2 ns per
 * float: a mispredicted branch per negative input). */
static inline void eu_v4_map(const float *x, float *y, int64_t b, int64_t e,
                             eu_v4f (*f)(eu_v4f, const void *), const void *arg)
{
    int64_t i = b;
    for (; i + 4 <= e; i += 4)
        eu_v4_store(y + i, f(eu_v4_load(x + i), arg));
    if (i < e) {
        eu_v4f v = {0, 0, 0, 0};
        memcpy(&v, x + i, (size_t)(e - i) * sizeof(float));
        v = f(v, arg);
        memcpy(y + i, &v, (size_t)(e - i) * sizeof(float));
    }
}

/* y[i] = exp(y[i]) for i < n; returns the sum of the results. */
static inline float eu_exp_inplace(float *y, int64_t n)
{
    eu_v4f acc = {0, 0, 0, 0};
    int64_t i = 0;
    float sum;
    for (; i + 4 <= n; i += 4) {
        eu_v4f v = eu_exp4(eu_v4_load(y + i));
        eu_v4_store(y + i, v);
        acc += v;
    }
    sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    if (i < n) {
        eu_v4f t = {0, 0, 0, 0};
        memcpy(&t, y + i, (size_t)(n - i) * sizeof(float));
        t = eu_exp4(t);
        memcpy(y + i, &t, (size_t)(n - i) * sizeof(float));
        for (int64_t k = 0; k < n - i; k++)
            sum += t[k];
    }
    return sum;
}

/* ---- copy (Identity, Dropout, Flatten, Reshape) ---- */

typedef struct eu_copy_job {
    float *dst;
    const float *src;
} eu_copy_job;

static inline void eu_copy_range(void *arg, int64_t b, int64_t e)
{
    eu_copy_job *j = arg;
    memcpy(j->dst + b, j->src + b, (size_t)(e - b) * sizeof(float));
}

/* out = in[0] element for element (same numel), split over the pool. */
static inline void eu_copy_run(nn_op_ctx *ctx)
{
    eu_copy_job j = {ctx->out->data, ctx->in[0]->data};
    if (j.dst != j.src)
        nn_pool_for(ctx->pool, nn_shape_numel(&ctx->out->shape), 4 * EU_GRAIN, eu_copy_range, &j);
}

static inline void eu_copy_ref(nn_op_ctx *ctx)
{
    int64_t n = nn_shape_numel(&ctx->out->shape);
    const float *x = ctx->in[0]->data;
    float *y = ctx->out->data;
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i];
}

/* ---- multidirectional broadcasting (Add, Mul) ---- */

typedef enum eu_binop { EU_ADD, EU_MUL } eu_binop;

/* Output shape of numpy broadcasting: ranks right-aligned, each pair of
 * dims equal or one of them 1. Also validates the fused activation. */
static inline nn_status eu_bcast_infer(const nn_node *n, const char *op,
                                       const nn_shape *const *in, int n_in, nn_shape *out, nn_err *e)
{
    const nn_shape *a, *b;
    int64_t act;
    float lo, hi;
    nn_status st = eu_check_inputs(n, op, in, n_in, 2, e);
    if (st != NN_OK)
        return st;
    a = in[0];
    b = in[1];
    memset(out, 0, sizeof *out);
    out->ndim = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int j = 0; j < out->ndim; j++) {
        int ja = j - (out->ndim - a->ndim), jb = j - (out->ndim - b->ndim);
        int64_t da = ja >= 0 ? a->d[ja] : 1, db = jb >= 0 ? b->d[jb] : 1;
        if (da != db && da != 1 && db != 1) {
            char sa[96], sb[96];
            nn_shape_str(a, sa, sizeof sa);
            nn_shape_str(b, sb, sizeof sb);
            return nn_err_set(e, NN_ERR_SHAPE, "node '%s' (%s): shapes %s and %s do not broadcast",
                              eu_name(n), op, sa, sb);
        }
        out->d[j] = da == 1 ? db : da;
    }
    if ((st = eu_attr_int(n, op, "fused_act", NN_ACT_NONE, &act, e)) != NN_OK ||
        (st = eu_attr_float(n, op, "fused_min", 0.0f, &lo, e)) != NN_OK ||
        (st = eu_attr_float(n, op, "fused_max", 6.0f, &hi, e)) != NN_OK)
        return st;
    if (act != NN_ACT_NONE && act != NN_ACT_RELU && act != NN_ACT_CLIP)
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "node '%s' (%s): unknown fused_act %lld",
                          eu_name(n), op, (long long)act);
    if (act == NN_ACT_CLIP && lo > hi)
        return nn_err_set(e, NN_ERR_FORMAT, "node '%s' (%s): fused_min %g > fused_max %g",
                          eu_name(n), op, (double)lo, (double)hi);
    return eu_check_out(n, op, out, e);
}

/* The broadcast reduced to its essentials: output dims of size 1 dropped and
 * adjacent dims merged while both operands stay linearly addressable, so
 * equal shapes become one dim and [N,C,H,W] + [C,1,1] becomes [N, C, H*W]
 * with b strides {0, 1, 0}. sa/sb: element strides per merged dim
 * (0 = broadcast). */
typedef struct eu_bcast {
    int nd;                         /* 1..NN_MAX_DIMS */
    int64_t dim[NN_MAX_DIMS];
    int64_t sa[NN_MAX_DIMS], sb[NN_MAX_DIMS];
} eu_bcast;

static inline void eu_bcast_plan(const nn_shape *a, const nn_shape *b, const nn_shape *out,
                                 eu_bcast *p)
{
    int64_t sta[NN_MAX_DIMS], stb[NN_MAX_DIMS];
    eu_strides(a, sta);
    eu_strides(b, stb);
    p->nd = 0;
    for (int j = 0; j < out->ndim; j++) {
        int ja = j - (out->ndim - a->ndim), jb = j - (out->ndim - b->ndim);
        int64_t d = out->d[j];
        int64_t xa = (ja >= 0 && a->d[ja] != 1) ? sta[ja] : 0;
        int64_t xb = (jb >= 0 && b->d[jb] != 1) ? stb[jb] : 0;
        int k = p->nd - 1;
        if (d == 1)
            continue;
        if (k >= 0 && p->sa[k] == xa * d && p->sb[k] == xb * d) {
            p->dim[k] *= d;
            p->sa[k] = xa;
            p->sb[k] = xb;
            continue;
        }
        p->dim[p->nd] = d;
        p->sa[p->nd] = xa;
        p->sb[p->nd] = xb;
        p->nd++;
    }
    if (p->nd == 0) {
        p->nd = 1;
        p->dim[0] = 1;
        p->sa[0] = p->sb[0] = 0;
    }
}

/* y[i] = a[i*sa] op b[i*sb] for i < n, with the common stride patterns as
 * tight loops the compiler vectorises. */
static inline void eu_bin_row(eu_binop op, float *restrict y, const float *a, int64_t sa,
                              const float *b, int64_t sb, int64_t n)
{
    if (sa == 1 && sb == 1) {
        if (op == EU_ADD)
            for (int64_t i = 0; i < n; i++)
                y[i] = a[i] + b[i];
        else
            for (int64_t i = 0; i < n; i++)
                y[i] = a[i] * b[i];
    } else if (sa == 1 && sb == 0) {
        float v = b[0];
        if (op == EU_ADD)
            for (int64_t i = 0; i < n; i++)
                y[i] = a[i] + v;
        else
            for (int64_t i = 0; i < n; i++)
                y[i] = a[i] * v;
    } else if (sa == 0 && sb == 1) {
        float v = a[0];
        if (op == EU_ADD)
            for (int64_t i = 0; i < n; i++)
                y[i] = v + b[i];
        else
            for (int64_t i = 0; i < n; i++)
                y[i] = v * b[i];
    } else {
        for (int64_t i = 0; i < n; i++)
            y[i] = op == EU_ADD ? a[i * sa] + b[i * sb] : a[i * sa] * b[i * sb];
    }
}

typedef struct eu_bcast_job {
    eu_bcast p;
    eu_binop op;
    nn_act_params act;
    float *y;
    const float *a, *b;
} eu_bcast_job;

/* Output elements [begin, end) in row segments of the innermost merged dim;
 * with a fused activation, segments are at most EU_ACT_BLOCK long so that
 * the activation pass finds them still in L1. */
static inline void eu_bcast_range(void *arg, int64_t begin, int64_t end)
{
    const eu_bcast_job *j = arg;
    const eu_bcast *p = &j->p;
    int nd = p->nd, last = nd - 1;
    int64_t idx[NN_MAX_DIMS], oa = 0, ob = 0, rem = begin;
    int64_t cap = j->act.act != NN_ACT_NONE ? EU_ACT_BLOCK : INT64_MAX;
    for (int d = last; d >= 0; d--) {
        idx[d] = rem % p->dim[d];
        rem /= p->dim[d];
        oa += idx[d] * p->sa[d];
        ob += idx[d] * p->sb[d];
    }
    for (int64_t i = begin; i < end;) {
        int64_t len = p->dim[last] - idx[last];
        if (len > end - i)
            len = end - i;
        if (len > cap)
            len = cap;
        eu_bin_row(j->op, j->y + i, j->a + oa, p->sa[last], j->b + ob, p->sb[last], len);
        nn_act_apply(&j->act, j->y + i, len);
        i += len;
        idx[last] += len;
        oa += len * p->sa[last];
        ob += len * p->sb[last];
        for (int d = last; d > 0 && idx[d] == p->dim[d]; d--) {
            oa += p->sa[d - 1] - p->dim[d] * p->sa[d];
            ob += p->sb[d - 1] - p->dim[d] * p->sb[d];
            idx[d] = 0;
            idx[d - 1]++;
        }
    }
}

static inline void eu_bcast_run(nn_op_ctx *ctx, eu_binop op)
{
    eu_bcast_job j;
    eu_bcast_plan(&ctx->in[0]->shape, &ctx->in[1]->shape, &ctx->out->shape, &j.p);
    j.op = op;
    j.act = nn_act_from_node(ctx->node);
    j.y = ctx->out->data;
    j.a = ctx->in[0]->data;
    j.b = ctx->in[1]->data;
    nn_pool_for(ctx->pool, nn_shape_numel(&ctx->out->shape), EU_GRAIN, eu_bcast_range, &j);
}

/* Reference: each output coordinate mapped to each operand by the
 * definition (a dim of 1 always reads index 0), then the activation. */
static inline void eu_bcast_ref(nn_op_ctx *ctx, eu_binop op)
{
    const nn_shape *sa = &ctx->in[0]->shape, *sb = &ctx->in[1]->shape, *so = &ctx->out->shape;
    const float *a = ctx->in[0]->data, *b = ctx->in[1]->data;
    float *y = ctx->out->data;
    int64_t n = nn_shape_numel(so), c[NN_MAX_DIMS];
    nn_act_params act = nn_act_from_node(ctx->node);
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i, ia = 0, ib = 0;
        for (int d = so->ndim - 1; d >= 0; d--) {
            c[d] = rem % so->d[d];
            rem /= so->d[d];
        }
        for (int d = 0; d < sa->ndim; d++)
            ia = ia * sa->d[d] + (sa->d[d] == 1 ? 0 : c[d + so->ndim - sa->ndim]);
        for (int d = 0; d < sb->ndim; d++)
            ib = ib * sb->d[d] + (sb->d[d] == 1 ? 0 : c[d + so->ndim - sb->ndim]);
        y[i] = op == EU_ADD ? a[ia] + b[ib] : a[ia] * b[ib];
    }
    nn_act_apply(&act, y, n);
}

#endif
