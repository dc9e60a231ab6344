/* srv_cli.c — `scanlite serve`, `scanlite key ...`, `scanlite user ...`:
 * option parsing (every serve flag also from SCANLITE_<FLAG>, plus PORT and
 * API_KEY as the seed backends used them; flags win over the environment),
 * and the key/user administration commands that work on the database
 * directly (safe while the server runs: SQLite WAL). */
#include "srv_cli.h"

#include "srv.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* Usage on f: stdout for --help (exit 0), stderr after a mistake (exit 2). */
static void serve_usage(FILE *f)
{
    fprintf(f,
            "usage: scanlite serve [--models DIR | -m NAME=FILE ...] [--host 127.0.0.1]\n"
            "         [--port 8080] [--db scanlite.db] [--data-dir DIR] [--threads N]\n"
            "         [--workers N] [--queue N] [--max-body 32MB] [--max-connections N]\n"
            "         [--session-ttl SECONDS] [--api-key-file F] [--log-json]\n"
            "Each flag may come from SCANLITE_<FLAG> (SCANLITE_PORT, SCANLITE_DB, ...);\n"
            "PORT and API_KEY are read too. The API_KEY key has the clinician role.\n");
}

/* "32MB", "512k", "1048576" -> bytes (binary multiples). */
static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || s[0] == '-')
        return -1;
    unsigned long long mul = 1;
    if (!strcasecmp(end, "k") || !strcasecmp(end, "kb"))
        mul = 1ull << 10;
    else if (!strcasecmp(end, "m") || !strcasecmp(end, "mb"))
        mul = 1ull << 20;
    else if (!strcasecmp(end, "g") || !strcasecmp(end, "gb"))
        mul = 1ull << 30;
    else if (*end && strcasecmp(end, "b"))
        return -1;
    if (v == 0 || v > (1ull << 40) / mul)
        return -1;
    *out = (size_t)(v * mul);
    return 0;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    int64_t v;
    if (srv_parse_i64(s, &v) || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

/* A flag's value: argv first, then SCANLITE_<NAME>, then the alias. */
static const char *env_flag(const char *name, const char *alias)
{
    char var[64] = "SCANLITE_";
    size_t l = strlen(var);
    for (const char *p = name; *p && l < sizeof var - 1; p++)
        var[l++] = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    var[l] = 0;
    const char *v = getenv(var);
    if ((!v || !*v) && alias)
        v = getenv(alias);
    return v && *v ? v : NULL;
}

static char *default_data_dir(const char *db_path)
{
    static char buf[PATH_MAX];
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", db_path);
    snprintf(buf, sizeof buf, "%s/scanlite-data", dirname(tmp));
    return buf;
}

int srv_cmd_serve(int argc, char **argv)
{
    srv_config c;
    memset(&c, 0, sizeof c);
    static const char *const names[] = {"models", "host", "port", "db", "data-dir", "threads",
                                        "workers", "queue", "max-body", "max-connections",
                                        "session-ttl", "api-key-file", "log-json"};
    enum { N_NAMES = sizeof names / sizeof names[0] };
    const char *val[N_NAMES] = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            serve_usage(stdout);
            return 0;
        }
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            const char *eq = i + 1 < argc ? strchr(argv[i + 1], '=') : NULL;
            if (!eq || eq == argv[i + 1] || !eq[1]) {
                fprintf(stderr, "scanlite serve: -m wants NAME=FILE.slm\n");
                return 2;
            }
            if (c.nmodel_args == SRV_MAX_MODELS) {
                fprintf(stderr, "scanlite serve: more than %d models\n", SRV_MAX_MODELS);
                return 2;
            }
            argv[i + 1][eq - argv[i + 1]] = 0;
            c.model_names[c.nmodel_args] = argv[i + 1];
            c.model_files[c.nmodel_args++] = argv[i + 1] + (eq - argv[i + 1]) + 1;
            i++;
            continue;
        }
        int k = -1;
        for (int j = 0; j < N_NAMES; j++)
            if (!strncmp(a, "--", 2) && !strcmp(a + 2, names[j]))
                k = j;
        if (k < 0) {
            fprintf(stderr, "scanlite serve: unknown option %s\n", a);
            serve_usage(stderr);
            return 2;
        }
        if (!strcmp(names[k], "log-json")) {
            val[k] = "1";
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "scanlite serve: %s needs a value\n", a);
            return 2;
        }
        val[k] = argv[++i];
    }
    for (int j = 0; j < N_NAMES; j++)
        if (!val[j])
            val[j] = env_flag(names[j], !strcmp(names[j], "port") ? "PORT" : NULL);
    c.models_dir = val[0];
    c.host = val[1] ? val[1] : "127.0.0.1";
    c.port = 8080;
    c.db_path = val[3] ? val[3] : "scanlite.db";
    c.data_dir = val[4] ? val[4] : default_data_dir(c.db_path);
    c.threads = 1;
    c.workers = 2;
    c.queue = SRV_QUEUE_DEFAULT;
    c.max_body = SRV_MAX_BODY_DEFAULT;
    c.max_connections = SRV_CONN_LIMIT_DEFAULT;
    c.session_ttl = SRV_SESSION_TTL_DEFAULT;
    c.api_key_file = val[11];
    c.log_json = val[12] && strcmp(val[12], "0") && strcasecmp(val[12], "false");
    if ((val[2] && parse_int(val[2], 0, 65535, &c.port)) ||
        (val[5] && parse_int(val[5], 1, 256, &c.threads)) ||
        (val[6] && parse_int(val[6], 1, 256, &c.workers)) ||
        (val[7] && parse_int(val[7], 1, 100000, &c.queue)) ||
        (val[8] && parse_size(val[8], &c.max_body)) ||
        (val[9] && parse_int(val[9], 1, 10000, &c.max_connections)) ||
        (val[10] && parse_int(val[10], 1, 366 * 86400, &c.session_ttl))) {
        fprintf(stderr, "scanlite serve: bad numeric option (port 0..65535, threads/workers "
                        "1..256, --max-body like 32MB)\n");
        return 2;
    }
    return srv_run(&c);
}

