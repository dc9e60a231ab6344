/* io_pth.c — PyTorch state_dict -> graph IR for the architectures we know
 * (torchvision ResNet18/34/50/101/152 and the CIFAR ResNet-6n+2 family of
 * akamaster/pytorch_resnet_cifar10 with option-A shortcuts).
 *
 * Each builder runs twice: a dry pass that only checks every key the
 * architecture needs against the checkpoint (missing keys, shapes, then
 * keys the architecture does not use), and a build pass that emits ONNX-
 * style nodes (BatchNormalization kept; the load-time optimizer folds it). */
#include "io/io_pth.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_meta.h"
#include "io/io_pth_state.h"
#include "nn/nn_ops.h"

#define PTH_BN_EPSILON 1e-5f       /* torch.nn.BatchNorm2d default */
#define PTH_LIST_NAMES 4           /* key names quoted in a missing/unexpected error */
#define PTH_IGNORED_SUFFIX ".num_batches_tracked"
#define PTH_MAX_BLOCKS 200         /* blocks per stage (resnet152: 36, CIFAR ResNet-1202: 200) */

typedef struct pth_arch {
    const char *name;
    int bottleneck;             /* 1: Bottleneck (expansion 4), 0: BasicBlock */
    int blocks[4];              /* blocks in layer1..layer4 */
} pth_arch;

static const pth_arch k_archs[] = {
    { "resnet18", 0, { 2, 2, 2, 2 } },
    { "resnet34", 0, { 3, 4, 6, 3 } },
    { "resnet50", 1, { 3, 4, 6, 3 } },
    { "resnet101", 1, { 3, 4, 23, 3 } },
    { "resnet152", 1, { 3, 8, 36, 3 } },
};

/* Build state shared by both passes. */
typedef struct pth_builder {
    nn_graph *g;                /* NULL during the dry pass */
    io_pth_state *st;
    unsigned char *used;        /* per checkpoint tensor: the arch uses it */
    int n_missing;
    char missing[NN_ERR_MSG_MAX];
    nn_status shape_status;     /* first shape mismatch (dry pass) */
    char shape_msg[NN_ERR_MSG_MAX];
    nn_status status;           /* first build error */
    nn_err *e;
} pth_builder;

/* Appends name to a ", "-separated list of at most PTH_LIST_NAMES names. */
static void list_add(char *buf, size_t cap, int *count, const char *name)
{
    size_t l = strlen(buf);
    if (*count < PTH_LIST_NAMES)
        snprintf(buf + l, cap - l, "%s%s", *count ? ", " : "", name);
    else if (*count == PTH_LIST_NAMES)
        snprintf(buf + l, cap - l, ", ...");
    (*count)++;
}

/* The weight `key` with the expected shape, as a graph constant (build
 * pass: ownership moves to the graph) or just checked (dry pass). */
static int weight(pth_builder *b, const char *key, int ndim, int64_t d0, int64_t d1, int64_t d2,
                  int64_t d3)
{
    int64_t d[4] = { d0, d1, d2, d3 };
    nn_shape want = nn_shape_make(ndim, d);
    io_pth_tensor *t = io_pth_state_find(b->st, key);
    if (b->status != NN_OK)
        return -1;
    if (!t) {
        list_add(b->missing, sizeof b->missing, &b->n_missing, key);
        return -1;
    }
    b->used[t - b->st->t] = 1;
    if (!nn_shape_equal(&t->shape, &want)) {
        char have[64], exp[64];
        nn_shape_str(&t->shape, have, sizeof have);
        nn_shape_str(&want, exp, sizeof exp);
        if (b->shape_status == NN_OK) {
            b->shape_status = NN_ERR_SHAPE;
            snprintf(b->shape_msg, sizeof b->shape_msg, "pth: %s has shape %s, expected %s", key,
                     have, exp);
        }
        return -1;
    }
    if (!b->g)
        return 0;
    int v = nn_graph_add_const(b->g, key, &t->shape, t->data, 1, b->e);
    if (v < 0)
        b->status = b->e ? b->e->status : NN_ERR_NOMEM;
    else
        t->data = NULL;
    return v;
}

/* Emits node op(inputs) -> new value `name`; returns the value or -1. */
static int emit(pth_builder *b, int op, const char *name, const int *in, int n_in, nn_node **node)
{
    *node = NULL;
    if (!b->g || b->status != NN_OK)
        return -1;
    for (int i = 0; i < n_in; i++)
        if (in[i] < 0)
            return -1;
    int v = nn_graph_add_value(b->g, name, b->e);
    if (v >= 0)
        *node = nn_graph_add_node(b->g, op, name, in, n_in, v, b->e);
    if (!*node) {
        b->status = b->e ? b->e->status : NN_ERR_NOMEM;
        return -1;
    }
    return v;
}

