/* spool: one file per batch, an in-memory sorted index of (seq, size), a byte cap. */
#include "spool.h"

#include "../lib/fsutil.h"
#include "../lib/log.h"
#include "../lib/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct spool_item {
    uint64_t seq;
    uint64_t size;
} spool_item;

struct spool {
    char *dir;
    uint64_t max_bytes;
    spool_item *v; /* sorted by seq, oldest first: v[head..n) */
    size_t head, n, cap;
    uint64_t bytes;
    uint64_t dropped;
    uint64_t max_seq;
};

static void item_path(const spool *s, uint64_t seq, const char *sub, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s%s/%020llu.rw", s->dir, sub ? "/" : "", sub ? sub : "",
             (unsigned long long)seq);
}

static int item_cmp(const void *a, const void *b)
{
    uint64_t x = ((const spool_item *)a)->seq, y = ((const spool_item *)b)->seq;
    return (x > y) - (x < y);
}

static int index_insert(spool *s, uint64_t seq, uint64_t size)
{
    /* Compact the consumed prefix before growing. */
    if (s->head && s->n == s->cap) {
        memmove(s->v, s->v + s->head, (s->n - s->head) * sizeof *s->v);
        s->n -= s->head;
        s->head = 0;
    }
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 64;
        spool_item *v = mem_realloc(s->v, nc * sizeof *v);
        if (!v)
            return -ENOMEM;
        s->v = v;
        s->cap = nc;
    }
    /* Usually appended at the end; a retried direct batch goes before newer ones. */
    size_t i = s->n;
    while (i > s->head && s->v[i - 1].seq > seq) {
        s->v[i] = s->v[i - 1];
        i--;
    }
    s->v[i].seq = seq;
    s->v[i].size = size;
    s->n++;
    s->bytes += size;
    if (seq > s->max_seq)
        s->max_seq = seq;
    return 0;
}

int spool_open(spool **out, const char *dir, uint64_t max_bytes)
{
    char path[PATH_MAX];
    int rc;
    spool *s = mem_calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->dir = mem_strdup(dir);
    s->max_bytes = max_bytes ? max_bytes : 256ULL << 20;
    if (!s->dir) {
        rc = -ENOMEM;
        goto fail;
    }
    snprintf(path, sizeof path, "%s/parked", dir);
    if ((rc = fsutil_mkdirs(path)))
        goto fail;
    DIR *d = opendir(dir);
    if (!d) {
        rc = -errno;
        goto fail;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *name = de->d_name;
        size_t len = strlen(name);
        if (len > 7 && strcmp(name + len - 7, ".rw.tmp") == 0) {
            /* A write interrupted by a crash: never acknowledged into the queue. */
            snprintf(path, sizeof path, "%s/%s", dir, name);
            unlink(path);
            continue;
        }
        if (len != 23 || strcmp(name + 20, ".rw") != 0)
            continue;
        char *end;
        errno = 0;
        unsigned long long seq = strtoull(name, &end, 10);
        if (errno || end != name + 20)
            continue;
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, name);
        if (stat(path, &st) < 0)
            continue;
        if ((rc = index_insert(s, seq, (uint64_t)st.st_size))) {
            closedir(d);
            goto fail;
        }
    }
    closedir(d);
    if (s->n > 1)
        qsort(s->v, s->n, sizeof *s->v, item_cmp);
    if (s->n)
        log_info("spool: %zu batches (%llu bytes) waiting from an earlier run in %s", s->n,
                 (unsigned long long)s->bytes, dir);
    *out = s;
    return 0;
fail:
    spool_close(s);
    return rc;
}

void spool_close(spool *s)
{
    if (!s)
        return;
    mem_free(s->dir);
    mem_free(s->v);
    mem_free(s);
}

static int write_file(const char *path, const void *data, size_t len)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    const char *p = data;
    int rc = 0;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        p += w;
        len -= (size_t)w;
    }
    if (close(fd) < 0 && !rc)
        rc = -errno;
    if (!rc && rename(tmp, path) < 0)
        rc = -errno;
    if (rc)
        unlink(tmp);
    return rc;
}

static void drop_oldest(spool *s)
{
    char path[PATH_MAX];
    spool_item it = s->v[s->head++];
    item_path(s, it.seq, NULL, path, sizeof path);
    unlink(path);
    s->bytes -= it.size;
    s->dropped++;
    if (s->head == s->n)
        s->head = s->n = 0;
}

int spool_push(spool *s, uint64_t seq, const void *data, size_t len)
{
    char path[PATH_MAX];
    if (len > s->max_bytes)
        return -EFBIG;
    size_t before = s->dropped;
    while (s->n > s->head && s->bytes + len > s->max_bytes)
        drop_oldest(s);
    if (s->dropped != before)
        log_warn("spool: full (%llu bytes cap): dropped %llu oldest batches (%llu in all)",
                 (unsigned long long)s->max_bytes, (unsigned long long)(s->dropped - before),
                 (unsigned long long)s->dropped);
    item_path(s, seq, NULL, path, sizeof path);
    int rc = write_file(path, data, len);
    if (rc)
        return rc;
    rc = index_insert(s, seq, len);
    if (rc)
        unlink(path);
    return rc;
}

int spool_peek(spool *s, buf *out, uint64_t *seq)
{
    char path[PATH_MAX];
    if (s->head >= s->n)
        return -ENOENT;
    spool_item it = s->v[s->head];
    item_path(s, it.seq, NULL, path, sizeof path);
    buf_reset(out);
    int rc = fsutil_read_file(path, out, s->max_bytes);
    if (rc) {
        log_warn("spool: cannot read %s (%s); dropping it", path, strerror(-rc));
        drop_oldest(s);
        return rc;
    }
    *seq = it.seq;
    return 0;
}

/* Forgets seq in the index (it is the oldest in normal operation). */
static int index_remove(spool *s, uint64_t seq)
{
    for (size_t i = s->head; i < s->n; i++) {
        if (s->v[i].seq != seq)
            continue;
        s->bytes -= s->v[i].size;
        if (i == s->head) {
            s->head++;
        } else {
            memmove(s->v + i, s->v + i + 1, (s->n - i - 1) * sizeof *s->v);
            s->n--;
        }
        if (s->head == s->n)
            s->head = s->n = 0;
        return 0;
    }
    return -ENOENT;
}

int spool_remove(spool *s, uint64_t seq)
{
    char path[PATH_MAX];
    int rc = index_remove(s, seq);
    if (rc)
        return rc;
    item_path(s, seq, NULL, path, sizeof path);
    return unlink(path) < 0 ? -errno : 0;
}

int spool_park(spool *s, uint64_t seq)
{
    char from[PATH_MAX], to[PATH_MAX];
    int rc = index_remove(s, seq);
    if (rc)
        return rc;
    item_path(s, seq, NULL, from, sizeof from);
    item_path(s, seq, "parked", to, sizeof to);
    return rename(from, to) < 0 ? -errno : 0;
}

int spool_park_data(spool *s, uint64_t seq, const void *data, size_t len)
{
    char path[PATH_MAX];
    item_path(s, seq, "parked", path, sizeof path);
    return write_file(path, data, len);
}

size_t spool_count(const spool *s)
{
    return s->n - s->head;
}

uint64_t spool_bytes(const spool *s)
{
    return s->bytes;
}

uint64_t spool_dropped(const spool *s)
{
    return s->dropped;
}

uint64_t spool_max_seq(const spool *s)
{
    return s->max_seq;
}
