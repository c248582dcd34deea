/* cli_admin: `dashdot admin ...`, maintenance commands that open the catalog directly (safe
 * while a server runs: SQLite serialises the writes). */
#ifndef DD_CLI_ADMIN_H
#define DD_CLI_ADMIN_H

/* Runs `dashdot admin` with argv[0] = "admin". Returns the process exit code. */
int cli_admin_main(int argc, char **argv);

#endif
