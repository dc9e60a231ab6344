/* db_pred.c — predictions, their stored uploads and heatmaps, feedback and
 * statistics. Uploads and heatmap PNGs are content-addressed by SHA-256: up
 * to DB_IMAGE_INLINE_MAX bytes they live in their table, larger ones in
 * data_dir/images/ab/<sha256> or data_dir/heatmaps/ab/<sha256> (written,
 * fsynced and renamed into place before the rows commit). */
#include "db_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DB_IMAGE_FILE_MAX ((size_t)1 << 31)  /* refuse to read back absurd files */

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Makes data_dir/<kind>/xx/<sha> durable (kind: "images" or "heatmaps");
 * rel gets the relative path. */
static int blob_file_store(db *d, const char *kind, const char *sha, const void *bytes, size_t len,
                           char *rel, size_t rellen)
{
    char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX];
    snprintf(rel, rellen, "%s/%.2s/%s", kind, sha, sha);
    if ((size_t)snprintf(dir, sizeof dir, "%s/%s", d->data_dir, kind) >= sizeof dir)
        return db_fail_msg("data directory path too long");
    if (mkdir(dir, 0700) && errno != EEXIST)
        return db_fail_msg("mkdir %s: %s", dir, strerror(errno));
    size_t dl = strlen(dir);
    snprintf(dir + dl, sizeof dir - dl, "/%.2s", sha);
    if (mkdir(dir, 0700) && errno != EEXIST)
        return db_fail_msg("mkdir %s: %s", dir, strerror(errno));
    snprintf(path, sizeof path, "%s/%s", d->data_dir, rel);
    struct stat sb;
    if (stat(path, &sb) == 0 && (size_t)sb.st_size == len)
        return 0;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp%ld.%lx", path, (long)getpid(),
                         (unsigned long)pthread_self()) >= sizeof tmp)
        return db_fail_msg("data directory path too long");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return db_fail_msg("create %s: %s", tmp, strerror(errno));
    if (write_all(fd, bytes, len) || fsync(fd)) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return db_fail_msg("write %s: %s", tmp, strerror(e));
    }
    close(fd);
    if (rename(tmp, path)) {
        int e = errno;
        unlink(tmp);
        return db_fail_msg("rename %s: %s", path, strerror(e));
    }
    if (fsync_dir(dir))
        return db_fail_msg("fsync %s: %s", dir, strerror(errno));
    return 0;
}

/* Inserts the heatmap row of prediction id (its file, if any, is stored). */
static int heatmap_insert(db_conn *c, int64_t id, const db_heatmap_new *h, const char *now)
{
    char rel[160];
    sqlite3_stmt *st = db_stmt(c, DB_ST_HEATMAP_INSERT);
    sqlite3_bind_int64(st, 1, id);
    db_bind_text(st, 2, h->label);
    db_bind_text(st, 3, h->sha256);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)h->len);
    sqlite3_bind_int(st, 5, h->width);
    sqlite3_bind_int(st, 6, h->height);
    sqlite3_bind_double(st, 7, h->ms_explain);
    if (h->len > DB_IMAGE_INLINE_MAX) {
        snprintf(rel, sizeof rel, "heatmaps/%.2s/%s", h->sha256, h->sha256);
        sqlite3_bind_null(st, 8);
        db_bind_text(st, 9, rel);
    } else {
        sqlite3_bind_blob(st, 8, h->len ? h->png : "", (int)h->len, SQLITE_STATIC);
        sqlite3_bind_null(st, 9);
    }
    db_bind_text(st, 10, now);
    return db_exec_stmt(c, st, "store heatmap");
}

