/* block: writing and reading the store's immutable block files.
 *
 * Layout (all integers little-endian; "varint" is LEB128, "zz" a zigzag varint):
 *
 *   header   16 bytes   "DDBLOCK\0", u8 version (1), u8 tier, u8 ncols, 5 zero bytes
 *   frames   zstd frames, back to back, in groups of ncols: frame g*ncols + c decompresses to
 *            the concatenated column-c chunks of consecutive series (in label order), about
 *            BLOCK_FRAME_BYTES; every frame carries zstd's content checksum. (A column whose
 *            chunk is byte-identical to an earlier column of the same series points at that
 *            column's bytes.)
 *   index    one zstd frame (content checksum on) holding, per series in label order:
 *              varint nlabels, then per label varint len + name bytes, varint len + value
 *              bytes; zz (series mint - block mint); varint (series maxt - series mint);
 *              per column: varint frame number, varint offset in the frame, varint length
 *   ftable   nframes x { u64 file offset, u32 compressed length, u32 raw length }
 *   footer   68 bytes: i64 mint, i64 maxt, u64 index offset, u32 index compressed length,
 *            u32 index raw length, u64 ftable offset, u32 nframes, u32 nseries,
 *            u64 samples (of column 0), u32 crc32 (zlib) of ftable + the footer bytes before
 *            it, "DDBLKEND"
 *
 * Packing many series' chunks into one large zstd frame is what makes blocks small: chunks of
 * neighbouring series (same metric, other instance or cpu) share most of their bytes. A reader
 * decompresses the frames it needs once per query (block_cursor keeps the last one), walking
 * series in label order, which is also the frame order. */
#include "block.h"

#include "../lib/buf.h"
#include "../lib/fsutil.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/varint.h"
#include "chunk.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define HEADER_LEN 16
#define FOOTER_LEN 68
#define MAX_INDEX_RAW (1u << 31)
#define MAX_FRAME_RAW (64u << 20)
_Static_assert(BLOCK_FRAME_BYTES <= MAX_FRAME_RAW, "frame size");

static uint64_t next_block_id = 1; /* ids of opened blocks (cache keys) */

static const char block_magic[8] = {'D', 'D', 'B', 'L', 'O', 'C', 'K', 0};
static const char block_end[8] = {'D', 'D', 'B', 'L', 'K', 'E', 'N', 'D'};

/* ---- writer ------------------------------------------------------------------------------- */

struct block_writer {
    char *dir;
    char tmp[PATH_MAX];
    int fd;
    int tier, ncols, level;
    int64_t mint, maxt;
    uint64_t off;      /* file offset of the next frame */
    buf frame[BLOCK_MAX_COLS]; /* raw bytes of each column's frame being filled */
    buf index;         /* raw index */
    buf ftable;        /* frame table */
    uint32_t nframes;
    uint32_t nseries;
    uint64_t samples;
    labels last;       /* previous series (order check) */
    ZSTD_CCtx *cctx;
    void *cbuf;
    size_t ccap;
};

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
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Compresses src into the writer's scratch buffer; returns the compressed length or 0. */
static size_t compress_into(block_writer *w, const void *src, size_t len)
{
    size_t bound = ZSTD_compressBound(len);
    if (bound > w->ccap) {
        void *nb = mem_realloc(w->cbuf, bound);
        if (!nb)
            return 0;
        w->cbuf = nb;
        w->ccap = bound;
    }
    size_t r = ZSTD_compress2(w->cctx, w->cbuf, w->ccap, src, len);
    return ZSTD_isError(r) ? 0 : r;
}

