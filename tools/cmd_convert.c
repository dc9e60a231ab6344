/* cmd_convert.c — `scanlite convert`: ONNX or PyTorch state_dict -> .slm.
 *
 * Reads the source (format from its bytes: ZIP or legacy pickle = PyTorch,
 * else ONNX), builds the graph IR, checks it plans (shape inference) for
 * batch 1, attaches the metadata of io/io_meta.h from the flags and writes
 * the model file. Labels come from a file: one per line, or a JSON list. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_meta.h"
#include "io/io_onnx.h"
#include "io/io_pth.h"
#include "io/io_sha256.h"
#include "io/io_slm.h"
#include "nn/nn_ops.h"
#include "nn/nn_pack.h"
#include "nn/nn_plan.h"
#include "tools/cli.h"

#define CONVERTER_VERSION "scanlite-convert " SL_CONVERT_VERSION
#define SL_CONVERT_VERSION "0.1.0"
#define MAX_LABELS 100000

static const char *usage_text =
    "usage: scanlite convert SOURCE -o OUT.slm [options]\n"
    "  SOURCE               .onnx model, or PyTorch .pth/.pt state_dict (ResNet-18/34/50)\n"
    "  -o OUT.slm           output model file\n"
    "  --arch A             force the PyTorch architecture (resnet18|resnet34|resnet50)\n"
    "  --labels FILE        class labels: one per line, or a JSON list of strings\n"
    "  --input CxHxW        input size (default: from the model)\n"
    "  --gray               the model takes 1-channel (grayscale) input\n"
    "  --scale S            pixel multiplier, e.g. 1/255 (default 1/255)\n"
    "  --mean a,b,c         per-channel mean after scaling (default ImageNet for RGB, 0 for gray)\n"
    "  --std a,b,c          per-channel std (default ImageNet for RGB, 1 for gray)\n"
    "  --resize N           shorter side to N before the center crop (0: stretch to the input size)\n"
    "  --crop M             center crop size (default 224 with --resize 256 for 224 inputs)\n"
    "  --name NAME          display name (default: output file stem)\n"
    "  --output-activation softmax|sigmoid|none\n"
    "                       default: softmax for several outputs, sigmoid for one output,\n"
    "                       none when the graph already ends in Softmax/Sigmoid\n"
    "  --no-pack            do not store precomputed (Winograd-transformed) conv weights:\n"
    "                       a smaller file that transforms them at load instead\n";

typedef struct convert_opts {
    const char *src, *out, *arch, *labels, *input, *scale, *mean, *std, *resize, *crop, *name, *act;
    int gray, no_pack;
} convert_opts;

/* Labels as one '\n'-joined string; count in *n. From a JSON list of
 * strings or from lines (blank lines and trailing CR ignored). */
static char *labels_parse(const char *text, int *n, char *err, size_t errlen)
{
    size_t len = strlen(text), cap = len + 1, used = 0;
    char *outbuf = malloc(cap + 1);
    const char *p = text;
    *n = 0;
    if (!outbuf) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    while (*p && isspace((unsigned char)*p))
        p++;
    if (*p == '[') {
        p++;
        for (;;) {
            while (isspace((unsigned char)*p))
                p++;
            if (*p == ']' && *n == 0) {
                p++;
                break;
            }
            if (*p != '"')
                goto bad_json;
            p++;
            if (*n)
                outbuf[used++] = '\n';
            while (*p != '"') {
                char c = *p;
                if (c == '\0' || c == '\n')
                    goto bad_json;
                if (c == '\\') {
                    p++;
                    switch (*p) {
                    case '"': c = '"'; break;
                    case '\\': c = '\\'; break;
                    case '/': c = '/'; break;
                    case 't': c = '\t'; break;
                    case 'u': {
                        unsigned v = 0;
                        for (int k = 1; k <= 4; k++) {
                            if (!isxdigit((unsigned char)p[k]))
                                goto bad_json;
                            v = v * 16 + (unsigned)(isdigit((unsigned char)p[k]) ? p[k] - '0' : (tolower((unsigned char)p[k]) - 'a' + 10));
                        }
                        p += 4;
                        if (v < 0x20 || (v >= 0xd800 && v < 0xe000))
                            goto bad_json;
                        if (v < 0x80) {
                            c = (char)v;
                        } else if (v < 0x800) {
                            outbuf[used++] = (char)(0xc0 | (v >> 6));
                            c = (char)(0x80 | (v & 0x3f));
                        } else {
                            outbuf[used++] = (char)(0xe0 | (v >> 12));
                            outbuf[used++] = (char)(0x80 | ((v >> 6) & 0x3f));
                            c = (char)(0x80 | (v & 0x3f));
                        }
                        break;
                    }
                    default: goto bad_json;
                    }
                }
                outbuf[used++] = c;
                p++;
            }
            p++;
            (*n)++;
            while (isspace((unsigned char)*p))
                p++;
            if (*p == ',') {
                p++;
                continue;
            }
            if (*p == ']') {
                p++;
                break;
            }
            goto bad_json;
        }
        while (isspace((unsigned char)*p))
            p++;
        if (*p)
            goto bad_json;
    } else {
        const char *line = text;
        while (*line) {
            const char *e = strchr(line, '\n');
            size_t l = e ? (size_t)(e - line) : strlen(line);
            size_t k = l;
            while (k > 0 && isspace((unsigned char)line[k - 1]))
                k--;
            if (k > 0) {
                if (*n)
                    outbuf[used++] = '\n';
                memcpy(outbuf + used, line, k);
                used += k;
                (*n)++;
            }
            line += l + (e ? 1 : 0);
        }
    }
    outbuf[used] = '\0';
    if (*n == 0 || *n > MAX_LABELS) {
        snprintf(err, errlen, "%d labels (need 1..%d)", *n, MAX_LABELS);
        free(outbuf);
        return NULL;
    }
    return outbuf;
bad_json:
    snprintf(err, errlen, "malformed JSON list near byte %ld", (long)(p - text));
    free(outbuf);
    return NULL;
}

