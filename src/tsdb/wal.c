/* wal: the write-ahead log of the storage engine. The head appends its series records and sample
 * batches here before it answers a remote-write request, and replays them at start.
 *
 * Byte format (version 1). All integers are little-endian.
 *
 *   Directory: one file per segment, named by its number in decimal, zero-padded to at least
 *   8 digits ("%08llu": 00000001, 00000012, 123456789). Numbers start at 1 and only grow.
 *   Any other name (not all digits, fewer than 8 digits, extra leading zeros, a suffix such as
 *   ".tmp") and anything that is not a regular file is ignored.
 *
 *   Segment header, 8 bytes, at offset 0:
 *     0..4  magic "DDWAL"     0x44 0x44 0x57 0x41 0x4c
 *     5     0x00
 *     6     format version    0x01
 *     7     0x00              (reserved: flags, must be 0 in version 1)
 *   An empty (0-byte) file is a valid empty segment: a crash between creating the file and
 *   writing its header leaves one.
 *
 *   Then records back to back, each:
 *     0..3  u32 payload length L, 1 <= L <= 64 MiB (67108864)
 *     4..7  u32 CRC-32 (zlib's crc32(): the ISO-HDLC / IEEE 802.3 polynomial, reflected, initial
 *           and final xor 0xffffffff) over bytes 0..3 (the length field) followed by the payload,
 *           so a damaged length is caught as well
 *     8..   L payload bytes (opaque to the WAL)
 *   No padding, no trailer; the file ends after the last record. A record never spans segments.
 *   A length of 0 is invalid, so a zero-filled tail (preallocation, file-system garbage after a
 *   crash) ends the good data; its checksum could not match anyway.
 *
 * Durability. wal_write frames a batch into one buffer and hands it to the kernel with one
 * pwrite(2) at the end of the good data (retrying EINTR and short writes). When it returns 0 the
 * batch is in the page cache, so it survives kill -9 of the process; it survives power loss once
 * fdatasync has run: after every wal_write (fsync_interval_ms 0), at most every interval (> 0;
 * wal_sync on a timer bounds the unsynced tail), or never (< 0, tests). Creating a segment writes
 * its header and, unless the policy is "never", syncs the file and the directory; cutting to a
 * new segment first syncs the old one, so only the current segment can have an unsynced tail.
 * A failed write is cut off again with ftruncate (the records are not in the WAL, the WAL stays
 * usable); if that fails, or an fdatasync fails (after which the page cache cannot be trusted),
 * the WAL is marked broken and every later call returns -EIO.
 *
 * Recovery (wal_replay). Segments are read in numeric order in large chunks (8 MiB, grown to
 * hold the largest record) and each record is checked against its CRC. A process killed inside
 * a write leaves a torn last record; power loss can leave a torn or zeroed tail; bit rot can hit
 * anywhere. We cannot tell a torn write from a flipped bit, so any bad frame ends a segment:
 *   - records before the damage are replayed; the damage (segment, offset, reason, bytes
 *     dropped) is logged and counted;
 *   - in the LAST segment the file is truncated at the end of the last good record (and synced).
 *     New appends never go there (wal_open always starts a new segment), so this is tidiness:
 *     the damage is logged once, not at every start while the segment lives;
 *   - in an older segment the rest of the segment is skipped but the file is left untouched
 *     (a human may still want to look at it) and replay goes on with the next segment;
 *   - a segment whose header is bad (wrong magic, torn header) is skipped and left untouched
 *     wherever it is; one with a good magic but a newer version stops replay with
 *     -EPROTONOSUPPORT, so an older binary never destroys data it cannot read.
 * I/O errors (cannot open or read a segment) are not damage: replay fails and modifies nothing.
 * wal_scan, the pure parser the fuzz target drives, and wal_replay share header_check and
 * frame_check, so both accept exactly the same bytes. */
#include "wal.h"

