/* tcpconn: one TCP connection on the agent's libuv loop, under the tcp and munin probes: it
 * resolves the host (resolve.h), connects, optionally runs a TLS handshake (GnuTLS over the
 * libuv stream through our own push/pull functions, never blocking) with certificate
 * verification, and gathers what the peer sends into a bounded input buffer that the owner
 * reads and consumes. Everything it learns on the way (lookup and connect times, TLS version,
 * certificate expiries) is in its tcpconn_info for the owner's samples. Loop thread only. */
#ifndef DD_PROBE_TCPCONN_H
#define DD_PROBE_TCPCONN_H

#include "resolve.h"

#include <gnutls/gnutls.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct tcpconn tcpconn;

/* What a connection tells its owner, in this order (RESOLVED, CONNECTED, READY, then any of
 * DATA, FULL, SENT, and EOF at most once); ERROR ends the story at any point. */
typedef enum tcpconn_event {
    TCPCONN_RESOLVED,  /* the host's address is known (info: dns_s, family) */
    TCPCONN_CONNECTED, /* the TCP connection is made (info: connect_s) */
    TCPCONN_READY,     /* ready to send (after the TLS handshake and verification, if TLS) */
    TCPCONN_DATA,      /* more bytes in the input (tcpconn_data) */
    TCPCONN_FULL,      /* the input holds in_max bytes: nothing more is read until the owner
                        * consumes some (in this callback or its DATA one) */
    TCPCONN_SENT,      /* every byte given to tcpconn_write has been handed to the kernel */
    TCPCONN_EOF,       /* the peer closed its side and everything it sent was delivered */
    TCPCONN_ERROR,     /* the connection failed: tcpconn_error says why; nothing follows */
} tcpconn_event;

/* Receives the connection's events. The callee may call tcpconn_close(c) (and nothing of c
 * after that); it may be called before tcpconn_open returns. */
typedef void (*tcpconn_fn)(void *ctx, tcpconn *c, tcpconn_event ev);

typedef struct tcpconn_opts {
    const char *host; /* a name, an IPv4 or an IPv6 address (copied) */
    int port;
    resolve_family family;
    size_t in_max; /* most bytes held in the input (received, not consumed); >= 1 */
    /* TLS: the credentials (trust store) to use, NULL for plain TCP. They are the caller's
     * and must outlive the connection. SNI is sent when host is a name. */
    gnutls_certificate_credentials_t tls;
    int tls_verify; /* verify the peer's chain and that it is host's */
} tcpconn_opts;

/* What the connection learnt so far. Times are seconds. */
typedef struct tcpconn_info {
    int resolved; /* the lookup ended (dns_s is its duration) */
    double dns_s;
    int family;        /* 4 or 6 once an address is known, else 0 */
    int connect_ended; /* the connect attempt ended, well or not (connect_s) */
    double connect_s;
    int tls_done; /* the handshake completed (tls_s, tls_version) */
    double tls_s;
    const char *tls_version;   /* "TLS 1.3", "TLS 1.2"...; NULL before the handshake */
    int have_certs;            /* the peer sent certificates (the expiries below are set) */
    int64_t earliest_expiry;   /* earliest notAfter of the peer's certificates (Unix s) */
    int64_t last_chain_expiry; /* earliest notAfter along the chain from the peer's
                                * certificate up to the trust anchor, where it is known */
} tcpconn_info;

/* Starts a connection to o->host:o->port on loop; res is the loop's resolver (needed only
 * for names). *out is set before any event. Returns 0 (a failure after this point, even an
 * immediate one, comes as TCPCONN_ERROR), -EINVAL (bad options) or -ENOMEM; on error no
 * event is delivered and *out is NULL. */
int tcpconn_open(tcpconn **out, uv_loop_t *loop, resolver *res, const tcpconn_opts *o,
                 tcpconn_fn cb, void *ctx);
/* Stops all I/O at once (a pending lookup, connect, handshake, read or write) and delivers no
 * more events; the memory goes once libuv has closed the socket. Accepts NULL. */
void tcpconn_close(tcpconn *c);
/* Queues n bytes (copied) to send, through TLS if the connection has it; allowed from READY
 * on. Returns 0, -ENOTCONN (not ready yet, failed or closed), -EIO (TLS refused them) or
 * -ENOMEM. */
int tcpconn_write(tcpconn *c, const void *p, size_t n);
/* The input: *len bytes received and not consumed yet, NUL-terminated for convenience (the
 * peer may send NULs too). Valid until tcpconn_consume or tcpconn_close, or the return to the
 * loop (tcpconn_write does not move it). */
const char *tcpconn_data(const tcpconn *c, size_t *len);
/* Drops the first n bytes of the input (n at most its length). Call it from the DATA or FULL
 * callback, and in bulk: each call moves the rest of the input. */
void tcpconn_consume(tcpconn *c, size_t n);
/* Why the connection failed (one line, e.g. "connect: connection refused", "TLS: certificate
 * has expired"); "" before an ERROR event. */
const char *tcpconn_error(const tcpconn *c);
const tcpconn_info *tcpconn_get_info(const tcpconn *c);

#endif
