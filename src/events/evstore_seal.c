/* evstore_seal: sealing a day (its rows' title, text and fields moved into zstd blocks) and
 * reading sealed payloads back.
 *
 * A block holds up to EVS_BLOCK_EVENTS consecutive events (by id) or EVS_BLOCK_RAW_MAX raw
 * bytes, compressed with a zstd dictionary trained on the day's own events (64 events with a
 * 64 KiB dictionary compress better than 1024 without, and a search hit then decodes ~10 KB
 * instead of ~150 KB: see the essay in evstore.c). The raw block is laid out column by column
 * so that like compresses with like:
 *   u8 version (1) | varint n | n title lengths | n text codes | n fields lengths |
 *   titles | texts | fields
 * every string stored with a NUL after it (so readers point into the decoded block); a text
 * code is 0 when the text equals the title (not stored again), else length + 1. A sealed row
 * keeps everything else (ids, times, device, sensor, severity, kind, host, app, source,
 * fingerprint) and blk = block id << 12 | slot; its title, text and fields become NULL. The
 * FTS index is untouched (it is contentless), so search works the same before and after. */
#include "evstore_int.h"

#include "../lib/log.h"
#include "../lib/mem.h"

#include <errno.h>
#include <string.h>
#include <zdict.h>
#include <zstd.h>

#define SEAL_BLOCKS_PER_TXN 256 /* then the day's write lock is released for a moment */

static int put_varint(buf *b, uint64_t v)
{
    unsigned char t[10];
    size_t n = 0;
    do {
        t[n] = (unsigned char)(v & 0x7F);
        v >>= 7;
        if (v)
            t[n] |= 0x80;
        n++;
    } while (v);
    return buf_append(b, t, n);
}

