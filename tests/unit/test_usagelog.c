/* test_usagelog: the usage-event log (events/usagelog.h) on real directories with FIXED
 * timestamps (never the clock): append and scan across UTC day boundaries, reopen, torn tails
 * cut at every byte of the last batch, damaged files set aside, dedupe (in a batch, across
 * batches, across reopen, window and cap), sealing and scanning sealed days (late events,
 * a crash between seal and unlink), retention by age and size, the time window, invalid input,
 * allocation failure at every step, bytes per event, concurrent appends and scans. With
 * DD_BENCH=1 it also times appends and the parse-and-append path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "events/usagelog.h"
#include "lib/buf.h"
#include "lib/fsutil.h"
#include "lib/mem.h"
#include "wire/usage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SEC 1000LL
#define HOUR (3600 * SEC)
#define DAY (24 * HOUR)
/* 2024-03-10T00:00:00Z: a fixed midnight (UTC) all tests count from. */
#define T0 1710028800000LL

/* ---- helpers ---- */

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

static void rm_rf(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

typedef struct fixture {
    char dir[64];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_usagelog.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    rm_rf(f->dir);
    free(f);
    mem_fail_after(-1);
    return 0;
}

static usagelog *open_log(const char *dir, const usagelog_opts *o)
{
    usagelog *l = NULL;
    char err[256];
    int rc = usagelog_open(&l, dir, o, err, sizeof err);
    if (rc)
        fail_msg("usagelog_open: %d %s", rc, err);
    return l;
}

static usage_event ev(const char *customer, const char *type, uint64_t count, int64_t t_ms)
{
    return (usage_event){.t_ms = t_ms,
                         .customer = customer,
                         .type = type,
                         .count = count,
                         .took_ms = -1,
                         .state = "",
                         .label = "",
                         .change_type = "",
                         .event_id = ""};
}

static usage_event evid(const char *customer, const char *id, int64_t t_ms)
{
    usage_event e = ev(customer, "api_call", 1, t_ms);
    e.event_id = id;
    return e;
}

/* A copy of a scanned event. */
typedef struct got {
    int64_t t_ms, took_ms;
    uint64_t count;
    char customer[260], type[260], state[260], label[260], ct[260], id[260];
} got;

typedef struct sink {
    got *v;
    size_t n, cap;
    int stop_after;
} sink;

static int take(void *ctx, const usage_event *e)
{
    sink *s = ctx;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
    }
    got *g = &s->v[s->n++];
    g->t_ms = e->t_ms;
    g->took_ms = e->took_ms;
    g->count = e->count;
    snprintf(g->customer, sizeof g->customer, "%s", e->customer);
    snprintf(g->type, sizeof g->type, "%s", e->type);
    snprintf(g->state, sizeof g->state, "%s", e->state);
    snprintf(g->label, sizeof g->label, "%s", e->label);
    snprintf(g->ct, sizeof g->ct, "%s", e->change_type);
    snprintf(g->id, sizeof g->id, "%s", e->event_id);
    return s->stop_after && (int)s->n >= s->stop_after ? 9 : 0;
}

static size_t scan_all(usagelog *l, sink *s)
{
    s->n = 0;
    assert_int_equal(usagelog_scan(l, INT64_MIN, INT64_MAX, take, s), 0);
    return s->n;
}

static size_t count_range(usagelog *l, int64_t from, int64_t to)
{
    sink s = {0};
    assert_int_equal(usagelog_scan(l, from, to, take, &s), 0);
    free(s.v);
    return s.n;
}

static struct usagelog_stats stats(usagelog *l)
{
    struct usagelog_stats st;
    assert_int_equal(usagelog_stats(l, &st), 0);
    return st;
}

static int file_exists(const char *dir, const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

static off_t file_size(const char *dir, const char *name)
{
    char p[256];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0 ? st.st_size : -1;
}

static size_t count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0, sl = strlen(suffix);
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l >= sl && !strcmp(de->d_name + l - sl, suffix))
            n++;
    }
    closedir(d);
    return n;
}

static void read_whole(const char *dir, const char *name, buf *b)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    buf_reset(b);
    assert_int_equal(fsutil_read_file(p, b, 1 << 30), 0);
}

static void write_whole(const char *dir, const char *name, const void *data, size_t n)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
}

/* ---- append and scan ---- */

static void append_and_scan(void **state)
{
    fixture *f = *state;
    usagelog *l = open_log(f->dir, NULL);
    usage_event e[4];
    e[0] = ev("c1", "api_call", 3, T0 + 5 * HOUR);
    e[0].took_ms = 1000;
    e[0].state = "pending";
    e[0].label = "dbcall";
    e[0].change_type = "create";
    e[1] = ev("c2", "login", 1, 0); /* dated by receipt */
    e[2] = ev("c1", "api_call", 0, T0 + 5 * HOUR + 1);
    e[2].event_id = "evt-1";
    e[2].took_ms = 0;
    e[3] = ev("c1", "api_call", 9007199254740992ULL, T0 + 5 * HOUR);
    size_t dups = 77;
    assert_int_equal(usagelog_append(l, e, 4, T0 + 6 * HOUR, &dups), 0);
    assert_int_equal(dups, 0);
    sink s = {0};
    assert_int_equal(scan_all(l, &s), 4);
    assert_int_equal(s.v[0].t_ms, T0 + 5 * HOUR);
    assert_string_equal(s.v[0].customer, "c1");
    assert_string_equal(s.v[0].type, "api_call");
    assert_int_equal(s.v[0].count, 3);
    assert_int_equal(s.v[0].took_ms, 1000);
    assert_string_equal(s.v[0].state, "pending");
    assert_string_equal(s.v[0].label, "dbcall");
    assert_string_equal(s.v[0].ct, "create");
    assert_string_equal(s.v[0].id, "");
    assert_int_equal(s.v[1].t_ms, T0 + 6 * HOUR);
    assert_string_equal(s.v[1].customer, "c2");
    assert_int_equal(s.v[1].took_ms, -1);
    assert_string_equal(s.v[1].state, "");
    assert_int_equal(s.v[2].count, 0);
    assert_int_equal(s.v[2].took_ms, 0);
    assert_string_equal(s.v[2].id, "evt-1");
    assert_int_equal(s.v[3].count, 9007199254740992ULL);
    /* half-open ranges */
    assert_int_equal(count_range(l, T0 + 5 * HOUR, T0 + 5 * HOUR + 1), 2);
    assert_int_equal(count_range(l, T0 + 5 * HOUR + 1, T0 + 6 * HOUR), 1);
    assert_int_equal(count_range(l, T0 + 5 * HOUR + 2, T0 + 6 * HOUR), 0);
    assert_int_equal(count_range(l, T0 + 6 * HOUR, T0 + 6 * HOUR + 1), 1);
    assert_int_equal(count_range(l, T0 + 6 * HOUR, T0 + 6 * HOUR), 0);
    assert_int_equal(count_range(l, T0 + 7 * HOUR, T0), 0);
    /* the callback stops a scan */
    sink st = {.stop_after = 2};
    assert_int_equal(usagelog_scan(l, INT64_MIN, INT64_MAX, take, &st), 9);
    assert_int_equal(st.n, 2);
    free(st.v);
    struct usagelog_stats x = stats(l);
    assert_int_equal(x.events, 4);
    assert_int_equal(x.days, 1);
    assert_int_equal(x.segments, 1);
    assert_true(x.bytes > 16);
    assert_true(file_exists(f->dir, "20240310-00000001.log"));
    usagelog_close(l);
    free(s.v);
}

