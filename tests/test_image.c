/* test_image.c — io_image (probe, decode) and io_preproc (resize, crop,
 * normalise, recipe from metadata).
 *
 * Images are made in memory with stb_image_write; expected pixel values of
 * channel conversions and resizes were computed with PIL 9.4 (the oracle of
 * torchvision) and are written out below. With TESTDATA set, the photos of
 * $TESTDATA/imagenet/images are compared with torchvision's tensors in
 * $TESTDATA/reference/imagenet_preproc (mean abs difference must be < 0.01). */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <stb_image_write.h>

#include "io/io_image.h"
#include "io/io_meta.h"
#include "nn/nn_graph.h"
#include "tassert.h"

/* ---- in-memory encoders ------------------------------------------------ */

typedef struct membuf {
    uint8_t *p;
    size_t n, cap;
} membuf;

static void membuf_write(void *ctx, void *data, int size)
{
    membuf *b = ctx;
    if (size <= 0 || !b->p)
        return;
    if (b->n + (size_t)size > b->cap) {
        size_t cap = (b->n + (size_t)size) * 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            free(b->p);
            b->p = NULL;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, (size_t)size);
    b->n += (size_t)size;
}

enum { ENC_PNG, ENC_BMP, ENC_JPG };

/* Encodes w x h x c pixels; returns a malloc'ed buffer (NULL on failure). */
static uint8_t *encode(int fmt, const uint8_t *px, int w, int h, int c, size_t *len)
{
    membuf b = {malloc(1024), 0, 1024};
    int ok = 0;
    if (fmt == ENC_PNG)
        ok = stbi_write_png_to_func(membuf_write, &b, w, h, c, px, w * c);
    else if (fmt == ENC_BMP)
        ok = stbi_write_bmp_to_func(membuf_write, &b, w, h, c, px);
    else
        ok = stbi_write_jpg_to_func(membuf_write, &b, w, h, c, px, 95);
    if (!ok || !b.p) {
        free(b.p);
        return NULL;
    }
    *len = b.n;
    return b.p;
}

static uint32_t rng_state = 12345u;
static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* PIL's convert("L") formula, for checks on random pixels. */
static int pil_luma(int r, int g, int b)
{
    return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
}

/* ---- decoding ----------------------------------------------------------- */

static void test_decode_png_rgb(void)
{
    /* colours with their PIL convert("L") value */
    static const uint8_t rgb[8][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255},
                                      {1, 2, 3}, {100, 150, 200}, {37, 201, 99}, {128, 128, 127}};
    static const uint8_t pil_l[8] = {76, 150, 29, 255, 2, 141, 140, 128};
    size_t len;
    uint8_t *png = encode(ENC_PNG, &rgb[0][0], 4, 2, 3, &len);
    T_CHECK(png != NULL);
    io_image im;
    nn_err e;
    T_CHECK(io_image_decode(png, len, 3, &im, &e) == NN_OK);
    T_CHECK(im.w == 4 && im.h == 2 && im.c == 3);
    T_CHECK(memcmp(im.px, rgb, sizeof rgb) == 0);
    io_image_free(&im);
    T_CHECK(im.px == NULL);
    T_CHECK(io_image_decode(png, len, 1, &im, &e) == NN_OK);
    T_CHECK(im.c == 1);
    for (int i = 0; i < 8; i++)
        T_CHECKF(im.px[i] == pil_l[i], "pixel %d: %d, PIL %d", i, im.px[i], pil_l[i]);
    io_image_free(&im);
    free(png);
}

