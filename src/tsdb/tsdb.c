/* tsdb: the in-memory stand-in of the store, built on the structures the durable engine keeps:
 * series identified by their canonical label set, an inverted index name -> value -> sorted
 * postings of series ids, and per-series samples in time order. One reader-writer lock guards
 * everything; queries copy what they return so iteration needs no lock. */
#include "tsdb.h"

#include "../lib/hmap.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/timeutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct postings {
    uint32_t *ids; /* ascending: ids are handed out in increasing order */
    size_t n, cap;
} postings;

typedef struct lname {
    hmap values; /* value -> postings* */
} lname;

typedef struct series {
    uint32_t id;
    labels ls;   /* one allocation: label array then strings (labels_clone) */
    sample *s;
    size_t n, cap;
    size_t pending; /* samples a commit in progress may add (room is reserved first) */
} series;

struct tsdb {
    pthread_rwlock_t lock;
    tsdb_options opt;
    hmap by_key; /* canonical key -> series* */
    series **all;
    size_t nseries, capseries;
    hmap names; /* label name -> lname* */
    size_t nsamples;
    tsdb_stats counters;
    tsdb_observer_fn observer;
    void *observer_ctx;
};

struct tsdb_appender {
    tsdb *db;
    const tsdb_series_in **v;
    size_t n, cap;
};

typedef struct set_entry {
    labels ls;
    sample *s;
    size_t n;
} set_entry;

struct tsdb_series_set {
    set_entry *v;
    size_t n;
    size_t pos;
};

/* ---- keys and series ---------------------------------------------------------------------- */

/* The canonical key of a sorted label set: name \0 value \0 ... */
static int series_key(const labels *ls, buf *key)
{
    buf_reset(key);
    for (size_t i = 0; i < ls->n; i++) {
        buf_append(key, ls->v[i].name, strlen(ls->v[i].name) + 1);
        buf_append(key, ls->v[i].value, strlen(ls->v[i].value) + 1);
    }
    return key->err;
}

static series *series_new(const labels *ls, uint32_t id)
{
    series *s = mem_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (labels_clone(ls, &s->ls)) {
        mem_free(s);
        return NULL;
    }
    s->id = id;
    return s;
}

static void series_free(series *s)
{
    if (!s)
        return;
    mem_free(s->ls.v);
    mem_free(s->s);
    mem_free(s);
}

static postings *index_lookup(const tsdb *db, const char *name, const char *value)
{
    lname *ln = hmap_get(&db->names, name, strlen(name));
    return ln ? hmap_get(&ln->values, value, strlen(value)) : NULL;
}

static int postings_add(postings *p, uint32_t id)
{
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 4;
        uint32_t *ids = mem_realloc(p->ids, nc * sizeof *ids);
        if (!ids)
            return -ENOMEM;
        p->ids = ids;
        p->cap = nc;
    }
    p->ids[p->n++] = id;
    return 0;
}

static int index_add(tsdb *db, const series *s)
{
    for (size_t i = 0; i < s->ls.n; i++) {
        const char *name = s->ls.v[i].name, *value = s->ls.v[i].value;
        lname *ln = hmap_get(&db->names, name, strlen(name));
        if (!ln) {
            ln = mem_calloc(1, sizeof *ln);
            if (!ln || hmap_put(&db->names, name, strlen(name), ln)) {
                mem_free(ln);
                return -ENOMEM;
            }
            hmap_init(&ln->values);
        }
        postings *p = hmap_get(&ln->values, value, strlen(value));
        if (!p) {
            p = mem_calloc(1, sizeof *p);
            if (!p || hmap_put(&ln->values, value, strlen(value), p)) {
                mem_free(p);
                return -ENOMEM;
            }
        }
        if (postings_add(p, s->id))
            return -ENOMEM;
    }
    return 0;
}

/* Takes a series that index_add may have indexed partly back out of the index: its id is the
 * newest, so it can only be the last entry of a postings list. Lists and names left empty are
 * removed so label queries never report values without series. */
