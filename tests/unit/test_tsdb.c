/* test_tsdb: appends through the appender (stats for duplicates, out-of-order, too-old and the
 * series limit), selects by every matcher kind and combinations over time ranges, sorted output,
 * label names and values, result limits, the observer, retention, allocation failures, and
 * concurrent appenders and readers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/labels.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/sample.h"
#include "lib/timeutil.h"
#include "tsdb/matcher.h"
#include "tsdb/tsdb.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})
#define S(sec) (T0 + (int64_t)(sec)*1000)

/* Base time: an hour ago on a whole minute, well inside the default 6 h retention. */
static int64_t T0;

/* ---- helpers ------------------------------------------------------------------------------- */

typedef struct in_series {
    label v[16];
    tsdb_series_in in;
} in_series;

static void mk(in_series *s, const char *const *kv, const sample *smp, size_t n)
{
    size_t i = 0;
    for (; kv[2 * i]; i++)
        s->v[i] = (label){kv[2 * i], kv[2 * i + 1]};
    s->in.ls = (labels){s->v, i};
    labels_sort(&s->in.ls);
    s->in.samples = smp;
    s->in.nsamples = n;
}

/* Appends one series in its own batch and returns the batch's stats. */
static tsdb_append_stats append1(tsdb *db, const char *const *kv, const sample *smp, size_t n)
{
    in_series s;
    mk(&s, kv, smp, n);
    tsdb_appender *a = NULL;
    assert_int_equal(tsdb_appender_begin(db, &a), 0);
    assert_int_equal(tsdb_appender_add(a, &s.in), 0);
    tsdb_append_stats st;
    memset(&st, 0xff, sizeof st);
    assert_int_equal(tsdb_appender_commit(a, &st), 0);
    return st;
}

/* Appends value v at second `sec` (relative to T0). */
static void put(tsdb *db, const char *const *kv, int64_t sec, double v)
{
    sample s = {S(sec), v};
    tsdb_append_stats st = append1(db, kv, &s, 1);
    assert_int_equal(st.accepted, 1);
}

typedef struct mspec {
    tsdb_match_type t;
    const char *n, *v;
} mspec;

#define M(t, n, v) ((mspec){TSDB_MATCH_##t, n, v})

static tsdb_matcher *mk_matchers(const mspec *ms, size_t nm)
{
    tsdb_matcher *m = calloc(nm + 1, sizeof *m);
    for (size_t i = 0; i < nm; i++) {
        char err[128];
        if (tsdb_matcher_init(&m[i], ms[i].t, ms[i].n, ms[i].v, err, sizeof err))
            fail_msg("matcher %s: %s", ms[i].v, err);
    }
    return m;
}

static void free_matchers(tsdb_matcher *m, size_t nm)
{
    for (size_t i = 0; i < nm; i++)
        tsdb_matcher_free(&m[i]);
    free(m);
}

/* Renders a set as "name{l="v"}@sec=v,@sec=v;..." with times in seconds from T0. */
static const char *render(tsdb_series_set *set)
{
    static char out[8192];
    buf b;
    buf_init(&b, 0);
    const labels *ls;
    const sample *s;
    size_t n;
    const labels *prev = NULL;
    while (tsdb_set_next(set, &ls, &s, &n)) {
        /* Sorted by labels, strictly. */
        if (prev)
            assert_true(labels_cmp(prev, ls) < 0);
        prev = ls;
        if (b.len)
            buf_putc(&b, ';');
        labels_format(ls, &b);
        for (size_t i = 0; i < n; i++) {
            long long rel = (long long)(s[i].t - T0);
            if (rel % 1000)
                buf_printf(&b, "%s@%lldms=%g", i ? "," : "", rel, s[i].v);
            else
                buf_printf(&b, "%s@%lld=%g", i ? "," : "", rel / 1000, s[i].v);
        }
    }
    snprintf(out, sizeof out, "%s", b.data ? b.data : "");
    buf_free(&b);
    return out;
}

/* Selects and renders; nm counts the specs. */
static const char *sel(tsdb *db, const mspec *ms, size_t nm, int64_t mint, int64_t maxt)
{
    tsdb_matcher *m = mk_matchers(ms, nm);
    tsdb_series_set *set = NULL;
    int rc = tsdb_select(db, m, nm, mint, maxt, NULL, &set);
    if (rc)
        fail_msg("select: %d", rc);
    const char *r = render(set);
    tsdb_set_free(set);
    free_matchers(m, nm);
    return r;
}

#define SEL(db, mint, maxt, ...)                                                                   \
    sel((db), (const mspec[]){__VA_ARGS__}, sizeof((const mspec[]){__VA_ARGS__}) / sizeof(mspec),  \
        (mint), (maxt))
#define SELA(db, ...) SEL((db), INT64_MIN, INT64_MAX, __VA_ARGS__)
#define ALL INT64_MIN, INT64_MAX

static const char *strings(const tsdb_strings *s)
{
    static char out[4096];
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = 0; i < s->n; i++) {
        if (i)
            assert_true(strcmp(s->v[i - 1], s->v[i]) < 0); /* sorted, distinct */
        off += (size_t)snprintf(out + off, sizeof out - off, "%s%s", i ? "," : "", s->v[i]);
    }
    return out;
}

static const char *names(tsdb *db, const mspec *ms, size_t nm, int64_t mint, int64_t maxt)
{
    tsdb_matcher *m = mk_matchers(ms, nm);
    tsdb_strings s;
    assert_int_equal(tsdb_label_names(db, m, nm, mint, maxt, &s), 0);
    const char *r = strings(&s);
    tsdb_strings_free(&s);
    free_matchers(m, nm);
    return r;
}

static const char *values(tsdb *db, const char *name, const mspec *ms, size_t nm, int64_t mint,
                          int64_t maxt)
{
    tsdb_matcher *m = mk_matchers(ms, nm);
    tsdb_strings s;
    assert_int_equal(tsdb_label_values(db, name, m, nm, mint, maxt, &s), 0);
    const char *r = strings(&s);
    tsdb_strings_free(&s);
    free_matchers(m, nm);
    return r;
}

