/* io_crc32.h — CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, as
 * zlib's crc32) behind one dispatcher: the portable slicing-by-8 table path
 * (io_crc32.c, also the reference the fast path is tested against) and
 * carry-less multiply folding with PCLMULQDQ (io_crc32_pclmul.c, x86-64,
 * chosen at run time by CPUID), and a multi-threaded split for large
 * buffers. Every entry point takes and returns the
 * finished CRC: start with 0, feed chunks: crc = io_crc32(crc, p, n). */
#ifndef IO_CRC32_H
#define IO_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* The fastest path this CPU supports (decided once per process). */
uint32_t io_crc32(uint32_t crc, const void *data, size_t len);

/* The CRC of len bytes split over up to IO_CRC32_MAX_PARTS threads (the
 * caller's and helpers it starts and joins), and at most threads of them
 * (0: one per CPU the process may use), when len is large; io_crc32
 * otherwise or when a thread cannot start. Same result as io_crc32. */
#define IO_CRC32_MAX_PARTS 4            /* beyond this memory bandwidth is spent */
#define IO_CRC32_PART_MIN ((size_t)8 << 20)   /* smaller parts do not pay the thread */
uint32_t io_crc32_parallel(uint32_t crc, const void *data, size_t len, int threads);

/* CRC of A followed by B from crc_a = CRC(A), crc_b = CRC(B) and B's
 * length (zlib's crc32_combine). */
uint32_t io_crc32_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

/* Portable table path: the reference. */
uint32_t io_crc32_table(uint32_t crc, const void *data, size_t len);

/* 1 when io_crc32_pclmul can run here (PCLMULQDQ and SSE4.1 on x86-64). */
int io_crc32_pclmul_supported(void);

/* Folding path; only call when io_crc32_pclmul_supported(). Short inputs
 * and the tail of a long one go through the table path; long inputs take
 * the 256-bit VPCLMULQDQ folds where io_crc32_wide_supported(). */
uint32_t io_crc32_pclmul(uint32_t crc, const void *data, size_t len);
/* The 128-bit folds alone (what io_crc32_pclmul runs without VPCLMULQDQ);
 * only call when io_crc32_pclmul_supported(). */
uint32_t io_crc32_pclmul_sse(uint32_t crc, const void *data, size_t len);
/* 1 when io_crc32_pclmul folds long inputs 256 bits wide here. */
int io_crc32_wide_supported(void);

#endif