/* Compresses and writes one frame (possibly empty) and adds it to the frame table. */
static int write_frame(block_writer *w, buf *f)
{
    size_t clen = compress_into(w, f->data ? f->data : "", f->len);
    if (!clen)
        return -ENOMEM;
    int rc = write_all(w->fd, w->cbuf, clen);
    if (rc)
        return rc;
    unsigned char e[16];
    varint_le64(e, w->off);
    uint32_t cl = (uint32_t)clen, rl = (uint32_t)f->len;
    memcpy(e + 8, &cl, 4);
    memcpy(e + 12, &rl, 4);
    if (buf_append(&w->ftable, e, sizeof e))
        return w->ftable.err;
    w->off += clen;
    w->nframes++;
    buf_reset(f);
    return 0;
}

/* Writes the frames of every column, in column order, so that the frame a column is filling
 * always has the number nframes + column: each column lives in frames of its own, and a reader
 * of one aggregate (say `last`) decompresses only that column's bytes. */
static int flush_frames(block_writer *w)
{
    int any = 0;
    for (int c = 0; c < w->ncols; c++)
        any |= w->frame[c].len > 0;
    for (int c = 0; any && c < w->ncols; c++) {
        int rc = write_frame(w, &w->frame[c]);
        if (rc)
            return rc;
    }
    return 0;
}

int block_writer_open(block_writer **out, const char *dir, int tier, int ncols, int64_t mint,
                      int64_t maxt, int zstd_level)
{
    if (ncols < 1 || ncols > BLOCK_MAX_COLS || mint > maxt)
        return -EINVAL;
    block_writer *w = mem_calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    w->fd = -1;
    w->tier = tier;
    w->ncols = ncols;
    w->mint = mint;
    w->maxt = maxt;
    w->level = zstd_level;
    for (int c = 0; c < BLOCK_MAX_COLS; c++)
        buf_init(&w->frame[c], 0);
    buf_init(&w->index, MAX_INDEX_RAW);
    buf_init(&w->ftable, 0);
    int rc = 0;
    w->dir = mem_strdup(dir);
    w->cctx = ZSTD_createCCtx();
    if (!w->dir || !w->cctx) {
        rc = -ENOMEM;
        goto fail;
    }
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, zstd_level);
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1);
    snprintf(w->tmp, sizeof w->tmp, "%s/.tmp-block-XXXXXX", dir);
    w->fd = mkostemp(w->tmp, O_CLOEXEC);
    if (w->fd < 0) {
        rc = -errno;
        goto fail;
    }
    unsigned char h[HEADER_LEN] = {0};
    memcpy(h, block_magic, 8);
    h[8] = 1;
    h[9] = (unsigned char)tier;
    h[10] = (unsigned char)ncols;
    if ((rc = write_all(w->fd, h, sizeof h)))
        goto fail;
    w->off = HEADER_LEN;
    *out = w;
    return 0;
fail:
    block_writer_abort(w);
    return rc;
}

int block_writer_add(block_writer *w, const labels *ls, const uint8_t *const *cols,
                     const size_t *lens, int64_t mint, int64_t maxt)
{
    if (w->nseries && labels_cmp(&w->last, ls) >= 0)
        return -EINVAL;
    if (maxt < mint || w->nseries == UINT32_MAX)
        return -EINVAL;
    buf *ix = &w->index;
    varint_put(ix, ls->n);
    for (size_t i = 0; i < ls->n; i++) {
        size_t nl = strlen(ls->v[i].name), vl = strlen(ls->v[i].value);
        varint_put(ix, nl);
        buf_append(ix, ls->v[i].name, nl);
        varint_put(ix, vl);
        buf_append(ix, ls->v[i].value, vl);
    }
    varint_put_signed(ix, mint - w->mint);
    varint_put(ix, (uint64_t)(maxt - mint));
    uint64_t pos[BLOCK_MAX_COLS][2]; /* frame and offset of each column written */
    for (int c = 0; c < w->ncols; c++) {
        if (lens[c] > MAX_FRAME_RAW)
            return -EINVAL;
        /* A column byte-identical to an earlier one of this series (max == last for a
         * counter, every aggregate of a constant) points at the same bytes. */
        int same = -1;
        for (int p = 0; p < c && same < 0; p++)
            if (lens[p] == lens[c] && lens[c] && !memcmp(cols[p], cols[c], lens[c]))
                same = p;
        if (same >= 0) {
            varint_put(ix, pos[same][0]);
            varint_put(ix, pos[same][1]);
            varint_put(ix, lens[c]);
            pos[c][0] = pos[same][0];
            pos[c][1] = pos[same][1];
            continue;
        }
        buf *f = &w->frame[c];
        if (f->len && f->len + lens[c] > BLOCK_FRAME_BYTES) {
            int rc = flush_frames(w);
            if (rc)
                return rc;
        }
        varint_put(ix, w->nframes + (uint32_t)c);
        varint_put(ix, f->len);
        varint_put(ix, lens[c]);
        pos[c][0] = w->nframes + (uint32_t)c;
        pos[c][1] = f->len;
        if (lens[c] && buf_append(f, cols[c], lens[c]))
            return f->err;
        if (c == 0 && lens[c]) {
            chunk_it it;
            if (!chunk_it_init(&it, cols[c], lens[c]))
                w->samples += chunk_it_count(&it);
        }
    }
    if (ix->err)
        return ix->err;
    mem_free(w->last.v);
    w->last.v = NULL;
    if (labels_clone(ls, &w->last))
        return -ENOMEM;
    w->nseries++;
    return 0;
}

