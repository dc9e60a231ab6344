/* sl_api.c — the public C API (nn/scanlite.h): models, sessions, raw runs,
 * image prediction with the model's output activation and top-k.
 *
 * A model owns its optimized graph (constants point into the read-only
 * mapping of the .slm file), its parsed metadata (labels, input shape,
 * preprocessing recipe, output activation) and sizes measured with a
 * batch-1 shapes-only plan. A session owns plans per batch size (each with its pool)
 * and the buffers of one prediction, allocated once at creation. */
#include "scanlite.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_image.h"
#include "io/io_meta.h"
#include "io/io_sha256.h"
#include "io/io_slm.h"
#include "nn/kernels/sgemm.h"
#include "nn_gradcam.h"
#include "nn_graph.h"
#include "nn_plan.h"
#include "nn_plan_priv.h"
#include "nn_status.h"
#include "sl_internal.h"

_Static_assert(SL_OK == (int)NN_OK && SL_ERR_NOMEM == (int)NN_ERR_NOMEM &&
               SL_ERR_IO == (int)NN_ERR_IO && SL_ERR_FORMAT == (int)NN_ERR_FORMAT &&
               SL_ERR_UNSUPPORTED == (int)NN_ERR_UNSUPPORTED &&
               SL_ERR_SHAPE == (int)NN_ERR_SHAPE && SL_ERR_INVALID == (int)NN_ERR_INVALID &&
               SL_ERR_IMAGE == (int)NN_ERR_IMAGE && SL_ERR_LIMIT == (int)NN_ERR_LIMIT,
               "sl_status must equal nn_status");
_Static_assert(sizeof(((sl_error *)0)->message) == NN_ERR_MSG_MAX, "message sizes differ");

/* Labels beyond this are a malformed file, not a classifier (limits what a
 * hostile "labels" value makes us allocate). */
#define SL_MAX_LABELS 100000
#define SL_MAX_BATCH 4096

static sl_status to_sl(const nn_err *ne, sl_error *err)
{
    if (err) {
        err->status = (sl_status)ne->status;
        snprintf(err->message, sizeof err->message, "%s", ne->msg);
    }
    return (sl_status)ne->status;
}

static sl_status sl_fail(sl_error *err, sl_status st, const char *msg)
{
    if (err) {
        err->status = st;
        snprintf(err->message, sizeof err->message, "%s", msg);
    }
    return st;
}

static void ok(sl_error *err)
{
    if (err) {
        err->status = SL_OK;
        err->message[0] = '\0';
    }
}


static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* ---- model metadata ---------------------------------------------------- */

/* "CxHxW" with each part in 1..65535; returns 0 on success. */
static int parse_chw(const char *s, int *c, int *h, int *w)
{
    long v[3];
    char *end;
    for (int i = 0; i < 3; i++) {
        v[i] = strtol(s, &end, 10);
        if (end == s || v[i] < 1 || v[i] > 65535 || (i < 2 && *end != 'x') || (i == 2 && *end))
            return -1;
        s = end + 1;
    }
    *c = (int)v[0];
    *h = (int)v[1];
    *w = (int)v[2];
    return 0;
}

/* Splits the "labels" value (one per line; a trailing newline and '\r'
 * line ends are tolerated) or makes class_0..class_{n-1}. */
static nn_status parse_labels(sl_model *m, int want, nn_err *e)
{
    const char *src = nn_graph_get_meta(m->g, IO_META_LABELS);
    size_t len;
    int n = 0;
    char *p;
    if (!src || !src[0]) {
        size_t bytes = (size_t)want * 16;
        m->label_buf = malloc(bytes ? bytes : 1);
        m->labels = calloc((size_t)(want ? want : 1), sizeof *m->labels);
        if (!m->label_buf || !m->labels)
            return nn_err_set(e, NN_ERR_NOMEM, "labels");
        for (int i = 0; i < want; i++) {
            m->labels[i] = m->label_buf + (size_t)i * 16;
            snprintf(m->labels[i], 16, "class_%d", i);
        }
        m->n_labels = want;
        return NN_OK;
    }
    len = strlen(src);
    m->label_buf = dup_str(src);
    if (!m->label_buf)
        return nn_err_set(e, NN_ERR_NOMEM, "labels");
    if (len > 0 && m->label_buf[len - 1] == '\n')
        m->label_buf[--len] = '\0';
    for (size_t i = 0; i <= len; i++)
        if (m->label_buf[i] == '\n' || m->label_buf[i] == '\0')
            n++;
    if (n > SL_MAX_LABELS)
        return nn_err_set(e, NN_ERR_LIMIT, "%d labels, more than %d", n, SL_MAX_LABELS);
    m->labels = calloc((size_t)n, sizeof *m->labels);
    if (!m->labels)
        return nn_err_set(e, NN_ERR_NOMEM, "labels");
    p = m->label_buf;
    for (int i = 0; i < n; i++) {
        char *nl = strchr(p, '\n');
        size_t l;
        if (nl)
            *nl = '\0';
        l = strlen(p);
        if (l > 0 && p[l - 1] == '\r')
            p[l - 1] = '\0';
        m->labels[i] = p;
        p = nl ? nl + 1 : p + l;
    }
    m->n_labels = n;
    return NN_OK;
}

