/* test_probe_icmp: the icmp probe's parts without I/O (echo requests built byte for byte, reply
 * parsing with hostile and truncated input, payload checks, RTT statistics on odd and even
 * counts, loss ratio, the sequence table, the run's own deadline), its settings, and whole runs
 * on the loopback interface: success, a run that ends itself before the scheduler's timeout, a
 * run cancelled mid-way (its late replies must not reach anything), many runs at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/probes/icmp_int.h"
#include "agent/probes/probe_int.h"
#include "lib/mem.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- helpers ----------------------------------------------------------------------------- */

static uint16_t csum(const uint8_t *p, size_t n)
{
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)p[i] << 8 | p[i + 1];
    if (n & 1)
        s += (uint32_t)p[n - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* Turns the echo request in p (n bytes) into the reply a host would send. */
static void to_reply(uint8_t *p, size_t n, int v6)
{
    p[0] = v6 ? 129 : 0;
    p[2] = p[3] = 0;
    if (!v6) {
        uint16_t c = csum(p, n);
        p[2] = (uint8_t)(c >> 8);
        p[3] = (uint8_t)c;
    }
}

/* Prepends a 20-byte IPv4 header (ttl, protocol 1) to the n bytes at icmp; returns the length. */
static size_t with_ipv4(uint8_t *out, const uint8_t *icmp, size_t n, uint8_t ttl)
{
    memset(out, 0, 20);
    out[0] = 0x45;
    out[2] = (uint8_t)((n + 20) >> 8);
    out[3] = (uint8_t)(n + 20);
    out[8] = ttl;
    out[9] = 1;
    memcpy(out + 20, icmp, n);
    return n + 20;
}

static int near(double a, double b)
{
    return fabs(a - b) < 1e-12;
}

/* ---- building ---------------------------------------------------------------------------- */

static void build_ipv4_bytes(void **state)
{
    (void)state;
    uint8_t p[64];
    int n = icmp_echo_build(p, sizeof p, 0, 0x1234, 0xabcd, 0x0102030405060708ull, 12);
    assert_int_equal(n, 20);
    const uint8_t want[] = {8, 0, 0, 0, 0x12, 0x34, 0xab, 0xcd, 1,  2,
                            3, 4, 5, 6, 7,    8,    8,    9,    10, 11};
    assert_int_equal(p[0], 8);
    assert_int_equal(p[1], 0);
    assert_memory_equal(p + 4, want + 4, sizeof want - 4);
    assert_int_equal(csum(p, (size_t)n), 0); /* the checksum makes the sum come out right */
}

static void build_ipv6_and_small_sizes(void **state)
{
    (void)state;
    uint8_t p[64];
    int n = icmp_echo_build(p, sizeof p, 1, 7, 9, 42, 56);
    assert_int_equal(n, 64);
    assert_int_equal(p[0], 128);
    assert_int_equal(p[2] | p[3], 0); /* the kernel fills the ICMPv6 checksum in */
    /* Below 8 bytes there is no room for the stamp: the pattern only. */
    n = icmp_echo_build(p, sizeof p, 0, 7, 9, 0xffffffffffffffffull, 5);
    assert_int_equal(n, 13);
    for (int i = 0; i < 5; i++)
        assert_int_equal(p[8 + i], i);
    assert_int_equal(icmp_echo_build(p, sizeof p, 0, 7, 9, 1, 0), 8);
    assert_int_equal(csum(p, 8), 0);
    /* Odd lengths are checksummed with a zero pad byte. */
    n = icmp_echo_build(p, sizeof p, 0, 7, 9, 3, 9);
    assert_int_equal(n, 17);
    assert_int_equal(csum(p, 17), 0);
}

static void build_refuses_too_big(void **state)
{
    (void)state;
    uint8_t small[16];
    memset(small, 0x5a, sizeof small);
    assert_int_equal(icmp_echo_build(small, sizeof small, 0, 1, 1, 1, 9), -EINVAL);
    for (size_t i = 0; i < sizeof small; i++)
        assert_int_equal(small[i], 0x5a); /* untouched */
    uint8_t *big = mem_alloc(ICMP_MAX_PAYLOAD + 16);
    assert_non_null(big);
    assert_int_equal(icmp_echo_build(big, ICMP_MAX_PAYLOAD + 16, 0, 1, 1, 1, ICMP_MAX_PAYLOAD),
                     ICMP_MAX_PAYLOAD + 8);
    assert_int_equal(csum(big, ICMP_MAX_PAYLOAD + 8), 0);
    assert_int_equal(icmp_echo_build(big, ICMP_MAX_PAYLOAD + 16, 0, 1, 1, 1, ICMP_MAX_PAYLOAD + 1),
                     -EINVAL);
    mem_free(big);
}

/* ---- parsing ----------------------------------------------------------------------------- */

static void parse_round_trip(void **state)
{
    (void)state;
    uint8_t p[128], ip[160];
    for (int v6 = 0; v6 < 2; v6++) {
        int n = icmp_echo_build(p, sizeof p, v6, 0xbeef, 65535, 123456789, 56);
        to_reply(p, (size_t)n, v6);
        icmp_reply r;
        const char *why = NULL;
        assert_int_equal(icmp_reply_parse(p, (size_t)n, v6, 0, &r, &why), 0);
        assert_int_equal(r.ident, 0xbeef);
        assert_int_equal(r.seq, 65535);
        assert_int_equal(r.ttl, -1);
        assert_int_equal(r.plen, 56);
        assert_ptr_equal(r.payload, p + 8);
        assert_true(icmp_payload_ok(r.payload, r.plen, 56, 123456789));
    }
    /* Raw IPv4: the header is skipped and its TTL kept. */
    int n = icmp_echo_build(p, sizeof p, 0, 1, 2, 3, 20);
    to_reply(p, (size_t)n, 0);
    size_t m = with_ipv4(ip, p, (size_t)n, 57);
    icmp_reply r;
    const char *why = NULL;
    assert_int_equal(icmp_reply_parse(ip, m, 0, 1, &r, &why), 0);
    assert_int_equal(r.ttl, 57);
    assert_int_equal(r.seq, 2);
    assert_int_equal(r.plen, 20);
    /* IP options (IHL 6): still found. */
    uint8_t opt[160];
    memcpy(opt, ip, 20);
    opt[0] = 0x46;
    memset(opt + 20, 1, 4);
    memcpy(opt + 24, p, (size_t)n);
    opt[2] = (uint8_t)((n + 24) >> 8);
    opt[3] = (uint8_t)(n + 24);
    assert_int_equal(icmp_reply_parse(opt, (size_t)n + 24, 0, 1, &r, &why), 0);
    assert_int_equal(r.plen, 20);
    /* Trailing bytes past the IP total length are not part of the reply. */
    ip[m] = 0xee;
    assert_int_equal(icmp_reply_parse(ip, m + 1, 0, 1, &r, &why), 0);
    assert_int_equal(r.plen, 20);
}

typedef struct bad_case {
    const char *name;
    int v6, with_ip;
    void (*mangle)(uint8_t *p, size_t *n);
} bad_case;

static void m_request(uint8_t *p, size_t *n)
{
    (void)n;
    p[20] = 8;
}
static void m_unreach(uint8_t *p, size_t *n)
{
    (void)n;
    p[20] = 3;
}
static void m_code(uint8_t *p, size_t *n)
{
    (void)n;
    p[21] = 1;
}
static void m_csum(uint8_t *p, size_t *n)
{
    (void)n;
    p[30] ^= 0x40;
}
static void m_version(uint8_t *p, size_t *n)
{
    (void)n;
    p[0] = 0x65;
}
static void m_ihl_small(uint8_t *p, size_t *n)
{
    (void)n;
    p[0] = 0x44;
}
static void m_ihl_big(uint8_t *p, size_t *n)
{
    (void)n;
    p[0] = 0x4f; /* 60 bytes of header in a shorter packet */
    *n = 40;
}
static void m_proto(uint8_t *p, size_t *n)
{
    (void)n;
    p[9] = 6;
}
static void m_totlen_big(uint8_t *p, size_t *n)
{
    p[2] = (uint8_t)((*n + 1) >> 8);
    p[3] = (uint8_t)(*n + 1);
}
static void m_totlen_small(uint8_t *p, size_t *n)
{
    (void)n;
    p[2] = 0;
    p[3] = 24; /* leaves 4 bytes: no ICMP header */
}
static void m_v6_request(uint8_t *p, size_t *n)
{
    (void)n;
    p[0] = 128;
}
static void m_v6_unreach(uint8_t *p, size_t *n)
{
    (void)n;
    p[0] = 1;
}
static void m_v6_code(uint8_t *p, size_t *n)
{
    (void)n;
    p[1] = 4;
}

static void parse_rejects_malformed(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"echo request", 0, 1, m_request},
        {"destination unreachable", 0, 1, m_unreach},
        {"code 1", 0, 1, m_code},
        {"bad checksum", 0, 1, m_csum},
        {"IP version 6 in an IPv4 socket", 0, 1, m_version},
        {"IHL 4", 0, 1, m_ihl_small},
        {"IHL past the packet", 0, 1, m_ihl_big},
        {"TCP", 0, 1, m_proto},
        {"total length past the packet", 0, 1, m_totlen_big},
        {"total length too short", 0, 1, m_totlen_small},
        {"ICMPv6 echo request", 1, 0, m_v6_request},
        {"ICMPv6 unreachable", 1, 0, m_v6_unreach},
        {"ICMPv6 code 4", 1, 0, m_v6_code},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const bad_case *c = &cases[i];
        uint8_t icmp[128], p[160];
        int n = icmp_echo_build(icmp, sizeof icmp, c->v6, 1, 2, 3, 56);
        to_reply(icmp, (size_t)n, c->v6);
        size_t len = (size_t)n;
        if (c->with_ip)
            len = with_ipv4(p, icmp, (size_t)n, 64);
        else
            memcpy(p, icmp, (size_t)n);
        c->mangle(p, &len);
        icmp_reply r, before;
        memset(&r, 0x77, sizeof r);
        before = r;
        const char *why = NULL;
        if (icmp_reply_parse(p, len, c->v6, c->with_ip, &r, &why) != -EINVAL)
            fail_msg("%s: accepted", c->name);
        if (!why || !why[0])
            fail_msg("%s: no reason", c->name);
        if (memcmp(&r, &before, sizeof r))
            fail_msg("%s: output written on failure", c->name);
    }
}

