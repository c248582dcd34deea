/* api_int: helpers shared by the api/ handler files. */
#ifndef DD_API_INT_H
#define DD_API_INT_H

#include "../events/evingest.h"
#include "../lib/event.h"
#include "../lib/jsonw.h"
#include "api.h"

#include <jansson.h>

/* Writes a Prometheus error body {"status":"error","errorType":type,"error":msg}. */
void api_error(http_response *res, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Starts a success body: {"status":"success","data": — the caller writes data and then calls
 * api_ok_end. */
void api_ok_begin(http_response *res, jsonw *w);
void api_ok_end(http_response *res, jsonw *w);
/* Parses optional start/end parameters (defaults given); on failure writes a 400 and returns
 * -EINVAL. */
int api_time_param(http_request *req, http_response *res, const char *name, int64_t dflt,
                   int64_t *out);
/* Parses every match[] selector into one matcher list per selector. On failure writes a 400
 * and returns -EINVAL. The caller frees with api_selectors_free. */
typedef struct api_selectors {
    struct promql_expr **v;
    size_t n;
} api_selectors;
int api_parse_selectors(http_request *req, http_response *res, api_selectors *out);
void api_selectors_free(api_selectors *s);
/* Writes a label set as a JSON object. */
void api_write_labels(jsonw *w, const labels *ls);

/* Catalog answers built with jansson: {"status":"success","data":data} plus the members of
 * extra (may be NULL), with the given status. Steals data and extra. */
void api_json_ok(http_response *res, int status, json_t *data, json_t *extra);
/* The error answer for a catalog result code (403/404/409/422/400/429/500), with the
 * per-field errors of r when present. */
void api_cat_error(http_response *res, int rc, const cat_result *r);
/* Parses the request body as a JSON object; on failure writes a 400 and returns NULL. */
json_t *api_json_body(http_request *req, http_response *res);
/* The catalog actor of a request (role, user, audit name). */
void api_actor(const http_request *req, cat_actor *a);

/* Event streams: what a subscriber of GET /api/v1/events/live asked for (api/events.c). */
typedef struct api_event_filter api_event_filter;
void api_event_filter_free(api_event_filter *f);
/* True if the stored event (device_id matched) passes the filter. */
int api_event_filter_accepts(const api_event_filter *f, const event *ev);
/* Writes one event as the events API answers it. */
void api_event_json(jsonw *w, const evingest_item *it);
int api_events_register(http_server *s, api_ctx *ctx);
/* GET /api/v1/sensor/<id>/status (the catalog's item routes hand it over). */
void api_sensor_status(http_request *req, http_response *res, api_ctx *ctx, int64_t id);

void api_write_register(http_server *s, api_ctx *ctx);
int api_catalog_register(http_server *s, api_ctx *ctx);
int api_auth_register(http_server *s, api_ctx *ctx);
int api_agent_register(http_server *s, api_ctx *ctx);
void api_query_register(http_server *s, api_ctx *ctx);
void api_meta_register(http_server *s, api_ctx *ctx);
void api_metrics_register(http_server *s, api_ctx *ctx);
int api_live_register(http_server *s, api_ctx *ctx);
void api_static_register(http_server *s, api_ctx *ctx);
int api_probes_register(http_server *s, api_ctx *ctx);
/* Resumes every deferred probe request (long-polls, tests) and stops the waker thread. */
void api_probes_shutdown(api_ctx *ctx);
void api_probes_free(api_ctx *ctx);
/* POST /api/v1/probe/<id>/test and GET /api/v1/probe/<id>/status (the catalog's item routes
 * hand these over). */
void api_probe_test(http_request *req, http_response *res, api_ctx *ctx, int64_t probe_id);
void api_probe_status(http_request *req, http_response *res, api_ctx *ctx, int64_t probe_id);

#endif