static int setup(void **state)
{
    tsdb *db = NULL;
    tsdb_options o = {.retention_ms = 6 * 3600 * 1000LL};
    if (tsdb_open(&db, &o))
        return -1;
    *state = db;
    return 0;
}

static int teardown(void **state)
{
    tsdb_close(*state);
    return 0;
}

/* A small fixed data set used by several tests. */
static void load_fixture(tsdb *db)
{
    put(db, L("__name__", "up", "job", "api", "instance", "a:1"), 0, 1);
    put(db, L("__name__", "up", "job", "api", "instance", "b:1"), 0, 0);
    put(db, L("__name__", "up", "job", "db", "instance", "c:1"), 0, 1);
    put(db, L("__name__", "up", "job", "db", "instance", "c:1", "env", "prod"), 0, 1);
    put(db, L("__name__", "http_requests_total", "job", "api", "code", "200"), 0, 10);
    put(db, L("__name__", "http_requests_total", "job", "api", "code", "500"), 0, 2);
    put(db, L("__name__", "http_requests_total", "job", "api", "code", "503"), 0, 3);
    put(db, L("__name__", "temp", "room", "a\nb"), 0, 21.5);
}

/* ---- appends and stats --------------------------------------------------------------------- */

static void open_close_and_empty_store(void **state)
{
    tsdb *db = *state;
    tsdb_stats st;
    tsdb_get_stats(db, &st);
    assert_int_equal(st.series, 0);
    assert_int_equal(st.samples, 0);
    assert_int_equal(st.samples_appended, 0);
    assert_string_equal(SELA(db, M(EQ, "__name__", "up")), "");
    assert_string_equal(names(db, NULL, 0, ALL), "");
    assert_string_equal(values(db, "job", NULL, 0, ALL), "");
    tsdb_close(NULL);
    /* Options are honoured and the dir string is not kept. */
    char dir[] = "/tmp/dd-tsdb-opt-XXXXXX", keep[sizeof dir];
    assert_non_null(mkdtemp(dir));
    memcpy(keep, dir, sizeof dir);
    tsdb_options o = {.dir = dir, .retention_ms = 3600 * 1000, .max_series = 10};
    tsdb *db2 = NULL;
    assert_int_equal(tsdb_open(&db2, &o), 0);
    memset(dir, 0, sizeof dir);
    tsdb_close(db2);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", keep);
    assert_int_equal(system(cmd), 0);
}

static void append_and_select_samples(void **state)
{
    tsdb *db = *state;
    sample s[] = {{S(0), 1}, {S(15), 2}, {S(30), 3}, {S(45), 4}};
    tsdb_append_stats st = append1(db, L("__name__", "m", "a", "x"), s, 4);
    assert_int_equal(st.accepted, 4);
    assert_int_equal(st.new_series, 1);
    assert_int_equal(st.duplicates + st.out_of_order + st.too_old + st.series_limit, 0);
    assert_string_equal(SELA(db, M(EQ, "__name__", "m")), "m{a=\"x\"}@0=1,@15=2,@30=3,@45=4");
    /* More samples for the same series later. */
    sample s2[] = {{S(60), 5}};
    st = append1(db, L("a", "x", "__name__", "m"), s2, 1); /* label order does not matter */
    assert_int_equal(st.new_series, 0);
    assert_int_equal(st.accepted, 1);
    tsdb_stats gs;
    tsdb_get_stats(db, &gs);
    assert_int_equal(gs.series, 1);
    assert_int_equal(gs.samples, 5);
    assert_int_equal(gs.samples_appended, 5);
    assert_true(gs.min_time == S(0));
    assert_true(gs.max_time == S(60));
}

static void special_values_are_stored_bit_exact(void **state)
{
    tsdb *db = *state;
    sample s[] = {{S(0), NAN}, {S(1), 0}, {S(2), INFINITY}, {S(3), -0.0}};
    s[1].v = sample_stale_value();
    append1(db, L("__name__", "m"), s, 4);
    tsdb_matcher *m = mk_matchers((const mspec[]){M(EQ, "__name__", "m")}, 1);
    tsdb_series_set *set = NULL;
    assert_int_equal(tsdb_select(db, m, 1, ALL, NULL, &set), 0);
    const labels *ls;
    const sample *got;
    size_t n;
    assert_true(tsdb_set_next(set, &ls, &got, &n));
    assert_int_equal(n, 4);
    assert_memory_equal(got, s, sizeof s);
    assert_false(tsdb_set_next(set, &ls, &got, &n));
    tsdb_set_free(set);
    free_matchers(m, 1);
}

static void duplicates_out_of_order_and_too_old_are_counted(void **state)
{
    tsdb *db = *state;
    int64_t now = timeutil_now_ms();
    sample s1[] = {{S(10), 1}, {S(20), 2}, {S(30), 3}};
    tsdb_append_stats st = append1(db, L("__name__", "m"), s1, 3);
    assert_int_equal(st.accepted, 3);
    sample s2[] = {
        {S(30), 9},                 /* duplicate of the last */
        {S(20), 9},                 /* duplicate of an older one */
        {S(5), 9},                  /* out of order: accepted */
        {now - 7 * 3600 * 1000, 9}, /* older than the 6 h retention */
        {S(40), 4},                 /* fine */
        {S(40), 4},                 /* duplicate within the batch */
        {S(35), 9},                 /* out of order within the batch: accepted */
        {S(50), 5},                 /* fine */
    };
    st = append1(db, L("__name__", "m"), s2, 8);
    assert_int_equal(st.accepted, 4);
    assert_int_equal(st.ooo_accepted, 2);
    assert_int_equal(st.duplicates, 3);
    assert_int_equal(st.out_of_order, 0);
    assert_int_equal(st.too_old, 1);
    assert_int_equal(st.new_series, 0);
    assert_string_equal(SELA(db, M(EQ, "__name__", "m")),
                        "m{}@5=9,@10=1,@20=2,@30=3,@35=9,@40=4,@50=5");
    /* A new series whose only sample is too old is still created, but holds nothing. */
    sample old = {now - 7 * 3600 * 1000, 1};
    st = append1(db, L("__name__", "old"), &old, 1);
    assert_int_equal(st.too_old, 1);
    assert_int_equal(st.accepted, 0);
    assert_string_equal(SELA(db, M(EQ, "__name__", "old")), "");
    tsdb_stats gs;
    tsdb_get_stats(db, &gs);
    assert_int_equal(gs.samples, 7);
    assert_int_equal(gs.samples_appended, 7);
    assert_int_equal(gs.duplicates, 3);
    assert_int_equal(gs.ooo_accepted, 2);
    assert_int_equal(gs.too_old, 2);
}

