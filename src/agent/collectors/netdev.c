/* netdev: per-interface traffic counters from /proc/net/dev (node_network_receive_* and
 * node_network_transmit_*), plus node_network_up and node_network_mtu_bytes from sysfs. */
#include "collector_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The 16 columns after "name:", receive then transmit, in the kernel's order. */
static const char *const net_cols[] = {
    "node_network_receive_bytes_total",      "node_network_receive_packets_total",
    "node_network_receive_errs_total",       "node_network_receive_drop_total",
    "node_network_receive_fifo_total",       "node_network_receive_frame_total",
    "node_network_receive_compressed_total", "node_network_receive_multicast_total",
    "node_network_transmit_bytes_total",     "node_network_transmit_packets_total",
    "node_network_transmit_errs_total",      "node_network_transmit_drop_total",
    "node_network_transmit_fifo_total",      "node_network_transmit_colls_total",
    "node_network_transmit_carrier_total",   "node_network_transmit_compressed_total",
};

#define NET_NCOLS (sizeof net_cols / sizeof net_cols[0])

/* Reads <sys>/class/net/<dev>/<attr> into buf. Returns 0 or the read error. */
static int net_attr(const coll_env *env, const char *dev, const char *attr, char *buf, size_t cap)
{
    char rel[COLL_PATH_MAX];
    size_t len;
    int n = snprintf(rel, sizeof rel, "/class/net/%s/%s", dev, attr);
    if (n < 0 || (size_t)n >= sizeof rel)
        return -ENAMETOOLONG;
    int rc = coll_read_one(env, env->sys, rel, buf, cap, &len);
    if (!rc)
        coll_trim(buf);
    return rc;
}

/* Adds node_network_up and node_network_mtu_bytes for dev. An attribute that cannot be read
 * (no sysfs, as in some containers, or the device just went away) is left out. */
static int net_sysfs(const coll_env *env, const char *dev, batch *b)
{
    const char *const lbl[] = {"device", dev, NULL};
    char val[64];
    int rc = 0;
    if (net_attr(env, dev, "operstate", val, sizeof val) == 0)
        rc = batch_add(b, "node_network_up", lbl, strcmp(val, "up") == 0 ? 1 : 0);
    if (!rc && net_attr(env, dev, "mtu", val, sizeof val) == 0) {
        uint64_t mtu;
        if (coll_u64(val, &mtu))
            return -EINVAL;
        rc = batch_add(b, "node_network_mtu_bytes", lbl, (double)mtu);
    }
    return rc;
}

static int net_line(const coll_env *env, char *line, batch *b)
{
    char *colon = strchr(line, ':'), *f;
    uint64_t v[NET_NCOLS];
    size_t n = 0;
    if (!colon)
        return *line ? -EINVAL : 0;
    *colon = '\0';
    char *cur = line;
    char *dev = coll_field(&cur);
    /* The name becomes part of a sysfs path: refuse anything a kernel would not name a device. */
    if (!dev || coll_field(&cur) || strchr(dev, '/') || strcmp(dev, ".") == 0 ||
        strcmp(dev, "..") == 0)
        return -EINVAL;
    cur = colon + 1;
    while ((f = coll_field(&cur))) {
        if (n == NET_NCOLS || coll_u64(f, &v[n]))
            return -EINVAL;
        n++;
    }
    if (n != NET_NCOLS)
        return -EINVAL;
    for (size_t i = 0; i < NET_NCOLS; i++) {
        int rc =
            batch_add(b, net_cols[i], (const char *const[]){"device", dev, NULL}, (double)v[i]);
        if (rc)
            return rc;
    }
    return net_sysfs(env, dev, b);
}

int coll_netdev(const coll_env *env, batch *b)
{
    char buf[COLL_BUF_LARGE];
    size_t len;
    int rc = coll_read(env, env->proc, "/net/dev", buf, sizeof buf, &len);
    if (rc == -ENOENT)
        return 0;
    if (rc)
        return rc;
    char *cur = buf, *line;
    /* Two header lines ("Inter-|   Receive ..." and " face |bytes ..."). */
    for (int i = 0; i < 2; i++) {
        line = coll_line(&cur);
        if (!line || !strchr(line, '|'))
            return -EINVAL;
    }
    while (!rc && (line = coll_line(&cur)))
        rc = net_line(env, line, b);
    return rc;
}
