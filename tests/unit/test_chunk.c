/* test_chunk: the chunk codec round-trips every double bit-exactly and every increasing timestamp
 * sequence (data-driven: special values, counters, gauges, decimals, random bits, jitter, huge
 * gaps, negative times), in the open and the sealed layout and while appending; rejects
 * out-of-order appends and full chunks; survives truncated and corrupt bytes; keeps the chunk
 * intact when allocation fails; and keeps its memory small. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/mem.h"
#include "lib/sample.h"
#include "tsdb/chunk.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
    /* splitmix64: deterministic, so failures reproduce */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double dbl(uint64_t b)
{
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

static uint64_t bits(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

/* Decodes b[0..len) and asserts it holds exactly t[0..n), v[0..n), bit for bit. */
static void check_bytes(const uint8_t *b, size_t len, const int64_t *t, const double *v, size_t n)
{
    chunk_it it;
    assert_int_equal(chunk_it_init(&it, b, len), 0);
    assert_int_equal(chunk_it_count(&it), n);
    assert_true(chunk_it_count(&it) <= 4 * len);
    for (size_t i = 0; i < n; i++) {
        int64_t tt;
        double vv;
        int rc = chunk_it_next(&it, &tt, &vv);
        if (rc != 1 || tt != t[i] || bits(vv) != bits(v[i]))
            fail_msg("sample %zu of %zu: rc %d t %lld (want %lld) v %016llx (want %016llx)", i, n,
                     rc, (long long)tt, (long long)t[i], (unsigned long long)bits(vv),
                     (unsigned long long)bits(v[i]));
    }
    int64_t tt;
    double vv;
    assert_int_equal(chunk_it_next(&it, &tt, &vv), 0);
    assert_int_equal(chunk_it_next(&it, &tt, &vv), 0);
}

/* Appends all samples, checking the bytes mid-append every `every` samples, then checks the
 * open and the sealed layout and the accessors. */
static void roundtrip_every(const int64_t *t, const double *v, size_t n, size_t every)
{
    chunk_app a;
    chunk_app_init(&a);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(chunk_app_add(&a, t[i], v[i]), 0);
        assert_int_equal(chunk_app_count(&a), i + 1);
        assert_int_equal(chunk_app_maxt(&a), t[i]);
        assert_int_equal(chunk_app_mint(&a), t[0]);
        assert_true(bits(chunk_app_last(&a)) == bits(v[i]));
        if (every && (i % every == 0 || i + 1 == n)) {
            size_t len;
            const uint8_t *b = chunk_app_bytes(&a, &len);
            check_bytes(b, len, t, v, i + 1);
        }
    }
    size_t len;
    const uint8_t *b = chunk_app_bytes(&a, &len);
    check_bytes(b, len, t, v, n);
    size_t mem_open = chunk_app_memory(&a);
    chunk_app_trim(&a);
    size_t slen;
    b = chunk_app_bytes(&a, &slen);
    check_bytes(b, slen, t, v, n);
    /* sealed: exact size (the layout costs at most a length varint and a padding byte more) */
    assert_true(chunk_app_memory(&a) <= mem_open || slen <= len + 4);
    assert_int_equal(chunk_app_memory(&a), sizeof a + (n ? slen : 0));
    assert_int_equal(chunk_app_count(&a), n);
    if (n) {
        assert_int_equal(chunk_app_mint(&a), t[0]);
        assert_int_equal(chunk_app_maxt(&a), t[n - 1]);
    }
    /* the decode_all helper agrees */
    if (n) {
        int64_t *dt = malloc(n * sizeof *dt);
        double *dv = malloc(n * sizeof *dv);
        assert_non_null(dt);
        assert_non_null(dv);
        assert_int_equal(chunk_decode_all(b, slen, dt, dv, (uint32_t)n), (int)n);
        assert_memory_equal(dt, t, n * sizeof *dt);
        assert_memory_equal(dv, v, n * sizeof *dv);
        free(dt);
        free(dv);
    }
    chunk_app_free(&a);
    assert_int_equal(chunk_app_count(&a), 0);
    chunk_app_free(&a); /* twice is fine */
}

static void roundtrip(const int64_t *t, const double *v, size_t n)
{
    roundtrip_every(t, v, n, n < 300 ? 1 : 97);
}

/* Regular timestamps: start, step in ms, optional jitter of +-jitter ms. */
static void mk_times(int64_t *t, size_t n, int64_t start, int64_t step, int64_t jitter)
{
    int64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t x = start + (int64_t)i * step;
        if (jitter)
            x += (int64_t)(rnd() % (uint64_t)(2 * jitter + 1)) - jitter;
        if (i > 0 && x <= prev)
            x = prev + 1;
        t[i] = prev = x;
    }
}

