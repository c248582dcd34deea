#!/usr/bin/env bash
# The http probe against real HTTP(S) servers on 127.0.0.1 (probe_http/server.py with
# certificates made by probe_http/certs.sh), driven through `dashdot probe http`: every sample
# name with sane values, status and content checks, redirects, request headers, auth, methods
# and bodies, gzip, bounded huge and endless bodies, timeouts, and TLS: a valid chain (the test
# CA trusted through SSL_CERT_FILE), self-signed, expired, wrong name and unknown-issuer
# certificates, expiry timestamps equal to the certificates' notAfter.
source "$(dirname "$0")/lib.sh"
it_init
here=$(cd "$(dirname "$0")" && pwd)
certs=$IT_DIR/certs
bash "$here/probe_http/certs.sh" "$certs" || exit 1
version=$("$DASHDOT" version 2>/dev/null | grep -o '[0-9][0-9.]*[0-9]' | head -1)

# start_peer NAME [--cert C --key K]: starts server.py; sets NAME_PORT.
start_peer() {
    local name=$1
    shift
    # The peer keeps the real clock under make test-clock's libfaketime (its sleeps must last).
    env -u LD_PRELOAD -u FAKETIME python3 "$here/probe_http/server.py" "$IT_DIR/$name.port" "$@" \
        2>"$IT_DIR/$name.log" &
    IT_PIDS+=("$!")
    for _ in $(seq 100); do
        [[ -s $IT_DIR/$name.port ]] && break
        sleep 0.1
    done
    [[ -s $IT_DIR/$name.port ]] || { echo "peer $name did not start"; cat "$IT_DIR/$name.log"; exit 1; }
    eval "${name}_PORT=$(cat "$IT_DIR/$name.port")"
}
start_peer plain
start_peer leaf --cert "$certs/leaf.chain.pem" --key "$certs/leaf.key"
start_peer self --cert "$certs/self.pem" --key "$certs/self.key"
start_peer expired --cert "$certs/expired.chain.pem" --key "$certs/expired.key"
start_peer other --cert "$certs/other.chain.pem" --key "$certs/other.key"
start_peer short --cert "$certs/short.pem" --key "$certs/short.key"
U=http://127.0.0.1:$plain_PORT
cat "$certs/ca.pem" "$certs/shortca.pem" > "$certs/trusted.pem"

# probe URL [dashdot probe options...]: one run; output in $IT_DIR/out, exit status in $rc.
# The agent's trust store is the system's unless TRUST names a CA file (SSL_CERT_FILE).
probe() {
    local url=$1
    shift
    if [[ -n ${TRUST:-} ]]; then
        env -u SSL_CERT_DIR SSL_CERT_FILE="$TRUST" "$DASHDOT" probe http "$url" "$@" \
            >"$IT_DIR/out" 2>"$IT_DIR/err"
    else
        env -u SSL_CERT_DIR -u SSL_CERT_FILE "$DASHDOT" probe http "$url" "$@" \
            >"$IT_DIR/out" 2>"$IT_DIR/err"
    fi
    rc=$?
    cat "$IT_DIR/err" >>"$IT_DIR/stderr.log"
}
# val METRIC [LABEL=VALUE]: the sample's value in the last output ("" if absent).
val() {
    local sel="^$1{"
    [[ -n ${2:-} ]] && sel="^$1{.*${2%%=*}=\"${2#*=}\""
    grep -E "$sel" "$IT_DIR/out" | head -1 | awk '{print $(NF - 1)}'
}
is() { local got; got=$(val "$1" "${3:-}"); [[ $got == "$2" ]] || { echo "    $1${3:+{$3\}} = '$got', want '$2'"; return 1; }; }
num() { awk -v a="$(val "$1" "${4:-}")" -v b="$3" "BEGIN { exit !(a != \"\" && a $2 b) }" || { echo "    $1${4:+{$4\}} = '$(val "$1" "${4:-}")', want $2 $3"; return 1; }; }
has() { grep -q -- "$1" "$IT_DIR/out" || { echo "    no '$1' in: $(tail -1 "$IT_DIR/out")"; return 1; }; }
verdict() { local last; last=$(tail -1 "$IT_DIR/out"); [[ $last == "# http $1"* ]] || { echo "    verdict: $last (exit $rc)"; return 1; }; }
failed_with() { verdict "failed" && has "$1" && [[ $rc == 1 ]]; }
succeeded() { verdict "succeeded" && [[ $rc == 0 ]]; }
not_after() { date -u -d "$(openssl x509 -enddate -noout -in "$1" | cut -d= -f2)" +%s; }
# maxrss_kib CMD...: runs CMD (output to $IT_DIR/out) and prints its peak RSS in KiB.
maxrss_kib() {
    python3 -c 'import resource, subprocess, sys
with open(sys.argv[1], "w") as out, open(sys.argv[2], "a") as err:
    subprocess.call(sys.argv[3:], stdout=out, stderr=err)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$IT_DIR/out" "$IT_DIR/stderr.log" "$@"
}

