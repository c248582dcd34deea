#!/usr/bin/env bash
# The nagios probe through `dashdot probe nagios`: real plugins from monitoring-plugins-basic
# (check_dummy, check_load, check_disk, check_tcp against a python listener, check_ping),
# the plugin allow-list (outside plugins, symlink escapes, non-executables), and misbehaving
# plugins from probe_nagios/ (hangs, forking children, a bounded fork bomb, floods, odd exit
# codes, signals, long output, bad performance data): verdicts, samples, messages, and no
# process left behind.
source "$(dirname "$0")/lib.sh"
it_init
FIX=$(cd "$(dirname "$0")/probe_nagios" && pwd)
P=/usr/lib/nagios/plugins
OUT=$IT_DIR/out

# The fixtures, copied into a plugin directory of our own (modes set here, not by git).
PLUG=$IT_DIR/plugins
mkdir -p "$PLUG" "$IT_DIR/elsewhere"
cp "$FIX"/*.sh "$PLUG"/
chmod 755 "$PLUG"/*.sh

# probe SETTINGS_JSON [extra args...]: runs the probe (target 127.0.0.1), output in $OUT,
# exit status in $RC, wall time (seconds) in $SECS.
probe() {
    local settings=$1
    shift
    local t0=$EPOCHREALTIME
    "$DASHDOT" probe nagios "${TARGET:-127.0.0.1}" --settings "$settings" "$@" >"$OUT" 2>&1
    RC=$?
    SECS=$(awk "BEGIN { printf \"%.3f\", $EPOCHREALTIME - $t0 }")
}
rc_is() { [[ $RC == "$1" ]] || { echo "    exit $RC, want $1: $(head -c 400 "$OUT")"; return 1; }; }
out_has() { grep -qF -- "$1" "$OUT" || { echo "    no \"$1\" in: $(head -c 600 "$OUT")"; return 1; }; }
out_lacks() { ! grep -qF -- "$1" "$OUT" || { echo "    unexpected \"$1\""; return 1; }; }
# sample METRIC [LABELSUBSTRING]: the value of the first matching sample.
sample() {
    grep -E "^$1(\{|\s)" "$OUT" | grep -F -- "${2:-}" | head -1 | awk '{print $(NF-1)}'
}
sample_is() {
    local got
    got=$(sample "$1" "${3:-}")
    [[ $got == "$2" ]] || { echo "    $1 ${3:-} = '$got', want $2"; return 1; }
}
# holds EXPR: true if the awk expression holds (numbers; abs() available).
holds() {
    awk "function abs(x) { return x < 0 ? -x : x } BEGIN { exit !($1) }" ||
        { echo "    false: $1"; return 1; }
}
rc_in() { [[ " $* " == *" $RC "* ]] || { echo "    exit $RC, want one of $*"; return 1; }; }
# run_secs: the run's duration from the verdict line ("# nagios failed in 1.002 s: ...").
run_secs() { sed -n 's/^# nagios [a-z]* in \([0-9.]*\) s.*/\1/p' "$OUT" | tail -1; }
clean_exit() {
    out_lacks 'handles left open' && out_lacks 'Sanitizer' && out_lacks 'runtime error'
}
# none_left PATTERN: no live process matches PATTERN (pgrep -f) within 3 s.
none_left() {
    for _ in $(seq 30); do
        pgrep -f "$1" >/dev/null || return 0
        sleep 0.1
    done
    echo "    left behind: $(pgrep -fa "$1" | head -5)"
    return 1
}
dummy() { printf '{"command":"%s/check_dummy","args":["%s","%s"]}' "$P" "$1" "$2"; }
fixture() { # fixture NAME [ARG]
    if [[ $# -gt 1 ]]; then
        printf '{"command":"%s/%s","args":["%s"]}' "$PLUG" "$1" "$2"
    else
        printf '{"command":"%s/%s"}' "$PLUG" "$1"
    fi
}

echo "real plugins"
probe "$(dummy 0 'all is well')"
check "check_dummy 0: exit 0" rc_is 0
check "check_dummy 0: nagios_state 0" sample_is nagios_state 0
check "check_dummy 0: probe_success 1" sample_is probe_success 1
check "check_dummy 0: message" out_has "# nagios succeeded in"
check "check_dummy 0: message text" out_has ": OK: all is well"
check "check_dummy 0: job and instance labels" out_has 'job="nagios"'
check "check_dummy 0: no leak, no open handle" clean_exit
for st in 1 2 3; do
    probe "$(dummy $st "state $st")"
    check "check_dummy $st: exit 1" rc_is 1
    check "check_dummy $st: nagios_state $st" sample_is nagios_state $st
    check "check_dummy $st: probe_success 0" sample_is probe_success 0
    check "check_dummy $st: message" out_has ": state $st"
done

probe "{\"command\":\"$P/check_load\",\"args\":[\"-w\",\"900,900,900\",\"-c\",\"999,999,999\"]}"
check "check_load: OK" rc_is 0
check "check_load: message" out_has "LOAD OK - total load average"
for l in load1 load5 load15; do
    check "check_load: $l as it reads in /proc/loadavg" \
        holds "0 <= $(sample nagios_perfdata "label=\"$l\"") && $(sample nagios_perfdata "label=\"$l\"") < 1000"
    check "check_load: $l warning" sample_is nagios_perfdata_warning 900 "label=\"$l\""
    check "check_load: $l critical" sample_is nagios_perfdata_critical 999 "label=\"$l\""
    check "check_load: $l min" sample_is nagios_perfdata_min 0 "label=\"$l\""
done
check "check_load: no unit label (a count)" out_lacks 'uom='
check "check_load: no perfdata errors" sample_is nagios_perfdata_errors 0

probe "{\"command\":\"$P/check_disk\",\"args\":[\"-w\",\"10%\",\"-c\",\"5%\",\"-p\",\"/\"]}"
read -r df_size df_used < <(df -B1 --output=size,used / | tail -1)
used=$(sample nagios_perfdata 'label="/"')
size=$(sample nagios_perfdata_max 'label="/"')
check "check_disk: a verdict (0..2)" holds "$(sample nagios_state) <= 2"
check "check_disk: uom B" out_has 'uom="B"'
check "check_disk: used bytes match df (within 1 GiB)" holds "abs($used - $df_used) < 2^30"
check "check_disk: size in bytes matches df (within 1 MiB)" holds "abs($size - $df_size) < 2^20"
check "check_disk: warning at 90 % of the size" \
    holds "abs($(sample nagios_perfdata_warning 'label="/"') - 0.9 * $size) < 0.01 * $size"
check "check_disk: critical at 95 % of the size" \
    holds "abs($(sample nagios_perfdata_critical 'label="/"') - 0.95 * $size) < 0.01 * $size"
check "check_disk: min 0" sample_is nagios_perfdata_min 0 'label="/"'

# check_tcp with macros against a listener of our own.
port=$(free_port)
python3 -c "
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $port)); s.listen(16)
while True:
    c, _ = s.accept(); c.close()
