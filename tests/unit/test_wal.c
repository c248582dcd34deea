/* test_wal: the write-ahead log. Round trips of records from 1 byte to 64 MiB, the exact byte
 * format, segment rollover, cut and truncate, reopen, and recovery: a torn tail at every byte
 * offset, flipped bits in header, length, checksum and payload (last and middle segments), zeroed
 * tails, bad magic, newer versions, garbage names; refused records, write errors (RLIMIT_FSIZE),
 * allocation failures, and the replay speed. Every test works in its own mkdtemp directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "lib/timeutil.h"
#include "tsdb/wal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

typedef struct fixture {
    char dir[64];
} fixture;

static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            rm_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/dd-wal-test-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    mem_fail_after(-1);
    rm_tree(f->dir);
    free(f);
    return 0;
}

static const wal_options no_sync = {.segment_bytes = 0, .fsync_interval_ms = -1};

/* ---- records with checkable contents ---- */

/* Fills p with the contents of record id (len bytes). */
static void rec_fill(uint8_t *p, size_t len, uint32_t id)
{
    uint32_t x = id * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
    if (len >= 4)
        memcpy(p, &id, 4);
}

typedef struct expect {
    uint32_t id;
    size_t len;
    uint64_t seg; /* 0: do not check */
} expect;

typedef struct checker {
    expect *want;
    size_t n, cap;
    size_t got;
    int bad;          /* first mismatch reported */
    uint8_t *scratch; /* for regenerating contents */
    size_t scratch_cap;
    long stop_at; /* return -42 on this record (>= 0) */
} checker;

static void ck_init(checker *c)
{
    memset(c, 0, sizeof *c);
    c->stop_at = -1;
}

static void ck_free(checker *c)
{
    free(c->want);
    free(c->scratch);
}

static void ck_add(checker *c, uint32_t id, size_t len, uint64_t seg)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->want = realloc(c->want, c->cap * sizeof *c->want);
        assert_non_null(c->want);
    }
    c->want[c->n++] = (expect){id, len, seg};
}

static void ck_rewind(checker *c)
{
    c->got = 0;
    c->bad = 0;
}

static int ck_fn(void *ctx, uint64_t seg, const uint8_t *rec, size_t len)
{
    checker *c = ctx;
    if ((long)c->got == c->stop_at)
        return -42;
    if (c->got >= c->n) {
        if (!c->bad)
            fprintf(stderr, "extra record %zu (len %zu)\n", c->got, len);
        c->bad = 1;
        c->got++;
        return 0;
    }
    expect *e = &c->want[c->got];
    if (len > c->scratch_cap) {
        c->scratch = realloc(c->scratch, len);
        c->scratch_cap = len;
    }
    if (e->len != len || (e->seg && e->seg != seg)) {
        if (!c->bad)
            fprintf(stderr, "record %zu: len %zu seg %llu, want len %zu seg %llu\n", c->got, len,
                    (unsigned long long)seg, e->len, (unsigned long long)e->seg);
        c->bad = 1;
    } else {
        rec_fill(c->scratch, len, e->id);
        if (memcmp(c->scratch, rec, len) != 0) {
            if (!c->bad)
                fprintf(stderr, "record %zu: contents differ\n", c->got);
            c->bad = 1;
        }
    }
    c->got++;
    return 0;
}

/* Writes the records ids [id0, id0+n) with the given sizes in one wal_write. */
static int write_batch(wal *w, checker *c, uint32_t id0, const size_t *sizes, size_t n,
                       uint64_t seg)
{
    struct iovec iov[64];
    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++) {
        iov[i].iov_base = malloc(sizes[i] ? sizes[i] : 1);
        assert_non_null(iov[i].iov_base);
        iov[i].iov_len = sizes[i];
        rec_fill(iov[i].iov_base, sizes[i], id0 + (uint32_t)i);
    }
    int rc = wal_write(w, iov, n);
    for (size_t i = 0; i < n; i++) {
        if (!rc && c)
            ck_add(c, id0 + (uint32_t)i, sizes[i], seg);
        free(iov[i].iov_base);
    }
    return rc;
}

static int write_one(wal *w, checker *c, uint32_t id, size_t len)
{
    uint64_t seg;
    int rc = wal_next_segment(w, &seg);
    if (rc)
        return rc;
    return write_batch(w, c, id, &len, 1, seg);
}

/* Replays dir and checks that exactly the expected records come back. */
static void replay_expect(const char *dir, checker *c, wal_replay_stats *st)
{
    wal_replay_stats tmp;
    ck_rewind(c);
    assert_int_equal(wal_replay(dir, ck_fn, c, st ? st : &tmp), 0);
    assert_int_equal(c->bad, 0);
    assert_int_equal(c->got, c->n);
    assert_int_equal((st ? st : &tmp)->records, c->n);
}

/* ---- files ---- */

static void seg_file(const char *dir, uint64_t num, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%08llu", dir, (unsigned long long)num);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (len)
        assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static int count_segments(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        n += de->d_type == DT_REG && strlen(de->d_name) == 8;
    if (d)
        closedir(d);
    return n;
}

static uint64_t dir_bytes(const char *dir)
{
    DIR *d = opendir(dir);
    uint64_t n = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (de->d_type == DT_REG)
            n += (uint64_t)file_size(p);
    }
    if (d)
        closedir(d);
    return n;
}

