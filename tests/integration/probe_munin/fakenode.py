#!/usr/bin/env python3
"""Misbehaving munin nodes for tests/integration/probe_munin.sh, bound to 127.0.0.1 only.

usage: fakenode.py MODE PORT
  silent   accepts and never says a word
  endless  sends a banner line that never ends
  ssh      is not a munin node at all
  cut      answers the banner, cap and list, then hangs up in the middle of a config answer
  huge     answers with a plugin whose config is endless (well-formed lines, more than 8 MiB)
  lines    answers the banner, cap and list properly, then sends no line end in config
"""
import socket
import sys
import threading
import time

mode, port = sys.argv[1], int(sys.argv[2])
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(16)


def session(c, f):
    """The node's side up to the list; returns False if the client went away."""
    c.sendall(b"# munin node at fake\n")
    if not f.readline().startswith(b"cap"):
        return False
    c.sendall(b"cap multigraph dirtyconfig\n")
    if not f.readline().startswith(b"list"):
        return False
    c.sendall(b"alpha\n")
    return f.readline().startswith(b"config alpha")


def handle(c):
    f = c.makefile("rb")
    try:
        if mode == "silent":
            while c.recv(4096):
                pass
        elif mode == "endless":
            chunk = b"# munin node at " + b"x" * 65536
            while True:
                c.sendall(chunk)
        elif mode == "ssh":
            c.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
            while c.recv(4096):
                pass
        elif mode == "cut":
            if session(c, f):
                c.sendall(b"graph_title Alpha\nx.label x\nx.ty")
        elif mode == "huge":
            if session(c, f):
                line = b"graph_info " + b"i" * 1000 + b"\n"
                while True:
                    c.sendall(line * 64)
        elif mode == "lines":
            if session(c, f):
                while True:
                    c.sendall(b"x" * 65536)
                    time.sleep(0.01)
    except OSError:
        pass
    c.close()


while True:
    conn, _ = srv.accept()
    threading.Thread(target=handle, args=(conn,), daemon=True).start()