static void parse_rejects_every_truncation(void **state)
{
    (void)state;
    uint8_t icmp[64], p[100];
    int n = icmp_echo_build(icmp, sizeof icmp, 0, 1, 2, 3, 30);
    to_reply(icmp, (size_t)n, 0);
    size_t m = with_ipv4(p, icmp, (size_t)n, 64);
    for (size_t len = 0; len < m; len++) {
        icmp_reply r;
        const char *why = NULL;
        /* Each copy is exactly len bytes, so ASan sees any read past the end. */
        uint8_t *cp = mem_alloc(len ? len : 1);
        memcpy(cp, p, len);
        if (icmp_reply_parse(cp, len, 0, 1, &r, &why) != -EINVAL)
            fail_msg("raw IPv4 reply cut to %zu bytes accepted", len);
        mem_free(cp);
    }
    for (size_t len = 0; len < 8; len++) {
        icmp_reply r;
        const char *why = NULL;
        uint8_t *cp = mem_alloc(len ? len : 1);
        memcpy(cp, icmp, len);
        assert_int_equal(icmp_reply_parse(cp, len, 1, 0, &r, &why), -EINVAL);
        assert_int_equal(icmp_reply_parse(cp, len, 0, 0, &r, &why), -EINVAL);
        mem_free(cp);
    }
}

