"""`rillet check` and `rillet run` with the `kafka` source's metadata fields and `from=`: the
checker knows the fields `metadata=true` adds (under a schema too), event time taken from the
messages' own timestamps sets the windows, and a bad `from` is a check error at its argument."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from tests.conftest import compile_pipeline, rillet
from tests.servers import KAFKA
from tests.stdlib.test_kafka import make_topic
from tests.stdlib.test_kafka_fields import DAY_MS, produce

CHECKED = """schema Click {{ page: str }}
source clicks{schema} = kafka("127.0.0.1:9092", "clicks"{options})
sink out = stdout()
errors into out
clicks | event_time kafka_timestamp lateness 5s
  | select page, kafka_key, kafka_partition, {offset}, kafka_timestamp | into out
"""


def diagnostics(tmp_path: Path, schema: str, options: str, offset: str) -> list[tuple]:
    text = CHECKED.format(schema=schema, options=options, offset=offset)
    compiled = compile_pipeline(text, tmp_path)
    return [(d.code, d.message, d.label) for d in compiled.diagnostics]


def test_the_checker_knows_the_fields_metadata_adds(tmp_path: Path) -> None:
    for schema in ("", ": Click"):
        assert diagnostics(tmp_path, schema, ", metadata=true", "kafka_offset") == []
    assert diagnostics(tmp_path, ": Click", ", metadata=true", "kafka_ofset") == [
        (
            "E0202",
            "unknown field `kafka_ofset` in `select`",
            "did you mean `kafka_offset`? (schema Click and the fields `kafka` adds)",
        )
    ]
    unknown = diagnostics(tmp_path, ": Click", "", "kafka_offset")
    assert [message for _, message, _ in unknown] == [
        "unknown field `kafka_timestamp` in `event_time`",
        *(f"unknown field `{f}` in `select`" for f in ("kafka_key", "kafka_partition")),
        *(f"unknown field `{f}` in `select`" for f in ("kafka_offset", "kafka_timestamp")),
    ], "opt-in"


def test_a_from_that_is_no_start_is_a_check_error_at_its_argument(tmp_path: Path) -> None:
    good = ('"earliest"', '"latest"', '"2026-12-01T00:00:00Z"', '"2026-12-01 08:00:00+01:00"')
    for value in good:
        assert diagnostics(tmp_path, "", f", from={value}, metadata=true", "kafka_offset") == []
    (tmp_path / "p.rill").write_text(
        CHECKED.format(schema="", options=', from="newest"', offset="n")
    )
    checked = rillet("check", "p.rill", cwd=tmp_path)
    assert checked.returncode == 2
    report = checked.stdout.decode() + checked.stderr.decode()
    assert "error: invalid argument `from` for `kafka`" in report
    assert "p.rill:2:51" in report
    assert (
        'expected "earliest", "latest" or an ISO-8601 time such as "2026-12-01T00:00:00Z", '
        'found "newest"' in report
    )


SOURCE = """schema Click {{ page: str }}
source clicks: Click = kafka("{brokers}", "{topic}", group="{group}", metadata=true,
                              until_empty=true)
"""
WINDOWED = """sink out = file("out.jsonl")
clicks | event_time kafka_timestamp lateness 5s | window tumbling 1m
  | aggregate by page { n = count() } | into out
"""
SELECTED = """sink seen = file("seen.jsonl")
clicks | where kafka_offset >= 0 | select page, kafka_partition, kafka_offset | into seen
"""
"""Read only by fields, a schema's records would be Structs (runtime/schema.py), without the
metadata: a source that adds fields hands out dicts."""


def test_event_time_from_the_message_timestamps_sets_the_windows(tmp_path: Path) -> None:
    """The documents hold no time: each message's timestamp, set by its producer, places it."""
    topic = make_topic()
    stamps = [("/a", 0), ("/a", 10), ("/b", 30), ("/a", 70), ("/b", 130)]
    produce(topic, [(0, {"page": p}, None, DAY_MS + s * 1000) for p, s in stamps])
    for name, flow in (("windowed", WINDOWED), ("selected", SELECTED)):
        source = SOURCE.format(brokers=KAFKA.url, topic=topic, group=f"{name}-{uuid.uuid4()}")
        (tmp_path / f"{name}.rill").write_text(source + flow)
        done = rillet("run", "-q", f"{name}.rill", cwd=tmp_path)
        assert done.returncode == 0, done.stderr.decode()
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    minute = 60_000
    assert sorted((r["window_start"], r["window_end"], r["page"], r["n"]) for r in rows) == [
        (DAY_MS, DAY_MS + minute, "/a", 2),
        (DAY_MS, DAY_MS + minute, "/b", 1),
        (DAY_MS + minute, DAY_MS + 2 * minute, "/a", 1),
        (DAY_MS + 2 * minute, DAY_MS + 3 * minute, "/b", 1),
    ]
    seen = [json.loads(line) for line in (tmp_path / "seen.jsonl").read_text().splitlines()]
    assert seen == [
        {"page": p, "kafka_partition": 0, "kafka_offset": i} for i, (p, _) in enumerate(stamps)
    ]


LATEST = """source events = kafka("{brokers}", "{topic}", group="{group}", from="latest",
                       until_empty=true)
sink out = file("out.jsonl")
events | into out
"""


def test_a_group_started_at_the_latest_offset_goes_on_from_there(tmp_path: Path) -> None:
    """The first run reads nothing of what was there, yet commits where it started, so the next
    reads what came in between."""
    topic = make_topic(partitions=2)
    produce(topic, [(i % 2, {"n": i}, None, DAY_MS) for i in range(6)])
    group = f"g-{uuid.uuid4().hex[:8]}"
    (tmp_path / "p.rill").write_text(LATEST.format(brokers=KAFKA.url, topic=topic, group=group))
    first = rillet("run", "-q", "p.rill", cwd=tmp_path)
    assert first.returncode == 0, first.stderr.decode()
    assert (tmp_path / "out.jsonl").read_text() == ""
    produce(topic, [(i % 2, {"n": i}, None, DAY_MS) for i in range(6, 10)])
    second = rillet("run", "-q", "--fresh", "p.rill", cwd=tmp_path)
    assert second.returncode == 0, second.stderr.decode()
    got = [json.loads(line)["n"] for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert sorted(got) == [6, 7, 8, 9]
