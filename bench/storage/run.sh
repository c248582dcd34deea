#!/usr/bin/env bash
# Storage engine benchmark: dashdot server vs Debian's prometheus vs Debian's victoria-metrics,
# fed the same remote-write payloads (one dataset, generated once), one after the other on this
# machine. For each it reports ingest samples/s, CPU, peak RSS, bytes per sample on disk after a
# flush and a clean restart (index included), RSS per active series after the restart and one
# query, and query_range latency (median of 5) for a fixed query set; for Prometheus also the
# size of blocks made by `promtool tsdb create-blocks-from openmetrics` from the same samples.
#
#   make bench-storage                            (deps, build, then the default run)
#   bash bench/storage/run.sh [--quick] [--interval 1s] [--hosts N] [--hours H]
#                             [--targets dashdot,prometheus,victoria-metrics] [--conns N]
#                             [--om-hosts N] [--per-series N] [--keep] [--no-build]
#
# Default dataset: 200 hosts x ~1000 node_exporter series x 6 h at 10 s (~430 M samples, ~8 GB of
# payload). --quick: 20 hosts x 1 h. --interval 1s (without --hours/--hosts): 100 hosts x 1 h
# (~360 M samples).
# env: DASHDOT_BIN (default build/dashdot), BENCH_BUILD (build dir for dsgen/rwload, default
#      build), BENCH_TMPDIR (where the dataset and data dirs go, default /var/tmp),
#      BENCH_OUT (result file, default bench/results/storage-<UTC date>.txt; empty = none)
# Every server listens on a free 127.0.0.1 port with a fresh data dir under a temp dir that is
# removed at exit (--keep keeps it); an exit trap stops whatever is still running.
# The whole script is one { ... } block, so bash reads all of it before running any of it: an
# edit of this file while a (long) run is going cannot change what that run executes.
{
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
BUILD=${BENCH_BUILD:-build}
BIN=$(realpath -m -- "${DASHDOT_BIN:-$BUILD/dashdot}")
OUT=${BENCH_OUT-bench/results/storage-$(date -u +%Y%m%dT%H%M%SZ).txt}

HOSTS="" HOURS="" INTERVAL=10s QUICK=0 CONNS=4 KEEP=0 BUILD_IT=1 OM_HOSTS="" PER_SERIES=1 PAYLOAD=
TARGETS=dashdot,prometheus,victoria-metrics
die() { echo "bench-storage: $*" >&2; exit 1; }
note() { echo "bench-storage: $(date -u +%H:%M:%S) $*" >&2; }
while (($#)); do
    case $1 in
    --quick) QUICK=1 ;;
    --interval) INTERVAL=${2:?}; shift ;;
    --hosts) HOSTS=${2:?}; shift ;;
    --hours) HOURS=${2:?}; shift ;;
    --targets) TARGETS=${2:?}; shift ;;
    --conns) CONNS=${2:?}; shift ;;
    --om-hosts) OM_HOSTS=${2:?}; shift ;;
    --per-series) PER_SERIES=${2:?}; shift ;;
    --keep) KEEP=1 ;;
    --payload) PAYLOAD=$(realpath -- "${2:?}"); shift ;;
    --no-build) BUILD_IT=0 ;;
    -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done
if ((QUICK)); then
    HOSTS=${HOSTS:-20} HOURS=${HOURS:-1}
elif [[ $INTERVAL == 1s || $INTERVAL == 1000ms ]]; then
    HOSTS=${HOSTS:-100} HOURS=${HOURS:-1}
