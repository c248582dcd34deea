#!/usr/bin/env bash
# Builds the web UI (web/dist) when needed: installs web/node_modules from the lockfile when it is
# missing or older than web/package-lock.json, and runs the Vite build when web/dist is missing or
# older than any source. Quiet when nothing needs doing.
# Usage: scripts/web.sh [--force]
set -euo pipefail
cd "$(dirname "$0")/../web"

force=0
[[ ${1:-} == --force ]] && force=1

for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "web: '$tool' not found; install Node.js and npm (scripts/deps.sh does: apt-get install nodejs npm)" >&2
        exit 1
    fi
done

if ((force)) || [[ ! -d node_modules || ! -f node_modules/.package-lock.json ]] ||
    [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
    echo "web: npm ci"
    npm ci --no-audit --no-fund --loglevel=error
fi

need_build=$force
if [[ ! -f dist/index.html ]]; then
    need_build=1
elif [[ -n $(find src index.html public vite.config.js package.json package-lock.json \
    -newer dist/index.html -print -quit 2>/dev/null) ]]; then
    need_build=1
fi
if ((need_build)); then
    echo "web: vite build"
    npm run --silent build -- --logLevel warn
fi
