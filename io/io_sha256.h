/* io_sha256.h — SHA-256 (FIPS 180-4), for model and upload fingerprints.
 * Two block-compression paths give identical digests: the portable C code
 * (io_sha256.c, also the reference) and the x86 SHA extensions
 * (io_sha256_shani.c: SHA256RNDS2/MSG1/MSG2). io_sha256_init picks the
 * fastest one this CPU supports, decided once per process by CPUID. */
#ifndef IO_SHA256_H
#define IO_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* Block-compression path of one hashing context. */
typedef enum io_sha256_path {
    IO_SHA256_PORTABLE = 0,     /* plain C, every CPU: the reference */
    IO_SHA256_SHANI = 1,        /* SHA-NI + SSE4.1 + SSSE3 (x86-64) */
} io_sha256_path;

typedef struct io_sha256 {
    uint32_t h[8];
    uint64_t total;             /* bytes hashed so far */
    uint8_t buf[64];
    size_t used;
    io_sha256_path path;        /* set by init, fixed for the context's life */
} io_sha256;

void io_sha256_init(io_sha256 *c);
void io_sha256_update(io_sha256 *c, const void *data, size_t len);
void io_sha256_final(io_sha256 *c, uint8_t digest[32]);
/* One shot: hex (lower case) into out[65]. */
void io_sha256_hex(const void *data, size_t len, char out[65]);
/* Hash of a whole file into out[65]; 0 on success, -1 on I/O error. */
int io_sha256_file_hex(const char *path, char out[65]);

/* ---- paths (tests and benchmarks) --------------------------------------- */

/* 1 when this CPU can run path (cached after the first call). */
int io_sha256_path_supported(io_sha256_path path);
/* The path io_sha256_init uses. */
io_sha256_path io_sha256_path_best(void);
/* io_sha256_init with a forced path; an unsupported one falls back to
 * IO_SHA256_PORTABLE (never an illegal instruction). */
void io_sha256_init_path(io_sha256 *c, io_sha256_path path);

/* ---- block functions (internal to io_sha256*.c, exposed for tests) ------ */

/* Round constants K0..K63 (FIPS 180-4, 4.2.2). */
extern const uint32_t io_sha256_k[64];
/* Compress nblocks consecutive 64-byte blocks at p into the chaining state
 * h[8] (h[0] = a ... h[7] = h); p needs no alignment. */
void io_sha256_blocks_portable(uint32_t h[8], const uint8_t *p, size_t nblocks);
/* Same with the SHA extensions; only call when io_sha256_shani_supported(). */
void io_sha256_blocks_shani(uint32_t h[8], const uint8_t *p, size_t nblocks);
/* CPUID (uncached): SHA (leaf 7 EBX bit 29), SSE4.1 and SSSE3 present. */
int io_sha256_shani_supported(void);

#endif
