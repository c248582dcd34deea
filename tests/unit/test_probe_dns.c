/* test_probe_dns: the dns probe's message codec (query building, the strict answer parser with
 * valid and hostile messages, presentation form, every truncation and random mutations of
 * valid answers), its settings, and runs on a libuv loop against in-process UDP and TCP peers:
 * answers, rcodes, expect, malformed answers, cancellation at the timeout with sockets open,
 * and hundreds of runs at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/probes/dns_int.h"
#include "agent/probes/probe_int.h"
#include "lib/buf.h"
#include "lib/mem.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------------------ */

/* Decodes hex with any spaces into out; returns the length. */
static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (; *s; s++) {
        int v = 0;
        if (*s == ' ')
            continue;
        if (*s >= '0' && *s <= '9')
            v = *s - '0';
        else if (*s >= 'a' && *s <= 'f')
            v = *s - 'a' + 10;
        else
            fail_msg("bad hex character '%c'", *s);
        if (hi < 0) {
            hi = v;
        } else {
            assert_true(n < cap);
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    assert_int_equal(hi, -1);
    return n;
}

/* The question www.example.com A IN, at byte 12 (www at 12, example at 16, com at 24). */
#define QWWW "03777777 076578616d706c65 03636f6d 00 0001 0001"
#define QWWW_AAAA "03777777 076578616d706c65 03636f6d 00 001c 0001"
/* Headers: id 1234, QR RD RA, rcode and counts as named. */
#define H(an, ns, ar) "1234 8180 0001 " an " " ns " " ar " "
#define HX(flags, an, ns, ar) "1234 " flags " 0001 " an " " ns " " ar " "

/* ---- query building ----------------------------------------------------------------------- */

typedef struct qcase {
    const char *name;
    uint16_t type;
    const char *hex; /* NULL: an error containing err */
    const char *err;
} qcase;

static void query_build_table(void **state)
{
    (void)state;
    static char l63[64], n255[300], n256[300];
    memset(l63, 'a', 63);
    /* 3 labels of 63 and one of 61: 3*64 + 62 + 1 = 255 wire bytes; one byte more is 256. */
    snprintf(n255, sizeof n255, "%s.%s.%s.%.61s", l63, l63, l63, l63);
    snprintf(n256, sizeof n256, "%s.%s.%s.%.62s", l63, l63, l63, l63);
    static char l64[80];
    snprintf(l64, sizeof l64, "%sa.example", l63);
    const qcase cases[] = {
        {"www.example.com", 1, "0000 0100 0001 0000 0000 0000 " QWWW, NULL},
        {"www.example.com.", 1, "0000 0100 0001 0000 0000 0000 " QWWW, NULL},
        {"www.example.com", 28, "0000 0100 0001 0000 0000 0000 " QWWW_AAAA, NULL},
        {".", 2, "0000 0100 0001 0000 0000 0000 00 0002 0001", NULL},
        {"a\\.b.x", 16, "0000 0100 0001 0000 0000 0000 03612e62 0178 00 0010 0001", NULL},
        {"\\065bc", 1, "0000 0100 0001 0000 0000 0000 03416263 00 0001 0001", NULL},
        {"\\000", 1, "0000 0100 0001 0000 0000 0000 0100 00 0001 0001", NULL},
        {"", 1, NULL, "empty"},
        {"a..b", 1, NULL, "empty label"},
        {".a", 1, NULL, "empty label"},
        {"..", 1, NULL, "empty label"},
        {"a\\", 1, NULL, "backslash"},
        {"a\\25", 1, NULL, "DDD"},
        {"a\\256", 1, NULL, "over 255"},
        {l64, 1, NULL, "longer than 63"},
        {n256, 1, NULL, "longer than 255"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const qcase *c = &cases[i];
        uint8_t out[DNS_QUERY_MAX], want[DNS_QUERY_MAX];
        size_t len = 7777;
        char err[256] = "";
        memset(out, 0xAA, sizeof out);
        int rc = dns_query_build(c->name, c->type, 0, 1, out, &len, err, sizeof err);
        if (!c->hex) {
            if (rc != -EINVAL || !strstr(err, c->err))
                fail_msg("build(\"%s\"): rc %d \"%s\", want -EINVAL \"%s\"", c->name, rc, err,
                         c->err);
            if (len != 7777 || out[0] != 0xAA)
                fail_msg("build(\"%s\"): output written on failure", c->name);
            continue;
        }
        size_t wn = unhex(c->hex, want, sizeof want);
        if (rc || len != wn || memcmp(out, want, wn))
            fail_msg("build(\"%s\"): rc %d len %zu, want %zu bytes (%s)", c->name, rc, len, wn,
                     err);
    }
    /* The longest name fits exactly, with its root, type and class. */
    uint8_t out[DNS_QUERY_MAX];
    size_t len;
    char err[256];
    assert_int_equal(dns_query_build(n255, 1, 7, 0, out, &len, err, sizeof err), 0);
    assert_int_equal(len, DNS_QUERY_MAX);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[1], 7);
    assert_int_equal(out[2], 0); /* no RD */
}

/* ---- parsing valid answers ---------------------------------------------------------------- */

typedef struct pcase {
    const char *what;
    const char *hex;
    int rcode;
    int an, ns, ar;
    const char *text[4]; /* every record's presentation form, in order */
} pcase;

static const pcase valid[] = {
    {"A",
     H("0001", "0000", "0000") QWWW " c00c 0001 0001 0000012c 0004 c0000201",
     0,
     1,
     0,
     0,
     {"www.example.com.\t300\tIN\tA\t192.0.2.1"}},
    {"AAAA",
     H("0001", "0000", "0000") QWWW_AAAA
     " c00c 001c 0001 00000e10 0010 20010db8000000000000000000000001",
     0,
     1,
     0,
     0,
     {"www.example.com.\t3600\tIN\tAAAA\t2001:db8::1"}},
    /* The second record's name points into the first one's RDATA, which points on: a chain of
     * two pointers, each further back. */
    {"CNAME chain",
     H("0002", "0000", "0000") QWWW " c00c 0005 0001 0000003c 0006 03776562 c010"
                                    " c02d 0001 0001 0000003c 0004 c0000202",
     0,
     2,
     0,
     0,
     {"www.example.com.\t60\tIN\tCNAME\tweb.example.com.",
      "web.example.com.\t60\tIN\tA\t192.0.2.2"}},
    {"MX",
     H("0001", "0000", "0000") QWWW " c010 000f 0001 00000e10 0009 000a 046d61696c c010",
     0,
     1,
     0,
     0,
     {"example.com.\t3600\tIN\tMX\t10 mail.example.com."}},
    {"TXT",
     H("0001", "0000", "0000") QWWW
     " c00c 0010 0001 00000000 0013 0b763d73706631202d616c6c 06612262 5c630a",
     0,
     1,
     0,
     0,
     {"www.example.com.\t0\tIN\tTXT\t\"v=spf1 -all\" \"a\\\"b\\\\c\\010\""}},
    {"SRV",
     H("0001", "0000", "0000") QWWW " c00c 0021 0001 00015180 000c 000a 003c 13c4 03736970 c010",
     0,
     1,
     0,
     0,
     {"www.example.com.\t86400\tIN\tSRV\t10 60 5060 sip.example.com."}},
    {"SOA in authority, NXDOMAIN",
     HX("8183", "0000", "0001", "0000") QWWW
     " c010 0006 0001 00000e10 0027 036e7331 c010 0a686f73746d6173746572 c010"
     " 78a3f175 00001c20 00000e10 00127500 0000012c",
     3,
     0,
     1,
     0,
     {"example.com.\t3600\tIN\tSOA\tns1.example.com. hostmaster.example.com. 2024010101 7200 "
      "3600 1209600 300"}},
    {"NS and PTR",
     H("0002", "0000", "0000") QWWW " c010 0002 0001 00015180 0006 036e7331 c010"
                                    " c00c 000c 0001 00000001 0002 c018",
     0,
     2,
     0,
     0,
     {"example.com.\t86400\tIN\tNS\tns1.example.com.", "www.example.com.\t1\tIN\tPTR\tcom."}},
    {"escaped owner name",
     H("0001", "0000", "0000") QWWW
     " 03612e62 05737020 6365 0200ff c010 0001 0001 00000001 0004 7f000001",
     0,
     1,
     0,
     0,
     {"a\\.b.sp\\ ce.\\000\\255.example.com.\t1\tIN\tA\t127.0.0.1"}},
    {"root owner, class CH",
     H("0001", "0000", "0000") QWWW " 00 0010 0003 00000000 0004 03616263",
     0,
     1,
     0,
     0,
     {".\t0\tCH\tTXT\t\"abc\""}},
    {"unknown types (RFC 3597)",
     H("0002", "0000", "0000") QWWW
     " c00c 3039 0001 00000001 0003 010203 c00c 0101 00ff 00000001 0000",
     0,
     2,
     0,
     0,
     {"www.example.com.\t1\tIN\tTYPE12345\t\\# 3 010203", "www.example.com.\t1\tANY\tCAA\t\\# 0"}},
    {"A of class CH is not an address",
     H("0001", "0000", "0000") QWWW " c00c 0001 0003 00000001 0006 03616263 0102",
     0,
     1,
     0,
     0,
     {"www.example.com.\t1\tCH\tA\t\\# 6 036162630102"}},
    {"empty TXT",
     H("0001", "0000", "0000") QWWW " c00c 0010 0001 00000001 0000",
     0,
     1,
     0,
     0,
     {"www.example.com.\t1\tIN\tTXT\t"}},
    {"OPT extends the rcode",
     H("0000", "0000", "0001") QWWW " 00 0029 1000 01000000 0000",
     16,
     0,
     0,
     1,
     {".\t16777216\tCLASS4096\tOPT\t\\# 0"}},
    {"NODATA", H("0000", "0000", "0000") QWWW, 0, 0, 0, 0, {NULL}},
    {"FORMERR without a question", "1234 8181 0000 0000 0000 0000", 1, 0, 0, 0, {NULL}},
};

static void parse_valid_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        const pcase *c = &valid[i];
        uint8_t msg[1024];
        size_t len = unhex(c->hex, msg, sizeof msg);
        dns_msg m;
        char err[256] = "";
        int rc = dns_msg_parse(msg, len, &m, err, sizeof err);
        if (rc)
            fail_msg("%s: rc %d: %s", c->what, rc, err);
        if (m.rcode != c->rcode || m.ancount != c->an || m.nscount != c->ns || m.arcount != c->ar ||
            m.nrr != (size_t)(c->an + c->ns + c->ar))
            fail_msg("%s: rcode %d counts %u/%u/%u nrr %zu", c->what, m.rcode, m.ancount, m.nscount,
                     m.arcount, m.nrr);
        buf b;
        buf_init(&b, 0);
        for (size_t k = 0; k < m.nrr; k++) {
            buf_reset(&b);
            assert_int_equal(dns_rr_text(&m, &m.rr[k], &b), 0);
            if (!c->text[k] || strcmp(b.data, c->text[k]))
                fail_msg("%s: record %zu is\n  \"%s\", want\n  \"%s\"", c->what, k, b.data,
                         c->text[k] ? c->text[k] : "(none)");
        }
        buf_free(&b);
        dns_msg_free(&m);
        dns_msg_free(&m); /* twice is harmless */
    }
}

