#!/usr/bin/env bash
# Fails if src/ or tests/ use a banned C function (see ../shared/STYLE.md, habit 8).
set -u
cd "$(dirname "$0")/.."
hits=$(grep -rnE '\b(sprintf|strcpy|strcat|gets|atoi|atol|strtok)[[:space:]]*\(' src tests \
    --include='*.c' --include='*.h' | grep -vE '\b(snprintf|vsnprintf)\b' || true)
if [[ -n $hits ]]; then
    echo "banned functions used (use snprintf, bounded copies, strtol with checks):"
    echo "$hits"
    exit 1
fi
exit 0
