/* usagelog: the append-only usage-event log (see usagelog.h for its promises).
 *
 * Byte format (version 1). All fixed-width integers are little-endian; varints are LEB128
 * (lib/varint.h), signed ones zigzag.
 *
 *   Files in the directory (anything else is left alone):
 *     YYYYMMDD-GGGGGGGG.log  an unsealed segment of the UTC day YYYYMMDD, generation G
 *     YYYYMMDD.zst           the sealed day: the segments of generations <= its max_gen,
 *                            concatenated, in one zstd frame
 *     YYYYMMDD.zst.tmp       a seal in progress (removed at open)
 *     *.damaged              a file set aside at open (never read again; for humans)
 *   Generations of a day only grow (also across seals), so a sealed day's max_gen tells which
 *   .log files it already holds: a crash between renaming a .zst into place and unlinking the
 *   logs it swallowed is repaired at open by unlinking them. A process never appends to a
 *   segment it did not create (a restart, a full intern table or a day that was evicted from
 *   the active set starts a new generation), so recovery never has to rebuild writer state.
 *
 *   Segment header, 16 bytes:
 *     0..5   "DDUSG\0"   6  version 1   7  flags 0   8..11 i32 day (days since 1970-01-01)
 *     12..15 u32 generation
 *   Then frames, one or more per append batch and segment, each:
 *     0..3   u32 payload length L, 1 <= L <= 4 MiB
 *     4..7   u32 CRC-32 (zlib) over bytes 0..3 and the payload
 *     8..    L payload bytes: items back to back
 *   Items:
 *     0xF0 varint n, n bytes          defines the next string (ids from 1; 0 is "")
 *     0xF1 5 varints                  defines the next key (ids from 0): the string ids of
 *                                     customer, type, state, label, change_type
 *     0x00..0x1F (flags)              an event:
 *        [varint key]                 if flags & 8, else the previous event's key (in the frame)
 *        varint zigzag(t - prev t)    prev t starts at the day's first ms in every frame
 *        [varint count]               if flags & 16, else 1
 *        [varint took_ms]             if flags & 1, else not given (-1)
 *        [varint zigzag(recv - t)]    if flags & 4, else recv == t
 *        [varint n, n bytes]          event id, if flags & 2
 *   The delta state resets at every frame, so a frame decodes given only the definitions of
 *   earlier frames; definitions precede their first use in the same frame, so a torn frame
 *   takes its definitions with it and what remains is consistent. A typical event of a
 *   repetitive stream is 4-6 bytes.
 *
 *   Sealed file: a zstd skippable frame (magic 0x184D2A5B, 40 bytes: "DDUSGZ", version 1,
 *   flags 0, u64 events, u64 raw bytes, i64 day, u32 max_gen, u32 CRC-32 of the 36 bytes
 *   before it) so open reads a day's size and count without decompressing, then one zstd frame
 *   (with its checksum) holding segments back to back; a new segment starts where a frame
 *   length reads "DDUS", which no frame length can be.
 *
 * Recovery. At open every .log is decoded: the first bad frame (torn, zeroed, bad CRC, bad
 * content) ends the good data; the file is cut there, synced, logged and counted. A file whose
 * header is not ours is renamed *.damaged; one in a newer version makes open fail before
 * anything is touched. Appends that fail (I/O, memory) cut the files back to where they were
 * and roll the intern tables and dedupe ids back; when that is impossible the log is broken
 * and refuses appends (-EIO) rather than write after garbage.
 *
 * Concurrency. One mutex guards everything; an append encodes and pwrites under it. A scan
 * takes it per day only to open that day's files and note how far each unsealed one is
 * committed, then reads without it (a file renamed or unlinked meanwhile stays readable through
 * its descriptor). A seal decides and opens under the lock, compresses without it (appends for
 * that day meanwhile open a new generation), and renames and unlinks under it. */
#include "usagelog.h"

#include "../lib/buf.h"
#include "../lib/fsutil.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/timeutil.h"
#include "../lib/varint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zlib.h>
#include <zstd.h>

#define DAY_MS 86400000LL
#define MAX_DAY 2932896 /* 9999-12-31 */
#define HDR 16
#define FHDR 8
#define FRAME_TARGET ((size_t)256 << 10) /* a frame is closed once its payload passes this */
#define FRAME_MAX ((uint32_t)4 << 20)
#define STR_MAX 255
#define SEG_MAX_STRINGS ((size_t)1 << 20)
#define SEG_MAX_STRBYTES ((size_t)64 << 20)
#define SEG_MAX_KEYS ((size_t)1 << 20)
#define MAX_ACTIVE 16 /* segments with an open writer */
#define REC_MAX 2048  /* bytes one event can add to a frame, its definitions included */
#define PEND_KEEP ((size_t)4 << 20)
#define READ_CHUNK ((size_t)256 << 10)
#define GEN_MAX 99999999u
#define OP_STR 0xF0
#define OP_KEY 0xF1
#define EV_TOOK 1
#define EV_ID 2
#define EV_RECV 4
#define EV_KEY 8
#define EV_COUNT 16
#define META_MAGIC 0x184D2A5Bu
#define META_LEN 40
#define SEG_MAGIC4 0x53554444u /* "DDUS" read as a frame length */
#define NO_KEY UINT32_MAX
#define NONE SIZE_MAX

static const unsigned char seg_magic[6] = {'D', 'D', 'U', 'S', 'G', 0};
static const unsigned char meta_magic[6] = {'D', 'D', 'U', 'S', 'G', 'Z'};

/* timeutil_civil_from_days with an int year (days here are within years 0-9999). */
static void usagelog_civil(int64_t z, int *y, unsigned *m, unsigned *d)
{
    int64_t yy;
    timeutil_civil_from_days(z, &yy, m, d);
    *y = (int)yy;
}

/* ---- small helpers ---- */

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static unsigned char *put_uv(unsigned char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (unsigned char)v;
    return p;
}

/* a / b rounded towards minus infinity (b > 0), for any a. */
static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static uint32_t frame_crc(const unsigned char *lenbytes, const unsigned char *payload, size_t n)
{
    uLong c = crc32(0L, lenbytes, 4);
    return (uint32_t)crc32(c, payload, (uInt)n);
}

static void day_name(int64_t day, char *dst, size_t cap)
{
    int y;
    unsigned m, d;
    usagelog_civil(day, &y, &m, &d);
    snprintf(dst, cap, "%04d%02u%02u", y, m, d);
}

static void log_path(const char *dir, int64_t day, uint32_t gen, char *dst, size_t cap)
{
    char dn[16];
    day_name(day, dn, sizeof dn);
    snprintf(dst, cap, "%s/%s-%08" PRIu32 ".log", dir, dn, gen);
}

static void zst_path(const char *dir, int64_t day, const char *suffix, char *dst, size_t cap)
{
    char dn[16];
    day_name(day, dn, sizeof dn);
    snprintf(dst, cap, "%s/%s.zst%s", dir, dn, suffix);
}

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

enum { NAME_OTHER, NAME_LOG, NAME_ZST, NAME_TMP };

/* Classifies a directory entry; fills day (and gen for logs). */
static int parse_name(const char *s, int64_t *day, uint32_t *gen)
{
    size_t n = strlen(s);
    int kind;
    if (n == 21 && s[8] == '-' && all_digits(s + 9, 8) && !strcmp(s + 17, ".log"))
        kind = NAME_LOG;
    else if (n == 12 && !strcmp(s + 8, ".zst"))
        kind = NAME_ZST;
    else if (n == 16 && !strcmp(s + 8, ".zst.tmp"))
        kind = NAME_TMP;
    else
        return NAME_OTHER;
    if (!all_digits(s, 8))
        return NAME_OTHER;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    unsigned m = (unsigned)((s[4] - '0') * 10 + (s[5] - '0'));
    unsigned d = (unsigned)((s[6] - '0') * 10 + (s[7] - '0'));
    if (m < 1 || m > 12 || d < 1 || d > 31 || y < 1970)
        return NAME_OTHER;
    int64_t dd = timeutil_days_from_civil(y, m, d);
    int y2;
    unsigned m2, d2;
    usagelog_civil(dd, &y2, &m2, &d2);
    if (y2 != y || m2 != m || d2 != d)
        return NAME_OTHER; /* 20240231 */
    *day = dd;
    if (kind == NAME_LOG) {
        uint32_t g = 0;
        for (int i = 9; i < 17; i++)
            g = g * 10 + (uint32_t)(s[i] - '0');
        *gen = g;
    }
    return kind;
}

