/* test_kernels.c — the sgemm of nn/kernels: for every ISA this CPU runs
 * (generic always, avx2 / avx512 when present), the blocked driver with
 * packed B against the naive reference over edge shapes (M, N, K of 1,
 * odd, off the register tile, across the K block, large K), with and
 * without the fused epilogue (row / column bias, residual, clamp) and
 * row-wise packing, also through nn_sgemm_run_dot (dot-product tiles for
 * a last panel of a few columns); the indirect tiles (B rows read through
 * a pointer table); the Conv paths built on it (Winograd 3x3 stride 1,
 * im2col GEMM, 1x1) per ISA against Conv's reference kernel through the op
 * harness (1 and 2 threads), with a fused residual input (same shape and
 * broadcast) and the optimizer's Conv + Add + Relu fusion end to end; the
 * im2col GEMM's deep and indirect schedules, and bit-identical results at
 * 1, 2 and 3 threads; plus the dispatcher's SCANLITE_ISA handling. */
#include <stdlib.h>

#include "nn/kernels/sgemm.h"
#include "nn/nn_tensor.h"
#include "op_harness.h"

#define TOL 1e-5

static float krand(unsigned *s)
{
    *s = *s * 1664525u + 1013904223u;
    return ((float)((*s >> 8) & 0xffff) / 32768.0f) - 1.0f;
}

static double worst;
static int n_cases;

/* One product of the given shape with the kernel k, by nn_sgemm_run and
 * by nn_sgemm_run_dot; epi selects the epilogue (0 none, 1 row bias +
 * relu, 2 column bias + residual + clip), by_row packs B a row at a time.
 * Returns the max relative error of the two. */
static double gemm_case(const nn_sgemm_kernel *k, int64_t M, int64_t N, int64_t K, int epi,
                        int by_row)
{
    unsigned s = (unsigned)(M * 131 + N * 17 + K);
    int64_t lda = K + 3, ldb = N + 1, ldc = N + 2;
    float *A = malloc((size_t)(M * lda) * sizeof(float));
    float *B = malloc((size_t)(K * ldb) * sizeof(float));
    float *C = malloc((size_t)(M * ldc) * sizeof(float));
    float *R = malloc((size_t)(M * ldc) * sizeof(float));
    float *D = malloc((size_t)(M * ldc) * sizeof(float));
    float *res = malloc((size_t)(M * N) * sizeof(float));
    float *bm = malloc((size_t)M * sizeof(float)), *bn = malloc((size_t)N * sizeof(float));
    float *pb = nn_aligned_alloc((size_t)nn_sgemm_packed_b_floats(k, K, N) * sizeof(float));
    nn_sgemm_epi ep = {0};
    double err = INFINITY;
    double err_dot;
    if (!A || !B || !C || !R || !D || !res || !bm || !bn || !pb)
        goto done;
    for (int64_t i = 0; i < M * lda; i++)
        A[i] = krand(&s);
    for (int64_t i = 0; i < K * ldb; i++)
        B[i] = krand(&s);
    for (int64_t i = 0; i < M * N; i++)
        res[i] = krand(&s);
    for (int64_t i = 0; i < M; i++)
        bm[i] = krand(&s);
    for (int64_t i = 0; i < N; i++)
        bn[i] = krand(&s);
    for (int64_t i = 0; i < M * ldc; i++)
        C[i] = R[i] = D[i] = 7.0f;      /* padding columns must survive */
    if (epi == 1) {
        ep.bias_m = bm;
        ep.clamp = 1;
        ep.lo = 0.0f;
        ep.hi = INFINITY;
    } else if (epi == 2) {
        ep.bias_n = bn;
        ep.res = res;
        ep.ldr = N;
        ep.clamp = 1;
        ep.lo = -0.5f * (float)K / 16;
        ep.hi = 0.75f * (float)K / 16;
    }
    if (by_row)
        for (int64_t r = 0; r < K; r++)
            nn_sgemm_pack_b_row(k, K, r, B + r * ldb, N, pb);
    else
        nn_sgemm_pack_b(k, K, N, B, ldb, pb);
    nn_sgemm_run(k, M, N, K, A, lda, pb, C, ldc, epi ? &ep : NULL);
    nn_sgemm_run_dot(k, M, N, K, A, lda, pb, D, ldc, epi ? &ep : NULL, A);   /* next_a: only prefetched */
    nn_sgemm_ref(M, N, K, A, lda, B, ldb, R, ldc, epi ? &ep : NULL);
    err = t_max_rel_err(C, R, (long)(M * ldc));
    err_dot = t_max_rel_err(D, R, (long)(M * ldc));
    err = err_dot > err || err_dot != err_dot ? err_dot : err;
done:
    free(A);
    free(B);
    free(C);
    free(R);
    free(D);
    free(res);
    free(bm);
    free(bn);
    nn_aligned_free(pb);
    return err;
}

