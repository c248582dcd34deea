/* snmptrap_fmt: the record and the inform response of a parsed SNMP notification (see
 * snmptrap.c for the reader): the names of well-known OIDs, values as text and JSON, titles.
 *
 * The name table maps well-known OIDs to their MIB names by longest prefix on sub-identifier
 * boundaries ("1.3.6.1.2.1.2.2.1.1.3" -> "ifIndex.3"). It is small on purpose: the MIBs of
 * whole vendors belong in a MIB loader, not in a parser. The record's strings are written into
 * the caller's scratch buffer one after the other, each NUL-terminated, and the record's
 * pointers set from their offsets at the end (the buffer may move while it grows). */
#include "snmptrap_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ---- well-known OIDs --------------------------------------------------------------------- */

typedef struct oid_name {
    const char *oid;
    size_t len; /* of oid */
    const char *name;
    int sev; /* of a notification */
} oid_name;

#define E(oid, name, sev)                                                                          \
    {                                                                                              \
        oid, sizeof oid - 1, name, sev                                                             \
    }
#define W EVENT_WARNING
#define N EVENT_NOTICE
#define I EVENT_INFO
static const oid_name names[] = {
    /* SNMPv2-MIB system group and notification parameters */
    E("1.3.6.1.2.1.1.1", "sysDescr", I),
    E("1.3.6.1.2.1.1.2", "sysObjectID", I),
    E("1.3.6.1.2.1.1.3", "sysUpTime", I),
    E("1.3.6.1.2.1.1.4", "sysContact", I),
    E("1.3.6.1.2.1.1.5", "sysName", I),
    E("1.3.6.1.2.1.1.6", "sysLocation", I),
    E("1.3.6.1.2.1.1.7", "sysServices", I),
    E("1.3.6.1.6.3.1.1.4.1", "snmpTrapOID", I),
    E("1.3.6.1.6.3.1.1.4.3", "snmpTrapEnterprise", I),
    /* SNMP-COMMUNITY-MIB (RFC 3584 proxies) */
    E("1.3.6.1.6.3.18.1.3", "snmpTrapAddress", I),
    E("1.3.6.1.6.3.18.1.4", "snmpTrapCommunity", I),
    /* the generic notifications (SNMPv2-MIB snmpTraps) */
    E("1.3.6.1.6.3.1.1.5.1", "coldStart", N),
    E("1.3.6.1.6.3.1.1.5.2", "warmStart", N),
    E("1.3.6.1.6.3.1.1.5.3", "linkDown", W),
    E("1.3.6.1.6.3.1.1.5.4", "linkUp", N),
    E("1.3.6.1.6.3.1.1.5.5", "authenticationFailure", W),
    E("1.3.6.1.6.3.1.1.5.6", "egpNeighborLoss", W),
    E("1.3.6.1.2.1.8.5.1.2", "egpNeighAddr", I),
    /* IF-MIB */
    E("1.3.6.1.2.1.2.1", "ifNumber", I),
    E("1.3.6.1.2.1.2.2.1.1", "ifIndex", I),
    E("1.3.6.1.2.1.2.2.1.2", "ifDescr", I),
    E("1.3.6.1.2.1.2.2.1.3", "ifType", I),
    E("1.3.6.1.2.1.2.2.1.4", "ifMtu", I),
    E("1.3.6.1.2.1.2.2.1.5", "ifSpeed", I),
    E("1.3.6.1.2.1.2.2.1.6", "ifPhysAddress", I),
    E("1.3.6.1.2.1.2.2.1.7", "ifAdminStatus", I),
    E("1.3.6.1.2.1.2.2.1.8", "ifOperStatus", I),
    E("1.3.6.1.2.1.2.2.1.9", "ifLastChange", I),
    E("1.3.6.1.2.1.31.1.1.1.1", "ifName", I),
    E("1.3.6.1.2.1.31.1.1.1.15", "ifHighSpeed", I),
    E("1.3.6.1.2.1.31.1.1.1.18", "ifAlias", I),
    /* HOST-RESOURCES-MIB */
    E("1.3.6.1.2.1.25.1.1", "hrSystemUptime", I),
    /* ENTITY-MIB */
    E("1.3.6.1.2.1.47.2.0.1", "entConfigChange", I),
    /* BGP4-MIB (RFC 1657 traps and RFC 4273 notifications) */
    E("1.3.6.1.2.1.15.0.1", "bgpEstablishedNotification", N),
    E("1.3.6.1.2.1.15.0.2", "bgpBackwardTransNotification", W),
    E("1.3.6.1.2.1.15.7.1", "bgpEstablished", N),
    E("1.3.6.1.2.1.15.7.2", "bgpBackwardTransition", W),
    E("1.3.6.1.2.1.15.3.1.2", "bgpPeerState", I),
    E("1.3.6.1.2.1.15.3.1.7", "bgpPeerRemoteAddr", I),
    E("1.3.6.1.2.1.15.3.1.14", "bgpPeerLastError", I),
    /* UPS-MIB (RFC 1628) */
    E("1.3.6.1.2.1.33.1.2.2", "upsSecondsOnBattery", I),
    E("1.3.6.1.2.1.33.1.2.3", "upsEstimatedMinutesRemaining", I),
    E("1.3.6.1.2.1.33.1.6.2.1.2", "upsAlarmDescr", I),
    E("1.3.6.1.2.1.33.2.1", "upsTrapOnBattery", W),
    E("1.3.6.1.2.1.33.2.2", "upsTrapTestCompleted", I),
    E("1.3.6.1.2.1.33.2.3", "upsTrapAlarmEntryAdded", W),
    E("1.3.6.1.2.1.33.2.4", "upsTrapAlarmEntryRemoved", N),
    /* DISMAN-EVENT-MIB (RFC 2981): what snmpd's monitors send */
    E("1.3.6.1.2.1.88.2.0.1", "mteTriggerFired", W),
    E("1.3.6.1.2.1.88.2.0.2", "mteTriggerRising", W),
    E("1.3.6.1.2.1.88.2.0.3", "mteTriggerFalling", N),
    E("1.3.6.1.2.1.88.2.0.4", "mteTriggerFailure", W),
    E("1.3.6.1.2.1.88.2.0.5", "mteEventSetFailure", W),
    E("1.3.6.1.2.1.88.2.1.1", "mteHotTrigger", I),
    E("1.3.6.1.2.1.88.2.1.2", "mteHotTargetName", I),
    E("1.3.6.1.2.1.88.2.1.3", "mteHotContextName", I),
    E("1.3.6.1.2.1.88.2.1.4", "mteHotOID", I),
    E("1.3.6.1.2.1.88.2.1.5", "mteHotValue", I),
    E("1.3.6.1.2.1.88.2.1.6", "mteFailedReason", I),
    /* NET-SNMP-AGENT-MIB and UCD-SNMP-MIB (net-snmp's snmpd) */
    E("1.3.6.1.4.1.8072.4.0.1", "nsNotifyStart", N),
    E("1.3.6.1.4.1.8072.4.0.2", "nsNotifyShutdown", W),
    E("1.3.6.1.4.1.8072.4.0.3", "nsNotifyRestart", N),
    E("1.3.6.1.4.1.2021.9.1.2", "dskPath", I),
    E("1.3.6.1.4.1.2021.9.1.100", "dskErrorFlag", I),
    E("1.3.6.1.4.1.2021.9.1.101", "dskErrorMsg", I),
    /* CISCO-CONFIG-MAN-MIB */
    E("1.3.6.1.4.1.9.9.43.2.0.1", "ciscoConfigManEvent", I),
};
#undef E
#undef W
#undef N
#undef I

