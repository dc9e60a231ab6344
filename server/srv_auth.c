/* srv_auth.c — credentials: API keys (X-API-Key) and session tokens
 * (Authorization: Bearer), both looked up by their SHA-256; login with
 * yescrypt password hashes (libcrypt), throttled per user and address via
 * the audit log; logout; secrets from getrandom(2): tokens, API keys. */
#include "srv.h"

#include "io/io_sha256.h"

#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#define SRV_TOKEN_BYTES 32

int srv_random_hex(char *out, size_t nbytes)
{
    unsigned char buf[64];
    if (nbytes > sizeof buf)
        return -1;
    size_t got = 0;
    while (got < nbytes) {
        ssize_t r = getrandom(buf + got, nbytes - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)r;
    }
    for (size_t i = 0; i < nbytes; i++)
        snprintf(out + 2 * i, 3, "%02x", buf[i]);
    memset(buf, 0, sizeof buf);
    return 0;
}

int srv_password_hash(const char *pw, char *out, size_t outlen)
{
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data cd;
    memset(&cd, 0, sizeof cd);
    if (!crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof salt))
        return -1;
    const char *h = crypt_r(pw, salt, &cd);
    if (!h || h[0] == '*' || strlen(h) >= outlen)
        return -1;
    snprintf(out, outlen, "%s", h);
    return 0;
}

/* Constant time in the compared bytes. */
static int secret_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = la != lb;
    size_t n = la < lb ? la : lb;
    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

int srv_password_check(const char *pw, const char *hash)
{
    struct crypt_data cd;
    memset(&cd, 0, sizeof cd);
    const char *h = crypt_r(pw, hash, &cd);
    return h && h[0] != '*' && secret_eq(h, hash);
}

int srv_auth_resolve(srv_req *r)
{
    srv *s = r->s;
    const char *key = srv_header(r, "X-API-Key");
    const char *authz = srv_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    char hash[65];
    if (key) {
        io_sha256_hex(key, strlen(key), hash);
        if (s->env_key_hash[0] && secret_eq(hash, s->env_key_hash)) {
            r->role = SRV_ROLE_CLINICIAN;
            snprintf(r->user, sizeof r->user, "key:API_KEY");
            return 0;
        }
        int64_t id;
        char role[DB_ROLE_LEN], name[64];
        int rc = db_key_find(s->db, hash, &id, role, name, sizeof name);
        if (rc < 0) {
            srv_reply_error(r, 503, "db_unavailable", "credential check failed");
            return -1;
        }
        if (rc) {
            srv_reply_error(r, 401, "invalid_credentials", "unknown or revoked API key");
            return -1;
        }
        r->role = srv_role_parse(role);
        snprintf(r->user, sizeof r->user, "key:%s", name);
        return 0;
    }
    if (authz) {
        if (strncasecmp(authz, "Bearer ", 7) != 0) {
            srv_reply_error(r, 401, "invalid_credentials", "Authorization must be 'Bearer TOKEN'");
            return -1;
        }
        const char *tok = authz + 7;
        while (*tok == ' ')
            tok++;
        io_sha256_hex(tok, strlen(tok), hash);
        char now[DB_TIME_LEN], user[DB_NAME_MAX + 1], role[DB_ROLE_LEN];
        db_time_now(now, 0);
        int rc = db_session_find(s->db, hash, now, user, sizeof user, role);
        if (rc < 0) {
            srv_reply_error(r, 503, "db_unavailable", "credential check failed");
            return -1;
        }
        if (rc) {
            srv_reply_error(r, 401, "invalid_credentials", "invalid, expired or revoked token");
            return -1;
        }
        r->role = srv_role_parse(role);
        r->via_session = 1;
        memcpy(r->token_hash, hash, sizeof hash);
        snprintf(r->user, sizeof r->user, "%s", user);
        return 0;
    }
    r->role = SRV_ROLE_NONE;
    return 0;
}

int srv_key_generate(char key[SRV_KEY_LEN + 1], char prefix[SRV_KEY_SHOWN + 1], char hash[65])
{
    char hex[2 * SRV_KEY_BYTES + 1];
    if (srv_random_hex(hex, SRV_KEY_BYTES))
        return -1;
    snprintf(key, SRV_KEY_LEN + 1, SRV_KEY_PREFIX "%s", hex);
    snprintf(prefix, SRV_KEY_SHOWN + 1, "%.*s", SRV_KEY_SHOWN, hex);
    io_sha256_hex(key, strlen(key), hash);
    memset(hex, 0, sizeof hex);
    return 0;
}

int srv_user_name_ok(const char *n)
{
    size_t l = n ? strlen(n) : 0;
    if (l == 0 || l > DB_NAME_MAX)
        return 0;
    for (size_t i = 0; i < l; i++)
        if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= 'A' && n[i] <= 'Z') ||
              (n[i] >= '0' && n[i] <= '9') || strchr("._-@", n[i])))
            return 0;
    return 1;
}

