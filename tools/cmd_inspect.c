/* cmd_inspect.c — `scanlite inspect MODEL [--nodes] [--json]`: metadata,
 * graph summary (ops by type, per-node output shapes with --nodes),
 * parameter count, MACs per image and the activation arena size. */
#include <stdlib.h>
#include <string.h>

#include "io/io_slm.h"
#include "nn/nn_ops.h"
#include "nn/nn_plan.h"
#include "nn/scanlite.h"
#include "tools/cli.h"

static const char *usage_text =
    "usage: scanlite inspect MODEL.slm [--nodes] [--json]\n"
    "  --nodes   list every node with its output shape and MACs\n"
    "  --json    one JSON object instead of text\n";

int cmd_inspect(int argc, char **argv)
{
    const char *path = NULL;
    int nodes = 0, json = 0, rc = 1;
    nn_graph *g = NULL;
    nn_plan *plan = NULL;
    nn_plan_opts po;
    nn_err e;
    char sha[65];
    int counts[NN_OP_COUNT];

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--nodes")) {
            nodes = 1;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (argv[i][0] == '-') {
            return cli_fail("inspect", "unknown option '%s' (see --help)", argv[i]) + 1;
        } else if (!path) {
            path = argv[i];
        } else {
            return cli_fail("inspect", "one MODEL at a time") + 1;
        }
    }
    if (!path) {
        fputs(usage_text, stderr);
        return 2;
    }
    if (io_slm_read(path, &g, sha, &e) != NN_OK)
        return cli_fail("inspect", "%s", e.msg);
    if (nn_graph_optimize(g, &e) != NN_OK) {
        cli_fail("inspect", "%s: %s", path, e.msg);
        goto done;
    }
    memset(&po, 0, sizeof po);
    po.threads = 1;
    if (nn_plan_create(g, 1, &po, &plan, &e) != NN_OK) {
        cli_fail("inspect", "%s: %s", path, e.msg);
        goto done;
    }
    memset(counts, 0, sizeof counts);
    for (int i = 0; i < g->n_nodes; i++)
        counts[g->nodes[i].op]++;
    if (json) {
        printf("{\"file\":");
        cli_json_str(stdout, path);
        printf(",\"sha256\":\"%s\",\"nodes\":%d,\"params\":%lld,\"macs\":%lld,\"arena_bytes\":%zu,\"metadata\":{",
               sha, g->n_nodes, (long long)nn_graph_param_count(g), (long long)nn_plan_macs(plan),
               nn_plan_arena_bytes(plan));
        for (int i = 0; i < g->n_meta; i++) {
            if (i)
                putchar(',');
            cli_json_str(stdout, g->meta[i].key);
            putchar(':');
            cli_json_str(stdout, g->meta[i].value);
        }
        printf("},\"ops\":{");
        for (int op = 0, first = 1; op < NN_OP_COUNT; op++) {
            if (!counts[op])
                continue;
            printf("%s\"%s\":%d", first ? "" : ",", nn_op_name((nn_op_type)op), counts[op]);
            first = 0;
        }
        printf("}}\n");
        rc = 0;
        goto done;
    }
    printf("file        %s\nsha256      %s\n", path, sha);
    for (int i = 0; i < g->n_meta; i++) {
        const char *v = g->meta[i].value;
        if (!strcmp(g->meta[i].key, "labels")) {
            int n = 1;
            for (const char *p = v; *p; p++)
                n += *p == '\n';
            const char *nl = strchr(v, '\n');
            printf("%-11s %d (%.*s%s)\n", "labels", n, nl ? (int)(nl - v) : (int)strlen(v), v, nl ? ", ..." : "");
        } else {
            printf("%-11s %s\n", g->meta[i].key, v);
        }
    }
    printf("nodes       %d (after batchnorm folding and fusion)\n", g->n_nodes);
    printf("ops        ");
    for (int op = 0; op < NN_OP_COUNT; op++)
        if (counts[op])
            printf(" %s x%d", nn_op_name((nn_op_type)op), counts[op]);
    printf("\nparameters  %lld\nMACs        %lld per image (%.3f GMAC)\narena       %.2f MiB at batch 1\n",
           (long long)nn_graph_param_count(g), (long long)nn_plan_macs(plan), (double)nn_plan_macs(plan) / 1e9,
           (double)nn_plan_arena_bytes(plan) / (1024.0 * 1024.0));
    if (nodes) {
        for (int i = 0; i < g->n_nodes; i++) {
            const nn_node *n = &g->nodes[i];
            char shp[96];
            nn_shape_str(&nn_plan_value(plan, n->output)->shape, shp, sizeof shp);
            printf("  %4d  %-20s %-28s -> %s\n", i, nn_op_name((nn_op_type)n->op), n->name, shp);
        }
    }
    rc = 0;
done:
    nn_plan_free(plan);
    nn_graph_free(g);
    return rc;
}