static void parse_header_fields(void **state)
{
    (void)state;
    uint8_t msg[256];
    size_t len = unhex("abcd 85b0 0001 0000 0000 0000 " QWWW, msg, sizeof msg);
    dns_msg m;
    char err[128];
    assert_int_equal(dns_msg_parse(msg, len, &m, err, sizeof err), 0);
    assert_int_equal(m.id, 0xabcd);
    assert_int_equal(m.qr, 1);
    assert_int_equal(m.opcode, 0);
    assert_int_equal(m.aa, 1);
    assert_int_equal(m.tc, 0);
    assert_int_equal(m.rd, 1);
    assert_int_equal(m.ra, 1);
    assert_int_equal(m.ad, 1);
    assert_int_equal(m.cd, 1);
    assert_int_equal(m.qtype, 1);
    assert_int_equal(m.qclass, 1);
    char q[DNS_NAME_TEXT_MAX];
    assert_int_equal(dns_name_text(m.p, m.len, m.qname, q, sizeof q, NULL, NULL, 0), 0);
    assert_string_equal(q, "www.example.com.");
    dns_msg_free(&m);
}

/* ---- parsing hostile messages ------------------------------------------------------------- */

typedef struct hcase {
    const char *what;
    const char *hex;
    const char *err; /* a part of the reason */
} hcase;

