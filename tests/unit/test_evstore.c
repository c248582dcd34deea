/* test_evstore: the event store — round trips of every field, each filter alone and combined
 * against a brute-force model, paging while appends go on, search syntax, hostile strings,
 * day boundaries and absurd times, sealing, retention by age and size, reopening, kill -9
 * durability, unknown senders and adoption, threads, allocation failures.
 *
 * Every time is fixed (days from T0 = 2026-03-10T00:00:00Z, passed to the store as event and
 * receive times, and to maintenance as "now"): nothing depends on the wall clock except
 * recv_defaults_to_now, which checks a bracket around it. Each test uses its own directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "events/evstore.h"
#include "lib/mem.h"
#include "lib/timeutil.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SEC 1000LL
#define HOUR (3600 * SEC)
#define DAY (24 * HOUR)
#define T0 1773100800000LL /* 2026-03-10T00:00:00Z */

/* ---------------------------------------------------------------- fixtures */

typedef struct fx {
    char dir[64];
    evstore *s;
} fx;

static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(dir);
}

static evstore *open_at(const char *dir, int64_t retention, uint64_t max_bytes)
{
    evstore_opts o = {.retention_ms = retention, .max_bytes = max_bytes};
    char err[256] = "";
    evstore *s = NULL;
    int rc = evstore_open(&s, dir, &o, err, sizeof err);
    if (rc)
        fail_msg("evstore_open: %d %s", rc, err);
    return s;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_evstore.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->s = open_at(f->dir, 365 * DAY, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    evstore_close(f->s);
    rm_dir(f->dir);
    free(f);
    return 0;
}

static void reopen(fx *f)
{
    evstore_close(f->s);
    f->s = open_at(f->dir, 365 * DAY, 0);
}

/* An event with every text member set from a short tag. */
typedef struct tev {
    event ev;
    char title[128], text[160], fields[96], host[32], app[32], source[32], fp[32];
} tev;

static void tev_make(tev *t, int i, int64_t when)
{
    event_init(&t->ev);
    snprintf(t->title, sizeof t->title, "title %d", i);
    snprintf(t->text, sizeof t->text, "text %d line one\nline two", i);
    snprintf(t->fields, sizeof t->fields, "{\"i\":%d,\"tag\":\"t%d\"}", i, i);
    snprintf(t->host, sizeof t->host, "host-%d", i % 5);
    snprintf(t->app, sizeof t->app, "app%d", i % 3);
    snprintf(t->source, sizeof t->source, "10.0.0.%d", i % 7);
    t->fp[0] = '\0';
    if (i % 11 == 0)
        snprintf(t->fp, sizeof t->fp, "fp%d", i % 4);
    t->ev.t_ms = when;
    t->ev.recv_ms = when + 100;
    t->ev.sensor_id = 1 + i % 4;
    t->ev.device_id = i % 6; /* 0: unknown */
    t->ev.severity = i % 8;
    t->ev.facility = i % 24;
    t->ev.status = i % 3;
    t->ev.kind = i % 2 ? EVENT_KIND_SYSLOG : EVENT_KIND_ALERT;
    t->ev.host = t->host;
    t->ev.app = t->app;
    t->ev.title = t->title;
    t->ev.text = t->text;
    t->ev.fields = t->fields;
    t->ev.source = t->source;
    t->ev.fingerprint = t->fp;
}

static int64_t append1(evstore *s, const event *e)
{
    int64_t id = -1;
    assert_int_equal(evstore_append(s, e, 1, &id), 0);
    assert_true(id > 0);
    return id;
}

/* What a query returned: ids and owned copies of the events. */
typedef struct row {
    int64_t id;
    event ev;
    char *str[8];
} row;

typedef struct rows {
    row *v;
    size_t n, cap;
    size_t stop_after; /* 0: never */
} rows;

static int collect(void *ctx, int64_t id, const event *e)
{
    rows *r = ctx;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->v = realloc(r->v, r->cap * sizeof *r->v);
    }
    row *w = &r->v[r->n++];
    w->id = id;
    w->ev = *e;
    const char *src[8] = {e->kind, e->host,   e->app,    e->title,
                          e->text, e->fields, e->source, e->fingerprint};
    for (int i = 0; i < 8; i++)
        w->str[i] = strdup(src[i]);
    w->ev.kind = w->str[0], w->ev.host = w->str[1], w->ev.app = w->str[2];
    w->ev.title = w->str[3], w->ev.text = w->str[4], w->ev.fields = w->str[5];
    w->ev.source = w->str[6], w->ev.fingerprint = w->str[7];
    return r->stop_after && r->n >= r->stop_after;
}

static void rows_free(rows *r)
{
    for (size_t i = 0; i < r->n; i++)
        for (int k = 0; k < 8; k++)
            free(r->v[i].str[k]);
    free(r->v);
    memset(r, 0, sizeof *r);
}

/* Every page of q (q->limit per page) into r; checks ids strictly decrease across pages. */
static void query_all(evstore *s, evstore_filter q, rows *r)
{
    char err[256];
    int64_t next = 0;
    size_t pages = 0;
    do {
        size_t before = r->n;
        int rc = evstore_query(s, &q, collect, r, &next, err, sizeof err);
        if (rc)
            fail_msg("query: %d %s", rc, err);
        if (next)
            assert_int_equal(r->n - before, q.limit);
        q.cursor = next;
        assert_true(++pages < 100000);
    } while (next);
    for (size_t i = 1; i < r->n; i++)
        if (r->v[i].id >= r->v[i - 1].id)
            fail_msg("ids not decreasing at %zu: %" PRId64 " then %" PRId64, i, r->v[i - 1].id,
                     r->v[i].id);
}

static void assert_event_eq(const event *a, const event *b)
{
    assert_int_equal(a->t_ms, b->t_ms);
    assert_int_equal(a->recv_ms, b->recv_ms);
    assert_int_equal(a->sensor_id, b->sensor_id);
    assert_int_equal(a->device_id, b->device_id);
    assert_int_equal(a->severity, b->severity);
    assert_int_equal(a->facility, b->facility);
    assert_int_equal(a->status, b->status);
    assert_string_equal(a->kind, b->kind);
    assert_string_equal(a->host, b->host);
    assert_string_equal(a->app, b->app);
    assert_string_equal(a->title, b->title);
    assert_string_equal(a->text, b->text);
    assert_string_equal(a->fields, b->fields);
    assert_string_equal(a->source, b->source);
    assert_string_equal(a->fingerprint, b->fingerprint);
}

static evstore_filter all_q(size_t limit)
{
    evstore_filter q = {.max_severity = -1, .limit = limit};
    return q;
}

/* ---------------------------------------------------------------- round trips */

static void round_trip_every_field(void **state)
{
    fx *f = *state;
    tev t;
    tev_make(&t, 7, T0 + 5 * HOUR + 123);
    t.ev.device_id = 42;
    t.ev.sensor_id = 9;
    t.ev.severity = EVENT_CRITICAL;
    t.ev.facility = 23;
    t.ev.status = EVENT_STATUS_RESOLVED;
    snprintf(t.fp, sizeof t.fp, "abc123");
    int64_t id = append1(f->s, &t.ev);
    /* The id says the placement second. */
    assert_int_equal(id >> 20, (T0 + 5 * HOUR + 123) / 1000);
    rows r = {0};
    query_all(f->s, all_q(10), &r);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.v[0].id, id);
    assert_event_eq(&r.v[0].ev, &t.ev);
    rows_free(&r);
    /* Text equal to the title and empty members come back as given. */
    event e;
    event_init(&e);
    e.t_ms = T0 + 6 * HOUR;
    e.recv_ms = T0 + 6 * HOUR;
    e.title = e.text = "same line";
    e.facility = -1;
    int64_t id2 = append1(f->s, &e);
    query_all(f->s, all_q(1), &r);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.v[0].id, id2);
    assert_event_eq(&r.v[0].ev, &e);
    rows_free(&r);
    /* And after a reopen. */
    reopen(f);
    query_all(f->s, all_q(5), &r);
    assert_int_equal(r.n, 2);
    assert_event_eq(&r.v[0].ev, &e);
    assert_event_eq(&r.v[1].ev, &t.ev);
    rows_free(&r);
}

