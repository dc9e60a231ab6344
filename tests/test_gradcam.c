/* test_gradcam.c — Grad-CAM through the public API on small models built
 * here: the exact CAM of a GAP + Linear head against a hand computation
 * (every class, the predicted one, the two labels of a single-logit head),
 * determinism, reference kernels, no explain plan unless asked; the
 * heatmap PNG (decoded back with stb_image: original size, unchanged
 * outside the crop, hot where the map is high); and the errors of heads
 * Grad-CAM cannot differentiate. Numbers against PyTorch: t_gradcam.sh. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/io_meta.h"
#include "io/io_slm.h"
#include "nn/nn_graph.h"
#include "nn/nn_ops.h"
#include "nn/scanlite.h"
#include "nn/sl_internal.h"
#include "stb_image.h"
#include "stb_image_write.h"
#include "tassert.h"

#define C 3
#define H 6
#define W 5
#define K 3

static char tmpdir[64];
static unsigned rng = 7u;

static float frand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return ((float)((rng >> 8) & 0xffff) / 32768.0f) - 1.0f;
}

static int konst(nn_graph *g, const char *name, nn_shape s, const float *v)
{
    nn_err e;
    return nn_graph_add_const_copy(g, name, &s, v, &e);
}

static int add(nn_graph *g, int op, const char *name, const int *in, int n_in)
{
    nn_err e;
    int y = nn_graph_add_value(g, name, &e);
    nn_graph_add_node(g, op, name, in, n_in, y, &e);
    return y;
}

static nn_node *last(nn_graph *g)
{
    return &g->nodes[g->n_nodes - 1];
}

/* Weights of the test heads: conv [K, C, 1, 1] + [K], fc [classes, K] + [classes]. */
static float conv_w[K * C], conv_b[K], fc_w[4 * K], fc_b[4];

/* x [N, C, H, W] -> Conv 1x1 -> Relu; returns the map's value. */
static int body(nn_graph *g)
{
    nn_err e;
    nn_shape xs = nn_shape4(NN_DIM_BATCH, C, H, W);
    int64_t kd[1] = {K};
    int in[3];
    in[0] = nn_graph_add_input(g, "x", &xs, &e);
    in[1] = konst(g, "conv.w", nn_shape4(K, C, 1, 1), conv_w);
    in[2] = konst(g, "conv.b", nn_shape_make(1, kd), conv_b);
    int c = add(g, NN_OP_CONV, "conv", in, 3);
    return add(g, NN_OP_RELU, "relu", &c, 1);
}

/* Gemm(transB) of x onto `classes` outputs, made the graph output. */
static void head_fc(nn_graph *g, int x, int classes)
{
    nn_err e;
    int64_t wd[2] = {classes, K}, bd[1] = {classes};
    int in[3] = {x, konst(g, "fc.w", nn_shape_make(2, wd), fc_w),
                 konst(g, "fc.b", nn_shape_make(1, bd), fc_b)};
    int y = add(g, NN_OP_GEMM, "fc", in, 3);
    nn_node_set_int(last(g), "transB", 1);
    nn_graph_add_output(g, y, &e);
}

static void finish(nn_graph *g, const char *shape)
{
    nn_err e;
    nn_graph_set_meta(g, IO_META_INPUT_SHAPE, shape);
    nn_graph_validate(g, &e);
}

/* body -> GAP -> Flatten -> Gemm(classes); act NULL = the default. */
static nn_graph *gap_model(int classes, const char *act)
{
    nn_graph *g = nn_graph_create();
    int a = body(g);
    int p = add(g, NN_OP_GLOBALAVGPOOL, "gap", &a, 1);
    int f = add(g, NN_OP_FLATTEN, "flat", &p, 1);
    head_fc(g, f, classes);
    if (act)
        nn_graph_set_meta(g, IO_META_OUTPUT_ACT, act);
    finish(g, "3x6x5");
    return g;
}

