/* evstore: the event store — days on disk, connections, appends. Queries are in
 * evstore_query.c, sealing in evstore_seal.c, housekeeping in evstore_maint.c, unknown senders
 * in evstore_unknown.c, string repair and search syntax in evstore_text.c.
 *
 * DESIGN (figures from bench/events/evbench on the 2-core VM, nice -n 19, other work running;
 * syslog-like events of 60-200 bytes, 1 M per day, see bench/events/README.md)
 *
 * Days. One SQLite database per UTC day of placement time, DIR/ev-YYYY-MM-DD.db, in WAL mode.
 * A day is the unit of everything that would otherwise need deletes or rewrites: retention
 * unlinks whole files, sealing compresses one finished file, a query walks days newest first
 * and stops as soon as it has its page, so its work is bounded by a day, not by the store.
 * Placement time is the event's t_ms unless that is absurd (<= 0, more than a day after
 * recv_ms, or older than the retention): then recv_ms, so a sender with a broken clock can
 * neither create a day in 1970 nor in 2090. t_ms is kept as the sender said.
 *
 * Tables of a day: ev (one row per event: id, placement ms within its second, t and recv as
 * deltas from placement — 0 bytes when equal —, device, sensor, severity, facility, status,
 * kind/host/app/source as ids into str, the interned strings of the day, fingerprint, title,
 * text — NULL when equal to the title —, fields, blk); indexes ev_device(device) and
 * ev_sensor(sensor), whose entries end in the rowid so "device = ? ORDER BY id DESC" walks the
 * index backwards without sorting; partial indexes ev_fp (events with a fingerprint), ev_kind
 * (kinds other than syslog, which is str id 1 in every day) and ev_sev (severity <= warning,
 * 15% of rows, 1.9 B/event: "errors only" over a month that has none went from 600 ms, a scan
 * of 10 M rows, to 0.6 ms); fts, the full-text index; unk, unknown senders; blk and dict once
 * sealed; meta (schema version, count, sealed).
 *
 * Ids: placement second << 20 | arrival sequence within that second. They are unique, grow
 * with time across days (the day is in the id), a time range is a rowid range (the
 * milliseconds at both ends are checked on the row), and an id is a stable paging cursor: a
 * late event lands among its contemporaries, so it appears in pages not yet read, never twice.
 * Within one second events are in arrival order; a second with 2^20 events spills into the
 * next. Why seconds and not milliseconds: FTS5 stores doclists as rowid deltas, and sparse
 * rowids make them long. With ids in ms << 20 the index took 192 B/event, ms << 10 162 B,
 * seconds << 20 147 B (events of one second differ by 1), dense 1, 2, 3... 113 B — but dense
 * ids cannot be time-ordered once events arrive late.
 *
 * Full text: FTS5 over host, app, title, text, contentless (content=''), columnsize=0,
 * detail=full (phrases need positions), unicode61 with diacritics removed. Contentless because
 * the store never deletes single rows (retention drops days, adoption changes devices only) and
 * it keeps the text itself: 150 B/event against 317 B for a regular FTS5 table that keeps its
 * own copy; an external-content table (content='ev') has the same index size but would need
 * ev's columns to stay where FTS5 reads them, which sealing moves. detail=none would be 71 B
 * but cannot do phrases. Measured and not done: host and app cost 46 B/event of the index (an
 * entry per event for very common terms); dense rowids at sealing would save 36 B. Both need a
 * second query path; see "left out" in the report of issue 13. While a day is written FTS5
 * merges lazily (automerge 16, crisismerge 64: 55 k → 71 k events/s of CPU); sealing merges
 * the day's index into one b-tree ('optimize').
 *
 * Searches are translated, never passed through: every word and phrase becomes a quoted FTS5
 * string (so AND, OR, NOT, NEAR, col:, ^, - and SQL in a search are plain text), terms are
 * ANDed, "*" may end a word or phrase after at least 2 letters (1-letter prefixes took ~200 ms
 * on 10 M events), words without letters or digits are dropped (FTS5 would match nothing), and
 * a bad search (unbalanced quote, '*' inside a word, no words, > 32 words, > 1 KiB, invalid
 * UTF-8) is -EINVAL with a reason and a position.
 *
 * Sealing (evstore_maintain, once a day ended more than a day ago, so late events land in an
 * open day): title, text and fields of 64 consecutive events go into a zstd block (level 9)
 * laid out column by column, with a 64 KiB dictionary trained on samples of the day; rows keep
 * everything else and point at (block, slot); then the FTS index is optimized and the file
 * VACUUMed. On these messages 64-event blocks with a dictionary take 2.28 MB where 1024-event
 * blocks without one take 2.46 MB and 64 without 3.0 MB; and a search hit decodes ~9 KB
 * instead of ~140 KB (a rank-1000 word over sealed days: 25 ms with 1024-event blocks, 2.4 ms
 * now). Late events into a sealed day are stored open, the day is marked unsealed and sealed
 * again at the next maintenance (compacted again only when many came). Sealing holds the day's
 * write lock per transaction of 256 blocks and during optimize + VACUUM (~13 s per 1 M events),
 * so only appends to that old day wait.
 *
 * Bytes per event (1 M events per day): open 370 (ev 178 of which the message is 134, FTS 168
 * unmerged, device and sensor indexes 28); sealed 280 (FTS 147, blocks 64, ev 41, indexes 30).
 * rsyslog writes the same events as 174 B lines (69 B once logrotate gzips them) with no index.
 *
 * Durability: WAL with synchronous=NORMAL. A commit is a write() of its WAL frames, so it is in
 * the kernel when evstore_append returns: kill -9 of dashdot loses nothing acknowledged
 * (test_evstore kills a child mid-stream and finds every acknowledged id); a power loss can
 * lose the last commits since the last checkpoint's fsync, unless opts.sync_full (an fsync per
 * append). Appends of one day are one transaction (all or nothing); a batch spanning days
 * commits day by day, and on failure ids[] says which events are stored.
 *
 * Threads: each day has one writer connection behind its write lock (appends, sealing,
 * adoption); queries take reader connections from a small per-day pool (WAL readers never
 * block the writer nor each other). The list of days and the pools are under s->mu, never held
 * during SQL. A day dropped by retention while a query reads it keeps its files until the last
 * reference goes; events for it are refused meanwhile (a second file of the same name could
 * otherwise lose its WAL when SQLite closes the first).
 *
 * Append rate on one core (CPU time of the appending thread; wall-clock lower on this shared
 * VM): batches of 1000: 72-81 k events/s, of 100: 51-58 k/s, of 1: 11 k/s (a transaction per
 * event: WAL frames of five b-trees and an FTS5 segment each time). FTS5 is 70% of the cost: ev
 * rows alone go at 206 k/s. Callers that receive many events should batch them (the syslog receiver
 * per read loop). Search over 10 M sealed events (10 days), newest 100: a word in 69% of
 * events 0.3 ms, in 12% 0.5 ms, in 0.13% 2.4 ms, in 0.003% (300 hits) 2.7 ms, absent 0.4 ms;
 * two words 0.6 ms; a phrase 2.2 ms; 2-letter prefix 47 ms. Filters: device 1.4 ms, device + 1 h
 * range 1.5 ms, sensor 0.3 ms, severity <= critical 1.7 ms, device + word 4.4 ms, a kind other
 * than syslog 0.4 ms (ev_kind, a partial index of the non-syslog events; before it, a scan:
 * 0.7 s on 10 M events). */
