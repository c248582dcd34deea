/* rw: remote write decode (our own two-pass decoder, below) and encode (protobuf-c), snappy via
 * its C API. */
#include "rw.h"

#include "../lib/mem.h"
#include "remote.pb-c.h"

#include <errno.h>
#include <snappy-c.h>
#include <stdio.h>
#include <string.h>


/* ---- decoding ------------------------------------------------------------------------------
 *
 * A hand-written decoder for the one message the server receives at high rates. protobuf-c's
 * generic unpack allocates every label, sample and string separately (and frees them again):
 * at 2000 series per request that was half of the server's ingest CPU. This decoder makes one
 * pass over the decompressed bytes into three growable arrays (series, labels, samples); label
 * strings are not copied: after the pass, the byte after each string in the decompressed buffer
 * (the key of the next field, already consumed) is overwritten with a NUL and the labels point
 * into that buffer, which the request keeps. Unknown fields are skipped by wire type, as
 * protobuf requires; groups are refused. The encoder stays on protobuf-c, and the unit tests and
 * the fuzz target check that both read the same bytes the same way. */

typedef struct rw_priv {
    char *raw;
    label *labels;
    sample *samples;
    rw_series *series;
} rw_priv;

void rw_request_free(rw_request *r)
{
    if (!r)
        return;
    rw_priv *p = r->priv;
    if (p) {
        mem_free(p->raw);
        mem_free(p->labels);
        mem_free(p->samples);
        mem_free(p->series);
        mem_free(p);
    }
    mem_free(r);
}

typedef struct pbr {
    const uint8_t *p, *end;
} pbr;

