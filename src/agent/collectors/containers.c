/* containers: per-container CPU, memory, block IO, task, pressure and network figures from
 * cgroups (v2, or v1 where the host still uses it), under cAdvisor's metric names, named after
 * the container engines' answers (engines.c).
 *
 * Cost: the cgroup hierarchy is walked only every CONT_SCAN_MS (and when a container's files
 * vanish); between walks a round is one pread per file of each container, on descriptors kept
 * open across rounds (within a budget derived from RLIMIT_NOFILE; past it files are opened and
 * closed each round). Files are parsed in place in stack buffers: a steady round allocates
 * nothing. See docs/collectors.md, "Containers". */
#include "containers.h"
#include "collector_int.h"

#include "../../lib/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define CONT_SCAN_MS 10000
#define CONT_RESCAN_MIN_MS 2000
#define CONT_MAX_CGROUPS 4096 /* directories looked at per walk */
#define CONT_MAX_DEPTH 8
#define CONT_MAX 2048    /* containers followed */
#define CONT_NF 11       /* cgroup files per container (either version) */
#define CONT_NET CONT_NF /* the descriptor slot of <proc>/<pid>/net/dev */
#define CONT_BUF 8192
#define CONT_NETBUF 32768

/* cgroup v2 files, relative to the container's cgroup directory. */
enum {
    V2_CPU,
    V2_MEMCUR,
    V2_MEMMAX,
    V2_MEMSTAT,
    V2_MEMEV,
    V2_IO,
    V2_PIDS,
    V2_PIDSMAX,
    V2_PCPU,
    V2_PMEM,
    V2_PIO
};
/* cgroup v1 files, each under its controller's hierarchy. */
enum {
    V1_USAGE,
    V1_ACCTSTAT,
    V1_CPUSTAT,
    V1_MEMUSE,
    V1_MEMLIM,
    V1_MEMSTAT,
    V1_OOM,
    V1_IOB,
    V1_IOS,
    V1_PIDS,
    V1_PIDSMAX
};

typedef struct cfile {
    const char *ctrl; /* "" on v2, "/memory" etc. on v1 */
    const char *name;
} cfile;

static const cfile v2_files[CONT_NF] = {
    {"", "cpu.stat"},      {"", "memory.current"},  {"", "memory.max"},   {"", "memory.stat"},
    {"", "memory.events"}, {"", "io.stat"},         {"", "pids.current"}, {"", "pids.max"},
    {"", "cpu.pressure"},  {"", "memory.pressure"}, {"", "io.pressure"},
};

static const cfile v1_files[CONT_NF] = {
    {"/cpuacct", "cpuacct.usage"},
    {"/cpuacct", "cpuacct.stat"},
    {"/cpu", "cpu.stat"},
    {"/memory", "memory.usage_in_bytes"},
    {"/memory", "memory.limit_in_bytes"},
    {"/memory", "memory.stat"},
    {"/memory", "memory.oom_control"},
    {"/blkio", "blkio.throttle.io_service_bytes"},
    {"/blkio", "blkio.throttle.io_serviced"},
    {"/pids", "pids.current"},
    {"/pids", "pids.max"},
};

typedef struct cont {
    char id[65]; /* the 64-hex container id (or an lxc container's name) */
    char *cg;    /* cgroup path below the hierarchy root, "/system.slice/docker-<id>.scope" */
    int fd[CONT_NF + 1];
    int pid; /* a member process in the container's own network namespace, 0: none */
    int seen;
    /* The memory and task limits change only when someone edits the container: read at each
     * walk, not every round. Bit 0: limit[0] (memory) known, bit 1: limit[1] (tasks). */
    uint64_t limit[2];
    unsigned have_limit;
} cont;

typedef struct cstate {
    int version; /* 0: no cgroups found, 1, 2 */
    const cfile *files;
    cont *v;
    size_t n, cap;
    int scanned, force_scan;
    int limits_due; /* this round walked the hierarchy: read the limits again */
    int64_t last_scan;
    size_t held, budget; /* descriptors kept open and how many may be */
    engines *eng;
    int eng_err; /* engines_new failed with this code */
    char hostns[64];
} cstate;

static engines_opts cont_opts; /* set by coll_containers_configure (the agent's options) */

void coll_containers_configure(const engines_opts *o)
{
    if (o)
        cont_opts = *o;
    else
        memset(&cont_opts, 0, sizeof cont_opts);
}

static void cont_close(cstate *st, cont *c)
{
    for (size_t i = 0; i <= CONT_NF; i++) {
        if (c->fd[i] >= 0) {
            close(c->fd[i]);
            st->held--;
        }
        c->fd[i] = -1;
    }
    mem_free(c->cg);
    c->cg = NULL;
}

void coll_containers_free(void *state)
{
    cstate *st = state;
    if (!st)
        return;
    for (size_t i = 0; i < st->n; i++)
        cont_close(st, &st->v[i]);
    mem_free(st->v);
    engines_free(st->eng);
    mem_free(st);
}

