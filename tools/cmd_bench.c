/* cmd_bench.c — `scanlite bench -m MODEL [--batch N] [--threads N]
 * [--iters N] [--warmup N] [--json] [--profile]`: latency of sl_run on a
 * fixed pseudo-random input, reported as median / min / max and images per
 * second (median). With --json one object: median_ms, min_ms, max_ms,
 * images_per_s, threads, batch, iters. With --profile, then a table of
 * every node's median time over the same number of runs of a plan of its
 * own (same batch, threads and input), with the kernel each node runs and,
 * with several threads, how busy each thread was during the node. */
#include <stdlib.h>
#include <string.h>

#include "io/io_slm.h"
#include "nn/nn_ops.h"
#include "nn/nn_plan.h"
#include "nn/scanlite.h"
#include "tools/cli.h"

static const char *usage_text =
    "usage: scanlite bench -m MODEL.slm [--batch N] [--threads N] [--iters N] [--warmup N] [--json]\n"
    "                      [--profile]\n"
    "  defaults: batch 1, threads 1, 20 timed iterations after 3 warm-up runs\n"
    "  --profile  then time every node (median over the runs): ms, share, GFLOP/s, kernel;\n"
    "             with --threads > 1 also each thread's busy time as %% of the node's\n";

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of(double *v, long n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* --profile: per-node medians over `iters` runs of a plan built from the
 * file (after `warmup` runs), on `in` (batch images). */
static int bench_profile(const char *path, long batch, long threads, long iters, long warmup,
                         const float *in)
{
    nn_graph *g = NULL;
    nn_plan *plan = NULL;
    nn_plan_opts po = {.threads = (int)threads};
    nn_err e;
    double *ms = NULL, *col = NULL, *busy = NULL, *bmed = NULL, total = 0;
    int rc = 1, nn = 0, nt = 1;
    if (io_slm_read(path, &g, NULL, &e) != NN_OK || nn_graph_optimize(g, &e) != NN_OK ||
        nn_plan_create(g, (int)batch, &po, &plan, &e) != NN_OK) {
        cli_fail("bench", "%s: %s", path, e.msg);
        goto done;
    }
    nn = g->n_nodes;
    nt = nn_plan_threads(plan);
    ms = malloc((size_t)iters * (size_t)(nn ? nn : 1) * sizeof *ms);
    col = malloc((size_t)iters * sizeof *col);
    busy = malloc((size_t)iters * (size_t)(nn ? nn : 1) * (size_t)nt * sizeof *busy);
    bmed = calloc((size_t)(nn ? nn : 1) * (size_t)nt + (size_t)nt, sizeof *bmed);
    if (!ms || !col || !busy || !bmed) {
        cli_fail("bench", "out of memory");
        goto done;
    }
    memcpy(nn_plan_input(plan, 0)->data, in, nn_shape_numel(&nn_plan_input(plan, 0)->shape) * sizeof(float));
    for (long i = 0; i < warmup + iters; i++)
        if (nn_plan_run_timed(plan, ms + (i < warmup ? 0 : i - warmup) * nn,
                              busy + (i < warmup ? 0 : i - warmup) * nn * nt, &e) != NN_OK) {
            cli_fail("bench", "%s", e.msg);
            goto done;
        }
    printf("  %4s  %-20s %-44s %-16s %7s %6s %8s  %s%s\n", "node", "op", "name", "output", "ms",
           "share", "GFLOP/s", nt > 1 ? "busy % per thread  " : "", "kernel");
    for (int k = 0; k < nn; k++) {
        for (int t = 0; t < nt; t++) {
            for (long i = 0; i < iters; i++)
                col[i] = busy[(i * nn + k) * nt + t];
            bmed[k * nt + t] = median_of(col, iters);
            bmed[nn * nt + t] += bmed[k * nt + t];      /* per-thread sums */
        }
        for (long i = 0; i < iters; i++)
            col[i] = ms[i * nn + k];
        ms[k] = median_of(col, iters);   /* row 0 no longer needed */
        total += ms[k];
    }
    for (int k = 0; k < nn; k++) {
        const nn_node *n = &g->nodes[k];
        char shp[64];
        int64_t macs = nn_plan_node_macs(plan, k);
        const char *kernel = nn_plan_node_kernel(plan, k);
        nn_shape_str(&nn_plan_value(plan, n->output)->shape, shp, sizeof shp);
        printf("  %4d  %-20s %-44.44s %-16s %7.3f %5.1f%%", k, nn_op_name((nn_op_type)n->op), n->name,
               shp, ms[k], total > 0 ? 100.0 * ms[k] / total : 0);
        if (macs > 0 && ms[k] > 0)
            printf(" %8.1f", 2.0 * (double)macs / (ms[k] * 1e6));
        else
            printf(" %8s", "");
        if (nt > 1) {
            printf("  ");
            for (int t = 0; t < nt; t++)
                printf("%4.0f", ms[k] > 0 ? 100.0 * bmed[k * nt + t] / ms[k] : 0.0);
            printf("%*s", 4 * (nt < 4 ? 4 - nt : 0) + 1, "");
        }
        if (kernel)
            printf("  %s", kernel);
        putchar('\n');
    }
    printf("  sum of node medians %.3f ms\n", total);
    if (nt > 1) {
        printf("  threads busy (sum of their node medians over the sum of node medians):");
        for (int t = 0; t < nt; t++)
            printf(" %.0f%%", total > 0 ? 100.0 * bmed[nn * nt + t] / total : 0.0);
        putchar('\n');
    }
    rc = 0;
done:
    free(ms);
    free(col);
    free(busy);
    free(bmed);
    nn_plan_free(plan);
    nn_graph_free(g);
    return rc;
}

int cmd_bench(int argc, char **argv)
{
    const char *model_path = NULL, *v;
    long batch = 1, threads = 1, iters = 20, warmup = 3;
    int json = 0, profile = 0, rc = 1, c, h, w;
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
        if (!strcmp(argv[i], "--profile")) {
            profile = 1;
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
    if (json && profile)
        return cli_fail("bench", "--profile prints a table: not with --json") + 1;
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
    {
        double med = median_of(ms, iters);
        double ips = med > 0 ? (double)batch * 1000.0 / med : 0;
        if (json)
            printf("{\"model\":\"%s\",\"median_ms\":%.4f,\"min_ms\":%.4f,\"max_ms\":%.4f,\"images_per_s\":%.3f,"
                   "\"threads\":%ld,\"batch\":%ld,\"iters\":%ld}\n",
                   sl_model_name(m), med, ms[0], ms[iters - 1], ips, threads, batch, iters);
        else
            printf("%s: batch %ld, %ld threads, %ld runs: median %.3f ms (min %.3f, max %.3f), %.1f images/s\n",
                   sl_model_name(m), batch, threads, iters, med, ms[0], ms[iters - 1], ips);
    }
    rc = profile && !json ? bench_profile(model_path, batch, threads, iters, warmup, in) : 0;
done:
    free(in);
    free(out);
    free(ms);
    sl_session_free(s);
    sl_model_free(m);
    return rc;
}
