/* fuzz_convert.c — libFuzzer target for the converter's readers: bytes that
 * start like a PyTorch checkpoint (zip or legacy pickle) go to io_pth_read,
 * the rest to io_onnx_read, as in `scanlite convert`. A model that reads
 * then takes the converter's path: plan at batch 1, optimize, pack, plan
 * again and run once on fixed inputs when its arena is small (so the ops
 * meet the shapes a hostile file can declare). Build and run (`make fuzz`
 * builds every tests/fuzz_*.c into build-fuzz/):
 *
 *   make fuzz
 *   mkdir -p corpus && cp small.onnx small.pth corpus/
 *   ASAN_OPTIONS=allocator_may_return_null=1 build-fuzz/fuzz_convert \
 *       -max_len=400000 -max_total_time=600 -rss_limit_mb=6000 corpus
 */
#include <stdint.h>

#include "io/io_onnx.h"
#include "io/io_pth.h"
#include "nn/nn_pack.h"
#include "tests/fuzz_plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nn_graph *g = NULL;
    nn_err e;
    nn_status st;
    int packed = 0;
    st = io_pth_detect(data, size) ? io_pth_read(data, size, NULL, &g, &e)
                                   : io_onnx_read(data, size, &g, &e);
    if ((st == NN_OK) != (g != NULL))
        __builtin_trap();       /* a success comes with a graph, a failure without */
    if (!g)
        return 0;
    if (g->n_inputs == 1 && g->n_outputs >= 1 && g->values[g->inputs[0]].shape.ndim == 4) {
        fuzz_plan_run(g, 1, 1, 0);
        if (nn_graph_optimize(g, &e) == NN_OK && nn_graph_pack(g, &packed, &e) == NN_OK)
            fuzz_plan_run(g, 1, 1, 1);
    }
    nn_graph_free(g);
    return 0;
}
