/* sl_explain.c — Grad-CAM in the public API (nn/scanlite.h): the raw map
 * (sl_explain) and the heatmap PNG over the original image
 * (sl_explain_image): bilinear upsampling onto the image region the
 * network's center crop came from, normalisation, the turbo colormap,
 * alpha blending and PNG encoding with stb_image_write. A session builds
 * its explain plan (nn_gradcam) on first use, so sessions that never
 * explain pay nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn_gradcam.h"
#include "scanlite.h"
#include "sl_internal.h"
#include "stb_image_write.h"

/* Blend weight of the colour at the hottest pixel (alpha = this * the
 * normalised intensity, so cold regions show the image unchanged). */
#define SL_HEAT_ALPHA_MAX 0.6f

/* Turbo colormap (Google, Apache-2.0 data) sampled at entries 0, 16, ...,
 * 240 and 255 of its 256-entry table; interpolated linearly between. */
static const float turbo_knots[17][3] = {
    {0.18995f, 0.07176f, 0.23217f}, {0.25107f, 0.25237f, 0.63374f},
    {0.27628f, 0.42118f, 0.89123f}, {0.25862f, 0.57958f, 0.99876f},
    {0.15844f, 0.73551f, 0.92305f}, {0.09267f, 0.86554f, 0.76230f},
    {0.19659f, 0.94901f, 0.59466f}, {0.42778f, 0.99419f, 0.38575f},
    {0.64362f, 0.98999f, 0.23356f}, {0.80473f, 0.92452f, 0.20459f},
    {0.93301f, 0.81236f, 0.22667f}, {0.99314f, 0.67408f, 0.20348f},
    {0.98360f, 0.49291f, 0.12849f}, {0.92105f, 0.31489f, 0.05475f},
    {0.81608f, 0.18462f, 0.01809f}, {0.66449f, 0.08436f, 0.00424f},
    {0.47960f, 0.01583f, 0.01055f},
};

static sl_status from_nn(const nn_err *ne, sl_error *err)
{
    if (err) {
        err->status = (sl_status)ne->status;
        snprintf(err->message, sizeof err->message, "%s", ne->msg);
    }
    return (sl_status)ne->status;
}


/* The session's explain plan, created on first use. */
static nn_status session_gradcam(sl_session *s, nn_gradcam **out, nn_err *e)
{
    nn_plan_opts o;
    nn_status st;
    if (!s->explain) {
        memset(&o, 0, sizeof o);
        o.threads = s->threads;
        o.reference = s->reference;
        if ((st = nn_gradcam_create(s->m->g, &o, &s->explain, e)) != NN_OK)
            return st;
        if (nn_gradcam_get_info(s->explain)->n_scores != s->m->out_size ||
            nn_shape_numel(&nn_gradcam_output(s->explain)->shape) != s->m->out_size) {
            nn_gradcam_free(s->explain);
            s->explain = NULL;
            return nn_err_set(e, NN_ERR_UNSUPPORTED,
                              "Grad-CAM: the class scores do not match the model's outputs");
        }
    }
    *out = s->explain;
    return NN_OK;
}

/* Runs input through the explain plan; fills s->raw and s->probs; picks the
 * label (class_index, or the predicted one for -1) and writes its map. */
static nn_status explain_run(sl_session *s, const float *input, int class_index, float *cam,
                             int *label, nn_err *e)
{
    const sl_model *m = s->m;
    nn_gradcam *gc;
    sl_prediction top;
    int64_t score;
    float sign = 1.0f;
    nn_status st;
    if (class_index < -1 || class_index >= m->n_labels)
        return nn_err_set(e, NN_ERR_INVALID, "class %d out of range 0..%d", class_index,
                          m->n_labels - 1);
    if ((st = session_gradcam(s, &gc, e)) != NN_OK)
        return st;
    st = nn_gradcam_forward(gc, input, (int64_t)m->in_c * m->in_h * m->in_w, e);
    if (st != NN_OK || (st = sl_model_check(m, e)) != NN_OK)
        return st;
    memcpy(s->raw, nn_gradcam_output(gc)->data, (size_t)m->out_size * sizeof *s->raw);
    sl_outputs_to_probs(m, s->raw, s->probs);
    if (class_index < 0) {
        sl_top_k(s->probs, m->n_labels, 1, &top);
        class_index = top.label;
    }
    /* one logit, two labels: label 1 is the logit, label 0 its negation */
    if (m->out_size == 1 && m->n_labels == 2) {
        score = 0;
        sign = class_index == 1 ? 1.0f : -1.0f;
    } else {
        score = class_index;
    }
    *label = class_index;
    return nn_gradcam_cam(gc, score, sign, cam, e);
}

sl_status sl_model_cam_shape(const sl_model *m, int *h, int *w, sl_error *err)
{
    nn_gradcam_info info;
    nn_err e;
    nn_err_clear(&e);
    if (!m || !h || !w) {
        nn_err_set(&e, NN_ERR_INVALID, "sl_model_cam_shape: NULL argument");
        return from_nn(&e, err);
    }
    *h = *w = 0;
    if (nn_gradcam_probe(m->g, &info, &e) == NN_OK) {
        *h = info.h;
        *w = info.w;
    }
    return from_nn(&e, err);
}

