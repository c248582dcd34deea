/* entropy: the kernel's random pool from <proc>/sys/kernel/random/{entropy_avail,poolsize}
 * (node_entropy_available_bits, node_entropy_pool_size_bits). */
#include "collector_int.h"

#include <errno.h>

/* Adds metric with the single number in <proc>rel; an absent file adds nothing. */
static int entropy_file(const coll_env *env, const char *rel, const char *metric, batch *b)
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

int coll_entropy(const coll_env *env, batch *b)
{
    int rc =
        entropy_file(env, "/sys/kernel/random/entropy_avail", "node_entropy_available_bits", b);
    if (!rc)
        rc = entropy_file(env, "/sys/kernel/random/poolsize", "node_entropy_pool_size_bits", b);
    return rc;
}
