/* srv.h — internals of the HTTP server shared by the server/srv_*.c files:
 * configuration, the server context, the per-request state, the route
 * table entry, the reply helpers every handler uses, and the interfaces of
 * the inference pool, metrics and authentication. */
#ifndef SRV_H
#define SRV_H

#include "db.h"
#include "nn/scanlite.h"
#include "srv_json.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* Limits, with the reason beside each. */
#define SRV_MAX_BODY_DEFAULT (32u << 20)   /* one large DICOM-export PNG fits */
#define SRV_JSON_BODY_MAX (64u << 10)      /* login/feedback bodies are tiny */
#define SRV_BATCH_MAX 64                   /* files per multipart request */
#define SRV_IMAGE_MAX_SIDE 12000           /* pixels per side before decoding */
#define SRV_IMAGE_MAX_PIXELS 50000000LL    /* ~200 MB of RGBA when decoded */
#define SRV_SUBJECT_MAX 128                /* bytes of a subject (case id) */
#define SRV_NOTE_MAX 2000                  /* bytes of a note */
#define SRV_LABEL_MAX 256                  /* bytes of a feedback label */
#define SRV_FILENAME_MAX 255               /* bytes of an upload's file name */
#define SRV_CTYPE_MAX 127                  /* bytes of a stored content type */
#define SRV_LIMIT_DEFAULT 50               /* page size of listings */
#define SRV_LIMIT_MAX 500
#define SRV_TOPK_DEFAULT 5
#define SRV_LOGIN_MAX_FAILURES 5           /* per user and address ... */
#define SRV_LOGIN_WINDOW_S 300             /* ... within this window -> 429 */
#define SRV_SESSION_TTL_DEFAULT (12 * 3600)
#define SRV_QUEUE_DEFAULT 64               /* pending inference requests */
#define SRV_CONN_LIMIT_DEFAULT 64          /* concurrent HTTP connections */
#define SRV_DRAIN_TIMEOUT_S 30             /* graceful stop waits this long */
#define SRV_MAX_MODELS 32
#define SRV_PASSWORD_MIN 8                 /* bytes of a new password */
#define SRV_PASSWORD_MAX 1024
#define SRV_KEY_BYTES 32                   /* random bytes of an API key */
#define SRV_KEY_PREFIX "slk_"              /* every key starts with it */
#define SRV_KEY_LEN (4 + 2 * SRV_KEY_BYTES) /* "slk_" + hex */
#define SRV_KEY_SHOWN 8                    /* hex digits kept as the key's prefix */

typedef enum srv_role { SRV_ROLE_NONE = 0, SRV_ROLE_VIEWER, SRV_ROLE_CLINICIAN, SRV_ROLE_ADMIN } srv_role;
const char *srv_role_name(srv_role r);
srv_role srv_role_parse(const char *s);     /* SRV_ROLE_NONE when unknown */

typedef struct srv_config {
    const char *models_dir;
    int nmodel_args;
    const char *model_names[SRV_MAX_MODELS];
    const char *model_files[SRV_MAX_MODELS];
    const char *host;
    int port;
    const char *db_path;
    const char *data_dir;
    int threads, workers, queue;
    size_t max_body;
    const char *api_key_file;
    int log_json;
    int session_ttl;
    int max_connections;
} srv_config;

typedef struct srv_model {
    char name[64];
    sl_model *m;
    char *labels_json;      /* ["a","b",...] */
    int nlabels;
    int explainable;        /* Grad-CAM possible (sl_model_cam_shape) */
    char explain_err[256];  /* why not, when !explainable */
} srv_model;

typedef struct srv_metrics srv_metrics;
typedef struct srv_pool srv_pool;

typedef struct srv {
    srv_config cfg;
    db *db;
    srv_model models[SRV_MAX_MODELS];
    int nmodels;
    srv_pool *pool;
    srv_metrics *metrics;
    struct MHD_Daemon *mhd;
    atomic_int ready;       /* every model passed its self-check */
    atomic_int stopping;
    atomic_int inflight;    /* requests between first call and completion */
    char env_key_hash[65];  /* SHA-256 of API_KEY / --api-key-file, or "" */
} srv;

typedef struct srv_req srv_req;
typedef void (*srv_handler)(srv_req *r);

/* How a route takes its body. */
typedef enum srv_body { SRV_BODY_NONE, SRV_BODY_JSON, SRV_BODY_UPLOAD } srv_body;

typedef struct srv_route {
    const char *method;
    const char *pattern;
    srv_handler handler;
    srv_role role;
    srv_body body;
    const char *name;
} srv_route;

#define SRV_MAX_PARAMS 2

struct srv_req {
    srv *s;
    struct MHD_Connection *conn;
    const char *method;
    char path[512];
    const srv_route *route;         /* NULL: no route matched */
    int route_index;
    char params[SRV_MAX_PARAMS][256];
    srv_buf body;
    size_t body_limit;
    size_t body_seen;               /* bytes received, kept or not */
    int body_too_large;
    double t_start;                 /* monotonic ms */
    srv_role role;
    char user[96];                  /* who: user name or key:<name> */
    int via_session;
    char token_hash[65];            /* session the request came with */
    char addr[64];
    int status;                     /* status of the answer (logging) */
    struct MHD_Response *resp;      /* answer built by the handler */
    int answered;
};

