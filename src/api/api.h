/* api: the HTTP API (Prometheus-compatible endpoints, ingest, live stream) and the web UI,
 * registered on an http_server. The handlers run on the server's pool threads. */
#ifndef DD_API_H
#define DD_API_H

#include "../http/server.h"
#include "../catalog/store.h"
#include "../tsdb/tsdb.h"

#include <jansson.h>
#include <stdint.h>

typedef struct api_live api_live;
struct evstore;
struct evingest;
struct sensord;
struct devmatch;
typedef struct api_probes api_probes;

/* The server's own probe runner, for test runs without an agent: runs the assignment entry
 * once and later calls done(done_ctx, id, result) on any thread with the result object
 * ({"success","duration_seconds","timed_out","message","samples":[{"metric","labels","value"}]}).
 * Returns 0 when accepted. */
typedef void (*api_test_done_fn)(void *done_ctx, const char *id, json_t *result);
typedef int (*api_run_test_fn)(void *ctx, const char *id, const json_t *entry,
                               api_test_done_fn done, void *done_ctx);

typedef struct api_ctx {
    tsdb *db;
    cat_store *cat;           /* the catalog (models, people, access) */
    api_live *live;           /* set by api_register */
    api_probes *probes;       /* set by api_register: agent configs, tests, long-polls */
    struct evstore *events;   /* the event store (NULL: no event routes) */
    struct evingest *ingest;  /* where sensors' events go */
    struct sensord *sensors;  /* listening sensors and their status */
    struct devmatch *devices; /* device names and matching */
    api_run_test_fn run_test; /* NULL: the server runs no probes itself */
    void *run_test_ctx;
    int64_t start_ms;         /* server start time, for buildinfo and /metrics */
    size_t max_write_body;    /* compressed remote-write body limit */
    size_t max_write_decoded; /* decoded remote-write body limit */
    size_t max_query_samples;
    int64_t lookback_ms;
    volatile int ready;       /* 0 until the store is open and routes are in place */
    /* Counters (atomic). */
    unsigned long long write_requests, write_rejected, samples_received;
} api_ctx;

/* Registers every route and makes ctx->live. Returns 0 or -ENOMEM. ctx must outlive the
 * server. */
int api_register(http_server *s, api_ctx *ctx);
/* The HTTP server's authenticator (http_auth_fn) over the catalog: ctx is the api_ctx. */
int api_authenticate(void *ctx, const char *token, const char *session, http_principal *out);
/* Ends every live stream; call before stopping the HTTP server. */
void api_shutdown(api_ctx *ctx);
/* Frees what api_register made; call after the HTTP server is stopped. */
void api_free(api_ctx *ctx);

#endif
