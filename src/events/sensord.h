/* sensord: the server's listening sensors — the syslog listeners (UDP or TCP, RFC 6587
 * framing) and the UDP intake of usage-event sensors — on a thread of their own with a libuv
 * loop. It follows the catalog: every second it looks at the catalog's generation and opens,
 * re-opens or closes listeners so they match the enabled sensors that name no agent. Webhook
 * and usage HTTP intakes are served by the API (api/events.c), which asks sensord for the
 * status of every sensor.
 *
 * Each UDP sender address has a token bucket (SENSORD_RATE per second, twice that as a burst):
 * messages beyond it are dropped and counted, so a flood from one host cannot starve the
 * others; TCP senders are slowed by TCP itself (reading stops while the store is behind).
 * Nothing queues without bound: parsed events go in batches of up to SENSORD_BATCH
 * (at least every 100 ms) to a writer thread that stores them, so receiving never waits for a
 * commit; at most SENSORD_QUEUE_MAX events wait for it (beyond, batches are dropped and
 * counted). The writer also writes the event counters when due. */
#ifndef DD_EV_SENSORD_H
#define DD_EV_SENSORD_H

#include "../catalog/store.h"
#include "evingest.h"

#include <jansson.h>
#include <stdint.h>

#define SENSORD_RATE 50000     /* messages per second per sender (default) */
#define SENSORD_BATCH 1024     /* events per ingest call */
#define SENSORD_MSG_MAX 65536  /* bytes of one syslog message (longer ones are cut) */
#define SENSORD_TCP_MAX 1024   /* TCP connections per listener */
#define SENSORD_QUEUE_MAX 262144 /* events waiting for the store; beyond, batches are dropped */
#define SENSORD_WRITE_MAX 16384  /* events the writer stores in one call (queued batches merged) */

typedef struct sensord sensord;

/* Starts the thread (it reads the catalog at once). Returns 0, -ENOMEM or -EAGAIN. */
int sensord_start(sensord **out, cat_store *cat, evingest *ingest);
/* Stops the thread, closes every listener, hands pending events to the ingest. Accepts NULL. */
void sensord_stop(sensord *sd);
/* The state of sensor id as JSON (new reference), for GET /api/v1/sensor/<id>/status:
 * {"state","address","error","received","stored","dropped","rejected","last_event"}; state is
 * "listening", "error", "disabled", "remote" (runs on an agent), "intake" (HTTP only) or
 * "unknown" (not seen yet). Any thread. */
json_t *sensord_status(sensord *sd, int64_t id);
/* Copies the name of sensor id into dst ("" when unknown). Any thread. */
void sensord_name(sensord *sd, int64_t id, char *dst, size_t cap);
/* Counts events received through HTTP intakes (webhook, usage), so status covers them too. */
void sensord_count(sensord *sd, int64_t id, uint64_t received, uint64_t stored,
                   uint64_t rejected, int64_t last_ms);

#endif
