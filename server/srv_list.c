/* srv_list.c — GET /v1/predictions (filters, newest first, pagination
 * clamped, total), GET /v1/predictions.csv (same filters, streamed page by
 * page with RFC 4180 quoting) and GET /v1/stats (totals, per model, per
 * label, per day for the last 30 days, feedback agreement). */
#include "srv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SRV_CSV_PAGE 200            /* rows fetched per CSV refill */
#define SRV_STATS_DAYS 30

typedef struct filter_args {
    db_filter f;
    char from[DB_TIME_LEN], to[DB_TIME_LEN];
} filter_args;

/* Normalizes "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SS[.fff][Z]" to the stored
 * form; a bare date is the day's first (from) or last (to) millisecond. */
static int parse_time(const char *s, int is_to, char out[DB_TIME_LEN])
{
    int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, n = 0;
    size_t len = strlen(s);
    if (len < 10 || sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return -1;
    if (len == 10) {
        if (is_to) {
            h = 23;
            mi = 59;
            sec = 59;
            ms = 999;
        }
    } else {
        int n2 = 0;
        if ((s[10] != 'T' && s[10] != ' ') ||
            sscanf(s + 11, "%2d:%2d:%2d%n", &h, &mi, &sec, &n2) != 3 || n2 != 8)
            return -1;
        const char *rest = s + 19;
        if (*rest == '.') {
            int digits = 0;
            rest++;
            ms = 0;
            while (*rest >= '0' && *rest <= '9') {
                if (digits < 3)
                    ms = ms * 10 + (*rest - '0');
                digits++;
                rest++;
            }
            if (!digits)
                return -1;
            for (; digits < 3; digits++)
                ms *= 10;
        } else if (is_to) {
            ms = 999;
        }
        if (*rest == 'Z')
            rest++;
        if (*rest)
            return -1;
    }
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 ||
        mi < 0 || mi > 59 || sec < 0 || sec > 60 || ms < 0 || ms > 999)
        return -1;
    if ((size_t)snprintf(out, DB_TIME_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, mo, d, h, mi,
                         sec, ms) >= DB_TIME_LEN)
        return -1;
    return 0;
}