" &
IT_PIDS+=($!)
wait_until 5 python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)"
TARGET=127.0.0.1:$port probe '{"command":"'$P'/check_tcp","args":["-H","$HOSTADDRESS$","-p","$PORT$"]}'
check "check_tcp with \$HOSTADDRESS\$ and \$PORT\$: OK" rc_is 0
check "check_tcp: message names the port" out_has "port $port"
check "check_tcp: time in seconds" out_has 'label="time"'
check "check_tcp: uom s" out_has 'uom="s"'
check "check_tcp: time below the timeout" holds "$(sample nagios_perfdata 'label="time"') < 10"
check "check_tcp: max 10 s" sample_is nagios_perfdata_max 10 'label="time"'
closed=$(free_port)
TARGET=127.0.0.1:$closed probe '{"command":"'$P'/check_tcp","args":["-H","$HOSTADDRESS$","-p","$PORT$"]}'
check "check_tcp on a closed port: CRITICAL" sample_is nagios_state 2
check "check_tcp on a closed port: exit 1" rc_is 1
check "check_tcp on a closed port: message" out_has "Connection refused"

if ping -c1 -W1 127.0.0.1 >/dev/null 2>&1; then
    probe '{"command":"'$P'/check_ping","args":["-H","$HOSTADDRESS$","-w","1000,50%","-c","2000,90%","-p","2"]}'
    check "check_ping: OK" rc_is 0
    check "check_ping: rta in seconds (from ms)" holds "$(sample nagios_perfdata 'label="rta"') < 1"
    check "check_ping: rta warning 1000 ms = 1 s" sample_is nagios_perfdata_warning 1 'label="rta"'
    check "check_ping: rta critical 2000 ms = 2 s" sample_is nagios_perfdata_critical 2 'label="rta"'
    check "check_ping: packet loss in %" sample_is nagios_perfdata 0 'uom="%"'
else
    # scripts/deps.sh installs iputils-ping: a machine where it cannot ping itself is a failure,
    # not a skip.
    check "ping 127.0.0.1 works (check_ping needs it)" false
fi

