/* nn_pool.c — persistent pthread pool (see nn_pool.h).
 *
 * One loop at a time. nn_pool_for publishes (fn, arg, ranges) and bumps an
 * atomic generation counter; then every participant, the caller included,
 * claims ranges one at a time from an atomic claim word (generation in the
 * high 32 bits, next range in the low 32: a thread still holding an older
 * generation cannot claim) until none is left, and the caller returns
 * once every range has finished. So a worker that is slow to wake (a
 * futex wake-up costs tens of microseconds; in a virtual machine whose idle
 * vCPU halts, waking it waits for the host's scheduler: milliseconds when
 * the host is busy) never holds the loop up: its range is run by whoever
 * gets there first. The ranges themselves depend only on (n, grain,
 * threads), so results do not depend on who ran them. A network runs
 * dozens of loops back to back, so a thread that finds nothing to do first
 * polls for up to NN_POOL_SPIN_NS, then blocks on a condition variable: an
 * idle pool sleeps. Sleepers are counted under the mutex, which is held
 * whenever generation or the caller's sleeping flag changes, so no wake-up
 * is lost. fn and arg of a generation stay valid while any of its ranges
 * is claimed and unfinished (the caller waits for them), and a range can
 * only be claimed with its generation's claim word. */
#include "nn_pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

typedef struct worker_arg {
    struct nn_pool *p;
    int index;
} worker_arg;

struct nn_pool {
    int threads;
    pthread_t *tids;
    worker_arg *wargs;        /* [threads]: what each worker is started with */
    pthread_mutex_t mu;
    pthread_cond_t wake;      /* workers wait here for a new generation */
    pthread_cond_t done;      /* caller waits here for finished == parts */
    atomic_ulong generation;
    atomic_ullong claim;      /* (generation & 0xffffffff) << 32 | next range */
    atomic_llong finished;    /* ranges of the current loop run to the end */
    atomic_int quit;
    int sleepers;             /* workers blocked on wake (under mu) */
    int caller_sleeping;      /* the caller blocked on done (under mu) */
    nn_pool_fn fn;
    void *arg;
    int64_t n, chunk;         /* range i = [i*chunk, min(n, (i+1)*chunk)), i < parts */
    atomic_llong parts;       /* atomic: a late worker may read it during the next loop */
    int timing;               /* nn_pool_set_timing */
    int64_t *busy_ns;         /* [threads * NN_POOL_LINE]: thread t's count at
                                 t * NN_POOL_LINE, written by t alone */
};

/* int64_t per cache line: the busy counters of two threads never share one. */
#define NN_POOL_LINE 8

static int64_t now_ns(void);

/* fn(arg, b, e); while timing, its wall time goes to the running thread's
 * busy counter. */
static void run_timed(nn_pool *p, nn_pool_fn fn, void *arg, int64_t b, int64_t e)
{
    int64_t t0;
    if (!p || !p->timing) {
        fn(arg, b, e);
        return;
    }
    t0 = now_ns();
    fn(arg, b, e);
    p->busy_ns[nn_pool_thread_index(p) * NN_POOL_LINE] += now_ns() - t0;
}

static void run_range(nn_pool *p, int64_t i)
{
    int64_t b = i * p->chunk;
    int64_t e = b + p->chunk;
    if (e > p->n)
        e = p->n;
    if (b < e)
        run_timed(p, p->fn, p->arg, b, e);
}

/* Claims and runs ranges of generation gen (low 32 bits) until none is
 * left or the pool has moved on; wakes a sleeping caller after the last. */
