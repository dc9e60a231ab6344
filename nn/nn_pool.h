/* nn_pool.h — a persistent pthread pool for data-parallel loops.
 *
 * A thread with nothing to do polls for at most NN_POOL_SPIN_NS (2 ms:
 * the next loop of a network usually follows within microseconds, and the
 * wait for a slower thread at the end of a loop within a fraction of a
 * millisecond), then sleeps on a condition variable: an idle pool uses no
 * CPU. Polling through those waits keeps a virtual CPU from halting:
 * waking a halted one costs up to milliseconds on a busy host (ResNet18
 * batch 8 at 2 threads: 110 -> 106 ms median over 10 fresh processes on
 * the development VM; runs up to 139 ms with the former 0.1 ms window). The
 * calling thread takes part in every loop. Work is split into contiguous
 * ranges deterministically from (n, grain, threads), so results do not
 * depend on scheduling, but a range is run by whichever thread claims it
 * first: a thread that is slow to wake or descheduled does not hold the
 * loop up (with a CPU hog on one of 2 CPUs, ResNet18 at 2 threads: batch 1
 * 98 -> 46 ms, batch 8 439 -> 265 ms). So fn must not assume which thread
 * runs a range, nor that ranges run concurrently. A pool runs one loop at
 * a time; one pool per session. */
#ifndef NN_POOL_H
#define NN_POOL_H

#include <stdint.h>

#include "nn_status.h"

/* How long a thread polls before it blocks (nanoseconds). */
#define NN_POOL_SPIN_NS 2000000
/* After polling this long, a thread yields its CPU between polls, so that
 * other runnable threads (the model file's background checksum during a
 * cold start) run instead of the poll; the waits between the loops of a
 * network are mostly shorter. Cold `scanlite predict` of ResNet18 at 2
 * threads: median 33.4 -> 32.3 ms, CPU 58.2 -> 55.0 ms (300 alternating
 * launches each). */
#define NN_POOL_YIELD_NS 50000

typedef struct nn_pool nn_pool;

/* fn is called with disjoint [begin, end) ranges covering [0, n). */
typedef void (*nn_pool_fn)(void *arg, int64_t begin, int64_t end);

nn_status nn_pool_create(int threads, nn_pool **out, nn_err *e);
void nn_pool_free(nn_pool *p);
int nn_pool_threads(const nn_pool *p);
/* CPUs this process may run on (its affinity mask, e.g. under taskset or
 * a container's cpuset; else the online ones); at least 1. */
int nn_pool_cpus(void);
/* Splits [0, n) into at most threads ranges of at least `grain` items and
 * runs them; returns when all are done. n <= 0 does nothing. */
void nn_pool_for(nn_pool *p, int64_t n, int64_t grain, nn_pool_fn fn, void *arg);
/* Every item of [0, n) is its own range, claimed one at a time (a 1-thread
 * pool makes one call for all): for items of a few hundred microseconds,
 * so that threads that start late (a halted CPU waking up) or stall take
 * over what is left. */
void nn_pool_for_each(nn_pool *p, int64_t n, nn_pool_fn fn, void *arg);
/* Per-thread timing, for profiles: while on, each thread adds the wall
 * time it spends running ranges (and the caller that of a loop it runs
 * alone) to its busy counter; off (the default) costs one branch per
 * range. Only between loops. */
void nn_pool_set_timing(nn_pool *p, int on);
/* Milliseconds thread t (0: the caller) has run ranges while timing was
 * on; read between loops. 0 for t out of range. */
double nn_pool_busy_ms(const nn_pool *p, int t);
/* Inside fn of a loop of p: the running thread's index in [0, threads),
 * different for every thread taking part (the caller is 0), so that fn
 * can use per-thread scratch while its ranges go to any thread. */
int nn_pool_thread_index(const nn_pool *p);

#endif
