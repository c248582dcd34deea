/* collector: the table of host collectors, the loop that runs them each round, and the small
 * file-reading and parsing helpers they share (declared in collector_int.h).
 *
 * The helpers exist so that a collection round costs a handful of system calls and no heap
 * allocation: each file is read with open/read/close into a caller's stack buffer and parsed in
 * place with hand-written loops. */
#include "collector_int.h"
#include "containers.h"

#include "../../lib/log.h"
#include "../../lib/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const coll_def coll_table[] = {
    {"cpu", coll_cpu, 1, NULL, NULL},
    {"stat", coll_stat, 1, NULL, NULL},
    {"loadavg", coll_loadavg, 1, NULL, NULL},
    {"meminfo", coll_meminfo, 1, NULL, NULL},
    {"pressure", coll_pressure, 1, NULL, NULL},
    {"diskstats", coll_diskstats, 1, NULL, NULL},
    {"filesystem", coll_filesystem, 1, NULL, NULL},
    {"netdev", coll_netdev, 1, NULL, NULL},
    /* Reading /proc/<pid>/stat for every process costs more than all the others together
     * (about 7 us per process): every 10 s keeps the agent within its CPU budget. */
    {"processes", coll_processes, 10, NULL, NULL},
    {"time", coll_time, 1, NULL, NULL},
    /* Host identity changes at most on reboot. */
    {"uname", coll_uname, 60, NULL, NULL},
    {"filefd", coll_filefd, 1, NULL, NULL},
    {"vmstat", coll_vmstat, 1, NULL, NULL},
    {"netstat", coll_netstat, 1, NULL, NULL},
    {"sockstat", coll_sockstat, 1, NULL, NULL},
    {"softnet", coll_softnet, 1, NULL, NULL},
    {"entropy", coll_entropy, 1, NULL, NULL},
    {"conntrack", coll_conntrack, 1, NULL, NULL},
    {"schedstat", coll_schedstat, 1, NULL, NULL},
    {"containers", coll_containers, 1, coll_containers_free, coll_containers_children},
    {"procs", coll_procs, 1, coll_procs_free, NULL},
    {"libvirt", coll_libvirt, 1, coll_libvirt_free, coll_libvirt_children},
    {NULL, NULL, 0, NULL, NULL},
};

#define COLL_N (sizeof coll_table / sizeof coll_table[0])

/* Error codes already logged, one bit per code and collector (codes past 255 share the last
 * bit), so that a collector failing every second logs each kind of failure once instead of
 * flooding the log. This is the only state kept between rounds; it belongs to the thread that
 * runs coll_run_all (the agent's loop). */
static unsigned char coll_logged[COLL_N][32];

/* Returns 1 the first time collector i fails with code err (a positive errno), 0 afterwards. */
static int coll_first_error(size_t i, int err)
{
    unsigned bit = err > 0 && err < 255 ? (unsigned)err : 255u;
    unsigned char mask = (unsigned char)(1u << (bit & 7));
    if (coll_logged[i][bit >> 3] & mask)
        return 0;
    coll_logged[i][bit >> 3] |= mask;
    return 1;
}

/* ---- descriptor cache ---------------------------------------------------------------------
 * Files of /proc and /sys stay open between rounds and are re-read with pread from offset 0,
 * which makes the kernel regenerate them; that saves an open and a close per file per round.
 * A descriptor that fails (its device or process went away) is closed and the file opened
 * anew; descriptors unused for CACHE_IDLE_ROUNDS rounds (a removed network device) are closed
 * by the sweep at the end of each round. */

#define CACHE_SLOTS 128
#define CACHE_IDLE_ROUNDS 120

typedef struct cache_slot {
    uint64_t hash;
    char *path;
    int fd;
    uint64_t used; /* round of last use */
} cache_slot;

struct coll_cache {
    cache_slot v[CACHE_SLOTS];
    size_t n;
    uint64_t round;
    void *state[COLL_N]; /* each collector's state between rounds */
};

int coll_cache_new(coll_cache **out)
{
    *out = mem_calloc(1, sizeof **out);
    return *out ? 0 : -ENOMEM;
}

