/* io_image.c — image probing and decoding from memory with stb_image.
 *
 * Untrusted bytes: the format is recognised by its signature (PNG, JPEG,
 * BMP, GIF, PNM only), the header is read with stbi_info_from_memory and the
 * size limits of io_image.h are enforced before any pixel is decoded. A JPEG
 * must be complete (its markers walked up to EOI), as PIL requires. Channel
 * conversions follow PIL's convert("RGB") / convert("L"). */
#include "io_image.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>

#include "../nn/nn_tensor.h"

#define IO_FORMATS "PNG, JPEG, BMP, GIF, PNM"

typedef enum img_format { FMT_NONE, FMT_PNG, FMT_JPEG, FMT_BMP, FMT_GIF, FMT_PNM } img_format;

/* Signature check; stb would also try formats without a signature (TGA),
 * which would let random bytes through as "images". */
static img_format format_sniff(const uint8_t *b, size_t len)
{
    static const uint8_t png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (len >= 8 && memcmp(b, png, 8) == 0)
        return FMT_PNG;
    if (len >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
        return FMT_JPEG;
    if (len >= 14 && b[0] == 'B' && b[1] == 'M')
        return FMT_BMP;
    if (len >= 6 && (memcmp(b, "GIF87a", 6) == 0 || memcmp(b, "GIF89a", 6) == 0))
        return FMT_GIF;
    if (len >= 3 && b[0] == 'P' && (b[1] == '5' || b[1] == '6') &&
        (b[2] == ' ' || b[2] == '\t' || b[2] == '\n' || b[2] == '\r'))
        return FMT_PNM;
    return FMT_NONE;
}

/* Entropy-coded data of a scan starts at b[pos]; returns the offset of the
 * marker that ends it (its 0xFF), or len if the data runs out first. Inside
 * a scan 0xFF is followed by 0x00 (stuffing), RSTn or fill 0xFF. */
static size_t jpeg_scan_end(const uint8_t *b, size_t len, size_t pos)
{
    while (pos < len) {
        const uint8_t *ff = memchr(b + pos, 0xFF, len - pos);
        if (!ff)
            return len;
        pos = (size_t)(ff - b);
        if (pos + 1 >= len)
            return len;
        uint8_t n = b[pos + 1];
        if (n == 0x00 || (n >= 0xD0 && n <= 0xD7))
            pos += 2;
        else if (n == 0xFF)
            pos += 1;
        else
            return pos;
    }
    return len;
}

/* 1 if the marker segments of a JPEG (starting after SOI) reach an EOI
 * marker within len bytes; 0 if the file is truncated. Stray bytes between
 * segments are skipped as libjpeg does. */
static int jpeg_is_complete(const uint8_t *b, size_t len)
{
    size_t pos = 2;
    for (;;) {
        while (pos < len && b[pos] != 0xFF)
            pos++;
        while (pos < len && b[pos] == 0xFF)
            pos++;
        if (pos >= len)
            return 0;
        uint8_t m = b[pos++];
        if (m == 0xD9)
            return 1;
        if (m == 0x01 || m == 0xD8 || (m >= 0xD0 && m <= 0xD7))
            continue;   /* standalone markers: no length field */
        if (len - pos < 2)
            return 0;
        size_t seg = ((size_t)b[pos] << 8) | b[pos + 1];
        if (seg < 2 || seg > len - pos)
            return 0;
        pos += seg;
        if (m == 0xDA)
            pos = jpeg_scan_end(b, len, pos);
    }
}

nn_status io_image_probe(const void *buf, size_t len, int *w, int *h, int *c, nn_err *e)
{
    if (!buf || len == 0)
        return nn_err_set(e, NN_ERR_IMAGE, "empty image (0 bytes)");
    if (len > IO_IMAGE_MAX_BYTES)
        return nn_err_set(e, NN_ERR_LIMIT, "image is %zu bytes, more than the limit of %zu",
                          len, IO_IMAGE_MAX_BYTES);
    if (len > INT_MAX)
        return nn_err_set(e, NN_ERR_LIMIT, "image is %zu bytes, more than the decoder takes", len);
    img_format fmt = format_sniff(buf, len);
    if (fmt == FMT_NONE)
        return nn_err_set(e, NN_ERR_IMAGE, "not a recognised image (" IO_FORMATS ")");
    int iw = 0, ih = 0, ic = 0;
    if (!stbi_info_from_memory(buf, (int)len, &iw, &ih, &ic)) {
        const char *why = stbi_failure_reason();
        return nn_err_set(e, NN_ERR_IMAGE, "unreadable image header: %s", why ? why : "unknown");
    }
    if (iw <= 0 || ih <= 0 || ic < 1 || ic > 4)
        return nn_err_set(e, NN_ERR_IMAGE, "image header gives %dx%d with %d channels", iw, ih, ic);
    if (iw > IO_IMAGE_MAX_DIM || ih > IO_IMAGE_MAX_DIM)
        return nn_err_set(e, NN_ERR_LIMIT, "image is %dx%d, a side exceeds the limit of %d",
                          iw, ih, IO_IMAGE_MAX_DIM);
    if ((int64_t)iw * ih > IO_IMAGE_MAX_PIXELS)
        return nn_err_set(e, NN_ERR_LIMIT, "image is %dx%d, more than the limit of %lld pixels",
                          iw, ih, (long long)IO_IMAGE_MAX_PIXELS);
    if (fmt == FMT_JPEG && !jpeg_is_complete(buf, len))
        return nn_err_set(e, NN_ERR_IMAGE, "truncated JPEG (no end-of-image marker)");
    if (w)
        *w = iw;
    if (h)
        *h = ih;
    if (c)
        *c = ic;
    return NN_OK;
}

/* PIL's ITU-R 601-2 luma in 16-bit fixed point (Convert.c, L24). */
static inline uint8_t luma(const uint8_t *rgb)
{
    return (uint8_t)(((uint32_t)rgb[0] * 19595u + (uint32_t)rgb[1] * 38470u +
                      (uint32_t)rgb[2] * 7471u + 0x8000u) >> 16);
}

/* src: n pixels of sc (1..4) channels; dst: n pixels of dc (1 or 3).
 * Alpha is dropped without compositing, as PIL's convert does. */
static void channels_convert(const uint8_t *src, int sc, uint8_t *dst, int dc, size_t n)
{
    for (size_t i = 0; i < n; i++, src += sc) {
        if (dc == 1) {
            *dst++ = sc >= 3 ? luma(src) : src[0];
        } else if (sc >= 3) {
            *dst++ = src[0];
            *dst++ = src[1];
            *dst++ = src[2];
        } else {
            *dst++ = src[0];
            *dst++ = src[0];
            *dst++ = src[0];
        }
    }
}

nn_status io_image_decode(const void *buf, size_t len, int channels, io_image *out, nn_err *e)
{
    uint8_t *raw = NULL;
    if (!out)
        return nn_err_set(e, NN_ERR_INVALID, "io_image_decode: no output image");
    memset(out, 0, sizeof *out);
    if (channels != 1 && channels != 3)
        return nn_err_set(e, NN_ERR_INVALID, "io_image_decode: channels must be 1 or 3, not %d",
                          channels);
    int w, h, c;
    nn_status st = io_image_probe(buf, len, &w, &h, &c, e);
    if (st != NN_OK)
        return st;

    int rw = 0, rh = 0, rc = 0;
    raw = stbi_load_from_memory(buf, (int)len, &rw, &rh, &rc, 0);
    if (!raw) {
        const char *why = stbi_failure_reason();
        st = nn_err_set(e, NN_ERR_IMAGE, "cannot decode image: %s", why ? why : "unknown");
        goto fail;
    }
    if (rw != w || rh != h || rc < 1 || rc > 4) {
        st = nn_err_set(e, NN_ERR_IMAGE, "decoder returned %dx%dx%d, header said %dx%d",
                        rw, rh, rc, w, h);
        goto fail;
    }
    size_t npx = (size_t)w * (size_t)h, bytes;   /* w*h <= IO_IMAGE_MAX_PIXELS */
    if (nn_size_mul(npx, (size_t)channels, &bytes) != 0) {
        st = nn_err_set(e, NN_ERR_LIMIT, "image %dx%d too large", w, h);
        goto fail;
    }
    out->px = malloc(bytes);
    if (!out->px) {
        st = nn_err_set(e, NN_ERR_NOMEM, "no memory for a %dx%dx%d image", w, h, channels);
        goto fail;
    }
    channels_convert(raw, rc, out->px, channels, npx);
    stbi_image_free(raw);
    out->w = w;
    out->h = h;
    out->c = channels;
    return NN_OK;

fail:
    stbi_image_free(raw);
    memset(out, 0, sizeof *out);
    return st;
}

void io_image_free(io_image *img)
{
    if (!img)
        return;
    free(img->px);
    memset(img, 0, sizeof *img);
}