/* Events around midnight UTC land in their own day's segment; scans across the boundary see
 * them day by day. */
static void day_boundaries(void **state)
{
    fixture *f = *state;
    usagelog *l = open_log(f->dir, NULL);
    usage_event e[] = {
        ev("c", "x", 1, T0 - 1),       /* 2024-03-09T23:59:59.999Z */
        ev("c", "x", 2, T0),           /* 2024-03-10T00:00:00.000Z */
        ev("c", "x", 3, T0 + DAY - 1), /* 2024-03-10T23:59:59.999Z */
        ev("c", "x", 4, T0 + DAY),     /* 2024-03-11 */
        ev("c", "x", 5, T0 - 1),
    };
    assert_int_equal(usagelog_append(l, e, 5, T0 + DAY + HOUR, NULL), 0);
    assert_true(file_exists(f->dir, "20240309-00000001.log"));
    assert_true(file_exists(f->dir, "20240310-00000001.log"));
    assert_true(file_exists(f->dir, "20240311-00000001.log"));
    sink s = {0};
    assert_int_equal(scan_all(l, &s), 5);
    /* day by day, oldest first; within a day as received */
    static const uint64_t want[] = {1, 5, 2, 3, 4};
    for (int i = 0; i < 5; i++)
        assert_int_equal(s.v[i].count, want[i]);
    assert_int_equal(count_range(l, T0 - 1, T0 + 1), 3);
    assert_int_equal(count_range(l, T0, T0 + DAY), 2);
    assert_int_equal(count_range(l, T0 + DAY - 1, T0 + DAY + 1), 2);
    assert_int_equal(stats(l).days, 3);
    /* every day of a leap-year February and the turn of a year name their files right */
    usage_event g[] = {ev("c", "x", 1, 1709164800000LL),  /* 2024-02-29 */
                       ev("c", "x", 1, 1704067199999LL),  /* 2023-12-31 */
                       ev("c", "x", 1, 1704067200000LL)}; /* 2024-01-01 */
    assert_int_equal(usagelog_append(l, g, 3, T0, NULL), 0);
    assert_true(file_exists(f->dir, "20240229-00000001.log"));
    assert_true(file_exists(f->dir, "20231231-00000001.log"));
    assert_true(file_exists(f->dir, "20240101-00000001.log"));
    usagelog_close(l);
    free(s.v);
}

/* A reopened log has everything; new appends start a new generation; counts carry over. */
static void reopen(void **state)
{
    fixture *f = *state;
    usagelog *l = open_log(f->dir, NULL);
    usage_event e[3] = {ev("a", "x", 1, T0 + 1), ev("b", "y", 2, T0 + 2),
                        ev("a", "x", 3, T0 + DAY + 3)};
    e[1].label = "L";
    assert_int_equal(usagelog_append(l, e, 3, T0 + DAY + 10, NULL), 0);
    usagelog_close(l);
    l = open_log(f->dir, NULL);
    assert_int_equal(stats(l).events, 3);
    sink s = {0};
    assert_int_equal(scan_all(l, &s), 3);
    assert_string_equal(s.v[1].label, "L");
    usage_event e2 = ev("b", "y", 4, T0 + 4);
    assert_int_equal(usagelog_append(l, &e2, 1, T0 + DAY + 20, NULL), 0);
    assert_true(file_exists(f->dir, "20240310-00000002.log"));
    assert_int_equal(scan_all(l, &s), 4);
    assert_int_equal(s.v[2].count, 4); /* day 10: gen 1 then gen 2, then day 11 */
    assert_int_equal(s.v[3].count, 3);
    usagelog_close(l);
    l = open_log(f->dir, NULL);
    assert_int_equal(stats(l).events, 4);
    assert_int_equal(stats(l).cut_bytes, 0);
    usagelog_close(l);
    free(s.v);
}

/* Truncate the segment at every byte of its last batch: the earlier batches survive, the cut
 * is counted, the file is cut back, nothing crashes; the log takes appends afterwards. */
