/* winograd.h — Winograd F(m x m, 3x3) for 3x3 stride-1 convolutions (Lavin
 * & Gray): each m x m output tile is A^T [(G g G^T) . (B^T d B)] A for its
 * (m+2) x (m+2) input patch d, as (m+2)^2 independent GEMMs (one per
 * position xi = (m+2) r + c of the transformed tile) of U_xi [O, C] by
 * V_xi [C, tiles]. Two tile sizes:
 *  - F(2x2, 3x3): 16 positions, 2.25x fewer multiplies than direct; its
 *    rounding error stays at the level of direct convolution.
 *  - F(4x4, 3x3): 36 positions, 4x fewer multiplies, points
 *    0, 1, -1, 1/2, -2 (Barabasz et al., "Error analysis and improving the
 *    accuracy of Winograd convolution").
 * Error as max |err| / max |ref| against the double-precision definition,
 * uniform [-1, 1) data, 14x14, C = 16 .. 512 (tests/test_wino.c prints
 * it): F(4x4) 1.0e-6 .. 3.5e-6, within the 1e-5 fast-vs-reference budget
 * (Lavin's points 0, +-1, +-2 gave 3e-6 .. 8.7e-6, too close to it);
 * F(2x2) 1.6e-7 .. 7.4e-7; direct convolution about 2.5e-7. The error is
 * relative to the range before the activation: conv_wino.c keeps F(2x2)
 * under a Clip, whose narrower output range would magnify it.
 * Both are written once in winograd_body.h and built per ISA
 * (winograd_generic.c, winograd_avx2.c); winograd.c picks them.
 * At stride 2, F(2x2, 3x3) splits the taps by parity: the even ones on
 * the even inputs are F(2,2), the odd ones plain products, 25 per 2 x 2
 * outputs instead of 36 (1.44x fewer), with transforms that only add.
 * Tiles of one image are numbered t = ty * tw + tx (tw tiles per row). */
#ifndef NN_KERNELS_WINOGRAD_H
#define NN_KERNELS_WINOGRAD_H

#include <stdint.h>

#include "nn/kernels/sgemm.h"

#define NN_WINO_POS_MAX 36      /* positions of the largest transformed tile */
/* Floats the output transforms may read past the last column of each M
 * matrix (their last vector of tiles is a full one; the extra lanes are
 * discarded): callers leave this much room after every matrix. */
#define NN_WINO_SLACK 8

/* Geometry of one conv for the transforms: input [C, H, W] (one image),
 * pads top/left, output OH x OW, th x tw tiles of m x m outputs; the input
 * transform covers channels [c0, c1) (all C unless narrowed, so that
 * threads can share one block's transform). */
typedef struct nn_wino_geom {
    int64_t C, H, W, pt, pl, OH, OW, m, th, tw, c0, c1;
} nn_wino_geom;

/* The transforms of one tile size for one ISA. All three are
 * single-threaded over the ranges they are given.
 * weights: u[xi * ustride + f] = (G w[f] G^T)[xi] for the filters f in
 *   [f0, f1) of w [O*C][3][3] (f = o*C + c): U_xi [O, C] at u + xi *
 *   ustride (ustride >= O*C; an odd number of cache lines keeps the pos
 *   streams in different cache sets). Ranges may be transformed by
 *   different threads.
 * buf_floats: floats of the row buffer input and output need for g.
 * input: tiles [t0, t0 + nt) of channels [g->c0, g->c1) of one image x
 *   [C, H, W] (zero padding outside) into columns [col0, col0 + nt) of
 *   those rows of the pos matrices V_xi [C, cols] packed for sgemm kernel
 *   k (see sgemm.h), matrix xi at v + xi * vstride (vstride >=
 *   nn_sgemm_packed_b_floats(k, C, cols)). Several images may fill one
 *   block of columns (one thread fills a block's rows [c0, c1), in column
 *   order, then calls nn_wino_input_pad for them; threads may fill other
 *   rows of the block at the same time): the transforms write
 *   whole vectors, so columns up to round_up(col0 + nt, 8) may get values
 *   that the next call or the pad overwrites.
 * output: mat holds pos matrices M_xi [ob, ldm] at mat + xi * mstride
 *   (NN_WINO_SLACK floats of room after each), whose columns [0, nt) are
 *   tiles [t0, t0 + nt) of one image; writes the covered pixels of y
 *   [ob, OH, OW] with the epilogue ep applied (bias_m [ob]; res [ob, OH,
 *   OW] with ldr = OH * OW; bias_n must be NULL). */