sl_status sl_explain(sl_session *s, const float *input, int class_index, float *cam,
                     size_t cam_cap, int *h, int *w, int *label, sl_error *err)
{
    nn_gradcam *gc;
    const nn_gradcam_info *info;
    int lab;
    nn_err e;
    nn_err_clear(&e);
    if (!s || !input || !cam || !h || !w) {
        nn_err_set(&e, NN_ERR_INVALID, "sl_explain: NULL argument");
        return from_nn(&e, err);
    }
    *h = *w = 0;
    if (session_gradcam(s, &gc, &e) != NN_OK)
        return from_nn(&e, err);
    info = nn_gradcam_get_info(gc);
    *h = info->h;
    *w = info->w;
    if (cam_cap < (size_t)info->h * (size_t)info->w)
        nn_err_set(&e, NN_ERR_INVALID, "sl_explain: cam holds %zu floats, the map has %dx%d",
                   cam_cap, info->h, info->w);
    else if (explain_run(s, input, class_index, cam, &lab, &e) == NN_OK && label)
        *label = lab;
    return from_nn(&e, err);
}

/* ---- heatmap rendering ------------------------------------------------- */

/* Where one axis of the original image lands in the network input: input
 * coordinate = (pixel + 0.5) * scale - offset. Mirrors io_preproc.c
 * (torchvision Resize(int) then CenterCrop, or a stretch). */
typedef struct axis_map {
    double scale;
    int offset;
} axis_map;

static void crop_geometry(const io_preproc *p, int img_w, int img_h, axis_map *ax, axis_map *ay)
{
    int rw, rh, left, top;
    io_preproc_geometry(p, img_w, img_h, &rw, &rh, &left, &top);
    ax->scale = (double)rw / img_w;
    ay->scale = (double)rh / img_h;
    ax->offset = left;
    ay->offset = top;
}

/* Bilinear tap of one output pixel along one axis: map cells i0, i0 + 1
 * with weight 1 - t, t; inside = 0 outside the crop. */
typedef struct tap {
    int i0, i1;
    float t;
    int inside;
} tap;

/* Taps for n image pixels on an axis whose input size is `in` and map size
 * `cells` (cell centres as F.interpolate with align_corners=False). */
static void axis_taps(const axis_map *am, int n, int in, int cells, tap *out)
{
    for (int i = 0; i < n; i++) {
        double c = (i + 0.5) * am->scale - am->offset;     /* input coordinate */
        double f = c * cells / in - 0.5;
        int i0;
        out[i].inside = c >= 0.0 && c < in;
        if (f < 0.0)
            f = 0.0;
        if (f > cells - 1)
            f = cells - 1;
        i0 = (int)f;
        out[i].i0 = i0;
        out[i].i1 = i0 + 1 < cells ? i0 + 1 : i0;
        out[i].t = (float)(f - i0);
    }
}

/* Turbo colour of v in [0, 1] (anything else, NaN included, is clamped). */
static void turbo(float v, float rgb[3])
{
    float x = (v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f) * 255.0f, t;
    int k = (int)(x / 16.0f), lo, hi;
    if (k > 15)
        k = 15;
    lo = k * 16;
    hi = k == 15 ? 255 : lo + 16;
    t = (x - (float)lo) / (float)(hi - lo);
    t = t < 0.0f ? 0.0f : t > 1.0f ? 1.0f : t;
    for (int c = 0; c < 3; c++)
        rgb[c] = turbo_knots[k][c] + t * (turbo_knots[k + 1][c] - turbo_knots[k][c]);
}

/* rgb[h][w][3] = the image with the normalised map cam[ch][cw] blended
 * over the crop region. */
static nn_status render(const io_image *img, const io_preproc *p, const float *cam, int ch,
                        int cw, uint8_t *rgb, nn_err *e)
{
    axis_map ax, ay;
    tap *tx = malloc((size_t)img->w * sizeof *tx), *ty = malloc((size_t)img->h * sizeof *ty);
    float mx = 0.0f;
    if (!tx || !ty) {
        free(tx);
        free(ty);
        return nn_err_set(e, NN_ERR_NOMEM, "heatmap");
    }
    for (int i = 0; i < ch * cw; i++)
        mx = cam[i] > mx ? cam[i] : mx;
    crop_geometry(p, img->w, img->h, &ax, &ay);
    axis_taps(&ax, img->w, p->out_w, cw, tx);
    axis_taps(&ay, img->h, p->out_h, ch, ty);
    for (int y = 0; y < img->h; y++) {
        const uint8_t *src = img->px + (size_t)y * img->w * img->c;
        uint8_t *dst = rgb + (size_t)y * img->w * 3;
        const float *r0 = cam + (size_t)ty[y].i0 * cw, *r1 = cam + (size_t)ty[y].i1 * cw;
        for (int x = 0; x < img->w; x++) {
            float v = 0.0f, col[3], a;
            const tap *t = &tx[x];
            const uint8_t *px = src + (size_t)x * img->c;
            if (ty[y].inside && t->inside && mx > 0.0f) {
                float top = r0[t->i0] + t->t * (r0[t->i1] - r0[t->i0]);
                float bot = r1[t->i0] + t->t * (r1[t->i1] - r1[t->i0]);
                v = (top + ty[y].t * (bot - top)) / mx;
                v = v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f;    /* NaN -> 0 */
            }
            turbo(v, col);
            a = SL_HEAT_ALPHA_MAX * v;
            for (int c = 0; c < 3; c++) {
                float o = (1.0f - a) * px[img->c == 3 ? c : 0] + a * 255.0f * col[c];
                dst[x * 3 + c] = (uint8_t)(o + 0.5f);
            }
        }
    }
    free(tx);
    free(ty);
    return NN_OK;
}

