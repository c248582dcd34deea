/* schedstat: per-CPU scheduler statistics from the cpuN lines of /proc/schedstat
 * (node_schedstat_running_seconds_total, node_schedstat_waiting_seconds_total,
 * node_schedstat_timeslices_total). Kernels built without CONFIG_SCHEDSTATS have no file. */
#include "collector_int.h"

#include <errno.h>
#include <string.h>

/* A cpuN line has 9 counters (schedstat versions 15 to 17): yld_count, an unused legacy field,
 * sched_count, sched_goidle, ttwu_count, ttwu_local, then the three exported ones: time spent
 * running (ns), time spent waiting on a run queue (ns) and the number of timeslices run. Like
 * node_exporter, extra trailing counters are ignored. */
#define SCHED_NCOLS 9

static int sched_line(char *line, batch *b)
{
    uint64_t v[SCHED_NCOLS], idx;
    char *cur = line, *f;
    const char *cpu = coll_field(&cur) + 3;
    if (coll_u64(cpu, &idx))
        return -EINVAL;
    for (size_t n = 0; n < SCHED_NCOLS; n++) {
        f = coll_field(&cur);
        if (!f || coll_u64(f, &v[n]))
            return -EINVAL;
    }
    const char *const *lbl = (const char *const[]){"cpu", cpu, NULL};
    int rc = batch_add(b, "node_schedstat_running_seconds_total", lbl, (double)v[6] / 1e9);
    if (!rc)
        rc = batch_add(b, "node_schedstat_waiting_seconds_total", lbl, (double)v[7] / 1e9);
    if (!rc)
        rc = batch_add(b, "node_schedstat_timeslices_total", lbl, (double)v[8]);
    return rc;
}

int coll_schedstat(const coll_env *env, batch *b)
{
    /* Besides the cpuN lines the file has one line per CPU and scheduling domain level (about
     * 150 to 300 bytes each), so the large buffer holds a host of a few hundred CPUs; a larger
     * one gets -EFBIG rather than a truncated parse. */
    char buf[COLL_BUF_LARGE];
    size_t len;
    int rc = coll_read(env, env->proc, "/schedstat", buf, sizeof buf, &len);
    if (rc == -ENOENT)
        return 0;
    if (rc)
        return rc;
    char *cur = buf, *line;
    while ((line = coll_line(&cur))) {
        /* "version", "timestamp" and "domainN" lines are not exported. */
        if (strncmp(line, "cpu", 3) != 0 || line[3] < '0' || line[3] > '9')
            continue;
        rc = sched_line(line, b);
        if (rc)
            return rc;
    }
    return 0;
}
