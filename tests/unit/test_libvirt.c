/* test_libvirt: the VM collector through libvirt's in-process test driver (test:///default and
 * the domains of tests/fixtures/libvirt/node.xml), every metric and label of a full stats
 * record built by hand (the test driver only reports the state group), the connection
 * backoff, the socket check, the inventory list, and allocation failures. */
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
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NODE_URI "test://" FIXTURES "/libvirt/node.xml"
#define BAD_URI "test:///nonexistent.xml"
/* proc and sys roots without qemu cgroups, so the host's own never enter a test. */
#define NOWHERE FIXTURES "/libvirt/nowhere"


#define WEB "domain", "web-1", "uuid", "6695eb01-f6a4-8304-79aa-97f2502e193f"
#define DB "domain", "db-1", "uuid", "1b9f2c63-6e1f-4c2a-9d3e-5a7b8c9d0e1f"
#define OLD "domain", "old-vm", "uuid", "e3a1d6b0-0000-4000-8000-00000000abcd"



static int setup(void **state)
{
    batch *b = NULL;
    if (batch_new(&b, "host:9100", "node") != 0)
        return -1;
    batch_reset(b, 1700000000000);
    *state = b;
    coll_libvirt_set_uri(NULL);
    return 0;
}

static int teardown(void **state)
{
    batch_free(*state);
    coll_libvirt_set_uri(NULL);
    return 0;
}

/* An environment whose collector state is *slot, at time now_ms. */
static coll_env env_at(void **slot, int64_t now_ms)
{
    coll_env e = {NOWHERE, NOWHERE, "", 0, NULL, slot, now_ms};
    return e;
}

/* Runs one round into a freshly reset batch. */
static int round_at(batch *b, void **slot, int64_t now_ms)
{
    coll_env e = env_at(slot, now_ms);
    batch_reset(b, 1700000000000);
    return coll_libvirt(&e, b);
}

/* ---- stderr capture: libvirt must not print its errors ---------------------------------- */

typedef struct capture {
    int saved;
    FILE *f;
} capture;

static void capture_start(capture *c)
{
    fflush(stderr);
    c->f = tmpfile();
    assert_non_null(c->f);
    c->saved = dup(STDERR_FILENO);
    assert_true(c->saved >= 0);
    assert_true(dup2(fileno(c->f), STDERR_FILENO) >= 0);
}

/* Restores stderr and returns what was written meanwhile (caller frees). */
static char *capture_end(capture *c)
{
    fflush(stderr);
    assert_true(dup2(c->saved, STDERR_FILENO) >= 0);
    close(c->saved);
    long n = ftell(c->f);
    assert_true(n >= 0);
    char *s = calloc(1, (size_t)n + 1);
    assert_non_null(s);
    rewind(c->f);
    assert_int_equal(fread(s, 1, (size_t)n, c->f), (size_t)n);
    fclose(c->f);
    return s;
}

static void assert_json(json_t *j, const char *want)
{
    assert_non_null(j);
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(s);
    assert_string_equal(s, want);
    free(s);
    json_decref(j);
}

/* ---- the test driver ------------------------------------------------------------------- */

static void test_default_driver(void **state)
{
    batch *b = *state;
    void *st = NULL;
    coll_libvirt_set_uri("test:///default");
    assert_int_equal(round_at(b, &st, 1000), 0);
    assert_non_null(st);
    const char *const dom[] = {"domain", "test", "uuid", "6695eb01-f6a4-8304-79aa-97f2502e193f",
                               NULL};
    assert_sample(b, "libvirt_up", NULL, 1);
    assert_sample(b, "libvirt_domain_info_state", dom, 1);
    assert_sample(b, "libvirt_domain_info_vcpus", dom, 2);
    assert_sample(b, "libvirt_domain_info_memory_usage_bytes", dom, 2097152.0 * 1024);
    assert_sample(b, "libvirt_domain_info_maximum_memory_bytes", dom, 8388608.0 * 1024);
    double cpu;
    assert_true(batch_find(b, "libvirt_domain_info_cpu_time_seconds_total", dom, &cpu));
    assert_true(cpu > 0);
    /* 1 + state, vcpus, cpu, memory, maximum memory. */
    assert_int_equal(batch_count(b), 6);
    coll_libvirt_counts c = coll_libvirt_counters(st);
    assert_int_equal(c.connects, 1);
    assert_int_equal(c.connected, 1);
    coll_libvirt_free(st);
}