/* Runs fn with stderr captured into out (NUL-terminated, at most cap-1 bytes). */
typedef struct capture {
    int saved;
    char path[64];
} capture;

static void capture_start(capture *c)
{
    snprintf(c->path, sizeof c->path, "/tmp/dd-wal-log-XXXXXX");
    int fd = mkstemp(c->path);
    assert_true(fd >= 0);
    c->saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
}

static void capture_end(capture *c, char *out, size_t cap)
{
    dup2(c->saved, STDERR_FILENO);
    close(c->saved);
    FILE *f = fopen(c->path, "rb");
    size_t n = f ? fread(out, 1, cap - 1, f) : 0;
    out[n] = '\0';
    if (f)
        fclose(f);
    unlink(c->path);
}

/* ---- tests ---- */

static void format_is_as_documented(void **state)
{
    fixture *f = *state;
    wal *w = NULL;
    assert_int_equal(wal_open(&w, f->dir, &no_sync), 0);
    assert_int_equal(wal_current_segment(w), 1);
    struct iovec iov = {.iov_base = "abc", .iov_len = 3};
    assert_int_equal(wal_write(w, &iov, 1), 0);
    wal_close(w);
    char p[PATH_MAX];
    seg_file(f->dir, 1, p, sizeof p);
    size_t len;
    uint8_t *d = read_all(p, &len);
    assert_int_equal(len, 8 + 8 + 3);
    static const uint8_t hdr[8] = {'D', 'D', 'W', 'A', 'L', 0, 1, 0};
    assert_memory_equal(d, hdr, 8);
    static const uint8_t frame[7] = {3, 0, 0, 0, 'a', 'b', 'c'};
    uint32_t crc = (uint32_t)crc32(0, frame, 7);
    uint8_t want[8] = {
        3, 0, 0, 0, (uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16), (uint8_t)(crc >> 24)};
    assert_memory_equal(d + 8, want, 8);
    assert_memory_equal(d + 16, "abc", 3);
    size_t good = 0;
    assert_int_equal(wal_scan(d, len, NULL, NULL, &good), 0);
    assert_int_equal(good, len);
    free(d);
}

static void round_trip_many_sizes(void **state)
{
    fixture *f = *state;
    wal *w = NULL;
    checker c;
    ck_init(&c);
    wal_options o = {.segment_bytes = 0, .fsync_interval_ms = -1};
    assert_int_equal(wal_open(&w, f->dir, &o), 0);
    static const size_t fixed[] = {
        1,    2,    3,     7,     8,    9,     63,    64,      65,      255,           256, 4095,
        4096, 4097, 65535, 65536, 1000, 12345, 99999, 1 << 19, 1 << 20, (1 << 20) - 1, 17};
    uint32_t id = 0;
    uint64_t seg;
    assert_int_equal(wal_next_segment(w, &seg), 0);
    assert_int_equal(write_batch(w, &c, id, fixed, sizeof fixed / sizeof *fixed, seg), 0);
    id += sizeof fixed / sizeof *fixed;
    srand(7);
    for (int b = 0; b < 200; b++) {
        size_t sizes[16];
        size_t n = 1 + (size_t)rand() % 16;
        for (size_t i = 0; i < n; i++)
            sizes[i] = 1 + (size_t)rand() % (rand() % 4 == 0 ? (1 << 20) : 300);
        assert_int_equal(wal_next_segment(w, &seg), 0);
        assert_int_equal(write_batch(w, &c, id, sizes, n, seg), 0);
        id += (uint32_t)n;
    }
    assert_int_equal(wal_sync(w), 0);
    assert_int_equal(wal_size(w), dir_bytes(f->dir));
    wal_close(w);
    wal_replay_stats st;
    replay_expect(f->dir, &c, &st);
    assert_int_equal(st.corrupt_segments, 0);
    assert_int_equal(st.dropped_bytes, 0);
    assert_int_equal(st.segments, (uint64_t)count_segments(f->dir)); /* ~200 MiB: rolled once */
    assert_true(st.segments >= 2);
    /* A second replay finds the same (nothing was repaired). */
    replay_expect(f->dir, &c, &st);
    ck_free(&c);
}

static void sync_policies(void **state)
{
    fixture *f = *state;
    int64_t policies[] = {0, 1, 100000};
    checker c;
    ck_init(&c);
    uint32_t id = 0;
    for (size_t p = 0; p < 3; p++) {
        wal *w = NULL;
        wal_options o = {.segment_bytes = 2000, .fsync_interval_ms = policies[p]};
        assert_int_equal(wal_open(&w, f->dir, &o), 0);
        for (int i = 0; i < 20; i++)
            assert_int_equal(write_one(w, &c, id++, 300), 0);
        assert_int_equal(wal_sync(w), 0);
        assert_int_equal(wal_sync(w), 0);
        uint64_t seg;
        assert_int_equal(wal_cut(w, &seg), 0);
        wal_close(w);
    }
    replay_expect(f->dir, &c, NULL);
    ck_free(&c);
}

