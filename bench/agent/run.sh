#!/usr/bin/env bash
# Side-by-side agent benchmark: dashdot agent vs prometheus-node-exporter vs netdata, all three
# running at the same time on this host for BENCH_SECONDS (default 60) after a BENCH_WARMUP
# (default 15 s) start-up period. For each it reports samples collected per second, CPU time
# (utime+stime+cutime+cstime from /proc/PID/stat over the process tree), CPU ms per 1000
# samples, CPU per minute, and peak RSS (VmHWM), then the ratios and dashdot's goals.
#
#   make bench                       (installs the peers with scripts/deps.sh bench, builds, runs)
#   BENCH_SECONDS=60 bash bench/agent/run.sh
#   bash bench/agent/run.sh --scenario containers   (200 containers + 500 processes; root; see
#                                                    bench/agent/containers.sh)
#
# env: BENCH_SECONDS, BENCH_WARMUP, DASHDOT_BIN (default build/dashdot),
#      BENCH_JSON (result file; default bench/results/agent-<UTC date>.json, empty = none)
# Everything runs on 127.0.0.1 free ports from a temp dir that is removed at exit; netdata gets a
# private config (no cloud, no telemetry, no registry, no DNS look-ups, curl/wget stubbed out).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${DASHDOT_BIN:-$ROOT/build/dashdot}
BIN=$(realpath -m -- "$BIN")
cd "$ROOT"
DURATION=${BENCH_SECONDS:-60}
WARMUP=${BENCH_WARMUP:-15}
JSON_OUT=${BENCH_JSON-bench/results/agent-$(date -u +%Y%m%dT%H%M%SZ).json}
GOAL_CPU_MS_PER_1K=2
GOAL_RSS_MIB=10

die() { echo "bench: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

# scenarios: "default" (below) and "containers" (bench/agent/containers.sh: 200 containers and
# 500 processes, agent vs netdata apps+cgroups vs node_exporter; needs root)
SCENARIO=default
while (($#)); do
    case $1 in
    --scenario) [[ $# -ge 2 ]] || die "--scenario needs a name"; SCENARIO=$2; shift 2 ;;
    --scenario=*) SCENARIO=${1#--scenario=}; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d'; exit 0 ;;
    *) die "unknown argument $1 (usage: run.sh [--scenario default|containers])" ;;
    esac
done
case $SCENARIO in
default) ;;
containers) exec bash "$ROOT/bench/agent/containers.sh" ;;
*) die "unknown scenario $SCENARIO (default, containers)" ;;
esac

[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 5 ]] || die "BENCH_SECONDS must be an integer >= 5"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be an integer"
[[ -x $BIN ]] || die "no dashdot binary at $BIN: run 'make' first (or set DASHDOT_BIN)"

