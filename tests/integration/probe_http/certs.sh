#!/usr/bin/env bash
# Makes the certificates of tests/integration/probe_http.sh with openssl in directory DIR:
#   ca.pem ca.key            a test CA (10 years)
#   leaf.pem leaf.key        127.0.0.1/localhost, signed by the CA, valid for 30 days from now;
#                            leaf.chain.pem = leaf + CA (what the server presents)
#   self.pem self.key        self-signed for 127.0.0.1/localhost
#   expired.pem expired.key  signed by the CA, valid 2020-01-01 .. 2020-02-01 only;
#                            expired.chain.pem = expired + CA
#   other.pem other.key      signed by the CA for other.example only (not 127.0.0.1);
#                            other.chain.pem = other + CA
#   shortca.pem              a second CA, valid for 20 days only
#   short.pem short.key      127.0.0.1/localhost, signed by shortca, valid for 30 days (the
#                            server presents it alone: the chain's anchor expires first)
# Explicit start and end dates come from `openssl ca` (OpenSSL 3.0's x509 has no -not_before).
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
mkdir -p db
: > db/index.txt
echo 1000 > db/serial
cat > ca.cnf <<'EOF'
[ca]
default_ca = test_ca
[test_ca]
dir = .
database = db/index.txt
serial = db/serial
new_certs_dir = db
certificate = ca.pem
private_key = ca.key
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[any]
commonName = supplied
[leaf]
basicConstraints = CA:FALSE
keyUsage = digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost
[other]
basicConstraints = CA:FALSE
keyUsage = digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:other.example
EOF
q() { local out; out=$("$@" 2>&1) || { echo "certs.sh: failed: $*: $out" >&2; exit 1; }; }
san="subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost"
q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key \
    -out ca.pem -days 3650 -subj "/CN=dashdot probe test CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout shortca.key -out shortca.pem -days 20 -subj "/CN=dashdot probe short-lived CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
for name in leaf expired other short; do
    cn=127.0.0.1
    [[ $name == other ]] && cn=other.example
    q openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$name.key" -out "$name.csr" -subj "/CN=$cn"
done
q openssl ca -batch -config ca.cnf -extensions leaf -days 30 -in leaf.csr -out leaf.pem -notext
q openssl ca -batch -config ca.cnf -extensions leaf -startdate 20200101000000Z \
    -enddate 20200201000000Z -in expired.csr -out expired.pem -notext
q openssl ca -batch -config ca.cnf -extensions other -days 30 -in other.csr -out other.pem -notext
q openssl ca -batch -config ca.cnf -cert shortca.pem -keyfile shortca.key -extensions leaf \
    -days 30 -in short.csr -out short.pem -notext
cat leaf.pem ca.pem > leaf.chain.pem
cat other.pem ca.pem > other.chain.pem
cat expired.pem ca.pem > expired.chain.pem
q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout self.key \
    -out self.pem -days 30 -subj "/CN=127.0.0.1" -addext "$san"
