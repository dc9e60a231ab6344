/* test_api.c — the public API end to end on small models built here,
 * written with io_slm_write and loaded with sl_model_load: metadata,
 * labels, sizes, sl_run (batch 1 and 3, fast and reference) against the
 * unoptimized graph run by nn_plan, image preprocessing and prediction
 * (softmax, sigmoid {1-p, p}, "none"), top-k, and error statuses. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph_build.h"
#include "io/io_meta.h"
#include "io/io_sha256.h"
#include "io/io_slm.h"
#include "nn/nn_graph.h"
#include "nn/nn_ops.h"
#include "nn/nn_plan.h"
#include "nn/scanlite.h"
#include "stb_image_write.h"
#include "tassert.h"

#define IN_C 3
#define IN_H 8
#define IN_W 8
#define IN_N (IN_C * IN_H * IN_W)

static char tmpdir[64];
/* x[N,3,8,8] -> Conv(3->4, 3x3, pad 1) -> BN -> Relu -> GAP -> Flatten ->
 * Gemm(4 -> classes) -> "logits". Same seed, same graph. */
static nn_graph *tiny_model(int classes, const char *act, const char *labels)
{
    nn_err e;
    nn_graph *g = nn_graph_create();
    nn_shape xs = nn_shape4(NN_DIM_BATCH, IN_C, IN_H, IN_W);
    int64_t c4[1] = {4}, wd[2] = {classes, 4}, bd[1] = {classes};
    int in[5];
    tg_rng = 5u;
    in[0] = nn_graph_add_input(g, "image", &xs, &e);
    in[1] = tg_const_rand(g, "conv.w", nn_shape4(4, IN_C, 3, 3), -0.6f, 0.6f);
    in[2] = tg_const_rand(g, "conv.b", nn_shape_make(1, c4), -0.2f, 0.2f);
    int c = tg_node(g, NN_OP_CONV, "conv", in, 3);
    int64_t pads[4] = {1, 1, 1, 1};
    nn_node_set_ints(&g->nodes[0], "pads", pads, 4);
    in[0] = c;
    in[1] = tg_const_rand(g, "bn.s", nn_shape_make(1, c4), 0.5f, 1.5f);
    in[2] = tg_const_rand(g, "bn.b", nn_shape_make(1, c4), -0.3f, 0.3f);
    in[3] = tg_const_rand(g, "bn.m", nn_shape_make(1, c4), -0.2f, 0.2f);
    in[4] = tg_const_rand(g, "bn.v", nn_shape_make(1, c4), 0.5f, 1.5f);
    int b = tg_node(g, NN_OP_BATCHNORM, "bn", in, 5);
    int r = tg_node(g, NN_OP_RELU, "relu", &b, 1);
    int p = tg_node(g, NN_OP_GLOBALAVGPOOL, "gap", &r, 1);
    int f = tg_node(g, NN_OP_FLATTEN, "flat", &p, 1);
    in[0] = f;
    in[1] = tg_const_rand(g, "fc.w", nn_shape_make(2, wd), -2.0f, 2.0f);
    in[2] = tg_const_rand(g, "fc.b", nn_shape_make(1, bd), -1.0f, 1.0f);
    int y = tg_node(g, NN_OP_GEMM, "logits", in, 3);
    nn_node_set_int(&g->nodes[g->n_nodes - 1], "transB", 1);
    nn_graph_add_output(g, y, &e);
    nn_graph_set_meta(g, IO_META_INPUT_SHAPE, "3x8x8");
    nn_graph_set_meta(g, IO_META_RESIZE, "0");
    nn_graph_set_meta(g, IO_META_CROP, "0");
    nn_graph_set_meta(g, IO_META_MEAN, "0.5,0.4,0.3");
    nn_graph_set_meta(g, IO_META_STD, "0.2,0.25,0.3");
    if (act)
        nn_graph_set_meta(g, IO_META_OUTPUT_ACT, act);
    if (labels)
        nn_graph_set_meta(g, IO_META_LABELS, labels);
    nn_graph_validate(g, &e);
    return g;
}

/* Writes the model to tmpdir/name.slm; returns the path (static buffer). */
static const char *write_model(nn_graph *g, const char *name)
{
    static char path[128];
    nn_err e;
    snprintf(path, sizeof path, "%s/%s.slm", tmpdir, name);
    if (io_slm_write(g, path, &e) != NN_OK) {
        fprintf(stderr, "  io_slm_write: %s\n", e.msg);
        return NULL;
    }
    return path;
}