#include "../lib/fsutil.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/timeutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define WAL_VERSION 1
#define WAL_DEFAULT_SEGMENT (128ULL << 20)
/* Initial replay read buffer; grown when one record needs more. */
#define WAL_READ_CHUNK ((size_t)8 << 20)
/* wal_write keeps its frame buffer between calls unless it grew beyond this. */
#define WAL_KEEP_BUF ((size_t)16 << 20)

static const uint8_t wal_magic[6] = {'D', 'D', 'W', 'A', 'L', 0};

typedef struct wal_seg {
    uint64_t num;
    uint64_t size;
} wal_seg;

struct wal {
    char *dir;
    int fd;       /* current segment, -1 if none */
    uint64_t off; /* bytes of good data in the current segment */
    uint64_t segment_bytes;
    int64_t fsync_ms;
    int caller_syncs;
    int64_t last_sync_ms; /* monotonic */
    int dirty;            /* written since the last fdatasync */
    int broken;           /* a failed write could not be undone, or a sync failed */
    wal_seg *segs;        /* sorted by num; the last one is the current segment */
    size_t nsegs, capsegs;
    uint64_t old_bytes; /* sum of the sizes of all but the current segment */
    uint8_t *buf;       /* frame buffer of wal_write */
    size_t bufcap;
};

/* ---- format: shared by wal_scan and wal_replay ---- */

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* CRC of a frame: over the 4 length bytes, then the payload. */
static uint32_t frame_crc(const uint8_t *lenbytes, const uint8_t *payload, uint32_t len)
{
    uLong c = crc32(0L, lenbytes, 4);
    return (uint32_t)crc32(c, payload, len);
}

enum { CHECK_OK = 0, CHECK_NEED = 1 };

/* Checks the segment header in p[0..avail). Returns CHECK_OK, CHECK_NEED (fewer than 8 bytes),
 * -EBADMSG or -EPROTONOSUPPORT, with a reason in *why. */
static int header_check(const uint8_t *p, size_t avail, const char **why)
{
    if (avail < WAL_SEGMENT_HEADER) {
        *why = "truncated segment header";
        return CHECK_NEED;
    }
    if (memcmp(p, wal_magic, sizeof wal_magic) != 0) {
        *why = "bad segment magic";
        return -EBADMSG;
    }
    if (p[6] > WAL_VERSION) {
        *why = "segment written in a newer format version";
        return -EPROTONOSUPPORT;
    }
    if (p[6] != WAL_VERSION || p[7] != 0) {
        *why = "bad segment version or flags";
        return -EBADMSG;
    }
    return CHECK_OK;
}

/* Checks the frame at p[0..avail). Returns CHECK_OK with its total size (header + payload) in
 * *frame, CHECK_NEED if the frame does not fit in avail (with *frame the size it needs when the
 * length is known, else 0), or -EBADMSG with a reason in *why. */
static int frame_check(const uint8_t *p, size_t avail, size_t *frame, const char **why)
{
    *frame = 0;
    if (avail < 4) {
        *why = "truncated record header";
        return CHECK_NEED;
    }
    uint32_t len = get_le32(p);
    if (len == 0) {
        *why = "zero record length (zeroed tail)";
        return -EBADMSG;
    }
    if (len > WAL_MAX_RECORD) {
        *why = "record length over 64 MiB";
        return -EBADMSG;
    }
    *frame = WAL_RECORD_HEADER + (size_t)len;
    if (avail < *frame) {
        *why = avail < WAL_RECORD_HEADER ? "truncated record header" : "truncated record";
        return CHECK_NEED;
    }
    if (frame_crc(p, p + WAL_RECORD_HEADER, len) != get_le32(p + 4)) {
        *why = "checksum mismatch";
        return -EBADMSG;
    }
    return CHECK_OK;
}

