/* srv_routes.c — the route table (every endpoint, its handler and the least
 * role allowed) and the small handlers: health, readiness, models, one
 * prediction (read, image, heatmap, delete, feedback). Listing, CSV and
 * statistics live in srv_list.c, prediction in srv_predict.c, auth in
 * srv_auth.c, users and keys in srv_admin.c. */
#include "srv.h"
#include "srv_web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void h_health(srv_req *r);
static void h_ready(srv_req *r);
static void h_models(srv_req *r);
static void h_model(srv_req *r);
static void h_pred_get(srv_req *r);
static void h_pred_image(srv_req *r);
static void h_pred_heatmap(srv_req *r);
static void h_pred_delete(srv_req *r);
static void h_feedback(srv_req *r);

/* The route table. Columns:
 *   method   HTTP method (HEAD is served by the GET route)
 *   pattern  path; {x} matches one non-empty segment, copied to r->params
 *   handler  called once the whole body is in r->body; every handler has
 *            the same signature and answers through srv_reply_*
 *   role     least role allowed (NONE = public); checked in srv_http.c
 *   body     NONE / JSON (<= SRV_JSON_BODY_MAX) / UPLOAD (<= --max-body)
 *   name     route label in /metrics
 * The first matching pattern wins; a path that matches with another
 * method answers 405 with Allow. */
const srv_route srv_routes[] = {
    {"GET", "/health", h_health, SRV_ROLE_NONE, SRV_BODY_NONE, "health"},
    {"GET", "/ready", h_ready, SRV_ROLE_NONE, SRV_BODY_NONE, "ready"},
    {"GET", "/metrics", srv_h_metrics, SRV_ROLE_NONE, SRV_BODY_NONE, "metrics"},
    {"GET", "/openapi.json", srv_h_openapi, SRV_ROLE_VIEWER, SRV_BODY_NONE, "openapi"},
    {"POST", "/v1/auth/login", srv_h_login, SRV_ROLE_NONE, SRV_BODY_JSON, "login"},
    {"POST", "/v1/auth/logout", srv_h_logout, SRV_ROLE_VIEWER, SRV_BODY_JSON, "logout"},
    {"GET", "/v1/models", h_models, SRV_ROLE_VIEWER, SRV_BODY_NONE, "models"},
    {"GET", "/v1/models/{name}", h_model, SRV_ROLE_VIEWER, SRV_BODY_NONE, "model"},
    {"POST", "/v1/models/{name}/predict", srv_h_predict, SRV_ROLE_CLINICIAN, SRV_BODY_UPLOAD,
     "predict"},
    {"POST", "/predict", srv_h_predict, SRV_ROLE_CLINICIAN, SRV_BODY_UPLOAD, "predict_default"},
    {"GET", "/v1/predictions", srv_h_pred_list, SRV_ROLE_VIEWER, SRV_BODY_NONE, "predictions"},
    {"GET", "/v1/predictions.csv", srv_h_pred_csv, SRV_ROLE_VIEWER, SRV_BODY_NONE,
     "predictions_csv"},
    {"GET", "/v1/predictions/{id}", h_pred_get, SRV_ROLE_VIEWER, SRV_BODY_NONE, "prediction"},
    {"DELETE", "/v1/predictions/{id}", h_pred_delete, SRV_ROLE_ADMIN, SRV_BODY_NONE,
     "prediction_delete"},
    {"GET", "/v1/predictions/{id}/image", h_pred_image, SRV_ROLE_VIEWER, SRV_BODY_NONE,
     "prediction_image"},
    {"GET", "/v1/predictions/{id}/heatmap", h_pred_heatmap, SRV_ROLE_VIEWER, SRV_BODY_NONE,
     "prediction_heatmap"},
    {"POST", "/v1/predictions/{id}/feedback", h_feedback, SRV_ROLE_CLINICIAN, SRV_BODY_JSON,
     "feedback"},
    {"GET", "/v1/stats", srv_h_stats, SRV_ROLE_VIEWER, SRV_BODY_NONE, "stats"},
    {"GET", "/v1/users", srv_h_users_list, SRV_ROLE_ADMIN, SRV_BODY_NONE, "users"},
    {"POST", "/v1/users", srv_h_user_add, SRV_ROLE_ADMIN, SRV_BODY_JSON, "user_add"},
    {"DELETE", "/v1/users/{name}", srv_h_user_delete, SRV_ROLE_ADMIN, SRV_BODY_NONE,
     "user_delete"},
    {"GET", "/v1/keys", srv_h_keys_list, SRV_ROLE_ADMIN, SRV_BODY_NONE, "keys"},
    {"POST", "/v1/keys", srv_h_key_create, SRV_ROLE_ADMIN, SRV_BODY_JSON, "key_create"},
    {"DELETE", "/v1/keys/{id}", srv_h_key_revoke, SRV_ROLE_ADMIN, SRV_BODY_NONE, "key_revoke"},
    /* The web page (srv_web.c): public, it holds no data; its API calls authenticate. */
    {"GET", "/", srv_h_web, SRV_ROLE_NONE, SRV_BODY_NONE, "web_index"},
    {"GET", "/report/{subject}", srv_h_web, SRV_ROLE_NONE, SRV_BODY_NONE, "web_report"},
    {"GET", "/static/{file}", srv_h_web, SRV_ROLE_NONE, SRV_BODY_NONE, "web_static"},
};
const int srv_nroutes = (int)(sizeof srv_routes / sizeof srv_routes[0]);

