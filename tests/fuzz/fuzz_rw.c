/* libFuzzer target: the remote-write decoder must reject or accept any body without crashing,
 * leaking or reading out of bounds. Accepted requests are re-encoded and decoded again; the
 * second decode must agree with the first. */
#include "lib/buf.h"
#include "lib/mem.h"
#include "wire/rw.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rw_request *r = NULL;
    char err[256];
    if (rw_decode(data, size, 1 << 20, &r, err, sizeof err) != 0)
        return 0;
    buf b;
    buf_init(&b, 0);
    if (rw_encode(r->series, r->nseries, &b) == 0) {
        rw_request *r2 = NULL;
        if (rw_decode(b.data, b.len, 8 << 20, &r2, err, sizeof err) != 0)
            abort();
        if (r2->nseries != r->nseries || r2->nsamples != r->nsamples)
            abort();
        for (size_t i = 0; i < r->nseries; i++)
            if (labels_cmp(&r->series[i].ls, &r2->series[i].ls) != 0)
                abort();
        rw_request_free(r2);
    }
    buf_free(&b);
    rw_request_free(r);
    return 0;
}
