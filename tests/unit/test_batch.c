/* test_batch: adding, finding and resetting samples, the instance/job labels, refusal of bad
 * names (leaving the batch intact), empty label values, and that an encoded batch decodes with
 * rw_decode to the same series, sorted, at the batch's timestamp. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/batch.h"
#include "lib/buf.h"
#include "lib/labels.h"
#include "lib/mem.h"
#include "lib/sample.h"
#include "wire/rw.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})
#define T0 1732380000000LL

static int setup(void **state)
{
    batch *b = NULL;
    if (batch_new(&b, "host:9100", "node"))
        return -1;
    batch_reset(b, T0);
    *state = b;
    return 0;
}

static int teardown(void **state)
{
    batch_free(*state);
    return 0;
}

/* Encodes b and decodes the body; the caller frees the request. */
static rw_request *round_trip(const batch *b)
{
    buf body;
    buf_init(&body, 0);
    assert_int_equal(batch_encode(b, &body), 0);
    rw_request *r = NULL;
    char err[256] = "";
    int rc = rw_decode(body.data, body.len, 64u << 20, &r, err, sizeof err);
    if (rc)
        fail_msg("rw_decode: %d %s", rc, err);
    buf_free(&body);
    return r;
}

static void new_batch_is_empty_and_free_accepts_null(void **state)
{
    batch *b = *state;
    assert_int_equal(batch_count(b), 0);
    assert_true(batch_time(b) == T0);
    double v;
    assert_false(batch_find(b, "up", NULL, &v));
    batch_free(NULL);
}

static void add_and_find_with_and_without_labels(void **state)
{
    batch *b = *state;
    assert_int_equal(batch_add(b, "up", NULL, 1), 0);
    assert_int_equal(batch_add(b, "node_cpu_seconds_total", L("cpu", "0", "mode", "idle"), 12.5),
                     0);
    assert_int_equal(batch_add(b, "node_cpu_seconds_total", L("cpu", "0", "mode", "user"), 3.25),
                     0);
    assert_int_equal(batch_add(b, "node_cpu_seconds_total", L("cpu", "1", "mode", "idle"), 7), 0);
    assert_int_equal(batch_count(b), 4);
    double v = 0;
    assert_true(batch_find(b, "up", NULL, &v));
    assert_true(v == 1);
    assert_true(batch_find(b, "node_cpu_seconds_total", L("cpu", "0", "mode", "user"), &v));
    assert_true(v == 3.25);
    /* Label order in the query does not matter. */
    assert_true(batch_find(b, "node_cpu_seconds_total", L("mode", "idle", "cpu", "1"), &v));
    assert_true(v == 7);
    /* A subset or a superset of the labels is a different series. */
    assert_false(batch_find(b, "node_cpu_seconds_total", L("cpu", "0"), &v));
    assert_false(
        batch_find(b, "node_cpu_seconds_total", L("cpu", "0", "mode", "idle", "x", "y"), &v));
    assert_false(batch_find(b, "node_cpu_seconds_total", L("cpu", "2", "mode", "idle"), &v));
    assert_false(batch_find(b, "node_cpu_seconds", L("cpu", "0", "mode", "idle"), &v));
    assert_false(batch_find(b, "up", L("cpu", "0"), &v));
}

static void reset_empties_and_restamps(void **state)
{
    batch *b = *state;
    assert_int_equal(batch_add(b, "a", L("x", "1"), 1), 0);
    assert_int_equal(batch_add(b, "b", NULL, 2), 0);
    batch_reset(b, T0 + 15000);
    assert_int_equal(batch_count(b), 0);
    assert_true(batch_time(b) == T0 + 15000);
    double v;
    assert_false(batch_find(b, "a", L("x", "1"), &v));
    assert_false(batch_find(b, "b", NULL, &v));
    /* Reused round after round; nothing of the old round leaks into the new one. */
    for (int round = 0; round < 5; round++) {
        batch_reset(b, T0 + round);
        for (int i = 0; i < 100; i++) {
            char val[16];
            snprintf(val, sizeof val, "%d", i);
            assert_int_equal(batch_add(b, "m", L("i", val), round * 1000 + i), 0);
        }
        assert_int_equal(batch_count(b), 100);
        assert_true(batch_find(b, "m", L("i", "42"), &v));
        assert_true(v == round * 1000 + 42);
    }
    rw_request *r = round_trip(b);
    assert_int_equal(r->nseries, 100);
    for (size_t i = 0; i < r->nseries; i++)
        assert_true(r->series[i].samples[0].t == T0 + 4);
    rw_request_free(r);
}

