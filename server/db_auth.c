/* db_auth.c — users, API keys, sessions and the audit log.
 * Secrets never reach this file in clear: keys and session tokens arrive
 * as SHA-256 hex, passwords as crypt(3) hashes. Looked-up hashes are
 * compared again in constant time before they are trusted. */
#include "db_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void copy_col(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

/* Runs a one-value count statement already bound. */
static int count_one(db_conn *c, sqlite3_stmt *st, int64_t *n, const char *what)
{
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : db_fail(c, what);
    if (!rc)
        *n = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc;
}

int db_user_count(db *d, int64_t *n)
{
    db_conn *c = db_conn_get(d);
    int rc = count_one(c, db_stmt(c, DB_ST_USER_COUNT), n, "count users");
    db_conn_put(d, c);
    return rc;
}

int db_user_add(db *d, const char *name, const char *role, const char *pwhash, const char *now)
{
    db_conn *c = db_conn_get(d);
    sqlite3_stmt *st = db_stmt(c, DB_ST_USER_ADD);
    db_bind_text(st, 1, name);
    db_bind_text(st, 2, role);
    db_bind_text(st, 3, pwhash);
    db_bind_text(st, 4, now);
    int rc = db_exec_stmt(c, st, "add user");
    if (!rc && sqlite3_changes(c->h) == 0)
        rc = 1;
    db_conn_put(d, c);
    return rc;
}

/* Runs a statement bound with ?1 = name (and ?2 = arg) and reports 1 when
 * it touched no row. */
static int user_update(db *d, int which, const char *name, const char *arg, const char *what)
{
    db_conn *c = db_conn_get(d);
    sqlite3_stmt *st = db_stmt(c, which);
    db_bind_text(st, 1, name);
    if (arg)
        db_bind_text(st, 2, arg);
    int rc = db_exec_stmt(c, st, what);
    if (!rc && sqlite3_changes(c->h) == 0)
        rc = 1;
    db_conn_put(d, c);
    return rc;
}

int db_user_delete(db *d, const char *name)
{
    return user_update(d, DB_ST_USER_DELETE, name, NULL, "delete user");
}

int db_user_delete_keep_admin(db *d, const char *name)
{
    db_conn *c = db_conn_get(d);
    int ret = -1;
    if (db_begin(c))
        goto done;
    sqlite3_stmt *st = db_stmt(c, DB_ST_USER_ROLE_OF);
    db_bind_text(st, 1, name);
    int rc = sqlite3_step(st);
    int is_admin = rc == SQLITE_ROW && db_col_text(st, 0) && !strcmp(db_col_text(st, 0), "admin");
    sqlite3_reset(st);
    if (rc != SQLITE_ROW) {
        ret = rc == SQLITE_DONE ? 1 : db_fail(c, "delete user");
        goto done;
    }
    if (is_admin) {
        int64_t admins = 0;
        if (count_one(c, db_stmt(c, DB_ST_ADMIN_COUNT), &admins, "count admins"))
            goto done;
        if (admins <= 1) {
            ret = 2;
            goto done;
        }
    }
    st = db_stmt(c, DB_ST_USER_DELETE);
    db_bind_text(st, 1, name);
    if (db_exec_stmt(c, st, "delete user") || db_commit(c))
        goto done;
    ret = 0;
done:
    db_rollback(c);
    db_conn_put(d, c);
    return ret;
}

int db_user_set_password(db *d, const char *name, const char *pwhash)
{
    int rc = user_update(d, DB_ST_USER_PASSWD, name, pwhash, "set password");
    if (rc == 0) {
        /* A new password ends every session opened with the old one. */
        char now[DB_TIME_LEN];
        db_time_now(now, 0);
        if (user_update(d, DB_ST_USER_SESSIONS_REVOKE, name, now, "revoke sessions") < 0)
            return -1;
    }
    return rc;
}

int db_user_set_role(db *d, const char *name, const char *role)
{
    return user_update(d, DB_ST_USER_ROLE, name, role, "set role");
}

