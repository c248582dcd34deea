/* conntrack: netfilter's connection tracking table fill from
 * <proc>/sys/net/netfilter/nf_conntrack_{count,max} (node_nf_conntrack_entries,
 * node_nf_conntrack_entries_limit). Without the nf_conntrack module the files are absent and
 * nothing is added. */
#include "collector_int.h"

#include <errno.h>

int coll_conntrack(const coll_env *env, batch *b)
{
    int rc = coll_number_file(env, "/sys/net/netfilter/nf_conntrack_count",
                            "node_nf_conntrack_entries", b);
    if (!rc)
        rc = coll_number_file(env, "/sys/net/netfilter/nf_conntrack_max",
                            "node_nf_conntrack_entries_limit", b);
    return rc;
}
