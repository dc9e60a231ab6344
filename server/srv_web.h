/* srv_web.h — the web page of `scanlite serve`: the files of server/web/
 * built into the binary (srv_web_assets.S) and the handler that serves them
 * at /, /report/{subject} (both the single-page app) and /static/{file},
 * with a strict Content-Security-Policy. No credentials needed: the page
 * holds no data; the API it calls checks them. */
#ifndef SRV_WEB_H
#define SRV_WEB_H

#include "srv.h"

#include <stddef.h>

/* The bytes served for a request path: "/", "/index.html" and
 * "/report/<anything>" give index.html, "/static/<name>" the named file.
 * On success *data and *len point into the binary's read-only data (never freed)
 * and *content_type is a static string; returns 0. -1: no such page. */
int srv_web_asset(const char *path, const unsigned char **data, size_t *len,
                  const char **content_type);

/* Route handler (GET/HEAD, role NONE) for the paths above; 404 otherwise. */
void srv_h_web(srv_req *r);

#endif
