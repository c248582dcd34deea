#!/usr/bin/env python3
"""Helper of bench/promql-compare/run.sh (Python 3 standard library only).

  compare.py gen END_MS [HOURS] [STEP_S]   writes a node-exporter-like dataset to stdout as
                                           `series value timestamp_ms` lines sorted by time
                                           (the input of tests/tools/rwpush)
  compare.py run PROM_URL DASHDOT_URL EVAL_S OUT_FILE [RUNS]
                                           runs every query of QUERIES against both servers
                                           (instant at EVAL_S, range over the hour before it
                                           at 60 s steps), RUNS times each, compares the
                                           results and the median latencies, prints the
                                           table and writes it to OUT_FILE
"""
import json
import math
import random
import statistics
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

# ---------------------------------------------------------------- the dataset

INSTANCES = ["node-%d:9100" % i for i in range(1, 6)]
MODES = {"idle": 0.70, "user": 0.15, "system": 0.06, "iowait": 0.03, "irq": 0.005,
         "softirq": 0.01, "steal": 0.002, "nice": 0.003}
BUCKETS = ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"]


def fmt_series(name, labels):
    if not labels:
        return name
    return name + "{" + ",".join('%s="%s"' % (k, v) for k, v in sorted(labels.items())) + "}"


def gen(end_ms, hours=6.0, step_s=15):
    rnd = random.Random(42)
    n = int(hours * 3600 / step_s)
    start_ms = end_ms - (n - 1) * step_s * 1000
    series = []  # (text, kind, state)

    def add(name, labels, kind, **st):
        series.append([fmt_series(name, labels), kind, st])

    for inst in INSTANCES:
        for cpu in range(4):
            for mode, share in MODES.items():
                add("node_cpu_seconds_total", {"instance": inst, "job": "node", "cpu": str(cpu), "mode": mode},
                    "counter", v=rnd.uniform(1e4, 1e5), rate=share * rnd.uniform(0.7, 1.3), reset_p=0)
        total = rnd.choice([8, 16, 32]) * 2**30
        add("node_memory_MemTotal_bytes", {"instance": inst, "job": "node"}, "const", v=float(total))
        add("node_memory_MemAvailable_bytes", {"instance": inst, "job": "node"}, "gauge",
            v=total * 0.5, lo=total * 0.1, hi=total * 0.9, sd=total * 0.002)
        for m in ("node_load1", "node_load5", "node_load15"):
            add(m, {"instance": inst, "job": "node"}, "gauge", v=rnd.uniform(0.2, 3), lo=0, hi=16, sd=0.08)
        for dev in ("eth0", "lo"):
            for d in ("receive", "transmit"):
                add("node_network_%s_bytes_total" % d, {"instance": inst, "job": "node", "device": dev},
                    "counter", v=rnd.uniform(1e8, 1e10), rate=rnd.uniform(1e3, 1e6), reset_p=0)
        for dev in ("sda", "sdb"):
            for d in ("read", "written"):
                add("node_disk_%s_bytes_total" % d, {"instance": inst, "job": "node", "device": dev},
                    "counter", v=rnd.uniform(1e9, 1e11), rate=rnd.uniform(1e4, 5e6), reset_p=0)
        for mp in ("/", "/var"):
            add("node_filesystem_avail_bytes", {"instance": inst, "job": "node", "mountpoint": mp,
                                                "fstype": "ext4"}, "gauge",
                v=rnd.uniform(1e10, 1e11), lo=1e9, hi=2e11, sd=1e6)
        add("up", {"instance": inst, "job": "node"}, "const", v=1.0)
        for method in ("GET", "POST"):
            for code in ("200", "404", "500"):
                base = {"GET": 20.0, "POST": 5.0}[method] * {"200": 1, "404": 0.05, "500": 0.01}[code]
                add("http_requests_total", {"instance": inst, "job": "app", "method": method, "code": code},
                    "counter", v=rnd.uniform(0, 1e5), rate=base * rnd.uniform(0.5, 1.5), reset_p=0.0005)
        # A histogram: cumulative buckets, _sum and _count move together.
        series.append(["hist", inst, {"base": [0.0] * len(BUCKETS), "sum": 0.0, "reset_p": 0.0003}])

    out = sys.stdout
    for i in range(n):
        t = start_ms + i * step_s * 1000
        lines = []
        for s in series:
            if s[0] == "hist":
                inst, st = s[1], s[2]
                if rnd.random() < st["reset_p"]:
                    st["base"] = [0.0] * len(BUCKETS)
                    st["sum"] = 0.0
                reqs = rnd.uniform(50, 150) * step_s / 15
                shares = [0.30, 0.25, 0.20, 0.12, 0.08, 0.04, 0.01]
                # cumulative buckets: le bucket k grows by the share of requests at or below it
                inc = [reqs * sum(shares[:k + 1]) for k in range(len(BUCKETS))]
                st["base"] = [b + x for b, x in zip(st["base"], inc)]
                st["sum"] += reqs * 0.21
                for le, v in zip(BUCKETS, st["base"]):
                    lines.append('%s %r %d' % (fmt_series("http_request_duration_seconds_bucket",
                                                           {"instance": inst, "job": "app", "le": le}), round(v, 3), t))
                lines.append('%s %r %d' % (fmt_series("http_request_duration_seconds_count",
                                                       {"instance": inst, "job": "app"}), round(st["base"][-1], 3), t))
                lines.append('%s %r %d' % (fmt_series("http_request_duration_seconds_sum",
                                                       {"instance": inst, "job": "app"}), round(st["sum"], 3), t))
                continue
            text, kind, st = s
            if kind == "counter":
                if st["reset_p"] and rnd.random() < st["reset_p"]:
                    st["v"] = 0.0
                st["v"] += st["rate"] * step_s * rnd.uniform(0.8, 1.2)
                v = round(st["v"], 3)
            elif kind == "gauge":
                st["v"] = min(st["hi"], max(st["lo"], st["v"] + rnd.gauss(0, st["sd"])))
                v = round(st["v"], 4)
            else:
                v = st["v"]
            lines.append("%s %r %d" % (text, v, t))
        out.write("\n".join(lines) + "\n")


