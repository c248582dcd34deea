/* events: the event API — search and page through stored events (GET /api/v1/events), stream
 * new ones (GET /api/v1/events/live), list and adopt unknown senders, and the HTTP intakes of
 * sensors: webhooks (POST /api/v1/sensor/<id>/webhook, or /api/v1/hooks/<path>) and usage
 * events (POST /api/v1/usage).
 *
 * Visibility follows devices: a user whose groups restrict the devices they see sees only the
 * events of those devices (and not those of unknown senders); everyone else sees all.
 *
 * Intakes authenticate with the sensor's secret (Authorization: Bearer <secret>, a basic-auth
 * password, or ?token=) compared in constant time; a sensor without a secret takes only
 * editor or admin credentials. An intake answers 200 only after its events are stored. */
#include "api_int.h"

#include "../catalog/assign.h"
#include "../events/devmatch.h"
#include "../events/evstore.h"
#include "../events/sensord.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/timeutil.h"
#include "../wire/hooks.h"
#include "../wire/usage.h"
#include "live.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define EVENTS_LIMIT_DEFAULT 100
#define EVENTS_LIMIT_MAX 1000
#define EVENTS_MAX_FILTER 64          /* device= and sensor= values per request */
#define WEBHOOK_MAX_BODY (1u << 20)
#define USAGE_MAX_BODY (64u << 20)

struct api_event_filter {
    int all_devices;    /* no device restriction */
    int64_t *devices;   /* allowed device ids (0 = unknown) */
    size_t ndevices;
    int64_t sensors[EVENTS_MAX_FILTER];
    size_t nsensors;
    int max_severity;   /* -1 any */
    char kind[24];
};

void api_event_filter_free(api_event_filter *f)
{
    if (!f)
        return;
    mem_free(f->devices);
    mem_free(f);
}

int api_event_filter_accepts(const api_event_filter *f, const event *ev)
{
    if (f->max_severity >= 0 && ev->severity > f->max_severity)
        return 0;
    if (f->kind[0] && strcmp(f->kind, ev->kind) != 0)
        return 0;
    if (f->nsensors) {
        size_t i = 0;
        while (i < f->nsensors && f->sensors[i] != ev->sensor_id)
            i++;
        if (i == f->nsensors)
            return 0;
    }
    if (!f->all_devices) {
        size_t i = 0;
        while (i < f->ndevices && f->devices[i] != ev->device_id)
            i++;
        if (i == f->ndevices)
            return 0;
    }
    return 1;
}

void api_event_json(jsonw *w, const evingest_item *it)
{
    const event *e = it->ev;
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)it->id);
    jsonw_obj_open(w);
    jsonw_kv_str(w, "id", id);
    jsonw_kv_int(w, "time", e->t_ms);
    jsonw_kv_int(w, "recv_time", e->recv_ms);
    jsonw_key(w, "sensor");
    if (e->sensor_id) {
        jsonw_obj_open(w);
        jsonw_kv_int(w, "id", e->sensor_id);
        jsonw_kv_str(w, "name", it->sensor_name);
        jsonw_obj_close(w);
    } else {
        jsonw_null(w);
    }
    jsonw_key(w, "device");
    if (e->device_id) {
        jsonw_obj_open(w);
        jsonw_kv_int(w, "id", e->device_id);
        jsonw_kv_str(w, "name", it->device_name);
        jsonw_obj_close(w);
    } else {
        jsonw_null(w);
    }
    jsonw_kv_str(w, "kind", e->kind);
    jsonw_kv_str(w, "severity", event_severity_name(e->severity));
    jsonw_kv_int(w, "severity_code", e->severity);
    jsonw_key(w, "facility");
    if (e->facility >= 0)
        jsonw_int(w, e->facility);
    else
        jsonw_null(w);
    jsonw_kv_str(w, "host", e->host);
    jsonw_kv_str(w, "app", e->app);
    jsonw_kv_str(w, "title", e->title);
    jsonw_kv_str(w, "text", e->text);
    jsonw_key(w, "fields");
    if (e->fields[0] == '{')
        jsonw_raw(w, e->fields, strlen(e->fields)); /* validated by the store */
    else
        jsonw_null(w);
    jsonw_kv_str(w, "source", e->source);
    jsonw_kv_str(w, "fingerprint", e->fingerprint);
    jsonw_key(w, "status");
    if (e->status == EVENT_STATUS_FIRING)
        jsonw_str(w, "firing");
    else if (e->status == EVENT_STATUS_RESOLVED)
        jsonw_str(w, "resolved");
    else
        jsonw_null(w);
    jsonw_obj_close(w);
}

