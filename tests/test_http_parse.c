/* test_http_parse.c — unit tests of the server's parsers of outside bytes:
 * the strict JSON parser (valid and invalid documents, escapes, surrogates,
 * limits), the escaping JSON writer (round trip through the parser), UTF-8
 * text validation, and the multipart/form-data splitter; plus a bounded
 * mutation fuzz of both parsers (run it under SANITIZE=1). */
#include "server/srv_json.h"
#include "server/srv_multipart.h"

#include "tests/tassert.h"

#include <stdlib.h>
#include <string.h>

static int parses(const char *s)
{
    srv_jdoc d;
    char err[128];
    int ok = srv_json_parse(s, strlen(s), &d, err, sizeof err) == 0;
    if (ok)
        srv_json_free(&d);
    return ok;
}

static void test_json_valid(void)
{
    const char *good[] = {"{}", "[]", " {\"a\" : [1, -2.5e3, true, false, null, \"x\"]} ",
                          "\"\\u00e9\\ud83d\\ude00\"", "0", "-0.0", "1E+2", "{\"a\":{\"b\":{}}}",
                          "\xef\xbb\xbf{}", "\"caf\xc3\xa9\""};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        T_CHECKF(parses(good[i]), "%s", good[i]);
    srv_jdoc d;
    char err[128];
    const char *s = "{\"correct\": true, \"label\": \"a\\\"b\\\\c\\n\", \"n\": 12.5, \"e\": \"\\u00e9\"}";
    T_CHECK(srv_json_parse(s, strlen(s), &d, err, sizeof err) == 0);
    const srv_jnode *root = srv_json_root(&d);
    const srv_jnode *c = srv_json_get(&d, root, "correct");
    const srv_jnode *l = srv_json_get(&d, root, "label");
    const srv_jnode *n = srv_json_get(&d, root, "n");
    const srv_jnode *e = srv_json_get(&d, root, "e");
    T_CHECK(c && c->type == SRV_JBOOL && c->b == 1);
    T_CHECK(l && l->type == SRV_JSTR && !strcmp(l->str, "a\"b\\c\n") && l->len == 6);
    T_CHECK(n && n->type == SRV_JNUM && n->num == 12.5);
    T_CHECK(e && !strcmp(e->str, "\xc3\xa9"));
    T_CHECK(srv_json_get(&d, root, "missing") == NULL);
    srv_json_free(&d);
}

