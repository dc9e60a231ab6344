/* test_ops_linear.c — Gemm and MatMul kernels: hand-computed outputs that
 * pin the references down, sweeps over shapes, transA/transB, alpha/beta,
 * every broadcastable bias shape, MatMul ranks 1..4 with broadcast batch
 * dims, fused relu/clip, comparing fast kernels with references at 1 and 2
 * threads; shapes past the sgemm blocking on every ISA of the CPU with
 * outputs bitwise equal at 1, 2 and 3 threads; invalid shapes and
 * attributes that infer must reject; MAC counts. */
#include <math.h>
#include <stdlib.h>

#include "nn/kernels/sgemm.h"
#include "op_harness.h"

static void set_act(nn_node *nd, int act)
{
    if (act) {
        nn_node_set_int(nd, "fused_act", act);
        nn_node_set_float(nd, "fused_min", -0.5f);
        nn_node_set_float(nd, "fused_max", 0.75f);
    }
}

/* Plans c's graph and returns nn_plan_macs (-1 on failure). Frees it. */
static int64_t case_macs(oh_case *c)
{
    nn_plan_opts o;
    nn_plan *p = NULL;
    int64_t m = -1;
    memset(&o, 0, sizeof o);
    o.threads = 1;
    oh_node(c);
    if (nn_graph_validate(c->g, &c->err) == NN_OK &&
        nn_plan_create(c->g, c->batch, &o, &p, &c->err) == NN_OK)
        m = nn_plan_macs(p);
    nn_plan_free(p);
    nn_graph_free(c->g);
    return m;
}

/* ---- Gemm ---------------------------------------------------------------- */

typedef struct gemm_cfg {
    int64_t m, k, n;
    int ta, tb;
    int bias;                   /* index into gemm_bias_shape */
    float alpha, beta;
    int act;
} gemm_cfg;

/* Bias shapes: 0 none, 1 [N], 2 [1, N], 3 [M, 1], 4 [M, N], 5 [1], 6 scalar. */
static nn_shape gemm_bias_shape(const gemm_cfg *f)
{
    switch (f->bias) {
    case 1: return nn_shape_make(1, (int64_t[]){f->n});
    case 2: return nn_shape_make(2, (int64_t[]){1, f->n});
    case 3: return nn_shape_make(2, (int64_t[]){f->m, 1});
    case 4: return nn_shape_make(2, (int64_t[]){f->m, f->n});
    case 5: return nn_shape_make(1, (int64_t[]){1});
    default: return nn_shape_make(0, NULL);
    }
}

static oh_case gemm_build(const gemm_cfg *f)
{
    nn_shape as = f->ta ? nn_shape_make(2, (int64_t[]){f->k, f->m})
                        : nn_shape_make(2, (int64_t[]){f->m, f->k});
    nn_shape bs = f->tb ? nn_shape_make(2, (int64_t[]){f->n, f->k})
                        : nn_shape_make(2, (int64_t[]){f->k, f->n});
    nn_shape cs = gemm_bias_shape(f);
    oh_case c = oh_begin(NN_OP_GEMM, &as);
    nn_node *nd;
    oh_const(&c, "b", &bs);
    if (f->bias)
        oh_const(&c, "c", &cs);
    nd = oh_node(&c);
    nn_node_set_int(nd, "transA", f->ta);
    nn_node_set_int(nd, "transB", f->tb);
    nn_node_set_float(nd, "alpha", f->alpha);
    nn_node_set_float(nd, "beta", f->beta);
    set_act(nd, f->act);
    return c;
}

static void gemm_check(const gemm_cfg *f)
{
    char label[128];
    oh_case c = gemm_build(f);
    nn_shape want = nn_shape_make(2, (int64_t[]){f->m, f->n});
    snprintf(label, sizeof label, "gemm %lldx%lldx%lld tA%d tB%d bias%d alpha%g beta%g act%d",
             (long long)f->m, (long long)f->k, (long long)f->n, f->ta, f->tb, f->bias,
             (double)f->alpha, (double)f->beta, f->act);
    oh_check_case(&c, &want, label);
}

