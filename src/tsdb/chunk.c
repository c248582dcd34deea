/* chunk: the chunk codec of the storage engine (delta-of-delta timestamps, decimal-aware values).
 *
 * A chunk holds the samples of one series over a stretch of time: at most 65535 of them, in
 * strictly increasing time order. The head keeps one open chunk per active series and appends to
 * it (chunk_app); when the engine closes a chunk it seals it (chunk_app_trim) and later writes it
 * into a block file, where many series' chunks, sorted by labels, are compressed together with
 * zstd in large frames. So the codec has two jobs: be small and cheap to append to in memory, and
 * leave bytes that zstd can still squeeze.
 *
 * ## Bytes
 *
 *   byte 0       format: 1 = open layout, 2 = sealed layout (anything else is rejected)
 *   bytes 1-2    n, the number of samples, little-endian (rewritten in place by each append)
 *   then, if n > 0:
 *   varint       t0, the first timestamp (ms), zigzag LEB128: 1-10 bytes (6 for today's dates)
 *   open:        one bit stream: V0 T1 V1 T2 V2 ... T(n-1) V(n-1)
 *   sealed:      varint L, then L bytes of the timestamp stream T1 ... T(n-1), then the value
 *                stream V0 ... V(n-1)
 *
 * Bit streams are written most significant bit first and padded with zero bits to a whole byte.
 * An empty chunk is the three bytes 01 00 00. The count sits at a fixed place so an append only
 * rewrites it; the reader needs nothing but the bytes. Sealing splits the interleaved codes into
 * the two streams by copying bit ranges (no re-encoding), so both layouts hold the same codes.
 * Why seal at all: series scraped together have identical timestamps, so in the sealed layout
 * their header and timestamp stream are byte-identical from one chunk to the next and zstd
 * stores them once as a match; interleaved with values at varying bit offsets they cost their
 * full price in every chunk. On the capture below that is 0.467 instead of 0.700 B/sample after
 * zstd -3 (timestamps are over half of the open layout's bits; after zstd they cost 0.002).
 *
 * ## Timestamps: T(i), i >= 1
 *
 * d = t(i) - t(i-1) (>= 1, computed modulo 2^64), predicted by a reference interval r, and the
 * residual e = d - r is zigzag-coded (0, -1, 1, -2, ... -> 0, 1, 2, 3, ...) in one of six buckets:
 *
 *   '0'              e = 0
 *   '10'    + 2 bits      '110'   + 5 bits      '1110' + 9 bits
 *   '11110' + 20 bits     '11111' + 64 bits
 *
 * r starts at 0 (so T1 carries the first interval in full) and after each sample becomes the
 * delta just seen, except that a delta within 20 ms of a multiple of 100 ms is rounded to it, and
 * a delta above 2^31-1 ms gives 0. Plain delta-of-delta (r = the last delta) codes the second
 * difference of the scrape jitter, e(i) - 2e(i-1) + e(i-2); rounding the reference to the nominal
 * interval (scrape intervals are round numbers, their jitter is not) codes e(i) - e(i-1), whose
 * spread is half as wide: 4.3 instead of 5.3 bits a sample (in Prometheus's buckets) on real 1 s
 * scrapes with a few ms of jitter, still 1 bit when the timestamps are exact, and the same as
 * delta-of-delta for irregular ones. The buckets were tuned on the same data: on its quiet first 9
 * minutes 0/4/8/14/32/64 (Prometheus's) costs 5.3 bits, 0/2/4/7/20/64 3.66, 0/2/5/9/20/64 3.74; on
 * all of it, whose later part has up to 200 ms of jitter from a busy machine, 6.6, 6.6 and 6.3. The
 * 20-bit bucket keeps the first interval of a chunk cheap up to 8 minutes.
 *
 * ## Values: V(i)
 *
 * The state is the previous value's bits p (+0.0 before the first), a unit (a decimal scale s and
 * a binary shift h: integers count units of 2^h / 10^s; 0 and 0 at first), the previous integer
 * delta u' (0 at first), the width w of the last integer payload (0), the XOR window of the last
 * XOR code (0 leading, 0 trailing zero bits) and the kind of the last code (repeat at first). There
 * are five kinds of code:
 *
 *   repeat          v = p (bit for bit); u' = 0
 *   dod    I        delta of delta:  u = u' + I
 *   delta  I        delta:           u = I
 *   unit   8b I     new unit, then a delta: the 8 bits are h << 4 | s (s <= 15), u = I
 *   xor    X        XOR with p, as in Gorilla: '0' + the bits inside the last window, or
 *                   '1' + 5 bits leading zeros + 6 bits length (0 means 64) + that many bits
 *
 * A prefix names the kind relative to the last one: '0' means the same kind again; '10', '110',
 * '1110' and '1111' name the other four in the order repeat, dod, delta, unit, xor (without the
 * last kind). A unit code counts as a delta for this (a delta or a delta of delta follows it).
 * Series settle into one kind (constant ones repeat, counters take deltas of deltas, noisy gauges
 * deltas), so most codes pay one bit of prefix; fixed prefixes ('0' repeat, '10' dod, '110' delta
 * ...) cost 6% more after zstd.
 *
 * For the three integer codes k = K(p) + u * 2^h and v = k / 10^s (one correctly rounded IEEE
 * division, k first rounded to a double); u' becomes u (or 0 if |u| >= 2^31, to keep the encoder
 * state small). K(p) = llrint(p * 10^s), or 0 when that is NaN or beyond +-9e18: only a predictor,
 * but the encoder and the decoder compute the same one. I, an integer payload, is zigzag-coded
 * with an adaptive width: '0' + w bits (the last width), or '1' + 6 bits f + f bits (f = 63
 * means 64), after which w = f; width 0 is allowed, so a run of zero delta-of-deltas (a steady
 * counter) costs 3 bits a sample.
 *
 * The encoder tries every code that reproduces v exactly and keeps the shortest. An integer code
 * is possible when k = K(v) at the current scale gives back v exactly (so -0.0, NaN payloads, the
 * stale marker 0x7ff0000000000002, infinities and values with too many digits fall to XOR or
 * repeat, and round-trip bit-exactly) and the delta is a multiple of 2^h. A new unit is tried when
 * v is not exact at the current scale, when it may be exact at a smaller one, or when the delta
 * has more trailing zero bits than the shift: the smallest exact scale, and the shift both v's
 * and p's integers allow. Why these codes, for what monitoring data is:
 *   - gauges that rarely change and most counters of an idle host repeat: 1 bit;
 *   - integer counters grow by small, similar steps: the delta of delta is small;
 *   - decimal gauges and float counters (0.25, 12.7, cpu seconds 1234.56, durations in ns like
 *     0.000283125) are integers at a decimal scale, exact by construction: the exposition text
 *     was decimal, and the nearest double to k/10^s is what both the exporter's parser and our
 *     division produce;
 *   - byte gauges (meminfo's kB * 1024, Go's heap in pages) are multiples of 2^10 or more: the
 *     shift drops those zero bits;
 *   - anything else (random doubles) costs what Gorilla costs, plus up to 3 bits.
 * A chunk therefore never needs a per-chunk mode decided in advance, and an open chunk can always
 * take the next sample.
 *
 * ## Memory
 *
 * chunk_app is 48 bytes (the last timestamp and value, the two 31-bit predictors, the unit, the
 * width, the XOR window, bit length and capacity; the count and t0 live in the bytes). The buffer
 * grows 16, 32, 64, then by 25%, and each append first encodes into a small local array, then
 * grows, then copies, so a failed allocation leaves the chunk untouched.
 *
 * ## Measurements (bench/storage/chunkstat on bench/storage/capture: real node-exporter data)
 *
 * 26 minutes of node-exporter 1.5.0 scraped every second (507 series, two thirds of them constant,
 * 790920 samples); "10s" takes every 10th scrape. B/sample of the chunks alone, and of all chunks
 * concatenated in label order and compressed with zstd as the block files will store them;
 * ns/sample to encode (open: appends; sealed: appends and sealing) and decode, gcc -O2, one core
 * of a busy 2-core VM:
 *
 *   encoding          int chunk | B/sample  zstd-3 zstd-19 | enc ns dec ns
 *   raw 16 B           1s   120 |   16.000   2.052   0.905 |
 *   Gorilla (XOR)      1s   120 |    3.054   1.443   1.397 |
 *   dashdot open       1s   120 |    1.431   0.700   0.686 |   42     15
 *   dashdot sealed     1s   120 |    1.443   0.467   0.458 |   97     15
 *   Gorilla (XOR)      1s  1000 |    2.983   1.432   1.386 |
 *   dashdot open       1s  1000 |    1.340   0.685   0.672 |   44     16
 *   dashdot sealed     1s  1000 |    1.343   0.448   0.442 |   97     17
 *   raw 16 B          10s   120 |   16.000   2.249   1.406 |
 *   Gorilla (XOR)     10s   120 |    3.422   1.752   1.713 |
 *   dashdot open      10s   120 |    1.688   0.887   0.872 |   53     17
 *   dashdot sealed    10s   120 |    1.704   0.606   0.597 |   99     15
 *   Gorilla (XOR)     10s  1000 |    3.341   1.740   1.705 |
 *   dashdot open      10s  1000 |    1.609   0.874   0.860 |   46     13
 *   dashdot sealed    10s  1000 |    1.622   0.591   0.584 |  136     14
 *
 * VictoriaMetrics 1.79.5 (Debian) on the same samples (bench/storage/capture/vm-compare.sh:
 * import, force merge, data part sizes without the index): 0.476 B/sample at 1 s and 0.736 at
 * 10 s when the merge put the data into a big part (its best, seen in some runs), 1.0-1.25 and
 * 1.87-1.92 when it stayed in small parts. So sealed chunks in zstd frames take less than
 * VictoriaMetrics at its best (4-7% less at 1 s, 19-21% at 10 s), and they keep every value
 * bit-exact, which VictoriaMetrics does not (it returned node_time_seconds 1795472556.7542322 as
 * 1795472556.7542317). The head needs 1.3-1.7 B/sample, half of Gorilla. The data is harder than
 * a typical fleet's: the 0.3-0.4 B/sample VictoriaMetrics quotes is for production data, and at
 * 1 s a third of the value bits here are the random durations described next.
 *
 * How the design got here (first 8.8 minutes of the capture, 1 s, 120-sample chunks; bytes a
 * sample in the open layout / sealed after zstd -19):
 *
 *   Gorilla (Prometheus XOR chunk) ..................................... 2.814 / 1.263
 *   fixed prefixes '0' repeat, '10' dod, '110' delta, '1110' xor, '1111'
 *     unit, decimal scale only, bucketed
 *     integers (3/7/13/22/40/64 bits), Prometheus timestamp buckets ..... 1.430 / 0.509
 *   + timestamp reference rounded to 100 ms ............................ 1.307 / 0.508
 *   + adaptive integer width instead of buckets ........................ 1.234 / 0.478
 *   + timestamp buckets 0/2/4/7/20/64 .................................. 1.152 / 0.477
 *   + binary shift in the unit ......................................... 1.091 / 0.445
 *   + width 0 allowed .................................................. 1.089 / 0.445
 *   timestamp buckets 0/2/5/9/20/64 (for the noisier rest of the data) . 1.105 / 0.445
 *   + prefixes relative to the last kind ............................... 1.084 / 0.419
 *   keeping u' across repeats (before the relative prefixes) ........... 1.087 / 0.445 (dropped)
 * and what each part of the final design is worth (leaving it out of the last line):
 *   without decimal scales (integers and XOR only) ..................... 1.771 / 0.978
 *   without the binary shift ........................................... 1.146 / 0.452
 *   without the delta-of-delta code .................................... 1.100 / 0.426
 *   without the delta code ............................................. 1.098 / 0.430
 *
 * The largest remaining cost is noise: node_scrape_collector_duration_seconds (45 of 507
 * series) are random microsecond durations at nanosecond precision, about 17 bits of entropy
 * each. Where the bits go on the whole capture at 1 s in 120-sample chunks (chunkstat built with
 * -DCHUNK_STATS prints it), per sample: timestamps 6.3 bits in the open layout (nearly nothing
 * after sealing and zstd), repeats 0.79 (608204 codes, 1.03 bits each), delta of delta 1.39
 * (82403 codes, 13.3 bits each), delta 2.10 (95174 codes, 17.4 bits each), unit changes 0.21
 * (4678, mostly the first value of a chunk), XOR 0.04 (461).
 *
 * Decoding is a switch on a peeked prefix per code; the previous integer is cached, so an integer
 * code costs an add and one division (none at scale 0). It runs at 13-17 ns a sample (60-75 M
 * samples/s on one core), short of 200 M/s; a batch decoder with a fast path for runs of
 * repeats and zero residuals (a byte of zero bits is four constant samples) is the next step.
 */
