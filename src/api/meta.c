/* meta: the metadata endpoints (series, labels, label values, build info), health checks
 * and dashdot's own metrics at /metrics in the Prometheus text format. */
#include "api_int.h"

#include "../lib/mem.h"
#include "../lib/timeutil.h"
#include "../promql/parse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifndef DD_VERSION
#define DD_VERSION "dev"
#endif

static int str_ptr_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int labels_ptr_cmp(const void *a, const void *b)
{
    return labels_cmp(*(const labels *const *)a, *(const labels *const *)b);
}

/* The optional `limit` parameter (0 or absent: no limit). Writes a 400 on failure. */
static int limit_param(http_request *req, http_response *res, size_t *limit)
{
    const char *v = http_form_get(&req->params, "limit");
    *limit = 0;
    if (!v || !*v)
        return 0;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (end == v || *end || errno || n < 0) {
        api_error(res, 400, "bad_data",
                  "invalid parameter \"limit\": cannot parse \"%.50s\": limit must be a "
                  "non-negative integer",
                  v);
        return -EINVAL;
    }
    *limit = (size_t)n;
    return 0;
}

/* Ends a list answer: Prometheus's warning when the limit cut it short. */
static void end_list(http_response *res, jsonw *w, int truncated)
{
    if (truncated) {
        jsonw_key(w, "warnings");
        jsonw_arr_open(w);
        jsonw_str(w, "results truncated due to limit");
        jsonw_arr_close(w);
    }
    api_ok_end(res, w);
}

static void handle_series(http_request *req, http_response *res, void *vctx)
{
    api_ctx *ctx = vctx;
    api_selectors sel;
    int64_t start, end;
    size_t limit;
    if (api_time_param(req, res, "start", INT64_MIN / 2, &start) ||
        api_time_param(req, res, "end", INT64_MAX / 2, &end) || limit_param(req, res, &limit))
        return;
    if (api_parse_selectors(req, res, &sel))
        return;
    if (sel.n == 0) {
        api_error(res, 400, "bad_data", "no match[] parameter provided");
        return;
    }
    tsdb_series_set **sets = mem_calloc(sel.n, sizeof *sets);
    const labels **all = NULL;
    size_t nall = 0, cap = 0;
    if (!sets) {
        api_error(res, 503, "internal", "out of memory");
        goto out;
    }
    tsdb_select_opts so = {.labels_only = 1, .max_series = 10000000};
    for (size_t i = 0; i < sel.n; i++) {
        int rc = tsdb_select(ctx->db, sel.v[i]->matchers, sel.v[i]->nmatchers, start, end, &so,
                             &sets[i]);
        if (rc) {
            api_error(res, rc == -E2BIG ? 422 : 503, "execution", "series selection failed: %s",
                      rc == -E2BIG ? "too many series" : "out of memory");
            goto out;
        }
        const labels *ls;
        while (tsdb_set_next(sets[i], &ls, NULL, NULL)) {
            if (nall == cap) {
                size_t nc = cap ? cap * 2 : 64;
                const labels **v = mem_realloc(all, nc * sizeof *v);
                if (!v) {
                    api_error(res, 503, "internal", "out of memory");
                    goto out;
                }
                all = v;
                cap = nc;
            }
            all[nall++] = ls;
        }
    }
    if (nall > 1)
        qsort(all, nall, sizeof *all, labels_ptr_cmp);
    jsonw w;
    api_ok_begin(res, &w);
    jsonw_arr_open(&w);
    size_t written = 0;
    int truncated = 0;
    for (size_t i = 0; i < nall; i++) {
        if (i > 0 && labels_cmp(all[i - 1], all[i]) == 0)
            continue;
        if (limit && written == limit) {
            truncated = 1;
            break;
        }
        api_write_labels(&w, all[i]);
        written++;
    }
    jsonw_arr_close(&w);
    end_list(res, &w, truncated);
out:
    for (size_t i = 0; sets && i < sel.n; i++)
        tsdb_set_free(sets[i]);
    mem_free(sets);
    mem_free(all);
    api_selectors_free(&sel);
}

/* Shared by labels and label values: merges the answers for each match[] selector. */
static void label_query(http_request *req, http_response *res, api_ctx *ctx, const char *name)
{
    api_selectors sel;
    int64_t start, end;
    size_t limit;
    if (api_time_param(req, res, "start", INT64_MIN / 2, &start) ||
        api_time_param(req, res, "end", INT64_MAX / 2, &end) || limit_param(req, res, &limit))
        return;
    if (api_parse_selectors(req, res, &sel))
        return;
    tsdb_strings out = {0};
    int rc = 0;
    if (sel.n == 0) {
        rc = name ? tsdb_label_values(ctx->db, name, NULL, 0, start, end, &out)
                  : tsdb_label_names(ctx->db, NULL, 0, start, end, &out);
    } else {
        /* Union over selectors; each answer is sorted, so merge by collecting and sorting. */
        tsdb_strings *parts = mem_calloc(sel.n, sizeof *parts);
        size_t total = 0;
        if (!parts)
            rc = -ENOMEM;
        for (size_t i = 0; !rc && i < sel.n; i++) {
            const promql_expr *e = sel.v[i];
            rc = name ? tsdb_label_values(ctx->db, name, e->matchers, e->nmatchers, start, end,
                                          &parts[i])
                      : tsdb_label_names(ctx->db, e->matchers, e->nmatchers, start, end,
                                         &parts[i]);
            total += parts[i].n;
        }
        if (!rc) {
            out.v = mem_calloc(total + 1, sizeof(char *));
            if (!out.v)
                rc = -ENOMEM;
            for (size_t i = 0; !rc && i < sel.n; i++) {
                for (size_t k = 0; k < parts[i].n; k++)
                    out.v[out.n++] = parts[i].v[k];
                parts[i].n = 0; /* ownership moved */
            }
        }
        for (size_t i = 0; parts && i < sel.n; i++)
            tsdb_strings_free(&parts[i]);
        mem_free(parts);
    }
    api_selectors_free(&sel);
    if (rc) {
        tsdb_strings_free(&out);
        api_error(res, 503, "internal", "out of memory");
        return;
    }
    if (out.n > 1)
        qsort(out.v, out.n, sizeof(char *), str_ptr_cmp);
    jsonw w;
    api_ok_begin(res, &w);
    jsonw_arr_open(&w);
    size_t written = 0;
    int truncated = 0;
    for (size_t i = 0; i < out.n; i++) {
        if (i > 0 && strcmp(out.v[i - 1], out.v[i]) == 0)
            continue;
        if (limit && written == limit) {
            truncated = 1;
            break;
        }
        jsonw_str(&w, out.v[i]);
        written++;
    }
    jsonw_arr_close(&w);
    end_list(res, &w, truncated);
    tsdb_strings_free(&out);
}