static void test_sgemm_shapes(void)
{
    static const int64_t ms[] = {1, 2, 5, 6, 7, 8, 13, 64, 97, 200};
    /* N % 16 of 1..4 and N % 8 of 1..2: dot-product last panels */
    static const int64_t ns[] = {1, 2, 3, 8, 15, 16, 17, 33, 49, 50, 100};
    static const int64_t ks[] = {1, 2, 7, 255, 256, 257, 600};
    for (int isa = 0; isa < NN_ISA_COUNT; isa++) {
        const nn_sgemm_kernel *k = nn_sgemm_kernel_for((nn_isa)isa);
        int i = 0;
        if (!nn_isa_supported((nn_isa)isa)) {
            printf("  %s: not supported by this CPU, skipped\n", nn_isa_name((nn_isa)isa));
            continue;
        }
        for (size_t a = 0; a < sizeof ms / sizeof ms[0]; a++)
            for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++)
                for (size_t c = 0; c < sizeof ks / sizeof ks[0]; c++, i++) {
                    double e = gemm_case(k, ms[a], ns[b], ks[c], i % 3, i % 5 == 0);
                    n_cases++;
                    if (e > worst)
                        worst = e;
                    T_CHECKF(e <= TOL, "%s M%lld N%lld K%lld epi %d: error %g", k->name,
                             (long long)ms[a], (long long)ns[b], (long long)ks[c], i % 3, e);
                }
        /* a ResNet-like deep reduction */
        double e = gemm_case(k, 70, 49, 4608, 1, 0);
        n_cases++;
        T_CHECKF(e <= TOL, "%s large K: error %g", k->name, e);
        if (e > worst)
            worst = e;
    }
}

/* The indirect driver: B row k of panel j read at brow[k] + poff[j]
 * (rows at scattered offsets of one source buffer), with the epilogue
 * epi as in gemm_case; against the reference on the gathered B. */
static double igemm_case(const nn_sgemm_kernel *k, int64_t M, int64_t panels, int64_t K, int epi)
{
    unsigned s = (unsigned)(M * 7 + panels * 131 + K);
    int64_t nr = k->nr, N = panels * nr, lda = K + 1, nsrc = 4096;
    float *A = malloc((size_t)(M * lda) * sizeof(float));
    float *B = malloc((size_t)(K * N) * sizeof(float));
    float *C = malloc((size_t)(M * N) * sizeof(float));
    float *R = malloc((size_t)(M * N) * sizeof(float));
    float *src = malloc((size_t)nsrc * sizeof(float));
    float *bm = malloc((size_t)M * sizeof(float));
    const float **brow = malloc((size_t)K * sizeof(*brow));
    int64_t poff[4];
    nn_sgemm_epi ep = {0};
    double err = INFINITY;
    if (!A || !B || !C || !R || !src || !bm || !brow || panels > 4)
        goto done;
    for (int64_t i = 0; i < M * lda; i++)
        A[i] = krand(&s);
    for (int64_t i = 0; i < nsrc; i++)
        src[i] = krand(&s);
    for (int64_t i = 0; i < M; i++)
        bm[i] = krand(&s);
    for (int64_t j = 0; j < panels; j++)
        poff[j] = j * 37 % 101;
    for (int64_t r = 0; r < K; r++) {
        brow[r] = src + (r * 613) % (nsrc - 200);
        for (int64_t j = 0; j < panels; j++)
            for (int64_t l = 0; l < nr; l++)
                B[r * N + j * nr + l] = brow[r][poff[j] + l];
    }
    if (epi) {
        ep.bias_m = bm;
        ep.clamp = 1;
        ep.lo = epi == 1 ? 0.0f : -0.5f * (float)K / 16;     /* clip scaled to the sums */
        ep.hi = epi == 1 ? INFINITY : 0.75f * (float)K / 16;
    }
    nn_sgemm_run_indirect(k, M, panels, K, A, lda, brow, poff, C, N, epi ? &ep : NULL);
    nn_sgemm_ref(M, N, K, A, lda, B, N, R, N, epi ? &ep : NULL);
    err = t_max_rel_err(C, R, (long)(M * N));
done:
    free(A);
    free(B);
    free(C);
    free(R);
    free(src);
    free(bm);
    free(brow);
    return err;
}

