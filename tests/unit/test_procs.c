/* test_procs: the per-process collector (coll_procs) against two rounds of a fixture /proc
 * (tests/fixtures/procs/r1 and r2, 2 s apart): application sums in the three groupings, the
 * top-N lists and their rates, pid reuse, exited processes' totals kept in their application,
 * kernel threads skipped, hostile stat/io files, allocation failures, no allocation in a steady
 * round, and one run on the live host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/batch.h"
#include "agent/collectors/collector.h"
#include "agent/collectors/collector_int.h"
#include "agent/collectors/procs.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "coll_assert.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define R1 FIXTURES "/procs/r1/proc"
#define R2 FIXTURES "/procs/r2/proc"
#define HOSTILE FIXTURES "/procs/hostile/proc"
#define ROOT FIXTURES "/procs"
#define T1 1000000000
#define T2 1000002000 /* 2 s after T1, as the fixtures' uptime says */




typedef struct fx {
    batch *b;
    coll_cache *cache;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (!f || batch_new(&f->b, "host:9100", "node") != 0 || coll_cache_new(&f->cache) != 0)
        return -1;
    coll_procs_configure(NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    coll_cache_free(f->cache);
    batch_free(f->b);
    free(f);
    coll_procs_configure(NULL);
    return 0;
}

static double tck(void)
{
    return (double)sysconf(_SC_CLK_TCK);
}

static double page(void)
{
    return (double)sysconf(_SC_PAGESIZE);
}

/* One round of the procs collector through coll_run_all with the cache (so its state
 * persists between calls, as in the agent). Returns the number of failed collectors. */
static int round_at(fx *f, const char *proc, int64_t now_ms)
{
    static const char *const only[] = {"procs", NULL};
    coll_env env = {proc, FIXTURES "/sys", ROOT, 0, f->cache, NULL, now_ms};
    batch_reset(f->b, now_ms);
    return coll_run_all(&env, only, f->b);
}

/* A direct call with an explicit state pointer; returns the collector's code. */
static int call(void **st, const char *proc, int64_t now_ms, batch *b)
{
    coll_env env = {proc, FIXTURES "/sys", ROOT, 0, NULL, st, now_ms};
    batch_reset(b, now_ms);
    return coll_procs(&env, b);
}

#define CPU "dashdot_app_cpu_seconds_total"
#define TOPCPU "dashdot_top_process_cpu_ratio"
#define TOPMEM "dashdot_top_process_memory_rss_bytes"
#define TOPIO "dashdot_top_process_io_bytes_per_second"
#define TOPPSS "dashdot_top_process_memory_pss_bytes"

static void test_round1_exe(void **state)
{
    fx *f = *state;
    double t = tck(), p = page();
    assert_int_equal(round_at(f, R1, T1), 0);
    batch *b = f->b;
    /* Applications by process name; kernel threads (kthreadd, kworker) are not counted. The
     * counters start at 0 in the first round (not at the processes' lifetime usage). */
    assert_sample(b, CPU, L("app", "nginx", "mode", "user"), 0);
    assert_sample(b, CPU, L("app", "nginx", "mode", "system"), 0);
    assert_sample(b, CPU, L("app", "python3", "mode", "user"), 0);
    assert_sample(b, CPU, L("app", "(sd-pam)", "mode", "system"), 0);
    assert_sample(b, CPU, L("app", "a) (b", "mode", "user"), 0);
    assert_no_sample(b, CPU, L("app", "kthreadd", "mode", "user"));
    assert_no_sample(b, CPU, L("app", "kworker/0:1-events", "mode", "user"));
    assert_sample(b, "dashdot_app_processes", L("app", "nginx"), 2);
    assert_sample(b, "dashdot_app_processes", L("app", "python3"), 2);
    assert_sample(b, "dashdot_app_threads", L("app", "nginx"), 6);
    assert_sample(b, "dashdot_app_memory_rss_bytes", L("app", "python3"), 30000 * p);
    assert_sample(b, "dashdot_app_io_read_bytes_total", L("app", "nginx"), 0);
    assert_sample(b, "dashdot_app_io_write_bytes_total", L("app", "nginx"), 0);
    assert_sample(b, "dashdot_app_io_read_bytes_total", L("app", "python3"), 0);
    /* Descriptors of the processes whose fd directory could be listed. */
    assert_sample(b, "dashdot_app_open_fds", L("app", "systemd"), 3);
    assert_sample(b, "dashdot_app_open_fds", L("app", "nginx"), 5);
    assert_no_sample(b, "dashdot_app_open_fds", L("app", "python3"));
    /* First round: CPU over each process's lifetime (uptime 1000 s, start in ticks). */
    assert_sample(b, TOPCPU, L("rank", "1", "pid", "300", "comm", "python3", "app", "python3"),
                  2000 / t / (1000 - 40000 / t));
    assert_sample(b, TOPCPU, L("rank", "2", "pid", "100", "comm", "nginx", "app", "nginx"),
                  600 / t / (1000 - 5000 / t));
    assert_sample(b, TOPCPU, L("rank", "3", "pid", "101", "comm", "nginx", "app", "nginx"),
                  400 / t / (1000 - 5100 / t));
    assert_sample(b, TOPCPU, L("rank", "4", "pid", "301", "comm", "python3", "app", "python3"),
                  100 / t / (1000 - 50000 / t));
    assert_sample(b, TOPCPU, L("rank", "5", "pid", "1", "comm", "systemd", "app", "systemd"),
                  150 / t / (1000 - 1 / t));
    assert_sample(b, TOPCPU, L("rank", "6", "pid", "200", "comm", "(sd-pam)", "app", "(sd-pam)"),
                  20 / t / (1000 - 20000 / t));
    /* 201 used no CPU: not ranked. */
    assert_no_sample(b, TOPCPU, L("rank", "7", "pid", "201", "comm", "a) (b", "app", "a) (b"));
    assert_sample(b, TOPMEM, L("rank", "1", "pid", "301", "comm", "python3", "app", "python3"),
                  20000 * p);
    assert_sample(b, TOPMEM, L("rank", "7", "pid", "201", "comm", "a) (b", "app", "a) (b"),
                  100 * p);
    /* PSS of the top memory processes, from smaps_rollup where readable and well formed. */
    assert_sample(b, TOPPSS, L("rank", "1", "pid", "301", "comm", "python3", "app", "python3"),
                  60000.0 * 1024);
    assert_sample(b, TOPPSS, L("rank", "2", "pid", "300", "comm", "python3", "app", "python3"),
                  30000.0 * 1024);
    assert_no_sample(b, TOPPSS, L("rank", "3", "pid", "101", "comm", "nginx", "app", "nginx"));
    assert_no_sample(b, TOPPSS, L("rank", "4", "pid", "100", "comm", "nginx", "app", "nginx"));
    assert_sample(b, TOPIO,
                  L("rank", "1", "pid", "100", "comm", "nginx", "app", "nginx", "dir", "read"),
                  10000 / (1000 - 5000 / t));
    assert_sample(b, TOPIO,
                  L("rank", "2", "pid", "300", "comm", "python3", "app", "python3", "dir", "read"),
                  5000 / (1000 - 40000 / t));
    assert_sample(b, TOPIO,
                  L("rank", "1", "pid", "100", "comm", "nginx", "app", "nginx", "dir", "write"),
                  20000 / (1000 - 5000 / t));
}

static void test_round2(void **state)
{
    fx *f = *state;
    double t = tck(), p = page();
    procs_opts o = {PROCS_GROUP_EXE, 4};
    coll_procs_configure(&o);
    assert_int_equal(round_at(f, R1, T1), 0);
    assert_int_equal(round_at(f, R2, T2), 0);
    batch *b = f->b;
    /* Counters: the deltas since the first round. 302 is new (its 30 ticks are all new). */
    assert_sample(b, CPU, L("app", "python3", "mode", "user"), (200 + 30) / t);
    assert_sample(b, CPU, L("app", "nginx", "mode", "user"), (100 + 10) / t);
    assert_sample(b, CPU, L("app", "nginx", "mode", "system"), 20 / t);
    assert_sample(b, CPU, L("app", "systemd", "mode", "user"), 1 / t);
    assert_sample(b, "dashdot_app_io_read_bytes_total", L("app", "python3"), 4000 + 500);
    assert_sample(b, "dashdot_app_io_read_bytes_total", L("app", "nginx"), 6000);
    assert_sample(b, "dashdot_app_io_write_bytes_total", L("app", "systemd"), 2000);
    assert_sample(b, "dashdot_app_processes", L("app", "python3"), 2);
    assert_sample(b, "dashdot_app_memory_rss_bytes", L("app", "python3"), 11500 * p);
    /* Pid 201 was reused (new start time) by bash: a new process with all its 5 ticks; the
     * old "a) (b" application has no process now but is still reported. */
    assert_sample(b, CPU, L("app", "bash", "mode", "user"), 5 / t);
    assert_sample(b, "dashdot_app_processes", L("app", "bash"), 1);
    assert_sample(b, "dashdot_app_processes", L("app", "a) (b"), 0);
    assert_sample(b, CPU, L("app", "a) (b", "mode", "user"), 0);
    /* Open descriptors are listed every 10th round; the last count is kept meanwhile. */
    assert_sample(b, "dashdot_app_open_fds", L("app", "nginx"), 5);
    /* Top 4 by CPU over the 2 s round; 302 started during it (all its ticks over the round). */
    assert_sample(b, TOPCPU, L("rank", "1", "pid", "300", "comm", "python3", "app", "python3"),
                  200 / t / 2);
    assert_sample(b, TOPCPU, L("rank", "2", "pid", "100", "comm", "nginx", "app", "nginx"),
                  120 / t / 2);
    assert_sample(b, TOPCPU, L("rank", "3", "pid", "302", "comm", "python3", "app", "python3"),
                  30 / t / 2);
    assert_sample(b, TOPCPU, L("rank", "4", "pid", "101", "comm", "nginx", "app", "nginx"),
                  10 / t / 2);
    assert_no_sample(b, TOPCPU, L("rank", "5", "pid", "201", "comm", "bash", "app", "bash"));
    assert_sample(b, TOPMEM, L("rank", "1", "pid", "300", "comm", "python3", "app", "python3"),
                  10000 * p);
    assert_sample(b, TOPMEM, L("rank", "2", "pid", "101", "comm", "nginx", "app", "nginx"),
                  3000 * p);
    assert_sample(b, TOPMEM, L("rank", "3", "pid", "100", "comm", "nginx", "app", "nginx"),
                  2000 * p);
    assert_sample(b, TOPMEM, L("rank", "4", "pid", "302", "comm", "python3", "app", "python3"),
                  1500 * p);
    /* smaps_rollup is read every 10th round: round 1's PSS is still shown. */
    assert_sample(b, TOPPSS, L("rank", "1", "pid", "300", "comm", "python3", "app", "python3"),
                  30000.0 * 1024);
    assert_sample(b, TOPIO,
                  L("rank", "1", "pid", "100", "comm", "nginx", "app", "nginx", "dir", "read"),
                  3000);
    assert_sample(b, TOPIO,
                  L("rank", "2", "pid", "300", "comm", "python3", "app", "python3", "dir", "read"),
                  2000);
    assert_sample(b, TOPIO,
                  L("rank", "3", "pid", "302", "comm", "python3", "app", "python3", "dir", "read"),
                  250);
    assert_sample(b, TOPIO,
                  L("rank", "1", "pid", "1", "comm", "systemd", "app", "systemd", "dir", "write"),
                  1000);
    assert_no_sample(b, TOPIO,
                     L("rank", "2", "pid", "100", "comm", "nginx", "app", "nginx", "dir", "write"));
    /* Counters never go down: 301's ticks stayed in python3 after it exited, and a third
     * round that sees round 1 again (300's ticks "went back", 302 exited, 301 reappears as a
     * new process with its 100 ticks) only adds. */
    assert_int_equal(round_at(f, R1, T2 + 1000), 0);
    assert_sample(b, CPU, L("app", "python3", "mode", "user"), (200 + 30 + 100) / t);
    assert_sample(b, CPU, L("app", "nginx", "mode", "user"), (100 + 10) / t);
    assert_sample(b, "dashdot_app_processes", L("app", "python3"), 2);
}

static void test_group_user(void **state)
{
    fx *f = *state;
    double t = tck();
    procs_opts o = {PROCS_GROUP_USER, 10};
    coll_procs_configure(&o);
    assert_int_equal(round_at(f, R1, T1), 0);
    batch *b = f->b;
    assert_sample(b, "dashdot_app_processes", L("app", "root"), 1);
    assert_sample(b, "dashdot_app_processes", L("app", "www-data"), 2);
    assert_sample(b, "dashdot_app_processes", L("app", "alice"), 3);
    assert_sample(b, "dashdot_app_processes", L("app", "4242"), 1); /* not in passwd */
    assert_sample(b, CPU, L("app", "alice", "mode", "user"), 0);
    assert_sample(b, TOPCPU, L("rank", "1", "pid", "300", "comm", "python3", "app", "alice"),
                  2000 / t / (1000 - 40000 / t));
    assert_int_equal(round_at(f, R2, T2), 0);
    /* 201 is now bash, run by alice: the reused pid changes application. */
    assert_sample(b, "dashdot_app_processes", L("app", "alice"), 4);
    assert_sample(b, "dashdot_app_processes", L("app", "4242"), 0);
    assert_sample(b, CPU, L("app", "alice", "mode", "user"), (200 + 30 + 5) / t);
}

static void test_group_cgroup(void **state)
{
    fx *f = *state;
    procs_opts o = {PROCS_GROUP_CGROUP, 10};
    coll_procs_configure(&o);
    assert_int_equal(round_at(f, R1, T1), 0);
    batch *b = f->b;
    assert_sample(b, "dashdot_app_processes", L("app", "/init.scope"), 1);
    assert_sample(b, "dashdot_app_processes", L("app", "/system.slice/nginx.service"), 2);
    /* 200, 201 (unified hierarchy) and 300, 301 (v1: systemd's named hierarchy). */
    assert_sample(b, "dashdot_app_processes", L("app", "/user.slice/user-1000.slice"), 4);
}

static void test_hostile(void **state)
{
    fx *f = *state;
    double t = tck(), p = page();
    void *st = NULL;
    /* Malformed stat files (garbage, overflowing or negative numbers, a pid that is not the
     * directory's, too few fields) are skipped and reported as -EINVAL; the rest is counted. */
    assert_int_equal(call(&st, HOSTILE, T1, f->b), -EINVAL);
    batch *b = f->b;
    assert_sample(b, "dashdot_app_processes", L("app", ") ("), 1);
    assert_sample(b, TOPCPU, L("rank", "2", "pid", "13", "comm", ") (", "app", ") ("),
                  7 / t / (1000 - 1 / t));
    assert_sample(b, "dashdot_app_memory_rss_bytes", L("app", "huge"), 18446744073709551615.0 * p);
    assert_sample(b, "dashdot_app_processes", L("app", "badio"), 1);
    assert_no_sample(b, "dashdot_app_io_read_bytes_total", L("app", "badio"));
    /* Control bytes and broken UTF-8 in a name become '?'; a long name is cut. */
    assert_sample(b, "dashdot_app_processes", L("app", "x????"), 1);
    char longname[64];
    memset(longname, 'x', 63);
    longname[63] = '\0';
    assert_sample(b, "dashdot_app_processes", L("app", longname), 1);
    static const char *const skipped[] = {"hello", "overflow", "liar", "short", "neg", "nostate"};
    for (size_t i = 0; i < sizeof skipped / sizeof skipped[0]; i++)
        assert_no_sample(b, "dashdot_app_processes", L("app", skipped[i]));
    coll_procs_free(st);
    /* Counters saturate rather than wrap: pid 11 goes from 0 to 2^63 + 1000 ticks twice
     * (hostile2, hostile, hostile2 where the ticks "went back", hostile). */
    st = NULL;
    assert_int_equal(call(&st, FIXTURES "/procs/hostile2/proc", T1, f->b), 0);
    assert_int_equal(call(&st, HOSTILE, T1 + 1000, f->b), -EINVAL);
    assert_sample(b, CPU, L("app", "huge", "mode", "user"), 9223372036854776808.0 / t);
    assert_int_equal(call(&st, FIXTURES "/procs/hostile2/proc", T1 + 2000, f->b), 0);
    assert_int_equal(call(&st, HOSTILE, T1 + 3000, f->b), -EINVAL);
    assert_sample(b, CPU, L("app", "huge", "mode", "system"), 18446744073709551615.0 / t);
    coll_procs_free(st);
    /* A missing /proc adds nothing. */
    st = NULL;
    assert_int_equal(call(&st, FIXTURES "/procs/none", T1, f->b), 0);
    assert_int_equal(batch_count(f->b), 0);
    coll_procs_free(st);
    /* Through coll_run_all the failure is counted and the samples kept. */
    assert_int_equal(round_at(f, HOSTILE, T1), 1);
    assert_sample(b, "dashdot_app_processes", L("app", ") ("), 1);
}

static void test_alloc_failures(void **state)
{
    fx *f = *state;
    int ok = 0;
    for (long k = 0; k < 200 && !ok; k++) {
        void *st = NULL;
        mem_fail_after(k);
        int rc1 = call(&st, R1, T1, f->b);
        int rc2 = call(&st, R2, T2, f->b);
        mem_fail_after(-1);
        if (rc1 && rc1 != -ENOMEM)
            fail_msg("round 1 with %ld allocations: %d", k, rc1);
        if (rc2 && rc2 != -ENOMEM)
            fail_msg("round 2 with %ld allocations: %d", k, rc2);
        /* Whatever failed, the state stays usable. */
        assert_int_equal(call(&st, R2, T2 + 1000, f->b), 0);
        coll_procs_free(st);
        ok = rc1 == 0 && rc2 == 0;
    }
    assert_true(ok);
}

static void test_steady_round_allocates_nothing(void **state)
{
    fx *f = *state;
    void *st = NULL;
    assert_int_equal(call(&st, R1, T1, f->b), 0);
    assert_int_equal(call(&st, R2, T2, f->b), 0);
    assert_int_equal(call(&st, R2, T2 + 1000, f->b), 0);
    unsigned long before = mem_allocations();
    assert_int_equal(call(&st, R2, T2 + 2000, f->b), 0);
    assert_int_equal(mem_allocations(), before);
    coll_procs_free(st);
}

static void test_parse_group(void **state)
{
    (void)state;
    procs_group g;
    assert_int_equal(procs_parse_group("exe", &g), 0);
    assert_int_equal(g, PROCS_GROUP_EXE);
    assert_int_equal(procs_parse_group("user", &g), 0);
    assert_int_equal(g, PROCS_GROUP_USER);
    assert_int_equal(procs_parse_group("cgroup", &g), 0);
    assert_int_equal(g, PROCS_GROUP_CGROUP);
    assert_int_equal(procs_parse_group("Exe", &g), -EINVAL);
    assert_int_equal(procs_parse_group("", &g), -EINVAL);
}

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* The live host: our own process is listed with its name, two rounds work (the second through
 * the kept stat descriptors), and freeing the state closes every descriptor it kept. */
static void test_live(void **state)
{
    fx *f = *state;
    void *st = NULL;
    int fds = open_fds();
    coll_env env = {"/proc", "/sys", "", 0, NULL, &st, 1000};
    batch_reset(f->b, 1000);
    assert_int_equal(coll_procs(&env, f->b), 0);
    env.now_ms = 2000;
    batch_reset(f->b, 2000);
    assert_int_equal(coll_procs(&env, f->b), 0);
    double v;
    assert_true(batch_find(f->b, "dashdot_app_processes", L("app", "test_procs"), &v));
    assert_true(v >= 1);
    assert_true(open_fds() > fds); /* stat descriptors kept */
    coll_procs_free(st);
    assert_int_equal(open_fds(), fds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round1_exe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_cgroup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_steady_round_allocates_nothing, setup, teardown),
        cmocka_unit_test(test_parse_group),
        cmocka_unit_test_setup_teardown(test_live, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
