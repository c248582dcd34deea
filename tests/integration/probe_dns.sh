#!/usr/bin/env bash
# The dns probe (`dashdot probe dns`) against real servers: dnsmasq answering A, AAAA, CNAME,
# MX, TXT, SRV and PTR records, NXDOMAIN and REFUSED, over UDP and TCP, a long answer that comes
# truncated over UDP (then over TCP), an authoritative dnsmasq (SOA, NS), and misbehaving peers
# (probe_dns/peer.py): one that never answers and ones that answer garbage, a cut header, a
# compression loop... Every failure must be a clear message with exit 1, never a crash.
source "$(dirname "$0")/lib.sh"
it_init
HERE=$(cd "$(dirname "$0")" && pwd)
DNSMASQ=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
[[ -x $DNSMASQ ]] || { echo "dnsmasq is not installed (Debian package dnsmasq-base)"; exit 1; }

# start_dnsmasq NAME ADDRESS PORT ARGS...: a dnsmasq of our own, nothing from the system's
# configuration, listening on ADDRESS:PORT only; waits until its TCP port accepts.
start_dnsmasq() {
    local name=$1 addr=$2 port=$3
    shift 3
    local user=()
    [[ $(id -u) == 0 ]] && user=(--user=root --group=root)
    "$DNSMASQ" --no-daemon --conf-file=/dev/null --pid-file= --port="$port" \
        --listen-address="$addr" --bind-interfaces --no-resolv --no-hosts --log-queries \
        --log-facility=- "${user[@]}" "$@" >"$IT_DIR/$name.log" 2>&1 &
    local pid=$!
    IT_PIDS+=("$pid")
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/$addr/$port") 2>/dev/null; then return 0; fi
        kill -0 "$pid" 2>/dev/null || { echo "dnsmasq $name exited:"; cat "$IT_DIR/$name.log"; return 1; }
        sleep 0.1
    done
    echo "dnsmasq $name not listening after 10 s"; return 1
}

# start_peer MODE PORT: the misbehaving UDP server in MODE; waits until it is bound.
start_peer() {
    local mode=$1 port=$2
    python3 -u "$HERE/probe_dns/peer.py" "$port" "$mode" >"$IT_DIR/peer-$mode.log" 2>&1 &
    IT_PIDS+=("$!")
    for _ in $(seq 50); do
        grep -q ready "$IT_DIR/peer-$mode.log" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "peer $mode did not start"; cat "$IT_DIR/peer-$mode.log"; return 1
}

