/* op_util.h — helpers private to the kernels in nn/ops: 2-D window
 * geometry of Conv / MaxPool / AveragePool (attribute parsing and
 * validation, output size with floor or ceil rounding, the valid kernel taps
 * of one output position), 4-lane float vectors with the fused bias +
 * activation store, and a tiled pool-parallel sgemm job (defined in
 * op_gemm.c) shared by Gemm and MatMul. */
#ifndef NN_OP_UTIL_H
#define NN_OP_UTIL_H

#include <stdint.h>
#include <string.h>

#include "nn/nn_graph.h"
#include "nn/nn_ops.h"
#include "nn/nn_pool.h"

/* Bound on kernel size, stride, pad and dilation: far above any real
 * network and small enough that every window expression stays in int64. */
#define NN_GEOM_MAX (1 << 20)

/* Geometry of a 2-D sliding window over an [N, C, IH, IW] input. */
typedef struct nn_geom2d {
    int64_t kh, kw;             /* kernel taps */
    int64_t sh, sw;             /* strides */
    int64_t dh, dw;             /* dilations */
    int64_t pt, pl, pb, pr;     /* pads: top, left, bottom, right */
    int ceil_mode;
    int64_t ih, iw, oh, ow;     /* input and output spatial sizes */
} nn_geom2d;

/* Reads exactly two positive ints of attribute `name` into a, b (defaults
 * when absent). */
static inline nn_status nn_geom_pair(const nn_node *node, const char *op, const char *name,
                                     int64_t dflt, int64_t *a, int64_t *b, nn_err *e)
{
    int64_t v[4];
    int n = nn_node_get_ints(node, name, v, 4);
    if (n < 0) {
        *a = *b = dflt;
        return NN_OK;
    }
    if (n != 2)
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "node %s (%s): %s has %d values, expected 2 (2-D only)",
                          node->name, op, name, n);
    if (v[0] < 1 || v[1] < 1 || v[0] > NN_GEOM_MAX || v[1] > NN_GEOM_MAX)
        return nn_err_set(e, NN_ERR_FORMAT, "node %s (%s): %s (%lld, %lld) out of range 1..%d",
                          node->name, op, name, (long long)v[0], (long long)v[1], NN_GEOM_MAX);
    *a = v[0];
    *b = v[1];
    return NN_OK;
}

/* Parses kernel_shape, strides, pads, dilations, ceil_mode and auto_pad of
 * a 2-D window op. kh, kw > 0: the kernel from the weight (kernel_shape
 * must then agree if present); 0: kernel_shape is required.
 * allow_dilation / allow_ceil: whether the op has that attribute (a
 * non-default value is rejected otherwise). Leaves ih..ow zero. */
static inline nn_status nn_geom2d_parse(const nn_node *node, const char *op, int64_t kh,
                                        int64_t kw, int allow_dilation, int allow_ceil,
                                        nn_geom2d *g, nn_err *e)
{
    int64_t pads[5];
    int n;
    nn_status st;
    const char *ap = nn_node_get_string(node, "auto_pad", "NOTSET");
    memset(g, 0, sizeof *g);
    if (ap[0] != '\0' && strcmp(ap, "NOTSET") != 0)
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "node %s (%s): auto_pad %s (converter must resolve it)",
                          node->name, op, ap);
    if (nn_node_attr(node, "kernel_shape")) {
        if ((st = nn_geom_pair(node, op, "kernel_shape", 1, &g->kh, &g->kw, e)) != NN_OK)
            return st;
        if (kh > 0 && (g->kh != kh || g->kw != kw))
            return nn_err_set(e, NN_ERR_SHAPE, "node %s (%s): kernel_shape %lldx%lld but weight is %lldx%lld",
                              node->name, op, (long long)g->kh, (long long)g->kw,
                              (long long)kh, (long long)kw);
    } else if (kh > 0) {
        if (kh > NN_GEOM_MAX || kw > NN_GEOM_MAX)
            return nn_err_set(e, NN_ERR_LIMIT, "node %s (%s): kernel too large", node->name, op);
        g->kh = kh;
        g->kw = kw;
    } else {
        return nn_err_set(e, NN_ERR_FORMAT, "node %s (%s): kernel_shape missing", node->name, op);
    }
    if ((st = nn_geom_pair(node, op, "strides", 1, &g->sh, &g->sw, e)) != NN_OK)
        return st;
    if ((st = nn_geom_pair(node, op, "dilations", 1, &g->dh, &g->dw, e)) != NN_OK)
        return st;
    if (!allow_dilation && (g->dh != 1 || g->dw != 1))
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "node %s (%s): dilations not supported", node->name, op);
    n = nn_node_get_ints(node, "pads", pads, 5);
    if (n >= 0) {
        if (n != 4)
            return nn_err_set(e, NN_ERR_UNSUPPORTED, "node %s (%s): pads has %d values, expected 4",
                              node->name, op, n);
        for (int i = 0; i < 4; i++)
            if (pads[i] < 0 || pads[i] > NN_GEOM_MAX)
                return nn_err_set(e, NN_ERR_FORMAT, "node %s (%s): pad %lld out of range 0..%d",
                                  node->name, op, (long long)pads[i], NN_GEOM_MAX);
        g->pt = pads[0];
        g->pl = pads[1];
        g->pb = pads[2];
        g->pr = pads[3];
    }
    g->ceil_mode = (int)nn_node_get_int(node, "ceil_mode", 0);
    if (g->ceil_mode != 0 && g->ceil_mode != 1)
        return nn_err_set(e, NN_ERR_FORMAT, "node %s (%s): ceil_mode %d not 0/1", node->name, op,
                          g->ceil_mode);
    if (!allow_ceil && g->ceil_mode)
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "node %s (%s): ceil_mode not supported", node->name, op);
    return NN_OK;
}