static void test_sgemm_indirect(void)
{
    static const int64_t ms[] = {1, 4, 6, 7, 13, 64, 100};
    static const int64_t ks[] = {1, 7, 147, 256, 257, 600};
    for (int isa = 0; isa < NN_ISA_COUNT; isa++) {
        const nn_sgemm_kernel *k = nn_sgemm_kernel_for((nn_isa)isa);
        int i = 0;
        if (!nn_isa_supported((nn_isa)isa) || !nn_sgemm_irows_for(k))
            continue;
        for (size_t a = 0; a < sizeof ms / sizeof ms[0]; a++)
            for (int64_t panels = 1; panels <= 3; panels++)
                for (size_t c = 0; c < sizeof ks / sizeof ks[0]; c++, i++) {
                    double e = igemm_case(k, ms[a], panels, ks[c], i % 3);
                    n_cases++;
                    if (e > worst)
                        worst = e;
                    T_CHECKF(e <= TOL, "%s indirect M%lld panels %lld K%lld: error %g", k->name,
                             (long long)ms[a], (long long)panels, (long long)ks[c], e);
                }
    }
}

/* SCANLITE_ISA as the test found it (NULL: unset), for isa_env_restore. */
static char *isa_env_save(void)
{
    const char *old = getenv("SCANLITE_ISA");
    return old ? strdup(old) : NULL;
}

/* Puts SCANLITE_ISA back as isa_env_save found it; frees saved. */
static void isa_env_restore(char *saved)
{
    if (saved)
        setenv("SCANLITE_ISA", saved, 1);
    else
        unsetenv("SCANLITE_ISA");
    free(saved);
}

