/* srv_http.c — the libmicrohttpd glue: per-request state, body
 * accumulation with the size limit enforced from Content-Length before any
 * byte is read (and counted while reading chunked bodies), route matching,
 * the one place where authorization is checked against the route table,
 * the reply helpers, and one log line plus metrics per finished request. */
#include "srv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A body this far past the limit is not worth reading to the end: the
 * connection is dropped instead of answering 413 after it. */
#define SRV_DISCARD_FACTOR 4

double srv_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int srv_parse_i64(const char *s, int64_t *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s)
        return -1;
    *out = v;
    return 0;
}

const char *srv_role_name(srv_role r)
{
    switch (r) {
    case SRV_ROLE_VIEWER: return "viewer";
    case SRV_ROLE_CLINICIAN: return "clinician";
    case SRV_ROLE_ADMIN: return "admin";
    default: return "none";
    }
}

srv_role srv_role_parse(const char *s)
{
    if (!s)
        return SRV_ROLE_NONE;
    if (!strcmp(s, "viewer"))
        return SRV_ROLE_VIEWER;
    if (!strcmp(s, "clinician"))
        return SRV_ROLE_CLINICIAN;
    if (!strcmp(s, "admin"))
        return SRV_ROLE_ADMIN;
    return SRV_ROLE_NONE;
}

