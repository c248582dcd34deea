/* varint: LEB128 unsigned varints and zigzag signed ones, for the store's file formats.
 *
 * Writers append to a buf (sticky error, see buf.h). Readers take a cursor over [p, end) and
 * never read past end: a truncated or overlong (> 10 bytes) varint is an error (-EINVAL). */
#ifndef DD_VARINT_H
#define DD_VARINT_H

#include "buf.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

static inline int varint_put(buf *b, uint64_t v)
{
    unsigned char tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (unsigned char)v;
    return buf_append(b, tmp, n);
}

static inline uint64_t varint_zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t varint_unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static inline int varint_put_signed(buf *b, int64_t v)
{
    return varint_put(b, varint_zigzag(v));
}

/* Reads one varint at *p (advanced past it). Returns 0 or -EINVAL. */
static inline int varint_get(const unsigned char **p, const unsigned char *end, uint64_t *out)
{
    uint64_t v = 0;
    unsigned shift = 0;
    const unsigned char *q = *p;
    while (q < end && shift < 70) {
        unsigned char c = *q++;
        if (shift == 63 && (c & 0x7e))
            return -EINVAL; /* more than 64 bits */
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *p = q;
            *out = v;
            return 0;
        }
        shift += 7;
    }
    return -EINVAL;
}

static inline int varint_get_signed(const unsigned char **p, const unsigned char *end, int64_t *out)
{
    uint64_t u;
    int rc = varint_get(p, end, &u);
    if (!rc)
        *out = varint_unzigzag(u);
    return rc;
}

/* Reads a length-prefixed byte string; *s points into the input (not NUL-terminated). */
static inline int varint_get_bytes(const unsigned char **p, const unsigned char *end,
                                   const unsigned char **s, size_t *len)
{
    uint64_t n;
    if (varint_get(p, end, &n) || n > (uint64_t)(end - *p))
        return -EINVAL;
    *s = *p;
    *len = (size_t)n;
    *p += n;
    return 0;
}

static inline void varint_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint64_t varint_read_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

#endif