int db_user_get(db *d, const char *name, int64_t *id, char role[DB_ROLE_LEN],
                char pwhash[DB_HASH_LEN])
{
    db_conn *c = db_conn_get(d);
    sqlite3_stmt *st = db_stmt(c, DB_ST_USER_GET);
    db_bind_text(st, 1, name);
    int rc = sqlite3_step(st), ret;
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        copy_col(role, DB_ROLE_LEN, db_col_text(st, 1));
        copy_col(pwhash, DB_HASH_LEN, db_col_text(st, 2));
        ret = 0;
    } else {
        ret = rc == SQLITE_DONE ? 1 : db_fail(c, "read user");
    }
    sqlite3_reset(st);
    db_conn_put(d, c);
    return ret;
}

int db_user_list(db *d, db_user_cb cb, void *ctx)
{
    db_conn *c = db_conn_get(d);
    sqlite3_stmt *st = db_stmt(c, DB_ST_USER_LIST);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (cb(ctx, sqlite3_column_int64(st, 0), db_col_text(st, 1), db_col_text(st, 2),
               db_col_text(st, 3))) {
            rc = SQLITE_DONE;
            break;
        }
    sqlite3_reset(st);
    int ret = rc == SQLITE_DONE ? 0 : db_fail(c, "list users");
    db_conn_put(d, c);
    return ret;
}

int db_key_add(db *d, const char *name, const char *role, const char *prefix,
               const char *hash_hex, const char *now, int64_t *id)
{
    db_conn *c = db_conn_get(d);
    sqlite3_stmt *st = db_stmt(c, DB_ST_KEY_ADD);
    db_bind_text(st, 1, name);
    db_bind_text(st, 2, role);
    db_bind_text(st, 3, prefix);
    db_bind_text(st, 4, hash_hex);
    db_bind_text(st, 5, now);
    int rc = db_exec_stmt(c, st, "add key");
    if (!rc && id)
        *id = sqlite3_last_insert_rowid(c->h);
    db_conn_put(d, c);
    return rc;
}

int db_key_find(db *d, const char *hash_hex, int64_t *id, char role[DB_ROLE_LEN], char *name,
                size_t namelen)
{
    db_conn *c = db_conn_get(d);
    sqlite3_stmt *st = db_stmt(c, DB_ST_KEY_FIND);
    db_bind_text(st, 1, hash_hex);
    int rc = sqlite3_step(st), ret = 1;
    if (rc == SQLITE_ROW && db_col_text(st, 3) && db_secret_eq(db_col_text(st, 3), hash_hex)) {
        *id = sqlite3_column_int64(st, 0);
        copy_col(role, DB_ROLE_LEN, db_col_text(st, 1));
        copy_col(name, namelen, db_col_text(st, 2));
        ret = 0;
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        ret = db_fail(c, "find key");
    }
    sqlite3_reset(st);
    db_conn_put(d, c);
    return ret;
}

int db_key_revoke(db *d, const char *id_or_prefix, const char *now, int64_t *revoked_id)
{
    db_conn *c = db_conn_get(d);
    int ret = -1;
    if (db_begin(c))
        goto done;
    sqlite3_stmt *st = db_stmt(c, DB_ST_KEY_MATCH);
    db_bind_text(st, 1, id_or_prefix);
    int64_t id = 0;
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
        n++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        db_fail(c, "find key");
        goto done;
    }
    if (n != 1) {
        ret = n == 0 ? 1 : 2;
        goto done;
    }
    st = db_stmt(c, DB_ST_KEY_REVOKE);
    sqlite3_bind_int64(st, 1, id);
    db_bind_text(st, 2, now);
    if (db_exec_stmt(c, st, "revoke key") || db_commit(c))
        goto done;
    if (revoked_id)
        *revoked_id = id;
    ret = 0;
done:
    db_rollback(c);
    db_conn_put(d, c);
    return ret;
}

int db_key_revoke_id(db *d, int64_t id, const char *now)
{
    db_conn *c = db_conn_get(d);
    sqlite3_stmt *st = db_stmt(c, DB_ST_KEY_REVOKE_ACTIVE);
    sqlite3_bind_int64(st, 1, id);
    db_bind_text(st, 2, now);
    int rc = db_exec_stmt(c, st, "revoke key");
    if (!rc && sqlite3_changes(c->h) == 0)
        rc = 1;
    db_conn_put(d, c);
    return rc;
}