static const char *write_model(nn_graph *g, const char *name)
{
    static char path[128];
    nn_err e;
    snprintf(path, sizeof path, "%s/%s.slm", tmpdir, name);
    if (io_slm_write(g, path, &e) != NN_OK) {
        fprintf(stderr, "  io_slm_write: %s\n", e.msg);
        path[0] = '\0';
    }
    nn_graph_free(g);
    return path;
}

static sl_model *load(const char *path)
{
    sl_model *m = NULL;
    sl_error err;
    T_CHECKF(sl_model_load(path, &m, &err) == SL_OK, "%s: %s", path, err.message);
    return m;
}

/* The CAM by hand: A_k = relu(conv), cam = relu(sum_k sign * W[row, k] / (H*W) * A_k). */
static void cam_by_hand(const float *x, int row, float sign, float *cam)
{
    for (int i = 0; i < H * W; i++) {
        double s = 0;
        for (int k = 0; k < K; k++) {
            double a = conv_b[k];
            for (int c = 0; c < C; c++)
                a += conv_w[k * C + c] * x[c * H * W + i];
            s += sign * fc_w[row * K + k] / (H * W) * (a > 0 ? a : 0);
        }
        cam[i] = s > 0 ? (float)s : 0.0f;
    }
}

static double max_abs_diff(const float *a, const float *b, int n)
{
    double d = 0;
    for (int i = 0; i < n; i++)
        d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

static void test_gap_linear_exact(void)
{
    sl_error err;
    sl_session *s = NULL;
    sl_model *m = load(write_model(gap_model(4, NULL), "gap"));
    float x[C * H * W], cam[H * W], again[H * W], want[H * W], raw[4];
    int h, w, label, nonzero = 0, best = 0;

    if (!m)
        return;
    T_CHECK(sl_model_cam_shape(m, &h, &w, &err) == SL_OK && h == H && w == W);
    T_CHECK(sl_session_create(m, 1, &s, &err) == SL_OK);
    if (!s)
        goto done;
    for (int i = 0; i < C * H * W; i++)
        x[i] = frand();
    /* no explain plan until asked for */
    T_CHECK(sl_run(s, x, 1, raw, &err) == SL_OK && s->explain == NULL);
    for (int cls = 0; cls < 4; cls++) {
        T_CHECKF(sl_explain(s, x, cls, cam, H * W, &h, &w, &label, &err) == SL_OK, "%s",
                 err.message);
        cam_by_hand(x, cls, 1.0f, want);
        T_CHECKF(max_abs_diff(cam, want, H * W) < 1e-6, "class %d: %g", cls,
                 max_abs_diff(cam, want, H * W));
        T_CHECK(h == H && w == W && label == cls);
        for (int i = 0; i < H * W; i++)
            nonzero += want[i] > 0;
    }
    T_CHECK(nonzero > H * W / 2);       /* the maps are not trivially zero */
    T_CHECK(s->explain != NULL);
    /* predicted class: the argmax of sl_run's logits */
    for (int i = 1; i < 4; i++)
        best = raw[i] > raw[best] ? i : best;
    T_CHECK(sl_explain(s, x, -1, cam, H * W, &h, &w, &label, &err) == SL_OK && label == best);
    /* deterministic; reference kernels agree; switching drops the plan */
    T_CHECK(sl_explain(s, x, -1, again, H * W, &h, &w, NULL, &err) == SL_OK);
    T_CHECK(memcmp(cam, again, sizeof cam) == 0);
    sl_session_set_reference(s, 1);
    T_CHECK(s->explain == NULL);
    T_CHECK(sl_explain(s, x, -1, again, H * W, &h, &w, NULL, &err) == SL_OK);
    T_CHECKF(max_abs_diff(cam, again, H * W) < 1e-6, "reference: %g", max_abs_diff(cam, again, H * W));
    /* bad arguments */
    T_CHECK(sl_explain(s, x, 4, cam, H * W, &h, &w, NULL, &err) == SL_ERR_INVALID);
    T_CHECK(sl_explain(s, x, -2, cam, H * W, &h, &w, NULL, &err) == SL_ERR_INVALID);
    T_CHECK(sl_explain(s, x, 0, cam, H * W - 1, &h, &w, NULL, &err) == SL_ERR_INVALID && h == H &&
            w == W);
    T_CHECK(sl_explain(s, NULL, 0, cam, H * W, &h, &w, NULL, &err) == SL_ERR_INVALID);
done:
    sl_session_free(s);
    sl_model_free(m);
}

/* One logit, two labels: label 1 explains the logit, label 0 its negation. */
static void test_binary_head(void)
{
    sl_error err;
    sl_session *s = NULL;
    sl_model *m = load(write_model(gap_model(1, "sigmoid"), "bin"));
    float x[C * H * W], cam[H * W], want[H * W];
    int h, w, label, pos = 0, neg = 0;

    if (!m)
        return;
    T_CHECK(sl_model_num_labels(m) == 2);
    T_CHECK(sl_session_create(m, 1, &s, &err) == SL_OK);
    for (int t = 0; s && t < 4; t++) {
        for (int i = 0; i < C * H * W; i++)
            x[i] = frand();
        for (int lab = 0; lab < 2; lab++) {
            T_CHECK(sl_explain(s, x, lab, cam, H * W, &h, &w, &label, &err) == SL_OK);
            cam_by_hand(x, 0, lab ? 1.0f : -1.0f, want);
            T_CHECKF(max_abs_diff(cam, want, H * W) < 1e-6, "label %d: %g", lab,
                     max_abs_diff(cam, want, H * W));
            for (int i = 0; i < H * W; i++) {
                pos += lab == 1 && want[i] > 0;
                neg += lab == 0 && want[i] > 0;
            }
        }
    }
    T_CHECK(pos > 0 && neg > 0);        /* both signs exercised */
    sl_session_free(s);
    sl_model_free(m);
}

/* Heads Grad-CAM cannot differentiate: model loads and runs; explaining
 * fails with SL_ERR_UNSUPPORTED naming the op. */
static void expect_unsupported(nn_graph *g, const char *name, const char *word)
{
    sl_error err;
    sl_session *s = NULL;
    sl_model *m = load(write_model(g, name));
    float x[C * H * W] = {0}, cam[H * W], raw[4];
    int h = -1, w = -1;
    if (!m)
        return;
    T_CHECK(sl_model_cam_shape(m, &h, &w, &err) == SL_ERR_UNSUPPORTED && h == 0 && w == 0);
    T_CHECKF(strstr(err.message, word) != NULL, "%s: '%s'", name, err.message);
    T_CHECK(sl_session_create(m, 1, &s, &err) == SL_OK);
    if (s) {
        T_CHECK(sl_explain(s, x, 0, cam, H * W, &h, &w, NULL, &err) == SL_ERR_UNSUPPORTED);
        T_CHECKF(strstr(err.message, word) != NULL, "%s: '%s'", name, err.message);
        T_CHECK(sl_run(s, x, 1, raw, &err) == SL_OK);
    }
    sl_session_free(s);
    sl_model_free(m);
}

static void test_unsupported_heads(void)
{
    nn_graph *g;
    nn_err e;
    int a, p, f, in[2];
    float ones[K] = {1.0f, 2.0f, 3.0f};
    int64_t kd[2] = {1, K};

    g = nn_graph_create();              /* Flatten -> Mul -> Gemm */
    a = body(g);
    p = add(g, NN_OP_GLOBALAVGPOOL, "gap", &a, 1);
    f = add(g, NN_OP_FLATTEN, "flat", &p, 1);
    in[0] = f;
    in[1] = konst(g, "scale", nn_shape_make(2, kd), ones);
    head_fc(g, add(g, NN_OP_MUL, "scale_mul", in, 2), 4);
    finish(g, "3x6x5");
    expect_unsupported(g, "mul_head", "Mul (node 'scale_mul')");

    g = nn_graph_create();              /* Softmax inside the head */
    a = body(g);
    p = add(g, NN_OP_GLOBALAVGPOOL, "gap", &a, 1);
    f = add(g, NN_OP_FLATTEN, "flat", &p, 1);
    head_fc(g, add(g, NN_OP_SOFTMAX, "inner_softmax", &f, 1), 4);
    finish(g, "3x6x5");
    expect_unsupported(g, "softmax_head", "Softmax (node 'inner_softmax')");

    g = nn_graph_create();              /* no convolution at all */
    {
        nn_shape xs = nn_shape4(NN_DIM_BATCH, 1, 1, K);
        int x = nn_graph_add_input(g, "pixels", &xs, &e);
        f = add(g, NN_OP_FLATTEN, "flat", &x, 1);
        head_fc(g, f, 4);
        finish(g, "1x1x3");
    }
    expect_unsupported(g, "no_conv", "'pixels'");
}

/* ---- heatmaps ---------------------------------------------------------- */

#define IMG_W 48
#define IMG_H 32

typedef struct membuf {
    unsigned char *p;
    size_t n;
    int failed;
} membuf;

static void sink(void *ctx, void *data, int size)
{
    membuf *b = ctx;
    unsigned char *np = realloc(b->p, b->n + (size_t)size);
    if (!np) {
        b->failed = 1;
        return;
    }
    memcpy(np + b->n, data, (size_t)size);
    b->p = np;
    b->n += (size_t)size;
}

/* Gray 16x16 input, Resize(16) + CenterCrop(16); A = relu(x) (1 channel);
 * label "bright" scores mean(A), "dark" its negation: the bright label's
 * map is the image's brightness inside the crop. */
static nn_graph *bright_model(void)
{
    nn_err e;
    nn_graph *g = nn_graph_create();
    nn_shape xs = nn_shape4(NN_DIM_BATCH, 1, 16, 16);
    float one = 1.0f, zero = 0.0f, fw[2] = {1.0f, -1.0f}, fb[2] = {0.0f, 0.0f};
    int64_t d1[1] = {1}, d2[2] = {2, 1}, d3[1] = {2};
    int in[3];
    in[0] = nn_graph_add_input(g, "x", &xs, &e);
    in[1] = konst(g, "conv.w", nn_shape4(1, 1, 1, 1), &one);
    in[2] = konst(g, "conv.b", nn_shape_make(1, d1), &zero);
    int c = add(g, NN_OP_CONV, "conv", in, 3);
    int r = add(g, NN_OP_RELU, "relu", &c, 1);
    int p = add(g, NN_OP_GLOBALAVGPOOL, "gap", &r, 1);
    in[0] = add(g, NN_OP_FLATTEN, "flat", &p, 1);
    in[1] = konst(g, "fc.w", nn_shape_make(2, d2), fw);
    in[2] = konst(g, "fc.b", nn_shape_make(1, d3), fb);
    int y = add(g, NN_OP_GEMM, "fc", in, 3);
    nn_node_set_int(last(g), "transB", 1);
    nn_graph_add_output(g, y, &e);
    nn_graph_set_meta(g, IO_META_LABELS, "bright\ndark");
    nn_graph_set_meta(g, IO_META_RESIZE, "16");
    nn_graph_set_meta(g, IO_META_CROP, "16");
    nn_graph_set_meta(g, IO_META_COLOR, "gray");
    finish(g, "1x16x16");
    return g;
}

static void test_heatmap_png(void)
{
    sl_error err;
    sl_session *s = NULL;
    sl_model *m = load(write_model(bright_model(), "bright"));
    unsigned char img[IMG_H * IMG_W], *dec = NULL;
    membuf png = {0};
    sl_heatmap hm;
    int w = 0, h = 0, comp = 0, same = 1;

    /* dark background, a bright block inside the crop's columns [8, 40) */
    for (int y = 0; y < IMG_H; y++)
        for (int x = 0; x < IMG_W; x++)
            img[y * IMG_W + x] = x >= 26 && x < 38 && y >= 4 && y < 16 ? 230 : 20;
    stbi_write_png_to_func(sink, &png, IMG_W, IMG_H, 1, img, IMG_W);
    T_CHECK(png.n > 0 && !png.failed);
    if (!m || !png.p)
        goto done;
    T_CHECK(sl_session_create(m, 1, &s, &err) == SL_OK);
    if (!s)
        goto done;
    T_CHECKF(sl_explain_image(s, png.p, png.n, -1, &hm, &err) == SL_OK, "%s", err.message);
    T_CHECK(hm.width == IMG_W && hm.height == IMG_H && hm.cam_h == 16 && hm.cam_w == 16);
    T_CHECK(hm.label == 0 && hm.prediction.label == 0 && hm.prediction.k == 2);
    T_CHECK(hm.prediction.image_w == IMG_W && hm.prediction.image_h == IMG_H);
    dec = hm.png ? stbi_load_from_memory(hm.png, (int)hm.png_len, &w, &h, &comp, 3) : NULL;
    T_CHECK(dec && w == IMG_W && h == IMG_H && comp == 3);
    if (dec) {
        const unsigned char *hot = dec + (10 * IMG_W + 32) * 3, *cold = dec + (28 * IMG_W + 12) * 3;
        /* hot: the block's centre turns red (turbo's top end) */
        T_CHECKF(hot[0] > hot[2] + 40 && abs(hot[0] - 230) > 40, "hot %d %d %d", hot[0], hot[1],
                 hot[2]);
        /* cold, inside the crop: nearly the image */
        for (int c = 0; c < 3; c++)
            T_CHECKF(abs(cold[c] - 20) <= 12, "cold %d %d %d", cold[0], cold[1], cold[2]);
        /* outside the crop (columns < 8 and >= 40): the image unchanged */
        for (int y = 0; y < IMG_H; y++)
            for (int x = 0; x < IMG_W; x++)
                for (int c = 0; (x < 8 || x >= 40) && c < 3; c++)
                    same &= dec[(y * IMG_W + x) * 3 + c] == img[y * IMG_W + x];
        T_CHECK(same);
        stbi_image_free(dec);
    }
    sl_heatmap_free(&hm);
    T_CHECK(hm.png == NULL);
    /* "dark" has an all-zero map: the PNG is the image itself */
    T_CHECK(sl_explain_image(s, png.p, png.n, 1, &hm, &err) == SL_OK && hm.label == 1);
    dec = hm.png ? stbi_load_from_memory(hm.png, (int)hm.png_len, &w, &h, &comp, 3) : NULL;
    T_CHECK(dec != NULL);
    for (int i = 0; dec && i < IMG_W * IMG_H * 3; i++)
        same &= dec[i] == img[i / 3];
    T_CHECK(same);
    stbi_image_free(dec);
    sl_heatmap_free(&hm);
    /* not an image: an error and an empty result */
    T_CHECK(sl_explain_image(s, "GIF89a??", 8, -1, &hm, &err) == SL_ERR_IMAGE && hm.png == NULL);
    T_CHECK(sl_explain_image(s, png.p, png.n, 2, &hm, &err) == SL_ERR_INVALID && hm.png == NULL);
    sl_heatmap_free(NULL);
done:
    free(png.p);
    sl_session_free(s);
    sl_model_free(m);
}

int main(void)
{
    char cmd[128];
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_gradcam_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    for (int i = 0; i < K * C; i++)
        conv_w[i] = frand();
    for (int i = 0; i < K; i++)
        conv_b[i] = 0.3f * frand();
    for (int i = 0; i < 4 * K; i++)
        fc_w[i] = 2.0f * frand();
    for (int i = 0; i < 4; i++)
        fc_b[i] = frand();
    T_RUN(test_gap_linear_exact);
    T_RUN(test_binary_head);
    T_RUN(test_unsupported_heads);
    T_RUN(test_heatmap_png);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return t_summary("test_gradcam");
}