static void cache_drop(coll_cache *c, size_t i)
{
    close(c->v[i].fd);
    mem_free(c->v[i].path);
    c->v[i] = c->v[--c->n];
}

void coll_cache_free(coll_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < COLL_N; i++)
        if (c->state[i] && coll_table[i].free_state)
            coll_table[i].free_state(c->state[i]);
    while (c->n)
        cache_drop(c, c->n - 1);
    mem_free(c);
}

static void cache_sweep(coll_cache *c, uint64_t round)
{
    if (!c)
        return;
    c->round = round;
    for (size_t i = 0; i < c->n;) {
        if (c->v[i].used + CACHE_IDLE_ROUNDS < round)
            cache_drop(c, i);
        else
            i++;
    }
}

static uint64_t path_hash(const char *p)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

/* Returns an open descriptor for path (cached when there is a cache and room), or -errno.
 * *cached says whether the caller must leave it open. */
static int cache_open(coll_cache *c, const char *path, int *cached, size_t *slot)
{
    *cached = 0;
    if (c) {
        uint64_t h = path_hash(path);
        for (size_t i = 0; i < c->n; i++) {
            if (c->v[i].hash == h && strcmp(c->v[i].path, path) == 0) {
                c->v[i].used = c->round;
                *cached = 1;
                *slot = i;
                return c->v[i].fd;
            }
        }
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (c && c->n < CACHE_SLOTS) {
        char *copy = mem_strdup(path);
        if (copy) {
            c->v[c->n] = (cache_slot){path_hash(path), copy, fd, c->round};
            *slot = c->n++;
            *cached = 1;
        }
    }
    return fd;
}

/* Reads path whole into dst through the cache: pread from offset 0, more preads only if
 * `loop` (files generated record by record). */
static int cached_read(const coll_env *env, const char *path, int loop, char *dst, size_t cap,
                       size_t *len)
{
    int cached;
    size_t slot = 0;
    size_t n = 0;
    int rc = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = cache_open(env->cache, path, &cached, &slot);
        if (fd < 0) {
            rc = fd;
            break;
        }
        n = 0;
        rc = 0;
        for (;;) {
            ssize_t r = pread(fd, dst + n, cap - 1 - n, (off_t)n);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                rc = -errno;
                break;
            }
            n += (size_t)r;
            if (r == 0 || (!loop && n < cap - 1))
                break;
            if (n == cap - 1) {
                char extra;
                ssize_t r2 = pread(fd, &extra, 1, (off_t)n);
                rc = r2 > 0 ? -EFBIG : r2 < 0 ? -errno : 0;
                break;
            }
        }
        if (!cached)
            close(fd);
        if (rc && rc != -EFBIG && cached) {
            /* A stale descriptor (device removed, process gone): reopen once. */
            cache_drop(env->cache, slot);
            continue;
        }
        break;
    }
    dst[rc ? 0 : n] = '\0';
    *len = rc ? 0 : n;
    return rc;
}

static int coll_enabled(const char *name, const char *const *enabled)
{
    if (!enabled)
        return 1;
    for (size_t i = 0; enabled[i]; i++) {
        if (strcmp(enabled[i], name) == 0)
            return 1;
    }
    return 0;
}

int coll_children(coll_cache *c, json_t *inv)
{
    for (size_t i = 0; c && coll_table[i].name; i++)
        if (coll_table[i].children && c->state[i]) {
            int rc = coll_table[i].children(c->state[i], inv);
            if (rc)
                return rc;
        }
    return 0;
}

int coll_run_all(const coll_env *env, const char *const *enabled, batch *b)
{
    int failed = 0;
    /* Names in `enabled` that match no collector are ignored here; checking the agent's
     * configuration is the caller's job. */
    for (size_t i = 0; coll_table[i].name; i++) {
        if (!coll_enabled(coll_table[i].name, enabled))
            continue;
        if (coll_table[i].every > 1 && env->round % coll_table[i].every != 0)
            continue;
        /* The collector's state lives in the cache; without one, for this call only. */
        void *scratch = NULL;
        coll_env e = *env;
        e.state = env->cache ? &env->cache->state[i] : &scratch;
        int rc = coll_table[i].fn(&e, b);
        if (scratch && coll_table[i].free_state)
            coll_table[i].free_state(scratch);
        if (rc == 0)
            continue;
        failed++;
        if (coll_first_error(i, -rc))
            log_warn("collector %s failed: %s (further errors of this kind are not logged)",
                     coll_table[i].name, strerror(-rc));
    }
    cache_sweep(env->cache, env->round);
    return failed;
}

