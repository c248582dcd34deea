/* libFuzzer target: the remote-write decoder must reject or accept any body without crashing,
 * leaking or reading out of bounds. The first byte picks the mode:
 *   even: the rest is a raw protobuf, snappy-compressed here, so the fuzzer explores the
 *         protobuf decoder; our decoder is compared with protobuf-c's generic unpack: what
 *         both accept must mean the same series, labels and samples (bit-exact);
 *   odd:  the rest is the HTTP body itself (snappy framing included).
 * Accepted requests are re-encoded and decoded again; the second decode must agree. */
#include "lib/buf.h"
#include "lib/mem.h"
#include "remote.pb-c.h"
#include "wire/rw.h"

#include <snappy-c.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Our reading of series i must equal protobuf-c's (labels with empty values dropped, sorted). */
static void compare(const rw_request *r, const Prometheus__WriteRequest *pb)
{
    if (pb->n_timeseries != r->nseries)
        abort();
    for (size_t i = 0; i < r->nseries; i++) {
        const Prometheus__TimeSeries *ts = pb->timeseries[i];
        const rw_series *s = &r->series[i];
        if (ts->n_samples != s->nsamples)
            abort();
        for (size_t j = 0; j < s->nsamples; j++)
            if (ts->samples[j]->timestamp != s->samples[j].t ||
                memcmp(&ts->samples[j]->value, &s->samples[j].v, 8))
                abort();
        size_t n = 0;
        for (size_t j = 0; j < ts->n_labels; j++) {
            const char *v = ts->labels[j]->value;
            if (!v || !*v)
                continue;
            const char *got = labels_get(&s->ls, ts->labels[j]->name);
            if (!got || strcmp(got, v))
                abort();
            n++;
        }
        if (n != s->ls.n)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    rw_request *r = NULL;
    char err[256];
    const uint8_t *body = data + 1;
    size_t blen = size - 1;
    char *packed = NULL;
    int raw_mode = !(data[0] & 1);
    if (raw_mode) {
        size_t clen = snappy_max_compressed_length(blen);
        packed = malloc(clen + 1);
        if (!packed || snappy_compress((const char *)body, blen, packed, &clen) != SNAPPY_OK) {
            free(packed);
            return 0;
        }
        body = (const uint8_t *)packed;
        blen = clen;
    }
    int rc = rw_decode(body, blen, 1 << 20, &r, err, sizeof err);
    if (raw_mode) {
        Prometheus__WriteRequest *pb =
            prometheus__write_request__unpack(NULL, size - 1, data + 1);
        /* What both accept must mean the same. Either may refuse what the other accepts:
         * protobuf-c is lenient with over-long field keys, we don't read the metadata
         * messages, and we have our own rules (label names, NUL bytes, limits). */
        if (pb && rc == 0)
            compare(r, pb);
        if (pb)
            prometheus__write_request__free_unpacked(pb, NULL);
    }
    free(packed);
    if (rc != 0)
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