static void test_gemm_hand(void)
{
    /* A = [[1 2 3] [4 5 6]], B = [[1 0] [0 1] [1 1]]: AB = [[4 5] [10 11]] */
    static const float a[6] = {1, 2, 3, 4, 5, 6}, at[6] = {1, 4, 2, 5, 3, 6};
    static const float b[6] = {1, 0, 0, 1, 1, 1}, bt[6] = {1, 0, 1, 0, 1, 1};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            nn_shape as = ta ? nn_shape_make(2, (int64_t[]){3, 2}) : nn_shape_make(2, (int64_t[]){2, 3});
            nn_shape bs = tb ? nn_shape_make(2, (int64_t[]){2, 3}) : nn_shape_make(2, (int64_t[]){3, 2});
            oh_case c = oh_begin(NN_OP_GEMM, &as);
            oh_const_named(&c, "b", bs, tb ? bt : b);
            oh_const_named(&c, "c", nn_shape_make(1, (int64_t[]){2}), (const float[]){10, 20});
            nn_node_set_int(oh_node(&c), "transA", ta);
            nn_node_set_int(oh_node(&c), "transB", tb);
            nn_node_set_float(oh_node(&c), "alpha", 2.0f);
            nn_node_set_float(oh_node(&c), "beta", 0.5f);
            oh_expect(&c, ta ? at : a, (const float[]){13, 20, 25, 32}, 4,
                      nn_shape_make(2, (int64_t[]){2, 2}));
        }

    /* row bias [M, 1] and a fused relu */
    oh_case c = oh_begin(NN_OP_GEMM, &(nn_shape){2, {2, 3}});
    oh_const_named(&c, "b", nn_shape_make(2, (int64_t[]){3, 2}), (const float[]){1, 0, 0, 1, 1, 1});
    oh_const_named(&c, "c", nn_shape_make(2, (int64_t[]){2, 1}), (const float[]){-5, -10.5f});
    nn_node_set_int(oh_node(&c), "fused_act", NN_ACT_RELU);
    oh_expect(&c, a, (const float[]){0, 0, 0, 0.5f}, 4, nn_shape_make(2, (int64_t[]){2, 2}));
}

static void test_gemm_sweep(void)
{
    static const int64_t ms[] = {1, 3, 7, 64}, ks[] = {1, 5, 33}, ns[] = {1, 4, 17, 100};
    int i = 0;
    for (int mi = 0; mi < 4; mi++)
        for (int ki = 0; ki < 3; ki++)
            for (int ni = 0; ni < 4; ni++)
                for (int t = 0; t < 4; t++, i++) {
                    gemm_cfg f = {ms[mi], ks[ki], ns[ni], t & 1, t >> 1, i % 7,
                                  i % 3 ? 1.0f : 0.5f, i % 5 ? 1.0f : -2.0f, (i / 7) % 3};
                    gemm_check(&f);
                }
}

static void test_gemm_shapes(void)
{
    static const gemm_cfg cfgs[] = {
        {1, 512, 1000, 0, 1, 1, 1.0f, 1.0f, NN_ACT_NONE},     /* ResNet classifier */
        {3, 512, 1000, 0, 1, 2, 1.0f, 1.0f, NN_ACT_NONE},
        {64, 256, 128, 0, 0, 4, 1.0f, 1.0f, NN_ACT_RELU},
        {96, 70, 33, 1, 1, 3, 0.25f, 3.0f, NN_ACT_CLIP},
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++)
        gemm_check(&cfgs[i]);
}

/* Runs c's fast kernels at 1, 2 and 3 threads: the outputs must be
 * bitwise equal (tiles never split K). Frees the graph. */
static void threads_identical(oh_case *c, const char *label)
{
    float *out[3] = {NULL, NULL, NULL};
    int64_t n[3] = {0, 0, 0};
    oh_node(c);
    T_CHECKF(nn_graph_validate(c->g, &c->err) == NN_OK, "%s: %s", label, c->err.msg);
    for (int t = 0; t < 3; t++)
        T_CHECKF(oh_run(c, 0, t + 1, &out[t], &n[t]) == 0, "%s: %s", label, c->err.msg);
    for (int t = 1; t < 3; t++)
        T_CHECKF(out[0] && out[t] && n[t] == n[0] &&
                     memcmp(out[0], out[t], (size_t)n[0] * sizeof(float)) == 0,
                 "%s: %d threads differ from 1", label, t + 1);
    for (int t = 0; t < 3; t++)
        free(out[t]);
    nn_graph_free(c->g);
}

