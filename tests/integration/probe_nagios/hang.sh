#!/bin/sh
# Hangs: sleeps for $1 seconds (a number unique to the test run, so the test can look for it).
echo "about to hang"
exec sleep "$1"
