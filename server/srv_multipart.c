/* srv_multipart.c — multipart/form-data splitting. The body is searched for
 * "--boundary" delimiters (the first may follow a preamble, the others must
 * follow CRLF); each part's header block is bounded and parsed for
 * Content-Disposition (name, filename) and Content-Type. Every offset is
 * checked against what is left of the body. */
#include "srv_multipart.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static int fail(char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "malformed multipart body: %s", what);
    return -1;
}

/* Copies the value of param (name=, filename=) from a header value; quoted
 * or token. 1 found, 0 absent, -1 too long or malformed. */
static int header_param(const char *v, size_t vlen, const char *param, char *out, size_t outlen)
{
    size_t pl = strlen(param);
    size_t i = 0;
    while (i < vlen) {
        /* Parameters follow ';' */
        while (i < vlen && v[i] != ';')
            i++;
        if (i >= vlen)
            return 0;
        i++;
        while (i < vlen && (v[i] == ' ' || v[i] == '\t'))
            i++;
        if (vlen - i > pl && !strncasecmp(v + i, param, pl) && v[i + pl] == '=') {
            i += pl + 1;
            size_t o = 0;
            if (i < vlen && v[i] == '"') {
                i++;
                while (i < vlen && v[i] != '"') {
                    if (v[i] == '\\' && i + 1 < vlen)
                        i++;
                    if (o + 1 >= outlen)
                        return -1;
                    out[o++] = v[i++];
                }
                if (i >= vlen)
                    return -1;
            } else {
                while (i < vlen && v[i] != ';' && v[i] != ' ' && v[i] != '\t') {
                    if (o + 1 >= outlen)
                        return -1;
                    out[o++] = v[i++];
                }
            }
            out[o] = 0;
            return 1;
        }
    }
    return 0;
}

int srv_multipart_boundary(const char *ct, char *out)
{
    if (!ct || strncasecmp(ct, "multipart/form-data", 19))
        return -1;
    char b[SRV_MP_BOUNDARY_MAX + 2];
    if (header_param(ct, strlen(ct), "boundary", b, sizeof b) != 1)
        return -1;
    size_t n = strlen(b);
    if (n == 0 || n > SRV_MP_BOUNDARY_MAX)
        return -1;
    memcpy(out, b, n + 1);
    return 0;
}

/* Parses one part's header block [h, h+hl) into part. */
static int part_headers(const char *h, size_t hl, srv_part *part, char *err, size_t errlen)
{
    int have_disp = 0;
    size_t i = 0;
    while (i < hl) {
        const char *eol = memmem(h + i, hl - i, "\r\n", 2);
        size_t ll = eol ? (size_t)(eol - (h + i)) : hl - i;
        const char *line = h + i;
        i += ll + 2;
        const char *colon = memchr(line, ':', ll);
        if (!colon)
            return fail(err, errlen, "part header without ':'");
        size_t nl = (size_t)(colon - line);
        const char *v = colon + 1;
        size_t vl = ll - nl - 1;
        while (vl && (*v == ' ' || *v == '\t')) {
            v++;
            vl--;
        }
        if (nl == 19 && !strncasecmp(line, "Content-Disposition", 19)) {
            if (vl < 9 || strncasecmp(v, "form-data", 9))
                return fail(err, errlen, "part is not form-data");
            if (header_param(v, vl, "name", part->name, sizeof part->name) != 1)
                return fail(err, errlen, "part without a valid name");
            int f = header_param(v, vl, "filename", part->filename, sizeof part->filename);
            if (f < 0)
                return fail(err, errlen, "file name too long or malformed");
            part->has_filename = f == 1;
            have_disp = 1;
        } else if (nl == 12 && !strncasecmp(line, "Content-Type", 12)) {
            if (vl >= sizeof part->ctype)
                return fail(err, errlen, "part Content-Type too long");
            memcpy(part->ctype, v, vl);
            part->ctype[vl] = 0;
        }
    }
    if (!have_disp)
        return fail(err, errlen, "part without Content-Disposition");
    return 0;
}

/* Next delimiter at or after pos that is followed by "--" or CRLF (a
 * delimiter-like run inside the data, "--boundaryXYZ", is data). */
static const char *find_delim(const char *body, size_t len, size_t pos, const char *delim,
                              size_t dl)
{
    while (pos < len) {
        const char *d = memmem(body + pos, len - pos, delim, dl);
        if (!d)
            return NULL;
        size_t after = (size_t)(d - body) + dl;
        if (len - after >= 2 && (!memcmp(body + after, "--", 2) || !memcmp(body + after, "\r\n", 2)))
            return d;
        pos = (size_t)(d - body) + 1;
    }
    return NULL;
}

int srv_multipart_parse(const char *body, size_t len, const char *boundary, srv_part *parts,
                        int max_parts, int *nparts, char *err, size_t errlen)
{
    char delim[SRV_MP_BOUNDARY_MAX + 5];
    size_t bl = strlen(boundary);
    *nparts = 0;
    if (bl == 0 || bl > SRV_MP_BOUNDARY_MAX)
        return fail(err, errlen, "bad boundary");
    /* "\r\n--boundary": the delimiter between parts. */
    snprintf(delim, sizeof delim, "\r\n--%s", boundary);
    size_t dl = bl + 4;
    size_t pos;
    if (len >= dl - 2 && !memcmp(body, delim + 2, dl - 2)) {
        pos = dl - 2;
    } else {
        const char *first = memmem(body, len, delim, dl);
        if (!first)
            return fail(err, errlen, "no boundary found");
        pos = (size_t)(first - body) + dl;
    }
    for (;;) {
        /* After a delimiter: "--" ends the body, CRLF starts a part. */
        if (len - pos >= 2 && !memcmp(body + pos, "--", 2))
            return 0;
        if (len - pos < 2 || memcmp(body + pos, "\r\n", 2))
            return fail(err, errlen, "bad delimiter line");
        pos += 2;
        if (*nparts >= max_parts)
            return fail(err, errlen, "too many parts");
        const char *hend = memmem(body + pos, len - pos, "\r\n\r\n", 4);
        size_t hl = hend ? (size_t)(hend - (body + pos)) : len - pos;
        if (!hend || hl > SRV_MP_MAX_HEADER)
            return fail(err, errlen, hend ? "part header too long" : "unterminated part header");
        srv_part *p = &parts[*nparts];
        memset(p, 0, sizeof *p);
        if (part_headers(body + pos, hl, p, err, errlen))
            return -1;
        pos += hl + 4;
        const char *next = find_delim(body, len, pos, delim, dl);
        if (!next)
            return fail(err, errlen, "missing closing boundary");
        p->data = body + pos;
        p->len = (size_t)(next - (body + pos));
        (*nparts)++;
        pos = (size_t)(next - body) + dl;
    }
}
