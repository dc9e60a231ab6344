/* graph_build.h — small builders for tests that assemble graphs by hand:
 * a fixed-seed generator, random constants and one-output nodes.
 * Set tg_rng to pick a sequence; the same seed gives the same graph. */
#ifndef GRAPH_BUILD_H
#define GRAPH_BUILD_H

#include <stdio.h>

#include "nn/nn_graph.h"
#include "nn/nn_tensor.h"

static unsigned tg_rng = 1u;

/* Uniform-ish in [-1, 1). */
static inline float tg_rand(void)
{
    tg_rng = tg_rng * 1664525u + 1013904223u;
    return ((float)((tg_rng >> 8) & 0xffff) / 32768.0f) - 1.0f;
}

/* Adds a constant of shape s filled from tg_rand scaled to [lo, hi). */
static inline int tg_const_rand(nn_graph *g, const char *name, nn_shape s, float lo, float hi)
{
    nn_err e;
    int64_t n = nn_shape_numel(&s);
    float *d = nn_aligned_alloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        d[i] = lo + (hi - lo) * 0.5f * (tg_rand() + 1.0f);
    return nn_graph_add_const(g, name, &s, d, 1, &e);
}

/* Adds node `name` (op over in[0..n_in)) with a new output value of the
 * same name; returns the value index (a failure is printed). */
static inline int tg_node(nn_graph *g, int op, const char *name, const int *in, int n_in)
{
    nn_err e;
    int y = nn_graph_add_value(g, name, &e);
    if (!nn_graph_add_node(g, op, name, in, n_in, y, &e))
        fprintf(stderr, "  add_node %s: %s\n", name, e.msg);
    return y;
}

#endif
