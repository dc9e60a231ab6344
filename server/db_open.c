/* db_open.c — opening and closing the store: connection pool, pragmas
 * (WAL, synchronous=FULL, foreign keys, busy timeout), schema migrations
 * keyed by PRAGMA user_version, preparation of every statement, the
 * thread-local error message and small shared helpers. */
#include "db_priv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define DB_BUSY_TIMEOUT_MS 10000  /* writers wait this long for the lock */

static _Thread_local char tl_err[512];

/* migrations[i] brings user_version i to i + 1; applied in order, each in
 * its own transaction together with the version bump. */
static const char *const migrations[] = {
    /* 0 -> 1: the initial schema. */
    "CREATE TABLE models(id INTEGER PRIMARY KEY, name TEXT NOT NULL, sha256 TEXT NOT NULL,"
    " path TEXT NOT NULL, file_size INTEGER NOT NULL, labels TEXT NOT NULL,"
    " first_seen TEXT NOT NULL, last_loaded TEXT NOT NULL, UNIQUE(name, sha256));"
    "CREATE TABLE images(sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, data BLOB,"
    " path TEXT, created_at TEXT NOT NULL, CHECK((data IS NULL) <> (path IS NULL)));"
    "CREATE TABLE predictions(id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " created_at TEXT NOT NULL, model TEXT NOT NULL, model_sha256 TEXT NOT NULL,"
    " input_sha256 TEXT NOT NULL REFERENCES images(sha256), input_size INTEGER NOT NULL,"
    " content_type TEXT NOT NULL, filename TEXT, label TEXT NOT NULL,"
    " confidence REAL NOT NULL, topk TEXT NOT NULL, image_w INTEGER, image_h INTEGER,"
    " ms_queue REAL, ms_decode REAL, ms_infer REAL, subject TEXT, note TEXT,"
    " user TEXT NOT NULL);"
    "CREATE INDEX predictions_created ON predictions(created_at);"
    "CREATE INDEX predictions_model ON predictions(model);"
    "CREATE INDEX predictions_label ON predictions(label);"
    "CREATE INDEX predictions_subject ON predictions(subject);"
    "CREATE INDEX predictions_image ON predictions(input_sha256);"
    "CREATE TABLE feedback(id INTEGER PRIMARY KEY,"
    " prediction_id INTEGER NOT NULL REFERENCES predictions(id) ON DELETE CASCADE,"
    " user TEXT NOT NULL, correct INTEGER NOT NULL CHECK(correct IN (0, 1)), label TEXT,"
    " note TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,"
    " UNIQUE(prediction_id, user));"
    "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    " role TEXT NOT NULL CHECK(role IN ('admin', 'clinician', 'viewer')),"
    " pwhash TEXT NOT NULL, created_at TEXT NOT NULL);"
    "CREATE TABLE api_keys(id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
    " role TEXT NOT NULL CHECK(role IN ('admin', 'clinician', 'viewer')),"
    " prefix TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL,"
    " revoked_at TEXT);"
    "CREATE TABLE sessions(id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE,"
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " created_at TEXT NOT NULL, expires_at TEXT NOT NULL, revoked_at TEXT);"
    "CREATE TABLE audit_log(id INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL,"
    " action TEXT NOT NULL, target TEXT, addr TEXT, detail TEXT);"
    "CREATE INDEX audit_login ON audit_log(action, target, addr, at);",
    /* 1 -> 2: Grad-CAM heatmaps, at most one per prediction, inline up to
     * DB_IMAGE_INLINE_MAX bytes, else content-addressed files (path). */
    "CREATE TABLE heatmaps(prediction_id INTEGER PRIMARY KEY"
    " REFERENCES predictions(id) ON DELETE CASCADE, label TEXT NOT NULL,"
    " sha256 TEXT NOT NULL, size INTEGER NOT NULL, width INTEGER NOT NULL,"
    " height INTEGER NOT NULL, ms_explain REAL, data BLOB, path TEXT,"
    " created_at TEXT NOT NULL, CHECK((data IS NULL) <> (path IS NULL)));"
    "CREATE INDEX heatmaps_sha ON heatmaps(sha256);",
};
#define DB_NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))
_Static_assert(DB_NMIGRATIONS == DB_SCHEMA_VERSION, "one migration per schema version");

