/* cli_query: `dashdot query`, PromQL from the command line against a running server. */
#ifndef DD_CLI_QUERY_H
#define DD_CLI_QUERY_H

/* Runs the query command (argv[0] is "query"). Returns the process exit status: 0 success,
 * 1 the server or the connection failed (message on stderr), 2 bad arguments. */
int cli_query_main(int argc, char **argv);

#endif
