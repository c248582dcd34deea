/* eval: the evaluation driver, selectors, subqueries and function calls.
 *
 * Every node is evaluated over all steps of the current range at once. Selectors select the
 * series once over the whole window the range needs and walk each series' samples step by
 * step. Operators (binop.c) and aggregations (agg.c) build the instant vector of each step
 * and write their results into a sink keyed by label set, so the work per step is
 * proportional to the series present at that step. Range functions read a "raw matrix" (a
 * selector's samples, or a subquery's points) and apply a kernel from func.c to each
 * series' window (t - range, t] at every step.
 *
 * Memory: every sample held (loaded from the store, or computed) is counted against
 * max_samples; labels live in one arena per evaluation that the result keeps. */
#include "eval_int.h"

#include "../lib/mem.h"
#include "../lib/timeutil.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_LOOKBACK (5 * 60 * 1000)
#define DEFAULT_MAX_SAMPLES 50000000
#define DEFAULT_TIMEOUT (2 * 60 * 1000)
#define DEFAULT_STEP (60 * 1000)
#define MAX_ANNOTATIONS 10

/* ---- arena ---------------------------------------------------------------------------------- */

struct pq_chunk {
    pq_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

void *pq_arena_alloc(pq_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (!a->head || a->head->cap - a->head->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        pq_chunk *ch = mem_alloc(sizeof *ch + cap);
        if (!ch)
            return NULL;
        ch->next = a->head;
        ch->used = 0;
        ch->cap = cap;
        a->head = ch;
        a->bytes += cap;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += n;
    return p;
}

void pq_arena_free(pq_arena *a)
{
    pq_chunk *ch = a->head;
    while (ch) {
        pq_chunk *next = ch->next;
        mem_free(ch);
        ch = next;
    }
    a->head = NULL;
    a->bytes = 0;
}

/* ---- map ------------------------------------------------------------------------------------ */

static int map_grow(pq_map *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    uint64_t *keys = mem_alloc(ncap * sizeof *keys);
    size_t *vals = mem_alloc(ncap * sizeof *vals);
    unsigned char *used = mem_calloc(ncap, 1);
    if (!keys || !vals || !used) {
        mem_free(keys);
        mem_free(vals);
        mem_free(used);
        return -ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->used[i])
            continue;
        size_t h = (size_t)(m->keys[i] * 0x9E3779B97F4A7C15ULL >> 7) & (ncap - 1);
        while (used[h])
            h = (h + 1) & (ncap - 1);
        used[h] = 1;
        keys[h] = m->keys[i];
        vals[h] = m->vals[i];
    }
    mem_free(m->keys);
    mem_free(m->vals);
    mem_free(m->used);
    m->keys = keys;
    m->vals = vals;
    m->used = used;
    m->cap = ncap;
    return 0;
}

int pq_map_put(pq_map *m, uint64_t key, size_t val)
{
    if ((m->n + 1) * 2 > m->cap && map_grow(m))
        return -ENOMEM;
    size_t h = (size_t)(key * 0x9E3779B97F4A7C15ULL >> 7) & (m->cap - 1);
    while (m->used[h])
        h = (h + 1) & (m->cap - 1);
    m->used[h] = 1;
    m->keys[h] = key;
    m->vals[h] = val;
    m->n++;
    return 0;
}

int pq_map_next(const pq_map *m, uint64_t key, size_t *it, size_t *val)
{
    if (!m->cap)
        return 0;
    size_t h = (size_t)(key * 0x9E3779B97F4A7C15ULL >> 7) & (m->cap - 1);
    h = (h + *it) & (m->cap - 1);
    while (m->used[h]) {
        (*it)++;
        if (m->keys[h] == key) {
            *val = m->vals[h];
            return 1;
        }
        h = (h + 1) & (m->cap - 1);
    }
    return 0;
}

void pq_map_free(pq_map *m)
{
    mem_free(m->keys);
    mem_free(m->vals);
    mem_free(m->used);
    memset(m, 0, sizeof *m);
}

/* ---- context helpers ------------------------------------------------------------------------ */

int pq_errorf(pq_ctx *c, int rc, const char *fmt, ...)
{
    if (c->err[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static void pos_str(const char *q, int pos, char *out, size_t cap)
{
    int line = 1, col = 1;
    for (int i = 0; q && i < pos && q[i]; i++) {
        if (q[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    snprintf(out, cap, " (%d:%d)", line, col);
}

void pq_annotate(pq_ctx *c, int info, int pos, const char *fmt, ...)
{
    char msg[512], where[32] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (pos >= 0 && c->query)
        pos_str(c->query, pos, where, sizeof where);
    char full[560];
    snprintf(full, sizeof full, "%s%s", msg, where);
    char ***list = info ? &c->infos : &c->warnings;
    size_t *n = info ? &c->ninfos : &c->nwarnings;
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*list)[i], full) == 0)
            return;
    if (*n >= MAX_ANNOTATIONS)
        return;
    char **v = mem_realloc(*list, (*n + 1) * sizeof *v);
    if (!v)
        return;
    *list = v;
    if ((v[*n] = mem_strdup(full)))
        (*n)++;
}

const char *pq_fmt_g(double v, char *out, size_t cap)
{
    if (isnan(v))
        snprintf(out, cap, "NaN");
    else if (isinf(v))
        snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
    else
        snprintf(out, cap, "%g", v);
    return out;
}

int pq_tick(pq_ctx *c)
{
    if ((++c->ticks & 1023) == 0 && timeutil_mono_ms() > c->deadline)
        return pq_errorf(c, -ETIMEDOUT, "query timed out in expression evaluation");
    return 0;
}

int pq_account(pq_ctx *c, size_t n)
{
    c->samples += n;
    if (c->samples > c->peak)
        c->peak = c->samples;
    if (c->samples > c->o.max_samples)
        return pq_errorf(c, -E2BIG,
                         "query processing would load too many samples into memory "
                         "in query execution");
    return pq_tick(c);
}

int64_t pq_step_time(const pq_ctx *c, size_t k)
{
    return c->start + (int64_t)k * c->step;
}

void pq_value_free(pq_ctx *c, pq_value *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->ns; i++) {
        c->samples -= v->s[i].n <= c->samples ? v->s[i].n : c->samples;
        mem_free(v->s[i].pts);
    }
    mem_free(v->s);
    if (v->scalar) {
        c->samples -= c->nsteps <= c->samples ? c->nsteps : c->samples;
        mem_free(v->scalar);
    }
    memset(v, 0, sizeof *v);
}

char *pq_strdup(pq_ctx *c, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = pq_arena_alloc(&c->arena, n);
    if (d)
        memcpy(d, s, n);
    return d;
}

const labels *pq_labels_dup(pq_ctx *c, const labels *ls)
{
    size_t bytes = sizeof(labels) + ls->n * sizeof(label);
    for (size_t i = 0; i < ls->n; i++)
        bytes += strlen(ls->v[i].name) + strlen(ls->v[i].value) + 2;
    unsigned char *p = pq_arena_alloc(&c->arena, bytes);
    if (!p)
        return NULL;
    labels *out = (labels *)p;
    out->v = (label *)(p + sizeof(labels));
    out->n = ls->n;
    char *s = (char *)(out->v + ls->n);
    for (size_t i = 0; i < ls->n; i++) {
        size_t a = strlen(ls->v[i].name) + 1, b = strlen(ls->v[i].value) + 1;
        memcpy(s, ls->v[i].name, a);
        out->v[i].name = s;
        s += a;
        memcpy(s, ls->v[i].value, b);
        out->v[i].value = s;
        s += b;
    }
    return out;
}

/* ---- label building ------------------------------------------------------------------------- */

void pq_lb_init(pq_lb *b, const labels *ls)
{
    b->n = 0;
    for (size_t i = 0; ls && i < ls->n && b->n < sizeof b->v / sizeof b->v[0]; i++)
        b->v[b->n++] = ls->v[i];
}

void pq_lb_del(pq_lb *b, const char *name)
{
    for (size_t i = 0; i < b->n; i++) {
        if (strcmp(b->v[i].name, name) == 0) {
            memmove(&b->v[i], &b->v[i + 1], (b->n - i - 1) * sizeof b->v[0]);
            b->n--;
            return;
        }
    }
}

void pq_lb_set(pq_lb *b, const char *name, const char *value)
{
    if (!value || !*value) {
        pq_lb_del(b, name);
        return;
    }
    size_t i = 0;
    while (i < b->n && strcmp(b->v[i].name, name) < 0)
        i++;
    if (i < b->n && strcmp(b->v[i].name, name) == 0) {
        b->v[i].value = value;
        return;
    }
    if (b->n >= sizeof b->v / sizeof b->v[0])
        return;
    memmove(&b->v[i + 1], &b->v[i], (b->n - i) * sizeof b->v[0]);
    b->v[i].name = name;
    b->v[i].value = value;
    b->n++;
}

void pq_lb_keep(pq_lb *b, char *const *names, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++) {
        int keep = 0;
        for (size_t j = 0; j < n && !keep; j++)
            keep = strcmp(b->v[i].name, names[j]) == 0;
        if (keep)
            b->v[k++] = b->v[i];
    }
    b->n = k;
}

const char *pq_lb_get(const pq_lb *b, const char *name)
{
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->v[i].name, name) == 0)
            return b->v[i].value;
    return NULL;
}

