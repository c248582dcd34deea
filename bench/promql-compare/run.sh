#!/usr/bin/env bash
# PromQL side by side: loads the same generated node-exporter-like data (6 h at 15 s, ending
# now) into Debian's prometheus and into a dashdot server by remote write, runs every query of
# compare.py's list against both (instant and range, several runs each) and reports the share
# of identical results and the latency ratio per query class. See README.md in this folder.
#
#   bash bench/promql-compare/run.sh
#
# Environment: DASHDOT_BIN (build/dashdot), RWPUSH_BIN (build/tests/rwpush), PROMETHEUS_BIN
# (/usr/bin/prometheus), COMPARE_RUNS (5), COMPARE_HOURS (6), COMPARE_OUT
# (bench/results/promql-compare-<UTC date>.txt).
set -euo pipefail
cd "$(dirname "$0")/../.."

DASHDOT_BIN=${DASHDOT_BIN:-build/dashdot}
RWPUSH_BIN=${RWPUSH_BIN:-build/tests/rwpush}
PROMETHEUS_BIN=${PROMETHEUS_BIN:-/usr/bin/prometheus}
RUNS=${COMPARE_RUNS:-5}
HOURS=${COMPARE_HOURS:-6}
OUT=${COMPARE_OUT:-bench/results/promql-compare-$(date -u +%Y%m%dT%H%M%SZ).txt}
HERE=bench/promql-compare

for f in "$DASHDOT_BIN" "$RWPUSH_BIN" "$PROMETHEUS_BIN"; do
    if [ ! -x "$f" ]; then
        echo "run.sh: $f is missing: build first (make), and install prometheus (scripts/deps.sh bench)" >&2
        exit 1
    fi
done
command -v python3 >/dev/null || { echo "run.sh: python3 is needed" >&2; exit 1; }

tmp=$(mktemp -d /tmp/promql-compare.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_ready() { # URL NAME PID LOG
    for _ in $(seq 1 200); do
        if curl -sf -o /dev/null "$1"; then
            return 0
        fi
        if ! kill -0 "$3" 2>/dev/null; then
            echo "run.sh: $2 exited; its log:" >&2
            tail -20 "$4" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "run.sh: $2 did not become ready; its log:" >&2
    tail -20 "$4" >&2
    exit 1
}

# The samples sit 7 s after each 15 s boundary and end a little in the past. Queries run 4 s
# after the last sample (range queries: every 60 s back from there) and subquery steps fall
# on whole minutes, so no sample ever lies exactly on a window or lookback boundary: there
# Prometheus 2 (windows closed on the left) and 3 (open, dashdot's target) differ by design.
now=$(date +%s)
end_s=$(( (now - 45) / 15 * 15 + 7 ))
eval_s=$((end_s + 4))
echo "generating ${HOURS} h of data at 15 s ending at $(date -u -d "@$end_s" +%FT%TZ) ..."
python3 "$HERE/compare.py" gen "$((end_s * 1000))" "$HOURS" 15 > "$tmp/samples.txt"
echo "  $(wc -l < "$tmp/samples.txt") samples, $(awk '{print $1}' "$tmp/samples.txt" | sort -u | wc -l) series"

pport=$(free_port)
mkdir -p "$tmp/prom"
cat > "$tmp/prom/prometheus.yml" <<'EOF'
global:
  scrape_interval: 1h
EOF
"$PROMETHEUS_BIN" --config.file="$tmp/prom/prometheus.yml" --storage.tsdb.path="$tmp/prom/data" \
    --web.listen-address="127.0.0.1:$pport" --web.enable-remote-write-receiver \
    --storage.tsdb.retention.time=2d > "$tmp/prom/log" 2>&1 &
pids+=($!)
wait_ready "http://127.0.0.1:$pport/-/ready" prometheus "${pids[-1]}" "$tmp/prom/log"

dport=$(free_port)
mkdir -p "$tmp/dd"
"$DASHDOT_BIN" server --listen "127.0.0.1:$dport" --data "$tmp/dd" --retention "$((HOURS + 1))h" \
    --log-level warn > "$tmp/dd/log" 2>&1 &
pids+=($!)
wait_ready "http://127.0.0.1:$dport/-/ready" dashdot "${pids[-1]}" "$tmp/dd/log"

echo "pushing to prometheus (127.0.0.1:$pport) ..."
"$RWPUSH_BIN" "http://127.0.0.1:$pport/api/v1/write" --batch 20000 < "$tmp/samples.txt"
echo "pushing to dashdot (127.0.0.1:$dport) ..."
"$RWPUSH_BIN" "http://127.0.0.1:$dport/api/v1/write" --token-file "$tmp/dd/admin.token" --batch 20000 \
    < "$tmp/samples.txt"

mkdir -p "$(dirname "$OUT")"
echo "querying (${RUNS} runs per query) ..."
python3 "$HERE/compare.py" run "http://127.0.0.1:$pport" "http://127.0.0.1:$dport" "$eval_s" "$OUT" "$RUNS"
{
    echo
    echo "dashdot: $("$DASHDOT_BIN" version 2>/dev/null || echo '?') ($DASHDOT_BIN); data: ${HOURS} h at 15 s, $(wc -l < "$tmp/samples.txt") samples"
    echo "machine: $(nproc) cores, $(uname -sr); $(date -u +%FT%TZ)"
} | tee -a "$OUT"
echo "written: $OUT"
