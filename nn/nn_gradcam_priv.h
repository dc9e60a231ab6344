/* nn_gradcam_priv.h — Grad-CAM internals shared by nn_gradcam.c (walk,
 * plan, map) and nn_gradcam_back.c (the backward step of each head op). */
#ifndef NN_GRADCAM_PRIV_H
#define NN_GRADCAM_PRIV_H

#include "nn_gradcam.h"

/* One head node: y = op(x, constants). */
typedef struct gc_step {
    int node;                   /* index into g->nodes */
    int x, y;                   /* data input and output value indices */
} gc_step;

/* The head from graph output 0 down to the feature map. */
typedef struct gc_head {
    int n;
    int first;                  /* 1: steps[0] is the final Softmax/Sigmoid (the
                                   score is its input, so it is skipped) */
    gc_step steps[NN_GRADCAM_MAX_HEAD];     /* steps[0] produces output 0 */
} gc_head;

/* Values step s reads in its backward pass (ReLU masks, MaxPool input):
 * writes at most 2 value indices to keep[]; returns the count. */
int gc_step_keep(const nn_graph *g, const gc_step *s, int *keep);

/* gx = d score / dx from gy = d score / dy for one step, with the step's
 * kept activations read from plan p after a run. gy may be modified (masks
 * are applied in place); gx holds numel(x) floats. No allocation. */
void gc_step_backward(const nn_graph *g, const nn_plan *p, const gc_step *s, float *gy,
                      float *gx);

#endif
