/* fuzz_plan.h — what the fuzz targets do with a model they managed to
 * read: plan it, and run it once on a fixed pattern when its arena is
 * small, so that the ops meet the shapes a hostile file can declare. */
#ifndef FUZZ_PLAN_H
#define FUZZ_PLAN_H

#include <string.h>

#include "nn/nn_graph.h"
#include "nn/nn_plan.h"

/* Runs a plan only below this arena size and multiply-add count: a file
 * may legally declare gigabytes of activations or a pool window of
 * millions of taps, which would only make the fuzzer slow. */
#define FUZZ_MAX_ARENA ((size_t)64 << 20)
#define FUZZ_MAX_MACS ((int64_t)100 * 1000 * 1000)

/* Plans g for batch images on threads threads; with run, runs it once. */
static inline void fuzz_plan_run(const nn_graph *g, int batch, int threads, int run)
{
    nn_plan_opts po;
    nn_plan *p = NULL;
    nn_err e;
    memset(&po, 0, sizeof po);
    po.threads = threads;
    if (nn_plan_create(g, batch, &po, &p, &e) != NN_OK) {
        if (p)
            __builtin_trap();   /* a failure must not hand out a plan */
        return;
    }
    if (run && nn_plan_arena_bytes(p) < FUZZ_MAX_ARENA && nn_plan_macs(p) < FUZZ_MAX_MACS) {
        for (int i = 0; i < nn_plan_num_inputs(p); i++) {
            nn_tensor *in = nn_plan_input(p, i);
            int64_t n = nn_shape_numel(&in->shape);
            for (int64_t k = 0; k < n; k++)
                in->data[k] = (float)(k % 13) * 0.1f - 0.6f;
        }
        (void)nn_plan_run(p, &e);
    }
    nn_plan_free(p);
}

#endif