int block_writer_finish(block_writer *w, char *path, size_t plen)
{
    int rc = flush_frames(w);
    unsigned char f[FOOTER_LEN];
    uint64_t index_off = w->off, ftab_off;
    size_t clen = 0;
    if (rc)
        goto out;
    clen = compress_into(w, w->index.data, w->index.len);
    if (!clen || clen > UINT32_MAX) {
        rc = -ENOMEM;
        goto out;
    }
    if ((rc = write_all(w->fd, w->cbuf, clen)))
        goto out;
    ftab_off = index_off + clen;
    if ((rc = write_all(w->fd, w->ftable.data, w->ftable.len)))
        goto out;
    varint_le64(f, (uint64_t)w->mint);
    varint_le64(f + 8, (uint64_t)w->maxt);
    varint_le64(f + 16, index_off);
    uint32_t u = (uint32_t)clen;
    memcpy(f + 24, &u, 4);
    u = (uint32_t)w->index.len;
    memcpy(f + 28, &u, 4);
    varint_le64(f + 32, ftab_off);
    memcpy(f + 40, &w->nframes, 4);
    memcpy(f + 44, &w->nseries, 4);
    varint_le64(f + 48, w->samples);
    uLong crc = crc32(0, (const Bytef *)w->ftable.data, (uInt)w->ftable.len);
    crc = crc32(crc, f, 56);
    u = (uint32_t)crc;
    memcpy(f + 56, &u, 4);
    memcpy(f + 60, block_end, 8);
    if ((rc = write_all(w->fd, f, sizeof f)))
        goto out;
    if (fdatasync(w->fd)) {
        rc = -errno;
        goto out;
    }
    snprintf(path, plen, "%s/%d-%lld-%lld.ddb", w->dir, w->tier, (long long)w->mint,
             (long long)w->maxt);
    if (rename(w->tmp, path)) {
        rc = -errno;
        goto out;
    }
    w->tmp[0] = 0;
    rc = fsutil_sync_dir(w->dir);
out:
    block_writer_abort(w);
    return rc;
}

void block_writer_abort(block_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    if (w->tmp[0] && w->fd >= 0)
        unlink(w->tmp);
    for (int c = 0; c < BLOCK_MAX_COLS; c++)
        buf_free(&w->frame[c]);
    buf_free(&w->index);
    buf_free(&w->ftable);
    mem_free(w->last.v);
    mem_free(w->cbuf);
    mem_free(w->dir);
    ZSTD_freeCCtx(w->cctx);
    mem_free(w);
}

/* ---- reader ------------------------------------------------------------------------------- */

