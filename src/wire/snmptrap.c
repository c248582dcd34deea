/* snmptrap: SNMPv1/v2c notifications into event records, with a strict BER decoder of our own;
 * this file reads and checks a datagram, snmptrap_fmt.c writes the record and the response.
 *
 * Design. A datagram is read in two passes. The first (parse, here) walks the message exactly
 * as RFC 1157 and RFC 3416 shape it -- Message { version, community, PDU } with a v1 Trap-PDU
 * { enterprise, agent-addr, generic-trap, specific-trap, time-stamp, varbinds } or a v2
 * PDU { request-id, error-status, error-index, varbinds } -- checking every tag and length
 * against its container and every value against its type, and records where things are
 * (spans into the datagram, a few decoded numbers and OIDs) in a bounded struct on the stack.
 * Nothing is written before the whole datagram has been accepted. The second pass
 * (snmptrap_fmt.c) writes the record's strings into the caller's scratch buffer.
 *
 * The decoder is not a general BER reader: it never recurses. It knows the one shape it
 * expects and refuses constructed values inside varbinds, so a datagram of 10,000 nested
 * SEQUENCEs fails at its first unexpected tag. Integers may carry redundant leading bytes
 * (net-snmp accepts them, and so do we: they are harmless), but lengths must be definite and
 * fit their container, OIDs minimally encoded, and the message must end where the datagram
 * does. The community is checked before the PDU is read: a sender without it costs little. */
#include "snmptrap_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The datagram and where to say what is wrong with it. */
typedef struct rd {
    const unsigned char *d;
    size_t len;
    char *err;
    size_t errcap;
    unsigned vb; /* the varbind being read (from 1), named in reasons; 0: none */
} rd;