#include "tsdb/chunk.h"

#include "lib/mem.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* Format bytes. */
#define FMT_OPEN 1   /* one interleaved bit stream: v0 t1 v1 t2 v2 ... */
#define FMT_SEALED 2 /* timestamp stream, then value stream, each byte-aligned */

/* Header: format byte, 16-bit count, then the first timestamp as a zigzag varint. */
#define HDR_COUNT_OFF 1

/* Bucket widths of the zigzag-coded timestamp residuals. Bucket i is chosen by a prefix of i
 * one-bits and a zero (the last bucket has no zero); the payload follows in tw[i] bits. */
static const uint8_t tw[6] = {0, 2, 5, 9, 20, 64};

/* Measurement hooks for bench/storage/chunkstat (compiled in only with -DCHUNK_STATS). */
#ifdef CHUNK_STATS
uint64_t chunk_stats[2][8]; /* codes, bits: timestamp, repeat, dod, delta, unit, xor */
#define STAT(i, b) (chunk_stats[0][i]++, chunk_stats[1][i] += (b))
#else
#define STAT(i, b) ((void)0)
#endif

/* Powers of ten exact in a double; the decimal scale of a chunk is at most 15. */
#define MAX_SCALE 15
static const double p10[MAX_SCALE + 1] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                          1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