static void test_fixture_domains(void **state)
{
    batch *b = *state;
    void *st = NULL;
    coll_libvirt_set_uri(NULL);
    coll_libvirt_set_uri(NODE_URI);
    assert_int_equal(round_at(b, &st, 1000), 0);
    assert_sample(b, "libvirt_up", NULL, 1);
    assert_sample(b, "libvirt_domain_info_state", L(WEB), 1);
    assert_sample(b, "libvirt_domain_info_state", L(DB), 3);
    assert_sample(b, "libvirt_domain_info_state", L(OLD), 5);
    assert_sample(b, "libvirt_domain_info_vcpus", L(WEB), 4);
    assert_sample(b, "libvirt_domain_info_vcpus", L(DB), 2);
    assert_sample(b, "libvirt_domain_info_vcpus", L(OLD), 1);
    assert_sample(b, "libvirt_domain_info_memory_usage_bytes", L(WEB), 2097152.0 * 1024);
    assert_sample(b, "libvirt_domain_info_memory_usage_bytes", L(DB), 8388608.0 * 1024);
    assert_sample(b, "libvirt_domain_info_memory_usage_bytes", L(OLD), 1048576.0 * 1024);
    assert_sample(b, "libvirt_domain_info_maximum_memory_bytes", L(WEB), 4194304.0 * 1024);
    assert_sample(b, "libvirt_domain_info_maximum_memory_bytes", L(DB), 8388608.0 * 1024);
    assert_sample(b, "libvirt_domain_info_maximum_memory_bytes", L(OLD), 1048576.0 * 1024);
    double v;
    assert_true(batch_find(b, "libvirt_domain_info_cpu_time_seconds_total", L(WEB), &v));
    /* The test driver has no block, net or balloon-statistics groups. */
    assert_no_sample(b, "libvirt_domain_block_stats_read_bytes_total",
                     L(WEB, "target_device", "vda"));
    assert_no_sample(b, "libvirt_domain_memory_stats_rss_bytes", L(WEB));
    assert_int_equal(batch_count(b), 1 + 3 * 5);

    /* The next rounds reuse the connection. */
    assert_int_equal(round_at(b, &st, 2000), 0);
    assert_int_equal(round_at(b, &st, 3000), 0);
    assert_int_equal(batch_count(b), 1 + 3 * 5);
    assert_int_equal(coll_libvirt_counters(st).connects, 1);

    /* Another URI: the state reconnects and its domain list follows. */
    coll_libvirt_set_uri("test:///default");
    assert_int_equal(round_at(b, &st, 4000), 0);
    assert_int_equal(coll_libvirt_counters(st).connects, 2);
    assert_int_equal(batch_count(b), 6);
    assert_no_sample(b, "libvirt_domain_info_state", L(WEB));
    coll_libvirt_free(st);
}

/* A direct call without a place for state: a connection for this call only. */
static void test_no_state(void **state)
{
    batch *b = *state;
    coll_libvirt_set_uri(NODE_URI);
    coll_env e = {NOWHERE, NOWHERE, "", 0, NULL, NULL, 1000};
    assert_int_equal(coll_libvirt(&e, b), 0);
    assert_int_equal(batch_count(b), 1 + 3 * 5);
    assert_sample(b, "libvirt_domain_info_vcpus", L(WEB), 4);
}

/* Through the collector table, with the state kept in a descriptor cache across rounds. */
static void test_run_all(void **state)
{
    batch *b = *state;
    coll_cache *cache = NULL;
    assert_int_equal(coll_cache_new(&cache), 0);
    coll_libvirt_set_uri(NODE_URI);
    coll_env e = {NOWHERE, NOWHERE, "", 0, cache, NULL, 1000};
    const char *const only[] = {"libvirt", NULL};
    for (int i = 0; i < 3; i++) {
        batch_reset(b, 1700000000000);
        e.round = (uint64_t)i;
        e.now_ms += 1000;
        assert_int_equal(coll_run_all(&e, only, b), 0);
        assert_int_equal(batch_count(b), 1 + 3 * 5);
        assert_sample(b, "libvirt_domain_info_state", L(DB), 3);
    }
    coll_cache_free(cache); /* closes the connection (ASan would see it leak otherwise) */
}

/* ---- every metric and label of a full record ------------------------------------------ */

