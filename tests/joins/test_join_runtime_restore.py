"""A stream-stream join's window stores come back from their changelogs in the runtime: the
left records of a first run still join right records of a second run on a fresh state.dir
(real broker, noida-db)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import Producer

from streamnb import KafkaStreams, StreamsBuilder
from streamnb.broker import ensure_topics
from streamnb.dsl.join_windows import JoinWindows

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests._kafka import consume, noida_broker, unique_name  # noqa: E402

MINUTE = 60_000
_NOW = int(time.time() * 1000)
BASE = _NOW - 10 * MINUTE  # recent: the broker keeps records by timestamp


@pytest.fixture(scope="module")
def kafka():
    with noida_broker() as broker:
        yield broker


def _app(left: str, right: str, sink: str, store_type: str):
    builder = StreamsBuilder({"default.dsl.store": store_type})
    builder.stream(left).join(builder.stream(right), lambda a, b: f"{a}+{b}",
                              JoinWindows.of_time_difference_with_no_grace(MINUTE)).to(sink)
    return builder.build()


def _config(broker, app_id, state_dir):
    return {"application.id": app_id, "bootstrap.servers": broker.bootstrap_servers,
            "state.dir": str(state_dir), "default.key.serde": "string",
            "default.value.serde": "string", "commit.interval.ms": 100,
            "session.timeout.ms": 6000, "heartbeat.interval.ms": 500}


def _produce(broker, topic, records):
    producer = Producer({"bootstrap.servers": broker.bootstrap_servers})
    for key, value, seconds in records:
        producer.produce(topic, value.encode(), key.encode(), timestamp=BASE + seconds * 1000)
    assert producer.flush(10) == 0


@pytest.mark.parametrize("store_type", ["in_memory", "persistent"])
def test_join_window_stores_restore_from_their_changelogs(kafka, tmp_path, store_type):
    left, right, sink = unique_name("l"), unique_name("r"), unique_name("out")
    ensure_topics(kafka.bootstrap_servers, {left: 1, right: 1, sink: 1})
    app_id = unique_name("jr")
    _produce(kafka, left, [("a", "x", 1), ("b", "y", 2)])
    _produce(kafka, right, [("a", "p", 3)])
    first = KafkaStreams(_app(left, right, sink, store_type),
                         _config(kafka, app_id, tmp_path / "one"))
    first.start()
    try:
        got = consume(kafka, sink, 1, timeout=30.0)
    finally:
        assert first.close(10)
    assert [(m.key(), m.value()) for m in got] == [(b"a", b"x+p")]

    _produce(kafka, right, [("b", "q", 4), ("a", "r", 5)])
    again = KafkaStreams(_app(left, right, sink, store_type),
                         _config(kafka, app_id, tmp_path / "two"))
    again.start()
    try:
        got = consume(kafka, sink, 3, timeout=30.0)
        restored = again.metrics()["restore-total"]
    finally:
        again.close(10)
    assert [(m.key(), m.value()) for m in got] == [(b"a", b"x+p"), (b"b", b"y+q"),
                                                  (b"a", b"x+r")]
    assert restored >= 3  # both sides' records of the first run, from the changelogs
