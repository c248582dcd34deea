/* api: route registration and the helpers every handler shares (error shape, time and
 * selector parameters). */
#include "api_int.h"

#include "../lib/mem.h"
#include "../lib/timeutil.h"
#include "../promql/parse.h"
#include "live.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

void api_error(http_response *res, int status, const char *type, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    buf_reset(&res->body);
    jsonw w;
    jsonw_init(&w, &res->body);
    jsonw_obj_open(&w);
    jsonw_kv_str(&w, "status", "error");
    jsonw_kv_str(&w, "errorType", type);
    jsonw_kv_str(&w, "error", msg);
    jsonw_obj_close(&w);
    res->status = status;
    res->content_type = "application/json";
}

void api_ok_begin(http_response *res, jsonw *w)
{
    jsonw_init(w, &res->body);
    jsonw_obj_open(w);
    jsonw_kv_str(w, "status", "success");
    jsonw_key(w, "data");
}

void api_ok_end(http_response *res, jsonw *w)
{
    jsonw_obj_close(w);
    if (res->body.err == -E2BIG)
        api_error(res, 422, "execution", "result too large");
    else if (res->body.err)
        api_error(res, 500, "internal", "out of memory writing the response");
    else {
        res->status = 200;
        res->content_type = "application/json";
    }
}

int api_time_param(http_request *req, http_response *res, const char *name, int64_t dflt,
                   int64_t *out)
{
    const char *v = http_form_get(&req->params, name);
    if (!v || !*v) {
        *out = dflt;
        return 0;
    }
    if (timeutil_parse_time(v, out)) {
        api_error(res, 400, "bad_data",
                  "invalid parameter \"%s\": cannot parse \"%.100s\" to a valid timestamp", name,
                  v);
        return -EINVAL;
    }
    return 0;
}

void api_selectors_free(api_selectors *s)
{
    for (size_t i = 0; i < s->n; i++)
        promql_expr_free(s->v[i]);
    mem_free(s->v);
    s->v = NULL;
    s->n = 0;
}

int api_parse_selectors(http_request *req, http_response *res, api_selectors *out)
{
    size_t pos = 0;
    const char *m;
    out->v = NULL;
    out->n = 0;
    while ((m = http_form_next(&req->params, "match[]", &pos))) {
        promql_expr *e = NULL;
        char err[512];
        int rc = promql_parse(m, &e, err, sizeof err);
        if (rc == 0 && e->type != PROMQL_VECTOR_SELECTOR) {
            snprintf(err, sizeof err, "match[] must be a vector selector, not a %s",
                     promql_value_type(e));
            promql_expr_free(e);
            rc = -EINVAL;
        }
        if (rc) {
            api_error(res, 400, "bad_data", "invalid parameter \"match[]\": %s", err);
            api_selectors_free(out);
            return -EINVAL;
        }
        promql_expr **v = mem_realloc(out->v, (out->n + 1) * sizeof *v);
        if (!v) {
            promql_expr_free(e);
            api_selectors_free(out);
            api_error(res, 500, "internal", "out of memory");
            return -ENOMEM;
        }
        out->v = v;
        out->v[out->n++] = e;
    }
    return 0;
}

void api_write_labels(jsonw *w, const labels *ls)
{
    jsonw_obj_open(w);
    for (size_t i = 0; i < ls->n; i++)
        jsonw_kv_str(w, ls->v[i].name, ls->v[i].value);
    jsonw_obj_close(w);
}

int api_register(http_server *s, api_ctx *ctx)
{
    if (!ctx->max_write_body)
        ctx->max_write_body = 32u << 20;
    if (!ctx->max_write_decoded)
        ctx->max_write_decoded = 256u << 20;
    if (!ctx->max_query_samples)
        ctx->max_query_samples = 50000000;
    int rc = api_live_register(s, ctx);
    if (rc)
        return rc;
    api_write_register(s, ctx);
    api_query_register(s, ctx);
    api_meta_register(s, ctx);
    api_metrics_register(s, ctx);
    if (ctx->cat && ((rc = api_catalog_register(s, ctx)) || (rc = api_auth_register(s, ctx)) ||
                     (rc = api_agent_register(s, ctx)) || (rc = api_probes_register(s, ctx)) ||
                     (ctx->events && (rc = api_events_register(s, ctx)))))
        return rc;
    api_static_register(s, ctx);
    return 0;
}

void api_shutdown(api_ctx *ctx)
{
    api_live_stop(ctx->live);
    api_probes_shutdown(ctx);
}

void api_free(api_ctx *ctx)
{
    if (ctx->db)
        tsdb_set_observer(ctx->db, NULL, NULL);
    api_live_free(ctx->live);
    ctx->live = NULL;
    api_probes_free(ctx);
}
