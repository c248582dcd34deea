#!/usr/bin/env bash
# Sensors and events end to end with real senders: logger(1) over UDP and TCP (octet counting
# too), Debian's rsyslog forwarding to a syslog sensor, Alertmanager's webhook firing and
# resolving an alert, Nagios/Icinga-shaped notifications with curl (form and JSON), a CI event,
# usage lines (good and bad mixed, JSON, duplicates, UDP); the events API (filters, full-text
# search, paging, live stream, unknown senders and adoption), the event counters as metrics,
# bad input (no secret, wrong secret, wrong shapes), and kill -9 of the server while events
# stream in: every acknowledged event is there after the restart.
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
events() { # events QUERYSTRING: GET /api/v1/events?QUERYSTRING
    curl -sf -H "Authorization: Bearer $admin" "$url/api/v1/events?$1"
}
q() { curl -sf --get "$url/api/v1/query" -H "Authorization: Bearer $admin" --data-urlencode "query=$1"; }
# found QUERYSTRING PYEXPR: the events answer satisfies PYEXPR over ev (the list)
found() { events "$1" | python3 -c "import json,sys; ev=json.load(sys.stdin)['data']['events']; sys.exit(0 if ($2) else 1)"; }
export -f events found pyjson
export url admin

echo "# a device the syslog senders match (by its endpoint address 127.0.0.1)"
dev=$(api POST /api/v1/device '{"name":"loghost","kind":"server"}' | field "d['data']['id']")
api POST /api/v1/endpoint "{\"device\":$dev,\"address\":\"127.0.0.1\",\"protocol\":\"udp\"}" >/dev/null

echo "# syslog sensors: UDP and TCP"
udp_port=$(free_port)
tcp_port=$(free_port)
s_udp=$(api POST /api/v1/sensor "{\"name\":\"syslog-udp\",\"type\":\"syslog\",\"settings\":{\"listen\":\"127.0.0.1:$udp_port\",\"transport\":\"udp\"}}" | field "d['data']['id']")
s_tcp=$(api POST /api/v1/sensor "{\"name\":\"syslog-tcp\",\"type\":\"syslog\",\"settings\":{\"listen\":\"127.0.0.1:$tcp_port\",\"transport\":\"tcp\"}}" | field "d['data']['id']")
listening() { api GET "/api/v1/sensor/$1/status" | pyjson "d['data']['state'] == 'listening'"; }
check "both syslog sensors listen within 3 s" wait_until 3 bash -c "$(declare -f api listening); listening $s_udp && listening $s_tcp"

run=$RANDOM$RANDOM
logger -n 127.0.0.1 -P "$udp_port" -d -t itest -p local3.warning "udp$run hello from logger"
logger -n 127.0.0.1 -P "$tcp_port" -T -t itest -p user.err "tcp$run hello over tcp"
logger -n 127.0.0.1 -P "$tcp_port" -T --octet-count -t itest --rfc3164 "oct$run counted and 3164"
check "logger over UDP arrives: severity, facility, app, device matched" wait_until 5 found "q=udp$run" \
    "len(ev) == 1 and ev[0]['severity'] == 'warning' and ev[0]['facility'] == 19 and ev[0]['app'] == 'itest' and ev[0]['device']['name'] == 'loghost' and ev[0]['sensor']['id'] == $s_udp and ev[0]['kind'] == 'syslog'"
check "logger over TCP arrives (newline framing)" wait_until 5 found "q=tcp$run" "len(ev) == 1 and ev[0]['severity'] == 'error'"
check "logger over TCP with octet counting, RFC 3164, arrives" wait_until 5 found "q=oct$run" "len(ev) == 1 and ev[0]['app'] == 'itest'"

