/* catalog: the generic REST routes of every catalog model (/api/v1/<model>[/<id>]), the
 * schema (/api/v1/schema), the audit log and the device inventory views. No handler knows a
 * model: everything comes from the model table. */
#include "api_int.h"

#include "../catalog/inventory.h"
#include "../catalog/model.h"
#include "../lib/mem.h"
#include "../lib/timeutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX "/api/v1/"
#define MAX_FILTERS 32

/* ---------------------------------------------------------------- shared helpers */

static void reply_json(http_response *res, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    buf_reset(&res->body);
    if (!text || buf_puts(&res->body, text)) {
        free(text);
        api_error(res, 500, "internal", "out of memory writing the response");
        return;
    }
    free(text);
    res->status = status;
    res->content_type = "application/json";
}

void api_json_ok(http_response *res, int status, json_t *data, json_t *extra)
{
    json_t *o = json_object();
    if (o) {
        json_object_set_new(o, "status", json_string("success"));
        json_object_set_new(o, "data", data ? data : json_null());
        if (extra)
            json_object_update(o, extra);
    } else
        json_decref(data);
    json_decref(extra);
    reply_json(res, status, o);
}

void api_cat_error(http_response *res, int rc, const cat_result *r)
{
    int status;
    const char *type;
    switch (rc) {
    case -EACCES: status = 403, type = "forbidden"; break;
    case -ENOENT: status = 404, type = "not_found"; break;
    case -ESTALE:
    case -EBUSY: status = 409, type = "conflict"; break;
    case -EAGAIN: status = 429, type = "too_many_requests"; break;
    case -EINVAL:
        status = r->errors ? 422 : 400;
        type = r->errors ? "validation" : "bad_data";
        break;
    case -ENOMEM: status = 500, type = "internal"; break;
    default: status = 500, type = "internal"; break;
    }
    const char *msg = r->msg[0] ? r->msg : rc == -ENOMEM ? "out of memory" : "internal error";
    json_t *o = json_pack("{ss ss ss}", "status", "error", "errorType", type, "error", msg);
    if (o && r->errors)
        json_object_set(o, "errors", r->errors);
    reply_json(res, status, o);
}

json_t *api_json_body(http_request *req, http_response *res)
{
    json_error_t je;
    json_t *v = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!v) {
        api_error(res, 400, "bad_data", "the body is not valid JSON: %s (line %d, column %d)",
                  je.text, je.line, je.column);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        api_error(res, 400, "bad_data", "the body must be a JSON object");
        return NULL;
    }
    return v;
}

void api_actor(const http_request *req, cat_actor *a)
{
    switch (req->who.role) {
    case HTTP_ROLE_ADMIN: a->role = CAT_ROLE_ADMIN; break;
    case HTTP_ROLE_EDITOR: a->role = CAT_ROLE_EDITOR; break;
    case HTTP_ROLE_VIEWER: a->role = CAT_ROLE_VIEWER; break;
    default: a->role = CAT_ROLE_NONE; break;
    }
    a->user_id = req->who.user_id;
    a->name = req->who.name[0] ? req->who.name : http_role_name(req->who.role);
}

/* Parses a positive decimal id; returns 0 or -EINVAL. */
static int parse_id(const char *s, size_t n, int64_t *out)
{
    char tmp[24];
    if (n == 0 || n >= sizeof tmp)
        return -EINVAL;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (tmp[i] < '0' || tmp[i] > '9')
            return -EINVAL;
    char *end;
    errno = 0;
    long long v = strtoll(tmp, &end, 10);
    if (errno || v <= 0)
        return -EINVAL;
    *out = v;
    return 0;
}

static void set_etag(http_response *res, const json_t *obj)
{
    char tag[32];
    snprintf(tag, sizeof tag, "\"%lld\"", (long long)json_integer_value(json_object_get(obj, "version")));
    http_response_header_copy(res, "ETag", tag);
}

/* If-Match: "3", W/"3" or 3; "*" or absent: 0 (no condition). -1: malformed. */
static int64_t if_match(const http_request *req)
{
    const char *h = http_request_header(req, "If-Match");
    if (!h || !strcmp(h, "*"))
        return 0;
    if (!strncmp(h, "W/", 2))
        h += 2;
    size_t n = strlen(h);
    if (n >= 2 && h[0] == '"' && h[n - 1] == '"') {
        h++;
        n -= 2;
    }
    int64_t v;
    return parse_id(h, n, &v) ? -1 : v;
}

/* ---------------------------------------------------------------- model routes */

