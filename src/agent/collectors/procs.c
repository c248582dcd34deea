/* procs: per-application CPU, memory, IO, threads and open files, and the top-N processes of
 * each resource every round, from /proc/<pid>/{stat,io} (dashdot_app_*, dashdot_top_process_*).
 *
 * Design (see docs/collectors.md, "Processes"):
 * - A round lists <proc> with getdents64 into a stack buffer, sorts the pids (the kernel lists
 *   them in order already, so this is a check), and merges them with the previous round's
 *   records, which are kept sorted by pid: no hashing per process, and the records of exited
 *   processes simply drop out. Two record arrays are swapped round after round and grow only
 *   when the host has more processes than ever before, so a steady round allocates nothing.
 * - Per process one read of stat, through a descriptor kept open between rounds (pread from
 *   offset 0; up to a quarter of the descriptor limit); kernel threads are recognised once
 *   (PF_KTHREAD) and then skipped without reading anything.
 * - Application counters are sums of per-process deltas from the collector's first round on
 *   (they start at 0): a process's CPU and IO stay in its application after it exits, so the
 *   counters never go down (netdata's apps.plugin carries exited processes the same way).
 *   Pid reuse is detected by the start time in stat.
 * - /proc/<pid>/io only for processes that used CPU in the round (and every PROCS_IO_EVERY
 *   rounds for the others): IO needs CPU, and the cumulative counters lose nothing.
 * - Open descriptors: counted for each process every PROCS_FD_EVERY rounds (staggered by pid),
 *   with one fstatat of /proc/<pid>/fd (its size is the descriptor count since Linux 6.2); on
 *   older kernels and on non-procfs roots the directory is listed instead. */
#include "procs.h"

#include "collector_int.h"

#include "../../lib/hmap.h"
#include "../../lib/log.h"
#include "../../lib/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#define PROCS_PIDS_MAX 65536     /* processes looked at per round; the rest are ignored */
#define PROCS_APPS_MAX 1024      /* applications kept; more go to "other" */
#define PROCS_APP_LINGER 300     /* rounds an application without processes is still reported */
#define PROCS_NAME_MAX 128       /* application name, bytes with the NUL */
#define PROCS_COMM_MAX 64        /* process name, bytes with the NUL (the kernel's is 16) */
#define PROCS_FD_EVERY 10        /* rounds between counts of a process's descriptors */
#define PROCS_IO_EVERY 10        /* rounds between io reads of a process that used no CPU */
#define PROCS_RECHECK_EVERY 30   /* rounds between re-reads of a process's uid or cgroup */
#define PROCS_KTHREAD_RECHECK 64 /* rounds between re-reads of a kernel thread's stat */
#define PROCS_USERS_MAX 256      /* uid -> name cache entries */
#define PROCS_PSS_EVERY 10       /* rounds between smaps_rollup reads of a top process */
#define PROCS_FDS_MAX 8192       /* stat descriptors kept open at most */
#define PROC_SUPER_MAGIC_ 0x9fa0 /* statfs f_type of procfs */
#define PF_KTHREAD_ 0x00200000u  /* stat's flags field: a kernel thread */

enum {
    REC_KTHREAD = 1,   /* a kernel thread: skipped */
    REC_IO_DENIED = 2, /* /proc/<pid>/io refused (another user's process): not read again */
    REC_HAS_IO = 4,    /* rbytes/wbytes are valid */
    REC_RATED = 8,     /* cpu/rd/wr rates are valid this round */
    REC_HAS_PSS = 16,  /* pss_kb is valid */
};

typedef struct procs_rec {
    int pid;
    unsigned flags;
    uint32_t app;   /* index into st->apps */
    uint32_t uid;   /* effective uid (user grouping only) */
    uint64_t start; /* start time, clock ticks after boot: detects pid reuse */
    uint64_t utime, stime, rbytes, wbytes; /* cumulative, as last read */
    uint64_t rss_pages, threads;
    int64_t fds;        /* last count, -1 unknown */
    int statfd;         /* /proc/<pid>/stat kept open between rounds, or -1 */
    double cpu, rd, wr; /* this round: CPU seconds per second, IO bytes per second */
    uint64_t pss_kb;    /* from smaps_rollup (top memory processes only) */
    uint64_t pss_next;  /* round when smaps_rollup is read again (0: when next in the top) */
    char comm[PROCS_COMM_MAX];
} procs_rec;

typedef struct procs_app {
    char name[PROCS_NAME_MAX];
    uint64_t utime, stime, rbytes, wbytes;   /* monotonic sums of member deltas (ticks, bytes) */
    uint64_t rss_pages, threads, procs, fds; /* this round */
    int has_fds;
    int has_io;          /* some member's io file could be read: IO counters are reported */
    uint64_t last_round; /* last round with a process */
    int used;
} procs_app;

typedef struct procs_user {
    uint32_t uid;
    char name[64];
} procs_user;

