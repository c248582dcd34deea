/* test_tsdb_disk: the durable store. Cuts of the head into blocks, reads across blocks and
 * head, reopen (blocks + WAL replay), tier aggregates exact against a naive model, forced
 * tiers and aggregate columns, out-of-order / duplicate / too-old handling around the head's
 * window, flush, compaction, retention by time and by size, damaged blocks, WAL tails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/labels.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/sample.h"
#include "lib/timeutil.h"
#include "tsdb/matcher.h"
#include "tsdb/tsdb.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define H (3600 * 1000LL)
#define NSER 5

/* The data's anchor sits on a day boundary (UTC), three to four days before now. Cuts (2 h),
 * raw compaction windows (12 h) and aggregate compaction windows (24 h) are all aligned to the
 * epoch, so a day-aligned anchor puts every test's data in the same place relative to them
 * whatever the hour the suite runs at: (A, A + 12h] is the first raw compaction window, and it
 * is complete only once the head is past A + 12h. An anchor merely 2-hour aligned made block
 * counts depend on the hour (issue 11). Three days back keeps the newest data (A + 30h) more
 * than a day old, far inside the default 15-day raw retention. */
static int64_t A;
static int64_t T0; /* A + 10 s: the first sample, so the first head range (A, A + 2h] is full */

typedef struct ctx {
    char dir[64];
    tsdb *db;
} ctx;

static void rmrf(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static tsdb *open_db(const char *dir, int64_t raw_ret)
{
    tsdb_options o = {.dir = dir, .retention_ms = raw_ret, .wal_fsync_ms = 3600000};
    tsdb *db = NULL;
    assert_int_equal(tsdb_open(&db, &o), 0);
    return db;
}

static int setup(void **state)
{
    ctx *c = calloc(1, sizeof *c);
    snprintf(c->dir, sizeof c->dir, "/tmp/dd-tsdb-XXXXXX");
    assert_non_null(mkdtemp(c->dir));
    c->db = open_db(c->dir, 0);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    ctx *c = *state;
    tsdb_close(c->db);
    rmrf(c->dir);
    free(c);
    return 0;
}

/* The value of series k at time t: a counter for even k, a noisy gauge for odd k. */
static double val(int k, int64_t t)
{
    int64_t i = (t - T0) / 10000;
    if (k % 2 == 0)
        return (double)(i * (k + 1));
    return (double)((i * 7919 + k * 31) % 1000) / 4.0;
}

static void append_range(tsdb *db, int64_t from, int64_t to, int64_t step)
{
    static const char *inst[NSER] = {"a", "b", "c", "d", "e"};
    for (int64_t t = from; t < to; t += step) {
        label lv[NSER][3];
        tsdb_series_in in[NSER];
        sample s[NSER];
        tsdb_appender *a = NULL;
        assert_int_equal(tsdb_appender_begin(db, &a), 0);
        for (int k = 0; k < NSER; k++) {
            lv[k][0] = (label){"__name__", "m"};
            lv[k][1] = (label){"i", inst[k]};
            lv[k][2] = (label){"job", "j"};
            s[k] = (sample){t, val(k, t)};
            in[k] = (tsdb_series_in){{lv[k], 3}, &s[k], 1};
            assert_int_equal(tsdb_appender_add(a, &in[k]), 0);
        }
        tsdb_append_stats st;
        assert_int_equal(tsdb_appender_commit(a, &st), 0);
        assert_int_equal(st.accepted, NSER);
    }
}

static tsdb_series_set *sel(tsdb *db, int64_t mint, int64_t maxt, const tsdb_select_opts *o)
{
    tsdb_matcher m;
    char err[128];
    assert_int_equal(tsdb_matcher_init(&m, TSDB_MATCH_EQ, "__name__", "m", err, sizeof err), 0);
    tsdb_series_set *set = NULL;
    assert_int_equal(tsdb_select(db, &m, 1, mint, maxt, o, &set), 0);
    tsdb_matcher_free(&m);
    return set;
}

/* Checks that every series holds exactly the samples [from, to) at step. */
static void check_raw(tsdb *db, int64_t from, int64_t to, int64_t step)
{
    tsdb_series_set *set = sel(db, from, to - 1, NULL);
    assert_int_equal(tsdb_set_count(set), NSER);
    const labels *ls;
    const sample *s;
    size_t n;
    int k = 0;
    while (tsdb_set_next(set, &ls, &s, &n)) {
        assert_int_equal(n, (size_t)((to - from) / step));
        for (size_t i = 0; i < n; i++) {
            int64_t t = from + (int64_t)i * step;
            if (s[i].t != t || s[i].v != val(k, t))
                fail_msg("series %d sample %zu: got %lld %g want %lld %g", k, i,
                         (long long)s[i].t, s[i].v, (long long)t, val(k, t));
        }
        k++;
    }
    tsdb_set_free(set);
}

static size_t count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name), sl = strlen(suffix);
        n += l > sl && !strcmp(e->d_name + l - sl, suffix);
    }
    closedir(d);
    return n;
}