static void out_of_range_numbers_are_normalised(void **state)
{
    fx *f = *state;
    event e;
    event_init(&e);
    e.t_ms = T0;
    e.recv_ms = T0;
    e.severity = 99;
    e.facility = 77;
    e.status = -3;
    e.device_id = -5;
    e.sensor_id = -1;
    append1(f->s, &e);
    rows r = {0};
    query_all(f->s, all_q(10), &r);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.v[0].ev.severity, EVENT_INFO);
    assert_int_equal(r.v[0].ev.facility, -1);
    assert_int_equal(r.v[0].ev.status, EVENT_STATUS_NONE);
    assert_int_equal(r.v[0].ev.device_id, 0);
    assert_int_equal(r.v[0].ev.sensor_id, 0);
    rows_free(&r);
}

static void recv_defaults_to_now(void **state)
{
    fx *f = *state;
    event e;
    event_init(&e);
    e.title = "no times at all";
    int64_t before = timeutil_now_ms();
    int64_t id = append1(f->s, &e);
    int64_t after = timeutil_now_ms();
    rows r = {0};
    query_all(f->s, all_q(10), &r);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.v[0].id, id);
    assert_true(r.v[0].ev.recv_ms >= before && r.v[0].ev.recv_ms <= after);
    assert_int_equal(r.v[0].ev.t_ms, 0); /* kept as the sender said; placed by recv */
    assert_true((id >> 20) >= before / 1000 && (id >> 20) <= after / 1000);
    rows_free(&r);
}

/* ---------------------------------------------------------------- filters vs a model */

#define NMODEL 300

typedef struct model {
    tev t[NMODEL];
    int64_t id[NMODEL];
    int64_t placed[NMODEL];
    char words[NMODEL][4]; /* which of alpha beta gamma delta the text holds */
} model;

static const char *const mwords[4] = {"alpha", "beta", "gamma", "delta"};

/* 300 events over three days (some in the same second, some out of order). */
static void model_fill(fx *f, model *m)
{
    for (int i = 0; i < NMODEL; i++) {
        int64_t when = T0 + (i % 3) * DAY + (i * 7919 % 86400) * SEC + (i % 5) * 150;
        if (i % 10 == 3)
            when = m->placed[i - 1]; /* same millisecond as the previous event */
        tev_make(&m->t[i], i, when);
        char *p = m->t[i].text;
        size_t cap = sizeof m->t[i].text, len = 0;
        len += (size_t)snprintf(p + len, cap - len, "ev%d", i);
        for (int w = 0; w < 4; w++) {
            m->words[i][w] = (char)((i >> w) & 1);
            if (m->words[i][w])
                len += (size_t)snprintf(p + len, cap - len, " %s", mwords[w]);
        }
        m->placed[i] = when;
    }
    /* Append in batches of mixed days. */
    for (int i = 0; i < NMODEL; i += 25) {
        event ev[25];
        for (int k = 0; k < 25; k++)
            ev[k] = m->t[i + k].ev;
        assert_int_equal(evstore_append(f->s, ev, 25, &m->id[i]), 0);
    }
    for (int i = 0; i < NMODEL; i++)
        assert_int_equal(m->id[i] >> 20, m->placed[i] / 1000);
}

typedef int (*pred_fn)(const model *m, int i, const void *arg);

/* Checks that q (paged by 7) returns exactly the model events satisfying pred, newest first,
 * with every field intact. */
static void check_query(fx *f, const model *m, evstore_filter q, pred_fn pred, const void *arg,
                        const char *what)
{
    rows r = {0};
    q.limit = 7;
    query_all(f->s, q, &r);
    size_t want = 0;
    for (int i = 0; i < NMODEL; i++)
        if (pred(m, i, arg))
            want++;
    if (r.n != want)
        fail_msg("%s: %zu rows, want %zu", what, r.n, want);
    for (size_t k = 0; k < r.n; k++) {
        int found = -1;
        for (int i = 0; i < NMODEL; i++)
            if (m->id[i] == r.v[k].id)
                found = i;
        if (found < 0 || !pred(m, found, arg))
            fail_msg("%s: unexpected id %" PRId64, what, r.v[k].id);
        assert_event_eq(&r.v[k].ev, &m->t[found].ev);
    }
    rows_free(&r);
}

typedef struct fargs {
    int64_t from, to;
    const int64_t *devices;
    size_t ndevices;
    int devices_set;
    const int64_t *sensors;
    size_t nsensors;
    int max_sev;
    const char *kind, *fp;
    int words[4]; /* 1: must contain */
    int use_words;
} fargs;

static int in(const int64_t *v, size_t n, int64_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return 1;
    return 0;
}

static int model_pred(const model *m, int i, const void *arg)
{
    const fargs *a = arg;
    const event *e = &m->t[i].ev;
    if (a->from && m->placed[i] < a->from)
        return 0;
    if (a->to && m->placed[i] > a->to)
        return 0;
    if (a->devices_set && !in(a->devices, a->ndevices, e->device_id))
        return 0;
    if (a->nsensors && !in(a->sensors, a->nsensors, e->sensor_id))
        return 0;
    if (a->max_sev >= 0 && e->severity > a->max_sev)
        return 0;
    if (a->kind && strcmp(a->kind, e->kind))
        return 0;
    if (a->fp && strcmp(a->fp, e->fingerprint))
        return 0;
    for (int w = 0; a->use_words && w < 4; w++)
        if (a->words[w] && !m->words[i][w])
            return 0;
    return 1;
}

static evstore_filter fargs_query(const fargs *a, char *qbuf, size_t cap)
{
    evstore_filter q = {.from_ms = a->from,
                        .to_ms = a->to,
                        .devices = a->devices,
                        .ndevices = a->ndevices,
                        .devices_set = a->devices_set,
                        .sensors = a->sensors,
                        .nsensors = a->nsensors,
                        .max_severity = a->max_sev,
                        .kind = a->kind,
                        .fingerprint = a->fp};
    if (a->use_words) {
        size_t len = 0;
        qbuf[0] = '\0';
        for (int w = 0; w < 4; w++)
            if (a->words[w])
                len += (size_t)snprintf(qbuf + len, cap - len, "%s ", mwords[w]);
        q.q = qbuf;
    }
    return q;
}