/* ---- visibility and filters ------------------------------------------------------------- */

/* The devices the caller may see: *all = 1 when unrestricted, else the visible ids. Returns 0,
 * or -errno after answering. */
static int visible_devices(http_request *req, http_response *res, api_ctx *ctx, int *all,
                           int64_t **ids, size_t *n)
{
    cat_actor a;
    api_actor(req, &a);
    *all = 0;
    *ids = NULL;
    *n = 0;
    if (a.role == CAT_ROLE_ADMIN || !a.user_id) {
        *all = 1;
        return 0;
    }
    /* A user: the catalog decides what their groups let them see. */
    const cat_model *m = cat_model_find("device");
    cat_actor admin = {.role = CAT_ROLE_ADMIN, .name = "events"};
    int64_t total_all = 0, total = 0;
    json_t *rows = NULL;
    cat_result r = {0};
    cat_query q1 = {.limit = 1};
    int rc = cat_list(ctx->cat, m, &admin, &q1, &rows, &total_all, &r);
    json_decref(rows);
    rows = NULL;
    size_t cap = 0;
    for (int64_t off = 0; !rc; off += 1000) {
        cat_query q = {.limit = 1000, .offset = off, .sort = "id"};
        if ((rc = cat_list(ctx->cat, m, &a, &q, &rows, &total, &r)))
            break;
        size_t i;
        json_t *o;
        json_array_foreach(rows, i, o)
        {
            if (mem_grow((void **)ids, &cap, *n, sizeof **ids, 64)) {
                rc = -ENOMEM;
                break;
            }
            (*ids)[(*n)++] = (int64_t)json_integer_value(json_object_get(o, "id"));
        }
        size_t got = json_array_size(rows);
        json_decref(rows);
        rows = NULL;
        if (got < 1000 || off + (int64_t)got >= total)
            break;
    }
    if (rc) {
        mem_free(*ids);
        *ids = NULL;
        api_cat_error(res, rc, &r);
        cat_result_clear(&r);
        return rc;
    }
    cat_result_clear(&r);
    if (total >= total_all) {
        /* No group restriction: unknown senders too. */
        mem_free(*ids);
        *ids = NULL;
        *n = 0;
        *all = 1;
    }
    return 0;
}

/* Parses an int64 > 0 (or >= 0 with zero_ok). */
static int parse_i64(const char *s, int64_t *out, int zero_ok)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0 || (!zero_ok && v == 0))
        return -EINVAL;
    *out = v;
    return 0;
}

/* The filters every event route shares: device=, sensor=, severity=, kind=. Answers 400 on
 * bad values. f->devices becomes what the caller may see, intersected with device=. */
