/* srv_web.c — serves the embedded web page (see srv_web.h). The table of
 * files comes from SRV_WEB_FILES (srv_web_files.h), the same list the
 * assembler embeds, so the two cannot disagree. Answers carry security
 * headers: a Content-Security-Policy that allows only this origin (images
 * also from blob:/data:, which the page uses for authenticated images),
 * nosniff, no framing, no referrer. */
#include "srv_web.h"
#include "srv_web_files.h"

#include <string.h>

/* The page may load from this server only; images also from blob: URLs made
 * from authenticated fetches. No inline script or style. */
#define SRV_WEB_CSP                                                                        \
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; " \
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "          \
    "frame-ancestors 'none'"

#define SRV_WEB_DECLARE(stem, name, path, ctype)                                   \
    extern const unsigned char srv_web_##stem##_start[], srv_web_##stem##_end[];
SRV_WEB_FILES(SRV_WEB_DECLARE)

typedef struct web_file {
    const char *name;               /* under /static/ */
    const unsigned char *start, *end;
    const char *ctype;
} web_file;

#define SRV_WEB_ENTRY(stem, name, path, ctype) {name, srv_web_##stem##_start, srv_web_##stem##_end, ctype},
static const web_file web_files[] = {SRV_WEB_FILES(SRV_WEB_ENTRY)};
#define WEB_NFILES ((int)(sizeof web_files / sizeof web_files[0]))

static const web_file *web_file_find(const char *name)
{
    for (int i = 0; i < WEB_NFILES; i++)
        if (!strcmp(web_files[i].name, name))
            return &web_files[i];
    return NULL;
}

int srv_web_asset(const char *path, const unsigned char **data, size_t *len,
                  const char **content_type)
{
    static const char report[] = "/report/", stat[] = "/static/";
    const web_file *f = NULL;
    if (!path)
        return -1;
    if (!strcmp(path, "/") || !strcmp(path, "/index.html") ||
        (!strncmp(path, report, sizeof report - 1) && path[sizeof report - 1]))
        f = web_file_find("index.html");
    else if (!strncmp(path, stat, sizeof stat - 1))
        f = web_file_find(path + sizeof stat - 1);
    if (!f)
        return -1;
    *data = f->start;
    *len = (size_t)(f->end - f->start);
    *content_type = f->ctype;
    return 0;
}

void srv_h_web(srv_req *r)
{
    const unsigned char *data;
    size_t len;
    const char *ctype;
    if (srv_web_asset(r->path, &data, &len, &ctype)) {
        srv_reply_error(r, 404, "not_found", "no such page: %s", r->path);
        return;
    }
    /* PERSISTENT: the bytes live in the binary's read-only data for the
     * whole run; libmicrohttpd neither copies, writes nor frees them. */
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        srv_reply_error(r, 503, "no_memory", "out of memory");
        return;
    }
    srv_reply_response(r, 200, resp);
    srv_reply_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    srv_reply_header(r, "Content-Security-Policy", SRV_WEB_CSP);
    srv_reply_header(r, "X-Content-Type-Options", "nosniff");
    srv_reply_header(r, "X-Frame-Options", "DENY");
    srv_reply_header(r, "Referrer-Policy", "no-referrer");
    srv_reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
}
