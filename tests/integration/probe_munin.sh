#!/usr/bin/env bash
# The munin probe (`dashdot probe munin`) against Debian's real munin-node, started here on
# 127.0.0.1 with its own configuration and plugins from probe_munin/plugins (a GAUGE with
# thresholds, DERIVE/COUNTER/ABSOLUTE with an unknown and a time-stamped value, a multigraph
# plugin, one that hangs past the node's plugin timeout, one that prints garbage), and
# against misbehaving fake nodes (silent, an endless line, not munin, a hang-up mid-answer,
# an endless answer), plus a closed port.
#
# munin-node reads its plugins from $MUNIN_CONFDIR/plugins and has no option to change that
# (the script's servicedir is never set from the command line or the config file), and its
# state and plugin-conf.d directories are fixed the same way, all in Munin::Common::Defaults.
# So the test loads its own copy of that module, with every directory moved into the temp dir,
# through PERL5LIB (munin-node puts PERL5LIB on its include path on purpose, in taint mode).
# Run as root, munin-node would run plugins as "nobody", who cannot enter the temp dir: the
# config makes the current user the plugins' user.
source "$(dirname "$0")/lib.sh"
it_init
HERE=$(cd "$(dirname "$0")" && pwd)
FIX=$HERE/probe_munin

probe() {
    "$DASHDOT" probe munin "$@" >"$IT_DIR/out" 2>&1
    echo $? >"$IT_DIR/rc"
    cat "$IT_DIR/out" >>"$IT_DIR/all.out"
}
no_sanitizer_report() { ! grep -B2 -A12 'Sanitizer\|runtime error' "$IT_DIR/all.out"; }
rc_is() { [[ $(cat "$IT_DIR/rc") == "$1" ]] || { echo "    exit $(cat "$IT_DIR/rc"), want $1"; tail -3 "$IT_DIR/out" | sed 's/^/    /'; return 1; }; }
verdict_is() { local v; v=$(tail -n1 "$IT_DIR/out"); [[ $v =~ $1 ]] || { echo "    verdict: $v"; return 1; }; }
# lines METRIC [FRAGMENT...]: the samples of METRIC whose text holds every fragment.
lines() {
    local m=$1 l
    shift
    l=$(grep -E "^$m[{ ]" "$IT_DIR/out")
    for f in "$@"; do l=$(grep -F -- "$f" <<<"$l"); done
    [[ -n $l ]] && echo "$l"
}
# val_is METRIC WANT [FRAGMENT...]: exactly one such sample, with value WANT.
val_is() {
    local m=$1 want=$2 l n
    shift 2
    l=$(lines "$m" "$@")
    n=$(grep -c . <<<"$l")
    [[ -n $l && $n == 1 ]] && python3 -c "import sys; sys.exit(float(sys.argv[1]) != float(sys.argv[2]))" "$(awk '{print $(NF-1)}' <<<"$l")" "$want" ||
        { echo "    $m $* : '$l' ($n), want value $want"; return 1; }
}
hasnt() { [[ -z $(lines "$@") ]] || { echo "    unexpected: $(lines "$@" | head -2)"; return 1; }; }

listening() { ss -Hltn "sport = :$1" | grep -q .; }
wait_listening() { wait_until 15 listening "$1" || { echo "nothing listens on $1"; return 1; }; }
start() {
    local name=$1
    shift
    "$@" >"$IT_DIR/$name.log" 2>&1 &
    IT_PIDS+=("$!")
}

# ---- munin-node with our configuration -------------------------------------------------------
defaults=/usr/share/perl5/Munin/Common/Defaults.pm
if [[ ! -x /usr/sbin/munin-node || ! -f $defaults ]]; then
    echo "munin-node is not installed (Debian package munin-node)"
    exit 1
fi
NODE=$IT_DIR/node
mkdir -p "$NODE/lib/Munin/Common" "$NODE/etc/plugins" "$NODE/etc/plugin-conf.d" "$NODE/state" \
    "$NODE/log"
sed -e "s|q{/etc/munin}|q{$NODE/etc}|" -e "s|q{/var/lib/munin-node/plugin-state}|q{$NODE/state}|" \
    -e "s|q{/var/log/munin}|q{$NODE/log}|" -e "s|q{/var/run/munin}|q{$NODE}|" \
    -e "s|q{/var/lib/munin-async}|q{$NODE/spool}|" -e "s|q{/var/lib/munin}|q{$NODE/db}|" \
    "$defaults" >"$NODE/lib/Munin/Common/Defaults.pm"
grep -q "MUNIN_CONFDIR *= q{$NODE/etc}" "$NODE/lib/Munin/Common/Defaults.pm" ||
    { echo "cannot move munin's directories (Munin::Common::Defaults changed?)"; exit 1; }
