/* test_collectors_net: the vmstat, netstat, sockstat, softnet, entropy, conntrack and schedstat
 * collectors against fixture copies of /proc (exact values, node_exporter's field filters,
 * missing, partial and malformed sources, allocation failures) and one run on the live host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/batch.h"
#include "agent/collectors/collector.h"
#include "agent/collectors/collector_int.h"
#include "lib/mem.h"
#include "coll_assert.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const coll_env fx = {FIXTURES "/proc", FIXTURES "/sys", "", 0, NULL, NULL, 0};
static const coll_env fx_bad = {FIXTURES "/bad/proc", FIXTURES "/bad/sys", "", 0, NULL, NULL, 0};
static const coll_env fx_missing = {FIXTURES "/missing/proc", FIXTURES "/missing/sys", "", 0, NULL, NULL, 0};
static const coll_env live = {"/proc", "/sys", "", 0, NULL, NULL, 0};




/* The collectors under test, by name, for the table-driven cases. */
static const struct {
    const char *name;
    coll_fn fn;
} net_colls[] = {
    {"vmstat", coll_vmstat},       {"netstat", coll_netstat}, {"sockstat", coll_sockstat},
    {"softnet", coll_softnet},     {"entropy", coll_entropy}, {"conntrack", coll_conntrack},
    {"schedstat", coll_schedstat},
};

#define N_COLLS (sizeof net_colls / sizeof net_colls[0])

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

/* ---- scratch /proc trees for partial and malformed cases ---- */

typedef struct tree {
    char dir[64];
    char paths[8][256]; /* files written, removed by tree_free */
    size_t n;
} tree;

static void tree_new(tree *t)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/dashdot-collnet-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    t->n = 0;
}

