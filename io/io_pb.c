/* io_pb.c — protobuf wire-format reader (see io_pb.h). Pure cursor
 * arithmetic over caller memory: every read checks the bytes left in the
 * current message first, so a hostile buffer can only produce an error. */
#include "io_pb.h"

#include <string.h>

void io_pb_init(io_pb_reader *r, const void *buf, size_t len)
{
    r->p = buf;
    r->end = buf ? r->p + len : r->p;   /* no NULL + 0: undefined */
    r->depth = 0;
}

nn_status io_pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v, nn_err *e)
{
    const uint8_t *q = *p;
    uint64_t x = 0;
    for (int i = 0; i < IO_PB_MAX_VARINT; i++) {
        if (q >= end)
            return nn_err_set(e, NN_ERR_FORMAT, "protobuf: truncated varint");
        uint8_t b = *q++;
        /* the 10th byte may only carry the 64th bit */
        if (i == IO_PB_MAX_VARINT - 1 && b > 1)
            return nn_err_set(e, NN_ERR_FORMAT, "protobuf: varint exceeds 64 bits");
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *p = q;
            *v = x;
            return NN_OK;
        }
    }
    return nn_err_set(e, NN_ERR_FORMAT, "protobuf: varint longer than 10 bytes");
}

uint32_t io_pb_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t io_pb_le64(const uint8_t *p)
{
    return (uint64_t)io_pb_le32(p) | (uint64_t)io_pb_le32(p + 4) << 32;
}

float io_pb_f32(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

double io_pb_f64(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

int io_pb_next(io_pb_reader *r, io_pb_field *f, nn_err *e)
{
    uint64_t tag, len;
    if (r->p >= r->end)
        return 0;
    if (io_pb_varint(&r->p, r->end, &tag, e) != NN_OK)
        return -1;
    if (tag >> 3 == 0 || tag >> 3 > IO_PB_MAX_FIELD) {
        nn_err_set(e, NN_ERR_FORMAT, "protobuf: invalid field number %llu",
                   (unsigned long long)(tag >> 3));
        return -1;
    }
    memset(f, 0, sizeof *f);
    f->num = (uint32_t)(tag >> 3);
    f->wire = (io_pb_wire)(tag & 7);
    size_t left = (size_t)(r->end - r->p);
    switch (f->wire) {
    case IO_PB_VARINT:
        if (io_pb_varint(&r->p, r->end, &f->u, e) != NN_OK)
            return -1;
        return 1;
    case IO_PB_FIXED64:
        if (left < 8)
            break;
        f->u = io_pb_le64(r->p);
        r->p += 8;
        return 1;
    case IO_PB_FIXED32:
        if (left < 4)
            break;
        f->u = io_pb_le32(r->p);
        r->p += 4;
        return 1;
    case IO_PB_LEN:
        if (io_pb_varint(&r->p, r->end, &len, e) != NN_OK)
            return -1;
        if (len > (uint64_t)(r->end - r->p)) {
            nn_err_set(e, NN_ERR_FORMAT, "protobuf: field %u length %llu exceeds the %zu bytes left",
                       f->num, (unsigned long long)len, (size_t)(r->end - r->p));
            return -1;
        }
        f->data = r->p;
        f->len = (size_t)len;
        r->p += len;
        return 1;
    case IO_PB_SGROUP:
    case IO_PB_EGROUP:
        nn_err_set(e, NN_ERR_UNSUPPORTED, "protobuf: field %u uses deprecated groups", f->num);
        return -1;
    default:
        nn_err_set(e, NN_ERR_FORMAT, "protobuf: field %u has invalid wire type %d", f->num,
                   (int)f->wire);
        return -1;
    }
    nn_err_set(e, NN_ERR_FORMAT, "protobuf: truncated fixed-size field %u", f->num);
    return -1;
}

nn_status io_pb_enter(const io_pb_reader *parent, const io_pb_field *f,
                      io_pb_reader *child, nn_err *e)
{
    if (f->wire != IO_PB_LEN)
        return nn_err_set(e, NN_ERR_FORMAT, "protobuf: field %u is not a message", f->num);
    if (parent->depth + 1 > IO_PB_MAX_DEPTH)
        return nn_err_set(e, NN_ERR_LIMIT, "protobuf: messages nested deeper than %d",
                          IO_PB_MAX_DEPTH);
    child->p = f->data;
    child->end = f->data + f->len;
    child->depth = parent->depth + 1;
    return NN_OK;
}

/* Walks a packed payload; stores up to cap values in out (out may be NULL
 * to only count). */
static nn_status pb_packed(const io_pb_field *f, io_pb_wire kind, uint64_t *out,
                           size_t cap, size_t *n, nn_err *e)
{
    const uint8_t *p = f->data, *end = f->data + f->len;
    size_t width = kind == IO_PB_FIXED32 ? 4 : 8;
    if (kind != IO_PB_VARINT && f->len % width)
        return nn_err_set(e, NN_ERR_FORMAT, "protobuf: packed field %u length %zu not a multiple of %zu",
                          f->num, f->len, width);
    while (p < end) {
        uint64_t v;
        if (kind == IO_PB_VARINT) {
            nn_status st = io_pb_varint(&p, end, &v, e);
            if (st != NN_OK)
                return st;
        } else {
            v = width == 4 ? io_pb_le32(p) : io_pb_le64(p);
            p += width;
        }
        if (out) {
            if (*n >= cap)
                return nn_err_set(e, NN_ERR_LIMIT, "protobuf: field %u has more than %zu values",
                                  f->num, cap);
            out[*n] = v;
        }
        (*n)++;
    }
    return NN_OK;
}

static int pb_kind_matches(const io_pb_field *f, io_pb_wire kind)
{
    return f->wire == kind || f->wire == IO_PB_LEN;
}

nn_status io_pb_count(const io_pb_field *f, io_pb_wire kind, size_t *count, nn_err *e)
{
    *count = 0;
    if (!pb_kind_matches(f, kind))
        return nn_err_set(e, NN_ERR_FORMAT, "protobuf: field %u has wire type %d, expected %d",
                          f->num, (int)f->wire, (int)kind);
    if (f->wire != IO_PB_LEN) {
        *count = 1;
        return NN_OK;
    }
    if (kind != IO_PB_VARINT) {
        size_t width = kind == IO_PB_FIXED32 ? 4 : 8;
        if (f->len % width)
            return nn_err_set(e, NN_ERR_FORMAT, "protobuf: packed field %u length %zu not a multiple of %zu",
                              f->num, f->len, width);
        *count = f->len / width;
        return NN_OK;
    }
    return pb_packed(f, kind, NULL, 0, count, e);
}

nn_status io_pb_values(const io_pb_field *f, io_pb_wire kind, uint64_t *out,
                       size_t cap, size_t *n, nn_err *e)
{
    if (!pb_kind_matches(f, kind))
        return nn_err_set(e, NN_ERR_FORMAT, "protobuf: field %u has wire type %d, expected %d",
                          f->num, (int)f->wire, (int)kind);
    if (f->wire == IO_PB_LEN)
        return pb_packed(f, kind, out, cap, n, e);
    if (*n >= cap)
        return nn_err_set(e, NN_ERR_LIMIT, "protobuf: field %u has more than %zu values", f->num, cap);
    out[(*n)++] = f->u;
    return NN_OK;
}
