/* nn_gradcam.c — Grad-CAM (see nn_gradcam.h): the head walk with shape
 * inference (probe), the explain plan that keeps the activations the
 * gradients need, and the map itself from the gradient of the class score
 * with respect to the feature map. The per-op backward steps live in
 * nn_gradcam_back.c. Everything is allocated by nn_gradcam_create; a run
 * allocates nothing and sums in a fixed order (deterministic). */
#include "nn_gradcam.h"

#include <stdlib.h>
#include <string.h>

#include "nn_gradcam_priv.h"
#include "nn_ops.h"

struct nn_gradcam {
    const nn_graph *g;
    nn_gradcam_info info;
    gc_head head;
    nn_plan *plan;              /* owned: batch 1, keeps A and the head's masks */
    float *ga, *gb;             /* [max_numel] gradient ping-pong buffers */
    double *alpha;              /* [k] */
    double *acc;                /* [h * w] */
};

/* The data input of a head node: Add's non-constant operand (a bias add,
 * as ONNX exporters write Dense layers as MatMul + Add), else input 0. */
static int data_input(const nn_graph *g, const nn_node *n)
{
    if (n->op == NN_OP_ADD && n->n_inputs == 2 && n->inputs[0] >= 0 &&
        g->values[n->inputs[0]].is_const)
        return n->inputs[1];
    return n->inputs[0];
}

static int is_head_node(const nn_graph *g, const nn_node *n)
{
    switch (n->op) {
    case NN_OP_ADD:         /* a bias add; a residual Add belongs to the body */
        return n->n_inputs == 2 && n->inputs[0] >= 0 && n->inputs[1] >= 0 &&
               g->values[n->inputs[0]].is_const != g->values[n->inputs[1]].is_const;
    case NN_OP_SOFTMAX: case NN_OP_SIGMOID: case NN_OP_GEMM: case NN_OP_MATMUL:
    case NN_OP_RELU: case NN_OP_CLIP: case NN_OP_LEAKYRELU: case NN_OP_DROPOUT:
    case NN_OP_IDENTITY: case NN_OP_FLATTEN: case NN_OP_RESHAPE: case NN_OP_TRANSPOSE:
    case NN_OP_MAXPOOL: case NN_OP_AVGPOOL: case NN_OP_GLOBALAVGPOOL:
        return 1;
    default:
        return 0;
    }
}

static int is_activation(int op)
{
    return op == NN_OP_RELU || op == NN_OP_CLIP || op == NN_OP_LEAKYRELU;
}

/* Every value's shape for batch 1, by each op's infer (no kernels run). */
static nn_status infer_shapes(const nn_graph *g, nn_shape *sh, nn_err *e)
{
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].is_const)
            sh[v] = g->values[v].shape;
    for (int i = 0; i < g->n_inputs; i++) {
        nn_shape s = g->values[g->inputs[i]].shape;
        if (s.ndim > 0 && s.d[0] == NN_DIM_BATCH)
            s.d[0] = 1;
        sh[g->inputs[i]] = s;
    }
    for (int k = 0; k < g->n_nodes; k++) {
        const nn_node *n = &g->nodes[k];
        const nn_shape *in[NN_MAX_IO];
        const nn_op_def *def = nn_op_get((nn_op_type)n->op);
        nn_status st;
        if (!def || !def->infer || n->n_inputs > NN_MAX_IO)
            return nn_err_set(e, NN_ERR_UNSUPPORTED, "node '%s': op %d has no kernel", n->name,
                              n->op);
        for (int i = 0; i < n->n_inputs; i++)
            in[i] = n->inputs[i] >= 0 ? &sh[n->inputs[i]] : NULL;
        st = def->infer(n, in, n->n_inputs, &sh[n->output], e);
        if (st != NN_OK)
            return st;
    }
    return NN_OK;
}

/* Checks one head node as step number `pos` from the output. */
static nn_status check_step(const nn_graph *g, const nn_node *n, int pos, const nn_shape *sh,
                            nn_err *e)
{
    const char *op = nn_op_name((nn_op_type)n->op);
    int x = data_input(g, n), w = n->n_inputs > 1 ? n->inputs[1] : -1;
    if ((n->op == NN_OP_SOFTMAX || n->op == NN_OP_SIGMOID) && pos != 0)
        return nn_err_set(e, NN_ERR_UNSUPPORTED,
                          "Grad-CAM: %s (node '%s') inside the head is not supported", op, n->name);
    if (x < 0 || g->values[x].is_const)
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "Grad-CAM: %s (node '%s') has a constant data input",
                          op, n->name);
    if (n->op == NN_OP_GEMM || n->op == NN_OP_MATMUL) {
        if (w < 0 || !g->values[w].is_const)
            return nn_err_set(e, NN_ERR_UNSUPPORTED,
                              "Grad-CAM: %s (node '%s') with a non-constant weight is not supported",
                              op, n->name);
        if (n->op == NN_OP_MATMUL && (sh[w].ndim != 2 || sh[x].ndim < 2))
            return nn_err_set(e, NN_ERR_UNSUPPORTED,
                              "Grad-CAM: MatMul (node '%s') must be [..., M, K] x [K, N]", n->name);
    }
    if (n->op == NN_OP_ADD && nn_shape_numel(&sh[x]) != nn_shape_numel(&sh[n->output]))
        return nn_err_set(e, NN_ERR_UNSUPPORTED,
                          "Grad-CAM: Add (node '%s') broadcasts its data input", n->name);
    return NN_OK;
}

