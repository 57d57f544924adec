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
name=nats
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"


case "${1:?usage: nats.sh start|stop}" in
start)
    answering && exit 0
    mkdir -p "$dir/jetstream"
    # nats-server has no daemon mode: detach it from this shell and its output pipes
    setsid nats-server --addr 127.0.0.1 --port "$port" --jetstream --store_dir "$dir/jetstream" \
        --pid "$pidfile" --log "$dir/nats.log" </dev/null >/dev/null 2>&1 &
    wait_until_answering "$dir/nats.log"
    ;;
stop)
    stop_service
    ;;
*)
    echo "usage: nats.sh start|stop" >&2
    exit 2
    ;;
esac
