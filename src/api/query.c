/* query: /api/v1/query, /api/v1/query_range, /api/v1/format_query and /api/v1/parse_query,
 * evaluated by the PromQL engine and written in Prometheus's JSON shapes (results, warnings
 * and infos, errors with Prometheus's error types and status codes: 400 bad_data, 422
 * execution, 503 timeout). */
#include "api_int.h"

#include "../lib/mem.h"
#include "../lib/timeutil.h"
#include "../promql/eval.h"
#include "../promql/func.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MAX_POINTS_PER_SERIES 11000
#define MAX_RESPONSE (512u << 20)
#define DEFAULT_TIMEOUT_MS (2 * 60 * 1000)

static void write_result(jsonw *w, const promql_result *r)
{
    jsonw_obj_open(w);
    jsonw_kv_str(w, "resultType", promql_type_name(r->type));
    jsonw_key(w, "result");
    switch (r->type) {
    case PROMQL_T_SCALAR:
        jsonw_arr_open(w);
        jsonw_prom_time(w, r->scalar.t);
        jsonw_prom_value(w, r->scalar.v);
        jsonw_arr_close(w);
        break;
    case PROMQL_T_STRING:
        jsonw_arr_open(w);
        jsonw_prom_time(w, r->string_t);
        jsonw_str(w, r->string);
        jsonw_arr_close(w);
        break;
    case PROMQL_T_VECTOR:
    case PROMQL_T_MATRIX:
        jsonw_arr_open(w);
        for (size_t i = 0; i < r->nseries; i++) {
            const promql_series *s = &r->series[i];
            jsonw_obj_open(w);
            jsonw_key(w, "metric");
            api_write_labels(w, s->ls);
            if (r->type == PROMQL_T_VECTOR) {
                jsonw_key(w, "value");
                jsonw_arr_open(w);
                jsonw_prom_time(w, s->points[0].t);
                jsonw_prom_value(w, s->points[0].v);
                jsonw_arr_close(w);
            } else {
                jsonw_key(w, "values");
                jsonw_arr_open(w);
                for (size_t k = 0; k < s->n; k++) {
                    jsonw_arr_open(w);
                    jsonw_prom_time(w, s->points[k].t);
                    jsonw_prom_value(w, s->points[k].v);
                    jsonw_arr_close(w);
                }
                jsonw_arr_close(w);
            }
            jsonw_obj_close(w);
        }
        jsonw_arr_close(w);
        break;
    }
    jsonw_obj_close(w);
}

static void write_strings(jsonw *w, const char *key, char *const *v, size_t n)
{
    if (!n)
        return;
    jsonw_key(w, key);
    jsonw_arr_open(w);
    for (size_t i = 0; i < n; i++)
        jsonw_str(w, v[i]);
    jsonw_arr_close(w);
}

/* Parses the query parameter; writes a 400 on failure. */
static promql_expr *parse_query(http_request *req, http_response *res)
{
    const char *q = http_form_get(&req->params, "query");
    promql_expr *e = NULL;
    char err[512];
    int rc = promql_parse(q ? q : "", &e, err, sizeof err);
    if (rc == -ENOMEM)
        api_error(res, 503, "internal", "out of memory");
    else if (rc)
        api_error(res, 400, "bad_data", "invalid parameter \"query\": %s", err);
    return rc ? NULL : e;
}

static void finish(http_response *res, const promql_result *r, int rc, const char *err)
{
    switch (rc) {
    case 0: break;
    case -E2BIG:
    case -EDOM: api_error(res, 422, "execution", "%s", err); return;
    case -ETIMEDOUT: api_error(res, 503, "timeout", "%s", err); return;
    case -ENOMEM: api_error(res, 503, "internal", "%s", err); return;
    default: api_error(res, 400, "bad_data", "%s", err); return;
    }
    res->body.max = MAX_RESPONSE;
    jsonw w;
    api_ok_begin(res, &w);
    write_result(&w, r);
    write_strings(&w, "warnings", r->warnings, r->nwarnings);
    write_strings(&w, "infos", r->infos, r->ninfos);
    api_ok_end(res, &w);
}

