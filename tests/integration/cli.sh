#!/usr/bin/env bash
# Command-line behaviour: help, clear errors for bad arguments (exit 2), agent --once output.
source "$(dirname "$0")/lib.sh"
it_init
expect_exit() { local want=$1; shift; "$@" >"$IT_DIR/out" 2>&1; local got=$?; [[ $got == "$want" ]] || { echo "    exit $got, want $want: $(head -c 300 "$IT_DIR/out")"; return 1; }; }
out_has() { grep -q -- "$1" "$IT_DIR/out"; }
check "no command: usage, exit 2" expect_exit 2 "$DASHDOT"
check "unknown command: exit 2" expect_exit 2 "$DASHDOT" frobnicate
check "version" expect_exit 0 "$DASHDOT" version
check "server --help: exit 0" expect_exit 0 "$DASHDOT" server --help
check "server --help lists --listen" out_has --listen
check "server bad flag: exit 2" expect_exit 2 "$DASHDOT" server --bogus
check "server bad flag is named" out_has bogus
check "server bad listen address: exit 1" expect_exit 1 "$DASHDOT" server --listen nonsense --data "$IT_DIR/d1"
check "bad listen address is explained" out_has 'invalid listen address'
check "server bad retention: exit 2" expect_exit 2 "$DASHDOT" server --retention 5x
check "agent without --server: exit 2" expect_exit 2 "$DASHDOT" agent
check "agent bad interval: exit 2" expect_exit 2 "$DASHDOT" agent --server http://x --interval 0s
check "agent unknown collector: exit 2" expect_exit 2 "$DASHDOT" agent --once --collectors cpu,nope
check "unknown collector is named" out_has nope
check "agent bad URL scheme: exit 1" expect_exit 1 "$DASHDOT" agent --server ftp://x --spool "$IT_DIR/sp"
check "agent --once prints node_exporter metrics" bash -c "'$DASHDOT' agent --once | grep -q '^node_cpu_seconds_total{cpu=\"0\",instance=\"[^\"]*\",job=\"dashdot\",mode=\"idle\"} '"
check "agent --once --collectors loadavg prints only load" bash -c "[[ \$('$DASHDOT' agent --once --collectors loadavg | grep -vc '^node_load') == 0 ]]"
check "agent --once honours --instance" bash -c "'$DASHDOT' agent --once --collectors loadavg --instance web-7 | grep -q 'instance=\"web-7\"'"
port=$(free_port)
start_server srv "$port" "$IT_DIR/data" || exit 1
check "second server on the same port fails clearly" expect_exit 1 "$DASHDOT" server --listen "127.0.0.1:$port" --data "$IT_DIR/d2"
check "port conflict is explained" out_has 'cannot listen'
printf 'short\n' > "$IT_DIR/d3-admin"; mkdir -p "$IT_DIR/d3"; cp "$IT_DIR/d3-admin" "$IT_DIR/d3/admin.token"
check "malformed token file: exit 1" expect_exit 1 "$DASHDOT" server --listen 127.0.0.1:0 --data "$IT_DIR/d3"
check "malformed token file is explained" out_has 'admin.token'
# dashdot query: PromQL against the running server.
qurl="http://127.0.0.1:$port"
check "query: instant vector(1) prints one series" expect_exit 0 "$DASHDOT" query --url "$qurl" 'vector(1) * 2'
check "query: the series is {} with value 2" out_has '^{}  2 @ '
check "query: range query prints values" expect_exit 0 "$DASHDOT" query --url "$qurl" --start now-2m --end now --step 1m 'vector(3)'
check "query: range output has three points" bash -c "grep -o '3 @' '$IT_DIR/out' | wc -l | grep -qx 3"
check "query: scalar" expect_exit 0 "$DASHDOT" query --url "$qurl" --time 100 '1 + 2'
check "query: scalar value and time" out_has '^3 @ 100.000'
check "query: a type error exits 1" expect_exit 1 "$DASHDOT" query --url "$qurl" 'rate(up)'
check "query: with the server's message" out_has 'expected type range vector in call to function "rate", got instant vector'
check "query: an execution error exits 1" expect_exit 1 "$DASHDOT" query --url "$qurl" 'label_replace(vector(1), "a", "b", "c", "(")'
check "query: execution error named" out_has 'execution: invalid regular expression'
check "query: no expression: exit 2" expect_exit 2 "$DASHDOT" query
check "query: --start without --end: exit 2" expect_exit 2 "$DASHDOT" query --start now-1h 'up'
check "query: unreachable server: exit 1" expect_exit 1 "$DASHDOT" query --url "http://127.0.0.1:$(free_port)" 'up'
check "query: --help: exit 0" expect_exit 0 "$DASHDOT" query --help
it_done