static void one_batch_many_series_and_repeats(void **state)
{
    tsdb *db = *state;
    sample a1[] = {{S(0), 1}}, a2[] = {{S(10), 2}}, b1[] = {{S(0), 7}};
    in_series x, y, z;
    mk(&x, L("__name__", "a"), a1, 1);
    mk(&y, L("__name__", "b"), b1, 1);
    mk(&z, L("__name__", "a"), a2, 1); /* the same series again, later in the batch */
    tsdb_appender *ap = NULL;
    assert_int_equal(tsdb_appender_begin(db, &ap), 0);
    assert_int_equal(tsdb_appender_add(ap, &x.in), 0);
    assert_int_equal(tsdb_appender_add(ap, &y.in), 0);
    assert_int_equal(tsdb_appender_add(ap, &z.in), 0);
    tsdb_append_stats st;
    assert_int_equal(tsdb_appender_commit(ap, &st), 0);
    assert_int_equal(st.accepted, 3);
    assert_int_equal(st.new_series, 2);
    assert_string_equal(SELA(db, M(RE, "__name__", "a|b")), "a{}@0=1,@10=2;b{}@0=7");
    /* A batch of many series (past the appender's first allocation). */
    static in_series many[300];
    static sample ms[300];
    static char vals[300][8];
    assert_int_equal(tsdb_appender_begin(db, &ap), 0);
    for (int i = 0; i < 300; i++) {
        snprintf(vals[i], sizeof vals[i], "%03d", i);
        ms[i] = (sample){S(i), i};
        mk(&many[i], L("__name__", "many", "i", vals[i]), &ms[i], 1);
        assert_int_equal(tsdb_appender_add(ap, &many[i].in), 0);
    }
    assert_int_equal(tsdb_appender_commit(ap, NULL), 0); /* stats may be NULL */
    tsdb_stats gs;
    tsdb_get_stats(db, &gs);
    assert_int_equal(gs.series, 302);
    assert_string_equal(SELA(db, M(EQ, "__name__", "many"), M(EQ, "i", "123")),
                        "many{i=\"123\"}@123=123");
}

static void rollback_stores_nothing(void **state)
{
    tsdb *db = *state;
    sample s = {S(0), 1};
    in_series x;
    mk(&x, L("__name__", "rolled"), &s, 1);
    tsdb_appender *ap = NULL;
    assert_int_equal(tsdb_appender_begin(db, &ap), 0);
    assert_int_equal(tsdb_appender_add(ap, &x.in), 0);
    tsdb_appender_rollback(ap);
    tsdb_appender_rollback(NULL);
    tsdb_stats gs;
    tsdb_get_stats(db, &gs);
    assert_int_equal(gs.series, 0);
    assert_int_equal(gs.samples, 0);
    assert_string_equal(SELA(db, M(EQ, "__name__", "rolled")), "");
    /* An empty commit is fine. */
    assert_int_equal(tsdb_appender_begin(db, &ap), 0);
    tsdb_append_stats st;
    assert_int_equal(tsdb_appender_commit(ap, &st), 0);
    assert_int_equal(st.accepted, 0);
}

static void series_limit_refuses_new_series_only(void **state)
{
    (void)state;
    tsdb_options o = {.max_series = 3};
    tsdb *db = NULL;
    assert_int_equal(tsdb_open(&db, &o), 0);
    sample s[] = {{S(0), 1}, {S(1), 2}};
    char v[8];
    for (int i = 0; i < 3; i++) {
        snprintf(v, sizeof v, "%d", i);
        assert_int_equal(append1(db, L("__name__", "m", "i", v), s, 1).accepted, 1);
    }
    tsdb_append_stats st = append1(db, L("__name__", "m", "i", "3"), s, 2);
    assert_int_equal(st.accepted, 0);
    assert_int_equal(st.series_limit, 2);
    assert_int_equal(st.new_series, 0);
    /* Existing series keep taking samples. */
    st = append1(db, L("__name__", "m", "i", "1"), s + 1, 1);
    assert_int_equal(st.accepted, 1);
    assert_int_equal(st.series_limit, 0);
    tsdb_stats gs;
    tsdb_get_stats(db, &gs);
    assert_int_equal(gs.series, 3);
    tsdb_close(db);
}

/* ---- selects ------------------------------------------------------------------------------- */

