#!/usr/bin/env python3
"""A Prometheus exporter for tests/integration/probe_scrape.sh, standard library only.

Usage: exporter.py PORT   (binds 127.0.0.1:PORT)

Every path serves one case of what the scrape probe must handle: a classic histogram and a
summary, OpenMetrics (with its Content-Type, _created, exemplars, UNIT, info and # EOF),
gzip, explicit timestamps, labels that collide with the probe's own, broken text, bodies that
never end or are too big (plain or gzip), n series, slow and failing answers, and an echo of
the request headers.
"""
import gzip
import http.server
import sys
import time
import urllib.parse

TEXT = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"

HISTOGRAM = """\
# HELP http_request_duration_seconds Request latency, with "quotes" and a \\\\ backslash.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{handler="/api",le="0.05"} 24054
http_request_duration_seconds_bucket{handler="/api",le="0.1"} 33444
http_request_duration_seconds_bucket{handler="/api",le="0.5"} 129389
http_request_duration_seconds_bucket{handler="/api",le="+Inf"} 144320
http_request_duration_seconds_sum{handler="/api"} 53423.5
http_request_duration_seconds_count{handler="/api"} 144320
# HELP rpc_duration_seconds A summary.
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{service="a",quantile="0.01"} 3102
rpc_duration_seconds{service="a",quantile="0.5"} 4773
rpc_duration_seconds{service="a",quantile="0.99"} NaN
rpc_duration_seconds_sum{service="a"} 1.7560473e+07
rpc_duration_seconds_count{service="a"} 2693
# a plain comment
escaped_info{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1
weird_value{problem="division by zero"} +Inf
"""

OM_BODY = """\
# TYPE acme_requests counter
# HELP acme_requests Requests served.
acme_requests_total{method="get"} 1027 1700000000.5 # {trace_id="KOO5S4vxi0o"} 1 1699999999.9
acme_requests_created{method="get"} 1600000000
# TYPE acme_latency_seconds histogram
# UNIT acme_latency_seconds seconds
acme_latency_seconds_bucket{le="0.1"} 8 # {trace_id="oHg5SJYRHA0"} 0.067
acme_latency_seconds_bucket{le="+Inf"} 17
acme_latency_seconds_count 17
acme_latency_seconds_sum 3.5
acme_latency_seconds_created 1600000000.25
# TYPE acme_build info
acme_build_info{version="1.2.3"} 1
# TYPE acme_state stateset
acme_state{acme_state="ready"} 1
acme_state{acme_state="busy"} 0
# EOF
"""

TIMESTAMPS = """\
with_ts{at="old"} 1 1700000000000
with_ts{at="future"} 2 4102444800000
without_ts 3
"""

COLLIDE = 'collide{job="scraped_job",instance="scraped_inst",exported_job="pre",empty=""} 1\n'

BROKEN = 'ok_a 1\nok_b 2\nok_c{x="y"} 3\nbad{x="1",x="2"} 4\nok_d 5\n'

OM_NO_EOF = "# TYPE x gauge\nx 1\n"

CHUNK = b"".join(b"filler_%06d{pad=\"%s\"} 1\n" % (i, b"x" * 40) for i in range(16384))
many_cache = {}
bomb_cache = []


def many(n):
    if n not in many_cache:
        many_cache.clear()
        many_cache[n] = "".join(
            'test_series{id="%d",group="g%d"} %d\n' % (i, i % 100, i) for i in range(n)).encode()
    return many_cache[n]


def bomb():
    if not bomb_cache:
        z = gzip.compress(CHUNK * 128, 1)  # ~100 MiB decoded
        bomb_cache.append(z)
    return bomb_cache[0]


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send(self, status, ctype, body, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        p = u.path
        try:
            self.route(p, q)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def route(self, p, q):
        accepts_gzip = "gzip" in self.headers.get("Accept-Encoding", "")
        if p == "/histogram":
            self.send(200, TEXT, HISTOGRAM.encode())
        elif p == "/openmetrics":
            self.send(200, OPENMETRICS, OM_BODY.encode())
        elif p == "/om-no-eof":
            self.send(200, OPENMETRICS, OM_NO_EOF.encode())
        elif p == "/gzip":
            if not accepts_gzip:
                self.send(406, "text/plain", b"gzip not accepted\n")
            else:
                self.send(200, TEXT, gzip.compress(HISTOGRAM.encode()),
                          [("Content-Encoding", "gzip")])
        elif p == "/headers":
            def esc(s):
                return s.replace("\\", "\\\\").replace('"', '\\"')
            h = self.headers
            body = ('request_info{accept="%s",accept_encoding="%s",user_agent="%s",'
                    'scrape_timeout="%s"} 1\n' % (
                        esc(h.get("Accept", "")), esc(h.get("Accept-Encoding", "")),
                        esc(h.get("User-Agent", "")),
                        esc(h.get("X-Prometheus-Scrape-Timeout-Seconds", ""))))
            self.send(200, TEXT, body.encode())
        elif p == "/timestamps":
            self.send(200, TEXT, TIMESTAMPS.encode())
        elif p == "/collide":
            self.send(200, TEXT, COLLIDE.encode())
        elif p == "/broken":
            self.send(200, TEXT, BROKEN.encode())
        elif p == "/error":
            self.send(500, "text/plain", b"internal error\n")
        elif p == "/slow":
            time.sleep(float(q.get("s", ["5"])[0]))
            self.send(200, TEXT, b"late 1\n")
        elif p == "/endless":
            # No Content-Length: the body ends when the connection does, i.e. never.
            self.send_response(200)
            self.send_header("Content-Type", TEXT)
            self.end_headers()
            while True:
                self.wfile.write(CHUNK)
        elif p == "/oversized":
            n = (70 << 20) // len(CHUNK) + 1
            self.send_response(200)
            self.send_header("Content-Type", TEXT)
            self.send_header("Content-Length", str(n * len(CHUNK)))
            self.end_headers()
            for _ in range(n):
                self.wfile.write(CHUNK)
        elif p == "/gzipbomb":
            self.send(200, TEXT, bomb(), [("Content-Encoding", "gzip")])
        elif p == "/many":
            self.send(200, TEXT, many(int(q.get("n", ["1000"])[0])))
        else:
            self.send(404, "text/plain", b"not found\n")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    srv = Server(("127.0.0.1", int(sys.argv[1])), Handler)
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
