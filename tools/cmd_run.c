/* cmd_run.c — raw tensor subcommands:
 *   `scanlite run -m MODEL --input IN.f32 --output OUT.f32 [--shape NxCxHxW]`
 *      little-endian float32 NCHW in, raw outputs [N, outputs] out;
 *   `scanlite preprocess -m MODEL IMAGE -o OUT.f32`
 *      the exact [1, C, H, W] tensor `predict` feeds the network. */
#include <stdlib.h>
#include <string.h>

#include "nn/scanlite.h"
#include "tools/cli.h"

static const char *run_usage =
    "usage: scanlite run -m MODEL.slm --input IN.f32 --output OUT.f32 [--shape NxCxHxW]\n"
    "                    [--threads N] [--reference]\n"
    "  IN.f32 is raw little-endian float32 in NCHW order; without --shape the batch N\n"
    "  is the file size over the model's C*H*W. OUT.f32 receives [N, outputs] raw\n"
    "  values (logits, before the output activation).\n"
    "  --reference   use the naive reference kernels (for checking the fast ones)\n";

static const char *pre_usage =
    "usage: scanlite preprocess -m MODEL.slm IMAGE -o OUT.f32\n"
    "  writes the [1, C, H, W] float32 tensor that predict would feed the network\n";

int cmd_run(int argc, char **argv)
{
    const char *model_path = NULL, *in_path = NULL, *out_path = NULL, *shape = NULL, *v;
    long threads = 1;
    int reference = 0, rc = 1, c, h, w, batch;
    sl_model *m = NULL;
    sl_session *s = NULL;
    sl_error err;
    float *in = NULL, *out = NULL;
    size_t len = 0;
    char ebuf[512];

    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(run_usage, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--reference")) {
            reference = 1;
            continue;
        }
        if ((r = cli_opt("run", argc, argv, &i, "-m", &v)) || (r = cli_opt("run", argc, argv, &i, "--model", &v))) {
            if (r < 0)
                return 2;
            model_path = v;
        } else if ((r = cli_opt("run", argc, argv, &i, "--input", &v))) {
            if (r < 0)
                return 2;
            in_path = v;
        } else if ((r = cli_opt("run", argc, argv, &i, "--output", &v))) {
            if (r < 0)
                return 2;
            out_path = v;
        } else if ((r = cli_opt("run", argc, argv, &i, "--shape", &v))) {
            if (r < 0)
                return 2;
            shape = v;
        } else if ((r = cli_opt("run", argc, argv, &i, "--threads", &v))) {
            if (r < 0 || cli_parse_int(v, 1, 256, &threads))
                return cli_fail("run", "--threads wants 1..256") + 1;
        } else {
            return cli_fail("run", "unexpected argument '%s' (see --help)", argv[i]) + 1;
        }
    }
    if (!model_path || !in_path || !out_path) {
        fputs(run_usage, stderr);
        return 2;
    }
    if (sl_model_load(model_path, &m, &err) != SL_OK)
        return cli_fail("run", "%s", err.message);
    sl_model_input_shape(m, &c, &h, &w);
    in = cli_read_file(in_path, &len, ebuf, sizeof ebuf);
    if (!in) {
        cli_fail("run", "%s", ebuf);
        goto done;
    }
    {
        size_t per = (size_t)c * (size_t)h * (size_t)w * sizeof(float);
        if (shape) {
            int64_t d[4];
            if (cli_parse_dims(shape, d, 4) != 4 || d[1] != c || d[2] != h || d[3] != w) {
                cli_fail("run", "--shape %s does not match the model input Nx%dx%dx%d", shape, c, h, w);
                goto done;
            }
            if (d[0] > 4096 || (size_t)d[0] * per != len) {
                cli_fail("run", "%s has %zu bytes, --shape %s needs %zu", in_path, len, shape, (size_t)d[0] * per);
                goto done;
            }
            batch = (int)d[0];
        } else {
            if (len == 0 || len % per != 0 || len / per > 4096) {
                cli_fail("run", "%s has %zu bytes, not a whole number (1..4096) of %dx%dx%d float32 images", in_path,
                         len, c, h, w);
                goto done;
            }
            batch = (int)(len / per);
        }
    }
    out = malloc((size_t)batch * (size_t)sl_model_output_size(m) * sizeof(float));
    if (!out) {
        cli_fail("run", "out of memory");
        goto done;
    }
    if (sl_session_create(m, (int)threads, &s, &err) != SL_OK) {
        cli_fail("run", "%s", err.message);
        goto done;
    }
    sl_session_set_reference(s, reference);
    if (sl_run(s, in, batch, out, &err) != SL_OK) {
        cli_fail("run", "%s", err.message);
        goto done;
    }
    if (cli_write_file(out_path, out, (size_t)batch * (size_t)sl_model_output_size(m) * sizeof(float))) {
        cli_fail("run", "cannot write %s", out_path);
        goto done;
    }
    rc = 0;
done:
    free(in);
    free(out);
    sl_session_free(s);
    sl_model_free(m);
    return rc;
}

int cmd_preprocess(int argc, char **argv)
{
    const char *model_path = NULL, *image = NULL, *out_path = NULL, *v;
    int rc = 1, c, h, w;
    sl_model *m = NULL;
    sl_error err;
    void *bytes = NULL;
    float *t = NULL;
    size_t len = 0;
    char ebuf[512];

    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(pre_usage, stdout);
            return 0;
        }
        if ((r = cli_opt("preprocess", argc, argv, &i, "-m", &v)) ||
            (r = cli_opt("preprocess", argc, argv, &i, "--model", &v))) {
            if (r < 0)
                return 2;
            model_path = v;
        } else if ((r = cli_opt("preprocess", argc, argv, &i, "-o", &v))) {
            if (r < 0)
                return 2;
            out_path = v;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_fail("preprocess", "unknown option '%s' (see --help)", argv[i]) + 1;
        } else if (!image) {
            image = argv[i];
        } else {
            return cli_fail("preprocess", "one IMAGE at a time") + 1;
        }
    }
    if (!model_path || !image || !out_path) {
        fputs(pre_usage, stderr);
        return 2;
    }
    if (sl_model_load(model_path, &m, &err) != SL_OK)
        return cli_fail("preprocess", "%s", err.message);
    sl_model_input_shape(m, &c, &h, &w);
    bytes = cli_read_file(image, &len, ebuf, sizeof ebuf);
    if (!bytes) {
        cli_fail("preprocess", "%s", ebuf);
        goto done;
    }
    t = malloc((size_t)c * (size_t)h * (size_t)w * sizeof(float));
    if (!t) {
        cli_fail("preprocess", "out of memory");
        goto done;
    }
    if (sl_preprocess(m, bytes, len, t, &err) != SL_OK) {
        cli_fail("preprocess", "%s: %s", image, err.message);
        goto done;
    }
    if (cli_write_file(out_path, t, (size_t)c * (size_t)h * (size_t)w * sizeof(float))) {
        cli_fail("preprocess", "cannot write %s", out_path);
        goto done;
    }
    rc = 0;
done:
    free(bytes);
    free(t);
    sl_model_free(m);
    return rc;
}