/* Input shape, output size, MACs (batch-1 plan), activation, labels. */
static nn_status model_describe(sl_model *m, nn_err *e)
{
    nn_graph *g = m->g;
    const char *ish = nn_graph_get_meta(g, IO_META_INPUT_SHAPE);
    const char *act = nn_graph_get_meta(g, IO_META_OUTPUT_ACT);
    const nn_shape *gs;
    nn_plan *p = NULL;
    int64_t out_n;
    int binary;
    nn_status st;

    if (g->n_inputs != 1)
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "model has %d inputs, expected 1", g->n_inputs);
    gs = &g->values[g->inputs[0]].shape;
    if (gs->ndim != 4)
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "model input '%s' has %d dims, expected 4 (NCHW)",
                          g->values[g->inputs[0]].name, gs->ndim);
    if (ish) {
        if (parse_chw(ish, &m->in_c, &m->in_h, &m->in_w) != 0)
            return nn_err_set(e, NN_ERR_FORMAT, "metadata input_shape '%.60s' is not CxHxW", ish);
        if (m->in_c != gs->d[1] || m->in_h != gs->d[2] || m->in_w != gs->d[3])
            return nn_err_set(e, NN_ERR_FORMAT, "metadata input_shape %s differs from the graph input",
                              ish);
    } else {
        if (gs->d[1] < 1 || gs->d[1] > 65535 || gs->d[2] < 1 || gs->d[2] > 65535 ||
            gs->d[3] < 1 || gs->d[3] > 65535)
            return nn_err_set(e, NN_ERR_FORMAT, "graph input has an unusable shape");
        m->in_c = (int)gs->d[1];
        m->in_h = (int)gs->d[2];
        m->in_w = (int)gs->d[3];
    }
    /* Shapes and MACs only: the session plans do the op preparation. */
    st = nn_plan_create_shapes(g, 1, &p, e);
    if (st != NN_OK)
        return st;
    out_n = nn_shape_numel(&nn_plan_output(p, 0)->shape);
    m->macs = nn_plan_macs(p);
    nn_plan_free(p);
    if (out_n < 1 || out_n > SL_MAX_LABELS)
        return nn_err_set(e, NN_ERR_UNSUPPORTED, "model output has %lld values per sample",
                          (long long)out_n);
    m->out_size = (int)out_n;

    if (!act || !act[0])
        m->act = m->out_size == 1 ? SL_ACT_SIGMOID : SL_ACT_SOFTMAX;
    else if (strcmp(act, "softmax") == 0)
        m->act = SL_ACT_SOFTMAX;
    else if (strcmp(act, "sigmoid") == 0)
        m->act = SL_ACT_SIGMOID;
    else if (strcmp(act, "none") == 0)
        m->act = SL_ACT_NONE;
    else
        return nn_err_set(e, NN_ERR_FORMAT, "unknown output_activation '%.40s'", act);

    /* A single output that is not a softmax is a binary head (raw logit
     * with "sigmoid", or a probability already when the graph ends in
     * Sigmoid and the activation is "none"): two labels, negative first. */
    binary = m->out_size == 1 && m->act != SL_ACT_SOFTMAX;
    st = parse_labels(m, binary ? 2 : m->out_size, e);
    if (st != NN_OK)
        return st;
    if (m->n_labels != m->out_size && !(binary && m->n_labels == 2))
        return nn_err_set(e, NN_ERR_FORMAT, "%d labels for %d outputs", m->n_labels, m->out_size);
    /* A model whose metadata gives no usable image recipe still runs raw
     * tensors; image calls report why they cannot preprocess. */
    nn_err_clear(&m->pre_err);
    if (io_preproc_from_graph(g, &m->pre, &m->pre_err) == NN_OK &&
        (m->pre.channels != m->in_c || m->pre.out_h != m->in_h || m->pre.out_w != m->in_w))
        nn_err_set(&m->pre_err, NN_ERR_FORMAT,
                   "preprocessing gives %dx%dx%d, the model takes %dx%dx%d (metadata input_shape?)",
                   m->pre.channels, m->pre.out_h, m->pre.out_w, m->in_c, m->in_h, m->in_w);
    return NN_OK;
}

