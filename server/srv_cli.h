/* srv_cli.h — the server-side subcommands of the `scanlite` CLI.
 * Each takes the arguments after the subcommand name (argv[0] is the
 * subcommand itself), prints errors as one line on stderr and returns the
 * process exit code. tools/scanlite.c dispatches to them. */
#ifndef SRV_CLI_H
#define SRV_CLI_H

int srv_cmd_serve(int argc, char **argv);  /* scanlite serve ... */
int srv_cmd_key(int argc, char **argv);    /* scanlite key create|revoke|list ... */
int srv_cmd_user(int argc, char **argv);   /* scanlite user add|del|list|passwd ... */

#endif
