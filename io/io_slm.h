/* io_slm.h — the scanlite model file (.slm): writer and hostile-input
 * reader. The format is specified in docs/FORMAT.md. */
#ifndef IO_SLM_H
#define IO_SLM_H

#include <stddef.h>

#include "../nn/nn_graph.h"
#include "../nn/nn_status.h"

/* Limits on a file we are asked to read (named so the reasons are clear). */
#define IO_SLM_MAX_FILE ((size_t)4 << 30)   /* 4 GiB: larger than any CNN we serve */
#define IO_SLM_MAX_META 4096                /* metadata entries */
#define IO_SLM_MAX_STRING (1u << 20)        /* one metadata value (labels of big datasets) */

/* Writes g (values, nodes, attributes, metadata, constant data) to path,
 * atomically (temporary file + rename). */
nn_status io_slm_write(const nn_graph *g, const char *path, nn_err *e);

/* Reads and fully checks a model file: mmaps it, constants point into the
 * mapping (the graph owns the mapping via g->backing). sha256_hex (65 bytes,
 * may be NULL) receives the SHA-256 of the file bytes. The result has
 * passed nn_graph_validate. */
nn_status io_slm_read(const char *path, nn_graph **out, char *sha256_hex, nn_err *e);

/* ---- deferred weight checksum --------------------------------------------
 * The data section's CRC-32 (tens of MB) is most of a cold load. With
 * io_slm_read_deferred it runs on a thread of its own while the caller
 * goes on (decodes an image, plans, runs the network): everything
 * else is checked before the call returns, and the parser and every kernel
 * are safe on any constant bytes, so reading unchecked weights cannot go
 * wrong beyond wrong numbers. The contract: nothing computed from the
 * graph is reported before io_slm_check_wait returned NN_OK. */
typedef struct io_slm_check io_slm_check;

/* io_slm_read without the SHA-256 whose data checksum is still running:
 * *chk (owned by the caller) must be freed before the graph. */
nn_status io_slm_read_deferred(const char *path, nn_graph **out, io_slm_check **chk, nn_err *e);
/* Lets the checksum start (once: later calls do nothing), on at most
 * threads threads (0: one per CPU the process may use). Until then, or the
 * first io_slm_check_wait, its thread waits: a caller about to decode an
 * image on one CPU and run the network on another starts it with the
 * network, on the CPUs the network leaves free (a checksum beside the
 * JPEG decode slowed that 2x). NULL is a no-op. */
void io_slm_check_go(io_slm_check *chk, int threads);
/* Starts the checksum on every CPU unless io_slm_check_go did, then
 * waits for it: NN_OK when the weights match it, else
 * NN_ERR_FORMAT with io_slm_read's message. Thread-safe; any number of
 * calls give the same answer. */
nn_status io_slm_check_wait(io_slm_check *chk, nn_err *e);
/* Waits for a checksum that started, then frees (one that did not start
 * never runs). NULL is a no-op. */
void io_slm_check_free(io_slm_check *chk);

/* The mapped file bytes behind a graph from io_slm_read (what its
 * constants point into): NN_ERR_INVALID for any other graph. */
nn_status io_slm_bytes(const nn_graph *g, const void **data, size_t *len);

/* Same from memory; constants are copied (the graph does not keep buf). */
nn_status io_slm_read_memory(const void *buf, size_t len, nn_graph **out, nn_err *e);

#endif
