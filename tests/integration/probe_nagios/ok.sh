#!/bin/sh
# Always fine.
echo "OK - fine | v=1"
