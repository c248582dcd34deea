/* wal: the storage engine's write-ahead log. Opaque records (the head's series records and
 * sample batches) appended to numbered, checksummed segment files in one directory, and replayed
 * in order at start. The byte format and the recovery rules are described at the top of wal.c.
 *
 * Threads: a wal is NOT internally locked. The caller (the head) serializes every call on one
 * wal, from whichever thread holds its lock. wal_replay and wal_scan touch no shared state and may
 * run on any thread (wal_replay must not run on a directory an open wal is writing to). */
#ifndef DD_TSDB_WAL_H
#define DD_TSDB_WAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Largest record payload wal_write accepts and replay believes (64 MiB). */
#define WAL_MAX_RECORD (64u << 20)
/* Largest total of one wal_write call, frames included (1 GiB). */
#define WAL_MAX_BATCH ((size_t)1 << 30)
/* Size of the header at the start of every segment file. */
#define WAL_SEGMENT_HEADER 8
/* Size of the frame header in front of every record payload (length + checksum). */
#define WAL_RECORD_HEADER 8

typedef struct wal wal;

typedef struct wal_options {
    /* Start a new segment when the current one exceeds this many bytes (0: 128 MiB). */
    uint64_t segment_bytes;
    /* 0: fdatasync after every wal_write; > 0: at most this often from wal_write, plus whenever
     * wal_sync is called (call it on a timer of this period so the unsynced tail is bounded);
     * < 0: never sync anything, including directories (tests only). */
    int64_t fsync_interval_ms;
    /* 1: wal_write never syncs by itself (whatever fsync_interval_ms > 0 says); the caller
     * syncs on its own timer with wal_sync or, to keep writers going while the disk works,
     * wal_sync_begin / fdatasync / wal_sync_end. Segment creation and cuts still sync. */
    int caller_syncs;
} wal_options;

/* Opens the WAL in dir (created with its parents if missing, mode 0700): lists the existing
 * segments and creates a NEW segment numbered after the highest one (1 in an empty directory);
 * old segment files are never appended to. opt may be NULL (defaults). On success *out owns the
 * handle (free with wal_close). Returns 0 or -errno (-EOVERFLOW when no number is left). */
int wal_open(wal **out, const char *dir, const wal_options *opt);

/* Syncs (fdatasync unless the policy is "never") and closes. Accepts NULL. */
void wal_close(wal *w);

/* Stores in *seg the number of the segment the next wal_write goes to, starting a new segment
 * first if the current one holds at least one record and is over segment_bytes (wal_write applies
 * the same rule, so after this call the next wal_write lands in *seg). Records of one wal_write
 * never span segments. Returns 0, or -errno (-EIO once the WAL is broken). */
int wal_next_segment(wal *w, uint64_t *seg);

/* Appends n records (recs[i] is the payload of record i, 1 byte .. WAL_MAX_RECORD; the caller
 * keeps ownership) as ONE pwrite(2) of the framed batch (retried on EINTR and short writes), then
 * fdatasyncs if the policy says so. Returns 0 once the records are in the file (they survive
 * kill -9 of the process; power loss only after the sync), or:
 *   -EINVAL  an empty or oversized record, or a batch over WAL_MAX_BATCH (nothing written);
 *   -ENOMEM  no memory for the frame buffer (nothing written);
 *   -errno   the write failed: the file is truncated back to where the batch began, so the
 *            records are NOT in the WAL and the WAL stays usable; if that truncation fails too,
 *            the WAL is marked broken;
 *   -errno   the fdatasync after a complete write failed: the WAL is marked broken (after a
 *            failed fsync the kernel's page cache can no longer be trusted). The records are in
 *            the file and WILL be replayed, but must be treated as not acknowledged (the client
 *            retries; replaying an identical sample twice is harmless to the head).
 * Once broken, every later call on the WAL (except wal_close and the size getters) returns -EIO. */
int wal_write(wal *w, const struct iovec *recs, size_t n);

/* fdatasyncs the current segment if anything was written since the last sync (no-op under the
 * "never" policy). Returns 0 or -errno (a failed sync marks the WAL broken). */
int wal_sync(wal *w);

/* Syncing without holding the caller's lock during fdatasync: wal_sync_begin (caller's lock
 * held) stores in *fd a duplicate of the current segment's descriptor if anything was written
 * since the last sync (else -1) and counts it as synced; the caller runs fdatasync(*fd) without
 * its lock, then calls wal_sync_end (lock held again) with fd and fdatasync's result (0 or
 * -errno), which closes fd and marks the WAL broken on failure. Returns 0 or -errno (-EIO once
 * broken). */
int wal_sync_begin(wal *w, int *fd);
int wal_sync_end(wal *w, int fd, int sync_rc);

/* Starts a new segment now (after syncing the current one), even if the current one is empty.
 * Stores its number in *seg (may be NULL). Returns 0 or -errno. */
int wal_cut(wal *w, uint64_t *seg);

/* Deletes every segment numbered < seg, never the current one, and syncs the directory.
 * Deletes what it can and returns 0 or the first -errno. */
int wal_truncate(wal *w, uint64_t seg);

/* Bytes in all segment files of this WAL (old and new, headers included), for /metrics. */
uint64_t wal_size(const wal *w);
/* Number of segment files, the current one included. */
size_t wal_segments(const wal *w);
/* Number of the segment wal_write currently appends to (no rollover check). */
uint64_t wal_current_segment(const wal *w);

/* Called for each good record, in order. seg is the segment number (0 from wal_scan). rec is
 * only valid during the call. Return 0 to go on or a negative code to stop. */
typedef int (*wal_record_fn)(void *ctx, uint64_t seg, const uint8_t *rec, size_t len);

typedef struct wal_replay_stats {
    uint64_t records;          /* good records handed to fn */
    uint64_t bytes;            /* their payload bytes */
    uint64_t segments;         /* segment files read (empty ones included) */
    uint64_t corrupt_segments; /* segments where damage was found */
    uint64_t dropped_bytes;    /* bytes after the last good record of damaged segments */
} wal_replay_stats;

/* Reads every segment of dir in numeric order and calls fn for each good record. Call it before
 * wal_open on the same dir. Damage never stops replay: a torn or corrupt tail of the LAST segment
 * is logged and the file is truncated at the last good record; damage in an older segment is
 * logged and the rest of that segment skipped (the file is left as is); a segment whose header is
 * damaged is logged, skipped and left as is. All of it is counted in *st (may be NULL; it is
 * zeroed first). A missing dir is an empty WAL. Returns 0; fn's negative code if it stopped the
 * replay (nothing is truncated then); -EPROTONOSUPPORT if a segment was written in a newer
 * format version (nothing is modified: refuse rather than destroy); -errno if a directory or
 * segment cannot be opened or read, or memory runs out (nothing is modified). */
int wal_replay(const char *dir, wal_record_fn fn, void *ctx, wal_replay_stats *st);

/* Parses one segment image data[0..len) in memory (header and records) and calls fn (may be
 * NULL) for each good record with seg 0. Sets *good_len (may be NULL) to the length of the good
 * prefix: the end of the last good record, or 0 if the header is bad. Pure: reads only
 * data[0..len), allocates nothing. Returns 0 if the whole image is good (an empty image is good),
 * -EBADMSG if damage (a torn or corrupt record, a bad header) begins at *good_len,
 * -EPROTONOSUPPORT for a newer format version, or fn's negative code (*good_len is then the end of
 * the record fn rejected). */
int wal_scan(const uint8_t *data, size_t len, wal_record_fn fn, void *ctx, size_t *good_len);

#endif
