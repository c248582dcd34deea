/* evstore_unknown: senders whose events are stored under device 0 ("unknown"), listed so a
 * user can adopt them, and the adoption that moves their stored events to a device.
 *
 * Each day keeps its own table unk(source, host, sensor) -> count, first, last, updated in the
 * transaction that stores the events, so the list always matches the events still retained
 * (a day dropped by retention takes its senders with it) and is merged across days here. */
#include "evstore_int.h"

#include "../lib/mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct unk_ent {
    char *source, *host;
    int64_t sensor;
    uint64_t count;
    int64_t first, last;
} unk_ent;

static int unk_cmp(const void *a, const void *b)
{
    const unk_ent *x = a, *y = b;
    if (x->last != y->last)
        return x->last > y->last ? -1 : 1;
    int c = strcmp(x->source, y->source);
    if (c)
        return c;
    c = strcmp(x->host, y->host);
    return c ? c : (x->sensor > y->sensor) - (x->sensor < y->sensor);
}

/* Adds one day's unknown senders to the list (merging with other days'). */
static int unk_collect(evstore *s, evs_seg *g, hmap *idx, unk_ent **v, size_t *n, size_t *cap,
                       buf *key)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = evs__reader_get(s, g, &db);
    if (rc)
        return rc;
    int src = sqlite3_prepare_v2(db,
                                 "SELECT (SELECT s FROM str WHERE id = u.source),"
                                 " (SELECT s FROM str WHERE id = u.host), u.sensor, u.n, u.first,"
                                 " u.last FROM unk u",
                                 -1, &st, NULL);
    while (src == SQLITE_OK || src == SQLITE_ROW) {
        if ((src = sqlite3_step(st)) != SQLITE_ROW)
            break;
        const char *source = (const char *)sqlite3_column_text(st, 0);
        const char *host = (const char *)sqlite3_column_text(st, 1);
        source = source ? source : "";
        host = host ? host : "";
        int64_t sensor = sqlite3_column_int64(st, 2);
        buf_reset(key);
        buf_append(key, source, strlen(source) + 1);
        buf_append(key, host, strlen(host) + 1);
        buf_append(key, &sensor, sizeof sensor);
        if (key->err) {
            rc = key->err;
            break;
        }
        unk_ent *e;
        void *found = hmap_get(idx, key->data, key->len);
        if (found) {
            e = &(*v)[(size_t)(intptr_t)found - 1];
        } else {
            if ((rc = mem_grow((void **)v, cap, *n, sizeof **v, 16)))
                break;
            e = &(*v)[*n];
            memset(e, 0, sizeof *e);
            e->source = mem_strdup(source);
            e->host = mem_strdup(host);
            e->sensor = sensor;
            e->first = INT64_MAX;
            e->last = INT64_MIN;
            if (!e->source || !e->host) {
                mem_free(e->source);
                mem_free(e->host);
                rc = -ENOMEM;
                break;
            }
            (*n)++;
            if ((rc = hmap_put(idx, key->data, key->len, (void *)(intptr_t)*n)))
                break;
        }
        e->count += (uint64_t)sqlite3_column_int64(st, 3);
        int64_t f = sqlite3_column_int64(st, 4), l = sqlite3_column_int64(st, 5);
        if (f < e->first)
            e->first = f;
        if (l > e->last)
            e->last = l;
    }
    if (!rc && src != SQLITE_DONE)
        rc = evs__sqlerr(db, src, g->path, "unknown senders");
    sqlite3_finalize(st);
    evs__reader_put(s, g, db);
    return rc;
}

int evstore_unknown_list(evstore *s, int (*fn)(void *ctx, const evstore_unknown *u), void *ctx)
{
    evs_seg **segs = NULL;
    size_t nsegs = 0, n = 0, cap = 0;
    unk_ent *v = NULL;
    hmap idx;
    hmap_init(&idx);
    buf key;
    buf_init(&key, 0);
    int rc = evs__segs_range(s, INT64_MIN / 2, INT64_MAX / 2, &segs, &nsegs);
    for (size_t i = 0; !rc && i < nsegs; i++)
        rc = unk_collect(s, segs[i], &idx, &v, &n, &cap, &key);
    evs__segs_release(s, segs, nsegs);
    if (!rc && n) {
        qsort(v, n, sizeof *v, unk_cmp);
        for (size_t i = 0; i < n; i++) {
            evstore_unknown u = {v[i].source, v[i].host,  v[i].sensor,
                                 v[i].count,  v[i].first, v[i].last};
            if (fn(ctx, &u))
                break;
        }
    }
    for (size_t i = 0; i < n; i++) {
        mem_free(v[i].source);
        mem_free(v[i].host);
    }
    mem_free(v);
    hmap_free(&idx);
    buf_free(&key);
    return rc;
}