/* Reference: unoptimized graph, naive kernels. out[batch * out_n]. */
static int oracle(const nn_graph *g, const float *x, int batch, float *out)
{
    nn_err e;
    nn_plan *p = NULL;
    nn_plan_opts o = {.threads = 1, .reference = 1};
    if (nn_plan_create(g, batch, &o, &p, &e) != NN_OK) {
        fprintf(stderr, "  oracle: %s\n", e.msg);
        return -1;
    }
    memcpy(nn_plan_input(p, 0)->data, x, (size_t)batch * IN_N * sizeof(float));
    nn_plan_run(p, &e);
    const nn_tensor *y = nn_plan_output(p, 0);
    memcpy(out, y->data, (size_t)nn_shape_numel(&y->shape) * sizeof(float));
    nn_plan_free(p);
    return 0;
}

static void test_model_info_and_run(void)
{
    sl_error err;
    sl_model *m = NULL;
    sl_session *s = NULL;
    nn_graph *g = tiny_model(3, "softmax", "cat\ndog\nbird\n");
    const char *path = write_model(g, "tiny");
    float x[3 * IN_N], want[9], got[9];
    struct stat sb;
    int c, h, w;

    T_CHECK(path != NULL);
    T_CHECKF(sl_model_load(path, &m, &err) == SL_OK, "%s", err.message);
    if (!m) {
        nn_graph_free(g);
        return;
    }
    T_CHECK(strcmp(sl_model_name(m), "tiny") == 0);
    T_CHECK(strcmp(sl_model_path(m), path) == 0);
    {
        /* the digest (computed on first use) is the file's, and stable */
        char want_sha[65] = "";
        T_CHECK(io_sha256_file_hex(path, want_sha) == 0);
        T_CHECKF(strcmp(sl_model_sha256(m), want_sha) == 0, "%s vs %s", sl_model_sha256(m), want_sha);
        T_CHECK(strcmp(sl_model_sha256(m), want_sha) == 0);
    }
    T_CHECK(stat(path, &sb) == 0 && sl_model_file_size(m) == (uint64_t)sb.st_size);
    T_CHECK(sl_model_num_labels(m) == 3);
    T_CHECK(strcmp(sl_model_label(m, 1), "dog") == 0 && strcmp(sl_model_label(m, 2), "bird") == 0);
    T_CHECK(sl_model_label(m, 3) == NULL && sl_model_label(m, -1) == NULL);
    sl_model_input_shape(m, &c, &h, &w);
    T_CHECK(c == 3 && h == 8 && w == 8);
    T_CHECK(sl_model_output_size(m) == 3);
    /* parameters as in the file (before folding): 108+4 + 16 + 12+3 */
    T_CHECKF(sl_model_param_count(m) == 143, "%lld", (long long)sl_model_param_count(m));
    /* conv 4*3*9*64 + global average pool 4*64 (one add each) + gemm 3*4 */
    T_CHECKF(sl_model_macs(m) == 4 * 3 * 9 * 64 + 4 * 64 + 12, "%lld", (long long)sl_model_macs(m));
    T_CHECKF(sl_model_num_nodes(m) == 4, "%d nodes", sl_model_num_nodes(m));  /* bn+relu folded */
    T_CHECK(strcmp(sl_model_meta(m, IO_META_OUTPUT_ACT), "softmax") == 0);
    T_CHECK(sl_model_meta(m, "absent") == NULL);
    T_CHECK(sl_model_meta_count(m) >= 6 && sl_model_meta_key(m, 0) != NULL);
    T_CHECK(sl_model_meta_key(m, sl_model_meta_count(m)) == NULL);

    T_CHECKF(sl_session_create(m, 2, &s, &err) == SL_OK, "%s", err.message);
    for (int i = 0; i < 3 * IN_N; i++)
        x[i] = tg_rand();
    T_CHECK(oracle(g, x, 3, want) == 0);
    for (int ref = 0; s && ref < 2; ref++) {
        sl_session_set_reference(s, ref);
        T_CHECKF(sl_run(s, x, 3, got, &err) == SL_OK, "%s", err.message);
        T_CHECKF(t_max_rel_err(got, want, 9) < 1e-5, "ref %d batch 3: %g", ref,
                 t_max_rel_err(got, want, 9));
        for (int i = 0; i < 3; i++) {
            T_CHECK(sl_run(s, x + i * IN_N, 1, got, &err) == SL_OK);
            T_CHECKF(t_max_rel_err(got, want + 3 * i, 3) < 1e-5, "ref %d sample %d", ref, i);
        }
    }
    /* the oracle's logits are not all alike (the test can fail) */
    T_CHECK(fabsf(want[0] - want[1]) > 1e-3f || fabsf(want[1] - want[2]) > 1e-3f);
    /* more batch sizes than plan slots, then batch 1 again */
    for (int b = 2; s && b <= 7; b++) {
        static float xb[7 * IN_N], yb[7 * 3];
        T_CHECK(sl_run(s, xb, b, yb, &err) == SL_OK);
    }
    if (s) {
        T_CHECK(sl_run(s, x, 1, got, &err) == SL_OK && t_max_rel_err(got, want, 3) < 1e-5);
        T_CHECK(sl_run(s, x, 0, got, &err) == SL_ERR_INVALID && err.status == SL_ERR_INVALID);
        T_CHECK(sl_run(s, NULL, 1, got, &err) == SL_ERR_INVALID);
    }
    sl_session_free(s);
    sl_model_free(m);
    nn_graph_free(g);
}