/* The optional `timeout` (a duration, capped at the default) and `tier` parameters. */
static int query_opts(http_request *req, http_response *res, api_ctx *ctx, promql_opts *o)
{
    memset(o, 0, sizeof *o);
    o->lookback_ms = ctx->lookback_ms;
    o->max_samples = ctx->max_query_samples;
    o->timeout_ms = DEFAULT_TIMEOUT_MS;
    o->query = http_form_get(&req->params, "query");
    const char *t = http_form_get(&req->params, "timeout");
    if (t && *t) {
        int64_t ms;
        if (timeutil_parse_step(t, &ms) || ms <= 0) {
            api_error(res, 400, "bad_data",
                      "invalid parameter \"timeout\": cannot parse \"%.100s\" to a valid duration",
                      t);
            return -EINVAL;
        }
        if (ms < o->timeout_ms)
            o->timeout_ms = ms;
    }
    const char *lb = http_form_get(&req->params, "lookback_delta");
    if (lb && *lb) {
        int64_t ms;
        if (timeutil_parse_step(lb, &ms) || ms < 0) {
            api_error(res, 400, "bad_data",
                      "invalid parameter \"lookback_delta\": cannot parse \"%.100s\" to a "
                      "valid duration",
                      lb);
            return -EINVAL;
        }
        if (ms > 0)
            o->lookback_ms = ms;
    }
    const char *tier = http_form_get(&req->params, "tier");
    if (tier && *tier) {
        if (strcmp(tier, "raw") == 0)
            o->tier = TSDB_TIER_RAW;
        else if (strcmp(tier, "1m") == 0)
            o->tier = TSDB_TIER_1M;
        else if (strcmp(tier, "1h") == 0)
            o->tier = TSDB_TIER_1H;
        else if (strcmp(tier, "auto") != 0) {
            api_error(res, 400, "bad_data",
                      "invalid parameter \"tier\": \"%.50s\" is not one of raw, 1m, 1h, auto",
                      tier);
            return -EINVAL;
        }
    }
    return 0;
}

/* Parses the query parameter and evaluates it at t = start (step 0: an instant query) or over
 * [start, end] by step, writing the result or the error. */
static void evaluate(http_request *req, http_response *res, api_ctx *ctx, int64_t start,
                     int64_t end, int64_t step)
{
    promql_opts o;
    if (query_opts(req, res, ctx, &o))
        return;
    promql_expr *e = parse_query(req, res);
    if (!e)
        return;
    promql_querier q = promql_querier_tsdb(ctx->db);
    promql_result r;
    char err[1024];
    int rc = step ? promql_eval_range(&q, e, start, end, step, &o, &r, err, sizeof err)
                  : promql_eval_instant(&q, e, start, &o, &r, err, sizeof err);
    finish(res, &r, rc, err);
    if (!rc)
        promql_result_free(&r);
    promql_expr_free(e);
}

static void handle_query(http_request *req, http_response *res, void *vctx)
{
    api_ctx *ctx = vctx;
    int64_t t;
    if (api_time_param(req, res, "time", timeutil_now_ms(), &t))
        return;
    evaluate(req, res, ctx, t, t, 0);
}

static void handle_query_range(http_request *req, http_response *res, void *vctx)
{
    api_ctx *ctx = vctx;
    int64_t start, end, step;
    const char *sv = http_form_get(&req->params, "start");
    const char *ev = http_form_get(&req->params, "end");
    const char *pv = http_form_get(&req->params, "step");
    if (!sv || timeutil_parse_time(sv, &start)) {
        api_error(res, 400, "bad_data",
                  "invalid parameter \"start\": cannot parse \"%.100s\" to a valid timestamp",
                  sv ? sv : "");
        return;
    }
    if (!ev || timeutil_parse_time(ev, &end)) {
        api_error(res, 400, "bad_data",
                  "invalid parameter \"end\": cannot parse \"%.100s\" to a valid timestamp",
                  ev ? ev : "");
        return;
    }
    if (end < start) {
        api_error(res, 400, "bad_data",
                  "invalid parameter \"end\": end timestamp must not be before start time");
        return;
    }
    if (!pv || timeutil_parse_step(pv, &step)) {
        api_error(res, 400, "bad_data",
                  "invalid parameter \"step\": cannot parse \"%.100s\" to a valid duration",
                  pv ? pv : "");
        return;
    }
    if (step <= 0) {
        api_error(res, 400, "bad_data",
                  "invalid parameter \"step\": zero or negative query resolution step widths "
                  "are not accepted. Try a positive integer");
        return;
    }
    if ((end - start) / step >= MAX_POINTS_PER_SERIES) {
        api_error(res, 400, "bad_data",
                  "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing "
                  "the query resolution (?step=XX)");
        return;
    }
    evaluate(req, res, ctx, start, end, step);
}