/* ---- models ------------------------------------------------------------ */

sl_status sl_model_load(const char *path, sl_model **out, sl_error *err)
{
    sl_model *m = NULL;
    nn_err e;
    const char *base, *dot, *nm;

    nn_err_clear(&e);
    if (!out)
        return sl_fail(err, SL_ERR_INVALID, "sl_model_load: no output pointer");
    *out = NULL;
    if (!path)
        return sl_fail(err, SL_ERR_INVALID, "sl_model_load: no path");
    m = calloc(1, sizeof *m);
    if (!m)
        return sl_fail(err, SL_ERR_NOMEM, "model");
    pthread_mutex_init(&m->sha256_mu, NULL);
    /* The SHA-256 of the mapped bytes is computed on first use
     * (sl_model_sha256): hashing a large model dominates a cold start. */
    /* The weights' checksum runs in the background from the first session
     * or verify; results wait for it (sl_model_check). */
    if (io_slm_read_deferred(path, &m->g, &m->check, &e) != NN_OK)
        goto fail;
    {
        const void *bytes;
        size_t len;
        m->file_size = io_slm_bytes(m->g, &bytes, &len) == NN_OK ? (uint64_t)len : 0;
    }
    m->params = nn_graph_param_count(m->g);
    if (nn_graph_optimize(m->g, &e) != NN_OK || model_describe(m, &e) != NN_OK)
        goto fail;
    base = strrchr(path, '/');
    base = base ? base + 1 : path;
    nm = nn_graph_get_meta(m->g, IO_META_NAME);
    m->path = dup_str(path);
    if (nm && nm[0]) {
        m->name = dup_str(nm);
    } else if ((m->name = dup_str(base)) != NULL && (dot = strrchr(m->name, '.')) != NULL &&
               dot != m->name) {
        m->name[dot - m->name] = '\0';
    }
    if (!m->path || !m->name) {
        nn_err_set(&e, NN_ERR_NOMEM, "model");
        goto fail;
    }
    *out = m;
    ok(err);
    return SL_OK;
fail:
    sl_model_free(m);
    return to_sl(&e, err);
}

void sl_model_free(sl_model *m)
{
    if (!m)
        return;
    io_slm_check_free(m->check);    /* reads the graph's mapping */
    nn_graph_free(m->g);
    pthread_mutex_destroy(&m->sha256_mu);
    free(m->path);
    free(m->name);
    free(m->labels);
    free(m->label_buf);
    free(m);
}

nn_status sl_model_check(const sl_model *m, nn_err *e)
{
    return io_slm_check_wait(m->check, e);
}

sl_status sl_model_verify(const sl_model *m, sl_error *err)
{
    nn_err e;
    nn_err_clear(&e);
    if (!m)
        return sl_fail(err, SL_ERR_INVALID, "sl_model_verify: no model");
    if (sl_model_check(m, &e) != NN_OK)
        return to_sl(&e, err);
    ok(err);
    return SL_OK;
}

const char *sl_model_name(const sl_model *m) { return m->name; }
const char *sl_model_path(const sl_model *m) { return m->path; }
const char *sl_model_sha256(const sl_model *m)
{
    /* Logically const: the digest of immutable bytes, filled once. */
    sl_model *mm = (sl_model *)m;
    const void *bytes;
    size_t len;
    pthread_mutex_lock(&mm->sha256_mu);
    if (!mm->sha256_done && io_slm_bytes(m->g, &bytes, &len) == NN_OK) {
        io_sha256_hex(bytes, len, mm->sha256);
        mm->sha256_done = 1;
    }
    pthread_mutex_unlock(&mm->sha256_mu);
    return m->sha256;
}
uint64_t sl_model_file_size(const sl_model *m) { return m->file_size; }
int sl_model_num_labels(const sl_model *m) { return m->n_labels; }
int sl_model_output_size(const sl_model *m) { return m->out_size; }
int64_t sl_model_param_count(const sl_model *m) { return m->params; }
int64_t sl_model_macs(const sl_model *m) { return m->macs; }
int sl_model_num_nodes(const sl_model *m) { return m->g->n_nodes; }
int sl_model_meta_count(const sl_model *m) { return m->g->n_meta; }

