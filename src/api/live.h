/* live: the server-sent-events stream of newly ingested samples (GET /api/v1/live).
 *
 * The store's observer hands every committed batch to the hub, which formats the series each
 * subscriber's match[] selectors accept into that subscriber's queue and wakes its suspended
 * connection. A keep-alive comment every 15 s lets dead clients be noticed. */
#ifndef DD_LIVE_H
#define DD_LIVE_H

#include "api.h"
#include "api_int.h"

/* The hub is made, and its route and store observer registered, by api_live_register
 * (api_int.h). */
/* Starts an event stream (GET /api/v1/events/live) for filter f (owned by the stream from now
 * on, even on failure): fills res as a server-sent-events stream, or answers 503. */
void api_live_events_subscribe(api_live *hub, api_event_filter *f, http_request *req,
                               http_response *res);
/* Queues `event: event` messages of newly stored events for every event stream whose filter
 * accepts them (the ingest's observer). Any thread. */
void api_live_events(api_live *hub, const evingest_item *items, size_t n);
/* Ends all streams and stops the keep-alive thread; new subscribers are refused. */
void api_live_stop(api_live *hub);
/* Frees the hub; the HTTP server must be stopped. Accepts NULL. */
void api_live_free(api_live *hub);

#endif
