/* test_db.c — unit tests of the store (server/db_*.c): open/migrate twice
 * (idempotent), schema version, migration of a version-1 database,
 * prediction insert/get/list/filters/count, inline and file-backed images
 * and heatmaps, delete with file cleanup, feedback upsert, statistics
 * arithmetic, users (last admin kept), API keys, sessions with expiry,
 * audit and the login-failure count. Uses a scratch directory under /tmp. */
#include "server/db.h"

#include "tests/tassert.h"

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256], dbpath[300], datadir[300];

static db *open_db(void)
{
    db *d = NULL;
    char err[512];
    int rc = db_open(dbpath, datadir, 2, &d, err, sizeof err);
    T_CHECKF(rc == 0, "%s", err);
    return d;
}

static void test_open_migrate(void)
{
    db *d = open_db();
    int v = -1;
    T_CHECK(d && db_schema_version(d, &v) == 0 && v == DB_SCHEMA_VERSION);
    db_close(d);
    d = open_db();  /* second open: migrations must not run again */
    T_CHECK(d && db_schema_version(d, &v) == 0 && v == DB_SCHEMA_VERSION);
    char ok[64];
    T_CHECK(db_integrity_check(d, ok, sizeof ok) == 0 && strcmp(ok, "ok") == 0);
    int64_t size = 0;
    T_CHECK(db_size_bytes(d, &size) == 0 && size > 0);
    T_CHECK(db_model_record(d, "m", "ab", "/x.slm", 10, "[\"a\"]", "2024-01-01T00:00:00.000Z") == 0);
    T_CHECK(db_model_record(d, "m", "ab", "/y.slm", 10, "[\"a\"]", "2024-01-02T00:00:00.000Z") == 0);
    db_close(d);
}

static void test_refuses_newer_schema(void)
{
    char p[320], err[512];
    snprintf(p, sizeof p, "%s/newer.db", dir);
    db *d = NULL;
    T_CHECK(db_open(p, datadir, 1, &d, err, sizeof err) == 0);
    db_close(d);
    /* Bump user_version behind the store's back: it is the big-endian
     * 32-bit field at offset 60 of the database header. */
    FILE *f = fopen(p, "r+b");
    T_CHECK(f != NULL);
    if (f) {
        unsigned char v[4] = {0, 0, 0, 99};
        fseek(f, 60, SEEK_SET);
        fwrite(v, 1, 4, f);
        fclose(f);
    }
    d = NULL;
    T_CHECK(db_open(p, datadir, 1, &d, err, sizeof err) != 0 && d == NULL);
    T_CHECK(strstr(err, "newer") != NULL);
}

typedef struct collect {
    int64_t ids[64];
    char labels[64][32];
    int n;
} collect;

static int collect_cb(void *ctx, const db_prediction *p)
{
    collect *c = ctx;
    if (c->n < 64) {
        c->ids[c->n] = p->id;
        snprintf(c->labels[c->n], sizeof c->labels[0], "%s", p->label);
        c->n++;
    }
    return 0;
}

static void fill(db_prediction_new *it, const char *when, const char *model, const char *label,
                 const char *subject, const char *sha, const void *bytes, size_t len)
{
    memset(it, 0, sizeof *it);
    it->rec.created_at = when;
    it->rec.model = model;
    it->rec.model_sha256 = "feed";
    it->rec.input_sha256 = sha;
    it->rec.input_size = (int64_t)len;
    it->rec.content_type = "image/png";
    it->rec.label = label;
    it->rec.confidence = 0.75;
    it->rec.topk_json = "[]";
    it->rec.subject = subject;
    it->rec.user = "tester";
    it->bytes = bytes;
    it->len = len;
}

static int count_files(const char *root)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "find '%s' -type f 2>/dev/null | wc -l", root);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p) {
        if (fscanf(p, "%d", &n) != 1)
            n = -1;
        pclose(p);
    }
    return n;
}

typedef struct heat_seen {
    int64_t id;
    char label[32];     /* "" when the row has no heatmap */
    int rows;
} heat_seen;