static void handle_list(http_request *req, http_response *res, api_ctx *ctx, const cat_model *m)
{
    const char *keys[MAX_FILTERS], *vals[MAX_FILTERS];
    cat_query q = {.keys = keys, .vals = vals};
    cat_result r = {0};
    cat_actor a;
    api_actor(req, &a);
    for (size_t i = 0; i < req->params.n; i++) {
        const char *k = req->params.v[i].key, *v = req->params.v[i].value;
        char *end;
        if (!strcmp(k, "q"))
            q.q = v;
        else if (!strcmp(k, "sort"))
            q.sort = v;
        else if (!strcmp(k, "limit") || !strcmp(k, "offset")) {
            errno = 0;
            long long n = strtoll(v, &end, 10);
            if (errno || end == v || *end || n < 0) {
                api_error(res, 400, "bad_data", "%s must be a non-negative integer", k);
                return;
            }
            *(k[0] == 'l' ? &q.limit : &q.offset) = n;
            if (k[0] == 'l' && n == 0) {
                api_error(res, 400, "bad_data", "limit must be 1 to 1000");
                return;
            }
        } else if (!strcmp(k, "_"))
            continue; /* cache buster */
        else if (q.n == MAX_FILTERS) {
            api_error(res, 400, "bad_data", "at most %d filters", MAX_FILTERS);
            return;
        } else {
            keys[q.n] = k;
            vals[q.n++] = v;
        }
    }
    json_t *rows = NULL;
    int64_t total = 0;
    int rc = cat_list(ctx->cat, m, &a, &q, &rows, &total, &r);
    if (rc)
        api_cat_error(res, rc, &r);
    else
        api_json_ok(res, 200, rows,
                    json_pack("{sI sI sI}", "total", (json_int_t)total, "limit",
                              (json_int_t)(q.limit ? q.limit : 100), "offset",
                              (json_int_t)q.offset));
    cat_result_clear(&r);
}

static void handle_create(http_request *req, http_response *res, api_ctx *ctx,
                          const cat_model *m)
{
    cat_result r = {0};
    cat_actor a;
    json_t *obj = NULL, *in = api_json_body(req, res);
    if (!in)
        return;
    api_actor(req, &a);
    int rc = cat_create(ctx->cat, m, &a, in, &obj, &r);
    if (rc)
        api_cat_error(res, rc, &r);
    else {
        set_etag(res, obj);
        api_json_ok(res, 201, obj, NULL);
    }
    json_decref(in);
    cat_result_clear(&r);
}

static void handle_inventory(http_request *req, http_response *res, api_ctx *ctx, int64_t id,
                             const char *sub)
{
    cat_result r = {0};
    cat_actor a;
    json_t *out = NULL;
    int rc;
    api_actor(req, &a);
    if (!strcmp(sub, "inventory"))
        rc = cat_inventory_latest(ctx->cat, &a, id, &out, &r);
    else if (!strcmp(sub, "inventory/history"))
        rc = cat_inventory_history(ctx->cat, &a, id, &out, &r);
    else if (!strcmp(sub, "inventory/diff")) {
        int64_t now = timeutil_now_ms(), from, to;
        if (api_time_param(req, res, "to", now, &to) ||
            api_time_param(req, res, "from", to - 86400000, &from))
            return;
        rc = cat_inventory_diff(ctx->cat, &a, id, from, to, &out, &r);
    } else {
        api_error(res, 404, "not_found", "no such endpoint");
        return;
    }
    if (rc)
        api_cat_error(res, rc, &r);
    else
        api_json_ok(res, 200, out, NULL);
    cat_result_clear(&r);
}

static void handle_object(http_request *req, http_response *res, api_ctx *ctx,
                          const cat_model *m, const char *rest)
{
    cat_result r = {0};
    cat_actor a;
    json_t *obj = NULL, *in = NULL;
    int64_t id;
    const char *slash = strchr(rest, '/');
    size_t idlen = slash ? (size_t)(slash - rest) : strlen(rest);
    if (parse_id(rest, idlen, &id)) {
        api_error(res, 404, "not_found", "\"%.*s\" is not a %s id", (int)(idlen < 40 ? idlen : 40),
                  rest, m->name);
        return;
    }
    if (slash) {
        if (!strcmp(m->name, "device") && !strcmp(req->method, "GET"))
            handle_inventory(req, res, ctx, id, slash + 1);
        else if (!strcmp(m->name, "probe") && !strcmp(req->method, "GET") &&
                 !strcmp(slash + 1, "status"))
            api_probe_status(req, res, ctx, id);
        else if (!strcmp(m->name, "sensor") && !strcmp(req->method, "GET") &&
                 !strcmp(slash + 1, "status"))
            api_sensor_status(req, res, ctx, id);
        else
            api_error(res, 404, "not_found", "no such endpoint");
        return;
    }
    api_actor(req, &a);
    int rc;
    if (!strcmp(req->method, "GET") || !strcmp(req->method, "HEAD"))
        rc = cat_get(ctx->cat, m, &a, id, &obj, &r);
    else if (!strcmp(req->method, "PATCH") || !strcmp(req->method, "PUT")) {
        int64_t ver = if_match(req);
        if (ver < 0) {
            api_error(res, 400, "bad_data", "If-Match must be an ETag such as \"3\"");
            return;
        }
        if (!(in = api_json_body(req, res)))
            return;
        rc = cat_update(ctx->cat, m, &a, id, in, ver, &obj, &r);
    } else if (!strcmp(req->method, "DELETE")) {
        rc = cat_delete(ctx->cat, m, &a, id, &r);
        if (!rc)
            obj = json_pack("{sI}", "id", (json_int_t)id);
    } else {
        api_error(res, 405, "bad_data", "method not allowed");
        return;
    }
    if (rc)
        api_cat_error(res, rc, &r);
    else {
        if (strcmp(req->method, "DELETE"))
            set_etag(res, obj);
        api_json_ok(res, 200, obj, NULL);
    }
    json_decref(in);
    cat_result_clear(&r);
}