static int state_new(const coll_env *env, cstate **out)
{
    char path[COLL_PATH_MAX];
    struct rlimit rl;
    cstate *st = mem_calloc(1, sizeof *st);
    *out = NULL;
    if (!st)
        return -ENOMEM;
    /* Keep at most half the descriptors the process may open (less 256 for everything else),
     * after raising the soft limit towards the hard one: the agent uses epoll and poll, never
     * select, so descriptors above 1024 are safe. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rlim_t want = rl.rlim_max < 16384 ? rl.rlim_max : 16384;
        if (rl.rlim_cur < want) {
            rl.rlim_cur = want;
            if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
                getrlimit(RLIMIT_NOFILE, &rl);
        }
        st->budget = rl.rlim_cur > 256 ? (size_t)(rl.rlim_cur - 256) / 2 : 0;
    }
    if (coll_path(path, sizeof path, env->sys, "/fs/cgroup/cgroup.controllers") == 0 &&
        access(path, F_OK) == 0) {
        st->version = 2;
        st->files = v2_files;
    } else if (coll_path(path, sizeof path, env->sys, "/fs/cgroup/memory") == 0 &&
               access(path, F_OK) == 0) {
        st->version = 1;
        st->files = v1_files;
    }
    *out = st;
    return 0;
}

/* ---- discovery ---------------------------------------------------------------------------- */

static int is_hex64(const char *s, size_t n)
{
    if (n != 64)
        return 0;
    for (size_t i = 0; i < 64; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    }
    return 1;
}

/* Decides whether the cgroup directory `name` (child of `parent`) is a container's: Docker's
 * docker-<id>.scope (systemd driver) or docker/<id> (cgroupfs driver), podman's
 * libpod-<id>.scope, containerd's cri-containerd-<id>.scope, CRI-O's crio-<id>.scope, a bare
 * <id> (kubepods and other cgroupfs layouts), LXC's lxc.payload.<name> or lxc/<name>.
 * Returns 1 and the id, else 0. */
int coll_containers_match(const char *name, const char *parent, char id[65])
{
    static const char *const prefixes[] = {"docker-", "libpod-", "cri-containerd-", "crio-", ""};
    size_t n = strlen(name);
    if (n > 6 && strcmp(name + n - 6, ".scope") == 0)
        n -= 6;
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t pl = strlen(prefixes[i]);
        if (n == pl + 64 && strncmp(name, prefixes[i], pl) == 0 && is_hex64(name + pl, 64)) {
            /* A bare id is a container only as a whole name, not a .scope. */
            if (!pl && n != strlen(name))
                return 0;
            memcpy(id, name + pl, 64);
            id[64] = '\0';
            return 1;
        }
    }
    const char *lxc = NULL;
    if (strncmp(name, "lxc.payload.", 12) == 0)
        lxc = name + 12;
    else if (strcmp(parent, "lxc") == 0)
        lxc = name;
    if (lxc && *lxc && strlen(lxc) <= 64) {
        memcpy(id, lxc, strlen(lxc) + 1);
        return 1;
    }
    return 0;
}

static cont *find(cstate *st, const char *cg)
{
    for (size_t i = 0; i < st->n; i++) {
        if (strcmp(st->v[i].cg, cg) == 0)
            return &st->v[i];
    }
    return NULL;
}

static int add_cont(cstate *st, const char *cg, const char *id)
{
    cont *c = find(st, cg);
    if (c) {
        c->seen = 1;
        return 0;
    }
    if (st->n == CONT_MAX)
        return -E2BIG;
    if (mem_grow((void **)&st->v, &st->cap, st->n, sizeof *st->v, 16))
        return -ENOMEM;
    c = &st->v[st->n];
    memset(c, 0, sizeof *c);
    if (!(c->cg = mem_strdup(cg)))
        return -ENOMEM;
    for (size_t i = 0; i <= CONT_NF; i++)
        c->fd[i] = -1;
    memcpy(c->id, id, strlen(id) + 1);
    c->seen = 1;
    st->n++;
    return 0;
}

/* Walks the directory path (rootlen: length of the hierarchy root within it) for container
 * cgroups; *count bounds the directories looked at. */
static int walk(cstate *st, char *path, size_t rootlen, int depth, size_t *count)
{
    _Alignas(struct dirent64) char dents[8192];
    char id[65];
    int rc = 0;
    size_t plen = strlen(path);
    const char *slash = strrchr(path + rootlen, '/');
    char parent[256];
    /* A copy: the children's names are appended to path below. */
    snprintf(parent, sizeof parent, "%s", slash ? slash + 1 : "");
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    for (;;) {
        ssize_t n = getdents64(fd, dents, sizeof dents);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            break;
        }
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n && !rc;) {
            struct dirent64 *d = (struct dirent64 *)(dents + off);
            off += d->d_reclen;
            if (d->d_type != DT_DIR || d->d_name[0] == '.')
                continue;
            if (++*count > CONT_MAX_CGROUPS) {
                rc = -E2BIG;
                break;
            }
            size_t nl = strlen(d->d_name);
            if (plen + 1 + nl + 1 > COLL_PATH_MAX)
                continue;
            path[plen] = '/';
            memcpy(path + plen + 1, d->d_name, nl + 1);
            if (coll_containers_match(d->d_name, parent, id))
                rc = add_cont(st, path + rootlen, id);
            else if (depth < CONT_MAX_DEPTH)
                rc = walk(st, path, rootlen, depth + 1, count);
            path[plen] = '\0';
        }
        if (rc)
            break;
    }
    close(fd);
    return rc;
}

