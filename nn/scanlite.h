/* scanlite.h — the public C API of the scanlite runtime.
 *
 * Embed the runtime without the server:
 *
 *     sl_error err;
 *     sl_model *m = NULL;
 *     sl_session *s = NULL;
 *     if (sl_model_load("model.slm", &m, &err) != SL_OK) { puts(err.message); ... }
 *     if (sl_session_create(m, 2, &s, &err) != SL_OK) { ... }
 *     sl_prediction p;
 *     if (sl_predict_image(s, jpeg_bytes, jpeg_len, 5, &p, &err) == SL_OK)
 *         printf("%s %.3f\n", sl_model_label(m, p.label), p.confidence);
 *     sl_session_free(s);
 *     sl_model_free(m);
 *
 * A model (weights, metadata; the .slm file mmap'ed read-only) is immutable
 * after load and may be shared by any number of threads. A session holds
 * what one run needs (execution plan, activation arena, thread pool) and is
 * used by one thread at a time; create one per worker thread.
 *
 * Every fallible call returns an sl_status and, when err is non-NULL, fills
 * it with the same status and a one-line message. No call exits the process.
 * Strings returned by sl_model_* stay valid until sl_model_free. */
#ifndef SCANLITE_H
#define SCANLITE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SL_VERSION "0.1.0"

typedef enum sl_status {
    SL_OK = 0,
    SL_ERR_NOMEM = 1,
    SL_ERR_IO = 2,
    SL_ERR_FORMAT = 3,       /* malformed model file or input bytes */
    SL_ERR_UNSUPPORTED = 4,
    SL_ERR_SHAPE = 5,
    SL_ERR_INVALID = 6,      /* bad argument */
    SL_ERR_IMAGE = 7,        /* not an image, or undecodable */
    SL_ERR_LIMIT = 8,        /* image/body/model beyond a limit */
} sl_status;

typedef struct sl_error {
    sl_status status;
    char message[256];
} sl_error;

typedef struct sl_model sl_model;
typedef struct sl_session sl_session;

/* ---- models ---------------------------------------------------------- */

/* Loads, validates and prepares (batchnorm folding, fusion) a .slm file.
 * Everything but the weights' checksum is checked before it returns; that
 * one runs on in the background, so that a cold start overlaps it with
 * decoding and planning: no sl_run / sl_predict_image / sl_explain* result
 * is returned before it passed (on corrupt weights they fail with
 * SL_ERR_FORMAT, "... the weights are corrupt"). */
sl_status sl_model_load(const char *path, sl_model **out, sl_error *err);
/* Waits for the weights' checksum: SL_OK when intact, else SL_ERR_FORMAT
 * (e.g. a server that should refuse to start on a damaged file). */
sl_status sl_model_verify(const sl_model *m, sl_error *err);
void sl_model_free(sl_model *m);

const char *sl_model_name(const sl_model *m);        /* metadata "name" or file stem */
const char *sl_model_path(const sl_model *m);
const char *sl_model_sha256(const sl_model *m);      /* 64 hex chars of the file bytes (hashed on first call) */
uint64_t sl_model_file_size(const sl_model *m);
/* Metadata value for key (see docs/FORMAT.md), or NULL. */
const char *sl_model_meta(const sl_model *m, const char *key);
int sl_model_meta_count(const sl_model *m);
const char *sl_model_meta_key(const sl_model *m, int i);
int sl_model_num_labels(const sl_model *m);
const char *sl_model_label(const sl_model *m, int i); /* NULL when out of range */
/* Per-sample input shape (C, H, W). */
void sl_model_input_shape(const sl_model *m, int *c, int *h, int *w);
/* Raw output values per sample (e.g. 1000 logits, or 1 for a sigmoid head). */
int sl_model_output_size(const sl_model *m);
int64_t sl_model_param_count(const sl_model *m);
int64_t sl_model_macs(const sl_model *m);            /* per sample */
int sl_model_num_nodes(const sl_model *m);

/* ---- sessions -------------------------------------------------------- */

/* threads >= 1 (0 = 1). Plans for batch 1 at once; other batch sizes are
 * planned on first use and kept. */
sl_status sl_session_create(const sl_model *m, int threads, sl_session **out, sl_error *err);
void sl_session_free(sl_session *s);
/* 1: run naive reference kernels instead of the fast ones (testing). */
void sl_session_set_reference(sl_session *s, int on);

/* Raw run: input [batch, C, H, W] fp32 (NCHW), output [batch,
 * sl_model_output_size] raw values (logits, before output activation). */
sl_status sl_run(sl_session *s, const float *input, int batch, float *output, sl_error *err);

/* ---- images ---------------------------------------------------------- */

#define SL_TOPK_MAX 16

