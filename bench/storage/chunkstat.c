/* chunkstat: bytes per sample of the chunk encodings on a captured node-exporter scrape series.
 *
 * Reads a capture (bench/storage/capture/README.md: "unix_ms<TAB>series<TAB>value" lines, plain
 * or zstd-compressed), groups it by series in label order, cuts each series into chunks of 120
 * and of 1000 samples, at the captured interval and subsampled to every 10th scrape, and prints
 * for each encoding the bytes per sample of the chunks alone and of all chunks concatenated in
 * label order and compressed with zstd (levels 3 and 19), as the block files will store them.
 * Encodings: raw (16 bytes a sample), Gorilla (Prometheus's XOR chunk, as the baseline), and
 * dashdot's chunk codec in the open layout (the head) and in the sealed layout (block files).
 * It also times encoding and decoding in ns per sample.
 *
 * usage: chunkstat [-top N] [capture-file]   (default
 * bench/storage/capture/node-exporter-1s.txt.zst) -top N lists the N series that cost the most
 * instead. */
#include "lib/mem.h"
#include "tsdb/chunk.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

typedef struct rec {
    uint32_t series; /* index into names, sorted */
    int64_t t;
    double v;
} rec;

typedef struct series {
    const char *name;
    int64_t *t;
    double *v;
    uint32_t n;
} series;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void die(const char *msg)
{
    fprintf(stderr, "chunkstat: %s\n", msg);
    exit(1);
}

/* Reads the whole file, decompressing it if it is a zstd frame. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot open the capture (see bench/storage/capture/README.md)");
    size_t cap = 1 << 20, n = 0;
    char *b = mem_alloc(cap);
    size_t r;
    while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            b = mem_realloc(b, cap);
        }
    }
    fclose(f);
    if (!b)
        die("out of memory");
    if (n >= 4 && (uint8_t)b[0] == 0x28 && (uint8_t)b[1] == 0xb5 && (uint8_t)b[2] == 0x2f &&
        (uint8_t)b[3] == 0xfd) {
        ZSTD_DStream *ds = ZSTD_createDStream();
        size_t ocap = 64 << 20, on = 0;
        char *o = mem_alloc(ocap);
        ZSTD_inBuffer in = {b, n, 0};
        while (o && in.pos < in.size) {
            if (on == ocap) {
                ocap *= 2;
                o = mem_realloc(o, ocap);
                if (!o)
                    break;
            }
            ZSTD_outBuffer out = {o, ocap, on};
            size_t rc = ZSTD_decompressStream(ds, &out, &in);
            if (ZSTD_isError(rc))
                die("corrupt zstd capture");
            on = out.pos;
        }
        ZSTD_freeDStream(ds);
        mem_free(b);
        if (!o)
            die("out of memory");
        b = o;
        n = on;
    }
    b = mem_realloc(b, n + 1);
    if (!b)
        die("out of memory");
    b[n] = 0;
    *len = n;
    return b;
}

/* What load() allocated, for unload(). */
static char *cap_text, **cap_names;
static int64_t *cap_ts;
static double *cap_vs;

