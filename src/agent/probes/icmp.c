/* icmp: the icmp probe — `count` echo requests 100 ms apart to one address, SmokePing-style
 * statistics of the replies (docs/probes.md, "icmp").
 *
 * One socket per address family serves every ICMP run on the loop (the type's shared state,
 * each socket opened when a run first needs it and watched with one uv_poll). We prefer the
 * unprivileged datagram ICMP socket (socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)), which Linux
 * allows when the process's group is inside net.ipv4.ping_group_range (for IPv6 too); its
 * kernel picks the echo identifier itself and delivers only the replies that carry it, without
 * the IP header. Otherwise we open a raw socket (CAP_NET_RAW): it sees every ICMP packet the
 * host receives, so we choose a random identifier, filter on it, skip the IPv4 header (raw
 * IPv6 sockets deliver no header) and let the kernel drop all but echo replies early
 * (ICMP_FILTER, ICMP6_FILTER).
 *
 * Replies are matched by sequence number: one 16-bit counter for all runs on the loop, and a
 * table seq -> packet (which names its run, its index and its send times). A reply must also
 * come from the run's address, have the run's payload length and carry the send time stamp
 * and pattern we put in (where the payload is long enough), so a stale or foreign reply that
 * happens to reuse a sequence number is ignored. Anything unparsable is ignored, never
 * trusted. cancel() (and a run's end) drops the run's table entries at once: late replies
 * then find nothing.
 *
 * Times: the send time is taken just before sendto, the receive time is the kernel's
 * (SO_TIMESTAMPNS, taken when the packet arrived, so a busy loop does not inflate the RTT),
 * checked against the monotonic clock (a wall-clock step between send and receive falls back
 * to uv_hrtime).
 *
 * A run sends its first request as soon as the address is known, the next ones 100 ms apart,
 * and ends when every request is answered or refused, or at its own deadline a little before
 * the scheduler's timeout (icmp_deadline_ms) so the replies that did arrive are reported.
 *
 * For tests: DASHDOT_ICMP_SOCKET=dgram or =raw (read once, when the shared state is made)
 * forces one kind of socket instead of trying datagram then raw. */
#include "icmp_int.h"
#include "probe.h"

#include "../../lib/log.h"
#include "../../lib/mem.h"
#include "resolve.h"

#include <errno.h>
#include <math.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef ICMP_FILTER /* <linux/icmp.h>, which clashes with <netinet/ip_icmp.h> */
#define ICMP_FILTER 1
#endif

/* ---- the parts without I/O (icmp_int.h) -------------------------------------------------- */