static void index_undo(tsdb *db, const series *s)
{
    for (size_t i = 0; i < s->ls.n; i++) {
        const char *name = s->ls.v[i].name, *value = s->ls.v[i].value;
        lname *ln = hmap_get(&db->names, name, strlen(name));
        if (!ln)
            continue;
        postings *p = hmap_get(&ln->values, value, strlen(value));
        if (p && p->n && p->ids[p->n - 1] == s->id)
            p->n--;
        if (p && !p->n) {
            hmap_del(&ln->values, value, strlen(value));
            mem_free(p->ids);
            mem_free(p);
        }
        if (!ln->values.len) {
            hmap_del(&db->names, name, strlen(name));
            hmap_free(&ln->values);
            mem_free(ln);
        }
    }
}

/* Finds or creates the series for ls. Returns NULL with *rc set on failure or refusal; a
 * failed creation leaves no trace in the maps or the index. */
static series *get_or_create(tsdb *db, const labels *ls, buf *key, int *created, int *rc)
{
    *created = 0;
    if ((*rc = series_key(ls, key)))
        return NULL;
    series *s = hmap_get(&db->by_key, key->data, key->len);
    if (s)
        return s;
    if (db->nseries >= db->opt.max_series) {
        *rc = -ENOSPC;
        return NULL;
    }
    if (db->nseries == db->capseries) {
        size_t nc = db->capseries ? db->capseries * 2 : 1024;
        series **all = mem_realloc(db->all, nc * sizeof *all);
        if (!all) {
            *rc = -ENOMEM;
            return NULL;
        }
        db->all = all;
        db->capseries = nc;
    }
    s = series_new(ls, (uint32_t)db->nseries);
    if (!s) {
        *rc = -ENOMEM;
        return NULL;
    }
    if (hmap_put(&db->by_key, key->data, key->len, s)) {
        series_free(s);
        *rc = -ENOMEM;
        return NULL;
    }
    if (index_add(db, s)) {
        /* A series missing from a postings list would be invisible to queries through that
         * label: undo everything rather than keep it half-indexed. */
        index_undo(db, s);
        hmap_del(&db->by_key, key->data, key->len);
        series_free(s);
        *rc = -ENOMEM;
        return NULL;
    }
    db->all[db->nseries++] = s;
    *created = 1;
    *rc = 0;
    return s;
}

/* Makes room for `extra` more samples, so the pushes of a commit cannot fail half-way. */
static int series_reserve(series *s, size_t extra)
{
    if (extra <= s->cap - s->n)
        return 0;
    size_t nc = s->cap ? s->cap : 64;
    while (nc - s->n < extra)
        nc *= 2;
    sample *ns = mem_realloc(s->s, nc * sizeof *ns);
    if (!ns)
        return -ENOMEM;
    s->s = ns;
    s->cap = nc;
    return 0;
}

/* ---- open / close ------------------------------------------------------------------------- */

int tsdb_open(tsdb **out, const tsdb_options *opt)
{
    tsdb *db = mem_calloc(1, sizeof *db);
    if (!db)
        return -ENOMEM;
    if (opt)
        db->opt = *opt;
    if (db->opt.retention_ms <= 0)
        db->opt.retention_ms = 6LL * 3600 * 1000;
    if (!db->opt.max_series)
        db->opt.max_series = 5000000;
    db->opt.dir = NULL; /* not kept: the caller's string */
    pthread_rwlock_init(&db->lock, NULL);
    hmap_init(&db->by_key);
    hmap_init(&db->names);
    db->counters.min_time = INT64_MAX;
    db->counters.max_time = INT64_MIN;
    *out = db;
    return 0;
}

void tsdb_close(tsdb *db)
{
    if (!db)
        return;
    size_t pos = 0;
    hmap_entry *e;
    while ((e = hmap_next(&db->names, &pos))) {
        lname *ln = e->value;
        size_t p2 = 0;
        hmap_entry *v;
        while ((v = hmap_next(&ln->values, &p2))) {
            postings *p = v->value;
            mem_free(p->ids);
            mem_free(p);
        }
        hmap_free(&ln->values);
        mem_free(ln);
    }
    hmap_free(&db->names);
    hmap_free(&db->by_key);
    for (size_t i = 0; i < db->nseries; i++)
        series_free(db->all[i]);
    mem_free(db->all);
    pthread_rwlock_destroy(&db->lock);
    mem_free(db);
}