static int pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
    const char *c = p;
    while (n) {
        ssize_t w = pwrite(fd, c, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (w == 0)
            return -EIO;
        c += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (w == 0)
            return -EIO;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static uint32_t hash32(const void *p, size_t n)
{
    return (uint32_t)XXH3_64bits(p, n);
}

/* ---- intern: byte strings numbered in order of arrival, optionally indexed for lookup ---- */

typedef struct ient {
    uint32_t off, len, hash;
} ient;

typedef struct intern {
    buf bytes; /* entries back to back, each followed by a NUL */
    ient *e;   /* per id - 1 */
    size_t n, cap;
    uint32_t *slot; /* ids (0: empty), power-of-two count; only when indexed */
    size_t nslot;
    int indexed;
} intern;

static void intern_init(intern *it, int indexed)
{
    memset(it, 0, sizeof *it);
    buf_init(&it->bytes, 0);
    it->indexed = indexed;
}

static void intern_free(intern *it)
{
    buf_free(&it->bytes);
    mem_free(it->e);
    mem_free(it->slot);
    memset(it, 0, sizeof *it);
}

static const char *intern_get(const intern *it, uint32_t id)
{
    return it->bytes.data + it->e[id - 1].off;
}

static uint32_t intern_find(const intern *it, const void *p, size_t n, uint32_t h)
{
    if (!it->nslot)
        return 0;
    size_t mask = it->nslot - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        uint32_t id = it->slot[i];
        if (!id)
            return 0;
        const ient *e = &it->e[id - 1];
        if (e->hash == h && e->len == n && memcmp(it->bytes.data + e->off, p, n) == 0)
            return id;
    }
}

static void slot_insert(uint32_t *slot, size_t nslot, uint32_t id, uint32_t h)
{
    size_t mask = nslot - 1, i = h & mask;
    while (slot[i])
        i = (i + 1) & mask;
    slot[i] = id;
}

/* Adds an entry; returns its id (from 1), or 0 when memory is exhausted (nothing changed). */
static uint32_t intern_add(intern *it, const void *p, size_t n, uint32_t h)
{
    if (mem_grow((void **)&it->e, &it->cap, it->n, sizeof *it->e, 64))
        return 0;
    if (it->indexed && (it->n + 1) * 2 > it->nslot) {
        size_t ns = it->nslot ? it->nslot * 2 : 64;
        uint32_t *s = mem_calloc(ns, sizeof *s);
        if (!s)
            return 0;
        for (size_t i = 0; i < it->n; i++)
            slot_insert(s, ns, (uint32_t)i + 1, it->e[i].hash);
        mem_free(it->slot);
        it->slot = s;
        it->nslot = ns;
    }
    size_t off = it->bytes.len;
    if (buf_append(&it->bytes, p, n) || buf_putc(&it->bytes, '\0')) {
        it->bytes.len = off;
        it->bytes.err = 0;
        return 0;
    }
    it->e[it->n] = (ient){(uint32_t)off, (uint32_t)n, h};
    it->n++;
    if (it->indexed)
        slot_insert(it->slot, it->nslot, (uint32_t)it->n, h);
    return (uint32_t)it->n;
}

/* Removes the slot holding id (backward-shift deletion, as lib/hmap). */
static void slot_delete(intern *it, uint32_t id)
{
    size_t mask = it->nslot - 1, i = it->e[id - 1].hash & mask;
    while (it->slot[i] != id)
        i = (i + 1) & mask;
    size_t j = i;
    for (;;) {
        it->slot[i] = 0;
        for (;;) {
            j = (j + 1) & mask;
            if (!it->slot[j])
                return;
            size_t home = it->e[it->slot[j] - 1].hash & mask;
            if (i <= j ? (home <= i || home > j) : (home <= i && home > j))
                break;
        }
        it->slot[i] = it->slot[j];
        i = j;
    }
}

/* Forgets the entries after the first keep. */
static void intern_truncate(intern *it, size_t keep)
{
    if (keep >= it->n)
        return;
    if (it->indexed)
        for (size_t id = it->n; id > keep; id--)
            slot_delete(it, (uint32_t)id);
    it->bytes.len = it->e[keep].off;
    it->n = keep;
}

/* ---- dedupe: 64-bit hashes of (customer, event id), oldest first in a ring ---- */

typedef struct dedupe {
    uint64_t *slot; /* 0: empty */
    size_t nslot, len;
    uint64_t *rh; /* ring of hashes in order of arrival */
    int64_t *rt;  /* their receipt times */
    size_t rcap, head, count;
} dedupe;

static void dd_free(dedupe *d)
{
    mem_free(d->slot);
    mem_free(d->rh);
    mem_free(d->rt);
    memset(d, 0, sizeof *d);
}

static uint64_t dd_hash(const char *customer, size_t clen, const char *id, size_t idlen)
{
    uint64_t h = XXH3_64bits_withSeed(id, idlen, XXH3_64bits(customer, clen));
    return h ? h : 1;
}

static int dd_has(const dedupe *d, uint64_t h)
{
    if (!d->nslot)
        return 0;
    size_t mask = d->nslot - 1;
    for (size_t i = h & mask; d->slot[i]; i = (i + 1) & mask)
        if (d->slot[i] == h)
            return 1;
    return 0;
}

static void dd_slot_put(uint64_t *slot, size_t nslot, uint64_t h)
{
    size_t mask = nslot - 1, i = h & mask;
    while (slot[i])
        i = (i + 1) & mask;
    slot[i] = h;
}

static void dd_slot_del(dedupe *d, uint64_t h)
{
    size_t mask = d->nslot - 1, i = h & mask;
    while (d->slot[i] != h) {
        if (!d->slot[i])
            return;
        i = (i + 1) & mask;
    }
    size_t j = i;
    for (;;) {
        d->slot[i] = 0;
        for (;;) {
            j = (j + 1) & mask;
            if (!d->slot[j])
                goto done;
            size_t home = d->slot[j] & mask;
            if (i <= j ? (home <= i || home > j) : (home <= i && home > j))
                break;
        }
        d->slot[i] = d->slot[j];
        i = j;
    }
done:
    d->len--;
}

/* Remembers h (received at t). Returns 0 or -ENOMEM (nothing changed). */
static int dd_push(dedupe *d, uint64_t h, int64_t t)
{
    if ((d->len + 1) * 2 > d->nslot) {
        size_t ns = d->nslot ? d->nslot * 2 : 1024;
        uint64_t *s = mem_calloc(ns, sizeof *s);
        if (!s)
            return -ENOMEM;
        for (size_t i = 0; i < d->nslot; i++)
            if (d->slot[i])
                dd_slot_put(s, ns, d->slot[i]);
        mem_free(d->slot);
        d->slot = s;
        d->nslot = ns;
    }
    if (d->count == d->rcap) {
        size_t nc = d->rcap ? d->rcap * 2 : 1024;
        uint64_t *nh = mem_alloc(nc * sizeof *nh);
        int64_t *nt = mem_alloc(nc * sizeof *nt);
        if (!nh || !nt) {
            mem_free(nh);
            mem_free(nt);
            return -ENOMEM;
        }
        for (size_t i = 0; i < d->count; i++) {
            nh[i] = d->rh[(d->head + i) % d->rcap];
            nt[i] = d->rt[(d->head + i) % d->rcap];
        }
        mem_free(d->rh);
        mem_free(d->rt);
        d->rh = nh;
        d->rt = nt;
        d->rcap = nc;
        d->head = 0;
    }
    dd_slot_put(d->slot, d->nslot, h);
    d->len++;
    size_t tail = (d->head + d->count) % d->rcap;
    d->rh[tail] = h;
    d->rt[tail] = t;
    d->count++;
    return 0;
}

static void dd_pop_head(dedupe *d)
{
    dd_slot_del(d, d->rh[d->head]);
    d->head = (d->head + 1) % d->rcap;
    d->count--;
}

static void dd_pop_tail(dedupe *d)
{
    d->count--;
    dd_slot_del(d, d->rh[(d->head + d->count) % d->rcap]);
}

/* ---- reading segments ---- */

/* A byte source: a plain file up to a limit, or a sealed file through zstd. */
typedef struct source {
    int fd;
    uint64_t pos, limit;
    ZSTD_DCtx *z;
    ZSTD_inBuffer in;
    unsigned char *zin;
    size_t zincap;
    int zeof;
    size_t zlast; /* last ZSTD_decompressStream hint: 0 when a frame just ended */
} source;

/* Reads up to n bytes. Returns the count, 0 at the end, or -errno (-EBADMSG: bad zstd data). */
static ssize_t source_read(source *s, void *dst, size_t n)
{
    if (!s->z) {
        if (s->pos >= s->limit)
            return 0;
        if (n > s->limit - s->pos)
            n = (size_t)(s->limit - s->pos);
        for (;;) {
            ssize_t r = pread(s->fd, dst, n, (off_t)s->pos);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                return -errno;
            s->pos += (uint64_t)r;
            return r;
        }
    }
    ZSTD_outBuffer out = {dst, n, 0};
    while (out.pos == 0) {
        if (s->in.pos == s->in.size) {
            if (s->zeof)
                return s->zlast ? -EBADMSG : 0; /* a frame cut short */
            ssize_t r = pread(s->fd, s->zin, s->zincap, (off_t)s->pos);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                return -errno;
            if (r == 0) {
                s->zeof = 1;
                continue;
            }
            s->pos += (uint64_t)r;
            s->in = (ZSTD_inBuffer){s->zin, (size_t)r, 0};
        }
        size_t r = ZSTD_decompressStream(s->z, &out, &s->in);
        if (ZSTD_isError(r))
            return -EBADMSG;
        s->zlast = r;
    }
    return (ssize_t)out.pos;
}

/* One decoded event, as the decoder hands it out (valid during the callback). */
typedef struct rec {
    int64_t t, recv;
    uint64_t count;
    int64_t took;
    const char *s[5]; /* customer, type, state, label, change_type */
    const unsigned char *id;
    size_t idlen;
} rec;

typedef int (*rec_fn)(void *ctx, const rec *r);

typedef struct decoder {
    source *in;
    unsigned char *buf;
    size_t cap, beg, end;
    int eof;
    intern strs, keys; /* of the segment being read */
    int64_t day;
    const char *why; /* damage found, or NULL */
    uint64_t good;   /* stream bytes up to the end of the last good frame */
    uint64_t events; /* events of good frames */
    int64_t max_recv;
} decoder;

static void decoder_init(decoder *d)
{
    memset(d, 0, sizeof *d);
    intern_init(&d->strs, 0);
    intern_init(&d->keys, 0);
}

static void decoder_free(decoder *d)
{
    mem_free(d->buf);
    intern_free(&d->strs);
    intern_free(&d->keys);
}

/* Makes n bytes available at buf + beg. Returns 0, 1 (the stream ends first) or -errno. */
static int fill(decoder *d, size_t n)
{
    if (d->end - d->beg >= n)
        return 0;
    if (d->beg) {
        memmove(d->buf, d->buf + d->beg, d->end - d->beg);
        d->end -= d->beg;
        d->beg = 0;
    }
    if (n > d->cap) {
        size_t nc = d->cap ? d->cap : READ_CHUNK;
        while (nc < n)
            nc *= 2;
        unsigned char *nb = mem_realloc(d->buf, nc);
        if (!nb)
            return -ENOMEM;
        d->buf = nb;
        d->cap = nc;
    }
    while (d->end < n) {
        if (d->eof)
            return 1;
        ssize_t r = source_read(d->in, d->buf + d->end, d->cap - d->end);
        if (r < 0)
            return (int)r;
        if (r == 0)
            d->eof = 1;
        d->end += (size_t)r;
    }
    return 0;
}

/* Decodes one frame's items, calling fn per event. Damage sets d->why. Returns 0, fn's value
 * or -ENOMEM. */
static int decode_items(decoder *d, const unsigned char *p, size_t len, rec_fn fn, void *ctx,
                        uint64_t *nev, int64_t *maxrecv)
{
    const unsigned char *end = p + len;
    int64_t day0 = d->day * DAY_MS, prev_t = day0;
    uint32_t prev_key = NO_KEY;
    while (p < end) {
        unsigned b = *p++;
        if (b == OP_STR) {
            const unsigned char *s;
            size_t n;
            if (varint_get_bytes(&p, end, &s, &n) || n == 0 || n > STR_MAX) {
                d->why = "bad string definition";
                return 0;
            }
            if (d->strs.n >= SEG_MAX_STRINGS || d->strs.bytes.len + n + 1 > SEG_MAX_STRBYTES) {
                d->why = "too many strings in a segment";
                return 0;
            }
            if (!intern_add(&d->strs, s, n, 0))
                return -ENOMEM;
        } else if (b == OP_KEY) {
            unsigned char kb[20];
            for (int i = 0; i < 5; i++) {
                uint64_t id;
                if (varint_get(&p, end, &id) || id > d->strs.n || (i < 2 && id == 0)) {
                    d->why = "bad key definition";
                    return 0;
                }
                put32(kb + 4 * i, (uint32_t)id);
            }
            if (d->keys.n >= SEG_MAX_KEYS) {
                d->why = "too many keys in a segment";
                return 0;
            }
            if (!intern_add(&d->keys, kb, sizeof kb, 0))
                return -ENOMEM;
        } else if (b < 32) {
            rec r;
            uint64_t u;
            if (b & EV_KEY) {
                if (varint_get(&p, end, &u) || u >= d->keys.n) {
                    d->why = "bad key reference";
                    return 0;
                }
                prev_key = (uint32_t)u;
            } else if (prev_key == NO_KEY) {
                d->why = "event without a key";
                return 0;
            }
            if (varint_get(&p, end, &u) ||
                __builtin_add_overflow(prev_t, varint_unzigzag(u), &r.t) || r.t < day0 ||
                r.t >= day0 + DAY_MS) {
                d->why = "event time outside its day";
                return 0;
            }
            prev_t = r.t;
            r.count = 1;
            if ((b & EV_COUNT) && varint_get(&p, end, &r.count)) {
                d->why = "bad count";
                return 0;
            }
            r.took = -1;
            if (b & EV_TOOK) {
                if (varint_get(&p, end, &u) || u > INT64_MAX) {
                    d->why = "bad time took";
                    return 0;
                }
                r.took = (int64_t)u;
            }
            r.recv = r.t;
            if (b & EV_RECV) {
                if (varint_get(&p, end, &u) ||
                    __builtin_add_overflow(r.t, varint_unzigzag(u), &r.recv)) {
                    d->why = "bad receipt time";
                    return 0;
                }
            }
            r.id = NULL;
            r.idlen = 0;
            if ((b & EV_ID) &&
                (varint_get_bytes(&p, end, &r.id, &r.idlen) || !r.idlen || r.idlen > STR_MAX)) {
                d->why = "bad event id";
                return 0;
            }
            const unsigned char *kb = (const unsigned char *)intern_get(&d->keys, prev_key + 1);
            for (int i = 0; i < 5; i++) {
                uint32_t sid = get32(kb + 4 * i);
                r.s[i] = sid ? intern_get(&d->strs, sid) : "";
            }
            (*nev)++;
            if (r.recv > *maxrecv)
                *maxrecv = r.recv;
            if (fn) {
                int rc = fn(ctx, &r);
                if (rc)
                    return rc;
            }
        } else {
            d->why = "unknown item";
            return 0;
        }
    }
    return 0;
}

/* Checks a segment header; sets d->day. Returns 0, -EBADMSG (d->why) or -EPROTONOSUPPORT. */
static int header_check(decoder *d, const unsigned char *p, int64_t want_day)
{
    if (memcmp(p, seg_magic, sizeof seg_magic) != 0) {
        d->why = "bad segment magic";
        return -EBADMSG;
    }
    if (p[6] > 1) {
        d->why = "segment in a newer format version";
        return -EPROTONOSUPPORT;
    }
    if (p[6] != 1 || p[7] != 0) {
        d->why = "bad segment version or flags";
        return -EBADMSG;
    }
    int64_t day = (int32_t)get32(p + 8);
    if (day != want_day) {
        d->why = "segment of another day";
        return -EBADMSG;
    }
    d->day = day;
    return 0;
}

/* Decodes a stream from in: one segment (multi 0: a .log) or several back to back (multi 1:
 * a sealed day), all of day want_day, calling fn (may be NULL) for every event. Damage ends the
 * stream with d->why set (d->good says where the good data ends); it is not an error. Returns
 * 0, fn's nonzero value, -EPROTONOSUPPORT, -ENOMEM or an I/O -errno. */
static int decode(decoder *d, source *in, int multi, int64_t want_day, rec_fn fn, void *ctx)
{
    uint64_t pos = 0;
    int have_hdr = 0, rc;
    d->in = in;
    d->beg = d->end = 0;
    d->eof = 0;
    d->why = NULL;
    d->good = d->events = 0;
    d->max_recv = INT64_MIN;
    intern_truncate(&d->strs, 0);
    intern_truncate(&d->keys, 0);
    for (;;) {
        rc = fill(d, 1);
        if (rc < 0)
            return rc;
        if (d->end == d->beg)
            return 0; /* a clean end (or an empty file) */
        const unsigned char *p = d->buf + d->beg;
        if (!have_hdr || (multi && d->end - d->beg >= 4 && get32(p) == SEG_MAGIC4)) {
            rc = fill(d, HDR);
            if (rc < 0)
                return rc;
            if (rc == 1) {
                d->why = "truncated segment header";
                return 0;
            }
            rc = header_check(d, d->buf + d->beg, want_day);
            if (rc == -EPROTONOSUPPORT)
                return rc;
            if (rc)
                return 0;
            intern_truncate(&d->strs, 0);
            intern_truncate(&d->keys, 0);
            have_hdr = 1;
            d->beg += HDR;
            pos += HDR;
            d->good = pos;
            continue;
        }
        rc = fill(d, FHDR);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            d->why = "truncated frame header";
            return 0;
        }
        uint32_t len = get32(d->buf + d->beg);
        if (len == 0 || len > FRAME_MAX) {
            d->why = len ? "frame length over 4 MiB" : "zero frame length (zeroed tail)";
            return 0;
        }
        rc = fill(d, FHDR + (size_t)len);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            d->why = "truncated frame";
            return 0;
        }
        p = d->buf + d->beg;
        if (frame_crc(p, p + FHDR, len) != get32(p + 4)) {
            d->why = "checksum mismatch";
            return 0;
        }
        uint64_t nev = 0;
        int64_t maxrecv = d->max_recv;
        rc = decode_items(d, p + FHDR, len, fn, ctx, &nev, &maxrecv);
        if (d->why)
            return 0;
        if (rc)
            return rc;
        d->events += nev;
        d->max_recv = maxrecv;
        d->beg += FHDR + (size_t)len;
        pos += FHDR + (size_t)len;
        d->good = pos;
    }
}