echo "the allow-list"
probe '{"command":"/bin/true"}'
check "/bin/true refused (exit 1 or 2)" rc_in 1 2
check "/bin/true: the reason" out_has "outside the allowed plugin directories (/usr/lib/nagios/plugins:/usr/lib/monitoring-plugins)"
check "/bin/true: UNKNOWN when refused at run time" holds "$RC == 2 || $(sample nagios_state) == 3"
probe "$(fixture ok.sh)"
check "a fixture without --plugin-dirs: refused" out_has "is outside the allowed plugin directories"
check "a fixture without --plugin-dirs: not run" out_lacks "OK - fine"
probe "$(fixture ok.sh)" --plugin-dirs "$PLUG"
check "a fixture with --plugin-dirs: runs" rc_is 0
check "a fixture with --plugin-dirs: its message" out_has ": OK - fine"
ln -s /bin/true "$PLUG/escape"
probe "{\"command\":\"$PLUG/escape\"}" --plugin-dirs "$PLUG"
check "a symlink out of the directory: refused" out_has "resolves to /usr/bin/true, outside the allowed plugin directories"
check "a symlink out: failed" rc_in 1 2
ln -s ok.sh "$PLUG/alias"
probe "{\"command\":\"$PLUG/alias\"}" --plugin-dirs "$PLUG"
check "a symlink within the directory: runs" rc_is 0
cp "$PLUG/ok.sh" "$IT_DIR/elsewhere/ok.sh"
probe "{\"command\":\"$PLUG/../elsewhere/ok.sh\"}" --plugin-dirs "$PLUG"
check "a .. path out of the directory: refused" out_has "outside the allowed plugin directories"
cp "$PLUG/ok.sh" "${PLUG}x.sh"
probe "{\"command\":\"${PLUG}x.sh\"}" --plugin-dirs "$PLUG"
check "a path that merely starts with the directory's name: refused" out_has "outside the allowed"
rm -f "${PLUG}x.sh"
probe "{\"command\":\"$IT_DIR/elsewhere/ok.sh\"}" --plugin-dirs "/nonexistent:$PLUG:$IT_DIR/elsewhere"
check "several directories: the third allows it" rc_is 0
cp "$PLUG/ok.sh" "$PLUG/noexec.sh"
chmod 644 "$PLUG/noexec.sh"
probe "{\"command\":\"$PLUG/noexec.sh\"}" --plugin-dirs "$PLUG"
check "a non-executable plugin: exit 2" rc_is 2
check "a non-executable plugin: the reason" out_has "is not executable"
mkdir "$PLUG/adir"
probe "{\"command\":\"$PLUG/adir\"}" --plugin-dirs "$PLUG"
check "a directory: exit 2" rc_is 2
check "a directory: the reason" out_has "is not a regular file"
probe '{"command":"check_dummy","args":["0"]}'
check "a relative command: exit 2" rc_is 2
check "a relative command: the reason" out_has "must be an absolute path"
probe '{"command":"/usr/lib/nagios/plugins/check_nonexistent"}'
check "a missing plugin: exit 2" rc_is 2
check "a missing plugin: the reason" out_has "No such file or directory"
probe '{"args":["0"]}'
check "no command: exit 2" rc_is 2
probe "{\"command\":\"$P/check_dummy\",\"args\":\"0\"}"
check "args not a list: exit 2" rc_is 2

echo "the plugin's world"
DASHDOT_SECRET_TOKEN=hunter2 TARGET=127.0.0.1:8080 probe \
    "{\"command\":\"$PLUG/env.sh\",\"args\":[\"-H\",\"\$HOSTADDRESS\$\",\"-p\",\"\$PORT\$\",\"\$HOSTNAME\$\",\"a b\",\"\$USER1\$\"]}" \
    --plugin-dirs "$PLUG" --device web-1
check "env: only PATH and LANG=C" out_has "OK env: LANG=C PATH=/usr/sbin:/usr/bin:/sbin:/bin cwd:"
check "env: the agent's secrets stay out" out_lacks hunter2
check "cwd is /" out_has "cwd: / "
check "stdin is empty (/dev/null)" out_has "stdin: empty"
check "its own process group" out_has "leader: yes"
check "macros substituted, arguments kept whole" \
    out_has "args: [-H] [127.0.0.1] [-p] [8080] [web-1] [a b] [\$USER1\$]"
TARGET=127.0.0.1 probe "{\"command\":\"$PLUG/env.sh\",\"args\":[\"\$PORT\$\"]}" --plugin-dirs "$PLUG"
check "no port: \$PORT\$ is empty" out_has "args: []"
: >"$IT_DIR/agent-secret-fd"
probe "$(fixture fds.sh)" --plugin-dirs "$PLUG" 7<"$IT_DIR/agent-secret-fd"
check "fds: the plugin runs" out_has "OK fds:"
check "fds: none of the agent's descriptors reach the plugin" out_lacks "agent-secret-fd"