static void test_isa_select(void)
{
    char *saved = isa_env_save();
    nn_isa isa;
    nn_err e;
    const nn_sgemm_kernel *k;

    T_CHECK(nn_isa_supported(NN_ISA_GENERIC));
    setenv("SCANLITE_ISA", "generic", 1);
    T_CHECK(nn_isa_select(&isa, &e) == NN_OK && isa == NN_ISA_GENERIC);
    T_CHECK(nn_sgemm_select(&k, &e) == NN_OK && k && k->isa == NN_ISA_GENERIC);
    setenv("SCANLITE_ISA", "sse9", 1);
    T_CHECK(nn_isa_select(&isa, &e) == NN_ERR_UNSUPPORTED && strstr(e.msg, "sse9"));
    T_CHECK(nn_sgemm_select(&k, &e) == NN_ERR_UNSUPPORTED && k == NULL);
    for (int i = 1; i < NN_ISA_COUNT; i++) {
        setenv("SCANLITE_ISA", nn_isa_name((nn_isa)i), 1);
        if (nn_isa_supported((nn_isa)i)) {
            T_CHECK(nn_isa_select(&isa, &e) == NN_OK && isa == (nn_isa)i);
        } else {
            T_CHECK(nn_isa_select(&isa, &e) == NN_ERR_UNSUPPORTED);
            T_CHECK(strstr(e.msg, "does not support") != NULL);
        }
    }
    /* the default: the widest ISA, but AVX2 over AVX-512 on a CPU that
     * splits 512-bit FMAs (Zen 4) */
    T_CHECK(nn_isa_pick(1u << NN_ISA_GENERIC, 1) == NN_ISA_GENERIC);
    T_CHECK(nn_isa_pick(3u, 0) == NN_ISA_AVX2 && nn_isa_pick(3u, 1) == NN_ISA_AVX2);
    T_CHECK(nn_isa_pick(7u, 0) == NN_ISA_AVX512);
    T_CHECK(nn_isa_pick(7u, 1) == NN_ISA_AVX2);
    T_CHECK(nn_isa_pick(5u, 1) == NN_ISA_AVX512);   /* no AVX2 to use instead */
    unsetenv("SCANLITE_ISA");
    T_CHECK(nn_isa_select(&isa, &e) == NN_OK && nn_isa_supported(isa));
    {
        unsigned mask = 0;
        for (int i = 0; i < NN_ISA_COUNT; i++)
            mask |= nn_isa_supported((nn_isa)i) ? 1u << i : 0;
        T_CHECK(isa == nn_isa_pick(mask, 0) || isa == nn_isa_pick(mask, 1));
    }
    printf("  default ISA: %s\n", nn_isa_name(isa));
    isa_env_restore(saved);
}

/* A Conv graph for the op harness: k x k kernel, stride s, pads, bias,
 * act. */
static oh_case conv_graph(int64_t n, int64_t c, int64_t h, int64_t w, int64_t o, int64_t k,
                          int64_t s, const int64_t pads[4], int bias, int act)
{
    nn_shape xs = nn_shape4(n, c, h, w), ws = nn_shape4(o, c, k, k);
    nn_shape bs = nn_shape_make(1, (int64_t[]){o});
    oh_case cs = oh_begin(NN_OP_CONV, &xs);
    nn_node *nd;
    oh_const(&cs, "w", &ws);
    if (bias)
        oh_const(&cs, "b", &bs);
    nd = oh_node(&cs);
    nn_node_set_ints(nd, "strides", (int64_t[]){s, s}, 2);
    nn_node_set_ints(nd, "pads", pads, 4);
    if (act) {
        nn_node_set_int(nd, "fused_act", act);
        nn_node_set_float(nd, "fused_min", -0.5f);
        nn_node_set_float(nd, "fused_max", 0.75f);
    }
    return cs;
}

/* Conv through the op harness (fast vs reference, 1 and 2 threads). */
static double conv_case(int64_t n, int64_t c, int64_t h, int64_t w, int64_t o, int64_t k,
                        int64_t s, const int64_t pads[4], int bias, int act)
{
    oh_case cs = conv_graph(n, c, h, w, o, k, s, pads, bias, act);
    return oh_finish(&cs);
}

/* Sizes chosen around the Winograd tile (2x2 outputs) and the register
 * tiles: odd and even outputs, one tile, a single row of tiles, channel
 * counts off every mr; batch 1, 3 and 8 (Winograd needs 16 F(2x2) tiles
 * over the batch, F(4x4) 16 of its tiles over the batch; tile blocks cross
 * images); stride 2 and 1x1 cases take the GEMM paths. */
