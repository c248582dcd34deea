/* server: the `dashdot server` command: opens the store, loads or creates the tokens, serves
 * the API and the UI, and runs maintenance until SIGINT/SIGTERM. */
#ifndef DD_SERVER_H
#define DD_SERVER_H

#include "http/auth.h"
#include "tsdb/tsdb.h"

#include <stdint.h>

typedef struct server_opts {
    const char *listen;        /* default 127.0.0.1:8080 */
    const char *data;          /* default ./data */
    size_t threads;            /* HTTP threads; 0: CPUs */
    tsdb_options store;        /* retention per tier, WAL sync; dir is set from data */
    int anonymous_read;        /* metric reads without login: -1 auto (on loopback), 0, 1 */
    int64_t archive_after_ms;  /* containers/VMs no longer reported are archived after this */
    int64_t events_retention_ms;   /* events and usage events kept this long (default 30d) */
    uint64_t events_retention_bytes; /* ... and at most this many bytes each (0: no limit) */
} server_opts;

/* Called once the server listens: its URL and the tokens. */
typedef void (*server_ready_fn)(void *ctx, const char *url, const auth_tokens *t);

/* Parses `dashdot server` (or `demo`) arguments; argv[0] is the command. `--config FILE` reads
 * an ini file first ([server] and [storage] sections, keys named like the long options without
 * dashes: listen, data, threads, log-level, auth.anonymous-read, catalog.archive-after; retention.raw, retention.1m, retention.1h,
 * retention.raw-size, retention.1m-size, retention.1h-size, wal.fsync, events.retention,
 * events.retention-size); options on the command
 * line win. Returns 0, 1 after printing help, or -EINVAL after printing the reason. */
int server_parse_args(int argc, char **argv, server_opts *o);
/* Runs the server until a signal stops it. on_ready may be NULL. Returns 0 or -errno. */
int server_run(const server_opts *o, server_ready_fn on_ready, void *ctx);

#endif