static int parse_filter(http_request *req, http_response *res, api_ctx *ctx,
                        api_event_filter *f)
{
    int all;
    int64_t *vis;
    size_t nvis;
    f->max_severity = -1;
    if (visible_devices(req, res, ctx, &all, &vis, &nvis))
        return -EACCES;
    const char *v;
    size_t pos = 0;
    int64_t want[EVENTS_MAX_FILTER];
    size_t nwant = 0;
    while ((v = http_form_next(&req->params, "device", &pos))) {
        int64_t id = 0;
        if (nwant == EVENTS_MAX_FILTER) {
            api_error(res, 400, "bad_data", "at most %d device parameters", EVENTS_MAX_FILTER);
            goto bad;
        }
        if (!strcmp(v, "unknown"))
            id = 0;
        else if (parse_i64(v, &id, 0) && !(id = devmatch_find(ctx->devices, "", v))) {
            api_error(res, 400, "bad_data", "invalid parameter \"device\": no device \"%.100s\"",
                      v);
            goto bad;
        }
        want[nwant++] = id;
    }
    if (nwant) {
        /* Only what is both asked for and visible. */
        f->devices = mem_alloc(nwant * sizeof *f->devices);
        if (!f->devices) {
            api_error(res, 503, "internal", "out of memory");
            goto bad;
        }
        for (size_t i = 0; i < nwant; i++) {
            int ok = all;
            for (size_t k = 0; !ok && k < nvis; k++)
                ok = vis[k] == want[i] && want[i] != 0;
            if (ok)
                f->devices[f->ndevices++] = want[i];
        }
        f->all_devices = 0;
        mem_free(vis);
    } else {
        f->all_devices = all;
        f->devices = vis;
        f->ndevices = nvis;
    }
    pos = 0;
    while ((v = http_form_next(&req->params, "sensor", &pos))) {
        if (f->nsensors == EVENTS_MAX_FILTER || parse_i64(v, &f->sensors[f->nsensors], 0)) {
            api_error(res, 400, "bad_data", "invalid parameter \"sensor\": \"%.40s\" is not a sensor id", v);
            return -EINVAL;
        }
        f->nsensors++;
    }
    if ((v = http_form_get(&req->params, "severity")) && *v) {
        if ((f->max_severity = event_severity_parse(v)) < 0) {
            api_error(res, 400, "bad_data",
                      "invalid parameter \"severity\": \"%.40s\" is not a severity (emergency, "
                      "alert, critical, error, warning, notice, info, debug)",
                      v);
            return -EINVAL;
        }
    }
    if ((v = http_form_get(&req->params, "kind")) && *v) {
        if (strlen(v) >= sizeof f->kind) {
            api_error(res, 400, "bad_data", "invalid parameter \"kind\"");
            return -EINVAL;
        }
        snprintf(f->kind, sizeof f->kind, "%s", v);
    }
    return 0;
bad:
    mem_free(vis);
    return -EINVAL;
}

/* ---- GET /api/v1/events ------------------------------------------------------------------ */

typedef struct page {
    api_ctx *ctx;
    jsonw *w;
    size_t n;
} page;

static int page_row(void *vp, int64_t id, const event *ev)
{
    page *p = vp;
    char sname[128], dname[128];
    sname[0] = dname[0] = '\0';
    if (ev->sensor_id && p->ctx->sensors)
        sensord_name(p->ctx->sensors, ev->sensor_id, sname, sizeof sname);
    if (ev->device_id)
        devmatch_name(p->ctx->devices, ev->device_id, dname, sizeof dname);
    evingest_item it = {id, ev, sname, dname};
    api_event_json(p->w, &it);
    p->n++;
    return 0;
}

