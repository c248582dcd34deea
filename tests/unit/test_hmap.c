/* test_hmap: put/get/replace/delete, binary keys, deletion under heavy collisions (backward
 * shift), random churn checked against a shadow array, iteration, and allocation failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/hmap.h"
#include "lib/mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;

static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static void shuffle(size_t *v, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(rng() % i);
        size_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

/* The value stored for key i: a non-NULL pointer that encodes i. */
#define VAL(i) ((void *)(uintptr_t)((i) + 1))

static void key_of(size_t i, char *k, size_t cap)
{
    snprintf(k, cap, "key-%zu", i);
}

static void empty_map_answers_null(void **state)
{
    (void)state;
    hmap m;
    hmap_init(&m);
    assert_null(hmap_get(&m, "a", 1));
    assert_null(hmap_del(&m, "a", 1));
    size_t pos = 0;
    assert_null(hmap_next(&m, &pos));
    assert_int_equal(m.len, 0);
    hmap_free(&m);
    hmap_free(&m);
    hmap_free(NULL);
}

static void put_get_replace_del(void **state)
{
    (void)state;
    hmap m;
    hmap_init(&m);
    int a = 1, b = 2, c = 3;
    assert_int_equal(hmap_put(&m, "alpha", 5, &a), 0);
    assert_int_equal(hmap_put(&m, "beta", 4, &b), 0);
    assert_int_equal(m.len, 2);
    assert_ptr_equal(hmap_get(&m, "alpha", 5), &a);
    assert_ptr_equal(hmap_get(&m, "beta", 4), &b);
    /* Prefixes and extensions are different keys. */
    assert_null(hmap_get(&m, "alph", 4));
    assert_null(hmap_get(&m, "alphas", 6));
    /* Replace keeps the count. */
    assert_int_equal(hmap_put(&m, "alpha", 5, &c), 0);
    assert_int_equal(m.len, 2);
    assert_ptr_equal(hmap_get(&m, "alpha", 5), &c);
    assert_ptr_equal(hmap_del(&m, "alpha", 5), &c);
    assert_int_equal(m.len, 1);
    assert_null(hmap_get(&m, "alpha", 5));
    assert_null(hmap_del(&m, "alpha", 5));
    assert_ptr_equal(hmap_get(&m, "beta", 4), &b);
    hmap_free(&m);
}

static void keys_are_copied(void **state)
{
    (void)state;
    hmap m;
    hmap_init(&m);
    char k[16] = "volatile";
    assert_int_equal(hmap_put(&m, k, strlen(k), VAL(1)), 0);
    memset(k, 'x', 8);
    assert_ptr_equal(hmap_get(&m, "volatile", 8), VAL(1));
    assert_null(hmap_get(&m, "xxxxxxxx", 8));
    hmap_free(&m);
}

static void binary_and_empty_keys(void **state)
{
    (void)state;
    hmap m;
    hmap_init(&m);
    const char k1[] = {'a', 0, 'b'}, k2[] = {'a', 0, 'c'}, k3[] = {'a'};
    assert_int_equal(hmap_put(&m, k1, 3, VAL(1)), 0);
    assert_int_equal(hmap_put(&m, k2, 3, VAL(2)), 0);
    assert_int_equal(hmap_put(&m, k3, 1, VAL(3)), 0);
    assert_int_equal(hmap_put(&m, "", 0, VAL(4)), 0);
    assert_int_equal(m.len, 4);
    assert_ptr_equal(hmap_get(&m, k1, 3), VAL(1));
    assert_ptr_equal(hmap_get(&m, k2, 3), VAL(2));
    assert_ptr_equal(hmap_get(&m, k3, 1), VAL(3));
    assert_ptr_equal(hmap_get(&m, "", 0), VAL(4));
    /* The stored key is NUL-terminated after klen bytes. */
    size_t pos = 0;
    hmap_entry *e;
    while ((e = hmap_next(&m, &pos)))
        assert_int_equal(e->key[e->klen], '\0');
    assert_ptr_equal(hmap_del(&m, "", 0), VAL(4));
    assert_null(hmap_get(&m, "", 0));
    assert_ptr_equal(hmap_get(&m, k3, 1), VAL(3));
    hmap_free(&m);
}

static void hash_is_deterministic_and_spreads(void **state)
{
    (void)state;
    assert_true(hmap_hash("abc", 3) == hmap_hash("abc", 3));
    assert_true(hmap_hash("abc", 3) != hmap_hash("abd", 3));
    assert_true(hmap_hash("abc", 3) != hmap_hash("abc", 2));
    /* Low bits (what linear probing uses) of sequential keys are spread over all 64 buckets. */
    int used[64] = {0};
    char k[32];
    for (size_t i = 0; i < 1024; i++) {
        key_of(i, k, sizeof k);
        used[hmap_hash(k, strlen(k)) & 63]++;
    }
    for (int i = 0; i < 64; i++)
        assert_true(used[i] > 0 && used[i] < 64);
}

