/* test_resize.c — the AVX2 resize passes (io/io_resize_avx2.c) against the
 * reference passes (io/io_resize.c): the same bytes for gray and RGB
 * images, up- and downscales, crop windows and windows that end at the
 * image's last pixel. Images are allocated to their exact size, so a pass
 * that reads past one fails under the sanitizer build. The reference
 * itself is checked against PIL in test_image and t_preproc. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_image.h"
#include "io/io_resize.h"
#include "tassert.h"

static uint32_t rng_state = 12345;

static uint32_t rng(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state >> 8;
}

/* Both passes of both kernel sets on one image and output window; returns
 * the number of differing bytes (-1: setup failed). */
static long passes_case(const io_resize_kernels *fast, int w, int h, int c, int ow, int oh, int x0,
                        int nx, int y0, int ny)
{
    io_axis ax, ay;
    nn_err e;
    long bad = -1;
    uint8_t *img = malloc((size_t)w * h * c);
    if (!img || io_axis_init(&ax, w, ow, x0, nx, &e) != NN_OK) {
        free(img);
        return -1;
    }
    if (io_axis_init(&ay, h, oh, y0, ny, &e) != NN_OK) {
        io_axis_free(&ax);
        free(img);
        return -1;
    }
    for (size_t i = 0; i < (size_t)w * h * c; i++)
        img[i] = (uint8_t)(i % 7 == 0 ? 255 * (rng() % 2) : rng());
    int sy0 = ay.lo[0], sy1 = 0;
    for (int i = 0; i < ny; i++)
        if (ay.lo[i] + ay.cnt[i] > sy1)
            sy1 = ay.lo[i] + ay.cnt[i];
    size_t stride = (size_t)nx * c, tb = (size_t)(sy1 - sy0) * stride, ob = (size_t)ny * stride;
    uint8_t *t1 = malloc(tb), *t2 = malloc(tb), *o1 = malloc(ob), *o2 = malloc(ob);
    int32_t *acc = malloc(stride * sizeof *acc);
    if (t1 && t2 && o1 && o2 && acc) {
        io_resize_h_u8_ref(img, (size_t)w * h * c, w, c, sy0, sy1, &ax, t1);
        fast->h(img, (size_t)w * h * c, w, c, sy0, sy1, &ax, t2);
        bad = 0;
        for (size_t i = 0; i < tb; i++)
            bad += t1[i] != t2[i];
        io_resize_v_u8_ref(t1, stride, sy0, &ay, acc, o1);
        fast->v(t1, stride, sy0, &ay, acc, o2);
        for (size_t i = 0; i < ob; i++)
            bad += o1[i] != o2[i];
    }
    free(t1);
    free(t2);
    free(o1);
    free(o2);
    free(acc);
    free(img);
    io_axis_free(&ax);
    io_axis_free(&ay);
    return bad;
}

static void test_passes_match_reference(void)
{
    /* w, h, out w, out h: downscales (the 2x of a photo to 256, large
     * factors), upscales, 1-pixel sides, widths that are not multiples of
     * the vector steps (32 and 8 bytes of a row) */
    static const int sizes[][4] = {
        {517, 606, 256, 300}, {606, 517, 300, 256}, {1, 1, 1, 1},      {2, 3, 5, 7},
        {13, 11, 4, 3},       {40, 40, 41, 40},     {300, 40, 7, 5},   {10, 7, 31, 23},
        {97, 61, 33, 29},     {1000, 3, 11, 1},     {3, 1000, 1, 11},  {255, 255, 224, 224}};
    const io_resize_kernels *fast = io_resize_kernels_for(NN_ISA_AVX2);
    int cases = 0;
    if (!nn_isa_supported(NN_ISA_AVX2)) {
        printf("  avx2: not supported by this CPU, skipped\n");
        return;
    }
    T_CHECK(strcmp(fast->name, "avx2") == 0);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int c = 1; c <= 3; c += 2)
            for (int win = 0; win < 3; win++) {
                int w = sizes[s][0], h = sizes[s][1], ow = sizes[s][2], oh = sizes[s][3];
                /* whole output; a centred window; the last rows and
                 * columns (windows ending at the image's last pixel) */
                int nx = win == 0 ? ow : (ow + 1) / 2, ny = win == 0 ? oh : (oh + 1) / 2;
                int x0 = win == 1 ? (ow - nx) / 2 : win == 2 ? ow - nx : 0;
                int y0 = win == 1 ? (oh - ny) / 2 : win == 2 ? oh - ny : 0;
                long bad = passes_case(fast, w, h, c, ow, oh, x0, nx, y0, ny);
                T_CHECKF(bad == 0, "%dx%dx%d -> %dx%d window %d: %ld bytes differ", w, h, c, ow,
                         oh, win, bad);
                cases++;
            }
    printf("  %d resize cases compared\n", cases);
}

/* io_image_preprocess with SCANLITE_ISA=generic (reference passes) and
 * without (AVX2 where the CPU has it): the same tensor. */
static void test_preprocess_isa_independent(void)
{
    enum { W = 331, H = 257 };
    static float a[3 * 224 * 224], b[3 * 224 * 224];
    uint8_t *px = malloc((size_t)W * H * 3);
    nn_err e;
    const char *old = getenv("SCANLITE_ISA");
    char *saved = old ? strdup(old) : NULL;
    io_preproc p = {.channels = 3, .out_h = 224, .out_w = 224, .resize = 256, .crop = 224,
                    .scale = 1.0f / 255, .mean = {0.485f, 0.456f, 0.406f},
                    .std = {0.229f, 0.224f, 0.225f}};
    T_CHECK(px != NULL);
    if (!px)
        return;
    for (size_t i = 0; i < (size_t)W * H * 3; i++)
        px[i] = (uint8_t)rng();
    io_image im = {.w = W, .h = H, .c = 3, .px = px};
    unsetenv("SCANLITE_ISA");
    T_CHECK(io_image_preprocess(&im, &p, a, &e) == NN_OK);
    setenv("SCANLITE_ISA", "generic", 1);
    T_CHECK(io_image_preprocess(&im, &p, b, &e) == NN_OK);
    if (saved)
        setenv("SCANLITE_ISA", saved, 1);
    else
        unsetenv("SCANLITE_ISA");
    T_CHECK(memcmp(a, b, sizeof a) == 0);
    free(saved);
    free(px);
}

int main(void)
{
    T_RUN(test_passes_match_reference);
    T_RUN(test_preprocess_isa_independent);
    return t_summary("test_resize");
}
