#!/usr/bin/env bash
# Hostile and unauthenticated input: writes without a valid token are refused, malformed and
# oversized bodies get clear 4xx errors, bad queries get Prometheus's error shape, and the
# server keeps serving throughout.
source "$(dirname "$0")/lib.sh"
it_init
RWGEN=${RWGEN:-$(dirname "$DASHDOT")/tests/rwgen}
port=$(free_port)
url=http://127.0.0.1:$port
start_server srv "$port" "$IT_DIR/data" || exit 1
agent_tok=$(cat "$IT_DIR/data/agent.token")
admin_tok=$(cat "$IT_DIR/data/admin.token")
now=$(($(date +%s) * 1000))
"$RWGEN" sample it_metric 7 "$now" job=it > "$IT_DIR/valid.bin"

# status CURL-ARGS...: prints the HTTP status of a request.
status() { curl -s -o "$IT_DIR/body" -w '%{http_code}' "$@"; }
post() { status -X POST --data-binary "@$1" -H 'Content-Encoding: snappy' "${@:2}" "$url/api/v1/write"; }
expect() { local want=$1; shift; local got; got=$("$@"); [[ $got == "$want" ]] || { echo "    want $want, got $got: $(head -c 300 "$IT_DIR/body")"; return 1; }; }
body_has() { grep -q "$1" "$IT_DIR/body"; }

check "write without a token: 401" expect 401 post "$IT_DIR/valid.bin"
check "401 says a token is needed" body_has '"errorType":"unauthorized"'
check "write with a wrong bearer token: 401" expect 401 post "$IT_DIR/valid.bin" -H "Authorization: Bearer nope"
check "write with a wrong basic-auth password: 401" expect 401 post "$IT_DIR/valid.bin" -u "agent:nope"
check "write with the agent token: 204" expect 204 post "$IT_DIR/valid.bin" -H "Authorization: Bearer $agent_tok"
check "write with the agent token as basic-auth password: 204" expect 204 post "$IT_DIR/valid.bin" -u "agent:$agent_tok"
check "write with the admin token: 204" expect 204 post "$IT_DIR/valid.bin" -H "Authorization: Bearer $admin_tok"
check "the written sample is queryable" bash -c "curl -sf --get '$url/api/v1/query' --data-urlencode 'query=it_metric' | python3 -c 'import json,sys; r=json.load(sys.stdin)[\"data\"][\"result\"]; sys.exit(0 if r and r[0][\"value\"][1]==\"7\" else 1)'"

auth=(-H "Authorization: Bearer $agent_tok")
printf 'not snappy at all' > "$IT_DIR/junk.bin"
check "non-snappy body: 400" expect 400 post "$IT_DIR/junk.bin" "${auth[@]}"
check "400 names the problem" body_has 'snappy'
"$RWGEN" garbage > "$IT_DIR/garbage.bin"
check "snappy of non-protobuf: 400" expect 400 post "$IT_DIR/garbage.bin" "${auth[@]}"
check "400 says protobuf" body_has 'protobuf'
"$RWGEN" bomb > "$IT_DIR/bomb.bin"
check "decompression bomb: 413" expect 413 post "$IT_DIR/bomb.bin" "${auth[@]}"
"$RWGEN" badname > "$IT_DIR/badname.bin"
check "invalid label name: 400" expect 400 post "$IT_DIR/badname.bin" "${auth[@]}"
check "400 names the label" body_has 'bad-label'
"$RWGEN" noname > "$IT_DIR/noname.bin"
check "series without a metric name: 400" expect 400 post "$IT_DIR/noname.bin" "${auth[@]}"
: > "$IT_DIR/empty.bin"
check "empty body: 400" expect 400 post "$IT_DIR/empty.bin" "${auth[@]}"
head -c $((33 * 1024 * 1024)) /dev/zero > "$IT_DIR/big.bin"
check "body over the 32 MiB limit: 413" expect 413 post "$IT_DIR/big.bin" "${auth[@]}"
check "wrong Content-Encoding: 415" expect 415 status -X POST --data-binary "@$IT_DIR/valid.bin" -H 'Content-Encoding: gzip' "${auth[@]}" "$url/api/v1/write"
check "GET on the write endpoint: 405" expect 405 status "$url/api/v1/write"
"$RWGEN" sample it_metric 8 $((now - 60000)) job=it > "$IT_DIR/old.bin"
check "out-of-order sample inside the head: accepted (204)" expect 204 post "$IT_DIR/old.bin" "${auth[@]}"
"$RWGEN" sample it_metric 9 $((now - 20 * 86400000)) job=it > "$IT_DIR/ancient.bin"
check "sample older than the raw retention: 400 with the count" expect 400 post "$IT_DIR/ancient.bin" "${auth[@]}"
check "400 says too old" body_has 'too old'
check "duplicate sample is accepted (dropped): 204" expect 204 post "$IT_DIR/valid.bin" "${auth[@]}"