static void bad_names_are_refused_and_leave_batch_intact(void **state)
{
    batch *b = *state;
    assert_int_equal(batch_add(b, "good", L("a", "1"), 1), 0);
    static const char *bad_metrics[] = {"", "9lives", "has-dash", "has space", "dot.ted", "ü"};
    for (size_t i = 0; i < sizeof bad_metrics / sizeof bad_metrics[0]; i++)
        if (batch_add(b, bad_metrics[i], NULL, 1) != -EINVAL)
            fail_msg("metric \"%s\" accepted", bad_metrics[i]);
    assert_int_equal(batch_add(b, NULL, NULL, 1), -EINVAL);
    /* Colons are fine in metric names (recording rules), not in label names. */
    assert_int_equal(batch_add(b, "job:rate:sum", NULL, 2), 0);
    static const char *bad_labels[] = {"", "9a", "a-b", "a:b", "a b", "ä"};
    for (size_t i = 0; i < sizeof bad_labels / sizeof bad_labels[0]; i++)
        if (batch_add(b, "m", L("ok", "1", bad_labels[i], "v"), 1) != -EINVAL)
            fail_msg("label name \"%s\" accepted", bad_labels[i]);
    /* A name without a value (odd-length list). */
    const char *odd[] = {"a", NULL};
    assert_int_equal(batch_add(b, "m", odd, 1), -EINVAL);
    assert_int_equal(batch_count(b), 2);
    /* The refused adds left nothing behind: the batch encodes to exactly the two good series. */
    rw_request *r = round_trip(b);
    assert_int_equal(r->nseries, 2);
    assert_string_equal(labels_get(&r->series[0].ls, "__name__"), "good");
    assert_string_equal(labels_get(&r->series[0].ls, "a"), "1");
    assert_int_equal(r->series[0].ls.n, 4);
    assert_string_equal(labels_get(&r->series[1].ls, "__name__"), "job:rate:sum");
    rw_request_free(r);
}

static void too_many_labels_are_refused(void **state)
{
    batch *b = *state;
    static char names[60][8];
    const char *kv[2 * 60 + 1];
    for (int i = 0; i < 60; i++) {
        snprintf(names[i], sizeof names[i], "l%02d", i);
        kv[2 * i] = names[i];
        kv[2 * i + 1] = "v";
    }
    kv[120] = NULL; /* 60 + __name__, instance, job: over the batch's 48 */
    assert_int_equal(batch_add(b, "m", kv, 1), -EINVAL);
    assert_int_equal(batch_count(b), 0);
    /* A modest set (well under LABELS_MAX with instance and job) is fine. */
    kv[2 * 10] = NULL;
    assert_int_equal(batch_add(b, "m", kv, 1), 0);
    rw_request *r = round_trip(b);
    assert_int_equal(r->series[0].ls.n, 10 + 3);
    rw_request_free(r);
}

static void duplicate_label_names_are_refused(void **state)
{
    batch *b = *state;
    /* A set with a name twice cannot be encoded into a valid series (the server would refuse
     * the whole batch), so batch_add must refuse it up front. */
    assert_int_equal(batch_add(b, "m", L("a", "1", "a", "2"), 1), -EINVAL);
    assert_int_equal(batch_add(b, "m", L("__name__", "other"), 1), -EINVAL);
    assert_int_equal(batch_count(b), 0);
    assert_int_equal(batch_add(b, "m", L("a", "1"), 1), 0);
    rw_request *r = round_trip(b);
    assert_int_equal(r->nseries, 1);
    rw_request_free(r);
}

