/* test_collectors: the host collectors against fixture copies of /proc and /sys (exact values,
 * node_exporter's exclusions, missing and malformed sources), the shared parsing helpers, the
 * once-per-error logging of coll_run_all, allocation failures, and one run on the live host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/batch.h"
#include "agent/collectors/collector.h"
#include "agent/collectors/collector_int.h"
#include "agent/collectors/libvirt.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "coll_assert.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static const coll_env fx = {FIXTURES "/proc", FIXTURES "/sys", "", 0, NULL, NULL, 0};
static const coll_env fx_bad = {FIXTURES "/bad/proc", FIXTURES "/bad/sys", "", 0, NULL, NULL, 0};
static const coll_env fx_missing = {FIXTURES "/missing/proc", FIXTURES "/missing/sys", "", 0, NULL, NULL, 0};
static const coll_env fx_fallback = {FIXTURES "/fallback/proc", FIXTURES "/fallback/sys", "", 0, NULL, NULL, 0};
static const coll_env live = {"/proc", "/sys", "", 0, NULL, NULL, 0};




static int setup(void **state)
{
    batch *b = NULL;
    if (batch_new(&b, "host:9100", "node") != 0)
        return -1;
    batch_reset(b, 1700000000000);
    *state = b;
    return 0;
}

static int teardown(void **state)
{
    batch_free(*state);
    return 0;
}

static double tck(void)
{
    return (double)sysconf(_SC_CLK_TCK);
}

static void test_cpu(void **state)
{
    batch *b = *state;
    double t = tck();
    assert_int_equal(coll_cpu(&fx, b), 0);
    assert_sample(b, "node_cpu_seconds_total", L("cpu", "0", "mode", "user"), 775 / t);
    assert_sample(b, "node_cpu_seconds_total", L("cpu", "0", "mode", "idle"), 37886 / t);
    assert_sample(b, "node_cpu_seconds_total", L("cpu", "1", "mode", "nice"), 20 / t);
    assert_sample(b, "node_cpu_seconds_total", L("cpu", "1", "mode", "irq"), 7 / t);
    assert_sample(b, "node_cpu_seconds_total", L("cpu", "1", "mode", "steal"), 20 / t);
    assert_sample(b, "node_cpu_seconds_total", L("cpu", "2", "mode", "iowait"), 78 / t);
    assert_sample(b, "node_cpu_guest_seconds_total", L("cpu", "1", "mode", "user"), 30 / t);
    assert_sample(b, "node_cpu_guest_seconds_total", L("cpu", "1", "mode", "nice"), 3 / t);
    assert_sample(b, "node_cpu_guest_seconds_total", L("cpu", "0", "mode", "user"), 0);
    /* cpu3 is an old kernel's 7-column line: no steal, no guest. */
    assert_sample(b, "node_cpu_seconds_total", L("cpu", "3", "mode", "softirq"), 7 / t);
    assert_no_sample(b, "node_cpu_seconds_total", L("cpu", "3", "mode", "steal"));
    assert_no_sample(b, "node_cpu_guest_seconds_total", L("cpu", "3", "mode", "user"));
    /* The aggregate "cpu " line is not exported. */
    assert_no_sample(b, "node_cpu_seconds_total", L("mode", "user"));
    assert_int_equal(batch_count(b), 3 * 10 + 7);
}

static void test_stat(void **state)
{
    batch *b = *state;
    assert_int_equal(coll_stat(&fx, b), 0);
    assert_sample(b, "node_context_switches_total", NULL, 278811);
    assert_sample(b, "node_forks_total", NULL, 3703);
    assert_sample(b, "node_intr_total", NULL, 127698);
    assert_sample(b, "node_procs_running", NULL, 3);
    assert_sample(b, "node_procs_blocked", NULL, 1);
    assert_sample(b, "node_boot_time_seconds", NULL, 1795464418);
    assert_int_equal(batch_count(b), 6);
}