static void handle_events(http_request *req, http_response *res, void *vctx)
{
    api_ctx *ctx = vctx;
    api_event_filter f;
    memset(&f, 0, sizeof f);
    evstore_filter q;
    memset(&q, 0, sizeof q);
    char err[256];
    int64_t from = 0, to = 0, next = 0;
    if (parse_filter(req, res, ctx, &f))
        goto out;
    if (api_time_param(req, res, "from", 0, &from) || api_time_param(req, res, "to", 0, &to))
        goto out;
    if (from && to && from > to) {
        api_error(res, 400, "bad_data", "\"from\" is after \"to\"");
        goto out;
    }
    const char *v = http_form_get(&req->params, "limit");
    int64_t limit = EVENTS_LIMIT_DEFAULT;
    if (v && *v && (parse_i64(v, &limit, 0) || limit > EVENTS_LIMIT_MAX)) {
        api_error(res, 400, "bad_data", "invalid parameter \"limit\": 1 to %d",
                  EVENTS_LIMIT_MAX);
        goto out;
    }
    if ((v = http_form_get(&req->params, "cursor")) && *v && parse_i64(v, &q.cursor, 0)) {
        api_error(res, 400, "bad_data", "invalid parameter \"cursor\"");
        goto out;
    }
    q.from_ms = from;
    q.to_ms = to;
    q.devices = f.devices;
    q.ndevices = f.ndevices;
    q.devices_set = !f.all_devices;
    q.sensors = f.sensors;
    q.nsensors = f.nsensors;
    q.max_severity = f.max_severity;
    q.kind = f.kind[0] ? f.kind : NULL;
    q.q = http_form_get(&req->params, "q");
    if (q.q && !*q.q)
        q.q = NULL;
    q.fingerprint = http_form_get(&req->params, "fingerprint");
    if (q.fingerprint && !*q.fingerprint)
        q.fingerprint = NULL;
    q.limit = (size_t)limit;
    jsonw w;
    page p = {ctx, &w, 0};
    api_ok_begin(res, &w);
    jsonw_obj_open(&w);
    jsonw_key(&w, "events");
    jsonw_arr_open(&w);
    int rc = evstore_query(ctx->events, &q, page_row, &p, &next, err, sizeof err);
    if (rc == -EINVAL) {
        /* The store's reasons name their parameter ("search: ...", "cursor: ..."). */
        api_error(res, 400, "bad_data", "invalid query: %s", err);
        goto out;
    }
    if (rc) {
        api_error(res, 503, "internal", "cannot read events: %s", err[0] ? err : strerror(-rc));
        goto out;
    }
    jsonw_arr_close(&w);
    jsonw_key(&w, "next");
    if (next) {
        char c[24];
        snprintf(c, sizeof c, "%lld", (long long)next);
        jsonw_str(&w, c);
    } else {
        jsonw_null(&w);
    }
    jsonw_obj_close(&w);
    api_ok_end(res, &w);
out:
    mem_free(f.devices);
}

static void handle_live(http_request *req, http_response *res, void *vctx)
{
    api_ctx *ctx = vctx;
    api_event_filter *f = mem_calloc(1, sizeof *f);
    if (!f) {
        api_error(res, 503, "internal", "out of memory");
        return;
    }
    if (parse_filter(req, res, ctx, f)) {
        api_event_filter_free(f);
        return;
    }
    api_live_events_subscribe(ctx->live, f, req, res);
}

/* ---- unknown senders --------------------------------------------------------------------- */

typedef struct unk_ctx {
    api_ctx *ctx;
    jsonw *w;
} unk_ctx;

static int unknown_row(void *vu, const evstore_unknown *u)
{
    unk_ctx *c = vu;
    char sname[128] = "";
    if (u->sensor_id && c->ctx->sensors)
        sensord_name(c->ctx->sensors, u->sensor_id, sname, sizeof sname);
    jsonw_obj_open(c->w);
    jsonw_kv_str(c->w, "source", u->source ? u->source : "");
    jsonw_kv_str(c->w, "host", u->host ? u->host : "");
    jsonw_key(c->w, "sensor");
    if (u->sensor_id) {
        jsonw_obj_open(c->w);
        jsonw_kv_int(c->w, "id", u->sensor_id);
        jsonw_kv_str(c->w, "name", sname);
        jsonw_obj_close(c->w);
    } else {
        jsonw_null(c->w);
    }
    jsonw_kv_int(c->w, "count", (long long)u->count);
    jsonw_kv_int(c->w, "first", u->first_ms);
    jsonw_kv_int(c->w, "last", u->last_ms);
    jsonw_obj_close(c->w);
    return 0;
}

static void handle_unknown(http_request *req, http_response *res, void *vctx)
{
    api_ctx *ctx = vctx;
    int all;
    int64_t *vis;
    size_t nvis;
    if (visible_devices(req, res, ctx, &all, &vis, &nvis))
        return;
    mem_free(vis);
    jsonw w;
    api_ok_begin(res, &w);
    jsonw_arr_open(&w);
    unk_ctx c = {ctx, &w};
    /* Unknown senders belong to no device: only callers who see every device see them. */
    if (all && evstore_unknown_list(ctx->events, unknown_row, &c)) {
        api_error(res, 503, "internal", "cannot read the unknown senders");
        return;
    }
    jsonw_arr_close(&w);
    api_ok_end(res, &w);
}