static void test_conv_paths(void)
{
    static const int64_t hw[][2] = {{1, 1}, {2, 3}, {5, 7}, {9, 9}, {13, 11}, {57, 3}, {4, 30}};
    static const int64_t pads[][4] = {{0, 0, 0, 0}, {1, 1, 1, 1}, {0, 1, 2, 0}, {2, 2, 2, 2}};
    static const int64_t chans[][2] = {{16, 16}, {33, 20}, {24, 70}};
    char *saved = isa_env_save();
    for (int isa = 0; isa < NN_ISA_COUNT; isa++) {
        int i = 0;
        double wst = 0;
        if (!nn_isa_supported((nn_isa)isa))
            continue;
        setenv("SCANLITE_ISA", nn_isa_name((nn_isa)isa), 1);
        for (size_t a = 0; a < sizeof hw / sizeof hw[0]; a++)
            for (size_t b = 0; b < sizeof pads / sizeof pads[0]; b++)
                for (size_t c = 0; c < sizeof chans / sizeof chans[0]; c++, i++) {
                    int64_t n = i % 4 == 1 ? 3 : i % 4 == 2 ? 8 : 1;
                    int64_t k = i % 7 == 3 ? 1 : 3, s = i % 5 == 4 ? 2 : 1;
                    double e;
                    if (hw[a][0] + pads[b][0] + pads[b][2] < k || hw[a][1] + pads[b][1] + pads[b][3] < k)
                        continue;
                    e = conv_case(n, chans[c][0], hw[a][0], hw[a][1], chans[c][1], k, s, pads[b],
                                  i % 2, (i / 3) % 3);
                    n_cases++;
                    if (e > wst)
                        wst = e;
                    T_CHECKF(e >= 0 && e <= TOL, "%s conv n%lld c%lld %lldx%lld o%lld k%lld s%lld pads %zu: error %g",
                             nn_isa_name((nn_isa)isa), (long long)n, (long long)chans[c][0],
                             (long long)hw[a][0], (long long)hw[a][1], (long long)chans[c][1],
                             (long long)k, (long long)s, b, e);
                }
        printf("  %s conv paths: worst relative error %.3g\n", nn_isa_name((nn_isa)isa), wst);
        if (wst > worst)
            worst = wst;
    }
    isa_env_restore(saved);
}

/* The schedules of the im2col GEMM besides the wide one. Deep (the
 * weights outweigh one image's packed im2col: whole image packed once by
 * all threads, output channels split): 7x7 and 6x6 outputs whose last
 * panel runs dot tiles (49 = 3 x 16 + 1, 36 = 2 x 16 + 4; a 3x3 stride-1
 * conv on 7x7 runs Winograd, so its 7x7 cases have stride 2), 1x1 on the
 * input itself, channel counts off the register tile. Indirect
 * (output rows a multiple of the panel width: B rows read from a padded,
 * stride-2 de-interleaved copy of the input): the ResNet stem's 7x7
 * stride 2 pad 3 on 3 channels, 3x3 stride 1 and 2, 1x1 stride 2, with
 * and without padding. And the wide schedule on an input too big for its
 * padded copy (bounds-checked im2col). Batch 1 and 3; per ISA, 1 and 2
 * threads. */
static void test_conv_schedules(void)
{
    /* n, c, h, w, o, k, s, pad */
    static const int64_t cases[][8] = {
        /* deep */
        {1, 64, 13, 13, 96, 3, 2, 1}, {3, 40, 14, 14, 72, 3, 2, 1}, {1, 96, 6, 6, 64, 1, 1, 0},
        {1, 64, 14, 13, 130, 1, 2, 0}, {3, 48, 15, 15, 80, 3, 2, 0}, {1, 32, 5, 6, 50, 3, 1, 1},
        {1, 64, 6, 6, 96, 3, 1, 1},
        /* indirect: output width 16 or 32 */
        {1, 3, 13, 32, 10, 7, 2, 3}, {3, 3, 9, 31, 64, 7, 2, 3},   {3, 8, 5, 32, 20, 3, 1, 1},
        {1, 5, 9, 33, 7, 3, 2, 0},   {1, 12, 4, 31, 9, 1, 2, 0},  {1, 6, 6, 34, 12, 3, 1, 0},
        /* wide, input too big for the padded copy: bounds-checked im2col */
        {1, 4, 520, 520, 8, 3, 2, 1},
    };
    char *saved = isa_env_save();
    for (int isa = 0; isa < NN_ISA_COUNT; isa++) {
        double wst = 0;
        if (!nn_isa_supported((nn_isa)isa))
            continue;
        setenv("SCANLITE_ISA", nn_isa_name((nn_isa)isa), 1);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            const int64_t *f = cases[i];
            int64_t pads[4] = {f[7], f[7], f[7], f[7]};
            double e = conv_case(f[0], f[1], f[2], f[3], f[4], f[5], f[6], pads, (int)(i % 2),
                                 (int)(i % 3));
            n_cases++;
            if (e > wst)
                wst = e;
            T_CHECKF(e >= 0 && e <= TOL, "%s conv schedule case %zu: error %g",
                     nn_isa_name((nn_isa)isa), i, e);
        }
        printf("  %s deep / indirect conv schedules: worst relative error %.3g\n",
               nn_isa_name((nn_isa)isa), wst);
        if (wst > worst)
            worst = wst;
    }
    isa_env_restore(saved);
}

