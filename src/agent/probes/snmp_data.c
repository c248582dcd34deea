/* snmp_data: the pure half of the snmp probe (snmp_int.h): OIDs, walk bookkeeping, varbind
 * values, the IF-MIB table and its samples, settings. No network, no net-snmp library calls
 * (only its types). Loop thread only. */
#include "../../lib/log.h" /* before net-snmp: <syslog.h> defines LOG_DEBUG and LOG_INFO */
#include "snmp_int.h"

#include "../../lib/mem.h"
#include "probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <net-snmp/library/snmp_api.h>

/* ==== pure helpers (snmp_int.h) ============================================================ */

int snmpp_oid_parse(const char *text, snmpp_oid *out, char *err, size_t errcap)
{
    snmpp_oid o;
    const char *p = text;
    o.n = 0;
    if (!text || !*text) {
        snprintf(err, errcap, "empty OID");
        return -EINVAL;
    }
    if (*p == '.')
        p++;
    for (;;) {
        uint64_t v = 0;
        if (*p < '0' || *p > '9') {
            snprintf(err, errcap, "OID \"%.64s\": expected a digit at position %zu", text,
                     (size_t)(p - text) + 1);
            return -EINVAL;
        }
        while (*p >= '0' && *p <= '9') {
            v = v * 10 + (uint64_t)(*p - '0');
            if (v > UINT32_MAX) {
                snprintf(err, errcap,
                         "OID \"%.64s\": sub-identifier above 4294967295 at "
                         "position %zu",
                         text, (size_t)(p - text) + 1);
                return -EINVAL;
            }
            p++;
        }
        if (o.n == SNMPP_OID_MAX) {
            snprintf(err, errcap, "OID \"%.64s\": more than %d sub-identifiers", text,
                     SNMPP_OID_MAX);
            return -EINVAL;
        }
        o.s[o.n++] = (snmpp_subid)v;
        if (!*p)
            break;
        if (*p != '.') {
            snprintf(err, errcap, "OID \"%.64s\": unexpected character at position %zu", text,
                     (size_t)(p - text) + 1);
            return -EINVAL;
        }
        p++;
    }
    if (o.n < 2) {
        snprintf(err, errcap, "OID \"%.64s\": at least two sub-identifiers needed", text);
        return -EINVAL;
    }
    if (o.s[0] > 2 || (o.s[0] < 2 && o.s[1] > 39)) {
        snprintf(err, errcap, "OID \"%.64s\": starts with neither 0.0-39, 1.0-39 nor 2", text);
        return -EINVAL;
    }
    *out = o;
    return 0;
}

int snmpp_oid_cmp(const snmpp_subid *a, size_t an, const snmpp_subid *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    return an < bn ? -1 : an > bn ? 1 : 0;
}

int snmpp_oid_in_subtree(const snmpp_subid *o, size_t n, const snmpp_subid *root, size_t rn)
{
    return n > rn && memcmp(o, root, rn * sizeof *o) == 0;
}

int snmpp_oid_format(const snmpp_subid *o, size_t n, char *buf, size_t cap)
{
    size_t len = 0;
    if (!cap)
        return -E2BIG;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(buf + len, cap - len, i ? ".%u" : "%u", (unsigned)o[i]);
        if (w < 0 || (size_t)w >= cap - len) {
            buf[0] = '\0';
            return -E2BIG;
        }
        len += (size_t)w;
    }
    return 0;
}

int snmpp_oid_from_net(const oid *o, size_t n, snmpp_oid *out)
{
    if (n > SNMPP_OID_MAX || (n && !o))
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if ((unsigned long)o[i] > UINT32_MAX)
            return -EINVAL;
    for (size_t i = 0; i < n; i++)
        out->s[i] = (snmpp_subid)o[i];
    out->n = n;
    return 0;
}