/* Reads a symlink under the proc root into dst. Returns 0 or -errno. */
static int read_link(const coll_env *env, const char *rel, char *dst, size_t cap)
{
    char path[COLL_PATH_MAX];
    int rc = coll_path(path, sizeof path, env->proc, rel);
    if (rc)
        return rc;
    ssize_t n = readlink(path, dst, cap - 1);
    if (n < 0)
        return -errno;
    dst[n] = '\0';
    return 0;
}

/* Returns the first pid in the cgroup.procs file <sys>/fs/cgroup<dir><cg><sub>/cgroup.procs,
 * or 0 (none, unreadable). */
static int first_pid(const coll_env *env, const char *dir, const char *cg, const char *sub)
{
    char path[COLL_PATH_MAX], buf[64];
    int n = snprintf(path, sizeof path, "%s/fs/cgroup%s%s%s/cgroup.procs", env->sys, dir, cg, sub);
    uint64_t v;
    if (n < 0 || (size_t)n >= sizeof path)
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    /* Only the first line matters: a short read of the file is enough. */
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0)
        return 0;
    buf[r] = '\0';
    char *cur = buf;
    char *line = coll_line(&cur);
    return line && coll_u64(line, &v) == 0 && v > 0 && v < (1u << 30) ? (int)v : 0;
}

/* Picks a process of container c whose network namespace is not the host's, for its network
 * counters; c->pid = 0 when there is none (no process, or host networking). podman (v2) keeps
 * the processes in a nested "container" cgroup of its scope. */
static void pick_pid(const coll_env *env, cstate *st, cont *c)
{
    char rel[64], ns[64];
    const char *dir = st->version == 1 ? "/memory" : "";
    int pid = first_pid(env, dir, c->cg, "");
    if (!pid)
        pid = first_pid(env, dir, c->cg, "/container");
    if (pid) {
        snprintf(rel, sizeof rel, "/%d/ns/net", pid);
        /* Same namespace as the agent's (host networking): its counters are the host's. */
        if (read_link(env, rel, ns, sizeof ns) || (st->hostns[0] && strcmp(ns, st->hostns) == 0))
            pid = 0;
    }
    if (pid != c->pid && c->fd[CONT_NET] >= 0) {
        close(c->fd[CONT_NET]);
        c->fd[CONT_NET] = -1;
        st->held--;
    }
    c->pid = pid;
}

/* Walks the hierarchy and updates the container list. Returns 1 in *unknown when a container
 * is not in the engines' map (a reason to refresh it). */
static int scan(const coll_env *env, cstate *st, int *unknown)
{
    char path[COLL_PATH_MAX];
    size_t count = 0;
    int rc = 0;
    *unknown = 0;
    for (size_t i = 0; i < st->n; i++)
        st->v[i].seen = 0;
    if (read_link(env, "/self/ns/net", st->hostns, sizeof st->hostns))
        st->hostns[0] = '\0';
    if (coll_path(path, sizeof path, env->sys,
                  st->version == 1 ? "/fs/cgroup/memory" : "/fs/cgroup"))
        return -ENAMETOOLONG;
    rc = walk(st, path, strlen(path), 0, &count);
    /* A hierarchy larger than the bound keeps what was found: a partial answer beats none. */
    if (rc == -E2BIG)
        rc = 0;
    for (size_t i = 0; i < st->n;) {
        cont *c = &st->v[i];
        if (!c->seen) {
            cont_close(st, c);
            st->v[i] = st->v[--st->n];
            continue;
        }
        pick_pid(env, st, c);
        if (strlen(c->id) == 64 && !engines_lookup(st->eng, c->id))
            *unknown = 1;
        i++;
    }
    return rc;
}

/* ---- reading ------------------------------------------------------------------------------ */

/* Reads the whole file at fd from offset 0. A cgroup file is one record that a single read
 * returns whole (when it fits: a full buffer is checked with one more read); `loop` keeps
 * reading files the kernel produces a page at a time (net/dev). Returns 0, -EFBIG or -errno. */
static int pread_all(int fd, int loop, char *dst, size_t cap, size_t *len)
{
    size_t n = 0;
    for (;;) {
        ssize_t r = pread(fd, dst + n, cap - 1 - n, (off_t)n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == cap - 1) {
            char extra;
            r = pread(fd, &extra, 1, (off_t)n);
            if (r != 0)
                return r > 0 ? -EFBIG : -errno;
            break;
        }
        if (!loop)
            break;
    }
    dst[n] = '\0';
    *len = n;
    return 0;
}

