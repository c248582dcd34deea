/* batch: one collection round. Strings live in one growing arena and are referred to by offset,
 * so the arena may move while a round is built; pointers are made only when encoding. */
#include "batch.h"

#include "../lib/labels.h"
#include "../lib/mem.h"
#include "../wire/rw.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define BATCH_MAX_LABELS 48 /* per sample, including __name__, instance and job (a probe's
                             * sample: 32 of its own and 8 common ones) */

typedef struct entry {
    uint32_t first; /* index of the first label pair in b->pairs */
    uint32_t n;     /* number of label pairs, __name__ included */
    double v;
    int64_t t;      /* the sample's time (the round's, or batch_add_at's) */
} entry;

typedef struct pair {
    uint32_t name;  /* offsets into the arena */
    uint32_t value;
} pair;

struct batch {
    buf arena;
    pair *pairs;
    size_t npairs, cappairs;
    entry *entries;
    size_t nentries, capentries;
    char *instance;
    char *job;
    int64_t t;
};

int batch_new(batch **out, const char *instance, const char *job)
{
    batch *b = mem_calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    buf_init(&b->arena, 64u << 20);
    b->instance = mem_strdup(instance);
    b->job = mem_strdup(job);
    if (!b->instance || !b->job) {
        batch_free(b);
        return -ENOMEM;
    }
    *out = b;
    return 0;
}

void batch_free(batch *b)
{
    if (!b)
        return;
    buf_free(&b->arena);
    mem_free(b->pairs);
    mem_free(b->entries);
    mem_free(b->instance);
    mem_free(b->job);
    mem_free(b);
}

void batch_reset(batch *b, int64_t t_ms)
{
    buf_reset(&b->arena);
    b->npairs = 0;
    b->nentries = 0;
    b->t = t_ms;
}

size_t batch_count(const batch *b)
{
    return b->nentries;
}

int64_t batch_time(const batch *b)
{
    return b->t;
}

static int arena_str(batch *b, const char *s, uint32_t *off)
{
    *off = (uint32_t)b->arena.len;
    return buf_append(&b->arena, s, strlen(s) + 1);
}

static int push_pair(batch *b, const char *name, const char *value)
{
    if (b->npairs == b->cappairs) {
        size_t nc = b->cappairs ? b->cappairs * 2 : 1024;
        pair *p = mem_realloc(b->pairs, nc * sizeof *p);
        if (!p)
            return -ENOMEM;
        b->pairs = p;
        b->cappairs = nc;
    }
    pair *p = &b->pairs[b->npairs];
    int rc = arena_str(b, name, &p->name);
    if (!rc)
        rc = arena_str(b, value, &p->value);
    if (rc)
        return rc;
    b->npairs++;
    return 0;
}

int batch_add(batch *b, const char *metric, const char *const *lbls, double v)
{
    return batch_add_at(b, b->t, metric, lbls, v);
}

int batch_add_at(batch *b, int64_t t_ms, const char *metric, const char *const *lbls, double v)
{
    if (!labels_valid_metric_name(metric))
        return -EINVAL;
    if (b->nentries == b->capentries) {
        size_t nc = b->capentries ? b->capentries * 2 : 512;
        entry *e = mem_realloc(b->entries, nc * sizeof *e);
        if (!e)
            return -ENOMEM;
        b->entries = e;
        b->capentries = nc;
    }
    size_t first = b->npairs, arena_len = b->arena.len;
    int rc = push_pair(b, LABELS_NAME, metric);
    uint32_t n = 1;
    for (size_t i = 0; !rc && lbls && lbls[i]; i += 2) {
        if (!lbls[i + 1] || !labels_valid_name(lbls[i]) || n + 3 > BATCH_MAX_LABELS ||
            strlen(lbls[i + 1]) > LABELS_MAX_VALUE ||
            strcmp(lbls[i], LABELS_NAME) == 0) {
            rc = -EINVAL;
            break;
        }
        /* A name twice would make the whole request invalid at the server. */
        for (size_t j = 0; j < i && !rc; j += 2)
            if (strcmp(lbls[j], lbls[i]) == 0)
                rc = -EINVAL;
        if (rc)
            break;
        if (!*lbls[i + 1])
            continue;
        rc = push_pair(b, lbls[i], lbls[i + 1]);
        n++;
    }
    if (rc) {
        /* Undo the partial sample so the batch stays consistent. */
        b->npairs = first;
        b->arena.len = arena_len;
        b->arena.err = 0;
        return rc;
    }
    entry *e = &b->entries[b->nentries++];
    e->first = (uint32_t)first;
    e->n = n;
    e->v = v;
    e->t = t_ms;
    return 0;
}