static void test_decode_gray_and_alpha(void)
{
    enum { W = 7, H = 5 };
    uint8_t g[W * H], ga[W * H * 2], rgba[W * H * 4];
    for (int i = 0; i < W * H; i++) {
        g[i] = (uint8_t)rng();
        ga[2 * i] = g[i];
        ga[2 * i + 1] = (uint8_t)(i * 7);   /* alpha, including 0 */
        for (int k = 0; k < 4; k++)
            rgba[4 * i + k] = (uint8_t)rng();
        rgba[4 * i + 3] = (uint8_t)(i % 3 == 0 ? 0 : 255);
    }
    io_image im;
    nn_err e;
    size_t len;
    int w, h, c;

    /* gray -> gray is exact, gray -> RGB replicates */
    uint8_t *png = encode(ENC_PNG, g, W, H, 1, &len);
    T_CHECK(io_image_probe(png, len, &w, &h, &c, &e) == NN_OK && w == W && h == H && c == 1);
    T_CHECK(io_image_decode(png, len, 1, &im, &e) == NN_OK && memcmp(im.px, g, sizeof g) == 0);
    io_image_free(&im);
    T_CHECK(io_image_decode(png, len, 3, &im, &e) == NN_OK && im.c == 3);
    for (int i = 0; i < W * H; i++)
        T_CHECK(im.px[3 * i] == g[i] && im.px[3 * i + 1] == g[i] && im.px[3 * i + 2] == g[i]);
    io_image_free(&im);
    free(png);

    /* gray + alpha: alpha dropped, no compositing */
    png = encode(ENC_PNG, ga, W, H, 2, &len);
    T_CHECK(io_image_probe(png, len, &w, &h, &c, &e) == NN_OK && c == 2);
    T_CHECK(io_image_decode(png, len, 1, &im, &e) == NN_OK && memcmp(im.px, g, sizeof g) == 0);
    io_image_free(&im);
    T_CHECK(io_image_decode(png, len, 3, &im, &e) == NN_OK);
    for (int i = 0; i < W * H; i++)
        T_CHECK(im.px[3 * i] == g[i] && im.px[3 * i + 2] == g[i]);
    io_image_free(&im);
    free(png);

    /* RGBA: alpha dropped (transparent pixels keep their colour) */
    png = encode(ENC_PNG, rgba, W, H, 4, &len);
    T_CHECK(io_image_probe(png, len, &w, &h, &c, &e) == NN_OK && c == 4);
    T_CHECK(io_image_decode(png, len, 3, &im, &e) == NN_OK);
    for (int i = 0; i < W * H; i++)
        T_CHECK(memcmp(im.px + 3 * i, rgba + 4 * i, 3) == 0);
    io_image_free(&im);
    T_CHECK(io_image_decode(png, len, 1, &im, &e) == NN_OK);
    for (int i = 0; i < W * H; i++)
        T_CHECK(im.px[i] == pil_luma(rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]));
    io_image_free(&im);
    free(png);
    T_CHECK(io_image_decode(g, sizeof g, 2, &im, &e) == NN_ERR_INVALID);
}

static void test_decode_bmp_jpeg(void)
{
    enum { W = 33, H = 17 };
    uint8_t px[W * H * 3];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *p = px + (y * W + x) * 3;
            p[0] = (uint8_t)(x * 7);
            p[1] = (uint8_t)(y * 15);
            p[2] = 90;
        }
    io_image im;
    nn_err e;
    size_t len;
    uint8_t *bmp = encode(ENC_BMP, px, W, H, 3, &len);
    T_CHECK(io_image_decode(bmp, len, 3, &im, &e) == NN_OK && im.w == W && im.h == H);
    T_CHECK(im.px && memcmp(im.px, px, sizeof px) == 0);
    io_image_free(&im);
    free(bmp);

    /* JPEG is lossy: a smooth image comes back within a few levels */
    uint8_t *jpg = encode(ENC_JPG, px, W, H, 3, &len);
    T_CHECK(io_image_decode(jpg, len, 3, &im, &e) == NN_OK && im.w == W && im.h == H);
    double sum = 0;
    for (size_t i = 0; im.px && i < sizeof px; i++)
        sum += fabs((double)im.px[i] - px[i]);
    T_CHECKF(sum / sizeof px < 3.0, "JPEG mean error %.2f levels", sum / sizeof px);
    io_image_free(&im);
    free(jpg);
}

/* A 4x3 GIF87a (palette) written by PIL, and its pixels as PIL decodes them. */
static const uint8_t gif4x3[91] = {
    0x47, 0x49, 0x46, 0x38, 0x37, 0x61, 0x04, 0x00, 0x03, 0x00, 0x83, 0x00, 0x00, 0xff, 0xff,
    0xff, 0xff, 0xff, 0x00, 0x00, 0xff, 0xff, 0x00, 0xff, 0x00, 0xc8, 0x64, 0x32, 0x80, 0x80,
    0x80, 0x40, 0x20, 0x10, 0xff, 0x00, 0xff, 0xff, 0x00, 0x00, 0x0a, 0x14, 0x1e, 0x00, 0x00,
    0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x03, 0x00, 0x00, 0x08, 0x10, 0x00, 0x11,
    0x0c, 0x50, 0x00, 0x60, 0x41, 0x02, 0x02, 0x01, 0x04, 0x1c, 0x28, 0x60, 0x20, 0x20, 0x00,
    0x3b};
static const uint8_t gif4x3_rgb[12 * 3] = {
    255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 10, 20, 30,
    200, 100, 50, 255, 255, 0, 0, 255, 255, 255, 0, 255, 128, 128, 128, 64, 32, 16};