/* ---- the log ---- */

typedef struct writer {
    int fd;
    intern strs, keys;
    buf pend;       /* this batch's frames */
    size_t fstart;  /* offset in pend of the open frame's header, or NONE */
    int64_t prev_t; /* frame delta state */
    uint32_t prev_key;
    const usage_event *last_ev; /* this batch's previous event here, and its key */
    uint32_t last_key;
    size_t mark_strs, mark_keys;
    uint64_t lru;
} writer;

typedef struct logseg {
    uint32_t gen;
    uint64_t bytes; /* committed (good) bytes */
    uint64_t events;
    int64_t max_recv;
    writer *w;    /* while active */
    int retiring; /* gets no more events; closed after the batch */
    int touched;  /* in this batch */
    uint64_t mark_events;
    int64_t mark_recv;
} logseg;

typedef struct uday {
    int64_t day;
    int zst; /* sealed file present */
    uint64_t zst_bytes, zst_events, zst_raw;
    uint32_t zst_max_gen;
    uint32_t next_gen;
    logseg **logs; /* by generation */
    size_t nlogs, caplogs;
} uday;

struct usagelog {
    char *dir;
    usagelog_opts o;
    pthread_mutex_t mu;    /* everything below */
    pthread_mutex_t maint; /* one usagelog_maintain at a time */
    uday **days;           /* by day */
    size_t ndays, capdays;
    size_t nactive;
    uint64_t lru;
    dedupe dd;
    logseg **touched;
    size_t ntouched, captouched;
    uint64_t dups, oow, cut_bytes, damaged;
    int broken;
    int dir_dirty; /* files created since the last directory sync */
};

