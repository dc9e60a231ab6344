/* nn_gradcam_back.c — the backward step of each Grad-CAM head op (see
 * nn_gradcam_priv.h): given d score / dy, d score / dx for Gemm and MatMul
 * (constant weights) and a bias Add (fused activations masked by the kept
 * output), Relu / Clip / LeakyRelu, the pure index maps (Flatten, Reshape,
 * Dropout, Identity, Transpose) and the pools (MaxPool routes to the first
 * maximum of each window as PyTorch does, recomputed from the kept input;
 * AveragePool and GlobalAveragePool spread evenly). Shapes were checked by
 * the plan, so the steps cannot fail. Plain loops in a fixed order. */
#include <math.h>
#include <string.h>

#include "nn_gradcam_priv.h"
#include "nn_ops.h"
#include "ops/op_util.h"

int gc_step_keep(const nn_graph *g, const gc_step *s, int *keep)
{
    const nn_node *n = &g->nodes[s->node];
    switch (n->op) {
    case NN_OP_RELU:
    case NN_OP_CLIP:
        keep[0] = s->y;
        return 1;
    case NN_OP_LEAKYRELU:
    case NN_OP_MAXPOOL:
        keep[0] = s->x;
        return 1;
    case NN_OP_GEMM:
    case NN_OP_MATMUL:
    case NN_OP_ADD:
        if (nn_act_from_node(n).act == NN_ACT_NONE)
            return 0;
        keep[0] = s->y;
        return 1;
    default:
        return 0;
    }
}

/* gy *= d act / d pre-activation, read from the activation's output y. */
static void mask_act(const nn_act_params *a, const float *y, float *gy, int64_t n)
{
    if (a->act == NN_ACT_RELU) {
        for (int64_t i = 0; i < n; i++)
            gy[i] = y[i] > 0.0f ? gy[i] : 0.0f;
    } else if (a->act == NN_ACT_CLIP) {
        /* as PyTorch's hardtanh (ReLU6): zero at and beyond the bounds */
        for (int64_t i = 0; i < n; i++)
            gy[i] = y[i] > a->lo && y[i] < a->hi ? gy[i] : 0.0f;
    }
}

/* Gemm: y = alpha * op(A) op(B) + beta * C; gA = alpha * gy op(B)^T laid
 * out as A ([M, K], or [K, M] with transA). */
static void back_gemm(const nn_node *n, const nn_tensor *x, const nn_tensor *w, float *gy,
                      float *gx)
{
    int ta = (int)nn_node_get_int(n, "transA", 0), tb = (int)nn_node_get_int(n, "transB", 0);
    float alpha = nn_node_get_float(n, "alpha", 1.0f);
    int64_t M = ta ? x->shape.d[1] : x->shape.d[0], K = ta ? x->shape.d[0] : x->shape.d[1];
    int64_t N = tb ? w->shape.d[0] : w->shape.d[1];
    for (int64_t m = 0; m < M; m++) {
        const float *g = gy + m * N;
        for (int64_t k = 0; k < K; k++) {
            float s = 0.0f;
            if (tb) {               /* B [N, K]: column k, stride K */
                for (int64_t j = 0; j < N; j++)
                    s += g[j] * w->data[j * K + k];
            } else {                /* B [K, N]: row k */
                const float *wr = w->data + k * N;
                for (int64_t j = 0; j < N; j++)
                    s += g[j] * wr[j];
            }
            gx[ta ? k * M + m : m * K + k] = alpha * s;
        }
    }
}

/* MatMul with a constant [K, N]: every row r of x [..., K] gets gy[r] W^T. */
static void back_matmul(const nn_tensor *x, const nn_tensor *w, const float *gy, float *gx)
{
    int64_t K = w->shape.d[0], N = w->shape.d[1];
    int64_t rows = nn_shape_numel(&x->shape) / K;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t k = 0; k < K; k++) {
            const float *wr = w->data + k * N, *g = gy + r * N;
            float s = 0.0f;
            for (int64_t j = 0; j < N; j++)
                s += g[j] * wr[j];
            gx[r * K + k] = s;
        }
}