static void test_decode_gif(void)
{
    io_image im;
    nn_err e;
    T_CHECK(io_image_decode(gif4x3, sizeof gif4x3, 3, &im, &e) == NN_OK);
    T_CHECK(im.w == 4 && im.h == 3 && im.px && memcmp(im.px, gif4x3_rgb, sizeof gif4x3_rgb) == 0);
    io_image_free(&im);
}

/* ---- probe limits and hostile input ------------------------------------- */

static uint32_t crc32_png(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A PNG of signature + IHDR only (no pixel data at all): 33 bytes. */
static void forge_png(uint8_t out[33], uint32_t w, uint32_t h, int good_crc)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(out, sig, 8);
    put_be32(out + 8, 13);
    memcpy(out + 12, "IHDR", 4);
    put_be32(out + 16, w);
    put_be32(out + 20, h);
    out[24] = 8;    /* bit depth */
    out[25] = 2;    /* RGB */
    out[26] = out[27] = out[28] = 0;
    put_be32(out + 29, crc32_png(out + 12, 17) ^ (good_crc ? 0 : 1));
}

static void test_probe_limits(void)
{
    uint8_t png[33];
    int w = 0, h = 0, c = 0;
    nn_err e;
    io_image im;

    forge_png(png, 20000, 20000, 1);
    T_CHECK(io_image_probe(png, sizeof png, &w, &h, &c, &e) == NN_ERR_LIMIT);
    T_CHECKF(strstr(e.msg, "20000x20000") != NULL, "message: %s", e.msg);
    /* decode stops at the header: a decoder would fail with "no IDAT" */
    T_CHECK(io_image_decode(png, sizeof png, 3, &im, &e) == NN_ERR_LIMIT && im.px == NULL);
    /* stb ignores the IHDR CRC (it decodes images whose CRC is wrong); the
     * limits are checked on our own reading of IHDR, CRC or not */
    forge_png(png, 20000, 20000, 0);
    T_CHECK(io_image_probe(png, sizeof png, &w, &h, &c, &e) == NN_ERR_LIMIT);
    forge_png(png, IO_IMAGE_MAX_DIM + 1, 1, 1);
    T_CHECK(io_image_probe(png, sizeof png, &w, &h, &c, &e) == NN_ERR_LIMIT);
    forge_png(png, IO_IMAGE_MAX_DIM, IO_IMAGE_MAX_DIM, 1);   /* 256 Mpx > 64 Mpx */
    T_CHECK(io_image_probe(png, sizeof png, &w, &h, &c, &e) == NN_ERR_LIMIT);
    /* exactly at the pixel limit: header accepted, pixels absent */
    forge_png(png, 8192, 8192, 1);
    T_CHECK(io_image_probe(png, sizeof png, &w, &h, &c, &e) == NN_OK && w == 8192 && c == 3);
    T_CHECK(io_image_decode(png, sizeof png, 3, &im, &e) == NN_ERR_IMAGE);

    /* JPEG SOF0 claiming 30000 x 20000, GIF claiming 60000 wide */
    static const uint8_t jpg[] = {0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x4E, 0x20,
                                  0x75, 0x30, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01,
                                  0x03, 0x11, 0x01, 0xFF, 0xD9};
    T_CHECK(io_image_probe(jpg, sizeof jpg, &w, &h, &c, &e) == NN_ERR_LIMIT);
    T_CHECKF(strstr(e.msg, "30000x20000") != NULL, "message: %s", e.msg);
    static const uint8_t gif[] = {'G', 'I', 'F', '8', '9', 'a', 0x60, 0xEA, 0x0A, 0x00,
                                  0x00, 0x00, 0x00, 0x3B};
    T_CHECK(io_image_probe(gif, sizeof gif, &w, &h, &c, &e) == NN_ERR_LIMIT);
}

static void test_reject_garbage(void)
{
    nn_err e;
    io_image im;
    int w, h, c;
    uint8_t buf[4096] = {0};
    T_CHECK(io_image_probe(buf, 0, &w, &h, &c, &e) == NN_ERR_IMAGE);
    T_CHECK(io_image_probe(NULL, 10, &w, &h, &c, &e) == NN_ERR_IMAGE);
    T_CHECK(io_image_decode(buf, 0, 3, &im, &e) == NN_ERR_IMAGE && im.px == NULL);
    T_CHECK(io_image_probe(buf, IO_IMAGE_MAX_BYTES + 1, &w, &h, &c, &e) == NN_ERR_LIMIT);
    T_CHECK(io_image_decode(buf, sizeof buf, 3, &im, &e) == NN_ERR_IMAGE);
    T_CHECKF(strstr(e.msg, "not a recognised image") != NULL, "message: %s", e.msg);
    int accepted = 0;
    for (int trial = 0; trial < 300; trial++) {
        size_t n = 1 + rng() % sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)rng();
        /* every fourth trial behind a real signature, to reach the decoders */
        static const uint8_t sigs[4][8] = {{0}, {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'},
                                           {0xFF, 0xD8, 0xFF, 0xE0}, {'B', 'M'}};
        int s = trial % 4;
        if (s)
            memcpy(buf, sigs[s], n < 8 ? n : 8);
        if (io_image_decode(buf, n, 3, &im, &e) == NN_OK) {
            accepted++;
            io_image_free(&im);
        }
    }
    T_CHECKF(accepted == 0, "%d random buffers decoded as images", accepted);
}