static void torn_tail_every_byte(void **state)
{
    fixture *f = *state;
    const char *name = "20240310-00000001.log";
    usagelog *l = open_log(f->dir, NULL);
    usage_event a[3] = {ev("a", "x", 1, T0 + 1), ev("b", "x", 2, T0 + 2), ev("a", "x", 3, T0 + 3)};
    assert_int_equal(usagelog_append(l, a, 3, T0 + HOUR, NULL), 0);
    off_t good = file_size(f->dir, name);
    usage_event b[2] = {evid("a", "id-1", T0 + 4), ev("new-customer", "new-type", 5, T0 + 5)};
    b[1].state = "s";
    assert_int_equal(usagelog_append(l, b, 2, T0 + HOUR, NULL), 0);
    usagelog_close(l);
    buf whole;
    buf_init(&whole, 0);
    read_whole(f->dir, name, &whole);
    assert_true((off_t)whole.len > good);
    for (size_t cut = 0; cut < whole.len; cut++) {
        write_whole(f->dir, name, whole.data, cut);
        l = open_log(f->dir, NULL);
        struct usagelog_stats st = stats(l);
        /* inside the first batch (or the header) nothing is left; past it, the first batch */
        size_t want = cut < (size_t)good ? 0 : 3;
        sink s = {0};
        if (scan_all(l, &s) != want)
            fail_msg("cut at %zu: %zu events, want %zu", cut, s.n, want);
        assert_int_equal(st.events, want);
        if (cut >= (size_t)good) {
            assert_int_equal(st.cut_bytes, cut - (size_t)good);
            assert_int_equal(file_size(f->dir, name), good);
        }
        if (want == 0)
            assert_false(file_exists(f->dir, name)); /* nothing left in it: removed */
        /* the id of the torn batch is not remembered: a retry is stored */
        usage_event r = evid("a", "id-1", T0 + 4);
        size_t dups = 9;
        assert_int_equal(usagelog_append(l, &r, 1, T0 + HOUR, &dups), 0);
        assert_int_equal(dups, 0);
        assert_int_equal(scan_all(l, &s), want + 1);
        usagelog_close(l);
        free(s.v);
        rm_rf(f->dir);
        mkdir(f->dir, 0700);
    }
    buf_free(&whole);
}

/* Damage that is not a clean cut: zeroed tail, a flipped bit in the last frame, garbage
 * after the good data; a file that is not ours; all detected, cut or set aside. */
static void damaged_files(void **state)
{
    fixture *f = *state;
    const char *name = "20240310-00000001.log";
    usagelog *l = open_log(f->dir, NULL);
    usage_event a = ev("a", "x", 1, T0 + 1), b = ev("b", "x", 2, T0 + 2);
    assert_int_equal(usagelog_append(l, &a, 1, T0 + HOUR, NULL), 0);
    off_t good = file_size(f->dir, name);
    assert_int_equal(usagelog_append(l, &b, 1, T0 + HOUR, NULL), 0);
    usagelog_close(l);
    buf whole, bad;
    buf_init(&whole, 0);
    buf_init(&bad, 0);
    read_whole(f->dir, name, &whole);
    for (int variant = 0; variant < 4; variant++) {
        buf_reset(&bad);
        buf_append(&bad, whole.data, whole.len);
        if (variant == 0) { /* zeroed tail after the good data */
            for (size_t i = 0; i < 64; i++)
                buf_putc(&bad, 0);
        } else if (variant == 1) { /* a flipped bit in the last frame's payload */
            bad.data[bad.len - 1] ^= 0x10;
        } else if (variant == 2) { /* garbage after the good data */
            buf_puts(&bad, "\xff\xff\xff\x7fgarbage");
        } else { /* a flipped bit in the last frame's length */
            bad.data[good] ^= 0x01;
        }
        write_whole(f->dir, name, bad.data, bad.len);
        l = open_log(f->dir, NULL);
        size_t want = variant == 0 || variant == 2 ? 2 : 1;
        assert_int_equal(stats(l).events, want);
        assert_int_equal(count_range(l, INT64_MIN, INT64_MAX), want);
        assert_true(stats(l).cut_bytes > 0);
        usagelog_close(l);
    }
    /* a file with our name but not our header: set aside, never read */
    write_whole(f->dir, "20240311-00000001.log", "this is not a usage segment at all", 34);
    /* a sealed day whose header is garbage */
    write_whole(f->dir, "20240312.zst", "garbage garbage garbage garbage garbage garbage", 47);
    /* names that are not ours: left alone */
    write_whole(f->dir, "20240230-00000001.log", "x", 1);
    write_whole(f->dir, "notes.txt", "x", 1);
    l = open_log(f->dir, NULL);
    assert_int_equal(stats(l).damaged_files, 2);
    assert_true(file_exists(f->dir, "20240311-00000001.log.damaged"));
    assert_true(file_exists(f->dir, "20240312.zst.damaged"));
    assert_true(file_exists(f->dir, "20240230-00000001.log"));
    assert_true(file_exists(f->dir, "notes.txt"));
    assert_int_equal(stats(l).days, 1);
    usagelog_close(l);
    /* a header-only segment and a file shorter than a header: removed as empty */
    write_whole(f->dir, "20240313-00000001.log", whole.data, 16);
    write_whole(f->dir, "20240314-00000001.log", whole.data, 7);
    l = open_log(f->dir, NULL);
    assert_false(file_exists(f->dir, "20240313-00000001.log"));
    assert_false(file_exists(f->dir, "20240314-00000001.log"));
    usagelog_close(l);
    /* a segment in a newer format: open refuses and changes nothing */
    buf_reset(&bad);
    buf_append(&bad, whole.data, whole.len);
    bad.data[6] = 2;
    write_whole(f->dir, "20240315-00000001.log", bad.data, bad.len);
    write_whole(f->dir, "20240316-00000001.log", whole.data, 20); /* torn: would be cut */
    usagelog *l2 = NULL;
    char err[256];
    assert_int_equal(usagelog_open(&l2, f->dir, NULL, err, sizeof err), -EPROTONOSUPPORT);
    assert_null(l2);
    assert_non_null(strstr(err, "newer"));
    assert_int_equal(file_size(f->dir, "20240316-00000001.log"), 20);
    buf_free(&whole);
    buf_free(&bad);
}

/* ---- dedupe ---- */