/* The GEMM schedules give the same bits at 1, 2 and 3 threads (threads
 * split pixels, output channels or images, never K, and a pixel sums in
 * the same order whichever tile holds it): wide (3x3 stride 2), deep with
 * a dot-product last panel (7x7 output; at batch 2 the 2 threads take an
 * image each), indirect (output rows of 32; 144 panels of 16: chunks of
 * 48 at 1 and 3 threads, 36 at 2); and Winograd F(2x2) on a 7x7 map at
 * batch 1 (items of tile blocks). */
static void test_conv_thread_bits(void)
{
    /* n, c, h, w, o, k, s, pad */
    static const int64_t cases[][8] = {
        {2, 16, 30, 30, 24, 3, 2, 1}, {1, 64, 13, 13, 96, 3, 2, 1}, {2, 64, 13, 13, 96, 3, 2, 1},
        {2, 3, 20, 64, 20, 7, 2, 3},  {1, 64, 7, 7, 96, 3, 1, 1},  {1, 3, 144, 64, 4, 7, 2, 3},
    };
    static float x[2 * 16 * 30 * 30], y1[16384], yt[16384];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int64_t *f = cases[i];
        int64_t pads[4] = {f[7], f[7], f[7], f[7]}, nx = f[0] * f[1] * f[2] * f[3], n1;
        unsigned seed = 7u;
        nn_shape sh;
        oh_case cs = conv_graph(f[0], f[1], f[2], f[3], f[4], f[5], f[6], pads, 1, NN_ACT_RELU);
        for (int64_t j = 0; j < nx; j++)
            x[j] = krand(&seed);
        n1 = oh_eval(&cs, x, 0, 1, y1, 16384, &sh);
        T_CHECKF(n1 > 0 && n1 <= 16384, "case %zu: %lld outputs (%s)", i, (long long)n1,
                 cs.err.msg);
        for (int th = 2; th <= 3 && n1 > 0 && n1 <= 16384; th++) {
            int64_t nt = oh_eval(&cs, x, 0, th, yt, 16384, &sh);
            T_CHECKF(nt == n1 && memcmp(y1, yt, (size_t)n1 * sizeof(float)) == 0,
                     "case %zu: %d threads differ from 1 thread", i, th);
        }
        nn_graph_free(cs.g);
    }
}

/* Conv with a residual 4th input of shape rs (graph input), 3x3 pad 1 or
 * 1x1 (k), stride s, groups g, fused act: fast vs reference. */
static double res_case(int64_t n, int64_t c, int64_t h, int64_t o, int64_t k, int64_t s,
                       int64_t g, const nn_shape *rs, int act)
{
    nn_shape xs = nn_shape4(n, c, h, h), ws = nn_shape4(o, c / g, k, k);
    nn_shape bs = nn_shape_make(1, (int64_t[]){o});
    oh_case cs = oh_begin(NN_OP_CONV, &xs);
    nn_node *nd;
    int64_t p = k / 2;
    oh_const(&cs, "w", &ws);
    oh_const(&cs, "b", act == NN_ACT_RELU ? &bs : NULL);
    oh_input(&cs, "r", rs);
    nd = oh_node(&cs);
    nn_node_set_ints(nd, "strides", (int64_t[]){s, s}, 2);
    nn_node_set_ints(nd, "pads", (int64_t[]){p, p, p, p}, 4);
    nn_node_set_int(nd, "group", g);
    nn_node_set_int(nd, "fused_act", act);
    nn_node_set_float(nd, "fused_min", -0.5f);
    nn_node_set_float(nd, "fused_max", 0.75f);
    return oh_finish(&cs);
}