typedef struct nn_wino_kernel {
    const char *name;           /* e.g. "f32_wino4_avx2" */
    int m;                      /* output tile side */
    int stride;                 /* of the conv: 1, or 2 (F(2x2) only) */
    int pos;                    /* (m + 2)^2; 25 at stride 2 */
    void (*weights)(const float *w, int64_t f0, int64_t f1, float *u, int64_t ustride);
    int64_t (*buf_floats)(const nn_wino_geom *g);
    void (*input)(const nn_sgemm_kernel *k, const nn_wino_geom *g, const float *x, int64_t t0,
                  int64_t nt, int64_t col0, float *v, int64_t vstride, float *buf);
    void (*output)(const nn_wino_geom *g, const float *mat, int64_t mstride, int64_t ldm,
                   int64_t ob, int64_t t0, int64_t nt, const nn_sgemm_epi *ep, float *y,
                   float *buf);
} nn_wino_kernel;

/* The transforms of tile side m (2 or 4) for sgemm ISA isa (AVX2 and
 * AVX-512 run the AVX2 ones); NULL for another m. */
const nn_wino_kernel *nn_wino_kernel_for(int m, nn_isa isa);
/* The same for F(2x2, 3x3) at stride 2 (25 positions: winograd_body.h). */
const nn_wino_kernel *nn_wino_s2_kernel_for(nn_isa isa);

/* Sets th, tw from OH, OW and m, and the channel range to [0, C). */
void nn_wino_geom_tiles(nn_wino_geom *g);
/* Zeroes the pad columns [cols, round_up(cols, nr)) of rows [c0, c1) of
 * the pos packed V_xi [C, cols]. */
void nn_wino_input_pad(const nn_sgemm_kernel *k, int pos, int64_t C, int64_t c0, int64_t c1,
                       int64_t cols, float *v, int64_t vstride);

/* ---- The transforms per tile size and ISA (winograd_body.h, built by
 * winograd_generic.c and winograd_avx2.c): f32_wino<t>_<part>_<isa>, t 2,
 * 4 or 2s2 (F(2x2) at stride 2), the members of nn_wino_kernel ---- */
#define NN_WINO_DECLARE(t, isa)                                                           \
    void f32_wino##t##_weights_##isa(const float *w, int64_t f0, int64_t f1, float *u,    \
                                     int64_t ustride);                                    \
    int64_t f32_wino##t##_buf_floats_##isa(const nn_wino_geom *g);                        \
    void f32_wino##t##_input_##isa(const nn_sgemm_kernel *k, const nn_wino_geom *g,       \
                                   const float *x, int64_t t0, int64_t nt, int64_t col0, \
                                   float *v, int64_t vstride, float *buf);                \
    void f32_wino##t##_output_##isa(const nn_wino_geom *g, const float *mat,              \
                                    int64_t mstride, int64_t ldm, int64_t ob, int64_t t0, \
                                    int64_t nt, const nn_sgemm_epi *ep, float *y,         \
                                    float *buf);
NN_WINO_DECLARE(2, generic)
NN_WINO_DECLARE(4, generic)
NN_WINO_DECLARE(2s2, generic)
NN_WINO_DECLARE(2, avx2)
NN_WINO_DECLARE(4, avx2)
NN_WINO_DECLARE(2s2, avx2)
#undef NN_WINO_DECLARE

#endif
