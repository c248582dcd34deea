/* chunk: compressed samples (ms timestamp, double value) of one series over a stretch of time.
 *
 * A chunk_app is the open, appendable chunk the head keeps per active series: a small encoder
 * state (48 bytes on 64-bit systems) plus a byte buffer that grows in small steps. Its bytes are
 * self-describing (format byte, sample count, first timestamp), so a reader needs nothing but
 * the bytes to decode them with a chunk_it, also while the chunk is still open for appends.
 * chunk_app_trim seals a closed chunk: it rewrites the bytes into a layout with the timestamps
 * and the values in separate byte-aligned streams (identical timestamp streams of series scraped
 * together then compress to almost nothing under zstd in block files) and frees the slack.
 * Every double round-trips bit-exactly (NaN payloads, the stale marker, -0.0, infinities).
 * The format is described byte by byte at the top of chunk.c.
 *
 * Threads: a chunk_app has one owner; a chunk_it is used by one thread at a time and only reads
 * its bytes, so several iterators may decode the same bytes at once. */
#ifndef DD_TSDB_CHUNK_H
#define DD_TSDB_CHUNK_H

#include <stddef.h>
#include <stdint.h>

/* Most samples a chunk holds (the count is stored in 16 bits). */
#define CHUNK_MAX_SAMPLES 65535u

/* Encoder state. The fields are private to chunk.c. */
typedef struct chunk_app {
    uint8_t *b;     /* bytes (NULL while empty) */
    int64_t t;      /* last timestamp */
    uint64_t v;     /* bits of the last value */
    uint32_t nbits; /* bits written, header included */
    uint32_t cap;   /* bytes allocated */
    int32_t dt;     /* reference interval for the next timestamp delta */
    int32_t dv;     /* last integer value delta, in units (0 when it needs over 31 bits) */
    uint8_t scale;  /* unit of the integer codes: shift << 4 | decimal scale */
    uint8_t lead;   /* leading zeros of the last XOR window */
    uint8_t trail;  /* trailing zeros of the last XOR window */
    uint8_t sealed; /* 1 after chunk_app_trim: bytes are in the sealed layout */
    uint8_t w;      /* width of the last integer payload */
    uint8_t last;   /* kind of the last value code */
} chunk_app;

/* Makes an empty chunk; allocates nothing. */
void chunk_app_init(chunk_app *a);
/* Appends one sample. t must be greater than the last t appended, and the chunk must hold fewer
 * than CHUNK_MAX_SAMPLES samples; otherwise returns -EINVAL and changes nothing. Returns 0, or
 * -ENOMEM when the buffer cannot grow (the chunk is then unchanged). Appending to a sealed
 * (trimmed) chunk is allowed: it is converted back to the open layout first. */
int chunk_app_add(chunk_app *a, int64_t t, double v);
/* Number of samples in the chunk. */
uint32_t chunk_app_count(const chunk_app *a);
/* First timestamp (undefined, but safe to call, when the chunk is empty). */
int64_t chunk_app_mint(const chunk_app *a);
/* Last timestamp (undefined when empty). */
int64_t chunk_app_maxt(const chunk_app *a);
/* Last value, bit-exact (undefined when empty). */
double chunk_app_last(const chunk_app *a);
/* The encoded bytes, decodable by chunk_it at any time (an empty chunk gives 3 static bytes).
 * The chunk owns them; they stay valid until the next add, trim or free. */
const uint8_t *chunk_app_bytes(const chunk_app *a, size_t *len);
/* Seals the chunk (called when it is closed): rewrites the bytes into the sealed layout and
 * shrinks the buffer to its exact size. If memory is short it keeps the open layout (still
 * valid) and at least does not grow. */
void chunk_app_trim(chunk_app *a);
/* Frees the buffer; the chunk is empty again (and may be reused). Accepts an empty chunk. */
void chunk_app_free(chunk_app *a);
/* Bytes of memory held: the struct plus the buffer's capacity. */
size_t chunk_app_memory(const chunk_app *a);

/* Decoder state. The fields are private to chunk.c. */
typedef struct chunk_br {
    const uint8_t *p; /* stream start */
    uint32_t pos;     /* next bit to read */
    uint32_t end;     /* bits in the stream */
} chunk_br;

typedef struct chunk_it {
    chunk_br rt;    /* timestamp stream (and value stream in the open layout) */
    chunk_br rv;    /* value stream in the sealed layout */
    uint32_t count; /* samples the header claims */
    uint32_t i;     /* samples returned so far */
    int64_t t;
    uint64_t v;
    int64_t dt;
    int64_t dv;
    int64_t t0;
    uint64_t k; /* integer of the last value at the current unit, when kvalid */
    uint8_t scale, lead, trail, w, kvalid, last;
    uint8_t split; /* sealed layout: values come from rv */
} chunk_it;

/* Starts decoding b[0..len). The bytes are not copied and must outlive the iterator. Returns 0,
 * or -EINVAL when the header is invalid (unknown format, truncated header, or a sample count
 * the length cannot possibly hold). */
int chunk_it_init(chunk_it *it, const uint8_t *b, size_t len);
/* Decodes the next sample: returns 1 and sets *t and *v; 0 after the last sample; -EINVAL when
 * the bytes are corrupt (it then keeps returning -EINVAL). Never reads outside b[0..len) and
 * always makes progress, whatever the input. Timestamps returned are strictly increasing. */
int chunk_it_next(chunk_it *it, int64_t *t, double *v);
/* Number of samples the header claims; chunk_it_init guarantees it is at most 4 * len. */
uint32_t chunk_it_count(const chunk_it *it);

/* Decodes all of b[0..len) into t[] and v[] (each with room for chunk_it_count samples, or
 * `max` if smaller). Returns the number of samples decoded, or -EINVAL. A convenience for
 * queries and tests. */
int chunk_decode_all(const uint8_t *b, size_t len, int64_t *t, double *v, uint32_t max);

#endif