static int png_append(unsigned char **buf, size_t *len, const void *data, int size)
{
    unsigned char *p = realloc(*buf, *len + (size_t)size);
    if (!p)
        return -1;
    memcpy(p + *len, data, (size_t)size);
    *buf = p;
    *len += (size_t)size;
    return 0;
}

typedef struct membuf {
    unsigned char *p;
    size_t n;
} membuf;

static void png_sink(void *ctx, void *data, int size)
{
    membuf *m = ctx;
    png_append(&m->p, &m->n, data, size);
}

static void test_predict_image(void)
{
    sl_error err;
    sl_model *m = NULL;
    sl_session *s = NULL;
    nn_graph *g = tiny_model(3, NULL, "cat\ndog\nbird");
    const char *path = write_model(g, "tiny_img");
    unsigned char px[IN_H * IN_W * 3];
    membuf png = {NULL, 0};
    float x[IN_N], raw[3], probs[3];
    const float mean[3] = {0.5f, 0.4f, 0.3f}, sd[3] = {0.2f, 0.25f, 0.3f};
    int w = 0, h = 0;
    sl_prediction pr;

    for (int i = 0; i < IN_H * IN_W * 3; i++)
        px[i] = (unsigned char)((i * 37 + 11) % 256);
    stbi_write_png_to_func(png_sink, &png, IN_W, IN_H, 3, px, IN_W * 3);
    T_CHECK(png.n > 0);
    T_CHECK(path && sl_model_load(path, &m, &err) == SL_OK);
    if (!m || !png.p)
        goto done;
    T_CHECK(sl_image_probe(png.p, png.n, &w, &h, &err) == SL_OK && w == IN_W && h == IN_H);
    T_CHECK(sl_preprocess(m, png.p, png.n, x, &err) == SL_OK);
    /* same-size image, no resize: x = (px/255 - mean) / std, CHW */
    double worst = 0;
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < IN_H * IN_W; i++) {
            double want = (px[i * 3 + c] / 255.0 - mean[c]) / sd[c];
            double d = fabs(x[c * IN_H * IN_W + i] - want);
            worst = d > worst ? d : worst;
        }
    T_CHECKF(worst < 1e-4, "preprocess error %g", worst);

    T_CHECK(sl_session_create(m, 1, &s, &err) == SL_OK);
    if (!s)
        goto done;
    T_CHECKF(sl_predict_image(s, png.p, png.n, 10, &pr, &err) == SL_OK, "%s", err.message);
    T_CHECK(sl_run(s, x, 1, raw, &err) == SL_OK);
    sl_outputs_to_probs(m, raw, probs);   /* default activation for 3 outputs: softmax */
    double mx = fmax(raw[0], fmax(raw[1], raw[2])), sum = 0;
    for (int i = 0; i < 3; i++)
        sum += exp(raw[i] - mx);
    for (int i = 0; i < 3; i++)
        T_CHECK(fabs(probs[i] - exp(raw[i] - mx) / sum) < 1e-6);
    T_CHECK(pr.k == 3 && pr.image_w == IN_W && pr.image_h == IN_H);
    T_CHECK(pr.top[0].p >= pr.top[1].p && pr.top[1].p >= pr.top[2].p);
    T_CHECK(pr.label == pr.top[0].index && pr.confidence == pr.top[0].p);
    T_CHECK(fabs(pr.top[0].p + pr.top[1].p + pr.top[2].p - 1.0) < 1e-5);
    for (int i = 0; i < 3; i++)
        T_CHECK(fabsf(pr.top[i].p - probs[pr.top[i].index]) < 1e-6f);
    T_CHECK(pr.ms_decode >= 0 && pr.ms_infer >= 0);
    T_CHECK(sl_predict_image(s, png.p, png.n, 0, &pr, &err) == SL_OK && pr.k == 1);

    /* not an image / empty */
    T_CHECK(sl_predict_image(s, "hello world, not an image", 25, 1, &pr, &err) == SL_ERR_IMAGE);
    T_CHECK(err.status == SL_ERR_IMAGE && err.message[0]);
    T_CHECK(sl_preprocess(m, png.p, 0, x, &err) == SL_ERR_IMAGE);
