/* scanlite.c — entry point of the `scanlite` tool: one binary, subcommands
 * dispatched from one table. Runtime subcommands live in tools/cmd_*.c and
 * use only nn/scanlite.h (plus the io/ converters for `convert`); server
 * subcommands live in server/ (server/srv_cli.h). */
#include <stdio.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "nn/scanlite.h"
#include "server/srv_cli.h"
#include "tools/cli.h"

/* name        handler          one-line summary for `scanlite --help` */
static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"convert", cmd_convert, "convert an ONNX or PyTorch model into a .slm file"},
    {"inspect", cmd_inspect, "show a model's metadata, graph, parameters and MACs"},
    {"predict", cmd_predict, "classify images"},
    {"run", cmd_run, "run a raw float32 tensor through a model"},
    {"preprocess", cmd_preprocess, "write the exact input tensor predict would use"},
    {"bench", cmd_bench, "measure latency and throughput"},
    {"explain", cmd_explain, "raw Grad-CAM map of an input tensor"},
    {"serve", srv_cmd_serve, "run the HTTP server"},
    {"key", srv_cmd_key, "create, list or revoke API keys"},
    {"user", srv_cmd_user, "add, list, remove users or set passwords"},
};

static void usage(FILE *f)
{
    fprintf(f, "scanlite %s — CNN inference runtime and clinic image-classification server\n\n"
               "usage: scanlite COMMAND [options]   (scanlite COMMAND --help for details)\n\n",
            SL_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].summary);
}

/* Blocks of up to this many bytes come from the heap and stay there when
 * freed, instead of fresh mappings: an image's buffers (a 0.3 MP JPEG: ~4
 * MB of decoder output, RGB copy and resize rows) otherwise page-fault
 * anew for every image the server or `predict` decodes (2nd-4th decode
 * of a 517x606 JPEG: 3.65 -> 2.5 ms). Larger blocks (huge images) are
 * still mapped and returned. */
#define SCANLITE_HEAP_KEEP (64 << 20)

int main(int argc, char **argv)
{
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, SCANLITE_HEAP_KEEP);
    mallopt(M_TRIM_THRESHOLD, SCANLITE_HEAP_KEEP);
#endif
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("scanlite %s (%s)\n", SL_VERSION, sl_kernel_name());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "scanlite: unknown command '%s' (see scanlite --help)\n", argv[1]);
    return 2;
}
