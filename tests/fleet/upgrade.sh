#!/bin/sh
# Switch NODE to RELEASE: stop what runs, start the release.
# Usage: upgrade.sh NODE RELEASE
. "$(dirname "$0")/common.sh"
record upgrade "$1" "$2"
stop_node "$1"
start_node "$1" "$2"
