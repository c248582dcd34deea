#!/usr/bin/env bash
# Containers: real cgroups (v2 when /sys/fs/cgroup is the unified hierarchy, else v1) named like
# Docker's, a process burning a measured amount of CPU in one and a process holding 100 MiB in
# another, and a fake Docker Engine API on a unix socket (python3's http.server over
# socketserver.UnixStreamServer). `dashdot agent --once --collectors containers` must report the
# CPU within 30 % of what was burned, the memory within [90 %, 140 %] of what was allocated, and
# the names, images and allow-listed labels the fake engine gave. Needs root (creating cgroups):
# otherwise it prints why and passes as skipped. Removes its cgroups at the end.
source "$(dirname "$0")/lib.sh"
it_init

skip() {
    echo "  ok - skip: $1"
    exit 0
}

[[ $(id -u) == 0 ]] || skip "not root (creating cgroups needs root)"
command -v python3 >/dev/null || skip "no python3"

CG=/sys/fs/cgroup
NAME=dashdot-test-$$
ID1=$(python3 -c "import hashlib; print(hashlib.sha256(b'burner-$$').hexdigest())")
ID2=$(python3 -c "import hashlib; print(hashlib.sha256(b'hog-$$').hexdigest())")
DIRS=()    # every cgroup directory made, parents first
PROCS1=()  # cgroup.procs files the burner joins
PROCS2=()
CHILD_PIDS=()

if [[ -f $CG/cgroup.controllers ]]; then
    MODE=v2
    mkdir "$CG/$NAME" || skip "cannot create a cgroup under $CG"
    DIRS+=("$CG/$NAME")
    for c in cpu memory io pids; do
        echo "+$c" >"$CG/$NAME/cgroup.subtree_control" 2>/dev/null
    done
    grep -qw memory "$CG/$NAME/cgroup.subtree_control" ||
        { rmdir "$CG/$NAME"; skip "the memory controller cannot be enabled under $CG"; }
    C1="$CG/$NAME/docker-$ID1.scope"
    C2="$CG/$NAME/docker-$ID2.scope"
    mkdir "$C1" "$C2"
    DIRS+=("$C1" "$C2")
    PROCS1=("$C1/cgroup.procs")
    PROCS2=("$C2/cgroup.procs")
    ID1_LABEL="/$NAME/docker-$ID1.scope"
    ID2_LABEL="/$NAME/docker-$ID2.scope"
elif [[ -d $CG/memory && -d $CG/cpuacct ]]; then
    MODE=v1
    mkdir "$CG/memory/$NAME" 2>/dev/null || skip "cannot create a cgroup under $CG/memory"
    rmdir "$CG/memory/$NAME"
    for c in cpu cpuacct memory pids blkio; do
        [[ -d $CG/$c ]] || continue
        mkdir -p "$CG/$c/$NAME/docker/$ID1" "$CG/$c/$NAME/docker/$ID2" || continue
        DIRS+=("$CG/$c/$NAME" "$CG/$c/$NAME/docker" "$CG/$c/$NAME/docker/$ID1" \
            "$CG/$c/$NAME/docker/$ID2")
        PROCS1+=("$CG/$c/$NAME/docker/$ID1/cgroup.procs")
        PROCS2+=("$CG/$c/$NAME/docker/$ID2/cgroup.procs")
    done
    ID1_LABEL="/$NAME/docker/$ID1"
    ID2_LABEL="/$NAME/docker/$ID2"
else
    skip "no cgroup v2 or v1 memory/cpuacct hierarchy under $CG"
fi

