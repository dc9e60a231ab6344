/* srv_serve.c — the life of `scanlite serve`: load and fingerprint every
 * model (refusing to start on a bad one), open the store, create the first
 * admin when there is no user, start the inference pool and the HTTP
 * daemon, self-check each model in the background (/ready), then wait for
 * SIGTERM/SIGINT and stop gracefully: refuse new connections, drain the
 * requests in flight, stop the workers, close the database. */
#include "srv.h"

#include "io/io_sha256.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define SRV_DB_CONNS 8              /* pooled SQLite connections */
#define SRV_CONN_TIMEOUT_S 60       /* idle or stalled HTTP connections */
#define SRV_CONN_MEMORY (256u << 10) /* request line + headers per connection */

static int name_ok(const char *n)
{
    size_t l = strlen(n);
    if (l == 0 || l >= 64)
        return 0;
    for (size_t i = 0; i < l; i++)
        if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= 'A' && n[i] <= 'Z') ||
              (n[i] >= '0' && n[i] <= '9') || n[i] == '-' || n[i] == '_' || n[i] == '.'))
            return 0;
    return 1;
}

static int model_add(srv *s, const char *name, const char *path)
{
    if (s->nmodels == SRV_MAX_MODELS) {
        fprintf(stderr, "scanlite serve: more than %d models\n", SRV_MAX_MODELS);
        return -1;
    }
    if (!name_ok(name)) {
        fprintf(stderr, "scanlite serve: bad model name '%s' (use letters, digits, '.', '-', '_')\n",
                name);
        return -1;
    }
    if (srv_model_find(s, name)) {
        fprintf(stderr, "scanlite serve: two models named '%s'\n", name);
        return -1;
    }
    srv_model *sm = &s->models[s->nmodels];
    sl_error e;
    /* a damaged file stops the start-up, not the first request */
    if (sl_model_load(path, &sm->m, &e) != SL_OK || sl_model_verify(sm->m, &e) != SL_OK) {
        fprintf(stderr, "scanlite serve: cannot load model %s (%s): %s\n", name, path, e.message);
        sl_model_free(sm->m);
        sm->m = NULL;
        return -1;
    }
    snprintf(sm->name, sizeof sm->name, "%s", name);
    sm->nlabels = sl_model_num_labels(sm->m);
    /* Whether explain=1 can work is known from the graph alone. */
    int cam_h, cam_w;
    sm->explainable = sl_model_cam_shape(sm->m, &cam_h, &cam_w, &e) == SL_OK;
    if (!sm->explainable)
        snprintf(sm->explain_err, sizeof sm->explain_err, "%s", e.message);
    srv_buf b;
    srv_buf_init(&b);
    srv_jw w;
    srv_jw_init(&w, &b);
    srv_jw_arr(&w);
    for (int i = 0; i < sm->nlabels; i++)
        srv_jw_str(&w, sl_model_label(sm->m, i));
    srv_jw_arr_end(&w);
    sm->labels_json = srv_buf_take(&b, NULL);
    s->nmodels++;
    if (!sm->labels_json) {
        fprintf(stderr, "scanlite serve: out of memory\n");
        return -1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.slm of dir, in name order; the name is the file stem. */
static int models_from_dir(srv *s, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "scanlite serve: cannot open models directory %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char *names[SRV_MAX_MODELS + 1];
    int n = 0, rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l <= 4 || strcmp(de->d_name + l - 4, ".slm"))
            continue;
        if (n == SRV_MAX_MODELS) {
            fprintf(stderr, "scanlite serve: more than %d models in %s\n", SRV_MAX_MODELS, dir);
            rc = -1;
            break;
        }
        names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp_str);
    for (int i = 0; i < n && !rc; i++) {
        char path[PATH_MAX], stem[256];
        if (!names[i]) {
            rc = -1;
            break;
        }
        snprintf(stem, sizeof stem, "%.*s", (int)(strlen(names[i]) - 4), names[i]);
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        rc = model_add(s, stem, path);
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    if (!rc && n == 0) {
        fprintf(stderr, "scanlite serve: no .slm model in %s\n", dir);
        rc = -1;
    }
    return rc;
}

/* Creates user admin with a random password when there is no user yet. */
static int bootstrap_admin(srv *s)
{
    int64_t n;
    if (db_user_count(s->db, &n))
        return -1;
    if (n > 0)
        return 0;
    char pw[33], hash[DB_HASH_LEN], now[DB_TIME_LEN], path[PATH_MAX];
    if (srv_random_hex(pw, 16) || srv_password_hash(pw, hash, sizeof hash)) {
        fprintf(stderr, "scanlite serve: cannot create the admin password\n");
        return -1;
    }
    db_time_now(now, 0);
    if (db_user_add(s->db, "admin", "admin", hash, now) < 0)
        return -1;
    db_audit(s->db, now, "serve", "user_add", "admin", NULL, "first start");
    snprintf(path, sizeof path, "%s/admin-password", s->cfg.data_dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        fchmod(fd, 0600);
        dprintf(fd, "%s\n", pw);
        fsync(fd);
        close(fd);
    }
    printf("scanlite: created user 'admin' with password %s\n"
           "scanlite: (also written to %s, mode 0600; change it with `scanlite user passwd admin`)\n",
           pw, fd >= 0 ? path : "nowhere: the file could not be written");
    fflush(stdout);
    return 0;
}

static int load_env_key(srv *s)
{
    const char *key = getenv("API_KEY");
    char buf[512];
    if (s->cfg.api_key_file) {
        FILE *f = fopen(s->cfg.api_key_file, "r");
        if (!f || !fgets(buf, sizeof buf, f)) {
            fprintf(stderr, "scanlite serve: cannot read --api-key-file %s\n", s->cfg.api_key_file);
            if (f)
                fclose(f);
            return -1;
        }
        fclose(f);
        buf[strcspn(buf, "\r\n")] = 0;
        key = buf;
    }
    if (key && *key) {
        if (strlen(key) < 16) {
            fprintf(stderr, "scanlite serve: the API key must have at least 16 characters\n");
            return -1;
        }
        io_sha256_hex(key, strlen(key), s->env_key_hash);
    }
    return 0;
}

/* Runs each model once on a synthetic input; /ready turns 200 when all pass. */
static void *self_check(void *arg)
{
    srv *s = arg;
    int ok = 1;
    for (int i = 0; i < s->nmodels && !atomic_load(&s->stopping); i++) {
        const srv_model *sm = &s->models[i];
        int c, h, w;
        sl_model_input_shape(sm->m, &c, &h, &w);
        size_t n = (size_t)c * (size_t)h * (size_t)w;
        int no = sl_model_output_size(sm->m);
        float *in = malloc((n ? n : 1) * sizeof *in);
        float *out = malloc((size_t)(no > 0 ? no : 1) * sizeof *out);
        float *probs = malloc((size_t)(sm->nlabels > 0 ? sm->nlabels : 1) * sizeof *probs);
        sl_session *ss = NULL;
        sl_error e = {0};
        double t0 = srv_now_ms();
        int good = in && out && probs &&
                   sl_session_create(sm->m, 1, &ss, &e) == SL_OK;
        if (good) {
            for (size_t k = 0; k < n; k++)
                in[k] = (float)((k * 2654435761u) % 2001) / 1000.0f - 1.0f;
            good = sl_run(ss, in, 1, out, &e) == SL_OK;
        }
        if (good) {
            for (int k = 0; k < no; k++)
                good &= isfinite(out[k]) != 0;
            sl_outputs_to_probs(sm->m, out, probs);
            double sum = 0;
            for (int k = 0; k < sm->nlabels; k++)
                sum += probs[k];
            good &= sm->nlabels < 1 || fabs(sum - 1.0) < 1e-3;
        }
        if (good)
            fprintf(stderr, "scanlite: model %s self-check ok (%.1f ms)\n", sm->name,
                    srv_now_ms() - t0);
        else
            fprintf(stderr, "scanlite: model %s FAILED its self-check: %s\n", sm->name,
                    e.message[0] ? e.message : "non-finite or unnormalized output");
        ok &= good;
        if (ss)
            sl_session_free(ss);
        free(in);
        free(out);
        free(probs);
    }
    if (ok && !atomic_load(&s->stopping))
        atomic_store(&s->ready, 1);
    return NULL;
}

static int start_http(srv *s)
{
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof port, "%d", s->cfg.port);
    int gai = getaddrinfo(s->cfg.host, port, &hints, &ai);
    if (gai) {
        fprintf(stderr, "scanlite serve: bad --host %s: %s\n", s->cfg.host, gai_strerror(gai));
        return -1;
    }
    char mhd_err[256];
    if (srv_mhd_open(mhd_err, sizeof mhd_err) != 0) {
        fprintf(stderr, "scanlite serve: cannot load the HTTP library: %s\n", mhd_err);
        freeaddrinfo(ai);
        return -1;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, srv_on_request, s, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->cfg.max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SRV_CONN_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SRV_CONN_MEMORY,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_NOTIFY_COMPLETED,
        srv_on_completed, s, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->mhd) {
        fprintf(stderr, "scanlite serve: cannot listen on %s:%d (in use or not permitted)\n",
                s->cfg.host, s->cfg.port);
        return -1;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    int v6 = strchr(s->cfg.host, ':') != NULL;
    fprintf(stderr, "scanlite: listening on http://%s%s%s:%u (%d model%s, %d worker%s, queue %d)\n",
            v6 ? "[" : "", s->cfg.host, v6 ? "]" : "", di ? di->port : (unsigned)s->cfg.port, s->nmodels,
            s->nmodels == 1 ? "" : "s", s->cfg.workers, s->cfg.workers == 1 ? "" : "s",
            s->cfg.queue);
    return 0;
}

/* SIGTERM/SIGINT land here in whichever thread the kernel picks (threads
 * made by libraries before serve started may not block them): the handler
 * only writes the signal number to a pipe the main thread reads. */
static int stop_pipe[2] = {-1, -1};

static void on_stop_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    ssize_t w = write(stop_pipe[1], &b, 1);  /* a full pipe means a stop is pending */
    (void)w;
    errno = saved;
}