/* Every proper prefix of a valid file is refused (never a crash). */
static void check_prefixes(const char *what, const uint8_t *f, size_t len, size_t step)
{
    nn_err e;
    io_image im;
    int accepted = 0;
    T_CHECKF(io_image_decode(f, len, 3, &im, &e) == NN_OK, "%s whole: %s", what, e.msg);
    io_image_free(&im);
    /* a cut inside PNG's final IEND chunk (12 bytes) or of GIF's trailer
     * byte loses no pixels: accepted */
    size_t end = strcmp(what, "PNG") == 0 ? len - 12 : strcmp(what, "GIF") == 0 ? len - 1 : len;
    for (size_t n = 0; n < end; n += n < 64 ? 1 : step) {
        if (io_image_decode(f, n, 3, &im, &e) == NN_OK) {
            accepted++;
            io_image_free(&im);
        }
    }
    T_CHECKF(accepted == 0, "%s: %d truncated prefixes decoded", what, accepted);
}

static void test_truncated(void)
{
    enum { W = 40, H = 30 };
    uint8_t px[W * H * 3];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)(rng() % 64 + (i % 97));
    size_t len;
    uint8_t *f = encode(ENC_PNG, px, W, H, 3, &len);
    check_prefixes("PNG", f, len, 1);
    free(f);
    f = encode(ENC_JPG, px, W, H, 3, &len);
    check_prefixes("JPEG", f, len, 1);
    free(f);
    f = encode(ENC_BMP, px, W, H, 3, &len);
    check_prefixes("BMP", f, len, 7);
    free(f);
    check_prefixes("GIF", gif4x3, sizeof gif4x3, 1);
}

/* Valid files with 1-4 random bytes changed: decoding may fail or give some
 * image, but never crashes (under ASan: no invalid access) and never
 * returns an image outside the limits. */
static void test_mutated(void)
{
    enum { W = 24, H = 18 };
    uint8_t px[W * H * 3];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)(rng() % 32 + i % 200);
    size_t len[4];
    uint8_t *f[4] = {encode(ENC_PNG, px, W, H, 3, &len[0]), encode(ENC_JPG, px, W, H, 3, &len[1]),
                     encode(ENC_BMP, px, W, H, 3, &len[2]), malloc(sizeof gif4x3)};
    len[3] = sizeof gif4x3;
    if (f[3])
        memcpy(f[3], gif4x3, sizeof gif4x3);
    int decoded = 0, refused = 0, bad = 0;
    for (int k = 0; k < 4; k++) {
        T_CHECK(f[k] != NULL);
        uint8_t *m = f[k] ? malloc(len[k]) : NULL;
        for (int trial = 0; m && trial < 250; trial++) {
            memcpy(m, f[k], len[k]);
            int flips = 1 + (int)(rng() % 4);
            for (int j = 0; j < flips; j++)
                m[rng() % len[k]] = (uint8_t)rng();
            io_image im;
            nn_err e;
            if (io_image_decode(m, len[k], 3, &im, &e) == NN_OK) {
                decoded++;
                bad += im.w < 1 || im.h < 1 || im.w > IO_IMAGE_MAX_DIM || im.h > IO_IMAGE_MAX_DIM ||
                       im.c != 3 || !im.px;
                io_image_free(&im);
            } else {
                refused++;
                bad += e.status == NN_OK || e.msg[0] == '\0';
            }
        }
        free(m);
        free(f[k]);
    }
    printf("mutated files: %d decoded, %d refused\n", decoded, refused);
    T_CHECK(bad == 0 && decoded + refused == 1000);
}

/* ---- preprocessing ------------------------------------------------------- */

/* A recipe that returns raw pixel values: scale 1, mean 0, std 1. */
static io_preproc raw_recipe(int c, int out_h, int out_w, int resize, int crop)
{
    io_preproc p = {.channels = c, .out_h = out_h, .out_w = out_w, .resize = resize,
                    .crop = crop, .scale = 1.0f, .mean = {0, 0, 0}, .std = {1, 1, 1}};
    return p;
}