/* Reads file slot i of container c (CONT_NET: its net/dev) into dst, through a descriptor
 * kept open across rounds when the budget allows. Returns 0 or -errno. */
static int cread(const coll_env *env, cstate *st, cont *c, int i, char *dst, size_t cap)
{
    char path[COLL_PATH_MAX];
    size_t len;
    int n, rc;
    dst[0] = '\0';
    if (c->fd[i] >= 0) {
        if ((rc = pread_all(c->fd[i], i == CONT_NET, dst, cap, &len)) == 0 || rc == -EFBIG)
            return rc;
        close(c->fd[i]);
        c->fd[i] = -1;
        st->held--;
    }
    if (i == CONT_NET)
        n = snprintf(path, sizeof path, "%s/%d/net/dev", env->proc, c->pid);
    else
        n = snprintf(path, sizeof path, "%s/fs/cgroup%s%s/%s", env->sys, st->files[i].ctrl, c->cg,
                     st->files[i].name);
    if (n < 0 || (size_t)n >= sizeof path)
        return -ENAMETOOLONG;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        /* The first file exists in every container cgroup: without it, the container left. */
        if (i == 0 && (errno == ENOENT || errno == ENODEV))
            st->force_scan = 1;
        return -errno;
    }
    rc = pread_all(fd, i == CONT_NET, dst, cap, &len);
    /* The limits are read once a walk: not worth a descriptor. */
    int limit = st->version == 2 ? (i == V2_MEMMAX || i == V2_PIDSMAX)
                                 : (i == V1_MEMLIM || i == V1_PIDSMAX);
    if (rc == 0 && env->cache && st->held < st->budget && !limit) {
        c->fd[i] = fd;
        st->held++;
    } else {
        close(fd);
    }
    return rc;
}

/* ---- parsing ------------------------------------------------------------------------------ */

/* Parses "key value" lines, storing the values of the keys asked for (vals[k], bit k of
 * *have). A line of another shape is -EINVAL; other keys' values are not checked. */
static int parse_kv(char *buf, const char *const *keys, size_t nk, uint64_t *vals, unsigned *have)
{
    char *cur = buf, *line;
    *have = 0;
    while ((line = coll_line(&cur))) {
        char *p = line;
        char *k = coll_field(&p), *v = coll_field(&p);
        if (!k)
            continue;
        if (!v || coll_field(&p))
            return -EINVAL;
        for (size_t i = 0; i < nk; i++) {
            if (strcmp(k, keys[i]) == 0) {
                if (coll_u64(v, &vals[i]))
                    return -EINVAL;
                *have |= 1u << i;
                break;
            }
        }
    }
    return 0;
}

/* Parses a file holding one number or "max" (*v = 0 then). */
static int parse_num(char *buf, int max_ok, uint64_t *v)
{
    coll_trim(buf);
    if (max_ok && strcmp(buf, "max") == 0) {
        *v = 0;
        return 0;
    }
    return coll_u64(buf, v) ? -EINVAL : 0;
}

/* Parses a pressure file into the totals of its "some" and "full" lines (microseconds). */
static int parse_psi(char *buf, uint64_t tot[2], unsigned *have)
{
    char *cur = buf, *line;
    *have = 0;
    while ((line = coll_line(&cur))) {
        char *p = line, *f;
        const char *kind = coll_field(&p);
        int k;
        if (!kind)
            continue;
        if (strcmp(kind, "some") == 0)
            k = 0;
        else if (strcmp(kind, "full") == 0)
            k = 1;
        else
            return -EINVAL;
        while ((f = coll_field(&p))) {
            if (!strchr(f, '='))
                return -EINVAL;
            if (strncmp(f, "total=", 6) == 0) {
                if (coll_u64(f + 6, &tot[k]))
                    return -EINVAL;
                *have |= 1u << k;
            }
        }
        if (!(*have & (1u << k)))
            return -EINVAL;
    }
    return 0;
}

/* A "major:minor" device number. */
static int is_devno(const char *s)
{
    const char *c = strchr(s, ':');
    if (!c || c == s || !c[1])
        return 0;
    for (const char *p = s; *p; p++) {
        if (p != c && (*p < '0' || *p > '9'))
            return 0;
    }
    return 1;
}

/* ---- emitting ----------------------------------------------------------------------------- */

#define CONT_NLBL (2 * (3 + ENGINES_MAX_LABELS + 1) + 1)

typedef struct emitter {
    batch *b;
    const char *lb[CONT_NLBL];
    size_t n; /* base labels (pairs * 2) */
    char lname[ENGINES_MAX_LABELS][128];
} emitter;

static int emit(emitter *e, const char *metric, const char *k, const char *v, double val)
{
    e->lb[e->n] = k;
    e->lb[e->n + 1] = v;
    e->lb[k ? e->n + 2 : e->n] = NULL;
    return batch_add(e->b, metric, e->lb, val);
}

/* Records the first error of a container's files: a file that is absent (controller not
 * enabled, container just gone) is not one. */
static void note(int *first, int rc)
{
    if (rc && rc != -ENOENT && rc != -ENODEV && rc != -ESRCH && !*first)
        *first = rc;
}