static int heat_cb(void *ctx, const db_prediction *p)
{
    heat_seen *h = ctx;
    h->id = p->id;
    snprintf(h->label, sizeof h->label, "%s", p->heatmap_label ? p->heatmap_label : "");
    h->rows++;
    return 0;
}

/* Heatmaps: inline and file-backed, shared files, label on read, cascade
 * and file cleanup on delete. Own database and data directory. */
static void test_heatmaps(void)
{
    char p[320], data[320], err[512];
    snprintf(p, sizeof p, "%s/heat.db", dir);
    snprintf(data, sizeof data, "%s/hdata", dir);
    db *d = NULL;
    T_CHECKF(db_open(p, data, 2, &d, err, sizeof err) == 0, "%s", err);
    if (!d)
        return;
    static char big[DB_IMAGE_INLINE_MAX + 1];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 13);
    const char small_png[] = "small-heatmap";
    db_heatmap_new hs = {small_png, sizeof small_png, "5a11", "cat", 4, 3, 1.5};
    db_heatmap_new hb = {big, sizeof big, "b16b16", "dog", 700, 700, 9.0};
    db_prediction_new it[4];
    fill(&it[0], "2024-04-01T10:00:00.000Z", "a", "cat", NULL, "i1", "x", 1);
    fill(&it[1], "2024-04-01T10:00:01.000Z", "a", "cat", NULL, "i2", "y", 1);
    fill(&it[2], "2024-04-01T10:00:02.000Z", "a", "cat", NULL, "i3", "z", 1);
    fill(&it[3], "2024-04-01T10:00:03.000Z", "a", "cat", NULL, "i4", "w", 1);
    it[0].heatmap = &hs;
    it[1].heatmap = &hb;
    it[3].heatmap = &hb;    /* the same PNG twice: one file */
    int64_t ids[4];
    T_CHECK(db_predictions_insert(d, it, 4, ids) == 0);
    T_CHECK(count_files(data) == 1);
    heat_seen h = {0};
    T_CHECK(db_prediction_get(d, ids[0], heat_cb, &h) == 0 && !strcmp(h.label, "cat"));
    T_CHECK(db_prediction_get(d, ids[1], heat_cb, &h) == 0 && !strcmp(h.label, "dog"));
    T_CHECK(db_prediction_get(d, ids[2], heat_cb, &h) == 0 && h.label[0] == 0);
    memset(&h, 0, sizeof h);
    T_CHECK(db_prediction_list(d, NULL, 0, 0, 10, heat_cb, &h) == 0 && h.rows == 4 &&
            h.id == ids[0] && !strcmp(h.label, "cat"));
    void *png = NULL;
    size_t len = 0;
    T_CHECK(db_heatmap_get(d, ids[0], &png, &len) == 0 && len == sizeof small_png &&
            !memcmp(png, small_png, len));
    free(png);
    T_CHECK(db_heatmap_get(d, ids[1], &png, &len) == 0 && len == sizeof big && !memcmp(png, big, len));
    free(png);
    T_CHECK(db_heatmap_get(d, ids[2], &png, &len) == 1 && png == NULL);
    T_CHECK(db_heatmap_get(d, 999999, &png, &len) == 1);
    /* The shared file stays until its last heatmap goes. */
    T_CHECK(db_prediction_delete(d, ids[1]) == 0);
    T_CHECK(count_files(data) == 1 && db_heatmap_get(d, ids[1], &png, &len) == 1);
    T_CHECK(db_heatmap_get(d, ids[3], &png, &len) == 0 && len == sizeof big);
    free(png);
    T_CHECK(db_prediction_delete(d, ids[3]) == 0 && count_files(data) == 0);
    T_CHECK(db_prediction_delete(d, ids[0]) == 0 && db_heatmap_get(d, ids[0], &png, &len) == 1);
    char ok[64];
    T_CHECK(db_integrity_check(d, ok, sizeof ok) == 0 && !strcmp(ok, "ok"));
    db_close(d);
}

/* A version-1 database (no heatmaps table) opens, migrates to the current
 * version and keeps its rows. Built from a current one by undoing the
 * 1 -> 2 migration with plain SQLite. */