static void test_loadavg(void **state)
{
    batch *b = *state;
    assert_int_equal(coll_loadavg(&fx, b), 0);
    assert_sample(b, "node_load1", NULL, 0.01);
    assert_sample(b, "node_load5", NULL, 0.07);
    assert_sample(b, "node_load15", NULL, 1.25);
    assert_int_equal(batch_count(b), 3);
}

static void test_meminfo(void **state)
{
    batch *b = *state;
    assert_int_equal(coll_meminfo(&fx, b), 0);
    assert_sample(b, "node_memory_MemTotal_bytes", NULL, 24684084.0 * 1024);
    assert_sample(b, "node_memory_Active_anon_bytes", NULL, 1520.0 * 1024);
    assert_sample(b, "node_memory_VmallocTotal_bytes", NULL, 34359738367.0 * 1024);
    assert_sample(b, "node_memory_HugePages_Total", NULL, 4);
    assert_sample(b, "node_memory_HugePages_Free", NULL, 2);
    assert_sample(b, "node_memory_Hugepagesize_bytes", NULL, 2048.0 * 1024);
    assert_no_sample(b, "node_memory_HugePages_Total_bytes", NULL);
    assert_int_equal(batch_count(b), 54); /* one per line of the fixture */
}

static void test_pressure(void **state)
{
    batch *b = *state;
    assert_int_equal(coll_pressure(&fx, b), 0);
    assert_sample(b, "node_pressure_cpu_waiting_seconds_total", NULL, 5441807 / 1e6);
    assert_sample(b, "node_pressure_memory_waiting_seconds_total", NULL, 7898791 / 1e6);
    assert_sample(b, "node_pressure_memory_stalled_seconds_total", NULL, 7714158 / 1e6);
    assert_sample(b, "node_pressure_io_waiting_seconds_total", NULL, 0.12);
    assert_sample(b, "node_pressure_io_stalled_seconds_total", NULL, 3.5);
    assert_int_equal(batch_count(b), 5);
}

/* Only /proc/pressure/cpu exists there: the other files are skipped without error. */
static void test_pressure_partial(void **state)
{
    batch *b = *state;
    assert_int_equal(coll_pressure(&fx_fallback, b), 0);
    assert_sample(b, "node_pressure_cpu_waiting_seconds_total", NULL, 2.5);
    assert_int_equal(batch_count(b), 1);
}

static void test_diskstats(void **state)
{
    batch *b = *state;
    assert_int_equal(coll_diskstats(&fx, b), 0);
    assert_sample(b, "node_disk_reads_completed_total", L("device", "vda"), 30406);
    assert_sample(b, "node_disk_reads_merged_total", L("device", "vda"), 7294);
    assert_sample(b, "node_disk_read_bytes_total", L("device", "vda"), 2694026.0 * 512);
    assert_sample(b, "node_disk_read_time_seconds_total", L("device", "vda"), 15.947);
    assert_sample(b, "node_disk_written_bytes_total", L("device", "vda"), 1504272.0 * 512);
    assert_sample(b, "node_disk_write_time_seconds_total", L("device", "vda"), 3.18);
    assert_sample(b, "node_disk_io_now", L("device", "vda"), 0);
    assert_sample(b, "node_disk_io_time_seconds_total", L("device", "vda"), 9.904);
    assert_sample(b, "node_disk_io_time_weighted_seconds_total", L("device", "vda"), 19.535);
    assert_sample(b, "node_disk_discards_completed_total", L("device", "vda"), 4318);
    assert_sample(b, "node_disk_discarded_sectors_total", L("device", "vda"), 131960);
    assert_sample(b, "node_disk_discard_time_seconds_total", L("device", "vda"), 0.345);
    assert_sample(b, "node_disk_flush_requests_total", L("device", "vda"), 1315);
    assert_sample(b, "node_disk_flush_requests_time_seconds_total", L("device", "vda"), 0.061);
    /* 4.18-style line: discards but no flushes. */
    assert_sample(b, "node_disk_io_now", L("device", "sda"), 9);
    assert_sample(b, "node_disk_discard_time_seconds_total", L("device", "sda"), 0.015);
    assert_no_sample(b, "node_disk_flush_requests_total", L("device", "sda"));
    /* Pre-4.18 line: neither. */
    assert_sample(b, "node_disk_write_time_seconds_total", L("device", "nvme0n1"), 1.5);
    assert_no_sample(b, "node_disk_discards_completed_total", L("device", "nvme0n1"));
    /* Not matched by the default pattern. */
    assert_sample(b, "node_disk_reads_completed_total", L("device", "sdaa1"), 1);
    assert_sample(b, "node_disk_reads_completed_total", L("device", "dm-0"), 7);
    assert_sample(b, "node_disk_reads_completed_total", L("device", "mmcblk0p1"), 8);
    /* Excluded: partitions and virtual devices. */
    static const char *const excluded[] = {"loop0", "vda1", "sda1", "nvme0n1p1",
                                           "zram0", "ram0", "fd0",  "xvda1"};
    for (size_t i = 0; i < sizeof excluded / sizeof excluded[0]; i++)
        assert_no_sample(b, "node_disk_reads_completed_total", L("device", excluded[i]));
    /* vda, dm-0, mmcblk0, mmcblk0p1: 17 each; sda, sdaa1: 15; nvme0n1: 11. */
    assert_int_equal(batch_count(b), 4 * 17 + 2 * 15 + 11);
}