typedef struct procs_state {
    procs_opts opts;
    double hz, page;
    uint64_t round;     /* calls so far */
    int64_t last_ms;    /* previous round's time (valid when have_prev) */
    double last_uptime; /* previous round's <proc>/uptime, 0 if unknown */
    int have_prev;
    int fd_size_ok; /* -1 not probed, 0 list /proc/<pid>/fd, 1 st_size counts */
    int *pids;
    size_t npids, pids_cap;
    procs_rec *recs, *next;
    size_t nrecs, recs_cap, next_cap;
    procs_app *apps;
    size_t napps, apps_cap;
    hmap app_index; /* name -> index + 1 */
    procs_user users[PROCS_USERS_MAX];
    size_t nusers;
    int warned;             /* a malformed file was logged */
    size_t nfds, fd_budget; /* stat descriptors kept open, and how many may be */
    uint64_t root_hash;     /* of env->proc: kept descriptors belong to that root */
} procs_state;

static procs_opts procs_cfg = {PROCS_GROUP_EXE, PROCS_TOP_DEFAULT};

int procs_parse_group(const char *s, procs_group *out)
{
    if (!strcmp(s, "exe"))
        *out = PROCS_GROUP_EXE;
    else if (!strcmp(s, "user"))
        *out = PROCS_GROUP_USER;
    else if (!strcmp(s, "cgroup"))
        *out = PROCS_GROUP_CGROUP;
    else
        return -EINVAL;
    return 0;
}

void coll_procs_configure(const procs_opts *o)
{
    procs_opts d = {PROCS_GROUP_EXE, PROCS_TOP_DEFAULT};
    if (o)
        d = *o;
    if (d.top < 1)
        d.top = 1;
    if (d.top > PROCS_TOP_MAX)
        d.top = PROCS_TOP_MAX;
    procs_cfg = d;
}

/* Closes the stat descriptor a record keeps, if any. */
static void procs_rec_close(procs_state *st, procs_rec *r)
{
    if (r->statfd >= 0) {
        close(r->statfd);
        r->statfd = -1;
        st->nfds--;
    }
}

void coll_procs_free(void *state)
{
    procs_state *st = state;
    if (!st)
        return;
    for (size_t i = 0; i < st->nrecs; i++)
        procs_rec_close(st, &st->recs[i]);
    mem_free(st->pids);
    mem_free(st->recs);
    mem_free(st->next);
    mem_free(st->apps);
    hmap_free(&st->app_index);
    mem_free(st);
}

/* ---- names ------------------------------------------------------------------------------ */

/* Copies src (n bytes) into dst (cap bytes) as a valid UTF-8 label value: control bytes and
 * bytes of invalid or truncated sequences (the kernel cuts comm at 15 bytes, possibly inside a
 * character) become '?'. An empty result becomes "unknown". */
static void procs_label_copy(char *dst, size_t cap, const char *src, size_t n)
{
    size_t w = 0;
    const unsigned char *s = (const unsigned char *)src;
    for (size_t i = 0; i < n && w + 1 < cap;) {
        unsigned c = s[i];
        size_t len = c < 0x80             ? 1
                     : (c & 0xe0) == 0xc0 ? 2
                     : (c & 0xf0) == 0xe0 ? 3
                     : (c & 0xf8) == 0xf0 ? 4
                                          : 0;
        int ok = len > 0 && i + len <= n && w + len < cap && !(len == 2 && c < 0xc2) &&
                 !(len == 4 && c > 0xf4);
        for (size_t k = 1; ok && k < len; k++)
            ok = (s[i + k] & 0xc0) == 0x80;
        if (ok && len == 1 && (c < 0x20 || c == 0x7f))
            ok = 0;
        if (!ok) {
            dst[w++] = '?';
            i++;
            continue;
        }
        memcpy(dst + w, s + i, len);
        w += len;
        i += len;
    }
    if (w == 0) {
        snprintf(dst, cap, "unknown");
        return;
    }
    dst[w] = '\0';
}

/* Returns the index of application `name`, creating it; applications past the cap, and any
 * the map cannot take for lack of memory (*rc = -ENOMEM), go to "other" (index 0). */
static uint32_t procs_app_get(procs_state *st, const char *name, int *rc)
{
    size_t nl = strlen(name);
    void *v = hmap_get(&st->app_index, name, nl);
    if (v)
        return (uint32_t)((uintptr_t)v - 1);
    if (st->napps >= PROCS_APPS_MAX)
        return 0;
    if (st->napps >= st->apps_cap) {
        /* apps_cap is PROCS_APPS_MAX from the start: never reached. */
        return 0;
    }
    if (hmap_put(&st->app_index, name, nl, (void *)(uintptr_t)(st->napps + 1))) {
        *rc = -ENOMEM;
        return 0;
    }
    procs_app *a = &st->apps[st->napps];
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s", name);
    return (uint32_t)st->napps++;
}

/* Looks uid up in <root>/etc/passwd (cached; a uid without an entry is named by its number,
 * written into tmp when the cache is full). */
