/* srv_predict.c — POST /v1/models/{name}/predict and POST /predict.
 * The body is one raw image (image/<any> or application/octet-stream) or a
 * multipart batch of `file` parts plus optional fields subject, note,
 * top_k, explain and class (query parameters give the same fields). Every
 * upload is checked (content type, header-only size probe) before any pixel
 * is decoded; the batch runs on one inference worker (which also renders
 * the Grad-CAM heatmaps when explain is asked); all rows and heatmaps
 * commit in one transaction before the 200 answer; any bad file fails the
 * whole batch. */
#include "srv.h"
#include "srv_multipart.h"

#include "io/io_sha256.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct upload {
    const char *data;
    size_t len;
    char ctype[SRV_CTYPE_MAX + 1];
    const char *filename;   /* NULL for a raw body */
    char sha[65];
} upload;

typedef struct fields {
    const char *subject, *note;
    int top_k;
    int explain;                /* render and store a heatmap per file */
    const char *class_label;    /* label to explain (implies explain); NULL: predicted */
    int explain_class;          /* its index, -1: the predicted label */
} fields;

static int ctype_is_image(const char *ct)
{
    return !strncasecmp(ct, "image/", 6) || !strncasecmp(ct, "application/octet-stream", 24);
}

/* The image type named by the first bytes, or NULL. Used for uploads sent
 * as application/octet-stream so the stored scan is served back as what it is. */
static const char *sniff_type(const char *p, size_t n)
{
    if (n >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8))
        return "image/png";
    if (n >= 3 && !memcmp(p, "\xff\xd8\xff", 3))
        return "image/jpeg";
    if (n >= 6 && (!memcmp(p, "GIF87a", 6) || !memcmp(p, "GIF89a", 6)))
        return "image/gif";
    if (n >= 2 && !memcmp(p, "BM", 2))
        return "image/bmp";
    return NULL;
}

/* Validates a text field; replies 400 and returns -1 when bad. */
static int check_text(srv_req *r, const char *what, const char *v, size_t max)
{
    if (!v)
        return 0;
    size_t n = strlen(v);
    if (n > max) {
        srv_reply_error(r, 400, "bad_request", "%s is longer than %zu bytes", what, max);
        return -1;
    }
    if (!srv_text_ok(v, n)) {
        srv_reply_error(r, 400, "bad_request", "%s must be UTF-8 text without control characters",
                        what);
        return -1;
    }
    return 0;
}

static int parse_top_k(srv_req *r, const char *v, int *out)
{
    int64_t k;
    if (!v)
        return 0;
    if (srv_parse_i64(v, &k) || k < 1) {
        srv_reply_error(r, 400, "bad_request", "top_k must be a positive integer");
        return -1;
    }
    *out = k > SL_TOPK_MAX ? SL_TOPK_MAX : (int)k;
    return 0;
}

/* explain=1|true|yes|on or 0|false|no|off (empty: off). */
static int parse_flag(srv_req *r, const char *what, const char *v, int *out)
{
    static const char *const on[] = {"1", "true", "yes", "on"}, *const off[] = {"", "0", "false", "no", "off"};
    if (!v)
        return 0;
    for (size_t i = 0; i < sizeof on / sizeof on[0]; i++)
        if (!strcasecmp(v, on[i])) {
            *out = 1;
            return 0;
        }
    for (size_t i = 0; i < sizeof off / sizeof off[0]; i++)
        if (!strcasecmp(v, off[i])) {
            *out = 0;
            return 0;
        }
    srv_reply_error(r, 400, "bad_request", "%s must be 1 or 0 (true/false)", what);
    return -1;
}

/* Copies a multipart field value to a NUL-terminated string in storage. */
static const char *field_copy(const srv_part *p, char *storage, size_t cap)
{
    size_t n = p->len < cap - 1 ? p->len : cap - 1;
    memcpy(storage, p->data, n);
    storage[n] = 0;
    return memchr(p->data, 0, p->len) ? "\x01" : storage;  /* NUL inside: fails check_text */
}