# ---------------------------------------------------------------- the queries

QUERIES = [
    # selectors
    ("selector", "up"),
    ("selector", 'node_load1{instance="node-1:9100"}'),
    ("selector", 'node_cpu_seconds_total{mode=~"user|system", cpu="0"}'),
    ("selector", 'node_cpu_seconds_total{mode!="idle", instance!~"node-[12]:.*"}'),
    ("selector", '{__name__=~"node_load.*"}'),
    ("selector", "node_load5 offset 10m"),
    ("selector", "node_load5 offset -5m"),
    ("selector", "node_load15 @ end()"),
    ("selector", "node_load15 @ start()"),
    # rate family
    ("rate", "rate(node_cpu_seconds_total[5m])"),
    ("rate", "irate(node_cpu_seconds_total[1m])"),
    ("rate", "increase(http_requests_total[10m])"),
    ("rate", "rate(http_requests_total[1h])"),
    ("rate", "rate(node_network_receive_bytes_total[2m])"),
    ("rate", "delta(node_memory_MemAvailable_bytes[10m])"),
    ("rate", "idelta(node_load1[5m])"),
    ("rate", "deriv(node_memory_MemAvailable_bytes[15m])"),
    ("rate", "predict_linear(node_filesystem_avail_bytes[1h], 4 * 3600)"),
    ("rate", "double_exponential_smoothing(node_load1[10m], 0.3, 0.5)"),
    ("rate", "holt_winters(node_load1[10m], 0.3, 0.5)"),
    ("rate", "changes(node_load1[10m])"),
    ("rate", "resets(http_requests_total[1h])"),
    ("rate", "rate(node_cpu_seconds_total[5m] offset 1h)"),
    # *_over_time
    ("over_time", "avg_over_time(node_load1[10m])"),
    ("over_time", "min_over_time(node_load1[10m])"),
    ("over_time", "max_over_time(node_load1[10m])"),
    ("over_time", "sum_over_time(node_load1[5m])"),
    ("over_time", "count_over_time(node_load1[5m])"),
    ("over_time", "quantile_over_time(0.9, node_load1[30m])"),
    ("over_time", "stddev_over_time(node_load1[30m])"),
    ("over_time", "stdvar_over_time(node_load1[30m])"),
    ("over_time", "last_over_time(node_load1[5m])"),
    ("over_time", "present_over_time(node_load1[5m])"),
    ("over_time", "absent_over_time(nonexistent_metric[5m])"),
    ("over_time", "mad_over_time(node_load1[30m])"),
    # aggregations
    ("aggregation", "sum(rate(node_cpu_seconds_total[5m]))"),
    ("aggregation", "sum by (instance) (rate(node_cpu_seconds_total[5m]))"),
    ("aggregation", "sum without (cpu) (rate(node_cpu_seconds_total[5m]))"),
    ("aggregation", "avg by (mode) (rate(node_cpu_seconds_total[5m]))"),
    ("aggregation", "min by (instance) (node_filesystem_avail_bytes)"),
    ("aggregation", "max(node_load1)"),
    ("aggregation", "count by (mode) (node_cpu_seconds_total)"),
    ("aggregation", "group by (instance) (node_cpu_seconds_total)"),
    ("aggregation", "stddev(node_load1)"),
    ("aggregation", "stdvar by (job) (node_load5)"),
    ("aggregation", "topk(3, rate(http_requests_total[5m]))"),
    ("aggregation", "bottomk(2, node_load1)"),
    ("aggregation", "topk by (instance) (1, rate(node_cpu_seconds_total[5m]))"),
    ("aggregation", "quantile(0.9, rate(node_cpu_seconds_total[5m]))"),
    ("aggregation", 'count_values("cpus", count by (instance) (node_cpu_seconds_total{mode="idle"}))'),
    ("aggregation", "count(limitk(2, node_load1))"),
    ("aggregation", "count(limit_ratio(0.5, node_load1) or limit_ratio(-0.5, node_load1))"),
    # binary operators
    ("binary", "node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes"),
    ("binary", "1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes"),
    ("binary", "(node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes) / 2^30"),
    ("binary", "node_load1 > 1"),
    ("binary", "node_load1 > bool 1"),
    ("binary", "node_load1 == node_load5"),
    ("binary", "node_load1 % 1"),
    ("binary", "node_load1 atan2 node_load5", "atan2 drops __name__ since Prometheus 2.46 (#12595)"),
    ("binary", 'rate(http_requests_total{code="500"}[5m]) / ignoring(code) group_left sum without (code) (rate(http_requests_total[5m]))'),
    ("binary", "sum by (instance) (rate(node_cpu_seconds_total[5m])) / on(instance) group_left count by (instance) (node_cpu_seconds_total{mode=\"idle\"})"),
    ("binary", "node_load1 and on(instance) up"),
    ("binary", 'node_load1 or node_load5{instance="node-1:9100"}'),
    ("binary", 'node_load1 unless on(instance) node_load5 > 1'),
    ("binary", "-node_load1 + 2 * node_load5 - node_load15 / 3"),
    ("binary", "node_load1 * on(instance) group_left(fstype) node_filesystem_avail_bytes{mountpoint=\"/\"}"),
    ("binary", "time() - node_load1"),
    # functions
    ("function", "abs(-node_load1)"),
    ("function", "ceil(node_load1)"),
    ("function", "floor(node_load1)"),
    ("function", "round(node_load1, 0.1)"),
    ("function", "sqrt(node_load1)"),
    ("function", "exp(node_load1)"),
    ("function", "ln(node_load1)"),
    ("function", "log2(node_load1)"),
    ("function", "log10(node_load1)"),
    ("function", "sgn(node_load1 - 1)"),
    ("function", "clamp(node_load1, 0.5, 1.5)"),
    ("function", "clamp_min(node_load1, 1)"),
    ("function", "clamp_max(node_load1, 1)"),
    ("function", "sin(node_load1) + cos(node_load1) + tan(node_load1)"),
    ("function", "asin(clamp(node_load1 - 1, -1, 1)) + acos(clamp(node_load1 - 1, -1, 1)) + atan(node_load1)"),
    ("function", "sinh(node_load1) - cosh(node_load1) + tanh(node_load1)"),
    ("function", "asinh(node_load1) + acosh(node_load1 + 1) + atanh(clamp(node_load1 / 20, 0, 0.9))"),
    ("function", "deg(node_load1) + rad(node_load1) + pi()"),
    ("function", "timestamp(node_load1)"),
    ("function", "time()"),
    ("function", "vector(1)"),
    ("function", "scalar(sum(node_load1))"),
    ("function", "sort(node_load1)"),
    ("function", "sort_desc(node_load1)"),
    ("function", 'sort_by_label(node_load1, "instance")'),
    ("function", 'sort_by_label_desc(node_load1, "instance")'),
    ("function", "absent(nonexistent_metric)"),
    ("function", 'absent(node_load1{instance="nope"})'),
    ("function", "minute(timestamp(node_load1))"),
    ("function", "hour()"),
    ("function", "day_of_week()"),
    ("function", "day_of_month()"),
    ("function", "day_of_year()"),
    ("function", "days_in_month()"),
    ("function", "month()"),
    ("function", "year()"),
    # labels
    ("label", 'label_replace(node_load1, "host", "$1", "instance", "(.*):.*")'),
    ("label", 'label_replace(node_load1, "job", "", "job", ".*")'),
    ("label", 'label_join(node_filesystem_avail_bytes, "id", "/", "instance", "mountpoint")'),
    # histograms
    ("histogram", "histogram_quantile(0.9, rate(http_request_duration_seconds_bucket[5m]))"),
    ("histogram", "histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))"),
    ("histogram", "histogram_quantile(0.99, sum by (instance, le) (rate(http_request_duration_seconds_bucket[10m])))"),
    ("histogram", "rate(http_request_duration_seconds_sum[5m]) / rate(http_request_duration_seconds_count[5m])"),
    # subqueries
    ("subquery", "max_over_time(rate(node_cpu_seconds_total{mode=\"user\"}[5m])[30m:1m])"),
    ("subquery", "avg_over_time(sum by (instance) (rate(http_requests_total[5m]))[1h:5m])"),
    ("subquery", "min_over_time(node_load1[10m:])"),
    ("subquery", "deriv(sum(node_memory_MemAvailable_bytes)[30m:1m])"),
    # whole-dataset queries (the heavy ones)
    ("heavy", "count({__name__=~\".+\"})"),
    ("heavy", "count by (__name__) ({__name__=~\"node_.*\"})"),
    ("heavy", "sum(count_over_time(node_cpu_seconds_total[1h]))"),
    ("heavy", "topk(5, sum by (instance, mode) (rate(node_cpu_seconds_total[1h])))"),
]