static const char *procs_user_name(const coll_env *env, procs_state *st, uint32_t uid, char *tmp,
                                   size_t tmpcap)
{
    for (size_t i = 0; i < st->nusers; i++)
        if (st->users[i].uid == uid)
            return st->users[i].name;
    procs_user *u = st->nusers < PROCS_USERS_MAX ? &st->users[st->nusers++] : NULL;
    char *name = u ? u->name : tmp;
    size_t cap = u ? sizeof u->name : tmpcap;
    if (u)
        u->uid = uid;
    snprintf(name, cap, "%u", uid);
    char buf[COLL_BUF_SMALL * 4];
    size_t len;
    if (!u || coll_read(env, env->root, "/etc/passwd", buf, sizeof buf, &len))
        return name;
    char *cur = buf, *line;
    while ((line = coll_line(&cur))) {
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        char *c3 = c2 ? strchr(c2 + 1, ':') : NULL;
        if (!c3 || c1 == line)
            continue;
        *c3 = '\0';
        uint64_t v;
        if (coll_u64(c2 + 1, &v) || v != uid)
            continue;
        procs_label_copy(name, cap, line, (size_t)(c1 - line));
        break;
    }
    return name;
}

/* ---- per-process files -------------------------------------------------------------------- */

typedef struct stat_fields {
    const char *comm;
    size_t comm_len;
    uint64_t ppid, flags, utime, stime, threads, start, rss;
} stat_fields;

/* Parses /proc/<pid>/stat. The comm field may hold anything, spaces and parentheses included,
 * but the kernel writes it between the first '(' and the last ')': everything after that is
 * blank-separated numbers. Returns 0 or -EINVAL. */
static int procs_parse_stat(char *buf, size_t len, int pid, stat_fields *f)
{
    char *lp = memchr(buf, '(', len);
    char *rp = memrchr(buf, ')', len);
    if (!lp || !rp || rp < lp || lp == buf || lp[-1] != ' ')
        return -EINVAL;
    lp[-1] = '\0';
    uint64_t p;
    if (coll_u64(buf, &p) || p != (uint64_t)pid)
        return -EINVAL;
    f->comm = lp + 1;
    f->comm_len = (size_t)(rp - lp - 1);
    char *cur = rp + 1, *fld;
    coll_trim(cur);
    /* Fields after the comm, counted from 0 (the state). */
    static const struct {
        int idx;
        size_t off;
    } want[] = {
        {1, offsetof(stat_fields, ppid)},     {6, offsetof(stat_fields, flags)},
        {11, offsetof(stat_fields, utime)},   {12, offsetof(stat_fields, stime)},
        {17, offsetof(stat_fields, threads)}, {19, offsetof(stat_fields, start)},
        {21, offsetof(stat_fields, rss)},
    };
    size_t w = 0;
    for (int i = 0; w < sizeof want / sizeof want[0]; i++) {
        if (!(fld = coll_field(&cur)))
            return -EINVAL;
        if (i == 0 && (fld[1] || fld[0] < 'A' || fld[0] > 'z'))
            return -EINVAL;
        if (i != want[w].idx)
            continue;
        /* rss is signed in the kernel's format but never negative for a live process. */
        if (coll_u64(fld, (uint64_t *)(void *)((char *)f + want[w].off)))
            return -EINVAL;
        w++;
    }
    return 0;
}

/* Parses read_bytes and write_bytes from /proc/<pid>/io. Returns 0 or -EINVAL. */
static int procs_parse_io(char *buf, uint64_t *rd, uint64_t *wr)
{
    char *cur = buf, *line;
    int got = 0;
    while ((line = coll_line(&cur))) {
        uint64_t *dst = !strncmp(line, "read_bytes: ", 12)    ? rd
                        : !strncmp(line, "write_bytes: ", 13) ? wr
                                                              : NULL;
        if (!dst)
            continue;
        if (coll_u64(coll_trim(strchr(line, ' ') + 1), dst))
            return -EINVAL;
        got |= dst == rd ? 1 : 2;
    }
    return got == 3 ? 0 : -EINVAL;
}

/* The effective uid from /proc/<pid>/status ("Uid:\treal\teffective\t..."). */
static int procs_read_uid(int dirfd, const char *pidstr, uint32_t *uid)
{
    char rel[64], buf[4096];
    size_t len;
    snprintf(rel, sizeof rel, "%s/status", pidstr);
    int rc = coll_read_at(dirfd, rel, buf, sizeof buf, &len);
    if (rc)
        return rc;
    char *cur = buf, *line;
    while ((line = coll_line(&cur))) {
        if (strncmp(line, "Uid:", 4))
            continue;
        char *c = line + 4;
        char *real = coll_field(&c), *eff = real ? coll_field(&c) : NULL;
        uint64_t v;
        if (!eff || coll_u64(eff, &v) || v > UINT32_MAX)
            return -EINVAL;
        *uid = (uint32_t)v;
        return 0;
    }
    return -EINVAL;
}