labels pq_lb_view(pq_lb *b)
{
    labels l = {b->v, b->n};
    return l;
}

static int name_in(const char *name, char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, names[i]) == 0)
            return 1;
    return 0;
}

uint64_t pq_signature(const labels *ls, char *const *names, size_t n, int on)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < ls->n; i++) {
        const char *nm = ls->v[i].name;
        int in = name_in(nm, names, n);
        if (on ? !in : (in || strcmp(nm, LABELS_NAME) == 0))
            continue;
        for (const unsigned char *p = (const unsigned char *)nm; *p; p++)
            h = (h ^ *p) * 1099511628211ULL;
        h = (h ^ 0xff) * 1099511628211ULL;
        for (const unsigned char *p = (const unsigned char *)ls->v[i].value; *p; p++)
            h = (h ^ *p) * 1099511628211ULL;
        h = (h ^ 0xfe) * 1099511628211ULL;
    }
    return h;
}

/* ---- sinks ---------------------------------------------------------------------------------- */

int pq_sink_find(pq_ctx *c, pq_sink *s, const labels *ls, size_t *idx)
{
    uint64_t h = labels_hash(ls);
    size_t it = 0, v;
    while (pq_map_next(&s->map, h, &it, &v)) {
        if (labels_cmp(s->s[v].ls, ls) == 0) {
            *idx = v;
            return 0;
        }
    }
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 16;
        pq_series *ns = mem_realloc(s->s, nc * sizeof *ns);
        if (!ns)
            return pq_errorf(c, -ENOMEM, "out of memory");
        s->s = ns;
        s->cap = nc;
    }
    const labels *copy = pq_labels_dup(c, ls);
    if (!copy || pq_map_put(&s->map, h, s->n))
        return pq_errorf(c, -ENOMEM, "out of memory");
    memset(&s->s[s->n], 0, sizeof s->s[0]);
    s->s[s->n].ls = copy;
    *idx = s->n++;
    return 0;
}

int pq_sink_append(pq_ctx *c, pq_sink *s, size_t idx, int64_t t, double v)
{
    pq_series *se = &s->s[idx];
    if (se->n && se->pts[se->n - 1].t == t)
        return pq_errorf(c, -EDOM, "vector cannot contain metrics with the same labelset");
    if (se->n == se->cap) {
        size_t nc = se->cap ? se->cap * 2 : 4;
        if (nc > c->nsteps && se->cap < c->nsteps)
            nc = c->nsteps;
        sample *np = mem_realloc(se->pts, nc * sizeof *np);
        if (!np)
            return pq_errorf(c, -ENOMEM, "out of memory");
        se->pts = np;
        se->cap = nc;
    }
    se->pts[se->n].t = t;
    se->pts[se->n].v = v;
    se->n++;
    return pq_account(c, 1);
}

int pq_sink_add(pq_ctx *c, pq_sink *s, const labels *ls, int64_t t, double v)
{
    size_t idx;
    int rc = pq_sink_find(c, s, ls, &idx);
    return rc ? rc : pq_sink_append(c, s, idx, t, v);
}

void pq_sink_to_value(pq_sink *s, pq_value *out)
{
    memset(out, 0, sizeof *out);
    out->type = PROMQL_T_VECTOR;
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->s[i].n)
            s->s[k++] = s->s[i];
        else
            mem_free(s->s[i].pts);
    }
    out->s = s->s;
    out->ns = k;
    s->s = NULL;
    s->n = s->cap = 0;
    pq_map_free(&s->map);
}

void pq_sink_free(pq_ctx *c, pq_sink *s)
{
    for (size_t i = 0; i < s->n; i++) {
        c->samples -= s->s[i].n <= c->samples ? s->s[i].n : c->samples;
        mem_free(s->s[i].pts);
    }
    mem_free(s->s);
    pq_map_free(&s->map);
    memset(s, 0, sizeof *s);
}

void pq_reset_cursors(pq_value *v)
{
    for (size_t i = 0; i < v->ns; i++)
        v->s[i].cur = 0;
}

int pq_vector_at(pq_ctx *c, pq_value *v, size_t k, pq_elem **out, size_t *cap, size_t *n)
{
    int64_t ts = pq_step_time(c, k);
    *n = 0;
    int rc = pq_tick(c);
    if (rc)
        return rc;
    for (size_t i = 0; i < v->ns; i++) {
        pq_series *s = &v->s[i];
        while (s->cur < s->n && s->pts[s->cur].t < ts)
            s->cur++;
        if (s->cur >= s->n || s->pts[s->cur].t != ts)
            continue;
        if (*n == *cap) {
            size_t nc = *cap ? *cap * 2 : 64;
            pq_elem *ne = mem_realloc(*out, nc * sizeof *ne);
            if (!ne)
                return pq_errorf(c, -ENOMEM, "out of memory");
            *out = ne;
            *cap = nc;
        }
        (*out)[*n].ls = s->ls;
        (*out)[*n].v = s->pts[s->cur].v;
        (*out)[*n].src = i;
        (*n)++;
    }
    return 0;
}

/* ---- selectors ------------------------------------------------------------------------------ */

static int tsdb_select_cb(void *ctx, const tsdb_matcher *ms, size_t nm, int64_t mint, int64_t maxt,
                          const tsdb_select_opts *opts, tsdb_series_set **out)
{
    return tsdb_select(ctx, ms, nm, mint, maxt, opts, out);
}

promql_querier promql_querier_tsdb(tsdb *db)
{
    promql_querier q = {tsdb_select_cb, db};
    return q;
}

const char *promql_type_name(promql_type t)
{
    switch (t) {
    case PROMQL_T_SCALAR:
        return "scalar";
    case PROMQL_T_STRING:
        return "string";
    case PROMQL_T_VECTOR:
        return "vector";
    case PROMQL_T_MATRIX:
        return "matrix";
    }
    return "unknown";
}

/* The evaluation time of a selector or subquery at step time t: `@` pins it, then `offset`
 * shifts it. */
static int64_t node_time(const pq_ctx *c, const promql_expr *e, int64_t t)
{
    switch (e->at) {
    case PROMQL_AT_TIME:
        t = e->at_ms;
        break;
    case PROMQL_AT_START:
        t = c->qstart;
        break;
    case PROMQL_AT_END:
        t = c->qend;
        break;
    case PROMQL_AT_NONE:
        break;
    }
    return t - e->offset_ms;
}

/* Chooses what a selector reads. Automatically a tier is used only where it gives exactly the
 * raw answer (docs/promql.md): in a range query whose evaluation times for this selector (the
 * steps shifted by offset, or the @ time) are all multiples of the tier's resolution R, for
 *   - an instant selector (exact = 1, window < 0): the newest tier point at or before an aligned
 *     T is the newest raw sample there, because a point covers (kR - R, kR] and carries the
 *     time of its last sample;
 *   - min/max/sum/count/last/present_over_time (exact = 1) over a range that is a multiple of
 *     R: the window is then made of whole buckets.
 * Everything else (rate, deriv, quantiles, subqueries' inner selectors at unaligned times...)
 * reads raw samples. A forced tier (promql_opts.tier) wins. */
static void tier_opts(const pq_ctx *c, const promql_expr *e, tsdb_select_opts *so,
                      int64_t window, tsdb_agg agg, int exact)
{
    so->agg = agg;
    if (c->o.tier != TSDB_TIER_AUTO) {
        so->tier = c->o.tier;
        return;
    }
    so->tier = TSDB_TIER_AUTO;
    so->max_resolution_ms = 0;
    if (!exact || !c->range_query)
        return;
    static const int64_t res[] = {3600000, 60000};
    int64_t t0 = node_time(c, e, c->start);
    int pinned = e->at != PROMQL_AT_NONE;
    for (size_t i = 0; i < sizeof res / sizeof res[0]; i++) {
        int64_t r = res[i];
        if (t0 % r != 0 || (!pinned && (c->step % r != 0 || c->step < r)))
            continue;
        if (window >= 0 && (window % r != 0 || window < r))
            continue;
        so->max_resolution_ms = r;
        return;
    }
}

static int select_series(pq_ctx *c, const promql_expr *e, int64_t mint, int64_t maxt,
                         const tsdb_select_opts *so, tsdb_series_set **out)
{
    tsdb_select_opts o = *so;
    o.max_samples = c->o.max_samples > c->samples ? c->o.max_samples - c->samples : 1;
    int rc = c->q->select(c->q->ctx, e->matchers, e->nmatchers, mint, maxt, &o, out);
    if (rc == -E2BIG)
        return pq_errorf(c, rc,
                         "query processing would load too many samples into memory in "
                         "query execution");
    if (rc == -ENOMEM)
        return pq_errorf(c, rc, "out of memory");
    if (rc)
        return pq_errorf(c, -EDOM, "storage error (%d)", rc);
    return 0;
}

