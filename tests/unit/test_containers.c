/* test_containers: the containers collector against fixture trees of /sys/fs/cgroup and /proc
 * (cgroup v2 with Docker, podman and containerd containers, cgroup v1 with Docker; a container
 * in its own network namespace and one on the host's), hostile files, allocation failures, the
 * cgroup name matcher, the engines' answer parser, and names from a fake Docker API served on
 * a unix socket by a child process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/batch.h"
#include "agent/collectors/collector.h"
#include "agent/collectors/collector_int.h"
#include "agent/collectors/containers.h"
#include "agent/engines.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "coll_assert.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CG FIXTURES "/cgroup"
#define DOCKER_ID "d548c5b83fa61d8e3bd86ad42a7ffea9b7c86e3f9d8095c1577d3e1270bb9420"
#define PODMAN_ID "2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9"
#define CRI_ID "3dd15efbff4406c10bdd4d3a5bdf9a0ef3e28e8598cad6250d8fbb589c059af5"
#define PODMAN2_ID "f2e0bd59e1ea4ec5d8e5a2e1d9c1f0ac4ef1ab8d7fa5f7f2e2f0a5a4b8e1c111"
#define PODMAN2_CG "/machine.slice/libpod-" PODMAN2_ID ".scope"
#define V1_ID "4db7eb6ab1f1ef2e856fa307d978efefaceba483e91f689e542975f4434fd9c8"
#define DOCKER_CG "/system.slice/docker-" DOCKER_ID ".scope"
#define PODMAN_CG "/machine.slice/libpod-" PODMAN_ID ".scope"
#define CRI_CG                                                                                     \
    "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podabc.slice/"                    \
    "cri-containerd-" CRI_ID ".scope"
#define V1_CG "/docker/" V1_ID




/* No engine is asked unless a test says so. */
static const engines_opts no_engines = {"", "", NULL, 0};

static int setup(void **state)
{
    batch *b = NULL;
    if (batch_new(&b, "host", "dashdot") != 0)
        return -1;
    batch_reset(b, 1700000000000);
    coll_containers_configure(&no_engines);
    *state = b;
    return 0;
}

static int teardown(void **state)
{
    batch_free(*state);
    coll_containers_configure(NULL);
    return 0;
}