static void rollover_by_size(void **state)
{
    fixture *f = *state;
    wal *w = NULL;
    checker c;
    ck_init(&c);
    wal_options o = {.segment_bytes = 4096, .fsync_interval_ms = -1};
    assert_int_equal(wal_open(&w, f->dir, &o), 0);
    uint64_t prev = 0;
    for (uint32_t i = 0; i < 100; i++) {
        uint64_t seg;
        assert_int_equal(wal_next_segment(w, &seg), 0);
        assert_true(seg >= prev);
        prev = seg;
        size_t sizes[2] = {500, 100};
        assert_int_equal(write_batch(w, &c, i * 2, sizes, 2, seg), 0);
        assert_int_equal(wal_current_segment(w), seg);
    }
    /* 100 * 616 bytes, > 4096 per segment: 7 frames (4320 + 8 bytes) per segment. */
    size_t nseg = wal_segments(w);
    assert_int_equal(nseg, 15);
    assert_int_equal((int)nseg, count_segments(f->dir));
    assert_int_equal(wal_size(w), dir_bytes(f->dir));
    /* Every full segment holds just over segment_bytes. */
    char p[PATH_MAX];
    seg_file(f->dir, 1, p, sizeof p);
    assert_int_equal(file_size(p), 8 + 7 * 616);
    /* A single record larger than the segment size still goes in (then the next one rolls). */
    uint64_t seg1, seg2;
    assert_int_equal(wal_cut(w, &seg1), 0);
    assert_int_equal(write_one(w, &c, 1000, 10000), 0);
    c.want[c.n - 1].seg = seg1;
    assert_int_equal(wal_next_segment(w, &seg2), 0);
    assert_int_equal(seg2, seg1 + 1);
    wal_close(w);
    wal_replay_stats st;
    replay_expect(f->dir, &c, &st);
    assert_int_equal(st.segments, 17);
    ck_free(&c);
}

static void tiny_segment_size_rolls_once_per_write(void **state)
{
    fixture *f = *state;
    wal *w = NULL;
    checker c;
    ck_init(&c);
    wal_options o = {.segment_bytes = 1, .fsync_interval_ms = -1};
    assert_int_equal(wal_open(&w, f->dir, &o), 0);
    for (uint32_t i = 0; i < 5; i++) {
        uint64_t seg, again;
        assert_int_equal(wal_next_segment(w, &seg), 0);
        assert_int_equal(wal_next_segment(w, &again), 0);
        assert_int_equal(seg, again); /* an empty segment is never rolled */
        assert_int_equal(seg, i + 1);
        assert_int_equal(write_batch(w, &c, i, (size_t[]){10}, 1, seg), 0);
    }
    wal_close(w);
    replay_expect(f->dir, &c, NULL);
    ck_free(&c);
}

static void cut_and_truncate(void **state)
{
    fixture *f = *state;
    wal *w = NULL;
    checker c;
    ck_init(&c);
    assert_int_equal(wal_open(&w, f->dir, &no_sync), 0);
    assert_int_equal(write_one(w, NULL, 0, 100), 0);
    uint64_t s2, s3, s4;
    assert_int_equal(wal_cut(w, &s2), 0);
    assert_int_equal(s2, 2);
    assert_int_equal(write_one(w, NULL, 1, 100), 0);
    assert_int_equal(wal_cut(w, &s3), 0);
    assert_int_equal(s3, 3);
    assert_int_equal(write_one(w, NULL, 2, 100), 0);
    assert_int_equal(wal_segments(w), 3);
    assert_int_equal(wal_truncate(w, 3), 0);
    assert_int_equal(wal_segments(w), 1);
    assert_int_equal(count_segments(f->dir), 1);
    assert_int_equal(wal_size(w), dir_bytes(f->dir));
    /* The current segment is never deleted. */
    assert_int_equal(wal_truncate(w, 1000), 0);
    assert_int_equal(wal_segments(w), 1);
    assert_int_equal(wal_current_segment(w), 3);
    /* An empty segment can be cut too. */
    assert_int_equal(wal_cut(w, &s4), 0);
    assert_int_equal(wal_cut(w, &s4), 0);
    assert_int_equal(s4, 5);
    assert_int_equal(write_one(w, &c, 3, 100), 0);
    assert_int_equal(wal_truncate(w, 4), 0); /* deletes 3; keeps 4 (empty) and 5 */
    assert_int_equal(wal_segments(w), 2);
    assert_int_equal(count_segments(f->dir), 2);
    assert_int_equal(wal_size(w), dir_bytes(f->dir));
    wal_close(w);
    wal_replay_stats st;
    replay_expect(f->dir, &c, &st);
    assert_int_equal(st.segments, 2);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.want[0].id, 3);
    ck_free(&c);
}

