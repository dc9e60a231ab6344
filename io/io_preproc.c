/* io_preproc.c — image to network input tensor, bit-compatible with
 * torchvision's Resize(N) + CenterCrop(S) + ToTensor + Normalize on PIL.
 *
 * The resize reproduces PIL's ImagingResample for BILINEAR (Pillow 9):
 * separable triangle filter whose support grows with the downscale factor,
 * per-output coefficients in double then 22-bit fixed point, a horizontal
 * pass then a vertical pass, each rounded and clipped to uint8 (the passes:
 * io_resize.h). Only the pixels that survive the center crop are computed.
 * The recipe comes from the model's metadata (io_preproc_from_graph, at the
 * end). */
#include "io_image.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../nn/nn_tensor.h"
#include "io_meta.h"
#include "io_resize.h"

/* torchvision's CenterCrop position along one axis: the resized-image index
 * of crop index 0. int(round((size - crop) / 2.0)) with Python's
 * round-half-to-even; a crop larger than the image zero-pads it first by
 * (crop - size) // 2 on the leading side (negative result). */
static int crop_offset(int size, int crop)
{
    if (crop > size)
        return -((crop - size) / 2);
    int d = size - crop, k = d / 2;
    if (d % 2 == 1 && k % 2 == 1)
        k++;
    return k;
}

/* torchvision's Resize(int) output size: shorter side to n, longer side
 * int(n * long / short) (truncated, computed in double as Python does). */
static void resize_size(int w, int h, int n, int *rw, int *rh)
{
    int sh = w <= h ? w : h, lg = w <= h ? h : w;
    int nl = (int)((double)((int64_t)n * lg) / (double)sh);
    *rw = w <= h ? n : nl;
    *rh = w <= h ? nl : n;
}

void io_preproc_geometry(const io_preproc *p, int w, int h, int *rw, int *rh, int *left, int *top)
{
    if (p->resize > 0) {
        resize_size(w, h, p->resize, rw, rh);
    } else {
        *rw = p->out_w;
        *rh = p->out_h;
    }
    *left = p->crop > 0 ? crop_offset(*rw, p->crop) : 0;
    *top = p->crop > 0 ? crop_offset(*rh, p->crop) : 0;
}

static int finite_f(float v)
{
    return isfinite(v);
}

static nn_status recipe_check(const io_image *img, const io_preproc *p, nn_err *e)
{
    if (!img || !img->px || !p)
        return nn_err_set(e, NN_ERR_INVALID, "io_image_preprocess: missing image or recipe");
    if (p->channels != 1 && p->channels != 3)
        return nn_err_set(e, NN_ERR_INVALID, "recipe channels must be 1 or 3, not %d", p->channels);
    if (img->c != p->channels)
        return nn_err_set(e, NN_ERR_INVALID, "image has %d channels, the recipe wants %d",
                          img->c, p->channels);
    if (img->w < 1 || img->h < 1 || img->w > IO_IMAGE_MAX_DIM || img->h > IO_IMAGE_MAX_DIM)
        return nn_err_set(e, NN_ERR_INVALID, "image size %dx%d out of range", img->w, img->h);
    if (p->out_w < 1 || p->out_h < 1 || p->out_w > IO_IMAGE_MAX_DIM ||
        p->out_h > IO_IMAGE_MAX_DIM || (int64_t)p->out_w * p->out_h > IO_IMAGE_MAX_PIXELS)
        return nn_err_set(e, NN_ERR_INVALID, "network input %dx%d out of range", p->out_h, p->out_w);
    if (p->resize < 0 || p->resize > IO_IMAGE_MAX_DIM || p->crop < 0 || p->crop > IO_IMAGE_MAX_DIM)
        return nn_err_set(e, NN_ERR_INVALID, "resize %d / crop %d out of range [0, %d]",
                          p->resize, p->crop, IO_IMAGE_MAX_DIM);
    if (!finite_f(p->scale))
        return nn_err_set(e, NN_ERR_INVALID, "scale is not finite");
    for (int c = 0; c < p->channels; c++)
        if (!finite_f(p->mean[c]) || !finite_f(p->std[c]) || p->std[c] == 0.0f)
            return nn_err_set(e, NN_ERR_INVALID, "channel %d: mean %g / std %g invalid", c,
                              (double)p->mean[c], (double)p->std[c]);
    return NN_OK;
}

