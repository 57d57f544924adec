#!/usr/bin/env bash
# NATS with JetStream for the tests: `nats.sh start|stop`. Listens on 127.0.0.1:14222 only;
# JetStream's file store, the log and the pid file under .services/nats/ in the repository, so a
# stopped and restarted server keeps its streams and consumers (tests stop it mid-run). Start is
# idempotent; stop waits until the process is gone (and kills it after 20 s).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
dir="$repo/.services/nats"
port=14222
pidfile="$dir/nats.pid"

answering() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }
running_pid() {
    [ -s "$pidfile" ] || return 1
    local pid
    pid="$(cat "$pidfile")"
    kill -0 "$pid" 2>/dev/null && echo "$pid"
}

case "${1:?usage: nats.sh start|stop}" in
start)
    answering && exit 0
    mkdir -p "$dir/jetstream"
    # nats-server has no daemon mode: detach it from this shell and its output pipes
    setsid nats-server --addr 127.0.0.1 --port "$port" --jetstream --store_dir "$dir/jetstream" \
        --pid "$pidfile" --log "$dir/nats.log" </dev/null >/dev/null 2>&1 &
    for _ in $(seq 1 200); do
        answering && exit 0
        sleep 0.1
    done
    echo "nats-server did not answer on 127.0.0.1:$port; see $dir/nats.log" >&2
    tail -n 20 "$dir/nats.log" >&2 || true
    exit 1
    ;;
stop)
    pid="$(running_pid || true)"
    if [ -z "$pid" ]; then
        rm -f "$pidfile"
        if answering; then  # not ours to stop: a test expecting it gone would fail obscurely
            echo "nats on 127.0.0.1:$port was started by another checkout; stop it there" >&2
            exit 1
        fi
        exit 0
    fi
    kill -TERM "$pid"  # JetStream flushes its store and the server exits
    for _ in $(seq 1 200); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; exit 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidfile"
    ;;
*)
    echo "usage: nats.sh start|stop" >&2
    exit 2
    ;;
esac