#define T0 1795472556742LL

/* ---- data-driven value cases ------------------------------------------------------------- */

static const uint64_t special_bits[] = {
    0x7ff0000000000002ULL, /* stale marker */
    0x7ff8000000000001ULL, /* ordinary NaN (Prometheus's) */
    0x7ff8000000000000ULL, 0xfff8000000000000ULL, 0x7ff4000000000000ULL, /* signalling NaN */
    0x7fffffffffffffffULL, 0xffffffffffffffffULL, 0x7ff0000000000001ULL,
    0x7ff0000000000000ULL, /* +Inf */
    0xfff0000000000000ULL, /* -Inf */
    0x8000000000000000ULL, /* -0.0 */
    0x0000000000000000ULL, /* +0.0 */
    0x0000000000000001ULL, /* smallest denormal */
    0x800fffffffffffffULL, /* negative largest denormal */
    0x0010000000000000ULL, /* DBL_MIN */
    0x7fefffffffffffffULL, /* DBL_MAX */
    0xffefffffffffffffULL, /* -DBL_MAX */
};

static void special_values(void **state)
{
    (void)state;
    size_t ns = sizeof special_bits / sizeof special_bits[0];
    /* every special value after every other (and after itself), inside integer runs */
    size_t n = 0, cap = ns * ns * 4 + 8;
    int64_t *t = malloc(cap * sizeof *t);
    double *v = malloc(cap * sizeof *v);
    assert_non_null(t);
    assert_non_null(v);
    for (size_t i = 0; i < ns; i++)
        for (size_t j = 0; j < ns; j++) {
            v[n++] = dbl(special_bits[i]);
            v[n++] = dbl(special_bits[j]);
            v[n++] = dbl(special_bits[j]);
            v[n++] = (double)(i * 10 + j);
        }
    mk_times(t, n, T0, 15000, 0);
    roundtrip(t, v, n);
    /* each special value alone, and as the first value of a chunk */
    for (size_t i = 0; i < ns; i++) {
        double one[3] = {dbl(special_bits[i]), 1.5, dbl(special_bits[i])};
        roundtrip(t, one, 1);
        roundtrip(t, one, 3);
    }
    /* a series going stale and coming back */
    double st[6] = {1, 2, sample_stale_value(), sample_stale_value(), 3, 4};
    roundtrip(t, st, 6);
    free(t);
    free(v);
}

typedef enum shape {
    S_CONST,
    S_COUNTER,
    S_COUNTER_RESET,
    S_GAUGE_INT,
    S_DECIMAL2,
    S_DECIMAL_MIXED,
    S_NS_SECONDS,
    S_HUGE_INT,
    S_NEG_INT,
    S_RANDOM_BITS,
    S_RANDOM_DOUBLE,
    S_TINY,
    S_BYTES_GAUGE,
    S_RATE,
    S_SPARSE_CHANGES,
    S_POW2,
    S_MIXED,
    NSHAPES
} shape;

static double shape_value(shape s, size_t i, double prev);