const srv_model *srv_model_find(srv *s, const char *name)
{
    for (int i = 0; i < s->nmodels; i++)
        if (!strcmp(s->models[i].name, name))
            return &s->models[i];
    return NULL;
}

static void h_health(srv_req *r)
{
    srv_reply_text(r, 200, "application/json", "{\"status\":\"ok\"}\n");
}

static void h_ready(srv_req *r)
{
    if (atomic_load(&r->s->ready))
        srv_reply_text(r, 200, "application/json", "{\"status\":\"ready\"}\n");
    else
        srv_reply_error(r, 503, "not_ready", "models are still being checked");
}

static void write_model(srv_jw *w, const srv_model *sm, int full)
{
    int c, h, wd;
    sl_model_input_shape(sm->m, &c, &h, &wd);
    srv_jw_obj(w);
    srv_jw_key(w, "name");
    srv_jw_str(w, sm->name);
    srv_jw_key(w, "sha256");
    srv_jw_str(w, sl_model_sha256(sm->m));
    srv_jw_key(w, "num_labels");
    srv_jw_int(w, sm->nlabels);
    srv_jw_key(w, "input_shape");
    srv_jw_arr(w);
    srv_jw_int(w, c);
    srv_jw_int(w, h);
    srv_jw_int(w, wd);
    srv_jw_arr_end(w);
    srv_jw_key(w, "parameters");
    srv_jw_int(w, sl_model_param_count(sm->m));
    srv_jw_key(w, "explainable");
    srv_jw_bool(w, sm->explainable);
    srv_jw_key(w, "predict_url");
    srv_buf url;
    srv_buf_init(&url);
    srv_buf_printf(&url, "/v1/models/%s/predict", sm->name);
    srv_jw_str(w, url.data);
    srv_buf_free(&url);
    if (full) {
        srv_jw_key(w, "labels");
        srv_jw_raw(w, sm->labels_json);
        srv_jw_key(w, "file_size");
        srv_jw_int(w, (int64_t)sl_model_file_size(sm->m));
        srv_jw_key(w, "macs");
        srv_jw_int(w, sl_model_macs(sm->m));
        srv_jw_key(w, "output_size");
        srv_jw_int(w, sl_model_output_size(sm->m));
        srv_jw_key(w, "metadata");
        srv_jw_obj(w);
        for (int i = 0; i < sl_model_meta_count(sm->m); i++) {
            const char *k = sl_model_meta_key(sm->m, i);
            if (!k || !strcmp(k, "labels"))
                continue;
            srv_jw_key(w, k);
            srv_jw_str(w, sl_model_meta(sm->m, k));
        }
        srv_jw_obj_end(w);
    }
    srv_jw_obj_end(w);
}