echo "misbehaving plugins"
mark=$((900000 + RANDOM))
probe "$(fixture hang.sh $mark)" --plugin-dirs "$PLUG" --timeout 1s
check "hang: failed" rc_is 1
check "hang: ended at the timeout" holds "$(run_secs) >= 1 && $(run_secs) < 1.5"
check "hang: the reason" out_has "timeout after 1 s"
check "hang: UNKNOWN" sample_is nagios_state 3
check "hang: the CLI returns promptly ($SECS s)" holds "$SECS < 2.5"
check "hang: no process left" none_left "^sleep $mark\$"
check "hang: no open handle" clean_exit

mark=$((mark + 1))
probe "$(fixture forks.sh $mark)" --plugin-dirs "$PLUG" --timeout 1s
check "forks: failed at the timeout" out_has "timeout after 1 s"
check "forks: children killed" none_left "^sleep $mark\$"
check "forks: the plugin killed" none_left "forks.sh $mark"

mark=$((mark + 1))
probe "$(fixture forkbomb.sh $mark)" --plugin-dirs "$PLUG" --timeout 2s
check "fork bomb (200 sleepers): failed at the timeout" out_has "timeout after 2 s"
check "fork bomb: all 200 killed" none_left "^sleep $mark\$"
check "fork bomb: the plugin killed" none_left "forkbomb.sh $mark"
check "fork bomb: the CLI returns promptly ($SECS s)" holds "$SECS < 3.5"

mark=$((mark + 1))
probe "$(fixture leaves.sh $mark)" --plugin-dirs "$PLUG" --timeout 10s
check "leaves a child: the plugin's verdict" rc_is 0
check "leaves a child: its message" out_has "OK - left a child behind"
check "leaves a child: no wait for the timeout ($SECS s)" holds "$SECS < 2"
check "leaves a child: the child killed" none_left "^sleep $mark\$"

probe "$(fixture flood.sh)" --plugin-dirs "$PLUG" --timeout 10s
check "flood: failed" rc_is 1
check "flood: stopped at 64 KiB" out_has "output over 64 KiB"
check "flood: UNKNOWN" sample_is nagios_state 3
check "flood: stopped quickly ($SECS s)" holds "$SECS < 2"
check "flood: yes killed" none_left "yes flooding the agent"

probe "$(fixture exit7.sh)" --plugin-dirs "$PLUG"
check "exit 7: UNKNOWN" sample_is nagios_state 3
check "exit 7: failed" rc_is 1
check "exit 7: the reason and the plugin's text" out_has "plugin exited with status 7 (UNKNOWN): odd exit"
check "exit 7: its perfdata still read" sample_is nagios_perfdata 1 'label="x"'

probe "$(fixture signal.sh)" --plugin-dirs "$PLUG"
check "killed by a signal: UNKNOWN" sample_is nagios_state 3
check "killed by a signal: the reason" out_has "plugin killed by signal 9 (Killed): about to die"

probe "$(fixture longout.sh)" --plugin-dirs "$PLUG"
check "long output: WARNING" sample_is nagios_state 1
check "long output: the first line is the message" out_has "failed in"
check "long output: message text" out_has ": SERVICE WARNING - 3 of 4 backends slow"
check "long output: first-line perfdata, ms to s" sample_is nagios_perfdata 1.5 'label="time"'
check "long output: thresholds converted too" sample_is nagios_perfdata_critical 2 'label="time"'
check "long output: a quoted label" sample_is nagios_perfdata_max 100 'label="queue depth"'
check "long output: perfdata after '|' on a later line, KB to bytes" sample_is nagios_perfdata 2048 'label="size"'
check "long output: a counter" out_has 'label="hits",'
check "long output: uom c" out_has 'uom="c"'
check "long output: the perfdata's following lines too ('' quote)" sample_is nagios_perfdata 50 "label=\"it's\""
check "long output: percent" sample_is nagios_perfdata_warning 80 "label=\"it's\""
check "long output: U skipped" out_lacks 'label="unknown"'
check "long output: no errors" sample_is nagios_perfdata_errors 0

probe "$(fixture badperf.sh)" --plugin-dirs "$PLUG"
check "bad perfdata: still OK" rc_is 0
check "bad perfdata: valid items kept" sample_is nagios_perfdata 1 'label="good"'
check "bad perfdata: valid items kept (2)" sample_is nagios_perfdata 4 'label="ok"'
check "bad perfdata: first of a duplicate kept" sample_is nagios_perfdata 1 'label="dup"'
check "bad perfdata: 7 errors counted" sample_is nagios_perfdata_errors 7
check "bad perfdata: nothing after an unterminated quote" out_lacks 'label="more"'

probe "$(fixture stderr.sh)" --plugin-dirs "$PLUG"
check "stderr only: its line is the message" out_has ": CRITICAL - only on stderr"
check "stderr only: CRITICAL" sample_is nagios_state 2
probe "$(fixture silent.sh)" --plugin-dirs "$PLUG"
check "no output: OK with a placeholder message" out_has "(no output, OK)"

it_done