int db_predictions_insert(db *d, const db_prediction_new *items, int n, int64_t *ids)
{
    char rel[160];
    int files = 0;
    for (int i = 0; i < n; i++)
        files |= items[i].len > DB_IMAGE_INLINE_MAX ||
                 (items[i].heatmap && items[i].heatmap->len > DB_IMAGE_INLINE_MAX);
    if (files)
        pthread_mutex_lock(&d->files_mu);
    /* Files first: a file without a row is harmless (content-addressed). */
    for (int i = 0; i < n; i++) {
        const db_heatmap_new *h = items[i].heatmap;
        if ((items[i].len > DB_IMAGE_INLINE_MAX &&
             blob_file_store(d, "images", items[i].rec.input_sha256, items[i].bytes, items[i].len,
                             rel, sizeof rel)) ||
            (h && h->len > DB_IMAGE_INLINE_MAX &&
             blob_file_store(d, "heatmaps", h->sha256, h->png, h->len, rel, sizeof rel))) {
            pthread_mutex_unlock(&d->files_mu);
            return -1;
        }
    }
    db_conn *c = db_conn_get(d);
    if (db_begin(c))
        goto fail;
    for (int i = 0; i < n; i++) {
        const db_prediction *r = &items[i].rec;
        sqlite3_stmt *st = db_stmt(c, DB_ST_IMAGE_INSERT);
        db_bind_text(st, 1, r->input_sha256);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)items[i].len);
        if (items[i].len > DB_IMAGE_INLINE_MAX) {
            snprintf(rel, sizeof rel, "images/%.2s/%s", r->input_sha256, r->input_sha256);
            sqlite3_bind_null(st, 3);
            db_bind_text(st, 4, rel);
        } else {
            sqlite3_bind_blob(st, 3, items[i].len ? items[i].bytes : "", (int)items[i].len,
                              SQLITE_STATIC);
            sqlite3_bind_null(st, 4);
        }
        db_bind_text(st, 5, r->created_at);
        if (db_exec_stmt(c, st, "store image"))
            goto fail;
        st = db_stmt(c, DB_ST_PRED_INSERT);
        db_bind_text(st, 1, r->created_at);
        db_bind_text(st, 2, r->model);
        db_bind_text(st, 3, r->model_sha256);
        db_bind_text(st, 4, r->input_sha256);
        sqlite3_bind_int64(st, 5, r->input_size);
        db_bind_text(st, 6, r->content_type);
        db_bind_text(st, 7, r->filename);
        db_bind_text(st, 8, r->label);
        sqlite3_bind_double(st, 9, r->confidence);
        db_bind_text(st, 10, r->topk_json);
        sqlite3_bind_int(st, 11, r->image_w);
        sqlite3_bind_int(st, 12, r->image_h);
        sqlite3_bind_double(st, 13, r->ms_queue);
        sqlite3_bind_double(st, 14, r->ms_decode);
        sqlite3_bind_double(st, 15, r->ms_infer);
        db_bind_text(st, 16, r->subject);
        db_bind_text(st, 17, r->note);
        db_bind_text(st, 18, r->user);
        if (db_exec_stmt(c, st, "insert prediction"))
            goto fail;
        ids[i] = sqlite3_last_insert_rowid(c->h);
        if (items[i].heatmap && heatmap_insert(c, ids[i], items[i].heatmap, r->created_at))
            goto fail;
    }
    if (db_commit(c))
        goto fail;
    db_conn_put(d, c);
    if (files)
        pthread_mutex_unlock(&d->files_mu);
    return 0;
fail:
    db_rollback(c);
    db_conn_put(d, c);
    if (files)
        pthread_mutex_unlock(&d->files_mu);
    return -1;
}

/* Fills p from a row of DB_PRED_COLS. */
static void pred_from_row(sqlite3_stmt *st, db_prediction *p)
{
    memset(p, 0, sizeof *p);
    p->id = sqlite3_column_int64(st, 0);
    p->created_at = db_col_text(st, 1);
    p->model = db_col_text(st, 2);
    p->model_sha256 = db_col_text(st, 3);
    p->input_sha256 = db_col_text(st, 4);
    p->input_size = sqlite3_column_int64(st, 5);
    p->content_type = db_col_text(st, 6);
    p->filename = db_col_text(st, 7);
    p->label = db_col_text(st, 8);
    p->confidence = sqlite3_column_double(st, 9);
    p->topk_json = db_col_text(st, 10);
    p->image_w = sqlite3_column_int(st, 11);
    p->image_h = sqlite3_column_int(st, 12);
    p->ms_queue = sqlite3_column_double(st, 13);
    p->ms_decode = sqlite3_column_double(st, 14);
    p->ms_infer = sqlite3_column_double(st, 15);
    p->subject = db_col_text(st, 16);
    p->note = db_col_text(st, 17);
    p->user = db_col_text(st, 18);
    p->heatmap_label = db_col_text(st, 19);
}

