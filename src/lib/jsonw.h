/* jsonw: a streaming JSON writer into a capped buf.
 *
 * Responses are written straight into the output buffer, never built as a tree, so large
 * results cost one buffer. Commas are placed automatically. Errors (cap exceeded, no memory)
 * are sticky in the buf (out->err): write everything, then check once. Not thread-safe. */
#ifndef DD_JSONW_H
#define DD_JSONW_H

#include "buf.h"

#include <stdint.h>

#define JSONW_MAX_DEPTH 32

typedef struct jsonw {
    buf *out;
    int depth;
    unsigned char first[JSONW_MAX_DEPTH]; /* 1 until the first element at each depth */
    int after_key;
} jsonw;

void jsonw_init(jsonw *w, buf *out);
void jsonw_obj_open(jsonw *w);
void jsonw_obj_close(jsonw *w);
void jsonw_arr_open(jsonw *w);
void jsonw_arr_close(jsonw *w);
void jsonw_key(jsonw *w, const char *k);
void jsonw_str(jsonw *w, const char *s);
void jsonw_strn(jsonw *w, const char *s, size_t n);
void jsonw_int(jsonw *w, long long v);
/* A JSON number; NaN and infinities (not representable) are written as null. */
void jsonw_num(jsonw *w, double v);
void jsonw_bool(jsonw *w, int v);
void jsonw_null(jsonw *w);
/* Writes n bytes of JSON text as one value, unchecked: only for text that is valid JSON by
 * construction (e.g. an object the event store validated when it stored it). */
void jsonw_raw(jsonw *w, const char *json, size_t n);
/* Shorthands for "key": value. */
void jsonw_kv_str(jsonw *w, const char *k, const char *v);
void jsonw_kv_int(jsonw *w, const char *k, long long v);

/* A sample value the way Prometheus writes it: a string with Go's shortest round-trip form
 * ('f' notation, 'e' below 1e-6 and from 1e21), "NaN", "+Inf", "-Inf". */
void jsonw_prom_value(jsonw *w, double v);
/* A timestamp in ms written as Prometheus does: seconds with up to three decimals. */
void jsonw_prom_time(jsonw *w, int64_t ms);
/* Formats v as jsonw_prom_value does (without quotes) into dst; returns the length. */
size_t jsonw_format_value(double v, char *dst, size_t cap);

#endif