int coll_path(char *dst, size_t cap, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la + lb + 1 > cap)
        return -ENAMETOOLONG;
    memcpy(dst, a, la);
    memcpy(dst + la, b, lb + 1);
    return 0;
}

/* Builds root + rel and reads it through the cache; loop selects coll_read's behaviour. */
static int read_rel(const coll_env *env, const char *root, const char *rel, int loop, char *dst,
                    size_t cap, size_t *len)
{
    char path[COLL_PATH_MAX];
    int rc = coll_path(path, sizeof path, root, rel);
    if (rc) {
        dst[0] = '\0';
        *len = 0;
        return rc;
    }
    return cached_read(env, path, loop, dst, cap, len);
}

int coll_read(const coll_env *env, const char *root, const char *rel, char *dst, size_t cap,
              size_t *len)
{
    return read_rel(env, root, rel, 1, dst, cap, len);
}

int coll_read_at(int dirfd, const char *rel, char *dst, size_t cap, size_t *len)
{
    int rc = 0;
    ssize_t r = 0;
    int fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    do {
        r = read(fd, dst, cap - 1);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        rc = -errno;
    } else if ((size_t)r == cap - 1) {
        /* Full: only a second read can tell an exact fit from a file too large to parse
         * whole (which is refused rather than truncated). */
        char extra;
        ssize_t r2;
        do {
            r2 = read(fd, &extra, 1);
        } while (r2 < 0 && errno == EINTR);
        rc = r2 > 0 ? -EFBIG : r2 < 0 ? -errno : 0;
    }
out:
    if (fd >= 0)
        close(fd);
    dst[rc ? 0 : (size_t)r] = '\0';
    *len = rc ? 0 : (size_t)r;
    return rc;
}

int coll_read_one(const coll_env *env, const char *root, const char *rel, char *dst, size_t cap,
                  size_t *len)
{
    return read_rel(env, root, rel, 0, dst, cap, len);
}

int coll_number_file(const coll_env *env, const char *rel, const char *metric, batch *b)
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

char *coll_line(char **cur)
{
    char *s = *cur;
    if (!*s)
        return NULL;
    char *e = strchr(s, '\n');
    if (e) {
        *e = '\0';
        *cur = e + 1;
    } else {
        *cur = s + strlen(s);
    }
    return s;
}

char *coll_field(char **cur)
{
    char *s = *cur;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s) {
        *cur = s;
        return NULL;
    }
    char *e = s;
    while (*e && *e != ' ' && *e != '\t')
        e++;
    if (*e)
        *e++ = '\0';
    *cur = e;
    return s;
}

int coll_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return -EINVAL;
    for (; *s; s++) {
        unsigned d = (unsigned)(unsigned char)*s - '0';
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return -EINVAL;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int coll_f64(const char *s, double *out)
{
    /* strtod also takes blanks, "inf", "nan" and hex; none belongs in a kernel file. */
    const char *p = s + (*s == '-');
    if (!((*p >= '0' && *p <= '9') || (*p == '.' && p[1] >= '0' && p[1] <= '9')))
        return -EINVAL;
    for (const char *q = p; *q; q++) {
        if (*q == 'x' || *q == 'X')
            return -EINVAL;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno == ERANGE || !isfinite(v))
        return -EINVAL;
    *out = v;
    return 0;
}

char *coll_trim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

char *coll_unescape_octal(char *s)
{
    char *w = s;
    for (const char *r = s; *r;) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            int c = (r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0');
            if (c != 0) {
                *w++ = (char)c;
                r += 4;
                continue;
            }
        }
        *w++ = *r++;
    }
    *w = '\0';
    return s;
}