echo "plain http"
probe "$U/ok"
check "/ok succeeds" succeeded
for ph in resolve connect tls processing transfer; do
    check "phase $ph reported" num probe_http_duration_seconds ">=" 0 "phase=$ph"
done
check "no TLS phase over http" is probe_http_duration_seconds 0 phase=tls
check "status code 200" is probe_http_status_code 200
check "content length 3" is probe_http_content_length 3
check "uncompressed length 3" is probe_http_uncompressed_body_length 3
check "no redirects" is probe_http_redirects 0
check "not ssl" is probe_http_ssl 0
check "HTTP version 1.1" num probe_http_version == 1.1
check "regex not failed" is probe_failed_due_to_regex 0
check "Last-Modified read" is probe_http_last_modified_timestamp_seconds 1445412480
check "IPv4" is probe_ip_protocol 4
check "DNS lookup time" num probe_dns_lookup_time_seconds ">=" 0
check "probe_success 1" is probe_success 1
check "no TLS samples over http" bash -c "! grep -q '^probe_ssl\|^probe_tls' '$IT_DIR/out'"
check "common labels" has 'instance="127.0.0.1",job="http",probe="http",probe_id="1",target="'"$U"'/ok"'
sum=$(grep '^probe_http_duration_seconds{' "$IT_DIR/out" | awk '{s += $2} END {print s}')
check "phases add up to no more than the run" num probe_duration_seconds ">=" "$sum"
check "phases add up to most of the run" num probe_duration_seconds "<" "$(awk -v s="$sum" 'BEGIN {print s + 0.05}')"

probe "$U/status/503"
check "503 fails" failed_with "HTTP 503, expected 200"
check "503 reported" is probe_http_status_code 503
probe "$U/status/204" --settings '{"expect_status_codes":["204"]}'
check "204 accepted by expect_status_codes" succeeded
probe "$U/status/503" --settings '{"expect_status_codes":["204","3xx"]}'
check "the message lists what was expected" failed_with "HTTP 503, expected 200, 204 or 3xx"
probe "$U/status/201" --settings '{"expect_status":201}'
check "expect_status 201" succeeded
probe "$U/nolength"
check "no Content-Length: -1" is probe_http_content_length -1
check "... and the body still counted" is probe_http_uncompressed_body_length 15
probe "$U/http10"
check "HTTP/1.0 response: version 1" is probe_http_version 1
probe "$U/gzip"
check "gzip accepted" succeeded
check "gzip: uncompressed length 23000" is probe_http_uncompressed_body_length 23000
check "gzip: content length is the compressed size" num probe_http_content_length "<" 1000
port=$(free_port)
probe "http://127.0.0.1:$port/"
check "refused connection" failed_with "connect: Connection refused"
check "refused: status 0" is probe_http_status_code 0
probe "http://127.0.0.1:$plain_PORT/ok" --settings '{"ip_protocol":"ipv6"}'
check "ip_protocol ipv6 refuses an IPv4 address" failed_with "connect:"
probe "http://localhost:$plain_PORT/ok" --settings '{"ip_protocol":"ipv4"}'
check "ip_protocol ipv4 on localhost" succeeded
check "... over IPv4" is probe_ip_protocol 4

echo "redirects"
probe "$U/redirect"
check "redirect followed" succeeded
check "one redirect" is probe_http_redirects 1
probe "$U/redirect/3"
check "three redirects counted" is probe_http_redirects 3
check "final status 200" is probe_http_status_code 200
probe "$U/redirect/11"
check "more than 10 redirects fail" failed_with "more than 10 redirects"
probe "$U/redirect" --settings '{"follow_redirects":false}'
check "not followed: 302" failed_with "HTTP 302, expected 200"
probe "$U/redirect" --settings '{"follow_redirects":false,"expect_status_codes":["3xx"]}'
check "not followed, 3xx accepted" succeeded
probe "$U/redirect-ftp"
check "redirect to ftp refused" failed_with "redirect refused"
probe "$U/redirect-to?https://127.0.0.1:$leaf_PORT/ok" --settings '{"tls_verify":false}'
check "http to https redirect" succeeded
check "... ends on https" is probe_http_ssl 1
check "... with a TLS phase" num probe_http_duration_seconds ">" 0 phase=tls
check "... and its TLS version" is probe_tls_version_info 1 'version=TLS 1.[23]'

