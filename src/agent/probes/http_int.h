/* http_int: the pure parts of the http probe (http.c), exposed for its unit tests and fuzz
 * target: accepted status codes, request header settings, the json_field check, and the
 * arithmetic that turns curl's cumulative timers into per-phase durations. None of these does
 * I/O or touches a run; all are safe on any thread. */
#ifndef DD_PROBE_HTTP_INT_H
#define DD_PROBE_HTTP_INT_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_BODY_MAX (10u << 20) /* bytes of (uncompressed) body a run reads at most */
#define HTTP_MAX_REDIRECTS 10
#define HTTP_HEADER_MAX 8192    /* one request header setting, bytes */
#define HTTP_JSON_PATH_MAX 1024 /* json_field's path, bytes */
#define HTTP_JSON_DEPTH_MAX 64  /* json_field's path, segments */

/* ---- status codes ------------------------------------------------------------------------ */

/* The status codes a run accepts: one bit per code 100..599. */
typedef struct http_status_set {
    uint8_t bits[(600 + 7) / 8];
} http_status_set;

/* Adds spec to set: a code "100".."599" or a class "1xx".."5xx" (x or X). Returns 0, or
 * -EINVAL with the reason in err (set unchanged). */
int http_status_set_add(http_status_set *set, const char *spec, char *err, size_t errcap);
/* Adds one code (100..599; others are ignored). */
void http_status_set_add_code(http_status_set *set, long code);
/* True if set holds code. */
int http_status_set_has(const http_status_set *set, long code);

/* ---- request headers --------------------------------------------------------------------- */

/* Checks a header setting "Name: value" (name a token; value without control characters but
 * tab; space after the colon optional; trailing blanks dropped) and writes the line curl wants
 * into out: "Name: value", or "Name;" for an empty value (curl sends "Name:" for that; a bare
 * "Name:" would remove the header instead). Returns 0, or -EINVAL with the reason in err
 * (out then ""). */
int http_header_setting(const char *in, char *out, size_t outcap, char *err, size_t errcap);

/* If the response header line (len bytes, not NUL-terminated, CRLF or LF ended or not)
 * is header `name` (case-insensitive), copies its value (blanks trimmed, at most cap-1 bytes)
 * into out and returns 1; else returns 0. */
int http_header_value(const char *line, size_t len, const char *name, char *out, size_t cap);

/* ---- json_field -------------------------------------------------------------------------- */

/* Splits a json_field setting "path=value" (at the first '=') and checks the path: segments
 * separated by dots, none empty, at most HTTP_JSON_PATH_MAX bytes and HTTP_JSON_DEPTH_MAX
 * segments. On success *path and *want are fresh copies (the caller frees them with
 * mem_free); returns 0, -EINVAL with the reason in err, or -ENOMEM. */
int http_json_field_parse(const char *spec, char **path, char **want, char *err, size_t errcap);

/* Checks the JSON document body (len bytes) for the field at path (as parsed above): a
 * segment indexes an array when it is a decimal number, else names an object member. The
 * field's text form is compared with want: strings as they are, numbers numerically when want
 * is a JSON number (so 1.50 matches 1.5) else by their JSON text, true/false/null as those
 * words, objects and arrays as compact JSON. Returns 0 when it matches; 1 when it does not or
 * the field is missing, with why in msg (one line, e.g. `data.0.state is "down", expected
 * "up"`); -EINVAL when the body is not JSON (why in msg); -ENOMEM. */
int http_json_check(const char *body, size_t len, const char *path, const char *want, char *msg,
                    size_t msgcap);

/* ---- TLS --------------------------------------------------------------------------------- */

/* The reason a certificate verification failed, from GnuTLS's status bits (0: none; returns
 * 0 and leaves out untouched): one short phrase in out ("certificate has expired", "self-signed
 * certificate" when self_signed, "certificate is not valid for HOST"...). Returns 1 then. */
int http_tls_reason(unsigned status, int self_signed, const char *host, char *out, size_t cap);

/* ---- phases ------------------------------------------------------------------------------ */

/* curl's timers (CURLINFO_*_TIME_T, microseconds). With redirects curl adds each request's
 * time since that request started, so every value is a sum over the requests so far. */
typedef struct http_times {
    int64_t namelookup, connect, appconnect, starttransfer;
} http_times;

/* The phases of the requests whose responses have begun (one per status line seen). */
typedef struct http_phase_acc {
    http_times last;                           /* the timers at the last status line */
    int64_t resolve, connect, tls, processing; /* sums over those requests, microseconds */
    int64_t first_namelookup;                  /* the first request's name lookup (the target's) */
    int hops;                                  /* status lines that moved a timer */
} http_phase_acc;

enum {
    HTTP_PHASE_RESOLVE,
    HTTP_PHASE_CONNECT,
    HTTP_PHASE_TLS,
    HTTP_PHASE_PROCESSING,
    HTTP_PHASE_TRANSFER,
    HTTP_NPHASES
};

/* Names of the phases (the label values), by index. */
extern const char *const http_phase_names[HTTP_NPHASES];

/* Records a response's status line: now are the timers read at that moment; the timers that
 * moved since the last status line belong to that response's request. A status line that
 * moved nothing (a second one of the same request, e.g. after 100 Continue) changes nothing. */
void http_phase_status_line(http_phase_acc *a, const http_times *now);

/* True if the last request did not reach its status line (timers moved since, or none seen). */
int http_phase_partial(const http_phase_acc *a, const http_times *fin);

/* The phases of the whole run in seconds, summed over redirects: fin are the timers at the
 * end, total_us curl's CURLINFO_TOTAL_TIME_T, redirect_us CURLINFO_REDIRECT_TIME_T (the start
 * of the last request), last_https whether the last request used TLS. A last request that
 * ended before its status line (an error, a timeout) has the time it spent put in the phase
 * it was in. The phases add up to total_us. */
void http_phase_finish(const http_phase_acc *a, const http_times *fin, int64_t total_us,
                       int64_t redirect_us, int last_https, double out[HTTP_NPHASES]);

#endif
