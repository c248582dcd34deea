/* diskstats: block device I/O counters from /proc/diskstats, as node_exporter's node_disk_*
 * family, skipping partitions and virtual devices by node_exporter's default pattern. */
#include "collector_int.h"

#include <errno.h>
#include <string.h>

/* The columns after "major minor name", in the kernel's order, with the factor that turns them
 * into node_exporter's units: sectors are always 512 bytes in this file, times are in ms.
 * Linux 4.18 added the four discard columns and 5.5 the two flush columns; they are exported
 * only when present. The discarded sectors stay sectors, as node_exporter has them. */
static const struct {
    const char *metric;
    double mul, div; /* value = column * mul / div; dividing keeps ms to s exact */
} disk_cols[] = {
    {"node_disk_reads_completed_total", 1, 1},
    {"node_disk_reads_merged_total", 1, 1},
    {"node_disk_read_bytes_total", 512, 1},
    {"node_disk_read_time_seconds_total", 1, 1000},
    {"node_disk_writes_completed_total", 1, 1},
    {"node_disk_writes_merged_total", 1, 1},
    {"node_disk_written_bytes_total", 512, 1},
    {"node_disk_write_time_seconds_total", 1, 1000},
    {"node_disk_io_now", 1, 1},
    {"node_disk_io_time_seconds_total", 1, 1000},
    {"node_disk_io_time_weighted_seconds_total", 1, 1000},
    {"node_disk_discards_completed_total", 1, 1},
    {"node_disk_discards_merged_total", 1, 1},
    {"node_disk_discarded_sectors_total", 1, 1},
    {"node_disk_discard_time_seconds_total", 1, 1000},
    {"node_disk_flush_requests_total", 1, 1},
    {"node_disk_flush_requests_time_seconds_total", 1, 1000},
};

#define DISK_NCOLS (sizeof disk_cols / sizeof disk_cols[0])

/* Returns the end of the run of digits at s, or NULL if s does not start with a digit. */
static const char *disk_digits(const char *s)
{
    if (*s < '0' || *s > '9')
        return NULL;
    while (*s >= '0' && *s <= '9')
        s++;
    return s;
}

/* True if s is one or more digits and nothing else (the pattern's trailing \d+$). */
static int disk_all_digits(const char *s)
{
    const char *e = disk_digits(s);
    return e && !*e;
}

int coll_disk_excluded(const char *d)
{
    /* Each alternative of ^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$ starts with a
     * different letter, so the prefix picks the only alternative that can match. */
    if (strncmp(d, "ram", 3) == 0 || strncmp(d, "fd", 2) == 0)
        return disk_all_digits(d + (d[0] == 'r' ? 3 : 2));
    if (strncmp(d, "zram", 4) == 0 || strncmp(d, "loop", 4) == 0)
        return disk_all_digits(d + 4);
    const char *p = NULL;
    if (strncmp(d, "xvd", 3) == 0)
        p = d + 3;
    else if ((d[0] == 'h' || d[0] == 's' || d[0] == 'v') && d[1] == 'd')
        p = d + 2;
    if (p)
        return *p >= 'a' && *p <= 'z' && disk_all_digits(p + 1);
    if (strncmp(d, "nvme", 4) == 0) {
        p = disk_digits(d + 4);
        if (!p || *p != 'n')
            return 0;
        p = disk_digits(p + 1);
        return p && *p == 'p' && disk_all_digits(p + 1);
    }
    return 0;
}

static int disk_line(char *line, batch *b)
{
    char *cur = line, *f;
    const char *major = coll_field(&cur), *minor = coll_field(&cur);
    const char *dev = coll_field(&cur);
    uint64_t v[DISK_NCOLS], x;
    size_t n = 0;
    if (!major)
        return 0; /* blank line */
    if (!dev || coll_u64(major, &x) || coll_u64(minor, &x))
        return -EINVAL;
    if (coll_disk_excluded(dev))
        return 0;
    while ((f = coll_field(&cur))) {
        if (coll_u64(f, &x))
            return -EINVAL;
        if (n < DISK_NCOLS)
            v[n] = x;
        n++; /* columns a future kernel appends are checked but not exported */
    }
    if (n < 11)
        return -EINVAL;
    size_t use = n >= 17 ? 17 : n >= 15 ? 15 : 11;
    for (size_t i = 0; i < use; i++) {
        int rc = batch_add(b, disk_cols[i].metric, (const char *const[]){"device", dev, NULL},
                           (double)v[i] * disk_cols[i].mul / disk_cols[i].div);
        if (rc)
            return rc;
    }
    return 0;
}

int coll_diskstats(const coll_env *env, batch *b)
{
    char buf[COLL_BUF_LARGE];
    size_t len;
    int rc = coll_read(env, env->proc, "/diskstats", buf, sizeof buf, &len);
    if (rc == -ENOENT)
        return 0;
    char *cur = buf, *line;
    while (!rc && (line = coll_line(&cur)))
        rc = disk_line(line, b);
    return rc;
}