static int pb_varint(pbr *r, uint64_t *out)
{
    if (r->p < r->end && !(*r->p & 0x80)) { /* the common one-byte case */
        *out = *r->p++;
        return 0;
    }
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            return -1;
        uint8_t c = *r->p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* Reads a field key; returns 0 and field number and wire type, or -1. */
static int pb_key(pbr *r, uint32_t *field, unsigned *wt)
{
    uint64_t k;
    if (pb_varint(r, &k) || (k >> 3) == 0 || (k >> 3) > 0x1fffffff)
        return -1;
    *field = (uint32_t)(k >> 3);
    *wt = (unsigned)(k & 7);
    return 0;
}

/* A length-delimited field's bytes. */
static int pb_bytes(pbr *r, pbr *sub)
{
    uint64_t n;
    if (pb_varint(r, &n) || n > (uint64_t)(r->end - r->p))
        return -1;
    sub->p = r->p;
    sub->end = r->p + n;
    r->p += n;
    return 0;
}

/* Skips a field of wire type wt. */
static int pb_skip(pbr *r, unsigned wt)
{
    uint64_t v;
    pbr sub;
    switch (wt) {
    case 0: return pb_varint(r, &v);
    case 1:
        if (r->end - r->p < 8)
            return -1;
        r->p += 8;
        return 0;
    case 2: return pb_bytes(r, &sub);
    case 5:
        if (r->end - r->p < 4)
            return -1;
        r->p += 4;
        return 0;
    default: return -1; /* groups (3, 4) and reserved types */
    }
}

/* One Label message: name (1) and value (2). Last occurrence wins, as in protobuf. */
static int pb_label(pbr m, pbr *name, pbr *value)
{
    name->p = name->end = value->p = value->end = m.p;
    while (m.p < m.end) {
        uint32_t f;
        unsigned wt;
        if (pb_key(&m, &f, &wt))
            return -1;
        if ((f == 1 || f == 2) && wt == 2) {
            if (pb_bytes(&m, f == 1 ? name : value))
                return -1;
        } else if ((f == 1 || f == 2) || pb_skip(&m, wt)) {
            return -1;
        }
    }
    return 0;
}

/* One Sample message: value (1, double) and timestamp (2, int64). */
static int pb_sample(pbr m, sample *out)
{
    uint64_t bits = 0, ts = 0;
    while (m.p < m.end) {
        uint32_t f;
        unsigned wt;
        if (pb_key(&m, &f, &wt))
            return -1;
        if (f == 1 && wt == 1) {
            if (m.end - m.p < 8)
                return -1;
            bits = 0;
            for (int i = 0; i < 8; i++)
                bits |= (uint64_t)m.p[i] << (8 * i);
            m.p += 8;
        } else if (f == 2 && wt == 0) {
            if (pb_varint(&m, &ts))
                return -1;
        } else if (f == 1 || f == 2 || pb_skip(&m, wt)) {
            return -1;
        }
    }
    memcpy(&out->v, &bits, 8);
    out->t = (int64_t)ts;
    return 0;
}

/* A label during the pass: offsets into the decompressed buffer. Same size as `label`, so the
 * array is converted in place afterwards. */
typedef struct lref {
    uint32_t name, nlen, value, vlen;
} lref;
_Static_assert(sizeof(lref) <= sizeof(label), "lref must fit in a label");

/* A series during the pass: index ranges. */
typedef struct sref {
    size_t label0, nlabels, sample0, nsamples;
} sref;

static int walk(const uint8_t *raw, size_t len, rw_priv *pv, size_t *nseries, size_t *nlabels,
                size_t *nsamples, char *err, size_t errlen)
{
    pbr r = {raw, raw + len};
    size_t ns = 0, nl = 0, nsm = 0, cs = 0, cl = 0, csm = 0;
    sref *ser = NULL;
    lref *lab = NULL;
    /* Start near the sizes a typical request needs, to avoid most regrowth. */
    cl = len / 24 + 16;
    csm = len / 64 + 16;
    lab = mem_alloc(cl * sizeof(label));
    pv->samples = mem_alloc(csm * sizeof(sample));
    if (!lab || !pv->samples)
        goto nomem;
    while (r.p < r.end) {
        uint32_t f;
        unsigned wt;
        if (pb_key(&r, &f, &wt))
            goto bad;
        if (f != 1) {
            /* metadata (3) must be a message; its content is not used, so not checked. */
            if ((f == 3 && wt != 2) || pb_skip(&r, wt))
                goto bad;
            continue;
        }
        pbr ts;
        if (wt != 2 || pb_bytes(&r, &ts))
            goto bad;
        if (mem_grow((void **)&ser, &cs, ns, sizeof *ser, 64))
            goto nomem;
        sref *out = &ser[ns];
        *out = (sref){nl, 0, nsm, 0};
        while (ts.p < ts.end) {
            uint32_t tf;
            unsigned twt;
            if (pb_key(&ts, &tf, &twt))
                goto bad;
            if ((tf == 1 || tf == 2) && twt == 2) {
                pbr m;
                if (pb_bytes(&ts, &m))
                    goto bad;
                if (tf == 1) {
                    pbr name, value;
                    if (pb_label(m, &name, &value))
                        goto bad;
                    size_t ln = (size_t)(name.end - name.p), vn = (size_t)(value.end - value.p);
                    if ((ln && memchr(name.p, 0, ln)) || (vn && memchr(value.p, 0, vn))) {
                        snprintf(err, errlen, "series %zu: a label contains a NUL byte", ns);
                        goto fail;
                    }
                    if (!vn)
                        continue; /* empty value: the label is absent, as in Prometheus */
                    if (++out->nlabels > LABELS_MAX) {
                        snprintf(err, errlen, "series %zu: more than the limit of %d labels", ns,
                                 LABELS_MAX);
                        goto fail;
                    }
                    if (mem_grow((void **)&lab, &cl, nl, sizeof(label), 64))
                        goto nomem;
                    lab[nl++] = (lref){(uint32_t)(name.p - raw), (uint32_t)ln,
                                       (uint32_t)(value.p - raw), (uint32_t)vn};
                } else {
                    if (mem_grow((void **)&pv->samples, &csm, nsm, sizeof(sample), 64))
                        goto nomem;
                    if (pb_sample(m, &pv->samples[nsm]))
                        goto bad;
                    nsm++;
                    out->nsamples++;
                }
            } else if (tf == 1 || tf == 2 || pb_skip(&ts, twt)) {
                goto bad;
            }
        }
        ns++;
    }
    /* NUL-terminate every string in place (its following byte is consumed) and turn the label
     * offsets into pointers; then the series. */
    char *base = (char *)raw;
    label *lv = (label *)lab;
    for (size_t i = 0; i < nl; i++) {
        lref x = lab[i];
        base[x.name + x.nlen] = 0;
        base[x.value + x.vlen] = 0;
        lv[i].name = base + x.name;
        lv[i].value = base + x.value;
    }
    pv->labels = lv;
    lab = NULL; /* owned by pv now */
    pv->series = mem_alloc((ns + 1) * sizeof(rw_series));
    if (!pv->series)
        goto nomem;
    for (size_t i = 0; i < ns; i++) {
        pv->series[i].ls.v = lv + ser[i].label0;
        pv->series[i].ls.n = ser[i].nlabels;
        pv->series[i].samples = pv->samples + ser[i].sample0;
        pv->series[i].nsamples = ser[i].nsamples;
    }
    mem_free(ser);
    *nseries = ns;
    *nlabels = nl;
    *nsamples = nsm;
    return 0;
bad:
    snprintf(err, errlen, "protobuf: not a valid WriteRequest");
fail:
    mem_free(ser);
    mem_free(lab);
    return -EINVAL;
nomem:
    snprintf(err, errlen, "out of memory");
    mem_free(ser);
    mem_free(lab);
    return -ENOMEM;
}

/* Sorts and validates the labels of each decoded series. */
static int check_series(rw_request *r, char *err, size_t errlen)
{
    char why[200];
    for (size_t i = 0; i < r->nseries; i++) {
        rw_series *s = &r->series[i];
        int sorted = 1;
        for (size_t j = 1; j < s->ls.n && sorted; j++)
            sorted = strcmp(s->ls.v[j - 1].name, s->ls.v[j].name) < 0;
        if (!sorted)
            labels_sort(&s->ls);
        if (labels_validate(&s->ls, why, sizeof why) < 0) {
            snprintf(err, errlen, "series %zu: %s", i, why);
            return -EINVAL;
        }
        if (!labels_get(&s->ls, LABELS_NAME)) {
            snprintf(err, errlen, "series %zu: no metric name (__name__ label)", i);
            return -EINVAL;
        }
        r->nsamples += s->nsamples;
    }
    return 0;
}

int rw_decode(const void *body, size_t len, size_t max_decoded, rw_request **out, char *err,
              size_t errlen)
{
    int rc = 0;
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
    /* A claimed length with no data behind it must not make us allocate it. */
    if (snappy_validate_compressed_buffer(body, len) != SNAPPY_OK) {
        snprintf(err, errlen, "snappy: corrupt compressed data");
        return -EINVAL;
    }
    if (rawlen >= UINT32_MAX) { /* label offsets are 32-bit */
        snprintf(err, errlen, "decoded body of %zu bytes is too large", rawlen);
        return -E2BIG;
    }
    r = mem_calloc(1, sizeof *r);
    rw_priv *pv = r ? mem_calloc(1, sizeof *pv) : NULL;
    if (!pv) {
        snprintf(err, errlen, "out of memory");
        mem_free(r);
        return -ENOMEM;
    }
    r->priv = pv;
    /* One spare byte: the NUL after a string that ends the buffer. */
    pv->raw = mem_alloc(rawlen + 1);
    if (!pv->raw) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
        goto out;
    }
    size_t got = rawlen;
    if (snappy_uncompress(body, len, pv->raw, &got) != SNAPPY_OK || got != rawlen) {
        snprintf(err, errlen, "snappy: corrupt compressed data");
        rc = -EINVAL;
        goto out;
    }
    size_t nl, nsm;
    if ((rc = walk((const uint8_t *)pv->raw, rawlen, pv, &r->nseries, &nl, &nsm, err, errlen)))
        goto out;
    r->series = pv->series;
    if ((rc = check_series(r, err, errlen)))
        goto out;
    *out = r;
    r = NULL;
out:
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