static void select_by_each_matcher_kind(void **state)
{
    tsdb *db = *state;
    load_fixture(db);
    const char *up_a = "up{instance=\"a:1\",job=\"api\"}@0=1";
    const char *up_b = "up{instance=\"b:1\",job=\"api\"}@0=0";
    const char *up_c = "up{instance=\"c:1\",job=\"db\"}@0=1";
    const char *up_cp = "up{env=\"prod\",instance=\"c:1\",job=\"db\"}@0=1";
    char want[1024];
    /* = */
    snprintf(want, sizeof want, "%s;%s;%s;%s", up_cp, up_a, up_b, up_c);
    assert_string_equal(SELA(db, M(EQ, "__name__", "up")), want);
    snprintf(want, sizeof want, "%s;%s", up_a, up_b);
    assert_string_equal(SELA(db, M(EQ, "__name__", "up"), M(EQ, "job", "api")), want);
    assert_string_equal(SELA(db, M(EQ, "__name__", "nope")), "");
    assert_string_equal(SELA(db, M(EQ, "job", "nope")), "");
    /* = "" matches series without the label */
    snprintf(want, sizeof want, "%s;%s;%s", up_a, up_b, up_c);
    assert_string_equal(SELA(db, M(EQ, "__name__", "up"), M(EQ, "env", "")), want);
    /* != */
    snprintf(want, sizeof want, "%s;%s", up_cp, up_c);
    assert_string_equal(SELA(db, M(EQ, "__name__", "up"), M(NEQ, "job", "api")), want);
    /* != "" requires the label */
    assert_string_equal(SELA(db, M(EQ, "__name__", "up"), M(NEQ, "env", "")), up_cp);
    /* != on a label most series lack: they all match */
    snprintf(want, sizeof want, "%s;%s;%s", up_a, up_b, up_c);
    assert_string_equal(SELA(db, M(EQ, "__name__", "up"), M(NEQ, "env", "prod")), want);
    /* =~ anchored */
    assert_string_equal(SELA(db, M(EQ, "__name__", "http_requests_total"), M(RE, "code", "5..")),
                        "http_requests_total{code=\"500\",job=\"api\"}@0=2;"
                        "http_requests_total{code=\"503\",job=\"api\"}@0=3");
    assert_string_equal(SELA(db, M(RE, "code", "50")), "");
    assert_string_equal(SELA(db, M(RE, "code", "200|503")),
                        "http_requests_total{code=\"200\",job=\"api\"}@0=10;"
                        "http_requests_total{code=\"503\",job=\"api\"}@0=3");
    /* =~ without any equality matcher, over __name__ */
    assert_string_equal(SELA(db, M(RE, "__name__", "te.p")), "temp{room=\"a\\nb\"}@0=21.5");
    assert_string_equal(SELA(db, M(RE, "room", "a.b")), "temp{room=\"a\\nb\"}@0=21.5");
    /* !~ */
    assert_string_equal(
        SELA(db, M(EQ, "__name__", "http_requests_total"), M(NRE, "code", "2..|500")),
        "http_requests_total{code=\"503\",job=\"api\"}@0=3");
    /* A regex that matches "" also takes series without the label. */
    snprintf(want, sizeof want, "%s;%s;%s", up_a, up_b, up_c);
    assert_string_equal(SELA(db, M(EQ, "__name__", "up"), M(RE, "env", "|dev")), want);
    /* Only negative matchers: every series is a candidate. */
    assert_string_equal(
        SELA(db, M(NEQ, "__name__", "up"), M(NEQ, "__name__", "temp"), M(NRE, "code", "200|500")),
        "http_requests_total{code=\"503\",job=\"api\"}@0=3");
    /* Contradictions. */
    assert_string_equal(SELA(db, M(EQ, "job", "api"), M(EQ, "job", "db")), "");
    assert_string_equal(SELA(db, M(EQ, "job", "api"), M(NEQ, "job", "api")), "");
    assert_string_equal(SELA(db, M(RE, "job", "a.*"), M(NRE, "job", "api")), "");
}

static void select_with_no_matchers_returns_nothing(void **state)
{
    tsdb *db = *state;
    load_fixture(db);
    tsdb_series_set *set = NULL;
    assert_int_equal(tsdb_select(db, NULL, 0, ALL, NULL, &set), 0);
    assert_int_equal(tsdb_set_count(set), 0);
    const labels *ls;
    assert_false(tsdb_set_next(set, &ls, NULL, NULL));
    tsdb_set_free(set);
    tsdb_set_free(NULL);
}

static void select_filters_time_range_inclusively(void **state)
{
    tsdb *db = *state;
    sample s[] = {{S(0), 0}, {S(10), 1}, {S(20), 2}, {S(30), 3}};
    append1(db, L("__name__", "m"), s, 4);
    sample o[] = {{S(100), 9}};
    append1(db, L("__name__", "m", "late", "yes"), o, 1);
    assert_string_equal(SEL(db, S(10), S(20), M(EQ, "__name__", "m")), "m{}@10=1,@20=2");
    assert_string_equal(SEL(db, S(10) + 1, S(20) - 1, M(EQ, "__name__", "m")), "");
    assert_string_equal(SEL(db, S(10) + 1, S(20), M(EQ, "__name__", "m")), "m{}@20=2");
    assert_string_equal(SEL(db, S(30), S(100), M(EQ, "__name__", "m")),
                        "m{}@30=3;m{late=\"yes\"}@100=9");
    assert_string_equal(SEL(db, S(31), INT64_MAX, M(EQ, "__name__", "m")), "m{late=\"yes\"}@100=9");
    assert_string_equal(SEL(db, INT64_MIN, S(0), M(EQ, "__name__", "m")), "m{}@0=0");
    assert_string_equal(SEL(db, S(20), S(10), M(EQ, "__name__", "m")), ""); /* mint > maxt */
    assert_string_equal(SEL(db, S(101), INT64_MAX, M(EQ, "__name__", "m")), "");
}

static void select_output_is_sorted_by_labels(void **state)
{
    tsdb *db = *state;
    /* Inserted in reverse and shuffled order; render() asserts strict label order. */
    static const char *vals[] = {"z", "b", "y", "a", "m", "aa", "B", "_", "0"};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        put(db, L("__name__", "s", "k", vals[i]), 0, (double)i);
        put(db, L("__name__", "r", "k", vals[i], "x", "1"), 0, (double)i);
    }
    put(db, L("__name__", "s"), 0, 99);
    assert_string_equal(SELA(db, M(RE, "__name__", "s")),
                        "s{}@0=99;s{k=\"0\"}@0=8;s{k=\"B\"}@0=6;s{k=\"_\"}@0=7;s{k=\"a\"}@0=3;"
                        "s{k=\"aa\"}@0=5;s{k=\"b\"}@0=1;s{k=\"m\"}@0=4;s{k=\"y\"}@0=2;"
                        "s{k=\"z\"}@0=0");
    tsdb_matcher *m = mk_matchers((const mspec[]){M(RE, "__name__", "r|s")}, 1);
    tsdb_series_set *set = NULL;
    assert_int_equal(tsdb_select(db, m, 1, ALL, NULL, &set), 0);
    assert_int_equal(tsdb_set_count(set), 19);
    render(set); /* checks the order */
    tsdb_set_free(set);
    free_matchers(m, 1);
}

