#!/usr/bin/env python3
"""The HTTP(S) peer of tests/integration/probe_http.sh: a small server on 127.0.0.1 with one
path per behaviour the http probe must handle (status codes, redirects, JSON, gzip, slow,
huge and endless bodies, echoes of the request).

usage: server.py PORTFILE [--cert CERT --key KEY]
Binds 127.0.0.1 on a free port, writes the port to PORTFILE once listening, serves until
killed. With --cert/--key it speaks HTTPS (the handshake runs in the request's thread)."""

import argparse
import base64
import gzip
import json
import os
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LAST_MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT"  # 1445412480
JSON_DOC = {"status": "ok", "data": [{"state": "up"}], "n": 1.5, "i": 42, "b": True,
            "z": None, "s": "a=b", "deep": {"a": {"b": [0, [10, 20]]}}}
GZIP_TEXT = b"dashdot gzip test line\n" * 1000  # 23000 bytes, compresses well
HUGE = 11 * 1024 * 1024


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # no 40 ms Nagle + delayed-ACK stalls in the timings
    server_version = "probe-http-test/1"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def reply(self, code, body=b"", ctype="text/plain", headers=(), length=True):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        for k, v in headers:
            self.send_header(k, v)
        if length:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def handle_any(self):
        path = self.path.split("?", 1)[0]
        body = self.read_body()
        if path == "/ok":
            self.reply(200, b"ok\n", headers=[("Last-Modified", LAST_MODIFIED)])
        elif path.startswith("/status/"):
            code = int(path[len("/status/"):])
            self.reply(code, ("status %d\n" % code).encode())
        elif path == "/redirect":
            self.reply(302, b"", headers=[("Location", "/ok")])
        elif path.startswith("/redirect/"):  # /redirect/N: N more hops, then /ok
            n = int(path[len("/redirect/"):])
            self.reply(302, b"", headers=[("Location", "/redirect/%d" % (n - 1) if n > 1
                                           else "/ok")])
        elif path == "/redirect-ftp":
            self.reply(302, b"", headers=[("Location", "ftp://127.0.0.1:1/x")])
        elif path == "/redirect-to":  # ?url
            url = self.path.split("?", 1)[1]
            self.reply(302, b"", headers=[("Location", url)])
        elif path == "/json":
            self.reply(200, json.dumps(JSON_DOC).encode(), "application/json")
        elif path == "/badjson":
            self.reply(200, b'{"status": "ok", ', "application/json")
        elif path == "/gzip":
            if "gzip" in (self.headers.get("Accept-Encoding") or ""):
                self.reply(200, gzip.compress(GZIP_TEXT), headers=[("Content-Encoding", "gzip")])
            else:
                self.reply(200, GZIP_TEXT)
        elif path == "/nolength":
            self.reply(200, b"no length here\n", length=False)
        elif path == "/http10":
            self.protocol_version = "HTTP/1.0"
            self.reply(200, b"old\n")
        elif path == "/slow":
            time.sleep(30)
            self.reply(200, b"late\n")
        elif path == "/slowbody":  # headers at once, the body after 30 s
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.flush()
            time.sleep(30)
            self.wfile.write(b"late\n")
        elif path == "/huge":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(HUGE))
            self.end_headers()
            chunk = b"x" * 65536
            for _ in range(HUGE // len(chunk)):
                self.wfile.write(chunk)
        elif path == "/endless":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            chunk = b"y" * 65536
            deadline = time.monotonic() + 120  # never outlive a test by much
            while time.monotonic() < deadline:
                self.wfile.write(chunk)
        elif path == "/headers":
            auth = self.headers.get("Authorization") or ""
            basic = ""
            if auth.startswith("Basic "):
                basic = base64.b64decode(auth[6:]).decode("utf-8", "replace")
            doc = {"headers": {k.lower(): v for k, v in self.headers.items()},
                   "authorization": auth, "basic": basic}
            self.reply(200, json.dumps(doc).encode(), "application/json")
        elif path == "/post":
            doc = {"method": self.command, "body": body.decode("utf-8", "replace"),
                   "content_type": self.headers.get("Content-Type") or ""}
            self.reply(200, json.dumps(doc).encode(), "application/json")
        else:
            self.reply(404, b"not found\n")

    do_GET = do_HEAD = do_POST = do_PUT = do_OPTIONS = do_DELETE = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, ctx):
        self.ctx = ctx
        super().__init__(("127.0.0.1", 0), Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.ctx:
            # The handshake happens on the first read, in the request's thread, so a client
            # that never handshakes cannot stall the accept loop.
            sock = self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        pass  # clients that hang up (bounded bodies, timeouts) are expected


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("portfile")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    a = ap.parse_args()
    ctx = None
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
    srv = Server(ctx)
    tmp = a.portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, a.portfile)
    srv.serve_forever()


if __name__ == "__main__":
    main()