#include "evstore_int.h"

#include "../lib/fsutil.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/timeutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCHEMA_VERSION 1

static const char schema_sql[] =
    "BEGIN;"
    "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL) STRICT;"
    "CREATE TABLE IF NOT EXISTS str (id INTEGER PRIMARY KEY, s TEXT NOT NULL UNIQUE) STRICT;"
    "CREATE TABLE IF NOT EXISTS ev (id INTEGER PRIMARY KEY, off INTEGER NOT NULL, t INTEGER NOT "
    "NULL,"
    " recv INTEGER NOT NULL, device INTEGER NOT NULL, sensor INTEGER NOT NULL,"
    " sev INTEGER NOT NULL, fac INTEGER NOT NULL, status INTEGER NOT NULL,"
    " kind INTEGER NOT NULL, host INTEGER NOT NULL, app INTEGER NOT NULL,"
    " source INTEGER NOT NULL, fp TEXT NOT NULL, title TEXT, text TEXT, fields TEXT,"
    " blk INTEGER) STRICT;"
    "CREATE INDEX IF NOT EXISTS ev_device ON ev(device);"
    "CREATE INDEX IF NOT EXISTS ev_sensor ON ev(sensor);"
    "CREATE INDEX IF NOT EXISTS ev_fp ON ev(fp) WHERE fp <> '';"
    "CREATE INDEX IF NOT EXISTS ev_sev ON ev(sev) WHERE sev <= 4;"
    /* str id 1 is always "syslog", the kind of most events: the other kinds are indexed. */
    "INSERT OR IGNORE INTO str(id, s) VALUES (1, 'syslog');"
    "CREATE INDEX IF NOT EXISTS ev_kind ON ev(kind) WHERE kind <> 1;"
    "CREATE TABLE IF NOT EXISTS blk (id INTEGER PRIMARY KEY, dict INTEGER, data BLOB NOT NULL)"
    " STRICT;"
    "CREATE TABLE IF NOT EXISTS dict (id INTEGER PRIMARY KEY, data BLOB NOT NULL) STRICT;"
    "CREATE TABLE IF NOT EXISTS unk (source INTEGER NOT NULL, host INTEGER NOT NULL,"
    " sensor INTEGER NOT NULL, n INTEGER NOT NULL, first INTEGER NOT NULL,"
    " last INTEGER NOT NULL, PRIMARY KEY (source, host, sensor)) STRICT, WITHOUT ROWID;"
    "CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(host, app, title, text, content='',"
    " columnsize=0, tokenize='unicode61 remove_diacritics 2');"
    "INSERT OR IGNORE INTO meta VALUES ('version', 1), ('n', 0), ('sealed', 0),"
    " ('compacted', 0);"
    /* Fewer, larger merges while a day is written (sealing merges it all once). */
    "INSERT INTO fts(fts, rank) VALUES ('automerge', 16);"
    "INSERT INTO fts(fts, rank) VALUES ('crisismerge', 64);"
    "COMMIT;";

