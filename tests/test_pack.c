/* test_pack.c — precomputed conv weights (nn_pack.h): nn_graph_pack gives
 * every Winograd-eligible Conv (stride 1 and 2) its transformed weights as
 * a packed last input; a packed graph computes bit-identical outputs to
 * the unpacked one (1 and 2 threads, batch 1 and 3; packed and run on
 * every pair of ISAs this CPU has), survives a write/read through the
 * .slm format, does not change the parameter count, is not packed twice,
 * and a packed input of the wrong shape or tag is refused when planning. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graph_build.h"
#include "io/io_slm.h"
#include "nn/kernels/sgemm.h"
#include "nn/nn_ops.h"
#include "nn/nn_pack.h"
#include "nn/nn_plan.h"
#include "tests/tassert.h"

/* x [N, 32, 28, 28] -> conv 3x3 pad 1 (Winograd F(4x4)) + bias + relu ->
 * c1; conv 3x3 pad 1 no bias (Winograd F(4x4)) + residual x -> c2; conv
 * 3x3 stride 2 pad 1 (Winograd F(2x2) at stride 2: U [25, 16, 32]) -> c3
 * [N, 16, 14, 14]; conv 3x3 pad 1 + Clip (Winograd F(2x2), kept under
 * Clip) -> y. */
static nn_graph *pack_graph(void)
{
    nn_err e;
    nn_graph *g = nn_graph_create();
    nn_shape xs = nn_shape4(NN_DIM_BATCH, 32, 28, 28);
    int64_t bd[1] = {32}, pads[4] = {1, 1, 1, 1}, st[2] = {2, 2};
    int in[4];
    tg_rng = 3u;
    in[0] = nn_graph_add_input(g, "x", &xs, &e);
    in[1] = tg_const_rand(g, "c1.w", nn_shape4(32, 32, 3, 3), -0.2f, 0.2f);
    in[2] = tg_const_rand(g, "c1.b", nn_shape_make(1, bd), -0.5f, 0.5f);
    int c1 = tg_node(g, NN_OP_CONV, "c1", in, 3);
    nn_node_set_ints(&g->nodes[g->n_nodes - 1], "pads", pads, 4);
    nn_node_set_int(&g->nodes[g->n_nodes - 1], "fused_act", NN_ACT_RELU);
    int x = in[0];
    in[0] = c1;
    in[1] = tg_const_rand(g, "c2.w", nn_shape4(32, 32, 3, 3), -0.2f, 0.2f);
    in[2] = -1;
    in[3] = x;
    int c2 = tg_node(g, NN_OP_CONV, "c2", in, 4);
    nn_node_set_ints(&g->nodes[g->n_nodes - 1], "pads", pads, 4);
    in[0] = c2;
    in[1] = tg_const_rand(g, "c3.w", nn_shape4(16, 32, 3, 3), -0.2f, 0.2f);
    int c3 = tg_node(g, NN_OP_CONV, "c3", in, 2);
    nn_node_set_ints(&g->nodes[g->n_nodes - 1], "strides", st, 2);
    nn_node_set_ints(&g->nodes[g->n_nodes - 1], "pads", pads, 4);
    in[0] = c3;
    in[1] = tg_const_rand(g, "c4.w", nn_shape4(16, 16, 3, 3), -0.2f, 0.2f);
    int y = tg_node(g, NN_OP_CONV, "c4", in, 2);
    nn_node_set_ints(&g->nodes[g->n_nodes - 1], "pads", pads, 4);
    nn_node_set_int(&g->nodes[g->n_nodes - 1], "fused_act", NN_ACT_CLIP);
    nn_node_set_float(&g->nodes[g->n_nodes - 1], "fused_min", -0.5f);
    nn_node_set_float(&g->nodes[g->n_nodes - 1], "fused_max", 0.5f);
    nn_graph_add_output(g, y, &e);
    return g;
}

