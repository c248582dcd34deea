/* sched: per-probe timers on the loop, a concurrency limit with a FIFO of due runs, timeouts,
 * and the counters the agent reports about its probes.
 *
 * An entry is one scheduled probe. It owns two timers (the next due run, the current run's
 * timeout) and at most one run. Entries removed by an apply, or all of them at close, are
 * "dead": their timers are closed and the entry is freed once libuv has closed both. */
#include "sched.h"

#include "../../lib/hmap.h"
#include "../../lib/log.h"
#include "../../lib/mem.h"
#include "../../lib/timeutil.h"
#include "probe_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#define SOON_MS 2000  /* a new or changed probe runs within this... */
#define SOON_MAX 50   /* ...when an apply brings at most this many (an edit, not a config
                       * load: thousands started at once would make one huge batch) */
#define LATE_MS 1000  /* a run started later than this after its due time is late */
#define COUNTERS_EVERY_MS 60000 /* a probe's counters reach the sink at least this often */

typedef struct entry entry;

struct entry {
    probe_sched *s;
    probe_def *def;
    char key[48];
    uv_timer_t due, tmo;
    int handles;       /* timers not yet closed */
    int64_t next_due;  /* wall clock ms of the next run on the grid */
    int64_t run_due;   /* due time of the run waiting or going (jitter included) */
    probe_run *run;
    int queued;
    int dead;
    entry *qnext;
    probe_counters c;
    probe_counters sent; /* the counters as last handed to the sink */
    int64_t sent_ms;     /* when */
};

typedef struct oneoff {
    probe_sched *s;
    probe_run *run;
    uv_timer_t tmo;
    probe_sink_fn cb;
    void *ctx;
    int done;
    struct oneoff *next, *prev;
} oneoff;

struct probe_sched {
    uv_loop_t *loop;
    probe_sched_opts o;
    probe_env env;
    hmap entries;
    entry *qhead, *qtail;
    size_t queued, inflight;
    oneoff *oneoffs;
    int applied;
    int closing;
    int handles;  /* open handles of entries and one-offs, for the final free */
    uint64_t rng;
    probe_counters gone; /* counters of entries no longer scheduled */
};

static uint64_t rnd(probe_sched *s)
{
    /* xorshift64*: jitter needs spread, not secrecy. */
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return s->rng * 2685821657736338717ULL;
}

static void maybe_free(probe_sched *s)
{
    if (!s->closing || s->handles > 0)
        return;
    hmap_free(&s->entries);
    probe_env_close(&s->env);
    mem_free(s);
}

static void on_entry_closed(uv_handle_t *h)
{
    entry *e = h->data;
    probe_sched *s = e->s;
    if (--e->handles == 0) {
        probe_def_unref(e->def);
        mem_free(e);
    }
    s->handles--;
    maybe_free(s);
}

static void add_counters(probe_counters *to, const probe_counters *c)
{
    to->runs += c->runs;
    to->failures += c->failures;
    to->timeouts += c->timeouts;
    to->skipped += c->skipped;
    to->late += c->late;
}

static void queue_remove(probe_sched *s, entry *e)
{
    entry **p = &s->qhead, *prev = NULL;
    while (*p && *p != e) {
        prev = *p;
        p = &(*p)->qnext;
    }
    if (!*p)
        return;
    *p = e->qnext;
    if (s->qtail == e)
        s->qtail = prev;
    e->qnext = NULL;
    e->queued = 0;
    s->queued--;
}

/* Takes an entry out of service: cancels its run (no result), closes its timers. */
static void kill_entry(probe_sched *s, entry *e)
{
    if (e->dead)
        return;
    e->dead = 1;
    if (e->queued)
        queue_remove(s, e);
    if (e->run) {
        probe_run *r = e->run;
        probe_run_cancel(r, "probe removed");
    }
    add_counters(&s->gone, &e->c);
    uv_timer_stop(&e->due);
    uv_timer_stop(&e->tmo);
    uv_close((uv_handle_t *)&e->due, on_entry_closed);
    uv_close((uv_handle_t *)&e->tmo, on_entry_closed);
}