void tsdb_set_observer(tsdb *db, tsdb_observer_fn fn, void *ctx)
{
    db->observer = fn;
    db->observer_ctx = ctx;
}

/* ---- append ------------------------------------------------------------------------------- */

int tsdb_appender_begin(tsdb *db, tsdb_appender **out)
{
    tsdb_appender *a = mem_calloc(1, sizeof *a);
    if (!a)
        return -ENOMEM;
    a->db = db;
    *out = a;
    return 0;
}

int tsdb_appender_add(tsdb_appender *a, const tsdb_series_in *s)
{
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 64;
        const tsdb_series_in **v = mem_realloc(a->v, nc * sizeof *v);
        if (!v)
            return -ENOMEM;
        a->v = v;
        a->cap = nc;
    }
    a->v[a->n++] = s;
    return 0;
}

void tsdb_appender_rollback(tsdb_appender *a)
{
    if (!a)
        return;
    mem_free(a->v);
    mem_free(a);
}

int tsdb_appender_commit(tsdb_appender *a, tsdb_append_stats *st)
{
    tsdb *db = a->db;
    tsdb_append_stats local = {0};
    int rc = 0;
    buf key;
    buf_init(&key, 1 << 20);
    int64_t oldest = timeutil_now_ms() - db->opt.retention_ms;
    /* Everything that can fail is done before the first sample goes in, so that a failed
     * commit stores nothing: the observer's array, the series of the batch (created empty),
     * and room for every sample. */
    tsdb_observer_fn observer = db->observer;
    series **ser = mem_calloc(a->n + 1, sizeof *ser);
    tsdb_series_in *arr = observer && a->n ? mem_alloc(a->n * sizeof *arr) : NULL;
    if (!ser || (observer && a->n && !arr)) {
        rc = -ENOMEM;
        goto done;
    }

    pthread_rwlock_wrlock(&db->lock);
    for (size_t i = 0; i < a->n && !rc; i++) {
        const tsdb_series_in *in = a->v[i];
        int created, grc;
        ser[i] = get_or_create(db, &in->ls, &key, &created, &grc);
        if (!ser[i]) {
            if (grc == -ENOSPC) {
                local.series_limit += in->nsamples;
                continue;
            }
            rc = grc;
            break;
        }
        local.new_series += (size_t)created;
        ser[i]->pending += in->nsamples;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (ser[i] && ser[i]->pending) {
            if (!rc)
                rc = series_reserve(ser[i], ser[i]->pending);
            ser[i]->pending = 0;
        }
    }
    for (size_t i = 0; i < a->n && !rc; i++) {
        const tsdb_series_in *in = a->v[i];
        series *s = ser[i];
        if (!s)
            continue;
        for (size_t j = 0; j < in->nsamples; j++) {
            sample x = in->samples[j];
            if (x.t < oldest) {
                local.too_old++;
                continue;
            }
            if (s->n && x.t == s->s[s->n - 1].t) {
                local.duplicates++;
                continue;
            }
            if (s->n && x.t < s->s[s->n - 1].t) {
                local.out_of_order++;
                continue;
            }
            s->s[s->n++] = x; /* room reserved above */
            local.accepted++;
            if (x.t < db->counters.min_time)
                db->counters.min_time = x.t;
            if (x.t > db->counters.max_time)
                db->counters.max_time = x.t;
        }
    }
    /* On failure no sample went in (series created on the way stay, empty). */
    db->nsamples += local.accepted;
    db->counters.samples_appended += local.accepted;
    db->counters.out_of_order += local.out_of_order;
    db->counters.duplicates += local.duplicates;
    db->counters.too_old += local.too_old;
    pthread_rwlock_unlock(&db->lock);

    if (!rc && arr) {
        /* Hand the observer a contiguous array (the appender holds pointers). */
        for (size_t i = 0; i < a->n; i++)
            arr[i] = *a->v[i];
        observer(db->observer_ctx, arr, a->n);
    }
done:
    mem_free(arr);
    mem_free(ser);
    buf_free(&key);
    if (st)
        *st = local;
    tsdb_appender_rollback(a);
    return rc;
}

