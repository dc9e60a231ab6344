/* nn_pool.c — persistent pthread pool (see nn_pool.h).
 *
 * One loop at a time: nn_pool_for publishes (fn, arg, ranges) under the
 * mutex, bumps a generation counter and broadcasts; each worker runs its
 * own range, the caller runs range 0, and the caller waits until every
 * worker has reported. Idle workers block on the condition variable. */
#include "nn_pool.h"

#include <pthread.h>
#include <stdlib.h>

struct nn_pool {
    int threads;
    pthread_t *tids;
    pthread_mutex_t mu;
    pthread_cond_t wake;      /* workers wait here for a new generation */
    pthread_cond_t done;      /* caller waits here for pending == 0 */
    unsigned long generation;
    int pending;              /* workers still running the current loop */
    int quit;
    nn_pool_fn fn;
    void *arg;
    int64_t n, chunk;         /* range i = [i*chunk, min(n, (i+1)*chunk)) */
};

typedef struct worker_arg {
    nn_pool *pool;
    int index;                /* 1..threads-1 */
} worker_arg;

static void run_range(nn_pool *p, int i)
{
    int64_t b = (int64_t)i * p->chunk;
    int64_t e = b + p->chunk;
    if (e > p->n)
        e = p->n;
    if (b < e)
        p->fn(p->arg, b, e);
}

static void *worker_main(void *argp)
{
    worker_arg *wa = argp;
    nn_pool *p = wa->pool;
    int index = wa->index;
    unsigned long seen = 0;
    free(wa);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->generation == seen)
            pthread_cond_wait(&p->wake, &p->mu);
        if (p->quit)
            break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        run_range(p, index);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

nn_status nn_pool_create(int threads, nn_pool **out, nn_err *e)
{
    nn_pool *p;
    *out = NULL;
    if (threads < 1 || threads > 256)
        return nn_err_set(e, NN_ERR_INVALID, "thread count %d out of range 1..256", threads);
    p = calloc(1, sizeof *p);
    if (!p)
        return nn_err_set(e, NN_ERR_NOMEM, "thread pool");
    p->threads = threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    if (threads > 1) {
        p->tids = calloc((size_t)threads, sizeof *p->tids);
        if (!p->tids) {
            nn_pool_free(p);
            return nn_err_set(e, NN_ERR_NOMEM, "thread pool");
        }
    }
    for (int i = 1; i < threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (wa) {
            wa->pool = p;     /* set before the thread can read it */
            wa->index = i;
        }
        if (!wa || pthread_create(&p->tids[i], NULL, worker_main, wa) != 0) {
            free(wa);
            p->threads = i;   /* only join what started */
            nn_pool_free(p);
            return nn_err_set(e, NN_ERR_NOMEM, "cannot start pool thread %d", i);
        }
    }
    *out = p;
    return NN_OK;
}

void nn_pool_free(nn_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->threads; i++)
        pthread_join(p->tids[i], NULL);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p->tids);
    free(p);
}

int nn_pool_threads(const nn_pool *p)
{
    return p ? p->threads : 1;
}

void nn_pool_for(nn_pool *p, int64_t n, int64_t grain, nn_pool_fn fn, void *arg)
{
    int64_t parts;
    if (n <= 0)
        return;
    if (grain < 1)
        grain = 1;
    parts = (n + grain - 1) / grain;
    if (!p || p->threads == 1 || parts == 1) {
        fn(arg, 0, n);
        return;
    }
    if (parts > p->threads)
        parts = p->threads;
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->n = n;
    p->chunk = (n + parts - 1) / parts;
    p->pending = p->threads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_range(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
