/* test_spool: queue order (by seq, not by push order), remove/park, the byte cap (dropping the
 * oldest, counting them, refusing a batch larger than the cap), recovery after reopen, cleanup
 * of interrupted writes, and unreadable files. Every test works in its own mkdtemp directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/spool.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct fixture {
    char dir[64];
} fixture;

/* Removes dir and everything below it (two levels are all the spool makes). */
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
    snprintf(f->dir, sizeof f->dir, "/tmp/dd-spool-test-XXXXXX");
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
    rm_tree(f->dir);
    free(f);
    return 0;
}

static int file_exists(const char *dir, const char *sub, uint64_t seq)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s%s%s/%020llu.rw", dir, sub ? "/" : "", sub ? sub : "",
             (unsigned long long)seq);
    return access(p, F_OK) == 0;
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        n += de->d_type == DT_REG;
    if (d)
        closedir(d);
    return n;
}

/* Pushes a batch whose content is "batch-<seq>" padded to len bytes. */
static int push(spool *s, uint64_t seq, size_t len)
{
    char data[4096];
    assert_true(len <= sizeof data);
    memset(data, '.', len);
    char head[32];
    int n = snprintf(head, sizeof head, "batch-%llu", (unsigned long long)seq);
    memcpy(data, head, (size_t)n < len ? (size_t)n : len);
    return spool_push(s, seq, data, len);
}

/* Peeks and checks that the oldest batch is seq with the content push() wrote. */
static void expect_peek(spool *s, uint64_t want_seq, size_t want_len)
{
    buf out;
    buf_init(&out, 0);
    uint64_t seq = 0;
    int rc = spool_peek(s, &out, &seq);
    if (rc)
        fail_msg("peek: %d, want seq %llu", rc, (unsigned long long)want_seq);
    if (seq != want_seq)
        fail_msg("peek gave seq %llu, want %llu", (unsigned long long)seq,
                 (unsigned long long)want_seq);
    assert_int_equal(out.len, want_len);
    char head[32];
    int n = snprintf(head, sizeof head, "batch-%llu", (unsigned long long)want_seq);
    if ((size_t)n <= want_len)
        assert_memory_equal(out.data, head, (size_t)n);
    buf_free(&out);
}

