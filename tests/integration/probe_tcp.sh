#!/usr/bin/env bash
# The tcp probe (`dashdot probe tcp`) against real peers on 127.0.0.1: an SMTP-like python
# server (banner, send/expect, a regular expression that does not match, a peer that stays
# silent), a closed port, openssl s_server with certificates made here by openssl (a chain from
# a test CA, an expired one, a self-signed one, TLS 1.2 only, send/expect through TLS), a plain
# server spoken to with TLS, and a black-holed address whose connect hangs until the timeout
# (a network namespace with a veth whose peer answers nothing, as root; a listener with a full
# accept queue otherwise).
source "$(dirname "$0")/lib.sh"
it_init
HERE=$(cd "$(dirname "$0")" && pwd)
FIX=$HERE/probe_tcp
NETNS=dd-probe-tcp-$$
trap 'ip netns del "$NETNS" 2>/dev/null; it_cleanup' EXIT

# probe TARGET [args...]: runs the probe; output in $IT_DIR/out, exit status in $IT_DIR/rc.
probe() {
    "$DASHDOT" probe tcp "$@" >"$IT_DIR/out" 2>&1
    echo $? >"$IT_DIR/rc"
    cat "$IT_DIR/out" >>"$IT_DIR/all.out"
}
no_sanitizer_report() { ! grep -B2 -A12 'Sanitizer\|runtime error' "$IT_DIR/all.out"; }
rc_is() { [[ $(cat "$IT_DIR/rc") == "$1" ]] || { echo "    exit $(cat "$IT_DIR/rc"), want $1"; tail -3 "$IT_DIR/out" | sed 's/^/    /'; return 1; }; }
verdict_is() { local v; v=$(tail -n1 "$IT_DIR/out"); [[ $v =~ $1 ]] || { echo "    verdict: $v"; return 1; }; }
# val METRIC [LABEL_FRAGMENT]: the value of the first sample of METRIC (with the fragment).
val() { grep -E "^$1[{ ]" "$IT_DIR/out" | grep -F -- "${2:-}" | head -n1 | awk '{print $(NF-1)}'; }
val_is() { local v; v=$(val "$1" "${3:-}"); [[ $v == "$2" ]] || { echo "    $1${3:+ $3} = '$v', want '$2'"; return 1; }; }
has() { [[ -n $(val "$1" "${2:-}") ]] || { echo "    no sample $1 ${2:-}"; return 1; }; }
hasnt() { [[ -z $(val "$1") ]] || { echo "    unexpected sample $1"; return 1; }; }
less_than() { python3 -c "import sys; sys.exit(0 if float('$1' or 'inf') < float('$2') else 1)" || { echo "    $1 is not below $2"; return 1; }; }

listening() { ss -Hltn "sport = :$1" | grep -q .; }
# start NAME CMD...: starts a peer in the background (output in NAME.log).
start() {
    local name=$1
    shift
    "$@" >"$IT_DIR/$name.log" 2>&1 &
    IT_PIDS+=("$!")
}
wait_listening() { wait_until 10 listening "$1" || { echo "nothing listens on $1"; return 1; }; }
notafter() { date -u -d "$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)" +%s; }

# ---- plain TCP -------------------------------------------------------------------------------
smtp=$(free_port)
start smtp python3 "$FIX/peer.py" smtp "$smtp"
wait_listening "$smtp" || exit 1

probe "127.0.0.1:$smtp"
check "connect: success" rc_is 0
check "connect: verdict" verdict_is '^# tcp succeeded in'
check "connect: probe_ip_protocol 4" val_is probe_ip_protocol 4
check "connect: probe_tcp_connect_duration_seconds" has probe_tcp_connect_duration_seconds
check "connect: probe_dns_lookup_time_seconds" has probe_dns_lookup_time_seconds
check "connect: no regex sample without expect" hasnt probe_failed_due_to_regex
check "connect: the common labels" has probe_success 'job="tcp",probe="tcp",probe_id="1",target="127.0.0.1:'

probe "127.0.0.1:$smtp" --settings '{"expect":"^220 ready$"}'
check "banner: matches" rc_is 0
check "banner: probe_failed_due_to_regex 0" val_is probe_failed_due_to_regex 0