/* ---- select ------------------------------------------------------------------------------- */

static int series_matches(const series *s, const tsdb_matcher *ms, size_t nm)
{
    for (size_t i = 0; i < nm; i++)
        if (!tsdb_matcher_matches(&ms[i], labels_get(&s->ls, ms[i].name)))
            return 0;
    return 1;
}

/* Index of the first sample with t >= mint. */
static size_t lower_bound(const series *s, int64_t mint)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->s[mid].t < mint)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void range_of(const series *s, int64_t mint, int64_t maxt, size_t *from, size_t *to)
{
    *from = lower_bound(s, mint);
    *to = maxt == INT64_MAX ? s->n : lower_bound(s, maxt + 1);
}

/* Candidate series ids for the matchers, from the index: the smallest postings list of an
 * equality matcher, else the union over values a regex accepts, else every series. The caller
 * re-checks every candidate against all matchers. *owned says whether *ids must be freed. */
static int candidates(const tsdb *db, const tsdb_matcher *ms, size_t nm, const uint32_t **ids,
                      size_t *n, int *owned, int *all)
{
    const postings *best = NULL;
    *owned = 0;
    *all = 0;
    for (size_t i = 0; i < nm; i++) {
        if (ms[i].type != TSDB_MATCH_EQ || !*ms[i].value)
            continue;
        const postings *p = index_lookup(db, ms[i].name, ms[i].value);
        if (!p) {
            *ids = NULL;
            *n = 0;
            return 0;
        }
        if (!best || p->n < best->n)
            best = p;
    }
    if (best) {
        *ids = best->ids;
        *n = best->n;
        return 0;
    }
    for (size_t i = 0; i < nm; i++) {
        if (ms[i].type != TSDB_MATCH_RE || tsdb_matcher_matches(&ms[i], ""))
            continue;
        lname *ln = hmap_get(&db->names, ms[i].name, strlen(ms[i].name));
        if (!ln) {
            *ids = NULL;
            *n = 0;
            return 0;
        }
        unsigned char *bits = mem_calloc(db->nseries / 8 + 1, 1);
        if (!bits)
            return -ENOMEM;
        size_t pos = 0, count = 0;
        hmap_entry *e;
        while ((e = hmap_next(&ln->values, &pos))) {
            if (!tsdb_matcher_matches(&ms[i], e->key))
                continue;
            const postings *p = e->value;
            for (size_t j = 0; j < p->n; j++) {
                uint32_t id = p->ids[j];
                if (!(bits[id / 8] & (1u << (id % 8)))) {
                    bits[id / 8] |= (unsigned char)(1u << (id % 8));
                    count++;
                }
            }
        }
        uint32_t *out = mem_alloc((count + 1) * sizeof *out);
        if (!out) {
            mem_free(bits);
            return -ENOMEM;
        }
        size_t k = 0;
        for (uint32_t id = 0; id < db->nseries; id++)
            if (bits[id / 8] & (1u << (id % 8)))
                out[k++] = id;
        mem_free(bits);
        *ids = out;
        *n = k;
        *owned = 1;
        return 0;
    }
    *all = 1;
    *ids = NULL;
    *n = db->nseries;
    return 0;
}

static int entry_cmp(const void *a, const void *b)
{
    return labels_cmp(&((const set_entry *)a)->ls, &((const set_entry *)b)->ls);
}

void tsdb_set_free(tsdb_series_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++) {
        mem_free(set->v[i].ls.v);
        mem_free(set->v[i].s);
    }
    mem_free(set->v);
    mem_free(set);
}