static void unload(series *s)
{
    mem_free(s);
    mem_free(cap_text);
    mem_free(cap_names);
    mem_free(cap_ts);
    mem_free(cap_vs);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_rec(const void *a, const void *b)
{
    const rec *x = a, *y = b;
    if (x->series != y->series)
        return x->series < y->series ? -1 : 1;
    return (x->t > y->t) - (x->t < y->t);
}

/* Parses the capture into series sorted by name, samples sorted by time. */
static series *load(const char *path, uint32_t *nseries, size_t *nsamples)
{
    size_t len;
    char *text = slurp(path, &len);
    size_t nlines = 0;
    for (size_t i = 0; i < len; i++)
        nlines += text[i] == '\n';
    char **names = mem_calloc(nlines + 1, sizeof *names);
    rec *recs = mem_calloc(nlines + 1, sizeof *recs);
    char **nameof = mem_calloc(nlines + 1, sizeof *nameof);
    if (!names || !recs || !nameof)
        die("out of memory");
    size_t n = 0;
    char *p = text, *endt = text + len;
    while (p < endt) {
        char *eol = memchr(p, '\n', (size_t)(endt - p));
        if (!eol)
            eol = endt;
        *eol = 0;
        char *t1 = strchr(p, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (*p != '#' && t1 && t2) {
            *t1 = 0;
            *t2 = 0;
            char *end;
            errno = 0;
            long long t = strtoll(p, &end, 10);
            if (errno || *end)
                die("bad timestamp in capture");
            double v = strtod(t2 + 1, &end);
            if (*end)
                die("bad value in capture");
            recs[n] = (rec){0, t, v};
            nameof[n] = t1 + 1;
            n++;
        }
        p = eol + 1;
    }
    /* Intern the names: sort a copy, dedupe, then binary-search each record's name. */
    memcpy(names, nameof, n * sizeof *names);
    qsort(names, n, sizeof *names, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || strcmp(names[u - 1], names[i]) != 0)
            names[u++] = names[i];
    for (size_t i = 0; i < n; i++) {
        char **f = bsearch(&nameof[i], names, u, sizeof *names, cmp_str);
        recs[i].series = (uint32_t)(f - names);
    }
    qsort(recs, n, sizeof *recs, cmp_rec);
    series *s = mem_calloc(u, sizeof *s);
    int64_t *ts = mem_alloc((n + 1) * sizeof *ts);
    double *vs = mem_alloc((n + 1) * sizeof *vs);
    if (!s || !ts || !vs)
        die("out of memory");
    for (size_t i = 0; i < u; i++) {
        s[i].name = names[i];
    }
    for (size_t i = 0; i < n; i++) {
        series *x = &s[recs[i].series];
        if (!x->t) {
            x->t = ts + i;
            x->v = vs + i;
        }
        /* duplicate timestamps (should not happen) are dropped */
        if (x->n && x->t[x->n - 1] >= recs[i].t)
            continue;
        x->t[x->n] = recs[i].t;
        x->v[x->n] = recs[i].v;
        x->n++;
    }
    mem_free(recs);
    mem_free(nameof);
    cap_text = text;
    cap_names = names;
    cap_ts = ts;
    cap_vs = vs;
    *nseries = (uint32_t)u;
    *nsamples = n;
    return s;
}

/* ---- Gorilla (Prometheus XOR chunk) baseline ------------------------------------------------- */

typedef struct bw {
    uint8_t *b;
    size_t n; /* bits */
    size_t cap;
} bw;

static void bw_put(bw *w, uint64_t v, unsigned n)
{
    while (n) {
        if ((w->n >> 3) + 1 >= w->cap) {
            w->cap = w->cap ? w->cap * 2 : 256;
            w->b = mem_realloc(w->b, w->cap);
            if (!w->b)
                die("out of memory");
        }
        unsigned off = w->n & 7, room = 8 - off, take = n < room ? n : room;
        unsigned bits = (unsigned)(v >> (n - take)) & ((1u << take) - 1);
        if (off == 0)
            w->b[w->n >> 3] = 0;
        w->b[w->n >> 3] |= (uint8_t)(bits << (room - take));
        w->n += take;
        n -= take;
    }
}

static void bw_varint(bw *w, uint64_t x)
{
    while (x >= 0x80) {
        bw_put(w, (x & 0x7f) | 0x80, 8);
        x >>= 7;
    }
    bw_put(w, x, 8);
}

/* Encodes one chunk the way Prometheus's XORChunk does: 2-byte count, first t varint, first
 * value 64 bits, first delta uvarint, then dod buckets 0/14/17/20/64 bits and Gorilla XOR. */
static size_t gorilla_chunk(bw *w, const int64_t *t, const double *v, uint32_t n)
{
    size_t start = w->n;
    bw_put(w, n, 16);
    uint64_t zt = ((uint64_t)t[0] << 1) ^ (0 - ((uint64_t)t[0] >> 63));
    bw_varint(w, zt);
    uint64_t pv;
    memcpy(&pv, &v[0], 8);
    bw_put(w, pv, 64);
    int64_t dt = 0;
    unsigned lead = 0xff, trail = 0;
    for (uint32_t i = 1; i < n; i++) {
        int64_t d = t[i] - t[i - 1];
        if (i == 1) {
            bw_varint(w, (uint64_t)d);
        } else {
            int64_t dod = d - dt;
            if (dod == 0)
                bw_put(w, 0, 1);
            else if (dod >= -8191 && dod <= 8192)
                bw_put(w, 2, 2), bw_put(w, (uint64_t)dod & 0x3fff, 14);
            else if (dod >= -65535 && dod <= 65536)
                bw_put(w, 6, 3), bw_put(w, (uint64_t)dod & 0x1ffff, 17);
            else if (dod >= -524287 && dod <= 524288)
                bw_put(w, 14, 4), bw_put(w, (uint64_t)dod & 0xfffff, 20);
            else
                bw_put(w, 15, 4), bw_put(w, (uint64_t)dod, 64);
        }
        dt = d;
        uint64_t vb;
        memcpy(&vb, &v[i], 8);
        uint64_t x = vb ^ pv;
        if (x == 0) {
            bw_put(w, 0, 1);
        } else {
            unsigned l = (unsigned)__builtin_clzll(x), tr = (unsigned)__builtin_ctzll(x);
            if (l > 31)
                l = 31;
            if (lead != 0xff && l >= lead && tr >= trail) {
                bw_put(w, 2, 2);
                bw_put(w, x >> trail, 64 - lead - trail);
            } else {
                lead = l;
                trail = tr;
                unsigned sig = 64 - l - tr;
                bw_put(w, 3, 2);
                bw_put(w, l, 5);
                bw_put(w, sig & 63, 6);
                bw_put(w, x >> tr, sig);
            }
        }
        pv = vb;
    }
    /* pad to a byte, as each chunk is stored on its own */
    if (w->n & 7)
        bw_put(w, 0, 8 - (w->n & 7));
    return (w->n - start) / 8;
}

/* ---- the table ------------------------------------------------------------------------------- */

enum { ENC_RAW, ENC_GORILLA, ENC_OPEN, ENC_SEALED, NENC };
static const char *enc_name[NENC] = {"raw 16 B", "gorilla (prometheus xor)", "dashdot open (head)",
                                     "dashdot sealed (block)"};

#ifdef CHUNK_STATS
/* Code statistics of chunk.c (built with -DCHUNK_STATS), for the open layout's first pass. */
extern uint64_t chunk_stats[2][8];
static uint64_t stats_snap[2][8];
static size_t stats_samples;

static void print_stats(void)
{
    static const char *nm[] = {"timestamp", "repeat", "dod", "delta", "unit", "xor"};
    for (int k = 0; k < 6; k++)
        printf("    %-9s %9llu codes %6.3f bits/sample (%.2f bits each)\n", nm[k],
               (unsigned long long)stats_snap[0][k],
               (double)stats_snap[1][k] / (double)stats_samples,
               stats_snap[0][k] ? (double)stats_snap[1][k] / (double)stats_snap[0][k] : 0.0);
    printf("\n");
}
#endif

typedef struct result {
    size_t samples, chunks;
    size_t bytes;
    size_t z3, z19;
    double enc_ns, dec_ns;
} result;

static size_t zsize(const uint8_t *b, size_t n, int level)
{
    size_t cap = ZSTD_compressBound(n);
    void *o = mem_alloc(cap);
    if (!o)
        die("out of memory");
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
    size_t r = ZSTD_compress2(c, o, cap, b, n);
    ZSTD_freeCCtx(c);
    mem_free(o);
    if (ZSTD_isError(r))
        die("zstd failed");
    return r;
}

/* A series' samples at the given stride (every `step`th sample). */
typedef struct view {
    int64_t *t;
    double *v;
    uint32_t n;
} view;

static void run(series *s, uint32_t ns, unsigned step, uint32_t chunk_len, int enc, result *res)
{
    bw all = {0};
    memset(res, 0, sizeof *res);
    int64_t *tt = NULL;
    double *vv = NULL;
    uint32_t maxn = 0;
    for (uint32_t i = 0; i < ns; i++)
        maxn = s[i].n > maxn ? s[i].n : maxn;
    tt = mem_alloc((maxn + 1) * sizeof *tt);
    vv = mem_alloc((maxn + 1) * sizeof *vv);
    int64_t *dt = mem_alloc((maxn + 1) * sizeof *dt);
    double *dv = mem_alloc((maxn + 1) * sizeof *dv);
    if (!tt || !vv || !dt || !dv)
        die("out of memory");
    /* Stored chunks, for the decode timing. */
    size_t nstore = 0, capstore = 1024;
    uint8_t **store = mem_alloc(capstore * sizeof *store);
    size_t *storelen = mem_alloc(capstore * sizeof *storelen);
    double enc_t = 0;
#ifdef CHUNK_STATS
    memset(chunk_stats, 0, sizeof chunk_stats);
#endif
    for (uint32_t i = 0; i < ns; i++) {
        uint32_t n = 0;
        for (uint32_t j = 0; j < s[i].n; j += step) {
            tt[n] = s[i].t[j];
            vv[n] = s[i].v[j];
            n++;
        }
        for (uint32_t c0 = 0; c0 < n; c0 += chunk_len) {
            uint32_t m = n - c0 < chunk_len ? n - c0 : chunk_len;
            res->samples += m;
            res->chunks++;
            if (enc == ENC_RAW) {
                for (uint32_t k = 0; k < m; k++) {
                    bw_put(&all, (uint64_t)tt[c0 + k], 64);
                    uint64_t b;
                    memcpy(&b, &vv[c0 + k], 8);
                    bw_put(&all, b, 64);
                }
                continue;
            }
            if (enc == ENC_GORILLA) {
                gorilla_chunk(&all, tt + c0, vv + c0, m);
                continue;
            }
            chunk_app a;
            chunk_app_init(&a);
            double t0 = now_ns();
            for (uint32_t k = 0; k < m; k++)
                if (chunk_app_add(&a, tt[c0 + k], vv[c0 + k]) != 0)
                    die("chunk_app_add failed");
            if (enc == ENC_SEALED)
                chunk_app_trim(&a);
            enc_t += now_ns() - t0;
            size_t len;
            const uint8_t *b = chunk_app_bytes(&a, &len);
            /* check the round trip, bit for bit */
            int got = chunk_decode_all(b, len, dt, dv, m);
            if (got != (int)m)
                die("decode failed");
            for (uint32_t k = 0; k < m; k++)
                if (dt[k] != tt[c0 + k] || memcmp(&dv[k], &vv[c0 + k], 8) != 0)
                    die("round trip mismatch");
            for (size_t k = 0; k < len; k++)
                bw_put(&all, b[k], 8);
            if (nstore == capstore) {
                capstore *= 2;
                store = mem_realloc(store, capstore * sizeof *store);
                storelen = mem_realloc(storelen, capstore * sizeof *storelen);
                if (!store || !storelen)
                    die("out of memory");
            }
            store[nstore] = mem_alloc(len);
            if (!store[nstore])
                die("out of memory");
            memcpy(store[nstore], b, len);
            storelen[nstore++] = len;
            chunk_app_free(&a);
        }
    }
#ifdef CHUNK_STATS
    if (enc == ENC_OPEN) {
        memcpy(stats_snap, chunk_stats, sizeof stats_snap);
        stats_samples = res->samples;
    }
#endif
    res->bytes = all.n / 8;
    res->z3 = zsize(all.b, res->bytes, 3);
    res->z19 = zsize(all.b, res->bytes, 19);
    if (enc == ENC_OPEN || enc == ENC_SEALED) {
        /* encode timing: best of 3 rounds over all chunks (the first pass above included
         * verification and page faults) */
        for (int round = 0; round < 3; round++) {
            double t0 = now_ns();
            for (uint32_t i = 0; i < ns; i++) {
                for (uint32_t c0 = 0; c0 < s[i].n; c0 += chunk_len * step) {
                    chunk_app a;
                    chunk_app_init(&a);
                    for (uint32_t j = c0; j < s[i].n && j < c0 + chunk_len * step; j += step)
                        if (chunk_app_add(&a, s[i].t[j], s[i].v[j]) != 0)
                            die("chunk_app_add failed");
                    if (enc == ENC_SEALED)
                        chunk_app_trim(&a);
                    chunk_app_free(&a);
                }
            }
            double e = now_ns() - t0;
            enc_t = round == 0 || e < enc_t ? e : enc_t;
        }
        res->enc_ns = enc_t / (double)res->samples;
        /* decode every chunk a few times, keeping the best round */
        double best = 1e300;
        volatile double sink = 0;
        for (int round = 0; round < 5; round++) {
            double t0 = now_ns();
            for (size_t k = 0; k < nstore; k++) {
                chunk_it it;
                int64_t t;
                double v;
                chunk_it_init(&it, store[k], storelen[k]);
                while (chunk_it_next(&it, &t, &v) == 1)
                    sink += v;
            }
            double e = now_ns() - t0;
            best = e < best ? e : best;
        }
        (void)sink;
        res->dec_ns = best / (double)res->samples;
    }
    for (size_t k = 0; k < nstore; k++)
        mem_free(store[k]);
    mem_free(store);
    mem_free(storelen);
    mem_free(all.b);
    mem_free(tt);
    mem_free(vv);
    mem_free(dt);
    mem_free(dv);
}

typedef struct cost {
    size_t bytes;
    uint32_t i;
} cost;

static int cmp_cost(const void *a, const void *b)
{
    const cost *x = a, *y = b;
    return (x->bytes < y->bytes) - (x->bytes > y->bytes);
}

/* Prints the `top` series that cost the most in sealed 120-sample chunks at the given stride. */
static void print_top(series *s, uint32_t ns, unsigned step, unsigned top)
{
    cost *c = mem_calloc(ns, sizeof *c);
    if (!c)
        die("out of memory");
    size_t total = 0, samples = 0;
    for (uint32_t i = 0; i < ns; i++) {
        chunk_app a;
        chunk_app_init(&a);
        c[i].i = i;
        uint32_t m = 0;
        for (uint32_t j = 0; j < s[i].n; j += step) {
            if (chunk_app_add(&a, s[i].t[j], s[i].v[j]) != 0)
                die("chunk_app_add failed");
            if (++m == 120 || j + step >= s[i].n) {
                size_t len;
                chunk_app_trim(&a);
                chunk_app_bytes(&a, &len);
                c[i].bytes += len;
                chunk_app_free(&a);
                m = 0;
            }
        }
        total += c[i].bytes;
        samples += (s[i].n + step - 1) / step;
    }
    qsort(c, ns, sizeof *c, cmp_cost);
    printf("series costing most (sealed, 120-sample chunks, every %u. sample): %.3f B/sample "
           "overall\n",
           step, (double)total / (double)samples);
    for (unsigned k = 0; k < top && k < ns; k++) {
        series *x = &s[c[k].i];
        printf("  %6.1f%% %6.3f B/sample  %s  (last %.17g)\n",
               100.0 * (double)c[k].bytes / (double)total,
               (double)c[k].bytes / ((x->n + step - 1) / step), x->name, x->v[x->n - 1]);
    }
    mem_free(c);
}

int main(int argc, char **argv)
{
    const char *path = "bench/storage/capture/node-exporter-1s.txt.zst";
    unsigned top = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-top") == 0 && i + 1 < argc) {
            char *end;
            top = (unsigned)strtoul(argv[++i], &end, 10);
            if (*end)
                die("usage: chunkstat [-top N] [capture-file]");
        } else {
            path = argv[i];
        }
    }
    uint32_t ns;
    size_t nsamples;
    series *s = load(path, &ns, &nsamples);
    if (top) {
        print_top(s, ns, 1, top);
        print_top(s, ns, 10, top);
        unload(s);
        return 0;
    }
    int64_t span = 0;
    for (uint32_t i = 0; i < ns; i++)
        if (s[i].n > 1 && s[i].t[s[i].n - 1] - s[i].t[0] > span)
            span = s[i].t[s[i].n - 1] - s[i].t[0];
    printf("capture %s: %u series, %zu samples, %.1f min\n\n", path, ns, nsamples,
           (double)span / 60000.0);
    static const unsigned steps[] = {1, 10};
    static const uint32_t lens[] = {120, 1000};
    printf("%-26s %4s %5s %7s | %8s %8s %8s | %6s %6s\n", "encoding", "int", "chunk", "chunks",
           "B/sample", "zstd-3", "zstd-19", "enc ns", "dec ns");
    for (unsigned si = 0; si < 2; si++) {
        double ival = 0;
        for (uint32_t i = 0; i < ns && ival == 0; i++)
            if (s[i].n > 1)
                ival = (double)(s[i].t[s[i].n - 1] - s[i].t[0]) / (s[i].n - 1) / 1000.0;
        for (unsigned li = 0; li < 2; li++) {
            for (int e = 0; e < NENC; e++) {
                result r;
                run(s, ns, steps[si], lens[li], e, &r);
                double n = (double)r.samples;
                printf("%-26s %3.0fs %5u %7zu | %8.3f %8.3f %8.3f |", enc_name[e], ival * steps[si],
                       lens[li], r.chunks, (double)r.bytes / n, (double)r.z3 / n,
                       (double)r.z19 / n);
                if (e >= ENC_OPEN)
                    printf(" %6.1f %6.1f\n", r.enc_ns, r.dec_ns);
                else
                    printf(" %6s %6s\n", "-", "-");
            }
            printf("\n");
#ifdef CHUNK_STATS
            print_stats();
#endif
        }
    }
    unload(s);
    return 0;
}