q() { status --get "$url/api/v1/query" --data-urlencode "query=$1"; }
check "query syntax error: 400" expect 400 q 'node_load1{'
check "syntax error has errorType bad_data and a position" bash -c "grep -q '\"errorType\":\"bad_data\"' '$IT_DIR/body' && grep -q '1:12: parse error' '$IT_DIR/body'"
check "empty selector: 400" expect 400 q '{}'
check "bad regex: 400" expect 400 q 'x{a=~"("}'
check "type error: 400" expect 400 q 'rate(x)'
check "type error names the function" bash -c "grep -q 'expected type range vector in call to function' '$IT_DIR/body'"
check "execution error: 422" expect 422 q 'label_replace(vector(1), "a", "b", "c", "(")'
check "execution error has errorType execution" bash -c "grep -q '\"errorType\":\"execution\"' '$IT_DIR/body'"
check "range query of a range vector: 400" expect 400 status --get "$url/api/v1/query_range" --data-urlencode 'query=x[5m]' --data-urlencode start=1 --data-urlencode end=2 --data-urlencode step=1
check "missing query: 400" expect 400 status "$url/api/v1/query"
check "bad time: 400" expect 400 status "$url/api/v1/query?query=up&time=yesterday"
check "query_range without step: 400" expect 400 status "$url/api/v1/query_range?query=up&start=1&end=2"
check "query_range with end before start: 400" expect 400 status "$url/api/v1/query_range?query=up&start=10&end=2&step=1"
check "query_range over 11000 points: 400" expect 400 status "$url/api/v1/query_range?query=up&start=0&end=100000&step=1"
check "range selector in query_range: 400" expect 400 status --get "$url/api/v1/query_range" --data-urlencode 'query=up[5m]' -d start=1 -d end=2 -d step=1
check "series without match[]: 400" expect 400 status "$url/api/v1/series"
check "invalid label name in label values: 400" expect 400 status "$url/api/v1/label/bad-name/values"
check "bad %-escape in the query string: 400" expect 400 status "$url/api/v1/query?query=%zz"
check "unknown API endpoint: 404" expect 404 status "$url/api/v1/nope"
check "live without match[]: 400" expect 400 status "$url/api/v1/live"
# Raw garbage on the socket must not hurt the server.
python3 - "$port" <<'PY'
import socket, sys
for payload in [b"\x00\xff" * 1000, b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                b"POST /api/v1/write HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
    try:
        s.sendall(payload); s.recv(4096)
    except Exception:
        pass
    s.close()
PY
check "server still serving after all of that" curl -sf -o /dev/null "$url/-/ready"
check "server process alive" kill -0 "$srv_PID"
check "rejected requests are counted" bash -c "curl -sf '$url/metrics' | grep -q '^dashdot_remote_write_rejected_total [1-9]'"
it_done
