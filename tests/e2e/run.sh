#!/usr/bin/env bash
# Browser test: starts `dashdot demo` (a real server and a real local agent) on a free
# 127.0.0.1 port and runs tests/e2e/ui.test.mjs in headless Chromium against it.
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
rc=$?
if ((rc)); then echo "--- demo log"; tail -30 "$dir/demo.log"; fi
exit $rc
