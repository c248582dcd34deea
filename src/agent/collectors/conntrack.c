/* conntrack: netfilter's connection tracking table fill from
 * <proc>/sys/net/netfilter/nf_conntrack_{count,max} (node_nf_conntrack_entries,
 * node_nf_conntrack_entries_limit). Without the nf_conntrack module the files are absent and
 * nothing is added. */
#include "collector_int.h"

#include <errno.h>

/* Adds metric with the single number in <proc>rel; an absent file adds nothing. */
static int conntrack_file(const coll_env *env, const char *rel, const char *metric, batch *b)
{
    char buf[64];
    size_t len;
    uint64_t v;
    int rc = coll_read_one(env, env->proc, rel, buf, sizeof buf, &len);
    if (rc == -ENOENT)
        return 0;
    if (rc)
        return rc;
    if (coll_u64(coll_trim(buf), &v))
        return -EINVAL;
    return batch_add(b, metric, NULL, (double)v);
}

int coll_conntrack(const coll_env *env, batch *b)
{
    int rc = conntrack_file(env, "/sys/net/netfilter/nf_conntrack_count",
                            "node_nf_conntrack_entries", b);
    if (!rc)
        rc = conntrack_file(env, "/sys/net/netfilter/nf_conntrack_max",
                            "node_nf_conntrack_entries_limit", b);
    return rc;
}
