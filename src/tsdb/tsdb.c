/* tsdb: the store. Series index, head (open chunks + WAL), blocks, tiers, retention.
 *
 * Locks. `wmu` serialises everything that changes the store's contents (commits, cuts,
 * compaction, retention): writers never race each other, so they may read the index without
 * the reader-writer `lock`. `lock` protects the structures readers see (index, series head
 * data, block lists): writers take it exclusively only for the short moments they change them;
 * WAL writes and block building happen outside it, so queries are never blocked by I/O.
 *
 * Head. Each series has one open chunk (chunk.c), a list of closed chunks and a small sorted
 * buffer of out-of-order samples. Chunks never cross a block_ms boundary, so cutting the head
 * into a block never splits a chunk. Samples older than the head's min valid time (the end of
 * the newest cut) are refused as too old and counted.
 *
 * WAL records (payload of wal.c records):
 *   1 SERIES   u8 1, then per series: varint id, varint nlabels, per label varint len + name,
 *              varint len + value
 *   2 SAMPLES  u8 2, then per series: zz (id - previous series' id), varint n, n times zz
 *              (t - previous t), and n times 8 bytes of the value's IEEE-754 bits (little-
 *              endian); "previous" runs across the series of the record and starts at 0
 * A series' record is written once per WAL segment, before its first samples there, so any
 * segment can be replayed on its own and old segments can be deleted freely. Ids are the
 * in-memory ids of the process that wrote the segment: replay maps them per segment.
 *
 * Cut. When the head spans block_ms plus half of it, the oldest block_ms range is cut: the
 * head's min valid time moves to its end (phase 0, exclusive), the samples are merged,
 * re-encoded into one chunk per series and written with their 1-minute and 1-hour aggregates
 * into three block files (phase 1, no locks held), then the blocks are published and the head
 * chunks freed (phase 2, exclusive). WAL segments whose every sample is older than the min valid
 * time are deleted.
 *
 * Tiers. A tier point summarises the raw samples of one series whose timestamps fall in
 * (k*res - res, k*res]: it is stamped with the time of the last of them and holds last, min,
 * max, sum and count (stale markers count only as `last`). A sample exactly on a cut boundary
 * makes its bucket two points (one per block), which keeps every aggregate exact. Computed when the head is cut (never by
 * re-reading raw blocks later); the head's newest part is aggregated on the fly by selects. */
#include "tsdb.h"

#include "../lib/buf.h"
#include "../lib/fsutil.h"
#include "../lib/hmap.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/timeutil.h"
#include "../lib/varint.h"
#include "block.h"
#include "chunk.h"
#include "wal.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define HEAD_CHUNK_SAMPLES 240
#define OOO_MAX 4096 /* out-of-order samples buffered per series */
#define REC_SERIES 1
#define REC_SAMPLES 2
#define AGG_COLS 5 /* last, min, max, sum, count: the column order in tier blocks */
#define MAX_CUTS 1024
#define CUT_RETRY_S 60 /* pause after a failed cut (disk full...) before the next try */

static const int64_t tier_res[TSDB_TIERS] = {0, 60000, 3600000};
/* Compaction spans per tier (aligned windows), smallest first. */
static const int64_t tier_spans[TSDB_TIERS][3] = {
    {12 * 3600000LL, 0, 0},
    {24 * 3600000LL, 7 * 24 * 3600000LL, 0},
    {24 * 3600000LL, 30 * 24 * 3600000LL, 0},
};

typedef struct postings {
    uint32_t *ids; /* ascending: ids are handed out in increasing order */
    size_t n, cap;
} postings;

typedef struct lname {
    hmap values; /* value -> postings* */
} lname;

typedef struct hchunk {
    struct hchunk *next;
    int64_t mint, maxt;
    uint32_t len, n;
    uint8_t data[];
} hchunk;

typedef struct series {
    labels ls;     /* one allocation (labels_clone) */
    uint64_t hash; /* of ls, for the series table */
    uint32_t id;
    uint32_t wal_seg; /* WAL segment (low 32 bits) + 1 holding this series' record; 0: none */
    int64_t mint, maxt; /* data held anywhere (approximate after retention) */
    int64_t last_t;     /* newest sample in the head; INT64_MIN when none */
    chunk_app open;
    hchunk *closed, *closed_tail;
    sample *ooo;
    uint32_t nooo, capooo;
} series;

/* A series table slot keeps the hash next to the pointer, so probing past other series
 * touches no series memory. */
typedef struct stab_slot {
    uint64_t hash;
    series *s;
} stab_slot;

typedef struct bhandle {
    block *b;
    int refs;     /* the store's list holds one */
    int doomed;   /* file removed when the last reference goes */
} bhandle;

typedef struct blist {
    bhandle **v; /* sorted by mint */
    size_t n, cap;
} blist;

typedef struct cut_mark {
    uint64_t seg;  /* first WAL segment written after the cut */
    int64_t maxt;  /* head max time when it was cut: every sample before seg is <= this */
} cut_mark;

struct tsdb {
    pthread_mutex_t wmu;
    pthread_rwlock_t lock;
    tsdb_options opt;
    char *dir, *blockdir, *waldir;
    int64_t retention[TSDB_TIERS];
    stab_slot *stab; /* open-addressing table of series by label hash (linear probing) */
    size_t stab_cap;
    series **all;
    size_t nseries, capseries;
    hmap names; /* label name -> lname* */
    blist blocks[TSDB_TIERS];
    wal *w;
    buf rec;       /* WAL payload scratch (under wmu) */
    int64_t min_valid; /* head accepts t >= this */
    int64_t head_mint, head_maxt;
    size_t head_samples;
    cut_mark cuts[MAX_CUTS];
    size_t ncuts;
    tsdb_stats counters;
    tsdb_observer_fn observer;
    void *observer_ctx;
    pthread_t thread;
    int thread_on, stopping;
    pthread_mutex_t tmu;
    pthread_cond_t tcond;
    int64_t last_retention;
    int64_t cut_failed_at; /* wall ms of the last failed cut; 0: none */
    block_cache *cache;    /* decompressed frames shared by selects */
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

/* ---- keys, series, index ------------------------------------------------------------------ */

static uint64_t ls_hash(const labels *ls)
{
    uint64_t h = labels_hash(ls);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static int ls_equal(const labels *a, const labels *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i].value, b->v[i].value) || strcmp(a->v[i].name, b->v[i].name))
            return 0;
    return 1;
}

/* Puts s into a table with room (no resize). */
static void stab_put(stab_slot *tab, size_t cap, series *s)
{
    size_t i = s->hash & (cap - 1);
    while (tab[i].s)
        i = (i + 1) & (cap - 1);
    tab[i].hash = s->hash;
    tab[i].s = s;
}

/* Makes room for one more series. Caller holds the exclusive lock. */
static int stab_grow(tsdb *db)
{
    if ((db->nseries + 1) * 10 < db->stab_cap * 7)
        return 0;
    size_t nc = db->stab_cap ? db->stab_cap * 2 : 1024;
    stab_slot *t = mem_calloc(nc, sizeof *t);
    if (!t)
        return -ENOMEM;
    for (size_t i = 0; i < db->stab_cap; i++)
        if (db->stab[i].s)
            stab_put(t, nc, db->stab[i].s);
    mem_free(db->stab);
    db->stab = t;
    db->stab_cap = nc;
    return 0;
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
    s->mint = INT64_MAX;
    s->maxt = INT64_MIN;
    s->last_t = INT64_MIN;
    chunk_app_init(&s->open);
    return s;
}

static void head_free(series *s)
{
    chunk_app_free(&s->open);
    chunk_app_init(&s->open);
    for (hchunk *c = s->closed, *n; c; c = n) {
        n = c->next;
        mem_free(c);
    }
    s->closed = s->closed_tail = NULL;
    mem_free(s->ooo);
    s->ooo = NULL;
    s->nooo = s->capooo = 0;
    s->last_t = INT64_MIN;
}

static void series_free(series *s)
{
    if (!s)
        return;
    head_free(s);
    mem_free(s->ls.v);
    mem_free(s);
}

static postings *index_lookup(const tsdb *db, const char *name, const char *value)
{
    lname *ln = hmap_get(&db->names, name, strlen(name));
    return ln ? hmap_get(&ln->values, value, strlen(value)) : NULL;
}