echo "# rsyslog forwards to the TCP sensor"
mkdir -p "$IT_DIR/rsyslog"
cat >"$IT_DIR/rsyslog.conf" <<EOF
global(workDirectory="$IT_DIR/rsyslog")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$IT_DIR/rsyslog/log.sock" CreatePath="on")
*.* action(type="omfwd" target="127.0.0.1" port="$tcp_port" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
EOF
rsyslogd -n -f "$IT_DIR/rsyslog.conf" -i "$IT_DIR/rsyslog/pid" >"$IT_DIR/rsyslogd.log" 2>&1 &
IT_PIDS+=($!)
check "rsyslog's socket appears" wait_until 5 test -S "$IT_DIR/rsyslog/log.sock"
for i in 1 2 3; do logger -u "$IT_DIR/rsyslog/log.sock" -t rsys -p daemon.notice "rsyslog$run message $i"; done
check "the three messages rsyslog forwarded arrive" wait_until 10 found "q=rsyslog$run" \
    "len(ev) == 3 and all(e['app'] == 'rsys' and e['severity'] == 'notice' for e in ev)"

echo "# SNMP traps (net-snmp's snmptrap and snmpinform)"
trap_port=$(free_port)
s_trap=$(api POST /api/v1/sensor "{\"name\":\"traps\",\"type\":\"snmp-trap\",\"settings\":{\"listen\":\"127.0.0.1:$trap_port\",\"community\":\"it-$run\"}}" | field "d['data']['id']")
check "the trap sensor listens" wait_until 3 bash -c "$(declare -f api listening); listening $s_trap"
export MIBS= MIBDIRS=/dev/null
snmptrap -v 2c -c "it-$run" "127.0.0.1:$trap_port" '' 1.3.6.1.6.3.1.1.5.3 1.3.6.1.2.1.2.2.1.1.2 i 2 1.3.6.1.2.1.2.2.1.2.2 s "eth$run" 2>/dev/null
check "a v2c linkDown trap arrives, named, on the sender's device" wait_until 5 found "kind=trap&q=eth$run" \
    "len(ev) == 1 and ev[0]['app'] == 'linkDown' and ev[0]['severity'] == 'warning' and ev[0]['device']['name'] == 'loghost' and ev[0]['sensor']['id'] == $s_trap"
snmptrap -v 1 -c "it-$run" "127.0.0.1:$trap_port" 1.3.6.1.4.1.8072.3.2.10 127.0.0.1 4 0 '' 1.3.6.1.2.1.1.5.0 s "v1host$run" 2>/dev/null
check "a v1 authenticationFailure trap arrives" wait_until 5 found "kind=trap&q=v1host$run" "len(ev) == 1 and ev[0]['app'] == 'authenticationFailure'"
check "an inform is answered (snmpinform exits 0) and stored" bash -c "snmpinform -t 2 -r 1 -v 2c -c 'it-$run' 127.0.0.1:$trap_port '' 1.3.6.1.6.3.1.1.5.1 1.3.6.1.2.1.1.5.0 s inform$run 2>/dev/null && sleep 1 && $(declare -f events found); found 'kind=trap&q=inform$run' \"len(ev) == 1 and ev[0]['app'] == 'coldStart'\""
snmptrap -v 2c -c wrong "127.0.0.1:$trap_port" '' 1.3.6.1.6.3.1.1.5.3 1.3.6.1.2.1.1.5.0 s "wrongcomm$run" 2>/dev/null
sleep 1
check "a trap with the wrong community is refused and counted" bash -c "$(declare -f events found api); ! found 'q=wrongcomm$run' 'len(ev) > 0' && api GET /api/v1/sensor/$s_trap/status | pyjson \"d['data']['rejected'] >= 1\""

echo "# webhooks"
secret=s3cr3t-$run
s_hook=$(api POST /api/v1/sensor "{\"name\":\"hooks\",\"type\":\"webhook\",\"settings\":{\"path\":\"ops\",\"secret\":\"$secret\"}}" | field "d['data']['id']")
hook="$url/api/v1/sensor/$s_hook/webhook"
code() { curl -s -o "$IT_DIR/body" -w '%{http_code}' "$@"; }
check "no secret: 401" test "$(code -X POST -H 'Content-Type: application/json' --data '{"title":"x"}' "$hook")" = 401
check "wrong secret: 401" test "$(code -X POST -H 'Authorization: Bearer nope' -H 'Content-Type: application/json' --data '{"title":"x"}' "$hook")" = 401
check "not JSON: 400" test "$(code -X POST -H "Authorization: Bearer $secret" -H 'Content-Type: application/json' --data '{"title":' "$hook")" = 400
check "valid JSON of the wrong shape: 422 naming the field" bash -c "[[ \$(curl -s -o $IT_DIR/body -w '%{http_code}' -X POST -H 'Authorization: Bearer $secret' -H 'Content-Type: application/json' --data '{\"title\":\"x\",\"severity\":\"purple\"}' '$hook') == 422 ]] && grep -q severity $IT_DIR/body"
check "a sensor id that is no webhook sensor: 404" test "$(code -X POST -H "Authorization: Bearer $secret" --data '{}' "$url/api/v1/sensor/$s_udp/webhook")" = 404
check "a CI event (generic JSON) is accepted" test "$(code -X POST -H "Authorization: Bearer $secret" -H 'Content-Type: application/json' \
    --data "{\"title\":\"deploy$run of shop 1.4\",\"text\":\"pipeline 77 passed\",\"severity\":\"notice\",\"device\":\"loghost\",\"tags\":[\"ci\",\"shop\"],\"fields\":{\"commit\":\"abc123\"}}" "$hook")" = 200
check "the CI event is stored with its device and fields" wait_until 3 found "q=deploy$run" \
    "len(ev) == 1 and ev[0]['kind'] == 'generic' and ev[0]['device']['name'] == 'loghost' and ev[0]['fields']['commit'] == 'abc123'"
check "a Nagios notification as form fields (curl --data-urlencode) via /api/v1/hooks/ops" test "$(code -X POST -H "Authorization: Bearer $secret" \
    --data-urlencode NOTIFICATIONTYPE=PROBLEM --data-urlencode HOSTNAME=db7 --data-urlencode SERVICEDESC=disk$run \
    --data-urlencode SERVICESTATE=CRITICAL --data-urlencode "SERVICEOUTPUT=DISK CRITICAL - free space: / 3%" "$url/api/v1/hooks/ops")" = 200
check "its recovery, also as Nagios form fields" test "$(code -X POST -H "Authorization: Bearer $secret" \
    --data-urlencode NOTIFICATIONTYPE=RECOVERY --data-urlencode HOSTNAME=db7 --data-urlencode SERVICEDESC=disk$run \
    --data-urlencode SERVICESTATE=OK --data-urlencode "SERVICEOUTPUT=DISK OK" "$url/api/v1/hooks/ops")" = 200
check "problem and recovery share one fingerprint, firing then resolved" wait_until 3 found "q=disk$run" \
    "len(ev) == 2 and ev[0]['fingerprint'] == ev[1]['fingerprint'] != '' and sorted(e['status'] for e in ev) == ['firing', 'resolved'] and ev[0]['host'] == 'db7' and ev[0]['kind'] == 'notification'"
check "an Icinga 2 notification as JSON" test "$(code -X POST -H "Authorization: Bearer $secret" -H 'Content-Type: application/json' \
    --data "{\"type\":\"Notification\",\"host\":\"db7\",\"service\":\"load$run\",\"notification_type\":\"Problem\",\"check_result\":{\"exit_status\":2,\"state\":2,\"output\":\"LOAD CRITICAL\"},\"timestamp\":$(date +%s)}" "$hook")" = 200
check "the Icinga 2 event is a firing critical notification" wait_until 3 found "q=load$run" \
    "len(ev) == 1 and ev[0]['status'] == 'firing' and ev[0]['severity'] == 'critical' and ev[0]['fingerprint'].startswith('icinga:')"
unknown_db7() { curl -sf -H "Authorization: Bearer $admin" "$url/api/v1/events/unknown" | pyjson "any(u['host'] == 'db7' and u['count'] >= 3 for u in d['data'])"; }
check "db7 is an unknown sender, listed" unknown_db7

echo "# Alertmanager's webhook: firing, then resolved"
am_port=$(free_port)
am_cluster=$(free_port)
cat >"$IT_DIR/am.yml" <<EOF
route:
  receiver: dashdot
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: dashdot
    webhook_configs:
      - url: $hook
        send_resolved: true
        http_config:
          authorization:
            credentials: $secret
EOF
prometheus-alertmanager --config.file="$IT_DIR/am.yml" --storage.path="$IT_DIR/am" \
    --web.listen-address="127.0.0.1:$am_port" --cluster.listen-address="" >"$IT_DIR/alertmanager.log" 2>&1 &
IT_PIDS+=($!)
check "alertmanager is ready" wait_until 15 curl -sf "http://127.0.0.1:$am_port/-/ready"
now_iso() { date -u +%Y-%m-%dT%H:%M:%S.000Z; }
alert="[{\"labels\":{\"alertname\":\"DiskFull$run\",\"instance\":\"loghost:9100\",\"severity\":\"critical\"},\"annotations\":{\"summary\":\"disk almost full on loghost\"},\"startsAt\":\"$(now_iso)\"}]"
curl -sf -X POST -H 'Content-Type: application/json' --data "$alert" "http://127.0.0.1:$am_port/api/v2/alerts" >/dev/null
check "the firing alert arrives as an alert event on loghost" wait_until 15 found "kind=alert&q=DiskFull$run" \
    "any(e['status'] == 'firing' and e['severity'] == 'critical' and e['device'] and e['device']['name'] == 'loghost' and e['fingerprint'] for e in ev)"
sleep 1
resolved="[{\"labels\":{\"alertname\":\"DiskFull$run\",\"instance\":\"loghost:9100\",\"severity\":\"critical\"},\"annotations\":{\"summary\":\"disk almost full on loghost\"},\"endsAt\":\"$(now_iso)\"}]"
curl -sf -X POST -H 'Content-Type: application/json' --data "$resolved" "http://127.0.0.1:$am_port/api/v2/alerts" >/dev/null
check "the resolved alert arrives with the same fingerprint" wait_until 20 found "kind=alert&q=DiskFull$run" \
    "any(e['status'] == 'resolved' for e in ev) and len({e['fingerprint'] for e in ev}) == 1"

echo "# the events API: filters, paging, search syntax, live stream"
check "severity=error keeps error and worse only" found "severity=error&limit=1000" \
    "len(ev) >= 2 and all(e['severity_code'] <= 3 for e in ev)"
check "sensor= filters by sensor" found "sensor=$s_tcp&limit=1000" "len(ev) >= 5 and all(e['sensor']['id'] == $s_tcp for e in ev)"
check "device=unknown lists only unknown senders" found "device=unknown&limit=1000" "len(ev) >= 2 and all(e['device'] is None for e in ev)"
pages_ok() {
    local all cur="" ids=""
    all=$(events "limit=1000" | field "len(d['data']['events'])")
    while :; do
        local page
        page=$(events "limit=3${cur:+&cursor=$cur}")
        ids="$ids $(echo "$page" | field "' '.join(e['id'] for e in d['data']['events'])")"
        cur=$(echo "$page" | field "d['data']['next'] or ''")
        [[ -n $cur ]] || break
    done
    local n uniq
    n=$(echo $ids | wc -w)
    uniq=$(echo $ids | tr ' ' '\n' | sort -u | wc -l)
    [[ $n == "$all" && $uniq == "$all" ]]
}
check "paging by 3 gives every event once" pages_ok
check "bad search syntax: 400 with a reason" bash -c "[[ \$(curl -s -o $IT_DIR/body -w '%{http_code}' -H 'Authorization: Bearer $admin' '$url/api/v1/events?q=%22unbalanced') == 400 ]]"
check "bad severity: 400" bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $admin' '$url/api/v1/events?severity=purple') == 400 ]]"
check "no token: 401" bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' '$url/api/v1/events') == 401 ]]"
curl -sN -H "Authorization: Bearer $admin" "$url/api/v1/events/live?severity=warning" >"$IT_DIR/live" &
live_pid=$!
IT_PIDS+=($live_pid)
sleep 0.5
logger -n 127.0.0.1 -P "$udp_port" -d -t live -p user.info "liveinfo$run not wanted"
logger -n 127.0.0.1 -P "$udp_port" -d -t live -p user.crit "livecrit$run wanted"
check "the live stream shows the critical event" wait_until 5 grep -q "livecrit$run" "$IT_DIR/live"
check "... and not the info one its filter excludes" bash -c "! grep -q 'liveinfo$run' $IT_DIR/live"
kill $live_pid 2>/dev/null

echo "# unknown senders are adopted"
python3 -c "
import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.3', 0))
s.sendto(b'<14>1 2026-01-01T00:00:00Z nas2 smartd - - - adopt$run disk ok', ('127.0.0.1', $udp_port))"
check "the sender from 127.0.0.3 is unknown" wait_until 5 found "q=adopt$run" "len(ev) == 1 and ev[0]['device'] is None and ev[0]['source'] == '127.0.0.3'"
nas=$(api POST /api/v1/device '{"name":"nas2","kind":"storage"}' | field "d['data']['id']")
check "adopting moves its events" bash -c "$(declare -f api); api POST /api/v1/events/adopt '{\"device\":$nas,\"source\":\"127.0.0.3\",\"host\":\"nas2\"}' | pyjson 'd[\"data\"][\"moved\"] >= 1'"
check "the adopted event now belongs to nas2" found "q=adopt$run" "ev[0]['device'] and ev[0]['device']['name'] == 'nas2'"
check "new events of nas2 match it by host name" bash -c "python3 -c \"
import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.3', 0))
s.sendto(b'<14>1 2026-01-02T00:00:00Z nas2 smartd - - - adoptb$run disk ok', ('127.0.0.1', $udp_port))\"; sleep 1; $(declare -f events found); found 'q=adoptb$run' \"len(ev) == 1 and ev[0]['device']['name'] == 'nas2'\""

echo "# usage events"
utok=u-$run
s_use=$(api POST /api/v1/sensor "{\"name\":\"usage\",\"type\":\"usage-events\",\"settings\":{\"secret\":\"$utok\",\"listen_udp\":\"127.0.0.1:$(free_port)\"}}" | field "d['data']['id']")
usage() { curl -s -o "$IT_DIR/ubody" -w '%{http_code}' -X POST -H "Authorization: Bearer $utok" "$@" "$url/api/v1/usage"; }
check "good and bad lines mixed: 200, the good ones kept, the bad ones named by line" bash -c "[[ \$($(declare -f usage); IT_DIR=$IT_DIR utok=$utok url=$url usage --data-binary \$'acme:api_call:3[t=120,s=ok,l=dbcall,ct=create]\nacme:api_call:oops\nglobex:storage:10\n:missing:1\nacme:api_call:2') == 200 ]] && pyjson \"d['data']['accepted'] == 3 and d['data']['rejected'] == 2 and [e['line'] for e in d['data']['errors']] == [2, 4]\" <$IT_DIR/ubody"
check "JSON with an event_id, sent twice: stored once" bash -c "$(declare -f usage); IT_DIR=$IT_DIR utok=$utok url=$url
    b='[{\"identity_id\":\"acme\",\"data_type\":\"export\",\"count\":1,\"event_id\":\"e-$run\",\"qualifiers\":{\"time_took\":5,\"state\":\"done\"}}]'
    [[ \$(usage -H 'Content-Type: application/json' --data \"\$b\") == 200 ]] && [[ \$(usage -H 'Content-Type: application/json' --data \"\$b\") == 200 ]] && pyjson \"d['data']['duplicates'] == 1 and d['data']['accepted'] == 0\" <$IT_DIR/ubody"
check "usage without the secret: 401" test "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data 'a:b:1' "$url/api/v1/usage")" = 401
check "usage counters reach the metric store (flushed within 10 s)" wait_until 15 bash -c "$(declare -f q); q 'dashdot_usage_count_total{customer=\"acme\",type=\"api_call\"}' | pyjson \"d['data']['result'] and d['data']['result'][0]['value'][1] == '5'\""
check "event counters reach the metric store" bash -c "$(declare -f q); q 'sum(dashdot_events_total{device=\"loghost\",sensor=\"syslog-tcp\"})' | pyjson \"float(d['data']['result'][0]['value'][1]) >= 5\""
check "the sensor status counts what arrived" bash -c "$(declare -f api); api GET /api/v1/sensor/$s_hook/status | pyjson \"d['data']['state'] == 'intake' and d['data']['received'] >= 4 and d['data']['rejected'] >= 2 and d['data']['intake'] == '/api/v1/sensor/$s_hook/webhook'\""

echo "# kill -9 while events stream in: nothing acknowledged is lost"
: >"$IT_DIR/acked"
(
    for i in $(seq 1 100000); do
        c=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $secret" -H 'Content-Type: application/json' \
            --data "{\"title\":\"crash$run n$i\"}" "$hook") || break
        [[ $c == 200 ]] && echo "crash$run n$i" >>"$IT_DIR/acked"
    done
) &
sender=$!
sleep 3
kill -9 "$srv_PID"
wait "$srv_PID" 2>/dev/null
sleep 0.5
kill "$sender" 2>/dev/null
wait "$sender" 2>/dev/null
acked=$(wc -l <"$IT_DIR/acked")
start_server srv "$port" "$data" || exit 1
all_there() {
    local have
    have=$(curl -sf -H "Authorization: Bearer $admin" "$url/api/v1/events?limit=1000&q=crash$run" | field "len(d['data']['events'])")
    # The last request may have been stored without its answer: one extra is fine.
    [[ $acked -gt 0 && $have -ge $acked && $have -le $((acked + 1)) ]]
}
check "all $acked acknowledged events are there after the restart" all_there
check "the server stops cleanly" stopped_cleanly srv
it_done
