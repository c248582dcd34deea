#!/usr/bin/env python3
"""Checks the expected values of promqltest scripts (tests/promql/*.test) against a real
Prometheus (Debian's /usr/bin/prometheus, 2.42).

For each segment of a script (the commands between two `clear`s) a fresh Prometheus is started
on a free 127.0.0.1 port with an empty temp data dir; each `load` block is pushed to it by remote
write (protobuf + snappy, encoded here with the standard library: the snappy block holds
literals only, which every decoder accepts; staleness markers keep their special NaN bit
pattern), then each `eval` runs through /api/v1/query or /api/v1/query_range and its result is
compared with the expected lines (relative tolerance 1e-5, label sets exact, order only for
eval_ordered / expect ordered).

Timestamps are NOT shifted: script time 0 is unix time 0. Prometheus accepts samples at 1970
times by remote write into an empty head, and keeps them with a long retention.

A case whose comment lines directly above contain "prometheus 3 semantics" documents where
Prometheus 3 (dashdot's target) differs from 2.42 (left-open range windows and lookback,
functions 2.42 lacks, ...). Those are run too but counted apart: their agreement with 2.42 is
not expected.

Before a query is sent, double_exponential_smoothing( is renamed holt_winters( (its 2.x name).

usage: check_scripts.py [-v] [--prometheus BIN] FILE.test...
Prints each mismatch and, per file and in total, "N agree, N differ" (+ the marked cases).
Exit status 1 if an unmarked case differs.
"""
import argparse
import json
import math
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from promqltest_format import (STALE, STALE_NAN_BITS, Clear, Eval, Load, fmt_labels,  # noqa: E402
                               parse_script, values_equal)

P3_MARK = "prometheus 3 semantics"


# ---- remote write encoding (protobuf by hand + literal-only snappy) ----

def _varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field_bytes(num, data):
    return _varint(num << 3 | 2) + _varint(len(data)) + data


def encode_write_request(series):
    """series: list of (labels dict, [(ts_ms, value or STALE)])."""
    body = bytearray()
    for labels, samples in series:
        ts = bytearray()
        for k in sorted(labels):
            ts += _field_bytes(1, _field_bytes(1, k.encode()) + _field_bytes(2, labels[k].encode()))
        for t, v in samples:
            if v is STALE:
                raw = struct.pack("<Q", STALE_NAN_BITS)
            else:
                raw = struct.pack("<d", v)
            smp = _varint(1 << 3 | 1) + raw + _varint(2 << 3 | 0) + _varint(t)
            ts += _field_bytes(2, smp)
        body += _field_bytes(1, bytes(ts))
    return snappy_literal(bytes(body))