static void writer_free(writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    intern_free(&w->strs);
    intern_free(&w->keys);
    buf_free(&w->pend);
    mem_free(w);
}

static void writer_close(usagelog *l, logseg *sg)
{
    if (!sg->w)
        return;
    writer_free(sg->w);
    sg->w = NULL;
    l->nactive--;
}

static void day_free(usagelog *l, uday *ud)
{
    if (!ud)
        return;
    for (size_t i = 0; i < ud->nlogs; i++) {
        writer_close(l, ud->logs[i]);
        mem_free(ud->logs[i]);
    }
    mem_free(ud->logs);
    mem_free(ud);
}

/* Binary search: index of day, or where it would go (*found 0). */
static size_t day_index(const usagelog *l, int64_t day, int *found)
{
    size_t lo = 0, hi = l->ndays;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (l->days[mid]->day < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < l->ndays && l->days[lo]->day == day;
    return lo;
}

static uday *day_find(const usagelog *l, int64_t day)
{
    int found;
    size_t i = day_index(l, day, &found);
    return found ? l->days[i] : NULL;
}

/* Returns the entry of day, creating it (NULL when memory is exhausted). */
static uday *day_get(usagelog *l, int64_t day)
{
    int found;
    size_t i = day_index(l, day, &found);
    if (found)
        return l->days[i];
    if (mem_grow((void **)&l->days, &l->capdays, l->ndays, sizeof *l->days, 64))
        return NULL;
    uday *ud = mem_calloc(1, sizeof *ud);
    if (!ud)
        return NULL;
    ud->day = day;
    ud->next_gen = 1;
    memmove(l->days + i + 1, l->days + i, (l->ndays - i) * sizeof *l->days);
    l->days[i] = ud;
    l->ndays++;
    return ud;
}

static void day_remove(usagelog *l, uday *ud)
{
    int found;
    size_t i = day_index(l, ud->day, &found);
    if (!found)
        return;
    memmove(l->days + i, l->days + i + 1, (l->ndays - i - 1) * sizeof *l->days);
    l->ndays--;
    day_free(l, ud);
}

static int day_add_log(uday *ud, logseg *sg)
{
    if (mem_grow((void **)&ud->logs, &ud->caplogs, ud->nlogs, sizeof *ud->logs, 4))
        return -ENOMEM;
    size_t i = ud->nlogs;
    while (i > 0 && ud->logs[i - 1]->gen > sg->gen)
        i--;
    memmove(ud->logs + i + 1, ud->logs + i, (ud->nlogs - i) * sizeof *ud->logs);
    ud->logs[i] = sg;
    ud->nlogs++;
    return 0;
}

int usagelog_time_ok(const usagelog *l, int64_t t_ms, int64_t recv_ms)
{
    if (t_ms < 0 || t_ms > USAGE_TIME_MAX_MS || recv_ms < 0 || recv_ms > USAGE_TIME_MAX_MS)
        return -ERANGE;
    if (t_ms - recv_ms > l->o.max_future_ms)
        return -ERANGE;
    if (l->o.max_age_ms > 0 && (t_ms / DAY_MS + 1) * DAY_MS <= recv_ms - l->o.max_age_ms)
        return -ERANGE;
    return 0;
}

/* Creates a new segment (the next generation) for ud with a writer. Returns 0 or -errno. */
static int seg_create(usagelog *l, uday *ud, logseg **out)
{
    char path[PATH_MAX];
    unsigned char hdr[HDR];
    logseg *sg = NULL;
    writer *w = NULL;
    int fd = -1, rc;
    for (;;) {
        if (ud->next_gen > GEN_MAX)
            return -ENOSPC;
        log_path(l->dir, ud->day, ud->next_gen, path, sizeof path);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST)
            break;
        ud->next_gen++; /* a file we do not know of: never overwrite it */
    }
    if (fd < 0)
        return -errno;
    uint32_t gen = ud->next_gen++;
    memcpy(hdr, seg_magic, sizeof seg_magic);
    hdr[6] = 1;
    hdr[7] = 0;
    put32(hdr + 8, (uint32_t)(int32_t)ud->day);
    put32(hdr + 12, gen);
    rc = pwrite_all(fd, hdr, HDR, 0);
    if (rc)
        goto fail;
    rc = -ENOMEM;
    sg = mem_calloc(1, sizeof *sg);
    w = mem_calloc(1, sizeof *w);
    if (!sg || !w)
        goto fail;
    w->fd = fd;
    intern_init(&w->strs, 1);
    intern_init(&w->keys, 1);
    buf_init(&w->pend, 0);
    w->fstart = NONE;
    sg->gen = gen;
    sg->bytes = HDR;
    sg->max_recv = INT64_MIN;
    sg->w = w;
    if (day_add_log(ud, sg))
        goto fail;
    l->nactive++;
    l->dir_dirty = 1;
    *out = sg;
    return 0;
fail:
    mem_free(w);
    mem_free(sg);
    close(fd);
    unlink(path);
    return rc;
}

/* Puts sg into this batch (marks for rollback). Returns 0 or -ENOMEM. */
static int seg_touch(usagelog *l, logseg *sg)
{
    if (sg->touched)
        return 0;
    if (mem_grow((void **)&l->touched, &l->captouched, l->ntouched, sizeof *l->touched, 16))
        return -ENOMEM;
    l->touched[l->ntouched++] = sg;
    writer *w = sg->w;
    sg->touched = 1;
    sg->mark_events = sg->events;
    sg->mark_recv = sg->max_recv;
    w->mark_strs = w->strs.n;
    w->mark_keys = w->keys.n;
    w->pend.len = 0;
    w->pend.err = 0;
    w->fstart = NONE;
    w->last_ev = NULL;
    w->lru = ++l->lru;
    return 0;
}

/* The segment of day that takes new events (created when there is none). */
static int seg_for(usagelog *l, int64_t day, logseg **out)
{
    uday *ud = day_get(l, day);
    if (!ud)
        return -ENOMEM;
    logseg *sg = NULL;
    for (size_t i = ud->nlogs; i > 0 && !sg; i--)
        if (ud->logs[i - 1]->w && !ud->logs[i - 1]->retiring)
            sg = ud->logs[i - 1];
    if (!sg) {
        int rc = seg_create(l, ud, &sg);
        if (rc)
            return rc;
    }
    *out = sg;
    return seg_touch(l, sg);
}

static int writer_full(const writer *w)
{
    return w->strs.n + 5 > SEG_MAX_STRINGS ||
           w->strs.bytes.len + 5 * (STR_MAX + 1) > SEG_MAX_STRBYTES || w->keys.n + 1 > SEG_MAX_KEYS;
}

static void frame_open(writer *w, int64_t day)
{
    w->fstart = w->pend.len;
    w->pend.len += FHDR; /* room reserved by the caller */
    w->prev_t = day * DAY_MS;
    w->prev_key = NO_KEY;
}

static void frame_close(writer *w)
{
    if (w->fstart == NONE)
        return;
    unsigned char *h = (unsigned char *)w->pend.data + w->fstart;
    size_t n = w->pend.len - w->fstart - FHDR;
    if (n == 0) {
        w->pend.len = w->fstart;
    } else {
        put32(h, (uint32_t)n);
        put32(h + 4, frame_crc(h, h + FHDR, n));
    }
    w->fstart = NONE;
}

/* Interns s (length n) in w, writing its definition at *p when new. Returns the id (0 for "")
 * or -ENOMEM. */
static int64_t str_id(writer *w, const char *s, unsigned char **p)
{
    size_t n = strlen(s);
    if (!n)
        return 0;
    uint32_t h = hash32(s, n);
    uint32_t id = intern_find(&w->strs, s, n, h);
    if (id)
        return id;
    id = intern_add(&w->strs, s, n, h);
    if (!id)
        return -ENOMEM;
    unsigned char *q = *p;
    *q++ = OP_STR;
    q = put_uv(q, n);
    memcpy(q, s, n);
    *p = q + n;
    return id;
}

static int same_strings(const usage_event *a, const usage_event *b)
{
    return !strcmp(a->customer, b->customer) && !strcmp(a->type, b->type) &&
           !strcmp(a->state, b->state) && !strcmp(a->label, b->label) &&
           !strcmp(a->change_type, b->change_type);
}