static void test_disk_excluded(void **state)
{
    (void)state;
    static const struct {
        const char *dev;
        int excluded;
    } cases[] = {
        {"ram0", 1},  {"ram15", 1},     {"zram0", 1},       {"loop0", 1},    {"loop123", 1},
        {"fd0", 1},   {"sda1", 1},      {"sdz9", 1},        {"hda2", 1},     {"vdb10", 1},
        {"xvda1", 1}, {"nvme0n1p1", 1}, {"nvme12n3p45", 1}, {"sda", 0},      {"vda", 0},
        {"xvda", 0},  {"sdaa1", 0},     {"nvme0n1", 0},     {"nvme0n1p", 0}, {"nvmen1p1", 0},
        {"loop", 0},  {"ram", 0},       {"zram", 0},        {"loop0a", 0},   {"dm-0", 0},
        {"md0", 0},   {"mmcblk0p1", 0}, {"sr0", 0},         {"sd1", 0},      {"xda1", 0},
        {"fd", 0},    {"", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (coll_disk_excluded(cases[i].dev) != cases[i].excluded)
            fail_msg("%s: want excluded=%d", cases[i].dev, cases[i].excluded);
    }
}

static void test_filesystem(void **state)
{
    batch *b = *state;
    assert_int_equal(coll_filesystem(&fx, b), 0);
    const char *const *root = L("device", "/dev/vda", "fstype", "ext4", "mountpoint", "/");
    assert_sample(b, "node_filesystem_device_error", root, 0);
    assert_sample(b, "node_filesystem_readonly", root, 0);
    double size, avail, files;
    assert_true(batch_find(b, "node_filesystem_size_bytes", root, &size));
    assert_true(batch_find(b, "node_filesystem_avail_bytes", root, &avail));
    assert_true(batch_find(b, "node_filesystem_files", root, &files));
    assert_true(size > 0 && avail <= size);
    /* The last /tmp mount wins: ext4 read-only, not the tmpfs mounted before it. */
    const char *const *tmp = L("device", "/dev/vda", "fstype", "ext4", "mountpoint", "/tmp");
    assert_sample(b, "node_filesystem_readonly", tmp, 1);
    assert_sample(b, "node_filesystem_device_error", tmp, 0);
    /* \040 decoded; the directory does not exist, so only device_error. */
    const char *const *srv =
        L("device", "/dev/vdb", "fstype", "ext4", "mountpoint", "/srv/my data dir");
    assert_sample(b, "node_filesystem_device_error", srv, 1);
    assert_no_sample(b, "node_filesystem_size_bytes", srv);
    assert_no_sample(b, "node_filesystem_readonly", srv);
    /* The pattern needs something after /var/lib/docker/ and /run/credentials/. */
    double v;
    assert_true(
        batch_find(b, "node_filesystem_device_error",
                   L("device", "/dev/vdc", "fstype", "ext4", "mountpoint", "/var/lib/docker"), &v));
    assert_true(
        batch_find(b, "node_filesystem_device_error",
                   L("device", "tmpfs", "fstype", "tmpfs", "mountpoint", "/run/credentials"), &v));
    char *text = formatted(b);
    static const char *const absent[] = {
        "mountpoint=\"/sys",
        "mountpoint=\"/proc\"",
        "mountpoint=\"/dev\"",
        "/snap/core/1",
        "/var/lib/docker/overlay2",
        "/var/lib/docker/volumes",
        "getty@tty1.service",
        "/mnt/nfs",
        "/mnt/gluster",
        "fstype=\"rootfs\"",
        "fstype=\"tmpfs\",mountpoint=\"/tmp\"",
    };
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++) {
        if (strstr(text, absent[i]))
            fail_msg("excluded mount present: %s\n%s", absent[i], text);
    }
    mem_free(text);
}