/* The entry whose OID is the longest prefix of num (a dotted OID) on a sub-identifier
 * boundary, or NULL; *plen is the length of its OID. */
static const oid_name *lookup(const char *num, size_t len, size_t *plen)
{
    const oid_name *best = NULL;
    size_t bl = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const oid_name *e = &names[i];
        size_t l = e->len;
        /* The last digit first: it tells most entries apart at once. */
        if (l <= bl || l > len || (l < len && num[l] != '.') || num[l - 1] != e->oid[l - 1] ||
            memcmp(num, e->oid, l))
            continue;
        best = e;
        bl = l;
    }
    *plen = bl;
    return best;
}

/* Encoded contents of the OIDs whose values say who a trap is about, or must not be kept. */
static const unsigned char OID_SYSNAME0[] = {0x2b, 6, 1, 2, 1, 1, 5, 0};
static const unsigned char OID_TRAPADDR0[] = {0x2b, 6, 1, 6, 3, 18, 1, 3, 0};
static const unsigned char OID_TRAPCOMM0[] = {0x2b, 6, 1, 6, 3, 18, 1, 4, 0};

/* ---- writing ----------------------------------------------------------------------------- */

/* Writes o as a dotted number into dst (at least STP_OID_STR_MAX bytes); returns its length. */
static size_t oid_format(const stp_oid *o, char *dst)
{
    size_t n = 0;
    for (unsigned i = 0; i < o->n; i++) {
        char tmp[12];
        size_t k = sizeof tmp;
        uint32_t v = o->s[i];
        do {
            tmp[--k] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        if (i)
            dst[n++] = '.';
        memcpy(dst + n, tmp + k, sizeof tmp - k);
        n += sizeof tmp - k;
    }
    dst[n] = '\0';
    return n;
}

static void put_oid_num(buf *b, const stp_oid *o)
{
    char s[STP_OID_STR_MAX];
    buf_append(b, s, oid_format(o, s));
}

/* o by name ("ifIndex.3"), or numeric. */
static void put_oid_name(buf *b, const stp_oid *o)
{
    char s[STP_OID_STR_MAX];
    size_t n = oid_format(o, s), pl;
    const oid_name *e = lookup(s, n, &pl);
    if (e) {
        buf_puts(b, e->name);
        buf_append(b, s + pl, n - pl);
    } else {
        buf_append(b, s, n);
    }
}

static void decode_oid(const unsigned char *d, stp_span s, stp_oid *o)
{
    size_t at;
    stp__get_oid(d + s.off, s.len, o, &at); /* checked while parsing */
}

/* The length of a valid UTF-8 sequence at s (before e), or 0. */
static size_t utf8_len(const unsigned char *s, const unsigned char *e)
{
    unsigned c = s[0];
    size_t k = (size_t)(e - s);
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return k >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (k < 3 || (s[2] & 0xc0) != 0x80)
            return 0;
        unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        return s[1] >= lo && s[1] <= hi ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (k < 4 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
            return 0;
        unsigned lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        return s[1] >= lo && s[1] <= hi ? 4 : 0;
    }
    return 0;
}

/* The length of the text an OCTET STRING holds (without trailing NULs, unless it is nothing
 * else), or STP_NONE when it is not printable: invalid UTF-8, or a control character other than
 * TAB, CR and LF (C0, DEL and C1). */
static size_t printable(const unsigned char *p, size_t n)
{
    size_t t = n;
    while (t > 0 && p[t - 1] == 0)
        t--;
    if (t > 0)
        n = t;
    const unsigned char *s = p, *e = p + n;
    while (s < e) {
        unsigned c = *s;
        if (c < 0x20 ? c != '\t' && c != '\r' && c != '\n' : c == 0x7f)
            return STP_NONE;
        size_t k = utf8_len(s, e);
        if (!k || (c == 0xc2 && s[1] < 0xa0)) /* U+0080..U+009F */
            return STP_NONE;
        s += k;
    }
    return n;
}

enum { TEXT, JSON };

/* Writes printable text: in JSON with '"' and '\\' escaped and TAB, CR, LF as escapes; in text
 * with TAB, CR and LF as spaces. */
static void put_text(buf *b, const unsigned char *p, size_t n, int mode)
{
    size_t s = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = p[i];
        if (c != '"' && c != '\\' && c != '\t' && c != '\r' && c != '\n')
            continue;
        if (mode == TEXT && (c == '"' || c == '\\'))
            continue;
        buf_append(b, p + s, i - s);
        s = i + 1;
        if (mode == TEXT) {
            buf_putc(b, ' ');
        } else {
            buf_putc(b, '\\');
            buf_putc(b, c == '\t' ? 't' : c == '\r' ? 'r' : c == '\n' ? 'n' : (char)c);
        }
    }
    buf_append(b, p + s, n - s);
}