/* Runs the collector once on the tree under CG/<tree> with a fresh state. */
static int run_once(const char *tree, batch *b)
{
    char proc[512], sys[512];
    void *st = NULL;
    snprintf(proc, sizeof proc, "%s/%s/proc", CG, tree);
    snprintf(sys, sizeof sys, "%s/%s/sys", CG, tree);
    coll_env env = {proc, sys, "", 0, NULL, &st, 1700000000000};
    int rc = coll_containers(&env, b);
    coll_containers_free(st);
    return rc;
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void test_v2_docker(void **state)
{
    batch *b = *state;
    assert_int_equal(run_once("v2", b), 0);
    const char *const *id = L("id", DOCKER_CG);
    assert_sample(b, "container_cpu_usage_seconds_total", id, 2.5);
    assert_sample(b, "container_cpu_user_seconds_total", id, 1.875);
    assert_sample(b, "container_cpu_system_seconds_total", id, 0.625);
    assert_sample(b, "container_cpu_cfs_periods_total", id, 100);
    assert_sample(b, "container_cpu_cfs_throttled_periods_total", id, 7);
    assert_sample(b, "container_cpu_cfs_throttled_seconds_total", id, 0.25);
    assert_sample(b, "container_memory_usage_bytes", id, 104857600);
    assert_sample(b, "container_spec_memory_limit_bytes", id, 536870912);
    assert_sample(b, "container_memory_rss", id, 52428800);
    assert_sample(b, "container_memory_cache", id, 26214400);
    assert_sample(b, "container_memory_working_set_bytes", id, 104857600 - 13107200);
    assert_sample(b, "container_oom_events_total", id, 1);
    assert_sample(b, "container_threads", id, 5);
    assert_sample(b, "container_threads_max", id, 100);
    assert_sample(b, "container_fs_reads_bytes_total", L("id", DOCKER_CG, "device", "8:0"), 4096);
    assert_sample(b, "container_fs_writes_bytes_total", L("id", DOCKER_CG, "device", "8:0"), 8192);
    assert_sample(b, "container_fs_reads_total", L("id", DOCKER_CG, "device", "8:0"), 1);
    assert_sample(b, "container_fs_writes_total", L("id", DOCKER_CG, "device", "8:0"), 2);
    assert_sample(b, "container_fs_reads_bytes_total", L("id", DOCKER_CG, "device", "253:1"), 100);
    assert_sample(b, "container_fs_writes_total", L("id", DOCKER_CG, "device", "253:1"), 4);
    assert_sample(b, "container_pressure_cpu_waiting_seconds_total", id, 1.5);
    assert_sample(b, "container_pressure_cpu_stalled_seconds_total", id, 0.5);
    assert_sample(b, "container_pressure_memory_waiting_seconds_total", id, 2);
    assert_sample(b, "container_pressure_memory_stalled_seconds_total", id, 1);
    assert_sample(b, "container_pressure_io_waiting_seconds_total", id, 3);
    assert_sample(b, "container_pressure_io_stalled_seconds_total", id, 2.5);
    /* Its own network namespace: its counters, without the loopback device. */
    const char *const *eth = L("id", DOCKER_CG, "interface", "eth0");
    assert_sample(b, "container_network_receive_bytes_total", eth, 5000000);
    assert_sample(b, "container_network_receive_packets_total", eth, 4000);
    assert_sample(b, "container_network_receive_errors_total", eth, 1);
    assert_sample(b, "container_network_receive_packets_dropped_total", eth, 2);
    assert_sample(b, "container_network_transmit_bytes_total", eth, 3000000);
    assert_sample(b, "container_network_transmit_packets_total", eth, 2500);
    assert_sample(b, "container_network_transmit_errors_total", eth, 3);
    assert_sample(b, "container_network_transmit_packets_dropped_total", eth, 4);
    assert_no_sample(b, "container_network_receive_bytes_total",
                     L("id", DOCKER_CG, "interface", "lo"));
}

static void test_v2_podman_cri(void **state)
{
    batch *b = *state;
    assert_int_equal(run_once("v2", b), 0);
    const char *const *id = L("id", PODMAN_CG);
    assert_sample(b, "container_cpu_usage_seconds_total", id, 1);
    assert_sample(b, "container_memory_usage_bytes", id, 52428800);
    /* "max": no limit, written as 0 as cAdvisor does. */
    assert_sample(b, "container_spec_memory_limit_bytes", id, 0);
    assert_sample(b, "container_threads_max", id, 0);
    /* containerd's container has only cpu.stat: the rest is left out without an error. */
    assert_sample(b, "container_cpu_usage_seconds_total", L("id", CRI_CG), 3);
    assert_no_sample(b, "container_memory_usage_bytes", L("id", CRI_CG));
    char *text = formatted(b);
    /* Host networking (podman) and a vanished process (containerd): no network samples. The
     * second podman container's processes are in its nested "container" cgroup. */
    assert_int_equal(count_of(text, "container_network_receive_bytes_total{"), 2);
    assert_sample(b, "container_network_receive_bytes_total",
                  L("id", PODMAN2_CG, "interface", "tap0"), 5000000);
    assert_sample(b, "container_cpu_usage_seconds_total", L("id", PODMAN2_CG), 0.5);
    /* conmon, podman's nested payload cgroup and plain services are not containers. */
    assert_null(strstr(text, "conmon"));
    assert_null(strstr(text, "/container\""));
    assert_null(strstr(text, "ssh.service"));
    assert_null(strstr(text, "init.scope"));
    assert_int_equal(count_of(text, "container_cpu_usage_seconds_total{"), 4);
    mem_free(text);
}

static void test_v1(void **state)
{
    batch *b = *state;
    assert_int_equal(run_once("v1", b), 0);
    const char *const *id = L("id", V1_CG);
    double hz = (double)sysconf(_SC_CLK_TCK);
    assert_sample(b, "container_cpu_usage_seconds_total", id, 4);
    assert_sample(b, "container_cpu_user_seconds_total", id, 300 / hz);
    assert_sample(b, "container_cpu_system_seconds_total", id, 100 / hz);
    assert_sample(b, "container_cpu_cfs_periods_total", id, 50);
    assert_sample(b, "container_cpu_cfs_throttled_periods_total", id, 5);
    assert_sample(b, "container_cpu_cfs_throttled_seconds_total", id, 1.5);
    assert_sample(b, "container_memory_usage_bytes", id, 209715200);
    assert_sample(b, "container_spec_memory_limit_bytes", id, 0);
    assert_sample(b, "container_memory_rss", id, 104857600);
    assert_sample(b, "container_memory_cache", id, 10485760);
    assert_sample(b, "container_memory_working_set_bytes", id, 209715200 - 4194304);
    assert_sample(b, "container_oom_events_total", id, 2);
    assert_sample(b, "container_fs_reads_bytes_total", L("id", V1_CG, "device", "8:0"), 1024);
    assert_sample(b, "container_fs_writes_bytes_total", L("id", V1_CG, "device", "8:0"), 2048);
    assert_sample(b, "container_fs_reads_total", L("id", V1_CG, "device", "8:0"), 10);
    assert_sample(b, "container_fs_writes_total", L("id", V1_CG, "device", "8:0"), 20);
    assert_sample(b, "container_threads", id, 12);
    assert_sample(b, "container_threads_max", id, 0);
    assert_sample(b, "container_network_receive_bytes_total", L("id", V1_CG, "interface", "eth1"),
                  5000000);
    /* LXC's lxc/<name> layout: the name is the id. */
    assert_sample(b, "container_cpu_usage_seconds_total", L("id", "/lxc/web"), 1.5);
    assert_sample(b, "container_memory_usage_bytes", L("id", "/lxc/web"), 1048576);
    char *text = formatted(b);
    assert_null(strstr(text, "cron.service"));
    assert_null(strstr(text, "pressure"));
    mem_free(text);
}

static void test_hostile(void **state)
{
    batch *b = *state;
    /* Every file of one container is malformed: a clear error, no crash, and the healthy
     * container next to it still reports. */
    assert_int_equal(run_once("bad", b), -EINVAL);
    assert_sample(b, "container_cpu_usage_seconds_total", L("id", DOCKER_CG), 2.5);
    assert_sample(b, "container_oom_events_total", L("id", DOCKER_CG), 1);
    char *text = formatted(b);
    assert_null(strstr(text, "2f05d4b689d270cafb02285f35f44866f7dc8a2d368a3f9d1124373eeab31fb1."
                             "scope\"} 99"));
    mem_free(text);
    /* The one well-formed file of the broken container is still read. */
    assert_sample(b, "container_pressure_io_waiting_seconds_total",
                  L("id", "/system.slice/docker-"
                          "2f05d4b689d270cafb02285f35f44866f7dc8a2d368a3f9d1124373eeab31fb1.scope"),
                  7e-6);
}

static void test_missing(void **state)
{
    batch *b = *state;
    assert_int_equal(run_once("nonexistent", b), 0);
    assert_int_equal(batch_count(b), 0);
    /* A label allow-list the engines refuse is a clear error (the agent checks it earlier). */
    engines_opts bad = {"", "", "a,,b", 0};
    coll_containers_configure(&bad);
    assert_int_equal(run_once("v2", b), -EINVAL);
}

/* Rounds with a descriptor cache: the state keeps the containers and open descriptors, and
 * a second round reads the same values through them. */
static void test_rounds(void **state)
{
    batch *b = *state;
    coll_cache *cache = NULL;
    void *st = NULL;
    assert_int_equal(coll_cache_new(&cache), 0);
    coll_env env = {CG "/v2/proc", CG "/v2/sys", "", 0, cache, &st, 1700000000000};
    for (int round = 0; round < 3; round++) {
        batch_reset(b, 1700000000000 + round * 1000);
        env.now_ms = 1700000000000 + round * 1000;
        env.round = (uint64_t)round;
        unsigned long before = mem_allocations();
        assert_int_equal(coll_containers(&env, b), 0);
        /* A steady round (no rescan) allocates nothing. */
        if (round > 0)
            assert_int_equal(mem_allocations(), before);
        assert_sample(b, "container_cpu_usage_seconds_total", L("id", DOCKER_CG), 2.5);
        assert_sample(b, "container_network_transmit_bytes_total",
                      L("id", DOCKER_CG, "interface", "eth0"), 3000000);
    }
    /* Past the rescan interval the walk runs again and finds the same containers. */
    batch_reset(b, 1700000020000);
    env.now_ms = 1700000020000;
    assert_int_equal(coll_containers(&env, b), 0);
    char *text = formatted(b);
    assert_int_equal(count_of(text, "container_cpu_usage_seconds_total{"), 4);
    mem_free(text);
    coll_containers_free(st);
    coll_cache_free(cache);
}

static void test_match(void **state)
{
    (void)state;
    char id[65];
    static const struct {
        const char *name, *parent;
        int want;
        const char *id;
    } cases[] = {
        {"docker-" DOCKER_ID ".scope", "system.slice", 1, DOCKER_ID},
        {DOCKER_ID, "docker", 1, DOCKER_ID},
        {"libpod-" PODMAN_ID ".scope", "machine.slice", 1, PODMAN_ID},
        {"cri-containerd-" CRI_ID ".scope", "x", 1, CRI_ID},
        {"crio-" CRI_ID ".scope", "x", 1, CRI_ID},
        {"crio-conmon-" CRI_ID ".scope", "x", 0, NULL},
        {"libpod-conmon-" PODMAN_ID ".scope", "x", 0, NULL},
        {DOCKER_ID ".scope", "x", 0, NULL},
        {"docker-" DOCKER_ID "0.scope", "x", 0, NULL},
        {"docker-D548c5b83fa61d8e3bd86ad42a7ffea9b7c86e3f9d8095c1577d3e1270bb9420.scope", "x", 0,
         NULL},
        {"docker-.scope", "x", 0, NULL},
        {"docker.service", "system.slice", 0, NULL},
        {"lxc.payload.web", "", 1, "web"},
        {"db", "lxc", 1, "db"},
        {"lxc.payload.", "", 0, NULL},
        {"", "", 0, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = coll_containers_match(cases[i].name, cases[i].parent, id);
        if (got != cases[i].want)
            fail_msg("case %zu (%s): got %d", i, cases[i].name, got);
        if (got)
            assert_string_equal(id, cases[i].id);
    }
}

static void test_engines_parse(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        int rc;
        size_t n;
        const char *err; /* part of the message */
    } cases[] = {
        {"[]", 0, 0, NULL},
        {"[{\"Id\":\"" DOCKER_ID "\",\"Names\":[\"/web\"],\"Image\":\"nginx:1\","
         "\"Labels\":{\"team\":\"a\",\"other\":\"b\"},\"State\":\"running\"}]",
         0, 1, NULL},
        /* podman's libpod answer: names without '/', Labels null. */
        {"[{\"Id\":\"" PODMAN_ID "\",\"Names\":[\"db\"],\"Image\":\"pg\",\"Labels\":null}]", 0, 1,
         NULL},
        /* duplicates are kept once */
        {"[{\"Id\":\"" PODMAN_ID "\"},{\"Id\":\"" PODMAN_ID "\"}]", 0, 1, NULL},
        {"", -EINVAL, 0, "invalid JSON"},
        {"{}", -EINVAL, 0, "not an array"},
        {"[1]", -EINVAL, 0, "not an object"},
        {"[{}]", -EINVAL, 0, "Id"},
        {"[{\"Id\":\"abc\"}]", -EINVAL, 0, "Id"},
        {"[{\"Id\":\"" DOCKER_ID "0\"}]", -EINVAL, 0, "Id"},
        {"[{\"Id\":7}]", -EINVAL, 0, "Id"},
        {"[{\"Id\":\"" DOCKER_ID "\",\"Names\":\"web\"}]", -EINVAL, 0, "Names"},
        {"[{\"Id\":\"" DOCKER_ID "\",\"Names\":[1]}]", -EINVAL, 0, "Names"},
        {"[{\"Id\":\"" DOCKER_ID "\",\"Image\":[]}]", -EINVAL, 0, "Image"},
        {"[{\"Id\":\"" DOCKER_ID "\",\"Labels\":[]}]", -EINVAL, 0, "Labels"},
        {"[{\"Id\":\"" DOCKER_ID "\",\"Labels\":{\"team\":1}}]", -EINVAL, 0, "team"},
        {"[{\"Id\":\"" DOCKER_ID "\",\"Names\":[\"a\\u0000b\"]}]", -EINVAL, 0, "NUL"},
        {"[{\"Id\":\"" DOCKER_ID "\",\"Id\":\"" DOCKER_ID "\"}]", -EINVAL, 0, "invalid JSON"},
        {"[{\"Id\":\"" DOCKER_ID "\"}] x", -EINVAL, 0, "invalid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        engines_list l = {0};
        char err[256];
        int rc = engines_parse(cases[i].body, strlen(cases[i].body), "team", &l, err, sizeof err);
        if (rc != cases[i].rc)
            fail_msg("case %zu: rc %d (%s)", i, rc, err);
        if (!rc)
            assert_int_equal(l.n, cases[i].n);
        if (cases[i].err && !strstr(err, cases[i].err))
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err, cases[i].err);
        if (i == 1) {
            assert_string_equal(l.v[0].name, "web");
            assert_string_equal(l.v[0].image, "nginx:1");
            assert_int_equal(l.v[0].nlabels, 1);
            assert_string_equal(l.v[0].labels[0], "team");
            assert_string_equal(l.v[0].labels[1], "a");
        }
        engines_list_clear(&l);
    }
}

static void test_engines_limits(void **state)
{
    (void)state;
    engines_list l = {0};
    char err[256];
    buf body;
    buf_init(&body, 0);
    /* A string over the cap. */
    buf_puts(&body, "[{\"Id\":\"" DOCKER_ID "\",\"Image\":\"");
    for (int i = 0; i < ENGINES_MAX_STR + 1; i++)
        buf_putc(&body, 'x');
    buf_puts(&body, "\"}]");
    assert_int_equal(engines_parse(body.data, body.len, NULL, &l, err, sizeof err), -E2BIG);
    /* More containers than the cap. */
    buf_reset(&body);
    buf_putc(&body, '[');
    for (int i = 0; i <= ENGINES_MAX_CONTAINERS; i++)
        buf_puts(&body, i ? ",{}" : "{}");
    buf_putc(&body, ']');
    assert_int_equal(engines_parse(body.data, body.len, NULL, &l, err, sizeof err), -E2BIG);
    assert_int_equal(l.n, 0);
    /* A bad allow-list is refused up front. */
    engines *e = NULL;
    engines_opts o = {"", "", "a,,b", 0};
    assert_int_equal(engines_new(&e, &o), -EINVAL);
    o.label_allow = ",a";
    assert_int_equal(engines_new(&e, &o), -EINVAL);
    o.label_allow = "a,b";
    assert_int_equal(engines_new(&e, &o), 0);
    assert_null(engines_lookup(e, DOCKER_ID));
    engines_free(e);
    buf_free(&body);
}

/* ---- a fake Docker API on a unix socket, served by a child process ---- */

static const char fake_body[] =
    "[{\"Id\":\"" DOCKER_ID "\",\"Names\":[\"/web-1\"],\"Image\":\"nginx:1.25\","
    "\"Labels\":{\"com.example.team\":\"payments\",\"secret\":\"x\","
    "\"com_example.team\":\"shadow\"}},"
    "{\"Id\":\"" PODMAN_ID "\",\"Names\":[\"/db\"],\"Image\":\"postgres:16\",\"Labels\":{}}]";

/* Serves `answers` connections on fd with status and body, then exits. */
static void serve(int fd, int status, const char *body, int answers)
{
    for (int i = 0; i < answers; i++) {
        char req[4096], head[256];
        size_t n = 0;
        int c = accept(fd, NULL, NULL);
        if (c < 0)
            _exit(1);
        while (n < sizeof req - 1) {
            ssize_t r = read(c, req + n, sizeof req - 1 - n);
            if (r <= 0)
                break;
            n += (size_t)r;
            req[n] = '\0';
            if (strstr(req, "\r\n\r\n"))
                break;
        }
        int hl = snprintf(head, sizeof head,
                          "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                          "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                          status, strlen(body));
        if (write(c, head, (size_t)hl) < 0 || write(c, body, strlen(body)) < 0)
            _exit(1);
        close(c);
    }
    _exit(0);
}

static pid_t fake_engine(const char *path, int status, const char *body, int answers)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 8), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        serve(fd, status, body, answers);
    close(fd);
    return pid;
}