/* Output dim j is input dim perm[j]: gx[in index] = gy[out index]. */
static void back_transpose(const nn_node *n, const nn_tensor *x, const nn_tensor *y,
                           const float *gy, float *gx)
{
    int r = x->shape.ndim, perm[NN_MAX_DIMS];
    int64_t p[NN_MAX_DIMS], in_stride[NN_MAX_DIMS], idx[NN_MAX_DIMS] = {0};
    int64_t total = nn_shape_numel(&y->shape);
    int np = nn_node_get_ints(n, "perm", p, NN_MAX_DIMS);
    for (int j = 0; j < r; j++)
        perm[j] = np == r ? (int)p[j] : r - 1 - j;
    in_stride[r - 1] = 1;
    for (int j = r - 2; j >= 0; j--)
        in_stride[j] = in_stride[j + 1] * x->shape.d[j + 1];
    for (int64_t o = 0; o < total; o++) {
        int64_t off = 0;
        for (int j = 0; j < r; j++)
            off += idx[j] * in_stride[perm[j]];
        gx[off] = gy[o];
        for (int j = r - 1; j >= 0; j--) {      /* next output index */
            if (++idx[j] < y->shape.d[j])
                break;
            idx[j] = 0;
        }
    }
}

static void back_maxpool(const nn_node *n, const nn_tensor *x, const float *gy, float *gx)
{
    nn_geom2d g;
    int64_t planes = x->shape.d[0] * x->shape.d[1];
    nn_geom2d_parse(n, "MaxPool", 0, 0, 1, 1, &g, NULL);
    nn_geom2d_output(&g, n, "MaxPool", x->shape.d[2], x->shape.d[3], NULL);
    memset(gx, 0, (size_t)nn_shape_numel(&x->shape) * sizeof *gx);
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = x->data + pl * g.ih * g.iw;
        float *gp = gx + pl * g.ih * g.iw;
        for (int64_t oy = 0; oy < g.oh; oy++)
            for (int64_t ox = 0; ox < g.ow; ox++) {
                int64_t ky0, ky1, kx0, kx1, best = -1;
                int64_t iy0 = oy * g.sh - g.pt, ix0 = ox * g.sw - g.pl;
                float m = -INFINITY;
                nn_geom_taps(iy0, g.dh, g.kh, g.ih, &ky0, &ky1);
                nn_geom_taps(ix0, g.dw, g.kw, g.iw, &kx0, &kx1);
                for (int64_t ky = ky0; ky < ky1; ky++)
                    for (int64_t kx = kx0; kx < kx1; kx++) {
                        int64_t i = (iy0 + ky * g.dh) * g.iw + ix0 + kx * g.dw;
                        if (best < 0 || xp[i] > m) {
                            m = xp[i];
                            best = i;
                        }
                    }
                if (best >= 0)
                    gp[best] += gy[(pl * g.oh + oy) * g.ow + ox];
            }
    }
}

/* Taps of the window [start, start + k) that count towards AveragePool's
 * divisor along one axis (as op_avgpool.c, PyTorch's avg_pool2d). */
static int64_t avg_count(int64_t start, int64_t k, int64_t in, int64_t pe, int include_pad)
{
    int64_t lo = start, hi = start + k;
    if (include_pad) {
        hi = hi < in + pe ? hi : in + pe;
    } else {
        lo = lo > 0 ? lo : 0;
        hi = hi < in ? hi : in;
    }
    return hi > lo ? hi - lo : 0;
}

