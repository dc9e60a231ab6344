/* io_slm_read.c — reads a .slm model file (docs/FORMAT.md) into a graph:
 * the entry points, the header and section table, the checksums, and the
 * final nn_graph_validate; the sections themselves are parsed in
 * io_slm_sections.c. The bytes are hostile (explicit little-endian reads,
 * every range checked). One parser serves both entry points: io_slm_read
 * points constants into a read-only mmap of the file, io_slm_read_memory
 * copies them. */
#include "io_slm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_crc32.h"
#include "io_sha256.h"
#include "io_slm_format.h"
#include "io_slm_parse.h"

const char *const io_slm_sec_name[SLM_SEC_COUNT] = {"metadata", "values", "nodes", "io",
                                                    "data"};

nn_status io_slm_fail(slm_parser *ps, nn_status st, const char *fmt, ...)
                      {
                      char detail[NN_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (ps->where[0])
        return nn_err_set(ps->e, st, "%s: %s: %s", ps->src, ps->where, detail);
    return nn_err_set(ps->e, st, "%s: %s", ps->src, detail);
}

/* ---- header ------------------------------------------------------------- */

static nn_status parse_header(slm_parser *ps)
{
    const uint8_t *h = ps->base;
    unsigned vmaj, vmin;
    uint64_t fsize;
    uint32_t stored, crc;

    if (ps->len == 0)
        return io_slm_fail(ps, NN_ERR_FORMAT, "empty file");
    if (ps->len < 8 || memcmp(h, SLM_MAGIC, 8) != 0)
        return io_slm_fail(ps, NN_ERR_FORMAT, "not a scanlite model (bad magic)");
    if (ps->len < SLM_OFF_FLAGS)
        return io_slm_fail(ps, NN_ERR_FORMAT, "truncated header (%zu bytes)", ps->len);
    vmaj = slm_get_u16(h + SLM_OFF_VMAJOR);
    vmin = slm_get_u16(h + SLM_OFF_VMINOR);
    if (vmaj > SLM_VERSION_MAJOR || (vmaj == SLM_VERSION_MAJOR && vmin > SLM_VERSION_MINOR))
        return io_slm_fail(ps, NN_ERR_UNSUPPORTED,
                           "file format version %u.%u is newer than this scanlite (supports up to %d.%d)",
                           vmaj, vmin, SLM_VERSION_MAJOR, SLM_VERSION_MINOR);
    if (vmaj < 1)
        return io_slm_fail(ps, NN_ERR_FORMAT, "invalid file format version %u.%u", vmaj, vmin);
    if (ps->len < SLM_HEADER_SIZE)
        return io_slm_fail(ps, NN_ERR_FORMAT, "truncated header (%zu of %d bytes)", ps->len,
                           SLM_HEADER_SIZE);
    if (slm_get_u32(h + SLM_OFF_HEADER_SIZE) != SLM_HEADER_SIZE)
        return io_slm_fail(ps, NN_ERR_FORMAT, "header size %u, expected %d for version %u.%u",
                           slm_get_u32(h + SLM_OFF_HEADER_SIZE), SLM_HEADER_SIZE, vmaj, vmin);
    if (slm_get_u32(h + SLM_OFF_FLAGS) != 0)
        return io_slm_fail(ps, NN_ERR_UNSUPPORTED, "unknown header flags 0x%08x",
                           slm_get_u32(h + SLM_OFF_FLAGS));
    if (slm_get_u32(h + SLM_OFF_RESERVED0) != 0 || slm_get_u64(h + SLM_OFF_RESERVED1) != 0)
        return io_slm_fail(ps, NN_ERR_FORMAT, "reserved header fields are not zero");
    fsize = slm_get_u64(h + SLM_OFF_FILE_SIZE);
    if (fsize != ps->len)
        return io_slm_fail(ps, NN_ERR_FORMAT, "file is %zu bytes but its header says %llu (%s)",
                           ps->len, (unsigned long long)fsize,
                           fsize > ps->len ? "truncated" : "trailing bytes");
    for (int s = 0; s < SLM_SEC_COUNT; s++) {
        ps->off[s] = slm_get_u64(h + SLM_OFF_SECTIONS + 16 * s);
        ps->size[s] = slm_get_u64(h + SLM_OFF_SECTIONS + 16 * s + 8);
        if (ps->off[s] < SLM_HEADER_SIZE || ps->off[s] > ps->len ||
            ps->size[s] > ps->len - ps->off[s])
            return io_slm_fail(ps, NN_ERR_FORMAT,
                               "%s section (offset %llu, size %llu) lies outside the file (%zu bytes)",
                               io_slm_sec_name[s], (unsigned long long)ps->off[s],
                               (unsigned long long)ps->size[s], ps->len);
    }
    for (int a = 0; a < SLM_SEC_COUNT; a++)
        for (int b = a + 1; b < SLM_SEC_COUNT; b++)
            if (ps->size[a] && ps->size[b] && ps->off[a] < ps->off[b] + ps->size[b] &&
                ps->off[b] < ps->off[a] + ps->size[a])
                return io_slm_fail(ps, NN_ERR_FORMAT, "%s and %s sections overlap",
                                   io_slm_sec_name[a], io_slm_sec_name[b]);
    if (ps->off[SLM_SEC_DATA] % SLM_DATA_ALIGN != 0)
        return io_slm_fail(ps, NN_ERR_FORMAT, "data section offset %llu is not %d-byte aligned",
                           (unsigned long long)ps->off[SLM_SEC_DATA], SLM_DATA_ALIGN);
    stored = slm_get_u32(h + SLM_OFF_INDEX_CRC);
    crc = io_slm_index_crc(h, ps->off, ps->size);
    if (stored != crc)
        return io_slm_fail(ps, NN_ERR_FORMAT,
                           "index checksum mismatch (stored %08x, computed %08x): "
                           "the file is corrupt", stored, crc);
    if (ps->defer_data_crc)
        return NN_OK;
    stored = slm_get_u32(h + SLM_OFF_DATA_CRC);
    /* The weights: tens of MB, the bulk of a cold start's reading. */
    crc = io_crc32_parallel(0, h + ps->off[SLM_SEC_DATA], (size_t)ps->size[SLM_SEC_DATA], 0);
    if (stored != crc)
        return io_slm_data_crc_fail(ps->e, ps->src, stored, crc);
    return NN_OK;
}

nn_status io_slm_data_crc_fail(nn_err *e, const char *src, uint32_t stored, uint32_t crc)
{
    return nn_err_set(e, NN_ERR_FORMAT,
                      "%s: data checksum mismatch (stored %08x, computed %08x): the weights are corrupt",
                      src, stored, crc);
}

/* ---- entry points ------------------------------------------------------- */

/* Parses base[0..len) into *out. zero_copy: constants point into base,
 * which the caller keeps alive (and attaches as g->backing). chk non-NULL:
 * the data checksum is left to a check started on success (*chk). */
static nn_status slm_parse(const uint8_t *base, size_t len, const char *src, int zero_copy,
                           nn_graph **out, io_slm_check **chk, nn_err *e)
{
    slm_parser ps;
    nn_err inner;
    nn_status st;

    memset(&ps, 0, sizeof ps);
    ps.base = base;
    ps.len = len;
    ps.src = src;
    ps.zero_copy = zero_copy;
    ps.defer_data_crc = chk != NULL;
    ps.e = e;
    *out = NULL;
    if (!slm_host_is_le())
        return io_slm_fail(&ps, NN_ERR_UNSUPPORTED,
                           "big-endian hosts are not supported (.slm data is little-endian fp32)");
    if (len > IO_SLM_MAX_FILE)
        return io_slm_fail(&ps, NN_ERR_LIMIT, "file is %zu bytes (limit %zu)", len,
                           IO_SLM_MAX_FILE);
    if ((st = parse_header(&ps)) != NN_OK)
        return st;
    ps.g = nn_graph_create();
    ps.ints = malloc(NN_ATTR_MAX_LIST * sizeof *ps.ints);
    ps.floats = malloc(NN_ATTR_MAX_LIST * sizeof *ps.floats);
    if (!ps.g || !ps.ints || !ps.floats) {
        st = io_slm_fail(&ps, NN_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((st = io_slm_parse_sections(&ps)) != NN_OK)
        goto fail;
    nn_err_clear(&inner);
    if ((st = nn_graph_validate(ps.g, &inner)) != NN_OK) {
        st = io_slm_builder_fail(&ps, &inner);
        goto fail;
    }
    if (chk && (st = io_slm_check_start(src, base + ps.off[SLM_SEC_DATA], (size_t)ps.size[SLM_SEC_DATA],
                                        slm_get_u32(base + SLM_OFF_DATA_CRC), chk, e)) != NN_OK)
        goto fail;
    *out = ps.g;
    ps.g = NULL;
fail:
    nn_graph_free(ps.g);
    free(ps.kind);
    free(ps.seen);
    free(ps.ints);
    free(ps.floats);
    return st;
}

static const char *path_base(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

nn_status io_slm_read_memory(const void *buf, size_t len, nn_graph **out, nn_err *e)
{
    if (!out || (!buf && len))
        return nn_err_set(e, NN_ERR_INVALID, "io_slm_read_memory: NULL argument");
    return slm_parse(buf, len, "(memory)", 0, out, NULL, e);
}

/* The read-only mapping a graph from io_slm_read keeps as g->backing. */
typedef struct slm_mapping {
    void *addr;
    size_t len;
} slm_mapping;

static void slm_mapping_free(void *p)
{
    slm_mapping *m = p;
    if (!m)
        return;
    munmap(m->addr, m->len);
    free(m);
}

nn_status io_slm_bytes(const nn_graph *g, const void **data, size_t *len)
{
    const slm_mapping *m;
    if (!g || g->backing_free != slm_mapping_free || !g->backing)
        return NN_ERR_INVALID;
    m = g->backing;
    *data = m->addr;
    *len = m->len;
    return NN_OK;
}

/* io_slm_read (chk NULL) and io_slm_read_deferred. */
static nn_status slm_read_file(const char *path, nn_graph **out, char *sha256_hex,
                               io_slm_check **chk, nn_err *e)
{
    const char *src;
    struct stat stt;
    slm_mapping *m = NULL;
    nn_status st;
    int fd;

    if (!path || !out)
        return nn_err_set(e, NN_ERR_INVALID, "io_slm_read: NULL argument");
    *out = NULL;
    src = path_base(path);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return nn_err_set(e, NN_ERR_IO, "%s: cannot open: %s", src, strerror(errno));
    if (fstat(fd, &stt) != 0) {
        st = nn_err_set(e, NN_ERR_IO, "%s: cannot stat: %s", src, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(stt.st_mode)) {
        st = nn_err_set(e, NN_ERR_IO, "%s: not a regular file", src);
        goto fail;
    }
    if ((uint64_t)stt.st_size > (uint64_t)IO_SLM_MAX_FILE) {
        st = nn_err_set(e, NN_ERR_LIMIT, "%s: file is %lld bytes (limit %zu)", src,
                        (long long)stt.st_size, IO_SLM_MAX_FILE);
        goto fail;
    }
    if (stt.st_size == 0) {
        st = nn_err_set(e, NN_ERR_FORMAT, "%s: empty file", src);
        goto fail;
    }
    m = calloc(1, sizeof *m);
    if (!m) {
        st = nn_err_set(e, NN_ERR_NOMEM, "%s: out of memory", src);
        goto fail;
    }
    m->len = (size_t)stt.st_size;
    m->addr = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m->addr == MAP_FAILED) {
        st = nn_err_set(e, NN_ERR_IO, "%s: mmap failed: %s", src, strerror(errno));
        free(m);
        m = NULL;
        goto fail;
    }
    /* Lets a read from disk fill the page cache with 2 MiB folios, mapped a
     * folio per fault (see io_slm_write.c); advisory, errors ignored. */
    (void)madvise(m->addr, m->len, MADV_HUGEPAGE);
    close(fd);
    fd = -1;
    if (sha256_hex)
        io_sha256_hex(m->addr, m->len, sha256_hex);
    if ((st = slm_parse(m->addr, m->len, src, 1, out, chk, e)) != NN_OK)
        goto fail;
    (*out)->backing = m;
    (*out)->backing_free = slm_mapping_free;
    return NN_OK;
fail:
    if (fd >= 0)
        close(fd);
    slm_mapping_free(m);
    return st;
}

nn_status io_slm_read(const char *path, nn_graph **out, char *sha256_hex, nn_err *e)
{
    return slm_read_file(path, out, sha256_hex, NULL, e);
}

nn_status io_slm_read_deferred(const char *path, nn_graph **out, io_slm_check **chk, nn_err *e)
{
    if (!chk)
        return nn_err_set(e, NN_ERR_INVALID, "io_slm_read_deferred: NULL argument");
    *chk = NULL;
    return slm_read_file(path, out, NULL, chk, e);
}