/* ---- shared by key and user ---- */

/* --db F (or SCANLITE_DB) from args; the rest stay in place. */
static db *open_db(int argc, char **argv)
{
    const char *path = env_flag("db", NULL), *data = env_flag("data-dir", NULL);
    for (int i = 1; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--db"))
            path = argv[i + 1];
        if (!strcmp(argv[i], "--data-dir"))
            data = argv[i + 1];
    }
    if (!path)
        path = "scanlite.db";
    db *d = NULL;
    char err[600];
    if (db_open(path, data ? data : default_data_dir(path), 1, &d, err, sizeof err)) {
        fprintf(stderr, "scanlite: cannot open the database %s\n", err);
        return NULL;
    }
    return d;
}

/* Value of --name style option, or NULL. */
static const char *opt(int argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return NULL;
}

/* The first positional argument after the subcommand (skipping options). */
static const char *positional(int argc, char **argv, int index)
{
    int seen = 0;
    for (int i = 2; i < argc; i++) {
        if (!strncmp(argv[i], "--", 2)) {
            i++;
            continue;
        }
        if (seen++ == index)
            return argv[i];
    }
    return NULL;
}

static const char *cli_actor(void)
{
    static char buf[96];
    const char *u = getenv("USER");
    snprintf(buf, sizeof buf, "cli:%s", u ? u : "?");
    return buf;
}

static int print_key(void *ctx, int64_t id, const char *name, const char *role, const char *prefix,
                     const char *created_at, const char *revoked_at)
{
    (void)ctx;
    printf("%-5lld %-20s %-10s %s%-9s %s %s\n", (long long)id, name, role, SRV_KEY_PREFIX, prefix,
           created_at, revoked_at ? revoked_at : "active");
    return 0;
}

/* 1 when -h or --help is among the arguments. */
static int wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return 1;
    return 0;
}

static void key_usage(FILE *f)
{
    fprintf(f, "usage: scanlite key create --role admin|clinician|viewer [--name N] [--db F]\n"
               "       scanlite key revoke ID|PREFIX [--db F]\n"
               "       scanlite key list [--db F]\n"
               "The new key is printed alone on stdout, once; only its SHA-256 is stored.\n");
}