/* The id of an interned string of the day, or -1 (caller holds wmu). */
static int str_lookup(evs_seg *g, const buf *b, int64_t *id)
{
    *id = -1;
    if (b->len == 0)
        return 0;
    sqlite3_stmt *get = g->st[EVS_ST_GET_STR];
    sqlite3_bind_text(get, 1, b->data, (int)b->len, SQLITE_STATIC);
    int rc = sqlite3_step(get);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(get, 0);
    sqlite3_reset(get);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : evs__sqlerr(g->wdb, rc, g->path, "lookup");
}

/* Moves one day's matching unknown events (caller holds wmu). Returns the count or -errno. */
static int64_t adopt_day(evstore *s, evs_seg *g, const buf *source, const buf *host, int64_t device)
{
    int64_t sid, hid, moved = 0;
    int rc = evs__writer_open(s, g);
    if (rc || (rc = evs__exec(g->wdb, g->path, "BEGIN IMMEDIATE")))
        return rc;
    if ((rc = str_lookup(g, source, &sid)) || (rc = str_lookup(g, host, &hid)))
        goto out;
    if (sid < 0 && hid < 0)
        goto out;
    static const char *const sql[2] = {
        "UPDATE ev SET device = ?1 WHERE device = 0 AND (source = ?2 OR host = ?3)",
        "DELETE FROM unk WHERE source = ?2 OR host = ?3"};
    for (int i = 0; i < 2 && !rc; i++) {
        sqlite3_stmt *st = NULL;
        int src = sqlite3_prepare_v2(g->wdb, sql[i], -1, &st, NULL);
        if (src == SQLITE_OK) {
            if (i == 0)
                sqlite3_bind_int64(st, 1, device);
            sqlite3_bind_int64(st, 2, sid);
            sqlite3_bind_int64(st, 3, hid);
            src = sqlite3_step(st);
        }
        if (src != SQLITE_DONE)
            rc = evs__sqlerr(g->wdb, src, g->path, "adopt");
        else if (i == 0)
            moved = sqlite3_changes64(g->wdb);
        sqlite3_finalize(st);
    }
out:
    if (!rc)
        rc = evs__exec(g->wdb, g->path, "COMMIT");
    if (rc)
        sqlite3_exec(g->wdb, "ROLLBACK", NULL, NULL, NULL);
    return rc ? rc : moved;
}

int64_t evstore_adopt(evstore *s, const char *source, const char *host, int64_t device_id)
{
    if (!s || device_id <= 0 || ((!source || !*source) && (!host || !*host)))
        return -EINVAL;
    buf src, hst;
    buf_init(&src, 0);
    buf_init(&hst, 0);
    evs_seg **segs = NULL;
    size_t nsegs = 0;
    int64_t total = 0;
    int rc = evs__clean(&src, source ? source : "", EVENT_SHORT_MAX);
    if (!rc)
        rc = evs__clean(&hst, host ? host : "", EVENT_SHORT_MAX);
    if (!rc)
        rc = evs__segs_range(s, INT64_MIN / 2, INT64_MAX / 2, &segs, &nsegs);
    for (size_t i = 0; !rc && i < nsegs; i++) {
        evs_seg *g = segs[i];
        pthread_mutex_lock(&g->wmu);
        int64_t moved = adopt_day(s, g, &src, &hst, device_id);
        pthread_mutex_unlock(&g->wmu);
        if (moved < 0)
            rc = (int)moved;
        else
            total += moved;
    }
    evs__segs_release(s, segs, nsegs);
    buf_free(&src);
    buf_free(&hst);
    return rc ? rc : total;
}
