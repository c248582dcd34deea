# Shared helpers for the integration tests: real dashdot processes on free 127.0.0.1 ports.
# Each test sources this, calls it_init, and uses the helpers; everything started is killed and
# every temp dir removed on exit.
set -uo pipefail

DASHDOT=${DASHDOT:-build/dashdot}
DASHDOT=$(readlink -f "$DASHDOT")
IT_PIDS=()
IT_FAILS=0

it_init() {
    IT_DIR=$(mktemp -d /tmp/dashdot-it.XXXXXX)
    trap it_cleanup EXIT
    trap 'exit 130' INT TERM
}

it_cleanup() {
    local p
    for p in "${IT_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${IT_PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
    done
    [[ -n ${IT_KEEP:-} ]] || rm -rf "$IT_DIR"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_server NAME PORT DATADIR [extra args...]: starts a server and waits until it is ready.
start_server() {
    local name=$1 port=$2 data=$3
    shift 3
    "$DASHDOT" server --listen "127.0.0.1:$port" --data "$data" "$@" >"$IT_DIR/$name.log" 2>&1 &
    local pid=$!
    IT_PIDS+=("$pid")
    eval "${name}_PID=$pid"
    for _ in $(seq 100); do
        if curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1; then return 0; fi
        kill -0 "$pid" 2>/dev/null || { echo "server $name exited:"; cat "$IT_DIR/$name.log"; return 1; }
        sleep 0.1
    done
    echo "server $name not ready after 10 s"; cat "$IT_DIR/$name.log"; return 1
}

# start_agent NAME URL TOKENFILE SPOOLDIR [extra args...]
start_agent() {
    local name=$1 url=$2 tokfile=$3 spool=$4
    shift 4
    "$DASHDOT" agent --server "$url" --token-file "$tokfile" --spool "$spool" --interval 1s "$@" \
        >"$IT_DIR/$name.log" 2>&1 &
    local pid=$!
    IT_PIDS+=("$pid")
    eval "${name}_PID=$pid"
}

stop_pid() {
    local pid=$1 sig=${2:-TERM}
    kill -"$sig" "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    echo "process $pid did not stop"; return 1
}

# wait_until SECONDS CMD...: polls CMD every 0.2 s until it succeeds.
wait_until() {
    local secs=$1
    shift
    local end=$((SECONDS + secs))
    while ((SECONDS < end)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.2
    done
    "$@"
}

# check NAME CMD...: records a named check.
check() {
    local name=$1
    shift
    if "$@"; then
        echo "  ok - $name"
    else
        echo "  not ok - $name"
        IT_FAILS=$((IT_FAILS + 1))
    fi
}

# jq-like checks with python3: pyjson 'EXPR' reads JSON on stdin as `d`; exits 0 if EXPR is true.
pyjson() {
    python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if ($1) else 1)"
}

# stopped_cleanly NAME: SIGTERM ends server NAME (started by start_server) with exit 0 and no
# sanitizer report in its log.
stopped_cleanly() {
    local name=$1 rc pid
    pid=$(eval "echo \$${name}_PID")
    stop_pid "$pid" TERM || kill -9 "$pid"
    wait "$pid"
    rc=$?
    if [[ $rc != 0 ]] || grep -q 'Sanitizer\|runtime error' "$IT_DIR/$name.log"; then
        echo "    exit status $rc"
        grep -A8 'Sanitizer\|runtime error' "$IT_DIR/$name.log" | head -30 | sed 's/^/    /'
        return 1
    fi
}

it_done() {
    if ((IT_FAILS)); then
        echo "$IT_FAILS check(s) failed; logs:"
        for f in "$IT_DIR"/*.log; do [[ -f $f ]] && { echo "--- $f"; tail -20 "$f"; }; done
        exit 1
    fi
    exit 0
}