/* Random bytes and random mutations of a good reply: never a crash, never a read outside
 * the buffer (ASan), and an accepted reply always points inside it. */
static void parse_survives_garbage(void **state)
{
    (void)state;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    uint8_t good[120], tmpl[140];
    int n = icmp_echo_build(good, sizeof good, 0, 1, 2, 3, 100);
    to_reply(good, (size_t)n, 0);
    size_t m = with_ipv4(tmpl, good, (size_t)n, 64);
    for (int iter = 0; iter < 200000; iter++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t len = (size_t)(x % (m + 1));
        uint8_t *p = mem_alloc(len ? len : 1);
        if (iter & 1) {
            memcpy(p, tmpl, len);
            for (int k = 0; k < 3 && len; k++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                p[x % len] = (uint8_t)(x >> 32);
            }
        } else {
            for (size_t i = 0; i < len; i++)
                p[i] = (uint8_t)(x >> (8 * (i % 8)));
        }
        int v6 = (int)(x >> 40) & 1, ip = (int)(x >> 41) & 1;
        icmp_reply r;
        const char *why = NULL;
        if (icmp_reply_parse(p, len, v6, ip, &r, &why) == 0) {
            assert_true(r.payload >= p + 8 && r.payload + r.plen <= p + len);
            (void)icmp_payload_ok(r.payload, r.plen, 100, 3);
        } else {
            assert_non_null(why);
        }
        mem_free(p);
    }
}