int srv_cmd_key(int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : NULL;
    if (wants_help(argc, argv)) {
        key_usage(stdout);
        return 0;
    }
    if (!sub || (strcmp(sub, "create") && strcmp(sub, "revoke") && strcmp(sub, "list"))) {
        key_usage(stderr);
        return 2;
    }
    const char *role = opt(argc, argv, "--role");
    if (!strcmp(sub, "create") && srv_role_parse(role) == SRV_ROLE_NONE) {
        fprintf(stderr, "scanlite key create: --role must be admin, clinician or viewer\n");
        return 2;
    }
    const char *target = positional(argc, argv, 0);
    if (!strcmp(sub, "revoke") && !target) {
        fprintf(stderr, "scanlite key revoke: give the key id or prefix (see `scanlite key list`)\n");
        return 2;
    }
    db *d = open_db(argc, argv);
    if (!d)
        return 1;
    int rc = 1;
    char now[DB_TIME_LEN];
    db_time_now(now, 0);
    if (!strcmp(sub, "create")) {
        const char *name = opt(argc, argv, "--name");
        char key[SRV_KEY_LEN + 1], hash[65], prefix[SRV_KEY_SHOWN + 1];
        if (srv_key_generate(key, prefix, hash)) {
            fprintf(stderr, "scanlite key create: no randomness available\n");
            goto done;
        }
        int64_t id;
        if (db_key_add(d, name ? name : prefix, role, prefix, hash, now, &id)) {
            fprintf(stderr, "scanlite key create: %s\n", db_errmsg());
            goto done;
        }
        db_audit(d, now, cli_actor(), "key_create", prefix, NULL, role);
        printf("%s\n", key);
        rc = 0;
    } else if (!strcmp(sub, "revoke")) {
        const char *t = strncmp(target, SRV_KEY_PREFIX, 4) ? target : target + 4;
        char pfx[SRV_KEY_SHOWN + 1];
        /* A whole key also works: its first hex digits are the prefix. */
        if (strlen(t) == 2 * SRV_KEY_BYTES) {
            snprintf(pfx, sizeof pfx, "%.*s", SRV_KEY_SHOWN, t);
            t = pfx;
        }
        int64_t id;
        int r = db_key_revoke(d, t, now, &id);
        if (r == 1)
            fprintf(stderr, "scanlite key revoke: no active key %s\n", target);
        else if (r == 2)
            fprintf(stderr, "scanlite key revoke: %s matches several keys; use the id\n", target);
        else if (r < 0)
            fprintf(stderr, "scanlite key revoke: %s\n", db_errmsg());
        if (r)
            goto done;
        db_audit(d, now, cli_actor(), "key_revoke", t, NULL, NULL);
        fprintf(stderr, "revoked key %lld\n", (long long)id);
        rc = 0;
    } else {
        printf("%-5s %-20s %-10s %-13s %-24s %s\n", "id", "name", "role", "prefix", "created",
               "revoked");
        rc = db_key_list(d, print_key, NULL) ? 1 : 0;
    }
done:
    db_close(d);
    return rc;
}

/* Reads a password: a line of stdin when it is not a terminal, else a
 * prompt without echo, asked twice. 0 on success. */
static int read_password(char *out, size_t cap)
{
    if (!isatty(STDIN_FILENO)) {
        if (!fgets(out, (int)cap, stdin))
            return -1;
        out[strcspn(out, "\r\n")] = 0;
        return 0;
    }
    char again[SRV_PASSWORD_MAX + 2];
    struct termios t, quiet;
    if (tcgetattr(STDIN_FILENO, &t))
        return -1;
    quiet = t;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    for (int round = 0; round < 2; round++) {
        char *dst = round ? again : out;
        size_t n = round ? sizeof again : cap;
        fprintf(stderr, round ? "again: " : "password: ");
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        char *got = fgets(dst, (int)n, stdin);
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &t);
        fputc('\n', stderr);
        if (!got)
            return -1;
        dst[strcspn(dst, "\r\n")] = 0;
    }
    int same = strcmp(out, again) == 0;
    memset(again, 0, sizeof again);
    if (!same) {
        fprintf(stderr, "the two passwords differ\n");
        return -1;
    }
    return 0;
}