#define EMIT(m, k, v, x)                                                                           \
    do {                                                                                           \
        if ((rc = emit(e, (m), (k), (v), (x))))                                                    \
            goto out;                                                                              \
    } while (0)

static int emit_psi(const coll_env *env, cstate *st, cont *c, emitter *e, char *buf, int *err)
{
    static const struct {
        int slot;
        const char *some, *full;
    } psi[] = {
        {V2_PCPU, "container_pressure_cpu_waiting_seconds_total",
         "container_pressure_cpu_stalled_seconds_total"},
        {V2_PMEM, "container_pressure_memory_waiting_seconds_total",
         "container_pressure_memory_stalled_seconds_total"},
        {V2_PIO, "container_pressure_io_waiting_seconds_total",
         "container_pressure_io_stalled_seconds_total"},
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof psi / sizeof psi[0]; i++) {
        uint64_t tot[2] = {0, 0};
        unsigned have = 0;
        int r = cread(env, st, c, psi[i].slot, buf, CONT_BUF);
        if (!r && (r = parse_psi(buf, tot, &have)) == 0) {
            if (have & 1)
                EMIT(psi[i].some, NULL, NULL, (double)tot[0] / 1e6);
            if (have & 2)
                EMIT(psi[i].full, NULL, NULL, (double)tot[1] / 1e6);
        }
        note(err, r == -EOPNOTSUPP ? 0 : r);
    }
out:
    return rc;
}

/* io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0". */
/* memory.stat (keys: v2 anon/file/inactive_file, v1 total_*): rss, cache and
 * cAdvisor's working set — usage less the inactive file cache (0 if that is larger), when the
 * usage (*cur) is known. A parse failure goes to *perr; emit failures are returned. */
static int emit_memstat(emitter *e, char *buf, const char *const *keys, const uint64_t *cur,
                        int *perr)
{
    uint64_t v[3];
    unsigned have;
    int rc = 0;
    if ((*perr = parse_kv(buf, keys, 3, v, &have)))
        return 0;
    if (have & 1)
        EMIT("container_memory_rss", NULL, NULL, (double)v[0]);
    if (have & 2)
        EMIT("container_memory_cache", NULL, NULL, (double)v[1]);
    if ((have & 4) && cur)
        EMIT("container_memory_working_set_bytes", NULL, NULL,
             (double)(*cur > v[2] ? *cur - v[2] : 0));
out:
    return rc;
}

static int emit_io_v2(emitter *e, char *buf, int *err)
{
    static const char *const keys[] = {"rbytes=", "wbytes=", "rios=", "wios="};
    static const char *const metrics[] = {"container_fs_reads_bytes_total",
                                          "container_fs_writes_bytes_total",
                                          "container_fs_reads_total", "container_fs_writes_total"};
    char *cur = buf, *line;
    int rc = 0;
    while ((line = coll_line(&cur))) {
        char *p = line, *f;
        const char *dev = coll_field(&p);
        uint64_t v[4];
        unsigned have = 0;
        if (!dev)
            continue;
        if (!is_devno(dev)) {
            note(err, -EINVAL);
            break;
        }
        while ((f = coll_field(&p))) {
            char *eq = strchr(f, '=');
            if (!eq) {
                note(err, -EINVAL);
                return 0;
            }
            for (size_t i = 0; i < 4; i++) {
                if (strncmp(f, keys[i], strlen(keys[i])) == 0) {
                    if (coll_u64(eq + 1, &v[i])) {
                        note(err, -EINVAL);
                        return 0;
                    }
                    have |= 1u << i;
                }
            }
        }
        for (size_t i = 0; i < 4; i++) {
            if (have & (1u << i))
                EMIT(metrics[i], "device", dev, (double)v[i]);
        }
    }
out:
    return rc;
}

/* blkio.throttle.io_service_bytes / io_serviced: "8:0 Read 123" lines and a "Total N" line. */
static int emit_io_v1(emitter *e, char *buf, const char *rd, const char *wr, int *err)
{
    char *cur = buf, *line;
    int rc = 0;
    while ((line = coll_line(&cur))) {
        char *p = line;
        char *dev = coll_field(&p), *op = coll_field(&p), *val = coll_field(&p);
        uint64_t v;
        if (!dev || strcmp(dev, "Total") == 0)
            continue;
        if (!op || !val || coll_field(&p) || !is_devno(dev) || coll_u64(val, &v)) {
            note(err, -EINVAL);
            break;
        }
        if (strcmp(op, "Read") == 0)
            EMIT(rd, "device", dev, (double)v);
        else if (strcmp(op, "Write") == 0)
            EMIT(wr, "device", dev, (double)v);
    }
out:
    return rc;
}

/* <proc>/<pid>/net/dev of the container's namespace; the loopback device is left out, as
 * cAdvisor does. */
