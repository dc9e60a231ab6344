/* fuzz_slm.c — libFuzzer target for the .slm reader (io_slm_read_memory).
 * Each input is parsed twice: as given (exercises the header and checksum
 * checks) and with both checksums repaired (so mutations reach the section
 * parsers instead of dying at the index CRC). A file that reads then gets
 * what a server does with a model: optimize, plan at batch 1 on one thread
 * and at batch 2 on two, and run once when the arena is small (fuzz_plan.h).
 * Not named test_* so `make test` does not build it; `make fuzz` does
 * (build-fuzz/). Run from the repository root:
 *
 *   make fuzz
 *   mkdir -p corpus && SLM_SEED_OUT=corpus/seed.slm build/tests/test_slm
 *   ASAN_OPTIONS=allocator_may_return_null=1 build-fuzz/fuzz_slm \
 *       -max_len=65536 -max_total_time=300 corpus
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_slm.h"
#include "io/io_slm_format.h"
#include "tests/fuzz_plan.h"

/* Recomputes the data and index CRCs when the section table is in range. */
static void repair_checksums(uint8_t *b, size_t len)
{
    uint64_t off[SLM_SEC_COUNT], size[SLM_SEC_COUNT];
    if (len < SLM_HEADER_SIZE)
        return;
    for (int s = 0; s < SLM_SEC_COUNT; s++) {
        off[s] = slm_get_u64(b + SLM_OFF_SECTIONS + 16 * s);
        size[s] = slm_get_u64(b + SLM_OFF_SECTIONS + 16 * s + 8);
        if (off[s] > len || size[s] > len - off[s])
            return;
    }
    slm_put_u32(b + SLM_OFF_DATA_CRC,
                io_slm_crc32(0, b + off[SLM_SEC_DATA], (size_t)size[SLM_SEC_DATA]));
    slm_put_u32(b + SLM_OFF_INDEX_CRC, io_slm_index_crc(b, off, size));
}

/* Parses buf; a success must come with a graph, a failure without one.
 * A graph that reads is optimized, planned and run. */
static void parse_once(const uint8_t *buf, size_t len)
{
    nn_graph *g = NULL;
    nn_err e;
    nn_status st = io_slm_read_memory(buf, len, &g, &e);
    if ((st == NN_OK) != (g != NULL))
        abort();
    if (g && nn_graph_optimize(g, &e) == NN_OK) {
        fuzz_plan_run(g, 1, 1, 1);
        fuzz_plan_run(g, 2, 2, 1);
    }
    nn_graph_free(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy;
    parse_once(data, size);
    copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    repair_checksums(copy, size);
    parse_once(copy, size);
    free(copy);
    return 0;
}