static void open_creates_dirs_and_starts_empty(void **state)
{
    fixture *f = *state;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/a/b/spool", f->dir);
    spool *s = NULL;
    assert_int_equal(spool_open(&s, dir, 1 << 20), 0);
    struct stat st;
    char parked[PATH_MAX + 16];
    snprintf(parked, sizeof parked, "%s/parked", dir);
    assert_int_equal(stat(parked, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(spool_count(s), 0);
    assert_int_equal(spool_bytes(s), 0);
    assert_int_equal(spool_dropped(s), 0);
    assert_int_equal(spool_max_seq(s), 0);
    buf out;
    buf_init(&out, 0);
    uint64_t seq;
    assert_int_equal(spool_peek(s, &out, &seq), -ENOENT);
    buf_free(&out);
    spool_close(s);
    spool_close(NULL);
}

static void open_fails_on_a_file_in_the_way(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/notadir", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    spool *s = (spool *)1;
    int rc = spool_open(&s, path, 1 << 20);
    assert_true(rc < 0);
}

static void push_peek_remove_in_seq_order(void **state)
{
    fixture *f = *state;
    spool *s = NULL;
    assert_int_equal(spool_open(&s, f->dir, 1 << 20), 0);
    for (uint64_t seq = 1; seq <= 5; seq++)
        assert_int_equal(push(s, seq, 100 + seq), 0);
    assert_int_equal(spool_count(s), 5);
    assert_int_equal(spool_bytes(s), 5 * 100 + 15);
    assert_int_equal(spool_max_seq(s), 5);
    for (uint64_t seq = 1; seq <= 5; seq++) {
        /* Peek does not consume. */
        expect_peek(s, seq, 100 + seq);
        expect_peek(s, seq, 100 + seq);
        assert_true(file_exists(f->dir, NULL, seq));
        assert_int_equal(spool_remove(s, seq), 0);
        assert_false(file_exists(f->dir, NULL, seq));
        assert_int_equal(spool_count(s), 5 - seq);
    }
    assert_int_equal(spool_bytes(s), 0);
    buf out;
    buf_init(&out, 0);
    uint64_t seq;
    assert_int_equal(spool_peek(s, &out, &seq), -ENOENT);
    buf_free(&out);
    /* Removing what is not there. */
    assert_int_equal(spool_remove(s, 3), -ENOENT);
    assert_int_equal(spool_remove(s, 999), -ENOENT);
    assert_int_equal(spool_max_seq(s), 5);
    spool_close(s);
}

static void smaller_seq_pushed_later_comes_out_first(void **state)
{
    fixture *f = *state;
    spool *s = NULL;
    assert_int_equal(spool_open(&s, f->dir, 1 << 20), 0);
    assert_int_equal(push(s, 10, 50), 0);
    assert_int_equal(push(s, 20, 50), 0);
    assert_int_equal(push(s, 30, 50), 0);
    /* A retried batch that never entered the queue goes before newer ones. */
    assert_int_equal(push(s, 15, 50), 0);
    assert_int_equal(push(s, 5, 50), 0);
    assert_int_equal(push(s, 25, 50), 0);
    assert_int_equal(spool_max_seq(s), 30);
    static const uint64_t want[] = {5, 10, 15, 20, 25, 30};
    for (size_t i = 0; i < 6; i++) {
        expect_peek(s, want[i], 50);
        assert_int_equal(spool_remove(s, want[i]), 0);
    }
    assert_int_equal(spool_count(s), 0);
    spool_close(s);
}

static void remove_out_of_order_keeps_the_rest(void **state)
{
    fixture *f = *state;
    spool *s = NULL;
    assert_int_equal(spool_open(&s, f->dir, 1 << 20), 0);
    for (uint64_t seq = 1; seq <= 6; seq++)
        assert_int_equal(push(s, seq, 10), 0);
    assert_int_equal(spool_remove(s, 4), 0);
    assert_int_equal(spool_remove(s, 1), 0);
    assert_int_equal(spool_remove(s, 6), 0);
    assert_int_equal(spool_count(s), 3);
    assert_int_equal(spool_bytes(s), 30);
    expect_peek(s, 2, 10);
    assert_int_equal(spool_remove(s, 2), 0);
    expect_peek(s, 3, 10);
    assert_int_equal(spool_remove(s, 3), 0);
    expect_peek(s, 5, 10);
    spool_close(s);
}

static void long_queue_with_interleaved_consumption(void **state)
{
    fixture *f = *state;
    spool *s = NULL;
    assert_int_equal(spool_open(&s, f->dir, 1 << 20), 0);
    /* More than the index's first allocation, consumed while it grows. */
    uint64_t next_out = 1;
    for (uint64_t seq = 1; seq <= 300; seq++) {
        assert_int_equal(push(s, seq, 20), 0);
        if (seq % 3 == 0) {
            expect_peek(s, next_out, 20);
            assert_int_equal(spool_remove(s, next_out++), 0);
        }
    }
    assert_int_equal(spool_count(s), 200);
    while (next_out <= 300) {
        expect_peek(s, next_out, 20);
        assert_int_equal(spool_remove(s, next_out++), 0);
    }
    assert_int_equal(spool_count(s), 0);
    assert_int_equal(spool_bytes(s), 0);
    spool_close(s);
}

static void cap_drops_oldest_and_counts_them(void **state)
{
    fixture *f = *state;
    spool *s = NULL;
    assert_int_equal(spool_open(&s, f->dir, 1000), 0);
    for (uint64_t seq = 1; seq <= 4; seq++)
        assert_int_equal(push(s, seq, 250), 0); /* exactly at the cap */
    assert_int_equal(spool_bytes(s), 1000);
    assert_int_equal(spool_dropped(s), 0);
    /* One more byte than fits: the oldest goes. */
    assert_int_equal(push(s, 5, 1), 0);
    assert_int_equal(spool_dropped(s), 1);
    assert_int_equal(spool_count(s), 4);
    assert_int_equal(spool_bytes(s), 751);
    assert_false(file_exists(f->dir, NULL, 1));
    expect_peek(s, 2, 250);
    /* A batch needing the room of two more (751 + 700 - 250 - 250 = 951 fits). */
    assert_int_equal(push(s, 6, 700), 0);
    assert_int_equal(spool_dropped(s), 3);
    assert_int_equal(spool_count(s), 3);
    assert_int_equal(spool_bytes(s), 951);
    expect_peek(s, 4, 250);
    assert_false(file_exists(f->dir, NULL, 2));
    assert_false(file_exists(f->dir, NULL, 3));
    assert_int_equal(count_files(f->dir), 3);
    /* A batch of exactly the cap empties the queue. */
    assert_int_equal(push(s, 7, 1000), 0);
    assert_int_equal(spool_count(s), 1);
    assert_int_equal(spool_dropped(s), 6);
    expect_peek(s, 7, 1000);
    spool_close(s);
}

static void batch_larger_than_cap_is_refused(void **state)
{
    fixture *f = *state;
    spool *s = NULL;
    assert_int_equal(spool_open(&s, f->dir, 500), 0);
    assert_int_equal(push(s, 1, 400), 0);
    assert_int_equal(push(s, 2, 501), -EFBIG);
    /* Nothing was dropped or written for it. */
    assert_int_equal(spool_dropped(s), 0);
    assert_int_equal(spool_count(s), 1);
    assert_false(file_exists(f->dir, NULL, 2));
    expect_peek(s, 1, 400);
    spool_close(s);
}

static void reopen_picks_up_earlier_batches(void **state)
{
    fixture *f = *state;
    spool *s = NULL;
    assert_int_equal(spool_open(&s, f->dir, 1 << 20), 0);
    static const uint64_t seqs[] = {7, 3, 12, 100000000000ULL, 5};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(push(s, seqs[i], 30 + i), 0);
    assert_int_equal(spool_remove(s, 3), 0);
    spool_close(s);

    s = NULL;
    assert_int_equal(spool_open(&s, f->dir, 1 << 20), 0);
    assert_int_equal(spool_count(s), 4);
    assert_int_equal(spool_max_seq(s), 100000000000ULL);
    assert_int_equal(spool_bytes(s), 30 + 32 + 33 + 34);
    static const uint64_t order[] = {5, 7, 12, 100000000000ULL};
    static const size_t lens[] = {34, 30, 32, 33};
    for (size_t i = 0; i < 4; i++) {
        expect_peek(s, order[i], lens[i]);
        assert_int_equal(spool_remove(s, order[i]), 0);
    }
    /* max_seq survives the queue emptying, so a restarted agent keeps counting upwards. */
    assert_int_equal(spool_max_seq(s), 100000000000ULL);
    spool_close(s);
}

static void reopen_applies_cap_to_new_pushes(void **state)
{
    fixture *f = *state;
    spool *s = NULL;
    assert_int_equal(spool_open(&s, f->dir, 1 << 20), 0);
    for (uint64_t seq = 1; seq <= 4; seq++)
        assert_int_equal(push(s, seq, 300), 0);
    spool_close(s);
    /* Reopened with a smaller cap: the backlog stays until the next push needs room. */
    assert_int_equal(spool_open(&s, f->dir, 700), 0);
    assert_int_equal(spool_count(s), 4);
    assert_int_equal(push(s, 5, 100), 0);
    assert_int_equal(spool_count(s), 3);
    assert_int_equal(spool_bytes(s), 700);
    assert_int_equal(spool_dropped(s), 2);
    expect_peek(s, 3, 300);
    spool_close(s);
}

static void open_deletes_tmp_leftovers_and_ignores_strangers(void **state)
{
    fixture *f = *state;
    static const char *names[] = {
        "00000000000000000009.rw.tmp", /* interrupted write: deleted */
        "garbage.rw.tmp",              /* deleted as well */
        "notes.txt",                   /* ignored */
        "0000000000000000000x.rw",     /* not a number: ignored */
        "123.rw",                      /* wrong width: ignored */
        "00000000000000000004.rw",     /* a real batch */
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", f->dir, names[i]);
        FILE *fp = fopen(p, "w");
        assert_non_null(fp);
        fputs("batch-4", fp);
        fclose(fp);
    }
    spool *s = NULL;
    assert_int_equal(spool_open(&s, f->dir, 1 << 20), 0);
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/00000000000000000009.rw.tmp", f->dir);
    assert_int_not_equal(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/garbage.rw.tmp", f->dir);
    assert_int_not_equal(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/notes.txt", f->dir);
    assert_int_equal(access(p, F_OK), 0);
    assert_int_equal(spool_count(s), 1);
    assert_int_equal(spool_max_seq(s), 4);
    expect_peek(s, 4, 7);
    spool_close(s);
}

static void park_moves_batch_to_parked(void **state)
{
    fixture *f = *state;
    spool *s = NULL;
    assert_int_equal(spool_open(&s, f->dir, 1 << 20), 0);
    assert_int_equal(push(s, 1, 40), 0);
    assert_int_equal(push(s, 2, 40), 0);
    assert_int_equal(spool_park(s, 1), 0);
    assert_false(file_exists(f->dir, NULL, 1));
    assert_true(file_exists(f->dir, "parked", 1));
    assert_int_equal(spool_count(s), 1);
    assert_int_equal(spool_bytes(s), 40);
    expect_peek(s, 2, 40);
    assert_int_equal(spool_park(s, 1), -ENOENT);
    /* Data that never entered the queue. */
    assert_int_equal(spool_park_data(s, 77, "raw", 3), 0);
    assert_true(file_exists(f->dir, "parked", 77));
    assert_int_equal(spool_count(s), 1);
    spool_close(s);
    /* Parked batches are not picked up again. */
    assert_int_equal(spool_open(&s, f->dir, 1 << 20), 0);
    assert_int_equal(spool_count(s), 1);
    expect_peek(s, 2, 40);
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/parked/%020d.rw", f->dir, 1);
    FILE *fp = fopen(p, "r");
    assert_non_null(fp);
    char head[8] = {0};
    assert_int_equal(fread(head, 1, 7, fp), 7);
    fclose(fp);
    assert_string_equal(head, "batch-1");
    spool_close(s);
}

static void unreadable_batch_is_dropped_and_next_is_served(void **state)
{
    fixture *f = *state;
    spool *s = NULL;
    assert_int_equal(spool_open(&s, f->dir, 1 << 20), 0);
    assert_int_equal(push(s, 1, 10), 0);
    assert_int_equal(push(s, 2, 10), 0);
    /* Someone deleted the file behind the spool's back. */
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%020d.rw", f->dir, 1);
    assert_int_equal(unlink(p), 0);
    buf out;
    buf_init(&out, 0);
    uint64_t seq = 0;
    int rc = spool_peek(s, &out, &seq);
    assert_true(rc < 0); /* here -ENOENT from the read, so callers loop on spool_count */
    assert_int_equal(spool_count(s), 1);
    assert_int_equal(spool_bytes(s), 10);
    assert_int_equal(spool_peek(s, &out, &seq), 0);
    assert_int_equal(seq, 2);
    buf_free(&out);
    spool_close(s);
}

static void empty_batch_is_a_valid_batch(void **state)
{
    fixture *f = *state;
    spool *s = NULL;
    assert_int_equal(spool_open(&s, f->dir, 100), 0);
    assert_int_equal(spool_push(s, 1, "", 0), 0);
    assert_int_equal(spool_count(s), 1);
    buf out;
    buf_init(&out, 0);
    buf_puts(&out, "stale contents");
    uint64_t seq = 0;
    assert_int_equal(spool_peek(s, &out, &seq), 0);
    assert_int_equal(seq, 1);
    assert_int_equal(out.len, 0); /* peek resets the buffer first */
    buf_free(&out);
    spool_close(s);
}

static void open_under_allocation_failure(void **state)
{
    fixture *f = *state;
    spool *s = NULL;
    assert_int_equal(spool_open(&s, f->dir, 1 << 20), 0);
    for (uint64_t seq = 1; seq <= 3; seq++)
        assert_int_equal(push(s, seq, 10), 0);
    spool_close(s);
    int ok = 0;
    for (long n = 0; n < 10 && !ok; n++) {
        s = (spool *)1;
        mem_fail_after(n);
        int rc = spool_open(&s, f->dir, 1 << 20);
        mem_fail_after(-1);
        assert_true(rc == 0 || rc == -ENOMEM);
        if (rc == 0) {
            ok = 1;
            assert_int_equal(spool_count(s), 3);
            spool_close(s);
        }
    }
    assert_true(ok);
}

int main(void)
{
    log_set_level(LOG_ERROR); /* the spool logs drops and recoveries at info/warn */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(open_creates_dirs_and_starts_empty),
        T(open_fails_on_a_file_in_the_way),
        T(push_peek_remove_in_seq_order),
        T(smaller_seq_pushed_later_comes_out_first),
        T(remove_out_of_order_keeps_the_rest),
        T(long_queue_with_interleaved_consumption),
        T(cap_drops_oldest_and_counts_them),
        T(batch_larger_than_cap_is_refused),
        T(reopen_picks_up_earlier_batches),
        T(reopen_applies_cap_to_new_pushes),
        T(open_deletes_tmp_leftovers_and_ignores_strangers),
        T(park_moves_batch_to_parked),
        T(unreadable_batch_is_dropped_and_next_is_served),
        T(empty_batch_is_a_valid_batch),
        T(open_under_allocation_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
