/* test_probe_sched: the probe engine with a probe type whose timing the test controls
 * ("fake": settings ms = how long a run takes, -1 never ends; ok = verdict; sync = ends inside
 * start). Definitions from JSON and their errors; a run's samples and common labels; timeouts
 * cancel the type; 60 probes of one interval spread over it; the concurrency limit holds and
 * queued runs that waited a whole interval are skipped; a changed definition runs soon; a
 * removed one is cancelled without a result; closing with runs in flight leaks nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/probes/probe_int.h"
#include "agent/probes/sched.h"
#include "lib/log.h"
#include "lib/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the fake type -------------------------------------------------------------------- */

typedef struct fake_run {
    uv_timer_t t;
    probe_run *r;
} fake_run;

static int inflight, max_inflight, cancels, starts;
static uint64_t start_ns[4096];

static void fake_closed(uv_handle_t *h)
{
    free(h->data);
}

static void fake_fire(uv_timer_t *t)
{
    fake_run *f = t->data;
    probe_run *r = f->r;
    const probe_def *d = probe_run_def(r);
    int ok = json_is_true(json_object_get(d->settings, "ok"));
    inflight--;
    uv_close((uv_handle_t *)&f->t, fake_closed);
    const char *l[] = {"phase", "x", NULL};
    assert_int_equal(probe_run_add(r, "fake_metric", l, 42), 0);
    probe_run_done(r, ok, ok ? NULL : "fake failure\nsecond line");
}

static void fake_start(probe_run *r)
{
    const probe_def *d = probe_run_def(r);
    json_int_t ms = json_integer_value(json_object_get(d->settings, "ms"));
    if (starts < 4096)
        start_ns[starts] = uv_hrtime();
    starts++;
    if (json_is_true(json_object_get(d->settings, "sync"))) {
        probe_run_done(r, 1, NULL);
        return;
    }
    fake_run *f = calloc(1, sizeof *f);
    f->r = r;
    f->t.data = f;
    uv_timer_init(probe_run_loop(r), &f->t);
    probe_run_set_state(r, f);
    inflight++;
    if (inflight > max_inflight)
        max_inflight = inflight;
    if (ms >= 0)
        uv_timer_start(&f->t, fake_fire, (uint64_t)ms, 0);
}

static void fake_cancel(probe_run *r)
{
    fake_run *f = probe_run_state(r);
    cancels++;
    inflight--;
    uv_timer_stop(&f->t);
    uv_close((uv_handle_t *)&f->t, fake_closed);
}

static int fake_prepare(const probe_def *d, void **prep, char *err, size_t errcap)
{
    (void)prep;
    if (json_object_get(d->settings, "refuse")) {
        snprintf(err, errcap, "refused on purpose");
        return -22;
    }
    return 0;
}

static const probe_type fake = {
    .name = "fake", .prepare = fake_prepare, .start = fake_start, .cancel = fake_cancel};

/* ---- helpers --------------------------------------------------------------------------- */

static probe_def *def(int64_t id, int64_t interval, int64_t timeout, const char *settings)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"probe\":%lld,\"schedule\":1,\"name\":\"p%lld\",\"type\":\"fake\",\"device\":\"dev\","
             "\"endpoint\":\"ep\",\"target\":\"t%lld\",\"address\":\"127.0.0.1\",\"port\":1,"
             "\"interval_ms\":%lld,\"timeout_ms\":%lld,\"jitter_ms\":0,\"settings\":%s}",
             (long long)id, (long long)id, (long long)id, (long long)interval,
             (long long)timeout, settings);
    json_error_t je;
    json_t *o = json_loads(text, 0, &je);
    assert_non_null(o);
    probe_def *d = NULL;
    char err[256];
    int rc = probe_def_from_json(o, &d, err, sizeof err);
    if (rc)
        fail_msg("def: %s", err);
    json_decref(o);
    return d;
}

typedef struct got {
    int n, ok, timed_out, nsamples;
    char msg[256];
    char labels[1024];
} got;