static void put_hex(buf *b, const unsigned char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (buf_reserve(b, 2 * n + 2))
        return;
    char *o = b->data + b->len;
    *o++ = '0';
    *o++ = 'x';
    for (size_t i = 0; i < n; i++) {
        *o++ = hex[p[i] >> 4];
        *o++ = hex[p[i] & 15];
    }
    b->len += 2 * n + 2;
    b->data[b->len] = '\0';
}

/* net-snmp's Opaque-wrapped values (an inner TLV with tag 0x9f 0x7X). Returns the type name
 * and writes the value into out, or returns NULL when the contents are something else. */
static const char *opaque_value(const unsigned char *p, size_t n, char *out, size_t cap)
{
    if (n < 3 || p[0] != 0x9f || p[2] >= 0x80 || (size_t)p[2] + 3 != n)
        return NULL;
    const unsigned char *c = p + 3;
    size_t cl = p[2];
    int64_t i;
    uint64_t u = 0;
    switch (p[1]) {
    case 0x76: /* Counter64 */
    case 0x7b: /* UInt64 */
        if (stp__get_uint(c, cl, 8, &u))
            return NULL;
        snprintf(out, cap, "%" PRIu64, u);
        return p[1] == 0x76 ? "Opaque Counter64" : "Opaque UInt64";
    case 0x7a: /* Int64 */
        if (stp__get_int(c, cl, &i))
            return NULL;
        snprintf(out, cap, "%" PRId64, i);
        return "Opaque Int64";
    case 0x78: { /* Float */
        if (cl != 4)
            return NULL;
        uint32_t bits = (uint32_t)c[0] << 24 | (uint32_t)c[1] << 16 | (uint32_t)c[2] << 8 | c[3];
        float f;
        memcpy(&f, &bits, sizeof f);
        snprintf(out, cap, "%.9g", (double)f);
        return "Opaque Float";
    }
    case 0x79: { /* Double */
        if (cl != 8)
            return NULL;
        for (size_t k = 0; k < 8; k++)
            u = u << 8 | c[k];
        double d;
        memcpy(&d, &u, sizeof d);
        snprintf(out, cap, "%.17g", d);
        return "Opaque Double";
    }
    default:
        return NULL;
    }
}