static void reopen_starts_new_segment(void **state)
{
    fixture *f = *state;
    wal *w = NULL;
    checker c;
    ck_init(&c);
    assert_int_equal(wal_open(&w, f->dir, &no_sync), 0);
    for (uint32_t i = 0; i < 10; i++)
        assert_int_equal(write_one(w, &c, i, 50 + i), 0);
    uint64_t size1 = wal_size(w);
    wal_close(w);
    char p1[PATH_MAX];
    seg_file(f->dir, 1, p1, sizeof p1);
    long len1 = file_size(p1);

    wal_replay_stats st;
    replay_expect(f->dir, &c, &st);
    assert_int_equal(wal_open(&w, f->dir, &no_sync), 0);
    assert_int_equal(wal_current_segment(w), 2);
    assert_int_equal(wal_segments(w), 2);
    assert_int_equal(wal_size(w), size1 + 8);
    for (uint32_t i = 10; i < 20; i++)
        assert_int_equal(write_one(w, &c, i, 50 + i), 0);
    wal_close(w);
    assert_int_equal(file_size(p1), len1); /* never appended to */
    replay_expect(f->dir, &c, &st);
    assert_int_equal(st.segments, 2);
    assert_int_equal(c.want[0].seg, 1);
    assert_int_equal(c.want[19].seg, 2);
    /* Open, close without writing: an empty segment that replays as nothing. */
    assert_int_equal(wal_open(&w, f->dir, &no_sync), 0);
    wal_close(w);
    replay_expect(f->dir, &c, &st);
    assert_int_equal(st.segments, 3);
    assert_int_equal(st.corrupt_segments, 0);
    ck_free(&c);
}

/* Builds, in f->dir, segment 1 with records of the given sizes and returns its image and the
 * end offsets of the records. */
static uint8_t *build_segment(const char *dir, const size_t *sizes, size_t n, size_t *ends,
                              size_t *len)
{
    wal *w = NULL;
    assert_int_equal(wal_open(&w, dir, &no_sync), 0);
    size_t off = 8;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(write_one(w, NULL, (uint32_t)i, sizes[i]), 0);
        off += 8 + sizes[i];
        ends[i] = off;
    }
    uint64_t seg = wal_current_segment(w);
    wal_close(w);
    char p[PATH_MAX];
    seg_file(dir, seg, p, sizeof p);
    return read_all(p, len);
}

static void torn_tail_at_every_offset(void **state)
{
    fixture *f = *state;
    static const size_t sizes[] = {5, 1, 20, 37};
    size_t ends[4], len;
    char p[PATH_MAX], log[8192];
    uint8_t *img = build_segment(f->dir, sizes, 4, ends, &len);
    seg_file(f->dir, 1, p, sizeof p);
    assert_int_equal(len, ends[3]);
    log_set_level(LOG_WARN);
    for (size_t cut = 0; cut <= len; cut++) {
        write_file(p, img, cut);
        size_t nrec = 0, good = cut < 8 ? 0 : 8;
        while (nrec < 4 && ends[nrec] <= cut)
            good = ends[nrec++];
        checker c;
        ck_init(&c);
        for (size_t i = 0; i < nrec; i++)
            ck_add(&c, (uint32_t)i, sizes[i], 1);
        /* The pure scanner agrees. */
        size_t sgood = 99999;
        int src = wal_scan(img, cut, NULL, NULL, &sgood);
        assert_int_equal(sgood, cut == 0 ? 0 : good);
        assert_int_equal(src, cut == 0 || cut == good ? 0 : -EBADMSG);

        wal_replay_stats st;
        capture cap;
        capture_start(&cap);
        ck_rewind(&c);
        int rc = wal_replay(f->dir, ck_fn, &c, &st);
        capture_end(&cap, log, sizeof log);
        assert_int_equal(rc, 0);
        assert_int_equal(c.bad, 0);
        assert_int_equal(c.got, nrec);
        assert_int_equal(st.records, nrec);
        assert_int_equal(st.segments, 1);
        int damaged = cut != 0 && cut != good;
        assert_int_equal(st.corrupt_segments, damaged);
        assert_int_equal(st.dropped_bytes, cut - (cut == 0 ? 0 : good));
        if (damaged) {
            /* Logged: which segment, how many bytes. */
            char want[64];
            snprintf(want, sizeof want, "dropped %zu bytes", cut - good);
            if (!strstr(log, p) || !strstr(log, want))
                fail_msg("cut %zu: log lacks %s / %s:\n%s", cut, p, want, log);
            /* Truncated at the last good record, unless the header itself is torn. */
            assert_int_equal(file_size(p), cut < 8 ? (long)cut : (long)good);
        } else {
            assert_int_equal(file_size(p), (long)cut);
        }
        ck_free(&c);
    }
    log_set_level(LOG_INFO);
    free(img);
}

/* A torn tail of a record bigger than the replay read buffer (8 MiB), with records on both
 * sides of several chunk boundaries. */
static void torn_big_record(void **state)
{
    fixture *f = *state;
    static const size_t sizes[] = {3 << 20, 5 << 20, 100, (12 << 20) + 3};
    size_t ends[4], len;
    char p[PATH_MAX];
    uint8_t *img = build_segment(f->dir, sizes, 4, ends, &len);
    seg_file(f->dir, 1, p, sizeof p);
    size_t cuts[] = {ends[2] + 1, ends[2] + 8, ends[2] + 9, ends[2] + (8 << 20) - 3, len - 1, len};
    for (size_t k = 0; k < sizeof cuts / sizeof *cuts; k++) {
        write_file(p, img, cuts[k]);
        checker c;
        ck_init(&c);
        size_t nrec = cuts[k] == len ? 4 : 3;
        for (size_t i = 0; i < nrec; i++)
            ck_add(&c, (uint32_t)i, sizes[i], 1);
        wal_replay_stats st;
        replay_expect(f->dir, &c, &st);
        assert_int_equal(st.dropped_bytes, cuts[k] - ends[nrec - 1]);
        assert_int_equal(file_size(p), (long)ends[nrec - 1]);
        ck_free(&c);
    }
    free(img);
}

