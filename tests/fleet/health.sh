#!/bin/sh
# Exit 0 when NODE answers 200 on GET /health.
# Usage: health.sh NODE
. "$(dirname "$0")/common.sh"
exec "$app" health --dir "$dir" --node "$1"
