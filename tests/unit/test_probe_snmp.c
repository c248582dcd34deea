/* test_probe_snmp: the snmp probe's parts that need no agent (agent/probes/snmp_int.h): numeric
 * OIDs (parse, order, subtrees, text), the walk bookkeeping (subtree ends, exceptions, agents
 * that go backwards or repeat, GETBULK answers spread over several walks), varbind values under
 * snmp_exporter's reading (counter types, TimeTicks, strings as UTF-8 or hex, OIDs, addresses),
 * the IF-MIB table and its samples (HC counters with their 32-bit fallback, labels), settings,
 * and hostile input (random varbind lists) that must never crash or make a walk loop.
 * The varbinds are built by hand as net-snmp would hand them over; the library is not loaded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/probes/snmp_int.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <net-snmp/library/asn1.h>
#include <net-snmp/library/snmp.h>
#include <net-snmp/library/snmp_impl.h>

/* ---- building varbinds ----------------------------------------------------------------------- */

/* One varbind and the storage its pointers use. */
typedef struct tvb {
    netsnmp_variable_list v;
    oid name[SNMPP_OID_MAX + 2];
    long ival;
    struct counter64 c64;
    float f;
    double d;
    unsigned char str[512];
    oid objid[16];
} tvb;

static void set_name(tvb *b, const char *text)
{
    snmpp_oid o;
    char err[128];
    if (snmpp_oid_parse(text, &o, err, sizeof err))
        fail_msg("bad test OID %s: %s", text, err);
    for (size_t i = 0; i < o.n; i++)
        b->name[i] = o.s[i];
    b->v.name = b->name;
    b->v.name_length = o.n;
}

static tvb *vb_int(tvb *b, const char *name, int type, long v)
{
    memset(b, 0, sizeof *b);
    set_name(b, name);
    b->v.type = (u_char)type;
    b->ival = v;
    b->v.val.integer = &b->ival;
    b->v.val_len = sizeof b->ival;
    return b;
}

static tvb *vb_c64(tvb *b, const char *name, int type, uint64_t v)
{
    memset(b, 0, sizeof *b);
    set_name(b, name);
    b->v.type = (u_char)type;
    b->c64.high = (u_long)(v >> 32);
    b->c64.low = (u_long)(v & 0xffffffffu);
    b->v.val.counter64 = &b->c64;
    b->v.val_len = sizeof b->c64;
    return b;
}

static tvb *vb_str(tvb *b, const char *name, int type, const void *s, size_t n)
{
    memset(b, 0, sizeof *b);
    set_name(b, name);
    b->v.type = (u_char)type;
    memcpy(b->str, s, n);
    b->v.val.string = b->str;
    b->v.val_len = n;
    return b;
}

static tvb *vb_type(tvb *b, const char *name, int type)
{
    memset(b, 0, sizeof *b);
    set_name(b, name);
    b->v.type = (u_char)type;
    return b;
}

/* Chains b[0..n) into a list. */
static netsnmp_variable_list *chain(tvb *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[i].v.next_variable = i + 1 < n ? &b[i + 1].v : NULL;
    return n ? &b[0].v : NULL;
}

static snmpp_oid parsed(const char *text)
{
    snmpp_oid o;
    char err[128];
    if (snmpp_oid_parse(text, &o, err, sizeof err))
        fail_msg("bad test OID %s: %s", text, err);
    return o;
}

/* ---- OIDs ------------------------------------------------------------------------------------ */

static void oid_parse_valid(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t n;
        snmpp_subid last;
    } cases[] = {
        {"1.3.6.1.2.1.1.3.0", 9, 0},
        {".1.3.6.1.2.1.1.3.0", 9, 0},
        {"1.3", 2, 3},
        {"0.0", 2, 0},
        {"2.999.1", 3, 1},
        {"1.3.6.1.4.1.4294967295", 7, 4294967295u},
        {"1.39", 2, 39},
        {"1.3.06", 3, 6},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snmpp_oid o;
        char err[128] = "";
        int rc = snmpp_oid_parse(cases[i].in, &o, err, sizeof err);
        if (rc)
            fail_msg("\"%s\": rc %d (%s)", cases[i].in, rc, err);
        if (o.n != cases[i].n || o.s[o.n - 1] != cases[i].last)
            fail_msg("\"%s\": %zu sub-ids, last %u", cases[i].in, o.n, (unsigned)o.s[o.n - 1]);
    }
    /* 128 sub-identifiers is the most. */
    char big[1024] = "1.3";
    size_t len = 3;
    for (int i = 2; i < SNMPP_OID_MAX; i++)
        len += (size_t)snprintf(big + len, sizeof big - len, ".7");
    snmpp_oid o;
    char err[128];
    assert_int_equal(snmpp_oid_parse(big, &o, err, sizeof err), 0);
    assert_int_equal(o.n, SNMPP_OID_MAX);
    snprintf(big + len, sizeof big - len, ".7");
    assert_int_equal(snmpp_oid_parse(big, &o, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "more than 128"));
}

static void oid_parse_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *why;
    } cases[] = {
        {"", "empty"},
        {".", "expected a digit at position 2"},
        {"1", "at least two"},
        {"1.", "expected a digit at position 3"},
        {"1..3", "expected a digit at position 3"},
        {"1.3.", "expected a digit at position 5"},
        {"..1.3", "expected a digit at position 2"},
        {"1.3.a", "expected a digit at position 5"},
        {"1.3.6x", "unexpected character at position 6"},
        {"1.3 ", "unexpected character at position 4"},
        {" 1.3", "expected a digit at position 1"},
        {"1.-3", "expected a digit at position 3"},
        {"1.3.4294967296", "above 4294967295"},
        {"1.3.99999999999999999999999", "above 4294967295"},
        {"3.1", "starts with"},
        {"1.40", "starts with"},
        {"0.40", "starts with"},
        {"iso.3.6", "expected a digit at position 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snmpp_oid o;
        o.n = 77; /* sentinel: untouched on failure */
        char err[128] = "";
        int rc = snmpp_oid_parse(cases[i].in, &o, err, sizeof err);
        if (rc != -EINVAL)
            fail_msg("\"%s\": rc %d, want -EINVAL", cases[i].in, rc);
        if (o.n != 77)
            fail_msg("\"%s\": output written on failure", cases[i].in);
        if (!strstr(err, cases[i].why))
            fail_msg("\"%s\": message \"%s\" lacks \"%s\"", cases[i].in, err, cases[i].why);
    }
    snmpp_oid o;
    char err[64];
    assert_int_equal(snmpp_oid_parse(NULL, &o, err, sizeof err), -EINVAL);
}