const char *sl_model_meta(const sl_model *m, const char *key)
{
    return nn_graph_get_meta(m->g, key);
}

const char *sl_model_meta_key(const sl_model *m, int i)
{
    return i >= 0 && i < m->g->n_meta ? m->g->meta[i].key : NULL;
}

const char *sl_model_label(const sl_model *m, int i)
{
    return i >= 0 && i < m->n_labels ? m->labels[i] : NULL;
}

void sl_model_input_shape(const sl_model *m, int *c, int *h, int *w)
{
    if (c)
        *c = m->in_c;
    if (h)
        *h = m->in_h;
    if (w)
        *w = m->in_w;
}

/* ---- sessions ---------------------------------------------------------- */

static void drop_plans(sl_session *s)
{
    nn_gradcam_free(s->explain);
    s->explain = NULL;
    for (int i = 0; i < SL_MAX_PLANS; i++) {
        nn_plan_free(s->plans[i].plan);
        memset(&s->plans[i], 0, sizeof s->plans[i]);
    }
}

/* The plan for batch, created (evicting the least recently used plan of
 * another batch size than 1 when all slots are taken) on first use. */
static nn_status session_plan(sl_session *s, int batch, nn_plan **out, nn_err *e)
{
    int victim = -1;
    nn_plan_opts o;
    nn_status st;
    s->tick++;
    for (int i = 0; i < SL_MAX_PLANS; i++)
        if (s->plans[i].batch == batch) {
            s->plans[i].last_use = s->tick;
            *out = s->plans[i].plan;
            return NN_OK;
        }
    for (int i = 0; i < SL_MAX_PLANS; i++) {
        if (s->plans[i].batch == 0) {
            victim = i;
            break;
        }
        if (s->plans[i].batch != 1 &&
            (victim < 0 || s->plans[i].last_use < s->plans[victim].last_use))
            victim = i;
    }
    memset(&o, 0, sizeof o);
    o.threads = s->threads;
    o.reference = s->reference;
    nn_plan_free(s->plans[victim].plan);
    memset(&s->plans[victim], 0, sizeof s->plans[victim]);
    st = nn_plan_create(s->m->g, batch, &o, &s->plans[victim].plan, e);
    if (st != NN_OK)
        return st;
    s->plans[victim].batch = batch;
    s->plans[victim].last_use = s->tick;
    *out = s->plans[victim].plan;
    return NN_OK;
}

sl_status sl_session_create(const sl_model *m, int threads, sl_session **out, sl_error *err)
{
    sl_session *s;
    nn_plan *p;
    nn_err e;
    size_t in_n;
    nn_err_clear(&e);
    if (!out)
        return sl_fail(err, SL_ERR_INVALID, "sl_session_create: no output pointer");
    *out = NULL;
    if (!m)
        return sl_fail(err, SL_ERR_INVALID, "sl_session_create: no model");
    if (threads < 0 || threads > 256)
        return sl_fail(err, SL_ERR_INVALID, "thread count out of range 0..256");
    s = calloc(1, sizeof *s);
    if (!s)
        return sl_fail(err, SL_ERR_NOMEM, "session");
    s->m = m;
    s->threads = threads > 0 ? threads : 1;
    in_n = (size_t)m->in_c * (size_t)m->in_h * (size_t)m->in_w;
    s->input = malloc(in_n * sizeof(float));
    s->raw = malloc((size_t)m->out_size * sizeof(float));
    s->probs = malloc((size_t)m->n_labels * sizeof(float));
    if (!s->input || !s->raw || !s->probs) {
        nn_err_set(&e, NN_ERR_NOMEM, "session buffers");
        goto fail;
    }
    if (session_plan(s, 1, &p, &e) != NN_OK)
        goto fail;
    /* The weights' checksum starts now on every CPU when the network will
     * use them all; else with the first run, on the CPUs it leaves free,
     * so that it does not slow the image decode before that run (a cold
     * 1-thread `scanlite predict` of ResNet18 on 2 CPUs: 30.3 -> 26.1 ms,
     * medians of 40 alternating launches; at 2 threads a checksum beside
     * the network took 21.7 -> 26.0) */
    s->check_threads = nn_pool_cpus() - nn_plan_threads(p);
    if (s->check_threads < 1)
        io_slm_check_go(m->check, 0);
    *out = s;
    ok(err);
    return SL_OK;
fail:
    sl_session_free(s);
    return to_sl(&e, err);
}