/* Output size along one axis; <= 0 when no window fits. Ceil mode follows
 * ONNX/PyTorch: the last window must start inside the input or the begin
 * padding. */
static inline int64_t nn_geom_out_dim(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb,
                                      int64_t pe, int ceil_mode)
{
    int64_t span = in + pb + pe - d * (k - 1) - 1;
    int64_t o;
    if (span < 0)
        return 0;
    o = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (o - 1) * s >= in + pb)
        o--;
    return o;
}

/* Sets g->ih, iw, oh, ow for an input of ih x iw; rejects empty outputs. */
static inline nn_status nn_geom2d_output(nn_geom2d *g, const nn_node *node, const char *op,
                                         int64_t ih, int64_t iw, nn_err *e)
{
    g->ih = ih;
    g->iw = iw;
    g->oh = nn_geom_out_dim(ih, g->kh, g->sh, g->dh, g->pt, g->pb, g->ceil_mode);
    g->ow = nn_geom_out_dim(iw, g->kw, g->sw, g->dw, g->pl, g->pr, g->ceil_mode);
    if (g->oh <= 0 || g->ow <= 0)
        return nn_err_set(e, NN_ERR_SHAPE, "node %s (%s): %lldx%lld input gives an empty %lldx%lld output",
                          node->name, op, (long long)ih, (long long)iw, (long long)g->oh,
                          (long long)g->ow);
    return NN_OK;
}

/* The taps [*k0, *k1) of a window starting at input coordinate `start`
 * (= out * stride - pad_begin) whose input coordinate start + k*d lies in
 * [0, in). Empty range: *k0 >= *k1. */
static inline void nn_geom_taps(int64_t start, int64_t d, int64_t k, int64_t in, int64_t *k0,
                                int64_t *k1)
{
    int64_t lo = 0, hi;
    if (start < 0)
        lo = (-start + d - 1) / d;
    if (start > in - 1)
        hi = 0;
    else
        hi = (in - 1 - start) / d + 1;
    *k0 = lo;
    *k1 = hi < k ? hi : k;
}

/* The outputs [*o0, *o1) of [0, nout) whose whole window lies in [0, in):
 * the interior where kernels need no bounds checks. */
static inline void nn_geom_interior(int64_t nout, int64_t s, int64_t pad, int64_t d, int64_t k,
                                    int64_t in, int64_t *o0, int64_t *o1)
{
    int64_t ext = d * (k - 1) + 1;
    int64_t lo = (pad + s - 1) / s;             /* o*s - pad >= 0 */
    int64_t hi;                                 /* o*s - pad + ext <= in */
    if (in + pad - ext < 0)
        hi = 0;
    else
        hi = (in + pad - ext) / s + 1;
    if (hi > nout)
        hi = nout;
    if (lo > hi)
        lo = hi;
    *o0 = lo;
    *o1 = hi;
}

/* 4-lane float vectors (GCC/Clang vector extension: SSE on baseline
 * x86-64, generic code elsewhere). The -O2 build does not auto-vectorise
 * loops of unknown trip count, so the hot loops of the kernels use these.
 * Loads and stores go through memcpy (any alignment). Every lane
 * operation equals the scalar tail's, so results do not depend on n. */
typedef float nn_f4 __attribute__((vector_size(16)));
typedef int32_t nn_i4 __attribute__((vector_size(16)));

