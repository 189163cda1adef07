"""Window and session stores come back from their changelogs: a windowed count restarted on
a fresh state.dir continues its counts (real broker, noida-db)."""

from __future__ import annotations

import struct
import time

import pytest
from confluent_kafka import Producer

from streamnb import KafkaStreams, Materialized, Produced, StreamsBuilder
from streamnb.broker import ensure_topics
from streamnb.dsl.windows import SessionWindows, TimeWindows
from tests._kafka import consume, unique_name

MINUTE = 60_000
# A minute boundary a little in the past: the broker deletes records older than its
# retention (by timestamp), so fixed old timestamps would vanish from the topics.
_NOW = int(time.time() * 1000)
BASE = _NOW - _NOW % MINUTE - 10 * MINUTE


def _app(source: str, sink: str, kind: str):
    builder = StreamsBuilder()
    grouped = builder.stream(source).group_by_key()
    if kind.startswith("session"):
        windowed = grouped.windowed_by(SessionWindows.of_inactivity_gap_and_grace(MINUTE, MINUTE))
    else:
        windowed = grouped.windowed_by(TimeWindows.of_size_and_grace(MINUTE, MINUTE))
    store_type = "persistent" if kind.endswith("persistent") else "in_memory"
    counts = windowed.count(materialized=Materialized.as_("counts").with_store_type(store_type))
    # window starts relative to BASE keep the expectations readable
    (counts.to_stream()
     .map(lambda wk, n: (f"{wk.key}@{(wk.window.start - BASE) // 1000}", n))
     .to(sink, Produced.with_("string", "long")))
    return builder.build()


def _config(broker, app_id, state_dir):
    return {
        "application.id": app_id,
        "bootstrap.servers": broker.bootstrap_servers,
        "state.dir": str(state_dir),
        "default.key.serde": "string",
        "default.value.serde": "string",
        "commit.interval.ms": 100,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
    }


def _produce(broker, topic, records):
    producer = Producer({"bootstrap.servers": broker.bootstrap_servers})
    for key, seconds in records:
        producer.produce(topic, b"x", key.encode(), timestamp=BASE + seconds * 1000)
    assert producer.flush(10) == 0


def _counts(broker, topic, n):
    msgs = consume(broker, topic, n, timeout=30.0, isolation="read_committed")
    return [(m.key().decode(), None if m.value() is None else struct.unpack(">q", m.value())[0])
            for m in msgs]


def _non_tombstones(pairs):
    return [pair for pair in pairs if pair[1] is not None]


FIRST = [("a", 1), ("a", 2), ("b", 3), ("a", 61), ("b", 4)]
SECOND = [("a", 5), ("b", 50), ("a", 62), ("c", 63)]
# tumbling 1-min windows: a@0 twice, b@0 twice, a@60 once, then the second run continues
TIME_EXPECTED = ([("a@0", 1), ("a@0", 2), ("b@0", 1), ("a@60", 1), ("b@0", 2)],
                 [("a@0", 3), ("b@0", 3), ("a@60", 2), ("c@60", 1)])
# 1-min inactivity gap: a's records at 1, 2, 61 merge into one session [1, 61]; b's [3, 4].
# A merged session replaces the old ones: tombstones are not counted here (value None).
SESSION_EXPECTED = ([("a@1", 1), ("a@1", 2), ("b@3", 1), ("a@1", 3), ("b@3", 2)],
                    [("a@1", 4), ("b@3", 3), ("a@1", 5), ("c@63", 1)])


@pytest.mark.parametrize("kind", ["in_memory", "persistent", "session", "session_persistent"])
def test_windowed_count_continues_from_the_changelog_on_a_fresh_state_dir(
        kafka, tmp_path, kind):
    source, sink = unique_name("in"), unique_name("out")
    ensure_topics(kafka.bootstrap_servers, {source: 1, sink: 1})
    app_id = unique_name("wr")
    session = kind.startswith("session")
    first, second = SESSION_EXPECTED if session else TIME_EXPECTED
    # merged sessions also send a tombstone for each session they replace
    n_first, n_total = (8, 15) if session else (5, 9)
    _produce(kafka, source, FIRST)
    streams = KafkaStreams(_app(source, sink, kind), _config(kafka, app_id, tmp_path / "a"))
    streams.start()
    try:
        got = _counts(kafka, sink, n_first)
    finally:
        assert streams.close(10)
    assert _non_tombstones(got) == first

    _produce(kafka, source, SECOND)
    again = KafkaStreams(_app(source, sink, kind), _config(kafka, app_id, tmp_path / "b"))
    again.start()
    try:
        got = _counts(kafka, sink, n_total)
        restored = again.metrics()["restore-total"]
    finally:
        again.close(10)
    assert len(got) == n_total
    assert _non_tombstones(got)[len(first):] == second
    assert restored >= 3  # the windows of the first run, read back from the changelog