static void filters_each_alone(void **state)
{
    fx *f = *state;
    model *m = calloc(1, sizeof *m);
    model_fill(f, m);
    char qb[128];
    static const int64_t dev1[] = {3}, dev0[] = {0}, devs[] = {1, 0, 5}, sens[] = {2, 4};
    const fargs cases[] = {
        {.max_sev = -1},
        {.from = T0 + DAY, .max_sev = -1},
        {.to = T0 + DAY - 1, .max_sev = -1},
        {.from = T0 + DAY + 3 * HOUR, .to = T0 + 2 * DAY + 5 * HOUR + 450, .max_sev = -1},
        /* Millisecond ends inside one second: the row's milliseconds decide. */
        {.from = m->placed[17], .to = m->placed[17], .max_sev = -1},
        {.from = m->placed[17] + 1, .to = m->placed[17] + 999, .max_sev = -1},
        {.devices = dev1, .ndevices = 1, .devices_set = 1, .max_sev = -1},
        {.devices = dev0, .ndevices = 1, .devices_set = 1, .max_sev = -1},
        {.devices = devs, .ndevices = 3, .devices_set = 1, .max_sev = -1},
        {.devices = devs, .ndevices = 0, .devices_set = 1, .max_sev = -1},
        {.sensors = sens, .nsensors = 2, .max_sev = -1},
        {.sensors = sens, .nsensors = 1, .max_sev = -1},
        {.max_sev = 0},
        {.max_sev = 3},
        {.max_sev = 7},
        {.kind = EVENT_KIND_ALERT, .max_sev = -1},
        {.kind = EVENT_KIND_SYSLOG, .max_sev = -1},
        {.kind = EVENT_KIND_ALERT, .max_sev = 2},
        {.kind = "nosuchkind", .max_sev = -1},
        {.fp = "fp1", .max_sev = -1},
        {.fp = "", .max_sev = -1},
        {.use_words = 1, .words = {1, 0, 0, 0}, .max_sev = -1},
        {.use_words = 1, .words = {0, 1, 1, 0}, .max_sev = -1},
        {.use_words = 1, .words = {1, 1, 1, 1}, .max_sev = -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char what[32];
        snprintf(what, sizeof what, "case %zu", i);
        check_query(f, m, fargs_query(&cases[i], qb, sizeof qb), model_pred, &cases[i], what);
    }
    free(m);
}

static void filters_combined(void **state)
{
    fx *f = *state;
    model *m = calloc(1, sizeof *m);
    model_fill(f, m);
    char qb[128];
    uint64_t seed = 12345;
    static const int64_t pool[] = {0, 1, 2, 3, 4, 5, 6};
    for (int c = 0; c < 200; c++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t r = seed >> 11;
        fargs a = {.max_sev = -1};
        if (r & 1) {
            a.from = T0 + (int64_t)((r >> 8) % (3 * DAY));
            a.to = a.from + (int64_t)((r >> 20) % DAY);
        }
        if (r & 2)
            a.devices = pool + (r >> 30) % 4, a.ndevices = 1 + (r >> 33) % 3, a.devices_set = 1;
        if (r & 4)
            a.sensors = pool + 1 + (r >> 36) % 3, a.nsensors = 1 + (r >> 38) % 2;
        if (r & 8)
            a.max_sev = (int)((r >> 40) % 8);
        if (r & 16)
            a.kind = (r >> 43) & 1 ? EVENT_KIND_SYSLOG : EVENT_KIND_ALERT;
        if (r & 32) {
            a.use_words = 1;
            for (int w = 0; w < 4; w++)
                a.words[w] = (int)((r >> (44 + w)) & 1);
            if (!a.words[0] && !a.words[1] && !a.words[2] && !a.words[3])
                a.use_words = 0;
        }
        if ((r & 64) && (r & 128))
            a.fp = "fp0";
        char what[32];
        snprintf(what, sizeof what, "combination %d", c);
        check_query(f, m, fargs_query(&a, qb, sizeof qb), model_pred, &a, what);
    }
    free(m);
}

static void search_forms(void **state)
{
    fx *f = *state;
    static const char *const texts[] = {
        "Failed password for root from 10.0.0.5 port 22",
        "Accepted password for alice from 10.0.0.6",
        "eth0: link up, 1000 Mbps",
        "NEAR(a b) AND OR NOT col:x ^start -minus a+b",
        "payment \"quoted\" value; DROP TABLE ev; --",
        "Ünïcödé Straße café",
    };
    int64_t ids[6];
    for (int i = 0; i < 6; i++) {
        event e;
        event_init(&e);
        e.t_ms = e.recv_ms = T0 + i * SEC;
        e.title = texts[i];
        e.host = i == 2 ? "switch-7" : "web-1";
        e.app = i < 2 ? "sshd" : "kernel";
        ids[i] = append1(f->s, &e);
    }
    static const struct {
        const char *q;
        int want[6];
    } cases[] = {
        {"password", {1, 1, 0, 0, 0, 0}},
        {"PASSWORD root", {1, 0, 0, 0, 0, 0}},
        {"\"password for root\"", {1, 0, 0, 0, 0, 0}},
        {"\"root for password\"", {0, 0, 0, 0, 0, 0}},
        {"10.0.0.5", {1, 0, 0, 0, 0, 0}},
        {"pass*", {1, 1, 0, 0, 0, 0}},
        {"\"password for\"*", {1, 1, 0, 0, 0, 0}},
        {"switch-7", {0, 0, 1, 0, 0, 0}},
        {"sshd", {1, 1, 0, 0, 0, 0}},
        {"kernel link", {0, 0, 1, 0, 0, 0}},
        {"NEAR(a", {0, 0, 0, 1, 0, 0}},
        {"AND", {0, 0, 0, 1, 0, 0}},
        {"OR NOT", {0, 0, 0, 1, 0, 0}},
        {"col:x", {0, 0, 0, 1, 0, 0}},
        {"^start", {0, 0, 0, 1, 0, 0}},
        {"-minus", {0, 0, 0, 1, 0, 0}},
        {"a+b", {0, 0, 0, 1, 0, 0}},
        {"DROP TABLE", {0, 0, 0, 0, 1, 0}},
        {"'); DROP TABLE ev; --", {0, 0, 0, 0, 1, 0}},
        {"\"quoted\"", {0, 0, 0, 0, 1, 0}},
        {"unicode straße", {0, 0, 0, 0, 0, 1}},
        {"strasse", {0, 0, 0, 0, 0, 0}}, /* unicode61 folds case and accents, not ß */
        {"CAFÉ", {0, 0, 0, 0, 0, 1}},
        {"nothing-like-this", {0, 0, 0, 0, 0, 0}},
        {"password ...", {1, 1, 0, 0, 0, 0}}, /* punctuation-only words are dropped */
        {"", {1, 1, 1, 1, 1, 1}},             /* blank: no search */
        {"   \t", {1, 1, 1, 1, 1, 1}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        evstore_filter q = all_q(100);
        q.q = cases[c].q;
        rows r = {0};
        char err[256] = "";
        int64_t next;
        int rc = evstore_query(f->s, &q, collect, &r, &next, err, sizeof err);
        if (rc)
            fail_msg("search '%s': %d %s", cases[c].q, rc, err);
        for (int i = 0; i < 6; i++) {
            int got = 0;
            for (size_t k = 0; k < r.n; k++)
                got |= r.v[k].id == ids[i];
            if (got != cases[c].want[i])
                fail_msg("search '%s': event %d %s", cases[c].q, i,
                         got ? "found, not wanted" : "missing");
        }
        rows_free(&r);
    }
}

static void search_syntax_errors(void **state)
{
    fx *f = *state;
    event e;
    event_init(&e);
    e.t_ms = e.recv_ms = T0;
    e.title = "something";
    append1(f->s, &e);
    char big[EVSTORE_Q_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char many[512] = "";
    for (int i = 0; i < 40; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "w%d ", i);
    static const char *const bad_static[] = {
        "\"unterminated", "foo \"bar",       "fo*o",      "*foo",
        "foo\"bar",       "\"a\"b",          "*",         "...",
        "\"\"",           "\xff\xfe",        "ok \xc3",   "f*",
        "password f*",    "\"password f\"*", "\xc3\xa9*",
    };
    const char *bad[sizeof bad_static / sizeof bad_static[0] + 2];
    size_t nbad = 0;
    for (size_t i = 0; i < sizeof bad_static / sizeof bad_static[0]; i++)
        bad[nbad++] = bad_static[i];
    bad[nbad++] = big;
    bad[nbad++] = many;
    for (size_t i = 0; i < nbad; i++) {
        evstore_filter q = all_q(10);
        q.q = bad[i];
        rows r = {0};
        char err[256] = "";
        int rc = evstore_query(f->s, &q, collect, &r, NULL, err, sizeof err);
        if (rc != -EINVAL)
            fail_msg("search #%zu: rc %d, want -EINVAL", i, rc);
        assert_int_equal(r.n, 0);
        assert_true(strncmp(err, "search: ", 8) == 0);
        assert_null(strstr(err, "fts5"));
        assert_null(strstr(err, "SQL"));
        assert_null(strstr(err, "syntax error near"));
    }
}

static void bad_filters(void **state)
{
    fx *f = *state;
    char err[256];
    rows r = {0};
    evstore_filter q = all_q(0);
    assert_int_equal(evstore_query(f->s, &q, collect, &r, NULL, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "limit"));
    q.limit = EVSTORE_LIMIT_MAX + 1;
    assert_int_equal(evstore_query(f->s, &q, collect, &r, NULL, err, sizeof err), -EINVAL);
    q.limit = EVSTORE_LIMIT_MAX;
    assert_int_equal(evstore_query(f->s, &q, collect, &r, NULL, err, sizeof err), 0);
    q.max_severity = -2;
    assert_int_equal(evstore_query(f->s, &q, collect, &r, NULL, err, sizeof err), -EINVAL);
    q.max_severity = -1;
    q.from_ms = T0 + 2, q.to_ms = T0 + 1;
    assert_int_equal(evstore_query(f->s, &q, collect, &r, NULL, err, sizeof err), -EINVAL);
    q.from_ms = q.to_ms = 0;
    q.cursor = -5;
    assert_int_equal(evstore_query(f->s, &q, collect, &r, NULL, err, sizeof err), -EINVAL);
    q.cursor = 0;
    q.ndevices = 2, q.devices_set = 1; /* devices NULL */
    assert_int_equal(evstore_query(f->s, &q, collect, &r, NULL, err, sizeof err), -EINVAL);
    assert_int_equal(evstore_query(f->s, NULL, collect, &r, NULL, err, sizeof err), -EINVAL);
    assert_int_equal(r.n, 0);
    assert_int_equal(evstore_append(f->s, NULL, 3, NULL), -EINVAL);
    assert_int_equal(evstore_append(f->s, NULL, 0, NULL), 0);
}

/* ---------------------------------------------------------------- paging */

static void paging_while_appending(void **state)
{
    fx *f = *state;
    enum { N = 600 };
    static int64_t ids[N];
    for (int i = 0; i < N; i += 100) {
        event ev[100];
        static tev t[100];
        for (int k = 0; k < 100; k++) {
            tev_make(&t[k], i + k, T0 + (int64_t)(i + k) * 20 * SEC);
            ev[k] = t[k].ev;
        }
        assert_int_equal(evstore_append(f->s, ev, 100, ids + i), 0);
    }
    evstore_filter q = all_q(37);
    rows r = {0};
    char err[256];
    int64_t next = 0, extra = 0;
    for (int page = 0;; page++) {
        assert_int_equal(evstore_query(f->s, &q, collect, &r, &next, err, sizeof err), 0);
        /* Between pages: newer events, late events between read and unread ones, and more in
         * a second already partly read. */
        tev t;
        tev_make(&t, 1000 + page, T0 + (int64_t)(N + page) * 20 * SEC);
        append1(f->s, &t.ev);
        tev_make(&t, 2000 + page, T0 + (int64_t)(page * 37 % N) * 20 * SEC + 5);
        append1(f->s, &t.ev);
        extra += 2;
        if (!next)
            break;
        q.cursor = next;
    }
    /* Every event present before paging began was seen exactly once. */
    for (int i = 0; i < N; i++) {
        int seen = 0;
        for (size_t k = 0; k < r.n; k++)
            seen += r.v[k].id == ids[i];
        if (seen != 1)
            fail_msg("event %d seen %d times", i, seen);
    }
    for (size_t k = 1; k < r.n; k++)
        assert_true(r.v[k].id < r.v[k - 1].id);
    rows_free(&r);
    evstore_stats st;
    assert_int_equal(evstore_stats_get(f->s, &st), 0);
    assert_int_equal(st.events, N + extra);
}

static void callback_stops_and_cursor_resumes(void **state)
{
    fx *f = *state;
    for (int i = 0; i < 20; i++) {
        tev t;
        tev_make(&t, i, T0 + i * SEC);
        append1(f->s, &t.ev);
    }
    rows r = {.stop_after = 5};
    evstore_filter q = all_q(100);
    int64_t next = 0;
    char err[64];
    assert_int_equal(evstore_query(f->s, &q, collect, &r, &next, err, sizeof err), 0);
    assert_int_equal(r.n, 5);
    assert_int_equal(next, r.v[4].id);
    r.stop_after = 0;
    q.cursor = next;
    assert_int_equal(evstore_query(f->s, &q, collect, &r, &next, err, sizeof err), 0);
    assert_int_equal(r.n, 20);
    assert_int_equal(next, 0);
    rows_free(&r);
    /* Exactly limit rows left: the page says there is no more. */
    q = all_q(20);
    assert_int_equal(evstore_query(f->s, &q, collect, &r, &next, err, sizeof err), 0);
    assert_int_equal(r.n, 20);
    assert_int_equal(next, 0);
    rows_free(&r);
}

/* ---------------------------------------------------------------- hostile strings */

static void hostile_strings(void **state)
{
    fx *f = *state;
    static char huge[200000], title[5000], shortv[400], fields_big[70000];
    /* 'é' is two bytes: a cap falls inside one every other byte. */
    huge[0] = 'a';
    for (size_t i = 1; i + 2 < sizeof huge; i += 2)
        memcpy(huge + i, "\xc3\xa9", 2);
    huge[sizeof huge - 1] = '\0';
    memset(title, 'x', sizeof title - 1);
    memcpy(title + 1022, "\xe2\x82\xac", 3); /* '€' across byte 1024 */
    memset(shortv, 'h', sizeof shortv - 1);
    memcpy(shortv + 253, "\xf0\x9f\x98\x80", 4); /* an emoji across byte 255 */
    size_t fl = 0;
    fl += (size_t)snprintf(fields_big, sizeof fields_big, "{\"k\":\"");
    memset(fields_big + fl, 'v', 66000);
    memcpy(fields_big + fl + 66000, "\"}", 3);
    static const struct {
        const char *in, *want;
    } utf8[] = {
        {"plain", "plain"},
        {"a\xff"
         "b",
         "a\xef\xbf\xbd"
         "b"},
        {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},                   /* overlong '/' */
        {"\xed\xa0\x80x", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx"}, /* surrogate */
        {"\xe2\x82", "\xef\xbf\xbd"},                               /* truncated '€' */
        {"\xe2\x82x", "\xef\xbf\xbdx"},
        {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* > U+10FFFF */
        {"ok \xe2\x82\xac \xf0\x9f\x98\x80", "ok \xe2\x82\xac \xf0\x9f\x98\x80"},
        {"'); DROP TABLE ev; --", "'); DROP TABLE ev; --"},
    };
    for (size_t i = 0; i < sizeof utf8 / sizeof utf8[0]; i++) {
        event e;
        event_init(&e);
        e.t_ms = e.recv_ms = T0 + (int64_t)i * SEC;
        e.title = e.text = e.host = e.app = e.source = e.fingerprint = e.kind = utf8[i].in;
        int64_t id = append1(f->s, &e);
        evstore_filter q = all_q(1);
        q.cursor = id + 1;
        rows r = {0};
        query_all(f->s, q, &r);
        assert_true(r.n >= 1);
        assert_int_equal(r.v[0].id, id);
        const char *got[] = {r.v[0].ev.title,  r.v[0].ev.text,        r.v[0].ev.host, r.v[0].ev.app,
                             r.v[0].ev.source, r.v[0].ev.fingerprint, r.v[0].ev.kind};
        for (int k = 0; k < 7; k++)
            if (strcmp(got[k], utf8[i].want))
                fail_msg("utf8 case %zu member %d", i, k);
        rows_free(&r);
    }
    /* Caps, cut at a character boundary. */
    event e;
    event_init(&e);
    e.t_ms = e.recv_ms = T0 + HOUR;
    e.title = title;
    e.text = huge;
    e.host = shortv;
    e.fields = fields_big;
    int64_t id = append1(f->s, &e);
    evstore_filter q = all_q(1);
    q.cursor = id + 1;
    rows r = {0};
    assert_int_equal(evstore_query(f->s, &q, collect, &r, NULL, NULL, 0), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(strlen(r.v[0].ev.title), 1022); /* '€' would end at 1025: cut before */
    assert_int_equal(strlen(r.v[0].ev.text), EVENT_TEXT_MAX - 1);
    assert_true(strncmp(r.v[0].ev.text, "a\xc3\xa9\xc3\xa9", 5) == 0);
    assert_int_equal(strlen(r.v[0].ev.host), 253);
    size_t flen = strlen(r.v[0].ev.fields);
    assert_true(flen <= EVENT_FIELDS_MAX && flen > 60000);
    assert_true(strncmp(r.v[0].ev.fields, "{\"raw\":\"{\\\"k\\\":\\\"vvv", 20) == 0);
    assert_true(strcmp(r.v[0].ev.fields + flen - 2, "\"}") == 0);
    rows_free(&r);
    /* The fields rule. */
    static const struct {
        const char *in, *want;
    } fields[] = {
        {"", ""},
        {"{}", "{}"},
        {" {\"a\": [1, 2, {\"b\": null}]} ", " {\"a\": [1, 2, {\"b\": null}]} "},
        {"[1,2]", "{\"raw\":\"[1,2]\"}"},
        {"\"str\"", "{\"raw\":\"\\\"str\\\"\"}"},
        {"{\"a\":1", "{\"raw\":\"{\\\"a\\\":1\"}"},
        {"{\"a\":1}{}", "{\"raw\":\"{\\\"a\\\":1}{}\"}"},
        {"not json\n\t\x01", "{\"raw\":\"not json\\n\\t\\u0001\"}"},
        {"{\"a\":\"\\u0000\"}", "{\"raw\":\"{\\\"a\\\":\\\"\\\\u0000\\\"}\"}"},
        {"{\"bad\xff\":1}", "{\"bad\xef\xbf\xbd\":1}"},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        event_init(&e);
        e.t_ms = e.recv_ms = T0 + 2 * HOUR + (int64_t)i * SEC;
        e.fields = fields[i].in;
        id = append1(f->s, &e);
        q.cursor = id + 1;
        assert_int_equal(evstore_query(f->s, &q, collect, &r, NULL, NULL, 0), 0);
        assert_int_equal(r.n, 1);
        if (strcmp(r.v[0].ev.fields, fields[i].want))
            fail_msg("fields case %zu: got %s", i, r.v[0].ev.fields);
        rows_free(&r);
    }
    /* The huge text is searchable, and the SQL-ish text comes back whole. */
    q = all_q(10);
    q.q = "DROP";
    assert_int_equal(evstore_query(f->s, &q, collect, &r, NULL, NULL, 0), 0);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.v[0].ev.title, "'); DROP TABLE ev; --");
    rows_free(&r);
}

/* ---------------------------------------------------------------- days and times */

static int count_files(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 &&
            strcmp(e->d_name + strlen(e->d_name) - 3, ".db") == 0)
            n++;
    if (d)
        closedir(d);
    return n;
}

static int file_exists(const char *dir, const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0;
}

static void day_boundaries(void **state)
{
    fx *f = *state;
    int64_t when[] = {T0 + DAY - 1, T0 + DAY, T0 + DAY - 1000, T0 + 2 * DAY - 1};
    int64_t ids[4];
    for (int i = 0; i < 4; i++) {
        event e;
        event_init(&e);
        e.t_ms = when[i];
        e.recv_ms = when[i] + 5;
        ids[i] = append1(f->s, &e);
        assert_int_equal(ids[i] >> 20, when[i] / 1000);
    }
    assert_true(file_exists(f->dir, "ev-2026-03-10.db"));
    assert_true(file_exists(f->dir, "ev-2026-03-11.db"));
    assert_int_equal(count_files(f->dir, "ev-"), 2);
    /* The last millisecond of a day and the first of the next, in order. */
    evstore_filter q = all_q(10);
    q.from_ms = T0 + DAY - 1;
    q.to_ms = T0 + DAY;
    rows r = {0};
    query_all(f->s, q, &r);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.v[0].id, ids[1]);
    assert_int_equal(r.v[1].id, ids[0]);
    rows_free(&r);
    q.from_ms = T0 + DAY - 999;
    q.to_ms = T0 + DAY - 2;
    query_all(f->s, q, &r);
    assert_int_equal(r.n, 0);
    /* Events in one second are ordered by arrival, the ids of later seconds are larger. */
    q = all_q(10);
    query_all(f->s, q, &r);
    assert_int_equal(r.n, 4);
    assert_int_equal(r.v[0].id, ids[3]);
    assert_int_equal(r.v[1].id, ids[1]);
    assert_int_equal(r.v[2].id, ids[2]); /* same second as ids[0], arrived later */
    assert_int_equal(r.v[3].id, ids[0]);
    rows_free(&r);
}

static void absurd_times_are_placed_by_recv(void **state)
{
    fx *f = *state;
    evstore_close(f->s);
    f->s = open_at(f->dir, 10 * DAY, 0);
    int64_t recv = T0 + 5 * DAY + 12 * HOUR;
    static const struct {
        int64_t t;
        int by_recv;
    } cases[] = {
        {T0 + 5 * DAY + 12 * HOUR - 5 * SEC, 0},      /* a little late: its own time */
        {T0 + 5 * DAY + 12 * HOUR + DAY, 0},          /* a day ahead: still believed */
        {T0 + 5 * DAY + 12 * HOUR + DAY + 1, 1},      /* beyond a day ahead */
        {T0 + 5 * DAY + 12 * HOUR - 10 * DAY, 0},     /* at the retention's edge */
        {T0 + 5 * DAY + 12 * HOUR - 10 * DAY - 1, 1}, /* older than the retention */
        {0, 1},
        {-5, 1},
        {INT64_MAX, 1},
        {INT64_MIN, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        event e;
        event_init(&e);
        e.t_ms = cases[i].t;
        e.recv_ms = recv;
        e.title = "absurd";
        int64_t id = append1(f->s, &e);
        int64_t placed = cases[i].by_recv ? recv : cases[i].t;
        if ((id >> 20) != placed / 1000)
            fail_msg("case %zu: placed at %" PRId64 " s, want %" PRId64, i, id >> 20,
                     placed / 1000);
        evstore_filter q = all_q(1);
        q.cursor = id + 1;
        rows r = {0};
        assert_int_equal(evstore_query(f->s, &q, collect, &r, NULL, NULL, 0), 0);
        assert_int_equal(r.n, 1);
        assert_int_equal(r.v[0].id, id);
        int64_t want_t = cases[i].t < -(1LL << 43)  ? -(1LL << 43) + 1
                         : cases[i].t > (1LL << 43) ? (1LL << 43) - 1
                                                    : cases[i].t;
        assert_int_equal(r.v[0].ev.t_ms, want_t);
        assert_int_equal(r.v[0].ev.recv_ms, recv);
        rows_free(&r);
    }
}

static void full_second_spills_to_the_next(void **state)
{
    fx *f = *state;
    /* Many events with one timestamp (RFC 3164 has whole seconds) share one second. */
    enum { N = 3000 };
    static event ev[N];
    static int64_t ids[N];
    for (int i = 0; i < N; i++) {
        event_init(&ev[i]);
        ev[i].t_ms = ev[i].recv_ms = T0 + 7 * SEC;
        ev[i].title = "burst";
    }
    assert_int_equal(evstore_append(f->s, ev, N, ids), 0);
    for (int i = 1; i < N; i++)
        assert_int_equal(ids[i], ids[i - 1] + 1);
    assert_int_equal(ids[0] >> 20, (T0 + 7 * SEC) / 1000);
    evstore_filter q = all_q(10);
    q.from_ms = T0 + 7 * SEC;
    q.to_ms = T0 + 7 * SEC;
    rows r = {0};
    query_all(f->s, q, &r);
    assert_int_equal(r.n, N);
    rows_free(&r);
}

/* ---------------------------------------------------------------- sealing */

static void snapshot(evstore *s, rows *r, const char *search)
{
    evstore_filter q = all_q(100);
    q.q = search;
    query_all(s, q, r);
}

static void assert_rows_eq(const rows *a, const rows *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_int_equal(a->v[i].id, b->v[i].id);
        assert_event_eq(&a->v[i].ev, &b->v[i].ev);
    }
}

static void sealing_keeps_everything(void **state)
{
    fx *f = *state;
    /* 5000 events over four days, some with long texts, some with text = title. */
    enum { N = 5000 };
    static tev t[N];
    static event ev[N];
    static char longtext[N / 100][3000];
    for (int i = 0; i < N; i++) {
        tev_make(&t[i], i, T0 + (int64_t)i * (4 * DAY / N));
        if (i % 9 == 0)
            t[i].ev.text = t[i].ev.title;
        if (i % 100 == 0) {
            char *p = longtext[i / 100];
            for (int k = 0; k < 2990; k++)
                p[k] = (char)('a' + (k * 7 + i) % 26);
            p[2990] = '\0';
            memcpy(p, "longword ", 9);
            t[i].ev.text = p;
        }
        if (i % 50 == 1)
            t[i].ev.fields = "";
        ev[i] = t[i].ev;
    }
    assert_int_equal(evstore_append(f->s, ev, N, NULL), 0);
    rows before = {0}, before_q = {0}, after = {0}, after_q = {0};
    snapshot(f->s, &before, NULL);
    snapshot(f->s, &before_q, "longword");
    assert_int_equal(before.n, N);
    assert_int_equal(before_q.n, N / 100);
    evstore_stats st0, st1;
    assert_int_equal(evstore_stats_get(f->s, &st0), 0);
    assert_int_equal(st0.segments, 4);
    assert_int_equal(st0.sealed, 0);
    /* At the start of day 6 (T0 + 5 days), days 0..3 ended more than a day ago. */
    evstore_maintain(f->s, T0 + 5 * DAY);
    assert_int_equal(evstore_stats_get(f->s, &st1), 0);
    assert_int_equal(st1.sealed, 4);
    assert_int_equal(st1.events, N);
    assert_true(st1.bytes < st0.bytes);
    snapshot(f->s, &after, NULL);
    snapshot(f->s, &after_q, "longword");
    assert_rows_eq(&before, &after);
    assert_rows_eq(&before_q, &after_q);
    rows_free(&after);
    rows_free(&after_q);
    /* Filters still work the same on sealed days (compare with the open answers). */
    int64_t dev = 3;
    evstore_filter q = all_q(13);
    q.devices = &dev, q.ndevices = 1, q.devices_set = 1;
    q.q = "line";
    q.max_severity = 4;
    query_all(f->s, q, &after);
    size_t want = 0;
    for (int i = 0; i < N; i++)
        want += t[i].ev.device_id == 3 && t[i].ev.severity <= 4 && t[i].ev.text != t[i].ev.title &&
                i % 100 != 0;
    assert_int_equal(after.n, want);
    rows_free(&after);
    /* A late event into a sealed day, then sealed again; a reopen reads everything. */
    tev late;
    tev_make(&late, 99999, T0 + DAY + 5 * SEC);
    int64_t late_id = append1(f->s, &late.ev);
    assert_int_equal(evstore_stats_get(f->s, &st1), 0);
    assert_int_equal(st1.sealed, 3);
    snapshot(f->s, &after, NULL);
    assert_int_equal(after.n, N + 1);
    rows_free(&after);
    evstore_maintain(f->s, T0 + 5 * DAY);
    assert_int_equal(evstore_stats_get(f->s, &st1), 0);
    assert_int_equal(st1.sealed, 4);
    reopen(f);
    assert_int_equal(evstore_stats_get(f->s, &st1), 0);
    assert_int_equal(st1.sealed, 4);
    assert_int_equal(st1.events, N + 1);
    snapshot(f->s, &after, NULL);
    assert_int_equal(after.n, N + 1);
    size_t at = 0;
    for (size_t i = 0; i < after.n; i++)
        if (after.v[i].id == late_id)
            at = i + 1;
    assert_true(at > 0);
    assert_event_eq(&after.v[at - 1].ev, &late.ev);
    rows_free(&after);
    rows_free(&before);
    rows_free(&before_q);
}

#include <sqlite3.h>

/* A big day is sealed with a trained zstd dictionary; every payload comes back. */
static void sealing_with_a_dictionary(void **state)
{
    fx *f = *state;
    enum { N = 12000 };
    static tev t[N];
    static event ev[N];
    static const char *const words[] = {"session", "opened", "closed",     "for",   "user", "root",
                                        "from",    "port",   "connection", "reset", "by",   "peer"};
    for (int i = 0; i < N; i++) {
        tev_make(&t[i], i, T0 + 3 * HOUR + (int64_t)i * 500);
        size_t len = 0;
        for (int w = 0; w < 8; w++)
            len += (size_t)snprintf(t[i].text + len, sizeof t[i].text - len, "%s%s", w ? " " : "",
                                    words[(i * 7 + w * 3) % 12]);
        snprintf(t[i].text + len, sizeof t[i].text - len, " %d", i * 13);
        ev[i] = t[i].ev;
    }
    assert_int_equal(evstore_append(f->s, ev, N, NULL), 0);
    rows before = {0}, after = {0};
    snapshot(f->s, &before, NULL);
    evstore_maintain(f->s, T0 + 2 * DAY);
    snapshot(f->s, &after, NULL);
    assert_rows_eq(&before, &after);
    rows_free(&after);
    rows_free(&before);
    snapshot(f->s, &before, "\"session for\"");
    assert_true(before.n > 0);
    rows_free(&before);
    /* The file says a dictionary was used for every block. */
    evstore_close(f->s);
    f->s = NULL;
    char p[256];
    snprintf(p, sizeof p, "%s/ev-2026-03-10.db", f->dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT (SELECT count(*) FROM dict), count(*),"
                                        " count(dict) FROM blk",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 1);
    assert_int_equal(sqlite3_column_int(st, 1), N / 64 + (N % 64 != 0));
    assert_int_equal(sqlite3_column_int(st, 2), sqlite3_column_int(st, 1));
    sqlite3_finalize(st);
    sqlite3_close(db);
    f->s = open_at(f->dir, 365 * DAY, 0);
    snapshot(f->s, &after, NULL);
    assert_int_equal(after.n, N);
    for (size_t i = 0; i < after.n; i += 97)
        assert_event_eq(&after.v[i].ev, &t[N - 1 - i].ev);
    rows_free(&after);
}

static void sealing_waits_a_day(void **state)
{
    fx *f = *state;
    tev t;
    tev_make(&t, 1, T0 + 10 * HOUR);
    append1(f->s, &t.ev);
    evstore_stats st;
    /* At any moment of the next day (T0+1 day .. T0+2 days - 1 ms) the day stays open. */
    evstore_maintain(f->s, T0 + DAY);
    evstore_maintain(f->s, T0 + 2 * DAY - 1);
    assert_int_equal(evstore_stats_get(f->s, &st), 0);
    assert_int_equal(st.sealed, 0);
    evstore_maintain(f->s, T0 + 2 * DAY);
    assert_int_equal(evstore_stats_get(f->s, &st), 0);
    assert_int_equal(st.sealed, 1);
}

/* ---------------------------------------------------------------- retention */

static void retention_by_age(void **state)
{
    fx *f = *state;
    evstore_close(f->s);
    f->s = open_at(f->dir, 3 * DAY, 0);
    for (int d = 0; d < 6; d++) {
        tev t;
        tev_make(&t, d, T0 + d * DAY + HOUR);
        t.ev.recv_ms = T0 + d * DAY + HOUR; /* received on its day: time is sane */
        append1(f->s, &t.ev);
    }
    evstore_stats st;
    assert_int_equal(evstore_stats_get(f->s, &st), 0);
    assert_int_equal(st.segments, 6);
    /* now = day 6 + 1 h: now - 3 days = day 3 + 1 h; days 0..2 ended before that. */
    evstore_maintain(f->s, T0 + 6 * DAY + HOUR);
    assert_int_equal(evstore_stats_get(f->s, &st), 0);
    assert_int_equal(st.segments, 3);
    assert_int_equal(st.events, 3);
    assert_int_equal(count_files(f->dir, "ev-"), 3);
    assert_false(file_exists(f->dir, "ev-2026-03-12.db"));
    assert_false(file_exists(f->dir, "ev-2026-03-12.db-wal"));
    assert_true(file_exists(f->dir, "ev-2026-03-13.db"));
    rows r = {0};
    query_all(f->s, all_q(10), &r);
    assert_int_equal(r.n, 3);
    for (size_t i = 0; i < r.n; i++)
        assert_true(r.v[i].ev.t_ms >= T0 + 3 * DAY);
    rows_free(&r);
    /* A day is dropped only once all of it is older than the retention. */
    evstore_maintain(f->s, T0 + 7 * DAY - 1);
    assert_int_equal(evstore_stats_get(f->s, &st), 0);
    assert_int_equal(st.segments, 3);
    evstore_maintain(f->s, T0 + 7 * DAY);
    assert_int_equal(evstore_stats_get(f->s, &st), 0);
    assert_int_equal(st.segments, 2);
    /* The dropped day can be written again (a new file). */
    tev t;
    tev_make(&t, 77, T0 + 3 * DAY + 5 * HOUR);
    t.ev.recv_ms = T0 + 3 * DAY + 5 * HOUR;
    append1(f->s, &t.ev);
    assert_int_equal(evstore_stats_get(f->s, &st), 0);
    assert_int_equal(st.segments, 3);
    assert_int_equal(st.events, 3);
}

static void retention_by_size(void **state)
{
    fx *f = *state;
    for (int d = 0; d < 5; d++) {
        static tev t[200];
        event ev[200];
        for (int i = 0; i < 200; i++) {
            tev_make(&t[i], i, T0 + d * DAY + i * SEC);
            ev[i] = t[i].ev;
        }
        assert_int_equal(evstore_append(f->s, ev, 200, NULL), 0);
    }
    reopen(f); /* measured without WALs, as the store is after a restart */
    evstore_stats st;
    assert_int_equal(evstore_stats_get(f->s, &st), 0);
    assert_int_equal(st.segments, 5);
    uint64_t per_day = st.bytes / 5;
    evstore_close(f->s);
    /* Room for about two and a half days: the three oldest go. */
    f->s = open_at(f->dir, 365 * DAY, per_day * 5 / 2);
    evstore_maintain(f->s, T0 + 5 * DAY);
    assert_int_equal(evstore_stats_get(f->s, &st), 0);
    assert_int_equal(st.segments, 2);
    assert_true(file_exists(f->dir, "ev-2026-03-14.db"));
    assert_true(file_exists(f->dir, "ev-2026-03-13.db"));
    /* The newest day is kept whatever the size. */
    evstore_close(f->s);
    f->s = open_at(f->dir, 365 * DAY, 1);
    evstore_maintain(f->s, T0 + 5 * DAY);
    assert_int_equal(evstore_stats_get(f->s, &st), 0);
    assert_int_equal(st.segments, 1);
    assert_int_equal(st.events, 200);
    assert_true(file_exists(f->dir, "ev-2026-03-14.db"));
}

typedef struct drop_ctx {
    fx *f;
    int calls;
} drop_ctx;

static int drop_cb(void *ctx, int64_t id, const event *e)
{
    (void)id, (void)e;
    drop_ctx *c = ctx;
    if (c->calls++ == 0)
        evstore_maintain(c->f->s, T0 + 3 * DAY);
    return 0;
}

static void dropping_a_day_while_it_is_read(void **state)
{
    fx *f = *state;
    evstore_close(f->s);
    f->s = open_at(f->dir, 2 * DAY, 0);
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < 30; i++) {
            tev t;
            tev_make(&t, i, T0 + d * DAY + i * SEC);
            append1(f->s, &t.ev);
        }
    /* The callback runs maintenance that drops day 0 while the query reads day 1 then 0. */
    drop_ctx c = {f, 0};
    evstore_filter q = all_q(100);
    char err[64];
    int64_t next;
    assert_int_equal(evstore_query(f->s, &q, drop_cb, &c, &next, err, sizeof err), 0);
    assert_int_equal(c.calls, 60);
    assert_true(c.calls >= 30);
    evstore_stats st;
    assert_int_equal(evstore_stats_get(f->s, &st), 0);
    assert_int_equal(st.segments, 1);
    assert_false(file_exists(f->dir, "ev-2026-03-10.db"));
    /* Events of the dying day were refused while it was being dropped; now it can come back. */
    tev t;
    tev_make(&t, 5, T0 + 5 * SEC);
    t.ev.recv_ms = T0 + 5 * SEC;
    append1(f->s, &t.ev);
}

/* ---------------------------------------------------------------- reopen and durability */

static void reopen_continues_ids_and_refuses_second_open(void **state)
{
    fx *f = *state;
    event e;
    event_init(&e);
    e.t_ms = e.recv_ms = T0 + 100 * SEC;
    int64_t a = append1(f->s, &e);
    char err[256];
    evstore *other = NULL;
    assert_int_equal(evstore_open(&other, f->dir, NULL, err, sizeof err), -EBUSY);
    assert_null(other);
    assert_non_null(strstr(err, "in use"));
    reopen(f);
    int64_t b = append1(f->s, &e);
    assert_int_equal(b, a + 1);
    /* Garbage in the directory is ignored. */
    char p[256];
    snprintf(p, sizeof p, "%s/ev-2026-02-30.db", f->dir); /* no such date */
    FILE *fp = fopen(p, "w");
    fputs("junk", fp);
    fclose(fp);
    snprintf(p, sizeof p, "%s/notes.txt", f->dir);
    fp = fopen(p, "w");
    fclose(fp);
    reopen(f);
    rows r = {0};
    query_all(f->s, all_q(10), &r);
    assert_int_equal(r.n, 2);
    rows_free(&r);
}

static void corrupt_day_is_left_out(void **state)
{
    fx *f = *state;
    event e;
    event_init(&e);
    e.t_ms = e.recv_ms = T0 + 100 * SEC;
    append1(f->s, &e);
    evstore_close(f->s);
    f->s = NULL;
    char p[256];
    snprintf(p, sizeof p, "%s/ev-2026-03-11.db", f->dir);
    FILE *fp = fopen(p, "w");
    for (int i = 0; i < 1000; i++)
        fputs("this is not an SQLite database ", fp);
    fclose(fp);
    f->s = open_at(f->dir, 365 * DAY, 0);
    rows r = {0};
    query_all(f->s, all_q(10), &r);
    assert_int_equal(r.n, 1);
    rows_free(&r);
    e.t_ms = e.recv_ms = T0 + DAY + 100 * SEC;
    int64_t id = 0;
    assert_int_equal(evstore_append(f->s, &e, 1, &id), -EIO);
    assert_int_equal(id, 0);
}

static void kill9_loses_nothing_acknowledged(void **state)
{
    fx *f = *state;
    evstore_close(f->s);
    f->s = NULL;
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        evstore *s = NULL;
        if (evstore_open(&s, f->dir, NULL, NULL, 0))
            _exit(3);
        for (int64_t i = 0;; i++) {
            tev t[10];
            event ev[10];
            int64_t ids[10];
            for (int k = 0; k < 10; k++) {
                tev_make(&t[k], (int)(i * 10 + k), T0 + (i * 10 + k) * 37 % (2 * DAY));
                ev[k] = t[k].ev;
            }
            if (evstore_append(s, ev, 10, ids))
                _exit(4);
            if (write(fd[1], ids, sizeof ids) != (ssize_t)sizeof ids)
                _exit(5);
        }
    }
    close(fd[1]);
    size_t cap = 1 << 16, n = 0;
    int64_t *acked = malloc(cap * sizeof *acked);
    int killed = 0;
    for (;;) {
        int64_t ids[10];
        ssize_t got = read(fd[0], ids, sizeof ids);
        if (got <= 0)
            break;
        assert_int_equal(got, sizeof ids); /* pipe writes of 80 bytes are atomic */
        for (int k = 0; k < 10 && n < cap; k++)
            acked[n++] = ids[k];
        if (!killed && n >= 3000) {
            kill(pid, SIGKILL);
            killed = 1;
        }
    }
    close(fd[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    f->s = open_at(f->dir, 365 * DAY, 0);
    rows r = {0};
    query_all(f->s, all_q(1000), &r);
    assert_true(r.n >= n);
    size_t missing = 0;
    for (size_t i = 0; i < n; i++) {
        /* r is sorted by id descending: binary search. */
        size_t lo = 0, hi = r.n;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (r.v[mid].id > acked[i])
                lo = mid + 1;
            else
                hi = mid;
        }
        missing += !(lo < r.n && r.v[lo].id == acked[i]);
    }
    if (missing)
        fail_msg("%zu of %zu acknowledged events lost", missing, n);
    rows_free(&r);
    free(acked);
    /* The store still takes appends. */
    event e;
    event_init(&e);
    e.t_ms = e.recv_ms = T0;
    append1(f->s, &e);
}

/* ---------------------------------------------------------------- unknown senders */

typedef struct ulist {
    evstore_unknown u[16];
    char src[16][32], host[16][32];
    int n;
} ulist;

static int ucollect(void *ctx, const evstore_unknown *u)
{
    ulist *l = ctx;
    if (l->n == 16)
        return 1;
    l->u[l->n] = *u;
    snprintf(l->src[l->n], 32, "%s", u->source);
    snprintf(l->host[l->n], 32, "%s", u->host);
    l->n++;
    return 0;
}

static void unknown_senders_and_adoption(void **state)
{
    fx *f = *state;
    static const struct {
        const char *source, *host;
        int64_t sensor, device, t;
    } evs[] = {
        {"10.0.0.1", "alpha", 1, 0, T0 + 1 * HOUR},
        {"10.0.0.1", "alpha", 1, 0, T0 + DAY + 2 * HOUR},
        {"10.0.0.1", "alpha", 1, 0, T0 + 2 * DAY + 3 * HOUR},
        {"10.0.0.2", "beta", 1, 0, T0 + 4 * HOUR},
        {"10.0.0.2", "beta", 2, 0, T0 + 5 * HOUR},
        {"10.0.0.3", "", 1, 0, T0 + DAY + 6 * HOUR},
        {"10.0.0.4", "alpha", 1, 0, T0 + 7 * HOUR},
        {"10.0.0.1", "alpha", 1, 9, T0 + 8 * HOUR}, /* known */
    };
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++) {
        event e;
        event_init(&e);
        e.source = evs[i].source;
        e.host = evs[i].host;
        e.sensor_id = evs[i].sensor;
        e.device_id = evs[i].device;
        e.t_ms = evs[i].t;
        e.recv_ms = evs[i].t + 1;
        append1(f->s, &e);
    }
    ulist l = {0};
    assert_int_equal(evstore_unknown_list(f->s, ucollect, &l), 0);
    assert_int_equal(l.n, 5);
    /* Most recently heard first. */
    assert_string_equal(l.src[0], "10.0.0.1");
    assert_string_equal(l.host[0], "alpha");
    assert_int_equal(l.u[0].count, 3);
    assert_int_equal(l.u[0].first_ms, T0 + 1 * HOUR + 1);
    assert_int_equal(l.u[0].last_ms, T0 + 2 * DAY + 3 * HOUR + 1);
    assert_string_equal(l.src[1], "10.0.0.3");
    assert_string_equal(l.host[1], "");
    for (int i = 1; i < l.n; i++)
        assert_true(l.u[i].last_ms <= l.u[i - 1].last_ms);
    /* Seal the first days: adoption works on sealed and open days alike. */
    evstore_maintain(f->s, T0 + 3 * DAY);
    evstore_stats st;
    assert_int_equal(evstore_stats_get(f->s, &st), 0);
    assert_int_equal(st.sealed, 2);
    assert_int_equal(evstore_adopt(f->s, NULL, NULL, 5), -EINVAL);
    assert_int_equal(evstore_adopt(f->s, "", "", 5), -EINVAL);
    assert_int_equal(evstore_adopt(f->s, "10.0.0.1", NULL, 0), -EINVAL);
    assert_int_equal(evstore_adopt(f->s, "10.9.9.9", NULL, 5), 0);
    /* host "alpha" takes 10.0.0.1's three and 10.0.0.4's one, not the known one. */
    assert_int_equal(evstore_adopt(f->s, NULL, "alpha", 5), 4);
    assert_int_equal(evstore_adopt(f->s, NULL, "alpha", 5), 0);
    assert_int_equal(evstore_adopt(f->s, "10.0.0.2", "", 6), 2);
    memset(&l, 0, sizeof l);
    assert_int_equal(evstore_unknown_list(f->s, ucollect, &l), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.src[0], "10.0.0.3");
    int64_t dev = 5;
    evstore_filter q = all_q(10);
    q.devices = &dev, q.ndevices = 1, q.devices_set = 1;
    rows r = {0};
    query_all(f->s, q, &r);
    assert_int_equal(r.n, 4);
    rows_free(&r);
    dev = 0;
    query_all(f->s, q, &r);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.v[0].ev.source, "10.0.0.3");
    rows_free(&r);
    /* The list stops when the callback says so. */
    evstore_adopt(f->s, "10.0.0.3", NULL, 7);
    memset(&l, 0, sizeof l);
    assert_int_equal(evstore_unknown_list(f->s, ucollect, &l), 0);
    assert_int_equal(l.n, 0);
}