/* The Internet checksum (RFC 1071) of n bytes. */
static uint16_t inet_csum(const uint8_t *p, size_t n)
{
    uint64_t sum = 0;
    for (; n >= 2; p += 2, n -= 2)
        sum += (uint32_t)p[0] << 8 | p[1];
    if (n)
        sum += (uint32_t)p[0] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

int icmp_echo_build(uint8_t *out, size_t cap, int v6, uint16_t ident, uint16_t seq, uint64_t stamp,
                    size_t size)
{
    if (size > ICMP_MAX_PAYLOAD || cap < ICMP_HDR_LEN + size)
        return -EINVAL;
    out[0] = v6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO;
    out[1] = 0;
    put16(out + 2, 0);
    put16(out + 4, ident);
    put16(out + 6, seq);
    uint8_t *pl = out + ICMP_HDR_LEN;
    size_t i = 0;
    if (size >= ICMP_STAMP_LEN)
        for (; i < ICMP_STAMP_LEN; i++)
            pl[i] = (uint8_t)(stamp >> (56 - 8 * i));
    for (; i < size; i++)
        pl[i] = (uint8_t)i;
    if (!v6)
        put16(out + 2, inet_csum(out, ICMP_HDR_LEN + size));
    return (int)(ICMP_HDR_LEN + size);
}

int icmp_reply_parse(const uint8_t *p, size_t len, int v6, int with_ip, icmp_reply *out,
                     const char **why)
{
    int ttl = -1;
    if (with_ip && !v6) {
        if (len < 20) {
            *why = "shorter than an IPv4 header";
            return -EINVAL;
        }
        size_t hl = (size_t)(p[0] & 0x0f) * 4, tot = get16(p + 2);
        if (p[0] >> 4 != 4 || hl < 20 || hl > len) {
            *why = "bad IPv4 header";
            return -EINVAL;
        }
        if (p[9] != IPPROTO_ICMP) {
            *why = "not ICMP";
            return -EINVAL;
        }
        /* Linux hands raw sockets the packet as received, total length in network order. */
        if (tot < hl || tot > len) {
            *why = "IPv4 total length does not match the packet";
            return -EINVAL;
        }
        ttl = p[8];
        p += hl;
        len = tot - hl;
    }
    if (len < ICMP_HDR_LEN) {
        *why = "shorter than an ICMP header";
        return -EINVAL;
    }
    if (p[0] != (v6 ? ICMP6_ECHO_REPLY : ICMP_ECHOREPLY) || p[1] != 0) {
        *why = "not an echo reply";
        return -EINVAL;
    }
    if (!v6 && inet_csum(p, len) != 0) {
        *why = "bad ICMP checksum";
        return -EINVAL;
    }
    out->ident = get16(p + 4);
    out->seq = get16(p + 6);
    out->ttl = ttl;
    out->payload = p + ICMP_HDR_LEN;
    out->plen = len - ICMP_HDR_LEN;
    return 0;
}

int icmp_payload_ok(const uint8_t *payload, size_t plen, size_t size, uint64_t stamp)
{
    size_t i = 0;
    if (plen != size)
        return 0;
    if (size >= ICMP_STAMP_LEN)
        for (; i < ICMP_STAMP_LEN; i++)
            if (payload[i] != (uint8_t)(stamp >> (56 - 8 * i)))
                return 0;
    for (; i < size; i++)
        if (payload[i] != (uint8_t)i)
            return 0;
    return 1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int icmp_stats_compute(double *rtts, size_t n, icmp_stats *out)
{
    if (!n)
        return -EINVAL;
    qsort(rtts, n, sizeof *rtts, cmp_double);
    double sum = 0, var = 0;
    for (size_t i = 0; i < n; i++)
        sum += rtts[i];
    double avg = sum / (double)n;
    for (size_t i = 0; i < n; i++)
        var += (rtts[i] - avg) * (rtts[i] - avg);
    out->min = rtts[0];
    out->max = rtts[n - 1];
    out->avg = avg;
    out->median = n % 2 ? rtts[n / 2] : (rtts[n / 2 - 1] + rtts[n / 2]) / 2;
    out->stddev = sqrt(var / (double)n);
    return 0;
}

double icmp_loss_ratio(unsigned sent, unsigned received)
{
    if (!sent || received >= sent)
        return sent ? 0 : 1;
    return 1 - (double)received / (double)sent;
}

void icmp_seqtab_init(icmp_seqtab *t)
{
    memset(t, 0, sizeof *t);
}

void icmp_seqtab_free(icmp_seqtab *t)
{
    for (size_t i = 0; i < 256; i++)
        mem_free(t->page[i]);
    memset(t, 0, sizeof *t);
}

int icmp_seqtab_put(icmp_seqtab *t, uint16_t seq, void *v)
{
    void **pg = t->page[seq >> 8];
    if (!v)
        return -EINVAL;
    if (!pg && !(pg = t->page[seq >> 8] = mem_calloc(256, sizeof *pg)))
        return -ENOMEM;
    if (pg[seq & 0xff])
        return -EEXIST;
    pg[seq & 0xff] = v;
    t->used[seq >> 8]++;
    t->len++;
    return 0;
}

void *icmp_seqtab_get(const icmp_seqtab *t, uint16_t seq)
{
    void **pg = t->page[seq >> 8];
    return pg ? pg[seq & 0xff] : NULL;
}

void *icmp_seqtab_del(icmp_seqtab *t, uint16_t seq)
{
    void **pg = t->page[seq >> 8];
    void *v = pg ? pg[seq & 0xff] : NULL;
    if (!v)
        return NULL;
    pg[seq & 0xff] = NULL;
    t->len--;
    if (--t->used[seq >> 8] == 0) {
        mem_free(pg);
        t->page[seq >> 8] = NULL;
    }
    return v;
}

int icmp_seqtab_alloc(icmp_seqtab *t, uint16_t *next, void *v, uint16_t *seq)
{
    if (!v)
        return -EINVAL;
    for (uint32_t i = 0; i < 65536 && t->len < 65536; i++) {
        uint16_t s = (uint16_t)(*next + i);
        int rc = icmp_seqtab_put(t, s, v);
        if (rc == -EEXIST)
            continue;
        if (rc)
            return rc;
        *seq = s;
        *next = (uint16_t)(s + 1);
        return 0;
    }
    return -EBUSY;
}

int64_t icmp_deadline_ms(int64_t remaining_ms)
{
    int64_t margin = remaining_ms / 20;
    if (margin > 50)
        margin = 50;
    if (margin < 1)
        margin = 1;
    return remaining_ms - margin > 0 ? remaining_ms - margin : 1;
}

/* ---- shared state: one socket per address family ------------------------------------------ */

enum { MODE_AUTO, MODE_DGRAM, MODE_RAW };
enum { PKT_UNSENT, PKT_INFLIGHT, PKT_ANSWERED, PKT_FAILED };

#define RBUF_LEN 65536 /* the largest IPv4 packet, header included */
#define RECV_BURST 256 /* datagrams read per readiness callback, so others get the loop too */
#define RCVBUF_BYTES (1 << 20)

typedef struct icmp_shared icmp_shared;
typedef struct icmp_run icmp_run;

typedef struct icmp_sock {
    icmp_shared *sh;
    uv_poll_t poll;
    int fd;
    int raw; /* raw socket (our identifier) rather than datagram */
    int v6;
    uint16_t ident; /* raw sockets: the identifier we send and filter on */
} icmp_sock;

struct icmp_shared {
    uv_loop_t *loop;
    int mode;
    icmp_sock *s[2]; /* [0] IPv4, [1] IPv6; NULL until a run needs it */
    uint16_t ident;  /* for raw sockets */
    icmp_seqtab tab;
    uint16_t next_seq;
    uint8_t *rbuf;
    uint8_t *sbuf;
    size_t sbufcap;
    int open_handles; /* sockets whose poll handle libuv has not closed yet */
    int closing;
};

typedef struct icmp_pkt {
    icmp_run *run;
    uint64_t sent_ns; /* uv_hrtime() at send; also the payload's stamp */
    int64_t sent_rt;  /* CLOCK_REALTIME (ns) at send, against the kernel's receive stamp */
    double rtt;       /* seconds, once answered */
    uint16_t seq;
    uint8_t state;
} icmp_pkt;

typedef struct icmp_prep {
    unsigned count;
    size_t size;
    resolve_family fam;
} icmp_prep;

struct icmp_run {
    probe_run *r; /* NULL once released */
    icmp_shared *sh;
    const icmp_prep *p;
    resolve_req *rq;
    uv_timer_t timer;
    struct sockaddr_storage addr;
    socklen_t alen;
    int v6, resolved;
    uint64_t t0;                  /* uv_hrtime() at start */
    uint64_t deadline, next_send; /* loop time (ms) */
    unsigned attempted, inflight, received;
    int ttl;      /* hop limit of the last reply; -1 none */
    int send_err; /* the first errno of a refused send */
    icmp_pkt pkts[];
};

static void shared_free_now(icmp_shared *sh)
{
    icmp_seqtab_free(&sh->tab);
    mem_free(sh->rbuf);
    mem_free(sh->sbuf);
    mem_free(sh);
}

static void on_sock_closed(uv_handle_t *h)
{
    icmp_sock *s = h->data;
    icmp_shared *sh = s->sh;
    close(s->fd);
    mem_free(s);
    if (--sh->open_handles == 0 && sh->closing)
        shared_free_now(sh);
}

/* Stops watching the socket; it is closed and freed once libuv lets go of its handle. */
static void sock_close(icmp_shared *sh, int v6)
{
    icmp_sock *s = sh->s[v6];
    sh->s[v6] = NULL;
    if (s) {
        uv_poll_stop(&s->poll);
        uv_close((uv_handle_t *)&s->poll, on_sock_closed);
    }
}

static int icmp_shared_init(uv_loop_t *loop, void **shared)
{
    icmp_shared *sh = mem_calloc(1, sizeof *sh);
    if (!sh)
        return -ENOMEM;
    sh->loop = loop;
    const char *m = getenv("DASHDOT_ICMP_SOCKET");
    sh->mode = m && !strcmp(m, "raw")     ? MODE_RAW
               : m && !strcmp(m, "dgram") ? MODE_DGRAM
                                          : MODE_AUTO;
    icmp_seqtab_init(&sh->tab);
    /* Random identifier and first sequence number: two agents (or `dashdot probe` runs) on one
     * host with raw sockets tell their replies apart, and a restarted agent does not reuse the
     * numbers of its predecessor's late replies. */
    uint16_t rnd[2];
    if (uv_random(NULL, NULL, rnd, sizeof rnd, 0, NULL)) {
        uint64_t t = uv_hrtime();
        rnd[0] = (uint16_t)(getpid() ^ t);
        rnd[1] = (uint16_t)(t >> 16);
    }
    sh->ident = rnd[0];
    sh->next_seq = rnd[1];
    *shared = sh;
    return 0;
}

static void icmp_shared_free(void *shared)
{
    icmp_shared *sh = shared;
    if (!sh)
        return;
    sh->closing = 1;
    sock_close(sh, 0);
    sock_close(sh, 1);
    if (sh->open_handles == 0)
        shared_free_now(sh);
}

static void on_readable(uv_poll_t *h, int status, int events);

/* Sets socket options. Those that fail only cost a feature (hop limit, kernel time stamps,
 * early filtering in the kernel), so they are not errors. */
static void sock_options(icmp_sock *s)
{
    int one = 1, rcvbuf = RCVBUF_BYTES;
    setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    setsockopt(s->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    if (s->v6) {
        setsockopt(s->fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof one);
        if (s->raw) {
            struct icmp6_filter f;
            ICMP6_FILTER_SETBLOCKALL(&f);
            ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
            setsockopt(s->fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof f);
        }
    } else {
        setsockopt(s->fd, IPPROTO_IP, IP_RECVTTL, &one, sizeof one);
        if (s->raw) {
            uint32_t blocked = ~(1u << ICMP_ECHOREPLY);
            setsockopt(s->fd, SOL_RAW, ICMP_FILTER, &blocked, sizeof blocked);
        }
    }
}

/* Opens the family's socket unless it is open. Returns 0, or a negative code with the reason
 * in err. A failure is not remembered: the next run tries again (a capability or the sysctl
 * may have been granted meanwhile). */
static int sock_open(icmp_shared *sh, int v6, char *err, size_t errcap)
{
    int fam = v6 ? AF_INET6 : AF_INET, proto = v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
    int fd = -1, raw = 0, e_dgram = 0, e_raw = 0;
    if (sh->s[v6])
        return 0;
    if (!sh->rbuf && !(sh->rbuf = mem_alloc(RBUF_LEN)))
        return -ENOMEM;
    if (sh->mode != MODE_RAW) {
        fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
        if (fd < 0)
            e_dgram = errno;
    }
    if (fd < 0 && sh->mode != MODE_DGRAM) {
        fd = socket(fam, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
        if (fd < 0)
            e_raw = errno;
        else
            raw = 1;
    }
    if (fd < 0) {
        snprintf(err, errcap, "cannot open an ICMP%s socket:%s%s%s%s%s", v6 ? "v6" : "",
                 e_dgram ? " datagram: " : "", e_dgram ? strerror(e_dgram) : "",
                 e_dgram ? " (see net.ipv4.ping_group_range)" : "",
                 e_raw ? (e_dgram ? "; raw: " : " raw: ") : "", e_raw ? strerror(e_raw) : "");
        return -(e_raw ? e_raw : e_dgram);
    }
    icmp_sock *s = mem_calloc(1, sizeof *s);
    if (!s) {
        close(fd);
        return -ENOMEM;
    }
    *s = (icmp_sock){.sh = sh, .fd = fd, .raw = raw, .v6 = v6, .ident = sh->ident};
    sock_options(s);
    int e = uv_poll_init(sh->loop, &s->poll, fd);
    if (e) {
        close(fd);
        mem_free(s);
        snprintf(err, errcap, "cannot watch the ICMP socket: %s", uv_strerror(e));
        return e;
    }
    s->poll.data = s;
    sh->open_handles++;
    sh->s[v6] = s;
    if ((e = uv_poll_start(&s->poll, UV_READABLE, on_readable))) {
        sock_close(sh, v6);
        snprintf(err, errcap, "cannot watch the ICMP socket: %s", uv_strerror(e));
        return e;
    }
    log_debug("icmp: %s %s socket open", v6 ? "ICMPv6" : "ICMP", raw ? "raw" : "datagram");
    return 0;
}

/* ---- runs ---------------------------------------------------------------------------------- */

static void on_run_closed(uv_handle_t *h)
{
    mem_free(h->data);
}

/* Forgets the run everywhere (table entries, lookup, timer) and frees it once libuv has closed
 * its timer. Late replies to its packets then find nothing. */
static void release(icmp_run *st)
{
    for (unsigned i = 0; i < st->attempted; i++)
        if (st->pkts[i].state == PKT_INFLIGHT) {
            icmp_seqtab_del(&st->sh->tab, st->pkts[i].seq);
            st->pkts[i].state = PKT_FAILED;
        }
    resolve_cancel(st->rq);
    st->rq = NULL;
    st->r = NULL;
    uv_timer_stop(&st->timer);
    uv_close((uv_handle_t *)&st->timer, on_run_closed);
}

static void add_stat(probe_run *r, const char *stat, double v)
{
    const char *l[] = {"stat", stat, NULL};
    probe_run_add(r, "probe_icmp_rtt_seconds", l, v);
}

/* Reports the packets and ends the run. */
static void finish(icmp_run *st, const char *why)
{
    probe_run *r = st->r;
    double rtts[ICMP_MAX_COUNT];
    size_t n = 0;
    char msg[PROBE_MSG_MAX] = "";
    for (unsigned i = 0; i < st->attempted; i++)
        if (st->pkts[i].state == PKT_ANSWERED)
            rtts[n++] = st->pkts[i].rtt;
    if (st->resolved) {
        probe_run_add(r, "probe_icmp_packets_sent", NULL, st->attempted);
        probe_run_add(r, "probe_icmp_packets_received", NULL, st->received);
        probe_run_add(r, "probe_icmp_packet_loss_ratio", NULL,
                      icmp_loss_ratio(st->attempted, st->received));
    }
    icmp_stats s;
    if (icmp_stats_compute(rtts, n, &s) == 0) {
        const char *rtt[] = {"phase", "rtt", NULL};
        probe_run_add(r, "probe_icmp_duration_seconds", rtt, s.median);
        add_stat(r, "min", s.min);
        add_stat(r, "avg", s.avg);
        add_stat(r, "median", s.median);
        add_stat(r, "max", s.max);
        add_stat(r, "stddev", s.stddev);
        if (st->ttl >= 0)
            probe_run_add(r, "probe_icmp_reply_hop_limit", NULL, st->ttl);
    }
    if (why)
        snprintf(msg, sizeof msg, "%s", why);
    else if (n && n < st->attempted)
        snprintf(msg, sizeof msg, "%zu of %u echo requests answered", n, st->attempted);
    else if (n && st->attempted < st->p->count) /* count * 100 ms exceeds the timeout */
        snprintf(msg, sizeof msg, "only %u of %u echo requests fit in the timeout", st->attempted,
                 st->p->count);
    else if (!n && st->send_err)
        snprintf(msg, sizeof msg, "no reply; send: %s", strerror(st->send_err));
    else if (!n)
        snprintf(msg, sizeof msg, "no reply to %u echo request%s", st->attempted,
                 st->attempted == 1 ? "" : "s");
    release(st);
    if (msg[0])
        probe_run_done(r, n > 0, "%s", msg);
    else
        probe_run_done(r, 1, NULL);
}

/* Sends the run's next echo request. A refused send counts as sent and lost. */
static void send_next(icmp_run *st)
{
    icmp_shared *sh = st->sh;
    icmp_sock *s = sh->s[st->v6];
    icmp_pkt *p = &st->pkts[st->attempted++];
    size_t need = ICMP_HDR_LEN + st->p->size;
    p->run = st;
    p->state = PKT_FAILED;
    if (sh->sbufcap < need) {
        uint8_t *b = mem_realloc(sh->sbuf, need);
        if (!b) {
            st->send_err = st->send_err ? st->send_err : ENOMEM;
            return;
        }
        sh->sbuf = b;
        sh->sbufcap = need;
    }
    int rc = icmp_seqtab_alloc(&sh->tab, &sh->next_seq, p, &p->seq);
    if (rc) {
        st->send_err = st->send_err ? st->send_err : -rc;
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    p->sent_rt = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    p->sent_ns = uv_hrtime();
    int len = icmp_echo_build(sh->sbuf, sh->sbufcap, st->v6, s->raw ? s->ident : 0, p->seq,
                              p->sent_ns, st->p->size);
    ssize_t sent =
        len < 0 ? -1
                : sendto(s->fd, sh->sbuf, (size_t)len, 0, (struct sockaddr *)&st->addr, st->alen);
    if (sent != len) {
        if (!st->send_err)
            st->send_err = sent < 0 ? errno : EMSGSIZE;
        icmp_seqtab_del(&sh->tab, p->seq);
        return;
    }
    p->state = PKT_INFLIGHT;
    st->inflight++;
}

static void on_timer(uv_timer_t *t);

/* Advances the run: sends what is due, ends it when all is answered or at the deadline, else
 * sleeps until the next send or the deadline. */
static void step(icmp_run *st)
{
    uint64_t now = uv_now(st->sh->loop);
    if (now >= st->deadline) {
        finish(st, st->resolved ? NULL : "name resolution did not finish before the timeout");
        return;
    }
    if (st->resolved) {
        if (st->attempted < st->p->count && now >= st->next_send) {
            send_next(st);
            st->next_send = now + ICMP_INTERVAL_MS;
        }
        if (st->attempted == st->p->count && st->inflight == 0) {
            finish(st, NULL);
            return;
        }
    }
    uint64_t wake = st->deadline;
    if (st->resolved && st->attempted < st->p->count && st->next_send < wake)
        wake = st->next_send;
    uv_timer_start(&st->timer, on_timer, wake - now, 0);
}

static void on_timer(uv_timer_t *t)
{
    step(t->data);
}

static int same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                   &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr));
}

/* Handles one datagram read from socket s at hr_now (uv_hrtime); kts: the kernel's receive
 * time (CLOCK_REALTIME ns, 0 if none), hop: the cmsg's TTL / hop limit (-1 if none). */
static void on_datagram(icmp_sock *s, const uint8_t *p, size_t len,
                        const struct sockaddr_storage *from, uint64_t hr_now, int64_t kts, int hop)
{
    icmp_reply rep;
    const char *why;
    if (icmp_reply_parse(p, len, s->v6, s->raw && !s->v6, &rep, &why))
        return;
    if (s->raw && rep.ident != s->ident)
        return; /* another program's echo */
    icmp_pkt *pk = icmp_seqtab_get(&s->sh->tab, rep.seq);
    if (!pk)
        return; /* late (its run ended), duplicate or foreign */
    icmp_run *st = pk->run;
    if (st->v6 != s->v6 || !same_addr(from, &st->addr) ||
        !icmp_payload_ok(rep.payload, rep.plen, st->p->size, pk->sent_ns)) {
        log_debug("icmp: ignored a reply with sequence %u: not the run's", rep.seq);
        return;
    }
    uint64_t mono = hr_now - pk->sent_ns;
    int64_t k = kts ? kts - pk->sent_rt : -1;
    /* The kernel's time when it is sane: after the send, and not after we read the packet
     * (1 ms slack for the two clocks' rates). */
    pk->rtt = (k > 0 && (uint64_t)k <= mono + 1000000 ? (double)k : (double)mono) / 1e9;
    pk->state = PKT_ANSWERED;
    icmp_seqtab_del(&s->sh->tab, rep.seq);
    st->inflight--;
    st->received++;
    st->ttl = hop >= 0 ? hop : rep.ttl;
    if (st->attempted == st->p->count && st->inflight == 0)
        finish(st, NULL);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    (void)events;
    icmp_sock *s = h->data;
    icmp_shared *sh = s->sh;
    if (status < 0)
        log_debug("icmp: poll: %s", uv_strerror(status));
    for (int i = 0; i < RECV_BURST && !sh->closing; i++) {
        struct sockaddr_storage from;
        union {
            char buf[512];
            struct cmsghdr align;
        } cm;
        struct iovec iov = {sh->rbuf, RBUF_LEN};
        struct msghdr m = {.msg_name = &from,
                           .msg_namelen = sizeof from,
                           .msg_iov = &iov,
                           .msg_iovlen = 1,
                           .msg_control = cm.buf,
                           .msg_controllen = sizeof cm.buf};
        memset(&from, 0, sizeof from);
        ssize_t n = recvmsg(s->fd, &m, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_debug("icmp: recvmsg: %s", strerror(errno));
            break;
        }
        uint64_t hr_now = uv_hrtime();
        if (m.msg_flags & MSG_TRUNC)
            continue;
        int64_t kts = 0;
        int hop = -1;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS &&
                c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
                struct timespec ts;
                memcpy(&ts, CMSG_DATA(c), sizeof ts);
                kts = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
            } else if (((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
                        (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) &&
                       c->cmsg_len >= CMSG_LEN(sizeof(int))) {
                memcpy(&hop, CMSG_DATA(c), sizeof hop);
                if (hop < 0 || hop > 255)
                    hop = -1;
            }
        }
        on_datagram(s, sh->rbuf, (size_t)n, &from, hr_now, kts, hop);
    }
}

static void on_resolved(void *ctx, int rc, const struct sockaddr *sa, socklen_t len,
                        const char *err)
{
    icmp_run *st = ctx;
    probe_run *r = st->r;
    char why[PROBE_MSG_MAX];
    st->rq = NULL;
    probe_run_add(r, "probe_dns_lookup_time_seconds", NULL, (double)(uv_hrtime() - st->t0) / 1e9);
    if (rc) {
        snprintf(why, sizeof why, "resolve %s: %s", probe_run_def(r)->address, err);
        finish(st, why);
        return;
    }
    st->v6 = sa->sa_family == AF_INET6;
    probe_run_add(r, "probe_ip_protocol", NULL, st->v6 ? 6 : 4);
    int e = sock_open(st->sh, st->v6, why, sizeof why);
    if (e) {
        finish(st, e == -ENOMEM ? "out of memory" : why);
        return;
    }
    memcpy(&st->addr, sa, len <= sizeof st->addr ? len : sizeof st->addr);
    st->alen = len <= sizeof st->addr ? len : sizeof st->addr;
    /* The port means nothing to ICMP, and a raw IPv6 socket refuses any but its protocol. */
    if (st->v6)
        ((struct sockaddr_in6 *)&st->addr)->sin6_port = 0;
    else
        ((struct sockaddr_in *)&st->addr)->sin_port = 0;
    st->resolved = 1;
    st->next_send = uv_now(st->sh->loop);
    step(st);
}

/* ---- the type ------------------------------------------------------------------------------ */

static int get_setting(const json_t *o, const char *k, int64_t lo, int64_t hi, int64_t *v,
                       char *err, size_t errcap)
{
    json_t *j = json_object_get(o, k);
    if (!j || json_is_null(j))
        return 0;
    if (!json_is_integer(j) || json_integer_value(j) < lo || json_integer_value(j) > hi) {
        snprintf(err, errcap, "\"%s\" must be an integer from %lld to %lld", k, (long long)lo,
                 (long long)hi);
        return -EINVAL;
    }
    *v = json_integer_value(j);
    return 0;
}

static int icmp_prepare(const probe_def *d, void **prep, char *err, size_t errcap)
{
    int64_t count = 3, size = 56;
    resolve_family fam = RESOLVE_ANY;
    if (!d->address[0]) {
        snprintf(err, errcap, "the endpoint has no address");
        return -EINVAL;
    }
    if (get_setting(d->settings, "count", 1, ICMP_MAX_COUNT, &count, err, errcap) ||
        get_setting(d->settings, "size", 0, ICMP_MAX_PAYLOAD, &size, err, errcap))
        return -EINVAL;
    json_t *ip = json_object_get(d->settings, "ip_protocol");
    if (ip && !json_is_null(ip)) {
        const char *v = json_string_value(ip);
        if (v && !strcmp(v, "ipv4"))
            fam = RESOLVE_IPV4;
        else if (v && !strcmp(v, "ipv6"))
            fam = RESOLVE_IPV6;
        else if (!v || strcmp(v, "auto")) {
            snprintf(err, errcap, "\"ip_protocol\" must be \"auto\", \"ipv4\" or \"ipv6\"");
            return -EINVAL;
        }
    }
    icmp_prep *p = mem_calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->count = (unsigned)count;
    p->size = (size_t)size;
    p->fam = fam;
    *prep = p;
    return 0;
}

static void icmp_release(void *prep)
{
    mem_free(prep);
}

static void icmp_start(probe_run *r)
{
    const probe_def *d = probe_run_def(r);
    const icmp_prep *p = d->prep;
    icmp_shared *sh = probe_run_shared(r);
    resolver *res = probe_run_resolver(r);
    if (!sh || !res) {
        probe_run_done(r, 0, "out of memory or no resolver");
        return;
    }
    icmp_run *st = mem_calloc(1, sizeof *st + p->count * sizeof st->pkts[0]);
    if (!st) {
        probe_run_done(r, 0, "out of memory");
        return;
    }
    st->r = r;
    st->sh = sh;
    st->p = p;
    st->ttl = -1;
    st->t0 = uv_hrtime();
    uv_timer_init(sh->loop, &st->timer);
    st->timer.data = st;
    st->deadline = uv_now(sh->loop) + (uint64_t)icmp_deadline_ms(probe_run_remaining_ms(r));
    uv_timer_start(&st->timer, on_timer, st->deadline - uv_now(sh->loop), 0);
    probe_run_set_state(r, st);
    /* A numeric address answers at once: the run may have sent its first packet, or even
     * ended, before resolve_start returns; st is not touched after it. */
    if (resolve_start(res, d->address, 0, p->fam, on_resolved, st, &st->rq))
        finish(st, "out of memory");
}

static void icmp_cancel(probe_run *r)
{
    icmp_run *st = probe_run_state(r);
    if (st && st->r)
        release(st);
}

const probe_type probe_icmp_type = {
    .name = "icmp",
    .prepare = icmp_prepare,
    .release = icmp_release,
    .start = icmp_start,
    .cancel = icmp_cancel,
    .shared_init = icmp_shared_init,
    .shared_free = icmp_shared_free,
};
