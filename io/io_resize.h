/* io_resize.h — the two passes of io_preproc.c's resize, bit-compatible
 * with PIL's ImagingResample for BILINEAR on 8-bit images (Pillow 9):
 * per-output coefficients computed in double and rounded to 22-bit fixed
 * point (io_axis_init), a horizontal pass then a vertical pass, each
 * accumulating in int32 from 1 << 21, shifted right by 22 and clipped to
 * [0, 255]. The naive passes (io_resize.c) are the reference; the AVX2 ones
 * (io_resize_avx2.c) give the same bytes, and io_resize_kernels_for picks
 * one set by ISA. */
#ifndef IO_RESIZE_H
#define IO_RESIZE_H

#include <stddef.h>
#include <stdint.h>

#include "../nn/kernels/sgemm.h"
#include "../nn/nn_status.h"

/* PIL's fixed-point precision of resampling coefficients for 8-bit images
 * (Resample.c: 32 bits - 8 bits of pixel - 2 bits of headroom). */
#define IO_RESIZE_PREC_BITS 22

/* Coefficients of one axis of a resize in_size -> out_size, for the n
 * outputs first .. first+n-1: output i reads inputs lo[i] .. lo[i]+cnt[i]-1
 * (inside [0, in_size)) with weights k[i*ksize ..] (sum ~ 1 << 22; entries
 * from cnt[i] on are 0). Owned; io_axis_free releases. */
typedef struct io_axis {
    int n, ksize;
    int *lo, *cnt;      /* [n] */
    int32_t *k;         /* [n, ksize] */
} io_axis;

/* As PIL's precompute_coeffs + normalize_coeffs_8bpc with box (0, in_size).
 * in_size, out_size >= 1, 0 <= first, first + n <= out_size. */
nn_status io_axis_init(io_axis *a, int in_size, int out_size, int first, int n, nn_err *e);
void io_axis_free(io_axis *a);

/* A sum of the passes shifted back and clipped to a byte, as PIL's clip8. */
static inline uint8_t io_resize_clip(int32_t s)
{
    s >>= IO_RESIZE_PREC_BITS;
    return (uint8_t)(s < 0 ? 0 : s > 255 ? 255 : s);
}

/* Output i of the horizontal pass over one row (c channels from row) by
 * the reference sums, into out[0, c): the AVX2 pass's fallback too. */
void io_resize_h_px_ref(const uint8_t *row, int c, const io_axis *ax, int i, uint8_t *out);

/* Horizontal pass: rows y0..y1-1 of src (w pixels of c channels, rows w*c
 * bytes apart; src_bytes readable from src) into dst [y1-y0, ax->n, c]. */
typedef void (*io_resize_h_fn)(const uint8_t *src, size_t src_bytes, int w, int c, int y0, int y1,
                               const io_axis *ax, uint8_t *dst);
/* Vertical pass: src holds rows y0.. of `stride` bytes; output row i of ay
 * goes to dst + i * stride. acc: `stride` int32 of scratch. */
typedef void (*io_resize_v_fn)(const uint8_t *src, size_t stride, int y0, const io_axis *ay,
                               int32_t *acc, uint8_t *dst);

typedef struct io_resize_kernels {
    const char *name;   /* "ref" or "avx2" */
    io_resize_h_fn h;
    io_resize_v_fn v;
} io_resize_kernels;

void io_resize_h_u8_ref(const uint8_t *src, size_t src_bytes, int w, int c, int y0, int y1,
                        const io_axis *ax, uint8_t *dst);
void io_resize_v_u8_ref(const uint8_t *src, size_t stride, int y0, const io_axis *ay,
                        int32_t *acc, uint8_t *dst);
void io_resize_h_u8_avx2(const uint8_t *src, size_t src_bytes, int w, int c, int y0, int y1,
                         const io_axis *ax, uint8_t *dst);
void io_resize_v_u8_avx2(const uint8_t *src, size_t stride, int y0, const io_axis *ay,
                         int32_t *acc, uint8_t *dst);

/* The passes for isa: AVX2 (also on AVX-512 CPUs) or the reference. */
const io_resize_kernels *io_resize_kernels_for(nn_isa isa);

#endif
