/* stat: the system-wide counters of /proc/stat (context switches, forks, interrupts, running
 * and blocked processes, boot time), under node_exporter's names. */
#include "collector_int.h"

#include <errno.h>
#include <string.h>

/* The /proc/stat keys we export; only the first number of each line is used (for "intr" it
 * is the total, followed by one count per interrupt line). */
static const struct {
    const char *key;
    const char *metric;
} stat_keys[] = {
    {"ctxt", "node_context_switches_total"},
    {"processes", "node_forks_total"},
    {"intr", "node_intr_total"},
    {"procs_running", "node_procs_running"},
    {"procs_blocked", "node_procs_blocked"},
    {"btime", "node_boot_time_seconds"},
};

int coll_stat(const coll_env *env, batch *b)
{
    char buf[COLL_BUF_LARGE];
    size_t len;
    int rc = coll_read_one(env, env->proc, "/stat", buf, sizeof buf, &len);
    if (rc == -ENOENT)
        return 0;
    if (rc)
        return rc;
    char *cur = buf, *line;
    while ((line = coll_line(&cur))) {
        char *p = line;
        const char *key = coll_field(&p);
        if (!key || strncmp(key, "cpu", 3) == 0) /* the cpu collector's lines */
            continue;
        for (size_t i = 0; i < sizeof stat_keys / sizeof stat_keys[0]; i++) {
            if (strcmp(key, stat_keys[i].key) != 0)
                continue;
            const char *f = coll_field(&p);
            uint64_t v;
            if (!f || coll_u64(f, &v))
                return -EINVAL;
            rc = batch_add(b, stat_keys[i].metric, NULL, (double)v);
            if (rc)
                return rc;
            break;
        }
    }
    return 0;
}
