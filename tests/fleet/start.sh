#!/bin/sh
# Start NODE on RELEASE (the fleet as it runs before a rollout).
# Usage: start.sh NODE RELEASE
. "$(dirname "$0")/common.sh"
record start "$1" "$2"
stop_node "$1"
start_node "$1" "$2"
