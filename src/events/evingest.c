/* evingest: the one path from sensors to the event store, the usage log and the event
 * counters. Counters live in memory (a hash map keyed by their label values) and go into the
 * metric store as ordinary samples every EVINGEST_FLUSH_MS; a restart starts them from 0,
 * which PromQL's rate() and increase() read as a counter reset, as for any exporter. */
#include "evingest.h"

#include "../lib/hmap.h"
#include "../lib/labels.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/timeutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define EVI_KEY_MAX 1024

enum { CTR_EVENTS = 0, CTR_USAGE = 1 };

/* One counter family entry: the label values, and the counts. */
typedef struct ctr {
    int kind;
    char *v[4];        /* events: sensor, device, severity, app; usage: sensor, customer, type */
    double n[3];       /* events: [0]; usage: events, count, time took */
    int64_t born_ms;   /* first event */
    int flushed;       /* written at least once */
} ctr;

struct evingest {
    evstore *store;
    usagelog *usage;
    devmatch *match;
    tsdb *db;
    evingest_observer_fn observer;
    void *observer_ctx;
    pthread_mutex_t lock; /* counters, counts */
    hmap ctrs;
    size_t nctrs;
    evingest_counts counts;
    int64_t last_flush_ms;
};

int evingest_new(evingest **out, evstore *store, usagelog *usage, devmatch *match, tsdb *db)
{
    evingest *g = mem_calloc(1, sizeof *g);
    if (!g)
        return -ENOMEM;
    g->store = store;
    g->usage = usage;
    g->match = match;
    g->db = db;
    pthread_mutex_init(&g->lock, NULL);
    hmap_init(&g->ctrs);
    *out = g;
    return 0;
}

static void ctr_free(ctr *c)
{
    if (!c)
        return;
    for (int i = 0; i < 4; i++)
        mem_free(c->v[i]);
    mem_free(c);
}

void evingest_free(evingest *g)
{
    if (!g)
        return;
    evingest_flush(g, timeutil_now_ms());
    size_t pos = 0;
    hmap_entry *e;
    while ((e = hmap_next(&g->ctrs, &pos)))
        ctr_free(e->value);
    hmap_free(&g->ctrs);
    pthread_mutex_destroy(&g->lock);
    mem_free(g);
}

void evingest_set_observer(evingest *g, evingest_observer_fn fn, void *ctx)
{
    g->observer = fn;
    g->observer_ctx = ctx;
}

/* Builds the map key of a label-value tuple (NUL separated). Returns its length, 0 if too long. */
static size_t make_key(char *k, int kind, const char *const *v, int nv)
{
    size_t len = 0;
    k[len++] = (char)('0' + kind);
    for (int i = 0; i < nv; i++) {
        size_t n = strlen(v[i]);
        if (len + n + 1 >= EVI_KEY_MAX)
            return 0;
        memcpy(k + len, v[i], n);
        len += n;
        k[len++] = '\0';
    }
    return len;
}

/* The counter of a tuple, made on first use (caller holds the lock). When the series cap is
 * reached, the last value (app, type) becomes "other". Returns NULL on allocation failure. */
static ctr *ctr_get(evingest *g, int kind, const char **v, int nv, int64_t now_ms)
{
    char key[EVI_KEY_MAX];
    size_t klen = make_key(key, kind, v, nv);
    ctr *c = klen ? hmap_get(&g->ctrs, key, klen) : NULL;
    if (c)
        return c;
    if (!klen || g->nctrs >= EVINGEST_MAX_SERIES) {
        if (!klen || strcmp(v[nv - 1], "other") != 0) {
            g->counts.series_capped++;
            v[nv - 1] = "other";
            if (kind == CTR_USAGE)
                v[1] = "other";
            return ctr_get(g, kind, v, nv, now_ms);
        }
        if (!klen)
            return NULL; /* "other" with too long other values: give up on this one */
    }
    c = mem_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->kind = kind;
    c->born_ms = now_ms;
    for (int i = 0; i < nv; i++)
        if (!(c->v[i] = mem_strdup(v[i]))) {
            ctr_free(c);
            return NULL;
        }
    if (hmap_put(&g->ctrs, key, klen, c)) {
        ctr_free(c);
        return NULL;
    }
    g->nctrs++;
    return c;
}

