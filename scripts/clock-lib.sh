# Shared by scripts/test-clock.sh and the clock guard in scripts/test.sh: run a command with the
# wall clock moved by Debian's libfaketime (package faketime).

# clock_lib: prints the path of libfaketime.so.1, or fails.
clock_lib() {
    local f
    for f in /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1; do
        [[ -f $f ]] && { echo "$f"; return 0; }
    done
    echo "libfaketime not found (Debian package faketime)" >&2
    return 1
}

# clock_at EPOCH ZONE CMD...: runs CMD (and every process it starts) with CLOCK_REALTIME set to
# EPOCH (Unix seconds) at its start and ticking on from there, in time zone ZONE. The offset is
# taken now, so the command starts at EPOCH. CLOCK_MONOTONIC is left real: timeouts, sleeps and
# durations keep their length.
clock_at() {
    local target=$1 zone=$2 lib
    shift 2
    lib=$(clock_lib) || return 1
    local off=$((target - $(date +%s)))
    LD_PRELOAD="$lib${LD_PRELOAD:+:$LD_PRELOAD}" FAKETIME="$(printf '%+d' "$off")" \
        FAKETIME_DONT_FAKE_MONOTONIC=1 TZ="$zone" "$@"
}