/* ---- small helpers --------------------------------------------------------------------------- */

static inline uint64_t zig(int64_t x)
{
    return ((uint64_t)x << 1) ^ (0 - ((uint64_t)x >> 63));
}

static inline int64_t unzig(uint64_t z)
{
    return (int64_t)((z >> 1) ^ (0 - (z & 1)));
}

static inline uint64_t dbits(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static inline double bitsd(uint64_t b)
{
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

/* Keeps a delta as predictor state only when it fits in 31 bits, so the encoder state stays
 * small; encoder and decoder apply the same rule. */
static inline int32_t clamp31(uint64_t d)
{
    int64_t s = (int64_t)d;
    return (s >= -(int64_t)INT32_MAX && s <= INT32_MAX) ? (int32_t)s : 0;
}

/* The integer k that stands for the value with bits `b` at decimal scale s: round(v * 10^s), or
 * 0 when that is out of range (NaN, infinities, huge values). Only a predictor: any integer
 * works as long as encoder and decoder compute the same one, and they do (IEEE multiplication
 * and llrint in the default rounding mode are exact functions of their inputs). */
static inline int64_t kof(uint64_t b, unsigned s)
{
    double x = bitsd(b) * p10[s];
    if (!(x > -9.0e18 && x < 9.0e18))
        return 0;
    return (int64_t)llrint(x);
}

/* The value an integer stands for at scale s: k / 10^s, correctly rounded (one IEEE division of
 * two doubles; k itself is rounded to a double first, which is exact below 2^53). */
static inline uint64_t valof(int64_t k, unsigned s)
{
    double x = (double)k;
    if (s)
        x = x / p10[s];
    return dbits(x);
}

static unsigned varint_len(uint64_t x)
{
    unsigned n = 1;
    while (x >= 0x80) {
        x >>= 7;
        n++;
    }
    return n;
}

static unsigned varint_put(uint8_t *p, uint64_t x)
{
    unsigned n = 0;
    while (x >= 0x80) {
        p[n++] = (uint8_t)(x | 0x80);
        x >>= 7;
    }
    p[n++] = (uint8_t)x;
    return n;
}

/* Reads a varint from p[*i..len); returns 0 or -EINVAL. */
static int varint_get(const uint8_t *p, size_t len, size_t *i, uint64_t *out)
{
    uint64_t x = 0;
    for (unsigned sh = 0; sh < 64; sh += 7) {
        if (*i >= len)
            return -EINVAL;
        uint8_t c = p[(*i)++];
        x |= (uint64_t)(c & 0x7f) << sh;
        if (!(c & 0x80)) {
            if (sh == 63 && c > 1)
                return -EINVAL;
            *out = x;
            return 0;
        }
    }
    return -EINVAL;
}

/* ---- encoder: codes are first collected as pieces, then written in one go ------------------- */

typedef struct pieces {
    uint64_t v[12];
    uint8_t n[12];
    unsigned k;
    unsigned bits;
} pieces;

static inline void pc_put(pieces *p, uint64_t v, unsigned n)
{
    p->v[p->k] = v;
    p->n[p->k] = (uint8_t)n;
    p->k++;
    p->bits += n;
}

static inline unsigned bucket_of(const uint8_t *w, uint64_t z)
{
    unsigned i = 0;
    while (i < 5 && w[i] < 64 && z >> w[i])
        i++;
    return i;
}

static inline void put_bucket(pieces *p, const uint8_t *w, uint64_t z)
{
    unsigned i = bucket_of(w, z);
    if (i < 5)
        pc_put(p, ((1u << i) - 1) << 1, i + 1);
    else
        pc_put(p, 0x1f, 5);
    if (w[i])
        pc_put(p, z, w[i]);
}

/* Writes n (<= 64) bits of v at bit position *pos of b, most significant first. Bytes past the
 * end need not be zero: a byte is assigned when its first bit is written. */
static void put_bits(uint8_t *b, uint32_t *pos, uint64_t v, unsigned n)
{
    while (n) {
        unsigned off = *pos & 7, room = 8 - off, take = n < room ? n : room;
        unsigned bits = (unsigned)(v >> (n - take)) & ((1u << take) - 1);
        uint8_t *c = &b[*pos >> 3];
        if (off == 0)
            *c = (uint8_t)(bits << (room - take));
        else
            *c |= (uint8_t)(bits << (room - take));
        *pos += take;
        n -= take;
    }
}

/* The value code for v after state (pv, scale, dv, lead, trail); updates the state copies. */
typedef struct vstate {
    uint64_t pv;
    int32_t dv;
    uint8_t scale, lead, trail, w, last;
} vstate;

/* Integer payloads (zigzag) have an adaptive width: '0' + z in w bits (the last width used), or
 * '1' + 6 bits f + z in width f (f = 63 means 64 bits), which becomes the last width. The width
 * may be 0: a run of zeros (a steady counter's delta of delta) then costs one bit each. */
static inline unsigned ilen(uint64_t z)
{
    unsigned L = z ? 64u - (unsigned)__builtin_clzll(z) : 0u;
    return L == 63 ? 64 : L;
}

static inline unsigned int_cost(unsigned w, uint64_t z)
{
    unsigned L = ilen(z);
    return L <= w && w <= 6 + L ? 1 + w : 7 + L;
}

static inline void put_int(pieces *p, uint8_t *w, uint64_t z)
{
    unsigned L = ilen(z);
    if (L <= *w && *w <= 6 + L) {
        pc_put(p, 0, 1);
        if (*w)
            pc_put(p, z, *w);
        return;
    }
    pc_put(p, 1, 1);
    pc_put(p, L == 64 ? 63 : L, 6);
    if (L)
        pc_put(p, z, L);
    *w = (uint8_t)L;
}

/* The reference interval the next timestamp delta is predicted from: the last delta, rounded to
 * a multiple of 100 ms when it is within 20 ms of one (scrape intervals are round, their jitter
 * is not), so the residual is the difference of two jitters rather than a second difference. */
static inline int32_t tref(uint64_t d)
{
    int64_t c = clamp31(d);
    int64_t r = (c + 50) / 100 * 100;
    return (int32_t)(r > 0 && r <= INT32_MAX && c - r <= 20 && r - c <= 20 ? r : c);
}

/* Divides an exact multiple of 2^sh by 2^sh (sign-preserving, no implementation-defined shift). */
static inline uint64_t unshift(uint64_t d, unsigned sh)
{
    return sh ? (uint64_t)((int64_t)d / ((int64_t)1 << sh)) : d;
}

/* Value code kinds. The prefix of a value code names its kind relative to the kind of the last
 * code ("last"): '0' repeats the last kind; otherwise '1' is followed by the rank of the kind
 * among the other four, in the order of kind_order, as '0', '10', '110' or '111'. A unit code
 * counts as a delta for this purpose (what follows a unit change is a delta or delta of delta). */
enum { K_REPEAT, K_DOD, K_DELTA, K_UNIT, K_XOR, NKINDS };

static const uint8_t kind_of_rank[NKINDS][4] = {
    {K_DOD, K_DELTA, K_UNIT, K_XOR},    /* after a repeat */
    {K_REPEAT, K_DELTA, K_UNIT, K_XOR}, /* after a delta of delta */
    {K_REPEAT, K_DOD, K_UNIT, K_XOR},   /* after a delta or a unit */
    {K_REPEAT, K_DOD, K_DELTA, K_XOR},  /* (not used: a unit code leaves K_DELTA) */
    {K_REPEAT, K_DOD, K_DELTA, K_UNIT}, /* after an XOR */
};

static inline unsigned kind_last(unsigned kind)
{
    return kind == K_UNIT ? K_DELTA : kind;
}

/* The prefix of `kind` after `last`: bits in *code, length returned. */
static inline unsigned kind_prefix(unsigned last, unsigned kind, uint64_t *code)
{
    if (kind == last) {
        *code = 0;
        return 1;
    }
    unsigned r = 0;
    while (kind_of_rank[last][r] != kind)
        r++;
    if (r < 3) {
        *code = (((uint64_t)1 << (r + 1)) - 1) << 1; /* r + 1 ones, then a zero */
        return r + 2;
    }
    *code = 0xf;
    return 4;
}

/* Appends the code for value bits vb to p and advances the value state. The encoder tries every
 * code that can represent vb and keeps the shortest (ties: the earlier kind). */
static void encode_value(pieces *p, vstate *st, uint64_t vb)
{
    unsigned cost[NKINDS];
    uint64_t pre;
    for (unsigned k = 0; k < NKINDS; k++)
        cost[k] = ~0u;
    if (vb == st->pv)
        cost[K_REPEAT] = kind_prefix(st->last, K_REPEAT, &pre);
    unsigned s = st->scale & 15, sh = st->scale >> 4;
    uint64_t delta = 0, dd = 0, sdelta = 0;
    unsigned nscale = st->scale;
    unsigned reuse = 0, lead = 0, trail = 0;
    uint64_t x = vb ^ st->pv;

    if (vb != st->pv) {
        /* Integer codes at the current unit 2^sh / 10^s. */
        int64_t k = kof(vb, s);
        int exact = valof(k, s) == vb;
        uint64_t d = (uint64_t)k - (uint64_t)kof(st->pv, s);
        int fits = exact && (d & (((uint64_t)1 << sh) - 1)) == 0;
        if (fits) {
            delta = unshift(d, sh);
            dd = delta - (uint64_t)(int64_t)st->dv;
            cost[K_DOD] = kind_prefix(st->last, K_DOD, &pre) + int_cost(st->w, zig((int64_t)dd));
            cost[K_DELTA] =
                kind_prefix(st->last, K_DELTA, &pre) + int_cost(st->w, zig((int64_t)delta));
        }
        /* Another unit: when v is not exact at this scale, when it might be exact at a smaller
         * one (k a multiple of ten), or when the delta has more trailing zero bits than the
         * shift. */
        int tz = exact && d ? __builtin_ctzll(d) : 0;
        if (!fits || (s > 0 && k % 10 == 0) || tz > (int)sh + 1) {
            unsigned t = s;
            int64_t kt = k;
            if (!exact || (s > 0 && k % 10 == 0)) {
                for (t = 0; t <= MAX_SCALE; t++) {
                    kt = kof(vb, t);
                    if (valof(kt, t) == vb)
                        break;
                }
            }
            if (t <= MAX_SCALE) {
                int64_t pkt = kof(st->pv, t);
                unsigned nsh = 0;
                if (((uint64_t)kt | (uint64_t)pkt) != 0) {
                    nsh = (unsigned)__builtin_ctzll((uint64_t)kt | (uint64_t)pkt);
                    nsh = nsh > 15 ? 15 : nsh;
                }
                if ((t | nsh << 4) != st->scale) {
                    sdelta = unshift((uint64_t)kt - (uint64_t)pkt, nsh);
                    nscale = t | nsh << 4;
                    cost[K_UNIT] = kind_prefix(st->last, K_UNIT, &pre) + 8 +
                                   int_cost(st->w, zig((int64_t)sdelta));
                }
            }
        }
        /* XOR with the previous value (Gorilla), for everything else. */
        lead = (unsigned)__builtin_clzll(x);
        trail = (unsigned)__builtin_ctzll(x);
        if (lead > 31)
            lead = 31;
        reuse = lead >= st->lead && trail >= st->trail;
        cost[K_XOR] = kind_prefix(st->last, K_XOR, &pre) +
                      (reuse ? 1u + 64u - st->lead - st->trail : 12u + 64u - lead - trail);
    }
    unsigned kind = K_REPEAT;
    for (unsigned k = 1; k < NKINDS; k++)
        if (cost[k] < cost[kind])
            kind = k;
    STAT(1 + kind, cost[kind]);
    unsigned plen = kind_prefix(st->last, kind, &pre);
    pc_put(p, pre, plen);
    switch (kind) {
    case K_REPEAT:
        st->dv = 0;
        break;
    case K_DOD:
        put_int(p, &st->w, zig((int64_t)dd));
        st->dv = clamp31(delta);
        break;
    case K_DELTA:
        put_int(p, &st->w, zig((int64_t)delta));
        st->dv = clamp31(delta);
        break;
    case K_UNIT:
        pc_put(p, nscale, 8);
        put_int(p, &st->w, zig((int64_t)sdelta));
        st->dv = clamp31(sdelta);
        st->scale = (uint8_t)nscale;
        break;
    default:
        if (reuse) {
            pc_put(p, 0, 1);
            pc_put(p, x >> st->trail, 64 - st->lead - st->trail);
        } else {
            unsigned len = 64 - lead - trail;
            pc_put(p, 1, 1);
            pc_put(p, lead, 5);
            pc_put(p, len & 63, 6);
            pc_put(p, x >> trail, len);
            st->lead = (uint8_t)lead;
            st->trail = (uint8_t)trail;
        }
        st->dv = 0;
        break;
    }
    st->last = (uint8_t)kind_last(kind);
    st->pv = vb;
}

void chunk_app_init(chunk_app *a)
{
    memset(a, 0, sizeof *a);
}

uint32_t chunk_app_count(const chunk_app *a)
{
    return a->b ? (uint32_t)a->b[HDR_COUNT_OFF] | (uint32_t)a->b[HDR_COUNT_OFF + 1] << 8 : 0;
}

int64_t chunk_app_mint(const chunk_app *a)
{
    uint64_t z = 0;
    size_t i = 3;
    if (!a->b || varint_get(a->b, (a->nbits + 7) / 8, &i, &z) != 0)
        return 0;
    return unzig(z);
}

int64_t chunk_app_maxt(const chunk_app *a)
{
    return a->t;
}

double chunk_app_last(const chunk_app *a)
{
    return bitsd(a->v);
}

static const uint8_t empty_chunk[3] = {FMT_OPEN, 0, 0};

const uint8_t *chunk_app_bytes(const chunk_app *a, size_t *len)
{
    if (!a->b) {
        *len = sizeof empty_chunk;
        return empty_chunk;
    }
    *len = (a->nbits + 7) / 8;
    return a->b;
}

size_t chunk_app_memory(const chunk_app *a)
{
    return sizeof *a + a->cap;
}

void chunk_app_free(chunk_app *a)
{
    mem_free(a->b);
    chunk_app_init(a);
}

/* Makes room for `need` bytes: 16, 32, 64, then +25% steps. */
static int grow(chunk_app *a, size_t need)
{
    if (need <= a->cap)
        return 0;
    size_t cap = a->cap < 16 ? 16 : a->cap;
    while (cap < need)
        cap = cap < 64 ? cap * 2 : cap + cap / 4;
    uint8_t *nb = mem_realloc(a->b, cap);
    if (!nb)
        return -ENOMEM;
    a->b = nb;
    a->cap = (uint32_t)cap;
    return 0;
}

static int reopen(chunk_app *a);

int chunk_app_add(chunk_app *a, int64_t t, double v)
{
    uint32_t n = chunk_app_count(a);
    if (n >= CHUNK_MAX_SAMPLES || (n > 0 && t <= a->t))
        return -EINVAL;
    if (a->sealed) {
        int rc = reopen(a);
        if (rc != 0)
            return rc;
    }
    uint64_t vb = dbits(v);
    vstate st = {a->v, a->dv, a->scale, a->lead, a->trail, a->w, a->last};
    pieces p = {.k = 0, .bits = 0};
    uint8_t hdr[16];
    unsigned hlen = 0;
    int32_t ndt = n ? a->dt : 0;
    if (n == 0) {
        hdr[0] = FMT_OPEN;
        hdr[1] = 1;
        hdr[2] = 0;
        hlen = 3 + varint_put(hdr + 3, zig(t));
        st = (vstate){0, 0, 0, 0, 0, 0, K_REPEAT};
    } else {
        uint64_t delta = (uint64_t)t - (uint64_t)a->t;
        uint64_t dod = delta - (uint64_t)(int64_t)a->dt;
        put_bucket(&p, tw, zig((int64_t)dod));
        STAT(0, p.bits);
        ndt = tref(delta);
    }
    encode_value(&p, &st, vb);

    uint32_t pos = n == 0 ? 0 : a->nbits;
    size_t need = ((size_t)pos + hlen * 8u + p.bits + 7) / 8;
    int rc = grow(a, need);
    if (rc != 0)
        return rc;
    if (n == 0) {
        memcpy(a->b, hdr, hlen);
        pos = hlen * 8;
    }
    for (unsigned i = 0; i < p.k; i++)
        put_bits(a->b, &pos, p.v[i], p.n[i]);
    a->nbits = pos;
    a->t = t;
    a->v = vb;
    a->dt = ndt;
    a->dv = st.dv;
    a->scale = st.scale;
    a->lead = st.lead;
    a->trail = st.trail;
    a->w = st.w;
    a->last = st.last;
    n++;
    a->b[HDR_COUNT_OFF] = (uint8_t)n;
    a->b[HDR_COUNT_OFF + 1] = (uint8_t)(n >> 8);
    return 0;
}

/* ---- decoder --------------------------------------------------------------------------------- */

/* The next bits of the stream, left-aligned: at least 57 valid bits (zeros past the end). */
static inline uint64_t br_peek(const chunk_br *r)
{
    uint32_t i = r->pos >> 3, nbytes = (r->end + 7) >> 3;
    const uint8_t *q = r->p + i;
    uint64_t x;
    if (i + 8 <= nbytes) {
        x = (uint64_t)q[0] << 56 | (uint64_t)q[1] << 48 | (uint64_t)q[2] << 40 |
            (uint64_t)q[3] << 32 | (uint64_t)q[4] << 24 | (uint64_t)q[5] << 16 |
            (uint64_t)q[6] << 8 | (uint64_t)q[7];
    } else {
        x = 0;
        for (uint32_t j = 0; j < 8; j++)
            x = x << 8 | (i + j < nbytes ? q[j] : 0);
    }
    return x << (r->pos & 7);
}

/* Reads n <= 64 bits; returns 0 or -1 past the end. */
static inline int br_read(chunk_br *r, unsigned n, uint64_t *out)
{
    if (n > r->end - r->pos)
        return -1;
    if (n == 0) {
        *out = 0;
        return 0;
    }
    if (n <= 57) {
        *out = br_peek(r) >> (64 - n);
        r->pos += n;
        return 0;
    }
    uint64_t hi = br_peek(r) >> 32;
    r->pos += 32;
    uint64_t lo = br_peek(r) >> (64 - (n - 32));
    r->pos += n - 32;
    *out = hi << (n - 32) | lo;
    return 0;
}

/* Reads a bucket-coded zigzag integer. */
static inline int br_bucket(chunk_br *r, const uint8_t *w, uint64_t *z)
{
    uint64_t x = br_peek(r);
    unsigned ones = (unsigned)__builtin_clzll(~x | 1ULL << 58); /* at most 5 */
    unsigned pre = ones + (ones < 5), wi = w[ones];
    if (pre + wi <= 57) {
        if (pre + wi > r->end - r->pos)
            return -1;
        *z = wi ? (x << pre) >> (64 - wi) : 0;
        r->pos += pre + wi;
        return 0;
    }
    if (pre > r->end - r->pos)
        return -1;
    r->pos += pre;
    return br_read(r, wi, z);
}

int chunk_it_init(chunk_it *it, const uint8_t *b, size_t len)
{
    memset(it, 0, sizeof *it);
    if (!b || len < 3 || (b[0] != FMT_OPEN && b[0] != FMT_SEALED) || len > (1u << 28))
        return -EINVAL;
    it->count = (uint32_t)b[1] | (uint32_t)b[2] << 8;
    if (it->count == 0)
        return 0;
    size_t i = 3;
    uint64_t z;
    if (varint_get(b, len, &i, &z) != 0)
        goto bad;
    it->t0 = unzig(z);
    if (b[0] == FMT_SEALED) {
        uint64_t tlen;
        if (varint_get(b, len, &i, &tlen) != 0 || tlen > len - i)
            goto bad;
        it->rt = (chunk_br){b + i, 0, (uint32_t)tlen * 8};
        it->rv = (chunk_br){b + i + tlen, 0, (uint32_t)(len - i - tlen) * 8};
        it->split = 1;
        /* Each sample needs at least one value bit and, after the first, one timestamp bit. */
        if (it->count - 1 > it->rt.end || it->count > it->rv.end)
            goto bad;
    } else {
        it->rt = (chunk_br){b + i, 0, (uint32_t)(len - i) * 8};
        if ((uint64_t)it->count * 2 - 1 > it->rt.end)
            goto bad;
    }
    return 0;
bad:
    memset(it, 0, sizeof *it);
    return -EINVAL;
}

uint32_t chunk_it_count(const chunk_it *it)
{
    return it->count;
}

static inline int br_int(chunk_br *r, uint8_t *w, uint64_t *z)
{
    uint64_t f;
    if (br_read(r, 1, &f) != 0)
        return -1;
    if (f) {
        if (br_read(r, 6, &f) != 0)
            return -1;
        *w = (uint8_t)(f == 63 ? 64 : f);
    }
    return br_read(r, *w, z);
}

static int decode_value(chunk_it *it)
{
    chunk_br *r = it->split ? &it->rv : &it->rt;
    uint64_t x = br_peek(r);
    unsigned kind, pre;
    if (!(x >> 63)) {
        kind = it->last;
        pre = 1;
    } else {
        unsigned ones = (unsigned)__builtin_clzll(~(x << 1) | 1ULL << 60); /* at most 3 */
        kind = kind_of_rank[it->last][ones];
        pre = 1 + ones + (ones < 3);
    }
    if (pre > r->end - r->pos)
        return -1;
    r->pos += pre;
    it->last = (uint8_t)kind_last(kind);
    uint64_t z, delta;
    switch (kind) {
    case K_REPEAT:
        it->dv = 0;
        return 0;
    case K_DOD:
        if (br_int(r, &it->w, &z) != 0)
            return -1;
        delta = (uint64_t)it->dv + (uint64_t)unzig(z);
        break;
    case K_DELTA:
        if (br_int(r, &it->w, &z) != 0)
            return -1;
        delta = (uint64_t)unzig(z);
        break;
    case K_XOR: {
        uint64_t ctl, bits;
        if (br_read(r, 1, &ctl) != 0)
            return -1;
        if (ctl) {
            uint64_t lead, len;
            if (br_read(r, 5, &lead) != 0 || br_read(r, 6, &len) != 0)
                return -1;
            if (len == 0)
                len = 64;
            if (lead + len > 64)
                return -1;
            it->lead = (uint8_t)lead;
            it->trail = (uint8_t)(64 - lead - len);
        }
        if (br_read(r, 64u - it->lead - it->trail, &bits) != 0)
            return -1;
        it->v ^= bits << it->trail;
        it->dv = 0;
        it->kvalid = 0;
        return 0;
    }
    default: { /* K_UNIT: new unit, then delta */
        uint64_t s;
        if (br_read(r, 8, &s) != 0 || br_int(r, &it->w, &z) != 0)
            return -1;
        it->scale = (uint8_t)s;
        it->kvalid = 0;
        delta = (uint64_t)unzig(z);
        break;
    }
    }
    unsigned s = it->scale & 15, sh = it->scale >> 4;
    /* The previous value's integer: cached when it was itself integer-coded at this unit (the
     * encoder only integer-codes v when v = k / 10^s with k = kof(v, s), so the cache equals
     * what kof would compute and saves a multiplication and a rounding). */
    uint64_t pk = it->kvalid ? it->k : (uint64_t)kof(it->v, s);
    uint64_t k = pk + (delta << sh);
    it->v = valof((int64_t)k, s);
    it->k = k;
    it->kvalid = 1;
    it->dv = clamp31(delta);
    return 0;
}

/* Decodes one sample; *tpos and *vpos receive where its timestamp and value codes began. */
static int it_step(chunk_it *it, uint32_t *tpos, uint32_t *vpos)
{
    if (it->i >= it->count)
        return it->i == UINT32_MAX ? -EINVAL : 0;
    *tpos = it->rt.pos;
    if (it->i == 0) {
        it->t = it->t0;
    } else {
        uint64_t z;
        if (br_bucket(&it->rt, tw, &z) != 0)
            goto bad;
        uint64_t delta = (uint64_t)it->dt + (uint64_t)unzig(z);
        int64_t nt = (int64_t)((uint64_t)it->t + delta);
        if (nt <= it->t)
            goto bad;
        it->t = nt;
        it->dt = tref(delta);
    }
    *vpos = it->split ? it->rv.pos : it->rt.pos;
    if (decode_value(it) != 0)
        goto bad;
    it->i++;
    return 1;
bad:
    it->i = UINT32_MAX;
    it->count = 0;
    return -EINVAL;
}

int chunk_it_next(chunk_it *it, int64_t *t, double *v)
{
    uint32_t tp, vp;
    int rc = it_step(it, &tp, &vp);
    if (rc == 1) {
        *t = it->t;
        *v = bitsd(it->v);
    }
    return rc;
}

int chunk_decode_all(const uint8_t *b, size_t len, int64_t *t, double *v, uint32_t max)
{
    chunk_it it;
    if (chunk_it_init(&it, b, len) != 0)
        return -EINVAL;
    uint32_t n = 0;
    int rc = 0;
    while (n < max && (rc = chunk_it_next(&it, &t[n], &v[n])) == 1)
        n++;
    return rc < 0 ? rc : (int)n;
}

/* ---- sealing: split the open layout's interleaved codes into two byte-aligned streams ------- */

static void copy_bits(uint8_t *dst, uint32_t *dpos, const chunk_br *src, uint32_t from, uint32_t to)
{
    chunk_br r = *src;
    r.pos = from;
    while (r.pos < to) {
        unsigned n = to - r.pos > 56 ? 56 : to - r.pos;
        uint64_t x = 0;
        br_read(&r, n, &x);
        put_bits(dst, dpos, x, n);
    }
}

void chunk_app_trim(chunk_app *a)
{
    if (!a->b || a->sealed)
        return;
    size_t len = (a->nbits + 7) / 8, hlen = 3;
    uint64_t z;
    chunk_it it;
    uint32_t tp, vp, tbits = 0, vbits = 0;
    uint8_t *nb = NULL;
    if (varint_get(a->b, len, &hlen, &z) != 0 || chunk_it_init(&it, a->b, len) != 0)
        return;
    /* First pass: bits of timestamp codes and of value codes. In the open layout a sample's
     * timestamp code runs from tp to vp and its value code from vp to the reader's position. */
    while (it_step(&it, &tp, &vp) == 1) {
        tbits += vp - tp;
        vbits += it.rt.pos - vp;
    }
    uint32_t tbytes = (tbits + 7) / 8;
    size_t slen = hlen + varint_len(tbytes) + tbytes + (vbits + 7) / 8;
    nb = mem_alloc(slen);
    if (!nb) {
        /* Keep the open layout, but give back the slack if possible. */
        uint8_t *sb = len < a->cap ? mem_realloc(a->b, len) : NULL;
        if (sb) {
            a->b = sb;
            a->cap = (uint32_t)len;
        }
        return;
    }
    memcpy(nb, a->b, hlen);
    nb[0] = FMT_SEALED;
    size_t off = hlen + varint_len(tbytes);
    varint_put(nb + hlen, tbytes);
    uint32_t tpos = (uint32_t)off * 8, vpos = (uint32_t)(off + tbytes) * 8;
    if (tbytes)
        nb[off + tbytes - 1] = 0; /* the timestamp stream's padding bits */
    chunk_it_init(&it, a->b, len);
    while (it_step(&it, &tp, &vp) == 1) {
        copy_bits(nb, &tpos, &it.rt, tp, vp);
        copy_bits(nb, &vpos, &it.rt, vp, it.rt.pos);
    }
    mem_free(a->b);
    a->b = nb;
    a->cap = (uint32_t)slen;
    a->nbits = vpos;
    a->sealed = 1;
}

/* Converts a sealed chunk back to the open layout by replaying its samples. */
static int reopen(chunk_app *a)
{
    chunk_app n;
    chunk_it it;
    int64_t t;
    double v;
    int rc;
    chunk_app_init(&n);
    if (chunk_it_init(&it, a->b, (a->nbits + 7) / 8) != 0)
        return -EINVAL;
    while ((rc = chunk_it_next(&it, &t, &v)) == 1) {
        rc = chunk_app_add(&n, t, v);
        if (rc != 0)
            goto out;
    }
    if (rc < 0)
        goto out;
    chunk_app_free(a);
    *a = n;
    return 0;
out:
    chunk_app_free(&n);
    return rc;
}