/* Encodes one event into sg's pending frames. Returns 0 or -ENOMEM. */
static int encode(logseg *sg, int64_t day, const usage_event *e, int64_t t, int64_t recv)
{
    writer *w = sg->w;
    if (buf_reserve(&w->pend, REC_MAX + FHDR))
        return -ENOMEM;
    if (w->fstart == NONE)
        frame_open(w, day);
    else if (w->pend.len - w->fstart - FHDR >= FRAME_TARGET) {
        frame_close(w);
        frame_open(w, day);
    }
    unsigned char *p = (unsigned char *)w->pend.data + w->pend.len;
    uint32_t key;
    if (w->last_ev && same_strings(w->last_ev, e)) {
        key = w->last_key;
    } else {
        const char *s[5] = {e->customer, e->type, e->state, e->label, e->change_type};
        unsigned char kb[20];
        for (int i = 0; i < 5; i++) {
            int64_t id = str_id(w, s[i], &p);
            if (id < 0)
                return -ENOMEM;
            put32(kb + 4 * i, (uint32_t)id);
        }
        uint32_t h = hash32(kb, sizeof kb);
        uint32_t k = intern_find(&w->keys, kb, sizeof kb, h);
        if (!k) {
            k = intern_add(&w->keys, kb, sizeof kb, h);
            if (!k)
                return -ENOMEM;
            *p++ = OP_KEY;
            for (int i = 0; i < 5; i++)
                p = put_uv(p, get32(kb + 4 * i));
        }
        key = k - 1;
        w->last_key = key;
    }
    w->last_ev = e;
    unsigned char *lead = p++;
    unsigned b = 0;
    if (key != w->prev_key) {
        b |= EV_KEY;
        p = put_uv(p, key);
        w->prev_key = key;
    }
    p = put_uv(p, varint_zigzag(t - w->prev_t));
    w->prev_t = t;
    if (e->count != 1) {
        b |= EV_COUNT;
        p = put_uv(p, e->count);
    }
    if (e->took_ms >= 0) {
        b |= EV_TOOK;
        p = put_uv(p, (uint64_t)e->took_ms);
    }
    if (recv != t) {
        b |= EV_RECV;
        p = put_uv(p, varint_zigzag(recv - t));
    }
    size_t idlen = strlen(e->event_id);
    if (idlen) {
        b |= EV_ID;
        p = put_uv(p, idlen);
        memcpy(p, e->event_id, idlen);
        p += idlen;
    }
    *lead = (unsigned char)b;
    w->pend.len = (size_t)(p - (unsigned char *)w->pend.data);
    return 0;
}

static int valid_str(const char *s, int need)
{
    if (!s)
        return 0;
    size_t n = strnlen(s, STR_MAX + 1);
    return n <= STR_MAX && (!need || n > 0);
}

/* Undoes the current batch. Returns 0, or -EIO when a file could not be cut back (broken). */
static int batch_rollback(usagelog *l, size_t dd_mark)
{
    int rc = 0;
    for (size_t i = 0; i < l->ntouched; i++) {
        logseg *sg = l->touched[i];
        writer *w = sg->w;
        if (ftruncate(w->fd, (off_t)sg->bytes) != 0) {
            log_error("usagelog: cannot cut a failed append off segment %" PRIu32 ": %s", sg->gen,
                      strerror(errno));
            l->broken = 1;
            rc = -EIO;
        }
        intern_truncate(&w->strs, w->mark_strs);
        intern_truncate(&w->keys, w->mark_keys);
        w->pend.len = 0;
        w->fstart = NONE;
        w->last_ev = NULL;
        sg->events = sg->mark_events;
        sg->max_recv = sg->mark_recv;
        sg->touched = 0;
        if (sg->retiring)
            writer_close(l, sg);
    }
    l->ntouched = 0;
    while (l->dd.count > dd_mark)
        dd_pop_tail(&l->dd);
    return rc;
}

/* Closes the least recently used writers beyond MAX_ACTIVE. */
static void evict_writers(usagelog *l)
{
    while (l->nactive > MAX_ACTIVE) {
        logseg *lru = NULL;
        for (size_t i = 0; i < l->ndays; i++)
            for (size_t j = 0; j < l->days[i]->nlogs; j++) {
                logseg *sg = l->days[i]->logs[j];
                if (sg->w && (!lru || sg->w->lru < lru->w->lru))
                    lru = sg;
            }
        if (!lru)
            return;
        writer_close(l, lru);
    }
}

static int append_locked(usagelog *l, const usage_event *ev, size_t n, int64_t recv,
                         unsigned char *status, size_t *skipped)
{
    size_t ndup = 0, noow = 0, dd_mark;
    int rc = 0;
    *skipped = 0;
    if (recv < 0 || recv > USAGE_TIME_MAX_MS)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        const usage_event *e = &ev[i];
        if (!valid_str(e->customer, 1) || !valid_str(e->type, 1) || !valid_str(e->state, 0) ||
            !valid_str(e->label, 0) || !valid_str(e->change_type, 0) ||
            !valid_str(e->event_id, 0) || e->took_ms < -1)
            return -EINVAL;
    }
    if (l->broken)
        return -EIO;
    while (l->dd.count && l->dd.rt[l->dd.head] < recv - l->o.dedupe_window_ms)
        dd_pop_head(&l->dd);
    dd_mark = l->dd.count;
    l->ntouched = 0;
    for (size_t i = 0; i < n; i++) {
        const usage_event *e = &ev[i];
        int64_t t = e->t_ms ? e->t_ms : recv;
        if (usagelog_time_ok(l, t, recv)) {
            status[i] = USAGELOG_OUT_OF_WINDOW;
            noow++;
            continue;
        }
        if (e->event_id[0]) {
            uint64_t h =
                dd_hash(e->customer, strlen(e->customer), e->event_id, strlen(e->event_id));
            if (dd_has(&l->dd, h)) {
                status[i] = USAGELOG_DUPLICATE;
                ndup++;
                continue;
            }
            if ((rc = dd_push(&l->dd, h, recv)))
                goto fail;
        }
        int64_t day = t / DAY_MS;
        logseg *sg;
        if ((rc = seg_for(l, day, &sg)))
            goto fail;
        if (writer_full(sg->w)) {
            sg->retiring = 1;
            if ((rc = seg_for(l, day, &sg)))
                goto fail;
        }
        if ((rc = encode(sg, day, e, t, recv)))
            goto fail;
        sg->events++;
        if (recv > sg->max_recv)
            sg->max_recv = recv;
        status[i] = USAGELOG_STORED;
    }
    for (size_t i = 0; i < l->ntouched; i++) {
        logseg *sg = l->touched[i];
        frame_close(sg->w);
        if (sg->w->pend.len &&
            (rc = pwrite_all(sg->w->fd, sg->w->pend.data, sg->w->pend.len, sg->bytes)))
            goto fail;
    }
    if (l->o.sync) {
        for (size_t i = 0; i < l->ntouched && !rc; i++)
            if (fdatasync(l->touched[i]->w->fd))
                rc = -errno;
        if (!rc && l->dir_dirty && !(rc = fsutil_sync_dir(l->dir)))
            l->dir_dirty = 0;
        if (rc) {
            /* The data is written but the page cache can no longer be trusted. */
            log_error("usagelog: fdatasync failed: %s", strerror(-rc));
            l->broken = 1;
        }
    }
    for (size_t i = 0; i < l->ntouched; i++) {
        logseg *sg = l->touched[i];
        writer *w = sg->w;
        sg->bytes += w->pend.len;
        sg->touched = 0;
        w->pend.len = 0;
        w->last_ev = NULL;
        if (w->pend.cap > PEND_KEEP)
            buf_free(&w->pend);
        if (sg->retiring)
            writer_close(l, sg);
    }
    l->ntouched = 0;
    evict_writers(l);
    while (l->dd.count > l->o.dedupe_max)
        dd_pop_head(&l->dd);
    l->dups += ndup;
    l->oow += noow;
    *skipped = ndup + noow;
    return rc ? -EIO : 0;
fail:
    if (batch_rollback(l, dd_mark))
        return -EIO;
    return rc;
}

int usagelog_append_ex(usagelog *l, const usage_event *ev, size_t n, int64_t recv_ms,
                       unsigned char *status)
{
    size_t skipped;
    if (!n)
        return 0;
    pthread_mutex_lock(&l->mu);
    int rc = append_locked(l, ev, n, recv_ms, status, &skipped);
    pthread_mutex_unlock(&l->mu);
    return rc;
}

int usagelog_append(usagelog *l, const usage_event *ev, size_t n, int64_t recv_ms, size_t *dups)
{
    unsigned char small[256], *status = small;
    size_t skipped = 0;
    int rc = 0;
    if (dups)
        *dups = 0;
    if (!n)
        return 0;
    if (n > sizeof small && !(status = mem_alloc(n)))
        return -ENOMEM;
    pthread_mutex_lock(&l->mu);
    rc = append_locked(l, ev, n, recv_ms, status, &skipped);
    pthread_mutex_unlock(&l->mu);
    if (!rc && dups)
        *dups = skipped;
    if (status != small)
        mem_free(status);
    return rc;
}

int usagelog_sync(usagelog *l)
{
    int rc = 0;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < l->ndays && !rc; i++)
        for (size_t j = 0; j < l->days[i]->nlogs && !rc; j++) {
            writer *w = l->days[i]->logs[j]->w;
            if (w && fdatasync(w->fd))
                rc = -errno;
        }
    if (!rc && l->dir_dirty && !(rc = fsutil_sync_dir(l->dir)))
        l->dir_dirty = 0;
    if (rc) {
        log_error("usagelog: fdatasync failed: %s", strerror(-rc));
        l->broken = 1;
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

int usagelog_stats(usagelog *l, struct usagelog_stats *st)
{
    memset(st, 0, sizeof *st);
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < l->ndays; i++) {
        uday *ud = l->days[i];
        if (ud->zst) {
            st->events += ud->zst_events;
            st->bytes += ud->zst_bytes;
            st->raw_bytes += ud->zst_raw;
            st->segments++;
            st->sealed++;
        }
        for (size_t j = 0; j < ud->nlogs; j++) {
            st->events += ud->logs[j]->events;
            st->bytes += ud->logs[j]->bytes;
            st->raw_bytes += ud->logs[j]->bytes;
            st->segments++;
        }
        if (ud->zst || ud->nlogs)
            st->days++;
    }
    st->duplicates = l->dups;
    st->out_of_window = l->oow;
    st->dedupe_ids = l->dd.count;
    st->cut_bytes = l->cut_bytes;
    st->damaged_files = l->damaged;
    pthread_mutex_unlock(&l->mu);
    return 0;
}