/* Flips one bit at each of: header magic, version, length, checksum, payload of record 2, in the
 * last segment. */
static void corrupt_last_segment(void **state)
{
    fixture *f = *state;
    static const size_t sizes[] = {10, 30, 50};
    size_t ends[3], len;
    char p[PATH_MAX];
    uint8_t *img = build_segment(f->dir, sizes, 3, ends, &len);
    seg_file(f->dir, 1, p, sizeof p);
    struct {
        size_t at;
        int recs;  /* good records before the damage */
        int trunc; /* truncated to ends[recs-1] */
    } cases[] = {
        {0, 0, 0},           /* magic */
        {4, 0, 0},           /* magic */
        {7, 0, 0},           /* flags */
        {ends[0] + 0, 1, 1}, /* length of record 2 */
        {ends[0] + 2, 1, 1}, /* length: beyond the end of the file */
        {ends[0] + 3, 1, 1}, /* length high byte: beyond the file, or over 64 MiB */
        {ends[0] + 5, 1, 1}, /* checksum */
        {ends[0] + 8, 1, 1}, /* first payload byte */
        {ends[1] - 1, 1, 1}, /* last payload byte */
        {ends[2] - 1, 2, 1}, /* last byte of the last record */
        {8, 0, 1},           /* length of record 1: only the header is left */
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        for (int bit = 0; bit < 8; bit += 7) {
            uint8_t *d = malloc(len);
            memcpy(d, img, len);
            d[cases[k].at] ^= (uint8_t)(1u << bit);
            write_file(p, d, len);
            checker c;
            ck_init(&c);
            for (int i = 0; i < cases[k].recs; i++)
                ck_add(&c, (uint32_t)i, sizes[i], 1);
            wal_replay_stats st;
            replay_expect(f->dir, &c, &st);
            assert_int_equal(st.corrupt_segments, 1);
            size_t good = cases[k].recs ? ends[cases[k].recs - 1] : cases[k].trunc ? 8 : 0;
            assert_int_equal(st.dropped_bytes, len - good);
            assert_int_equal(file_size(p), cases[k].trunc ? (long)good : (long)len);
            size_t sgood;
            assert_int_equal(wal_scan(d, len, NULL, NULL, &sgood), -EBADMSG);
            assert_int_equal(sgood, good);
            ck_free(&c);
            free(d);
        }
    }
    free(img);
}

/* Segments 1..3; damage in segment 2 keeps its records before the damage, skips the rest,
 * leaves the file alone, and goes on with segment 3. */
static void corrupt_middle_segment(void **state)
{
    fixture *f = *state;
    char p2[PATH_MAX];
    seg_file(f->dir, 2, p2, sizeof p2);
    /* at: offsets in segment 2 (records of 40 bytes: frames of 48, first at 8). */
    size_t ats[] = {0, 8, 8 + 48 + 1, 8 + 48 + 4, 8 + 48 + 20, 8 + 48 * 3 - 1};
    int before[] = {0, 0, 1, 1, 1, 2};
    for (size_t k = 0; k < sizeof ats / sizeof *ats; k++) {
        rm_tree(f->dir);
        wal *w = NULL;
        checker all;
        ck_init(&all);
        assert_int_equal(wal_open(&w, f->dir, &no_sync), 0);
        uint32_t id = 0;
        for (int s = 0; s < 3; s++) {
            for (int i = 0; i < 4; i++)
                assert_int_equal(write_one(w, &all, id++, 40), 0);
            if (s < 2)
                assert_int_equal(wal_cut(w, NULL), 0);
        }
        wal_close(w);
        size_t len;
        uint8_t *d = read_all(p2, &len);
        d[ats[k]] ^= 0x10;
        write_file(p2, d, len);
        checker c;
        ck_init(&c);
        for (size_t i = 0; i < all.n; i++)
            if (all.want[i].seg != 2 || (int)(all.want[i].id - 4) < before[k])
                ck_add(&c, all.want[i].id, all.want[i].len, all.want[i].seg);
        wal_replay_stats st;
        replay_expect(f->dir, &c, &st);
        assert_int_equal(st.segments, 3);
        assert_int_equal(st.corrupt_segments, 1);
        size_t good = ats[k] < 8 ? 0 : 8 + 48 * (size_t)before[k];
        assert_int_equal(st.dropped_bytes, len - good);
        assert_int_equal(file_size(p2), (long)len); /* left as is */
        size_t now_len;
        uint8_t *now = read_all(p2, &now_len);
        assert_memory_equal(now, d, len);
        free(now);
        free(d);
        ck_free(&c);
        ck_free(&all);
    }
}