static const hcase hostile[] = {
    {"empty", "", "shorter than the 12-byte header"},
    {"11 bytes", "1234 8180 0001 0000 0000 00", "shorter than the 12-byte header"},
    {"a query", "1234 0100 0000 0000 0000 0000", "a query, not a response"},
    {"question missing", H("0000", "0000", "0000"), "question 1: name at byte 12 runs past"},
    {"question cut off", H("0000", "0000", "0000") "03777777 00 0001",
     "question 1 at byte 12 is cut off"},
    {"65535 questions", "1234 8180 ffff 0000 0000 0000 00 0001 0001", "question 2"},
    {"label type 0x40", H("0000", "0000", "0000") "40", "label type 0x40 at byte 12"},
    {"label type 0x80", H("0000", "0000", "0000") "8001 00", "label type 0x80 at byte 12"},
    {"label past the end", H("0000", "0000", "0000") "0a7777", "label at byte 12 runs past"},
    {"pointer into the header",
     H("0001", "0000", "0000") QWWW " c005 0001 0001 00000001 0004 01020304",
     "points into the header"},
    {"pointer to itself", H("0001", "0000", "0000") QWWW " c021 0001 0001 00000001 0004 01020304",
     "compression pointer at byte 33 points forward or loops (to byte 33)"},
    {"pointer back into its own name",
     H("0001", "0000", "0000") QWWW " 0161 c021 0001 0001 00000001 0004 01020304",
     "at byte 35 points forward or loops (to byte 33)"},
    {"pointer forward", H("0001", "0000", "0000") QWWW " c030 0001 0001 00000001 0004 01020304",
     "points forward or loops (to byte 48)"},
    {"pointer far out", H("0001", "0000", "0000") QWWW " ffff 0001 0001 00000001 0004 01020304",
     "points forward or loops (to byte 16383)"},
    {"pointer cut off", H("0001", "0000", "0000") QWWW " 09616161616161616161 c0",
     "compression pointer at byte 43 is cut off"},
    {"record cut off", H("0001", "0000", "0000") QWWW " c00c 0001 0001 00000001 00",
     "answer record 1 at byte 33 is cut off"},
    {"RDATA past the end", H("0001", "0000", "0000") QWWW " c00c 0001 0001 0000012c 0004 c000",
     "its RDATA runs past the end"},
    {"A of 5 bytes", H("0001", "0000", "0000") QWWW " c00c 0001 0001 00000001 0005 0102030405",
     "not 4"},
    {"AAAA of 4 bytes", H("0001", "0000", "0000") QWWW " c00c 001c 0001 00000001 0004 01020304",
     "not 16"},
    {"MX too short", H("0001", "0000", "0000") QWWW " c00c 000f 0001 00000001 0002 000a",
     "MX record's RDATA is too short"},
    {"SRV too short", H("0001", "0000", "0000") QWWW " c00c 0021 0001 00000001 0006 000a000a0035",
     "SRV record's RDATA is too short"},
    {"CNAME past its RDATA",
     H("0002", "0000", "0000") QWWW
     " c00c 0005 0001 00000001 0002 03776562 00 c00c 0001 0001 00000001 0004 01020304",
     "runs past its end"},
    {"CNAME with bytes left over",
     H("0001", "0000", "0000") QWWW " c00c 0005 0001 00000001 0007 03776562 00 0102",
     "2 bytes left over"},
    {"CNAME pointing forward", H("0001", "0000", "0000") QWWW " c00c 0005 0001 00000001 0002 c0ff",
     "points forward or loops"},
    {"TXT string past its RDATA",
     H("0001", "0000", "0000") QWWW " c00c 0010 0001 00000001 0003 05616263 6465",
     "TXT string at byte 45 runs past"},
    {"SOA too short",
     H("0001", "0000", "0000") QWWW " c00c 0006 0001 00000001 000c 00 00 78a3f175 00001c20 0000",
     "SOA record's RDATA is too short"},
    {"counts beyond the bytes", H("ea60", "0000", "0000") QWWW,
     "counts 60000 records but only 0 bytes"},
    {"authority missing", H("0000", "0001", "0000") QWWW " 00",
     "counts 1 records but only 1 bytes"},
    {"additional cut off", H("0000", "0000", "0001") QWWW " 0161 0161 00 0001 0001 000000",
     "additional record 1 at byte 33 is cut off"},
    {"trailing bytes", H("0000", "0000", "0000") QWWW " deadbe",
     "3 bytes after the last record (at byte 33)"},
    {"OPT in the answer", H("0001", "0000", "0000") QWWW " 00 0029 1000 00000000 0000",
     "misplaced OPT"},
    {"two OPT records",
     H("0000", "0000", "0002") QWWW " 00 0029 1000 00000000 0000 00 0029 1000 00000000 0000",
     "additional record 2 at byte 44: a misplaced OPT"},
    {"OPT not at the root", H("0000", "0000", "0001") QWWW " c00c 0029 1000 00000000 0000",
     "misplaced OPT"},
};

static void parse_hostile_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        const hcase *c = &hostile[i];
        uint8_t msg[1024];
        size_t len = unhex(c->hex, msg, sizeof msg);
        dns_msg m;
        memset(&m, 0x5A, sizeof m);
        char err[256] = "";
        int rc = dns_msg_parse(msg, len, &m, err, sizeof err);
        if (rc != -EBADMSG || !strstr(err, c->err))
            fail_msg("%s: rc %d \"%s\", want -EBADMSG \"%s\"", c->what, rc, err, c->err);
        if (m.rr || m.nrr)
            fail_msg("%s: records left in the message on failure", c->what);
    }
}

