/* evstore_int: what the files of the event store share (segments, connections, text repair,
 * the block codec). Not for use outside src/events/evstore*.c. */
#ifndef DD_EVSTORE_INT_H
#define DD_EVSTORE_INT_H

#include "evstore.h"

#include "../lib/buf.h"
#include "../lib/hmap.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

#define EVS_DAY_MS 86400000LL
#define EVS_DAY_S 86400LL
#define EVS_SEQ_BITS 20 /* id = placement second << 20 | arrival sequence in that second */
#define EVS_SEQ_MASK ((1LL << EVS_SEQ_BITS) - 1)
#define EVS_MS_MAX ((1LL << 43) - 1)   /* placement times beyond this would overflow an id */
#define EVS_READERS_MAX 4              /* idle reader connections kept per day */
#define EVS_STRS_CACHE_MAX 65536       /* interned strings remembered per day by the writer */
#define EVS_SLOT_BITS 8                /* ev.blk = block id << 8 | slot */
#define EVS_BLOCK_EVENTS 64            /* events per sealed block (<= 1 << EVS_SLOT_BITS) */
#define EVS_BLOCK_RAW_MAX (256 * 1024) /* raw bytes per block before closing it */
#define EVS_BLOCK_DECODED_MAX (EVS_BLOCK_RAW_MAX + 3 * 65536 + 8192) /* any block we wrote */
#define EVS_ZSTD_LEVEL 9
#define EVS_DICT_BYTES (64 * 1024) /* zstd dictionary trained per day */
#define EVS_DICT_MIN_EVENTS 5000   /* smaller days are sealed without a dictionary */
#define EVS_IDLE_MS 60000          /* idle connections closed by maintain after this */

/* Writer statements of a day, prepared on its writer connection. */
enum {
    EVS_ST_INS_EV,
    EVS_ST_INS_FTS,
    EVS_ST_UPS_UNK,
    EVS_ST_GET_STR,
    EVS_ST_INS_STR,
    EVS_ST_MAX_MS,
    EVS_ST_ADD_N,
    EVS_ST_SET_SEALED,
    EVS_ST_N
};

/* One day (segment): the file DIR/ev-YYYY-MM-DD.db. The list holds one reference; every user
 * takes one under s->mu. A dead day (dropped by retention) is removed from the list and its
 * files unlinked by whoever drops the last reference. */
typedef struct evs_seg {
    int64_t day; /* days since the epoch (UTC) */
    char *path;
    int refs;                          /* s->mu */
    int dead;                          /* s->mu */
    int ready;                         /* atomic: the file exists with its schema */
    uint64_t n;                        /* atomic: stored events */
    int sealed;                        /* atomic: every row's payload is in a block */
    int64_t used_mono;                 /* s->mu: last time a reader connection was handed back */
    pthread_mutex_t wmu;               /* the day's write lock: appends, sealing, adoption */
    sqlite3 *wdb;                      /* wmu */
    sqlite3_stmt *st[EVS_ST_N];        /* wmu */
    hmap strs;                         /* wmu: interned string → (void *)id */
    int64_t max_local;                 /* wmu: >= the greatest local id stored */
    int64_t wused_mono;                /* wmu */
    sqlite3 *readers[EVS_READERS_MAX]; /* s->mu: idle reader connections */
    int nreaders;                      /* s->mu */
} evs_seg;

struct evstore {
    char *dir;
    int lockfd;
    int64_t retention_ms;
    uint64_t max_bytes;
    int sync_full;
    pthread_mutex_t mu; /* segs, refs, reader pools */
    evs_seg **segs;     /* ascending day */
    size_t nsegs, capsegs;
    pthread_mutex_t maint_mu; /* one maintain at a time */
    pthread_mutex_t tok_mu;   /* the search tokenizer (not thread-safe) */
    sqlite3 *tokdb;
    fts5_tokenizer tokapi;
    Fts5Tokenizer *tok;
};

/* ---- evstore.c: days and connections */

/* The first id of a day (its first second << 20); local id = id - base. */
static inline int64_t evs__day_base(int64_t day)
{
    return (day * EVS_DAY_S) << EVS_SEQ_BITS;
}

