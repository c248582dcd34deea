#!/usr/bin/env python3
"""Schedule figures of one kind of probe from a Prometheus-compatible query API (dashdot's
server or Prometheus), the same way for both.

  schedstats.py URL SELECTOR T0 T1 INTERVAL_S [--key LABEL,...] [--expect N] [--token FILE]
  (or collect() from Python: phase.py uses it)

Reads the raw samples of SELECTOR (one series per probe, with the time stamp at which each
run or scrape started: probe_success for dashdot, up for Prometheus) whose time stamps are in
[T0, T1), and prints JSON:
  series      series seen (probes)
  completed   runs with a result in the window
  succeeded   of which with value 1
  late        runs that started more than 1 s after their slot: each series' slot is the
              median of its time stamps modulo the interval (dashdot and Prometheus both put
              each target on a fixed phase of a fixed grid)
  missed      slots in the window without a run (per series: slots - runs, when positive)
  slots       slots of all series in the window
  max_gap_s   the longest time between two runs of one series
  late_max_s  the latest start after its slot among the late runs
Series are told apart by the labels --key names (default: all labels). With --expect N, series
that have no sample in the window count all their slots as missed (N - series seen, each with
the window's length / INTERVAL slots).
"""
import argparse
import json
import statistics
import sys
import urllib.parse
import urllib.request


def query(url, q, t, token=None):
    data = urllib.parse.urlencode({"query": q, "time": f"{t:.3f}"}).encode()
    req = urllib.request.Request(url.rstrip("/") + "/api/v1/query", data=data)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=120) as r:
        d = json.load(r)
    if d.get("status") != "success":
        raise SystemExit(f"schedstats.py: {q}: {d}")
    return d["data"]["result"]


def stats(series, t0, t1, iv):
    out = {"series": 0, "completed": 0, "succeeded": 0, "late": 0, "missed": 0, "slots": 0,
           "max_gap_s": 0.0, "late_max_s": 0.0}
    for ts_vals in series.values():
        ts_vals.sort()
        ts = [t for t, _ in ts_vals]
        if not ts:
            continue
        out["series"] += 1
        out["completed"] += len(ts)
        out["succeeded"] += sum(1 for _, v in ts_vals if v == 1.0)
        # the slot: the median phase; deviations measured on the circle of the interval
        ph = [t % iv for t in ts]
        ref = ph[0]
        rel = sorted(((p - ref + iv / 2) % iv) - iv / 2 for p in ph)
        phase = (ref + statistics.median(rel)) % iv
        for t in ts:
            d = ((t - phase) % iv)
            d = d - iv if d > iv / 2 else d
            if d > 1.0:
                out["late"] += 1
                out["late_max_s"] = max(out["late_max_s"], d)
        # slots phase + k*iv in [t0, t1)
        k0 = -(-(t0 - phase) // iv)  # ceil
        k1 = -(-(t1 - phase) // iv)
        slots = int(k1 - k0)
        out["slots"] += slots
        out["missed"] += max(0, slots - len(ts))
        gaps = [b - a for a, b in zip(ts, ts[1:])]
        if gaps:
            out["max_gap_s"] = max(out["max_gap_s"], max(gaps))
    return out


def collect(url, selector, t0, t1, iv, keys=(), expect=0, token=None):
    """The figures above for SELECTOR's samples in [t0, t1), as a dict."""
    res = query(url, f"{selector}[{int(t1 - t0) + 2}s]", t1, token)
    series = {}
    for r in res:
        m = r["metric"]
        k = tuple(m.get(x, "") for x in keys) if keys else tuple(sorted(m.items()))
        pts = series.setdefault(k, [])
        for t, v in r.get("values", []):
            t = float(t)
            if t0 <= t < t1:
                pts.append((t, float(v)))
    out = stats(series, t0, t1, iv)
    absent = max(0, expect - out["series"])
    if absent:
        per = round((t1 - t0) / iv)
        out["missed"] += absent * per
        out["slots"] += absent * per
    out["absent_series"] = absent
    out["window_s"] = t1 - t0
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("selector")
    ap.add_argument("t0", type=float)
    ap.add_argument("t1", type=float)
    ap.add_argument("interval", type=float)
    ap.add_argument("--key", default="")
    ap.add_argument("--token")
    ap.add_argument("--expect", type=int, default=0)
    a = ap.parse_args()
    token = open(a.token).read().strip() if a.token else None
    keys = [k for k in a.key.split(",") if k]
    print(json.dumps(collect(a.url, a.selector, a.t0, a.t1, a.interval, keys, a.expect, token)))


if __name__ == "__main__":
    main()
