/* uptime ("time" collector): the host's wall clock as node_time_seconds. Uptime is
 * node_time_seconds - node_boot_time_seconds (the latter from the stat collector). */
#include "collector_int.h"

#include <errno.h>
#include <time.h>

int coll_time(const coll_env *env, batch *b)
{
    struct timespec ts;
    (void)env;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return -errno;
    return batch_add(b, "node_time_seconds", NULL, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}
