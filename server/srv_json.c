/* srv_json.c — growable buffer, escaping JSON writer and strict JSON parser
 * for request bodies. The parser never trusts its input: every read is
 * bounded by the length, depth and node count are limited, strings are
 * decoded into one arena no larger than the input, invalid UTF-8 and
 * unpaired surrogates are rejected. */
#include "srv_json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- buffer ---------------------------------------------------------- */

void srv_buf_init(srv_buf *b) { memset(b, 0, sizeof *b); }

void srv_buf_free(srv_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

static int buf_reserve(srv_buf *b, size_t extra)
{
    if (b->failed)
        return -1;
    if (extra > SIZE_MAX / 2 - b->len - 1) {
        b->failed = 1;
        return -1;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void srv_buf_add(srv_buf *b, const void *p, size_t n)
{
    if (buf_reserve(b, n))
        return;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

void srv_buf_puts(srv_buf *b, const char *s) { srv_buf_add(b, s, strlen(s)); }

void srv_buf_printf(srv_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *srv_buf_take(srv_buf *b, size_t *len)
{
    if (buf_reserve(b, 0)) {
        srv_buf_free(b);
        return NULL;
    }
    char *p = b->data;
    if (len)
        *len = b->len;
    memset(b, 0, sizeof *b);
    return p;
}

/* ---- writer ---------------------------------------------------------- */

void srv_json_escape(srv_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    srv_buf_add(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (c < 0x20 || c == 0x7f) {
                memcpy(u, "\\u00", 4);
                u[4] = hex[c >> 4];
                u[5] = hex[c & 15];
                u[6] = 0;
                esc = u;
            }
        }
        if (esc) {
            srv_buf_add(b, s + run, i - run);
            srv_buf_puts(b, esc);
            run = i + 1;
        }
    }
    srv_buf_add(b, s + run, n - run);
    srv_buf_add(b, "\"", 1);
}

void srv_jw_init(srv_jw *w, srv_buf *b)
{
    memset(w, 0, sizeof *w);
    w->b = b;
    w->first[0] = 1;
}

/* Separator before a value or key at the current level. */
static void jw_sep(srv_jw *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (!w->first[w->depth])
        srv_buf_add(w->b, ",", 1);
    w->first[w->depth] = 0;
}

static void jw_open(srv_jw *w, char c)
{
    jw_sep(w);
    srv_buf_add(w->b, &c, 1);
    if (w->depth + 1 < SRV_JW_MAX_DEPTH)
        w->depth++;
    else
        w->b->failed = 1;
    w->first[w->depth] = 1;
}

static void jw_close(srv_jw *w, char c)
{
    srv_buf_add(w->b, &c, 1);
    if (w->depth > 0)
        w->depth--;
    w->after_key = 0;
}

void srv_jw_obj(srv_jw *w) { jw_open(w, '{'); }
void srv_jw_obj_end(srv_jw *w) { jw_close(w, '}'); }
void srv_jw_arr(srv_jw *w) { jw_open(w, '['); }
void srv_jw_arr_end(srv_jw *w) { jw_close(w, ']'); }

void srv_jw_key(srv_jw *w, const char *k)
{
    jw_sep(w);
    srv_json_escape(w->b, k, strlen(k));
    srv_buf_add(w->b, ":", 1);
    w->after_key = 1;
}

void srv_jw_strn(srv_jw *w, const char *s, size_t n)
{
    jw_sep(w);
    if (s)
        srv_json_escape(w->b, s, n);
    else
        srv_buf_puts(w->b, "null");
}

void srv_jw_str(srv_jw *w, const char *s) { srv_jw_strn(w, s, s ? strlen(s) : 0); }

void srv_jw_int(srv_jw *w, int64_t v)
{
    jw_sep(w);
    srv_buf_printf(w->b, "%lld", (long long)v);
}

void srv_jw_num(srv_jw *w, double v)
{
    jw_sep(w);
    if (isfinite(v))
        srv_buf_printf(w->b, "%.9g", v);
    else
        srv_buf_puts(w->b, "null");
}

void srv_jw_bool(srv_jw *w, int v)
{
    jw_sep(w);
    srv_buf_puts(w->b, v ? "true" : "false");
}

void srv_jw_null(srv_jw *w)
{
    jw_sep(w);
    srv_buf_puts(w->b, "null");
}

void srv_jw_raw(srv_jw *w, const char *json)
{
    jw_sep(w);
    srv_buf_puts(w->b, json);
}

/* ---- UTF-8 ----------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

int srv_text_ok(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
            return 0;
        if (p[i] == 0x7f)
            return 0;
        size_t k = utf8_seq(p + i, n - i);
        if (!k)
            return 0;
        i += k;
    }
    return 1;
}

/* ---- parser ---------------------------------------------------------- */

typedef struct jp {
    const unsigned char *s;
    size_t n, i;
    srv_jdoc *doc;
    char *err;
    size_t errlen;
} jp;

static int jp_fail(jp *p, const char *what)
{
    if (p->err && p->errlen)
        snprintf(p->err, p->errlen, "invalid JSON at byte %zu: %s", p->i, what);
    return -1;
}

static void jp_ws(jp *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
                           p->s[p->i] == '\r'))
        p->i++;
}

static int jp_node(jp *p, srv_jtype t)
{
    srv_jdoc *d = p->doc;
    if (d->n >= SRV_JSON_MAX_NODES)
        return jp_fail(p, "too many values");
    if (d->n == d->cap) {
        int cap = d->cap ? d->cap * 2 : 16;
        srv_jnode *nn = realloc(d->nodes, (size_t)cap * sizeof *nn);
        if (!nn)
            return jp_fail(p, "out of memory");
        d->nodes = nn;
        d->cap = cap;
    }
    srv_jnode *x = &d->nodes[d->n];
    memset(x, 0, sizeof *x);
    x->type = t;
    x->child = x->next = -1;
    return d->n++;
}

static int hex4(const unsigned char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    *out = v;
    return 0;
}

/* Decodes the string at p->i (opening quote) into the arena; returns the
 * arena offset or -1. Decoded bytes never outnumber the raw ones. */
static long jp_string(jp *p, size_t *outlen)
{
    srv_jdoc *d = p->doc;
    p->i++;
    size_t start = d->slen;
    for (;;) {
        if (p->i >= p->n)
            return jp_fail(p, "unterminated string");
        unsigned c = p->s[p->i];
        if (c == '"') {
            p->i++;
            break;
        }
        if (c < 0x20)
            return jp_fail(p, "control character in string");
        if (c == '\\') {
            if (p->i + 1 >= p->n)
                return jp_fail(p, "bad escape");
            unsigned e = p->s[p->i + 1];
            p->i += 2;
            char one = 0;
            switch (e) {
            case '"': one = '"'; break;
            case '\\': one = '\\'; break;
            case '/': one = '/'; break;
            case 'b': one = '\b'; break;
            case 'f': one = '\f'; break;
            case 'n': one = '\n'; break;
            case 'r': one = '\r'; break;
            case 't': one = '\t'; break;
            case 'u': break;
            default: return jp_fail(p, "bad escape");
            }
            if (one) {
                d->strings[d->slen++] = one;
                continue;
            }
            unsigned cp;
            if (p->i + 4 > p->n || hex4(p->s + p->i, &cp))
                return jp_fail(p, "bad \\u escape");
            p->i += 4;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return jp_fail(p, "unpaired surrogate");
            if (cp >= 0xd800 && cp <= 0xdbff) {
                unsigned lo;
                if (p->i + 6 > p->n || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u' ||
                    hex4(p->s + p->i + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
                    return jp_fail(p, "unpaired surrogate");
                p->i += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            if (cp == 0)
                return jp_fail(p, "NUL in string");
            char *o = d->strings + d->slen;
            if (cp < 0x80) {
                o[0] = (char)cp;
                d->slen += 1;
            } else if (cp < 0x800) {
                o[0] = (char)(0xc0 | (cp >> 6));
                o[1] = (char)(0x80 | (cp & 0x3f));
                d->slen += 2;
            } else if (cp < 0x10000) {
                o[0] = (char)(0xe0 | (cp >> 12));
                o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
                o[2] = (char)(0x80 | (cp & 0x3f));
                d->slen += 3;
            } else {
                o[0] = (char)(0xf0 | (cp >> 18));
                o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
                o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
                o[3] = (char)(0x80 | (cp & 0x3f));
                d->slen += 4;
            }
            continue;
        }
        size_t k = utf8_seq(p->s + p->i, p->n - p->i);
        if (!k)
            return jp_fail(p, "invalid UTF-8");
        memcpy(d->strings + d->slen, p->s + p->i, k);
        d->slen += k;
        p->i += k;
    }
    *outlen = d->slen - start;
    d->strings[d->slen++] = 0;
    return (long)start;
}

static int jp_number(jp *p, int node)
{
    size_t st = p->i;
    if (p->i < p->n && p->s[p->i] == '-')
        p->i++;
    if (p->i >= p->n)
        return jp_fail(p, "bad number");
    if (p->s[p->i] == '0') {
        p->i++;
    } else if (p->s[p->i] >= '1' && p->s[p->i] <= '9') {
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
            p->i++;
    } else {
        return jp_fail(p, "bad number");
    }
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        size_t d0 = p->i;
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
            p->i++;
        if (p->i == d0)
            return jp_fail(p, "bad number");
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
            p->i++;
        size_t d0 = p->i;
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
            p->i++;
        if (p->i == d0)
            return jp_fail(p, "bad number");
    }
    char tmp[64];
    size_t len = p->i - st;
    if (len >= sizeof tmp)
        return jp_fail(p, "number too long");
    memcpy(tmp, p->s + st, len);
    tmp[len] = 0;
    double v = strtod(tmp, NULL);
    if (!isfinite(v))
        return jp_fail(p, "number out of range");
    p->doc->nodes[node].num = v;
    return 0;
}

static int jp_lit(jp *p, const char *lit)
{
    size_t l = strlen(lit);
    if (p->n - p->i < l || memcmp(p->s + p->i, lit, l))
        return jp_fail(p, "unexpected token");
    p->i += l;
    return 0;
}

static int jp_value(jp *p, int depth);

/* Parses members/elements of the container node at p->i ('{' or '['). */
static int jp_container(jp *p, int node, int depth, int is_obj)
{
    char close = is_obj ? '}' : ']';
    p->i++;
    jp_ws(p);
    if (p->i < p->n && p->s[p->i] == (unsigned char)close) {
        p->i++;
        return 0;
    }
    int prev = -1;
    for (;;) {
        const char *key = NULL;
        if (is_obj) {
            jp_ws(p);
            if (p->i >= p->n || p->s[p->i] != '"')
                return jp_fail(p, "expected member name");
            size_t kl;
            long ko = jp_string(p, &kl);
            if (ko < 0)
                return -1;
            key = p->doc->strings + ko;
            for (int c = p->doc->nodes[node].child; c >= 0; c = p->doc->nodes[c].next)
                if (strcmp(p->doc->nodes[c].key, key) == 0)
                    return jp_fail(p, "duplicate member name");
            jp_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':')
                return jp_fail(p, "expected ':'");
            p->i++;
        }
        jp_ws(p);
        int v = jp_value(p, depth + 1);
        if (v < 0)
            return -1;
        p->doc->nodes[v].key = key;
        if (prev < 0)
            p->doc->nodes[node].child = v;
        else
            p->doc->nodes[prev].next = v;
        prev = v;
        jp_ws(p);
        if (p->i >= p->n)
            return jp_fail(p, "unterminated container");
        if (p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->s[p->i] == (unsigned char)close) {
            p->i++;
            return 0;
        }
        return jp_fail(p, "expected ',' or end of container");
    }
}

/* Returns the index of the parsed value, or -1. */
static int jp_value(jp *p, int depth)
{
    if (depth > SRV_JSON_MAX_DEPTH)
        return jp_fail(p, "nested too deeply");
    if (p->i >= p->n)
        return jp_fail(p, "unexpected end");
    unsigned c = p->s[p->i];
    int node;
    switch (c) {
    case '{':
    case '[':
        node = jp_node(p, c == '{' ? SRV_JOBJ : SRV_JARR);
        if (node < 0 || jp_container(p, node, depth, c == '{'))
            return -1;
        return node;
    case '"': {
        node = jp_node(p, SRV_JSTR);
        if (node < 0)
            return -1;
        size_t len;
        long off = jp_string(p, &len);
        if (off < 0)
            return -1;
        p->doc->nodes[node].str = p->doc->strings + off;
        p->doc->nodes[node].len = len;
        return node;
    }
    case 't':
    case 'f':
        node = jp_node(p, SRV_JBOOL);
        if (node < 0 || jp_lit(p, c == 't' ? "true" : "false"))
            return -1;
        p->doc->nodes[node].b = c == 't';
        return node;
    case 'n':
        node = jp_node(p, SRV_JNULL);
        if (node < 0 || jp_lit(p, "null"))
            return -1;
        return node;
    default:
        node = jp_node(p, SRV_JNUM);
        if (node < 0 || jp_number(p, node))
            return -1;
        return node;
    }
}

int srv_json_parse(const char *text, size_t len, srv_jdoc *doc, char *err, size_t errlen)
{
    memset(doc, 0, sizeof *doc);
    jp p = {(const unsigned char *)text, len, 0, doc, err, errlen};
    if (len > SRV_JSON_MAX_BYTES)
        return jp_fail(&p, "body too large for JSON");
    /* Decoded strings plus one NUL each never exceed 2*len+1 bytes. */
    doc->scap = 2 * len + 1;
    doc->strings = malloc(doc->scap);
    if (!doc->strings)
        return jp_fail(&p, "out of memory");
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        p.i = 3;
    jp_ws(&p);
    int root = jp_value(&p, 0);
    if (root < 0)
        goto fail;
    jp_ws(&p);
    if (p.i != p.n) {
        jp_fail(&p, "trailing characters");
        goto fail;
    }
    return 0;
fail:
    srv_json_free(doc);
    return -1;
}

void srv_json_free(srv_jdoc *doc)
{
    free(doc->nodes);
    free(doc->strings);
    memset(doc, 0, sizeof *doc);
}

const srv_jnode *srv_json_root(const srv_jdoc *doc) { return doc->n ? &doc->nodes[0] : NULL; }

const srv_jnode *srv_json_get(const srv_jdoc *doc, const srv_jnode *obj, const char *key)
{
    if (!obj || obj->type != SRV_JOBJ)
        return NULL;
    for (int c = obj->child; c >= 0; c = doc->nodes[c].next)
        if (strcmp(doc->nodes[c].key, key) == 0)
            return &doc->nodes[c];
    return NULL;
}