static void handle_labels(http_request *req, http_response *res, void *vctx)
{
    label_query(req, res, vctx, NULL);
}

static void handle_label_values(http_request *req, http_response *res, void *vctx)
{
    /* /api/v1/label/<name>/values */
    const char *p = req->path + strlen("/api/v1/label/");
    const char *slash = strchr(p, '/');
    if (!slash || strcmp(slash, "/values") != 0) {
        api_error(res, 404, "not_found", "no such endpoint");
        return;
    }
    char name[LABELS_MAX_NAME + 1];
    size_t n = (size_t)(slash - p);
    if (n == 0 || n > LABELS_MAX_NAME) {
        api_error(res, 400, "bad_data", "invalid label name: \"%.*s\"", (int)(n > 64 ? 64 : n), p);
        return;
    }
    memcpy(name, p, n);
    name[n] = '\0';
    if (!labels_valid_name(name)) {
        api_error(res, 400, "bad_data", "invalid label name: \"%s\"", name);
        return;
    }
    label_query(req, res, vctx, name);
}

static void handle_buildinfo(http_request *req, http_response *res, void *vctx)
{
    (void)req;
    (void)vctx;
    jsonw w;
    api_ok_begin(res, &w);
    jsonw_obj_open(&w);
    jsonw_kv_str(&w, "version", DD_VERSION);
    jsonw_kv_str(&w, "revision", "");
    jsonw_kv_str(&w, "branch", "");
    jsonw_kv_str(&w, "buildUser", "");
    jsonw_kv_str(&w, "buildDate", __DATE__);
    jsonw_kv_str(&w, "goVersion", "none (dashdot is written in C)");
    jsonw_obj_close(&w);
    api_ok_end(res, &w);
}

/* We keep no metric metadata (types, help): an empty answer, as Prometheus gives for unknown
 * metrics, so Grafana's metric browser works. */
static void handle_metadata(http_request *req, http_response *res, void *vctx)
{
    (void)req;
    (void)vctx;
    jsonw w;
    api_ok_begin(res, &w);
    jsonw_obj_open(&w);
    jsonw_obj_close(&w);
    api_ok_end(res, &w);
}

/* No exemplars are stored: an empty list. */
static void handle_exemplars(http_request *req, http_response *res, void *vctx)
{
    (void)req;
    (void)vctx;
    jsonw w;
    api_ok_begin(res, &w);
    jsonw_arr_open(&w);
    jsonw_arr_close(&w);
    api_ok_end(res, &w);
}

static void handle_healthy(http_request *req, http_response *res, void *vctx)
{
    (void)req;
    (void)vctx;
    res->content_type = "text/plain; charset=utf-8";
    buf_puts(&res->body, "dashdot is Healthy.\n");
}

static void handle_ready(http_request *req, http_response *res, void *vctx)
{
    (void)req;
    api_ctx *ctx = vctx;
    res->content_type = "text/plain; charset=utf-8";
    if (!ctx->ready) {
        res->status = 503;
        buf_puts(&res->body, "Service Unavailable\n");
        return;
    }
    buf_puts(&res->body, "dashdot is Ready.\n");
}

void api_meta_register(http_server *s, api_ctx *ctx)
{
    http_route_add(s, NULL, "/api/v1/series", HTTP_FORM_BODY | HTTP_NEED_READ, 1 << 20, handle_series, ctx);
    http_route_add(s, NULL, "/api/v1/labels", HTTP_FORM_BODY | HTTP_NEED_READ, 1 << 20, handle_labels, ctx);
    http_route_add(s, "GET", "/api/v1/label/", HTTP_PREFIX | HTTP_NEED_READ, 0, handle_label_values, ctx);
    http_route_add(s, "GET", "/api/v1/status/buildinfo", HTTP_NEED_READ, 0, handle_buildinfo, ctx);
    http_route_add(s, "GET", "/api/v1/metadata", HTTP_NEED_READ, 0, handle_metadata, ctx);
    http_route_add(s, NULL, "/api/v1/query_exemplars", HTTP_FORM_BODY | HTTP_NEED_READ, 1 << 20, handle_exemplars,
                   ctx);
    http_route_add(s, NULL, "/-/healthy", 0, 0, handle_healthy, ctx);
    http_route_add(s, NULL, "/-/ready", 0, 0, handle_ready, ctx);
}
