/* probes: the server's side of probes (docs/probes.md).
 *
 *   GET  /api/v1/agent/config          an agent's assignments and pending test runs; ETag and
 *                                       long-poll (If-None-Match + ?wait=30s → 304 or the change)
 *   POST /api/v1/agent/test-result     an agent's answer to a test run
 *   POST /api/v1/probe/<id>/test       run a probe once from an agent (or the server) and answer
 *   GET  /api/v1/probe/<id>/status     last result per vantage point, from the store
 *
 * Long-polls and test requests are deferred HTTP answers (http_defer). Every deferred
 * connection is a waiter in one list under one lock; a waker thread resumes waiters whose
 * deadline passed, and every change (catalog commit, new test, test result) resumes all of them.
 * A resumed handler looks again and answers or defers anew. The order that keeps wake-ups from
 * slipping between "nothing changed" and "suspended": under the lock, compare the change counter
 * with the one the answer was built from, then defer and add the waiter. */
#include "api_int.h"

#include "../catalog/assign.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/timeutil.h"
#include "../promql/eval.h"
#include "../promql/parse.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define WAIT_MAX_MS 60000
#define TEST_GRACE_MS 10000 /* on top of the probe's timeout: the agent's poll and delivery */
#define TESTS_MAX 256       /* pending test runs at once */
#define RESULT_MAX_BODY (4 << 20)

typedef struct waiter {
    struct MHD_Connection *conn;
    int64_t deadline_ms;
    uint64_t gen; /* the change counter the answer was built from */
    struct waiter *next;
} waiter;

typedef struct test_run {
    char id[33];
    int64_t agent;    /* 0: the server runs it */
    int64_t probe;
    json_t *entry;    /* the assignment */
    json_t *result;   /* the answer, once it came */
    int64_t deadline_ms;
    int sent;         /* handed to the server's runner */
    struct test_run *next;
} test_run;

struct api_probes {
    api_ctx *ctx;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    pthread_t thread;
    int thread_on;
    int stopping;
    uint64_t gen; /* catalog generation at the last change seen, plus test changes */
    uint64_t local; /* test changes */
    waiter *waiters;
    test_run *tests;
    size_t ntests;
};

/* The change counter: catalog commits and test changes. Caller holds p->mu. */
static uint64_t gen_now(api_probes *p)
{
    return cat_store_generation(p->ctx->cat) + p->local;
}

/* Resumes every waiter, or only those past their deadline. Caller holds p->mu. */
static void wake(api_probes *p, int all, int64_t now)
{
    waiter **pw = &p->waiters;
    while (*pw) {
        waiter *w = *pw;
        if (all || w->deadline_ms <= now || w->gen != gen_now(p)) {
            *pw = w->next;
            http_stream_resume(w->conn);
            mem_free(w);
        } else {
            pw = &w->next;
        }
    }
}

static void on_catalog_change(void *vp)
{
    api_probes *p = vp;
    pthread_mutex_lock(&p->mu);
    wake(p, 1, 0);
    pthread_mutex_unlock(&p->mu);
}

static void *waker_main(void *vp)
{
    api_probes *p = vp;
    pthread_mutex_lock(&p->mu);
    while (!p->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&p->cond, &p->mu, &ts);
        wake(p, 0, timeutil_now_ms());
    }
    wake(p, 1, 0);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Defers req until a change after gen or the deadline. Returns 0 when deferred, 1 when a change
 * already happened (answer again now), -ESHUTDOWN when the server stops (answer now, as at the
 * deadline), -ENOMEM. Caller holds p->mu. */
static int defer_locked(api_probes *p, http_request *req, uint64_t gen, int64_t deadline)
{
    if (p->stopping)
        return -ESHUTDOWN;
    if (gen_now(p) != gen)
        return 1;
    waiter *w = mem_calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    w->conn = req->conn;
    w->deadline_ms = deadline;
    w->gen = gen;
    http_defer(req);
    w->next = p->waiters;
    p->waiters = w;
    return 0;
}

