/* dns_msg: the DNS message codec of the dns probe (dns_int.h): query building, a strict parser
 * of answers (header, question, the three sections, names with compression and loop
 * protection, every RDATA to its exact length) and records in their presentation form. Pure
 * functions, no I/O; any thread. */
#include "dns_int.h"

#include "../../lib/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- codec: names and tables ------------------------------------------------------------- */

static int fail(char *err, size_t errcap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes the reason into err; returns -EBADMSG. */
static int fail(char *err, size_t errcap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errcap)
        vsnprintf(err, errcap, fmt, ap);
    va_end(ap);
    return -EBADMSG;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int same_text(const char *a, const char *b)
{
    for (; *a && lower((unsigned char)*a) == lower((unsigned char)*b); a++, b++)
        ;
    return lower((unsigned char)*a) == lower((unsigned char)*b);
}

typedef struct code_name {
    int code;
    const char *name;
} code_name;

static const code_name type_names[] = {
    {1, "A"},      {2, "NS"},    {5, "CNAME"}, {6, "SOA"},    {12, "PTR"},  {13, "HINFO"},
    {15, "MX"},    {16, "TXT"},  {28, "AAAA"}, {29, "LOC"},   {33, "SRV"},  {35, "NAPTR"},
    {39, "DNAME"}, {41, "OPT"},  {43, "DS"},   {46, "RRSIG"}, {47, "NSEC"}, {48, "DNSKEY"},
    {50, "NSEC3"}, {52, "TLSA"}, {64, "SVCB"}, {65, "HTTPS"}, {99, "SPF"},  {251, "IXFR"},
    {252, "AXFR"}, {255, "ANY"}, {257, "CAA"},
};

static const code_name rcode_names[] = {
    {0, "NOERROR"},  {1, "FORMERR"},  {2, "SERVFAIL"},  {3, "NXDOMAIN"},   {4, "NOTIMP"},
    {5, "REFUSED"},  {6, "YXDOMAIN"}, {7, "YXRRSET"},   {8, "NXRRSET"},    {9, "NOTAUTH"},
    {10, "NOTZONE"}, {16, "BADVERS"}, {17, "BADKEY"},   {18, "BADTIME"},   {19, "BADMODE"},
    {20, "BADNAME"}, {21, "BADALG"},  {22, "BADTRUNC"}, {23, "BADCOOKIE"},
};

static const code_name class_names[] = {
    {1, "IN"}, {2, "CS"}, {3, "CH"}, {4, "HS"}, {254, "NONE"}, {255, "ANY"},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *find_name(const code_name *t, size_t n, int code)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].code == code)
            return t[i].name;
    return NULL;
}

/* Parses a decimal number of at most 5 digits from s (the whole string). Returns it or -1. */
static long small_number(const char *s)
{
    long v = 0;
    size_t i = 0;
    for (; s[i] >= '0' && s[i] <= '9' && i < 6; i++)
        v = v * 10 + (s[i] - '0');
    return i == 0 || i > 5 || s[i] ? -1 : v;
}

const char *dns_rcode_name(int rcode, char tmp[16])
{
    const char *n = find_name(rcode_names, NELEM(rcode_names), rcode);
    if (n)
        return n;
    snprintf(tmp, 16, "RCODE%d", rcode);
    return tmp;
}

int dns_rcode_parse(const char *s)
{
    for (size_t i = 0; s && i < NELEM(rcode_names); i++)
        if (same_text(s, rcode_names[i].name))
            return rcode_names[i].code;
    long v = s ? small_number(s) : -1;
    return v >= 0 && v <= 4095 ? (int)v : -1;
}

const char *dns_type_name(uint16_t type, char tmp[16])
{
    const char *n = find_name(type_names, NELEM(type_names), type);
    if (n)
        return n;
    snprintf(tmp, 16, "TYPE%u", (unsigned)type);
    return tmp;
}

int dns_type_parse(const char *s, uint16_t *type)
{
    for (size_t i = 0; s && i < NELEM(type_names); i++)
        if (same_text(s, type_names[i].name)) {
            *type = (uint16_t)type_names[i].code;
            return 0;
        }
    if (s && lower((unsigned char)s[0]) == 't' && lower((unsigned char)s[1]) == 'y' &&
        lower((unsigned char)s[2]) == 'p' && lower((unsigned char)s[3]) == 'e') {
        long v = small_number(s + 4);
        if (v >= 1 && v <= 65535) {
            *type = (uint16_t)v;
            return 0;
        }
    }
    return -EINVAL;
}