/* Fills ls (room for BATCH_MAX_LABELS) with the sorted labels of entry e, plus instance/job. */
static void entry_labels(const batch *b, const entry *e, label *v, labels *ls)
{
    size_t n = 0;
    int have_instance = 0, have_job = 0;
    for (uint32_t i = 0; i < e->n; i++) {
        const pair *p = &b->pairs[e->first + i];
        v[n].name = b->arena.data + p->name;
        v[n].value = b->arena.data + p->value;
        have_instance |= strcmp(v[n].name, "instance") == 0;
        have_job |= strcmp(v[n].name, "job") == 0;
        n++;
    }
    if (!have_instance)
        v[n++] = (label){"instance", b->instance};
    if (!have_job)
        v[n++] = (label){"job", b->job};
    ls->v = v;
    ls->n = n;
    labels_sort(ls);
}

int batch_find(const batch *b, const char *metric, const char *const *lbls, double *v)
{
    size_t want = 1;
    for (size_t i = 0; lbls && lbls[i]; i += 2)
        want += *lbls[i + 1] ? 1 : 0;
    for (size_t i = 0; i < b->nentries; i++) {
        const entry *e = &b->entries[i];
        if (e->n != want || strcmp(b->arena.data + b->pairs[e->first].value, metric))
            continue;
        int match = 1;
        for (size_t j = 0; match && lbls && lbls[j]; j += 2) {
            if (!*lbls[j + 1])
                continue;
            int found = 0;
            for (uint32_t k = 1; k < e->n && !found; k++) {
                const pair *p = &b->pairs[e->first + k];
                found = strcmp(b->arena.data + p->name, lbls[j]) == 0 &&
                        strcmp(b->arena.data + p->value, lbls[j + 1]) == 0;
            }
            match = found;
        }
        if (match) {
            *v = e->v;
            return 1;
        }
    }
    return 0;
}

int batch_encode(const batch *b, buf *out)
{
    int rc = 0;
    /* Each entry's labels plus instance and job, at most: exact sizes keep the agent small. */
    size_t nlabels = 2 * b->nentries + b->npairs + 1;
    rw_series *series = mem_alloc((b->nentries + 1) * sizeof *series);
    label *lv = mem_alloc(nlabels * sizeof *lv);
    sample *smp = mem_alloc((b->nentries + 1) * sizeof *smp);
    if (!series || !lv || !smp) {
        rc = -ENOMEM;
        goto out;
    }
    label *next = lv;
    for (size_t i = 0; i < b->nentries; i++) {
        entry_labels(b, &b->entries[i], next, &series[i].ls);
        next += series[i].ls.n;
        smp[i].t = b->entries[i].t;
        smp[i].v = b->entries[i].v;
        series[i].samples = &smp[i];
        series[i].nsamples = 1;
    }
    rc = rw_encode(series, b->nentries, out);
out:
    mem_free(series);
    mem_free(lv);
    mem_free(smp);
    return rc;
}

int batch_format(const batch *b, buf *out)
{
    label v[BATCH_MAX_LABELS];
    for (size_t i = 0; i < b->nentries; i++) {
        labels ls;
        entry_labels(b, &b->entries[i], v, &ls);
        labels_format(&ls, out);
        double x = b->entries[i].v;
        if (isnan(x))
            buf_puts(out, " NaN");
        else if (isinf(x))
            buf_puts(out, x > 0 ? " +Inf" : " -Inf");
        else
            buf_printf(out, " %.17g", x);
        buf_printf(out, " %lld\n", (long long)b->entries[i].t);
    }
    return out->err;
}
