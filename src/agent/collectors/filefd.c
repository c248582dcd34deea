/* filefd: allocated and maximum file handles from <proc>/sys/fs/file-nr
 * (node_filefd_allocated, node_filefd_maximum). */
#include "collector_int.h"

#include <errno.h>

int coll_filefd(const coll_env *env, batch *b)
{
    char buf[128];
    size_t len;
    uint64_t v[3];
    int rc = coll_read_one(env, env->proc, "/sys/fs/file-nr", buf, sizeof buf, &len);
    if (rc == -ENOENT)
        return 0;
    if (rc)
        return rc;
    /* "allocated<TAB>free (always 0 since 2.6)<TAB>maximum" */
    char *cur = coll_trim(buf);
    for (int i = 0; i < 3; i++) {
        const char *f = coll_field(&cur);
        if (!f || coll_u64(f, &v[i]))
            return -EINVAL;
    }
    if (coll_field(&cur))
        return -EINVAL;
    rc = batch_add(b, "node_filefd_allocated", NULL, (double)v[0]);
    if (!rc)
        rc = batch_add(b, "node_filefd_maximum", NULL, (double)v[2]);
    return rc;
}
