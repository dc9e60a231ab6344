/* io_sha256.h — SHA-256 (FIPS 180-4), for model and upload fingerprints. */
#ifndef IO_SHA256_H
#define IO_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct io_sha256 {
    uint32_t h[8];
    uint64_t total;         /* bytes hashed so far */
    uint8_t buf[64];
    size_t used;
} io_sha256;

void io_sha256_init(io_sha256 *c);
void io_sha256_update(io_sha256 *c, const void *data, size_t len);
void io_sha256_final(io_sha256 *c, uint8_t digest[32]);
/* One shot: hex (lower case) into out[65]. */
void io_sha256_hex(const void *data, size_t len, char out[65]);
/* Hash of a whole file into out[65]; 0 on success, -1 on I/O error. */
int io_sha256_file_hex(const char *path, char out[65]);

#endif
