#!/bin/sh
# Put NODE back on RELEASE (the one it ran before the upgrade).
# Usage: rollback.sh NODE RELEASE
. "$(dirname "$0")/common.sh"
record rollback "$1" "$2"
stop_node "$1"
start_node "$1" "$2"