/* Output 0 of g for a fixed input; NULL on failure (message in e). */
static float *run(const nn_graph *g, int batch, int threads, int reference, int64_t *n, nn_err *e)
{
    nn_plan *p = NULL;
    nn_plan_opts o;
    float *out = NULL;
    memset(&o, 0, sizeof o);
    o.threads = threads;
    o.reference = reference;
    if (nn_plan_create(g, batch, &o, &p, e) != NN_OK)
        return NULL;
    nn_tensor *t = nn_plan_input(p, 0);
    unsigned s = 42u;
    for (int64_t j = 0; j < nn_shape_numel(&t->shape); j++) {
        s = s * 1664525u + 1013904223u;
        t->data[j] = ((float)((s >> 8) & 0xffff) / 32768.0f) - 1.0f;
    }
    if (nn_plan_run(p, e) == NN_OK) {
        const nn_tensor *y = nn_plan_output(p, 0);
        *n = nn_shape_numel(&y->shape);
        out = malloc((size_t)*n * sizeof(float));
        memcpy(out, y->data, (size_t)*n * sizeof(float));
    }
    nn_plan_free(p);
    return out;
}

/* Whether a and b (n floats) are bit for bit the same. */
static int same_bits(const float *a, const float *b, int64_t n)
{
    return a && b && memcmp(a, b, (size_t)n * sizeof(float)) == 0;
}

/* Runs plain and packed at batch 1 and 3, 1 and 2 threads: identical. */
static int check_identical(const nn_graph *plain, const nn_graph *packed, const char *label)
{
    int bad = 0;
    for (int batch = 1; batch <= 3; batch += 2)
        for (int threads = 1; threads <= 2; threads++) {
            nn_err e;
            int64_t na = 0, nb = 0;
            float *a = run(plain, batch, threads, 0, &na, &e);
            float *b = run(packed, batch, threads, 0, &nb, &e);
            int ok = na == nb && na > 0 && same_bits(a, b, na);
            T_CHECKF(ok, "%s: batch %d threads %d: packed output differs (%s)", label, batch,
                     threads, e.msg);
            bad += !ok;
            free(a);
            free(b);
        }
    return bad;
}

static void test_pack_identical(void)
{
    nn_err e;
    nn_graph *plain = pack_graph(), *packed = pack_graph();
    int n = -1;
    int64_t params = nn_graph_param_count(plain);
    T_CHECKF(nn_graph_validate(plain, &e) == NN_OK && nn_graph_validate(packed, &e) == NN_OK,
             "%s", e.msg);
    T_CHECKF(nn_graph_pack(packed, &n, &e) == NN_OK, "%s", e.msg);
    T_CHECKF(n == 4, "%d convs packed (want all four)", n);
    T_CHECK(nn_graph_param_count(packed) == params);
    for (int i = 0; i < 4; i++) {
        const nn_node *c = &packed->nodes[i];
        int pi = nn_op_packed_input(NN_OP_CONV);
        int64_t m = nn_node_get_int(c, "packed", 0), o = i < 2 ? 32 : 16, ch = i < 3 ? 32 : 16;
        int64_t pos = i == 2 ? 25 : (m + 2) * (m + 2);
        T_CHECK(pi == 4 && c->n_inputs == 5 && c->inputs[pi] >= 0);
        T_CHECKF(m == (i < 2 ? 4 : 2), "conv %d packed for F(%lldx%lld)", i, (long long)m,
                 (long long)m);
        if (c->n_inputs == 5 && c->inputs[pi] >= 0) {
            const nn_shape *s = &packed->values[c->inputs[pi]].shape;
            T_CHECKF(s->ndim == 3 && s->d[0] == pos && s->d[1] == o && s->d[2] == ch,
                     "conv %d: U [%lld, %lld, %lld]", i, (long long)s->d[0], (long long)s->d[1],
                     (long long)s->d[2]);
        }
    }
    /* c1 had no residual: input 3 is absent (-1) */
    T_CHECK(packed->nodes[0].inputs[3] == -1);
    check_identical(plain, packed, "in memory");
    /* packed on each ISA the CPU has, run on each: a file converted on one
     * machine gives the same numbers on another */
    for (int pisa = 0; pisa < NN_ISA_COUNT; pisa++) {
        if (!nn_isa_supported((nn_isa)pisa))
            continue;
        setenv("SCANLITE_ISA", nn_isa_name((nn_isa)pisa), 1);
        nn_graph *pk = pack_graph();
        T_CHECK(nn_graph_validate(pk, &e) == NN_OK && nn_graph_pack(pk, NULL, &e) == NN_OK);
        for (int risa = 0; risa < NN_ISA_COUNT; risa++) {
            char label[64];
            if (!nn_isa_supported((nn_isa)risa))
                continue;
            setenv("SCANLITE_ISA", nn_isa_name((nn_isa)risa), 1);
            snprintf(label, sizeof label, "packed %s, run %s", nn_isa_name((nn_isa)pisa),
                     nn_isa_name((nn_isa)risa));
            check_identical(plain, pk, label);
        }
        nn_graph_free(pk);
    }
    unsetenv("SCANLITE_ISA");
    /* packing again changes nothing */
    T_CHECK(nn_graph_pack(packed, &n, &e) == NN_OK && n == 0);
    nn_graph_free(plain);
    nn_graph_free(packed);
}

