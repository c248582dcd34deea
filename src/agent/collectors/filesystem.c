/* filesystem: size and inode counts of mounted filesystems (statvfs on each mount point listed
 * in /proc/1/mounts), as node_exporter's node_filesystem_* gauges.
 *
 * Mount points and filesystem types are filtered by node_exporter's default excludes, and
 * network filesystems are skipped as well: statvfs on a mount whose server is gone blocks in the
 * kernel (for hard NFS mounts, forever), and a collector runs on the agent's only loop thread,
 * so one dead server would stop every metric of the host. Local filesystems are trusted. */
#include "collector_int.h"

#include <errno.h>
#include <string.h>
#include <sys/statvfs.h>

/* node_exporter's default --collector.filesystem.fs-types-exclude. */
static const char *const fs_types_excluded[] = {
    "autofs",     "binfmt_misc", "bpf",       "cgroup",   "cgroup2",   "configfs",
    "debugfs",    "devpts",      "devtmpfs",  "fusectl",  "hugetlbfs", "iso9660",
    "mqueue",     "nsfs",        "overlay",   "proc",     "procfs",    "pstore",
    "rpc_pipefs", "securityfs",  "selinuxfs", "squashfs", "sysfs",     "tracefs",
};

/* Network filesystems (see the top of the file); glusterfs and ceph clients also mount through
 * FUSE under the fuse.* names. */
static const char *const fs_types_network[] = {
    "nfs",  "nfs4",      "cifs",           "smb3",           "fuse.sshfs",
    "ceph", "glusterfs", "fuse.glusterfs", "fuse.ceph-fuse",
};

/* node_exporter's default --collector.filesystem.mount-points-exclude is
 * ^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/).
 * The first kind matches the directory itself or anything below it; the second needs at least
 * one more character (any but newline, as '.' in Go's regexp) before the end or a '/'. */
static const char *const fs_dirs_excluded[] = {"/dev", "/proc", "/sys"};
static const char *const fs_trees_excluded[] = {"/run/credentials/", "/var/lib/docker/",
                                                "/var/lib/containers/storage/"};

#define FS_SLOTS 4096 /* hash table of mount points already seen */
#define FS_MAX_MOUNTS (FS_SLOTS * 3 / 4)

int coll_fs_mountpoint_excluded(const char *mp)
{
    for (size_t i = 0; i < sizeof fs_dirs_excluded / sizeof fs_dirs_excluded[0]; i++) {
        size_t n = strlen(fs_dirs_excluded[i]);
        if (strncmp(mp, fs_dirs_excluded[i], n) == 0 && (mp[n] == '\0' || mp[n] == '/'))
            return 1;
    }
    for (size_t i = 0; i < sizeof fs_trees_excluded / sizeof fs_trees_excluded[0]; i++) {
        size_t n = strlen(fs_trees_excluded[i]);
        if (strncmp(mp, fs_trees_excluded[i], n) != 0)
            continue;
        const char *p = mp + n;
        for (size_t k = 1; p[k - 1] && p[k - 1] != '\n'; k++) {
            if (p[k] == '\0' || p[k] == '/')
                return 1;
        }
    }
    return 0;
}

int coll_fs_type_excluded(const char *fstype)
{
    for (size_t i = 0; i < sizeof fs_types_excluded / sizeof fs_types_excluded[0]; i++) {
        if (strcmp(fstype, fs_types_excluded[i]) == 0)
            return 1;
    }
    for (size_t i = 0; i < sizeof fs_types_network / sizeof fs_types_network[0]; i++) {
        if (strcmp(fstype, fs_types_network[i]) == 0)
            return 1;
    }
    return 0;
}

/* True if the comma-separated mount options contain "ro". */
static int fs_readonly(const char *opts)
{
    for (const char *p = opts; *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == 'r' && p[1] == 'o')
            return 1;
        p += n + (e != NULL);
    }
    return 0;
}

/* Records mp in the table of seen mount points. Returns 1 if it was already there, 0 if added,
 * -EFBIG if there are more mount points than the table takes. */