fi
HOSTS=${HOSTS:-200} HOURS=${HOURS:-6}
[[ $HOSTS =~ ^[0-9]+$ && $HOSTS -ge 1 ]] || die "--hosts must be a positive integer"
[[ $HOURS =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--hours must be a number"
[[ $CONNS =~ ^[0-9]+$ && $CONNS -ge 1 ]] || die "--conns must be a positive integer"
# promtool's backfill reads a text file (about 105 bytes a sample): a subset of hosts suffices
# for bytes/sample, which hardly depends on the number of series
OM_HOSTS=${OM_HOSTS:-$((HOSTS < 20 ? HOSTS : 20))}

# ---------------------------------------------------------------------------------------------
# dependencies and build
if ((BUILD_IT)); then
    bash scripts/deps.sh bench
    if [[ $BUILD == build && -z ${DASHDOT_BIN:-} ]]; then
        make --no-print-directory build
    fi
    [[ -f $BUILD/build.ninja ]] || meson setup "$BUILD" --wrap-mode=nofallback >/dev/null
    ninja -C "$BUILD" tests/dsgen tests/rwload | grep -v '^ninja: no work to do' || true
fi
DSGEN=$BUILD/tests/dsgen
RWLOAD=$BUILD/tests/rwload
for x in "$BIN" "$DSGEN" "$RWLOAD"; do
    [[ -x $x ]] || die "no $x: run 'make bench-storage' (or build $BUILD)"
done
SPATH="$PATH:/usr/sbin:/sbin:/usr/local/sbin"
PROMETHEUS=$(PATH=$SPATH command -v prometheus || true)
PROMTOOL=$(PATH=$SPATH command -v promtool || true)
VM=$(PATH=$SPATH command -v victoria-metrics || true)
NODE_EXPORTER=$(PATH=$SPATH command -v prometheus-node-exporter || true)
for c in curl python3 du getconf; do command -v "$c" >/dev/null || die "missing $c"; done
IFS=, read -r -a TLIST <<<"$TARGETS"
for t in "${TLIST[@]}"; do
    case $t in
    dashdot) ;;
    prometheus) [[ -n $PROMETHEUS && -n $PROMTOOL ]] || die "no prometheus: run 'make bench-storage'" ;;
    victoria-metrics) [[ -n $VM ]] || die "no victoria-metrics: run 'make bench-storage'" ;;
    *) die "unknown target $t" ;;
    esac
done
HZ=$(getconf CLK_TCK)