static void test_migrate_v1(void)
{
    char p[320], err[512];
    snprintf(p, sizeof p, "%s/v1.db", dir);
    db *d = NULL;
    T_CHECKF(db_open(p, datadir, 1, &d, err, sizeof err) == 0, "%s", err);
    if (!d)
        return;
    db_prediction_new it;
    int64_t id = 0;
    fill(&it, "2024-02-01T00:00:00.000Z", "old", "cat", "s", "0123", "ab", 2);
    T_CHECK(db_predictions_insert(d, &it, 1, &id) == 0);
    db_close(d);
    sqlite3 *h = NULL;
    T_CHECK(sqlite3_open(p, &h) == SQLITE_OK);
    T_CHECK(sqlite3_exec(h, "DROP TABLE heatmaps; PRAGMA user_version = 1;", NULL, NULL, NULL) ==
            SQLITE_OK);
    sqlite3_close(h);
    d = NULL;
    T_CHECKF(db_open(p, datadir, 2, &d, err, sizeof err) == 0, "%s", err);
    if (!d)
        return;
    int v = 0;
    T_CHECK(db_schema_version(d, &v) == 0 && v == DB_SCHEMA_VERSION && v == 2);
    heat_seen hs = {0};
    T_CHECK(db_prediction_get(d, id, heat_cb, &hs) == 0 && hs.rows == 1 && hs.label[0] == 0);
    db_heatmap_new hm = {"png", 3, "beef", "cat", 2, 1, 0.5};
    int64_t id2 = 0;
    fill(&it, "2024-02-02T00:00:00.000Z", "old", "cat", "s", "0124", "cd", 2);
    it.heatmap = &hm;
    T_CHECK(db_predictions_insert(d, &it, 1, &id2) == 0);
    void *png = NULL;
    size_t len = 0;
    T_CHECK(db_heatmap_get(d, id2, &png, &len) == 0 && len == 3 && !memcmp(png, "png", 3));
    free(png);
    db_close(d);
}

