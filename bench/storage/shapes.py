#!/usr/bin/env python3
"""shapes: derives the per-series shapes dsgen generates from scrapes of a real node_exporter.

    shapes.py [--target N] [--out shapes.tsv] INPUT...

An INPUT is either the capture of bench/storage/capture/ (`*.txt.zst` or `*.txt`: lines
`unix_ms<TAB>series<TAB>value`, see its README.md), or one scrape in the Prometheus text format
(`*.prom`), whose time comes from a 13-digit epoch-ms number in the file name (e.g.
scrape-1795472672105.prom), or a first line `# scrape_time_ms N`, or else the file's mtime. At
least two scrapes are needed; more give better shapes (how often a series changes, how much a
gauge moves). The input is read in one pass with constant memory per series.

Per series the output says how dsgen should move it (tab-separated, one series a line):

    kind  decimals  quantum  base  param  p  nonneg  series

    kind      C counter that grows at every step (param = rate per second)
              M mostly constant gauge: moves by param (up or down, back towards base) with
                probability p per second
              I mostly constant counter: grows by param with probability p per second
              G gauge, mean-reverting random walk (param = step std dev per sqrt(second))
              K constant (base)
              T tracks the clock (node_time_seconds: value = time + base)
    decimals  digits after the point the real values had (-1: full double precision)
    quantum   1, or 1024 / 4096 when every value was a multiple of it (memory in pages)
    base      value at the start
    param, p  see kind
    nonneg    1 if the values never go below 0
    series    name{label="value",...} without instance and job (dsgen adds those per host)

The capture of one small machine has ~500 series; real servers have more CPUs, disks and
interfaces. With --target N (default 1000) series with a `cpu` label are repeated for more CPUs,
then series with a `device` label for more devices, until about N series. Prometheus's own
per-target series (up, scrape_duration_seconds, ...) are added as well, as a remote-write sender
would send them.
"""
import argparse
import math
import os
import re
import subprocess
import sys

SERIES_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(?:\s+(-?\d+))?\s*$')
LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')


def parse_labels(s):
    if not s:
        return []
    body = s[1:-1]
    out, pos = [], 0
    while pos < len(body):
        m = LABEL_RE.match(body, pos)
        if not m:
            raise ValueError(f"bad labels: {s}")
        out.append((m.group(1), m.group(2)))
        pos = m.end()
    return out


def scrape_time(path):
    m = re.search(r'(\d{13})', os.path.basename(path))
    if m:
        return int(m.group(1)) / 1000.0
    with open(path) as f:
        first = f.readline()
    m = re.match(r'#\s*scrape_time_ms\s+(\d+)', first)
    if m:
        return int(m.group(1)) / 1000.0
    return os.path.getmtime(path)


def read_scrape(path):
    types, vals = {}, {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("# TYPE "):
                p = line.split()
                if len(p) >= 4:
                    types[p[2]] = p[3]
                continue
            if not line or line.startswith("#"):
                continue
            m = SERIES_RE.match(line)
            if not m:
                continue
            name, lab, val = m.group(1), m.group(2), m.group(3)
            try:
                v = float(val)
            except ValueError:
                continue
            labels = tuple((k, x) for k, x in parse_labels(lab) if k not in ("instance", "job"))
            vals[(name, labels)] = (v, val)
    return types, vals


def decimals_of(texts):
    """Digits after the point needed to write every value exactly (-1: full precision)."""
    best = 0
    for t in texts:
        v = float(t)
        if math.isnan(v) or math.isinf(v):
            continue
        for d in range(0, 7):
            if abs(round(v, d) - v) <= abs(v) * 1e-15:
                best = max(best, d)
                break
        else:
            return -1
    return best


def family_type(name, types):
    if name in types:
        return types[name]
    for suf in ("_bucket", "_count", "_sum", "_total", "_created"):
        if name.endswith(suf) and name[: -len(suf)] in types:
            t = types[name[: -len(suf)]]
            if t in ("summary", "histogram"):
                return "counter"
            return t
    return "counter" if name.endswith("_total") else "gauge"


def fmt_series(name, labels):
    if not labels:
        return name
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}"


def records_prom(paths):
    """(t_seconds, key, text) of every sample of scrape files in the text format, and TYPEs."""
    types = {}
    for t, p in sorted((scrape_time(p), p) for p in paths):
        ty, vals = read_scrape(p)
        types.update(ty)
        for k, (_, text) in vals.items():
            yield t, k, text
    records_prom.types = types