static const char *const writer_sql[EVS_ST_N] = {
    [EVS_ST_INS_EV] = "INSERT INTO ev VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                      " ?, NULL)",
    [EVS_ST_INS_FTS] = "INSERT INTO fts(rowid, host, app, title, text) VALUES (?, ?, ?, ?, ?)",
    [EVS_ST_UPS_UNK] = "INSERT INTO unk VALUES (?, ?, ?, 1, ?, ?) ON CONFLICT DO UPDATE SET"
                       " n = n + 1, first = min(first, excluded.first),"
                       " last = max(last, excluded.last)",
    [EVS_ST_GET_STR] = "SELECT id FROM str WHERE s = ?",
    [EVS_ST_INS_STR] = "INSERT INTO str(s) VALUES (?)",
    [EVS_ST_MAX_MS] = "SELECT max(id) FROM ev WHERE id BETWEEN ? AND ?",
    [EVS_ST_ADD_N] = "UPDATE meta SET v = v + ? WHERE k = 'n'",
    [EVS_ST_SET_SEALED] = "UPDATE meta SET v = ? WHERE k = 'sealed'",
};

/* ---------------------------------------------------------------- calendar */

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Parses "ev-YYYY-MM-DD.db" into a day number. Returns 0 or -1. */
static int parse_seg_name(const char *name, int64_t *day)
{
    unsigned y, m, d;
    char tail[4];
    if (strlen(name) != 16 || sscanf(name, "ev-%4u-%2u-%2u.%3s", &y, &m, &d, tail) != 4 ||
        strcmp(tail, "db") != 0 || m < 1 || m > 12 || d < 1 || d > 31)
        return -1;
    *day = timeutil_days_from_civil(y, m, d);
    int64_t yy;
    unsigned mm, dd;
    timeutil_civil_from_days(*day, &yy, &mm, &dd);
    return yy == (int64_t)y && mm == m && dd == d ? 0 : -1;
}

/* ---------------------------------------------------------------- errors and SQL */

int evs__sqlerr(sqlite3 *db, int rc, const char *path, const char *what)
{
    int prim = rc & 0xFF;
    log_error("events: %s: %s: %s", path ? path : "store", what,
              db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    return prim == SQLITE_FULL ? -ENOSPC : prim == SQLITE_NOMEM ? -ENOMEM : -EIO;
}

int evs__exec(sqlite3 *db, const char *path, const char *sql)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : evs__sqlerr(db, rc, path, sql);
}

/* ---------------------------------------------------------------- days */

static evs_seg *seg_new(evstore *s, int64_t day)
{
    evs_seg *g = mem_calloc(1, sizeof *g);
    if (!g)
        return NULL;
    int64_t y;
    unsigned m, d;
    timeutil_civil_from_days(day, &y, &m, &d);
    size_t cap = strlen(s->dir) + 32;
    if (!(g->path = mem_alloc(cap))) {
        mem_free(g);
        return NULL;
    }
    snprintf(g->path, cap, "%s/ev-%04" PRId64 "-%02u-%02u.db", s->dir, y, m, d);
    g->day = day;
    g->max_local = -1;
    pthread_mutex_init(&g->wmu, NULL);
    hmap_init(&g->strs);
    return g;
}

void evs__writer_close(evs_seg *g)
{
    for (int i = 0; i < EVS_ST_N; i++) {
        sqlite3_finalize(g->st[i]);
        g->st[i] = NULL;
    }
    if (g->wdb)
        sqlite3_close(g->wdb);
    g->wdb = NULL;
    hmap_free(&g->strs);
    hmap_init(&g->strs);
}

static void seg_destroy(evs_seg *g, int remove_files)
{
    if (!g)
        return;
    for (int i = 0; i < g->nreaders; i++)
        sqlite3_close(g->readers[i]);
    evs__writer_close(g);
    if (remove_files) {
        static const char *const suffix[] = {"", "-wal", "-shm"};
        size_t cap = strlen(g->path) + 8;
        char *p = mem_alloc(cap);
        for (int i = 0; p && i < 3; i++) {
            snprintf(p, cap, "%s%s", g->path, suffix[i]);
            if (unlink(p) && errno != ENOENT)
                log_warn("events: cannot remove %s: %s", p, strerror(errno));
        }
        mem_free(p);
    }
    hmap_free(&g->strs);
    pthread_mutex_destroy(&g->wmu);
    mem_free(g->path);
    mem_free(g);
}

/* Drops a reference; the last one of a dead day removes its files, then takes it off the list
 * (so no new file for that day can appear before the old one is gone). */