static void cut_into_blocks_and_read_across(void **state)
{
    ctx *c = *state;
    append_range(c->db, T0, T0 + 7 * H, 10000);
    tsdb_maintain(c->db, timeutil_now_ms());
    tsdb_stats st;
    tsdb_get_stats(c->db, &st);
    /* Samples up to A + 7h: the ranges (A, A+2h], (A+2h, A+4h] and (A+4h, A+6h] are cut (a
     * range is cut once the head is half a range past it). */
    assert_int_equal(st.tier[0].blocks, 3);
    assert_int_equal(st.tier[1].blocks, 3);
    assert_int_equal(st.tier[2].blocks, 3);
    assert_int_equal(st.tier[0].samples, NSER * 3 * 720);
    assert_int_equal(st.head_min_valid, A + 6 * H + 1);
    check_raw(c->db, T0, T0 + 7 * H, 10000);
    check_raw(c->db, T0 + H, T0 + 5 * H, 10000); /* straddles block and head */
    /* The second read of the same frames comes from the frame cache, with the same answers. */
    tsdb_get_stats(c->db, &st);
    uint64_t misses = st.cache_misses;
    assert_true(misses > 0);
    check_raw(c->db, T0, T0 + 7 * H, 10000);
    tsdb_get_stats(c->db, &st);
    assert_true(st.cache_hits > 0);
    assert_int_equal(st.cache_misses, misses);
    char bd[128];
    snprintf(bd, sizeof bd, "%s/blocks", c->dir);
    assert_int_equal(count_files(bd, ".ddb"), 9);
    /* Compressed: far below the 16 bytes of a raw sample. */
    double bps = (double)st.tier[0].bytes / (double)st.tier[0].samples;
    print_message("raw bytes/sample in blocks: %.3f\n", bps);
    assert_true(bps < 3.0);
}

static void reopen_replays_wal_and_loads_blocks(void **state)
{
    ctx *c = *state;
    append_range(c->db, T0, T0 + 5 * H, 10000);
    tsdb_maintain(c->db, timeutil_now_ms());
    tsdb_close(c->db);
    c->db = open_db(c->dir, 0);
    check_raw(c->db, T0, T0 + 5 * H, 10000);
    tsdb_stats st;
    tsdb_get_stats(c->db, &st);
    assert_int_equal(st.series, NSER);
    assert_true(st.wal_replayed > 0);
    /* New samples keep going after a reopen, and a second reopen still has everything. */
    append_range(c->db, T0 + 5 * H, T0 + 8 * H, 10000);
    tsdb_maintain(c->db, timeutil_now_ms());
    tsdb_close(c->db);
    c->db = open_db(c->dir, 0);
    check_raw(c->db, T0, T0 + 8 * H, 10000);
}

/* The naive model of a tier: buckets (k*res - res, k*res], each stamped at its last sample,
 * over the samples from, from + step, ... < to. */
static void check_tier(tsdb *db, tsdb_tier tier, int64_t res, int64_t from, int64_t to,
                       int64_t step)
{
    static const tsdb_agg aggs[] = {TSDB_AGG_LAST, TSDB_AGG_MIN, TSDB_AGG_MAX, TSDB_AGG_SUM,
                                    TSDB_AGG_COUNT};
    for (size_t a = 0; a < 5; a++) {
        tsdb_select_opts o = {.tier = tier, .agg = aggs[a]};
        tsdb_series_set *set = sel(db, from, to - 1, &o);
        const labels *ls;
        const sample *s;
        size_t n;
        int k = 0;
        while (tsdb_set_next(set, &ls, &s, &n)) {
            size_t i = 0;
            int64_t t = from;
            while (t < to) {
                int64_t bucket = (t + res - 1) / res; /* times are positive here */
                double mn = INFINITY, mx = -INFINITY, sum = 0, cnt = 0, last = 0;
                int64_t lt = 0;
                for (; t < to && (t + res - 1) / res == bucket; t += step) {
                    double v = val(k, t);
                    mn = fmin(mn, v);
                    mx = fmax(mx, v);
                    sum += v;
                    cnt++;
                    last = v;
                    lt = t;
                }
                double want[] = {last, mn, mx, sum, cnt};
                if (i >= n)
                    fail_msg("tier %d agg %zu series %d: only %zu points", (int)tier, a, k, n);
                if (s[i].t != lt || s[i].v != want[a])
                    fail_msg("tier %d agg %zu series %d point %zu: got %lld %.17g want %lld %.17g",
                             (int)tier, a, k, i, (long long)s[i].t, s[i].v, (long long)lt,
                             want[a]);
                i++;
            }
            if (i != n)
                fail_msg("tier %d agg %zu series %d: %zu points, want %zu", (int)tier, a, k, n, i);
            k++;
        }
        assert_int_equal(k, NSER);
        tsdb_set_free(set);
    }
}

