/* rw: remote write decode/encode over protobuf-c and snappy's C API.
 *
 * Decoding copies nothing it can point to: label strings stay inside the unpacked protobuf
 * message (owned by the rw_request), and only the label and sample arrays are rebuilt in our
 * own layout so the rest of the server never sees protobuf types. */
#include "rw.h"

#include "../lib/mem.h"
#include "remote.pb-c.h"

#include <errno.h>
#include <snappy-c.h>
#include <stdio.h>
#include <string.h>

/* protobuf-c allocates through this so its memory is counted and can fail like ours. When ctx
 * is set it points at a flag that records a failed allocation: protobuf-c reports every failure
 * as "no message", and the caller must tell out-of-memory from a malformed body. */
static void *pb_alloc(void *ctx, size_t n)
{
    void *p = mem_alloc(n);
    if (!p && ctx)
        *(int *)ctx = 1;
    return p;
}

static void pb_free(void *ctx, void *p)
{
    (void)ctx;
    mem_free(p);
}

static ProtobufCAllocator pb_allocator = {pb_alloc, pb_free, NULL};

void rw_request_free(rw_request *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nseries; i++) {
        mem_free(r->series[i].ls.v);
        mem_free(r->series[i].samples);
    }
    mem_free(r->series);
    if (r->priv)
        prometheus__write_request__free_unpacked(r->priv, &pb_allocator);
    mem_free(r);
}

/* Converts one protobuf series into ours; labels with empty values are dropped (Prometheus
 * treats them as absent), the rest sorted and validated. */
static int convert_series(const Prometheus__TimeSeries *ts, size_t idx, rw_series *out, char *err,
                          size_t errlen)
{
    if (ts->n_labels > LABELS_MAX) {
        snprintf(err, errlen, "series %zu: %zu labels, more than the limit of %d", idx,
                 ts->n_labels, LABELS_MAX);
        return -EINVAL;
    }
    out->ls.v = mem_calloc(ts->n_labels ? ts->n_labels : 1, sizeof(label));
    out->samples = mem_calloc(ts->n_samples ? ts->n_samples : 1, sizeof(sample));
    if (!out->ls.v || !out->samples)
        return -ENOMEM;
    size_t n = 0;
    for (size_t j = 0; j < ts->n_labels; j++) {
        const Prometheus__Label *l = ts->labels[j];
        if (!l->value || !*l->value)
            continue;
        out->ls.v[n].name = l->name ? l->name : "";
        out->ls.v[n].value = l->value;
        n++;
    }
    out->ls.n = n;
    labels_sort(&out->ls);
    char why[200];
    if (labels_validate(&out->ls, why, sizeof why) < 0) {
        snprintf(err, errlen, "series %zu: %s", idx, why);
        return -EINVAL;
    }
    if (!labels_get(&out->ls, LABELS_NAME)) {
        snprintf(err, errlen, "series %zu: no metric name (__name__ label)", idx);
        return -EINVAL;
    }
    for (size_t j = 0; j < ts->n_samples; j++) {
        out->samples[j].t = ts->samples[j]->timestamp;
        out->samples[j].v = ts->samples[j]->value;
    }
    out->nsamples = ts->n_samples;
    return 0;
}