static const char *const stmt_sql[DB_ST_COUNT] = {
#define DB_SQL(name, sql) sql,
    DB_STATEMENTS(DB_SQL)
#undef DB_SQL
};

const char *db_errmsg(void) { return tl_err; }

int db_fail_msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tl_err, sizeof tl_err, fmt, ap);
    va_end(ap);
    return -1;
}

int db_fail(db_conn *c, const char *what)
{
    return db_fail_msg("%s: %s", what, c && c->h ? sqlite3_errmsg(c->h) : "no connection");
}

void db_time_now(char out[DB_TIME_LEN], int64_t offset_s)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    time_t t = ts.tv_sec + (time_t)offset_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    char base[24];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, DB_TIME_LEN, "%.19s.%03uZ", base, (unsigned)(ts.tv_nsec / 1000000) % 1000u);
}

int db_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    return s ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

const char *db_col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

sqlite3_stmt *db_stmt(db_conn *c, int which)
{
    sqlite3_stmt *st = c->st[which];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

int db_exec_stmt(db_conn *c, sqlite3_stmt *st, const char *what)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    int ret = rc == SQLITE_DONE ? 0 : db_fail(c, what);
    sqlite3_reset(st);
    return ret;
}

int db_begin(db_conn *c) { return db_exec_stmt(c, db_stmt(c, DB_ST_BEGIN), "begin"); }
int db_commit(db_conn *c) { return db_exec_stmt(c, db_stmt(c, DB_ST_COMMIT), "commit"); }