const char *srv_query(srv_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *srv_header(srv_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* ---- replies ---------------------------------------------------------- */

void srv_reply_response(srv_req *r, int status, struct MHD_Response *resp)
{
    if (r->resp)
        MHD_destroy_response(r->resp);
    r->resp = resp;
    r->status = status;
}

void srv_reply_header(srv_req *r, const char *name, const char *value)
{
    if (r->resp)
        MHD_add_response_header(r->resp, name, value);
}

void srv_reply_bytes(srv_req *r, int status, const char *ctype, void *bytes, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback(len, bytes, free);
    if (!resp) {
        free(bytes);
        srv_reply_response(r, 500, NULL);
        return;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    srv_reply_response(r, status, resp);
}

void srv_reply_text(srv_req *r, int status, const char *ctype, const char *text)
{
    size_t n = strlen(text);
    char *copy = malloc(n + 1);
    if (!copy) {
        srv_reply_response(r, 500, NULL);
        return;
    }
    memcpy(copy, text, n + 1);
    srv_reply_bytes(r, status, ctype, copy, n);
}

void srv_reply_json(srv_req *r, int status, srv_buf *json)
{
    if (json->failed) {
        srv_buf_free(json);
        srv_reply_error(r, 500, "internal", "out of memory");
        return;
    }
    srv_buf_add(json, "\n", 1);
    size_t len;
    char *p = srv_buf_take(json, &len);
    if (!p) {
        srv_reply_response(r, 500, NULL);
        return;
    }
    srv_reply_bytes(r, status, "application/json", p, len);
}

void srv_reply_error(srv_req *r, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    srv_buf b;
    srv_buf_init(&b);
    srv_jw w;
    srv_jw_init(&w, &b);
    srv_jw_obj(&w);
    srv_jw_key(&w, "error");
    srv_jw_obj(&w);
    srv_jw_key(&w, "code");
    srv_jw_str(&w, code);
    srv_jw_key(&w, "message");
    srv_jw_str(&w, msg);
    srv_jw_obj_end(&w);
    srv_jw_obj_end(&w);
    if (b.failed) {
        srv_buf_free(&b);
        srv_reply_response(r, 500, NULL);
        return;
    }
    srv_buf_add(&b, "\n", 1);
    size_t len;
    char *p = srv_buf_take(&b, &len);
    srv_reply_bytes(r, status, "application/json", p, len);
    if (status == 401)
        srv_reply_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer, ApiKey");
    if (status == 503 || status == 429)
        srv_reply_header(r, MHD_HTTP_HEADER_RETRY_AFTER, status == 429 ? "300" : "1");
}

/* ---- routing ---------------------------------------------------------- */

/* 1 when path matches pattern; {x} segments are copied into params. */
static int route_match(const char *pattern, const char *path, char params[][256])
{
    int np = 0;
    const char *p = pattern, *u = path;
    while (*p && *u) {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            const char *ue = u;
            while (*ue && *ue != '/')
                ue++;
            size_t n = (size_t)(ue - u);
            if (n == 0 || n >= 256 || np >= SRV_MAX_PARAMS)
                return 0;
            memcpy(params[np], u, n);
            params[np][n] = 0;
            np++;
            p = pe + 1;
            u = ue;
            continue;
        }
        if (*p != *u)
            return 0;
        p++;
        u++;
    }
    return *p == 0 && *u == 0;
}

/* Finds the route; 404 / 405 answered here. Returns 0 when found. */
static int route_find(srv_req *r)
{
    int path_known = 0;
    char allow[64] = "";
    for (int i = 0; i < srv_nroutes; i++) {
        char params[SRV_MAX_PARAMS][256] = {{0}};
        if (!route_match(srv_routes[i].pattern, r->path, params))
            continue;
        if (strcmp(srv_routes[i].method, r->method) == 0 ||
            (!strcmp(r->method, "HEAD") && !strcmp(srv_routes[i].method, "GET"))) {
            r->route = &srv_routes[i];
            r->route_index = i;
            memcpy(r->params, params, sizeof params);
            return 0;
        }
        path_known = 1;
        size_t l = strlen(allow);
        snprintf(allow + l, sizeof allow - l, "%s%s", l ? ", " : "", srv_routes[i].method);
    }
    if (path_known) {
        srv_reply_error(r, 405, "method_not_allowed", "%s is not allowed on %s", r->method, r->path);
        srv_reply_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    } else {
        srv_reply_error(r, 404, "not_found", "no such endpoint: %s", r->path);
    }
    return -1;
}

static int is_upload_type(const char *ct)
{
    if (!ct)
        return 0;
    return !strncasecmp(ct, "image/", 6) || !strncasecmp(ct, "application/octet-stream", 24) ||
           !strncasecmp(ct, "multipart/form-data", 19);
}

/* Everything decided from the request line and headers. 0: read the body. */
static int request_start(srv_req *r)
{
    if (atomic_load(&r->s->stopping)) {
        srv_reply_error(r, 503, "shutting_down", "the server is shutting down");
        srv_reply_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
        return -1;
    }
    if (route_find(r))
        return -1;
    if (srv_auth_resolve(r))
        return -1;
    /* Authorization: the one place, from the route table. */
    if (r->role < r->route->role) {
        if (r->role == SRV_ROLE_NONE)
            srv_reply_error(r, 401, "unauthorized",
                            "credentials required: X-API-Key or Authorization: Bearer");
        else
            srv_reply_error(r, 403, "forbidden", "role %s may not %s %s", srv_role_name(r->role),
                            r->method, r->route->pattern);
        return -1;
    }
    r->body_limit = r->route->body == SRV_BODY_UPLOAD ? r->s->cfg.max_body : SRV_JSON_BODY_MAX;
    const char *cl = srv_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    int64_t n;
    if (cl && !srv_parse_i64(cl, &n) && n > 0 && (uint64_t)n > r->body_limit) {
        srv_reply_error(r, 413, "too_large", "body of %lld bytes exceeds the limit of %zu",
                        (long long)n, r->body_limit);
        return -1;
    }
    if (r->route->body == SRV_BODY_UPLOAD &&
        !is_upload_type(srv_header(r, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        srv_reply_error(r, 415, "unsupported_media_type",
                        "send image/*, application/octet-stream or multipart/form-data");
        return -1;
    }
    return 0;
}

static void client_addr(srv_req *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(r->addr, sizeof r->addr, "-");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, r->addr,
                  sizeof r->addr);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, r->addr,
                  sizeof r->addr);
}

static enum MHD_Result queue_answer(srv_req *r)
{
    if (!r->resp) {
        int st = r->status ? r->status : 500;
        srv_reply_error(r, st >= 400 ? st : 500, "internal", "internal error");
        if (!r->resp)
            return MHD_NO;
    }
    r->answered = 1;
    char timing[48];
    snprintf(timing, sizeof timing, "total;dur=%.2f", srv_now_ms() - r->t_start);
    MHD_add_response_header(r->resp, "Server-Timing", timing);
    if (atomic_load(&r->s->stopping))
        MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)r->status, r->resp);
    MHD_destroy_response(r->resp);
    r->resp = NULL;
    return ret;
}