static void dedupe(void **state)
{
    fixture *f = *state;
    usagelog *l = open_log(f->dir, NULL);
    usage_event e[5] = {evid("c1", "r1", T0 + 1), evid("c1", "r2", T0 + 2),
                        evid("c1", "r1", T0 + 3), /* the same batch: a duplicate */
                        evid("c2", "r1", T0 + 4), /* another customer: not one */
                        ev("c1", "x", 1, T0 + 5)};
    size_t dups;
    unsigned char status[5];
    assert_int_equal(usagelog_append(l, e, 5, T0 + HOUR, &dups), 0);
    assert_int_equal(dups, 1);
    assert_int_equal(usagelog_append_ex(l, e, 5, T0 + HOUR, status), 0);
    assert_int_equal(status[0], USAGELOG_DUPLICATE);
    assert_int_equal(status[1], USAGELOG_DUPLICATE);
    assert_int_equal(status[2], USAGELOG_DUPLICATE);
    assert_int_equal(status[3], USAGELOG_DUPLICATE);
    assert_int_equal(status[4], USAGELOG_STORED); /* no id: never a duplicate */
    assert_int_equal(count_range(l, INT64_MIN, INT64_MAX), 5);
    assert_int_equal(stats(l).duplicates, 5);
    assert_int_equal(stats(l).dedupe_ids, 3);
    usagelog_close(l);

    /* across reopen: rebuilt from the segments */
    l = open_log(f->dir, NULL);
    assert_int_equal(stats(l).dedupe_ids, 3);
    assert_int_equal(usagelog_append(l, e, 2, T0 + 2 * HOUR, &dups), 0);
    assert_int_equal(dups, 2);
    /* 24 h after their receipt the ids are forgotten: the retry is a new event */
    assert_int_equal(usagelog_append(l, e, 1, T0 + HOUR + DAY + 1, &dups), 0);
    assert_int_equal(dups, 0);
    assert_int_equal(count_range(l, INT64_MIN, INT64_MAX), 6);
    usagelog_close(l);

    /* reopened: only ids within the window of the newest receipt come back */
    l = open_log(f->dir, NULL);
    assert_int_equal(stats(l).dedupe_ids, 1);
    usagelog_close(l);
}

/* At most dedupe_max ids: the oldest are forgotten first. */
static void dedupe_cap(void **state)
{
    fixture *f = *state;
    usagelog_opts o = {.dedupe_max = 3};
    usagelog *l = open_log(f->dir, &o);
    char ids[6][8];
    usage_event e[6];
    for (int i = 0; i < 6; i++) {
        snprintf(ids[i], sizeof ids[i], "id%d", i);
        e[i] = evid("c", ids[i], T0 + i);
    }
    assert_int_equal(usagelog_append(l, e, 6, T0 + HOUR, NULL), 0);
    assert_int_equal(stats(l).dedupe_ids, 3);
    unsigned char st[6];
    assert_int_equal(usagelog_append_ex(l, e, 6, T0 + HOUR, st), 0);
    /* id0..id2 were forgotten; appending them again pushes id3..id5 out, in order */
    assert_int_equal(st[0], USAGELOG_STORED);
    assert_int_equal(st[1], USAGELOG_STORED);
    assert_int_equal(st[2], USAGELOG_STORED);
    assert_int_equal(st[3], USAGELOG_DUPLICATE);
    assert_int_equal(st[4], USAGELOG_DUPLICATE);
    assert_int_equal(st[5], USAGELOG_DUPLICATE);
    usagelog_close(l);
    l = open_log(f->dir, &o);
    assert_int_equal(stats(l).dedupe_ids, 3);
    assert_int_equal(usagelog_append_ex(l, e, 3, T0 + HOUR, st), 0);
    assert_int_equal(st[0] + st[1] + st[2], 3 * USAGELOG_DUPLICATE); /* the newest 3 kept */
    usagelog_close(l);
}

/* ---- sealing ---- */

static void seal_and_scan_sealed(void **state)
{
    fixture *f = *state;
    usagelog *l = open_log(f->dir, NULL);
    usage_event e[100];
    char cust[100][16];
    for (int i = 0; i < 100; i++) {
        snprintf(cust[i], sizeof cust[i], "cust%d", i % 7);
        e[i] = ev(cust[i], i % 2 ? "api_call" : "login", (uint64_t)i, T0 + i * 60 * SEC);
        e[i].took_ms = i * 10;
    }
    e[5].event_id = "e5";
    assert_int_equal(usagelog_append(l, e, 100, T0 + 2 * HOUR, NULL), 0);
    usage_event today = ev("c", "x", 1, T0 + DAY + 5);
    assert_int_equal(usagelog_append(l, &today, 1, T0 + DAY + 5, NULL), 0);
    sink before = {0};
    scan_all(l, &before);
    struct usagelog_stats st0 = stats(l);

    /* the day is over but it received events less than 24 h ago: not yet */
    usagelog_maintain(l, T0 + DAY + HOUR);
    assert_int_equal(stats(l).sealed, 0);
    usagelog_maintain(l, T0 + 2 * HOUR + DAY);
    assert_int_equal(stats(l).sealed, 1);
    assert_true(file_exists(f->dir, "20240310.zst"));
    assert_false(file_exists(f->dir, "20240310-00000001.log"));
    assert_true(file_exists(f->dir, "20240311-00000001.log")); /* today: open */
    struct usagelog_stats st1 = stats(l);
    assert_int_equal(st1.events, st0.events);
    assert_int_equal(st1.raw_bytes, st0.raw_bytes);
    assert_int_equal(st1.segments, 2);
    sink after = {0};
    assert_int_equal(scan_all(l, &after), before.n);
    for (size_t i = 0; i < before.n; i++) {
        assert_int_equal(after.v[i].t_ms, before.v[i].t_ms);
        assert_int_equal(after.v[i].count, before.v[i].count);
        assert_int_equal(after.v[i].took_ms, before.v[i].took_ms);
        assert_string_equal(after.v[i].customer, before.v[i].customer);
        assert_string_equal(after.v[i].type, before.v[i].type);
        assert_string_equal(after.v[i].id, before.v[i].id);
    }
    assert_int_equal(count_range(l, T0 + 10 * 60 * SEC, T0 + 20 * 60 * SEC), 10);

    /* a late event for the sealed day: a new generation beside the sealed file */
    usage_event late = ev("late", "x", 42, T0 + 23 * HOUR);
    assert_int_equal(usagelog_append(l, &late, 1, T0 + 3 * DAY, NULL), 0);
    assert_true(file_exists(f->dir, "20240310-00000002.log"));
    assert_int_equal(count_range(l, T0, T0 + DAY), 101);
    usagelog_close(l);

    /* reopen: the sealed day is known from its header; scans still see everything */
    l = open_log(f->dir, NULL);
    assert_int_equal(stats(l).events, 102);
    assert_int_equal(stats(l).sealed, 1);
    sink s = {0};
    assert_int_equal(usagelog_scan(l, T0, T0 + DAY, take, &s), 0);
    assert_int_equal(s.n, 101);
    assert_string_equal(s.v[100].customer, "late"); /* sealed first, then the newer segment */
    /* resealing merges the late segment into the day's file */
    usagelog_maintain(l, T0 + 4 * DAY + 1);
    assert_false(file_exists(f->dir, "20240310-00000002.log"));
    assert_false(file_exists(f->dir, "20240311-00000001.log"));
    assert_int_equal(count_files(f->dir, ".zst"), 2);
    assert_int_equal(count_files(f->dir, ".log"), 0);
    assert_int_equal(count_range(l, T0, T0 + DAY), 101);
    assert_int_equal(stats(l).events, 102);
    assert_true(stats(l).bytes < stats(l).raw_bytes);
    usagelog_close(l);
    l = open_log(f->dir, NULL);
    assert_int_equal(count_range(l, INT64_MIN, INT64_MAX), 102);
    /* sealed ids are not rebuilt (sealing waits out the window) */
    assert_int_equal(stats(l).dedupe_ids, 0);
    usagelog_close(l);
    free(s.v);
    free(before.v);
    free(after.v);
}