static int emit_net(emitter *e, char *buf, int *err)
{
    /* Columns of /proc/net/dev exported, by index. */
    static const struct {
        int col;
        const char *metric;
    } cols[] = {
        {0, "container_network_receive_bytes_total"},
        {1, "container_network_receive_packets_total"},
        {2, "container_network_receive_errors_total"},
        {3, "container_network_receive_packets_dropped_total"},
        {8, "container_network_transmit_bytes_total"},
        {9, "container_network_transmit_packets_total"},
        {10, "container_network_transmit_errors_total"},
        {11, "container_network_transmit_packets_dropped_total"},
    };
    char *cur = buf, *line;
    int rc = 0;
    for (int i = 0; i < 2; i++) {
        line = coll_line(&cur);
        if (!line || !strchr(line, '|')) {
            note(err, -EINVAL);
            return 0;
        }
    }
    while ((line = coll_line(&cur))) {
        char *colon = strchr(line, ':'), *f;
        uint64_t v[16];
        size_t n = 0;
        if (!colon) {
            if (*line)
                note(err, -EINVAL);
            continue;
        }
        *colon = '\0';
        char *p = line;
        const char *dev = coll_field(&p);
        if (!dev || coll_field(&p)) {
            note(err, -EINVAL);
            return 0;
        }
        p = colon + 1;
        while ((f = coll_field(&p))) {
            if (n == 16 || coll_u64(f, &v[n])) {
                note(err, -EINVAL);
                return 0;
            }
            n++;
        }
        if (n != 16) {
            note(err, -EINVAL);
            return 0;
        }
        if (strcmp(dev, "lo") == 0)
            continue;
        for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
            EMIT(cols[i].metric, "interface", dev, (double)v[cols[i].col]);
    }
out:
    return rc;
}

/* Re-reads limit k of container c from file slot i when the limits are due (max_ok: "max"
 * reads as 0) and returns 1 if it is known. */
static int read_limit(const coll_env *env, cstate *st, cont *c, int i, int k, int max_ok, char *buf,
                      int *err)
{
    if (st->limits_due) {
        int r = cread(env, st, c, i, buf, CONT_BUF);
        c->have_limit &= ~(1u << k);
        if (!r && (r = parse_num(buf, max_ok, &c->limit[k])) == 0)
            c->have_limit |= 1u << k;
        note(err, r);
    }
    return (c->have_limit >> k) & 1;
}

static int emit_v2(const coll_env *env, cstate *st, cont *c, emitter *e, int *err)
{
    static const char *const cpu_keys[] = {"usage_usec", "user_usec",    "system_usec",
                                           "nr_periods", "nr_throttled", "throttled_usec"};
    static const char *const cpu_metrics[] = {
        "container_cpu_usage_seconds_total",         "container_cpu_user_seconds_total",
        "container_cpu_system_seconds_total",        "container_cpu_cfs_periods_total",
        "container_cpu_cfs_throttled_periods_total", "container_cpu_cfs_throttled_seconds_total"};
    static const char *const mem_keys[] = {"anon", "file", "inactive_file"};
    static const char *const ev_keys[] = {"oom_kill"};
    char buf[CONT_BUF];
    uint64_t v[6], cur = 0;
    unsigned have;
    int rc = 0, r;
    if ((r = cread(env, st, c, V2_CPU, buf, sizeof buf)) == 0 &&
        (r = parse_kv(buf, cpu_keys, 6, v, &have)) == 0) {
        for (size_t i = 0; i < 6; i++) {
            if (have & (1u << i))
                EMIT(cpu_metrics[i], NULL, NULL, (double)v[i] / (i == 3 || i == 4 ? 1.0 : 1e6));
        }
    }
    note(err, r);
    int have_cur = 0;
    if ((r = cread(env, st, c, V2_MEMCUR, buf, sizeof buf)) == 0 &&
        (r = parse_num(buf, 0, &cur)) == 0) {
        have_cur = 1;
        EMIT("container_memory_usage_bytes", NULL, NULL, (double)cur);
    }
    note(err, r);
    if ((r = read_limit(env, st, c, V2_MEMMAX, 0, 1, buf, err)))
        EMIT("container_spec_memory_limit_bytes", NULL, NULL, (double)c->limit[0]);
    if ((r = cread(env, st, c, V2_MEMSTAT, buf, sizeof buf)) == 0 &&
        (rc = emit_memstat(e, buf, mem_keys, have_cur ? &cur : NULL, &r)))
        goto out;
    note(err, r);
    if ((r = cread(env, st, c, V2_MEMEV, buf, sizeof buf)) == 0 &&
        (r = parse_kv(buf, ev_keys, 1, v, &have)) == 0 && have)
        EMIT("container_oom_events_total", NULL, NULL, (double)v[0]);
    note(err, r);
    if ((r = cread(env, st, c, V2_IO, buf, sizeof buf)) == 0 && (rc = emit_io_v2(e, buf, err)))
        goto out;
    note(err, r);
    if ((r = cread(env, st, c, V2_PIDS, buf, sizeof buf)) == 0 &&
        (r = parse_num(buf, 0, &v[0])) == 0)
        EMIT("container_threads", NULL, NULL, (double)v[0]);
    note(err, r);
    if ((r = read_limit(env, st, c, V2_PIDSMAX, 1, 1, buf, err)))
        EMIT("container_threads_max", NULL, NULL, (double)c->limit[1]);
    rc = emit_psi(env, st, c, e, buf, err);
out:
    return rc;
}