int db_key_list(db *d, db_key_cb cb, void *ctx)
{
    db_conn *c = db_conn_get(d);
    sqlite3_stmt *st = db_stmt(c, DB_ST_KEY_LIST);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (cb(ctx, sqlite3_column_int64(st, 0), db_col_text(st, 1), db_col_text(st, 2),
               db_col_text(st, 3), db_col_text(st, 4), db_col_text(st, 5))) {
            rc = SQLITE_DONE;
            break;
        }
    sqlite3_reset(st);
    int ret = rc == SQLITE_DONE ? 0 : db_fail(c, "list keys");
    db_conn_put(d, c);
    return ret;
}

int db_session_add(db *d, const char *hash_hex, int64_t user_id, const char *now,
                   const char *expires_at)
{
    db_conn *c = db_conn_get(d);
    sqlite3_stmt *st = db_stmt(c, DB_ST_SESSION_ADD);
    db_bind_text(st, 1, hash_hex);
    sqlite3_bind_int64(st, 2, user_id);
    db_bind_text(st, 3, now);
    db_bind_text(st, 4, expires_at);
    int rc = db_exec_stmt(c, st, "add session");
    db_conn_put(d, c);
    return rc;
}

int db_session_find(db *d, const char *hash_hex, const char *now, char *user, size_t userlen,
                    char role[DB_ROLE_LEN])
{
    db_conn *c = db_conn_get(d);
    sqlite3_stmt *st = db_stmt(c, DB_ST_SESSION_FIND);
    db_bind_text(st, 1, hash_hex);
    db_bind_text(st, 2, now);
    int rc = sqlite3_step(st), ret = 1;
    if (rc == SQLITE_ROW && db_col_text(st, 2) && db_secret_eq(db_col_text(st, 2), hash_hex)) {
        copy_col(user, userlen, db_col_text(st, 0));
        copy_col(role, DB_ROLE_LEN, db_col_text(st, 1));
        ret = 0;
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        ret = db_fail(c, "find session");
    }
    sqlite3_reset(st);
    db_conn_put(d, c);
    return ret;
}

int db_session_revoke(db *d, const char *hash_hex)
{
    char now[DB_TIME_LEN];
    db_time_now(now, 0);
    return user_update(d, DB_ST_SESSION_REVOKE, hash_hex, now, "revoke session");
}

int db_session_purge(db *d, const char *before, int64_t *n)
{
    db_conn *c = db_conn_get(d);
    sqlite3_stmt *st = db_stmt(c, DB_ST_SESSION_PURGE);
    db_bind_text(st, 1, before);
    int rc = db_exec_stmt(c, st, "purge sessions");
    if (!rc && n)
        *n = sqlite3_changes(c->h);
    db_conn_put(d, c);
    return rc;
}

int db_audit(db *d, const char *now, const char *actor, const char *action, const char *target,
             const char *addr, const char *detail)
{
    db_conn *c = db_conn_get(d);
    sqlite3_stmt *st = db_stmt(c, DB_ST_AUDIT_ADD);
    db_bind_text(st, 1, now);
    db_bind_text(st, 2, actor ? actor : "-");
    db_bind_text(st, 3, action);
    db_bind_text(st, 4, target);
    db_bind_text(st, 5, addr);
    db_bind_text(st, 6, detail);
    int rc = db_exec_stmt(c, st, "audit");
    db_conn_put(d, c);
    return rc;
}

int db_login_failures(db *d, const char *username, const char *addr, const char *since,
                      int64_t *n)
{
    db_conn *c = db_conn_get(d);
    sqlite3_stmt *st = db_stmt(c, DB_ST_AUDIT_FAILS);
    db_bind_text(st, 1, username);
    db_bind_text(st, 2, addr);
    db_bind_text(st, 3, since);
    int rc = count_one(c, st, n, "count login failures");
    db_conn_put(d, c);
    return rc;
}

int db_audit_list(db *d, int64_t limit, db_audit_cb cb, void *ctx)
{
    db_conn *c = db_conn_get(d);
    sqlite3_stmt *st = db_stmt(c, DB_ST_AUDIT_LIST);
    sqlite3_bind_int64(st, 1, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (cb(ctx, db_col_text(st, 0), db_col_text(st, 1), db_col_text(st, 2),
               db_col_text(st, 3), db_col_text(st, 4), db_col_text(st, 5))) {
            rc = SQLITE_DONE;
            break;
        }
    sqlite3_reset(st);
    int ret = rc == SQLITE_DONE ? 0 : db_fail(c, "list audit log");
    db_conn_put(d, c);
    return ret;
}