/* Evaluates a vector selector at every step. want_ts: values are the samples' timestamps in
 * seconds (timestamp() of a selector). */
static int eval_vector_selector(pq_ctx *c, const promql_expr *e, int want_ts, pq_value *out)
{
    int64_t first = node_time(c, e, c->start), last = node_time(c, e, c->end);
    int64_t lo = first < last ? first : last, hi = first < last ? last : first;
    tsdb_select_opts so = {0};
    tier_opts(c, e, &so, -1, TSDB_AGG_LAST, 1);
    tsdb_series_set *set = NULL;
    int rc = select_series(c, e, lo - c->o.lookback_ms + 1, hi, &so, &set);
    if (rc)
        return rc;
    memset(out, 0, sizeof *out);
    out->type = PROMQL_T_VECTOR;
    out->s = mem_calloc(tsdb_set_count(set) + 1, sizeof *out->s);
    if (!out->s) {
        tsdb_set_free(set);
        return pq_errorf(c, -ENOMEM, "out of memory");
    }
    const labels *ls;
    const sample *s;
    size_t n;
    int pinned = e->at != PROMQL_AT_NONE;
    while (!rc && tsdb_set_next(set, &ls, &s, &n)) {
        if ((rc = pq_account(c, n)))
            break;
        sample *pts = NULL;
        size_t np = 0, cur = 0, ncap = 0;
        /* Only the steps that can see a sample: from the first step at or after the first
         * sample to the last step inside the last sample's lookback (a long range over a short
         * series must not cost a loop and an allocation per step). */
        size_t k0 = 0, k1 = c->nsteps;
        if (!pinned && n && c->step > 0) {
            int64_t shift = node_time(c, e, c->start) - c->start; /* -offset */
            int64_t first = s[0].t - shift, last = s[n - 1].t - shift + c->o.lookback_ms;
            if (first > c->start)
                k0 = (size_t)((first - c->start + c->step - 1) / c->step);
            if (last <= c->start)
                k1 = 0;
            else if ((last - c->start - 1) / c->step + 1 < (int64_t)c->nsteps)
                k1 = (size_t)((last - c->start - 1) / c->step + 1);
        }
        for (size_t k = k0; k < k1; k++) {
            int64_t at = node_time(c, e, pq_step_time(c, k));
            if ((rc = pq_tick(c)))
                break;
            if (pinned) {
                /* The same instant at every step: binary search once per step. */
                size_t a = 0, b = n;
                while (a < b) {
                    size_t m = (a + b) / 2;
                    if (s[m].t <= at)
                        a = m + 1;
                    else
                        b = m;
                }
                cur = a;
            } else {
                while (cur < n && s[cur].t <= at)
                    cur++;
            }
            if (cur == 0 || s[cur - 1].t <= at - c->o.lookback_ms || sample_is_stale(s[cur - 1].v))
                continue;
            if (!pts) {
                ncap = k1 - k;
                pts = mem_alloc(ncap * sizeof *pts);
                if (!pts) {
                    rc = pq_errorf(c, -ENOMEM, "out of memory");
                    break;
                }
            }
            pts[np].t = pq_step_time(c, k);
            pts[np].v = want_ts ? (double)s[cur - 1].t / 1000.0 : s[cur - 1].v;
            np++;
        }
        c->samples -= n;
        if (rc || !np) {
            mem_free(pts);
            continue;
        }
        const labels *copy = pq_labels_dup(c, ls);
        if (!copy) {
            mem_free(pts);
            rc = pq_errorf(c, -ENOMEM, "out of memory");
            break;
        }
        out->s[out->ns].ls = copy;
        out->s[out->ns].pts = pts;
        out->s[out->ns].n = np;
        out->s[out->ns].cap = ncap;
        out->ns++;
        rc = pq_account(c, np);
    }
    tsdb_set_free(set);
    return rc;
}

/* A raw matrix: a range selector's samples or a subquery's points, per series, over the whole
 * span the current range needs, with the window parameters. */
typedef struct pq_matrix {
    pq_value v;              /* series with ascending samples (stale markers removed) */
    const promql_expr *node; /* the selector or subquery (offset, @, range) */
    int64_t range;
    int tier_read;           /* the points are tier points, not raw samples */
} pq_matrix;

static int load_matrix_selector(pq_ctx *c, const promql_expr *e, tsdb_agg agg, pq_matrix *m)
{
    int64_t first = node_time(c, e, c->start), last = node_time(c, e, c->end);
    int64_t lo = first < last ? first : last, hi = first < last ? last : first;
    tsdb_select_opts so = {0};
    tier_opts(c, e, &so, e->range_ms, agg, c->tier_exact);
    m->tier_read = so.tier == TSDB_TIER_1M || so.tier == TSDB_TIER_1H ||
                   (so.tier == TSDB_TIER_AUTO && so.max_resolution_ms >= 60000);
    tsdb_series_set *set = NULL;
    int rc = select_series(c, e, lo - e->range_ms + 1, hi, &so, &set);
    if (rc)
        return rc;
    m->v.type = PROMQL_T_MATRIX;
    m->v.s = mem_calloc(tsdb_set_count(set) + 1, sizeof *m->v.s);
    if (!m->v.s) {
        tsdb_set_free(set);
        return pq_errorf(c, -ENOMEM, "out of memory");
    }
    const labels *ls;
    const sample *s;
    size_t n;
    while (!rc && tsdb_set_next(set, &ls, &s, &n)) {
        sample *pts = mem_alloc((n + 1) * sizeof *pts);
        const labels *copy = pq_labels_dup(c, ls);
        if (!pts || !copy) {
            mem_free(pts);
            rc = pq_errorf(c, -ENOMEM, "out of memory");
            break;
        }
        size_t np = 0;
        for (size_t i = 0; i < n; i++)
            if (!sample_is_stale(s[i].v))
                pts[np++] = s[i];
        m->v.s[m->v.ns].ls = copy;
        m->v.s[m->v.ns].pts = pts;
        m->v.s[m->v.ns].n = np;
        m->v.ns++;
        rc = pq_account(c, np);
    }
    tsdb_set_free(set);
    return rc;
}

static int load_subquery(pq_ctx *c, const promql_expr *e, pq_matrix *m)
{
    int64_t step = e->step_ms ? e->step_ms : c->o.default_step_ms;
    int64_t first = node_time(c, e, c->start), last = node_time(c, e, c->end);
    int64_t lo = first < last ? first : last, hi = first < last ? last : first;
    /* The first multiple of step after lo - range (C division truncates like Go's). */
    int64_t s0 = step * ((lo - e->range_ms) / step);
    if (s0 <= lo - e->range_ms)
        s0 += step;
    m->v.type = PROMQL_T_MATRIX;
    if (s0 > hi)
        return 0;
    if ((uint64_t)((hi - s0) / step) >= (uint64_t)c->o.max_samples)
        return pq_errorf(c, -E2BIG,
                         "query processing would load too many samples into memory "
                         "in query execution");
    pq_ctx saved = *c;
    c->start = s0;
    c->end = hi;
    c->step = step;
    c->nsteps = (size_t)((hi - s0) / step) + 1;
    pq_value inner = {0};
    int rc = pq_eval(c, e->lhs, &inner);
    /* Restore the outer range; keep the shared state (arena, counters, annotations). */
    saved.arena = c->arena;
    saved.samples = c->samples;
    saved.peak = c->peak;
    saved.ticks = c->ticks;
    saved.warnings = c->warnings;
    saved.infos = c->infos;
    saved.nwarnings = c->nwarnings;
    saved.ninfos = c->ninfos;
    size_t inner_steps = c->nsteps;
    *c = saved;
    if (rc) {
        /* Free with the inner step count so the accounting stays right. */
        size_t outer = c->nsteps;
        c->nsteps = inner_steps;
        pq_value_free(c, &inner);
        c->nsteps = outer;
        return rc;
    }
    m->v.s = inner.s;
    m->v.ns = inner.ns;
    return 0;
}

static int load_matrix(pq_ctx *c, const promql_expr *e, tsdb_agg agg, pq_matrix *m)
{
    memset(m, 0, sizeof *m);
    while (e->type == PROMQL_PAREN)
        e = e->lhs;
    m->node = e;
    m->range = e->range_ms;
    if (e->type == PROMQL_MATRIX_SELECTOR)
        return load_matrix_selector(c, e, agg, m);
    if (e->type == PROMQL_SUBQUERY)
        return load_subquery(c, e, m);
    return pq_errorf(c, -EINVAL, "expected a range vector");
}

/* The samples of series s in the window (end - range, end]: [*lo, *hi). */
static void window(const pq_series *s, int64_t start, int64_t end, size_t *lo, size_t *hi)
{
    size_t a = 0, b = s->n;
    while (a < b) {
        size_t m = (a + b) / 2;
        if (s->pts[m].t <= start)
            a = m + 1;
        else
            b = m;
    }
    *lo = a;
    b = s->n;
    while (a < b) {
        size_t m = (a + b) / 2;
        if (s->pts[m].t <= end)
            a = m + 1;
        else
            b = m;
    }
    *hi = a;
}