static int emit_v1(const coll_env *env, cstate *st, cont *c, emitter *e, int *err)
{
    static const char *const acct_keys[] = {"user", "system"};
    static const char *const cpu_keys[] = {"nr_periods", "nr_throttled", "throttled_time"};
    static const char *const mem_keys[] = {"total_rss", "total_cache", "total_inactive_file"};
    static const char *const oom_keys[] = {"oom_kill"};
    char buf[CONT_BUF];
    uint64_t v[3], cur = 0;
    unsigned have;
    int rc = 0, r;
    double hz = (double)sysconf(_SC_CLK_TCK);
    if ((r = cread(env, st, c, V1_USAGE, buf, sizeof buf)) == 0 &&
        (r = parse_num(buf, 0, &v[0])) == 0)
        EMIT("container_cpu_usage_seconds_total", NULL, NULL, (double)v[0] / 1e9);
    note(err, r);
    if ((r = cread(env, st, c, V1_ACCTSTAT, buf, sizeof buf)) == 0 &&
        (r = parse_kv(buf, acct_keys, 2, v, &have)) == 0) {
        if (have & 1)
            EMIT("container_cpu_user_seconds_total", NULL, NULL, (double)v[0] / hz);
        if (have & 2)
            EMIT("container_cpu_system_seconds_total", NULL, NULL, (double)v[1] / hz);
    }
    note(err, r);
    if ((r = cread(env, st, c, V1_CPUSTAT, buf, sizeof buf)) == 0 &&
        (r = parse_kv(buf, cpu_keys, 3, v, &have)) == 0) {
        if (have & 1)
            EMIT("container_cpu_cfs_periods_total", NULL, NULL, (double)v[0]);
        if (have & 2)
            EMIT("container_cpu_cfs_throttled_periods_total", NULL, NULL, (double)v[1]);
        if (have & 4)
            EMIT("container_cpu_cfs_throttled_seconds_total", NULL, NULL, (double)v[2] / 1e9);
    }
    note(err, r);
    int have_cur = 0;
    if ((r = cread(env, st, c, V1_MEMUSE, buf, sizeof buf)) == 0 &&
        (r = parse_num(buf, 0, &cur)) == 0) {
        have_cur = 1;
        EMIT("container_memory_usage_bytes", NULL, NULL, (double)cur);
    }
    note(err, r);
    /* v1 writes "no limit" as the largest page-aligned number (about 2^63). */
    if ((r = read_limit(env, st, c, V1_MEMLIM, 0, 0, buf, err)))
        EMIT("container_spec_memory_limit_bytes", NULL, NULL,
             c->limit[0] >= (1ULL << 62) ? 0.0 : (double)c->limit[0]);
    if ((r = cread(env, st, c, V1_MEMSTAT, buf, sizeof buf)) == 0 &&
        (rc = emit_memstat(e, buf, mem_keys, have_cur ? &cur : NULL, &r)))
        goto out;
    note(err, r);
    if ((r = cread(env, st, c, V1_OOM, buf, sizeof buf)) == 0 &&
        (r = parse_kv(buf, oom_keys, 1, v, &have)) == 0 && have)
        EMIT("container_oom_events_total", NULL, NULL, (double)v[0]);
    note(err, r);
    if ((r = cread(env, st, c, V1_IOB, buf, sizeof buf)) == 0 &&
        (rc = emit_io_v1(e, buf, "container_fs_reads_bytes_total",
                         "container_fs_writes_bytes_total", err)))
        goto out;
    note(err, r);
    if ((r = cread(env, st, c, V1_IOS, buf, sizeof buf)) == 0 &&
        (rc = emit_io_v1(e, buf, "container_fs_reads_total", "container_fs_writes_total", err)))
        goto out;
    note(err, r);
    if ((r = cread(env, st, c, V1_PIDS, buf, sizeof buf)) == 0 &&
        (r = parse_num(buf, 0, &v[0])) == 0)
        EMIT("container_threads", NULL, NULL, (double)v[0]);
    note(err, r);
    if ((r = read_limit(env, st, c, V1_PIDSMAX, 1, 1, buf, err)))
        EMIT("container_threads_max", NULL, NULL, (double)c->limit[1]);
out:
    return rc;
}