static void tiers_are_exact_in_blocks_and_head(void **state)
{
    ctx *c = *state;
    append_range(c->db, T0, T0 + 6 * H, 10000);
    tsdb_maintain(c->db, timeutil_now_ms());
    tsdb_stats st;
    tsdb_get_stats(c->db, &st);
    assert_int_equal(st.tier[1].blocks, 2);
    /* Blocks hold [0,4h); the rest is aggregated from the head on the fly. */
    check_tier(c->db, TSDB_TIER_1M, 60000, T0, T0 + 6 * H, 10000);
    check_tier(c->db, TSDB_TIER_1H, H, T0, T0 + 6 * H, 10000);
    /* AUTO picks the coarsest tier the caller accepts. */
    tsdb_select_opts o = {.max_resolution_ms = 5 * 60000};
    tsdb_series_set *set = sel(c->db, T0, T0 + 6 * H - 1, &o);
    const labels *ls;
    const sample *s;
    size_t n;
    assert_true(tsdb_set_next(set, &ls, &s, &n));
    assert_int_equal(n, 6 * 60);
    tsdb_set_free(set);
}

static void out_of_order_duplicates_and_too_old(void **state)
{
    ctx *c = *state;
    append_range(c->db, T0, T0 + 4 * H, 60000);
    tsdb_maintain(c->db, timeutil_now_ms()); /* cuts [0, 2h) */
    label lv[3] = {{"__name__", "m"}, {"i", "a"}, {"job", "j"}};
    sample s[] = {
        {T0 + H, 1},                 /* before the head's window: too old */
        {T0 + 3 * H + 30000, 2},     /* out of order, inside the head: accepted */
        {T0 + 3 * H + 30000, 3},     /* then a duplicate of it */
        {T0 + 3 * H, 4},             /* duplicate of an in-order sample */
    };
    tsdb_series_in in = {{lv, 3}, s, 4};
    tsdb_appender *a = NULL;
    assert_int_equal(tsdb_appender_begin(c->db, &a), 0);
    assert_int_equal(tsdb_appender_add(a, &in), 0);
    tsdb_append_stats st;
    assert_int_equal(tsdb_appender_commit(a, &st), 0);
    assert_int_equal(st.too_old, 1);
    assert_int_equal(st.ooo_accepted, 1);
    assert_int_equal(st.accepted, 1);
    /* The samples at 3h+30s: 2 then (duplicate) 3: reads return 2 in time order, and the
     * duplicate of the in-order sample at 3h is ignored in favour of the chunk's value.
     * Checked again after a reopen (WAL replay) and after a flush into a block. */
    for (int round = 0; round < 3; round++) {
        tsdb_matcher m[2];
        char err[64];
        tsdb_matcher_init(&m[0], TSDB_MATCH_EQ, "__name__", "m", err, sizeof err);
        tsdb_matcher_init(&m[1], TSDB_MATCH_EQ, "i", "a", err, sizeof err);
        tsdb_series_set *set = NULL;
        assert_int_equal(tsdb_select(c->db, m, 2, T0 + 3 * H, T0 + 3 * H + 60000, NULL, &set), 0);
        const labels *ls;
        const sample *x;
        size_t n;
        assert_true(tsdb_set_next(set, &ls, &x, &n));
        assert_int_equal(n, 3);
        assert_true(x[0].t == T0 + 3 * H && x[0].v == val(0, T0 + 3 * H));
        assert_true(x[1].t == T0 + 3 * H + 30000 && x[1].v == 2);
        assert_true(x[2].t == T0 + 3 * H + 60000);
        tsdb_set_free(set);
        tsdb_matcher_free(&m[0]);
        tsdb_matcher_free(&m[1]);
        if (round == 0) {
            tsdb_close(c->db);
            c->db = open_db(c->dir, 0);
        } else if (round == 1) {
            assert_int_equal(tsdb_flush(c->db), 0);
        }
    }
}