/* ---- scalars -------------------------------------------------------------------------------- */

static int new_scalar(pq_ctx *c, pq_value *out)
{
    memset(out, 0, sizeof *out);
    if (c->nsteps > c->o.max_samples)
        return pq_account(c, c->nsteps);
    out->type = PROMQL_T_SCALAR;
    out->scalar = mem_alloc((c->nsteps + 1) * sizeof(double));
    if (!out->scalar)
        return pq_errorf(c, -ENOMEM, "out of memory");
    return pq_account(c, c->nsteps);
}

/* Evaluates a scalar-typed argument. */
static int eval_scalar(pq_ctx *c, const promql_expr *e, pq_value *out)
{
    int rc = pq_eval(c, e, out);
    if (!rc && out->type != PROMQL_T_SCALAR) {
        pq_value_free(c, out);
        return pq_errorf(c, -EINVAL, "expected a scalar");
    }
    return rc;
}

/* ---- functions ------------------------------------------------------------------------------ */

static int has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* The output series of a result over input labels ls (the name dropped when asked). */
/* Ends a result: the sink becomes out when rc is 0, else it is freed. Returns rc. */
int pq_sink_finish(pq_ctx *c, pq_sink *sink, int rc, pq_value *out)
{
    if (rc)
        pq_sink_free(c, sink);
    else
        pq_sink_to_value(sink, out);
    return rc;
}

int pq_out_idx(pq_ctx *c, pq_sink *sink, const labels *ls, int drop, size_t *idx)
{
    pq_lb b;
    pq_lb_init(&b, ls);
    if (drop)
        pq_lb_del(&b, LABELS_NAME);
    labels v = pq_lb_view(&b);
    return pq_sink_find(c, sink, &v, idx);
}

static int eval_range_func(pq_ctx *c, const promql_expr *e, pq_value *out)
{
    const promql_func *f = e->func;
    const promql_expr *marg = NULL;
    pq_value sargs[4] = {{0}};
    size_t nsargs = 0;
    int rc = 0;
    for (size_t i = 0; i < e->nargs; i++) {
        if (e->args[i]->vtype == PROMQL_T_MATRIX && !marg)
            marg = e->args[i];
        else if (nsargs < 4 && (rc = eval_scalar(c, e->args[i], &sargs[nsargs++])))
            goto out;
    }
    tsdb_agg agg = TSDB_AGG_LAST;
    promql_range_kernel kernel = f->range;
    /* Functions a tier answers exactly from its aggregates (see tier_opts). */
    int exact = 1;
    if (strcmp(f->name, "min_over_time") == 0)
        agg = TSDB_AGG_MIN;
    else if (strcmp(f->name, "max_over_time") == 0)
        agg = TSDB_AGG_MAX;
    else if (strcmp(f->name, "sum_over_time") == 0)
        agg = TSDB_AGG_SUM;
    else if (strcmp(f->name, "count_over_time") == 0) {
        /* Tier points hold counts: the window's count is their sum. (Raw reads ignore agg;
         * the kernel is switched below only if a tier is read.) */
        agg = TSDB_AGG_COUNT;
    } else if (strcmp(f->name, "last_over_time") != 0 &&
               strcmp(f->name, "present_over_time") != 0)
        exact = 0;
    c->tier_exact = exact;
    pq_matrix m;
    rc = load_matrix(c, marg, agg, &m);
    c->tier_exact = 0;
    if (rc)
        goto out_m;
    if (agg == TSDB_AGG_COUNT && m.tier_read)
        kernel = promql_func_lookup("sum_over_time", 13)->range;
    {
        pq_sink sink = {0};
        size_t *idx = mem_alloc((m.v.ns + 1) * sizeof *idx);
        if (!idx) {
            rc = pq_errorf(c, -ENOMEM, "out of memory");
            goto out_m;
        }
        size_t *wlo = mem_calloc(m.v.ns + 1, sizeof *wlo);
        size_t *whi = mem_calloc(m.v.ns + 1, sizeof *whi);
        if (!wlo || !whi) {
            mem_free(wlo);
            mem_free(whi);
            mem_free(idx);
            rc = pq_errorf(c, -ENOMEM, "out of memory");
            goto out_m;
        }
        /* Per series, the steps whose window can hold a sample: a long range over short
         * series must not cost a window and a kernel call per step. */
        size_t *kf = mem_alloc((m.v.ns + 1) * sizeof *kf), *kl = mem_alloc((m.v.ns + 1) * sizeof *kl);
        if (!kf || !kl) {
            mem_free(kf);
            mem_free(kl);
            mem_free(wlo);
            mem_free(whi);
            mem_free(idx);
            rc = pq_errorf(c, -ENOMEM, "out of memory");
            goto out_m;
        }
        int pinned_w = m.node->at != PROMQL_AT_NONE;
        int64_t shift = node_time(c, m.node, c->start) - c->start;
        for (size_t i = 0; i < m.v.ns; i++) {
            const pq_series *sr = &m.v.s[i];
            kf[i] = 0;
            kl[i] = c->nsteps ? c->nsteps - 1 : 0;
            if (pinned_w || !sr->n || c->step <= 0)
                continue;
            int64_t first = sr->pts[0].t - shift;             /* step time whose end reaches it */
            int64_t last = sr->pts[sr->n - 1].t - shift + m.range; /* last step time with it */
            if (first > c->start)
                kf[i] = (size_t)((first - c->start + c->step - 1) / c->step);
            if (last <= c->start)
                kl[i] = 0, kf[i] = 1; /* empty */
            else if ((last - c->start - 1) / c->step < (int64_t)kl[i])
                kl[i] = (size_t)((last - c->start - 1) / c->step);
        }
        for (size_t i = 0; i < m.v.ns; i++)
            idx[i] = SIZE_MAX;
        int counter_check = strcmp(f->name, "rate") == 0 || strcmp(f->name, "increase") == 0;
        int smoothing = f->range == promql_func_lookup("holt_winters", 12)->range;
        for (size_t k = 0; !rc && k < c->nsteps; k++) {
            int64_t ts = pq_step_time(c, k);
            int64_t end = node_time(c, m.node, ts), start = end - m.range;
            double a[4];
            if ((rc = pq_tick(c)))
                break;
            for (size_t j = 0; j < nsargs; j++)
                a[j] = sargs[j].scalar[k];
            if (smoothing && m.v.ns && nsargs == 2) {
                if (!(a[0] > 0 && a[0] < 1)) {
                    rc = pq_errorf(c, -EDOM,
                                   "invalid smoothing factor. Expected: 0 < sf < 1, "
                                   "got: %f",
                                   a[0]);
                    break;
                }
                if (!(a[1] > 0 && a[1] < 1)) {
                    rc = pq_errorf(c, -EDOM, "invalid trend factor. Expected: 0 < tf < 1, got: %f",
                                   a[1]);
                    break;
                }
            }
            for (size_t i = 0; !rc && i < m.v.ns; i++) {
                /* Windows only move forward with the steps: advance two cursors instead of
                 * searching (steps are ascending; an @-pinned window stays put). */
                if (k < kf[i] || k > kl[i])
                    continue;
                const pq_series *sr = &m.v.s[i];
                size_t lo = wlo[i], hi = whi[i];
                if (k == kf[i])
                    window(sr, start, end, &lo, &hi);
                else {
                    while (lo < sr->n && sr->pts[lo].t <= start)
                        lo++;
                    if (hi < lo)
                        hi = lo;
                    while (hi < sr->n && sr->pts[hi].t <= end)
                        hi++;
                }
                wlo[i] = lo;
                whi[i] = hi;
                double v;
                if (!kernel(sr->pts + lo, hi - lo, start, end, a, nsargs, &v))
                    continue;
                int first = idx[i] == SIZE_MAX;
                if (first && (rc = pq_out_idx(c, &sink, m.v.s[i].ls, f->drops_name, &idx[i])))
                    break;
                if (counter_check && first) {
                    const char *name = labels_get(m.v.s[i].ls, LABELS_NAME);
                    if (name && !has_suffix(name, "_total") && !has_suffix(name, "_sum") &&
                        !has_suffix(name, "_count") && !has_suffix(name, "_bucket"))
                        pq_annotate(c, 1, marg->pos,
                                    "PromQL info: metric might not be a counter, name does not "
                                    "end in _total/_sum/_count/_bucket: \"%s\"",
                                    name);
                }
                rc = pq_sink_append(c, &sink, idx[i], ts, v);
            }
            if (!rc && strcmp(f->name, "quantile_over_time") == 0 && nsargs &&
                !(a[0] >= 0 && a[0] <= 1) && sink.n) {
                char g[32];
                pq_annotate(c, 0, e->args[0]->pos,
                            "PromQL warning: quantile value should be between 0 and 1, got %s",
                            pq_fmt_g(a[0], g, sizeof g));
            }
        }
        mem_free(idx);
        mem_free(wlo);
        mem_free(whi);
        mem_free(kf);
        mem_free(kl);
        if (rc)
            pq_sink_free(c, &sink);
        else
            pq_sink_to_value(&sink, out);
    }
out_m:
    pq_value_free(c, &m.v);
out:
    for (size_t j = 0; j < nsargs; j++)
        pq_value_free(c, &sargs[j]);
    return rc;
}

