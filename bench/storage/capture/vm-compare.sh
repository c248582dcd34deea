#!/bin/bash
# vm-compare.sh [capture] [step]: how many bytes a sample VictoriaMetrics needs for the same data.
# Imports the capture (every step-th scrape) into a fresh Debian victoria-metrics on a free
# 127.0.0.1 port, flushes and force-merges it, and prints the size of its data parts (timestamps
# and values, zstd-compressed; the index is reported apart) per sample. Compare with chunkstat.
set -euo pipefail
cap=${1:-bench/storage/capture/node-exporter-1s.txt.zst}
step=${2:-1}
command -v victoria-metrics >/dev/null || { echo "victoria-metrics is not installed" >&2; exit 1; }
dir=$(mktemp -d /tmp/vmcmp.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
victoria-metrics -storageDataPath="$dir/data" -httpListenAddr="127.0.0.1:$port" \
    -retentionPeriod=100y -loggerLevel=ERROR >"$dir/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
url="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -sf "$url/health" >/dev/null && break; sleep 0.1; done
# capture lines: unix_ms<TAB>series<TAB>value  ->  exposition lines with timestamps
zstdcat -f "$cap" | awk -F'\t' -v step="$step" '
    /^#/ { next }
    { if ($1 != last) { n++; last = $1 } if ((n - 1) % step == 0) print $2 " " $3 " " $1 }' |
    curl -sf --data-binary @- "$url/api/v1/import/prometheus"
curl -sf "$url/internal/force_flush" >/dev/null
sleep 2
month=$(zstdcat -f "$cap" | awk -F'\t' '!/^#/ && !m { m = $1 } END { print m }' |
    python3 -c 'import sys, time; print(time.strftime("%Y_%m", time.gmtime(int(sys.stdin.read()) / 1000)))')
curl -s "$url/internal/force_merge?partition_prefix=$month" >/dev/null || true
# Merges run in the background: wait until the data size stops changing and no merge is active.
prev=-1
for _ in $(seq 120); do
    sleep 1
    curl -sf "$url/internal/force_flush" >/dev/null
    now=$(curl -sf "$url/metrics" | awk '
        /^vm_data_size_bytes\{type="storage\/(small|big)"\}/ { data += $2 }
        /^vm_active_merges\{type="storage\/(small|big)"\}/ { m += $2 }
        END { print (m > 0 ? -2 : data) }')
    [ "$now" = "$prev" ] && [ "$now" != -2 ] && break
    prev=$now
done
du -sb "$dir/data/data" | awk '{ printf "(on disk: %d bytes in data/, index and metadata included)\n", $1 }' >&2
curl -sf "$url/metrics" | awk -v step="$step" '
    /^vm_data_size_bytes\{type="storage\/(small|big)"\}/ { data += $2 }
    /^vm_data_size_bytes\{type="indexdb/ { idx += $2 }
    /^vm_rows\{type="storage\/(small|big)"\}/ { rows += $2 }
    END { printf "victoria-metrics, every %d. scrape: %d samples, data %d bytes = %.3f B/sample (index %d bytes more)\n", step, rows, data, rows ? data / rows : 0, idx }'