static void test_free(test_run *t)
{
    if (!t)
        return;
    json_decref(t->entry);
    json_decref(t->result);
    mem_free(t);
}

/* Takes t out of the pending list. Caller holds p->mu. */
static void test_unlink(api_probes *p, test_run *t)
{
    for (test_run **pt = &p->tests; *pt; pt = &(*pt)->next)
        if (*pt == t) {
            *pt = t->next;
            p->ntests--;
            p->local++;
            return;
        }
}

/* ---- GET /api/v1/agent/config ------------------------------------------------------------ */

typedef struct cfg_state {
    int64_t deadline_ms;
} cfg_state;

static void handle_config(http_request *req, http_response *res, void *vctx)
{
    api_ctx *ctx = vctx;
    api_probes *p = ctx->probes;
    cat_result r = {0};
    int64_t agent = req->who.agent_id;
    if (agent <= 0) {
        api_error(res, 403, "forbidden", "only an enrolled agent's own token has a config");
        return;
    }
    cfg_state *cs = req->state;
    if (!cs) {
        int64_t wait = 0;
        const char *wv = http_form_get(&req->params, "wait");
        if (wv && (timeutil_parse_duration(wv, &wait) || wait < 0)) {
            api_error(res, 400, "bad_data", "invalid parameter \"wait\": \"%.40s\" is not a duration",
                      wv);
            return;
        }
        if (wait > WAIT_MAX_MS)
            wait = WAIT_MAX_MS;
        if (!(cs = mem_calloc(1, sizeof *cs))) {
            api_error(res, 503, "internal", "out of memory");
            return;
        }
        cs->deadline_ms = wait ? timeutil_now_ms() + wait : 0;
        req->state = cs;
        req->state_free = mem_free;
    }
    for (;;) {
        pthread_mutex_lock(&p->mu);
        uint64_t gen = gen_now(p);
        json_t *tests = json_array();
        for (test_run *t = p->tests; t && tests; t = t->next)
            if (t->agent == agent && !t->result)
                json_array_append_new(tests, json_pack("{ss sO}", "id", t->id, "probe", t->entry));
        pthread_mutex_unlock(&p->mu);
        json_t *probes = NULL;
        int rc = tests ? cat_assignments(ctx->cat, agent, &probes, &r) : -ENOMEM;
        if (rc) {
            json_decref(tests);
            api_cat_error(res, rc, &r);
            cat_result_clear(&r);
            return;
        }
        json_t *doc = json_pack("{sI so so}", "agent", (json_int_t)agent, "probes", probes,
                                "tests", tests);
        char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        if (!text) {
            json_decref(doc);
            api_error(res, 503, "internal", "out of memory");
            return;
        }
        char etag[40];
        snprintf(etag, sizeof etag, "\"%016" PRIx64 "\"", (uint64_t)XXH3_64bits(text, strlen(text)));
        free(text);
        const char *inm = http_request_header(req, "If-None-Match");
        if (!inm || strcmp(inm, etag)) {
            http_response_header_copy(res, "ETag", etag);
            http_response_header(res, "Cache-Control", "no-store");
            api_json_ok(res, 200, doc, NULL);
            return;
        }
        json_decref(doc);
        if (cs->deadline_ms && timeutil_now_ms() < cs->deadline_ms) {
            pthread_mutex_lock(&p->mu);
            int d = defer_locked(p, req, gen, cs->deadline_ms);
            pthread_mutex_unlock(&p->mu);
            if (d == 0)
                return; /* called again on a change or at the deadline */
            if (d == 1)
                continue; /* changed meanwhile: look again */
        }
        http_response_header_copy(res, "ETag", etag);
        res->status = 304;
        res->content_type = NULL;
        return;
    }
}

/* ---- test runs --------------------------------------------------------------------------- */

/* Parses the result an agent (or the server's runner) sent into the answer the user sees: a new
 * object, or NULL with why. */
