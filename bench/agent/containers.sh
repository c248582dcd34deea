#!/usr/bin/env bash
# Scenario "containers" of the agent benchmark (bash bench/agent/run.sh --scenario containers):
# the agent's cost with 200 containers and 500 processes, side by side with netdata (apps.plugin
# + cgroups plugin only) and prometheus-node-exporter (default collectors + processes), all at
# a 1 s interval, reported as CPU per collected sample and RSS.
#
# As root it creates BENCH_CONTAINERS (200) cgroups named like docker's systemd scopes,
#   cgroup v2:             /sys/fs/cgroup/dashdot-bench.slice/docker-<64 hex>.scope
#                          (cpu, memory, io, pids enabled in the parents' cgroup.subtree_control)
#   cgroup v1 or hybrid:   <hierarchy>/<this shell's memory cgroup>/dashdot-bench.slice/docker-<64
#                          hex>.scope in every hierarchy among cpu, cpuacct, memory, blkio, pids,
#                          name=systemd and the unified (v2) one, the same relative path in each
#                          (as docker does on v1); nested under the shell's own memory cgroup so
#                          that the bench's processes stay inside it
# puts 2-3 light processes in each (a sleeper; a loop that wakes every 2-5 s, or in every 10th
# container one that burns ~3 ms of CPU a second; a second sleeper in one container in ten),
# tops the host up to BENCH_PROCS (500) processes with sleepers outside the containers, and runs
# for the window:
#   - dashdot agent "all":  default collectors (host collectors + containers + procs + libvirt)
#   - dashdot agent "c+p":  --collectors containers,procs
#   - dashdot agent "host": --collectors <every host collector> (the default minus the three)
#   - netdata: [plugins] apps = yes, cgroups = yes, every other plugin, ML and health off,
#     update every = 1
#   - prometheus-node-exporter --collector.processes (its defaults + processes), scraped every s
# Samples: dashdot = samples the server received from each agent in the window (its raw
# samples, read back with a range query), cross-checked against `agent --once`; netdata =
# dimensions / update_every of its live charts x window; node_exporter = non-comment lines of
# every scrape in the window.
# CPU = the threads' se.sum_exec_runtime (/proc/PID/task/*/sched, ns precision) + cutime+cstime
# of reaped children, over each process tree; utime+stime+cutime+cstime ticks shown next to it.
# RSS = VmHWM (peak, summed over the tree) and VmRSS at the end.
#
# env: BENCH_SECONDS (60), BENCH_WARMUP (30, after netdata has found the containers),
#      BENCH_CONTAINERS (200), BENCH_PROCS (500), DASHDOT_BIN (build/dashdot),
#      BENCH_OUT (bench/results/agent-containers-<UTC date>.txt; .json next to it; empty = none)
# An exit trap (also on Ctrl-C) kills every process the bench started and removes the cgroups,
# children first, and the temp dir. Every server binds to 127.0.0.1.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${DASHDOT_BIN:-$ROOT/build/dashdot}
BIN=$(realpath -m -- "$BIN")
cd "$ROOT"
DURATION=${BENCH_SECONDS:-60}
WARMUP=${BENCH_WARMUP:-30}
NCONT=${BENCH_CONTAINERS:-200}
NPROCS=${BENCH_PROCS:-500}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${BENCH_OUT-bench/results/agent-containers-$STAMP.txt}
GOAL_ND_RATIO=0.3     # dashdot CPU per sample <= 0.3x netdata's
GOAL_NE_RATIO=0.5     # dashdot CPU per sample <= 0.5x node_exporter's
GOAL_RSS_MB=15        # agent peak RSS <= 15 MB (checked as MiB, 10^6 bytes shown too)