static int bad(char *err, size_t errlen, const char *why)
{
    snprintf(err, errlen, "%s", why);
    return -EINVAL;
}

static uint32_t rd32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static int entry_gid_cmp(const void *a, const void *b)
{
    const block_entry *x = a, *y = b;
    if (x->gid != y->gid)
        return x->gid < y->gid ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

int block_parse(block *b, const unsigned char *data, size_t len, block_series_fn fn, void *ctx,
                char *err, size_t errlen)
{
    unsigned char *ix = NULL;
    label *lv = NULL;
    int rc = 0;
    b->entries = NULL;
    b->refs = NULL;
    b->frames = NULL;
    b->nentries = b->nframes = 0;
    if (len < HEADER_LEN + FOOTER_LEN || memcmp(data, block_magic, 8) || data[8] != 1)
        return bad(err, errlen, "not a block file (magic or version)");
    b->tier = data[9];
    b->ncols = data[10];
    if (b->ncols < 1 || b->ncols > BLOCK_MAX_COLS)
        return bad(err, errlen, "bad column count");
    const unsigned char *f = data + len - FOOTER_LEN;
    if (memcmp(f + 60, block_end, 8))
        return bad(err, errlen, "truncated (no footer)");
    b->mint = (int64_t)varint_read_le64(f);
    b->maxt = (int64_t)varint_read_le64(f + 8);
    uint64_t index_off = varint_read_le64(f + 16);
    uint32_t index_clen = rd32(f + 24), index_rlen = rd32(f + 28);
    uint64_t ftab_off = varint_read_le64(f + 32);
    uint32_t nframes = rd32(f + 40), nseries = rd32(f + 44);
    b->samples = varint_read_le64(f + 48);
    uint64_t body = len - FOOTER_LEN;
    if (b->mint > b->maxt || index_off < HEADER_LEN || index_off > body ||
        index_clen > body - index_off || ftab_off != index_off + index_clen ||
        (uint64_t)nframes * 16 != body - ftab_off || index_rlen > MAX_INDEX_RAW)
        return bad(err, errlen, "inconsistent footer");
    uLong crc = crc32(0, data + ftab_off, (uInt)((uint64_t)nframes * 16));
    crc = crc32(crc, f, 56);
    if ((uint32_t)crc != rd32(f + 56))
        return bad(err, errlen, "footer checksum mismatch");
    /* Each series takes at least 2 + 3*ncols index bytes: bounds the arrays below. */
    if ((uint64_t)nseries * (uint64_t)(2 + 3 * b->ncols) > index_rlen)
        return bad(err, errlen, "series count exceeds the index");
    b->frames = mem_calloc((size_t)nframes + 1, sizeof *b->frames);
    b->entries = mem_calloc((size_t)nseries + 1, sizeof *b->entries);
    b->refs = mem_calloc((size_t)nseries * (size_t)b->ncols + 1, sizeof *b->refs);
    ix = mem_alloc((size_t)index_rlen + 1);
    lv = mem_alloc(LABELS_MAX * sizeof *lv);
    if (!b->frames || !b->entries || !b->refs || !ix || !lv) {
        rc = -ENOMEM;
        goto out;
    }
    uint64_t prev_end = HEADER_LEN;
    for (uint32_t i = 0; i < nframes; i++) {
        const unsigned char *e = data + ftab_off + (uint64_t)i * 16;
        block_frame *fr = &b->frames[i];
        fr->off = varint_read_le64(e);
        fr->clen = rd32(e + 8);
        fr->rlen = rd32(e + 12);
        if (fr->off != prev_end || fr->clen > index_off - fr->off || fr->rlen > MAX_FRAME_RAW) {
            rc = bad(err, errlen, "bad frame table");
            goto out;
        }
        prev_end = fr->off + fr->clen;
    }
    if (prev_end != index_off) {
        rc = bad(err, errlen, "frames do not end at the index");
        goto out;
    }
    b->nframes = nframes;
    size_t got = ZSTD_decompress(ix, index_rlen, data + index_off, index_clen);
    if (ZSTD_isError(got) || got != index_rlen) {
        rc = bad(err, errlen, "index does not decompress (damaged)");
        goto out;
    }
    const unsigned char *p = ix, *end = ix + index_rlen;
    /* Label strings need NUL termination for the callback: copy each series' labels into a
     * scratch buffer. */
    buf scratch;
    buf_init(&scratch, 0);
    for (uint32_t s = 0; s < nseries; s++) {
        uint64_t nl;
        if (varint_get(&p, end, &nl) || nl > LABELS_MAX) {
            rc = bad(err, errlen, "bad label count in index");
            break;
        }
        buf_reset(&scratch);
        size_t offs[2 * LABELS_MAX];
        for (uint64_t i = 0; i < nl && !rc; i++) {
            for (int k = 0; k < 2; k++) {
                const unsigned char *str;
                size_t sl;
                if (varint_get_bytes(&p, end, &str, &sl) || memchr(str, 0, sl)) {
                    rc = bad(err, errlen, "bad label string in index");
                    break;
                }
                offs[2 * i + (uint64_t)k] = scratch.len;
                buf_append(&scratch, str, sl);
                buf_putc(&scratch, 0);
            }
        }
        if (rc)
            break;
        if (scratch.err) {
            rc = scratch.err;
            break;
        }
        for (uint64_t i = 0; i < nl; i++) {
            lv[i].name = scratch.data + offs[2 * i];
            lv[i].value = scratch.data + offs[2 * i + 1];
        }
        block_entry *e = &b->entries[s];
        int64_t dm;
        uint64_t span;
        if (varint_get_signed(&p, end, &dm) || varint_get(&p, end, &span) ||
            span > (uint64_t)INT64_MAX) {
            rc = bad(err, errlen, "bad series times in index");
            break;
        }
        e->mint = (int64_t)((uint64_t)b->mint + (uint64_t)dm);
        e->maxt = (int64_t)((uint64_t)e->mint + span);
        e->index = s;
        e->ref = s * (uint32_t)b->ncols;
        for (int c = 0; c < b->ncols && !rc; c++) {
            uint64_t fr, off, l;
            if (varint_get(&p, end, &fr) || varint_get(&p, end, &off) ||
                varint_get(&p, end, &l) || (l && fr >= nframes) ||
                (l && (off > b->frames[fr].rlen || l > b->frames[fr].rlen - off))) {
                rc = bad(err, errlen, "bad chunk reference in index");
                break;
            }
            block_ref *r = &b->refs[e->ref + (uint32_t)c];
            r->frame = (uint32_t)fr;
            r->off = (uint32_t)off;
            r->len = (uint32_t)l;
        }
        if (rc)
            break;
        labels ls = {lv, (size_t)nl};
        if ((rc = fn(ctx, &ls, &e->gid)) < 0) {
            snprintf(err, errlen, "series callback failed");
            break;
        }
        rc = 0;
        b->nentries++;
    }
    buf_free(&scratch);
    if (!rc && p != end)
        rc = bad(err, errlen, "trailing bytes in index");
    if (!rc && b->nentries > 1)
        qsort(b->entries, b->nentries, sizeof *b->entries, entry_gid_cmp);
out:
    mem_free(ix);
    mem_free(lv);
    if (rc)
        block_parse_free(b);
    return rc;
}

void block_parse_free(block *b)
{
    mem_free(b->entries);
    mem_free(b->refs);
    mem_free(b->frames);
    b->entries = NULL;
    b->refs = NULL;
    b->frames = NULL;
    b->nentries = b->nframes = 0;
}

int block_open(block **out, const char *path, block_series_fn fn, void *ctx, char *err,
               size_t errlen)
{
    int rc = 0;
    block *b = mem_calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "%s", strerror(errno));
        goto fail;
    }
    struct stat st;
    if (fstat(fd, &st)) {
        rc = -errno;
        snprintf(err, errlen, "%s", strerror(errno));
        goto fail;
    }
    b->size = (size_t)st.st_size;
    if (b->size < HEADER_LEN + FOOTER_LEN) {
        rc = bad(err, errlen, "truncated block file");
        goto fail;
    }
    void *m = mmap(NULL, b->size, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        rc = -errno;
        snprintf(err, errlen, "mmap: %s", strerror(errno));
        goto fail;
    }
    b->map = m;
    close(fd);
    fd = -1;
    b->path = mem_strdup(path);
    if (!b->path) {
        rc = -ENOMEM;
        goto fail;
    }
    if ((rc = block_parse(b, b->map, b->size, fn, ctx, err, errlen)))
        goto fail;
    b->id = __atomic_fetch_add(&next_block_id, 1, __ATOMIC_RELAXED);
    *out = b;
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    block_close(b);
    return rc;
}