static void back_avgpool(const nn_node *n, const nn_tensor *x, const float *gy, float *gx)
{
    nn_geom2d g;
    int inc = (int)nn_node_get_int(n, "count_include_pad", 0);
    int64_t planes = x->shape.d[0] * x->shape.d[1];
    nn_geom2d_parse(n, "AveragePool", 0, 0, 0, 1, &g, NULL);
    nn_geom2d_output(&g, n, "AveragePool", x->shape.d[2], x->shape.d[3], NULL);
    memset(gx, 0, (size_t)nn_shape_numel(&x->shape) * sizeof *gx);
    for (int64_t pl = 0; pl < planes; pl++) {
        float *gp = gx + pl * g.ih * g.iw;
        for (int64_t oy = 0; oy < g.oh; oy++)
            for (int64_t ox = 0; ox < g.ow; ox++) {
                int64_t iy0 = oy * g.sh - g.pt, ix0 = ox * g.sw - g.pl, ky0, ky1, kx0, kx1;
                int64_t cnt = avg_count(iy0, g.kh, g.ih, g.pb, inc) *
                              avg_count(ix0, g.kw, g.iw, g.pr, inc);
                float v;
                if (cnt <= 0)
                    continue;
                v = gy[(pl * g.oh + oy) * g.ow + ox] / (float)cnt;
                nn_geom_taps(iy0, 1, g.kh, g.ih, &ky0, &ky1);
                nn_geom_taps(ix0, 1, g.kw, g.iw, &kx0, &kx1);
                for (int64_t ky = ky0; ky < ky1; ky++)
                    for (int64_t kx = kx0; kx < kx1; kx++)
                        gp[(iy0 + ky) * g.iw + ix0 + kx] += v;
            }
    }
}

void gc_step_backward(const nn_graph *g, const nn_plan *p, const gc_step *s, float *gy,
                      float *gx)
{
    const nn_node *n = &g->nodes[s->node];
    const nn_tensor *x = nn_plan_value(p, s->x), *y = nn_plan_value(p, s->y);
    int64_t nx = nn_shape_numel(&x->shape), ny = nn_shape_numel(&y->shape);
    nn_act_params a = nn_act_from_node(n);

    switch (n->op) {
    case NN_OP_GEMM:
        mask_act(&a, y->data, gy, ny);
        back_gemm(n, x, nn_plan_value(p, n->inputs[1]), gy, gx);
        break;
    case NN_OP_MATMUL:
        mask_act(&a, y->data, gy, ny);
        back_matmul(x, nn_plan_value(p, n->inputs[1]), gy, gx);
        break;
    case NN_OP_ADD:         /* bias add: the data operand has y's shape */
        mask_act(&a, y->data, gy, ny);
        memcpy(gx, gy, (size_t)nx * sizeof *gx);
        break;
    case NN_OP_RELU:
        a.act = NN_ACT_RELU;
        mask_act(&a, y->data, gy, ny);
        memcpy(gx, gy, (size_t)nx * sizeof *gx);
        break;
    case NN_OP_CLIP:
        a.act = NN_ACT_CLIP;
        a.lo = nn_node_get_float(n, "min", -INFINITY);
        a.hi = nn_node_get_float(n, "max", INFINITY);
        mask_act(&a, y->data, gy, ny);
        memcpy(gx, gy, (size_t)nx * sizeof *gx);
        break;
    case NN_OP_LEAKYRELU: {
        float slope = nn_node_get_float(n, "alpha", 0.01f);
        for (int64_t i = 0; i < nx; i++)
            gx[i] = x->data[i] > 0.0f ? gy[i] : slope * gy[i];
        break;
    }
    case NN_OP_TRANSPOSE:
        back_transpose(n, x, y, gy, gx);
        break;
    case NN_OP_MAXPOOL:
        back_maxpool(n, x, gy, gx);
        break;
    case NN_OP_AVGPOOL:
        back_avgpool(n, x, gy, gx);
        break;
    case NN_OP_GLOBALAVGPOOL: {
        int64_t planes = x->shape.d[0] * x->shape.d[1], hw = nx / (planes ? planes : 1);
        for (int64_t c = 0; c < planes; c++)
            for (int64_t i = 0; i < hw; i++)
                gx[c * hw + i] = gy[c] / (float)hw;
        break;
    }
    default:            /* Flatten, Reshape, Dropout, Identity: same order */
        memcpy(gx, gy, (size_t)nx * sizeof *gx);
        break;
    }
}