static void oid_order_and_subtrees(void **state)
{
    (void)state;
    static const struct {
        const char *a, *b;
        int cmp;
    } cases[] = {
        {"1.3.6", "1.3.6", 0},     {"1.3.6", "1.3.6.0", -1},  {"1.3.6.1", "1.3.7", -1},
        {"1.3.10", "1.3.9", 1},    {"1.3.6.1.2", "1.3.6", 1}, {"1.3.4294967295", "1.3.0", 1},
        {"2.1", "1.3.6.1.2.1", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snmpp_oid a = parsed(cases[i].a), b = parsed(cases[i].b);
        int c = snmpp_oid_cmp(a.s, a.n, b.s, b.n);
        c = c < 0 ? -1 : c > 0;
        if (c != cases[i].cmp)
            fail_msg("cmp(%s, %s) = %d, want %d", cases[i].a, cases[i].b, c, cases[i].cmp);
    }
    snmpp_oid root = parsed("1.3.6.1.2.1.2.2.1.10"), in = parsed("1.3.6.1.2.1.2.2.1.10.4"),
              sibling = parsed("1.3.6.1.2.1.2.2.1.100"), above = parsed("1.3.6.1.2.1.2.2.1");
    assert_true(snmpp_oid_in_subtree(in.s, in.n, root.s, root.n));
    assert_false(snmpp_oid_in_subtree(root.s, root.n, root.s, root.n)); /* not inside itself */
    assert_false(snmpp_oid_in_subtree(sibling.s, sibling.n, root.s, root.n));
    assert_false(snmpp_oid_in_subtree(above.s, above.n, root.s, root.n));
}

static void oid_format(void **state)
{
    (void)state;
    snmpp_oid o = parsed(".1.3.6.1.4.1.4294967295.0");
    char buf[64];
    assert_int_equal(snmpp_oid_format(o.s, o.n, buf, sizeof buf), 0);
    assert_string_equal(buf, "1.3.6.1.4.1.4294967295.0");
    char small[10];
    assert_int_equal(snmpp_oid_format(o.s, o.n, small, sizeof small), -E2BIG);
    assert_string_equal(small, "");
    assert_int_equal(snmpp_oid_format(o.s, 0, buf, sizeof buf), 0);
    assert_string_equal(buf, "");
    /* The longest OID fits the buffer snmp.c uses. */
    snmpp_oid big;
    big.n = SNMPP_OID_MAX;
    for (size_t i = 0; i < big.n; i++)
        big.s[i] = 4294967295u;
    char huge[SNMPP_OID_MAX * 11 + 1];
    assert_int_equal(snmpp_oid_format(big.s, big.n, huge, sizeof huge), 0);
    assert_int_equal(strlen(huge), SNMPP_OID_MAX * 11 - 1);
}

static void oid_from_net_bounds(void **state)
{
    (void)state;
    oid o[SNMPP_OID_MAX + 1];
    snmpp_oid out;
    for (size_t i = 0; i < SNMPP_OID_MAX + 1; i++)
        o[i] = 1;
    out.n = 5;
    assert_int_equal(snmpp_oid_from_net(o, SNMPP_OID_MAX + 1, &out), -EINVAL);
    assert_int_equal(out.n, 5);
    assert_int_equal(snmpp_oid_from_net(o, SNMPP_OID_MAX, &out), 0);
    assert_int_equal(out.n, SNMPP_OID_MAX);
    if (sizeof(oid) > 4) {
        o[3] = (oid)0x100000000ULL;
        assert_int_equal(snmpp_oid_from_net(o, 4, &out), -EINVAL);
    }
    assert_int_equal(snmpp_oid_from_net(NULL, 2, &out), -EINVAL);
}

/* ---- walks ----------------------------------------------------------------------------------- */

static void walk_steps(void **state)
{
    (void)state;
    snmpp_oid root = parsed("1.3.6.1.2.1.2.2.1.2");
    snmpp_walk w;
    snmpp_walk_init(&w, root.s, root.n);
    assert_int_equal(snmpp_oid_cmp(w.last.s, w.last.n, root.s, root.n), 0);
    snmpp_oid a = parsed("1.3.6.1.2.1.2.2.1.2.1"), b = parsed("1.3.6.1.2.1.2.2.1.2.4"),
              out = parsed("1.3.6.1.2.1.2.2.1.3.1");
    assert_int_equal(snmpp_walk_step(&w, a.s, a.n, ASN_OCTET_STR), SNMPP_TAKE);
    assert_int_equal(snmpp_walk_step(&w, b.s, b.n, ASN_OCTET_STR), SNMPP_TAKE);
    assert_int_equal(w.taken, 2);
    assert_int_equal(snmpp_oid_cmp(w.last.s, w.last.n, b.s, b.n), 0);
    /* The next column ends the walk, without error. */
    assert_int_equal(snmpp_walk_step(&w, out.s, out.n, ASN_INTEGER), SNMPP_END);
    assert_true(w.done);
    assert_false(w.backwards);
    /* Once over, everything is dropped. */
    assert_int_equal(snmpp_walk_step(&w, b.s, b.n, ASN_OCTET_STR), SNMPP_END);
    assert_int_equal(w.taken, 2);

    /* Repeating the last OID, or going back inside the subtree: an error. */
    snmpp_walk_init(&w, root.s, root.n);
    assert_int_equal(snmpp_walk_step(&w, b.s, b.n, ASN_OCTET_STR), SNMPP_TAKE);
    assert_int_equal(snmpp_walk_step(&w, b.s, b.n, ASN_OCTET_STR), SNMPP_BACKWARDS);
    assert_true(w.done && w.backwards);
    snmpp_walk_init(&w, root.s, root.n);
    assert_int_equal(snmpp_walk_step(&w, b.s, b.n, ASN_OCTET_STR), SNMPP_TAKE);
    assert_int_equal(snmpp_walk_step(&w, a.s, a.n, ASN_OCTET_STR), SNMPP_BACKWARDS);

    /* Going back to before the subtree is leaving it (GETNEXT order is the agent's problem). */
    snmpp_oid before = parsed("1.3.6.1.2.1.1.1.0");
    snmpp_walk_init(&w, root.s, root.n);
    assert_int_equal(snmpp_walk_step(&w, before.s, before.n, ASN_OCTET_STR), SNMPP_END);
    assert_false(w.backwards);

    /* The root itself is not in its subtree. */
    snmpp_walk_init(&w, root.s, root.n);
    assert_int_equal(snmpp_walk_step(&w, root.s, root.n, ASN_OCTET_STR), SNMPP_END);

    /* Exceptions end the walk whatever the OID. */
    const int exc[] = {SNMP_ENDOFMIBVIEW, SNMP_NOSUCHOBJECT, SNMP_NOSUCHINSTANCE};
    for (size_t i = 0; i < 3; i++) {
        snmpp_walk_init(&w, root.s, root.n);
        assert_int_equal(snmpp_walk_step(&w, a.s, a.n, exc[i]), SNMPP_END);
        assert_true(w.done);
        assert_int_equal(w.taken, 0);
    }
}

typedef struct taken {
    size_t n;
    size_t which[64];
    oid last[64];
    int fail_at; /* return -ENOMEM at this call (1-based); 0 never */
} taken;

static int take_cb(void *ctx, size_t which, const netsnmp_variable_list *v)
{
    taken *t = ctx;
    if (t->fail_at && (int)t->n + 1 == t->fail_at)
        return -ENOMEM;
    if (t->n < 64) {
        t->which[t->n] = which;
        t->last[t->n] = v->name[v->name_length - 1];
    }
    t->n++;
    return 0;
}

static void walk_bulk_answer(void **state)
{
    (void)state;
    /* Two columns, three repetitions, row by row; the second column ends in the second row. */
    snmpp_oid r1 = parsed("1.3.6.1.2.1.2.2.1.10"), r2 = parsed("1.3.6.1.2.1.31.1.1.1.18");
    snmpp_walk w1, w2;
    snmpp_walk_init(&w1, r1.s, r1.n);
    snmpp_walk_init(&w2, r2.s, r2.n);
    snmpp_walk *batch[] = {&w1, &w2};
    tvb b[6];
    vb_int(&b[0], "1.3.6.1.2.1.2.2.1.10.1", ASN_COUNTER, 100);
    vb_str(&b[1], "1.3.6.1.2.1.31.1.1.1.18.1", ASN_OCTET_STR, "uplink", 6);
    vb_int(&b[2], "1.3.6.1.2.1.2.2.1.10.2", ASN_COUNTER, 200);
    vb_int(&b[3], "1.3.6.1.2.1.31.1.1.1.19.1", ASN_INTEGER, 1); /* past ifAlias */
    vb_int(&b[4], "1.3.6.1.2.1.2.2.1.10.3", ASN_COUNTER, 300);
    vb_int(&b[5], "1.3.6.1.2.1.31.1.1.1.19.2", ASN_INTEGER, 1);
    taken t = {0};
    size_t progress = 0;
    assert_int_equal(snmpp_walk_response(batch, 2, chain(b, 6), take_cb, &t, &progress), 0);
    assert_int_equal(t.n, 4);
    assert_int_equal(t.which[0], 0);
    assert_int_equal(t.which[1], 1);
    assert_int_equal(t.which[2], 0);
    assert_int_equal(t.which[3], 0);
    assert_int_equal(t.last[3], 3);
    assert_int_equal(progress, 5); /* four taken, one walk ended */
    assert_false(w1.done);
    assert_true(w2.done);
    assert_int_equal(w1.last.s[w1.last.n - 1], 3);

    /* A short answer (half a row) moves what it can. */
    vb_int(&b[0], "1.3.6.1.2.1.2.2.1.10.9", ASN_COUNTER, 1);
    memset(&t, 0, sizeof t);
    assert_int_equal(snmpp_walk_response(batch, 2, chain(b, 1), take_cb, &t, &progress), 0);
    assert_int_equal(t.n, 1);
    assert_int_equal(progress, 1);

    /* An empty answer moves nothing: the caller must stop. */
    assert_int_equal(snmpp_walk_response(batch, 2, NULL, take_cb, &t, &progress), 0);
    assert_int_equal(progress, 0);

    /* Backwards in one walk: -EPROTO, the other walk still gets its varbinds. */
    snmpp_walk_init(&w1, r1.s, r1.n);
    snmpp_walk_init(&w2, r2.s, r2.n);
    vb_int(&b[0], "1.3.6.1.2.1.2.2.1.10.5", ASN_COUNTER, 1);
    vb_str(&b[1], "1.3.6.1.2.1.31.1.1.1.18.1", ASN_OCTET_STR, "a", 1);
    vb_int(&b[2], "1.3.6.1.2.1.2.2.1.10.4", ASN_COUNTER, 1);
    vb_str(&b[3], "1.3.6.1.2.1.31.1.1.1.18.2", ASN_OCTET_STR, "b", 1);
    memset(&t, 0, sizeof t);
    assert_int_equal(snmpp_walk_response(batch, 2, chain(b, 4), take_cb, &t, &progress), -EPROTO);
    assert_true(w1.backwards);
    assert_false(w2.done);
    assert_int_equal(t.n, 3);

    /* take's error stops the distribution and is returned. */
    snmpp_walk_init(&w1, r1.s, r1.n);
    snmpp_walk_init(&w2, r2.s, r2.n);
    vb_int(&b[2], "1.3.6.1.2.1.2.2.1.10.6", ASN_COUNTER, 1);
    memset(&t, 0, sizeof t);
    t.fail_at = 2;
    assert_int_equal(snmpp_walk_response(batch, 2, chain(b, 4), take_cb, &t, &progress), -ENOMEM);

    /* No walks: nothing happens. */
    assert_int_equal(snmpp_walk_response(batch, 0, chain(b, 4), take_cb, &t, &progress), 0);
    assert_int_equal(progress, 0);

    /* endOfMibView in a GETBULK row. */
    snmpp_walk_init(&w1, r1.s, r1.n);
    vb_type(&b[0], "1.3.6.1.2.1.2.2.1.10", SNMP_ENDOFMIBVIEW);
    memset(&t, 0, sizeof t);
    snmpp_walk *one[] = {&w1};
    assert_int_equal(snmpp_walk_response(one, 1, chain(b, 1), take_cb, &t, &progress), 0);
    assert_true(w1.done);
    assert_int_equal(t.n, 0);
    assert_int_equal(progress, 1);
}

/* ---- values ---------------------------------------------------------------------------------- */

static void values_numbers(void **state)
{
    (void)state;
    tvb b;
    double v;
    char buf[64];
    static const struct {
        int type;
        long raw;
        double want;
    } cases[] = {
        {ASN_INTEGER, -5, -5},
        {ASN_INTEGER, 2147483647, 2147483647.0},
        {ASN_COUNTER, 4294967295L, 4294967295.0},
        {ASN_GAUGE, 1000, 1000},
        {ASN_TIMETICKS, 123456, 123456}, /* hundredths of a second, raw as snmp_exporter */
        {ASN_UINTEGER, 7, 7},
        {ASN_COUNTER, -1, 4294967295.0}, /* net-snmp keeps it in a long: 32 bits count */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vb_int(&b, "1.3.6.1.2.1.1.3.0", cases[i].type, cases[i].raw);
        int k = snmpp_var_value(&b.v, &v, buf, sizeof buf);
        if (k != SNMPP_VAL_NUMBER || v != cases[i].want)
            fail_msg("type 0x%x raw %ld: kind %d value %g, want %g", cases[i].type, cases[i].raw, k,
                     v, cases[i].want);
        assert_string_equal(buf, "");
    }
    vb_c64(&b, "1.3.6.1.2.1.31.1.1.1.6.1", ASN_COUNTER64, 18446744073709551615ULL);
    assert_int_equal(snmpp_var_value(&b.v, &v, buf, sizeof buf), SNMPP_VAL_NUMBER);
    assert_true(v == 18446744073709551615.0);
    vb_c64(&b, "1.3.6.1.2.1.31.1.1.1.6.1", ASN_COUNTER64, 5000000000ULL);
    assert_int_equal(snmpp_var_value(&b.v, &v, buf, sizeof buf), SNMPP_VAL_NUMBER);
    assert_true(v == 5000000000.0);
#ifdef NETSNMP_WITH_OPAQUE_SPECIAL_TYPES
    vb_c64(&b, "1.3.6.1.4.1.1.1", ASN_OPAQUE_I64, (uint64_t)-3);
    assert_int_equal(snmpp_var_value(&b.v, &v, buf, sizeof buf), SNMPP_VAL_NUMBER);
    assert_true(v == -3.0);
    memset(&b, 0, sizeof b);
    set_name(&b, "1.3.6.1.4.1.1.2");
    b.v.type = ASN_OPAQUE_FLOAT;
    b.f = 1.5f;
    b.v.val.floatVal = &b.f;
    b.v.val_len = sizeof b.f;
    assert_int_equal(snmpp_var_value(&b.v, &v, buf, sizeof buf), SNMPP_VAL_NUMBER);
    assert_true(v == 1.5);
    b.v.type = ASN_OPAQUE_DOUBLE;
    b.d = -2.25;
    b.v.val.doubleVal = &b.d;
    b.v.val_len = sizeof b.d;
    assert_int_equal(snmpp_var_value(&b.v, &v, buf, sizeof buf), SNMPP_VAL_NUMBER);
    assert_true(v == -2.25);
#endif
    /* Malformed: a counter without its storage, or too short. */
    vb_int(&b, "1.3.6.1.2.1.1.3.0", ASN_COUNTER, 1);
    b.v.val_len = 2;
    assert_int_equal(snmpp_var_value(&b.v, &v, buf, sizeof buf), SNMPP_VAL_NONE);
    b.v.val.integer = NULL;
    b.v.val_len = sizeof(long);
    assert_int_equal(snmpp_var_value(&b.v, &v, buf, sizeof buf), SNMPP_VAL_NONE);
    vb_c64(&b, "1.3.6.1.2.1.31.1.1.1.6.1", ASN_COUNTER64, 1);
    b.v.val_len = 4;
    assert_int_equal(snmpp_var_value(&b.v, &v, buf, sizeof buf), SNMPP_VAL_NONE);
    /* No value at all. */
    const int none[] = {ASN_NULL, SNMP_NOSUCHOBJECT, SNMP_NOSUCHINSTANCE, SNMP_ENDOFMIBVIEW, 0x99};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        vb_type(&b, "1.3.6.1.2.1.1.3.0", none[i]);
        assert_int_equal(snmpp_var_value(&b.v, &v, buf, sizeof buf), SNMPP_VAL_NONE);
    }
    assert_int_equal(snmpp_var_value(NULL, &v, buf, sizeof buf), SNMPP_VAL_NONE);
}