/* A crash after the sealed file was renamed into place but before its segments were
 * unlinked: open removes them instead of counting them twice; an unfinished seal's temporary
 * file is removed. */
static void seal_crash_between_rename_and_unlink(void **state)
{
    fixture *f = *state;
    usagelog *l = open_log(f->dir, NULL);
    usage_event e[3] = {ev("a", "x", 1, T0 + 1), ev("b", "x", 2, T0 + 2), ev("c", "x", 3, T0 + 3)};
    assert_int_equal(usagelog_append(l, e, 3, T0 + 10, NULL), 0);
    usagelog_close(l);
    buf seg;
    buf_init(&seg, 0);
    read_whole(f->dir, "20240310-00000001.log", &seg);
    l = open_log(f->dir, NULL);
    usagelog_maintain(l, T0 + 3 * DAY);
    assert_int_equal(stats(l).sealed, 1);
    usagelog_close(l);
    write_whole(f->dir, "20240310-00000001.log", seg.data, seg.len);
    write_whole(f->dir, "20240310.zst.tmp", "partial", 7);
    l = open_log(f->dir, NULL);
    assert_false(file_exists(f->dir, "20240310-00000001.log"));
    assert_false(file_exists(f->dir, "20240310.zst.tmp"));
    assert_int_equal(stats(l).events, 3);
    assert_int_equal(count_range(l, INT64_MIN, INT64_MAX), 3);
    /* the next generation is past everything sealed */
    assert_int_equal(usagelog_append(l, e, 1, T0 + 3 * DAY, NULL), 0);
    assert_true(file_exists(f->dir, "20240310-00000002.log"));
    usagelog_close(l);
    buf_free(&seg);
}

/* A sealed file damaged inside its compressed data: the scan logs it and goes on. */
static void sealed_damage(void **state)
{
    fixture *f = *state;
    usagelog *l = open_log(f->dir, NULL);
    usage_event e[200];
    for (int i = 0; i < 200; i++)
        e[i] = ev(i % 2 ? "a" : "b", "x", (uint64_t)i, T0 + i);
    assert_int_equal(usagelog_append(l, e, 200, T0 + 10, NULL), 0);
    usage_event other = ev("z", "x", 1, T0 + DAY + 1);
    assert_int_equal(usagelog_append(l, &other, 1, T0 + DAY + 1, NULL), 0);
    usagelog_maintain(l, T0 + 3 * DAY);
    usagelog_close(l);
    buf z;
    buf_init(&z, 0);
    read_whole(f->dir, "20240310.zst", &z);
    z.data[z.len - 20] ^= 0x55; /* inside the zstd frame */
    write_whole(f->dir, "20240310.zst", z.data, z.len);
    l = open_log(f->dir, NULL);
    size_t n = count_range(l, INT64_MIN, INT64_MAX);
    assert_true(n >= 1 && n <= 201);
    usagelog_close(l);
    /* cut short */
    write_whole(f->dir, "20240310.zst", z.data, z.len / 2);
    l = open_log(f->dir, NULL);
    n = count_range(l, INT64_MIN, INT64_MAX);
    assert_true(n >= 1 && n < 201);
    usagelog_close(l);
    buf_free(&z);
}

/* ---- retention ---- */

static void retention(void **state)
{
    fixture *f = *state;
    usagelog_opts o = {.max_age_ms = 3 * DAY};
    usagelog *l = open_log(f->dir, &o);
    for (int d = 0; d < 10; d++) {
        usage_event e = ev("c", "x", (uint64_t)d, T0 + d * DAY + HOUR);
        assert_int_equal(usagelog_append(l, &e, 1, T0 + d * DAY + HOUR, NULL), 0);
    }
    assert_int_equal(stats(l).days, 10);
    /* now: day 9 at 12:00. Days that ended more than 3 days ago go: days 0..5 */
    usagelog_maintain(l, T0 + 9 * DAY + 12 * HOUR);
    assert_int_equal(stats(l).days, 4);
    assert_int_equal(count_range(l, INT64_MIN, INT64_MAX), 4);
    assert_false(file_exists(f->dir, "20240315-00000001.log"));
    assert_int_equal(count_files(f->dir, ".zst"), 3); /* days 6..8 sealed; 9 is today */
    /* an event for a dropped day is refused by the window */
    usage_event old = ev("c", "x", 1, T0 + HOUR);
    size_t skipped;
    assert_int_equal(usagelog_append(l, &old, 1, T0 + 9 * DAY + 12 * HOUR, &skipped), 0);
    assert_int_equal(skipped, 1);
    assert_int_equal(stats(l).out_of_window, 1);
    usagelog_close(l);

    /* by size: the oldest days go until the rest fits; never today */
    o = (usagelog_opts){0};
    l = open_log(f->dir, &o);
    struct usagelog_stats st = stats(l);
    o.max_bytes = st.bytes - 1;
    usagelog_close(l);
    l = open_log(f->dir, &o);
    usagelog_maintain(l, T0 + 9 * DAY + 12 * HOUR);
    assert_int_equal(stats(l).days, 3);
    assert_true(stats(l).bytes <= o.max_bytes);
    assert_false(file_exists(f->dir, "20240316.zst"));
    o.max_bytes = 1;
    usagelog_close(l);
    l = open_log(f->dir, &o);
    usagelog_maintain(l, T0 + 9 * DAY + 12 * HOUR);
    assert_int_equal(stats(l).days, 1); /* today stays, over the limit or not */
    assert_int_equal(count_range(l, INT64_MIN, INT64_MAX), 1);
    usagelog_close(l);
}

