/* usagelog: the append-only store of usage events (wire/usage.h), on disk under one directory
 * (the server passes DATA/usage).
 *
 * Promises:
 * - One segment per UTC day of the events' own time; an event is in the file system (written
 *   with pwrite, in the page cache) before usagelog_append returns, so it survives kill -9;
 *   power loss needs fdatasync (opts.sync, or usagelog_sync on a timer).
 * - Every append batch is checksummed (CRC-32): a torn tail after a crash is cut at open,
 *   logged and counted; earlier events survive. A damaged file never crashes the process.
 * - Repeated strings (customer, type, qualifiers) are interned per segment: a repetitive
 *   stream costs a few bytes per event. Finished days are sealed into one zstd file each by
 *   usagelog_maintain, which also applies retention by age and size (whole days, oldest first).
 * - An event with an event_id already seen for the same customer (within the dedupe window,
 *   24 h by receipt time, at most dedupe_max ids in memory, oldest forgotten first) is skipped
 *   and counted as a duplicate. The ids are rebuilt from the unsealed segments at open, and a
 *   segment is sealed only once it received nothing within the window, so a restart forgets
 *   no id that is still in the window.
 * The file format and the reasoning behind it are at the top of usagelog.c.
 *
 * Threads: every function may be called from any thread; one lock guards the log (appends
 * write under it). usagelog_scan reads files outside the lock; usagelog_maintain compresses
 * outside it, so neither stalls appends for long. */
#ifndef DD_EVENTS_USAGELOG_H
#define DD_EVENTS_USAGELOG_H

#include "../wire/usage.h"

#include <stddef.h>
#include <stdint.h>

typedef struct usagelog usagelog;

typedef struct usagelog_opts {
    int64_t max_age_ms;       /* retention: days that ended longer ago are dropped (0: forever) */
    uint64_t max_bytes;       /* retention: bytes on disk, oldest finished days dropped (0: none) */
    int64_t max_future_ms;    /* events dated further past their receipt are refused (0: 1 day) */
    int64_t dedupe_window_ms; /* how long an event id is remembered (0: 24 h) */
    size_t dedupe_max;        /* event ids kept in memory (0: 1,000,000) */
    int zstd_level;           /* for sealed days (0: 3) */
    int sync;                 /* 1: fdatasync before every append returns (power-loss safe) */
} usagelog_opts;

/* A struct tag, not a typedef: the name is also the function usagelog_stats. */
struct usagelog_stats {
    uint64_t events;        /* stored events, all days */
    uint64_t bytes;         /* bytes of the segment files on disk */
    uint64_t raw_bytes;     /* the same before compression */
    size_t segments;        /* files: unsealed segments plus sealed days */
    size_t sealed;          /* sealed days */
    size_t days;            /* days with data */
    uint64_t duplicates;    /* events skipped as duplicates since open */
    uint64_t out_of_window; /* events skipped for their time since open (see usagelog_time_ok) */
    size_t dedupe_ids;      /* event ids remembered */
    uint64_t cut_bytes;     /* damaged bytes cut off segment tails at open */
    uint64_t damaged_files; /* files set aside at open (renamed to *.damaged) */
};

/* What happened to one event of an append (usagelog_append_ex). */
enum { USAGELOG_STORED = 0, USAGELOG_DUPLICATE = 1, USAGELOG_OUT_OF_WINDOW = 2 };

/* Opens (creating) the log in dir: reads what is there, cuts torn tails, sets damaged files
 * aside, rebuilds the dedupe ids. o may be NULL (defaults). On success *out is the caller's
 * (usagelog_close). Returns 0 or -errno (-EPROTONOSUPPORT: a file in a newer format; nothing
 * is changed then) with a message in err. */
int usagelog_open(usagelog **out, const char *dir, const usagelog_opts *o, char *err,
                  size_t errcap);

/* Syncs and frees the log. Accepts NULL. No other call may be running. */
void usagelog_close(usagelog *l);

/* Appends n events received at recv_ms (the time of those with t_ms 0); on return they are in
 * the files (durable against kill -9; also against power loss with opts.sync). *dups (may be
 * NULL) counts the events skipped: duplicates of an event id already seen, and events dated
 * outside the window usagelog_time_ok accepts. The strings of ev are the caller's and only read
 * during the call. Returns 0; -EINVAL (an event the parsers never make: NULL or empty customer
 * or type, a string over 255 bytes, took_ms < -1, recv_ms outside 0..year 9999: nothing is
 * stored); -ENOMEM or an I/O -errno (nothing is stored: a partly written batch is cut off
 * again); -EIO once a failure could not be undone (the log refuses appends until reopened). */
int usagelog_append(usagelog *l, const usage_event *ev, size_t n, int64_t recv_ms, size_t *dups);

/* Like usagelog_append, and status[i] (n entries, the caller's) receives USAGELOG_STORED,
 * USAGELOG_DUPLICATE or USAGELOG_OUT_OF_WINDOW for ev[i] (only meaningful when it returns 0). */
int usagelog_append_ex(usagelog *l, const usage_event *ev, size_t n, int64_t recv_ms,
                       unsigned char *status);

/* Whether the log would store an event of time t_ms received at recv_ms: not before 1970, not
 * after year 9999, not more than max_future_ms ahead of recv_ms, and not on a day retention
 * by age already dropped. Lets a receiver reject such events with their line number. Returns 0
 * or -ERANGE. */
int usagelog_time_ok(const usagelog *l, int64_t t_ms, int64_t recv_ms);

/* Calls fn for each stored event with from_ms <= t_ms < to_ms: day by day, oldest first, and
 * within a day in the order received (the events' own times within a day may be out of order
 * as their senders dated them). The event's strings are valid during the call. An event
 * appended during the scan may or may not be seen. Returns 0, fn's nonzero value (it stops the
 * scan), or -errno (-ENOMEM, or an I/O error opening a file). Damage found inside a file is
 * logged and skipped. */
int usagelog_scan(usagelog *l, int64_t from_ms, int64_t to_ms, usage_event_fn fn, void *ctx);

/* Seals days that ended before now_ms and whose segments received nothing within the dedupe
 * window (one zstd file per day), then drops whole days by age and total size (never the day
 * of now_ms or later). Errors are logged and retried at the next call. Call from one thread
 * at a time (a timer); now_ms is the caller's clock (tests pass fixed times). */
void usagelog_maintain(usagelog *l, int64_t now_ms);

/* fdatasyncs the open segments (and the directory when files were created). Returns 0 or
 * -errno (after a failed sync the log refuses appends: -EIO). */
int usagelog_sync(usagelog *l);

/* Fills *st. Returns 0. */
int usagelog_stats(usagelog *l, struct usagelog_stats *st);

#endif
