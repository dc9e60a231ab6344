/* winograd.c — the table that picks the Winograd transforms per tile size,
 * stride and ISA (the transforms themselves: winograd_body.h, built by
 * winograd_generic.c and winograd_avx2.c), and the helpers shared by both
 * tile sizes: tile counts and the zero padding of the packed V matrices. */
#include "nn/kernels/winograd.h"

#include <string.h>

/* The transforms by tile size and ISA. Columns: name, m, stride,
 * positions, weights, row buffer, input, output. */
static const nn_wino_kernel wino2[2] = {
    {"f32_wino2_generic", 2, 1, 16, f32_wino2_weights_generic, f32_wino2_buf_floats_generic,
     f32_wino2_input_generic, f32_wino2_output_generic},
    {"f32_wino2_avx2", 2, 1, 16, f32_wino2_weights_avx2, f32_wino2_buf_floats_avx2,
     f32_wino2_input_avx2, f32_wino2_output_avx2},
};
static const nn_wino_kernel wino4[2] = {
    {"f32_wino4_generic", 4, 1, 36, f32_wino4_weights_generic, f32_wino4_buf_floats_generic,
     f32_wino4_input_generic, f32_wino4_output_generic},
    {"f32_wino4_avx2", 4, 1, 36, f32_wino4_weights_avx2, f32_wino4_buf_floats_avx2,
     f32_wino4_input_avx2, f32_wino4_output_avx2},
};
static const nn_wino_kernel wino2s2[2] = {
    {"f32_wino2s2_generic", 2, 2, 25, f32_wino2s2_weights_generic,
     f32_wino2s2_buf_floats_generic, f32_wino2s2_input_generic, f32_wino2s2_output_generic},
    {"f32_wino2s2_avx2", 2, 2, 25, f32_wino2s2_weights_avx2, f32_wino2s2_buf_floats_avx2,
     f32_wino2s2_input_avx2, f32_wino2s2_output_avx2},
};

/* 1 when isa runs the AVX2 transforms. */
static int wino_avx2(nn_isa isa)
{
    return isa >= NN_ISA_AVX2 && isa < NN_ISA_COUNT && nn_isa_supported(NN_ISA_AVX2);
}

const nn_wino_kernel *nn_wino_kernel_for(int m, nn_isa isa)
{
    if (m == 2)
        return &wino2[wino_avx2(isa)];
    if (m == 4)
        return &wino4[wino_avx2(isa)];
    return NULL;
}

const nn_wino_kernel *nn_wino_s2_kernel_for(nn_isa isa)
{
    return &wino2s2[wino_avx2(isa)];
}

void nn_wino_geom_tiles(nn_wino_geom *g)
{
    g->th = (g->OH + g->m - 1) / g->m;
    g->tw = (g->OW + g->m - 1) / g->m;
    g->c0 = 0;
    g->c1 = g->C;
}

void nn_wino_input_pad(const nn_sgemm_kernel *k, int pos, int64_t C, int64_t c0, int64_t c1,
                       int64_t cols, float *v, int64_t vstride)
{
    int64_t nr = k->nr, pad = (nr - cols % nr) % nr;
    for (int xi = 0; xi < pos && pad > 0; xi++)
        for (int64_t c = c0; c < c1; c++)
            memset(v + xi * vstride + (cols / nr) * C * nr + c * nr + cols % nr, 0,
                   (size_t)pad * sizeof(float));
}
