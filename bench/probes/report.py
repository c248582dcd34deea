#!/usr/bin/env python3
"""Report of bench/probes/run.sh: reads the phase files (phase-*.json, written by run.sh from
monitor.py and schedstats.py), prints the table, the ratios dashdot/peer and the goals, and
writes the JSON result file.

  report.py --rtt RTT.json --json-out FILE [--version K=V]... [--config K=V]... [--note TEXT]...
            PHASE.json...

A "probe" is what the issue counts: one HTTP request, or one ICMP run of `pings` echo requests
(dashdot: one run; blackbox_exporter sends one echo request per scrape, so `pings` scrapes of
the same address make one probe), or one SNMP IF-MIB walk.
"""
import argparse
import datetime
import json
import os

MIB = 1024.0


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def figures(ph):
    mon = ph["monitor"]
    secs = mon["seconds"]
    m = mon["procs"]["measured"]
    dd = ph["side"] == "dashdot"
    f = {"label": ph["label"], "side": ph["side"], "interval_s": ph["interval"],
         "window_s": secs, "kinds": {}}
    tot = dict(probes=0, completed=0.0, on_schedule=0.0, late=0, missed=0, failed=0.0,
               requests=0)
    for kind, k in ph["kinds"].items():
        work = 1 if dd else k["scrapes_per_probe"]
        s = k["sched"]
        succ = s if dd else k["success"]
        kf = {
            "probes": k["probes"], "scrapes_per_probe": work,
            "requests_completed": s["completed"],
            "completed": s["completed"] / work,
            "on_schedule": (s["completed"] - s["late"]) / work,
            "late_runs": s["late"], "late_max_s": s["late_max_s"], "missed_runs": s["missed"],
            "slots": s["slots"], "absent_series": s.get("absent_series", 0),
            "max_gap_s": s["max_gap_s"],
            "failed": (succ["completed"] - succ["succeeded"]) / work,
            "samples_per_run": num(k.get("samples_per_run")),
        }
        for extra in ("pdus_per_run", "scrape_duration_max_s"):
            if extra in k:
                kf[extra] = num(k[extra])
        kf["per_s"] = kf["completed"] / secs
        kf["on_schedule_per_s"] = kf["on_schedule"] / secs
        f["kinds"][kind] = kf
        tot["probes"] += k["probes"]
        tot["completed"] += kf["completed"]
        tot["on_schedule"] += kf["on_schedule"]
        tot["late"] += s["late"]
        tot["missed"] += s["missed"]
        tot["failed"] += kf["failed"]
        tot["requests"] += s["completed"]
    f.update(tot)
    f["expected_per_s"] = tot["probes"] / ph["interval"]
    f["per_s"] = tot["completed"] / secs
    f["on_schedule_per_s"] = tot["on_schedule"] / secs
    f["cpu_s"] = m["cpu_s"]
    f["cpu_exec_s"] = m["cpu_exec_s"]
    f["cpu_core_pct"] = m["cpu_s"] / secs * 100 if m["cpu_s"] is not None else None
    f["cpu_ms_per_probe"] = (m["cpu_s"] * 1000 / tot["completed"]
                             if tot["completed"] and m["cpu_s"] is not None else None)
    f["cpu_us_per_request"] = (m["cpu_s"] * 1e6 / tot["requests"]
                               if tot["requests"] and m["cpu_s"] is not None else None)
    f["rss_end_mib"] = (m["rss_end_kb"] or 0) / MIB
    f["rss_max_mib"] = m["rss_max_kb"] / MIB
    f["hwm_mib"] = (m["hwm_kb"] or 0) / MIB
    f["threads_max"] = m["threads_max"]
    f["alive"] = m["alive"]
    f["others"] = {k: {"cpu_s": v["cpu_s"], "rss_end_mib": (v["rss_end_kb"] or 0) / MIB}
                   for k, v in mon["procs"].items() if k != "measured"}
    if dd:
        c = {}
        for name, (a, b) in ph["counters"].items():
            a, b = num(a), num(b)
            c[name] = b - a if a is not None and b is not None else None
        f["counters"] = c
        f["gauges"] = {k: (num(v) if not isinstance(v, list) else
                           (num(v[1]) - num(v[0]) if num(v[0]) is not None and num(v[1]) is not None
                            else None))
                       for k, v in ph["gauges"].items()}
    return f


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt(x, spec, none="-"):
    return none if x is None else format(x, spec)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rtt")
    ap.add_argument("--json-out", default="")
    ap.add_argument("--version", action="append", default=[])
    ap.add_argument("--config", action="append", default=[])
    ap.add_argument("--note", action="append", default=[])
    ap.add_argument("--cold", action="append", default=[],
                    help="AGENT=FILE: the agent's first run, when it heard of all its probes")
    ap.add_argument("phases", nargs="*")
    a = ap.parse_args()
    versions = dict(v.split("=", 1) for v in a.version)
    config = {k: int(v) if v.isdigit() else v for k, v in (c.split("=", 1) for c in a.config)}
    notes = [n for n in a.note if n.strip()]
    phases = {}
    for p in a.phases:
        ph = json.load(open(p))
        phases[ph["label"]] = figures(ph)
    rtt = json.load(open(a.rtt)) if a.rtt and os.path.exists(a.rtt) else {}
    cold = {}
    for c in a.cold:
        k, _, fn = c.partition("=")
        if os.path.exists(fn):
            d = json.load(open(fn))
            d["rss_mib"] = (d.get("rss_kb") or 0) / MIB
            d["hwm_mib"] = (d.get("hwm_kb") or 0) / MIB
            cold[k] = d
    warn = []

    pings = config.get("pings", 3)
    print()
    print(f"dashdot probes benchmark: {config.get('cores')} cores; each setup alone in its own "
          f"{config.get('seconds')} s window after a {config.get('warmup')} s warm-up, one after "
          f"the other, same targets")
    print("  " + " | ".join(versions.get(k, "") for k in ("dashdot", "blackbox", "prometheus",
                                                          "snmp_exporter", "fping") if k in versions))
    pairs = [("dd-both", "bb-both", "http + icmp"), ("dd-icmp", "bb-icmp", "icmp only"),
             ("dd-http", "bb-http", "http only")]
    goals = {}
    hdr = (f"{'':<26}{'probes':>7}{'done/s':>8}{'on sched/s':>11}{'late':>6}{'missed':>7}"
           f"{'failed':>7}{'CPU s':>8}{'core %':>7}{'CPU ms/probe':>13}{'RSS end':>9}"
           f"{'RSS peak':>9}")
    for dk, pk, title in pairs:
        if dk not in phases or pk not in phases:
            continue
        D, P = phases[dk], phases[pk]
        print()
        what = " + ".join(f"{K['probes']} " + (f"icmp ({pings} pings)" if kind == "icmp" else kind)
                          for kind, K in D["kinds"].items())
        print(f"{title}: {what} probes every {D['interval_s']} s = {D['expected_per_s']:.0f} "
              f"probes/s due; RSS in MiB")
        print(hdr)
        print("-" * len(hdr))
        for name, F in (("dashdot agent", D), ("blackbox_exporter", P)):
            print(f"{name:<26}{F['probes']:>7}{F['per_s']:>8.1f}{F['on_schedule_per_s']:>11.1f}"
                  f"{F['late']:>6}{F['missed']:>7}{F['failed']:>7.0f}{fmt(F['cpu_s'], '.2f'):>8}"
                  f"{fmt(F['cpu_core_pct'], '.1f'):>7}{fmt(F['cpu_ms_per_probe'], '.3f'):>13}"
                  f"{F['rss_end_mib']:>9.1f}{F['hwm_mib']:>9.1f}")
            for kind, K in F["kinds"].items():
                extra = (f"  ({K['scrapes_per_probe']} scrapes of 1 echo each per probe)"
                         if K["scrapes_per_probe"] > 1 else "")
                print(f"  {kind:<24}{K['probes']:>7}{K['per_s']:>8.1f}{K['on_schedule_per_s']:>11.1f}"
                      f"{K['late_runs']:>6}{K['missed_runs']:>7}{K['failed']:>7.0f}"
                      f"{'':>42}{extra}".rstrip())
        r_cpu = ratio(D["cpu_ms_per_probe"], P["cpu_ms_per_probe"])
        r_rss = ratio(D["rss_end_mib"], P["rss_end_mib"])
        r_hwm = ratio(D["hwm_mib"], P["hwm_mib"])
        print(f"{'ratio dashdot/blackbox':<26}{'':>61}{fmt(r_cpu, '.2f'):>12}x"
              f"{fmt(r_rss, '.2f'):>8}x{fmt(r_hwm, '.2f'):>8}x")
        if P["cpu_us_per_request"] is not None:
            print(f"  blackbox per request (scrape): {P['cpu_us_per_request']:.0f} us CPU over "
                  f"{P['requests']} scrapes; dashdot per run: "
                  f"{fmt(D['cpu_us_per_request'], '.0f')} us over {D['requests']} runs")
        c = D["counters"]
        g = D["gauges"]
        print(f"  dashdot agent counters in the window: runs {fmt(c.get('runs'), '.0f')}, late "
              f"{fmt(c.get('late'), '.0f')}, skipped {fmt(c.get('skipped'), '.0f')}, timeouts "
              f"{fmt(c.get('timeouts'), '.0f')}, failures {fmt(c.get('failures'), '.0f')}; "
              f"at most {fmt(g.get('inflight_max'), '.0f')} in flight, "
              f"{fmt(g.get('queued_max'), '.0f')} queued; send failures "
              f"{fmt(g.get('send_failures'), '.0f')}")
        samp = "; ".join(f"{kind} {fmt(K['samples_per_run'], '.1f')}"
                         for kind, K in D["kinds"].items())
        psamp = "; ".join(f"{kind} {fmt(K['samples_per_run'], '.1f')}"
                          for kind, K in P["kinds"].items())
        print(f"  samples per run: dashdot {samp} (+5 per-probe counters); blackbox {psamp} per "
              f"scrape (+5 that prometheus adds)")
        others = ", ".join(f"{k} {fmt(v['cpu_s'], '.2f')} s" for k, v in D["others"].items())
        pothers = ", ".join(f"{k} {fmt(v['cpu_s'], '.2f')} s" for k, v in P["others"].items())
        print(f"  not counted (CPU in the window): with dashdot: {others}; with blackbox: {pothers}")
        for F, name in ((D, "dashdot agent"), (P, "blackbox_exporter")):
            if not F["alive"]:
                warn.append(f"{name} ({F['label']}) exited during its window")
        if dk == "dd-both":
            no_miss = D["missed"] == 0 and D["late"] == 0 and not c.get("skipped") and not c.get("late")
            goals = {
                "no_missed_schedule": {"pass": no_miss, "missed": D["missed"], "late": D["late"],
                                       "skipped_counter": c.get("skipped"),
                                       "late_counter": c.get("late")},
                "cpu_per_probe_le_0.5x_blackbox": {"pass": r_cpu is not None and r_cpu <= 0.5,
                                                   "ratio": r_cpu},
                "rss_le_blackbox": {"pass": r_rss is not None and r_hwm is not None
                                    and r_rss <= 1 and r_hwm <= 1,
                                    "ratio_end": r_rss, "ratio_peak": r_hwm},
            }
            print()
            print("goals (http + icmp window):")
            print(f"  no missed schedule at this load: missed {D['missed']}, late {D['late']} "
                  f"(agent counters: skipped {fmt(c.get('skipped'), '.0f')}, late "
                  f"{fmt(c.get('late'), '.0f')})  {'PASS' if no_miss else 'FAIL'}")
            print(f"  CPU per probe <= 0.5x blackbox_exporter's: {fmt(r_cpu, '.2f')}x "
                  f"({fmt(D['cpu_ms_per_probe'], '.3f')} vs {fmt(P['cpu_ms_per_probe'], '.3f')} ms)  "
                  f"{'PASS' if goals['cpu_per_probe_le_0.5x_blackbox']['pass'] else 'FAIL'}")
            print(f"  RSS <= blackbox_exporter's: end {fmt(r_rss, '.2f')}x "
                  f"({D['rss_end_mib']:.1f} vs {P['rss_end_mib']:.1f} MiB), peak {fmt(r_hwm, '.2f')}x "
                  f"({D['hwm_mib']:.1f} vs {P['hwm_mib']:.1f} MiB)  "
                  f"{'PASS' if goals['rss_le_blackbox']['pass'] else 'FAIL'}")
            C = cold.get("bench")
            if C:
                r_cold = ratio(C["hwm_mib"], P["hwm_mib"])
                goals["rss_le_blackbox_cold_config"] = {"pass": r_cold is not None and r_cold <= 1,
                                                        "ratio_peak": r_cold}
                print(f"  ... and for an agent that hears of all {C['probes']} probes at once while "
                      f"running (each starts within 2 s): peak {C['hwm_mib']:.1f} MiB, "
                      f"{C['rss_mib']:.1f} MiB after {C['seconds']} s, {fmt(r_cold, '.2f')}x "
                      f"blackbox's peak  {'PASS' if goals['rss_le_blackbox_cold_config']['pass'] else 'FAIL'}")

    if rtt.get("median_diff_us") is not None:
        print()
        print(f"ICMP RTT vs fping ({rtt['rounds']} rounds x {rtt['count']} pings, 100 ms apart, "
              f"per target, one after the other): median difference dashdot - fping "
              f"{rtt['median_diff_us']:+.1f} us (median |difference| {rtt['median_abs_diff_us']:.1f} us; "
              f"median RTT fping {rtt['fping_median_us']:.1f} us, dashdot {rtt['dashdot_median_us']:.1f} us)")
        for t, v in rtt["targets"].items():
            print(f"  {t:<14} fping {fmt(v['fping_us'], '.1f')} us  dashdot "
                  f"{fmt(v['dashdot_us'], '.1f')} us  difference {fmt(v['diff_us'], '+.1f')} us")
        for e in rtt.get("errors", []):
            warn.append("rtt: " + e)

    if "dd-snmp" in phases and "sx-snmp" in phases:
        D, P = phases["dd-snmp"], phases["sx-snmp"]
        print()
        print(f"SNMP: {config.get('snmp')} IF-MIB walks of one snmpd on 127.0.0.1 "
              f"({config.get('snmp_interfaces')} interfaces) every {D['interval_s']} s, "
              f"{config.get('snmp_seconds')} s window; RSS in MiB")
        h2 = (f"{'':<26}{'walks':>7}{'done/s':>8}{'late':>6}{'missed':>7}{'failed':>7}"
              f"{'CPU s':>8}{'CPU ms/walk':>12}{'PDUs/walk':>10}{'samples/walk':>13}"
              f"{'RSS end':>9}{'RSS peak':>9}")
        print(h2)
        print("-" * len(h2))
        for name, F in (("dashdot agent", D), ("snmp_exporter", P)):
            K = F["kinds"]["snmp"]
            print(f"{name:<26}{F['probes']:>7}{F['per_s']:>8.2f}{F['late']:>6}{F['missed']:>7}"
                  f"{F['failed']:>7.0f}{fmt(F['cpu_s'], '.2f'):>8}{fmt(F['cpu_ms_per_probe'], '.2f'):>12}"
                  f"{fmt(K.get('pdus_per_run'), '.1f'):>10}{fmt(K.get('samples_per_run'), '.0f'):>13}"
                  f"{F['rss_end_mib']:>9.1f}{F['hwm_mib']:>9.1f}")
        print(f"{'ratio dashdot/snmp_exporter':<26}{'':>43}"
              f"{fmt(ratio(D['cpu_ms_per_probe'], P['cpu_ms_per_probe']), '.2f'):>11}x"
              f"{'':>23}{fmt(ratio(D['rss_end_mib'], P['rss_end_mib']), '.2f'):>8}x"
              f"{fmt(ratio(D['hwm_mib'], P['hwm_mib']), '.2f'):>8}x")
        dk_, pk_ = D["kinds"]["snmp"], P["kinds"]["snmp"]
        per_vb = [F["cpu_s"] * 1e6 / (F["completed"] * K["pdus_per_run"])
                  if F["cpu_s"] is not None and F["completed"] and K.get("pdus_per_run") else None
                  for F, K in ((D, dk_), (P, pk_))]
        print(f"  per varbind returned (snmp_scrape_pdus_returned): dashdot {fmt(per_vb[0], '.1f')} us, "
              f"snmp_exporter {fmt(per_vb[1], '.1f')} us ({fmt(ratio(per_vb[0], per_vb[1]), '.2f')}x); "
              f"snmp_exporter's if_mib walks all of ifTable and ifXTable, dashdot the columns it reports")
        C = cold.get("bench-snmp")
        if C:
            print(f"  the SNMP agent's first run, hearing of all {C['probes']} probes at once: peak "
                  f"{C['hwm_mib']:.1f} MiB, {C['rss_mib']:.1f} MiB after {C['seconds']} s")
        print(f"  CPU per walk uses the exec-time clock too: dashdot "
              f"{fmt(D['cpu_exec_s'], '.3f')} s, snmp_exporter {fmt(P['cpu_exec_s'], '.3f')} s in the window; "
              f"snmpd (not counted) {fmt(D['others'].get('snmpd', {}).get('cpu_s'), '.2f')} / "
              f"{fmt(P['others'].get('snmpd', {}).get('cpu_s'), '.2f')} s")

    for n in notes:
        print("NOTE: " + n)
    for w in warn:
        print("WARNING: " + w)

    if a.json_out:
        os.makedirs(os.path.dirname(a.json_out) or ".", exist_ok=True)
        with open(a.json_out, "w") as f:
            json.dump({"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                       "config": config, "versions": versions, "rtt": rtt, "phases": phases,
                       "cold_config": cold,
                       "goals": goals, "notes": notes, "warnings": warn}, f, indent=1)
        print(f"results written to {a.json_out}")


if __name__ == "__main__":
    main()