void evs__seg_unref(evstore *s, evs_seg *g)
{
    pthread_mutex_lock(&s->mu);
    int last = --g->refs == 0;
    pthread_mutex_unlock(&s->mu);
    if (!last)
        return;
    for (int i = 0; i < g->nreaders; i++)
        sqlite3_close(g->readers[i]);
    g->nreaders = 0;
    evs__writer_close(g);
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nsegs; i++)
        if (s->segs[i] == g) {
            memmove(s->segs + i, s->segs + i + 1, (s->nsegs - i - 1) * sizeof *s->segs);
            s->nsegs--;
            break;
        }
    pthread_mutex_unlock(&s->mu);
    seg_destroy(g, 1);
}

void evs__seg_kill(evstore *s, evs_seg *g)
{
    pthread_mutex_lock(&s->mu);
    int drop = !g->dead;
    if (drop) {
        g->dead = 1;
        g->refs--; /* the list's reference; the caller still holds one */
    }
    pthread_mutex_unlock(&s->mu);
}

/* Index of the first day >= day in s->segs (caller holds s->mu). */
static size_t seg_find(const evstore *s, int64_t day)
{
    size_t lo = 0, hi = s->nsegs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->segs[mid]->day < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Inserts g into the list (caller holds s->mu). Returns 0 or -ENOMEM. */
static int seg_insert(evstore *s, evs_seg *g)
{
    if (mem_grow((void **)&s->segs, &s->capsegs, s->nsegs, sizeof *s->segs, 16))
        return -ENOMEM;
    size_t i = seg_find(s, g->day);
    memmove(s->segs + i + 1, s->segs + i, (s->nsegs - i) * sizeof *s->segs);
    s->segs[i] = g;
    s->nsegs++;
    g->refs = 1;
    return 0;
}

/* The day's segment with a reference, created (without its file yet) when absent. */
static int seg_get(evstore *s, int64_t day, evs_seg **out)
{
    pthread_mutex_lock(&s->mu);
    size_t i = seg_find(s, day);
    evs_seg *g = i < s->nsegs && s->segs[i]->day == day ? s->segs[i] : NULL;
    int rc = 0;
    if (!g) {
        if (!(g = seg_new(s, day)))
            rc = -ENOMEM;
        else if ((rc = seg_insert(s, g))) {
            seg_destroy(g, 0);
            g = NULL;
        }
    }
    if (g && g->dead) {
        /* Being dropped by retention: a new file for the day must wait until the old one is
         * gone (SQLite would otherwise delete the new file's WAL when closing the old one). */
        log_warn("events: %s is being dropped; events for its day are refused", g->path);
        g = NULL;
        rc = -EIO;
    }
    if (g)
        g->refs++;
    pthread_mutex_unlock(&s->mu);
    *out = g;
    return rc;
}

int evs__segs_range(evstore *s, int64_t lo, int64_t hi, evs_seg ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&s->mu);
    size_t a = seg_find(s, lo), b = a;
    while (b < s->nsegs && s->segs[b]->day <= hi)
        b++;
    int rc = 0;
    if (b > a) {
        evs_seg **v = mem_alloc((b - a) * sizeof *v);
        if (!v)
            rc = -ENOMEM;
        for (size_t i = b; v && i > a; i--) {
            evs_seg *g = s->segs[i - 1];
            if (g->dead || !__atomic_load_n(&g->ready, __ATOMIC_ACQUIRE))
                continue;
            g->refs++;
            v[(*n)++] = g;
        }
        *out = v;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int evs__segs_all(evstore *s, evs_seg ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    if (s->nsegs && !(*out = mem_alloc(s->nsegs * sizeof **out)))
        rc = -ENOMEM;
    for (size_t i = 0; *out && i < s->nsegs; i++) {
        if (s->segs[i]->dead)
            continue;
        s->segs[i]->refs++;
        (*out)[(*n)++] = s->segs[i];
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void evs__segs_release(evstore *s, evs_seg **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        evs__seg_unref(s, v[i]);
    mem_free(v);
}

/* ---------------------------------------------------------------- connections */

static int open_db(const char *path, int create, sqlite3 **db)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path, db, flags, NULL);
    if (rc != SQLITE_OK) {
        rc = evs__sqlerr(*db, rc, path, "open");
        sqlite3_close(*db);
        *db = NULL;
        return rc;
    }
    sqlite3_busy_timeout(*db, 10000);
    return 0;
}

int evs__query_int(sqlite3 *db, const char *path, const char *sql, int64_t dflt, int64_t *v)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        *v = sqlite3_column_type(st, 0) == SQLITE_NULL ? dflt : sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        *v = dflt;
        rc = SQLITE_OK;
    }
    int err = rc == SQLITE_OK ? 0 : evs__sqlerr(db, rc, path, sql);
    sqlite3_finalize(st);
    return err;
}

