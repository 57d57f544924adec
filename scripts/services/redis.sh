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
name=redis
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"

answering() { redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; }

case "${1:?usage: redis.sh start|stop}" in
start)
    answering && exit 0
    mkdir -p "$dir"
    redis-server --bind 127.0.0.1 --port "$port" --protected-mode yes \
        --daemonize yes --pidfile "$pidfile" --dir "$dir" --logfile "$dir/redis.log" \
        --appendonly yes --appendfsync everysec --save "" </dev/null >/dev/null 2>&1
    wait_until_answering "$dir/redis.log"
    ;;
stop)
    stop_service
    ;;
*)
    echo "usage: redis.sh start|stop" >&2
    exit 2
    ;;
esac