static void h_models(srv_req *r)
{
    srv_buf b;
    srv_buf_init(&b);
    srv_jw w;
    srv_jw_init(&w, &b);
    srv_jw_obj(&w);
    srv_jw_key(&w, "models");
    srv_jw_arr(&w);
    for (int i = 0; i < r->s->nmodels; i++)
        write_model(&w, &r->s->models[i], 0);
    srv_jw_arr_end(&w);
    srv_jw_key(&w, "default");
    srv_jw_str(&w, r->s->nmodels ? r->s->models[0].name : NULL);
    srv_jw_obj_end(&w);
    srv_reply_json(r, 200, &b);
}

static void h_model(srv_req *r)
{
    const srv_model *sm = srv_model_find(r->s, r->params[0]);
    if (!sm) {
        srv_reply_error(r, 404, "unknown_model", "no model named '%s'", r->params[0]);
        return;
    }
    srv_buf b;
    srv_buf_init(&b);
    srv_jw w;
    srv_jw_init(&w, &b);
    write_model(&w, sm, 1);
    srv_reply_json(r, 200, &b);
}

void srv_write_prediction(srv_jw *w, const db_prediction *p)
{
    srv_jw_obj(w);
    srv_jw_key(w, "id");
    srv_jw_int(w, p->id);
    srv_jw_key(w, "created_at");
    srv_jw_str(w, p->created_at);
    srv_jw_key(w, "model");
    srv_jw_str(w, p->model);
    srv_jw_key(w, "model_sha256");
    srv_jw_str(w, p->model_sha256);
    srv_jw_key(w, "label");
    srv_jw_str(w, p->label);
    srv_jw_key(w, "confidence");
    srv_jw_num(w, p->confidence);
    srv_jw_key(w, "top_k");
    srv_jw_raw(w, p->topk_json ? p->topk_json : "[]");
    srv_jw_key(w, "subject");
    srv_jw_str(w, p->subject);
    srv_jw_key(w, "note");
    srv_jw_str(w, p->note);
    srv_jw_key(w, "user");
    srv_jw_str(w, p->user);
    srv_jw_key(w, "input_sha256");
    srv_jw_str(w, p->input_sha256);
    srv_jw_key(w, "input_size");
    srv_jw_int(w, p->input_size);
    srv_jw_key(w, "content_type");
    srv_jw_str(w, p->content_type);
    srv_jw_key(w, "filename");
    srv_jw_str(w, p->filename);
    srv_jw_key(w, "image");
    srv_jw_obj(w);
    srv_jw_key(w, "width");
    srv_jw_int(w, p->image_w);
    srv_jw_key(w, "height");
    srv_jw_int(w, p->image_h);
    srv_jw_obj_end(w);
    char url[64];
    snprintf(url, sizeof url, "/v1/predictions/%lld/image", (long long)p->id);
    srv_jw_key(w, "image_url");
    srv_jw_str(w, url);
    /* Present only when a heatmap was stored (explain=1). */
    if (p->heatmap_label) {
        snprintf(url, sizeof url, "/v1/predictions/%lld/heatmap", (long long)p->id);
        srv_jw_key(w, "heatmap_url");
        srv_jw_str(w, url);
        srv_jw_key(w, "heatmap_label");
        srv_jw_str(w, p->heatmap_label);
    }
}

/* Parses the {id} parameter; replies 404 when it is not a positive integer. */
static int param_id(srv_req *r, int64_t *id)
{
    if (srv_parse_i64(r->params[0], id) || *id < 1) {
        srv_reply_error(r, 404, "not_found", "no prediction with id '%s'", r->params[0]);
        return -1;
    }
    return 0;
}

static int fb_row(void *ctx, const char *user, int correct, const char *label, const char *note,
                  const char *created_at, const char *updated_at)
{
    srv_jw *w = ctx;
    srv_jw_obj(w);
    srv_jw_key(w, "user");
    srv_jw_str(w, user);
    srv_jw_key(w, "correct");
    srv_jw_bool(w, correct);
    srv_jw_key(w, "label");
    srv_jw_str(w, label);
    srv_jw_key(w, "note");
    srv_jw_str(w, note);
    srv_jw_key(w, "created_at");
    srv_jw_str(w, created_at);
    srv_jw_key(w, "updated_at");
    srv_jw_str(w, updated_at);
    srv_jw_obj_end(w);
    return 0;
}