/* Preprocesses a gray image given as bytes; out gets out_h*out_w floats. */
static nn_status prep_gray(const uint8_t *px, int w, int h, io_preproc p, float *out, nn_err *e)
{
    io_image im = {.w = w, .h = h, .c = 1, .px = (uint8_t *)px};
    return io_image_preprocess(&im, &p, out, e);
}

static void test_resize_identity_constant(void)
{
    enum { W = 17, H = 13 };
    uint8_t px[W * H * 3];
    float out[W * H * 3];
    nn_err e;
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)rng();
    io_image im = {.w = W, .h = H, .c = 3, .px = px};
    /* stretch to the same size, and Resize(shorter side) */
    io_preproc recipes[2] = {raw_recipe(3, H, W, 0, 0), raw_recipe(3, H, W, H, 0)};
    for (int r = 0; r < 2; r++) {
        T_CHECK(io_image_preprocess(&im, &recipes[r], out, &e) == NN_OK);
        int bad = 0;
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < W * H; i++)
                bad += out[c * W * H + i] != px[i * 3 + c];
        T_CHECKF(bad == 0, "recipe %d: %d pixels changed", r, bad);
    }
    /* a constant image stays constant through any resize */
    static const int sizes[][4] = {{5, 7, 0, 0}, {100, 3, 0, 0}, {224, 224, 256, 224},
                                   {1, 1, 0, 0}, {40, 40, 41, 40}};
    static float big[224 * 224 * 3];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = 201;
    for (int s = 0; s < 5; s++) {
        io_preproc p = raw_recipe(3, sizes[s][0], sizes[s][1], sizes[s][2], sizes[s][3]);
        T_CHECKF(io_image_preprocess(&im, &p, big, &e) == NN_OK, "%s", e.msg);
        int bad = 0;
        for (int i = 0; i < 3 * p.out_h * p.out_w; i++)
            bad += big[i] != 201.0f;
        T_CHECKF(bad == 0, "size %d: %d pixels not 201", s, bad);
    }
}

static void test_resize_pil_values(void)
{
    nn_err e;
    float out[64];
    /* 1-D cases, horizontal and vertical, values from PIL Image.resize */
    static const uint8_t two[2] = {0, 255}, seven[7] = {0, 100, 200, 50, 250, 10, 90};
    static const float two_to_1[1] = {128}, two_to_5[5] = {0, 25, 128, 230, 255};
    static const float seven_to_3[3] = {86, 133, 90};
    T_CHECK(prep_gray(two, 2, 1, raw_recipe(1, 1, 1, 0, 0), out, &e) == NN_OK);
    T_CHECK(out[0] == two_to_1[0]);
    T_CHECK(prep_gray(two, 2, 1, raw_recipe(1, 1, 5, 0, 0), out, &e) == NN_OK);
    T_CHECK(memcmp(out, two_to_5, sizeof two_to_5) == 0);
    T_CHECK(prep_gray(seven, 7, 1, raw_recipe(1, 1, 3, 0, 0), out, &e) == NN_OK);
    T_CHECK(memcmp(out, seven_to_3, sizeof seven_to_3) == 0);
    T_CHECK(prep_gray(seven, 1, 7, raw_recipe(1, 3, 1, 0, 0), out, &e) == NN_OK);
    T_CHECK(memcmp(out, seven_to_3, sizeof seven_to_3) == 0);

    /* 2-D: 5x4 down to 3x2 and up to 7x9 (PIL, with its uint8 rounding
     * between the horizontal and the vertical pass) */
    static const uint8_t a[4 * 5] = {10, 200, 30, 40, 250, 0, 90, 180, 70, 60,
                                     255, 5, 128, 64, 32, 1, 2, 3, 4, 5};
    static const float down[2 * 3] = {77, 101, 103, 69, 58, 31};
    static const float up[9 * 7] = {
        10, 119, 151, 30, 37, 130, 250, 8, 108, 145, 55, 48, 119, 218,
        4, 77, 130, 122, 76, 91, 134, 14, 54, 112, 177, 100, 65, 58,
        128, 82, 78, 154, 92, 58, 46, 241, 109, 44, 131, 83, 51, 34,
        156, 69, 25, 79, 52, 32, 22, 43, 20, 8, 24, 17, 12, 10,
        1, 2, 2, 3, 4, 4, 5};
    T_CHECK(prep_gray(a, 5, 4, raw_recipe(1, 2, 3, 0, 0), out, &e) == NN_OK);
    T_CHECK(memcmp(out, down, sizeof down) == 0);
    T_CHECK(prep_gray(a, 5, 4, raw_recipe(1, 9, 7, 0, 0), out, &e) == NN_OK);
    int bad = 0;
    for (int i = 0; i < 63; i++)
        bad += out[i] != up[i];
    T_CHECKF(bad == 0, "%d of 63 upscaled pixels differ from PIL", bad);
}