done:
    free(png.p);
    sl_session_free(s);
    sl_model_free(m);
    nn_graph_free(g);
}

static void test_activations_and_labels(void)
{
    sl_error err;
    sl_model *m = NULL;
    nn_graph *g;
    float raw[3] = {0.3f, -2.0f, 1.0f}, probs[3];

    /* single sigmoid output, two labels: {1-p, p} */
    g = tiny_model(1, "sigmoid", "NORMAL\nPNEUMONIA\n");
    T_CHECK(sl_model_load(write_model(g, "sig"), &m, &err) == SL_OK);
    if (m) {
        T_CHECK(sl_model_num_labels(m) == 2 && sl_model_output_size(m) == 1);
        sl_outputs_to_probs(m, raw, probs);
        double p = 1.0 / (1.0 + exp(-0.3));
        T_CHECK(fabs(probs[1] - p) < 1e-6 && fabs(probs[0] - (1 - p)) < 1e-6);
        raw[0] = -100.0f;
        sl_outputs_to_probs(m, raw, probs);
        T_CHECK(probs[1] >= 0 && probs[1] < 1e-30 && probs[0] == 1.0f);
        raw[0] = 0.3f;
        sl_model_free(m);
        m = NULL;
    }
    nn_graph_free(g);

    /* sigmoid over 3 outputs, labels missing -> class_i */
    g = tiny_model(3, "sigmoid", NULL);
    T_CHECK(sl_model_load(write_model(g, "sig3"), &m, &err) == SL_OK);
    if (m) {
        T_CHECK(sl_model_num_labels(m) == 3 && strcmp(sl_model_label(m, 2), "class_2") == 0);
        sl_outputs_to_probs(m, raw, probs);
        for (int i = 0; i < 3; i++)
            T_CHECK(fabs(probs[i] - 1.0 / (1.0 + exp(-raw[i]))) < 1e-6);
        sl_model_free(m);
        m = NULL;
    }
    nn_graph_free(g);

    /* "none": raw scores; CRLF label lines */
    g = tiny_model(3, "none", "a\r\nb\r\nc\r");
    T_CHECK(sl_model_load(write_model(g, "none"), &m, &err) == SL_OK);
    if (m) {
        T_CHECK(strcmp(sl_model_label(m, 0), "a") == 0 && strcmp(sl_model_label(m, 2), "c") == 0);
        sl_outputs_to_probs(m, raw, probs);
        T_CHECK(memcmp(raw, probs, sizeof raw) == 0);
        sl_model_free(m);
        m = NULL;
    }
    nn_graph_free(g);

    /* rejected: label count mismatch, unknown activation */
    g = tiny_model(3, "softmax", "a\nb");
    T_CHECK(sl_model_load(write_model(g, "badlabels"), &m, &err) == SL_ERR_FORMAT && !m);
    T_CHECKF(strstr(err.message, "labels") != NULL, "%s", err.message);
    nn_graph_free(g);
    g = tiny_model(3, "softplus", NULL);
    T_CHECK(sl_model_load(write_model(g, "badact"), &m, &err) == SL_ERR_FORMAT && !m);
    nn_graph_free(g);
}