static json_t *result_of(const json_t *in, const char **why)
{
    json_t *samples = json_object_get(in, "samples");
    json_t *succ = json_object_get(in, "success");
    json_t *dur = json_object_get(in, "duration_seconds");
    json_t *msg = json_object_get(in, "message");
    if (!json_is_boolean(succ) || !json_is_number(dur) || (msg && !json_is_string(msg)) ||
        !json_is_array(samples)) {
        *why = "a result needs success (bool), duration_seconds (number), samples (array) and "
               "optionally message (string)";
        return NULL;
    }
    size_t i;
    json_t *s;
    json_array_foreach(samples, i, s)
    {
        if (!json_is_object(s) || !json_is_string(json_object_get(s, "metric")) ||
            !json_is_object(json_object_get(s, "labels")) ||
            !(json_is_number(json_object_get(s, "value")) ||
              json_is_string(json_object_get(s, "value")))) {
            *why = "each sample needs metric (string), labels (object) and value";
            return NULL;
        }
    }
    return json_pack("{sO sO sO ss sO}", "success", succ, "duration_seconds", dur,
                     "timed_out", json_object_get(in, "timed_out") ? json_object_get(in, "timed_out")
                                                                   : json_false(),
                     "message", msg ? json_string_value(msg) : "", "samples", samples);
}

static test_run *find_test(api_probes *p, const char *id)
{
    for (test_run *t = p->tests; t; t = t->next)
        if (!strcmp(t->id, id))
            return t;
    return NULL;
}

static void handle_test_result(http_request *req, http_response *res, void *vctx)
{
    api_ctx *ctx = vctx;
    api_probes *p = ctx->probes;
    json_t *in = api_json_body(req, res);
    if (!in)
        return;
    const char *id = json_string_value(json_object_get(in, "id")), *why = NULL;
    json_t *result = result_of(in, &why);
    if (!id || !result) {
        api_error(res, 400, "bad_data", "%s", id ? why : "\"id\" (string) is required");
        json_decref(in);
        json_decref(result);
        return;
    }
    pthread_mutex_lock(&p->mu);
    test_run *t = find_test(p, id);
    int ok = t && t->agent == req->who.agent_id && !t->result;
    if (ok) {
        t->result = result;
        result = NULL;
        p->local++;
        wake(p, 1, 0);
    }
    pthread_mutex_unlock(&p->mu);
    json_decref(result);
    json_decref(in);
    if (!ok)
        api_error(res, 404, "not_found", "no test run \"%.40s\" waits for this agent", id);
    else {
        res->status = 204;
        res->content_type = NULL;
    }
}

/* The server's runner answers a test it ran (any thread). */
static void on_server_result(void *vp, const char *id, json_t *in)
{
    api_probes *p = vp;
    const char *why;
    json_t *result = result_of(in, &why);
    pthread_mutex_lock(&p->mu);
    test_run *t = find_test(p, id);
    if (t && !t->result && result) {
        t->result = result;
        result = NULL;
        p->local++;
        wake(p, 1, 0);
    }
    pthread_mutex_unlock(&p->mu);
    json_decref(result);
}

typedef struct test_state {
    api_probes *p;
    test_run *t;
} test_state;

static void test_state_free(void *vs)
{
    test_state *ts = vs;
    pthread_mutex_lock(&ts->p->mu);
    test_unlink(ts->p, ts->t);
    pthread_mutex_unlock(&ts->p->mu);
    test_free(ts->t);
    mem_free(ts);
}

static void answer_test(http_request *req, http_response *res, test_state *ts)
{
    api_probes *p = ts->p;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        test_run *t = ts->t;
        uint64_t gen = gen_now(p);
        if (t->result) {
            json_t *out = json_deep_copy(t->result);
            json_object_set_new(out, "probe", json_integer(t->probe));
            json_object_set_new(out, "agent", t->agent ? json_integer(t->agent) : json_null());
            pthread_mutex_unlock(&p->mu);
            api_json_ok(res, 200, out, NULL);
            return;
        }
        if (p->stopping || timeutil_now_ms() >= t->deadline_ms) {
            int64_t secs = (json_integer_value(json_object_get(t->entry, "timeout_ms")) +
                            TEST_GRACE_MS) / 1000;
            int64_t agent = t->agent;
            pthread_mutex_unlock(&p->mu);
            if (agent)
                api_error(res, 504, "timeout",
                          "agent %lld did not answer within %lld s (is it running, and connected "
                          "to this server?)",
                          (long long)agent, (long long)secs);
            else
                api_error(res, 504, "timeout", "the server's probe runner did not answer");
            return;
        }
        int d = defer_locked(p, req, gen, t->deadline_ms);
        pthread_mutex_unlock(&p->mu);
        if (d == 0)
            return;
        if (d == -ENOMEM) {
            api_error(res, 503, "internal", "out of memory");
            return;
        }
        /* 1: a change, look again; -ESHUTDOWN: the next round answers (stopping is set). */
    }
}