/* Without <proc>/1/mounts the collector falls back to <proc>/mounts. */
static void test_filesystem_fallback(void **state)
{
    batch *b = *state;
    assert_int_equal(coll_filesystem(&fx_fallback, b), 0);
    const char *const *root = L("device", "/dev/vda", "fstype", "ext4", "mountpoint", "/");
    assert_sample(b, "node_filesystem_readonly", root, 1);
    assert_sample(b, "node_filesystem_device_error", root, 0);
    assert_int_equal(batch_count(b), 7);
}

static void test_fs_filters(void **state)
{
    (void)state;
    static const struct {
        const char *mp;
        int excluded;
    } mps[] = {
        {"/", 0},
        {"/dev", 1},
        {"/dev/shm", 1},
        {"/device", 0},
        {"/proc", 1},
        {"/proc/sys/fs/binfmt_misc", 1},
        {"/sys", 1},
        {"/sysroot", 0},
        {"/run", 0},
        {"/run/credentials", 0},
        {"/run/credentials/", 0},
        {"/run/credentials/x.service", 1},
        {"/var/lib/docker", 0},
        {"/var/lib/docker/", 0},
        {"/var/lib/docker/overlay2/x/merged", 1},
        {"/var/lib/containers/storage/overlay", 1},
        {"/var/lib/containers", 0},
        {"/home/dev", 0},
    };
    for (size_t i = 0; i < sizeof mps / sizeof mps[0]; i++) {
        if (coll_fs_mountpoint_excluded(mps[i].mp) != mps[i].excluded)
            fail_msg("%s: want excluded=%d", mps[i].mp, mps[i].excluded);
    }
    assert_true(coll_fs_type_excluded("overlay"));
    assert_true(coll_fs_type_excluded("cgroup2"));
    assert_true(coll_fs_type_excluded("nfs4"));
    assert_true(coll_fs_type_excluded("fuse.sshfs"));
    assert_false(coll_fs_type_excluded("ext4"));
    assert_false(coll_fs_type_excluded("tmpfs"));
    assert_false(coll_fs_type_excluded("nfsd"));
    char s1[] = "/srv/my\\040data\\011x\\134y";
    assert_string_equal(coll_unescape_octal(s1), "/srv/my data\tx\\y");
    char s2[] = "/a\\04b\\999\\000";
    assert_string_equal(coll_unescape_octal(s2), "/a\\04b\\999\\000");
}