/* ---------------------------------------------------------------- threads */

typedef struct tjob {
    evstore *s;
    int thread;
    int64_t ids[2000];
    int rc;
} tjob;

static void *append_thread(void *arg)
{
    tjob *j = arg;
    for (int i = 0; i < 2000 && !j->rc; i += 20) {
        tev t[20];
        event ev[20];
        for (int k = 0; k < 20; k++) {
            tev_make(&t[k], i + k, T0 + (i + k) * 50 * SEC + j->thread);
            ev[k] = t[k].ev;
        }
        j->rc = evstore_append(j->s, ev, 20, j->ids + i);
    }
    return NULL;
}

static void *query_thread(void *arg)
{
    tjob *j = arg;
    for (int i = 0; i < 30 && !j->rc; i++) {
        rows r = {0};
        evstore_filter q = all_q(100);
        q.q = i % 2 ? "line" : NULL;
        char err[64];
        int64_t next;
        j->rc = evstore_query(j->s, &q, collect, &r, &next, err, sizeof err);
        for (size_t k = 1; k < r.n; k++)
            if (r.v[k].id >= r.v[k - 1].id)
                j->rc = -1;
        rows_free(&r);
    }
    return NULL;
}

static void threads_append_and_query(void **state)
{
    fx *f = *state;
    enum { T = 4 };
    static tjob jobs[T + 1];
    pthread_t th[T + 1];
    for (int i = 0; i <= T; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].s = f->s;
        jobs[i].thread = i;
        pthread_create(&th[i], NULL, i < T ? append_thread : query_thread, &jobs[i]);
    }
    for (int i = 0; i <= T; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(jobs[i].rc, 0);
    }
    rows r = {0};
    query_all(f->s, all_q(1000), &r);
    assert_int_equal(r.n, T * 2000);
    for (int i = 0; i < T; i++)
        for (int k = 0; k < 2000; k++)
            assert_true(jobs[i].ids[k] > 0);
    rows_free(&r);
}