static void zero_filled_tail(void **state)
{
    fixture *f = *state;
    wal *w = NULL;
    checker c;
    ck_init(&c);
    assert_int_equal(wal_open(&w, f->dir, &no_sync), 0);
    for (uint32_t i = 0; i < 5; i++)
        assert_int_equal(write_one(w, &c, i, 100), 0);
    assert_int_equal(wal_cut(w, NULL), 0);
    for (uint32_t i = 5; i < 10; i++)
        assert_int_equal(write_one(w, &c, i, 100), 0);
    wal_close(w);
    char p1[PATH_MAX], p2[PATH_MAX];
    seg_file(f->dir, 1, p1, sizeof p1);
    seg_file(f->dir, 2, p2, sizeof p2);
    long l1 = file_size(p1), l2 = file_size(p2);
    /* Zeroed tails in both: the middle one stays, the last one is cut. */
    assert_int_equal(truncate(p1, l1 + 4096), 0);
    assert_int_equal(truncate(p2, l2 + 3), 0); /* shorter than a frame header */
    wal_replay_stats st;
    replay_expect(f->dir, &c, &st);
    assert_int_equal(st.corrupt_segments, 2);
    assert_int_equal(st.dropped_bytes, 4096 + 3);
    assert_int_equal(file_size(p1), l1 + 4096);
    assert_int_equal(file_size(p2), l2);
    assert_int_equal(truncate(p2, l2 + 100000), 0);
    replay_expect(f->dir, &c, &st);
    assert_int_equal(st.dropped_bytes, 4096 + 100000);
    assert_int_equal(file_size(p2), l2);
    /* A segment that is all zeros. */
    char p3[PATH_MAX];
    seg_file(f->dir, 3, p3, sizeof p3);
    write_file(p3, "", 0);
    assert_int_equal(truncate(p3, 4096), 0);
    replay_expect(f->dir, &c, &st);
    assert_int_equal(st.corrupt_segments, 2);
    assert_int_equal(file_size(p3), 4096); /* bad header: left as is */
    ck_free(&c);
}

static void bad_magic_and_newer_version(void **state)
{
    fixture *f = *state;
    wal *w = NULL;
    checker c;
    ck_init(&c);
    assert_int_equal(wal_open(&w, f->dir, &no_sync), 0);
    assert_int_equal(write_one(w, &c, 0, 10), 0);
    assert_int_equal(wal_cut(w, NULL), 0);
    assert_int_equal(write_one(w, NULL, 1, 10), 0);
    assert_int_equal(wal_cut(w, NULL), 0);
    assert_int_equal(write_one(w, &c, 2, 10), 0);
    wal_close(w);
    char p2[PATH_MAX];
    seg_file(f->dir, 2, p2, sizeof p2);
    size_t len;
    uint8_t *d = read_all(p2, &len);
    memcpy(d, "GARBAGE!", 8);
    write_file(p2, d, len);
    wal_replay_stats st;
    replay_expect(f->dir, &c, &st);
    assert_int_equal(st.corrupt_segments, 1);
    assert_int_equal(st.dropped_bytes, len);
    assert_int_equal(file_size(p2), (long)len);
    /* A newer format version: refuse, modify nothing. */
    memcpy(d, "DDWAL\0\2\0", 8);
    write_file(p2, d, len);
    ck_rewind(&c);
    assert_int_equal(wal_replay(f->dir, ck_fn, &c, &st), -EPROTONOSUPPORT);
    assert_int_equal(file_size(p2), (long)len);
    size_t good;
    assert_int_equal(wal_scan(d, len, NULL, NULL, &good), -EPROTONOSUPPORT);
    assert_int_equal(good, 0);
    free(d);
    ck_free(&c);
}

static void garbage_names_ignored(void **state)
{
    fixture *f = *state;
    wal *w = NULL;
    checker c;
    ck_init(&c);
    assert_int_equal(wal_open(&w, f->dir, &no_sync), 0);
    assert_int_equal(write_one(w, &c, 0, 10), 0);
    wal_close(w);
    static const char *junk[] = {"foo",
                                 "00000002.tmp",
                                 "1234567",
                                 "000000003",
                                 "0000000x",
                                 "-0000004",
                                 "99999999999999999999999",
                                 ".00000005"};
    char p[PATH_MAX];
    for (size_t i = 0; i < sizeof junk / sizeof *junk; i++) {
        snprintf(p, sizeof p, "%s/%s", f->dir, junk[i]);
        write_file(p, "garbage", 7);
    }
    snprintf(p, sizeof p, "%s/00000007", f->dir);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/00000000", f->dir); /* a valid name: an empty segment 0 */
    write_file(p, "", 0);
    wal_replay_stats st;
    replay_expect(f->dir, &c, &st);
    assert_int_equal(st.segments, 2);
    assert_int_equal(st.corrupt_segments, 0);
    assert_int_equal(wal_open(&w, f->dir, &no_sync), 0);
    assert_int_equal(wal_current_segment(w), 2);
    assert_int_equal(write_one(w, &c, 1, 10), 0);
    wal_close(w);
    replay_expect(f->dir, &c, &st);
    /* Missing dir: empty WAL. */
    snprintf(p, sizeof p, "%s/none", f->dir);
    assert_int_equal(wal_replay(p, ck_fn, &c, &st), 0);
    assert_int_equal(st.segments, 0);
    ck_free(&c);
}

