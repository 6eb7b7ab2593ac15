#!/bin/sh
# Take NODE out of service: the app stops taking work and exits.
# Usage: drain.sh NODE
. "$(dirname "$0")/common.sh"
record drain "$1"
stop_node "$1"