/* Steps st, handing each row to cb; 0 / -1. */
static int pred_rows(db_conn *c, sqlite3_stmt *st, db_prediction_cb cb, void *ctx, int *rows)
{
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        db_prediction p;
        pred_from_row(st, &p);
        n++;
        if (cb(ctx, &p)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(st);
    if (rows)
        *rows = n;
    return rc == SQLITE_DONE ? 0 : db_fail(c, "read predictions");
}

int db_prediction_get(db *d, int64_t id, db_prediction_cb cb, void *ctx)
{
    db_conn *c = db_conn_get(d);
    sqlite3_stmt *st = db_stmt(c, DB_ST_PRED_GET);
    sqlite3_bind_int64(st, 1, id);
    int rows = 0;
    int rc = pred_rows(c, st, cb, ctx, &rows);
    db_conn_put(d, c);
    return rc ? rc : rows ? 0 : 1;
}

static void bind_filter(sqlite3_stmt *st, const db_filter *f)
{
    db_bind_text(st, 1, f ? f->model : NULL);
    db_bind_text(st, 2, f ? f->label : NULL);
    db_bind_text(st, 3, f ? f->subject : NULL);
    db_bind_text(st, 4, f ? f->from : NULL);
    db_bind_text(st, 5, f ? f->to : NULL);
}

int db_prediction_list(db *d, const db_filter *f, int64_t before_id, int64_t skip, int64_t limit,
                       db_prediction_cb cb, void *ctx)
{
    db_conn *c = db_conn_get(d);
    sqlite3_stmt *st = db_stmt(c, DB_ST_PRED_LIST);
    bind_filter(st, f);
    sqlite3_bind_int64(st, 6, before_id);
    sqlite3_bind_int64(st, 7, limit);
    sqlite3_bind_int64(st, 8, skip);
    int rc = pred_rows(c, st, cb, ctx, NULL);
    db_conn_put(d, c);
    return rc;
}

int db_prediction_count(db *d, const db_filter *f, int64_t *total)
{
    db_conn *c = db_conn_get(d);
    sqlite3_stmt *st = db_stmt(c, DB_ST_PRED_COUNT);
    bind_filter(st, f);
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : db_fail(c, "count predictions");
    if (!rc)
        *total = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    db_conn_put(d, c);
    return rc;
}

/* Deletes the heatmap row of prediction id; hpath gets its file when no
 * other row shares that file (to unlink after the commit). */
static int heatmap_delete(db *d, db_conn *c, int64_t id, char *hpath, size_t hlen)
{
    char hsha[80] = "", rel[160] = "";
    sqlite3_stmt *st = db_stmt(c, DB_ST_HEATMAP_DELETE);
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(hsha, sizeof hsha, "%s", db_col_text(st, 0) ? db_col_text(st, 0) : "");
        snprintf(rel, sizeof rel, "%s", db_col_text(st, 1) ? db_col_text(st, 1) : "");
    }
    if (db_exec_stmt(c, st, "delete heatmap"))
        return -1;
    if (!rel[0])
        return 0;
    st = db_stmt(c, DB_ST_HEATMAP_SHA_USED);
    db_bind_text(st, 1, hsha);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(c, "delete heatmap");
    if (rc == SQLITE_DONE)
        snprintf(hpath, hlen, "%s/%s", d->data_dir, rel);
    return 0;
}

