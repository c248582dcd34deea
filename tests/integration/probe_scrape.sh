#!/usr/bin/env bash
# The scrape probe against real exporters on 127.0.0.1, through `dashdot probe scrape`:
# Debian's prometheus-node-exporter (node_* series with the common labels, up 1, the metrics
# filter, a target without scheme), and probe_scrape/exporter.py (histogram and summary,
# OpenMetrics with # EOF, gzip, timestamps, label collisions under both honor_labels values,
# broken text with its line, bodies that never end or are too big, plain and gzip, HTTP errors,
# a slow exporter at the timeout, and a million series over and within the sample limit, with
# the time and peak memory of the dashdot process printed).
source "$(dirname "$0")/lib.sh"
it_init
HERE=$(cd "$(dirname "$0")" && pwd)

# scrape NAME URL [dashdot probe options...]: one run; output in $IT_DIR/NAME.out, exit code
# in $IT_DIR/NAME.rc.
scrape() {
    local name=$1 url=$2
    shift 2
    "$DASHDOT" probe scrape "$url" "$@" >"$IT_DIR/$name.out" 2>"$IT_DIR/$name.err"
    echo $? >"$IT_DIR/$name.rc"
}
rc_is() { [[ $(cat "$IT_DIR/$1.rc") == "$2" ]] || { echo "    exit $(cat "$IT_DIR/$1.rc"), want $2: $(tail -1 "$IT_DIR/$1.out")"; return 1; }; }
has() { grep -qE -- "$2" "$IT_DIR/$1.out" || { echo "    no line matching '$2' in $1.out; last: $(tail -1 "$IT_DIR/$1.out")"; return 1; }; }
hasnt() { ! grep -qE -- "$2" "$IT_DIR/$1.out" || { echo "    unexpected '$2' in $1.out"; return 1; }; }
last_is() { local l; l=$(tail -1 "$IT_DIR/$1.out"); [[ $l =~ $2 ]] || { echo "    last line: $l"; return 1; }; }
# value NAME METRIC: the value of the first sample of METRIC.
value() { grep -E "^$2\{" "$IT_DIR/$1.out" | head -1 | awk '{print $2}'; }
value_is() { local v; v=$(value "$1" "$2"); [[ $v == "$3" ]] || { echo "    $2 = '$v', want $3"; return 1; }; }
# scraped NAME: the number of sample lines that are not the probe's own.
scraped() { grep -vcE '^(up|scrape_[a-z_]+|probe_success|probe_duration_seconds)\{|^#' "$IT_DIR/$1.out"; }
scraped_is() { local n; n=$(scraped "$1"); [[ $n == "$2" ]] || { echo "    $n scraped lines, want $2"; return 1; }; }
# The labels every sample gets (batch_format sorts them): instance and job around the exporter's.
common='device="web-1",endpoint="[^"]*",'

# ---- Debian's node exporter -------------------------------------------------------------------
if ! command -v prometheus-node-exporter >/dev/null; then
    echo "prometheus-node-exporter is not installed (scripts/deps.sh installs it)"
    exit 1
fi
NE_PORT=$(free_port)
prometheus-node-exporter --web.listen-address="127.0.0.1:$NE_PORT" \
    --collector.textfile.directory="$IT_DIR" >"$IT_DIR/node-exporter.log" 2>&1 &
IT_PIDS+=($!)
wait_until 10 curl -sf "http://127.0.0.1:$NE_PORT/metrics" >/dev/null ||
    { echo "node exporter did not start"; cat "$IT_DIR/node-exporter.log"; exit 1; }

NE_URL="http://127.0.0.1:$NE_PORT/metrics"
scrape node "$NE_URL" --device web-1 --name node
check "node exporter: scrape succeeds" rc_is node 0
check "node exporter: last line says succeeded" last_is node '^# scrape succeeded in [0-9.]+ s$'
check "node exporter: node_load1 with the common labels" has node \
    "^node_load1\{${common}instance=\"web-1\",job=\"scrape\",probe=\"node\",probe_id=\"1\",target=\"$NE_URL\",vantage=\"[^\"]+\"\} [0-9.e+-]+ [0-9]+$"
check "node exporter: node_cpu_seconds_total per cpu and mode" has node \
    '^node_cpu_seconds_total\{cpu="0",device="web-1",.*mode="idle",'
check "node exporter: a summary's quantiles and count" has node \
    '^go_gc_duration_seconds\{.*quantile="0.5",'
check "node exporter: summary _count" has node '^go_gc_duration_seconds_count\{'
check "node exporter: more than 100 node_* series" \
    bash -c "(( \$(grep -c '^node_' '$IT_DIR/node.out') > 100 ))"