static void test_conv_residual(void)
{
    /* each path (Winograd, im2col GEMM, 1x1 GEMM, depthwise, groups) with
     * R of the output's shape, then broadcasting R: per channel, scalar,
     * lower rank, and two that enlarge the output of a [N, O, 1, 1] conv
     * (graph inputs have the batch as dim 0) */
    static const struct {
        int64_t n, c, h, o, k, s, g;
        nn_shape r;
    } cs[] = {
        {1, 16, 15, 20, 3, 1, 1, {4, {1, 20, 15, 15}}},
        {3, 32, 9, 24, 3, 1, 1, {4, {3, 24, 9, 9}}},
        {2, 8, 9, 12, 3, 2, 1, {4, {2, 12, 5, 5}}},
        {2, 16, 7, 16, 1, 1, 1, {4, {2, 16, 7, 7}}},
        {1, 16, 7, 16, 1, 1, 1, {4, {1, 16, 1, 1}}},
        {1, 16, 6, 16, 3, 1, 1, {1, {1}}},
        {16, 4, 6, 16, 3, 1, 1, {3, {16, 6, 1}}},
        {2, 4, 1, 6, 1, 1, 1, {4, {2, 6, 3, 5}}},
        {1, 4, 1, 6, 1, 1, 1, {4, {1, 1, 3, 1}}},
        {2, 8, 7, 8, 3, 1, 8, {4, {2, 8, 7, 7}}},       /* depthwise */
        {2, 8, 6, 16, 3, 2, 2, {4, {2, 16, 3, 3}}},     /* grouped GEMM */
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++)
        for (int act = 0; act < 3; act++) {
            double e = res_case(cs[i].n, cs[i].c, cs[i].h, cs[i].o, cs[i].k, cs[i].s, cs[i].g,
                                &cs[i].r, act);
            n_cases++;
            T_CHECKF(e >= 0 && e <= TOL, "residual case %zu act %d: error %g", i, act, e);
            if (e > worst)
                worst = e;
        }
    /* a residual that does not broadcast, and one of rank 5: rejected */
    T_CHECK(res_case(1, 16, 6, 16, 3, 1, 1, &(nn_shape){4, {1, 16, 5, 6}}, 0) < 0);
    T_CHECK(res_case(1, 16, 6, 16, 3, 1, 1, &(nn_shape){5, {1, 1, 16, 6, 6}}, 0) < 0);
}

/* x -> Conv(a) -> Add(., x) -> Relu -> Conv(b) -> Add(conv c of x, .):
 * nn_graph_optimize must leave three Convs, two with a residual input and
 * the first one's Relu fused, and the same outputs as the unoptimized graph
 * on the reference kernels. */