static void handle_format_query(http_request *req, http_response *res, void *vctx)
{
    (void)vctx;
    promql_expr *e = parse_query(req, res);
    if (!e)
        return;
    buf b;
    buf_init(&b, PROMQL_MAX_QUERY * 4);
    int rc = promql_format(e, &b);
    if (!rc)
        rc = buf_putc(&b, '\0');
    if (rc) {
        api_error(res, 503, "internal", "out of memory");
    } else {
        jsonw w;
        api_ok_begin(res, &w);
        jsonw_str(&w, b.data);
        api_ok_end(res, &w);
    }
    buf_free(&b);
    promql_expr_free(e);
}

/* ---- parse_query: Prometheus's JSON form of the tree (web/api/v1 translateAST; keys in
 * Go's map order, i.e. sorted) ------------------------------------------------------------- */

static const char *arg_name(promql_arg a)
{
    switch (a) {
    case PROMQL_ARG_SCALAR: return "scalar";
    case PROMQL_ARG_VECTOR: return "vector";
    case PROMQL_ARG_MATRIX: return "matrix";
    case PROMQL_ARG_STRING: return "string";
    }
    return "none";
}

static void names_json(jsonw *w, const char *key, const promql_names *n)
{
    jsonw_key(w, key);
    jsonw_arr_open(w);
    for (size_t i = 0; i < n->n; i++)
        jsonw_str(w, n->v[i]);
    jsonw_arr_close(w);
}

static void matchers_json(jsonw *w, const promql_expr *e)
{
    jsonw_key(w, "matchers");
    jsonw_arr_open(w);
    for (size_t i = 0; i < e->nmatchers; i++) {
        jsonw_obj_open(w);
        jsonw_kv_str(w, "name", e->matchers[i].name);
        jsonw_kv_str(w, "type", tsdb_match_op(e->matchers[i].type));
        jsonw_kv_str(w, "value", e->matchers[i].value);
        jsonw_obj_close(w);
    }
    jsonw_arr_close(w);
}

static void at_json(jsonw *w, const promql_expr *e)
{
    jsonw_key(w, "startOrEnd");
    if (e->at == PROMQL_AT_START)
        jsonw_str(w, "start");
    else if (e->at == PROMQL_AT_END)
        jsonw_str(w, "end");
    else
        jsonw_null(w);
    jsonw_key(w, "timestamp");
    if (e->at == PROMQL_AT_TIME)
        jsonw_int(w, e->at_ms);
    else
        jsonw_null(w);
}

static const char *selector_name(const promql_expr *e)
{
    for (size_t i = 0; i < e->nmatchers; i++)
        if (strcmp(e->matchers[i].name, "__name__") == 0 && e->matchers[i].type == TSDB_MATCH_EQ)
            return e->matchers[i].value;
    return "";
}

