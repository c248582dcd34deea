#!/bin/sh
# Nagios plugin API: message|perfdata on the first line, long output, and more perfdata after
# a '|' on a later line, continuing over the following lines.
printf '%s\n' \
    "SERVICE WARNING - 3 of 4 backends slow | time=1500ms;1000;2000;0; 'queue depth'=17;;;0;100" \
    "backend a: 1.5 s" \
    "backend b: 0.2 s" \
    "backend c: 2.1 s | size=2KB;;;0; hits=12345c" \
    "'it''s'=50%;80;90;0;100 ratio=0.25 unknown=U"
exit 1
