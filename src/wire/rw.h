/* rw: Prometheus remote write 1.0 bodies (protobuf WriteRequest, snappy block compressed).
 *
 * rw_decode turns a request body into series the caller can walk; rw_encode does the reverse
 * for a sender. Both are strict: anything that is not a well-formed request (bad snappy framing,
 * bad protobuf, invalid or unsorted labels, oversized bodies) is refused with a reason. */
#ifndef DD_RW_H
#define DD_RW_H

#include "../lib/buf.h"
#include "../lib/labels.h"
#include "../lib/sample.h"

#include <stddef.h>
#include <stdint.h>

typedef struct rw_series {
    labels ls; /* sorted and validated; strings owned by the rw_request */
    sample *samples;
    size_t nsamples;
} rw_series;

typedef struct rw_request {
    rw_series *series;
    size_t nseries;
    size_t nsamples; /* total over all series */
    void *priv;      /* the one block holding series, labels, samples and strings */
} rw_request;

/* Decodes a snappy-compressed WriteRequest. `max_decoded` caps the uncompressed size (a body
 * that claims more is refused before anything is allocated). On success *out is a new request
 * the caller frees with rw_request_free. On failure returns -EINVAL (malformed: reason in err),
 * -E2BIG (over the cap) or -ENOMEM, and *out is NULL. */
int rw_decode(const void *body, size_t len, size_t max_decoded, rw_request **out, char *err,
              size_t errlen);
void rw_request_free(rw_request *r);

/* Encodes series into a snappy-compressed WriteRequest appended to out. Labels must already be
 * sorted. Returns 0, -ENOMEM, or -E2BIG if out's cap is exceeded. */
int rw_encode(const rw_series *series, size_t nseries, buf *out);

#endif