static int postings_add(postings *p, uint32_t id)
{
    if (mem_grow((void **)&p->ids, &p->cap, p->n, sizeof *p->ids, 4))
        return -ENOMEM;
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
 * newest, so it can only be the last entry of a postings list. */
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

/* Finds the series for ls. Caller holds wmu. */
static series *series_find(const tsdb *db, const labels *ls, uint64_t h)
{
    if (!db->stab_cap)
        return NULL;
    size_t i = h & (db->stab_cap - 1);
    for (; db->stab[i].s; i = (i + 1) & (db->stab_cap - 1))
        if (db->stab[i].hash == h && ls_equal(&db->stab[i].s->ls, ls))
            return db->stab[i].s;
    return NULL;
}

/* Creates the series for ls (not present). Takes the exclusive lock itself. Returns NULL with
 * *rc = -ENOSPC (limit) or -ENOMEM; a failed creation leaves no trace in the table or the
 * index. */
static series *series_create(tsdb *db, const labels *ls, uint64_t h, int *rc)
{
    if (db->nseries >= db->opt.max_series) {
        *rc = -ENOSPC;
        return NULL;
    }
    series *s = series_new(ls, (uint32_t)db->nseries);
    if (!s) {
        *rc = -ENOMEM;
        return NULL;
    }
    s->hash = h;
    pthread_rwlock_wrlock(&db->lock);
    if (db->nseries == db->capseries) {
        size_t nc = db->capseries ? db->capseries * 2 : 1024;
        series **all = mem_realloc(db->all, nc * sizeof *all);
        if (!all)
            goto nomem;
        db->all = all;
        db->capseries = nc;
    }
    if (stab_grow(db))
        goto nomem;
    if (index_add(db, s)) {
        index_undo(db, s);
        goto nomem;
    }
    stab_put(db->stab, db->stab_cap, s);
    db->all[db->nseries++] = s;
    pthread_rwlock_unlock(&db->lock);
    *rc = 0;
    return s;
nomem:
    pthread_rwlock_unlock(&db->lock);
    series_free(s);
    *rc = -ENOMEM;
    return NULL;
}

static series *series_get_or_create(tsdb *db, const labels *ls, int *created, int *rc)
{
    *created = 0;
    *rc = 0;
    uint64_t h = ls_hash(ls);
    series *s = series_find(db, ls, h);
    if (s)
        return s;
    s = series_create(db, ls, h, rc);
    *created = s != NULL;
    return s;
}

/* ---- head --------------------------------------------------------------------------------- */

static int64_t floor_div(int64_t t, int64_t d)
{
    int64_t q = t / d;
    return (t % d != 0 && t < 0) ? q - 1 : q;
}

/* The end of t's head range: ranges are (R - block_ms, R] with R a multiple of block_ms,
 * left-open like the tier buckets, so a bucket never straddles two blocks. */
static int64_t range_end(const tsdb *db, int64_t t)
{
    return -floor_div(-t, db->opt.block_ms) * db->opt.block_ms;
}

/* Moves the open chunk to the closed list. Caller holds the exclusive lock. */
static int close_open(series *s)
{
    if (!chunk_app_count(&s->open))
        return 0;
    chunk_app_trim(&s->open);
    size_t len;
    const uint8_t *b = chunk_app_bytes(&s->open, &len);
    hchunk *c = mem_alloc(sizeof *c + len);
    if (!c)
        return -ENOMEM;
    c->next = NULL;
    c->mint = chunk_app_mint(&s->open);
    c->maxt = chunk_app_maxt(&s->open);
    c->n = chunk_app_count(&s->open);
    c->len = (uint32_t)len;
    memcpy(c->data, b, len);
    if (s->closed_tail)
        s->closed_tail->next = c;
    else
        s->closed = c;
    s->closed_tail = c;
    chunk_app_free(&s->open);
    chunk_app_init(&s->open);
    return 0;
}

static int ooo_has(const series *s, int64_t t, uint32_t *pos)
{
    uint32_t lo = 0, hi = s->nooo;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (s->ooo[mid].t < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return lo < s->nooo && s->ooo[lo].t == t;
}

static int chunk_has(const uint8_t *b, size_t len, int64_t t)
{
    chunk_it it;
    int64_t ct;
    double v;
    if (chunk_it_init(&it, b, len))
        return 0;
    while (chunk_it_next(&it, &ct, &v) == 1 && ct <= t)
        if (ct == t)
            return 1;
    return 0;
}

/* Whether the head's chunks hold a sample at t (for out-of-order duplicates; rare, so a
 * decode of the one chunk that covers t is fine). */
static int head_has(const series *s, int64_t t)
{
    for (const hchunk *c = s->closed; c; c = c->next)
        if (t >= c->mint && t <= c->maxt)
            return chunk_has(c->data, c->len, t);
    if (chunk_app_count(&s->open) && t >= chunk_app_mint(&s->open) &&
        t <= chunk_app_maxt(&s->open)) {
        size_t len;
        const uint8_t *b = chunk_app_bytes(&s->open, &len);
        return chunk_has(b, len, t);
    }
    return 0;
}

/* Appends one sample to a series' head. Caller holds wmu and the exclusive lock. */
static int head_append(tsdb *db, series *s, sample x, tsdb_append_stats *st)
{
    if (x.t < db->min_valid) {
        st->too_old++;
        return 0;
    }
    if (x.t == s->last_t) {
        st->duplicates++;
        return 0;
    }
    if (x.t < s->last_t) {
        uint32_t pos;
        if (ooo_has(s, x.t, &pos) || head_has(s, x.t)) {
            st->duplicates++;
            return 0;
        }
        if (s->nooo >= OOO_MAX) {
            st->out_of_order++;
            return 0;
        }
        if (s->nooo == s->capooo) {
            uint32_t nc = s->capooo ? s->capooo * 2 : 8;
            sample *n = mem_realloc(s->ooo, nc * sizeof *n);
            if (!n)
                return -ENOMEM;
            s->ooo = n;
            s->capooo = nc;
        }
        memmove(s->ooo + pos + 1, s->ooo + pos, (s->nooo - pos) * sizeof *s->ooo);
        s->ooo[pos] = x;
        s->nooo++;
        st->ooo_accepted++;
    } else {
        uint32_t n = chunk_app_count(&s->open);
        if (n && (n >= HEAD_CHUNK_SAMPLES ||
                  range_end(db, x.t) != range_end(db, chunk_app_mint(&s->open)))) {
            int rc = close_open(s);
            if (rc)
                return rc;
        }
        int rc = chunk_app_add(&s->open, x.t, x.v);
        if (rc)
            return rc;
        s->last_t = x.t;
    }
    st->accepted++;
    db->head_samples++;
    if (x.t < s->mint)
        s->mint = x.t;
    if (x.t > s->maxt)
        s->maxt = x.t;
    if (x.t < db->head_mint)
        db->head_mint = x.t;
    if (x.t > db->head_maxt)
        db->head_maxt = x.t;
    return 0;
}

/* Growable sample array. */
typedef struct svec {
    sample *v;
    size_t n, cap;
} svec;

static int svec_push(svec *a, int64_t t, double v)
{
    if (mem_grow((void **)&a->v, &a->cap, a->n, sizeof *a->v, 64))
        return -ENOMEM;
    a->v[a->n].t = t;
    a->v[a->n].v = v;
    a->n++;
    return 0;
}

/* Decodes chunk bytes, appending samples in [mint, maxt] to out. */
static int decode_into(const uint8_t *b, size_t len, int64_t mint, int64_t maxt, svec *out)
{
    chunk_it it;
    int rc = chunk_it_init(&it, b, len);
    if (rc)
        return rc;
    int64_t t;
    double v;
    while ((rc = chunk_it_next(&it, &t, &v)) == 1) {
        if (t < mint)
            continue;
        if (t > maxt)
            break;
        if ((rc = svec_push(out, t, v)))
            return rc;
    }
    return rc;
}

/* Merges the sorted out-of-order samples into the sorted samples a[from..] (dropping
 * out-of-order duplicates of existing timestamps). */
static int merge_ooo(svec *a, size_t from, const sample *o, size_t no)
{
    if (!no)
        return 0;
    size_t n = a->n - from;
    sample *m = mem_alloc((n + no) * sizeof *m);
    if (!m)
        return -ENOMEM;
    size_t i = 0, j = 0, k = 0;
    const sample *x = a->v + from;
    while (i < n || j < no) {
        if (j == no || (i < n && x[i].t < o[j].t))
            m[k++] = x[i++];
        else if (i == n || o[j].t < x[i].t)
            m[k++] = o[j++];
        else {
            m[k++] = x[i++];
            j++;
        }
    }
    a->n = from;
    for (size_t q = 0; q < k; q++)
        if (svec_push(a, m[q].t, m[q].v)) {
            mem_free(m);
            return -ENOMEM;
        }
    mem_free(m);
    return 0;
}

/* ---- tiers -------------------------------------------------------------------------------- */

static int is_stale(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return bits == SAMPLE_STALE_BITS;
}

/* The tier bucket of t: bucket k holds (k*res - res, k*res], left-open like PromQL's windows,
 * so the newest point at or before an aligned time T is the newest raw sample there. */
static int64_t bucket_of(int64_t t, int64_t res)
{
    return -floor_div(-t, res);
}

/* Aggregates sorted raw samples into tier points (res ms), appending to the 5 columns. */
static int aggregate(const sample *s, size_t n, int64_t res, svec cols[AGG_COLS])
{
    size_t i = 0;
    while (i < n) {
        int64_t k = bucket_of(s[i].t, res);
        double mn = NAN, mx = NAN, sum = 0, cnt = 0;
        int any = 0;
        size_t j = i;
        for (; j < n && bucket_of(s[j].t, res) == k; j++) {
            double v = s[j].v;
            if (is_stale(v))
                continue;
            if (!any) {
                mn = mx = v;
                any = 1;
            } else {
                if (v < mn || isnan(mn))
                    mn = isnan(v) ? mn : v;
                if (v > mx || isnan(mx))
                    mx = isnan(v) ? mx : v;
            }
            sum += v;
            cnt++;
        }
        int64_t t = s[j - 1].t;
        double last = s[j - 1].v;
        double st;
        uint64_t bits = SAMPLE_STALE_BITS;
        memcpy(&st, &bits, sizeof st);
        double vals[AGG_COLS] = {last, any ? mn : st, any ? mx : st, any ? sum : st, cnt};
        for (int c = 0; c < AGG_COLS; c++)
            if (svec_push(&cols[c], t, vals[c]))
                return -ENOMEM;
        i = j;
    }
    return 0;
}

/* ---- blocks ------------------------------------------------------------------------------- */

static void bhandle_unref(tsdb *db, bhandle *h)
{
    if (!h)
        return;
    if (__atomic_sub_fetch(&h->refs, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    block_cache_drop(db->cache, h->b->id);
    if (h->doomed && h->b->path && unlink(h->b->path))
        log_warn("tsdb: cannot remove %s: %s", h->b->path, strerror(errno));
    block_close(h->b);
    mem_free(h);
}

static int blist_insert(blist *l, bhandle *h)
{
    if (mem_grow((void **)&l->v, &l->cap, l->n, sizeof *l->v, 16))
        return -ENOMEM;
    size_t i = l->n;
    while (i > 0 && l->v[i - 1]->b->mint > h->b->mint) {
        l->v[i] = l->v[i - 1];
        i--;
    }
    l->v[i] = h;
    l->n++;
    return 0;
}

static void blist_remove(blist *l, bhandle *h)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i] == h) {
            memmove(l->v + i, l->v + i + 1, (l->n - i - 1) * sizeof *l->v);
            l->n--;
            return;
        }
}

/* Block open callback: maps a block's labels to series ids, creating series (at open time,
 * under wmu). */
typedef struct open_ctx {
    tsdb *db;
    block *b;
} open_ctx;

static int open_series_cb(void *ctx, const labels *ls, uint32_t *gid)
{
    open_ctx *oc = ctx;
    tsdb *db = oc->db;
    int created, rc;
    series *s = series_get_or_create(db, ls, &created, &rc);
    if (!s)
        return rc == -ENOSPC ? -ENOSPC : -ENOMEM;
    *gid = s->id;
    return 0;
}

/* Opens a block file and adds it to its tier. Caller holds wmu. */
static int add_block_file(tsdb *db, const char *path, int doom_on_error)
{
    char err[256] = "";
    block *b = NULL;
    open_ctx oc = {db, NULL};
    int rc = block_open(&b, path, open_series_cb, &oc, err, sizeof err);
    if (rc) {
        log_error("tsdb: block %s is unusable (%s): %s", path, err, strerror(-rc));
        if (rc == -EINVAL) {
            char q[PATH_MAX];
            snprintf(q, sizeof q, "%s.damaged", path);
            if (!doom_on_error && rename(path, q) == 0)
                log_error("tsdb: moved it aside as %s", q);
        }
        return rc;
    }
    if (b->tier < 1 || b->tier > TSDB_TIERS || b->ncols != (b->tier == 1 ? 1 : AGG_COLS)) {
        log_error("tsdb: block %s has an unknown tier/columns; ignored", path);
        block_close(b);
        return -EINVAL;
    }
    bhandle *h = mem_calloc(1, sizeof *h);
    if (!h) {
        block_close(b);
        return -ENOMEM;
    }
    h->b = b;
    h->refs = 1;
    pthread_rwlock_wrlock(&db->lock);
    rc = blist_insert(&db->blocks[b->tier - 1], h);
    if (!rc) {
        for (size_t i = 0; i < b->nentries; i++) {
            series *s = db->all[b->entries[i].gid];
            if (b->entries[i].mint < s->mint)
                s->mint = b->entries[i].mint;
            if (b->entries[i].maxt > s->maxt)
                s->maxt = b->entries[i].maxt;
        }
    }
    pthread_rwlock_unlock(&db->lock);
    if (rc) {
        block_close(b);
        mem_free(h);
        return rc;
    }
    if (b->tier == 1 && b->maxt + 1 > db->min_valid)
        db->min_valid = b->maxt + 1;
    return 0;
}

static int load_blocks(tsdb *db)
{
    DIR *d = opendir(db->blockdir);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        const char *n = de->d_name;
        size_t l = strlen(n);
        char path[PATH_MAX];
        if (!strncmp(n, ".tmp-", 5)) {
            snprintf(path, sizeof path, "%s/%s", db->blockdir, n);
            unlink(path); /* an unfinished block of a crashed cut: its data is in the WAL */
            continue;
        }
        if (l < 5 || strcmp(n + l - 4, ".ddb"))
            continue;
        snprintf(path, sizeof path, "%s/%s", db->blockdir, n);
        int r = add_block_file(db, path, 0);
        if (r == -ENOMEM || r == -ENOSPC) {
            rc = r;
            break;
        }
    }
    closedir(d);
    /* Overlapping blocks of one tier (a crash between writing a compacted block and removing
     * its sources) would double samples: keep the widest, drop what it covers. */
    for (int t = 0; t < TSDB_TIERS; t++) {
        blist *l = &db->blocks[t];
        for (size_t i = 0; i + 1 < l->n;) {
            block *a = l->v[i]->b, *b = l->v[i + 1]->b;
            if (b->mint <= a->maxt) {
                bhandle *drop = (a->maxt - a->mint >= b->maxt - b->mint) ? l->v[i + 1] : l->v[i];
                log_warn("tsdb: block %s overlaps another; removed", drop->b->path);
                blist_remove(l, drop);
                drop->doomed = 1;
                bhandle_unref(db, drop);
                continue;
            }
            i++;
        }
    }
    return rc;
}