static void labels_only_select_copies_no_samples(void **state)
{
    tsdb *db = *state;
    sample s[] = {{S(0), 0}, {S(10), 1}, {S(20), 2}};
    append1(db, L("__name__", "m", "a", "1"), s, 3);
    append1(db, L("__name__", "m", "a", "2"), s, 1);
    tsdb_matcher *m = mk_matchers((const mspec[]){M(EQ, "__name__", "m")}, 1);
    tsdb_select_opts o = {.labels_only = 1, .max_samples = 1};
    tsdb_series_set *set = NULL;
    assert_int_equal(tsdb_select(db, m, 1, ALL, &o, &set), 0);
    assert_int_equal(tsdb_set_count(set), 2);
    const labels *ls;
    const sample *smp = (const sample *)1;
    size_t n = 99;
    assert_true(tsdb_set_next(set, &ls, &smp, &n));
    assert_int_equal(n, 0);
    assert_string_equal(labels_get(ls, "a"), "1");
    tsdb_set_free(set);
    /* Still filtered by time. */
    assert_int_equal(tsdb_select(db, m, 1, S(5), S(30), &o, &set), 0);
    assert_int_equal(tsdb_set_count(set), 1);
    tsdb_set_free(set);
    free_matchers(m, 1);
}

static void select_limits_give_e2big(void **state)
{
    tsdb *db = *state;
    sample s[] = {{S(0), 0}, {S(10), 1}, {S(20), 2}};
    char v[8];
    for (int i = 0; i < 4; i++) {
        snprintf(v, sizeof v, "%d", i);
        append1(db, L("__name__", "m", "i", v), s, 3);
    }
    tsdb_matcher *m = mk_matchers((const mspec[]){M(EQ, "__name__", "m")}, 1);
    static const struct {
        size_t max_samples, max_series;
        int64_t mint;
        int rc;
    } cases[] = {
        {12, 0, INT64_MIN, 0},     {11, 0, INT64_MIN, -E2BIG},
        {1, 0, INT64_MIN, -E2BIG}, {0, 4, INT64_MIN, 0},
        {0, 3, INT64_MIN, -E2BIG}, {0, 1, INT64_MIN, -E2BIG},
        {12, 4, INT64_MIN, 0},     {4, 0, 0, 0}, /* only the in-range samples count */
        {3, 0, 0, -E2BIG},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tsdb_select_opts o = {.max_samples = cases[i].max_samples, .max_series = cases[i].max_series};
        tsdb_series_set *set = (tsdb_series_set *)1;
        int64_t mint = cases[i].mint == 0 ? S(20) : cases[i].mint;
        int rc = tsdb_select(db, m, 1, mint, INT64_MAX, &o, &set);
        if (rc != cases[i].rc)
            fail_msg("case %zu: rc %d, want %d", i, rc, cases[i].rc);
        if (rc == 0)
            tsdb_set_free(set);
        else
            assert_null(set);
    }
    free_matchers(m, 1);
}

static void select_result_outlives_later_appends(void **state)
{
    tsdb *db = *state;
    sample s[] = {{S(0), 1}};
    append1(db, L("__name__", "m"), s, 1);
    tsdb_matcher *m = mk_matchers((const mspec[]){M(EQ, "__name__", "m")}, 1);
    tsdb_series_set *set = NULL;
    assert_int_equal(tsdb_select(db, m, 1, ALL, NULL, &set), 0);
    /* Appends (which may move the store's sample arrays) do not touch the snapshot. */
    for (int i = 1; i < 500; i++)
        put(db, L("__name__", "m"), i, i);
    assert_string_equal(render(set), "m{}@0=1");
    tsdb_set_free(set);
    free_matchers(m, 1);
}

/* ---- label names and values ---------------------------------------------------------------- */

static void label_names_and_values(void **state)
{
    tsdb *db = *state;
    load_fixture(db);
    put(db, L("__name__", "late", "zone", "z9"), 3000, 1);
    assert_string_equal(names(db, NULL, 0, ALL), "__name__,code,env,instance,job,room,zone");
    assert_string_equal(values(db, "job", NULL, 0, ALL), "api,db");
    assert_string_equal(values(db, "__name__", NULL, 0, ALL), "http_requests_total,late,temp,up");
    assert_string_equal(values(db, "nope", NULL, 0, ALL), "");
    /* With matchers. */
    assert_string_equal(names(db, (const mspec[]){M(EQ, "__name__", "up")}, 1, ALL),
                        "__name__,env,instance,job");
    assert_string_equal(names(db, (const mspec[]){M(EQ, "job", "db")}, 1, ALL),
                        "__name__,env,instance,job");
    assert_string_equal(values(db, "instance", (const mspec[]){M(EQ, "job", "api")}, 1, ALL),
                        "a:1,b:1");
    assert_string_equal(values(db, "code", (const mspec[]){M(RE, "code", "5.*")}, 1, ALL),
                        "500,503");
    assert_string_equal(
        values(db, "env", (const mspec[]){M(EQ, "__name__", "http_requests_total")}, 1, ALL), "");
    assert_string_equal(names(db, (const mspec[]){M(EQ, "__name__", "nope")}, 1, ALL), "");
    /* With a time range: only series with samples in it. */
    assert_string_equal(names(db, (const mspec[]){M(NEQ, "__name__", "")}, 1, S(1000), S(4000)),
                        "__name__,zone");
    assert_string_equal(
        values(db, "__name__", (const mspec[]){M(NEQ, "__name__", "")}, 1, S(0), S(0)),
        "http_requests_total,temp,up");
}