/* Reads model/label/subject/from/to; replies 400 and returns -1 when bad. */
static int read_filter(srv_req *r, filter_args *fa)
{
    memset(fa, 0, sizeof *fa);
    static const char *const names[] = {"model", "label", "subject"};
    const char **slots[] = {&fa->f.model, &fa->f.label, &fa->f.subject};
    for (int i = 0; i < 3; i++) {
        const char *v = srv_query(r, names[i]);
        if (v && !*v)
            v = NULL;
        if (v && (strlen(v) > 256 || !srv_text_ok(v, strlen(v)))) {
            srv_reply_error(r, 400, "bad_request", "%s must be text of at most 256 bytes",
                            names[i]);
            return -1;
        }
        *slots[i] = v;
    }
    const char *from = srv_query(r, "from"), *to = srv_query(r, "to");
    if (from && *from) {
        if (parse_time(from, 0, fa->from)) {
            srv_reply_error(r, 400, "bad_request", "from must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
            return -1;
        }
        fa->f.from = fa->from;
    }
    if (to && *to) {
        if (parse_time(to, 1, fa->to)) {
            srv_reply_error(r, 400, "bad_request", "to must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
            return -1;
        }
        fa->f.to = fa->to;
    }
    return 0;
}

static int list_row(void *ctx, const db_prediction *p)
{
    srv_jw *w = ctx;
    srv_write_prediction(w, p);
    srv_write_stored_timings(w, p);
    srv_jw_obj_end(w);
    return 0;
}

void srv_h_pred_list(srv_req *r)
{
    filter_args fa;
    if (read_filter(r, &fa))
        return;
    int64_t skip = 0, limit = SRV_LIMIT_DEFAULT;
    const char *vs = srv_query(r, "skip"), *vl = srv_query(r, "limit");
    if ((vs && *vs && srv_parse_i64(vs, &skip)) || (vl && *vl && srv_parse_i64(vl, &limit))) {
        srv_reply_error(r, 400, "bad_request", "skip and limit must be integers");
        return;
    }
    if (skip < 0)
        skip = 0;
    if (limit < 1)
        limit = 1;
    if (limit > SRV_LIMIT_MAX)
        limit = SRV_LIMIT_MAX;
    int64_t total = 0;
    srv_buf b;
    srv_buf_init(&b);
    srv_jw w;
    srv_jw_init(&w, &b);
    srv_jw_obj(&w);
    srv_jw_key(&w, "items");
    srv_jw_arr(&w);
    int rc = db_prediction_list(r->s->db, &fa.f, 0, skip, limit, list_row, &w);
    srv_jw_arr_end(&w);
    if (!rc)
        rc = db_prediction_count(r->s->db, &fa.f, &total);
    if (rc) {
        srv_buf_free(&b);
        srv_reply_error(r, 503, "db_unavailable", "%s", db_errmsg());
        return;
    }
    srv_jw_key(&w, "total");
    srv_jw_int(&w, total);
    srv_jw_key(&w, "skip");
    srv_jw_int(&w, skip);
    srv_jw_key(&w, "limit");
    srv_jw_int(&w, limit);
    srv_jw_obj_end(&w);
    srv_reply_json(r, 200, &b);
}

/* ---- CSV ---- */

typedef struct csv_stream {
    srv *s;
    filter_args fa;
    char model[257], label[257], subject[257];
    int64_t last_id;        /* keyset cursor: next page has ids below it */
    int header_done, eof, page_rows;
    srv_buf out;            /* rendered, not yet sent */
    size_t sent;
} csv_stream;

/* RFC 4180 field; text that a spreadsheet would run as a formula is
 * prefixed with an apostrophe. */
static void csv_field(srv_buf *b, const char *v, int last)
{
    if (v) {
        int quote = strpbrk(v, ",\"\r\n") != NULL;
        if (quote)
            srv_buf_add(b, "\"", 1);
        if (strchr("=+-@\t", v[0]) && v[0])
            srv_buf_add(b, "'", 1);
        for (const char *p = v; *p; p++) {
            if (*p == '"')
                srv_buf_add(b, "\"", 1);
            srv_buf_add(b, p, 1);
        }
        if (quote)
            srv_buf_add(b, "\"", 1);
    }
    srv_buf_add(b, last ? "\r\n" : ",", last ? 2 : 1);
}

static int csv_row(void *ctx, const db_prediction *p)
{
    csv_stream *cs = ctx;
    srv_buf *b = &cs->out;
    srv_buf_printf(b, "%lld,", (long long)p->id);
    csv_field(b, p->created_at, 0);
    csv_field(b, p->model, 0);
    csv_field(b, p->model_sha256, 0);
    csv_field(b, p->label, 0);
    srv_buf_printf(b, "%.6f,", p->confidence);
    csv_field(b, p->subject, 0);
    csv_field(b, p->note, 0);
    csv_field(b, p->user, 0);
    csv_field(b, p->input_sha256, 0);
    srv_buf_printf(b, "%lld,", (long long)p->input_size);
    csv_field(b, p->content_type, 0);
    csv_field(b, p->filename, 0);
    srv_buf_printf(b, "%d,%d,%.3f,%.3f\r\n", p->image_w, p->image_h, p->ms_decode, p->ms_infer);
    cs->last_id = p->id;
    cs->page_rows++;
    return 0;
}

static ssize_t csv_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    csv_stream *cs = cls;
    if (cs->sent == cs->out.len) {
        cs->out.len = 0;
        cs->sent = 0;
        if (!cs->header_done) {
            srv_buf_puts(&cs->out, "id,created_at,model,model_sha256,label,confidence,subject,note,"
                                   "user,input_sha256,input_size,content_type,filename,"
                                   "image_width,image_height,ms_decode,ms_infer\r\n");
            cs->header_done = 1;
        } else if (!cs->eof) {
            cs->page_rows = 0;
            if (db_prediction_list(cs->s->db, &cs->fa.f, cs->last_id, 0, SRV_CSV_PAGE, csv_row,
                                   cs))
                return MHD_CONTENT_READER_END_WITH_ERROR;
            cs->eof = cs->page_rows < SRV_CSV_PAGE;
        }
        if (cs->out.failed)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (cs->out.len == 0)
            return MHD_CONTENT_READER_END_OF_STREAM;
    }
    size_t n = cs->out.len - cs->sent;
    if (n > max)
        n = max;
    memcpy(buf, cs->out.data + cs->sent, n);
    cs->sent += n;
    return (ssize_t)n;
}

static void csv_free(void *cls)
{
    csv_stream *cs = cls;
    srv_buf_free(&cs->out);
    free(cs);
}

void srv_h_pred_csv(srv_req *r)
{
    csv_stream *cs = calloc(1, sizeof *cs);
    if (!cs) {
        srv_reply_error(r, 503, "no_memory", "out of memory");
        return;
    }
    if (read_filter(r, &cs->fa)) {
        free(cs);
        return;
    }
    /* The request's strings go away before the stream ends: keep copies. */
    cs->s = r->s;
    const char **slots[] = {&cs->fa.f.model, &cs->fa.f.label, &cs->fa.f.subject};
    char *copies[] = {cs->model, cs->label, cs->subject};
    for (int i = 0; i < 3; i++)
        if (*slots[i]) {
            snprintf(copies[i], 257, "%s", *slots[i]);
            *slots[i] = copies[i];
        }
    if (cs->fa.f.from)
        cs->fa.f.from = cs->fa.from;
    if (cs->fa.f.to)
        cs->fa.f.to = cs->fa.to;
    srv_buf_init(&cs->out);
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, csv_read, cs, csv_free);
    if (!resp) {
        csv_free(cs);
        srv_reply_error(r, 503, "no_memory", "out of memory");
        return;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/csv; charset=utf-8");
    MHD_add_response_header(resp, "Content-Disposition", "attachment; filename=\"predictions.csv\"");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    srv_reply_response(r, 200, resp);
}

/* ---- stats ---- */

typedef struct stats_ctx {
    srv_jw *w;
    const char *group;      /* group currently open in the writer */
    int seen_model, seen_label;
    char days[SRV_STATS_DAYS][11];
    int64_t day_counts[SRV_STATS_DAYS];
} stats_ctx;

static int stats_row(void *ctx, const char *group, const char *key, int64_t count)
{
    stats_ctx *sc = ctx;
    if (!strcmp(group, "day")) {
        for (int i = 0; i < SRV_STATS_DAYS; i++)
            if (!strcmp(sc->days[i], key))
                sc->day_counts[i] = count;
        return 0;
    }
    if (!sc->group || strcmp(sc->group, group)) {
        if (sc->group)
            srv_jw_obj_end(sc->w);
        srv_jw_key(sc->w, !strcmp(group, "model") ? "per_model" : "per_label");
        srv_jw_obj(sc->w);
        sc->group = !strcmp(group, "model") ? "model" : "label";
        if (!strcmp(group, "model"))
            sc->seen_model = 1;
        else
            sc->seen_label = 1;
    }
    srv_jw_key(sc->w, key);
    srv_jw_int(sc->w, count);
    return 0;
}

void srv_h_stats(srv_req *r)
{
    stats_ctx sc;
    memset(&sc, 0, sizeof sc);
    time_t now = time(NULL);
    for (int i = 0; i < SRV_STATS_DAYS; i++) {
        time_t t = now - (time_t)(SRV_STATS_DAYS - 1 - i) * 86400;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(sc.days[i], sizeof sc.days[i], "%Y-%m-%d", &tm);
    }
    srv_buf b;
    srv_buf_init(&b);
    srv_jw w;
    srv_jw_init(&w, &b);
    sc.w = &w;
    srv_jw_obj(&w);
    db_stats st;
    if (db_stats_get(r->s->db, sc.days[0], &st, stats_row, &sc)) {
        srv_buf_free(&b);
        srv_reply_error(r, 503, "db_unavailable", "%s", db_errmsg());
        return;
    }
    if (sc.group)
        srv_jw_obj_end(&w);
    /* Groups with no rows still appear, as empty objects. */
    if (!sc.seen_model) {
        srv_jw_key(&w, "per_model");
        srv_jw_obj(&w);
        srv_jw_obj_end(&w);
    }
    if (!sc.seen_label) {
        srv_jw_key(&w, "per_label");
        srv_jw_obj(&w);
        srv_jw_obj_end(&w);
    }
    srv_jw_key(&w, "total_predictions");
    srv_jw_int(&w, st.predictions);
    srv_jw_key(&w, "per_day");
    srv_jw_arr(&w);
    for (int i = 0; i < SRV_STATS_DAYS; i++) {
        srv_jw_obj(&w);
        srv_jw_key(&w, "day");
        srv_jw_str(&w, sc.days[i]);
        srv_jw_key(&w, "count");
        srv_jw_int(&w, sc.day_counts[i]);
        srv_jw_obj_end(&w);
    }
    srv_jw_arr_end(&w);
    srv_jw_key(&w, "feedback_count");
    srv_jw_int(&w, st.feedback);
    srv_jw_key(&w, "feedback_correct");
    srv_jw_int(&w, st.feedback_correct);
    srv_jw_key(&w, "agreement_rate");
    if (st.feedback)
        srv_jw_num(&w, (double)st.feedback_correct / (double)st.feedback);
    else
        srv_jw_null(&w);
    srv_jw_obj_end(&w);
    srv_reply_json(r, 200, &b);
}
