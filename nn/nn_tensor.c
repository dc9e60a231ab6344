/* nn_tensor.c — shapes and aligned memory (see nn_tensor.h). */
#include "nn_tensor.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int64_t nn_shape_numel(const nn_shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) {
        if (s->d[i] < 0)
            return -1;
        if (s->d[i] != 0 && n > INT64_MAX / s->d[i])
            return -1;
        n *= s->d[i];
    }
    return n;
}

int nn_shape_equal(const nn_shape *a, const nn_shape *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->d[i] != b->d[i])
            return 0;
    return 1;
}

void nn_shape_str(const nn_shape *s, char *buf, size_t len)
{
    size_t used = 0;
    if (len == 0)
        return;
    buf[0] = '\0';
    if (s->ndim == 0) {
        snprintf(buf, len, "scalar");
        return;
    }
    for (int i = 0; i < s->ndim && used < len; i++) {
        int w = snprintf(buf + used, len - used, i ? "x%lld" : "%lld", (long long)s->d[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

nn_shape nn_shape_make(int ndim, const int64_t *d)
{
    nn_shape s;
    memset(&s, 0, sizeof s);
    if (ndim < 0 || ndim > NN_MAX_DIMS)
        ndim = 0;
    s.ndim = ndim;
    for (int i = 0; i < ndim; i++)
        s.d[i] = d[i];
    return s;
}

nn_shape nn_shape4(int64_t n, int64_t c, int64_t h, int64_t w)
{
    int64_t d[4] = {n, c, h, w};
    return nn_shape_make(4, d);
}

void *nn_aligned_alloc(size_t bytes)
{
    size_t rounded;
    void *p;
    if (bytes == 0 || nn_size_add(bytes, NN_ALIGN - 1, &rounded) != 0)
        return NULL;
    rounded -= rounded % NN_ALIGN;
    p = aligned_alloc(NN_ALIGN, rounded);
    if (p)
        memset(p, 0, rounded);
    return p;
}

void nn_aligned_free(void *p)
{
    free(p);
}

void *nn_huge_alloc(size_t bytes, size_t *len)
{
    size_t want, lead;
    uint8_t *m;
    if (bytes == 0 || nn_size_add(bytes, 2 * NN_HUGE_PAGE, &want) != 0)
        return NULL;
    want -= want % NN_HUGE_PAGE;
    m = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    /* Trim to a huge-page aligned start, keep whole huge pages. */
    lead = (NN_HUGE_PAGE - (uintptr_t)m % NN_HUGE_PAGE) % NN_HUGE_PAGE;
    if (lead)
        munmap(m, lead);
    *len = (bytes + NN_HUGE_PAGE - 1) / NN_HUGE_PAGE * NN_HUGE_PAGE;
    if (want - lead > *len)
        munmap(m + lead + *len, want - lead - *len);
#ifdef MADV_HUGEPAGE
    (void)madvise(m + lead, *len, MADV_HUGEPAGE);     /* advisory */
#endif
    return m + lead;
}

void nn_huge_free(void *p, size_t len)
{
    if (p)
        munmap(p, len);
}

int nn_size_mul(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return -1;
    *out = a * b;
    return 0;
}

int nn_size_add(size_t a, size_t b, size_t *out)
{
    if (b > SIZE_MAX - a)
        return -1;
    *out = a + b;
    return 0;
}