static int wait_stop_signal(void)
{
    unsigned char b = 0;
    for (;;) {
        ssize_t n = read(stop_pipe[0], &b, 1);
        if (n == 1)
            return b;
        if (n < 0 && errno != EINTR)
            return SIGTERM;
    }
}

static void drain_and_stop(srv *s)
{
    atomic_store(&s->stopping, 1);
    MHD_socket ls = MHD_quiesce_daemon(s->mhd);
    if (ls != MHD_INVALID_SOCKET)
        close(ls);
    double t0 = srv_now_ms();
    while (atomic_load(&s->inflight) > 0 && srv_now_ms() - t0 < SRV_DRAIN_TIMEOUT_S * 1e3)
        usleep(10000);
    if (atomic_load(&s->inflight) > 0)
        fprintf(stderr, "scanlite: %d request(s) still running after %d s; closing them\n",
                atomic_load(&s->inflight), SRV_DRAIN_TIMEOUT_S);
    MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
}

int srv_run(srv_config *cfg)
{
    srv *s = calloc(1, sizeof *s);
    pthread_t checker;
    int have_checker = 0, rc = 2;
    char err[600], now[DB_TIME_LEN];
    if (!s) {
        fprintf(stderr, "scanlite serve: out of memory\n");
        return 2;
    }
    s->cfg = *cfg;
    struct sigaction sa, old_int, old_term, old_pipe;
    sigset_t old_mask;
    sigemptyset(&old_mask);
    pthread_sigmask(SIG_SETMASK, NULL, &old_mask);
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, &old_pipe);
    if (pipe2(stop_pipe, O_CLOEXEC)) {
        fprintf(stderr, "scanlite serve: pipe: %s\n", strerror(errno));
        goto done;
    }
    /* No SA_RESTART: the main thread's read() then returns EINTR and is
     * retried, so a handler that a sanitizer deferred still gets to run. */
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    /* Threads made below inherit a mask that blocks the stop signals, so
     * the kernel hands them to the main thread; one that arrives during
     * start-up stays pending until the main thread waits for it. */
    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_set, &old_mask);
    for (int i = 0; i < cfg->nmodel_args; i++)
        if (model_add(s, cfg->model_names[i], cfg->model_files[i]))
            goto done;
    if (cfg->models_dir && models_from_dir(s, cfg->models_dir))
        goto done;
    if (s->nmodels == 0) {
        fprintf(stderr, "scanlite serve: no model: give --models DIR or -m NAME=FILE.slm\n");
        goto done;
    }
    if (load_env_key(s))
        goto done;
    if (db_open(cfg->db_path, cfg->data_dir, SRV_DB_CONNS, &s->db, err, sizeof err)) {
        fprintf(stderr, "scanlite serve: cannot open the database %s\n", err);
        goto done;
    }
    db_time_now(now, 0);
    for (int i = 0; i < s->nmodels; i++) {
        const srv_model *sm = &s->models[i];
        if (db_model_record(s->db, sm->name, sl_model_sha256(sm->m), sl_model_path(sm->m),
                            (int64_t)sl_model_file_size(sm->m), sm->labels_json, now)) {
            fprintf(stderr, "scanlite serve: database: %s\n", db_errmsg());
            goto done;
        }
        fprintf(stderr, "scanlite: model %s sha256 %s (%d labels)\n", sm->name,
                sl_model_sha256(sm->m), sm->nlabels);
    }
    if (bootstrap_admin(s))
        goto done;
    /* Sessions dead for a day are of no use, even to the audit trail. */
    char day_ago[DB_TIME_LEN];
    db_time_now(day_ago, -86400);
    db_session_purge(s->db, day_ago, NULL);
    if (srv_metrics_create(s, &s->metrics)) {
        fprintf(stderr, "scanlite serve: out of memory\n");
        goto done;
    }
    if (srv_pool_create(s, cfg->workers, cfg->threads, cfg->queue, &s->pool, err, sizeof err)) {
        fprintf(stderr, "scanlite serve: %s\n", err);
        goto done;
    }
    if (start_http(s))
        goto done;
    db_audit(s->db, now, "serve", "server_start", NULL, NULL, NULL);
    have_checker = pthread_create(&checker, NULL, self_check, s) == 0;
    if (!have_checker)
        fprintf(stderr, "scanlite serve: cannot start the self-check; /ready stays 503\n");
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    int sig = wait_stop_signal();
    fprintf(stderr, "scanlite: %s received, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    drain_and_stop(s);
    rc = 0;
done:
    atomic_store(&s->stopping, 1);
    if (have_checker)
        pthread_join(checker, NULL);
    if (s->mhd)
        MHD_stop_daemon(s->mhd);
    srv_pool_free(s->pool);
    if (s->db) {
        db_time_now(now, 0);
        if (rc == 0)
            db_audit(s->db, now, "serve", "server_stop", NULL, NULL, NULL);
        db_close(s->db);
    }
    srv_metrics_free(s->metrics);
    for (int i = 0; i < s->nmodels; i++) {
        sl_model_free(s->models[i].m);
        free(s->models[i].labels_json);
    }
    if (rc == 0)
        fprintf(stderr, "scanlite: stopped cleanly\n");
    free(s);
    if (stop_pipe[0] >= 0) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        close(stop_pipe[0]);
        close(stop_pipe[1]);
        stop_pipe[0] = stop_pipe[1] = -1;
    }
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
    return rc;
}
