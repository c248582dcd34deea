/* sockstat: socket counts and memory from /proc/net/sockstat and /proc/net/sockstat6 as
 * node_sockstat_sockets_used and node_sockstat_<PROTO>_<key>, named as node_exporter does. */
#include "collector_int.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* The keys node_exporter exports (others a future kernel adds are skipped, as its parser
 * does). "mem" counts pages and is also exported as <PROTO>_mem_bytes. */
static const char *const sock_keys[] = {"inuse", "orphan", "tw", "alloc", "mem", "memory"};

#define SOCK_NKEYS (sizeof sock_keys / sizeof sock_keys[0])

/* Parses a count: node_exporter reads them with Atoi, so a minus sign is accepted. */
static int sock_value(const char *s, double *out)
{
    uint64_t u;
    int neg = *s == '-';
    if (coll_u64(s + neg, &u))
        return -EINVAL;
    *out = neg ? -(double)u : (double)u;
    return 0;
}

/* Adds node_sockstat_<proto>_<key><suffix> = v; name is scratch space of cap bytes. */
static int sock_add(char *name, size_t cap, const char *proto, size_t plen, const char *key,
                    const char *suffix, double v, batch *b)
{
    static const char prefix[] = "node_sockstat_";
    size_t klen = strlen(key), slen = strlen(suffix);
    if (sizeof prefix + plen + 1 + klen + slen > cap)
        return -EINVAL;
    size_t n = sizeof prefix - 1;
    memcpy(name, prefix, n);
    memcpy(name + n, proto, plen);
    n += plen;
    name[n++] = '_';
    memcpy(name + n, key, klen);
    memcpy(name + n + klen, suffix, slen + 1);
    return batch_add(b, name, NULL, v);
}

/* Parses one file: lines "PROTO: key value key value ...". The "sockets: used N" line is only
 * exported from the IPv4 file, like node_exporter. */
static int sock_file(char *text, int v6, double page, batch *b)
{
    char name[128];
    char *cur = text, *line;
    while ((line = coll_line(&cur))) {
        if (!*line)
            continue;
        char *p = line;
        const char *proto = coll_field(&p);
        size_t plen = proto ? strlen(proto) : 0;
        if (plen < 2 || proto[plen - 1] != ':')
            return -EINVAL;
        plen--;
        for (size_t i = 0; i < plen; i++) {
            char c = proto[i];
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_'))
                return -EINVAL;
        }
        int sockets = plen == 7 && memcmp(proto, "sockets", 7) == 0;
        const char *key;
        size_t pairs = 0;
        while ((key = coll_field(&p))) {
            const char *val = coll_field(&p);
            double v;
            int rc = 0;
            if (!val || sock_value(val, &v))
                return -EINVAL;
            pairs++;
            if (sockets) {
                if (!v6 && strcmp(key, "used") == 0)
                    rc = batch_add(b, "node_sockstat_sockets_used", NULL, v);
            } else {
                for (size_t k = 0; k < SOCK_NKEYS; k++) {
                    if (strcmp(key, sock_keys[k]) != 0)
                        continue;
                    rc = sock_add(name, sizeof name, proto, plen, key, "", v, b);
                    if (!rc && k == 4) /* "mem" */
                        rc = sock_add(name, sizeof name, proto, plen, key, "_bytes", v * page, b);
                    break;
                }
            }
            if (rc)
                return rc;
        }
        if (!pairs)
            return -EINVAL;
    }
    return 0;
}

int coll_sockstat(const coll_env *env, batch *b)
{
    static const char *const rel[] = {"/net/sockstat", "/net/sockstat6"};
    char buf[4096];
    /* The kernel's "mem" is in pages (SK_MEM_QUANTUM is the page size). */
    long ps = sysconf(_SC_PAGESIZE);
    double page = ps > 0 ? (double)ps : 4096.0;
    for (int i = 0; i < 2; i++) {
        size_t len;
        int rc = coll_read_one(env, env->proc, rel[i], buf, sizeof buf, &len);
        if (rc == -ENOENT)
            continue;
        if (!rc)
            rc = sock_file(buf, i == 1, page, b);
        if (rc)
            return rc;
    }
    return 0;
}
