/* eval: selector evaluation. Each evaluation selects the series once over the whole window it
 * needs, then walks every series' samples with a cursor, step by step, so a range query costs
 * one pass over the data however many steps it has. */
#include "eval.h"

#include "../lib/mem.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_LOOKBACK (5 * 60 * 1000)
#define DEFAULT_MAX_SAMPLES 50000000

static int tsdb_select_cb(void *ctx, const tsdb_matcher *ms, size_t nm, int64_t mint, int64_t maxt,
                          const tsdb_select_opts *opts, tsdb_series_set **out)
{
    return tsdb_select(ctx, ms, nm, mint, maxt, opts, out);
}

promql_querier promql_querier_tsdb(tsdb *db)
{
    promql_querier q = {tsdb_select_cb, db};
    return q;
}

const char *promql_type_name(promql_type t)
{
    switch (t) {
    case PROMQL_T_SCALAR: return "scalar";
    case PROMQL_T_STRING: return "string";
    case PROMQL_T_VECTOR: return "vector";
    case PROMQL_T_MATRIX: return "matrix";
    }
    return "unknown";
}

void promql_result_free(promql_result *res)
{
    if (!res)
        return;
    for (size_t i = 0; i < res->nseries; i++)
        mem_free(res->series[i].points);
    mem_free(res->series);
    mem_free(res->string);
    tsdb_set_free(res->priv);
    memset(res, 0, sizeof *res);
}

static void resolve_opts(const promql_opts *in, promql_opts *out)
{
    if (in)
        *out = *in;
    else
        memset(out, 0, sizeof *out);
    if (out->lookback_ms <= 0)
        out->lookback_ms = DEFAULT_LOOKBACK;
    if (!out->max_samples)
        out->max_samples = DEFAULT_MAX_SAMPLES;
}

/* The evaluation time of a selector at step time t: `@` pins it, then `offset` shifts it. */
static int64_t selector_time(const promql_expr *e, int64_t t, int64_t start, int64_t end)
{
    switch (e->at) {
    case PROMQL_AT_TIME: t = e->at_ms; break;
    case PROMQL_AT_START: t = start; break;
    case PROMQL_AT_END: t = end; break;
    case PROMQL_AT_NONE: break;
    }
    return t - e->offset_ms;
}

static int select_err(int rc, char *err, size_t errlen)
{
    if (rc == -E2BIG)
        snprintf(err, errlen, "query processing would load too many samples into memory");
    else if (rc == -ENOMEM)
        snprintf(err, errlen, "out of memory");
    else
        snprintf(err, errlen, "storage error (%d)", rc);
    return rc;
}

/* Evaluates a vector selector at steps start, start+step, ... end (instant: start == end).
 * Produces one promql_series per input series that has at least one point. */
static int eval_vector_selector(const promql_querier *q, const promql_expr *e, int64_t start,
                                int64_t end, int64_t step, const promql_opts *o,
                                promql_result *res, char *err, size_t errlen)
{
    int64_t first = selector_time(e, start, start, end), last = selector_time(e, end, start, end);
    if (e->at != PROMQL_AT_NONE)
        first = last = selector_time(e, start, start, end);
    tsdb_select_opts so = {.max_samples = o->max_samples};
    tsdb_series_set *set = NULL;
    int rc = q->select(q->ctx, e->matchers, e->nmatchers, first - o->lookback_ms + 1, last, &so,
                       &set);
    if (rc)
        return select_err(rc, err, errlen);
    res->priv = set;
    size_t nsteps = (size_t)((end - start) / step) + 1;
    size_t cap = tsdb_set_count(set);
    res->series = mem_calloc(cap + 1, sizeof *res->series);
    if (!res->series)
        return select_err(-ENOMEM, err, errlen);
    size_t total = 0;
    const labels *ls;
    const sample *s;
    size_t n;
    while (tsdb_set_next(set, &ls, &s, &n)) {
        sample *pts = NULL;
        size_t np = 0, cur = 0;
        for (size_t k = 0; k < nsteps; k++) {
            int64_t ts = start + (int64_t)k * step;
            int64_t at = selector_time(e, ts, start, end);
            /* Newest sample with t <= at, within the lookback window. */
            while (cur < n && s[cur].t <= at)
                cur++;
            if (cur == 0 || s[cur - 1].t <= at - o->lookback_ms || sample_is_stale(s[cur - 1].v))
                continue;
            if (!pts) {
                pts = mem_alloc((nsteps - k) * sizeof *pts);
                if (!pts)
                    return select_err(-ENOMEM, err, errlen);
            }
            pts[np].t = ts;
            pts[np].v = s[cur - 1].v;
            np++;
            /* A pinned (@) selector moves back through the samples at every step: rewind. */
            if (e->at != PROMQL_AT_NONE)
                cur = 0;
        }
        if (!np)
            continue;
        total += np;
        if (total > o->max_samples) {
            mem_free(pts);
            return select_err(-E2BIG, err, errlen);
        }
        res->series[res->nseries].ls = ls;
        res->series[res->nseries].points = pts;
        res->series[res->nseries].n = np;
        res->nseries++;
    }
    return 0;
}