static double shape_value(shape s, size_t i, double prev)
{
    switch (s) {
    case S_CONST:
        return 42;
    case S_COUNTER:
        return prev + (double)(rnd() % 50);
    case S_COUNTER_RESET:
        return (i % 37 == 0) ? (double)(rnd() % 5) : prev + (double)(rnd() % 1000);
    case S_GAUGE_INT:
        return (double)(int64_t)(rnd() % 200) - 100;
    case S_DECIMAL2:
        return (double)(int64_t)(rnd() % 100000) / 100.0;
    case S_DECIMAL_MIXED:
        return (double)(int64_t)(rnd() % 1000) / (double)(i % 7 == 0 ? 1 : i % 3 == 0 ? 1000 : 10);
    case S_NS_SECONDS:
        return (double)(rnd() % 1000000) / 1e9;
    case S_HUGE_INT:
        return (double)(int64_t)(rnd() >> 1) * ((rnd() & 1) ? 1 : -1);
    case S_NEG_INT:
        return -(double)(rnd() % 1000000000000ULL);
    case S_RANDOM_BITS:
        return dbl(rnd());
    case S_RANDOM_DOUBLE:
        return (double)rnd() / 3.0e12 * ((rnd() & 1) ? 1 : -1);
    case S_TINY:
        return dbl(rnd() & 0x000fffffffffffffULL) * (double)(i % 5);
    case S_BYTES_GAUGE:
        return 1.263824896e+10 + (double)((rnd() % 1000) * 4096);
    case S_RATE:
        return prev + 0.1 * (double)(rnd() % 30);
    case S_SPARSE_CHANGES:
        return (rnd() % 50 == 0) ? (double)(rnd() % 1000) : prev;
    case S_POW2: /* multiples of varying powers of two, both signs, some decimal */
        return (double)((int64_t)(rnd() % 2000) - 1000) * (double)((int64_t)1 << (rnd() % 40)) /
               (rnd() % 4 == 0 ? 100.0 : 1.0);
    case S_MIXED: /* every shape in turn, to exercise each transition between codes */
        return shape_value((shape)(rnd() % S_MIXED), i, prev);
    default:
        return 0;
    }
}

static void shapes_and_intervals(void **state)
{
    (void)state;
    static const size_t lens[] = {1, 2, 3, 17, 120, 1000};
    static const int64_t steps[] = {1000, 15000, 1};
    static const int64_t jitters[] = {0, 3, 500};
    for (shape s = 0; s < NSHAPES; s++)
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++)
            for (size_t si = 0; si < 3; si++)
                for (size_t ji = 0; ji < 3; ji++) {
                    size_t n = lens[li];
                    int64_t *t = malloc(n * sizeof *t);
                    double *v = malloc(n * sizeof *v);
                    assert_non_null(t);
                    assert_non_null(v);
                    mk_times(t, n, T0, steps[si], jitters[ji]);
                    double prev = 0;
                    for (size_t i = 0; i < n; i++)
                        v[i] = prev = shape_value(s, i, prev);
                    roundtrip_every(t, v, n, n <= 120 ? 1 : 250);
                    free(t);
                    free(v);
                }
}

static void extreme_timestamps(void **state)
{
    (void)state;
    double v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    int64_t cases[][8] = {
        {INT64_MIN, INT64_MAX},
        {INT64_MIN, INT64_MIN + 1, INT64_MIN + 2, 0, 1, INT64_MAX - 1, INT64_MAX},
        {-5000, -4000, -3000, -1, 0, 1, 1000, 2000},
        {-T0, -T0 + 15000, -T0 + 30001, -T0 + 45000, 0, T0, 2 * T0, 3 * T0},
        {0, (int64_t)1 << 31, (int64_t)1 << 32, ((int64_t)1 << 32) + 1, ((int64_t)1 << 62),
         ((int64_t)1 << 62) + 2147483647, ((int64_t)1 << 62) + 2 * 2147483647LL, INT64_MAX},
        {1, 2, 3, 4, 5, 6, 7, 8},
    };
    size_t lens[] = {2, 7, 8, 8, 8, 8};
    for (size_t c = 0; c < sizeof lens / sizeof lens[0]; c++)
        roundtrip(cases[c], v, lens[c]);
    /* random strictly increasing timestamps with huge and tiny gaps, negative start */
    for (int round = 0; round < 50; round++) {
        size_t n = 200;
        int64_t t[200];
        double vv[200];
        int64_t x = -(int64_t)(rnd() >> 2);
        for (size_t i = 0; i < n; i++) {
            uint64_t r = rnd();
            uint64_t gap =
                (r & 3) == 0 ? (r >> 8) % ((uint64_t)1 << (r % 40 + 1)) + 1 : (r >> 8) % 3 + 15000;
            if ((uint64_t)INT64_MAX - (uint64_t)x < gap + 1000)
                break;
            x += (int64_t)gap;
            t[i] = x;
            vv[i] = (double)(i % 11);
            n = i + 1;
        }
        roundtrip(t, vv, n);
    }
}

