/* db.h — the store of the scanlite server: SQLite (WAL, foreign keys,
 * synchronous=FULL, busy timeout), schema versioned by PRAGMA user_version
 * with migrations applied at open, every statement prepared at open.
 * A db owns a small pool of connections; every call takes one for its
 * duration, so any thread may call any function concurrently.
 * Functions return 0 on success, -1 on a database error (message via
 * db_errmsg of the calling thread), and 1 for "not found" where stated.
 * Timestamps are UTC ISO-8601 strings "YYYY-MM-DDTHH:MM:SS.mmmZ". */
#ifndef DB_H
#define DB_H

#include <stddef.h>
#include <stdint.h>

typedef struct db db;

#define DB_SCHEMA_VERSION 2
#define DB_IMAGE_INLINE_MAX (256 * 1024)  /* larger uploads and heatmaps go to files under data_dir */
#define DB_TIME_LEN 32

/* path: the SQLite file; data_dir: directory of content-addressed image
 * files (created 0700 if missing); conns: connections in the pool (>= 1). */
int db_open(const char *path, const char *data_dir, int conns, db **out, char *err, size_t errlen);
void db_close(db *d);
/* The last error message of the calling thread. */
const char *db_errmsg(void);
/* Now as an ISO-8601 UTC string, plus offset_s seconds. */
void db_time_now(char out[DB_TIME_LEN], int64_t offset_s);
int db_schema_version(db *d, int *version);
int db_size_bytes(db *d, int64_t *bytes);
/* "ok" when PRAGMA integrity_check passes; out gets its first line. */
int db_integrity_check(db *d, char *out, size_t outlen);

/* ---- models ---- */
int db_model_record(db *d, const char *name, const char *sha256, const char *path,
                    int64_t file_size, const char *labels_json, const char *now);

/* ---- predictions ---- */
typedef struct db_prediction {
    int64_t id;
    const char *created_at;
    const char *model, *model_sha256;
    const char *input_sha256;
    int64_t input_size;
    const char *content_type;
    const char *filename;           /* may be NULL */
    const char *label;
    double confidence;
    const char *topk_json;          /* rendered [{"label":..,"p":..}, ...] */
    int image_w, image_h;
    double ms_queue, ms_decode, ms_infer;
    const char *subject, *note;     /* may be NULL */
    const char *user;
    const char *heatmap_label;      /* label the stored heatmap explains; NULL: none */
} db_prediction;

/* A Grad-CAM heatmap stored with its prediction (one per prediction). */
typedef struct db_heatmap_new {
    const void *png;
    size_t len;
    const char *sha256;             /* of png: the content address of a file-backed one */
    const char *label;              /* label explained */
    int width, height;
    double ms_explain;
} db_heatmap_new;

/* One upload of a batch: the record plus the bytes to store. */
typedef struct db_prediction_new {
    db_prediction rec;
    const void *bytes;
    size_t len;
    const db_heatmap_new *heatmap;  /* NULL: no heatmap (rec.heatmap_label is ignored) */
} db_prediction_new;

/* Stores images, heatmaps and predictions of a batch in one transaction;
 * ids[n] receives the row ids. Image and heatmap files are written and
 * fsynced before the transaction commits. */
int db_predictions_insert(db *d, const db_prediction_new *items, int n, int64_t *ids);

typedef struct db_filter {
    const char *model, *label, *subject;
    const char *from, *to;          /* inclusive bounds on created_at */
} db_filter;

/* Row callback: the record's strings are valid during the call only.
 * Returning non-zero stops the iteration. */
typedef int (*db_prediction_cb)(void *ctx, const db_prediction *p);

int db_prediction_get(db *d, int64_t id, db_prediction_cb cb, void *ctx); /* 1: not found */
/* Newest first; rows with id < before_id (0 = no bound), after skip. */
int db_prediction_list(db *d, const db_filter *f, int64_t before_id, int64_t skip, int64_t limit,
                       db_prediction_cb cb, void *ctx);
int db_prediction_count(db *d, const db_filter *f, int64_t *total);
/* Deletes the prediction, its feedback, its heatmap, and its image when
 * no other prediction shares it. 1: not found. */
int db_prediction_delete(db *d, int64_t id);
/* The stored upload of a prediction: *bytes malloc'ed (caller frees),
 * content type copied into ctype. 1: not found. */
