/* io_slm_format.h — private to the .slm writer and reader (and their tests
 * and fuzz driver): the byte layout of docs/FORMAT.md as named constants,
 * little-endian field access, CRC-32 and the string rules both sides share.
 * Every multi-byte field is little-endian; nothing here casts file bytes to
 * structs. */
#ifndef IO_SLM_FORMAT_H
#define IO_SLM_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../nn/nn_graph.h"

#define SLM_MAGIC "SCANLITE"            /* 8 bytes, no NUL in the file */
#define SLM_VERSION_MAJOR 1
#define SLM_VERSION_MINOR 0
#define SLM_HEADER_SIZE 128             /* version 1.0 header */
#define SLM_DATA_ALIGN 64               /* constant data alignment (= NN_ALIGN) */

/* Header field offsets (version 1.0). */
#define SLM_OFF_MAGIC 0                 /* u8[8] */
#define SLM_OFF_VMAJOR 8                /* u16 */
#define SLM_OFF_VMINOR 10               /* u16 */
#define SLM_OFF_FLAGS 12                /* u32, must be 0 */
#define SLM_OFF_HEADER_SIZE 16          /* u32 */
#define SLM_OFF_INDEX_CRC 20            /* u32 */
#define SLM_OFF_FILE_SIZE 24            /* u64 */
#define SLM_OFF_DATA_CRC 32             /* u32 */
#define SLM_OFF_RESERVED0 36            /* u32, must be 0 */
#define SLM_OFF_SECTIONS 40             /* SLM_SEC_COUNT x {u64 offset, u64 size} */
#define SLM_OFF_RESERVED1 120           /* u64, must be 0 */

/* Section table order (fixed slots in the header). */
enum {
    SLM_SEC_META = 0,
    SLM_SEC_VALUES = 1,
    SLM_SEC_NODES = 2,
    SLM_SEC_IO = 3,
    SLM_SEC_DATA = 4,
    SLM_SEC_COUNT = 5
};

/* Value kinds and constant dtypes. */
#define SLM_KIND_INTERMEDIATE 0
#define SLM_KIND_INPUT 1
#define SLM_KIND_CONST 2
#define SLM_DTYPE_F32 1

/* Limits of the format beyond those of nn_graph.h / io_slm.h. */
#define SLM_MAX_ATTRS 64                /* attributes per node; ONNX ops use < 16 */
#define SLM_MAX_GRAPH_INPUTS 64         /* CNNs take 1; the graph checks membership
                                           by linear scan, so keep it small */
#define SLM_MAX_GRAPH_OUTPUTS 4096
#define SLM_NAME_MAX_BYTES (NN_NAME_MAX - 1)  /* names: room for the NUL in memory */

static inline uint16_t slm_get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t slm_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static inline uint64_t slm_get_u64(const uint8_t *p)
{
    return (uint64_t)slm_get_u32(p) | ((uint64_t)slm_get_u32(p + 4) << 32);
}

static inline void slm_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void slm_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void slm_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* 1 when the host stores floats little-endian (the only layout the
 * zero-copy constant data supports). */
static inline int slm_host_is_le(void)
{
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
    return __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
#else
    const uint32_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
#endif
}

/* CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320, as zlib's crc32):
 * start with crc = 0, feed chunks: crc = io_slm_crc32(crc, p, n). */
uint32_t io_slm_crc32(uint32_t crc, const void *data, size_t len);

/* CRC the header declares for its index: header bytes [0, SLM_HEADER_SIZE)
 * with the index CRC field read as zero, then the META, VALUES, NODES and
 * IO sections in that order. The caller has checked every range. */
uint32_t io_slm_index_crc(const uint8_t *file, const uint64_t sec_off[SLM_SEC_COUNT],
                          const uint64_t sec_size[SLM_SEC_COUNT]);

/* 1 when s[0..len) is well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, at most U+10FFFF) without a NUL byte. */
int io_slm_utf8_ok(const char *s, size_t len);

#endif