static void payload_checks(void **state)
{
    (void)state;
    uint8_t p[80];
    icmp_echo_build(p, sizeof p, 0, 1, 2, 0x1122334455667788ull, 56);
    const uint8_t *pl = p + 8;
    assert_true(icmp_payload_ok(pl, 56, 56, 0x1122334455667788ull));
    assert_false(icmp_payload_ok(pl, 56, 56, 0x1122334455667789ull)); /* another send time */
    assert_false(icmp_payload_ok(pl, 55, 56, 0x1122334455667788ull)); /* short */
    assert_false(icmp_payload_ok(pl, 56, 57, 0x1122334455667788ull));
    p[8 + 40] ^= 1;
    assert_false(icmp_payload_ok(pl, 56, 56, 0x1122334455667788ull)); /* corrupted */
    icmp_echo_build(p, sizeof p, 0, 1, 2, 99, 4);
    assert_true(icmp_payload_ok(pl, 4, 4, 12345)); /* no stamp below 8 bytes */
    assert_true(icmp_payload_ok(pl, 0, 0, 1));
}

/* ---- statistics -------------------------------------------------------------------------- */

static void stats_odd_even_single(void **state)
{
    (void)state;
    icmp_stats s;
    double odd[] = {0.003, 0.001, 0.002};
    assert_int_equal(icmp_stats_compute(odd, 3, &s), 0);
    assert_true(near(s.min, 0.001));
    assert_true(near(s.max, 0.003));
    assert_true(near(s.median, 0.002));
    assert_true(near(s.avg, 0.002));
    assert_true(near(s.stddev, sqrt(2.0 / 3) * 0.001));
    double even[] = {4, 1, 3, 2};
    assert_int_equal(icmp_stats_compute(even, 4, &s), 0);
    assert_true(near(s.median, 2.5));
    assert_true(near(s.avg, 2.5));
    assert_true(near(s.stddev, sqrt(1.25)));
    assert_true(near(s.min, 1));
    assert_true(near(s.max, 4));
    double one[] = {0.0005};
    assert_int_equal(icmp_stats_compute(one, 1, &s), 0);
    assert_true(near(s.median, 0.0005) && near(s.min, 0.0005) && near(s.max, 0.0005));
    assert_true(near(s.stddev, 0));
    double two[] = {0.01, 0.03};
    assert_int_equal(icmp_stats_compute(two, 2, &s), 0);
    assert_true(near(s.median, 0.02));
    assert_true(near(s.stddev, 0.01));
    icmp_stats untouched = {1, 2, 3, 4, 5};
    s = untouched;
    assert_int_equal(icmp_stats_compute(NULL, 0, &s), -EINVAL);
    assert_memory_equal(&s, &untouched, sizeof s);
}

