#!/usr/bin/env python3
"""A misbehaving DNS server for the dns probe's integration test, on 127.0.0.1 UDP.

usage: peer.py PORT MODE
  drop      reads every query and never answers
  random    answers 40 random bytes
  short     answers the first 5 bytes of the query (shorter than a header)
  loop      a well-formed header and question, then an answer whose name is a compression
            pointer to itself
  forward   an answer whose name is a compression pointer past the end of the message
  query     echoes the query back unchanged (QR 0: a query, not a response)
  counts    claims 60000 answer records and sends none
  wrongq    a correct answer to another question
  trailing  a correct empty answer followed by 3 garbage bytes
Prints "ready" once bound. Stops on SIGTERM."""
import os
import socket
import struct
import sys


def question_end(q):
    """Offset just after the (uncompressed) question of a query."""
    i = 12
    while q[i]:
        i += 1 + q[i]
    return i + 1 + 4


def answer(q, mode):
    qid = q[:2]
    flags = b"\x81\x80"  # QR, RD, RA, NOERROR
    qend = question_end(q)
    question = q[12:qend]
    if mode == "random":
        return os.urandom(40)
    if mode == "short":
        return q[:5]
    if mode == "query":
        return q
    if mode == "counts":
        return qid + flags + struct.pack(">HHHH", 1, 60000, 0, 0) + question
    if mode == "wrongq":
        other = b"\x05other\x04test\x00\x00\x01\x00\x01"
        return qid + flags + struct.pack(">HHHH", 1, 0, 0, 0) + other
    if mode == "trailing":
        return qid + flags + struct.pack(">HHHH", 1, 0, 0, 0) + question + b"\xde\xad\xbe"
    if mode in ("loop", "forward"):
        here = 12 + len(question)
        target = here if mode == "loop" else 0x3FFF
        rr = struct.pack(">H", 0xC000 | target) + struct.pack(">HHIH", 1, 1, 300, 4) + bytes(
            [192, 0, 2, 9])
        return qid + flags + struct.pack(">HHHH", 1, 1, 0, 0) + question + rr
    raise SystemExit("unknown mode " + mode)


def main():
    port, mode = int(sys.argv[1]), sys.argv[2]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    print("ready", flush=True)
    while True:
        q, peer = s.recvfrom(4096)
        if mode != "drop" and len(q) > 12:
            s.sendto(answer(q, mode), peer)


if __name__ == "__main__":
    main()