# ---------------------------------------------------------------- running and comparing

KINDS = ("instant", "range", "range15")

def http_query(base, path, params, timeout=120):
    data = urllib.parse.urlencode(params).encode()
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(urllib.request.Request(base + path, data=data), timeout=timeout) as r:
            body = r.read()
        dt = time.perf_counter() - t0
        return json.loads(body), dt
    except urllib.error.HTTPError as e:
        dt = time.perf_counter() - t0
        try:
            return json.loads(e.read()), dt
        except Exception:
            return {"status": "error", "error": "HTTP %d" % e.code}, dt
    except Exception as e:  # connection refused, timeout, bad JSON
        return {"status": "error", "error": "%s: %s" % (type(e).__name__, e)}, time.perf_counter() - t0


def pval(s):
    return {"+Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}.get(s) if s in ("+Inf", "-Inf", "NaN") else float(s)


def close(a, b, rel=1e-5):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return a == b or abs(a - b) <= rel * max(abs(a), abs(b)) or abs(a - b) < 1e-12


def key(metric):
    return tuple(sorted(metric.items()))


def same_result(p, d):
    """None if the two API answers are the same result, else a short reason."""
    if p.get("status") != "success":
        return "prometheus failed: %s" % p.get("error")
    if d.get("status") != "success":
        return "dashdot failed: %s" % (d.get("error") or d)
    pd, dd = p["data"], d["data"]
    if pd["resultType"] != dd["resultType"]:
        return "result type %s vs %s" % (pd["resultType"], dd["resultType"])
    rt = pd["resultType"]
    if rt in ("scalar", "string"):
        pv, dv = pd["result"], dd["result"]
        if abs(float(pv[0]) - float(dv[0])) > 1e-3:
            return "timestamp %s vs %s" % (pv[0], dv[0])
        if rt == "string":
            return None if pv[1] == dv[1] else "value %r vs %r" % (pv[1], dv[1])
        return None if close(pval(pv[1]), pval(dv[1])) else "value %s vs %s" % (pv[1], dv[1])
    ps = {key(s["metric"]): s for s in pd["result"]}
    ds = {key(s["metric"]): s for s in dd["result"]}
    if len(ps) != len(pd["result"]) or len(ds) != len(dd["result"]):
        return "duplicate series"
    if set(ps) != set(ds):
        only_p = [dict(k) for k in set(ps) - set(ds)][:2]
        only_d = [dict(k) for k in set(ds) - set(ps)][:2]
        return "series differ (%d vs %d); only prometheus: %s; only dashdot: %s" % (
            len(ps), len(ds), only_p, only_d)
    for k, s in ps.items():
        o = ds[k]
        pv = s["values"] if "values" in s else [s["value"]]
        dv = o["values"] if "values" in o else [o["value"]]
        if len(pv) != len(dv):
            return "%s: %d points vs %d" % (dict(k), len(pv), len(dv))
        for (pt, px), (dt_, dx) in zip(pv, dv):
            if abs(float(pt) - float(dt_)) > 1e-3:
                return "%s: timestamp %s vs %s" % (dict(k), pt, dt_)
            if not close(pval(px), pval(dx)):
                return "%s: at %s %s vs %s" % (dict(k), pt, px, dx)
    return None


def run(prom, dd, eval_s, out_file, runs=5):
    eval_s = float(eval_s)
    runs = int(runs)
    rows = []
    for entry in QUERIES:
        cls, q = entry[0], entry[1]
        note = entry[2] if len(entry) > 2 else None
        for kind in KINDS:
            if kind == "instant":
                path, params = "/api/v1/query", {"query": q, "time": "%.3f" % eval_s}
            elif kind == "range":
                path, params = "/api/v1/query_range", {"query": q, "start": "%.3f" % (eval_s - 3600),
                                                       "end": "%.3f" % eval_s, "step": "60"}
            else:  # range15: the raw sample interval
                path, params = "/api/v1/query_range", {"query": q, "start": "%.3f" % (eval_s - 900),
                                                       "end": "%.3f" % eval_s, "step": "15"}
            pt, dt = [], []
            presp = dresp = None
            for _ in range(runs):
                presp, t1 = http_query(prom, path, params)
                dresp, t2 = http_query(dd, path, params)
                pt.append(t1)
                dt.append(t2)
            reason = same_result(presp, dresp)
            # Not comparable: functions Prometheus 2.42 lacks, and known Prometheus 3 changes.
            na = None
            if presp.get("status") != "success" and "unknown function" in str(presp.get("error")):
                na = "not in Prometheus 2.42"
            elif note:
                na = note
            rows.append({"class": cls, "kind": kind, "query": q, "same": reason is None, "reason": reason, "na": na,
                         "prom_s": statistics.median(pt), "dd_s": statistics.median(dt),
                         "dd_ok": dresp.get("status") == "success"})
    lines = []
    lines.append("PromQL results and latency: dashdot vs Prometheus %s" % prom_version(prom))
    lines.append("%d queries x (instant; range over 1 h at 60 s steps; range over 15 min at 15 s steps), %d runs "
                 "each, median latency;" % (len(QUERIES), runs))
    lines.append("identical = same series, timestamps and values within 1e-5 relative; n/a = not comparable "
                 "(functions 2.42 lacks, known Prometheus 3 changes), left out of the share")
    lines.append("")
    hdr = "%-12s %-8s %4s %4s %10s %11s %11s %14s" % ("class", "kind", "n", "n/a", "identical", "prom ms",
                                                       "dashdot ms", "ratio dd/prom")
    lines.append(hdr)
    lines.append("-" * len(hdr))
    classes = []
    for entry in QUERIES:
        if entry[0] not in classes:
            classes.append(entry[0])
    for cls in classes + ["ALL"]:
        for kind in KINDS:
            allr = [r for r in rows if (cls == "ALL" or r["class"] == cls) and r["kind"] == kind]
            rs = [r for r in allr if not r["na"]]
            same = sum(r["same"] for r in rs)
            ok = [r for r in rs if r["dd_ok"]]
            pm = statistics.median([r["prom_s"] for r in ok]) * 1000 if ok else float("nan")
            dm = statistics.median([r["dd_s"] for r in ok]) * 1000 if ok else float("nan")
            ratios = [r["dd_s"] / r["prom_s"] for r in ok if r["prom_s"] > 0]
            ratio = statistics.median(ratios) if ratios else float("nan")
            lines.append("%-12s %-8s %4d %4d %5d %3.0f%% %11.2f %11.2f %13.2fx" % (
                cls, kind, len(allr), len(allr) - len(rs), same, 100.0 * same / len(rs) if rs else 0, pm, dm, ratio))
    comparable = [r for r in rows if not r["na"]]
    total_same = sum(r["same"] for r in comparable)
    lines.append("")
    for kind in KINDS:
        ck = [r for r in comparable if r["kind"] == kind]
        sk = sum(r["same"] for r in ck)
        lines.append("identical %-8s %d of %d comparable (%.0f%%)" % (kind + ":", sk, len(ck),
                                                                    100.0 * sk / len(ck) if ck else 0))
    lines.append("identical overall: %d of %d comparable (%.0f%%); %d not comparable" % (
        total_same, len(comparable), 100.0 * total_same / len(comparable) if comparable else 0,
        len(rows) - len(comparable)))
    lines.append("(latency columns: median over the class of each query's median, counting only queries "
                 "dashdot answered; ratio: median of the per-query ratios)")
    lines.append("")
    lines.append("Not comparable:")
    for r in rows:
        if r["na"]:
            lines.append("  [%s %s] %s: %s; dashdot %s" % (r["class"], r["kind"], r["query"], r["na"],
                                                          "answered" if r["dd_ok"] else "failed"))
    lines.append("")
    lines.append("Queries that differ:")
    for r in rows:
        if not r["same"] and not r["na"]:
            lines.append("  [%s %s] %s\n      %s" % (r["class"], r["kind"], r["query"], (r["reason"] or "")[:300]))
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    with open(out_file, "w") as f:
        f.write(text)


def prom_version(base):
    try:
        with urllib.request.urlopen(base + "/api/v1/status/buildinfo", timeout=5) as r:
            return json.loads(r.read())["data"]["version"]
    except Exception:
        return "?"


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "gen":
        gen(int(sys.argv[2]), float(sys.argv[3]) if len(sys.argv) > 3 else 6.0,
            int(sys.argv[4]) if len(sys.argv) > 4 else 15)
    elif len(sys.argv) >= 6 and sys.argv[1] == "run":
        run(*sys.argv[2:])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