static void values_text(void **state)
{
    (void)state;
    tvb b;
    double v;
    char buf[64];
    static const struct {
        const char *bytes;
        size_t n;
        const char *want;
    } cases[] = {
        {"eth0", 4, "eth0"},
        {"", 0, ""},
        {"lo\0\0", 4, "lo"},                               /* trailing NULs dropped */
        {"a\0b", 3, "0x610062"},                           /* an inner NUL: binary */
        {"\x00\x1b\x21\x3c\x4d\x5e", 6, "0x001B213C4D5E"}, /* a MAC address */
        {"Gr\xc3\xbc\xc3\x9f"
         "e",
         7,
         "Gr\xc3\xbc\xc3\x9f"
         "e"}, /* UTF-8 */
        {"line1\r\nline2\tx", 14, "line1\r\nline2\tx"},
        {"\xc3\x28", 2, "0xC328"},             /* invalid UTF-8 */
        {"\xe0\x80\xaf", 3, "0xE080AF"},       /* overlong */
        {"\xed\xa0\x80", 3, "0xEDA080"},       /* a surrogate */
        {"\xf4\x90\x80\x80", 4, "0xF4908080"}, /* above U+10FFFF */
        {"bell\x07", 5, "0x62656C6C07"},       /* a control character */
        {"del\x7f", 4, "0x64656C7F"},
        {"\xe2\x82", 2, "0xE282"}, /* a cut character */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vb_str(&b, "1.3.6.1.2.1.1.5.0", ASN_OCTET_STR, cases[i].bytes, cases[i].n);
        int k = snmpp_var_value(&b.v, &v, buf, sizeof buf);
        if (k != SNMPP_VAL_TEXT || strcmp(buf, cases[i].want))
            fail_msg("case %zu: kind %d \"%s\", want \"%s\"", i, k, buf, cases[i].want);
    }
    /* A NULL string pointer with a length is an empty string, not a crash. */
    vb_str(&b, "1.3.6.1.2.1.1.5.0", ASN_OCTET_STR, "", 0);
    b.v.val.string = NULL;
    b.v.val_len = 10;
    assert_int_equal(snmpp_var_value(&b.v, &v, buf, sizeof buf), SNMPP_VAL_TEXT);
    assert_string_equal(buf, "");

    /* Cut to the buffer on a character boundary; hex cut on a byte. */
    char small[6];
    vb_str(&b, "1.3.6.1.2.1.1.5.0", ASN_OCTET_STR, "ab\xc3\xbc\xc3\xbc", 6);
    assert_int_equal(snmpp_var_value(&b.v, &v, small, sizeof small), SNMPP_VAL_TEXT);
    assert_string_equal(small, "ab\xc3\xbc");
    vb_str(&b, "1.3.6.1.2.1.1.5.0", ASN_OCTET_STR, "\x01\x02\x03\x04", 4);
    assert_int_equal(snmpp_var_value(&b.v, &v, small, sizeof small), SNMPP_VAL_TEXT);
    assert_string_equal(small, "0x01");
    char tiny[2];
    assert_int_equal(snmpp_var_value(&b.v, &v, tiny, sizeof tiny), SNMPP_VAL_TEXT);
    assert_string_equal(tiny, "");

    /* A long value is cut at SNMPP_TEXT_MAX. */
    static char big[SNMPP_TEXT_MAX + 100], out[SNMPP_TEXT_MAX];
    memset(big, 'x', sizeof big);
    memset(&b, 0, sizeof b);
    set_name(&b, "1.3.6.1.2.1.1.1.0");
    b.v.type = ASN_OCTET_STR;
    b.v.val.string = (u_char *)big;
    b.v.val_len = sizeof big;
    assert_int_equal(snmpp_var_value(&b.v, &v, out, sizeof out), SNMPP_VAL_TEXT);
    assert_int_equal(strlen(out), SNMPP_TEXT_MAX - 1);

    /* OBJECT IDENTIFIER, IpAddress, BITS, Opaque. */
    memset(&b, 0, sizeof b);
    set_name(&b, "1.3.6.1.2.1.1.2.0");
    b.v.type = ASN_OBJECT_ID;
    const oid sys[] = {1, 3, 6, 1, 4, 1, 8072, 3, 2, 10};
    memcpy(b.objid, sys, sizeof sys);
    b.v.val.objid = b.objid;
    b.v.val_len = sizeof sys;
    assert_int_equal(snmpp_var_value(&b.v, &v, buf, sizeof buf), SNMPP_VAL_TEXT);
    assert_string_equal(buf, "1.3.6.1.4.1.8072.3.2.10");
    b.v.val.objid = NULL;
    assert_int_equal(snmpp_var_value(&b.v, &v, buf, sizeof buf), SNMPP_VAL_NONE);
    vb_str(&b, "1.3.6.1.2.1.4.20.1.1.1", ASN_IPADDRESS, "\xc0\x00\x02\x01", 4);
    assert_int_equal(snmpp_var_value(&b.v, &v, buf, sizeof buf), SNMPP_VAL_TEXT);
    assert_string_equal(buf, "192.0.2.1");
    vb_str(&b, "1.3.6.1.2.1.4.20.1.1.1", ASN_IPADDRESS, "\xc0\x00\x02", 3);
    assert_int_equal(snmpp_var_value(&b.v, &v, buf, sizeof buf), SNMPP_VAL_TEXT);
    assert_string_equal(buf, "0xC00002");
    vb_str(&b, "1.3.6.1.4.1.1.3", ASN_BIT_STR, "\x80\x01", 2);
    assert_int_equal(snmpp_var_value(&b.v, &v, buf, sizeof buf), SNMPP_VAL_TEXT);
    assert_string_equal(buf, "0x8001");
    vb_str(&b, "1.3.6.1.4.1.1.4", ASN_OPAQUE, "ok", 2); /* raw Opaque: hex even if printable */
    assert_int_equal(snmpp_var_value(&b.v, &v, buf, sizeof buf), SNMPP_VAL_TEXT);
    assert_string_equal(buf, "0x6F6B");
}