def snappy_literal(data):
    out = bytearray(_varint(len(data)))
    for i in range(0, len(data), 65536):
        chunk = data[i:i + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 256:
            out.append(60 << 2)
            out.append(n)
        else:
            out.append(61 << 2)
            out += struct.pack("<H", n)
        out += chunk
    return bytes(out)


def remote_write(url, series, token=None):
    req = urllib.request.Request(url, data=encode_write_request(series), method="POST")
    req.add_header("Content-Type", "application/x-protobuf")
    req.add_header("Content-Encoding", "snappy")
    req.add_header("X-Prometheus-Remote-Write-Version", "0.1.0")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            r.read()
    except urllib.error.HTTPError as e:
        raise RuntimeError("remote write: HTTP %d: %s" % (e.code, e.read()[:300].decode("utf-8", "replace")))


# ---- a Prometheus server per segment ----

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Prom:
    def __init__(self, binary):
        self.dir = tempfile.mkdtemp(prefix="promcheck-")
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1h\nstorage:\n  tsdb:\n    out_of_order_time_window: 36500d\n")
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(
            [binary, "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port, "--web.enable-remote-write-receiver",
             "--storage.tsdb.retention.time=36500d", "--query.lookback-delta=5m"],
            stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(300):
            try:
                with urllib.request.urlopen(self.base + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except Exception:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("prometheus did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def load_series(ld):
    """Load block -> remote-write series (sample times in ms from script time 0)."""
    out = []
    step_ms = int(round(ld.interval * 1000))
    for labels, vals in ld.series:
        samples = [(i * step_ms, v) for i, v in enumerate(vals) if v is not None]
        if samples:
            out.append((labels, samples))
    out.sort(key=lambda s: s[1][0][0])  # the first sample of the request must be the earliest
    return out


def fmt_ts(sec):
    return repr(float(sec)) if sec != int(sec) else str(int(sec))


def query(base, ev, expr):
    if ev.kind == "range":
        params = {"query": expr, "start": fmt_ts(ev.start), "end": fmt_ts(ev.end), "step": fmt_ts(ev.step)}
        url = base + "/api/v1/query_range"
    else:
        params = {"query": expr, "time": fmt_ts(ev.at)}
        url = base + "/api/v1/query"
    data = urllib.parse.urlencode(params).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=60) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        try:
            return json.loads(e.read())
        except Exception:
            return {"status": "error", "error": "HTTP %d" % e.code}


def pval(s):
    return float(s) if s not in ("+Inf", "-Inf", "NaN") else {"+Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}[s]


def compare(ev, resp):
    """Returns None if resp matches ev's expectation, else a message."""
    if resp.get("status") != "success":
        if ev.fail:
            return None
        return "query failed: %s" % resp.get("error")
    if ev.fail:
        return "expected a failure, got success: %s" % json.dumps(resp.get("data"))[:300]
    data = resp["data"]
    rtype, result = data["resultType"], data["result"]
    if ev.string is not None:
        if rtype != "string" or result[1] != ev.string:
            return "expected string %r, got %s %r" % (ev.string, rtype, result)
        return None
    if ev.scalar is not None:
        if rtype != "scalar":
            return "expected scalar %r, got %s %s" % (ev.scalar, rtype, json.dumps(result)[:300])
        if not values_equal(ev.scalar, pval(result[1])):
            return "expected scalar %r, got %s" % (ev.scalar, result[1])
        return None
    if rtype == "scalar":
        if ev.kind == "range":
            return "unexpected scalar result in range query"
        if ev.series:
            return "expected a vector, got scalar %s" % result[1]
        return "expected an empty vector, got scalar %s" % result[1]
    exp = {}
    order = []
    for labels, vals in ev.series:
        key = fmt_labels(labels)
        exp[key] = vals
        order.append(key)
    got = {}
    got_order = []
    for s in result:
        key = fmt_labels(s["metric"])
        if key in got:
            return "duplicate series in result: %s" % key
        got_order.append(key)
        if "values" in s:
            got[key] = [(float(t), pval(v)) for t, v in s["values"]]
        else:
            got[key] = [(float(s["value"][0]), pval(s["value"][1]))]
    msgs = []
    for k in order:
        if k not in got:
            msgs.append("missing %s %s" % (k, " ".join(fmtv(v) for v in exp[k])))
    for k in got_order:
        if k not in exp:
            msgs.append("unexpected %s %s" % (k, " ".join(fmtv(v) for _, v in got[k])))
    if msgs:
        return "; ".join(msgs)
    if ev.kind == "range" or ev.range_vector:
        if ev.kind == "range":
            start, step = ev.start, ev.step
        else:
            start, _, step = ev.range_vector
        for k in order:
            want = [(start + i * step, v) for i, v in enumerate(exp[k]) if v is not None]
            have = got[k]
            ok = len(want) == len(have) and all(
                abs(wt - ht) < 1e-6 and values_equal(wv, hv) for (wt, wv), (ht, hv) in zip(want, have))
            if not ok:
                msgs.append("%s: want %s, got %s" % (
                    k, " ".join("%s@%s" % (fmtv(v), fmt_ts(t)) for t, v in want),
                    " ".join("%s@%s" % (fmtv(v), fmt_ts(t)) for t, v in have)))
    else:
        for k in order:
            if rtype == "matrix":
                msgs.append("%s: got a range vector; the case needs `expect range vector`" % k)
                continue
            if not values_equal(exp[k][0], got[k][0][1]):
                msgs.append("%s: want %s, got %s" % (k, fmtv(exp[k][0]), fmtv(got[k][0][1])))
        if ev.ordered and order != got_order:
            msgs.append("order: want %s, got %s" % (order, got_order))
    return "; ".join(msgs) or None


def fmtv(v):
    if v is None:
        return "_"
    if v is STALE:
        return "stale"
    return repr(v)


def check_file(path, binary, verbose):
    with open(path) as f:
        cmds = parse_script(f.read())
    stats = {"agree": 0, "differ": 0, "p3_agree": 0, "p3_differ": 0}
    prom = None
    try:
        for cmd in cmds:
            if isinstance(cmd, Clear):
                if prom:
                    prom.stop()
                prom = None
                continue
            if prom is None:
                prom = Prom(binary)
            if isinstance(cmd, Load):
                series = load_series(cmd)
                if series:
                    remote_write(prom.base + "/api/v1/write", series)
                continue
            ev = cmd
            marked = any(P3_MARK in c for c in ev.comments)
            expr = ev.expr.replace("double_exponential_smoothing(", "holt_winters(")
            err = compare(ev, query(prom.base, ev, expr))
            key = ("p3_" if marked else "") + ("differ" if err else "agree")
            stats[key] += 1
            if err and (not marked or verbose):
                print("%s:%d: %s%s\n    %s" % (path, ev.line, "[marked p3] " if marked else "", ev.text, err))
            elif verbose and not err:
                print("%s:%d: ok%s" % (path, ev.line, " [marked p3]" if marked else ""))
    finally:
        if prom:
            prom.stop()
    return stats


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-v", "--verbose", action="store_true", help="also show marked cases that differ and every ok")
    ap.add_argument("--prometheus", default="/usr/bin/prometheus")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    total = {"agree": 0, "differ": 0, "p3_agree": 0, "p3_differ": 0}
    rows = []
    for p in a.files:
        st = check_file(p, a.prometheus, a.verbose)
        rows.append((os.path.basename(p), st))
        for k in total:
            total[k] += st[k]
    print()
    print("%-28s %7s %7s %12s %12s" % ("file", "agree", "differ", "p3 marked", "(p3 agree)"))
    for name, st in rows + [("TOTAL", total)]:
        print("%-28s %7d %7d %12d %12d" % (name, st["agree"], st["differ"], st["p3_agree"] + st["p3_differ"],
                                           st["p3_agree"]))
    print("%d agree, %d differ (plus %d cases marked 'prometheus 3 semantics', of which %d agree with 2.42)"
          % (total["agree"], total["differ"], total["p3_agree"] + total["p3_differ"], total["p3_agree"]))
    return 1 if total["differ"] else 0


if __name__ == "__main__":
    sys.exit(main())