static virTypedParameterPtr full_record(int *n)
{
    virTypedParameterPtr p = NULL;
    int max = 0;
    *n = 0;
    assert_int_equal(virTypedParamsAddInt(&p, n, &max, "state.state", 1), 0);
    assert_int_equal(virTypedParamsAddInt(&p, n, &max, "state.reason", 1), 0);
    assert_int_equal(virTypedParamsAddULLong(&p, n, &max, "cpu.time", 123456789012ULL), 0);
    assert_int_equal(virTypedParamsAddULLong(&p, n, &max, "cpu.user", 100000000000ULL), 0);
    assert_int_equal(virTypedParamsAddULLong(&p, n, &max, "balloon.current", 2097152), 0);
    assert_int_equal(virTypedParamsAddULLong(&p, n, &max, "balloon.maximum", 4194304), 0);
    assert_int_equal(virTypedParamsAddULLong(&p, n, &max, "balloon.rss", 1500000), 0);
    assert_int_equal(virTypedParamsAddULLong(&p, n, &max, "balloon.available", 2000000), 0);
    assert_int_equal(virTypedParamsAddULLong(&p, n, &max, "balloon.unused", 600000), 0);
    assert_int_equal(virTypedParamsAddUInt(&p, n, &max, "vcpu.current", 4), 0);
    assert_int_equal(virTypedParamsAddUInt(&p, n, &max, "vcpu.maximum", 8), 0);
    assert_int_equal(virTypedParamsAddUInt(&p, n, &max, "block.count", 3), 0);
    assert_int_equal(virTypedParamsAddString(&p, n, &max, "block.0.name", "vda"), 0);
    assert_int_equal(virTypedParamsAddULLong(&p, n, &max, "block.0.rd.bytes", 1000), 0);
    assert_int_equal(virTypedParamsAddULLong(&p, n, &max, "block.0.wr.bytes", 2000), 0);
    assert_int_equal(virTypedParamsAddULLong(&p, n, &max, "block.0.rd.reqs", 10), 0);
    assert_int_equal(virTypedParamsAddULLong(&p, n, &max, "block.0.wr.reqs", 20), 0);
    assert_int_equal(virTypedParamsAddString(&p, n, &max, "block.1.name", "vdb"), 0);
    assert_int_equal(virTypedParamsAddULLong(&p, n, &max, "block.1.rd.bytes", 3000), 0);
    assert_int_equal(virTypedParamsAddULLong(&p, n, &max, "block.1.wr.bytes", 4000), 0);
    assert_int_equal(virTypedParamsAddULLong(&p, n, &max, "block.1.rd.reqs", 30), 0);
    assert_int_equal(virTypedParamsAddULLong(&p, n, &max, "block.1.wr.reqs", 40), 0);
    /* block.2 has no name (a cdrom without media may appear so): skipped. */
    assert_int_equal(virTypedParamsAddULLong(&p, n, &max, "block.2.rd.bytes", 5), 0);
    assert_int_equal(virTypedParamsAddUInt(&p, n, &max, "net.count", 1), 0);
    assert_int_equal(virTypedParamsAddString(&p, n, &max, "net.0.name", "vnet0"), 0);
    assert_int_equal(virTypedParamsAddULLong(&p, n, &max, "net.0.rx.bytes", 11), 0);
    assert_int_equal(virTypedParamsAddULLong(&p, n, &max, "net.0.tx.bytes", 12), 0);
    assert_int_equal(virTypedParamsAddULLong(&p, n, &max, "net.0.rx.pkts", 13), 0);
    assert_int_equal(virTypedParamsAddULLong(&p, n, &max, "net.0.tx.pkts", 14), 0);
    assert_int_equal(virTypedParamsAddULLong(&p, n, &max, "net.0.rx.errs", 15), 0);
    assert_int_equal(virTypedParamsAddULLong(&p, n, &max, "net.0.tx.errs", 16), 0);
    assert_int_equal(virTypedParamsAddULLong(&p, n, &max, "net.0.rx.drop", 17), 0);
    assert_int_equal(virTypedParamsAddULLong(&p, n, &max, "net.0.tx.drop", 18), 0);
    return p;
}