int tsdb_select(tsdb *db, const tsdb_matcher *ms, size_t nm, int64_t mint, int64_t maxt,
                const tsdb_select_opts *opts, tsdb_series_set **out)
{
    static const tsdb_select_opts defaults = {0};
    if (!opts)
        opts = &defaults;
    int rc = 0;
    tsdb_series_set *set = mem_calloc(1, sizeof *set);
    const uint32_t *ids = NULL;
    size_t nids = 0, cap = 0, total = 0;
    int owned = 0, all = 0;
    if (!set)
        return -ENOMEM;
    *out = NULL;
    if (nm == 0) {
        *out = set;
        return 0;
    }
    pthread_rwlock_rdlock(&db->lock);
    if ((rc = candidates(db, ms, nm, &ids, &nids, &owned, &all)))
        goto out;
    for (size_t i = 0; i < nids; i++) {
        const series *s = db->all[all ? i : ids[i]];
        if (!series_matches(s, ms, nm))
            continue;
        size_t from, to;
        range_of(s, mint, maxt, &from, &to);
        if (from >= to)
            continue;
        if (opts->max_series && set->n >= opts->max_series) {
            rc = -E2BIG;
            goto out;
        }
        total += opts->labels_only ? 0 : to - from;
        if (opts->max_samples && total > opts->max_samples) {
            rc = -E2BIG;
            goto out;
        }
        if (set->n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            set_entry *v = mem_realloc(set->v, nc * sizeof *v);
            if (!v) {
                rc = -ENOMEM;
                goto out;
            }
            set->v = v;
            cap = nc;
        }
        set_entry *e = &set->v[set->n];
        memset(e, 0, sizeof *e);
        if ((rc = labels_clone(&s->ls, &e->ls)))
            goto out;
        set->n++;
        if (!opts->labels_only) {
            e->n = to - from;
            e->s = mem_alloc(e->n * sizeof(sample));
            if (!e->s) {
                rc = -ENOMEM;
                goto out;
            }
            memcpy(e->s, s->s + from, e->n * sizeof(sample));
        }
    }
out:
    pthread_rwlock_unlock(&db->lock);
    if (owned)
        mem_free((void *)ids);
    if (rc) {
        tsdb_set_free(set);
        return rc;
    }
    if (set->n > 1)
        qsort(set->v, set->n, sizeof *set->v, entry_cmp);
    *out = set;
    return 0;
}

int tsdb_set_next(tsdb_series_set *s, const labels **ls, const sample **samples, size_t *n)
{
    if (s->pos >= s->n)
        return 0;
    set_entry *e = &s->v[s->pos++];
    *ls = &e->ls;
    if (samples)
        *samples = e->s;
    if (n)
        *n = e->n;
    return 1;
}

size_t tsdb_set_count(const tsdb_series_set *s)
{
    return s->n;
}

/* ---- labels ------------------------------------------------------------------------------- */

