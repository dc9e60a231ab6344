/* srv_cli.c — placeholder until the server lands. */
#include "srv_cli.h"

#include <stdio.h>

static int not_yet(const char *what)
{
    fprintf(stderr, "scanlite %s: not implemented yet\n", what);
    return 2;
}

int srv_cmd_serve(int argc, char **argv) { (void)argc; (void)argv; return not_yet("serve"); }
int srv_cmd_key(int argc, char **argv) { (void)argc; (void)argv; return not_yet("key"); }
int srv_cmd_user(int argc, char **argv) { (void)argc; (void)argv; return not_yet("user"); }
