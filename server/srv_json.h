/* srv_json.h — the server's JSON: a growable byte buffer, a streaming JSON
 * writer that escapes every string it is given, and a small strict parser
 * for request bodies (RFC 8259 grammar, UTF-8 checked, duplicate keys
 * rejected, bounded depth, node count and size).
 * Ownership: a srv_buf owns its bytes until srv_buf_take; a srv_jdoc owns
 * every node and string it hands out until srv_json_free. */
#ifndef SRV_JSON_H
#define SRV_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef struct srv_buf {
    char *data;             /* NUL-terminated when len > 0 or after any add */
    size_t len, cap;
    int failed;             /* an allocation failed: contents are incomplete */
} srv_buf;

void srv_buf_init(srv_buf *b);
void srv_buf_free(srv_buf *b);
void srv_buf_add(srv_buf *b, const void *p, size_t n);
void srv_buf_puts(srv_buf *b, const char *s);
void srv_buf_printf(srv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the bytes to the caller (free()); the buffer is empty afterwards. */
char *srv_buf_take(srv_buf *b, size_t *len);

#define SRV_JW_MAX_DEPTH 32

/* Writer: keys and values in document order; commas are placed for you. */
typedef struct srv_jw {
    srv_buf *b;
    int depth;
    unsigned char first[SRV_JW_MAX_DEPTH];  /* no element yet at this level */
    int after_key;
} srv_jw;

void srv_jw_init(srv_jw *w, srv_buf *b);
void srv_jw_obj(srv_jw *w);                 /* { */
void srv_jw_obj_end(srv_jw *w);             /* } */
void srv_jw_arr(srv_jw *w);                 /* [ */
void srv_jw_arr_end(srv_jw *w);             /* ] */
void srv_jw_key(srv_jw *w, const char *k);
void srv_jw_str(srv_jw *w, const char *s);  /* NULL writes null */
void srv_jw_strn(srv_jw *w, const char *s, size_t n);
void srv_jw_int(srv_jw *w, int64_t v);
void srv_jw_num(srv_jw *w, double v);       /* non-finite writes null */
void srv_jw_bool(srv_jw *w, int v);
void srv_jw_null(srv_jw *w);
/* A pre-rendered JSON value, inserted verbatim. */
void srv_jw_raw(srv_jw *w, const char *json);
/* Appends s as a JSON string literal (quotes included) to b. */
void srv_json_escape(srv_buf *b, const char *s, size_t n);

/* ---- parser ---- */
#define SRV_JSON_MAX_DEPTH 16       /* request bodies are flat objects */
#define SRV_JSON_MAX_NODES 4096     /* bounds work and memory per body */
#define SRV_JSON_MAX_BYTES (1u << 20)

typedef enum srv_jtype { SRV_JNULL, SRV_JBOOL, SRV_JNUM, SRV_JSTR, SRV_JARR, SRV_JOBJ } srv_jtype;

typedef struct srv_jnode {
    srv_jtype type;
    int b;                  /* SRV_JBOOL */
    double num;             /* SRV_JNUM */
    const char *str;        /* SRV_JSTR: decoded UTF-8, NUL-terminated */
    size_t len;             /* its length (may contain no NUL: \u0000 is rejected) */
    const char *key;        /* member name when inside an object */
    int child;              /* first child index, -1 if none */
    int next;               /* next sibling index, -1 if none */
} srv_jnode;

typedef struct srv_jdoc {
    srv_jnode *nodes;       /* nodes[0] is the root */
    int n, cap;
    char *strings;          /* arena for decoded strings */
    size_t slen, scap;
} srv_jdoc;

/* 0 on success; -1 with a one-line reason in err. */
int srv_json_parse(const char *text, size_t len, srv_jdoc *doc, char *err, size_t errlen);
void srv_json_free(srv_jdoc *doc);
const srv_jnode *srv_json_root(const srv_jdoc *doc);
/* Member of an object by name, or NULL. */
const srv_jnode *srv_json_get(const srv_jdoc *doc, const srv_jnode *obj, const char *key);

/* 1 if s[0..n) is valid UTF-8 without control characters other than
 * tab/newline/CR, 0 otherwise. Used for every text field a client sends. */
int srv_text_ok(const char *s, size_t n);

#endif