/* The type name a varbind is written with. */
static const char *value_type(const unsigned char *d, const stp_varbind *v)
{
    char tmp[64];
    if (v->type == STP_OPAQUE) {
        const char *t = opaque_value(d + v->val.off, v->val.len, tmp, sizeof tmp);
        return t ? t : "Opaque";
    }
    return stp__type_name(v->type);
}

static void put_duration(buf *b, uint64_t ticks)
{
    uint64_t days = ticks / 8640000, r = ticks % 8640000;
    unsigned h = (unsigned)(r / 360000), m = (unsigned)(r / 6000 % 60),
             s = (unsigned)(r / 100 % 60), cs = (unsigned)(r % 100);
    if (days)
        buf_printf(b, "%" PRIu64 " day%s %u:%02u:%02u.%02u", days, days == 1 ? "" : "s", h, m, s,
                   cs);
    else
        buf_printf(b, "%u:%02u:%02u.%02u", h, m, s, cs);
}

/* Writes a varbind's value: for JSON the contents of its string (no quotes), for text the
 * readable form. */
static void put_value(buf *b, const unsigned char *d, const stp_varbind *v, int mode)
{
    const unsigned char *p = d + v->val.off;
    size_t n = v->val.len;
    int64_t i = 0;
    uint64_t u = 0;
    stp_oid o;
    char tmp[64];
    if (stp__oid_is(d, v->oid, OID_TRAPCOMM0, sizeof OID_TRAPCOMM0)) {
        buf_puts(b, "(redacted)"); /* a community, forwarded by a proxy */
        return;
    }
    switch (v->type) {
    case STP_INTEGER:
        stp__get_int(p, n, &i);
        buf_printf(b, "%" PRId64, i);
        break;
    case STP_OCTETS: {
        size_t k = printable(p, n);
        if (k == STP_NONE)
            put_hex(b, p, n);
        else
            put_text(b, p, k, mode);
        break;
    }
    case STP_OID:
        decode_oid(d, v->val, &o);
        if (mode == JSON)
            put_oid_num(b, &o);
        else
            put_oid_name(b, &o);
        break;
    case STP_IPADDR:
        buf_printf(b, "%u.%u.%u.%u", p[0], p[1], p[2], p[3]);
        break;
    case STP_COUNTER32:
    case STP_GAUGE32:
    case STP_UINT32:
    case STP_COUNTER64:
        stp__get_uint(p, n, v->type == STP_COUNTER64 ? 8 : 4, &u);
        buf_printf(b, "%" PRIu64, u);
        break;
    case STP_TIMETICKS:
        stp__get_uint(p, n, 4, &u);
        buf_printf(b, "%" PRIu64, u);
        if (mode == TEXT) {
            buf_puts(b, " (");
            put_duration(b, u);
            buf_putc(b, ')');
        }
        break;
    case STP_OPAQUE:
        if (opaque_value(p, n, tmp, sizeof tmp))
            buf_puts(b, tmp);
        else
            put_hex(b, p, n);
        break;
    default: /* NULL and the exceptions */
        if (mode == TEXT)
            buf_puts(b, stp__type_name(v->type));
        break;
    }
}