int rw_decode(const void *body, size_t len, size_t max_decoded, rw_request **out, char *err,
              size_t errlen)
{
    int rc = 0;
    char *raw = NULL;
    rw_request *r = NULL;
    size_t rawlen = 0;

    *out = NULL;
    if (len == 0) {
        snprintf(err, errlen, "empty body");
        return -EINVAL;
    }
    if (snappy_uncompressed_length(body, len, &rawlen) != SNAPPY_OK) {
        snprintf(err, errlen, "snappy: corrupt header (is the body snappy block compressed?)");
        return -EINVAL;
    }
    if (rawlen > max_decoded) {
        snprintf(err, errlen, "decoded body of %zu bytes exceeds the limit of %zu", rawlen,
                 max_decoded);
        return -E2BIG;
    }
    if (snappy_validate_compressed_buffer(body, len) != SNAPPY_OK) {
        snprintf(err, errlen, "snappy: corrupt compressed data");
        return -EINVAL;
    }
    raw = mem_alloc(rawlen ? rawlen : 1);
    if (!raw) {
        rc = -ENOMEM;
        goto out;
    }
    size_t got = rawlen;
    if (snappy_uncompress(body, len, raw, &got) != SNAPPY_OK || got != rawlen) {
        snprintf(err, errlen, "snappy: decompression failed");
        rc = -EINVAL;
        goto out;
    }
    r = mem_calloc(1, sizeof *r);
    if (!r) {
        rc = -ENOMEM;
        goto out;
    }
    int oom = 0;
    ProtobufCAllocator unpack_allocator = {pb_alloc, pb_free, &oom};
    Prometheus__WriteRequest *wr =
        prometheus__write_request__unpack(&unpack_allocator, rawlen, (const uint8_t *)raw);
    if (!wr) {
        if (oom) {
            snprintf(err, errlen, "out of memory");
            rc = -ENOMEM;
        } else {
            snprintf(err, errlen, "protobuf: not a valid WriteRequest");
            rc = -EINVAL;
        }
        goto out;
    }
    r->priv = wr;
    r->series = mem_calloc(wr->n_timeseries ? wr->n_timeseries : 1, sizeof(rw_series));
    if (!r->series) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < wr->n_timeseries; i++) {
        r->nseries = i + 1; /* so rw_request_free releases the partial series too */
        rc = convert_series(wr->timeseries[i], i, &r->series[i], err, errlen);
        if (rc == -ENOMEM)
            snprintf(err, errlen, "out of memory");
        if (rc)
            goto out;
        r->nsamples += r->series[i].nsamples;
    }
    r->nseries = wr->n_timeseries;
    *out = r;
    r = NULL;
out:
    mem_free(raw);
    rw_request_free(r);
    return rc;
}

int rw_encode(const rw_series *series, size_t nseries, buf *out)
{
    int rc = 0;
    Prometheus__TimeSeries *ts = NULL, **tsp = NULL;
    Prometheus__Label *lab = NULL, **labp = NULL;
    Prometheus__Sample *smp = NULL, **smpp = NULL;
    char *raw = NULL;
    size_t nl = 0, ns = 0;

    for (size_t i = 0; i < nseries; i++) {
        nl += series[i].ls.n;
        ns += series[i].nsamples;
    }
    ts = mem_alloc((nseries + 1) * sizeof *ts);
    tsp = mem_alloc((nseries + 1) * sizeof *tsp);
    lab = mem_alloc((nl + 1) * sizeof *lab);
    labp = mem_alloc((nl + 1) * sizeof *labp);
    smp = mem_alloc((ns + 1) * sizeof *smp);
    smpp = mem_alloc((ns + 1) * sizeof *smpp);
    if (!ts || !tsp || !lab || !labp || !smp || !smpp) {
        rc = -ENOMEM;
        goto out;
    }
    size_t li = 0, si = 0;
    for (size_t i = 0; i < nseries; i++) {
        prometheus__time_series__init(&ts[i]);
        tsp[i] = &ts[i];
        ts[i].labels = &labp[li];
        ts[i].n_labels = series[i].ls.n;
        for (size_t j = 0; j < series[i].ls.n; j++, li++) {
            prometheus__label__init(&lab[li]);
            /* protobuf-c declares these non-const but only reads them when packing. */
            lab[li].name = (char *)series[i].ls.v[j].name;
            lab[li].value = (char *)series[i].ls.v[j].value;
            labp[li] = &lab[li];
        }
        ts[i].samples = &smpp[si];
        ts[i].n_samples = series[i].nsamples;
        for (size_t j = 0; j < series[i].nsamples; j++, si++) {
            prometheus__sample__init(&smp[si]);
            smp[si].timestamp = series[i].samples[j].t;
            smp[si].value = series[i].samples[j].v;
            smpp[si] = &smp[si];
        }
    }
    Prometheus__WriteRequest wr = PROMETHEUS__WRITE_REQUEST__INIT;
    wr.timeseries = tsp;
    wr.n_timeseries = nseries;
    size_t rawlen = prometheus__write_request__get_packed_size(&wr);
    raw = mem_alloc(rawlen ? rawlen : 1);
    if (!raw) {
        rc = -ENOMEM;
        goto out;
    }
    prometheus__write_request__pack(&wr, (uint8_t *)raw);
    size_t clen = snappy_max_compressed_length(rawlen);
    rc = buf_reserve(out, clen);
    if (rc)
        goto out;
    if (snappy_compress(raw, rawlen, out->data + out->len, &clen) != SNAPPY_OK) {
        rc = -EIO;
        goto out;
    }
    out->len += clen;
    out->data[out->len] = '\0';
out:
    mem_free(ts);
    mem_free(tsp);
    mem_free(lab);
    mem_free(labp);
    mem_free(smp);
    mem_free(smpp);
    mem_free(raw);
    return rc;
}