static void max_samples(void **state)
{
    (void)state;
    size_t n = CHUNK_MAX_SAMPLES;
    int64_t *t = malloc(n * sizeof *t);
    double *v = malloc(n * sizeof *v);
    assert_non_null(t);
    assert_non_null(v);
    mk_times(t, n, -T0, 10000, 7);
    double prev = 0;
    for (size_t i = 0; i < n; i++)
        v[i] = prev = shape_value((shape)(i / 1000 % NSHAPES), i, prev);
    roundtrip_every(t, v, n, 5000);
    /* a full chunk refuses one more sample, and stays intact */
    chunk_app a;
    chunk_app_init(&a);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(chunk_app_add(&a, t[i], v[i]), 0);
    assert_int_equal(chunk_app_add(&a, t[n - 1] + 1000, 1), -EINVAL);
    size_t len;
    const uint8_t *b = chunk_app_bytes(&a, &len);
    check_bytes(b, len, t, v, n);
    chunk_app_free(&a);
    free(t);
    free(v);
}

static void rejects_out_of_order(void **state)
{
    (void)state;
    chunk_app a;
    chunk_app_init(&a);
    assert_int_equal(chunk_app_add(&a, 1000, 1), 0);
    assert_int_equal(chunk_app_add(&a, 2000, 2), 0);
    size_t len0;
    const uint8_t *b0 = chunk_app_bytes(&a, &len0);
    uint8_t copy[64];
    memcpy(copy, b0, len0);
    assert_int_equal(chunk_app_add(&a, 2000, 3), -EINVAL);
    assert_int_equal(chunk_app_add(&a, 1999, 3), -EINVAL);
    assert_int_equal(chunk_app_add(&a, INT64_MIN, 3), -EINVAL);
    size_t len;
    const uint8_t *b = chunk_app_bytes(&a, &len);
    assert_int_equal(len, len0);
    assert_memory_equal(b, copy, len);
    assert_int_equal(chunk_app_count(&a), 2);
    assert_int_equal(chunk_app_maxt(&a), 2000);
    assert_true(chunk_app_last(&a) == 2.0);
    /* also after sealing */
    chunk_app_trim(&a);
    assert_int_equal(chunk_app_add(&a, 2000, 3), -EINVAL);
    assert_int_equal(chunk_app_count(&a), 2);
    /* appending to a sealed chunk reopens it */
    assert_int_equal(chunk_app_add(&a, 3000, 3), 0);
    int64_t t[3] = {1000, 2000, 3000};
    double v[3] = {1, 2, 3};
    b = chunk_app_bytes(&a, &len);
    check_bytes(b, len, t, v, 3);
    chunk_app_free(&a);
}

static void empty_chunk(void **state)
{
    (void)state;
    chunk_app a;
    chunk_app_init(&a);
    assert_int_equal(chunk_app_count(&a), 0);
    assert_int_equal(chunk_app_memory(&a), sizeof a);
    size_t len;
    const uint8_t *b = chunk_app_bytes(&a, &len);
    check_bytes(b, len, NULL, NULL, 0);
    chunk_app_trim(&a);
    b = chunk_app_bytes(&a, &len);
    check_bytes(b, len, NULL, NULL, 0);
    (void)chunk_app_mint(&a);
    chunk_app_free(&a);
}

