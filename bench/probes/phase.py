#!/usr/bin/env python3
"""Collects the figures of one measured window of bench/probes/run.sh into a phase file.

  phase.py dashdot SERVER_URL ADMIN_TOKEN_FILE AGENT LABEL MONITOR.json INTERVAL_S KIND=N...
      The agent's own counters (dashdot_agent_probe_*_total summed over its probes, at the
      window's start and end), its gauges (probes scheduled, most in flight and queued, send
      failures, spool), and per KIND (icmp, http, snmp; N probes) the schedule figures of
      probe_success{vantage=AGENT,job=KIND} (schedstats.py), samples per run and, for snmp,
      snmp_scrape_pdus_returned.
  phase.py prometheus PROM_URL SIDE LABEL MONITOR.json INTERVAL_S KIND=JOB_REGEX=SCRAPES=N...
      Per KIND the schedule figures of up{job=~JOB_REGEX} and probe_success{job=~JOB_REGEX}
      (N probes of SCRAPES scrapes each), samples per scrape, the longest scrape and, for snmp,
      snmp_scrape_pdus_returned.
Prints the phase as JSON.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import schedstats  # noqa: E402


def value(url, q, t, token=None):
    r = schedstats.query(url, q, t, token)
    return r[0]["value"][1] if r else None


def dashdot(url, token_file, agent, label, mon_file, iv, specs):
    token = open(token_file).read().strip()
    mon = json.load(open(mon_file))
    t0, t1, secs = mon["t0"], mon["t1"], int(round(mon["seconds"]))
    sel = f'{{instance="{agent}"}}'
    out = {"side": "dashdot", "label": label, "agent": agent, "interval": iv, "monitor": mon,
           "counters": {}, "kinds": {}}
    for c in ("runs", "failures", "timeouts", "skipped", "late"):
        q = f"sum(dashdot_agent_probe_{c}_total{sel})"
        out["counters"][c] = [value(url, q, t0, token), value(url, q, t1, token)]
    sent = f"dashdot_agent_send_failures_total{sel}"
    out["gauges"] = {
        "scheduled": value(url, f"max_over_time(dashdot_agent_probes{sel}[{secs}s])", t1, token),
        "inflight_max": value(url, f"max_over_time(dashdot_agent_probes_inflight{sel}[{secs}s])",
                              t1, token),
        "queued_max": value(url, f"max_over_time(dashdot_agent_probes_queued{sel}[{secs}s])",
                            t1, token),
        "send_failures": [value(url, sent, t0, token), value(url, sent, t1, token)],
        "spool_batches_max": value(url, f"max_over_time(dashdot_agent_spool_batches{sel}[{secs}s])",
                                   t1, token),
    }
    for spec in specs:
        kind, n = spec.split("=")
        n = int(n)
        ksel = f'vantage="{agent}",job="{kind}"'
        k = {"probes": n,
             "sched": schedstats.collect(url, f"probe_success{{{ksel}}}", t0, t1, iv,
                                         ["probe_id"], n, token),
             "samples_per_run": value(url, f"count({{{ksel}}}) / count(probe_success{{{ksel}}})",
                                      t1, token)}
        if kind == "snmp":
            k["pdus_per_run"] = value(url, f"avg(snmp_scrape_pdus_returned{{{ksel}}})", t1, token)
        out["kinds"][kind] = k
    return out


def prometheus(url, side, label, mon_file, iv, specs):
    mon = json.load(open(mon_file))
    t0, t1, secs = mon["t0"], mon["t1"], int(round(mon["seconds"]))
    out = {"side": side, "label": label, "interval": iv, "monitor": mon, "kinds": {}}
    for spec in specs:
        kind, regex, work, n = spec.split("=")
        work, n = int(work), int(n)
        jsel = f'job=~"{regex}"'
        keys = ["job", "instance", "copy"]
        k = {"probes": n, "scrapes_per_probe": work,
             "sched": schedstats.collect(url, f"up{{{jsel}}}", t0, t1, iv, keys, n * work),
             # snmp_exporter has no probe_success: a walk succeeded if its scrape did
             "success": schedstats.collect(
                 url, f"{'up' if kind == 'snmp' else 'probe_success'}{{{jsel}}}", t0, t1, iv,
                 keys, n * work),
             "samples_per_run": value(url, f"avg(scrape_samples_scraped{{{jsel}}})", t1),
             "scrape_duration_max_s": value(
                 url, f"max(max_over_time(scrape_duration_seconds{{{jsel}}}[{secs}s]))", t1)}
        if kind == "snmp":
            k["pdus_per_run"] = value(url, f"avg(snmp_scrape_pdus_returned{{{jsel}}})", t1)
        out["kinds"][kind] = k
    return out


def main():
    a = sys.argv[1:]
    if a and a[0] == "dashdot" and len(a) >= 8:
        res = dashdot(a[1], a[2], a[3], a[4], a[5], int(a[6]), a[7:])
    elif a and a[0] == "prometheus" and len(a) >= 7:
        res = prometheus(a[1], a[2], a[3], a[4], int(a[5]), a[6:])
    else:
        sys.exit(__doc__)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