static void test_predictions(void)
{
    db *d = open_db();
    if (!d)
        return;
    static char big[DB_IMAGE_INLINE_MAX + 100];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 7);
    const char small[] = "tiny-bytes";
    db_prediction_new it[5];
    fill(&it[0], "2024-03-01T10:00:00.000Z", "a", "cat", "s1", "aa01", small, sizeof small);
    fill(&it[1], "2024-03-02T10:00:00.000Z", "a", "dog", "s1", "aa02", small, sizeof small - 1);
    fill(&it[2], "2024-03-02T23:59:59.999Z", "b", "cat", "s2", "bb03", big, sizeof big);
    fill(&it[3], "2024-03-03T00:00:00.000Z", "b", "cat", NULL, "aa01", small, sizeof small);
    fill(&it[4], "2024-03-04T08:00:00.000Z", "a", "it's; DROP TABLE x", "s3", "cc05", small, 3);
    int64_t ids[5];
    T_CHECK(db_predictions_insert(d, it, 2, ids) == 0);
    T_CHECK(db_predictions_insert(d, it + 2, 3, ids + 2) == 0);
    for (int i = 1; i < 5; i++)
        T_CHECK(ids[i] == ids[i - 1] + 1);
    T_CHECK(count_files(datadir) == 1);   /* only the big one is a file */

    collect c = {0};
    T_CHECK(db_prediction_list(d, NULL, 0, 0, 100, collect_cb, &c) == 0 && c.n == 5);
    T_CHECK(c.ids[0] == ids[4] && c.ids[4] == ids[0]);  /* newest first */
    int64_t total = 0;
    db_filter f = {.model = "a"};
    T_CHECK(db_prediction_count(d, &f, &total) == 0 && total == 3);
    f = (db_filter){.label = "cat", .model = "b"};
    T_CHECK(db_prediction_count(d, &f, &total) == 0 && total == 2);
    f = (db_filter){.subject = "s1"};
    T_CHECK(db_prediction_count(d, &f, &total) == 0 && total == 2);
    f = (db_filter){.from = "2024-03-02T00:00:00.000Z", .to = "2024-03-02T23:59:59.999Z"};
    T_CHECK(db_prediction_count(d, &f, &total) == 0 && total == 2);
    f = (db_filter){.label = "it's; DROP TABLE x"};
    T_CHECK(db_prediction_count(d, &f, &total) == 0 && total == 1);
    memset(&c, 0, sizeof c);
    T_CHECK(db_prediction_list(d, NULL, 0, 1, 2, collect_cb, &c) == 0 && c.n == 2 &&
            c.ids[0] == ids[3] && c.ids[1] == ids[2]);
    memset(&c, 0, sizeof c);
    T_CHECK(db_prediction_list(d, NULL, ids[2], 0, 10, collect_cb, &c) == 0 && c.n == 2 &&
            c.ids[0] == ids[1]);  /* keyset: ids below ids[2] */
    memset(&c, 0, sizeof c);
    T_CHECK(db_prediction_get(d, ids[4], collect_cb, &c) == 0 && c.n == 1 &&
            !strcmp(c.labels[0], "it's; DROP TABLE x"));
    T_CHECK(db_prediction_get(d, 999999, collect_cb, &c) == 1);

    void *bytes = NULL;
    size_t len = 0;
    char ct[64];
    T_CHECK(db_image_get(d, ids[2], &bytes, &len, ct, sizeof ct) == 0 && len == sizeof big &&
            bytes && !memcmp(bytes, big, len) && !strcmp(ct, "image/png"));
    free(bytes);
    T_CHECK(db_image_get(d, ids[0], &bytes, &len, ct, sizeof ct) == 0 && len == sizeof small &&
            !memcmp(bytes, small, len));
    free(bytes);
    T_CHECK(db_image_get(d, 424242, &bytes, &len, ct, sizeof ct) == 1);

    /* Feedback upsert: one row per (prediction, user). */
    int created = -1;
    T_CHECK(db_feedback_upsert(d, ids[0], "u1", 1, NULL, NULL, "2024-03-05T00:00:00.000Z", &created) == 0 && created == 1);
    T_CHECK(db_feedback_upsert(d, ids[0], "u1", 0, "dog", "n", "2024-03-05T01:00:00.000Z", &created) == 0 && created == 0);
    T_CHECK(db_feedback_upsert(d, ids[0], "u2", 1, NULL, NULL, "2024-03-05T02:00:00.000Z", &created) == 0 && created == 1);
    T_CHECK(db_feedback_upsert(d, ids[2], "u1", 1, NULL, NULL, "2024-03-05T02:00:00.000Z", &created) == 0);
    T_CHECK(db_feedback_upsert(d, 999999, "u1", 1, NULL, NULL, "2024-03-05T02:00:00.000Z", &created) == 1);

    db_stats st;
    T_CHECK(db_stats_get(d, "2024-03-02", &st, NULL, NULL) == 0);
    T_CHECK(st.predictions == 5 && st.feedback == 3 && st.feedback_correct == 2);

    /* Deleting a prediction removes its feedback; the shared image stays
     * until its last prediction goes; the file-backed image is unlinked. */
    T_CHECK(db_prediction_delete(d, ids[2]) == 0);
    T_CHECK(db_prediction_delete(d, ids[2]) == 1);
    T_CHECK(count_files(datadir) == 0);
    T_CHECK(db_stats_get(d, "2024-03-02", &st, NULL, NULL) == 0 && st.feedback == 2);
    T_CHECK(db_prediction_delete(d, ids[0]) == 0);
    T_CHECK(db_image_get(d, ids[3], &bytes, &len, ct, sizeof ct) == 0 && len == sizeof small);
    free(bytes);
    db_close(d);
}

typedef struct groups {
    int64_t model_a, model_b, cat, days, day_0303;
} groups;

static int group_cb(void *ctx, const char *group, const char *key, int64_t n)
{
    groups *g = ctx;
    if (!strcmp(group, "model") && !strcmp(key, "a"))
        g->model_a = n;
    if (!strcmp(group, "model") && !strcmp(key, "b"))
        g->model_b = n;
    if (!strcmp(group, "label") && !strcmp(key, "cat"))
        g->cat = n;
    if (!strcmp(group, "day")) {
        g->days++;
        if (!strcmp(key, "2024-03-03"))
            g->day_0303 = n;
    }
    return 0;
}

