#!/bin/sh
# Demo deploy step: "installs" RELEASE on NODE by recording it in the demo
# fleet folder. A real deployment would call its orchestrator here.
# Usage: upgrade.sh NODE RELEASE
set -eu
dir="${ZERODOWN_DEMO_FLEET:-.zerodown/demo-fleet}"
mkdir -p "$dir"
printf '%s\n' "$2" > "$dir/$1.release"
echo "node $1 now runs release $2"