/* A name of 257 bytes made of pointers to earlier names, each within the limit alone. */
static void parse_name_over_255_through_pointers(void **state)
{
    (void)state;
    uint8_t msg[600];
    size_t n = 0, q[3];
    const uint8_t hdr[] = {0x12, 0x34, 0x81, 0x80, 0, 3, 0, 1, 0, 0, 0, 0};
    memcpy(msg, hdr, sizeof hdr);
    n = sizeof hdr;
    for (int i = 0; i < 3; i++) { /* questions: L63 + (root | pointer to the previous one) */
        q[i] = n;
        msg[n++] = 63;
        memset(msg + n, 'a' + i, 63);
        n += 63;
        if (i == 0) {
            msg[n++] = 0;
        } else {
            msg[n++] = (uint8_t)(0xC0 | q[i - 1] >> 8);
            msg[n++] = (uint8_t)q[i - 1];
        }
        msg[n++] = 0, msg[n++] = 1, msg[n++] = 0, msg[n++] = 1;
    }
    size_t owner = n;
    msg[n++] = 63; /* 64 + 64 + 64 + 65 = 257 */
    memset(msg + n, 'z', 63);
    n += 63;
    msg[n++] = (uint8_t)(0xC0 | q[2] >> 8);
    msg[n++] = (uint8_t)q[2];
    const uint8_t rest[] = {0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4};
    memcpy(msg + n, rest, sizeof rest);
    n += sizeof rest;
    dns_msg m;
    char err[256] = "", want[64];
    assert_int_equal(dns_msg_parse(msg, n, &m, err, sizeof err), -EBADMSG);
    snprintf(want, sizeof want, "name at byte %zu is longer than 255 bytes", owner);
    if (!strstr(err, want))
        fail_msg("got \"%s\", want \"%s\"", err, want);
    /* The third question alone (193 bytes) is fine. */
    char text[DNS_NAME_TEXT_MAX];
    assert_int_equal(dns_name_text(msg, n, q[2], text, sizeof text, NULL, err, sizeof err), 0);
    assert_int_equal(strlen(text), 3 * 64);
}

static void parse_oversized_message(void **state)
{
    (void)state;
    static uint8_t big[DNS_MSG_MAX + 1];
    dns_msg m;
    char err[128] = "";
    memcpy(big, "\x12\x34\x81\x80", 4);
    assert_int_equal(dns_msg_parse(big, sizeof big, &m, err, sizeof err), -EBADMSG);
    assert_non_null(strstr(err, "longer than 65535"));
}

static void name_text_small_buffer(void **state)
{
    (void)state;
    uint8_t msg[256];
    size_t len = unhex(H("0000", "0000", "0000") QWWW, msg, sizeof msg);
    char dst[8] = "zzzzzzz", err[128] = "";
    assert_int_equal(dns_name_text(msg, len, 12, dst, sizeof dst, NULL, err, sizeof err), -EBADMSG);
    assert_non_null(strstr(err, "no room"));
    assert_string_equal(dst, ""); /* nothing half-written */
    size_t end = 0;
    char ok[DNS_NAME_TEXT_MAX];
    assert_int_equal(dns_name_text(msg, len, 12, ok, sizeof ok, &end, err, sizeof err), 0);
    assert_int_equal(end, 29);
    assert_int_equal(dns_name_text(msg, len, 16, ok, sizeof ok, &end, err, sizeof err), 0);
    assert_string_equal(ok, "example.com.");
}

/* Every truncation of valid answers is refused with a reason, never accepted or overrun. */
static void parse_every_truncation(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        uint8_t full[1024];
        size_t len = unhex(valid[i].hex, full, sizeof full);
        for (size_t cut = 0; cut < len; cut++) {
            uint8_t *copy = mem_alloc(cut ? cut : 1); /* exact size: ASan sees any overrun */
            memcpy(copy, full, cut);
            dns_msg m;
            char err[256] = "";
            int rc = dns_msg_parse(copy, cut, &m, err, sizeof err);
            if (rc != -EBADMSG || !err[0])
                fail_msg("%s cut at %zu: rc %d \"%s\"", valid[i].what, cut, rc, err);
            mem_free(copy);
        }
    }
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Random mutations of valid answers: each parse ends with an answer or a reason, and what it
 * accepts formats without error. Under ASan this is a small fuzzer. */
static void parse_random_mutations(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 1 << 20);
    size_t accepted = 0, total = 0;
    for (int round = 0; round < 40000; round++) {
        const pcase *c = &valid[rnd() % (sizeof valid / sizeof valid[0])];
        uint8_t full[1024];
        size_t len = unhex(c->hex, full, sizeof full);
        int flips = 1 + (int)(rnd() % 4);
        for (int f = 0; f < flips && len; f++) {
            size_t at = rnd() % len;
            full[at] = rnd() % 3 ? (uint8_t)rnd() : (uint8_t)(0xC0 | (rnd() & 1));
        }
        if (rnd() % 4 == 0)
            len = rnd() % (len + 1);
        uint8_t *copy = mem_alloc(len ? len : 1);
        memcpy(copy, full, len);
        dns_msg m;
        char err[256] = "";
        int rc = dns_msg_parse(copy, len, &m, err, sizeof err);
        total++;
        if (rc == 0) {
            accepted++;
            assert_int_equal(m.nrr, (size_t)m.ancount + m.nscount + m.arcount);
            for (size_t k = 0; k < m.nrr; k++) {
                buf_reset(&b);
                assert_int_equal(dns_rr_text(&m, &m.rr[k], &b), 0);
            }
            dns_msg_free(&m);
        } else {
            assert_int_equal(rc, -EBADMSG);
            assert_true(err[0] != '\0');
        }
        mem_free(copy);
    }
    /* Pure junk of every length up to 600 bytes. */
    for (int round = 0; round < 20000; round++) {
        size_t len = rnd() % 600;
        uint8_t *junk = mem_alloc(len ? len : 1);
        for (size_t k = 0; k < len; k++)
            junk[k] = (uint8_t)rnd();
        if (len > 2)
            junk[2] |= 0x80; /* a response, so the parser goes on */
        dns_msg m;
        char err[256];
        if (dns_msg_parse(junk, len, &m, err, sizeof err) == 0) {
            for (size_t k = 0; k < m.nrr; k++) {
                buf_reset(&b);
                assert_int_equal(dns_rr_text(&m, &m.rr[k], &b), 0);
            }
            dns_msg_free(&m);
        }
        mem_free(junk);
    }
    buf_free(&b);
    assert_true(accepted > 100); /* the mutations reach past the header checks */
    assert_true(accepted < total);
}