static void ast_json(jsonw *w, const promql_expr *e)
{
    if (!e) {
        jsonw_null(w);
        return;
    }
    jsonw_obj_open(w);
    switch (e->type) {
    case PROMQL_NUMBER: {
        char v[64];
        jsonw_kv_str(w, "type", "numberLiteral");
        jsonw_format_value(e->number, v, sizeof v);
        jsonw_kv_str(w, "val", v);
        break;
    }
    case PROMQL_STRING:
        jsonw_kv_str(w, "type", "stringLiteral");
        jsonw_kv_str(w, "val", e->string);
        break;
    case PROMQL_VECTOR_SELECTOR:
        matchers_json(w, e);
        jsonw_kv_str(w, "name", selector_name(e));
        jsonw_kv_int(w, "offset", e->offset_ms);
        at_json(w, e);
        jsonw_kv_str(w, "type", "vectorSelector");
        break;
    case PROMQL_MATRIX_SELECTOR:
        matchers_json(w, e);
        jsonw_kv_str(w, "name", selector_name(e));
        jsonw_kv_int(w, "offset", e->offset_ms);
        jsonw_kv_int(w, "range", e->range_ms);
        at_json(w, e);
        jsonw_kv_str(w, "type", "matrixSelector");
        break;
    case PROMQL_SUBQUERY:
        jsonw_key(w, "expr");
        ast_json(w, e->lhs);
        jsonw_kv_int(w, "offset", e->offset_ms);
        jsonw_kv_int(w, "range", e->range_ms);
        at_json(w, e);
        jsonw_kv_int(w, "step", e->step_ms);
        jsonw_kv_str(w, "type", "subquery");
        break;
    case PROMQL_PAREN:
        jsonw_key(w, "expr");
        ast_json(w, e->lhs);
        jsonw_kv_str(w, "type", "parenExpr");
        break;
    case PROMQL_UNARY:
        jsonw_key(w, "expr");
        ast_json(w, e->lhs);
        jsonw_kv_str(w, "op", promql_op_name(e->op));
        jsonw_kv_str(w, "type", "unaryExpr");
        break;
    case PROMQL_BINARY: {
        static const char *const cards[] = {"one-to-one", "many-to-one", "one-to-many",
                                            "many-to-many"};
        jsonw_key(w, "bool");
        jsonw_bool(w, e->return_bool);
        jsonw_key(w, "lhs");
        ast_json(w, e->lhs);
        jsonw_key(w, "matching");
        if (e->lhs->vtype == PROMQL_T_VECTOR && e->rhs->vtype == PROMQL_T_VECTOR) {
            jsonw_obj_open(w);
            jsonw_kv_str(w, "card", cards[e->card]);
            names_json(w, "include", &e->include_labels);
            names_json(w, "labels", &e->match_labels);
            jsonw_key(w, "on");
            jsonw_bool(w, e->on);
            jsonw_obj_close(w);
        } else {
            jsonw_null(w);
        }
        jsonw_kv_str(w, "op", promql_op_name(e->op));
        jsonw_key(w, "rhs");
        ast_json(w, e->rhs);
        jsonw_kv_str(w, "type", "binaryExpr");
        break;
    }
    case PROMQL_AGGREGATE:
        jsonw_key(w, "expr");
        ast_json(w, e->lhs);
        names_json(w, "grouping", &e->grouping);
        jsonw_kv_str(w, "op", promql_op_name(e->op));
        jsonw_key(w, "param");
        ast_json(w, e->param);
        jsonw_kv_str(w, "type", "aggregation");
        jsonw_key(w, "without");
        jsonw_bool(w, e->without);
        break;
    case PROMQL_CALL:
        jsonw_key(w, "args");
        jsonw_arr_open(w);
        for (size_t i = 0; i < e->nargs; i++)
            ast_json(w, e->args[i]);
        jsonw_arr_close(w);
        jsonw_key(w, "func");
        jsonw_obj_open(w);
        jsonw_key(w, "argTypes");
        jsonw_arr_open(w);
        for (size_t i = 0; i < e->func->nargs; i++)
            jsonw_str(w, arg_name(e->func->args[i]));
        jsonw_arr_close(w);
        jsonw_kv_str(w, "name", e->func->name);
        jsonw_kv_str(w, "returnType", arg_name(e->func->ret));
        jsonw_kv_int(w, "variadic", e->func->variadic);
        jsonw_obj_close(w);
        jsonw_kv_str(w, "type", "call");
        break;
    }
    jsonw_obj_close(w);
}

static void handle_parse_query(http_request *req, http_response *res, void *vctx)
{
    (void)vctx;
    promql_expr *e = parse_query(req, res);
    if (!e)
        return;
    jsonw w;
    api_ok_begin(res, &w);
    ast_json(&w, e);
    api_ok_end(res, &w);
    promql_expr_free(e);
}

void api_query_register(http_server *s, api_ctx *ctx)
{
    http_route_add(s, NULL, "/api/v1/query", HTTP_FORM_BODY | HTTP_NEED_READ, 1 << 20, handle_query, ctx);
    http_route_add(s, NULL, "/api/v1/query_range", HTTP_FORM_BODY | HTTP_NEED_READ, 1 << 20, handle_query_range,
                   ctx);
    http_route_add(s, NULL, "/api/v1/format_query", HTTP_FORM_BODY | HTTP_NEED_READ, 1 << 20,
                   handle_format_query, ctx);
    http_route_add(s, NULL, "/api/v1/parse_query", HTTP_FORM_BODY | HTTP_NEED_READ, 1 << 20, handle_parse_query,
                   ctx);
}