/* Shapes past the sgemm blocking (K > 256, M > 96 rows, many panels),
 * both layouts of the driver (C and C^T, with and without the transposed
 * copies), fused and unfused epilogues, on every ISA this CPU has. */
static void test_gemm_large(void)
{
    static const gemm_cfg cfgs[] = {
        {1, 512, 1000, 0, 1, 1, 1.0f, 1.0f, NN_ACT_RELU},     /* C^T, written in place */
        {8, 512, 1000, 0, 1, 2, 1.0f, 1.0f, NN_ACT_NONE},     /* C^T, transposed back */
        {8, 300, 1000, 0, 1, 4, 1.0f, 1.0f, NN_ACT_RELU},     /* full bias: unfused */
        {9, 300, 200, 1, 1, 5, 0.5f, 2.0f, NN_ACT_RELU},      /* scalar bias, alpha */
        {1, 600, 77, 1, 1, 6, 1.0f, 1.0f, NN_ACT_NONE},       /* scalar bias, M == 1 */
        {200, 300, 40, 1, 0, 3, 1.0f, 1.0f, NN_ACT_RELU},     /* A transposed, 3 row tiles */
        {130, 257, 150, 0, 0, 4, -1.5f, 1.0f, NN_ACT_NONE},   /* residual-style epilogue */
        {8, 512, 1000, 0, 0, 1, 1.0f, 1.0f, NN_ACT_NONE},     /* packed B in the tiles */
        {97, 33, 513, 1, 0, 2, 1.0f, 0.5f, NN_ACT_CLIP},
    };
    const char *saved = getenv("SCANLITE_ISA");
    char keep[32] = "";
    if (saved)
        snprintf(keep, sizeof keep, "%s", saved);
    for (int isa = 0; isa < NN_ISA_COUNT; isa++) {
        if (!nn_isa_supported((nn_isa)isa))
            continue;
        setenv("SCANLITE_ISA", nn_isa_name((nn_isa)isa), 1);
        for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
            gemm_cfg f = cfgs[i];
            char label[96];
            oh_case c;
            gemm_check(&f);
            c = gemm_build(&f);
            snprintf(label, sizeof label, "%s gemm large %zu", nn_isa_name((nn_isa)isa), i);
            threads_identical(&c, label);
        }
    }
    if (saved)
        setenv("SCANLITE_ISA", keep, 1);
    else
        unsetenv("SCANLITE_ISA");
}

/* Both operands activations (nothing prepared at plan time): A^T [33, 64]
 * times B [33, 2] runs as C^T with B transposed at every run. */
static void test_gemm_activations(void)
{
    nn_shape want = nn_shape_make(2, (int64_t[]){64, 2});
    oh_case c = oh_begin(NN_OP_GEMM, &(nn_shape){2, {33, 64}});
    oh_input(&c, "b", &(nn_shape){2, {33, 2}});
    nn_node_set_int(oh_node(&c), "transA", 1);
    oh_check_case(&c, &want, "gemm A^T B, both activations");
    c = oh_begin(NN_OP_GEMM, &(nn_shape){2, {300, 8}});
    oh_input(&c, "b", &(nn_shape){2, {300, 500}});
    nn_node_set_int(oh_node(&c), "transA", 1);
    nn_node_set_float(oh_node(&c), "alpha", 0.5f);
    want = nn_shape_make(2, (int64_t[]){8, 500});
    oh_check_case(&c, &want, "gemm A^T B 8x300x500, both activations");
}