/* ---- scan ---- */

typedef struct scan_ctx {
    usage_event_fn fn;
    void *ctx;
    int64_t from, to;
} scan_ctx;

static int scan_rec(void *ctx, const rec *r)
{
    scan_ctx *s = ctx;
    char id[STR_MAX + 1];
    if (r->t < s->from || r->t >= s->to)
        return 0;
    memcpy(id, r->id ? (const char *)r->id : "", r->idlen);
    id[r->idlen] = '\0';
    usage_event ev = {.t_ms = r->t,
                      .customer = r->s[0],
                      .type = r->s[1],
                      .count = r->count,
                      .took_ms = r->took,
                      .state = r->s[2],
                      .label = r->s[3],
                      .change_type = r->s[4],
                      .event_id = id};
    return s->fn(s->ctx, &ev);
}

typedef struct scan_file {
    int fd;
    int sealed;
    uint64_t limit;
    uint32_t gen;
} scan_file;

/* Decodes one file of day for a scan (or an open check). */
static int read_file(decoder *d, const scan_file *f, int64_t day, rec_fn fn, void *ctx)
{
    source src = {.fd = f->fd, .limit = f->limit};
    int rc;
    if (f->sealed) {
        src.z = ZSTD_createDCtx();
        src.zincap = ZSTD_DStreamInSize();
        src.zin = mem_alloc(src.zincap);
        src.limit = UINT64_MAX;
        if (!src.z || !src.zin) {
            ZSTD_freeDCtx(src.z);
            mem_free(src.zin);
            return -ENOMEM;
        }
    }
    rc = decode(d, &src, f->sealed, day, fn, ctx);
    if (rc == -EBADMSG) {
        d->why = "bad zstd data";
        rc = 0;
    }
    if (f->sealed) {
        ZSTD_freeDCtx(src.z);
        mem_free(src.zin);
    }
    return rc;
}

int usagelog_scan(usagelog *l, int64_t from_ms, int64_t to_ms, usage_event_fn fn, void *ctx)
{
    int64_t *days = NULL;
    size_t ndays = 0;
    scan_file *files = NULL;
    size_t nfiles = 0, capfiles = 0;
    decoder d;
    scan_ctx sc = {fn, ctx, from_ms, to_ms};
    char path[PATH_MAX];
    int rc = 0;
    decoder_init(&d);
    if (from_ms >= to_ms)
        goto out;
    int64_t dfrom = floordiv(from_ms, DAY_MS), dto = floordiv(to_ms - 1, DAY_MS);
    pthread_mutex_lock(&l->mu);
    days = mem_alloc((l->ndays ? l->ndays : 1) * sizeof *days);
    if (days)
        for (size_t i = 0; i < l->ndays; i++)
            if (l->days[i]->day >= dfrom && l->days[i]->day <= dto)
                days[ndays++] = l->days[i]->day;
    pthread_mutex_unlock(&l->mu);
    if (!days) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t k = 0; k < ndays && !rc; k++) {
        nfiles = 0;
        pthread_mutex_lock(&l->mu);
        uday *ud = day_find(l, days[k]);
        size_t need = ud ? ud->nlogs + 1 : 0;
        if (ud && mem_grow((void **)&files, &capfiles, need, sizeof *files, 8))
            rc = -ENOMEM;
        if (ud && !rc && ud->zst) {
            zst_path(l->dir, ud->day, "", path, sizeof path);
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                rc = -errno;
            else
                files[nfiles++] = (scan_file){fd, 1, UINT64_MAX, 0};
        }
        for (size_t j = 0; ud && !rc && j < ud->nlogs; j++) {
            logseg *sg = ud->logs[j];
            log_path(l->dir, ud->day, sg->gen, path, sizeof path);
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                rc = -errno;
            else
                files[nfiles++] = (scan_file){fd, 0, sg->bytes, sg->gen};
        }
        pthread_mutex_unlock(&l->mu);
        for (size_t j = 0; j < nfiles && !rc; j++) {
            rc = read_file(&d, &files[j], days[k], scan_rec, &sc);
            if (!rc && d.why) {
                char dn[16];
                day_name(days[k], dn, sizeof dn);
                if (files[j].sealed)
                    log_warn("usagelog: %s/%s.zst: %s after %" PRIu64 " bytes; rest skipped",
                             l->dir, dn, d.why, d.good);
                else
                    log_warn("usagelog: %s/%s-%08" PRIu32 ".log: %s after %" PRIu64
                             " bytes; rest skipped",
                             l->dir, dn, files[j].gen, d.why, d.good);
            }
        }
        for (size_t j = 0; j < nfiles; j++)
            close(files[j].fd);
    }
out:
    decoder_free(&d);
    mem_free(days);
    mem_free(files);
    return rc;
}

/* ---- open ---- */

/* Reads and checks a sealed file's metadata frame. Returns 0, -EBADMSG, -EPROTONOSUPPORT or
 * an I/O -errno. */
static int meta_read(int fd, int64_t day, uint64_t *events, uint64_t *raw, uint32_t *max_gen)
{
    unsigned char m[8 + META_LEN];
    ssize_t r = pread(fd, m, sizeof m, 0);
    if (r < 0)
        return -errno;
    if ((size_t)r < sizeof m || get32(m) != META_MAGIC || get32(m + 4) != META_LEN ||
        memcmp(m + 8, meta_magic, sizeof meta_magic) != 0)
        return -EBADMSG;
    if (m[14] > 1)
        return -EPROTONOSUPPORT;
    if (m[14] != 1 || m[15] != 0 || (uint32_t)crc32(0L, m + 8, 36) != get32(m + 44))
        return -EBADMSG;
    if ((int64_t)varint_read_le64(m + 32) != day)
        return -EBADMSG;
    *events = varint_read_le64(m + 16);
    *raw = varint_read_le64(m + 24);
    *max_gen = get32(m + 40);
    return 0;
}

static void meta_build(unsigned char *m, int64_t day, uint64_t events, uint64_t raw,
                       uint32_t max_gen)
{
    put32(m, META_MAGIC);
    put32(m + 4, META_LEN);
    memcpy(m + 8, meta_magic, sizeof meta_magic);
    m[14] = 1;
    m[15] = 0;
    varint_le64(m + 16, events);
    varint_le64(m + 24, raw);
    varint_le64(m + 32, (uint64_t)day);
    put32(m + 40, max_gen);
    put32(m + 44, (uint32_t)crc32(0L, m + 8, 36));
}

/* Event ids collected at open: (hash, receipt time). */
typedef struct idpair {
    uint64_t h;
    int64_t t;
} idpair;

typedef struct idcol {
    idpair *v;
    size_t n, cap, keep;
    int64_t max_t, window;
    int err;
} idcol;

static int idpair_cmp(const void *a, const void *b)
{
    const idpair *x = a, *y = b;
    return x->t < y->t ? -1 : x->t > y->t;
}

/* Drops what is out of the window and, beyond keep, the oldest. */
static void idcol_prune(idcol *c)
{
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].t >= c->max_t - c->window)
            c->v[k++] = c->v[i];
    c->n = k;
    if (c->n > c->keep) {
        qsort(c->v, c->n, sizeof *c->v, idpair_cmp);
        memmove(c->v, c->v + (c->n - c->keep), c->keep * sizeof *c->v);
        c->n = c->keep;
    }
}

static int idcol_rec(void *ctx, const rec *r)
{
    idcol *c = ctx;
    if (!r->idlen)
        return 0;
    if (r->recv > c->max_t)
        c->max_t = r->recv;
    if (r->recv < c->max_t - c->window)
        return 0;
    if (c->n == c->cap) {
        if (c->n >= 2 * c->keep + 1024)
            idcol_prune(c);
        if (c->n == c->cap && mem_grow((void **)&c->v, &c->cap, c->n, sizeof *c->v, 1024))
            return -ENOMEM;
    }
    c->v[c->n++] =
        (idpair){dd_hash(r->s[0], strlen(r->s[0]), (const char *)r->id, r->idlen), r->recv};
    return 0;
}

/* Renames a file we cannot read to <name>.damaged (kept for humans, never read again). */
static void set_aside(usagelog *l, const char *path, const char *why)
{
    char to[PATH_MAX + 16];
    snprintf(to, sizeof to, "%s.damaged", path);
    if (rename(path, to) == 0)
        log_warn("usagelog: %s: %s; renamed to %s", path, why, to);
    else
        log_warn("usagelog: %s: %s; cannot rename it aside: %s", path, why, strerror(errno));
    l->damaged++;
}

typedef struct found_log {
    int64_t day;
    uint32_t gen;
} found_log;

static int found_cmp(const void *a, const void *b)
{
    const found_log *x = a, *y = b;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    return x->gen < y->gen ? -1 : x->gen > y->gen;
}

