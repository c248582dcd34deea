/* sample: one timestamped value, and Prometheus's stale marker. */
#ifndef DD_SAMPLE_H
#define DD_SAMPLE_H

#include <stdint.h>
#include <string.h>

typedef struct sample {
    int64_t t; /* milliseconds since the epoch */
    double v;
} sample;

/* The NaN bit pattern Prometheus writes when a series goes stale (distinct from ordinary NaN). */
#define SAMPLE_STALE_BITS 0x7ff0000000000002ULL

static inline int sample_is_stale(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return bits == SAMPLE_STALE_BITS;
}

static inline double sample_stale_value(void)
{
    uint64_t bits = SAMPLE_STALE_BITS;
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

#endif