echo "content checks"
probe "$U/ok" --settings '{"body_regex":"^o+k$"}'
check "body_regex matches" succeeded
probe "$U/ok" --settings '{"body_regex":"^nope"}'
check "body_regex mismatch" failed_with "body does not match regex"
check "... probe_failed_due_to_regex 1" is probe_failed_due_to_regex 1
probe "$U/json" --settings '{"json_field":"data.0.state=up"}'
check "json_field matches" succeeded
probe "$U/json" --settings '{"json_field":"status=ok"}'
check "json_field top level" succeeded
probe "$U/json" --settings '{"json_field":"n=1.50"}'
check "json_field numbers compare as numbers" succeeded
probe "$U/json" --settings '{"json_field":"data.0.state=down"}'
check "json_field mismatch" failed_with 'json_field data.0.state is "up", expected "down"'
check "... probe_failed_due_to_regex 1" is probe_failed_due_to_regex 1
probe "$U/json" --settings '{"json_field":"data.3.state=up"}'
check "json_field missing" failed_with "json_field data.3.state: not found"
probe "$U/badjson" --settings '{"json_field":"status=ok"}'
check "json_field on a broken document" failed_with "body is not JSON"
probe "$U/ok" --settings '{"body_regex":"("}'
check "bad regex: exit 2" [ "$rc" = 2 ]
check "... explained" grep -q "invalid regular expression" "$IT_DIR/err"

echo "requests"
probe "$U/headers" --settings '{"headers":["X-Test: hello there"],"json_field":"headers.x-test=hello there"}'
check "header sent" succeeded
probe "$U/headers" --settings "{\"json_field\":\"headers.user-agent=dashdot-probe/$version\"}"
check "User-Agent dashdot-probe/$version" succeeded
probe "$U/headers" --settings '{"json_field":"headers.accept-encoding=deflate, gzip, br, zstd"}'
check "Accept-Encoding sent" succeeded
probe "$U/headers" --settings '{"auth_user":"alice","auth_password":"s3cr:et","json_field":"basic=alice:s3cr:et"}'
check "basic auth sent" succeeded
probe "$U/headers" --settings '{"bearer_token":"tok-123","json_field":"authorization=Bearer tok-123"}'
check "bearer token sent" succeeded
probe "$U/post" --settings '{"method":"POST","body":"a=1&b=2","json_field":"body=a=1&b=2"}'
check "POST with body" succeeded
probe "$U/post" --settings '{"method":"PUT","body":"{\"x\":1}","headers":["Content-Type: application/json"],"json_field":"content_type=application/json"}'
check "PUT with body and content type" succeeded
probe "$U/post" --settings '{"method":"PUT","body":"put body","json_field":"method=PUT"}'
check "PUT method" succeeded
probe "$U/post" --settings '{"method":"OPTIONS","json_field":"method=OPTIONS"}'
check "OPTIONS method" succeeded
probe "$U/post" --settings '{"method":"HEAD"}'
check "HEAD" succeeded
check "HEAD reads no body" is probe_http_uncompressed_body_length 0

echo "bounds"

probe "$U/slow" --timeout 2s
check "slow answer: timeout" failed_with "timeout"
check "... at the timeout" num probe_duration_seconds "<" 2.5
check "... not before" num probe_duration_seconds ">=" 1.99
probe "$U/slowbody" --timeout 1500ms
check "slow body: timeout" failed_with "timeout"
kib=$(maxrss_kib env -u SSL_CERT_DIR "$DASHDOT" probe http "$U/huge" --settings '{"body_regex":"z"}')
check "11 MiB body fails" has "failed in .*: body larger than 10 MiB"
check "... its Content-Length reported" is probe_http_content_length 11534336
check "... at most 10 MiB read" num probe_http_uncompressed_body_length "<=" 10485760
check "... in bounded memory ($kib KiB)" [ "$kib" -lt 98304 ]
check "... quickly" num probe_duration_seconds "<" 5
kib=$(maxrss_kib env -u SSL_CERT_DIR "$DASHDOT" probe http "$U/endless" --settings '{"body_regex":"z"}')
check "endless body fails" has "failed in .*: body larger than 10 MiB"
check "... unknown length" is probe_http_content_length -1
check "... in bounded memory ($kib KiB)" [ "$kib" -lt 98304 ]
check "... quickly" num probe_duration_seconds "<" 5