/* ---- WAL ---------------------------------------------------------------------------------- */

static void rec_series(buf *r, const series *s)
{
    varint_put(r, s->id);
    varint_put(r, s->ls.n);
    for (size_t i = 0; i < s->ls.n; i++) {
        size_t nl = strlen(s->ls.v[i].name), vl = strlen(s->ls.v[i].value);
        varint_put(r, nl);
        buf_append(r, s->ls.v[i].name, nl);
        varint_put(r, vl);
        buf_append(r, s->ls.v[i].value, vl);
    }
}

/* Delta state of one SAMPLES record: ids and timestamps are coded as differences from the
 * previous series' id and the previous sample's time in the same record, which makes them one
 * byte each in the usual request (series in creation order, one scrape time). */
typedef struct rec_state {
    uint32_t id;
    int64_t t;
} rec_state;

static void rec_samples(buf *r, rec_state *st, uint32_t id, const sample *x, size_t n)
{
    varint_put_signed(r, (int64_t)id - (int64_t)st->id);
    st->id = id;
    varint_put(r, n);
    for (size_t i = 0; i < n; i++) {
        varint_put_signed(r, (int64_t)((uint64_t)x[i].t - (uint64_t)st->t));
        st->t = x[i].t;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t bits;
        unsigned char b8[8];
        memcpy(&bits, &x[i].v, 8);
        varint_le64(b8, bits);
        buf_append(r, b8, 8);
    }
}

typedef struct replay_ctx {
    tsdb *db;
    uint64_t seg;
    series **map;
    size_t nmap;
    tsdb_append_stats st;
    uint64_t bad;
} replay_ctx;

/* Replays one series entry of a SERIES record. Returns 0, 1 when the entry is damaged (the
 * rest of the record is skipped), or -ENOMEM. */
static int replay_series(replay_ctx *rc, const unsigned char **pp, const unsigned char *end)
{
    tsdb *db = rc->db;
    const unsigned char *p = *pp;
    uint64_t id, nl;
    label lv[LABELS_MAX];
    size_t offs[2 * LABELS_MAX];
    if (varint_get(&p, end, &id) || varint_get(&p, end, &nl) || nl > LABELS_MAX ||
        id > 100000000)
        return 1;
    buf strs;
    buf_init(&strs, 0);
    for (uint64_t i = 0; i < 2 * nl; i++) {
        const unsigned char *s;
        size_t sl;
        if (varint_get_bytes(&p, end, &s, &sl) || memchr(s, 0, sl)) {
            buf_free(&strs);
            return 1;
        }
        offs[i] = strs.len;
        buf_append(&strs, s, sl);
        buf_putc(&strs, 0);
    }
    if (strs.err) {
        buf_free(&strs);
        return -ENOMEM;
    }
    *pp = p;
    for (uint64_t i = 0; i < nl; i++) {
        lv[i].name = strs.data + offs[2 * i];
        lv[i].value = strs.data + offs[2 * i + 1];
    }
    labels ls = {lv, (size_t)nl};
    char why[128];
    if (labels_validate(&ls, why, sizeof why)) {
        buf_free(&strs);
        rc->bad++;
        return 0;
    }
    int created, r;
    series *s = series_get_or_create(db, &ls, &created, &r);
    buf_free(&strs);
    if (!s)
        return r == -ENOSPC ? 0 : r;
    if (id >= rc->nmap) {
        size_t nn = (size_t)id * 2 + 64;
        series **m = mem_realloc(rc->map, nn * sizeof *m);
        if (!m)
            return -ENOMEM;
        memset(m + rc->nmap, 0, (nn - rc->nmap) * sizeof *m);
        rc->map = m;
        rc->nmap = nn;
    }
    rc->map[id] = s;
    return 0;
}

