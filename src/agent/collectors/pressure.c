/* pressure: pressure stall information from /proc/pressure/{cpu,memory,io}, as node_exporter's
 * node_pressure_*_seconds_total counters (the kernel's "total" is in microseconds). */
#include "collector_int.h"

#include <errno.h>
#include <string.h>

static const struct {
    const char *rel;
    const char *some; /* metric for the "some" line */
    const char *full; /* metric for the "full" line, NULL if not exported */
} pressure_files[] = {
    /* The cpu file has a "full" line since Linux 5.13, always zero at the system level;
     * node_exporter's cpu waiting metric uses only "some". */
    {"/pressure/cpu", "node_pressure_cpu_waiting_seconds_total", NULL},
    {"/pressure/memory", "node_pressure_memory_waiting_seconds_total",
     "node_pressure_memory_stalled_seconds_total"},
    {"/pressure/io", "node_pressure_io_waiting_seconds_total",
     "node_pressure_io_stalled_seconds_total"},
};

/* Parses "some avg10=0.00 avg60=0.00 avg300=0.00 total=123" lines and adds the totals. */
static int pressure_parse(char *buf, const char *some, const char *full, batch *b)
{
    char *cur = buf, *line;
    while ((line = coll_line(&cur))) {
        char *p = line, *f;
        const char *kind = coll_field(&p);
        if (!kind)
            continue;
        const char *metric;
        if (strcmp(kind, "some") == 0)
            metric = some;
        else if (strcmp(kind, "full") == 0)
            metric = full;
        else
            return -EINVAL;
        int have_total = 0;
        uint64_t total = 0;
        while ((f = coll_field(&p))) {
            char *eq = strchr(f, '=');
            if (!eq)
                return -EINVAL;
            if (strncmp(f, "total=", 6) == 0) {
                if (coll_u64(eq + 1, &total))
                    return -EINVAL;
                have_total = 1;
            }
        }
        if (!have_total)
            return -EINVAL;
        if (metric) {
            int rc = batch_add(b, metric, NULL, (double)total / 1e6);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int coll_pressure(const coll_env *env, batch *b)
{
    char buf[1024];
    for (size_t i = 0; i < sizeof pressure_files / sizeof pressure_files[0]; i++) {
        size_t len;
        int rc = coll_read_one(env, env->proc, pressure_files[i].rel, buf, sizeof buf, &len);
        /* Absent on kernels without CONFIG_PSI; EOPNOTSUPP when booted with psi=0. */
        if (rc == -ENOENT || rc == -EOPNOTSUPP)
            continue;
        if (!rc)
            rc = pressure_parse(buf, pressure_files[i].some, pressure_files[i].full, b);
        if (rc)
            return rc;
    }
    return 0;
}