/* ---- libmicrohttpd callbacks (srv_http.c); cls is the srv ---- */
enum MHD_Result srv_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls);
void srv_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe);

/* ---- replies (srv_http.c) ---- */
void srv_reply_json(srv_req *r, int status, srv_buf *json);          /* takes the buffer */
void srv_reply_error(srv_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void srv_reply_bytes(srv_req *r, int status, const char *ctype, void *bytes, size_t len); /* takes bytes */
void srv_reply_text(srv_req *r, int status, const char *ctype, const char *text);        /* copies */
void srv_reply_response(srv_req *r, int status, struct MHD_Response *resp);
void srv_reply_header(srv_req *r, const char *name, const char *value);
/* Query parameter (percent-decoded by libmicrohttpd), or NULL. */
const char *srv_query(srv_req *r, const char *name);
const char *srv_header(srv_req *r, const char *name);
double srv_now_ms(void);
/* Parses a decimal integer; 0 on success. */
int srv_parse_i64(const char *s, int64_t *out);

/* ---- routes (srv_routes.c) ---- */
extern const srv_route srv_routes[];
extern const int srv_nroutes;
const srv_model *srv_model_find(srv *s, const char *name);
void srv_write_prediction(srv_jw *w, const db_prediction *p);
/* The stored timings of p as member "timings_ms" {queue, decode, infer}. */
void srv_write_stored_timings(srv_jw *w, const db_prediction *p);
void srv_h_predict(srv_req *r);     /* srv_predict.c */
void srv_h_stats(srv_req *r);       /* srv_list.c */
void srv_h_pred_list(srv_req *r);
void srv_h_pred_csv(srv_req *r);
void srv_h_openapi(srv_req *r);     /* srv_openapi.c */
void srv_h_users_list(srv_req *r);  /* srv_admin.c */
void srv_h_user_add(srv_req *r);
void srv_h_user_delete(srv_req *r);
void srv_h_keys_list(srv_req *r);
void srv_h_key_create(srv_req *r);
void srv_h_key_revoke(srv_req *r);

/* ---- authentication (srv_auth.c) ---- */
/* Resolves the credentials of r into r->role/r->user; 0 when valid or
 * absent (role NONE), else replies 401 itself and returns -1. */
int srv_auth_resolve(srv_req *r);
void srv_h_login(srv_req *r);
void srv_h_logout(srv_req *r);
int srv_random_hex(char *out, size_t nbytes);           /* out[2*nbytes+1] */
int srv_password_hash(const char *pw, char *out, size_t outlen);
int srv_password_check(const char *pw, const char *hash);
/* A new API key: key = SRV_KEY_PREFIX + 64 hex digits, prefix = its first
 * SRV_KEY_SHOWN hex digits (stored and listed), hash = SHA-256 hex of key
 * (stored). 0 on success, -1 without randomness. */
int srv_key_generate(char key[SRV_KEY_LEN + 1], char prefix[SRV_KEY_SHOWN + 1], char hash[65]);
/* 1 when n is a valid user name: 1..DB_NAME_MAX of letters, digits, . _ - @ */
int srv_user_name_ok(const char *n);
/* Parses r's body as a JSON object; replies 400 and returns -1 if not. */
int srv_body_object(srv_req *r, srv_jdoc *doc);

/* ---- inference pool (srv_pool.c) ---- */
typedef struct srv_job {
    int model;
    const void *bytes;
    size_t len;
    int top_k;
    int explain;            /* 1: also render the Grad-CAM heatmap */
    int explain_class;      /* label to explain; -1: the predicted one */
    sl_prediction pred;     /* out */
    sl_heatmap heat;        /* out when explain; heat.png freed by sl_heatmap_free */
    sl_error err;           /* out */
    double ms_queue;        /* out: wait before a worker took it */
} srv_job;

int srv_pool_create(srv *s, int workers, int threads, int capacity, srv_pool **out, char *err,
                    size_t errlen);
/* Runs jobs[0..n) on one worker and waits for them; -1 when the queue is
 * full (the caller answers 503). */
int srv_pool_run(srv_pool *p, srv_job *jobs, int n);
int srv_pool_depth(srv_pool *p);
int srv_pool_capacity(srv_pool *p);
void srv_pool_free(srv_pool *p);   /* finishes queued work first */

/* ---- metrics (srv_metrics.c) ---- */
int srv_metrics_create(srv *s, srv_metrics **out);
void srv_metrics_free(srv_metrics *m);
void srv_metrics_request(srv_metrics *m, int route, int status, double ms);
void srv_metrics_prediction(srv_metrics *m, int model, int label);
void srv_h_metrics(srv_req *r);

/* ---- serve (srv_serve.c) ---- */
int srv_run(srv_config *cfg);

/* Opens libmicrohttpd (srv_mhd.c; the MHD_* calls open it on first use):
 * 0, or -1 with the loader's message in err. */
int srv_mhd_open(char *err, size_t len);

#endif