static void test_resize_rule_and_crop(void)
{
    nn_err e;
    static uint8_t px[480 * 360];
    static float out[256 * 342];
    /* Resize(256) of 480x360 (WxH) is 341x256: int(256 * 480 / 360) */
    T_CHECK(prep_gray(px, 480, 360, raw_recipe(1, 256, 341, 256, 0), out, &e) == NN_OK);
    T_CHECK(prep_gray(px, 480, 360, raw_recipe(1, 256, 342, 256, 0), out, &e) == NN_ERR_SHAPE);
    T_CHECK(prep_gray(px, 360, 480, raw_recipe(1, 341, 256, 256, 0), out, &e) == NN_OK);
    T_CHECK(prep_gray(px, 480, 360, raw_recipe(1, 200, 200, 256, 224), out, &e) == NN_ERR_SHAPE);

    /* Center crop without resizing (resize = shorter side): pixel value
     * y*W + x shows the offsets; round((size - crop) / 2) is half-to-even:
     * 11 -> 4: 3.5 -> 4; 9 -> 4: 2.5 -> 2; 13 -> 4: 4.5 -> 4. */
    static const int cases[][4] = {{11, 9, 4, 2}, {9, 13, 2, 4}, {10, 10, 3, 3}};
    for (int k = 0; k < 3; k++) {
        int w = cases[k][0], h = cases[k][1];
        for (int i = 0; i < w * h; i++)
            px[i] = (uint8_t)i;
        int shorter = w < h ? w : h;
        T_CHECK(prep_gray(px, w, h, raw_recipe(1, 4, 4, shorter, 4), out, &e) == NN_OK);
        int left = cases[k][2], top = cases[k][3];
        T_CHECKF(out[0] == (float)(top * w + left), "case %d: first pixel %g", k, (double)out[0]);
        T_CHECK(out[15] == (float)((top + 3) * w + left + 3));
    }
    /* crop larger than the image: zero padding of (crop - size) // 2 first */
    for (int i = 0; i < 6; i++)
        px[i] = (uint8_t)(10 + i);      /* 3x2 */
    io_preproc p = raw_recipe(1, 5, 5, 2, 5);
    p.mean[0] = 0.5f;
    T_CHECK(prep_gray(px, 3, 2, p, out, &e) == NN_OK);
    T_CHECK(out[0] == -0.5f && out[5 + 1] == 9.5f && out[5 + 3] == 11.5f);
    T_CHECK(out[2 * 5 + 1] == 12.5f && out[2 * 5 + 4] == -0.5f && out[3 * 5 + 1] == -0.5f);
}

static void test_normalise(void)
{
    uint8_t px[3] = {10, 20, 30};
    float out[3];
    nn_err e;
    io_image im = {.w = 1, .h = 1, .c = 3, .px = px};
    io_preproc p = {.channels = 3, .out_h = 1, .out_w = 1, .scale = 1.0f / 255.0f,
                    .mean = {0.5f, 0.25f, 0.125f}, .std = {0.5f, 2.0f, 4.0f}};
    T_CHECK(io_image_preprocess(&im, &p, out, &e) == NN_OK);
    double want[3] = {(10 / 255.0 - 0.5) / 0.5, (20 / 255.0 - 0.25) / 2.0, (30 / 255.0 - 0.125) / 4.0};
    for (int c = 0; c < 3; c++)
        T_CHECKF(fabs(out[c] - want[c]) < 1e-6, "channel %d: %g vs %g", c, (double)out[c], want[c]);

    /* recipe errors */
    p.std[1] = 0.0f;
    T_CHECK(io_image_preprocess(&im, &p, out, &e) == NN_ERR_INVALID);
    p.std[1] = 2.0f;
    p.channels = 1;
    T_CHECK(io_image_preprocess(&im, &p, out, &e) == NN_ERR_INVALID);
    p.channels = 3;
    p.crop = 2;
    T_CHECK(io_image_preprocess(&im, &p, out, &e) == NN_ERR_SHAPE);
    p.crop = 0;
    p.resize = -1;
    T_CHECK(io_image_preprocess(&im, &p, out, &e) == NN_ERR_INVALID);
}

/* ---- recipe from metadata ---------------------------------------------- */