static void test_names(void **state)
{
    batch *b = *state;
    char dock[108], pod[108];
    snprintf(dock, sizeof dock, "/tmp/dd-test-docker-%d.sock", (int)getpid());
    snprintf(pod, sizeof pod, "/tmp/dd-test-podman-%d.sock", (int)getpid());
    pid_t p1 = fake_engine(dock, 200, fake_body, 1);
    /* podman's socket answers an error: docker's names still arrive. */
    pid_t p2 = fake_engine(pod, 500, "{\"message\":\"down\"}", 1);
    /* Both keys read container_label_com_example_team: the first one in the answer wins. */
    engines_opts o = {dock, pod, "com.example.team,com_example.team", 0};
    coll_containers_configure(&o);
    assert_int_equal(run_once("v2", b), 0);
    assert_sample(b, "container_cpu_usage_seconds_total",
                  L("id", DOCKER_CG, "name", "web-1", "image", "nginx:1.25",
                    "container_label_com_example_team", "payments"),
                  2.5);
    assert_sample(b, "container_network_receive_bytes_total",
                  L("id", DOCKER_CG, "name", "web-1", "image", "nginx:1.25",
                    "container_label_com_example_team", "payments", "interface", "eth0"),
                  5000000);
    assert_sample(b, "container_memory_usage_bytes",
                  L("id", PODMAN_CG, "name", "db", "image", "postgres:16"), 52428800);
    /* Not in any engine's answer: the cgroup path only. */
    assert_sample(b, "container_cpu_usage_seconds_total", L("id", CRI_CG), 3);
    char *text = formatted(b);
    assert_null(strstr(text, "secret"));
    assert_null(strstr(text, "shadow"));
    mem_free(text);
    int st;
    waitpid(p1, &st, 0);
    waitpid(p2, &st, 0);
    unlink(dock);
    unlink(pod);
}