/* The run's phase on the wall clock grid: spread by a hash of what identifies it. */
static int64_t phase_of(const probe_sched *s, const probe_def *d)
{
    char k[PROBE_NAME_MAX + 64];
    int n = snprintf(k, sizeof k, "%" PRId64 ":%" PRId64 ":%s", d->schedule, d->id,
                     s->o.probe.vantage ? s->o.probe.vantage : "");
    return (int64_t)(XXH3_64bits(k, (size_t)n) % (uint64_t)d->interval_ms);
}

static void arm(probe_sched *s, entry *e, int64_t now);
static void start_run(probe_sched *s, entry *e);

static void on_tmo(uv_timer_t *t)
{
    entry *e = t->data;
    char why[64];
    snprintf(why, sizeof why, "timeout after %.3g s", (double)e->def->timeout_ms / 1000);
    if (e->run)
        probe_run_cancel(e->run, why);
}

static void pump_queue(probe_sched *s)
{
    while (s->qhead && s->inflight < s->o.max_inflight && !s->closing) {
        entry *e = s->qhead;
        queue_remove(s, e);
        if (timeutil_now_ms() - e->run_due >= e->def->interval_ms) {
            e->c.skipped++; /* waited a whole interval: its next run is due anyway */
            continue;
        }
        start_run(s, e);
    }
}

static void on_run_end(void *ctx, probe_run *r, const probe_result *res)
{
    entry *e = ctx;
    probe_sched *s = e->s;
    e->run = NULL;
    s->inflight--;
    if (!e->dead)
        uv_timer_stop(&e->tmo);
    e->c.runs++;
    e->c.failures += !res->success;
    e->c.timeouts += res->timed_out;
    if (!e->dead && !s->closing && s->o.sink) {
        /* The counters go with a result when something other than the run count changed, and
         * at least once a minute: a fifth of what an agent sends, otherwise. */
        probe_result copy = *res;
        int64_t now = timeutil_now_ms();
        int due = now - e->sent_ms >= COUNTERS_EVERY_MS || e->c.failures != e->sent.failures ||
                  e->c.timeouts != e->sent.timeouts || e->c.skipped != e->sent.skipped ||
                  e->c.late != e->sent.late;
        copy.counters = due ? &e->c : NULL;
        if (due) {
            e->sent = e->c;
            e->sent_ms = now;
        }
        s->o.sink(s->o.sink_ctx, &copy);
    }
    probe_run_free(r);
    pump_queue(s);
}

static void start_run(probe_sched *s, entry *e)
{
    probe_run *r = NULL;
    if (probe_run_new(&r, &s->env, e->def, e->run_due, on_run_end, e)) {
        log_error("probes: out of memory starting %s", e->def->name);
        e->c.skipped++;
        return;
    }
    int64_t now = timeutil_now_ms();
    if (now - e->run_due > LATE_MS)
        e->c.late++;
    e->run = r;
    s->inflight++;
    uv_timer_start(&e->tmo, on_tmo, (uint64_t)e->def->timeout_ms, 0);
    probe_run_start(r); /* may end at once: r is not touched afterwards */
}

static void on_due(uv_timer_t *t)
{
    entry *e = t->data;
    probe_sched *s = e->s;
    int64_t now = timeutil_now_ms();
    if (e->run || e->queued) {
        e->c.skipped++;
    } else {
        e->run_due = now;
        if (s->inflight < s->o.max_inflight)
            start_run(s, e);
        else {
            e->queued = 1;
            e->qnext = NULL;
            if (s->qtail)
                s->qtail->qnext = e;
            else
                s->qhead = e;
            s->qtail = e;
            s->queued++;
        }
    }
    if (!e->dead)
        arm(s, e, timeutil_now_ms());
}

/* Sets the due timer for the next grid time after now (plus jitter). Grid times missed while
 * the loop was stalled count as skipped. */