static void run_claims(nn_pool *p, unsigned long gen)
{
    unsigned long long tag = (unsigned long long)(gen & 0xffffffffUL) << 32;
    for (;;) {
        unsigned long long c = atomic_load_explicit(&p->claim, memory_order_acquire);
        int64_t i = (int64_t)(c & 0xffffffffULL), parts;
        /* parts may already be the next loop's: then the claim word has
         * moved on (pool_run retires it first) and the CAS below fails */
        if ((c & ~0xffffffffULL) != tag || i >= atomic_load_explicit(&p->parts, memory_order_relaxed))
            return;
        if (!atomic_compare_exchange_weak_explicit(&p->claim, &c, c + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        parts = atomic_load_explicit(&p->parts, memory_order_relaxed);  /* this loop's: it
                                                                           waits for range i */
        run_range(p, i);
        if (atomic_fetch_add_explicit(&p->finished, 1, memory_order_acq_rel) + 1 == parts) {
            pthread_mutex_lock(&p->mu);
            if (p->caller_sleeping)
                pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Polls until done(p, ctx) holds or NN_POOL_SPIN_NS pass; 1 when it holds.
 * After NN_POOL_YIELD_NS it yields the CPU between checks (a no-op when
 * nothing else is runnable there). */
static int spin_until(nn_pool *p, int (*done)(nn_pool *, unsigned long), unsigned long ctx)
{
    int64_t start = now_ns();
    for (unsigned i = 1;; i++) {
        if (done(p, ctx))
            return 1;
        cpu_relax();
        if (i % 64 == 0) {
            int64_t spent = now_ns() - start;
            if (spent > NN_POOL_SPIN_NS)
                return done(p, ctx);
            if (spent > NN_POOL_YIELD_NS)
                sched_yield();
        }
    }
}

static int new_loop(nn_pool *p, unsigned long seen)
{
    return atomic_load_explicit(&p->quit, memory_order_acquire) ||
           atomic_load_explicit(&p->generation, memory_order_acquire) != seen;
}

static int all_done(nn_pool *p, unsigned long unused)
{
    (void)unused;
    return atomic_load_explicit(&p->finished, memory_order_acquire) ==
           atomic_load_explicit(&p->parts, memory_order_relaxed);
}

/* The pool whose worker this thread is, and its index there (1..threads-1;
 * the caller of a loop is 0). */
static _Thread_local const nn_pool *tl_pool;
static _Thread_local int tl_index;

int nn_pool_thread_index(const nn_pool *p)
{
    return p && tl_pool == p ? tl_index : 0;
}

static void *worker_main(void *argp)
{
    nn_pool *p = ((worker_arg *)argp)->p;
    tl_pool = p;
    tl_index = ((worker_arg *)argp)->index;
    unsigned long seen = 0;     /* 0: no loop yet, so sleep at once (a new
                                 * session's first loop may be a JPEG decode
                                 * away: polling would take its CPU) */
    for (;;) {
        if (seen == 0 || !spin_until(p, new_loop, seen)) {
            pthread_mutex_lock(&p->mu);
            p->sleepers++;
            while (!new_loop(p, seen))
                pthread_cond_wait(&p->wake, &p->mu);
            p->sleepers--;
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load_explicit(&p->quit, memory_order_acquire))
            break;
        seen = atomic_load_explicit(&p->generation, memory_order_acquire);
        run_claims(p, seen);
    }
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
    if (!(p->busy_ns = calloc((size_t)threads * NN_POOL_LINE, sizeof *p->busy_ns))) {
        free(p);
        return nn_err_set(e, NN_ERR_NOMEM, "thread pool");
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    if (threads > 1) {
        p->tids = calloc((size_t)threads, sizeof *p->tids);
        p->wargs = calloc((size_t)threads, sizeof *p->wargs);
        if (!p->tids || !p->wargs) {
            p->threads = 1;   /* no thread started */
            nn_pool_free(p);
            return nn_err_set(e, NN_ERR_NOMEM, "thread pool");
        }
    }
    for (int i = 1; i < threads; i++) {
        p->wargs[i] = (worker_arg){p, i};
        if (pthread_create(&p->tids[i], NULL, worker_main, &p->wargs[i]) != 0) {
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
    atomic_store_explicit(&p->quit, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->threads; i++)
        pthread_join(p->tids[i], NULL);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p->tids);
    free(p->wargs);
    free(p->busy_ns);
    free(p);
}

void nn_pool_set_timing(nn_pool *p, int on)
{
    if (p)
        p->timing = on != 0;
}

double nn_pool_busy_ms(const nn_pool *p, int t)
{
    return p && t >= 0 && t < p->threads ? (double)p->busy_ns[t * NN_POOL_LINE] * 1e-6 : 0.0;
}

int nn_pool_threads(const nn_pool *p)
{
    return p ? p->threads : 1;
}

int nn_pool_cpus(void)
{
    cpu_set_t set;
    long n = 0;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        n = CPU_COUNT(&set);
    if (n < 1)
        n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 1024 ? 1024 : (int)n;
}

/* max_parts: at most this many ranges (the thread count for nn_pool_for). */
static void pool_run(nn_pool *p, int64_t n, int64_t grain, int64_t max_parts, nn_pool_fn fn,
                     void *arg)
{
    int64_t parts;
    unsigned long gen;
    if (n <= 0)
        return;
    if (grain < 1)
        grain = 1;
    parts = (n + grain - 1) / grain;
    if (!p || p->threads == 1 || parts == 1) {
        run_timed(p, fn, arg, 0, n);
        return;
    }
    if (parts > max_parts)
        parts = max_parts;
    pthread_mutex_lock(&p->mu);
    gen = atomic_load_explicit(&p->generation, memory_order_relaxed) + 1;
    /* Retire the previous loop's claim word before parts changes: a thread
     * that read it (every range claimed) and then reads the new, larger
     * parts would otherwise claim a range that does not exist, run it with
     * this loop's fn and count it in finished (which then never equals
     * parts: the caller waited forever). Its CAS now fails. The low word
     * 0xffffffff is no range, so nothing is claimed until the store below. */
    atomic_store_explicit(&p->claim, (unsigned long long)(gen & 0xffffffffUL) << 32 | 0xffffffffULL,
                          memory_order_relaxed);
    p->fn = fn;
    p->arg = arg;
    p->n = n;
    p->chunk = (n + parts - 1) / parts;
    atomic_store_explicit(&p->parts, (n + p->chunk - 1) / p->chunk, memory_order_relaxed);
    atomic_store_explicit(&p->finished, 0, memory_order_relaxed);
    atomic_store_explicit(&p->claim, (unsigned long long)(gen & 0xffffffffUL) << 32,
                          memory_order_release);
    atomic_store_explicit(&p->generation, gen, memory_order_release);
    if (p->sleepers > 0)
        pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_claims(p, gen);
    if (spin_until(p, all_done, 0))
        return;
    pthread_mutex_lock(&p->mu);
    p->caller_sleeping = 1;
    while (!all_done(p, 0))
        pthread_cond_wait(&p->done, &p->mu);
    p->caller_sleeping = 0;
    pthread_mutex_unlock(&p->mu);
}

void nn_pool_for(nn_pool *p, int64_t n, int64_t grain, nn_pool_fn fn, void *arg)
{
    pool_run(p, n, grain, p ? p->threads : 1, fn, arg);
}

void nn_pool_for_each(nn_pool *p, int64_t n, nn_pool_fn fn, void *arg)
{
    pool_run(p, n, 1, n, fn, arg);
}
