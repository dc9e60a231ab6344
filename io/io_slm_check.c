/* io_slm_check.c — the deferred data checksum of io_slm_read_deferred (see
 * io_slm.h): one thread computes the CRC-32 of the mapped data section
 * (itself split over helpers by io_crc32_parallel) while the caller goes
 * on; io_slm_check_wait joins it once, under a mutex, and every later call
 * reads the stored answer. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_crc32.h"
#include "io_slm_parse.h"

struct io_slm_check {
    pthread_mutex_t mu;
    pthread_t tid;
    int running;                /* tid started and not yet joined (under mu) */
    const void *data;           /* the mapped data section: not owned */
    size_t len;
    uint32_t stored, computed;  /* computed: valid once running is 0 */
    char src[128];
};

static void *check_thread(void *arg)
{
    io_slm_check *c = arg;
    c->computed = io_crc32_parallel(0, c->data, c->len);
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
    c->data = data;
    c->len = len;
    c->stored = stored;
    snprintf(c->src, sizeof c->src, "%s", src);
    c->running = pthread_create(&c->tid, NULL, check_thread, c) == 0;
    if (!c->running)
        check_thread(c);
    *out = c;
    return NN_OK;
}

nn_status io_slm_check_wait(io_slm_check *c, nn_err *e)
{
    uint32_t crc;
    if (!c)
        return NN_OK;
    pthread_mutex_lock(&c->mu);
    if (c->running) {
        pthread_join(c->tid, NULL);
        c->running = 0;
    }
    crc = c->computed;
    pthread_mutex_unlock(&c->mu);
    return crc == c->stored ? NN_OK : io_slm_data_crc_fail(e, c->src, c->stored, crc);
}

void io_slm_check_free(io_slm_check *c)
{
    if (!c)
        return;
    io_slm_check_wait(c, NULL);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
