/* server_probes: the server as a vantage point. It runs the probes of schedules that name no
 * agent (vantage "server"), writing their results straight into the store, and test runs asked
 * without an agent (POST /api/v1/probe/<id>/test). Wires the catalog, the store and the API to
 * a probe runner thread (agent/probes/runner.h). */
#ifndef DD_SERVER_PROBES_H
#define DD_SERVER_PROBES_H

#include "api/api.h"
#include "catalog/store.h"
#include "tsdb/tsdb.h"

typedef struct server_probes server_probes;

/* Starts the runner and hooks it into api (api->run_test). Returns 0 or -errno. */
int server_probes_start(server_probes **out, cat_store *cat, tsdb *db, api_ctx *api);
/* Stops the runner (before the API shuts down) and frees everything. Accepts NULL. */
void server_probes_stop(server_probes *sp, api_ctx *api);

#endif
