#!/usr/bin/env python3
"""A misbehaving SNMP agent for tests/integration/probe_snmp.sh, on 127.0.0.1 only.

usage: fakeagent.py PORT MODE

MODE
  drop       reads every request and never answers
  garbage    answers every request with random bytes (sometimes a cut real answer)
  backwards  answers GETs, but walks go back to a smaller OID inside the subtree
  endless    answers GETs; walks never end (every answer is a bigger OID in the subtree)
  big        answers GETs with 15000-byte strings; walks end at once
  ifmib:N    a well-behaved v2c agent with the system group and an IF-MIB of N interfaces
             (for measuring the probe's cost per interface)

It speaks just enough SNMPv1/v2c BER to read a request and build an answer, exits after
120 s in any case, and prints "ready" once its socket is bound.
"""
import os
import random
import socket
import sys
import time


def ber_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, content):
    return bytes([tag]) + ber_len(len(content)) + content


def ber_int(v, tag=0x02):
    n = max(1, (v.bit_length() + 8) // 8)
    return tlv(tag, v.to_bytes(n, "big", signed=True))


def ber_uint(v, tag):
    b = v.to_bytes(max(1, (v.bit_length() + 7) // 8), "big")
    if b[0] & 0x80:
        b = b"\x00" + b
    return tlv(tag, b)


def ber_oid(oid):
    out = bytearray([40 * oid[0] + oid[1]])
    for sub in oid[2:]:
        chunk = [sub & 0x7F]
        sub >>= 7
        while sub:
            chunk.append(0x80 | (sub & 0x7F))
            sub >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, bytes(out))


def read_tlv(data, pos):
    tag = data[pos]
    n = data[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(data[pos:pos + k], "big")
        pos += k
    return tag, data[pos:pos + n], pos + n


def read_int(content):
    return int.from_bytes(content, "big", signed=True)


def read_oid(content):
    oid = [content[0] // 40, content[0] % 40]
    sub = 0
    for b in content[1:]:
        sub = (sub << 7) | (b & 0x7F)
        if not b & 0x80:
            oid.append(sub)
            sub = 0
    return oid


def parse(data):
    """Returns (version, community, pdu tag, request id, non-repeaters, max-repetitions, oids)."""
    _, msg, _ = read_tlv(data, 0)
    _, ver, pos = read_tlv(msg, 0)
    _, comm, pos = read_tlv(msg, pos)
    tag, pdu, _ = read_tlv(msg, pos)
    _, rid, p = read_tlv(pdu, 0)
    _, a, p = read_tlv(pdu, p)
    _, b, p = read_tlv(pdu, p)
    _, vbs, _ = read_tlv(pdu, p)
    oids, q = [], 0
    while q < len(vbs):
        _, vb, q = read_tlv(vbs, q)
        _, o, _ = read_tlv(vb, 0)
        oids.append(read_oid(o))
    return read_int(ver), comm, tag, read_int(rid), read_int(a), read_int(b), oids


def answer(ver, comm, rid, varbinds):
    body = b"".join(tlv(0x30, ber_oid(o) + v) for o, v in varbinds)
    pdu = ber_int(rid) + ber_int(0) + ber_int(0) + tlv(0x30, body)
    return tlv(0x30, ber_int(ver) + tlv(0x04, comm) + tlv(0xA2, pdu))


def get_value(oid, mode):
    if oid == [1, 3, 6, 1, 2, 1, 1, 3, 0]:
        return ber_uint(4242, 0x43)  # TimeTicks
    if mode == "big":
        return tlv(0x04, b"x" * 15000)
    return tlv(0x04, b"fake agent")


SENT = set()  # OIDs this agent returned from walks


def walk_step(oid, mode):
    if mode == "big":
        return [1, 3, 6, 1, 9, 9, 9]  # past everything: every walk ends
    if tuple(oid) in SENT:  # the walk goes on from something we sent
        nxt = oid[:-1] + [oid[-1] + 1 if mode == "endless" else max(oid[-1] - 1, 0)]
    else:  # a subtree's root
        nxt = oid + [5]
    SENT.add(tuple(nxt))
    return nxt


def ifmib(n):
    """A sorted MIB: the system group and ifTable/ifXTable rows for n interfaces."""
    mib = {
        (1, 3, 6, 1, 2, 1, 1, 1, 0): tlv(0x04, b"fake switch"),
        (1, 3, 6, 1, 2, 1, 1, 2, 0): ber_oid([1, 3, 6, 1, 4, 1, 99999]),
        (1, 3, 6, 1, 2, 1, 1, 3, 0): ber_uint(4242, 0x43),
        (1, 3, 6, 1, 2, 1, 1, 5, 0): tlv(0x04, b"fake-switch"),
    }
    for i in range(1, n + 1):
        t = (1, 3, 6, 1, 2, 1, 2, 2, 1)
        x = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)
        mib[t + (1, i)] = ber_int(i)
        mib[t + (2, i)] = tlv(0x04, b"port %d" % i)
        mib[t + (3, i)] = ber_int(6)
        for col in (7, 8):
            mib[t + (col, i)] = ber_int(1)
        for col in (10, 11, 13, 14, 16, 17, 19, 20):
            mib[t + (col, i)] = ber_uint(1000 * i + col, 0x41)
        mib[x + (1, i)] = tlv(0x04, b"Gi0/%d" % i)
        for col in (6, 7, 10, 11):
            mib[x + (col, i)] = ber_uint(10**12 + i, 0x46)
        mib[x + (15, i)] = ber_uint(1000, 0x42)
        mib[x + (18, i)] = tlv(0x04, b"uplink %d" % i)
    keys = sorted(mib)
    return keys, mib


def main():
    port, mode = int(sys.argv[1]), sys.argv[2]
    keys = table = None
    if mode.startswith("ifmib:"):
        keys, table = ifmib(int(mode.split(":")[1]))
        import bisect
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    s.settimeout(0.5)
    print("ready", flush=True)
    rnd = random.Random(7)
    end = time.monotonic() + 120
    while time.monotonic() < end:
        try:
            data, peer = s.recvfrom(65535)
        except socket.timeout:
            continue
        if mode == "drop":
            continue
        if mode == "garbage":
            junk = os.urandom(rnd.randint(1, 300))
            if rnd.random() < 0.3:
                junk = data[: rnd.randint(1, len(data))]  # a cut echo of the request
            s.sendto(junk, peer)
            continue
        try:
            ver, comm, tag, rid, nonrep, maxrep, oids = parse(data)
        except (IndexError, ValueError):
            continue
        if table is not None:
            vbs = []
            if tag == 0xA0:
                vbs = [(o, table.get(tuple(o), tlv(0x80, b""))) for o in oids]
            else:
                cur = list(oids)
                for _ in range(max(1, maxrep) if tag == 0xA5 else 1):
                    row = []
                    for o in cur:
                        k = bisect.bisect_right(keys, tuple(o))
                        row.append((list(keys[k]), table[keys[k]]) if k < len(keys)
                                   else (o, tlv(0x82, b"")))
                    vbs += row
                    cur = [o for o, _ in row]
                    if len(vbs) > 150:
                        break
        elif tag == 0xA0:  # GET
            vbs = [(o, get_value(o, mode)) for o in oids]
        else:  # GETNEXT (one row) or GETBULK (maxrep rows, row by row)
            rows = max(1, maxrep) if tag == 0xA5 else 1
            cur, vbs = list(oids), []
            for _ in range(min(rows, 50)):
                cur = [walk_step(o, mode) for o in cur]
                vbs += [(o, ber_uint(7, 0x41)) for o in cur]
        s.sendto(answer(ver, comm, rid, vbs), peer)


if __name__ == "__main__":
    main()
