#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for SECONDS (default 60),
# starting from the seed corpus in tests/fuzz/corpus/<target>. New inputs go to a scratch
# corpus; crashes are written to build-fuzz/crash-* and fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
bash scripts/web.sh >/dev/null
if [[ ! -f build-fuzz/build.ninja ]]; then
    CC=clang meson setup build-fuzz --wrap-mode=nofallback -Dfuzz=true -Dtests=false \
        -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized >/dev/null
fi
ninja -C build-fuzz
status=0
for src in tests/fuzz/fuzz_*.c; do
    t=$(basename "$src" .c)
    t=${t#fuzz_}
    work=build-fuzz/corpus-$t
    mkdir -p "$work"
    echo "fuzz_$t: ${secs}s"
    if ! ./build-fuzz/tests/fuzz/fuzz_$t -max_total_time="$secs" -max_len=65536 \
        -artifact_prefix=build-fuzz/crash-$t- "$work" tests/fuzz/corpus/$t 2>build-fuzz/fuzz_$t.log; then
        echo "fuzz_$t FAILED: see build-fuzz/fuzz_$t.log and build-fuzz/crash-$t-*"
        tail -30 build-fuzz/fuzz_$t.log
        status=1
    else
        grep -E '^(#[0-9]+.*DONE|Done)' build-fuzz/fuzz_$t.log | tail -1
    fi
done
exit $status