static int new_password_hash(char *hash, size_t cap)
{
    char pw[SRV_PASSWORD_MAX + 2];
    if (read_password(pw, sizeof pw))
        return -1;
    size_t n = strlen(pw);
    if (n < SRV_PASSWORD_MIN || n > SRV_PASSWORD_MAX) {
        fprintf(stderr, "the password must have %d to %d characters\n", SRV_PASSWORD_MIN,
                SRV_PASSWORD_MAX);
        memset(pw, 0, sizeof pw);
        return -1;
    }
    int rc = srv_password_hash(pw, hash, cap);
    memset(pw, 0, sizeof pw);
    if (rc)
        fprintf(stderr, "cannot hash the password\n");
    return rc;
}

static int print_user(void *ctx, int64_t id, const char *name, const char *role,
                      const char *created_at)
{
    (void)ctx;
    printf("%-5lld %-24s %-10s %s\n", (long long)id, name, role, created_at);
    return 0;
}

static void user_usage(FILE *f)
{
    fprintf(f, "usage: scanlite user add NAME --role admin|clinician|viewer [--db F]\n"
               "       scanlite user passwd NAME [--db F]\n"
               "       scanlite user role NAME ROLE [--db F]\n"
               "       scanlite user del NAME [--db F]\n"
               "       scanlite user list [--db F]\n"
               "Passwords are read from stdin when it is not a terminal (%d to %d bytes).\n",
            SRV_PASSWORD_MIN, SRV_PASSWORD_MAX);
}

int srv_cmd_user(int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : NULL;
    static const char *const subs[] = {"add", "del", "list", "passwd", "role"};
    int known = 0;
    if (wants_help(argc, argv)) {
        user_usage(stdout);
        return 0;
    }
    for (size_t i = 0; sub && i < sizeof subs / sizeof subs[0]; i++)
        known |= !strcmp(sub, subs[i]);
    if (!known) {
        user_usage(stderr);
        return 2;
    }
    const char *name = positional(argc, argv, 0);
    const char *role = !strcmp(sub, "role") ? positional(argc, argv, 1) : opt(argc, argv, "--role");
    if (strcmp(sub, "list") && !srv_user_name_ok(name)) {
        fprintf(stderr, "scanlite user %s: give a user name (letters, digits, . _ - @; at most %d)\n",
                sub, DB_NAME_MAX);
        return 2;
    }
    if ((!strcmp(sub, "add") || !strcmp(sub, "role")) && srv_role_parse(role) == SRV_ROLE_NONE) {
        fprintf(stderr, "scanlite user %s: the role must be admin, clinician or viewer\n", sub);
        return 2;
    }
    db *d = open_db(argc, argv);
    if (!d)
        return 1;
    int rc = 1, r = 0;
    char now[DB_TIME_LEN], hash[DB_HASH_LEN];
    db_time_now(now, 0);
    if (!strcmp(sub, "list")) {
        printf("%-5s %-24s %-10s %s\n", "id", "name", "role", "created");
        rc = db_user_list(d, print_user, NULL) ? 1 : 0;
        goto done;
    }
    if (!strcmp(sub, "add") || !strcmp(sub, "passwd")) {
        if (new_password_hash(hash, sizeof hash))
            goto done;
        r = !strcmp(sub, "add") ? db_user_add(d, name, role, hash, now)
                                : db_user_set_password(d, name, hash);
    } else if (!strcmp(sub, "role")) {
        r = db_user_set_role(d, name, role);
    } else {
        r = db_user_delete(d, name);
    }
    if (r < 0) {
        fprintf(stderr, "scanlite user %s: %s\n", sub, db_errmsg());
        goto done;
    }
    if (r == 1) {
        fprintf(stderr, "scanlite user %s: user %s %s\n", sub, name,
                !strcmp(sub, "add") ? "already exists" : "does not exist");
        goto done;
    }
    char action[32];
    snprintf(action, sizeof action, "user_%s", sub);
    db_audit(d, now, cli_actor(), action, name, NULL, role);
    rc = 0;
done:
    db_close(d);
    return rc;
}