static int pred_one(void *ctx, const db_prediction *p)
{
    srv_jw *w = ctx;
    srv_write_prediction(w, p);
    srv_write_stored_timings(w, p);
    return 0;
}

void srv_write_stored_timings(srv_jw *w, const db_prediction *p)
{
    srv_jw_key(w, "timings_ms");
    srv_jw_obj(w);
    srv_jw_key(w, "queue");
    srv_jw_num(w, p->ms_queue);
    srv_jw_key(w, "decode");
    srv_jw_num(w, p->ms_decode);
    srv_jw_key(w, "infer");
    srv_jw_num(w, p->ms_infer);
    srv_jw_obj_end(w);
}

static void h_pred_get(srv_req *r)
{
    int64_t id;
    if (param_id(r, &id))
        return;
    srv_buf b;
    srv_buf_init(&b);
    srv_jw w;
    srv_jw_init(&w, &b);
    int rc = db_prediction_get(r->s->db, id, pred_one, &w);
    if (rc == 0) {
        srv_jw_key(&w, "feedback");
        srv_jw_arr(&w);
        rc = db_feedback_list(r->s->db, id, fb_row, &w);
        srv_jw_arr_end(&w);
        srv_jw_obj_end(&w);
    }
    if (rc) {
        srv_buf_free(&b);
        if (rc == 1)
            srv_reply_error(r, 404, "not_found", "no prediction with id %lld", (long long)id);
        else
            srv_reply_error(r, 503, "db_unavailable", "%s", db_errmsg());
        return;
    }
    srv_reply_json(r, 200, &b);
}

static void h_pred_image(srv_req *r)
{
    int64_t id;
    if (param_id(r, &id))
        return;
    void *bytes;
    size_t len;
    char ct[SRV_CTYPE_MAX + 1];
    int rc = db_image_get(r->s->db, id, &bytes, &len, ct, sizeof ct);
    if (rc == 1) {
        srv_reply_error(r, 404, "not_found", "no prediction with id %lld", (long long)id);
        return;
    }
    if (rc) {
        srv_reply_error(r, 503, "db_unavailable", "%s", db_errmsg());
        return;
    }
    srv_reply_bytes(r, 200, ct[0] ? ct : "application/octet-stream", bytes, len);
    /* Uploaded bytes are never run as a document of this origin. */
    srv_reply_header(r, "Content-Security-Policy", "default-src 'none'; sandbox");
}

static void h_pred_heatmap(srv_req *r)
{
    int64_t id;
    if (param_id(r, &id))
        return;
    void *png;
    size_t len;
    int rc = db_heatmap_get(r->s->db, id, &png, &len);
    if (rc == 1) {
        srv_reply_error(r, 404, "not_found", "no heatmap for prediction %lld (predict with explain=1)",
                        (long long)id);
        return;
    }
    if (rc) {
        srv_reply_error(r, 503, "db_unavailable", "%s", db_errmsg());
        return;
    }
    srv_reply_bytes(r, 200, "image/png", png, len);
    srv_reply_header(r, "Content-Security-Policy", "default-src 'none'; sandbox");
}

static void h_pred_delete(srv_req *r)
{
    int64_t id;
    if (param_id(r, &id))
        return;
    int rc = db_prediction_delete(r->s->db, id);
    if (rc == 1) {
        srv_reply_error(r, 404, "not_found", "no prediction with id %lld", (long long)id);
        return;
    }
    if (rc) {
        srv_reply_error(r, 503, "db_unavailable", "%s", db_errmsg());
        return;
    }
    char now[DB_TIME_LEN];
    db_time_now(now, 0);
    db_audit(r->s->db, now, r->user, "prediction_delete", r->params[0], r->addr, NULL);
    srv_reply_response(r, 204, MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT));
}