/* Opens every .log: cuts damage, removes empty or already sealed ones, collects ids. */
static int open_logs(usagelog *l, found_log *logs, size_t nlogs, idcol *ids, char *err,
                     size_t errcap)
{
    decoder d;
    char path[PATH_MAX];
    int rc = 0;
    decoder_init(&d);
    for (size_t i = 0; i < nlogs && !rc; i++) {
        uday *ud = day_get(l, logs[i].day);
        if (!ud) {
            rc = -ENOMEM;
            break;
        }
        if (logs[i].gen >= ud->next_gen)
            ud->next_gen = logs[i].gen + 1;
        log_path(l->dir, logs[i].day, logs[i].gen, path, sizeof path);
        if (ud->zst && logs[i].gen <= ud->zst_max_gen) {
            /* A seal renamed its file into place but died before unlinking its inputs. */
            log_info("usagelog: %s is already in the sealed day; removed", path);
            unlink(path);
            continue;
        }
        int fd = open(path, O_RDWR | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st)) {
            rc = -errno;
            snprintf(err, errcap, "%s: %s", path, strerror(errno));
            if (fd >= 0)
                close(fd);
            break;
        }
        scan_file f = {fd, 0, (uint64_t)st.st_size, logs[i].gen};
        rc = read_file(&d, &f, logs[i].day, idcol_rec, ids);
        if (rc) {
            snprintf(err, errcap, "%s: %s", path, strerror(-rc));
            close(fd);
            break;
        }
        if (d.why && d.good == 0 && (uint64_t)st.st_size >= HDR) {
            close(fd);
            set_aside(l, path, d.why);
            continue;
        }
        if (d.why) {
            if (ftruncate(fd, (off_t)d.good) || fdatasync(fd)) {
                rc = -errno;
                snprintf(err, errcap, "%s: cannot cut damaged tail: %s", path, strerror(errno));
                close(fd);
                break;
            }
            log_warn("usagelog: %s: %s at byte %" PRIu64 "; cut %" PRIu64 " bytes (%" PRIu64
                     " events kept)",
                     path, d.why, d.good, (uint64_t)st.st_size - d.good, d.events);
            l->cut_bytes += (uint64_t)st.st_size - d.good;
        }
        close(fd);
        if (d.events == 0) {
            unlink(path); /* an empty segment (created, then nothing committed) */
            continue;
        }
        logseg *sg = mem_calloc(1, sizeof *sg);
        if (!sg || day_add_log(ud, sg)) {
            mem_free(sg);
            rc = -ENOMEM;
            break;
        }
        sg->gen = logs[i].gen;
        sg->bytes = d.good;
        sg->events = d.events;
        sg->max_recv = d.max_recv;
    }
    if (rc == -ENOMEM && !err[0])
        snprintf(err, errcap, "out of memory");
    decoder_free(&d);
    return rc;
}

/* Checks every file's version before anything is changed. */
static int check_versions(const char *dir, found_log *logs, size_t nlogs, int64_t *zdays, size_t nz,
                          char *err, size_t errcap)
{
    char path[PATH_MAX];
    unsigned char h[HDR];
    for (size_t i = 0; i < nlogs + nz; i++) {
        int sealed = i >= nlogs;
        if (sealed)
            zst_path(dir, zdays[i - nlogs], "", path, sizeof path);
        else
            log_path(dir, logs[i].day, logs[i].gen, path, sizeof path);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        int newer = 0;
        if (sealed) {
            uint64_t a, b;
            uint32_t g;
            newer = meta_read(fd, zdays[i - nlogs], &a, &b, &g) == -EPROTONOSUPPORT;
        } else {
            newer =
                pread(fd, h, HDR, 0) == HDR && !memcmp(h, seg_magic, sizeof seg_magic) && h[6] > 1;
        }
        close(fd);
        if (newer) {
            snprintf(err, errcap, "%s: written by a newer dashdot (format version)", path);
            return -EPROTONOSUPPORT;
        }
    }
    return 0;
}

int usagelog_open(usagelog **out, const char *dir, const usagelog_opts *o, char *err, size_t errcap)
{
    usagelog *l = NULL;
    DIR *dh = NULL;
    found_log *logs = NULL;
    int64_t *zdays = NULL;
    size_t nlogs = 0, caplogs = 0, nz = 0, capz = 0;
    idcol ids = {0};
    char path[PATH_MAX];
    int rc;
    char dummy[1];
    if (!err || !errcap) {
        err = dummy;
        errcap = sizeof dummy;
    }
    err[0] = '\0';
    *out = NULL;
    rc = fsutil_mkdirs(dir);
    if (rc) {
        snprintf(err, errcap, "%s: %s", dir, strerror(-rc));
        return rc;
    }
    rc = -ENOMEM;
    l = mem_calloc(1, sizeof *l);
    if (!l || !(l->dir = mem_strdup(dir)))
        goto fail;
    pthread_mutex_init(&l->mu, NULL);
    pthread_mutex_init(&l->maint, NULL);
    if (o)
        l->o = *o;
    if (l->o.max_future_ms <= 0)
        l->o.max_future_ms = DAY_MS;
    if (l->o.dedupe_window_ms <= 0)
        l->o.dedupe_window_ms = DAY_MS;
    if (!l->o.dedupe_max)
        l->o.dedupe_max = 1000000;
    if (l->o.zstd_level <= 0)
        l->o.zstd_level = 3;

    dh = opendir(dir);
    if (!dh) {
        rc = -errno;
        snprintf(err, errcap, "%s: %s", dir, strerror(errno));
        goto fail;
    }
    struct dirent *de;
    while ((de = readdir(dh))) {
        int64_t day;
        uint32_t gen = 0;
        int kind = parse_name(de->d_name, &day, &gen);
        if (kind == NAME_LOG) {
            if (mem_grow((void **)&logs, &caplogs, nlogs, sizeof *logs, 64))
                goto fail;
            logs[nlogs++] = (found_log){day, gen};
        } else if (kind == NAME_ZST) {
            if (mem_grow((void **)&zdays, &capz, nz, sizeof *zdays, 64))
                goto fail;
            zdays[nz++] = day;
        } else if (kind == NAME_TMP) {
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            unlink(path); /* a seal that did not finish; its inputs are still there */
        }
    }
    closedir(dh);
    dh = NULL;
    if ((rc = check_versions(dir, logs, nlogs, zdays, nz, err, errcap)))
        goto fail;

    rc = -ENOMEM;
    for (size_t i = 0; i < nz; i++) {
        uint64_t events, raw;
        uint32_t max_gen;
        struct stat st;
        zst_path(dir, zdays[i], "", path, sizeof path);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            rc = -errno;
            snprintf(err, errcap, "%s: %s", path, strerror(errno));
            goto fail;
        }
        int mrc = meta_read(fd, zdays[i], &events, &raw, &max_gen);
        if (mrc == 0 && fstat(fd, &st))
            mrc = -errno;
        close(fd);
        if (mrc == -EBADMSG) {
            set_aside(l, path, "bad sealed-day header");
            continue;
        }
        if (mrc) {
            rc = mrc;
            snprintf(err, errcap, "%s: %s", path, strerror(-mrc));
            goto fail;
        }
        uday *ud = day_get(l, zdays[i]);
        if (!ud)
            goto fail;
        ud->zst = 1;
        ud->zst_events = events;
        ud->zst_raw = raw;
        ud->zst_bytes = (uint64_t)st.st_size;
        ud->zst_max_gen = max_gen;
        if (max_gen >= ud->next_gen)
            ud->next_gen = max_gen + 1;
    }

    if (nlogs)
        qsort(logs, nlogs, sizeof *logs, found_cmp);
    ids.keep = l->o.dedupe_max;
    ids.window = l->o.dedupe_window_ms;
    ids.max_t = INT64_MIN;
    if ((rc = open_logs(l, logs, nlogs, &ids, err, errcap)))
        goto fail;
    idcol_prune(&ids);
    if (ids.n)
        qsort(ids.v, ids.n, sizeof *ids.v, idpair_cmp);
    for (size_t i = 0; i < ids.n; i++)
        if (!dd_has(&l->dd, ids.v[i].h) && (rc = dd_push(&l->dd, ids.v[i].h, ids.v[i].t))) {
            snprintf(err, errcap, "out of memory");
            goto fail;
        }
    for (size_t i = 0; i < l->ndays;) /* days whose every file went away */
        if (!l->days[i]->zst && !l->days[i]->nlogs)
            day_remove(l, l->days[i]);
        else
            i++;
    mem_free(logs);
    mem_free(zdays);
    mem_free(ids.v);
    *out = l;
    return 0;
fail:
    if (rc == -ENOMEM && !err[0])
        snprintf(err, errcap, "out of memory");
    if (dh)
        closedir(dh);
    mem_free(logs);
    mem_free(zdays);
    mem_free(ids.v);
    if (l && l->dir) {
        for (size_t i = 0; i < l->ndays; i++)
            day_free(l, l->days[i]);
        mem_free(l->days);
        dd_free(&l->dd);
        pthread_mutex_destroy(&l->mu);
        pthread_mutex_destroy(&l->maint);
        mem_free(l->dir);
    }
    mem_free(l);
    return rc;
}

void usagelog_close(usagelog *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->ndays; i++) {
        for (size_t j = 0; j < l->days[i]->nlogs; j++) {
            writer *w = l->days[i]->logs[j]->w;
            if (w && fdatasync(w->fd))
                log_warn("usagelog: fdatasync at close: %s", strerror(errno));
        }
        day_free(l, l->days[i]);
    }
    if (l->dir_dirty)
        fsutil_sync_dir(l->dir);
    mem_free(l->days);
    mem_free(l->touched);
    dd_free(&l->dd);
    pthread_mutex_destroy(&l->mu);
    pthread_mutex_destroy(&l->maint);
    mem_free(l->dir);
    mem_free(l);
}

/* ---- maintenance: sealing and retention ---- */

typedef struct seal_in {
    int fd;
    uint32_t gen;
    uint64_t bytes, events;
} seal_in;