static void test_emit_full(void **state)
{
    batch *b = *state;
    int n;
    virTypedParameterPtr p = full_record(&n);
    /* info is ignored where the record has the figure. */
    virDomainInfo info = {5, 1, 1, 99, 77};
    assert_int_equal(
        coll_libvirt_emit("web-1", "6695eb01-f6a4-8304-79aa-97f2502e193f", p, n, &info, b), 0);
    virTypedParamsFree(p, n);
    assert_sample(b, "libvirt_domain_info_state", L(WEB), 1);
    assert_sample(b, "libvirt_domain_info_vcpus", L(WEB), 4);
    assert_sample(b, "libvirt_domain_info_cpu_time_seconds_total", L(WEB), 123456789012e-9);
    assert_sample(b, "libvirt_domain_info_memory_usage_bytes", L(WEB), 2097152.0 * 1024);
    assert_sample(b, "libvirt_domain_info_maximum_memory_bytes", L(WEB), 4194304.0 * 1024);
    assert_sample(b, "libvirt_domain_memory_stats_rss_bytes", L(WEB), 1500000.0 * 1024);
    assert_sample(b, "libvirt_domain_memory_stats_available_bytes", L(WEB), 2000000.0 * 1024);
    assert_sample(b, "libvirt_domain_memory_stats_unused_bytes", L(WEB), 600000.0 * 1024);
    const char *const vda[] = {WEB, "target_device", "vda", NULL};
    const char *const vdb[] = {WEB, "target_device", "vdb", NULL};
    const char *const vnet[] = {WEB, "target_device", "vnet0", NULL};
    assert_sample(b, "libvirt_domain_block_stats_read_bytes_total", vda, 1000);
    assert_sample(b, "libvirt_domain_block_stats_write_bytes_total", vda, 2000);
    assert_sample(b, "libvirt_domain_block_stats_read_requests_total", vda, 10);
    assert_sample(b, "libvirt_domain_block_stats_write_requests_total", vda, 20);
    assert_sample(b, "libvirt_domain_block_stats_read_bytes_total", vdb, 3000);
    assert_sample(b, "libvirt_domain_block_stats_write_bytes_total", vdb, 4000);
    assert_sample(b, "libvirt_domain_block_stats_read_requests_total", vdb, 30);
    assert_sample(b, "libvirt_domain_block_stats_write_requests_total", vdb, 40);
    assert_sample(b, "libvirt_domain_interface_stats_receive_bytes_total", vnet, 11);
    assert_sample(b, "libvirt_domain_interface_stats_transmit_bytes_total", vnet, 12);
    assert_sample(b, "libvirt_domain_interface_stats_receive_packets_total", vnet, 13);
    assert_sample(b, "libvirt_domain_interface_stats_transmit_packets_total", vnet, 14);
    assert_sample(b, "libvirt_domain_interface_stats_receive_errors_total", vnet, 15);
    assert_sample(b, "libvirt_domain_interface_stats_transmit_errors_total", vnet, 16);
    assert_sample(b, "libvirt_domain_interface_stats_receive_drops_total", vnet, 17);
    assert_sample(b, "libvirt_domain_interface_stats_transmit_drops_total", vnet, 18);
    /* 8 per-domain + 2 × 4 block + 8 net; nothing else (no cpu.user, no nameless block.2). */
    assert_int_equal(batch_count(b), 8 + 8 + 8);
}

/* A record with the state only (inactive domain, or a driver without the other groups). */
static void test_emit_partial(void **state)
{
    batch *b = *state;
    virTypedParameterPtr p = NULL;
    int n = 0, max = 0;
    assert_int_equal(virTypedParamsAddInt(&p, &n, &max, "state.state", 5), 0);
    assert_int_equal(virTypedParamsAddUInt(&p, &n, &max, "block.count", 100000), 0);
    assert_int_equal(virTypedParamsAddString(&p, &n, &max, "block.0.name", "vda"), 0);
    /* A counter of an unexpected type is skipped, not misread. */
    assert_int_equal(virTypedParamsAddString(&p, &n, &max, "block.0.rd.bytes", "x"), 0);
    assert_int_equal(virTypedParamsAddULLong(&p, &n, &max, "block.0.wr.bytes", 7), 0);
    assert_int_equal(
        coll_libvirt_emit("old-vm", "e3a1d6b0-0000-4000-8000-00000000abcd", p, n, NULL, b), 0);
    assert_sample(b, "libvirt_domain_info_state", L(OLD), 5);
    assert_sample(b, "libvirt_domain_block_stats_write_bytes_total", L(OLD, "target_device", "vda"),
                  7);
    assert_int_equal(batch_count(b), 2);

    /* With info, the missing domain figures come from it. */
    batch_reset(b, 1700000000000);
    virDomainInfo info = {5, 1048576, 524288, 2, 3000000000ULL};
    assert_int_equal(
        coll_libvirt_emit("old-vm", "e3a1d6b0-0000-4000-8000-00000000abcd", p, n, &info, b), 0);
    virTypedParamsFree(p, n);
    assert_sample(b, "libvirt_domain_info_state", L(OLD), 5);
    assert_sample(b, "libvirt_domain_info_vcpus", L(OLD), 2);
    assert_sample(b, "libvirt_domain_info_cpu_time_seconds_total", L(OLD), 3);
    assert_sample(b, "libvirt_domain_info_memory_usage_bytes", L(OLD), 524288.0 * 1024);
    assert_sample(b, "libvirt_domain_info_maximum_memory_bytes", L(OLD), 1048576.0 * 1024);
    assert_int_equal(batch_count(b), 6);

    /* No record at all and no info: nothing. */
    batch_reset(b, 1700000000000);
    assert_int_equal(coll_libvirt_emit("x", "u", NULL, 0, NULL, b), 0);
    assert_int_equal(batch_count(b), 0);
}