int db_prediction_delete(db *d, int64_t id)
{
    char sha[80] = "", path[PATH_MAX] = "", hpath[PATH_MAX] = "";
    pthread_mutex_lock(&d->files_mu);
    db_conn *c = db_conn_get(d);
    if (db_begin(c) || heatmap_delete(d, c, id, hpath, sizeof hpath))
        goto fail;
    sqlite3_stmt *st = db_stmt(c, DB_ST_PRED_DELETE);
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        snprintf(sha, sizeof sha, "%s", db_col_text(st, 0) ? db_col_text(st, 0) : "");
    if (db_exec_stmt(c, st, "delete prediction"))
        goto fail;
    if (rc != SQLITE_ROW) {
        db_rollback(c);
        db_conn_put(d, c);
        pthread_mutex_unlock(&d->files_mu);
        return rc == SQLITE_DONE ? 1 : db_fail_msg("delete prediction failed");
    }
    st = db_stmt(c, DB_ST_IMAGE_UNUSED_DELETE);
    db_bind_text(st, 1, sha);
    if (sqlite3_step(st) == SQLITE_ROW && db_col_text(st, 0))
        snprintf(path, sizeof path, "%s/%s", d->data_dir, db_col_text(st, 0));
    if (db_exec_stmt(c, st, "delete image") || db_commit(c))
        goto fail;
    db_conn_put(d, c);
    if (path[0])
        unlink(path);
    if (hpath[0])
        unlink(hpath);
    pthread_mutex_unlock(&d->files_mu);
    return 0;
fail:
    db_rollback(c);
    db_conn_put(d, c);
    pthread_mutex_unlock(&d->files_mu);
    return -1;
}