static int eval_matrix_selector(const promql_querier *q, const promql_expr *e, int64_t t,
                                const promql_opts *o, promql_result *res, char *err,
                                size_t errlen)
{
    int64_t at = selector_time(e, t, t, t);
    tsdb_select_opts so = {.max_samples = o->max_samples};
    tsdb_series_set *set = NULL;
    int rc = q->select(q->ctx, e->matchers, e->nmatchers, at - e->range_ms + 1, at, &so, &set);
    if (rc)
        return select_err(rc, err, errlen);
    res->priv = set;
    res->series = mem_calloc(tsdb_set_count(set) + 1, sizeof *res->series);
    if (!res->series)
        return select_err(-ENOMEM, err, errlen);
    const labels *ls;
    const sample *s;
    size_t n;
    while (tsdb_set_next(set, &ls, &s, &n)) {
        sample *pts = mem_alloc((n + 1) * sizeof *pts);
        if (!pts)
            return select_err(-ENOMEM, err, errlen);
        size_t np = 0;
        for (size_t i = 0; i < n; i++)
            if (!sample_is_stale(s[i].v))
                pts[np++] = s[i];
        if (!np) {
            mem_free(pts);
            continue;
        }
        res->series[res->nseries].ls = ls;
        res->series[res->nseries].points = pts;
        res->series[res->nseries].n = np;
        res->nseries++;
    }
    return 0;
}

int promql_eval_instant(const promql_querier *q, const promql_expr *e, int64_t t,
                        const promql_opts *opts, promql_result *res, char *err, size_t errlen)
{
    promql_opts o;
    resolve_opts(opts, &o);
    memset(res, 0, sizeof *res);
    int rc = 0;
    switch (e->type) {
    case PROMQL_NUMBER:
        res->type = PROMQL_T_SCALAR;
        res->scalar.t = t;
        res->scalar.v = e->number;
        return 0;
    case PROMQL_STRING:
        res->type = PROMQL_T_STRING;
        res->string = mem_strdup(e->string);
        res->string_t = t;
        return res->string ? 0 : select_err(-ENOMEM, err, errlen);
    case PROMQL_VECTOR_SELECTOR:
        res->type = PROMQL_T_VECTOR;
        rc = eval_vector_selector(q, e, t, t, 1, &o, res, err, errlen);
        break;
    case PROMQL_MATRIX_SELECTOR:
        res->type = PROMQL_T_MATRIX;
        rc = eval_matrix_selector(q, e, t, &o, res, err, errlen);
        break;
    }
    if (rc)
        promql_result_free(res);
    return rc;
}

int promql_eval_range(const promql_querier *q, const promql_expr *e, int64_t start, int64_t end,
                      int64_t step, const promql_opts *opts, promql_result *res, char *err,
                      size_t errlen)
{
    promql_opts o;
    resolve_opts(opts, &o);
    memset(res, 0, sizeof *res);
    if (step <= 0 || end < start) {
        snprintf(err, errlen, "invalid range: step must be positive and end not before start");
        return -EINVAL;
    }
    res->type = PROMQL_T_MATRIX;
    int rc = 0;
    switch (e->type) {
    case PROMQL_NUMBER: {
        size_t nsteps = (size_t)((end - start) / step) + 1;
        if (nsteps > o.max_samples)
            return select_err(-E2BIG, err, errlen);
        res->series = mem_calloc(1, sizeof *res->series);
        sample *pts = mem_alloc(nsteps * sizeof *pts);
        /* The scalar's series has no labels: point at a static empty set. */
        static const labels none = {NULL, 0};
        if (!res->series || !pts) {
            mem_free(pts);
            promql_result_free(res);
            return select_err(-ENOMEM, err, errlen);
        }
        for (size_t k = 0; k < nsteps; k++) {
            pts[k].t = start + (int64_t)k * step;
            pts[k].v = e->number;
        }
        res->series[0] = (promql_series){&none, pts, nsteps};
        res->nseries = 1;
        return 0;
    }
    case PROMQL_VECTOR_SELECTOR:
        rc = eval_vector_selector(q, e, start, end, step, &o, res, err, errlen);
        break;
    case PROMQL_STRING:
    case PROMQL_MATRIX_SELECTOR:
        snprintf(err, errlen,
                 "invalid expression type \"%s\" for range query, must be Scalar or instant "
                 "Vector",
                 e->type == PROMQL_STRING ? "string" : "range vector");
        rc = -EINVAL;
        break;
    }
    if (rc)
        promql_result_free(res);
    return rc;
}