/* ---- the time window and invalid input ---- */

static void time_window(void **state)
{
    fixture *f = *state;
    usagelog *l = open_log(f->dir, NULL);
    int64_t now = T0 + 12 * HOUR;
    assert_int_equal(usagelog_time_ok(l, now + DAY, now), 0);
    assert_int_equal(usagelog_time_ok(l, now + DAY + 1, now), -ERANGE);
    assert_int_equal(usagelog_time_ok(l, 1, now), 0); /* no age limit: 1970 is fine */
    assert_int_equal(usagelog_time_ok(l, -1, now), -ERANGE);
    assert_int_equal(usagelog_time_ok(l, USAGE_TIME_MAX_MS + 1, USAGE_TIME_MAX_MS), -ERANGE);
    usage_event e[3] = {ev("c", "x", 1, now + 2 * DAY), ev("c", "x", 2, 0), ev("c", "x", 3, 1)};
    unsigned char st[3];
    assert_int_equal(usagelog_append_ex(l, e, 3, now, st), 0);
    assert_int_equal(st[0], USAGELOG_OUT_OF_WINDOW);
    assert_int_equal(st[1], USAGELOG_STORED);
    assert_int_equal(st[2], USAGELOG_STORED);
    assert_true(file_exists(f->dir, "19700101-00000001.log"));
    assert_int_equal(count_range(l, INT64_MIN, INT64_MAX), 2);
    usagelog_close(l);
    usagelog_opts o = {.max_age_ms = 7 * DAY, .max_future_ms = HOUR};
    l = open_log(f->dir, &o);
    assert_int_equal(usagelog_time_ok(l, now + HOUR + 1, now), -ERANGE);
    assert_int_equal(usagelog_time_ok(l, T0 - 6 * DAY, now), 0);
    assert_int_equal(usagelog_time_ok(l, T0 - 7 * DAY + DAY - 1, now), 0);
    assert_int_equal(usagelog_time_ok(l, T0 - 7 * DAY - 1, now), -ERANGE);
    usagelog_close(l);
}

static void invalid_input(void **state)
{
    fixture *f = *state;
    usagelog *l = open_log(f->dir, NULL);
    char long_s[300];
    memset(long_s, 'a', 256);
    long_s[256] = '\0';
    usage_event good = ev("c", "x", 1, T0);
    usage_event bad[8];
    for (int i = 0; i < 8; i++)
        bad[i] = good;
    bad[0].customer = "";
    bad[1].type = NULL;
    bad[2].customer = long_s;
    bad[3].label = long_s;
    bad[4].state = NULL;
    bad[5].took_ms = -2;
    bad[6].event_id = long_s;
    bad[7].event_id = NULL;
    for (int i = 0; i < 8; i++) {
        usage_event two[2] = {good, bad[i]};
        assert_int_equal(usagelog_append(l, two, 2, T0, NULL), -EINVAL);
    }
    assert_int_equal(usagelog_append(l, &good, 1, -1, NULL), -EINVAL);
    assert_int_equal(usagelog_append(l, &good, 1, USAGE_TIME_MAX_MS + 1, NULL), -EINVAL);
    assert_int_equal(usagelog_append(l, &good, 0, T0, NULL), 0);
    assert_int_equal(stats(l).events, 0);
    long_s[255] = '\0'; /* 255 bytes: the most the store keeps */
    good.customer = long_s;
    good.event_id = long_s;
    assert_int_equal(usagelog_append(l, &good, 1, T0, NULL), 0);
    sink s = {0};
    assert_int_equal(scan_all(l, &s), 1);
    assert_string_equal(s.v[0].customer, long_s);
    assert_string_equal(s.v[0].id, long_s);
    usagelog_close(l);
    free(s.v);
}

/* ---- allocation failure ---- */