static nn_status recipe_of(const char *const *kv, io_preproc *p, nn_err *e)
{
    nn_graph *g = nn_graph_create();
    if (!g)
        return NN_ERR_NOMEM;
    for (int i = 0; kv[i]; i += 2)
        nn_graph_set_meta(g, kv[i], kv[i + 1]);
    nn_status st = io_preproc_from_graph(g, p, e);
    nn_graph_free(g);
    return st;
}

static void test_preproc_from_graph(void)
{
    io_preproc p;
    nn_err e;
    const char *none[] = {NULL};
    T_CHECK(recipe_of(none, &p, &e) == NN_OK);
    T_CHECK(p.channels == 3 && p.out_h == 224 && p.out_w == 224 && p.resize == 256 && p.crop == 224);
    T_CHECK(p.scale == 1.0f / 255.0f && p.mean[2] == 0.0f && p.std[0] == 1.0f);

    const char *imagenet[] = {IO_META_INPUT_SHAPE, "3x224x224", IO_META_COLOR, "rgb",
                              IO_META_MEAN, "0.485,0.456,0.406", IO_META_STD, "0.229, 0.224, 0.225",
                              NULL};
    T_CHECK(recipe_of(imagenet, &p, &e) == NN_OK);
    T_CHECK(p.mean[1] == 0.456f && p.std[2] == 0.225f && p.resize == 256);

    const char *gray[] = {IO_META_INPUT_SHAPE, "1x28x28", IO_META_COLOR, "gray", IO_META_MEAN,
                          "0.5", IO_META_STD, "0.5", IO_META_SCALE, "0.00392156863", NULL};
    T_CHECK(recipe_of(gray, &p, &e) == NN_OK);
    T_CHECK(p.channels == 1 && p.out_h == 28 && p.resize == 0 && p.crop == 0);
    T_CHECK(p.mean[0] == 0.5f && p.std[0] == 0.5f && fabsf(p.scale - 1.0f / 255.0f) < 1e-9f);

    const char *keras[] = {IO_META_INPUT_SHAPE, "3x150x150", IO_META_RESIZE, "0", NULL};
    T_CHECK(recipe_of(keras, &p, &e) == NN_OK && p.out_w == 150 && p.resize == 0 && p.crop == 0);
    const char *rc[] = {IO_META_INPUT_SHAPE, "3x299x299", IO_META_RESIZE, "342", NULL};
    T_CHECK(recipe_of(rc, &p, &e) == NN_OK && p.resize == 342 && p.crop == 299);
    const char *gray_only[] = {IO_META_COLOR, "gray", NULL};
    T_CHECK(recipe_of(gray_only, &p, &e) == NN_OK && p.channels == 1 && p.out_h == 224);

    /* malformed values: NN_ERR_FORMAT naming the key */
    static const char *const bad[][3] = {
        {IO_META_INPUT_SHAPE, "3x224", "input_shape"}, {IO_META_INPUT_SHAPE, "2x8x8", "input_shape"},
        {IO_META_INPUT_SHAPE, "3x0x8", "input_shape"}, {IO_META_INPUT_SHAPE, "3x8x8x", "input_shape"},
        {IO_META_COLOR, "bgr", "color"},               {IO_META_RESIZE, "25six", "resize"},
        {IO_META_RESIZE, "-1", "resize"},              {IO_META_CROP, "", "crop"},
        {IO_META_SCALE, "0", "scale"},                 {IO_META_SCALE, "nan", "scale"},
        {IO_META_MEAN, "0.5,0.5", "mean"},             {IO_META_MEAN, "0.5;0.5;0.5", "mean"},
        {IO_META_STD, "0.2,0,0.2", "std"},             {IO_META_STD, "1e999", "std"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *kv[] = {bad[i][0], bad[i][1], NULL};
        T_CHECKF(recipe_of(kv, &p, &e) == NN_ERR_FORMAT && strstr(e.msg, bad[i][2]),
                 "%s=\"%s\": %s", bad[i][0], bad[i][1], e.msg);
    }
    const char *clash[] = {IO_META_INPUT_SHAPE, "3x28x28", IO_META_COLOR, "gray", NULL};
    T_CHECK(recipe_of(clash, &p, &e) == NN_ERR_FORMAT);
}

/* ---- torchvision references (TESTDATA) ----------------------------------- */

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *b = NULL;
    long n;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
        b = malloc((size_t)n);
        if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
            free(b);
            b = NULL;
        }
        *len = (size_t)n;
    }
    fclose(f);
    return b;
}

/* Data of a .npy holding little-endian float32 in C order with the given
 * shape text, e.g. "(1, 3, 224, 224)"; NULL if it is anything else. */