static void handle_adopt(http_request *req, http_response *res, void *vctx)
{
    api_ctx *ctx = vctx;
    cat_actor a;
    cat_result r = {0};
    json_t *dev = NULL;
    api_actor(req, &a);
    if (a.role < CAT_ROLE_EDITOR) {
        api_error(res, 403, "forbidden", "adopting senders needs the editor or admin role");
        return;
    }
    json_t *in = api_json_body(req, res);
    if (!in)
        return;
    json_t *jd = json_object_get(in, "device");
    const char *source = json_string_value(json_object_get(in, "source"));
    const char *host = json_string_value(json_object_get(in, "host"));
    if (!json_is_integer(jd) || json_integer_value(jd) <= 0) {
        api_error(res, 422, "bad_data", "\"device\" must be a device id");
        goto out;
    }
    if ((!source || !*source) && (!host || !*host)) {
        api_error(res, 422, "bad_data", "give the sender's \"source\" address or \"host\" name");
        goto out;
    }
    int64_t id = (int64_t)json_integer_value(jd);
    int rc = cat_get(ctx->cat, cat_model_find("device"), &a, id, &dev, &r);
    if (rc) {
        api_cat_error(res, rc, &r);
        goto out;
    }
    int64_t moved = evstore_adopt(ctx->events, source ? source : "", host ? host : "", id);
    if (moved < 0) {
        api_error(res, 503, "internal", "cannot move the events: %s", strerror((int)-moved));
        goto out;
    }
    log_info("events: %s adopted %lld events of %s%s%s as device %lld", a.name,
             (long long)moved, source ? source : "", source && host ? " / " : "", host ? host : "",
             (long long)id);
    api_json_ok(res, 200, json_pack("{sI}", "moved", (json_int_t)moved), NULL);
out:
    cat_result_clear(&r);
    json_decref(dev);
    json_decref(in);
}

/* ---- sensor status ----------------------------------------------------------------------- */

void api_sensor_status(http_request *req, http_response *res, api_ctx *ctx, int64_t id)
{
    cat_actor a;
    cat_result r = {0};
    json_t *obj = NULL;
    api_actor(req, &a);
    int rc = cat_get(ctx->cat, cat_model_find("sensor"), &a, id, &obj, &r);
    if (rc) {
        api_cat_error(res, rc, &r);
        cat_result_clear(&r);
        return;
    }
    json_t *st = ctx->sensors ? sensord_status(ctx->sensors, id) : json_object();
    const char *type = json_string_value(json_object_get(obj, "type"));
    char intake[64];
    json_t *jin = json_null();
    if (type && !strcmp(type, "webhook")) {
        snprintf(intake, sizeof intake, "/api/v1/sensor/%lld/webhook", (long long)id);
        jin = json_string(intake);
    } else if (type && !strcmp(type, "usage-events")) {
        jin = json_string("/api/v1/usage");
    }
    json_object_set_new(st, "intake", jin);
    json_decref(obj);
    api_json_ok(res, 200, st, NULL);
}

/* ---- intakes ----------------------------------------------------------------------------- */

/* The credential an intake caller presented: a bearer token, a basic-auth password or
 * ?token=. Writes it into dst ("" when none). */
static void presented_secret(http_request *req, char *dst, size_t cap)
{
    dst[0] = '\0';
    const char *h = http_request_header(req, "Authorization");
    if (h && !strncasecmp(h, "Bearer ", 7)) {
        h += 7;
        while (*h == ' ')
            h++;
        snprintf(dst, cap, "%s", h);
        return;
    }
    if (h && !strncasecmp(h, "Basic ", 6)) {
        char *pass = NULL;
        char *user = MHD_basic_auth_get_username_password(req->conn, &pass);
        if (pass)
            snprintf(dst, cap, "%s", pass);
        if (user)
            MHD_free(user);
        if (pass)
            MHD_free(pass);
        return;
    }
    const char *t = http_form_get(&req->params, "token");
    if (t)
        snprintf(dst, cap, "%s", t);
}