static void open_creates_dir(void **state)
{
    fixture *f = *state;
    char d[PATH_MAX];
    snprintf(d, sizeof d, "%s/a/b/wal", f->dir);
    wal *w = NULL;
    assert_int_equal(wal_open(&w, d, NULL), 0);
    struct stat st;
    assert_int_equal(stat(d, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(wal_segments(w), 1);
    assert_int_equal(wal_size(w), 8);
    wal_close(w);
    wal_close(NULL);
    /* Not a directory. */
    snprintf(d, sizeof d, "%s/file", f->dir);
    write_file(d, "x", 1);
    assert_int_equal(wal_open(&w, d, NULL), -ENOTDIR);
    assert_int_equal(wal_open(&w, "", NULL), -EINVAL);
}

static void refused_records(void **state)
{
    fixture *f = *state;
    wal *w = NULL;
    checker c;
    ck_init(&c);
    assert_int_equal(wal_open(&w, f->dir, &no_sync), 0);
    uint8_t *big = malloc(WAL_MAX_RECORD + 1);
    assert_non_null(big);
    rec_fill(big, WAL_MAX_RECORD, 7);
    struct iovec iov[2] = {{.iov_base = "ok", .iov_len = 2},
                           {.iov_base = big, .iov_len = WAL_MAX_RECORD + 1}};
    assert_int_equal(wal_write(w, iov, 2), -EINVAL);
    iov[1].iov_len = 0;
    assert_int_equal(wal_write(w, iov, 2), -EINVAL);
    assert_int_equal(wal_size(w), 8); /* nothing written */
    assert_int_equal(wal_write(w, iov, 0), 0);
    /* Exactly 64 MiB is fine. */
    iov[1].iov_len = WAL_MAX_RECORD;
    assert_int_equal(wal_write(w, iov + 1, 1), 0);
    ck_add(&c, 7, WAL_MAX_RECORD, 1);
    assert_int_equal(write_one(w, &c, 8, 10), 0);
    wal_close(w);
    free(big);
    replay_expect(f->dir, &c, NULL);
    ck_free(&c);
}

/* RLIMIT_FSIZE makes write(2) fail with EFBIG part-way through a batch: the partial batch is cut
 * off and the WAL goes on. */
static void write_error_rolls_back(void **state)
{
    fixture *f = *state;
    wal *w = NULL;
    checker c;
    ck_init(&c);
    assert_int_equal(wal_open(&w, f->dir, &no_sync), 0);
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(write_one(w, &c, i, 100), 0);
    uint64_t before = wal_size(w);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*oldsig)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = before + 1000;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    size_t sizes[3] = {400, 400, 400};
    int rc = write_batch(w, NULL, 100, sizes, 3, 1);
    assert_int_equal(rc, -EFBIG);
    char p[PATH_MAX];
    seg_file(f->dir, 1, p, sizeof p);
    assert_int_equal(file_size(p), (long)before);
    assert_int_equal(wal_size(w), before);
    /* Still usable. */
    assert_int_equal(write_one(w, &c, 3, 100), 0);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, oldsig);
    assert_int_equal(write_one(w, &c, 4, 2000), 0);
    wal_close(w);
    wal_replay_stats st;
    replay_expect(f->dir, &c, &st);
    assert_int_equal(st.corrupt_segments, 0);
    ck_free(&c);
}

static void replay_stopped_by_callback(void **state)
{
    fixture *f = *state;
    wal *w = NULL;
    checker c;
    ck_init(&c);
    assert_int_equal(wal_open(&w, f->dir, &no_sync), 0);
    for (uint32_t i = 0; i < 5; i++)
        assert_int_equal(write_one(w, &c, i, 100), 0);
    wal_close(w);
    char p[PATH_MAX];
    seg_file(f->dir, 1, p, sizeof p);
    long len = file_size(p);
    assert_int_equal(truncate(p, len + 10), 0); /* a damaged tail that must not be touched */
    c.stop_at = 2;
    wal_replay_stats st;
    assert_int_equal(wal_replay(f->dir, ck_fn, &c, &st), -42);
    assert_int_equal(st.records, 2);
    assert_int_equal(c.bad, 0);
    assert_int_equal(file_size(p), len + 10);
    ck_free(&c);
}

static int count_fn(void *ctx, uint64_t seg, const uint8_t *rec, size_t len)
{
    (void)seg;
    (void)rec;
    (void)len;
    (*(size_t *)ctx)++;
    return 0;
}

static int stop_fn(void *ctx, uint64_t seg, const uint8_t *rec, size_t len)
{
    (void)seg;
    (void)rec;
    (void)len;
    return ++*(size_t *)ctx == 2 ? -7 : 0;
}

static void scan_in_memory(void **state)
{
    fixture *f = *state;
    static const size_t sizes[] = {5, 6, 7};
    size_t ends[3], len, n = 0, good;
    uint8_t *img = build_segment(f->dir, sizes, 3, ends, &len);
    assert_int_equal(wal_scan(img, len, count_fn, &n, &good), 0);
    assert_int_equal(n, 3);
    assert_int_equal(good, len);
    n = 0;
    assert_int_equal(wal_scan(img, len, stop_fn, &n, &good), -7);
    assert_int_equal(good, ends[1]);
    assert_int_equal(wal_scan(img, 0, count_fn, &n, &good), 0);
    assert_int_equal(good, 0);
    assert_int_equal(wal_scan(img, 8, NULL, NULL, NULL), 0);
    /* A zero-length record with a matching checksum is still invalid. */
    uint8_t zero[16] = {'D', 'D', 'W', 'A', 'L', 0, 1, 0};
    uint32_t crc = (uint32_t)crc32(0, zero + 8, 4);
    zero[12] = (uint8_t)crc;
    zero[13] = (uint8_t)(crc >> 8);
    zero[14] = (uint8_t)(crc >> 16);
    zero[15] = (uint8_t)(crc >> 24);
    assert_int_equal(wal_scan(zero, 16, NULL, NULL, &good), -EBADMSG);
    assert_int_equal(good, 8);
    free(img);
}