int wal_scan(const uint8_t *data, size_t len, wal_record_fn fn, void *ctx, size_t *good_len)
{
    const char *why = NULL;
    size_t pos = 0, frame;
    int rc = 0;
    if (len == 0)
        goto out;
    rc = header_check(data, len, &why);
    if (rc != CHECK_OK) {
        rc = rc == CHECK_NEED ? -EBADMSG : rc;
        goto out;
    }
    pos = WAL_SEGMENT_HEADER;
    while (pos < len) {
        rc = frame_check(data + pos, len - pos, &frame, &why);
        if (rc != CHECK_OK) {
            rc = -EBADMSG;
            goto out;
        }
        if (fn) {
            rc = fn(ctx, 0, data + pos + WAL_RECORD_HEADER, frame - WAL_RECORD_HEADER);
            if (rc) {
                pos += frame;
                goto out;
            }
        }
        pos += frame;
    }
out:
    if (good_len)
        *good_len = pos;
    return rc;
}

/* ---- directory listing ---- */

static int seg_cmp(const void *a, const void *b)
{
    uint64_t x = ((const wal_seg *)a)->num, y = ((const wal_seg *)b)->num;
    return (x > y) - (x < y);
}

static void seg_path(const char *dir, uint64_t num, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%08" PRIu64, dir, num);
}

/* Parses a canonical segment name ("%08llu"); returns 0 and *num, or -1. */
static int seg_parse_name(const char *name, uint64_t *num)
{
    size_t n = strlen(name);
    char canon[32];
    if (n < 8 || n > 20)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (name[i] < '0' || name[i] > '9')
            return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(name, &end, 10);
    if (errno || *end)
        return -1;
    snprintf(canon, sizeof canon, "%08llu", v);
    if (strcmp(canon, name) != 0)
        return -1;
    *num = (uint64_t)v;
    return 0;
}

/* Adds a segment at the end of the array (growing it). Returns 0 or -ENOMEM. */
static int segs_push(wal_seg **v, size_t *n, size_t *cap, uint64_t num, uint64_t size)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        wal_seg *nv = mem_realloc(*v, nc * sizeof *nv);
        if (!nv)
            return -ENOMEM;
        *v = nv;
        *cap = nc;
    }
    (*v)[*n].num = num;
    (*v)[*n].size = size;
    (*n)++;
    return 0;
}

/* Lists the segment files of dir sorted by number into a fresh array (*out, owned by the
 * caller; NULL when empty), with their sizes. Returns 0 or -errno (-ENOENT: no dir). */
static int segs_list(const char *dir, wal_seg **out, size_t *nout, size_t *capout)
{
    wal_seg *v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d))) {
        uint64_t num;
        struct stat st;
        if (seg_parse_name(de->d_name, &num) < 0) {
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                log_debug("wal: ignoring %s/%s (not a segment name)", dir, de->d_name);
            errno = 0;
            continue;
        }
        if (fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode)) {
            log_warn("wal: ignoring %s/%s (not a regular file)", dir, de->d_name);
            errno = 0;
            continue;
        }
        if ((rc = segs_push(&v, &n, &cap, num, (uint64_t)st.st_size)))
            goto out;
        errno = 0;
    }
    if (errno)
        rc = -errno;
out:
    closedir(d);
    if (rc) {
        mem_free(v);
        return rc;
    }
    if (n > 1)
        qsort(v, n, sizeof *v, seg_cmp);
    *out = v;
    *nout = n;
    if (capout)
        *capout = cap;
    return 0;
}

/* ---- writing ---- */

static int sync_enabled(const wal *w)
{
    return w->fsync_ms >= 0;
}