static void allocation_failure(void **state)
{
    fixture *f = *state;
    usage_event e[200];
    char cust[200][16], ids[200][16], sub[128];
    size_t failed = 0, opened = 0, open_failed = 0;
    for (int i = 0; i < 200; i++) {
        snprintf(cust[i], sizeof cust[i], "cust%d", i % 100);
        snprintf(ids[i], sizeof ids[i], "id%d", i);
        e[i] = evid(cust[i], ids[i], T0 + (i % 3) * DAY + i);
    }
    /* A fresh log per k, whose first append fails after k allocations: either all of it is
     * stored or none, no id of a failed batch stays behind, and the log goes on working. */
    for (long k = 0; k < 150; k++) {
        snprintf(sub, sizeof sub, "%s/k%ld", f->dir, k);
        usagelog *l = open_log(sub, NULL);
        mem_fail_after(k);
        size_t dups = 0;
        int rc = usagelog_append(l, e, 200, T0 + 2 * DAY, &dups);
        mem_fail_after(-1);
        assert_true(rc == 0 || rc == -ENOMEM);
        size_t want = rc ? 0 : 200;
        failed += rc != 0;
        assert_int_equal(count_range(l, INT64_MIN, INT64_MAX), want);
        assert_int_equal(stats(l).events, want);
        assert_int_equal(stats(l).dedupe_ids, want);
        assert_int_equal(usagelog_append(l, e, 200, T0 + 2 * DAY, &dups), 0);
        assert_int_equal(dups, want);
        assert_int_equal(count_range(l, INT64_MIN, INT64_MAX), 200);
        usagelog_close(l);
        l = open_log(sub, NULL);
        assert_int_equal(count_range(l, INT64_MIN, INT64_MAX), 200);
        usagelog_close(l);
    }
    /* open, scan and maintain under failures: an error or success, never a crash or leak */
    snprintf(sub, sizeof sub, "%s/k0", f->dir);
    for (long k = 0; k < 200; k += 3) {
        usagelog *l2 = NULL;
        char err[128];
        mem_fail_after(k);
        int rc = usagelog_open(&l2, sub, NULL, err, sizeof err);
        if (rc == 0) {
            opened++;
            sink s = {0};
            int rs = usagelog_scan(l2, INT64_MIN, INT64_MAX, take, &s);
            assert_true(rs == 0 || rs == -ENOMEM);
            free(s.v);
            usagelog_maintain(l2, T0 + 2 * DAY);
        } else {
            open_failed++;
            assert_int_equal(rc, -ENOMEM);
        }
        mem_fail_after(-1);
        usagelog_close(l2);
    }
    /* the failures hit every stage: many appends and opens failed, later ones went through */
    assert_true(failed > 20 && failed < 150);
    assert_true(open_failed > 5 && opened > 5);
    usagelog *l = open_log(sub, NULL);
    assert_int_equal(count_range(l, INT64_MIN, INT64_MAX), 200);
    usagelog_close(l);
}

/* ---- size, many days, rotation, threads ---- */

/* A repetitive stream costs a few bytes per event (strings interned per segment). */
static void bytes_per_event(void **state)
{
    fixture *f = *state;
    usagelog *l = open_log(f->dir, NULL);
    size_t n = 100000, batch = 1000;
    usage_event *e = malloc(batch * sizeof *e);
    char cust[50][16];
    for (int i = 0; i < 50; i++)
        snprintf(cust[i], sizeof cust[i], "customer%d", i);
    static const char *const types[] = {"api_call", "login", "export", "search"};
    static const char *const states[] = {"pending", "done"};
    for (size_t b = 0; b < n / batch; b++) {
        for (size_t i = 0; i < batch; i++) {
            size_t k = b * batch + i;
            e[i] = ev(cust[k % 50], types[k % 4], k % 10 + 1, 0);
            e[i].took_ms = (int64_t)(k % 2000);
            e[i].state = states[k % 2];
            e[i].label = "dbcall";
            e[i].change_type = "create";
        }
        /* 1,000 events per second of receipt time */
        assert_int_equal(usagelog_append(l, e, batch, T0 + (int64_t)b * SEC, NULL), 0);
    }
    struct usagelog_stats st = stats(l);
    double per = (double)st.bytes / (double)n;
    printf("    bytes/event (50 customers x 4 types x 2 states, t= varying): %.2f open", per);
    assert_true(per < 16);
    usagelog_maintain(l, T0 + 2 * DAY + HOUR);
    st = stats(l);
    printf(", %.2f sealed\n", (double)st.bytes / (double)n);
    assert_int_equal(st.events, n);
    assert_int_equal(count_range(l, INT64_MIN, INT64_MAX), n);
    usagelog_close(l);
    free(e);
}

/* One batch over 40 days (more than the writers kept open) and appends that return to them. */
static void many_days(void **state)
{
    fixture *f = *state;
    usagelog *l = open_log(f->dir, NULL);
    usage_event e[80];
    for (int i = 0; i < 80; i++)
        e[i] = ev("c", "x", (uint64_t)i, T0 - (i % 40) * DAY);
    assert_int_equal(usagelog_append(l, e, 80, T0, NULL), 0);
    assert_int_equal(usagelog_append(l, e, 80, T0, NULL), 0);
    assert_int_equal(stats(l).days, 40);
    assert_int_equal(count_range(l, INT64_MIN, INT64_MAX), 160);
    assert_int_equal(count_range(l, T0 - 39 * DAY, T0 - 38 * DAY), 4);
    usagelog_close(l);
    l = open_log(f->dir, NULL);
    assert_int_equal(count_range(l, INT64_MIN, INT64_MAX), 160);
    usagelog_close(l);
}

/* A flood of distinct customers fills a segment's intern table: the day continues in a new
 * generation, nothing is lost. */
static void intern_table_rotation(void **state)
{
    fixture *f = *state;
    usagelog *l = open_log(f->dir, NULL);
    size_t batch = 10000, total = 1100000;
    usage_event *e = malloc(batch * sizeof *e);
    char(*cust)[16] = malloc(batch * sizeof *cust);
    for (size_t b = 0; b < total / batch; b++) {
        for (size_t i = 0; i < batch; i++) {
            snprintf(cust[i], sizeof cust[i], "u%zu", b * batch + i);
            e[i] = ev(cust[i], "x", 1, T0 + 1);
        }
        assert_int_equal(usagelog_append(l, e, batch, T0 + HOUR, NULL), 0);
    }
    assert_true(file_exists(f->dir, "20240310-00000002.log"));
    assert_int_equal(stats(l).events, total);
    usagelog_close(l);
    l = open_log(f->dir, NULL);
    assert_int_equal(count_range(l, INT64_MIN, INT64_MAX), total);
    usagelog_close(l);
    free(e);
    free(cust);
}

typedef struct worker {
    usagelog *l;
    int id;
    int rc;
} worker;

static void *append_worker(void *arg)
{
    worker *w = arg;
    char id[32];
    for (int b = 0; b < 200 && !w->rc; b++) {
        usage_event e[10];
        for (int i = 0; i < 10; i++)
            e[i] = ev(w->id % 2 ? "odd" : "even", "x", 1, T0 + (b % 3) * DAY + i);
        snprintf(id, sizeof id, "w%d-%d", w->id, b);
        e[0].event_id = id;
        w->rc = usagelog_append(w->l, e, 10, T0 + 3 * DAY, NULL);
    }
    return NULL;
}

static int count_cb(void *ctx, const usage_event *e)
{
    (void)e;
    (*(size_t *)ctx)++;
    return 0;
}

