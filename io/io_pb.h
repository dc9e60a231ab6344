/* io_pb.h — a small reader for the protobuf wire format (no schema, no
 * library). A reader walks the fields of one message held in memory; nested
 * messages are opened from a length-delimited field with io_pb_enter, which
 * bounds the nesting depth. Every length is checked against what is left of
 * the enclosing message; nothing is copied. Deprecated groups are rejected. */
#ifndef IO_PB_H
#define IO_PB_H

#include <stddef.h>
#include <stdint.h>

#include "../nn/nn_status.h"

/* ONNX nests ModelProto > GraphProto > NodeProto > AttributeProto >
 * TensorProto (+ subgraphs, which we do not read); 32 leaves room and
 * bounds what a hostile file can make us descend into. */
#define IO_PB_MAX_DEPTH 32
#define IO_PB_MAX_VARINT 10         /* bytes of a 64-bit varint */
#define IO_PB_MAX_FIELD ((1u << 29) - 1)

typedef enum io_pb_wire {
    IO_PB_VARINT = 0,
    IO_PB_FIXED64 = 1,
    IO_PB_LEN = 2,
    IO_PB_SGROUP = 3,   /* deprecated: rejected */
    IO_PB_EGROUP = 4,   /* deprecated: rejected */
    IO_PB_FIXED32 = 5,
} io_pb_wire;

/* One message: bytes [p, end). depth 0 is the outermost message. */
typedef struct io_pb_reader {
    const uint8_t *p;
    const uint8_t *end;
    int depth;
} io_pb_reader;

/* One field as read from the wire. */
typedef struct io_pb_field {
    uint32_t num;           /* field number, 1..IO_PB_MAX_FIELD */
    io_pb_wire wire;
    uint64_t u;             /* VARINT, FIXED64 and FIXED32 payload */
    const uint8_t *data;    /* LEN payload (len bytes inside the message) */
    size_t len;
} io_pb_field;

void io_pb_init(io_pb_reader *r, const void *buf, size_t len);

/* Decodes a varint at *p (not past end), advancing *p. NN_ERR_FORMAT when
 * truncated or longer than 10 bytes / 64 bits. */
nn_status io_pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v, nn_err *e);

/* Reads the next field of r. Returns 1 with *f filled, 0 at the end of the
 * message, -1 with e set (NN_ERR_FORMAT: truncation, bad wire type, field
 * number 0, length past the message; NN_ERR_UNSUPPORTED: groups). Unknown
 * fields are skipped by simply not looking at them. */
int io_pb_next(io_pb_reader *r, io_pb_field *f, nn_err *e);

/* Opens LEN field f of parent as a nested message (NN_ERR_FORMAT if f is
 * not LEN, NN_ERR_LIMIT beyond IO_PB_MAX_DEPTH). */
nn_status io_pb_enter(const io_pb_reader *parent, const io_pb_field *f,
                      io_pb_reader *child, nn_err *e);

/* Repeated scalars arrive either one per field (unpacked) or many in one
 * LEN field (packed); these accept both. kind is the element encoding:
 * IO_PB_VARINT, IO_PB_FIXED32 or IO_PB_FIXED64. */

/* Number of elements field f carries (NN_ERR_FORMAT if the wire type does
 * not fit kind or a packed payload is malformed). */
nn_status io_pb_count(const io_pb_field *f, io_pb_wire kind, size_t *count, nn_err *e);

/* Appends f's elements as raw 64-bit values (varints as read, fixed32 in
 * the low 32 bits) to out[*n ..], at most cap in total (NN_ERR_LIMIT). */
nn_status io_pb_values(const io_pb_field *f, io_pb_wire kind, uint64_t *out,
                       size_t cap, size_t *n, nn_err *e);

/* Little-endian loads (explicit, alignment-free). */
uint32_t io_pb_le32(const uint8_t *p);
uint64_t io_pb_le64(const uint8_t *p);
float io_pb_f32(uint32_t bits);
double io_pb_f64(uint64_t bits);

#endif
