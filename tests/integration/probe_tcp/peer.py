#!/usr/bin/env python3
"""TCP peers for tests/integration/probe_tcp.sh, bound to 127.0.0.1 only.

usage: peer.py MODE PORT
  smtp     says "220 ready", answers "HELO ..." with "250 ok", "QUIT" with "221 bye" and
           closes; anything else gets "500 what"
  hold     accepts and keeps the connection open without a word
  backlog  listens with a full accept queue and never accepts: further connects hang
"""
import socket
import sys
import threading
import time

mode, port = sys.argv[1], int(sys.argv[2])
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))


def smtp(c):
    try:
        c.sendall(b"220 ready\r\n")
        for line in c.makefile("rb"):
            if line.startswith(b"HELO"):
                c.sendall(b"250 ok\r\n")
            elif line.startswith(b"QUIT"):
                c.sendall(b"221 bye\r\n")
                break
            else:
                c.sendall(b"500 what\r\n")
    except OSError:
        pass  # the probe may hang up at any point
    c.close()


def hold(c):
    try:
        while c.recv(4096):
            pass
    except OSError:
        pass
    c.close()


if mode == "backlog":
    # Linux drops a SYN while the accept queue is full: the client's connect hangs.
    srv.listen(0)
    fillers = []
    for _ in range(2):
        f = socket.socket()
        f.setblocking(False)
        f.connect_ex(("127.0.0.1", port))
        fillers.append(f)
    while True:
        time.sleep(3600)

srv.listen(16)
handler = {"smtp": smtp, "hold": hold}[mode]
while True:
    conn, _ = srv.accept()
    threading.Thread(target=handler, args=(conn,), daemon=True).start()
