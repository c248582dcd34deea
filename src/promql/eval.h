/* eval: evaluates a parsed PromQL expression at one instant or over a range of steps.
 *
 * Data comes through a querier (tsdb_select over the local store today; a remote
 * Prometheus-compatible store later), never from the store directly. Semantics follow
 * Prometheus 3 on float samples: an instant vector selector takes, per series, the newest
 * sample in the lookback window (t - lookback, t]; stale markers end a series; range selectors
 * take samples in (t - range, t]; `offset` shifts the window back, `@` pins it; subqueries
 * evaluate their expression at absolute multiples of their step; operators, vector matching,
 * aggregations and functions behave as Prometheus's engine (see docs/promql.md for the known
 * differences). Any thread; one evaluation per call. */
#ifndef DD_PROMQL_EVAL_H
#define DD_PROMQL_EVAL_H

#include "../tsdb/tsdb.h"
#include "parse.h"

typedef struct promql_querier {
    /* Same contract as tsdb_select. */
    int (*select)(void *ctx, const tsdb_matcher *ms, size_t nm, int64_t mint, int64_t maxt,
                  const tsdb_select_opts *opts, tsdb_series_set **out);
    void *ctx;
} promql_querier;

/* A querier over a local store. */
promql_querier promql_querier_tsdb(tsdb *db);

typedef struct promql_opts {
    int64_t lookback_ms;  /* 0: 5 minutes */
    size_t max_samples;   /* samples held at once (loaded or computed); 0: 50 million */
    int64_t timeout_ms;   /* 0: 2 minutes */
    tsdb_tier tier;       /* TSDB_TIER_AUTO: chosen per selector from the step; else forced */
    const char *query;    /* the query's text (may be NULL): positions in warnings */
    int64_t default_step_ms; /* subqueries without a step; 0: 1 minute (Prometheus's default
                                evaluation interval) */
} promql_opts;

typedef struct promql_series {
    const labels *ls; /* owned by the result */
    sample *points;   /* vector: exactly one point */
    size_t n;
} promql_series;

typedef struct promql_result {
    promql_type type;
    promql_series *series; /* vector and matrix; matrix sorted by labels; a vector in the
                              order of its top-level sort/topk, else sorted by labels */
    size_t nseries;
    sample scalar;         /* scalar: t and v */
    char *string;          /* string value */
    int64_t string_t;
    char **warnings;       /* Prometheus's annotations: "PromQL warning: ..." */
    size_t nwarnings;
    char **infos;          /* "PromQL info: ..." */
    size_t ninfos;
    void *priv;            /* keeps label memory alive */
} promql_result;

/* Evaluates e at time t (ms). Returns 0 and fills *res (free with promql_result_free), or an
 * error with the message in err, by Prometheus's error categories:
 *   -EINVAL     bad_data (e.g. a range query of a range vector)
 *   -EDOM       execution (vector matching, label set collisions, bad function arguments)
 *   -E2BIG      execution: the sample limit
 *   -ETIMEDOUT  timeout
 *   -ENOMEM     out of memory. */
int promql_eval_instant(const promql_querier *q, const promql_expr *e, int64_t t,
                        const promql_opts *opts, promql_result *res, char *err, size_t errlen);
/* Evaluates e at every step from start to end (inclusive) into a matrix. Only scalar and
 * instant-vector expressions are valid here (as in Prometheus). Errors as above. */
int promql_eval_range(const promql_querier *q, const promql_expr *e, int64_t start, int64_t end,
                      int64_t step, const promql_opts *opts, promql_result *res, char *err,
                      size_t errlen);
void promql_result_free(promql_result *res);
/* "scalar", "string", "vector" or "matrix". */
const char *promql_type_name(promql_type t);

#endif