static void parse_out_of_memory(void **state)
{
    (void)state;
    uint8_t msg[256];
    size_t len = unhex(valid[2].hex, msg, sizeof msg);
    dns_msg m;
    char err[128];
    mem_fail_after(0);
    int rc = dns_msg_parse(msg, len, &m, err, sizeof err);
    mem_fail_after(-1);
    assert_int_equal(rc, -ENOMEM);
    assert_null(m.rr);
}

/* ---- names of codes ----------------------------------------------------------------------- */

static void code_names(void **state)
{
    (void)state;
    char tmp[16];
    uint16_t t = 0;
    assert_string_equal(dns_rcode_name(0, tmp), "NOERROR");
    assert_string_equal(dns_rcode_name(3, tmp), "NXDOMAIN");
    assert_string_equal(dns_rcode_name(5, tmp), "REFUSED");
    assert_string_equal(dns_rcode_name(16, tmp), "BADVERS");
    assert_string_equal(dns_rcode_name(12, tmp), "RCODE12");
    assert_int_equal(dns_rcode_parse("nxdomain"), 3);
    assert_int_equal(dns_rcode_parse("SERVFAIL"), 2);
    assert_int_equal(dns_rcode_parse("12"), 12);
    assert_int_equal(dns_rcode_parse("4096"), -1);
    assert_int_equal(dns_rcode_parse("NOERRORS"), -1);
    assert_int_equal(dns_rcode_parse("NOERRO"), -1);
    assert_int_equal(dns_rcode_parse(""), -1);
    assert_int_equal(dns_rcode_parse(NULL), -1);
    assert_string_equal(dns_type_name(28, tmp), "AAAA");
    assert_string_equal(dns_type_name(4660, tmp), "TYPE4660");
    assert_int_equal(dns_type_parse("aaaa", &t), 0);
    assert_int_equal(t, 28);
    assert_int_equal(dns_type_parse("SOA", &t), 0);
    assert_int_equal(t, 6);
    assert_int_equal(dns_type_parse("TYPE65", &t), 0);
    assert_int_equal(t, 65);
    t = 99;
    assert_int_equal(dns_type_parse("TYPE0", &t), -EINVAL);
    assert_int_equal(dns_type_parse("TYPE65536", &t), -EINVAL);
    assert_int_equal(dns_type_parse("TYPE", &t), -EINVAL);
    assert_int_equal(dns_type_parse("AA", &t), -EINVAL);
    assert_int_equal(dns_type_parse("", &t), -EINVAL);
    assert_int_equal(t, 99);
}

/* ---- settings ----------------------------------------------------------------------------- */

static int make_def(const char *address, int port, const char *settings, int64_t timeout_ms,
                    probe_def **d, char *err, size_t errcap)
{
    json_error_t je;
    json_t *st = json_loads(settings, 0, &je);
    assert_non_null(st);
    json_t *o = json_pack("{sI ss ss ss ss sI sI sI so}", "probe", (json_int_t)1, "type", "dns",
                          "name", "t", "target", address, "address", address, "port",
                          (json_int_t)port, "timeout_ms", (json_int_t)timeout_ms, "interval_ms",
                          (json_int_t)60000, "settings", st);
    assert_non_null(o);
    int rc = probe_def_from_json(o, d, err, errcap);
    json_decref(o);
    return rc;
}

typedef struct scase {
    const char *address;
    const char *settings;
    const char *err; /* NULL: accepted */
} scase;

static void settings_table(void **state)
{
    (void)state;
    static const scase cases[] = {
        {"127.0.0.1", "{\"query_name\":\"x.test\"}", NULL},
        {"127.0.0.1",
         "{\"query_name\":\"x.test\",\"record_type\":\"aaaa\",\"transport\":\"TCP\","
         "\"expect\":\"\",\"valid_rcodes\":[]}",
         NULL},
        {"ns.example", "{\"query_name\":\"x.test\",\"record_type\":\"TYPE65\"}", NULL},
        {"127.0.0.1", "{\"query_name\":\"192.0.2.1\",\"record_type\":\"PTR\"}", NULL},
        {"127.0.0.1", "{\"query_name\":\"x.test\",\"valid_rcodes\":[\"NOERROR\",\"nxdomain\"]}",
         NULL},
        {"127.0.0.1", "{\"query_name\":\".\",\"record_type\":\"NS\",\"valid_rcodes\":null}", NULL},
        {"", "{\"query_name\":\"x.test\"}", "no address"},
        {"127.0.0.1", "{}", "query_name"},
        {"127.0.0.1", "{\"query_name\":\"\"}", "query_name"},
        {"127.0.0.1", "{\"query_name\":5}", "query_name"},
        {"127.0.0.1", "{\"query_name\":\"a..b\"}", "empty label"},
        {"127.0.0.1", "{\"query_name\":\"x\",\"record_type\":\"BOGUS\"}", "record_type"},
        {"127.0.0.1", "{\"query_name\":\"x\",\"record_type\":\"OPT\"}", "record_type"},
        {"127.0.0.1", "{\"query_name\":\"x\",\"record_type\":\"AXFR\"}", "record_type"},
        {"127.0.0.1", "{\"query_name\":\"x\",\"record_type\":1}", "record_type"},
        {"127.0.0.1", "{\"query_name\":\"x\",\"transport\":\"sctp\"}", "transport"},
        {"127.0.0.1", "{\"query_name\":\"x\",\"expect\":\"(\"}", "invalid regular expression"},
        {"127.0.0.1", "{\"query_name\":\"x\",\"expect\":[\"a\"]}", "expect"},
        {"127.0.0.1", "{\"query_name\":\"x\",\"valid_rcodes\":\"NOERROR\"}", "valid_rcodes"},
        {"127.0.0.1", "{\"query_name\":\"x\",\"valid_rcodes\":[\"NOERROR\",\"bogus\"]}", "entry 2"},
        {"127.0.0.1", "{\"query_name\":\"x\",\"valid_rcodes\":[3]}", "entry 1"},
        {"127.0.0.1",
         "{\"query_name\":\"x\",\"valid_rcodes\":[\"0\",\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\","
         "\"8\",\"9\",\"10\",\"11\",\"12\",\"13\",\"14\",\"15\",\"16\"]}",
         "more than 16 entries"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        probe_def *d = NULL;
        char err[512] = "";
        int rc = make_def(cases[i].address, 53, cases[i].settings, 1000, &d, err, sizeof err);
        if (!cases[i].err && rc)
            fail_msg("settings %s refused: %s", cases[i].settings, err);
        if (cases[i].err && (rc != -EINVAL || !strstr(err, cases[i].err)))
            fail_msg("settings %s: rc %d \"%s\", want \"%s\"", cases[i].settings, rc, err,
                     cases[i].err);
        probe_def_unref(d);
    }
}

/* ---- runs on a loop ----------------------------------------------------------------------- */

typedef enum peer_mode { PEER_A, PEER_NX, PEER_LOOP, PEER_DROP, PEER_REFUSED } peer_mode;

typedef struct peer {
    uv_udp_t udp;
    peer_mode mode;
    int port;
    unsigned queries;
    char last_q[DNS_NAME_TEXT_MAX];
    uint8_t in[4096];
} peer;

static void peer_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)hint;
    peer *p = h->data;
    *b = uv_buf_init((char *)p->in, sizeof p->in);
}