/* Label values must be non-empty for the metric store. */
static const char *or_none(const char *s, const char *dflt)
{
    return s && *s ? s : dflt;
}

int evingest_events(evingest *g, int64_t sensor_id, const char *sensor_name, const event *ev,
                    size_t n, int64_t *ids_out)
{
    if (!n)
        return 0;
    int rc = -ENOMEM;
    event *copy = mem_alloc(n * sizeof *copy);
    int64_t *ids = ids_out ? ids_out : mem_alloc(n * sizeof *ids);
    evingest_item *items = mem_alloc(n * sizeof *items);
    char (*names)[128] = mem_alloc(n * sizeof *names);
    int64_t now = timeutil_now_ms();
    if (!copy || !ids || !items || !names)
        goto out;
    for (size_t i = 0; i < n; i++) {
        copy[i] = ev[i];
        if (!copy[i].recv_ms)
            copy[i].recv_ms = now;
        if (!copy[i].sensor_id)
            copy[i].sensor_id = sensor_id;
        /* Syslog and traps come from the device (or a relay that keeps the origin's host
         * name); webhooks come from a relay (Alertmanager, a CI runner): only the host they
         * name says whose event it is. */
        int relay = strcmp(copy[i].kind, EVENT_KIND_SYSLOG) != 0 &&
                    strcmp(copy[i].kind, EVENT_KIND_TRAP) != 0;
        if (!copy[i].device_id && g->match)
            copy[i].device_id =
                devmatch_find(g->match, relay ? "" : copy[i].source, copy[i].host);
        names[i][0] = '\0';
        if (copy[i].device_id && g->match)
            devmatch_name(g->match, copy[i].device_id, names[i], sizeof names[i]);
    }
    rc = evstore_append(g->store, copy, n, ids);
    if (rc) {
        pthread_mutex_lock(&g->lock);
        g->counts.event_errors += n;
        pthread_mutex_unlock(&g->lock);
        goto out;
    }
    pthread_mutex_lock(&g->lock);
    g->counts.events += n;
    for (size_t i = 0; i < n; i++) {
        const char *v[4] = {or_none(sensor_name, "none"), or_none(names[i], "unknown"),
                            event_severity_name(copy[i].severity), or_none(copy[i].app, "none")};
        if (strlen(v[3]) > 128)
            v[3] = "other";
        ctr *c = ctr_get(g, CTR_EVENTS, v, 4, now);
        if (c)
            c->n[0] += 1;
    }
    pthread_mutex_unlock(&g->lock);
    if (g->observer) {
        for (size_t i = 0; i < n; i++)
            items[i] = (evingest_item){ids[i], &copy[i], sensor_name ? sensor_name : "",
                                       names[i]};
        g->observer(g->observer_ctx, items, n);
    }
out:
    mem_free(copy);
    if (ids != ids_out)
        mem_free(ids);
    mem_free(items);
    mem_free(names);
    return rc;
}

int evingest_usage(evingest *g, const char *sensor_name, const usage_event *ev, size_t n,
                   int64_t recv_ms, size_t *dups, size_t *refused)
{
    *dups = *refused = 0;
    if (!g->usage)
        return -ENOENT;
    if (!n)
        return 0;
    unsigned char *st = mem_alloc(n);
    if (!st)
        return -ENOMEM;
    int rc = usagelog_append_ex(g->usage, ev, n, recv_ms, st);
    pthread_mutex_lock(&g->lock);
    if (rc) {
        g->counts.usage_errors += n;
        goto out;
    }
    ctr *last = NULL;
    const char *lc = NULL, *lt = NULL;
    for (size_t i = 0; i < n; i++) {
        const usage_event *u = &ev[i];
        if (st[i] == USAGELOG_DUPLICATE) {
            (*dups)++;
            continue;
        }
        if (st[i] != USAGELOG_STORED) {
            (*refused)++;
            continue;
        }
        if (!last || strcmp(lc, u->customer) != 0 || strcmp(lt, u->type) != 0) {
            const char *v[3] = {or_none(sensor_name, "none"), or_none(u->customer, "none"),
                                or_none(u->type, "none")};
            last = ctr_get(g, CTR_USAGE, v, 3, recv_ms);
            lc = u->customer;
            lt = u->type;
            if (!last)
                continue;
        }
        last->n[0] += 1;
        last->n[1] += (double)u->count;
        if (u->took_ms > 0)
            last->n[2] += (double)u->took_ms;
    }
    g->counts.usage_events += n - *dups - *refused;
    g->counts.usage_duplicates += *dups;
out:
    pthread_mutex_unlock(&g->lock);
    mem_free(st);
    return rc;
}

