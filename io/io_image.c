/* io_image.c — image probing and decoding from memory with stb_image.
 *
 * Untrusted bytes: the format is recognised by its signature (PNG, JPEG,
 * BMP, GIF only), the header is read with stbi_info_from_memory and the size
 * limits of io_image.h are enforced before any pixel is decoded. stb pads
 * truncated JPEG/BMP/GIF data silently, so those files are first checked to
 * be complete (as PIL would refuse them). Channel conversions follow PIL's
 * convert("RGB") / convert("L"). */
#include "io_image.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>

#include "../nn/nn_tensor.h"

#define IO_FORMATS "PNG, JPEG, BMP, GIF"

typedef enum img_format { FMT_NONE, FMT_PNG, FMT_JPEG, FMT_BMP, FMT_GIF } img_format;

static uint32_t rd_le16(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t rd_le32(const uint8_t *p)
{
    return rd_le16(p) | rd_le16(p + 2) << 16;
}

static uint32_t rd_be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

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

/* Walks the marker segments of a JPEG after SOI (stray bytes between
 * segments are skipped, as libjpeg does). Stores the frame size of the
 * first SOFn in *w, *h (left untouched if there is none) and returns 1 if
 * an EOI marker is reached within len bytes, 0 if the data runs out. */
static int jpeg_walk(const uint8_t *b, size_t len, uint32_t *w, uint32_t *h)
{
    size_t pos = 2;
    int have_frame = 0;
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
        size_t seg = rd_be16(b + pos);
        if (seg < 2 || seg > len - pos)
            return 0;
        /* SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC) */
        if (!have_frame && m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC &&
            seg >= 8) {
            *h = rd_be16(b + pos + 3);
            *w = rd_be16(b + pos + 5);
            have_frame = 1;
        }
        pos += seg;
        if (m == 0xDA)
            pos = jpeg_scan_end(b, len, pos);
    }
}

/* 1 if an uncompressed BMP holds all the pixel rows its header promises
 * (offset + row bytes * height); compressed variants are left to stb. */
static int bmp_is_complete(const uint8_t *b, size_t len)
{
    if (len < 26)
        return 0;
    uint32_t off = rd_le32(b + 10), hsz = rd_le32(b + 14);
    uint64_t w, h, bpp, comp;
    if (hsz == 12) {
        w = rd_le16(b + 18);
        h = rd_le16(b + 20);
        bpp = rd_le16(b + 24);
        comp = 0;
    } else {
        if (len < 34)
            return 0;
        int32_t sw = (int32_t)rd_le32(b + 18), sh = (int32_t)rd_le32(b + 22);
        w = sw < 0 ? 0 : (uint64_t)sw;
        h = sh < 0 ? (uint64_t)(-(int64_t)sh) : (uint64_t)sh;
        bpp = rd_le16(b + 28);
        comp = rd_le32(b + 30);
    }
    if (comp != 0 && comp != 3)
        return 1;
    /* w, h < 2^32 and bpp < 2^16: no overflow in 64 bits */
    uint64_t row = (w * bpp + 31) / 32 * 4;
    return (uint64_t)off + row * h <= len;
}

/* Skips GIF data sub-blocks (size byte, data) up to the 0 terminator;
 * returns the offset after it, or 0 if the data runs out. */
static size_t gif_skip_blocks(const uint8_t *b, size_t len, size_t pos)
{
    while (pos < len) {
        size_t n = b[pos++];
        if (n == 0)
            return pos;
        if (n > len - pos)
            return 0;
        pos += n;
    }
    return 0;
}

/* 1 if the first frame of a GIF is complete (the frame stb decodes). */
static int gif_is_complete(const uint8_t *b, size_t len)
{
    if (len < 13)
        return 0;
    size_t pos = 13;
    if (b[10] & 0x80)
        pos += (size_t)3 << ((b[10] & 7) + 1);   /* global color table */
    while (pos < len) {
        uint8_t t = b[pos++];
        if (t == 0x21) {                /* extension: label, sub-blocks */
            if (pos >= len || !(pos = gif_skip_blocks(b, len, pos + 1)))
                return 0;
        } else if (t == 0x2C) {         /* image descriptor */
            if (len - pos < 10)
                return 0;
            uint8_t flags = b[pos + 8];
            pos += 9;
            if (flags & 0x80)
                pos += (size_t)3 << ((flags & 7) + 1);
            if (pos >= len)             /* then LZW code size, sub-blocks */
                return 0;
            return gif_skip_blocks(b, len, pos + 1) != 0;
        } else {
            return 0;                   /* trailer or garbage before a frame */
        }
    }
    return 0;
}

/* Image size read from the header by us, so that the limits hold whatever
 * stb's own checks are; -1 if the header is cut or malformed. *complete:
 * 0 if the file is known to be truncated (JPEG, BMP, GIF). */
