#!/usr/bin/env bash
# People and access: the role x route permission matrix for sessions and tokens, CSRF on
# session writes, logout, group visibility, token revocation / expiry / user binding,
# last_used_at, login throttling, password changes, `dashdot admin passwd` and the first-run
# admin password.
source "$(dirname "$0")/lib.sh"
it_init

# ------------------------------------------------------------------ the expected matrix
# Principals (columns):
#   none    no credentials                 vses/eses/ases  viewer / editor / admin session
#   vtok/etok/atok  API tokens (ddt_...) with role viewer / editor / admin
#   agtok/entok     API tokens with role agent / enroll
#   fagent/fadmin   the file tokens DATA/agent.token and DATA/admin.token
# Expected: 401 (no or bad credentials), 403 (role too weak), ok (2xx, or 400/422 where the body
# is deliberately incomplete), in (any status but 401/403: the route was let through).
# From the model table (src/catalog/model.c): device read viewer / write editor; user and token
# read admin / write admin; collector and group write admin. Catalog routes need a person or an
# API token with role viewer+, so agent and enroll tokens get 403 there; /agent/enroll takes
# enroll, agent or admin; /write takes agent, editor or admin; /audit is admin only.
PRINCIPALS=(none vses eses ases vtok etok atok agtok entok fagent fadmin)
declare -A DESC=([none]="no credentials" [vses]="viewer session" [eses]="editor session"
    [ases]="admin session" [vtok]="viewer token" [etok]="editor token" [atok]="admin token"
    [agtok]="agent token" [entok]="enroll token" [fagent]="file agent.token"
    [fadmin]="file admin.token")
MATRIX='
GET    /api/v1/device        -    401 ok  ok  ok  ok  ok  ok  403 403 403 ok
GET    /api/v1/user          -    401 403 403 ok  403 403 ok  403 403 403 ok
GET    /api/v1/token         -    401 403 403 ok  403 403 ok  403 403 403 ok
POST   /api/v1/device        {}   401 403 ok  ok  403 ok  ok  403 403 403 ok
PATCH  /api/v1/device/@DEV   note 401 403 ok  ok  403 ok  ok  403 403 403 ok
DELETE /api/v1/device/@NEW   -    401 403 ok  ok  403 ok  ok  403 403 403 ok
POST   /api/v1/user          {}   401 403 403 ok  403 403 ok  403 403 403 ok
POST   /api/v1/collector     {}   401 403 403 ok  403 403 ok  403 403 403 ok
POST   /api/v1/group         {}   401 403 403 ok  403 403 ok  403 403 403 ok
GET    /api/v1/audit         -    401 403 403 ok  403 403 ok  403 403 403 ok
GET    /api/v1/schema        -    401 ok  ok  ok  ok  ok  ok  403 403 403 ok
POST   /api/v1/agent/enroll  {}   401 403 403 ok  403 403 ok  ok  ok  ok  ok
POST   /api/v1/write         ""   401 403 in  in  403 in  in  in  403 in  in
GET    /api/v1/auth/me       -    401 ok  ok  ok  ok  ok  ok  403 403 403 ok
'

port=$(free_port)
url=http://127.0.0.1:$port
data=$IT_DIR/data
start_server srv "$port" "$data" || exit 1

declare -A TOK JAR CSRF
TOK[fadmin]=$(cat "$data/admin.token")
TOK[fagent]=$(cat "$data/agent.token")

