/* fsutil: directory creation, atomic writes and whole-file reads. */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fsutil_mkdirs(const char *dir)
{
    char tmp[PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof tmp)
        return -ENAMETOOLONG;
    memcpy(tmp, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == '\0') {
            char c = tmp[i];
            tmp[i] = '\0';
            if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
                return -errno;
            tmp[i] = c;
        }
    }
    struct stat st;
    if (stat(dir, &st) < 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int fsutil_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

int fsutil_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    int rc = 0, fd = -1;
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -ENAMETOOLONG;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            goto out;
        }
        p += w;
        len -= (size_t)w;
    }
    if (fsync(fd) < 0 || fchmod(fd, mode) < 0) {
        rc = -errno;
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, path) < 0) {
        rc = -errno;
        goto out;
    }
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        rc = fsutil_sync_dir(slash == dir ? "/" : dir);
    } else {
        rc = fsutil_sync_dir(".");
    }
out:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    return rc;
}

int fsutil_read_file(const char *path, buf *out, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = 0;
    size_t got = 0;
    for (;;) {
        size_t room = out->max - out->len;
        if (room == 0) {
            rc = -EFBIG;
            break;
        }
        if ((rc = buf_reserve(out, room < 4096 ? room : 4096)))
            break;
        ssize_t r = read(fd, out->data + out->len, out->cap - out->len - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        if (r == 0)
            break;
        got += (size_t)r;
        if (got > max) {
            rc = -EFBIG;
            break;
        }
        out->len += (size_t)r;
        out->data[out->len] = '\0';
    }
    close(fd);
    return rc;
}
