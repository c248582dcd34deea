/* processes: counts of processes by state, threads and pids from a scan of /proc/<pid>/stat,
 * plus the kernel's limits, as node_exporter's node_processes_* gauges.
 *
 * The scan costs one openat/read/close per process. The directory is listed with getdents64
 * into a stack buffer rather than opendir, which would heap-allocate its own buffer on every
 * round outside lib/mem. Processes that exit during the scan are skipped silently. */
#include "collector_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Field 20 of /proc/<pid>/stat is num_threads; field 3, the state, follows the comm field. */
#define PROC_THREADS_AFTER_STATE 17

typedef struct proc_counts {
    uint64_t by_state[128]; /* indexed by the state letter */
    uint64_t pids, threads;
} proc_counts;

/* Parses one /proc/<pid>/stat ("pid (comm) S ppid ... num_threads ..."). The comm field may
 * hold anything, spaces and parentheses included, but the kernel writes it within the last
 * ')' of the line: everything after that is numeric. */
static int proc_stat(char *buf, size_t len, proc_counts *pc)
{
    char *rp = memrchr(buf, ')', len);
    if (!rp || !memchr(buf, '(', (size_t)(rp - buf)))
        return -EINVAL;
    char *cur = rp + 1, *f;
    coll_trim(cur);
    const char *state = coll_field(&cur);
    if (!state || state[1] || (unsigned char)state[0] >= 128 || state[0] < 'A' ||
        (state[0] > 'Z' && state[0] < 'a') || state[0] > 'z')
        return -EINVAL;
    for (int i = 1; i < PROC_THREADS_AFTER_STATE; i++) {
        if (!coll_field(&cur))
            return -EINVAL;
    }
    uint64_t threads;
    f = coll_field(&cur);
    if (!f || coll_u64(f, &threads))
        return -EINVAL;
    pc->by_state[(unsigned char)state[0]]++;
    pc->pids++;
    pc->threads += threads;
    return 0;
}

/* Scans the pid directories under the open /proc directory fd into pc. */
static int proc_scan(int fd, proc_counts *pc)
{
    _Alignas(struct dirent64) char dents[32768];
    char stat[2048], rel[64];
    for (;;) {
        ssize_t n = getdents64(fd, dents, sizeof dents);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return 0;
        for (ssize_t off = 0; off < n;) {
            struct dirent64 *d = (struct dirent64 *)(void *)(dents + off);
            off += d->d_reclen;
            const char *name = d->d_name;
            size_t nl = strlen(name);
            if (name[0] < '1' || name[0] > '9' || strspn(name, "0123456789") != nl ||
                nl + sizeof "/stat" > sizeof rel ||
                (d->d_type != DT_DIR && d->d_type != DT_UNKNOWN))
                continue;
            memcpy(rel, name, nl);
            memcpy(rel + nl, "/stat", sizeof "/stat");
            size_t len;
            int rc = coll_read_at(fd, rel, stat, sizeof stat, &len);
            if (rc == -ENOENT || rc == -ESRCH || (rc == 0 && len == 0))
                continue; /* the process exited meanwhile */
            if (!rc)
                rc = proc_stat(stat, len, pc);
            if (rc)
                return rc;
        }
    }
}

int coll_processes(const coll_env *env, batch *b)
{
    proc_counts pc;
    memset(&pc, 0, sizeof pc);
    int rc = 0, fd = open(env->proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        rc = errno == ENOENT ? 0 : -errno;
        goto out;
    }
    rc = proc_scan(fd, &pc);
    if (rc)
        goto out;
    for (int s = 0; s < 128 && !rc; s++) {
        if (!pc.by_state[s])
            continue;
        const char state[2] = {(char)s, '\0'};
        rc = batch_add(b, "node_processes_state", (const char *const[]){"state", state, NULL},
                       (double)pc.by_state[s]);
    }
    if (!rc)
        rc = batch_add(b, "node_processes_threads", NULL, (double)pc.threads);
    if (!rc)
        rc = batch_add(b, "node_processes_pids", NULL, (double)pc.pids);
    if (!rc)
        rc = coll_number_file(env, "/sys/kernel/pid_max", "node_processes_max_processes", b);
    if (!rc)
        rc = coll_number_file(env, "/sys/kernel/threads-max", "node_processes_max_threads", b);
out:
    if (fd >= 0)
        close(fd);
    return rc;
}