static const float *npy_f32(const uint8_t *b, size_t len, const char *shape, size_t numel)
{
    if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        return NULL;
    size_t hl = b[8] | (size_t)b[9] << 8, off = 10;
    if (b[6] >= 2) {
        if (len < 12)
            return NULL;
        hl = b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        off = 12;
    }
    if (hl > len - off || len - off - hl != numel * 4)
        return NULL;
    char hdr[256];
    size_t n = hl < sizeof hdr - 1 ? hl : sizeof hdr - 1;
    memcpy(hdr, b + off, n);
    hdr[n] = '\0';
    if (!strstr(hdr, "'descr': '<f4'") || !strstr(hdr, "'fortran_order': False") ||
        !strstr(hdr, shape))
        return NULL;
    return (const float *)(b + off + hl);
}

static void test_imagenet_references(void)
{
    const char *td = getenv("TESTDATA");
    char dir[1024], path[1400];
    if (!td || !*td) {
        printf("imagenet references: skipped (TESTDATA not set)\n");
        return;
    }
    snprintf(dir, sizeof dir, "%s/reference/imagenet_preproc", td);
    DIR *d = opendir(dir);
    if (!d) {
        printf("imagenet references: skipped (%s absent)\n", dir);
        return;
    }
    const io_preproc p = {.channels = 3, .out_h = 224, .out_w = 224, .resize = 256, .crop = 224,
                          .scale = 1.0f / 255.0f, .mean = {0.485f, 0.456f, 0.406f},
                          .std = {0.229f, 0.224f, 0.225f}};
    enum { N = 3 * 224 * 224 };
    static float out[N];
    int count = 0;
    double worst_mean = 0, worst_max = 0, sum_mean = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t nl = strlen(de->d_name);
        if (nl < 5 || strcmp(de->d_name + nl - 4, ".npy") != 0)
            continue;
        size_t rlen = 0, ilen = 0;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        uint8_t *ref = read_all(path, &rlen);
        snprintf(path, sizeof path, "%s/imagenet/images/%.*s.jpg", td, (int)nl - 4, de->d_name);
        uint8_t *img = read_all(path, &ilen);
        const float *r = ref ? npy_f32(ref, rlen, "(1, 3, 224, 224)", N) : NULL;
        T_CHECKF(img && r, "%s: image or reference unreadable", de->d_name);
        io_image im = {0};
        nn_err e;
        double t0 = (double)clock();
        nn_status st = img && r ? io_image_decode(img, ilen, 3, &im, &e) : NN_ERR_IO;
        if (st == NN_OK)
            st = io_image_preprocess(&im, &p, out, &e);
        double ms = ((double)clock() - t0) * 1000.0 / CLOCKS_PER_SEC;
        T_CHECKF(st == NN_OK || !img || !r, "%s: %s", de->d_name, e.msg);
        if (st == NN_OK) {
            double sum = 0, mx = 0;
            for (int i = 0; i < N; i++) {
                float rv;
                memcpy(&rv, r + i, 4);  /* unaligned-safe */
                double dd = fabs((double)out[i] - rv);
                sum += dd;
                mx = dd > mx ? dd : mx;
            }
            double mean = sum / N;
            printf("  %-24s %4dx%-4d mean|d| %.5f max|d| %.4f  %.1f ms\n", de->d_name, im.w, im.h,
                   mean, mx, ms);
            T_CHECKF(mean < 0.01, "%s: mean abs difference %.5f", de->d_name, mean);
            count++;
            sum_mean += mean;
            worst_mean = mean > worst_mean ? mean : worst_mean;
            worst_max = mx > worst_max ? mx : worst_max;
        }
        io_image_free(&im);
        free(img);
        free(ref);
    }
    closedir(d);
    T_CHECK(count > 0);
    printf("imagenet references: %d images, mean|d| avg %.5f worst %.5f, max|d| %.4f\n", count,
           count ? sum_mean / count : 0.0, worst_mean, worst_max);
}

int main(void)
{
    T_RUN(test_decode_png_rgb);
    T_RUN(test_decode_gray_and_alpha);
    T_RUN(test_decode_bmp_jpeg);
    T_RUN(test_decode_gif);
    T_RUN(test_probe_limits);
    T_RUN(test_reject_garbage);
    T_RUN(test_truncated);
    T_RUN(test_mutated);
    T_RUN(test_resize_identity_constant);
    T_RUN(test_resize_pil_values);
    T_RUN(test_resize_rule_and_crop);
    T_RUN(test_normalise);
    T_RUN(test_preproc_from_graph);
    T_RUN(test_imagenet_references);
    return t_summary("test_image");
}