# as PRINCIPAL: sets AUTH to the curl arguments of a principal (a name in TOK or JAR).
as() {
    AUTH=()
    if [[ -n ${JAR[$1]:-} ]]; then
        AUTH=(-b "${JAR[$1]}" -H "X-CSRF-Token: ${CSRF[$1]}")
    elif [[ -n ${TOK[$1]:-} ]]; then
        AUTH=(-H "Authorization: Bearer ${TOK[$1]}")
    fi
}
# call PRINCIPAL METHOD PATH [BODY [curl args...]]: prints the status; the body is in $IT_DIR/body.
call() {
    local who=$1 method=$2 path=$3
    as "$who"
    local extra=()
    if (($# >= 4)); then extra=(-H 'Content-Type: application/json' --data-binary "$4"); fi
    curl -s -o "$IT_DIR/body" -w '%{http_code}' -X "$method" "${AUTH[@]}" "${extra[@]}" "${@:5}" \
        "$url$path"
}
# expect STATUS CMD...: the command prints STATUS.
expect() {
    local want=$1 got
    shift
    got=$("$@")
    [[ $got == "$want" ]] || { echo "    want $want, got $got: $(head -c 300 "$IT_DIR/body")"; return 1; }
}
# jbody EXPR: prints a Python expression over the last body (as d).
jbody() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$IT_DIR/body" 2>/dev/null; }
body_has() { grep -q -- "$1" "$IT_DIR/body" || { echo "    body lacks $1: $(head -c 300 "$IT_DIR/body")"; return 1; }; }
# body_is EXPR: the last body satisfies a Python expression over d.
body_is() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($1) else 1)" "$IT_DIR/body" 2>/dev/null || { echo "    not ($1): $(head -c 300 "$IT_DIR/body")"; return 1; }; }
# admin METHOD PATH [BODY]: a call with the file admin token; fails unless 2xx. Prints data.id.
admin() {
    local st
    st=$(call fadmin "$@")
    [[ $st == 2* ]] || { echo "setup failed: $1 $2 ${3:-}: $st $(head -c 300 "$IT_DIR/body")" >&2; return 1; }
    jbody 'd["data"].get("id", "")'
}
# creds USER PASSWORD: the login body (our names and passwords need no JSON escaping).
creds() { printf '{"username":"%s","password":"%s"}' "$1" "$2"; }
# login NAME USER PASSWORD: logs in with a cookie jar of its own; sets JAR[NAME], CSRF[NAME]
# and LOGIN_STATUS. Returns 0 on 200.
login() {
    local name=$1 jar=$IT_DIR/jar.$1
    rm -f "$jar"
    LOGIN_STATUS=$(curl -s -o "$IT_DIR/body" -D "$IT_DIR/headers" -w '%{http_code}' -c "$jar" \
        -H 'Content-Type: application/json' --data-binary "$(creds "$2" "$3")" "$url/api/v1/auth/login")
    [[ $LOGIN_STATUS == 200 ]] || { echo "    login $2: $LOGIN_STATUS $(head -c 200 "$IT_DIR/body")"; return 1; }
    JAR[$name]=$jar
    CSRF[$name]=$(jbody 'd["data"]["csrf"]')
    [[ -n ${CSRF[$name]} ]]
}
# login_status USER PASSWORD: prints the status of a login (no session kept).
login_status() {
    curl -s -o "$IT_DIR/body" -D "$IT_DIR/headers" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary "$(creds "$1" "$2")" "$url/api/v1/auth/login"
}
me_role() { [[ $(call "$1" GET /api/v1/auth/me) == 200 ]] && jbody 'd["data"]["role"]'; }
iso() { python3 -c 'import sys,datetime; print((datetime.datetime.now(datetime.timezone.utc)+datetime.timedelta(seconds=float(sys.argv[1]))).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]+"Z")' "$1"; }

# ------------------------------------------------------------------ first run
check "first run: the log shows the admin password" \
    wait_until 10 grep -q '^  admin password: ' "$IT_DIR/srv.log"
first_pw=$(sed -n 's/^  admin password: //p' "$IT_DIR/srv.log" | head -1)
check "first run: that password logs in as admin" login first admin "$first_pw"
check "first run: the session's role is admin" body_is "d['data']['user']['role'] == 'admin' and d['data']['user']['name'] == 'admin'"
check "login answer: Set-Cookie dd_session, HttpOnly, SameSite=Strict" \
    grep -qi '^Set-Cookie: dd_session=[A-Za-z0-9_-]\{20,\}; HttpOnly; SameSite=Strict; Path=/; Max-Age=604800' "$IT_DIR/headers"
check "first run: the session says via session" expect 200 call first GET /api/v1/auth/me
check "me: name admin, via session, with the csrf token" \
    body_is "d['data']['name'] == 'admin' and d['data']['via'] == 'session' and d['data']['csrf'] == '${CSRF[first]}'"

# ------------------------------------------------------------------ people and tokens
pw() { echo "pw-$1-correct-horse"; }
setup_failed() { echo "  not ok - setup: $1 (server answered: $(cat "$IT_DIR/body" 2>/dev/null | head -c 300))"; exit 1; }
g1=$(admin POST /api/v1/group '{"name":"g1"}') || setup_failed "creating group g1"
g2=$(admin POST /api/v1/group '{"name":"g2"}') || setup_failed "creating group g2"
mkuser() { # mkuser NAME ROLE GROUPS-JSON: prints the id
    admin POST /api/v1/user "{\"name\":\"$1\",\"role\":\"$2\",\"password\":\"$(pw "$1")\",\"groups\":$3}"
}
uv=$(mkuser viewer1 viewer '[]') && ue=$(mkuser editor1 editor '[]') &&
    ua=$(mkuser admin1 admin "[$g1]") && uvg=$(mkuser viewer_g1 viewer "[$g1]") &&
    ueg=$(mkuser editor_g1 editor "[$g1]") || setup_failed "creating the users"
check "viewer logs in" login vses viewer1 "$(pw viewer1)"
check "editor logs in" login eses editor1 "$(pw editor1)"
check "admin logs in" login ases admin1 "$(pw admin1)"
check "login: wrong password: 401" expect 401 login_status viewer1 wrong-password-1
check "login: unknown user: 401" expect 401 login_status nobody-here wrong-password-1
check "login: no password: 400" expect 400 call none POST /api/v1/auth/login '{"username":"viewer1"}'
mktoken() { # mktoken PRINCIPAL BODY: creates a token, keeps its secret in TOK[PRINCIPAL]
    admin POST /api/v1/token "$2" >/dev/null || return 1
    TOK[$1]=$(jbody 'd["data"]["secret"]')
    [[ ${TOK[$1]} == ddt_* ]]
}
mk_all_tokens() {
    mktoken vtok "{\"name\":\"t-viewer\",\"role\":\"viewer\",\"user\":$uv}" &&
        mktoken etok "{\"name\":\"t-editor\",\"role\":\"editor\",\"user\":$ue}" &&
        mktoken atok "{\"name\":\"t-admin\",\"role\":\"admin\"}" &&
        mktoken agtok '{"name":"t-agent","role":"agent"}' &&
        mktoken entok '{"name":"t-enroll","role":"enroll"}'
}
check "tokens for the viewer, editor, admin, agent and enroll roles" mk_all_tokens
vtok_id=$(call fadmin GET '/api/v1/token?name=t-viewer' >/dev/null; jbody 'd["data"][0]["id"]')
check "a token is unused until used: last_used_at null" \
    bash -c "[[ \$(curl -s -H 'Authorization: Bearer ${TOK[fadmin]}' '$url/api/v1/token/$vtok_id' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"data\"][\"last_used_at\"])') == None ]]"
check "me with a token: role viewer, via token" bash -c "[[ \$(curl -s -H 'Authorization: Bearer ${TOK[vtok]}' '$url/api/v1/auth/me' | python3 -c 'import json,sys; d=json.load(sys.stdin)[\"data\"]; print(d[\"role\"], d[\"via\"], d[\"name\"])') == 'viewer token viewer1' ]]"
check "a token as the basic-auth password works" expect 200 curl -s -o "$IT_DIR/body" -w '%{http_code}' -u "anyone:${TOK[etok]}" "$url/api/v1/auth/me"

# ------------------------------------------------------------------ the permission matrix
dev=$(admin POST /api/v1/device '{"name":"matrix-dev"}') || exit 1
# The table agrees with the roles the schema declares for the models it names.
matrix_vs_schema() {
    call fadmin GET /api/v1/schema >/dev/null
    python3 - "$IT_DIR/body" "$MATRIX" <<'PY'
import json, sys
models = {m["name"]: m for m in json.load(open(sys.argv[1]))["data"]["models"]}
rank = {"viewer": 1, "editor": 2, "admin": 3}
cols = {"vses": 1, "eses": 2, "ases": 3, "vtok": 1, "etok": 2, "atok": 3}
bad = []
for line in sys.argv[2].strip().splitlines():
    method, path, _body, *cells = line.split()
    parts = path.split("/")
    model = models.get(parts[3])
    if not model:
        continue
    need = rank[model["read" if method == "GET" else "write"]]
    for (col, have), cell in zip(cols.items(), [cells[1], cells[2], cells[3], cells[4], cells[5], cells[6]]):
        want = "ok" if have >= need else "403"
        if cell != want:
            bad.append("%s %s %s: table says %s, schema roles say %s" % (method, path, col, cell, want))
for b in bad:
    print("    " + b)
sys.exit(1 if bad else 0)
PY
}
check "the matrix agrees with the read/write roles of /api/v1/schema" matrix_vs_schema
# cell WANT PRINCIPAL METHOD PATH BODY
cell() {
    local want=$1 who=$2 method=$3 path=$4 body=$5 got
    if [[ $body == - ]]; then got=$(call "$who" "$method" "$path"); else got=$(call "$who" "$method" "$path" "$body"); fi
    case $want in
    401) [[ $got == 401 ]] && grep -q '"errorType":"unauthorized"' "$IT_DIR/body" ;;
    403) [[ $got == 403 ]] && grep -q '"errorType":"forbidden"' "$IT_DIR/body" ;;
    ok) [[ $got == 2?? || $got == 400 || $got == 422 ]] ;;
    in) [[ $got != 401 && $got != 403 ]] ;;
    esac || { echo "    want $want, got $got: $(head -c 200 "$IT_DIR/body")"; return 1; }
}
while read -r method path body cells; do
    [[ -n $method ]] || continue
    read -ra want <<<"$cells"
    for i in "${!PRINCIPALS[@]}"; do
        who=${PRINCIPALS[$i]} p=${path//@DEV/$dev}
        b=$body
        [[ $b == note ]] && b="{\"notes\":\"by $who\"}"
        [[ $b == '""' ]] && b=''
        if [[ $p == *@NEW* ]]; then
            new=$(admin POST /api/v1/device "{\"name\":\"del-$who-$RANDOM\"}") || continue
            p=${p//@NEW/$new}
        fi
        check "matrix: $method $path as ${DESC[$who]}: ${want[$i]}" cell "${want[$i]}" "$who" "$method" "$p" "$b"
    done
done <<<"$MATRIX"

# ------------------------------------------------------------------ CSRF
check "session read without X-CSRF-Token: 200" expect 200 curl -s -o "$IT_DIR/body" -w '%{http_code}' -b "${JAR[eses]}" "$url/api/v1/device"
check "session write without X-CSRF-Token: 403" expect 403 curl -s -o "$IT_DIR/body" -w '%{http_code}' -b "${JAR[eses]}" -H 'Content-Type: application/json' --data-binary '{"name":"csrf-none"}' "$url/api/v1/device"
check "the 403 names the CSRF header" body_has X-CSRF-Token
check "session write with a wrong X-CSRF-Token: 403" expect 403 curl -s -o "$IT_DIR/body" -w '%{http_code}' -b "${JAR[eses]}" -H 'X-CSRF-Token: wrong' -H 'Content-Type: application/json' --data-binary '{"name":"csrf-wrong"}' "$url/api/v1/device"
check "session write with another session's X-CSRF-Token: 403" expect 403 curl -s -o "$IT_DIR/body" -w '%{http_code}' -b "${JAR[eses]}" -H "X-CSRF-Token: ${CSRF[ases]}" -H 'Content-Type: application/json' --data-binary '{"name":"csrf-other"}' "$url/api/v1/device"
check "session write with the right X-CSRF-Token: 201" expect 201 call eses POST /api/v1/device '{"name":"csrf-right"}'
check "session DELETE without X-CSRF-Token: 403" expect 403 curl -s -o "$IT_DIR/body" -w '%{http_code}' -b "${JAR[eses]}" -X DELETE "$url/api/v1/device/$(jbody 'd["data"]["id"]')"
check "bearer token write without X-CSRF-Token: 201" expect 201 call etok POST /api/v1/device '{"name":"csrf-token"}'
check "no devices were created by the refused writes" bash -c "curl -s -H 'Authorization: Bearer ${TOK[fadmin]}' '$url/api/v1/device?name=csrf-*' | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if sorted(o[\"name\"] for o in d[\"data\"]) == [\"csrf-right\", \"csrf-token\"] else 1)'"
check "the audit log names the session's user and the token's user" bash -c "curl -s -H 'Authorization: Bearer ${TOK[fadmin]}' '$url/api/v1/audit?model=device&limit=1000' | python3 -c 'import json,sys; d=json.load(sys.stdin)[\"data\"]; a={c[\"changes\"].get(\"name\",[0,0])[1]: c[\"actor\"] for c in d if c[\"action\"]==\"create\"}; sys.exit(0 if a.get(\"csrf-right\")==\"editor1\" and a.get(\"csrf-token\")==\"editor1\" else 1)'"

# ------------------------------------------------------------------ logout
check "a second viewer session logs in" login vout viewer1 "$(pw viewer1)"
check "me with it: 200" expect 200 call vout GET /api/v1/auth/me
check "logout without X-CSRF-Token: 403 (a session write)" expect 403 curl -s -o "$IT_DIR/body" -w '%{http_code}' -b "${JAR[vout]}" -X POST "$url/api/v1/auth/logout"
check "logout: 200" expect 200 call vout POST /api/v1/auth/logout '' -D "$IT_DIR/headers"
check "logout clears the cookie (Max-Age=0)" grep -qi '^Set-Cookie: dd_session=;.*Max-Age=0' "$IT_DIR/headers"
check "me after logout: 401" expect 401 call vout GET /api/v1/auth/me
check "the other session of the same user still works" expect 200 call vses GET /api/v1/auth/me

# ------------------------------------------------------------------ groups
d1=$(admin POST /api/v1/device "{\"name\":\"grp-d1\",\"tags\":[\"grp\"],\"groups\":[$g1]}") &&
    d2=$(admin POST /api/v1/device "{\"name\":\"grp-d2\",\"tags\":[\"grp\"],\"groups\":[$g2]}") &&
    d3=$(admin POST /api/v1/device '{"name":"grp-d3","tags":["grp"]}') &&
    e1=$(admin POST /api/v1/endpoint "{\"device\":$d1,\"address\":\"10.1.0.1\"}") &&
    e2=$(admin POST /api/v1/endpoint "{\"device\":$d2,\"address\":\"10.1.0.2\"}") &&
    e3=$(admin POST /api/v1/endpoint "{\"device\":$d3,\"address\":\"10.1.0.3\"}") &&
    p1=$(admin POST /api/v1/probe "{\"name\":\"grp-p1\",\"endpoint\":$e1,\"type\":\"icmp\"}") &&
    p2=$(admin POST /api/v1/probe "{\"name\":\"grp-p2\",\"endpoint\":$e2,\"type\":\"icmp\"}") &&
    p3=$(admin POST /api/v1/probe "{\"name\":\"grp-p3\",\"endpoint\":$e3,\"type\":\"icmp\"}") &&
    t1=$(admin POST /api/v1/telemetry "{\"name\":\"grp-t1\",\"probe\":$p1}") &&
    t2=$(admin POST /api/v1/telemetry "{\"name\":\"grp-t2\",\"probe\":$p2}") &&
    t3=$(admin POST /api/v1/telemetry "{\"name\":\"grp-t3\",\"probe\":$p3}") || exit 1
check "viewer in g1 logs in" login vg1 viewer_g1 "$(pw viewer_g1)"
check "editor in g1 logs in" login eg1 editor_g1 "$(pw editor_g1)"
# sees PRINCIPAL PATH IDS...: the list at PATH holds exactly these ids (and total says so).
sees() {
    local who=$1 path=$2
    shift 2
    local want
    want=$(printf '%s\n' "$@" | sort -n | paste -sd, -)
    [[ $(call "$who" GET "$path") == 200 ]] || { echo "    GET $path: $(head -c 200 "$IT_DIR/body")"; return 1; }
    body_is "sorted(o['id'] for o in d['data']) == [int(x) for x in '$want'.split(',') if x] and d['total'] == len(d['data'])"
}
check "viewer in g1 lists only d1" sees vg1 "/api/v1/device?tags=grp" "$d1"
check "viewer in g1 lists no ungrouped device (total 1 over all devices)" sees vg1 /api/v1/device "$d1"
check "viewer in g1 gets d1: 200" expect 200 call vg1 GET "/api/v1/device/$d1"
check "viewer in g1 gets d2: 404" expect 404 call vg1 GET "/api/v1/device/$d2"
check "the 404 says d2 does not exist" body_has "device $d2 does not exist"
check "viewer in g1 gets d3 (no groups): 404" expect 404 call vg1 GET "/api/v1/device/$d3"
check "viewer in g1 sees only d1's endpoints" sees vg1 /api/v1/endpoint "$e1"
check "viewer in g1 gets e2: 404" expect 404 call vg1 GET "/api/v1/endpoint/$e2"
check "viewer in g1 sees only d1's probes" sees vg1 /api/v1/probe "$p1"
check "viewer in g1 gets p3: 404" expect 404 call vg1 GET "/api/v1/probe/$p3"
check "viewer in g1 sees only d1's telemetry" sees vg1 /api/v1/telemetry "$t1"
mktoken vg1tok "{\"name\":\"t-viewer-g1\",\"role\":\"viewer\",\"user\":$uvg}" >/dev/null
check "a token of the viewer in g1 sees only d1 too" sees vg1tok "/api/v1/device?tags=grp" "$d1"
check "viewer in no group sees d1, d2, d3" sees vses "/api/v1/device?tags=grp" "$d1" "$d2" "$d3"
check "viewer in no group sees every endpoint" sees vses /api/v1/endpoint "$e1" "$e2" "$e3"
check "admin (in g1) sees d1, d2, d3" sees ases "/api/v1/device?tags=grp" "$d1" "$d2" "$d3"
check "admin (in g1) sees every probe" sees ases /api/v1/probe "$p1" "$p2" "$p3"
check "editor in g1 creates an endpoint on d1: 201" expect 201 call eg1 POST /api/v1/endpoint "{\"device\":$d1,\"address\":\"10.1.1.1\"}"
check "editor in g1 cannot create an endpoint on d2: 422" expect 422 call eg1 POST /api/v1/endpoint "{\"device\":$d2,\"address\":\"10.1.1.2\"}"
check "the 422 says device $d2 does not exist" body_is "d['errors']['device'] == 'device $d2 does not exist'"
check "editor in g1 cannot change d2: 404" expect 404 call eg1 PATCH "/api/v1/device/$d2" '{"notes":"x"}'
check "editor in g1 cannot delete d3: 404" expect 404 call eg1 DELETE "/api/v1/device/$d3"
check "editor in g1 cannot move d1's endpoint to d2: 422" expect 422 call eg1 PATCH "/api/v1/endpoint/$e1" "{\"device\":$d2}"

# ------------------------------------------------------------------ tokens
mktoken rev "{\"name\":\"t-revoke\",\"role\":\"viewer\"}"
rev_id=$(jbody 'd["data"]["id"]')
check "token before revocation: 200" expect 200 call rev GET /api/v1/auth/me
admin PATCH "/api/v1/token/$rev_id" '{"revoked":true}' >/dev/null
check "revoked token: 401" expect 401 call rev GET /api/v1/auth/me
check "the 401 says revoked or expired" body_has 'revoked or expired'
check "revoked token as basic-auth password: 401" expect 401 curl -s -o "$IT_DIR/body" -w '%{http_code}' -u "x:${TOK[rev]}" "$url/api/v1/auth/me"
admin PATCH "/api/v1/token/$rev_id" '{"revoked":false}' >/dev/null
check "the same token un-revoked works again (the update kept its hash)" expect 200 call rev GET /api/v1/auth/me
mktoken old "{\"name\":\"t-expired\",\"role\":\"viewer\",\"expires_at\":\"$(iso -3600)\"}"
check "token that expired an hour ago: 401" expect 401 call old GET /api/v1/auth/me
exp_at=$(iso 2)
exp_epoch=$(python3 -c 'import sys,datetime; print(datetime.datetime.fromisoformat(sys.argv[1].replace("Z","+00:00")).timestamp())' "$exp_at")
mktoken soon "{\"name\":\"t-2s\",\"role\":\"viewer\",\"expires_at\":\"$exp_at\"}"
check "token expiring in 2 s works now" expect 200 call soon GET /api/v1/auth/me
sleep "$(python3 -c 'import sys,time; print(max(0, float(sys.argv[1]) - time.time() + 0.3))' "$exp_epoch")"
check "the same token after its expiry: 401" expect 401 call soon GET /api/v1/auth/me
ud=$(mkuser disabled1 viewer '[]')
mktoken dtok "{\"name\":\"t-disabled\",\"role\":\"viewer\",\"user\":$ud}"
check "disabled user: its token works before" expect 200 call dtok GET /api/v1/auth/me
check "disabled user: its session works before" login dses disabled1 "$(pw disabled1)"
admin PATCH "/api/v1/user/$ud" '{"disabled":true}' >/dev/null
check "token bound to a disabled user: 401" expect 401 call dtok GET /api/v1/auth/me
check "session of a disabled user: 401" expect 401 call dses GET /api/v1/auth/me
check "a disabled user cannot log in: 401" expect 401 login_status disabled1 "$(pw disabled1)"
admin PATCH "/api/v1/user/$ud" '{"disabled":false}' >/dev/null
check "re-enabled: the token works again" expect 200 call dtok GET /api/v1/auth/me
check "re-enabled: the ended session stays ended" expect 401 call dses GET /api/v1/auth/me
mktoken weak "{\"name\":\"t-admin-for-viewer\",\"role\":\"admin\",\"user\":$uv}"
check "admin-role token bound to a viewer: me says viewer" bash -c "[[ \$(curl -s -H 'Authorization: Bearer ${TOK[weak]}' '$url/api/v1/auth/me' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"data\"][\"role\"])') == viewer ]]"
check "admin-role token bound to a viewer: POST device 403" expect 403 call weak POST /api/v1/device '{"name":"weak-dev"}'
check "admin-role token bound to a viewer: GET user 403" expect 403 call weak GET /api/v1/user
check "admin-role token bound to a viewer: reads devices (200)" expect 200 call weak GET /api/v1/device
last_used() { # last_used ID: last_used_at is set and within a minute of now
    call fadmin GET "/api/v1/token/$1" >/dev/null
    body_is "d['data']['last_used_at'] is not None and abs(__import__('datetime').datetime.fromisoformat(d['data']['last_used_at'].replace('Z','+00:00')).timestamp() - __import__('time').time()) < 120"
}
check "last_used_at is set after use" last_used "$vtok_id"
check "wrong bearer token: 401" expect 401 curl -s -o "$IT_DIR/body" -w '%{http_code}' -H 'Authorization: Bearer ddt_not-a-real-token' "$url/api/v1/auth/me"
check "wrong session cookie: 401" expect 401 curl -s -o "$IT_DIR/body" -w '%{http_code}' -b 'dd_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' "$url/api/v1/auth/me"

# ------------------------------------------------------------------ login throttling
mkuser throttled viewer '[]' >/dev/null
# Failures also count per client address (all of ours come from 127.0.0.1): a success resets
# that count, so the five failures below are the only ones that count.
check "a successful login first (resets the address's failure count)" expect 200 login_status viewer1 "$(pw viewer1)"
fails_ok=1
for i in 1 2 3 4 5; do
    [[ $(login_status throttled "wrong-password-$i") == 401 ]] || fails_ok=0
done
check "5 wrong passwords: 401 each" test "$fails_ok" = 1
check "6th attempt, right password: 429" expect 429 login_status throttled "$(pw throttled)"
retry=$(sed -n 's/^Retry-After: *\([0-9]*\).*/\1/Ip' "$IT_DIR/headers" | head -1)
check "429 has a Retry-After header (seconds)" test -n "$retry"
check "429 says to try again later" body_has 'try again in'
sleep "${retry:-1}"
sleep 0.2
check "after Retry-After seconds the right password works" expect 200 login_status throttled "$(pw throttled)"
check "and another wrong password is a plain 401 again (count reset)" expect 401 login_status throttled wrong-password-6
login_status throttled "$(pw throttled)" >/dev/null

# ------------------------------------------------------------------ password change
mkuser pwuser viewer '[]' >/dev/null
check "pwuser: first session" login pwa pwuser "$(pw pwuser)"
check "pwuser: second session" login pwb pwuser "$(pw pwuser)"
check "password change with a wrong old password: 403" expect 403 call pwa POST /api/v1/auth/password "{\"old\":\"not-the-password\",\"new\":\"brand-new-password-1\"}"
check "the 403 says the current password is wrong" body_has 'current password is wrong'
check "password change to a too short one: 422" expect 422 call pwa POST /api/v1/auth/password "{\"old\":\"$(pw pwuser)\",\"new\":\"short\"}"
check "the 422 names the password field" body_is "'at least 10' in d['errors']['password']"
check "password change without X-CSRF-Token: 403" expect 403 curl -s -o "$IT_DIR/body" -w '%{http_code}' -b "${JAR[pwa]}" -H 'Content-Type: application/json' --data-binary "{\"old\":\"$(pw pwuser)\",\"new\":\"brand-new-password-1\"}" "$url/api/v1/auth/password"
check "sessions still work after the refused changes" expect 200 call pwb GET /api/v1/auth/me
check "password change: 200" expect 200 call pwa POST /api/v1/auth/password "{\"old\":\"$(pw pwuser)\",\"new\":\"brand-new-password-1\"}"
check "the user's other session ended: 401" expect 401 call pwb GET /api/v1/auth/me
check "the new password logs in" expect 200 login_status pwuser brand-new-password-1
check "the old password no longer logs in" expect 401 login_status pwuser "$(pw pwuser)"
login_status pwuser brand-new-password-1 >/dev/null # reset the failure counts
check "a token cannot change a password: 400" expect 400 call atok POST /api/v1/auth/password '{"old":"a","new":"bbbbbbbbbbbb"}'

# ------------------------------------------------------------------ dashdot admin passwd
check "admin passwd --stdin while the server runs: exit 0" bash -c "echo 'stdin-password-42' | '$DASHDOT' admin passwd pwuser --data '$data' --stdin >'$IT_DIR/out' 2>&1"
check "the password from stdin logs in" expect 200 login_status pwuser stdin-password-42
check "the previous password no longer does" expect 401 login_status pwuser brand-new-password-1
login_status pwuser stdin-password-42 >/dev/null
check "admin passwd for an unknown user: non-zero exit" bash -c "! echo 'stdin-password-42' | '$DASHDOT' admin passwd no-such-user --data '$data' --stdin >'$IT_DIR/out' 2>&1"
check "the error names the user" grep -q 'no user named "no-such-user"' "$IT_DIR/out"
check "admin passwd with a too short password: non-zero exit" bash -c "! echo 'short' | '$DASHDOT' admin passwd pwuser --data '$data' --stdin >'$IT_DIR/out' 2>&1"
check "the error says at least 10 characters" grep -q 'at least 10' "$IT_DIR/out"
check "admin passwd admin (random): exit 0" bash -c "'$DASHDOT' admin passwd admin --data '$data' >'$IT_DIR/out' 2>&1"
new_pw=$(sed -n 's/^new password for admin: //p' "$IT_DIR/out")
check "it prints \"new password for admin: X\"" test -n "$new_pw"
check "X logs in as admin" login newadmin admin "$new_pw"
check "the session is an admin's" expect admin me_role newadmin
check "the first-run password no longer logs in" expect 401 login_status admin "$first_pw"
check "the first-run session of admin ended" expect 401 call first GET /api/v1/auth/me

check "server process alive" kill -0 "$srv_PID"
check "server stops cleanly on SIGTERM (exit 0, no sanitizer report)" stopped_cleanly srv
it_done
