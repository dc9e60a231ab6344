/* test_pool.c — the thread pool (nn/nn_pool.c): every index of [0, n) is
 * visited exactly once for thread counts 1..4 and many (n, grain) pairs,
 * both back to back (workers still polling) and after pauses longer than
 * the poll window (workers asleep on the condition variable), with no more
 * ranges than threads; nn_pool_for_each runs each item once as its own
 * range and nn_pool_thread_index gives each running thread its own index;
 * an idle pool sleeps (CPU time); per-thread busy timing counts each
 * thread's ranges; bad arguments are refused. */
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "nn/nn_pool.h"
#include "tests/tassert.h"

#define POOL_N_MAX 5000

typedef struct visit {
    atomic_int hits[POOL_N_MAX];
    atomic_int calls;
} visit;

static void visit_fn(void *arg, int64_t b, int64_t e)
{
    visit *v = arg;
    atomic_fetch_add(&v->calls, 1);
    for (int64_t i = b; i < e; i++)
        atomic_fetch_add(&v->hits[i], 1);
}

static void pause_ms(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* A pool of `threads` threads (a failed check and NULL if none). */
static nn_pool *pool_new(int threads)
{
    nn_pool *p = NULL;
    nn_err e;
    T_CHECKF(nn_pool_create(threads, &p, &e) == NN_OK, "%d threads: %s", threads, e.msg);
    return p;
}

static void visit_reset(visit *v, int64_t upto)
{
    for (int64_t i = 0; i < upto; i++)
        atomic_store(&v->hits[i], 0);
    atomic_store(&v->calls, 0);
}

/* Indices [0, upto) not visited exactly once when below n, or visited
 * when not. */
static int visit_bad(visit *v, int64_t n, int64_t upto)
{
    int bad = 0;
    for (int64_t i = 0; i < upto; i++)
        bad += atomic_load(&v->hits[i]) != (i < n ? 1 : 0);
    return bad;
}

/* Runs one loop and checks that each index was visited once and that at
 * most min(threads, ceil(n / grain)) ranges were used. */
static int check_loop(nn_pool *p, int threads, int64_t n, int64_t grain)
{
    static visit v;
    int64_t parts = grain > 0 ? (n + grain - 1) / grain : n;
    int bad;
    visit_reset(&v, POOL_N_MAX);
    nn_pool_for(p, n, grain, visit_fn, &v);
    bad = visit_bad(&v, n, POOL_N_MAX);
    if (n > 0 && atomic_load(&v.calls) > (parts < threads ? parts : threads))
        bad++;
    return bad;
}

static void test_pool_cover(void)
{
    static const int64_t ns[] = {0, 1, 2, 3, 7, 64, 999, 1000, 4999};
    static const int64_t grains[] = {1, 3, 100, 4096};
    for (int threads = 1; threads <= 4; threads++) {
        nn_pool *p = pool_new(threads);
        int bad = 0;
        if (!p)
            continue;
        T_CHECK(nn_pool_threads(p) == threads);
        for (int rep = 0; rep < 3; rep++)
            for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
                for (size_t j = 0; j < sizeof grains / sizeof grains[0]; j++) {
                    bad += check_loop(p, threads, ns[i], grains[j]);
                    if (rep == 1 && j == 0)
                        pause_ms(NN_POOL_SPIN_NS / 1000000 + 2);  /* > the poll window: workers block */
                }
        T_CHECKF(bad == 0, "%d threads: %d wrong loops", threads, bad);
        nn_pool_free(p);
    }
}

/* nn_pool_for_each: every item once, each call one item (one call for
 * all with one thread), mixed with
 * nn_pool_for loops on the same pool (the claim words of both kinds). */
static int check_each(nn_pool *p, int threads, int64_t n, int64_t upto)
{
    static visit v;
    visit_reset(&v, upto);
    nn_pool_for_each(p, n, visit_fn, &v);
    return visit_bad(&v, n, upto) + (atomic_load(&v.calls) != (n <= 0 ? 0 : threads == 1 ? 1 : n));
}

static void test_pool_each(void)
{
    static const int64_t ns[] = {0, 1, 2, 3, 13, 64, 1000};
    for (int threads = 1; threads <= 3; threads++) {
        nn_pool *p = pool_new(threads);
        int bad = 0;
        if (!p)
            continue;
        for (int rep = 0; rep < 200; rep++)
            for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
                bad += check_each(p, threads, ns[i], POOL_N_MAX);
                bad += check_loop(p, threads, ns[i] + rep % 5, 1);
            }
        pause_ms(NN_POOL_SPIN_NS / 1000000 + 2);             /* workers asleep */
        bad += check_each(p, threads, 13, POOL_N_MAX);
        T_CHECKF(bad == 0, "%d threads: %d wrong loops", threads, bad);
        nn_pool_free(p);
    }
    nn_pool_for_each(NULL, 0, visit_fn, NULL);               /* nothing to run */
}

