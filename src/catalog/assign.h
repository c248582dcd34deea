/* assign: which probes run where — the catalog's answer to an agent asking for its work, and
 * the change counter that lets agents long-poll for it.
 *
 * An assignment is one probe as an agent (or the server itself) runs it: the probe, its
 * endpoint and device, the schedule's interval, timeout and jitter, the settings with every
 * default filled in, and the target resolved per type (docs/probes.md). Any thread. */
#ifndef DD_CAT_ASSIGN_H
#define DD_CAT_ASSIGN_H

#include "store.h"

#include <jansson.h>
#include <stdint.h>

/* The probes of every enabled schedule that names agent agent_id (0: the schedules that name no
 * agent, which the server runs itself), whose probe is enabled and whose device is not
 * archived. A probe in several such schedules appears once, with the shortest interval. *out is
 * a new JSON array of assignment objects sorted by probe id. Returns 0, -ENOMEM or -EIO. */
int cat_assignments(cat_store *s, int64_t agent_id, json_t **out, cat_result *r);

/* The assignment of one probe regardless of schedules (for test runs): interval and timeout
 * from its schedule with the shortest interval, else 30 s and 10 s. The actor must see the probe.
 * Returns 0, -ENOENT (no such probe or not visible), -ENOMEM or -EIO. */
int cat_assignment_of(cat_store *s, const cat_actor *a, int64_t probe_id, json_t **out,
                      cat_result *r);

/* A counter that grows with every committed catalog change. */
uint64_t cat_store_generation(cat_store *s);

/* Registers fn, called (on the writing thread, after the commit, without catalog locks) after
 * every committed change. One listener; a second call replaces it. */
void cat_store_on_change(cat_store *s, void (*fn)(void *ctx), void *ctx);

#endif
