/* tassert.h — the tiny assertion header of the C test binaries.
 *
 * Each test binary defines test functions, calls them with T_RUN(name) from
 * main, and ends with `return t_summary("name");`, which prints
 * "name: N passed, N failed" and returns non-zero when anything failed.
 * A check that fails prints file:line and the expression, and the test
 * function goes on (so one run shows every failure). */
#ifndef TASSERT_H
#define TASSERT_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int t_pass, t_fail, t_cur_failed;

#define T_CHECK(cond)                                                          \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "  FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);  \
            t_cur_failed = 1;                                                  \
        }                                                                      \
    } while (0)

#define T_CHECKF(cond, ...)                                                    \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "  FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);  \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
            t_cur_failed = 1;                                                  \
        }                                                                      \
    } while (0)

#define T_RUN(fn)                                                              \
    do {                                                                       \
        t_cur_failed = 0;                                                      \
        fn();                                                                  \
        if (t_cur_failed) {                                                    \
            t_fail++;                                                          \
            fprintf(stderr, "not ok %s\n", #fn);                               \
        } else {                                                               \
            t_pass++;                                                          \
        }                                                                      \
    } while (0)

static inline int t_summary(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, t_pass, t_fail);
    return t_fail ? 1 : 0;
}

/* max |a-b| / max(1e-30, max|b|): the relative error used by op tests. */
static inline double t_max_rel_err(const float *a, const float *b, long n)
{
    double md = 0, mb = 0;
    for (long i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d != d)
            return INFINITY;
        if (d > md)
            md = d;
        if (fabs((double)b[i]) > mb)
            mb = fabs((double)b[i]);
    }
    return md / (mb > 1e-30 ? mb : 1e-30);
}

#endif
