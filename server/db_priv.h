/* db_priv.h — internals shared by the db_*.c files: the table of every SQL
 * statement (one X-macro list gives the enum and the text; each is prepared
 * on every pooled connection at open), the connection pool and small
 * binding helpers. Nothing outside server/db_*.c includes this. */
#ifndef DB_PRIV_H
#define DB_PRIV_H

#include "db.h"

#include <pthread.h>
#include <sqlite3.h>

/* Filters of prediction queries: ?1 model ?2 label ?3 subject ?4 from ?5 to. */
#define DB_PRED_WHERE                                                                      \
    " WHERE (?1 IS NULL OR model = ?1) AND (?2 IS NULL OR label = ?2)"                     \
    " AND (?3 IS NULL OR subject = ?3) AND (?4 IS NULL OR created_at >= ?4)"               \
    " AND (?5 IS NULL OR created_at <= ?5)"
#define DB_PRED_COLS                                                                       \
    "id, created_at, model, model_sha256, input_sha256, input_size, content_type,"         \
    " filename, label, confidence, topk, image_w, image_h, ms_queue, ms_decode,"           \
    " ms_infer, subject, note, user,"                                                      \
    " (SELECT h.label FROM heatmaps h WHERE h.prediction_id = predictions.id)"

#define DB_STATEMENTS(X)                                                                   \
    X(BEGIN, "BEGIN IMMEDIATE")                                                            \
    X(BEGIN_READ, "BEGIN DEFERRED")                                                        \
    X(INTEGRITY, "PRAGMA integrity_check")                                                 \
    X(COMMIT, "COMMIT")                                                                    \
    X(ROLLBACK, "ROLLBACK")                                                                \
    X(SIZE, "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()") \
    X(MODEL_UPSERT,                                                                        \
      "INSERT INTO models(name, sha256, path, file_size, labels, first_seen, last_loaded)" \
      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT(name, sha256) DO UPDATE SET"        \
      " path = excluded.path, last_loaded = excluded.last_loaded")                         \
    X(IMAGE_INSERT,                                                                        \
      "INSERT OR IGNORE INTO images(sha256, size, data, path, created_at)"                 \
      " VALUES(?1, ?2, ?3, ?4, ?5)")                                                       \
    X(IMAGE_GET,                                                                           \
      "SELECT i.data, i.path, i.size, p.content_type FROM predictions p"                   \
      " JOIN images i ON i.sha256 = p.input_sha256 WHERE p.id = ?1")                       \
    X(IMAGE_UNUSED_DELETE,                                                                 \
      "DELETE FROM images WHERE sha256 = ?1 AND NOT EXISTS"                                \
      " (SELECT 1 FROM predictions WHERE input_sha256 = ?1) RETURNING path")               \
    X(PRED_INSERT,                                                                         \
      "INSERT INTO predictions(created_at, model, model_sha256, input_sha256, input_size," \
      " content_type, filename, label, confidence, topk, image_w, image_h, ms_queue,"      \
      " ms_decode, ms_infer, subject, note, user) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"  \
      " ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)")                                 \
    X(HEATMAP_INSERT,                                                                      \
      "INSERT INTO heatmaps(prediction_id, label, sha256, size, width, height, ms_explain,"  \
      " data, path, created_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")           \
    X(HEATMAP_GET, "SELECT data, path, size FROM heatmaps WHERE prediction_id = ?1")       \
    X(HEATMAP_DELETE,                                                                      \
      "DELETE FROM heatmaps WHERE prediction_id = ?1 RETURNING sha256, path")              \
    X(HEATMAP_SHA_USED, "SELECT 1 FROM heatmaps WHERE sha256 = ?1 LIMIT 1")                \
    X(PRED_GET, "SELECT " DB_PRED_COLS " FROM predictions WHERE id = ?1")                  \
    X(PRED_LIST,                                                                           \
      "SELECT " DB_PRED_COLS " FROM predictions" DB_PRED_WHERE                             \
      " AND (?6 = 0 OR id < ?6) ORDER BY id DESC LIMIT ?7 OFFSET ?8")                      \
    X(PRED_COUNT, "SELECT count(*) FROM predictions" DB_PRED_WHERE)                        \
    X(PRED_DELETE, "DELETE FROM predictions WHERE id = ?1 RETURNING input_sha256")         \
    X(FB_EXISTS, "SELECT 1 FROM feedback WHERE prediction_id = ?1 AND user = ?2")          \
    X(PRED_EXISTS, "SELECT 1 FROM predictions WHERE id = ?1")                              \
    X(FB_UPSERT,                                                                           \
      "INSERT INTO feedback(prediction_id, user, correct, label, note, created_at,"        \
      " updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT(prediction_id, user)"   \
      " DO UPDATE SET correct = excluded.correct, label = excluded.label,"                 \
      " note = excluded.note, updated_at = excluded.updated_at")                           \
    X(FB_LIST,                                                                             \
      "SELECT user, correct, label, note, created_at, updated_at FROM feedback"            \
      " WHERE prediction_id = ?1 ORDER BY id")                                             \
    X(STAT_TOTAL, "SELECT count(*) FROM predictions")                                      \
    X(STAT_FB,                                                                             \
      "SELECT count(*), coalesce(sum(correct), 0) FROM feedback")                          \
    X(STAT_MODEL, "SELECT model, count(*) FROM predictions GROUP BY model ORDER BY model") \
    X(STAT_LABEL, "SELECT label, count(*) FROM predictions GROUP BY label ORDER BY label") \
    X(STAT_DAY,                                                                            \
      "SELECT substr(created_at, 1, 10) AS day, count(*) FROM predictions"                 \
      " WHERE created_at >= ?1 GROUP BY day ORDER BY day")                                 \
    X(USER_COUNT, "SELECT count(*) FROM users")                                            \
    X(USER_ADD,                                                                            \
      "INSERT INTO users(name, role, pwhash, created_at) VALUES(?1, ?2, ?3, ?4)"           \
      " ON CONFLICT(name) DO NOTHING")                                                     \
    X(USER_DELETE, "DELETE FROM users WHERE name = ?1")                                    \
    X(USER_ROLE_OF, "SELECT role FROM users WHERE name = ?1")                              \
    X(ADMIN_COUNT, "SELECT count(*) FROM users WHERE role = 'admin'")                      \
    X(USER_PASSWD, "UPDATE users SET pwhash = ?2 WHERE name = ?1")                         \
    X(USER_ROLE, "UPDATE users SET role = ?2 WHERE name = ?1")                             \
    X(USER_GET, "SELECT id, role, pwhash FROM users WHERE name = ?1")                      \
    X(USER_LIST, "SELECT id, name, role, created_at FROM users ORDER BY id")               \
    X(USER_SESSIONS_REVOKE,                                                                \
      "UPDATE sessions SET revoked_at = ?2 WHERE revoked_at IS NULL AND user_id ="         \
      " (SELECT id FROM users WHERE name = ?1)")                                           \
    X(KEY_ADD,                                                                             \
      "INSERT INTO api_keys(name, role, prefix, hash, created_at)"                         \
      " VALUES(?1, ?2, ?3, ?4, ?5)")                                                       \
    X(KEY_FIND,                                                                            \
      "SELECT id, role, name, hash FROM api_keys WHERE hash = ?1 AND revoked_at IS NULL")  \
    X(KEY_MATCH,                                                                           \
      "SELECT id FROM api_keys WHERE revoked_at IS NULL AND"                               \
      " (CAST(id AS TEXT) = ?1 OR prefix = ?1) LIMIT 2")                                   \
    X(KEY_REVOKE, "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1")                     \
    X(KEY_REVOKE_ACTIVE,                                                                   \
      "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL")          \
    X(KEY_LIST,                                                                            \
      "SELECT id, name, role, prefix, created_at, revoked_at FROM api_keys ORDER BY id")   \
    X(SESSION_ADD,                                                                         \
      "INSERT INTO sessions(hash, user_id, created_at, expires_at) VALUES(?1, ?2, ?3, ?4)")\
    X(SESSION_FIND,                                                                        \
      "SELECT u.name, u.role, s.hash FROM sessions s JOIN users u ON u.id = s.user_id"     \
      " WHERE s.hash = ?1 AND s.revoked_at IS NULL AND s.expires_at > ?2")                 \
    X(SESSION_PURGE, "DELETE FROM sessions WHERE expires_at < ?1")                        \
    X(SESSION_REVOKE,                                                                      \
      "UPDATE sessions SET revoked_at = ?2 WHERE hash = ?1 AND revoked_at IS NULL")        \
    X(AUDIT_ADD,                                                                           \
      "INSERT INTO audit_log(at, actor, action, target, addr, detail)"                     \
      " VALUES(?1, ?2, ?3, ?4, ?5, ?6)")                                                   \
    X(AUDIT_FAILS,                                                                         \
      "SELECT count(*) FROM audit_log WHERE action = 'login_failed' AND target = ?1"       \
      " AND addr = ?2 AND at >= ?3")                                                       \
    X(AUDIT_LIST,                                                                          \
      "SELECT at, actor, action, target, addr, detail FROM audit_log"                      \
      " ORDER BY id DESC LIMIT ?1")

enum {
#define DB_ENUM(name, sql) DB_ST_##name,
    DB_STATEMENTS(DB_ENUM)
#undef DB_ENUM
    DB_ST_COUNT
};

typedef struct db_conn {
    sqlite3 *h;
    sqlite3_stmt *st[DB_ST_COUNT];
    int busy;
} db_conn;

struct db {
    char *path;
    char *data_dir;
    int nconn;
    db_conn *conns;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* Orders image-file writes + their commit against deletions + unlink,
     * so a delete never unlinks a file a concurrent insert relies on. */
    pthread_mutex_t files_mu;
};

/* Takes a free connection (waits when all are in use) / gives it back. */
db_conn *db_conn_get(db *d);
void db_conn_put(db *d, db_conn *c);
/* The statement, reset and unbound, ready for binding. */
sqlite3_stmt *db_stmt(db_conn *c, int which);
/* Records sqlite's message for db_errmsg; returns -1. */
int db_fail(db_conn *c, const char *what);
int db_fail_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Binds text or NULL (s == NULL). */
int db_bind_text(sqlite3_stmt *st, int i, const char *s);
/* Steps a statement that returns no rows (or ignores them): 0 / -1. */
int db_exec_stmt(db_conn *c, sqlite3_stmt *st, const char *what);
int db_begin(db_conn *c);
int db_commit(db_conn *c);
void db_rollback(db_conn *c);
/* Column text or NULL. */
const char *db_col_text(sqlite3_stmt *st, int i);
/* Constant-time equality of two NUL-terminated strings of the same length. */
int db_secret_eq(const char *a, const char *b);

#endif
