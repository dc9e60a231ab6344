/* srv_pool.c — the inference workers: a fixed set of threads, each owning
 * one sl_session per model, fed through a bounded FIFO of tasks (one task =
 * the images of one request, run in order by one worker; a job asked to
 * explain also renders its Grad-CAM heatmap on the same session). A full
 * queue is refused at once (the HTTP layer answers 503); nothing waits
 * unbounded for a queue slot. Freeing the pool lets the workers finish
 * queued tasks. */
#include "srv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct srv_task {
    srv_job *jobs;
    int n;
    int done;
    double t_enqueued;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} srv_task;

typedef struct worker {
    srv_pool *pool;
    pthread_t tid;
    int started;
    sl_session *sessions[SRV_MAX_MODELS];
} worker;

struct srv_pool {
    srv *s;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    srv_task **ring;        /* capacity slots */
    int cap, head, count;
    int stop;
    int nworkers;
    worker *workers;
};

static void task_run(worker *w, srv_task *t)
{
    double now = srv_now_ms();
    for (int i = 0; i < t->n; i++) {
        srv_job *j = &t->jobs[i];
        j->ms_queue = now - t->t_enqueued;
        memset(&j->err, 0, sizeof j->err);
        sl_status st = sl_predict_image(w->sessions[j->model], j->bytes, j->len, j->top_k,
                                        &j->pred, &j->err);
        /* The heatmap explains the label just answered (or the one asked
         * for): the prediction above stays the one every answer gives. */
        if (st == SL_OK && j->explain)
            st = sl_explain_image(w->sessions[j->model], j->bytes, j->len,
                                  j->explain_class >= 0 ? j->explain_class : j->pred.label,
                                  &j->heat, &j->err);
        j->err.status = st;
    }
    pthread_mutex_lock(&t->mu);
    t->done = 1;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    srv_pool *p = w->pool;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->count && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        if (!p->count) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        srv_task *t = p->ring[p->head];
        p->head = (p->head + 1) % p->cap;
        p->count--;
        pthread_mutex_unlock(&p->mu);
        task_run(w, t);
    }
}

int srv_pool_create(srv *s, int workers, int threads, int capacity, srv_pool **out, char *err,
                    size_t errlen)
{
    *out = NULL;
    srv_pool *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    p->s = s;
    p->cap = capacity < 1 ? 1 : capacity;
    p->nworkers = workers < 1 ? 1 : workers;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->ring = calloc((size_t)p->cap, sizeof *p->ring);
    p->workers = calloc((size_t)p->nworkers, sizeof *p->workers);
    if (!p->ring || !p->workers) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (int i = 0; i < p->nworkers; i++) {
        worker *w = &p->workers[i];
        w->pool = p;
        for (int m = 0; m < s->nmodels; m++) {
            sl_error e;
            if (sl_session_create(s->models[m].m, threads, &w->sessions[m], &e) != SL_OK) {
                snprintf(err, errlen, "model %s: cannot create a session: %s", s->models[m].name,
                         e.message);
                goto fail;
            }
        }
    }
    for (int i = 0; i < p->nworkers; i++) {
        if (pthread_create(&p->workers[i].tid, NULL, worker_main, &p->workers[i])) {
            snprintf(err, errlen, "cannot start inference worker %d", i);
            goto fail;
        }
        p->workers[i].started = 1;
    }
    *out = p;
    return 0;
fail:
    srv_pool_free(p);
    return -1;
}

int srv_pool_run(srv_pool *p, srv_job *jobs, int n)
{
    srv_task t = {.jobs = jobs, .n = n, .t_enqueued = srv_now_ms()};
    pthread_mutex_init(&t.mu, NULL);
    pthread_cond_init(&t.cv, NULL);
    pthread_mutex_lock(&p->mu);
    if (p->count == p->cap || p->stop) {
        pthread_mutex_unlock(&p->mu);
        pthread_mutex_destroy(&t.mu);
        pthread_cond_destroy(&t.cv);
        return -1;
    }
    p->ring[(p->head + p->count) % p->cap] = &t;
    p->count++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_mutex_lock(&t.mu);
    while (!t.done)
        pthread_cond_wait(&t.cv, &t.mu);
    pthread_mutex_unlock(&t.mu);
    pthread_mutex_destroy(&t.mu);
    pthread_cond_destroy(&t.cv);
    return 0;
}

int srv_pool_depth(srv_pool *p)
{
    pthread_mutex_lock(&p->mu);
    int n = p->count;
    pthread_mutex_unlock(&p->mu);
    return n;
}

int srv_pool_capacity(srv_pool *p) { return p->cap; }

void srv_pool_free(srv_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; p->workers && i < p->nworkers; i++) {
        if (p->workers[i].started)
            pthread_join(p->workers[i].tid, NULL);
        for (int m = 0; m < SRV_MAX_MODELS; m++)
            if (p->workers[i].sessions[m])
                sl_session_free(p->workers[i].sessions[m]);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->workers);
    free(p->ring);
    free(p);
}