/* Element-wise functions (abs, clamp, hour...): the name is dropped. */
static int eval_elem_func(pq_ctx *c, const promql_expr *e, pq_value *out)
{
    const promql_func *f = e->func;
    pq_value vec = {0};
    pq_value sargs[4] = {{0}};
    size_t nsargs = 0;
    int rc = 0;
    pq_sink sink = {0};
    pq_elem *el = NULL;
    size_t elcap = 0, nel = 0;
    size_t *idx = NULL;
    if (e->nargs == 0) {
        /* Date functions without argument: vector(time()). */
        static const labels none = {NULL, 0};
        for (size_t k = 0; !rc && k < c->nsteps; k++) {
            int64_t ts = pq_step_time(c, k);
            rc = pq_sink_add(c, &sink, &none, ts, f->elem((double)ts / 1000.0, NULL, 0));
        }
        goto done;
    }
    if ((rc = pq_eval(c, e->args[0], &vec)))
        goto done;
    for (size_t i = 1; i < e->nargs && nsargs < 4; i++)
        if ((rc = eval_scalar(c, e->args[i], &sargs[nsargs++])))
            goto done;
    idx = mem_alloc((vec.ns + 1) * sizeof *idx);
    if (!idx) {
        rc = pq_errorf(c, -ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < vec.ns; i++)
        idx[i] = SIZE_MAX;
    for (size_t k = 0; !rc && k < c->nsteps; k++) {
        if ((rc = pq_vector_at(c, &vec, k, &el, &elcap, &nel)))
            break;
        double a[4];
        for (size_t j = 0; j < nsargs; j++)
            a[j] = sargs[j].scalar[k];
        /* clamp with max < min answers nothing, as in Prometheus. */
        if (strcmp(f->name, "clamp") == 0 && nsargs == 2 && a[1] < a[0])
            continue;
        for (size_t i = 0; !rc && i < nel; i++) {
            size_t s = el[i].src;
            if (idx[s] == SIZE_MAX && (rc = pq_out_idx(c, &sink, el[i].ls, 1, &idx[s])))
                break;
            rc = pq_sink_append(c, &sink, idx[s], pq_step_time(c, k), f->elem(el[i].v, a, nsargs));
        }
    }
done:
    mem_free(idx);
    mem_free(el);
    pq_value_free(c, &vec);
    for (size_t j = 0; j < nsargs; j++)
        pq_value_free(c, &sargs[j]);
    return pq_sink_finish(c, &sink, rc, out);
}

/* Labels for absent()/absent_over_time(): the equality matchers of a selector argument. */
static void absent_labels(const promql_expr *arg, pq_lb *b)
{
    b->n = 0;
    if (arg->type != PROMQL_VECTOR_SELECTOR && arg->type != PROMQL_MATRIX_SELECTOR)
        return;
    char *seen[PROMQL_MAX_MATCHERS];
    size_t nseen = 0;
    for (size_t i = 0; i < arg->nmatchers; i++) {
        const tsdb_matcher *m = &arg->matchers[i];
        if (strcmp(m->name, LABELS_NAME) == 0)
            continue;
        if (m->type == TSDB_MATCH_EQ && !name_in(m->name, seen, nseen))
            pq_lb_set(b, m->name, m->value);
        else
            pq_lb_del(b, m->name);
        if (nseen < PROMQL_MAX_MATCHERS)
            seen[nseen++] = m->name;
    }
}

/* Go's regexp.Expand for label_replace's replacement: $1, ${1}, $name, ${name}, $$. */
static void expand(buf *out, const char *tmpl, const char *src, PCRE2_SIZE *ov, int ncap,
                   const pcre2_code *re)
{
    for (const char *p = tmpl; *p;) {
        if (*p != '$') {
            buf_putc(out, *p++);
            continue;
        }
        p++;
        if (*p == '$') {
            buf_putc(out, '$');
            p++;
            continue;
        }
        const char *name = p;
        size_t len = 0;
        int braced = 0;
        if (*p == '{') {
            braced = 1;
            name = p + 1;
            while (name[len] && (isalnum((unsigned char)name[len]) || name[len] == '_'))
                len++;
            if (len == 0 || name[len] != '}') {
                buf_putc(out, '$');
                continue;
            }
        } else {
            while (name[len] && (isalnum((unsigned char)name[len]) || name[len] == '_'))
                len++;
            if (len == 0) {
                buf_putc(out, '$');
                continue;
            }
        }
        p = name + len + (braced ? 1 : 0);
        int num = -1;
        int digits = 1;
        for (size_t i = 0; i < len; i++)
            digits &= isdigit((unsigned char)name[i]) != 0;
        if (digits && len < 9) {
            num = 0;
            for (size_t i = 0; i < len; i++)
                num = num * 10 + (name[i] - '0');
        } else {
            char nm[128];
            if (len < sizeof nm) {
                memcpy(nm, name, len);
                nm[len] = '\0';
                int n = pcre2_substring_number_from_name(re, (PCRE2_SPTR)nm);
                if (n > 0)
                    num = n;
            }
        }
        if (num >= 0 && num < ncap && ov[2 * num] != PCRE2_UNSET)
            buf_append(out, src + ov[2 * num], ov[2 * num + 1] - ov[2 * num]);
    }
}

static int string_arg(pq_ctx *c, const promql_expr *e, const char **out)
{
    while (e->type == PROMQL_PAREN)
        e = e->lhs;
    if (e->type != PROMQL_STRING)
        return pq_errorf(c, -EINVAL, "expected a string literal");
    *out = e->string;
    return 0;
}

static int eval_label_func(pq_ctx *c, const promql_expr *e, pq_value *out)
{
    int replace = strcmp(e->func->name, "label_replace") == 0;
    const char *dst = NULL, *repl = NULL, *src = NULL, *regex = NULL, *sep = NULL;
    const char *srcs[64];
    size_t nsrcs = 0;
    int rc = string_arg(c, e->args[1], &dst);
    if (rc)
        return rc;
    if (replace) {
        if ((rc = string_arg(c, e->args[2], &repl)) || (rc = string_arg(c, e->args[3], &src)) ||
            (rc = string_arg(c, e->args[4], &regex)))
            return rc;
    } else {
        if ((rc = string_arg(c, e->args[2], &sep)))
            return rc;
        for (size_t i = 3; i < e->nargs; i++) {
            if (nsrcs >= 64)
                return pq_errorf(c, -EDOM, "too many source labels in label_join()");
            if ((rc = string_arg(c, e->args[i], &srcs[nsrcs])))
                return rc;
            if (!labels_valid_name(srcs[nsrcs]))
                return pq_errorf(c, -EDOM, "invalid source label name in label_join(): %s",
                                 srcs[nsrcs]);
            nsrcs++;
        }
    }
    if (!labels_valid_name(dst))
        return pq_errorf(c, -EDOM, "invalid destination label name in %s(): %s", e->func->name,
                         dst);
    pcre2_code *re = NULL;
    pcre2_match_data *md = NULL;
    if (replace) {
        int code;
        PCRE2_SIZE off;
        re = pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED,
                           PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_DOTALL | PCRE2_UTF, &code,
                           &off, NULL);
        if (!re) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(code, msg, sizeof msg);
            return pq_errorf(c, -EDOM, "invalid regular expression in label_replace(): %s",
                             (const char *)msg);
        }
        md = pcre2_match_data_create_from_pattern(re, NULL);
        if (!md) {
            pcre2_code_free(re);
            return pq_errorf(c, -ENOMEM, "out of memory");
        }
    }
    pq_value vec = {0};
    pq_sink sink = {0};
    pq_elem *el = NULL;
    size_t elcap = 0, nel = 0;
    size_t *idx = NULL;
    buf b;
    buf_init(&b, LABELS_MAX_VALUE * 64);
    if ((rc = pq_eval(c, e->args[0], &vec)))
        goto done;
    idx = mem_alloc((vec.ns + 1) * sizeof *idx);
    if (!idx) {
        rc = pq_errorf(c, -ENOMEM, "out of memory");
        goto done;
    }
    /* Output labels depend only on the input series: compute them once per series. */
    for (size_t i = 0; !rc && i < vec.ns; i++) {
        pq_lb lb;
        pq_lb_init(&lb, vec.s[i].ls);
        buf_reset(&b);
        if (replace) {
            const char *sv = labels_get(vec.s[i].ls, src);
            if (!sv)
                sv = "";
            int n = pcre2_match(re, (PCRE2_SPTR)sv, strlen(sv), 0, 0, md, NULL);
            if (n > 0) {
                expand(&b, repl, sv, pcre2_get_ovector_pointer(md),
                       (int)pcre2_get_ovector_count(md), re);
                buf_putc(&b, '\0');
                if (b.err) {
                    rc = pq_errorf(c, -ENOMEM, "out of memory");
                    break;
                }
                char *val = pq_strdup(c, b.data);
                if (!val) {
                    rc = pq_errorf(c, -ENOMEM, "out of memory");
                    break;
                }
                pq_lb_set(&lb, dst, val);
            }
        } else {
            for (size_t k = 0; k < nsrcs; k++) {
                const char *sv = labels_get(vec.s[i].ls, srcs[k]);
                if (k)
                    buf_puts(&b, sep);
                buf_puts(&b, sv ? sv : "");
            }
            buf_putc(&b, '\0');
            char *val = b.err ? NULL : pq_strdup(c, b.data);
            if (!val) {
                rc = pq_errorf(c, -ENOMEM, "out of memory");
                break;
            }
            pq_lb_set(&lb, dst, val);
        }
        labels v = pq_lb_view(&lb);
        rc = pq_sink_find(c, &sink, &v, &idx[i]);
    }
    for (size_t k = 0; !rc && k < c->nsteps; k++) {
        if ((rc = pq_vector_at(c, &vec, k, &el, &elcap, &nel)))
            break;
        for (size_t i = 0; !rc && i < nel; i++)
            rc = pq_sink_append(c, &sink, idx[el[i].src], pq_step_time(c, k), el[i].v);
    }