int evs__writer_open(evstore *s, evs_seg *g)
{
    if (g->wdb)
        return 0;
    int rc = open_db(g->path, 1, &g->wdb);
    if (rc)
        return rc;
    int64_t version = 0, n = 0, sealed = 0;
    if ((rc = evs__exec(g->wdb, g->path, "PRAGMA journal_mode=WAL")) ||
        (rc = evs__exec(g->wdb, g->path,
                        s->sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL")) ||
        (rc = evs__exec(g->wdb, g->path,
                        "PRAGMA journal_size_limit=67108864; PRAGMA cache_size=-16384")) ||
        (rc = evs__exec(g->wdb, g->path, schema_sql)))
        goto fail;
    if ((rc = evs__query_int(g->wdb, g->path, "SELECT v FROM meta WHERE k = 'version'", 0,
                             &version)))
        goto fail;
    if (version != SCHEMA_VERSION) {
        log_error("events: %s: schema version %" PRId64 ", this dashdot reads %d", g->path, version,
                  SCHEMA_VERSION);
        rc = -EIO;
        goto fail;
    }
    if ((rc = evs__query_int(g->wdb, g->path, "SELECT v FROM meta WHERE k = 'n'", 0, &n)) ||
        (rc = evs__query_int(g->wdb, g->path, "SELECT v FROM meta WHERE k = 'sealed'", 0,
                             &sealed)) ||
        (rc = evs__query_int(g->wdb, g->path, "SELECT max(id) FROM ev", -1, &g->max_local)))
        goto fail;
    for (int i = 0; i < EVS_ST_N; i++) {
        int src = sqlite3_prepare_v3(g->wdb, writer_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                     &g->st[i], NULL);
        if (src != SQLITE_OK) {
            rc = evs__sqlerr(g->wdb, src, g->path, "prepare");
            goto fail;
        }
    }
    __atomic_store_n(&g->n, (uint64_t)n, __ATOMIC_RELAXED);
    __atomic_store_n(&g->sealed, (int)sealed, __ATOMIC_RELAXED);
    __atomic_store_n(&g->ready, 1, __ATOMIC_RELEASE);
    g->wused_mono = timeutil_mono_ms();
    return 0;
fail:
    evs__writer_close(g);
    return rc;
}

int evs__reader_get(evstore *s, evs_seg *g, sqlite3 **db)
{
    pthread_mutex_lock(&s->mu);
    *db = g->nreaders ? g->readers[--g->nreaders] : NULL;
    pthread_mutex_unlock(&s->mu);
    if (*db)
        return 0;
    int rc = open_db(g->path, 0, db);
    if (!rc && (rc = evs__exec(*db, g->path, "PRAGMA query_only=1"))) {
        sqlite3_close(*db);
        *db = NULL;
    }
    return rc;
}

void evs__reader_put(evstore *s, evs_seg *g, sqlite3 *db)
{
    if (!db)
        return;
    pthread_mutex_lock(&s->mu);
    int keep = !g->dead && g->nreaders < EVS_READERS_MAX;
    if (keep) {
        g->readers[g->nreaders++] = db;
        g->used_mono = timeutil_mono_ms();
    }
    pthread_mutex_unlock(&s->mu);
    if (!keep)
        sqlite3_close(db);
}

/* ---------------------------------------------------------------- open, close */

static int tokenizer_open(evstore *s, char *err, size_t errcap)
{
    if (sqlite3_open_v2(":memory:", &s->tokdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        snprintf(err, errcap, "events: cannot open SQLite");
        return -ENOMEM;
    }
    fts5_api *api = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->tokdb, "SELECT fts5(?1)", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
        sqlite3_step(st);
    }
    sqlite3_finalize(st);
    void *ud = NULL;
    const char *args[] = {"remove_diacritics", "2"};
    if (!api || api->xFindTokenizer(api, "unicode61", &ud, &s->tokapi) != SQLITE_OK ||
        s->tokapi.xCreate(ud, args, 2, &s->tok) != SQLITE_OK) {
        snprintf(err, errcap, "events: SQLite has no FTS5 unicode61 tokenizer");
        s->tok = NULL;
        return -EIO;
    }
    return 0;
}

/* Opens every day found in the directory. A day that cannot be read is logged and left out. */
static int scan_dir(evstore *s, char *err, size_t errcap)
{
    DIR *d = opendir(s->dir);
    if (!d) {
        snprintf(err, errcap, "events: cannot read %s: %s", s->dir, strerror(errno));
        return -errno;
    }
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        int64_t day;
        if (parse_seg_name(e->d_name, &day))
            continue;
        evs_seg *g = seg_new(s, day);
        if (!g || (rc = seg_insert(s, g))) {
            seg_destroy(g, 0);
            rc = -ENOMEM;
            break;
        }
        pthread_mutex_lock(&g->wmu);
        int orc = evs__writer_open(s, g);
        pthread_mutex_unlock(&g->wmu);
        if (orc == -ENOMEM)
            rc = orc;
        else if (orc)
            log_error("events: %s cannot be read; its events are left out", g->path);
    }
    closedir(d);
    if (rc)
        snprintf(err, errcap, "events: out of memory");
    return rc;
}

int evstore_open(evstore **out, const char *dir, const evstore_opts *o, char *err, size_t errcap)
{
    char dummy[1];
    if (!err || !errcap)
        err = dummy, errcap = sizeof dummy;
    *out = NULL;
    if (!dir || !*dir) {
        snprintf(err, errcap, "events: no directory");
        return -EINVAL;
    }
    evstore *s = mem_calloc(1, sizeof *s);
    if (!s || !(s->dir = mem_strdup(dir))) {
        mem_free(s);
        snprintf(err, errcap, "events: out of memory");
        return -ENOMEM;
    }
    s->lockfd = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->maint_mu, NULL);
    pthread_mutex_init(&s->tok_mu, NULL);
    s->retention_ms = o && o->retention_ms > 0 ? o->retention_ms : EVSTORE_RETENTION_DEFAULT;
    s->max_bytes = o && o->max_bytes ? o->max_bytes : EVSTORE_MAX_BYTES_DEFAULT;
    s->sync_full = o && o->sync_full;
    int rc = fsutil_mkdirs(dir);
    if (rc) {
        snprintf(err, errcap, "events: cannot create %s: %s", dir, strerror(-rc));
        goto fail;
    }
    size_t cap = strlen(dir) + 8;
    char *lock = mem_alloc(cap);
    if (!lock) {
        rc = -ENOMEM;
        snprintf(err, errcap, "events: out of memory");
        goto fail;
    }
    snprintf(lock, cap, "%s/LOCK", dir);
    s->lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    mem_free(lock);
    if (s->lockfd < 0 || flock(s->lockfd, LOCK_EX | LOCK_NB)) {
        rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
        snprintf(err, errcap, "events: %s: %s", dir,
                 rc == -EBUSY ? "in use by another event store" : strerror(-rc));
        goto fail;
    }
    if ((rc = tokenizer_open(s, err, errcap)) || (rc = scan_dir(s, err, errcap)))
        goto fail;
    *out = s;
    return 0;
fail:
    evstore_close(s);
    return rc;
}