SPATH="$PATH:/usr/sbin:/sbin:/usr/local/sbin"
NODE_EXPORTER=$(PATH=$SPATH command -v prometheus-node-exporter || true)
NETDATA=$(PATH=$SPATH command -v netdata || true)
missing=()
[[ -n $NODE_EXPORTER ]] || missing+=(prometheus-node-exporter)
[[ -n $NETDATA ]] || missing+=(netdata)
for c in curl python3 getconf; do command -v "$c" >/dev/null || missing+=("$c"); done
((${#missing[@]} == 0)) || die "missing ${missing[*]}: run 'make bench' (scripts/deps.sh bench installs them)"
HZ=$(getconf CLK_TCK)

# ---------------------------------------------------------------------------------------------
# cleanup: everything we start is a session leader (setsid), killed by process group at exit
TMP=$(mktemp -d /tmp/dashdot-bench.XXXXXX)
chmod 755 "$TMP"
LEADERS=()   # daemons (own process group)
HELPERS=()   # our own background loops (same process group as this script)
STOPPED_SERVICES=()

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local p i
    for p in "${HELPERS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${LEADERS[@]}"; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true; done
    for p in "${LEADERS[@]}"; do
        for i in $(seq 100); do kill -0 -- "-$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$p" 2>/dev/null || true
    done
    # netdata's plugins may have left its process group: kill what is left of its tree by pid
    if [[ -s $TMP/netdata.tree ]]; then
        while read -r p; do kill -KILL "$p" 2>/dev/null || true; done <"$TMP/netdata.tree"
    fi
    wait 2>/dev/null || true
    rm -rf "$TMP"
    for p in "${STOPPED_SERVICES[@]}"; do
        note "restarting the system service $p that the bench stopped"
        if [[ -d /run/systemd/system ]]; then systemctl start "$p" || true
        else service "$p" start >/dev/null 2>&1 || true; fi
    done
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# system instances (the Debian packages start them on install) would compete for the CPU
stop_service() {
    local s=$1
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
        if systemctl is-active --quiet "$s"; then
            [[ $(id -u) -eq 0 ]] || die "system service $s is running and competes for CPU: stop it (systemctl stop $s)"
            note "stopping the system service $s for the duration of the bench"
            systemctl stop "$s"
            STOPPED_SERVICES+=("$s")
        fi
    elif [[ -x /etc/init.d/$s ]] && /etc/init.d/"$s" status >/dev/null 2>&1; then
        [[ $(id -u) -eq 0 ]] || die "system service $s is running and competes for CPU: stop it (service $s stop)"
        note "stopping the system service $s for the duration of the bench"
        service "$s" stop >/dev/null 2>&1 || /etc/init.d/"$s" stop >/dev/null
        STOPPED_SERVICES+=("$s")
    fi
}
stop_service prometheus-node-exporter
stop_service netdata

read -r P_DD P_NE P_ND P_SD < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(4)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')

wait_for() {   # wait_for SECONDS DESCRIPTION COMMAND...
    local t=$1 what=$2 i
    shift 2
    for ((i = 0; i < t * 10; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    die "$what did not come up within ${t}s"
}
alive() { kill -0 "$1" 2>/dev/null; }

# ---------------------------------------------------------------------------------------------
# 1. dashdot: server (not measured) + agent (measured)
mkdir -p "$TMP/dashdot-data" "$TMP/dashdot-spool"
setsid "$BIN" server --listen "127.0.0.1:$P_DD" --data "$TMP/dashdot-data" >"$TMP/dashdot-server.log" 2>&1 &
LEADERS+=($!)
wait_for 10 "dashdot server" test -s "$TMP/dashdot-data/agent.token"
wait_for 10 "dashdot server" curl -fsS -o /dev/null "http://127.0.0.1:$P_DD/api/v1/status/buildinfo"
setsid "$BIN" agent --server "http://127.0.0.1:$P_DD" --token-file "$TMP/dashdot-data/agent.token" \
    --interval 1s --spool "$TMP/dashdot-spool" >"$TMP/dashdot-agent.log" 2>&1 &
DD_PID=$!
LEADERS+=("$DD_PID")

# 2. node_exporter with its default collectors, scraped once a second by a curl loop
setsid "$NODE_EXPORTER" --web.listen-address="127.0.0.1:$P_NE" >"$TMP/node-exporter.log" 2>&1 &
NE_PID=$!
LEADERS+=("$NE_PID")

# 3. netdata: private loopback-only config, every default plugin, update every 1 s
ND=$TMP/netdata
mkdir -p "$ND"/{etc,cache,lib/cloud.d,log,lock,bin}
if [[ $(id -u) -eq 0 ]] && id netdata >/dev/null 2>&1; then ND_USER=netdata; else ND_USER=$(id -un); fi
# any curl/wget a netdata script runs (e.g. system-info.sh probes cloud metadata at
# 169.254.169.254) hits these stubs, which log and fail instead of reaching the network
for tool in curl wget; do
    cat >"$ND/bin/$tool" <<EOF
#!/bin/sh
echo "$tool \$*" >>"$ND/log/blocked-network.log"
exit 7
EOF
    chmod 755 "$ND/bin/$tool"
done
touch "$ND/log/blocked-network.log" "$ND/etc/.opt-out-from-anonymous-statistics"
printf '[global]\n\tenabled = no\n' >"$ND/lib/cloud.d/cloud.conf"
ND_PATH="$ND/bin:$SPATH"
cat >"$ND/etc/netdata.conf" <<EOF
[global]
	run as user = $ND_USER
[db]
	update every = 1
[directories]
	config = $ND/etc
	cache = $ND/cache
	lib = $ND/lib
	log = $ND/log
	lock = $ND/lock
	home = $ND/lib
	registry = $ND/lib/registry
	health config = $ND/etc/health.d
[environment variables]
	PATH = $ND_PATH
[health]
	script to execute on alarm = /bin/true
[web]
	bind to = 127.0.0.1:$P_ND
	allow connections from = *
	allow connections by dns = no
	allow dashboard from = *
	allow dashboard by dns = no
	allow badges by dns = no
	allow streaming by dns = no
	allow netdata.conf from = *
	allow netdata.conf by dns = no
	allow management by dns = no
[registry]
	enabled = no
	registry to announce = http://127.0.0.1:$P_ND
[statsd]
	bind to = udp:127.0.0.1:$P_SD tcp:127.0.0.1:$P_SD
EOF
chown -R "$ND_USER" "$ND"/{cache,lib,log,lock}
(cd "$ND/lib" && exec env DO_NOT_TRACK=1 DISABLE_TELEMETRY=1 PATH="$ND_PATH" \
    setsid "$NETDATA" -D -c "$ND/etc/netdata.conf") \
    >"$TMP/netdata.out" 2>&1 &
ND_PID=$!
LEADERS+=("$ND_PID")

wait_for 10 "node_exporter" curl -fsS -o /dev/null "http://127.0.0.1:$P_NE/metrics"
wait_for 30 "netdata" curl -fsS -o /dev/null "http://127.0.0.1:$P_ND/api/v1/info"
for p in "$DD_PID" "$NE_PID" "$ND_PID"; do
    alive "$p" || die "a daemon exited at start-up; logs: $(tail -n 5 "$TMP"/*.log "$TMP"/*.out)"
done

scrape_loop() {   # one scrape a second, on the second; logs "epoch-seconds samples"
    local next now d n
    next=${EPOCHREALTIME/./}
    while :; do
        n=$(curl -fsS --max-time 2 "http://127.0.0.1:$P_NE/metrics" 2>/dev/null | grep -vcE '^(#|$)' || true)
        echo "$EPOCHREALTIME ${n:-0}" >>"$TMP/node-exporter.scrapes"
        next=$((next + 1000000))
        now=${EPOCHREALTIME/./}
        d=$((next - now))
        if ((d > 0)); then sleep "$((d / 1000000)).$(printf %06d $((d % 1000000)))"; else next=$now; fi
    done
}
scrape_loop &
HELPERS+=($!)

dd_query() {   # dd_query METRIC -> value of the agent's own counter on the server (or empty)
    curl -fsS --max-time 2 "http://127.0.0.1:$P_DD/api/v1/query" --data-urlencode "query=$1" 2>/dev/null |
        python3 -c 'import json,sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "")' 2>/dev/null || true
}

DD_SAMPLES_PER_ROUND=$("$BIN" agent --once 2>/dev/null | grep -vcE '^(#|$)' || true)
[[ ${DD_SAMPLES_PER_ROUND:-0} -gt 0 ]] || die "dashdot agent --once printed no samples"

echo "bench: warming up ${WARMUP}s, then measuring ${DURATION}s (dashdot agent, node_exporter, netdata side by side; $(nproc) cores)" >&2
sleep "$WARMUP" &
wait $!   # (a background sleep + wait lets the INT/TERM traps run at once)
DD_SENT0=$(dd_query dashdot_agent_batches_sent_total)

# ---------------------------------------------------------------------------------------------
# the measurement window: CPU deltas over each process tree, peak RSS per process, and a watch
# on netdata's sockets for any peer address outside the loopback range
python3 - "$DURATION" "$HZ" "$TMP/monitor.json" "$TMP/netdata.tree" \
    "dashdot=$DD_PID" "node_exporter=$NE_PID" "netdata=$ND_PID" <<'PY' &
import ipaddress, json, os, sys, time

duration, hz, out, ndtree = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
roots = dict(a.split("=") for a in sys.argv[5:])
roots = {k: int(v) for k, v in roots.items()}

def stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    # rest[1] = ppid; rest[11..14] = utime stime cutime cstime
    return int(rest[1]), sum(int(x) for x in rest[11:15])

def tree(root):
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = stat(d)
            if st:
                kids.setdefault(st[0], []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out

def cpu(pids):
    # utime+stime of each live process plus cutime+cstime (its reaped children)
    return sum((stat(p) or (0, 0))[1] for p in pids)

def hwm(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None

def remote_peers(pids):
    inodes = set()
    for p in pids:
        try:
            for fd in os.listdir(f"/proc/{p}/fd"):
                try:
                    l = os.readlink(f"/proc/{p}/fd/{fd}")
                except OSError:
                    continue
                if l.startswith("socket:["):
                    inodes.add(l[8:-1])
        except OSError:
            pass
    bad = set()
    for tab in ("tcp", "tcp6", "udp", "udp6"):
        try:
            with open(f"/proc/net/{tab}") as f:
                next(f)
                for line in f:
                    c = line.split()
                    if c[9] not in inodes:
                        continue
                    h, port = c[2].split(":")
                    b = bytes.fromhex(h)
                    b = b"".join(b[i:i + 4][::-1] for i in range(0, len(b), 4))
                    ip = ipaddress.ip_address(b)
                    if ip.version == 6 and ip.ipv4_mapped:
                        ip = ip.ipv4_mapped
                    if not (ip.is_loopback or ip.is_unspecified):
                        bad.add(f"{tab} {ip} port {int(port, 16)}")
        except OSError:
            pass
    return bad

peak = {k: {} for k in roots}        # name -> pid -> VmHWM kB
procs = {k: 0 for k in roots}
seen = {k: set() for k in roots}
bad = set()

def sample(check_net):
    for k, r in roots.items():
        pids = tree(r)
        procs[k] = max(procs[k], len(pids))
        seen[k].update(pids)
        for p in pids:
            h = hwm(p)
            if h is not None:
                peak[k][p] = max(peak[k].get(p, 0), h)
        if k == "netdata":
            with open(ndtree, "w") as f:
                f.write("".join(f"{p}\n" for p in seen[k]))
            if check_net:
                bad.update(remote_peers(pids))

t0 = time.time()
c0 = {k: cpu(tree(r)) for k, r in roots.items()}
sample(True)
i = 0
while True:
    i += 1
    delay = t0 + i - time.time()
    if delay > 0:
        time.sleep(delay)
    if i >= duration:
        break
    sample(i % 5 == 0)
c1 = {k: cpu(tree(r)) for k, r in roots.items()}
t1 = time.time()
sample(True)
alive = {k: os.path.exists(f"/proc/{r}") for k, r in roots.items()}
json.dump({
    "t0": t0, "t1": t1,
    "targets": {k: {"cpu_s": (c1[k] - c0[k]) / hz,
                    "peak_rss_kb": sum(peak[k].values()),
                    "procs_max": procs[k], "procs_seen": len(seen[k]),
                    "alive": alive[k]} for k in roots},
    "netdata_non_loopback_peers": sorted(bad),
}, open(out, "w"))
PY
HELPERS+=($!)
wait $!

DD_SENT1=$(dd_query dashdot_agent_batches_sent_total)
DD_FAIL=$(dd_query dashdot_agent_send_failures_total)
curl -fsS --max-time 5 "http://127.0.0.1:$P_ND/api/v1/charts" >"$TMP/netdata-charts.json" ||
    die "could not read netdata's /api/v1/charts"
ND_BLOCKED=$(sort -u "$ND/log/blocked-network.log" | head -n 5)
ND_ANON=$(grep -c 'anonymous-statistics.sh' "$ND/log/error.log" 2>/dev/null || true)

# ---------------------------------------------------------------------------------------------
# report
python3 - "$TMP/monitor.json" "$TMP/node-exporter.scrapes" "$TMP/netdata-charts.json" "$DURATION" \
    "$DD_SAMPLES_PER_ROUND" "${DD_SENT0:-}" "${DD_SENT1:-}" "${DD_FAIL:-}" "$(nproc)" \
    "$GOAL_CPU_MS_PER_1K" "$GOAL_RSS_MIB" "$JSON_OUT" "$ND_BLOCKED" "${ND_ANON:-0}" \
    "$("$NODE_EXPORTER" --version 2>&1 | head -n 1)" "$("$NETDATA" -v 2>&1 | head -n 1)" \
    "$("$BIN" version 2>&1 | head -n 1)" <<'PY'
import datetime, json, os, sys

(mon_f, scrapes_f, charts_f, duration, dd_round, sent0, sent1, dd_fail, ncpu, goal_cpu, goal_rss,
 json_out, nd_blocked, nd_anon, ne_ver, nd_ver, dd_ver) = sys.argv[1:]
duration, dd_round, goal_cpu, goal_rss = int(duration), int(dd_round), float(goal_cpu), float(goal_rss)
mon = json.load(open(mon_f))
t0, t1, tg = mon["t0"], mon["t1"], mon["targets"]
warn = []

# dashdot: samples of one round (agent --once) x one round a second
dd = {"samples_per_round": dd_round, "samples_per_s": float(dd_round)}
if sent0 and sent1:
    rounds = float(sent1) - float(sent0)
    dd["batches_delivered"] = rounds
    if rounds < 0.9 * duration:
        warn.append(f"dashdot agent delivered only {rounds:.0f} batches in {duration}s")
if dd_fail and float(dd_fail) > 0:
    warn.append(f"dashdot agent reported {dd_fail} send failures")

# node_exporter: non-comment lines of every scrape made in the window
sc = [tuple(map(float, l.split())) for l in open(scrapes_f) if l.strip()]
win = [n for ts, n in sc if t0 <= ts < t1]
ne = {"scrapes": len(win),
      "samples_per_scrape": sum(win) / len(win) if win else 0.0,
      "samples_per_s": sum(win) / duration}
if len(win) < 0.9 * duration or not all(win):
    warn.append(f"node_exporter: {len(win)} scrapes in {duration}s, {sum(1 for n in win if not n)} empty")

# netdata: dimensions of every chart still being collected, each 1/update_every per second
charts = json.load(open(charts_f))["charts"].values()
now = max((c["last_entry"] for c in charts), default=t1)
live = [c for c in charts if c["last_entry"] >= now - max(5, 3 * c["update_every"])]
nd = {"charts": len(live),
      "dimensions": sum(len(c["dimensions"]) for c in live),
      "dimensions_update_every_1": sum(len(c["dimensions"]) for c in live if c["update_every"] == 1),
      "samples_per_s": sum(len(c["dimensions"]) / c["update_every"] for c in live)}

rows = [("dashdot agent", "dashdot", dd), ("node_exporter", "node_exporter", ne),
        ("netdata (tree)", "netdata", nd)]
res = {}
for label, k, d in rows:
    t = tg[k]
    if not t["alive"]:
        warn.append(f"{label} exited during the run")
    samples = d["samples_per_s"] * duration
    d.update(cpu_s=t["cpu_s"], cpu_ms_per_min=t["cpu_s"] / duration * 60 * 1000,
             cpu_ms_per_1k_samples=t["cpu_s"] * 1000 / samples * 1000 if samples else float("nan"),
             peak_rss_mib=t["peak_rss_kb"] / 1024, procs_max=t["procs_max"],
             procs_seen=t["procs_seen"])
    res[k] = d

print()
print(f"dashdot agent benchmark: {duration}s at 1 s interval, {ncpu} cores, all three side by side")
print(f"  {dd_ver} | {ne_ver} | {nd_ver}")
print()
hdr = f"{'':<16}{'samples/s':>10}{'CPU s':>9}{'CPU ms/min':>12}{'CPU ms/1k samples':>19}{'peak RSS MiB':>14}{'procs':>7}"
print(hdr)
print("-" * len(hdr))
for label, k, _ in rows:
    d = res[k]
    print(f"{label:<16}{d['samples_per_s']:>10.0f}{d['cpu_s']:>9.2f}{d['cpu_ms_per_min']:>12.0f}"
          f"{d['cpu_ms_per_1k_samples']:>19.3f}{d['peak_rss_mib']:>14.1f}{d['procs_max']:>7}")
print()
print("ratio peer / dashdot   samples/s   CPU per minute   CPU per 1k samples   peak RSS")
D = res["dashdot"]
def ratio(a, b):
    return f"{a / b:.1f}x" if b else "n/a"
for label, k, _ in rows[1:]:
    P = res[k]
    print(f"  {label:<20}{ratio(P['samples_per_s'], D['samples_per_s']):>11}"
          f"{ratio(P['cpu_ms_per_min'], D['cpu_ms_per_min']):>17}"
          f"{ratio(P['cpu_ms_per_1k_samples'], D['cpu_ms_per_1k_samples']):>21}"
          f"{ratio(P['peak_rss_mib'], D['peak_rss_mib']):>11}")
print()
ok_cpu = D["cpu_ms_per_1k_samples"] <= goal_cpu
ok_rss = D["peak_rss_mib"] <= goal_rss
print(f"dashdot CPU time per minute at 1 s interval: {D['cpu_ms_per_min']:.0f} ms "
      f"({D['cpu_ms_per_min'] / 600:.2f}% of one core)")
print(f"goal: <= {goal_cpu:g} ms CPU per 1000 samples: {D['cpu_ms_per_1k_samples']:.3f} ms  "
      f"{'PASS' if ok_cpu else 'FAIL'}")
print(f"goal: <= {goal_rss:g} MiB peak RSS:           {D['peak_rss_mib']:.1f} MiB  "
      f"{'PASS' if ok_rss else 'FAIL'}")
print()
print(f"samples: dashdot = lines of 'dashdot agent --once' ({dd_round}/round, one round/s); "
      f"node_exporter = non-comment lines per scrape ({ne['samples_per_scrape']:.0f}, {ne['scrapes']} scrapes); "
      f"netdata = dimensions of its {nd['charts']} live charts / update_every "
      f"({nd['dimensions_update_every_1']} of {nd['dimensions']} at 1 s)")
print(f"netdata tree: up to {res['netdata']['procs_max']} processes at once, "
      f"{res['netdata']['procs_seen']} seen; its peak RSS is the sum of each process's VmHWM")
peers = mon["netdata_non_loopback_peers"]
if peers:
    warn.append("netdata had sockets to non-loopback peers: " + "; ".join(peers))
if nd_blocked.strip():
    print("netdata's scripts tried to run (stubbed out, nothing sent): "
          + " | ".join(l[:100] for l in nd_blocked.splitlines()))
if int(nd_anon or 0):
    warn.append(f"netdata ran anonymous-statistics.sh {nd_anon} times (DO_NOT_TRACK makes it exit)")
for w in warn:
    print("WARNING: " + w)

if json_out:
    os.makedirs(os.path.dirname(json_out) or ".", exist_ok=True)
    json.dump({"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "duration_s": duration, "cores": int(ncpu),
               "versions": {"dashdot": dd_ver, "node_exporter": ne_ver, "netdata": nd_ver},
               "results": res,
               "goals": {"cpu_ms_per_1k_samples": goal_cpu, "peak_rss_mib": goal_rss,
                         "cpu_pass": ok_cpu, "rss_pass": ok_rss},
               "warnings": warn}, open(json_out, "w"), indent=1)
    print(f"results written to {json_out}")
PY
