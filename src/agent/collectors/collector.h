/* collector: the agent's host collectors, reading /proc and /sys directly.
 *
 * Each collector reads the files under env's roots (so tests point them at fixture copies) and
 * adds samples to a batch under node_exporter's metric names and labels, so existing
 * dashboards and alert rules work. A collector that finds its source missing (no pressure
 * stall information on an old kernel, say) adds nothing and returns 0; only a malformed source
 * or an allocation failure is an error. Collectors keep no state between rounds and run on the
 * agent's loop thread. */
#ifndef DD_COLLECTOR_H
#define DD_COLLECTOR_H

#include "../batch.h"

typedef struct coll_env {
    const char *proc; /* "/proc" on a live host */
    const char *sys;  /* "/sys" */
    const char *root; /* "" on a live host: prefix for filesystem mount points (statvfs) */
} coll_env;

typedef int (*coll_fn)(const coll_env *env, batch *b);

typedef struct coll_def {
    const char *name; /* "cpu", "meminfo", ... as given to --collectors */
    coll_fn fn;
} coll_def;

/* All collectors, terminated by an entry whose name is NULL. */
extern const coll_def coll_table[];

/* Runs every enabled collector into b. `enabled` is NULL (all) or a NULL-terminated list of
 * names. A failing collector is logged (once per distinct error) and the others still run.
 * Returns the number of collectors that failed. */
int coll_run_all(const coll_env *env, const char *const *enabled, batch *b);

#endif