enum MHD_Result srv_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    (void)version;
    srv *s = cls;
    srv_req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        atomic_fetch_add(&s->inflight, 1);
        r->s = s;
        r->conn = conn;
        r->method = method;
        r->route_index = -1;
        r->t_start = srv_now_ms();
        srv_buf_init(&r->body);
        snprintf(r->user, sizeof r->user, "-");
        client_addr(r);
        if (strlen(url) >= sizeof r->path) {
            snprintf(r->path, sizeof r->path, "%.64s...", url);
            srv_reply_error(r, 414, "uri_too_long", "request path too long");
            return queue_answer(r);
        }
        snprintf(r->path, sizeof r->path, "%s", url);
        if (request_start(r))
            return queue_answer(r);
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        r->body_seen += n;
        if (r->body_seen > r->body_limit) {
            r->body_too_large = 1;
            srv_buf_free(&r->body);
            if (r->body_seen / SRV_DISCARD_FACTOR > r->body_limit)
                return MHD_NO;
            return MHD_YES;
        }
        srv_buf_add(&r->body, upload_data, n);
        return MHD_YES;
    }
    if (r->answered)
        return MHD_YES;
    if (r->body_too_large)
        srv_reply_error(r, 413, "too_large", "body exceeds the limit of %zu bytes", r->body_limit);
    else if (r->body.failed)
        srv_reply_error(r, 503, "no_memory", "out of memory reading the body");
    else
        r->route->handler(r);
    return queue_answer(r);
}

static void log_request(srv_req *r, double ms)
{
    char ts[DB_TIME_LEN];
    db_time_now(ts, 0);
    if (r->s->cfg.log_json) {
        srv_buf b;
        srv_buf_init(&b);
        srv_jw w;
        srv_jw_init(&w, &b);
        srv_jw_obj(&w);
        srv_jw_key(&w, "ts");
        srv_jw_str(&w, ts);
        srv_jw_key(&w, "method");
        srv_jw_str(&w, r->method);
        srv_jw_key(&w, "path");
        srv_jw_str(&w, r->path);
        srv_jw_key(&w, "status");
        srv_jw_int(&w, r->status);
        srv_jw_key(&w, "ms");
        srv_jw_num(&w, (double)(int64_t)(ms * 100) / 100);
        srv_jw_key(&w, "user");
        srv_jw_str(&w, r->user);
        srv_jw_key(&w, "addr");
        srv_jw_str(&w, r->addr);
        srv_jw_obj_end(&w);
        if (!b.failed)
            fprintf(stderr, "%s\n", b.data);
        srv_buf_free(&b);
    } else {
        fprintf(stderr, "%s %s %s %d %.2fms user=%s addr=%s\n", ts, r->method, r->path, r->status,
                ms, r->user, r->addr);
    }
}

void srv_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    srv *s = cls;
    srv_req *r = *con_cls;
    if (!r)
        return;
    double ms = srv_now_ms() - r->t_start;
    if (!r->answered || toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) {
        if (!r->status)
            r->status = 499;    /* client went away before the answer */
    }
    log_request(r, ms);
    srv_metrics_request(s->metrics, r->route_index, r->status, ms);
    if (r->resp)
        MHD_destroy_response(r->resp);
    srv_buf_free(&r->body);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&s->inflight, 1);
}
