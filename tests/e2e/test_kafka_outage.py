"""A Kafka broker that is not there, or goes away mid-run, through the real `rillet` command:
each test has a broker of its own (tests/kafkabroker.py), which it stalls (SIGSTOP, SIGCONT),
stops and starts again (its topics kept in S3), or stops for good, while a pipeline reads a
live topic or writes to one; the shared broker of the other tests is never touched."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from tests.conftest import rillet
from tests.kafkabroker import Broker, free_port, own_broker

N = 3000
STALL_S = 5
SOURCE = """set checkpoint_interval = 1s
source events = kafka("{brokers}", "t", group="g"{extra})
sink out = file("out.jsonl")
events | into out
"""
SINK = """set checkpoint_interval = 1s
source events = file("in.jsonl", follow=true)
sink topic = kafka("{brokers}", "t"{extra})
events | into topic
"""


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    with own_broker(tmp_path) as broker:
        admin = AdminClient({"bootstrap.servers": broker.url})
        admin.create_topics([NewTopic("t", 2, 1)])["t"].result(timeout=30)
        yield broker


def wait_for(what: str, done: Callable[[], bool], run: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 120
    while not done():
        assert run.poll() is None, f"the run ended while waiting for {what}:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"no {what}:\n{log.read_text()}"
        time.sleep(0.05)


class Run:
    """`rillet run p.rill` in `folder`, its standard error in stderr.log, ended by SIGINT."""

    def __init__(self, folder: Path, text: str) -> None:
        (folder / "p.rill").write_text(text)
        self.folder, self.log = folder, folder / "stderr.log"
        with open(self.log, "wb") as err:
            command = [sys.executable, "-m", "rillet.dsl.cli", "run", "-q", "p.rill"]
            self.process = subprocess.Popen(command, cwd=folder, stderr=err)

    def wait_for(self, what: str, done: Callable[[], bool]) -> None:
        wait_for(what, done, self.process, self.log)

    def checkpoints(self) -> int:
        """The number of the newest checkpoint saved."""
        names = (self.folder / ".rillet" / "p").glob("checkpoint-*.msgpack")
        return max((int(p.stem.split("-")[1]) for p in names), default=0)

    def checkpoints_while(self, what: str) -> None:
        """Wait for three more checkpoints (some seconds): the run is not stuck."""
        first = self.checkpoints()
        self.wait_for(f"checkpoints {what}", lambda: self.checkpoints() >= first + 3)

    def warned(self, what: str) -> None:
        self.wait_for(f"the warning {what!r}", lambda: what in self.log.read_text())

    def end(self) -> str:
        """Stop the run as a user would (ctrl-C); its warnings."""
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=120)
        message = self.log.read_text()
        assert self.process.returncode == 130, message
        assert "Traceback" not in message, message
        return message


def output(folder: Path) -> list[int]:
    path = folder / "out.jsonl"
    return (
        [json.loads(line)["n"] for line in path.read_text().splitlines()] if path.exists() else []
    )


class Feeder(threading.Thread):
    """Sends {"n": 0}, {"n": 1}, ... to topic `t`, a few hundred a second, until `upto`."""

    def __init__(self, broker: Broker, upto: int = N) -> None:
        super().__init__(daemon=True)
        self.producer = Producer({"bootstrap.servers": broker.url, "enable.idempotence": True})
        self.next, self.upto = 0, upto

    def run(self) -> None:
        while self.next < self.upto:
            self.producer.produce("t", json.dumps({"n": self.next}).encode())
            self.next += 1
            if self.next % 50 == 0:
                self.producer.poll(0)
                time.sleep(0.1)

    def finish(self, upto: int = N) -> None:
        if self.ident is not None:
            self.join(timeout=120)
        assert self.producer.flush(120) == 0
        self.upto = upto
        self.run()
        assert self.producer.flush(120) == 0


def topic_values(broker: Broker) -> list[int]:
    """Every value in topic `t`, read to the end of both partitions."""
    consumer = Consumer(
        {"bootstrap.servers": broker.url, "group.id": "check", "enable.partition.eof": True}
    )
    consumer.assign([TopicPartition("t", p, 0) for p in (0, 1)])
    values: list[int] = []
    ended: set[int] = set()
    while ended != {0, 1}:
        for message in consumer.consume(1000, 1.0):
            if message.error() is None:
                values.append(json.loads(message.value())["n"])
            else:
                ended.add(message.partition())
    consumer.close()
    return values


@pytest.mark.timeout(300)
@pytest.mark.parametrize("text", [SOURCE, SINK], ids=["source", "sink"])
def test_a_broker_down_at_start_is_one_line_naming_it(tmp_path: Path, text: str) -> None:
    address = f"127.0.0.1:{free_port()}"
    (tmp_path / "in.jsonl").write_text('{"n": 1}\n')
    (tmp_path / "p.rill").write_text(text.format(brokers=address, extra=""))
    result = rillet("run", "-q", "p.rill", cwd=tmp_path, timeout=120)
    message = result.stderr.decode()
    assert result.returncode == 1, message
    assert f"kafka at {address}" in message and "Traceback" not in message
    assert len(message.strip().splitlines()) == 1, message


@pytest.mark.timeout(300)
def test_a_stalled_broker_is_waited_for_and_every_message_is_read_once(
    tmp_path: Path, broker: Broker
) -> None:
    feeder = Feeder(broker)
    feeder.start()
    run = Run(tmp_path, SOURCE.format(brokers=broker.url, extra=""))
    try:
        run.wait_for("records", lambda: len(output(tmp_path)) > 500)
        broker.pause()
        run.checkpoints_while("the broker is stalled")
    finally:
        broker.resume()
    feeder.finish()
    run.wait_for("every record", lambda: len(output(tmp_path)) >= N)
    run.end()
    assert sorted(output(tmp_path)) == list(range(N)), "nothing lost, nothing twice"


@pytest.mark.timeout(300)
def test_a_broker_brought_back_is_read_on_with_one_warning_each_way(
    tmp_path: Path, broker: Broker
) -> None:
    feeder = Feeder(broker, upto=N // 2)
    feeder.start()
    feeder.finish(N // 2)
    run = Run(tmp_path, SOURCE.format(brokers=broker.url, extra=""))
    run.wait_for("half the records", lambda: len(output(tmp_path)) >= N // 2)
    broker.stop()
    run.warned(f"lost kafka at {broker.url}")
    run.checkpoints_while("the broker is away")
    broker.start()
    feeder.finish()
    run.wait_for("every record", lambda: len(output(tmp_path)) >= N)
    message = run.end()
    assert sorted(output(tmp_path)) == list(range(N)), "nothing lost, nothing twice"
    assert message.count(f"lost kafka at {broker.url}") == 1, message
    assert message.count(f"kafka at {broker.url} is back") == 1, message


def write_inputs(path: Path, numbers: range) -> None:
    with open(path, "a") as f:
        for n in numbers:
            f.write(json.dumps({"n": n}) + "\n")
            if n % 100 == 0:
                f.flush()
                time.sleep(0.05)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("outage", ["stalled", "brought_back"])
def test_a_sink_whose_broker_is_away_writes_every_record_at_least_once(
    tmp_path: Path, broker: Broker, outage: str
) -> None:
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("")
    run = Run(tmp_path, SINK.format(brokers=broker.url, extra=""))
    write_inputs(inputs, range(N // 2))
    run.wait_for("a checkpoint", lambda: run.checkpoints() >= 2)
    try:
        broker.pause() if outage == "stalled" else broker.stop()
        write_inputs(inputs, range(N // 2, N * 3 // 4))  # written while the broker is away
        if outage == "stalled":
            time.sleep(STALL_S)  # the client sees no error, only no answer
        else:
            run.warned(f"lost kafka at {broker.url}")
    finally:
        broker.resume() if outage == "stalled" else broker.start()
    write_inputs(inputs, range(N * 3 // 4, N))
    run.wait_for("every record in the topic", lambda: len(set(topic_values(broker))) >= N)
    run.end()
    values = topic_values(broker)
    assert set(values) == set(range(N)), "at least once"
    assert len(values) == N, "and the idempotent producer wrote none twice"


@pytest.mark.timeout(300)
@pytest.mark.parametrize("text", [SOURCE, SINK], ids=["source", "sink"])
def test_a_broker_gone_for_good_ends_the_run_in_one_line(
    tmp_path: Path, broker: Broker, text: str
) -> None:
    (tmp_path / "in.jsonl").write_text("".join(f'{{"n": {n}}}\n' for n in range(10)))
    Feeder(broker, upto=10).finish(10)
    run = Run(tmp_path, text.format(brokers=broker.url, extra=", retry_timeout=2s"))
    run.wait_for("a checkpoint", lambda: run.checkpoints() >= 1)
    broker.stop()
    with open(tmp_path / "in.jsonl", "a") as f:
        f.write('{"n": 10}\n')  # for the sink to write
    run.process.wait(timeout=120)
    message = run.log.read_text()
    assert run.process.returncode == 1, message
    *warnings, error = message.strip().splitlines()
    assert error.startswith("rillet: error: ") and f"kafka at {broker.url}" in error, message
    assert "is the broker running" in error, message
    assert all(line.startswith("rillet: warning: ") for line in warnings), message