/* Appends the NUL that ends a string; returns its start offset. */
static size_t end_str(buf *b, size_t start)
{
    buf_putc(b, '\0');
    return start;
}

/* Appends a copy of b's own bytes [off, off + n) (reserving first: the data may move). */
static void copy_within(buf *b, size_t off, size_t n)
{
    if (b->err || buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, b->data + off, n);
    b->len += n;
    b->data[b->len] = '\0';
}

/* The length of an OCTET STRING as a title shows it: printable, without trailing white space;
 * 0 when there is nothing to show. */
static size_t title_len(const unsigned char *d, const stp_varbind *v)
{
    const unsigned char *p = d + v->val.off;
    size_t n = v->type == STP_OCTETS ? printable(p, v->val.len) : STP_NONE;
    if (n == STP_NONE)
        return 0;
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r' || p[n - 1] == '\n'))
        n--;
    return n;
}

/* Writes an interface's name for the title, cut to SNMPTRAP_IFNAME_MAX bytes at a character
 * boundary. */
static void put_short(buf *b, const unsigned char *d, const stp_varbind *v)
{
    size_t n = title_len(d, v);
    const unsigned char *p = d + v->val.off;
    if (n > SNMPTRAP_IFNAME_MAX) {
        n = SNMPTRAP_IFNAME_MAX;
        while (n > 0 && (p[n] & 0xc0) == 0x80)
            n--;
    }
    put_text(b, p, n, TEXT);
}

/* The interface a linkUp/linkDown speaks of. */
typedef struct iface {
    size_t name, descr, alias; /* varbind indexes, or STP_NONE */
    int have_index;
    uint32_t index;
} iface;

static void find_iface(const unsigned char *d, const stp_trap *t, iface *f)
{
    static const uint32_t if_entry[] = {1, 3, 6, 1, 2, 1, 2, 2, 1};
    static const uint32_t ifx_entry[] = {1, 3, 6, 1, 2, 1, 31, 1, 1, 1};
    f->name = f->descr = f->alias = STP_NONE;
    f->have_index = 0;
    f->index = 0;
    for (unsigned k = 0; k < t->nvb; k++) {
        const stp_varbind *v = &t->vb[k];
        if (!v->payload)
            continue;
        stp_oid o;
        decode_oid(d, v->oid, &o);
        int ifx;
        if (o.n == 11 && !memcmp(o.s, if_entry, sizeof if_entry))
            ifx = 0;
        else if (o.n == 12 && !memcmp(o.s, ifx_entry, sizeof ifx_entry))
            ifx = 1;
        else
            continue;
        uint32_t col = o.s[o.n - 2], idx = o.s[o.n - 1];
        int text = title_len(d, v) > 0;
        if (!ifx && col == 1 && v->type == STP_INTEGER) {
            int64_t i;
            stp__get_int(d + v->val.off, v->val.len, &i);
            if (i >= 0 && i <= (int64_t)UINT32_MAX) {
                f->index = (uint32_t)i;
                f->have_index = 1;
            }
            continue;
        }
        if (!f->have_index) {
            f->index = idx;
            f->have_index = 1;
        }
        if (!ifx && col == 2 && text && f->descr == STP_NONE)
            f->descr = k;
        if (ifx && col == 1 && text && f->name == STP_NONE)
            f->name = k;
        if (ifx && col == 18 && text && f->alias == STP_NONE)
            f->alias = k;
    }
}

static void put_key(buf *b, int *first, const char *key)
{
    buf_putc(b, *first ? '{' : ',');
    *first = 0;
    buf_putc(b, '"');
    buf_puts(b, key);
    buf_puts(b, "\":");
}

