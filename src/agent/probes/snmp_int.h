/* snmp_int: the parts of the snmp probe (snmp.c) that need neither the network nor the net-snmp
 * library at run time — settings, OIDs, walk bookkeeping, varbind values, the IF-MIB table and
 * the samples made from it — exposed for the unit tests and the fuzz target.
 *
 * Names start with snmpp_ (snmp probe): net-snmp owns snmp_ and SNMP_. The net-snmp headers
 * are needed to compile (the varbind type), not the library: nothing here calls into it.
 * Loop thread only; no function keeps a pointer to its arguments unless it says so. */
#ifndef DD_SNMP_INT_H
#define DD_SNMP_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include <net-snmp/net-snmp-config.h>

#include <net-snmp/types.h>

#define SNMPP_OID_MAX 128         /* sub-identifiers in an OID (net-snmp's MAX_OID_LEN) */
#define SNMPP_MAX_VARBINDS 100000 /* varbinds one run keeps; an agent that sends more fails */
#define SNMPP_MAX_OIDS 256        /* entries of settings.oids */
#define SNMPP_TEXT_MAX 2048       /* bytes of a string value kept as a label value */
#define SNMPP_ENGINE_ID_MAX 32    /* an snmpEngineID is 5 to 32 octets (RFC 3411) */

/* A sub-identifier: 0 to 2^32-1 (RFC 2578). */
typedef uint32_t snmpp_subid;

typedef struct snmpp_oid {
    size_t n;
    snmpp_subid s[SNMPP_OID_MAX];
} snmpp_oid;

/* ---- OIDs ----------------------------------------------------------------------------------- */

/* Parses a numeric OID, "1.3.6.1.2.1.1" or ".1.3.6.1.2.1.1": 2 to 128 decimal sub-identifiers
 * below 2^32 separated by single dots, the first 0, 1 or 2 (and the second below 40 unless the
 * first is 2), as BER can encode them. Returns 0, or -EINVAL with the reason and position in
 * err (out unchanged). */
int snmpp_oid_parse(const char *text, snmpp_oid *out, char *err, size_t errcap);
/* Compares two OIDs in the lexicographic order of SNMP (GETNEXT order): <0, 0, >0. */
int snmpp_oid_cmp(const snmpp_subid *a, size_t an, const snmpp_subid *b, size_t bn);
/* True if o lies strictly inside the subtree rooted at root (root is a proper prefix of o). */
int snmpp_oid_in_subtree(const snmpp_subid *o, size_t n, const snmpp_subid *root, size_t rn);
/* Writes o as "1.3.6.1..." (no leading dot) into buf. Returns 0, or -E2BIG when it does not
 * fit (buf then holds ""). */
int snmpp_oid_format(const snmpp_subid *o, size_t n, char *buf, size_t cap);
/* Copies net-snmp's sub-identifiers into out. Returns 0, or -EINVAL when there are more than
 * SNMPP_OID_MAX or one exceeds 2^32-1 (out unchanged). */
int snmpp_oid_from_net(const oid *o, size_t n, snmpp_oid *out);

/* ---- walks ---------------------------------------------------------------------------------- */

/* One subtree being walked with GETNEXT (v1) or GETBULK (v2c, v3): the next request asks for
 * what follows `last`. A walk ends at the first OID outside its subtree or an exception
 * (endOfMibView, noSuchObject, noSuchInstance); an OID not greater than the previous one ends
 * it with an error, so an agent cannot make a walk loop. */
typedef struct snmpp_walk {
    snmpp_oid root;
    snmpp_oid last;
    size_t taken; /* varbinds accepted */
    int done;
    int backwards; /* ended because the agent went backwards or repeated itself */
} snmpp_walk;

typedef enum snmpp_step {
    SNMPP_TAKE,      /* the varbind belongs to the walk: keep it */
    SNMPP_END,       /* the walk is over (or was already); drop the varbind */
    SNMPP_BACKWARDS, /* the agent broke GETNEXT order: the walk is over, with an error */
} snmpp_step;