void sl_session_free(sl_session *s)
{
    if (!s)
        return;
    drop_plans(s);
    free(s->input);
    free(s->raw);
    free(s->probs);
    free(s);
}

/* Plans are rebuilt with the new kernel choice on their next use. */
void sl_session_set_reference(sl_session *s, int on)
{
    if (!s || s->reference == (on != 0))
        return;
    s->reference = on != 0;
    drop_plans(s);
}

/* The plan of batch images for s (valid until the next session_plan),
 * its input and output checked against the model's sizes. */
static sl_status session_batch_plan(sl_session *s, int batch, nn_plan **out, sl_error *err)
{
    nn_err e;
    nn_plan *p;
    int64_t per_in = (int64_t)s->m->in_c * s->m->in_h * s->m->in_w;
    nn_err_clear(&e);
    if (session_plan(s, batch, &p, &e) != NN_OK)
        return to_sl(&e, err);
    if (nn_shape_numel(&nn_plan_input(p, 0)->shape) != per_in * batch ||
        nn_shape_numel(&nn_plan_output(p, 0)->shape) != (int64_t)s->m->out_size * batch)
        return sl_fail(err, SL_ERR_SHAPE, "sl_run: model output does not scale with the batch");
    *out = p;
    return SL_OK;
}

/* Runs p, whose input the caller has filled, checks the weights (the
 * first run waits for the checksum) and copies the output. */
static sl_status session_run(sl_session *s, nn_plan *p, float *output, sl_error *err)
{
    nn_err e;
    const nn_tensor *y = nn_plan_output(p, 0);
    nn_err_clear(&e);
    io_slm_check_go(s->m->check, s->check_threads);
    if (nn_plan_run(p, &e) != NN_OK || sl_model_check(s->m, &e) != NN_OK)
        return to_sl(&e, err);
    memcpy(output, y->data, (size_t)nn_shape_numel(&y->shape) * sizeof(float));
    ok(err);
    return SL_OK;
}

sl_status sl_run(sl_session *s, const float *input, int batch, float *output, sl_error *err)
{
    nn_plan *p;
    nn_tensor *x;
    sl_status st;
    if (!s || !input || !output)
        return sl_fail(err, SL_ERR_INVALID, "sl_run: NULL argument");
    if (batch < 1 || batch > SL_MAX_BATCH)
        return sl_fail(err, SL_ERR_INVALID, "sl_run: batch out of range 1..4096");
    if ((st = session_batch_plan(s, batch, &p, err)) != SL_OK)
        return st;
    x = nn_plan_input(p, 0);
    memcpy(x->data, input, (size_t)nn_shape_numel(&x->shape) * sizeof(float));
    return session_run(s, p, output, err);
}

/* ---- images ------------------------------------------------------------ */

/* Decodes and preprocesses into out; reports the decoded size. */
static nn_status preprocess(const sl_model *m, const void *bytes, size_t len, float *out,
                            int *w, int *h, nn_err *e)
{
    io_image img;
    nn_status st;
    if (m->pre_err.status != NN_OK)
        return nn_err_set(e, m->pre_err.status, "%s", m->pre_err.msg);
    st = io_image_decode(bytes, len, m->pre.channels, &img, e);
    if (st != NN_OK)
        return st;
    *w = img.w;
    *h = img.h;
    st = io_image_preprocess(&img, &m->pre, out, e);
    io_image_free(&img);
    return st;
}

sl_status sl_preprocess(const sl_model *m, const void *bytes, size_t len, float *out,
                        sl_error *err)
{
    nn_err e;
    int w, h;
    nn_err_clear(&e);
    if (!m || !out)
        return sl_fail(err, SL_ERR_INVALID, "sl_preprocess: NULL argument");
    if (preprocess(m, bytes, len, out, &w, &h, &e) != NN_OK)
        return to_sl(&e, err);
    ok(err);
    return SL_OK;
}

