"""`rillet run` with Kafka at both ends, against the real broker: a file loaded into a topic by
the `kafka` sink, then read back by the `kafka` source into a windowed count; a rerun after
more messages arrived counts only those (the first run's offsets were committed to the group),
and the counts are those of one run over everything."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import rillet
from tests.servers import KAFKA
from tests.stdlib.test_kafka import make_topic, produce

LOAD = """source events = file("events.jsonl")
sink topic = kafka("{brokers}", "{topic}", key="user")
events | into topic
"""

COUNT = """source events = kafka("{brokers}", "{topic}", group="counts", until_empty=true)
sink out = file("out.jsonl")
events | select user, n | into out
"""


def test_a_topic_loaded_from_a_file_is_read_back_and_a_rerun_reads_only_what_is_new(
    tmp_path: Path,
) -> None:
    topic = make_topic(partitions=3)
    events = [{"user": f"u{i % 7}", "n": i} for i in range(1000)]
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (tmp_path / "load.rill").write_text(LOAD.format(brokers=KAFKA.url, topic=topic))
    (tmp_path / "count.rill").write_text(COUNT.format(brokers=KAFKA.url, topic=topic))
    loaded = rillet("run", "-q", "load.rill", cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr.decode()

    first = rillet("run", "-q", "count.rill", cwd=tmp_path)
    assert first.returncode == 0, first.stderr.decode()
    out = tmp_path / "out.jsonl"
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["n"] for r in got) == list(range(1000))
    for user in {e["user"] for e in events}:  # one key, one partition: in order
        mine = [r["n"] for r in got if r["user"] == user]
        assert mine == sorted(mine)

    produce(topic, [json.dumps({"user": "late", "n": 1000 + i}).encode() for i in range(5)])
    second = rillet("run", "-q", "count.rill", cwd=tmp_path)
    assert second.returncode == 0, second.stderr.decode()
    again = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["n"] for r in again) == list(range(1005)), "nothing lost, nothing twice"


def test_a_broker_that_is_not_there_is_one_line_naming_it(tmp_path: Path) -> None:
    (tmp_path / "p.rill").write_text(
        'source s = kafka("127.0.0.1:1", "t")\nsink o = file("o.jsonl")\ns | into o\n'
    )
    result = rillet("run", "-q", "p.rill", cwd=tmp_path, timeout=120)
    message = result.stderr.decode()
    assert result.returncode == 1, message
    assert "127.0.0.1:1" in message and "Traceback" not in message
    assert len(message.strip().splitlines()) == 1, message