/* The walk of nn_gradcam.h; fills info and head. */
static nn_status analyse(const nn_graph *g, nn_gradcam_info *info, gc_head *head, nn_err *e)
{
    nn_shape *sh = NULL;
    int *prod = NULL, v, n = 0;
    nn_status st;

    memset(info, 0, sizeof *info);
    memset(head, 0, sizeof *head);
    if (g->n_outputs < 1 || g->n_inputs < 1)
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "Grad-CAM: the graph has no input or output");
    sh = calloc((size_t)(g->n_values ? g->n_values : 1), sizeof *sh);
    prod = malloc((size_t)(g->n_values ? g->n_values : 1) * sizeof *prod);
    if (!sh || !prod) {
        st = nn_err_set(e, NN_ERR_NOMEM, "Grad-CAM analysis");
        goto done;
    }
    if ((st = infer_shapes(g, sh, e)) != NN_OK)
        goto done;
    for (int i = 0; i < g->n_values; i++)
        prod[i] = -1;
    for (int k = 0; k < g->n_nodes; k++)
        prod[g->nodes[k].output] = k;

    v = g->outputs[0];
    for (;;) {
        int k = prod[v];
        const nn_node *nd;
        if (k < 0) {
            st = nn_err_set(e, NN_ERR_UNSUPPORTED,
                            "Grad-CAM: the head reaches '%s' without a convolutional feature map",
                            g->values[v].name);
            goto done;
        }
        nd = &g->nodes[k];
        if (!is_head_node(g, nd))
            break;
        if (n == NN_GRADCAM_MAX_HEAD) {
            st = nn_err_set(e, NN_ERR_LIMIT, "Grad-CAM: head longer than %d nodes",
                            NN_GRADCAM_MAX_HEAD);
            goto done;
        }
        if ((st = check_step(g, nd, n, sh, e)) != NN_OK)
            goto done;
        head->steps[n].node = k;
        head->steps[n].x = data_input(g, nd);
        head->steps[n].y = nd->output;
        n++;
        v = head->steps[n - 1].x;
    }
    /* An activation applied straight to the feature map belongs to it
     * (the rectified map, as Grad-CAM hooks conv+ReLU blocks). */
    if (n > 0 && is_activation(g->nodes[head->steps[n - 1].node].op) &&
        sh[head->steps[n - 1].y].ndim == 4) {
        n--;
        v = head->steps[n].y;
    }
    if (sh[v].ndim != 4 || sh[v].d[0] != 1 || sh[v].d[1] < 1 || sh[v].d[2] < 1 ||
        sh[v].d[3] < 1 || sh[v].d[1] > INT32_MAX || sh[v].d[2] * sh[v].d[3] > INT32_MAX) {
        const nn_node *nd = &g->nodes[prod[v]];
        st = nn_err_set(e, NN_ERR_UNSUPPORTED,
                        "Grad-CAM: head op %s (node '%s') is not supported (no [1, K, h, w] "
                        "feature map before it)", nn_op_name((nn_op_type)nd->op), nd->name);
        goto done;
    }
    head->n = n;
    head->first = n > 0 && (g->nodes[head->steps[0].node].op == NN_OP_SOFTMAX ||
                            g->nodes[head->steps[0].node].op == NN_OP_SIGMOID);
    info->target = v;
    info->k = (int)sh[v].d[1];
    info->h = (int)sh[v].d[2];
    info->w = (int)sh[v].d[3];
    info->n_head = n;
    info->n_scores = nn_shape_numel(&sh[head->first ? head->steps[0].x : g->outputs[0]]);
    st = NN_OK;
done:
    free(sh);
    free(prod);
    return st;
}

nn_status nn_gradcam_probe(const nn_graph *g, nn_gradcam_info *info, nn_err *e)
{
    gc_head head;
    if (!g || !info)
        return nn_err_set(e, NN_ERR_INVALID, "nn_gradcam_probe: NULL argument");
    return analyse(g, info, &head, e);
}

