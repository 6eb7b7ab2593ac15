#!/bin/sh
# A hook: records its words in the deploy log. `hook.sh switch on|off`
# also sets the fleet's switch file, like a load balancer or feature flag
# turned off during a rollout and on again after it.
# Usage: hook.sh WORD...
. "$(dirname "$0")/common.sh"
record hook "$@"
if [ "$1" = switch ]; then
    printf '%s\n' "$2" > "$dir/switch"
fi