void snmpp_walk_init(snmpp_walk *w, const snmpp_subid *root, size_t n)
{
    w->root.n = n;
    memcpy(w->root.s, root, n * sizeof *root);
    w->last = w->root;
    w->taken = 0;
    w->done = 0;
    w->backwards = 0;
}

snmpp_step snmpp_walk_step(snmpp_walk *w, const snmpp_subid *o, size_t n, int type)
{
    if (w->done)
        return SNMPP_END;
    if (type == SNMP_ENDOFMIBVIEW || type == SNMP_NOSUCHOBJECT || type == SNMP_NOSUCHINSTANCE ||
        !snmpp_oid_in_subtree(o, n, w->root.s, w->root.n)) {
        w->done = 1;
        return SNMPP_END;
    }
    if (snmpp_oid_cmp(o, n, w->last.s, w->last.n) <= 0) {
        w->done = 1;
        w->backwards = 1;
        return SNMPP_BACKWARDS;
    }
    memcpy(w->last.s, o, n * sizeof *o);
    w->last.n = n;
    w->taken++;
    return SNMPP_TAKE;
}

int snmpp_walk_response(snmpp_walk *const *batch, size_t nbatch, const netsnmp_variable_list *vars,
                        snmpp_take_fn take, void *ctx, size_t *progress)
{
    int rc = 0;
    size_t i = 0;
    snmpp_oid o;
    *progress = 0;
    if (!nbatch)
        return 0;
    for (const netsnmp_variable_list *v = vars; v; v = v->next_variable, i++) {
        snmpp_walk *w = batch[i % nbatch];
        if (w->done)
            continue;
        if (snmpp_oid_from_net(v->name, v->name_length, &o)) {
            w->done = 1;
            w->backwards = 1;
            (*progress)++;
            rc = -EINVAL;
            continue;
        }
        switch (snmpp_walk_step(w, o.s, o.n, v->type)) {
        case SNMPP_TAKE:
            (*progress)++;
            if (take) {
                int trc = take(ctx, i % nbatch, v);
                if (trc)
                    return trc;
            }
            break;
        case SNMPP_END:
            (*progress)++;
            break;
        case SNMPP_BACKWARDS:
            (*progress)++;
            rc = -EPROTO;
            break;
        }
    }
    return rc;
}

/* Length of the UTF-8 character at s (at most n bytes) if it is valid and printable (no C0
 * control but tab, newline and carriage return, no DEL), else 0. */