/* A domain whose name the batch refuses (over 4096 bytes) is skipped; the others stay. */
static void test_long_name(void **state)
{
    batch *b = *state;
    char path[] = "/tmp/dd-libvirt-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fprintf(f, "<node><domain type='test'><name>");
    for (int i = 0; i < 5000; i++)
        fputc('x', f);
    fprintf(f, "</name><uuid>11111111-2222-3333-4444-555555555555</uuid><memory>1024</memory>"
               "<os><type>hvm</type></os></domain>"
               "<domain type='test'><name>ok</name><uuid>11111111-2222-3333-4444-666666666666"
               "</uuid><memory>2048</memory><vcpu>3</vcpu><os><type>hvm</type></os></domain>"
               "</node>\n");
    fclose(f);
    char uri[64];
    snprintf(uri, sizeof uri, "test://%s", path);
    coll_libvirt_set_uri(uri);
    void *st = NULL;
    assert_int_equal(round_at(b, &st, 1000), -EINVAL);
    const char *const ok[] = {"domain", "ok", "uuid", "11111111-2222-3333-4444-666666666666", NULL};
    assert_sample(b, "libvirt_up", NULL, 1);
    assert_sample(b, "libvirt_domain_info_vcpus", ok, 3);
    coll_env e = env_at(&st, 1000);
    assert_json(coll_libvirt_inventory(&e),
                "[{\"memory_bytes\":2097152,\"name\":\"ok\",\"state\":\"running\","
                "\"uuid\":\"11111111-2222-3333-4444-666666666666\",\"vcpus\":3}]");
    coll_libvirt_free(st);
    assert_int_equal(unlink(path), 0);
}

/* ---- failures, backoff, socket check ---------------------------------------------------- */

static void test_bad_uri_backoff(void **state)
{
    batch *b = *state;
    void *st = NULL;
    capture cap;
    coll_libvirt_set_uri(BAD_URI);

    capture_start(&cap);
    assert_int_equal(round_at(b, &st, 100000), 0);
    char *first = capture_end(&cap);
    assert_sample(b, "libvirt_up", NULL, 0);
    assert_int_equal(batch_count(b), 1);
    coll_libvirt_counts c = coll_libvirt_counters(st);
    assert_int_equal(c.connects, 1);
    assert_int_equal(c.connected, 0);
    /* Our one warning, and none of libvirt's default error printing ("libvirt: ... error :"). */
    assert_non_null(strstr(first, "cannot connect to " BAD_URI));
    assert_null(strstr(first, "error : "));
    free(first);

    /* Within the backoff: no new attempt, libvirt_up 0 again, and not a byte on stderr. */
    capture_start(&cap);
    assert_int_equal(round_at(b, &st, 101000), 0);
    assert_int_equal(round_at(b, &st, 100000 + COLL_LIBVIRT_RETRY_MS - 1), 0);
    char *second = capture_end(&cap);
    assert_string_equal(second, "");
    free(second);
    assert_sample(b, "libvirt_up", NULL, 0);
    assert_int_equal(coll_libvirt_counters(st).connects, 1);

    /* After it: one more attempt, which fails quietly (already logged). */
    capture_start(&cap);
    assert_int_equal(round_at(b, &st, 100000 + COLL_LIBVIRT_RETRY_MS), 0);
    char *third = capture_end(&cap);
    assert_null(strstr(third, "cannot connect"));
    assert_null(strstr(third, "error : "));
    free(third);
    assert_int_equal(coll_libvirt_counters(st).connects, 2);
    assert_sample(b, "libvirt_up", NULL, 0);

    /* The URI fixed (--libvirt-uri changed): connects at once. */
    coll_libvirt_set_uri(NODE_URI);
    assert_int_equal(round_at(b, &st, 100000 + COLL_LIBVIRT_RETRY_MS + 1000), 0);
    assert_sample(b, "libvirt_up", NULL, 1);
    assert_int_equal(coll_libvirt_counters(st).connects, 3);
    coll_libvirt_free(st);
}

static int have_libvirt_socket(void)
{
    return access("/run/libvirt/libvirt-sock-ro", F_OK) == 0 ||
           access("/run/libvirt/virtqemud-sock-ro", F_OK) == 0 ||
           access("/run/libvirt/virtproxyd-sock-ro", F_OK) == 0;
}

/* The default URI on a host without libvirt: no samples, no connection attempt, and the
 * socket looked for once a minute only. */
static void test_no_socket(void **state)
{
    batch *b = *state;
    void *st = NULL;
    if (have_libvirt_socket())
        skip();
    coll_libvirt_set_uri(NULL);
    assert_int_equal(round_at(b, &st, 5000), 0);
    assert_int_equal(batch_count(b), 0);
    coll_libvirt_counts c = coll_libvirt_counters(st);
    assert_int_equal(c.absent, 1);
    assert_int_equal(c.connects, 0);
    for (int64_t t = 6000; t < 5000 + COLL_LIBVIRT_RETRY_MS; t += 7000)
        assert_int_equal(round_at(b, &st, t), 0);
    assert_int_equal(batch_count(b), 0);
    assert_int_equal(coll_libvirt_counters(st).absent, 1);
    assert_int_equal(round_at(b, &st, 5000 + COLL_LIBVIRT_RETRY_MS), 0);
    assert_int_equal(coll_libvirt_counters(st).absent, 2);
    assert_int_equal(coll_libvirt_counters(st).connects, 0);
    /* The inventory has nothing to say either. */
    coll_env e = env_at(&st, 0);
    assert_null(coll_libvirt_inventory(&e));
    assert_null(coll_libvirt_inventory(NULL));
    coll_libvirt_free(st);
}

