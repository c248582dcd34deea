/* test_rw: remote write round trips (labels, many samples, NaN and stale-marker bits), label
 * handling on decode (sorting, empty values dropped, validation), hostile bodies (empty, not
 * snappy, truncated, garbage protobuf, huge claimed sizes) and allocation-failure injection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/labels.h"
#include "lib/mem.h"
#include "lib/sample.h"
#include "remote.pb-c.h"
#include "wire/rw.h"

#include <errno.h>
#include <math.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DECODED (32u << 20)

/* ---- helpers ------------------------------------------------------------------------------- */

/* Snappy-compresses raw bytes into out (reset first). */
static void compress_into(const void *raw, size_t len, buf *out)
{
    size_t clen = snappy_max_compressed_length(len);
    buf_reset(out);
    assert_int_equal(buf_reserve(out, clen), 0);
    assert_int_equal(snappy_compress(raw, len, out->data, &clen), SNAPPY_OK);
    out->len = clen;
}

/* A hand-built series for bodies rw_encode would never produce (unsorted, duplicates...). */
typedef struct pb_series {
    const char *kv[2 * 80];
    size_t nlabels;
    double v[4];
    int64_t t[4];
    size_t nsamples;
} pb_series;

/* Packs the series as a WriteRequest with protobuf-c and snappy-compresses it into out. */
static void pb_body(const pb_series *in, size_t n, buf *out)
{
    Prometheus__WriteRequest wr = PROMETHEUS__WRITE_REQUEST__INIT;
    Prometheus__TimeSeries ts[8], *tsp[8];
    Prometheus__Label lab[8][80], *labp[8][80];
    Prometheus__Sample smp[8][4], *smpp[8][4];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        prometheus__time_series__init(&ts[i]);
        for (size_t j = 0; j < in[i].nlabels; j++) {
            prometheus__label__init(&lab[i][j]);
            lab[i][j].name = (char *)in[i].kv[2 * j];
            lab[i][j].value = (char *)in[i].kv[2 * j + 1];
            labp[i][j] = &lab[i][j];
        }
        for (size_t j = 0; j < in[i].nsamples; j++) {
            prometheus__sample__init(&smp[i][j]);
            smp[i][j].value = in[i].v[j];
            smp[i][j].timestamp = in[i].t[j];
            smpp[i][j] = &smp[i][j];
        }
        ts[i].labels = labp[i];
        ts[i].n_labels = in[i].nlabels;
        ts[i].samples = smpp[i];
        ts[i].n_samples = in[i].nsamples;
        tsp[i] = &ts[i];
    }
    wr.timeseries = tsp;
    wr.n_timeseries = n;
    size_t rawlen = prometheus__write_request__get_packed_size(&wr);
    uint8_t *raw = malloc(rawlen + 1);
    assert_non_null(raw);
    prometheus__write_request__pack(&wr, raw);
    compress_into(raw, rawlen, out);
    free(raw);
}

/* Decodes a hand-built request and expects failure rc with `why` in the message. */
static void expect_refusal(const pb_series *in, size_t n, int want_rc, const char *why)
{
    buf body;
    buf_init(&body, 0);
    pb_body(in, n, &body);
    rw_request *r = (rw_request *)1;
    char err[256] = "";
    int rc = rw_decode(body.data, body.len, MAX_DECODED, &r, err, sizeof err);
    if (rc != want_rc)
        fail_msg("rc %d, want %d (%s)", rc, want_rc, err);
    assert_null(r);
    if (why && !strstr(err, why))
        fail_msg("error \"%s\" does not mention \"%s\"", err, why);
    buf_free(&body);
}

