#!/bin/sh
# Stop every node of the fleet folder (after a test or the demo).
# Usage: stop-all.sh
. "$(dirname "$0")/common.sh"
for pidfile in "$dir"/*.pid; do
    [ -e "$pidfile" ] || continue
    stop_node "$(basename "$pidfile" .pid)"
done