static void test_netdev(void **state)
{
    batch *b = *state;
    assert_int_equal(coll_netdev(&fx, b), 0);
    assert_sample(b, "node_network_receive_bytes_total", L("device", "eth0"), 148912551);
    assert_sample(b, "node_network_receive_errs_total", L("device", "eth0"), 1);
    assert_sample(b, "node_network_receive_multicast_total", L("device", "eth0"), 6);
    assert_sample(b, "node_network_transmit_bytes_total", L("device", "eth0"), 111222);
    assert_sample(b, "node_network_transmit_colls_total", L("device", "eth0"), 10);
    assert_sample(b, "node_network_transmit_carrier_total", L("device", "eth0"), 11);
    assert_sample(b, "node_network_transmit_compressed_total", L("device", "eth0"), 12);
    assert_sample(b, "node_network_receive_bytes_total", L("device", "eth1"),
                  18446744073709551615.0);
    assert_sample(b, "node_network_receive_packets_total", L("device", "lo"), 29);
    assert_sample(b, "node_network_up", L("device", "eth0"), 1);
    assert_sample(b, "node_network_up", L("device", "lo"), 0);
    assert_sample(b, "node_network_up", L("device", "ifb0"), 0);
    assert_sample(b, "node_network_mtu_bytes", L("device", "eth0"), 1400);
    assert_sample(b, "node_network_mtu_bytes", L("device", "lo"), 65536);
    /* eth1 has no sysfs directory in the fixture. */
    assert_no_sample(b, "node_network_up", L("device", "eth1"));
    assert_no_sample(b, "node_network_mtu_bytes", L("device", "eth1"));
    assert_int_equal(batch_count(b), 4 * 16 + 3 * 2);
}

static void test_processes(void **state)
{
    batch *b = *state;
    assert_int_equal(coll_processes(&fx, b), 0);
    assert_sample(b, "node_processes_state", L("state", "S"), 2);
    assert_sample(b, "node_processes_state", L("state", "D"), 1); /* comm "a) x (b" */
    assert_sample(b, "node_processes_state", L("state", "R"), 1);
    assert_sample(b, "node_processes_state", L("state", "Z"), 1);
    assert_sample(b, "node_processes_state", L("state", "I"), 1);
    assert_no_sample(b, "node_processes_state", L("state", "T"));
    assert_sample(b, "node_processes_threads", NULL, 1 + 5 + 1 + 1 + 12 + 1);
    assert_sample(b, "node_processes_pids", NULL, 6); /* 500 has no stat: it exited */
    assert_sample(b, "node_processes_max_processes", NULL, 4194304);
    assert_sample(b, "node_processes_max_threads", NULL, 192730);
    assert_int_equal(batch_count(b), 5 + 4);
}

static void test_time(void **state)
{
    batch *b = *state;
    struct timespec t0, t1;
    double v;
    clock_gettime(CLOCK_REALTIME, &t0);
    assert_int_equal(coll_time(&fx, b), 0);
    clock_gettime(CLOCK_REALTIME, &t1);
    assert_true(batch_find(b, "node_time_seconds", NULL, &v));
    assert_true(v >= (double)t0.tv_sec && v <= (double)t1.tv_sec + 1);
    assert_int_equal(batch_count(b), 1);
}

static void test_uname(void **state)
{
    batch *b = *state;
    struct utsname u;
    assert_int_equal(uname(&u), 0);
    assert_int_equal(coll_uname(&fx, b), 0);
    assert_sample(b, "node_uname_info",
                  L("sysname", "Linux", "release", "6.1.0-18-amd64", "version",
                    "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)", "machine", u.machine,
                    "nodename", "fixturehost", "domainname", "(none)"),
                  1);
    assert_int_equal(batch_count(b), 1);
}

static void test_filefd(void **state)
{
    batch *b = *state;
    assert_int_equal(coll_filefd(&fx, b), 0);
    assert_sample(b, "node_filefd_allocated", NULL, 1024);
    assert_sample(b, "node_filefd_maximum", NULL, 9223372036854775807.0);
    assert_int_equal(batch_count(b), 2);
}

/* Every collector but "time" reads files; with none there it adds nothing and succeeds. */
static void test_missing(void **state)
{
    batch *b = *state;
    for (size_t i = 0; coll_table[i].name; i++) {
        if (strcmp(coll_table[i].name, "time") == 0)
            continue;
        int rc = coll_table[i].fn(&fx_missing, b);
        if (rc != 0 || batch_count(b) != 0)
            fail_msg("%s: rc %d, %zu samples", coll_table[i].name, rc, batch_count(b));
    }
}

