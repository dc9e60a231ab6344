/* cli_util.c — helpers shared by the subcommands (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "scanlite %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

void *cli_read_file(const char *path, size_t *len, char *errbuf, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    char *buf = NULL;
    size_t got;
    if (!f) {
        snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(errbuf, errlen, "%s: not a regular file", path);
        goto fail;
    }
    if ((uint64_t)st.st_size > CLI_MAX_FILE) {
        snprintf(errbuf, errlen, "%s: file too large (%lld bytes)", path, (long long)st.st_size);
        goto fail;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        snprintf(errbuf, errlen, "%s: out of memory", path);
        goto fail;
    }
    got = fread(buf, 1, (size_t)st.st_size, f);
    if (got != (size_t)st.st_size) {
        snprintf(errbuf, errlen, "%s: short read", path);
        goto fail;
    }
    buf[got] = '\0';
    fclose(f);
    *len = got;
    return buf;
fail:
    free(buf);
    fclose(f);
    return NULL;
}

int cli_write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    if (fwrite(buf, 1, len, f) != len) {
        fclose(f);
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

int cli_parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;
    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int cli_parse_float(const char *s, float *out)
{
    char *end;
    double v;
    if (!s || !*s)
        return -1;
    /* "1/255" style fractions are accepted for --scale. */
    const char *slash = strchr(s, '/');
    errno = 0;
    v = strtod(s, &end);
    if (slash && end == slash) {
        char *end2;
        double den = strtod(slash + 1, &end2);
        if (errno || *end2 || den == 0)
            return -1;
        v /= den;
        end = end2;
    }
    if (errno || *end || v != v)
        return -1;
    *out = (float)v;
    return 0;
}

int cli_parse_dims(const char *s, int64_t *d, int max)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        long long v;
        if (n == max)
            return -1;
        errno = 0;
        v = strtoll(p, &end, 10);
        if (errno || end == p || v < 1 || v > (1LL << 30))
            return -1;
        d[n++] = v;
        if (*end == 'x' || *end == 'X' || *end == ',')
            p = end + 1;
        else if (*end == '\0')
            p = end;
        else
            return -1;
    }
    return n > 0 ? n : -1;
}

int cli_opt(const char *cmd, int argc, char **argv, int *i, const char *name, const char **val)
{
    const char *a = argv[*i];
    size_t nl = strlen(name);
    if (strncmp(a, name, nl) != 0)
        return 0;
    if (a[nl] == '=') {
        *val = a + nl + 1;
        return 1;
    }
    if (a[nl] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        cli_fail(cmd, "option %s needs a value", name);
        return -1;
    }
    *val = argv[++*i];
    return 1;
}

void cli_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

double cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}
