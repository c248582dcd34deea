#!/usr/bin/env bash
# Probes benchmark (issue 12), dashdot against Debian's peers in one run:
#   1. ICMP RTT accuracy: `dashdot probe icmp` against fping on the same loopback targets
#      (median difference of the median RTTs).
#   2. One dashdot agent running BENCH_HTTP http and BENCH_ICMP icmp probes (BENCH_PINGS pings
#      each) at a 10 s interval, timeout 5 s, then prometheus-blackbox-exporter doing the same
#      work driven by Debian's prometheus (scrape_interval 10s, scrape_timeout 5s). For each:
#      probes/s completed and on schedule, late and missed runs, CPU per probe, RSS.
#   3. BENCH_SNMP SNMP interface tables (IF-MIB walks of one snmpd on 127.0.0.1) every 60 s:
#      a dashdot agent, then prometheus-snmp-exporter driven by prometheus.
# Each dashdot agent first runs once until it has all its probes (its RSS then is reported as
# "cold config"); the measured window is of the agent started again, from its stored config.
# The measured setups run ONE AFTER THE OTHER, each alone for its window, on the same targets:
# on 2 cores a peer and its driver (prometheus) running next to the agent would take CPU from
# it and from the targets, and skew both sides' schedule figures.
#
#   bash bench/probes/run.sh
#   BENCH_SECONDS=120 DASHDOT_BIN=build-bench/dashdot bash bench/probes/run.sh
#
# env: DASHDOT_BIN (build/dashdot), BENCH_SECONDS (120, each window), BENCH_WARMUP (30),
#      BENCH_HTTP (1000), BENCH_ICMP (1000), BENCH_PINGS (3), BENCH_SNMP (200; 0 skips the SNMP
#      part), BENCH_SNMP_SECONDS (120), BENCH_RTT_ROUNDS (5; 0 skips the fping comparison),
#      BENCH_SPLIT (0; 1 adds icmp-only and http-only windows for both sides),
#      BENCH_JSON (bench/results/probes-<UTC date>.json; empty: no file), BENCH_KEEP_TMP (0; 1
#      keeps the temp dir with the logs, configs and prometheus data)
# Needs root (ICMP raw sockets for blackbox_exporter; stopping the peers' system services).
# Everything listens on 127.0.0.1 free ports and lives in a temp dir removed at exit; system
# services of the peers that are running are stopped for the run and started again at exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/bench/probes
BIN=${DASHDOT_BIN:-$ROOT/build/dashdot}
BIN=$(realpath -m -- "$BIN")
cd "$ROOT"
DURATION=${BENCH_SECONDS:-120}
WARMUP=${BENCH_WARMUP:-30}
N_HTTP=${BENCH_HTTP:-1000}
N_ICMP=${BENCH_ICMP:-1000}
PINGS=${BENCH_PINGS:-3}
N_SNMP=${BENCH_SNMP:-200}
SNMP_DURATION=${BENCH_SNMP_SECONDS:-120}
RTT_ROUNDS=${BENCH_RTT_ROUNDS:-5}
SPLIT=${BENCH_SPLIT:-0}
JSON_OUT=${BENCH_JSON-bench/results/probes-$(date -u +%Y%m%dT%H%M%SZ).json}
INTERVAL=10
SNMP_INTERVAL=60

