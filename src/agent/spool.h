/* spool: the agent's on-disk queue of encoded batches waiting for the server.
 *
 * Each batch is one file named by its sequence number (DIR/00000000000000000042.rw), so the
 * queue survives agent restarts and is delivered oldest first. The spool has a size cap: when
 * a new batch would exceed it, the oldest batches are dropped, counted and logged. Batches the
 * server refuses for good (a 4xx other than 429) are parked in DIR/parked/ for inspection
 * instead of being retried forever. Files are written to a temporary name and renamed, so a
 * crash never leaves a torn batch in the queue. Owned by the agent's loop thread. */
#ifndef DD_SPOOL_H
#define DD_SPOOL_H

#include "../lib/buf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct spool spool;

/* Opens (creating) the spool in dir with a cap of max_bytes, picking up batches left by an
 * earlier run. Returns 0 or -errno; the caller frees *out with spool_close. */
int spool_open(spool **out, const char *dir, uint64_t max_bytes);
void spool_close(spool *s);
/* Adds a batch with sequence number seq (which must not be in the spool). Drops the oldest
 * batches when over the cap (a single batch larger than the cap is refused with -EFBIG).
 * Returns 0 or -errno. */
int spool_push(spool *s, uint64_t seq, const void *data, size_t len);
/* Reads the oldest batch into out (reset first) and its seq. Returns 0, -ENOENT when the
 * spool is empty, or -errno (an unreadable file is dropped and logged; call again). */
int spool_peek(spool *s, buf *out, uint64_t *seq);
/* Removes batch seq (delivered). */
int spool_remove(spool *s, uint64_t seq);
/* Moves batch seq to parked/. */
int spool_park(spool *s, uint64_t seq);
/* Writes data straight to parked/ (a batch that never entered the queue). */
int spool_park_data(spool *s, uint64_t seq, const void *data, size_t len);
size_t spool_count(const spool *s);
uint64_t spool_bytes(const spool *s);
/* Batches dropped because the spool was full, since open. */
uint64_t spool_dropped(const spool *s);
/* The highest sequence number seen in the spool (0 if none), so a restarted agent continues
 * after it. */
uint64_t spool_max_seq(const spool *s);

#endif