static inline nn_f4 nn_f4_load(const float *p)
{
    nn_f4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void nn_f4_store(float *p, nn_f4 v)
{
    memcpy(p, &v, sizeof v);
}

static inline nn_f4 nn_f4_set1(float a)
{
    return (nn_f4){a, a, a, a};
}

/* {p[0], p[s], p[2s], p[3s]}: one load for s == 1, a gather otherwise. */
static inline nn_f4 nn_f4_gather(const float *p, int64_t s)
{
    return s == 1 ? nn_f4_load(p) : (nn_f4){p[0], p[s], p[2 * s], p[3 * s]};
}

/* {p[0], p[2], p[4], p[6]}: stride-2 columns from two loads and a shuffle. */
static inline nn_f4 nn_f4_even(const float *p)
{
    nn_f4 lo = nn_f4_load(p), hi = nn_f4_load(p + 4);
#if defined(__clang__)
    return __builtin_shufflevector(lo, hi, 0, 2, 4, 6);
#else
    return __builtin_shuffle(lo, hi, (nn_i4){0, 2, 4, 6});
#endif
}

/* Lane-wise m ? a : b for a comparison mask m. */
static inline nn_f4 nn_f4_select(nn_i4 m, nn_f4 a, nn_f4 b)
{
    return (nn_f4)(((nn_i4)a & m) | ((nn_i4)b & ~m));
}

/* Lane-wise a > b ? a : b (b where either is NaN): one maxps on x86. */
static inline nn_f4 nn_f4_max(nn_f4 a, nn_f4 b)
{
#if defined(__SSE__) && !defined(__clang__)
    return __builtin_ia32_maxps(a, b);
#else
    return nn_f4_select(a > b, a, b);
#endif
}

/* x[0..n) = act(x + bias): the one pass of the fused store. */
static inline void nn_store_bias_act(float *x, int64_t n, float bias, const nn_act_params *a)
{
    nn_f4 vb = nn_f4_set1(bias), lo = nn_f4_set1(a->lo), hi = nn_f4_set1(a->hi);
    nn_f4 zero = nn_f4_set1(0.0f);
    int64_t i = 0;
    switch (a->act) {
    case NN_ACT_RELU:
        for (; i + 4 <= n; i += 4) {
            nn_f4 v = nn_f4_load(x + i) + vb;
            nn_f4_store(x + i, nn_f4_select(v > zero, v, zero));
        }
        for (; i < n; i++) {
            float v = x[i] + bias;
            x[i] = v > 0.0f ? v : 0.0f;
        }
        break;
    case NN_ACT_CLIP:
        for (; i + 4 <= n; i += 4) {
            nn_f4 v = nn_f4_load(x + i) + vb;
            v = nn_f4_select(v < lo, lo, v);
            nn_f4_store(x + i, nn_f4_select(v > hi, hi, v));
        }
        for (; i < n; i++) {
            float v = x[i] + bias;
            v = v < a->lo ? a->lo : v;
            x[i] = v > a->hi ? a->hi : v;
        }
        break;
    case NN_ACT_NONE:
        if (bias == 0.0f)
            break;
        for (; i + 4 <= n; i += 4)
            nn_f4_store(x + i, nn_f4_load(x + i) + vb);
        for (; i < n; i++)
            x[i] += bias;
        break;
    }
}

/* y[0..n) = a * x[0..n) */
static inline void nn_row_scale(float *y, const float *x, float a, int64_t n)
{
    nn_f4 va = nn_f4_set1(a);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        nn_f4_store(y + i, va * nn_f4_load(x + i));
    for (; i < n; i++)
        y[i] = a * x[i];
}

/* A batch of row-major products C_b = alpha * op(A_b) op(B_b) [+ epilogue],
 * C_b [M, N] with leading dimension ldc, op(A) [M, K], op(B) [K, N].
 * Batches: nbatch = prod(bdim[0..bnd)); the batch index unravelled over
 * bdim gives element offsets sum(idx[i] * astride[i]) into A and
 * sum(idx[i] * bstride[i]) into B (0 strides broadcast); C_b starts at
 * b * cstride. Epilogue on each stored element C[m, n]:
 * C = act(C + beta * bias[m * bias_rs + n * bias_cs]) (bias may be NULL).
 * kernel, scratch and prep: set by nn_gemm_job_bind from what
 * nn_gemm_job_prepare made (NULL / unset before). */
typedef struct nn_gemm_job {
    int trans_a, trans_b;
    int64_t M, N, K;
    float alpha;
    const float *A;
    int64_t lda;
    const float *B;
    int64_t ldb;
    float *C;
    int64_t ldc;
    int bnd;
    int64_t bdim[NN_MAX_DIMS], astride[NN_MAX_DIMS], bstride[NN_MAX_DIMS];
    int64_t cstride;
    const float *bias;
    int64_t bias_rs, bias_cs;
    float beta;
    nn_act_params act;
    const struct nn_sgemm_kernel *kernel;
    float *scratch;
    const void *prep;           /* layout and operands prepared at prepare */
} nn_gemm_job;

/* The three steps of an op that runs a job (defined in gemm_job.c):
 * prepare picks the micro-kernel (an SCANLITE_ISA error is reported here)
 * and the layout, packs or transposes once an operand that is a constant
 * (non-NULL data at prepare: weights) when the layout needs it so, sizes
 * the scratch for the rest and stores it all in *state (free with
 * nn_gemm_job_release); bind sets a job's kernel, scratch and prep from
 * the ctx at run. */
nn_status nn_gemm_job_prepare(nn_gemm_job *job, void **state, size_t *scratch_bytes, nn_err *e);
void nn_gemm_job_release(void *state);
void nn_gemm_job_bind(nn_gemm_job *job, const nn_op_ctx *ctx);

/* Runs the job with our sgemm (nn/kernels/sgemm.h) on tiles of the
 * product spread over the pool's threads. K is never split, and the tiling
 * does not depend on the thread count, so results do not either. */
void nn_gemm_job_run(const nn_gemm_job *job, nn_pool *pool);

#endif