void tsdb_strings_free(tsdb_strings *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        mem_free(s->v[i]);
    mem_free(s->v);
    s->v = NULL;
    s->n = 0;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Moves the keys of a string set into a sorted list. */
static int strings_from_set(hmap *set, tsdb_strings *out)
{
    out->v = mem_calloc(set->len + 1, sizeof(char *));
    out->n = 0;
    if (!out->v)
        return -ENOMEM;
    size_t pos = 0;
    hmap_entry *e;
    while ((e = hmap_next(set, &pos))) {
        out->v[out->n] = mem_strdup(e->key);
        if (!out->v[out->n]) {
            tsdb_strings_free(out);
            return -ENOMEM;
        }
        out->n++;
    }
    qsort(out->v, out->n, sizeof(char *), str_cmp);
    return 0;
}

/* Collects label names (name == NULL) or the values of `name` into set. */
static int collect_labels(tsdb *db, const char *name, const tsdb_matcher *ms, size_t nm,
                          int64_t mint, int64_t maxt, hmap *set)
{
    int rc = 0;
    if (nm == 0 && mint <= db->counters.min_time && maxt >= db->counters.max_time) {
        /* The range covers every sample held: straight from the index. (A narrower range
         * takes the scan below, which checks each series' samples.) */
        if (!name) {
            size_t pos = 0;
            hmap_entry *e;
            while (!rc && (e = hmap_next(&db->names, &pos)))
                rc = hmap_put(set, e->key, e->klen, set);
        } else {
            lname *ln = hmap_get(&db->names, name, strlen(name));
            size_t pos = 0;
            hmap_entry *e;
            while (ln && !rc && (e = hmap_next(&ln->values, &pos)))
                rc = hmap_put(set, e->key, e->klen, set);
        }
        return rc;
    }
    const uint32_t *ids;
    size_t nids;
    int owned, all;
    if ((rc = candidates(db, ms, nm, &ids, &nids, &owned, &all)))
        return rc;
    for (size_t i = 0; i < nids && !rc; i++) {
        const series *s = db->all[all ? i : ids[i]];
        if (!series_matches(s, ms, nm))
            continue;
        size_t from, to;
        range_of(s, mint, maxt, &from, &to);
        if (from >= to)
            continue;
        if (!name) {
            for (size_t j = 0; j < s->ls.n && !rc; j++)
                rc = hmap_put(set, s->ls.v[j].name, strlen(s->ls.v[j].name), set);
        } else {
            const char *v = labels_get(&s->ls, name);
            if (v)
                rc = hmap_put(set, v, strlen(v), set);
        }
    }
    if (owned)
        mem_free((void *)ids);
    return rc;
}

static int label_query(tsdb *db, const char *name, const tsdb_matcher *ms, size_t nm,
                       int64_t mint, int64_t maxt, tsdb_strings *out)
{
    hmap set;
    hmap_init(&set);
    out->v = NULL;
    out->n = 0;
    pthread_rwlock_rdlock(&db->lock);
    int rc = collect_labels(db, name, ms, nm, mint, maxt, &set);
    pthread_rwlock_unlock(&db->lock);
    if (!rc)
        rc = strings_from_set(&set, out);
    hmap_free(&set);
    return rc;
}

int tsdb_label_names(tsdb *db, const tsdb_matcher *ms, size_t nm, int64_t mint, int64_t maxt,
                     tsdb_strings *out)
{
    return label_query(db, NULL, ms, nm, mint, maxt, out);
}

int tsdb_label_values(tsdb *db, const char *name, const tsdb_matcher *ms, size_t nm, int64_t mint,
                      int64_t maxt, tsdb_strings *out)
{
    return label_query(db, name, ms, nm, mint, maxt, out);
}

/* ---- stats and maintenance ---------------------------------------------------------------- */

void tsdb_get_stats(tsdb *db, tsdb_stats *st)
{
    pthread_rwlock_rdlock(&db->lock);
    *st = db->counters;
    st->series = db->nseries;
    st->samples = db->nsamples;
    pthread_rwlock_unlock(&db->lock);
}

void tsdb_maintain(tsdb *db, int64_t now_ms)
{
    int64_t cutoff = now_ms - db->opt.retention_ms;
    size_t dropped = 0;
    pthread_rwlock_wrlock(&db->lock);
    for (size_t i = 0; i < db->nseries; i++) {
        series *s = db->all[i];
        size_t k = lower_bound(s, cutoff);
        if (!k)
            continue;
        memmove(s->s, s->s + k, (s->n - k) * sizeof(sample));
        s->n -= k;
        dropped += k;
        if (s->cap > 64 && s->n < s->cap / 4) {
            sample *ns = mem_realloc(s->s, (s->cap / 2) * sizeof(sample));
            if (ns) {
                s->s = ns;
                s->cap /= 2;
            }
        }
    }
    db->nsamples -= dropped;
    if (dropped && db->counters.min_time < cutoff)
        db->counters.min_time = cutoff;
    pthread_rwlock_unlock(&db->lock);
    if (dropped)
        log_debug("tsdb: retention dropped %zu samples older than %lld", dropped,
                  (long long)cutoff);
}
