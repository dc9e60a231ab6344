/* srv_web_files.h — the one list of web-page files built into the binary,
 * read by srv_web_assets.S (which .incbin's each file) and by srv_web.c
 * (which serves them). Columns: symbol stem, name under /static/, path from
 * the repository root (make runs there), content type. Preprocessor only:
 * an assembler source includes this file. Add a file here and in server/web/. */
#ifndef SRV_WEB_FILES_H
#define SRV_WEB_FILES_H

#define SRV_WEB_FILES(X)                                                                    \
    X(index_html, "index.html", "server/web/index.html", "text/html; charset=utf-8")          \
    X(app_css, "app.css", "server/web/app.css", "text/css; charset=utf-8")                    \
    X(app_js, "app.js", "server/web/app.js", "text/javascript; charset=utf-8")                \
    X(core_js, "core.js", "server/web/core.js", "text/javascript; charset=utf-8")             \
    X(analyze_js, "analyze.js", "server/web/analyze.js", "text/javascript; charset=utf-8")    \
    X(history_js, "history.js", "server/web/history.js", "text/javascript; charset=utf-8")    \
    X(report_js, "report.js", "server/web/report.js", "text/javascript; charset=utf-8")       \
    X(stats_js, "stats.js", "server/web/stats.js", "text/javascript; charset=utf-8")          \
    X(admin_js, "admin.js", "server/web/admin.js", "text/javascript; charset=utf-8")          \
    X(favicon_svg, "favicon.svg", "server/web/favicon.svg", "image/svg+xml")

#endif