void snmpp_walk_init(snmpp_walk *w, const snmpp_subid *root, size_t n);
/* Judges the varbind o (ASN.1 type `type`) that the agent returned after w->last. */
snmpp_step snmpp_walk_step(snmpp_walk *w, const snmpp_subid *o, size_t n, int type);

/* Receives each accepted varbind of a response: which walk of the batch, and the varbind
 * (valid during the call). Returns 0, or a negative code that stops the distribution. */
typedef int (*snmpp_take_fn)(void *ctx, size_t which, const netsnmp_variable_list *v);

/* Hands the varbinds of one GETNEXT/GETBULK response (non-repeaters 0) to the walks of its
 * request: varbind i answers batch[i % nbatch] (GETBULK lists repetitions row by row; a GETNEXT
 * answer is one row). Taken varbinds go to take(ctx, i % nbatch, v). *progress counts varbinds
 * taken plus walks that ended, so a caller can tell an answer that moved nothing. Returns 0,
 * -EPROTO when a walk went backwards (the other walks still get their varbinds), -EINVAL for a
 * sub-identifier net-snmp allows but SNMP does not, or take's code. */
int snmpp_walk_response(snmpp_walk *const *batch, size_t nbatch, const netsnmp_variable_list *vars,
                        snmpp_take_fn take, void *ctx, size_t *progress);

/* ---- values --------------------------------------------------------------------------------- */

enum { SNMPP_VAL_NONE, SNMPP_VAL_NUMBER, SNMPP_VAL_TEXT };

/* Reads a varbind's value as snmp_exporter does: INTEGER signed, Counter32, Gauge32, TimeTicks
 * (raw hundredths of a second) and Counter64 unsigned, Opaque float/double as such. Returns
 * SNMPP_VAL_NUMBER with *num, SNMPP_VAL_TEXT with the text in buf (OCTET STRING as UTF-8 when
 * it is printable UTF-8 without NULs — trailing NULs dropped — else "0x" and upper-case hex;
 * OBJECT IDENTIFIER dotted; IpAddress dotted quad; BITS and raw Opaque in hex; cut at cap-1
 * bytes on a character boundary), or SNMPP_VAL_NONE (NULL, exceptions, malformed values).
 * buf gets "" unless the value is text. */
int snmpp_var_value(const netsnmp_variable_list *v, double *num, char *buf, size_t cap);

/* The name of an SNMP error-status ("noSuchName", "authorizationError", ...) or "error N". */
const char *snmpp_errstat_name(long errstat, char *buf, size_t cap);
/* What a report PDU means, from its first varbind (usmStatsWrongDigests.0, ...): a sentence
 * for the run's message. */
const char *snmpp_report_text(const snmpp_subid *o, size_t n);
/* True for usmStatsNotInTimeWindows.0 (net-snmp resynchronises and resends by itself). */
int snmpp_report_not_in_time(const snmpp_subid *o, size_t n);

/* ---- the IF-MIB table ----------------------------------------------------------------------- */

/* The columns walked, by the names snmp_exporter gives them: three labels, then numbers. */
enum snmpp_ifcol {
    SNMPP_IF_DESCR,
    SNMPP_IF_NAME,
    SNMPP_IF_ALIAS,
    SNMPP_IF_ADMIN_STATUS,
    SNMPP_IF_OPER_STATUS,
    SNMPP_IF_IN_OCTETS,
    SNMPP_IF_IN_DISCARDS,
    SNMPP_IF_IN_ERRORS,
    SNMPP_IF_OUT_OCTETS,
    SNMPP_IF_OUT_DISCARDS,
    SNMPP_IF_OUT_ERRORS,
    SNMPP_IF_HC_IN_OCTETS,
    SNMPP_IF_HC_IN_UCAST,
    SNMPP_IF_HC_OUT_OCTETS,
    SNMPP_IF_HC_OUT_UCAST,
    SNMPP_IF_HIGH_SPEED,
    SNMPP_IF_NCOLS
};
#define SNMPP_IF_NLABELS 3 /* the columns before SNMPP_IF_ADMIN_STATUS are labels */