CAP_SERIES_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?$')


def records_capture(path):
    """Samples of a bench/storage/capture file: `unix_ms<TAB>series<TAB>value` lines (zstd or
    plain text)."""
    if path.endswith(".zst"):
        proc = subprocess.Popen(["zstdcat", "-f", path], stdout=subprocess.PIPE, text=True)
        f = proc.stdout
    else:
        f = open(path)
    cache = {}
    for line in f:
        if line.startswith("#"):
            continue
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 3:
            continue
        key = cache.get(parts[1])
        if key is None:
            m = CAP_SERIES_RE.match(parts[1])
            if not m:
                continue
            key = (m.group(1), tuple((k, x) for k, x in parse_labels(m.group(2))
                                     if k not in ("instance", "job")))
            cache[parts[1]] = key
        yield int(parts[0]) / 1000.0, key, parts[2]


def text_decimals(text, cache={}):
    d = cache.get(text)
    if d is None:
        d = decimals_of([text])
        cache[text] = d
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", type=int, default=1000)
    ap.add_argument("--out", default="-")
    ap.add_argument("inputs", nargs="+", help="scrape files (.prom) or a capture (.txt[.zst])")
    a = ap.parse_args()

    caps = [p for p in a.inputs if p.endswith(".txt") or p.endswith(".zst")]
    proms = [p for p in a.inputs if p not in caps]
    streams = [records_capture(p) for p in caps]
    if proms:
        streams.append(records_prom(proms))

    # one pass, constant memory per series: first/last value, changes, delta statistics
    acc = {}
    times = set()
    for stream in streams:
        for t, k, text in stream:
            try:
                v = float(text)
            except ValueError:
                continue
            times.add(t)
            st = acc.get(k)
            if st is None:
                acc[k] = st = {"n": 0, "v0": v, "t0": t, "v": v, "t": t, "changes": 0,
                               "sumsq": 0.0, "sumabs": 0.0, "min": v, "dec": 0, "neg": False,
                               "clock": True, "q4096": True, "q1024": True, "nonzero": False,
                               "bad": False}
            else:
                d = v - st["v"]
                if d != 0:
                    st["changes"] += 1
                    st["sumabs"] += abs(d)
                if d < 0:
                    st["neg"] = True
                st["sumsq"] += d * d
                if abs(d - (t - st["t"])) >= 1:
                    st["clock"] = False
            if math.isnan(v) or math.isinf(v):
                st["bad"] = True
                continue
            st["n"] += 1
            st["v"], st["t"] = v, t
            st["min"] = min(st["min"], v)
            if st["dec"] >= 0:
                d = text_decimals(text)
                st["dec"] = -1 if d < 0 else max(st["dec"], d)
            if abs(v - t) >= 120:
                st["clock"] = False
            if v != 0:
                st["nonzero"] = True
                if v != int(v) or int(v) % 4096:
                    st["q4096"] = False
                if v != int(v) or int(v) % 1024:
                    st["q1024"] = False
    types = getattr(records_prom, "types", {})
    nscrapes = len(times)
    if nscrapes < 2:
        sys.exit("shapes: need at least two scrapes")
    span = max(times) - min(times)
    if span <= 0:
        sys.exit("shapes: scrapes need distinct times")

    rows = []
    for k in sorted(acc):
        st = acc[k]
        name, labels = k
        if st["bad"] or st["n"] < 0.9 * nscrapes or st["n"] < 2:
            continue
        sspan = st["t"] - st["t0"]
        mean_dt = sspan / (st["n"] - 1)
        dec = st["dec"]
        quantum = 4096 if st["q4096"] and st["nonzero"] else 1024 if st["q1024"] and st["nonzero"] else 1
        ftype = family_type(name, types)
        counter = ftype == "counter" or name.endswith("_total") or name.endswith("_count") or \
            (name.endswith("_sum") and ftype in ("summary", "histogram", "counter"))
        changes = st["changes"]
        pchange = changes / (st["n"] - 1)
        p_per_s = -math.log(1 - min(pchange, 0.999)) / mean_dt if pchange > 0 else 0.0
        nonneg = 1 if st["min"] >= 0 else 0
        v0, v1 = st["v0"], st["v"]
        if not counter and st["clock"] and changes:
            rows.append(("T", -1, 1, v0 - st["t0"], 0, 0, 0, name, labels))
            continue
        if counter and st["neg"]:
            counter = False
        if counter:
            if changes == 0:
                # a counter that did not move in the capture still moves now and then (errors,
                # drops): one increment every two hours on average
                rows.append(("I", dec, 1, v0, 1.0 if dec <= 0 else 10 ** -dec, 1 / 7200.0, 1,
                             name, labels))
            elif pchange >= 0.5:
                rows.append(("C", dec, quantum, v0, (v1 - v0) / sspan, 0, 1, name, labels))
            else:
                rows.append(("I", dec, quantum, v0, (v1 - v0) / changes, p_per_s, 1, name, labels))
        else:
            if changes == 0:
                rows.append(("K", dec, 1, v0, 0, 0, nonneg, name, labels))
            elif pchange >= 0.5:
                sd = math.sqrt(st["sumsq"] / (st["n"] - 1) / mean_dt)
                rows.append(("G", dec, quantum, v0, sd, 0, nonneg, name, labels))
            else:
                rows.append(("M", dec, quantum, v0, st["sumabs"] / changes, p_per_s, nonneg, name,
                             labels))

    # Prometheus adds these for every scraped target; a remote-write stream carries them too
    n = len(rows) + 5
    rows += [("K", 0, 1, 1, 0, 0, 1, "up", ()),
             ("G", -1, 1, 0.02, 0.002, 0, 1, "scrape_duration_seconds", ()),
             ("K", 0, 1, n, 0, 0, 1, "scrape_samples_scraped", ()),
             ("K", 0, 1, n, 0, 0, 1, "scrape_samples_post_metric_relabeling", ()),
             ("K", 0, 1, 0, 0, 0, 1, "scrape_series_added", ())]

    # expand towards the target: more CPUs first, then more devices
    def expand(rows, label, make_value, budget):
        """Copies the series of the first `label` value under new values while budget lasts."""
        grp = [r for r in rows if any(k == label for k, _ in r[8])]
        if not grp or budget <= 0:
            return rows
        existing = {dict(r[8])[label] for r in grp}
        first = sorted(existing)[0]
        template = [r for r in grp if dict(r[8])[label] == first]
        extra, i = [], 0
        while len(extra) + len(template) <= budget:
            v = make_value(i)
            i += 1
            if v is None:
                break
            if v in existing:
                continue
            for r in template:
                labels = tuple((k, v if k == label else x) for k, x in r[8])
                extra.append(r[:8] + (labels,))
            existing.add(v)
        return rows + extra

    cpu_values = lambda i: str(i) if i < 256 else None
    rows = expand(rows, "cpu", cpu_values, max(0, (a.target - len(rows)) * 2 // 3))
    dev_names = lambda i: (f"sd{chr(ord('a') + i)}" if i < 26 else None)
    disk = [r for r in rows if r[7].startswith("node_disk_")]
    other = [r for r in rows if not r[7].startswith("node_disk_")]
    rows = other + expand(disk, "device", dev_names, max(0, a.target - len(rows)))
    net = [r for r in rows if r[7].startswith("node_network_")]
    other = [r for r in rows if not r[7].startswith("node_network_")]
    net_names = lambda i: (f"eth{i}" if i < 64 else None)
    rows = other + expand(net, "device", net_names, max(0, a.target - len(rows)))

    out = sys.stdout if a.out == "-" else open(a.out, "w")
    out.write(f"# shapes from {nscrapes} scrapes over {span:.0f}s; {len(rows)} series\n")
    kinds = {}
    for kind, dec, quantum, base, param, p, nonneg, name, labels in rows:
        kinds[kind] = kinds.get(kind, 0) + 1
        out.write(f"{kind}\t{dec}\t{quantum}\t{base!r}\t{param!r}\t{p!r}\t{nonneg}\t"
                  f"{fmt_series(name, labels)}\n")
    if out is not sys.stdout:
        out.close()
    print(f"shapes: {len(rows)} series per host from {nscrapes} scrapes over {span:.0f}s: " +
          ", ".join(f"{k}={v}" for k, v in sorted(kinds.items())), file=sys.stderr)


if __name__ == "__main__":
    main()