static void errstat_and_reports(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(snmpp_errstat_name(2, buf, sizeof buf), "noSuchName");
    assert_string_equal(snmpp_errstat_name(16, buf, sizeof buf), "authorizationError");
    assert_string_equal(snmpp_errstat_name(18, buf, sizeof buf), "inconsistentName");
    assert_string_equal(snmpp_errstat_name(19, buf, sizeof buf), "error 19");
    assert_string_equal(snmpp_errstat_name(-1, buf, sizeof buf), "error -1");
    static const struct {
        const char *oid;
        const char *has;
    } cases[] = {
        {"1.3.6.1.6.3.15.1.1.1.0", "security level"},
        {"1.3.6.1.6.3.15.1.1.2.0", "time window"},
        {"1.3.6.1.6.3.15.1.1.3.0", "does not know this user"},
        {"1.3.6.1.6.3.15.1.1.4.0", "engine ID"},
        {"1.3.6.1.6.3.15.1.1.5.0", "wrong auth password"},
        {"1.3.6.1.6.3.15.1.1.6.0", "wrong privacy password"},
        {"1.3.6.1.6.3.11.2.1.1.0", "security model"},
        {"1.3.6.1.6.3.11.2.1.2.0", "invalid"},
        {"1.3.6.1.6.3.11.2.1.3.0", "no handler"},
        {"1.3.6.1.6.3.15.1.1.7.0", "answered with a report"},
        {"1.3.6.1.6.3.15.1.1.5", "answered with a report"},
        {"1.3.6.1.2.1.1.3.0", "answered with a report"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snmpp_oid o = parsed(cases[i].oid);
        const char *s = snmpp_report_text(o.s, o.n);
        if (!strstr(s, cases[i].has))
            fail_msg("%s: \"%s\" lacks \"%s\"", cases[i].oid, s, cases[i].has);
    }
    snmpp_oid t = parsed("1.3.6.1.6.3.15.1.1.2.0"), u = parsed("1.3.6.1.6.3.15.1.1.3.0");
    assert_true(snmpp_report_not_in_time(t.s, t.n));
    assert_false(snmpp_report_not_in_time(u.s, u.n));
    assert_string_equal(snmpp_report_text(NULL, 0), "the agent answered with a report");
}

/* ---- the IF-MIB table ------------------------------------------------------------------------ */

static void ifcol_roots(void **state)
{
    (void)state;
    static const struct {
        int col;
        const char *name, *root;
    } cases[] = {
        {SNMPP_IF_DESCR, "ifDescr", "1.3.6.1.2.1.2.2.1.2"},
        {SNMPP_IF_NAME, "ifName", "1.3.6.1.2.1.31.1.1.1.1"},
        {SNMPP_IF_ALIAS, "ifAlias", "1.3.6.1.2.1.31.1.1.1.18"},
        {SNMPP_IF_ADMIN_STATUS, "ifAdminStatus", "1.3.6.1.2.1.2.2.1.7"},
        {SNMPP_IF_OPER_STATUS, "ifOperStatus", "1.3.6.1.2.1.2.2.1.8"},
        {SNMPP_IF_IN_OCTETS, "ifInOctets", "1.3.6.1.2.1.2.2.1.10"},
        {SNMPP_IF_IN_DISCARDS, "ifInDiscards", "1.3.6.1.2.1.2.2.1.13"},
        {SNMPP_IF_IN_ERRORS, "ifInErrors", "1.3.6.1.2.1.2.2.1.14"},
        {SNMPP_IF_OUT_OCTETS, "ifOutOctets", "1.3.6.1.2.1.2.2.1.16"},
        {SNMPP_IF_OUT_DISCARDS, "ifOutDiscards", "1.3.6.1.2.1.2.2.1.19"},
        {SNMPP_IF_OUT_ERRORS, "ifOutErrors", "1.3.6.1.2.1.2.2.1.20"},
        {SNMPP_IF_HC_IN_OCTETS, "ifHCInOctets", "1.3.6.1.2.1.31.1.1.1.6"},
        {SNMPP_IF_HC_IN_UCAST, "ifHCInUcastPkts", "1.3.6.1.2.1.31.1.1.1.7"},
        {SNMPP_IF_HC_OUT_OCTETS, "ifHCOutOctets", "1.3.6.1.2.1.31.1.1.1.10"},
        {SNMPP_IF_HC_OUT_UCAST, "ifHCOutUcastPkts", "1.3.6.1.2.1.31.1.1.1.11"},
        {SNMPP_IF_HIGH_SPEED, "ifHighSpeed", "1.3.6.1.2.1.31.1.1.1.15"},
    };
    assert_int_equal(sizeof cases / sizeof cases[0], SNMPP_IF_NCOLS);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snmpp_oid r;
        char text[64];
        snmpp_ifcol_root(cases[i].col, &r);
        snmpp_oid_format(r.s, r.n, text, sizeof text);
        assert_string_equal(text, cases[i].root);
        assert_string_equal(snmpp_ifcol_name(cases[i].col), cases[i].name);
    }
    assert_string_equal(snmpp_ifcol_name(-1), "");
    assert_string_equal(snmpp_ifcol_name(SNMPP_IF_NCOLS), "");
}

