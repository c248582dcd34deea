#!/bin/sh
# A bounded fork bomb: 200 sleepers as fast as the shell can start them, then waits.
i=0
while [ $i -lt 200 ]; do
    sleep "$1" &
    i=$((i + 1))
done
wait
