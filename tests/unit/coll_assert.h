/* coll_assert: assertions the collector tests share (include after cmocka.h, batch.h and
 * lib/buf.h). */
#ifndef DD_TEST_COLL_ASSERT_H
#define DD_TEST_COLL_ASSERT_H

/* A NULL-terminated label list: L("cpu", "0", "mode", "idle"). */
#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Asserts that the batch holds metric{labels} with exactly the value want. */
#define assert_sample(b, metric, lbls, want)                                                       \
    do {                                                                                           \
        double v_;                                                                                 \
        if (!batch_find((b), (metric), (lbls), &v_))                                               \
            fail_msg("no sample %s", (metric));                                                    \
        if (v_ != (double)(want))                                                                  \
            fail_msg("%s: got %.17g, want %.17g", (metric), v_, (double)(want));                   \
    } while (0)

/* Asserts that the batch holds no metric{labels}. */
#define assert_no_sample(b, metric, lbls)                                                          \
    do {                                                                                           \
        double v_;                                                                                 \
        if (batch_find((b), (metric), (lbls), &v_))                                                \
            fail_msg("unexpected sample %s = %g", (metric), v_);                                   \
    } while (0)

/* The batch in text form (caller frees with mem_free), for checks that no sample of any kind
 * mentions something. */
static inline char *formatted(const batch *b)
{
    buf out;
    buf_init(&out, 0);
    assert_int_equal(batch_format(b, &out), 0);
    size_t len;
    char *s = buf_steal(&out, &len);
    assert_non_null(s);
    return s;
}

#endif
