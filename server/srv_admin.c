/* srv_admin.c — users and API keys over HTTP (admin role, from the route
 * table): list / add / delete users, list / create / revoke keys. The same
 * rules as `scanlite user|key`: names of letters, digits and . _ - @,
 * passwords of SRV_PASSWORD_MIN..SRV_PASSWORD_MAX bytes, a key shown once
 * and stored as its SHA-256. Nobody deletes their own user or the last
 * admin (409). Every change is written to the audit log. */
#include "srv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Member key of the body as a string: 0 ok (*out NULL when absent or
 * null and !required), -1 replied 400. */
static int body_string(srv_req *r, const srv_jdoc *d, const char *key, int required,
                       const char **out, size_t *len)
{
    const srv_jnode *n = srv_json_get(d, srv_json_root(d), key);
    *out = NULL;
    *len = 0;
    if (!n || n->type == SRV_JNULL) {
        if (!required)
            return 0;
        srv_reply_error(r, 400, "bad_request", "%s is required", key);
        return -1;
    }
    if (n->type != SRV_JSTR) {
        srv_reply_error(r, 400, "bad_request", "%s must be a string", key);
        return -1;
    }
    *out = n->str;
    *len = n->len;
    return 0;
}

/* role member: one of admin, clinician, viewer; replies 400 otherwise. */
static int body_role(srv_req *r, const srv_jdoc *d, const char **role)
{
    size_t len;
    if (body_string(r, d, "role", 1, role, &len))
        return -1;
    if (srv_role_parse(*role) == SRV_ROLE_NONE) {
        srv_reply_error(r, 400, "bad_role", "role must be admin, clinician or viewer");
        return -1;
    }
    return 0;
}

static void reply_db_error(srv_req *r)
{
    srv_reply_error(r, 503, "db_unavailable", "%s", db_errmsg());
}

static void audit(srv_req *r, const char *action, const char *target, const char *detail)
{
    char now[DB_TIME_LEN];
    db_time_now(now, 0);
    db_audit(r->s->db, now, r->user, action, target, r->addr, detail);
}

/* ---- users ---- */

static void write_user(srv_jw *w, int64_t id, const char *name, const char *role,
                       const char *created_at)
{
    srv_jw_obj(w);
    srv_jw_key(w, "id");
    srv_jw_int(w, id);
    srv_jw_key(w, "name");
    srv_jw_str(w, name);
    srv_jw_key(w, "role");
    srv_jw_str(w, role);
    srv_jw_key(w, "created_at");
    srv_jw_str(w, created_at);
    srv_jw_obj_end(w);
}

static int user_row(void *ctx, int64_t id, const char *name, const char *role,
                    const char *created_at)
{
    write_user(ctx, id, name, role, created_at);
    return 0;
}

/* Replies {"items": [...]} with the rows fill writes into w; a database
 * error becomes the usual error answer. */
static void reply_items(srv_req *r, int (*fill)(srv_req *r, srv_jw *w))
{
    srv_buf b;
    srv_buf_init(&b);
    srv_jw w;
    srv_jw_init(&w, &b);
    srv_jw_obj(&w);
    srv_jw_key(&w, "items");
    srv_jw_arr(&w);
    if (fill(r, &w)) {
        srv_buf_free(&b);
        reply_db_error(r);
        return;
    }
    srv_jw_arr_end(&w);
    srv_jw_obj_end(&w);
    srv_reply_json(r, 200, &b);
}

static int users_fill(srv_req *r, srv_jw *w)
{
    return db_user_list(r->s->db, user_row, w);
}

void srv_h_users_list(srv_req *r)
{
    reply_items(r, users_fill);
}

void srv_h_user_add(srv_req *r)
{
    srv_jdoc d;
    if (srv_body_object(r, &d))
        return;
    const char *name, *pw, *role;
    size_t name_len, pw_len;
    char hash[DB_HASH_LEN], now[DB_TIME_LEN], stored_role[DB_ROLE_LEN];
    if (body_string(r, &d, "name", 1, &name, &name_len) ||
        body_string(r, &d, "password", 1, &pw, &pw_len) || body_role(r, &d, &role))
        goto done;
    if (name_len != strlen(name) || !srv_user_name_ok(name)) {
        srv_reply_error(r, 400, "bad_name",
                        "name must be 1 to %d letters, digits, '.', '_', '-' or '@'", DB_NAME_MAX);
        goto done;
    }
    if (pw_len < SRV_PASSWORD_MIN || pw_len > SRV_PASSWORD_MAX) {
        srv_reply_error(r, 400, "bad_password", "the password must have %d to %d bytes",
                        SRV_PASSWORD_MIN, SRV_PASSWORD_MAX);
        goto done;
    }
    if (srv_password_hash(pw, hash, sizeof hash)) {
        srv_reply_error(r, 503, "no_entropy", "cannot hash the password");
        goto done;
    }
    db_time_now(now, 0);
    int rc = db_user_add(r->s->db, name, role, hash, now);
    if (rc == 1) {
        srv_reply_error(r, 409, "user_exists", "a user named %s already exists", name);
        goto done;
    }
    int64_t id = 0;
    if (rc || db_user_get(r->s->db, name, &id, stored_role, hash)) {
        reply_db_error(r);
        goto done;
    }
    audit(r, "user_add", name, role);
    srv_buf b;
    srv_buf_init(&b);
    srv_jw w;
    srv_jw_init(&w, &b);
    write_user(&w, id, name, role, now);
    srv_reply_json(r, 201, &b);
done:
    srv_json_free(&d);
}

