# Shared by the test application's deploy scripts (sourced, not run).
# ZERODOWN_TESTAPP_DIR: the fleet's scratch folder (pid, port, log files);
# ZERODOWN_TESTAPP_BIN: the zerodown-testapp binary;
# ZERODOWN_TESTAPP_DATABASE: the database URL the nodes use.
set -eu
dir="${ZERODOWN_TESTAPP_DIR:?set ZERODOWN_TESTAPP_DIR to the fleet folder}"
app="${ZERODOWN_TESTAPP_BIN:?set ZERODOWN_TESTAPP_BIN to the zerodown-testapp binary}"

# record WORD...: one line in the deploy log, with the time in ms; then
# wait ZERODOWN_TESTAPP_STEP_DELAY seconds (default 0), like a slow deploy.
record() {
    printf '%s %s\n' "$(date +%s%3N)" "$*" >> "$dir/deploy.log"
    sleep "${ZERODOWN_TESTAPP_STEP_DELAY:-0}"
}

# alive PID: the process runs (an exited one that nobody has reaped yet
# is a zombie: the nodes outlive the script that started them).
alive() {
    kill -0 "$1" 2>/dev/null && [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# stop_node NODE: SIGTERM (the app drains and exits), SIGKILL after 10 s.
stop_node() {
    pidfile="$dir/$1.pid"
    [ -f "$pidfile" ] || return 0
    pid="$(cat "$pidfile")"
    if kill -TERM "$pid" 2>/dev/null; then
        for _ in $(seq 1 200); do
            alive "$pid" || break
            sleep 0.05
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile" "$dir/$1.port"
}

# start_node NODE RELEASE: start the app in the background; health tells
# when it serves.
start_node() {
    rm -f "$dir/$1.port"
    "$app" serve --node "$1" --release "$2" --dir "$dir" \
        --database "${ZERODOWN_TESTAPP_DATABASE:?set ZERODOWN_TESTAPP_DATABASE}" \
        </dev/null >>"$dir/$1.out" 2>&1 &
    echo $! > "$dir/$1.pid"
    printf '%s\n' "$2" > "$dir/$1.release"
}
