/* io_resize.c — the coefficients of a resize axis and the reference
 * (naive) horizontal and vertical passes (see io_resize.h); the dispatch
 * to the AVX2 passes. */
#include "io_resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../nn/nn_tensor.h"

void io_axis_free(io_axis *a)
{
    free(a->lo);
    free(a->cnt);
    free(a->k);
    memset(a, 0, sizeof *a);
}

static double triangle(double x)
{
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

nn_status io_axis_init(io_axis *a, int in_size, int out_size, int first, int n, nn_err *e)
{
    double scale = (double)in_size / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale;     /* bilinear support is 1 */
    double ss = 1.0 / filterscale;
    /* ksize <= 2 * ceil(in / out) + 1, so n * ksize <= ~2 * in + 3 * n */
    size_t ksize = (size_t)ceil(support) * 2 + 1, nk;
    double *w = NULL;

    memset(a, 0, sizeof *a);
    if (nn_size_mul((size_t)n, ksize, &nk) != 0)
        return nn_err_set(e, NN_ERR_LIMIT, "resize %d -> %d: filter too large", in_size, out_size);
    a->n = n;
    a->ksize = (int)ksize;
    a->lo = malloc((size_t)n * sizeof *a->lo);
    a->cnt = malloc((size_t)n * sizeof *a->cnt);
    a->k = calloc(nk, sizeof *a->k);
    w = malloc(ksize * sizeof *w);
    if (!a->lo || !a->cnt || !a->k || !w) {
        free(w);
        io_axis_free(a);
        return nn_err_set(e, NN_ERR_NOMEM, "no memory for resize coefficients");
    }
    for (int i = 0; i < n; i++) {
        double center = (first + i + 0.5) * scale;
        int xmin = (int)(center - support + 0.5);
        int xmax = (int)(center + support + 0.5);
        if (xmin < 0)
            xmin = 0;
        if (xmax > in_size)
            xmax = in_size;
        int cnt = xmax - xmin;
        if (cnt > (int)ksize)
            cnt = (int)ksize;
        double ww = 0.0;
        for (int x = 0; x < cnt; x++) {
            w[x] = triangle((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        int32_t *k = a->k + (size_t)i * ksize;
        const double one = 1 << IO_RESIZE_PREC_BITS;
        for (int x = 0; x < cnt; x++) {
            double v = ww != 0.0 ? w[x] / ww : w[x];
            k[x] = (int32_t)(v < 0 ? -0.5 + v * one : 0.5 + v * one);
        }
        a->lo[i] = xmin;
        a->cnt[i] = cnt;
    }
    free(w);
    return NN_OK;
}

void io_resize_h_px_ref(const uint8_t *row, int c, const io_axis *ax, int i, uint8_t *out)
{
    const int32_t half = 1 << (IO_RESIZE_PREC_BITS - 1);
    const int32_t *k = ax->k + (size_t)i * ax->ksize;
    const uint8_t *p = row + (size_t)ax->lo[i] * c;
    int cnt = ax->cnt[i];
    if (c == 1) {
        int32_t s = half;
        for (int t = 0; t < cnt; t++)
            s += p[t] * k[t];
        out[0] = io_resize_clip(s);
    } else {
        int32_t s0 = half, s1 = half, s2 = half;
        for (int t = 0; t < cnt; t++, p += 3) {
            s0 += p[0] * k[t];
            s1 += p[1] * k[t];
            s2 += p[2] * k[t];
        }
        out[0] = io_resize_clip(s0);
        out[1] = io_resize_clip(s1);
        out[2] = io_resize_clip(s2);
    }
}

void io_resize_h_u8_ref(const uint8_t *src, size_t src_bytes, int w, int c, int y0, int y1,
                        const io_axis *ax, uint8_t *dst)
{
    (void)src_bytes;    /* reads only the pixels of the windows */
    for (int y = y0; y < y1; y++) {
        const uint8_t *row = src + (size_t)y * w * c;
        uint8_t *out = dst + (size_t)(y - y0) * ax->n * c;
        for (int i = 0; i < ax->n; i++, out += c)
            io_resize_h_px_ref(row, c, ax, i, out);
    }
}

void io_resize_v_u8_ref(const uint8_t *src, size_t stride, int y0, const io_axis *ay,
                        int32_t *acc, uint8_t *dst)
{
    for (int i = 0; i < ay->n; i++) {
        const int32_t *k = ay->k + (size_t)i * ay->ksize;
        for (size_t x = 0; x < stride; x++)
            acc[x] = 1 << (IO_RESIZE_PREC_BITS - 1);
        for (int t = 0; t < ay->cnt[i]; t++) {
            const uint8_t *row = src + (size_t)(ay->lo[i] + t - y0) * stride;
            int32_t kt = k[t];
            for (size_t x = 0; x < stride; x++)
                acc[x] += row[x] * kt;
        }
        uint8_t *out = dst + (size_t)i * stride;
        for (size_t x = 0; x < stride; x++)
            out[x] = io_resize_clip(acc[x]);
    }
}

static const io_resize_kernels resize_ref = {"ref", io_resize_h_u8_ref, io_resize_v_u8_ref};
static const io_resize_kernels resize_avx2 = {"avx2", io_resize_h_u8_avx2, io_resize_v_u8_avx2};

const io_resize_kernels *io_resize_kernels_for(nn_isa isa)
{
    return isa == NN_ISA_AVX2 || isa == NN_ISA_AVX512 ? &resize_avx2 : &resize_ref;
}