static void loss_ratio(void **state)
{
    (void)state;
    assert_true(near(icmp_loss_ratio(3, 3), 0));
    assert_true(near(icmp_loss_ratio(3, 0), 1));
    assert_true(near(icmp_loss_ratio(4, 1), 0.75));
    assert_true(near(icmp_loss_ratio(0, 0), 1));
    assert_true(near(icmp_loss_ratio(2, 5), 0)); /* duplicates never make it negative */
}

static void deadline_margin(void **state)
{
    (void)state;
    static const int64_t cases[][2] = {
        {10000, 9950}, {1000, 950}, {2000, 1950}, {100, 95}, {10, 9}, {2, 1}, {1, 1}, {0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (icmp_deadline_ms(cases[i][0]) != cases[i][1])
            fail_msg("deadline(%lld) = %lld, want %lld", (long long)cases[i][0],
                     (long long)icmp_deadline_ms(cases[i][0]), (long long)cases[i][1]);
}

/* ---- the sequence table ------------------------------------------------------------------ */

static void seqtab_basics(void **state)
{
    (void)state;
    icmp_seqtab t;
    int a, b;
    icmp_seqtab_init(&t);
    assert_null(icmp_seqtab_get(&t, 5));
    assert_int_equal(icmp_seqtab_put(&t, 5, &a), 0);
    assert_int_equal(icmp_seqtab_put(&t, 5, &b), -EEXIST);
    assert_int_equal(icmp_seqtab_put(&t, 6, NULL), -EINVAL);
    assert_int_equal(icmp_seqtab_put(&t, 65535, &b), 0);
    assert_ptr_equal(icmp_seqtab_get(&t, 5), &a);
    assert_ptr_equal(icmp_seqtab_get(&t, 65535), &b);
    assert_null(icmp_seqtab_get(&t, 4));
    assert_int_equal(t.len, 2);
    assert_ptr_equal(icmp_seqtab_del(&t, 5), &a);
    assert_null(icmp_seqtab_del(&t, 5));
    assert_null(t.page[0]); /* an emptied page is freed */
    assert_non_null(t.page[255]);
    icmp_seqtab_free(&t);
    icmp_seqtab_free(&t); /* twice is harmless */
}

static void seqtab_alloc_wraps_and_fills(void **state)
{
    (void)state;
    icmp_seqtab t;
    int v;
    uint16_t next = 65534, s;
    icmp_seqtab_init(&t);
    assert_int_equal(icmp_seqtab_alloc(&t, &next, &v, &s), 0);
    assert_int_equal(s, 65534);
    assert_int_equal(icmp_seqtab_put(&t, 65535, &v), 0);
    assert_int_equal(icmp_seqtab_put(&t, 0, &v), 0);
    assert_int_equal(icmp_seqtab_alloc(&t, &next, &v, &s), 0); /* skips two taken numbers */
    assert_int_equal(s, 1);
    assert_int_equal(next, 2);
    assert_int_equal(icmp_seqtab_alloc(&t, &next, NULL, &s), -EINVAL);
    while (t.len < 65536)
        assert_int_equal(icmp_seqtab_alloc(&t, &next, &v, &s), 0);
    s = 4242;
    assert_int_equal(icmp_seqtab_alloc(&t, &next, &v, &s), -EBUSY);
    assert_int_equal(s, 4242);
    assert_ptr_equal(icmp_seqtab_del(&t, 777), &v);
    assert_int_equal(icmp_seqtab_alloc(&t, &next, &v, &s), 0);
    assert_int_equal(s, 777);
    icmp_seqtab_free(&t);
}

static void seqtab_out_of_memory(void **state)
{
    (void)state;
    icmp_seqtab t;
    int v;
    icmp_seqtab_init(&t);
    mem_fail_after(0);
    assert_int_equal(icmp_seqtab_put(&t, 300, &v), -ENOMEM);
    mem_fail_after(-1);
    assert_int_equal(t.len, 0);
    assert_null(icmp_seqtab_get(&t, 300));
    icmp_seqtab_free(&t);
}

/* ---- settings ------------------------------------------------------------------------------ */

static int def_from(const char *settings, const char *address, probe_def **d, char *err,
                    size_t errcap)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"probe\":1,\"type\":\"icmp\",\"name\":\"p\",\"target\":\"%s\",\"address\":\"%s\","
             "\"timeout_ms\":%d,\"interval_ms\":60000,\"settings\":%s}",
             address, address, 2000, settings);
    json_error_t je;
    json_t *o = json_loads(text, 0, &je);
    assert_non_null(o);
    int rc = probe_def_from_json(o, d, err, errcap);
    json_decref(o);
    return rc;
}