static void label_names_without_matchers_honour_the_time_range(void **state)
{
    tsdb *db = *state;
    put(db, L("__name__", "early", "a", "1"), 0, 1);
    put(db, L("__name__", "late", "b", "2"), 100, 1);
    assert_string_equal(names(db, NULL, 0, ALL), "__name__,a,b");
    assert_string_equal(names(db, NULL, 0, S(50), S(200)), "__name__,b");
    assert_string_equal(names(db, NULL, 0, S(0), S(0)), "__name__,a");
    assert_string_equal(names(db, NULL, 0, S(1), S(99)), "");
    assert_string_equal(values(db, "__name__", NULL, 0, S(50), S(200)), "late");
    assert_string_equal(values(db, "a", NULL, 0, S(50), S(200)), "");
    assert_string_equal(values(db, "__name__", NULL, 0, S(0), S(100)), "early,late");
}

/* ---- observer ------------------------------------------------------------------------------ */

typedef struct observed {
    int calls;
    size_t series;
    size_t samples;
    char first[128];
} observed;

static void observer(void *ctx, const tsdb_series_in *series, size_t n)
{
    observed *o = ctx;
    o->calls++;
    o->series += n;
    for (size_t i = 0; i < n; i++)
        o->samples += series[i].nsamples;
    buf b;
    buf_init(&b, 0);
    labels_format(&series[0].ls, &b);
    snprintf(o->first, sizeof o->first, "%s", b.data ? b.data : "");
    buf_free(&b);
}

static void observer_sees_committed_batches(void **state)
{
    tsdb *db = *state;
    observed o = {0};
    tsdb_set_observer(db, observer, &o);
    sample s[] = {{S(0), 1}, {S(1), 2}};
    in_series x, y;
    mk(&x, L("__name__", "a", "k", "v"), s, 2);
    mk(&y, L("__name__", "b"), s, 1);
    tsdb_appender *ap = NULL;
    assert_int_equal(tsdb_appender_begin(db, &ap), 0);
    tsdb_appender_add(ap, &x.in);
    tsdb_appender_add(ap, &y.in);
    assert_int_equal(tsdb_appender_commit(ap, NULL), 0);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.series, 2);
    assert_int_equal(o.samples, 3);
    assert_string_equal(o.first, "a{k=\"v\"}");
    /* A rolled-back batch is not seen. */
    assert_int_equal(tsdb_appender_begin(db, &ap), 0);
    tsdb_appender_add(ap, &x.in);
    tsdb_appender_rollback(ap);
    assert_int_equal(o.calls, 1);
    /* An empty commit is not a batch worth telling about. */
    assert_int_equal(tsdb_appender_begin(db, &ap), 0);
    assert_int_equal(tsdb_appender_commit(ap, NULL), 0);
    assert_int_equal(o.calls, 1);
    /* Removed: no more calls. */
    tsdb_set_observer(db, NULL, NULL);
    put(db, L("__name__", "c"), 5, 1);
    assert_int_equal(o.calls, 1);
}

/* ---- retention ----------------------------------------------------------------------------- */

static void maintain_drops_samples_past_retention(void **state)
{
    (void)state;
    tsdb_options o = {.retention_ms = 3600 * 1000}; /* 1 h */
    tsdb *db = NULL;
    assert_int_equal(tsdb_open(&db, &o), 0);
    int64_t now = timeutil_now_ms();
    int64_t base = now - 50 * 60 * 1000; /* 50 minutes ago */
    enum { N = 300 };
    static sample s[N];
    for (int i = 0; i < N; i++)
        s[i] = (sample){base + i * 10000LL, i}; /* every 10 s for 50 min */
    in_series x;
    mk(&x, L("__name__", "m"), s, N);
    tsdb_appender *ap = NULL;
    assert_int_equal(tsdb_appender_begin(db, &ap), 0);
    tsdb_appender_add(ap, &x.in);
    tsdb_append_stats st;
    assert_int_equal(tsdb_appender_commit(ap, &st), 0);
    assert_int_equal(st.accepted, N);
    put(db, L("__name__", "other"), (now - T0) / 1000, 1);

    /* Nothing is old enough yet. */
    tsdb_maintain(db, now);
    tsdb_stats gs;
    tsdb_get_stats(db, &gs);
    assert_int_equal(gs.samples, N + 1);

    /* 50 minutes on, the cutoff is base + 40 min: memory-only stores drop whole chunks that
     * end before it, so what stays is a suffix of the series holding every sample from the
     * cutoff on (the last 60) and maybe the rest of a chunk that straddles it. */
    tsdb_maintain(db, now + 50 * 60 * 1000);
    tsdb_get_stats(db, &gs);
    assert_int_equal(gs.samples_appended, N + 1); /* a running total, not what is held */
    tsdb_matcher *m = mk_matchers((const mspec[]){M(EQ, "__name__", "m")}, 1);
    tsdb_series_set *set = NULL;
    assert_int_equal(tsdb_select(db, m, 1, ALL, NULL, &set), 0);
    const labels *ls;
    const sample *got;
    size_t n;
    assert_true(tsdb_set_next(set, &ls, &got, &n));
    assert_true(n >= 60 && n < N);
    assert_int_equal(gs.samples, n + 1);
    assert_true(got[0].v == (double)(N - n));
    assert_true(got[0].t == base + (int64_t)(N - n) * 10000);
    assert_true(got[n - 1].v == N - 1);
    tsdb_set_free(set);

    /* Far in the future everything goes; the series can take new samples again. */
    tsdb_maintain(db, now + 24 * 3600 * 1000LL);
    tsdb_get_stats(db, &gs);
    assert_int_equal(gs.samples, 0);
    assert_int_equal(tsdb_select(db, m, 1, ALL, NULL, &set), 0);
    assert_int_equal(tsdb_set_count(set), 0);
    tsdb_set_free(set);
    put(db, L("__name__", "m"), (now - T0) / 1000, 5);
    assert_int_equal(tsdb_select(db, m, 1, ALL, NULL, &set), 0);
    assert_int_equal(tsdb_set_count(set), 1);
    tsdb_set_free(set);
    free_matchers(m, 1);
    tsdb_close(db);
}

