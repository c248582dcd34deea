#!/usr/bin/env bash
# Catalog benchmark: creates N devices over HTTP (one connection, then 4 in parallel) and times
# lists, filters, searches, deep pages, gets, token authentication and logins against a real
# `dashdot server` on 127.0.0.1. Prints a table and writes it to bench/results/.
# Usage: bench/catalog/run.sh [--devices N]   (default 10000; DASHDOT=path/to/dashdot)
set -euo pipefail
cd "$(dirname "$0")/../.."
N=10000
while (($#)); do
    case $1 in
    --devices) N=$2; shift 2 ;;
    *) echo "usage: $0 [--devices N]" >&2; exit 2 ;;
    esac
done
DASHDOT=$(readlink -f "${DASHDOT:-build/dashdot}")
dir=$(mktemp -d /tmp/dashdot-bench-cat.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$DASHDOT" server --listen "127.0.0.1:$port" --data "$dir/data" >"$dir/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null && break; sleep 0.1; done
mkdir -p bench/results
out=bench/results/catalog-$(date -u +%Y%m%dT%H%M%SZ).txt
PW=$(sed -n 's/^  admin password: //p' "$dir/server.log")
python3 - "$port" "$(cat "$dir/data/admin.token")" "$PW" "$N" "$pid" <<'PY' | tee "$out"
import http.client, json, sys, threading, time, statistics
port, admin, pw, n, pid = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]

def conn():
    return http.client.HTTPConnection("127.0.0.1", port, timeout=60)

def req(c, method, path, body=None, tok=admin):
    h = {"Authorization": "Bearer " + tok} if tok else {}
    if body is not None:
        h["Content-Type"] = "application/json"
        body = json.dumps(body)
    c.request(method, path, body, h)
    r = c.getresponse()
    data = r.read()
    if r.status >= 300:
        raise SystemExit(f"{method} {path}: {r.status} {data[:200]}")
    return json.loads(data) if data else None

kinds = ["server", "vm", "container", "switch"]
def create_range(lo, hi):
    c = conn()
    for i in range(lo, hi):
        req(c, "POST", "/api/v1/device", {"name": f"host-{i:06d}", "kind": kinds[i % 4],
            "hostname": f"host-{i}.dc{i % 7}.example.com", "tags": ["rack-%d" % (i % 40), "prod"],
            "location": f"dc{i % 7}"})

half = n // 2
t = time.perf_counter(); create_range(0, half); seq = half / (time.perf_counter() - t)
t = time.perf_counter()
ths = [threading.Thread(target=create_range, args=(half + k * (n - half) // 4, half + (k + 1) * (n - half) // 4)) for k in range(4)]
[x.start() for x in ths]; [x.join() for x in ths]
par = (n - half) / (time.perf_counter() - t)

def p50(path, reps=100, tok=admin, method="GET", body=None):
    c = conn(); ts = []
    for _ in range(reps):
        t = time.perf_counter(); req(c, method, path, body, tok); ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1000

c = conn()
tok = req(c, "POST", "/api/v1/token", {"name": "bench", "role": "viewer"})["data"]["secret"]
rows = [
    ("create, 1 connection", f"{seq:,.0f} objects/s"),
    ("create, 4 connections", f"{par:,.0f} objects/s"),
    (f"list 100 of {n:,}", f"{p50('/api/v1/device?limit=100'):.2f} ms"),
    ("list, filter kind=vm (100)", f"{p50('/api/v1/device?kind=vm&limit=100'):.2f} ms"),
    ("list, tag filter (100)", f"{p50('/api/v1/device?tags=rack-7&limit=100'):.2f} ms"),
    ("list, q= search", f"{p50('/api/v1/device?q=dc3.example&limit=100'):.2f} ms"),
    ("list, sort=-name, last page", f"{p50('/api/v1/device?sort=-name&limit=100&offset=%d' % (n - 100)):.2f} ms"),
    ("get by id", f"{p50('/api/v1/device/%d' % (n // 2), 500):.3f} ms"),
    ("query API, file token", f"{p50('/api/v1/query?query=1', 500):.3f} ms"),
    ("query API, catalog token", f"{p50('/api/v1/query?query=1', 500, tok):.3f} ms"),
    ("login (argon2id)", f"{p50('/api/v1/auth/login', 5, None, 'POST', {'username': 'admin', 'password': pw}):.1f} ms"),
]
rss = 0
for line in open(f"/proc/{pid}/status"):
    if line.startswith("VmRSS:"):
        rss = int(line.split()[1]) // 1024
rows.append((f"server RSS with {n:,} devices", f"{rss} MiB"))
print(f"catalog benchmark, {n:,} devices, median of repeated requests over keep-alive HTTP")
w = max(len(a) for a, _ in rows)
for a, b in rows:
    print(f"  {a:<{w}}  {b:>16}")
PY
echo "written to $out"