static void settings_checked(void **state)
{
    (void)state;
    static const struct {
        const char *settings, *address, *why;
    } bad[] = {
        {"{\"count\":0}", "127.0.0.1", "count"},
        {"{\"count\":101}", "127.0.0.1", "count"},
        {"{\"count\":\"3\"}", "127.0.0.1", "count"},
        {"{\"count\":2.5}", "127.0.0.1", "count"},
        {"{\"size\":-1}", "127.0.0.1", "size"},
        {"{\"size\":65501}", "127.0.0.1", "size"},
        {"{\"ip_protocol\":\"ipv5\"}", "127.0.0.1", "ip_protocol"},
        {"{\"ip_protocol\":4}", "127.0.0.1", "ip_protocol"},
        {"{}", "", "address"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        probe_def *d = NULL;
        char err[256] = "";
        if (def_from(bad[i].settings, bad[i].address, &d, err, sizeof err) != -EINVAL)
            fail_msg("%s accepted", bad[i].settings);
        if (!strstr(err, bad[i].why))
            fail_msg("%s: reason \"%s\" does not name %s", bad[i].settings, err, bad[i].why);
        assert_null(d);
    }
    static const char *const good[] = {
        "{}",
        "{\"count\":1,\"size\":0}",
        "{\"count\":100,\"size\":65500}",
        "{\"count\":null,\"ip_protocol\":\"ipv6\"}",
        "{\"ip_protocol\":\"auto\",\"other\":1}",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        probe_def *d = NULL;
        char err[256] = "";
        if (def_from(good[i], "example.com", &d, err, sizeof err))
            fail_msg("%s refused: %s", good[i], err);
        probe_def_unref(d);
    }
}

/* ---- whole runs on the loopback interface ------------------------------------------------- */

#define MAX_RUNS 16

typedef struct outcome {
    int done, success, timed_out;
    char msg[PROBE_MSG_MAX];
    double sent, received, loss, median, rtt, hop, proto;
    int has_rtt;
} outcome;

static double sample(const probe_result *res, const char *metric, const char *stat, int *found)
{
    for (size_t i = 0; i < res->nsamples; i++) {
        const probe_sample *s = &res->samples[i];
        if (strcmp(s->metric, metric))
            continue;
        int ok = !stat;
        for (size_t k = 0; stat && s->labels[k]; k += 2)
            if (!strcmp(s->labels[k], "stat") && !strcmp(s->labels[k + 1], stat))
                ok = 1;
        if (ok) {
            if (found)
                *found = 1;
            return s->v;
        }
    }
    return -1;
}

static void on_end(void *ctx, probe_run *r, const probe_result *res)
{
    outcome *o = ctx;
    o->done = 1;
    o->success = res->success;
    o->timed_out = res->timed_out;
    snprintf(o->msg, sizeof o->msg, "%s", res->message);
    o->sent = sample(res, "probe_icmp_packets_sent", NULL, NULL);
    o->received = sample(res, "probe_icmp_packets_received", NULL, NULL);
    o->loss = sample(res, "probe_icmp_packet_loss_ratio", NULL, NULL);
    o->median = sample(res, "probe_icmp_rtt_seconds", "median", &o->has_rtt);
    o->rtt = sample(res, "probe_icmp_duration_seconds", NULL, NULL);
    o->hop = sample(res, "probe_icmp_reply_hop_limit", NULL, NULL);
    o->proto = sample(res, "probe_ip_protocol", NULL, NULL);
    probe_run_free(r);
}

typedef struct harness {
    uv_loop_t loop;
    probe_env env;
    probe_run *runs[MAX_RUNS];
    outcome out[MAX_RUNS];
    uv_timer_t cancel;
} harness;

static void on_cancel(uv_timer_t *t)
{
    harness *h = t->data;
    for (int i = 0; i < MAX_RUNS; i++)
        if (h->runs[i] && !h->out[i].done)
            probe_run_cancel(h->runs[i], "cancelled by the test");
}

/* Runs nruns runs of one definition at once; cancels those still going after cancel_ms (0:
 * never; -1: at once, before the loop has read the replies already waiting in the socket). Returns
 * once all ended, then a further 300 ms so late replies arrive with no run to go to, then closes
 * everything. */
static void run_many(const char *settings, const char *address, int timeout_ms, int nruns,
                     int cancel_ms, outcome *out)
{
    harness *h = mem_calloc(1, sizeof *h);
    probe_opts opts = {.vantage = "test"};
    char text[1024], err[256];
    snprintf(text, sizeof text,
             "{\"probe\":1,\"type\":\"icmp\",\"name\":\"p\",\"target\":\"%s\",\"address\":\"%s\","
             "\"timeout_ms\":%d,\"interval_ms\":60000,\"settings\":%s}",
             address, address, timeout_ms, settings);
    json_error_t je;
    json_t *o = json_loads(text, 0, &je);
    probe_def *d = NULL;
    assert_int_equal(probe_def_from_json(o, &d, err, sizeof err), 0);
    json_decref(o);
    assert_int_equal(uv_loop_init(&h->loop), 0);
    assert_int_equal(probe_env_init(&h->env, &h->loop, &opts), 0);
    uv_timer_init(&h->loop, &h->cancel);
    h->cancel.data = h;
    if (cancel_ms > 0)
        uv_timer_start(&h->cancel, on_cancel, (uint64_t)cancel_ms, 0);
    for (int i = 0; i < nruns; i++) {
        assert_int_equal(probe_run_new(&h->runs[i], &h->env, d, 0, on_end, &h->out[i]), 0);
        probe_run_start(h->runs[i]);
    }
    if (cancel_ms < 0)
        on_cancel(&h->cancel);
    for (;;) {
        int all = 1;
        for (int i = 0; i < nruns; i++)
            all &= h->out[i].done;
        if (all)
            break;
        uv_run(&h->loop, UV_RUN_ONCE);
    }
    /* Late replies: must find no run (ASan would catch a use after free). */
    uv_timer_start(&h->cancel, on_cancel, 300, 0);
    uv_run(&h->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&h->cancel, NULL);
    probe_env_close(&h->env);
    uv_run(&h->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&h->loop), 0);
    probe_def_unref(d);
    memcpy(out, h->out, (size_t)nruns * sizeof *out);
    mem_free(h);
}