void api_probe_test(http_request *req, http_response *res, api_ctx *ctx, int64_t probe_id)
{
    api_probes *p = ctx->probes;
    cat_result r = {0};
    cat_actor a;
    if (req->state) {
        answer_test(req, res, req->state);
        return;
    }
    api_actor(req, &a);
    if (a.role < CAT_ROLE_EDITOR) {
        api_error(res, 403, "forbidden", "testing a probe needs the editor or admin role");
        return;
    }
    int64_t agent = 0;
    if (req->body_len) {
        json_t *in = api_json_body(req, res);
        if (!in)
            return;
        json_t *av = json_object_get(in, "agent");
        if (av && !json_is_null(av) && (!json_is_integer(av) || json_integer_value(av) <= 0)) {
            json_decref(in);
            api_error(res, 422, "validation", "\"agent\" must be an agent id or null");
            return;
        }
        agent = av && json_is_integer(av) ? json_integer_value(av) : 0;
        json_decref(in);
    }
    json_t *entry = NULL, *ag = NULL;
    int rc = cat_assignment_of(ctx->cat, &a, probe_id, &entry, &r);
    if (!rc && agent)
        rc = cat_get(ctx->cat, cat_model_find("agent"), &a, agent, &ag, &r);
    json_decref(ag);
    if (rc) {
        api_cat_error(res, rc, &r);
        cat_result_clear(&r);
        json_decref(entry);
        return;
    }
    if (json_object_get(entry, "error")) {
        api_error(res, 422, "validation", "this probe cannot run: %s",
                  json_string_value(json_object_get(entry, "error")));
        json_decref(entry);
        return;
    }
    if (!agent && !ctx->run_test) {
        json_decref(entry);
        api_error(res, 503, "unavailable", "this server runs no probes itself: choose an agent");
        return;
    }
    json_object_set_new(entry, "schedule", json_integer(0));
    test_run *t = mem_calloc(1, sizeof *t);
    test_state *ts = mem_calloc(1, sizeof *ts);
    if (!t || !ts) {
        mem_free(t);
        mem_free(ts);
        json_decref(entry);
        api_error(res, 503, "internal", "out of memory");
        return;
    }
    unsigned char rnd[16];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(t->id, sizeof t->id, rnd, sizeof rnd);
    t->agent = agent;
    t->probe = probe_id;
    t->entry = entry;
    t->deadline_ms = timeutil_now_ms() +
                     json_integer_value(json_object_get(entry, "timeout_ms")) + TEST_GRACE_MS;
    ts->p = p;
    ts->t = t;
    pthread_mutex_lock(&p->mu);
    if (p->ntests >= TESTS_MAX) {
        pthread_mutex_unlock(&p->mu);
        test_free(t);
        mem_free(ts);
        api_error(res, 429, "too_many", "%d test runs are waiting already", TESTS_MAX);
        return;
    }
    t->next = p->tests;
    p->tests = t;
    p->ntests++;
    p->local++;
    wake(p, 1, 0); /* the agent's long-poll hears of it now */
    pthread_mutex_unlock(&p->mu);
    req->state = ts;
    req->state_free = test_state_free;
    if (!agent && ctx->run_test(ctx->run_test_ctx, t->id, entry, on_server_result, p)) {
        api_error(res, 503, "internal", "the server's probe runner cannot take it");
        return;
    }
    answer_test(req, res, ts);
}