static int write_all(int fd, const uint8_t *p, size_t len, uint64_t off)
{
    while (len) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EIO;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* fdatasyncs the current segment if dirty. A failure marks the WAL broken. */
static int sync_current(wal *w)
{
    if (!sync_enabled(w) || !w->dirty || w->fd < 0)
        return 0;
    if (fdatasync(w->fd) < 0) {
        int rc = -errno;
        w->broken = 1;
        log_error("wal: fdatasync of segment %08" PRIu64 " in %s failed (%s); the WAL is broken",
                  w->segs[w->nsegs - 1].num, w->dir, strerror(-rc));
        return rc;
    }
    w->dirty = 0;
    w->last_sync_ms = timeutil_mono_ms();
    return 0;
}

/* Creates segment num, makes it current and closes the previous one (synced first). On error
 * the previous segment stays current. */
static int start_segment(wal *w, uint64_t num)
{
    char path[PATH_MAX];
    uint8_t hdr[WAL_SEGMENT_HEADER] = {0};
    int rc, fd = -1;
    /* Room in the array first, so nothing can fail after the file exists. */
    if (w->nsegs == w->capsegs) {
        size_t nc = w->capsegs ? w->capsegs * 2 : 16;
        wal_seg *nv = mem_realloc(w->segs, nc * sizeof *nv);
        if (!nv)
            return -ENOMEM;
        w->segs = nv;
        w->capsegs = nc;
    }
    if ((rc = sync_current(w)))
        return rc;
    seg_path(w->dir, num, path, sizeof path);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    memcpy(hdr, wal_magic, sizeof wal_magic);
    hdr[6] = WAL_VERSION;
    if ((rc = write_all(fd, hdr, sizeof hdr, 0)))
        goto fail;
    if (sync_enabled(w)) {
        if (fdatasync(fd) < 0) {
            rc = -errno;
            goto fail;
        }
        if ((rc = fsutil_sync_dir(w->dir)))
            goto fail;
    }
    if (w->fd >= 0) {
        close(w->fd);
        w->segs[w->nsegs - 1].size = w->off;
        w->old_bytes += w->off;
    }
    w->fd = fd;
    w->off = WAL_SEGMENT_HEADER;
    w->dirty = 0;
    w->segs[w->nsegs].num = num;
    w->segs[w->nsegs].size = WAL_SEGMENT_HEADER;
    w->nsegs++;
    return 0;
fail:
    close(fd);
    unlink(path);
    return rc;
}

static int cut(wal *w)
{
    uint64_t cur = w->segs[w->nsegs - 1].num;
    if (cur == UINT64_MAX)
        return -EOVERFLOW;
    return start_segment(w, cur + 1);
}

/* The rollover rule shared by wal_next_segment and wal_write. */
static int maybe_roll(wal *w)
{
    if (w->off > w->segment_bytes && w->off > WAL_SEGMENT_HEADER)
        return cut(w);
    return 0;
}

int wal_open(wal **out, const char *dir, const wal_options *opt)
{
    wal *w = NULL;
    int rc;
    uint64_t next = 1;
    if (!dir || !*dir || strlen(dir) > PATH_MAX - 32)
        return -EINVAL;
    w = mem_calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    w->fd = -1;
    w->segment_bytes = opt && opt->segment_bytes ? opt->segment_bytes : WAL_DEFAULT_SEGMENT;
    w->fsync_ms = opt ? opt->fsync_interval_ms : 0;
    w->caller_syncs = opt ? opt->caller_syncs : 0;
    w->dir = mem_strdup(dir);
    if (!w->dir) {
        rc = -ENOMEM;
        goto fail;
    }
    if ((rc = fsutil_mkdirs(dir)))
        goto fail;
    if ((rc = segs_list(dir, &w->segs, &w->nsegs, &w->capsegs)))
        goto fail;
    for (size_t i = 0; i < w->nsegs; i++)
        w->old_bytes += w->segs[i].size;
    if (w->nsegs) {
        uint64_t last = w->segs[w->nsegs - 1].num;
        if (last == UINT64_MAX) {
            rc = -EOVERFLOW;
            goto fail;
        }
        next = last + 1;
    }
    if ((rc = start_segment(w, next)))
        goto fail;
    w->last_sync_ms = timeutil_mono_ms();
    log_info("wal: writing segment %08" PRIu64 " in %s (%zu older segments, %" PRIu64 " bytes)",
             next, dir, w->nsegs - 1, w->old_bytes);
    *out = w;
    return 0;
fail:
    wal_close(w);
    return rc;
}

void wal_close(wal *w)
{
    if (!w)
        return;
    if (w->fd >= 0) {
        if (!w->broken)
            sync_current(w);
        close(w->fd);
    }
    mem_free(w->segs);
    mem_free(w->buf);
    mem_free(w->dir);
    mem_free(w);
}

int wal_next_segment(wal *w, uint64_t *seg)
{
    if (w->broken)
        return -EIO;
    int rc = maybe_roll(w);
    if (rc)
        return rc;
    *seg = w->segs[w->nsegs - 1].num;
    return 0;
}

int wal_write(wal *w, const struct iovec *recs, size_t n)
{
    size_t total = 0, pos = 0;
    int rc;
    if (w->broken)
        return -EIO;
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = recs[i].iov_len;
        if (l == 0 || l > WAL_MAX_RECORD || !recs[i].iov_base)
            return -EINVAL;
        if (total + WAL_RECORD_HEADER + l > WAL_MAX_BATCH)
            return -EINVAL;
        total += WAL_RECORD_HEADER + l;
    }
    if ((rc = maybe_roll(w)))
        return rc;
    if (total > w->bufcap) {
        /* No realloc: the old contents are not needed, and copying them would be waste. */
        uint8_t *nb = mem_alloc(total);
        if (!nb)
            return -ENOMEM;
        mem_free(w->buf);
        w->buf = nb;
        w->bufcap = total;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t *f = w->buf + pos;
        uint32_t l = (uint32_t)recs[i].iov_len;
        put_le32(f, l);
        memcpy(f + WAL_RECORD_HEADER, recs[i].iov_base, l);
        put_le32(f + 4, frame_crc(f, f + WAL_RECORD_HEADER, l));
        pos += WAL_RECORD_HEADER + l;
    }
    rc = write_all(w->fd, w->buf, total, w->off);
    if (w->bufcap > WAL_KEEP_BUF) {
        mem_free(w->buf);
        w->buf = NULL;
        w->bufcap = 0;
    }
    if (rc) {
        /* Cut off whatever part of the batch reached the file: it was never acknowledged. */
        if (ftruncate(w->fd, (off_t)w->off) < 0) {
            w->broken = 1;
            log_error("wal: write to segment %08" PRIu64 " in %s failed (%s) and the partial "
                      "write cannot be cut off (%s); the WAL is broken",
                      w->segs[w->nsegs - 1].num, w->dir, strerror(-rc), strerror(errno));
        } else {
            log_error("wal: write of %zu bytes to segment %08" PRIu64 " in %s failed (%s)", total,
                      w->segs[w->nsegs - 1].num, w->dir, strerror(-rc));
        }
        return rc;
    }
    w->off += total;
    w->dirty = 1;
    if (w->fsync_ms == 0 || (w->fsync_ms > 0 && !w->caller_syncs &&
                             timeutil_mono_ms() - w->last_sync_ms >= w->fsync_ms))
        return sync_current(w);
    return 0;
}