done:
    buf_free(&b);
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    mem_free(idx);
    mem_free(el);
    pq_value_free(c, &vec);
    return pq_sink_finish(c, &sink, rc, out);
}

/* Natural order of label values (digit runs compared as numbers), as sort_by_label. */
static int natcmp(const char *a, const char *b)
{
    while (*a && *b) {
        if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
            const char *a0 = a, *b0 = b;
            while (*a0 == '0')
                a0++;
            while (*b0 == '0')
                b0++;
            const char *a1 = a0, *b1 = b0;
            while (isdigit((unsigned char)*a1))
                a1++;
            while (isdigit((unsigned char)*b1))
                b1++;
            if (a1 - a0 != b1 - b0)
                return a1 - a0 < b1 - b0 ? -1 : 1;
            int d = strncmp(a0, b0, (size_t)(a1 - a0));
            if (d)
                return d;
            a = a1;
            b = b1;
            continue;
        }
        if (*a != *b)
            return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
        a++;
        b++;
    }
    return *a ? 1 : *b ? -1 : 0;
}

typedef struct sort_ctx {
    int mode; /* 0 sort, 1 sort_desc, 2 by label, 3 by label desc */
    const char **names;
    size_t n;
} sort_ctx;

/* Orders two series for sort*(); ties are broken by the label set, so the order is total
 * and the same whatever qsort does. Thread-safe: the context comes through qsort_r. */
static int sort_cmp(const void *pa, const void *pb, void *ctx)
{
    const pq_series *a = pa, *b = pb;
    const sort_ctx *s = ctx;
    if (s->mode <= 1) {
        double x = a->pts[0].v, y = b->pts[0].v;
        if (isnan(x) || isnan(y)) {
            if (!(isnan(x) && isnan(y)))
                return isnan(x) ? 1 : -1; /* NaN last */
        } else if (x != y) {
            return (s->mode == 0) == (x < y) ? -1 : 1;
        }
        return labels_cmp(a->ls, b->ls);
    }
    for (size_t i = 0; i < s->n; i++) {
        const char *x = labels_get(a->ls, s->names[i]), *y = labels_get(b->ls, s->names[i]);
        int d = natcmp(x ? x : "", y ? y : "");
        if (d)
            return s->mode == 2 ? d : -d;
    }
    int d = labels_cmp(a->ls, b->ls);
    return s->mode == 2 ? d : -d;
}

/* sort(), sort_desc(), sort_by_label(): order the series (meaningful for instant queries). */
static int eval_sort_func(pq_ctx *c, const promql_expr *e, pq_value *out)
{
    int rc = pq_eval(c, e->args[0], out);
    if (rc || c->nsteps != 1 || out->ns < 2)
        return rc;
    const char *names[64];
    sort_ctx s = {0, names, 0};
    const char *fn = e->func->name;
    if (strcmp(fn, "sort_desc") == 0)
        s.mode = 1;
    else if (strcmp(fn, "sort_by_label") == 0)
        s.mode = 2;
    else if (strcmp(fn, "sort_by_label_desc") == 0)
        s.mode = 3;
    for (size_t i = 1; i < e->nargs && s.n < 64; i++)
        if ((rc = string_arg(c, e->args[i], &names[s.n++])))
            return rc;
    qsort_r(out->s, out->ns, sizeof *out->s, sort_cmp, &s);
    return 0;
}

static int bucket_le_cmp(const void *a, const void *b)
{
    double x = ((const promql_bucket *)a)->le, y = ((const promql_bucket *)b)->le;
    return x < y ? -1 : x > y;
}

/* Are the cumulative counts non-decreasing in le order? (sorts b by le) */
static int monotonic(promql_bucket *b, size_t n)
{
    qsort(b, n, sizeof *b, bucket_le_cmp);
    for (size_t i = 1; i < n; i++)
        if (b[i].count < b[i - 1].count)
            return 0;
    return 1;
}

static int eval_histogram_quantile(pq_ctx *c, const promql_expr *e, pq_value *out)
{
    int fixed_warned = 0;
    pq_value phi = {0}, vec = {0};
    pq_sink sink = {0};
    pq_elem *el = NULL;
    size_t elcap = 0, nel = 0;
    size_t *gid = NULL;
    double *le = NULL;
    promql_bucket *bk = NULL;
    size_t *order = NULL;
    int rc;
    if ((rc = eval_scalar(c, e->args[0], &phi)) || (rc = pq_eval(c, e->args[1], &vec)))
        goto done;
    gid = mem_alloc((vec.ns + 1) * sizeof *gid);
    le = mem_alloc((vec.ns + 1) * sizeof *le);
    bk = mem_alloc((vec.ns + 1) * sizeof *bk);
    order = mem_alloc((vec.ns + 1) * sizeof *order);
    if (!gid || !le || !bk || !order) {
        rc = pq_errorf(c, -ENOMEM, "out of memory");
        goto done;
    }
    /* Per series: its bucket bound and its output series (labels without le and name). */
    for (size_t i = 0; !rc && i < vec.ns; i++) {
        const char *l = labels_get(vec.s[i].ls, "le");
        char *end = NULL;
        double v = NAN;
        if (l) {
            const char *t = l;
            if (strcasecmp(t, "+inf") == 0 || strcasecmp(t, "inf") == 0)
                v = INFINITY;
            else if (strcasecmp(t, "-inf") == 0)
                v = -INFINITY;
            else {
                v = strtod(t, &end);
                if (end == t || *end || isspace((unsigned char)*t))
                    v = NAN, l = NULL;
            }
        }
        if (!l) {
            gid[i] = SIZE_MAX;
            const char *nm = labels_get(vec.s[i].ls, LABELS_NAME);
            pq_annotate(c, 0, e->args[1]->pos,
                        "PromQL warning: bucket label \"le\" is missing or has a malformed value "
                        "of \"%s\" for metric name \"%s\"",
                        labels_get(vec.s[i].ls, "le") ? labels_get(vec.s[i].ls, "le") : "",
                        nm ? nm : "");
            continue;
        }
        le[i] = v;
        pq_lb b;
        pq_lb_init(&b, vec.s[i].ls);
        pq_lb_del(&b, "le");
        pq_lb_del(&b, LABELS_NAME);
        labels lv = pq_lb_view(&b);
        rc = pq_sink_find(c, &sink, &lv, &gid[i]);
    }
    for (size_t k = 0; !rc && k < c->nsteps; k++) {
        if ((rc = pq_vector_at(c, &vec, k, &el, &elcap, &nel)))
            break;
        double q = phi.scalar[k];
        char g[32];
        if (nel && !(q >= 0 && q <= 1))
            pq_annotate(c, 0, e->args[0]->pos,
                        "PromQL warning: quantile value should be between 0 and 1, got %s",
                        pq_fmt_g(q, g, sizeof g));
        /* Group the step's elements by output series: sort indexes by group. */
        size_t m = 0;
        for (size_t i = 0; i < nel; i++)
            if (gid[el[i].src] != SIZE_MAX)
                order[m++] = i;
        for (size_t i = 1; i < m; i++) { /* insertion sort: groups are small and mostly sorted */
            size_t x = order[i], j = i;
            while (j > 0 && gid[el[order[j - 1]].src] > gid[el[x].src]) {
                order[j] = order[j - 1];
                j--;
            }
            order[j] = x;
        }
        for (size_t a = 0; !rc && a < m;) {
            size_t g = gid[el[order[a]].src], b2 = a, nb = 0;
            while (b2 < m && gid[el[order[b2]].src] == g) {
                bk[nb].le = le[el[order[b2]].src];
                bk[nb].count = el[order[b2]].v;
                nb++;
                b2++;
            }
            if (!fixed_warned && nb > 1 && !monotonic(bk, nb)) {
                const char *nm = labels_get(vec.s[el[order[a]].src].ls, LABELS_NAME);
                pq_annotate(c, 1, e->args[1]->pos,
                            "PromQL info: input to histogram_quantile needed to be fixed for "
                            "monotonicity (see https://prometheus.io/docs/prometheus/latest/"
                            "querying/functions/#histogram_quantile) for metric name \"%s\"",
                            nm ? nm : "");
                fixed_warned = 1;
            }
            double v = promql_bucket_quantile(q, bk, nb);
            rc = pq_sink_append(c, &sink, g, pq_step_time(c, k), v);
            a = b2;
        }
    }
done:
    mem_free(gid);
    mem_free(le);
    mem_free(bk);
    mem_free(order);
    mem_free(el);
    pq_value_free(c, &phi);
    pq_value_free(c, &vec);
    return pq_sink_finish(c, &sink, rc, out);
}