/* ---- allocation failures ------------------------------------------------------------------- */

static void commit_under_allocation_failure_stores_all_or_nothing(void **state)
{
    (void)state;
    int succeeded = 0;
    for (long n = 0; n < 400 && !succeeded; n++) {
        tsdb *db = NULL;
        assert_int_equal(tsdb_open(&db, NULL), 0);
        put(db, L("__name__", "existing", "job", "x"), 0, 1);
        observed o = {0};
        tsdb_set_observer(db, observer, &o);
        static sample s[100];
        for (int i = 0; i < 100; i++)
            s[i] = (sample){S(i + 1), i};
        in_series a, b, c;
        mk(&a, L("__name__", "existing", "job", "x"), s, 100); /* grows its sample array */
        mk(&b, L("__name__", "new1", "job", "x", "k", "v"), s, 3);
        mk(&c, L("__name__", "new2", "other", "y"), s, 2);
        tsdb_appender *ap = NULL;
        mem_fail_after(n);
        int rc = tsdb_appender_begin(db, &ap);
        if (rc == 0) {
            int r1 = tsdb_appender_add(ap, &a.in);
            int r2 = r1 ? r1 : tsdb_appender_add(ap, &b.in);
            int r3 = r2 ? r2 : tsdb_appender_add(ap, &c.in);
            if (r3) {
                tsdb_appender_rollback(ap);
                rc = r3;
            } else {
                tsdb_append_stats st;
                rc = tsdb_appender_commit(ap, &st);
            }
        }
        mem_fail_after(-1);
        if (rc != 0 && rc != -ENOMEM)
            fail_msg("fail after %ld: rc %d", n, rc);
        tsdb_stats gs;
        tsdb_get_stats(db, &gs);
        if (rc == 0) {
            succeeded = 1;
            assert_int_equal(gs.samples, 106);
            assert_int_equal(o.calls, 1);
        } else {
            /* The observer saw nothing; the batch is stored completely, partly (the failure
             * struck while applying it: a durable store has it in its WAL) or not at all. */
            if (gs.samples > 106)
                fail_msg("fail after %ld: %zu samples held after -ENOMEM", n, gs.samples);
            assert_int_equal(o.calls, 0);
        }
        /* Either way the store is consistent: every series is reachable through every one of
         * its labels, and a retry of the batch goes through. */
        tsdb_set_observer(db, NULL, NULL);
        tsdb_appender *retry = NULL;
        assert_int_equal(tsdb_appender_begin(db, &retry), 0);
        tsdb_appender_add(retry, &a.in);
        tsdb_appender_add(retry, &b.in);
        tsdb_appender_add(retry, &c.in);
        assert_int_equal(tsdb_appender_commit(retry, NULL), 0);
        assert_string_equal(SELA(db, M(EQ, "k", "v")), "new1{job=\"x\",k=\"v\"}@1=0,@2=1,@3=2");
        assert_string_equal(SELA(db, M(EQ, "other", "y")), "new2{other=\"y\"}@1=0,@2=1");
        assert_string_equal(SELA(db, M(EQ, "job", "x"), M(EQ, "__name__", "new1")),
                            "new1{job=\"x\",k=\"v\"}@1=0,@2=1,@3=2");
        assert_string_equal(SEL(db, 0, 0, M(EQ, "__name__", "new2")), "");
        tsdb_get_stats(db, &gs);
        assert_int_equal(gs.samples, 106);
        assert_int_equal(gs.series, 3);
        tsdb_close(db);
    }
    assert_true(succeeded);
}

static void select_and_label_queries_under_allocation_failure(void **state)
{
    tsdb *db = *state;
    load_fixture(db);
    for (int which = 0; which < 3; which++) {
        int ok = 0;
        for (long n = 0; n < 100 && !ok; n++) {
            tsdb_matcher *m = mk_matchers((const mspec[]){M(RE, "job", "api|db")}, 1);
            mem_fail_after(n);
            int rc;
            tsdb_series_set *set = NULL;
            tsdb_strings s = {NULL, 0};
            if (which == 0)
                rc = tsdb_select(db, m, 1, ALL, NULL, &set);
            else if (which == 1)
                rc = tsdb_label_names(db, m, 1, ALL, &s);
            else
                rc = tsdb_label_values(db, "instance", NULL, 0, ALL, &s);
            mem_fail_after(-1);
            assert_true(rc == 0 || rc == -ENOMEM);
            if (rc == 0) {
                ok = 1;
                if (which == 0)
                    assert_int_equal(tsdb_set_count(set), 7);
                else
                    assert_true(s.n > 0);
            }
            tsdb_set_free(set);
            tsdb_strings_free(&s);
            free_matchers(m, 1);
        }
        assert_true(ok);
    }
}

/* ---- concurrency --------------------------------------------------------------------------- */

enum { WRITERS = 4, BATCHES = 200, SERIES_PER_BATCH = 5 };

typedef struct writer_arg {
    tsdb *db;
    int id;
    size_t accepted;
    int errors;
} writer_arg;

