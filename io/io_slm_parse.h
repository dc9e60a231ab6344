/* io_slm_parse.h — private to the .slm reader: the parser state shared by
 * io_slm_read.c (header, checksums, entry points) and io_slm_sections.c
 * (metadata, values, nodes and io sections). */
#ifndef IO_SLM_PARSE_H
#define IO_SLM_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "../nn/nn_graph.h"
#include "../nn/nn_status.h"
#include "io_slm_format.h"

/* Section names for messages, indexed by SLM_SEC_*. */
extern const char *const io_slm_sec_name[SLM_SEC_COUNT];

typedef struct slm_parser {
    const uint8_t *base;        /* the whole file */
    size_t len;
    const char *src;            /* file name for messages */
    int zero_copy;              /* 1: constants point into base (64-aligned) */
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