static size_t utf8_char(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return (c >= 0x20 && c != 0x7f) || c == '\t' || c == '\n' || c == '\r' ? 1 : 0;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* Renders bytes as text (when as_text and they are printable UTF-8 once trailing NULs are
 * dropped) or as "0x" and upper-case hex, cut to fit cap. */
static void render_bytes(const unsigned char *s, size_t n, int as_text, char *buf, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = 0;
    if (!cap)
        return;
    buf[0] = '\0';
    if (!s)
        n = 0;
    if (as_text) {
        size_t m = n, i = 0;
        while (m && s[m - 1] == '\0')
            m--;
        while (i < m) {
            size_t c = utf8_char(s + i, m - i);
            if (!c)
                break;
            i += c;
        }
        if (i == m) {
            for (i = 0; i < m;) {
                size_t c = utf8_char(s + i, m - i);
                if (len + c > cap - 1)
                    break;
                memcpy(buf + len, s + i, c);
                len += c;
                i += c;
            }
            buf[len] = '\0';
            return;
        }
    }
    if (!n || cap < 3)
        return;
    buf[len++] = '0';
    buf[len++] = 'x';
    for (size_t i = 0; i < n && len + 2 <= cap - 1; i++) {
        buf[len++] = hex[s[i] >> 4];
        buf[len++] = hex[s[i] & 15];
    }
    buf[len] = '\0';
}

int snmpp_var_value(const netsnmp_variable_list *v, double *num, char *buf, size_t cap)
{
    if (cap)
        buf[0] = '\0';
    *num = 0;
    if (!v)
        return SNMPP_VAL_NONE;
    switch (v->type) {
    case ASN_INTEGER:
        if (!v->val.integer || v->val_len < sizeof(long))
            return SNMPP_VAL_NONE;
        *num = (double)*v->val.integer;
        return SNMPP_VAL_NUMBER;
    case ASN_COUNTER:
    case ASN_GAUGE:
    case ASN_TIMETICKS:
    case ASN_UINTEGER:
        if (!v->val.integer || v->val_len < sizeof(long))
            return SNMPP_VAL_NONE;
        *num = (double)((unsigned long)*v->val.integer & 0xffffffffUL);
        return SNMPP_VAL_NUMBER;
    case ASN_COUNTER64:
#ifdef NETSNMP_WITH_OPAQUE_SPECIAL_TYPES
    case ASN_OPAQUE_COUNTER64:
    case ASN_OPAQUE_U64:
    case ASN_OPAQUE_I64:
#endif
    {
        if (!v->val.counter64 || v->val_len < sizeof(struct counter64))
            return SNMPP_VAL_NONE;
        uint64_t u = ((uint64_t)(v->val.counter64->high & 0xffffffffUL) << 32) |
                     (v->val.counter64->low & 0xffffffffUL);
#ifdef NETSNMP_WITH_OPAQUE_SPECIAL_TYPES
        if (v->type == ASN_OPAQUE_I64) {
            *num = (double)(int64_t)u;
            return SNMPP_VAL_NUMBER;
        }
#endif
        *num = (double)u;
        return SNMPP_VAL_NUMBER;
    }
#ifdef NETSNMP_WITH_OPAQUE_SPECIAL_TYPES
    case ASN_OPAQUE_FLOAT:
        if (!v->val.floatVal || v->val_len < sizeof(float))
            return SNMPP_VAL_NONE;
        *num = (double)*v->val.floatVal;
        return SNMPP_VAL_NUMBER;
    case ASN_OPAQUE_DOUBLE:
        if (!v->val.doubleVal || v->val_len < sizeof(double))
            return SNMPP_VAL_NONE;
        *num = *v->val.doubleVal;
        return SNMPP_VAL_NUMBER;
#endif
    case ASN_OCTET_STR:
        render_bytes(v->val.string, v->val_len, 1, buf, cap);
        return SNMPP_VAL_TEXT;
    case ASN_OBJECT_ID: {
        snmpp_oid o;
        if (!v->val.objid || snmpp_oid_from_net(v->val.objid, v->val_len / sizeof(oid), &o))
            return SNMPP_VAL_NONE;
        if (snmpp_oid_format(o.s, o.n, buf, cap))
            return SNMPP_VAL_NONE;
        return SNMPP_VAL_TEXT;
    }
    case ASN_IPADDRESS:
        if (v->val.string && v->val_len == 4 && cap) {
            snprintf(buf, cap, "%u.%u.%u.%u", v->val.string[0], v->val.string[1], v->val.string[2],
                     v->val.string[3]);
            return SNMPP_VAL_TEXT;
        }
        render_bytes(v->val.string, v->val_len, 0, buf, cap);
        return SNMPP_VAL_TEXT;
    case ASN_BIT_STR:
    case ASN_OPAQUE:
    case ASN_NSAP:
        render_bytes(v->val.string, v->val_len, 0, buf, cap);
        return SNMPP_VAL_TEXT;
    default:
        return SNMPP_VAL_NONE; /* NULL, noSuchObject, noSuchInstance, endOfMibView, ... */
    }
}

const char *snmpp_errstat_name(long errstat, char *buf, size_t cap)
{
    static const char *const names[] = {"noError",
                                        "tooBig",
                                        "noSuchName",
                                        "badValue",
                                        "readOnly",
                                        "genErr",
                                        "noAccess",
                                        "wrongType",
                                        "wrongLength",
                                        "wrongEncoding",
                                        "wrongValue",
                                        "noCreation",
                                        "inconsistentValue",
                                        "resourceUnavailable",
                                        "commitFailed",
                                        "undoFailed",
                                        "authorizationError",
                                        "notWritable",
                                        "inconsistentName"};
    if (errstat >= 0 && (size_t)errstat < sizeof names / sizeof names[0])
        return names[errstat];
    snprintf(buf, cap, "error %ld", errstat);
    return buf;
}

/* usmStats (1.3.6.1.6.3.15.1.1.N.0) and snmpMPDStats (1.3.6.1.6.3.11.2.1.N.0) counters that
 * reports carry. */
static const snmpp_subid usm_stats[] = {1, 3, 6, 1, 6, 3, 15, 1, 1};
static const snmpp_subid mpd_stats[] = {1, 3, 6, 1, 6, 3, 11, 2, 1};

const char *snmpp_report_text(const snmpp_subid *o, size_t n)
{
    static const char *const usm[] = {
        NULL,
        "the agent refused the security level for this user (usmStatsUnsupportedSecLevels)",
        "the request was not in the agent's time window (usmStatsNotInTimeWindows)",
        "the agent does not know this user (usmStatsUnknownUserNames)",
        "the agent does not know the engine ID used (usmStatsUnknownEngineIDs)",
        "authentication failed: wrong auth password or protocol (usmStatsWrongDigests)",
        "decryption failed: wrong privacy password or protocol (usmStatsDecryptionErrors)"};
    static const char *const mpd[] = {
        NULL, "the agent does not support the security model (snmpUnknownSecurityModels)",
        "the agent found the message invalid (snmpInvalidMsgs)",
        "the agent has no handler for the PDU (snmpUnknownPDUHandlers)"};
    if (n == 11 && o[10] == 0) {
        if (!memcmp(o, usm_stats, sizeof usm_stats) && o[9] >= 1 && o[9] <= 6)
            return usm[o[9]];
        if (!memcmp(o, mpd_stats, sizeof mpd_stats) && o[9] >= 1 && o[9] <= 3)
            return mpd[o[9]];
    }
    return "the agent answered with a report";
}

int snmpp_report_not_in_time(const snmpp_subid *o, size_t n)
{
    return n == 11 && !memcmp(o, usm_stats, sizeof usm_stats) && o[9] == 2 && o[10] == 0;
}

/* ---- the IF-MIB table ---------------------------------------------------------------------- */

static const struct {
    const char *name;
    snmpp_subid table; /* 2: ifTable (1.3.6.1.2.1.2.2.1), 31: ifXTable (1.3.6.1.2.1.31.1.1.1) */
    snmpp_subid column;
} ifcols[SNMPP_IF_NCOLS] = {
    [SNMPP_IF_DESCR] = {"ifDescr", 2, 2},
    [SNMPP_IF_NAME] = {"ifName", 31, 1},
    [SNMPP_IF_ALIAS] = {"ifAlias", 31, 18},
    [SNMPP_IF_ADMIN_STATUS] = {"ifAdminStatus", 2, 7},
    [SNMPP_IF_OPER_STATUS] = {"ifOperStatus", 2, 8},
    [SNMPP_IF_IN_OCTETS] = {"ifInOctets", 2, 10},
    [SNMPP_IF_IN_DISCARDS] = {"ifInDiscards", 2, 13},
    [SNMPP_IF_IN_ERRORS] = {"ifInErrors", 2, 14},
    [SNMPP_IF_OUT_OCTETS] = {"ifOutOctets", 2, 16},
    [SNMPP_IF_OUT_DISCARDS] = {"ifOutDiscards", 2, 19},
    [SNMPP_IF_OUT_ERRORS] = {"ifOutErrors", 2, 20},
    [SNMPP_IF_HC_IN_OCTETS] = {"ifHCInOctets", 31, 6},
    [SNMPP_IF_HC_IN_UCAST] = {"ifHCInUcastPkts", 31, 7},
    [SNMPP_IF_HC_OUT_OCTETS] = {"ifHCOutOctets", 31, 10},
    [SNMPP_IF_HC_OUT_UCAST] = {"ifHCOutUcastPkts", 31, 11},
    [SNMPP_IF_HIGH_SPEED] = {"ifHighSpeed", 31, 15},
};

const char *snmpp_ifcol_name(int c)
{
    return c >= 0 && c < SNMPP_IF_NCOLS ? ifcols[c].name : "";
}

void snmpp_ifcol_root(int c, snmpp_oid *out)
{
    static const snmpp_subid if_table[] = {1, 3, 6, 1, 2, 1, 2, 2, 1};
    static const snmpp_subid ifx_table[] = {1, 3, 6, 1, 2, 1, 31, 1, 1, 1};
    const snmpp_subid *t = ifcols[c].table == 2 ? if_table : ifx_table;
    size_t n = ifcols[c].table == 2 ? sizeof if_table / sizeof *t : sizeof ifx_table / sizeof *t;
    memcpy(out->s, t, n * sizeof *t);
    out->s[n] = ifcols[c].column;
    out->n = n + 1;
}

int snmpp_iftab_add(snmpp_iftab *t, int c, const netsnmp_variable_list *v)
{
    snmpp_oid root, o;
    char text[SNMPP_TEXT_MAX];
    double num;
    if (c < 0 || c >= SNMPP_IF_NCOLS || !v)
        return 0;
    snmpp_ifcol_root(c, &root);
    if (snmpp_oid_from_net(v->name, v->name_length, &o) || o.n != root.n + 1 ||
        !snmpp_oid_in_subtree(o.s, o.n, root.s, root.n))
        return 0;
    int kind = snmpp_var_value(v, &num, text, sizeof text);
    if (kind != (c < SNMPP_IF_NLABELS ? SNMPP_VAL_TEXT : SNMPP_VAL_NUMBER))
        return 0;
    if (mem_grow((void **)&t->c, &t->cap, t->n, sizeof *t->c, 64))
        return -ENOMEM;
    snmpp_ifcell *cell = &t->c[t->n];
    memset(cell, 0, sizeof *cell);
    cell->index = o.s[o.n - 1];
    cell->col = (uint8_t)c;
    if (kind == SNMPP_VAL_TEXT) {
        if (!(cell->text = mem_strdup(text)))
            return -ENOMEM;
    } else {
        cell->has_num = 1;
        cell->num = num;
    }
    t->n++;
    return 0;
}

void snmpp_iftab_free(snmpp_iftab *t)
{
    for (size_t i = 0; t && i < t->n; i++)
        mem_free(t->c[i].text);
    if (t) {
        mem_free(t->c);
        t->c = NULL;
        t->n = t->cap = 0;
    }
}

static int cell_cmp(const void *a, const void *b)
{
    const snmpp_ifcell *x = a, *y = b;
    if (x->index != y->index)
        return x->index < y->index ? -1 : 1;
    return (int)x->col - (int)y->col;
}

int snmpp_iftab_emit(snmpp_iftab *t, snmpp_emit_fn emit, void *ctx)
{
    /* What each interface gets, in order: a column, or (fallback != -1) the HC column with the
     * 32-bit one as fallback. */
    static const struct {
        int col, fallback;
    } order[] = {
        {SNMPP_IF_HC_IN_OCTETS, SNMPP_IF_IN_OCTETS},
        {SNMPP_IF_HC_OUT_OCTETS, SNMPP_IF_OUT_OCTETS},
        {SNMPP_IF_IN_ERRORS, -1},
        {SNMPP_IF_OUT_ERRORS, -1},
        {SNMPP_IF_IN_DISCARDS, -1},
        {SNMPP_IF_OUT_DISCARDS, -1},
        {SNMPP_IF_OPER_STATUS, -1},
        {SNMPP_IF_ADMIN_STATUS, -1},
        {SNMPP_IF_HIGH_SPEED, -1},
        {SNMPP_IF_HC_IN_UCAST, -1},
        {SNMPP_IF_HC_OUT_UCAST, -1},
    };
    if (!t->n)
        return 0;
    qsort(t->c, t->n, sizeof *t->c, cell_cmp);
    for (size_t i = 0; i < t->n;) {
        size_t j = i;
        const char *label[SNMPP_IF_NLABELS] = {"", "", ""};
        const snmpp_ifcell *num[SNMPP_IF_NCOLS] = {0};
        for (; j < t->n && t->c[j].index == t->c[i].index; j++) {
            const snmpp_ifcell *c = &t->c[j];
            if (c->col < SNMPP_IF_NLABELS && c->text)
                label[c->col] = c->text;
            else if (c->col < SNMPP_IF_NCOLS && c->has_num)
                num[c->col] = c;
        }
        char idx[16];
        snprintf(idx, sizeof idx, "%u", (unsigned)t->c[i].index);
        const char *const lbl[] = {"ifIndex", idx,
                                   "ifName",  label[SNMPP_IF_NAME],
                                   "ifAlias", label[SNMPP_IF_ALIAS],
                                   "ifDescr", label[SNMPP_IF_DESCR],
                                   NULL};
        for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
            int col = order[k].col;
            if (!num[col] && order[k].fallback >= 0)
                col = order[k].fallback;
            if (!num[col])
                continue;
            int rc = emit(ctx, ifcols[col].name, lbl, num[col]->num);
            if (rc)
                return rc;
        }
        i = j;
    }
    return 0;
}