/* Without CAP_NET_RAW nor the ping_group_range sysctl no socket opens: the run must then fail
 * cleanly and say why (these tests also run as an ordinary user). */
static int no_socket(const outcome *o)
{
    if (!o->success && strstr(o->msg, "cannot open an ICMP")) {
        assert_int_equal(o->timed_out, 0);
        return 1;
    }
    return 0;
}

static void run_loopback_v4_v6(void **state)
{
    (void)state;
    static const char *const addrs[] = {"127.0.0.1", "::1"};
    for (int a = 0; a < 2; a++) {
        outcome o;
        run_many("{\"count\":3}", addrs[a], 2000, 1, 0, &o);
        if (no_socket(&o))
            continue;
        if (!o.success)
            fail_msg("%s: %s", addrs[a], o.msg);
        assert_int_equal(o.timed_out, 0);
        assert_true(near(o.sent, 3) && near(o.received, 3) && near(o.loss, 0));
        assert_true(o.has_rtt && o.median > 0 && o.median < 0.1);
        assert_true(near(o.rtt, o.median));
        assert_true(o.hop >= 1 && o.hop <= 255);
        assert_true(near(o.proto, a ? 6 : 4));
    }
}

static void run_family_mismatch(void **state)
{
    (void)state;
    outcome o;
    run_many("{\"ip_protocol\":\"ipv4\"}", "::1", 2000, 1, 0, &o);
    assert_false(o.success);
    assert_non_null(strstr(o.msg, "resolve ::1"));
    assert_true(o.sent < 0); /* no packet samples before an address */
}