/* Loops of growing and shrinking range counts back to back: a worker
 * still claiming in the previous loop must not claim a range of the next
 * one (this once counted a phantom range, so the caller waited forever,
 * and ran it with the other loop's function). */
static void test_pool_parts_change(void)
{
    for (int threads = 2; threads <= 3; threads++) {
        nn_pool *p = pool_new(threads);
        int bad = 0;
        if (!p)
            continue;
        for (int i = 0; i < 300000 && bad == 0; i++)   /* 16 entries: loops back to back */
            bad += check_each(p, threads, i % 2 ? 3 + i % 13 : 2, 16);
        T_CHECKF(bad == 0, "%d threads: wrong loop", threads);
        nn_pool_free(p);
    }
}

/* nn_pool_thread_index: within [0, threads) and never held by two
 * running calls at once (each call marks its index busy while it spins a
 * little); 0 outside loops and for another pool's threads. */
typedef struct index_check {
    const nn_pool *p;
    int threads;
    atomic_int busy[8];
    atomic_int bad;
} index_check;

static void index_fn(void *arg, int64_t b, int64_t e)
{
    index_check *c = arg;
    int i = nn_pool_thread_index(c->p);
    (void)b;
    (void)e;
    if (i < 0 || i >= c->threads || atomic_exchange(&c->busy[i], 1) != 0) {
        atomic_fetch_add(&c->bad, 1);
        return;
    }
    for (volatile int k = 0; k < 2000; k++)
        ;
    atomic_store(&c->busy[i], 0);
}

static void test_pool_thread_index(void)
{
    nn_pool *other = pool_new(2);
    for (int threads = 1; threads <= 4; threads++) {
        nn_pool *p = pool_new(threads);
        static index_check c;
        if (!p)
            continue;
        c.p = p;
        c.threads = threads;
        atomic_store(&c.bad, 0);
        for (int rep = 0; rep < 2000; rep++)
            nn_pool_for_each(p, 1 + rep % 9, index_fn, &c);
        T_CHECKF(atomic_load(&c.bad) == 0, "%d threads: %d bad indices", threads, atomic_load(&c.bad));
        T_CHECK(nn_pool_thread_index(p) == 0 && nn_pool_thread_index(other) == 0);
        nn_pool_free(p);
    }
    nn_pool_free(other);
}

static void test_pool_many_loops(void)
{
    nn_pool *p = pool_new(2);
    int bad = 0;
    if (!p)
        return;
    for (int i = 0; i < 20000; i++)
        bad += check_loop(p, 2, 1 + i % 97, 1);
    T_CHECKF(bad == 0, "%d wrong loops of 20000", bad);
    nn_pool_free(p);
}

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* An idle pool sleeps: over 100 ms without loops, after a burst of them,
 * 3 threads use at most a few poll windows of CPU, not the 200 ms that
 * polling workers would. (A CPU-time bound, with a wide margin.) */
