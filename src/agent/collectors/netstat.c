/* netstat: the protocol counters of /proc/net/netstat, /proc/net/snmp and /proc/net/snmp6 as
 * node_netstat_<Proto>_<Field>, with node_exporter's default field filter. */
#include "collector_int.h"

#include <errno.h>
#include <string.h>

/* node_exporter's default --collector.netstat.fields, checked by hand:
 *   ^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)
 *    |TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue)
 *    |Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)
 *    |Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$
 * Apart from the first alternative, every protocol name is free of '_', so a key splits at its
 * first '_' into a protocol, looked up in the table below, and a field. */
typedef struct ns_pat {
    const char *s;
    int prefix; /* 1: s is a prefix (Listen.*), 0: the whole field */
} ns_pat;

static const ns_pat ns_ip[] = {{"Forwarding", 0}, {NULL, 0}};
static const ns_pat ns_octets[] = {{"InOctets", 0}, {"OutOctets", 0}, {NULL, 0}};
static const ns_pat ns_icmp[] = {{"InMsgs", 0}, {"OutMsgs", 0}, {NULL, 0}};
static const ns_pat ns_tcpext[] = {{"Listen", 1},      {"Syncookies", 1},  {"TCPSynRetrans", 0},
                                   {"TCPTimeouts", 0}, {"TCPOFOQueue", 0}, {NULL, 0}};
static const ns_pat ns_tcp[] = {
    {"ActiveOpens", 0},  {"InSegs", 0},      {"OutSegs", 0},   {"OutRsts", 0},
    {"PassiveOpens", 0}, {"RetransSegs", 0}, {"CurrEstab", 0}, {NULL, 0}};
static const ns_pat ns_udp[] = {{"InDatagrams", 0},  {"OutDatagrams", 0}, {"NoPorts", 0},
                                {"RcvbufErrors", 0}, {"SndbufErrors", 0}, {NULL, 0}};
static const ns_pat ns_none[] = {{NULL, 0}};

static const struct {
    const char *proto;
    const ns_pat *fields;
} ns_rules[] = {
    {"Ip", ns_ip},     {"Ip6", ns_octets}, {"IpExt", ns_octets},
    {"Icmp", ns_icmp}, {"Icmp6", ns_icmp}, {"TcpExt", ns_tcpext},
    {"Tcp", ns_tcp},   {"Udp", ns_udp},    {"Udp6", ns_udp},
};

/* The field patterns for protocol proto (plen bytes); an empty list when it has none. */
static const ns_pat *ns_rule(const char *proto, size_t plen)
{
    for (size_t i = 0; i < sizeof ns_rules / sizeof ns_rules[0]; i++) {
        if (strncmp(ns_rules[i].proto, proto, plen) == 0 && ns_rules[i].proto[plen] == '\0')
            return ns_rules[i].fields;
    }
    return ns_none;
}

/* 1 if field (n bytes) ends with "InErrors" or "InErrs" that start the field or follow a '_':
 * the '_' before it is either the one after the protocol or one inside the field. */
static int ns_in_errors(const char *field, size_t n)
{
    if (n < 6 || field[n - 1] != 's' || field[n - 2] != 'r')
        return 0;
    if (n >= 8 && memcmp(field + n - 8, "InErrors", 8) == 0)
        return n == 8 || field[n - 9] == '_';
    if (memcmp(field + n - 6, "InErrs", 6) == 0)
        return n == 6 || field[n - 7] == '_';
    return 0;
}

/* 1 if field (n bytes) of a protocol with patterns rule passes the filter. */
static int ns_field_ok(const ns_pat *rule, const char *field, size_t n)
{
    if (ns_in_errors(field, n))
        return 1;
    /* The first character rejects almost every field before a string comparison. */
    for (; rule->s; rule++) {
        if (field[0] == rule->s[0] &&
            (rule->prefix ? strncmp(field, rule->s, strlen(rule->s)) : strcmp(field, rule->s)) == 0)
            return 1;
    }
    return 0;
}

int coll_netstat_included(const char *key)
{
    const char *us = strchr(key, '_');
    if (!us)
        return 0;
    return ns_field_ok(ns_rule(key, (size_t)(us - key)), us + 1, strlen(us + 1));
}

/* Parses a counter: unsigned decimal, or negative where the kernel prints a signed value
 * (Tcp MaxConn is -1), as node_exporter's ParseFloat accepts. */
