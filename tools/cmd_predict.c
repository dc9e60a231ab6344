/* cmd_predict.c — `scanlite predict -m MODEL IMAGE...`: label, confidence
 * and top-k per image, as text or JSON (an array, one object per image in
 * order; a failed image gets {"file", "error"}), optionally with a Grad-CAM
 * heatmap PNG per image (--heatmap, --class). The network runs on every
 * CPU the process may use (at most 8) unless --threads says otherwise.
 * Exit 1 if any image failed. */
#include <stdlib.h>
#include <string.h>

#include "nn/nn_pool.h"
#include "nn/scanlite.h"
#include "tools/cli.h"

static const char *usage_text =
    "usage: scanlite predict -m MODEL.slm IMAGE... [--top-k K] [--json] [--threads N]\n"
    "                [--heatmap OUT.png [--class LABEL]]\n"
    "  --top-k K          how many classes to list (default 3)\n"
    "  --json             JSON array, one object per image\n"
    "  --threads N        threads for the network (default: every CPU this process may\n"
    "                     use, at most 8)\n"
    "  --heatmap OUT.png  write the Grad-CAM heatmap over the image (original size) to\n"
    "                     OUT.png; with several images OUT-1.png, OUT-2.png, ... in order\n"
    "  --class LABEL      label name or index the heatmap explains (default: predicted)\n";

/* Cap of the default thread count: one image of a ResNet-sized network
 * gains little past this, while every thread costs its start-up and a
 * wake-up per layer. --threads goes further when asked. */
#define PREDICT_DEFAULT_THREADS_MAX 8

/* The default --threads: the CPUs this process may run on (its affinity
 * mask, e.g. under taskset or a container's cpuset), else the online
 * ones; within 1..PREDICT_DEFAULT_THREADS_MAX. */
static long default_threads(void)
{
    int n = nn_pool_cpus();
    return n > PREDICT_DEFAULT_THREADS_MAX ? PREDICT_DEFAULT_THREADS_MAX : n;
}

/* The heatmap file of image i (0-based) of n: OUT itself for one image,
 * else OUT without ".png" + "-<i+1>.png". Returns 0, or -1 if too long. */
static int heatmap_path(const char *base, int i, int n, char *buf, size_t len)
{
    size_t bl = strlen(base);
    int w;
    if (n == 1)
        w = snprintf(buf, len, "%s", base);
    else {
        if (bl >= 4 && !strcmp(base + bl - 4, ".png"))
            bl -= 4;
        w = snprintf(buf, len, "%.*s-%d.png", (int)bl, base, i + 1);
    }
    return w > 0 && (size_t)w < len ? 0 : -1;
}