nn_status nn_gradcam_create(const nn_graph *g, const nn_plan_opts *opts, nn_gradcam **out,
                            nn_err *e)
{
    nn_gradcam *gc;
    nn_plan_opts po;
    int keep[2 * NN_GRADCAM_MAX_HEAD + 1], n_keep = 0;
    int64_t max_n;
    size_t bytes;
    nn_status st;

    if (!out || !g)
        return nn_err_set(e, NN_ERR_INVALID, "nn_gradcam_create: NULL argument");
    *out = NULL;
    gc = calloc(1, sizeof *gc);
    if (!gc)
        return nn_err_set(e, NN_ERR_NOMEM, "Grad-CAM");
    gc->g = g;
    if ((st = analyse(g, &gc->info, &gc->head, e)) != NN_OK)
        goto fail;
    keep[n_keep++] = gc->info.target;
    for (int i = 0; i < gc->head.n; i++)
        n_keep += gc_step_keep(g, &gc->head.steps[i], keep + n_keep);
    memset(&po, 0, sizeof po);
    if (opts) {
        po.threads = opts->threads;
        po.reference = opts->reference;
    }
    po.keep_values = keep;
    po.n_keep_values = n_keep;
    if ((st = nn_plan_create(g, 1, &po, &gc->plan, e)) != NN_OK)
        goto fail;

    max_n = nn_shape_numel(&nn_plan_value(gc->plan, gc->info.target)->shape);
    for (int i = 0; i < gc->head.n; i++) {
        int64_t nx = nn_shape_numel(&nn_plan_value(gc->plan, gc->head.steps[i].x)->shape);
        int64_t ny = nn_shape_numel(&nn_plan_value(gc->plan, gc->head.steps[i].y)->shape);
        max_n = nx > max_n ? nx : max_n;
        max_n = ny > max_n ? ny : max_n;
    }
    if (nn_size_mul((size_t)max_n, sizeof(float), &bytes) != 0) {
        st = nn_err_set(e, NN_ERR_LIMIT, "Grad-CAM: gradient buffers too large");
        goto fail;
    }
    gc->ga = nn_aligned_alloc(bytes);
    gc->gb = nn_aligned_alloc(bytes);
    gc->alpha = calloc((size_t)gc->info.k, sizeof *gc->alpha);
    gc->acc = calloc((size_t)gc->info.h * (size_t)gc->info.w, sizeof *gc->acc);
    if (!gc->ga || !gc->gb || !gc->alpha || !gc->acc) {
        st = nn_err_set(e, NN_ERR_NOMEM, "Grad-CAM buffers");
        goto fail;
    }
    *out = gc;
    return NN_OK;
fail:
    nn_gradcam_free(gc);
    return st;
}

void nn_gradcam_free(nn_gradcam *gc)
{
    if (!gc)
        return;
    nn_plan_free(gc->plan);
    nn_aligned_free(gc->ga);
    nn_aligned_free(gc->gb);
    free(gc->alpha);
    free(gc->acc);
    free(gc);
}

const nn_gradcam_info *nn_gradcam_get_info(const nn_gradcam *gc)
{
    return &gc->info;
}

nn_status nn_gradcam_forward(nn_gradcam *gc, const float *input, int64_t numel, nn_err *e)
{
    nn_tensor *x;
    if (!gc || !input)
        return nn_err_set(e, NN_ERR_INVALID, "nn_gradcam_forward: NULL argument");
    x = nn_plan_input(gc->plan, 0);
    if (nn_shape_numel(&x->shape) != numel)
        return nn_err_set(e, NN_ERR_SHAPE, "Grad-CAM: input has %lld values, the model takes %lld",
                          (long long)numel, (long long)nn_shape_numel(&x->shape));
    memcpy(x->data, input, (size_t)numel * sizeof(float));
    return nn_plan_run(gc->plan, e);
}

const nn_tensor *nn_gradcam_output(const nn_gradcam *gc)
{
    return nn_plan_output(gc->plan, 0);
}

nn_status nn_gradcam_cam(nn_gradcam *gc, int64_t score, float sign, float *cam, nn_err *e)
{
    const nn_gradcam_info *in;
    const float *a;
    float *gy, *gx;
    int64_t n0, hw;
    if (!gc || !cam)
        return nn_err_set(e, NN_ERR_INVALID, "nn_gradcam_cam: NULL argument");
    in = &gc->info;
    if (score < 0 || score >= in->n_scores)
        return nn_err_set(e, NN_ERR_INVALID, "Grad-CAM: score %lld out of range 0..%lld",
                          (long long)score, (long long)in->n_scores - 1);
    /* d score / d (score tensor) is one-hot; then down the head */
    n0 = in->n_scores;
    gy = gc->ga;
    gx = gc->gb;
    memset(gy, 0, (size_t)n0 * sizeof *gy);
    gy[score] = sign;
    for (int i = gc->head.first; i < gc->head.n; i++) {
        float *t;
        gc_step_backward(gc->g, gc->plan, &gc->head.steps[i], gy, gx);
        t = gy;
        gy = gx;
        gx = t;
    }
    /* gy = d score / dA [k, h*w]; alpha_k = its spatial mean */
    hw = (int64_t)in->h * in->w;
    a = nn_plan_value(gc->plan, in->target)->data;
    for (int64_t i = 0; i < hw; i++)
        gc->acc[i] = 0.0;
    for (int k = 0; k < in->k; k++) {
        double s = 0.0;
        const float *ak = a + k * hw;
        for (int64_t i = 0; i < hw; i++)
            s += gy[k * hw + i];
        gc->alpha[k] = s / (double)hw;
        for (int64_t i = 0; i < hw; i++)
            gc->acc[i] += gc->alpha[k] * ak[i];
    }
    for (int64_t i = 0; i < hw; i++)
        cam[i] = gc->acc[i] > 0.0 ? (float)gc->acc[i] : 0.0f;
    return NN_OK;
}