probe "127.0.0.1:$smtp" --settings '{"send":"HELO x\\r\\n","expect":"^250 ok$"}'
check "HELO exchange: success" rc_is 0
check "HELO exchange: probe_failed_due_to_regex 0" val_is probe_failed_due_to_regex 0

probe "127.0.0.1:$smtp" --settings '{"send":"HELO x\\r\\nQUIT\\r\\n","expect":"^554 "}'
check "regex mismatch: failure" rc_is 1
check "regex mismatch: message" verdict_is '^# tcp failed in [0-9.]+ s: answer does not match /\^554 / \(the peer closed after 28 bytes\)$'
check "regex mismatch: probe_failed_due_to_regex 1" val_is probe_failed_due_to_regex 1

probe "127.0.0.1:$smtp" --timeout 1s --settings '{"send":"HELO x\\r\\n","expect":"^554 "}'
check "no match before the timeout: failure" rc_is 1
check "no match before the timeout: message" verdict_is 'failed in (0\.9|1\.)[0-9]+ s: timeout after 1 s$'
check "no match before the timeout: not due to the regex" val_is probe_failed_due_to_regex 0
check "no match before the timeout: connect time kept" has probe_tcp_connect_duration_seconds

probe "127.0.0.1:$smtp" --settings '{"send":"bad\\q"}'
check "bad escape: exit 2" rc_is 2
check "bad escape: explained" grep -q 'unknown escape \\q' "$IT_DIR/out"

probe "localhost:$smtp" --settings '{"ip_protocol":"ipv4","expect":"220"}'
check "a name: success" rc_is 0
check "a name: looked up" has probe_dns_lookup_time_seconds

probe "127.0.0.1:$smtp" --settings '{"ip_protocol":"ipv6"}'
check "wrong family: failure" rc_is 1
check "wrong family: message" verdict_is 'resolve 127\.0\.0\.1: the address is not of the wanted family$'

closed=$(free_port)
probe "127.0.0.1:$closed"
check "closed port: failure" rc_is 1
check "closed port: connection refused" verdict_is ': connect: connection refused$'
check "closed port: probe_success 0" val_is probe_success 0

# ---- TLS ---------------------------------------------------------------------------------------
pki=$IT_DIR/pki
mkdir -p "$pki"
(
    cd "$pki" || exit 1
    cp "$FIX/ca.cnf" .
    touch index.txt
    echo 01 >serial
    key() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null; }
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -subj /CN=dashdot-test-ca -days 60 2>/dev/null &&
        key good localhost && key old localhost &&
        openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in good.csr -out good.pem -days 30 >/dev/null 2>&1 &&
        openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in old.csr -out old.pem -startdate 20200101000000Z -enddate 20200201000000Z >/dev/null 2>&1 &&
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout self.key -out self.pem -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -days 30 2>/dev/null
) || { echo "cannot make certificates"; exit 1; }

tls=$(free_port)
start s_server openssl s_server -quiet -rev -accept "127.0.0.1:$tls" -cert "$pki/good.pem" -key "$pki/good.key" -cert_chain "$pki/ca.pem"
old=$(free_port)
start s_server_old openssl s_server -quiet -accept "127.0.0.1:$old" -cert "$pki/old.pem" -key "$pki/old.key"
self=$(free_port)
start s_server_self openssl s_server -quiet -accept "127.0.0.1:$self" -cert "$pki/self.pem" -key "$pki/self.key"
tls12=$(free_port)
start s_server_12 openssl s_server -quiet -tls1_2 -accept "127.0.0.1:$tls12" -cert "$pki/good.pem" -key "$pki/good.key"
for p in "$tls" "$old" "$self" "$tls12"; do wait_listening "$p" || exit 1; done

