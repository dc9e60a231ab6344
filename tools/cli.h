/* cli.h — shared helpers of the `scanlite` command-line tool: argument
 * parsing, whole-file reads with limits, JSON string output, timing. The
 * subcommands (cmd_*.c) each expose `int cmd_NAME(int argc, char **argv)`
 * returning the exit code; errors are one line on stderr. */
#ifndef CLI_H
#define CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Largest file a subcommand reads whole (model sources, images, tensors). */
#define CLI_MAX_FILE ((size_t)4 << 30)

int cmd_convert(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_preprocess(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_explain(int argc, char **argv);

/* Prints "scanlite CMD: message" on stderr; returns 1 (the exit code). */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reads a whole file (limit CLI_MAX_FILE) into a malloc'ed buffer (with a
 * trailing NUL not counted in *len). NULL with errbuf set on failure. */
void *cli_read_file(const char *path, size_t *len, char *errbuf, size_t errlen);
/* Writes len bytes; 0 on success, -1 with errno set. */
int cli_write_file(const char *path, const void *buf, size_t len);

/* Strict number parsing: 0 on success, -1 if s is not entirely a number
 * within [lo, hi]. */
int cli_parse_int(const char *s, long lo, long hi, long *out);
int cli_parse_float(const char *s, float *out);
/* "AxBxC..." into d[]; returns the count (1..max) or -1. */
int cli_parse_dims(const char *s, int64_t *d, int max);

/* Option matching: if argv[*i] is `name` and a value follows, stores it,
 * advances *i and returns 1; if it is `name` with no value, prints an error
 * and returns -1; otherwise 0. Also accepts `name=value`. */
int cli_opt(const char *cmd, int argc, char **argv, int *i, const char *name, const char **val);

/* JSON string literal (with quotes) of s on f. */
void cli_json_str(FILE *f, const char *s);

double cli_now_ms(void);

struct sl_model;
/* --class argument: a label name, else an index; -1 if neither (defined
 * in cmd_explain.c). */
int cli_label_index(const struct sl_model *m, const char *s);

#endif
