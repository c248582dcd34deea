#!/usr/bin/env python3
"""ICMP RTT accuracy of dashdot against Debian's fping, for bench/probes/run.sh.

  rtt.py DASHDOT_BIN ROUNDS COUNT TARGET [TARGET ...]

For each round and target, one after the other (never at the same time): `fping -C COUNT -q
-p 100 TARGET` (COUNT echo requests 100 ms apart, as dashdot sends them) and `dashdot probe
icmp TARGET --settings '{"count":COUNT}'`. Each gives the median RTT of its COUNT replies
(dashdot: probe_icmp_rtt_seconds{stat="median"}). Prints JSON: per target the medians of both
over the rounds, and overall the median of (dashdot - fping) over every round and target, in
microseconds.
"""
import json
import re
import statistics
import subprocess
import sys


def fping(target, count):
    p = subprocess.run(["fping", "-C", str(count), "-q", "-p", "100", target],
                       capture_output=True, text=True, timeout=60)
    # "127.0.0.1 : 0.035 0.022 -  0.037" on stderr, ms, "-" for a lost reply
    for line in p.stderr.splitlines():
        if " : " in line:
            vals = [float(x) for x in line.split(" : ", 1)[1].split() if x != "-"]
            if vals:
                return statistics.median(vals) * 1000.0, len(vals)
    return None, 0


MEDIAN = re.compile(r'^probe_icmp_rtt_seconds\{[^}]*stat="median"[^}]*\} (\S+)')
RECEIVED = re.compile(r'^probe_icmp_packets_received\{[^}]*\} (\S+)')


def dashdot(binary, target, count):
    p = subprocess.run([binary, "probe", "icmp", target, "--settings",
                        json.dumps({"count": count}), "--timeout", "10s"],
                       capture_output=True, text=True, timeout=60)
    med = rec = None
    for line in p.stdout.splitlines():
        m = MEDIAN.match(line)
        if m:
            med = float(m.group(1)) * 1e6
        m = RECEIVED.match(line)
        if m:
            rec = int(float(m.group(1)))
    return med, rec or 0


def main():
    binary, rounds, count, targets = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
    per = {t: {"fping_us": [], "dashdot_us": [], "diff_us": []} for t in targets}
    diffs = []
    errors = []
    for r in range(rounds):
        for t in targets:
            # alternate which one goes first, so neither always runs on a warmer cache
            order = (fping, dashdot) if r % 2 == 0 else (dashdot, fping)
            got = {}
            for fn in order:
                if fn is fping:
                    got["f"] = fping(t, count)
                else:
                    got["d"] = dashdot(binary, t, count)
            (f, fn_), (d, dn) = got["f"], got["d"]
            if f is None or d is None:
                errors.append(f"{t} round {r}: fping {fn_} replies, dashdot {dn} replies")
                continue
            per[t]["fping_us"].append(f)
            per[t]["dashdot_us"].append(d)
            per[t]["diff_us"].append(d - f)
            diffs.append(d - f)
    out = {"rounds": rounds, "count": count, "targets": {}, "errors": errors}
    for t, v in per.items():
        out["targets"][t] = {k: (statistics.median(x) if x else None) for k, x in v.items()}
    out["median_diff_us"] = statistics.median(diffs) if diffs else None
    out["median_abs_diff_us"] = statistics.median(abs(x) for x in diffs) if diffs else None
    out["fping_median_us"] = statistics.median(
        x for v in per.values() for x in v["fping_us"]) if diffs else None
    out["dashdot_median_us"] = statistics.median(
        x for v in per.values() for x in v["dashdot_us"]) if diffs else None
    print(json.dumps(out))


if __name__ == "__main__":
    main()