static void sink(void *ctx, const probe_result *res)
{
    got *g = ctx;
    g->n++;
    g->ok = res->success;
    g->timed_out = res->timed_out;
    g->nsamples = (int)res->nsamples;
    snprintf(g->msg, sizeof g->msg, "%s", res->message);
    g->labels[0] = '\0';
    for (size_t i = 0; i < res->nsamples; i++)
        if (!strcmp(res->samples[i].metric, "fake_metric"))
            for (size_t k = 0; res->samples[i].labels[k]; k += 2) {
                size_t n = strlen(g->labels);
                snprintf(g->labels + n, sizeof g->labels - n, "%s=%s,", res->samples[i].labels[k],
                         res->samples[i].labels[k + 1]);
            }
}

static void run_for(uv_loop_t *loop, int ms)
{
    uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000;
    while (uv_hrtime() < end)
        uv_run(loop, UV_RUN_NOWAIT), uv_sleep(1);
}

static int setup(void **state)
{
    uv_loop_t *loop = calloc(1, sizeof *loop);
    uv_loop_init(loop);
    probe_type_set_extra(&fake);
    inflight = max_inflight = cancels = starts = 0;
    *state = loop;
    return 0;
}

static int teardown(void **state)
{
    uv_loop_t *loop = *state;
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
    free(loop);
    return 0;
}

/* ---- tests ----------------------------------------------------------------------------- */

static void definitions_refuse_what_they_cannot_use(void **state)
{
    (void)state;
    static const struct {
        const char *json, *why;
    } bad[] = {
        {"[]", "must be a JSON object"},
        {"{\"type\":\"fake\",\"name\":\"n\",\"target\":\"t\"}", "\"probe\" is missing"},
        {"{\"probe\":0,\"type\":\"fake\",\"name\":\"n\",\"target\":\"t\"}", "\"probe\" must be"},
        {"{\"probe\":1,\"type\":\"nope\",\"name\":\"n\",\"target\":\"t\"}", "unknown probe type"},
        {"{\"probe\":1,\"type\":\"fake\",\"target\":\"t\"}", "\"name\" is missing"},
        {"{\"probe\":1,\"type\":\"fake\",\"name\":7,\"target\":\"t\"}", "\"name\" must be a string"},
        {"{\"probe\":1,\"type\":\"fake\",\"name\":\"n\"}", "\"target\" is missing"},
        {"{\"probe\":1,\"type\":\"fake\",\"name\":\"n\",\"target\":\"t\",\"port\":70000}",
         "\"port\" must be an integer from 0 to 65535"},
        {"{\"probe\":1,\"type\":\"fake\",\"name\":\"n\",\"target\":\"t\",\"interval_ms\":5}",
         "\"interval_ms\" must be"},
        {"{\"probe\":1,\"type\":\"fake\",\"name\":\"n\",\"target\":\"t\",\"settings\":[]}",
         "\"settings\" must be an object"},
        {"{\"probe\":1,\"type\":\"fake\",\"name\":\"n\",\"target\":\"t\",\"settings\":{\"refuse\":1}}",
         "refused on purpose"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_error_t je;
        json_t *o = json_loads(bad[i].json, 0, &je);
        probe_def *d = (probe_def *)0x1;
        char err[256] = "";
        assert_int_equal(probe_def_from_json(o, &d, err, sizeof err), -22);
        assert_null(d);
        if (!strstr(err, bad[i].why))
            fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, bad[i].why);
        json_decref(o);
    }
    /* The timeout never exceeds the interval; equal definitions hash equal. */
    probe_def *a = def(1, 1000, 5000, "{}"), *b = def(1, 1000, 5000, "{}"), *c = def(1, 2000, 5000, "{}");
    assert_int_equal(a->timeout_ms, 1000);
    assert_true(a->hash == b->hash);
    assert_true(a->hash != c->hash);
    probe_def_unref(a);
    probe_def_unref(b);
    probe_def_unref(c);
}