void evstore_close(evstore *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nsegs; i++)
        seg_destroy(s->segs[i], s->segs[i]->dead);
    mem_free(s->segs);
    if (s->tok)
        s->tokapi.xDelete(s->tok);
    sqlite3_close(s->tokdb);
    if (s->lockfd >= 0)
        close(s->lockfd);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->maint_mu);
    pthread_mutex_destroy(&s->tok_mu);
    mem_free(s->dir);
    mem_free(s);
}

/* ---------------------------------------------------------------- appends */

enum { C_KIND, C_HOST, C_APP, C_SOURCE, C_FP, C_TITLE, C_TEXT, C_FIELDS, C_TMP, C_N };

typedef struct cleaned {
    buf b[C_N];
} cleaned;

static int clean_event(cleaned *c, const event *e)
{
    int rc;
    if ((rc = evs__clean(&c->b[C_KIND], e->kind, EVENT_SHORT_MAX)) ||
        (rc = evs__clean(&c->b[C_HOST], e->host, EVENT_SHORT_MAX)) ||
        (rc = evs__clean(&c->b[C_APP], e->app, EVENT_SHORT_MAX)) ||
        (rc = evs__clean(&c->b[C_SOURCE], e->source, EVENT_SHORT_MAX)) ||
        (rc = evs__clean(&c->b[C_FP], e->fingerprint, EVENT_SHORT_MAX)) ||
        (rc = evs__clean(&c->b[C_TITLE], e->title, EVENT_TITLE_MAX)) ||
        (rc = evs__clean(&c->b[C_TEXT], e->text, EVENT_TEXT_MAX)) ||
        (rc = evs__clean_fields(&c->b[C_FIELDS], &c->b[C_TMP], e->fields)))
        return rc;
    return 0;
}

/* The interned id of a string of the day (caller holds wmu, inside a transaction). */
static int seg_str(evs_seg *g, const buf *b, int64_t *id)
{
    void *v = hmap_get(&g->strs, b->data, b->len);
    if (v) {
        *id = (int64_t)(intptr_t)v;
        return 0;
    }
    sqlite3_stmt *get = g->st[EVS_ST_GET_STR], *ins = g->st[EVS_ST_INS_STR];
    sqlite3_bind_text(get, 1, b->data, (int)b->len, SQLITE_STATIC);
    int rc = sqlite3_step(get);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(get, 0);
    sqlite3_reset(get);
    if (rc == SQLITE_DONE) {
        sqlite3_bind_text(ins, 1, b->data, (int)b->len, SQLITE_STATIC);
        rc = sqlite3_step(ins);
        sqlite3_reset(ins);
        if (rc != SQLITE_DONE)
            return evs__sqlerr(g->wdb, rc, g->path, "intern");
        *id = sqlite3_last_insert_rowid(g->wdb);
    } else if (rc != SQLITE_ROW)
        return evs__sqlerr(g->wdb, rc, g->path, "intern");
    if (g->strs.len >= EVS_STRS_CACHE_MAX) {
        hmap_free(&g->strs);
        hmap_init(&g->strs);
    }
    return hmap_put(&g->strs, b->data, b->len, (void *)(intptr_t)*id);
}