void block_close(block *b)
{
    if (!b)
        return;
    block_parse_free(b);
    if (b->map)
        munmap((void *)b->map, b->size);
    mem_free(b->path);
    mem_free(b);
}

/* ---- frame cache ----------------------------------------------------------------------------
 * A hash table of (block id, frame) -> decompressed bytes with an LRU list, under one mutex.
 * Readers copy a hit into their cursor, so an entry can be evicted while they use the copy. */

typedef struct cframe {
    uint64_t id;
    uint32_t frame;
    size_t len;
    struct cframe *hnext;            /* hash chain */
    struct cframe *prev, *next;      /* LRU: head = most recent */
    unsigned char data[];
} cframe;

struct block_cache {
    pthread_mutex_t mu;
    cframe **tab;
    size_t ntab;
    cframe *head, *tail;
    size_t bytes, max;
    uint64_t hits, misses;
};

block_cache *block_cache_new(size_t max_bytes)
{
    if (!max_bytes)
        return NULL;
    block_cache *c = mem_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->ntab = 4096;
    c->tab = mem_calloc(c->ntab, sizeof *c->tab);
    if (!c->tab) {
        mem_free(c);
        return NULL;
    }
    c->max = max_bytes;
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

static size_t cslot(const block_cache *c, uint64_t id, uint32_t frame)
{
    uint64_t h = (id * 0x9E3779B97F4A7C15ULL) ^ (frame * 0xC2B2AE3D27D4EB4FULL);
    return (size_t)(h >> 17) & (c->ntab - 1);
}

static void lru_unlink(block_cache *c, cframe *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        c->head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else
        c->tail = f->prev;
    f->prev = f->next = NULL;
}

static void lru_push(block_cache *c, cframe *f)
{
    f->prev = NULL;
    f->next = c->head;
    if (c->head)
        c->head->prev = f;
    c->head = f;
    if (!c->tail)
        c->tail = f;
}

static void cache_remove(block_cache *c, cframe *f)
{
    cframe **pp = &c->tab[cslot(c, f->id, f->frame)];
    while (*pp && *pp != f)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = f->hnext;
    lru_unlink(c, f);
    c->bytes -= f->len;
    mem_free(f);
}

void block_cache_free(block_cache *c)
{
    if (!c)
        return;
    while (c->head)
        cache_remove(c, c->head);
    mem_free(c->tab);
    pthread_mutex_destroy(&c->mu);
    mem_free(c);
}

void block_cache_drop(block_cache *c, uint64_t id)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    for (cframe *f = c->head, *n; f; f = n) {
        n = f->next;
        if (f->id == id)
            cache_remove(c, f);
    }
    pthread_mutex_unlock(&c->mu);
}