static int fs_seen(const char **slots, size_t *count, const char *mp)
{
    uint64_t h = 14695981039346656037ull;
    for (const char *p = mp; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    for (size_t i = (size_t)h % FS_SLOTS;; i = (i + 1) % FS_SLOTS) {
        if (!slots[i]) {
            if (*count >= FS_MAX_MOUNTS)
                return -EFBIG;
            slots[i] = mp;
            (*count)++;
            return 0;
        }
        if (strcmp(slots[i], mp) == 0)
            return 1;
    }
}

static int fs_add(batch *b, const char *metric, const char *dev, const char *type, const char *mp,
                  double v)
{
    return batch_add(
        b, metric, (const char *const[]){"device", dev, "fstype", type, "mountpoint", mp, NULL}, v);
}

/* Handles one line "device mountpoint fstype options dump pass" of a mounts file. */
static int fs_mount(const coll_env *env, char *line, const char **slots, size_t *count, batch *b)
{
    char *cur = line;
    char *dev = coll_field(&cur), *mp = coll_field(&cur), *type = coll_field(&cur);
    char *opts = coll_field(&cur), *dump = coll_field(&cur), *pass = coll_field(&cur);
    uint64_t x;
    if (!dev)
        return 0; /* blank line */
    if (!pass || coll_field(&cur) || coll_u64(dump, &x) || coll_u64(pass, &x) || mp[0] != '/')
        return -EINVAL;
    coll_unescape_octal(dev);
    coll_unescape_octal(mp);
    /* Lines are visited last to first, so the first sighting of a mount point is its last
     * mount, the one that hides the others (and the one statvfs reaches). */
    int rc = fs_seen(slots, count, mp);
    if (rc)
        return rc < 0 ? rc : 0;
    if (coll_fs_mountpoint_excluded(mp) || coll_fs_type_excluded(type))
        return 0;
    char path[COLL_PATH_MAX];
    struct statvfs st;
    if (coll_path(path, sizeof path, env->root, mp) || statvfs(path, &st) != 0)
        return fs_add(b, "node_filesystem_device_error", dev, type, mp, 1);
    /* POSIX counts blocks in f_frsize units (equal to f_bsize on Linux filesystems). */
    double bs = (double)st.f_frsize;
    rc = fs_add(b, "node_filesystem_device_error", dev, type, mp, 0);
    if (!rc)
        rc = fs_add(b, "node_filesystem_readonly", dev, type, mp, fs_readonly(opts));
    if (!rc)
        rc = fs_add(b, "node_filesystem_size_bytes", dev, type, mp, (double)st.f_blocks * bs);
    if (!rc)
        rc = fs_add(b, "node_filesystem_free_bytes", dev, type, mp, (double)st.f_bfree * bs);
    if (!rc)
        rc = fs_add(b, "node_filesystem_avail_bytes", dev, type, mp, (double)st.f_bavail * bs);
    if (!rc)
        rc = fs_add(b, "node_filesystem_files", dev, type, mp, (double)st.f_files);
    if (!rc)
        rc = fs_add(b, "node_filesystem_files_free", dev, type, mp, (double)st.f_ffree);
    return rc;
}

int coll_filesystem(const coll_env *env, batch *b)
{
    char buf[COLL_BUF_LARGE];
    const char *slots[FS_SLOTS] = {0};
    size_t len, count = 0;
    /* PID 1's view is the host's even when the agent runs in its own mount namespace
     * (containerised with the host's /proc); without access to it, our own view. */
    int rc = coll_read(env, env->proc, "/1/mounts", buf, sizeof buf, &len);
    if (rc == -ENOENT || rc == -EACCES)
        rc = coll_read(env, env->proc, "/mounts", buf, sizeof buf, &len);
    if (rc == -ENOENT)
        return 0;
    if (rc)
        return rc;
    /* Walk the lines backwards so that duplicates keep the last mount (see fs_mount). */
    char *lo = buf, *hi = buf + len;
    while (!rc && hi > lo) {
        char *s = hi;
        while (s > lo && s[-1] != '\n')
            s--;
        *hi = '\0'; /* the newline ending this line, or the buffer's NUL */
        char *line = s;
        hi = s > lo ? s - 1 : lo;
        rc = fs_mount(env, line, slots, &count, b);
    }
    return rc;
}
