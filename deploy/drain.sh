#!/bin/sh
# Demo deploy step: takes NODE out of the load balancer (here: a marker file).
# Usage: drain.sh NODE
set -eu
dir="${ZERODOWN_DEMO_FLEET:-.zerodown/demo-fleet}"
mkdir -p "$dir"
: > "$dir/$1.drained"
echo "node $1 drained"
