/* runner: a probe scheduler on a thread of its own, for a process whose threads do not run a
 * libuv loop — the server, which runs the probes of schedules that name no agent and test runs
 * asked without one. Calls may come from any thread; they are handed to the runner's loop.
 * Results (and the periodic tick) come back on the runner's thread. */
#ifndef DD_PROBE_RUNNER_H
#define DD_PROBE_RUNNER_H

#include "sched.h"

#include <jansson.h>

typedef struct probe_runner probe_runner;

/* The result of a test run, on the runner's thread: id as given, result as probe_result_json
 * makes it (or NULL when the entry could not run, with why in message). */
typedef void (*probe_runner_test_fn)(void *ctx, const char *id, json_t *result);
/* Called on the runner's thread every second (to look for config changes, say). */
typedef void (*probe_runner_tick_fn)(void *ctx, probe_runner *r);

typedef struct probe_runner_opts {
    probe_sched_opts sched;    /* sink (on the runner's thread), vantage, limits */
    probe_runner_tick_fn tick; /* may be NULL */
    void *tick_ctx;
} probe_runner_opts;

/* Starts the thread. Returns 0, -ENOMEM or -EAGAIN (no thread). */
int probe_runner_start(probe_runner **out, const probe_runner_opts *o);
/* Makes the assignments (a JSON array as the agent config's "probes", copied) the scheduled
 * set. Entries the probe types refuse are skipped and logged. Returns 0 or -ENOMEM. */
int probe_runner_apply(probe_runner *r, const json_t *probes);
/* Runs one assignment once (copied); cb gets the result on the runner's thread. Returns 0 or
 * -ENOMEM. */
int probe_runner_test(probe_runner *r, const char *id, const json_t *entry,
                      probe_runner_test_fn cb, void *ctx);
/* Stops the thread (runs in flight are cancelled, tests pending get no answer) and frees
 * everything. Accepts NULL. */
void probe_runner_stop(probe_runner *r);

#endif
