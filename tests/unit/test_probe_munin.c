/* test_probe_munin: the munin-node protocol reader (wire/munin.h): line splitting with its
 * bound, the banner, cap and list answers, config and fetch answers (fields, types,
 * thresholds, multigraph, unknown values, timestamps, the node's error lines), hostile lines
 * (garbage, control bytes, bad UTF-8, endless names, too many fields), and the samples a
 * plugin makes, compared as text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/labels.h"
#include "lib/mem.h"
#include "wire/munin.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ---- lines ---------------------------------------------------------------------------------- */

typedef struct line_case {
    const char *in;
    int rc;
    size_t linelen, used;
} line_case;

static void lines_split_and_bound(void **state)
{
    (void)state;
    static const line_case cases[] = {
        {"abc\n", 1, 3, 4},  {"abc\r\n", 1, 3, 5},  {"\n", 1, 0, 1},
        {"\r\n", 1, 0, 2},   {"abc", 0, 0, 0},      {"", 0, 0, 0},
        {"a\nb\n", 1, 1, 2}, {"a\r\rb\n", 1, 4, 5}, {"x\r", 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t ll = 777, used = 777;
        int rc = munin_line(cases[i].in, strlen(cases[i].in), &ll, &used);
        if (rc != cases[i].rc)
            fail_msg("munin_line(\"%s\"): rc %d, want %d", cases[i].in, rc, cases[i].rc);
        if (rc == 1 && (ll != cases[i].linelen || used != cases[i].used))
            fail_msg("munin_line(\"%s\"): %zu/%zu, want %zu/%zu", cases[i].in, ll, used,
                     cases[i].linelen, cases[i].used);
        if (rc != 1 && (ll != 777 || used != 777))
            fail_msg("munin_line(\"%s\"): outputs written without a line", cases[i].in);
    }
    /* The bound: a newline as the MUNIN_LINE_MAX-th byte is fine, none within it is not. */
    char *big = mem_alloc(MUNIN_LINE_MAX + 10);
    assert_non_null(big);
    memset(big, 'x', MUNIN_LINE_MAX + 10);
    size_t ll, used;
    big[MUNIN_LINE_MAX - 1] = '\n';
    assert_int_equal(munin_line(big, MUNIN_LINE_MAX + 10, &ll, &used), 1);
    assert_int_equal(used, MUNIN_LINE_MAX);
    big[MUNIN_LINE_MAX - 1] = 'x';
    assert_int_equal(munin_line(big, MUNIN_LINE_MAX - 1, &ll, &used), 0);
    assert_int_equal(munin_line(big, MUNIN_LINE_MAX, &ll, &used), -E2BIG);
    big[MUNIN_LINE_MAX] = '\n';
    assert_int_equal(munin_line(big, MUNIN_LINE_MAX + 10, &ll, &used), -E2BIG);
    mem_free(big);
}

/* ---- banner, cap, list ------------------------------------------------------------------------
 */

static void banner_accepts_only_munin(void **state)
{
    (void)state;
    char node[16], err[256];
    const char *ok = "# munin node at web-1.example.com";
    assert_int_equal(munin_parse_banner(ok, strlen(ok), node, sizeof node, err, sizeof err), 0);
    assert_string_equal(node, "web-1.example.c"); /* cut to the room given */
    static const char *const bad[] = {
        "",
        "# munin node at ",
        "SSH-2.0-OpenSSH_9.2",
        "220 smtp ready",
        "# munin node",
        "# munin node at a\x01",
        "HTTP/1.1 400 Bad Request",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(node, sizeof node, "untouched");
        err[0] = '\0';
        assert_int_equal(
            munin_parse_banner(bad[i], strlen(bad[i]), node, sizeof node, err, sizeof err),
            -EINVAL);
        assert_string_equal(node, "untouched");
        assert_non_null(strstr(err, "not a munin node"));
    }
    /* The quoted excerpt shows control bytes escaped and stays short. */
    char garbage[300];
    memset(garbage, 'g', sizeof garbage);
    garbage[0] = '\x1b';
    assert_int_equal(
        munin_parse_banner(garbage, sizeof garbage, node, sizeof node, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "\\x1b"));
    assert_non_null(strstr(err, "..."));
    assert_true(strlen(err) < 120);
}

static void cap_answers(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int rc;
        unsigned caps;
    } cases[] = {
        {"cap multigraph dirtyconfig", 0, MUNIN_CAP_MULTIGRAPH | MUNIN_CAP_DIRTYCONFIG},
        {"cap multigraph", 0, MUNIN_CAP_MULTIGRAPH},
        {"cap", 0, 0},
        {"cap  spool   multigraph", 0, MUNIN_CAP_MULTIGRAPH},
        {"cap multigraphs", 0, 0},
        {"# Unknown command. Try list, nodes, config, fetch, version or quit", 0, 0},
        {"capx", -EINVAL, 0},
        {"", -EINVAL, 0},
        {"load", -EINVAL, 0},
        {"cap multigraph\x01", -EINVAL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned caps = 99;
        char err[200] = "";
        int rc = munin_parse_cap(cases[i].in, strlen(cases[i].in), &caps, err, sizeof err);
        if (rc != cases[i].rc)
            fail_msg("cap \"%s\": rc %d, want %d", cases[i].in, rc, cases[i].rc);
        if (!rc && caps != cases[i].caps)
            fail_msg("cap \"%s\": caps %u, want %u", cases[i].in, caps, cases[i].caps);
        if (rc && (caps != 99 || !strstr(err, "cap")))
            fail_msg("cap \"%s\": caps written or no reason (%s)", cases[i].in, err);
    }
}

static void list_answers(void **state)
{
    (void)state;
    munin_list l;
    char err[256];
    const char *in = "cpu load  df  if_eth0 diskstats\tload cpu";
    assert_int_equal(munin_parse_list(in, strlen(in), &l, err, sizeof err), 0);
    assert_int_equal(l.n, 5); /* repeats dropped, tabs and runs of spaces allowed */
    assert_string_equal(l.names[0], "cpu");
    assert_string_equal(l.names[1], "load");
    assert_string_equal(l.names[2], "df");
    assert_string_equal(l.names[3], "if_eth0");
    assert_string_equal(l.names[4], "diskstats");
    munin_list_free(&l);
    assert_int_equal(munin_parse_list("", 0, &l, err, sizeof err), 0);
    assert_int_equal(l.n, 0);
    munin_list_free(&l);
    assert_int_equal(munin_parse_list("   ", 3, &l, err, sizeof err), 0);
    assert_int_equal(l.n, 0);
    static const char *const bad[] = {"cpu lo\001ad", "# Unknown command", "cpu \xc3\xa9t\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        l.n = 42;
        err[0] = '\0';
        assert_int_equal(munin_parse_list(bad[i], strlen(bad[i]), &l, err, sizeof err), -EINVAL);
        assert_int_equal(l.n, 0);
        assert_true(err[0] != '\0');
    }
    /* A 256-byte name is one too long. */
    char longname[300];
    memset(longname, 'n', 256);
    assert_int_equal(munin_parse_list(longname, 256, &l, err, sizeof err), -EINVAL);
    assert_int_equal(munin_parse_list(longname, 255, &l, err, sizeof err), 0);
    assert_int_equal(l.n, 1);
    munin_list_free(&l);
    /* The plugin count is bounded. */
    buf b;
    buf_init(&b, 0);
    for (int i = 0; i <= MUNIN_PLUGINS_MAX; i++)
        buf_printf(&b, "p%d ", i);
    assert_int_equal(munin_parse_list(b.data, b.len, &l, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "more than 1024"));
    b.len -= strlen("p1024 ");
    assert_int_equal(munin_parse_list(b.data, b.len, &l, err, sizeof err), 0);
    assert_int_equal(l.n, MUNIN_PLUGINS_MAX);
    munin_list_free(&l);
    buf_free(&b);
}

/* ---- plugins ----------------------------------------------------------------------------------
 */

/* Feeds config then fetch (each a text of lines, "." added) to a fresh plugin record. */
static munin_plugin *read_plugin(const char *name, const char *config, const char *fetch)
{
    munin_plugin *p = NULL;
    assert_int_equal(munin_plugin_new(&p, name), 0);
    const char *texts[2] = {config, fetch};
    for (int k = 0; k < 2; k++) {
        munin_plugin_begin(p, k ? MUNIN_FETCH : MUNIN_CONFIG);
        const char *s = texts[k];
        while (s && *s) {
            const char *nl = strchr(s, '\n');
            size_t len = nl ? (size_t)(nl - s) : strlen(s);
            assert_int_equal(munin_plugin_line(p, s, len), 0);
            s += len + (nl ? 1 : 0);
        }
        assert_int_equal(munin_plugin_line(p, ".", 1), 1);
        if (p->failed && k == 0)
            break;
    }
    return p;
}

static int collect(void *ctx, const char *metric, const char *const *labels, double v, int64_t t_s)
{
    buf *b = ctx;
    assert_true(labels_valid_metric_name(metric));
    buf_printf(b, "%s{", metric);
    for (size_t i = 0; labels[i]; i += 2)
        buf_printf(b, "%s%s=\"%s\"", i ? "," : "", labels[i], labels[i + 1]);
    buf_printf(b, "} %g", v);
    if (t_s)
        buf_printf(b, " @%lld", (long long)t_s);
    buf_putc(b, '\n');
    return 0;
}

static void expect_samples(const munin_plugin *p, const char *want)
{
    buf b;
    buf_init(&b, 0);
    assert_int_equal(munin_plugin_samples(p, collect, &b), 0);
    if (strcmp(b.data ? b.data : "", want))
        fail_msg("samples:\n%s\nwant:\n%s", b.data ? b.data : "", want);
    buf_free(&b);
}

static void plugin_gauge_with_thresholds(void **state)
{
    (void)state;
    munin_plugin *p = read_plugin("load",
                                  "graph_title Load average\n"
                                  "graph_args --base 1000 -l 0\n"
                                  "graph_vlabel load\n"
                                  "graph_category system\n"
                                  "graph_info The load.\n"
                                  "load.label load\n"
                                  "load.warning 10\n"
                                  "load.critical 5:20\n"
                                  "load.info 5 minute load average\n"
                                  "load.draw LINE2\n",
                                  "load.value 0.42\n");
    assert_int_equal(p->failed, 0);
    expect_samples(p, "munin_load_load{plugin=\"load\",graph=\"load\"} 0.42\n"
                      "munin_field_info{plugin=\"load\",graph=\"load\",field=\"load\","
                      "title=\"Load average\",vlabel=\"load\",type=\"GAUGE\",warning=\"10\","
                      "critical=\"5:20\"} 1\n"
                      "munin_field_warning{plugin=\"load\",graph=\"load\",field=\"load\"} 10\n"
                      "munin_field_critical{plugin=\"load\",graph=\"load\",field=\"load\"} 20\n");
    munin_plugin_free(p);
}

static void plugin_types_unknown_and_timestamps(void **state)
{
    (void)state;
    munin_plugin *p = read_plugin("if_eth0",
                                  "graph_title eth0 traffic\n"
                                  "graph_order down up\n"
                                  "down.label received\n"
                                  "down.type DERIVE\n"
                                  "down.min 0\n"
                                  "down.cdef down,8,*\n"
                                  "down.graph no\n"
                                  "up.label bps\n"
                                  "up.type COUNTER\n"
                                  "up.negative down\n"
                                  "drops.type ABSOLUTE\n"
                                  "drops.warning :5\n"
                                  "drops.critical 10:\n"
                                  "err.warning x\n",
                                  "down.value 1700000000:123456789\n"
                                  "up.value U\n"
                                  "drops.value 1.5e3\n"
                                  "err.value -0.5\n"
                                  "down.extinfo a note\n"
                                  "extra.value 7\n");
    assert_int_equal(p->failed, 0);
    expect_samples(
        p, "munin_if_eth0_down{plugin=\"if_eth0\",graph=\"if_eth0\"} 1.23457e+08 @1700000000\n"
           "munin_field_info{plugin=\"if_eth0\",graph=\"if_eth0\",field=\"down\","
           "title=\"eth0 traffic\",vlabel=\"\",type=\"DERIVE\",warning=\"\",critical=\"\"} 1\n"
           "munin_field_info{plugin=\"if_eth0\",graph=\"if_eth0\",field=\"up\","
           "title=\"eth0 traffic\",vlabel=\"\",type=\"COUNTER\",warning=\"\",critical=\"\"} 1\n"
           "munin_if_eth0_drops{plugin=\"if_eth0\",graph=\"if_eth0\"} 1500\n"
           "munin_field_info{plugin=\"if_eth0\",graph=\"if_eth0\",field=\"drops\","
           "title=\"eth0 traffic\",vlabel=\"\",type=\"ABSOLUTE\",warning=\":5\","
           "critical=\"10:\"} 1\n"
           "munin_field_warning{plugin=\"if_eth0\",graph=\"if_eth0\",field=\"drops\"} 5\n"
           "munin_if_eth0_err{plugin=\"if_eth0\",graph=\"if_eth0\"} -0.5\n"
           "munin_field_info{plugin=\"if_eth0\",graph=\"if_eth0\",field=\"err\","
           "title=\"eth0 traffic\",vlabel=\"\",type=\"GAUGE\",warning=\"x\",critical=\"\"} 1\n"
           "munin_if_eth0_extra{plugin=\"if_eth0\",graph=\"if_eth0\"} 7\n"
           "munin_field_info{plugin=\"if_eth0\",graph=\"if_eth0\",field=\"extra\","
           "title=\"eth0 traffic\",vlabel=\"\",type=\"GAUGE\",warning=\"\",critical=\"\"} 1\n");
    munin_plugin_free(p);
}

static void plugin_multigraph(void **state)
{
    (void)state;
    munin_plugin *p = read_plugin("diskstats",
                                  "multigraph diskstats_iops\n"
                                  "graph_title Disk IOs\n"
                                  "graph_vlabel IOs/s\n"
                                  "sda_rd.label sda read\n"
                                  "sda_rd.type DERIVE\n"
                                  "multigraph diskstats_iops.sda\n"
                                  "graph_title sda IOs\n"
                                  "rd.label read\n"
                                  "rd.type DERIVE\n",
                                  "multigraph diskstats_iops\n"
                                  "sda_rd.value 100\n"
                                  "multigraph diskstats_iops.sda\n"
                                  "rd.value 100\n"
                                  "multigraph diskstats_iops\n"
                                  "sda_wr.value 5\n");
    assert_int_equal(p->failed, 0);
    assert_int_equal(p->ngraphs, 2);
    expect_samples(
        p, "munin_diskstats_iops_sda_rd{plugin=\"diskstats\",graph=\"diskstats_iops\"} 100\n"
           "munin_field_info{plugin=\"diskstats\",graph=\"diskstats_iops\",field=\"sda_rd\","
           "title=\"Disk IOs\",vlabel=\"IOs/s\",type=\"DERIVE\",warning=\"\",critical=\"\"} 1\n"
           "munin_diskstats_iops_sda_wr{plugin=\"diskstats\",graph=\"diskstats_iops\"} 5\n"
           "munin_field_info{plugin=\"diskstats\",graph=\"diskstats_iops\",field=\"sda_wr\","
           "title=\"Disk IOs\",vlabel=\"IOs/s\",type=\"GAUGE\",warning=\"\",critical=\"\"} 1\n"
           "munin_diskstats_iops_sda_rd{plugin=\"diskstats\",graph=\"diskstats_iops.sda\"} 100\n"
           "munin_field_info{plugin=\"diskstats\",graph=\"diskstats_iops.sda\",field=\"rd\","
           "title=\"sda IOs\",vlabel=\"\",type=\"DERIVE\",warning=\"\",critical=\"\"} 1\n");
    munin_plugin_free(p);
}

static void plugin_node_verdicts(void **state)
{
    (void)state;
    static const struct {
        const char *config, *fetch;
        int failed;
        const char *err;
    } cases[] = {
        {"# Unknown service\n", "", -ENOENT, "config line 1: unknown service"},
        {"a.label a\n", "# Timed out\n", -ETIMEDOUT, "fetch line 1: the plugin timed out"},
        {"a.label a\n", "a.value 1\n# Timeout\n", -ETIMEDOUT, "fetch line 2: the plugin timed"},
        {"# Bad exit\n", "", -EIO, "config line 1: the plugin failed on the node (bad exit)"},
        /* Other comments and empty lines carry nothing. */
        {"# a comment\n\na.label a\n", "# Warning: Root privileges\na.value 1\n", 0, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        munin_plugin *p = read_plugin("x", cases[i].config, cases[i].fetch);
        if (p->failed != cases[i].failed || strncmp(p->err, cases[i].err, strlen(cases[i].err)))
            fail_msg("case %zu: failed %d \"%s\", want %d \"%s\"", i, p->failed, p->err,
                     cases[i].failed, cases[i].err);
        munin_plugin_free(p);
    }
}

static void plugin_hostile_lines(void **state)
{
    (void)state;
    static const struct {
        const char *config, *fetch;
        const char *err;
    } cases[] = {
        {"hello world\n", "", "config line 1: unknown graph attribute \"hello world\""},
        {"a.label a\n", "a.value abc\n", "fetch line 1: bad value \"a.value abc\""},
        {"a.label a\n", "a.value\n", "fetch line 1: bad value"},
        {"a.label a\n", "a.value 0x10\n", "fetch line 1: bad value"},
        {"a.label a\n", "a.value nan\n", "fetch line 1: bad value"},
        {"a.label a\n", "a.value inf\n", "fetch line 1: bad value"},
        {"a.label a\n", "a.value 1e999\n", "fetch line 1: bad value"},
        {"a.label a\n", "a.value 1 2\n", "fetch line 1: bad value"},
        {"a.label a\n", "a.value :5\n", "fetch line 1: bad value"},
        {"a.label a\n", "a.value 0:5\n", "fetch line 1: bad value"},
        {"a.label a\n", "a.value 12345678901:5\n", "fetch line 1: bad value"},
        {"a.label a\n", "a.value 1.\n", ""}, /* "1." is a number */
        {"a.label a\n", "garbage\n", "fetch line 1: malformed line \"garbage\""},
        {"a.label a\n", "graph_title x\n", "fetch line 1: malformed line"},
        {"a.type FLOAT\n", "", "config line 1: unknown field type \"a.type FLOAT\""},
        {"a-b.label x\n", "", "config line 1: malformed field line"},
        {".label x\n", "", "config line 1: malformed field line"},
        {"a.\n", "", "config line 1: malformed field line"},
        {"a.b.c x\n", "", "config line 1: malformed field line"},
        {"multigraph\n", "", "config line 1: bad multigraph name"},
        {"multigraph a b\n", "", "config line 1: bad multigraph name"},
        {"graph_title a\001b\n", "",
         "config line 1: control character in line \"graph_title a\\x01b\""},
        {"graph_title a\rb\n", "", "config line 1: control character in line"},
        {"a.label x\n", "\xff\xfe.value 1\n", "fetch line 1: malformed field line"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        munin_plugin *p = read_plugin("x", cases[i].config, cases[i].fetch);
        int want_fail = cases[i].err[0] != '\0';
        if (!!p->failed != want_fail || strncmp(p->err, cases[i].err, strlen(cases[i].err)))
            fail_msg("case %zu: failed %d \"%s\", want \"%s\"", i, p->failed, p->err, cases[i].err);
        if (want_fail)
            assert_int_equal(p->failed, -EINVAL);
        munin_plugin_free(p);
    }
    /* A failed plugin skips the rest of its answer up to ".". */
    munin_plugin *p = NULL;
    assert_int_equal(munin_plugin_new(&p, "x"), 0);
    munin_plugin_begin(p, MUNIN_CONFIG);
    assert_int_equal(munin_plugin_line(p, "bogus line here", 15), 0);
    assert_int_equal(munin_plugin_line(p, "# Unknown service", 17), 0);
    assert_int_equal(munin_plugin_line(p, "a.label ok", 10), 0);
    assert_int_equal(munin_plugin_line(p, ".", 1), 1);
    assert_int_equal(p->failed, -EINVAL); /* the first failure is kept */
    assert_int_equal(p->nfields, 0);
    munin_plugin_free(p);
    /* Names the protocol cannot carry are refused up front. */
    assert_int_equal(munin_plugin_new(&p, "a b"), -EINVAL);
    assert_int_equal(munin_plugin_new(&p, ""), -EINVAL);
    assert_null(p);
}

static void plugin_texts_are_label_values(void **state)
{
    (void)state;
    /* Latin-1 and broken UTF-8 become '?', valid UTF-8 stays, long texts are cut. */
    buf cfg;
    buf_init(&cfg, 0);
    buf_puts(&cfg,
             "graph_title caf\xe9 \xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xed\xa0\x80"
             " \xc0\xaf\n");
    buf_puts(&cfg, "graph_vlabel ");
    for (int i = 0; i < 2000; i++)
        buf_puts(&cfg, "\xc3\xa9");
    buf_puts(&cfg, "\na.label x\n");
    munin_plugin *p = read_plugin("x", cfg.data, "a.value 1\n");
    buf_free(&cfg);
    assert_int_equal(p->failed, 0);
    munin_graph *g = p->graphs[0];
    assert_string_equal(g->title, "caf? \xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 ??? ??");
    assert_int_equal(strlen(g->vlabel), MUNIN_TEXT_MAX); /* 512 two-byte characters */
    munin_plugin_free(p);
    /* A title with a tab and trailing blanks. */
    p = read_plugin("x", "graph_title \ta\tb  \na.label x\n", "a.value 1\n");
    assert_string_equal(p->graphs[0]->title, "a\tb");
    munin_plugin_free(p);
}

static void plugin_field_and_graph_bounds(void **state)
{
    (void)state;
    munin_plugin *p = NULL;
    char line[64];
    assert_int_equal(munin_plugin_new(&p, "many"), 0);
    munin_plugin_begin(p, MUNIN_FETCH);
    for (int i = 0; i <= MUNIN_FIELDS_MAX; i++) {
        int n = snprintf(line, sizeof line, "f%d.value %d", i, i);
        assert_int_equal(munin_plugin_line(p, line, (size_t)n), 0);
    }
    assert_int_equal(munin_plugin_line(p, ".", 1), 1);
    assert_int_equal(p->failed, -E2BIG);
    assert_int_equal(p->nfields, MUNIN_FIELDS_MAX);
    assert_non_null(strstr(p->err, "more than 65536 fields"));
    munin_plugin_free(p);

    assert_int_equal(munin_plugin_new(&p, "graphs"), 0);
    munin_plugin_begin(p, MUNIN_CONFIG);
    for (int i = 0; i <= MUNIN_GRAPHS_MAX; i++) {
        int n = snprintf(line, sizeof line, "multigraph g%d", i);
        assert_int_equal(munin_plugin_line(p, line, (size_t)n), 0);
    }
    assert_int_equal(p->failed, -E2BIG);
    munin_plugin_free(p);

    /* A 255-byte field name is fine, 256 is not. */
    char name[300];
    memset(name, 'f', 256);
    memcpy(name + 255, ".value 1", 9);
    assert_int_equal(munin_plugin_new(&p, "x"), 0);
    munin_plugin_begin(p, MUNIN_FETCH);
    assert_int_equal(munin_plugin_line(p, name, strlen(name)), 0);
    assert_int_equal(p->failed, 0);
    memset(name, 'f', 256);
    memcpy(name + 256, ".value 1", 9);
    assert_int_equal(munin_plugin_line(p, name, strlen(name)), 0);
    assert_int_equal(p->failed, -EINVAL);
    munin_plugin_free(p);
}

static void plugin_survives_allocation_failures(void **state)
{
    (void)state;
    /* Fail every allocation in turn: each run ends failed (or fine), never crashes or leaks. */
    for (long n = 0; n < 60; n++) {
        munin_plugin *p = NULL;
        mem_fail_after(n);
        if (munin_plugin_new(&p, "x") == 0) {
            munin_plugin_begin(p, MUNIN_CONFIG);
            int rc = 0;
            const char *lines[] = {"graph_title T", "multigraph g", "a.label A", "a.warning 1",
                                   "b.type DERIVE"};
            for (size_t i = 0; i < 5 && rc == 0; i++)
                rc = munin_plugin_line(p, lines[i], strlen(lines[i]));
            munin_plugin_line(p, ".", 1);
            if (rc)
                assert_int_equal(p->failed, -ENOMEM);
            munin_plugin_free(p);
        }
        mem_fail_after(-1);
    }
}

/* ---- names and thresholds -------------------------------------------------------------------- */

static void metric_names_are_sanitised(void **state)
{
    (void)state;
    char out[600];
    assert_int_equal(munin_metric_name(out, sizeof out, "diskstats_iops.sda", "rd"), 0);
    assert_string_equal(out, "munin_diskstats_iops_sda_rd");
    assert_int_equal(munin_metric_name(out, sizeof out, "if-eth0:x", "up"), 0);
    assert_string_equal(out, "munin_if_eth0_x_up");
    assert_int_equal(munin_metric_name(out, sizeof out, "9lives", "0"), 0);
    assert_string_equal(out, "munin_9lives_0");
    assert_true(labels_valid_metric_name(out));
    assert_int_equal(munin_metric_name(out, 10, "load", "load"), -E2BIG);
    assert_int_equal(munin_metric_name(out, 16, "load", "load"), 0); /* 15 bytes and NUL */
    assert_int_equal(munin_metric_name(out, 15, "load", "load"), -E2BIG);
}

static void thresholds_upper_bound(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int rc;
        double v;
    } cases[] = {
        {"10", 0, 10},       {"5:10", 0, 10},     {":10", 0, 10},       {"-5:-1", 0, -1},
        {"0.5:1.5", 0, 1.5}, {"1e3", 0, 1000},    {"5:", -EINVAL, 0},   {"", -EINVAL, 0},
        {":", -EINVAL, 0},   {"x", -EINVAL, 0},   {"x:10", -EINVAL, 0}, {"1:2:3", -EINVAL, 0},
        {"10 ", -EINVAL, 0}, {"nan", -EINVAL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double v = 12345;
        int rc = munin_threshold_upper(cases[i].in, &v);
        if (rc != cases[i].rc)
            fail_msg("threshold \"%s\": rc %d, want %d", cases[i].in, rc, cases[i].rc);
        if (!rc && v != cases[i].v)
            fail_msg("threshold \"%s\": %g, want %g", cases[i].in, v, cases[i].v);
        if (rc && v != 12345)
            fail_msg("threshold \"%s\": output written on failure", cases[i].in);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lines_split_and_bound),
        cmocka_unit_test(banner_accepts_only_munin),
        cmocka_unit_test(cap_answers),
        cmocka_unit_test(list_answers),
        cmocka_unit_test(plugin_gauge_with_thresholds),
        cmocka_unit_test(plugin_types_unknown_and_timestamps),
        cmocka_unit_test(plugin_multigraph),
        cmocka_unit_test(plugin_node_verdicts),
        cmocka_unit_test(plugin_hostile_lines),
        cmocka_unit_test(plugin_texts_are_label_values),
        cmocka_unit_test(plugin_field_and_graph_bounds),
        cmocka_unit_test(plugin_survives_allocation_failures),
        cmocka_unit_test(metric_names_are_sanitised),
        cmocka_unit_test(thresholds_upper_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