/* ---- settings ------------------------------------------------------------------------------ */

/* Reads string member k of o into a fresh copy (dflt when absent or null). Returns 0, -EINVAL
 * (not a string, longer than max, holds a NUL) or -ENOMEM. */
static int get_str(const json_t *o, const char *k, const char *dflt, size_t max, char **dst,
                   char *err, size_t errcap)
{
    json_t *v = o ? json_object_get(o, k) : NULL;
    const char *s = dflt;
    if (v && !json_is_null(v)) {
        if (!json_is_string(v)) {
            snprintf(err, errcap, "\"%s\" must be a string", k);
            return -EINVAL;
        }
        s = json_string_value(v);
        if (json_string_length(v) > max || strlen(s) != json_string_length(v)) {
            snprintf(err, errcap, "\"%s\" is longer than %zu bytes or holds a NUL", k, max);
            return -EINVAL;
        }
    }
    *dst = mem_strdup(s);
    return *dst ? 0 : -ENOMEM;
}

/* Finds s among names (case-insensitively). Returns its index, or -1. */
static int pick(const char *s, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(s, names[i]))
            return (int)i;
    return -1;
}

static void wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        mem_free(s);
    }
}

void snmpp_prep_free(snmpp_prep *p)
{
    if (!p)
        return;
    mem_free(p->community);
    mem_free(p->user);
    wipe_free(p->auth_password);
    wipe_free(p->priv_password);
    mem_free(p->oids);
    explicit_bzero(p, sizeof *p);
    mem_free(p);
}