/* The encoder state is small and the buffer grows in small steps. */
static void memory_is_small(void **state)
{
    (void)state;
    assert_true(sizeof(chunk_app) <= 48);
    chunk_app a;
    chunk_app_init(&a);
    assert_int_equal(chunk_app_add(&a, T0, 0), 0);
    assert_true(chunk_app_memory(&a) <= sizeof a + 16);
    /* a constant series at a regular interval: 2 bits a sample */
    for (int i = 1; i < 120; i++)
        assert_int_equal(chunk_app_add(&a, T0 + i * 15000LL, 0), 0);
    size_t len;
    chunk_app_bytes(&a, &len);
    assert_true(len <= 12 + 120 * 2 / 8 + 4);
    assert_true(chunk_app_memory(&a) <= sizeof a + len + len / 4 + 16);
    chunk_app_free(&a);
    /* a counter with steady increments: the delta of delta is zero, 3 bits a sample */
    chunk_app_init(&a);
    for (int i = 0; i < 120; i++)
        assert_int_equal(chunk_app_add(&a, T0 + i * 15000LL, 1000.0 + i * 150), 0);
    chunk_app_bytes(&a, &len);
    assert_true(len <= 16 + 120 * 5 / 8);
    chunk_app_free(&a);
    /* decimal gauges cost far less than XOR */
    chunk_app_init(&a);
    for (int i = 0; i < 120; i++)
        assert_int_equal(chunk_app_add(&a, T0 + i * 15000LL, (double)(i % 13) / 4.0 + 12.7), 0);
    chunk_app_bytes(&a, &len);
    assert_true(len <= 12 + 120 * 12 / 8);
    chunk_app_free(&a);
}

/* Every truncation of a valid chunk decodes to a prefix or fails with -EINVAL, and every
 * single-byte corruption terminates. */
static void truncated_and_corrupt(void **state)
{
    (void)state;
    size_t n = 300;
    int64_t t[300];
    double v[300];
    mk_times(t, n, T0, 1000, 4);
    double prev = 0;
    for (size_t i = 0; i < n; i++)
        v[i] = prev = shape_value((shape)(i / 20 % NSHAPES), i, prev);
    for (int sealed = 0; sealed < 2; sealed++) {
        chunk_app a;
        chunk_app_init(&a);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(chunk_app_add(&a, t[i], v[i]), 0);
        if (sealed)
            chunk_app_trim(&a);
        size_t len;
        const uint8_t *b = chunk_app_bytes(&a, &len);
        for (size_t cut = 0; cut < len; cut++) {
            /* a heap copy of exactly `cut` bytes, so ASan sees any overread */
            uint8_t *c = malloc(cut ? cut : 1);
            assert_non_null(c);
            memcpy(c, b, cut);
            chunk_it it;
            if (chunk_it_init(&it, c, cut) == 0) {
                assert_true(chunk_it_count(&it) <= 4 * cut);
                int64_t tt;
                double vv;
                size_t i = 0;
                int rc;
                while ((rc = chunk_it_next(&it, &tt, &vv)) == 1) {
                    assert_true(i < n);
                    assert_int_equal(tt, t[i]);
                    assert_true(bits(vv) == bits(v[i]));
                    i++;
                }
                assert_true(rc == -EINVAL || (rc == 0 && i <= n));
                if (rc < 0)
                    assert_int_equal(chunk_it_next(&it, &tt, &vv), -EINVAL);
            }
            free(c);
        }
        /* flip each byte: must terminate and never return non-increasing timestamps */
        uint8_t *c = malloc(len);
        assert_non_null(c);
        for (size_t i = 0; i < len; i++) {
            for (int x = 1; x < 256; x *= 3) {
                memcpy(c, b, len);
                c[i] ^= (uint8_t)x;
                chunk_it it;
                if (chunk_it_init(&it, c, len) != 0)
                    continue;
                int64_t tt, last = INT64_MIN;
                double vv;
                uint32_t k = 0;
                int rc;
                while ((rc = chunk_it_next(&it, &tt, &vv)) == 1) {
                    if (k > 0)
                        assert_true(tt > last);
                    last = tt;
                    k++;
                    assert_true(k <= chunk_it_count(&it));
                }
            }
        }
        free(c);
        chunk_app_free(&a);
    }
    /* invalid headers */
    chunk_it it;
    static const uint8_t bad1[] = {9, 1, 0, 0, 0};
    static const uint8_t bad2[] = {1, 0xff, 0xff, 0, 0};
    static const uint8_t bad3[] = {1, 1, 0, 0xff, 0xff};
    static const uint8_t bad4[] = {2, 2, 0, 2, 9, 0};
    assert_int_equal(chunk_it_init(&it, bad1, sizeof bad1), -EINVAL);
    assert_int_equal(chunk_it_init(&it, bad2, sizeof bad2), -EINVAL);
    assert_int_equal(chunk_it_init(&it, bad3, sizeof bad3), -EINVAL);
    assert_int_equal(chunk_it_init(&it, bad4, sizeof bad4), -EINVAL);
    assert_int_equal(chunk_it_init(&it, bad1, 2), -EINVAL);
    assert_int_equal(chunk_it_init(&it, NULL, 0), -EINVAL);
}