/* /api/v1/<model> and /api/v1/<model>/<id>[/...]: the model comes from the path. */
static void handle_model(http_request *req, http_response *res, void *vctx)
{
    api_ctx *ctx = vctx;
    char name[64];
    const char *p = req->path + strlen(PREFIX);
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (n >= sizeof name) {
        api_error(res, 404, "not_found", "no such endpoint");
        return;
    }
    memcpy(name, p, n);
    name[n] = '\0';
    const cat_model *m = cat_model_find(name);
    if (!m) {
        api_error(res, 404, "not_found", "no model named \"%s\" (the models: /api/v1/schema)",
                  name);
        return;
    }
    if (!slash || !slash[1]) {
        if (!strcmp(req->method, "POST"))
            handle_create(req, res, ctx, m);
        else
            handle_list(req, res, ctx, m);
        return;
    }
    handle_object(req, res, ctx, m, slash + 1);
}

/* Any other /api/v1/ path: name what is wrong. */
static void handle_unknown(http_request *req, http_response *res, void *vctx)
{
    (void)vctx;
    char name[64];
    const char *p = req->path + strlen(PREFIX);
    size_t n = strcspn(p, "/");
    snprintf(name, sizeof name, "%.*s", (int)(n < 60 ? n : 60), p);
    if (cat_model_find(name))
        api_error(res, 405, "bad_data", "method %s not allowed on %s", req->method, req->path);
    else
        api_error(res, 404, "not_found",
                  "no endpoint or model named \"%s\" (the models: /api/v1/schema)", name);
}

static void handle_schema(http_request *req, http_response *res, void *vctx)
{
    (void)req;
    (void)vctx;
    jsonw w;
    api_ok_begin(res, &w);
    cat_schema_json(&w);
    api_ok_end(res, &w);
}

static void handle_audit(http_request *req, http_response *res, void *vctx)
{
    api_ctx *ctx = vctx;
    cat_result r = {0};
    const char *model = http_form_get(&req->params, "model");
    const char *actor = http_form_get(&req->params, "actor");
    const char *obj = http_form_get(&req->params, "object");
    const char *lim = http_form_get(&req->params, "limit");
    const char *off = http_form_get(&req->params, "offset");
    int64_t object = 0, limit = 0, offset = 0;
    if ((obj && parse_id(obj, strlen(obj), &object)) ||
        (lim && parse_id(lim, strlen(lim), &limit)) ||
        (off && strcmp(off, "0") && parse_id(off, strlen(off), &offset))) {
        api_error(res, 400, "bad_data", "object, limit and offset must be positive integers");
        return;
    }
    json_t *rows = NULL;
    int64_t total = 0;
    int rc = cat_audit_list(ctx->cat, model && *model ? model : NULL, object,
                            actor && *actor ? actor : NULL, limit, offset, &rows, &total, &r);
    if (rc)
        api_cat_error(res, rc, &r);
    else
        api_json_ok(res, 200, rows,
                    json_pack("{sI sI sI}", "total", (json_int_t)total, "limit",
                              (json_int_t)(limit ? limit : 100), "offset", (json_int_t)offset));
    cat_result_clear(&r);
}

int api_catalog_register(http_server *s, api_ctx *ctx)
{
    size_t n;
    const cat_model *ms = cat_models(&n);
    int rc = http_route_add(s, "GET", PREFIX "schema", HTTP_NEED_USER, 0, handle_schema, ctx);
    if (!rc)
        rc = http_route_add(s, "GET", PREFIX "audit", HTTP_NEED_ADMIN, 0, handle_audit, ctx);
    static const char *any_methods[] = {"GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"};
    for (size_t k = 0; k < sizeof any_methods / sizeof any_methods[0] && !rc; k++)
        rc = http_route_add(s, any_methods[k], PREFIX, HTTP_PREFIX, 0, handle_unknown, ctx);
    for (size_t i = 0; i < n && !rc; i++) {
        char path[128];
        static const char *item_methods[] = {"GET", "HEAD", "PATCH", "PUT", "DELETE"};
        snprintf(path, sizeof path, PREFIX "%s", ms[i].name);
        rc = http_route_add(s, NULL, path, HTTP_NEED_USER, 0, handle_model, ctx);
        snprintf(path, sizeof path, PREFIX "%s/", ms[i].name);
        for (size_t k = 0; k < sizeof item_methods / sizeof item_methods[0] && !rc; k++)
            rc = http_route_add(s, item_methods[k], path, HTTP_PREFIX | HTTP_NEED_USER, 0,
                                handle_model, ctx);
    }
    return rc;
}
