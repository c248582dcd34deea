#!/usr/bin/env bash
# The snmp probe against a real Debian snmpd on 127.0.0.1 (v1, v2c, v3 authNoPriv and authPriv,
# wrong community and credentials, the IF-MIB for lo, configured scalars and subtrees, values
# cross-checked with snmpget/snmpwalk) and against misbehaving agents (probe_snmp/fakeagent.py:
# one that never answers, one that answers garbage, walks that go backwards or never end, huge
# strings). Each run goes through `dashdot probe snmp`.
source "$(dirname "$0")/lib.sh"
it_init
here=$(cd "$(dirname "$0")" && pwd)

if ! command -v snmpd >/dev/null && [[ ! -x /usr/sbin/snmpd ]]; then
    echo "snmpd is not installed (Debian packages snmpd and snmp: scripts/deps.sh test)"
    exit 1
fi
SNMPD=$(command -v snmpd || echo /usr/sbin/snmpd)

# A free UDP port on 127.0.0.1.
udp_port() {
    python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

port=$(udp_port)
mkdir -p "$IT_DIR/persist"
cat >"$IT_DIR/snmpd.conf" <<EOF
agentAddress udp:127.0.0.1:$port
rocommunity testcomm 127.0.0.1
createUser authuser SHA authpass12345
createUser privuser SHA authpass12345 AES privpass12345
rouser authuser auth
rouser privuser priv
sysName dashdot-snmp-test
sysLocation test rack
EOF
# -C: only this config; -r: run without root's files; the persistent dir (USM users, engine
# boots) is the test's own. MIBS="" keeps snmpd from parsing MIB files it does not need.
SNMP_PERSISTENT_DIR="$IT_DIR/persist" MIBS="" "$SNMPD" -f -C -c "$IT_DIR/snmpd.conf" -r \
    -p "$IT_DIR/snmpd.pid" -Lf "$IT_DIR/snmpd.log" >/dev/null 2>&1 &
IT_PIDS+=($!)
snmp_get() { snmpget -v2c -c testcomm -On -Oqv -t 1 -r 0 "127.0.0.1:$port" "$@" 2>/dev/null; }
if ! wait_until 10 snmp_get 1.3.6.1.2.1.1.5.0; then
    echo "snmpd did not start:"; tail -20 "$IT_DIR/snmpd.log"; exit 1
fi

# probe NAME TARGET SETTINGS [args...]: runs dashdot probe snmp, output in $IT_DIR/NAME.out,
# stderr in NAME.log, exit status in NAME.rc.
probe() {
    local name=$1 target=$2 settings=$3
    shift 3
    "$DASHDOT" probe snmp "$target" --settings "$settings" "$@" >"$IT_DIR/$name.out" \
        2>"$IT_DIR/$name.log"
    echo $? >"$IT_DIR/$name.rc"
}
rc_is() { [[ $(cat "$IT_DIR/$1.rc") == "$2" ]] || { echo "    exit $(cat "$IT_DIR/$1.rc"), want $2: $(tail -1 "$IT_DIR/$1.out")"; return 1; }; }
has() { grep -q -- "$2" "$IT_DIR/$1.out" || { echo "    no \"$2\" in $1:"; tail -3 "$IT_DIR/$1.out" | sed 's/^/    /'; return 1; }; }
lacks() { ! grep -q -- "$2" "$IT_DIR/$1.out"; }
clean() { ! grep -q 'Sanitizer\|runtime error' "$IT_DIR/$1.log" || { head -20 "$IT_DIR/$1.log"; return 1; }; }
# value NAME SELECTOR: the value of the first sample whose line contains SELECTOR.
value() { grep -F -- "$2" "$IT_DIR/$1.out" | head -1 | awk '{print $(NF-1)}'; }
# took NAME LO HI: the run's reported duration is within [LO, HI] seconds.
took() {
    local s
    s=$(sed -n 's/^# snmp [a-z]* in \([0-9.]*\) s.*/\1/p' "$IT_DIR/$1.out")
    python3 -c "import sys; sys.exit(0 if $2 <= $s <= $3 else 1)" || { echo "    took $s s"; return 1; }
}
near() { python3 -c "import sys; sys.exit(0 if abs(float('$1') - float('$2')) <= $3 else 1)" || { echo "    $1 vs $2"; return 1; }; }

T="127.0.0.1:$port"
V2='{"version":"2c","community":"testcomm"}'

# ---- v2c: system, IF-MIB --------------------------------------------------------------------
probe v2c "$T" "$V2"
check "v2c: succeeds" rc_is v2c 0
check "v2c: probe_success 1" has v2c '^probe_success{.*} 1 '
check "v2c: sysUpTime" has v2c '^sysUpTime{'
check "v2c: snmp_sys_info with sysName" has v2c 'snmp_sys_info{.*sysName="dashdot-snmp-test"'
check "v2c: sysObjectID is net-snmp's" has v2c 'sysObjectID="1.3.6.1.4.1.8072.3.2.10"'
want_descr=$(snmp_get 1.3.6.1.2.1.1.1.0 | sed 's/^"//; s/"$//')
check "v2c: sysDescr as snmpget reads it" has v2c "sysDescr=\"$want_descr\""
up_probe=$(value v2c 'sysUpTime{')
# -Ot: TimeTicks raw, in hundredths of a second.
up_agent=$(snmpget -v2c -c testcomm -On -Oqv -Ot -t 1 -r 0 "$T" 1.3.6.1.2.1.1.3.0)
check "v2c: sysUpTime in hundredths of a second, as snmpget's TimeTicks" near "$up_probe" "$up_agent" 300
check "v2c: lo is ifIndex 1 with ifName" has v2c 'ifHCInOctets{.*ifDescr="lo",ifIndex="1",ifName="lo"'
lo_name=$(snmpwalk -v2c -c testcomm -On -Oqv "$T" 1.3.6.1.2.1.31.1.1.1.1.1 2>/dev/null | tr -d '"')
check "v2c: snmpwalk agrees on ifName.1" [ "$lo_name" = lo ]
for m in ifHCOutOctets ifInErrors ifOutErrors ifInDiscards ifOutDiscards ifOperStatus \
         ifAdminStatus ifHighSpeed ifHCInUcastPkts ifHCOutUcastPkts; do
    check "v2c: $m for lo" has v2c "^$m{.*ifIndex=\"1\",ifName=\"lo\""
done
check "v2c: HC counters, not the 32-bit ones" lacks v2c '^ifInOctets{'
check "v2c: lo is up" has v2c 'ifOperStatus{.*ifName="lo".*} 1 '
ifs=$(snmpwalk -v2c -c testcomm -On "$T" 1.3.6.1.2.1.2.2.1.1 2>/dev/null | grep -c .)
check "v2c: one ifAdminStatus per interface snmpwalk lists ($ifs)" \
    [ "$(grep -c '^ifAdminStatus{' "$IT_DIR/v2c.out")" = "$ifs" ]
lo_in=$(value v2c 'ifHCInOctets{device="127.0.0.1",endpoint="'"$T"'",ifDescr="lo",ifIndex="1"')
lo_in_walk=$(snmpget -v2c -c testcomm -On -Oqv "$T" 1.3.6.1.2.1.31.1.1.1.6.1 2>/dev/null)
check "v2c: lo's ifHCInOctets close to snmpget's" near "$lo_in" "$lo_in_walk" 10000000
check "v2c: snmp_scrape_walk_duration_seconds" has v2c '^snmp_scrape_walk_duration_seconds{'
check "v2c: snmp_scrape_pdus_returned counts varbinds" \
    python3 -c "import sys; sys.exit(0 if float('$(value v2c snmp_scrape_pdus_returned)') >= 4 + 10 * $ifs else 1)"
check "v2c: common labels" has v2c 'job="snmp",probe="snmp",probe_id="1",target="'"$T"'"'
check "v2c: clean" clean v2c

# ---- v1: no Counter64, so the 32-bit octet counters ------------------------------------------
probe v1 "$T" '{"version":"1","community":"testcomm"}'
check "v1: succeeds" rc_is v1 0
check "v1: ifInOctets for lo" has v1 '^ifInOctets{.*ifName="lo"'
check "v1: ifOutOctets for lo" has v1 '^ifOutOctets{.*ifName="lo"'
check "v1: no HC counters" lacks v1 '^ifHC'
check "v1: sysUpTime" has v1 '^sysUpTime{'

# ---- v3 ---------------------------------------------------------------------------------------
probe v3auth "$T" '{"version":"3","user":"authuser","auth_protocol":"SHA","auth_password":"authpass12345"}'
check "v3 authNoPriv: succeeds" rc_is v3auth 0
check "v3 authNoPriv: sysName" has v3auth 'sysName="dashdot-snmp-test"'
check "v3 authNoPriv: lo" has v3auth 'ifHCInOctets{.*ifName="lo"'
probe v3priv "$T" '{"version":"3","user":"privuser","auth_protocol":"SHA","auth_password":"authpass12345","priv_protocol":"AES","priv_password":"privpass12345","interfaces":false}'
check "v3 authPriv: succeeds" rc_is v3priv 0
check "v3 authPriv: sysUpTime" has v3priv '^sysUpTime{'
check "v3 authPriv: clean" clean v3priv
probe v3wrong "$T" '{"version":"3","user":"authuser","auth_protocol":"SHA","auth_password":"wrongpass123"}' --timeout 3s
check "v3 wrong auth password: fails at once" rc_is v3wrong 1
check "v3 wrong auth password: says so" has v3wrong 'wrong auth password'
check "v3 wrong auth password: well before the timeout" took v3wrong 0 1.5
probe v3user "$T" '{"version":"3","user":"nobody","auth_protocol":"SHA","auth_password":"authpass12345"}'
check "v3 unknown user: fails" rc_is v3user 1
check "v3 unknown user: says so" has v3user 'does not know this user'
probe v3level "$T" '{"version":"3","user":"authuser","auth_protocol":"SHA","auth_password":"authpass12345","priv_protocol":"AES","priv_password":"privpass12345"}'
check "v3 security level the user lacks: fails" rc_is v3level 1
check "v3 security level the user lacks: says so" has v3level 'security level'
probe v3noauth "$T" '{"version":"3","user":"privuser","auth_protocol":"SHA","auth_password":"authpass12345","interfaces":false}'
check "v3 below the user's level: the agent refuses" rc_is v3noauth 1
check "v3 below the user's level: authorizationError" has v3noauth 'authorizationError'

# ---- wrong community: silence until the timeout ----------------------------------------------
probe wrongcomm "$T" '{"community":"nope"}' --timeout 2s
check "wrong community: fails" rc_is wrongcomm 1
check "wrong community: probe_success 0" has wrongcomm '^probe_success{.*} 0 '
check "wrong community: no answer, named" has wrongcomm 'no answer from 127.0.0.1:'
check "wrong community: at the timeout" took wrongcomm 1.5 2.2
check "wrong community: no agent data" lacks wrongcomm '^sysUpTime'

# ---- configured OIDs: a subtree and a scalar -------------------------------------------------
probe oids "$T" '{"community":"testcomm","interfaces":false,"oids":["1.3.6.1.2.1.1","1.3.6.1.2.1.25.1.1.0","1.3.6.1.2.1.1.3.0","1.3.6.1.4.1.99999"]}'
check "oids: succeeds" rc_is oids 0
check "oids: the scalar hrSystemUptime.0" has oids '^snmp_oid{.*oid="1.3.6.1.2.1.25.1.1.0"'
check "oids: a string as snmp_oid_info" has oids 'snmp_oid_info{.*oid="1.3.6.1.2.1.1.5.0".*value="dashdot-snmp-test"'
check "oids: an OID value as text" has oids 'oid="1.3.6.1.2.1.1.2.0".*value="1.3.6.1.4.1.8072.3.2.10"'
check "oids: sysLocation" has oids 'value="test rack"'
walked=$(snmpwalk -v2c -c testcomm -On "$T" 1.3.6.1.2.1.1 2>/dev/null | grep -c .)
got=$(grep -c '^snmp_oid\(_info\)\?{.*oid="1\.3\.6\.1\.2\.1\.1\.' "$IT_DIR/oids.out")
check "oids: one series per OID snmpwalk returns in the subtree ($walked)" [ "$got" = "$walked" ]
check "oids: sysUpTime.0 once, though asked twice" \
    [ "$(grep -c 'oid="1.3.6.1.2.1.1.3.0"' "$IT_DIR/oids.out")" = 1 ]
check "oids: nothing for an empty subtree" lacks oids '1.3.6.1.4.1.99999'
check "oids: no interfaces when off" lacks oids '^if'

probe sysonly "localhost:$port" '{"community":"testcomm","interfaces":false}'
check "a host name resolves (localhost)" rc_is sysonly 0
check "interfaces off, no OIDs: the system only" \
    [ "$(grep -vc '^#' "$IT_DIR/sysonly.out")" = 6 ]

"$DASHDOT" probe snmp "$T" --settings '{"version":"4"}' >"$IT_DIR/bad.out" 2>&1
check "bad settings: exit 2" [ $? = 2 ]
check "bad settings: explained" grep -q '"version" must be' "$IT_DIR/bad.out"

# ---- misbehaving agents ----------------------------------------------------------------------
fake() { # fake MODE: starts fakeagent.py on a fresh port, sets fport
    fport=$(udp_port)
    python3 "$here/probe_snmp/fakeagent.py" "$fport" "$1" >"$IT_DIR/fake-$1.txt" 2>&1 &
    IT_PIDS+=($!)
    wait_until 5 grep -q ready "$IT_DIR/fake-$1.txt"
}
fake drop
probe drop "127.0.0.1:$fport" '{}' --timeout 2s
check "silent agent: fails" rc_is drop 1
check "silent agent: probe_success 0" has drop '^probe_success{.*} 0 '
check "silent agent: at the timeout" took drop 1.5 2.2
check "silent agent: says no answer" has drop 'no answer'

fake garbage
probe garbage "127.0.0.1:$fport" '{}' --timeout 2s
check "garbage answers: fail without a crash" rc_is garbage 1
check "garbage answers: clean" clean garbage
probe garbage3 "127.0.0.1:$fport" '{"version":"3","user":"u","auth_protocol":"MD5","auth_password":"12345678"}' --timeout 2s
check "garbage answers to v3: fail without a crash" rc_is garbage3 1
check "garbage answers to v3: clean" clean garbage3

fake backwards
probe backwards "127.0.0.1:$fport" '{"interfaces":false,"oids":["1.3.6.1.4.1.99.1"]}' --timeout 5s
check "walk going backwards: fails" rc_is backwards 1
check "walk going backwards: says so" has backwards 'OID not increasing in the walk of 1.3.6.1.4.1.99.1'
probe backwards_if "127.0.0.1:$fport" '{}' --timeout 5s
check "IF-MIB walk going backwards: fails" rc_is backwards_if 1

fake endless
probe endless "127.0.0.1:$fport" '{"interfaces":false,"oids":["1.3.6.1.4.1.99.1"]}' --timeout 30s
check "endless walk: stopped at the varbind cap" has endless 'returned more than 100000 varbinds'
check "endless walk: clean" clean endless
probe endless_cut "127.0.0.1:$fport" '{}' --timeout 300ms
check "cancelled at the timeout mid-walk: fails" rc_is endless_cut 1
# Cancelled by the scheduler mid-walk, or (on a loaded machine, the fake agent slow to start
# answering) ended by the probe itself just before the timeout: either way within it.
check "cancelled at the timeout mid-walk: by the scheduler (or no answer in time)" \
    bash -c "grep -qE 'timeout after|no answer from' '$IT_DIR/endless_cut.out'"
check "cancelled at the timeout mid-walk: clean (nothing leaked)" clean endless_cut

fake big
probe big "127.0.0.1:$fport" '{}'
check "huge strings: succeeds" rc_is big 0
check "huge strings: label values cut to 2047 bytes" \
    python3 -c "import re,sys; v=re.search(r'sysDescr=\"(x*)\"', open('$IT_DIR/big.out').read()); sys.exit(0 if v and len(v.group(1)) == 2047 else 1)"
check "huge strings: sysUpTime still read" has big '^sysUpTime{.*} 4242 '

it_done