/* 20 packets take 1.9 s to send; with a 600 ms timeout the run ends itself just before it
 * with what it sent and got, not as a bare timeout. */
static void run_ends_before_timeout(void **state)
{
    (void)state;
    outcome o;
    run_many("{\"count\":20}", "127.0.0.1", 600, 1, 0, &o);
    if (no_socket(&o))
        return;
    assert_int_equal(o.timed_out, 0);
    assert_true(o.success);
    assert_true(o.sent >= 5 && o.sent <= 7);
    assert_true(near(o.received, o.sent));
    assert_non_null(strstr(o.msg, "of 20 echo requests fit in the timeout"));
}

/* Cancelled after the second send: the run reports nothing of its own (a timeout), and the
 * replies to its packets that come later must not touch it. */
static void run_cancelled(void **state)
{
    (void)state;
    outcome o[4];
    run_many("{\"count\":10,\"size\":1000}", "127.0.0.1", 5000, 4, 150, o);
    for (int i = 0; i < 4; i++) {
        assert_true(o[i].done);
        assert_false(o[i].success);
        assert_true(o[i].timed_out || no_socket(&o[i]));
    }
    /* At once: the first packet went out in start and its reply waits in the socket (loopback
     * answers within the send) when the run is cancelled; then the next runs must work. */
    for (int a = 0; a < 2; a++) {
        const char *addr = a ? "::1" : "127.0.0.1";
        run_many("{\"count\":3}", addr, 5000, 4, -1, o);
        for (int i = 0; i < 4; i++)
            assert_true(o[i].done && !o[i].success && (o[i].timed_out || no_socket(&o[i])));
        run_many("{\"count\":2}", addr, 2000, 2, 0, o);
        for (int i = 0; i < 2; i++)
            if (!no_socket(&o[i]) && (!o[i].success || !near(o[i].received, 2)))
                fail_msg("%s after a cancel: %s", addr, o[i].msg);
    }
}

static void run_many_at_once(void **state)
{
    (void)state;
    outcome o[MAX_RUNS];
    run_many("{\"count\":5,\"size\":200}", "127.0.0.1", 3000, MAX_RUNS, 0, o);
    for (int i = 0; i < MAX_RUNS; i++) {
        if (no_socket(&o[i]))
            continue;
        if (!o[i].success || !near(o[i].received, 5))
            fail_msg("run %d: %s, %g of %g", i, o[i].msg, o[i].received, o[i].sent);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(build_ipv4_bytes),
        cmocka_unit_test(build_ipv6_and_small_sizes),
        cmocka_unit_test(build_refuses_too_big),
        cmocka_unit_test(parse_round_trip),
        cmocka_unit_test(parse_rejects_malformed),
        cmocka_unit_test(parse_rejects_every_truncation),
        cmocka_unit_test(parse_survives_garbage),
        cmocka_unit_test(payload_checks),
        cmocka_unit_test(stats_odd_even_single),
        cmocka_unit_test(loss_ratio),
        cmocka_unit_test(deadline_margin),
        cmocka_unit_test(seqtab_basics),
        cmocka_unit_test(seqtab_alloc_wraps_and_fills),
        cmocka_unit_test(seqtab_out_of_memory),
        cmocka_unit_test(settings_checked),
        cmocka_unit_test(run_loopback_v4_v6),
        cmocka_unit_test(run_family_mismatch),
        cmocka_unit_test(run_ends_before_timeout),
        cmocka_unit_test(run_cancelled),
        cmocka_unit_test(run_many_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