static void handle_probe_post(http_request *req, http_response *res, void *vctx)
{
    api_ctx *ctx = vctx;
    const char *rest = req->path + strlen("/api/v1/probe/");
    char *end;
    errno = 0;
    long long id = strtoll(rest, &end, 10);
    if (errno || end == rest || id <= 0 || strcmp(end, "/test")) {
        api_error(res, 404, "not_found", "no such endpoint");
        return;
    }
    api_probe_test(req, res, ctx, id);
}

/* ---- GET /api/v1/probe/<id>/status --------------------------------------------------------- */

/* Evaluates expr now; returns the vector (or NULL with the error answered). */
static int instant(api_ctx *ctx, const char *expr, int64_t lookback_ms, promql_result *out,
                   char *err, size_t cap)
{
    promql_expr *e = NULL;
    int rc = promql_parse(expr, &e, err, cap);
    if (rc)
        return rc;
    promql_querier q = promql_querier_tsdb(ctx->db);
    promql_opts o = {.lookback_ms = lookback_ms, .timeout_ms = 10000};
    rc = promql_eval_instant(&q, e, timeutil_now_ms(), &o, out, err, cap);
    promql_expr_free(e);
    return rc;
}

static const char *label_of(const labels *ls, const char *name)
{
    for (size_t i = 0; i < ls->n; i++)
        if (!strcmp(ls->v[i].name, name))
            return ls->v[i].value;
    return "";
}

/* The same series apart from the metric name (timestamp() drops it). */
static int same_series(const labels *a, const labels *b)
{
    size_t i = 0, j = 0;
    for (;;) {
        while (i < a->n && !strcmp(a->v[i].name, "__name__"))
            i++;
        while (j < b->n && !strcmp(b->v[j].name, "__name__"))
            j++;
        if (i == a->n || j == b->n)
            return i == a->n && j == b->n;
        if (strcmp(a->v[i].name, b->v[j].name) || strcmp(a->v[i].value, b->v[j].value))
            return 0;
        i++;
        j++;
    }
}