static void ten_thousand_keys_delete_half_in_random_order(void **state)
{
    (void)state;
    enum { N = 10000 };
    hmap m;
    hmap_init(&m);
    char k[32];
    for (size_t i = 0; i < N; i++) {
        key_of(i, k, sizeof k);
        assert_int_equal(hmap_put(&m, k, strlen(k), VAL(i)), 0);
    }
    assert_int_equal(m.len, N);
    /* Load factor stays at or below 3/4 and capacity is a power of two. */
    assert_true(m.len * 4 <= m.cap * 3);
    assert_int_equal(m.cap & (m.cap - 1), 0);

    static size_t order[N];
    static unsigned char deleted[N];
    for (size_t i = 0; i < N; i++)
        order[i] = i;
    shuffle(order, N);
    for (size_t n = 0; n < N / 2; n++) {
        size_t i = order[n];
        key_of(i, k, sizeof k);
        assert_ptr_equal(hmap_del(&m, k, strlen(k)), VAL(i));
        deleted[i] = 1;
        /* Spot-check the survivors every few hundred deletions. */
        if (n % 500 == 0)
            for (size_t j = 0; j < N; j += 37) {
                key_of(j, k, sizeof k);
                void *v = hmap_get(&m, k, strlen(k));
                if (deleted[j] ? v != NULL : v != VAL(j))
                    fail_msg("after %zu deletions key %zu is wrong", n + 1, j);
            }
    }
    assert_int_equal(m.len, N / 2);
    for (size_t i = 0; i < N; i++) {
        key_of(i, k, sizeof k);
        void *v = hmap_get(&m, k, strlen(k));
        if (deleted[i] ? v != NULL : v != VAL(i))
            fail_msg("key %zu: got %p", i, v);
    }
    /* Iteration visits each surviving key exactly once. */
    static unsigned char seen[N];
    size_t pos = 0, count = 0;
    hmap_entry *e;
    while ((e = hmap_next(&m, &pos))) {
        size_t i = (size_t)((uintptr_t)e->value - 1);
        assert_true(i < N);
        assert_false(deleted[i]);
        assert_false(seen[i]);
        seen[i] = 1;
        key_of(i, k, sizeof k);
        assert_int_equal(e->klen, strlen(k));
        assert_memory_equal(e->key, k, e->klen);
        assert_true(e->hash == hmap_hash(k, strlen(k)));
        count++;
    }
    assert_int_equal(count, N / 2);
    /* Deleted keys can come back. */
    for (size_t i = 0; i < N; i++)
        if (deleted[i]) {
            key_of(i, k, sizeof k);
            assert_int_equal(hmap_put(&m, k, strlen(k), VAL(i + N)), 0);
        }
    assert_int_equal(m.len, N);
    for (size_t i = 0; i < N; i++) {
        key_of(i, k, sizeof k);
        assert_ptr_equal(hmap_get(&m, k, strlen(k)), deleted[i] ? VAL(i + N) : VAL(i));
    }
    hmap_free(&m);
}

/* Finds n distinct keys whose hash lands in home slot `slot` of a table of size cap. */
static void colliding_keys(size_t cap, size_t slot, size_t n, char keys[][32])
{
    size_t found = 0;
    for (size_t i = 0; found < n; i++) {
        char k[32];
        snprintf(k, sizeof k, "c%zu", i);
        if ((hmap_hash(k, strlen(k)) & (cap - 1)) == slot)
            memcpy(keys[found++], k, sizeof k);
    }
}

static void deletion_in_collision_chains_keeps_others_reachable(void **state)
{
    (void)state;
    /* Keys that share home slots 14 and 15 of a 16-slot table: their probe runs wrap around
     * the end of the table, the case backward-shift deletion gets wrong most easily. Keep the
     * map at 16 slots (at most 12 keys). */
    char a[6][32], b[5][32];
    colliding_keys(16, 15, 6, a);
    colliding_keys(16, 14, 5, b);
    for (int victim = 0; victim < 11; victim++) {
        for (int order = 0; order < 2; order++) {
            hmap m;
            hmap_init(&m);
            for (int i = 0; i < 11; i++) {
                int j = order ? 10 - i : i;
                const char *k = j < 6 ? a[j] : b[j - 6];
                assert_int_equal(hmap_put(&m, k, strlen(k), VAL((size_t)j)), 0);
            }
            assert_int_equal(m.cap, 16);
            const char *vk = victim < 6 ? a[victim] : b[victim - 6];
            assert_ptr_equal(hmap_del(&m, vk, strlen(vk)), VAL((size_t)victim));
            for (int j = 0; j < 11; j++) {
                const char *k = j < 6 ? a[j] : b[j - 6];
                void *v = hmap_get(&m, k, strlen(k));
                if (j == victim ? v != NULL : v != VAL((size_t)j))
                    fail_msg("victim %d order %d: key %d lost", victim, order, j);
            }
            /* Delete the rest one by one, checking reachability each time. */
            for (int d = 0; d < 11; d++) {
                if (d == victim)
                    continue;
                const char *k = d < 6 ? a[d] : b[d - 6];
                assert_ptr_equal(hmap_del(&m, k, strlen(k)), VAL((size_t)d));
                for (int j = d + 1; j < 11; j++) {
                    if (j == victim)
                        continue;
                    const char *kk = j < 6 ? a[j] : b[j - 6];
                    assert_ptr_equal(hmap_get(&m, kk, strlen(kk)), VAL((size_t)j));
                }
            }
            assert_int_equal(m.len, 0);
            hmap_free(&m);
        }
    }
}

