#!/usr/bin/env python3
"""Measures processes over one window for bench/probes/run.sh.

  monitor.py SECONDS OUT.json NAME=PID [NAME=PID ...]

For each process: CPU over the window as the change of utime+stime (+cutime+cstime of reaped
children) from /proc/PID/stat, in seconds (10 ms ticks), and as the change of the sum of its
threads' se.sum_exec_runtime (/proc/PID/task/TID/sched, nanoseconds; threads that exit during
the window lose theirs, so the ticks are the reference and this the precise cross-check);
VmRSS sampled every second (its maximum and its value at the end) and VmHWM at the end.
The window starts when this script starts; t0 and t1 are wall-clock seconds.
"""
import json
import os
import sys
import time


def ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return sum(int(x) for x in rest[11:15])


def exec_ns(pid):
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/sched") as f:
                for line in f:
                    if line.startswith("se.sum_exec_runtime"):
                        total += float(line.split(":")[1]) * 1e6  # ms with decimals -> ns
                        break
        except OSError:
            pass
    return total


def status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "Threads"):
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def main():
    duration, out = int(sys.argv[1]), sys.argv[2]
    procs = {}
    for a in sys.argv[3:]:
        k, _, v = a.partition("=")
        procs[k] = int(v)
    hz = os.sysconf("SC_CLK_TCK")
    t0 = time.time()
    c0 = {k: ticks(p) for k, p in procs.items()}
    n0 = {k: exec_ns(p) for k, p in procs.items()}
    rss_max = {k: 0 for k in procs}
    threads_max = {k: 0 for k in procs}
    i = 0
    while True:
        for k, p in procs.items():
            st = status(p)
            rss_max[k] = max(rss_max[k], st.get("VmRSS", 0))
            threads_max[k] = max(threads_max[k], st.get("Threads", 0))
        i += 1
        delay = t0 + i - time.time()
        if i > duration:
            break
        if delay > 0:
            time.sleep(delay)
    c1 = {k: ticks(p) for k, p in procs.items()}
    n1 = {k: exec_ns(p) for k, p in procs.items()}
    t1 = time.time()
    res = {}
    for k, p in procs.items():
        st = status(p)
        alive = c1[k] is not None and c0[k] is not None
        res[k] = {
            "pid": p, "alive": alive,
            "cpu_s": (c1[k] - c0[k]) / hz if alive else None,
            "cpu_exec_s": (n1[k] - n0[k]) / 1e9 if alive and n0[k] is not None else None,
            "rss_end_kb": st.get("VmRSS"), "rss_max_kb": rss_max[k],
            "hwm_kb": st.get("VmHWM"), "threads_max": threads_max[k],
        }
    with open(out, "w") as f:
        json.dump({"t0": t0, "t1": t1, "seconds": t1 - t0, "procs": res}, f, indent=1)


if __name__ == "__main__":
    main()