/* The next free local id in second sec of the day, or a later second when that one is full
 * (2^20 events). Caller holds wmu, inside a transaction. */
static int seg_next_local(evs_seg *g, int64_t sec, int64_t *local)
{
    for (; sec < EVS_DAY_S; sec++) {
        int64_t base = sec << EVS_SEQ_BITS;
        if (base > g->max_local) {
            *local = base;
            break;
        }
        int64_t m;
        if ((g->max_local >> EVS_SEQ_BITS) == sec) {
            m = g->max_local;
        } else {
            sqlite3_stmt *st = g->st[EVS_ST_MAX_MS];
            sqlite3_bind_int64(st, 1, base);
            sqlite3_bind_int64(st, 2, base | EVS_SEQ_MASK);
            int rc = sqlite3_step(st);
            int none = rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_NULL;
            m = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
            sqlite3_reset(st);
            if (rc != SQLITE_ROW)
                return evs__sqlerr(g->wdb, rc, g->path, "next id");
            if (none) {
                *local = base;
                break;
            }
        }
        if ((m & EVS_SEQ_MASK) != EVS_SEQ_MASK) {
            *local = m + 1;
            break;
        }
    }
    if (sec == EVS_DAY_S) {
        log_error("events: %s: no id left at the end of the day", g->path);
        return -EIO;
    }
    if (*local > g->max_local)
        g->max_local = *local;
    return 0;
}

static int step_done(evs_seg *g, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : evs__sqlerr(g->wdb, rc, g->path, what);
}

/* Stores one event (caller holds wmu, inside a transaction). */
static int insert_one(evs_seg *g, cleaned *c, const event *e, int64_t eff, int64_t recv,
                      int64_t *local)
{
    int64_t k, h, a, src;
    int rc;
    if ((rc = clean_event(c, e)) || (rc = seg_str(g, &c->b[C_KIND], &k)) ||
        (rc = seg_str(g, &c->b[C_HOST], &h)) || (rc = seg_str(g, &c->b[C_APP], &a)) ||
        (rc = seg_str(g, &c->b[C_SOURCE], &src)) ||
        (rc = seg_next_local(g, eff / 1000 - g->day * EVS_DAY_S, local)))
        return rc;
    /* A full second spills into the next: the placement time then follows the id. */
    int64_t placed = (g->day * EVS_DAY_S + (*local >> EVS_SEQ_BITS)) * 1000;
    if (placed > eff)
        eff = placed;
    int64_t t = e->t_ms < -EVS_MS_MAX ? -EVS_MS_MAX : e->t_ms > EVS_MS_MAX ? EVS_MS_MAX : e->t_ms;
    int64_t device = e->device_id > 0 ? e->device_id : 0;
    int64_t sensor = e->sensor_id > 0 ? e->sensor_id : 0;
    int sev = e->severity >= 0 && e->severity < EVENT_SEVERITY_N ? e->severity : EVENT_INFO;
    int fac = e->facility >= 0 && e->facility <= 23 ? e->facility : -1;
    int status =
        e->status >= EVENT_STATUS_NONE && e->status <= EVENT_STATUS_RESOLVED ? e->status : 0;
    const buf *title = &c->b[C_TITLE], *text = &c->b[C_TEXT];
    int same = text->len == title->len && memcmp(text->data, title->data, text->len) == 0;
    sqlite3_stmt *st = g->st[EVS_ST_INS_EV];
    sqlite3_bind_int64(st, 1, *local);
    sqlite3_bind_int64(st, 2, eff % 1000);
    sqlite3_bind_int64(st, 3, t - eff);
    sqlite3_bind_int64(st, 4, recv - eff);
    sqlite3_bind_int64(st, 5, device);
    sqlite3_bind_int64(st, 6, sensor);
    sqlite3_bind_int(st, 7, sev);
    sqlite3_bind_int(st, 8, fac);
    sqlite3_bind_int(st, 9, status);
    sqlite3_bind_int64(st, 10, k);
    sqlite3_bind_int64(st, 11, h);
    sqlite3_bind_int64(st, 12, a);
    sqlite3_bind_int64(st, 13, src);
    sqlite3_bind_text(st, 14, c->b[C_FP].data, (int)c->b[C_FP].len, SQLITE_STATIC);
    sqlite3_bind_text(st, 15, title->data, (int)title->len, SQLITE_STATIC);
    if (same)
        sqlite3_bind_null(st, 16);
    else
        sqlite3_bind_text(st, 16, text->data, (int)text->len, SQLITE_STATIC);
    sqlite3_bind_text(st, 17, c->b[C_FIELDS].data, (int)c->b[C_FIELDS].len, SQLITE_STATIC);
    if ((rc = step_done(g, st, "append")))
        return rc;
    st = g->st[EVS_ST_INS_FTS];
    sqlite3_bind_int64(st, 1, *local);
    sqlite3_bind_text(st, 2, c->b[C_HOST].data, (int)c->b[C_HOST].len, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, c->b[C_APP].data, (int)c->b[C_APP].len, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, title->data, (int)title->len, SQLITE_STATIC);
    if (same)
        sqlite3_bind_null(st, 5);
    else
        sqlite3_bind_text(st, 5, text->data, (int)text->len, SQLITE_STATIC);
    if ((rc = step_done(g, st, "index")))
        return rc;
    if (device == 0) {
        st = g->st[EVS_ST_UPS_UNK];
        sqlite3_bind_int64(st, 1, src);
        sqlite3_bind_int64(st, 2, h);
        sqlite3_bind_int64(st, 3, sensor);
        sqlite3_bind_int64(st, 4, recv);
        sqlite3_bind_int64(st, 5, recv);
        rc = step_done(g, st, "unknown sender");
    }
    return rc;
}

