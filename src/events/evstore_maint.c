/* evstore_maint: the event store's housekeeping — retention by age and by size, sealing of
 * finished days, closing idle connections — and its statistics. */
#include "evstore_int.h"

#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/timeutil.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

/* Bytes of a day's WAL. */
static uint64_t wal_bytes(const evs_seg *g)
{
    uint64_t total = 0;
    struct stat st;
    size_t cap = strlen(g->path) + 8;
    char *p = mem_alloc(cap);
    if (p) {
        memcpy(p, g->path, cap - 8);
        memcpy(p + cap - 8, "-wal", 5);
        if (stat(p, &st) == 0)
            total = (uint64_t)st.st_size;
        mem_free(p);
    }
    return total;
}

/* Bytes of a day on disk: the database and its WAL. */
static uint64_t seg_bytes(const evs_seg *g)
{
    struct stat st;
    return (stat(g->path, &st) == 0 ? (uint64_t)st.st_size : 0) + wal_bytes(g);
}

static int64_t day_of(int64_t ms)
{
    return ms / EVS_DAY_MS - (ms % EVS_DAY_MS < 0);
}

/* Drops days past the retention, then the oldest while over max_bytes (never the newest). */
static void retention(evstore *s, evs_seg **v, size_t n, int64_t now_ms)
{
    int64_t cut = day_of(now_ms - s->retention_ms); /* days before cut ended before now - ret */
    uint64_t *size = mem_calloc(n ? n : 1, sizeof *size);
    uint64_t total = 0;
    size_t alive = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i]->day < cut) {
            log_info("events: dropping %s (older than the retention)", v[i]->path);
            evs__seg_kill(s, v[i]);
            continue;
        }
        alive++;
        if (size)
            total += size[i] = seg_bytes(v[i]);
    }
    if (!size) /* out of memory: the size rule waits for the next maintain */
        return;
    for (size_t i = 0; i < n && alive > 1 && total > s->max_bytes; i++) {
        if (v[i]->day < cut)
            continue;
        log_info("events: dropping %s (the store is over %llu bytes)", v[i]->path,
                 (unsigned long long)s->max_bytes);
        evs__seg_kill(s, v[i]);
        total -= size[i];
        alive--;
    }
    mem_free(size);
}

/* Closes reader connections unused for EVS_IDLE_MS and writers of days no longer written. */
static void close_idle(evstore *s, evs_seg *g, int64_t today)
{
    int64_t now = timeutil_mono_ms();
    sqlite3 *idle[EVS_READERS_MAX];
    int n = 0;
    pthread_mutex_lock(&s->mu);
    if (now - g->used_mono >= EVS_IDLE_MS) {
        n = g->nreaders;
        memcpy(idle, g->readers, (size_t)n * sizeof *idle);
        g->nreaders = 0;
    }
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < n; i++)
        sqlite3_close(idle[i]);
    if (g->day < today - 1 && pthread_mutex_trylock(&g->wmu) == 0) {
        if (g->wdb && now - g->wused_mono >= EVS_IDLE_MS)
            evs__writer_close(g);
        pthread_mutex_unlock(&g->wmu);
    }
}

void evstore_maintain(evstore *s, int64_t now_ms)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->maint_mu);
    evs_seg **v = NULL;
    size_t n = 0;
    if (evs__segs_all(s, &v, &n)) {
        log_warn("events: maintenance skipped (out of memory)");
        goto out;
    }
    retention(s, v, n, now_ms);
    int64_t today = day_of(now_ms);
    for (size_t i = 0; i < n; i++) {
        evs_seg *g = v[i];
        pthread_mutex_lock(&s->mu);
        int dead = g->dead;
        pthread_mutex_unlock(&s->mu);
        if (dead || !__atomic_load_n(&g->ready, __ATOMIC_ACQUIRE))
            continue;
        if (g->day <= today - 2 && !__atomic_load_n(&g->sealed, __ATOMIC_ACQUIRE)) {
            int64_t t0 = timeutil_mono_ms();
            int rc = evs__seal(s, g);
            if (rc)
                log_error("events: sealing %s failed (%s); retried at the next maintenance",
                          g->path, strerror(-rc));
            else
                log_debug("events: sealed %s in %lld ms", g->path,
                          (long long)(timeutil_mono_ms() - t0));
        }
        /* A sealed day's WAL held up by readers when it was compacted. */
        if (g->day <= today - 2 && __atomic_load_n(&g->sealed, __ATOMIC_ACQUIRE) &&
            wal_bytes(g) > (4u << 20) && pthread_mutex_trylock(&g->wmu) == 0) {
            if (evs__writer_open(s, g) == 0)
                evs__wal_truncate(g);
            pthread_mutex_unlock(&g->wmu);
        }
        close_idle(s, g, today);
    }
out:
    evs__segs_release(s, v, n);
    pthread_mutex_unlock(&s->maint_mu);
}

int evstore_stats_get(evstore *s, evstore_stats *st)
{
    memset(st, 0, sizeof *st);
    evs_seg **v = NULL;
    size_t n = 0;
    int rc = evs__segs_all(s, &v, &n);
    for (size_t i = 0; !rc && i < n; i++) {
        if (!__atomic_load_n(&v[i]->ready, __ATOMIC_ACQUIRE))
            continue;
        st->segments++;
        st->events += __atomic_load_n(&v[i]->n, __ATOMIC_RELAXED);
        st->sealed += __atomic_load_n(&v[i]->sealed, __ATOMIC_RELAXED) != 0;
        st->bytes += seg_bytes(v[i]);
    }
    evs__segs_release(s, v, n);
    return rc;
}
