#!/usr/bin/env bash
# The live stream: new samples matching match[] arrive as server-sent events, others don't.
source "$(dirname "$0")/lib.sh"
it_init
port=$(free_port)
url=http://127.0.0.1:$port
start_server srv "$port" "$IT_DIR/data" || exit 1
start_agent agent "$url" "$IT_DIR/data/agent.token" "$IT_DIR/spool" --instance live-host
timeout 4 curl -sN --get "$url/api/v1/live" --data-urlencode 'match[]=node_load1' \
    --data-urlencode 'match[]=node_memory_MemTotal_bytes' > "$IT_DIR/sse.txt"
check "stream sends events" bash -c "[[ \$(grep -c '^event: samples' '$IT_DIR/sse.txt') -ge 2 ]]"
check "events carry the matched series only" python3 - "$IT_DIR/sse.txt" <<'PY'
import json, sys
names = set()
for line in open(sys.argv[1]):
    if line.startswith("data: "):
        for s in json.loads(line[6:])["series"]:
            names.add(s["metric"]["__name__"])
            assert s["metric"]["instance"] == "live-host"
            assert len(s["values"]) == 1 and isinstance(s["values"][0][1], str)
print("    names:", sorted(names))
sys.exit(0 if names == {"node_load1", "node_memory_MemTotal_bytes"} else 1)
PY
check "content type is text/event-stream" bash -c "timeout 2 curl -s -D - -o /dev/null --get '$url/api/v1/live' --data-urlencode 'match[]=x' | grep -qi '^content-type: text/event-stream'"
# Many clients that connect and vanish must not leak or wedge the server.
pids=()
for i in $(seq 20); do timeout 0.3 curl -sN "$url/api/v1/live?match[]=node_load1" >/dev/null & pids+=($!); done
wait "${pids[@]}"
check "server serves after clients vanished" curl -sf -o /dev/null "$url/-/ready"
check "clean shutdown with a stream open" bash -c "
    (timeout 10 curl -sN '$url/api/v1/live?match[]=node_load1' >/dev/null &) ; sleep 1
    kill -TERM $srv_PID
    for i in \$(seq 50); do kill -0 $srv_PID 2>/dev/null || exit 0; sleep 0.1; done; exit 1"
it_done