static void put_fields(buf *b, const unsigned char *d, const stp_trap *t)
{
    int first = 1;
    put_key(b, &first, "version");
    buf_puts(b, t->version ? "\"v2c\"" : "\"v1\"");
    put_key(b, &first, "pdu");
    buf_puts(b, t->pdu == STP_PDU_INFORM ? "\"inform\"" : "\"trap\"");
    if (t->version) {
        put_key(b, &first, "request_id");
        buf_printf(b, "%" PRId64, t->request_id);
    }
    put_key(b, &first, "trap_oid");
    buf_putc(b, '"');
    put_oid_num(b, &t->trap_oid);
    buf_putc(b, '"');
    if (t->have_enterprise) {
        put_key(b, &first, "enterprise");
        buf_putc(b, '"');
        put_oid_num(b, &t->enterprise);
        buf_putc(b, '"');
    }
    if (t->version == 0) {
        put_key(b, &first, "agent_addr");
        buf_printf(b, "\"%u.%u.%u.%u\"", t->agent[0], t->agent[1], t->agent[2], t->agent[3]);
        put_key(b, &first, "generic");
        buf_printf(b, "%" PRId64, t->generic);
        put_key(b, &first, "specific");
        buf_printf(b, "%" PRId64, t->specific);
    }
    if (t->have_uptime) {
        put_key(b, &first, "uptime");
        buf_printf(b, "%" PRIu64, t->uptime);
    }
    put_key(b, &first, "varbinds");
    buf_putc(b, '[');
    int firstv = 1;
    for (unsigned k = 0; k < t->nvb; k++) {
        const stp_varbind *v = &t->vb[k];
        if (!v->payload)
            continue;
        stp_oid o;
        decode_oid(d, v->oid, &o);
        buf_puts(b, firstv ? "{\"oid\":\"" : ",{\"oid\":\"");
        firstv = 0;
        put_oid_num(b, &o);
        buf_puts(b, "\",\"name\":\"");
        put_oid_name(b, &o);
        buf_puts(b, "\",\"type\":\"");
        buf_puts(b, value_type(d, v));
        buf_puts(b, "\",\"value\":\"");
        put_value(b, d, v, JSON);
        buf_puts(b, "\"}");
    }
    buf_puts(b, "]}");
}

/* The minimal BER length octets of n. */
static void put_ber_len(buf *b, size_t n)
{
    unsigned char l[5];
    size_t k = 0;
    if (n < 0x80) {
        l[k++] = (unsigned char)n;
    } else {
        unsigned bytes = n <= 0xff ? 1 : n <= 0xffff ? 2 : n <= 0xffffff ? 3 : 4;
        l[k++] = (unsigned char)(0x80 | bytes);
        for (unsigned i = bytes; i-- > 0;)
            l[k++] = (unsigned char)(n >> (8 * i));
    }
    buf_append(b, l, k);
}

static size_t ber_len_size(size_t n)
{
    return n < 0x80 ? 1 : n <= 0xff ? 2 : n <= 0xffff ? 3 : n <= 0xffffff ? 4 : 5;
}

/* The Response-PDU to an InformRequest (RFC 3416 4.2.7): the request's version, community,
 * request-id and variable-bindings as they came, error-status and error-index 0. */
static void put_response(buf *b, const unsigned char *d, const stp_trap *t)
{
    static const unsigned char zero[] = {STP_INTEGER, 1, 0};
    size_t pdu = t->reqid_tlv.len + 2 * sizeof zero + t->vbl_tlv.len;
    size_t msg = t->ver_tlv.len + t->comm_tlv.len + 1 + ber_len_size(pdu) + pdu;
    buf_putc(b, (char)STP_SEQ);
    put_ber_len(b, msg);
    buf_append(b, d + t->ver_tlv.off, t->ver_tlv.len);
    buf_append(b, d + t->comm_tlv.off, t->comm_tlv.len);
    buf_putc(b, (char)STP_PDU_RESPONSE);
    put_ber_len(b, pdu);
    buf_append(b, d + t->reqid_tlv.off, t->reqid_tlv.len);
    buf_append(b, zero, sizeof zero);
    buf_append(b, zero, sizeof zero);
    buf_append(b, d + t->vbl_tlv.off, t->vbl_tlv.len);
}

static const char *at(const buf *b, size_t off)
{
    return off == STP_NONE ? "" : b->data + off;
}

