#!/usr/bin/env bash
# Enrollment and inventory with real processes: an agent given an enrollment token enrolls
# (one agent, one device, a per-agent token stored with mode 600), delivers samples and its
# inventory, stays the same agent across a restart, keeps its batches in the spool while its
# token is revoked and enrolls again when it has the enrollment token; against a plain
# remote-write receiver (no enrollment endpoint) it keeps using the token it was given.
source "$(dirname "$0")/lib.sh"
it_init
port=$(free_port)
url=http://127.0.0.1:$port
start_server srv "$port" "$IT_DIR/data" || exit 1
admin=$(cat "$IT_DIR/data/admin.token")
state=$IT_DIR/state
spool=$IT_DIR/spool
host=$(hostname)

api() { # api METHOD PATH [JSON BODY]
    local m=$1 p=$2
    shift 2
    curl -sf -X "$m" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
        ${1:+--data "$1"} "$url$p"
}
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
has_series() { curl -sf --get "$url/api/v1/query" -H "Authorization: Bearer $admin" \
    --data-urlencode "query=$1" | pyjson "len(d['data']['result']) > 0"; }
n_agents() { api GET "/api/v1/agent?hostname=$host" | field "d['total']"; }
n_devices() { api GET /api/v1/device | field "d['total']"; }
one_agent() { [[ $(n_agents) == 1 ]]; }
n_spooled() { find "$spool" -maxdepth 1 -name '*.rw' | wc -l; }
spool_empty() { [[ $(n_spooled) == 0 ]]; }
spool_has() { (($(n_spooled) >= $1)); }
logged() { grep -qE "$2" "$IT_DIR/$1.log"; }
not_logged() { ! grep -qE "$2" "$IT_DIR/$1.log"; }

# An enrollment token, as an admin creates it.
api POST /api/v1/token '{"name":"enroll","role":"enroll"}' | field "d['data']['secret']" \
    >"$IT_DIR/enroll.token"
check "an enrollment token was created" grep -q '^ddt_' "$IT_DIR/enroll.token"

echo "# enrollment"
start_agent a1 "$url" "$IT_DIR/enroll.token" "$spool" --instance enroll-host --state "$state" \
    --inventory-interval 2s
check "the agent is listed once" wait_until 15 one_agent
agent_id=$(api GET "/api/v1/agent?hostname=$host" | field "d['data'][0]['id']")
device_id=$(api GET "/api/v1/agent?hostname=$host" | field "d['data'][0]['device']")
devices=$(n_devices)
check "its device exists ($device_id)" bash -c "curl -sf -H 'Authorization: Bearer $admin' \
    '$url/api/v1/device/$device_id' | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)[\"data\"][\"id\"] == $device_id else 1)'"
check "the agent logged its enrollment" logged a1 "enrolled with $url as agent $agent_id \\(device $device_id\\)"
check "the agent token file has mode 600" test "$(stat -c %a "$state/agent.token")" = 600
check "the state directory has mode 700" test "$(stat -c %a "$state")" = 700
check "the stored token is a per-agent token, not the enrollment token" \
    bash -c "grep -q '^ddt_' '$state/agent.token' && ! cmp -s '$state/agent.token' '$IT_DIR/enroll.token'"
check "agent.json names the agent and the device" \
    pyjson "d['agent'] == $agent_id and d['device'] == $device_id and d['server'] == '$url'" \
    <"$state/agent.json"
check "samples arrive" wait_until 15 has_series 'node_load1{instance="enroll-host"}'
inventory_ok() {
    api GET "/api/v1/device/$device_id/inventory" | pyjson "
all(k in d['data']['doc'] for k in ('hostname', 'os', 'kernel', 'cpu', 'memory', 'disks',
                                    'filesystems', 'interfaces', 'virtualization', 'container'))
and d['data']['doc']['cpu']['threads'] >= 1 and d['data']['doc']['memory']['total_bytes'] > 0
and d['data']['doc']['hostname'] == '$host'"
}
check "the inventory arrives with os, cpu and memory" wait_until 15 inventory_ok
check "the agent logged the inventory" logged a1 "inventory sent"
check "the device's inventory agrees with --inventory" bash -c "
    '$DASHDOT' agent --inventory | python3 -c '
