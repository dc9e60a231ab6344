/* test_srv_web.c — the embedded web page (server/srv_web.c): every file of
 * the SRV_WEB_FILES list is in the binary byte for byte as on disk (run from
 * the repository root, as tests/run.sh does), the paths map to the right
 * file and content type, and anything else is refused. */
#include "server/srv_web.h"
#include "server/srv_web_files.h"
#include "tests/tassert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads a whole file; NULL when it cannot. */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *buf = NULL;
    long n;
    if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
        goto fail;
    buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
        goto fail;
    fclose(f);
    *len = (size_t)n;
    return buf;
fail:
    free(buf);
    fclose(f);
    return NULL;
}

static void check_embedded(const char *name, const char *path, const char *ctype)
{
    char url[128];
    snprintf(url, sizeof url, "/static/%s", name);
    const unsigned char *data = NULL;
    size_t len = 0, disk_len = 0;
    const char *ct = NULL;
    T_CHECKF(srv_web_asset(url, &data, &len, &ct) == 0, "%s is served", url);
    unsigned char *disk = slurp(path, &disk_len);
    T_CHECKF(disk != NULL, "%s readable (run from the repository root)", path);
    if (data && disk) {
        T_CHECKF(len == disk_len, "%s: %zu bytes embedded, %zu on disk", name, len, disk_len);
        T_CHECKF(len == disk_len && memcmp(data, disk, len) == 0, "%s: embedded bytes equal the file", name);
    }
    T_CHECKF(ct && !strcmp(ct, ctype), "%s content type %s", name, ct ? ct : "(null)");
    free(disk);
}

static void t_files(void)
{
#define CHECK_ONE(stem, name, path, ctype) check_embedded(name, path, ctype);
    SRV_WEB_FILES(CHECK_ONE)
#undef CHECK_ONE
}

static void t_app_paths(void)
{
    static const char *const app[] = {"/", "/index.html", "/report/case-17", "/report/a b%2F"};
    const unsigned char *index, *data;
    size_t index_len, len;
    const char *ct;
    T_CHECK(srv_web_asset("/static/index.html", &index, &index_len, &ct) == 0);
    for (size_t i = 0; i < sizeof app / sizeof app[0]; i++) {
        data = NULL;
        T_CHECKF(srv_web_asset(app[i], &data, &len, &ct) == 0, "%s serves the app", app[i]);
        T_CHECKF(data == index && len == index_len, "%s is index.html", app[i]);
        T_CHECKF(!strcmp(ct, "text/html; charset=utf-8"), "%s is HTML", app[i]);
    }
    T_CHECK(index_len > 15 && !memcmp(index, "<!doctype html>", 15));
}

static void t_refused(void)
{
    static const char *const bad[] = {"",          "/report/",      "/report",   "/static/",
                                      "/static",   "/static/x.js",  "/app.js",   "/static/../srv.h",
                                      "/static/app.js/", "/STATIC/app.js", "/v1/models", "//"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const unsigned char *data = NULL;
        size_t len = 0;
        const char *ct = NULL;
        T_CHECKF(srv_web_asset(bad[i], &data, &len, &ct) == -1, "'%s' is refused", bad[i]);
    }
    const unsigned char *data;
    size_t len;
    const char *ct;
    T_CHECK(srv_web_asset(NULL, &data, &len, &ct) == -1);
}

int main(void)
{
    T_RUN(t_files);
    T_RUN(t_app_paths);
    T_RUN(t_refused);
    return t_summary("test_srv_web");
}
