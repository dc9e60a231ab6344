/* cmd_explain.c — `scanlite explain -m MODEL --input IN.f32 --raw OUT.f32
 * [--class LABEL]`: the raw Grad-CAM map of one preprocessed input tensor
 * (float32 [1, C, H, W]) at feature-map resolution, written as h*w float32
 * (row-major), and "h w class" on stdout. Also home of cli_label_index,
 * the --class parser shared with `predict --heatmap`. */
#include <stdlib.h>
#include <string.h>

#include "nn/scanlite.h"
#include "tools/cli.h"

static const char *usage_text =
    "usage: scanlite explain -m MODEL.slm --input IN.f32 --raw OUT.f32 [--class LABEL] [--threads N]\n"
    "  --input IN.f32   one preprocessed input, float32 [1, C, H, W] (see `scanlite preprocess`)\n"
    "  --raw OUT.f32    the raw Grad-CAM map, float32 [h, w], before upsampling/normalisation\n"
    "  --class LABEL    label name or index to explain (default: the predicted one)\n"
    "  --threads N      threads for the network (default 1)\n"
    "prints \"h w class\" (class = the label index explained)\n";

int cli_label_index(const sl_model *m, const char *s)
{
    long v;
    for (int i = 0; i < sl_model_num_labels(m); i++)
        if (!strcmp(sl_model_label(m, i), s))
            return i;
    if (cli_parse_int(s, 0, sl_model_num_labels(m) - 1, &v) == 0)
        return (int)v;
    return -1;
}

int cmd_explain(int argc, char **argv)
{
    const char *model_path = NULL, *in_path = NULL, *raw_path = NULL, *cls = NULL, *v;
    long threads = 1;
    int rc = 1, h = 0, w = 0, label = -1, ci = -1, c, ih, iw;
    size_t len = 0, need;
    float *input = NULL, *cam = NULL;
    sl_model *m = NULL;
    sl_session *s = NULL;
    sl_error err;
    char ebuf[sizeof err.message];

    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            return 0;
        }
        if ((r = cli_opt("explain", argc, argv, &i, "-m", &v)) ||
            (r = cli_opt("explain", argc, argv, &i, "--model", &v))) {
            if (r < 0)
                return 2;
            model_path = v;
        } else if ((r = cli_opt("explain", argc, argv, &i, "--input", &v))) {
            if (r < 0)
                return 2;
            in_path = v;
        } else if ((r = cli_opt("explain", argc, argv, &i, "--raw", &v))) {
            if (r < 0)
                return 2;
            raw_path = v;
        } else if ((r = cli_opt("explain", argc, argv, &i, "--class", &v))) {
            if (r < 0)
                return 2;
            cls = v;
        } else if ((r = cli_opt("explain", argc, argv, &i, "--threads", &v))) {
            if (r < 0 || cli_parse_int(v, 1, 256, &threads)) {
                cli_fail("explain", "--threads wants 1..256");
                return 2;
            }
        } else {
            cli_fail("explain", "unknown argument '%s' (see --help)", argv[i]);
            return 2;
        }
    }
    if (!model_path || !in_path || !raw_path) {
        fputs(usage_text, stderr);
        return 2;
    }
    if (sl_model_load(model_path, &m, &err) != SL_OK ||
        sl_session_create(m, (int)threads, &s, &err) != SL_OK) {
        cli_fail("explain", "%s", err.message);
        goto done;
    }
    if (cls && (ci = cli_label_index(m, cls)) < 0) {
        cli_fail("explain", "--class '%s' is neither a label nor an index 0..%d", cls,
                 sl_model_num_labels(m) - 1);
        goto done;
    }
    sl_model_input_shape(m, &c, &ih, &iw);
    need = (size_t)c * (size_t)ih * (size_t)iw * sizeof(float);
    input = cli_read_file(in_path, &len, ebuf, sizeof ebuf);
    if (!input) {
        cli_fail("explain", "%s", ebuf);
        goto done;
    }
    if (len != need) {
        cli_fail("explain", "%s has %zu bytes, the model takes 1x%dx%dx%d float32 (%zu bytes)",
                 in_path, len, c, ih, iw, need);
        goto done;
    }
    if (sl_model_cam_shape(m, &h, &w, &err) != SL_OK) {
        cli_fail("explain", "%s", err.message);
        goto done;
    }
    cam = malloc((size_t)h * (size_t)w * sizeof *cam);
    if (!cam) {
        cli_fail("explain", "out of memory");
        goto done;
    }
    if (sl_explain(s, input, ci, cam, (size_t)h * (size_t)w, &h, &w, &label, &err) != SL_OK) {
        cli_fail("explain", "%s", err.message);
        goto done;
    }
    if (cli_write_file(raw_path, cam, (size_t)h * (size_t)w * sizeof *cam) != 0) {
        cli_fail("explain", "cannot write %s", raw_path);
        goto done;
    }
    printf("%d %d %d\n", h, w, label);
    rc = 0;
done:
    free(cam);
    free(input);
    sl_session_free(s);
    sl_model_free(m);
    return rc;
}