void srv_h_user_delete(srv_req *r)
{
    const char *name = r->params[0];
    if (!srv_user_name_ok(name)) {
        srv_reply_error(r, 404, "not_found", "no user named '%s'", name);
        return;
    }
    if (r->via_session && !strcmp(r->user, name)) {
        srv_reply_error(r, 409, "cannot_delete_self", "you cannot delete your own user");
        return;
    }
    int rc = db_user_delete_keep_admin(r->s->db, name);
    if (rc == 1) {
        srv_reply_error(r, 404, "not_found", "no user named '%s'", name);
        return;
    }
    if (rc == 2) {
        srv_reply_error(r, 409, "last_admin", "%s is the last admin; make another admin first",
                        name);
        return;
    }
    if (rc) {
        reply_db_error(r);
        return;
    }
    audit(r, "user_del", name, NULL);
    srv_reply_response(r, 204, MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT));
}

/* ---- API keys ---- */

static void write_key_head(srv_jw *w, int64_t id, const char *name, const char *role,
                           const char *prefix, const char *created_at)
{
    char shown[sizeof SRV_KEY_PREFIX + SRV_KEY_SHOWN + 8];
    snprintf(shown, sizeof shown, SRV_KEY_PREFIX "%s", prefix ? prefix : "");
    srv_jw_obj(w);
    srv_jw_key(w, "id");
    srv_jw_int(w, id);
    srv_jw_key(w, "name");
    srv_jw_str(w, name);
    srv_jw_key(w, "role");
    srv_jw_str(w, role);
    srv_jw_key(w, "prefix");
    srv_jw_str(w, shown);
    srv_jw_key(w, "created_at");
    srv_jw_str(w, created_at);
}

static int key_row(void *ctx, int64_t id, const char *name, const char *role, const char *prefix,
                   const char *created_at, const char *revoked_at)
{
    srv_jw *w = ctx;
    write_key_head(w, id, name, role, prefix, created_at);
    srv_jw_key(w, "revoked_at");
    srv_jw_str(w, revoked_at);
    srv_jw_key(w, "active");
    srv_jw_bool(w, revoked_at == NULL);
    srv_jw_obj_end(w);
    return 0;
}

static int keys_fill(srv_req *r, srv_jw *w)
{
    return db_key_list(r->s->db, key_row, w);
}

void srv_h_keys_list(srv_req *r)
{
    reply_items(r, keys_fill);
}

void srv_h_key_create(srv_req *r)
{
    srv_jdoc d;
    if (srv_body_object(r, &d))
        return;
    const char *name, *role;
    size_t name_len;
    char key[SRV_KEY_LEN + 1], prefix[SRV_KEY_SHOWN + 1], hash[65], now[DB_TIME_LEN];
    if (body_string(r, &d, "name", 0, &name, &name_len) || body_role(r, &d, &role))
        goto done;
    if (name && !name_len)
        name = NULL;
    if (name && (name_len > DB_NAME_MAX || !srv_text_ok(name, name_len))) {
        srv_reply_error(r, 400, "bad_name", "name must be text of 1 to %d bytes", DB_NAME_MAX);
        goto done;
    }
    if (srv_key_generate(key, prefix, hash)) {
        srv_reply_error(r, 503, "no_entropy", "cannot generate a key");
        goto done;
    }
    db_time_now(now, 0);
    int64_t id = 0;
    if (db_key_add(r->s->db, name ? name : prefix, role, prefix, hash, now, &id)) {
        reply_db_error(r);
        goto done;
    }
    audit(r, "key_create", prefix, role);
    srv_buf b;
    srv_buf_init(&b);
    srv_jw w;
    srv_jw_init(&w, &b);
    write_key_head(&w, id, name ? name : prefix, role, prefix, now);
    srv_jw_key(&w, "key");
    srv_jw_str(&w, key);
    srv_jw_obj_end(&w);
    srv_reply_json(r, 201, &b);
    memset(key, 0, sizeof key);
done:
    srv_json_free(&d);
}

void srv_h_key_revoke(srv_req *r)
{
    int64_t id;
    if (srv_parse_i64(r->params[0], &id) || id < 1) {
        srv_reply_error(r, 404, "not_found", "no active key with id '%s'", r->params[0]);
        return;
    }
    char now[DB_TIME_LEN];
    db_time_now(now, 0);
    int rc = db_key_revoke_id(r->s->db, id, now);
    if (rc == 1) {
        srv_reply_error(r, 404, "not_found", "no active key with id %lld", (long long)id);
        return;
    }
    if (rc) {
        reply_db_error(r);
        return;
    }
    audit(r, "key_revoke", r->params[0], NULL);
    srv_reply_response(r, 204, MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT));
}
