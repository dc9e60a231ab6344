/* io_slm_parse.h — private to the .slm reader: the parser state shared by
 * io_slm_read.c (header, checksums, entry points) and io_slm_sections.c
 * (metadata, values, nodes and io sections). */
#ifndef IO_SLM_PARSE_H
#define IO_SLM_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "../nn/nn_graph.h"
#include "../nn/nn_status.h"
#include "io_slm.h"
#include "io_slm_format.h"

/* Section names for messages, indexed by SLM_SEC_*. */
extern const char *const io_slm_sec_name[SLM_SEC_COUNT];

typedef struct slm_parser {
    const uint8_t *base;        /* the whole file */
    size_t len;
    const char *src;            /* file name for messages */
    int zero_copy;              /* 1: constants point into base (64-aligned) */
    int defer_data_crc;         /* 1: parse_header leaves the data checksum to
                                   the caller (io_slm_read_deferred) */
    nn_graph *g;
    nn_err *e;
    char where[128];            /* "node 17 'layer1.0.conv1'", or "" */
    uint64_t off[SLM_SEC_COUNT], size[SLM_SEC_COUNT];
    uint8_t *kind;              /* [n_values] SLM_KIND_* */
    int n_input_values;         /* values of kind SLM_KIND_INPUT */
    uint64_t const_bytes;       /* sum of constant lengths so far (<= data size) */
    uint8_t *seen;              /* [n_values] scratch marks */
    int64_t *ints;              /* [NN_ATTR_MAX_LIST] attribute scratch */
    float *floats;              /* [NN_ATTR_MAX_LIST] */
} slm_parser;

/* Starts the data checksum of io_slm_read_deferred: CRC-32 of data[0..len)
 * against stored, on a thread (computed here if none can start); src names
 * the file in the message. data must stay mapped until the check is freed. */
nn_status io_slm_check_start(const char *src, const void *data, size_t len, uint32_t stored,
                             io_slm_check **out, nn_err *e);
/* The message of a data checksum mismatch (shared with parse_header). */
nn_status io_slm_data_crc_fail(nn_err *e, const char *src, uint32_t stored, uint32_t crc);

/* Formats "<src>: <where>: <detail>" into ps->e and returns st. */
nn_status io_slm_fail(slm_parser *ps, nn_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Re-reports an nn_err from the graph builder or validator with the
 * file/where prefix (bad-argument statuses become NN_ERR_FORMAT). */
nn_status io_slm_builder_fail(slm_parser *ps, const nn_err *inner);

/* Parses the metadata, values, nodes and io sections (ranges already
 * checked by the header parser) into ps->g. */
nn_status io_slm_parse_sections(slm_parser *ps);

#endif