static int replay_record(void *ctx, uint64_t seg, const uint8_t *rec, size_t len)
{
    replay_ctx *rc = ctx;
    tsdb *db = rc->db;
    const unsigned char *p = rec + 1, *end = rec + len;
    if (seg != rc->seg) {
        if (rc->map)
            memset(rc->map, 0, rc->nmap * sizeof *rc->map);
        rc->seg = seg;
    }
    if (rec[0] == REC_SERIES) {
        while (p < end) {
            int r = replay_series(rc, &p, end);
            if (r < 0)
                return r;
            if (r > 0) {
                rc->bad++;
                return 0;
            }
        }
        return 0;
    }
    if (rec[0] != REC_SAMPLES) {
        rc->bad++;
        return 0;
    }
    pthread_rwlock_wrlock(&db->lock);
    int r = 0;
    int64_t t = 0, idd;
    uint64_t id = 0, n;
    while (p < end && !r) {
        if (varint_get_signed(&p, end, &idd) || varint_get(&p, end, &n) ||
            n > (size_t)(end - p)) {
            rc->bad++;
            break;
        }
        id = (uint64_t)((int64_t)id + idd);
        series *s = id < rc->nmap ? rc->map[id] : NULL;
        const unsigned char *tp = p;
        for (uint64_t i = 0; i < n; i++) {
            int64_t d;
            if (varint_get_signed(&tp, end, &d)) {
                rc->bad++;
                goto out;
            }
        }
        if ((size_t)(end - tp) < n * 8) {
            rc->bad++;
            break;
        }
        const unsigned char *vp = tp;
        for (uint64_t i = 0; i < n && !r; i++) {
            int64_t d = 0;
            varint_get_signed(&p, end, &d);
            t = (int64_t)((uint64_t)t + (uint64_t)d);
            uint64_t bits = varint_read_le64(vp + 8 * i);
            sample x;
            x.t = t;
            memcpy(&x.v, &bits, 8);
            if (!s) {
                rc->bad++;
                continue;
            }
            if (x.t < db->min_valid)
                continue; /* already in a block */
            r = head_append(db, s, x, &rc->st);
        }
        p = vp + 8 * n;
    }
out:
    pthread_rwlock_unlock(&db->lock);
    return r;
}

/* ---- open / close ------------------------------------------------------------------------- */

static void *bg_main(void *arg);

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = mem_alloc(n);
    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

