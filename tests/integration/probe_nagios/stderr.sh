#!/bin/sh
# Writes its message to stderr only.
echo "CRITICAL - only on stderr" >&2
exit 2
