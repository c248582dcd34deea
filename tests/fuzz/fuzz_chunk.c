/* libFuzzer target for the chunk codec. The first byte picks the mode:
 * - even: the rest is a chunk; chunk_it must accept or reject it without reading out of bounds
 *   or looping, return at most chunk_it_count strictly increasing samples, and a valid chunk
 *   re-encoded from those samples must decode to the same samples, bit for bit.
 * - odd: the rest is a list of samples (8-byte timestamp delta, 8-byte value bits); they are
 *   encoded (open layout, then sealed), decoded, and must come back bit for bit. */
#include "tsdb/chunk.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t get64(const uint8_t *p)
{
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = x << 8 | p[i];
    return x;
}

/* Encodes n samples and checks both layouts decode to them. */
static void check(const int64_t *t, const uint64_t *v, uint32_t n)
{
    chunk_app a;
    chunk_app_init(&a);
    for (uint32_t i = 0; i < n; i++) {
        double d;
        memcpy(&d, &v[i], 8);
        if (chunk_app_add(&a, t[i], d) != 0)
            abort();
    }
    for (int pass = 0; pass < 2; pass++) {
        size_t len;
        const uint8_t *b = chunk_app_bytes(&a, &len);
        chunk_it it;
        if (chunk_it_init(&it, b, len) != 0 || chunk_it_count(&it) != n)
            abort();
        for (uint32_t i = 0; i < n; i++) {
            int64_t tt;
            double vv;
            if (chunk_it_next(&it, &tt, &vv) != 1 || tt != t[i] || memcmp(&vv, &v[i], 8) != 0)
                abort();
        }
        int64_t tt;
        double vv;
        if (chunk_it_next(&it, &tt, &vv) != 0)
            abort();
        chunk_app_trim(&a);
    }
    chunk_app_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    if ((mode & 1) == 0) {
        chunk_it it;
        if (chunk_it_init(&it, data, size) != 0)
            return 0;
        uint32_t count = chunk_it_count(&it);
        if (count > 4 * size)
            abort();
        int64_t *t = malloc(((size_t)count + 1) * sizeof *t);
        uint64_t *v = malloc(((size_t)count + 1) * sizeof *v);
        if (!t || !v)
            abort();
        uint32_t n = 0;
        int rc;
        int64_t tt;
        double vv;
        while ((rc = chunk_it_next(&it, &tt, &vv)) == 1) {
            if (n >= count || (n > 0 && tt <= t[n - 1]))
                abort();
            t[n] = tt;
            memcpy(&v[n], &vv, 8);
            n++;
        }
        if (rc != 0 && rc != -22)
            abort();
        if (chunk_it_next(&it, &tt, &vv) != rc)
            abort();
        check(t, v, n);
        free(t);
        free(v);
        return 0;
    }
    uint32_t n = (uint32_t)(size / 16);
    int64_t *t = malloc(((size_t)n + 1) * sizeof *t);
    uint64_t *v = malloc(((size_t)n + 1) * sizeof *v);
    if (!t || !v)
        abort();
    uint32_t m = 0;
    int64_t prev = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t d = get64(data + 16 * i);
        int64_t x;
        if (m == 0) {
            x = (int64_t)d;
        } else {
            /* small gaps mostly, any gap sometimes; stop at the top of the range */
            uint64_t gap = (mode & 2) ? d : (d % 30000) + 1;
            if (gap == 0 || gap > (uint64_t)INT64_MAX - (uint64_t)prev)
                break;
            x = prev + (int64_t)gap;
        }
        t[m] = prev = x;
        v[m] = get64(data + 16 * i + 8);
        if (mode & 4) /* small integers and decimals, to reach the integer codes */
            v[m] = 0;
        if (mode & 4) {
            double dv = (double)(int32_t)(uint32_t)get64(data + 16 * i + 8) /
                        (double)(1 + (mode >> 4) % 4 * 333);
            memcpy(&v[m], &dv, 8);
        }
        m++;
    }
    check(t, v, m);
    free(t);
    free(v);
    return 0;
}
