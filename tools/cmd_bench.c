/* cmd_bench.c — `scanlite bench -m MODEL [--batch N] [--threads N]
 * [--iters N] [--warmup N] [--json]`: latency of sl_run on a fixed
 * pseudo-random input, reported as median / min / max and images per
 * second (median). With --json one object: median_ms, min_ms, max_ms,
 * images_per_s, threads, batch, iters. */
#include <stdlib.h>
#include <string.h>

#include "nn/scanlite.h"
#include "tools/cli.h"

static const char *usage_text =
    "usage: scanlite bench -m MODEL.slm [--batch N] [--threads N] [--iters N] [--warmup N] [--json]\n"
    "  defaults: batch 1, threads 1, 20 timed iterations after 3 warm-up runs\n";

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int cmd_bench(int argc, char **argv)
{
    const char *model_path = NULL, *v;
    long batch = 1, threads = 1, iters = 20, warmup = 3;
    int json = 0, rc = 1, c, h, w;
    sl_model *m = NULL;
    sl_session *s = NULL;
    sl_error err;
    float *in = NULL, *out = NULL;
    double *ms = NULL;

    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--json")) {
            json = 1;
            continue;
        }
        if ((r = cli_opt("bench", argc, argv, &i, "-m", &v)) || (r = cli_opt("bench", argc, argv, &i, "--model", &v))) {
            if (r < 0)
                return 2;
            model_path = v;
        } else if ((r = cli_opt("bench", argc, argv, &i, "--batch", &v))) {
            if (r < 0 || cli_parse_int(v, 1, 1024, &batch))
                return cli_fail("bench", "--batch wants 1..1024") + 1;
        } else if ((r = cli_opt("bench", argc, argv, &i, "--threads", &v))) {
            if (r < 0 || cli_parse_int(v, 1, 256, &threads))
                return cli_fail("bench", "--threads wants 1..256") + 1;
        } else if ((r = cli_opt("bench", argc, argv, &i, "--iters", &v))) {
            if (r < 0 || cli_parse_int(v, 1, 100000, &iters))
                return cli_fail("bench", "--iters wants 1..100000") + 1;
        } else if ((r = cli_opt("bench", argc, argv, &i, "--warmup", &v))) {
            if (r < 0 || cli_parse_int(v, 0, 100000, &warmup))
                return cli_fail("bench", "--warmup wants 0..100000") + 1;
        } else {
            return cli_fail("bench", "unexpected argument '%s' (see --help)", argv[i]) + 1;
        }
    }
    if (!model_path) {
        fputs(usage_text, stderr);
        return 2;
    }
    if (sl_model_load(model_path, &m, &err) != SL_OK)
        return cli_fail("bench", "%s", err.message);
    sl_model_input_shape(m, &c, &h, &w);
    {
        size_t n = (size_t)batch * (size_t)c * (size_t)h * (size_t)w;
        unsigned seed = 1;
        in = malloc(n * sizeof(float));
        out = malloc((size_t)batch * (size_t)sl_model_output_size(m) * sizeof(float));
        ms = malloc((size_t)iters * sizeof(double));
        if (!in || !out || !ms) {
            cli_fail("bench", "out of memory");
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1664525u + 1013904223u;
            in[i] = (float)((seed >> 9) & 0xffff) / 32768.0f - 1.0f;
        }
    }
    if (sl_session_create(m, (int)threads, &s, &err) != SL_OK) {
        cli_fail("bench", "%s", err.message);
        goto done;
    }
    for (long i = 0; i < warmup + iters; i++) {
        double t0 = cli_now_ms();
        if (sl_run(s, in, (int)batch, out, &err) != SL_OK) {
            cli_fail("bench", "%s", err.message);
            goto done;
        }
        if (i >= warmup)
            ms[i - warmup] = cli_now_ms() - t0;
    }
    qsort(ms, (size_t)iters, sizeof *ms, cmp_double);
    {
        double med = iters % 2 ? ms[iters / 2] : 0.5 * (ms[iters / 2 - 1] + ms[iters / 2]);
        double ips = med > 0 ? (double)batch * 1000.0 / med : 0;
        if (json)
            printf("{\"model\":\"%s\",\"median_ms\":%.4f,\"min_ms\":%.4f,\"max_ms\":%.4f,\"images_per_s\":%.3f,"
                   "\"threads\":%ld,\"batch\":%ld,\"iters\":%ld}\n",
                   sl_model_name(m), med, ms[0], ms[iters - 1], ips, threads, batch, iters);
        else
            printf("%s: batch %ld, %ld threads, %ld runs: median %.3f ms (min %.3f, max %.3f), %.1f images/s\n",
                   sl_model_name(m), batch, threads, iters, med, ms[0], ms[iters - 1], ips);
    }
    rc = 0;
done:
    free(in);
    free(out);
    free(ms);
    sl_session_free(s);
    sl_model_free(m);
    return rc;
}
