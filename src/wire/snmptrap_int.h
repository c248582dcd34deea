/* snmptrap_int: what the two halves of the SNMP trap decoder share: the BER reader and parser
 * (snmptrap.c) and the writer of records and responses (snmptrap_fmt.c). Not for use outside
 * src/wire/snmptrap*.c. */
#ifndef DD_SNMPTRAP_INT_H
#define DD_SNMPTRAP_INT_H

#include "snmptrap.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define STP_NONE ((size_t)-1) /* no index, no offset */
#define STP_OID_STR_MAX ((SNMPTRAP_MAX_SUBIDS + 2) * 11 + 1)

/* BER tags of the SNMP types and PDUs. */
enum {
    STP_INTEGER = 0x02,
    STP_OCTETS = 0x04,
    STP_NULL = 0x05,
    STP_OID = 0x06,
    STP_SEQ = 0x30,
    STP_IPADDR = 0x40,
    STP_COUNTER32 = 0x41,
    STP_GAUGE32 = 0x42,
    STP_TIMETICKS = 0x43,
    STP_OPAQUE = 0x44,
    STP_COUNTER64 = 0x46,
    STP_UINT32 = 0x47,
    STP_NOSUCHOBJECT = 0x80,
    STP_NOSUCHINSTANCE = 0x81,
    STP_ENDOFMIBVIEW = 0x82,
    STP_PDU_RESPONSE = 0xa2,
    STP_PDU_TRAP1 = 0xa4,
    STP_PDU_INFORM = 0xa6,
    STP_PDU_TRAP2 = 0xa7,
};

/* Bytes [off, off + len) of the datagram. */
typedef struct stp_span {
    size_t off, len;
} stp_span;

/* A varbind as the datagram holds it (checked while parsing). */
typedef struct stp_varbind {
    stp_span oid; /* contents of the name */
    stp_span val; /* contents of the value */
    unsigned type;
    int payload; /* 0 for a v2c trap's sysUpTime.0 and snmpTrapOID.0 */
} stp_varbind;

/* A decoded OBJECT IDENTIFIER. */
typedef struct stp_oid {
    unsigned n;
    uint32_t s[SNMPTRAP_MAX_SUBIDS + 2]; /* + 2: a v1 trap's enterprise.0.specific */
} stp_oid;

/* What a datagram says: filled by the reader (snmptrap.c), written out by snmptrap_fmt.c. */
typedef struct stp_trap {
    int version; /* 0: v1, 1: v2c */
    unsigned pdu;
    stp_span ver_tlv, comm_tlv, reqid_tlv, vbl_tlv; /* whole TLVs, copied into a response */
    int64_t request_id;
    stp_oid trap_oid;
    int have_enterprise;
    stp_oid enterprise;
    int have_agent; /* a v1 agent-addr other than 0.0.0.0 */
    unsigned char agent[4];
    int64_t generic, specific;
    int have_uptime;
    uint64_t uptime;
    size_t trapaddr; /* index of an snmpTrapAddress.0 IpAddress varbind, or STP_NONE */
    size_t sysname;  /* index of a sysName.0 varbind, or STP_NONE */
    unsigned nvb;
    stp_varbind vb[SNMPTRAP_MAX_VARBINDS];
} stp_trap;

/* Whether the name span s of datagram d is the OID whose encoded contents are o[0..n). (The
 * encoding of an accepted OID is canonical, so bytes compare as sub-identifiers do.) */
static inline int stp__oid_is(const unsigned char *d, stp_span s, const unsigned char *o, size_t n)
{
    return s.len == n && !memcmp(d + s.off, o, n);
}

/* BER contents readers (snmptrap.c), over p[0..n); each returns NULL or why not. A signed
 * INTEGER of at most 64 bits (redundant leading bytes allowed). */
const char *stp__get_int(const unsigned char *p, size_t n, int64_t *v);
/* An unsigned value of at most `bytes` bytes (4 or 8); in exactly that width a set high bit is
 * read as unsigned (the leading zero a sender forgot), otherwise it is a negative value. */
const char *stp__get_uint(const unsigned char *p, size_t n, unsigned bytes, uint64_t *v);
/* An OBJECT IDENTIFIER; on failure *at is the offset in p of the fault. */
const char *stp__get_oid(const unsigned char *p, size_t n, stp_oid *o, size_t *at);
/* The name of a value type ("Counter32"), "?" for tags SNMP does not have. */
const char *stp__type_name(unsigned tag);

/* Writes the record of a parsed trap t of datagram d into scratch (reset first) and *ev, and
 * for an inform the response into resp (when not NULL), as snmptrap_decode documents (which
 * has initialised t->trapaddr and t->sysname to STP_NONE). Returns 0, or -E2BIG / -ENOMEM
 * with the reason in *why and *ev untouched. */
int stp__write(const unsigned char *d, stp_trap *t, const char *source, int64_t now_ms,
               buf *scratch, event *ev, buf *resp, const char **why);

#endif
