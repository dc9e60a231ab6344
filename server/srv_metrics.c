/* srv_metrics.c — Prometheus text exposition at GET /metrics: requests by
 * route and status, latency histogram per route, inference queue depth,
 * predictions by model and label since start, database size, readiness.
 * Counters live in fixed arrays sized at start, guarded by one mutex. */
#include "srv.h"

#include <stdlib.h>
#include <string.h>

/* Histogram bucket upper bounds in seconds (Prometheus convention). */
static const double bucket_le[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBUCKETS ((int)(sizeof bucket_le / sizeof bucket_le[0]))
/* Status codes with their own series; anything else is counted as "other". */
static const int known_status[] = {200, 201, 204, 400, 401, 403, 404, 405, 413,
                                   414, 415, 422, 429, 499, 500, 503};
#define NSTATUS ((int)(sizeof known_status / sizeof known_status[0]) + 1)

typedef struct route_stats {
    uint64_t by_status[NSTATUS];
    uint64_t buckets[NBUCKETS];
    uint64_t count;
    double sum_s;
} route_stats;

struct srv_metrics {
    srv *s;
    pthread_mutex_t mu;
    int nroutes;
    route_stats *routes;    /* [nroutes + 1]: the last is "unmatched" */
    uint64_t *preds[SRV_MAX_MODELS]; /* [nlabels] per model */
};

int srv_metrics_create(srv *s, srv_metrics **out)
{
    srv_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return -1;
    m->s = s;
    pthread_mutex_init(&m->mu, NULL);
    m->nroutes = srv_nroutes;
    m->routes = calloc((size_t)m->nroutes + 1, sizeof *m->routes);
    if (!m->routes)
        goto fail;
    for (int i = 0; i < s->nmodels; i++) {
        int n = s->models[i].nlabels > 0 ? s->models[i].nlabels : 1;
        m->preds[i] = calloc((size_t)n, sizeof(uint64_t));
        if (!m->preds[i])
            goto fail;
    }
    *out = m;
    return 0;
fail:
    srv_metrics_free(m);
    return -1;
}

void srv_metrics_free(srv_metrics *m)
{
    if (!m)
        return;
    for (int i = 0; i < SRV_MAX_MODELS; i++)
        free(m->preds[i]);
    free(m->routes);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

void srv_metrics_request(srv_metrics *m, int route, int status, double ms)
{
    if (!m)
        return;
    int ri = route >= 0 && route < m->nroutes ? route : m->nroutes;
    int si = NSTATUS - 1;
    for (int i = 0; i < NSTATUS - 1; i++)
        if (known_status[i] == status)
            si = i;
    double sec = ms / 1e3;
    pthread_mutex_lock(&m->mu);
    route_stats *rs = &m->routes[ri];
    rs->by_status[si]++;
    rs->count++;
    rs->sum_s += sec;
    for (int b = 0; b < NBUCKETS; b++)
        if (sec <= bucket_le[b])
            rs->buckets[b]++;
    pthread_mutex_unlock(&m->mu);
}

void srv_metrics_prediction(srv_metrics *m, int model, int label)
{
    if (!m || model < 0 || model >= m->s->nmodels || label < 0 ||
        label >= (m->s->models[model].nlabels > 0 ? m->s->models[model].nlabels : 1))
        return;
    pthread_mutex_lock(&m->mu);
    m->preds[model][label]++;
    pthread_mutex_unlock(&m->mu);
}

/* Prometheus label values: backslash, quote and newline escaped. */
static void label_value(srv_buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            srv_buf_printf(b, "\\%c", *v);
        else if (*v == '\n')
            srv_buf_puts(b, "\\n");
        else
            srv_buf_add(b, v, 1);
    }
}

static const char *route_label(int i)
{
    return i < srv_nroutes ? srv_routes[i].name : "unmatched";
}

void srv_h_metrics(srv_req *r)
{
    srv_metrics *m = r->s->metrics;
    srv_buf b;
    srv_buf_init(&b);
    srv_buf_puts(&b, "# HELP scanlite_http_requests_total HTTP requests by route and status.\n"
                     "# TYPE scanlite_http_requests_total counter\n");
    pthread_mutex_lock(&m->mu);
    for (int i = 0; i <= m->nroutes; i++)
        for (int si = 0; si < NSTATUS; si++) {
            if (!m->routes[i].by_status[si])
                continue;
            srv_buf_printf(&b, "scanlite_http_requests_total{route=\"%s\",status=\"", route_label(i));
            if (si < NSTATUS - 1)
                srv_buf_printf(&b, "%d", known_status[si]);
            else
                srv_buf_puts(&b, "other");
            srv_buf_printf(&b, "\"} %llu\n", (unsigned long long)m->routes[i].by_status[si]);
        }
    srv_buf_puts(&b, "# HELP scanlite_http_request_duration_seconds Time from request to answer.\n"
                     "# TYPE scanlite_http_request_duration_seconds histogram\n");
    for (int i = 0; i <= m->nroutes; i++) {
        route_stats *rs = &m->routes[i];
        if (!rs->count)
            continue;
        for (int k = 0; k < NBUCKETS; k++)
            srv_buf_printf(&b,
                           "scanlite_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                           route_label(i), bucket_le[k], (unsigned long long)rs->buckets[k]);
        srv_buf_printf(&b,
                       "scanlite_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
                       "scanlite_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                       "scanlite_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                       route_label(i), (unsigned long long)rs->count, route_label(i), rs->sum_s,
                       route_label(i), (unsigned long long)rs->count);
    }
    srv_buf_puts(&b, "# HELP scanlite_predictions_total Predictions answered since start.\n"
                     "# TYPE scanlite_predictions_total counter\n");
    for (int mi = 0; mi < r->s->nmodels; mi++) {
        const srv_model *sm = &r->s->models[mi];
        for (int l = 0; l < sm->nlabels; l++) {
            srv_buf_puts(&b, "scanlite_predictions_total{model=\"");
            label_value(&b, sm->name);
            srv_buf_puts(&b, "\",label=\"");
            const char *ln = sl_model_label(sm->m, l);
            label_value(&b, ln ? ln : "?");
            srv_buf_printf(&b, "\"} %llu\n", (unsigned long long)m->preds[mi][l]);
        }
    }
    pthread_mutex_unlock(&m->mu);
    int64_t dbsize = 0;
    db_size_bytes(r->s->db, &dbsize);
    srv_buf_printf(&b,
                   "# HELP scanlite_inference_queue_depth Requests waiting for a worker.\n"
                   "# TYPE scanlite_inference_queue_depth gauge\n"
                   "scanlite_inference_queue_depth %d\n"
                   "# HELP scanlite_inference_queue_capacity Queue slots before 503.\n"
                   "# TYPE scanlite_inference_queue_capacity gauge\n"
                   "scanlite_inference_queue_capacity %d\n"
                   "# HELP scanlite_http_inflight Requests being served.\n"
                   "# TYPE scanlite_http_inflight gauge\n"
                   "scanlite_http_inflight %d\n"
                   "# HELP scanlite_db_size_bytes Size of the SQLite main file.\n"
                   "# TYPE scanlite_db_size_bytes gauge\n"
                   "scanlite_db_size_bytes %lld\n"
                   "# HELP scanlite_ready 1 when every model passed its self-check.\n"
                   "# TYPE scanlite_ready gauge\n"
                   "scanlite_ready %d\n",
                   srv_pool_depth(r->s->pool), srv_pool_capacity(r->s->pool),
                   atomic_load(&r->s->inflight), (long long)dbsize, atomic_load(&r->s->ready));
    if (b.failed) {
        srv_buf_free(&b);
        srv_reply_error(r, 500, "internal", "out of memory");
        return;
    }
    size_t len;
    char *p = srv_buf_take(&b, &len);
    srv_reply_bytes(r, 200, "text/plain; version=0.0.4; charset=utf-8", p, len);
}
