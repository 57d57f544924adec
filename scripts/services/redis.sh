#!/usr/bin/env bash
# Redis for the tests: `redis.sh start|stop`. Listens on 127.0.0.1:16379 only; data, log and pid
# file under .services/redis/ in the repository. Append-only file on, so a stopped and restarted
# server keeps its streams and consumer groups (tests stop it mid-run). Start is idempotent; stop
# waits until the process is gone (and kills it after 20 s).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
dir="$repo/.services/redis"
port=16379
pidfile="$dir/redis.pid"

answering() { redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; }
running_pid() {
    [ -s "$pidfile" ] || return 1
    local pid
    pid="$(cat "$pidfile")"
    kill -0 "$pid" 2>/dev/null && echo "$pid"
}

case "${1:?usage: redis.sh start|stop}" in
start)
    answering && exit 0
    mkdir -p "$dir"
    redis-server --bind 127.0.0.1 --port "$port" --protected-mode yes \
        --daemonize yes --pidfile "$pidfile" --dir "$dir" --logfile "$dir/redis.log" \
        --appendonly yes --appendfsync everysec --save "" </dev/null >/dev/null 2>&1
    for _ in $(seq 1 200); do
        answering && exit 0
        sleep 0.1
    done
    echo "redis did not answer on 127.0.0.1:$port; see $dir/redis.log" >&2
    tail -n 20 "$dir/redis.log" >&2 || true
    exit 1
    ;;
stop)
    pid="$(running_pid || true)"
    if [ -z "$pid" ]; then
        rm -f "$pidfile"
        if answering; then  # not ours to stop: a test expecting it gone would fail obscurely
            echo "redis on 127.0.0.1:$port was started by another checkout; stop it there" >&2
            exit 1
        fi
        exit 0
    fi
    kill -TERM "$pid"  # redis writes its append-only file and exits
    for _ in $(seq 1 200); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; exit 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidfile"
    ;;
*)
    echo "usage: redis.sh start|stop" >&2
    exit 2
    ;;
esac
