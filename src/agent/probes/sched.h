/* sched: runs the scheduled probes on a libuv loop.
 *
 * Each probe runs every interval on a fixed phase of the wall clock: a run is due at
 * k * interval + phase, where the phase comes from a hash of the probe, its schedule and the
 * vantage, so a thousand probes with the same interval spread evenly over it instead of firing
 * in one burst, and a restarted agent keeps its rhythm. A random delay of up to the schedule's
 * jitter is added to each run. At most max_inflight runs go at once; a due run waits in a
 * queue for a free slot and is skipped (counted) if it waited a whole interval. A run still
 * going when its next one is due makes that one skipped; a run that reaches its timeout is
 * cancelled (counted). A probe whose definition changed, or that was added after the first
 * apply, runs within two seconds instead of waiting for its phase — when an apply brings at
 * most 50 such probes (an edit); more (a whole config arriving) keep their phases.
 *
 * Loop thread only. */
#ifndef DD_PROBE_SCHED_H
#define DD_PROBE_SCHED_H

#include "probe.h"

typedef struct probe_sched probe_sched;

typedef struct probe_sched_opts {
    probe_opts probe;      /* vantage, plugin_dirs (strings must outlive the scheduler) */
    unsigned max_inflight; /* runs at once; 0: PROBE_SCHED_INFLIGHT */
    probe_sink_fn sink;    /* every finished scheduled run */
    void *sink_ctx;
} probe_sched_opts;

#define PROBE_SCHED_INFLIGHT 512

typedef struct probe_sched_stats {
    size_t scheduled; /* probes scheduled */
    size_t inflight;  /* runs in progress */
    size_t queued;    /* due runs waiting for a slot */
    uint64_t runs, failures, timeouts, skipped, late; /* sums over every probe ever scheduled */
} probe_sched_stats;

/* Makes a scheduler with nothing scheduled. Returns 0 or -ENOMEM. */
int probe_sched_new(probe_sched **out, uv_loop_t *loop, const probe_sched_opts *o);
/* Makes defs (n of them) the scheduled set, taking a reference to each: probes whose hash did
 * not change keep their timing and counters; changed ones take effect from their next run
 * (soon, see above); removed ones stop (a run in flight is cancelled, its result dropped).
 * Two definitions with the same schedule and probe ids: the later wins. Returns 0 or -ENOMEM
 * (the old set then stays). */
int probe_sched_apply(probe_sched *s, probe_def *const *defs, size_t n);
/* Runs def once now, outside the schedule (tests, `dashdot probe`), with its timeout; cb gets
 * the result (counters NULL). Counts toward max_inflight but never waits for a slot. Returns 0
 * or -ENOMEM. */
int probe_sched_run_once(probe_sched *s, probe_def *def, probe_sink_fn cb, void *ctx);
void probe_sched_get_stats(const probe_sched *s, probe_sched_stats *st);
/* Stops everything: runs in flight are cancelled without results. The scheduler is freed once
 * libuv has closed its handles (run the loop until it ends). Accepts NULL. */
void probe_sched_close(probe_sched *s);

#endif
