#!/bin/sh
# Floods stdout forever.
exec yes "flooding the agent with output"
