#!/usr/bin/env bash
# A server and an agent on free ports: the host's series arrive with node_exporter's names and
# the instance/job labels, and every query endpoint answers in Prometheus's shapes.
source "$(dirname "$0")/lib.sh"
it_init
port=$(free_port)
url=http://127.0.0.1:$port
start_server srv "$port" "$IT_DIR/data" || exit 1
check "tokens written with mode 0600" \
    bash -c "[[ \$(stat -c %a '$IT_DIR/data/admin.token') == 600 && \$(stat -c %a '$IT_DIR/data/agent.token') == 600 ]]"
check "first start prints the credentials once" grep -q "admin token: $(cat "$IT_DIR/data/admin.token")" "$IT_DIR/srv.log"
start_agent agent "$url" "$IT_DIR/data/agent.token" "$IT_DIR/spool" --instance it-host

q() { curl -sf --get "$url/api/v1/query" --data-urlencode "query=$1"; }
has_series() { q "$1" | pyjson "len(d['data']['result']) > 0"; }
check "node_load1 arrives" wait_until 15 has_series 'node_load1{instance="it-host",job="dashdot"}'
for m in node_cpu_seconds_total node_memory_MemTotal_bytes node_memory_MemAvailable_bytes \
    node_network_receive_bytes_total node_filesystem_size_bytes node_boot_time_seconds \
    node_time_seconds node_uname_info node_context_switches_total; do
    check "$m present" has_series "$m{instance=\"it-host\"}"
done
check "cpu series have cpu and mode labels" bash -c \
    "curl -sf --get '$url/api/v1/query' --data-urlencode 'query=node_cpu_seconds_total{mode=\"idle\",cpu=\"0\"}' | python3 -c 'import json,sys; d=json.load(sys.stdin); r=d[\"data\"][\"result\"]; sys.exit(0 if len(r)==1 and float(r[0][\"value\"][1])>0 else 1)'"
check "regex and negative matchers" bash -c \
    "curl -sf --get '$url/api/v1/query' --data-urlencode 'query={__name__=~\"node_load(1|5)\",__name__!~\".*5\",job!=\"x\"}' | python3 -c 'import json,sys; d=json.load(sys.stdin); r=d[\"data\"][\"result\"]; sys.exit(0 if [s[\"metric\"][\"__name__\"] for s in r]==[\"node_load1\"] else 1)'"
sleep 3
now=$(date +%s)
check "query_range returns a matrix with 1 s points" bash -c \
    "curl -sf '$url/api/v1/query_range?query=node_load1&start=$((now-3))&end=$now&step=1' | python3 -c 'import json,sys; d=json.load(sys.stdin)[\"data\"]; v=d[\"result\"][0][\"values\"]; sys.exit(0 if d[\"resultType\"]==\"matrix\" and len(v)>=3 and all(isinstance(p[1],str) for p in v) else 1)'"
check "POST form query works" bash -c \
    "curl -sf -X POST '$url/api/v1/query' --data-urlencode 'query=node_load5' | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d[\"data\"][\"resultType\"]==\"vector\" else 1)'"
check "range selector gives raw samples 1 s apart" bash -c \
    "curl -sf --get '$url/api/v1/query' --data-urlencode 'query=node_load1[5s]' | python3 -c 'import json,sys; v=json.load(sys.stdin)[\"data\"][\"result\"][0][\"values\"]; ts=[p[0] for p in v]; sys.exit(0 if len(ts)>=3 and all(abs(b-a-1)<1e-9 for a,b in zip(ts,ts[1:])) else 1)'"
check "offset looks back" bash -c \
    "curl -sf --get '$url/api/v1/query' --data-urlencode 'query=node_load1 offset 1h' | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)[\"data\"][\"result\"]==[] else 1)'"
check "scalar literal" bash -c \
    "curl -sf --get '$url/api/v1/query' --data-urlencode 'query=42' | python3 -c 'import json,sys; d=json.load(sys.stdin)[\"data\"]; sys.exit(0 if d[\"resultType\"]==\"scalar\" and d[\"result\"][1]==\"42\" else 1)'"
check "series endpoint" bash -c \
    "curl -sf --get '$url/api/v1/series' --data-urlencode 'match[]=node_load1' --data-urlencode 'match[]=node_load5' | python3 -c 'import json,sys; d=json.load(sys.stdin)[\"data\"]; sys.exit(0 if sorted(s[\"__name__\"] for s in d)==[\"node_load1\",\"node_load5\"] else 1)'"
check "labels endpoint" bash -c \
    "curl -sf '$url/api/v1/labels' | python3 -c 'import json,sys; d=json.load(sys.stdin)[\"data\"]; sys.exit(0 if {\"__name__\",\"instance\",\"job\",\"cpu\",\"mode\"} <= set(d) and d==sorted(d) else 1)'"
check "label values endpoint" bash -c \
    "curl -sf '$url/api/v1/label/instance/values' | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)[\"data\"]==[\"it-host\"] else 1)'"
check "label values with match[]" bash -c \
    "curl -sf --get '$url/api/v1/label/mode/values' --data-urlencode 'match[]=node_cpu_seconds_total' | python3 -c 'import json,sys; d=json.load(sys.stdin)[\"data\"]; sys.exit(0 if \"idle\" in d and \"user\" in d else 1)'"
check "buildinfo" bash -c \
    "curl -sf '$url/api/v1/status/buildinfo' | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)[\"data\"][\"version\"] else 1)'"
check "/-/healthy" curl -sf -o /dev/null "$url/-/healthy"
check "self metrics at /metrics" bash -c "curl -sf '$url/metrics' | grep -q '^dashdot_tsdb_series [1-9]'"
check "agent reports itself" has_series 'dashdot_agent_batches_sent_total{instance="it-host"}'
check "UI served at /" bash -c "curl -sf '$url/' | grep -qi '<html'"
it_done
