#!/bin/sh
# Starts two children that hang, and waits for them.
sleep "$1" &
sleep "$1" &
wait
