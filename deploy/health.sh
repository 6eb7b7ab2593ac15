#!/bin/sh
# Demo health check: NODE is healthy unless its release is listed in
# ZERODOWN_DEMO_UNHEALTHY (e.g. "1.5.0") or the node is listed in
# ZERODOWN_DEMO_DOWN (e.g. "api-2"); a healthy node leaves the drained state.
# Usage: health.sh NODE
set -eu
dir="${ZERODOWN_DEMO_FLEET:-.zerodown/demo-fleet}"
release="$(cat "$dir/$1.release" 2>/dev/null || echo initial)"
for down in ${ZERODOWN_DEMO_DOWN:-}; do
    if [ "$down" = "$1" ]; then echo "node $1 is down"; exit 1; fi
done
for bad in ${ZERODOWN_DEMO_UNHEALTHY:-}; do
    if [ "$bad" = "$release" ]; then echo "node $1 unhealthy on $release"; exit 1; fi
done
rm -f "$dir/$1.drained"
echo "node $1 healthy on $release"