static void flush_then_reopen_has_everything_in_blocks(void **state)
{
    ctx *c = *state;
    append_range(c->db, T0, T0 + 3 * H + 600000, 10000);
    assert_int_equal(tsdb_flush(c->db), 0);
    tsdb_stats st;
    tsdb_get_stats(c->db, &st);
    assert_int_equal(st.samples, 0);
    assert_int_equal(st.tier[0].samples, (uint64_t)NSER * (3 * 360 + 60));
    tsdb_close(c->db);
    c->db = open_db(c->dir, 0);
    check_raw(c->db, T0, T0 + 3 * H + 600000, 10000);
    /* Samples inside flushed time are too old now; newer ones go on. */
    append_range(c->db, T0 + 3 * H + 600000, T0 + 4 * H, 10000);
    check_raw(c->db, T0, T0 + 4 * H, 10000);
}

static void compaction_merges_complete_windows(void **state)
{
    ctx *c = *state;
    append_range(c->db, T0, T0 + 26 * H, 60000);
    tsdb_maintain(c->db, timeutil_now_ms());
    tsdb_stats st;
    tsdb_get_stats(c->db, &st);
    assert_true(st.compactions > 0);
    /* The ranges up to (A+22h, A+24h] are cut (the head is at A+26h); the head keeps the rest.
     * Raw: the 12 h windows (A, A+12h] and (A+12h, A+24h] are complete, each one block.
     * Aggregates: the 24 h window (A, A+24h] is complete, one block. */
    assert_int_equal(st.head_min_valid, A + 24 * H + 1);
    assert_int_equal(st.tier[0].blocks, 2);
    assert_int_equal(st.tier[1].blocks, 1);
    assert_int_equal(st.tier[2].blocks, 1);
    check_raw(c->db, T0, T0 + 26 * H, 60000);
    check_tier(c->db, TSDB_TIER_1H, H, T0, T0 + 26 * H, 60000);
    tsdb_close(c->db);
    c->db = open_db(c->dir, 0);
    check_raw(c->db, T0, T0 + 26 * H, 60000);
    check_tier(c->db, TSDB_TIER_1M, 60000, T0, T0 + 26 * H, 60000);
}

static void retention_removes_old_blocks_and_bounds_disk(void **state)
{
    ctx *c = *state;
    int64_t now = timeutil_now_ms();
    int64_t from = (now - 20 * H) / (2 * H) * (2 * H);
    append_range(c->db, from, now, 60000);
    tsdb_close(c->db);
    c->db = open_db(c->dir, 6 * H);
    tsdb_maintain(c->db, now);
    tsdb_stats st;
    tsdb_get_stats(c->db, &st);
    assert_true(st.retention_drops > 0);
    assert_true(st.tier[0].min_time >= now - 6 * H - 12 * H);
    tsdb_series_set *set = sel(c->db, from, from + 2 * H - 1, &(tsdb_select_opts){.tier = TSDB_TIER_RAW});
    assert_int_equal(tsdb_set_count(set), 0);
    tsdb_set_free(set);
    /* The 1-minute tier keeps what raw lost. */
    set = sel(c->db, from, from + 2 * H - 1, &(tsdb_select_opts){.tier = TSDB_TIER_1M});
    assert_int_equal(tsdb_set_count(set), NSER);
    tsdb_set_free(set);
}

static void size_retention_keeps_total_under_limit(void **state)
{
    ctx *c = *state;
    tsdb_close(c->db);
    tsdb_options o = {.dir = c->dir, .wal_fsync_ms = 3600000, .retention_bytes = {1000, 0, 0}};
    assert_int_equal(tsdb_open(&c->db, &o), 0);
    /* 30 h span two complete 12 h compaction windows, so more than one block exists and the
     * oldest must go. */
    append_range(c->db, T0, T0 + 30 * H, 10000);
    tsdb_maintain(c->db, timeutil_now_ms());
    tsdb_stats st;
    tsdb_get_stats(c->db, &st);
    print_message("raw blocks %zu bytes %llu\n", st.tier[0].blocks, (unsigned long long)st.tier[0].bytes);
    assert_true(st.tier[0].blocks >= 1);
    assert_true(st.tier[0].bytes <= 1000 || st.tier[0].blocks == 1);
    assert_true(st.retention_drops > 0);
}