echo "TLS"
leaf_exp=$(not_after "$certs/leaf.pem")
TRUST=$certs/trusted.pem probe "https://127.0.0.1:$leaf_PORT/ok"
check "valid chain (CA from SSL_CERT_FILE)" succeeded
check "ssl 1" is probe_http_ssl 1
check "TLS phase measured" num probe_http_duration_seconds ">" 0 phase=tls
check "TLS version info" has 'probe_tls_version_info{.*version="TLS 1.[23]"} 1'
check "earliest expiry = leaf notAfter ($leaf_exp)" is probe_ssl_earliest_cert_expiry "$leaf_exp"
check "last chain expiry = leaf notAfter" is probe_ssl_last_chain_expiry_timestamp_seconds "$leaf_exp"
TRUST=$certs/trusted.pem probe "https://localhost:$leaf_PORT/ok"
check "valid chain by name (localhost)" succeeded
short_exp=$(not_after "$certs/short.pem")
shortca_exp=$(not_after "$certs/shortca.pem")
TRUST=$certs/trusted.pem probe "https://127.0.0.1:$short_PORT/ok"
check "leaf alone, anchor from the store" succeeded
check "earliest expiry: the presented leaf" is probe_ssl_earliest_cert_expiry "$short_exp"
check "last chain expiry: the anchor, which expires first" is probe_ssl_last_chain_expiry_timestamp_seconds "$shortca_exp"
probe "https://127.0.0.1:$leaf_PORT/ok"
check "unknown issuer (system store only)" failed_with "TLS: certificate issuer is unknown"
check "... expiry still reported" is probe_ssl_earliest_cert_expiry "$leaf_exp"
check "... no chain expiry (nothing verified)" bash -c "! grep -q '^probe_ssl_last_chain' '$IT_DIR/out'"
check "... status 0: nothing was sent" is probe_http_status_code 0
self_exp=$(not_after "$certs/self.pem")
probe "https://127.0.0.1:$self_PORT/ok"
check "self-signed fails" failed_with "TLS: self-signed certificate"
check "... expiry still reported" is probe_ssl_earliest_cert_expiry "$self_exp"
probe "https://127.0.0.1:$self_PORT/ok" --settings '{"tls_verify":false}'
check "self-signed with tls_verify false" succeeded
check "... expiry reported" is probe_ssl_earliest_cert_expiry "$self_exp"
TRUST=$certs/trusted.pem probe "https://127.0.0.1:$expired_PORT/ok"
check "expired fails" failed_with "TLS: certificate has expired"
check "... expiry = 2020-02-01" is probe_ssl_earliest_cert_expiry 1580515200
probe "https://127.0.0.1:$expired_PORT/ok" --settings '{"tls_verify":false}'
check "expired with tls_verify false" succeeded
check "... expiry reported" is probe_ssl_earliest_cert_expiry 1580515200
TRUST=$certs/trusted.pem probe "https://127.0.0.1:$other_PORT/ok"
check "wrong name fails" failed_with "TLS: certificate is not valid for 127.0.0.1"
TRUST=$certs/trusted.pem probe "https://127.0.0.1:$leaf_PORT/redirect-to?https://127.0.0.1:$self_PORT/ok"
check "redirect to a bad certificate fails" failed_with "TLS: self-signed certificate"
check "... reports that certificate" is probe_ssl_earliest_cert_expiry "$self_exp"
check "... after one redirect" is probe_http_redirects 1
TRUST=$certs/trusted.pem probe "https://127.0.0.1:$leaf_PORT/redirect-to?$U/ok"
check "https to http redirect" succeeded
check "... ends on http" is probe_http_ssl 0
check "... no TLS samples of the first request" bash -c "! grep -q '^probe_ssl\|^probe_tls' '$IT_DIR/out'"
TRUST=$certs/trusted.pem probe "https://127.0.0.1:$leaf_PORT/slow" --timeout 1s
check "https timeout" failed_with "timeout"

check "no sanitizer reports" bash -c "! grep -q 'Sanitizer\|runtime error' '$IT_DIR/stderr.log'"
it_done