check "node exporter: up 1" value_is node up 1
check "node exporter: probe_success 1" value_is node probe_success 1
check "node exporter: scrape_samples_scraped counts every scraped line" \
    bash -c "[[ \$(grep -E '^scrape_samples_scraped\{' '$IT_DIR/node.out' | awk '{print \$2}') == \$(grep -vcE '^(up|scrape_[a-z_]+|probe_success|probe_duration_seconds)\{|^#' '$IT_DIR/node.out') ]]"
check "node exporter: scrape_duration_seconds under 5 s" \
    bash -c "awk '/^scrape_duration_seconds\{/ {exit !(\$2 >= 0 && \$2 < 5)}' '$IT_DIR/node.out'"
check "node exporter: every scraped line has job=scrape" \
    bash -c "! grep -v '^#' '$IT_DIR/node.out' | grep -vq 'job=\"scrape\"'"

scrape node_filter "$NE_URL" --device web-1 --settings '{"metrics":["node_load[0-9]+"]}'
check "metrics filter: succeeds" rc_is node_filter 0
check "metrics filter: only node_load1, 5 and 15 kept" scraped_is node_filter 3
check "metrics filter: post_metric_relabeling 3" \
    value_is node_filter scrape_samples_post_metric_relabeling 3
check "metrics filter: scraped counts all" \
    bash -c "(( \$(grep -E '^scrape_samples_scraped\{' '$IT_DIR/node_filter.out' | awk '{print \$2}') > 100 ))"

scrape node_hostport "127.0.0.1:$NE_PORT" --device web-1
check "target without scheme: http://HOST:PORT/metrics is built" rc_is node_hostport 0
check "target without scheme: node series arrive" has node_hostport '^node_load1\{'

# ---- the Python exporter ---------------------------------------------------------------------
PY_PORT=$(free_port)
python3 "$HERE/probe_scrape/exporter.py" "$PY_PORT" >"$IT_DIR/exporter.log" 2>&1 &
IT_PIDS+=($!)
wait_until 10 curl -sf "http://127.0.0.1:$PY_PORT/histogram" >/dev/null ||
    { echo "exporter.py did not start"; cat "$IT_DIR/exporter.log"; exit 1; }
PY="http://127.0.0.1:$PY_PORT"

scrape hist "$PY/histogram" --device web-1
check "histogram: succeeds" rc_is hist 0
check "histogram: buckets with le" has hist \
    '^http_request_duration_seconds_bucket\{device="web-1",.*handler="/api",.*le="\+Inf",.*\} 144320 '
check "histogram: _sum" has hist '^http_request_duration_seconds_sum\{.*\} 53423.5 '
check "histogram: _count" has hist '^http_request_duration_seconds_count\{.*\} 144320 '
check "summary: quantile NaN" has hist '^rpc_duration_seconds\{.*quantile="0.99",.*\} NaN '
check "summary: _sum" has hist '^rpc_duration_seconds_sum\{.*\} 17560473 '
check "escapes decoded (and written back escaped)" has hist \
    'error="Cannot find file:\\n\\"FILE.TXT\\"".*path="C:\\\\DIR\\\\FILE.TXT"'
check "+Inf value" has hist '^weird_value\{.*\} \+Inf '
check "histogram: 13 series" scraped_is hist 13

scrape om "$PY/openmetrics" --device web-1
check "OpenMetrics: succeeds" rc_is om 0
check "OpenMetrics: counter _total with its timestamp (seconds to ms)" has om \
    '^acme_requests_total\{.*method="get",.*\} 1027 1700000000500$'
check "OpenMetrics: _created kept as a sample (as Prometheus 2.x does)" has om \
    '^acme_requests_created\{.*\} 1600000000 '
check "OpenMetrics: histogram bucket (exemplar dropped)" has om \
    '^acme_latency_seconds_bucket\{.*le="0.1",.*\} 8 '
check "OpenMetrics: info and stateset" has om '^acme_state\{acme_state="ready",'
check "OpenMetrics: 10 series" scraped_is om 10
scrape om_noeof "$PY/om-no-eof"
check "OpenMetrics without # EOF: fails" rc_is om_noeof 1
check "OpenMetrics without # EOF: the reason and line" last_is om_noeof \
    '^# scrape failed in [0-9.]+ s: line 3: missing "# EOF" at the end$'

scrape gz "$PY/gzip"
check "gzip: accepted and decoded" rc_is gz 0
check "gzip: the histogram arrives" scraped_is gz 13

scrape headers "$PY/headers" --timeout 7s
check "request: Accept as Prometheus sends it" has headers \
    'accept="application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,\*/\*;q=0.1"'
check "request: gzip accepted" has headers 'accept_encoding="[^"]*gzip'
check "request: the scrape timeout" has headers 'scrape_timeout="7(\.0+)?"'