int snmpp_prep_parse(const json_t *st, snmpp_prep **out, char *err, size_t errcap)
{
    static const char *const versions[] = {"1", "2c", "3"};
    static const char *const auths[] = {"none", "MD5", "SHA", "SHA-256", "SHA-512"};
    static const char *const privs[] = {"none", "DES", "AES"};
    char *version = NULL, *auth = NULL, *priv = NULL;
    snmpp_prep *p = NULL;
    int rc;
    *out = NULL;
    if (st && !json_is_object(st) && !json_is_null(st)) {
        snprintf(err, errcap, "settings must be an object");
        return -EINVAL;
    }
    if (json_is_null(st))
        st = NULL;
    if (!(p = mem_calloc(1, sizeof *p))) {
        rc = -ENOMEM;
        goto out;
    }
    if ((rc = get_str(st, "version", "2c", 8, &version, err, errcap)) ||
        (rc = get_str(st, "community", "public", 255, &p->community, err, errcap)) ||
        (rc = get_str(st, "user", "", 32, &p->user, err, errcap)) ||
        (rc = get_str(st, "auth_protocol", "none", 16, &auth, err, errcap)) ||
        (rc = get_str(st, "auth_password", "", 256, &p->auth_password, err, errcap)) ||
        (rc = get_str(st, "priv_protocol", "none", 16, &priv, err, errcap)) ||
        (rc = get_str(st, "priv_password", "", 256, &p->priv_password, err, errcap)))
        goto out;
    rc = -EINVAL;
    int vi = pick(version, versions, 3);
    p->auth = pick(auth, auths, 5);
    p->priv = pick(priv, privs, 3);
    if (vi < 0) {
        snprintf(err, errcap, "\"version\" must be \"1\", \"2c\" or \"3\"");
        goto out;
    }
    p->version = vi + 1;
    if (p->auth < 0) {
        snprintf(err, errcap, "\"auth_protocol\" must be none, MD5, SHA, SHA-256 or SHA-512");
        goto out;
    }
    if (p->priv < 0) {
        snprintf(err, errcap, "\"priv_protocol\" must be none, DES or AES");
        goto out;
    }
    if (p->version == 3) {
        if (!p->user[0]) {
            snprintf(err, errcap, "SNMPv3 needs a \"user\"");
            goto out;
        }
        if (p->priv != SNMPP_PRIV_NONE && p->auth == SNMPP_AUTH_NONE) {
            snprintf(err, errcap, "privacy (\"priv_protocol\") needs an \"auth_protocol\"");
            goto out;
        }
        if (p->auth != SNMPP_AUTH_NONE && strlen(p->auth_password) < 8) {
            snprintf(err, errcap, "\"auth_password\" needs at least 8 characters");
            goto out;
        }
        if (p->priv != SNMPP_PRIV_NONE && strlen(p->priv_password) < 8) {
            snprintf(err, errcap, "\"priv_password\" needs at least 8 characters");
            goto out;
        }
    }
    json_t *v = st ? json_object_get(st, "interfaces") : NULL;
    if (v && !json_is_null(v) && !json_is_boolean(v)) {
        snprintf(err, errcap, "\"interfaces\" must be true or false");
        goto out;
    }
    p->interfaces = !v || json_is_null(v) || json_is_true(v);
    v = st ? json_object_get(st, "oids") : NULL;
    if (v && !json_is_null(v)) {
        if (!json_is_array(v) || json_array_size(v) > SNMPP_MAX_OIDS) {
            snprintf(err, errcap, "\"oids\" must be a list of at most %d OIDs", SNMPP_MAX_OIDS);
            goto out;
        }
        if (json_array_size(v) && !(p->oids = mem_calloc(json_array_size(v), sizeof *p->oids))) {
            rc = -ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *e = json_array_get(v, i);
            char why[160];
            snmpp_oid o;
            if (!json_is_string(e)) {
                snprintf(err, errcap, "\"oids\"[%zu] must be a string", i);
                goto out;
            }
            if (snmpp_oid_parse(json_string_value(e), &o, why, sizeof why)) {
                snprintf(err, errcap, "\"oids\"[%zu]: %s", i, why);
                goto out;
            }
            int dup = 0;
            for (size_t j = 0; j < p->noids && !dup; j++)
                dup = !snmpp_oid_cmp(o.s, o.n, p->oids[j].s, p->oids[j].n);
            if (!dup)
                p->oids[p->noids++] = o;
        }
    }
    rc = 0;
out:
    mem_free(version);
    mem_free(auth);
    mem_free(priv);
    if (rc)
        snmpp_prep_free(p);
    else
        *out = p;
    return rc;
}