static void test_pack_file(void)
{
    nn_err e;
    nn_graph *plain = pack_graph(), *packed = pack_graph(), *back = NULL;
    char path[] = "/tmp/test_pack_XXXXXX";
    int fd = mkstemp(path);
    T_CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
    T_CHECK(nn_graph_validate(plain, &e) == NN_OK && nn_graph_validate(packed, &e) == NN_OK);
    T_CHECK(nn_graph_pack(packed, NULL, &e) == NN_OK);
    T_CHECKF(io_slm_write(packed, path, &e) == NN_OK, "%s", e.msg);
    T_CHECKF(io_slm_read(path, &back, NULL, &e) == NN_OK, "%s", e.msg);
    if (back) {
        T_CHECK(nn_graph_validate(back, &e) == NN_OK);
        T_CHECK(back->nodes[0].n_inputs == 5 && nn_node_get_int(&back->nodes[0], "packed", 0) > 0);
        check_identical(plain, back, "read back");
        /* reference kernels ignore the packed input */
        int64_t na = 0, nb = 0;
        float *a = run(plain, 1, 1, 1, &na, &e), *b = run(back, 1, 1, 1, &nb, &e);
        T_CHECK(na == nb && na > 0 && same_bits(a, b, na));
        free(a);
        free(b);
        nn_graph_free(back);
    }
    unlink(path);
    nn_graph_free(plain);
    nn_graph_free(packed);
}

/* A packed input that does not match its conv is refused at plan time
 * (case 4: the stride-2 conv's U tagged as F(4x4)). */
static void test_pack_bad(void)
{
    for (int k = 0; k < 5; k++) {
        nn_err e;
        nn_graph *g = pack_graph();
        nn_plan *p = NULL;
        nn_plan_opts o;
        memset(&o, 0, sizeof o);
        o.threads = 1;
        T_CHECK(nn_graph_validate(g, &e) == NN_OK && nn_graph_pack(g, NULL, &e) == NN_OK);
        nn_node *c = &g->nodes[k == 4 ? 2 : 0];
        int64_t m = nn_node_get_int(c, "packed", 0);
        nn_value *u = &g->values[c->inputs[4]];
        if (k == 0)
            nn_node_set_int(c, "packed", m == 2 ? 4 : 2);       /* tag of the other tile */
        else if (k == 1)
            nn_node_set_int(c, "packed", 3);                    /* no such tile */
        else if (k == 2)
            u->shape.d[1] = 16;                                 /* wrong O */
        else if (k == 3)
            c->inputs[4] = c->inputs[0];                        /* not a constant */
        else
            nn_node_set_int(c, "packed", 4);                    /* stride 2 is F(2x2) only */
        nn_status st = nn_plan_create(g, 1, &o, &p, &e);
        T_CHECKF(st != NN_OK && strstr(e.msg, k == 4 ? "c3" : "c1"), "case %d: status %d '%s'", k,
                 st, e.msg);
        nn_plan_free(p);
        if (k == 2)
            u->shape.d[1] = 32;
        nn_graph_free(g);
    }
}

int main(void)
{
    T_RUN(test_pack_identical);
    T_RUN(test_pack_file);
    T_RUN(test_pack_bad);
    return t_summary("test_pack");
}