static void random_churn_matches_shadow(void **state)
{
    (void)state;
    enum { K = 2000, OPS = 60000 };
    static void *shadow[K];
    memset(shadow, 0, sizeof shadow);
    hmap m;
    hmap_init(&m);
    size_t live = 0;
    char k[32];
    for (int op = 0; op < OPS; op++) {
        size_t i = (size_t)(rng() % K);
        key_of(i, k, sizeof k);
        switch (rng() % 3) {
        case 0:
        case 1: {
            void *v = VAL(i * 7 + (size_t)op);
            assert_int_equal(hmap_put(&m, k, strlen(k), v), 0);
            live += shadow[i] == NULL;
            shadow[i] = v;
            break;
        }
        default:
            assert_ptr_equal(hmap_del(&m, k, strlen(k)), shadow[i]);
            live -= shadow[i] != NULL;
            shadow[i] = NULL;
        }
        assert_int_equal(m.len, live);
    }
    for (size_t i = 0; i < K; i++) {
        key_of(i, k, sizeof k);
        assert_ptr_equal(hmap_get(&m, k, strlen(k)), shadow[i]);
    }
    hmap_free(&m);
}

static void put_reports_enomem_and_map_stays_usable(void **state)
{
    (void)state;
    hmap m;
    hmap_init(&m);
    /* First put: the table allocation fails. */
    mem_fail_after(0);
    int rc = hmap_put(&m, "a", 1, VAL(1));
    mem_fail_after(-1);
    assert_int_equal(rc, -ENOMEM);
    assert_int_equal(m.len, 0);
    assert_null(hmap_get(&m, "a", 1));
    /* Table allocated, key copy fails. */
    mem_fail_after(1);
    rc = hmap_put(&m, "a", 1, VAL(1));
    mem_fail_after(-1);
    assert_int_equal(rc, -ENOMEM);
    assert_int_equal(m.len, 0);
    assert_null(hmap_get(&m, "a", 1));
    /* Fill to the growth threshold, then fail the growth. */
    char k[32];
    size_t i = 0;
    for (; i < 12; i++) {
        key_of(i, k, sizeof k);
        assert_int_equal(hmap_put(&m, k, strlen(k), VAL(i)), 0);
    }
    assert_int_equal(m.cap, 16);
    key_of(i, k, sizeof k);
    mem_fail_after(0);
    rc = hmap_put(&m, k, strlen(k), VAL(i));
    mem_fail_after(-1);
    assert_int_equal(rc, -ENOMEM);
    assert_int_equal(m.len, 12);
    assert_null(hmap_get(&m, k, strlen(k)));
    /* Replacing an existing key needs no memory. */
    mem_fail_after(0);
    rc = hmap_put(&m, "key-3", 5, VAL(99));
    mem_fail_after(-1);
    assert_int_equal(rc, 0);
    assert_ptr_equal(hmap_get(&m, "key-3", 5), VAL(99));
    for (size_t j = 0; j < 12; j++) {
        key_of(j, k, sizeof k);
        assert_non_null(hmap_get(&m, k, strlen(k)));
    }
    assert_int_equal(hmap_put(&m, "late", 4, VAL(7)), 0);
    assert_ptr_equal(hmap_get(&m, "late", 4), VAL(7));
    hmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_map_answers_null),
        cmocka_unit_test(put_get_replace_del),
        cmocka_unit_test(keys_are_copied),
        cmocka_unit_test(binary_and_empty_keys),
        cmocka_unit_test(hash_is_deterministic_and_spreads),
        cmocka_unit_test(ten_thousand_keys_delete_half_in_random_order),
        cmocka_unit_test(deletion_in_collision_chains_keeps_others_reachable),
        cmocka_unit_test(random_churn_matches_shadow),
        cmocka_unit_test(put_reports_enomem_and_map_stays_usable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