static void arm(probe_sched *s, entry *e, int64_t now)
{
    int64_t iv = e->def->interval_ms;
    if (e->next_due <= now) {
        int64_t phase = phase_of(s, e->def);
        int64_t next = (now - phase) / iv * iv + phase + iv;
        if (e->next_due && next - e->next_due > iv)
            e->c.skipped += (uint64_t)((next - e->next_due) / iv - 1);
        e->next_due = next;
    }
    int64_t jit = e->def->jitter_ms ? (int64_t)(rnd(s) % (uint64_t)e->def->jitter_ms) : 0;
    int64_t delay = e->next_due - now + jit;
    e->next_due += iv;
    uv_timer_start(&e->due, on_due, (uint64_t)(delay > 0 ? delay : 0), 0);
}

int probe_sched_new(probe_sched **out, uv_loop_t *loop, const probe_sched_opts *o)
{
    probe_sched *s = mem_calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->loop = loop;
    s->o = *o;
    if (!s->o.max_inflight)
        s->o.max_inflight = PROBE_SCHED_INFLIGHT;
    if (probe_env_init(&s->env, loop, &o->probe)) {
        mem_free(s);
        return -ENOMEM;
    }
    hmap_init(&s->entries);
    s->rng = (uint64_t)timeutil_now_ms() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid();
    if (!s->rng)
        s->rng = 1;
    *out = s;
    return 0;
}

static void key_of(const probe_def *d, char *k, size_t cap)
{
    snprintf(k, cap, "%" PRId64 ":%" PRId64, d->schedule, d->id);
}

int probe_sched_apply(probe_sched *s, probe_def *const *defs, size_t n)
{
    hmap next;
    hmap_init(&next);
    int64_t now = timeutil_now_ms();
    char k[48];
    /* First the new map (later duplicates win), so a failure leaves the old set in place. */
    for (size_t i = 0; i < n; i++) {
        key_of(defs[i], k, sizeof k);
        if (hmap_put(&next, k, strlen(k), defs[i])) {
            hmap_free(&next);
            return -ENOMEM;
        }
    }
    /* Entries no longer wanted, or whose definition changed, leave. */
    size_t pos = 0;
    hmap_entry *he;
    entry **gone = NULL;
    size_t ngone = 0, capgone = 0;
    while ((he = hmap_next(&s->entries, &pos))) {
        entry *e = he->value;
        probe_def *d = hmap_get(&next, e->key, strlen(e->key));
        if (!d || d->hash != e->def->hash) {
            if (mem_grow((void **)&gone, &capgone, ngone, sizeof *gone, 16)) {
                mem_free(gone);
                hmap_free(&next);
                return -ENOMEM;
            }
            gone[ngone++] = e;
        }
    }
    for (size_t i = 0; i < ngone; i++) {
        hmap_del(&s->entries, gone[i]->key, strlen(gone[i]->key));
        kill_entry(s, gone[i]);
    }
    mem_free(gone);
    /* New and changed ones come in: soon if they are few (an edit), on their phase if many
     * (a config load). */
    size_t fresh = 0;
    pos = 0;
    while ((he = hmap_next(&next, &pos)))
        fresh += hmap_get(&s->entries, he->key, he->klen) == NULL;
    int soon = s->applied && fresh <= SOON_MAX;
    pos = 0;
    int rc = 0;
    while ((he = hmap_next(&next, &pos))) {
        probe_def *d = he->value;
        if (hmap_get(&s->entries, he->key, he->klen))
            continue;
        entry *e = mem_calloc(1, sizeof *e);
        if (!e || hmap_put(&s->entries, he->key, he->klen, e)) {
            mem_free(e);
            rc = -ENOMEM;
            continue;
        }
        e->s = s;
        e->def = probe_def_ref(d);
        snprintf(e->key, sizeof e->key, "%.*s", (int)he->klen, he->key);
        uv_timer_init(s->loop, &e->due);
        uv_timer_init(s->loop, &e->tmo);
        e->due.data = e->tmo.data = e;
        e->handles = 2;
        s->handles += 2;
        if (soon) {
            /* Edited or added while running: soon, spread over SOON_MS. */
            int64_t spread = d->interval_ms < SOON_MS ? d->interval_ms : SOON_MS;
            int64_t delay = phase_of(s, d) % spread;
            uv_timer_start(&e->due, on_due, (uint64_t)delay, 0); /* then back on the grid */
        } else {
            arm(s, e, now);
        }
    }
    hmap_free(&next);
    s->applied = 1;
    return rc;
}

