/* sl_internal.h — the layouts of sl_model and sl_session, shared by the
 * files that implement nn/scanlite.h (sl_api.c: models, sessions, runs,
 * predictions; sl_explain.c: Grad-CAM heatmaps). Not installed, not part
 * of the public contract. */
#ifndef SL_INTERNAL_H
#define SL_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "io/io_image.h"
#include "nn_graph.h"
#include "nn_plan.h"
#include "nn_status.h"
#include "scanlite.h"

/* Batch sizes a session keeps plans for; the least recently used other
 * than batch 1 is dropped when a new one is needed. */
#define SL_MAX_PLANS 4

typedef enum sl_act { SL_ACT_SOFTMAX, SL_ACT_SIGMOID, SL_ACT_NONE } sl_act;

struct sl_model {
    nn_graph *g;                /* owned, optimized */
    struct io_slm_check *check; /* owned: the weights' checksum, in the background
                                   from the first session (sl_session_create)
                                   or verify (freed before g) */
    char *path, *name;          /* owned */
    char sha256[65];            /* of the mapped file; computed on first use */
    int sha256_done;            /* guarded by sha256_mu */
    pthread_mutex_t sha256_mu;
    uint64_t file_size;
    int n_labels;
    char **labels;              /* [n_labels] pointers into label_buf */
    char *label_buf;            /* owned */
    int in_c, in_h, in_w;
    int out_size;               /* raw outputs per sample */
    int64_t params, macs;
    sl_act act;
    io_preproc pre;
    nn_err pre_err;             /* NN_OK when pre is usable */
};

typedef struct sl_plan_slot {
    int batch;                  /* 0: empty */
    unsigned long last_use;
    nn_plan *plan;
} sl_plan_slot;

struct nn_gradcam;

struct sl_session {
    const sl_model *m;
    int threads, reference;
    int check_threads;          /* > 0: the first run starts the weights' checksum
                                   on this many CPUs, those the network leaves free */
    unsigned long tick;
    sl_plan_slot plans[SL_MAX_PLANS];
    float *input;               /* [in_c * in_h * in_w] preprocessed image of sl_explain_image
                                   (sl_predict_image preprocesses into the plan's input) */
    float *raw;                 /* [out_size] */
    float *probs;               /* [n_labels] */
    struct nn_gradcam *explain; /* owned; created by the first sl_explain*,
                                   dropped with the plans */
};

/* The weights' checksum (waits for it): every entry point that reports
 * numbers computed from the model calls this before it returns them. */
nn_status sl_model_check(const sl_model *m, nn_err *e);

/* Fills out->top[0..k), label and confidence from probs[n]: highest first,
 * ties to the lower index, NaN below everything. */
void sl_top_k(const float *p, int n, int k, sl_prediction *out);

#endif