static void test_pool_idle(void)
{
    nn_pool *p = pool_new(3);
    double before, used;
    if (!p)
        return;
    for (int i = 0; i < 100; i++)
        check_loop(p, 3, 999, 1);
    before = cpu_ms();
    pause_ms(100);
    used = cpu_ms() - before;
    T_CHECKF(used < 50, "idle pool used %.1f ms of CPU in 100 ms", used);
    nn_pool_free(p);
}

/* Per-thread timing: each item spins 5 ms of wall time on the thread
 * that claims it; with timing on, each thread's busy counter grows by at
 * least 5 ms per item it ran and at most the wall time of the timed loops
 * (a preempted vCPU may add to an item: no tighter bound) (1 and 2
 * threads, loops of 4 items, and one item that the caller runs alone);
 * with timing off the counters stay. */
typedef struct spin_job {
    const nn_pool *p;
    atomic_int ran[2];
} spin_job;

static double wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static void spin_fn(void *arg, int64_t b, int64_t e)
{
    spin_job *j = arg;
    for (int64_t i = b; i < e; i++) {
        double t0 = wall_ms();
        while (wall_ms() - t0 < 5.0)
            ;
        atomic_fetch_add(&j->ran[nn_pool_thread_index(j->p)], 1);
    }
}

static void test_pool_timing(void)
{
    for (int threads = 1; threads <= 2; threads++) {
        nn_pool *p = pool_new(threads);
        spin_job j = {p, {0, 0}};
        double b0, b1, wall;
        if (!p)
            return;
        nn_pool_for_each(p, 4, spin_fn, &j);
        T_CHECK(nn_pool_busy_ms(p, 0) == 0 && nn_pool_busy_ms(p, 1) == 0);
        atomic_store(&j.ran[0], 0);
        atomic_store(&j.ran[1], 0);
        nn_pool_set_timing(p, 1);
        wall = wall_ms();
        nn_pool_for_each(p, 4, spin_fn, &j);
        nn_pool_for(p, 1, 1, spin_fn, &j);        /* one range: run by the caller alone */
        wall = wall_ms() - wall;
        nn_pool_set_timing(p, 0);
        b0 = nn_pool_busy_ms(p, 0);
        b1 = nn_pool_busy_ms(p, 1);
        for (int t = 0; t < threads; t++) {
            double want = 5.0 * atomic_load(&j.ran[t]), got = t ? b1 : b0;
            T_CHECKF(got >= want && got <= wall,
                     "%d threads: thread %d ran %d items, busy %.2f ms in %.2f ms", threads, t,
                     atomic_load(&j.ran[t]), got, wall);
        }
        T_CHECK(atomic_load(&j.ran[0]) + atomic_load(&j.ran[1]) == 5);
        nn_pool_for_each(p, 2, spin_fn, &j);
        T_CHECK(nn_pool_busy_ms(p, 0) == b0 && nn_pool_busy_ms(p, 1) == b1);
        T_CHECK(nn_pool_busy_ms(p, -1) == 0 && nn_pool_busy_ms(p, threads) == 0 &&
                nn_pool_busy_ms(NULL, 0) == 0);
        nn_pool_free(p);
    }
}

static void test_pool_bad_args(void)
{
    nn_pool *p = NULL;
    nn_err e;
    T_CHECK(nn_pool_create(0, &p, &e) == NN_ERR_INVALID && !p);
    T_CHECK(nn_pool_create(257, &p, &e) == NN_ERR_INVALID && !p);
    nn_pool_free(NULL);
    T_CHECK(nn_pool_threads(NULL) == 1);
}

int main(void)
{
    alarm(300);     /* a lost wake-up or a phantom range hangs: fail instead */
    T_RUN(test_pool_cover);
    T_RUN(test_pool_each);
    T_RUN(test_pool_parts_change);
    T_RUN(test_pool_thread_index);
    T_RUN(test_pool_many_loops);
    T_RUN(test_pool_idle);
    T_RUN(test_pool_timing);
    T_RUN(test_pool_bad_args);
    return t_summary("test_pool");
}