die() { echo "bench: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 5 ]] || die "BENCH_SECONDS must be an integer >= 5"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be an integer"
[[ $NCONT =~ ^[0-9]+$ && $NCONT -ge 1 ]] || die "BENCH_CONTAINERS must be an integer >= 1"
[[ $NPROCS =~ ^[0-9]+$ ]] || die "BENCH_PROCS must be an integer"
[[ $(id -u) -eq 0 ]] || die "the containers scenario creates cgroups: run it as root"
[[ -x $BIN ]] || die "no dashdot binary at $BIN: run 'make' first (or set DASHDOT_BIN)"

SPATH="$PATH:/usr/sbin:/sbin:/usr/local/sbin"
NODE_EXPORTER=$(PATH=$SPATH command -v prometheus-node-exporter || true)
NETDATA=$(PATH=$SPATH command -v netdata || true)
missing=()
[[ -n $NODE_EXPORTER ]] || missing+=(prometheus-node-exporter)
[[ -n $NETDATA ]] || missing+=(netdata)
for c in curl python3 getconf; do command -v "$c" >/dev/null || missing+=("$c"); done
((${#missing[@]} == 0)) || die "missing ${missing[*]}: run 'make bench' (scripts/deps.sh bench installs them)"
HZ=$(getconf CLK_TCK)
SLEEP_BIN=$(command -v sleep)
BASH_BIN=$(command -v bash)

# host collectors = every collector the agent knows minus the three per-workload ones
ALL_COLLECTORS=$("$BIN" agent --collectors '?' --once 2>&1 >/dev/null | sed -n 's/.*known: //p' || true)
[[ -n $ALL_COLLECTORS ]] || die "cannot list the agent's collectors"
HOST_COLLECTORS=$(tr ' ' '\n' <<<"$ALL_COLLECTORS" | grep -vxE 'containers|procs|libvirt' | paste -sd, -)
for c in containers procs; do
    grep -qw "$c" <<<"$ALL_COLLECTORS" || die "this dashdot has no '$c' collector"
done

# ---------------------------------------------------------------------------------------------
# cleanup
TMP=$(mktemp -d /tmp/dashdot-bench-ct.XXXXXX)
chmod 755 "$TMP"
LEADERS=()        # process groups we started (setsid): daemons and the load generators
HELPERS=()        # our own background loops
STOPPED_SERVICES=()
CG_CREATED=()     # cgroup dirs we created, parents before children
CG_MOUNTS=()      # hierarchies the containers live in
CG_ENABLED=()     # "file +ctrl" we wrote to a v2 subtree_control that was not ours

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local p i d
    for p in "${HELPERS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${LEADERS[@]}"; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true; done
    for p in "${LEADERS[@]}"; do
        for i in $(seq 50); do kill -0 -- "-$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$p" 2>/dev/null || true
    done
    # anything left in our cgroups (a plugin that left its group, say) and netdata's tree
    if [[ -s $TMP/netdata.tree ]]; then
        while read -r p; do kill -KILL "$p" 2>/dev/null || true; done <"$TMP/netdata.tree"
    fi
    for ((i = ${#CG_CREATED[@]} - 1; i >= 0; i--)); do
        d=${CG_CREATED[i]}
        [[ -f $d/cgroup.procs ]] || continue
        while read -r p; do kill -KILL "$p" 2>/dev/null || true; done <"$d/cgroup.procs"
    done
    wait 2>/dev/null || true
    # children first (reverse creation order); a cgroup whose last task just died may need a moment
    local left=()
    for ((i = ${#CG_CREATED[@]} - 1; i >= 0; i--)); do
        d=${CG_CREATED[i]}
        [[ -d $d ]] || continue
        for p in $(seq 50); do rmdir "$d" 2>/dev/null && break; sleep 0.1; done
        [[ -d $d ]] && left+=("$d")
    done
    ((${#left[@]} == 0)) || note "could not remove ${#left[@]} cgroups, e.g. ${left[0]}"
    ((${#CG_ENABLED[@]} == 0)) || note "left enabled in the root cgroup: ${CG_ENABLED[*]}"
    rm -rf "$TMP"
    for p in "${STOPPED_SERVICES[@]}"; do
        note "restarting the system service $p that the bench stopped"
        if [[ -d /run/systemd/system ]]; then systemctl start "$p" || true
        else service "$p" start >/dev/null 2>&1 || true; fi
    done
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stop_service() {
    local s=$1
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
        if systemctl is-active --quiet "$s"; then
            note "stopping the system service $s for the duration of the bench"
            systemctl stop "$s"
            STOPPED_SERVICES+=("$s")
        fi
    elif [[ -x /etc/init.d/$s ]] && /etc/init.d/"$s" status >/dev/null 2>&1; then
        note "stopping the system service $s for the duration of the bench"
        service "$s" stop >/dev/null 2>&1 || /etc/init.d/"$s" stop >/dev/null
        STOPPED_SERVICES+=("$s")
    fi
}
stop_service prometheus-node-exporter
stop_service netdata

wait_for() {   # wait_for SECONDS DESCRIPTION COMMAND...
    local t=$1 what=$2 i
    shift 2
    for ((i = 0; i < t * 10; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    die "$what did not come up within ${t}s"
}
alive() { kill -0 "$1" 2>/dev/null; }
nprocs() { local n=0 d; for d in /proc/[0-9]*; do n=$((n + 1)); done; echo "$n"; }

# ---------------------------------------------------------------------------------------------
# 1. the containers: cgroups named like docker scopes, 2-3 light processes in each
mkcg() {   # mkcg DIR: creates DIR and any missing parent, recording what it created
    local d=$1 parts=() p
    while [[ ! -d $d ]]; do parts=("$d" "${parts[@]}"); d=$(dirname "$d"); done
    for p in "${parts[@]}"; do
        mkdir "$p" || die "cannot create the cgroup $p"
        CG_CREATED+=("$p")
    done
}

if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
    CG_MODE=v2
    CG_MOUNTS=(/sys/fs/cgroup)
    CG_REL=dashdot-bench.slice
    mkcg "/sys/fs/cgroup/$CG_REL"
    for f in /sys/fs/cgroup/cgroup.subtree_control "/sys/fs/cgroup/$CG_REL/cgroup.subtree_control"; do
        have=$(cat "$(dirname "$f")/cgroup.controllers")
        for c in cpu memory io pids; do
            grep -qw "$c" <<<"$have" || { note "cgroup v2: controller $c not available in $(dirname "$f")"; continue; }
            grep -qw "$c" "$f" && continue
            echo "+$c" >"$f" || die "cannot enable $c in $f"
            if [[ $f == /sys/fs/cgroup/cgroup.subtree_control ]]; then CG_ENABLED+=("$f +$c"); fi
        done
    done
else
    CG_MODE=v1
    while read -r _ mnt type opts _; do
        if [[ $type == cgroup && ,$opts, =~ ,(cpu|cpuacct|memory|blkio|pids|name=systemd), ]] ||
            [[ $type == cgroup2 ]]; then
            CG_MOUNTS+=("$mnt")
        fi
    done </proc/self/mounts
    ((${#CG_MOUNTS[@]})) || die "no cgroup hierarchy is mounted"
    memrel=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3; exit}' /proc/self/cgroup)
    memrel=${memrel#/}
    CG_REL=${memrel:+$memrel/}dashdot-bench.slice
    for m in "${CG_MOUNTS[@]}"; do mkcg "$m/$CG_REL"; done
fi
note "cgroup $CG_MODE: creating $NCONT containers under $CG_REL in ${CG_MOUNTS[*]}"

mkdir -p "$TMP/bin"
# distinct process names (comm) for per-application grouping: symlinks to sleep and bash
APPS=(svc-web svc-db svc-cache svc-queue svc-api)
for a in "${APPS[@]}" svc-misc; do ln -s "$SLEEP_BIN" "$TMP/bin/$a"; done
ln -s "$BASH_BIN" "$TMP/bin/app-loop"
mkfifo "$TMP/idle.fifo"

python3 -c 'import secrets, sys
for _ in range(int(sys.argv[1])): print("docker-%s.scope" % secrets.token_hex(32))' "$NCONT" >"$TMP/containers"
# plan: one line per process: "<cgroup rel path or -> <kind> <name>"
i=0
while read -r scope; do
    rel=$CG_REL/$scope
    for m in "${CG_MOUNTS[@]}"; do mkcg "$m/$rel"; done
    app=${APPS[i % ${#APPS[@]}]}
    echo "$rel sleep $app"
    if ((i % 10 == 0)); then echo "$rel burn app-loop"; else echo "$rel wake app-loop"; fi
    ((i % 10 == 5)) && echo "$rel sleep $app"
    i=$((i + 1))
done <"$TMP/containers" >"$TMP/plan"

# the load generator: one process group (killed as a whole); each child moves itself into its
# cgroup in every hierarchy, then execs
cat >"$TMP/load.sh" <<'EOF'
#!/bin/bash
# load.sh BINDIR FIFO MOUNTS... <plan
bindir=$1 fifo=$2; shift 2
mounts=("$@")
while read -r rel kind name; do
    (
        if [[ $rel != - ]]; then
            for m in "${mounts[@]}"; do echo "$BASHPID" >"$m/$rel/cgroup.procs"; done
        fi
        case $kind in
        sleep) exec "$bindir/$name" 3600 ;;
        wake) exec "$bindir/$name" -c 'while :; do read -t $((2 + RANDOM % 4)) <>"$0" || :; done' "$fifo" ;;
        burn) exec "$bindir/$name" -c 'while :; do read -t 1 <>"$0" || :; for ((i = 0; i < 2000; i++)); do :; done; done' "$fifo" ;;
        esac
    ) </dev/null >/dev/null 2>&1 &
done
echo started >"$bindir/../load.started.$BASHPID"
wait
EOF
chmod 755 "$TMP/load.sh"
setsid "$TMP/load.sh" "$TMP/bin" "$TMP/idle.fifo" "${CG_MOUNTS[@]}" <"$TMP/plan" >"$TMP/load.log" 2>&1 &
LEADERS+=($!)
wait_for 60 "the container load" test -e "$TMP/load.started.$!"
IN_CONTAINERS=$(wc -l <"$TMP/plan")

# ---------------------------------------------------------------------------------------------
# 2. the daemons
read -r P_DD P_NE P_ND P_SD < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(4)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')

mkdir -p "$TMP/dashdot-data"
setsid "$BIN" server --listen "127.0.0.1:$P_DD" --data "$TMP/dashdot-data" >"$TMP/dashdot-server.log" 2>&1 &
LEADERS+=($!)
wait_for 10 "dashdot server" test -s "$TMP/dashdot-data/agent.token"
wait_for 10 "dashdot server" curl -fsS -o /dev/null "http://127.0.0.1:$P_DD/api/v1/status/buildinfo"
# --no-enroll: the agents only deliver samples here (the file agent token); each keeps its
# --instance label. (The server refuses their inventory, once every 5 min: they are not enrolled.)
declare -A DD_PIDS DD_COLL
DD_COLL[all]=""
DD_COLL[cp]=containers,procs
DD_COLL[host]=$HOST_COLLECTORS
DD_COLL[c]=containers
DD_COLL[p]=procs
DD_KEYS=(all cp host c p)
for k in "${DD_KEYS[@]}"; do
    mkdir -p "$TMP/agent-$k/spool" "$TMP/agent-$k/state"
    args=(agent --server "http://127.0.0.1:$P_DD" --token-file "$TMP/dashdot-data/agent.token"
          --interval 1s --instance "bench-$k" --spool "$TMP/agent-$k/spool" --state "$TMP/agent-$k/state"
          --no-enroll)
    if [[ -n ${DD_COLL[$k]} ]]; then args+=(--collectors "${DD_COLL[$k]}"); fi
    setsid "$BIN" "${args[@]}" >"$TMP/agent-$k.log" 2>&1 &
    DD_PIDS[$k]=$!
    LEADERS+=($!)
done

setsid "$NODE_EXPORTER" --web.listen-address="127.0.0.1:$P_NE" --collector.processes \
    >"$TMP/node-exporter.log" 2>&1 &
NE_PID=$!
LEADERS+=("$NE_PID")

ND=$TMP/netdata
mkdir -p "$ND"/{etc,cache,lib/cloud.d,log,lock,bin}
if id netdata >/dev/null 2>&1; then ND_USER=netdata; else ND_USER=$(id -un); fi
for tool in curl wget; do
    cat >"$ND/bin/$tool" <<EOF
#!/bin/sh
echo "$tool \$*" >>"$ND/log/blocked-network.log"
exit 7
EOF
    chmod 755 "$ND/bin/$tool"
done
touch "$ND/log/blocked-network.log" "$ND/etc/.opt-out-from-anonymous-statistics"
printf '[global]\n\tenabled = no\n' >"$ND/lib/cloud.d/cloud.conf"
ND_PATH="$ND/bin:$SPATH"
cat >"$ND/etc/netdata.conf" <<EOF
[global]
	run as user = $ND_USER
[db]
	update every = 1
[directories]
	config = $ND/etc
	cache = $ND/cache
	lib = $ND/lib
	log = $ND/log
	lock = $ND/lock
	home = $ND/lib
	registry = $ND/lib/registry
	health config = $ND/etc/health.d
[environment variables]
	PATH = $ND_PATH
[ml]
	enabled = no
[health]
	enabled = no
	script to execute on alarm = /bin/true
[plugins]
	enable running new plugins = no
	cgroups = yes
	apps = yes
	proc = no
	diskspace = no
	tc = no
	idlejitter = no
	timex = no
	checks = no
	statsd = no
	netdata monitoring = no
	slabinfo = no
	charts.d = no
	python.d = no
	go.d = no
	node.d = no
	fping = no
	ioping = no
	nfacct = no
	perf = no
	ebpf = no
	cups = no
	freeipmi = no
	xenstat = no
[plugin:apps]
	update every = 1
[plugin:cgroups]
	update every = 1
	check for new cgroups every = 10
	max cgroups to allow = 2000
[web]
	bind to = 127.0.0.1:$P_ND
	allow connections from = *
	allow connections by dns = no
	allow dashboard from = *
	allow dashboard by dns = no
	allow badges by dns = no
	allow streaming by dns = no
	allow netdata.conf from = *
	allow netdata.conf by dns = no
	allow management by dns = no
[registry]
	enabled = no
	registry to announce = http://127.0.0.1:$P_ND
[statsd]
	enabled = no
	bind to = udp:127.0.0.1:$P_SD tcp:127.0.0.1:$P_SD
EOF
chown -R "$ND_USER" "$ND"/{cache,lib,log,lock}
(cd "$ND/lib" && exec env DO_NOT_TRACK=1 DISABLE_TELEMETRY=1 PATH="$ND_PATH" \
    setsid "$NETDATA" -D -c "$ND/etc/netdata.conf") \
    >"$TMP/netdata.out" 2>&1 &
ND_PID=$!
LEADERS+=("$ND_PID")

wait_for 10 "node_exporter" curl -fsS -o /dev/null "http://127.0.0.1:$P_NE/metrics"
wait_for 30 "netdata" curl -fsS -o /dev/null "http://127.0.0.1:$P_ND/api/v1/info"
for p in "${DD_PIDS[@]}" "$NE_PID" "$ND_PID"; do
    alive "$p" || die "a daemon exited at start-up; logs: $(tail -n 5 "$TMP"/*.log "$TMP"/*.out)"
done

# top the host up to NPROCS processes with sleepers outside the containers
TOPUP=$((NPROCS - $(nprocs)))
if ((TOPUP > 0)); then
    for ((i = 0; i < TOPUP; i++)); do echo "- sleep svc-misc"; done >"$TMP/plan-topup"
    setsid "$TMP/load.sh" "$TMP/bin" "$TMP/idle.fifo" <"$TMP/plan-topup" >"$TMP/load-topup.log" 2>&1 &
    LEADERS+=($!)
    wait_for 30 "the top-up load" test -e "$TMP/load.started.$!"
else
    TOPUP=0
fi

# netdata finds new cgroups every 10 s and runs cgroup-name.sh for each: wait until it has
# charts for (nearly) all the containers
nd_containers() {   # number of cgroups netdata has charts for
    curl -fsS --max-time 5 "http://127.0.0.1:$P_ND/api/v1/charts" 2>/dev/null | python3 -c '
import json, sys
c = json.load(sys.stdin)["charts"].values()
print(len({x["type"] for x in c if x["type"].startswith("cgroup_")}))' 2>/dev/null || echo 0
}
note "waiting for netdata to pick up the $NCONT containers (charts for >= $NCONT cgroups, stable for 15 s)"
last=-1 since=0
for ((i = 0; i < 300; i++)); do
    n=$(nd_containers)
    if ((n != last)); then last=$n since=$i; fi
    ((n >= NCONT && i - since >= 15)) && break
    alive "$ND_PID" || die "netdata exited: $(tail -n 5 "$TMP/netdata.out" "$ND/log/error.log")"
    sleep 1
done
note "netdata has charts for $n cgroups after ${i}s"

scrape_loop() {   # one scrape a second, on the second; logs "epoch-seconds samples"
    local next now d n
    next=${EPOCHREALTIME/./}
    while :; do
        n=$(curl -fsS --max-time 2 "http://127.0.0.1:$P_NE/metrics" 2>/dev/null | grep -vcE '^(#|$)' || true)
        echo "$EPOCHREALTIME ${n:-0}" >>"$TMP/node-exporter.scrapes"
        next=$((next + 1000000))
        now=${EPOCHREALTIME/./}
        d=$((next - now))
        if ((d > 0)); then sleep "$((d / 1000000)).$(printf %06d $((d % 1000000)))"; else next=$now; fi
    done
}
scrape_loop &
HELPERS+=($!)

# one round of each agent configuration, for the cross-check of the server's sample counts
declare -A DD_ONCE
for k in "${DD_KEYS[@]}"; do
    args=(agent --once)
    if [[ -n ${DD_COLL[$k]} ]]; then args+=(--collectors "${DD_COLL[$k]}"); fi
    DD_ONCE[$k]=$("$BIN" "${args[@]}" 2>/dev/null | grep -vcE '^(#|$)' || true)
done

note "warming up ${WARMUP}s, then measuring ${DURATION}s ($(nproc) cores, $(nprocs) processes, $IN_CONTAINERS in $NCONT containers)"
sleep "$WARMUP" &
wait $!
NPROCS0=$(nprocs)

# ---------------------------------------------------------------------------------------------
# the window
python3 - "$DURATION" "$HZ" "$TMP/monitor.json" "$TMP/netdata.tree" \
    $(for k in "${DD_KEYS[@]}"; do echo "dd_$k=${DD_PIDS[$k]}"; done) \
    "node_exporter=$NE_PID" "netdata=$ND_PID" <<'PY' &
import json, os, sys, time

duration, hz, out, ndtree = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
roots = {k: int(v) for k, v in (a.split("=") for a in sys.argv[5:])}

def stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    comm = s[s.index("(") + 1:s.rindex(")")]
    rest = s[s.rindex(")") + 2:].split()
    return int(rest[1]), sum(int(x) for x in rest[11:15]), comm

def tree(root):
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = stat(d)
            if st:
                kids.setdefault(st[0], []).append(int(d))
    res, todo = [], [root]
    while todo:
        p = todo.pop()
        res.append(p)
        todo.extend(kids.get(p, []))
    return res

def sched_s(pid):
    # se.sum_exec_runtime (ms, ns precision) of every thread of pid, in seconds
    tot = 0.0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    for t in tids:
        try:
            with open(f"/proc/{pid}/task/{t}/sched") as f:
                for line in f:
                    if line.startswith("se.sum_exec_runtime"):
                        tot += float(line.split(":")[1]) / 1000
                        break
        except (OSError, ValueError):
            pass
    return tot

def children_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return 0
    rest = s[s.rindex(")") + 2:].split()
    return int(rest[13]) + int(rest[14])

def cpu(pids):
    # (ticks of utime+stime+cutime+cstime, precise seconds: threads' sum_exec_runtime + the
    # cutime+cstime ticks of reaped children, per-process ticks by (pid, comm))
    tot, precise, by = 0, 0.0, {}
    for p in pids:
        st = stat(p)
        if st:
            tot += st[1]
            by[(p, st[2])] = st[1]
            precise += sched_s(p) + children_ticks(p) / hz
    return tot, precise, by

def status(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return None

peak = {k: {} for k in roots}
procs = {k: 0 for k in roots}
seen = {k: set() for k in roots}

def sample():
    for k, r in roots.items():
        pids = tree(r)
        procs[k] = max(procs[k], len(pids))
        seen[k].update(pids)
        for p in pids:
            h = status(p, "VmHWM:")
            if h is not None:
                peak[k][p] = max(peak[k].get(p, 0), h)
        if k == "netdata":
            with open(ndtree, "w") as f:
                f.write("".join(f"{p}\n" for p in seen[k]))

def threads(pids):
    # sum_exec_runtime (s) by thread name over the threads of pids
    by = {}
    for p in pids:
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tids:
            try:
                with open(f"/proc/{p}/task/{t}/comm") as f:
                    comm = f.read().strip()
                with open(f"/proc/{p}/task/{t}/sched") as f:
                    for line in f:
                        if line.startswith("se.sum_exec_runtime"):
                            by[(t, comm)] = float(line.split(":")[1]) / 1000
                            break
            except (OSError, ValueError):
                pass
    return by

t0 = time.time()
nd_th0 = threads(tree(roots["netdata"]))
c0 = {k: cpu(tree(r)) for k, r in roots.items()}
sample()
i = 0
while True:
    i += 1
    delay = t0 + i - time.time()
    if delay > 0:
        time.sleep(delay)
    if i >= duration:
        break
    sample()
c1 = {k: cpu(tree(r)) for k, r in roots.items()}
nd_th1 = threads(tree(roots["netdata"]))
t1 = time.time()
nd_by_thread = {}
for key, v in nd_th1.items():
    d = v - nd_th0.get(key, 0)
    nd_by_thread[key[1]] = nd_by_thread.get(key[1], 0) + d
sample()
res = {}
for k, r in roots.items():
    by = {}
    for key, v in c1[k][2].items():
        d = v - c0[k][2].get(key, 0)
        by[key[1]] = by.get(key[1], 0) + d / hz
    rss = sum(status(p, "VmRSS:") or 0 for p in tree(r))
    res[k] = {"cpu_ticks_s": (c1[k][0] - c0[k][0]) / hz, "cpu_s": c1[k][1] - c0[k][1], "peak_rss_kb": sum(peak[k].values()),
              "rss_end_kb": rss, "procs_max": procs[k], "procs_seen": len(seen[k]),
              "alive": os.path.exists(f"/proc/{r}"),
              "cpu_by_comm": {c: round(v, 3) for c, v in sorted(by.items(), key=lambda x: -x[1]) if v}}
json.dump({"t0": t0, "t1": t1, "targets": res,
           "netdata_cpu_by_thread": {c: round(v, 3) for c, v in
                                     sorted(nd_by_thread.items(), key=lambda x: -x[1]) if v >= 0.005}},
          open(out, "w"))
PY
HELPERS+=($!)
wait $!
NPROCS1=$(nprocs)
sleep 2   # let the last batches of the window arrive

# ---------------------------------------------------------------------------------------------
# samples: the server's count of what each agent delivered in the window
read -r T0 T1 < <(python3 -c 'import json,sys; m = json.load(open(sys.argv[1])); print(m["t0"], m["t1"])' "$TMP/monitor.json")
dd_count() {   # dd_count INSTANCE -> samples received with timestamps in (t0, t1] of the window
    curl -fsS --max-time 30 "http://127.0.0.1:$P_DD/api/v1/query" \
        --data-urlencode "query={__name__=~\".+\",instance=\"$1\"}[$((DURATION + 5))s]" \
        --data-urlencode "time=$T1" 2>/dev/null |
        python3 -c 'import json,sys
t0, t1 = float(sys.argv[1]), float(sys.argv[2])
r = json.load(sys.stdin)["data"]["result"]
print(sum(1 for s in r for ts, _ in s["values"] if t0 < float(ts) <= t1))' "$T0" "$T1" 2>/dev/null || true
}
dd_query() {
    curl -fsS --max-time 5 "http://127.0.0.1:$P_DD/api/v1/query" --data-urlencode "query=$1" 2>/dev/null |
        python3 -c 'import json,sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "")' 2>/dev/null || true
}
for k in "${DD_KEYS[@]}"; do
    # key, collectors, samples counted on the server, --once lines, send failures
    printf '%s\t%s\t%s\t%s\t%s\n' "$k" "${DD_COLL[$k]:-default}" "$(dd_count "bench-$k")" "${DD_ONCE[$k]}" \
        "$(dd_query "dashdot_agent_send_failures_total{instance=\"bench-$k\"}")"
done >"$TMP/dashdot.tsv"
curl -fsS --max-time 10 "http://127.0.0.1:$P_ND/api/v1/charts" >"$TMP/netdata-charts.json" ||
    die "could not read netdata's /api/v1/charts"
ND_BLOCKED=$(sort -u "$ND/log/blocked-network.log" | head -n 5)

# ---------------------------------------------------------------------------------------------
# report
python3 - "$TMP/monitor.json" "$TMP/node-exporter.scrapes" "$TMP/netdata-charts.json" "$DURATION" \
    "$(nproc)" "$NCONT" "$IN_CONTAINERS" "$TOPUP" "$NPROCS0" "$NPROCS1" "$CG_MODE" "$CG_REL" \
    "$TMP/dashdot.tsv" \
    "$GOAL_ND_RATIO" "$GOAL_NE_RATIO" "$GOAL_RSS_MB" "$OUT" "$ND_BLOCKED" \
    "$("$NODE_EXPORTER" --version 2>&1 | head -n 1)" "$("$NETDATA" -v 2>&1 | head -n 1)" \
    "$("$BIN" version 2>&1 | head -n 1)" "$HOST_COLLECTORS" <<'PY'
import datetime, io, json, os, sys

a = sys.argv[1:]
(mon_f, scrapes_f, charts_f, duration, ncpu, ncont, in_cont, topup, np0, np1, cg_mode, cg_rel) = a[:12]
dd_tsv = [l.rstrip("\n").split("\t") for l in open(a[12]) if l.strip()]
g_nd, g_ne, g_rss, out, nd_blocked, ne_ver, nd_ver, dd_ver, host_coll = a[13:22]
duration, g_nd, g_ne, g_rss = int(duration), float(g_nd), float(g_ne), float(g_rss)
mon = json.load(open(mon_f))
t0, t1, tg = mon["t0"], mon["t1"], mon["targets"]
warn = []
buf = io.StringIO()
def p(s=""):
    print(s)
    buf.write(s + "\n")

rows = {}
# dashdot: samples the server received from each agent in the window; --once as fallback
LABELS = {"all": "dashdot all (default)", "cp": "dashdot containers,procs",
          "host": "dashdot host collectors", "c": "dashdot containers", "p": "dashdot procs"}
for k, coll, srv, once, fail in dd_tsv:
    label = LABELS[k]
    once = int(once or 0)
    if srv:
        total, how = float(srv), "server"
    else:
        total, how = float(once * duration), "--once x rounds"
        warn.append(f"{label}: no count from the server, used --once ({once}/round) x {duration}")
    if fail and float(fail) > 0:
        warn.append(f"{label}: {fail} send failures")
    rows["dd_" + k] = {"label": label, "samples": total, "samples_per_s": total / duration,
                       "once_per_round": once, "count_from": how}

sc = [tuple(map(float, l.split())) for l in open(scrapes_f) if l.strip()]
win = [n for ts, n in sc if t0 <= ts < t1]
rows["node_exporter"] = {"label": "node_exporter (+processes)", "samples": sum(win),
                         "samples_per_s": sum(win) / duration, "scrapes": len(win),
                         "samples_per_scrape": sum(win) / len(win) if win else 0}
if len(win) < 0.9 * duration or not all(win):
    warn.append(f"node_exporter: {len(win)} scrapes in {duration}s, {sum(1 for n in win if not n)} empty")

charts = list(json.load(open(charts_f))["charts"].values())
now = max((c["last_entry"] for c in charts), default=t1)
live = [c for c in charts if c["last_entry"] >= now - max(5, 3 * c["update_every"])]
by_plugin = {}
for c in live:
    k = c.get("plugin") or c["type"].split("_")[0]
    by_plugin[k] = by_plugin.get(k, 0) + len(c["dimensions"]) / c["update_every"]
nd_sps = sum(len(c["dimensions"]) / c["update_every"] for c in live)
cgroups_seen = len({c["type"] for c in live if c["type"].startswith("cgroup_")})
rows["netdata"] = {"label": "netdata apps+cgroups", "samples": nd_sps * duration,
                   "samples_per_s": nd_sps, "charts": len(live),
                   "dimensions": sum(len(c["dimensions"]) for c in live),
                   "samples_per_s_by_plugin": {k: round(v, 1) for k, v in by_plugin.items()},
                   "cgroups_with_charts": cgroups_seen}

for k, r in rows.items():
    t = tg[k]
    if not t["alive"]:
        warn.append(f"{r['label']} exited during the run")
    r.update(cpu_s=t["cpu_s"], cpu_ticks_s=t["cpu_ticks_s"], cpu_ms_per_min=t["cpu_s"] / duration * 60000,
             cpu_us_per_sample=t["cpu_s"] * 1e6 / r["samples"] if r["samples"] else float("nan"),
             peak_rss_mib=t["peak_rss_kb"] / 1024, rss_end_mib=t["rss_end_kb"] / 1024,
             procs_max=t["procs_max"], cpu_by_comm=t["cpu_by_comm"])

p(f"dashdot agent, containers scenario: {ncont} containers (cgroup {cg_mode}, {cg_rel}/docker-<id>.scope), "
  f"{in_cont} processes in them, {topup} top-up sleepers;")
p(f"  {np0} processes on the host at the start of the window, {np1} at the end; "
  f"{duration}s window at 1 s interval, {ncpu} cores, all side by side")
p(f"  {dd_ver} | {ne_ver} | {nd_ver}")
p()
hdr = (f"{'':<27}{'samples/s':>10}{'CPU s':>8}{'(ticks)':>8}{'CPU ms/min':>11}{'CPU us/sample':>14}"
       f"{'peak RSS MiB':>13}{'RSS end MiB':>12}{'procs':>6}")
p(hdr)
p("-" * len(hdr))
order = ["dd_all", "dd_cp", "dd_host", "dd_c", "dd_p", "node_exporter", "netdata"]
for k in order:
    r = rows[k]
    p(f"{r['label']:<27}{r['samples_per_s']:>10.0f}{r['cpu_s']:>8.3f}{r['cpu_ticks_s']:>8.2f}{r['cpu_ms_per_min']:>11.0f}"
      f"{r['cpu_us_per_sample']:>14.3f}{r['peak_rss_mib']:>13.1f}{r['rss_end_mib']:>12.1f}{r['procs_max']:>6}")
p()
def ratio(x, y):
    return f"{x / y:.2f}x" if y and x == x and y == y else "n/a"
p("ratio dashdot / peer          CPU per sample   CPU per minute   peak RSS")
for d in ("dd_all", "dd_cp"):
    for q in ("netdata", "node_exporter"):
        D, P = rows[d], rows[q]
        p(f"  {D['label'][8:]:<13}/ {q:<13}{ratio(D['cpu_us_per_sample'], P['cpu_us_per_sample']):>11}"
          f"{ratio(D['cpu_ms_per_min'], P['cpu_ms_per_min']):>17}{ratio(D['peak_rss_mib'], P['peak_rss_mib']):>11}")
p()
goals = {}
def goal(name, ok, text):
    goals[name] = bool(ok)
    p(f"goal: {text}  {'PASS' if ok else 'FAIL'}")
r_nd = rows["dd_cp"]["cpu_us_per_sample"] / rows["netdata"]["cpu_us_per_sample"]
r_nd_all = rows["dd_all"]["cpu_us_per_sample"] / rows["netdata"]["cpu_us_per_sample"]
r_ne = rows["dd_all"]["cpu_us_per_sample"] / rows["node_exporter"]["cpu_us_per_sample"]
r_ne_cp = rows["dd_cp"]["cpu_us_per_sample"] / rows["node_exporter"]["cpu_us_per_sample"]
goal("cpu_vs_netdata", r_nd <= g_nd,
     f"CPU/sample <= {g_nd}x netdata   (containers,procs vs apps+cgroups): {r_nd:.2f}x (all collectors: {r_nd_all:.2f}x)")
goal("cpu_vs_node_exporter", r_ne <= g_ne,
     f"CPU/sample <= {g_ne}x node_exporter (all collectors vs defaults+processes): {r_ne:.2f}x (containers,procs: {r_ne_cp:.2f}x)")
rss = rows["dd_all"]["peak_rss_mib"]
goal("rss", rss <= g_rss,
     f"agent peak RSS <= {g_rss:g} MB at {ncont} containers (all collectors): {rss:.1f} MiB = {rss * 1.048576:.1f} MB"
     f" (containers,procs alone: {rows['dd_cp']['peak_rss_mib']:.1f} MiB)")
# the two halves of the work, each against netdata's part that does it: the cgroups plugin's
# thread (it collects and stores its charts itself) and apps.plugin (+ the thread that stores
# what apps.plugin sends)
thr = mon.get("netdata_cpu_by_thread", {})
nd_split = {
    "containers": (thr.get("PLUGIN[cgroups]", 0.0),
                   rows["netdata"]["samples_per_s_by_plugin"].get("cgroups.plugin", 0) * duration,
                   "PLUGIN[cgroups] thread"),
    "procs": (rows["netdata"]["cpu_by_comm"].get("apps.plugin", 0.0) + thr.get("PLUGINSD[apps]", 0.0),
              rows["netdata"]["samples_per_s_by_plugin"].get("apps.plugin", 0) * duration,
              "apps.plugin + PLUGINSD[apps] thread"),
}
p()
p("split (approximate: netdata's share of its main thread and web server is left out)")
for key, dk in (("containers", "dd_c"), ("procs", "dd_p")):
    cpu_nd, n_nd, what = nd_split[key]
    us_nd = cpu_nd * 1e6 / n_nd if n_nd else float("nan")
    D = rows[dk]
    p(f"  {key:<11} dashdot {D['samples_per_s']:>6.0f}/s {D['cpu_us_per_sample']:>7.3f} us/sample"
      f" | netdata {what}: {n_nd / duration:>6.0f}/s {cpu_nd:.2f} s {us_nd:>7.3f} us/sample"
      f" | ratio {ratio(D['cpu_us_per_sample'], us_nd)}")
    rows["netdata"].setdefault("split", {})[key] = {"cpu_s": cpu_nd, "samples": n_nd, "us_per_sample": us_nd}
p()
p("samples: dashdot = samples the server received from each agent in the window (raw samples of a range query); "
  + ", ".join(f"--once {rows['dd_' + k]['once_per_round']}/round ({k})" for k in ("all", "cp", "host", "c", "p")))
p(f"  node_exporter = non-comment lines per scrape ({rows['node_exporter']['samples_per_scrape']:.0f}, "
  f"{rows['node_exporter']['scrapes']} scrapes); netdata = dimensions/update_every of its {rows['netdata']['charts']} "
  f"live charts ({rows['netdata']['dimensions']} dimensions; per plugin/s: "
  + ", ".join(f"{k} {v:.0f}" for k, v in sorted(rows['netdata']['samples_per_s_by_plugin'].items()))
  + f"; {cgroups_seen} cgroups with charts)")
p(f"  host collectors: {host_coll}")
p("netdata CPU s by process: " + ", ".join(f"{c} {v:.2f}" for c, v in rows["netdata"]["cpu_by_comm"].items()))
p("netdata CPU s by thread:  " + ", ".join(f"{c} {v:.2f}" for c, v in mon.get("netdata_cpu_by_thread", {}).items()))
if nd_blocked.strip():
    p("netdata's scripts tried to run (stubbed out, nothing sent): "
      + " | ".join(l[:100] for l in nd_blocked.splitlines()))
for w in warn:
    p("WARNING: " + w)

if out:
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "w") as f:
        f.write(buf.getvalue())
    base = out[:-4] if out.endswith(".txt") else out
    json.dump({"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "duration_s": duration, "cores": int(ncpu), "containers": int(ncont),
               "processes_start": int(np0), "processes_end": int(np1), "cgroup_mode": cg_mode,
               "versions": {"dashdot": dd_ver, "node_exporter": ne_ver, "netdata": nd_ver},
               "results": rows, "goals": goals, "warnings": warn}, open(base + ".json", "w"), indent=1)
    print(f"results written to {out} (and {base}.json)")
PY
