/* tcp: the tcp probe type (docs/probes.md "tcp"): pieces exported for the unit tests. The
 * connection under it is tcpconn.h. Loop thread only. */
#ifndef DD_PROBE_TCP_H
#define DD_PROBE_TCP_H

#include "tcpconn.h"

#include <stddef.h>

/* ---- pieces of the tcp probe, exported for the unit tests -------------------------------- */

/* Decodes the escapes of the "send" setting (\n \r \t \\) from s into out, which has room for
 * strlen(s) bytes. Returns 0 with the decoded length in *outlen, or -EINVAL with the reason in
 * err (an unknown escape or a lone backslash at the end). */
int tcp_unescape(const char *s, char *out, size_t *outlen, char *err, size_t errcap);

typedef struct tcp_expect tcp_expect;
/* Compiles the "expect" regular expression (PCRE2; ^ and $ match at line starts and ends,
 * lines ending in LF, CR LF or CR, as blackbox_exporter matches an answer line by line).
 * Returns 0 with *out (free with tcp_expect_free), -EINVAL with the reason in err, -ENOMEM. */
int tcp_expect_new(tcp_expect **out, const char *re, char *err, size_t errcap);
void tcp_expect_free(tcp_expect *e);

/* The state of one answer's scan: the expectation is looked for as bytes arrive, without
 * scanning again what cannot start a match (partial matching), so a slow peer costs linear
 * time. Zero it (with tcp_scan_init) per answer. */
typedef struct tcp_scan {
    size_t from; /* no match can start before this offset */
    void *md;    /* PCRE2 match data */
} tcp_scan;

/* Returns 0 or -ENOMEM. */
int tcp_scan_init(tcp_scan *s, const tcp_expect *e);
void tcp_scan_free(tcp_scan *s);
/* Looks for the expectation in the answer so far, data[0..len) (which only grows between
 * calls). Returns 1 when it matches, 0 when it does not yet (more bytes may make it match),
 * -E2BIG when the match gave up (backtracking limit: a pathological expression), -EIO on
 * another PCRE2 error. */
int tcp_scan_step(tcp_scan *s, const tcp_expect *e, const char *data, size_t len);

#endif