nn_status io_image_preprocess(const io_image *img, const io_preproc *p, float *out, nn_err *e)
{
    io_axis ax = {0}, ay = {0};
    const io_resize_kernels *rk;
    nn_isa isa;
    uint8_t *tmp = NULL, *px = NULL;
    int32_t *acc = NULL;
    nn_status st = recipe_check(img, p, e);
    if (st != NN_OK)
        return st;
    if (!out)
        return nn_err_set(e, NN_ERR_INVALID, "io_image_preprocess: no output buffer");

    int c = p->channels, rw, rh, left, top;
    io_preproc_geometry(p, img->w, img->h, &rw, &rh, &left, &top);
    int cw = p->crop > 0 ? p->crop : rw, ch = p->crop > 0 ? p->crop : rh;
    if (cw != p->out_w || ch != p->out_h) {
        if (p->crop > 0)
            return nn_err_set(e, NN_ERR_SHAPE, "center crop %d does not give the %dx%d network input",
                              p->crop, p->out_h, p->out_w);
        return nn_err_set(e, NN_ERR_SHAPE,
                          "resize %d gives %dx%d (HxW) but the network takes %dx%d; set a crop",
                          p->resize, rh, rw, p->out_h, p->out_w);
    }
    /* Output (oy, ox) reads resized pixel (oy + top, ox + left); resized
     * pixels outside [0, rh) x [0, rw) are the crop's zero padding. */
    int x0 = left < 0 ? 0 : left, x1 = left + cw < rw ? left + cw : rw;
    int y0 = top < 0 ? 0 : top, y1 = top + ch < rh ? top + ch : rh;
    int nx = x1 - x0, ny = y1 - y0;     /* >= 1: the crop overlaps the image */

    if ((st = io_axis_init(&ax, img->w, rw, x0, nx, e)) != NN_OK ||
        (st = io_axis_init(&ay, img->h, rh, y0, ny, e)) != NN_OK)
        goto fail;
    int sy0 = ay.lo[0], sy1 = 0;        /* source rows the vertical pass reads */
    for (int i = 0; i < ny; i++)
        if (ay.lo[i] + ay.cnt[i] > sy1)
            sy1 = ay.lo[i] + ay.cnt[i];
    size_t stride = (size_t)nx * c;     /* nx <= out_w, so no overflow */
    size_t tmp_bytes;
    if (nn_size_mul((size_t)(sy1 - sy0), stride, &tmp_bytes) != 0) {
        st = nn_err_set(e, NN_ERR_LIMIT, "resize buffer too large");
        goto fail;
    }
    tmp = malloc(tmp_bytes);
    px = malloc((size_t)ny * stride);
    acc = malloc(stride * sizeof *acc);
    if (!tmp || !px || !acc) {
        st = nn_err_set(e, NN_ERR_NOMEM, "no memory for resizing %dx%d to %dx%d",
                        img->w, img->h, rw, rh);
        goto fail;
    }
    /* SCANLITE_ISA picks the passes as it picks the kernels (an unusable
     * value fails the model's load before this; here it means the
     * reference); both give the same bytes */
    rk = io_resize_kernels_for(nn_isa_select(&isa, NULL) == NN_OK ? isa : NN_ISA_GENERIC);
    rk->h(img->px, (size_t)img->w * img->h * c, img->w, c, sy0, sy1, &ax, tmp);
    rk->v(tmp, stride, sy0, &ay, acc, px);

    /* ToTensor + Normalize through a per-channel table, as torchvision does
     * in float32: (v * scale - mean) / std. */
    size_t plane = (size_t)p->out_h * p->out_w;
    for (int k = 0; k < c; k++) {
        float lut[256];
        for (int v = 0; v < 256; v++)
            lut[v] = ((float)v * p->scale - p->mean[k]) / p->std[k];
        /* output columns [ox0, ox1) read the image; the rest is padding */
        int ox0 = x0 - left, ox1 = x1 - left;
        for (int oy = 0; oy < p->out_h; oy++) {
            float *o = out + (size_t)k * plane + (size_t)oy * p->out_w;
            int ry = oy + top, ox = 0;
            if (ry >= y0 && ry < y1) {
                const uint8_t *src = px + (size_t)(ry - y0) * stride + k;
                for (; ox < ox0; ox++)
                    o[ox] = lut[0];
                for (; ox < ox1; ox++)
                    o[ox] = lut[src[(size_t)(ox - ox0) * c]];
            }
            for (; ox < p->out_w; ox++)
                o[ox] = lut[0];
        }
    }
    st = NN_OK;

fail:
    io_axis_free(&ax);
    io_axis_free(&ay);
    free(tmp);
    free(px);
    free(acc);
    return st;
}

/* Metadata numbers are written in the C locale; parse them in it whatever
 * the process locale is. Each parser accepts the whole string (surrounding
 * blanks allowed) or fails. */
static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    while (end != s && (*end == ' ' || *end == '\t'))
        end++;
    if (end == s || *end != '\0' || errno == ERANGE || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Up to max comma-separated finite floats of s into v; returns the count or
 * -1. */
static int parse_floats(const char *s, float *v, int max, locale_t loc)
{
    int n = 0;
    for (;;) {
        char *end;
        errno = 0;
        double d = strtod_l(s, &end, loc);
        if (end == s || errno == ERANGE || !isfinite(d) || fabs(d) > 3.0e38 || n == max)
            return -1;
        v[n++] = (float)d;
        while (*end == ' ' || *end == '\t')
            end++;
        if (*end == '\0')
            return n;
        if (*end != ',')
            return -1;
        s = end + 1;
    }
}

/* input_shape "CxHxW" into d[3]. */
static int parse_shape(const char *s, int d[3])
{
    for (int i = 0; i < 3; i++) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (end == s || errno == ERANGE || v < 1 || v > IO_IMAGE_MAX_DIM)
            return -1;
        if (*end != (i < 2 ? 'x' : '\0'))
            return -1;
        d[i] = (int)v;
        s = end + 1;
    }
    return 0;
}

