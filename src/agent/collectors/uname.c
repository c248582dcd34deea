/* uname: node_uname_info, the kernel's identity as labels of a constant 1, read from
 * <proc>/sys/kernel so tests and containerised agents see the chosen root's values. */
#include "collector_int.h"

#include <errno.h>
#include <string.h>
#include <sys/utsname.h>

int coll_uname(const coll_env *env, batch *b)
{
    static const char *const files[] = {"/sys/kernel/ostype", "/sys/kernel/osrelease",
                                        "/sys/kernel/version", "/sys/kernel/hostname",
                                        "/sys/kernel/domainname"};
    /* Each is at most 64 bytes in the kernel (__NEW_UTS_LEN); a longer file is malformed. */
    char v[5][256];
    struct utsname u;
    for (size_t i = 0; i < 5; i++) {
        size_t len;
        int rc = coll_read_one(env, env->proc, files[i], v[i], sizeof v[i], &len);
        if (rc == -ENOENT)
            return 0;
        if (rc)
            return rc;
        coll_trim(v[i]);
    }
    /* The machine (architecture) is not under /proc/sys; it is the same in any namespace. */
    if (uname(&u) != 0)
        return -errno;
    /* domainname is exported as read, "(none)" included, like node_exporter. */
    return batch_add(b, "node_uname_info",
                     (const char *const[]){"sysname", v[0], "release", v[1], "version", v[2],
                                           "machine", u.machine, "nodename", v[3], "domainname",
                                           v[4], NULL},
                     1);
}
