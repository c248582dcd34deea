/* entropy: the kernel's random pool from <proc>/sys/kernel/random/{entropy_avail,poolsize}
 * (node_entropy_available_bits, node_entropy_pool_size_bits). */
#include "collector_int.h"

#include <errno.h>

int coll_entropy(const coll_env *env, batch *b)
{
    int rc =
        coll_number_file(env, "/sys/kernel/random/entropy_avail", "node_entropy_available_bits", b);
    if (!rc)
        rc = coll_number_file(env, "/sys/kernel/random/poolsize", "node_entropy_pool_size_bits", b);
    return rc;
}
