/* block: an immutable, time-partitioned file of one tier: the label sets of its series and, per
 * series, one chunk per column (raw tier: 1 column; aggregate tiers: last, min, max, sum, count),
 * packed into zstd frames. Written once (to a temporary name, fsynced, renamed), then opened
 * read-only with mmap. The byte format is in docs/storage.md and at the top of block.c.
 *
 * A block_writer is used by one thread. An open block is immutable: any number of threads may
 * read it at once, each with its own block_cursor. */
#ifndef DD_TSDB_BLOCK_H
#define DD_TSDB_BLOCK_H

#include "../lib/labels.h"

#include <stddef.h>
#include <stdint.h>

#define BLOCK_MAX_COLS 5
/* Raw bytes per zstd frame (one chunk may make it longer). Smaller frames cost a little size
 * and make reading one series out of a block cheaper (a reader decompresses whole frames). */
#define BLOCK_FRAME_BYTES (64 * 1024)

typedef struct block_writer block_writer;

/* Starts a block of `tier` with columns per series, covering sample times [mint, maxt], in
 * directory dir (a temporary file there until finish). Returns 0 or -errno. */
int block_writer_open(block_writer **out, const char *dir, int tier, int ncols, int64_t mint,
                      int64_t maxt, int zstd_level);
/* Adds one series. Series must come in label order (labels_cmp), each with ncols chunks
 * (encoded by chunk.c; a column may be empty: len 0) and the series' first and last sample
 * times. Returns 0, -EINVAL (order, count) or -ENOMEM / -errno. */
int block_writer_add(block_writer *w, const labels *ls, const uint8_t *const *cols,
                     const size_t *lens, int64_t mint, int64_t maxt);
/* Writes the index and footer, fsyncs, renames into place as dir/<name>, fsyncs dir; name is
 * "<tier>-<mint>-<maxt>.ddb". Frees the writer in every case. Returns 0 and the final path in
 * path (size plen), or -errno (the temporary file is removed). */
int block_writer_finish(block_writer *w, char *path, size_t plen);
/* Abandons a block: removes the temporary file and frees the writer. Accepts NULL. */
void block_writer_abort(block_writer *w);

/* One series of an open block. */
typedef struct block_entry {
    uint32_t gid;   /* the caller's series id (from the callback at open) */
    uint32_t index; /* position in the block (label order) */
    int64_t mint, maxt;
    uint32_t ref;   /* first of ncols chunk refs in block->refs */
} block_entry;

typedef struct block_ref {
    uint32_t frame;
    uint32_t off; /* in the decompressed frame */
    uint32_t len;
} block_ref;

typedef struct block_frame {
    uint64_t off; /* in the file */
    uint32_t clen, rlen;
} block_frame;

typedef struct block {
    char *path;
    const unsigned char *map;
    size_t size;
    int tier, ncols;
    int64_t mint, maxt;
    uint64_t samples;   /* samples of the first column, from the footer */
    block_entry *entries; /* sorted by gid after open */
    size_t nentries;
    block_ref *refs;
    block_frame *frames;
    size_t nframes;
    uint64_t id;        /* unique per opened block in this process (cache key) */
} block;

/* Called once per series while a block is parsed: returns the caller's id for the labels
 * (>= 0) or a negative errno to abort. The labels are valid only during the call. */
typedef int (*block_series_fn)(void *ctx, const labels *ls, uint32_t *gid);

/* Opens the block file at path: maps it, checks magic, footer and index checksums, and calls
 * fn for every series. Returns 0 and *out (block_close), -EINVAL for a damaged file with a
 * reason in err, or -errno. */
int block_open(block **out, const char *path, block_series_fn fn, void *ctx, char *err,
               size_t errlen);
/* Parses a block image in memory (used by block_open and the fuzz target). The block keeps
 * pointers into data, which must outlive it. */
int block_parse(block *b, const unsigned char *data, size_t len, block_series_fn fn, void *ctx,
                char *err, size_t errlen);
/* Frees the in-memory structures of a parsed block (not map/path). */
void block_parse_free(block *b);
/* Unmaps and frees. Accepts NULL. */
void block_close(block *b);

/* The entry of gid, or NULL when the series has no data in this block. */
const block_entry *block_find(const block *b, uint32_t gid);

/* A cache of decompressed frames shared by all readers (queries repeat: dashboards refresh,
 * the same series are read again). Least recently used frames go first. Thread-safe. */
typedef struct block_cache block_cache;
/* Makes a cache of at most max_bytes of frames (0: no cache; returns NULL then). */
block_cache *block_cache_new(size_t max_bytes);
void block_cache_free(block_cache *c);
/* Forgets the frames of block id (called when a block is closed). */
void block_cache_drop(block_cache *c, uint64_t id);
/* Hits and misses since start, for /metrics. */
void block_cache_stats(block_cache *c, uint64_t *hits, uint64_t *misses, size_t *bytes);

/* A reader's decompression state: the last frame it decompressed. Zero-initialise (set cache
 * to share decompressed frames); free with block_cursor_free. */
typedef struct block_cursor {
    const block *b;
    uint32_t frame;
    unsigned char *data;
    size_t cap, len;
    block_cache *cache;
} block_cursor;
/* The bytes of column col of entry e (valid until the cursor moves to another frame). Returns
 * 0, -EINVAL (damaged frame: checksum) or -ENOMEM. */
int block_chunk(block_cursor *c, const block *b, const block_entry *e, int col,
                const uint8_t **data, size_t *len);
void block_cursor_free(block_cursor *c);

#endif