typedef struct sl_class_prob {
    int index;              /* label index */
    float p;                /* probability after the output activation */
} sl_class_prob;

typedef struct sl_prediction {
    int label;              /* index of the most probable label */
    float confidence;       /* its probability */
    int k;                  /* entries in top */
    sl_class_prob top[SL_TOPK_MAX];
    int image_w, image_h;   /* decoded image size */
    double ms_decode;       /* decode + preprocess */
    double ms_infer;        /* network run + output activation */
} sl_prediction;

/* Decodes an image (PNG, JPEG, BMP, GIF first frame; gray/RGB/RGBA) from
 * memory and preprocesses it as the model's metadata says into
 * out[C*H*W]. Rejects non-images (SL_ERR_IMAGE) and images beyond the size
 * limits (SL_ERR_LIMIT) before decoding pixels. */
sl_status sl_preprocess(const sl_model *m, const void *bytes, size_t len,
                        float *out, sl_error *err);
/* Image header only: dimensions without decoding pixels. */
sl_status sl_image_probe(const void *bytes, size_t len, int *w, int *h, sl_error *err);

/* preprocess + run + output activation + top-k (top_k clamped to
 * [1, min(SL_TOPK_MAX, labels)]). */
sl_status sl_predict_image(sl_session *s, const void *bytes, size_t len, int top_k,
                           sl_prediction *out, sl_error *err);

/* Output activation of the model applied to one sample's raw outputs:
 * probs[sl_model_num_labels]. For a single-output sigmoid head with two
 * labels, probs = {1-p, p}. */
void sl_outputs_to_probs(const sl_model *m, const float *raw, float *probs);

/* ---- explanations (Grad-CAM) ----------------------------------------- */

/* Resolution h x w of the model's class-activation map: that of the last
 * convolutional feature map before the head's pooling/flatten (7x7 for
 * ResNet-18 at 224x224). SL_ERR_UNSUPPORTED, naming the op, when the head
 * cannot be differentiated. Shape inference only (no session needed). */
sl_status sl_model_cam_shape(const sl_model *m, int *h, int *w, sl_error *err);

/* Grad-CAM of one input [1, C, H, W] for label class_index (-1: the
 * predicted label): the gradient of the class score (before the output
 * Softmax/Sigmoid; for the negative label of a single-logit binary head,
 * the negated logit) with respect to that feature map A [K, h, w] gives
 * alpha_k = mean over (h, w) of dscore/dA_k, and cam = ReLU(sum_k alpha_k
 * A_k): raw values at feature-map resolution, row-major, not normalised.
 * cam holds cam_cap floats; h * w are needed (sl_model_cam_shape; *h, *w
 * are set even when cam_cap is too small: SL_ERR_INVALID). *label (may be
 * NULL) receives the explained label. The first call of a session builds
 * its explain plan (the predict path is untouched); later calls allocate
 * nothing. */
sl_status sl_explain(sl_session *s, const float *input, int class_index, float *cam,
                     size_t cam_cap, int *h, int *w, int *label, sl_error *err);

typedef struct sl_heatmap {
    unsigned char *png;         /* PNG bytes (RGB, width x height), malloc'ed:
                                   release with sl_heatmap_free */
    size_t png_len;
    int width, height;          /* the original image's size */
    int label;                  /* label index explained */
    int cam_h, cam_w;           /* resolution of the raw map */
    sl_prediction prediction;   /* the same run's prediction; top-k lists
                                   min(SL_TOPK_MAX, labels) entries */
    double ms_explain;          /* gradients, map, colouring, PNG */
} sl_heatmap;

/* Decodes and preprocesses an image as sl_predict_image does, predicts,
 * and renders the Grad-CAM of class_index (-1: the predicted label) over
 * it: the map is normalised to [0, 1] (divided by its maximum), upsampled
 * bilinearly onto the region of the ORIGINAL image the network's input
 * crop came from (outside it the image shows unchanged), coloured with the
 * turbo colormap and alpha-blended (alpha = 0.6 * intensity) over the
 * image; the result is a PNG of the original size. On failure out is
 * zeroed. */
sl_status sl_explain_image(sl_session *s, const void *bytes, size_t len, int class_index,
                           sl_heatmap *out, sl_error *err);
/* Frees h->png and zeroes *h; h may be NULL. */
void sl_heatmap_free(sl_heatmap *h);

const char *sl_status_str(sl_status s);
/* The GEMM micro-kernel sessions of this process run (SCANLITE_ISA when
 * set, else the CPU's default), e.g. "f32_gemm_6x16_avx2"; a static
 * string, "none (...)" with the reason when SCANLITE_ISA is invalid here. */
const char *sl_kernel_name(void);

#ifdef __cplusplus
}
#endif
#endif