static int read_file(const char *path, size_t expect, void **out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return db_fail_msg("open %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) || (size_t)sb.st_size != expect || expect > DB_IMAGE_FILE_MAX) {
        close(fd);
        return db_fail_msg("stored image %s has the wrong size", path);
    }
    char *buf = malloc(expect ? expect : 1);
    size_t got = 0;
    while (buf && got < expect) {
        ssize_t r = read(fd, buf + got, expect - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (!buf || got != expect) {
        free(buf);
        return db_fail_msg("read %s failed", path);
    }
    *out = buf;
    return 0;
}

int db_image_get(db *d, int64_t prediction_id, void **bytes, size_t *len, char *ctype, size_t ctlen)
{
    char path[PATH_MAX] = "";
    *bytes = NULL;
    *len = 0;
    db_conn *c = db_conn_get(d);
    sqlite3_stmt *st = db_stmt(c, DB_ST_IMAGE_GET);
    sqlite3_bind_int64(st, 1, prediction_id);
    int rc = sqlite3_step(st), ret = 0;
    if (rc == SQLITE_DONE) {
        ret = 1;
    } else if (rc != SQLITE_ROW) {
        ret = db_fail(c, "read image");
    } else {
        size_t size = (size_t)sqlite3_column_int64(st, 2);
        snprintf(ctype, ctlen, "%s", db_col_text(st, 3) ? db_col_text(st, 3) : "");
        *len = size;
        if (db_col_text(st, 1)) {
            snprintf(path, sizeof path, "%s/%s", d->data_dir, db_col_text(st, 1));
        } else {
            const void *blob = sqlite3_column_blob(st, 0);
            size_t n = (size_t)sqlite3_column_bytes(st, 0);
            *bytes = malloc(n ? n : 1);
            if (!*bytes)
                ret = db_fail_msg("out of memory");
            else if (n)
                memcpy(*bytes, blob, n);
            *len = n;
        }
    }
    sqlite3_reset(st);
    db_conn_put(d, c);
    if (!ret && path[0])
        ret = read_file(path, *len, bytes);
    return ret;
}

int db_heatmap_get(db *d, int64_t prediction_id, void **png, size_t *len)
{
    char path[PATH_MAX] = "";
    *png = NULL;
    *len = 0;
    db_conn *c = db_conn_get(d);
    sqlite3_stmt *st = db_stmt(c, DB_ST_HEATMAP_GET);
    sqlite3_bind_int64(st, 1, prediction_id);
    int rc = sqlite3_step(st), ret = 0;
    if (rc == SQLITE_DONE) {
        ret = 1;
    } else if (rc != SQLITE_ROW) {
        ret = db_fail(c, "read heatmap");
    } else if (db_col_text(st, 1)) {
        snprintf(path, sizeof path, "%s/%s", d->data_dir, db_col_text(st, 1));
        *len = (size_t)sqlite3_column_int64(st, 2);
    } else {
        const void *blob = sqlite3_column_blob(st, 0);
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        *png = malloc(n ? n : 1);
        if (!*png)
            ret = db_fail_msg("out of memory");
        else if (n)
            memcpy(*png, blob, n);
        *len = n;
    }
    sqlite3_reset(st);
    db_conn_put(d, c);
    if (!ret && path[0])
        ret = read_file(path, *len, png);
    return ret;
}

int db_feedback_upsert(db *d, int64_t prediction_id, const char *user, int correct,
                       const char *label, const char *note, const char *now, int *created)
{
    db_conn *c = db_conn_get(d);
    if (db_begin(c))
        goto fail;
    sqlite3_stmt *st = db_stmt(c, DB_ST_PRED_EXISTS);
    sqlite3_bind_int64(st, 1, prediction_id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW) {
        if (rc != SQLITE_DONE)
            goto fail;
        db_rollback(c);
        db_conn_put(d, c);
        return 1;
    }
    st = db_stmt(c, DB_ST_FB_EXISTS);
    sqlite3_bind_int64(st, 1, prediction_id);
    db_bind_text(st, 2, user);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        goto fail;
    *created = rc == SQLITE_DONE;
    st = db_stmt(c, DB_ST_FB_UPSERT);
    sqlite3_bind_int64(st, 1, prediction_id);
    db_bind_text(st, 2, user);
    sqlite3_bind_int(st, 3, correct ? 1 : 0);
    db_bind_text(st, 4, label);
    db_bind_text(st, 5, note);
    db_bind_text(st, 6, now);
    if (db_exec_stmt(c, st, "store feedback") || db_commit(c))
        goto fail;
    db_conn_put(d, c);
    return 0;
fail:
    db_fail(c, "feedback");
    db_rollback(c);
    db_conn_put(d, c);
    return -1;
}

int db_feedback_list(db *d, int64_t prediction_id, db_feedback_cb cb, void *ctx)
{
    db_conn *c = db_conn_get(d);
    sqlite3_stmt *st = db_stmt(c, DB_ST_FB_LIST);
    sqlite3_bind_int64(st, 1, prediction_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (cb(ctx, db_col_text(st, 0), sqlite3_column_int(st, 1), db_col_text(st, 2),
               db_col_text(st, 3), db_col_text(st, 4), db_col_text(st, 5))) {
            rc = SQLITE_DONE;
            break;
        }
    sqlite3_reset(st);
    int ret = rc == SQLITE_DONE ? 0 : db_fail(c, "read feedback");
    db_conn_put(d, c);
    return ret;
}

/* Runs a "key, count" statement, handing rows to cb under the group name. */
static int group_rows(db_conn *c, sqlite3_stmt *st, const char *group, db_group_cb cb, void *ctx)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (cb && cb(ctx, group, db_col_text(st, 0) ? db_col_text(st, 0) : "",
                     sqlite3_column_int64(st, 1))) {
            rc = SQLITE_DONE;
            break;
        }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : db_fail(c, "statistics");
}

int db_stats_get(db *d, const char *since_day, db_stats *out, db_group_cb cb, void *ctx)
{
    memset(out, 0, sizeof *out);
    db_conn *c = db_conn_get(d);
    /* One read transaction: every number comes from the same snapshot. */
    int ret = -1;
    sqlite3_stmt *st = NULL;
    if (db_exec_stmt(c, db_stmt(c, DB_ST_BEGIN_READ), "statistics"))
        goto done;
    st = db_stmt(c, DB_ST_STAT_TOTAL);
    if (sqlite3_step(st) != SQLITE_ROW) {
        db_fail(c, "statistics");
        goto done;
    }
    out->predictions = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    st = db_stmt(c, DB_ST_STAT_FB);
    if (sqlite3_step(st) != SQLITE_ROW) {
        db_fail(c, "statistics");
        goto done;
    }
    out->feedback = sqlite3_column_int64(st, 0);
    out->feedback_correct = sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    if (group_rows(c, db_stmt(c, DB_ST_STAT_MODEL), "model", cb, ctx) ||
        group_rows(c, db_stmt(c, DB_ST_STAT_LABEL), "label", cb, ctx))
        goto done;
    st = db_stmt(c, DB_ST_STAT_DAY);
    db_bind_text(st, 1, since_day);
    if (group_rows(c, st, "day", cb, ctx))
        goto done;
    ret = 0;
done:
    if (st)
        sqlite3_reset(st);
    db_rollback(c);
    db_conn_put(d, c);
    return ret;
}
