#!/usr/bin/env bash
# bench/events: sensors and the event store side by side with Debian's rsyslog.
#
#   DASHDOT_BIN=build-bench/dashdot bash bench/events/run.sh        # about 5 minutes
#
# 1. Syslog ingest over TCP (octet-counted) and UDP: the same pre-built stream of N realistic
#    messages (RFC 5424, 60-200 bytes, 50 hosts, 20 apps) to a dashdot syslog sensor and to
#    rsyslog (imtcp/imudp → omfile, its traditional file format). Rate = messages stored per
#    second of wall time until the last is stored, and per CPU second of the receiver (one-core
#    figure); bytes per stored event on disk (dashdot: the event store after its counters are
#    written; rsyslog: the file).
# 2. Usage events over HTTP: bodies of 10,000 lines POSTed back to back by 2 senders; events
#    per second of wall time and per CPU second of the server.
# 3. The store alone (evbench, built with the tests): search by a word over 10 M events.
# Results go to bench/results/events-<time>.json and stdout.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=${DASHDOT_BIN:-build/dashdot}
BIN=$(readlink -f "$BIN")
EVBENCH=${EVBENCH:-$(dirname "$BIN")/tests/evbench}
N=${BENCH_SYSLOG_N:-1000000}
UN=${BENCH_USAGE_N:-5000000}
SEARCH_N=${BENCH_SEARCH_N:-10000000}
DIR=$(mktemp -d /tmp/dashdot-bench-events.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; sleep 0.5; for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$DIR"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
command -v rsyslogd >/dev/null || { echo "bench: rsyslog is missing (scripts/deps.sh test installs it)" >&2; exit 1; }
[[ -x $BIN ]] || { echo "bench: no dashdot binary at $BIN" >&2; exit 1; }

port=$(free_port)
"$BIN" server --listen "127.0.0.1:$port" --data "$DIR/dd" >"$DIR/dd.log" 2>&1 &
DD=$!
PIDS+=($DD)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null && break; sleep 0.1; done
admin=$(cat "$DIR/dd/admin.token")
api() { curl -sf -X POST -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' --data "$2" "http://127.0.0.1:$port$1"; }
dd_tcp=$(free_port); dd_udp=$(free_port)
api /api/v1/sensor "{\"name\":\"bench-tcp\",\"type\":\"syslog\",\"settings\":{\"listen\":\"127.0.0.1:$dd_tcp\",\"transport\":\"tcp\"}}" >/dev/null
api /api/v1/sensor "{\"name\":\"bench-udp\",\"type\":\"syslog\",\"settings\":{\"listen\":\"127.0.0.1:$dd_udp\",\"transport\":\"udp\"}}" >/dev/null
api /api/v1/sensor '{"name":"bench-usage","type":"usage-events","settings":{"secret":"bench-secret"}}' >/dev/null
sleep 2

rs_tcp=$(free_port); rs_udp=$(free_port)
mkdir -p "$DIR/rs"
cat >"$DIR/rsyslog.conf" <<EOF
global(workDirectory="$DIR/rs")
module(load="imtcp" MaxSessions="100")
module(load="imudp")
input(type="imtcp" address="127.0.0.1" port="$rs_tcp" ruleset="tcp")
input(type="imudp" address="127.0.0.1" port="$rs_udp" ruleset="udp")
ruleset(name="tcp") { action(type="omfile" file="$DIR/rs/tcp.log" template="RSYSLOG_TraditionalFileFormat") }
ruleset(name="udp") { action(type="omfile" file="$DIR/rs/udp.log" template="RSYSLOG_TraditionalFileFormat") }
EOF
rsyslogd -n -f "$DIR/rsyslog.conf" -i "$DIR/rs/pid" >"$DIR/rs.log" 2>&1 &
RS=$!
PIDS+=($RS)
sleep 1

export DIR BIN EVBENCH N UN SEARCH_N port admin dd_tcp dd_udp rs_tcp rs_udp DD RS ROOT
python3 - <<'PY'
import json, os, random, socket, subprocess, sys, threading, time, urllib.request, http.client

D = os.environ
DIR, port, admin = D["DIR"], int(D["port"]), D["admin"]
N, UN, SEARCH_N = int(D["N"]), int(D["UN"]), int(D["SEARCH_N"])
DD, RS = int(D["DD"]), int(D["RS"])
TCK = os.sysconf("SC_CLK_TCK")

def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TCK

def du(path):
    t = 0
    for r, _, fs in os.walk(path):
        for f in fs:
            try: t += os.path.getsize(os.path.join(r, f))
            except OSError: pass
    return t

random.seed(7)
words = [w.strip() for w in open("/usr/share/dict/words")] if os.path.exists("/usr/share/dict/words") else \
    ["disk", "error", "timeout", "connection", "reset", "user", "login", "failed", "session", "opened",
     "closed", "kernel", "eth0", "link", "up", "down", "cron", "job", "started", "finished", "backup",
     "request", "GET", "POST", "status", "200", "404", "500", "memory", "swap", "cpu", "load", "high"]
words = words[:5000]
zipf = [1.0 / (i + 1) for i in range(len(words))]
hosts = [f"host{i:02d}" for i in range(50)]
apps = ["sshd", "cron", "kernel", "nginx", "postgres", "systemd", "dockerd", "sudo", "named",
        "postfix", "smartd", "ntpd", "haproxy", "redis", "app", "worker", "api", "auth", "backup", "rsync"]

def messages(n, tag):
    out = []
    for i in range(n):
        k = random.randint(6, 28)
        text = " ".join(random.choices(words, weights=zipf, k=k))
        out.append(f"<{random.choice([11, 12, 13, 14, 30, 86])}>1 2026-12-08T01:02:{i % 60:02d}.{i % 1000:03d}Z "
                   f"{random.choice(hosts)} {random.choice(apps)} {1000 + i % 5000} - - {tag}{i} {text}".encode())
    return out

def wait_count(get, want, timeout=600):
    t0 = time.time()
    last, last_change = -1, time.time()
    while time.time() - t0 < timeout:
        c = get()
        if c >= want:
            return c
        if c != last:
            last, last_change = c, time.time()
        elif time.time() - last_change > 20:
            return c
        time.sleep(0.2)
    return get()

def lines(path):
    try:
        with open(path, "rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    except OSError:
        return 0

def dd_count(sensor_id):
    # What the sensor handed to the store and the store acknowledged (its status counter).
    try:
        r = json.load(urllib.request.urlopen(urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/sensor/{sensor_id}/status",
            headers={"Authorization": f"Bearer {admin}"})))
        return int(r["data"]["stored"])
    except Exception:
        return 0

import urllib.parse
results = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "n": N}

def run_tcp(name, port_, count_fn, pid, framed):
    msgs = messages(N, name)
    data = b"".join((f"{len(m)} ".encode() + m) if framed else (m + b"\n") for m in msgs)
    c0, t0 = cpu(pid), time.time()
    s = socket.create_connection(("127.0.0.1", port_))
    s.sendall(data)
    s.close()
    got = wait_count(count_fn, N)
    t1 = time.time()
    return {"messages": N, "stored": got, "wall_s": t1 - t0, "cpu_s": cpu(pid) - c0,
            "bytes_sent": len(data)}

def run_udp(name, port_, count_fn, pid, rate):
    msgs = messages(N, name)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
    c0, t0 = cpu(pid), time.time()
    per = 1.0 / rate
    start = time.time()
    for i, m in enumerate(msgs):
        s.sendto(m, ("127.0.0.1", port_))
        if i % 1000 == 999:
            ahead = start + (i + 1) * per - time.time()
            if ahead > 0:
                time.sleep(ahead)
    got = wait_count(count_fn, N, timeout=120)
    return {"messages": N, "stored": got, "wall_s": time.time() - t0, "cpu_s": cpu(pid) - c0,
            "offered_rate": rate}

print(f"bench: syslog TCP, {N} messages (octet-counted to dashdot, LF to rsyslog)", flush=True)
dd_tcp = run_tcp("ddtcp", int(D["dd_tcp"]), lambda: dd_count(1), DD, True)
rs_tcp = run_tcp("rstcp", int(D["rs_tcp"]), lambda: lines(f"{DIR}/rs/tcp.log"), RS, False)
udp_rate = int(os.environ.get("BENCH_UDP_RATE", "100000"))
print(f"bench: syslog UDP, {N} messages offered at {udp_rate}/s", flush=True)
dd_udp = run_udp("ddudp", int(D["dd_udp"]), lambda: dd_count(2), DD, udp_rate)
rs_udp = run_udp("rsudp", int(D["rs_udp"]), lambda: lines(f"{DIR}/rs/udp.log"), RS, udp_rate)
time.sleep(1)
dd_bytes = du(f"{DIR}/dd/events")
rs_bytes = du(f"{DIR}/rs")
results["syslog"] = {"dashdot_tcp": dd_tcp, "rsyslog_tcp": rs_tcp, "dashdot_udp": dd_udp,
                     "rsyslog_udp": rs_udp, "dashdot_store_bytes": dd_bytes, "rsyslog_file_bytes": rs_bytes}

print(f"bench: usage events over HTTP, {UN} lines in bodies of 10,000, 2 senders", flush=True)
body_lines = []
for i in range(10000):
    q = random.random()
    body_lines.append(f"cust{random.randint(1, 2000)}:{random.choice(['api_call', 'storage', 'export', 'login', 'query'])}:"
                      f"{random.randint(1, 50)}" + (f"[t={random.randint(1, 900)},s={random.choice(['ok', 'pending', 'failed'])},l=dbcall,ct=create]" if q < 0.7 else ""))
body = ("\n".join(body_lines) + "\n").encode()
bodies = UN // 10000
accepted = [0, 0]
def sender(k):
    c = http.client.HTTPConnection("127.0.0.1", port)
    for _ in range(bodies // 2):
        c.request("POST", "/api/v1/usage", body, {"Authorization": "Bearer bench-secret"})
        r = c.getresponse()
        d = json.loads(r.read())
        accepted[k] += d["data"]["accepted"]
c0, t0 = cpu(DD), time.time()
th = [threading.Thread(target=sender, args=(k,)) for k in range(2)]
[t.start() for t in th]
[t.join() for t in th]
wall, ucpu = time.time() - t0, cpu(DD) - c0
results["usage"] = {"events": accepted[0] + accepted[1], "wall_s": wall, "cpu_s": ucpu,
                    "usage_bytes": du(f"{DIR}/dd/usage")}

ev = D["EVBENCH"]
if os.path.exists(ev):
    print(f"bench: event store search over {SEARCH_N} events (evbench)", flush=True)
    sd = f"{DIR}/evb"
    out = subprocess.run([ev, "ingest", sd, str(SEARCH_N), "1000", "10"], capture_output=True, text=True)
    results["store_ingest"] = out.stdout[-4000:]
    words = [subprocess.run([ev, "vocab", r], capture_output=True, text=True).stdout.strip() for r in ("1", "10", "1000", "40000")]
    out = subprocess.run([ev, "search", sd] + words + ["zzzabsent"], capture_output=True, text=True)
    results["store_search"] = out.stdout[-4000:]
else:
    results["store_search"] = f"evbench not found at {ev}: build the tests"

def rate(r):
    return r["stored"] / r["wall_s"] if r["wall_s"] else 0
def cpurate(r):
    return r["stored"] / r["cpu_s"] if r["cpu_s"] else 0
print()
print("syslog ingest: messages stored per second (wall) and per CPU second of the receiver")
print(f"{'':26}{'stored':>10}{'of':>10}{'wall s':>9}{'msg/s':>11}{'CPU s':>8}{'msg/CPU s':>12}")
for k, r in (("dashdot TCP", dd_tcp), ("rsyslog TCP (omfile)", rs_tcp), ("dashdot UDP", dd_udp), ("rsyslog UDP (omfile)", rs_udp)):
    print(f"{k:26}{r['stored']:>10}{r['messages']:>10}{r['wall_s']:>9.2f}{rate(r):>11.0f}{r['cpu_s']:>8.2f}{cpurate(r):>12.0f}")
print(f"ratio dashdot/rsyslog TCP per CPU second: {cpurate(dd_tcp) / max(cpurate(rs_tcp), 1):.2f}x; UDP: {cpurate(dd_udp) / max(cpurate(rs_udp), 1):.2f}x")
ddn = dd_tcp["stored"] + dd_udp["stored"]
rsn = rs_tcp["stored"] + rs_udp["stored"]
print(f"bytes per stored event: dashdot {dd_bytes / max(ddn, 1):.0f} (event store, open day: SQLite + full-text index), "
      f"rsyslog {rs_bytes / max(rsn, 1):.0f} (plain text file, no index)")
u = results["usage"]
print(f"usage events over HTTP: {u['events']} in {u['wall_s']:.2f} s = {u['events'] / u['wall_s']:.0f}/s wall, "
      f"{u['events'] / max(u['cpu_s'], 1e-9):.0f}/s per server CPU second (target >= 500,000 on one core); "
      f"{u['usage_bytes'] / max(u['events'], 1):.1f} bytes/event on disk")
print(results.get("store_ingest", ""))
print(results["store_search"])
os.makedirs(f"{D['ROOT']}/bench/results", exist_ok=True)
path = f"{D['ROOT']}/bench/results/events-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
json.dump(results, open(path, "w"), indent=1)
print("results written to", path)
PY