/* The first two levels of the process's cgroup path (the unified hierarchy's "0::" line, else
 * systemd's named hierarchy, else the first line) into out, e.g. "/system.slice/ssh.service". */
static int procs_read_cgroup(int dirfd, const char *pidstr, char *out, size_t cap)
{
    char rel[64], buf[4096];
    size_t len;
    snprintf(rel, sizeof rel, "%s/cgroup", pidstr);
    int rc = coll_read_at(dirfd, rel, buf, sizeof buf, &len);
    if (rc)
        return rc;
    char *cur = buf, *line, *best = NULL;
    int best_rank = 0;
    while ((line = coll_line(&cur))) {
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2 || c2[1] != '/')
            continue;
        int rank = !strncmp(line, "0::", 3) ? 3 : !strncmp(c1, ":name=systemd:", 14) ? 2 : 1;
        if (rank > best_rank) {
            best_rank = rank;
            best = c2 + 1;
        }
    }
    if (!best)
        return -EINVAL;
    size_t n = 1;
    for (int level = 0; best[n] && level < 2; level++) {
        while (best[n] && best[n] != '/')
            n++;
        if (level == 0 && best[n] == '/')
            n++;
    }
    while (n > 1 && best[n - 1] == '/')
        n--;
    procs_label_copy(out, cap, best, n);
    return 0;
}

/* Counts the entries of /proc/<pid>/fd. Returns the count or -errno. */
static int64_t procs_count_fds(int dirfd, const char *pidstr, int size_ok)
{
    char rel[64];
    snprintf(rel, sizeof rel, "%s/fd", pidstr);
    if (size_ok) {
        struct stat sb;
        if (fstatat(dirfd, rel, &sb, 0))
            return -errno;
        return sb.st_size > 0 ? (int64_t)sb.st_size : -ENOENT;
    }
    int fd = openat(dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    _Alignas(struct dirent64) char dents[8192];
    int64_t count = 0;
    for (;;) {
        ssize_t n = getdents64(fd, dents, sizeof dents);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0)
                count = -errno;
            break;
        }
        for (ssize_t off = 0; off < n;) {
            struct dirent64 *d = (struct dirent64 *)(void *)(dents + off);
            off += d->d_reclen;
            if (d->d_name[0] != '.')
                count++;
        }
    }
    close(fd);
    return count;
}

/* ---- the round ---------------------------------------------------------------------------- */

static int procs_state_new(procs_state **out)
{
    int rc = 0;
    procs_state *st = mem_calloc(1, sizeof *st);
    if (!st)
        return -ENOMEM;
    hmap_init(&st->app_index);
    st->opts = procs_cfg;
    long hz = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    st->hz = hz > 0 ? (double)hz : 100;
    st->page = page > 0 ? (double)page : 4096;
    st->fd_size_ok = -1;
    /* Kept stat descriptors: a quarter of the descriptor limit, so the rest of the agent
     * (sockets, spool, the collectors' cache) never runs short. */
    struct rlimit rl;
    st->fd_budget = 256;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        st->fd_budget = (size_t)rl.rlim_cur / 4;
    if (st->fd_budget > PROCS_FDS_MAX)
        st->fd_budget = PROCS_FDS_MAX;
    /* "other" is application 0, where processes go when no other can be made. */
    st->apps = mem_calloc(PROCS_APPS_MAX, sizeof *st->apps);
    if (!st->apps) {
        rc = -ENOMEM;
        goto out;
    }
    st->apps_cap = PROCS_APPS_MAX;
    int arc = 0;
    procs_app_get(st, "other", &arc);
    rc = arc;
out:
    if (rc) {
        coll_procs_free(st);
        st = NULL;
    }
    *out = st;
    return rc;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Lists the pid directories of the open <proc> into st->pids, sorted. */
static int procs_list(procs_state *st, int dirfd)
{
    _Alignas(struct dirent64) char dents[32768];
    int sorted = 1;
    st->npids = 0;
    for (;;) {
        ssize_t n = getdents64(dirfd, dents, sizeof dents);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            struct dirent64 *d = (struct dirent64 *)(void *)(dents + off);
            off += d->d_reclen;
            const char *name = d->d_name;
            if (name[0] < '1' || name[0] > '9' || (d->d_type != DT_DIR && d->d_type != DT_UNKNOWN))
                continue;
            uint64_t v;
            if (strlen(name) > 9 || coll_u64(name, &v) || st->npids >= PROCS_PIDS_MAX)
                continue;
            if (mem_grow((void **)&st->pids, &st->pids_cap, st->npids, sizeof *st->pids, 512))
                return -ENOMEM;
            if (st->npids && st->pids[st->npids - 1] > (int)v)
                sorted = 0;
            st->pids[st->npids++] = (int)v;
        }
    }
    if (!sorted)
        qsort(st->pids, st->npids, sizeof *st->pids, cmp_int);
    return 0;
}

