/* collector_int: what the host collectors share — the collector functions themselves and the
 * small helpers they use to read /proc and /sys files without stdio or heap allocation.
 *
 * The parsing helpers work in place on a caller's buffer: they NUL-terminate the line or field
 * they return and advance a cursor past it, so a file is read once and parsed without copies.
 * All functions run on the agent's loop thread (or any one thread; none keeps state). */
#ifndef DD_COLLECTOR_INT_H
#define DD_COLLECTOR_INT_H

#include "collector.h"

#include <stddef.h>
#include <stdint.h>

/* Buffer sizes. Files that grow with the host (per CPU, per device, per mount) get the large
 * one; a file that still does not fit is an error (-EFBIG), never silently truncated. Both live
 * on the stack of the collector reading them; untouched pages cost nothing. */
#define COLL_BUF_SMALL (16u * 1024)
#define COLL_BUF_LARGE (256u * 1024)
/* Room for a path built from a root prefix and a relative path. */
#define COLL_PATH_MAX 4096

/* Containers (cgroups + container engines), per-process and per-application figures with the
 * top consumers, and libvirt domains: collectors with state between rounds (free functions
 * accept NULL). */
int coll_containers(const coll_env *env, batch *b);
void coll_containers_free(void *state);
int coll_procs(const coll_env *env, batch *b);
void coll_procs_free(void *state);
int coll_libvirt(const coll_env *env, batch *b);
void coll_libvirt_free(void *state);
/* The VMs of the libvirt collector's last round as the inventory's "vms". */
int coll_libvirt_children(void *state, json_t *inv);

/* Reads (through env->cache when set) the whole file root + rel (rel starts with '/') into dst, NUL-terminated, looping until
 * end of file; *len gets the byte count without the NUL. Use it for files the kernel produces
 * record by record (/proc/diskstats, /proc/net/dev, mounts), where one read() returns at most
 * a page. Returns 0, -ENOENT if the file is absent, -EFBIG if it does not fit in cap - 1 bytes,
 * -ENAMETOOLONG, or another -errno from open/read. dst is caller-owned. */
int coll_read(const coll_env *env, const char *root, const char *rel, char *dst, size_t cap,
              size_t *len);

/* Like coll_read but for files the kernel produces as one record (/proc/stat, /proc/meminfo,
 * /proc/<pid>/stat, /proc/sys/..., sysfs attributes): a single read() returns the whole file,
 * saving the second read() that would only confirm end of file. Same returns as coll_read. */
int coll_read_one(const coll_env *env, const char *root, const char *rel, char *dst, size_t cap,
                  size_t *len);

/* coll_read_one for a path relative to an open directory (or AT_FDCWD). Also returns -ESRCH
 * when a process vanished between open and read. */
int coll_read_at(int dirfd, const char *rel, char *dst, size_t cap, size_t *len);

/* Adds `metric` (no labels) with the single unsigned number in <proc>rel, as in
 * /proc/sys/kernel/pid_max. An absent file adds nothing and returns 0; anything but one number
 * is -EINVAL. */
int coll_number_file(const coll_env *env, const char *rel, const char *metric, batch *b);

/* Writes a + b into dst (cap bytes). Returns 0 or -ENAMETOOLONG. */
int coll_path(char *dst, size_t cap, const char *a, const char *b);

/* Returns the next line at *cur with its newline replaced by NUL and advances *cur past it;
 * returns NULL at the end of the text. */
char *coll_line(char **cur);

/* Skips blanks (spaces and tabs) at *cur, then returns the next blank-separated field
 * NUL-terminated in place and advances *cur past it; NULL if the line has no more fields. */
char *coll_field(char **cur);

/* Parses all of s as an unsigned decimal number (digits only, no sign or blanks).
 * Returns 0 or -EINVAL (empty, stray characters, overflow). */
int coll_u64(const char *s, uint64_t *out);

/* Parses all of s as a finite decimal floating-point number ("0.01", "-3", "1e3"); rejects
 * inf, nan, hex and stray characters with -EINVAL. */
int coll_f64(const char *s, double *out);

/* Removes trailing newlines and blanks from s in place and returns s. */
char *coll_trim(char *s);

/* The collectors (see collector.c's table for their names and docs/collectors.md for the
 * metrics). Each returns 0 (also when its source files are absent), -EINVAL for a malformed
 * source, -EFBIG for a source too large for its buffer, -ENOMEM from the batch, or another
 * -errno from reading. On error the samples added before it stay in the batch. */
int coll_cpu(const coll_env *env, batch *b);
int coll_stat(const coll_env *env, batch *b);
int coll_loadavg(const coll_env *env, batch *b);
int coll_meminfo(const coll_env *env, batch *b);
int coll_pressure(const coll_env *env, batch *b);
int coll_diskstats(const coll_env *env, batch *b);
int coll_filesystem(const coll_env *env, batch *b);
int coll_netdev(const coll_env *env, batch *b);
int coll_processes(const coll_env *env, batch *b);
int coll_time(const coll_env *env, batch *b);
int coll_uname(const coll_env *env, batch *b);
int coll_filefd(const coll_env *env, batch *b);
int coll_vmstat(const coll_env *env, batch *b);
int coll_netstat(const coll_env *env, batch *b);
int coll_sockstat(const coll_env *env, batch *b);
int coll_softnet(const coll_env *env, batch *b);
int coll_entropy(const coll_env *env, batch *b);
int coll_conntrack(const coll_env *env, batch *b);
int coll_schedstat(const coll_env *env, batch *b);

/* The device-name filter of the diskstats collector (node_exporter's default exclude pattern
 * ^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$). Returns 1 if `dev` is excluded. */
int coll_disk_excluded(const char *dev);

/* The field filter of the vmstat collector (node_exporter's default pattern
 * ^(oom_kill|pgpg|pswp|pg.*fault).*). Returns 1 if the /proc/vmstat field is exported. */
int coll_vmstat_included(const char *field);

/* The field filter of the netstat collector (node_exporter's default pattern, see netstat.c)
 * on a key "<Proto>_<Field>" such as "Tcp_InSegs". Returns 1 if the key is exported. */
int coll_netstat_included(const char *key);

/* The filters of the filesystem collector. Return 1 if the mount point / fstype is skipped. */
int coll_fs_mountpoint_excluded(const char *mountpoint);
int coll_fs_type_excluded(const char *fstype);

/* Decodes the octal escapes (\040 for space, \011, \012, \134) the kernel writes in mount
 * paths, in place. Returns s. */
char *coll_unescape_octal(char *s);

#endif
