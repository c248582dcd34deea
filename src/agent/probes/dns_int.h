/* dns_int: the DNS message codec inside the dns probe (dns.c), exported for the unit tests and
 * the fuzz target: building a query, parsing an answer strictly (header, question, every record
 * of the three sections, names with compression), and writing records in their presentation
 * form as dig and blackbox_exporter's validate_answer_rrs see them:
 * "name.<TAB>TTL<TAB>CLASS<TAB>TYPE<TAB>RDATA". Pure functions, no I/O; any thread. */
#ifndef DD_DNS_INT_H
#define DD_DNS_INT_H

#include "../../lib/buf.h"

#include <stddef.h>
#include <stdint.h>

#define DNS_HEADER_LEN 12
#define DNS_MSG_MAX 65535      /* a message over TCP; UDP ones are smaller */
#define DNS_NAME_WIRE_MAX 255  /* a name on the wire: length bytes and the root included */
#define DNS_NAME_TEXT_MAX 1024 /* a name in presentation form (\DDD escapes), NUL included */
#define DNS_QUERY_MAX (DNS_HEADER_LEN + DNS_NAME_WIRE_MAX + 4)

enum {
    DNS_T_A = 1,
    DNS_T_NS = 2,
    DNS_T_CNAME = 5,
    DNS_T_SOA = 6,
    DNS_T_PTR = 12,
    DNS_T_MX = 15,
    DNS_T_TXT = 16,
    DNS_T_AAAA = 28,
    DNS_T_SRV = 33,
    DNS_T_DNAME = 39,
    DNS_T_OPT = 41,
    DNS_T_CAA = 257,
};
#define DNS_CLASS_IN 1

/* The sections a record can be in. */
typedef enum dns_section { DNS_ANSWER, DNS_AUTHORITY, DNS_ADDITIONAL } dns_section;

/* One resource record: offsets into the message it was parsed from. */
typedef struct dns_rr {
    size_t name; /* where its owner name starts (possibly a compression pointer) */
    uint16_t type, rclass;
    uint32_t ttl;
    size_t rdata; /* where its RDATA starts */
    uint16_t rdlen;
    dns_section section;
} dns_rr;

/* A parsed message. It points into the bytes it was parsed from (which must outlive it) and
 * owns its record array (dns_msg_free). */
typedef struct dns_msg {
    const uint8_t *p;
    size_t len;
    uint16_t id;
    int qr, opcode, aa, tc, rd, ra, ad, cd;
    int rcode; /* 4 bits from the header, extended by an OPT record's 8 when there is one */
    uint16_t qdcount, ancount, nscount, arcount;
    size_t qname; /* the first question's name (offset), when qdcount > 0 */
    uint16_t qtype, qclass;
    dns_rr *rr; /* ancount + nscount + arcount records, in message order */
    size_t nrr;
} dns_msg;

/* Builds a standard query (opcode QUERY, one question of class IN, recursion desired if rd)
 * for name in presentation form ("www.example.com", a trailing dot optional, "." the root;
 * "\." and "\DDD" escapes) into out (at least DNS_QUERY_MAX bytes). Returns 0 with *len, or
 * -EINVAL with the reason in err (an empty label, a label over 63 bytes, a name over 255
 * bytes on the wire, a bad escape). out is untouched on failure. */
int dns_query_build(const char *name, uint16_t type, uint16_t id, int rd, uint8_t *out, size_t *len,
                    char *err, size_t errcap);

/* Parses p[0..len) as a DNS response: header, questions, the records of all three sections
 * with the counts the header gives, names (compression pointers must point backwards, before
 * the run of labels that uses them, and not into the header; at most 255 bytes per name),
 * the RDATA of A, AAAA, NS, CNAME, PTR, DNAME, MX, SOA, SRV and TXT checked to their exact
 * length, and no byte left over. Returns 0 with *m filled (free it with dns_msg_free), or
 * -EBADMSG with a reason naming the byte offset in err (*m then holds nothing to free), or
 * -ENOMEM. */
int dns_msg_parse(const uint8_t *p, size_t len, dns_msg *m, char *err, size_t errcap);
/* Frees the record array of a parsed message. Accepts a zeroed or already freed message. */
void dns_msg_free(dns_msg *m);

/* Writes the name at off of msg[0..len) in presentation form into dst (cap bytes, at least
 * DNS_NAME_TEXT_MAX for any valid name): labels joined by dots, a trailing dot, "." for the
 * root, special characters escaped with a backslash and bytes outside 0x21..0x7e as \DDD.
 * *end (may be NULL) gets the offset just after the name where it started (after the first
 * pointer, if any). Returns 0, or -EBADMSG with the reason in err (dst then ""). */
int dns_name_text(const uint8_t *msg, size_t len, size_t off, char *dst, size_t cap, size_t *end,
                  char *err, size_t errcap);

/* Appends record rr of m in presentation form (no newline) to out:
 * "www.example.com.\t300\tIN\tA\t192.0.2.1". RDATA as dig and miekg/dns write it (MX "10
 * mx.example.com.", TXT strings quoted, SOA's seven fields...); other types as RFC 3597's
 * "\# LEN HEX". Returns 0, -E2BIG or -ENOMEM (out's errors), or -EBADMSG for a record
 * that did not come from dns_msg_parse(m). */
int dns_rr_text(const dns_msg *m, const dns_rr *rr, buf *out);

/* Names: "NOERROR", "NXDOMAIN"... ("RCODE<n>" for others) into tmp (16 bytes) or a constant. */
const char *dns_rcode_name(int rcode, char tmp[16]);
/* Parses an rcode name (case-insensitive) or its number. Returns the code or -1. */
int dns_rcode_parse(const char *s);
/* Record type names: "A", "MX"... ("TYPE<n>" for others). */
const char *dns_type_name(uint16_t type, char tmp[16]);
/* Parses a record type name (case-insensitive) or "TYPE<n>". Returns 0 with *type, or -EINVAL. */
int dns_type_parse(const char *s, uint16_t *type);

#endif