static void on_oneoff_closed(uv_handle_t *h)
{
    oneoff *o = h->data;
    probe_sched *s = o->s;
    mem_free(o);
    s->handles--;
    maybe_free(s);
}

static void oneoff_unlink(probe_sched *s, oneoff *o)
{
    if (o->prev)
        o->prev->next = o->next;
    else
        s->oneoffs = o->next;
    if (o->next)
        o->next->prev = o->prev;
}

static void on_oneoff_end(void *ctx, probe_run *r, const probe_result *res)
{
    oneoff *o = ctx;
    probe_sched *s = o->s;
    o->done = 1;
    o->run = NULL;
    s->inflight--;
    uv_timer_stop(&o->tmo);
    if (o->cb && !s->closing)
        o->cb(o->ctx, res);
    probe_run_free(r);
    oneoff_unlink(s, o);
    uv_close((uv_handle_t *)&o->tmo, on_oneoff_closed);
    pump_queue(s);
}

static void on_oneoff_tmo(uv_timer_t *t)
{
    oneoff *o = t->data;
    char why[64];
    if (!o->run)
        return;
    snprintf(why, sizeof why, "timeout after %.3g s", (double)probe_run_def(o->run)->timeout_ms / 1000);
    probe_run_cancel(o->run, why);
}

int probe_sched_run_once(probe_sched *s, probe_def *def, probe_sink_fn cb, void *ctx)
{
    oneoff *o = mem_calloc(1, sizeof *o);
    if (!o)
        return -ENOMEM;
    o->s = s;
    o->cb = cb;
    o->ctx = ctx;
    if (probe_run_new(&o->run, &s->env, def, timeutil_now_ms(), on_oneoff_end, o)) {
        mem_free(o);
        return -ENOMEM;
    }
    uv_timer_init(s->loop, &o->tmo);
    o->tmo.data = o;
    s->handles++;
    o->next = s->oneoffs;
    if (o->next)
        o->next->prev = o;
    s->oneoffs = o;
    s->inflight++;
    uv_timer_start(&o->tmo, on_oneoff_tmo, (uint64_t)def->timeout_ms, 0);
    probe_run_start(o->run);
    return 0;
}

void probe_sched_get_stats(const probe_sched *s, probe_sched_stats *st)
{
    memset(st, 0, sizeof *st);
    st->scheduled = s->entries.len;
    st->inflight = s->inflight;
    st->queued = s->queued;
    probe_counters sum = s->gone;
    size_t pos = 0;
    hmap_entry *he;
    while ((he = hmap_next(&s->entries, &pos)))
        add_counters(&sum, &((entry *)he->value)->c);
    st->runs = sum.runs;
    st->failures = sum.failures;
    st->timeouts = sum.timeouts;
    st->skipped = sum.skipped;
    st->late = sum.late;
}

void probe_sched_close(probe_sched *s)
{
    if (!s)
        return;
    s->closing = 1;
    size_t pos = 0;
    hmap_entry *he;
    while ((he = hmap_next(&s->entries, &pos)))
        kill_entry(s, he->value);
    while (s->oneoffs) {
        oneoff *o = s->oneoffs;
        if (o->run)
            probe_run_cancel(o->run, "agent stopping"); /* unlinks and closes o */
        else
            break;
    }
    maybe_free(s);
}