static void test_json_invalid(void)
{
    const char *bad[] = {"", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "'x'",
                         "01", "1.", ".5", "-", "1e", "+1", "tru", "nul", "[1] [2]", "{} x",
                         "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"",
                         "\"\\u0000\"", "\"a\nb\"", "\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"",
                         "{\"a\":1,\"a\":2}", "NaN", "Infinity", "1e999", "[\"unterminated"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        T_CHECKF(!parses(bad[i]), "accepted: %s", bad[i]);
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    srv_jdoc d;
    char err[128];
    T_CHECK(srv_json_parse(deep, sizeof deep, &d, err, sizeof err) != 0 && strstr(err, "deep"));
    T_CHECK(srv_json_parse("{\"a\":\0}", 7, &d, err, sizeof err) != 0);  /* NUL byte in input */
    size_t n = 3 * SRV_JSON_MAX_NODES;
    char *many = malloc(n + 2);
    many[0] = '[';
    for (size_t i = 0; i < SRV_JSON_MAX_NODES; i++)
        memcpy(many + 1 + 2 * i, "0,", 2);
    many[2 * SRV_JSON_MAX_NODES] = ']';
    T_CHECK(srv_json_parse(many, 2 * SRV_JSON_MAX_NODES + 1, &d, err, sizeof err) != 0 &&
            strstr(err, "too many"));
    free(many);
}

static void test_json_writer(void)
{
    srv_buf b;
    srv_buf_init(&b);
    srv_jw w;
    srv_jw_init(&w, &b);
    const char nasty[] = "q\"b\\s/\x01\x1f\x7f\n\t\xc3\xa9";
    srv_jw_obj(&w);
    srv_jw_key(&w, "s");
    srv_jw_str(&w, nasty);
    srv_jw_key(&w, "k\"ey");
    srv_jw_arr(&w);
    srv_jw_int(&w, -42);
    srv_jw_num(&w, 0.25);
    srv_jw_num(&w, 1.0 / 0.0);
    srv_jw_bool(&w, 0);
    srv_jw_null(&w);
    srv_jw_str(&w, NULL);
    srv_jw_obj(&w);
    srv_jw_obj_end(&w);
    srv_jw_arr_end(&w);
    srv_jw_key(&w, "raw");
    srv_jw_raw(&w, "[1,2]");
    srv_jw_obj_end(&w);
    T_CHECK(!b.failed);
    T_CHECKF(!strcmp(b.data, "{\"s\":\"q\\\"b\\\\s/\\u0001\\u001f\\u007f\\n\\t\xc3\xa9\","
                             "\"k\\\"ey\":[-42,0.25,null,false,null,null,{}],\"raw\":[1,2]}"),
             "%s", b.data);
    srv_jdoc d;
    char err[128];
    T_CHECK(srv_json_parse(b.data, b.len, &d, err, sizeof err) == 0);
    const srv_jnode *s = srv_json_get(&d, srv_json_root(&d), "s");
    T_CHECK(s && s->len == strlen(nasty) && !memcmp(s->str, nasty, s->len));
    srv_json_free(&d);
    srv_buf_free(&b);
}

static void test_text_ok(void)
{
    T_CHECK(srv_text_ok("plain text, with tab\tand newline\n", 33));
    T_CHECK(srv_text_ok("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
    T_CHECK(!srv_text_ok("a\x01", 2));
    T_CHECK(!srv_text_ok("a\0b", 3));
    T_CHECK(!srv_text_ok("\xff", 1));
    T_CHECK(!srv_text_ok("\xc3", 1));           /* truncated sequence */
    T_CHECK(!srv_text_ok("\xe0\x80\xaf", 3));   /* overlong */
    T_CHECK(!srv_text_ok("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
}

static const char mp_body[] =
    "preamble to ignore\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"subject\"\r\n\r\n"
    "case 7\r\n"
    "--XyZ\r\n"
    "content-disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".png\"\r\n"
    "Content-Type: image/png\r\n\r\n"
    "\x89PNG\r\n--XyZnot-a-boundary\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=file; filename=b.jpg\r\n\r\n"
    "\r\n"
    "--XyZ--\r\n"
    "epilogue";

static void test_multipart(void)
{
    char bnd[SRV_MP_BOUNDARY_MAX + 1];
    T_CHECK(srv_multipart_boundary("multipart/form-data; boundary=XyZ", bnd) == 0 && !strcmp(bnd, "XyZ"));
    T_CHECK(srv_multipart_boundary("multipart/form-data; charset=utf-8; boundary=\"q r\"", bnd) == 0 &&
            !strcmp(bnd, "q r"));
    T_CHECK(srv_multipart_boundary("multipart/form-data", bnd) != 0);
    T_CHECK(srv_multipart_boundary("multipart/form-data; boundary=", bnd) != 0);
    T_CHECK(srv_multipart_boundary("text/plain; boundary=x", bnd) != 0);
    char longb[120] = "multipart/form-data; boundary=";
    memset(longb + strlen(longb), 'b', 80);
    T_CHECK(srv_multipart_boundary(longb, bnd) != 0);

    srv_part parts[8];
    int n = -1;
    char err[128];
    T_CHECK(srv_multipart_parse(mp_body, sizeof mp_body - 1, "XyZ", parts, 8, &n, err, sizeof err) == 0);
    T_CHECKF(n == 3, "n=%d %s", n, err);
    if (n == 3) {
        T_CHECK(!strcmp(parts[0].name, "subject") && !parts[0].has_filename && parts[0].len == 6 &&
                !memcmp(parts[0].data, "case 7", 6));
        T_CHECK(!strcmp(parts[1].name, "file") && !strcmp(parts[1].filename, "a \"b\".png") &&
                !strcmp(parts[1].ctype, "image/png"));
        T_CHECK(parts[1].len == 25 && !memcmp(parts[1].data, "\x89PNG\r\n--XyZnot-a-boundary", 25));
        T_CHECK(!strcmp(parts[2].filename, "b.jpg") && parts[2].len == 0 && parts[2].ctype[0] == 0);
    }
    T_CHECK(srv_multipart_parse(mp_body, sizeof mp_body - 1, "XyZ", parts, 2, &n, err, sizeof err) != 0);
    const char *bad[] = {
        "", "--XyZ", "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end",
        "--XyZ\r\nno colon here\r\n\r\nx\r\n--XyZ--",
        "--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ--",
        "--XyZ\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nx\r\n--XyZ--",
        "--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ--",
        "--XyZ\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--XyZ--",
        "--XyZxx", "--XyZ\r\nContent-Disposition: form-data; name=\"a\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        T_CHECKF(srv_multipart_parse(bad[i], strlen(bad[i]), "XyZ", parts, 8, &n, err, sizeof err) != 0,
                 "accepted bad[%zu]", i);
}

/* xorshift: reproducible mutations. */
static unsigned rng_state = 12345;
static unsigned rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static void test_fuzz(void)
{
    const char *json = "{\"correct\": false, \"label\": \"a\\u00e9\\ud83d\\ude00\", \"n\": [1, 2.5e-3, null]}";
    size_t jl = strlen(json), ml = sizeof mp_body - 1;
    char buf[512];
    srv_part parts[8];
    int accepted = 0;
    for (int iter = 0; iter < 20000; iter++) {
        const char *src = iter & 1 ? json : mp_body;
        size_t len = iter & 1 ? jl : ml;
        memcpy(buf, src, len);
        int edits = 1 + (int)(rng() % 4);
        for (int e = 0; e < edits; e++) {
            unsigned op = rng() % 3, pos = rng() % (unsigned)len;
            if (op == 0)
                buf[pos] = (char)rng();
            else if (op == 1 && len > 1)
                len = pos ? pos : 1;                /* truncate */
            else
                buf[pos] = "\"\\{}[]:,\r\n-"[rng() % 11];
        }
        /* Parse from an exact-size heap copy so ASan sees any overread. */
        char *copy = malloc(len);
        memcpy(copy, buf, len);
        if (iter & 1) {
            srv_jdoc d;
            char err[128];
            if (srv_json_parse(copy, len, &d, err, sizeof err) == 0) {
                accepted++;
                srv_json_free(&d);
            }
        } else {
            int n;
            char err[128];
            if (srv_multipart_parse(copy, len, "XyZ", parts, 8, &n, err, sizeof err) == 0) {
                accepted++;
                for (int i = 0; i < n; i++)
                    T_CHECK(parts[i].data >= copy && parts[i].data + parts[i].len <= copy + len);
            }
        }
        free(copy);
    }
    T_CHECK(accepted > 0 && accepted < 20000);
}

int main(void)
{
    T_RUN(test_json_valid);
    T_RUN(test_json_invalid);
    T_RUN(test_json_writer);
    T_RUN(test_text_ok);
    T_RUN(test_multipart);
    T_RUN(test_fuzz);
    return t_summary("test_http_parse");
}
