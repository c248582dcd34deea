/* cpu: per-CPU time from the cpuN lines of /proc/stat, as node_exporter's
 * node_cpu_seconds_total and node_cpu_guest_seconds_total. */
#include "collector_int.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* The columns of a cpuN line, in the kernel's order; guest and guest_nice follow. */
static const char *const cpu_modes[] = {"user",   "nice", "system",  "idle",
                                        "iowait", "irq",  "softirq", "steal"};

#define CPU_NCOLS 10 /* the 8 modes above, then guest and guest_nice */

/* Parses one "cpuN v1 v2 ..." line (already known to start with "cpu" and a digit) and adds its
 * samples. Older kernels have fewer columns (at least 4); newer ones may append more, which are
 * checked but ignored. */
static int cpu_line(char *line, double tck, batch *b)
{
    uint64_t v[CPU_NCOLS], idx;
    size_t n = 0;
    char *cur = line, *f;
    char *name = coll_field(&cur);
    if (coll_u64(name + 3, &idx))
        return -EINVAL;
    const char *cpu = name + 3;
    while ((f = coll_field(&cur))) {
        uint64_t x;
        if (coll_u64(f, &x))
            return -EINVAL;
        if (n < CPU_NCOLS)
            v[n] = x;
        n++;
    }
    if (n < 4)
        return -EINVAL;
    if (n > CPU_NCOLS)
        n = CPU_NCOLS;
    for (size_t i = 0; i < n && i < 8; i++) {
        int rc = batch_add(b, "node_cpu_seconds_total",
                           (const char *const[]){"cpu", cpu, "mode", cpu_modes[i], NULL},
                           (double)v[i] / tck);
        if (rc)
            return rc;
    }
    /* Linux already counts guest time in user (and guest_nice in nice); like node_exporter we
     * export both as read and leave the subtraction to queries. */
    for (size_t i = 8; i < n; i++) {
        int rc =
            batch_add(b, "node_cpu_guest_seconds_total",
                      (const char *const[]){"cpu", cpu, "mode", i == 8 ? "user" : "nice", NULL},
                      (double)v[i] / tck);
        if (rc)
            return rc;
    }
    return 0;
}

int coll_cpu(const coll_env *env, batch *b)
{
    char buf[COLL_BUF_LARGE];
    size_t len;
    int rc = coll_read_one(env, env->proc, "/stat", buf, sizeof buf, &len);
    if (rc == -ENOENT)
        return 0;
    if (rc)
        return rc;
    long hz = sysconf(_SC_CLK_TCK);
    double tck = hz > 0 ? (double)hz : 100.0;
    char *cur = buf, *line;
    while ((line = coll_line(&cur))) {
        if (strncmp(line, "cpu", 3) != 0 || line[3] < '0' || line[3] > '9')
            continue;
        rc = cpu_line(line, tck, b);
        if (rc)
            return rc;
    }
    return 0;
}
