/* winograd.h — Winograd F(2x2, 3x3) for 3x3 stride-1 convolutions (Lavin &
 * Gray): each 2x2 output tile is A^T [(G g G^T) . (B^T d B)] A for its 4x4
 * input patch d, so the 9 multiply-adds per output and input channel
 * become 4, as 16 independent GEMMs (one per position xi of the 4x4
 * transformed tile) of U_xi [O, C] by V_xi [C, tiles]. Its rounding error
 * stays at the level of direct convolution (F(4x4, 3x3) was measured about
 * 10x worse, beyond the 1e-5 fast-vs-reference budget, and is not used).
 * Tiles of one image are numbered t = ty * tw + tx (tw tiles per row). */
#ifndef NN_KERNELS_WINOGRAD_H
#define NN_KERNELS_WINOGRAD_H

#include <stdint.h>

#include "nn/kernels/sgemm.h"

#define NN_WINO_POS 16          /* positions of the 4x4 transformed tile */

/* Geometry of one conv for the transforms: input [C, H, W] (one image),
 * pads top/left, output OH x OW, th x tw tiles of 2x2 outputs. */
typedef struct nn_wino_geom {
    int64_t C, H, W, pt, pl, OH, OW, th, tw;
} nn_wino_geom;

/* Sets th, tw from OH, OW. */
void nn_wino_geom_tiles(nn_wino_geom *g);
/* u = [16][O*C]: u[xi][f] = (G w[f] G^T)[xi] for the filters f in
 * [f0, f1) of w [O*C][3][3] (f = o*C + c); oc = O*C. Ranges may be
 * transformed by different threads. */
void nn_wino_weights(const float *w, int64_t oc, int64_t f0, int64_t f1, float *u);
/* Floats of the row buffer the transforms need for geometry g. */
int64_t nn_wino_buf_floats(const nn_wino_geom *g);
/* Input transform of tiles [t0, t0 + nt) of one image x [C, H, W] (zero
 * padding outside) into columns [col0, col0 + nt) of 16 matrices V_xi
 * [C, cols] packed for kernel k (see sgemm.h), matrix xi at v + xi *
 * vstride (vstride >= nn_sgemm_packed_b_floats(k, C, cols)); buf:
 * nn_wino_buf_floats. Several images may fill one block of columns. */
void nn_wino_input(const nn_sgemm_kernel *k, const nn_wino_geom *g, const float *x, int64_t t0,
                   int64_t nt, int64_t col0, float *v, int64_t vstride, float *buf);
/* Zeroes the pad columns [cols, round_up(cols, nr)) of the 16 packed V_xi. */
void nn_wino_input_pad(const nn_sgemm_kernel *k, int64_t C, int64_t cols, float *v,
                       int64_t vstride);
/* Output transform: mat holds 16 matrices M_xi [ob, ldm] at mat + xi *
 * mstride, whose columns [0, nt) are tiles [t0, t0 + nt) of one image;
 * writes the covered pixels of y [ob, OH, OW], then applies the epilogue
 * ep to them (bias_m [ob]; res [ob, OH, OW] with ldr = OH * OW; bias_n
 * must be NULL). */
void nn_wino_output(const nn_wino_geom *g, const float *mat, int64_t mstride, int64_t ldm,
                    int64_t ob, int64_t t0, int64_t nt, const nn_sgemm_epi *ep, float *y,
                    float *buf);

#endif
