/* io_slm_format.c — pieces of the .slm format shared by the writer and the
 * reader (io_slm_write.c, io_slm_read.c): CRC-32 of the index and the data,
 * and the UTF-8 rule for every string in a file. See docs/FORMAT.md. */
#include "io_slm_format.h"

#include "io_crc32.h"

uint32_t io_slm_crc32(uint32_t crc, const void *data, size_t len)
{
    return io_crc32(crc, data, len);
}

uint32_t io_slm_index_crc(const uint8_t *file, const uint64_t sec_off[SLM_SEC_COUNT],
                          const uint64_t sec_size[SLM_SEC_COUNT])
{
    static const uint8_t zero[4];
    uint32_t crc = io_slm_crc32(0, file, SLM_OFF_INDEX_CRC);
    crc = io_slm_crc32(crc, zero, sizeof zero);
    crc = io_slm_crc32(crc, file + SLM_OFF_INDEX_CRC + 4,
                       SLM_HEADER_SIZE - SLM_OFF_INDEX_CRC - 4);
    for (int s = SLM_SEC_META; s <= SLM_SEC_IO; s++)
        crc = io_slm_crc32(crc, file + sec_off[s], (size_t)sec_size[s]);
    return crc;
}

int io_slm_utf8_ok(const char *s, size_t len)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;
    while (i < len) {
        uint8_t c = p[i];
        size_t need;
        uint32_t cp, min;
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            need = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            need = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            need = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (len - i - 1 < need)
            return 0;
        for (size_t k = 1; k <= need; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += need + 1;
    }
    return 1;
}
