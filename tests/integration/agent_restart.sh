#!/usr/bin/env bash
# The spool outlives the agent: batches collected while the server was down are delivered by
# the next agent process, in order, after both come back.
source "$(dirname "$0")/lib.sh"
it_init
port=$(free_port)
url=http://127.0.0.1:$port
start_server srv "$port" "$IT_DIR/data" || exit 1
start_agent agent "$url" "$IT_DIR/data/agent.token" "$IT_DIR/spool" --instance restart-host
has_series() { curl -sf --get "$url/api/v1/query" --data-urlencode "query=$1" | pyjson "len(d['data']['result']) > 0"; }
check "samples arrive" wait_until 15 has_series 'node_load1{instance="restart-host"}'
stop_pid "$srv_PID" TERM
down_ms=$(date +%s%3N)
sleep 5
stop_pid "$agent_PID" TERM
agent_down_ms=$(date +%s%3N)
n_spooled=$(ls "$IT_DIR/spool"/*.rw 2>/dev/null | wc -l)
check "batches of the outage are in the spool after the agent stopped ($n_spooled)" test "$n_spooled" -ge 4
start_agent agent2 "$url" "$IT_DIR/data/agent.token" "$IT_DIR/spool" --instance restart-host
sleep 2
start_server srv2 "$port" "$IT_DIR/data" || exit 1
spool_empty() { ! ls "$IT_DIR/spool"/*.rw >/dev/null 2>&1; }
check "the new agent drains the old spool" wait_until 30 spool_empty
sleep 1
check "every second between the server stop and the agent stop arrived" bash -c "curl -sf --get '$url/api/v1/query' --data-urlencode 'query=node_load1{instance=\"restart-host\"}[2m]' | python3 -c '
import json, sys
ts = [int(round(float(p[0]) * 1000)) for p in json.load(sys.stdin)[\"data\"][\"result\"][0][\"values\"]]
down, adown = $down_ms, $agent_down_ms
window = [t for t in ts if down <= t <= adown - 1000]
want = (adown - 1000 - down) // 1000
print(\"    samples in the window:\", len(window), \"want at least\", want)
# One batch may have been acknowledged by the old (in-memory) server as it stopped.
sys.exit(0 if ts[0] <= down + 2000 and len(window) >= want - 1 and ts == sorted(ts) else 1)
'"
check "nothing was parked" bash -c "[[ -z \$(ls '$IT_DIR/spool/parked') ]]"
it_done