void db_rollback(db_conn *c)
{
    if (!sqlite3_get_autocommit(c->h)) {
        sqlite3_stmt *st = db_stmt(c, DB_ST_ROLLBACK);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
}

int db_secret_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = la != lb;
    size_t n = la < lb ? la : lb;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

db_conn *db_conn_get(db *d)
{
    pthread_mutex_lock(&d->mu);
    for (;;) {
        for (int i = 0; i < d->nconn; i++) {
            if (!d->conns[i].busy) {
                d->conns[i].busy = 1;
                pthread_mutex_unlock(&d->mu);
                return &d->conns[i];
            }
        }
        pthread_cond_wait(&d->cv, &d->mu);
    }
}

void db_conn_put(db *d, db_conn *c)
{
    pthread_mutex_lock(&d->mu);
    c->busy = 0;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

static int conn_exec(db_conn *c, const char *sql, const char *what)
{
    char *msg = NULL;
    if (sqlite3_exec(c->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        db_fail_msg("%s: %s", what, msg ? msg : sqlite3_errmsg(c->h));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int conn_user_version(db_conn *c, int *v)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->h, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return db_fail(c, "user_version");
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : db_fail(c, "user_version");
}

/* Applies the missing migrations; a database newer than this binary is refused. */
static int conn_migrate(db_conn *c)
{
    int v;
    if (conn_user_version(c, &v))
        return -1;
    if (v > DB_SCHEMA_VERSION)
        return db_fail_msg("database schema version %d is newer than this scanlite (%d)", v,
                           DB_SCHEMA_VERSION);
    while (v < DB_SCHEMA_VERSION) {
        char bump[64];
        snprintf(bump, sizeof bump, "PRAGMA user_version = %d", v + 1);
        if (conn_exec(c, "BEGIN IMMEDIATE", "migration begin"))
            return -1;
        /* Another process may have migrated while we waited for the lock. */
        int now;
        if (conn_user_version(c, &now))
            goto fail;
        if (now != v) {
            conn_exec(c, "ROLLBACK", "migration rollback");
            v = now;
            continue;
        }
        if (conn_exec(c, migrations[v], "migration") || conn_exec(c, bump, "migration") ||
            conn_exec(c, "COMMIT", "migration commit"))
            goto fail;
        v++;
    }
    return 0;
fail:
    conn_exec(c, "ROLLBACK", "migration rollback");
    return -1;
}

static int conn_open(db *d, db_conn *c, int first)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(d->path, &c->h, flags, NULL) != SQLITE_OK)
        return db_fail(c, d->path);
    sqlite3_extended_result_codes(c->h, 1);
    sqlite3_busy_timeout(c->h, DB_BUSY_TIMEOUT_MS);
    if (conn_exec(c, "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;", "pragmas"))
        return -1;
    if (first) {
        if (conn_exec(c, "PRAGMA journal_mode = WAL", "journal_mode") || conn_migrate(c))
            return -1;
    }
    for (int i = 0; i < DB_ST_COUNT; i++)
        if (sqlite3_prepare_v3(c->h, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &c->st[i],
                               NULL) != SQLITE_OK)
            return db_fail(c, stmt_sql[i]);
    return 0;
}

static void conn_close(db_conn *c)
{
    for (int i = 0; i < DB_ST_COUNT; i++)
        sqlite3_finalize(c->st[i]);
    if (c->h)
        sqlite3_close(c->h);
    memset(c, 0, sizeof *c);
}

int db_open(const char *path, const char *data_dir, int conns, db **out, char *err, size_t errlen)
{
    *out = NULL;
    if (conns < 1)
        conns = 1;
    db *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    pthread_mutex_init(&d->files_mu, NULL);
    d->path = strdup(path);
    d->data_dir = strdup(data_dir ? data_dir : ".");
    d->conns = calloc((size_t)conns, sizeof *d->conns);
    if (!d->path || !d->data_dir || !d->conns) {
        db_fail_msg("out of memory");
        goto fail;
    }
    if (mkdir(d->data_dir, 0700) != 0 && errno != EEXIST) {
        db_fail_msg("cannot create data directory %s: %s", d->data_dir, strerror(errno));
        goto fail;
    }
    d->nconn = conns;
    for (int i = 0; i < conns; i++)
        if (conn_open(d, &d->conns[i], i == 0))
            goto fail;
    *out = d;
    return 0;
fail:
    snprintf(err, errlen, "%s: %s", path, tl_err);
    db_close(d);
    return -1;
}

void db_close(db *d)
{
    if (!d)
        return;
    if (d->conns) {
        /* Closing the last connection checkpoints the WAL into the main file. */
        for (int i = d->nconn - 1; i >= 0; i--)
            conn_close(&d->conns[i]);
        free(d->conns);
    }
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->files_mu);
    free(d->path);
    free(d->data_dir);
    free(d);
}

int db_schema_version(db *d, int *version)
{
    db_conn *c = db_conn_get(d);
    int rc = conn_user_version(c, version);
    db_conn_put(d, c);
    return rc;
}

int db_size_bytes(db *d, int64_t *bytes)
{
    db_conn *c = db_conn_get(d);
    sqlite3_stmt *st = db_stmt(c, DB_ST_SIZE);
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : db_fail(c, "size");
    if (!rc)
        *bytes = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    db_conn_put(d, c);
    return rc;
}

int db_integrity_check(db *d, char *out, size_t outlen)
{
    db_conn *c = db_conn_get(d);
    sqlite3_stmt *st = db_stmt(c, DB_ST_INTEGRITY);
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : db_fail(c, "integrity_check");
    if (!rc)
        snprintf(out, outlen, "%s", db_col_text(st, 0) ? db_col_text(st, 0) : "");
    sqlite3_reset(st);
    db_conn_put(d, c);
    return rc;
}

int db_model_record(db *d, const char *name, const char *sha256, const char *path,
                    int64_t file_size, const char *labels_json, const char *now)
{
    db_conn *c = db_conn_get(d);
    sqlite3_stmt *st = db_stmt(c, DB_ST_MODEL_UPSERT);
    db_bind_text(st, 1, name);
    db_bind_text(st, 2, sha256);
    db_bind_text(st, 3, path);
    sqlite3_bind_int64(st, 4, file_size);
    db_bind_text(st, 5, labels_json);
    db_bind_text(st, 6, now);
    int rc = db_exec_stmt(c, st, "record model");
    db_conn_put(d, c);
    return rc;
}