void block_cache_stats(block_cache *c, uint64_t *hits, uint64_t *misses, size_t *bytes)
{
    *hits = *misses = 0;
    *bytes = 0;
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    *hits = c->hits;
    *misses = c->misses;
    *bytes = c->bytes;
    pthread_mutex_unlock(&c->mu);
}

/* Copies a cached frame into dst (capacity cap, grown as needed). Returns 1 on a hit. */
static int cache_get(block_cache *c, uint64_t id, uint32_t frame, unsigned char **dst,
                     size_t *cap, size_t *len)
{
    int hit = 0;
    pthread_mutex_lock(&c->mu);
    cframe *f = c->tab[cslot(c, id, frame)];
    while (f && (f->id != id || f->frame != frame))
        f = f->hnext;
    if (f && f->len > *cap) {
        unsigned char *nd = mem_realloc(*dst, f->len);
        if (nd) {
            *dst = nd;
            *cap = f->len;
        }
    }
    if (f && f->len <= *cap && (f->len == 0 || *dst)) {
        if (f->len)
            memcpy(*dst, f->data, f->len);
        *len = f->len;
        lru_unlink(c, f);
        lru_push(c, f);
        hit = 1;
    }
    if (hit)
        c->hits++;
    else
        c->misses++;
    pthread_mutex_unlock(&c->mu);
    return hit;
}