/* Collects emitted samples as "metric{l=v,...} value" lines. */
typedef struct sink {
    char text[8192];
    size_t len;
    int n;
    int fail_at;
} sink;

static void sink_put(sink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sink_put(sink *s, const char *fmt, ...)
{
    va_list ap;
    if (s->len >= sizeof s->text - 1)
        return;
    va_start(ap, fmt);
    int w = vsnprintf(s->text + s->len, sizeof s->text - s->len, fmt, ap);
    va_end(ap);
    if (w > 0)
        s->len += (size_t)w < sizeof s->text - s->len ? (size_t)w : sizeof s->text - 1 - s->len;
}

static int sink_emit(void *ctx, const char *metric, const char *const *labels, double v)
{
    sink *s = ctx;
    if (s->fail_at && s->n + 1 == s->fail_at)
        return -E2BIG;
    s->n++;
    sink_put(s, "%s{", metric);
    for (size_t i = 0; labels && labels[i]; i += 2)
        sink_put(s, "%s%s=%s", i ? "," : "", labels[i], labels[i + 1]);
    sink_put(s, "} %.17g\n", v);
    return 0;
}

static void add_cell(snmpp_iftab *t, int col, const char *oidtext, tvb *b)
{
    (void)oidtext;
    assert_int_equal(snmpp_iftab_add(t, col, &b->v), 0);
}

static void iftab_samples(void **state)
{
    (void)state;
    snmpp_iftab t = {0};
    tvb b;
    /* Interface 3 with HC counters; interface 1 (added later, sorted first) with 32-bit
     * ones only, as an agent without ifXTable counters. */
    add_cell(&t, SNMPP_IF_DESCR, "", vb_str(&b, "1.3.6.1.2.1.2.2.1.2.3", ASN_OCTET_STR, "eth0", 4));
    add_cell(&t, SNMPP_IF_NAME, "", vb_str(&b, "1.3.6.1.2.1.31.1.1.1.1.3", ASN_OCTET_STR, "e0", 2));
    add_cell(&t, SNMPP_IF_ALIAS, "",
             vb_str(&b, "1.3.6.1.2.1.31.1.1.1.18.3", ASN_OCTET_STR, "uplink", 6));
    add_cell(&t, SNMPP_IF_HC_IN_OCTETS, "",
             vb_c64(&b, "1.3.6.1.2.1.31.1.1.1.6.3", ASN_COUNTER64, 10000000000ULL));
    add_cell(&t, SNMPP_IF_IN_OCTETS, "",
             vb_int(&b, "1.3.6.1.2.1.2.2.1.10.3", ASN_COUNTER, 1410065408));
    add_cell(&t, SNMPP_IF_HC_OUT_OCTETS, "",
             vb_c64(&b, "1.3.6.1.2.1.31.1.1.1.10.3", ASN_COUNTER64, 20));
    add_cell(&t, SNMPP_IF_OPER_STATUS, "", vb_int(&b, "1.3.6.1.2.1.2.2.1.8.3", ASN_INTEGER, 1));
    add_cell(&t, SNMPP_IF_HIGH_SPEED, "",
             vb_int(&b, "1.3.6.1.2.1.31.1.1.1.15.3", ASN_GAUGE, 10000));
    add_cell(&t, SNMPP_IF_DESCR, "", vb_str(&b, "1.3.6.1.2.1.2.2.1.2.1", ASN_OCTET_STR, "lo", 2));
    add_cell(&t, SNMPP_IF_IN_OCTETS, "", vb_int(&b, "1.3.6.1.2.1.2.2.1.10.1", ASN_COUNTER, 5));
    add_cell(&t, SNMPP_IF_OUT_OCTETS, "", vb_int(&b, "1.3.6.1.2.1.2.2.1.16.1", ASN_COUNTER, 6));
    add_cell(&t, SNMPP_IF_IN_ERRORS, "", vb_int(&b, "1.3.6.1.2.1.2.2.1.14.1", ASN_COUNTER, 7));
    add_cell(&t, SNMPP_IF_OUT_ERRORS, "", vb_int(&b, "1.3.6.1.2.1.2.2.1.20.1", ASN_COUNTER, 8));
    add_cell(&t, SNMPP_IF_IN_DISCARDS, "", vb_int(&b, "1.3.6.1.2.1.2.2.1.13.1", ASN_COUNTER, 9));
    add_cell(&t, SNMPP_IF_OUT_DISCARDS, "", vb_int(&b, "1.3.6.1.2.1.2.2.1.19.1", ASN_COUNTER, 10));
    add_cell(&t, SNMPP_IF_ADMIN_STATUS, "", vb_int(&b, "1.3.6.1.2.1.2.2.1.7.1", ASN_INTEGER, 2));
    add_cell(&t, SNMPP_IF_HC_IN_UCAST, "",
             vb_c64(&b, "1.3.6.1.2.1.31.1.1.1.7.1", ASN_COUNTER64, 11));
    add_cell(&t, SNMPP_IF_HC_OUT_UCAST, "",
             vb_c64(&b, "1.3.6.1.2.1.31.1.1.1.11.1", ASN_COUNTER64, 12));
    size_t kept = t.n;
    /* Ignored: an index of two sub-identifiers, the wrong column, a string for a counter, a
     * number for a label, an exception, a column out of range. */
    add_cell(&t, SNMPP_IF_IN_OCTETS, "", vb_int(&b, "1.3.6.1.2.1.2.2.1.10.1.1", ASN_COUNTER, 1));
    add_cell(&t, SNMPP_IF_IN_OCTETS, "", vb_int(&b, "1.3.6.1.2.1.2.2.1.11.1", ASN_COUNTER, 1));
    add_cell(&t, SNMPP_IF_IN_OCTETS, "",
             vb_str(&b, "1.3.6.1.2.1.2.2.1.10.2", ASN_OCTET_STR, "12", 2));
    add_cell(&t, SNMPP_IF_NAME, "", vb_int(&b, "1.3.6.1.2.1.31.1.1.1.1.2", ASN_INTEGER, 1));
    add_cell(&t, SNMPP_IF_IN_OCTETS, "",
             vb_type(&b, "1.3.6.1.2.1.2.2.1.10.2", SNMP_NOSUCHINSTANCE));
    add_cell(&t, SNMPP_IF_NCOLS, "", vb_int(&b, "1.3.6.1.2.1.2.2.1.10.2", ASN_COUNTER, 1));
    add_cell(&t, -1, "", vb_int(&b, "1.3.6.1.2.1.2.2.1.10.2", ASN_COUNTER, 1));
    assert_int_equal(t.n, kept);

    sink s = {0};
    assert_int_equal(snmpp_iftab_emit(&t, sink_emit, &s), 0);
    const char *want = "ifInOctets{ifIndex=1,ifName=,ifAlias=,ifDescr=lo} 5\n"
                       "ifOutOctets{ifIndex=1,ifName=,ifAlias=,ifDescr=lo} 6\n"
                       "ifInErrors{ifIndex=1,ifName=,ifAlias=,ifDescr=lo} 7\n"
                       "ifOutErrors{ifIndex=1,ifName=,ifAlias=,ifDescr=lo} 8\n"
                       "ifInDiscards{ifIndex=1,ifName=,ifAlias=,ifDescr=lo} 9\n"
                       "ifOutDiscards{ifIndex=1,ifName=,ifAlias=,ifDescr=lo} 10\n"
                       "ifAdminStatus{ifIndex=1,ifName=,ifAlias=,ifDescr=lo} 2\n"
                       "ifHCInUcastPkts{ifIndex=1,ifName=,ifAlias=,ifDescr=lo} 11\n"
                       "ifHCOutUcastPkts{ifIndex=1,ifName=,ifAlias=,ifDescr=lo} 12\n"
                       "ifHCInOctets{ifIndex=3,ifName=e0,ifAlias=uplink,ifDescr=eth0} 10000000000\n"
                       "ifHCOutOctets{ifIndex=3,ifName=e0,ifAlias=uplink,ifDescr=eth0} 20\n"
                       "ifOperStatus{ifIndex=3,ifName=e0,ifAlias=uplink,ifDescr=eth0} 1\n"
                       "ifHighSpeed{ifIndex=3,ifName=e0,ifAlias=uplink,ifDescr=eth0} 10000\n";
    if (strcmp(s.text, want))
        fail_msg("emitted:\n%s\nwant:\n%s", s.text, want);

    /* The sink's error stops the emission. */
    sink f = {.fail_at = 3};
    assert_int_equal(snmpp_iftab_emit(&t, sink_emit, &f), -E2BIG);
    assert_int_equal(f.n, 2);
    snmpp_iftab_free(&t);
    assert_int_equal(t.n, 0);
    snmpp_iftab_free(&t); /* twice is fine */
    snmpp_iftab_free(NULL);

    /* An empty table emits nothing. */
    sink e = {0};
    assert_int_equal(snmpp_iftab_emit(&t, sink_emit, &e), 0);
    assert_int_equal(e.n, 0);
}

/* ---- settings -------------------------------------------------------------------------------- */

static snmpp_prep *prep_ok(const char *json)
{
    json_error_t je;
    json_t *st = json_loads(json, 0, &je);
    snmpp_prep *p = NULL;
    char err[256] = "";
    if (!st)
        fail_msg("bad test JSON %s", json);
    int rc = snmpp_prep_parse(st, &p, err, sizeof err);
    json_decref(st);
    if (rc)
        fail_msg("%s: rc %d (%s)", json, rc, err);
    return p;
}

static void settings_defaults_and_values(void **state)
{
    (void)state;
    snmpp_prep *p = prep_ok("{}");
    assert_int_equal(p->version, 2);
    assert_string_equal(p->community, "public");
    assert_true(p->interfaces);
    assert_int_equal(p->noids, 0);
    snmpp_prep_free(p);

    snmpp_prep *q = NULL;
    char err[128];
    assert_int_equal(snmpp_prep_parse(NULL, &q, err, sizeof err), 0);
    assert_int_equal(q->version, 2);
    snmpp_prep_free(q);

    p = prep_ok("{\"version\":\"1\",\"community\":\"c0mm\",\"interfaces\":false,"
                "\"oids\":[\"1.3.6.1.2.1.1\",\".1.3.6.1.2.1.1\",\"1.3.6.1.2.1.25.1.1.0\"],"
                "\"user\":null,\"auth_protocol\":null}");
    assert_int_equal(p->version, 1);
    assert_string_equal(p->community, "c0mm");
    assert_false(p->interfaces);
    assert_int_equal(p->noids, 2); /* the duplicate (with a leading dot) dropped */
    assert_int_equal(p->oids[1].n, 10);
    snmpp_prep_free(p);

    p = prep_ok("{\"version\":\"3\",\"user\":\"u\",\"auth_protocol\":\"sha-512\","
                "\"auth_password\":\"12345678\",\"priv_protocol\":\"AES\","
                "\"priv_password\":\"abcdefgh\"}");
    assert_int_equal(p->version, 3);
    assert_int_equal(p->auth, SNMPP_AUTH_SHA512);
    assert_int_equal(p->priv, SNMPP_PRIV_AES);
    snmpp_prep_free(p);

    /* v1/v2c ignore the v3 fields the server fills with defaults. */
    p = prep_ok("{\"version\":\"2c\",\"user\":\"\",\"auth_protocol\":\"SHA\","
                "\"auth_password\":\"\",\"priv_protocol\":\"DES\",\"priv_password\":\"\"}");
    snmpp_prep_free(p);
    p = prep_ok("{\"version\":\"3\",\"user\":\"nobody\"}"); /* noAuthNoPriv */
    assert_int_equal(p->auth, SNMPP_AUTH_NONE);
    snmpp_prep_free(p);
    snmpp_prep_free(NULL);
}

static void settings_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *json, *why;
    } cases[] = {
        {"[]", "must be an object"},
        {"{\"version\":2}", "\"version\" must be a string"},
        {"{\"version\":\"2\"}", "\"version\" must be"},
        {"{\"version\":\"v3\"}", "\"version\" must be"},
        {"{\"community\":7}", "\"community\" must be a string"},
        {"{\"version\":\"3\"}", "needs a \"user\""},
        {"{\"version\":\"3\",\"user\":\"u\",\"auth_protocol\":\"SHA1\"}", "auth_protocol"},
        {"{\"version\":\"3\",\"user\":\"u\",\"priv_protocol\":\"3DES\"}", "priv_protocol"},
        {"{\"version\":\"3\",\"user\":\"u\",\"auth_protocol\":\"MD5\",\"auth_password\":\"short\"}",
         "at least 8"},
        {"{\"version\":\"3\",\"user\":\"u\",\"priv_protocol\":\"AES\",\"priv_password\":"
         "\"12345678\"}",
         "needs an \"auth_protocol\""},
        {"{\"version\":\"3\",\"user\":\"u\",\"auth_protocol\":\"SHA\",\"auth_password\":"
         "\"12345678\",\"priv_protocol\":\"DES\"}",
         "\"priv_password\" needs at least 8"},
        {"{\"version\":\"3\",\"user\":\"123456789012345678901234567890123\"}", "longer than 32"},
        {"{\"interfaces\":\"yes\"}", "\"interfaces\" must be true or false"},
        {"{\"oids\":\"1.3.6\"}", "\"oids\" must be a list"},
        {"{\"oids\":[1]}", "\"oids\"[0] must be a string"},
        {"{\"oids\":[\"1.3.6\",\"1.3.x\"]}", "\"oids\"[1]: OID \"1.3.x\""},
        {"{\"community\":\"a\\u0000b\"}", "holds a NUL"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_error_t je;
        json_t *st = json_loads(cases[i].json, JSON_ALLOW_NUL, &je);
        snmpp_prep *p = (snmpp_prep *)0x1;
        char err[256] = "";
        if (!st)
            fail_msg("bad test JSON %s", cases[i].json);
        int rc = snmpp_prep_parse(st, &p, err, sizeof err);
        json_decref(st);
        if (rc != -EINVAL || p)
            fail_msg("%s: rc %d, want -EINVAL and no output", cases[i].json, rc);
        if (!strstr(err, cases[i].why))
            fail_msg("%s: \"%s\" lacks \"%s\"", cases[i].json, err, cases[i].why);
    }
    /* Too many OIDs. */
    json_t *st = json_object(), *a = json_array();
    for (int i = 0; i <= SNMPP_MAX_OIDS; i++)
        json_array_append_new(a, json_string("1.3.6.1"));
    json_object_set_new(st, "oids", a);
    snmpp_prep *p = NULL;
    char err[256];
    assert_int_equal(snmpp_prep_parse(st, &p, err, sizeof err), -EINVAL);
    json_decref(st);
}