static void a_run_has_the_common_labels_and_verdict(void **state)
{
    uv_loop_t *loop = *state;
    probe_sched *s = NULL;
    probe_sched_opts o = {.probe = {.vantage = "vp1"}};
    assert_int_equal(probe_sched_new(&s, loop, &o), 0);
    got g = {0};
    probe_def *d = def(7, 1000, 500, "{\"ms\":10,\"ok\":false}");
    assert_int_equal(probe_sched_run_once(s, d, sink, &g), 0);
    run_for(loop, 100);
    assert_int_equal(g.n, 1);
    assert_false(g.ok);
    assert_string_equal(g.msg, "fake failure"); /* one line */
    assert_int_equal(g.nsamples, 3);             /* fake_metric, probe_success, duration */
    assert_string_equal(g.labels, "phase=x,instance=dev,job=fake,probe=p7,probe_id=7,target=t7,"
                                  "device=dev,endpoint=ep,vantage=vp1,");
    /* A run that ends inside start. */
    probe_def *d2 = def(8, 1000, 500, "{\"sync\":true}");
    memset(&g, 0, sizeof g);
    assert_int_equal(probe_sched_run_once(s, d2, sink, &g), 0);
    assert_int_equal(g.n, 1);
    assert_true(g.ok);
    probe_def_unref(d);
    probe_def_unref(d2);
    probe_sched_close(s);
}