static void test_residual_fusion(void)
{
    nn_graph *g = nn_graph_create();
    nn_err e;
    nn_shape xs = nn_shape4(2, 16, 7, 7), ws = nn_shape4(16, 16, 3, 3);
    unsigned seed = 5u;
    int x, w[3], v[6];
    float *ref = NULL, *fast = NULL;
    int64_t nr = 0, nf = 0;
    oh_case c;
    memset(&c, 0, sizeof c);
    x = nn_graph_add_input(g, "x", &xs, &e);
    for (int i = 0; i < 3; i++) {
        char name[8];
        float *d = nn_aligned_alloc(16 * 16 * 9 * sizeof(float));
        for (int j = 0; j < 16 * 16 * 9; j++)
            d[j] = 0.2f * krand(&seed);
        snprintf(name, sizeof name, "w%d", i);
        w[i] = nn_graph_add_const(g, name, &ws, d, 1, &e);
    }
    for (int i = 0; i < 6; i++) {
        char name[8];
        snprintf(name, sizeof name, "v%d", i);
        v[i] = nn_graph_add_value(g, name, &e);
    }
    nn_node_set_ints(nn_graph_add_node(g, NN_OP_CONV, "ca", (int[]){x, w[0]}, 2, v[0], &e), "pads",
                     (int64_t[]){1, 1, 1, 1}, 4);
    nn_graph_add_node(g, NN_OP_ADD, "add1", (int[]){v[0], x}, 2, v[1], &e);
    nn_graph_add_node(g, NN_OP_RELU, "relu", (int[]){v[1]}, 1, v[2], &e);
    nn_node_set_ints(nn_graph_add_node(g, NN_OP_CONV, "cb", (int[]){v[2], w[1]}, 2, v[3], &e),
                     "pads", (int64_t[]){1, 1, 1, 1}, 4);
    nn_node_set_ints(nn_graph_add_node(g, NN_OP_CONV, "cc", (int[]){x, w[2]}, 2, v[4], &e), "pads",
                     (int64_t[]){1, 1, 1, 1}, 4);
    nn_graph_add_node(g, NN_OP_ADD, "add2", (int[]){v[4], v[3]}, 2, v[5], &e);
    nn_graph_add_output(g, v[5], &e);
    T_CHECK(nn_graph_validate(g, &e) == NN_OK);
    c.g = g;
    c.batch = 2;
    T_CHECK(oh_run(&c, 1, 1, &ref, &nr) == 0);
    T_CHECKF(nn_graph_optimize(g, &e) == NN_OK, "%s", e.msg);
    T_CHECK(g->n_nodes == 3);
    for (int k = 0; k < g->n_nodes; k++) {
        const nn_node *nd = &g->nodes[k];
        T_CHECK(nd->op == NN_OP_CONV);
        if (strcmp(nd->name, "ca") == 0)
            T_CHECK(nd->n_inputs == 4 && nd->inputs[3] == x &&
                    nn_node_get_int(nd, "fused_act", 0) == NN_ACT_RELU);
        else if (strcmp(nd->name, "cc") == 0)
            T_CHECK(nd->n_inputs == 4 && nn_node_get_int(nd, "fused_act", 0) == NN_ACT_NONE);
        else
            T_CHECK(nd->n_inputs == 2);
    }
    for (int th = 1; th <= 2; th++) {
        T_CHECK(oh_run(&c, 0, th, &fast, &nf) == 0 && nf == nr);
        if (fast && nf == nr) {
            double err = t_max_rel_err(fast, ref, (long)nr);
            T_CHECKF(err <= TOL, "fused graph vs unfused reference, %d threads: %g", th, err);
        }
        free(fast);
        fast = NULL;
    }
    free(ref);
    nn_graph_free(g);
}

/* A forced ISA the CPU lacks fails at plan time with a message. */
static void test_conv_isa_refused(void)
{
    for (int isa = 1; isa < NN_ISA_COUNT; isa++) {
        nn_shape xs = nn_shape4(1, 16, 5, 5), ws = nn_shape4(16, 16, 3, 3);
        oh_case cs;
        double e;
        if (nn_isa_supported((nn_isa)isa))
            continue;
        setenv("SCANLITE_ISA", nn_isa_name((nn_isa)isa), 1);
        cs = oh_begin(NN_OP_CONV, &xs);
        oh_const(&cs, "w", &ws);
        e = oh_finish(&cs);
        T_CHECK(e < 0 && cs.err.status == NN_ERR_UNSUPPORTED);
        T_CHECK(strstr(cs.err.msg, "does not support") != NULL);
        unsetenv("SCANLITE_ISA");
    }
}

int main(void)
{
    T_RUN(test_isa_select);
    T_RUN(test_sgemm_shapes);
    T_RUN(test_sgemm_indirect);
    T_RUN(test_conv_paths);
    T_RUN(test_conv_schedules);
    T_RUN(test_conv_thread_bits);
    T_RUN(test_conv_isa_refused);
    T_RUN(test_conv_residual);
    T_RUN(test_residual_fusion);
    printf("kernels: %d cases vs reference, worst relative error %.3g\n", n_cases, worst);
    return t_summary("test_kernels");
}