sl_status sl_image_probe(const void *bytes, size_t len, int *w, int *h, sl_error *err)
{
    nn_err e;
    nn_err_clear(&e);
    if (io_image_probe(bytes, len, w, h, NULL, &e) != NN_OK)
        return to_sl(&e, err);
    ok(err);
    return SL_OK;
}

static float sigmoid(float x)
{
    if (x >= 0)
        return 1.0f / (1.0f + expf(-x));
    float z = expf(x);
    return z / (1.0f + z);
}

void sl_outputs_to_probs(const sl_model *m, const float *raw, float *probs)
{
    int n = m->out_size;
    if (n == 1 && m->n_labels == 2) {
        float p = m->act == SL_ACT_SIGMOID ? sigmoid(raw[0]) : fminf(fmaxf(raw[0], 0.0f), 1.0f);
        probs[0] = 1.0f - p;
        probs[1] = p;
    } else if (m->act == SL_ACT_SIGMOID) {
        for (int i = 0; i < n; i++)
            probs[i] = sigmoid(raw[i]);
    } else if (m->act == SL_ACT_SOFTMAX) {
        float mx = -INFINITY;
        double sum = 0;
        for (int i = 0; i < n; i++)
            if (raw[i] > mx)
                mx = raw[i];
        for (int i = 0; i < n; i++) {
            probs[i] = expf(raw[i] - mx);
            sum += probs[i];
        }
        for (int i = 0; i < n; i++)
            probs[i] = (float)(probs[i] / sum);
    } else {
        memcpy(probs, raw, (size_t)n * sizeof *probs);
    }
}

/* Highest first, ties to the lower index; NaN ranks below everything. */
void sl_top_k(const float *p, int n, int k, sl_prediction *out)
{
    out->k = 0;
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int i = 0; i < n; i++) {
            int taken = 0;
            for (int t = 0; t < out->k; t++)
                taken |= out->top[t].index == i;
            if (taken)
                continue;
            if (best < 0 || (isnan(p[best]) && !isnan(p[i])) || p[i] > p[best])
                best = i;
        }
        out->top[out->k].index = best;
        out->top[out->k].p = p[best];
        out->k++;
    }
    out->label = out->top[0].index;
    out->confidence = out->top[0].p;
}

sl_status sl_predict_image(sl_session *s, const void *bytes, size_t len, int top_k_req,
                           sl_prediction *out, sl_error *err)
{
    nn_err e;
    nn_plan *p;
    double t0, t1;
    int k;
    sl_status st;
    nn_err_clear(&e);
    if (!s || !out)
        return sl_fail(err, SL_ERR_INVALID, "sl_predict_image: NULL argument");
    memset(out, 0, sizeof *out);
    /* the image goes straight into the plan's input (no copy of 600 KB for
     * a 224x224 RGB network, whose pages a cold start faults in) */
    if ((st = session_batch_plan(s, 1, &p, err)) != SL_OK)
        return st;
    t0 = nn_now_ms();
    if (preprocess(s->m, bytes, len, nn_plan_input(p, 0)->data, &out->image_w, &out->image_h,
                   &e) != NN_OK)
        return to_sl(&e, err);
    t1 = nn_now_ms();
    if ((st = session_run(s, p, s->raw, err)) != SL_OK)
        return st;
    sl_outputs_to_probs(s->m, s->raw, s->probs);
    k = top_k_req < 1 ? 1 : top_k_req;
    if (k > SL_TOPK_MAX)
        k = SL_TOPK_MAX;
    if (k > s->m->n_labels)
        k = s->m->n_labels;
    sl_top_k(s->probs, s->m->n_labels, k, out);
    out->ms_decode = t1 - t0;
    out->ms_infer = nn_now_ms() - t1;
    ok(err);
    return SL_OK;
}

const char *sl_status_str(sl_status s)
{
    return nn_status_str((nn_status)s);
}

const char *sl_kernel_name(void)
{
    const nn_sgemm_kernel *k;
    nn_err e;
    return nn_sgemm_select(&k, &e) == NN_OK ? k->name : "none (SCANLITE_ISA not usable here)";
}
