/* fsutil: small file-system helpers with errno-style returns. Any thread. */
#ifndef DD_FSUTIL_H
#define DD_FSUTIL_H

#include "buf.h"

#include <stddef.h>
#include <sys/types.h>

/* Creates dir and its parents (mode 0700 for new ones). Returns 0 or -errno. */
int fsutil_mkdirs(const char *dir);
/* Writes data to path atomically (temp file, fsync, rename, fsync of the directory) with the
 * given mode. Returns 0 or -errno. */
int fsutil_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Appends the whole file to out (at most max bytes: -EFBIG beyond). Returns 0 or -errno. */
int fsutil_read_file(const char *path, buf *out, size_t max);
/* fsyncs a directory so a rename or unlink in it is durable. */
int fsutil_sync_dir(const char *dir);

#endif
