/* evingest: where every event and usage event goes once a sensor has parsed it — matched to a
 * catalog device, appended to the event store (or the usage log), counted into metrics, and
 * shown to live subscribers.
 *
 * Metrics (counters, written into the store every EVINGEST_FLUSH_MS and at close, with a 0
 * sample just before a series' first event so increase() sees all of it):
 *   dashdot_events_total{sensor,device,severity,app}   (device: name, or "unknown")
 *   dashdot_usage_events_total{sensor,customer,type}
 *   dashdot_usage_count_total{sensor,customer,type}     (sum of the events' counts)
 *   dashdot_usage_time_took_ms_total{sensor,customer,type} (sum of t= where given)
 * each with job="events" and instance = the device (events) or "usage". The number of series
 * is capped (EVINGEST_MAX_SERIES): beyond it new label sets are counted under app="other" /
 * customer="other" so a flood of distinct names cannot blow up the metric store.
 *
 * Any thread; one lock around the counters, the stores have their own. */
#ifndef DD_EV_INGEST_H
#define DD_EV_INGEST_H

#include "../lib/event.h"
#include "../tsdb/tsdb.h"
#include "../wire/usage.h"
#include "devmatch.h"
#include "evstore.h"
#include "usagelog.h"

#include <stddef.h>
#include <stdint.h>

#define EVINGEST_FLUSH_MS 10000
#define EVINGEST_MAX_SERIES 20000

typedef struct evingest evingest;

/* One stored event as observers see it (valid during the call). */
typedef struct evingest_item {
    int64_t id;
    const event *ev;          /* device_id as matched, recv_ms set */
    const char *sensor_name;  /* "" when none */
    const char *device_name;  /* "" when unknown */
} evingest_item;
/* Called after events were stored, on the storing thread, without ingest locks held. */
typedef void (*evingest_observer_fn)(void *ctx, const evingest_item *items, size_t n);

typedef struct evingest_counts {
    uint64_t events, event_errors, usage_events, usage_duplicates, usage_errors, series_capped;
} evingest_counts;

/* Makes the ingest over open stores (which must outlive it; usage may be NULL). */
int evingest_new(evingest **out, evstore *store, usagelog *usage, devmatch *match, tsdb *db);
/* Flushes the counters and frees. Accepts NULL. */
void evingest_free(evingest *g);
/* Sets the one observer (NULL to remove). Call before traffic. */
void evingest_set_observer(evingest *g, evingest_observer_fn fn, void *ctx);

/* Stores n events received by sensor (sensor_id/sensor_name; 0/"" for none): each event's
 * device_id is matched when 0 (by source, then host), recv_ms set when 0. ids (may be NULL)
 * receive the stored ids. Returns 0 once everything is stored (durable against kill -9), or
 * -errno from the store (nothing counted then). ev is not modified. */
int evingest_events(evingest *g, int64_t sensor_id, const char *sensor_name, const event *ev,
                    size_t n, int64_t *ids);
/* Stores n usage events of sensor_name received at recv_ms; *dups counts duplicates skipped,
 * *refused the events dated outside the log's window (more than a day ahead, or past the
 * retention). Returns 0 or -errno (-ENOENT when the server keeps no usage log). */
int evingest_usage(evingest *g, const char *sensor_name, const usage_event *ev, size_t n,
                   int64_t recv_ms, size_t *dups, size_t *refused);
/* Parses a body of usage events (lines, or JSON when json is set) and stores the good ones
 * (in chunks); rep tells what was accepted and rejected (with reasons), *dups the duplicates
 * skipped. Returns 0 (even when some lines were rejected), -EINVAL when a JSON body is not JSON
 * (reason in rep->errors[0]), or -errno from the log (the accepted ones were then not all
 * stored). */
int evingest_usage_body(evingest *g, const char *sensor_name, const char *body, size_t len,
                        int json, int64_t recv_ms, usage_report *rep, size_t *dups);
/* Writes the counters into the metric store now (also done by evingest_tick). */
void evingest_flush(evingest *g, int64_t now_ms);
/* Writes the counters when EVINGEST_FLUSH_MS passed since the last time; call about every
 * second. */
void evingest_tick(evingest *g, int64_t now_ms);
/* Seals finished days and applies retention in both stores; may take seconds (sealing), so
 * call it where nothing waits (the server's maintenance loop). */
void evingest_maintain(evingest *g, int64_t now_ms);
void evingest_counts_get(evingest *g, evingest_counts *c);

#endif