static void a_run_past_its_timeout_is_cancelled(void **state)
{
    uv_loop_t *loop = *state;
    probe_sched *s = NULL;
    probe_sched_opts o = {.probe = {.vantage = "vp1"}};
    assert_int_equal(probe_sched_new(&s, loop, &o), 0);
    got g = {0};
    probe_def *d = def(1, 1000, 100, "{\"ms\":-1}");
    uint64_t t0 = uv_hrtime();
    assert_int_equal(probe_sched_run_once(s, d, sink, &g), 0);
    while (!g.n && uv_hrtime() - t0 < 2000000000ULL)
        uv_run(loop, UV_RUN_ONCE);
    double secs = (double)(uv_hrtime() - t0) / 1e9;
    assert_int_equal(g.n, 1);
    assert_true(g.timed_out);
    assert_false(g.ok);
    assert_string_equal(g.msg, "timeout after 0.1 s");
    assert_int_equal(cancels, 1);
    assert_true(secs >= 0.09 && secs < 0.5);
    probe_def_unref(d);
    probe_sched_close(s);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void probes_of_one_interval_spread_over_it(void **state)
{
    uv_loop_t *loop = *state;
    probe_sched *s = NULL;
    got g = {0};
    probe_sched_opts o = {.probe = {.vantage = "vp1"}, .sink = sink, .sink_ctx = &g};
    assert_int_equal(probe_sched_new(&s, loop, &o), 0);
    enum { N = 60 };
    probe_def *d[N];
    for (int i = 0; i < N; i++)
        d[i] = def(100 + i, 1000, 500, "{\"ms\":1,\"ok\":true}");
    assert_int_equal(probe_sched_apply(s, d, N), 0);
    run_for(loop, 2600);
    probe_sched_stats st;
    probe_sched_get_stats(s, &st);
    assert_int_equal(st.scheduled, N);
    /* Two or three runs each in 2.6 s of a 1 s interval. */
    assert_true(g.n >= 2 * N && g.n <= 3 * N);
    /* Spread: in no 100 ms window do more than a third of them start (a burst would put all
     * N in one). */
    int n = starts < 4096 ? starts : 4096;
    qsort(start_ns, (size_t)n, sizeof start_ns[0], cmp_u64);
    int worst = 0;
    for (int i = 0, j = 0; i < n; i++) {
        while (start_ns[i] - start_ns[j] > 100000000ULL)
            j++;
        if (i - j + 1 > worst)
            worst = i - j + 1;
    }
    print_message("most starts within 100 ms: %d of %d probes\n", worst, N);
    assert_true(worst <= N / 3);
    /* Applying the same definitions again changes nothing: no run soon, counters kept. */
    int before = starts;
    assert_int_equal(probe_sched_apply(s, d, N), 0);
    run_for(loop, 50);
    assert_true(starts - before <= N / 3);
    for (int i = 0; i < N; i++)
        probe_def_unref(d[i]);
    probe_sched_close(s);
}

static void the_concurrency_limit_holds(void **state)
{
    uv_loop_t *loop = *state;
    probe_sched *s = NULL;
    got g = {0};
    probe_sched_opts o = {.probe = {.vantage = "vp1"}, .max_inflight = 2, .sink = sink,
                          .sink_ctx = &g};
    assert_int_equal(probe_sched_new(&s, loop, &o), 0);
    enum { N = 10 };
    probe_def *d[N];
    for (int i = 0; i < N; i++)
        d[i] = def(200 + i, 1000, 1000, "{\"ms\":900,\"ok\":true}");
    assert_int_equal(probe_sched_apply(s, d, N), 0);
    run_for(loop, 2500);
    probe_sched_stats st;
    probe_sched_get_stats(s, &st);
    print_message("runs %llu skipped %llu late %llu, at most %d in flight\n",
                  (unsigned long long)st.runs, (unsigned long long)st.skipped,
                  (unsigned long long)st.late, max_inflight);
    assert_int_equal(max_inflight, 2);
    /* Two slots of 900 ms runs give about 2.2 runs a second for 10 wanted: the queue grows by
     * about 8 a second, so runs wait a whole interval and are skipped — counted, not lost. */
    assert_true(st.skipped > 0);
    assert_true(st.runs >= 3);
    assert_true(st.queued > 0 || st.skipped >= 5);
    for (int i = 0; i < N; i++)
        probe_def_unref(d[i]);
    probe_sched_close(s);
}

static void a_changed_probe_runs_soon_and_a_removed_one_stops(void **state)
{
    uv_loop_t *loop = *state;
    probe_sched *s = NULL;
    got g = {0};
    probe_sched_opts o = {.probe = {.vantage = "vp1"}, .sink = sink, .sink_ctx = &g};
    assert_int_equal(probe_sched_new(&s, loop, &o), 0);
    probe_def *d1 = def(300, 60000, 1000, "{\"ms\":5,\"ok\":true}");
    assert_int_equal(probe_sched_apply(s, &d1, 1), 0);
    run_for(loop, 50); /* first apply: waits for its phase in the minute */
    int before = starts;
    probe_def *d2 = def(300, 60000, 1000, "{\"ms\":5,\"ok\":false}");
    assert_int_equal(probe_sched_apply(s, &d2, 1), 0);
    run_for(loop, 2100);
    assert_int_equal(starts - before, 1); /* the edit ran within 2 s */
    assert_false(g.ok);
    /* A long run, then the probe goes away: cancelled, no result. */
    probe_def *d3 = def(301, 1000, 1000, "{\"ms\":-1}");
    probe_def *both[] = {d2, d3};
    assert_int_equal(probe_sched_apply(s, both, 2), 0);
    run_for(loop, 2100);
    int n = g.n, c = cancels;
    assert_int_equal(probe_sched_apply(s, &d2, 1), 0);
    assert_true(cancels == c + 1 || cancels == c); /* in flight: cancelled now */
    run_for(loop, 50);
    assert_int_equal(g.n, n);
    probe_def_unref(d1);
    probe_def_unref(d2);
    probe_def_unref(d3);
    probe_sched_close(s);
}

static void closing_with_runs_in_flight(void **state)
{
    uv_loop_t *loop = *state;
    probe_sched *s = NULL;
    got g = {0};
    probe_sched_opts o = {.probe = {.vantage = "vp1"}, .sink = sink, .sink_ctx = &g};
    assert_int_equal(probe_sched_new(&s, loop, &o), 0);
    probe_def *d = def(400, 1000, 1000, "{\"ms\":-1}");
    assert_int_equal(probe_sched_apply(s, &d, 1), 0);
    assert_int_equal(probe_sched_run_once(s, d, sink, &g), 0);
    run_for(loop, 300);
    probe_sched_close(s); /* runs cancelled, nothing reported, everything freed */
    assert_int_equal(g.n, 0);
    probe_def_unref(d);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(definitions_refuse_what_they_cannot_use),
        cmocka_unit_test_setup_teardown(a_run_has_the_common_labels_and_verdict, setup, teardown),
        cmocka_unit_test_setup_teardown(a_run_past_its_timeout_is_cancelled, setup, teardown),
        cmocka_unit_test_setup_teardown(probes_of_one_interval_spread_over_it, setup, teardown),
        cmocka_unit_test_setup_teardown(the_concurrency_limit_holds, setup, teardown),
        cmocka_unit_test_setup_teardown(a_changed_probe_runs_soon_and_a_removed_one_stops, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(closing_with_runs_in_flight, setup, teardown),
    };
    probe_type_set_extra(&fake);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