/* The agent's rounds never wait: names arrive within a few rounds, polled without blocking. */
static void test_names_async(void **state)
{
    batch *b = *state;
    char dock[108];
    snprintf(dock, sizeof dock, "/tmp/dd-test-docker-a%d.sock", (int)getpid());
    pid_t p1 = fake_engine(dock, 200, fake_body, 1);
    engines_opts o = {dock, "", NULL, 0};
    coll_containers_configure(&o);
    coll_cache *cache = NULL;
    void *st = NULL;
    assert_int_equal(coll_cache_new(&cache), 0);
    coll_env env = {CG "/v2/proc", CG "/v2/sys", "", 0, cache, &st, 1700000000000};
    int named = 0;
    for (int round = 0; round < 200 && !named; round++) {
        batch_reset(b, env.now_ms);
        assert_int_equal(coll_containers(&env, b), 0);
        double v;
        named = batch_find(b, "container_cpu_usage_seconds_total",
                           L("id", DOCKER_CG, "name", "web-1", "image", "nginx:1.25"), &v);
        usleep(10000);
    }
    assert_true(named);
    coll_containers_free(st);
    coll_cache_free(cache);
    int ws;
    waitpid(p1, &ws, 0);
    unlink(dock);
}

/* An engine that accepts and never answers: a one-shot run gives up after 1.5 s without names,
 * and freeing the state aborts the transfer under way. */