/* ---- hostile input --------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)rng_state;
}

/* Random varbinds near the walks' subtrees (often inside, sometimes repeated or backwards),
 * with random types and values, through the walk bookkeeping, the value reader and the
 * table: nothing may crash, walks only ever move forward, and every walk ends. */
static void hostile_varbinds(void **state)
{
    (void)state;
    static tvb b[40];
    static const int types[] = {
        ASN_INTEGER,       ASN_COUNTER,   ASN_GAUGE,     ASN_TIMETICKS, ASN_COUNTER64,
        ASN_OCTET_STR,     ASN_OBJECT_ID, ASN_IPADDRESS, ASN_NULL,      SNMP_ENDOFMIBVIEW,
        SNMP_NOSUCHOBJECT, ASN_OPAQUE,    ASN_BIT_STR,   0x55};
    for (int round = 0; round < 3000; round++) {
        snmpp_walk walks[3];
        snmpp_walk *batch[3];
        size_t nbatch = 1 + rnd() % 3;
        for (size_t k = 0; k < nbatch; k++) {
            snmpp_oid r;
            snmpp_ifcol_root((int)(rnd() % SNMPP_IF_NCOLS), &r);
            snmpp_walk_init(&walks[k], r.s, r.n);
            batch[k] = &walks[k];
        }
        snmpp_iftab t = {0};
        for (int answer = 0; answer < 20; answer++) {
            size_t n = rnd() % 40;
            for (size_t i = 0; i < n; i++) {
                tvb *x = &b[i];
                memset(x, 0, sizeof *x);
                snmpp_walk *w = batch[i % nbatch];
                size_t len = w->root.n + rnd() % 3;
                if (rnd() % 8 == 0)
                    len = rnd() % (SNMPP_OID_MAX + 1);
                for (size_t k = 0; k < len; k++)
                    x->name[k] = k < w->root.n && rnd() % 16 ? w->root.s[k] : rnd() % 6;
                x->v.name = x->name;
                x->v.name_length = len;
                x->v.type = (u_char)types[rnd() % (sizeof types / sizeof types[0])];
                x->ival = (long)rnd();
                x->c64.high = rnd();
                x->c64.low = rnd();
                size_t sl = rnd() % sizeof x->str;
                for (size_t k = 0; k < sl; k++)
                    x->str[k] = (unsigned char)rnd();
                for (size_t k = 0; k < 16; k++)
                    x->objid[k] = rnd() % 100;
                switch (rnd() % 4) {
                case 0:
                    x->v.val.integer = &x->ival;
                    break;
                case 1:
                    x->v.val.counter64 = &x->c64;
                    break;
                case 2:
                    x->v.val.string = x->str;
                    break;
                default:
                    x->v.val.objid = x->objid;
                    break;
                }
                /* val_len never promises more than the storage behind the pointer. */
                x->v.val_len = x->v.val.string == x->str ? sl : rnd() % 16;
                if (x->v.val.integer == &x->ival && x->v.val_len > sizeof x->ival)
                    x->v.val_len = sizeof x->ival;
                if (x->v.val.counter64 == &x->c64 && x->v.val_len > sizeof x->c64)
                    x->v.val_len = sizeof x->c64;
            }
            snmpp_oid before[3];
            for (size_t k = 0; k < nbatch; k++)
                before[k] = walks[k].last;
            size_t progress;
            snmpp_walk_response(batch, nbatch, chain(b, n), NULL, NULL, &progress);
            for (size_t i = 0; i < n; i++) {
                double v;
                char text[64];
                snmpp_var_value(&b[i].v, &v, text, sizeof text);
                assert_true(strlen(text) < sizeof text);
                assert_int_equal(snmpp_iftab_add(&t, (int)(rnd() % SNMPP_IF_NCOLS), &b[i].v), 0);
            }
            for (size_t k = 0; k < nbatch; k++) {
                int c = snmpp_oid_cmp(walks[k].last.s, walks[k].last.n, before[k].s, before[k].n);
                assert_true(c >= 0);
                if (c > 0) /* moved: still inside the subtree */
                    assert_true(snmpp_oid_in_subtree(walks[k].last.s, walks[k].last.n,
                                                     walks[k].root.s, walks[k].root.n));
            }
        }
        sink s = {0};
        snmpp_iftab_emit(&t, sink_emit, &s);
        snmpp_iftab_free(&t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(oid_parse_valid),
        cmocka_unit_test(oid_parse_rejects),
        cmocka_unit_test(oid_order_and_subtrees),
        cmocka_unit_test(oid_format),
        cmocka_unit_test(oid_from_net_bounds),
        cmocka_unit_test(walk_steps),
        cmocka_unit_test(walk_bulk_answer),
        cmocka_unit_test(values_numbers),
        cmocka_unit_test(values_text),
        cmocka_unit_test(errstat_and_reports),
        cmocka_unit_test(ifcol_roots),
        cmocka_unit_test(iftab_samples),
        cmocka_unit_test(settings_defaults_and_values),
        cmocka_unit_test(settings_rejects),
        cmocka_unit_test(hostile_varbinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
