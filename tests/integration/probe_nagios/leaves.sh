#!/bin/sh
# Answers at once but leaves a child behind that still holds stdout.
sleep "$1" &
echo "OK - left a child behind"
exit 0
