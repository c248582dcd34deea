/* fuzz_icmp: what an ICMP socket reads, through the icmp probe's reply parser and payload check
 * (icmp_int.h). The first byte picks the socket kind: bit 0 ICMPv6, bit 1 raw IPv4 (IP header
 * first); the rest is the datagram. */
#include "agent/probes/icmp_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int v6 = data[0] & 1, with_ip = (data[0] >> 1) & 1;
    /* A copy of exactly the datagram's length, so a read past it is caught. */
    size_t n = size - 1;
    uint8_t *p = malloc(n ? n : 1);
    if (!p)
        return 0;
    memcpy(p, data + 1, n);
    icmp_reply r;
    const char *why = NULL;
    if (icmp_reply_parse(p, n, v6, with_ip, &r, &why) == 0) {
        if (r.payload < p + 8 || r.payload + r.plen > p + n)
            abort();
        (void)icmp_payload_ok(r.payload, r.plen, 56, 0x0102030405060708ull);
        (void)icmp_payload_ok(r.payload, r.plen, r.plen, 0);
    } else if (!why) {
        abort();
    }
    free(p);
    return 0;
}