static const char *class_name(uint16_t c, char tmp[16])
{
    const char *n = find_name(class_names, NELEM(class_names), c);
    if (n)
        return n;
    snprintf(tmp, 16, "CLASS%u", (unsigned)c);
    return tmp;
}

/* ---- codec: building a query ------------------------------------------------------------- */

static int name_error(char *err, size_t errcap, const char *why, const char *name)
{
    snprintf(err, errcap, "%s: \"%.300s\"", why, name);
    return -EINVAL;
}

int dns_query_build(const char *name, uint16_t type, uint16_t id, int rd, uint8_t *out, size_t *len,
                    char *err, size_t errcap)
{
    uint8_t q[DNS_QUERY_MAX];
    size_t o = DNS_HEADER_LEN;
    const char *s = name;
    memset(q, 0, DNS_HEADER_LEN);
    q[0] = (uint8_t)(id >> 8);
    q[1] = (uint8_t)id;
    q[2] = rd ? 0x01 : 0x00; /* QR 0, opcode QUERY, RD */
    q[5] = 1;                /* QDCOUNT */
    if (!s || !*s)
        return name_error(err, errcap, "the name is empty", "");
    if (strcmp(s, ".") != 0) {
        while (*s) {
            size_t lpos = o++, llen = 0;
            while (*s && *s != '.') {
                int c = (unsigned char)*s++;
                if (c == '\\') {
                    if (s[0] >= '0' && s[0] <= '9') {
                        if (!(s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9'))
                            return name_error(err, errcap, "a bad \\DDD escape", name);
                        c = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
                        if (c > 255)
                            return name_error(err, errcap, "a \\DDD escape over 255", name);
                        s += 3;
                    } else if (*s) {
                        c = (unsigned char)*s++;
                    } else {
                        return name_error(err, errcap, "the name ends in a backslash", name);
                    }
                }
                if (++llen > 63)
                    return name_error(err, errcap, "a label is longer than 63 bytes", name);
                if (o >= DNS_HEADER_LEN + DNS_NAME_WIRE_MAX - 1)
                    return name_error(err, errcap, "the name is longer than 255 bytes", name);
                q[o++] = (uint8_t)c;
            }
            if (!llen)
                return name_error(err, errcap, "the name has an empty label", name);
            q[lpos] = (uint8_t)llen;
            if (*s == '.')
                s++; /* a trailing dot ends the name like the end of the string */
        }
    }
    q[o++] = 0;
    q[o++] = (uint8_t)(type >> 8);
    q[o++] = (uint8_t)type;
    q[o++] = 0;
    q[o++] = DNS_CLASS_IN;
    memcpy(out, q, o);
    *len = o;
    return 0;
}

/* ---- codec: names ------------------------------------------------------------------------ */

/* True for the bytes miekg/dns escapes with a backslash in a name. */
static int name_special(int c)
{
    return c == '.' || c == ' ' || c == '\'' || c == '@' || c == ';' || c == '(' || c == ')' ||
           c == '"' || c == '\\';
}

static int name_walk(const uint8_t *msg, size_t len, size_t off, char *dst, size_t cap, size_t *end,
                     char *err, size_t errcap)
{
    /* Each pointer must point before the run of labels it ends (limit), so the walk only ever
     * jumps backwards and ends; 255 wire bytes bound the labels. */
    size_t pos = off, limit = off, wire = 0, o = 0, after = 0;
    int jumped = 0;
    if (dst && cap)
        dst[0] = '\0';
    for (;;) {
        if (pos >= len)
            return fail(err, errcap, "name at byte %zu runs past the end of the message", off);
        unsigned c = msg[pos];
        if ((c & 0xC0) == 0xC0) {
            if (pos + 1 >= len)
                return fail(err, errcap, "compression pointer at byte %zu is cut off", pos);
            size_t target = (size_t)(c & 0x3F) << 8 | msg[pos + 1];
            if (target < DNS_HEADER_LEN)
                return fail(err, errcap, "compression pointer at byte %zu points into the header",
                            pos);
            if (target >= limit)
                return fail(err, errcap,
                            "compression pointer at byte %zu points forward or loops (to byte %zu)",
                            pos, target);
            if (!jumped)
                after = pos + 2;
            jumped = 1;
            limit = pos = target;
            continue;
        }
        if (c & 0xC0)
            return fail(err, errcap, "label type 0x%02x at byte %zu is not supported", c & 0xC0,
                        pos);
        wire += c + 1;
        if (wire > DNS_NAME_WIRE_MAX)
            return fail(err, errcap, "name at byte %zu is longer than 255 bytes", off);
        if (c == 0) {
            if (!jumped)
                after = pos + 1;
            break;
        }
        if (pos + 1 + c > len)
            return fail(err, errcap, "label at byte %zu runs past the end of the message", pos);
        for (size_t i = 0; dst && i < c; i++) {
            int b = msg[pos + 1 + i];
            if (o + 6 > cap)
                return fail(err, errcap, "name at byte %zu: no room to write it", off);
            if (name_special(b)) {
                dst[o++] = '\\';
                dst[o++] = (char)b;
            } else if (b < 0x21 || b > 0x7e) {
                o += (size_t)snprintf(dst + o, cap - o, "\\%03d", b);
            } else {
                dst[o++] = (char)b;
            }
        }
        if (dst) {
            if (o + 2 > cap)
                return fail(err, errcap, "name at byte %zu: no room to write it", off);
            dst[o++] = '.';
        }
        pos += 1 + c;
    }
    if (dst) {
        if (o == 0) {
            if (cap < 2)
                return fail(err, errcap, "name at byte %zu: no room to write it", off);
            dst[o++] = '.';
        }
        dst[o] = '\0';
    }
    if (end)
        *end = after;
    return 0;
}

int dns_name_text(const uint8_t *msg, size_t len, size_t off, char *dst, size_t cap, size_t *end,
                  char *err, size_t errcap)
{
    int rc = name_walk(msg, len, off, dst, cap, end, err, errcap);
    if (rc && dst && cap)
        dst[0] = '\0'; /* nothing half-written */
    return rc;
}

/* ---- codec: parsing ---------------------------------------------------------------------- */

static const char *const section_names[] = {"answer", "authority", "additional"};

/* Checks that a name starts at off and ends exactly at stop (RDATA with names). */
static int name_to(const uint8_t *p, size_t len, size_t off, size_t stop, size_t *end, char *why,
                   size_t whycap)
{
    int rc = dns_name_text(p, len, off, NULL, 0, end, why, whycap);
    if (!rc && *end > stop)
        rc = fail(why, whycap, "a name in the RDATA runs past its end");
    return rc;
}

/* Checks the RDATA of the types whose form we know (and print). Returns 0 or -EBADMSG. */
static int check_rdata(const uint8_t *p, size_t len, const dns_rr *rr, char *why, size_t whycap)
{
    size_t at = rr->rdata, stop = rr->rdata + rr->rdlen, end = at;
    int rc = 0;
    switch (rr->type) {
    case DNS_T_A:
        if (rr->rclass == DNS_CLASS_IN && rr->rdlen != 4)
            return fail(why, whycap, "an A record's RDATA has %u bytes, not 4", rr->rdlen);
        return 0;
    case DNS_T_AAAA:
        if (rr->rclass == DNS_CLASS_IN && rr->rdlen != 16)
            return fail(why, whycap, "an AAAA record's RDATA has %u bytes, not 16", rr->rdlen);
        return 0;
    case DNS_T_NS:
    case DNS_T_CNAME:
    case DNS_T_PTR:
    case DNS_T_DNAME:
        rc = name_to(p, len, at, stop, &end, why, whycap);
        break;
    case DNS_T_MX:
        if (rr->rdlen < 3)
            return fail(why, whycap, "an MX record's RDATA is too short");
        rc = name_to(p, len, at + 2, stop, &end, why, whycap);
        break;
    case DNS_T_SRV:
        if (rr->rdlen < 7)
            return fail(why, whycap, "an SRV record's RDATA is too short");
        rc = name_to(p, len, at + 6, stop, &end, why, whycap);
        break;
    case DNS_T_SOA:
        if (!(rc = name_to(p, len, at, stop, &end, why, whycap)) &&
            !(rc = name_to(p, len, end, stop, &end, why, whycap))) {
            if (end + 20 > stop)
                return fail(why, whycap, "an SOA record's RDATA is too short");
            end += 20;
        }
        break;
    case DNS_T_TXT:
        while (end < stop) {
            if (end + 1 + p[end] > stop)
                return fail(why, whycap, "a TXT string at byte %zu runs past the RDATA", end);
            end += 1u + p[end];
        }
        break;
    default:
        return 0;
    }
    if (!rc && end != stop)
        rc = fail(why, whycap, "%zu bytes left over in the RDATA", stop - end);
    return rc;
}

void dns_msg_free(dns_msg *m)
{
    if (!m)
        return;
    mem_free(m->rr);
    m->rr = NULL;
    m->nrr = 0;
}

int dns_msg_parse(const uint8_t *p, size_t len, dns_msg *m, char *err, size_t errcap)
{
    char why[160];
    size_t pos = DNS_HEADER_LEN, end;
    dns_msg tmp;
    memset(m, 0, sizeof *m);
    memset(&tmp, 0, sizeof tmp);
    if (len < DNS_HEADER_LEN)
        return fail(err, errcap, "a message of %zu bytes is shorter than the 12-byte header", len);
    if (len > DNS_MSG_MAX)
        return fail(err, errcap, "a message of %zu bytes is longer than 65535", len);
    tmp.p = p;
    tmp.len = len;
    tmp.id = rd16(p);
    tmp.qr = p[2] >> 7;
    tmp.opcode = p[2] >> 3 & 0x0F;
    tmp.aa = p[2] >> 2 & 1;
    tmp.tc = p[2] >> 1 & 1;
    tmp.rd = p[2] & 1;
    tmp.ra = p[3] >> 7;
    tmp.ad = p[3] >> 5 & 1;
    tmp.cd = p[3] >> 4 & 1;
    tmp.rcode = p[3] & 0x0F;
    tmp.qdcount = rd16(p + 4);
    tmp.ancount = rd16(p + 6);
    tmp.nscount = rd16(p + 8);
    tmp.arcount = rd16(p + 10);
    if (!tmp.qr)
        return fail(err, errcap, "the message is a query, not a response");
    for (unsigned i = 0; i < tmp.qdcount; i++) {
        if (dns_name_text(p, len, pos, NULL, 0, &end, why, sizeof why))
            return fail(err, errcap, "question %u: %s", i + 1, why);
        if (end + 4 > len)
            return fail(err, errcap, "question %u at byte %zu is cut off", i + 1, pos);
        if (i == 0) {
            tmp.qname = pos;
            tmp.qtype = rd16(p + end);
            tmp.qclass = rd16(p + end + 2);
        }
        pos = end + 4;
    }
    /* Every record takes at least 11 bytes (a root name and the fixed fields): counts beyond
     * what the bytes can hold are refused before anything is allocated for them. */
    size_t total = (size_t)tmp.ancount + tmp.nscount + tmp.arcount;
    if (total > (len - pos) / 11)
        return fail(err, errcap,
                    "the header counts %zu records but only %zu bytes follow the questions", total,
                    len - pos);
    if (total && !(tmp.rr = mem_calloc(total, sizeof *tmp.rr)))
        return -ENOMEM;
    int opt_seen = 0, rc = 0;
    for (size_t i = 0; i < total; i++) {
        dns_rr *rr = &tmp.rr[i];
        size_t nth = i + 1;
        rr->section = i < tmp.ancount                         ? DNS_ANSWER
                      : i < (size_t)tmp.ancount + tmp.nscount ? DNS_AUTHORITY
                                                              : DNS_ADDITIONAL;
        if (rr->section == DNS_AUTHORITY)
            nth -= tmp.ancount;
        else if (rr->section == DNS_ADDITIONAL)
            nth -= (size_t)tmp.ancount + tmp.nscount;
        const char *sec = section_names[rr->section];
        if (dns_name_text(p, len, pos, NULL, 0, &end, why, sizeof why)) {
            rc = fail(err, errcap, "%s record %zu: %s", sec, nth, why);
            goto out;
        }
        if (end + 10 > len) {
            rc = fail(err, errcap, "%s record %zu at byte %zu is cut off", sec, nth, pos);
            goto out;
        }
        rr->name = pos;
        rr->type = rd16(p + end);
        rr->rclass = rd16(p + end + 2);
        rr->ttl = rd32(p + end + 4);
        rr->rdlen = rd16(p + end + 8);
        rr->rdata = end + 10;
        if (rr->rdata + rr->rdlen > len) {
            rc = fail(err, errcap, "%s record %zu at byte %zu: its RDATA runs past the end", sec,
                      nth, pos);
            goto out;
        }
        if (check_rdata(p, len, rr, why, sizeof why)) {
            rc = fail(err, errcap, "%s record %zu at byte %zu: %s", sec, nth, pos, why);
            goto out;
        }
        if (rr->type == DNS_T_OPT) {
            if (rr->section != DNS_ADDITIONAL || opt_seen || p[rr->name] != 0) {
                rc = fail(err, errcap, "%s record %zu at byte %zu: a misplaced OPT record", sec,
                          nth, pos);
                goto out;
            }
            opt_seen = 1;
            tmp.rcode |= (int)(rr->ttl >> 24) << 4; /* the extended rcode */
        }
        pos = rr->rdata + rr->rdlen;
    }
    if (pos != len) {
        rc = fail(err, errcap, "%zu bytes after the last record (at byte %zu)", len - pos, pos);
        goto out;
    }
    tmp.nrr = total;
    *m = tmp;
    tmp.rr = NULL;
out:
    mem_free(tmp.rr);
    return rc;
}

/* ---- codec: presentation form ------------------------------------------------------------ */

static int put_name(const dns_msg *m, size_t off, size_t *end, buf *out)
{
    char name[DNS_NAME_TEXT_MAX];
    if (dns_name_text(m->p, m->len, off, name, sizeof name, end, NULL, 0))
        return -EBADMSG;
    return buf_puts(out, name);
}

/* A TXT character-string, quoted, as miekg/dns writes it. */
static int put_txt_string(const uint8_t *s, size_t n, buf *out)
{
    int rc = buf_putc(out, '"');
    for (size_t i = 0; !rc && i < n; i++) {
        int b = s[i];
        if (b == '"' || b == '\\') {
            rc = buf_putc(out, '\\');
            if (!rc)
                rc = buf_putc(out, (char)b);
        } else if (b < 0x20 || b > 0x7e) {
            rc = buf_printf(out, "\\%03d", b);
        } else {
            rc = buf_putc(out, (char)b);
        }
    }
    return rc ? rc : buf_putc(out, '"');
}

/* RFC 3597's form for RDATA we do not know: "\# LEN HEX". */
static int put_generic(const dns_rr *rr, const uint8_t *d, buf *out)
{
    int rc = buf_printf(out, "\\# %u", rr->rdlen);
    if (!rc && rr->rdlen)
        rc = buf_putc(out, ' ');
    for (size_t i = 0; !rc && i < rr->rdlen; i++)
        rc = buf_printf(out, "%02x", d[i]);
    return rc;
}

int dns_rr_text(const dns_msg *m, const dns_rr *rr, buf *out)
{
    char t1[16], t2[16], ip[INET6_ADDRSTRLEN];
    const uint8_t *d = m->p + rr->rdata;
    size_t end = 0, stop = rr->rdata + rr->rdlen;
    int rc;
    if (rr->rdata + rr->rdlen > m->len)
        return -EBADMSG;
    if ((rc = put_name(m, rr->name, NULL, out)) ||
        (rc = buf_printf(out, "\t%" PRIu32 "\t%s\t%s\t", rr->ttl, class_name(rr->rclass, t1),
                         dns_type_name(rr->type, t2))))
        return rc;
    switch (rr->type) {
    case DNS_T_A:
    case DNS_T_AAAA:
        if (rr->rclass != DNS_CLASS_IN || rr->rdlen != (rr->type == DNS_T_A ? 4 : 16))
            return put_generic(rr, d, out);
        inet_ntop(rr->type == DNS_T_A ? AF_INET : AF_INET6, d, ip, sizeof ip);
        return buf_puts(out, ip);
    case DNS_T_NS:
    case DNS_T_CNAME:
    case DNS_T_PTR:
    case DNS_T_DNAME:
        return put_name(m, rr->rdata, NULL, out);
    case DNS_T_MX:
        if (rr->rdlen < 3)
            return put_generic(rr, d, out);
        return (rc = buf_printf(out, "%u ", rd16(d))) ? rc : put_name(m, rr->rdata + 2, NULL, out);
    case DNS_T_SRV:
        if (rr->rdlen < 7)
            return put_generic(rr, d, out);
        rc = buf_printf(out, "%u %u %u ", rd16(d), rd16(d + 2), rd16(d + 4));
        return rc ? rc : put_name(m, rr->rdata + 6, NULL, out);
    case DNS_T_SOA:
        if ((rc = put_name(m, rr->rdata, &end, out)) || (rc = buf_putc(out, ' ')) ||
            (rc = put_name(m, end, &end, out)))
            return rc;
        if (end + 20 > stop)
            return -EBADMSG;
        return buf_printf(out, " %" PRIu32 " %" PRIu32 " %" PRIu32 " %" PRIu32 " %" PRIu32,
                          rd32(m->p + end), rd32(m->p + end + 4), rd32(m->p + end + 8),
                          rd32(m->p + end + 12), rd32(m->p + end + 16));
    case DNS_T_TXT:
        for (size_t at = 0; at < rr->rdlen; at += 1u + d[at]) {
            if (at + 1 + d[at] > rr->rdlen)
                return -EBADMSG;
            if ((at && (rc = buf_putc(out, ' '))) || (rc = put_txt_string(d + at + 1, d[at], out)))
                return rc;
        }
        return 0;
    default:
        return put_generic(rr, d, out);
    }
}
