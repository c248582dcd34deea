/* query: /api/v1/query and /api/v1/query_range, evaluated by the PromQL engine and written
 * in Prometheus's JSON shapes. */
#include "api_int.h"

#include "../lib/timeutil.h"
#include "../promql/eval.h"

#include <errno.h>
#include <string.h>

#define MAX_POINTS_PER_SERIES 11000
#define MAX_RESPONSE (512u << 20)

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
    if (rc == -E2BIG) {
        api_error(res, 422, "execution", "%s", err);
        return;
    }
    if (rc == -ENOMEM) {
        api_error(res, 503, "internal", "%s", err);
        return;
    }
    if (rc) {
        api_error(res, 400, "bad_data", "%s", err);
        return;
    }
    res->body.max = MAX_RESPONSE;
    jsonw w;
    api_ok_begin(res, &w);
    write_result(&w, r);
    api_ok_end(res, &w);
}

/* Parses the query parameter and evaluates it at t = start (step 0: an instant query) or over
 * [start, end] by step, writing the result or the error. */
static void evaluate(http_request *req, http_response *res, api_ctx *ctx, int64_t start,
                     int64_t end, int64_t step)
{
    promql_expr *e = parse_query(req, res);
    if (!e)
        return;
    promql_querier q = promql_querier_tsdb(ctx->db);
    promql_opts o = {ctx->lookback_ms, ctx->max_query_samples};
    promql_result r;
    char err[512];
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

void api_query_register(http_server *s, api_ctx *ctx)
{
    http_route_add(s, NULL, "/api/v1/query", HTTP_FORM_BODY, 1 << 20, handle_query, ctx);
    http_route_add(s, NULL, "/api/v1/query_range", HTTP_FORM_BODY, 1 << 20, handle_query_range,
                   ctx);
}