static void test_malformed(void **state)
{
    batch *b = *state;
    static const struct {
        coll_fn fn;
        const char *name;
        int rc;
    } cases[] = {
        {coll_cpu, "cpu", -EINVAL},
        {coll_stat, "stat", -EINVAL},
        {coll_loadavg, "loadavg", -EINVAL},
        {coll_meminfo, "meminfo", -EINVAL},
        {coll_pressure, "pressure", -EINVAL},
        {coll_diskstats, "diskstats", -EINVAL},
        {coll_filesystem, "filesystem", -EINVAL},
        {coll_netdev, "netdev", -EINVAL},
        {coll_processes, "processes", -EINVAL},
        {coll_uname, "uname", -EFBIG},
        {coll_filefd, "filefd", -EINVAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = cases[i].fn(&fx_bad, b);
        if (rc != cases[i].rc)
            fail_msg("%s: rc %d, want %d", cases[i].name, rc, cases[i].rc);
    }
}

/* Number of collectors in coll_table. */
/* The host collectors: the stateless ones reading /proc and /sys files (the containers,
 * processes and libvirt collectors have their own tests). */
static int n_collectors(void)
{
    int n = 0;
    for (int i = 0; coll_table[i].name; i++)
        n += coll_table[i].free_state == NULL;
    return n;
}

static const char *const *host_list(void)
{
    static const char *names[64];
    int n = 0;
    for (int i = 0; coll_table[i].name && n < 63; i++)
        if (!coll_table[i].free_state)
            names[n++] = coll_table[i].name;
    names[n] = NULL;
    return names;
}

/* Runs coll_run_all with stderr captured; returns its result and the number of log lines. */
static int run_captured(const coll_env *env, batch *b, int *lines)
{
    char path[] = "/tmp/test_collectors_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    int failed = coll_run_all(env, host_list(), b);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    char text[16384];
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    close(fd);
    assert_true(n >= 0);
    text[n] = '\0';
    *lines = 0;
    for (const char *p = text; (p = strstr(p, "collector ")); p++)
        (*lines)++;
    return failed;
}

static void test_run_all_logs_once(void **state)
{
    batch *b = *state;
    int lines;
    const int n = n_collectors() - 1;
    /* Every collector but "time" fails on the malformed tree, each logged once. */
    assert_int_equal(run_captured(&fx_bad, b, &lines), n);
    assert_int_equal(lines, n);
    assert_int_equal(run_captured(&fx_bad, b, &lines), n);
    assert_int_equal(lines, 0);
    /* A new kind of error is logged again, once. */
    static char longp[COLL_PATH_MAX + 100];
    memset(longp, 'x', sizeof longp - 1);
    longp[0] = '/';
    const coll_env too_long = {longp, longp, "", 0, NULL, NULL, 0};
    assert_int_equal(run_captured(&too_long, b, &lines), n);
    assert_int_equal(lines, n);
    assert_int_equal(run_captured(&too_long, b, &lines), n);
    assert_int_equal(lines, 0);
}

static void test_run_all_enabled(void **state)
{
    batch *b = *state;
    const char *const enabled[] = {"loadavg", "filefd", "nosuch", NULL};
    assert_int_equal(coll_run_all(&fx, enabled, b), 0);
    assert_sample(b, "node_load1", NULL, 0.01);
    assert_sample(b, "node_filefd_allocated", NULL, 1024);
    assert_int_equal(batch_count(b), 5);
}

static void test_run_all_fixtures(void **state)
{
    batch *b = *state;
    assert_int_equal(coll_run_all(&fx, NULL, b), 0);
    assert_sample(b, "node_load15", NULL, 1.25);
    assert_sample(b, "node_processes_pids", NULL, 6);
}

static void test_helpers(void **state)
{
    (void)state;
    uint64_t u;
    double d;
    assert_int_equal(coll_u64("18446744073709551615", &u), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(coll_u64("0", &u), 0);
    assert_true(u == 0);
    static const char *const bad_u[] = {"",   "18446744073709551616", "-1", "+1", " 1", "1 ", "1a",
                                        "0x1"};
    for (size_t i = 0; i < sizeof bad_u / sizeof bad_u[0]; i++) {
        if (coll_u64(bad_u[i], &u) != -EINVAL)
            fail_msg("coll_u64 accepted \"%s\"", bad_u[i]);
    }
    assert_int_equal(coll_f64("1.25", &d), 0);
    assert_true(d == 1.25);
    assert_int_equal(coll_f64("-3", &d), 0);
    assert_true(d == -3);
    static const char *const bad_f[] = {"",   "inf",   "nan", "0x10", " 1",
                                        "1 ", "1e999", ".",   "-",    "1,5"};
    for (size_t i = 0; i < sizeof bad_f / sizeof bad_f[0]; i++) {
        if (coll_f64(bad_f[i], &d) != -EINVAL)
            fail_msg("coll_f64 accepted \"%s\"", bad_f[i]);
    }

    char line[] = "  a\tbb  c \nsecond\n\nlast";
    char *cur = line, *l = coll_line(&cur), *f;
    f = coll_field(&l);
    assert_string_equal(f, "a");
    f = coll_field(&l);
    assert_string_equal(f, "bb");
    f = coll_field(&l);
    assert_string_equal(f, "c");
    assert_null(coll_field(&l));
    assert_string_equal(coll_line(&cur), "second");
    assert_string_equal(coll_line(&cur), "");
    assert_string_equal(coll_line(&cur), "last");
    assert_null(coll_line(&cur));

    /* Reading: exact fit, one byte too many, absent file, for both readers. */
    char buf[64];
    size_t len;
    assert_int_equal(coll_read(&fx, FIXTURES, "/proc/loadavg", buf, sizeof buf, &len), 0);
    assert_int_equal(len, strlen("0.01 0.07 1.25 1/82 3704\n"));
    assert_string_equal(buf, "0.01 0.07 1.25 1/82 3704\n");
    assert_int_equal(coll_read(&fx, FIXTURES, "/proc/loadavg", buf, len + 1, &len), 0);
    assert_int_equal(coll_read(&fx, FIXTURES, "/proc/loadavg", buf, 25, &len), -EFBIG);
    assert_int_equal(len, 0);
    assert_int_equal(coll_read_one(&fx, FIXTURES, "/proc/loadavg", buf, 25, &len), -EFBIG);
    assert_int_equal(coll_read_one(&fx, FIXTURES, "/proc/loadavg", buf, 26, &len), 0);
    assert_string_equal(buf, "0.01 0.07 1.25 1/82 3704\n");
    assert_int_equal(coll_read(&fx, FIXTURES, "/proc/nosuch", buf, sizeof buf, &len), -ENOENT);
    assert_int_equal(coll_read_one(&fx, FIXTURES, "/proc/nosuch", buf, sizeof buf, &len), -ENOENT);
    /* A file larger than one page, the way /proc/diskstats comes in several reads. */
    static char big[COLL_BUF_LARGE];
    assert_int_equal(coll_read(&live, "/proc", "/self/maps", big, sizeof big, &len), 0);
    assert_true(len > 0 && strlen(big) == len);
}

/* The descriptor cache: a cached file is re-read fresh every time, a file replaced under the
 * cache is read anew, and the error cases behave as without a cache. */
static void test_cache(void **state)
{
    (void)state;
    char dir[] = "/tmp/dashdot-coll-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/f", dir);
    coll_env env = {dir, dir, "", 0, NULL, NULL, 0};
    assert_int_equal(coll_cache_new(&env.cache), 0);
    char buf[64];
    size_t len;
    FILE *f = fopen(path, "w");
    fputs("one\n", f);
    fclose(f);
    assert_int_equal(coll_read_one(&env, dir, "/f", buf, sizeof buf, &len), 0);
    assert_string_equal(buf, "one\n");
    /* Same inode, new content: the cached descriptor sees it. */
    f = fopen(path, "w");
    fputs("two two\n", f);
    fclose(f);
    assert_int_equal(coll_read(&env, dir, "/f", buf, sizeof buf, &len), 0);
    assert_string_equal(buf, "two two\n");
    assert_int_equal(coll_read_one(&env, dir, "/f", buf, 5, &len), -EFBIG);
    /* Removed file: the stale descriptor still reads the old inode, which is what a kernel
     * file does not do; a missing file that was never cached is ENOENT. */
    assert_int_equal(coll_read_one(&env, dir, "/nosuch", buf, sizeof buf, &len), -ENOENT);
    /* Live /proc files through the cache: two reads of a counter file both succeed. */
    static char big[COLL_BUF_LARGE];
    coll_env live_c = {"/proc", "/sys", "", 0, env.cache, NULL, 0};
    assert_int_equal(coll_read_one(&live_c, "/proc", "/stat", big, sizeof big, &len), 0);
    size_t first = len;
    assert_int_equal(coll_read_one(&live_c, "/proc", "/stat", big, sizeof big, &len), 0);
    assert_true(first > 0 && len > 0 && strncmp(big, "cpu ", 4) == 0);
    coll_cache_free(env.cache);
    unlink(path);
    rmdir(dir);
}

/* Collectors with every = N run only in rounds divisible by N. */
static void test_every(void **state)
{
    batch *b = *state;
    const char *en[] = {"processes", "loadavg", NULL};
    coll_env e = fx;
    e.round = 3;
    batch_reset(b, 0);
    assert_int_equal(coll_run_all(&e, en, b), 0);
    double v;
    assert_true(batch_find(b, "node_load1", NULL, &v));
    assert_false(batch_find(b, "node_processes_pids", NULL, &v));
    e.round = 10;
    batch_reset(b, 0);
    assert_int_equal(coll_run_all(&e, en, b), 0);
    assert_true(batch_find(b, "node_processes_pids", NULL, &v));
}

/* Allocation failures at every point of a full round: errors, never crashes or leaks. */
static void test_out_of_memory(void **state)
{
    (void)state;
    for (long k = 0; k < 12; k++) {
        batch *b = NULL;
        assert_int_equal(batch_new(&b, "h", "node"), 0);
        mem_fail_after(k);
        int failed = coll_run_all(&fx, host_list(), b);
        mem_fail_after(-1);
        assert_true(failed >= 0 && failed <= n_collectors());
        if (k == 0)
            assert_int_equal(failed, n_collectors());
        batch_free(b);
    }
}

static void test_live(void **state)
{
    batch *b = *state;
    double v;
    assert_int_equal(coll_run_all(&live, NULL, b), 0);
    assert_true(batch_find(b, "node_cpu_seconds_total", L("cpu", "0", "mode", "user"), &v));
    assert_true(batch_find(b, "node_memory_MemTotal_bytes", NULL, &v));
    assert_true(v > 0);
    assert_true(batch_find(b, "node_load1", NULL, &v));
    assert_true(batch_find(b, "node_processes_pids", NULL, &v));
    assert_true(v >= 1);
}

int main(void)
{
    /* The host collectors' tests must not depend on a libvirt daemon on the test machine. */
    coll_libvirt_set_uri("none");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cpu, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loadavg, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meminfo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pressure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pressure_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_diskstats, setup, teardown),
        cmocka_unit_test(test_disk_excluded),
        cmocka_unit_test_setup_teardown(test_filesystem, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filesystem_fallback, setup, teardown),
        cmocka_unit_test(test_fs_filters),
        cmocka_unit_test_setup_teardown(test_netdev, setup, teardown),
        cmocka_unit_test_setup_teardown(test_processes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uname, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filefd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        /* Must be the first to run coll_run_all on failing trees (the log state persists). */
        cmocka_unit_test_setup_teardown(test_run_all_logs_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_all_enabled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_all_fixtures, setup, teardown),
        cmocka_unit_test(test_helpers),
        cmocka_unit_test(test_cache),
        cmocka_unit_test_setup_teardown(test_every, setup, teardown),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test_setup_teardown(test_live, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