static void cache_put(block_cache *c, uint64_t id, uint32_t frame, const unsigned char *data,
                      size_t len)
{
    if (len > c->max / 8)
        return;
    cframe *f = mem_alloc(sizeof *f + len);
    if (!f)
        return;
    f->id = id;
    f->frame = frame;
    f->len = len;
    memcpy(f->data, data, len);
    pthread_mutex_lock(&c->mu);
    cframe *o = c->tab[cslot(c, id, frame)];
    while (o && (o->id != id || o->frame != frame))
        o = o->hnext;
    if (o) { /* another reader put it meanwhile */
        pthread_mutex_unlock(&c->mu);
        mem_free(f);
        return;
    }
    size_t s = cslot(c, id, frame);
    f->hnext = c->tab[s];
    c->tab[s] = f;
    lru_push(c, f);
    c->bytes += len;
    while (c->bytes > c->max && c->tail)
        cache_remove(c, c->tail);
    pthread_mutex_unlock(&c->mu);
}

const block_entry *block_find(const block *b, uint32_t gid)
{
    size_t lo = 0, hi = b->nentries;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (b->entries[mid].gid < gid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < b->nentries && b->entries[lo].gid == gid ? &b->entries[lo] : NULL;
}

int block_chunk(block_cursor *c, const block *b, const block_entry *e, int col,
                const uint8_t **data, size_t *len)
{
    const block_ref *r = &b->refs[e->ref + (uint32_t)col];
    if (!r->len) {
        *data = NULL;
        *len = 0;
        return 0;
    }
    if ((c->b != b || c->frame != r->frame || !c->data) && c->cache &&
        cache_get(c->cache, b->id, r->frame, &c->data, &c->cap, &c->len)) {
        c->b = b;
        c->frame = r->frame;
    }
    if (c->b != b || c->frame != r->frame || !c->data) {
        const block_frame *f = &b->frames[r->frame];
        if (f->rlen > c->cap) {
            unsigned char *nd = mem_realloc(c->data, f->rlen ? f->rlen : 1);
            if (!nd)
                return -ENOMEM;
            c->data = nd;
            c->cap = f->rlen;
        }
        size_t got = ZSTD_decompress(c->data, c->cap, b->map + f->off, f->clen);
        if (ZSTD_isError(got) || got != f->rlen) {
            c->b = NULL;
            log_error("block %s: frame %u is damaged (%s)", b->path ? b->path : "?", r->frame,
                      ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short");
            return -EINVAL;
        }
        c->b = b;
        c->frame = r->frame;
        c->len = got;
        if (c->cache)
            cache_put(c->cache, b->id, r->frame, c->data, got);
    }
    *data = c->data + r->off;
    *len = r->len;
    return 0;
}

void block_cursor_free(block_cursor *c)
{
    mem_free(c->data);
    memset(c, 0, sizeof *c);
}