/* Checks "a,b,c" has exactly `channels` numbers (or 1, replicated). */
static int floats_check(const char *s, int channels, char *norm, size_t normlen)
{
    float v[3];
    int n = 0;
    const char *p = s;
    char tmp[64];
    while (*p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (n == 3 || l == 0 || l >= sizeof tmp)
            return -1;
        memcpy(tmp, p, l);
        tmp[l] = '\0';
        if (cli_parse_float(tmp, &v[n++]) != 0)
            return -1;
        p += l + (e ? 1 : 0);
        if (e && !*p)
            return -1;
    }
    if (n == 1)
        for (; n < channels; n++)
            v[n] = v[0];
    if (n != channels)
        return -1;
    if (channels == 1)
        snprintf(norm, normlen, "%.9g", v[0]);
    else
        snprintf(norm, normlen, "%.9g,%.9g,%.9g", v[0], v[1], v[2]);
    return 0;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int set_meta(nn_graph *g, const char *k, const char *v)
{
    return nn_graph_set_meta(g, k, v) == NN_OK ? 0 : -1;
}

static int convert(const convert_opts *o)
{
    const char *cmd = "convert";
    char err[512], buf[256], sha[65];
    size_t len = 0;
    unsigned char *src = NULL;
    char *labels_text = NULL, *labels = NULL;
    nn_graph *g = NULL;
    int n_packed = 0;
    nn_plan *plan = NULL;
    nn_err e;
    int rc = 1, n_labels = 0, channels, out_size;
    nn_value *in;

    src = cli_read_file(o->src, &len, err, sizeof err);
    if (!src)
        return cli_fail(cmd, "%s", err);
    io_sha256_hex(src, len, sha);
    if (io_pth_detect(src, len)) {
        if (io_pth_read(src, len, o->arch, &g, &e) != NN_OK) {
            cli_fail(cmd, "%s: %s", o->src, e.msg);
            goto done;
        }
    } else {
        if (o->arch) {
            cli_fail(cmd, "--arch applies to PyTorch state_dicts, and %s is not one", o->src);
            goto done;
        }
        if (io_onnx_read(src, len, &g, &e) != NN_OK) {
            cli_fail(cmd, "%s: %s", o->src, e.msg);
            goto done;
        }
    }
    if (g->n_inputs != 1 || g->n_outputs < 1) {
        cli_fail(cmd, "%s: the model has %d inputs and %d outputs; scanlite serves models with one image input",
                 o->src, g->n_inputs, g->n_outputs);
        goto done;
    }
    in = &g->values[g->inputs[0]];
    if (in->shape.ndim != 4) {
        cli_fail(cmd, "%s: input '%s' has %d dims, expected 4 (NCHW)", o->src, in->name, in->shape.ndim);
        goto done;
    }
    if (o->input) {
        int64_t d[3];
        if (cli_parse_dims(o->input, d, 3) != 3 || d[0] > 4) {
            cli_fail(cmd, "--input wants CxHxW, got '%s'", o->input);
            goto done;
        }
        in->shape.d[1] = d[0];
        in->shape.d[2] = d[1];
        in->shape.d[3] = d[2];
    }
    channels = (int)in->shape.d[1];
    if (o->gray && channels != 1) {
        cli_fail(cmd, "--gray given but the model input has %d channels", channels);
        goto done;
    }
    if (channels != 1 && channels != 3)
        fprintf(stderr, "scanlite convert: note: input has %d channels; images give 1 (gray) or 3 (RGB), "
                        "so this model can be used with `scanlite run` only\n", channels);
    {
        nn_plan_opts po;
        memset(&po, 0, sizeof po);
        po.threads = 1;
        if (nn_plan_create(g, 1, &po, &plan, &e) != NN_OK) {
            cli_fail(cmd, "%s: %s", o->src, e.msg);
            goto done;
        }
        out_size = (int)nn_shape_numel(&nn_plan_output(plan, 0)->shape);
        nn_plan_free(plan);     /* before the optimizer below rewrites the graph */
        plan = NULL;
    }

    if (o->labels) {
        labels_text = cli_read_file(o->labels, &len, err, sizeof err);
        if (!labels_text) {
            cli_fail(cmd, "--labels: %s", err);
            goto done;
        }
        labels = labels_parse(labels_text, &n_labels, err, sizeof err);
        if (!labels) {
            cli_fail(cmd, "--labels %s: %s", o->labels, err);
            goto done;
        }
        if (n_labels != out_size && !(out_size == 1 && n_labels == 2)) {
            cli_fail(cmd, "--labels has %d labels but the model has %d outputs", n_labels, out_size);
            goto done;
        }
    }

    /* output activation */
    {
        const char *act = o->act;
        const nn_node *last = NULL;
        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i].output == g->outputs[0])
                last = &g->nodes[i];
        if (!act) {
            if (last && (last->op == NN_OP_SOFTMAX || last->op == NN_OP_SIGMOID))
                act = "none";
            else
                act = out_size == 1 ? "sigmoid" : "softmax";
        }
        if (strcmp(act, "softmax") && strcmp(act, "sigmoid") && strcmp(act, "none")) {
            cli_fail(cmd, "--output-activation must be softmax, sigmoid or none, not '%s'", act);
            goto done;
        }
        if (!labels && out_size == 1 && (!strcmp(act, "sigmoid") || (last && last->op == NN_OP_SIGMOID)))
            labels = strdup("negative\npositive");
        if (set_meta(g, IO_META_OUTPUT_ACT, act))
            goto nomem;
    }
    if (labels && set_meta(g, IO_META_LABELS, labels))
        goto nomem;

    /* preprocessing recipe */
    {
        int h = (int)in->shape.d[2], w = (int)in->shape.d[3];
        long resize = (h == 224 && w == 224) ? 256 : 0, crop = (h == 224 && w == 224) ? 224 : 0;
        char mean[96], std[96];
        float scale = 1.0f / 255.0f;
        if (o->resize && cli_parse_int(o->resize, 0, 65536, &resize)) {
            cli_fail(cmd, "--resize wants a size, got '%s'", o->resize);
            goto done;
        }
        if (o->crop && cli_parse_int(o->crop, 0, 65536, &crop)) {
            cli_fail(cmd, "--crop wants a size, got '%s'", o->crop);
            goto done;
        }
        if (o->resize && !o->crop)
            crop = resize ? (h < w ? h : w) : 0;
        if (crop && (crop != h || crop != w)) {
            cli_fail(cmd, "crop %ld does not give the %dx%d input", crop, h, w);
            goto done;
        }
        if (o->scale && (cli_parse_float(o->scale, &scale) || !(scale > 0))) {
            cli_fail(cmd, "--scale wants a positive number like 1/255, got '%s'", o->scale);
            goto done;
        }
        int image_ch = channels == 1 || channels == 3 ? channels : 1;
        const char *dmean = channels == 3 && !o->scale ? "0.485,0.456,0.406" : "0";
        const char *dstd = channels == 3 && !o->scale ? "0.229,0.224,0.225" : "1";
        if (floats_check(o->mean ? o->mean : dmean, image_ch, mean, sizeof mean)) {
            cli_fail(cmd, "--mean wants %d comma-separated numbers", image_ch);
            goto done;
        }
        if (floats_check(o->std ? o->std : dstd, image_ch, std, sizeof std)) {
            cli_fail(cmd, "--std wants %d comma-separated numbers", image_ch);
            goto done;
        }
        snprintf(buf, sizeof buf, "%dx%dx%d", channels, h, w);
        if (set_meta(g, IO_META_INPUT_SHAPE, buf))
            goto nomem;
        if (image_ch == channels && set_meta(g, IO_META_COLOR, channels == 1 ? "gray" : "rgb"))
            goto nomem;
        snprintf(buf, sizeof buf, "%ld", resize);
        if (set_meta(g, IO_META_RESIZE, buf))
            goto nomem;
        snprintf(buf, sizeof buf, "%ld", crop);
        if (set_meta(g, IO_META_CROP, buf))
            goto nomem;
        snprintf(buf, sizeof buf, "%.9g", scale);
        if (set_meta(g, IO_META_SCALE, buf) || set_meta(g, IO_META_MEAN, mean) || set_meta(g, IO_META_STD, std))
            goto nomem;
    }
    {
        char stem[256];
        const char *b = base_name(o->out);
        snprintf(stem, sizeof stem, "%s", b);
        char *dot = strrchr(stem, '.');
        if (dot && dot != stem)
            *dot = '\0';
        if (set_meta(g, IO_META_NAME, o->name ? o->name : stem) || set_meta(g, IO_META_TASK, "classification") ||
            set_meta(g, IO_META_SOURCE_FILE, base_name(o->src)) || set_meta(g, IO_META_SOURCE_SHA256, sha) ||
            set_meta(g, IO_META_CONVERTER, CONVERTER_VERSION))
            goto nomem;
    }
    /* the file holds the graph a load would run: batchnorm folded into the
     * weights, activations and residual Adds fused (FORMAT.md 8), so that
     * loading copies and recomputes nothing */
    if (nn_graph_optimize(g, &e) != NN_OK || (!o->no_pack && nn_graph_pack(g, &n_packed, &e) != NN_OK)) {
        cli_fail(cmd, "%s", e.msg);
        goto done;
    }
    if (io_slm_write(g, o->out, &e) != NN_OK) {
        cli_fail(cmd, "%s: %s", o->out, e.msg);
        goto done;
    }
    printf("wrote %s: %d nodes, %lld parameters, input %s, %d outputs, activation %s, "
           "%d layers with precomputed weights\n", o->out, g->n_nodes,
           (long long)nn_graph_param_count(g), nn_graph_get_meta(g, IO_META_INPUT_SHAPE), out_size,
           nn_graph_get_meta(g, IO_META_OUTPUT_ACT), n_packed);
    printf("preprocess: %s, resize %s, crop %s, scale %s, mean %s, std %s\n", nn_graph_get_meta(g, IO_META_COLOR) ? nn_graph_get_meta(g, IO_META_COLOR) : "no image input",
           nn_graph_get_meta(g, IO_META_RESIZE), nn_graph_get_meta(g, IO_META_CROP),
           nn_graph_get_meta(g, IO_META_SCALE), nn_graph_get_meta(g, IO_META_MEAN),
           nn_graph_get_meta(g, IO_META_STD));
    rc = 0;
    goto done;