probe "127.0.0.1:$tls" --settings '{"tls":true,"tls_verify":false}'
check "TLS: handshake succeeds" rc_is 0
check "TLS: version TLS 1.3" val_is probe_tls_version_info 1 'version="TLS 1.3"'
check "TLS: handshake duration" has probe_tls_handshake_duration_seconds
check "TLS: earliest expiry is the certificate's notAfter" val_is probe_ssl_earliest_cert_expiry "$(notafter "$pki/good.pem")"
check "TLS: chain expiry (the leaf ends first)" val_is probe_ssl_last_chain_expiry_timestamp_seconds "$(notafter "$pki/good.pem")"

probe "localhost:$tls" --settings '{"tls":true,"tls_verify":false,"send":"olleh\\n","expect":"^hello$"}'
check "TLS: send/expect through TLS" rc_is 0
check "TLS: send/expect regex sample" val_is probe_failed_due_to_regex 0

probe "127.0.0.1:$tls" --settings '{"tls":true}'
check "TLS: a chain the system does not trust fails" rc_is 1
check "TLS: unknown authority" verdict_is ': TLS: certificate signed by an unknown authority$'
check "TLS: expiry reported even so" val_is probe_ssl_earliest_cert_expiry "$(notafter "$pki/good.pem")"

probe "127.0.0.1:$old" --settings '{"tls":true}'
check "TLS: expired certificate fails" rc_is 1
check "TLS: expired message" verdict_is ': TLS: certificate has expired$'
check "TLS: expired certificate's expiry" val_is probe_ssl_earliest_cert_expiry 1580515200

probe "127.0.0.1:$old" --settings '{"tls":true,"tls_verify":false}'
check "TLS: expired certificate without verification" rc_is 0

probe "127.0.0.1:$self" --settings '{"tls":true}'
check "TLS: self-signed fails" rc_is 1
check "TLS: self-signed message" verdict_is ': TLS: self-signed certificate$'

probe "127.0.0.1:$tls12" --settings '{"tls":true,"tls_verify":false}'
check "TLS 1.2: success" rc_is 0
check "TLS 1.2: version" val_is probe_tls_version_info 1 'version="TLS 1.2"'

probe "127.0.0.1:$smtp" --settings '{"tls":true,"tls_verify":false}'
check "TLS to a plain server fails" rc_is 1
check "TLS to a plain server: TLS message" verdict_is ': TLS: '
check "TLS to a plain server: no TLS version" hasnt probe_tls_version_info

# ---- a connect that hangs -------------------------------------------------------------------
# As root: a namespace whose route to 192.0.2.0/24 leads into a veth with a static neighbour
# entry; the other end has no address, so SYNs vanish. Otherwise: a full accept queue.
blackhole=""
if [[ $(id -u) == 0 ]] && ip netns add "$NETNS" 2>/dev/null; then
    if ip netns exec "$NETNS" sh -c 'ip link set lo up &&
        ip link add v0 type veth peer name v1 && ip link set v0 up && ip link set v1 up &&
        ip addr add 192.0.2.1/24 dev v0 &&
        ip neigh add 192.0.2.99 lladdr 02:00:00:00:00:99 dev v0 nud permanent'; then
        blackhole=netns
    fi
fi
if [[ $blackhole == netns ]]; then
    echo "  (black hole: network namespace $NETNS)"
    ip netns exec "$NETNS" "$DASHDOT" probe tcp 192.0.2.99:80 --timeout 1s >"$IT_DIR/out" 2>&1
    echo $? >"$IT_DIR/rc"
    cat "$IT_DIR/out" >>"$IT_DIR/all.out"
else
    echo "  (black hole: a full accept queue)"
    bl=$(free_port)
    start backlog python3 "$FIX/peer.py" backlog "$bl"
    wait_listening "$bl" || exit 1
    sleep 0.3 # the fillers' handshakes
    probe "127.0.0.1:$bl" --timeout 1s
fi
check "black hole: failure" rc_is 1
check "black hole: ends at the timeout" verdict_is 'failed in (0\.9|1\.)[0-9]+ s: timeout after 1 s$'
check "black hole: probe_success 0" val_is probe_success 0
check "black hole: no connect time (it never connected)" hasnt probe_tcp_connect_duration_seconds
check "black hole: duration about 1 s" less_than "$(val probe_duration_seconds)" 1.5

check "no sanitizer report in any run" no_sanitizer_report
it_done
