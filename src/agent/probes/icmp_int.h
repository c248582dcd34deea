/* icmp_int: the icmp probe's parts that do no I/O, exposed for its unit tests: building echo
 * requests, parsing what an ICMP socket reads, checking a reply's payload, RTT statistics, the
 * sequence table and the run's own deadline. Defined in icmp.c. Any thread (no shared state). */
#ifndef DD_ICMP_INT_H
#define DD_ICMP_INT_H

#include <stddef.h>
#include <stdint.h>

#define ICMP_HDR_LEN 8         /* type, code, checksum, identifier, sequence */
#define ICMP_MAX_PAYLOAD 65500 /* the setting's bound; fits IPv4's 65507 */
#define ICMP_STAMP_LEN 8       /* payload bytes carrying the send time, when size allows */
#define ICMP_MAX_COUNT 100     /* packets per run */
#define ICMP_INTERVAL_MS 100   /* between two echo requests of a run */

/* Builds an echo request (ICMP type 8, or ICMPv6 type 128 when v6) with ident and seq and a
 * payload of size bytes: stamp as 8 big-endian bytes when size >= 8, then the pattern (payload
 * byte i holds i & 0xff); with size < 8 the pattern only. The IPv4 checksum is computed; the
 * ICMPv6 one is left 0 (the kernel computes it, it covers the addresses). Writes into out (cap
 * bytes). Returns the packet's length, or -EINVAL if size exceeds ICMP_MAX_PAYLOAD or the packet
 * does not fit cap (out untouched). */
int icmp_echo_build(uint8_t *out, size_t cap, int v6, uint16_t ident, uint16_t seq, uint64_t stamp,
                    size_t size);

/* One echo reply as parsed: pointers into the parsed buffer. */
typedef struct icmp_reply {
    uint16_t ident, seq;
    int ttl;                /* from the IPv4 header (with_ip), else -1 */
    const uint8_t *payload; /* after the ICMP header */
    size_t plen;
} icmp_reply;

/* Parses one datagram read from an ICMP socket: ICMPv6 when v6, else ICMP; with_ip when it
 * starts with the IPv4 header (raw IPv4 sockets). Returns 0 with *out filled for a
 * well-formed echo reply; -EINVAL for anything else (truncated, bad IP header, another ICMP
 * type or code, bad IPv4 checksum) with *why set to a static reason and *out untouched. */
int icmp_reply_parse(const uint8_t *p, size_t len, int v6, int with_ip, icmp_reply *out,
                     const char **why);

/* Returns 1 if payload (plen bytes) is what icmp_echo_build wrote for size and stamp, else 0. */
int icmp_payload_ok(const uint8_t *payload, size_t plen, size_t size, uint64_t stamp);

/* Round-trip time statistics of a run (seconds). stddev is the population's (as ping's mdev
 * and fping's), median the middle value or the mean of the two middle ones. */
typedef struct icmp_stats {
    double min, avg, median, max, stddev;
} icmp_stats;

/* Sorts rtts (n values, in place) and fills *out. Returns 0, or -EINVAL when n is 0 (*out
 * untouched). */
int icmp_stats_compute(double *rtts, size_t n, icmp_stats *out);

/* Loss ratio: 1 - received / sent, 1 when nothing was sent, clamped to 0..1. */
double icmp_loss_ratio(unsigned sent, unsigned received);

/* The sequence table: 16-bit sequence number -> the caller's packet (non-NULL pointer). Two
 * levels (256 pages of 256 slots, a page made when first used and freed when emptied), so an
 * agent with a few probes keeps a page or two while 512 runs of 100 packets still get O(1)
 * look-ups. Owned by its caller: icmp_seqtab_init/icmp_seqtab_free pair. */
typedef struct icmp_seqtab {
    void **page[256];
    uint16_t used[256];
    size_t len; /* entries */
} icmp_seqtab;

void icmp_seqtab_init(icmp_seqtab *t);
/* Frees the pages (not the values). */
void icmp_seqtab_free(icmp_seqtab *t);
/* Stores v (non-NULL) under seq. Returns 0, -EEXIST if seq is taken, -EINVAL for a NULL v, or
 * -ENOMEM. */
int icmp_seqtab_put(icmp_seqtab *t, uint16_t seq, void *v);
/* Returns the value under seq, or NULL. */
void *icmp_seqtab_get(const icmp_seqtab *t, uint16_t seq);
/* Removes seq; returns its value or NULL. */
void *icmp_seqtab_del(icmp_seqtab *t, uint16_t seq);
/* Takes the first free sequence number at or after *next (wrapping), stores v under it, sets
 * *seq and advances *next past it. Returns 0, -EBUSY when all 65536 are in flight, -EINVAL or
 * -ENOMEM. */
int icmp_seqtab_alloc(icmp_seqtab *t, uint16_t *next, void *v, uint16_t *seq);

/* When a run with remaining_ms left before the scheduler's timeout ends itself, in ms from
 * now: a margin of 5% (at most 50 ms, at least 1 ms) before it, so the packets that did arrive
 * are reported instead of a bare timeout. At least 1. */
int64_t icmp_deadline_ms(int64_t remaining_ms);

#endif