static void set_err(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t cap, const char *fmt, ...)
{
    if (!err || !cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* Reports malformed input at byte `at`; returns -EINVAL. */
static int bad(rd *r, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int bad(rd *r, size_t at, const char *fmt, ...)
{
    if (r->err && r->errcap) {
        int n = r->vb ? snprintf(r->err, r->errcap, "byte %zu: varbind %u: ", at, r->vb)
                      : snprintf(r->err, r->errcap, "byte %zu: ", at);
        if (n >= 0 && (size_t)n < r->errcap) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(r->err + n, r->errcap - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -EINVAL;
}

/* Encoded contents of the OIDs a v2c notification treats specially. */
static const unsigned char OID_SYSUPTIME0[] = {0x2b, 6, 1, 2, 1, 1, 3, 0};
static const unsigned char OID_TRAPOID0[] = {0x2b, 6, 1, 6, 3, 1, 1, 4, 1, 0};
static const unsigned char OID_TRAPENT0[] = {0x2b, 6, 1, 6, 3, 1, 1, 4, 3, 0};

/* ---- BER primitives ---------------------------------------------------------------------- */

/* Reads the tag and length at *pos of a TLV that must lie within [*pos, end); want >= 0 is the
 * tag it must have (checked before its length, for the clearer reason), `what` names it.
 * Leaves *pos at its contents. */
static int tlv(rd *r, size_t *pos, size_t end, int want, const char *what, unsigned *tag,
               size_t *clen)
{
    size_t p = *pos, start = p;
    if (p >= end)
        return bad(r, p, "truncated: %s expected", want >= 0 ? what : "a tag");
    unsigned t = r->d[p++];
    if (want >= 0 && t != (unsigned)want)
        return bad(r, start, "%s expected (tag 0x%02x), found tag 0x%02x", what, (unsigned)want, t);
    if ((t & 0x1f) == 0x1f)
        return bad(r, start, "tag 0x%02x: high tag numbers are not used by SNMP", t);
    if (p >= end)
        return bad(r, p, "truncated: a length expected");
    unsigned l0 = r->d[p++];
    size_t l = l0;
    if (l0 == 0x80)
        return bad(r, p - 1, "indefinite length");
    if (l0 > 0x80) {
        unsigned n = l0 & 0x7f;
        if (n > 4)
            return bad(r, p - 1, "length of %u bytes (at most 4)", n);
        if (end - p < n)
            return bad(r, p, "truncated length");
        l = 0;
        for (unsigned i = 0; i < n; i++)
            l = l << 8 | r->d[p++];
    }
    if (l > end - p)
        return bad(r, start, "length %zu past the end of its container (%zu bytes left)", l,
                   end - p);
    *tag = t;
    *clen = l;
    *pos = p;
    return 0;
}

/* A TLV with the tag `want`. */
static int expect(rd *r, size_t *pos, size_t end, unsigned want, const char *what, size_t *clen)
{
    unsigned tag;
    return tlv(r, pos, end, (int)want, what, &tag, clen);
}

/* A signed integer (two's complement, redundant leading bytes allowed). Returns NULL or why
 * not. */
const char *stp__get_int(const unsigned char *p, size_t n, int64_t *v)
{
    if (n == 0)
        return "empty integer";
    while (n > 1 && ((p[0] == 0x00 && !(p[1] & 0x80)) || (p[0] == 0xff && (p[1] & 0x80)))) {
        p++;
        n--;
    }
    if (n > 8)
        return "integer out of the 64-bit range";
    uint64_t u = p[0] & 0x80 ? UINT64_MAX : 0;
    for (size_t i = 0; i < n; i++)
        u = u << 8 | p[i];
    *v = u > (uint64_t)INT64_MAX ? -(int64_t)(UINT64_MAX - u) - 1 : (int64_t)u;
    return NULL;
}

/* An unsigned integer of `bytes` bytes at most (4 or 8). A value with its high bit set is
 * negative in BER, except in exactly the type's width: the leading zero byte a sender forgot. */
const char *stp__get_uint(const unsigned char *p, size_t n, unsigned bytes, uint64_t *v)
{
    if (n == 0)
        return "empty integer";
    if ((p[0] & 0x80) && n != bytes)
        return "negative value of an unsigned type";
    while (n > 1 && p[0] == 0x00) {
        p++;
        n--;
    }
    if (n > bytes)
        return bytes == 4 ? "value above 2^32-1" : "value above 2^64-1";
    uint64_t u = 0;
    for (size_t i = 0; i < n; i++)
        u = u << 8 | p[i];
    *v = u;
    return NULL;
}

/* An OBJECT IDENTIFIER's contents. On failure *at is the offset (in p) of the fault. */
const char *stp__get_oid(const unsigned char *p, size_t n, stp_oid *o, size_t *at)
{
    o->n = 0;
    *at = 0;
    if (n == 0)
        return "empty OBJECT IDENTIFIER";
    size_t i = 0;
    while (i < n) {
        size_t s = i;
        uint32_t v = 0;
        if (p[i] == 0x80) {
            *at = i;
            return "sub-identifier with a leading 0x80 byte (not minimally encoded)";
        }
        for (;;) {
            if (i == n) {
                *at = s;
                return "truncated sub-identifier";
            }
            if (v > (UINT32_MAX >> 7)) {
                *at = s;
                return "sub-identifier above 2^32-1";
            }
            v = v << 7 | (p[i] & 0x7f);
            if (!(p[i++] & 0x80))
                break;
        }
        if (o->n + (s == 0 ? 2 : 1) > SNMPTRAP_MAX_SUBIDS) {
            *at = s;
            return "more than 128 sub-identifiers";
        }
        if (s == 0) {
            /* The first byte(s) hold the first two arcs: 40 * X + Y, X in 0..2. */
            uint32_t x = v < 40 ? 0 : v < 80 ? 1 : 2;
            o->s[o->n++] = x;
            o->s[o->n++] = v - 40 * x;
        } else {
            o->s[o->n++] = v;
        }
    }
    return NULL;
}

/* ---- parsing ----------------------------------------------------------------------------- */

const char *stp__type_name(unsigned tag)
{
    static const struct {
        unsigned char tag;
        const char *name;
    } types[] = {
        {STP_INTEGER, "INTEGER"},
        {STP_OCTETS, "OCTET STRING"},
        {STP_NULL, "NULL"},
        {STP_OID, "OBJECT IDENTIFIER"},
        {STP_IPADDR, "IpAddress"},
        {STP_COUNTER32, "Counter32"},
        {STP_GAUGE32, "Gauge32"},
        {STP_TIMETICKS, "TimeTicks"},
        {STP_OPAQUE, "Opaque"},
        {STP_COUNTER64, "Counter64"},
        {STP_UINT32, "UInteger32"},
        {STP_NOSUCHOBJECT, "noSuchObject"},
        {STP_NOSUCHINSTANCE, "noSuchInstance"},
        {STP_ENDOFMIBVIEW, "endOfMibView"},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (types[i].tag == tag)
            return types[i].name;
    return "?";
}

static const char *pdu_name(unsigned t)
{
    static const char *const names[] = {
        "GetRequest-PDU",     "GetNextRequest-PDU", "Response-PDU",    "SetRequest-PDU", "Trap-PDU",
        "GetBulkRequest-PDU", "InformRequest-PDU",  "SNMPv2-Trap-PDU", "Report-PDU",
    };
    return t >= 0xa0 && t <= 0xa8 ? names[t - 0xa0] : NULL;
}

/* Checks the contents of an integer TLV at [at, at + n). */
static int check_int(rd *r, size_t at, size_t n, const char *what, int64_t *v)
{
    const char *why = stp__get_int(r->d + at, n, v);
    return why ? bad(r, at, "%s: %s", what, why) : 0;
}

static int check_uint(rd *r, size_t at, size_t n, unsigned bytes, const char *what, uint64_t *v)
{
    const char *why = stp__get_uint(r->d + at, n, bytes, v);
    return why ? bad(r, at, "%s: %s", what, why) : 0;
}

static int check_oid(rd *r, size_t at, size_t n, const char *what, stp_oid *o)
{
    size_t off;
    const char *why = stp__get_oid(r->d + at, n, o, &off);
    return why ? bad(r, at + off, "%s: %s", what, why) : 0;
}

/* Checks a varbind's value (tag at `tagat`, contents [at, at + n)). */
static int check_value(rd *r, size_t tagat, unsigned tag, size_t at, size_t n)
{
    const char *what = stp__type_name(tag);
    int64_t i;
    uint64_t u;
    stp_oid o;
    switch (tag) {
    case STP_INTEGER:
        return check_int(r, at, n, what, &i);
    case STP_OCTETS:
    case STP_OPAQUE:
        return 0;
    case STP_NULL:
    case STP_NOSUCHOBJECT:
    case STP_NOSUCHINSTANCE:
    case STP_ENDOFMIBVIEW:
        return n ? bad(r, at, "%s with %zu bytes of contents", what, n) : 0;
    case STP_OID:
        return check_oid(r, at, n, what, &o);
    case STP_IPADDR:
        return n == 4 ? 0 : bad(r, at, "%s of %zu bytes (4 expected)", what, n);
    case STP_COUNTER32:
    case STP_GAUGE32:
    case STP_TIMETICKS:
    case STP_UINT32:
        return check_uint(r, at, n, 4, what, &u);
    case STP_COUNTER64:
        return check_uint(r, at, n, 8, what, &u);
    default:
        return bad(r, tagat, "unsupported value type (tag 0x%02x)", tag);
    }
}

/* The variable-bindings SEQUENCE at *pos, which must end at `end`. */
static int parse_varbinds(rd *r, size_t *pos, size_t end, stp_trap *t)
{
    size_t clen, start = *pos;
    int rc = expect(r, pos, end, STP_SEQ, "variable-bindings (SEQUENCE)", &clen);
    if (rc)
        return rc;
    size_t vend = *pos + clen;
    if (vend != end)
        return bad(r, vend, "%zu bytes after the variable-bindings", end - vend);
    t->vbl_tlv = (stp_span){start, vend - start};
    size_t p = *pos;
    while (p < vend) {
        if (t->nvb == SNMPTRAP_MAX_VARBINDS)
            return bad(r, p, "more than %d varbinds", SNMPTRAP_MAX_VARBINDS);
        stp_varbind *v = &t->vb[t->nvb];
        r->vb = t->nvb + 1; /* reasons from here on name it */
        if ((rc = expect(r, &p, vend, STP_SEQ, "SEQUENCE", &clen)))
            return rc;
        size_t bend = p + clen;
        stp_oid o;
        if ((rc = expect(r, &p, bend, STP_OID, "name (OBJECT IDENTIFIER)", &clen)) ||
            (rc = check_oid(r, p, clen, "name", &o)))
            return rc;
        v->oid = (stp_span){p, clen};
        p += clen;
        size_t tagat = p;
        if ((rc = tlv(r, &p, bend, -1, NULL, &v->type, &clen)) ||
            (rc = check_value(r, tagat, v->type, p, clen)))
            return rc;
        v->val = (stp_span){p, clen};
        v->payload = 1;
        p += clen;
        if (p != bend)
            return bad(r, p, "%zu bytes after its value", bend - p);
        r->vb = 0;
        t->nvb++;
    }
    *pos = p;
    return 0;
}

/* A v1 Trap-PDU's contents [p, end). */
static int parse_trap1(rd *r, size_t p, size_t end, stp_trap *t)
{
    size_t clen;
    int rc;
    uint64_t u;
    if ((rc = expect(r, &p, end, STP_OID, "enterprise (OBJECT IDENTIFIER)", &clen)) ||
        (rc = check_oid(r, p, clen, "enterprise", &t->enterprise)))
        return rc;
    t->have_enterprise = 1;
    p += clen;
    if ((rc = expect(r, &p, end, STP_IPADDR, "agent-addr (IpAddress)", &clen)))
        return rc;
    if (clen != 4)
        return bad(r, p, "agent-addr of %zu bytes (4 expected)", clen);
    memcpy(t->agent, r->d + p, 4);
    t->have_agent = t->agent[0] | t->agent[1] | t->agent[2] | t->agent[3];
    p += clen;
    if ((rc = expect(r, &p, end, STP_INTEGER, "generic-trap (INTEGER)", &clen)) ||
        (rc = check_int(r, p, clen, "generic-trap", &t->generic)))
        return rc;
    if (t->generic < 0 || t->generic > 6)
        return bad(r, p, "generic-trap %" PRId64 " (0 to 6 expected)", t->generic);
    p += clen;
    if ((rc = expect(r, &p, end, STP_INTEGER, "specific-trap (INTEGER)", &clen)) ||
        (rc = check_int(r, p, clen, "specific-trap", &t->specific)))
        return rc;
    /* RFC 3584 3.1: it becomes a sub-identifier of the translated trap OID. */
    if (t->specific < 0 || t->specific > (int64_t)UINT32_MAX)
        return bad(r, p, "specific-trap %" PRId64 " out of 0 to 2^32-1", t->specific);
    p += clen;
    if ((rc = expect(r, &p, end, STP_TIMETICKS, "time-stamp (TimeTicks)", &clen)) ||
        (rc = check_uint(r, p, clen, 4, "time-stamp", &u)))
        return rc;
    t->have_uptime = 1;
    t->uptime = u;
    p += clen;
    if ((rc = parse_varbinds(r, &p, end, t)))
        return rc;

    /* The SNMPv2 trap OID (RFC 3584 3.1): snmpTraps.(generic + 1), or enterprise.0.specific. */
    if (t->generic < 6) {
        static const uint32_t snmp_traps[] = {1, 3, 6, 1, 6, 3, 1, 1, 5};
        memcpy(t->trap_oid.s, snmp_traps, sizeof snmp_traps);
        t->trap_oid.n = 9;
        t->trap_oid.s[t->trap_oid.n++] = (uint32_t)t->generic + 1;
    } else {
        t->trap_oid = t->enterprise;
        t->trap_oid.s[t->trap_oid.n++] = 0;
        t->trap_oid.s[t->trap_oid.n++] = (uint32_t)t->specific;
    }
    return 0;
}

/* A v2 PDU's contents [p, end). */
static int parse_pdu2(rd *r, size_t p, size_t end, stp_trap *t)
{
    size_t clen, start = p;
    int64_t i;
    int rc;
    if ((rc = expect(r, &p, end, STP_INTEGER, "request-id (INTEGER)", &clen)) ||
        (rc = check_int(r, p, clen, "request-id", &t->request_id)))
        return rc;
    p += clen;
    t->reqid_tlv = (stp_span){start, p - start};
    if ((rc = expect(r, &p, end, STP_INTEGER, "error-status (INTEGER)", &clen)) ||
        (rc = check_int(r, p, clen, "error-status", &i)))
        return rc;
    p += clen;
    if ((rc = expect(r, &p, end, STP_INTEGER, "error-index (INTEGER)", &clen)) ||
        (rc = check_int(r, p, clen, "error-index", &i)))
        return rc;
    p += clen;
    if ((rc = parse_varbinds(r, &p, end, t)))
        return rc;

    /* RFC 3416 4.2.6 puts sysUpTime.0 and snmpTrapOID.0 first; senders that get the order
     * wrong are still understood (as snmptrapd does), the first of each counts. */
    int have_oid = 0;
    for (unsigned k = 0; k < t->nvb; k++) {
        stp_varbind *v = &t->vb[k];
        size_t at;
        if (!t->have_uptime && v->type == STP_TIMETICKS &&
            stp__oid_is(r->d, v->oid, OID_SYSUPTIME0, sizeof OID_SYSUPTIME0)) {
            stp__get_uint(r->d + v->val.off, v->val.len, 4, &t->uptime);
            t->have_uptime = 1;
            v->payload = 0;
        } else if (!have_oid && stp__oid_is(r->d, v->oid, OID_TRAPOID0, sizeof OID_TRAPOID0)) {
            if (v->type != STP_OID)
                return bad(r, v->val.off,
                           "varbind %u: snmpTrapOID.0 is not an OBJECT IDENTIFIER but %s", k + 1,
                           stp__type_name(v->type));
            stp__get_oid(r->d + v->val.off, v->val.len, &t->trap_oid, &at);
            have_oid = 1;
            v->payload = 0;
        } else if (!t->have_enterprise && v->type == STP_OID &&
                   stp__oid_is(r->d, v->oid, OID_TRAPENT0, sizeof OID_TRAPENT0)) {
            stp__get_oid(r->d + v->val.off, v->val.len, &t->enterprise, &at);
            t->have_enterprise = 1;
        }
    }
    if (!have_oid)
        return bad(r, t->vbl_tlv.off, "no snmpTrapOID.0 varbind (RFC 3416 4.2.6)");
    return 0;
}

/* Constant-time (in the expected community) comparison. */
static int same_community(const unsigned char *got, size_t n, const char *want)
{
    size_t wn = strlen(want);
    unsigned diff = n != wn;
    for (size_t i = 0; i < wn; i++)
        diff |= (unsigned)(i < n ? got[i] : 0) ^ (unsigned char)want[i];
    return diff == 0;
}

static int parse(rd *r, const char *community, stp_trap *t, char *err, size_t errcap)
{
    size_t p = 0, clen;
    int rc;
    if (r->len == 0)
        return bad(r, 0, "empty datagram");
    if (r->len > SNMPTRAP_MAX_DATAGRAM)
        return bad(r, SNMPTRAP_MAX_DATAGRAM, "datagram of %zu bytes (at most %d)", r->len,
                   SNMPTRAP_MAX_DATAGRAM);
    if ((rc = expect(r, &p, r->len, STP_SEQ, "an SNMP message (SEQUENCE)", &clen)))
        return rc;
    if (p + clen != r->len)
        return bad(r, p + clen, "%zu bytes after the message", r->len - (p + clen));

    size_t start = p;
    int64_t version;
    if ((rc = expect(r, &p, r->len, STP_INTEGER, "version (INTEGER)", &clen)) ||
        (rc = check_int(r, p, clen, "version", &version)))
        return rc;
    if (version == 3) {
        set_err(err, errcap, "SNMPv3 is not supported (send SNMPv1 or SNMPv2c notifications)");
        return -EPROTONOSUPPORT;
    }
    if (version != 0 && version != 1) {
        set_err(err, errcap,
                "SNMP version field %" PRId64 " is not supported (0 = v1 and 1 = v2c are)",
                version);
        return -EPROTONOSUPPORT;
    }
    t->version = (int)version;
    p += clen;
    t->ver_tlv = (stp_span){start, p - start};

    start = p;
    if ((rc = expect(r, &p, r->len, STP_OCTETS, "community (OCTET STRING)", &clen)))
        return rc;
    if (community && community[0] && !same_community(r->d + p, clen, community)) {
        set_err(err, errcap, "wrong community");
        return -EACCES;
    }
    p += clen;
    t->comm_tlv = (stp_span){start, p - start};

    start = p;
    if ((rc = tlv(r, &p, r->len, -1, NULL, &t->pdu, &clen)))
        return rc;
    if (p + clen != r->len)
        return bad(r, p + clen, "%zu bytes after the PDU", r->len - (p + clen));
    const char *pn = pdu_name(t->pdu);
    if (t->version == 0 && t->pdu == STP_PDU_TRAP1)
        return parse_trap1(r, p, p + clen, t);
    if (t->version == 1 && (t->pdu == STP_PDU_TRAP2 || t->pdu == STP_PDU_INFORM))
        return parse_pdu2(r, p, p + clen, t);
    if (t->pdu == STP_PDU_TRAP1 || t->pdu == STP_PDU_TRAP2 || t->pdu == STP_PDU_INFORM)
        return bad(r, start, "a %s in an SNMP%s message", pn, t->version ? "v2c" : "v1");
    if (pn)
        return bad(r, start, "a %s is not a notification", pn);
    return bad(r, start, "PDU expected, found tag 0x%02x", t->pdu);
}

int snmptrap_decode(const unsigned char *data, size_t len, const char *community,
                    const char *source, int64_t now_ms, buf *scratch, event *ev, buf *resp,
                    char *err, size_t errcap)
{
    static const unsigned char empty[1] = {0};
    rd r = {data ? data : empty, data ? len : 0, err, errcap, 0};
    stp_trap t;
    if (resp)
        buf_reset(resp);
    t.have_enterprise = t.have_agent = t.have_uptime = 0;
    t.nvb = 0;
    t.trap_oid.n = t.enterprise.n = 0;
    t.generic = t.specific = t.request_id = 0;
    t.uptime = 0;
    t.trapaddr = t.sysname = STP_NONE;
    int rc = parse(&r, community, &t, err, errcap);
    if (rc)
        return rc;
    const char *why = NULL;
    if ((rc = stp__write(r.d, &t, source, now_ms, scratch, ev, resp, &why)))
        set_err(err, errcap, "%s", why);
    return rc;
}
