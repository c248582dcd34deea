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

#include <jansson.h>

#include <stdint.h>

/* Open file descriptors of /proc and /sys files kept across rounds: re-reading an open file
 * with pread at offset 0 makes the kernel regenerate it without the cost of open/close. */
typedef struct coll_cache coll_cache;

typedef struct coll_env {
    const char *proc;  /* "/proc" on a live host */
    const char *sys;   /* "/sys" */
    const char *root;  /* "" on a live host: prefix for filesystem mount points (statvfs) */
    uint64_t round;    /* collection round; a collector with every = N runs when round % N == 0 */
    coll_cache *cache; /* NULL: open every file every time (tests, --once) */
    /* The running collector's own state between rounds (rates, name caches), or NULL before
     * its first round. coll_run_all keeps it in the cache (without a cache it lives for one
     * call) and frees it with the collector's free_state. */
    void **state;
    int64_t now_ms;    /* the round's time stamp (wall clock, ms) */
} coll_env;

/* Creates an empty descriptor cache. Returns 0 or -ENOMEM. Free with coll_cache_free. */
int coll_cache_new(coll_cache **out);
/* Closes every cached descriptor and frees the cache. Accepts NULL. */
void coll_cache_free(coll_cache *c);

typedef int (*coll_fn)(const coll_env *env, batch *b);
/* Adds what a collector knows about child machines (the "containers" or "vms" array of the
 * inventory document, see docs/catalog.md) to inv. Returns 0 or -ENOMEM. */
typedef int (*coll_children_fn)(void *state, json_t *inv);

typedef struct coll_def {
    const char *name; /* "cpu", "meminfo", ... as given to --collectors */
    coll_fn fn;
    unsigned every;   /* run every N rounds (expensive or slowly changing sources) */
    void (*free_state)(void *state); /* NULL: the collector keeps no state */
    coll_children_fn children;       /* NULL: knows no child machines */
} coll_def;

/* All collectors, terminated by an entry whose name is NULL. */
extern const coll_def coll_table[];

/* Adds the child machines every stateful collector knows (from its last round) to the
 * inventory object inv. Returns 0 or -ENOMEM. Loop thread. */
int coll_children(coll_cache *c, json_t *inv);

/* Runs every enabled collector into b. `enabled` is NULL (all) or a NULL-terminated list of
 * names. A failing collector is logged (once per distinct error) and the others still run.
 * Returns the number of collectors that failed. */
int coll_run_all(const coll_env *env, const char *const *enabled, batch *b);

#endif