/* May the caller post to sensor obj? Answers 401/403 when not. */
static int intake_allowed(http_request *req, http_response *res, const json_t *obj)
{
    char given[256];
    presented_secret(req, given, sizeof given);
    const char *secret = json_string_value(json_object_get(json_object_get(obj, "settings"), "secret"));
    if (secret && *secret && given[0] && auth_equal(given, secret))
        return 1;
    cat_actor a;
    api_actor(req, &a);
    if (a.role >= CAT_ROLE_EDITOR)
        return 1;
    if (!given[0] && a.role == CAT_ROLE_NONE)
        api_error(res, 401, "unauthorized",
                  "this intake needs the sensor's secret (Authorization: Bearer <secret>)");
    else if (a.role != CAT_ROLE_NONE)
        api_error(res, 403, "forbidden", "posting events needs the sensor's secret or the editor role");
    else
        api_error(res, 401, "unauthorized", "wrong secret for this sensor");
    return 0;
}

/* The sensor object of id if it exists and has type; answers 404 otherwise. */
static json_t *sensor_get(http_response *res, api_ctx *ctx, int64_t id, const char *type)
{
    cat_actor admin = {.role = CAT_ROLE_ADMIN, .name = "intake"};
    cat_result r = {0};
    json_t *obj = NULL;
    if (cat_get(ctx->cat, cat_model_find("sensor"), &admin, id, &obj, &r) ||
        strcmp(json_string_value(json_object_get(obj, "type")) ?: "", type) != 0) {
        cat_result_clear(&r);
        json_decref(obj);
        api_error(res, 404, "not_found", "no %s sensor %lld", type, (long long)id);
        return NULL;
    }
    return obj;
}

/* Sets the source of every event of a webhook to the poster's address. */
static void hooks_set_source(hooks_result *hr, const char *client)
{
    for (size_t i = 0; i < hr->n; i++)
        if (!hr->ev[i].source[0])
            hr->ev[i].source = client;
}

static void webhook(http_request *req, http_response *res, api_ctx *ctx, json_t *obj)
{
    hooks_result hr;
    memset(&hr, 0, sizeof hr);
    int64_t id = (int64_t)json_integer_value(json_object_get(obj, "id"));
    const char *name = json_string_value(json_object_get(obj, "name"));
    int64_t now = timeutil_now_ms();
    if (!intake_allowed(req, res, obj)) {
        sensord_count(ctx->sensors, id, 1, 0, 1, now);
        return;
    }
    if (json_is_false(json_object_get(obj, "enabled"))) {
        api_error(res, 409, "disabled", "sensor \"%s\" is disabled", name);
        return;
    }
    /* The poster's address is kept as the events' source (shown, and listed for unknown
     * senders); the ingest matches webhook events by the host they name, not by it. */
    char client[64];
    http_request_client(req, client, sizeof client);
    int rc = hooks_parse(http_request_header(req, "Content-Type"), req->body, req->body_len, now,
                         HOOKS_AUTO, &hr);
    if (rc == -EINVAL) {
        api_error(res, 400, "bad_data", "%s", hr.err);
        sensord_count(ctx->sensors, id, 1, 0, 1, now);
    } else if (rc == -EPROTO) {
        api_error(res, 422, "bad_data", "%s%s%s", hr.path, hr.path[0] ? ": " : "", hr.err);
        sensord_count(ctx->sensors, id, 1, 0, 1, now);
    } else if (rc == -E2BIG) {
        api_error(res, 413, "bad_data", "%s", hr.err[0] ? hr.err : "too many events");
        sensord_count(ctx->sensors, id, 1, 0, 1, now);
    } else if (rc) {
        api_error(res, 503, "internal", "out of memory; retry later");
    } else if ((rc = (hooks_set_source(&hr, client), evingest_events(ctx->ingest, id, name, hr.ev,
                                                                        hr.n, NULL)))) {
        api_error(res, 503, "internal", "cannot store the events (%s); retry later",
                  strerror(-rc));
    } else {
        sensord_count(ctx->sensors, id, hr.n, hr.n, 0, now);
        api_json_ok(res, 200,
                    json_pack("{sI ss}", "accepted", (json_int_t)hr.n, "format",
                              hooks_format_name(hr.format)),
                    NULL);
    }
    hooks_result_free(&hr);
}