static void set_status(pth_builder *b, nn_status st)
{
    if (st != NN_OK && b->status == NN_OK)
        b->status = nn_err_set(b->e, st, "pth: out of memory setting attributes");
}

static void set_pair(pth_builder *b, nn_node *n, const char *attr, int64_t v)
{
    int64_t p[2] = { v, v };
    set_status(b, nn_node_set_ints(n, attr, p, 2));
}

/* Conv without bias, weight "<prefix>.weight" [O, C, k, k], pads p on
 * every side. */
static int conv(pth_builder *b, int x, const char *prefix, int64_t o, int64_t c, int k, int s, int p)
{
    char key[NN_NAME_MAX];
    nn_node *n;
    snprintf(key, sizeof key, "%s.weight", prefix);
    int in[2] = { x, weight(b, key, 4, o, c, k, k) };
    int v = emit(b, NN_OP_CONV, prefix, in, 2, &n);
    if (n) {
        int64_t pads[4] = { p, p, p, p };
        set_pair(b, n, "kernel_shape", k);
        set_pair(b, n, "strides", s);
        set_pair(b, n, "dilations", 1);
        set_status(b, nn_node_set_ints(n, "pads", pads, 4));
        set_status(b, nn_node_set_int(n, "group", 1));
    }
    return v;
}

/* BatchNormalization from "<prefix>.{weight,bias,running_mean,running_var}" [ch]. */
static int bnorm(pth_builder *b, int x, const char *prefix, int64_t ch)
{
    static const char *const parts[4] = { "weight", "bias", "running_mean", "running_var" };
    char key[NN_NAME_MAX];
    int in[5] = { x };
    nn_node *n;
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof key, "%s.%s", prefix, parts[i]);
        in[i + 1] = weight(b, key, 1, ch, 0, 0, 0);
    }
    int v = emit(b, NN_OP_BATCHNORM, prefix, in, 5, &n);
    if (n)
        set_status(b, nn_node_set_float(n, "epsilon", PTH_BN_EPSILON));
    return v;
}