int srv_body_object(srv_req *r, srv_jdoc *doc)
{
    char err[128];
    if (srv_json_parse(r->body.data ? r->body.data : "", r->body.len, doc, err, sizeof err)) {
        srv_reply_error(r, 400, "bad_json", "%s", err);
        return -1;
    }
    if (srv_json_root(doc)->type != SRV_JOBJ) {
        srv_json_free(doc);
        srv_reply_error(r, 400, "bad_json", "the body must be a JSON object");
        return -1;
    }
    return 0;
}

void srv_h_login(srv_req *r)
{
    srv *s = r->s;
    srv_jdoc doc;
    if (srv_body_object(r, &doc))
        return;
    const srv_jnode *root = srv_json_root(&doc);
    const srv_jnode *u = srv_json_get(&doc, root, "username");
    const srv_jnode *p = srv_json_get(&doc, root, "password");
    if (!u || u->type != SRV_JSTR || !p || p->type != SRV_JSTR) {
        srv_reply_error(r, 400, "bad_request", "username and password must be strings");
        goto done;
    }
    if (u->len == 0 || u->len > DB_NAME_MAX || p->len > SRV_PASSWORD_MAX) {
        srv_reply_error(r, 400, "bad_request", "username must be 1..%d bytes, password at most %d",
                        DB_NAME_MAX, SRV_PASSWORD_MAX);
        goto done;
    }
    char now[DB_TIME_LEN], since[DB_TIME_LEN];
    db_time_now(now, 0);
    db_time_now(since, -SRV_LOGIN_WINDOW_S);
    int64_t fails = 0;
    if (db_login_failures(s->db, u->str, r->addr, since, &fails)) {
        srv_reply_error(r, 503, "db_unavailable", "%s", db_errmsg());
        goto done;
    }
    if (fails >= SRV_LOGIN_MAX_FAILURES) {
        srv_reply_error(r, 429, "too_many_attempts",
                        "too many failed logins; try again in %d seconds", SRV_LOGIN_WINDOW_S);
        goto done;
    }
    int64_t uid = 0;
    char role[DB_ROLE_LEN], hash[DB_HASH_LEN];
    int rc = db_user_get(s->db, u->str, &uid, role, hash);
    if (rc < 0) {
        srv_reply_error(r, 503, "db_unavailable", "%s", db_errmsg());
        goto done;
    }
    /* An unknown user costs the same hashing work as a known one. */
    static const char dummy[] = "$y$j9T$4VK7b057IVUN3I9ePxoEl.$8wknHKqwVm.8FmVNjtq8pCWMfXeaZXoTcTb1r7gzmV1";
    int ok = srv_password_check(p->str, rc == 0 ? hash : dummy) && rc == 0;
    if (!ok) {
        db_audit(s->db, now, u->str, "login_failed", u->str, r->addr, NULL);
        srv_reply_error(r, 401, "invalid_credentials", "wrong username or password");
        goto done;
    }
    char token[2 * SRV_TOKEN_BYTES + 1], thash[65], expires[DB_TIME_LEN];
    if (srv_random_hex(token, SRV_TOKEN_BYTES)) {
        srv_reply_error(r, 503, "no_entropy", "cannot generate a token");
        goto done;
    }
    io_sha256_hex(token, strlen(token), thash);
    db_time_now(expires, s->cfg.session_ttl);
    if (db_session_add(s->db, thash, uid, now, expires)) {
        srv_reply_error(r, 503, "db_unavailable", "%s", db_errmsg());
        goto done;
    }
    db_audit(s->db, now, u->str, "login", u->str, r->addr, NULL);
    snprintf(r->user, sizeof r->user, "%s", u->str);
    srv_buf b;
    srv_buf_init(&b);
    srv_jw w;
    srv_jw_init(&w, &b);
    srv_jw_obj(&w);
    srv_jw_key(&w, "token");
    srv_jw_str(&w, token);
    srv_jw_key(&w, "token_type");
    srv_jw_str(&w, "Bearer");
    srv_jw_key(&w, "expires_at");
    srv_jw_str(&w, expires);
    srv_jw_key(&w, "user");
    srv_jw_obj(&w);
    srv_jw_key(&w, "name");
    srv_jw_str(&w, u->str);
    srv_jw_key(&w, "role");
    srv_jw_str(&w, role);
    srv_jw_obj_end(&w);
    srv_jw_obj_end(&w);
    srv_reply_json(r, 200, &b);
done:
    srv_json_free(&doc);
}

void srv_h_logout(srv_req *r)
{
    if (!r->via_session) {
        srv_reply_error(r, 400, "bad_request", "logout needs an Authorization: Bearer token");
        return;
    }
    int rc = db_session_revoke(r->s->db, r->token_hash);
    if (rc < 0) {
        srv_reply_error(r, 503, "db_unavailable", "%s", db_errmsg());
        return;
    }
    char now[DB_TIME_LEN];
    db_time_now(now, 0);
    db_audit(r->s->db, now, r->user, "logout", r->user, r->addr, NULL);
    srv_reply_text(r, 200, "application/json", "{\"ok\":true}\n");
}