die() { echo "bench: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

case ${1:-} in -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d'; exit 0 ;; esac
for v in DURATION WARMUP N_HTTP N_ICMP PINGS N_SNMP SNMP_DURATION RTT_ROUNDS SPLIT; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer"
done
((DURATION >= 20 && SNMP_DURATION >= 60)) || die "BENCH_SECONDS must be >= 20, BENCH_SNMP_SECONDS >= 60"
((N_ICMP <= 65000)) || die "BENCH_ICMP at most 65000 (addresses 127.0.1.1 ...)"
((PINGS >= 1 && PINGS <= 100)) || die "BENCH_PINGS must be 1 to 100"
[[ -x $BIN ]] || die "no dashdot binary at $BIN: build it (meson setup build-bench" \
    "-Dbuildtype=release; ninja -C build-bench) or set DASHDOT_BIN"
[[ $(id -u) -eq 0 ]] ||
    die "run as root (blackbox_exporter's ICMP needs a raw socket; peers' services may need stopping)"

SPATH="$PATH:/usr/sbin:/sbin:/usr/local/sbin"
need() { PATH=$SPATH command -v "$1" 2>/dev/null || true; }
PROMETHEUS=$(need prometheus)
BLACKBOX=$(need prometheus-blackbox-exporter)
SNMP_EXPORTER=$(need prometheus-snmp-exporter)
FPING=$(need fping)
SNMPD=$(need snmpd)
missing=()
[[ -n $PROMETHEUS ]] || missing+=(prometheus)
[[ -n $BLACKBOX ]] || missing+=(prometheus-blackbox-exporter)
((RTT_ROUNDS == 0)) || [[ -n $FPING ]] || missing+=(fping)
if ((N_SNMP > 0)); then
    [[ -n $SNMP_EXPORTER ]] || missing+=(prometheus-snmp-exporter)
    [[ -n $SNMPD ]] || missing+=(snmpd)
fi
for c in curl python3; do command -v "$c" >/dev/null || missing+=("$c"); done
((${#missing[@]} == 0)) || die "missing ${missing[*]}: run 'scripts/deps.sh bench' (or apt-get install them)"

# ---------------------------------------------------------------------------------------------
# cleanup: every daemon is started in its own session (start_daemon) and killed by process group
TMP=$(mktemp -d /tmp/dashdot-bench-probes.XXXXXX)
chmod 755 "$TMP"
LEADERS=()
STOPPED_SERVICES=()

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    local p i
    # a pause or a measurement under way in the background (see bg_wait) ends now
    if [[ -n ${BG_PID:-} ]]; then kill "$BG_PID" 2>/dev/null || true; fi
    for p in "${LEADERS[@]}"; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true; done
    for p in "${LEADERS[@]}"; do
        for i in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    if [[ ${BENCH_KEEP_TMP:-0} == 1 ]]; then note "kept $TMP"; else rm -rf "$TMP"; fi
    for p in "${STOPPED_SERVICES[@]}"; do
        note "restarting the system service $p that the bench stopped"
        if [[ -d /run/systemd/system ]]; then systemctl start "$p" || true
        else service "$p" start >/dev/null 2>&1 || /etc/init.d/"$p" start >/dev/null 2>&1 || true; fi
    done
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# running system instances would compete for the CPU (and snmpd for nothing: ours is private)
stop_service() {
    local s=$1
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
        if systemctl is-active --quiet "$s"; then
            note "stopping the system service $s for the duration of the bench"
            systemctl stop "$s"
            STOPPED_SERVICES+=("$s")
        fi
    elif [[ -x /etc/init.d/$s ]] && /etc/init.d/"$s" status >/dev/null 2>&1; then
        note "stopping the system service $s for the duration of the bench"
        service "$s" stop >/dev/null 2>&1 || /etc/init.d/"$s" stop >/dev/null
        STOPPED_SERVICES+=("$s")
    fi
}
for s in prometheus prometheus-blackbox-exporter prometheus-snmp-exporter snmpd; do stop_service "$s"; done

# start_daemon NAME CMD...: runs CMD in a new session, output to $TMP/NAME.log; sets PID_<NAME>
# to its pid (also its process group), which the exit trap kills.
start_daemon() {
    local name=$1 pid i
    shift
    rm -f "$TMP/$name.pid"
    # shellcheck disable=SC2016 # $$ and $@ are the inner shell's
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$TMP/$name.pid" "$@" >"$TMP/$name.log" 2>&1 </dev/null &
    for i in $(seq 100); do [[ -s $TMP/$name.pid ]] && break; sleep 0.05; done
    pid=$(cat "$TMP/$name.pid")
    LEADERS+=("$pid")
    printf -v "PID_${name//-/_}" %s "$pid"
}
# stop_daemon NAME: TERM to its group, KILL after 10 s; the exit trap forgets it (its pid may
# belong to another process later)
stop_daemon() {
    local v="PID_${1//-/_}" i p keep=()
    local pid=${!v}
    kill -TERM -- "-$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for p in "${LEADERS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
    LEADERS=("${keep[@]}")
}
wait_for() {   # wait_for SECONDS DESCRIPTION COMMAND...
    local t=$1 what=$2 i
    shift 2
    for ((i = 0; i < t * 10; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    die "$what did not come up within ${t}s (logs in $TMP: $(tail -n 3 "$TMP"/*.log 2>/dev/null | tail -n 12))"
}
# bg_wait CMD...: runs CMD in the background and waits for it, so that INT and TERM run the exit
# trap at once (bash runs traps only between foreground commands); returns CMD's status.
bg_wait() { "$@" & BG_PID=$!; wait "$BG_PID"; }
pause() { bg_wait sleep "$1"; }

read -r P_SRV P_TGT P_BB P_PROM P_SNMPX < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(5)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
P_SNMPD=$(python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
SRV=http://127.0.0.1:$P_SRV
TGT_URL=http://127.0.0.1:$P_TGT/-/healthy
PROM=http://127.0.0.1:$P_PROM
ADMIN=$TMP/srv/admin.token

# ---------------------------------------------------------------------------------------------
# the targets: a dashdot server whose /-/healthy (libmicrohttpd) answers the HTTP probes of both
# sides (not the one the agent reports to, so that its load is the same in every window); the
# ICMP targets are 127.0.1.1, 127.0.1.2, ... (the whole 127/8 answers on Linux); one snmpd.
mkdir -p "$TMP"/{tgt,srv,prom,spool}
start_daemon target "$BIN" server --listen "127.0.0.1:$P_TGT" --data "$TMP/tgt" --wal.fsync 10s
start_daemon server "$BIN" server --listen "127.0.0.1:$P_SRV" --data "$TMP/srv"
wait_for 15 "the target server" curl -fsS -o /dev/null "$TGT_URL"
wait_for 15 "the dashdot server" test -s "$TMP/srv/agent.token"
wait_for 15 "the dashdot server" curl -fsS -o /dev/null "$SRV/api/v1/status/buildinfo"

NOTES=()
if ((N_HTTP > 0)); then
    out=$("$BIN" probe http "$TGT_URL?p=check" 2>&1 || true)
    if [[ $(tail -n 1 <<<"$out") != "# http succeeded"* ]]; then
        NOTES+=("http probes not measured: 'dashdot probe http $TGT_URL' says: $(tail -n 1 <<<"$out")")
        note "${NOTES[-1]}"
        N_HTTP=0
    fi
fi
if ((N_SNMP > 0)); then
    mkdir -p "$TMP/snmpd"
    cat >"$TMP/snmpd/snmpd.conf" <<EOF
agentAddress udp:127.0.0.1:$P_SNMPD
rocommunity bench 127.0.0.1
sysName dashdot-bench-snmp
EOF
    # -C: only this config; -r: no root files; MIBS="": no MIB files parsed
    start_daemon snmpd env SNMP_PERSISTENT_DIR="$TMP/snmpd" MIBS="" "$SNMPD" -f -C -c "$TMP/snmpd/snmpd.conf" \
        -r -Lf "$TMP/snmpd/snmpd.log"
    out=""
    for _ in $(seq 30); do
        out=$("$BIN" probe snmp "127.0.0.1:$P_SNMPD" --settings '{"community":"bench"}' --timeout 3s 2>&1 || true)
        [[ $(tail -n 1 <<<"$out") == "# snmp succeeded"* ]] && break
        pause 0.5
    done
    if [[ $(tail -n 1 <<<"$out") == "# snmp succeeded"* ]]; then
        SNMP_IFS=$(grep -c '^ifOperStatus{' <<<"$out" || true)
    else
        NOTES+=("snmp probes not measured: 'dashdot probe snmp 127.0.0.1:$P_SNMPD' says: $(tail -n 1 <<<"$out")")
        note "${NOTES[-1]}"
        N_SNMP=0
    fi
fi
((N_HTTP + N_ICMP > 0)) || die "nothing to measure (no http and no icmp probes)"

# ---------------------------------------------------------------------------------------------
# 1. RTT accuracy against fping, on a quiet machine (before the loads)
echo '{}' >"$TMP/rtt.json"
if ((RTT_ROUNDS > 0)); then
    note "ICMP RTT: dashdot probe icmp vs fping, $RTT_ROUNDS rounds of 20 pings to 4 targets"
    bg_wait python3 "$HERE/rtt.py" "$BIN" "$RTT_ROUNDS" 20 127.0.0.1 127.0.1.1 127.0.1.200 ::1 >"$TMP/rtt.json"
fi

# ---------------------------------------------------------------------------------------------
# dashdot: the agents enroll once (then stop), the probes and schedules are created through the
# API, and each measured agent starts with its whole config at once.
AGENTS=(bench)
((SPLIT)) && AGENTS+=(bench-icmp bench-http)
((N_SNMP > 0)) && AGENTS+=(bench-snmp)
agent_args() {   # agent_args NAME: the command line of agent NAME
    echo "$BIN" agent --server "$SRV" --token-file "$TMP/srv/agent.token" --collectors loadavg \
        --state "$TMP/state-$1" --spool "$TMP/spool/$1" --instance "$1"
}
for a in "${AGENTS[@]}"; do
    # shellcheck disable=SC2046
    start_daemon "agent-$a" $(agent_args "$a")
    wait_for 20 "agent $a's enrollment" test -s "$TMP/state-$a/agent.token"
    stop_daemon "agent-$a"
done
note "creating $N_ICMP icmp, $N_HTTP http and $N_SNMP snmp probes and their schedules through the API"
if ((N_ICMP > 0)); then
    python3 "$HERE/catalog.py" "$SRV" "$ADMIN" "bench$( ((SPLIT)) && echo ,bench-icmp)" icmp "$N_ICMP" \
        --interval ${INTERVAL}s --timeout 5s --pings "$PINGS" >/dev/null
fi
if ((N_HTTP > 0)); then
    python3 "$HERE/catalog.py" "$SRV" "$ADMIN" "bench$( ((SPLIT)) && echo ,bench-http)" http "$N_HTTP" \
        --interval ${INTERVAL}s --timeout 5s --url "$TGT_URL" >/dev/null
fi
if ((N_SNMP > 0)); then
    python3 "$HERE/catalog.py" "$SRV" "$ADMIN" bench-snmp snmp "$N_SNMP" --interval ${SNMP_INTERVAL}s \
        --timeout 10s --address 127.0.0.1 --port "$P_SNMPD" --community bench >/dev/null
fi

# The config fetch: each agent runs once until it has its whole probe config (and keeps it in its
# state directory), so the measured run starts like a restarted agent, with its probes on their
# grid. This first run is itself a figure: an agent that hears of N new probes while running
# starts each within 2 s (docs/probes.md: new and edited probes run "soon"), so all N at once.
# Its RSS COLD_SECONDS after the start goes into the report.
COLD_SECONDS=20
cold_start() {   # cold_start AGENT PROBES: writes $TMP/cold-AGENT.json
    local agent=$1 n=$2 i t0
    t0=$SECONDS
    # shellcheck disable=SC2046
    start_daemon "agent-$agent" $(agent_args "$agent")
    local v="PID_agent_${agent//-/_}"
    local pid=${!v}
    for ((i = 0; i < 600; i++)); do
        grep -q "agent: $n probes scheduled" "$TMP/agent-$agent.log" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || die "agent $agent exited: $(tail -n 5 "$TMP/agent-$agent.log")"
        pause 0.1
    done
    ((i < 600)) || die "agent $agent did not get its $n probes within 60 s: $(tail -n 3 "$TMP/agent-$agent.log")"
    local left=$((COLD_SECONDS - (SECONDS - t0)))
    ((left > 0)) && pause "$left"
    python3 - "$pid" "$n" "$COLD_SECONDS" >"$TMP/cold-$agent.json" <<'PY'
import json, os, sys
pid, n, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
st = {}
for line in open(f"/proc/{pid}/status"):
    k, _, v = line.partition(":")
    if k in ("VmRSS", "VmHWM"):
        st[k] = int(v.split()[0])
s = open(f"/proc/{pid}/stat").read()
ticks = sum(int(x) for x in s[s.rindex(")") + 2:].split()[11:13])
print(json.dumps({"probes": n, "seconds": secs, "rss_kb": st.get("VmRSS"), "hwm_kb": st.get("VmHWM"),
                  "cpu_s": ticks / os.sysconf("SC_CLK_TCK")}))
PY
    stop_daemon "agent-$agent"
    mv "$TMP/agent-$agent.log" "$TMP/agent-$agent-cold.log"
}
note "each agent fetches its probe config once (${COLD_SECONDS}s each)"
((N_ICMP + N_HTTP > 0)) && cold_start bench $((N_ICMP + N_HTTP))
((SPLIT && N_ICMP > 0)) && cold_start bench-icmp "$N_ICMP"
((SPLIT && N_HTTP > 0)) && cold_start bench-http "$N_HTTP"
((N_SNMP > 0)) && cold_start bench-snmp "$N_SNMP"

# dd_phase LABEL AGENT SECONDS INTERVAL KIND...: starts the agent, warms up, measures it (and, not
# counted, the dashdot server it reports to and the target server), then reads the schedule
# figures back from the server; writes $TMP/phase-LABEL.json
dd_phase() {
    local label=$1 agent=$2 secs=$3 iv=$4 k
    shift 4
    local kinds=("$@") procs
    note "[$label] dashdot agent $agent: ${kinds[*]}; warm-up ${WARMUP}s, window ${secs}s"
    # shellcheck disable=SC2046
    start_daemon "agent-$agent" $(agent_args "$agent")
    local apid_v="PID_agent_${agent//-/_}"
    local apid=${!apid_v}
    pause "$WARMUP"
    kill -0 "$apid" 2>/dev/null || die "agent $agent exited: $(tail -n 5 "$TMP/agent-$agent.log")"
    procs=("measured=$apid" "server=$PID_server" "target=$PID_target")
    [[ -n ${PID_snmpd:-} ]] && procs+=("snmpd=$PID_snmpd")
    bg_wait python3 "$HERE/monitor.py" "$secs" "$TMP/mon-$label.json" "${procs[@]}"
    # results of runs that started in the window arrive up to a timeout + a send later
    pause $((iv == 60 ? 15 : 10))
    local specs=()
    for k in "${kinds[@]}"; do
        case $k in
        icmp) specs+=("icmp=$N_ICMP") ;;
        http) specs+=("http=$N_HTTP") ;;
        snmp) specs+=("snmp=$N_SNMP") ;;
        esac
    done
    python3 "$HERE/phase.py" dashdot "$SRV" "$ADMIN" "$agent" "$label" "$TMP/mon-$label.json" "$iv" \
        "${specs[@]}" >"$TMP/phase-$label.json"
    stop_daemon "agent-$agent"
    # the agent's warnings and errors, without their time stamps, counted
    grep -E ' (warn|error) ' "$TMP/agent-$agent.log" | cut -d' ' -f2- | sed 's/[0-9][0-9.]*/N/g' |
        sort | uniq -c | sort -rn | head -n 5 >"$TMP/agentwarn-$label.txt" || true
}

# pr_phase LABEL SECONDS INTERVAL EXPORTER_NAME CONFIG_DIR JOBSPEC...: starts the exporter and a
# fresh prometheus with CONFIG_DIR/prometheus.yml, warms up, measures the exporter (prometheus and
# the target server too, not counted), reads the schedule figures from prometheus.
# JOBSPEC = KIND=JOB_REGEX=WORK=N: N probes of the issue, WORK scrapes each.
pr_phase() {
    local label=$1 secs=$2 iv=$3 exporter=$4 cfg=$5
    shift 5
    note "[$label] $exporter + prometheus: $*; warm-up ${WARMUP}s, window ${secs}s"
    if [[ $exporter == blackbox ]]; then
        start_daemon exporter "$BLACKBOX" --config.file="$cfg/blackbox.yml" \
            --web.listen-address="127.0.0.1:$P_BB"
        wait_for 15 "blackbox_exporter" curl -fsS -o /dev/null "http://127.0.0.1:$P_BB/metrics"
    else
        start_daemon exporter "$SNMP_EXPORTER" --config.file="$cfg/snmp.yml" \
            --web.listen-address="127.0.0.1:$P_SNMPX"
        wait_for 15 "snmp_exporter" curl -fsS -o /dev/null "http://127.0.0.1:$P_SNMPX/metrics"
    fi
    rm -rf "$TMP/prom/$label"
    mkdir -p "$TMP/prom/$label"
    start_daemon prometheus "$PROMETHEUS" --config.file="$cfg/prometheus.yml" \
        --storage.tsdb.path="$TMP/prom/$label" --storage.tsdb.retention.time=1d \
        --web.listen-address="127.0.0.1:$P_PROM"
    wait_for 30 "prometheus" curl -fsS -o /dev/null "$PROM/-/ready"
    pause "$WARMUP"
    # shellcheck disable=SC2154 # PID_exporter: set by start_daemon (printf -v)
    kill -0 "$PID_exporter" 2>/dev/null || die "$exporter exited: $(tail -n 5 "$TMP/exporter.log")"
    local procs=("measured=$PID_exporter" "prometheus=$PID_prometheus" "target=$PID_target")
    [[ -n ${PID_snmpd:-} ]] && procs+=("snmpd=$PID_snmpd")
    bg_wait python3 "$HERE/monitor.py" "$secs" "$TMP/mon-$label.json" "${procs[@]}"
    pause $((iv == 60 ? 15 : 8))
    python3 "$HERE/phase.py" prometheus "$PROM" "$exporter" "$label" "$TMP/mon-$label.json" "$iv" \
        "$@" >"$TMP/phase-$label.json"
    stop_daemon prometheus
    stop_daemon exporter
}

# ---------------------------------------------------------------------------------------------
# 2. http + icmp: dashdot, then blackbox_exporter
mkdir -p "$TMP/bb-both" "$TMP/bb-icmp" "$TMP/bb-http" "$TMP/snmpx"
python3 "$HERE/configs.py" blackbox "$TMP/bb-both" "$P_BB" "$TGT_URL" "$N_HTTP" "$N_ICMP" "$PINGS"
DD_KINDS=()
BB_SPECS=()
((N_ICMP > 0)) && DD_KINDS+=(icmp) && BB_SPECS+=("icmp=blackbox_icmp_.*=$PINGS=$N_ICMP")
((N_HTTP > 0)) && DD_KINDS+=(http) && BB_SPECS+=("http=blackbox_http=1=$N_HTTP")
PHASES=()
if ((SPLIT)); then
    if ((N_ICMP > 0)); then
        python3 "$HERE/configs.py" blackbox "$TMP/bb-icmp" "$P_BB" "$TGT_URL" 0 "$N_ICMP" "$PINGS"
        dd_phase dd-icmp bench-icmp "$DURATION" $INTERVAL icmp
        pr_phase bb-icmp "$DURATION" $INTERVAL blackbox "$TMP/bb-icmp" "icmp=blackbox_icmp_.*=$PINGS=$N_ICMP"
        PHASES+=(dd-icmp bb-icmp)
    fi
    if ((N_HTTP > 0)); then
        python3 "$HERE/configs.py" blackbox "$TMP/bb-http" "$P_BB" "$TGT_URL" "$N_HTTP" 0 "$PINGS"
        dd_phase dd-http bench-http "$DURATION" $INTERVAL http
        pr_phase bb-http "$DURATION" $INTERVAL blackbox "$TMP/bb-http" "http=blackbox_http=1=$N_HTTP"
        PHASES+=(dd-http bb-http)
    fi
fi
dd_phase dd-both bench "$DURATION" $INTERVAL "${DD_KINDS[@]}"
pr_phase bb-both "$DURATION" $INTERVAL blackbox "$TMP/bb-both" "${BB_SPECS[@]}"
PHASES+=(dd-both bb-both)

# 3. SNMP: dashdot, then snmp_exporter
if ((N_SNMP > 0)); then
    python3 "$HERE/configs.py" snmp "$TMP/snmpx" "$P_SNMPX" "127.0.0.1:$P_SNMPD" "$N_SNMP" bench
    dd_phase dd-snmp bench-snmp "$SNMP_DURATION" $SNMP_INTERVAL snmp
    pr_phase sx-snmp "$SNMP_DURATION" $SNMP_INTERVAL snmp "$TMP/snmpx" "snmp=snmp=1=$N_SNMP"
    PHASES+=(dd-snmp sx-snmp)
fi

# ---------------------------------------------------------------------------------------------
# report
for f in "$TMP"/agentwarn-*.txt; do
    [[ -s $f ]] || continue
    w=$(basename "$f" .txt)
    while read -r count line; do
        NOTES+=("agent log (${w#agentwarn-}): ${count}x $line")
    done < <(head -n 4 "$f")
done
args=()
for p in "${PHASES[@]}"; do args+=("$TMP/phase-$p.json"); done
for n in "${NOTES[@]}"; do args+=(--note "$n"); done
for a in bench bench-snmp; do [[ -s $TMP/cold-$a.json ]] && args+=(--cold "$a=$TMP/cold-$a.json"); done
python3 "$HERE/report.py" --rtt "$TMP/rtt.json" --json-out "$JSON_OUT" \
    --version "dashdot=$("$BIN" version 2>&1 | head -n 1)" \
    --version "blackbox=$("$BLACKBOX" --version 2>&1 | head -n 1)" \
    --version "prometheus=$("$PROMETHEUS" --version 2>&1 | head -n 1)" \
    ${SNMP_EXPORTER:+--version "snmp_exporter=$("$SNMP_EXPORTER" --version 2>&1 | head -n 1)"} \
    ${FPING:+--version "fping=$("$FPING" --version 2>&1 | head -n 1)"} \
    --config "http=$N_HTTP" --config "icmp=$N_ICMP" --config "pings=$PINGS" --config "snmp=$N_SNMP" \
    --config "snmp_interfaces=${SNMP_IFS:-0}" --config "seconds=$DURATION" \
    --config "snmp_seconds=$SNMP_DURATION" --config "warmup=$WARMUP" --config "cores=$(nproc)" \
    "${args[@]}"
