#!/bin/sh
# Reports what the plugin sees: its environment (minus what the shell itself sets), working
# directory, stdin, whether it leads its own process group, and its arguments.
envs=$(env | grep -v '^PWD=\|^SHLVL=\|^_=\|^OLDPWD=' | sort | tr '\n' ' ')
if read -r line; then stdin="data"; else stdin="empty"; fi
pgrp=$(cut -d' ' -f5 /proc/$$/stat)
if [ "$pgrp" = "$$" ]; then leader=yes; else leader=no; fi
printf 'OK env: %scwd: %s stdin: %s leader: %s args:' "$envs" "$(pwd)" "$stdin" "$leader"
for a in "$@"; do printf ' [%s]' "$a"; done
printf '\n'