/* Usage events collected from a parse, with their strings copied (the parser's are valid only
 * during its callback), stored every EVI_USAGE_CHUNK events. */
#define EVI_USAGE_CHUNK 8192
typedef struct usage_acc {
    evingest *g;
    const char *sensor;
    int64_t recv_ms;
    usage_event v[EVI_USAGE_CHUNK];
    size_t off[EVI_USAGE_CHUNK][6];
    size_t n;
    buf arena;
    size_t dups, refused;
    int rc;
} usage_acc;

static void acc_store(usage_acc *a)
{
    if (!a->n)
        return;
    for (size_t i = 0; i < a->n; i++) {
        const char *b = a->arena.data;
        a->v[i].customer = b + a->off[i][0];
        a->v[i].type = b + a->off[i][1];
        a->v[i].state = b + a->off[i][2];
        a->v[i].label = b + a->off[i][3];
        a->v[i].change_type = b + a->off[i][4];
        a->v[i].event_id = b + a->off[i][5];
    }
    size_t d = 0, r = 0;
    int rc = evingest_usage(a->g, a->sensor, a->v, a->n, a->recv_ms, &d, &r);
    if (rc && !a->rc)
        a->rc = rc;
    a->dups += d;
    a->refused += r;
    a->n = 0;
    buf_reset(&a->arena);
}

static int acc_take(void *ctx, const usage_event *u)
{
    usage_acc *a = ctx;
    const char *s[6] = {u->customer, u->type, u->state, u->label, u->change_type, u->event_id};
    size_t before = a->arena.len;
    for (int i = 0; i < 6; i++) {
        a->off[a->n][i] = a->arena.len;
        if (buf_append(&a->arena, s[i], strlen(s[i]) + 1)) {
            a->arena.len = before;
            a->arena.err = 0;
            a->rc = -ENOMEM;
            return -ENOMEM;
        }
    }
    a->v[a->n++] = *u;
    if (a->n == EVI_USAGE_CHUNK)
        acc_store(a);
    return 0;
}

int evingest_usage_body(evingest *g, const char *sensor_name, const char *body, size_t len,
                        int json, int64_t recv_ms, usage_report *rep, size_t *dups)
{
    memset(rep, 0, sizeof *rep);
    *dups = 0;
    if (!g->usage)
        return -ENOENT;
    usage_acc *a = mem_calloc(1, sizeof *a);
    if (!a)
        return -ENOMEM;
    a->g = g;
    a->sensor = sensor_name;
    a->recv_ms = recv_ms;
    buf_init(&a->arena, 0);
    int rc = json ? usage_parse_json(body, len, acc_take, a, rep)
                  : usage_parse_lines(body, len, acc_take, a, rep);
    acc_store(a);
    if (!rc)
        rc = a->rc;
    *dups = a->dups;
    if (a->refused) {
        /* The log refuses events dated outside its window; the parser had counted them good. */
        rep->accepted -= a->refused;
        rep->rejected += a->refused;
        if (rep->nerrors < USAGE_MAX_ERRORS) {
            rep->errors[rep->nerrors].line = 0;
            snprintf(rep->errors[rep->nerrors].reason, sizeof rep->errors[0].reason,
                     "%zu events dated more than a day ahead or past the retention", a->refused);
            rep->nerrors++;
        }
    }
    buf_free(&a->arena);
    mem_free(a);
    return rc;
}