int stp__write(const unsigned char *d, stp_trap *t, const char *source, int64_t now_ms,
               buf *scratch, event *ev, buf *resp, const char **why)
{
    /* Who the trap is about, when the v1 agent-addr does not say. */
    for (unsigned k = 0; k < t->nvb; k++) {
        const stp_varbind *v = &t->vb[k];
        if (t->trapaddr == STP_NONE && v->type == STP_IPADDR &&
            stp__oid_is(d, v->oid, OID_TRAPADDR0, sizeof OID_TRAPADDR0) &&
            (d[v->val.off] | d[v->val.off + 1] | d[v->val.off + 2] | d[v->val.off + 3]))
            t->trapaddr = k;
        if (t->sysname == STP_NONE && v->type == STP_OCTETS &&
            stp__oid_is(d, v->oid, OID_SYSNAME0, sizeof OID_SYSNAME0)) {
            size_t n = printable(d + v->val.off, v->val.len);
            if (n != STP_NONE && n > 0 && !memchr(d + v->val.off, '\n', n) &&
                !memchr(d + v->val.off, '\r', n) && !memchr(d + v->val.off, '\t', n))
                t->sysname = k;
        }
    }

    /* The trap's name and severity. */
    char num[STP_OID_STR_MAX];
    size_t numlen = oid_format(&t->trap_oid, num), pl;
    const oid_name *known = lookup(num, numlen, &pl);
    if (known && pl != numlen)
        known = NULL; /* a notification is named only by an exact match */
    int linkupdown = known && (!strcmp(known->name, "linkUp") || !strcmp(known->name, "linkDown"));

    buf *b = scratch;
    buf_reset(b);
    if (!source)
        source = "";
    size_t src = STP_NONE;
    if (source[0]) {
        src = b->len;
        buf_puts(b, source);
        end_str(b, src);
    }

    size_t host = b->len;
    if (t->have_agent)
        buf_printf(b, "%u.%u.%u.%u", t->agent[0], t->agent[1], t->agent[2], t->agent[3]);
    else if (t->trapaddr != STP_NONE)
        put_value(b, d, &t->vb[t->trapaddr], TEXT);
    else if (t->sysname != STP_NONE)
        put_value(b, d, &t->vb[t->sysname], TEXT);
    int have_host = b->len > host;
    end_str(b, host);

    size_t app = b->len;
    buf_puts(b, known ? known->name : num);
    end_str(b, app);

    size_t title = b->len;
    buf_puts(b, known ? known->name : num);
    if (have_host) {
        buf_puts(b, " from ");
        copy_within(b, host, app - 1 - host);
    } else if (source[0]) {
        buf_puts(b, " from ");
        buf_puts(b, source);
    }
    if (linkupdown) {
        iface f;
        find_iface(d, t, &f);
        size_t nm = f.name != STP_NONE ? f.name : f.descr;
        if (nm != STP_NONE) {
            buf_puts(b, " on ");
            put_short(b, d, &t->vb[nm]);
        } else if (f.have_index) {
            buf_printf(b, " on ifIndex %" PRIu32, f.index);
        }
        if (f.alias != STP_NONE && (nm != STP_NONE || f.have_index)) {
            buf_puts(b, " (");
            put_short(b, d, &t->vb[f.alias]);
            buf_putc(b, ')');
        }
    }
    end_str(b, title);

    size_t text = b->len;
    int firstl = 1;
    for (unsigned k = 0; k < t->nvb; k++) {
        const stp_varbind *v = &t->vb[k];
        if (!v->payload)
            continue;
        if (!firstl)
            buf_putc(b, '\n');
        firstl = 0;
        stp_oid o;
        decode_oid(d, v->oid, &o);
        put_oid_name(b, &o);
        buf_puts(b, " = ");
        put_value(b, d, v, TEXT);
    }
    end_str(b, text);

    size_t fields = b->len;
    put_fields(b, d, t);
    end_str(b, fields);

    if (b->err) {
        *why = b->err == -E2BIG ? "scratch buffer full" : "out of memory";
        return b->err;
    }
    if (resp && t->pdu == STP_PDU_INFORM) {
        put_response(resp, d, t);
        if (resp->err) {
            int rc = resp->err;
            buf_reset(resp);
            *why = rc == -E2BIG ? "response buffer full" : "out of memory for the response";
            return rc;
        }
    }

    event_init(ev);
    ev->kind = EVENT_KIND_TRAP;
    ev->t_ms = now_ms;
    ev->severity = known ? known->sev : EVENT_INFO;
    ev->source = at(b, src);
    ev->host = at(b, host);
    ev->app = at(b, app);
    ev->title = at(b, title);
    ev->text = at(b, text);
    ev->fields = at(b, fields);
    return 0;
}
