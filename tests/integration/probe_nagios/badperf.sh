#!/bin/sh
# Valid items among malformed ones: the valid ones count, the others are counted as errors (an
# unterminated quote swallows the rest of the line, so it comes last).
echo "OK - mixed performance data | good=1 =2 bad=abc noequals ok=4s;5;6 dup=1 dup=2 x=1;2;3;4;5;6 inf=inf 'open=3 more=4"
