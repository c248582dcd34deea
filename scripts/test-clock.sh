#!/usr/bin/env bash
# make test-clock: runs the unit tests, the PromQL scripts and the time-sensitive integration
# tests with the wall clock moved (Debian's libfaketime) to many times of day, across a month and
# a year boundary, around the 2-hour head ranges and the 12-hour compaction windows, and in time
# zones far from UTC (issue 11). Every suite starts at its point's time: the offset is taken just
# before it runs. CLOCK_MONOTONIC is left alone, so timeouts and sleeps keep their real length.
# Prints one "ok"/"not ok" line per suite and point, a table (points x suites), and ends with
# "N passed, N failed". Exit status 0 only if nothing failed.
#
#   scripts/test-clock.sh [--quick] [POINT-FILTER]
#   --quick         unit tests and PromQL scripts only
#   POINT-FILTER    an extended regex: only the points whose label matches
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
source scripts/clock-lib.sh

quick=0
filter=.
for a in "$@"; do
    case $a in
    --quick) quick=1 ;;
    -*) echo "test-clock: unknown option $a" >&2; exit 2 ;;
    *) filter=$a ;;
    esac
done

# The integration tests whose outcome could depend on the wall clock: they write samples stamped
# "now" (or minutes ago), read them back over ranges ending "now", rely on token expiry, sessions,
# login throttling, inventory dates and audit times. containers.sh and procs.sh are left out:
# they check what the collectors read from cgroups and /proc, with monotonic clocks only.
INTEGRATION=(agent_restart badinput catalog cli crash enroll ingest live outage permissions)

# The points: label | UTC time | TZ. The hours are every 2 h of one day at :37; then the minutes
# around a 12-hour and a 2-hour boundary; the end of a month and of a year; local midnight and a
# DST change in zones far from UTC (UTC+14, and UTC-8/-7 whose spring-forward is 2027-03-14
# 10:00 UTC).
POINTS=()
for h in 00 02 04 06 08 10 12 14 16 18 20 22; do
    POINTS+=("$h:37 UTC|2027-03-10 $h:37:00|UTC")
done
POINTS+=(
    "11:59:40 before a 12h boundary|2027-03-10 11:59:40|UTC"
    "12:00:20 after a 12h boundary|2027-03-10 12:00:20|UTC"
    "13:59:40 before a 2h boundary|2027-03-10 13:59:40|UTC"
    "14:00:20 after a 2h boundary|2027-03-10 14:00:20|UTC"
    "month end Feb 28 23:59:40|2027-02-28 23:59:40|UTC"
    "year end Dec 31 23:59:40|2026-12-31 23:59:40|UTC"
    "Kiritimati local New Year|2026-12-31 09:59:40|Pacific/Kiritimati"
    "Los Angeles local New Year|2027-01-01 07:59:40|America/Los_Angeles"
    "Los Angeles DST spring-forward|2027-03-14 09:59:40|America/Los_Angeles"
    "Los Angeles afternoon|2027-03-10 22:37:00|America/Los_Angeles"
)

bash scripts/deps.sh test || exit 1
if [[ ! -f build/build.ninja ]]; then
    meson setup build --wrap-mode=nofallback >/dev/null || exit 1
fi
ninja -C build >/dev/null || { echo "test-clock: build failed" >&2; exit 1; }
[[ -f web/dist/index.html ]] || bash scripts/web.sh || exit 1
ninja -C build >/dev/null || exit 1

LOG=$(mktemp -d /tmp/dashdot-clock.XXXXXX)
pass=0
fail=0
failed=()
declare -A CELL

# suite LABEL SUITE CMD...: runs CMD at the point (TARGET, ZONE) as one counted result.
suite() {
    local label=$1 name=$2
    shift 2
    local log="$LOG/$(echo "$label-$name" | tr -c 'A-Za-z0-9_.-' '_').log"
    clock_at "$TARGET" "$ZONE" "$@" >"$log" 2>&1
    local rc=$?
    if ((rc == 0)); then
        pass=$((pass + 1))
        CELL["$label|$name"]=ok
        echo "ok - [$label] $name"
    else
        fail=$((fail + 1))
        failed+=("[$label] $name")
        CELL["$label|$name"]=FAIL
        echo "not ok - [$label] $name"
        grep -E '^ *not ok' "$log" | sed 's/^/    | /'
        sed 's/^/    | /' "$log" | tail -30
    fi
}

unit_suite() {
    local rc=0 name
    meson test -C build --no-rebuild --print-errorlogs --logbase clock || rc=1
    # Name the failing executables (meson already printed their output).
    python3 - build/meson-logs/clock.json <<'PY'
import json, sys
bad = [t["name"] for t in map(json.loads, open(sys.argv[1])) if t["result"] != "OK"]
print("unit executables failed: " + (", ".join(bad) if bad else "none"))
PY
    return $rc
}

promql_suite() {
    local f rc=0
    for f in tests/promql/*.test; do
        build/promqltest "$f" >/dev/null || { echo "failed: $f"; build/promqltest "$f" | tail -20; rc=1; }
    done
    return $rc
}

SUITES=(unit promql)
((quick)) || SUITES+=("${INTEGRATION[@]}")
labels=()
for p in "${POINTS[@]}"; do
    IFS='|' read -r label when ZONE <<<"$p"
    [[ $label =~ $filter ]] || continue
    labels+=("$label")
    TARGET=$(date -u -d "$when" +%s) || exit 1
    echo "# $label: $(TZ=$ZONE date -d "@$TARGET" '+%Y-%m-%d %H:%M:%S %Z') ($when UTC)"
    suite "$label" unit unit_suite
    suite "$label" promql promql_suite
    if ((!quick)); then
        for t in "${INTEGRATION[@]}"; do
            suite "$label" "$t" env DASHDOT="$ROOT/build/dashdot" RWGEN="$ROOT/build/tests/rwgen" \
                timeout 300 bash "tests/integration/$t.sh"
        done
    fi
done

echo
echo "# points x suites"
printf '%-34s' point
for s in "${SUITES[@]}"; do printf ' %-6.6s' "$s"; done
echo
for l in "${labels[@]}"; do
    printf '%-34.34s' "$l"
    for s in "${SUITES[@]}"; do printf ' %-6s' "${CELL["$l|$s"]:-}"; done
    echo
done
rm -rf "$LOG"
if ((fail)); then
    echo "failed:"
    printf '  %s\n' "${failed[@]}"
fi
echo "$pass passed, $fail failed"
((fail == 0))
