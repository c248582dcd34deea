#!/usr/bin/env bash
# Browser tests: starts `dashdot demo` (a real server and a real local agent) on a free
# 127.0.0.1 port and runs, in headless Chromium against that one server,
#   tests/e2e/ui.test.mjs       the live dashboard
#   tests/e2e/catalog.test.mjs  the Settings area (login, forms, device page, delete, logout)
#   tests/e2e/probes.test.mjs   probes: create, Test from the demo's agent, schedule, state and
#                               latency chart on the device page, viewer without Test
#   tests/e2e/events.test.mjs   events: a webhook sensor's intake, the events page (list, expand,
#                               search, live, paging, chart), device card, sensor page, adopting
#                               an unknown sender, viewer without Adopt
# The admin password for the last three comes from the demo's first-run output in its log; for
# the probes test a second agent (instance e2e-vantage-2, enrolled with the demo's agent token)
# is a second vantage point.
# Exits 0 when all passed, else the first non-zero status.
set -uo pipefail
cd "$(dirname "$0")/../.."
DASHDOT=$(readlink -f "${DASHDOT:-build/dashdot}")
dir=$(mktemp -d /tmp/dashdot-e2e.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$DASHDOT" demo --listen "127.0.0.1:$port" --data "$dir/data" >"$dir/demo.log" 2>&1 &
pid=$!
pid2=""
cleanup() {
    kill $pid $pid2 2>/dev/null
    for _ in $(seq 50); do kill -0 $pid $pid2 2>/dev/null || break; sleep 0.1; done
    kill -9 $pid $pid2 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1 && break
    sleep 0.1
done
DASHDOT_URL="http://127.0.0.1:$port" DASHDOT_SCREENSHOT="${DASHDOT_SCREENSHOT:-}" \
    timeout 150 node tests/e2e/ui.test.mjs
rc_ui=$?

# The first run prints "  admin password: <password>" (user admin) to the log.
admin_pw=""
for _ in $(seq 50); do
    admin_pw=$(sed -n 's/^  admin password: //p' "$dir/demo.log" | head -n 1)
    [[ -n $admin_pw ]] && break
    sleep 0.1
done
if [[ -z $admin_pw ]]; then echo "run.sh: no '  admin password: ' line in the demo log" >&2; fi

# A second vantage point for the probes test: another agent, enrolled with the demo's token.
second=""
agent_token=$(sed -n 's/^  agent token: //p' "$dir/demo.log" | head -n 1)
if [[ -n $agent_token ]]; then
    "$DASHDOT" agent --server "http://127.0.0.1:$port" --token "$agent_token" --instance e2e-vantage-2 \
        --state "$dir/agent2-state" --spool "$dir/agent2-spool" --collectors loadavg \
        --inventory-interval 1h >"$dir/agent2.log" 2>&1 &
    pid2=$!
    second=e2e-vantage-2
else
    echo "run.sh: no '  agent token: ' line in the demo log; the probes test uses one agent" >&2
fi
DASHDOT_URL="http://127.0.0.1:$port" DASHDOT_SCREENSHOT="${DASHDOT_SCREENSHOT:-}" \
    DASHDOT_ADMIN_PASSWORD="$admin_pw" timeout 150 node tests/e2e/catalog.test.mjs
rc_catalog=$?
DASHDOT_URL="http://127.0.0.1:$port" DASHDOT_SCREENSHOT="${DASHDOT_SCREENSHOT:-}" \
    DASHDOT_ADMIN_PASSWORD="$admin_pw" DASHDOT_SECOND_AGENT="$second" timeout 170 node tests/e2e/probes.test.mjs
rc_probes=$?
DASHDOT_URL="http://127.0.0.1:$port" DASHDOT_SCREENSHOT="${DASHDOT_SCREENSHOT:-}" \
    DASHDOT_ADMIN_PASSWORD="$admin_pw" timeout 230 node tests/e2e/events.test.mjs
rc_events=$?

rc=$rc_ui
((rc)) || rc=$rc_catalog
((rc)) || rc=$rc_probes
((rc)) || rc=$rc_events
if ((rc)); then
    echo "--- demo log"; tail -30 "$dir/demo.log"
    [[ -f $dir/agent2.log ]] && { echo "--- second agent log"; tail -10 "$dir/agent2.log"; }
fi
exit $rc