int wal_sync_begin(wal *w, int *fd)
{
    *fd = -1;
    if (w->broken)
        return -EIO;
    if (!sync_enabled(w) || !w->dirty || w->fd < 0)
        return 0;
    int d = fcntl(w->fd, F_DUPFD_CLOEXEC, 0);
    if (d < 0)
        return sync_current(w); /* no descriptor left: sync here, under the lock */
    *fd = d;
    w->dirty = 0;
    w->last_sync_ms = timeutil_mono_ms();
    return 0;
}

int wal_sync_end(wal *w, int fd, int sync_rc)
{
    if (fd >= 0)
        close(fd);
    if (sync_rc) {
        w->broken = 1;
        log_error("wal: fdatasync in %s failed (%s); the WAL is broken", w->dir,
                  strerror(-sync_rc));
        return sync_rc;
    }
    return w->broken ? -EIO : 0;
}

int wal_sync(wal *w)
{
    if (w->broken)
        return -EIO;
    return sync_current(w);
}

int wal_cut(wal *w, uint64_t *seg)
{
    if (w->broken)
        return -EIO;
    int rc = cut(w);
    if (rc)
        return rc;
    if (seg)
        *seg = w->segs[w->nsegs - 1].num;
    return 0;
}

int wal_truncate(wal *w, uint64_t seg)
{
    char path[PATH_MAX];
    int rc = 0;
    size_t keep = 0, removed = 0;
    if (w->broken)
        return -EIO;
    for (size_t i = 0; i < w->nsegs; i++) {
        wal_seg s = w->segs[i];
        if (i + 1 < w->nsegs && s.num < seg) {
            seg_path(w->dir, s.num, path, sizeof path);
            if (unlink(path) == 0 || errno == ENOENT) {
                w->old_bytes -= s.size;
                removed++;
                continue;
            }
            if (!rc)
                rc = -errno;
            log_warn("wal: cannot delete %s (%s)", path, strerror(errno));
        }
        w->segs[keep++] = s;
    }
    w->nsegs = keep;
    if (removed && sync_enabled(w)) {
        int src = fsutil_sync_dir(w->dir);
        if (!rc)
            rc = src;
    }
    return rc;
}