static int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static double from_bits(uint64_t bits)
{
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* ---- round trips --------------------------------------------------------------------------- */

static void round_trip_preserves_labels_samples_and_nan_bits(void **state)
{
    (void)state;
    label l0[] = {{"__name__", "http_requests_total"}, {"code", "200"}, {"job", "api"}};
    label l1[] = {{"__name__", "up"}, {"instance", "h:9100 \"quoted\" ünï\n"}};
    label l2[] = {{"__name__", "empty_series"}};
    const sample s0[] = {
        {1700000000000, 1.0},
        {1700000015000, NAN},
        {1700000030000, 0}, /* filled in below with the stale marker */
        {1700000045000, INFINITY},
        {1700000060000, -INFINITY},
        {1700000075000, -0.0},
        {-5000, 4.9e-324},
        {INT64_MAX, 1.7976931348623157e308},
        {INT64_MIN, -1e-300},
    };
    sample s0c[sizeof s0 / sizeof s0[0]];
    memcpy(s0c, s0, sizeof s0);
    s0c[2].v = sample_stale_value();
    /* A NaN payload other than the two Prometheus uses must survive bit for bit too. */
    s0c[1].v = from_bits(0x7ff8000000000123ULL);
    enum { MANY = 5000 };
    static sample s1[MANY];
    for (size_t i = 0; i < MANY; i++)
        s1[i] = (sample){1700000000000 + (int64_t)i * 15000, (double)i * 0.25 - 100};
    rw_series in[] = {
        {{l0, 3}, s0c, sizeof s0c / sizeof s0c[0]},
        {{l1, 2}, s1, MANY},
        {{l2, 1}, NULL, 0},
    };
    buf body;
    buf_init(&body, 0);
    assert_int_equal(rw_encode(in, 3, &body), 0);
    assert_true(body.len > 0);

    rw_request *r = NULL;
    char err[256] = "";
    int rc = rw_decode(body.data, body.len, MAX_DECODED, &r, err, sizeof err);
    if (rc)
        fail_msg("decode: %d %s", rc, err);
    assert_int_equal(r->nseries, 3);
    assert_int_equal(r->nsamples, sizeof s0c / sizeof s0c[0] + MANY);
    for (size_t i = 0; i < 3; i++) {
        const rw_series *got = &r->series[i];
        assert_int_equal(labels_cmp(&got->ls, &in[i].ls), 0);
        assert_int_equal(got->nsamples, in[i].nsamples);
        for (size_t j = 0; j < got->nsamples; j++) {
            assert_true(got->samples[j].t == in[i].samples[j].t);
            /* proto3 leaves a zero double off the wire, and -0.0 == 0 (Prometheus's own
             * marshaller does the same), so -0 arrives as +0; every other value is exact. */
            double want = in[i].samples[j].v == 0 ? 0.0 : in[i].samples[j].v;
            if (!same_bits(got->samples[j].v, want))
                fail_msg("series %zu sample %zu: bits differ", i, j);
        }
    }
    assert_true(sample_is_stale(r->series[0].samples[2].v));
    assert_false(sample_is_stale(r->series[0].samples[1].v));
    assert_true(isnan(r->series[0].samples[1].v));
    assert_true(r->series[0].samples[5].v == 0);
    rw_request_free(r);
    buf_free(&body);
}

static void encode_appends_to_existing_buffer(void **state)
{
    (void)state;
    label l[] = {{"__name__", "up"}};
    sample s[] = {{1000, 1}};
    rw_series in[] = {{{l, 1}, s, 1}};
    buf body;
    buf_init(&body, 0);
    buf_puts(&body, "PREFIX");
    assert_int_equal(rw_encode(in, 1, &body), 0);
    assert_memory_equal(body.data, "PREFIX", 6);
    rw_request *r = NULL;
    char err[128];
    assert_int_equal(rw_decode(body.data + 6, body.len - 6, MAX_DECODED, &r, err, sizeof err), 0);
    assert_int_equal(r->nseries, 1);
    assert_string_equal(labels_get(&r->series[0].ls, "__name__"), "up");
    rw_request_free(r);
    buf_free(&body);
}

static void empty_request_round_trips(void **state)
{
    (void)state;
    buf body;
    buf_init(&body, 0);
    assert_int_equal(rw_encode(NULL, 0, &body), 0);
    assert_true(body.len > 0);
    rw_request *r = NULL;
    char err[128];
    assert_int_equal(rw_decode(body.data, body.len, MAX_DECODED, &r, err, sizeof err), 0);
    assert_int_equal(r->nseries, 0);
    assert_int_equal(r->nsamples, 0);
    rw_request_free(r);
    rw_request_free(NULL);
    buf_free(&body);
}

static void encode_respects_buffer_cap(void **state)
{
    (void)state;
    label l[] = {{"__name__", "up"}};
    static sample s[1000];
    for (int i = 0; i < 1000; i++)
        s[i] = (sample){i * 1000LL, i * 1.37};
    rw_series in[] = {{{l, 1}, s, 1000}};
    buf body;
    buf_init(&body, 64);
    assert_int_equal(rw_encode(in, 1, &body), -E2BIG);
    buf_free(&body);
}

/* ---- label handling on decode -------------------------------------------------------------- */

static void decode_sorts_labels_and_drops_empty_values(void **state)
{
    (void)state;
    pb_series in[] = {
        {{"zone", "z1", "job", "", "__name__", "up", "app", "a", "empty", ""}, 5, {1}, {1000}, 1}};
    buf body;
    buf_init(&body, 0);
    pb_body(in, 1, &body);
    rw_request *r = NULL;
    char err[256] = "";
    int rc = rw_decode(body.data, body.len, MAX_DECODED, &r, err, sizeof err);
    if (rc)
        fail_msg("%d %s", rc, err);
    const labels *ls = &r->series[0].ls;
    assert_int_equal(ls->n, 3);
    assert_string_equal(ls->v[0].name, "__name__");
    assert_string_equal(ls->v[1].name, "app");
    assert_string_equal(ls->v[2].name, "zone");
    assert_null(labels_get(ls, "job"));
    assert_null(labels_get(ls, "empty"));
    rw_request_free(r);
    buf_free(&body);
}

static void decode_refuses_invalid_series(void **state)
{
    (void)state;
    static const struct {
        pb_series s;
        const char *why;
    } cases[] = {
        {{{"__name__", "up", "bad-name", "x"}, 2, {1}, {1}, 1}, "invalid label name"},
        {{{"__name__", "up", "", "x"}, 2, {1}, {1}, 1}, "invalid label name"},
        {{{"__name__", "up", "9lives", "x"}, 2, {1}, {1}, 1}, "invalid label name"},
        {{{"__name__", "up", "job", "a", "job", "b"}, 3, {1}, {1}, 1}, "duplicated"},
        {{{"__name__", "up", "__name__", "down"}, 2, {1}, {1}, 1}, "duplicated"},
        {{{"job", "a"}, 1, {1}, {1}, 1}, "no metric name"},
        {{{"__name__", "", "job", "a"}, 2, {1}, {1}, 1}, "no metric name"},
        {{{0}, 0, {1}, {1}, 1}, "no labels"},
        {{{"__name__", "up-time"}, 1, {1}, {1}, 1}, "invalid metric name"},
        {{{"__name__", "0up"}, 1, {1}, {1}, 1}, "invalid metric name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* A good series first, so the message must name the second one. */
        pb_series two[2] = {{{"__name__", "ok"}, 1, {1}, {1}, 1}, cases[i].s};
        buf body;
        buf_init(&body, 0);
        pb_body(two, 2, &body);
        rw_request *r = (rw_request *)1;
        char err[256] = "";
        int rc = rw_decode(body.data, body.len, MAX_DECODED, &r, err, sizeof err);
        if (rc != -EINVAL || !strstr(err, cases[i].why) || !strstr(err, "series 1"))
            fail_msg("case %zu: rc %d, err \"%s\", want -EINVAL and \"%s\"", i, rc, err,
                     cases[i].why);
        assert_null(r);
        buf_free(&body);
    }
}

static void decode_enforces_label_count_limit(void **state)
{
    (void)state;
    static char names[80][8];
    pb_series s = {{0}, 0, {1}, {1}, 1};
    s.kv[0] = "__name__";
    s.kv[1] = "up";
    for (size_t i = 1; i < LABELS_MAX; i++) {
        snprintf(names[i], sizeof names[i], "l%02zu", i);
        s.kv[2 * i] = names[i];
        s.kv[2 * i + 1] = "v";
    }
    s.nlabels = LABELS_MAX;
    /* Exactly the limit decodes. */
    buf body;
    buf_init(&body, 0);
    pb_body(&s, 1, &body);
    rw_request *r = NULL;
    char err[256];
    assert_int_equal(rw_decode(body.data, body.len, MAX_DECODED, &r, err, sizeof err), 0);
    assert_int_equal(r->series[0].ls.n, LABELS_MAX);
    rw_request_free(r);
    buf_free(&body);
    /* One more is refused. */
    snprintf(names[LABELS_MAX], sizeof names[0], "l%02d", LABELS_MAX);
    s.kv[2 * LABELS_MAX] = names[LABELS_MAX];
    s.kv[2 * LABELS_MAX + 1] = "v";
    s.nlabels = LABELS_MAX + 1;
    expect_refusal(&s, 1, -EINVAL, "limit");
}

static void decode_refuses_overlong_names_and_values(void **state)
{
    (void)state;
    static char longname[LABELS_MAX_NAME + 2], longvalue[LABELS_MAX_VALUE + 2];
    memset(longname, 'n', LABELS_MAX_NAME + 1);
    memset(longvalue, 'v', LABELS_MAX_VALUE + 1);
    pb_series a = {{"__name__", "up", longname, "x"}, 2, {1}, {1}, 1};
    expect_refusal(&a, 1, -EINVAL, "too long");
    pb_series b = {{"__name__", "up", "job", longvalue}, 2, {1}, {1}, 1};
    expect_refusal(&b, 1, -EINVAL, "too long");
}

static void decode_skips_unknown_fields(void **state)
{
    (void)state;
    /* WriteRequest{timeseries: TimeSeries{labels: {__name__: up}, samples: {1.0 @ 1000},
     * field 3 (exemplar, unknown to us): "xyz"}, field 3 metadata {type: 1}} by hand. */
    static const uint8_t raw[] = {
        0x0a, 0x23, /* ts, 35 bytes */
        0x0a, 0x0e, /* label, 14 bytes */
        0x0a, 0x08, '_',  '_',  'n', 'a',  'm',  'e',  '_',
        '_',  0x12, 0x02, 'u',  'p', 0x12, 0x0c,             /* sample, 12 */
        0x09, 0,    0,    0,    0,   0,    0,    0xf0, 0x3f, /* value 1.0 */
        0x10, 0xe8, 0x07,                                    /* ts 1000 */
        0x1a, 0x03, 'x',  'y',  'z',                         /* field 3 */
        0x1a, 0x02, 0x08, 0x01,                              /* metadata */
    };
    buf body;
    buf_init(&body, 0);
    compress_into(raw, sizeof raw, &body);
    rw_request *r = NULL;
    char err[256] = "";
    int rc = rw_decode(body.data, body.len, MAX_DECODED, &r, err, sizeof err);
    if (rc)
        fail_msg("%d %s", rc, err);
    assert_int_equal(r->nseries, 1);
    assert_int_equal(r->series[0].nsamples, 1);
    assert_true(r->series[0].samples[0].v == 1.0);
    assert_true(r->series[0].samples[0].t == 1000);
    assert_string_equal(labels_get(&r->series[0].ls, "__name__"), "up");
    rw_request_free(r);
    buf_free(&body);
}

/* ---- hostile bodies ------------------------------------------------------------------------ */

static void decode_refuses_malformed_bodies(void **state)
{
    (void)state;
    static const uint8_t garbage1[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    static const uint8_t garbage2[] = {0x0a, 0x50, 'a', 'b', 'c'};    /* length past the end */
    static const uint8_t garbage3[] = {0x0a, 0x03, 0x0a, 0x05, 0x0a}; /* nested overrun */
    static const uint8_t garbage4[] = {0x0f};                         /* wire type 7 */
    const struct {
        const void *raw;
        size_t len;
        const char *why;
    } snappied[] = {
        {garbage1, sizeof garbage1, "protobuf"}, {garbage2, sizeof garbage2, "protobuf"},
        {garbage3, sizeof garbage3, "protobuf"}, {garbage4, sizeof garbage4, "protobuf"},
        {"hello, world", 12, "protobuf"},
    };
    char err[256];
    rw_request *r;
    for (size_t i = 0; i < sizeof snappied / sizeof snappied[0]; i++) {
        buf body;
        buf_init(&body, 0);
        compress_into(snappied[i].raw, snappied[i].len, &body);
        r = (rw_request *)1;
        err[0] = '\0';
        int rc = rw_decode(body.data, body.len, MAX_DECODED, &r, err, sizeof err);
        if (rc != -EINVAL || !strstr(err, snappied[i].why))
            fail_msg("case %zu: rc %d err \"%s\"", i, rc, err);
        assert_null(r);
        buf_free(&body);
    }

    /* Not snappy at all. */
    static const char *plain[] = {"this is not snappy", "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80",
                                  "\xff", "{\"json\":1}"};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        r = (rw_request *)1;
        err[0] = '\0';
        int rc = rw_decode(plain[i], strlen(plain[i]), MAX_DECODED, &r, err, sizeof err);
        if (rc != -EINVAL || !strstr(err, "snappy"))
            fail_msg("plain %zu: rc %d err \"%s\"", i, rc, err);
        assert_null(r);
    }
}

static void decode_refuses_empty_body(void **state)
{
    (void)state;
    rw_request *r = (rw_request *)1;
    char err[128] = "";
    assert_int_equal(rw_decode("", 0, MAX_DECODED, &r, err, sizeof err), -EINVAL);
    assert_null(r);
    assert_non_null(strstr(err, "empty"));
}

static void decode_refuses_every_truncation_of_a_valid_body(void **state)
{
    (void)state;
    label l[] = {{"__name__", "node_cpu_seconds_total"}, {"cpu", "0"}, {"mode", "idle"}};
    sample s[64];
    for (int i = 0; i < 64; i++)
        s[i] = (sample){1700000000000LL + i * 1000, i * 3.5};
    rw_series in[] = {{{l, 3}, s, 64}};
    buf body;
    buf_init(&body, 0);
    assert_int_equal(rw_encode(in, 1, &body), 0);
    for (size_t cut = 1; cut < body.len; cut++) {
        /* A heap copy of exactly `cut` bytes, so ASan sees any read past the end. */
        char *p = malloc(cut);
        memcpy(p, body.data, cut);
        rw_request *r = (rw_request *)1;
        char err[256] = "";
        int rc = rw_decode(p, cut, MAX_DECODED, &r, err, sizeof err);
        if (rc != -EINVAL)
            fail_msg("cut at %zu of %zu: rc %d (%s)", cut, body.len, rc, err);
        assert_null(r);
        free(p);
    }
    buf_free(&body);
}

static void decode_survives_random_corruption(void **state)
{
    (void)state;
    label l[] = {{"__name__", "m"}, {"a", "1"}};
    sample s[16];
    for (int i = 0; i < 16; i++)
        s[i] = (sample){i, i};
    rw_series in[] = {{{l, 2}, s, 16}, {{l, 2}, s, 16}};
    buf body;
    buf_init(&body, 0);
    assert_int_equal(rw_encode(in, 2, &body), 0);
    uint64_t x = 88172645463325252ULL;
    for (int round = 0; round < 3000; round++) {
        char *p = malloc(body.len);
        memcpy(p, body.data, body.len);
        for (int k = 0; k < 3; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            p[x % body.len] = (char)(x >> 32);
        }
        rw_request *r = NULL;
        char err[256];
        int rc = rw_decode(p, body.len, MAX_DECODED, &r, err, sizeof err);
        assert_true(rc == 0 || rc == -EINVAL || rc == -E2BIG);
        if (rc == 0) {
            /* Whatever got through is valid. */
            for (size_t i = 0; i < r->nseries; i++) {
                assert_int_equal(labels_validate(&r->series[i].ls, err, sizeof err), 0);
                assert_non_null(labels_get(&r->series[i].ls, "__name__"));
            }
            rw_request_free(r);
        } else {
            assert_null(r);
        }
        free(p);
    }
    buf_free(&body);
}

/* Writes a snappy varint for n into p; returns its length. */
static size_t varint(uint8_t *p, uint64_t n)
{
    size_t i = 0;
    while (n >= 0x80) {
        p[i++] = (uint8_t)(n | 0x80);
        n >>= 7;
    }
    p[i++] = (uint8_t)n;
    return i;
}

static void huge_claimed_length_is_refused_before_allocating(void **state)
{
    (void)state;
    uint8_t body[32];
    /* Claims 4 GiB - 1 of output, then a literal of 4 bytes. */
    size_t n = varint(body, 0xffffffffULL);
    body[n++] = 0x0c; /* literal, length 4 */
    memcpy(body + n, "abcd", 4);
    n += 4;
    rw_request *r = (rw_request *)1;
    char err[256] = "";
    unsigned long before = mem_allocations();
    int rc = rw_decode(body, n, MAX_DECODED, &r, err, sizeof err);
    assert_int_equal(rc, -E2BIG);
    assert_int_equal(mem_allocations(), before);
    assert_null(r);
    assert_non_null(strstr(err, "limit"));

    /* Just over and exactly at the cap, with real data. */
    static char raw[4096];
    memset(raw, 0, sizeof raw);
    buf c;
    buf_init(&c, 0);
    compress_into(raw, sizeof raw, &c);
    r = (rw_request *)1;
    assert_int_equal(rw_decode(c.data, c.len, sizeof raw - 1, &r, err, sizeof err), -E2BIG);
    assert_null(r);
    /* 4096 zero bytes are not a WriteRequest (field 0 is invalid), but pass the size check. */
    r = (rw_request *)1;
    assert_int_equal(rw_decode(c.data, c.len, sizeof raw, &r, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "protobuf"));
    buf_free(&c);

    /* A claim under a generous cap but with no data behind it: refused as corrupt, and still
     * without allocating the claimed size. */
    before = mem_allocations();
    r = (rw_request *)1;
    rc = rw_decode(body, n, SIZE_MAX, &r, err, sizeof err);
    assert_int_equal(rc, -EINVAL);
    assert_int_equal(mem_allocations(), before);
    assert_null(r);
}

/* ---- allocation failures ------------------------------------------------------------------- */

static void decode_under_allocation_failure_gives_enomem_or_success(void **state)
{
    (void)state;
    label l0[] = {{"__name__", "a"}, {"job", "j"}};
    label l1[] = {{"__name__", "b"}, {"instance", "i"}, {"job", "j"}};
    sample s[8];
    for (int i = 0; i < 8; i++)
        s[i] = (sample){1000LL * i, i};
    rw_series in[] = {{{l0, 2}, s, 8}, {{l1, 3}, s, 3}, {{l0, 2}, s, 1}};
    buf body;
    buf_init(&body, 0);
    assert_int_equal(rw_encode(in, 3, &body), 0);
    int succeeded = 0;
    for (long n = 0; n < 200 && !succeeded; n++) {
        rw_request *r = (rw_request *)1;
        char err[256] = "";
        mem_fail_after(n);
        int rc = rw_decode(body.data, body.len, MAX_DECODED, &r, err, sizeof err);
        mem_fail_after(-1);
        if (rc != 0 && rc != -ENOMEM)
            fail_msg("fail after %ld: rc %d (%s)", n, rc, err);
        if (rc == 0) {
            succeeded = 1;
            assert_int_equal(r->nseries, 3);
            assert_int_equal(r->nsamples, 12);
            assert_string_equal(labels_get(&r->series[1].ls, "instance"), "i");
            rw_request_free(r);
        } else {
            assert_null(r);
        }
    }
    assert_true(succeeded);
    buf_free(&body);
}

static void encode_under_allocation_failure_gives_enomem_or_success(void **state)
{
    (void)state;
    label l[] = {{"__name__", "a"}, {"job", "j"}};
    sample s[] = {{1, 1}, {2, 2}};
    rw_series in[] = {{{l, 2}, s, 2}, {{l, 2}, s, 1}};
    int succeeded = 0;
    for (long n = 0; n < 50 && !succeeded; n++) {
        buf body;
        buf_init(&body, 0);
        mem_fail_after(n);
        int rc = rw_encode(in, 2, &body);
        mem_fail_after(-1);
        assert_true(rc == 0 || rc == -ENOMEM);
        if (rc == 0) {
            succeeded = 1;
            rw_request *r = NULL;
            char err[128];
            assert_int_equal(rw_decode(body.data, body.len, MAX_DECODED, &r, err, sizeof err), 0);
            assert_int_equal(r->nsamples, 3);
            rw_request_free(r);
        }
        buf_free(&body);
    }
    assert_true(succeeded);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_preserves_labels_samples_and_nan_bits),
        cmocka_unit_test(encode_appends_to_existing_buffer),
        cmocka_unit_test(empty_request_round_trips),
        cmocka_unit_test(encode_respects_buffer_cap),
        cmocka_unit_test(decode_sorts_labels_and_drops_empty_values),
        cmocka_unit_test(decode_refuses_invalid_series),
        cmocka_unit_test(decode_enforces_label_count_limit),
        cmocka_unit_test(decode_refuses_overlong_names_and_values),
        cmocka_unit_test(decode_skips_unknown_fields),
        cmocka_unit_test(decode_refuses_malformed_bodies),
        cmocka_unit_test(decode_refuses_empty_body),
        cmocka_unit_test(decode_refuses_every_truncation_of_a_valid_body),
        cmocka_unit_test(decode_survives_random_corruption),
        cmocka_unit_test(huge_claimed_length_is_refused_before_allocating),
        cmocka_unit_test(decode_under_allocation_failure_gives_enomem_or_success),
        cmocka_unit_test(encode_under_allocation_failure_gives_enomem_or_success),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