/* Answers a query per the peer's mode: the query's id and question, then the records. */
static void peer_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *b, const struct sockaddr *from,
                      unsigned flags)
{
    (void)flags;
    peer *p = h->data;
    if (n < DNS_HEADER_LEN + 5 || !from)
        return;
    p->queries++;
    size_t qend = DNS_HEADER_LEN;
    while (qend < (size_t)n && p->in[qend])
        qend += 1u + p->in[qend];
    qend += 5;
    if (qend > (size_t)n)
        return;
    dns_name_text(p->in, (size_t)n, DNS_HEADER_LEN, p->last_q, sizeof p->last_q, NULL, NULL, 0);
    if (p->mode == PEER_DROP)
        return;
    uint8_t out[600];
    size_t o = 0;
    memcpy(out, b->base, 2);
    out[2] = 0x81;
    out[3] = p->mode == PEER_NX ? 0x83 : p->mode == PEER_REFUSED ? 0x85 : 0x80;
    out[4] = 0, out[5] = 1, out[6] = 0;
    out[7] = p->mode == PEER_A || p->mode == PEER_LOOP ? 2 : 0;
    memset(out + 8, 0, 4);
    o = DNS_HEADER_LEN;
    memcpy(out + o, p->in + DNS_HEADER_LEN, qend - DNS_HEADER_LEN);
    o = qend;
    if (p->mode == PEER_A || p->mode == PEER_LOOP) {
        for (int k = 0; k < 2; k++) {
            size_t self = o;
            if (p->mode == PEER_LOOP && k == 1) {
                out[o++] = (uint8_t)(0xC0 | self >> 8); /* a pointer to itself */
                out[o++] = (uint8_t)self;
            } else {
                out[o++] = 0xC0;
                out[o++] = 0x0C;
            }
            const uint8_t rr[] = {0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4, 192, 0, 2, (uint8_t)(1 + k)};
            memcpy(out + o, rr, sizeof rr);
            o += sizeof rr;
        }
    }
    uv_buf_t ob = uv_buf_init((char *)out, (unsigned)o);
    uv_udp_try_send(h, &ob, 1, from);
}