/* Optional string member: 0 ok (NULL when absent/null), -1 replied 400. */
static int opt_string(srv_req *r, const srv_jdoc *d, const char *key, size_t max, const char **out)
{
    const srv_jnode *n = srv_json_get(d, srv_json_root(d), key);
    *out = NULL;
    if (!n || n->type == SRV_JNULL)
        return 0;
    if (n->type != SRV_JSTR) {
        srv_reply_error(r, 400, "bad_request", "%s must be a string", key);
        return -1;
    }
    if (n->len > max || !srv_text_ok(n->str, n->len)) {
        srv_reply_error(r, 400, "bad_request", "%s must be text of at most %zu bytes", key, max);
        return -1;
    }
    *out = n->len ? n->str : NULL;
    return 0;
}

typedef struct model_of {
    char name[64];
    int found;
} model_of;

static int pred_model(void *ctx, const db_prediction *p)
{
    model_of *m = ctx;
    snprintf(m->name, sizeof m->name, "%s", p->model);
    m->found = 1;
    return 1;
}

static void h_feedback(srv_req *r)
{
    int64_t id;
    if (param_id(r, &id))
        return;
    srv_jdoc d;
    char err[128];
    if (srv_json_parse(r->body.data ? r->body.data : "", r->body.len, &d, err, sizeof err)) {
        srv_reply_error(r, 400, "bad_json", "%s", err);
        return;
    }
    const srv_jnode *root = srv_json_root(&d);
    const srv_jnode *correct = srv_json_get(&d, root, "correct");
    const char *label, *note;
    if (root->type != SRV_JOBJ) {
        srv_reply_error(r, 400, "bad_json", "the body must be a JSON object");
        goto done;
    }
    if (!correct || correct->type != SRV_JBOOL) {
        srv_reply_error(r, 400, "bad_request", "correct must be true or false");
        goto done;
    }
    if (opt_string(r, &d, "label", SRV_LABEL_MAX, &label) ||
        opt_string(r, &d, "note", SRV_NOTE_MAX, &note))
        goto done;
    model_of mo = {.found = 0};
    int rc = db_prediction_get(r->s->db, id, pred_model, &mo);
    if (rc == 1) {
        srv_reply_error(r, 404, "not_found", "no prediction with id %lld", (long long)id);
        goto done;
    }
    if (rc) {
        srv_reply_error(r, 503, "db_unavailable", "%s", db_errmsg());
        goto done;
    }
    const srv_model *sm = srv_model_find(r->s, mo.name);
    if (label && sm) {
        int ok = 0;
        for (int i = 0; i < sm->nlabels && !ok; i++)
            ok = sl_model_label(sm->m, i) && !strcmp(sl_model_label(sm->m, i), label);
        if (!ok) {
            srv_reply_error(r, 422, "unknown_label", "'%s' is not a label of model %s", label,
                            sm->name);
            goto done;
        }
    }
    char now[DB_TIME_LEN];
    db_time_now(now, 0);
    int created = 0;
    rc = db_feedback_upsert(r->s->db, id, r->user, correct->b, label, note, now, &created);
    if (rc == 1) {
        srv_reply_error(r, 404, "not_found", "no prediction with id %lld", (long long)id);
        goto done;
    }
    if (rc) {
        srv_reply_error(r, 503, "db_unavailable", "%s", db_errmsg());
        goto done;
    }
    db_audit(r->s->db, now, r->user, created ? "feedback_add" : "feedback_update", r->params[0],
             r->addr, NULL);
    srv_buf b;
    srv_buf_init(&b);
    srv_jw w;
    srv_jw_init(&w, &b);
    srv_jw_obj(&w);
    srv_jw_key(&w, "prediction_id");
    srv_jw_int(&w, id);
    srv_jw_key(&w, "created");
    srv_jw_bool(&w, created);
    srv_jw_key(&w, "feedback");
    srv_jw_arr(&w);
    rc = db_feedback_list(r->s->db, id, fb_row, &w);
    srv_jw_arr_end(&w);
    srv_jw_obj_end(&w);
    if (rc) {
        srv_buf_free(&b);
        srv_reply_error(r, 503, "db_unavailable", "%s", db_errmsg());
        goto done;
    }
    srv_reply_json(r, created ? 201 : 200, &b);
done:
    srv_json_free(&d);
}
