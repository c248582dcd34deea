/* vmstat: the paging, swapping, fault and OOM-kill counters of /proc/vmstat as
 * node_vmstat_<field>, with node_exporter's default field filter. */
#include "collector_int.h"

#include <errno.h>
#include <string.h>

int coll_vmstat_included(const char *field)
{
    /* node_exporter's default --collector.vmstat.fields `^(oom_kill|pgpg|pswp|pg.*fault).*`:
     * a prefix oom_kill, pgpg or pswp, or "pg" followed somewhere later by "fault". */
    if (field[0] == 'p' && field[1] == 'g')
        return strncmp(field + 2, "pg", 2) == 0 || strstr(field + 2, "fault") != NULL;
    return strncmp(field, "pswp", 4) == 0 || strncmp(field, "oom_kill", 8) == 0;
}

int coll_vmstat(const coll_env *env, batch *b)
{
    char buf[COLL_BUF_SMALL];
    char name[128] = "node_vmstat_";
    const size_t plen = sizeof "node_vmstat_" - 1;
    size_t len;
    /* A seq_file produced record by record: read to the end. */
    int rc = coll_read(env, env->proc, "/vmstat", buf, sizeof buf, &len);
    if (rc == -ENOENT)
        return 0;
    if (rc)
        return rc;
    char *cur = buf, *line;
    while ((line = coll_line(&cur))) {
        if (!*line)
            continue;
        char *p = line;
        const char *key = coll_field(&p), *val = coll_field(&p);
        uint64_t u;
        /* Every line is "name value". Values are unsigned on current kernels; a minus sign
         * (some per-CPU sums on older ones) is accepted like node_exporter's ParseFloat does.
         * Every value is checked, not only the exported ones, so a garbled file is an error. */
        if (!key || !val || coll_field(&p) || coll_u64(val + (*val == '-'), &u))
            return -EINVAL;
        if (!coll_vmstat_included(key))
            continue;
        size_t klen = strlen(key);
        if (plen + klen >= sizeof name)
            return -EINVAL;
        memcpy(name + plen, key, klen + 1);
        rc = batch_add(b, name, NULL, *val == '-' ? -(double)u : (double)u);
        if (rc)
            return rc;
    }
    return 0;
}