static void peer_start(uv_loop_t *loop, peer *p, peer_mode mode)
{
    struct sockaddr_in a;
    struct sockaddr_storage ss;
    int len = sizeof ss;
    memset(p, 0, sizeof *p);
    p->mode = mode;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_udp_init(loop, &p->udp), 0);
    p->udp.data = p;
    assert_int_equal(uv_udp_bind(&p->udp, (struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_udp_getsockname(&p->udp, (struct sockaddr *)&ss, &len), 0);
    p->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    assert_int_equal(uv_udp_recv_start(&p->udp, peer_alloc, peer_recv), 0);
}

/* A TCP server that accepts connections and never reads or answers. */
typedef struct holder {
    uv_tcp_t srv;
    uv_tcp_t conns[8];
    int nconns;
    int port;
} holder;

static void holder_conn(uv_stream_t *s, int status)
{
    holder *h = s->data;
    if (status || h->nconns >= 8)
        return;
    uv_tcp_t *c = &h->conns[h->nconns];
    uv_tcp_init(s->loop, c);
    if (uv_accept(s, (uv_stream_t *)c) == 0)
        h->nconns++;
    else
        uv_close((uv_handle_t *)c, NULL);
}

typedef struct sample_copy {
    char metric[64];
    char rcode[16];
    double v;
} sample_copy;

typedef struct outcome {
    int done, success, timed_out;
    char msg[PROBE_MSG_MAX];
    sample_copy s[32];
    size_t ns;
} outcome;

static void on_end(void *ctx, probe_run *r, const probe_result *res)
{
    outcome *o = ctx;
    o->done = 1;
    o->success = res->success;
    o->timed_out = res->timed_out;
    snprintf(o->msg, sizeof o->msg, "%s", res->message);
    for (size_t i = 0; i < res->nsamples && o->ns < 32; i++) {
        sample_copy *c = &o->s[o->ns++];
        snprintf(c->metric, sizeof c->metric, "%s", res->samples[i].metric);
        c->rcode[0] = '\0';
        for (const char *const *l = res->samples[i].labels; l[0]; l += 2)
            if (!strcmp(l[0], "rcode"))
                snprintf(c->rcode, sizeof c->rcode, "%s", l[1]);
        c->v = res->samples[i].v;
    }
    probe_run_free(r);
}

static double value(const outcome *o, const char *metric)
{
    for (size_t i = 0; i < o->ns; i++)
        if (!strcmp(o->s[i].metric, metric))
            return o->s[i].v;
    return NAN;
}

static const char *rcode_label(const outcome *o)
{
    for (size_t i = 0; i < o->ns; i++)
        if (!strcmp(o->s[i].metric, "probe_dns_rcode"))
            return o->s[i].rcode;
    return "";
}

typedef struct canceller {
    uv_timer_t t;
    probe_run **runs;
    outcome *outs;
    size_t n;
    int closed;
} canceller;

static void canceller_closed(uv_handle_t *h)
{
    ((canceller *)h->data)->closed = 1;
}

static void cancel_all(uv_timer_t *t)
{
    canceller *c = t->data;
    for (size_t i = 0; i < c->n; i++)
        if (!c->outs[i].done)
            probe_run_cancel(c->runs[i], "timed out");
}

/* Runs n runs of one definition at once; with cancel_ms, cancels those still going then (as
 * the scheduler does at the timeout). Checks the loop ends with every handle closed. */
static void run_many(uv_loop_t *loop, const char *address, int port, const char *settings,
                     int64_t timeout_ms, int64_t cancel_ms, size_t n, outcome *outs)
{
    probe_env env;
    probe_opts opts = {.vantage = "test"};
    probe_def *d = NULL;
    char err[512] = "";
    probe_run **runs = mem_calloc(n, sizeof *runs);
    canceller c = {.runs = runs, .outs = outs, .n = n};
    assert_non_null(runs);
    assert_int_equal(probe_env_init(&env, loop, &opts), 0);
    if (make_def(address, port, settings, timeout_ms, &d, err, sizeof err))
        fail_msg("make_def: %s", err);
    memset(outs, 0, n * sizeof *outs);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(probe_run_new(&runs[i], &env, d, 0, on_end, &outs[i]), 0);
    if (cancel_ms) {
        uv_timer_init(loop, &c.t);
        c.t.data = &c;
        uv_timer_start(&c.t, cancel_all, (uint64_t)cancel_ms, 0);
    }
    for (size_t i = 0; i < n; i++)
        probe_run_start(runs[i]);
    for (;;) {
        size_t left = 0;
        for (size_t i = 0; i < n; i++)
            left += !outs[i].done;
        if (!left)
            break;
        uv_run(loop, UV_RUN_ONCE);
    }
    if (cancel_ms) { /* the timer lives on this stack frame: wait until it is closed */
        uv_close((uv_handle_t *)&c.t, canceller_closed);
        while (!c.closed)
            uv_run(loop, UV_RUN_ONCE);
    }
    probe_def_unref(d);
    probe_env_close(&env);
    mem_free(runs);
}

/* Closes the peers and checks nothing of the probe is left on the loop. */
static void loop_finish(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

static void run_answers_and_verdicts(void **state)
{
    (void)state;
    uv_loop_t loop;
    peer a, nx, lp, refused;
    outcome o;
    uv_loop_init(&loop);
    peer_start(&loop, &a, PEER_A);
    peer_start(&loop, &nx, PEER_NX);
    peer_start(&loop, &lp, PEER_LOOP);
    peer_start(&loop, &refused, PEER_REFUSED);

    run_many(&loop, "127.0.0.1", a.port, "{\"query_name\":\"www.example.com\"}", 5000, 0, 1, &o);
    if (!o.success)
        fail_msg("A: %s", o.msg);
    assert_string_equal(a.last_q, "www.example.com.");
    assert_string_equal(rcode_label(&o), "NOERROR");
    assert_true(value(&o, "probe_dns_answer_rrs") == 2);
    assert_true(value(&o, "probe_dns_authority_rrs") == 0);
    assert_true(value(&o, "probe_dns_additional_rrs") == 0);
    assert_true(value(&o, "probe_dns_query_succeeded") == 1);
    assert_true(value(&o, "probe_failed_due_to_regex") == 0);
    assert_true(value(&o, "probe_ip_protocol") == 4);
    assert_true(value(&o, "probe_dns_lookup_time_seconds") >= 0);
    assert_true(value(&o, "probe_dns_lookup_time_seconds") < 5);
    assert_true(value(&o, "probe_success") == 1);

    /* expect: one record of two matches; the whole record is the subject. */
    run_many(&loop, "127.0.0.1", a.port,
             "{\"query_name\":\"www.example.com\",\"expect\":"
             "\"^www\\\\.example\\\\.com\\\\.\\\\t300\\\\tIN\\\\tA\\\\t192\\\\.0\\\\.2\\\\.2$\"}",
             5000, 0, 1, &o);
    if (!o.success)
        fail_msg("expect: %s", o.msg);
    run_many(&loop, "127.0.0.1", a.port,
             "{\"query_name\":\"www.example.com\",\"expect\":\"192\\\\.0\\\\.2\\\\.3\"}", 5000, 0,
             1, &o);
    assert_false(o.success);
    assert_true(value(&o, "probe_failed_due_to_regex") == 1);
    assert_true(value(&o, "probe_dns_query_succeeded") == 1);
    assert_non_null(strstr(o.msg, "no answer record matches \"192\\.0\\.2\\.3\" (2 answer"));

    /* PTR of an address asks for its reverse name. */
    run_many(&loop, "127.0.0.1", a.port, "{\"query_name\":\"192.0.2.1\",\"record_type\":\"PTR\"}",
             5000, 0, 1, &o);
    assert_string_equal(a.last_q, "1.2.0.192.in-addr.arpa.");
    run_many(&loop, "127.0.0.1", a.port, "{\"query_name\":\"2001:db8::1\",\"record_type\":\"PTR\"}",
             5000, 0, 1, &o);
    assert_string_equal(a.last_q, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2."
                                  "ip6.arpa.");

    /* NXDOMAIN fails unless accepted. */
    run_many(&loop, "127.0.0.1", nx.port, "{\"query_name\":\"nope.example\"}", 5000, 0, 1, &o);
    assert_false(o.success);
    assert_string_equal(rcode_label(&o), "NXDOMAIN");
    assert_true(value(&o, "probe_dns_query_succeeded") == 1);
    assert_non_null(strstr(o.msg, "answered NXDOMAIN, expected NOERROR"));
    run_many(&loop, "127.0.0.1", nx.port,
             "{\"query_name\":\"nope.example\",\"valid_rcodes\":[\"NOERROR\",\"NXDOMAIN\"]}", 5000,
             0, 1, &o);
    if (!o.success)
        fail_msg("NXDOMAIN accepted: %s", o.msg);

    /* REFUSED comes back at once (not retried). */
    run_many(&loop, "127.0.0.1", refused.port, "{\"query_name\":\"x.example\"}", 5000, 0, 1, &o);
    assert_false(o.success);
    assert_string_equal(rcode_label(&o), "REFUSED");
    assert_int_equal(refused.queries, 1);

    /* A malformed answer fails with the parser's reason and no counts. */
    run_many(&loop, "127.0.0.1", lp.port, "{\"query_name\":\"www.example.com\"}", 5000, 0, 1, &o);
    assert_false(o.success);
    assert_non_null(strstr(o.msg, "malformed answer"));
    assert_non_null(strstr(o.msg, "answer record 2: compression pointer"));
    assert_true(value(&o, "probe_dns_query_succeeded") == 0);
    assert_true(isnan(value(&o, "probe_dns_answer_rrs")));

    /* Many runs at once, each on its own channel. */
    static outcome many[300];
    run_many(&loop, "127.0.0.1", a.port, "{\"query_name\":\"www.example.com\"}", 5000, 0, 300,
             many);
    for (size_t i = 0; i < 300; i++)
        if (!many[i].success)
            fail_msg("run %zu of 300: %s", i, many[i].msg);

    uv_close((uv_handle_t *)&a.udp, NULL);
    uv_close((uv_handle_t *)&nx.udp, NULL);
    uv_close((uv_handle_t *)&lp.udp, NULL);
    uv_close((uv_handle_t *)&refused.udp, NULL);
    loop_finish(&loop);
}

static void run_no_answer_and_cancel(void **state)
{
    (void)state;
    uv_loop_t loop;
    peer drop;
    holder h;
    outcome o;
    static outcome many[200];
    struct sockaddr_in a;
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char settings[128];
    uv_loop_init(&loop);
    peer_start(&loop, &drop, PEER_DROP);

    /* The probe gives up by itself just before the timeout, with one retransmission. */
    uint64_t t0 = uv_hrtime();
    run_many(&loop, "127.0.0.1", drop.port, "{\"query_name\":\"www.example.com\"}", 300, 0, 1, &o);
    double secs = (double)(uv_hrtime() - t0) / 1e9;
    assert_false(o.success);
    assert_false(o.timed_out);
    assert_non_null(strstr(o.msg, "no answer from 127.0.0.1:"));
    assert_non_null(strstr(o.msg, "(udp, 2 tries)"));
    assert_int_equal(drop.queries, 2);
    assert_true(secs > 0.2 && secs < 0.4);
    assert_true(value(&o, "probe_dns_query_succeeded") == 0);

    /* Cancelled at the timeout with the query in flight: everything stops and is freed. */
    run_many(&loop, "127.0.0.1", drop.port, "{\"query_name\":\"www.example.com\"}", 10000, 30, 1,
             &o);
    assert_false(o.success);
    assert_true(o.timed_out);
    run_many(&loop, "127.0.0.1", drop.port, "{\"query_name\":\"www.example.com\"}", 10000, 30, 200,
             many);
    for (size_t i = 0; i < 200; i++)
        assert_true(many[i].timed_out);

    /* Over TCP: cancelled with the connection open. */
    memset(&h, 0, sizeof h);
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_init(&loop, &h.srv);
    h.srv.data = &h;
    assert_int_equal(uv_tcp_bind(&h.srv, (struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&h.srv, 16, holder_conn), 0);
    uv_tcp_getsockname(&h.srv, (struct sockaddr *)&ss, &len);
    h.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    snprintf(settings, sizeof settings, "{\"query_name\":\"x.example\",\"transport\":\"tcp\"}");
    run_many(&loop, "127.0.0.1", h.port, settings, 10000, 50, 1, &o);
    assert_true(o.timed_out);
    assert_int_equal(h.nconns, 1);
    /* ...and giving up by itself: one try over TCP. */
    run_many(&loop, "127.0.0.1", h.port, settings, 200, 0, 1, &o);
    assert_false(o.timed_out);
    assert_non_null(strstr(o.msg, "(tcp, connected, query sent)"));

    /* A closed UDP port answers with ICMP port unreachable: no waiting. */
    uv_close((uv_handle_t *)&drop.udp, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    t0 = uv_hrtime();
    run_many(&loop, "127.0.0.1", drop.port, "{\"query_name\":\"www.example.com\"}", 5000, 0, 1, &o);
    assert_false(o.success);
    assert_non_null(strstr(o.msg, "port unreachable"));
    assert_true((double)(uv_hrtime() - t0) / 1e9 < 1);

    for (int i = 0; i < h.nconns; i++)
        uv_close((uv_handle_t *)&h.conns[i], NULL);
    uv_close((uv_handle_t *)&h.srv, NULL);
    loop_finish(&loop);
}

static void run_server_by_name(void **state)
{
    (void)state;
    uv_loop_t loop;
    peer a;
    outcome o;
    uv_loop_init(&loop);
    peer_start(&loop, &a, PEER_A);
    /* localhost comes from /etc/hosts through the agent's resolver. */
    run_many(&loop, "localhost", a.port, "{\"query_name\":\"www.example.com\"}", 5000, 0, 1, &o);
    if (!o.success && !strstr(o.msg, "resolve"))
        fail_msg("localhost: %s", o.msg);
    if (o.success)
        assert_true(value(&o, "probe_ip_protocol") == 4);
    /* A name that does not resolve (or the system's DNS is out of reach: then the timeout). */
    run_many(&loop, "no-such-host.invalid", a.port, "{\"query_name\":\"www.example.com\"}", 3000,
             3000, 1, &o);
    assert_false(o.success);
    if (!o.timed_out && !strstr(o.msg, "resolve no-such-host.invalid"))
        fail_msg("no-such-host.invalid: %s", o.msg);
    uv_close((uv_handle_t *)&a.udp, NULL);
    loop_finish(&loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(query_build_table),
        cmocka_unit_test(parse_valid_table),
        cmocka_unit_test(parse_header_fields),
        cmocka_unit_test(parse_hostile_table),
        cmocka_unit_test(parse_name_over_255_through_pointers),
        cmocka_unit_test(parse_oversized_message),
        cmocka_unit_test(name_text_small_buffer),
        cmocka_unit_test(parse_every_truncation),
        cmocka_unit_test(parse_random_mutations),
        cmocka_unit_test(parse_out_of_memory),
        cmocka_unit_test(code_names),
        cmocka_unit_test(settings_table),
        cmocka_unit_test(run_answers_and_verdicts),
        cmocka_unit_test(run_no_answer_and_cancel),
        cmocka_unit_test(run_server_by_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