nomem:
    cli_fail(cmd, "out of memory");
done:
    nn_plan_free(plan);
    nn_graph_free(g);
    free(labels);
    free(labels_text);
    free(src);
    return rc;
}

int cmd_convert(int argc, char **argv)
{
    convert_opts o;
    memset(&o, 0, sizeof o);
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--gray")) {
            o.gray = 1;
            continue;
        }
        if (!strcmp(argv[i], "--no-pack")) {
            o.no_pack = 1;
            continue;
        }
#define OPT(flag, field)                                            \
    if ((r = cli_opt("convert", argc, argv, &i, flag, &v)) != 0) { \
        if (r < 0)                                                  \
            return 2;                                               \
        o.field = v;                                                \
        continue;                                                   \
    }
        OPT("-o", out)
        OPT("--arch", arch)
        OPT("--labels", labels)
        OPT("--input", input)
        OPT("--scale", scale)
        OPT("--mean", mean)
        OPT("--std", std)
        OPT("--resize", resize)
        OPT("--crop", crop)
        OPT("--name", name)
        OPT("--output-activation", act)
#undef OPT
        if (argv[i][0] == '-' && argv[i][1])
            return cli_fail("convert", "unknown option '%s' (see --help)", argv[i]) + 1;
        if (o.src)
            return cli_fail("convert", "more than one SOURCE given ('%s', '%s')", o.src, argv[i]) + 1;
        o.src = argv[i];
    }
    if (!o.src || !o.out) {
        fputs(usage_text, stderr);
        return 2;
    }
    return convert(&o);
}
