/* libFuzzer target: the dns probe's message codec (src/agent/probes/dns_int.h) must accept or
 * refuse any bytes without crashing, hanging, leaking or reading out of bounds. The first byte
 * picks the mode:
 *   even: the rest is an answer from a server: parsed; what is accepted must hold together
 *         (as many records as the header counts, every RDATA inside the message) and every
 *         record must format; the first question's name must survive text -> query -> text;
 *   odd:  the rest is a query name as a user writes it: a name that builds must read back as
 *         text that builds the same bytes again. */
#include "agent/probes/dns_int.h"
#include "lib/buf.h"
#include "lib/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* name (text) -> query -> text -> query: both queries must be equal. */
static void round_trip(const char *name)
{
    uint8_t q1[DNS_QUERY_MAX], q2[DNS_QUERY_MAX];
    size_t n1, n2;
    char text[DNS_NAME_TEXT_MAX], err[256];
    if (dns_query_build(name, 1, 0, 1, q1, &n1, err, sizeof err))
        return;
    if (dns_name_text(q1, n1, DNS_HEADER_LEN, text, sizeof text, NULL, err, sizeof err))
        abort();
    if (dns_query_build(text, 1, 0, 1, q2, &n2, err, sizeof err) || n1 != n2 || memcmp(q1, q2, n1))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *p = data + 1;
    size_t len = size - 1;
    if (data[0] & 1) {
        char name[600];
        if (len >= sizeof name)
            return 0;
        memcpy(name, p, len);
        name[len] = '\0';
        round_trip(name);
        return 0;
    }
    /* A copy of exactly the message's size, so any read past it is caught. */
    uint8_t *msg = mem_alloc(len ? len : 1);
    if (!msg)
        return 0;
    memcpy(msg, p, len);
    dns_msg m;
    char err[256];
    if (dns_msg_parse(msg, len, &m, err, sizeof err) == 0) {
        buf b;
        buf_init(&b, 1 << 20);
        if (m.nrr != (size_t)m.ancount + m.nscount + m.arcount)
            abort();
        for (size_t i = 0; i < m.nrr; i++) {
            if (m.rr[i].rdata + m.rr[i].rdlen > len || m.rr[i].name >= len)
                abort();
            buf_reset(&b);
            if (dns_rr_text(&m, &m.rr[i], &b))
                abort();
        }
        if (m.qdcount) {
            char q[DNS_NAME_TEXT_MAX];
            if (dns_name_text(m.p, m.len, m.qname, q, sizeof q, NULL, err, sizeof err))
                abort();
            round_trip(q);
        }
        buf_free(&b);
        dns_msg_free(&m);
    }
    mem_free(msg);
    return 0;
}