/* Checks an upload's type and header-declared size. */
static int check_upload(srv_req *r, const upload *u, int index, int n)
{
    char where[48] = "";
    if (n > 1)
        snprintf(where, sizeof where, "file %d: ", index + 1);
    if (!srv_text_ok(u->ctype, strlen(u->ctype))) {
        srv_reply_error(r, 400, "bad_request", "%scontent type is not text", where);
        return -1;
    }
    if (!ctype_is_image(u->ctype)) {
        srv_reply_error(r, 415, "unsupported_media_type", "%s%s is not an image type", where,
                        u->ctype);
        return -1;
    }
    if (u->len == 0) {
        srv_reply_error(r, 400, "empty_image", "%sthe image is empty (0 bytes)", where);
        return -1;
    }
    int w = 0, h = 0;
    sl_error e;
    sl_status st = sl_image_probe(u->data, u->len, &w, &h, &e);
    if (st != SL_OK) {
        srv_reply_error(r, 422, st == SL_ERR_LIMIT ? "image_too_large" : "unreadable_image", "%s%s",
                        where, e.message);
        return -1;
    }
    if (w <= 0 || h <= 0 || w > SRV_IMAGE_MAX_SIDE || h > SRV_IMAGE_MAX_SIDE ||
        (long long)w * h > SRV_IMAGE_MAX_PIXELS) {
        srv_reply_error(r, 422, "image_too_large",
                        "%simage of %dx%d exceeds the limits (%d per side, %lld pixels)", where, w,
                        h, SRV_IMAGE_MAX_SIDE, SRV_IMAGE_MAX_PIXELS);
        return -1;
    }
    return 0;
}

static void write_topk(srv_jw *w, const srv_model *sm, const sl_prediction *p)
{
    srv_jw_arr(w);
    for (int k = 0; k < p->k; k++) {
        srv_jw_obj(w);
        srv_jw_key(w, "label");
        const char *l = sl_model_label(sm->m, p->top[k].index);
        srv_jw_str(w, l ? l : "");
        srv_jw_key(w, "p");
        srv_jw_num(w, p->top[k].p);
        srv_jw_obj_end(w);
    }
    srv_jw_arr_end(w);
}

/* Resolves class= to a label index (it implies explain) and refuses
 * explain for a model Grad-CAM cannot handle; replies and returns -1. */
static int explain_args(srv_req *r, const srv_model *sm, fields *f)
{
    if (f->class_label && f->class_label[0]) {
        f->explain = 1;
        for (int i = 0; i < sm->nlabels && f->explain_class < 0; i++)
            if (sl_model_label(sm->m, i) && !strcmp(sl_model_label(sm->m, i), f->class_label))
                f->explain_class = i;
        if (f->explain_class < 0) {
            srv_reply_error(r, 422, "unknown_label", "class '%s' is not a label of model %s",
                            f->class_label, sm->name);
            return -1;
        }
    }
    if (f->explain && !sm->explainable) {
        srv_reply_error(r, 422, "not_explainable", "model %s has no Grad-CAM heatmap: %s", sm->name,
                        sm->explain_err);
        return -1;
    }
    return 0;
}