/* Column c's name ("ifHCInOctets") and its root OID (ifTable 1.3.6.1.2.1.2.2.1.N or ifXTable
 * 1.3.6.1.2.1.31.1.1.1.N). */
const char *snmpp_ifcol_name(int c);
void snmpp_ifcol_root(int c, snmpp_oid *out);

/* One cell of the table as the walks returned it: a number, or a label's text. */
typedef struct snmpp_ifcell {
    uint32_t index;
    uint8_t col;
    int has_num;
    double num;
    char *text; /* label columns (owned) */
} snmpp_ifcell;

/* The cells of one run, in any order; sorted and grouped by interface when emitted. */
typedef struct snmpp_iftab {
    snmpp_ifcell *c;
    size_t n, cap;
} snmpp_iftab;

/* Records the varbind v of column c if its OID is the column's root plus one sub-identifier
 * (the ifIndex) and its value fits the column (text for labels, a number otherwise); anything
 * else is ignored. Returns 0 or -ENOMEM. */
int snmpp_iftab_add(snmpp_iftab *t, int c, const netsnmp_variable_list *v);
void snmpp_iftab_free(snmpp_iftab *t);

/* Receives one sample: metric, NULL-terminated label pairs (valid during the call), value. */
typedef int (*snmpp_emit_fn)(void *ctx, const char *metric, const char *const *labels, double v);

/* Emits the table's samples, interface by interface in ifIndex order, each with labels
 * ifIndex, ifName, ifAlias, ifDescr: ifHCInOctets and ifHCOutOctets (ifInOctets/ifOutOctets
 * where the interface has no HC counter), ifInErrors, ifOutErrors, ifInDiscards,
 * ifOutDiscards, ifOperStatus, ifAdminStatus, ifHighSpeed, ifHCInUcastPkts, ifHCOutUcastPkts
 * (those the agent returned). Sorts t. Returns 0 or emit's first error. */
int snmpp_iftab_emit(snmpp_iftab *t, snmpp_emit_fn emit, void *ctx);

/* ---- settings ------------------------------------------------------------------------------- */

enum { SNMPP_AUTH_NONE, SNMPP_AUTH_MD5, SNMPP_AUTH_SHA, SNMPP_AUTH_SHA256, SNMPP_AUTH_SHA512 };
enum { SNMPP_PRIV_NONE, SNMPP_PRIV_DES, SNMPP_PRIV_AES };

/* A definition's settings, checked once (snmp.c's prepare). */
typedef struct snmpp_prep {
    int version; /* 1, 2 (v2c) or 3 */
    char *community;
    char *user;
    int auth, priv; /* SNMPP_AUTH_*, SNMPP_PRIV_* */
    char *auth_password, *priv_password;
    int interfaces;
    snmpp_oid *oids; /* settings.oids, duplicates dropped */
    size_t noids;
    /* v3 keys (net-snmp's Ku, from the passwords), made by the first run */
    int keys_made;
    unsigned char auth_ku[64], priv_ku[64];
    size_t auth_ku_len, priv_ku_len;
} snmpp_prep;

/* Checks settings (an object; absent or null members take their defaults: version "2c",
 * community "public", interfaces true) and makes *out. v3 needs user; auth and priv passwords
 * of at least 8 characters (USM's minimum) where the protocol is not none; priv needs auth.
 * Returns 0, -EINVAL with the reason in err, or -ENOMEM. */
int snmpp_prep_parse(const json_t *settings, snmpp_prep **out, char *err, size_t errcap);
/* Frees p, wiping its passwords and keys. Accepts NULL. */
void snmpp_prep_free(snmpp_prep *p);

#endif
