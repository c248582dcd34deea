#!/usr/bin/env bash
# Browser tests: starts `dashdot demo` (a real server and a real local agent) on a free
# 127.0.0.1 port and runs, in headless Chromium against that one server,
#   tests/e2e/ui.test.mjs       the live dashboard
#   tests/e2e/catalog.test.mjs  the Settings area (login, forms, device page, delete, logout)
# The admin password for the second one comes from the demo's first-run output in its log.
# Exits 0 when both passed, else the first non-zero status.
set -uo pipefail
cd "$(dirname "$0")/../.."
DASHDOT=$(readlink -f "${DASHDOT:-build/dashdot}")
dir=$(mktemp -d /tmp/dashdot-e2e.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$DASHDOT" demo --listen "127.0.0.1:$port" --data "$dir/data" >"$dir/demo.log" 2>&1 &
pid=$!
cleanup() {
    kill "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
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
DASHDOT_URL="http://127.0.0.1:$port" DASHDOT_SCREENSHOT="${DASHDOT_SCREENSHOT:-}" \
    DASHDOT_ADMIN_PASSWORD="$admin_pw" timeout 150 node tests/e2e/catalog.test.mjs
rc_catalog=$?

rc=$rc_ui
((rc)) || rc=$rc_catalog
if ((rc)); then echo "--- demo log"; tail -30 "$dir/demo.log"; fi
exit $rc
