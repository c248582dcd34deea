#!/usr/bin/env bash
# Probes end to end with real processes: a device, an endpoint, a tcp probe and a schedule made
# through the API run from the two agents the schedule names (probe_success from each vantage
# within two intervals); an edit reaches the agents within 5 s; the agent config long-poll
# answers 304 or the change; a test run from a chosen agent; a schedule without agents runs on
# the server; while the server is down for 30 s the agents go on probing (one of them restarted
# meanwhile, from its stored config) and every result of the outage arrives afterwards.
source "$(dirname "$0")/lib.sh"
it_init
port=$(free_port)
url=http://127.0.0.1:$port
data=$IT_DIR/data
start_server srv "$port" "$data" || exit 1
admin=$(cat "$data/admin.token")

api() { # api METHOD PATH [JSON BODY]: prints the body; fails on HTTP errors
    local m=$1 p=$2
    shift 2
    curl -sf -X "$m" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
        ${1:+--data "$1"} "$url$p"
}
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
q() { curl -sf --get "$url/api/v1/query" -H "Authorization: Bearer $admin" --data-urlencode "query=$1"; }
value_is() { # value_is QUERY VALUE: the query's (single) value equals VALUE
    q "$1" | pyjson "len(d['data']['result']) >= 1 and all(r['value'][1] == '$2' for r in d['data']['result'])"
}
count_is() { q "$1" | pyjson "len(d['data']['result']) == $2"; }

# The target: a TCP listener of our own, and a port where nothing listens.
target_port=$(free_port)
python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $target_port)); s.listen(128)
while True:
    c, _ = s.accept(); c.close()
" &
IT_PIDS+=($!)
closed_port=$(free_port)

echo "# two agents enroll"
start_agent va "$url" "$data/agent.token" "$IT_DIR/spool-a" --instance vp-a --state "$IT_DIR/state-a" --collectors loadavg
start_agent vb "$url" "$data/agent.token" "$IT_DIR/spool-b" --instance vp-b --state "$IT_DIR/state-b" --collectors loadavg
two_agents() { [[ $(api GET /api/v1/agent | field "d['total']") == 2 ]]; }
check "both agents are enrolled" wait_until 15 two_agents
agent_a=$(api GET '/api/v1/agent?name=vp-a' | field "d['data'][0]['id']")
agent_b=$(api GET '/api/v1/agent?name=vp-b' | field "d['data'][0]['id']")

echo "# a probe scheduled from both agents"
dev=$(api POST /api/v1/device '{"name":"db-1","kind":"server"}' | field "d['data']['id']")
ep=$(api POST /api/v1/endpoint "{\"device\":$dev,\"name\":\"sql\",\"address\":\"127.0.0.1\",\"port\":$target_port,\"protocol\":\"tcp\"}" | field "d['data']['id']")
probe=$(api POST /api/v1/probe "{\"name\":\"db port\",\"endpoint\":$ep,\"type\":\"tcp\",\"settings\":{}}" | field "d['data']['id']")
t0=$(date +%s)
sched=$(api POST /api/v1/telemetry "{\"probe\":$probe,\"agents\":[$agent_a,$agent_b],\"interval\":\"1s\",\"timeout\":\"1s\"}" | field "d['data']['id']")
sel="probe_success{probe_id=\"$probe\"}"
check "probe_success 1 from vp-a and vp-b within two intervals of the agents hearing of it" \
    wait_until 10 bash -c "$(declare -f q value_is count_is pyjson); url=$url admin=$admin; count_is '$sel' 2 && value_is '$sel' 1"
echo "    first results after $(($(date +%s) - t0)) s"
check "the samples carry the documented labels" bash -c "$(declare -f q pyjson); url=$url admin=$admin
    q 'probe_success{probe_id=\"$probe\",vantage=\"vp-a\"}' | pyjson \"
[r['metric'] for r in d['data']['result']][0] == {'__name__': 'probe_success', 'instance': 'db-1', 'job': 'tcp',
 'probe': 'db port', 'probe_id': '$probe', 'target': '127.0.0.1:$target_port', 'device': 'db-1',
 'endpoint': 'sql', 'vantage': 'vp-a'}\""
check "probe_duration_seconds and probe_tcp_connect_duration_seconds arrive" bash -c "$(declare -f q pyjson); url=$url admin=$admin
    q 'probe_duration_seconds{probe_id=\"$probe\"} > 0 and on(vantage) probe_tcp_connect_duration_seconds{probe_id=\"$probe\"} > 0' | pyjson 'len(d[\"data\"][\"result\"]) == 2'"
check "the agents count the runs (dashdot_agent_probe_runs_total)" \
    wait_until 5 bash -c "$(declare -f q pyjson); url=$url admin=$admin; q 'dashdot_agent_probe_runs_total{probe_id=\"$probe\"} > 0' | pyjson 'len(d[\"data\"][\"result\"]) == 2'"
status_up() { api GET "/api/v1/probe/$probe/status" | pyjson "d['data']['state'] == 'up' and sorted(v['vantage'] for v in d['data']['vantages']) == ['vp-a', 'vp-b'] and all(v['success'] and not v['stale'] and v['age_seconds'] < 5 for v in d['data']['vantages'])"; }
check "the status API shows the probe up from both vantage points" status_up

