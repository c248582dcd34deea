/* libFuzzer target: the PromQL parser, formatter and evaluator on arbitrary bytes.
 *
 * Every refusal must say why; every accepted query must format to text that parses again to
 * the same text (format is a fixed point after one round); and evaluating it over a small
 * in-memory store must end in a result or an error, within tight sample and time limits. */
#include "lib/buf.h"
#include "lib/labels.h"
#include "lib/mem.h"
#include "promql/eval.h"
#include "promql/parse.h"
#include "tsdb/tsdb.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tsdb *db;

/* A few series at 15 s steps for an hour, with a stale marker and a counter reset. */
static void load(void)
{
    tsdb_options o = {0};
    o.retention_ms = INT64_MAX / 4;
    o.retention_1m_ms = INT64_MAX / 4;
    if (tsdb_open(&db, &o))
        abort();
    static const char *const names[] = {"a_total", "b", "a_total", "c_bucket", "c_bucket"};
    static const char *const k[] = {"x", "x", "y", "le", "le"};
    static const char *const v[] = {"1", "2", "1", "0.5", "+Inf"};
    for (int s = 0; s < 5; s++) {
        label l[2] = {{"__name__", names[s]}, {k[s], v[s]}};
        labels ls = {l, 2};
        labels_sort(&ls);
        sample pts[240];
        for (int i = 0; i < 240; i++) {
            pts[i].t = (int64_t)i * 15000;
            pts[i].v = s == 1 && i == 100 ? sample_stale_value() : (double)((i * (s + 1)) % 97);
        }
        tsdb_series_in in = {ls, pts, 240};
        tsdb_appender *a;
        if (tsdb_appender_begin(db, &a) || tsdb_appender_add(a, &in) ||
            tsdb_appender_commit(a, NULL))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!db)
        load();
    char *q = malloc(size + 1);
    if (!q)
        return 0;
    memcpy(q, data, size);
    q[size] = '\0';
    promql_expr *e = NULL;
    char err[512];
    if (promql_parse(q, &e, err, sizeof err) != 0) {
        if (!err[0])
            abort(); /* every refusal must say why */
        free(q);
        return 0;
    }
    /* format -> parse -> format is stable. */
    buf a, b;
    buf_init(&a, 1 << 22);
    buf_init(&b, 1 << 22);
    if (promql_format(e, &a) == 0 && buf_putc(&a, '\0') == 0) {
        promql_expr *e2 = NULL;
        if (promql_parse(a.data, &e2, err, sizeof err) != 0) {
            fprintf(stderr, "formatted query does not parse: %s\n  %s\n", a.data, err);
            abort();
        }
        if (promql_format(e2, &b) == 0 && buf_putc(&b, '\0') == 0 && strcmp(a.data, b.data)) {
            fprintf(stderr, "format is not stable:\n  %s\n  %s\n", a.data, b.data);
            abort();
        }
        promql_expr_free(e2);
    }
    buf_free(&a);
    buf_free(&b);
    /* Evaluate at an instant inside the data and over a short range. */
    promql_querier qr = promql_querier_tsdb(db);
    promql_opts o = {.max_samples = 20000, .timeout_ms = 300, .query = q};
    promql_result r;
    if (promql_eval_instant(&qr, e, 1800000, &o, &r, err, sizeof err) == 0)
        promql_result_free(&r);
    else if (!err[0])
        abort();
    if (e->vtype == PROMQL_T_SCALAR || e->vtype == PROMQL_T_VECTOR) {
        if (promql_eval_range(&qr, e, 600000, 1200000, 60000, &o, &r, err, sizeof err) == 0)
            promql_result_free(&r);
        else if (!err[0])
            abort();
    }
    promql_expr_free(e);
    free(q);
    return 0;
}