/* Allocation failures leave the chunk exactly as it was. */
static void allocation_failures(void **state)
{
    (void)state;
    size_t n = 400;
    int64_t t[400];
    double v[400];
    mk_times(t, n, T0, 1000, 2);
    for (size_t i = 0; i < n; i++)
        v[i] = dbl(rnd()); /* XOR fallback: the buffer grows fast */
    chunk_app a;
    chunk_app_init(&a);
    size_t fails = 0;
    for (size_t i = 0; i < n; i++) {
        mem_fail_after(0);
        int rc = chunk_app_add(&a, t[i], v[i]);
        mem_fail_after(-1);
        if (rc == -ENOMEM) {
            fails++;
            size_t len;
            const uint8_t *b = chunk_app_bytes(&a, &len);
            check_bytes(b, len, t, v, i);
            assert_int_equal(chunk_app_count(&a), i);
            rc = chunk_app_add(&a, t[i], v[i]);
        }
        assert_int_equal(rc, 0);
    }
    assert_true(fails >= 5);
    /* sealing under memory pressure keeps a valid chunk */
    mem_fail_after(0);
    chunk_app_trim(&a);
    mem_fail_after(-1);
    size_t len;
    const uint8_t *b = chunk_app_bytes(&a, &len);
    check_bytes(b, len, t, v, n);
    chunk_app_trim(&a);
    b = chunk_app_bytes(&a, &len);
    check_bytes(b, len, t, v, n);
    /* reopening a sealed chunk under memory pressure fails cleanly */
    mem_fail_after(0);
    assert_int_equal(chunk_app_add(&a, t[n - 1] + 1000, 1.0), -ENOMEM);
    mem_fail_after(-1);
    b = chunk_app_bytes(&a, &len);
    check_bytes(b, len, t, v, n);
    chunk_app_free(&a);
}

/* Sealing separates timestamps from values: two series scraped together share a byte-identical
 * timestamp stream. */
static void sealed_timestamps_shared(void **state)
{
    (void)state;
    int64_t t[120];
    double v1[120], v2[120];
    mk_times(t, 120, T0, 1000, 3);
    for (int i = 0; i < 120; i++) {
        v1[i] = i * 7.0;
        v2[i] = (double)(rnd() % 100) / 10.0;
    }
    chunk_app a, b;
    chunk_app_init(&a);
    chunk_app_init(&b);
    for (int i = 0; i < 120; i++) {
        assert_int_equal(chunk_app_add(&a, t[i], v1[i]), 0);
        assert_int_equal(chunk_app_add(&b, t[i], v2[i]), 0);
    }
    chunk_app_trim(&a);
    chunk_app_trim(&b);
    size_t la, lb;
    const uint8_t *ba = chunk_app_bytes(&a, &la), *bb = chunk_app_bytes(&b, &lb);
    assert_true(la > 20 && lb > 20);
    size_t same = 0;
    while (same < la && same < lb && ba[same] == bb[same])
        same++;
    assert_true(same >= 3 + 6 + 1 + 120 * 3 / 8);
    check_bytes(ba, la, t, v1, 120);
    check_bytes(bb, lb, t, v2, 120);
    chunk_app_free(&a);
    chunk_app_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(special_values),       cmocka_unit_test(shapes_and_intervals),
        cmocka_unit_test(extreme_timestamps),   cmocka_unit_test(max_samples),
        cmocka_unit_test(rejects_out_of_order), cmocka_unit_test(empty_chunk),
        cmocka_unit_test(memory_is_small),      cmocka_unit_test(truncated_and_corrupt),
        cmocka_unit_test(allocation_failures),  cmocka_unit_test(sealed_timestamps_shared),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