echo "# the agent config: ETag and long-poll"
tok_a=$(cat "$IT_DIR/state-a/agent.token")
cfg() { curl -s -D "$IT_DIR/h" -o "$IT_DIR/cfg" -w '%{http_code}' -H "Authorization: Bearer $tok_a" "$@"; }
check "GET /api/v1/agent/config: 200 with the probe" bash -c "[[ \$($(declare -f cfg); IT_DIR=$IT_DIR tok_a=$tok_a cfg '$url/api/v1/agent/config') == 200 ]] && python3 -c '
import json; d = json.load(open(\"$IT_DIR/cfg\"))[\"data\"]
p = d[\"probes\"][0]
assert p[\"probe\"] == $probe and p[\"target\"] == \"127.0.0.1:$target_port\" and p[\"interval_ms\"] == 1000, p'"
etag=$(grep -i '^etag:' "$IT_DIR/h" | cut -d' ' -f2 | tr -d '\r')
s=$SECONDS
check "unchanged, with wait=2s: 304 after the wait" bash -c "[[ \$($(declare -f cfg); IT_DIR=$IT_DIR tok_a=$tok_a cfg -H 'If-None-Match: $etag' '$url/api/v1/agent/config?wait=2s') == 304 ]]"
check "  ... which took about 2 s" test $((SECONDS - s)) -ge 1
(sleep 1; api PATCH "/api/v1/device/$dev" '{"location":"rack 9"}' >/dev/null; api PATCH "/api/v1/probe/$probe" '{"name":"db port 2"}' >/dev/null) &
s=$SECONDS
check "a change during the wait answers 200 at once" bash -c "[[ \$($(declare -f cfg); IT_DIR=$IT_DIR tok_a=$tok_a cfg -H 'If-None-Match: $etag' '$url/api/v1/agent/config?wait=30s') == 200 ]]"
check "  ... well before the wait ends" test $((SECONDS - s)) -lt 10
check "the config answer needs an agent's own token (admin: 403)" bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $admin' '$url/api/v1/agent/config') == 403 ]]"
check "a bad wait is a 400" bash -c "[[ \$($(declare -f cfg); IT_DIR=$IT_DIR tok_a=$tok_a cfg '$url/api/v1/agent/config?wait=soon') == 400 ]]"

echo "# an edit reaches the agents"
api PATCH "/api/v1/endpoint/$ep" "{\"port\":$closed_port}" >/dev/null
t_edit=$SECONDS
check "after the endpoint moved to a closed port, both vantage points report failure within 5 s" \
    wait_until 5 bash -c "$(declare -f q value_is count_is pyjson); url=$url admin=$admin; value_is 'probe_success{probe_id=\"$probe\",target=\"127.0.0.1:$closed_port\"}' 0 && count_is 'probe_success{probe_id=\"$probe\",target=\"127.0.0.1:$closed_port\"}' 2"
echo "    seen after $((SECONDS - t_edit)) s"
check "the status API says down" wait_until 5 bash -c "$(declare -f api pyjson); url=$url admin=$admin; api GET /api/v1/probe/$probe/status | pyjson \"d['data']['state'] == 'down'\""
api PATCH "/api/v1/endpoint/$ep" "{\"port\":$target_port}" >/dev/null

echo "# test runs"
tr() { curl -s -o "$IT_DIR/test" -w '%{http_code}' -X POST -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' "$@"; }
check "a test from vp-a: 200, success, samples with vantage vp-a" bash -c "[[ \$($(declare -f tr); IT_DIR=$IT_DIR admin=$admin tr --data '{\"agent\":$agent_a}' '$url/api/v1/probe/$probe/test') == 200 ]] && python3 -c '
import json; d = json.load(open(\"$IT_DIR/test\"))[\"data\"]
assert d[\"success\"] is True and d[\"agent\"] == $agent_a and d[\"probe\"] == $probe, d
names = {s[\"metric\"] for s in d[\"samples\"]}
assert {\"probe_success\", \"probe_duration_seconds\", \"probe_tcp_connect_duration_seconds\"} <= names, names
assert all(s[\"labels\"][\"vantage\"] == \"vp-a\" for s in d[\"samples\"])'"
check "a test without an agent runs on the server" bash -c "[[ \$($(declare -f tr); IT_DIR=$IT_DIR admin=$admin tr --data '{}' '$url/api/v1/probe/$probe/test') == 200 ]] && python3 -c '
import json; d = json.load(open(\"$IT_DIR/test\"))[\"data\"]
assert d[\"success\"] is True and d[\"agent\"] is None and d[\"samples\"][0][\"labels\"][\"vantage\"] == \"server\", d'"
check "a test of a failing probe says why" bash -c "
    curl -sf -X PATCH -H 'Authorization: Bearer $admin' -H 'Content-Type: application/json' --data '{\"port\":$closed_port}' '$url/api/v1/endpoint/$ep' >/dev/null
    [[ \$($(declare -f tr); IT_DIR=$IT_DIR admin=$admin tr --data '{\"agent\":$agent_b}' '$url/api/v1/probe/$probe/test') == 200 ]] && python3 -c '
import json; d = json.load(open(\"$IT_DIR/test\"))[\"data\"]
assert d[\"success\"] is False and \"refused\" in d[\"message\"], d'"
api PATCH "/api/v1/endpoint/$ep" "{\"port\":$target_port}" >/dev/null
check "a test of an unknown probe: 404" bash -c "[[ \$($(declare -f tr); IT_DIR=$IT_DIR admin=$admin tr --data '{}' '$url/api/v1/probe/99999/test') == 404 ]]"
check "a test from an unknown agent: 404" bash -c "[[ \$($(declare -f tr); IT_DIR=$IT_DIR admin=$admin tr --data '{\"agent\":99999}' '$url/api/v1/probe/$probe/test') == 404 ]]"
check "a test with a malformed body: 400" bash -c "[[ \$($(declare -f tr); IT_DIR=$IT_DIR admin=$admin tr --data '{nope' '$url/api/v1/probe/$probe/test') == 400 ]]"
viewer=$(api POST /api/v1/token '{"name":"v","role":"viewer"}' | field "d['data']['secret']")
check "a viewer may not run tests: 403" bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Authorization: Bearer $viewer' '$url/api/v1/probe/$probe/test') == 403 ]]"
check "a viewer sees the status" bash -c "curl -sf -H 'Authorization: Bearer $viewer' '$url/api/v1/probe/$probe/status' >/dev/null"

echo "# a schedule without agents runs on the server"
ep2=$(api POST /api/v1/endpoint "{\"device\":$dev,\"address\":\"127.0.0.1\",\"port\":$port,\"protocol\":\"http\"}" | field "d['data']['id']")
probe2=$(api POST /api/v1/probe "{\"name\":\"api port\",\"endpoint\":$ep2,\"type\":\"tcp\",\"settings\":{}}" | field "d['data']['id']")
api POST /api/v1/telemetry "{\"probe\":$probe2,\"interval\":\"1s\",\"timeout\":\"1s\"}" >/dev/null
check "probe_success 1 with vantage=server" wait_until 8 bash -c "$(declare -f q value_is pyjson); url=$url admin=$admin; value_is 'probe_success{probe_id=\"$probe2\",vantage=\"server\"}' 1"

echo "# a server outage of 30 s"
sleep 2
stopped_cleanly srv || echo "    (the server did not stop cleanly)"
down=$(date +%s)
sleep 5
# One agent restarts during the outage: it runs its probes from the stored config.
stop_pid "$va_PID"
check "agent vp-a stored its probe config" test -s "$IT_DIR/state-a/probes.json"
start_agent va2 "$url" "$data/agent.token" "$IT_DIR/spool-a" --instance vp-a --state "$IT_DIR/state-a" --collectors loadavg
sleep 25
up=$(date +%s)
start_server srv2 "$port" "$data" || exit 1
check "the restarted agent ran its probes from the stored config" \
    grep -q 'from the stored config' "$IT_DIR/va2.log"
every_result_arrived() { # VANTAGE: a result for every second of the outage (no gap over 2.5 s)
    curl -sf --get "$url/api/v1/query" -H "Authorization: Bearer $admin" \
        --data-urlencode "query=probe_success{probe_id=\"$probe\",vantage=\"$1\"}[$((up - down + 10))s]" \
        --data-urlencode "time=$((up + 5))" | python3 -c "
import json, sys
r = json.load(sys.stdin)['data']['result']
ts = sorted(float(t) for s in r for t, v in s['values'] if $down <= float(t) <= $up)
gaps = [b - a for a, b in zip(ts, ts[1:])]
ok = len(ts) >= $((up - down)) - 2 and (not gaps or max(gaps) <= 2.5)
print('    %s: %d results in the %d s outage, largest gap %.1f s' % ('$1', len(ts), $up - $down, max(gaps) if gaps else -1))
sys.exit(0 if ok else 1)"
}
check "every result of vp-b during the outage arrived" wait_until 30 every_result_arrived vp-b
check "every result of vp-a (restarted meanwhile, gap of its restart allowed) arrived" \
    wait_until 30 bash -c "curl -sf --get '$url/api/v1/query' -H 'Authorization: Bearer $admin' \
        --data-urlencode 'query=count_over_time(probe_success{probe_id=\"$probe\",vantage=\"vp-a\"}[$((up - down))s])' \
        --data-urlencode 'time=$up' | python3 -c 'import json,sys; r=json.load(sys.stdin)[\"data\"][\"result\"]; print(\"    vp-a:\", r and r[0][\"value\"][1], \"results\"); sys.exit(0 if r and float(r[0][\"value\"][1]) >= $((up - down)) - 6 else 1)'"

echo "# removing the schedule stops the probe"
api DELETE "/api/v1/telemetry/$sched" >/dev/null
check "the agents drop it" wait_until 10 grep -q '0 probes scheduled' "$IT_DIR/vb.log"

check "server stops cleanly on SIGTERM" stopped_cleanly srv2
it_done
