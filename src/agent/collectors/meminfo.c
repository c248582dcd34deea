/* meminfo: every line of /proc/meminfo as node_memory_<Key>_bytes (kB values times 1024) or,
 * for unit-less counts such as HugePages_Total, node_memory_<Key>, like node_exporter. */
#include "collector_int.h"

#include "../../lib/labels.h"

#include <errno.h>
#include <string.h>

/* Builds the metric name for key into dst (cap bytes). Parentheses are rewritten exactly as
 * node_exporter's regexp `\((.*)\)` → `_$1` does: the first '(' becomes '_' and the last ')'
 * after it is dropped, so "Active(anon)" gives "Active_anon". Returns 0 or -ENAMETOOLONG. */
static int meminfo_name(char *dst, size_t cap, const char *key, size_t keylen, int bytes)
{
    const char *open = memchr(key, '(', keylen), *close = NULL;
    for (const char *p = open ? open + 1 : key + keylen; p < key + keylen; p++) {
        if (*p == ')')
            close = p;
    }
    size_t n = 0;
    const char prefix[] = "node_memory_", suffix[] = "_bytes";
    if (sizeof prefix + keylen + sizeof suffix > cap)
        return -ENAMETOOLONG;
    memcpy(dst, prefix, sizeof prefix - 1);
    n = sizeof prefix - 1;
    for (const char *p = key; p < key + keylen; p++) {
        if (close && p == open)
            dst[n++] = '_';
        else if (p != close)
            dst[n++] = *p;
    }
    if (bytes) {
        memcpy(dst + n, suffix, sizeof suffix - 1);
        n += sizeof suffix - 1;
    }
    dst[n] = '\0';
    return 0;
}

int coll_meminfo(const coll_env *env, batch *b)
{
    char buf[COLL_BUF_SMALL];
    char name[256];
    size_t len;
    int rc = coll_read_one(env, env->proc, "/meminfo", buf, sizeof buf, &len);
    if (rc == -ENOENT)
        return 0;
    if (rc)
        return rc;
    char *cur = buf, *line;
    while ((line = coll_line(&cur))) {
        if (!*line)
            continue;
        char *colon = strchr(line, ':');
        if (!colon || colon == line)
            return -EINVAL;
        char *p = colon + 1;
        const char *val = coll_field(&p), *unit = coll_field(&p);
        uint64_t v;
        if (!val || coll_u64(val, &v) || coll_field(&p))
            return -EINVAL;
        if (unit && strcmp(unit, "kB") != 0)
            return -EINVAL;
        rc = meminfo_name(name, sizeof name, line, (size_t)(colon - line), unit != NULL);
        if (rc)
            return -EINVAL;
        /* A key that cannot form a metric name (a future kernel's odd spelling) is skipped
         * rather than failing the whole collector. */
        if (!labels_valid_metric_name(name))
            continue;
        rc = batch_add(b, name, NULL, unit ? (double)v * 1024.0 : (double)v);
        if (rc)
            return rc;
    }
    return 0;
}