static void test_disabled(void **state)
{
    batch *b = *state;
    void *st = NULL;
    coll_libvirt_set_uri("none");
    assert_int_equal(round_at(b, &st, 1000), 0);
    assert_null(st);
    assert_int_equal(batch_count(b), 0);
    assert_null(coll_libvirt_inventory(NULL));
    coll_libvirt_free(NULL);
    coll_libvirt_counts c = coll_libvirt_counters(NULL);
    assert_int_equal(c.connects + c.absent, 0);
}

/* ---- without libvirt: qemu's cgroups ----------------------------------------------------- */

/* Writes len bytes to root/rel, creating the directories on the way. */
static void put(const char *root, const char *rel, const char *data, size_t len)
{
    char path[4096];
    assert_true(snprintf(path, sizeof path, "%s/%s", root, rel) < (int)sizeof path);
    for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
        *p = '/';
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

#define PUT(root, rel, lit) put((root), (rel), (lit), sizeof(lit) - 1)

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_tree(const char *root)
{
    assert_int_equal(nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

#define SLICE "sys/fs/cgroup/machine.slice/"
#define WEB_SCOPE SLICE "machine-qemu\\x2d1\\x2dweb\\x2d1.scope"

/* A cgroup v2 host with four qemu scopes, one other machine and a stopped VM. */
static void make_v2(char *root)
{
    assert_non_null(mkdtemp(root));
    PUT(root, WEB_SCOPE "/cpu.stat",
        "usage_usec 12345678\nuser_usec 10000000\nsystem_usec 2345678\n");
    PUT(root, WEB_SCOPE "/libvirt/emulator/cgroup.procs", "4242\n");
    PUT(root, "proc/4242/cmdline",
        "/usr/bin/qemu-system-x86_64\0-name\0guest=web-1,debug-threads=on\0-uuid\0"
        "6695eb01-f6a4-8304-79aa-97f2502e193f\0-smp\0004\0");
    /* No process to ask: the name from the unit name, no UUID. */
    PUT(root, SLICE "machine-qemu\\x2d2\\x2ddb\\x2d1.scope/cpu.stat", "usage_usec 500000\n");
    /* A comma in the name (qemu doubles it) and an upper-case UUID. */
    PUT(root, SLICE "machine-qemu\\x2d3\\x2dab.scope/cpu.stat",
        "user_usec 1\nusage_usec 2000000\n");
    PUT(root, SLICE "machine-qemu\\x2d3\\x2dab.scope/cgroup.procs", "4343\n");
    PUT(root, "proc/4343/cmdline",
        "qemu-kvm\0-uuid\0E3A1D6B0-0000-4000-8000-00000000ABCD\0-name\0guest=a,,b,debug-threads="
        "on\0");
    /* A process that is not there (exited) and a name without the libvirt id prefix. */
    PUT(root, SLICE "machine-qemu\\x2dlegacy.scope/cpu.stat", "usage_usec 3000000\n");
    PUT(root, SLICE "machine-qemu\\x2dlegacy.scope/cgroup.procs", "99999\n");
    /* Not qemu, stopping (no cpu.stat), garbled: skipped. */
    PUT(root, SLICE "machine-nspawn\\x2dbox.scope/cpu.stat", "usage_usec 1\n");
    PUT(root, SLICE "machine-qemu\\x2d5\\x2dgone.scope/cgroup.procs", "");
    PUT(root, SLICE "machine-qemu\\x2d6\\x2dbad.scope/cpu.stat", "usage_usec x\n");
    PUT(root, SLICE "cgroup.procs", "");
}

static void check_v2(batch *b)
{
    const char *const web[] = {WEB, NULL};
    const char *const db[] = {"domain", "db-1", NULL};
    const char *const ab[] = {"domain", "a,b", "uuid", "e3a1d6b0-0000-4000-8000-00000000abcd",
                              NULL};
    const char *const legacy[] = {"domain", "legacy", NULL};
    assert_sample(b, "libvirt_domain_info_state", web, 1);
    assert_sample(b, "libvirt_domain_info_cpu_time_seconds_total", web, 12345678e-6);
    assert_sample(b, "libvirt_domain_info_state", db, 1);
    assert_sample(b, "libvirt_domain_info_cpu_time_seconds_total", db, 0.5);
    assert_sample(b, "libvirt_domain_info_state", ab, 1);
    assert_sample(b, "libvirt_domain_info_cpu_time_seconds_total", ab, 2);
    assert_sample(b, "libvirt_domain_info_state", legacy, 1);
    assert_sample(b, "libvirt_domain_info_cpu_time_seconds_total", legacy, 3);
}

static void test_cgroups_v2(void **state)
{
    batch *b = *state;
    char root[] = "/tmp/dd-libvirt-XXXXXX";
    char proc[64], sys[64];
    make_v2(root);
    snprintf(proc, sizeof proc, "%s/proc", root);
    snprintf(sys, sizeof sys, "%s/sys", root);
    void *st = NULL;

    /* libvirt unreachable: libvirt_up 0, and the VMs from their cgroups. */
    coll_libvirt_set_uri(BAD_URI);
    coll_env e = {proc, sys, "", 0, NULL, &st, 1000};
    capture cap;
    capture_start(&cap);
    batch_reset(b, 1700000000000);
    assert_int_equal(coll_libvirt(&e, b), 0);
    free(capture_end(&cap));
    assert_sample(b, "libvirt_up", NULL, 0);
    check_v2(b);
    assert_int_equal(batch_count(b), 1 + 4 * 2);

    /* The next round knows the scopes: their command lines are not read again (all removed). */
    rm_tree(proc);
    e.now_ms = 2000;
    batch_reset(b, 1700000000000);
    assert_int_equal(coll_libvirt(&e, b), 0);
    check_v2(b);

    /* A VM stops: its series go, and its scope is forgotten. */
    char gone[256];
    snprintf(gone, sizeof gone, "%s/" WEB_SCOPE, root);
    char cpu[300];
    snprintf(cpu, sizeof cpu, "%s/cpu.stat", gone);
    assert_int_equal(remove(cpu), 0);
    e.now_ms = 3000;
    batch_reset(b, 1700000000000);
    assert_int_equal(coll_libvirt(&e, b), 0);
    assert_no_sample(b, "libvirt_domain_info_state", L(WEB));
    assert_int_equal(batch_count(b), 1 + 3 * 2);

    /* libvirt back: its own figures only. */
    coll_libvirt_set_uri(NODE_URI);
    e.now_ms = 4000;
    batch_reset(b, 1700000000000);
    assert_int_equal(coll_libvirt(&e, b), 0);
    assert_int_equal(batch_count(b), 1 + 3 * 5);
    assert_no_sample(b, "libvirt_domain_info_state", L("domain", "db-1"));
    coll_libvirt_free(st);

    /* On a host without a libvirt socket, the same through the default URI. */
    if (!have_libvirt_socket()) {
        st = NULL;
        coll_libvirt_set_uri(NULL);
        e.now_ms = 5000;
        batch_reset(b, 1700000000000);
        assert_int_equal(coll_libvirt(&e, b), 0);
        assert_no_sample(b, "libvirt_up", NULL);
        assert_int_equal(batch_count(b), 3 * 2);
        coll_libvirt_free(st);
    }
    rm_tree(root);
}

/* cgroup v1 with cpuacct mounted on its own. */
static void test_cgroups_v1(void **state)
{
    batch *b = *state;
    char root[] = "/tmp/dd-libvirt-XXXXXX";
    char proc[64], sys[64];
    assert_non_null(mkdtemp(root));
    PUT(root, "sys/fs/cgroup/cpuacct/machine.slice/machine-qemu\\x2d7\\x2dold.scope/cpuacct.usage",
        "2500000000\n");
    PUT(root,
        "sys/fs/cgroup/cpuacct/machine.slice/machine-qemu\\x2d7\\x2dold.scope/emulator/"
        "cgroup.procs",
        "77\n");
    PUT(root, "proc/77/cmdline",
        "qemu\0-name\0old-vm\0-uuid\0e3a1d6b0-0000-4000-8000-00000000abcd\0");
    snprintf(proc, sizeof proc, "%s/proc", root);
    snprintf(sys, sizeof sys, "%s/sys", root);
    coll_libvirt_set_uri(BAD_URI);
    coll_env e = {proc, sys, "", 0, NULL, NULL, 1000};
    capture cap;
    capture_start(&cap);
    assert_int_equal(coll_libvirt(&e, b), 0);
    free(capture_end(&cap));
    assert_sample(b, "libvirt_domain_info_state", L(OLD), 1);
    assert_sample(b, "libvirt_domain_info_cpu_time_seconds_total", L(OLD), 2.5);
    assert_int_equal(batch_count(b), 3);
    rm_tree(root);
}

/* Allocation failures while scopes are added. */
static void test_cgroups_alloc(void **state)
{
    batch *b = *state;
    char root[] = "/tmp/dd-libvirt-XXXXXX";
    char proc[64], sys[64];
    make_v2(root);
    snprintf(proc, sizeof proc, "%s/proc", root);
    snprintf(sys, sizeof sys, "%s/sys", root);
    coll_libvirt_set_uri(BAD_URI);
    capture cap;
    capture_start(&cap);
    int ok = 0;
    for (long k = 0; k < 100 && !ok; k++) {
        void *st = NULL;
        coll_env e = {proc, sys, "", 0, NULL, &st, 1000};
        batch_reset(b, 1700000000000);
        mem_fail_after(k);
        int rc = coll_libvirt(&e, b);
        mem_fail_after(-1);
        assert_true(rc == 0 || rc == -ENOMEM);
        if (rc == 0) {
            ok = 1;
            check_v2(b);
        }
        coll_libvirt_free(st);
    }
    free(capture_end(&cap));
    assert_true(ok);
    rm_tree(root);
}

/* ---- inventory ------------------------------------------------------------------------- */

static const char node_inventory[] =
    "[{\"memory_bytes\":8589934592,\"name\":\"db-1\",\"state\":\"paused\","
    "\"uuid\":\"1b9f2c63-6e1f-4c2a-9d3e-5a7b8c9d0e1f\",\"vcpus\":2},"
    "{\"memory_bytes\":1073741824,\"name\":\"old-vm\",\"state\":\"shutoff\","
    "\"uuid\":\"e3a1d6b0-0000-4000-8000-00000000abcd\",\"vcpus\":1},"
    "{\"memory_bytes\":4294967296,\"name\":\"web-1\",\"state\":\"running\","
    "\"uuid\":\"6695eb01-f6a4-8304-79aa-97f2502e193f\",\"vcpus\":4}]";

static void test_inventory(void **state)
{
    batch *b = *state;
    void *st = NULL;
    coll_libvirt_set_uri(NODE_URI);

    /* Without a collector state: a connection of its own. */
    assert_json(coll_libvirt_inventory(NULL), node_inventory);
    coll_env none = env_at(&st, 0);
    assert_json(coll_libvirt_inventory(&none), node_inventory);
    assert_null(st);

    /* From the collector's last round. */
    assert_int_equal(round_at(b, &st, 1000), 0);
    coll_env e = env_at(&st, 1000);
    assert_json(coll_libvirt_inventory(&e), node_inventory);

    /* The default test driver. */
    coll_libvirt_set_uri("test:///default");
    assert_null(coll_libvirt_inventory(&e)); /* the state belongs to the old URI */
    assert_int_equal(round_at(b, &st, 2000), 0);
    assert_json(coll_libvirt_inventory(&e),
                "[{\"memory_bytes\":8589934592,\"name\":\"test\",\"state\":\"running\","
                "\"uuid\":\"6695eb01-f6a4-8304-79aa-97f2502e193f\",\"vcpus\":2}]");

    /* Unreachable libvirt: nothing. */
    coll_libvirt_set_uri(BAD_URI);
    capture cap;
    capture_start(&cap);
    assert_null(coll_libvirt_inventory(NULL));
    assert_int_equal(round_at(b, &st, 3000), 0);
    assert_null(coll_libvirt_inventory(&e));
    free(capture_end(&cap));
    coll_libvirt_free(st);
}

/* ---- allocation failures --------------------------------------------------------------- */

static void test_alloc_failures(void **state)
{
    batch *b = *state;
    coll_libvirt_set_uri(NODE_URI);
    int ok = 0;
    for (long k = 0; k < 200 && !ok; k++) {
        void *st = NULL;
        int rc1, rc2;
        batch_reset(b, 1700000000000);
        mem_fail_after(k);
        rc1 = round_at(b, &st, 1000);
        rc2 = round_at(b, &st, 2000);
        coll_env e = env_at(&st, 2000);
        json_t *inv = coll_libvirt_inventory(&e);
        json_t *once = coll_libvirt_inventory(NULL);
        mem_fail_after(-1);
        assert_true(rc1 == 0 || rc1 == -ENOMEM);
        assert_true(rc2 == 0 || rc2 == -ENOMEM);
        if (rc1 == 0 && rc2 == 0 && inv && once) {
            ok = 1;
            assert_sample(b, "libvirt_domain_info_state", L(OLD), 5);
            char *s = json_dumps(inv, JSON_COMPACT | JSON_SORT_KEYS);
            assert_string_equal(s, node_inventory);
            free(s);
        }
        json_decref(inv);
        json_decref(once);
        /* A round after the failures recovers fully with the same state. */
        if (st) {
            batch_reset(b, 1700000000000);
            assert_int_equal(round_at(b, &st, 3000), 0);
            assert_int_equal(batch_count(b), 1 + 3 * 5);
            e = env_at(&st, 3000);
            assert_json(coll_libvirt_inventory(&e), node_inventory);
        }
        coll_libvirt_free(st);
    }
    assert_true(ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_default_driver, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fixture_domains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_emit_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_emit_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_uri_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disabled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cgroups_v2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cgroups_v1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cgroups_alloc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inventory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