static void damaged_block_is_set_aside_and_store_opens(void **state)
{
    ctx *c = *state;
    append_range(c->db, T0, T0 + 4 * H, 60000);
    tsdb_maintain(c->db, timeutil_now_ms());
    tsdb_close(c->db);
    c->db = NULL;
    char path[256];
    snprintf(path, sizeof path, "%s/blocks/1-%lld-%lld.ddb", c->dir, (long long)(A + 1),
             (long long)(A + 2 * H));
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    struct stat sb;
    fstat(fd, &sb);
    assert_int_equal(ftruncate(fd, sb.st_size - 3), 0);
    close(fd);
    c->db = open_db(c->dir, 0);
    char moved[512];
    snprintf(moved, sizeof moved, "%s.damaged", path);
    assert_int_equal(access(moved, F_OK), 0);
    /* The rest is there: the other tiers and the head from the WAL. */
    check_raw(c->db, T0 + 2 * H, T0 + 4 * H, 60000);
}

static void torn_wal_tail_loses_only_the_torn_batch(void **state)
{
    ctx *c = *state;
    append_range(c->db, T0, T0 + H, 10000);
    tsdb_close(c->db);
    c->db = NULL;
    /* Tear the last record of the newest segment. */
    char wd[128], path[512], best[512] = "";
    snprintf(wd, sizeof wd, "%s/wal", c->dir);
    DIR *d = opendir(wd);
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", wd, e->d_name);
            struct stat sb;
            stat(path, &sb);
            if (sb.st_size > 8 && strcmp(path, best) > 0)
                snprintf(best, sizeof best, "%s", path);
        }
    closedir(d);
    assert_true(best[0]);
    struct stat sb;
    stat(best, &sb);
    assert_int_equal(truncate(best, sb.st_size - 5), 0);
    c->db = open_db(c->dir, 0);
    /* All but the last batch (one sample per series) are there. */
    check_raw(c->db, T0, T0 + H - 10000, 10000);
    tsdb_stats st;
    tsdb_get_stats(c->db, &st);
    assert_true(st.wal_dropped_bytes > 0);
}

/* A cut that cannot write its blocks (file size limit standing in for a full disk) keeps every
 * sample in the head and the WAL; once writing works again the data reaches the blocks and
 * survives a reopen. */
static void failed_cut_keeps_the_data_and_is_retried(void **state)
{
    ctx *c = *state;
    append_range(c->db, T0, T0 + 4 * H, 60000);
    struct rlimit old, small = {64, 64};
    getrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_IGN);
    small.rlim_max = old.rlim_max;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    tsdb_maintain(c->db, timeutil_now_ms());
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    tsdb_stats st;
    tsdb_get_stats(c->db, &st);
    assert_int_equal(st.cuts, 0);
    assert_int_equal(st.tier[0].blocks, 0);
    assert_int_equal(st.head_min_valid, INT64_MIN);
    check_raw(c->db, T0, T0 + 4 * H, 60000);
    /* Writing works again: a flush (which does not wait for the retry pause) persists all. */
    assert_int_equal(tsdb_flush(c->db), 0);
    tsdb_get_stats(c->db, &st);
    assert_true(st.tier[0].blocks >= 1);
    tsdb_close(c->db);
    c->db = open_db(c->dir, 0);
    check_raw(c->db, T0, T0 + 4 * H, 60000);
}

int main(void)
{
    log_set_level(getenv("DEBUG") ? LOG_DEBUG : LOG_ERROR);
    A = (timeutil_now_ms() - 72 * H) / (24 * H) * (24 * H);
    T0 = A + 10000;
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(cut_into_blocks_and_read_across),
        T(reopen_replays_wal_and_loads_blocks),
        T(tiers_are_exact_in_blocks_and_head),
        T(out_of_order_duplicates_and_too_old),
        T(flush_then_reopen_has_everything_in_blocks),
        T(compaction_merges_complete_windows),
        T(retention_removes_old_blocks_and_bounds_disk),
        T(size_retention_keeps_total_under_limit),
        T(damaged_block_is_set_aside_and_store_opens),
        T(torn_wal_tail_loses_only_the_torn_batch),
        T(failed_cut_keeps_the_data_and_is_retried),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