/* POST /api/v1/sensor/<id>/webhook (and other POSTs under /api/v1/sensor/, which get 404/405). */
static void handle_sensor_post(http_request *req, http_response *res, void *vctx)
{
    api_ctx *ctx = vctx;
    const char *rest = req->path + strlen("/api/v1/sensor/");
    const char *slash = strchr(rest, '/');
    char idtext[24];
    int64_t id;
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    if (!slash || strcmp(slash, "/webhook") != 0 || n == 0 || n >= sizeof idtext) {
        api_error(res, slash ? 404 : 405, slash ? "not_found" : "bad_data", "%s",
                  slash ? "no such endpoint" : "method not allowed");
        return;
    }
    memcpy(idtext, rest, n);
    idtext[n] = '\0';
    if (parse_i64(idtext, &id, 0)) {
        api_error(res, 404, "not_found", "\"%s\" is not a sensor id", idtext);
        return;
    }
    json_t *obj = sensor_get(res, ctx, id, "webhook");
    if (obj)
        webhook(req, res, ctx, obj);
    json_decref(obj);
}

/* Finds the enabled-or-not sensor of a type whose settings.<key> equals value. */
static json_t *sensor_by_setting(api_ctx *ctx, const char *type, const char *key,
                                 const char *value)
{
    const cat_model *m = cat_model_find("sensor");
    cat_actor admin = {.role = CAT_ROLE_ADMIN, .name = "intake"};
    const char *keys[] = {"type"}, *vals[] = {type};
    json_t *found = NULL;
    for (int64_t off = 0; !found; off += 1000) {
        cat_query q = {.keys = keys, .vals = vals, .n = 1, .limit = 1000, .offset = off,
                       .sort = "id"};
        json_t *rows = NULL;
        int64_t total = 0;
        cat_result r = {0};
        if (cat_list(ctx->cat, m, &admin, &q, &rows, &total, &r)) {
            cat_result_clear(&r);
            return NULL;
        }
        size_t i;
        json_t *o;
        json_array_foreach(rows, i, o)
        {
            const char *v = json_string_value(json_object_get(json_object_get(o, "settings"), key));
            if (v && *v && auth_equal(value, v)) {
                found = json_incref(o);
                break;
            }
        }
        size_t got = json_array_size(rows);
        json_decref(rows);
        if (got < 1000 || off + (int64_t)got >= total)
            break;
    }
    return found;
}

/* POST /api/v1/hooks/<path>: the webhook sensor whose settings.path is <path>. */
static void handle_hooks(http_request *req, http_response *res, void *vctx)
{
    api_ctx *ctx = vctx;
    const char *path = req->path + strlen("/api/v1/hooks/");
    json_t *obj = *path ? sensor_by_setting(ctx, "webhook", "path", path) : NULL;
    if (!obj) {
        api_error(res, 404, "not_found", "no webhook sensor with path \"%.80s\"", path);
        return;
    }
    webhook(req, res, ctx, obj);
    json_decref(obj);
}

/* POST /api/v1/usage: the usage-events sensor is the one whose secret the caller presents, or
 * ?sensor=<id> for editor and admin credentials. */