/* Streams src (plain bytes up to limit, or decompressed) into the compressor. */
static int seal_feed(ZSTD_CCtx *c, int out, unsigned char *obuf, size_t ocap, source *src,
                     unsigned char *ibuf, size_t icap, uint64_t *fed)
{
    for (;;) {
        ssize_t n = source_read(src, ibuf, icap);
        if (n < 0)
            return (int)n;
        if (n == 0)
            return 0;
        *fed += (uint64_t)n;
        ZSTD_inBuffer in = {ibuf, (size_t)n, 0};
        while (in.pos < in.size) {
            ZSTD_outBuffer o = {obuf, ocap, 0};
            size_t r = ZSTD_compressStream2(c, &o, &in, ZSTD_e_continue);
            if (ZSTD_isError(r))
                return -EIO;
            int rc = write_all(out, obuf, o.pos);
            if (rc)
                return rc;
        }
    }
}

/* Writes the sealed file of day to tmp from the old sealed file (old_fd, may be -1) and the
 * segments in[]. Returns 0 or -errno. */
static int seal_write(usagelog *l, const char *tmp, int64_t day, int old_fd, uint64_t old_raw,
                      uint64_t events, uint64_t raw, uint32_t max_gen, const seal_in *in,
                      size_t nin)
{
    unsigned char meta[8 + META_LEN];
    ZSTD_CCtx *c = ZSTD_createCCtx();
    size_t ocap = ZSTD_CStreamOutSize(), icap = READ_CHUNK;
    unsigned char *obuf = mem_alloc(ocap), *ibuf = mem_alloc(icap);
    uint64_t fed = 0;
    int rc = -ENOMEM;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    if (!c || !obuf || !ibuf)
        goto out;
    ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, l->o.zstd_level);
    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
    meta_build(meta, day, events, raw, max_gen);
    if ((rc = write_all(fd, meta, sizeof meta)))
        goto out;
    if (old_fd >= 0) {
        source src = {.fd = old_fd, .limit = UINT64_MAX};
        src.z = ZSTD_createDCtx();
        src.zincap = ZSTD_DStreamInSize();
        src.zin = mem_alloc(src.zincap);
        rc = src.z && src.zin ? seal_feed(c, fd, obuf, ocap, &src, ibuf, icap, &fed) : -ENOMEM;
        ZSTD_freeDCtx(src.z);
        mem_free(src.zin);
        if (rc)
            goto out;
        if (fed != old_raw) {
            rc = -EBADMSG;
            goto out;
        }
    }
    for (size_t i = 0; i < nin; i++) {
        source src = {.fd = in[i].fd, .limit = in[i].bytes};
        uint64_t before = fed;
        if ((rc = seal_feed(c, fd, obuf, ocap, &src, ibuf, icap, &fed)))
            goto out;
        if (fed - before != in[i].bytes) {
            rc = -EIO; /* shorter than committed: someone else cut it */
            goto out;
        }
    }
    for (;;) {
        ZSTD_inBuffer none = {NULL, 0, 0};
        ZSTD_outBuffer o = {obuf, ocap, 0};
        size_t r = ZSTD_compressStream2(c, &o, &none, ZSTD_e_end);
        if (ZSTD_isError(r)) {
            rc = -EIO;
            goto out;
        }
        if ((rc = write_all(fd, obuf, o.pos)))
            goto out;
        if (r == 0)
            break;
    }
    rc = fdatasync(fd) ? -errno : 0;
out:
    if (fd >= 0 && close(fd) && !rc)
        rc = -errno;
    ZSTD_freeCCtx(c);
    mem_free(obuf);
    mem_free(ibuf);
    return rc;
}

/* Seals one day if it qualifies (see usagelog_maintain). Returns 1 when sealed, 0 when not
 * due, -errno on failure (logged). */
static int seal_day(usagelog *l, int64_t day, int64_t now_ms)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    seal_in *in = NULL;
    size_t nin = 0;
    int old_fd = -1, rc = 0;
    uint64_t old_raw = 0, events = 0, raw = 0;
    uint32_t max_gen = 0;

    pthread_mutex_lock(&l->mu);
    uday *ud = day_find(l, day);
    if (!ud || !ud->nlogs || (day + 1) * DAY_MS > now_ms)
        goto unlock;
    for (size_t i = 0; i < ud->nlogs; i++)
        if (ud->logs[i]->max_recv > now_ms - l->o.dedupe_window_ms)
            goto unlock; /* still within the dedupe window: its ids must stay rebuildable */
    in = mem_calloc(ud->nlogs, sizeof *in);
    if (!in) {
        rc = -ENOMEM;
        goto unlock;
    }
    if (ud->zst) {
        zst_path(l->dir, day, "", path, sizeof path);
        if ((old_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
            rc = -errno;
            goto unlock;
        }
        old_raw = ud->zst_raw;
        events = ud->zst_events;
        raw = ud->zst_raw;
        max_gen = ud->zst_max_gen;
    }
    for (size_t i = 0; i < ud->nlogs; i++) {
        logseg *sg = ud->logs[i];
        writer_close(l, sg); /* idle for a day: nothing pending */
        log_path(l->dir, day, sg->gen, path, sizeof path);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            rc = -errno;
            goto unlock;
        }
        in[nin++] = (seal_in){fd, sg->gen, sg->bytes, sg->events};
        events += sg->events;
        raw += sg->bytes;
        if (sg->gen > max_gen)
            max_gen = sg->gen;
    }
    pthread_mutex_unlock(&l->mu);

    zst_path(l->dir, day, ".tmp", tmp, sizeof tmp);
    rc = seal_write(l, tmp, day, old_fd, old_raw, events, raw, max_gen, in, nin);

    pthread_mutex_lock(&l->mu);
    zst_path(l->dir, day, "", path, sizeof path);
    if (!rc && rename(tmp, path))
        rc = -errno;
    if (rc) {
        unlink(tmp);
        goto unlock;
    }
    fsutil_sync_dir(l->dir);
    ud = day_find(l, day); /* retention does not run concurrently: still there */
    struct stat st;
    if (!ud) {
        rc = -ENOENT;
        goto unlock;
    }
    ud->zst = 1;
    ud->zst_events = events;
    ud->zst_raw = raw;
    ud->zst_max_gen = max_gen;
    ud->zst_bytes = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
    for (size_t i = 0; i < nin; i++) {
        log_path(l->dir, day, in[i].gen, path, sizeof path);
        unlink(path);
        for (size_t j = 0; j < ud->nlogs; j++)
            if (ud->logs[j]->gen == in[i].gen) {
                writer_close(l, ud->logs[j]);
                mem_free(ud->logs[j]);
                memmove(ud->logs + j, ud->logs + j + 1, (ud->nlogs - j - 1) * sizeof *ud->logs);
                ud->nlogs--;
                break;
            }
    }
    fsutil_sync_dir(l->dir);
    rc = 1;
unlock:
    pthread_mutex_unlock(&l->mu);
    if (rc < 0) {
        char dn[16];
        day_name(day, dn, sizeof dn);
        log_warn("usagelog: sealing %s failed: %s (retried later)", dn, strerror(-rc));
    }
    if (old_fd >= 0)
        close(old_fd);
    for (size_t i = 0; i < nin; i++)
        close(in[i].fd);
    mem_free(in);
    return rc;
}

/* Unlinks a day's files and forgets it. */
static void drop_day(usagelog *l, uday *ud, const char *why)
{
    char path[PATH_MAX], dn[16];
    if (ud->zst) {
        zst_path(l->dir, ud->day, "", path, sizeof path);
        unlink(path);
    }
    for (size_t i = 0; i < ud->nlogs; i++) {
        log_path(l->dir, ud->day, ud->logs[i]->gen, path, sizeof path);
        unlink(path);
    }
    day_name(ud->day, dn, sizeof dn);
    log_info("usagelog: dropped %s (%s)", dn, why);
    day_remove(l, ud);
}

static uint64_t day_bytes(const uday *ud)
{
    uint64_t b = ud->zst ? ud->zst_bytes : 0;
    for (size_t i = 0; i < ud->nlogs; i++)
        b += ud->logs[i]->bytes;
    return b;
}

void usagelog_maintain(usagelog *l, int64_t now_ms)
{
    int64_t *due = NULL;
    size_t ndue = 0;
    pthread_mutex_lock(&l->maint);

    pthread_mutex_lock(&l->mu);
    due = mem_alloc((l->ndays ? l->ndays : 1) * sizeof *due);
    for (size_t i = 0; due && i < l->ndays; i++)
        if (l->days[i]->nlogs && (l->days[i]->day + 1) * DAY_MS <= now_ms)
            due[ndue++] = l->days[i]->day;
    pthread_mutex_unlock(&l->mu);
    for (size_t i = 0; i < ndue; i++)
        seal_day(l, due[i], now_ms);
    mem_free(due);

    pthread_mutex_lock(&l->mu);
    int64_t today = floordiv(now_ms, DAY_MS);
    int dropped = 0;
    for (size_t i = 0; i < l->ndays;) {
        uday *ud = l->days[i];
        if (l->o.max_age_ms > 0 && (ud->day + 1) * DAY_MS <= now_ms - l->o.max_age_ms) {
            drop_day(l, ud, "older than the retention age");
            dropped = 1;
        } else if (!ud->zst && !ud->nlogs) {
            day_remove(l, ud);
        } else {
            i++;
        }
    }
    if (l->o.max_bytes) {
        uint64_t total = 0;
        for (size_t i = 0; i < l->ndays; i++)
            total += day_bytes(l->days[i]);
        while (total > l->o.max_bytes && l->ndays && l->days[0]->day < today) {
            total -= day_bytes(l->days[0]);
            drop_day(l, l->days[0], "over the retention size");
            dropped = 1;
        }
    }
    if (dropped)
        fsutil_sync_dir(l->dir);
    pthread_mutex_unlock(&l->mu);

    pthread_mutex_unlock(&l->maint);
}