/* Runs the batch and answers. */
static void predict_run(srv_req *r, int mi, upload *ups, int n, int batch, const fields *f)
{
    srv *s = r->s;
    const srv_model *sm = &s->models[mi];
    srv_job *jobs = calloc((size_t)n, sizeof *jobs);
    db_prediction_new *rows = calloc((size_t)n, sizeof *rows);
    int64_t *ids = calloc((size_t)n, sizeof *ids);
    srv_buf *topk = calloc((size_t)n, sizeof *topk);
    db_heatmap_new *heats = f->explain ? calloc((size_t)n, sizeof *heats) : NULL;
    char(*heat_sha)[65] = f->explain ? calloc((size_t)n, sizeof *heat_sha) : NULL;
    if (!jobs || !rows || !ids || !topk || (f->explain && (!heats || !heat_sha))) {
        srv_reply_error(r, 503, "no_memory", "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        jobs[i].model = mi;
        jobs[i].bytes = ups[i].data;
        jobs[i].len = ups[i].len;
        jobs[i].top_k = f->top_k;
        jobs[i].explain = f->explain;
        jobs[i].explain_class = f->explain_class;
        io_sha256_hex(ups[i].data, ups[i].len, ups[i].sha);
    }
    if (srv_pool_run(s->pool, jobs, n)) {
        srv_reply_error(r, 503, "busy", "all inference workers are busy; retry shortly");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        if (jobs[i].err.status != SL_OK) {
            sl_status st = jobs[i].err.status;
            const char *what = n > 1 ? "file " : "image ";
            if (st == SL_ERR_UNSUPPORTED && f->explain) {
                srv_reply_error(r, 422, "not_explainable", "%s%d: %s", what, i + 1,
                                jobs[i].err.message);
                goto done;
            }
            int code = st == SL_ERR_IMAGE || st == SL_ERR_LIMIT || st == SL_ERR_FORMAT ? 422 : 500;
            srv_reply_error(r, code, code == 422 ? "unreadable_image" : "inference_failed",
                            "%s%d: %s", what, i + 1, jobs[i].err.message);
            goto done;
        }
    }
    char now[DB_TIME_LEN];
    db_time_now(now, 0);
    for (int i = 0; i < n; i++) {
        srv_jw w;
        srv_jw_init(&w, &topk[i]);
        write_topk(&w, sm, &jobs[i].pred);
        if (topk[i].failed) {
            srv_reply_error(r, 503, "no_memory", "out of memory");
            goto done;
        }
        db_prediction *p = &rows[i].rec;
        const char *label = sl_model_label(sm->m, jobs[i].pred.label);
        p->created_at = now;
        p->model = sm->name;
        p->model_sha256 = sl_model_sha256(sm->m);
        p->input_sha256 = ups[i].sha;
        p->input_size = (int64_t)ups[i].len;
        p->content_type = ups[i].ctype;
        p->filename = ups[i].filename;
        p->label = label ? label : "";
        p->confidence = jobs[i].pred.confidence;
        p->topk_json = topk[i].data;
        p->image_w = jobs[i].pred.image_w;
        p->image_h = jobs[i].pred.image_h;
        p->ms_queue = jobs[i].ms_queue;
        p->ms_decode = jobs[i].pred.ms_decode;
        p->ms_infer = jobs[i].pred.ms_infer;
        p->subject = f->subject;
        p->note = f->note;
        p->user = r->user;
        rows[i].bytes = ups[i].data;
        rows[i].len = ups[i].len;
        if (f->explain) {
            const sl_heatmap *hm = &jobs[i].heat;
            const char *hl = sl_model_label(sm->m, hm->label);
            io_sha256_hex(hm->png, hm->png_len, heat_sha[i]);
            heats[i] = (db_heatmap_new){.png = hm->png, .len = hm->png_len, .sha256 = heat_sha[i],
                                        .label = hl ? hl : "", .width = hm->width,
                                        .height = hm->height, .ms_explain = hm->ms_explain};
            rows[i].heatmap = &heats[i];
            p->heatmap_label = heats[i].label;
        }
    }
    double t_db = srv_now_ms();
    if (db_predictions_insert(s->db, rows, n, ids)) {
        srv_reply_error(r, 503, "db_unavailable", "cannot store the prediction: %s", db_errmsg());
        goto done;
    }
    double ms_db = srv_now_ms() - t_db;
    double ms_total = srv_now_ms() - r->t_start;
    srv_buf b;
    srv_buf_init(&b);
    srv_jw w;
    srv_jw_init(&w, &b);
    /* A multipart request answers {items: [...]}, even for one file. */
    if (batch) {
        srv_jw_obj(&w);
        srv_jw_key(&w, "items");
        srv_jw_arr(&w);
    }
    for (int i = 0; i < n; i++) {
        rows[i].rec.id = ids[i];
        srv_write_prediction(&w, &rows[i].rec);
        /* srv_write_prediction leaves the object open for extra members. */
        srv_jw_key(&w, "timings_ms");
        srv_jw_obj(&w);
        srv_jw_key(&w, "queue");
        srv_jw_num(&w, jobs[i].ms_queue);
        srv_jw_key(&w, "decode");
        srv_jw_num(&w, jobs[i].pred.ms_decode);
        srv_jw_key(&w, "infer");
        srv_jw_num(&w, jobs[i].pred.ms_infer);
        if (f->explain) {
            srv_jw_key(&w, "explain");
            srv_jw_num(&w, jobs[i].heat.ms_explain);
        }
        srv_jw_key(&w, "db");
        srv_jw_num(&w, ms_db);
        srv_jw_key(&w, "total");
        srv_jw_num(&w, ms_total);
        srv_jw_obj_end(&w);
        srv_jw_obj_end(&w);
        srv_metrics_prediction(s->metrics, mi, jobs[i].pred.label);
    }
    if (batch) {
        srv_jw_arr_end(&w);
        srv_jw_obj_end(&w);
    }
    srv_reply_json(r, 200, &b);
done:
    for (int i = 0; topk && i < n; i++)
        srv_buf_free(&topk[i]);
    for (int i = 0; jobs && i < n; i++)
        sl_heatmap_free(&jobs[i].heat);
    free(heat_sha);
    free(heats);
    free(topk);
    free(ids);
    free(rows);
    free(jobs);
}

void srv_h_predict(srv_req *r)
{
    srv *s = r->s;
    int mi = 0;
    if (r->params[0][0]) {
        const srv_model *sm = srv_model_find(s, r->params[0]);
        if (!sm) {
            srv_reply_error(r, 404, "unknown_model", "no model named '%s'", r->params[0]);
            return;
        }
        mi = (int)(sm - s->models);
    }
    if (!atomic_load(&s->ready)) {
        srv_reply_error(r, 503, "not_ready", "models are still being checked");
        return;
    }
    fields f = {srv_query(r, "subject"), srv_query(r, "note"), SRV_TOPK_DEFAULT, 0,
                srv_query(r, "class"), -1};
    if (parse_top_k(r, srv_query(r, "top_k"), &f.top_k) ||
        parse_flag(r, "explain", srv_query(r, "explain"), &f.explain))
        return;
    const char *ct = srv_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    srv_part *parts = calloc(SRV_MP_MAX_PARTS, sizeof *parts);
    upload *ups = calloc(SRV_BATCH_MAX, sizeof *ups);
    char subj[SRV_SUBJECT_MAX + 2], note[SRV_NOTE_MAX + 2], topk[32], flag[32];
    char cls[SRV_LABEL_MAX + 2];
    int n = 0, multipart = !strncasecmp(ct, "multipart/form-data", 19);
    if (!ups || !parts) {
        srv_reply_error(r, 503, "no_memory", "out of memory");
        goto done;
    }
    if (multipart) {
        char boundary[SRV_MP_BOUNDARY_MAX + 1], err[160];
        int np = 0;
        if (srv_multipart_boundary(ct, boundary)) {
            srv_reply_error(r, 400, "bad_multipart", "multipart Content-Type without a valid boundary");
            goto done;
        }
        if (srv_multipart_parse(r->body.data ? r->body.data : "", r->body.len, boundary, parts,
                                SRV_MP_MAX_PARTS, &np, err, sizeof err)) {
            srv_reply_error(r, 400, "bad_multipart", "%s", err);
            goto done;
        }
        for (int i = 0; i < np; i++) {
            const srv_part *p = &parts[i];
            if (!strcmp(p->name, "file")) {
                if (n == SRV_BATCH_MAX) {
                    srv_reply_error(r, 413, "too_many_files", "at most %d files per request",
                                    SRV_BATCH_MAX);
                    goto done;
                }
                upload *u = &ups[n++];
                u->data = p->data;
                u->len = p->len;
                snprintf(u->ctype, sizeof u->ctype, "%s",
                         p->ctype[0] ? p->ctype : "application/octet-stream");
                u->filename = p->has_filename ? p->filename : NULL;
                if (check_text(r, "filename", p->filename, SRV_FILENAME_MAX))
                    goto done;
            } else if (!strcmp(p->name, "subject")) {
                if (p->len > SRV_SUBJECT_MAX) {
                    srv_reply_error(r, 400, "bad_request", "subject is longer than %d bytes",
                                    SRV_SUBJECT_MAX);
                    goto done;
                }
                f.subject = field_copy(p, subj, sizeof subj);
            } else if (!strcmp(p->name, "note")) {
                if (p->len > SRV_NOTE_MAX) {
                    srv_reply_error(r, 400, "bad_request", "note is longer than %d bytes",
                                    SRV_NOTE_MAX);
                    goto done;
                }
                f.note = field_copy(p, note, sizeof note);
            } else if (!strcmp(p->name, "top_k")) {
                if (p->len >= sizeof topk) {
                    srv_reply_error(r, 400, "bad_request", "top_k must be a positive integer");
                    goto done;
                }
                if (parse_top_k(r, field_copy(p, topk, sizeof topk), &f.top_k))
                    goto done;
            } else if (!strcmp(p->name, "explain")) {
                if (p->len >= sizeof flag) {
                    srv_reply_error(r, 400, "bad_request", "explain must be 1 or 0 (true/false)");
                    goto done;
                }
                if (parse_flag(r, "explain", field_copy(p, flag, sizeof flag), &f.explain))
                    goto done;
            } else if (!strcmp(p->name, "class")) {
                if (p->len > SRV_LABEL_MAX) {
                    srv_reply_error(r, 400, "bad_request", "class is longer than %d bytes",
                                    SRV_LABEL_MAX);
                    goto done;
                }
                f.class_label = field_copy(p, cls, sizeof cls);
            }
        }
        if (n == 0) {
            srv_reply_error(r, 400, "no_file", "the multipart body has no 'file' part");
            goto done;
        }
    } else {
        upload *u = &ups[n++];
        u->data = r->body.data ? r->body.data : "";
        u->len = r->body.len;
        size_t cl = strcspn(ct, ";");
        snprintf(u->ctype, sizeof u->ctype, "%.*s", (int)(cl < SRV_CTYPE_MAX ? cl : SRV_CTYPE_MAX), ct);
    }
    if (check_text(r, "subject", f.subject, SRV_SUBJECT_MAX) ||
        check_text(r, "note", f.note, SRV_NOTE_MAX) ||
        check_text(r, "class", f.class_label, SRV_LABEL_MAX) || explain_args(r, &s->models[mi], &f))
        goto done;
    if (f.subject && !f.subject[0])
        f.subject = NULL;
    if (f.note && !f.note[0])
        f.note = NULL;
    for (int i = 0; i < n; i++) {
        if (check_upload(r, &ups[i], i, n))
            goto done;
        const char *sniffed = sniff_type(ups[i].data, ups[i].len);
        if (sniffed && !strncasecmp(ups[i].ctype, "application/octet-stream", 24))
            snprintf(ups[i].ctype, sizeof ups[i].ctype, "%s", sniffed);
    }
    predict_run(r, mi, ups, n, multipart, &f);
done:
    free(parts);
    free(ups);
}