cp "$FIX"/plugins/* "$NODE/etc/plugins/"
chmod 755 "$NODE"/etc/plugins/*
port=$(free_port)
cat >"$NODE/etc/munin-node.conf" <<EOF
log_level 4
log_file $NODE/log/munin-node.log
pid_file $NODE/munin-node.pid
background 0
setsid 0
user $(id -un)
group $(id -gn)
default_plugin_user $(id -un)
default_plugin_group $(id -gn)
timeout 1
host_name testnode
allow ^127\.0\.0\.1\$
host 127.0.0.1
port $port
EOF
start munin-node env PERL5LIB="$NODE/lib" /usr/sbin/munin-node --config "$NODE/etc/munin-node.conf"
wait_listening "$port" || { cat "$IT_DIR/munin-node.log" "$NODE/log/munin-node.log"; exit 1; }

probe "127.0.0.1:$port" --timeout 20s
check "node: the session succeeds" rc_is 0
check "node: two plugins failed, named" verdict_is '^# munin succeeded in [0-9.]+ s: 2 of 5 plugins failed; first (garbage: fetch line 1: malformed line "this is not munin"|hang: fetch line 1: the plugin timed out on the node)$'
check "node: munin_plugins 5" val_is munin_plugins 5
check "node: munin_fetch_errors 2" val_is munin_fetch_errors 2
check "GAUGE: value" val_is munin_load_load 0.42 'graph="load"' 'plugin="load"' 'job="munin"'
check "GAUGE: field info" val_is munin_field_info 1 'critical="5:20"' 'field="load"' 'graph="load"' 'plugin="load"' 'title="Load average"' 'type="GAUGE"' 'vlabel="load"' 'warning="10"'
check "GAUGE: warning threshold" val_is munin_field_warning 10 'field="load"' 'plugin="load"'
check "GAUGE: critical range's upper bound" val_is munin_field_critical 20 'field="load"' 'plugin="load"'
check "DERIVE: raw value" val_is munin_traffic_down 123456789 'graph="traffic"' 'plugin="traffic"'
check "DERIVE: type" val_is munin_field_info 1 'field="down"' 'type="DERIVE"' 'title="Traffic"' 'vlabel="bits per ${graph_period}"'
check "COUNTER: raw value" val_is munin_traffic_up 987654321 'plugin="traffic"'
check "COUNTER: type" val_is munin_field_info 1 'field="up"' 'type="COUNTER"'
check "ABSOLUTE: the value's own time stamp" bash -c "grep '^munin_traffic_errors{' '$IT_DIR/out' | grep -q ' 3 1700000000000\$'"
check "ABSOLUTE: type" val_is munin_field_info 1 'field="errors"' 'type="ABSOLUTE"'
check "unknown value: no sample" hasnt munin_traffic_drops
check "unknown value: still described" val_is munin_field_info 1 'field="drops"' 'type="GAUGE"'
check "no thresholds: no threshold samples" hasnt munin_field_warning 'field="down"'
check "multigraph: root graph" val_is munin_multi_root_a 1 'graph="multi_root"' 'plugin="multi"'
check "multigraph: sub-graph" val_is munin_multi_root_sub_b 2 'graph="multi_root.sub"' 'plugin="multi"'
check "multigraph: sub-graph info" val_is munin_field_info 1 'graph="multi_root.sub"' 'title="Sub graph"' 'type="DERIVE"'
check "garbage: nothing of it" hasnt munin_garbage_x
check "hang: nothing of it" hasnt munin_hang_x

probe "127.0.0.1:$port" --settings '{"plugins":["load","nosuch"]}'
check "chosen plugins: success" rc_is 0
check "chosen plugins: munin_plugins 2" val_is munin_plugins 2
check "chosen plugins: the unknown one failed" val_is munin_fetch_errors 1
check "chosen plugins: the node's reason" verdict_is ': 1 of 2 plugins failed; first nosuch: config line 1: unknown service$'
check "chosen plugins: only those" hasnt munin_traffic_down

probe "127.0.0.1:$port" --timeout 1s --settings '{"plugins":["load","hang"]}'
check "probe timeout before the node's: failure" rc_is 1
check "probe timeout before the node's: message" verdict_is 'timeout after 1 s$'
check "probe timeout before the node's: earlier plugins kept" val_is munin_load_load 0.42
check "probe timeout before the node's: no totals" hasnt munin_plugins

# ---- misbehaving nodes ------------------------------------------------------------------------
for mode in silent endless ssh cut huge lines; do
    p=$(free_port)
    start "fake-$mode" python3 "$FIX/fakenode.py" "$mode" "$p"
    eval "fake_$mode=$p"
done
for mode in silent endless ssh cut huge lines; do wait_listening "$(eval echo "\$fake_$mode")" || exit 1; done

probe "127.0.0.1:$fake_silent" --timeout 1s
check "silent node: fails at the timeout" verdict_is 'failed in (0\.9|1\.)[0-9]+ s: timeout after 1 s$'

probe "127.0.0.1:$fake_endless" --timeout 10s
check "endless line: failure" rc_is 1
check "endless line: bounded" verdict_is ': the node sent a line longer than 65536 bytes while we waited for the banner$'

probe "127.0.0.1:$fake_ssh"
check "not munin: failure" rc_is 1
check "not munin: says what it got" verdict_is ': not a munin node: it said "SSH-2.0-OpenSSH_9.2p1 Debian-2"$'

probe "127.0.0.1:$fake_cut"
check "hang-up mid-answer: failure" rc_is 1
check "hang-up mid-answer: message" verdict_is ': the node closed the connection while we waited for a config answer \(in the middle of a line\)$'

probe "127.0.0.1:$fake_huge" --timeout 20s
check "endless answer: failure" rc_is 1
check "endless answer: bounded" verdict_is ": the node's answers exceed 8388608 bytes$"

probe "127.0.0.1:$fake_lines" --timeout 10s
check "endless line in an answer: failure" rc_is 1
check "endless line in an answer: bounded" verdict_is ': the node sent a line longer than 65536 bytes while we waited for a config answer$'

closed=$(free_port)
probe "127.0.0.1:$closed"
check "closed port: connection refused" verdict_is ': connect: connection refused$'

probe "127.0.0.1:$port" --settings '{"plugins":["a b"]}'
check "a bad plugin name: exit 2" rc_is 2

# The plugin that hung: end it if the node has not (it sleeps 5 s at most).
if [[ -f $NODE/etc/hang.pids ]]; then
    while read -r pid; do IT_PIDS+=("$pid"); done <"$NODE/etc/hang.pids"
fi
check "no sanitizer report in any run" no_sanitizer_report
it_done