static void handle_usage(http_request *req, http_response *res, void *vctx)
{
    api_ctx *ctx = vctx;
    char given[256];
    json_t *obj = NULL;
    presented_secret(req, given, sizeof given);
    const char *sid = http_form_get(&req->params, "sensor");
    if (sid && *sid) {
        int64_t id;
        if (parse_i64(sid, &id, 0)) {
            api_error(res, 400, "bad_data", "invalid parameter \"sensor\"");
            return;
        }
        if (!(obj = sensor_get(res, ctx, id, "usage-events")))
            return;
    } else if (given[0]) {
        obj = sensor_by_setting(ctx, "usage-events", "secret", given);
    }
    if (!obj) {
        cat_actor a;
        api_actor(req, &a);
        if (a.role >= CAT_ROLE_EDITOR)
            api_error(res, 400, "bad_data", "name the usage-events sensor: ?sensor=<id>");
        else
            api_error(res, 401, "unauthorized",
                      "this intake needs a usage-events sensor's secret (Authorization: Bearer "
                      "<secret>)");
        return;
    }
    if (!intake_allowed(req, res, obj))
        goto out;
    int64_t id = (int64_t)json_integer_value(json_object_get(obj, "id"));
    const char *name = json_string_value(json_object_get(obj, "name"));
    if (json_is_false(json_object_get(obj, "enabled"))) {
        api_error(res, 409, "disabled", "sensor \"%s\" is disabled", name);
        goto out;
    }
    const char *ct = http_request_header(req, "Content-Type");
    int json = ct && !strncasecmp(ct, "application/json", 16);
    usage_report *rep = mem_alloc(sizeof *rep);
    if (!rep) {
        api_error(res, 503, "internal", "out of memory; retry later");
        goto out;
    }
    size_t dups = 0;
    int64_t now = timeutil_now_ms();
    int rc = evingest_usage_body(ctx->ingest, name, req->body, req->body_len, json, now, rep,
                                 &dups);
    sensord_count(ctx->sensors, id, rep->accepted + rep->rejected,
                  rc ? 0 : rep->accepted - dups, rep->rejected, now);
    if (rc == -EINVAL) {
        api_error(res, 400, "bad_data", "%s",
                  rep->nerrors ? rep->errors[0].reason : "the body is not valid JSON");
    } else if (rc) {
        api_error(res, 503, "internal", "cannot store the usage events (%s); retry later",
                  strerror(-rc));
    } else {
        json_t *errs = json_array();
        for (size_t i = 0; i < rep->nerrors; i++)
            json_array_append_new(errs, json_pack("{sI ss}", "line",
                                                  (json_int_t)rep->errors[i].line, "reason",
                                                  rep->errors[i].reason));
        api_json_ok(res, rep->rejected && !rep->accepted ? 422 : 200,
                    json_pack("{sI sI sI so}", "accepted", (json_int_t)(rep->accepted - dups),
                              "rejected", (json_int_t)rep->rejected, "duplicates",
                              (json_int_t)dups, "errors", errs),
                    NULL);
    }
    mem_free(rep);
out:
    json_decref(obj);
}

static void on_events(void *vctx, const evingest_item *items, size_t n)
{
    api_ctx *ctx = vctx;
    if (ctx->live)
        api_live_events(ctx->live, items, n);
}

int api_events_register(http_server *s, api_ctx *ctx)
{
    evingest_set_observer(ctx->ingest, on_events, ctx);
    int rc = http_route_add(s, "GET", "/api/v1/events", HTTP_NEED_USER, 0, handle_events, ctx);
    if (!rc)
        rc = http_route_add(s, "GET", "/api/v1/events/live", HTTP_NEED_USER, 0, handle_live, ctx);
    if (!rc)
        rc = http_route_add(s, "GET", "/api/v1/events/unknown", HTTP_NEED_USER, 0,
                            handle_unknown, ctx);
    if (!rc)
        rc = http_route_add(s, "POST", "/api/v1/events/adopt", HTTP_NEED_USER, 0, handle_adopt,
                            ctx);
    /* Intakes check their own credentials (the sensor's secret is no catalog token). */
    if (!rc)
        rc = http_route_add(s, "POST", "/api/v1/sensor/", HTTP_PREFIX, WEBHOOK_MAX_BODY,
                            handle_sensor_post, ctx);
    if (!rc)
        rc = http_route_add(s, "POST", "/api/v1/hooks/", HTTP_PREFIX,
                            WEBHOOK_MAX_BODY, handle_hooks, ctx);
    if (!rc)
        rc = http_route_add(s, "POST", "/api/v1/usage", 0, USAGE_MAX_BODY, handle_usage, ctx);
    return rc;
}