/* Maps an SQLite result code to -errno and logs what failed (path may be NULL). */
int evs__sqlerr(sqlite3 *db, int rc, const char *path, const char *what);
/* The segments overlapping days [lo, hi] that have a file, newest first, each with a
 * reference (release with evs__segs_release). Returns 0 or -ENOMEM. */
/* Every day's segment (dead ones too), oldest first, each with a reference. */
int evs__segs_all(evstore *s, evs_seg ***out, size_t *n);
/* Drops a reference taken by evs__segs_* (the last one of a dead day removes its files). */
void evs__seg_unref(evstore *s, evs_seg *g);
/* Marks a day dead (caller holds a reference): no new event lands in it, queries skip it, and
 * its files go with the last reference. */
void evs__seg_kill(evstore *s, evs_seg *g);
int evs__segs_range(evstore *s, int64_t lo, int64_t hi, evs_seg ***out, size_t *n);
void evs__segs_release(evstore *s, evs_seg **v, size_t n);
/* Takes an idle reader connection of the day or opens one. Returns 0 or -errno. */
int evs__reader_get(evstore *s, evs_seg *g, sqlite3 **db);
/* Hands a reader connection back (closes it when the pool is full or the day is dead). */
void evs__reader_put(evstore *s, evs_seg *g, sqlite3 *db);
/* Opens the day's writer connection when closed (caller holds g->wmu). Returns 0 or -errno. */
int evs__writer_open(evstore *s, evs_seg *g);
/* Closes the day's writer connection (caller holds g->wmu). */
void evs__writer_close(evs_seg *g);
/* Runs one statement of SQL text on db (no rows expected). Returns 0 or -errno. */
int evs__exec(sqlite3 *db, const char *path, const char *sql);
/* Reads one integer (NULL or no row: dflt) of a one-row query. Returns 0 or -errno. */
int evs__query_int(sqlite3 *db, const char *path, const char *sql, int64_t dflt, int64_t *v);

/* ---- evstore_text.c: what the store makes of outside strings */

/* Sets out to s made valid UTF-8 (each maximal invalid subpart becomes U+FFFD) and cut to at
 * most cap bytes at a character boundary. Reads at most cap + 4 bytes of s. Returns 0, -ENOMEM. */
int evs__clean(buf *out, const char *s, size_t cap);
/* Sets out to s cleaned when it is a JSON object of at most EVENT_FIELDS_MAX bytes, "" when s is
 * "", else to {"raw": "<s cleaned, cut>"} within EVENT_FIELDS_MAX. tmp is scratch. */
int evs__clean_fields(buf *out, buf *tmp, const char *s);
/* Whether s[0..n) is valid UTF-8. */
int evs__utf8_valid(const char *s, size_t n);
/* Translates a user search into an FTS5 expression in out. Returns 1 when the search is blank
 * (no filter), 0 with out set, -EINVAL with a reason in err, -ENOMEM. */
int evs__fts_expr(evstore *s, const char *q, buf *out, char *err, size_t errcap);

/* ---- evstore_seal.c: sealed blocks */

/* A decoded block kept while a query walks its rows. */
typedef struct evs_blkcache {
    int64_t day, id; /* which block is decoded (id 0: none) */
    void *dctx;      /* ZSTD_DCtx */
    void *ddict;     /* ZSTD_DDict of (dday, dict) */
    int64_t dday, dict;
    buf raw;
    uint32_t *off; /* per slot: title off/len, text off/len (len UINT32_MAX: same as title),
                      fields off/len */
    size_t n, offcap;
} evs_blkcache;

void evs__blkcache_init(evs_blkcache *c);
void evs__blkcache_free(evs_blkcache *c);
/* Points title/text/fields of ev at the payload of (block, slot) of day g, reading the block
 * through db. Returns 0, -EIO (corrupt or missing block) or -ENOMEM. */
int evs__blk_payload(evs_blkcache *c, sqlite3 *db, const evs_seg *g, int64_t blk, event *ev);
/* Seals the day's open rows into blocks; compacts when it sealed many. Returns 0 or -errno. */
int evs__seal(evstore *s, evs_seg *g);
/* Checkpoints and truncates the day's WAL unless readers hold it (caller holds wmu). */
void evs__wal_truncate(evs_seg *g);

#endif