static void empty_label_values_are_dropped(void **state)
{
    batch *b = *state;
    assert_int_equal(batch_add(b, "m", L("a", "", "b", "2", "c", ""), 5), 0);
    double v;
    /* Found with or without the empty labels: they do not exist. */
    assert_true(batch_find(b, "m", L("b", "2"), &v));
    assert_true(v == 5);
    assert_true(batch_find(b, "m", L("a", "", "b", "2"), &v));
    assert_false(batch_find(b, "m", NULL, &v));
    rw_request *r = round_trip(b);
    assert_int_equal(r->nseries, 1);
    const labels *ls = &r->series[0].ls;
    assert_int_equal(ls->n, 4); /* __name__, b, instance, job */
    assert_null(labels_get(ls, "a"));
    assert_null(labels_get(ls, "c"));
    rw_request_free(r);
}

static void encode_adds_instance_job_sorted_at_batch_time(void **state)
{
    batch *b = *state;
    assert_int_equal(batch_add(b, "zz_last", L("zone", "z", "app", "a"), 1), 0);
    assert_int_equal(batch_add(b, "aa_first", NULL, NAN), 0);
    assert_int_equal(batch_add(b, "stale", NULL, sample_stale_value()), 0);
    assert_int_equal(batch_add(b, "inf", L("sign", "neg"), -INFINITY), 0);
    rw_request *r = round_trip(b);
    assert_int_equal(r->nseries, 4);
    assert_int_equal(r->nsamples, 4);
    for (size_t i = 0; i < r->nseries; i++) {
        const rw_series *s = &r->series[i];
        assert_int_equal(s->nsamples, 1);
        assert_true(s->samples[0].t == T0);
        assert_string_equal(labels_get(&s->ls, "instance"), "host:9100");
        assert_string_equal(labels_get(&s->ls, "job"), "node");
        /* Sorted by name within the series. */
        for (size_t j = 1; j < s->ls.n; j++)
            assert_true(strcmp(s->ls.v[j - 1].name, s->ls.v[j].name) < 0);
    }
    /* Series keep the order they were added in, with their values. */
    const rw_series *s0 = &r->series[0];
    assert_string_equal(labels_get(&s0->ls, "__name__"), "zz_last");
    assert_string_equal(s0->ls.v[0].name, "__name__");
    assert_string_equal(s0->ls.v[1].name, "app");
    assert_string_equal(s0->ls.v[2].name, "instance");
    assert_string_equal(s0->ls.v[3].name, "job");
    assert_string_equal(s0->ls.v[4].name, "zone");
    assert_true(isnan(r->series[1].samples[0].v));
    assert_false(sample_is_stale(r->series[1].samples[0].v));
    assert_true(sample_is_stale(r->series[2].samples[0].v));
    assert_true(r->series[3].samples[0].v == -INFINITY);
    rw_request_free(r);
}

static void collector_instance_and_job_win(void **state)
{
    batch *b = *state;
    assert_int_equal(
        batch_add(b, "probe_success", L("instance", "https://x", "job", "blackbox"), 1), 0);
    rw_request *r = round_trip(b);
    const labels *ls = &r->series[0].ls;
    assert_int_equal(ls->n, 3);
    assert_string_equal(labels_get(ls, "instance"), "https://x");
    assert_string_equal(labels_get(ls, "job"), "blackbox");
    rw_request_free(r);
}

