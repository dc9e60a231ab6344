/* test_pb.c — tests of the protobuf wire reader io_pb: varints (1 to 10
 * bytes, overlong, truncated), every wire type, lengths past the buffer,
 * nested length lies, deprecated groups, invalid wire types and field
 * numbers, the nesting depth limit, packed and unpacked repeated fields. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "io/io_pb.h"
#include "tests/onnx_pbw.h"
#include "tests/tassert.h"

static void test_pb_varint(void)
{
    static const struct {
        uint8_t b[12];
        int len;
        uint64_t v;
        int ok;
    } cases[] = {
        {{0x00}, 1, 0, 1},
        {{0x7f}, 1, 127, 1},
        {{0xac, 0x02}, 2, 300, 1},
        {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10, UINT64_MAX, 1},
        {{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 10, 1ull << 63, 1},
        {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, 10, 0, 0},  /* > 64 bits */
        {{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 11, 0, 0},
        {{0x80}, 1, 0, 0},             /* truncated */
        {{0xac}, 1, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const uint8_t *p = cases[i].b;
        uint64_t v = 12345;
        nn_err e;
        nn_err_clear(&e);
        nn_status st = io_pb_varint(&p, cases[i].b + cases[i].len, &v, &e);
        T_CHECKF((st == NN_OK) == cases[i].ok, "case %zu st %d", i, (int)st);
        if (cases[i].ok) {
            T_CHECKF(v == cases[i].v, "case %zu v %llu", i, (unsigned long long)v);
            T_CHECK(p == cases[i].b + cases[i].len);
        } else {
            T_CHECK(st == NN_ERR_FORMAT && e.msg[0]);
        }
    }
    /* a negative int64 is a 10-byte varint that round-trips */
    pbw w = {.n = 0};
    const uint8_t *p = w.b;
    uint64_t v;
    w_varint(&w, (uint64_t)(int64_t)-5);
    T_CHECK(w.n == 10);
    T_CHECK(io_pb_varint(&p, w.b + w.n, &v, NULL) == NN_OK && (int64_t)v == -5);
}

/* Reads all fields of buf; returns the status of the first failure. */
static nn_status pb_walk(const uint8_t *buf, size_t len, int *count)
{
    io_pb_reader r;
    io_pb_field f;
    nn_err e;
    int rc;
    nn_err_clear(&e);
    io_pb_init(&r, buf, len);
    *count = 0;
    while ((rc = io_pb_next(&r, &f, &e)) == 1)
        (*count)++;
    return rc < 0 ? e.status : NN_OK;
}