static int ns_value(const char *s, double *out)
{
    uint64_t u;
    int neg = *s == '-';
    if (coll_u64(s + neg, &u))
        return -EINVAL;
    *out = neg ? -(double)u : (double)u;
    return 0;
}

/* The metric name under construction: "node_netstat_<Proto>_" then the field. */
typedef struct ns_name {
    char s[256];
    size_t base; /* length up to and including the '_' after the protocol */
} ns_name;

static int ns_set_proto(ns_name *nm, const char *proto, size_t plen)
{
    static const char prefix[] = "node_netstat_";
    if (sizeof prefix + plen + 1 > sizeof nm->s)
        return -EINVAL;
    memcpy(nm->s, prefix, sizeof prefix - 1);
    memcpy(nm->s + sizeof prefix - 1, proto, plen);
    nm->base = sizeof prefix - 1 + plen;
    nm->s[nm->base++] = '_';
    return 0;
}

/* Adds node_netstat_<Proto>_<field> = v. */
static int ns_add(ns_name *nm, const char *field, size_t n, double v, batch *b)
{
    if (nm->base + n >= sizeof nm->s)
        return -EINVAL;
    memcpy(nm->s + nm->base, field, n + 1);
    return batch_add(b, nm->s, NULL, v);
}

/* /proc/net/netstat and /proc/net/snmp: per protocol a header line "Tcp: ActiveOpens ..."
 * followed by a value line "Tcp: 12 ...", with the same protocol and as many fields. */
static int ns_pairs(char *text, batch *b)
{
    ns_name nm;
    char *cur = text, *names;
    while ((names = coll_line(&cur))) {
        if (!*names)
            continue;
        char *vals = coll_line(&cur);
        if (!vals)
            return -EINVAL;
        const char *proto = coll_field(&names), *vproto = coll_field(&vals);
        size_t plen = proto ? strlen(proto) : 0;
        if (plen < 2 || proto[plen - 1] != ':' || !vproto || strcmp(proto, vproto) != 0)
            return -EINVAL;
        plen--;
        const ns_pat *rule = ns_rule(proto, plen);
        int rc = ns_set_proto(&nm, proto, plen);
        if (rc)
            return rc;
        for (;;) {
            const char *field = coll_field(&names), *val = coll_field(&vals);
            double v;
            if (!field && !val)
                break;
            if (!field || !val || ns_value(val, &v))
                return -EINVAL;
            size_t n = strlen(field);
            if (!ns_field_ok(rule, field, n))
                continue;
            rc = ns_add(&nm, field, n, v, b);
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* /proc/net/snmp6: "Ip6InReceives   29" lines. As in node_exporter, the protocol is the name up
 * to and including its first '6' (Ip6, Icmp6, Udp6, UdpLite6) and a name without a '6' is
 * skipped. */
static int ns_snmp6(char *text, batch *b)
{
    ns_name nm;
    char *cur = text, *line;
    while ((line = coll_line(&cur))) {
        if (!*line)
            continue;
        char *p = line;
        const char *key = coll_field(&p), *val = coll_field(&p);
        double v;
        if (!key || !val || coll_field(&p) || ns_value(val, &v))
            return -EINVAL;
        const char *six = strchr(key, '6');
        if (!six)
            continue;
        size_t plen = (size_t)(six + 1 - key), n = strlen(six + 1);
        if (!ns_field_ok(ns_rule(key, plen), six + 1, n))
            continue;
        int rc = ns_set_proto(&nm, key, plen);
        if (!rc)
            rc = ns_add(&nm, six + 1, n, v, b);
        if (rc)
            return rc;
    }
    return 0;
}

int coll_netstat(const coll_env *env, batch *b)
{
    static const struct {
        const char *rel;
        int (*parse)(char *text, batch *b);
    } files[] = {
        {"/net/netstat", ns_pairs},
        {"/net/snmp", ns_pairs},
        {"/net/snmp6", ns_snmp6},
    };
    /* One buffer, parsed whole before the next file is read. Each file is one seq_file record
     * (the kernel prints it in a single show call), so one read returns all of it. An absent
     * file (snmp6 without IPv6) is skipped. */
    char buf[COLL_BUF_SMALL];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        size_t len;
        int rc = coll_read_one(env, env->proc, files[i].rel, buf, sizeof buf, &len);
        if (rc == -ENOENT)
            continue;
        if (!rc)
            rc = files[i].parse(buf, b);
        if (rc)
            return rc;
    }
    return 0;
}
