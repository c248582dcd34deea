#!/bin/sh
# Exits with a code outside the Nagios states.
echo "odd exit|x=1"
exit 7