static void test_engine_hangs(void **state)
{
    batch *b = *state;
    char dock[108];
    struct sockaddr_un sa;
    snprintf(dock, sizeof dock, "/tmp/dd-test-docker-h%d.sock", (int)getpid());
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", dock);
    unlink(dock);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 8), 0);
    engines_opts o = {dock, "", NULL, 0};
    coll_containers_configure(&o);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(run_once("v2", b), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(secs >= 1.0 && secs < 3.0);
    assert_sample(b, "container_cpu_usage_seconds_total", L("id", DOCKER_CG), 2.5);
    close(fd);
    unlink(dock);
}

/* The inventory's "containers" list from the last walk, names included. */
static void test_children(void **state)
{
    batch *b = *state;
    char dock[108];
    snprintf(dock, sizeof dock, "/tmp/dd-test-docker-c%d.sock", (int)getpid());
    pid_t p1 = fake_engine(dock, 200, fake_body, 1);
    engines_opts o = {dock, "", NULL, 0};
    coll_containers_configure(&o);
    void *st = NULL;
    json_t *inv = json_object();
    assert_int_equal(coll_containers_children(NULL, inv), 0);
    assert_null(json_object_get(inv, "containers"));
    coll_env env = {CG "/v2/proc", CG "/v2/sys", "", 0, NULL, &st, 1700000000000};
    assert_int_equal(coll_containers(&env, b), 0);
    assert_int_equal(coll_containers_children(st, inv), 0);
    json_t *list = json_object_get(inv, "containers");
    assert_int_equal(json_array_size(list), 4);
    int seen = 0;
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *c = json_array_get(list, i);
        const char *id = json_string_value(json_object_get(c, "id"));
        assert_non_null(id);
        assert_non_null(json_string_value(json_object_get(c, "cgroup")));
        if (strcmp(id, DOCKER_ID) == 0) {
            assert_string_equal(json_string_value(json_object_get(c, "name")), "web-1");
            assert_string_equal(json_string_value(json_object_get(c, "image")), "nginx:1.25");
            assert_string_equal(json_string_value(json_object_get(c, "cgroup")), DOCKER_CG);
            seen++;
        } else if (strcmp(id, CRI_ID) == 0) {
            assert_null(json_object_get(c, "name"));
            seen++;
        }
    }
    assert_int_equal(seen, 2);
    json_decref(inv);
    coll_containers_free(st);
    int ws;
    waitpid(p1, &ws, 0);
    unlink(dock);
}

static void test_alloc_failures(void **state)
{
    (void)state;
    for (long k = 0; k < 200; k++) {
        batch *b = NULL;
        assert_int_equal(batch_new(&b, "host", "dashdot"), 0);
        batch_reset(b, 1);
        mem_fail_after(k);
        int rc = run_once("v2", b);
        mem_fail_after(-1);
        if (rc != 0 && rc != -ENOMEM)
            fail_msg("after %ld allocations: rc %d", k, rc);
        batch_free(b);
    }
    for (long k = 0; k < 40; k++) {
        engines_list l = {0};
        char err[256];
        mem_fail_after(k);
        int rc = engines_parse(fake_body, strlen(fake_body), "com.example.team,secret", &l, err,
                               sizeof err);
        mem_fail_after(-1);
        if (rc != 0 && rc != -ENOMEM)
            fail_msg("parse after %ld allocations: rc %d", k, rc);
        if (!rc)
            assert_int_equal(l.n, 2);
        engines_list_clear(&l);
    }
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_v2_docker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v2_podman_cri, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rounds, setup, teardown),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_engines_parse),
        cmocka_unit_test(test_engines_limits),
        cmocka_unit_test_setup_teardown(test_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names_async, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_hangs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_children, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