static int eval_special(pq_ctx *c, const promql_expr *e, pq_value *out)
{
    const char *fn = e->func->name;
    int rc = 0;
    static const labels none = {NULL, 0};
    if (e->func->native_hist) {
        pq_annotate(c, 1, e->pos,
                    "PromQL info: native histograms are not supported: %s() "
                    "returns nothing on float samples",
                    fn);
        /* Evaluate the arguments anyway (errors, limits), then answer an empty vector. */
        for (size_t i = 0; !rc && i < e->nargs; i++) {
            pq_value v = {0};
            rc = pq_eval(c, e->args[i], &v);
            pq_value_free(c, &v);
        }
        memset(out, 0, sizeof *out);
        out->type = PROMQL_T_VECTOR;
        return rc;
    }
    if (strcmp(fn, "time") == 0 || strcmp(fn, "pi") == 0) {
        if ((rc = new_scalar(c, out)))
            return rc;
        for (size_t k = 0; k < c->nsteps; k++)
            out->scalar[k] = fn[0] == 't' ? (double)pq_step_time(c, k) / 1000.0 : M_PI;
        return 0;
    }
    if (strcmp(fn, "vector") == 0) {
        pq_value s = {0};
        pq_sink sink = {0};
        if ((rc = eval_scalar(c, e->args[0], &s)))
            return rc;
        for (size_t k = 0; !rc && k < c->nsteps; k++)
            rc = pq_sink_add(c, &sink, &none, pq_step_time(c, k), s.scalar[k]);
        pq_value_free(c, &s);
        if (rc)
            pq_sink_free(c, &sink);
        else
            pq_sink_to_value(&sink, out);
        return rc;
    }
    if (strcmp(fn, "scalar") == 0) {
        pq_value v = {0};
        pq_elem *el = NULL;
        size_t cap = 0, n = 0;
        if ((rc = pq_eval(c, e->args[0], &v)) || (rc = new_scalar(c, out))) {
            pq_value_free(c, &v);
            return rc;
        }
        for (size_t k = 0; !rc && k < c->nsteps; k++) {
            rc = pq_vector_at(c, &v, k, &el, &cap, &n);
            out->scalar[k] = n == 1 ? el[0].v : NAN;
        }
        mem_free(el);
        pq_value_free(c, &v);
        return rc;
    }
    if (strcmp(fn, "timestamp") == 0) {
        const promql_expr *a = e->args[0];
        while (a->type == PROMQL_PAREN)
            a = a->lhs;
        pq_value v = {0};
        if (a->type == PROMQL_VECTOR_SELECTOR)
            rc = eval_vector_selector(c, a, 1, &v);
        else
            rc = pq_eval(c, a, &v);
        if (rc) {
            pq_value_free(c, &v);
            return rc;
        }
        pq_sink sink = {0};
        for (size_t i = 0; !rc && i < v.ns; i++) {
            size_t idx = SIZE_MAX;
            for (size_t j = 0; !rc && j < v.s[i].n; j++) {
                if (idx == SIZE_MAX && (rc = pq_out_idx(c, &sink, v.s[i].ls, 1, &idx)))
                    break;
                double val = a->type == PROMQL_VECTOR_SELECTOR ? v.s[i].pts[j].v
                                                               : (double)v.s[i].pts[j].t / 1000.0;
                /* Series may merge once the name is dropped: keep each output ordered. */
                pq_series *o = &sink.s[idx];
                if (o->n && o->pts[o->n - 1].t >= v.s[i].pts[j].t) {
                    rc =
                        pq_errorf(c, -EDOM, "vector cannot contain metrics with the same labelset");
                    break;
                }
                rc = pq_sink_append(c, &sink, idx, v.s[i].pts[j].t, val);
            }
        }
        pq_value_free(c, &v);
        if (rc)
            pq_sink_free(c, &sink);
        else
            pq_sink_to_value(&sink, out);
        return rc;
    }
    if (strcmp(fn, "absent") == 0 || strcmp(fn, "absent_over_time") == 0) {
        int over_time = fn[6] == '_';
        pq_value v = {0};
        pq_matrix m = {0};
        const promql_expr *a = e->args[0];
        if (over_time)
            rc = load_matrix(c, a, TSDB_AGG_LAST, &m);
        else
            rc = pq_eval(c, a, &v);
        pq_lb b;
        absent_labels(a, &b);
        labels lv = pq_lb_view(&b);
        pq_sink sink = {0};
        pq_elem *el = NULL;
        size_t cap = 0, n = 0;
        for (size_t k = 0; !rc && k < c->nsteps; k++) {
            int64_t ts = pq_step_time(c, k);
            int present = 0;
            if (over_time) {
                int64_t end = node_time(c, m.node, ts), start = end - m.range;
                for (size_t i = 0; i < m.v.ns && !present; i++) {
                    size_t lo, hi;
                    window(&m.v.s[i], start, end, &lo, &hi);
                    present = hi > lo;
                }
            } else {
                if ((rc = pq_vector_at(c, &v, k, &el, &cap, &n)))
                    break;
                present = n > 0;
            }
            if (!present)
                rc = pq_sink_add(c, &sink, &lv, ts, 1);
        }
        mem_free(el);
        pq_value_free(c, &v);
        pq_value_free(c, &m.v);
        if (rc)
            pq_sink_free(c, &sink);
        else
            pq_sink_to_value(&sink, out);
        return rc;
    }
    if (strcmp(fn, "label_replace") == 0 || strcmp(fn, "label_join") == 0)
        return eval_label_func(c, e, out);
    if (strncmp(fn, "sort", 4) == 0)
        return eval_sort_func(c, e, out);
    if (strcmp(fn, "histogram_quantile") == 0)
        return eval_histogram_quantile(c, e, out);
    return pq_errorf(c, -EDOM, "function \"%s\" is not supported", fn);
}

static int eval_call(pq_ctx *c, const promql_expr *e, pq_value *out)
{
    switch (e->func->kind) {
    case PROMQL_FK_RANGE:
        return eval_range_func(c, e, out);
    case PROMQL_FK_ELEM:
        return eval_elem_func(c, e, out);
    case PROMQL_FK_SPECIAL:
        return eval_special(c, e, out);
    }
    return pq_errorf(c, -EDOM, "unknown function kind");
}

/* ---- the driver ----------------------------------------------------------------------------- */

static int eval_unary(pq_ctx *c, const promql_expr *e, pq_value *out)
{
    int rc = pq_eval(c, e->lhs, out);
    if (rc || e->op != PROMQL_OP_SUB)
        return rc;
    if (out->type == PROMQL_T_SCALAR) {
        for (size_t k = 0; k < c->nsteps; k++)
            out->scalar[k] = -out->scalar[k];
        return 0;
    }
    /* Negation drops the metric name; series that then collide are an error. */
    pq_value in = *out;
    memset(out, 0, sizeof *out); /* in owns the operand now */
    pq_sink sink = {0};
    pq_elem *el = NULL;
    size_t cap = 0, n = 0;
    size_t *idx = mem_alloc((in.ns + 1) * sizeof *idx);
    if (!idx)
        rc = pq_errorf(c, -ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < in.ns; i++)
        rc = pq_out_idx(c, &sink, in.s[i].ls, 1, &idx[i]);
    for (size_t k = 0; !rc && k < c->nsteps; k++) {
        if ((rc = pq_vector_at(c, &in, k, &el, &cap, &n)))
            break;
        for (size_t i = 0; !rc && i < n; i++)
            rc = pq_sink_append(c, &sink, idx[el[i].src], pq_step_time(c, k), -el[i].v);
    }
    mem_free(idx);
    mem_free(el);
    pq_value_free(c, &in);
    return pq_sink_finish(c, &sink, rc, out);
}

