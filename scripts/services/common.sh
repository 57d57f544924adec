# What the service scripts share; sourced by each after it sets `name`, `port` and `pidfile`
# (and defines `answering` if a TCP connect is not enough to say the server is up).

answering() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

# The pid in the pid file, if that process is alive.
running_pid() {
    [ -s "$pidfile" ] || return 1
    local pid
    pid="$(cat "$pidfile")"
    kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# Up to 20 s for the server just started to answer; else its log's tail and a failure.
wait_until_answering() {
    local log="$1"
    for _ in $(seq 1 200); do
        answering && return 0
        sleep 0.1
    done
    echo "$name did not answer on 127.0.0.1:$port; see $log" >&2
    tail -n 20 "$log" >&2 || true
    return 1
}

# Stop the server this checkout started: TERM (each flushes what it keeps), wait until it is
# gone, KILL after 20 s. A server answering without our pid file is another checkout's: refuse,
# since a test expecting it gone would fail obscurely.
stop_service() {
    local pid
    pid="$(running_pid || true)"
    if [ -z "$pid" ]; then
        rm -f "$pidfile"
        if answering; then
            echo "$name on 127.0.0.1:$port was started by another checkout; stop it there" >&2
            return 1
        fi
        return 0
    fi
    kill -TERM "$pid"
    for _ in $(seq 1 200); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidfile"
}