/* Reads the system uptime in seconds from <proc>/uptime; 0 if unavailable. */
static double procs_uptime(int dirfd)
{
    char buf[128];
    size_t len;
    if (coll_read_at(dirfd, "uptime", buf, sizeof buf, &len))
        return 0;
    char *cur = buf, *f = coll_field(&cur);
    double v;
    return f && !coll_f64(f, &v) && v > 0 ? v : 0;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Notes a malformed or unreadable per-process file: the round will return -EINVAL, and the
 * first such file of the collector's life is named in the log. */
static void procs_bad(procs_state *st, int *bad, int pid, const char *file, int err)
{
    *bad = 1;
    if (!st->warned)
        log_warn("procs: skipping %s of process %d: %s (later ones are not logged)", file, pid,
                 err ? strerror(-err) : "malformed");
    st->warned = 1;
}

/* Reads /proc/<pid>/stat into buf, through the record's kept descriptor when it has one
 * (pread from 0 makes the kernel regenerate the file without an open and a close: a third of
 * the cost). A descriptor of an exited process fails (ESRCH) and is replaced by opening the
 * path, which then finds the pid's new process if it was reused. New descriptors are kept while
 * the budget allows. Returns 0 or -errno; -EFBIG if the file does not fit. */
static int procs_read_stat(procs_state *st, int dirfd, procs_rec *r, const char *rel, char *buf,
                           size_t cap, size_t *len)
{
    ssize_t n = -1;
    if (r->statfd >= 0) {
        do {
            n = pread(r->statfd, buf, cap - 1, 0);
        } while (n < 0 && errno == EINTR);
        if (n <= 0)
            procs_rec_close(st, r);
    }
    if (n <= 0) {
        if (st->nfds >= st->fd_budget || (r->flags & REC_KTHREAD))
            return coll_read_at(dirfd, rel, buf, cap, len);
        int fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return -errno;
        do {
            n = pread(fd, buf, cap - 1, 0);
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
            int e = -errno;
            close(fd);
            return e;
        }
        r->statfd = fd;
        st->nfds++;
    }
    if ((size_t)n >= cap - 1)
        return -EFBIG; /* a stat line is a few hundred bytes */
    buf[n] = '\0';
    *len = (size_t)n;
    return 0;
}

/* Updates record r (a copy of the previous round's, or zeroed with r->pid set when new) from
 * the process's files. Returns 1 to keep the record, 0 to drop it (the process exited, or its
 * stat is malformed: *bad is set then). When no memory can be had for a new application, *rc
 * becomes -ENOMEM and the process is counted in "other". */
static int procs_update(const coll_env *env, procs_state *st, int dirfd, procs_rec *r, int known,
                        double uptime, double dt, int *bad, int *rc)
{
    char pidstr[16], rel[32], buf[4096];
    size_t len;
    snprintf(pidstr, sizeof pidstr, "%d", r->pid);
    if (known && (r->flags & REC_KTHREAD) &&
        (st->round + (uint64_t)r->pid) % PROCS_KTHREAD_RECHECK != 0)
        return 1;
    snprintf(rel, sizeof rel, "%s/stat", pidstr);
    int e = procs_read_stat(st, dirfd, r, rel, buf, sizeof buf, &len);
    if (e || len == 0) {
        if (e && e != -ENOENT && e != -ESRCH)
            procs_bad(st, bad, r->pid, "stat", e);
        return 0;
    }
    stat_fields f;
    if (procs_parse_stat(buf, len, r->pid, &f)) {
        procs_bad(st, bad, r->pid, "stat", 0);
        return 0;
    }
    if (known && f.start != r->start) {
        /* The pid was reused: a new process (the descriptor, just opened, is its). */
        int pid = r->pid, fd = r->statfd;
        memset(r, 0, sizeof *r);
        r->pid = pid;
        r->statfd = fd;
        known = 0;
    }
    if ((f.flags & PF_KTHREAD_) || r->pid == 2 || f.ppid == 2) {
        procs_rec_close(st, r); /* re-read rarely: not worth a descriptor */
        r->flags = REC_KTHREAD;
        r->start = f.start;
        return 1;
    }
    r->flags &= ~(unsigned)(REC_KTHREAD | REC_RATED);
    /* f.comm points into buf, which the io read below reuses. */
    char comm[PROCS_COMM_MAX];
    procs_label_copy(comm, sizeof comm, f.comm, f.comm_len);
    double age = uptime > 0 ? uptime - (double)f.start / st->hz : 0;
    /* A process seen for the first time: everything it did is new. Its rate is over its
     * lifetime in the first round (as ps shows it), else over the round (it started in it). */
    double span = known ? dt : st->have_prev ? (age > dt ? age : dt) : (age > 1 ? age : 1);
    int rate_ok = known ? dt > 0 : st->have_prev ? dt > 0 : uptime > 0;
    uint64_t du = known ? (f.utime > r->utime ? f.utime - r->utime : 0) : f.utime;
    uint64_t ds = known ? (f.stime > r->stime ? f.stime - r->stime : 0) : f.stime;
    uint64_t drd = 0, dwr = 0;
    /* IO needs CPU: a process that got no tick since the last round has (almost always) done
     * no IO either, and its io file is read only every PROCS_IO_EVERY rounds; whatever it did
     * shows then, the counters lose nothing. This skips most reads on an idle host. */
    int io_due = !known || du + ds > 0 || (st->round + (uint64_t)r->pid) % PROCS_IO_EVERY == 0;
    if (!(r->flags & REC_IO_DENIED) && io_due) {
        uint64_t rd = 0, wr = 0;
        snprintf(rel, sizeof rel, "%s/io", pidstr);
        e = coll_read_at(dirfd, rel, buf, sizeof buf, &len);
        if (e == -EACCES || e == -EPERM) {
            r->flags |= REC_IO_DENIED;
        } else if (!e && !procs_parse_io(buf, &rd, &wr)) {
            int had = known && (r->flags & REC_HAS_IO);
            drd = had ? (rd > r->rbytes ? rd - r->rbytes : 0) : rd;
            dwr = had ? (wr > r->wbytes ? wr - r->wbytes : 0) : wr;
            r->rbytes = rd;
            r->wbytes = wr;
            r->flags |= REC_HAS_IO;
        } else if (!e) {
            procs_bad(st, bad, r->pid, "io", 0); /* the process is kept, without IO */
        }
    }
    /* The application: re-evaluated when the name changes (exec), and for user and cgroup
     * grouping on a new process and every PROCS_RECHECK_EVERY rounds. */
    int renamed = !known || strcmp(comm, r->comm) != 0;
    memcpy(r->comm, comm, sizeof comm);
    int recheck = !known || (st->round + (uint64_t)r->pid) % PROCS_RECHECK_EVERY == 0;
    if (st->opts.group == PROCS_GROUP_EXE && renamed) {
        r->app = procs_app_get(st, comm, rc);
    } else if (st->opts.group == PROCS_GROUP_USER && recheck) {
        uint32_t uid;
        char tmp[16];
        if (procs_read_uid(dirfd, pidstr, &uid) == 0 && (!known || uid != r->uid)) {
            r->uid = uid;
            r->app = procs_app_get(st, procs_user_name(env, st, uid, tmp, sizeof tmp), rc);
        } else if (!known) {
            r->app = procs_app_get(st, "unknown", rc);
        }
    } else if (st->opts.group == PROCS_GROUP_CGROUP && recheck) {
        char cg[PROCS_NAME_MAX];
        if (procs_read_cgroup(dirfd, pidstr, cg, sizeof cg))
            snprintf(cg, sizeof cg, "unknown");
        r->app = procs_app_get(st, cg, rc);
    }
    if (!known || (st->round + (uint64_t)r->pid) % PROCS_FD_EVERY == 0) {
        int64_t n = procs_count_fds(dirfd, pidstr, st->fd_size_ok == 1);
        r->fds = n >= 0 ? n : -1;
    }
    r->start = f.start;
    r->utime = f.utime;
    r->stime = f.stime;
    r->threads = f.threads;
    r->rss_pages = f.rss;
    if (rate_ok && span > 0) {
        r->cpu = (double)(du + ds) / st->hz / span;
        r->rd = (double)drd / span;
        r->wr = (double)dwr / span;
        r->flags |= REC_RATED;
    }
    /* Application counters start at 0 in the collector's first round: adding the lifetime
     * usage of every process alive then would make a restarted agent's counters jump by all
     * of it (rate() would see days of CPU in one step). From then on everything counts. */
    procs_app *a = &st->apps[r->app];
    if (st->have_prev) {
        a->utime = sat_add(a->utime, du);
        a->stime = sat_add(a->stime, ds);
        a->rbytes = sat_add(a->rbytes, drd);
        a->wbytes = sat_add(a->wbytes, dwr);
    }
    if (r->flags & REC_HAS_IO)
        a->has_io = 1;
    return 1;
}

/* Merges this round's pids with the previous records into st->next, then swaps. */
static int procs_merge(const coll_env *env, procs_state *st, int dirfd, int *bad)
{
    int rc = 0;
    double uptime = procs_uptime(dirfd);
    /* The round's length from the kernel's clock: the agent stamps rounds on interval
     * boundaries, which can be far from when they ran (its first round runs at start-up but
     * is stamped on the boundary before). The stamps serve when uptime is unreadable. */
    double dt = !st->have_prev                      ? 0
                : uptime > 0 && st->last_uptime > 0 ? uptime - st->last_uptime
                                                    : (double)(env->now_ms - st->last_ms) / 1000.0;
    st->last_uptime = uptime;
    size_t j = 0, w = 0;
    for (size_t i = 0; i < st->npids; i++) {
        int pid = st->pids[i];
        while (j < st->nrecs && st->recs[j].pid < pid)
            procs_rec_close(st, &st->recs[j++]); /* exited: its usage is in its application */
        procs_rec *r = &st->next[w];
        int known = j < st->nrecs && st->recs[j].pid == pid;
        if (known) {
            *r = st->recs[j++];
        } else {
            memset(r, 0, sizeof *r);
            r->pid = pid;
            r->statfd = -1;
        }
        if (procs_update(env, st, dirfd, r, known, uptime, dt, bad, &rc) > 0)
            w++;
        else
            procs_rec_close(st, r);
    }
    while (j < st->nrecs)
        procs_rec_close(st, &st->recs[j++]);
    procs_rec *t = st->recs;
    st->recs = st->next;
    st->next = t;
    size_t c = st->recs_cap;
    st->recs_cap = st->next_cap;
    st->next_cap = c;
    st->nrecs = w;
    return rc;
}

/* Inserts record index k into top (n entries, at most cap) ordered by value desc, pid asc. */
static void top_insert(const procs_rec *recs, size_t *top, size_t *n, size_t cap, size_t k,
                       double (*val)(const procs_rec *))
{
    double v = val(&recs[k]);
    if (!(v > 0))
        return;
    size_t pos = *n;
    while (pos > 0) {
        double pv = val(&recs[top[pos - 1]]);
        if (pv > v || (pv == v && recs[top[pos - 1]].pid < recs[k].pid))
            break;
        pos--;
    }
    if (pos >= cap)
        return;
    size_t last = *n < cap ? *n : cap - 1;
    memmove(top + pos + 1, top + pos, (last - pos) * sizeof *top);
    top[pos] = k;
    if (*n < cap)
        (*n)++;
}

static double val_cpu(const procs_rec *r)
{
    return r->cpu;
}
static double val_rss(const procs_rec *r)
{
    return (double)r->rss_pages;
}
static double val_rd(const procs_rec *r)
{
    return r->rd;
}
static double val_wr(const procs_rec *r)
{
    return r->wr;
}

static int procs_emit_apps(procs_state *st, batch *b)
{
    int rc = 0;
    for (size_t i = 0; i < st->napps; i++) {
        procs_app *a = &st->apps[i];
        a->rss_pages = a->threads = a->procs = a->fds = 0;
        a->has_fds = 0;
    }
    for (size_t k = 0; k < st->nrecs; k++) {
        const procs_rec *r = &st->recs[k];
        if (r->flags & REC_KTHREAD)
            continue;
        procs_app *a = &st->apps[r->app];
        a->rss_pages += r->rss_pages;
        a->threads += r->threads;
        a->procs++;
        a->used = 1;
        a->last_round = st->round;
        if (r->fds >= 0) {
            a->fds += (uint64_t)r->fds;
            a->has_fds = 1;
        }
    }
    for (size_t i = 0; i < st->napps && !rc; i++) {
        const procs_app *a = &st->apps[i];
        if (!a->used || a->last_round + PROCS_APP_LINGER < st->round)
            continue;
        const char *n = a->name;
        const char *const lu[] = {"app", n, "mode", "user", NULL};
        const char *const ls[] = {"app", n, "mode", "system", NULL};
        const char *const l[] = {"app", n, NULL};
        if ((rc = batch_add(b, "dashdot_app_cpu_seconds_total", lu, (double)a->utime / st->hz)) ||
            (rc = batch_add(b, "dashdot_app_cpu_seconds_total", ls, (double)a->stime / st->hz)) ||
            (rc = batch_add(b, "dashdot_app_memory_rss_bytes", l,
                            (double)a->rss_pages * st->page)) ||
            (a->has_io &&
             ((rc = batch_add(b, "dashdot_app_io_read_bytes_total", l, (double)a->rbytes)) ||
              (rc = batch_add(b, "dashdot_app_io_write_bytes_total", l, (double)a->wbytes)))) ||
            (rc = batch_add(b, "dashdot_app_threads", l, (double)a->threads)) ||
            (rc = batch_add(b, "dashdot_app_processes", l, (double)a->procs)))
            break;
        if (a->has_fds)
            rc = batch_add(b, "dashdot_app_open_fds", l, (double)a->fds);
    }
    return rc;
}

/* Reads the Pss line of /proc/<pid>/smaps_rollup into r (kB) for a process in the top memory
 * list, at most every PROCS_PSS_EVERY rounds: the kernel walks the process's page tables to
 * produce it (about a millisecond per few GB mapped), which only the few largest are worth.
 * Refused (another user's process), absent (kernels before 4.14) or malformed: no PSS. */
static void procs_read_pss(procs_state *st, int dirfd, procs_rec *r)
{
    if (r->pss_next > st->round)
        return;
    r->pss_next = st->round + PROCS_PSS_EVERY;
    r->flags &= ~(unsigned)REC_HAS_PSS;
    char rel[48], buf[4096];
    size_t len;
    snprintf(rel, sizeof rel, "%d/smaps_rollup", r->pid);
    if (coll_read_at(dirfd, rel, buf, sizeof buf, &len))
        return;
    char *cur = buf, *line;
    while ((line = coll_line(&cur))) {
        if (strncmp(line, "Pss:", 4))
            continue;
        char *c = line + 4, *v = coll_field(&c), *unit = v ? coll_field(&c) : NULL;
        uint64_t kb;
        if (unit && !strcmp(unit, "kB") && !coll_field(&c) && !coll_u64(v, &kb)) {
            r->pss_kb = kb;
            r->flags |= REC_HAS_PSS;
        }
        return;
    }
}

static int procs_emit_top(procs_state *st, int dirfd, batch *b)
{
    size_t top[4][PROCS_TOP_MAX], n[4] = {0, 0, 0, 0};
    size_t cap = st->opts.top;
    for (size_t k = 0; k < st->nrecs; k++) {
        const procs_rec *r = &st->recs[k];
        if (r->flags & REC_KTHREAD)
            continue;
        top_insert(st->recs, top[1], &n[1], cap, k, val_rss);
        if (!(r->flags & REC_RATED))
            continue;
        top_insert(st->recs, top[0], &n[0], cap, k, val_cpu);
        top_insert(st->recs, top[2], &n[2], cap, k, val_rd);
        top_insert(st->recs, top[3], &n[3], cap, k, val_wr);
    }
    for (size_t i = 0; i < n[1]; i++)
        procs_read_pss(st, dirfd, &st->recs[top[1][i]]);
    int rc = 0;
    for (int res = 0; res < 4 && !rc; res++) {
        for (size_t i = 0; i < n[res] && !rc; i++) {
            const procs_rec *r = &st->recs[top[res][i]];
            char rank[16], pid[16];
            snprintf(rank, sizeof rank, "%zu", i + 1);
            snprintf(pid, sizeof pid, "%d", r->pid);
            const char *app = st->apps[r->app].name;
            if (res == 0) {
                rc = batch_add(b, "dashdot_top_process_cpu_ratio",
                               (const char *const[]){"rank", rank, "pid", pid, "comm", r->comm,
                                                     "app", app, NULL},
                               r->cpu);
            } else if (res == 1) {
                const char *const l[] = {"rank",  rank,  "pid", pid, "comm",
                                         r->comm, "app", app,   NULL};
                rc = batch_add(b, "dashdot_top_process_memory_rss_bytes", l,
                               (double)r->rss_pages * st->page);
                if (!rc && (r->flags & REC_HAS_PSS))
                    rc = batch_add(b, "dashdot_top_process_memory_pss_bytes", l,
                                   (double)r->pss_kb * 1024);
            } else {
                rc = batch_add(b, "dashdot_top_process_io_bytes_per_second",
                               (const char *const[]){"rank", rank, "pid", pid, "comm", r->comm,
                                                     "app", app, "dir", res == 2 ? "read" : "write",
                                                     NULL},
                               res == 2 ? r->rd : r->wr);
            }
        }
    }
    return rc;
}

/* Probes whether <proc>/<pid>/fd's size counts descriptors (procfs on Linux >= 6.2). */
static int procs_probe_fd_size(int dirfd)
{
    struct statfs sf;
    struct stat sb;
    if (fstatfs(dirfd, &sf) || sf.f_type != PROC_SUPER_MAGIC_)
        return 0;
    return fstatat(dirfd, "self/fd", &sb, 0) == 0 && sb.st_size > 0;
}

int coll_procs(const coll_env *env, batch *b)
{
    /* Without a state slot (a direct call) the state lives for this call only. */
    void *scratch = NULL;
    void **slot = env->state ? env->state : &scratch;
    procs_state *st = *slot;
    int rc = 0, bad = 0;
    int dirfd = open(env->proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        rc = errno == ENOENT ? 0 : -errno;
        goto out;
    }
    if (!st) {
        if ((rc = procs_state_new(&st)))
            goto out;
        *slot = st;
    }
    if (st->fd_size_ok < 0)
        st->fd_size_ok = procs_probe_fd_size(dirfd);
    /* Kept descriptors belong to one root (tests switch roots between rounds). */
    uint64_t rh = hmap_hash(env->proc, strlen(env->proc));
    if (rh != st->root_hash) {
        for (size_t i = 0; i < st->nrecs; i++)
            procs_rec_close(st, &st->recs[i]);
        st->root_hash = rh;
    }
    if ((rc = procs_list(st, dirfd)))
        goto out;
    /* Room for every listed process in the next record array, before anything changes. */
    if (st->npids > st->next_cap) {
        size_t cap = st->next_cap;
        if (mem_grow((void **)&st->next, &cap, st->npids - 1, sizeof *st->next, 256)) {
            rc = -ENOMEM;
            goto out;
        }
        st->next_cap = cap;
    }
    int mrc = procs_merge(env, st, dirfd, &bad);
    st->last_ms = env->now_ms;
    st->have_prev = 1;
    rc = procs_emit_apps(st, b);
    if (!rc)
        rc = procs_emit_top(st, dirfd, b);
    st->round++;
    if (!rc)
        rc = mrc ? mrc : bad ? -EINVAL : 0;
out:
    if (dirfd >= 0)
        close(dirfd);
    coll_procs_free(scratch);
    return rc;
}
