/* libFuzzer target: the WAL segment parser (wal_scan, the code replay runs on every segment)
 * must accept or cut any byte string without crashing, hanging or reading out of bounds. Every
 * record it hands out is read in full (so ASan sees an out-of-bounds payload), and the good
 * prefix it reports must itself scan cleanly to the same records. */
#include "tsdb/wal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct tally {
    size_t records;
    size_t bytes;
    uint32_t sum;
} tally;

static int count(void *ctx, uint64_t seg, const uint8_t *rec, size_t len)
{
    tally *t = ctx;
    if (seg != 0 || len == 0 || len > WAL_MAX_RECORD)
        abort();
    for (size_t i = 0; i < len; i++)
        t->sum = t->sum * 31 + rec[i];
    t->records++;
    t->bytes += len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tally a = {0}, b = {0};
    size_t good = (size_t)-1, good2 = (size_t)-1;
    int rc = wal_scan(data, size, count, &a, &good);
    if (good > size)
        abort();
    if (rc != 0 && rc != -EBADMSG && rc != -EPROTONOSUPPORT)
        abort();
    if (rc == 0 && good != size)
        abort();
    if (rc == -EBADMSG && good == size && size != 0)
        abort();
    if (good > 0 && good < WAL_SEGMENT_HEADER)
        abort();
    if (a.bytes + a.records * WAL_RECORD_HEADER + (good ? WAL_SEGMENT_HEADER : 0) != good)
        abort();
    /* The good prefix is a clean segment with the same records. */
    if (wal_scan(data, good, count, &b, &good2) != 0 || good2 != good)
        abort();
    if (a.records != b.records || a.sum != b.sum)
        abort();
    return 0;
}
