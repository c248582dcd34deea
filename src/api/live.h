/* live: the server-sent-events stream of newly ingested samples (GET /api/v1/live).
 *
 * The store's observer hands every committed batch to the hub, which formats the series each
 * subscriber's match[] selectors accept into that subscriber's queue and wakes its suspended
 * connection. A keep-alive comment every 15 s lets dead clients be noticed. */
#ifndef DD_LIVE_H
#define DD_LIVE_H

#include "api.h"

/* The hub is made, and its route and store observer registered, by api_live_register
 * (api_int.h). */
/* Ends all streams and stops the keep-alive thread; new subscribers are refused. */
void api_live_stop(api_live *hub);
/* Frees the hub; the HTTP server must be stopped. Accepts NULL. */
void api_live_free(api_live *hub);

#endif