scrape ts "$PY/timestamps"
check "timestamps: an old one kept" has ts '^with_ts\{at="old",.*\} 1 1700000000000$'
check "timestamps: a future one kept" has ts '^with_ts\{at="future",.*\} 2 4102444800000$'
check "timestamps: none: the run's start" \
    bash -c "[[ \$(grep '^without_ts{' '$IT_DIR/ts.out' | awk '{print \$3}') == \$(grep '^up{' '$IT_DIR/ts.out' | awk '{print \$3}') ]]"

scrape collide "$PY/collide" --device web-1
check "honor_labels false: job and instance renamed, exported_job taken" has collide \
    '^collide\{device="web-1",endpoint="[^"]*",exported_exported_job="scraped_job",exported_instance="scraped_inst",exported_job="pre",instance="web-1",job="scrape",probe=.*\} 1 '
check "honor_labels false: the empty label dropped" hasnt collide 'empty='
scrape collide_honor "$PY/collide" --device web-1 --settings '{"honor_labels":true}'
check "honor_labels true: the scraped values win" has collide_honor \
    '^collide\{device="web-1",endpoint="[^"]*",exported_job="pre",instance="scraped_inst",job="scraped_job",probe=.*\} 1 '
check "honor_labels true: the probe's own samples keep the common labels" has collide_honor \
    '^up\{device="web-1",.*instance="web-1",job="scrape",'

scrape broken "$PY/broken"
check "broken text: fails" rc_is broken 1
check "broken text: the line and the reason" last_is broken \
    '^# scrape failed in [0-9.]+ s: line 4: duplicate label name "x"$'
check "broken text: up 0" value_is broken up 0
check "broken text: no sample kept" scraped_is broken 0

scrape err "$PY/error"
check "HTTP 500: fails with the status" last_is err 'server returned HTTP status 500$'
check "HTTP 500: up 0" value_is err up 0
scrape refused "http://127.0.0.1:$(free_port)/metrics"
check "nobody listening: fails, up 0" value_is refused up 0

t0=$(date +%s.%N)
scrape slow "$PY/slow?s=5" --timeout 1s
t1=$(date +%s.%N)
check "slow exporter: fails at the timeout" rc_is slow 1
check "slow exporter: up 0 still reported" value_is slow up 0
check "slow exporter: within 3 s" python3 -c "import sys; sys.exit(0 if $t1 - $t0 < 3 else 1)"

for body in endless oversized gzipbomb; do
    scrape "$body" "$PY/$body"
    check "$body body: fails at 64 MiB" last_is "$body" 'body larger than 64 MiB \(decoded\)$'
    check "$body body: up 0" value_is "$body" up 0
done

# ---- a million series ------------------------------------------------------------------------
scrape million "$PY/many?n=1000000" --log-level debug --timeout 30s
check "10^6 series, default limit: fails" rc_is million 1
check "10^6 series, default limit: sample limit exceeded" last_is million \
    ': sample limit exceeded \(1000000 > 100000\)$'
check "10^6 series, default limit: no sample kept" scraped_is million 0
check "10^6 series, default limit: scrape_samples_scraped 1000000" \
    value_is million scrape_samples_scraped 1000000
# Without a limit a million series are kept: every one is printed (in chunks), with up 1.
N=1000000
if [[ -x /usr/bin/time ]]; then
    timer=(/usr/bin/time -v -o "$IT_DIR/time.txt")
else
    timer=()
    echo "  (install Debian's 'time' package for the peak RSS figure)"
fi
"${timer[@]}" "$DASHDOT" probe scrape "$PY/many?n=$N" --settings '{"sample_limit":0}' \
    --timeout 60s --log-level debug >"$IT_DIR/big.out" 2>"$IT_DIR/big.err"
echo $? >"$IT_DIR/big.rc"
check "$N series, no limit: accepted" rc_is big 0
check "$N series, no limit: every sample checked and recorded" \
    grep -q "$N samples, $N kept; checked in" "$IT_DIR/big.err"
check "$N series, no limit: every sample printed, up 1" \
    bash -c "[[ \$(grep -c '^test_series{' '$IT_DIR/big.out') == $N ]] && grep -q '^up{.*} 1 ' '$IT_DIR/big.out'"
echo "  figures: $(grep -o '[0-9]* bytes, [0-9]* samples.*' "$IT_DIR/big.err")"
if [[ -f $IT_DIR/time.txt ]]; then
    echo "  figures: dashdot probe scrape of $N series:" \
        "$(grep -E 'Elapsed' "$IT_DIR/time.txt" | sed 's/.*: //') wall," \
        "$(grep -E 'Maximum resident' "$IT_DIR/time.txt" | sed 's/.*: //') KB peak RSS"
fi
check "no sanitizer report from any run" \
    bash -c "! grep -l 'Sanitizer\|runtime error' '$IT_DIR'/*.err"
it_done
