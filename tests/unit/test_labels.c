/* test_labels: canonical order, validation (names, duplicates, empty values, limits), the identity
 * hash, ordering, the text form with escapes, and deep copies (including allocation failure). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/labels.h"
#include "lib/mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LS(arr) ((labels){(arr), sizeof(arr) / sizeof((arr)[0])})

static void sort_orders_by_name_bytewise(void **state)
{
    (void)state;
    label v[] = {{"job", "j"}, {"__name__", "up"}, {"Zeta", "z"}, {"a", "1"},
                 {"_x", "2"},  {"instance", "i"},  {"A", "3"}};
    labels ls = LS(v);
    labels_sort(&ls);
    /* Byte order: uppercase < '_' < lowercase. */
    const char *want[] = {"A", "Zeta", "__name__", "_x", "a", "instance", "job"};
    for (size_t i = 0; i < ls.n; i++)
        assert_string_equal(ls.v[i].name, want[i]);
    /* Values travel with their names. */
    assert_string_equal(labels_get(&ls, "__name__"), "up");
    assert_string_equal(labels_get(&ls, "A"), "3");
}

static void sort_handles_empty_single_and_sorted_sets(void **state)
{
    (void)state;
    labels none = {NULL, 0};
    labels_sort(&none);
    label one[] = {{"a", "1"}};
    labels l1 = LS(one);
    labels_sort(&l1);
    assert_string_equal(l1.v[0].name, "a");
    label sorted[] = {{"a", "1"}, {"b", "2"}, {"c", "3"}};
    labels l3 = LS(sorted);
    labels_sort(&l3);
    assert_string_equal(l3.v[0].name, "a");
    assert_string_equal(l3.v[2].name, "c");
    label rev[] = {{"e", "5"}, {"d", "4"}, {"c", "3"}, {"b", "2"}, {"a", "1"}};
    labels l5 = LS(rev);
    labels_sort(&l5);
    for (size_t i = 0; i < 5; i++) {
        char want[2] = {(char)('a' + i), 0};
        assert_string_equal(l5.v[i].name, want);
        assert_int_equal(l5.v[i].value[0], '1' + (int)i);
    }
}

static void valid_name_table(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int label_ok, metric_ok;
    } cases[] = {
        {"a", 1, 1},        {"_", 1, 1},
        {"__name__", 1, 1}, {"abc_DEF_123", 1, 1},
        {"A9", 1, 1},       {"9a", 0, 0},
        {"", 0, 0},         {"a-b", 0, 0},
        {"a.b", 0, 0},      {"a b", 0, 0},
        {"ä", 0, 0},        {"a:b", 0, 1},
        {":a", 0, 1},       {"job:rate5m:sum", 0, 1},
        {"a\n", 0, 0},      {"a\"", 0, 0},
        {"a{", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (labels_valid_name(cases[i].s) != cases[i].label_ok)
            fail_msg("labels_valid_name(\"%s\") != %d", cases[i].s, cases[i].label_ok);
        if (labels_valid_metric_name(cases[i].s) != cases[i].metric_ok)
            fail_msg("labels_valid_metric_name(\"%s\") != %d", cases[i].s, cases[i].metric_ok);
    }
    assert_false(labels_valid_name(NULL));
    assert_false(labels_valid_metric_name(NULL));
}

static void validate_accepts_good_sets(void **state)
{
    (void)state;
    char err[256] = "";
    label v1[] = {{"__name__", "up"}};
    labels l1 = LS(v1);
    assert_int_equal(labels_validate(&l1, err, sizeof err), 0);
    label v2[] = {{"__name__", "node:cpu:rate5m"}, {"instance", "h:9100"}, {"job", "node"}};
    labels l2 = LS(v2);
    assert_int_equal(labels_validate(&l2, err, sizeof err), 0);
    /* A set without __name__ is a valid label set (the caller decides if it needs one). */
    label v3[] = {{"a", "1"}, {"b", "2"}};
    labels l3 = LS(v3);
    assert_int_equal(labels_validate(&l3, err, sizeof err), 0);
    /* Values may hold anything but NUL. */
    label v4[] = {{"__name__", "x"}, {"v", "ünïcode \"quoted\" \\ \n{}"}};
    labels l4 = LS(v4);
    assert_int_equal(labels_validate(&l4, err, sizeof err), 0);
}