cg_cleanup() {
    local p i
    for p in "${CHILD_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    for p in "${CHILD_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    # Children before parents: walk the list backwards; a cgroup whose processes are still
    # being reaped refuses rmdir for a moment.
    for ((i = ${#DIRS[@]} - 1; i >= 0; i--)); do
        for _ in $(seq 50); do
            [[ -d ${DIRS[i]} ]] || break
            rmdir "${DIRS[i]}" 2>/dev/null && break
            sleep 0.1
        done
    done
}
trap 'cg_cleanup; it_cleanup' EXIT

echo "  # cgroup $MODE, containers under $NAME"

# The burner joins its cgroup(s) before Python starts, burns 2 s of CPU, writes the CPU time it
# used (interpreter start included) and idles.
sh -c 'for f in "$@"; do echo $$ >"$f"; done; exec python3 -c "
import time, sys
t = time.process_time()
while time.process_time() - t < 2.0:
    pass
open(sys.argv[1], \"w\").write(str(time.process_time()))
time.sleep(100)
" "'"$IT_DIR/burned"'"' sh "${PROCS1[@]}" &
CHILD_PIDS+=($!)
# The hog writes every page of 100 MiB, then idles.
sh -c 'for f in "$@"; do echo $$ >"$f"; done; exec python3 -c "
import time, sys
b = b\"\\x01\" * (100 << 20)
open(sys.argv[1], \"w\").write(\"ready\")
time.sleep(100)
" "'"$IT_DIR/hog"'"' sh "${PROCS2[@]}" &
CHILD_PIDS+=($!)

# A fake Docker Engine API: answers GET /v1.41/containers/json with both containers.
SOCK=$IT_DIR/docker.sock
python3 - "$SOCK" "$ID1" "$ID2" >"$IT_DIR/fake-docker.log" 2>&1 <<'PY' &
import http.server, json, socketserver, sys
sock, id1, id2 = sys.argv[1:4]
body = json.dumps([
    {"Id": id1, "Names": ["/burner"], "Image": "busybox:1.36",
     "Labels": {"com.example.team": "payments", "secret": "no"}, "State": "running"},
    {"Id": id2, "Names": ["/hog"], "Image": "python:3.11", "Labels": None},
]).encode()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if not self.path.startswith("/v1.41/containers/json"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def address_string(self):
        return "unix"
    def log_message(self, fmt, *args):
        print(fmt % args, flush=True)
class S(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
S(sock, H).serve_forever()
PY
CHILD_PIDS+=($!)

wait_until 30 test -s "$IT_DIR/burned" || echo "  # the burner did not finish"
wait_until 30 test -s "$IT_DIR/hog" || echo "  # the hog did not get ready"
wait_until 10 test -S "$SOCK"

"$DASHDOT" agent --once --collectors containers --docker-socket "$SOCK" --podman-socket "" \
    --container-labels com.example.team >"$IT_DIR/once.prom" 2>"$IT_DIR/once.log"
check "agent --once with the containers collector succeeds" test $? = 0

# value FILE METRIC ID: the value of METRIC for the container whose id label is ID.
value() {
    python3 - "$@" <<'PY'
import re, sys
path, metric, cid = sys.argv[1:4]
for line in open(path):
    m = re.match(r'(\w+)\{(.*)\} (\S+)', line)
    if m and m.group(1) == metric and ('id="%s"' % cid) in m.group(2):
        print(m.group(3))
        sys.exit(0)
sys.exit(1)
PY
}

BURNED=$(cat "$IT_DIR/burned" 2>/dev/null || echo 0)
CPU=$(value "$IT_DIR/once.prom" container_cpu_usage_seconds_total "$ID1_LABEL")
echo "  # burned ${BURNED}s of CPU, container_cpu_usage_seconds_total says ${CPU:-nothing}"
check "CPU usage within 30% of the CPU burned" \
    python3 -c "import sys; b, c = float('$BURNED'), float('${CPU:-0}'); sys.exit(0 if b > 1 and 0.7 * b <= c <= 1.3 * b else 1)"

MEM=$(value "$IT_DIR/once.prom" container_memory_usage_bytes "$ID2_LABEL")
WS=$(value "$IT_DIR/once.prom" container_memory_working_set_bytes "$ID2_LABEL")
echo "  # allocated 104857600 bytes, usage ${MEM:-nothing}, working set ${WS:-nothing}"
check "memory usage about what was allocated (90%..140% of 100 MiB)" \
    python3 -c "import sys; m = float('${MEM:-0}'); sys.exit(0 if 0.9 * 104857600 <= m <= 1.4 * 104857600 else 1)"
check "working set about what was allocated" \
    python3 -c "import sys; m = float('${WS:-0}'); sys.exit(0 if 0.9 * 104857600 <= m <= 1.4 * 104857600 else 1)"
check "name, image and the allow-listed label from the Docker API" \
    grep -q "container_cpu_usage_seconds_total{container_label_com_example_team=\"payments\",id=\"$ID1_LABEL\",image=\"busybox:1.36\",instance=\"[^\"]*\",job=\"dashdot\",name=\"burner\"}" \
    "$IT_DIR/once.prom"
check "the second container is named too" \
    grep -q "container_memory_usage_bytes{id=\"$ID2_LABEL\",image=\"python:3.11\",instance=\"[^\"]*\",job=\"dashdot\",name=\"hog\"}" \
    "$IT_DIR/once.prom"
check "labels outside the allow-list are not exported" \
    bash -c "! grep -q secret '$IT_DIR/once.prom'"
check "the fake engine was asked" grep -q "containers/json" "$IT_DIR/fake-docker.log"
check "no sanitizer report" bash -c "! grep -q 'Sanitizer\|runtime error' '$IT_DIR/once.log'"

# End to end: an enrolled agent reports both containers; the server makes them child devices of
# the agent's device; the hog goes away and is archived (--catalog.archive-after 2s).
port=$(free_port)
url=http://127.0.0.1:$port
start_server srv "$port" "$IT_DIR/data" --catalog.archive-after 2s || exit 1
ADMIN=$(cat "$IT_DIR/data/admin.token")
start_agent ag "$url" "$IT_DIR/data/agent.token" "$IT_DIR/spool" --state "$IT_DIR/state" \
    --collectors containers --docker-socket "$SOCK" --podman-socket ""
api() { curl -s -H "Authorization: Bearer $ADMIN" "$url$1"; }
# child ID FIELD: a field of the device of container ID (other containers on this host, if
# any, are reported too and are left out by the filter).
child() {
    api "/api/v1/device?machine_id=$1" |
        python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]; print(d[0][sys.argv[1]] if d else "")' "$2"
}
export -f api child
export ADMIN url
check "both containers become child devices of the agent's device" \
    wait_until 30 bash -c '[[ $(child '"$ID1"' name) == */burner && $(child '"$ID2"' name) == */hog ]]'
check "the children hang under the agent's device" \
    bash -c '[[ $(child '"$ID1"' parent) =~ ^[0-9]+$ && $(child '"$ID1"' kind) == container ]]'
hogdev=$(child "$ID2" id)
check "the hog's device found" test -n "$hogdev"
check "the child has last_seen" bash -c "api /api/v1/device/$hogdev | grep -q '\"last_seen\":\"20'"
# The hog exits and its cgroup goes.
kill -9 "${CHILD_PIDS[1]}" 2>/dev/null
wait "${CHILD_PIDS[1]}" 2>/dev/null
for d in "${DIRS[@]}"; do [[ $d == *"$ID2"* ]] && rmdir "$d" 2>/dev/null; done
check "a vanished container is archived" \
    wait_until 40 bash -c "[[ \$(child $ID2 archived) == True ]]"
check "the other one is not" bash -c "[[ \$(child $ID1 archived) == False ]]"
check "the archive is in the audit log, by the agent" \
    bash -c "api '/api/v1/audit?model=device&object=$hogdev' | grep -q '\"actor\":\"agent:'"
check "server stops cleanly on SIGTERM (exit 0, no sanitizer report)" stopped_cleanly srv

it_done