# js KEY=VALUE...: a JSON object of strings (KEY[]=a,b makes a list). No control characters.
jstr() { local s=${1//\\/\\\\}; printf '"%s"' "${s//\"/\\\"}"; }
js() {
    local a k v out="" item items
    for a in "$@"; do
        k=${a%%=*} v=${a#*=}
        [[ -n $out ]] && out+=","
        if [[ $k == *"[]" ]]; then
            out+="$(jstr "${k%"[]"}"):["
            IFS=, read -ra items <<<"$v"
            for item in "${items[@]}"; do out+="$(jstr "$item"),"; done
            out="${out%,}]"
        else
            out+="$(jstr "$k"):$(jstr "$v")"
        fi
    done
    printf '{%s}' "$out"
}

# probe WANT_EXIT TARGET SETTINGS [options]: runs the probe, keeps its output in $IT_DIR/out,
# checks the exit status and that no sanitizer spoke.
probe() {
    local want=$1 target=$2 settings=$3
    shift 3
    "$DASHDOT" probe dns "$target" --settings "$settings" "$@" >"$IT_DIR/out" 2>&1
    local got=$?
    if grep -q 'Sanitizer\|runtime error' "$IT_DIR/out"; then
        echo "    sanitizer report:"; head -30 "$IT_DIR/out" | sed 's/^/    /'; return 1
    fi
    [[ $got == "$want" ]] || { echo "    exit $got, want $want:"; sed 's/^/    /' "$IT_DIR/out" | tail -5; return 1; }
}
# val METRIC [LABEL_FILTER]: the value of the first sample of METRIC.
val() { grep "^$1{" "$IT_DIR/out" | grep -- "${2:-}" | head -1 | awk '{print $2}'; }
is() { local got; got=$(val "$1" "${3:-}"); [[ $got == "$2" ]] || { echo "    $1 is '$got', want '$2'"; return 1; }; }
says() { grep -q -- "$1" "$IT_DIR/out" || { echo "    no '$1' in: $(tail -1 "$IT_DIR/out")"; return 1; }; }
# took_under / took_over SECONDS: the run's duration from its last line ("... in 0.123 s").
took() { tail -1 "$IT_DIR/out" | sed -n 's/.* in \([0-9.]*\) s.*/\1/p'; }
took_under() { awk -v t="$(took)" -v m="$1" 'BEGIN { exit !(t != "" && t < m) }'; }
took_over() { awk -v t="$(took)" -v m="$1" 'BEGIN { exit !(t != "" && t > m) }'; }

# ---- a resolver's view: dnsmasq with local records -----------------------------------------
port=$(free_port)
big=$(printf 'x%.0s' {1..200}),$(printf 'y%.0s' {1..200}),$(printf 'z%.0s' {1..200})
start_dnsmasq local 127.0.0.1 "$port" \
    --address=/probe.test/192.0.2.7 --host-record=v6.probe.test,2001:db8::7 \
    --host-record=host4.probe.test,192.0.2.44 --cname=alias.probe.test,v6.probe.test \
    --mx-host=probe.test,mail.probe.test,10 --mx-host=probe.test,mx2.probe.test,20 \
    --srv-host=_dns._udp.probe.test,ns1.probe.test,53,5,10 \
    --txt-record=txt.probe.test,"v=spf1 -all","second \"quoted\"" \
    --txt-record=big.probe.test,"$big" --local=/nx.test/ --host-record=v4.nx.test,192.0.2.45 || exit 1
S="127.0.0.1:$port"

check "A: succeeds" probe 0 "$S" "$(js query_name=a.probe.test)"
check "A: one answer record" is probe_dns_answer_rrs 1
check "A: rcode NOERROR" is probe_dns_rcode 1 'rcode="NOERROR"'
check "A: no authority, no additional" bash -c "[[ \$(grep -c '^probe_dns_\(authority\|additional\)_rrs{.*} 0 ' '$IT_DIR/out') == 2 ]]"
check "A: query succeeded" is probe_dns_query_succeeded 1
check "A: probe_success 1" is probe_success 1
check "A: IPv4 server" is probe_ip_protocol 4
check "A: lookup time measured" bash -c "[[ -n \$(grep '^probe_dns_lookup_time_seconds{' '$IT_DIR/out') ]]"
check "A: query time as the request phase" bash -c "[[ -n \$(grep '^probe_dns_duration_seconds{.*phase=\"request\"' '$IT_DIR/out') ]]"
check "A: job and target labels" says "job=\"dns\",probe=\"dns\",probe_id=\"1\",target=\"$S\""
check "A: expect matches the whole record" probe 0 "$S" \
    "$(js query_name=a.probe.test 'expect=^a\.probe\.test\.\t[0-9]+\tIN\tA\t192\.0\.2\.7$')"
check "A: regex did not fail" is probe_failed_due_to_regex 0
check "A: expect mismatch fails" probe 1 "$S" "$(js query_name=a.probe.test 'expect=192\.0\.2\.8')"
check "A: failed due to regex" is probe_failed_due_to_regex 1
check "A: the query itself succeeded" is probe_dns_query_succeeded 1
check "A: mismatch explained" says 'no answer record matches "192\\.0\\.2\\.8" (1 answer records)'
check "A: answer records logged at debug level" probe 0 "$S" "$(js query_name=a.probe.test)" --log-level debug
check "A: the logged record" says "answer 1: a.probe.test.	0	IN	A	192.0.2.7"
check "AAAA: host record" probe 0 "$S" "$(js query_name=v6.probe.test record_type=AAAA 'expect=\tAAAA\t2001:db8::7$')"
check "AAAA: NODATA for an IPv4-only name succeeds" probe 0 "$S" "$(js query_name=v4.nx.test record_type=AAAA)"
check "AAAA: with no answer records" is probe_dns_answer_rrs 0
check "AAAA: NODATA fails an expect" probe 1 "$S" "$(js query_name=v4.nx.test record_type=AAAA expect=.)"
check "CNAME: alias and target" probe 0 "$S" "$(js query_name=alias.probe.test record_type=AAAA 'expect=^alias\.probe\.test\.\t[0-9]+\tIN\tCNAME\tv6\.probe\.test\.$')"
check "CNAME: two answer records" is probe_dns_answer_rrs 2
check "MX: both" probe 0 "$S" "$(js query_name=probe.test record_type=MX 'expect=\tMX\t20 mx2\.probe\.test\.$')"
check "MX: two answer records" is probe_dns_answer_rrs 2
check "TXT: strings quoted and escaped" probe 0 "$S" "$(js query_name=txt.probe.test record_type=TXT 'expect=\tTXT\t"v=spf1 -all" "second \\"quoted\\""$')"
check "SRV" probe 0 "$S" "$(js query_name=_dns._udp.probe.test record_type=SRV 'expect=\tSRV\t5 10 53 ns1\.probe\.test\.$')"
check "PTR of an IPv4 address" probe 0 "$S" "$(js query_name=192.0.2.44 record_type=PTR 'expect=^44\.2\.0\.192\.in-addr\.arpa\.\t[0-9]+\tIN\tPTR\thost4\.probe\.test\.$')"
check "PTR of an IPv6 address" probe 0 "$S" "$(js query_name=2001:db8::7 record_type=PTR 'expect=^7\.0\.0\.0(\.0){20}\.8\.b\.d\.0\.1\.0\.0\.2\.ip6\.arpa\.\t.*\tPTR\tv6\.probe\.test\.$')"
check "NXDOMAIN: fails" probe 1 "$S" "$(js query_name=x.nx.test)"
check "NXDOMAIN: rcode label" is probe_dns_rcode 1 'rcode="NXDOMAIN"'
check "NXDOMAIN: explained" says "$S answered NXDOMAIN, expected NOERROR"
check "NXDOMAIN: accepted when valid" probe 0 "$S" "$(js query_name=x.nx.test 'valid_rcodes[]=NOERROR,NXDOMAIN')"
check "REFUSED: fails at once (not retried)" probe 1 "$S" "$(js query_name=www.example.com)"
check "REFUSED: rcode label" is probe_dns_rcode 1 'rcode="REFUSED"'
check "REFUSED: quick" took_under 0.5
check "TCP: A" probe 0 "$S" "$(js query_name=a.probe.test transport=tcp 'expect=192\.0\.2\.7$')"
check "TCP: MX" probe 0 "$S" "$(js query_name=probe.test record_type=MX transport=tcp)"
check "TCP: two answer records" is probe_dns_answer_rrs 2
check "UDP: a truncated answer is asked again over TCP" probe 0 "$S" "$(js query_name=big.probe.test record_type=TXT 'expect="z{200}"$')"
check "server by name (localhost)" probe 0 "localhost:$port" "$(js query_name=a.probe.test)"
check "server by name: IPv4" is probe_ip_protocol 4

# ---- an authoritative server: SOA and NS --------------------------------------------------
aport=$(free_port)
start_dnsmasq auth 127.0.0.1 "$aport" --auth-zone=auth.test --auth-server=ns1.auth.test,127.0.0.1 \
    --auth-soa=2024010101,hostmaster.auth.test,1200,180,1209600 \
    --host-record=www.auth.test,192.0.2.55 || exit 1
A="127.0.0.1:$aport"
check "SOA" probe 0 "$A" "$(js query_name=auth.test record_type=SOA 'expect=^auth\.test\.\t[0-9]+\tIN\tSOA\tns1\.auth\.test\. hostmaster\.auth\.test\. 2024010101 1200 180 1209600 [0-9]+$')"
check "NS" probe 0 "$A" "$(js query_name=auth.test record_type=NS 'expect=\tNS\tns1\.auth\.test\.$')"
check "authoritative NXDOMAIN carries the SOA" probe 0 "$A" "$(js query_name=none.auth.test 'valid_rcodes[]=NXDOMAIN')"
check "one authority record" is probe_dns_authority_rrs 1
check "A over TCP, authoritative" probe 0 "$A" "$(js query_name=www.auth.test transport=tcp 'expect=192\.0\.2\.55$')"

# ---- IPv6, where the machine has ::1 -------------------------------------------------------
if python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
    p6=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0)); print(s.getsockname()[1])')
    start_dnsmasq v6 ::1 "$p6" --address=/probe.test/192.0.2.7 || exit 1
    check "IPv6 server" probe 0 "[::1]:$p6" "$(js query_name=a.probe.test)"
    check "IPv6 server: protocol 6" is probe_ip_protocol 6
    check "IPv6 server over TCP" probe 0 "[::1]:$p6" "$(js query_name=a.probe.test transport=tcp)"
else
    echo "  ok - IPv6 server # skip: no ::1 on this machine"
fi

# ---- misbehaving peers ----------------------------------------------------------------------
dport=$(free_port)
start_peer drop "$dport" || exit 1
check "no answer: fails at the timeout" probe 1 "127.0.0.1:$dport" "$(js query_name=a.probe.test)" --timeout 1s
check "no answer: explained" says "no answer from 127.0.0.1:$dport within 0.9"
check "no answer: after most of the timeout" took_over 0.8
check "no answer: not past it" took_under 1.3
check "no answer: query failed" is probe_dns_query_succeeded 0
check "no answer: probe_success 0" is probe_success 0
check "TCP to a UDP-only peer: refused at once" probe 1 "127.0.0.1:$dport" "$(js query_name=a.probe.test transport=tcp)" --timeout 1s
check "TCP refused: explained" says "refused or closed the connection (tcp)"
check "TCP refused: quick" took_under 0.5
cport=$(free_port)
check "closed UDP port: unreachable at once" probe 1 "127.0.0.1:$cport" "$(js query_name=a.probe.test)" --timeout 2s
check "closed UDP port: explained" says "port unreachable (udp)"
check "closed UDP port: quick" took_under 0.5

garbage() { # MODE EXPECTED-PART...
    local mode=$1 gp
    shift
    gp=$(free_port)
    start_peer "$mode" "$gp" || return 1
    probe 1 "127.0.0.1:$gp" "$(js query_name=a.probe.test)" --timeout 1s || return 1
    local part
    for part in "$@"; do says "$part" || return 1; done
    [[ $(val probe_dns_query_succeeded) == 0 ]] || { echo "    query_succeeded not 0"; return 1; }
}
check "garbage: random bytes" garbage random "datagrams came but none was the answer; the last:"
check "garbage: a cut header" garbage short "the last: a message of 5 bytes is shorter than the 12-byte header"
check "garbage: another question" garbage wrongq "the last: its question is not the one asked"
check "garbage: a compression loop" garbage loop "malformed answer from 127.0.0.1:" "answer record 1: compression pointer at byte 30 points forward or loops (to byte 30)"
check "garbage: a pointer out of the message" garbage forward "answer record 1: compression pointer at byte 30 points forward or loops (to byte 16383)"
check "garbage: the query echoed" garbage query "malformed answer" "the message is a query, not a response"
check "garbage: counts beyond the message" garbage counts "the header counts 60000 records but only 0 bytes follow"
check "garbage: trailing bytes" garbage trailing "3 bytes after the last record (at byte 30)"

# ---- settings refused before anything runs (exit 2) ------------------------------------------
check "no query_name: exit 2" probe 2 "$S" '{}'
check "no query_name: named" says '"query_name" must be a host name'
check "unknown record type: exit 2" probe 2 "$S" "$(js query_name=x record_type=BOGUS)"
check "bad transport: exit 2" probe 2 "$S" "$(js query_name=x transport=sctp)"
check "bad regex: exit 2" probe 2 "$S" "$(js query_name=x 'expect=(')"
check "bad regex: explained" says 'invalid regular expression at position 1'
check "bad rcode: exit 2" probe 2 "$S" "$(js query_name=x 'valid_rcodes[]=NOERROR,NOPE')"
check "bad name: exit 2" probe 2 "$S" "$(js query_name=a..b)"
check "dnsmasq saw TCP queries" grep -q 'query\[A\] a.probe.test' "$IT_DIR/local.log"
it_done