int tsdb_open(tsdb **out, const tsdb_options *opt)
{
    tsdb *db = mem_calloc(1, sizeof *db);
    int rc = 0;
    if (!db)
        return -ENOMEM;
    if (opt)
        db->opt = *opt;
    db->retention[0] = db->opt.retention_ms > 0 ? db->opt.retention_ms : 15LL * 86400000;
    db->retention[1] = db->opt.retention_1m_ms > 0 ? db->opt.retention_1m_ms : 365LL * 86400000;
    db->retention[2] = db->opt.retention_1h_ms > 0 ? db->opt.retention_1h_ms : INT64_MAX;
    if (!db->opt.max_series)
        db->opt.max_series = 5000000;
    if (db->opt.block_ms <= 0)
        db->opt.block_ms = 2 * 3600000LL;
    if (db->opt.block_ms % 3600000)
        db->opt.block_ms = (db->opt.block_ms / 3600000 + 1) * 3600000;
    if (!db->opt.wal_fsync_ms)
        db->opt.wal_fsync_ms = 1000;
    pthread_mutex_init(&db->wmu, NULL);
    pthread_rwlock_init(&db->lock, NULL);
    if (opt && opt->dir)
        db->cache = block_cache_new(db->opt.cache_bytes ? db->opt.cache_bytes : 64u << 20);
    pthread_mutex_init(&db->tmu, NULL);
    pthread_cond_init(&db->tcond, NULL);
    hmap_init(&db->names);
    buf_init(&db->rec, 0);
    db->min_valid = INT64_MIN;
    db->head_mint = INT64_MAX;
    db->head_maxt = INT64_MIN;
    db->counters.min_time = INT64_MAX;
    db->counters.max_time = INT64_MIN;
    db->opt.dir = NULL; /* the caller's string: copied below */
    if (opt && opt->dir) {
        db->dir = mem_strdup(opt->dir);
        db->blockdir = path_join(opt->dir, "blocks");
        db->waldir = path_join(opt->dir, "wal");
        if (!db->dir || !db->blockdir || !db->waldir) {
            rc = -ENOMEM;
            goto fail;
        }
        if ((rc = fsutil_mkdirs(db->blockdir)))
            goto fail;
        pthread_mutex_lock(&db->wmu);
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        rc = load_blocks(db);
        size_t nblocks = db->blocks[0].n + db->blocks[1].n + db->blocks[2].n;
        replay_ctx rcx = {.db = db, .seg = UINT64_MAX};
        wal_replay_stats ws = {0};
        if (!rc)
            rc = wal_replay(db->waldir, replay_record, &rcx, &ws);
        mem_free(rcx.map);
        if (!rc) {
            wal_options wo = {.fsync_interval_ms = db->opt.wal_fsync_ms < 0 ? 0 : db->opt.wal_fsync_ms,
                              .caller_syncs = 1};
            rc = wal_open(&db->w, db->waldir, &wo);
        }
        pthread_mutex_unlock(&db->wmu);
        if (rc)
            goto fail;
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        db->counters.wal_replayed = ws.records;
        db->counters.wal_dropped_bytes = ws.dropped_bytes;
        log_info("tsdb: opened %s: %zu blocks, %zu series, WAL %llu records (%llu samples "
                 "replayed, %llu dropped bytes, %llu bad records) in %.2f s",
                 db->dir, nblocks, db->nseries, (unsigned long long)ws.records,
                 (unsigned long long)rcx.st.accepted, (unsigned long long)ws.dropped_bytes,
                 (unsigned long long)rcx.bad,
                 (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
        /* The WAL keeps every segment until a cut after this point makes them redundant. */
        uint64_t cur = wal_current_segment(db->w);
        db->cuts[db->ncuts++] = (cut_mark){cur, db->head_maxt};
        if (db->opt.background) {
            if (pthread_create(&db->thread, NULL, bg_main, db) == 0)
                db->thread_on = 1;
            else
                log_warn("tsdb: no background thread; maintenance runs from the server");
        }
    }
    *out = db;
    return 0;
fail:
    tsdb_close(db);
    return rc;
}

void tsdb_close(tsdb *db)
{
    if (!db)
        return;
    if (db->thread_on) {
        pthread_mutex_lock(&db->tmu);
        db->stopping = 1;
        pthread_cond_signal(&db->tcond);
        pthread_mutex_unlock(&db->tmu);
        pthread_join(db->thread, NULL);
    }
    wal_close(db->w);
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
    mem_free(db->stab);
    for (size_t i = 0; i < db->nseries; i++)
        series_free(db->all[i]);
    mem_free(db->all);
    for (int t = 0; t < TSDB_TIERS; t++) {
        for (size_t i = 0; i < db->blocks[t].n; i++)
            bhandle_unref(db, db->blocks[t].v[i]);
        mem_free(db->blocks[t].v);
    }
    buf_free(&db->rec);
    block_cache_free(db->cache);
    mem_free(db->dir);
    mem_free(db->blockdir);
    mem_free(db->waldir);
    pthread_cond_destroy(&db->tcond);
    pthread_mutex_destroy(&db->tmu);
    pthread_rwlock_destroy(&db->lock);
    pthread_mutex_destroy(&db->wmu);
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
    int64_t oldest = INT64_MIN;
    if (db->retention[0] != INT64_MAX)
        oldest = timeutil_now_ms() - db->retention[0];
    tsdb_observer_fn observer = db->observer;
    series **ser = mem_calloc(a->n + 1, sizeof *ser);
    tsdb_series_in *arr = observer && a->n ? mem_alloc(a->n * sizeof *arr) : NULL;
    uint64_t *hs = mem_alloc((a->n + 1) * sizeof *hs);
    if (!ser || !hs || (observer && a->n && !arr)) {
        mem_free(ser);
        mem_free(arr);
        mem_free(hs);
        tsdb_appender_rollback(a);
        if (st)
            *st = local;
        return -ENOMEM;
    }

    /* Outside the writer mutex (in parallel with other committers): find the series that
     * exist (the table only changes under the exclusive lock) and encode their samples. */
    buf smp;
    buf_init(&smp, 0);
    rec_state rst = {0, 0};
    if (db->w)
        buf_putc(&smp, REC_SAMPLES);
    /* Hashes first, so the table slots and then the series can be fetched ahead of use: the
     * lookups are dominated by cache misses on a large store. */
    for (size_t i = 0; i < a->n; i++)
        hs[i] = ls_hash(&a->v[i]->ls);
    pthread_rwlock_rdlock(&db->lock);
    if (db->stab_cap)
        for (size_t i = 0; i < a->n && i < 16; i++)
            __builtin_prefetch(&db->stab[hs[i] & (db->stab_cap - 1)]);
    for (size_t i = 0; i < a->n; i++) {
        if (db->stab_cap && i + 16 < a->n)
            __builtin_prefetch(&db->stab[hs[i + 16] & (db->stab_cap - 1)]);
        if (i + 8 < a->n && db->stab_cap) {
            const stab_slot *sl = &db->stab[hs[i + 8] & (db->stab_cap - 1)];
            if (sl->s) {
                __builtin_prefetch(sl->s);
                __builtin_prefetch(sl->s->ls.v);
            }
        }
        ser[i] = series_find(db, &a->v[i]->ls, hs[i]);
        if (ser[i] && db->w && a->v[i]->nsamples)
            rec_samples(&smp, &rst, ser[i]->id, a->v[i]->samples, a->v[i]->nsamples);
    }
    pthread_rwlock_unlock(&db->lock);
    mem_free(hs);

    pthread_mutex_lock(&db->wmu);
    uint64_t seg = 0;
    if (db->w && (rc = wal_next_segment(db->w, &seg)))
        goto out;
    uint32_t segtag = (uint32_t)seg + 1;
    buf *r = &db->rec;
    buf_reset(r);
    buf_putc(r, REC_SERIES);
    /* New series are created now (so that a failure leaves no sample stored); every series
     * gets its WAL record where this segment has not seen it yet. */
    for (size_t i = 0; i < a->n; i++) {
        const tsdb_series_in *in = a->v[i];
        if (!ser[i]) {
            int created, grc;
            ser[i] = series_get_or_create(db, &in->ls, &created, &grc);
            if (!ser[i]) {
                if (grc == -ENOSPC) {
                    local.series_limit += in->nsamples;
                    continue;
                }
                rc = grc;
                goto out;
            }
            local.new_series += (size_t)created;
            if (db->w && in->nsamples)
                rec_samples(&smp, &rst, ser[i]->id, in->samples, in->nsamples);
        }
        if (db->w && ser[i]->wal_seg != segtag)
            rec_series(r, ser[i]);
    }
    if (db->w) {
        if ((rc = r->err) || (rc = smp.err))
            goto out;
        struct iovec iov[2];
        size_t niov = 0;
        if (r->len > 1) {
            iov[niov].iov_base = r->data;
            iov[niov++].iov_len = r->len;
        }
        if (smp.len > 1) {
            iov[niov].iov_base = smp.data;
            iov[niov++].iov_len = smp.len;
        }
        if (niov && (rc = wal_write(db->w, iov, niov)))
            goto out;
        for (size_t i = 0; i < a->n; i++)
            if (ser[i])
                ser[i]->wal_seg = segtag;
    }
    /* The batch is durable: apply it. Series and their chunk buffers are scattered over the
     * heap: fetch a few ahead so the cache misses overlap. */
    pthread_rwlock_wrlock(&db->lock);
    for (size_t i = 0; i < a->n && i < 8; i++)
        if (ser[i])
            __builtin_prefetch(ser[i]);
    for (size_t i = 0; i < a->n && !rc; i++) {
        const tsdb_series_in *in = a->v[i];
        series *s = ser[i];
        if (i + 8 < a->n && ser[i + 8])
            __builtin_prefetch(ser[i + 8]);
        if (i + 4 < a->n && ser[i + 4] && ser[i + 4]->open.b)
            __builtin_prefetch(ser[i + 4]->open.b);
        if (!s)
            continue;
        for (size_t j = 0; j < in->nsamples && !rc; j++) {
            sample x = in->samples[j];
            if (x.t < oldest) {
                local.too_old++;
                continue;
            }
            rc = head_append(db, s, x, &local);
        }
    }
    db->counters.samples_appended += local.accepted;
    db->counters.out_of_order += local.out_of_order;
    db->counters.ooo_accepted += local.ooo_accepted;
    db->counters.duplicates += local.duplicates;
    db->counters.too_old += local.too_old;
    pthread_rwlock_unlock(&db->lock);
    if (rc)
        log_error("tsdb: applying a batch failed (%s); part of it may be visible%s; a retry "
                  "completes it", strerror(-rc), db->w ? ", all of it is in the WAL" : "");
out:
    pthread_mutex_unlock(&db->wmu);
    buf_free(&smp);
    if (!rc && arr) {
        for (size_t i = 0; i < a->n; i++)
            arr[i] = *a->v[i];
        observer(db->observer_ctx, arr, a->n);
    }
    mem_free(arr);
    mem_free(ser);
    if (st)
        *st = local;
    tsdb_appender_rollback(a);
    if (db->thread_on && db->head_maxt != INT64_MIN && db->head_mint != INT64_MAX &&
        db->head_maxt >= range_end(db, db->min_valid == INT64_MIN ? db->head_mint
                                                                  : db->min_valid) +
                              db->opt.block_ms / 2) {
        pthread_mutex_lock(&db->tmu);
        pthread_cond_signal(&db->tcond);
        pthread_mutex_unlock(&db->tmu);
    }
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

/* What a select copies from the head under the lock: the series' chunk bytes in range and its
 * out-of-order samples. */
typedef struct snap {
    uint32_t gid;
    labels ls;
    uint8_t *bytes;  /* concatenated chunks */
    uint32_t *lens;
    size_t nchunks;
    sample *ooo;
    size_t nooo;
} snap;

static void snap_free(snap *s)
{
    mem_free(s->ls.v);
    mem_free(s->bytes);
    mem_free(s->lens);
    mem_free(s->ooo);
}

static int snap_cmp(const void *a, const void *b)
{
    return labels_cmp(&((const snap *)a)->ls, &((const snap *)b)->ls);
}

/* Copies s's head data overlapping [mint, maxt]. Caller holds the lock (shared). */
static int snap_head(const series *s, int64_t mint, int64_t maxt, snap *out)
{
    size_t total = 0, n = 0;
    size_t olen = 0;
    const uint8_t *ob = chunk_app_count(&s->open) ? chunk_app_bytes(&s->open, &olen) : NULL;
    for (const hchunk *c = s->closed; c; c = c->next)
        if (c->maxt >= mint && c->mint <= maxt) {
            total += c->len;
            n++;
        }
    int open_in = ob && chunk_app_maxt(&s->open) >= mint && chunk_app_mint(&s->open) <= maxt;
    if (open_in) {
        total += olen;
        n++;
    }
    out->bytes = n ? mem_alloc(total) : NULL;
    out->lens = n ? mem_alloc(n * sizeof *out->lens) : NULL;
    if (n && (!out->bytes || !out->lens))
        return -ENOMEM;
    size_t off = 0, k = 0;
    for (const hchunk *c = s->closed; c; c = c->next)
        if (c->maxt >= mint && c->mint <= maxt) {
            memcpy(out->bytes + off, c->data, c->len);
            off += c->len;
            out->lens[k++] = c->len;
        }
    if (open_in) {
        memcpy(out->bytes + off, ob, olen);
        out->lens[k++] = (uint32_t)olen;
    }
    out->nchunks = n;
    size_t no = 0;
    for (uint32_t i = 0; i < s->nooo; i++)
        no += s->ooo[i].t >= mint && s->ooo[i].t <= maxt;
    if (no) {
        out->ooo = mem_alloc(no * sizeof *out->ooo);
        if (!out->ooo)
            return -ENOMEM;
        for (uint32_t i = 0; i < s->nooo; i++)
            if (s->ooo[i].t >= mint && s->ooo[i].t <= maxt)
                out->ooo[out->nooo++] = s->ooo[i];
    }
    return 0;
}

/* Decodes a snapshot's head part into out (sorted, merged with the out-of-order samples). */
static int snap_decode(const snap *s, int64_t mint, int64_t maxt, svec *out)
{
    size_t from = out->n, off = 0;
    for (size_t i = 0; i < s->nchunks; i++) {
        int rc = decode_into(s->bytes + off, s->lens[i], mint, maxt, out);
        if (rc < 0)
            return rc;
        off += s->lens[i];
    }
    return merge_ooo(out, from, s->ooo, s->nooo);
}

static int pick_tier(const tsdb_select_opts *o)
{
    switch (o->tier) {
    case TSDB_TIER_RAW: return 0;
    case TSDB_TIER_1M: return 1;
    case TSDB_TIER_1H: return 2;
    default: break;
    }
    for (int t = TSDB_TIERS - 1; t > 0; t--)
        if (o->max_resolution_ms >= tier_res[t])
            return t;
    return 0;
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
    size_t nids = 0, total = 0;
    int owned = 0, all = 0;
    snap *snaps = NULL;
    size_t nsnaps = 0, capsnaps = 0;
    bhandle **bl = NULL;
    size_t nbl = 0;
    int tier = pick_tier(opts);
    int col = 0;
    svec raw = {0}, cols[AGG_COLS];
    memset(cols, 0, sizeof cols);
    block_cursor *cur = NULL;
    if (!set)
        return -ENOMEM;
    *out = NULL;
    if (nm == 0) {
        *out = set;
        return 0;
    }
    if (tier > 0) {
        switch (opts->agg) {
        case TSDB_AGG_MIN: col = 1; break;
        case TSDB_AGG_MAX: col = 2; break;
        case TSDB_AGG_SUM: col = 3; break;
        case TSDB_AGG_COUNT: col = 4; break;
        default: col = 0; break;
        }
    }

    pthread_rwlock_rdlock(&db->lock);
    if ((rc = candidates(db, ms, nm, &ids, &nids, &owned, &all)))
        goto unlock;
    for (size_t i = 0; i < nids; i++) {
        const series *s = db->all[all ? i : ids[i]];
        if (s->maxt < mint || s->mint > maxt || !series_matches(s, ms, nm))
            continue;
        if (opts->max_series && nsnaps >= opts->max_series) {
            rc = -E2BIG;
            goto unlock;
        }
        if (nsnaps == capsnaps) {
            size_t nc = capsnaps ? capsnaps * 2 : 16;
            snap *v = mem_realloc(snaps, nc * sizeof *v);
            if (!v) {
                rc = -ENOMEM;
                goto unlock;
            }
            snaps = v;
            capsnaps = nc;
        }
        snap *sn = &snaps[nsnaps++];
        memset(sn, 0, sizeof *sn);
        sn->gid = s->id;
        if ((rc = labels_clone(&s->ls, &sn->ls)))
            goto unlock;
        if (!opts->labels_only && (rc = snap_head(s, mint, maxt, sn)))
            goto unlock;
    }
    if (!opts->labels_only && nsnaps) {
        const blist *l = &db->blocks[tier];
        bl = mem_alloc((l->n + 1) * sizeof *bl);
        if (!bl) {
            rc = -ENOMEM;
            goto unlock;
        }
        for (size_t i = 0; i < l->n; i++)
            if (l->v[i]->b->maxt >= mint && l->v[i]->b->mint <= maxt) {
                __atomic_add_fetch(&l->v[i]->refs, 1, __ATOMIC_ACQ_REL);
                bl[nbl++] = l->v[i];
            }
    }
unlock:
    pthread_rwlock_unlock(&db->lock);
    if (owned)
        mem_free((void *)ids);
    if (rc)
        goto out;
    if (nsnaps > 1)
        qsort(snaps, nsnaps, sizeof *snaps, snap_cmp);
    set->v = mem_calloc(nsnaps + 1, sizeof *set->v);
    cur = mem_calloc(nbl + 1, sizeof *cur);
    if (!set->v || !cur) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t b = 0; b < nbl; b++)
        cur[b].cache = db->cache;
    for (size_t i = 0; i < nsnaps; i++) {
        snap *sn = &snaps[i];
        raw.n = 0;
        if (!opts->labels_only) {
            for (size_t b = 0; b < nbl; b++) {
                const block *blk = bl[b]->b;
                const block_entry *e = block_find(blk, sn->gid);
                for (; e && e < blk->entries + blk->nentries && e->gid == sn->gid; e++) {
                    if (e->maxt < mint || e->mint > maxt)
                        continue;
                    const uint8_t *cb;
                    size_t cl;
                    if ((rc = block_chunk(&cur[b], blk, e, col, &cb, &cl)))
                        goto out;
                    if (cl && (rc = decode_into(cb, cl, mint, maxt, &raw)) < 0)
                        goto out;
                    rc = 0;
                }
            }
            if (tier == 0) {
                if ((rc = snap_decode(sn, mint, maxt, &raw)))
                    goto out;
            } else if (sn->nchunks || sn->nooo) {
                /* The head's part of a tier is aggregated on the fly from its raw samples,
                 * from the first bucket the tier's blocks do not hold. */
                svec h = {0};
                int64_t res = tier_res[tier];
                int64_t from = raw.n ? raw.v[raw.n - 1].t + 1
                                     : (bucket_of(mint, res) - 1) * res + 1;
                for (int c = 0; c < AGG_COLS; c++)
                    cols[c].n = 0;
                rc = snap_decode(sn, from, maxt, &h);
                if (!rc)
                    rc = aggregate(h.v, h.n, tier_res[tier], cols);
                mem_free(h.v);
                if (rc)
                    goto out;
                for (size_t k = 0; k < cols[col].n && !rc; k++)
                    if (cols[col].v[k].t >= mint &&
                        (!raw.n || cols[col].v[k].t > raw.v[raw.n - 1].t))
                        rc = svec_push(&raw, cols[col].v[k].t, cols[col].v[k].v);
                if (rc)
                    goto out;
            }
            if (!raw.n)
                continue;
            total += raw.n;
            if (opts->max_samples && total > opts->max_samples) {
                rc = -E2BIG;
                goto out;
            }
        }
        set_entry *e = &set->v[set->n++];
        e->ls = sn->ls;
        sn->ls.v = NULL;
        if (raw.n) {
            e->s = mem_alloc(raw.n * sizeof(sample));
            if (!e->s) {
                rc = -ENOMEM;
                goto out;
            }
            memcpy(e->s, raw.v, raw.n * sizeof(sample));
            e->n = raw.n;
        }
    }
    __atomic_add_fetch(&db->counters.samples_read, total, __ATOMIC_RELAXED);
out:
    for (size_t i = 0; i < nsnaps; i++)
        snap_free(&snaps[i]);
    mem_free(snaps);
    for (size_t b = 0; b < nbl; b++) {
        if (cur)
            block_cursor_free(&cur[b]);
        bhandle_unref(db, bl[b]);
    }
    mem_free(cur);
    mem_free(bl);
    mem_free(raw.v);
    for (int c = 0; c < AGG_COLS; c++)
        mem_free(cols[c].v);
    if (rc) {
        tsdb_set_free(set);
        return rc;
    }
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

/* Collects label names (name == NULL) or the values of `name` into set, from the index and
 * each series' time range (never from samples). */
static int collect_labels(tsdb *db, const char *name, const tsdb_matcher *ms, size_t nm,
                          int64_t mint, int64_t maxt, hmap *set)
{
    int rc = 0;
    if (nm == 0 && mint == INT64_MIN && maxt == INT64_MAX) {
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
        if (s->maxt < mint || s->mint > maxt || s->mint > s->maxt || !series_matches(s, ms, nm))
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

/* ---- cut: head -> blocks ------------------------------------------------------------------ */

static int series_ptr_cmp(const void *a, const void *b)
{
    return labels_cmp(&(*(series *const *)a)->ls, &(*(series *const *)b)->ls);
}

static double elapsed(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Encodes samples into chunks of at most CHUNK_MAX_SAMPLES and adds them to w as consecutive
 * entries of one series (ncols columns of equal length). */
static int write_series(block_writer *w, const labels *ls, svec *cols, int ncols)
{
    size_t n = cols[0].n, at = 0;
    int rc = 0;
    while (at < n && !rc) {
        size_t k = n - at < CHUNK_MAX_SAMPLES ? n - at : CHUNK_MAX_SAMPLES;
        chunk_app ca[BLOCK_MAX_COLS];
        const uint8_t *bytes[BLOCK_MAX_COLS];
        size_t lens[BLOCK_MAX_COLS];
        for (int c = 0; c < ncols; c++)
            chunk_app_init(&ca[c]);
        for (int c = 0; c < ncols && !rc; c++) {
            for (size_t i = 0; i < k && !rc; i++)
                rc = chunk_app_add(&ca[c], cols[c].v[at + i].t, cols[c].v[at + i].v);
            if (!rc) {
                chunk_app_trim(&ca[c]);
                bytes[c] = chunk_app_bytes(&ca[c], &lens[c]);
            }
        }
        if (!rc)
            rc = block_writer_add(w, ls, bytes, lens, cols[0].v[at].t, cols[0].v[at + k - 1].t);
        for (int c = 0; c < ncols; c++)
            chunk_app_free(&ca[c]);
        at += k;
    }
    return rc;
}

static int publish(tsdb *db, const char *path)
{
    return add_block_file(db, path, 1);
}

/* Cuts the head's samples in [b, end) into a raw block and its two tier blocks. Caller holds
 * wmu (released while building). */
static int cut_range(tsdb *db, int64_t b, int64_t end)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = 0;
    /* Phase 0: nothing older than end may enter the head any more. */
    int64_t old_min_valid = db->min_valid;
    size_t old_ncuts = db->ncuts;
    pthread_rwlock_wrlock(&db->lock);
    db->min_valid = end;
    for (size_t i = 0; i < db->nseries && !rc; i++) {
        series *s = db->all[i];
        if (chunk_app_count(&s->open) && chunk_app_mint(&s->open) < end)
            rc = close_open(s);
    }
    size_t n = db->nseries;
    series **order = mem_alloc((n + 1) * sizeof *order);
    if (order && n)
        memcpy(order, db->all, n * sizeof *order);
    pthread_rwlock_unlock(&db->lock);
    if (rc || !order) {
        mem_free(order);
        return rc ? rc : -ENOMEM;
    }
    uint64_t seg = 0;
    if ((rc = wal_cut(db->w, &seg))) {
        mem_free(order);
        return rc;
    }
    if (db->ncuts == MAX_CUTS) {
        memmove(db->cuts, db->cuts + 1, (MAX_CUTS - 1) * sizeof *db->cuts);
        db->ncuts--;
    }
    db->cuts[db->ncuts++] = (cut_mark){seg, db->head_maxt};
    qsort(order, n, sizeof *order, series_ptr_cmp);

    /* Phase 1: build the blocks (writers keep appending newer samples meanwhile). */
    block_writer *w[TSDB_TIERS] = {0};
    svec raw = {0}, cols[TSDB_TIERS][AGG_COLS];
    memset(cols, 0, sizeof cols);
    snap sn;
    size_t written = 0;
    for (int t = 0; t < TSDB_TIERS && !rc; t++)
        rc = block_writer_open(&w[t], db->blockdir, t + 1, t ? AGG_COLS : 1, b, end - 1,
                               t ? 9 : 5);
    for (size_t i = 0; i < n && !rc; i++) {
        series *s = order[i];
        memset(&sn, 0, sizeof sn);
        pthread_rwlock_rdlock(&db->lock);
        rc = snap_head(s, b, end - 1, &sn);
        pthread_rwlock_unlock(&db->lock);
        raw.n = 0;
        if (!rc)
            rc = snap_decode(&sn, b, end - 1, &raw);
        snap_free(&sn);
        if (rc || !raw.n)
            continue;
        rc = write_series(w[0], &s->ls, &raw, 1);
        for (int t = 1; t < TSDB_TIERS && !rc; t++) {
            for (int c = 0; c < AGG_COLS; c++)
                cols[t][c].n = 0;
            rc = aggregate(raw.v, raw.n, tier_res[t], cols[t]);
            if (!rc)
                rc = write_series(w[t], &s->ls, cols[t], AGG_COLS);
        }
        written += raw.n;
    }
    mem_free(raw.v);
    for (int t = 0; t < TSDB_TIERS; t++)
        for (int c = 0; c < AGG_COLS; c++)
            mem_free(cols[t][c].v);
    char paths[TSDB_TIERS][PATH_MAX];
    for (int t = 0; t < TSDB_TIERS; t++) {
        paths[t][0] = 0;
        if (!w[t])
            continue;
        if (rc || !written)
            block_writer_abort(w[t]);
        else
            rc = block_writer_finish(w[t], paths[t], sizeof paths[t]);
    }
    if (rc) {
        /* The samples stay in the head and in the WAL (the cut mark is taken back, so no
         * segment holding them can be deleted) and the range is tried again after a pause.
         * Log loudly: a full or failing disk is the likely cause. */
        log_error("tsdb: writing the blocks for [%lld, %lld) failed: %s; the data stays in the "
                  "head and the WAL, retrying in %d s",
                  (long long)b, (long long)end, strerror(-rc), CUT_RETRY_S);
        pthread_rwlock_wrlock(&db->lock);
        db->min_valid = old_min_valid;
        pthread_rwlock_unlock(&db->lock);
        db->ncuts = old_ncuts;
        db->cut_failed_at = timeutil_now_ms();
        mem_free(order);
        return rc;
    }
    /* Phase 2: publish, then free what the blocks now hold. */
    for (int t = 0; t < TSDB_TIERS && !rc; t++)
        if (paths[t][0] && (rc = publish(db, paths[t])))
            log_error("tsdb: cannot open the block just written (%s)", paths[t]);
    pthread_rwlock_wrlock(&db->lock);
    size_t freed = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        series *s = order[i];
        hchunk **pp = &s->closed;
        s->closed_tail = NULL;
        while (*pp) {
            hchunk *c = *pp;
            if (c->maxt < end) {
                *pp = c->next;
                freed += c->n;
                mem_free(c);
            } else {
                s->closed_tail = c;
                pp = &c->next;
            }
        }
        uint32_t k = 0;
        while (k < s->nooo && s->ooo[k].t < end)
            k++;
        if (k) {
            memmove(s->ooo, s->ooo + k, (s->nooo - k) * sizeof *s->ooo);
            s->nooo -= k;
            freed += k;
        }
    }
    db->head_samples -= freed < db->head_samples ? freed : db->head_samples;
    db->head_mint = end;
    db->cut_failed_at = 0;
    db->counters.cuts++;
    db->counters.cut_seconds += elapsed(&t0);
    pthread_rwlock_unlock(&db->lock);
    mem_free(order);
    /* Drop WAL segments whose samples are all in blocks now. */
    uint64_t drop = 0;
    size_t k = 0;
    for (size_t i = 0; i < db->ncuts; i++)
        if (db->cuts[i].maxt < db->min_valid) {
            drop = db->cuts[i].seg;
            k = i;
        }
    if (drop) {
        wal_truncate(db->w, drop);
        memmove(db->cuts, db->cuts + k, (db->ncuts - k) * sizeof *db->cuts);
        db->ncuts -= k;
    }
    log_info("tsdb: cut [%lld, %lld): %zu samples in %.2f s", (long long)b, (long long)end,
             written, elapsed(&t0));
    return rc;
}

/* Cuts every full range the head has passed (by half a range), or everything with force. */
static int cut_due(tsdb *db, int force)
{
    int rc = 0;
    if (!force && db->cut_failed_at && timeutil_now_ms() - db->cut_failed_at < CUT_RETRY_S * 1000)
        return 0;
    while (!rc) {
        if (db->head_maxt == INT64_MIN || db->head_mint == INT64_MAX)
            return 0;
        /* The oldest range still in the head: (R - block_ms, R], cut as [b, end). After a
         * flush the head's window starts inside a range: the rest of that range. */
        int64_t R = range_end(db, db->min_valid == INT64_MIN ? db->head_mint : db->min_valid);
        int64_t b = db->min_valid == INT64_MIN ? R - db->opt.block_ms + 1 : db->min_valid;
        int64_t end = R + 1;
        if (db->head_maxt < R + db->opt.block_ms / 2) {
            if (!force || db->head_maxt < b)
                return 0;
            if (db->head_maxt < R)
                end = db->head_maxt + 1;
        }
        rc = cut_range(db, b, end);
    }
    return rc;
}

/* ---- compaction and retention ------------------------------------------------------------ */

/* Merges the blocks h[0..n) of tier t (time-ordered, disjoint) into one. Caller holds wmu. */
static int compact(tsdb *db, int t, bhandle **h, size_t n)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int ncols = t ? AGG_COLS : 1, rc = 0;
    int64_t mint = h[0]->b->mint, maxt = h[n - 1]->b->maxt;
    /* The union of series ids, ordered by labels. */
    size_t cap = 0, nids = 0;
    for (size_t i = 0; i < n; i++)
        cap += h[i]->b->nentries;
    uint32_t *gids = mem_alloc((cap + 1) * sizeof *gids);
    series **ord = mem_alloc((cap + 1) * sizeof *ord);
    block_cursor *cur = mem_calloc(n, sizeof *cur);
    svec cols[AGG_COLS];
    memset(cols, 0, sizeof cols);
    block_writer *w = NULL;
    char path[PATH_MAX] = "";
    if (!gids || !ord || !cur) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < h[i]->b->nentries; j++)
            gids[nids++] = h[i]->b->entries[j].gid;
    pthread_rwlock_rdlock(&db->lock);
    size_t m = 0;
    for (size_t i = 0; i < nids; i++) {
        series *s = db->all[gids[i]];
        /* mark duplicates through a pass below */
        ord[m++] = s;
    }
    pthread_rwlock_unlock(&db->lock);
    qsort(ord, m, sizeof *ord, series_ptr_cmp);
    size_t u = 0;
    for (size_t i = 0; i < m; i++)
        if (!u || ord[u - 1] != ord[i])
            ord[u++] = ord[i];
    /* Compaction runs in the background on complete windows: it can afford stronger zstd
     * levels than a cut (the 1-hour tier's blocks, kept forever, shrink most). */
    if ((rc = block_writer_open(&w, db->blockdir, t + 1, ncols, mint, maxt, t ? 19 : 9)))
        goto out;
    for (size_t i = 0; i < u && !rc; i++) {
        for (int c = 0; c < ncols; c++)
            cols[c].n = 0;
        for (size_t k = 0; k < n && !rc; k++) {
            const block *b = h[k]->b;
            const block_entry *e = block_find(b, ord[i]->id);
            for (; e && e < b->entries + b->nentries && e->gid == ord[i]->id && !rc; e++)
                for (int c = 0; c < ncols && !rc; c++) {
                    const uint8_t *cb;
                    size_t cl;
                    rc = block_chunk(&cur[k], b, e, c, &cb, &cl);
                    if (!rc && cl)
                        rc = decode_into(cb, cl, INT64_MIN, INT64_MAX, &cols[c]);
                    if (rc > 0)
                        rc = 0;
                }
        }
        if (!rc && cols[0].n)
            rc = write_series(w, &ord[i]->ls, cols, ncols);
    }
    if (!rc) {
        rc = block_writer_finish(w, path, sizeof path);
        w = NULL;
    }
    if (!rc)
        rc = publish(db, path);
    if (!rc) {
        pthread_rwlock_wrlock(&db->lock);
        for (size_t i = 0; i < n; i++) {
            blist_remove(&db->blocks[t], h[i]);
            h[i]->doomed = 1;
        }
        db->counters.compactions++;
        db->counters.compaction_seconds += elapsed(&t0);
        pthread_rwlock_unlock(&db->lock);
        for (size_t i = 0; i < n; i++)
            bhandle_unref(db, h[i]);
        log_info("tsdb: compacted %zu blocks of tier %d into [%lld, %lld] in %.2f s", n, t,
                 (long long)mint, (long long)maxt, elapsed(&t0));
    }
out:
    block_writer_abort(w);
    if (cur)
        for (size_t i = 0; i < n; i++)
            block_cursor_free(&cur[i]);
    mem_free(cur);
    mem_free(gids);
    mem_free(ord);
    for (int c = 0; c < AGG_COLS; c++)
        mem_free(cols[c].v);
    if (rc)
        log_error("tsdb: compaction of tier %d failed: %s", t, strerror(-rc));
    return rc;
}

/* Finds one group of blocks inside an aligned window that is complete (the head is past it)
 * and compacts it. Returns 1 if it compacted something. Caller holds wmu. */
static int compact_one(tsdb *db)
{
    for (int t = 0; t < TSDB_TIERS; t++) {
        blist *l = &db->blocks[t];
        for (int lv = 0; lv < 3 && tier_spans[t][lv]; lv++) {
            int64_t span = tier_spans[t][lv];
            for (size_t i = 0; i < l->n;) {
                /* Windows (w1 - span, w1], left-open like the ranges they are made of. */
                int64_t w1 = -floor_div(-l->v[i]->b->mint, span) * span, w0 = w1 - span;
                size_t j = i;
                while (j < l->n && l->v[j]->b->maxt <= w1 && l->v[j]->b->mint > w0)
                    j++;
                if (j - i >= 2 && db->min_valid != INT64_MIN && w1 < db->min_valid) {
                    bhandle *grp[64];
                    size_t k = j - i < 64 ? j - i : 64;
                    for (size_t q = 0; q < k; q++)
                        grp[q] = l->v[i + q];
                    int rc = compact(db, t, grp, k);
                    return rc == 0;
                }
                i = j > i ? j : i + 1;
            }
        }
    }
    return 0;
}

static void retention(tsdb *db, int64_t now)
{
    for (int t = 0; t < TSDB_TIERS; t++) {
        blist *l = &db->blocks[t];
        int64_t cutoff = db->retention[t] == INT64_MAX ? INT64_MIN : now - db->retention[t];
        uint64_t total = 0;
        for (size_t i = 0; i < l->n; i++)
            total += l->v[i]->b->size;
        for (;;) {
            pthread_rwlock_wrlock(&db->lock);
            bhandle *h = NULL;
            if (l->n && (l->v[0]->b->maxt < cutoff ||
                         (db->opt.retention_bytes[t] && total > db->opt.retention_bytes[t] &&
                          l->n > 1)))
                h = l->v[0];
            if (h) {
                blist_remove(l, h);
                h->doomed = 1;
                total -= h->b->size;
                db->counters.retention_drops++;
            }
            pthread_rwlock_unlock(&db->lock);
            if (!h)
                break;
            log_info("tsdb: retention removed %s", h->b->path);
            bhandle_unref(db, h);
        }
    }
    if (!db->w) {
        /* Memory-only stores: drop head chunks past the raw retention. */
        if (db->retention[0] == INT64_MAX)
            return;
        int64_t cutoff = now - db->retention[0];
        pthread_rwlock_wrlock(&db->lock);
        for (size_t i = 0; i < db->nseries; i++) {
            series *s = db->all[i];
            while (s->closed && s->closed->maxt < cutoff) {
                hchunk *c = s->closed;
                s->closed = c->next;
                db->head_samples -= c->n;
                mem_free(c);
            }
            if (!s->closed)
                s->closed_tail = NULL;
            if (chunk_app_count(&s->open) && chunk_app_maxt(&s->open) < cutoff && !s->closed) {
                db->head_samples -= chunk_app_count(&s->open);
                chunk_app_free(&s->open);
                chunk_app_init(&s->open);
            }
            if (s->mint < cutoff)
                s->mint = cutoff;
        }
        pthread_rwlock_unlock(&db->lock);
    }
}

void tsdb_maintain(tsdb *db, int64_t now_ms)
{
    pthread_mutex_lock(&db->wmu);
    if (db->w) {
        cut_due(db, 0);
        while (compact_one(db))
            ;
        wal_sync(db->w);
    }
    retention(db, now_ms);
    pthread_mutex_unlock(&db->wmu);
}

int tsdb_has_background(const tsdb *db)
{
    return db->thread_on;
}

int tsdb_flush(tsdb *db)
{
    if (!db->w)
        return 0;
    pthread_mutex_lock(&db->wmu);
    int rc = cut_due(db, 1);
    while (!rc && compact_one(db))
        ;
    pthread_mutex_unlock(&db->wmu);
    return rc;
}

static void *bg_main(void *arg)
{
    tsdb *db = arg;
    int64_t last_full = 0;
    pthread_mutex_lock(&db->tmu);
    while (!db->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&db->tcond, &db->tmu, &ts);
        if (db->stopping)
            break;
        pthread_mutex_unlock(&db->tmu);
        pthread_mutex_lock(&db->wmu);
        cut_due(db, 0);
        int fd = -1;
        wal_sync_begin(db->w, &fd);
        pthread_mutex_unlock(&db->wmu);
        if (fd >= 0) {
            /* The disk may take a while: writers keep going meanwhile. */
            int rc = fdatasync(fd) ? -errno : 0;
            pthread_mutex_lock(&db->wmu);
            wal_sync_end(db->w, fd, rc);
            pthread_mutex_unlock(&db->wmu);
        }
        int64_t now = timeutil_now_ms();
        if (now - last_full >= 30000) {
            last_full = now;
            tsdb_maintain(db, now);
        }
        pthread_mutex_lock(&db->tmu);
    }
    pthread_mutex_unlock(&db->tmu);
    return NULL;
}

/* ---- stats -------------------------------------------------------------------------------- */

void tsdb_get_stats(tsdb *db, tsdb_stats *st)
{
    pthread_rwlock_rdlock(&db->lock);
    *st = db->counters;
    st->series = db->nseries;
    st->samples = db->head_samples;
    st->head_min_valid = db->min_valid;
    uint64_t hb = 0;
    for (size_t i = 0; i < db->nseries; i++) {
        const series *s = db->all[i];
        for (const hchunk *c = s->closed; c; c = c->next)
            hb += c->len;
        hb += chunk_app_memory(&s->open);
        st->head_series += s->closed || chunk_app_count(&s->open) || s->nooo;
    }
    st->head_bytes = hb;
    st->min_time = INT64_MAX;
    st->max_time = INT64_MIN;
    if (db->head_mint != INT64_MAX && db->head_samples) {
        st->min_time = db->head_mint;
        st->max_time = db->head_maxt;
    }
    for (int t = 0; t < TSDB_TIERS; t++) {
        tsdb_tier_stats *ts = &st->tier[t];
        const blist *l = &db->blocks[t];
        memset(ts, 0, sizeof *ts);
        ts->min_time = INT64_MAX;
        ts->max_time = INT64_MIN;
        ts->blocks = l->n;
        for (size_t i = 0; i < l->n; i++) {
            ts->bytes += l->v[i]->b->size;
            ts->samples += l->v[i]->b->samples;
            if (l->v[i]->b->mint < ts->min_time)
                ts->min_time = l->v[i]->b->mint;
            if (l->v[i]->b->maxt > ts->max_time)
                ts->max_time = l->v[i]->b->maxt;
        }
        if (t == 0 && l->n) {
            if (ts->min_time < st->min_time)
                st->min_time = ts->min_time;
            if (ts->max_time > st->max_time)
                st->max_time = ts->max_time;
        }
    }
    pthread_rwlock_unlock(&db->lock);
    size_t cb;
    block_cache_stats(db->cache, &st->cache_hits, &st->cache_misses, &cb);
    st->cache_bytes = cb;
    pthread_mutex_lock(&db->wmu);
    if (db->w) {
        st->wal_bytes = wal_size(db->w);
        st->wal_segments = wal_segments(db->w);
    }
    pthread_mutex_unlock(&db->wmu);
}