int db_image_get(db *d, int64_t prediction_id, void **bytes, size_t *len, char *ctype, size_t ctlen);
/* The stored heatmap PNG of a prediction: *png malloc'ed (caller frees).
 * 1: no such prediction or it has no heatmap. */
int db_heatmap_get(db *d, int64_t prediction_id, void **png, size_t *len);

/* ---- feedback ---- */
/* One per (prediction, user): inserted or updated; *created says which.
 * label/note may be NULL. 1: prediction not found. */
int db_feedback_upsert(db *d, int64_t prediction_id, const char *user, int correct,
                       const char *label, const char *note, const char *now, int *created);
typedef int (*db_feedback_cb)(void *ctx, const char *user, int correct, const char *label,
                              const char *note, const char *created_at, const char *updated_at);
int db_feedback_list(db *d, int64_t prediction_id, db_feedback_cb cb, void *ctx);

/* ---- statistics ---- */
typedef struct db_stats {
    int64_t predictions, feedback, feedback_correct;
} db_stats;
/* group is "model", "label" or "day"; key the group value. */
typedef int (*db_group_cb)(void *ctx, const char *group, const char *key, int64_t count);
/* Per-day counts are for days >= since_day ("YYYY-MM-DD"). */
int db_stats_get(db *d, const char *since_day, db_stats *out, db_group_cb cb, void *ctx);

/* ---- users ---- */
#define DB_ROLE_LEN 16
#define DB_NAME_MAX 64
#define DB_HASH_LEN 256

int db_user_count(db *d, int64_t *n);
int db_user_add(db *d, const char *name, const char *role, const char *pwhash, const char *now); /* 1: exists */
int db_user_delete(db *d, const char *name);                                                    /* 1: not found */
/* Like db_user_delete, in one transaction with the check that at least
 * one admin user remains: 2 when name is the last admin. */
int db_user_delete_keep_admin(db *d, const char *name);
int db_user_set_password(db *d, const char *name, const char *pwhash);                          /* 1: not found */
int db_user_set_role(db *d, const char *name, const char *role);                                /* 1: not found */
int db_user_get(db *d, const char *name, int64_t *id, char role[DB_ROLE_LEN],
                char pwhash[DB_HASH_LEN]);                                                      /* 1: not found */
typedef int (*db_user_cb)(void *ctx, int64_t id, const char *name, const char *role,
                          const char *created_at);
int db_user_list(db *d, db_user_cb cb, void *ctx);

/* ---- API keys (stored as SHA-256 hex of the key) ---- */
int db_key_add(db *d, const char *name, const char *role, const char *prefix,
               const char *hash_hex, const char *now, int64_t *id);
/* Active (not revoked) key by hash. 1: not found. */
int db_key_find(db *d, const char *hash_hex, int64_t *id, char role[DB_ROLE_LEN], char *name,
                size_t namelen);
/* By numeric id or key prefix. 1: not found, 2: prefix ambiguous. */
int db_key_revoke(db *d, const char *id_or_prefix, const char *now, int64_t *revoked_id);
/* By numeric id only. 1: no active key with that id. */
int db_key_revoke_id(db *d, int64_t id, const char *now);
typedef int (*db_key_cb)(void *ctx, int64_t id, const char *name, const char *role,
                         const char *prefix, const char *created_at, const char *revoked_at);
int db_key_list(db *d, db_key_cb cb, void *ctx);

/* ---- sessions (stored as SHA-256 hex of the token) ---- */
int db_session_add(db *d, const char *hash_hex, int64_t user_id, const char *now,
                   const char *expires_at);
/* Live session: not revoked, expires_at > now, user still present. 1: none. */
int db_session_find(db *d, const char *hash_hex, const char *now, char *user, size_t userlen,
                    char role[DB_ROLE_LEN]);
int db_session_revoke(db *d, const char *hash_hex); /* 1: no such live session */
/* Deletes sessions that expired before `before`; *n gets how many. */
int db_session_purge(db *d, const char *before, int64_t *n);

/* ---- audit log ---- */
int db_audit(db *d, const char *now, const char *actor, const char *action, const char *target,
             const char *addr, const char *detail);
/* Failed logins for (username, addr) at or after since. */
int db_login_failures(db *d, const char *username, const char *addr, const char *since,
                      int64_t *n);
typedef int (*db_audit_cb)(void *ctx, const char *at, const char *actor, const char *action,
                           const char *target, const char *addr, const char *detail);
/* Newest first, at most limit rows. */
int db_audit_list(db *d, int64_t limit, db_audit_cb cb, void *ctx);

#endif