static void test_pb_fields(void)
{
    int n;
    /* every wire type once: varint, fixed64, len, fixed32 */
    static const uint8_t good[] = {0x08, 0x96, 0x01, 0x11, 1, 2, 3, 4, 5, 6, 7, 8,
                                   0x1a, 0x03, 'a', 'b', 'c', 0x25, 1, 2, 3, 4};
    T_CHECK(pb_walk(good, sizeof good, &n) == NN_OK && n == 4);
    io_pb_reader r;
    io_pb_field f;
    io_pb_init(&r, good, sizeof good);
    T_CHECK(io_pb_next(&r, &f, NULL) == 1 && f.num == 1 && f.wire == IO_PB_VARINT && f.u == 150);
    T_CHECK(io_pb_next(&r, &f, NULL) == 1 && f.num == 2 && f.u == 0x0807060504030201ull);
    T_CHECK(io_pb_next(&r, &f, NULL) == 1 && f.num == 3 && f.len == 3 && memcmp(f.data, "abc", 3) == 0);
    T_CHECK(io_pb_next(&r, &f, NULL) == 1 && f.num == 4 && f.u == 0x04030201u);
    T_CHECK(io_pb_next(&r, &f, NULL) == 0);

    static const uint8_t len_past[] = {0x0a, 0x05, 'a', 'b'};          /* length beyond buffer */
    static const uint8_t len_huge[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    static const uint8_t wire6[] = {0x0e, 0x00};
    static const uint8_t wire7[] = {0x0f, 0x00};
    static const uint8_t sgroup[] = {0x0b, 0x08, 0x01, 0x0c};        /* group field 1 */
    static const uint8_t egroup[] = {0x0c};
    static const uint8_t field0[] = {0x00, 0x01};
    static const uint8_t fix32_short[] = {0x0d, 1, 2};
    static const uint8_t fix64_short[] = {0x09, 1, 2, 3, 4, 5, 6, 7};
    static const uint8_t tag_trunc[] = {0x80};
    static const uint8_t big_field[] = {0xf8, 0xff, 0xff, 0xff, 0x7f, 0x00};  /* field 2^32-1 */
    T_CHECK(pb_walk(len_past, sizeof len_past, &n) == NN_ERR_FORMAT);
    T_CHECK(pb_walk(len_huge, sizeof len_huge, &n) == NN_ERR_FORMAT);
    T_CHECK(pb_walk(wire6, sizeof wire6, &n) == NN_ERR_FORMAT);
    T_CHECK(pb_walk(wire7, sizeof wire7, &n) == NN_ERR_FORMAT);
    T_CHECK(pb_walk(sgroup, sizeof sgroup, &n) == NN_ERR_UNSUPPORTED);
    T_CHECK(pb_walk(egroup, sizeof egroup, &n) == NN_ERR_UNSUPPORTED);
    T_CHECK(pb_walk(field0, sizeof field0, &n) == NN_ERR_FORMAT);
    T_CHECK(pb_walk(fix32_short, sizeof fix32_short, &n) == NN_ERR_FORMAT);
    T_CHECK(pb_walk(fix64_short, sizeof fix64_short, &n) == NN_ERR_FORMAT);
    T_CHECK(pb_walk(tag_trunc, sizeof tag_trunc, &n) == NN_ERR_FORMAT);
    T_CHECK(pb_walk(big_field, sizeof big_field, &n) == NN_ERR_FORMAT);
    T_CHECK(pb_walk(NULL, 0, &n) == NN_OK && n == 0);

    /* nested length lie: the outer field fits, the inner one claims more */
    static const uint8_t lie[] = {0x0a, 0x04, 0x12, 0x09, 'x', 'y', 0x08, 0x01};
    io_pb_reader c;
    io_pb_init(&r, lie, sizeof lie);
    T_CHECK(io_pb_next(&r, &f, NULL) == 1 && f.len == 4);
    T_CHECK(io_pb_enter(&r, &f, &c, NULL) == NN_OK);
    nn_err e;
    nn_err_clear(&e);
    T_CHECK(io_pb_next(&c, &f, &e) == -1 && e.status == NN_ERR_FORMAT);
    /* entering a non-LEN field is an error */
    io_pb_init(&r, good, sizeof good);
    io_pb_next(&r, &f, NULL);
    T_CHECK(io_pb_enter(&r, &f, &c, NULL) == NN_ERR_FORMAT);
}

static void test_pb_depth(void)
{
    /* 40 messages nested in field 1: the reader must stop at IO_PB_MAX_DEPTH */
    static uint8_t buf[256];
    size_t n = 0, start;
    int depth = 0;
    nn_status st = NN_OK;
    io_pb_reader r, c;
    io_pb_field f;
    /* build from the inside out: payload then wrap 40 times */
    start = sizeof buf;
    buf[--start] = 0x01;
    buf[--start] = 0x08;     /* innermost: field 1 varint 1 */
    n = 2;
    for (int i = 0; i < 40; i++) {
        buf[--start] = (uint8_t)n;      /* n < 128 here */
        buf[--start] = 0x0a;
        n += 2;
    }
    io_pb_init(&r, buf + start, n);
    while (io_pb_next(&r, &f, NULL) == 1 && f.wire == IO_PB_LEN) {
        st = io_pb_enter(&r, &f, &c, NULL);
        if (st != NN_OK)
            break;
        r = c;
        depth++;
    }
    T_CHECKF(st == NN_ERR_LIMIT && depth == IO_PB_MAX_DEPTH, "st %d depth %d", (int)st, depth);
}

static void test_pb_packed(void)
{
    uint64_t out[8];
    size_t cnt, got = 0;
    io_pb_field f = {.num = 1, .wire = IO_PB_LEN};
    static const uint8_t pv[] = {0x01, 0xac, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    f.data = pv;
    f.len = sizeof pv;
    T_CHECK(io_pb_count(&f, IO_PB_VARINT, &cnt, NULL) == NN_OK && cnt == 3);
    T_CHECK(io_pb_values(&f, IO_PB_VARINT, out, 8, &got, NULL) == NN_OK && got == 3);
    T_CHECK(out[0] == 1 && out[1] == 300 && (int64_t)out[2] == -1);
    got = 0;
    T_CHECK(io_pb_values(&f, IO_PB_VARINT, out, 2, &got, NULL) == NN_ERR_LIMIT);
    f.len = 2;   /* cuts the second varint */
    T_CHECK(io_pb_count(&f, IO_PB_VARINT, &cnt, NULL) == NN_ERR_FORMAT);
    static const uint8_t pf[] = {0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 9};
    f.data = pf;
    f.len = 8;
    got = 0;
    T_CHECK(io_pb_values(&f, IO_PB_FIXED32, out, 8, &got, NULL) == NN_OK && got == 2);
    T_CHECK(io_pb_f32((uint32_t)out[0]) == 1.0f && io_pb_f32((uint32_t)out[1]) == 2.0f);
    f.len = 9;
    T_CHECK(io_pb_count(&f, IO_PB_FIXED32, &cnt, NULL) == NN_ERR_FORMAT);
    /* unpacked single values and wrong wire types */
    io_pb_field u = {.num = 2, .wire = IO_PB_VARINT, .u = 7};
    got = 0;
    T_CHECK(io_pb_values(&u, IO_PB_VARINT, out, 8, &got, NULL) == NN_OK && got == 1 && out[0] == 7);
    T_CHECK(io_pb_count(&u, IO_PB_FIXED32, &cnt, NULL) == NN_ERR_FORMAT);
}
int main(void)
{
    T_RUN(test_pb_varint);
    T_RUN(test_pb_fields);
    T_RUN(test_pb_depth);
    T_RUN(test_pb_packed);
    return t_summary("test_pb");
}