static void *scan_worker(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < 50 && !w->rc; i++) {
        size_t n = 0;
        w->rc = usagelog_scan(w->l, INT64_MIN, INT64_MAX, count_cb, &n);
    }
    return NULL;
}

static void threads(void **state)
{
    fixture *f = *state;
    usagelog *l = open_log(f->dir, NULL);
    pthread_t t[5];
    worker w[5];
    for (int i = 0; i < 5; i++) {
        w[i] = (worker){l, i, 0};
        pthread_create(&t[i], NULL, i == 4 ? scan_worker : append_worker, &w[i]);
    }
    for (int i = 0; i < 5; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].rc, 0);
    }
    assert_int_equal(count_range(l, INT64_MIN, INT64_MAX), 4 * 200 * 10);
    assert_int_equal(stats(l).dedupe_ids, 800);
    usagelog_close(l);
}

/* ---- timing (DD_BENCH=1) ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct batcher {
    usage_event *v;
    size_t n, cap;
} batcher;

static int collect(void *ctx, const usage_event *e)
{
    batcher *b = ctx;
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 4096;
        b->v = realloc(b->v, b->cap * sizeof *b->v);
    }
    b->v[b->n++] = *e;
    return 0;
}

static void bench(void **state)
{
    fixture *f = *state;
    if (!getenv("DD_BENCH"))
        skip();
    usagelog *l = open_log(f->dir, NULL);
    size_t n = 2000000, batch = 5000;
    usage_event *e = malloc(batch * sizeof *e);
    char cust[1000][16];
    static const char *const types[] = {"api_call", "login", "export", "search", "upload"};
    static const char *const states[] = {"pending", "done", "failed"};
    for (int i = 0; i < 1000; i++)
        snprintf(cust[i], sizeof cust[i], "customer%d", i);
    uint64_t x = 88172645463325252ULL; /* xorshift64: values that do not repeat in a cycle */
    double t0 = now_s();
    for (size_t b = 0; b < n / batch; b++) {
        for (size_t i = 0; i < batch; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            e[i] = ev(cust[x % 1000], types[(x >> 10) % 5], (x >> 20) % 10 + 1, 0);
            e[i].took_ms = (int64_t)((x >> 24) % 5000);
            e[i].state = states[(x >> 40) % 3];
            e[i].label = "dbcall";
            e[i].change_type = "create";
        }
        /* 5,000 events per 10 ms of receipt time: 500,000 events/s */
        assert_int_equal(usagelog_append(l, e, batch, T0 + (int64_t)b * 10, NULL), 0);
    }
    double dt = now_s() - t0;
    struct usagelog_stats st = stats(l);
    printf("usagelog_append: %zu events (1000 customers x 5 types x 3 states, random count and "
           "t=, batches of %zu): %.2f M events/s, "
           "%.2f bytes/event\n",
           n, batch, (double)n / dt / 1e6, (double)st.bytes / (double)n);
    t0 = now_s();
    size_t cnt = 0;
    assert_int_equal(usagelog_scan(l, INT64_MIN, INT64_MAX, count_cb, &cnt), 0);
    dt = now_s() - t0;
    printf("usagelog_scan (open segment): %.2f M events/s\n", (double)cnt / dt / 1e6);
    t0 = now_s();
    usagelog_maintain(l, T0 + 3 * DAY);
    dt = now_s() - t0;
    st = stats(l);
    printf("seal: %.2f s, %.2f bytes/event sealed\n", dt, (double)st.bytes / (double)n);
    t0 = now_s();
    cnt = 0;
    assert_int_equal(usagelog_scan(l, INT64_MIN, INT64_MAX, count_cb, &cnt), 0);
    dt = now_s() - t0;
    printf("usagelog_scan (sealed): %.2f M events/s\n", (double)cnt / dt / 1e6);
    usagelog_close(l);

    /* the HTTP path minus HTTP: a body of lines parsed into a batch, appended at once */
    rm_rf(f->dir);
    mkdir(f->dir, 0700);
    l = open_log(f->dir, NULL);
    buf body;
    buf_init(&body, 0);
    for (size_t i = 0; i < 10000; i++)
        buf_printf(&body, "customer%zu:api_call:%zu[t=%zu,s=pending,l=dbcall,ct=create]\n",
                   i % 1000, i % 10 + 1, i % 5000);
    batcher bt = {0};
    size_t bodies = 200;
    t0 = now_s();
    for (size_t b = 0; b < bodies; b++) {
        usage_report rep;
        bt.n = 0;
        assert_int_equal(usage_parse_lines(body.data, body.len, collect, &bt, &rep), 0);
        assert_int_equal(usagelog_append(l, bt.v, bt.n, T0 + (int64_t)b * 50, NULL), 0);
    }
    dt = now_s() - t0;
    printf("parse + append (bodies of 10,000 lines): %.2f M events/s\n",
           (double)(bodies * 10000) / dt / 1e6);
    usagelog_close(l);
    usage_parse_release();
    buf_free(&body);
    free(bt.v);
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(append_and_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(day_boundaries, setup, teardown),
        cmocka_unit_test_setup_teardown(reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(torn_tail_every_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(damaged_files, setup, teardown),
        cmocka_unit_test_setup_teardown(dedupe, setup, teardown),
        cmocka_unit_test_setup_teardown(dedupe_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(seal_and_scan_sealed, setup, teardown),
        cmocka_unit_test_setup_teardown(seal_crash_between_rename_and_unlink, setup, teardown),
        cmocka_unit_test_setup_teardown(sealed_damage, setup, teardown),
        cmocka_unit_test_setup_teardown(retention, setup, teardown),
        cmocka_unit_test_setup_teardown(time_window, setup, teardown),
        cmocka_unit_test_setup_teardown(invalid_input, setup, teardown),
        cmocka_unit_test_setup_teardown(allocation_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(bytes_per_event, setup, teardown),
        cmocka_unit_test_setup_teardown(many_days, setup, teardown),
        cmocka_unit_test_setup_teardown(intern_table_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(threads, setup, teardown),
        cmocka_unit_test_setup_teardown(bench, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
