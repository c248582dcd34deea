/* server: the `dashdot server` command: opens the store, loads or creates the tokens, serves
 * the API and the UI, and runs maintenance until SIGINT/SIGTERM. */
#ifndef DD_SERVER_H
#define DD_SERVER_H

#include "http/auth.h"

#include <stdint.h>

typedef struct server_opts {
    const char *listen;        /* default 127.0.0.1:8080 */
    const char *data;          /* default ./data */
    int64_t retention_ms;      /* default 6h (in-memory store) */
    size_t threads;            /* HTTP threads; 0: CPUs */
} server_opts;

/* Called once the server listens: its URL and the tokens. */
typedef void (*server_ready_fn)(void *ctx, const char *url, const auth_tokens *t);

/* Parses `dashdot server` (or `demo`) arguments; argv[0] is the command. Returns 0, 1 after
 * printing help, or -EINVAL after printing the reason. */
int server_parse_args(int argc, char **argv, server_opts *o);
/* Runs the server until a signal stops it. on_ready may be NULL. Returns 0 or -errno. */
int server_run(const server_opts *o, server_ready_fn on_ready, void *ctx);

#endif
