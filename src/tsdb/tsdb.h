/* tsdb: dashdot's time-series store, behind one interface.
 *
 * Writers append batches through an appender: at commit the batch is written to the WAL (one
 * write; an acknowledged batch survives kill -9) and then applied to the head (one open
 * compressed chunk per series). Readers select series by label matchers over a time range and
 * get a snapshot they iterate without holding any lock; label names and values are answered
 * from the inverted index (label=value -> sorted postings of series ids), never by scanning
 * samples. A background thread cuts the head into immutable, zstd-compressed blocks of
 * block_ms, computes the 1-minute and 1-hour tiers from the same samples as it does, compacts
 * blocks into larger ones and enforces retention per tier by time and size. Observers are told
 * of every committed batch (the live stream uses this). With dir == NULL the store lives in
 * memory only (tests, promqltest). Formats and guarantees: docs/storage.md.
 * All functions are thread-safe unless noted. */
#ifndef DD_TSDB_H
#define DD_TSDB_H

#include "../lib/labels.h"
#include "../lib/sample.h"
#include "matcher.h"

#include <stddef.h>
#include <stdint.h>

typedef struct tsdb tsdb;

enum { TSDB_TIERS = 3 }; /* raw, 1 m, 1 h: index with tsdb_tier - 1 */

typedef struct tsdb_options {
    const char *dir;          /* data directory (the store uses dir/wal and dir/blocks); NULL:
                                 memory only, nothing cut or written */
    int64_t retention_ms;     /* raw samples older than now - this are dropped; 0: 15 days */
    int64_t retention_1m_ms;  /* 1-minute tier; 0: 365 days */
    int64_t retention_1h_ms;  /* 1-hour tier; 0 or INT64_MAX: forever */
    uint64_t retention_bytes[TSDB_TIERS]; /* per tier (raw, 1m, 1h) block bytes; 0: no limit */
    size_t max_series;        /* refuse new series beyond this (0: 5 million) */
    int64_t block_ms;         /* head range cut into a block (0: 2 h); multiple of 1 h */
    int64_t wal_fsync_ms;     /* WAL fdatasync period (0: 1000 ms; < 0: after every write) */
    int background;           /* 1: run cut/compaction/retention on a thread of the store;
                                 0: only when tsdb_maintain is called (tests) */
    size_t cache_bytes;       /* decompressed block frames kept for reads (0: 64 MiB) */
} tsdb_options;

/* Opens a store. Returns 0 and *out, or -errno / -ENOMEM. Close with tsdb_close. */
int tsdb_open(tsdb **out, const tsdb_options *opt);
/* Closes the store and frees everything. Accepts NULL. No other call may be running. */
void tsdb_close(tsdb *db);

/* One series in a batch: its sorted, validated labels and samples in time order. */
typedef struct tsdb_series_in {
    labels ls;
    const sample *samples;
    size_t nsamples;
} tsdb_series_in;

typedef struct tsdb_append_stats {
    size_t accepted;     /* samples stored */
    size_t new_series;   /* series created by this batch */
    size_t duplicates;   /* same timestamp as a sample already stored: dropped */
    size_t out_of_order; /* older than the series' last sample and over the per-series
                            out-of-order buffer: rejected */
    size_t ooo_accepted; /* older than the series' last sample but inside the head: stored */
    size_t too_old;      /* older than the head's window (already cut into blocks) or the
                            raw retention: rejected */
    size_t series_limit; /* samples of new series refused by max_series */
} tsdb_append_stats;

typedef struct tsdb_appender tsdb_appender;

/* Starts a batch. Returns 0 or -ENOMEM. The series passed to tsdb_appender_add must stay valid
 * until commit or rollback (nothing is copied before commit). */
int tsdb_appender_begin(tsdb *db, tsdb_appender **out);
/* Queues one series' samples. Returns 0 or -ENOMEM (the appender stays usable for rollback). */
int tsdb_appender_add(tsdb_appender *a, const tsdb_series_in *s);
/* Writes the batch to the WAL (durable stores), makes it visible, fills st (may be NULL) and
 * frees the appender. Samples refused for the reasons counted in st are not errors. Returns 0
 * once the batch is in the WAL and applied; -errno when the WAL write failed (nothing stored);
 * -ENOMEM when memory ran out (before the WAL write: nothing stored; while applying: part of
 * the batch may be visible, all of it is in the WAL; a retry is safe since duplicates are
 * dropped). */
int tsdb_appender_commit(tsdb_appender *a, tsdb_append_stats *st);
/* Drops the batch and frees the appender. Accepts NULL. */
void tsdb_appender_rollback(tsdb_appender *a);

/* An observer sees every committed batch (after commit, on the committing thread, with no store
 * lock held). It must be quick and must not call back into the appender. */
typedef void (*tsdb_observer_fn)(void *ctx, const tsdb_series_in *series, size_t n);
/* Sets the single observer (NULL to remove). Call before serving traffic. */
void tsdb_set_observer(tsdb *db, tsdb_observer_fn fn, void *ctx);