/* Fills the labels every sample of container c carries. */
static void base_labels(cstate *st, cont *c, emitter *e)
{
    const engines_info *in = strlen(c->id) == 64 ? engines_lookup(st->eng, c->id) : NULL;
    size_t n = 0;
    e->lb[n++] = "id";
    e->lb[n++] = c->cg;
    if (in && in->name) {
        e->lb[n++] = "name";
        e->lb[n++] = in->name;
    }
    if (in && in->image) {
        e->lb[n++] = "image";
        e->lb[n++] = in->image;
    }
    for (size_t i = 0; in && i < in->nlabels; i++) {
        /* container_label_<key> with every character a label name may not hold as '_'. */
        char *d = e->lname[i];
        size_t k = (size_t)snprintf(d, sizeof e->lname[i], "container_label_%s", in->labels[2 * i]);
        if (k >= sizeof e->lname[i])
            k = sizeof e->lname[i] - 1;
        for (size_t j = 16; j < k; j++) {
            char ch = d[j];
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_'))
                d[j] = '_';
        }
        /* Two keys that read the same once sanitized ("a.b", "a_b"): the first one wins, as a
         * sample cannot carry one label name twice. */
        int dup = 0;
        for (size_t j = 0; j < n && !dup; j += 2)
            dup = strcmp(e->lb[j], d) == 0;
        if (dup)
            continue;
        e->lb[n++] = d;
        e->lb[n++] = in->labels[2 * i + 1];
    }
    e->n = n;
}

static int collect(const coll_env *env, batch *b)
{
    cstate *st = *env->state;
    emitter e;
    int rc = 0, first = 0, unknown = 0;
    if (!st) {
        if ((rc = state_new(env, &st)))
            return rc;
        *env->state = st;
    }
    if (!st->version)
        return 0;
    /* A bad label allow-list is the configuration's fault: reported once, then no names. */
    if (!st->eng && !st->eng_err && (rc = engines_new(&st->eng, &cont_opts))) {
        if (rc == -EINVAL)
            st->eng_err = rc;
        return rc;
    }
    /* A vanished container forces a walk, at most every CONT_RESCAN_MIN_MS. */
    if (!st->scanned || env->now_ms - st->last_scan >= CONT_SCAN_MS ||
        env->now_ms < st->last_scan ||
        (st->force_scan && env->now_ms - st->last_scan >= CONT_RESCAN_MIN_MS)) {
        st->scanned = 1;
        st->force_scan = 0;
        st->last_scan = env->now_ms;
        st->limits_due = 1;
        note(&first, scan(env, st, &unknown));
    }
    if (st->eng) {
        /* One-shot runs (no descriptor cache) wait for the names; the agent's rounds never. */
        if (!env->cache && st->n)
            rc = engines_fetch_sync(st->eng, env->now_ms);
        else if (env->cache)
            rc = engines_poll(st->eng, env->now_ms, unknown);
        if (rc)
            return rc;
    }
    e.b = b;
    for (size_t i = 0; i < st->n; i++) {
        cont *c = &st->v[i];
        base_labels(st, c, &e);
        rc = st->version == 2 ? emit_v2(env, st, c, &e, &first) : emit_v1(env, st, c, &e, &first);
        /* A sample the batch refuses (a label too long) skips the rest of this container. */
        if (rc == -ENOMEM)
            return rc;
        note(&first, rc);
        rc = 0;
        if (c->pid) {
            char nbuf[CONT_NETBUF];
            int r = cread(env, st, c, CONT_NET, nbuf, sizeof nbuf);
            if (r == 0)
                rc = emit_net(&e, nbuf, &first);
            else if (r == -ENOENT || r == -ESRCH)
                st->force_scan = 1; /* the process left: pick another next round */
            else
                note(&first, r);
            if (rc == -ENOMEM)
                return rc;
            note(&first, rc);
            rc = 0;
        }
    }
    st->limits_due = 0;
    return first;
}

/* Sets json_object key to a new string s (nothing when s is NULL). Returns 0 or -ENOMEM. */
static int set_str(json_t *o, const char *key, const char *s)
{
    return !s || json_object_set_new(o, key, json_string(s)) == 0 ? 0 : -ENOMEM;
}

int coll_containers_children(void *state, json_t *inv)
{
    cstate *st = state;
    json_t *arr = NULL;
    int rc = 0;
    if (!st || !st->scanned)
        return 0;
    if (!(arr = json_array()))
        return -ENOMEM;
    for (size_t i = 0; i < st->n && !rc; i++) {
        cont *c = &st->v[i];
        const engines_info *in = strlen(c->id) == 64 ? engines_lookup(st->eng, c->id) : NULL;
        json_t *o = json_object();
        if (!o || json_array_append_new(arr, o)) {
            rc = -ENOMEM;
            break;
        }
        if ((rc = set_str(o, "id", c->id)) || (rc = set_str(o, "cgroup", c->cg)))
            break;
        if (in && ((rc = set_str(o, "name", in->name)) || (rc = set_str(o, "image", in->image))))
            break;
    }
    if (!rc && json_object_set_new(inv, "containers", arr) != 0)
        return -ENOMEM;
    if (rc)
        json_decref(arr);
    return rc;
}

int coll_containers(const coll_env *env, batch *b)
{
    /* Without a state slot (a caller outside coll_run_all) the state lives for this call. */
    if (!env->state) {
        void *scratch = NULL;
        coll_env e = *env;
        e.state = &scratch;
        int rc = collect(&e, b);
        coll_containers_free(scratch);
        return rc;
    }
    return collect(env, b);
}