static int unary(pth_builder *b, int op, int x, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int unary(pth_builder *b, int op, int x, const char *fmt, ...)
{
    char name[NN_NAME_MAX];
    nn_node *n;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return emit(b, op, name, &x, 1, &n);
}

static int add_relu(pth_builder *b, int x, int y, const char *prefix)
{
    char name[NN_NAME_MAX];
    nn_node *n;
    int in[2] = { x, y };
    snprintf(name, sizeof name, "%s.add", prefix);
    int v = emit(b, NN_OP_ADD, name, in, 2, &n);
    return unary(b, NN_OP_RELU, v, "%s.relu", prefix);
}

/* GlobalAveragePool -> Flatten(axis 1) -> Gemm(transB 1) into "logits",
 * weights "<fc>.weight" [classes, feat] and "<fc>.bias" [classes]. */
static int head(pth_builder *b, int x, const char *fc, int64_t classes, int64_t feat)
{
    char key[NN_NAME_MAX], bkey[NN_NAME_MAX];
    nn_node *n;
    int v = unary(b, NN_OP_GLOBALAVGPOOL, x, "avgpool");
    v = emit(b, NN_OP_FLATTEN, "flatten", &v, 1, &n);
    if (n)
        set_status(b, nn_node_set_int(n, "axis", 1));
    snprintf(key, sizeof key, "%s.weight", fc);
    snprintf(bkey, sizeof bkey, "%s.bias", fc);
    int in[3] = { v, weight(b, key, 2, classes, feat, 0, 0), weight(b, bkey, 1, classes, 0, 0, 0) };
    v = emit(b, NN_OP_GEMM, "logits", in, 3, &n);
    if (n) {
        set_status(b, nn_node_set_float(n, "alpha", 1.0f));
        set_status(b, nn_node_set_float(n, "beta", 1.0f));
        set_status(b, nn_node_set_int(n, "transB", 1));
    }
    return v;
}

/* Classes from "<fc>.weight" dim 0 (0 when absent or not 2-D). */
static int64_t class_count(const io_pth_state *st, const char *fc)
{
    char key[NN_NAME_MAX];
    snprintf(key, sizeof key, "%s.weight", fc);
    const io_pth_tensor *t = io_pth_state_find(st, key);
    return t && t->shape.ndim == 2 ? t->shape.d[0] : 0;
}

/* torchvision ResNet (v1.5: the Bottleneck stride sits on conv2). */
static int build_resnet(pth_builder *b, const pth_arch *a, int x)
{
    const int exp = a->bottleneck ? 4 : 1;
    int64_t inplanes = 64;
    char p[32], q[64];  /* "layer<l>.<k>" and "<p>.<module>" */
    x = conv(b, x, "conv1", 64, 3, 7, 2, 3);
    x = bnorm(b, x, "bn1", 64);
    x = unary(b, NN_OP_RELU, x, "relu");
    nn_node *n;
    x = emit(b, NN_OP_MAXPOOL, "maxpool", &x, 1, &n);
    if (n) {
        int64_t pads[4] = { 1, 1, 1, 1 };
        set_pair(b, n, "kernel_shape", 3);
        set_pair(b, n, "strides", 2);
        set_status(b, nn_node_set_ints(n, "pads", pads, 4));
    }
    for (int l = 0; l < 4; l++) {
        int64_t planes = (int64_t)64 << l;
        for (int k = 0; k < a->blocks[l]; k++) {
            int s = (k == 0 && l > 0) ? 2 : 1, y, sc = x;
            snprintf(p, sizeof p, "layer%d.%d", l + 1, k);
#define SUB(name) (snprintf(q, sizeof q, "%s.%s", p, name), q)
            if (a->bottleneck) {
                y = conv(b, x, SUB("conv1"), planes, inplanes, 1, 1, 0);
                y = bnorm(b, y, SUB("bn1"), planes);
                y = unary(b, NN_OP_RELU, y, "%s.relu1", p);
                y = conv(b, y, SUB("conv2"), planes, planes, 3, s, 1);
                y = bnorm(b, y, SUB("bn2"), planes);
                y = unary(b, NN_OP_RELU, y, "%s.relu2", p);
                y = conv(b, y, SUB("conv3"), planes * exp, planes, 1, 1, 0);
                y = bnorm(b, y, SUB("bn3"), planes * exp);
            } else {
                y = conv(b, x, SUB("conv1"), planes, inplanes, 3, s, 1);
                y = bnorm(b, y, SUB("bn1"), planes);
                y = unary(b, NN_OP_RELU, y, "%s.relu1", p);
                y = conv(b, y, SUB("conv2"), planes, planes, 3, 1, 1);
                y = bnorm(b, y, SUB("bn2"), planes);
            }
            if (s != 1 || inplanes != planes * exp) {
                sc = conv(b, x, SUB("downsample.0"), planes * exp, inplanes, 1, s, 0);
                sc = bnorm(b, sc, SUB("downsample.1"), planes * exp);
            }
#undef SUB
            x = add_relu(b, y, sc, p);
            inplanes = planes * exp;
        }
    }
    return head(b, x, "fc", class_count(b->st, "fc"), 512 * exp);
}

/* akamaster CIFAR ResNet-(6n+2): 3x3 stem, 3 stages of n BasicBlocks
 * (16/32/64 channels); option-A shortcut = x[:, :, ::2, ::2] zero-padded
 * by planes/4 channels on each side. */
static int build_cifar(pth_builder *b, int n_blocks, int x)
{
    int64_t inplanes = 16;
    char p[32], q[64];  /* "layer<l>.<k>" and "<p>.<module>" */
    x = conv(b, x, "conv1", 16, 3, 3, 1, 1);
    x = bnorm(b, x, "bn1", 16);
    x = unary(b, NN_OP_RELU, x, "relu");
    for (int l = 0; l < 3; l++) {
        int64_t planes = (int64_t)16 << l;
        for (int k = 0; k < n_blocks; k++) {
            int s = (k == 0 && l > 0) ? 2 : 1, y, sc = x;
            nn_node *n;
            snprintf(p, sizeof p, "layer%d.%d", l + 1, k);
#define SUB(name) (snprintf(q, sizeof q, "%s.%s", p, name), q)
            y = conv(b, x, SUB("conv1"), planes, inplanes, 3, s, 1);
            y = bnorm(b, y, SUB("bn1"), planes);
            y = unary(b, NN_OP_RELU, y, "%s.relu1", p);
            y = conv(b, y, SUB("conv2"), planes, planes, 3, 1, 1);
            y = bnorm(b, y, SUB("bn2"), planes);
            if (s != 1 || inplanes != planes) {
                int64_t starts[2] = { 0, 0 }, ends[2] = { INT64_MAX, INT64_MAX };
                int64_t axes[2] = { 2, 3 }, steps[2] = { 2, 2 };
                int64_t pc = planes / 4, pads[8] = { 0, pc, 0, 0, 0, pc, 0, 0 };
                sc = emit(b, NN_OP_SLICE, SUB("shortcut.slice"), &x, 1, &n);
                if (n) {
                    set_status(b, nn_node_set_ints(n, "starts", starts, 2));
                    set_status(b, nn_node_set_ints(n, "ends", ends, 2));
                    set_status(b, nn_node_set_ints(n, "axes", axes, 2));
                    set_status(b, nn_node_set_ints(n, "steps", steps, 2));
                }
                sc = emit(b, NN_OP_PAD, SUB("shortcut.pad"), &sc, 1, &n);
                if (n) {
                    set_status(b, nn_node_set_ints(n, "pads", pads, 8));
                    set_status(b, nn_node_set_string(n, "mode", "constant"));
                    set_status(b, nn_node_set_float(n, "value", 0.0f));
                }
            }
#undef SUB
            x = add_relu(b, y, sc, p);
            inplanes = planes;
        }
    }
    return head(b, x, "linear", class_count(b->st, "linear"), 64);
}

/* Consecutive blocks layer<l>.0, .1, ... that have a conv1 weight. */
static int count_blocks(const io_pth_state *st, int l)
{
    char key[NN_NAME_MAX];
    int n = 0;
    for (;; n++) {
        snprintf(key, sizeof key, "layer%d.%d.conv1.weight", l, n);
        if (n >= PTH_MAX_BLOCKS || !io_pth_state_find(st, key))
            return n;
    }
}

/* Which architecture: forced by name, else recognised from the keys.
 * Sets *a (torchvision) or *cifar_n (CIFAR ResNet-6n+2). */
static nn_status pick_arch(const io_pth_state *st, const char *arch, const pth_arch **a,
                           int *cifar_n, nn_err *e)
{
    *a = NULL;
    *cifar_n = 0;
    if (arch && *arch) {
        static const char cifar[] = "cifar_resnet";
        for (size_t i = 0; i < sizeof k_archs / sizeof k_archs[0]; i++)
            if (strcmp(arch, k_archs[i].name) == 0) {
                *a = &k_archs[i];
                return NN_OK;
            }
        if (strncmp(arch, cifar, sizeof cifar - 1) == 0) {
            const char *digits = arch + sizeof cifar - 1;
            char *end;
            long depth = strtol(digits, &end, 10);
            if (end != digits && *end == '\0' && depth >= 8 && depth <= 6 * PTH_MAX_BLOCKS + 2 &&
                (depth - 2) % 6 == 0) {
                *cifar_n = (int)((depth - 2) / 6);
                return NN_OK;
            }
        }
        return nn_err_set(e, NN_ERR_UNSUPPORTED,
                          "pth: unknown architecture '%.60s' (resnet18, resnet34, resnet50, "
                          "resnet101, resnet152, cifar_resnet<6n+2>)", arch);
    }
    int n[4];
    for (int l = 0; l < 4; l++)
        n[l] = count_blocks(st, l + 1);
    int bottleneck = io_pth_state_find(st, "layer1.0.conv3.weight") != NULL;
    for (size_t i = 0; i < sizeof k_archs / sizeof k_archs[0]; i++)
        if (k_archs[i].bottleneck == bottleneck && memcmp(k_archs[i].blocks, n, sizeof n) == 0 &&
            io_pth_state_find(st, "fc.weight")) {
            *a = &k_archs[i];
            return NN_OK;
        }
    if (!bottleneck && n[0] > 0 && n[0] == n[1] && n[1] == n[2] && n[3] == 0 &&
        io_pth_state_find(st, "linear.weight")) {
        *cifar_n = n[0];
        return NN_OK;
    }
    return nn_err_set(e, NN_ERR_UNSUPPORTED,
                      "pth: architecture not recognised (blocks per layer %d,%d,%d,%d%s; first key %s)",
                      n[0], n[1], n[2], n[3], bottleneck ? ", bottleneck" : "",
                      st->n ? st->t[0].name : "none");
}

/* Runs the chosen builder from graph input x; returns the logits value. */
static int run_builder(pth_builder *b, const pth_arch *a, int cifar_n, int x)
{
    return a ? build_resnet(b, a, x) : build_cifar(b, cifar_n, x);
}

/* The dry pass's verdict: missing keys, then shapes, then unused keys. */
static nn_status check_keys(pth_builder *b, nn_err *e)
{
    if (b->n_missing)
        return nn_err_set(e, NN_ERR_FORMAT, "pth: %d missing key%s: %s", b->n_missing,
                          b->n_missing > 1 ? "s" : "", b->missing);
    if (b->shape_status != NN_OK)
        return nn_err_set(e, b->shape_status, "%s", b->shape_msg);
    char extra[NN_ERR_MSG_MAX] = "";
    int n_extra = 0;
    for (int i = 0; i < b->st->n; i++) {
        const char *nm = b->st->t[i].name;
        size_t l = strlen(nm), sl = strlen(PTH_IGNORED_SUFFIX);
        if (!b->used[i] && !(l >= sl && strcmp(nm + l - sl, PTH_IGNORED_SUFFIX) == 0))
            list_add(extra, sizeof extra, &n_extra, nm);
    }
    if (n_extra)
        return nn_err_set(e, NN_ERR_FORMAT, "pth: %d unexpected key%s: %s", n_extra,
                          n_extra > 1 ? "s" : "", extra);
    return NN_OK;
}

int io_pth_detect(const void *buf, size_t len)
{
    const unsigned char *b = buf;
    if (len >= 4 && b[0] == 'P' && b[1] == 'K' && b[2] == 3 && b[3] == 4)
        return 1;
    return len >= 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5;
}

nn_status io_pth_read(const void *buf, size_t len, const char *arch, nn_graph **out, nn_err *e)
{
    io_pth_state *st = NULL;
    pth_builder b = { 0 };
    const pth_arch *a;
    int cifar_n, side;
    nn_status rc;
    nn_err local;

    *out = NULL;
    if (!e)
        e = &local;     /* the builder reads statuses back from e */
    if (len > IO_PTH_MAX_FILE)
        return nn_err_set(e, NN_ERR_LIMIT, "pth: file of %zu bytes exceeds the limit", len);
    if ((rc = io_pth_state_read(buf, len, &st, e)) != NN_OK)
        return rc;
    if ((rc = pick_arch(st, arch, &a, &cifar_n, e)) != NN_OK)
        goto fail;
    b.st = st;
    b.e = e;
    if (st->n && !(b.used = calloc((size_t)st->n, 1))) {
        rc = nn_err_set(e, NN_ERR_NOMEM, "pth: out of memory");
        goto fail;
    }
    run_builder(&b, a, cifar_n, 0);
    if ((rc = check_keys(&b, e)) != NN_OK)
        goto fail;
    if (!(b.g = nn_graph_create())) {
        rc = nn_err_set(e, NN_ERR_NOMEM, "pth: out of memory");
        goto fail;
    }
    side = a ? 224 : 32;
    nn_shape in = nn_shape4(NN_DIM_BATCH, 3, side, side);
    int x = nn_graph_add_input(b.g, "input", &in, e);
    if (x < 0) {
        rc = e ? e->status : NN_ERR_NOMEM;
        goto fail;
    }
    int y = run_builder(&b, a, cifar_n, x);
    if (b.status != NN_OK || y < 0) {
        rc = b.status != NN_OK ? b.status : nn_err_set(e, NN_ERR_FORMAT, "pth: graph build failed");
        goto fail;
    }
    char shape[32], name[32];
    snprintf(shape, sizeof shape, "3x%dx%d", side, side);
    if (a)
        snprintf(name, sizeof name, "%s", a->name);
    else
        snprintf(name, sizeof name, "cifar_resnet%d", 6 * cifar_n + 2);
    if ((rc = nn_graph_add_output(b.g, y, e)) != NN_OK)
        goto fail;
    if (nn_graph_set_meta(b.g, IO_META_INPUT_SHAPE, shape) != NN_OK ||
        nn_graph_set_meta(b.g, IO_META_NAME, name) != NN_OK ||
        nn_graph_set_meta(b.g, IO_META_TASK, "classification") != NN_OK) {
        rc = nn_err_set(e, NN_ERR_NOMEM, "pth: out of memory");
        goto fail;
    }
    if ((rc = nn_graph_validate(b.g, e)) != NN_OK)
        goto fail;
    *out = b.g;
    free(b.used);
    io_pth_state_free(st);
    return NN_OK;
fail:
    nn_graph_free(b.g);
    free(b.used);
    io_pth_state_free(st);
    return rc;
}