static void test_load_errors(void)
{
    sl_error err;
    sl_model *m = NULL;
    char path[128];
    FILE *f;
    T_CHECK(sl_model_load("/nonexistent/model.slm", &m, &err) == SL_ERR_IO && m == NULL);
    T_CHECK(err.status == SL_ERR_IO && err.message[0]);
    snprintf(path, sizeof path, "%s/garbage.slm", tmpdir);
    f = fopen(path, "wb");
    if (f) {
        for (int i = 0; i < 4096; i++)
            fputc((i * 7919) & 0xff, f);
        fclose(f);
    }
    T_CHECK(sl_model_load(path, &m, &err) == SL_ERR_FORMAT && m == NULL);
    T_CHECK(sl_model_load(NULL, &m, &err) == SL_ERR_INVALID);
    T_CHECK(sl_session_create(NULL, 1, NULL, &err) == SL_ERR_INVALID);
    T_CHECK(strcmp(sl_status_str(SL_ERR_IMAGE), nn_status_str(NN_ERR_IMAGE)) == 0);
}

/* sl_kernel_name names the micro-kernel SCANLITE_ISA or the CPU selects,
 * and says "none" for an ISA name that cannot run. */
static void test_kernel_name(void)
{
    const char *old = getenv("SCANLITE_ISA");
    char *saved = old ? strdup(old) : NULL;
    setenv("SCANLITE_ISA", "generic", 1);
    T_CHECK(strcmp(sl_kernel_name(), "f32_gemm_6x8_generic") == 0);
    setenv("SCANLITE_ISA", "sse9", 1);
    T_CHECK(strncmp(sl_kernel_name(), "none (", 6) == 0);
    unsetenv("SCANLITE_ISA");
    T_CHECK(strncmp(sl_kernel_name(), "f32_gemm_", 9) == 0);
    if (saved)
        setenv("SCANLITE_ISA", saved, 1);
    free(saved);
}

/* A file whose weights are damaged (last byte flipped: data section) loads
 * (the checksum runs in the background), but sl_model_verify, sl_run and
 * sl_predict_image all refuse with SL_ERR_FORMAT: no result from unchecked
 * weights; the intact file verifies. */
static void test_corrupt_weights(void)
{
    sl_error err;
    sl_model *m = NULL;
    sl_session *s = NULL;
    nn_graph *g = tiny_model(3, NULL, "cat\ndog\nbird");
    const char *path = write_model(g, "tiny_bad");
    float x[IN_N] = {0}, raw[3];
    unsigned char px[IN_H * IN_W * 3] = {0};
    membuf png = {NULL, 0};
    sl_prediction pr;
    FILE *f;
    long len;
    int c;
    T_CHECK(path && sl_model_load(path, &m, &err) == SL_OK && sl_model_verify(m, &err) == SL_OK);
    sl_model_free(m);
    m = NULL;
    f = path ? fopen(path, "r+b") : NULL;
    T_CHECK(f != NULL);
    if (!f)
        goto done;
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, len - 1, SEEK_SET);
    c = fgetc(f);
    fseek(f, len - 1, SEEK_SET);
    fputc(c ^ 0x40, f);
    fclose(f);
    stbi_write_png_to_func(png_sink, &png, IN_W, IN_H, 3, px, IN_W * 3);
    T_CHECKF(sl_model_load(path, &m, &err) == SL_OK, "%s", err.message);
    if (!m)
        goto done;
    T_CHECK(sl_session_create(m, 2, &s, &err) == SL_OK);
    T_CHECKF(s && sl_run(s, x, 1, raw, &err) == SL_ERR_FORMAT &&
                 strstr(err.message, "the weights are corrupt"),
             "%s", err.message);
    T_CHECK(s && png.p && sl_predict_image(s, png.p, png.n, 3, &pr, &err) == SL_ERR_FORMAT);
    T_CHECK(sl_model_verify(m, &err) == SL_ERR_FORMAT && strstr(err.message, "data checksum mismatch"));
    T_CHECK(sl_model_verify(NULL, &err) == SL_ERR_INVALID);
done:
    free(png.p);
    sl_session_free(s);
    sl_model_free(m);
    nn_graph_free(g);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_api_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    T_RUN(test_model_info_and_run);
    T_RUN(test_predict_image);
    T_RUN(test_activations_and_labels);
    T_RUN(test_load_errors);
    T_RUN(test_kernel_name);
    T_RUN(test_corrupt_weights);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return t_summary("test_api");
}