# ---------------------------------------------------------------------------------------------
# cleanup: every server is a session leader (setsid), stopped by process group at exit
TMP=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/dashdot-bench-storage.XXXXXX")
LEADERS=()
cleanup() {
    local rc=$? p i
    trap - EXIT INT TERM
    for p in "${LEADERS[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
    for p in "${LEADERS[@]}"; do
        for i in $(seq 300); do kill -0 -- "-$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    if ((KEEP)); then note "kept $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
alive() { kill -0 "$1" 2>/dev/null; }
wait_http() {   # wait_http SECONDS PID URL
    local t=$1 pid=$2 url=$3 i
    for ((i = 0; i < t * 10; i++)); do
        curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null && return 0
        alive "$pid" || return 1
        sleep 0.1
    done
    return 1
}
stop_leader() {   # stop_leader PID SIGNAL: graceful stop, waits up to 10 minutes
    local pid=$1 sig=$2 i
    kill "-$sig" -- "-$pid" 2>/dev/null || kill "-$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < 6000; i++)); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && { note "pid $pid did not stop on SIG$sig in 10 min: killing it"; kill -KILL -- "-$pid" 2>/dev/null || true; }
    wait "$pid" 2>/dev/null || true
    local n=() p
    for p in "${LEADERS[@]}"; do [[ $p == "$pid" ]] || n+=("$p"); done
    LEADERS=("${n[@]}")
}
cpu_ticks() { awk '{ s = $0; sub(/^.*\) /, "", s); split(s, f, " "); print f[12] + f[13] }' "/proc/$1/stat"; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# ---------------------------------------------------------------------------------------------
# 1. series shapes: the capture of bench/storage/capture/ (the other storage helper's recording
#    of node_exporter at 1 s) when it is there, else a capture of our own (3 scrapes of
#    node_exporter, 5 s apart)
SHAPES=$TMP/shapes.tsv
CAPTURE_FILES=()
if compgen -G "bench/storage/capture/*.txt.zst" >/dev/null; then
    CAPTURE_FILES=(bench/storage/capture/*.txt.zst)
    CAPTURE_SRC="${CAPTURE_FILES[*]}"
elif compgen -G "bench/storage/capture/*.prom" >/dev/null; then
    CAPTURE_FILES=(bench/storage/capture/*.prom)
    CAPTURE_SRC="bench/storage/capture (${#CAPTURE_FILES[@]} scrapes)"
else
    [[ -n $NODE_EXPORTER ]] || die "no prometheus-node-exporter to capture series shapes from: run 'make bench-storage'"
    P_NE=$(free_port)
    mkdir -p "$TMP/capture"
    setsid "$NODE_EXPORTER" --web.listen-address="127.0.0.1:$P_NE" >"$TMP/node-exporter.log" 2>&1 &
    NE_PID=$!
    LEADERS+=("$NE_PID")
    wait_http 10 "$NE_PID" "http://127.0.0.1:$P_NE/metrics" || die "node_exporter did not start"
    for i in 1 2 3; do
        ms=$(date +%s%3N)
        curl -fsS --max-time 5 "http://127.0.0.1:$P_NE/metrics" >"$TMP/capture/scrape-$ms.prom"
        ((i < 3)) && sleep 5
    done
    stop_leader "$NE_PID" TERM
    CAPTURE_FILES=("$TMP"/capture/*.prom)
    CAPTURE_SRC="3 scrapes of $($NODE_EXPORTER --version 2>&1 | head -n 1 | awk '{print $1, $3}') on this machine, 5 s apart"
fi
python3 bench/storage/shapes.py --target 1000 --out "$SHAPES" "${CAPTURE_FILES[@]}" 2>"$TMP/shapes.log" ||
    die "shapes.py failed: $(cat "$TMP/shapes.log")"
SHAPES_SUMMARY=$(sed 's/^shapes: //' "$TMP/shapes.log")

# ---------------------------------------------------------------------------------------------
# 2. the dataset, once; it ends now so every store's retention and out-of-order window take it
SPH=$(grep -vc '^#' "$SHAPES")
ISEC=$(python3 -c "import sys; s=sys.argv[1]; print(float(s[:-2])/1000 if s.endswith('ms') else float(s[:-1])*60 if s.endswith('m') else float(s.rstrip('s')))" "$INTERVAL")
EST=$(python3 -c "print(int($HOSTS*$SPH*$HOURS*3600/$ISEC))")
NEED=$(python3 -c "print(int($EST*18 + $EST*$OM_HOSTS/$HOSTS*105 + $EST*6))")
AVAIL=$(df -B1 --output=avail "$TMP" | tail -n 1)
((AVAIL > NEED)) || die "need about $((NEED >> 30)) GiB free under $TMP for $EST samples, have $((AVAIL >> 30)) GiB"
note "dataset: $HOSTS hosts x $SPH series x ${HOURS} h at $INTERVAL = $EST samples (~$((EST * 18 >> 20)) MiB of payload)"
PROMTOOL_OM=()
[[ " ${TLIST[*]} " == *" prometheus "* ]] && PROMTOOL_OM=(--openmetrics "$TMP/dataset.om" --om-hosts "$OM_HOSTS")
if [[ -n $PAYLOAD ]]; then
    # --payload FILE: replay a payload generated earlier (FILE.env or dataset.env beside it
    # holds its description); no promtool backfill then
    [[ -f $PAYLOAD ]] || die "no payload $PAYLOAD"
    envf=${PAYLOAD%.bin}.env
    [[ -f $envf ]] || envf=$(dirname "$PAYLOAD")/dataset.env
    [[ -f $envf ]] || die "no $envf describing $PAYLOAD"
    ln -f "$PAYLOAD" "$TMP/payload.bin" 2>/dev/null || cp "$PAYLOAD" "$TMP/payload.bin"
    grep -v '^om_' "$envf" >"$TMP/dataset.env"
    note "replaying $PAYLOAD (generated earlier; described by $envf)"
else
"$DSGEN" --shapes "$SHAPES" --hosts "$HOSTS" --hours "$HOURS" --interval "$INTERVAL" \
    --per-series "$PER_SERIES" --out "$TMP/payload.bin" "${PROMTOOL_OM[@]}" >"$TMP/dataset.env" ||
    die "dsgen failed"
fi
declare -A DS
while IFS== read -r k v; do DS[$k]=$v; done <"$TMP/dataset.env"
note "generated ${DS[samples]} samples of ${DS[series]} series in ${DS[requests]} requests ($((${DS[payload_bytes]} >> 20)) MiB)"
# Requests of one time window hold different series, but two windows in flight at once would
# send a series' samples out of order: never more connections than requests per window.
PER_WINDOW=$((${DS[requests]} / ((${DS[steps]} + ${DS[per_series]} - 1) / ${DS[per_series]})))
if ((CONNS > PER_WINDOW)); then
    note "only $PER_WINDOW request(s) per time step: using $PER_WINDOW connection(s), not $CONNS"
    CONNS=$((PER_WINDOW > 0 ? PER_WINDOW : 1))
fi
QEND=$(((${DS[end_ms]} / 1000) / 60 * 60))
QSTART=$((QEND - 86400))

# The fixed query set: each over 24 h ending at the dataset's end, step 1 m. Labels of the
# dataset: instance="host-0001:9100" ..., job="node".
QUERIES=(
    '{instance="host-0001:9100"}'
    'node_memory_MemAvailable_bytes'
    'rate(node_cpu_seconds_total{instance=~"host-000[1-5]:9100"}[5m])'
    'sum by (instance)(rate(node_network_receive_bytes_total[5m]))'
    'node_load1'
)

# query_set BASEURL PREFIX: 5 runs of each query (median, and the first run); writes
# PREFIX_q<i>_{median_ms,first_ms,series,status} into the target's result file
query_set() {
    local base=$1 prefix=$2 i r q t code times n
    for i in "${!QUERIES[@]}"; do
        q=${QUERIES[$i]}
        times=()
        for r in 1 2 3 4 5; do
            read -r code t < <(curl -sS -o "$TMP/q.json" -w '%{http_code} %{time_total}\n' --max-time 300 \
                "$base/api/v1/query_range" --data-urlencode "query=$q" \
                --data-urlencode "start=$QSTART" --data-urlencode "end=$QEND" --data-urlencode step=60 ||
                echo "000 0")
            times+=("$t")
        done
        n=$(python3 -c 'import json,sys
try:
    d = json.load(open(sys.argv[1]))
    print(len(d["data"]["result"]) if d.get("status") == "success" else "error:" + d.get("error", "?")[:80].replace(" ", "_"))
except Exception as e:
    print("error:unreadable")' "$TMP/q.json")
        {
            echo "${prefix}_q${i}_status=$code"
            echo "${prefix}_q${i}_series=$n"
            echo "${prefix}_q${i}_first_ms=$(python3 -c "print(round(${times[0]}*1000, 1))")"
            echo "${prefix}_q${i}_median_ms=$(printf '%s\n' "${times[@]}" | sort -g | sed -n 3p | python3 -c 'import sys; print(round(float(sys.stdin.read())*1000, 1))')"
        } >>"$RES"
    done
}

series_of_host1() {   # series of host-0001 over the dataset's time range (the /api/v1/series API)
    curl -fsS --max-time 120 "$1/api/v1/series" --data-urlencode 'match[]={instance="host-0001:9100"}' \
        --data-urlencode "start=$((${DS[t0_ms]} / 1000))" --data-urlencode "end=$QEND" 2>/dev/null |
        python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]))' 2>/dev/null || echo 0
}

# ---------------------------------------------------------------------------------------------
# 3. the targets, one at a time
start_target() {   # start_target NAME: sets PID, BASE; fresh data dir on the first start
    local name=$1
    case $name in
    dashdot)
        setsid "$BIN" server --listen "127.0.0.1:$PORT" --data "$DATA" >>"$TMP/$name.log" 2>&1 &
        PID=$!
        ;;
    prometheus)
        printf 'global:\n  scrape_interval: 1m\n' >"$TMP/prometheus.yml"
        setsid "$PROMETHEUS" --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$DATA" \
            --web.listen-address="127.0.0.1:$PORT" --web.enable-remote-write-receiver \
            --web.enable-admin-api --storage.tsdb.retention.time=15d >>"$TMP/$name.log" 2>&1 &
        PID=$!
        ;;
    victoria-metrics)
        # -search.disableCache: repeated query_range runs must not be answered from VM's
        # rollup result cache (the other two have no such cache)
        setsid "$VM" -storageDataPath="$DATA" -httpListenAddr="127.0.0.1:$PORT" \
            -search.disableCache -retentionPeriod=1y >>"$TMP/$name.log" 2>&1 &
        PID=$!
        ;;
    esac
    LEADERS+=("$PID")
    BASE=http://127.0.0.1:$PORT
    local ready=$BASE/-/ready
    [[ $name == victoria-metrics ]] && ready=$BASE/health
    local t0=$EPOCHREALTIME
    wait_http 900 "$PID" "$ready" || die "$name did not come up: $(tail -n 5 "$TMP/$name.log")"
    if [[ $name == dashdot ]]; then
        wait_http 10 "$PID" "$BASE/api/v1/status/buildinfo" || die "dashdot did not come up"
    fi
    START_S=$(python3 -c "print(round($EPOCHREALTIME - $t0, 2))")
}

run_target() {
    local name=$1
    RES=$TMP/$name.env
    : >"$RES"
    DATA=$TMP/data-$name
    rm -rf "$DATA"
    mkdir -p "$DATA"
    PORT=$(free_port)
    note "$name: starting on 127.0.0.1:$PORT"
    start_target "$name"
    local url token=()
    case $name in
    dashdot) url=$BASE/api/v1/write; token=(--token-file "$DATA/admin.token") ;;
    prometheus) url=$BASE/api/v1/write ;;
    victoria-metrics) url=$BASE/api/v1/write ;;
    esac
    echo "version=$(case $name in
        dashdot) "$BIN" version 2>&1 | head -n 1 ;;
        prometheus) "$PROMETHEUS" --version 2>&1 | head -n 1 | awk '{print $1, $3}' ;;
        victoria-metrics) echo "victoria-metrics $(dpkg-query -W -f='${Version}' victoria-metrics 2>/dev/null)" ;;
        esac)" >>"$RES"

    # load
    note "$name: loading ${DS[samples]} samples over $CONNS connections"
    local c0 c1 rwout rc=0
    c0=$(cpu_ticks "$PID")
    rwout=$("$RWLOAD" --url "$url" "${token[@]}" --conns "$CONNS" --progress 30 "$TMP/payload.bin" 2>"$TMP/$name.rwload.log") || rc=$?
    c1=$(cpu_ticks "$PID")
    ((rc <= 1)) || die "$name: rwload failed: $(tail -n 3 "$TMP/$name.rwload.log")"
    [[ -s $TMP/$name.rwload.log ]] && grep -v 'requests, ' "$TMP/$name.rwload.log" | head -n 3 >&2 || true
    note "$name: $rwout"
    for kv in $rwout; do echo "load_$kv" >>"$RES"; done
    {
        echo "load_cpu_s=$(python3 -c "print(round(($c1 - $c0) / $HZ, 2))")"
        echo "load_hwm_kb=$(status_kb "$PID" VmHWM)"
        echo "load_rss_kb=$(status_kb "$PID" VmRSS)"
    } >>"$RES"
    # VictoriaMetrics makes new series searchable about a second after ingestion: flush first
    [[ $name == victoria-metrics ]] && { curl -fsS --max-time 600 "$BASE/internal/force_flush" >/dev/null || true; }
    echo "hot_host1_series=$(series_of_host1 "$BASE")" >>"$RES"
    note "$name: queries right after the load"
    query_set "$BASE" hot

    # flush / compact, then a clean stop
    case $name in
    prometheus)
        # a snapshot writes the head into a block too: its size is "everything in blocks"
        local snap
        snap=$(curl -fsS --max-time 1800 -XPOST "$BASE/api/v1/admin/tsdb/snapshot" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["name"])')
        echo "snapshot_bytes=$(du -sb "$DATA/snapshots/$snap" | cut -f1)" >>"$RES"
        rm -rf "$DATA/snapshots"
        stop_leader "$PID" TERM
        ;;
    victoria-metrics)
        curl -fsS --max-time 600 "$BASE/internal/force_flush" >/dev/null || note "force_flush failed"
        curl -fsS --max-time 3600 "$BASE/internal/force_merge" >/dev/null || note "force_merge failed"
        # force_merge runs in the background: wait until no merge is active for 10 s
        local quiet=0 i m
        for ((i = 0; i < 3600 && quiet < 10; i++)); do
            m=$(curl -fsS --max-time 10 "$BASE/metrics" 2>/dev/null |
                awk '/^vm_active_merges/ { s += $2 } END { print s + 0 }')
            if [[ $m == 0 ]]; then quiet=$((quiet + 1)); else quiet=0; fi
            sleep 1
        done
        stop_leader "$PID" INT
        ;;
    dashdot)
        # the admin flush writes the whole head into blocks (raw, 1m and 1h tiers)
        curl -fsS --max-time 3600 -XPOST -H "Authorization: Bearer $(cat "$DATA/admin.token")" \
            "$BASE/api/v1/admin/tsdb/flush" >/dev/null || note "dashdot flush failed"
        curl -fsS --max-time 10 "$BASE/metrics" 2>/dev/null |
            awk '/^dashdot_tsdb_block_bytes\{tier="raw"\}/ { print "raw_tier_bytes=" $2 }' >>"$RES"
        stop_leader "$PID" TERM
        ;;
    esac
    echo "disk_bytes=$(du -sb "$DATA" | cut -f1)" >>"$RES"
    # the compacted data and its index, without what a store rebuilds on its own: Prometheus's
    # snapshot (above), VictoriaMetrics's data/ + indexdb/ (not cache/), all of dashdot's dir
    case $name in
    victoria-metrics) echo "compact_bytes=$(du -scb "$DATA/data" "$DATA/indexdb" | tail -n 1 | cut -f1)" >>"$RES" ;;
    prometheus) echo "compact_bytes=$(awk -F= '$1 == "snapshot_bytes" { print $2 }' "$RES")" >>"$RES" ;;
    dashdot) echo "compact_bytes=$(du -sb "$DATA" | cut -f1)" >>"$RES" ;;
    esac
    du -sb "$DATA"/* 2>/dev/null | sed "s|$DATA/||; s/^/  /" >"$TMP/$name.du"

    # restart: start-up time, one query, RSS per active series, then the query set again
    note "$name: restarting"
    start_target "$name"
    echo "restart_s=$START_S" >>"$RES"
    echo "restart_host1_series=$(series_of_host1 "$BASE")" >>"$RES"
    {
        echo "restart_rss_kb=$(status_kb "$PID" VmRSS)"
    } >>"$RES"
    echo "disk_bytes_restarted=$(du -sb "$DATA" | cut -f1)" >>"$RES"
    note "$name: queries after the restart"
    query_set "$BASE" cold
    echo "final_rss_kb=$(status_kb "$PID" VmRSS)" >>"$RES"
    stop_leader "$PID" TERM
    ((KEEP)) || rm -rf "$DATA"
}

for t in "${TLIST[@]}"; do run_target "$t"; done

# promtool backfill: the same samples of the first OM_HOSTS hosts, as compact 2 h blocks
if [[ " ${TLIST[*]} " == *" prometheus "* && -s $TMP/dataset.om ]]; then
    note "promtool: create-blocks-from openmetrics (${DS[om_samples]} samples of $OM_HOSTS hosts)"
    mkdir -p "$TMP/promtool-blocks"
    t0=$EPOCHREALTIME
    "$PROMTOOL" tsdb create-blocks-from openmetrics "$TMP/dataset.om" "$TMP/promtool-blocks" \
        >"$TMP/promtool.log" 2>&1 || die "promtool failed: $(tail -n 5 "$TMP/promtool.log")"
    {
        echo "backfill_s=$(python3 -c "print(round($EPOCHREALTIME - $t0, 1))")"
        echo "backfill_bytes=$(du -sb "$TMP/promtool-blocks" | cut -f1)"
        echo "backfill_samples=${DS[om_samples]}"
        echo "backfill_blocks=$(find "$TMP/promtool-blocks" -mindepth 1 -maxdepth 1 -type d | wc -l)"
    } >>"$TMP/prometheus.env"
    rm -rf "$TMP/promtool-blocks" "$TMP/dataset.om"
fi

# ---------------------------------------------------------------------------------------------
# 4. report
python3 - "$TMP" "$TARGETS" "$OUT" "$(nproc)" "$CONNS" "$CAPTURE_SRC" "$SHAPES_SUMMARY" \
    "${QUERIES[@]}" <<'PY'
import datetime, os, sys

tmp, targets, out, ncpu, conns, capsrc, shapes = sys.argv[1:8]
queries = sys.argv[8:]
targets = targets.split(",")
ds = dict(l.rstrip("\n").split("=", 1) for l in open(f"{tmp}/dataset.env"))
R = {}
for t in targets:
    R[t] = dict(l.rstrip("\n").split("=", 1) for l in open(f"{tmp}/{t}.env") if "=" in l)

def f(d, k, default=None):
    try:
        return float(d[k])
    except (KeyError, ValueError):
        return default

samples = float(ds["samples"])
series = float(ds["series"])
rows = []   # (label, {target: (value, text)}, lower_is_better)

def add(label, fn, lower=True):
    vals = {}
    for t in targets:
        try:
            vals[t] = fn(t, R[t])
        except (TypeError, ZeroDivisionError):   # a figure a target did not produce
            vals[t] = None
    rows.append((label, vals, lower))

def load_ok(d):
    return f(d, "load_samples_ok", 0.0)

add("ingest samples/s", lambda t, d: f(d, "load_samples_per_s"), lower=False)
add("  samples lost (non-2xx)", lambda t, d: f(d, "load_samples_lost"))
add("  load wall time s", lambda t, d: f(d, "load_wall_s"))
add("  CPU s during load", lambda t, d: f(d, "load_cpu_s"))
add("  CPU us per sample", lambda t, d: f(d, "load_cpu_s") / load_ok(d) * 1e6 if load_ok(d) else None)
add("peak RSS MiB (load)", lambda t, d: f(d, "load_hwm_kb") / 1024 if f(d, "load_hwm_kb") else None)
add("RSS per series B, after load", lambda t, d: f(d, "load_rss_kb") * 1024 / series if f(d, "load_rss_kb") else None)
add("disk MiB after flush + stop", lambda t, d: f(d, "disk_bytes", 0) / 2**20)
add("bytes/sample on disk (stop)", lambda t, d: f(d, "disk_bytes", 0) / load_ok(d) if load_ok(d) else None)
add("bytes/sample, compacted data+index", lambda t, d: f(d, "compact_bytes") / load_ok(d) if load_ok(d) and f(d, "compact_bytes") is not None else None)
add("  dashdot raw tier only (blocks+index)", lambda t, d: f(d, "raw_tier_bytes") / load_ok(d) if t == "dashdot" and load_ok(d) and f(d, "raw_tier_bytes") is not None else None)
if "prometheus" in targets:
    add("bytes/sample, promtool backfill", lambda t, d: f(d, "backfill_bytes") / f(d, "backfill_samples") if t == "prometheus" and f(d, "backfill_samples") else None)
add("restart until ready s", lambda t, d: f(d, "restart_s"))
add("RSS MiB after restart+1 query", lambda t, d: f(d, "restart_rss_kb") / 1024 if f(d, "restart_rss_kb") else None)
add("RSS per active series B", lambda t, d: f(d, "restart_rss_kb") * 1024 / series if f(d, "restart_rss_kb") else None)
for i, q in enumerate(queries):
    for phase, what in (("cold", "after restart"), ("hot", "after load")):
        add(f"q{i} ms median, {what}", lambda t, d, i=i, p=phase:
            f(d, f"{p}_q{i}_median_ms") if str(d.get(f"{p}_q{i}_series", "")).isdigit() else None)

names = {"dashdot": "dashdot", "prometheus": "prometheus", "victoria-metrics": "victoria-metrics"}
def fmt(v):
    if v is None:
        return "n/a"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}" if v else "0"

lines = []
P = lines.append
P(f"dashdot storage benchmark, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
  f"{ncpu} cores, one target at a time, rwload over {conns} connections on the same machine")
P("  " + " | ".join(f"{t}: {R[t].get('version', '?')}" for t in targets))
P(f"dataset: {ds['hosts']} hosts x {ds['series_per_host']} series = {int(series):,} series, "
  f"{int(ds['steps']):,} steps at {int(ds['interval_ms']) / 1000:g} s "
  f"({int(ds['steps']) * int(ds['interval_ms']) / 3.6e6:g} h) = {int(samples):,} samples in "
  f"{int(ds['requests']):,} remote-write requests ({int(ds['payload_bytes']) / 2**20:,.0f} MiB, "
  f"{int(ds['per_series'])} sample(s) per series per request, <= {ds['max_samples']} per request)")
P(f"shapes: {shapes}; from {capsrc}")
P("")
ratio_cols = [t for t in ("prometheus", "victoria-metrics") if t in targets and "dashdot" in targets]
hdr = f"{'':<34}" + "".join(f"{names[t]:>18}" for t in targets) + "".join(f"{'dd/' + ('prom' if t == 'prometheus' else 'VM'):>10}" for t in ratio_cols)
P(hdr)
P("-" * len(hdr))
for label, vals, lower in rows:
    line = f"{label:<34}" + "".join(f"{fmt(vals[t]):>18}" for t in targets)
    for t in ratio_cols:
        a, b = vals.get("dashdot"), vals.get(t)
        line += f"{(f'{a / b:.2f}x' if a is not None and b else 'n/a'):>10}"
    P(line)
P("")
P("queries (query_range, 24 h ending at the dataset's end, step 60 s; median of 5 runs; series returned):")
for i, q in enumerate(queries):
    P(f"  q{i} {q}")
    def n(t, p):
        v = R[t].get(f"{p}_q{i}_series", "?")
        return v if v.isdigit() else "error"
    P("     " + ";  ".join(f"{t}: {n(t, 'hot')} after load, {n(t, 'cold')} after restart" for t in targets))
P("")
P("series of host-0001 (/api/v1/series): " + ", ".join(
    f"{t}: {R[t].get('hot_host1_series', '?')} after load, {R[t].get('restart_host1_series', '?')} after restart" for t in targets)
  + f" (expected {ds['series_per_host']})")
if "prometheus" in targets:
    p = R["prometheus"]
    P(f"prometheus: 'compacted' = an admin snapshot right after the load (head written as a block); "
      f"'stop' = the data dir after a clean stop (blocks + WAL + head chunks); promtool backfill of "
      f"{int(f(p, 'backfill_samples', 0)):,} samples ({ds.get('om_hosts', 0)} hosts) into {p.get('backfill_blocks', '?')} "
      f"blocks took {p.get('backfill_s', '?')} s")
if "victoria-metrics" in targets:
    P("victoria-metrics: /internal/force_flush + /internal/force_merge, merges awaited, then SIGINT; "
      "'compacted' = data/ + indexdb/ without cache/; started with -search.disableCache "
      "(no rollup result cache between runs)")

# targets (dashdot against the peers), where the figures exist
def val(label, t):
    for l, vals, _ in rows:
        if l == label:
            return vals.get(t)
# a store that comes back empty after a restart (dashdot's in-memory stand-in) has no figures
# for disk, RSS per series or cold queries to compare
def kept(t):
    return R[t].get("restart_host1_series") == ds["series_per_host"]
if "dashdot" in targets and ratio_cols:
    P("")
    P("targets (dashdot / peer):")
    empty = not kept("dashdot")
    if empty:
        P(f"  (dashdot came back from the restart with {R['dashdot'].get('restart_host1_series')} of "
          f"{ds['series_per_host']} series of host-0001: its disk, RSS-per-series and after-restart "
          "query figures are not comparable and are left out)")
    def check(desc, metric, peer, factor, lower=True, needs_data=True):
        a, b = val(metric, "dashdot"), val(metric, peer)
        if needs_data and empty:
            a = None
        if a is None or b is None or not b:
            return f"  {desc:<58}    n/a"
        ok = a <= factor * b if lower else a >= factor * b
        return f"  {desc:<58} {a / b:6.2f}x  {'PASS' if ok else 'FAIL'}"
    bps = "bytes/sample, compacted data+index"
    if "victoria-metrics" in targets:
        P(check("bytes/sample <= VictoriaMetrics's", bps, "victoria-metrics", 1))
    if "prometheus" in targets:
        P(check("bytes/sample <= 0.5x Prometheus's", bps, "prometheus", 0.5))
    if "victoria-metrics" in targets:
        P(check("ingest >= 1.5x VictoriaMetrics", "ingest samples/s", "victoria-metrics", 1.5,
                lower=False, needs_data=False))
    if "prometheus" in targets:
        P(check("ingest >= 2x Prometheus", "ingest samples/s", "prometheus", 2, lower=False,
                needs_data=False))
    if "victoria-metrics" in targets:
        P(check("RSS per active series <= VictoriaMetrics's", "RSS per active series B",
                "victoria-metrics", 1))
    if "prometheus" in targets:
        P(check("q0 (24 h of ~1000 series) <= 0.5x Prometheus's latency",
                "q0 ms median, after restart", "prometheus", 0.5))
        P(check("q2 (rate, 24 h of ~1000 series) <= 0.5x Prometheus's",
                "q2 ms median, after restart", "prometheus", 0.5))
warn = []
for t in targets:
    lost = f(R[t], "load_samples_lost", 0)
    if lost:
        warn.append(f"{t}: {lost:,.0f} samples in refused requests")
    for i in range(len(queries)):
        for p in ("hot", "cold"):
            s = R[t].get(f"{p}_q{i}_series", "")
            if not s.isdigit():
                warn.append(f"{t}: q{i} ({p}) failed: {s}")
for w in warn:
    P("NOTE: " + w)
text = "\n".join(lines) + "\n"
print()
print(text, end="")
if out:
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "w") as fo:
        fo.write(text)
    print(f"results written to {out}")
PY
for t in "${TLIST[@]}"; do
    [[ -s $TMP/$t.du ]] && { echo "$t data dir after the flush and stop:"; cat "$TMP/$t.du"; }
done
exit 0
}
