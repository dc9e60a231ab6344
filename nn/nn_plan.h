/* nn_plan.h — planning and running a graph for one batch size.
 *
 * Load -> plan -> run -> free. nn_plan_create infers every value's shape
 * for the given batch, prepares each op (packing, scratch), computes value
 * lifetimes and places every activation and each node's scratch in one
 * arena (what is not live at the same node shares memory). nn_plan_run
 * performs no allocation. A plan is used by one thread at a time; several
 * plans may share one graph, which they never modify. */
#ifndef NN_PLAN_H
#define NN_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "nn_graph.h"
#include "nn_pool.h"
#include "nn_status.h"
#include "nn_tensor.h"

typedef struct nn_plan_opts {
    int threads;        /* >= 1; threads of the plan's own pool */
    int reference;      /* 1: run every op's naive reference kernel */
    /* Values whose contents must stay readable after nn_plan_run (they get
     * memory of their own in the arena), e.g. a feature map for Grad-CAM. */
    const int *keep_values;
    int n_keep_values;
} nn_plan_opts;

typedef struct nn_plan nn_plan;

/* g must have passed nn_graph_validate (and optionally nn_graph_optimize)
 * and must outlive the plan. batch >= 1 replaces NN_DIM_BATCH in input
 * shapes (a fixed input dim 0 must equal batch). */
nn_status nn_plan_create(const nn_graph *g, int batch, const nn_plan_opts *opts,
                         nn_plan **out, nn_err *e);
void nn_plan_free(nn_plan *p);

int nn_plan_num_inputs(const nn_plan *p);
int nn_plan_num_outputs(const nn_plan *p);
/* Graph input i: shape set; write numel floats to data before running. */
nn_tensor *nn_plan_input(nn_plan *p, int i);
/* Graph output i: valid after nn_plan_run until the next run. */
const nn_tensor *nn_plan_output(const nn_plan *p, int i);
/* Any value (shape always; data meaningful for constants, inputs, outputs
 * and keep_values after a run). */
const nn_tensor *nn_plan_value(const nn_plan *p, int value_index);

nn_status nn_plan_run(nn_plan *p, nn_err *e);
/* nn_plan_run that also writes the wall-clock time of node k to ms[k]
 * (milliseconds; ms has room for the graph's n_nodes) and, when busy is
 * not NULL, the time thread t of the plan's pool spent running node k's
 * work to busy[k * nn_plan_threads(p) + t] (0: the calling thread; a
 * node's busy times add up to at most threads x its wall time, less when
 * threads wait for one another or the node runs serial work). */
nn_status nn_plan_run_timed(nn_plan *p, double *ms, double *busy, nn_err *e);
/* Threads of the plan's pool (1 for a shapes-only plan). */
int nn_plan_threads(const nn_plan *p);
/* The monotonic clock in milliseconds (the timings above and the API's). */
double nn_now_ms(void);

size_t nn_plan_arena_bytes(const nn_plan *p);
int64_t nn_plan_macs(const nn_plan *p);       /* multiply-accumulates of one run */
int64_t nn_plan_node_macs(const nn_plan *p, int k);   /* of node k in one run */
/* What node k runs: its op's kernel description (nn_op_def.kernel), or
 * "reference" in a reference plan, or NULL when the op does not say. */
const char *nn_plan_node_kernel(const nn_plan *p, int k);

#endif