typedef struct plan {
    int64_t *eff, *recv, *ids;
    unsigned char *done;
} plan;

/* Stores, in one transaction, the not yet done events of the day of event i. */
static int append_day(evstore *s, evs_seg *g, const event *ev, size_t n, size_t i, plan *p,
                      cleaned *c)
{
    int rc = evs__writer_open(s, g);
    if (rc)
        return rc;
    if ((rc = evs__exec(g->wdb, g->path, "BEGIN IMMEDIATE")))
        return rc;
    int64_t base = evs__day_base(g->day), count = 0;
    int was_sealed = __atomic_load_n(&g->sealed, __ATOMIC_RELAXED);
    for (size_t j = i; j < n && !rc; j++) {
        if (p->done[j] || floor_div(p->eff[j], EVS_DAY_MS) != g->day)
            continue;
        int64_t local = 0;
        if ((rc = insert_one(g, c, &ev[j], p->eff[j], p->recv[j], &local)))
            break;
        p->ids[j] = base + local;
        count++;
    }
    sqlite3_stmt *st = g->st[EVS_ST_ADD_N];
    if (!rc) {
        sqlite3_bind_int64(st, 1, count);
        rc = step_done(g, st, "count");
    }
    if (!rc && was_sealed) {
        st = g->st[EVS_ST_SET_SEALED];
        sqlite3_bind_int(st, 1, 0);
        rc = step_done(g, st, "unseal");
    }
    if (!rc)
        rc = evs__exec(g->wdb, g->path, "COMMIT");
    if (rc) {
        sqlite3_exec(g->wdb, "ROLLBACK", NULL, NULL, NULL);
        /* Strings interned by the rolled-back transaction are gone again. */
        hmap_free(&g->strs);
        hmap_init(&g->strs);
        return rc;
    }
    for (size_t j = i; j < n; j++)
        if (!p->done[j] && floor_div(p->eff[j], EVS_DAY_MS) == g->day)
            p->done[j] = 1;
    __atomic_add_fetch(&g->n, (uint64_t)count, __ATOMIC_RELAXED);
    if (was_sealed)
        __atomic_store_n(&g->sealed, 0, __ATOMIC_RELAXED);
    g->wused_mono = timeutil_mono_ms();
    return 0;
}

int evstore_append(evstore *s, const event *ev, size_t n, int64_t *ids)
{
    if (n == 0)
        return 0;
    if (!s || !ev)
        return -EINVAL;
    if (ids)
        memset(ids, 0, n * sizeof *ids);
    plan p = {0};
    cleaned c;
    for (int i = 0; i < C_N; i++)
        buf_init(&c.b[i], 0);
    int rc = 0;
    p.eff = mem_alloc(n * sizeof *p.eff);
    p.recv = mem_alloc(n * sizeof *p.recv);
    p.ids = mem_alloc(n * sizeof *p.ids);
    p.done = mem_calloc(n, 1);
    if (!p.eff || !p.recv || !p.ids || !p.done) {
        rc = -ENOMEM;
        goto out;
    }
    int64_t now = timeutil_now_ms();
    for (size_t i = 0; i < n; i++) {
        int64_t recv = ev[i].recv_ms > 0 && ev[i].recv_ms <= EVS_MS_MAX ? ev[i].recv_ms : now;
        int64_t t = ev[i].t_ms;
        int sane = t > 0 && t <= recv + EVS_DAY_MS && t >= recv - s->retention_ms;
        p.recv[i] = recv;
        p.eff[i] = sane ? t : recv;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        if (p.done[i])
            continue;
        evs_seg *g;
        if ((rc = seg_get(s, floor_div(p.eff[i], EVS_DAY_MS), &g)))
            break;
        pthread_mutex_lock(&g->wmu);
        rc = append_day(s, g, ev, n, i, &p, &c);
        pthread_mutex_unlock(&g->wmu);
        evs__seg_unref(s, g);
        if (!rc && ids)
            for (size_t j = i; j < n; j++)
                if (p.done[j] && !ids[j])
                    ids[j] = p.ids[j];
    }
out:
    for (int i = 0; i < C_N; i++)
        buf_free(&c.b[i]);
    mem_free(p.eff);
    mem_free(p.recv);
    mem_free(p.ids);
    mem_free(p.done);
    return rc;
}