static void test_gemm_rejects(void)
{
    gemm_cfg base = {3, 4, 5, 0, 0, 0, 1.0f, 1.0f, 0};
    gemm_cfg f;
    oh_case c = oh_begin(NN_OP_GEMM, &(nn_shape){3, {2, 3, 4}});
    oh_const(&c, "b", &(nn_shape){2, {4, 5}});
    oh_check_case(&c, NULL, "gemm rank-3 A");

    c = oh_begin(NN_OP_GEMM, &(nn_shape){2, {3, 4}});
    oh_const(&c, "b", &(nn_shape){2, {5, 5}});
    oh_check_case(&c, NULL, "gemm inner dims");

    c = oh_begin(NN_OP_GEMM, &(nn_shape){2, {3, 4}});
    oh_const(&c, "b", &(nn_shape){2, {5, 4}});    /* needs transB */
    oh_check_case(&c, NULL, "gemm B not transposed");

    c = oh_begin(NN_OP_GEMM, &(nn_shape){2, {3, 4}});
    oh_const(&c, "b", &(nn_shape){2, {4, 5}});
    oh_const(&c, "c", &(nn_shape){2, {2, 5}});
    oh_check_case(&c, NULL, "gemm bias rows");

    c = oh_begin(NN_OP_GEMM, &(nn_shape){2, {3, 4}});
    oh_const(&c, "b", &(nn_shape){2, {4, 5}});
    oh_const(&c, "c", &(nn_shape){1, {4}});
    oh_check_case(&c, NULL, "gemm bias cols");

    c = oh_begin(NN_OP_GEMM, &(nn_shape){2, {3, 4}});
    oh_const(&c, "b", &(nn_shape){2, {4, 5}});
    oh_const(&c, "c", &(nn_shape){3, {1, 3, 5}});
    oh_check_case(&c, NULL, "gemm bias rank 3");

    f = base;
    c = gemm_build(&f);
    nn_node_set_int(oh_node(&c), "transA", 2);
    oh_check_case(&c, NULL, "gemm transA 2");
}

static void test_gemm_macs(void)
{
    gemm_cfg f = {3, 7, 11, 1, 0, 1, 1.0f, 1.0f, 0};
    oh_case c = gemm_build(&f);
    T_CHECK(case_macs(&c) == 3 * 7 * 11);
}

/* ---- MatMul -------------------------------------------------------------- */

/* x is the graph input; w a constant, or a second graph input when
 * y_input (its dim 0 must then equal x's, the plan's batch). */
static void matmul_check(nn_shape xs, nn_shape ys, int y_input, const nn_shape *want, int act)
{
    char label[128], a[48], b[48];
    oh_case c = oh_begin(NN_OP_MATMUL, &xs);
    if (y_input)
        oh_input(&c, "w", &ys);
    else
        oh_const(&c, "w", &ys);
    set_act(oh_node(&c), act);
    nn_shape_str(&xs, a, sizeof a);
    nn_shape_str(&ys, b, sizeof b);
    snprintf(label, sizeof label, "matmul %s x %s%s act%d", a, b, y_input ? " (input)" : "", act);
    oh_check_case(&c, want, label);
}

/* S(2, 3, 4): the shape 2x3x4. */
#define S(...)                                                                 \
    nn_shape_make((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), \
                  (int64_t[]){__VA_ARGS__})

static void test_matmul_hand(void)
{
    oh_case c = oh_begin(NN_OP_MATMUL, &(nn_shape){3, {2, 1, 2}});
    oh_const_named(&c, "w", S(2, 2), (const float[]){1, 1, 0, 2});
    oh_expect(&c, (const float[]){1, 2, 3, 4}, (const float[]){1, 5, 3, 11}, 4, S(2, 1, 2));

    c = oh_begin(NN_OP_MATMUL, &(nn_shape){1, {2}});
    oh_const_named(&c, "w", S(2, 3), (const float[]){1, 0, -1, 0, 1, -1});
    nn_node_set_int(oh_node(&c), "fused_act", NN_ACT_RELU);
    oh_expect(&c, (const float[]){1, 2}, (const float[]){1, 2, 0}, 3, S(3));

    /* batch broadcast: [2, 1, 1, 2] x [3, 2, 1] -> [2, 3, 1, 1] */
    c = oh_begin(NN_OP_MATMUL, &(nn_shape){4, {2, 1, 1, 2}});
    oh_const_named(&c, "w", S(3, 2, 1), (const float[]){1, 0, 0, 1, 1, 1});
    oh_expect(&c, (const float[]){1, 2, 3, 4}, (const float[]){1, 2, 3, 3, 4, 7}, 6,
              S(2, 3, 1, 1));
}

