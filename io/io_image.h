/* io_image.h — image decoding (stb_image, from memory) and preprocessing
 * to a network input tensor as a model's metadata prescribes. */
#ifndef IO_IMAGE_H
#define IO_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "../nn/nn_graph.h"
#include "../nn/nn_status.h"

/* Limits checked from the header, before any pixel is decoded. */
#define IO_IMAGE_MAX_DIM 16384                  /* per side */
#define IO_IMAGE_MAX_PIXELS ((int64_t)64 << 20) /* 64 Mpx: 192 MiB as RGB8 */
#define IO_IMAGE_MAX_BYTES ((size_t)256 << 20)  /* encoded input */

typedef struct io_image {
    int w, h;
    int c;                  /* 1 (gray) or 3 (RGB) */
    uint8_t *px;            /* h*w*c bytes, row-major interleaved; owned */
    int px_stb;             /* px is the decoder's buffer (freed by stb), else malloc's */
} io_image;

/* Header-only probe: size and channels in the file (1..4). */
nn_status io_image_probe(const void *buf, size_t len, int *w, int *h, int *c, nn_err *e);
/* Decodes to channels (1 or 3): gray is replicated to RGB, RGB converted
 * to gray with ITU-R 601-2 luma (as PIL's convert("L")), alpha dropped. */
nn_status io_image_decode(const void *buf, size_t len, int channels, io_image *out, nn_err *e);
void io_image_free(io_image *img);

/* Preprocessing recipe, normally read from a model's metadata. */
typedef struct io_preproc {
    int channels;           /* 1 or 3 */
    int out_h, out_w;       /* network input size */
    int resize;             /* >0: shorter side to this (torchvision Resize(int)); 0: stretch to out_h x out_w */
    int crop;               /* >0: center crop to crop x crop after resize; 0: none */
    float scale;            /* pixel value multiplier (1/255 = ToTensor) */
    float mean[3], std[3];  /* x = (pixel*scale - mean) / std per channel */
} io_preproc;

/* Geometry of recipe p on a w x h image: the resized size *rw x *rh
 * (torchvision Resize(int), or the network size for a stretch) and the
 * top-left corner (*left, *top) of the network input in that resized image
 * (negative when a center crop larger than the image zero-pads it). */
void io_preproc_geometry(const io_preproc *p, int w, int h, int *rw, int *rh, int *left, int *top);

/* Reads the recipe from metadata (io_meta.h); defaults: 3 channels, 224,
 * resize 256, crop 224, scale 1/255, mean 0, std 1. */
nn_status io_preproc_from_graph(const nn_graph *g, io_preproc *p, nn_err *e);
/* Resize (bilinear, antialiased when shrinking, as PIL), crop, normalise
 * into out[channels * out_h * out_w] (CHW). */
nn_status io_image_preprocess(const io_image *img, const io_preproc *p, float *out, nn_err *e);

#endif
