/* conv_priv.h — what the Conv op (op_conv.c: geometry, mode choice,
 * depthwise loops, reference, dispatch) shares with its two GEMM-based fast
 * paths: conv_gemm.c (im2col / 1x1 into our sgemm) and conv_wino.c
 * (Winograd for 3x3 stride 1 and 2). Each path owns its prepare (sets the
 * scratch it needs per thread slot), its run and, for Winograd, its own
 * state (transformed weights) behind p->wino. */
#ifndef NN_OPS_CONV_PRIV_H
#define NN_OPS_CONV_PRIV_H

#include <stdint.h>

#include "nn/kernels/sgemm.h"
#include "nn/nn_ops.h"
#include "nn/nn_pool.h"
#include "nn/ops/op_util.h"

enum { CONV_GEMM, CONV_WINO, CONV_DIRECT };

typedef struct conv_wino conv_wino;     /* conv_wino.c */

typedef struct conv_plan {
    nn_geom2d g;
    int64_t N, C, O, G;
    int64_t cg, og;             /* channels per group: in, out */
    int64_t kk;                 /* cg * kh * kw: the reduction length */
    int64_t ohw;                /* output pixels per plane */
    int mode;
    int is1x1;                  /* GEMM on the input itself (no im2col) */
    const nn_sgemm_kernel *k;
    /* work split (conv_split): items of nb pixels (or tiles) x ob channels */
    int64_t nb;                 /* output pixels (WINO: tiles) per item */
    int64_t tiles;              /* items along pixels per (batch, group) */
    int64_t ob;                 /* output channels per block (<= og) */
    int64_t oblocks;            /* blocks per group */
    int slots;                  /* scratch slices (threads at prepare) */
    int64_t slot_floats;        /* scratch floats per slice (set by the path) */
    int64_t pb_floats;          /* packed B floats (path-specific use) */
    int has_res;                /* a residual input R */
    int res_bcast;              /* R or Y differs from [N, O, OH, OW]: second pass */
    nn_shape conv_shape;        /* [N, O, OH, OW] */
    nn_shape out;               /* Y: conv_shape broadcast with R */
    int64_t convbuf_off;        /* res_bcast: scratch offset of the conv result */
    conv_wino *wino;            /* owned, WINO mode only */
} conv_plan;

/* One run: inputs, output, scratch (p->slots slices of p->slot_floats). */
typedef struct conv_task {
    const conv_plan *p;
    const float *x, *w, *bias;
    const float *res;           /* R of conv_shape fused into the store, or NULL */
    float *y, *scratch;
    nn_act_params act;
    nn_sgemm_epi ep;            /* clamp of act; pointers set per item */
    int slots;                  /* slices used this run (<= p->slots) */
} conv_task;

static inline int64_t conv_round_up(int64_t a, int64_t m)
{
    return (a + m - 1) / m * m;
}

/* The epilogue of image n, output channels [co, ...) (absolute channel
 * index), starting at pixel p0; residual rows are planes (ldr = OH*OW). */
nn_sgemm_epi conv_item_epi(const conv_task *t, int64_t n, int64_t co, int64_t p0);
/* Splits `total` pixels (or tiles) of each of `units` (batch, group) pairs
 * into p->tiles items of p->nb (a multiple of `step`, at most about cap,
 * at least min_nb), evenly over p->slots threads when possible; then, if
 * there are still fewer items than threads, into channel blocks (sets nb,
 * tiles, ob, oblocks). */
void conv_split(conv_plan *p, int64_t units, int64_t total, int64_t cap, int64_t step,
                int64_t min_nb);

/* GEMM path (conv_gemm.c): sets the split, p->slot_floats. */
nn_status conv_gemm_prepare(conv_plan *p, const char *name, nn_err *e);
/* The GEMM schedule prepare chose, for profiles: "gemm deep", ... */
const char *conv_gemm_schedule(const conv_plan *p);
void conv_gemm_run(const conv_task *t, nn_pool *pool);

/* Winograd path (conv_wino.c). conv_wino_fits: whether geometry p (mode
 * not yet set) should run Winograd. prepare allocates p->wino, picks the
 * tile size and sets the split and p->slot_floats; w are the constant
 * weights [O, C, 3, 3]; u, when not NULL, the precomputed U of tile side
 * um from the model file ([(um+2)^2, O, C], [25, O, C] at stride 2:
 * FORMAT.md), used in place when
 * the kernel runs that tile size; clip: the fused activation clamps from
 * above (F(4x4)'s error is then kept out). w and u outlive the plan. */
int conv_wino_fits(const conv_plan *p);
nn_status conv_wino_prepare(conv_plan *p, const float *w, const float *u, int64_t um, int clip,
                            const char *name, nn_err *e);
/* The U the kernel would run with at this geometry when U is precomputed
 * (no memory limit applies to a file's contents): a new [pos, O, C]
 * tensor from nn_aligned_alloc in *packed, *tag = m. */
nn_status conv_wino_pack(const conv_plan *p, const float *w, int clip, nn_tensor *packed,
                         int64_t *tag, nn_err *e);
void conv_wino_run(const conv_task *t, nn_pool *pool);
/* "winograd F(4x4,3x3)", "winograd F(2x2,3x3)" or "winograd F(2x2,3x3)
 * stride 2", for profiles. */
const char *conv_wino_name(const conv_plan *p);
void conv_wino_release(conv_plan *p);

#endif