static void allocation_failures(void **state)
{
    fixture *f = *state;
    char d[PATH_MAX];
    snprintf(d, sizeof d, "%s/w", f->dir);
    /* wal_open: every allocation may fail; no leak (ASan), an error or a working WAL. */
    int ok = 0;
    for (long k = 0; k < 50 && !ok; k++) {
        wal *w = NULL;
        mem_fail_after(k);
        int rc = wal_open(&w, d, &no_sync);
        mem_fail_after(-1);
        if (rc == 0) {
            ok = 1;
            wal_close(w);
        } else {
            assert_int_equal(rc, -ENOMEM);
        }
    }
    assert_true(ok);
    rm_tree(d);
    checker c;
    ck_init(&c);
    wal *w = NULL;
    wal_options o = {.segment_bytes = 300, .fsync_interval_ms = -1};
    assert_int_equal(wal_open(&w, d, &o), 0);
    /* wal_write and rollover with failing allocations: -ENOMEM, nothing written. */
    uint32_t id = 0;
    for (long k = 0; k < 200; k++) {
        mem_fail_after(k % 3);
        uint64_t seg;
        int rc = wal_next_segment(w, &seg);
        if (rc == 0)
            rc = write_batch(w, &c, id, (size_t[]){100 + (size_t)k * 50}, 1, seg);
        mem_fail_after(-1);
        if (rc)
            assert_int_equal(rc, -ENOMEM);
        else
            id++;
    }
    assert_true(id > 10);
    wal_close(w);
    replay_expect(d, &c, NULL);
    /* wal_replay: -ENOMEM, nothing modified, then success. */
    ok = 0;
    for (long k = 0; k < 50 && !ok; k++) {
        ck_rewind(&c);
        mem_fail_after(k);
        int rc = wal_replay(d, ck_fn, &c, NULL);
        mem_fail_after(-1);
        if (rc == 0)
            ok = 1;
        else
            assert_int_equal(rc, -ENOMEM);
    }
    assert_true(ok);
    replay_expect(d, &c, NULL);
    ck_free(&c);
}

/* Writes and replays 128 MiB of records of two sizes (page cache, no fdatasync) and prints MB/s. */
static void replay_speed(void **state)
{
    fixture *f = *state;
    static const size_t recsz[] = {4096, 256};
    for (size_t k = 0; k < 2; k++) {
        char d[PATH_MAX];
        snprintf(d, sizeof d, "%s/speed%zu", f->dir, k);
        wal *w = NULL;
        assert_int_equal(wal_open(&w, d, &no_sync), 0);
        size_t batch = 64, per = recsz[k];
        uint8_t *data = malloc(per * batch);
        rec_fill(data, per * batch, 1);
        struct iovec iov[64];
        for (size_t i = 0; i < batch; i++)
            iov[i] = (struct iovec){.iov_base = data + i * per, .iov_len = per};
        uint64_t total = 128ULL << 20, written = 0;
        int64_t t0 = timeutil_mono_ms();
        while (written < total) {
            uint64_t seg;
            assert_int_equal(wal_next_segment(w, &seg), 0);
            assert_int_equal(wal_write(w, iov, batch), 0);
            written += batch * per;
        }
        int64_t t1 = timeutil_mono_ms();
        uint64_t bytes = wal_size(w);
        wal_close(w);
        size_t n = 0;
        wal_replay_stats st;
        int64_t t2 = timeutil_mono_ms();
        assert_int_equal(wal_replay(d, count_fn, &n, &st), 0);
        int64_t t3 = timeutil_mono_ms();
        assert_int_equal(n, written / per);
        double wms = (double)(t1 - t0 + 1), rms = (double)(t3 - t2 + 1);
        print_message("wal speed, %zu-byte records, %.0f MiB: write %.0f MB/s, replay %.0f MB/s "
                      "(%.2f M records/s)\n",
                      per, (double)bytes / (1 << 20), (double)bytes / 1e3 / wms,
                      (double)bytes / 1e3 / rms, (double)n / 1e3 / rms);
        free(data);
        rm_tree(d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(format_is_as_documented, setup, teardown),
        cmocka_unit_test_setup_teardown(round_trip_many_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(sync_policies, setup, teardown),
        cmocka_unit_test_setup_teardown(rollover_by_size, setup, teardown),
        cmocka_unit_test_setup_teardown(tiny_segment_size_rolls_once_per_write, setup, teardown),
        cmocka_unit_test_setup_teardown(cut_and_truncate, setup, teardown),
        cmocka_unit_test_setup_teardown(reopen_starts_new_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(torn_tail_at_every_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(torn_big_record, setup, teardown),
        cmocka_unit_test_setup_teardown(corrupt_last_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(corrupt_middle_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(zero_filled_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_magic_and_newer_version, setup, teardown),
        cmocka_unit_test_setup_teardown(garbage_names_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(open_creates_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(refused_records, setup, teardown),
        cmocka_unit_test_setup_teardown(write_error_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(replay_stopped_by_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(scan_in_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(allocation_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(replay_speed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
