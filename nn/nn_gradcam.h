/* nn_gradcam.h — Grad-CAM of a classifier graph: the class-activation map
 * of the last convolutional feature map before the head.
 *
 * The target is found by walking back from graph output 0 through the head
 * ops (Softmax/Sigmoid at the end; Gemm/MatMul with constant weights, Add
 * of a constant (bias), Relu/Clip/LeakyRelu, Dropout/Identity, Flatten/Reshape/Transpose,
 * MaxPool/AveragePool/GlobalAveragePool): the first value not produced by
 * one of them is the feature map A [1, K, h, w] (for ResNet the output of
 * the last residual block). The gradient of the class score (the value
 * before the final Softmax/Sigmoid) with respect to A is propagated back
 * exactly through the head, with ReLU masks and MaxPool routes taken from
 * the forward activations a dedicated plan keeps alive; then
 * alpha_k = mean over (h, w) of dscore/dA_k and cam = ReLU(sum_k alpha_k A_k).
 * For a GlobalAveragePool + Gemm head this is the exact CAM weighting
 * alpha_k = W[c, k] / (h * w). */
#ifndef NN_GRADCAM_H
#define NN_GRADCAM_H

#include <stdint.h>

#include "nn_graph.h"
#include "nn_plan.h"
#include "nn_status.h"
#include "nn_tensor.h"

/* Longest head (nodes between A and output 0) we walk; real heads have a
 * handful, and the bound keeps the per-node tables small. */
#define NN_GRADCAM_MAX_HEAD 256

typedef struct nn_gradcam_info {
    int target;             /* value index of A in the graph */
    int k, h, w;            /* A is [1, k, h, w] */
    int n_head;             /* head nodes between A and output 0 */
    int64_t n_scores;       /* elements of the class-score tensor */
} nn_gradcam_info;

typedef struct nn_gradcam nn_gradcam;

/* Finds the target and checks every head op can be differentiated, using
 * shape inference only (no plan, no weights touched). g must be validated
 * (normally optimized). NN_ERR_UNSUPPORTED names the op that stops it. */
nn_status nn_gradcam_probe(const nn_graph *g, nn_gradcam_info *info, nn_err *e);

/* Probe plus a batch-1 plan of g (opts: threads and reference; its
 * keep_values are replaced by what the gradients need) and the gradient
 * buffers. g must outlive the result. */
nn_status nn_gradcam_create(const nn_graph *g, const nn_plan_opts *opts, nn_gradcam **out,
                            nn_err *e);
void nn_gradcam_free(nn_gradcam *gc);
const nn_gradcam_info *nn_gradcam_get_info(const nn_gradcam *gc);

/* Runs the network on input [1, C, H, W] (numel floats of graph input 0).
 * The outputs stay readable through nn_gradcam_output until the next run. */
nn_status nn_gradcam_forward(nn_gradcam *gc, const float *input, int64_t numel, nn_err *e);
const nn_tensor *nn_gradcam_output(const nn_gradcam *gc);

/* After nn_gradcam_forward: the map for the score at flat index `score`
 * (0 .. n_scores-1) of the class-score tensor, multiplied by sign (+1, or
 * -1 for the negative class of a single-logit binary head), into
 * cam[h * w] (row-major). No allocation. */
nn_status nn_gradcam_cam(nn_gradcam *gc, int64_t score, float sign, float *cam, nn_err *e);

#endif