/* mean / std: one value per channel, or one value for all channels. */
static nn_status meta_channels(const nn_graph *g, const char *key, int c, float dflt,
                               float v[3], locale_t loc, nn_err *e)
{
    const char *s = nn_graph_get_meta(g, key);
    for (int i = 0; i < 3; i++)
        v[i] = dflt;
    if (!s)
        return NN_OK;
    float tmp[3];
    int n = parse_floats(s, tmp, 3, loc);
    if (n != 1 && n != c)
        return nn_err_set(e, NN_ERR_FORMAT, "metadata %s: \"%.64s\" is not 1 or %d numbers",
                          key, s, c);
    for (int i = 0; i < c; i++)
        v[i] = tmp[n == 1 ? 0 : i];
    return NN_OK;
}

nn_status io_preproc_from_graph(const nn_graph *g, io_preproc *p, nn_err *e)
{
    if (!g || !p)
        return nn_err_set(e, NN_ERR_INVALID, "io_preproc_from_graph: missing graph or recipe");
    locale_t loc = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (loc == (locale_t)0)
        return nn_err_set(e, NN_ERR_NOMEM, "cannot create the C locale");
    nn_status st = NN_OK;
    const char *s;
    long v;
    int d[3] = {3, 224, 224};

    memset(p, 0, sizeof *p);
    int color = 0;      /* channels named by "color"; 0 = absent */
    if ((s = nn_graph_get_meta(g, IO_META_COLOR))) {
        if (strcmp(s, "rgb") == 0)
            color = 3;
        else if (strcmp(s, "gray") == 0)
            color = 1;
        else {
            st = nn_err_set(e, NN_ERR_FORMAT, "metadata color: \"%.64s\" is not rgb or gray", s);
            goto done;
        }
    }
    if ((s = nn_graph_get_meta(g, IO_META_INPUT_SHAPE))) {
        if (parse_shape(s, d) != 0 || (d[0] != 1 && d[0] != 3)) {
            st = nn_err_set(e, NN_ERR_FORMAT,
                            "metadata input_shape: \"%.64s\" is not CxHxW with C 1 or 3", s);
            goto done;
        }
        if (color && color != d[0]) {
            st = nn_err_set(e, NN_ERR_FORMAT, "metadata color %s disagrees with input_shape %.64s",
                            color == 1 ? "gray" : "rgb", s);
            goto done;
        }
    } else if (color) {
        d[0] = color;
    }
    p->channels = d[0];
    p->out_h = d[1];
    p->out_w = d[2];

    /* ImageNet convention for 224 inputs; otherwise stretch to the input. */
    int std224 = p->out_h == 224 && p->out_w == 224;
    p->resize = std224 ? 256 : 0;
    if ((s = nn_graph_get_meta(g, IO_META_RESIZE))) {
        if (parse_long(s, 0, IO_IMAGE_MAX_DIM, &v) != 0) {
            st = nn_err_set(e, NN_ERR_FORMAT, "metadata resize: \"%.64s\" is not an integer in [0, %d]",
                            s, IO_IMAGE_MAX_DIM);
            goto done;
        }
        p->resize = (int)v;
    }
    /* Without a crop key, a resize of a square input crops to that input. */
    p->crop = p->resize > 0 && p->out_h == p->out_w ? p->out_h : 0;
    if ((s = nn_graph_get_meta(g, IO_META_CROP))) {
        if (parse_long(s, 0, IO_IMAGE_MAX_DIM, &v) != 0) {
            st = nn_err_set(e, NN_ERR_FORMAT, "metadata crop: \"%.64s\" is not an integer in [0, %d]",
                            s, IO_IMAGE_MAX_DIM);
            goto done;
        }
        p->crop = (int)v;
    }
    p->scale = 1.0f / 255.0f;
    if ((s = nn_graph_get_meta(g, IO_META_SCALE))) {
        float f;
        if (parse_floats(s, &f, 1, loc) != 1 || !(f > 0.0f)) {
            st = nn_err_set(e, NN_ERR_FORMAT, "metadata scale: \"%.64s\" is not a positive number", s);
            goto done;
        }
        p->scale = f;
    }
    if ((st = meta_channels(g, IO_META_MEAN, p->channels, 0.0f, p->mean, loc, e)) != NN_OK ||
        (st = meta_channels(g, IO_META_STD, p->channels, 1.0f, p->std, loc, e)) != NN_OK)
        goto done;
    for (int c = 0; c < p->channels; c++)
        if (p->std[c] == 0.0f) {
            st = nn_err_set(e, NN_ERR_FORMAT, "metadata std: channel %d is 0", c);
            goto done;
        }

done:
    freelocale(loc);
    return st;
}