uint64_t wal_size(const wal *w)
{
    return w->old_bytes + w->off;
}

size_t wal_segments(const wal *w)
{
    return w->nsegs;
}

uint64_t wal_current_segment(const wal *w)
{
    return w->segs[w->nsegs - 1].num;
}

/* ---- replay ---- */

typedef struct reader {
    uint8_t *buf;
    size_t cap;
    size_t have;   /* valid bytes in buf */
    uint64_t base; /* file offset of buf[0] */
    int eof;
} reader;

/* Reads until the buffer is full or the file ends. Returns 0 or -errno. */
static int reader_fill(reader *r, int fd)
{
    while (r->have < r->cap && !r->eof) {
        ssize_t n = read(fd, r->buf + r->have, r->cap - r->have);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            r->eof = 1;
        r->have += (size_t)n;
    }
    return 0;
}

/* Drops buf[0..pos), keeping the rest, and makes room for need bytes. Returns 0 or -ENOMEM. */
static int reader_shift(reader *r, size_t pos, size_t need)
{
    memmove(r->buf, r->buf + pos, r->have - pos);
    r->have -= pos;
    r->base += pos;
    if (need > r->cap) {
        uint8_t *nb = mem_realloc(r->buf, need);
        if (!nb)
            return -ENOMEM;
        r->buf = nb;
        r->cap = need;
    }
    return 0;
}

/* Replays one segment. On return *good is the end of its good data, *why says what damage was
 * found (NULL: none) and *stopped is fn's code if fn stopped the replay (else 0). Returns 0,
 * -EPROTONOSUPPORT or -errno (read error, no memory). */
static int replay_segment(int fd, uint64_t num, reader *r, wal_record_fn fn, void *ctx,
                          wal_replay_stats *st, uint64_t *good, const char **why, int *stopped)
{
    size_t pos = 0, frame = 0;
    int rc;
    *good = 0;
    *why = NULL;
    *stopped = 0;
    r->have = 0;
    r->base = 0;
    r->eof = 0;
    if ((rc = reader_fill(r, fd)))
        return rc;
    if (r->have == 0)
        return 0;
    rc = header_check(r->buf, r->have, why);
    if (rc == -EPROTONOSUPPORT)
        return rc;
    if (rc != CHECK_OK)
        return 0; /* a torn header (the buffer holds 16+ bytes, so this is the end of the file)
                     or a bad one: damaged at offset 0 */
    pos = WAL_SEGMENT_HEADER;
    *good = pos;
    for (;;) {
        if (pos == r->have && r->eof) {
            *why = NULL;
            return 0;
        }
        if (pos < r->have) {
            rc = frame_check(r->buf + pos, r->have - pos, &frame, why);
            if (rc == CHECK_OK) {
                size_t len = frame - WAL_RECORD_HEADER;
                if (fn && (*stopped = fn(ctx, num, r->buf + pos + WAL_RECORD_HEADER, len)))
                    return 0;
                st->records++;
                st->bytes += len;
                pos += frame;
                *good = r->base + pos;
                continue;
            }
            if (rc < 0 || r->eof)
                return 0; /* corrupt, or torn at the end of the file */
        } else {
            frame = 0;
        }
        /* Need more bytes: keep the partial frame, read on. */
        if ((rc = reader_shift(r, pos, frame)))
            return rc;
        pos = 0;
        if ((rc = reader_fill(r, fd)))
            return rc;
    }
}