static void many_samples_round_trip(void **state)
{
    batch *b = *state;
    enum { N = 20000 };
    char v1[16], v2[16];
    for (int i = 0; i < N; i++) {
        snprintf(v1, sizeof v1, "%d", i % 100);
        snprintf(v2, sizeof v2, "dev%d", i / 100);
        assert_int_equal(batch_add(b, "node_metric", L("cpu", v1, "device", v2), i * 0.5), 0);
    }
    assert_int_equal(batch_count(b), N);
    double v;
    assert_true(batch_find(b, "node_metric", L("cpu", "37", "device", "dev123"), &v));
    assert_true(v == 12337 * 0.5);
    rw_request *r = round_trip(b);
    assert_int_equal(r->nseries, N);
    for (size_t i = 0; i < N; i += 997) {
        snprintf(v1, sizeof v1, "%zu", i % 100);
        snprintf(v2, sizeof v2, "dev%zu", i / 100);
        assert_string_equal(labels_get(&r->series[i].ls, "cpu"), v1);
        assert_string_equal(labels_get(&r->series[i].ls, "device"), v2);
        assert_true(r->series[i].samples[0].v == i * 0.5);
    }
    rw_request_free(r);
}

static void format_writes_exposition_lines(void **state)
{
    batch *b = *state;
    assert_int_equal(batch_add(b, "up", NULL, 1), 0);
    assert_int_equal(batch_add(b, "m", L("path", "a\"b\\c\nd"), 2.5), 0);
    assert_int_equal(batch_add(b, "n", NULL, NAN), 0);
    assert_int_equal(batch_add(b, "p", NULL, INFINITY), 0);
    assert_int_equal(batch_add(b, "q", NULL, -INFINITY), 0);
    buf out;
    buf_init(&out, 0);
    assert_int_equal(batch_format(b, &out), 0);
    assert_string_equal(out.data, "up{instance=\"host:9100\",job=\"node\"} 1 1732380000000\n"
                                  "m{instance=\"host:9100\",job=\"node\",path=\"a\\\"b\\\\c\\nd\"} "
                                  "2.5 1732380000000\n"
                                  "n{instance=\"host:9100\",job=\"node\"} NaN 1732380000000\n"
                                  "p{instance=\"host:9100\",job=\"node\"} +Inf 1732380000000\n"
                                  "q{instance=\"host:9100\",job=\"node\"} -Inf 1732380000000\n");
    buf_free(&out);
}

static void add_under_allocation_failure_keeps_batch_consistent(void **state)
{
    (void)state;
    int ok = 0;
    for (long n = 0; n < 20; n++) {
        batch *fresh = NULL;
        assert_int_equal(batch_new(&fresh, "i", "j"), 0);
        batch_reset(fresh, T0);
        mem_fail_after(n);
        int rc = batch_add(fresh, "m", L("a", "1", "b", "2"), 1);
        int rc2 = rc ? 0 : batch_add(fresh, "m2", NULL, 2);
        mem_fail_after(-1);
        assert_true(rc == 0 || rc == -ENOMEM);
        assert_true(rc2 == 0 || rc2 == -ENOMEM);
        size_t want = (rc == 0) + (rc == 0 && rc2 == 0);
        assert_int_equal(batch_count(fresh), want);
        /* Whatever went in encodes cleanly. */
        assert_int_equal(batch_add(fresh, "after", NULL, 3), 0);
        rw_request *r = round_trip(fresh);
        assert_int_equal(r->nseries, want + 1);
        rw_request_free(r);
        ok |= rc == 0 && rc2 == 0;
        batch_free(fresh);
    }
    assert_true(ok);
    /* batch_new itself. */
    for (long n = 0; n < 4; n++) {
        batch *x = (batch *)1;
        mem_fail_after(n);
        int rc = batch_new(&x, "i", "j");
        mem_fail_after(-1);
        assert_true(rc == 0 || rc == -ENOMEM);
        if (rc == 0)
            batch_free(x);
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(new_batch_is_empty_and_free_accepts_null),
        T(add_and_find_with_and_without_labels),
        T(reset_empties_and_restamps),
        T(bad_names_are_refused_and_leave_batch_intact),
        T(too_many_labels_are_refused),
        T(duplicate_label_names_are_refused),
        T(empty_label_values_are_dropped),
        T(encode_adds_instance_job_sorted_at_batch_time),
        T(collector_instance_and_job_win),
        T(many_samples_round_trip),
        T(format_writes_exposition_lines),
        T(add_under_allocation_failure_keeps_batch_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