static void test_matmul_sweep(void)
{
    static const int64_t dims[] = {1, 3, 16, 65};
    int i = 0;
    for (int mi = 0; mi < 4; mi++)
        for (int ki = 0; ki < 4; ki++)
            for (int ni = 0; ni < 4; ni++, i++) {
                int64_t m = dims[mi], k = dims[ki], n = dims[ni];
                int act = i % 3;
                nn_shape w;
                matmul_check(S(m, k), S(k, n), 0, (w = S(m, n), &w), act);
                matmul_check(S(2, m, k), S(k, n), 0, (w = S(2, m, n), &w), act);
                matmul_check(S(3, m, k), S(3, k, n), 1, (w = S(3, m, n), &w), act);
                matmul_check(S(2, 1, m, k), S(3, k, n), 0, (w = S(2, 3, m, n), &w), act);
                matmul_check(S(1, m, k), S(3, k, n), 0, (w = S(3, m, n), &w), act);
            }
}

static void test_matmul_ranks(void)
{
    nn_shape w;
    matmul_check(S(7), S(7, 5), 0, (w = S(5), &w), 0);
    matmul_check(S(4, 7), S(7), 0, (w = S(4), &w), 1);
    matmul_check(S(3, 4, 7), S(7), 0, (w = S(3, 4), &w), 0);
    matmul_check(S(7), S(2, 7, 5), 0, (w = S(2, 5), &w), 2);
    matmul_check(S(7), S(7), 0, (w = nn_shape_make(0, NULL), &w), 0);
    matmul_check(S(2, 3, 4, 8), S(8, 6), 0, (w = S(2, 3, 4, 6), &w), 1);
    matmul_check(S(2, 3, 4, 8), S(3, 8, 6), 0, (w = S(2, 3, 4, 6), &w), 0);
    matmul_check(S(2, 1, 4, 8), S(2, 3, 8, 6), 1, (w = S(2, 3, 4, 6), &w), 0);
    matmul_check(S(1, 197, 64), S(64, 192), 0, (w = S(1, 197, 192), &w), 0);  /* ViT-like */
}

/* Batched products past the sgemm blocking, an activation B, broadcast
 * batches; 1/2/3 threads bitwise equal. */
static void test_matmul_large(void)
{
    nn_shape w;
    oh_case c;
    matmul_check(S(2, 100, 300), S(2, 300, 70), 1, (w = S(2, 100, 70), &w), 1);
    matmul_check(S(2, 1, 5, 300), S(3, 300, 200), 0, (w = S(2, 3, 5, 200), &w), 0);
    matmul_check(S(4, 260, 33), S(33, 520), 0, (w = S(4, 260, 520), &w), 2);
    c = oh_begin(NN_OP_MATMUL, &(nn_shape){3, {2, 70, 300}});
    oh_input(&c, "w", &(nn_shape){3, {2, 300, 90}});
    threads_identical(&c, "matmul 2x70x300 x 2x300x90");
}

static void test_matmul_rejects(void)
{
    matmul_check(S(3, 4), S(5, 6), 0, NULL, 0);
    matmul_check(S(2, 3, 4), S(3, 4, 6), 0, NULL, 0);
    matmul_check(S(4), S(5), 0, NULL, 0);
}

static void test_matmul_macs(void)
{
    oh_case c = oh_begin(NN_OP_MATMUL, &(nn_shape){3, {2, 3, 4}});
    oh_const(&c, "w", &(nn_shape){2, {4, 5}});
    T_CHECK(case_macs(&c) == 2 * 3 * 4 * 5);
}

int main(void)
{
    T_RUN(test_gemm_hand);
    T_RUN(test_gemm_sweep);
    T_RUN(test_gemm_shapes);
    T_RUN(test_gemm_large);
    T_RUN(test_gemm_activations);
    T_RUN(test_gemm_rejects);
    T_RUN(test_gemm_macs);
    T_RUN(test_matmul_hand);
    T_RUN(test_matmul_sweep);
    T_RUN(test_matmul_ranks);
    T_RUN(test_matmul_large);
    T_RUN(test_matmul_rejects);
    T_RUN(test_matmul_macs);
    printf("gemm/matmul: %d fast-vs-reference cases, worst relative error %.3g\n", oh_n_cases, oh_worst_err);
    return t_summary("test_ops_linear");
}
