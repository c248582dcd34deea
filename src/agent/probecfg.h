/* probecfg: the agent's side of GET /api/v1/agent/config (docs/probes.md): long-polls the
 * server for this agent's probes and test runs, applies them to the probe scheduler without a
 * restart, keeps the last good config in the state directory (probes.json) so probes run on
 * while the server is down, runs test runs once and posts their results
 * (POST /api/v1/agent/test-result). Loop thread only. */
#ifndef DD_PROBECFG_H
#define DD_PROBECFG_H

#include "probes/sched.h"

#include <uv.h>

typedef struct probecfg probecfg;

typedef struct probecfg_opts {
    const char *base;      /* the server's base URL (no trailing '/'), copied */
    const char *state_dir; /* where probes.json lives, copied */
    probe_sched *sched;    /* applies the config to it (not owned) */
} probecfg_opts;

/* Makes the client and applies the config stored in the state directory, if any. Polling
 * starts with the first token (probecfg_set_token). Returns 0 or -ENOMEM. */
int probecfg_new(probecfg **out, uv_loop_t *loop, const probecfg_opts *o);
/* Sets the bearer token (copied) and (re)starts polling with it at once. Returns 0 or -ENOMEM. */
int probecfg_set_token(probecfg *c, const char *token);
/* Probes in the last applied config that the agent could not use (reasons logged). */
size_t probecfg_rejected(const probecfg *c);
/* Stops polling and posting; freed once libuv has closed its handles. Accepts NULL. */
void probecfg_close(probecfg *c);

#endif