int wal_replay(const char *dir, wal_record_fn fn, void *ctx, wal_replay_stats *st)
{
    wal_replay_stats dummy;
    wal_seg *segs = NULL;
    size_t nsegs = 0;
    reader r = {0};
    char path[PATH_MAX];
    int rc, fd = -1;
    int64_t t0 = timeutil_mono_ms();
    uint64_t file_bytes = 0;
    if (!st)
        st = &dummy;
    memset(st, 0, sizeof *st);
    if (!dir || !*dir || strlen(dir) > PATH_MAX - 32)
        return -EINVAL;
    rc = segs_list(dir, &segs, &nsegs, NULL);
    if (rc == -ENOENT)
        return 0;
    if (rc)
        goto out;
    /* One buffer for all segments: 8 MiB, or less when every segment is smaller. */
    r.cap = WAL_SEGMENT_HEADER + WAL_RECORD_HEADER;
    for (size_t i = 0; i < nsegs; i++)
        if (segs[i].size > r.cap)
            r.cap = segs[i].size > WAL_READ_CHUNK ? WAL_READ_CHUNK : (size_t)segs[i].size;
    r.buf = mem_alloc(r.cap);
    if (!r.buf) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < nsegs; i++) {
        uint64_t good = 0, size;
        const char *why = NULL;
        struct stat sb;
        seg_path(dir, segs[i].num, path, sizeof path);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &sb) < 0) {
            rc = -errno;
            log_error("wal: cannot read %s (%s)", path, strerror(-rc));
            goto out;
        }
        size = (uint64_t)sb.st_size;
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        int stopped = 0;
        rc = replay_segment(fd, segs[i].num, &r, fn, ctx, st, &good, &why, &stopped);
        if (rc == -EPROTONOSUPPORT) {
            log_error("wal: %s: %s; refusing to replay (run a newer dashdot)", path, why);
            goto out;
        }
        if (stopped) {
            /* Stopped by fn: its code is the answer; nothing is repaired. */
            rc = stopped;
            goto out;
        }
        if (rc) {
            log_error("wal: cannot read %s (%s)", path, strerror(-rc));
            goto out;
        }
        st->segments++;
        file_bytes += size;
        if (why) {
            int last = i + 1 == nsegs;
            int repair = last && good >= WAL_SEGMENT_HEADER;
            st->corrupt_segments++;
            st->dropped_bytes += size - good;
            if (repair) {
                if (truncate(path, (off_t)good) < 0 || fsync(fd) < 0) {
                    rc = -errno;
                    log_error("wal: cannot truncate %s to %" PRIu64 " bytes (%s)", path, good,
                              strerror(-rc));
                    goto out;
                }
            }
            log_warn("wal: %s: %s at offset %" PRIu64 " of %" PRIu64 ": dropped %" PRIu64
                     " bytes (%s)",
                     path, why, good, size, size - good,
                     repair                      ? "last segment: truncated there"
                     : good < WAL_SEGMENT_HEADER ? "bad header: segment skipped, left as is"
                                                 : "rest of segment skipped, left as is");
        }
        close(fd);
        fd = -1;
    }
    rc = 0;
    if (nsegs) {
        int64_t ms = timeutil_mono_ms() - t0;
        log_info("wal: replayed %" PRIu64 " records (%" PRIu64 " bytes) from %" PRIu64
                 " segments in %s in %lld ms; %" PRIu64 " damaged, %" PRIu64 " bytes dropped",
                 st->records, file_bytes, st->segments, dir, (long long)ms, st->corrupt_segments,
                 st->dropped_bytes);
    }
out:
    if (fd >= 0)
        close(fd);
    mem_free(r.buf);
    mem_free(segs);
    return rc;
}