static int header_dims(img_format fmt, const uint8_t *b, size_t len, uint32_t *w, uint32_t *h,
                       int *complete)
{
    *complete = 1;
    switch (fmt) {
    case FMT_PNG:       /* IHDR must be the first chunk */
        if (len < 24 || memcmp(b + 12, "IHDR", 4) != 0)
            return -1;
        *w = rd_be16(b + 16) << 16 | rd_be16(b + 18);
        *h = rd_be16(b + 20) << 16 | rd_be16(b + 22);
        return 0;
    case FMT_JPEG:
        *w = *h = UINT32_MAX;
        *complete = jpeg_walk(b, len, w, h);
        return *w == UINT32_MAX ? -1 : 0;
    case FMT_BMP:
        if (len < 26)
            return -1;
        *complete = bmp_is_complete(b, len);
        if (rd_le32(b + 14) == 12) {
            *w = rd_le16(b + 18);
            *h = rd_le16(b + 20);
        } else {
            int32_t sh = (int32_t)rd_le32(b + 22);
            *w = rd_le32(b + 18);
            *h = sh < 0 ? (uint32_t)0 - (uint32_t)sh : (uint32_t)sh;
        }
        return 0;
    case FMT_GIF:
        if (len < 10)
            return -1;
        *w = rd_le16(b + 6);
        *h = rd_le16(b + 8);
        *complete = gif_is_complete(b, len);
        return 0;
    default:
        return -1;
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
    uint32_t hw, hh;
    int complete;
    if (header_dims(fmt, buf, len, &hw, &hh, &complete) != 0)
        return nn_err_set(e, NN_ERR_IMAGE, "image header is cut short or malformed");
    if (hw == 0 || hh == 0)
        return nn_err_set(e, NN_ERR_IMAGE, "image header gives an empty %ux%u image", hw, hh);
    if (hw > IO_IMAGE_MAX_DIM || hh > IO_IMAGE_MAX_DIM)
        return nn_err_set(e, NN_ERR_LIMIT, "image is %ux%u, a side exceeds the limit of %d",
                          hw, hh, IO_IMAGE_MAX_DIM);
    if ((int64_t)hw * hh > IO_IMAGE_MAX_PIXELS)
        return nn_err_set(e, NN_ERR_LIMIT, "image is %ux%u, more than the limit of %lld pixels",
                          hw, hh, (long long)IO_IMAGE_MAX_PIXELS);
    int iw = 0, ih = 0, ic = 0;
    if (!stbi_info_from_memory(buf, (int)len, &iw, &ih, &ic)) {
        const char *why = stbi_failure_reason();
        return nn_err_set(e, NN_ERR_IMAGE, "unreadable image header: %s", why ? why : "unknown");
    }
    if ((uint32_t)iw != hw || (uint32_t)ih != hh || ic < 1 || ic > 4)
        return nn_err_set(e, NN_ERR_IMAGE, "image header gives %ux%u, the decoder %dx%dx%d",
                          hw, hh, iw, ih, ic);
    if (!complete)
        return nn_err_set(e, NN_ERR_IMAGE, "truncated %s image",
                          fmt == FMT_JPEG ? "JPEG" : fmt == FMT_BMP ? "BMP" : "GIF");
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
 * Alpha is dropped without compositing, as PIL's convert does. dst may be
 * src when dc <= sc (in place, front to back: pixel i is read before it
 * is written, and its writes end at byte dc*i + 3 < sc*(i + 1), where the
 * pixels still to read begin). */
static void channels_convert(const uint8_t *src, int sc, uint8_t *dst, int dc, size_t n)
{
    size_t i = 0;
    if (sc == 4 && dc == 3) {
        /* every colour JPEG: one 4-byte copy per pixel, whose alpha byte
         * the next pixel's copy overwrites (the last pixel copies 3) */
        for (; i + 1 < n; i++, src += 4, dst += 3) {
            uint32_t px;
            memcpy(&px, src, 4);
            memcpy(dst, &px, 4);
        }
    }
    for (; i < n; i++, src += sc) {
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

    /* A colour JPEG is asked for as RGBA: stb converts YCbCr with SSE2 only
     * for 4-byte pixels (bit-identical to its scalar RGB path, ~0.5 ms less
     * on a 0.3 MP photo); the alpha byte is dropped below. */
    int rw = 0, rh = 0, rc = 0, want = 0;
    if (c == 3 && format_sniff(buf, len) == FMT_JPEG)
        want = 4;
    raw = stbi_load_from_memory(buf, (int)len, &rw, &rh, &rc, want);
    if (raw && want)
        rc = want;
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
    if (channels <= rc) {
        /* in the decoder's buffer: a colour JPEG's RGBA becomes RGB there,
         * not in a new 1 MB (0.3 MP) whose pages fault in every cold start */
        if (rc != channels)
            channels_convert(raw, rc, raw, channels, npx);
        out->px = raw;
        out->px_stb = 1;
    } else {
        if (!(out->px = malloc(bytes))) {
            st = nn_err_set(e, NN_ERR_NOMEM, "no memory for a %dx%dx%d image", w, h, channels);
            goto fail;
        }
        channels_convert(raw, rc, out->px, channels, npx);
        stbi_image_free(raw);
    }
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
    if (img->px_stb)
        stbi_image_free(img->px);
    else
        free(img->px);
    memset(img, 0, sizeof *img);
}