/* A query's result: series in label order, each with its samples in [mint, maxt]. */
typedef struct tsdb_series_set tsdb_series_set;

/* Tiers: raw samples, and 1-minute and 1-hour aggregates of them. A tier point at time T
 * summarises the raw samples in (T - resolution, T] as min, max, sum, count and last. */
typedef enum tsdb_tier {
    TSDB_TIER_AUTO = 0, /* the coarsest tier whose resolution <= max_resolution_ms */
    TSDB_TIER_RAW,
    TSDB_TIER_1M,
    TSDB_TIER_1H,
} tsdb_tier;

/* Which aggregate of a tier point becomes the sample value (raw samples ignore it). */
typedef enum tsdb_agg {
    TSDB_AGG_LAST = 0,
    TSDB_AGG_MIN,
    TSDB_AGG_MAX,
    TSDB_AGG_SUM,
    TSDB_AGG_COUNT,
} tsdb_agg;

typedef struct tsdb_select_opts {
    int labels_only;    /* don't copy samples (series API) */
    size_t max_samples; /* -E2BIG if the result would hold more (0: no limit) */
    size_t max_series;  /* -E2BIG if the result would hold more series (0: no limit) */
    tsdb_tier tier;     /* AUTO (default) or a forced tier */
    int64_t max_resolution_ms; /* AUTO: coarsest resolution the caller accepts (0: raw only) */
    tsdb_agg agg;       /* tier reads: which aggregate is the value (default last) */
} tsdb_select_opts;

/* Selects series matching all matchers that have samples in [mint, maxt]. Returns 0 and a new
 * set in *out (freed with tsdb_set_free), -E2BIG over a limit, or -ENOMEM. With no matchers,
 * nothing matches (the API requires at least one non-empty matcher). */
int tsdb_select(tsdb *db, const tsdb_matcher *ms, size_t nm, int64_t mint, int64_t maxt,
                const tsdb_select_opts *opts, tsdb_series_set **out);
/* Advances to the next series: returns 1 and sets its labels and samples (owned by the set,
 * valid until tsdb_set_free), or 0 at the end. */
int tsdb_set_next(tsdb_series_set *s, const labels **ls, const sample **samples, size_t *n);
size_t tsdb_set_count(const tsdb_series_set *s);
void tsdb_set_free(tsdb_series_set *s);

/* A sorted list of distinct strings, owned by the caller (tsdb_strings_free). */
typedef struct tsdb_strings {
    char **v;
    size_t n;
} tsdb_strings;
void tsdb_strings_free(tsdb_strings *s);

/* Label names (sorted, distinct) of series matching ms (all series if nm == 0) with samples in
 * [mint, maxt]. Returns 0 or -ENOMEM. */
int tsdb_label_names(tsdb *db, const tsdb_matcher *ms, size_t nm, int64_t mint, int64_t maxt,
                     tsdb_strings *out);
/* Values of label `name` over series matching ms (all if nm == 0) in [mint, maxt]. */
int tsdb_label_values(tsdb *db, const char *name, const tsdb_matcher *ms, size_t nm, int64_t mint,
                      int64_t maxt, tsdb_strings *out);

typedef struct tsdb_tier_stats {
    size_t blocks;
    uint64_t bytes;   /* block files */
    uint64_t samples; /* points held in blocks */
    int64_t min_time, max_time; /* of blocks; INT64_MAX/INT64_MIN when none */
} tsdb_tier_stats;

typedef struct tsdb_stats {
    size_t series;
    size_t head_series;        /* series with samples in the head */
    size_t samples;            /* samples in the head */
    uint64_t head_bytes;       /* compressed head chunks */
    uint64_t samples_appended; /* since start */
    uint64_t out_of_order;
    uint64_t ooo_accepted;
    uint64_t duplicates;
    uint64_t too_old;
    uint64_t wal_bytes;
    size_t wal_segments;
    uint64_t wal_replayed;     /* records replayed at open */
    uint64_t wal_dropped_bytes;/* damaged WAL bytes dropped at open */
    uint64_t samples_read;     /* by selects, since start */
    uint64_t cuts, compactions, retention_drops;
    double cut_seconds, compaction_seconds; /* totals */
    int64_t head_min_valid;    /* samples below this are too old */
    uint64_t cache_hits, cache_misses, cache_bytes; /* block frame cache */
    int64_t min_time, max_time;
    tsdb_tier_stats tier[TSDB_TIERS];
} tsdb_stats;
void tsdb_get_stats(tsdb *db, tsdb_stats *st);

/* Runs what is due: head cut, compaction, retention (by now_ms and sizes). With background = 1
 * the store's thread does this by itself; the server also calls it periodically. */
void tsdb_maintain(tsdb *db, int64_t now_ms);

/* 1 when the store's own thread runs tsdb_maintain (background requested and started), so
 * the caller need not. */
int tsdb_has_background(const tsdb *db);

/* Writes everything in the head to blocks now (the head then accepts only newer samples).
 * Returns 0 or -errno. Memory-only stores: no-op. */
int tsdb_flush(tsdb *db);

#endif
