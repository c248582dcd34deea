/* probe_int: what the scheduler (sched.c) and the CLI use of probe.c beyond the probe types'
 * contract: the per-loop environment and the life of a run. Loop thread only. */
#ifndef DD_PROBE_INT_H
#define DD_PROBE_INT_H

#include "probe.h"

/* What runs on one loop share: options, each type's shared state, the curl multi handle. */
typedef struct probe_env {
    uv_loop_t *loop;
    probe_opts opts;
    void **shared;    /* per type (index in the type table), made on first use */
    int *shared_made; /* 1 made, -1 failed (not retried until the env is remade) */
    curlmux *curl;
    resolver *res;
} probe_env;

/* Sets up env on loop with a copy of opts' pointers (the strings must outlive env). Returns 0
 * or -ENOMEM. */
int probe_env_init(probe_env *env, uv_loop_t *loop, const probe_opts *opts);
/* Frees the types' shared state and closes the curl handle (run the loop afterwards so libuv
 * handles finish closing). No run may be in progress. */
void probe_env_close(probe_env *env);

/* Called once when a run ends (done by the type, or cancelled at the timeout); the result is
 * valid during the call. The callee frees the run with probe_run_free (it may do so inside). */
typedef void (*probe_run_end_fn)(void *ctx, probe_run *r, const probe_result *res);

/* Makes a run of def (a reference is taken) due at due_ms (wall clock). Returns 0 or -ENOMEM. */
int probe_run_new(probe_run **out, probe_env *env, probe_def *def, int64_t due_ms,
                  probe_run_end_fn end, void *ctx);
/* Starts the run: end is called when it is over, possibly before this returns. The caller
 * must not touch r after this call unless it knows the run is still in progress (it has not
 * seen end). */
void probe_run_start(probe_run *r);
/* Cancels a run in progress at its timeout (timed_out = 1) or because the scheduler stops:
 * the type's cancel runs, then end with success 0. */
void probe_run_cancel(probe_run *r, const char *why);
void probe_run_free(probe_run *r);

/* Test hook: makes probe_type_find(t->name) return t (one extra type; NULL removes it), so the
 * scheduler's tests can run a type whose timing they control. */
void probe_type_set_extra(const probe_type *t);

#endif