import json, subprocess, sys
mine = json.load(sys.stdin)
theirs = json.loads(subprocess.run([\"curl\", \"-sf\", \"-H\", \"Authorization: Bearer $admin\",
    \"$url/api/v1/device/$device_id/inventory\"], capture_output=True).stdout)[\"data\"][\"doc\"]
sys.exit(0 if mine[\"cpu\"] == theirs[\"cpu\"] and mine[\"os\"] == theirs[\"os\"] else 1)'"

echo "# restart with the same state"
stop_pid "$a1_PID"
start_agent a2 "$url" "$IT_DIR/enroll.token" "$spool" --instance enroll-host --state "$state" \
    --inventory-interval 2s
check "the restarted agent uses the stored token" \
    wait_until 10 logged a2 "using the agent token of $state/agent.token \\(agent $agent_id, device $device_id\\)"
sleep 3
check "it did not enroll again" not_logged a2 "enrolled with"
check "still one agent" one_agent
check "still $devices device(s)" test "$(n_devices)" = "$devices"
check "an unchanged inventory is stored once" \
    bash -c "curl -sf -H 'Authorization: Bearer $admin' '$url/api/v1/device/$device_id/inventory/history' \
    | python3 -c 'import json,sys; sys.exit(0 if len(json.load(sys.stdin)[\"data\"]) == 1 else 1)'"
check "deliveries go on" wait_until 10 spool_empty

echo "# revoked token, no enrollment token"
stop_pid "$a2_PID"
env -u DASHDOT_TOKEN "$DASHDOT" agent --server "$url" --spool "$spool" --interval 1s \
    --instance enroll-host --state "$state" >"$IT_DIR/a3.log" 2>&1 &
a3_PID=$!
IT_PIDS+=("$a3_PID")
check "the agent starts on its stored token alone" wait_until 10 logged a3 "using the agent token"
sleep 2
check "and delivers" spool_empty
token_id=$(api GET "/api/v1/token?agent=$agent_id&revoked=false" | field "d['data'][0]['id']")
old_token=$(cat "$state/agent.token")
api PATCH "/api/v1/token/$token_id" '{"revoked":true}' >/dev/null
revoked_ms=$(date +%s%3N)
check "the agent says clearly that its token was refused" \
    wait_until 10 logged a3 "refused the token \\(HTTP 401: .*\\): the agent token was revoked or has expired and there is no --token to enroll again with; [0-9]+ batches wait in the spool"
check "batches wait in the spool" wait_until 15 spool_has 6
check "the agent keeps running" kill -0 "$a3_PID"
check "nothing was parked" bash -c "[[ -z \$(ls '$spool/parked' 2>/dev/null) ]]"
check "the refusal is logged once, not every second" \
    test "$(grep -c 'refused the token' "$IT_DIR/a3.log")" = 1
stop_pid "$a3_PID"
stopped_ms=$(date +%s%3N)

echo "# revoked token, enrollment token given: enroll again"
spooled=$(n_spooled)
start_agent a4 "$url" "$IT_DIR/enroll.token" "$spool" --instance enroll-host --state "$state" \
    --inventory-interval 2s
check "the agent enrolls again after the 401" \
    wait_until 10 logged a4 "refused the agent token of $state/agent.token \\(HTTP 401.*enrolling again"
check "as the same agent" wait_until 10 logged a4 "enrolled with $url as agent $agent_id \\(device $device_id\\)"
check "with a new stored token" bash -c "[[ \$(cat '$state/agent.token') != '$old_token' ]]"
check "the $spooled spooled batches are delivered" wait_until 30 spool_empty
check "still one agent" one_agent
check "still $devices device(s)" test "$(n_devices)" = "$devices"
sleep 1
check "the batches of the revocation arrived" bash -c "curl -sf -H 'Authorization: Bearer $admin' --get '$url/api/v1/query' --data-urlencode 'query=node_load1{instance=\"enroll-host\"}[2m]' | python3 -c '
import json, sys
ts = [int(round(float(p[0]) * 1000)) for p in json.load(sys.stdin)[\"data\"][\"result\"][0][\"values\"]]
window = [t for t in ts if $revoked_ms + 1000 <= t <= $stopped_ms - 1000]
want = ($stopped_ms - $revoked_ms - 2000) // 1000
print(\"    samples in the window:\", len(window), \"want at least\", want - 1)
sys.exit(0 if len(window) >= want - 1 else 1)'"
check "nothing was parked" bash -c "[[ -z \$(ls '$spool/parked' 2>/dev/null) ]]"
stop_pid "$a4_PID"

echo "# a plain remote-write receiver (no enrollment endpoint)"
pport=$(free_port)
cat >"$IT_DIR/plain.py" <<'EOF'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get('Content-Length', 0)))
        if self.path == '/api/v1/write':
            with open(sys.argv[2], 'a') as f:
                f.write(self.headers.get('Authorization', '') + '\n')
            self.send_response(204)
            self.end_headers()
        else:
            self.send_response(404)
            self.send_header('Content-Type', 'text/plain')
            self.end_headers()
            self.wfile.write(b'404 page not found\n')
    do_PUT = do_POST
    def log_message(self, *args):
        pass
http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
EOF
python3 "$IT_DIR/plain.py" "$pport" "$IT_DIR/writes.txt" >"$IT_DIR/plain-receiver.log" 2>&1 &
IT_PIDS+=($!)
echo "plain-secret" >"$IT_DIR/plain.token"
wait_until 5 curl -s -o /dev/null "http://127.0.0.1:$pport/"
start_agent plain "http://127.0.0.1:$pport" "$IT_DIR/plain.token" "$IT_DIR/spool2" \
    --state "$IT_DIR/state2" --inventory-interval 2s
check "the agent says it uses the token as is" \
    wait_until 10 logged plain "has no enrollment endpoint \\(HTTP 404\\).*using the given token as is"
check "samples arrive with the given token" wait_until 10 grep -q "^Bearer plain-secret$" "$IT_DIR/writes.txt"
sleep 3
check "the agent keeps running" kill -0 "$plain_PID"
check "no state is written" test ! -e "$IT_DIR/state2/agent.token"
check "every delivery used the given token" bash -c "! grep -v '^Bearer plain-secret$' '$IT_DIR/writes.txt'"
check "the spool does not grow" bash -c "(( \$(find '$IT_DIR/spool2' -maxdepth 1 -name '*.rw' | wc -l) <= 1 ))"

it_done