/* Writes content to <dir>/<rel>, creating directories on the way. */
static void tree_put(tree *t, const char *rel, const char *content)
{
    assert_true(t->n < sizeof t->paths / sizeof t->paths[0]);
    char *path = t->paths[t->n++];
    size_t dl = strlen(t->dir), rl = strlen(rel);
    assert_true(dl + rl < sizeof t->paths[0]);
    memcpy(path, t->dir, dl);
    memcpy(path + dl, rel, rl + 1);
    for (char *p = path + strlen(t->dir) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
        *p = '/';
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

/* Removes the files and then every directory below dir (deepest first, by path length). */
static void tree_free(tree *t)
{
    for (size_t i = 0; i < t->n; i++) {
        unlink(t->paths[i]);
        char *p;
        while ((p = strrchr(t->paths[i], '/')) && p > t->paths[i] + strlen(t->dir)) {
            *p = '\0';
            rmdir(t->paths[i]); /* fails while another file still lives there */
        }
    }
    assert_int_equal(rmdir(t->dir), 0);
}

/* ---- vmstat ---- */

static void test_vmstat(void **state)
{
    batch *b = *state;
    assert_int_equal(coll_vmstat(&fx, b), 0);
    assert_sample(b, "node_vmstat_pgpgin", NULL, 7032573);
    assert_sample(b, "node_vmstat_pgpgout", NULL, 4904452);
    assert_sample(b, "node_vmstat_pswpin", NULL, 12);
    assert_sample(b, "node_vmstat_pswpout", NULL, 34);
    assert_sample(b, "node_vmstat_pgfault", NULL, 31152226);
    assert_sample(b, "node_vmstat_pgmajfault", NULL, 9060);
    assert_sample(b, "node_vmstat_oom_kill", NULL, 2);
    assert_no_sample(b, "node_vmstat_numa_hint_faults", NULL);
    assert_no_sample(b, "node_vmstat_thp_fault_alloc", NULL);
    assert_no_sample(b, "node_vmstat_nr_free_pages", NULL);
    assert_int_equal(batch_count(b), 7);
}

/* node_exporter's ^(oom_kill|pgpg|pswp|pg.*fault).* */
static void test_vmstat_filter(void **state)
{
    (void)state;
    static const struct {
        const char *field;
        int in;
    } cases[] = {
        {"pgpgin", 1},
        {"pgpgout", 1},
        {"pgpg", 1},
        {"pswpin", 1},
        {"pswpout", 1},
        {"pswp", 1},
        {"oom_kill", 1},
        {"oom_kill_total", 1},
        {"pgfault", 1},
        {"pgmajfault", 1},
        {"pgfaultx", 1},
        {"pg_fault", 1},
        {"pgmajfault_s", 1},
        {"pgfaul", 0},
        {"pg", 0},
        {"p", 0},
        {"", 0},
        {"thp_fault_alloc", 0},
        {"numa_hint_faults", 0},
        {"pgsteal_kswapd", 0},
        {"pgmigrate_fail", 0},
        {"nr_free_pages", 0},
        {"oom_kil", 0},
        {"Pgfault", 0},
        {"pswq", 0},
        {"xpgfault", 0},
        {"pgalloc_normal", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (coll_vmstat_included(cases[i].field) != cases[i].in)
            fail_msg("%s: want included=%d", cases[i].field, cases[i].in);
    }
}

/* ---- netstat ---- */

static void test_netstat(void **state)
{
    batch *b = *state;
    assert_int_equal(coll_netstat(&fx, b), 0);
    /* /proc/net/netstat */
    assert_sample(b, "node_netstat_TcpExt_SyncookiesSent", NULL, 3);
    assert_sample(b, "node_netstat_TcpExt_SyncookiesRecv", NULL, 4);
    assert_sample(b, "node_netstat_TcpExt_SyncookiesFailed", NULL, 0);
    assert_sample(b, "node_netstat_TcpExt_ListenOverflows", NULL, 5);
    assert_sample(b, "node_netstat_TcpExt_ListenDrops", NULL, 6);
    assert_sample(b, "node_netstat_TcpExt_TCPSynRetrans", NULL, 7);
    assert_sample(b, "node_netstat_TcpExt_TCPTimeouts", NULL, 8);
    assert_sample(b, "node_netstat_TcpExt_TCPOFOQueue", NULL, 9);
    assert_no_sample(b, "node_netstat_TcpExt_TCPOFODrop", NULL);
    assert_sample(b, "node_netstat_IpExt_InOctets", NULL, 823113727);
    assert_sample(b, "node_netstat_IpExt_OutOctets", NULL, 49994634);
    assert_no_sample(b, "node_netstat_IpExt_InNoECTPkts", NULL);
    /* /proc/net/snmp */
    assert_sample(b, "node_netstat_Ip_Forwarding", NULL, 2);
    assert_no_sample(b, "node_netstat_Ip_DefaultTTL", NULL);
    assert_sample(b, "node_netstat_Icmp_InMsgs", NULL, 1);
    assert_sample(b, "node_netstat_Icmp_InErrors", NULL, 16);
    assert_sample(b, "node_netstat_Icmp_OutMsgs", NULL, 0);
    assert_no_sample(b, "node_netstat_IcmpMsg_InType3", NULL);
    assert_sample(b, "node_netstat_Tcp_ActiveOpens", NULL, 1550);
    assert_sample(b, "node_netstat_Tcp_PassiveOpens", NULL, 1062);
    assert_sample(b, "node_netstat_Tcp_CurrEstab", NULL, 2);
    assert_sample(b, "node_netstat_Tcp_InSegs", NULL, 44175);
    assert_sample(b, "node_netstat_Tcp_OutSegs", NULL, 37085);
    assert_sample(b, "node_netstat_Tcp_RetransSegs", NULL, 8);
    assert_sample(b, "node_netstat_Tcp_InErrs", NULL, 11);
    assert_sample(b, "node_netstat_Tcp_OutRsts", NULL, 653);
    assert_no_sample(b, "node_netstat_Tcp_MaxConn", NULL); /* -1: parsed, not exported */
    assert_sample(b, "node_netstat_Udp_InDatagrams", NULL, 1229);
    assert_sample(b, "node_netstat_Udp_InErrors", NULL, 13);
    assert_sample(b, "node_netstat_Udp_OutDatagrams", NULL, 1232);
    assert_sample(b, "node_netstat_Udp_RcvbufErrors", NULL, 15);
    assert_no_sample(b, "node_netstat_Udp_InCsumErrors", NULL);
    assert_sample(b, "node_netstat_UdpLite_InErrors", NULL, 0);
    assert_no_sample(b, "node_netstat_UdpLite_InDatagrams", NULL);
    /* /proc/net/snmp6 */
    assert_sample(b, "node_netstat_Ip6_InOctets", NULL, 2088);
    assert_sample(b, "node_netstat_Ip6_OutOctets", NULL, 3344);
    assert_no_sample(b, "node_netstat_Ip6_InReceives", NULL);
    assert_no_sample(b, "node_netstat_Ip6_InHdrErrors", NULL);
    assert_sample(b, "node_netstat_Icmp6_InMsgs", NULL, 1);
    assert_sample(b, "node_netstat_Icmp6_InErrors", NULL, 1);
    assert_sample(b, "node_netstat_Icmp6_OutMsgs", NULL, 16);
    assert_sample(b, "node_netstat_Udp6_InDatagrams", NULL, 0);
    assert_sample(b, "node_netstat_Udp6_SndbufErrors", NULL, 0);
    assert_sample(b, "node_netstat_UdpLite6_InErrors", NULL, 0);
    assert_no_sample(b, "node_netstat_UdpLite6_InDatagrams", NULL);
    /* 11 from netstat, 18 from snmp, 12 from snmp6 (checked against Go's regexp). */
    assert_int_equal(batch_count(b), 41);
}

/* node_exporter's default field pattern, alternative by alternative. */
static void test_netstat_filter(void **state)
{
    (void)state;
    static const struct {
        const char *key;
        int in;
    } cases[] = {
        /* .*_(InErrors|InErrs) */
        {"Tcp_InErrs", 1},
        {"Udp_InErrors", 1},
        {"UdpLite_InErrors", 1},
        {"UdpLite6_InErrors", 1},
        {"Icmp6_InErrors", 1},
        {"IcmpMsg_InErrors", 1},
        {"Foo_Bar_InErrs", 1},
        {"_InErrors", 1},
        {"Udp_InCsumErrors", 0},
        {"Udp_XInErrors", 0},
        {"Udp_InErrorsX", 0},
        {"InErrors", 0},
        {"Tcp_InErr", 0},
        /* Ip_Forwarding */
        {"Ip_Forwarding", 1},
        {"Ip_ForwDatagrams", 0},
        {"Ip_ForwardingX", 0},
        {"Ip6_Forwarding", 0},
        /* Ip(6|Ext)_(InOctets|OutOctets) */
        {"Ip6_InOctets", 1},
        {"Ip6_OutOctets", 1},
        {"IpExt_InOctets", 1},
        {"IpExt_OutOctets", 1},
        {"Ip_InOctets", 0},
        {"Ip6_InMcastOctets", 0},
        {"IpExt_InOctetsX", 0},
        {"Ip66_InOctets", 0},
        /* Icmp6?_(InMsgs|OutMsgs) */
        {"Icmp_InMsgs", 1},
        {"Icmp_OutMsgs", 1},
        {"Icmp6_InMsgs", 1},
        {"Icmp6_OutMsgs", 1},
        {"Icmp66_InMsgs", 0},
        {"IcmpMsg_InMsgs", 0},
        {"Icmp_InEchos", 0},
        /* TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue) */
        {"TcpExt_ListenOverflows", 1},
        {"TcpExt_ListenDrops", 1},
        {"TcpExt_Listen", 1},
        {"TcpExt_Listen_x", 1},
        {"TcpExt_SyncookiesSent", 1},
        {"TcpExt_Syncookies", 1},
        {"TcpExt_TCPSynRetrans", 1},
        {"TcpExt_TCPTimeouts", 1},
        {"TcpExt_TCPOFOQueue", 1},
        {"TcpExt_TCPOFODrop", 0},
        {"TcpExt_TCPSynRetransX", 0},
        {"TcpExt_Liste", 0},
        {"TcpExt_listenDrops", 0},
        {"MPTcpExt_ListenDrops", 0},
        {"Tcp_ListenDrops", 0},
        /* Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab) */
        {"Tcp_ActiveOpens", 1},
        {"Tcp_InSegs", 1},
        {"Tcp_OutSegs", 1},
        {"Tcp_OutRsts", 1},
        {"Tcp_PassiveOpens", 1},
        {"Tcp_RetransSegs", 1},
        {"Tcp_CurrEstab", 1},
        {"Tcp_MaxConn", 0},
        {"Tcp_AttemptFails", 0},
        {"TcpExt_InSegs", 0},
        {"Tcp6_InSegs", 0},
        /* Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors) */
        {"Udp_InDatagrams", 1},
        {"Udp_OutDatagrams", 1},
        {"Udp_NoPorts", 1},
        {"Udp_RcvbufErrors", 1},
        {"Udp_SndbufErrors", 1},
        {"Udp6_InDatagrams", 1},
        {"Udp6_SndbufErrors", 1},
        {"Udp_IgnoredMulti", 0},
        {"Udp6_MemErrors", 0},
        {"UdpLite_InDatagrams", 0},
        {"UdpLite6_NoPorts", 0},
        /* Anchored at both ends; no protocol. */
        {"XTcp_InSegs", 0},
        {"Tcp_InSegsX", 0},
        {"Tcp_", 0},
        {"Tcp", 0},
        {"", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (coll_netstat_included(cases[i].key) != cases[i].in)
            fail_msg("%s: want included=%d", cases[i].key, cases[i].in);
    }
}

/* Without IPv6 there is no snmp6; the other two files are still read. */
static void test_netstat_partial(void **state)
{
    batch *b = *state;
    tree t;
    tree_new(&t);
    tree_put(&t, "/net/snmp",
             "Tcp: MaxConn ActiveOpens InErrs\nTcp: -1 5 0\n\nUdp: NoPorts\nUdp: 3\n");
    coll_env e = {t.dir, t.dir, "", 0, NULL, NULL, 0};
    assert_int_equal(coll_netstat(&e, b), 0);
    assert_sample(b, "node_netstat_Tcp_ActiveOpens", NULL, 5);
    assert_sample(b, "node_netstat_Tcp_InErrs", NULL, 0);
    assert_sample(b, "node_netstat_Udp_NoPorts", NULL, 3);
    assert_int_equal(batch_count(b), 3);
    tree_free(&t);
}

/* ---- sockstat ---- */

static void test_sockstat(void **state)
{
    batch *b = *state;
    double page = (double)sysconf(_SC_PAGESIZE);
    assert_int_equal(coll_sockstat(&fx, b), 0);
    assert_sample(b, "node_sockstat_sockets_used", NULL, 11);
    assert_sample(b, "node_sockstat_TCP_inuse", NULL, 5);
    assert_sample(b, "node_sockstat_TCP_orphan", NULL, 1);
    assert_sample(b, "node_sockstat_TCP_tw", NULL, 61);
    assert_sample(b, "node_sockstat_TCP_alloc", NULL, 7);
    assert_sample(b, "node_sockstat_TCP_mem", NULL, 236);
    assert_sample(b, "node_sockstat_TCP_mem_bytes", NULL, 236 * page);
    assert_sample(b, "node_sockstat_UDP_inuse", NULL, 3);
    assert_sample(b, "node_sockstat_UDP_mem", NULL, 2);
    assert_sample(b, "node_sockstat_UDP_mem_bytes", NULL, 2 * page);
    assert_sample(b, "node_sockstat_UDPLITE_inuse", NULL, 0);
    assert_sample(b, "node_sockstat_RAW_inuse", NULL, 0);
    assert_sample(b, "node_sockstat_FRAG_inuse", NULL, 1);
    assert_sample(b, "node_sockstat_FRAG_memory", NULL, 1024);
    assert_no_sample(b, "node_sockstat_FRAG_memory_bytes", NULL);
    assert_sample(b, "node_sockstat_TCP6_inuse", NULL, 4);
    assert_sample(b, "node_sockstat_UDP6_inuse", NULL, 0);
    assert_sample(b, "node_sockstat_UDPLITE6_inuse", NULL, 0);
    assert_sample(b, "node_sockstat_RAW6_inuse", NULL, 0);
    assert_sample(b, "node_sockstat_FRAG6_inuse", NULL, 2);
    assert_sample(b, "node_sockstat_FRAG6_memory", NULL, 2048);
    assert_int_equal(batch_count(b), 20);
}

/* Unknown keys are skipped; "sockets" of the IPv6 file is not exported; sockstat6 alone. */
static void test_sockstat_partial(void **state)
{
    batch *b = *state;
    tree t;
    tree_new(&t);
    tree_put(&t, "/net/sockstat6", "sockets: used 9\nTCP6: inuse 2 newkey 5\n");
    coll_env e = {t.dir, t.dir, "", 0, NULL, NULL, 0};
    assert_int_equal(coll_sockstat(&e, b), 0);
    assert_sample(b, "node_sockstat_TCP6_inuse", NULL, 2);
    assert_int_equal(batch_count(b), 1);
    tree_free(&t);
}

/* ---- softnet ---- */

static void test_softnet(void **state)
{
    batch *b = *state;
    assert_int_equal(coll_softnet(&fx, b), 0);
    /* The 13th column gives the CPU id: the third row is CPU 3 (2 is offline). */
    assert_sample(b, "node_softnet_processed_total", L("cpu", "0"), 0x304f);
    assert_sample(b, "node_softnet_dropped_total", L("cpu", "0"), 2);
    assert_sample(b, "node_softnet_times_squeezed_total", L("cpu", "0"), 1);
    assert_sample(b, "node_softnet_backlog_len", L("cpu", "0"), 0);
    assert_sample(b, "node_softnet_processed_total", L("cpu", "1"), 0x7a84);
    assert_sample(b, "node_softnet_times_squeezed_total", L("cpu", "1"), 10);
    assert_sample(b, "node_softnet_backlog_len", L("cpu", "1"), 3);
    assert_sample(b, "node_softnet_processed_total", L("cpu", "3"), 0xffffffffu);
    assert_sample(b, "node_softnet_dropped_total", L("cpu", "3"), 16);
    assert_no_sample(b, "node_softnet_processed_total", L("cpu", "2"));
    assert_int_equal(batch_count(b), 3 * 4);
}

/* Kernels before 5.10 print 9 to 11 columns: the row index is the CPU, no backlog. */
static void test_softnet_old(void **state)
{
    batch *b = *state;
    tree t;
    tree_new(&t);
    tree_put(&t, "/net/softnet_stat",
             "00000010 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000 "
             "00000000 00000000\n"
             "000000FF 00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n");
    coll_env e = {t.dir, t.dir, "", 0, NULL, NULL, 0};
    assert_int_equal(coll_softnet(&e, b), 0);
    assert_sample(b, "node_softnet_processed_total", L("cpu", "0"), 16);
    assert_sample(b, "node_softnet_processed_total", L("cpu", "1"), 255);
    assert_sample(b, "node_softnet_dropped_total", L("cpu", "1"), 1);
    assert_no_sample(b, "node_softnet_backlog_len", L("cpu", "0"));
    assert_int_equal(batch_count(b), 2 * 3);
    tree_free(&t);
}

/* ---- entropy, conntrack, schedstat ---- */

static void test_entropy(void **state)
{
    batch *b = *state;
    assert_int_equal(coll_entropy(&fx, b), 0);
    assert_sample(b, "node_entropy_available_bits", NULL, 249);
    assert_sample(b, "node_entropy_pool_size_bits", NULL, 256);
    assert_int_equal(batch_count(b), 2);
}

static void test_conntrack(void **state)
{
    batch *b = *state;
    assert_int_equal(coll_conntrack(&fx, b), 0);
    assert_sample(b, "node_nf_conntrack_entries", NULL, 37);
    assert_sample(b, "node_nf_conntrack_entries_limit", NULL, 262144);
    assert_int_equal(batch_count(b), 2);
}

static void test_schedstat(void **state)
{
    batch *b = *state;
    assert_int_equal(coll_schedstat(&fx, b), 0);
    assert_sample(b, "node_schedstat_running_seconds_total", L("cpu", "0"), 1604817357 / 1e9);
    assert_sample(b, "node_schedstat_waiting_seconds_total", L("cpu", "0"), 29413421 / 1e9);
    assert_sample(b, "node_schedstat_timeslices_total", L("cpu", "0"), 8474);
    /* A tenth counter (a future kernel's) is ignored. */
    assert_sample(b, "node_schedstat_running_seconds_total", L("cpu", "1"), 98765432101 / 1e9);
    assert_sample(b, "node_schedstat_waiting_seconds_total", L("cpu", "1"), 123456789 / 1e9);
    assert_sample(b, "node_schedstat_timeslices_total", L("cpu", "1"), 4242);
    assert_sample(b, "node_schedstat_running_seconds_total", L("cpu", "3"), 1);
    assert_sample(b, "node_schedstat_waiting_seconds_total", L("cpu", "3"), 0.5);
    assert_int_equal(batch_count(b), 3 * 3);
}

/* ---- missing, partial and malformed sources ---- */

static void test_missing(void **state)
{
    batch *b = *state;
    for (size_t i = 0; i < N_COLLS; i++) {
        int rc = net_colls[i].fn(&fx_missing, b);
        if (rc != 0 || batch_count(b) != 0)
            fail_msg("%s: rc %d, %zu samples", net_colls[i].name, rc, batch_count(b));
    }
}

/* A module that exposes one file of two: the file present is exported. */
static void test_partial_files(void **state)
{
    batch *b = *state;
    tree t;
    tree_new(&t);
    tree_put(&t, "/sys/net/netfilter/nf_conntrack_max", "65536\n");
    tree_put(&t, "/sys/kernel/random/poolsize", "256\n");
    coll_env e = {t.dir, t.dir, "", 0, NULL, NULL, 0};
    assert_int_equal(coll_conntrack(&e, b), 0);
    assert_int_equal(coll_entropy(&e, b), 0);
    assert_sample(b, "node_nf_conntrack_entries_limit", NULL, 65536);
    assert_sample(b, "node_entropy_pool_size_bits", NULL, 256);
    assert_int_equal(batch_count(b), 2);
    tree_free(&t);
}

/* The fixture tree under bad/: one malformed file per collector. */
static void test_malformed_fixtures(void **state)
{
    batch *b = *state;
    for (size_t i = 0; i < N_COLLS; i++) {
        int rc = net_colls[i].fn(&fx_bad, b);
        if (rc != -EINVAL)
            fail_msg("%s: rc %d, want -EINVAL", net_colls[i].name, rc);
    }
}

/* Malformed sources, one file each in a scratch tree: an error, never a crash or a guess. */
static void test_malformed_cases(void **state)
{
    batch *b = *state;
    static const struct {
        coll_fn fn;
        const char *rel;
        const char *text;
        int rc;
    } cases[] = {
        {coll_vmstat, "/vmstat", "pgfault\n", -EINVAL},
        {coll_vmstat, "/vmstat", "pgfault 1 2\n", -EINVAL},
        {coll_vmstat, "/vmstat", "pgfault -\n", -EINVAL},
        {coll_vmstat, "/vmstat", "nr_free_pages 0x10\n", -EINVAL},
        {coll_vmstat, "/vmstat", "pgfault 18446744073709551616\n", -EINVAL},
        {coll_vmstat, "/vmstat", " \n", -EINVAL},
        {coll_netstat, "/net/netstat", "TcpExt: ListenDrops\n", -EINVAL},
        {coll_netstat, "/net/netstat", "TcpExt: ListenDrops\nIpExt: 1\n", -EINVAL},
        {coll_netstat, "/net/netstat", "TcpExt: ListenDrops\nTcpExt: 1 2\n", -EINVAL},
        {coll_netstat, "/net/netstat", "TcpExt: A ListenDrops\nTcpExt: 1\n", -EINVAL},
        {coll_netstat, "/net/netstat", "TcpExt ListenDrops\nTcpExt 1\n", -EINVAL},
        {coll_netstat, "/net/netstat", ": ListenDrops\n: 1\n", -EINVAL},
        {coll_netstat, "/net/netstat", "TcpExt: ListenDrops\nTcpExt: 1.5\n", -EINVAL},
        {coll_netstat, "/net/snmp", "Tcp: MaxConn\nTcp: --1\n", -EINVAL},
        {coll_netstat, "/net/snmp", "Tcp: InSegs\n\n", -EINVAL},
        {coll_netstat, "/net/snmp6", "Ip6InOctets\n", -EINVAL},
        {coll_netstat, "/net/snmp6", "Ip6InOctets 1 2\n", -EINVAL},
        {coll_netstat, "/net/snmp6", "NoSixHere x\n", -EINVAL},
        {coll_sockstat, "/net/sockstat", "TCP: inuse\n", -EINVAL},
        {coll_sockstat, "/net/sockstat", "TCP:\n", -EINVAL},
        {coll_sockstat, "/net/sockstat", "TCP inuse 1\n", -EINVAL},
        {coll_sockstat, "/net/sockstat", "T-P: inuse 1\n", -EINVAL},
        {coll_sockstat, "/net/sockstat", "TCP: inuse x\n", -EINVAL},
        {coll_sockstat, "/net/sockstat", "\t \n", -EINVAL},
        {coll_sockstat, "/net/sockstat6", "TCP6: inuse 1 mem\n", -EINVAL},
        {coll_softnet, "/net/softnet_stat", "00000001 00000002\n", -EINVAL},
        {coll_softnet, "/net/softnet_stat", "0x000001 0 0 0 0 0 0 0 0 0 0 0 0\n", -EINVAL},
        {coll_softnet, "/net/softnet_stat", "10000000000000000 0 0 0 0 0 0 0 0 0 0 0 0\n", -EINVAL},
        {coll_softnet, "/net/softnet_stat", "1 2 3 4 5 6 7 8 -9\n", -EINVAL},
        {coll_entropy, "/sys/kernel/random/entropy_avail", "\n", -EINVAL},
        {coll_entropy, "/sys/kernel/random/poolsize", "-4096\n", -EINVAL},
        {coll_conntrack, "/sys/net/netfilter/nf_conntrack_count", "1.5\n", -EINVAL},
        {coll_conntrack, "/sys/net/netfilter/nf_conntrack_max", "x\n", -EINVAL},
        {coll_schedstat, "/schedstat", "cpu0 1 2 3 4 5 6 7 8\n", -EINVAL},
        {coll_schedstat, "/schedstat", "cpu0 1 2 3 4 5 6 7 8 x\n", -EINVAL},
        {coll_schedstat, "/schedstat", "cpu0x 1 2 3 4 5 6 7 8 9\n", -EINVAL},
        {coll_schedstat, "/schedstat", "cpu1 1 2 3 4 5 6 -7 8 9\n", -EINVAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tree t;
        tree_new(&t);
        tree_put(&t, cases[i].rel, cases[i].text);
        coll_env e = {t.dir, t.dir, "", 0, NULL, NULL, 0};
        batch_reset(b, 0);
        int rc = cases[i].fn(&e, b);
        tree_free(&t);
        if (rc != cases[i].rc)
            fail_msg("case %zu (%s \"%s\"): rc %d, want %d", i, cases[i].rel, cases[i].text, rc,
                     cases[i].rc);
    }
}

/* A source larger than the collector's buffer is refused, not parsed truncated. */
static void test_too_large(void **state)
{
    batch *b = *state;
    static char text[COLL_BUF_SMALL + 64];
    size_t n = 0;
    while (n + 16 < sizeof text - 1) {
        memcpy(text + n, "pgfault 1234567\n", 16);
        n += 16;
    }
    text[n] = '\0';
    tree t;
    tree_new(&t);
    tree_put(&t, "/vmstat", text);
    coll_env e = {t.dir, t.dir, "", 0, NULL, NULL, 0};
    assert_int_equal(coll_vmstat(&e, b), -EFBIG);
    tree_free(&t);
}

/* Allocation failures: every collector with samples reports -ENOMEM, none crashes or leaks. */
static void test_out_of_memory(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_COLLS; i++) {
        for (long k = 0; k < 4; k++) {
            batch *b = NULL;
            assert_int_equal(batch_new(&b, "h", "node"), 0);
            mem_fail_after(k);
            int rc = net_colls[i].fn(&fx, b);
            mem_fail_after(-1);
            if (k == 0 && rc != -ENOMEM)
                fail_msg("%s: rc %d, want -ENOMEM", net_colls[i].name, rc);
            assert_true(rc == 0 || rc == -ENOMEM);
            batch_free(b);
        }
    }
}

/* The descriptor cache gives the same samples as plain reads, round after round. */
static void test_cached(void **state)
{
    batch *b = *state;
    coll_env e = fx;
    assert_int_equal(coll_cache_new(&e.cache), 0);
    for (int round = 0; round < 3; round++) {
        batch_reset(b, 0);
        for (size_t i = 0; i < N_COLLS; i++)
            assert_int_equal(net_colls[i].fn(&e, b), 0);
        assert_int_equal(batch_count(b), 7 + 41 + 20 + 12 + 2 + 2 + 9);
    }
    coll_cache_free(e.cache);
}

static void test_live(void **state)
{
    batch *b = *state;
    double v;
    for (size_t i = 0; i < N_COLLS; i++) {
        int rc = net_colls[i].fn(&live, b);
        if (rc != 0)
            fail_msg("%s on the live host: rc %d", net_colls[i].name, rc);
    }
    assert_true(batch_find(b, "node_vmstat_pgfault", NULL, &v));
    assert_true(v > 0);
    if (access("/proc/net/snmp", R_OK) == 0)
        assert_true(batch_find(b, "node_netstat_Tcp_InSegs", NULL, &v));
    if (access("/proc/net/sockstat", R_OK) == 0)
        assert_true(batch_find(b, "node_sockstat_sockets_used", NULL, &v));
    if (access("/proc/net/softnet_stat", R_OK) == 0)
        assert_true(batch_find(b, "node_softnet_processed_total", L("cpu", "0"), &v));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_vmstat, setup, teardown),
        cmocka_unit_test(test_vmstat_filter),
        cmocka_unit_test_setup_teardown(test_netstat, setup, teardown),
        cmocka_unit_test(test_netstat_filter),
        cmocka_unit_test_setup_teardown(test_netstat_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sockstat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sockstat_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_softnet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_softnet_old, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entropy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conntrack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schedstat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_fixtures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_cases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test_setup_teardown(test_cached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_live, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