int cmd_predict(int argc, char **argv)
{
    const char *model_path = NULL, *heatmap = NULL, *cls = NULL, *v;
    const char **images = calloc((size_t)argc, sizeof *images);
    long top_k = 3, threads = 0;
    int n_images = 0, json = 0, failures = 0, rc = 1, class_index = -1;
    sl_model *m = NULL;
    sl_session *s = NULL;
    sl_error err;

    if (!images)
        return cli_fail("predict", "out of memory");
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            free(images);
            return 0;
        }
        if (!strcmp(argv[i], "--json")) {
            json = 1;
            continue;
        }
        if ((r = cli_opt("predict", argc, argv, &i, "-m", &v)) ||
            (r = cli_opt("predict", argc, argv, &i, "--model", &v))) {
            if (r < 0)
                goto usage;
            model_path = v;
            continue;
        }
        if ((r = cli_opt("predict", argc, argv, &i, "--heatmap", &v))) {
            if (r < 0)
                goto usage;
            heatmap = v;
            continue;
        }
        if ((r = cli_opt("predict", argc, argv, &i, "--class", &v))) {
            if (r < 0)
                goto usage;
            cls = v;
            continue;
        }
        if ((r = cli_opt("predict", argc, argv, &i, "--top-k", &v))) {
            if (r < 0 || cli_parse_int(v, 1, SL_TOPK_MAX, &top_k)) {
                cli_fail("predict", "--top-k wants 1..%d", SL_TOPK_MAX);
                goto usage;
            }
            continue;
        }
        if ((r = cli_opt("predict", argc, argv, &i, "--threads", &v))) {
            if (r < 0 || cli_parse_int(v, 1, 256, &threads)) {
                cli_fail("predict", "--threads wants 1..256");
                goto usage;
            }
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1]) {
            cli_fail("predict", "unknown option '%s' (see --help)", argv[i]);
            goto usage;
        }
        images[n_images++] = argv[i];
    }
    if (!model_path || n_images == 0) {
        fputs(usage_text, stderr);
        goto usage;
    }
    if (cls && !heatmap) {
        cli_fail("predict", "--class applies to --heatmap");
        goto usage;
    }
    if (threads == 0)
        threads = default_threads();
    if (sl_model_load(model_path, &m, &err) != SL_OK) {
        cli_fail("predict", "%s", err.message);
        goto done;
    }
    if (sl_session_create(m, (int)threads, &s, &err) != SL_OK) {
        cli_fail("predict", "%s", err.message);
        goto done;
    }
    if (cls && (class_index = cli_label_index(m, cls)) < 0) {
        cli_fail("predict", "--class '%s' is neither a label nor an index 0..%d", cls,
                 sl_model_num_labels(m) - 1);
        goto done;
    }
    if (json)
        putchar('[');
    for (int i = 0; i < n_images; i++) {
        char ebuf[sizeof err.message];
        size_t len = 0;
        void *bytes = cli_read_file(images[i], &len, ebuf, sizeof ebuf);
        char hpath[4096];
        sl_prediction p;
        sl_heatmap hm = {0};
        sl_status st = SL_ERR_IO;
        int hm_label = -1;
        if (!bytes) {
            snprintf(err.message, sizeof err.message, "%s", ebuf);
        } else if (!heatmap) {
            st = sl_predict_image(s, bytes, len, (int)top_k, &p, &err);
        } else if (heatmap_path(heatmap, i, n_images, hpath, sizeof hpath) != 0) {
            snprintf(err.message, sizeof err.message, "--heatmap path too long");
        } else if ((st = sl_explain_image(s, bytes, len, class_index, &hm, &err)) == SL_OK) {
            p = hm.prediction;
            p.k = p.k < (int)top_k ? p.k : (int)top_k;
            hm_label = hm.label;
            if (cli_write_file(hpath, hm.png, hm.png_len) != 0) {
                st = SL_ERR_IO;
                snprintf(err.message, sizeof err.message, "cannot write %.200s", hpath);
            }
        }
        free(bytes);
        sl_heatmap_free(&hm);
        if (json) {
            printf("%s\n {\"file\":", i ? "," : "");
            cli_json_str(stdout, images[i]);
        }
        if (st != SL_OK) {
            failures++;
            if (json) {
                printf(",\"error\":");
                cli_json_str(stdout, err.message);
                putchar('}');
            } else {
                fprintf(stderr, "scanlite predict: %s: %s\n", images[i], err.message);
            }
            continue;
        }
        if (json) {
            printf(",\"model\":");
            cli_json_str(stdout, sl_model_name(m));
            printf(",\"model_sha256\":\"%s\",\"label\":", sl_model_sha256(m));
            cli_json_str(stdout, sl_model_label(m, p.label));
            printf(",\"confidence\":%.6g,\"top_k\":[", p.confidence);
            for (int k = 0; k < p.k; k++) {
                printf("%s{\"label\":", k ? "," : "");
                cli_json_str(stdout, sl_model_label(m, p.top[k].index));
                printf(",\"p\":%.6g}", p.top[k].p);
            }
            printf("],\"image_size\":[%d,%d],\"timings_ms\":{\"decode\":%.3f,\"infer\":%.3f}", p.image_w,
                   p.image_h, p.ms_decode, p.ms_infer);
            if (heatmap) {
                printf(",\"heatmap\":");
                cli_json_str(stdout, hpath);
                printf(",\"explained\":");
                cli_json_str(stdout, sl_model_label(m, hm_label));
            }
            putchar('}');
        } else {
            printf("%s: %s (%.4f)\n", images[i], sl_model_label(m, p.label), p.confidence);
            for (int k = 0; k < p.k; k++)
                printf("  %d. %-30s %.4f\n", k + 1, sl_model_label(m, p.top[k].index), p.top[k].p);
            if (heatmap)
                printf("  heatmap of %s: %s\n", sl_model_label(m, hm_label), hpath);
        }
        fflush(stdout);     /* each result as soon as it is known, not after the teardown */
    }
    if (json)
        printf("\n]\n");
    fflush(stdout);
    rc = failures ? 1 : 0;
    goto done;
usage:
    rc = 2;
done:
    sl_session_free(s);
    sl_model_free(m);
    free(images);
    return rc;
}