static int get_varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end)
            return -1;
        unsigned c = *(*p)++;
        r |= (uint64_t)(c & 0x7F) << shift;
        if (!(c & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

/* ---------------------------------------------------------------- reading */

void evs__blkcache_init(evs_blkcache *c)
{
    memset(c, 0, sizeof *c);
    buf_init(&c->raw, EVS_BLOCK_DECODED_MAX + 1);
}

void evs__blkcache_free(evs_blkcache *c)
{
    if (!c)
        return;
    ZSTD_freeDCtx(c->dctx);
    ZSTD_freeDDict(c->ddict);
    buf_free(&c->raw);
    mem_free(c->off);
    memset(c, 0, sizeof *c);
}

/* Makes c->ddict the day's dictionary dict. Returns 0 or -errno. */
static int load_ddict(evs_blkcache *c, sqlite3 *db, const evs_seg *g, int64_t dict)
{
    if (c->ddict && c->dday == g->day && c->dict == dict)
        return 0;
    ZSTD_freeDDict(c->ddict);
    c->ddict = NULL;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT data FROM dict WHERE id = ?", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return evs__sqlerr(db, rc, g->path, "read dictionary");
    sqlite3_bind_int64(st, 1, dict);
    rc = sqlite3_step(st);
    int err = 0;
    if (rc == SQLITE_ROW) {
        c->ddict =
            ZSTD_createDDict(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
        if (!c->ddict)
            err = -ENOMEM;
    } else {
        err = rc == SQLITE_DONE ? -EIO : evs__sqlerr(db, rc, g->path, "read dictionary");
        log_error("events: %s: dictionary %lld unreadable", g->path, (long long)dict);
    }
    sqlite3_finalize(st);
    if (!err)
        c->dday = g->day, c->dict = dict;
    return err;
}

/* Parses the decoded block in c->raw into c->off. Returns 0 or -EIO. */
static int block_parse(evs_blkcache *c)
{
    const unsigned char *p = (const unsigned char *)c->raw.data, *end = p + c->raw.len;
    uint64_t n;
    if (p == end || *p++ != 1 || get_varint(&p, end, &n) || n == 0 || n > (1u << EVS_SLOT_BITS))
        return -EIO;
    if (mem_grow((void **)&c->off, &c->offcap, (size_t)n * 6, sizeof *c->off, 6 * 64))
        return -ENOMEM;
    uint64_t len[3];
    const unsigned char *lens = p;
    /* First pass: skip the three length tables to find where the data starts. */
    for (uint64_t i = 0; i < 3 * n; i++)
        if (get_varint(&p, end, &len[0]))
            return -EIO;
    uint64_t pos = (uint64_t)(p - (const unsigned char *)c->raw.data);
    const unsigned char *q = lens;
    for (int col = 0; col < 3; col++) {
        for (uint64_t i = 0; i < n; i++) {
            get_varint(&q, end, &len[0]);
            uint64_t l = len[0];
            uint32_t *o = c->off + i * 6 + col * 2;
            if (col == 1 && l == 0) {
                o[0] = UINT32_MAX, o[1] = 0;
                continue;
            }
            if (col == 1)
                l--;
            if (l >= c->raw.len || pos + l >= c->raw.len || c->raw.data[pos + l] != '\0')
                return -EIO;
            o[0] = (uint32_t)pos, o[1] = (uint32_t)l;
            pos += l + 1;
        }
    }
    c->n = (size_t)n;
    return 0;
}

int evs__blk_payload(evs_blkcache *c, sqlite3 *db, const evs_seg *g, int64_t blk, event *ev)
{
    int64_t bid = blk >> EVS_SLOT_BITS;
    size_t slot = (size_t)(blk & ((1 << EVS_SLOT_BITS) - 1));
    if (c->day != g->day || c->id != bid) {
        c->id = 0;
        if (!c->dctx && !(c->dctx = ZSTD_createDCtx()))
            return -ENOMEM;
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db, "SELECT data, dict FROM blk WHERE id = ?", -1, &st, NULL);
        if (rc != SQLITE_OK)
            return evs__sqlerr(db, rc, g->path, "read block");
        sqlite3_bind_int64(st, 1, bid);
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW) {
            int err = rc == SQLITE_DONE ? -EIO : evs__sqlerr(db, rc, g->path, "read block");
            if (rc == SQLITE_DONE)
                log_error("events: %s: block %lld missing", g->path, (long long)bid);
            sqlite3_finalize(st);
            return err;
        }
        const void *data = sqlite3_column_blob(st, 0);
        size_t dlen = (size_t)sqlite3_column_bytes(st, 0);
        int with_dict = sqlite3_column_type(st, 1) != SQLITE_NULL;
        unsigned long long size = ZSTD_getFrameContentSize(data, dlen);
        int err = 0;
        buf_reset(&c->raw);
        if (!data || size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR ||
            size > EVS_BLOCK_DECODED_MAX)
            err = -EIO;
        else if (with_dict && (err = load_ddict(c, db, g, sqlite3_column_int64(st, 1))))
            ;
        else if ((err = buf_reserve(&c->raw, (size_t)size)) == 0) {
            size_t got = with_dict
                             ? ZSTD_decompress_usingDDict(c->dctx, c->raw.data, (size_t)size, data,
                                                          dlen, c->ddict)
                             : ZSTD_decompressDCtx(c->dctx, c->raw.data, (size_t)size, data, dlen);
            if (ZSTD_isError(got) || got != size)
                err = -EIO;
            else {
                c->raw.len = got;
                c->raw.data[got] = '\0';
                err = block_parse(c);
            }
        }
        sqlite3_finalize(st);
        if (err) {
            if (err == -EIO)
                log_error("events: %s: block %lld is corrupt", g->path, (long long)bid);
            return err;
        }
        c->day = g->day, c->id = bid;
    }
    if (slot >= c->n)
        return -EIO;
    const uint32_t *o = c->off + slot * 6;
    ev->title = c->raw.data + o[0];
    ev->text = o[2] == UINT32_MAX ? ev->title : c->raw.data + o[2];
    ev->fields = c->raw.data + o[4];
    return 0;
}

/* ---------------------------------------------------------------- sealing */

typedef struct sealer {
    ZSTD_CCtx *cctx;
    ZSTD_CDict *cdict; /* the day's dictionary, or NULL */
    int64_t dict;      /* its id */
    buf lens[3], data[3], raw, comp;
    int64_t ids[EVS_BLOCK_EVENTS];
    size_t n;
} sealer;

static void sealer_reset(sealer *z)
{
    for (int i = 0; i < 3; i++) {
        buf_reset(&z->lens[i]);
        buf_reset(&z->data[i]);
    }
    z->n = 0;
}

/* Adds one row's payload; text NULL means "same as the title". */
static void sealer_add(sealer *z, int64_t id, const char *title, size_t tl, const char *text,
                       size_t xl, const char *fields, size_t fl)
{
    put_varint(&z->lens[0], tl);
    buf_append(&z->data[0], title, tl);
    buf_putc(&z->data[0], '\0');
    put_varint(&z->lens[1], text ? xl + 1 : 0);
    if (text) {
        buf_append(&z->data[1], text, xl);
        buf_putc(&z->data[1], '\0');
    }
    put_varint(&z->lens[2], fl);
    buf_append(&z->data[2], fields, fl);
    buf_putc(&z->data[2], '\0');
    z->ids[z->n++] = id;
}

static size_t sealer_rawlen(const sealer *z)
{
    size_t t = 0;
    for (int i = 0; i < 3; i++)
        t += z->lens[i].len + z->data[i].len;
    return t;
}

/* Compresses the collected rows into a block, stores it and points the rows at it. */
static int sealer_flush(sealer *z, evs_seg *g)
{
    int rc = 0;
    buf_reset(&z->raw);
    buf_putc(&z->raw, 1);
    put_varint(&z->raw, z->n);
    for (int i = 0; i < 3; i++)
        buf_append(&z->raw, z->lens[i].data, z->lens[i].len);
    for (int i = 0; i < 3; i++)
        buf_append(&z->raw, z->data[i].data, z->data[i].len);
    for (int i = 0; i < 3; i++)
        if (z->lens[i].err || z->data[i].err)
            return z->lens[i].err ? z->lens[i].err : z->data[i].err;
    if (z->raw.err)
        return z->raw.err;
    buf_reset(&z->comp);
    size_t bound = ZSTD_compressBound(z->raw.len);
    if ((rc = buf_reserve(&z->comp, bound)))
        return rc;
    size_t clen = z->cdict ? ZSTD_compress_usingCDict(z->cctx, z->comp.data, bound, z->raw.data,
                                                      z->raw.len, z->cdict)
                           : ZSTD_compressCCtx(z->cctx, z->comp.data, bound, z->raw.data,
                                               z->raw.len, EVS_ZSTD_LEVEL);
    if (ZSTD_isError(clen)) {
        log_error("events: %s: zstd: %s", g->path, ZSTD_getErrorName(clen));
        return -EIO;
    }
    sqlite3_stmt *ins = NULL, *upd = NULL;
    int src =
        sqlite3_prepare_v2(g->wdb, "INSERT INTO blk(dict, data) VALUES (?, ?)", -1, &ins, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_prepare_v2(g->wdb,
                                 "UPDATE ev SET title = NULL, text = NULL, fields = NULL, blk = ?"
                                 " WHERE id = ?",
                                 -1, &upd, NULL);
    if (src == SQLITE_OK) {
        if (z->cdict)
            sqlite3_bind_int64(ins, 1, z->dict);
        sqlite3_bind_blob(ins, 2, z->comp.data, (int)clen, SQLITE_STATIC);
        src = sqlite3_step(ins) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(g->wdb);
    }
    int64_t bid = sqlite3_last_insert_rowid(g->wdb);
    for (size_t i = 0; src == SQLITE_OK && i < z->n; i++) {
        sqlite3_bind_int64(upd, 1, (bid << EVS_SLOT_BITS) | (int64_t)i);
        sqlite3_bind_int64(upd, 2, z->ids[i]);
        src = sqlite3_step(upd) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(g->wdb);
        sqlite3_reset(upd);
    }
    if (src != SQLITE_OK)
        rc = evs__sqlerr(g->wdb, src, g->path, "seal");
    sqlite3_finalize(ins);
    sqlite3_finalize(upd);
    return rc;
}

#define DICT_PROBES 256    /* places across the day where samples are taken */
#define DICT_PROBE_ROWS 80 /* consecutive open rows taken at each */
#define DICT_SAMPLES_MAX (4u << 20)

/* Loads the day's dictionary into z, training one first when the day has none and enough open
 * events (caller holds wmu). A day without a dictionary is sealed without one. */
static int seal_dict(sealer *z, evs_seg *g)
{
    sqlite3_stmt *st = NULL;
    int rc = 0, src = sqlite3_prepare_v2(g->wdb,
                                         "SELECT id, data FROM dict ORDER BY id DESC"
                                         " LIMIT 1",
                                         -1, &st, NULL);
    if (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        z->dict = sqlite3_column_int64(st, 0);
        z->cdict = ZSTD_createCDict(sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1),
                                    EVS_ZSTD_LEVEL);
        sqlite3_finalize(st);
        return z->cdict ? 0 : -ENOMEM;
    }
    sqlite3_finalize(st);
    if (src != SQLITE_DONE)
        return evs__sqlerr(g->wdb, src, g->path, "dictionary");
    if (__atomic_load_n(&g->n, __ATOMIC_RELAXED) < EVS_DICT_MIN_EVENTS)
        return 0;
    /* Samples: runs of open rows at DICT_PROBES places spread over the day's ids. */
    buf samples;
    buf_init(&samples, DICT_SAMPLES_MAX);
    size_t *sizes = mem_alloc(DICT_PROBES * DICT_PROBE_ROWS * sizeof *sizes), n = 0;
    void *dict = mem_alloc(EVS_DICT_BYTES);
    src = sqlite3_prepare_v2(g->wdb,
                             "SELECT title, text, fields FROM ev WHERE id >= ? AND blk IS NULL"
                             " ORDER BY id LIMIT ?",
                             -1, &st, NULL);
    if (!sizes || !dict)
        rc = -ENOMEM;
    else if (src != SQLITE_OK)
        rc = evs__sqlerr(g->wdb, src, g->path, "dictionary");
    for (int p = 0; !rc && p < DICT_PROBES; p++) {
        sqlite3_bind_int64(st, 1, (EVS_DAY_S << EVS_SEQ_BITS) / DICT_PROBES * p);
        sqlite3_bind_int(st, 2, DICT_PROBE_ROWS);
        while ((src = sqlite3_step(st)) == SQLITE_ROW) {
            size_t before = samples.len;
            for (int col = 0; col < 3; col++) {
                const void *t = sqlite3_column_text(st, col);
                buf_append(&samples, t ? t : "", (size_t)sqlite3_column_bytes(st, col));
                buf_putc(&samples, '\0');
            }
            if (samples.err)
                break;
            sizes[n++] = samples.len - before;
        }
        sqlite3_reset(st);
        if (samples.err == -E2BIG)
            break;
        if (samples.err)
            rc = samples.err;
        else if (src != SQLITE_DONE)
            rc = evs__sqlerr(g->wdb, src, g->path, "dictionary");
    }
    sqlite3_finalize(st);
    st = NULL;
    size_t dsz = 0;
    if (!rc && n >= 1000) {
        dsz = ZDICT_trainFromBuffer(dict, EVS_DICT_BYTES, samples.data, sizes, (unsigned)n);
        if (ZDICT_isError(dsz)) {
            log_debug("events: %s: no dictionary (%s)", g->path, ZDICT_getErrorName(dsz));
            dsz = 0;
        }
    }
    if (!rc && dsz) {
        src = sqlite3_prepare_v2(g->wdb, "INSERT INTO dict(data) VALUES (?)", -1, &st, NULL);
        if (src == SQLITE_OK) {
            sqlite3_bind_blob(st, 1, dict, (int)dsz, SQLITE_STATIC);
            src = sqlite3_step(st);
        }
        if (src != SQLITE_DONE)
            rc = evs__sqlerr(g->wdb, src, g->path, "dictionary");
        sqlite3_finalize(st);
        if (!rc) {
            z->dict = sqlite3_last_insert_rowid(g->wdb);
            if (!(z->cdict = ZSTD_createCDict(dict, dsz, EVS_ZSTD_LEVEL)))
                rc = -ENOMEM;
        }
    }
    buf_free(&samples);
    mem_free(sizes);
    mem_free(dict);
    return rc;
}

/* Seals up to SEAL_BLOCKS_PER_TXN blocks of open rows after *last in one transaction (caller
 * holds wmu). *done is set when no open row is left (the day is then marked sealed). */
static int seal_some(sealer *z, evs_seg *g, int64_t *last, int *done, uint64_t *sealed)
{
    int rc = evs__exec(g->wdb, g->path, "BEGIN IMMEDIATE");
    if (rc)
        return rc;
    sqlite3_stmt *sel = NULL, *first = NULL;
    int src = sqlite3_prepare_v2(g->wdb,
                                 "SELECT id, title, text, fields FROM ev WHERE id > ? AND blk IS"
                                 " NULL ORDER BY id LIMIT ?",
                                 -1, &sel, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_prepare_v2(g->wdb, "SELECT min(id) FROM ev WHERE blk IS NULL", -1, &first,
                                 NULL);
    if (src != SQLITE_OK)
        rc = evs__sqlerr(g->wdb, src, g->path, "seal");
    for (int blocks = 0; !rc && blocks < SEAL_BLOCKS_PER_TXN;) {
        sealer_reset(z);
        sqlite3_bind_int64(sel, 1, *last);
        sqlite3_bind_int64(sel, 2, EVS_BLOCK_EVENTS);
        while ((src = sqlite3_step(sel)) == SQLITE_ROW) {
            const char *title = (const char *)sqlite3_column_text(sel, 1);
            size_t tl = (size_t)sqlite3_column_bytes(sel, 1);
            const char *text = (const char *)sqlite3_column_text(sel, 2);
            size_t xl = (size_t)sqlite3_column_bytes(sel, 2);
            const char *fields = (const char *)sqlite3_column_text(sel, 3);
            size_t fl = (size_t)sqlite3_column_bytes(sel, 3);
            sealer_add(z, sqlite3_column_int64(sel, 0), title ? title : "", tl, text, xl,
                       fields ? fields : "", fl);
            if (sealer_rawlen(z) >= EVS_BLOCK_RAW_MAX)
                break;
        }
        if (src != SQLITE_ROW && src != SQLITE_DONE)
            rc = evs__sqlerr(g->wdb, src, g->path, "seal");
        sqlite3_reset(sel);
        if (rc)
            break;
        if (z->n == 0) {
            /* Late events may have landed before *last: look for any open row. */
            src = sqlite3_step(first);
            if (src != SQLITE_ROW) {
                rc = evs__sqlerr(g->wdb, src, g->path, "seal");
                break;
            }
            int none = sqlite3_column_type(first, 0) == SQLITE_NULL;
            int64_t m = sqlite3_column_int64(first, 0);
            sqlite3_reset(first);
            if (!none) {
                *last = m - 1;
                continue;
            }
            rc = evs__exec(g->wdb, g->path, "UPDATE meta SET v = 1 WHERE k = 'sealed'");
            *done = 1;
            break;
        }
        if ((rc = sealer_flush(z, g)))
            break;
        *last = z->ids[z->n - 1];
        *sealed += z->n;
        blocks++;
    }
    sqlite3_finalize(sel);
    sqlite3_finalize(first);
    if (!rc)
        rc = evs__exec(g->wdb, g->path, "COMMIT");
    if (rc) {
        sqlite3_exec(g->wdb, "ROLLBACK", NULL, NULL, NULL);
        *done = 0;
    }
    return rc;
}

/* Merges the FTS index into one b-tree and rewrites the file without the room the payloads
 * left in the rows' pages (caller holds wmu). */
static int compact(evs_seg *g)
{
    int rc = evs__exec(g->wdb, g->path, "INSERT INTO fts(fts) VALUES ('optimize')");
    if (!rc)
        rc = evs__exec(g->wdb, g->path, "VACUUM");
    if (!rc)
        rc = evs__exec(g->wdb, g->path, "UPDATE meta SET v = 1 WHERE k = 'compacted'");
    if (!rc)
        evs__wal_truncate(g);
    return rc;
}

void evs__wal_truncate(evs_seg *g)
{
    /* Readers in the middle of a query would make TRUNCATE wait: try briefly, else the next
     * maintenance tries again. */
    sqlite3_busy_timeout(g->wdb, 50);
    int rc = sqlite3_exec(g->wdb, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    sqlite3_busy_timeout(g->wdb, 10000);
    if (rc != SQLITE_OK)
        log_debug("events: %s: WAL not truncated yet (%s)", g->path, sqlite3_errstr(rc));
}

int evs__seal(evstore *s, evs_seg *g)
{
    (void)s;
    sealer z;
    memset(&z, 0, sizeof z);
    for (int i = 0; i < 3; i++) {
        buf_init(&z.lens[i], 0);
        buf_init(&z.data[i], 0);
    }
    buf_init(&z.raw, 0);
    buf_init(&z.comp, 0);
    int rc = 0, done = 0;
    int64_t last = -1;
    uint64_t sealed = 0;
    if (!(z.cctx = ZSTD_createCCtx()))
        rc = -ENOMEM;
    for (int first = 1; !rc && !done; first = 0) {
        pthread_mutex_lock(&g->wmu);
        rc = evs__writer_open(s, g);
        if (!rc && first)
            rc = seal_dict(&z, g);
        if (!rc)
            rc = seal_some(&z, g, &last, &done, &sealed);
        if (done)
            __atomic_store_n(&g->sealed, 1, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&g->wmu);
    }
    /* Compact once a day is first sealed (it may have taken several maintenances), and again
     * when many late events were sealed since. */
    uint64_t n = __atomic_load_n(&g->n, __ATOMIC_RELAXED);
    if (!rc && done) {
        pthread_mutex_lock(&g->wmu);
        int64_t compacted = 1;
        rc = evs__writer_open(s, g);
        if (!rc)
            rc = evs__query_int(g->wdb, g->path, "SELECT v FROM meta WHERE k = 'compacted'", 0,
                                &compacted);
        if (!rc && (!compacted || sealed >= 1000 || sealed * 10 >= n))
            rc = compact(g);
        pthread_mutex_unlock(&g->wmu);
    }
    ZSTD_freeCCtx(z.cctx);
    ZSTD_freeCDict(z.cdict);
    for (int i = 0; i < 3; i++) {
        buf_free(&z.lens[i]);
        buf_free(&z.data[i]);
    }
    buf_free(&z.raw);
    buf_free(&z.comp);
    return rc;
}