/* ---------------------------------------------------------------- allocation failures */

static void allocation_failures(void **state)
{
    fx *f = *state;
    tev t[3];
    event ev[3];
    int stored = 0;
    for (long k = 0; k < 400; k++) {
        for (int i = 0; i < 3; i++) {
            tev_make(&t[i], (int)k * 3 + i, T0 + k * SEC + i * DAY); /* three days per batch */
            ev[i] = t[i].ev;
        }
        int64_t ids[3] = {-1, -1, -1};
        mem_fail_after(k);
        int rc = evstore_append(f->s, ev, 3, ids);
        mem_fail_after(-1);
        assert_true(rc == 0 || rc == -ENOMEM);
        for (int i = 0; i < 3; i++) {
            assert_true(ids[i] >= 0);
            stored += ids[i] > 0;
        }
        if (rc == 0) {
            assert_true(ids[0] && ids[1] && ids[2]);
            if (k > 60)
                break;
        }
    }
    rows r = {0};
    query_all(f->s, all_q(50), &r);
    assert_int_equal(r.n, stored);
    rows_free(&r);
    /* Queries under allocation failure: an error or the right answer, never a wrong one. */
    for (long k = 0; k < 200; k++) {
        evstore_filter q = all_q(50);
        q.q = k % 2 ? "line" : NULL;
        char err[128];
        int64_t next;
        mem_fail_after(k);
        int rc = evstore_query(f->s, &q, collect, &r, &next, err, sizeof err);
        mem_fail_after(-1);
        assert_true(rc == 0 || rc == -ENOMEM);
        if (rc == 0)
            assert_int_equal(r.n, (size_t)stored < 50 ? (size_t)stored : 50);
        rows_free(&r);
    }
    /* Sealing and opening under allocation failure. */
    for (long k = 0; k < 200; k++) {
        mem_fail_after(k);
        evstore_maintain(f->s, T0 + 10 * DAY);
        mem_fail_after(-1);
    }
    evstore_maintain(f->s, T0 + 10 * DAY);
    evstore_stats st;
    assert_int_equal(evstore_stats_get(f->s, &st), 0);
    assert_int_equal(st.sealed, st.segments);
    evstore_close(f->s);
    f->s = NULL;
    for (long k = 0; k < 200; k++) {
        evstore *s = NULL;
        char err[128];
        mem_fail_after(k);
        int rc = evstore_open(&s, f->dir, NULL, err, sizeof err);
        mem_fail_after(-1);
        assert_true(rc == 0 || rc == -ENOMEM);
        if (rc == 0) {
            query_all(s, all_q(50), &r);
            assert_int_equal(r.n, stored);
            rows_free(&r);
            evstore_close(s);
            break;
        }
        assert_null(s);
    }
    f->s = open_at(f->dir, 365 * DAY, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(round_trip_every_field, setup, teardown),
        cmocka_unit_test_setup_teardown(out_of_range_numbers_are_normalised, setup, teardown),
        cmocka_unit_test_setup_teardown(recv_defaults_to_now, setup, teardown),
        cmocka_unit_test_setup_teardown(filters_each_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(filters_combined, setup, teardown),
        cmocka_unit_test_setup_teardown(search_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(search_syntax_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(paging_while_appending, setup, teardown),
        cmocka_unit_test_setup_teardown(callback_stops_and_cursor_resumes, setup, teardown),
        cmocka_unit_test_setup_teardown(hostile_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(day_boundaries, setup, teardown),
        cmocka_unit_test_setup_teardown(absurd_times_are_placed_by_recv, setup, teardown),
        cmocka_unit_test_setup_teardown(full_second_spills_to_the_next, setup, teardown),
        cmocka_unit_test_setup_teardown(sealing_keeps_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(sealing_with_a_dictionary, setup, teardown),
        cmocka_unit_test_setup_teardown(sealing_waits_a_day, setup, teardown),
        cmocka_unit_test_setup_teardown(retention_by_age, setup, teardown),
        cmocka_unit_test_setup_teardown(retention_by_size, setup, teardown),
        cmocka_unit_test_setup_teardown(dropping_a_day_while_it_is_read, setup, teardown),
        cmocka_unit_test_setup_teardown(reopen_continues_ids_and_refuses_second_open, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(corrupt_day_is_left_out, setup, teardown),
        cmocka_unit_test_setup_teardown(kill9_loses_nothing_acknowledged, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_senders_and_adoption, setup, teardown),
        cmocka_unit_test_setup_teardown(threads_append_and_query, setup, teardown),
        cmocka_unit_test_setup_teardown(allocation_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