static void validate_rejects_bad_sets_with_reason(void **state)
{
    (void)state;
    static const struct {
        const char *n1, *v1, *n2, *v2;
        const char *why;
    } cases[] = {
        {"__name__", "9up", NULL, NULL, "invalid metric name"},
        {"__name__", "up-down", NULL, NULL, "invalid metric name"},
        {"__name__", "up", "a-b", "1", "invalid label name"},
        {"__name__", "up", "a:b", "1", "invalid label name"},
        {"__name__", "up", "1a", "1", "invalid label name"},
        {"__name__", "up", "", "1", "invalid label name"},
        {"__name__", "up", "job", "", "empty value"},
        {"__name__", "", NULL, NULL, "invalid metric name"},
        {"a", "1", "a", "2", "duplicated"},
        {"b", "1", "a", "2", "out of order"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        label v[2] = {{cases[i].n1, cases[i].v1}, {cases[i].n2, cases[i].v2}};
        labels ls = {v, cases[i].n2 ? 2 : 1};
        char err[256] = "";
        int rc = labels_validate(&ls, err, sizeof err);
        if (rc != -EINVAL)
            fail_msg("case %zu: rc %d, want -EINVAL", i, rc);
        if (!strstr(err, cases[i].why))
            fail_msg("case %zu: error \"%s\" does not mention \"%s\"", i, err, cases[i].why);
    }
}

static void validate_rejects_empty_and_null_members(void **state)
{
    (void)state;
    char err[256];
    labels none = {NULL, 0};
    assert_int_equal(labels_validate(&none, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "no labels"));
    label v[] = {{"a", NULL}};
    labels l = LS(v);
    assert_int_equal(labels_validate(&l, err, sizeof err), -EINVAL);
    label w[] = {{NULL, "x"}};
    labels l2 = LS(w);
    assert_int_equal(labels_validate(&l2, err, sizeof err), -EINVAL);
}

static void validate_enforces_size_limits(void **state)
{
    (void)state;
    char err[256];
    /* LABELS_MAX labels are fine, one more is not. */
    static char names[LABELS_MAX + 1][8];
    label v[LABELS_MAX + 1];
    for (int i = 0; i <= LABELS_MAX; i++) {
        snprintf(names[i], sizeof names[i], "l%03d", i);
        v[i] = (label){names[i], "v"};
    }
    labels ls = {v, LABELS_MAX};
    assert_int_equal(labels_validate(&ls, err, sizeof err), 0);
    ls.n = LABELS_MAX + 1;
    assert_int_equal(labels_validate(&ls, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "limit"));

    /* Name and value lengths: exactly at the limit passes, one byte over fails. */
    static char name[LABELS_MAX_NAME + 2], value[LABELS_MAX_VALUE + 2];
    memset(name, 'n', LABELS_MAX_NAME);
    name[LABELS_MAX_NAME] = '\0';
    memset(value, 'v', LABELS_MAX_VALUE);
    value[LABELS_MAX_VALUE] = '\0';
    label one[] = {{name, value}};
    labels l1 = LS(one);
    assert_int_equal(labels_validate(&l1, err, sizeof err), 0);
    name[LABELS_MAX_NAME] = 'n';
    name[LABELS_MAX_NAME + 1] = '\0';
    assert_int_equal(labels_validate(&l1, err, sizeof err), -EINVAL);
    name[LABELS_MAX_NAME] = '\0';
    value[LABELS_MAX_VALUE] = 'v';
    value[LABELS_MAX_VALUE + 1] = '\0';
    assert_int_equal(labels_validate(&l1, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "too long"));
}

static void validate_truncates_error_into_small_buffer(void **state)
{
    (void)state;
    char err[8];
    memset(err, 'X', sizeof err);
    label v[] = {{"__name__", "9-bad-metric-name-that-is-long"}};
    labels l = LS(v);
    assert_int_equal(labels_validate(&l, err, sizeof err), -EINVAL);
    assert_int_equal(strlen(err), sizeof err - 1);
}

static void get_finds_values_and_misses(void **state)
{
    (void)state;
    label v[] = {{"__name__", "up"}, {"job", "node"}};
    labels ls = LS(v);
    assert_string_equal(labels_get(&ls, "job"), "node");
    assert_string_equal(labels_get(&ls, "__name__"), "up");
    assert_null(labels_get(&ls, "jo"));
    assert_null(labels_get(&ls, "jobs"));
    assert_null(labels_get(&ls, ""));
    labels none = {NULL, 0};
    assert_null(labels_get(&none, "job"));
}

static void hash_is_stable_and_separates_boundaries(void **state)
{
    (void)state;
    label a[] = {{"a", "bc"}};
    label b[] = {{"ab", "c"}};
    label c[] = {{"a", "b"}, {"c", "d"}};
    label d[] = {{"a", "bc"}, {"d", ""}};
    label a2[] = {{"a", "bc"}};
    labels la = LS(a), lb = LS(b), lc = LS(c), ld = LS(d), la2 = LS(a2);
    assert_true(labels_hash(&la) == labels_hash(&la2));
    assert_true(labels_hash(&la) != labels_hash(&lb));
    assert_true(labels_hash(&la) != labels_hash(&lc));
    assert_true(labels_hash(&la) != labels_hash(&ld));
    labels none = {NULL, 0};
    /* The empty set hashes to the FNV offset basis. */
    assert_true(labels_hash(&none) == 1469598103934665603ULL);
    /* Values differ only in one byte. */
    label e1[] = {{"__name__", "up"}, {"instance", "host:9100"}};
    label e2[] = {{"__name__", "up"}, {"instance", "host:9101"}};
    labels le1 = LS(e1), le2 = LS(e2);
    assert_true(labels_hash(&le1) != labels_hash(&le2));
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void hash_has_no_collisions_over_many_sets(void **state)
{
    (void)state;
    enum { N = 20000 };
    static uint64_t h[N];
    char val[32];
    for (int i = 0; i < N; i++) {
        snprintf(val, sizeof val, "%d", i);
        label v[] = {{"__name__", "m"}, {"id", val}};
        labels ls = LS(v);
        h[i] = labels_hash(&ls);
    }
    /* Any collision among 20k small sets would point at a broken hash. */
    qsort(h, N, sizeof h[0], u64_cmp);
    for (int i = 1; i < N; i++)
        assert_true(h[i - 1] != h[i]);
}

static int sgn(int x)
{
    return (x > 0) - (x < 0);
}

static void cmp_orders_like_prometheus(void **state)
{
    (void)state;
    label a[] = {{"__name__", "a"}, {"job", "x"}};
    label b[] = {{"__name__", "a"}, {"job", "y"}};
    label c[] = {{"__name__", "a"}};
    label d[] = {{"__name__", "b"}};
    label e[] = {{"__name__", "a"}, {"instance", "z"}};
    label a2[] = {{"__name__", "a"}, {"job", "x"}};
    labels la = LS(a), lb = LS(b), lc = LS(c), ld = LS(d), le = LS(e), la2 = LS(a2);
    labels none = {NULL, 0};
    struct {
        labels *x, *y;
        int want;
    } cases[] = {
        {&la, &la2, 0}, {&la, &lb, -1}, {&lb, &la, 1},  {&lc, &la, -1},   {&la, &lc, 1},
        {&lc, &ld, -1}, {&la, &ld, -1}, {&le, &la, -1}, {&none, &lc, -1}, {&none, &none, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (sgn(labels_cmp(cases[i].x, cases[i].y)) != cases[i].want)
            fail_msg("case %zu: cmp gave %d, want %d", i, labels_cmp(cases[i].x, cases[i].y),
                     cases[i].want);
}

static void format_writes_canonical_text_with_escapes(void **state)
{
    (void)state;
    static const struct {
        label v[4];
        size_t n;
        const char *want;
    } cases[] = {
        {{{"__name__", "up"}, {"instance", "h:1"}, {"job", "n"}},
         3,
         "up{instance=\"h:1\",job=\"n\"}"},
        {{{"__name__", "up"}}, 1, "up{}"},
        {{{"a", "1"}, {"b", "2"}}, 2, "{a=\"1\",b=\"2\"}"},
        {{{"a", "q\"uote"}}, 1, "{a=\"q\\\"uote\"}"},
        {{{"a", "back\\slash"}}, 1, "{a=\"back\\\\slash\"}"},
        {{{"a", "new\nline"}}, 1, "{a=\"new\\nline\"}"},
        {{{"a", "tab\there"}}, 1, "{a=\"tab\there\"}"},
        {{{"a", "ünï"}}, 1, "{a=\"ünï\"}"},
        {{{"__name__", "m"}, {"a", "\\\"\n"}}, 2, "m{a=\"\\\\\\\"\\n\"}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf b;
        buf_init(&b, 0);
        labels ls = {(label *)cases[i].v, cases[i].n};
        assert_int_equal(labels_format(&ls, &b), 0);
        if (strcmp(b.data, cases[i].want) != 0)
            fail_msg("case %zu: got %s, want %s", i, b.data, cases[i].want);
        buf_free(&b);
    }
}

static void format_appends_and_reports_cap(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 12);
    buf_puts(&b, ">");
    label v[] = {{"__name__", "up"}};
    labels ls = LS(v);
    assert_int_equal(labels_format(&ls, &b), 0);
    assert_string_equal(b.data, ">up{}");
    label w[] = {{"__name__", "up"}, {"job", "long-value"}};
    labels lw = LS(w);
    assert_int_equal(labels_format(&lw, &b), -E2BIG);
    assert_int_equal(b.err, -E2BIG);
    buf_free(&b);
}

static void clone_is_deep_and_one_allocation(void **state)
{
    (void)state;
    char n1[] = "__name__", v1[] = "up", n2[] = "job", v2[] = "node";
    label v[] = {{n1, v1}, {n2, v2}};
    labels src = LS(v), dst = {NULL, 0};
    unsigned long before = mem_allocations();
    assert_int_equal(labels_clone(&src, &dst), 0);
    assert_int_equal(mem_allocations() - before, 1);
    assert_int_equal(dst.n, 2);
    /* Scribble over the source: the copy must not change. */
    memset(v1, 'X', 2);
    memset(v2, 'Y', 4);
    assert_string_equal(dst.v[0].name, "__name__");
    assert_string_equal(dst.v[0].value, "up");
    assert_string_equal(dst.v[1].name, "job");
    assert_string_equal(dst.v[1].value, "node");
    assert_true(dst.v[0].value != v1);
    /* The copy keeps the hash of the original. */
    label orig[] = {{"__name__", "up"}, {"job", "node"}};
    labels lo = LS(orig);
    assert_true(labels_hash(&dst) == labels_hash(&lo));
    assert_int_equal(labels_cmp(&dst, &lo), 0);
    mem_free(dst.v);

    labels none = {NULL, 0}, dn;
    assert_int_equal(labels_clone(&none, &dn), 0);
    assert_int_equal(dn.n, 0);
    mem_free(dn.v);
}

static void clone_reports_enomem(void **state)
{
    (void)state;
    label v[] = {{"a", "1"}};
    labels src = LS(v), dst = {NULL, 0};
    mem_fail_after(0);
    int rc = labels_clone(&src, &dst);
    mem_fail_after(-1);
    assert_int_equal(rc, -ENOMEM);
    assert_null(dst.v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sort_orders_by_name_bytewise),
        cmocka_unit_test(sort_handles_empty_single_and_sorted_sets),
        cmocka_unit_test(valid_name_table),
        cmocka_unit_test(validate_accepts_good_sets),
        cmocka_unit_test(validate_rejects_bad_sets_with_reason),
        cmocka_unit_test(validate_rejects_empty_and_null_members),
        cmocka_unit_test(validate_enforces_size_limits),
        cmocka_unit_test(validate_truncates_error_into_small_buffer),
        cmocka_unit_test(get_finds_values_and_misses),
        cmocka_unit_test(hash_is_stable_and_separates_boundaries),
        cmocka_unit_test(hash_has_no_collisions_over_many_sets),
        cmocka_unit_test(cmp_orders_like_prometheus),
        cmocka_unit_test(format_writes_canonical_text_with_escapes),
        cmocka_unit_test(format_appends_and_reports_cap),
        cmocka_unit_test(clone_is_deep_and_one_allocation),
        cmocka_unit_test(clone_reports_enomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
