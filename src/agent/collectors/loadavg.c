/* loadavg: the 1, 5 and 15 minute load averages from /proc/loadavg (node_load1/5/15). */
#include "collector_int.h"

#include <errno.h>

int coll_loadavg(const coll_env *env, batch *b)
{
    static const char *const names[] = {"node_load1", "node_load5", "node_load15"};
    char buf[256];
    size_t len;
    double v[3];
    int rc = coll_read_one(env, env->proc, "/loadavg", buf, sizeof buf, &len);
    if (rc == -ENOENT)
        return 0;
    if (rc)
        return rc;
    /* "0.01 0.07 0.03 1/82 3704": the first three fields; the rest is not exported. */
    char *cur = buf;
    coll_trim(buf);
    for (int i = 0; i < 3; i++) {
        const char *f = coll_field(&cur);
        if (!f || coll_f64(f, &v[i]) || v[i] < 0)
            return -EINVAL;
    }
    for (int i = 0; i < 3 && !rc; i++)
        rc = batch_add(b, names[i], NULL, v[i]);
    return rc;
}