static void test_stats_groups(void)
{
    db *d = open_db();
    if (!d)
        return;
    /* After test_predictions: ids 2 (a, dog, 03-02), 4 (b, cat, 03-03), 5 (a, 03-04) remain. */
    groups g = {0};
    db_stats st;
    T_CHECK(db_stats_get(d, "2024-03-03", &st, group_cb, &g) == 0);
    T_CHECK(st.predictions == 3);
    T_CHECK(g.model_a == 2 && g.model_b == 1 && g.cat == 1);
    T_CHECK(g.days == 2 && g.day_0303 == 1);  /* days before since_day are left out */
    db_close(d);
}

static int audit_count(void *ctx, const char *at, const char *actor, const char *action,
                       const char *target, const char *addr, const char *detail)
{
    (void)at, (void)actor, (void)target, (void)detail;
    int *n = ctx;
    /* Newest first: the two 00:04 rows come before the 00:00 one. */
    if (!strcmp(action, "login_failed") && (*n == 0 ? !strcmp(addr, "5.6.7.8") : 1))
        (*n)++;
    return 0;
}

static void test_users_keys_sessions(void)
{
    db *d = open_db();
    if (!d)
        return;
    const char *now = "2024-05-01T00:00:00.000Z";
    int64_t n = -1, id = 0;
    T_CHECK(db_user_count(d, &n) == 0 && n == 0);
    T_CHECK(db_user_add(d, "ann", "clinician", "$y$hash1", now) == 0);
    T_CHECK(db_user_add(d, "ann", "admin", "$y$hash2", now) == 1);
    T_CHECK(db_user_add(d, "bad", "superuser", "$y$x", now) < 0);  /* CHECK constraint */
    char role[DB_ROLE_LEN], hash[DB_HASH_LEN];
    T_CHECK(db_user_get(d, "ann", &id, role, hash) == 0 && !strcmp(role, "clinician") &&
            !strcmp(hash, "$y$hash1"));
    T_CHECK(db_user_get(d, "nobody", &id, role, hash) == 1);

    T_CHECK(db_session_add(d, "tokhash", id, now, "2024-05-01T12:00:00.000Z") == 0);
    char user[80];
    T_CHECK(db_session_find(d, "tokhash", "2024-05-01T06:00:00.000Z", user, sizeof user, role) == 0 &&
            !strcmp(user, "ann") && !strcmp(role, "clinician"));
    T_CHECK(db_session_find(d, "tokhash", "2024-05-01T12:00:00.000Z", user, sizeof user, role) == 1);
    T_CHECK(db_session_find(d, "other", "2024-05-01T06:00:00.000Z", user, sizeof user, role) == 1);
    T_CHECK(db_user_set_role(d, "ann", "viewer") == 0);
    T_CHECK(db_session_find(d, "tokhash", "2024-05-01T06:00:00.000Z", user, sizeof user, role) == 0 &&
            !strcmp(role, "viewer"));  /* a role change applies to live sessions */
    T_CHECK(db_session_revoke(d, "tokhash") == 0 && db_session_revoke(d, "tokhash") == 1);
    T_CHECK(db_session_find(d, "tokhash", "2024-05-01T06:00:00.000Z", user, sizeof user, role) == 1);
    T_CHECK(db_session_add(d, "tok2", id, now, "2099-01-01T00:00:00.000Z") == 0);
    T_CHECK(db_user_set_password(d, "ann", "$y$hash3") == 0);  /* ends every session */
    T_CHECK(db_session_find(d, "tok2", now, user, sizeof user, role) == 1);
    T_CHECK(db_user_set_password(d, "nobody", "$y$x") == 1);
    int64_t purged = -1;
    T_CHECK(db_session_purge(d, "2024-05-01T12:00:00.001Z", &purged) == 0 && purged == 1);
    T_CHECK(db_session_purge(d, "2024-05-01T12:00:00.001Z", &purged) == 0 && purged == 0);

    int64_t k1, k2, k3, rid;
    T_CHECK(db_key_add(d, "k1", "viewer", "abcd1234", "h1", now, &k1) == 0);
    T_CHECK(db_key_add(d, "k2", "admin", "abcd9999", "h2", now, &k2) == 0);
    T_CHECK(db_key_add(d, "k3", "admin", "ffff0000", "h3", now, &k3) == 0);
    T_CHECK(db_key_add(d, "dup", "admin", "ffff0001", "h3", now, &rid) < 0);  /* unique hash */
    char kname[64];
    T_CHECK(db_key_find(d, "h2", &rid, role, kname, sizeof kname) == 0 && rid == k2 &&
            !strcmp(role, "admin") && !strcmp(kname, "k2"));
    T_CHECK(db_key_revoke(d, "abcd", now, &rid) == 1);   /* prefixes match whole */
    T_CHECK(db_key_revoke(d, "ffff0000", now, &rid) == 0 && rid == k3);
    T_CHECK(db_key_find(d, "h3", &rid, role, kname, sizeof kname) == 1);
    char idtxt[32];
    snprintf(idtxt, sizeof idtxt, "%lld", (long long)k1);
    T_CHECK(db_key_revoke(d, idtxt, now, &rid) == 0 && rid == k1);
    T_CHECK(db_key_revoke(d, idtxt, now, &rid) == 1);    /* already revoked */

    T_CHECK(db_audit(d, "2024-05-01T00:00:01.000Z", "x", "login_failed", "ann", "1.2.3.4", NULL) == 0);
    T_CHECK(db_audit(d, "2024-05-01T00:04:00.000Z", "x", "login_failed", "ann", "1.2.3.4", NULL) == 0);
    T_CHECK(db_audit(d, "2024-05-01T00:04:00.000Z", "x", "login_failed", "ann", "5.6.7.8", NULL) == 0);
    T_CHECK(db_login_failures(d, "ann", "1.2.3.4", "2024-05-01T00:00:00.000Z", &n) == 0 && n == 2);
    T_CHECK(db_login_failures(d, "ann", "1.2.3.4", "2024-05-01T00:01:00.000Z", &n) == 0 && n == 1);
    int audit_rows = 0;
    T_CHECK(db_audit_list(d, 2, audit_count, &audit_rows) == 0 && audit_rows == 2);
    T_CHECK(db_user_delete(d, "ann") == 0 && db_user_delete(d, "ann") == 1);

    /* Revocation by id only; the last admin user cannot be deleted. */
    T_CHECK(db_key_revoke_id(d, k2, now) == 0 && db_key_revoke_id(d, k2, now) == 1);
    T_CHECK(db_key_revoke_id(d, 987654, now) == 1);
    T_CHECK(db_user_add(d, "root1", "admin", "$y$a", now) == 0);
    T_CHECK(db_user_add(d, "root2", "admin", "$y$b", now) == 0);
    T_CHECK(db_user_add(d, "cli", "clinician", "$y$c", now) == 0);
    T_CHECK(db_user_delete_keep_admin(d, "nobody") == 1);
    T_CHECK(db_user_delete_keep_admin(d, "root1") == 0);
    T_CHECK(db_user_delete_keep_admin(d, "root2") == 2);
    T_CHECK(db_user_get(d, "root2", &id, role, hash) == 0);
    T_CHECK(db_user_delete_keep_admin(d, "cli") == 0);
    db_close(d);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/scanlite_test_db_%ld", (long)getpid());
    mkdir(dir, 0700);
    snprintf(dbpath, sizeof dbpath, "%s/t.db", dir);
    snprintf(datadir, sizeof datadir, "%s/data", dir);
    T_RUN(test_open_migrate);
    T_RUN(test_refuses_newer_schema);
    T_RUN(test_predictions);
    T_RUN(test_heatmaps);
    T_RUN(test_migrate_v1);
    T_RUN(test_stats_groups);
    T_RUN(test_users_keys_sessions);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return t_summary("test_db");
}