static void *writer(void *p)
{
    writer_arg *w = p;
    char wid[8], sid[SERIES_PER_BATCH][8];
    snprintf(wid, sizeof wid, "w%d", w->id);
    for (int k = 0; k < SERIES_PER_BATCH; k++)
        snprintf(sid[k], sizeof sid[k], "s%d", k);
    for (int b = 0; b < BATCHES; b++) {
        in_series in[SERIES_PER_BATCH + 1];
        sample s[SERIES_PER_BATCH + 1];
        tsdb_appender *ap = NULL;
        if (tsdb_appender_begin(w->db, &ap)) {
            w->errors++;
            continue;
        }
        for (int k = 0; k < SERIES_PER_BATCH; k++) {
            s[k] = (sample){S(b), b * 10 + k};
            mk(&in[k], L("__name__", "conc", "writer", wid, "series", sid[k]), &s[k], 1);
            tsdb_appender_add(ap, &in[k].in);
        }
        /* One series every writer shares: only one sample per timestamp gets in. */
        s[SERIES_PER_BATCH] = (sample){S(b), w->id};
        mk(&in[SERIES_PER_BATCH], L("__name__", "shared"), &s[SERIES_PER_BATCH], 1);
        tsdb_appender_add(ap, &in[SERIES_PER_BATCH].in);
        tsdb_append_stats st;
        if (tsdb_appender_commit(ap, &st))
            w->errors++;
        w->accepted += st.accepted;
    }
    return NULL;
}

typedef struct reader_arg {
    tsdb *db;
    volatile int *stop;
    int errors;
    int rounds;
} reader_arg;

static void *reader(void *p)
{
    reader_arg *r = p;
    char err[128];
    tsdb_matcher m;
    tsdb_matcher_init(&m, TSDB_MATCH_EQ, "__name__", "conc", err, sizeof err);
    size_t last = 0;
    while (!*r->stop) {
        tsdb_series_set *set = NULL;
        if (tsdb_select(r->db, &m, 1, ALL, NULL, &set)) {
            r->errors++;
            break;
        }
        size_t total = 0;
        const labels *ls, *prev = NULL;
        const sample *s;
        size_t n;
        while (tsdb_set_next(set, &ls, &s, &n)) {
            if (prev && labels_cmp(prev, ls) >= 0)
                r->errors++;
            for (size_t i = 1; i < n; i++)
                if (s[i].t <= s[i - 1].t)
                    r->errors++;
            prev = ls;
            total += n;
        }
        /* Batches are atomic and never shrink: totals grow in whole batches. */
        if (total < last || total % SERIES_PER_BATCH)
            r->errors++;
        last = total;
        tsdb_set_free(set);
        tsdb_strings names;
        if (tsdb_label_values(r->db, "writer", NULL, 0, ALL, &names) == 0)
            tsdb_strings_free(&names);
        r->rounds++;
    }
    tsdb_matcher_free(&m);
    return NULL;
}

static void concurrent_appends_and_selects_give_exact_totals(void **state)
{
    tsdb *db = *state;
    pthread_t wt[WRITERS], rt[2];
    writer_arg wa[WRITERS];
    reader_arg ra[2];
    volatile int stop = 0;
    for (int i = 0; i < 2; i++) {
        ra[i] = (reader_arg){db, &stop, 0, 0};
        assert_int_equal(pthread_create(&rt[i], NULL, reader, &ra[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        wa[i] = (writer_arg){db, i, 0, 0};
        assert_int_equal(pthread_create(&wt[i], NULL, writer, &wa[i]), 0);
    }
    size_t accepted = 0;
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(wt[i], NULL);
        assert_int_equal(wa[i].errors, 0);
        accepted += wa[i].accepted;
    }
    stop = 1;
    for (int i = 0; i < 2; i++) {
        pthread_join(rt[i], NULL);
        assert_int_equal(ra[i].errors, 0);
    }
    /* Own series: every sample; shared series: at least one writer per timestamp, never two. */
    size_t own = (size_t)WRITERS * BATCHES * SERIES_PER_BATCH;
    tsdb_stats gs;
    tsdb_get_stats(db, &gs);
    assert_int_equal(gs.series, WRITERS * SERIES_PER_BATCH + 1);
    assert_int_equal(gs.samples, accepted);
    assert_int_equal(gs.samples_appended, accepted);
    assert_true(accepted >= own + 1 && accepted <= own + BATCHES);
    assert_int_equal(gs.samples - own + gs.duplicates + gs.out_of_order, (size_t)WRITERS * BATCHES);
    tsdb_matcher *m = mk_matchers((const mspec[]){M(EQ, "__name__", "conc")}, 1);
    tsdb_series_set *set = NULL;
    assert_int_equal(tsdb_select(db, m, 1, ALL, NULL, &set), 0);
    assert_int_equal(tsdb_set_count(set), WRITERS * SERIES_PER_BATCH);
    const labels *ls;
    const sample *s;
    size_t n;
    while (tsdb_set_next(set, &ls, &s, &n)) {
        assert_int_equal(n, BATCHES);
        int k = labels_get(ls, "series")[1] - '0';
        for (size_t i = 0; i < n; i++) {
            assert_true(s[i].t == S(i));
            assert_true(s[i].v == (double)(i * 10 + (size_t)k));
        }
    }
    tsdb_set_free(set);
    free_matchers(m, 1);
}

int main(void)
{
    log_set_level(LOG_WARN);
    T0 = (timeutil_now_ms() - 3600 * 1000) / 60000 * 60000;
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(open_close_and_empty_store),
        T(append_and_select_samples),
        T(special_values_are_stored_bit_exact),
        T(duplicates_out_of_order_and_too_old_are_counted),
        T(one_batch_many_series_and_repeats),
        T(rollback_stores_nothing),
        T(series_limit_refuses_new_series_only),
        T(select_by_each_matcher_kind),
        T(select_with_no_matchers_returns_nothing),
        T(select_filters_time_range_inclusively),
        T(select_output_is_sorted_by_labels),
        T(labels_only_select_copies_no_samples),
        T(select_limits_give_e2big),
        T(select_result_outlives_later_appends),
        T(label_names_and_values),
        T(label_names_without_matchers_honour_the_time_range),
        T(observer_sees_committed_batches),
        T(maintain_drops_samples_past_retention),
        T(commit_under_allocation_failure_stores_all_or_nothing),
        T(select_and_label_queries_under_allocation_failure),
        T(concurrent_appends_and_selects_give_exact_totals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