typedef struct png_buf {
    unsigned char *p;
    size_t n, cap;
    int failed;
} png_buf;

static void png_append(void *ctx, void *data, int size)
{
    png_buf *b = ctx;
    size_t need;
    if (b->failed || size <= 0)
        return;
    if (nn_size_add(b->n, (size_t)size, &need) != 0) {
        b->failed = 1;
        return;
    }
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        unsigned char *np;
        while (cap < need)
            cap *= 2;
        np = realloc(b->p, cap);
        if (!np) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, (size_t)size);
    b->n = need;
}

sl_status sl_explain_image(sl_session *s, const void *bytes, size_t len, int class_index,
                           sl_heatmap *out, sl_error *err)
{
    io_image img = {0};
    png_buf png = {0};
    float *cam = NULL;
    uint8_t *rgb = NULL;
    const sl_model *m;
    nn_gradcam *gc;
    const nn_gradcam_info *info;
    size_t rgb_bytes;
    double t0, t1, t2;
    int k;
    nn_err e;

    nn_err_clear(&e);
    if (out)
        memset(out, 0, sizeof *out);
    if (!s || !out) {
        nn_err_set(&e, NN_ERR_INVALID, "sl_explain_image: NULL argument");
        return from_nn(&e, err);
    }
    m = s->m;
    if (m->pre_err.status != NN_OK) {
        nn_err_set(&e, m->pre_err.status, "%s", m->pre_err.msg);
        return from_nn(&e, err);
    }
    t0 = nn_now_ms();
    if (io_image_decode(bytes, len, m->pre.channels, &img, &e) != NN_OK ||
        io_image_preprocess(&img, &m->pre, s->input, &e) != NN_OK)
        goto fail;
    t1 = nn_now_ms();
    if (session_gradcam(s, &gc, &e) != NN_OK)
        goto fail;
    info = nn_gradcam_get_info(gc);
    cam = malloc((size_t)info->h * (size_t)info->w * sizeof *cam);
    if (!cam) {
        nn_err_set(&e, NN_ERR_NOMEM, "heatmap");
        goto fail;
    }
    if (explain_run(s, s->input, class_index, cam, &out->label, &e) != NN_OK)
        goto fail;
    k = m->n_labels < SL_TOPK_MAX ? m->n_labels : SL_TOPK_MAX;
    sl_top_k(s->probs, m->n_labels, k, &out->prediction);
    out->prediction.image_w = img.w;
    out->prediction.image_h = img.h;
    out->prediction.ms_decode = t1 - t0;
    t2 = nn_now_ms();
    out->prediction.ms_infer = t2 - t1;

    if (nn_size_mul((size_t)img.w * 3, (size_t)img.h, &rgb_bytes) != 0 ||
        !(rgb = malloc(rgb_bytes))) {
        nn_err_set(&e, NN_ERR_NOMEM, "heatmap of %dx%d", img.w, img.h);
        goto fail;
    }
    if (render(&img, &m->pre, cam, info->h, info->w, rgb, &e) != NN_OK)
        goto fail;
    if (!stbi_write_png_to_func(png_append, &png, img.w, img.h, 3, rgb, img.w * 3) ||
        png.failed) {
        nn_err_set(&e, NN_ERR_NOMEM, "PNG encoding of the %dx%d heatmap failed", img.w, img.h);
        goto fail;
    }
    out->png = png.p;
    out->png_len = png.n;
    out->width = img.w;
    out->height = img.h;
    out->cam_h = info->h;
    out->cam_w = info->w;
    out->ms_explain = nn_now_ms() - t2;
    free(rgb);
    free(cam);
    io_image_free(&img);
    return from_nn(&e, err);
fail:
    free(png.p);
    free(rgb);
    free(cam);
    io_image_free(&img);
    memset(out, 0, sizeof *out);
    return from_nn(&e, err);
}

void sl_heatmap_free(sl_heatmap *h)
{
    if (!h)
        return;
    free(h->png);
    memset(h, 0, sizeof *h);
}