int pq_eval(pq_ctx *c, const promql_expr *e, pq_value *out)
{
    memset(out, 0, sizeof *out);
    int rc = pq_tick(c);
    if (rc)
        return rc;
    switch (e->type) {
    case PROMQL_NUMBER:
        if ((rc = new_scalar(c, out)))
            return rc;
        for (size_t k = 0; k < c->nsteps; k++)
            out->scalar[k] = e->number;
        return 0;
    case PROMQL_STRING:
        out->type = PROMQL_T_STRING;
        out->str = pq_strdup(c, e->string);
        return out->str ? 0 : pq_errorf(c, -ENOMEM, "out of memory");
    case PROMQL_PAREN:
        return pq_eval(c, e->lhs, out);
    case PROMQL_VECTOR_SELECTOR:
        return eval_vector_selector(c, e, 0, out);
    case PROMQL_MATRIX_SELECTOR:
    case PROMQL_SUBQUERY: {
        /* Only as the top level of an instant query: the window at that instant. */
        pq_matrix m;
        if ((rc = load_matrix(c, e, TSDB_AGG_LAST, &m))) {
            pq_value_free(c, &m.v);
            return rc;
        }
        int64_t end = node_time(c, e, c->start), start = end - m.range;
        *out = m.v;
        out->type = PROMQL_T_MATRIX;
        size_t k = 0;
        for (size_t i = 0; i < out->ns; i++) {
            size_t lo, hi;
            window(&out->s[i], start, end, &lo, &hi);
            if (hi == lo) {
                mem_free(out->s[i].pts);
                continue;
            }
            memmove(out->s[i].pts, out->s[i].pts + lo, (hi - lo) * sizeof(sample));
            out->s[i].n = hi - lo;
            out->s[k++] = out->s[i];
        }
        out->ns = k;
        return 0;
    }
    case PROMQL_UNARY:
        return eval_unary(c, e, out);
    case PROMQL_BINARY:
        return pq_eval_binary(c, e, out);
    case PROMQL_AGGREGATE:
        return pq_eval_aggregate(c, e, out);
    case PROMQL_CALL:
        return eval_call(c, e, out);
    }
    return pq_errorf(c, -EINVAL, "unknown expression");
}

/* What the result keeps alive. */
typedef struct keep {
    pq_arena arena;
} keep;

void promql_result_free(promql_result *res)
{
    if (!res)
        return;
    for (size_t i = 0; i < res->nseries; i++)
        mem_free(res->series[i].points);
    mem_free(res->series);
    mem_free(res->string);
    for (size_t i = 0; i < res->nwarnings; i++)
        mem_free(res->warnings[i]);
    mem_free(res->warnings);
    for (size_t i = 0; i < res->ninfos; i++)
        mem_free(res->infos[i]);
    mem_free(res->infos);
    keep *k = res->priv;
    if (k) {
        pq_arena_free(&k->arena);
        mem_free(k);
    }
    memset(res, 0, sizeof *res);
}

static void ctx_init(pq_ctx *c, const promql_querier *q, const promql_opts *opts, char *err,
                     size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->q = q;
    if (opts)
        c->o = *opts;
    if (c->o.lookback_ms <= 0)
        c->o.lookback_ms = DEFAULT_LOOKBACK;
    if (!c->o.max_samples)
        c->o.max_samples = DEFAULT_MAX_SAMPLES;
    if (c->o.timeout_ms <= 0)
        c->o.timeout_ms = DEFAULT_TIMEOUT;
    if (c->o.default_step_ms <= 0)
        c->o.default_step_ms = DEFAULT_STEP;
    c->query = c->o.query;
    c->deadline = timeutil_mono_ms() + c->o.timeout_ms;
    c->err = err;
    c->errlen = errlen;
    if (errlen)
        err[0] = '\0';
}

static int labels_series_cmp(const void *a, const void *b)
{
    return labels_cmp(((const promql_series *)a)->ls, ((const promql_series *)b)->ls);
}

/* Does the top of e define the order of an instant vector (sort*, topk, bottomk)? */
static int ordered(const promql_expr *e)
{
    while (e->type == PROMQL_PAREN)
        e = e->lhs;
    if (e->type == PROMQL_CALL)
        return strncmp(e->func->name, "sort", 4) == 0;
    if (e->type == PROMQL_AGGREGATE)
        return e->op == PROMQL_OP_TOPK || e->op == PROMQL_OP_BOTTOMK;
    return 0;
}

/* Moves the evaluated value into the result. */
static int finish(pq_ctx *c, const promql_expr *e, pq_value *v, int as_matrix, promql_result *res)
{
    keep *k = mem_calloc(1, sizeof *k);
    if (!k)
        return pq_errorf(c, -ENOMEM, "out of memory");
    res->priv = k;
    res->warnings = c->warnings;
    res->nwarnings = c->nwarnings;
    res->infos = c->infos;
    res->ninfos = c->ninfos;
    c->warnings = c->infos = NULL;
    c->nwarnings = c->ninfos = 0;
    switch (v->type) {
    case PROMQL_T_SCALAR:
        if (as_matrix) {
            static const labels none = {NULL, 0};
            res->type = PROMQL_T_MATRIX;
            res->series = mem_calloc(1, sizeof *res->series);
            sample *pts = mem_alloc((c->nsteps + 1) * sizeof *pts);
            if (!res->series || !pts) {
                mem_free(pts);
                break;
            }
            for (size_t i = 0; i < c->nsteps; i++) {
                pts[i].t = pq_step_time(c, i);
                pts[i].v = v->scalar[i];
            }
            res->series[0] = (promql_series){&none, pts, c->nsteps};
            res->nseries = 1;
        } else {
            res->type = PROMQL_T_SCALAR;
            res->scalar.t = c->start;
            res->scalar.v = v->scalar[0];
        }
        pq_value_free(c, v);
        k->arena = c->arena;
        memset(&c->arena, 0, sizeof c->arena);
        return 0;
    case PROMQL_T_STRING:
        res->type = PROMQL_T_STRING;
        res->string = mem_strdup(v->str);
        res->string_t = c->start;
        k->arena = c->arena;
        memset(&c->arena, 0, sizeof c->arena);
        return res->string ? 0 : pq_errorf(c, -ENOMEM, "out of memory");
    case PROMQL_T_VECTOR:
    case PROMQL_T_MATRIX:
        res->type = as_matrix || v->type == PROMQL_T_MATRIX ? PROMQL_T_MATRIX : PROMQL_T_VECTOR;
        res->series = mem_calloc(v->ns + 1, sizeof *res->series);
        if (!res->series)
            break;
        for (size_t i = 0; i < v->ns; i++) {
            res->series[i].ls = v->s[i].ls;
            res->series[i].points = v->s[i].pts;
            res->series[i].n = v->s[i].n;
            v->s[i].pts = NULL;
        }
        res->nseries = v->ns;
        mem_free(v->s);
        v->s = NULL;
        v->ns = 0;
        if (res->type == PROMQL_T_MATRIX || !ordered(e))
            qsort(res->series, res->nseries, sizeof *res->series, labels_series_cmp);
        k->arena = c->arena;
        memset(&c->arena, 0, sizeof c->arena);
        return 0;
    }
    return pq_errorf(c, -ENOMEM, "out of memory");
}

static void ctx_free(pq_ctx *c)
{
    pq_arena_free(&c->arena);
    for (size_t i = 0; i < c->nwarnings; i++)
        mem_free(c->warnings[i]);
    mem_free(c->warnings);
    for (size_t i = 0; i < c->ninfos; i++)
        mem_free(c->infos[i]);
    mem_free(c->infos);
}

static int run(const promql_querier *q, const promql_expr *e, int64_t start, int64_t end,
               int64_t step, int range, const promql_opts *opts, promql_result *res, char *err,
               size_t errlen)
{
    pq_ctx c;
    ctx_init(&c, q, opts, err, errlen);
    memset(res, 0, sizeof *res);
    c.start = c.qstart = start;
    c.end = c.qend = end;
    c.step = step;
    c.nsteps = (size_t)((end - start) / step) + 1;
    c.range_query = range;
    pq_value v = {0};
    int rc = pq_eval(&c, e, &v);
    if (!rc)
        rc = finish(&c, e, &v, range, res);
    pq_value_free(&c, &v);
    if (rc) {
        promql_result_free(res);
        if (!err[0])
            snprintf(err, errlen, rc == -ENOMEM ? "out of memory" : "evaluation failed (%d)", rc);
    }
    ctx_free(&c);
    return rc;
}

int promql_eval_instant(const promql_querier *q, const promql_expr *e, int64_t t,
                        const promql_opts *opts, promql_result *res, char *err, size_t errlen)
{
    return run(q, e, t, t, 1, 0, opts, res, err, errlen);
}

int promql_eval_range(const promql_querier *q, const promql_expr *e, int64_t start, int64_t end,
                      int64_t step, const promql_opts *opts, promql_result *res, char *err,
                      size_t errlen)
{
    memset(res, 0, sizeof *res);
    if (step <= 0 || end < start) {
        snprintf(err, errlen, "invalid range: step must be positive and end not before start");
        return -EINVAL;
    }
    if (e->vtype != PROMQL_T_SCALAR && e->vtype != PROMQL_T_VECTOR) {
        snprintf(err, errlen,
                 "invalid expression type \"%s\" for range query, must be Scalar or instant "
                 "Vector",
                 promql_type_doc(e->vtype));
        return -EINVAL;
    }
    return run(q, e, start, end, step, 1, opts, res, err, errlen);
}