/* Appends one counter series (two samples on its first flush); in, lv and smp must stay
 * valid until the commit. */
static int flush_one(tsdb_appender *app, tsdb_series_in *in, label *lv, size_t nl, sample *smp,
                     const ctr *c, double v, int64_t now_ms)
{
    *in = (tsdb_series_in){.ls = {lv, nl}};
    labels_sort(&in->ls);
    size_t k = 0;
    if (!c->flushed && c->born_ms < now_ms)
        smp[k++] = (sample){c->born_ms - 1, 0};
    smp[k++] = (sample){now_ms, v};
    in->samples = smp;
    in->nsamples = k;
    return tsdb_appender_add(app, in);
}

void evingest_flush(evingest *g, int64_t now_ms)
{
    if (!g->db)
        return;
    pthread_mutex_lock(&g->lock);
    g->last_flush_ms = now_ms;
    size_t n = g->nctrs * 3;
    if (!n) {
        pthread_mutex_unlock(&g->lock);
        return;
    }
    /* Every series needs its label array and samples alive until the commit. */
    label *lv = mem_alloc(n * 8 * sizeof *lv);
    sample *smp = mem_alloc(n * 2 * sizeof *smp);
    tsdb_series_in *ins = mem_alloc(n * sizeof *ins);
    tsdb_appender *app = NULL;
    int rc = -ENOMEM;
    if (!lv || !smp || !ins || tsdb_appender_begin(g->db, &app))
        goto out;
    size_t pos = 0, s = 0;
    hmap_entry *e;
    static const char *const usage_names[3] = {"dashdot_usage_events_total",
                                               "dashdot_usage_count_total",
                                               "dashdot_usage_time_took_ms_total"};
    while ((e = hmap_next(&g->ctrs, &pos))) {
        ctr *c = e->value;
        int nm = c->kind == CTR_EVENTS ? 1 : 3;
        for (int m = 0; m < nm; m++, s++) {
            label *l = lv + s * 8;
            size_t k = 0;
            l[k++] = (label){"job", "events"};
            if (c->kind == CTR_EVENTS) {
                l[k++] = (label){LABELS_NAME, "dashdot_events_total"};
                l[k++] = (label){"sensor", c->v[0]};
                l[k++] = (label){"device", c->v[1]};
                l[k++] = (label){"instance", c->v[1]};
                l[k++] = (label){"severity", c->v[2]};
                l[k++] = (label){"app", c->v[3]};
            } else {
                l[k++] = (label){LABELS_NAME, usage_names[m]};
                l[k++] = (label){"sensor", c->v[0]};
                l[k++] = (label){"instance", "usage"};
                l[k++] = (label){"customer", c->v[1]};
                l[k++] = (label){"type", c->v[2]};
            }
            if ((rc = flush_one(app, &ins[s], l, k, smp + s * 2, c, c->n[m], now_ms)))
                goto out;
        }
    }
    rc = tsdb_appender_commit(app, NULL);
    app = NULL;
    if (!rc) {
        pos = 0;
        while ((e = hmap_next(&g->ctrs, &pos)))
            ((ctr *)e->value)->flushed = 1;
    }
out:
    if (app)
        tsdb_appender_rollback(app);
    if (rc)
        log_warn("events: cannot write the event counters: %s", strerror(-rc));
    pthread_mutex_unlock(&g->lock);
    mem_free(lv);
    mem_free(smp);
    mem_free(ins);
}

void evingest_tick(evingest *g, int64_t now_ms)
{
    pthread_mutex_lock(&g->lock);
    int due = now_ms - g->last_flush_ms >= EVINGEST_FLUSH_MS;
    pthread_mutex_unlock(&g->lock);
    if (due)
        evingest_flush(g, now_ms);
}

void evingest_maintain(evingest *g, int64_t now_ms)
{
    evstore_maintain(g->store, now_ms);
    if (g->usage)
        usagelog_maintain(g->usage, now_ms);
}

void evingest_counts_get(evingest *g, evingest_counts *c)
{
    pthread_mutex_lock(&g->lock);
    *c = g->counts;
    pthread_mutex_unlock(&g->lock);
}