void api_probe_status(http_request *req, http_response *res, api_ctx *ctx, int64_t probe_id)
{
    cat_result r = {0};
    cat_actor a;
    json_t *entry = NULL;
    api_actor(req, &a);
    int rc = cat_assignment_of(ctx->cat, &a, probe_id, &entry, &r);
    if (rc) {
        api_cat_error(res, rc, &r);
        cat_result_clear(&r);
        return;
    }
    int64_t iv = json_integer_value(json_object_get(entry, "interval_ms"));
    int64_t window = 2 * iv + 60000;
    char expr[256], err[512];
    /* The last verdict, its time and the last duration per vantage point, looking back two
     * intervals and a minute (a stale probe shows as such instead of vanishing). An instant
     * selector keeps its sample's own time, which timestamp() reports. */
    promql_result ok, when, dur;
    memset(&when, 0, sizeof when);
    memset(&dur, 0, sizeof dur);
    snprintf(expr, sizeof expr, "probe_success{probe_id=\"%lld\"}", (long long)probe_id);
    rc = instant(ctx, expr, window, &ok, err, sizeof err);
    if (!rc) {
        snprintf(expr, sizeof expr, "timestamp(probe_success{probe_id=\"%lld\"})",
                 (long long)probe_id);
        if ((rc = instant(ctx, expr, window, &when, err, sizeof err)))
            promql_result_free(&ok);
    }
    if (!rc) {
        snprintf(expr, sizeof expr, "probe_duration_seconds{probe_id=\"%lld\"}",
                 (long long)probe_id);
        if ((rc = instant(ctx, expr, window, &dur, err, sizeof err))) {
            promql_result_free(&ok);
            promql_result_free(&when);
        }
    }
    if (rc) {
        json_decref(entry);
        api_error(res, 503, "internal", "%s", err);
        return;
    }
    /* A vantage point may have several series (an edit changed the target): its newest
     * sample speaks for it. */
    int64_t now = timeutil_now_ms();
    json_t *vs = json_array();
    for (size_t i = 0; vs && i < when.nseries; i++) {
        const char *v = label_of(when.series[i].ls, "vantage");
        double t = when.series[i].points[0].v;
        int newest = 1;
        for (size_t j = 0; j < when.nseries && newest; j++)
            newest = j == i || strcmp(label_of(when.series[j].ls, "vantage"), v) ||
                     when.series[j].points[0].v < t || (when.series[j].points[0].v == t && j > i);
        if (!newest)
            continue;
        double okv = 0, d = -1;
        for (size_t j = 0; j < ok.nseries; j++)
            if (same_series(ok.series[j].ls, when.series[i].ls))
                okv = ok.series[j].points[0].v;
        for (size_t j = 0; j < dur.nseries; j++)
            if (same_series(dur.series[j].ls, when.series[i].ls))
                d = dur.series[j].points[0].v;
        double age = (double)now / 1000 - t;
        json_array_append_new(
            vs, json_pack("{ss sb sf sf sf sb ss}", "vantage", v, "success", okv == 1,
                          "duration_seconds", d, "time", t, "age_seconds", age < 0 ? 0 : age,
                          "stale", age * 1000 > 2.0 * (double)iv + 5000, "target",
                          label_of(when.series[i].ls, "target")));
    }
    promql_result_free(&ok);
    promql_result_free(&when);
    promql_result_free(&dur);
    /* The state from the fresh vantage points only: a stale one says nothing about now. */
    size_t nfail = 0, nfresh = 0, i;
    json_t *v;
    json_array_foreach(vs, i, v)
    {
        if (json_is_true(json_object_get(v, "stale")))
            continue;
        nfresh++;
        nfail += !json_is_true(json_object_get(v, "success"));
    }
    const char *state = json_object_get(entry, "error") ? "misconfigured"
                        : json_array_size(vs) == 0    ? "no data"
                        : nfresh == 0                 ? "stale"
                        : nfail == nfresh             ? "down"
                        : nfail                       ? "partial"
                                                      : "up";
    json_t *out = json_pack("{sI ss sI sO so}", "probe", (json_int_t)probe_id, "state", state,
                            "interval_ms", (json_int_t)iv, "error",
                            json_object_get(entry, "error") ? json_object_get(entry, "error")
                                                            : json_null(),
                            "vantages", vs);
    json_decref(entry);
    api_json_ok(res, 200, out, NULL);
}

/* ---- registration ---------------------------------------------------------------------- */

int api_probes_register(http_server *s, api_ctx *ctx)
{
    api_probes *p = mem_calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->ctx = ctx;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cond, NULL);
    ctx->probes = p;
    if (pthread_create(&p->thread, NULL, waker_main, p))
        return -ENOMEM;
    p->thread_on = 1;
    cat_store_on_change(ctx->cat, on_catalog_change, p);
    int rc = http_route_add(s, "GET", "/api/v1/agent/config", HTTP_NEED_AGENT, 0, handle_config,
                            ctx);
    if (!rc)
        rc = http_route_add(s, "POST", "/api/v1/agent/test-result", HTTP_NEED_AGENT,
                            RESULT_MAX_BODY, handle_test_result, ctx);
    if (!rc)
        rc = http_route_add(s, "POST", "/api/v1/probe/", HTTP_PREFIX | HTTP_NEED_USER, 64 << 10,
                            handle_probe_post, ctx);
    return rc;
}

void api_probes_shutdown(api_ctx *ctx)
{
    api_probes *p = ctx->probes;
    if (!p)
        return;
    cat_store_on_change(ctx->cat, NULL, NULL);
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    wake(p, 1, 0);
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->mu);
    if (p->thread_on)
        pthread_join(p->thread, NULL);
    p->thread_on = 0;
}

void api_probes_free(api_ctx *ctx)
{
    api_probes *p = ctx->probes;
    if (!p)
        return;
    api_probes_shutdown(ctx);
    while (p->tests) {
        test_run *t = p->tests;
        p->tests = t->next;
        test_free(t);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cond);
    mem_free(p);
    ctx->probes = NULL;
}
