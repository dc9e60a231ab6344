/* io_slm_check.c — the deferred data checksum of io_slm_read_deferred (see
 * io_slm.h): a thread started with the read waits for io_slm_check_go (or
 * the first io_slm_check_wait), then computes the CRC-32 of the mapped
 * data section (split over helpers by io_crc32_parallel) while the caller
 * goes on; io_slm_check_wait joins it once, under a mutex, and every later
 * call reads the stored answer. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_crc32.h"
#include "io_slm_parse.h"

struct io_slm_check {
    pthread_mutex_t mu;         /* guards go, threads, cancel */
    pthread_cond_t cv;          /* go or cancel was set */
    pthread_mutex_t join_mu;    /* guards running, done, computed after the start */
    pthread_t tid;
    int running;                /* tid started and not yet joined */
    int done;                   /* computed holds the CRC */
    int go;                     /* the checksum may start... */
    int threads;                /* ...on at most this many threads (0: one per CPU) */
    int cancel;                 /* freed before go: the thread returns at once */
    const void *data;           /* the mapped data section: not owned */
    size_t len;
    uint32_t stored, computed;
    char src[128];
};

/* Waits for go (or cancel), then sums. */
static void *check_thread(void *arg)
{
    io_slm_check *c = arg;
    int threads;
    pthread_mutex_lock(&c->mu);
    while (!c->go && !c->cancel)
        pthread_cond_wait(&c->cv, &c->mu);
    threads = c->go ? c->threads : -1;
    pthread_mutex_unlock(&c->mu);
    if (threads >= 0)
        c->computed = io_crc32_parallel(0, c->data, c->len, threads);
    return NULL;
}

nn_status io_slm_check_start(const char *src, const void *data, size_t len, uint32_t stored,
                             io_slm_check **out, nn_err *e)
{
    io_slm_check *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c)
        return nn_err_set(e, NN_ERR_NOMEM, "%s: out of memory", src);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    pthread_mutex_init(&c->join_mu, NULL);
    c->data = data;
    c->len = len;
    c->stored = stored;
    snprintf(c->src, sizeof c->src, "%s", src);
    /* no thread: io_slm_check_wait sums on the caller's */
    c->running = pthread_create(&c->tid, NULL, check_thread, c) == 0;
    *out = c;
    return NN_OK;
}

/* Keeps the check's thread (and the helpers it starts, which inherit its
 * mask) off the CPU of the thread calling: with threads > 0 it sums on
 * the CPUs the caller's network leaves free, and the scheduler otherwise
 * sometimes starts it on the caller's own CPU (a cold 1-thread predict of
 * ResNet18 on 2 CPUs: the run 18.9 -> 23-26 ms in 6 of 12 launches,
 * until one of the two was moved). Nothing when the process may use only
 * the caller's CPU. */
static void check_avoid_caller_cpu(io_slm_check *c)
{
    cpu_set_t set;
    int cpu = sched_getcpu();
    if (!c->running || cpu < 0 || cpu >= CPU_SETSIZE ||
        sched_getaffinity(0, sizeof set, &set) != 0 || !CPU_ISSET(cpu, &set) ||
        CPU_COUNT(&set) < 2)
        return;
    CPU_CLR(cpu, &set);
    pthread_setaffinity_np(c->tid, sizeof set, &set);
}

void io_slm_check_go(io_slm_check *c, int threads)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    if (!c->go) {
        if (threads > 0)
            check_avoid_caller_cpu(c);
        c->go = 1;
        c->threads = threads > 0 ? threads : 0;
        pthread_cond_signal(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
}

/* Joins the thread, or sums here when none started; under join_mu. */
static void check_finish(io_slm_check *c)
{
    int go, threads;
    pthread_mutex_lock(&c->mu);
    go = c->go;
    threads = c->threads;
    pthread_mutex_unlock(&c->mu);
    pthread_mutex_lock(&c->join_mu);
    if (c->running) {
        pthread_join(c->tid, NULL);
        c->running = 0;
        c->done = go;           /* the thread summed unless cancelled first */
    } else if (!c->done && go) {
        c->computed = io_crc32_parallel(0, c->data, c->len, threads);
        c->done = 1;
    }
    pthread_mutex_unlock(&c->join_mu);
}

nn_status io_slm_check_wait(io_slm_check *c, nn_err *e)
{
    uint32_t crc;
    if (!c)
        return NN_OK;
    io_slm_check_go(c, 0);
    check_finish(c);
    pthread_mutex_lock(&c->join_mu);
    crc = c->computed;
    pthread_mutex_unlock(&c->join_mu);
    return crc == c->stored ? NN_OK : io_slm_data_crc_fail(e, c->src, c->stored, crc);
}

void io_slm_check_free(io_slm_check *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->cancel = 1;              /* a thread still waiting for go returns */
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    check_finish(c);
    pthread_mutex_destroy(&c->join_mu);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
