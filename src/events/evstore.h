/* evstore: the event store. Append-only, on disk under one directory, one SQLite database per
 * UTC day of event time with a full-text index (FTS5), sealed (payload zstd-compressed in
 * blocks) once the day ended more than a day ago, dropped by age and total size. Design and
 * figures: the essay at the top of evstore.c.
 *
 * Promises:
 * - An append that returned 0 survives kill -9 of the process at any later moment (WAL,
 *   synchronous=NORMAL; with opts.sync_full also a power loss).
 * - Every stored string is valid UTF-8 (invalid sequences become U+FFFD) and within event.h's
 *   caps (cut at a character boundary); fields is "" or a JSON object text.
 * - Ids are int64 > 0, unique, and ordered like placement time: id = placement second << 20 |
 *   arrival sequence within that second. Placement time is the event's t_ms, or its recv_ms
 *   when t_ms is absurd (<= 0, more than a day after recv_ms, or older than the retention);
 *   t_ms is kept as given. Queries answer newest first by id (by time, then arrival within a
 *   second); an id is a paging cursor that stays valid while appends continue (a late event
 *   gets an id among its contemporaries: it shows up in pages not yet read, never twice).
 * - Thread-safe: every function may be called from any thread, concurrently (appends of one day
 *   serialize on that day's write lock; queries use their own connections). */
#ifndef DD_EVSTORE_H
#define DD_EVSTORE_H

#include "../lib/event.h"

#include <stddef.h>
#include <stdint.h>

typedef struct evstore evstore;

#define EVSTORE_RETENTION_DEFAULT (30LL * 86400000) /* 30 days */
#define EVSTORE_MAX_BYTES_DEFAULT (16ULL << 30)     /* 16 GiB */
#define EVSTORE_LIMIT_MAX 10000
#define EVSTORE_Q_MAX 1024 /* bytes of a full-text search */

typedef struct evstore_opts {
    int64_t retention_ms; /* 0: EVSTORE_RETENTION_DEFAULT */
    uint64_t max_bytes;   /* 0: EVSTORE_MAX_BYTES_DEFAULT; the newest day is never dropped */
    int sync_full;        /* 1: synchronous=FULL (an fsync per append: survives power loss) */
} evstore_opts;

/* Opens (creating) the store in dir, which only one store at a time may use (-EBUSY when
 * another holds it, in this process or another). o may be NULL (defaults). A day file that
 * cannot be read is logged and left out (appends to its day then fail with -EIO). On failure
 * *out is NULL, err says why and the return is -errno (-EINVAL, -ENOMEM, -EBUSY, or the error
 * creating dir). The caller owns *out. */
int evstore_open(evstore **out, const char *dir, const evstore_opts *o, char *err, size_t errcap);
/* Closes the store; no call may be in flight. Accepts NULL. */
void evstore_close(evstore *s);

/* Appends n events; the events of one UTC day go in one transaction. ids (may be NULL) receives
 * each event's id, or 0 for an event not stored. recv_ms <= 0 means now. Out-of-range numbers
 * are stored as: severity info, facility -1, status none, device/sensor 0. The store copies
 * what it keeps (ev stays the caller's). Returns 0 when every event is stored and durable
 * against kill -9; -EINVAL (n > 0 and ev NULL), -ENOMEM, -ENOSPC (disk full) or -EIO (also for
 * a day being dropped by retention at that moment): then the days committed before the failure
 * keep their events (ids > 0) and the others have none. Any thread; appends to one day
 * serialize, so batch (1 event per call: ~10 k/s; 1000: ~75 k/s on one core). */
int evstore_append(evstore *s, const event *ev, size_t n, int64_t *ids);

typedef struct evstore_filter {
    int64_t from_ms, to_ms; /* placement time range [from, to]; 0 on a side: unbounded */
    const int64_t *devices; /* devices_set && ndevices == 0 → nothing; device 0 is "unknown" */
    size_t ndevices;
    int devices_set;
    const int64_t *sensors; /* nsensors == 0: any */
    size_t nsensors;
    int max_severity;        /* -1: any; else severity <= max_severity (worse or equal) */
    const char *kind;        /* NULL: any */
    const char *q;           /* full text: words (AND), "phrases", prefix*; NULL or blank: none */
    const char *fingerprint; /* NULL: any */
    int64_t cursor;          /* 0: from the newest; else only ids < cursor */
    size_t limit;            /* 1..EVSTORE_LIMIT_MAX */
} evstore_filter;

/* Receives one event; its strings are valid during the call only. Nonzero stops the query. */
typedef int (*evstore_row_fn)(void *ctx, int64_t id, const event *ev);

/* Calls fn for up to q->limit matching events, newest first. *next (may be NULL) receives the
 * cursor for the next page: the id of the last event delivered when more match, 0 when none
 * do (or fn stopped early: then the last delivered id, so the caller can go on). Returns 0, or
 * -EINVAL with a reason in err for a bad query (limit, from after to, search syntax:
 * unbalanced quote, a '*' inside a word or after fewer than 2 letters, no words, more than 32
 * words, invalid UTF-8; the reason starts "search: " and never quotes SQL), -ENOMEM or -EIO.
 * fn may call evstore_append, never evstore_close. Any thread. */
int evstore_query(evstore *s, const evstore_filter *q, evstore_row_fn fn, void *ctx, int64_t *next,
                  char *err, size_t errcap);

/* A sender of events stored under device 0, over the retained days. Strings valid during the
 * callback. first_ms/last_ms are receive times. */
typedef struct evstore_unknown {
    const char *source, *host;
    int64_t sensor_id;
    uint64_t count;
    int64_t first_ms, last_ms;
} evstore_unknown;

/* Calls fn for each unknown sender, most recently heard first; nonzero from fn stops. Returns
 * 0, -ENOMEM or -EIO. Any thread. */
int evstore_unknown_list(evstore *s, int (*fn)(void *ctx, const evstore_unknown *u), void *ctx);

/* Moves the stored events of device 0 whose source equals `source` or whose host equals `host`
 * (NULL or "": that side matches nothing) to device_id (> 0) and forgets those unknown senders.
 * Returns how many events moved (>= 0), or -EINVAL, -ENOMEM, -EIO. Any thread. */
int64_t evstore_adopt(evstore *s, const char *source, const char *host, int64_t device_id);

/* Housekeeping at wall-clock time now_ms: drops days past the retention, then the oldest days
 * while the store is over max_bytes; seals days that ended more than a day ago (and late events
 * of sealed days); closes idle connections. May take seconds per day to seal; appends to other
 * days go on meanwhile. One maintain at a time (others wait). Any thread, periodically. */
void evstore_maintain(evstore *s, int64_t now_ms);

typedef struct evstore_stats {
    uint64_t events;   /* stored events */
    uint64_t bytes;    /* on disk, WAL included */
    uint64_t segments; /* days */
    uint64_t sealed;   /* sealed days */
} evstore_stats;

/* Fills st. Returns 0 (or -EIO when a file cannot be measured). Any thread. */
int evstore_stats_get(evstore *s, evstore_stats *st);

#endif
