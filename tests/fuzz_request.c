/* fuzz_request.c — libFuzzer target for the parsers of a request body:
 * byte 0 picks one. 0: the JSON parser (feedback and admin bodies); 1: the
 * multipart/form-data splitter, the first line of the input being the
 * Content-Type whose boundary it uses; 2: image probe, decode and the
 * preprocessing of a 64x64 model. `make fuzz` builds it into build-fuzz/:
 *
 *   make fuzz
 *   mkdir -p corpus && printf '\002' | cat - photo.jpg > corpus/jpg
 *   ASAN_OPTIONS=allocator_may_return_null=1 build-fuzz/fuzz_request \
 *       -max_len=65536 -max_total_time=300 corpus
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_image.h"
#include "server/srv_json.h"
#include "server/srv_multipart.h"

static void fuzz_json(const uint8_t *b, size_t n)
{
    srv_jdoc d;
    char err[128];
    if (srv_json_parse((const char *)b, n, &d, err, sizeof err) == 0)
        srv_json_free(&d);
}

/* Where fuzz_multipart sums the parts' bytes (volatile: the sum is kept). */
static volatile unsigned char fuzz_sink;

/* Every part's bytes are read, so a part pointing past the body shows. */
static void fuzz_multipart(const uint8_t *b, size_t n)
{
    const uint8_t *nl = memchr(b, '\n', n < 255 ? n : 255);
    char ct[256], bd[SRV_MP_BOUNDARY_MAX + 1], err[128], *body;
    srv_part parts[SRV_MP_MAX_PARTS];
    int np = 0;
    size_t len;
    if (!nl)
        return;
    memcpy(ct, b, (size_t)(nl - b));
    ct[nl - b] = '\0';
    if (srv_multipart_boundary(ct, bd) != 0)
        return;
    len = n - (size_t)(nl + 1 - b);
    if (!(body = malloc(len ? len : 1)))    /* exactly the body: ASan sees overreads */
        return;
    memcpy(body, nl + 1, len);
    if (srv_multipart_parse(body, len, bd, parts, SRV_MP_MAX_PARTS, &np, err, sizeof err) == 0)
        for (int i = 0; i < np; i++)
            for (size_t k = 0; k < parts[i].len; k++)
                fuzz_sink ^= (unsigned char)parts[i].data[k];
    free(body);
}

static void fuzz_image(const uint8_t *b, size_t n)
{
    static float out[3 * 64 * 64];
    io_preproc p = {3, 64, 64, 72, 64, 1.0f / 255, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
    io_image img;
    nn_err e;
    int w, h, c;
    (void)io_image_probe(b, n, &w, &h, &c, &e);
    if (io_image_decode(b, n, b[n / 2] & 1 ? 1 : 3, &img, &e) != NN_OK)
        return;
    p.channels = img.c;
    (void)io_image_preprocess(&img, &p, out, &e);
    io_image_free(&img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    switch (data[0] % 3) {
    case 0: fuzz_json(data + 1, size - 1); break;
    case 1: fuzz_multipart(data + 1, size - 1); break;
    default: fuzz_image(data + 1, size - 1); break;
    }
    return 0;
}
